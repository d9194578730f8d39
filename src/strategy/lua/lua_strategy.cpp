#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>

#include <tradingd/strategy/lua/content_hash.hpp>
#include <tradingd/strategy/lua/lua_strategy.hpp>

#include "action_validation.hpp"
#include "api_tables.hpp"
#include "call_shape.hpp"
#include "host_bridge.hpp"
#include "sandbox.hpp"
#include "vm.hpp"

namespace tradingd::strategy::lua {

namespace detail {

const char* entry_name(entry e) noexcept {
    switch (e) {
        case entry::detect_opportunity:
            return "detect_opportunity";
        case entry::filter_commitment:
            return "filter_commitment";
        case entry::manage_position:
            return "manage_position";
    }
    return "?";
}

effective_quote quote_of(const market_snapshot& m) noexcept {
    const auto usable = [](double x) { return std::isfinite(x) && x > 0; };
    return {usable(m.bid) ? m.bid : m.bar.close, usable(m.ask) ? m.ask : m.bar.close};
}

namespace {

/// Debug builds: the Lua stack is back to where it was when an entry point returns.
/// Release builds: nothing (not even the lua_gettop call, which the compiler cannot drop).
class stack_guard {
public:
#ifdef NDEBUG
    explicit stack_guard(lua_State*) noexcept {}
#else
    explicit stack_guard(lua_State* L) noexcept : L_(L), top_(lua_gettop(L)) {}
    ~stack_guard() {
        assert(lua_gettop(L_) == top_ && "Lua stack imbalance");
    }
#endif
    stack_guard(const stack_guard&) = delete;
    stack_guard& operator=(const stack_guard&) = delete;

#ifndef NDEBUG
private:
    lua_State* L_;
    int top_;
#endif
};

// Pushes the entry point and its arguments (the API tables) for a direct lua_pcall: copies of
// the values kept in fixed stack slots since the load (cheaper than registry lookups). Only raw,
// non-allocating pushes: the caller made room with lua_checkstack. Returns the argument count.
int push_entry_call(lua_State* L, const lua_strategy::impl& v) {
    const int base = v.call_slots;
    lua_pushvalue(L, base + static_cast<int>(v.current));
    lua_pushvalue(L, base + call_slot_market);
    lua_pushvalue(L, base + call_slot_ctx);
    lua_pushvalue(L, base + call_slot_ind);
    if (v.current != entry::manage_position) return 3;
    lua_pushvalue(L, base + call_slot_position);
    return 4;
}

constexpr const char* required_functions[entry_count] = {"detect_opportunity", "filter_commitment",
                                                         "manage_position"};

// Looks the three entry points up in the environment and keeps references to them, so a script
// that later reassigns the globals cannot break the runner.
int resolve_functions(lua_State* L) {
    auto& v = vm_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v.env_ref);
    for (std::size_t i = 0; i < entry_count; ++i) {
        lua_pushstring(L, required_functions[i]);
        const int t = lua_rawget(L, -2);
        if (t != LUA_TFUNCTION) {
            v.missing_function = required_functions[i];
            v.missing_type = t == LUA_TNIL ? nullptr : lua_typename(L, t);
            return 0;
        }
        v.fn_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 0;
}

// Pushes env.on_init (raw) as the single result.
int fetch_on_init(lua_State* L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm_of(L).env_ref);
    lua_pushliteral(L, "on_init");
    lua_rawget(L, -2);
    return 1;
}

std::string memory_limit_text(std::size_t limit) {
    constexpr std::size_t mib = std::size_t{1} << 20;
    if (limit % mib == 0) return std::to_string(limit / mib) + " MiB";
    return std::to_string(limit) + " bytes";
}

/// "<name>:<line>: <label>: <rest>" when the Lua message starts with "<name>:<line>:", else
/// "<name>: <label>: <message>".
std::string format_runtime_error(const std::string& name, const char* label, std::string_view msg) {
    if (msg.size() > name.size() + 1 && msg.compare(0, name.size(), name) == 0 &&
        msg[name.size()] == ':') {
        std::size_t i = name.size() + 1;
        const std::size_t digits_begin = i;
        while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9')
            ++i;
        if (i > digits_begin && i < msg.size() && msg[i] == ':') {
            std::string_view rest = msg.substr(i + 1);
            if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
            return std::string(msg.substr(0, i)) + ": " + label + ": " + std::string(rest);
        }
    }
    return name + ": " + label + ": " + std::string(msg);
}

}  // namespace

/// Reads a script file completely into `out`, or says why not: only a regular file (checked on
/// the opened descriptor, so a file swapped for a directory or a FIFO after a check cannot slip
/// through), readable, and at most `max_bytes` (a file still growing past the cap is refused
/// rather than read without bound).
std::optional<std::string> read_script(const std::filesystem::path& path, std::size_t max_bytes,
                                       std::string& out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return "cannot open " + path.string() + ": " + std::generic_category().message(errno);
    }
    struct fd_closer {
        int fd;
        ~fd_closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return "cannot stat: " + std::generic_category().message(errno);
    if (!S_ISREG(st.st_mode)) return path.string() + " is not a regular file";
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
        return "script is " + std::to_string(st.st_size) + " bytes (limit " +
               std::to_string(max_bytes) + ")";
    }
    out.clear();
    out.resize(max_bytes + 1);
    std::size_t got = 0;
    while (got < out.size()) {
        const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return "read failed: " + std::generic_category().message(errno);
        }
        got += static_cast<std::size_t>(n);
    }
    if (got > max_bytes) {
        return "script grew past the limit of " + std::to_string(max_bytes) + " bytes while read";
    }
    out.resize(got);
    return std::nullopt;
}

