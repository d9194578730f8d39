#pragma once
// vm: the state behind one lua_strategy (lua_strategy::impl) and the pieces of it that the C
// callbacks (allocator, hook, API functions) reach through the lua_State's extra space.
//
// Rules every file in this folder follows (see STYLE.md "Errors" and RELIABILITY.md 1.5):
// - Debian's Lua is built as C, so a Lua error is a longjmp. A lua_CFunction never has a C++ object
//   with a non-trivial destructor alive when it may raise: C++ work happens in noexcept helpers
//   that report failure through a plain char buffer, and the raise happens after they return.
// - The host touches the Lua heap only inside lua_pcall (via a C "trampoline"), because any
//   allocation may fail against the memory cap and an error outside protected mode aborts.
//   Outside protected mode it only uses raw, non-allocating reads (lua_next, lua_rawgeti, ...).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <lua.hpp>
#include <memory>
#include <optional>
#include <string>

#include <tradingd/strategy/lua/lua_strategy.hpp>

namespace tradingd::strategy::lua {

namespace detail {

/// The count hook fires every this many VM instructions while the budget is not exhausted.
inline constexpr int hook_interval = 1000;
/// Error messages coming out of the VM are cut to this many bytes.
inline constexpr std::size_t max_error_bytes = 4096;
/// Bytes of traceback kept from the last runtime error (logged at debug level).
inline constexpr std::size_t traceback_bytes = 2048;

/// Bytes the VM holds, maintained by the counting lua_Alloc.
struct memory_account {
    std::size_t used = 0;
    std::size_t peak = 0;
    std::size_t limit = 0;
    bool refused = false;  ///< an allocation was refused since the last reset
};

/// The per-call instruction budget and deadline, checked by the count hook.
struct budget_account {
    std::uint64_t budget = 0;
    std::chrono::nanoseconds time_limit{};
    // Derived by set_budget: `budget` clamped to the counter's range, and the time limit plus
    // the coarse clock's resolution (see coarse_deadline_ns).
    std::int64_t budget_per_call = 0;
    std::int64_t coarse_allowance_ns = 0;
    std::int64_t remaining = 0;
    /// Set by the hook's first check of a call (steady_clock): the start of latency timing.
    std::chrono::steady_clock::time_point deadline{};
    /// The call's wall-clock deadline on CLOCK_MONOTONIC_COARSE (see coarse_now_ns): call start
    /// + time limit + the clock's resolution, so a fast call is never failed by tick rounding.
    std::int64_t coarse_deadline_ns = 0;
    bool exhausted = false;        ///< sticky until the next call starts
    const char* reason = nullptr;  ///< static text, set when exhausted
    int line = 0;                  ///< line of the script running when it tripped (0: unknown)
    char source[64] = {};          ///< its chunk's short name ("sma_cross.lua")
    std::uint64_t spent = 0;       ///< instructions counted by the hook over the VM's life
    /// Increased by every arm_budget: coroutines are re-armed (and charged) the first time they
    /// run in each protected run (sandbox.cpp, arm_thread_for_run).
    std::uint64_t run_serial = 0;
    /// The main thread's hook mask: LUA_MASKCOUNT, or LUA_MASKCALL while a loop-free entry point
    /// runs (call_shape.hpp); arm_budget changes it only when the next call needs the other one.
    int main_mask = 0;
    /// Set by arm_budget for a loop-free entry point: the next Lua function the call hook sees is
    /// that entry point itself (not yet a reason to start counting).
    bool entry_pending = false;
};

/// How one entry point's calls are held to the instruction budget (call_shape.hpp, arm_budget).
/// The default, {0, false}: the count hook counts every instruction.
struct call_plan {
    /// > 0: the entry point has no loop and is this many instructions long; it is charged that
    /// up front and runs under the call hook until it calls a Lua function.
    std::uint32_t length = 0;
    /// It also calls nothing but ind.*: while no script table has a metatable it runs with no
    /// hook at all (it cannot run any Lua code but its own `length` instructions).
    bool unhooked = false;
};

/// Token bucket limiting the log lines one VM may write (print, warn, log.*, security notes).
struct log_limiter {
    double rate = 0;   ///< tokens per second
    double burst = 0;  ///< bucket size
    double tokens = 0;
    std::chrono::steady_clock::time_point last{};
    std::uint64_t suppressed = 0;  ///< lines dropped since the last notice
};

/// Bytes of a warn() message assembled from its pieces (the rest is cut).
inline constexpr std::size_t warn_bytes = 1024;

/// The three per-state entry points, in the order of vm::fn_ref.
enum class entry : std::uint8_t { detect_opportunity, filter_commitment, manage_position };
inline constexpr std::size_t entry_count = 3;
/// Offsets from impl::call_slots of the API tables (the entry points come first).
inline constexpr int call_slot_market = 3;
inline constexpr int call_slot_ctx = 4;
inline constexpr int call_slot_ind = 5;
inline constexpr int call_slot_position = 6;
const char* entry_name(entry e) noexcept;

/// The indicators one ind.<kind> function has already resolved, as pointers to their values in
/// the indicator set (stable for the set's lifetime): later calls with the same period skip the
/// spec lookup. A VM keeps its indicator_set for life, so the entries never go stale.
struct ind_cache {
    struct slot {
        lua_Integer period = 0;
        const indicators::indicator_value* value = nullptr;
    };
    std::array<slot, 4> slots{};  ///< single-period kinds; further periods take the slow path
    std::uint8_t used = 0;
};
/// Number of indicators::indicator_kind values (one ind_cache each).
inline constexpr std::size_t indicator_kind_count = 9;

/// Bid and ask as the script sees them: the quote when known (finite, > 0), else the close.
struct effective_quote {
    double bid = 0;
    double ask = 0;
};
effective_quote quote_of(const market_snapshot& m) noexcept;

}  // namespace detail

/// Everything one strategy VM owns. Lives on the heap at a stable address (its pointer is stored
/// in the lua_State's extra space), so it is never copied or moved.
struct lua_strategy::impl {
    impl() = default;
    ~impl();
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    std::string name;  ///< script name used in every message
    std::string hash;  ///< content_hash of the source
    strategy_binding binding;
    sandbox_limits limits;
    std::shared_ptr<spdlog::logger> logger;  ///< never null
    strategy_stats stats;

