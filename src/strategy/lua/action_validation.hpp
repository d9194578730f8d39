#pragma once
// action_validation: turns the value a strategy function returned into an `action`, or into an
// error naming script, function, field and expectation (docs/lua-api.md, "Errors").
//
// Works outside protected mode, so it only uses raw, non-allocating Lua reads (lua_next,
// lua_type, lua_to* on values of the right type): it can neither raise nor trigger metamethods.
// It allocates on the C++ heap only to build an error message or a non-empty reason.

#include <lua.hpp>

#include <tradingd/core/result.hpp>
#include <tradingd/strategy/action.hpp>
#include <tradingd/strategy/position.hpp>

#include "vm.hpp"

namespace tradingd::strategy::lua::detail {

/// Longest `reason` accepted in an action table, in bytes.
inline constexpr std::size_t max_reason_bytes = 1024;

/// detect_opportunity: nil -> no_action; a table whose fields are all scalars with string keys ->
/// open_analysis (reason = its string `reason` field). Does not merge anything into ctx.
result<action> validate_opportunity(lua_State* L, int idx, const char* script);

/// filter_commitment: nil, cancel_analysis, enter_long/enter_short. Stops and targets are checked
/// against the price the entry would fill at (ask for long, bid for short).
result<action> validate_commitment(lua_State* L, int idx, const char* script,
                                   const effective_quote& q);

/// manage_position: nil, exit, update_stop_loss, update_take_profit, checked against the bid
/// (long) or ask (short).
result<action> validate_management(lua_State* L, int idx, const char* script, const position& p,
                                   const effective_quote& q);

}  // namespace tradingd::strategy::lua::detail