/// Runs the function below `nargs` arguments on top of the stack under a fresh budget and the
/// message handler. On success leaves `nresults` results; on failure leaves nothing, returns the
/// failure kind and sets `err`. Allocates on the C++ heap only on failure.
failure_kind run_protected(lua_strategy::impl& v, int nargs, int nresults, const char* label,
                           std::string& err, detail::call_plan plan = {}) {
    lua_State* L = v.L;
    int status = LUA_OK;
    arm_budget(v, plan);
    if (v.msgh_index != 0) {
        // Loaded VM: the handler sits permanently at the bottom of the stack.
        status = lua_pcall(L, nargs, nresults, v.msgh_index);
    } else {
        const int fn_index = lua_gettop(L) - nargs;
        lua_pushcfunction(L, message_handler);
        lua_insert(L, fn_index);
        status = lua_pcall(L, nargs, nresults, fn_index);
        lua_remove(L, fn_index);
    }
    // A call that returned normally may still have overrun its time limit where the hook could
    // not look (inside C functions, or after its last check): it fails too.
    if (status == LUA_OK && !v.budget.exhausted && !overran_time_limit(v)) {
        return failure_kind::none;
    }

    failure_kind kind = failure_kind::runtime_error;
    if (v.budget.exhausted) {
        // Even when the script caught the error and returned normally.
        const bool instructions = std::strcmp(v.budget.reason, "instruction budget exceeded") == 0;
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(v.budget.time_limit).count();
        const std::string where =
            v.budget.line > 0 ? std::string(v.budget.source) + ":" + std::to_string(v.budget.line)
                              : v.name;
        err = where + ": " + label + ": " + v.budget.reason + " (" +
              (instructions ? std::to_string(v.budget.budget) + " instructions"
                            : std::to_string(ms) + " ms") +
              ")";
        kind = failure_kind::budget_exceeded;
    } else if (status == LUA_ERRMEM || v.memory.refused) {
        err = v.name + ": " + label + ": memory limit exceeded (" +
              memory_limit_text(v.memory.limit) + ")";
        kind = failure_kind::memory_exceeded;
    } else {
        // Only strings reach here (the handler's result, or Lua's own texts for LUA_ERRERR), but
        // never convert anything else outside protected mode.
        std::size_t len = 0;
        const char* msg = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : nullptr;
        err = format_runtime_error(v.name, label,
                                   msg != nullptr
                                       ? std::string_view(msg, len)
                                       : std::string_view("(error object is not a string)"));
        v.logger->debug("{}: {}: {}", v.name, label, v.traceback);
    }
    lua_pop(L, status == LUA_OK ? nresults : 1);
    return kind;
}

}  // namespace detail

