#include "sandbox.hpp"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "api_tables.hpp"
#include "call_shape.hpp"
#include "host_bridge.hpp"
#include "string_guard.hpp"

namespace tradingd::strategy::lua::detail {

// ---------------------------------------------------------------------------------------------
// Memory cap

void* counting_alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept {
    auto& m = *static_cast<memory_account*>(ud);
    // When ptr is null, osize encodes the type of the new object, not a size.
    const std::size_t old = ptr != nullptr ? osize : 0;
    if (nsize == 0) {
        std::free(ptr);
        m.used -= old;
        return nullptr;
    }
    if (nsize > old && (m.used > m.limit || nsize - old > m.limit - m.used)) {
        m.refused = true;
        return nullptr;
    }
    void* p = std::realloc(ptr, nsize);
    if (p == nullptr) {
        m.refused = true;
        return nullptr;
    }
    m.used = m.used - old + nsize;
    m.peak = std::max(m.peak, m.used);
    return p;
}

// ---------------------------------------------------------------------------------------------
// Instruction budget and deadline

namespace {

// Remembers where the budget tripped, for the failure message ("sma_cross.lua:12: ...").
void note_location(lua_State* L, lua_Debug* ar, budget_account& b) {
    if (lua_getinfo(L, "Sl", ar) == 0 || ar->currentline <= 0) return;
    b.line = ar->currentline;
    std::snprintf(b.source, sizeof b.source, "%s", ar->short_src);
}

}  // namespace

void budget_hook(lua_State* L, lua_Debug* ar) {
    auto& v = vm_of(L);
    auto& b = v.budget;
    if (ar->event == LUA_HOOKCALL || ar->event == LUA_HOOKTAILCALL) {
        if (b.entry_pending && L == v.L) {
            // The first call event of a run: the loop-free entry point itself (nothing runs
            // before its first instruction), already charged by arm_budget.
            b.entry_pending = false;
            return;
        }
        if (!callee_is_lua(ar)) return;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, b.exhausted ? 1 : hook_interval);
        if (L == v.L) b.main_mask = LUA_MASKCOUNT;
        return;
    }
    if (!b.exhausted) {
        const int count = lua_gethookcount(L);
        b.spent += static_cast<std::uint64_t>(count);
        b.remaining -= count;
        // A coroutine left sticky (count 1) by an earlier call: back to the normal interval.
        if (count != hook_interval) lua_sethook(L, budget_hook, LUA_MASKCOUNT, hook_interval);
        if (b.remaining <= 0) {
            b.exhausted = true;
            b.reason = "instruction budget exceeded";
            note_location(L, ar, b);
        } else {
            if (b.deadline == std::chrono::steady_clock::time_point{}) {
                // First check of this call: the start of its latency sample (record_latency).
                b.deadline = std::chrono::steady_clock::now() + b.time_limit;
            }
            if (coarse_now_ns() < b.coarse_deadline_ns) return;
            b.exhausted = true;
            b.reason = "time limit exceeded";
            note_location(L, ar, b);
        }
    }
    // Sticky: fire on the very next instruction of whatever frame this thread runs next, so a
    // script's pcall or coroutine.resume cannot keep going after catching the error.
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    lua_pushstring(L, b.reason);
    lua_error(L);
}

void set_budget(budget_account& b, std::uint64_t instructions,
                std::chrono::nanoseconds time_limit) noexcept {
    constexpr auto max_remaining =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    b.budget = instructions;
    b.budget_per_call = static_cast<std::int64_t>(std::min(instructions, max_remaining));
    b.time_limit = time_limit;
    b.coarse_allowance_ns = time_limit.count() + coarse_resolution_ns();
}

std::int64_t coarse_resolution_ns() noexcept {
    static const std::int64_t resolution = [] {
        timespec ts{};
        if (clock_getres(CLOCK_MONOTONIC_COARSE, &ts) != 0) return std::int64_t{4'000'000};
        return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }();
    return resolution;
}

// ---------------------------------------------------------------------------------------------
// Panic and message handlers

