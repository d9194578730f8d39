#include "api_tables.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <string_view>

#include "host_bridge.hpp"

namespace tradingd::strategy::lua::detail {

namespace {

// Raw field setters on the table at absolute index t (metamethods a script may have installed
// are bypassed, so every refill rewrites the real fields).
void set_number(lua_State* L, int t, const char* key, double x) {
    lua_pushstring(L, key);
    lua_pushnumber(L, x);
    lua_rawset(L, t);
}

void set_integer(lua_State* L, int t, const char* key, std::int64_t x) {
    lua_pushstring(L, key);
    lua_pushinteger(L, x);
    lua_rawset(L, t);
}

void set_string(lua_State* L, int t, const char* key, const char* s, std::size_t len) {
    lua_pushstring(L, key);
    lua_pushlstring(L, s, len);
    lua_rawset(L, t);
}

void set_boolean(lua_State* L, int t, const char* key, bool b) {
    lua_pushstring(L, key);
    lua_pushboolean(L, b ? 1 : 0);
    lua_rawset(L, t);
}

void set_optional(lua_State* L, int t, const char* key, const std::optional<double>& x) {
    lua_pushstring(L, key);
    if (x) {
        lua_pushnumber(L, *x);
    } else {
        lua_pushnil(L);
    }
    lua_rawset(L, t);
}

// Pushes a scalar as the matching Lua value.
void push_scalar(lua_State* L, const scalar& value) {
    if (const auto* b = std::get_if<bool>(&value)) {
        lua_pushboolean(L, *b ? 1 : 0);
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
        lua_pushinteger(L, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
        lua_pushnumber(L, *d);
    } else {
        const auto& s = std::get<std::string>(value);
        lua_pushlstring(L, s.data(), s.size());
    }
}

// Reads the Lua value at `idx` into a scalar_view; false when its type cannot persist.
bool to_view(lua_State* L, int idx, scalar_view& out) {
    switch (lua_type(L, idx)) {
        case LUA_TBOOLEAN:
            out.type = scalar_view::kind::boolean;
            out.b = lua_toboolean(L, idx) != 0;
            return true;
        case LUA_TNUMBER:
            if (lua_isinteger(L, idx)) {
                out.type = scalar_view::kind::integer;
                out.i = lua_tointeger(L, idx);
            } else {
                out.type = scalar_view::kind::number;
                out.d = lua_tonumber(L, idx);
            }
            return true;
        case LUA_TSTRING:
            out.type = scalar_view::kind::string;
            out.s = lua_tolstring(L, idx, &out.len);
            return true;
        default:
            return false;
    }
}

// Pushes (next, t, nil) for __pairs over the table in upvalue 1.
int raw_next(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1) != 0) return 2;
    lua_pushnil(L);
    return 1;
}

int pairs_over_backing(lua_State* L) {
    lua_pushcfunction(L, raw_next);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushnil(L);
    return 3;
}

int read_only_newindex(lua_State* L) {
    const char* what = lua_tostring(L, lua_upvalueindex(1));
    if (lua_type(L, 2) == LUA_TSTRING) {
        return luaL_error(L, "%s is read-only (cannot set '%s')", what, lua_tostring(L, 2));
    }
    return luaL_error(L, "%s is read-only", what);
}

// Replaces the backing table on top of the stack with an empty proxy whose reads go to it and
// whose writes are refused (Lua 5.4 has no read-only tables; rawset is not in the sandbox).
void make_read_only_proxy(lua_State* L, const char* what) {
    const int backing = lua_gettop(L);
    lua_newtable(L);  // proxy
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, backing);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, what);
    lua_pushcclosure(L, read_only_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, backing);
    lua_pushcclosure(L, pairs_over_backing, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, backing);
}

// ------------------------------------------------------------------------------------------
// ctx

// __newindex(proxy, key, value): upvalue 1 is the backing table.
int ctx_newindex(lua_State* L) {
    if (lua_type(L, 2) != LUA_TSTRING) {
        return luaL_error(L, "ctx: keys must be strings (got a %s key)", luaL_typename(L, 2));
    }
    std::size_t klen = 0;
    const char* key = lua_tolstring(L, 2, &klen);
    scalar_view view;
    const bool erase = lua_isnil(L, 3);
    if (!erase && !to_view(L, 3, view)) {
        return luaL_error(L,
                          "ctx.%s: cannot store a %s (only numbers, integers, strings and "
                          "booleans persist)",
                          key, luaL_typename(L, 3));
    }
    if (view.type == scalar_view::kind::number && !std::isfinite(view.d)) {
        return luaL_error(L, "ctx.%s: cannot store %f (only finite numbers persist)", key, view.d);
    }
    // Lua side first: if it raises (memory), the C++ mirror is left unchanged. Copies are set so
    // the key string stays anchored on the stack while the mirror reads it.
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, lua_upvalueindex(1));
    char err[256];
    if (!mirror_ctx(vm_of(L), key, klen, erase ? nullptr : &view, err, sizeof err)) {
        return luaL_error(L, "%s", err);
    }
    return 0;
}