using detail::entry;
using detail::vm_of;

const char* failure_name(failure_kind k) noexcept {
    switch (k) {
        case failure_kind::none:
            return "none";
        case failure_kind::runtime_error:
            return "runtime_error";
        case failure_kind::budget_exceeded:
            return "budget_exceeded";
        case failure_kind::memory_exceeded:
            return "memory_exceeded";
        case failure_kind::invalid_return:
            return "invalid_return";
    }
    return "unknown";
}

lua_strategy::impl::~impl() {
    if (L != nullptr) lua_close(L);
}

namespace {

using impl_ptr = std::unique_ptr<lua_strategy::impl>;

/// Refreshes the figures the counters do not keep up to date themselves, and reports a log
/// flood once the rate limit allows it again.
void sync_stats(lua_strategy::impl& v) noexcept {
    v.stats.memory_used = v.memory.used;
    v.stats.memory_peak = v.memory.peak;
    v.stats.instructions = v.budget.spent;
    if (v.log_limit.suppressed != 0) detail::flush_log_notice(v);
}

/// Records the latency of the call that just ended: timed from `start` when this call was
/// sampled, otherwise from the hook's first check if it fired during the call (deadline =
/// first check + time limit), otherwise not at all. One clock read.
void record_latency(lua_strategy::impl& v, std::chrono::steady_clock::time_point start) noexcept {
    using clock = std::chrono::steady_clock;
    if (start == clock::time_point{}) {
        if (v.budget.deadline == clock::time_point{}) return;
        start =
            v.budget.deadline - std::chrono::duration_cast<clock::duration>(v.budget.time_limit);
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start);
    const auto t = static_cast<std::uint64_t>(std::max<std::int64_t>(ns.count(), 0));
    auto& s = v.stats;
    ++s.latency_samples;
    s.latency_last_ns = t;
    s.latency_max_ns = std::max(s.latency_max_ns, t);
    s.latency_total_ns += t;
    const auto bucket =
        std::lower_bound(latency_bucket_bounds_ns.begin(), latency_bucket_bounds_ns.end(), t);
    if (bucket != latency_bucket_bounds_ns.end()) {
        ++s.latency_buckets[static_cast<std::size_t>(bucket - latency_bucket_bounds_ns.begin())];
    }
}

/// Creates the state with its allocator, panic handler and hook (before any script code runs, so
/// every coroutine inherits the hook), then builds the sandbox. Returns an error message or "".
std::string open_state(lua_strategy::impl& v) {
    v.L = lua_newstate(detail::counting_alloc, &v.memory);
    if (v.L == nullptr) {
        return v.name + ": cannot create a Lua state (memory limit " +
               detail::memory_limit_text(v.memory.limit) + " too small?)";
    }
    *static_cast<lua_strategy::impl**>(lua_getextraspace(v.L)) = &v;
    lua_atpanic(v.L, detail::panic_handler);
    lua_setwarnf(v.L, detail::warn_function, &v);
    if (v.limits.hardening) {
        detail::set_main_hook(v, LUA_MASKCOUNT);
    }
    std::string err;
    lua_pushcfunction(v.L, detail::setup_sandbox);
    if (detail::run_protected(v, 0, 0, "sandbox setup", err) != failure_kind::none) return err;
    return {};
}

/// Compiles the source (text only) with the environment as its _ENV and runs the top level.
std::string run_chunk(lua_strategy::impl& v, std::string_view source) {
    lua_State* L = v.L;
    const std::string chunkname = "=" + v.name;
    const int status = luaL_loadbufferx(L, source.data(), source.size(), chunkname.c_str(), "t");
    if (status != LUA_OK) {
        std::string msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "load failed";
        lua_pop(L, 1);
        if (status == LUA_ERRMEM) {
            return v.name + ": memory limit exceeded (" +
                   detail::memory_limit_text(v.memory.limit) + ") while compiling";
        }
        if (msg.rfind(v.name, 0) != 0) msg = v.name + ": " + msg;
        return msg;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, v.env_ref);
    if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);
    std::string err;
    if (detail::run_protected(v, 0, 0, "top level", err) != failure_kind::none) return err;
    return {};
}