int panic_handler(lua_State* L) {
    const char* msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(non-string error)";
    const char* name = vm_of(L).name.c_str();
    std::fprintf(stderr, "tradingd: unprotected Lua error in %s: %s\n", name, msg);
    try {
        spdlog::critical("unprotected Lua error in {}: {} (aborting)", name, msg);
    } catch (...) {
        std::fputs("tradingd: logging the Lua panic failed\n", stderr);
    }
    return 0;  // Lua aborts after this
}

namespace {

// Pushes the text of the error value at index 1 (never raising through a C++ frame: this runs
// as a Lua C function in protected mode).
const char* error_text(lua_State* L, std::size_t& len) {
    const int t = lua_type(L, 1);
    if (t == LUA_TSTRING) return lua_tolstring(L, 1, &len);
    if (t == LUA_TNUMBER) {
        lua_pushvalue(L, 1);
        return lua_tolstring(L, -1, &len);  // converts the copy
    }
    if (!vm_of(L).budget.exhausted && luaL_callmeta(L, 1, "__tostring") &&
        lua_type(L, -1) == LUA_TSTRING) {
        return lua_tolstring(L, -1, &len);
    }
    const char* s = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    len = std::strlen(s);
    return s;
}

}  // namespace

int message_handler(lua_State* L) {
    auto& v = vm_of(L);
    std::size_t len = 0;
    const char* msg = error_text(L, len);
    lua_pushlstring(L, msg, std::min(len, max_error_bytes));
    const int result = lua_gettop(L);
    luaL_traceback(L, L, nullptr, 1);
    std::size_t tlen = 0;
    const char* tb = lua_tolstring(L, -1, &tlen);
    tlen = std::min(tlen, sizeof v.traceback - 1);
    std::memcpy(v.traceback, tb, tlen);
    v.traceback[tlen] = '\0';
    lua_settop(L, result);
    return 1;
}

// ---------------------------------------------------------------------------------------------
// Deterministic math.random (xoshiro256**, seeded through splitmix64)

std::uint64_t hash_name(std::string_view s) noexcept {
    std::uint64_t h = 14695981039346656037ull;
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

void seed_rng(lua_strategy::impl& v, std::uint64_t seed) noexcept {
    for (auto& word : v.rng) {
        seed += 0x9e3779b97f4a7c15ull;
        std::uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        word = z ^ (z >> 31);
    }
}

namespace {

std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
}

std::uint64_t next_random(lua_strategy::impl& v) noexcept {
    auto& s = v.rng;
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

// math.random([m [, n]]) with the standard 5.4 argument rules.
// Registry key (its address) of the weak table coroutine -> the budget's run_serial in which
// arm_thread_for_run last armed it.
const char armed_threads_key = 0;

// A coroutine's hook count is its own: a new thread starts a fresh one (lua_newthread), and what
// is left of it when a protected run ends could be spent in a later run without being charged. So
// the first time a coroutine is created or run in each protected run, it gets the count hook
// (whatever mode its creator is in) with a fresh count, and the run is charged hook_interval up
// front: the most the thread can run before its hook first counts. The coroutine is at `index`.
void arm_thread_for_run(lua_State* L, int index) {
    auto& v = vm_of(L);
    lua_State* co = lua_tothread(L, index);
    if (co == nullptr || !v.limits.hardening) return;
    index = lua_absindex(L, index);
    auto& b = v.budget;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &armed_threads_key);
    lua_pushvalue(L, index);
    const bool armed = lua_rawget(L, -2) == LUA_TNUMBER &&
                       static_cast<std::uint64_t>(lua_tointeger(L, -1)) == b.run_serial;
    lua_pop(L, 1);
    if (armed) {
        lua_pop(L, 1);
        return;
    }
    lua_pushvalue(L, index);
    lua_pushinteger(L, static_cast<lua_Integer>(b.run_serial));
    lua_rawset(L, -3);  // may raise a memory error: nothing here needs unwinding
    lua_pop(L, 1);
    b.spent += hook_interval;
    b.remaining -= hook_interval;
    if (!b.exhausted && b.remaining <= 0) {
        b.exhausted = true;
        b.reason = "instruction budget exceeded";
        b.line = 0;
    }
    lua_sethook(co, budget_hook, LUA_MASKCOUNT, b.exhausted ? 1 : hook_interval);
    if (!b.exhausted) return;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);  // sticky, as budget_hook does
    lua_pushstring(L, b.reason);
    lua_error(L);
}