void create_ctx(lua_State* L, lua_strategy::impl& v) {
    lua_newtable(L);  // backing, filled from the C++ context so a reload keeps ctx
    const int backing = lua_gettop(L);
    for (const auto& [key, value] : v.binding.ctx->entries()) {
        lua_pushlstring(L, key.data(), key.size());
        push_scalar(L, value);
        lua_rawset(L, backing);
    }
    lua_newtable(L);  // proxy: stays empty so every write reaches __newindex
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, backing);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, backing);
    lua_pushcclosure(L, ctx_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, backing);
    lua_pushcclosure(L, pairs_over_backing, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    v.ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    v.ctx_backing_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

// ------------------------------------------------------------------------------------------
// ind

// Reads argument `arg` of ind.<fn> as an int32 period, raising a Lua error otherwise.
std::int32_t check_period(lua_State* L, int arg, const char* fn) {
    if (lua_type(L, arg) != LUA_TNUMBER) {
        luaL_error(L, "ind.%s: argument %d must be an integer, got %s", fn, arg,
                   lua_isnone(L, arg) ? "no value" : luaL_typename(L, arg));
    }
    int is_integer = 0;
    const lua_Integer n = lua_tointegerx(L, arg, &is_integer);
    if (is_integer == 0) {
        luaL_error(L, "ind.%s: argument %d must be an integer, got %f", fn, arg,
                   lua_tonumber(L, arg));
    }
    if (n < std::numeric_limits<std::int32_t>::min() ||
        n > std::numeric_limits<std::int32_t>::max()) {
        luaL_error(L, "ind.%s: argument %d is out of range, got %I", fn, arg, n);
    }
    return static_cast<std::int32_t>(n);
}

double check_factor(lua_State* L, int arg, const char* fn) {
    if (lua_type(L, arg) != LUA_TNUMBER) {
        luaL_error(L, "ind.%s: argument %d must be a number, got %s", fn, arg,
                   lua_isnone(L, arg) ? "no value" : luaL_typename(L, arg));
    }
    return lua_tonumber(L, arg);
}

// ind.<kind>(...): upvalue 1 is the indicator_kind as an integer.
int ind_function(lua_State* L) {
    const auto kind =
        static_cast<indicators::indicator_kind>(lua_tointeger(L, lua_upvalueindex(1)));
    const char* fn = indicators::kind_name(kind);
    indicator_query q;
    q.kind = kind;
    q.n1 = check_period(L, 1, fn);
    if (kind == indicators::indicator_kind::macd) {
        q.n2 = check_period(L, 2, fn);
        q.n3 = check_period(L, 3, fn);
    } else if (kind == indicators::indicator_kind::bollinger) {
        q.k = check_factor(L, 2, fn);
    }
    char err[256];
    if (!query_indicator(*vm_of(L).binding.indicators, q, err, sizeof err)) {
        return luaL_error(L, "%s", err);
    }
    const int n = static_cast<int>(indicators::output_count(kind));
    for (int i = 0; i < n; ++i) {
        if (q.out.ready) {
            lua_pushnumber(L, q.out.v[static_cast<std::size_t>(i)]);
        } else {
            lua_pushnil(L);
        }
    }
    return n;
}

void create_ind(lua_State* L, lua_strategy::impl& v) {
    using indicators::indicator_kind;
    lua_createtable(L, 0, 9);
    for (const auto kind :
         {indicator_kind::sma, indicator_kind::ema, indicator_kind::rsi, indicator_kind::macd,
          indicator_kind::bollinger, indicator_kind::atr, indicator_kind::highest,
          indicator_kind::lowest, indicator_kind::stddev}) {
        lua_pushinteger(L, static_cast<lua_Integer>(kind));
        lua_pushcclosure(L, ind_function, 1);
        lua_setfield(L, -2, indicators::kind_name(kind));
    }
    make_read_only_proxy(L, "ind");
    v.ind_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

// ------------------------------------------------------------------------------------------
// log / print

// log.<level>(...) and print(...): upvalue 1 is the log_level as an integer. Arguments go
// through tostring (their __tostring may run script code) and are joined by spaces.
int log_function(lua_State* L) {
    const auto level = static_cast<log_level>(lua_tointeger(L, lua_upvalueindex(1)));
    const int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; ++i) {
        if (i > 1) luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, nullptr);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    std::size_t len = 0;
    const char* text = lua_tolstring(L, -1, &len);
    emit_log(vm_of(L), level, text, len < max_error_bytes ? len : max_error_bytes);
    return 0;
}

void create_log(lua_State* L, int env) {
    lua_createtable(L, 0, 4);
    const struct {
        const char* name;
        log_level level;
    } levels[] = {{"debug", log_level::debug},
                  {"info", log_level::info},
                  {"warn", log_level::warn},
                  {"error", log_level::error}};
    for (const auto& l : levels) {
        lua_pushinteger(L, static_cast<lua_Integer>(l.level));
        lua_pushcclosure(L, log_function, 1);
        lua_setfield(L, -2, l.name);
    }
    lua_setfield(L, env, "log");
    lua_pushinteger(L, static_cast<lua_Integer>(log_level::info));
    lua_pushcclosure(L, log_function, 1);
    lua_setfield(L, env, "print");
}

void create_params(lua_State* L, lua_strategy::impl& v, int env) {
    lua_createtable(L, 0, static_cast<int>(v.binding.params.size()));
    for (const auto& [key, value] : v.binding.params) {
        lua_pushlstring(L, key.data(), key.size());
        push_scalar(L, value);
        lua_rawset(L, -3);
    }
    make_read_only_proxy(L, "params");
    lua_setfield(L, env, "params");
}

}  // namespace