/// Runs on_init() if the script defines it.
std::string run_on_init(lua_strategy::impl& v) {
    std::string err;
    lua_pushcfunction(v.L, detail::fetch_on_init);
    if (detail::run_protected(v, 0, 1, "on_init", err) != failure_kind::none) return err;
    const int t = lua_type(v.L, -1);
    if (t == LUA_TNIL) {
        lua_pop(v.L, 1);
        return {};
    }
    if (t != LUA_TFUNCTION) {
        std::string msg =
            v.name + ": 'on_init' must be a function (found a " + lua_typename(v.L, t) + ")";
        lua_pop(v.L, 1);
        return msg;
    }
    if (detail::run_protected(v, 0, 0, "on_init", err) != failure_kind::none) return err;
    return {};
}

/// Plans how each entry point is held to the budget (call_shape.hpp): entry points without loops
/// and short enough to fit the budget by themselves skip the count hook.
void plan_entry_calls(lua_strategy::impl& v) noexcept {
    if (!v.limits.hardening || !detail::call_records_readable()) return;
    for (std::size_t i = 0; i < detail::entry_count; ++i) {
        lua_rawgeti(v.L, LUA_REGISTRYINDEX, v.fn_ref[i]);
        const auto shape = detail::read_loop_free_entry(v.L);
        lua_pop(v.L, 1);
        if (shape && static_cast<std::int64_t>(shape->length) <= v.budget.budget_per_call) {
            v.plans[i] = {shape->length, shape->calls_only_ind};
        }
    }
}

std::string resolve(lua_strategy::impl& v) {
    std::string err;
    lua_pushcfunction(v.L, detail::resolve_functions);
    if (detail::run_protected(v, 0, 0, "loading", err) != failure_kind::none) return err;
    if (v.missing_function == nullptr) {
        plan_entry_calls(v);
        return {};
    }
    if (v.missing_type == nullptr) {
        return v.name + ": missing required function '" + v.missing_function + "'";
    }
    return v.name + ": '" + v.missing_function + "' must be a function (found a " + v.missing_type +
           ")";
}

}  // namespace

std::optional<std::string> read_script_file(const std::filesystem::path& path,
                                            std::size_t max_bytes, std::string& out) {
    return detail::read_script(path, max_bytes, out);
}

lua_strategy::lua_strategy(std::unique_ptr<impl> p)
    : impl_(std::move(p)), name_(impl_->name), hash_(impl_->hash) {}

lua_strategy::~lua_strategy() = default;

const strategy_stats& lua_strategy::stats() const noexcept {
    return impl_->stats;
}

result<std::unique_ptr<lua_strategy>> lua_strategy::load_file(const std::filesystem::path& path,
                                                              strategy_binding binding,
                                                              const sandbox_limits& limits) {
    const std::string name = path.filename().string();
    std::string source;
    if (auto problem = detail::read_script(path, limits.max_script_bytes, source)) {
        return error{name + ": " + *problem};
    }
    return load_source(name, source, std::move(binding), limits);
}