// coroutine.create / coroutine.resume: the library's function (upvalue 1), with the coroutine
// armed for this run (after creating it; before resuming it).
int sandbox_cocreate(lua_State* L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    arm_thread_for_run(L, -1);
    return 1;
}

int sandbox_coresume(lua_State* L) {
    arm_thread_for_run(L, 1);  // not a thread: the library's resume reports it
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

// The function coroutine.wrap returns (upvalue 1: the coroutine). As the library's, except that
// a coroutine that failed is not closed: lua_resetthread would run its pending __close handlers
// with hooks off when the failure was a budget error raised from the hook (Lua leaves the
// thread's hooks disabled then), and nothing could stop them. coroutine.resume never closes a
// failed coroutine either, and coroutine.close is not in the sandbox.
int sandbox_wrapped(lua_State* L) {
    lua_State* co = lua_tothread(L, lua_upvalueindex(1));
    arm_thread_for_run(L, lua_upvalueindex(1));
    const int narg = lua_gettop(L);
    if (lua_checkstack(co, narg) == 0) return luaL_error(L, "too many arguments to resume");
    lua_xmove(L, co, narg);
    int nres = 0;
    const int status = lua_resume(co, L, narg, &nres);
    if (status == LUA_OK || status == LUA_YIELD) {
        if (lua_checkstack(L, nres + 1) == 0) {
            lua_pop(co, nres);
            return luaL_error(L, "too many results to resume");
        }
        lua_xmove(co, L, nres);
        return nres;
    }
    lua_xmove(co, L, 1);  // the error
    if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

// coroutine.wrap(f): a coroutine made by coroutine.create (upvalue 1, the sandbox's), returned as
// sandbox_wrapped.
int sandbox_cowrap(lua_State* L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    lua_pushcclosure(L, sandbox_wrapped, 1);
    return 1;
}

int sandbox_random(lua_State* L) {
    const std::uint64_t x = next_random(vm_of(L));
    lua_Integer low = 1;
    lua_Integer up = 0;
    switch (lua_gettop(L)) {
        case 0:
            lua_pushnumber(L, static_cast<lua_Number>(x >> 11) * 0x1.0p-53);
            return 1;
        case 1:
            up = luaL_checkinteger(L, 1);
            if (up == 0) {  // math.random(0): a random integer with all bits random
                lua_pushinteger(L, static_cast<lua_Integer>(x));
                return 1;
            }
            break;
        case 2:
            low = luaL_checkinteger(L, 1);
            up = luaL_checkinteger(L, 2);
            break;
        default:
            return luaL_error(L, "wrong number of arguments");
    }
    luaL_argcheck(L, low <= up, lua_gettop(L), "interval is empty");
    const auto range = static_cast<lua_Unsigned>(up) - static_cast<lua_Unsigned>(low);
    const lua_Unsigned offset =
        range == std::numeric_limits<lua_Unsigned>::max() ? x : x % (range + 1);
    lua_pushinteger(L, static_cast<lua_Integer>(static_cast<lua_Unsigned>(low) + offset));
    return 1;
}

// math.randomseed([x]): reseeds from x, or from the symbol's hash without an argument, so a
// replay always sees the same sequence.
int sandbox_randomseed(lua_State* L) {
    auto& v = vm_of(L);
    if (lua_isnoneornil(L, 1)) {
        seed_rng(v, v.rng_seed);
        return 0;
    }
    if (lua_isinteger(L, 1)) {
        seed_rng(v, static_cast<std::uint64_t>(lua_tointeger(L, 1)));
        return 0;
    }
    const lua_Number n = luaL_checknumber(L, 1);
    std::uint64_t bits = 0;
    std::memcpy(&bits, &n, sizeof bits);
    seed_rng(v, bits);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Wrapped base functions

int sandbox_collectgarbage(lua_State* L) {
    const char* opt = luaL_optstring(L, 1, "collect");
    if (std::strcmp(opt, "count") != 0) {
        char what[96];
        std::snprintf(what, sizeof what, "collectgarbage('%.40s')", opt);
        security_note(vm_of(L), what);
        return luaL_error(L, "collectgarbage: option '%s' is not allowed (only \"count\")", opt);
    }
    const int kb = lua_gc(L, LUA_GCCOUNT);
    const int bytes = lua_gc(L, LUA_GCCOUNTB);
    lua_pushnumber(L, static_cast<lua_Number>(kb) + static_cast<lua_Number>(bytes) / 1024.0);
    return 1;
}

// load(chunk [, chunkname [, mode [, env]]]): text only, always bound to the script's environment
// (upvalue 1). A binary chunk fails like any load error: nil plus the message.
int sandbox_load(lua_State* L) {
    if (lua_type(L, 1) != LUA_TSTRING) {
        return luaL_argerror(L, 1, "only string chunks can be loaded in the sandbox");
    }
    std::size_t len = 0;
    const char* s = lua_tolstring(L, 1, &len);
    const char* chunkname = luaL_optstring(L, 2, s);
    if (len > 0 && s[0] == LUA_SIGNATURE[0]) security_note(vm_of(L), "load of a binary chunk");
    if (luaL_loadbufferx(L, s, len, chunkname, "t") != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);
    return 1;
}

// setmetatable(t, mt): refuses __gc (finalizers run with hooks off, so an endless one could never
// be stopped) and metatables that have a metatable of their own (weak metatables: upstream bug
// 983bc433, not fixed in bookworm's 5.4.4).
int sandbox_setmetatable(lua_State* L) {
    // From now on a Lua function may run as a metamethod: no more calls without a hook.
    vm_of(L).script_metatables = true;
    luaL_checktype(L, 1, LUA_TTABLE);
    const int t = lua_type(L, 2);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
        return luaL_error(L, "cannot change a protected metatable");
    }
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL) {
            security_note(vm_of(L), "setmetatable with a __gc field");
            return luaL_error(L, "setmetatable: metatables with a __gc field are not allowed");
        }
        lua_pop(L, 1);
        if (lua_getmetatable(L, 2) != 0) {
            security_note(vm_of(L), "setmetatable with a metatable that has a metatable");
            return luaL_error(L, "setmetatable: a metatable may not have a metatable itself");
        }
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

// getmetatable(v): as standard (honours __metatable), but strings have none in the sandbox.
int sandbox_getmetatable(lua_State* L) {
    luaL_checkany(L, 1);
    if (lua_type(L, 1) == LUA_TSTRING) {
        security_note(vm_of(L), "getmetatable of a string");
        lua_pushnil(L);
        return 1;
    }
    if (lua_getmetatable(L, 1) == 0) {
        lua_pushnil(L);
        return 1;
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return 1;  // the protected answer
    // The script now holds a metatable it can fill with Lua functions (the sandbox's own
    // metatables of _G, string, os and coroutine included): as with setmetatable, no call runs
    // without a hook from now on.
    vm_of(L).script_metatables = true;
    return 1;  // the metatable
}

// xpcall's message handler runs before the error unwinds. When the error came from the budget
// hook, Lua is still inside the hook with hooks disabled, so a script handler that loops could
// never be stopped. The script's handler is therefore wrapped: once the budget is exhausted the
// error passes through untouched.
int guarded_message_handler(lua_State* L) {
    if (vm_of(L).budget.exhausted) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

int finish_xpcall(lua_State* L, int status, lua_KContext extra) {
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - static_cast<int>(extra);
}

// xpcall(f, msgh, ...): the standard 5.4 implementation (yieldable) with a guarded msgh.
int sandbox_xpcall(lua_State* L) {
    const int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guarded_message_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);  // first result
    lua_pushvalue(L, 1);    // function
    lua_rotate(L, 3, 2);    // move them below the function's arguments
    const int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_xpcall);
    return finish_xpcall(L, status, 2);
}

// ---------------------------------------------------------------------------------------------
// Building the environment

// Copies every field of the table at `src` into a new table, except the names in `skip`.
// Leaves the copy on the stack.
void copy_table(lua_State* L, int src, std::initializer_list<const char*> skip) {
    src = lua_absindex(L, src);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, src) != 0) {
        bool skipped = false;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char* key = lua_tostring(L, -2);
            for (const char* s : skip)
                skipped = skipped || std::strcmp(s, key) == 0;
        }
        if (skipped) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

// Opens library `name` without making it global and leaves its table on the stack.
void open_library(lua_State* L, const char* name, lua_CFunction open) {
    luaL_requiref(L, name, open, 0);
}

void copy_field(lua_State* L, int from, int to, const char* key) {
    lua_getfield(L, from, key);
    lua_setfield(L, to, key);
}

void add_base_functions(lua_State* L, int env) {
    lua_pushglobaltable(L);  // the real globals: filled by luaopen_base, never given to scripts
    const int g = lua_gettop(L);
    for (const char* key :
         {"assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawlen", "select",
          "tonumber", "tostring", "type", "warn", "xpcall", "_VERSION"}) {
        copy_field(L, g, env, key);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, sandbox_collectgarbage);
    lua_setfield(L, env, "collectgarbage");
    lua_pushcfunction(L, sandbox_xpcall);
    lua_setfield(L, env, "xpcall");
    lua_pushcfunction(L, sandbox_setmetatable);
    lua_setfield(L, env, "setmetatable");
    lua_pushcfunction(L, sandbox_getmetatable);
    lua_setfield(L, env, "getmetatable");
    lua_pushvalue(L, env);
    lua_pushcclosure(L, sandbox_load, 1);
    lua_setfield(L, env, "load");
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
}

// string: dump removed from the real table (reachable through every string's metatable), a
// sandbox copy becomes both the `string` global and the metatable's __index, and the metatable
// itself is locked (getmetatable("") is nil; it cannot be replaced). The copy is the script's
// own `string` table: writing it changes what its method calls (`s:len()`) find, nothing more.
void add_string_library(lua_State* L, int env) {
    open_library(L, LUA_STRLIBNAME, luaopen_string);
    const int real = lua_gettop(L);
    lua_pushnil(L);
    lua_setfield(L, real, "dump");
    if (vm_of(L).limits.hardening) install_pattern_guards(L, real);
    copy_table(L, real, {});
    const int copy = lua_gettop(L);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, copy);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_setfield(L, env, LUA_STRLIBNAME);
    lua_pop(L, 1);
}

