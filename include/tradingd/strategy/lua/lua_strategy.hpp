#pragma once
// lua_strategy: one strategy script in its own sandboxed Lua 5.4 VM.
//
// The sandbox (ARCHITECTURE.md, "The sandbox"; docs/lua-api.md): only base functions without
// file/bytecode loading, `string` without `dump`, `table`, `math`, `utf8`, and os.time/clock/date.
// No io, debug, package/require, dofile/loadfile, collectgarbage control. `load` is text-only and
// bound to the script's environment. Each VM has a memory cap (counting lua_Alloc) and each call an
// instruction budget and wall-clock limit (count hook installed before any script code runs;
// once tripped it keeps firing so pcall cannot swallow it). Exceeding either fails that call only.
// string.find/match/gmatch/gsub refuse calls whose backtracking could stall in C (subject and
// pattern size, estimated work; docs/lua-api.md "Pattern limits"). print, warn and log.* share a
// per-VM rate limit; refused escape attempts write "security: ... refused" lines. docs/sandbox.md
// maps every fault of the catalogue to its defence and test.
//
// Calls never throw and never allocate per call on the success path: the market, position and
// `ind` tables are created once and refilled. The returned table is validated into an `action`;
// any other form is an error naming script, function, field and expectation.
//
// Thread-safety: a lua_strategy must only be used by one thread at a time (its runner's).
// Lifetime: the indicator_set and context in the binding must outlive the strategy.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tradingd/core/market_types.hpp>
#include <tradingd/core/result.hpp>
#include <tradingd/core/scalar.hpp>
#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/strategy/action.hpp>
#include <tradingd/strategy/context.hpp>
#include <tradingd/strategy/position.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::strategy::lua {

struct sandbox_limits {
    std::size_t memory_limit_bytes = std::size_t{64} << 20;  ///< per VM
    std::uint64_t instruction_budget = 1'000'000;            ///< per call (and for load/on_init)
    std::chrono::milliseconds time_limit{250};               ///< per call, wall clock
    std::size_t max_script_bytes = std::size_t{1} << 20;     ///< larger files are refused
    /// print / warn / log.* lines per second (token bucket per VM); lines beyond it are counted
    /// and reported by one "N log lines suppressed" notice when logging is allowed again.
    double log_lines_per_second = 50;
    double log_burst = 200;  ///< lines that may be logged at once before the rate applies
    /// The count hook (instruction budget, time limit) and the string-pattern guards. False only
    /// in benchmarks, to measure the sandbox's cost; the config cannot turn it off.
    bool hardening = true;
};

/// What the runner hands the script on each call (`market` in Lua).
struct market_snapshot {
    candle bar{};        ///< the candle just closed (or the forming one)
    bool closed = true;  ///< market.closed
    double bid = 0;
    double ask = 0;
};

/// Everything a strategy is bound to for its lifetime.
struct strategy_binding {
    std::string symbol;                               ///< market.symbol
    std::string interval;                             ///< market.interval, e.g. "1m"
    indicators::indicator_set* indicators = nullptr;  ///< backs `ind`
    context* ctx = nullptr;                           ///< backs `ctx`
    named_scalars params;                             ///< the read-only `params` global
    std::shared_ptr<spdlog::logger> logger;           ///< `log.*` and `print` go here
};

enum class failure_kind : std::uint8_t {
    none,
    runtime_error,    ///< the script raised (or called error())
    budget_exceeded,  ///< instruction budget or time limit
    memory_exceeded,  ///< the VM hit its memory cap
    invalid_return,   ///< returned something that is not one of the contract's forms
};
const char* failure_name(failure_kind k) noexcept;

