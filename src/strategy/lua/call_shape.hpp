#pragma once
// call_shape: what the budget needs to know about an entry point's code and about the function a
// call hook is entering, so that calls which cannot loop skip the per-instruction count hook.
//
// Why: while a count hook is installed, Lua 5.4 calls luaG_traceexec before every VM instruction
// (~33 machine instructions each, ~20% of a runner step with sma_cross.lua). An entry point
// without a backward jump runs each of its instructions at most once, so it cannot exceed the
// budget by itself; only the functions it calls can. Such a call runs under a call hook instead
// (sandbox.hpp, arm_budget): the entry is charged its length up front, C functions it calls pass
// (they never ran under the count hook anyway; the time limit covers them), and the first Lua
// function it reaches (a helper, a metamethod, a callback from string.gsub or table.sort, a
// coroutine body, a load()ed chunk) switches that thread back to the count hook.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <lua.hpp>
#include <optional>
#include <string_view>

namespace tradingd::strategy::lua::detail {

/// Entry points longer than this are always counted (and their dump is not read further).
inline constexpr std::uint32_t max_loop_free_length = 2048;

/// What the budget may rely on for an entry point without loops.
struct loop_free_entry {
    /// Its number of VM instructions: each runs at most once per call.
    std::uint32_t length = 0;
    /// Every call it makes is a call of a value it read from its third parameter (`ind`, a
    /// read-only view of C functions that never call back into Lua; pairs() over it hands out no
    /// table) in that same register, on every path. Then, as long as the script holds no
    /// metatable it could fill with Lua functions (vm.hpp, impl::script_metatables), the call runs
    /// no Lua code but its own instructions and needs no hook at all.
    bool calls_only_ind = false;
};

/// Reads a lua_dump of one function (stripped or not) as Lua 5.4.4 writes it. nullopt when an
/// instruction jumps backwards (while, repeat, for, backward goto), when the function is longer
/// than max_loop_free_length, or when the dump or an opcode is not one this reader knows
/// (another version or format, truncated). Functions nested inside it are not looked at:
/// calling one is a call.
std::optional<loop_free_entry> read_loop_free_entry(std::string_view dump) noexcept;

/// The same for the Lua function on top of the stack (left there). Dumps it with lua_dump, which
/// neither allocates on the Lua heap nor raises, so it is safe outside protected mode.
std::optional<loop_free_entry> read_loop_free_entry(lua_State* L) noexcept;

/// In a call hook (LUA_HOOKCALL / LUA_HOOKTAILCALL): true when the function being entered is a
/// Lua function, false for a C function. Reads the type tag of the called function from Lua's
/// call record (ar->i_ci): its first member is the function's stack slot, which starts with a
/// TValue {Value, tag}. lua_getinfo(L, "S", ar) answers the same for ~170 machine instructions,
/// more than the count hook it replaces. Only valid where call_records_readable() is true.
inline bool callee_is_lua(const lua_Debug* ar) noexcept {
    // CallInfo::func, then TValue::tt_ after the 8-byte Value union (lstate.h, lobject.h).
    constexpr std::size_t tag_offset =
        std::max({sizeof(void*), sizeof(lua_Integer), sizeof(lua_Number)});
    const unsigned char* slot = nullptr;
    std::memcpy(&slot, static_cast<const void*>(ar->i_ci), sizeof slot);
    // Variant 0 of LUA_TFUNCTION is a Lua closure; bit 6 (collectable) is masked off.
    return (slot[tag_offset] & 0x3fu) == LUA_TFUNCTION;
}

/// Whether callee_is_lua reads this Lua build's call records correctly: checked once per process
/// on a scratch state against lua_getinfo for a Lua function, a light C function and a C closure.
/// Where it is false (another Lua layout), every call runs under the count hook as before.
bool call_records_readable() noexcept;

}  // namespace tradingd::strategy::lua::detail