void add_libraries(lua_State* L, int env) {
    open_library(L, LUA_TABLIBNAME, luaopen_table);
    copy_table(L, -1, {});
    lua_setfield(L, env, LUA_TABLIBNAME);
    lua_pop(L, 1);

    open_library(L, LUA_UTF8LIBNAME, luaopen_utf8);
    copy_table(L, -1, {});
    lua_setfield(L, env, LUA_UTF8LIBNAME);
    lua_pop(L, 1);

    // coroutine.close is removed: chained closes overflow the C stack in 5.4.4 (1e64c139).
    // create, resume and wrap arm each coroutine's budget in every run (arm_thread_for_run).
    open_library(L, LUA_COLIBNAME, luaopen_coroutine);
    copy_table(L, -1, {"close"});
    lua_newtable(L);  // coroutine -> run in which it was last armed; weak keys
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &armed_threads_key);
    for (const auto& [name, wrapper] :
         {std::pair<const char*, lua_CFunction>{"create", sandbox_cocreate},
          std::pair<const char*, lua_CFunction>{"resume", sandbox_coresume}}) {
        lua_getfield(L, -1, name);
        lua_pushcclosure(L, wrapper, 1);
        lua_setfield(L, -2, name);
    }
    lua_getfield(L, -1, "create");  // the sandbox's create, just installed
    lua_pushcclosure(L, sandbox_cowrap, 1);
    lua_setfield(L, -2, "wrap");
    lua_setfield(L, env, LUA_COLIBNAME);
    lua_pop(L, 1);

    open_library(L, LUA_MATHLIBNAME, luaopen_math);
    copy_table(L, -1, {"random", "randomseed"});
    lua_pushcfunction(L, sandbox_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, sandbox_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_setfield(L, env, LUA_MATHLIBNAME);
    lua_pop(L, 1);

    // os: only time, clock and date; the real library is dropped from package.loaded again.
    open_library(L, LUA_OSLIBNAME, luaopen_os);
    const int os = lua_gettop(L);
    lua_createtable(L, 0, 3);
    for (const char* key : {"time", "clock", "date"})
        copy_field(L, os, os + 1, key);
    lua_setfield(L, env, LUA_OSLIBNAME);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushnil(L);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_pop(L, 1);
}