void create_api_tables(lua_State* L, lua_strategy::impl& v, int env_index) {
    env_index = lua_absindex(L, env_index);
    lua_createtable(L, 0, 14);
    v.market_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 8);
    v.position_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    create_ind(L, v);
    create_ctx(L, v);
    create_params(L, v, env_index);
    create_log(L, env_index);
}

void refill_market(lua_State* L, const lua_strategy::impl& v) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, v.market_ref);
    const int t = lua_gettop(L);
    const market_snapshot& m = *v.market;
    const effective_quote q = quote_of(m);
    const auto& symbol = v.binding.symbol;
    const auto& interval = v.binding.interval;
    set_string(L, t, "symbol", symbol.data(), symbol.size());
    set_string(L, t, "interval", interval.data(), interval.size());
    set_integer(L, t, "open_time", m.bar.open_time);
    set_integer(L, t, "close_time", m.bar.close_time);
    set_number(L, t, "open", m.bar.open);
    set_number(L, t, "high", m.bar.high);
    set_number(L, t, "low", m.bar.low);
    set_number(L, t, "close", m.bar.close);
    set_number(L, t, "volume", m.bar.volume);
    set_number(L, t, "bid", q.bid);
    set_number(L, t, "ask", q.ask);
    set_number(L, t, "mid_price", (q.bid + q.ask) / 2);
    set_boolean(L, t, "closed", m.closed);
    lua_pop(L, 1);
}

void refill_position(lua_State* L, const lua_strategy::impl& v) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, v.position_ref);
    const int t = lua_gettop(L);
    const position& p = *v.pos;
    const effective_quote q = quote_of(*v.market);
    const char* side = side_name(p.direction);
    set_string(L, t, "side", side, std::strlen(side));
    set_number(L, t, "quantity", p.quantity);
    set_number(L, t, "entry_price", p.entry_price);
    set_optional(L, t, "stop_loss", p.stop_loss);
    set_optional(L, t, "take_profit", p.take_profit);
    set_number(L, t, "unrealized_pnl", p.unrealized_pnl(q.bid, q.ask));
    set_integer(L, t, "opened_at", p.opened_at);
    set_integer(L, t, "bars_held", p.bars_held);
    lua_pop(L, 1);
}

int merge_opportunity(lua_State* L) {
    auto& v = vm_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v.ctx_backing_ref);
    const int backing = lua_gettop(L);
    char err[256];
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        // Keys and value types were validated before this runs.
        std::size_t klen = 0;
        const char* key = lua_tolstring(L, -2, &klen);
        scalar_view view;
        to_view(L, -1, view);
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, backing);
        if (!mirror_ctx(v, key, klen, &view, err, sizeof err)) return luaL_error(L, "%s", err);
    }
    return 0;
}

}  // namespace tradingd::strategy::lua::detail