result<std::unique_ptr<lua_strategy>> lua_strategy::load_source(std::string_view name,
                                                                std::string_view source,
                                                                strategy_binding binding,
                                                                const sandbox_limits& limits) {
    auto v = std::make_unique<impl>();
    v->name = std::string(name);
    v->hash = content_hash(source);
    if (source.size() > limits.max_script_bytes) {
        return error{v->name + ": script is " + std::to_string(source.size()) + " bytes (limit " +
                     std::to_string(limits.max_script_bytes) + ")"};
    }
    if (binding.indicators == nullptr || binding.ctx == nullptr) {
        return error{v->name + ": strategy binding needs an indicator set and a context"};
    }
    v->binding = std::move(binding);
    v->limits = limits;
    v->logger = v->binding.logger ? v->binding.logger : spdlog::default_logger();
    v->memory.limit = limits.memory_limit_bytes;
    detail::set_budget(v->budget, limits.instruction_budget, limits.time_limit);
    v->log_limit.rate = limits.log_lines_per_second;
    v->log_limit.burst = limits.log_burst;
    v->rng_seed = detail::hash_name(v->binding.symbol);
    detail::seed_rng(*v, v->rng_seed);

    std::string err = open_state(*v);
    if (err.empty()) {
        const detail::stack_guard guard(v->L);
        err = run_chunk(*v, source);
        if (err.empty()) err = run_on_init(*v);
        if (err.empty()) err = resolve(*v);
    }
    if (!err.empty()) return error{std::move(err)};
    // From now on every protected call uses this handler in place, instead of inserting one
    // below each call and removing it afterwards (two stack rotations per call). Pushing a light
    // C function never allocates.
    lua_pushcfunction(v->L, detail::message_handler);
    v->msgh_index = lua_gettop(v->L);
    // The entry points and the API tables stay on the stack above it for the VM's life, so a
    // call pushes them with lua_pushvalue (see push_entry_call). The stack has room: the load
    // left it empty and Lua guarantees LUA_MINSTACK (20) free slots.
    v->call_slots = lua_gettop(v->L) + 1;
    for (const int ref : v->fn_ref)
        lua_rawgeti(v->L, LUA_REGISTRYINDEX, ref);
    for (const int ref : {v->market_ref, v->ctx_ref, v->ind_ref, v->position_ref})
        lua_rawgeti(v->L, LUA_REGISTRYINDEX, ref);
    sync_stats(*v);
    return std::unique_ptr<lua_strategy>(new lua_strategy(std::move(v)));
}

namespace {

/// One entry-point call: protected run, failure accounting, then validation of the result.
template <class Validate>
result<action> call(lua_strategy::impl& v, entry e, const market_snapshot& m, const position* p,
                    failure_kind& last, Validate&& validate) {
    const detail::stack_guard guard(v.L);
    // The market/position views read these during the call only; clear them afterwards so
    // nothing can reach a snapshot that no longer exists.
    struct snapshot_scope {
        lua_strategy::impl& v;
        ~snapshot_scope() { v.market = nullptr, v.pos = nullptr; }
    } scope{v};
    v.current = e;
    v.market = &m;
    v.pos = p;
    ++v.stats.calls;
    std::string err;
    // The function and its arguments are pushed directly (no C trampoline: one frame less per
    // call). lua_checkstack reports failure instead of raising, so it is safe here.
    if (lua_checkstack(v.L, 8) == 0) {
        last = failure_kind::memory_exceeded;
        ++v.stats.failures;
        ++v.stats.memory_aborts;
        return error{v.name + ": " + detail::entry_name(e) + ": out of memory (Lua stack)"};
    }
    last = failure_kind::none;
    if (!detail::position_view_current(v, p)) {
        // A position was opened, changed or closed since the last call (rare): refresh the
        // position view's fixed fields before the script can read them.
        lua_pushcfunction(v.L, detail::sync_position_view);
        last = detail::run_protected(v, 0, 0, detail::entry_name(e), err);
    }
    if (last == failure_kind::none) {
        const int nargs = detail::push_entry_call(v.L, v);
        const bool timed = v.stats.calls % latency_sample_every == 0;
        const auto start =
            timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        last = detail::run_protected(v, nargs, 1, detail::entry_name(e), err,
                                     v.plans[static_cast<std::size_t>(e)]);
        record_latency(v, start);
    }
    if (last == failure_kind::none) {
        if (lua_isnil(v.L, -1)) {
            // The common answer ("nothing to do"), valid from every entry point: built in place
            // rather than by the validator and moved out through the call chain.
            lua_pop(v.L, 1);
            sync_stats(v);
            return action{no_action{}};
        }
        last = failure_kind::invalid_return;  // unless the validator says otherwise
        result<action> r = validate(last);
        lua_pop(v.L, 1);
        if (r.ok()) {
            last = failure_kind::none;
            sync_stats(v);
            return r;
        }
        err = r.error_message();
    }
    ++v.stats.failures;
    if (last == failure_kind::budget_exceeded) ++v.stats.budget_aborts;
    if (last == failure_kind::memory_exceeded) ++v.stats.memory_aborts;
    sync_stats(v);
    return error{std::move(err)};
}

}  // namespace

