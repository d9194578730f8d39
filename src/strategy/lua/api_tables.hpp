#pragma once
// api_tables: the host API a script sees: the `market` and `position` tables (created once;
// read-only views that read the current call's snapshot on access), `ind` (indicator functions),
// `ctx` (persistent proxy), `params` (read-only) and `log`/`print`.

#include <lua.hpp>

#include "host_bridge.hpp"
#include "vm.hpp"

namespace tradingd::strategy::lua::detail {

/// Creates every API table, stores the per-call ones as registry references in `v` and puts
/// `params`, `log` and `print` into the environment at `env_index`. Raises on memory exhaustion:
/// call only in protected mode.
void create_api_tables(lua_State* L, lua_strategy::impl& v, int env_index);

/// True when the position view's backing table mirrors `p` (nullptr: no position; then it must
/// be empty). No Lua calls: checked before every entry-point call.
inline bool position_view_current(const lua_strategy::impl& v, const position* p) noexcept {
    const auto& shown = v.position_shown;
    if (!shown || p == nullptr) return !shown && p == nullptr;
    return shown->direction == p->direction && shown->quantity == p->quantity &&
           shown->entry_price == p->entry_price && shown->stop_loss == p->stop_loss &&
           shown->take_profit == p->take_profit && shown->opened_at == p->opened_at;
}

/// lua_CFunction: rewrites the position view's backing table from impl::pos (clears it when
/// null) and records what it now mirrors in impl::position_shown. Allocates: protected mode only.
int sync_position_view(lua_State* L);

/// Pushes a ctx value as the matching Lua value (allocates for strings: protected mode only).
void push_scalar(lua_State* L, const scalar& value);
/// Reads the Lua value at `idx` into a scalar_view; false when its type cannot persist in ctx.
bool to_view(lua_State* L, int idx, scalar_view& out);

/// lua_CFunction: merges the (already validated) opportunity table at index 1 into ctx: the Lua
/// backing table and the C++ context.
int merge_opportunity(lua_State* L);

}  // namespace tradingd::strategy::lua::detail