/// Resource figures of one strategy VM, updated after every call (cheap counters only).
struct strategy_stats {
    std::uint64_t calls = 0;
    std::uint64_t failures = 0;
    std::uint64_t budget_aborts = 0;
    std::uint64_t memory_aborts = 0;
    std::size_t memory_used = 0;  ///< bytes currently allocated by the VM
    std::size_t memory_peak = 0;
    /// VM instructions run so far (load included), counted by the count hook in steps of its
    /// interval (1000), plus the length of every loop-free entry point call (charged up front,
    /// see calls_unhooked). 0 without hardening.
    std::uint64_t instructions = 0;
    /// Call latency (the protected call of an entry point, not the validation of its result).
    /// Reading the clock twice per call would cost ~10% of a runner step, so it is sampled: one
    /// call in latency_sample_every is timed, and so is every call long enough for the count
    /// hook to have fired in it (timed from that first check, so long calls are never missed).
    /// Mean latency of the timed calls = latency_total_ns / latency_samples.
    std::uint64_t latency_samples = 0;
    std::uint64_t latency_last_ns = 0;  ///< the most recently timed call
    std::uint64_t latency_max_ns = 0;
    std::uint64_t latency_total_ns = 0;
    /// The timed calls by latency: latency_buckets[i] counts those <= latency_bucket_bounds_ns[i]
    /// (and above the previous bound); longer ones are only in latency_samples.
    std::array<std::uint64_t, 12> latency_buckets{};
    std::uint64_t log_lines_suppressed = 0;  ///< print/log/warn lines dropped by the rate limit
    std::uint64_t security_refusals = 0;     ///< refused escape attempts (each also logged)
    std::uint64_t pattern_refusals = 0;      ///< string pattern calls refused as too costly
    /// Entry-point calls that ran without the count hook, proven bounded instead (docs/lua-api.md,
    /// "Budget"): loop-free entry points that call only ind.* run with no hook at all, other
    /// loop-free ones under a call hook until they call a Lua function.
    std::uint64_t calls_unhooked = 0;
    std::uint64_t calls_call_hook = 0;
};
/// Upper bounds of strategy_stats::latency_buckets (ns): 1 us .. 1 s.
inline constexpr std::array<std::uint64_t, 12> latency_bucket_bounds_ns = {
    1'000,   2'500,   5'000,     10'000,     25'000,      50'000,
    100'000, 250'000, 1'000'000, 10'000'000, 100'000'000, 1'000'000'000};
/// One call in this many is timed for strategy_stats' latency figures.
inline constexpr std::uint64_t latency_sample_every = 16;

/// Reads a script file whole into `out`: only a regular file (checked on the opened descriptor),
/// at most `max_bytes`. Returns why it could not, or nullopt.
std::optional<std::string> read_script_file(const std::filesystem::path& path,
                                            std::size_t max_bytes, std::string& out);

class lua_strategy {
public:
    /// Reads `path` (regular file, <= max_script_bytes), then as load_source. The script name used
    /// in messages is the file name (e.g. "sma_cross.lua").
    static result<std::unique_ptr<lua_strategy>> load_file(const std::filesystem::path& path,
                                                           strategy_binding binding,
                                                           const sandbox_limits& limits);
    /// Compiles `source` (text only; binary chunks refused) in a fresh sandboxed VM, runs the
    /// top-level chunk and the optional on_init() under the budget, and checks that
    /// detect_opportunity, filter_commitment and manage_position are functions.
    /// Errors read "<name>:<line>: <message>" or "<name>: missing required function '<f>'".
    static result<std::unique_ptr<lua_strategy>> load_source(std::string_view name,
                                                             std::string_view source,
                                                             strategy_binding binding,
                                                             const sandbox_limits& limits);
    ~lua_strategy();
    lua_strategy(const lua_strategy&) = delete;
    lua_strategy& operator=(const lua_strategy&) = delete;

    /// Idle: nil -> no_action; a table -> open_analysis (scalar fields merged into ctx).
    result<action> detect_opportunity(const market_snapshot& m);
    /// Analyzing: nil, cancel_analysis, enter_long / enter_short. Stops and targets are checked
    /// against the price the entry would fill at (ask for long, bid for short).
    result<action> filter_commitment(const market_snapshot& m);
    /// InPosition: nil, exit, update_stop_loss, update_take_profit (checked against the current
    /// bid for a long, ask for a short).
    result<action> manage_position(const market_snapshot& m, const position& p);

    /// Hot reload, second half. A new version is loaded (load_file / load_source) against a
    /// scratch context, off the runner's thread; this runs on the runner's thread, between two
    /// events, before the version is swapped in. It fills this version's `ctx` with the values of
    /// `current` (the running version's ctx); then, if the script defines on_reload(old_ctx), it
    /// calls it under the call budget with a plain-table copy of those values: a table returned
    /// becomes the new ctx (every field must be a value ctx can hold), nil keeps `current` as is.
    /// Returns the context this version starts with; the caller stores it and calls
    /// rebind_context on it. On failure ("<name>:<line>: on_reload: ..." or an invalid return),
    /// nothing outside this VM has changed and the version must not be used.
    result<context> adopt_context(const context& current);

    /// Parameter sweeps: calls the script's optional global `valid(params)` (the read-only
    /// `params` table this VM was bound to) under the call budget. nullopt: the script defines
    /// no `valid`. An error when it raises, overruns its budget or returns anything but a boolean
    /// ("<name>:<line>: valid: ..." / "<name>: valid: returned a ... (expected a boolean)").
    result<std::optional<bool>> call_valid();

    /// Points `ctx` writes at another context from now on (used when a reloaded version, loaded
    /// against a scratch copy so a failed load changes nothing, is swapped in). The Lua-side
    /// values are not touched: the new context must hold the same entries.
    void rebind_context(context* ctx) noexcept;

    /// Why the last call failed (none if it succeeded).
    failure_kind last_failure() const noexcept { return last_failure_; }
    const strategy_stats& stats() const noexcept;
    const std::string& name() const noexcept { return name_; }
    /// The loaded source's version label (content_hash.hpp): 12 hex digits of its SHA-256.
    const std::string& hash() const noexcept { return hash_; }

    struct impl;

private:
    explicit lua_strategy(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
    std::string name_;
    std::string hash_;
    failure_kind last_failure_ = failure_kind::none;
};

}  // namespace tradingd::strategy::lua