// __index of a sandbox table: reading a name that the sandbox leaves out on purpose writes a
// security note (the value is still nil). Upvalue 1: the table's name ("" for the globals);
// upvalue 2: a set of the watched names, or nil to watch every name.
int absent_index(lua_State* L) {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    const char* key = lua_tostring(L, 2);
    if (lua_type(L, lua_upvalueindex(2)) == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(2)) == LUA_TNIL) return 0;
    }
    const char* table = lua_tostring(L, lua_upvalueindex(1));
    char what[128];
    std::snprintf(what, sizeof what, "access to '%s%s%.64s'", table, table[0] != '\0' ? "." : "",
                  key);
    security_note(vm_of(L), what);
    return 0;
}

// Gives the table at `t` a metatable whose __index is absent_index. Scripts may replace it (a
// strict-mode metatable on _G is common) or change it; it feeds the security log. Reaching it
// through getmetatable ends the VM's calls without a hook (impl::script_metatables).
void watch_absent(lua_State* L, int t, const char* table,
                  std::initializer_list<const char*> names) {
    t = lua_absindex(L, t);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, table);
    if (names.size() == 0) {
        lua_pushnil(L);
    } else {
        lua_createtable(L, 0, static_cast<int>(names.size()));
        for (const char* n : names) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, n);
        }
    }
    lua_pushcclosure(L, absent_index, 2);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, t);
}