result<action> lua_strategy::detect_opportunity(const market_snapshot& m) {
    impl& v = *impl_;
    return call(v, entry::detect_opportunity, m, nullptr, last_failure_,
                [&](failure_kind& kind) -> result<action> {
                    result<action> r = detail::validate_opportunity(v.L, -1, v.name.c_str());
                    if (!r.ok() || std::holds_alternative<no_action>(r.value())) return r;
                    // Merge the opportunity's fields into ctx (allocates in Lua: protected).
                    std::string err;
                    lua_pushcfunction(v.L, detail::merge_opportunity);
                    lua_pushvalue(v.L, -2);
                    const failure_kind k =
                        detail::run_protected(v, 1, 0, "detect_opportunity", err);
                    if (k != failure_kind::none) {
                        kind = k;
                        return error{std::move(err)};
                    }
                    return r;
                });
}

result<action> lua_strategy::filter_commitment(const market_snapshot& m) {
    impl& v = *impl_;
    return call(v, entry::filter_commitment, m, nullptr, last_failure_, [&](failure_kind&) {
        return detail::validate_commitment(v.L, -1, v.name.c_str(), detail::quote_of(m));
    });
}

result<action> lua_strategy::manage_position(const market_snapshot& m, const position& p) {
    impl& v = *impl_;
    return call(v, entry::manage_position, m, &p, last_failure_, [&](failure_kind&) {
        return detail::validate_management(v.L, -1, v.name.c_str(), p, detail::quote_of(m));
    });
}

void lua_strategy::rebind_context(context* ctx) noexcept {
    impl_->binding.ctx = ctx;
}

}  // namespace tradingd::strategy::lua

// ------------------------------------------------------------------------------------------
// Hot reload: adopting the running version's ctx

namespace tradingd::strategy::lua {
namespace {

/// lua_CFunction: replaces the ctx backing table's values with those of the context passed as a
/// light userdata. Allocates: protected mode only.
int refill_ctx(lua_State* L) {
    const auto* ctx = static_cast<const context*>(lua_touserdata(L, 1));
    lua_rawgeti(L, LUA_REGISTRYINDEX, detail::vm_of(L).ctx_backing_ref);
    const int backing = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, backing) != 0) {  // clearing existing fields during a traversal is allowed
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, backing);
    }
    for (const auto& [key, value] : ctx->entries()) {
        lua_pushlstring(L, key.data(), key.size());
        detail::push_scalar(L, value);
        lua_rawset(L, backing);
    }
    return 0;
}

/// lua_CFunction: pushes env.on_reload (raw) and a plain table copy of the context passed as a
/// light userdata.
int fetch_on_reload(lua_State* L) {
    const auto* ctx = static_cast<const context*>(lua_touserdata(L, 1));
    lua_rawgeti(L, LUA_REGISTRYINDEX, detail::vm_of(L).env_ref);
    lua_pushliteral(L, "on_reload");
    lua_rawget(L, -2);
    lua_createtable(L, 0, static_cast<int>(ctx->size()));
    for (const auto& [key, value] : ctx->entries()) {
        lua_pushlstring(L, key.data(), key.size());
        detail::push_scalar(L, value);
        lua_rawset(L, -3);
    }
    return 2;
}

/// The ctx on_reload's returned table (at `idx`) describes, or why it cannot be one.
result<context> context_from_table(lua_State* L, int idx, const std::string& name) {
    context out;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            const std::string key_type = luaL_typename(L, -2);
            lua_pop(L, 2);
            return error{
                fmt::format("{}: on_reload: the returned ctx has a {} key (ctx keys are "
                            "strings)",
                            name, key_type)};
        }
        std::size_t klen = 0;
        const char* key = lua_tolstring(L, -2, &klen);
        detail::scalar_view view;
        const bool storable =
            detail::to_view(L, -1, view) &&
            (view.type != detail::scalar_view::kind::number || std::isfinite(view.d));
        if (!storable) {
            std::string message = fmt::format(
                "{}: on_reload: field '{}': cannot keep {}{} in ctx (expected a boolean, a string "
                "or a finite number)",
                name, std::string_view(key, klen), lua_type(L, -1) == LUA_TNUMBER ? "" : "a ",
                lua_type(L, -1) == LUA_TNUMBER ? "a non-finite number" : luaL_typename(L, -1));
            lua_pop(L, 2);
            return error{std::move(message)};
        }
        out.set({key, klen}, detail::to_scalar(view));
        lua_pop(L, 1);
    }
    return out;
}

}  // namespace

