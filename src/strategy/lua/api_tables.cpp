#include "api_tables.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <limits>
#include <string_view>

#include "host_bridge.hpp"

namespace tradingd::strategy::lua::detail {

namespace {

// ------------------------------------------------------------------------------------------
// market and position: read-only views of the call's snapshot
//
// Both are empty proxy tables whose __index is a C function reading the current call's
// market_snapshot / position directly. Nothing is rewritten before a call, so the per-call cost is
// paid only for the fields a script actually reads (measured: refilling all 13 market fields cost
// about a quarter of a runner step). Writes raise "market is read-only".
// The position view has one more level: the proxy's __index is a hidden backing table holding
// the fields that stay fixed while a position is held (entry price, stop, ...), rewritten only
// when they change (sync_position_view, rare), and only the backing table's own __index is the C
// function (unrealized_pnl, bars_held, unset stops). A script reads entry_price or stop_loss on
// every manage_position call: a table lookup instead of a C call each time.
//
// Field names are Lua strings created once per VM (kept alive in the registry). Lua interns short
// strings, so a script's `market.close` looks up exactly the string created here: the __index
// function identifies the field by comparing the key's address, without hashing or strcmp.

enum field : std::uint8_t {
    f_symbol,
    f_interval,
    f_open_time,
    f_close_time,
    f_open,
    f_high,
    f_low,
    f_close,
    f_volume,
    f_bid,
    f_ask,
    f_mid_price,
    f_closed,
    f_market_end,  // fields below belong to position
    f_side = f_market_end,
    f_quantity,
    f_entry_price,
    f_stop_loss,
    f_take_profit,
    f_unrealized_pnl,
    f_opened_at,
    f_bars_held,
    f_end
};

constexpr const char* field_names[f_end] = {
    "symbol",      "interval",  "open_time",   "close_time",     "open",
    "high",        "low",       "close",       "volume",         "bid",
    "ask",         "mid_price", "closed",      "side",           "quantity",
    "entry_price", "stop_loss", "take_profit", "unrealized_pnl", "opened_at",
    "bars_held"};

// Position fields that stay fixed while a position is held (or change only through an update
// the engine applies between calls): mirrored into the position view's backing table.
constexpr int mirrored_position_fields[] = {f_side,      f_quantity,    f_entry_price,
                                            f_stop_loss, f_take_profit, f_opened_at};

// Interned field-name pointers of one VM, stored as a full userdata in the registry (upvalue 1 of
// the __index functions). Trivially destructible: Lua frees it with the state.
struct field_table {
    const char* names[f_end];
};

void push_optional(lua_State* L, const std::optional<double>& x) {
    if (x) {
        lua_pushnumber(L, *x);
    } else {
        lua_pushnil(L);
    }
}

// Index of the field whose interned name is at `key` in [first, last), or f_end.
int field_of(const char* const* names, const char* key, int first, int last) noexcept {
    for (int i = first; i < last; ++i) {
        if (names[i] == key) return i;
    }
    return f_end;
}

// Pushes market field f of the current call (f in [f_symbol, f_market_end)).
void push_market_field(lua_State* L, const lua_strategy::impl& v, int f) {
    const market_snapshot& m = *v.market;
    switch (f) {
        case f_symbol:
            lua_pushlstring(L, v.binding.symbol.data(), v.binding.symbol.size());
            break;
        case f_interval:
            lua_pushlstring(L, v.binding.interval.data(), v.binding.interval.size());
            break;
        case f_open_time:
            lua_pushinteger(L, m.bar.open_time);
            break;
        case f_close_time:
            lua_pushinteger(L, m.bar.close_time);
            break;
        case f_open:
            lua_pushnumber(L, m.bar.open);
            break;
        case f_high:
            lua_pushnumber(L, m.bar.high);
            break;
        case f_low:
            lua_pushnumber(L, m.bar.low);
            break;
        case f_close:
            lua_pushnumber(L, m.bar.close);
            break;
        case f_volume:
            lua_pushnumber(L, m.bar.volume);
            break;
        case f_bid:
            lua_pushnumber(L, quote_of(m).bid);
            break;
        case f_ask:
            lua_pushnumber(L, quote_of(m).ask);
            break;
        case f_mid_price: {
            const effective_quote q = quote_of(m);
            lua_pushnumber(L, (q.bid + q.ask) / 2);
            break;
        }
        case f_closed:
            lua_pushboolean(L, m.closed ? 1 : 0);
            break;
        default:
            lua_pushnil(L);
            break;
    }
}

// Pushes position field f of the current call (f in [f_side, f_end)).
void push_position_field(lua_State* L, const lua_strategy::impl& v, int f) {
    const position& p = *v.pos;
    switch (f) {
        case f_side:
            lua_pushstring(L, side_name(p.direction));
            break;
        case f_quantity:
            lua_pushnumber(L, p.quantity);
            break;
        case f_entry_price:
            lua_pushnumber(L, p.entry_price);
            break;
        case f_stop_loss:
            push_optional(L, p.stop_loss);
            break;
        case f_take_profit:
            push_optional(L, p.take_profit);
            break;
        case f_unrealized_pnl: {
            const effective_quote q = quote_of(*v.market);
            lua_pushnumber(L, p.unrealized_pnl(q.bid, q.ask));
            break;
        }
        case f_opened_at:
            lua_pushinteger(L, p.opened_at);
            break;
        case f_bars_held:
            lua_pushinteger(L, p.bars_held);
            break;
        default:
            lua_pushnil(L);
            break;
    }
}

// Read through the impl rather than the closure's upvalue: one lua_touserdata less per read.
const char* const* field_names_of(const lua_strategy::impl& v) {
    return v.view_field_names;
}

// True when the view's data exists: during a call (market), and in manage_position (position).
bool view_live(const lua_strategy::impl& v, bool is_market) {
    return v.market != nullptr && (is_market || v.pos != nullptr);
}

// __index(proxy, key) of market. Upvalue 1, the field_table, anchors the names it compares.
int market_index(lua_State* L) {
    const auto& v = vm_of(L);
    if (!view_live(v, true) || lua_type(L, 2) != LUA_TSTRING) return 0;  // nil
    const int f = field_of(field_names_of(v), lua_tostring(L, 2), f_symbol, f_market_end);
    if (f == f_end) return 0;
    push_market_field(L, v, f);
    return 1;
}

// __index(proxy, key) of position. Upvalue 1, the field_table, anchors the names it compares.
int position_index(lua_State* L) {
    const auto& v = vm_of(L);
    if (!view_live(v, false) || lua_type(L, 2) != LUA_TSTRING) return 0;
    const int f = field_of(field_names_of(v), lua_tostring(L, 2), f_side, f_end);
    if (f == f_end) return 0;
    push_position_field(L, v, f);
    return 1;
}

int raw_next(lua_State* L);

// __pairs of a view: iterates a fresh table holding every field (allocates, but only when a
// script iterates). Upvalues: the field_table, and whether this is the market view.
int view_pairs(lua_State* L) {
    const auto& v = vm_of(L);
    const char* const* names = field_names_of(v);
    const bool is_market = lua_toboolean(L, lua_upvalueindex(2)) != 0;
    const int first = is_market ? f_symbol : f_side;
    const int last = is_market ? f_market_end : f_end;
    lua_pushcfunction(L, raw_next);
    lua_createtable(L, 0, last - first);
    if (view_live(v, is_market)) {
        for (int i = first; i < last; ++i) {
            is_market ? push_market_field(L, v, i) : push_position_field(L, v, i);
            lua_setfield(L, -2, names[i]);
        }
    }
    lua_pushnil(L);
    return 3;
}

int view_newindex(lua_State* L) {
    return luaL_error(L, "%s is read-only", lua_tostring(L, lua_upvalueindex(1)));
}

// Pushes a read-only view proxy. `index` answers the reads: for the position view it sits behind
// a backing table (__index chain proxy -> backing -> index), which sync_position_view fills with
// the fields that stay fixed while a position is held, so most reads are plain table lookups.
void push_view(lua_State* L, int field_ud, lua_CFunction index, bool is_market) {
    lua_newtable(L);  // the proxy: stays empty
    lua_createtable(L, 0, 4);
    if (!is_market) {
        lua_createtable(L, 0, static_cast<int>(std::size(mirrored_position_fields)));
        lua_createtable(L, 0, 1);
    }
    lua_pushvalue(L, field_ud);
    lua_pushcclosure(L, index, 1);
    lua_setfield(L, -2, "__index");
    if (!is_market) {
        lua_setmetatable(L, -2);  // the backing table's
        lua_setfield(L, -2, "__index");
    }
    lua_pushstring(L, is_market ? "market" : "position");
    lua_pushcclosure(L, view_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, field_ud);
    lua_pushboolean(L, is_market ? 1 : 0);
    lua_pushcclosure(L, view_pairs, 2);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

void create_views(lua_State* L, lua_strategy::impl& v) {
    auto* ft = static_cast<field_table*>(lua_newuserdatauv(L, sizeof(field_table), f_end));
    const int ud = lua_gettop(L);
    for (int i = 0; i < f_end; ++i) {
        // Anchor each name in a user value so its interned address stays valid for the VM's life.
        ft->names[i] = lua_pushstring(L, field_names[i]);
        lua_setiuservalue(L, ud, i + 1);
    }
    v.view_field_names = ft->names;
    push_view(L, ud, market_index, true);
    v.market_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    push_view(L, ud, position_index, false);
    lua_getmetatable(L, -1);
    lua_getfield(L, -1, "__index");
    v.position_backing_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    v.position_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}

}  // namespace

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

namespace {

// Pushes (next, t, nil) for __pairs over the table in upvalue 1.
int raw_next(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1) != 0) return 2;
    lua_pushnil(L);
    return 1;
}

// next() over the backing table in upvalue 1, ignoring the state argument: pairs() on a proxy
// never hands the script the backing table itself, which it could write past the proxy.
int backing_next(lua_State* L) {
    lua_settop(L, 2);  // (state, key)
    if (lua_next(L, lua_upvalueindex(1)) != 0) return 2;
    lua_pushnil(L);
    return 1;
}

// __pairs of a proxy: (iterator, nil, nil), the iterator (upvalue 1) bound to the backing table.
int pairs_over_backing(lua_State* L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushnil(L);
    lua_pushnil(L);
    return 3;
}

// Pushes the __pairs function of a proxy whose backing table is at `backing`.
void push_pairs_over(lua_State* L, int backing) {
    lua_pushvalue(L, backing);
    lua_pushcclosure(L, backing_next, 1);
    lua_pushcclosure(L, pairs_over_backing, 1);
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
    push_pairs_over(L, backing);
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
    // Rewriting the value a key already holds (a common pattern: `ctx.flag = flag` on every
    // candle) changes nothing on either side: skip it. Integer 1 and float 1.0 are raw-equal in
    // Lua but persist as different types, hence the subtype check. Erasures always go through.
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    const bool unchanged =
        lua_rawequal(L, -1, 3) != 0 && lua_isinteger(L, -1) == lua_isinteger(L, 3);
    lua_pop(L, 1);
    if (unchanged && !erase) return 0;
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
    push_pairs_over(L, backing);
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

constexpr bool single_period(indicators::indicator_kind k) {
    return k != indicators::indicator_kind::macd && k != indicators::indicator_kind::bollinger;
}

int push_outputs(lua_State* L, indicators::indicator_kind kind,
                 const indicators::indicator_value& value) {
    const int n = static_cast<int>(indicators::output_count(kind));
    for (int i = 0; i < n; ++i) {
        if (value.ready) {
            lua_pushnumber(L, value.v[static_cast<std::size_t>(i)]);
        } else {
            lua_pushnil(L);
        }
    }
    return n;
}

// ind.<kind>(...) without a cached entry: validates the arguments, finds or creates the indicator
// (raising on bad parameters) and caches where its value lives when there is room.
int ind_lookup(lua_State* L, indicators::indicator_kind kind, ind_cache& cache) {
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
    if (single_period(kind) && cache.used < cache.slots.size()) {
        cache.slots[cache.used++] = {q.n1, q.source};
    }
    return push_outputs(L, kind, q.out);
}

// ind.<kind>(...): one C function per kind, so it needs no upvalue. A period seen before (an
// integer argument: anything else goes through the full checks) reads the cached value.
template <indicators::indicator_kind Kind>
int ind_function(lua_State* L) {
    auto& cache = vm_of(L).ind_caches[static_cast<std::size_t>(Kind)];
    if constexpr (single_period(Kind)) {
        if (lua_isinteger(L, 1)) {
            const lua_Integer n = lua_tointeger(L, 1);
            for (std::uint8_t i = 0; i < cache.used; ++i) {
                if (cache.slots[i].period != n) continue;
                const indicators::indicator_value& value = *cache.slots[i].value;
                if (value.ready) {
                    lua_pushnumber(L, value.v[0]);
                } else {
                    lua_pushnil(L);
                }
                return 1;
            }
        }
    }
    return ind_lookup(L, Kind, cache);
}

void create_ind(lua_State* L, lua_strategy::impl& v) {
    using indicators::indicator_kind;
    static constexpr struct {
        indicator_kind kind;
        lua_CFunction fn;
    } functions[] = {{indicator_kind::sma, ind_function<indicator_kind::sma>},
                     {indicator_kind::ema, ind_function<indicator_kind::ema>},
                     {indicator_kind::rsi, ind_function<indicator_kind::rsi>},
                     {indicator_kind::macd, ind_function<indicator_kind::macd>},
                     {indicator_kind::bollinger, ind_function<indicator_kind::bollinger>},
                     {indicator_kind::atr, ind_function<indicator_kind::atr>},
                     {indicator_kind::highest, ind_function<indicator_kind::highest>},
                     {indicator_kind::lowest, ind_function<indicator_kind::lowest>},
                     {indicator_kind::stddev, ind_function<indicator_kind::stddev>}};
    static_assert(std::size(functions) == indicator_kind_count);
    lua_createtable(L, 0, static_cast<int>(std::size(functions)));
    for (const auto& f : functions) {
        lua_pushcfunction(L, f.fn);
        lua_setfield(L, -2, indicators::kind_name(f.kind));
    }
    make_read_only_proxy(L, "ind");
    v.ind_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

// ------------------------------------------------------------------------------------------
// log / print

// log.<level>(...) and print(...): upvalue 1 is the log_level as an integer. Arguments go
// through tostring (their __tostring may run script code) and are joined by spaces. The rate
// limit is asked first, so a dropped line costs no formatting (nor its __tostring calls).
int log_function(lua_State* L) {
    if (!log_allowed(vm_of(L))) return 0;
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
    create_views(L, v);
    create_ind(L, v);
    create_ctx(L, v);
    create_params(L, v, env_index);
    create_log(L, env_index);
}

int sync_position_view(lua_State* L) {
    auto& v = vm_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, v.position_backing_ref);
    for (const int f : mirrored_position_fields) {
        lua_pushstring(L, field_names[f]);
        if (v.pos != nullptr) {
            push_position_field(L, v, f);
        } else {
            lua_pushnil(L);
        }
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
    // Only once every write succeeded (a raise above leaves it stale, so the next call retries).
    v.position_shown = v.pos != nullptr ? std::optional<position>(*v.pos) : std::nullopt;
    return 0;
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