// Security notes for the well-known ways out: globals the sandbox removes, os functions other
// than time/clock/date, string.dump and coroutine.close.
void watch_escapes(lua_State* L, int env) {
    watch_absent(L, env, "",
                 {"io", "debug", "package", "require", "dofile", "loadfile", "loadstring", "rawget",
                  "rawset", "setfenv", "getfenv", "newproxy", "module", "jit", "ffi"});
    lua_getfield(L, env, LUA_OSLIBNAME);
    watch_absent(L, -1, "os", {});
    lua_pop(L, 1);
    lua_getfield(L, env, LUA_STRLIBNAME);
    watch_absent(L, -1, "string", {"dump"});
    lua_pop(L, 1);
    lua_getfield(L, env, LUA_COLIBNAME);
    watch_absent(L, -1, "coroutine", {"close"});
    lua_pop(L, 1);
}

}  // namespace

int setup_sandbox(lua_State* L) {
    auto& v = vm_of(L);
    open_library(L, LUA_GNAME, luaopen_base);
    lua_pop(L, 1);
    lua_newtable(L);
    const int env = lua_gettop(L);
    add_base_functions(L, env);
    add_string_library(L, env);
    add_libraries(L, env);
    create_api_tables(L, v, env);
    watch_escapes(L, env);
    lua_pushvalue(L, env);
    v.env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

}  // namespace tradingd::strategy::lua::detail