result<context> lua_strategy::adopt_context(const context& current) {
    impl& v = *impl_;
    const detail::stack_guard guard(v.L);
    std::string err;
    const auto refill = [&](const context& values) {
        lua_pushcfunction(v.L, refill_ctx);
        lua_pushlightuserdata(v.L, const_cast<context*>(&values));
        return detail::run_protected(v, 1, 0, "on_reload", err) == failure_kind::none;
    };
    if (lua_checkstack(v.L, 8) == 0)
        return error{v.name + ": on_reload: out of memory (Lua stack)"};
    if (!refill(current)) return error{std::move(err)};

    lua_pushcfunction(v.L, fetch_on_reload);
    lua_pushlightuserdata(v.L, const_cast<context*>(&current));
    if (detail::run_protected(v, 1, 2, "on_reload", err) != failure_kind::none) {
        return error{std::move(err)};
    }
    const int t = lua_type(v.L, -2);
    if (t == LUA_TNIL) {
        lua_pop(v.L, 2);
        return current;
    }
    if (t != LUA_TFUNCTION) {
        lua_pop(v.L, 2);
        return error{v.name + ": 'on_reload' must be a function (found a " + lua_typename(v.L, t) +
                     ")"};
    }
    if (detail::run_protected(v, 1, 1, "on_reload", err) != failure_kind::none) {
        return error{std::move(err)};
    }
    const int r = lua_type(v.L, -1);
    if (r == LUA_TNIL) {
        lua_pop(v.L, 1);
        return current;
    }
    if (r != LUA_TTABLE) {
        lua_pop(v.L, 1);
        return error{v.name + ": on_reload: returned a " + lua_typename(v.L, r) +
                     " (expected nil or a table: the new ctx)"};
    }
    result<context> migrated = context_from_table(v.L, lua_gettop(v.L), v.name);
    lua_pop(v.L, 1);
    if (!migrated) return migrated;
    if (!refill(migrated.value())) return error{std::move(err)};
    return migrated;
}

}  // namespace tradingd::strategy::lua

// ------------------------------------------------------------------------------------------
// Parameter sweeps: the optional valid(params)

namespace tradingd::strategy::lua {
namespace {

/// lua_CFunction: pushes env.valid (raw) and env.params.
int fetch_valid(lua_State* L) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, detail::vm_of(L).env_ref);
    lua_pushliteral(L, "valid");
    lua_rawget(L, -2);
    lua_pushliteral(L, "params");
    lua_rawget(L, -3);
    return 2;
}

}  // namespace

result<std::optional<bool>> lua_strategy::call_valid() {
    impl& v = *impl_;
    const detail::stack_guard guard(v.L);
    if (lua_checkstack(v.L, 8) == 0) return error{v.name + ": valid: out of memory (Lua stack)"};
    std::string err;
    lua_pushcfunction(v.L, fetch_valid);
    if (detail::run_protected(v, 0, 2, "valid", err) != failure_kind::none) {
        return error{std::move(err)};
    }
    const int t = lua_type(v.L, -2);
    if (t == LUA_TNIL) {
        lua_pop(v.L, 2);
        return std::optional<bool>{};
    }
    if (t != LUA_TFUNCTION) {
        lua_pop(v.L, 2);
        return error{v.name + ": 'valid' must be a function (found a " + lua_typename(v.L, t) +
                     ")"};
    }
    if (detail::run_protected(v, 1, 1, "valid", err) != failure_kind::none) {
        return error{std::move(err)};
    }
    const int r = lua_type(v.L, -1);
    if (r != LUA_TBOOLEAN) {
        lua_pop(v.L, 1);
        return error{v.name + ": valid: returned a " + lua_typename(v.L, r) +
                     " (expected a boolean)"};
    }
    const bool ok = lua_toboolean(v.L, -1) != 0;
    lua_pop(v.L, 1);
    return std::optional<bool>{ok};
}

}  // namespace tradingd::strategy::lua