    lua_State* L = nullptr;
    detail::memory_account memory;
    detail::budget_account budget;
    std::array<std::uint64_t, 4> rng{};  ///< xoshiro256** state of math.random
    std::uint64_t rng_seed = 0;          ///< default seed: hash of the symbol

    // Registry references, created once by the sandbox setup.
    int env_ref = LUA_NOREF;
    int msgh_index = 0;  ///< stack index of the message handler once loaded (0: not yet)
    int market_ref = LUA_NOREF;
    int position_ref = LUA_NOREF;
    int position_backing_ref = LUA_NOREF;  ///< the position view's mirror of its fixed fields
    /// What the backing table mirrors (nullopt: it is empty). See sync_position_view.
    std::optional<position> position_shown;
    int ind_ref = LUA_NOREF;
    int ctx_ref = LUA_NOREF;          ///< the proxy handed to scripts
    int ctx_backing_ref = LUA_NOREF;  ///< the table holding the values
    std::array<int, detail::entry_count> fn_ref{LUA_NOREF, LUA_NOREF, LUA_NOREF};
    /// Per entry point: how its calls are held to the budget (call_shape.hpp).
    std::array<detail::call_plan, detail::entry_count> plans{};
    /// Set for good once the script may hold a metatable it can fill with Lua functions (it called
    /// setmetatable, or getmetatable returned a real metatable, e.g. the sandbox's own of _G or
    /// string): from then on a Lua function may run as a metamethod anywhere, and no call runs
    /// without a hook (call_plan::unhooked is ignored).
    bool script_metatables = false;
    /// Once loaded: stack index of the first of the values every call pushes (detail::call_slot_*
    /// offsets: the three entry points in entry order, then market, ctx, ind, position).
    int call_slots = 0;

    /// Interned names of the market/position fields (api_tables.cpp), anchored in the registry.
    const char* const* view_field_names = nullptr;
    std::array<detail::ind_cache, detail::indicator_kind_count> ind_caches{};

    // Inputs of the current call, read by the call trampoline.
    detail::entry current = detail::entry::detect_opportunity;
    const market_snapshot* market = nullptr;
    const position* pos = nullptr;

    // Set by the function resolver when a required global is not a function.
    const char* missing_function = nullptr;
    const char* missing_type = nullptr;

    char traceback[detail::traceback_bytes] = {};

    detail::log_limiter log_limit;
    char warn_text[detail::warn_bytes] = {};  ///< warn() pieces of the message being assembled
    std::size_t warn_len = 0;
};

namespace detail {

inline lua_strategy::impl& vm_of(lua_State* L) noexcept {
    return **static_cast<lua_strategy::impl**>(lua_getextraspace(L));
}

}  // namespace detail
}  // namespace tradingd::strategy::lua
