#pragma once
// sandbox: the VM-level defences of a strategy VM: the counting allocator (memory cap), the
// count hook (instruction budget + deadline, sticky once tripped), the panic and message
// handlers, and the construction of the script's environment from an allow-list.

#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <lua.hpp>
#include <string_view>

#include "vm.hpp"

namespace tradingd::strategy::lua::detail {

/// lua_Alloc with `ud` = memory_account*. Refuses any growth that would take `used` past `limit`
/// (Lua then raises LUA_ERRMEM); frees and shrinks always succeed.
void* counting_alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept;

/// The budget hook. Count events spend the budget and check the deadline; on expiry the hook
/// marks the VM exhausted, re-arms itself on this thread with count 1 and raises; while exhausted
/// it raises at once on that thread. A script that catches the error (pcall, coroutine.resume)
/// keeps running only until its own thread's next count (at most hook_interval instructions), and
/// the host fails the call whenever the budget was exhausted, caught or not.
/// Call events (while a loop-free entry point runs, see arm_budget): entering a C function
/// changes nothing; entering any Lua function other than the entry point itself switches this
/// thread to counting (at once to the sticky count of 1 if the budget is already exhausted).
void budget_hook(lua_State* L, lua_Debug* ar);

/// Sets the per-call instruction budget and time limit (and the figures derived from them that
/// arm_budget uses). Call before the first protected run.
void set_budget(budget_account& b, std::uint64_t instructions,
                std::chrono::nanoseconds time_limit) noexcept;

/// CLOCK_MONOTONIC_COARSE in nanoseconds (~5 ns to read; resolution = the kernel tick, 1-4 ms)
/// and that resolution. The time limit is enforced on this clock: cheap enough to read at the
/// start and end of every call, precise enough for limits of tens or hundreds of milliseconds.
/// Inline with arm_budget and overran_time_limit: they run around every protected call.
inline std::int64_t coarse_now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
std::int64_t coarse_resolution_ns() noexcept;

/// Installs the budget hook on the main thread with `mask` (LUA_MASKCOUNT every hook_interval
/// instructions, LUA_MASKCALL, or 0: no hook) and remembers it.
inline void set_main_hook(lua_strategy::impl& v, int mask) noexcept {
    lua_sethook(v.L, budget_hook, mask, mask == LUA_MASKCOUNT ? hook_interval : 0);
    v.budget.main_mask = mask;
}

/// Starts a fresh budget (instructions + deadline) for the next protected run and resets the
/// per-run memory-refusal flag. Never allocates. `plan` says how the function about to run is
/// held to the budget (call_plan): counted (the default), or a loop-free entry point charged its
/// length now and run under the call hook, or with no hook at all.
inline void arm_budget(lua_strategy::impl& v, call_plan plan = {}) noexcept {
    auto& b = v.budget;
    const bool was_exhausted = b.exhausted;
    if (was_exhausted) {
        b.exhausted = false;
        b.reason = nullptr;
        b.line = 0;
    }
    if (v.limits.hardening) {
        // The count hook's instruction count runs on across calls, so calls shorter than
        // hook_interval are counted too: a call is charged the instructions since the hook last
        // fired, at most hook_interval - 1 more than it ran. lua_sethook restarts that count, so
        // it runs only when the mode changes or a sticky re-arm (count 1) must be undone.
        int mask = LUA_MASKCOUNT;
        if (plan.length != 0) {
            mask = plan.unhooked && !v.script_metatables ? 0 : LUA_MASKCALL;
            ++(mask == 0 ? v.stats.calls_unhooked : v.stats.calls_call_hook);
        }
        if (was_exhausted || b.main_mask != mask) set_main_hook(v, mask);
        b.entry_pending = mask == LUA_MASKCALL;
    }
    ++b.run_serial;
    b.spent += plan.length;
    b.remaining = b.budget_per_call - static_cast<std::int64_t>(plan.length);
    b.deadline = {};  // set by the first hook check (budget_hook), for latency sampling
    b.coarse_deadline_ns = coarse_now_ns() + b.coarse_allowance_ns;
    v.memory.refused = false;
}

/// After a call that returned normally: true (and the budget marked exhausted with "time limit
/// exceeded") when it overran its deadline where the hook could not see it, i.e. inside C
/// functions or after the last hook check.
inline bool overran_time_limit(lua_strategy::impl& v) noexcept {
    auto& b = v.budget;
    if (!v.limits.hardening || b.exhausted || coarse_now_ns() < b.coarse_deadline_ns) return false;
    b.exhausted = true;
    b.reason = "time limit exceeded";
    b.line = 0;
    return true;
}

/// lua_atpanic handler: logs, then lets Lua abort (only reachable through a host bug).
int panic_handler(lua_State* L);

/// lua_pcall message handler: turns any error value into a string of at most max_error_bytes
/// (calling __tostring only while the budget is not exhausted; errors inside it stay in protected
/// mode) and keeps a traceback in impl::traceback.
int message_handler(lua_State* L);

/// FNV-1a hash of a name (the symbol), the default seed of math.random.
std::uint64_t hash_name(std::string_view s) noexcept;
/// Reseeds the VM's math.random generator.
void seed_rng(lua_strategy::impl& v, std::uint64_t seed) noexcept;

/// lua_CFunction run once under lua_pcall after lua_newstate: opens the allow-listed libraries,
/// sanitises the real string metatable, builds the script environment (stored as impl::env_ref)
/// and the API tables (api_tables.hpp).
int setup_sandbox(lua_State* L);

}  // namespace tradingd::strategy::lua::detail
