#include "action_validation.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace tradingd::strategy::lua::detail {

namespace {

// ------------------------------------------------------------------------------------------
// Reading a returned table

/// One field of a returned table, read without conversions.
struct field {
    int type = LUA_TNIL;
    bool is_integer = false;
    lua_Integer i = 0;
    double d = 0;
    const char* s = nullptr;
    std::size_t len = 0;
    bool present() const noexcept { return type != LUA_TNIL; }
};

enum field_id : std::size_t { f_action, f_quantity, f_stop_loss, f_take_profit, f_price, f_reason };
constexpr std::array<const char*, 6> field_names{"action",      "quantity", "stop_loss",
                                                 "take_profit", "price",    "reason"};

struct table_fields {
    std::array<field, field_names.size()> known{};
    const char* unknown = nullptr;  ///< the alphabetically first key that is not a known name
    std::size_t unknown_len = 0;
    int bad_key_type = LUA_TNIL;  ///< type of a non-string key, if any
};

field read_value(lua_State* L, int idx) {
    field f;
    f.type = lua_type(L, idx);
    if (f.type == LUA_TNUMBER) {
        f.is_integer = lua_isinteger(L, idx) != 0;
        f.i = f.is_integer ? lua_tointeger(L, idx) : 0;
        f.d = lua_tonumber(L, idx);
    } else if (f.type == LUA_TSTRING) {
        f.s = lua_tolstring(L, idx, &f.len);
    } else if (f.type == LUA_TBOOLEAN) {
        f.i = lua_toboolean(L, idx);
    }
    return f;
}

bool less(const char* a, std::size_t alen, const char* b, std::size_t blen) {
    const int c = std::memcmp(a, b, alen < blen ? alen : blen);
    return c < 0 || (c == 0 && alen < blen);
}

// The table stays on the stack, so the string pointers stay valid while it is validated.
table_fields read_fields(lua_State* L, int t) {
    table_fields out;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            out.bad_key_type = lua_type(L, -2);
            lua_pop(L, 1);
            continue;
        }
        std::size_t len = 0;
        const char* key = lua_tolstring(L, -2, &len);
        bool matched = false;
        for (std::size_t id = 0; id < field_names.size(); ++id) {
            if (std::strlen(field_names[id]) == len &&
                std::memcmp(field_names[id], key, len) == 0) {
                out.known[id] = read_value(L, -1);
                matched = true;
            }
        }
        if (!matched && (out.unknown == nullptr || less(key, len, out.unknown, out.unknown_len))) {
            out.unknown = key;
            out.unknown_len = len;
        }
        lua_pop(L, 1);
    }
    return out;
}

// ------------------------------------------------------------------------------------------
// Messages

/// Room for one message; built only when something is wrong.
struct message {
    char text[768];
};

/// "script: fn: " followed by the printf-formatted detail. A template rather than a C
/// variadic function: no va_list, which clang-analyzer 14 misreads (valist.Uninitialized).
template <typename... Args>
error make_error(const char* script, const char* fn, const char* fmt, Args... args) {
    static_assert(sizeof...(Args) > 0, "pass the detail as an argument, not as the format");
    message m;
    int head = std::snprintf(m.text, sizeof m.text, "%s: %s: ", script, fn);
    if (head < 0) head = 0;
    const auto used = std::min(static_cast<std::size_t>(head), sizeof m.text - 1);
    std::snprintf(m.text + used, sizeof m.text - used, fmt, args...);
    return error{m.text};
}

/// Renders a number the way Lua prints it ("30000", "0.5", "nan", "-inf").
void format_number(double x, char* out, std::size_t n) {
    if (std::isnan(x)) {
        std::snprintf(out, n, "nan");
    } else if (std::isinf(x)) {
        std::snprintf(out, n, "%s", x < 0 ? "-inf" : "inf");
    } else {
        std::snprintf(out, n, "%.14g", x);
    }
}

const char* type_name(int t) {
    static constexpr const char* names[] = {"nil",   "boolean",  "userdata", "number", "string",
                                            "table", "function", "userdata", "thread"};
    return t >= 0 && t < 9 ? names[t] : "no value";
}

/// "-1", "nan", "a string", "a table": what a field held, for "got ..." in messages.
void describe(const field& f, char* out, std::size_t n) {
    if (f.type == LUA_TNUMBER && f.is_integer) {
        std::snprintf(out, n, "%lld", static_cast<long long>(f.i));
    } else if (f.type == LUA_TNUMBER) {
        format_number(f.d, out, n);
    } else if (f.type == LUA_TNIL) {
        std::snprintf(out, n, "nil");
    } else {
        std::snprintf(out, n, "a %s", type_name(f.type));
    }
}

constexpr std::int64_t max_exact_integer = std::int64_t{1} << 53;

/// A finite number > 0 (integers must convert to double exactly). Writes the problem otherwise.
/// The field's value is described only on failure: formatting it costs more than the check.
bool positive_number(const field& f, double& out, char* why, std::size_t n) {
    const auto fail = [&](const char* extra) {
        char got[64];
        describe(f, got, sizeof got);
        std::snprintf(why, n, "expected a finite number > 0, got %s%s", got, extra);
        return false;
    };
    if (f.type != LUA_TNUMBER) return fail("");
    // Compare the integer itself: converted to double first, 2^53 + 1 would round to 2^53.
    if (f.is_integer && (f.i > max_exact_integer || f.i < -max_exact_integer)) {
        return fail(" (integers beyond 2^53 are not exact)");
    }
    out = f.is_integer ? static_cast<double>(f.i) : f.d;
    if (!std::isfinite(out) || out <= 0) return fail("");
    return true;
}

/// Checks an optional positive-number field; on failure returns the error.
bool optional_price(const char* script, const char* fn, const table_fields& t, field_id id,
                    std::optional<double>& out, std::optional<error>& err) {
    const field& f = t.known[id];
    if (!f.present()) return true;
    char why[160];
    double x = 0;
    if (!positive_number(f, x, why, sizeof why)) {
        err = make_error(script, fn, "field '%s': %s", field_names[id], why);
        return false;
    }
    out = x;
    return true;
}

// ------------------------------------------------------------------------------------------
// Shared checks

struct action_rule {
    const char* name;
    std::uint8_t allowed;  ///< bit per field_id
    const char* allowed_text;
};

constexpr std::uint8_t bit(field_id id) {
    return static_cast<std::uint8_t>(1u << id);
}

/// Rejects non-string keys and fields the action does not take.
bool check_fields(const char* script, const char* fn, const table_fields& t,
                  const action_rule& rule, std::optional<error>& err) {
    if (t.bad_key_type != LUA_TNIL) {
        err = make_error(script, fn, "the table has a %s key (action fields are named)",
                         type_name(t.bad_key_type));
        return false;
    }
    const char* extra = t.unknown;
    std::size_t extra_len = t.unknown_len;
    for (std::size_t id = 0; id < field_names.size(); ++id) {
        const bool allowed = (rule.allowed & bit(static_cast<field_id>(id))) != 0;
        const std::size_t len = std::strlen(field_names[id]);
        if (t.known[id].present() && !allowed &&
            (extra == nullptr || less(field_names[id], len, extra, extra_len))) {
            extra = field_names[id];
            extra_len = len;
        }
    }
    if (extra != nullptr) {
        err = make_error(script, fn, "field '%.*s': unknown field for action '%s' (allowed: %s)",
                         static_cast<int>(extra_len < 64 ? extra_len : 64), extra, rule.name,
                         rule.allowed_text);
        return false;
    }
    return true;
}

/// Finds the action named by the `action` field among `rules`.
const action_rule* find_action(const char* script, const char* fn, const table_fields& t,
                               const action_rule* rules, std::size_t count, const char* expected,
                               std::optional<error>& err) {
    const field& a = t.known[f_action];
    if (!a.present()) {
        err = make_error(script, fn, "field 'action': missing (expected one of: %s)", expected);
        return nullptr;
    }
    if (a.type != LUA_TSTRING) {
        char got[64];
        describe(a, got, sizeof got);
        err = make_error(script, fn, "field 'action': expected a string, got %s", got);
        return nullptr;
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (std::strlen(rules[i].name) == a.len && std::memcmp(rules[i].name, a.s, a.len) == 0) {
            return &rules[i];
        }
    }
    err = make_error(script, fn, "field 'action': unknown action '%.*s' (expected one of: %s)",
                     static_cast<int>(a.len < 64 ? a.len : 64), a.s, expected);
    return nullptr;
}

/// The optional `reason` string (empty when absent).
bool read_reason(const char* script, const char* fn, const table_fields& t, std::string& reason,
                 std::optional<error>& err) {
    const field& r = t.known[f_reason];
    if (!r.present()) return true;
    if (r.type != LUA_TSTRING) {
        char got[64];
        describe(r, got, sizeof got);
        err = make_error(script, fn, "field 'reason': expected a string, got %s", got);
        return false;
    }
    if (r.len > max_reason_bytes) {
        err = make_error(script, fn, "field 'reason': %zu bytes is too long (at most %zu)", r.len,
                         max_reason_bytes);
        return false;
    }
    reason.assign(r.s, r.len);
    return true;
}

/// `price` must be strictly below (`below`) or above the reference.
bool check_side(const char* script, const char* fn, const char* field_name, double price,
                bool below, double reference, const char* what, std::optional<error>& err) {
    if (below ? price < reference : price > reference) return true;
    char p[40];
    char r[40];
    format_number(price, p, sizeof p);
    format_number(reference, r, sizeof r);
    err = make_error(script, fn, "field '%s': %s is on the wrong side for %s %s (must be %s)",
                     field_name, p, what, r, below ? "below" : "above");
    return false;
}

bool returned_table(lua_State* L, int idx, const char* script, const char* fn,
                    std::optional<error>& err) {
    const int t = lua_type(L, idx);
    if (t == LUA_TTABLE) return true;
    err = make_error(script, fn, "returned a %s (expected nil or a table)", type_name(t));
    return false;
}

// ------------------------------------------------------------------------------------------
// filter_commitment

constexpr const char* commitment_fn = "filter_commitment";
constexpr const char* commitment_expected = "cancel_analysis, enter_long, enter_short";
constexpr std::uint8_t entry_fields =
    bit(f_action) | bit(f_quantity) | bit(f_stop_loss) | bit(f_take_profit) | bit(f_reason);
constexpr std::array<action_rule, 3> commitment_rules{{
    {"cancel_analysis", bit(f_action) | bit(f_reason), "action, reason"},
    {"enter_long", entry_fields, "action, quantity, stop_loss, take_profit, reason"},
    {"enter_short", entry_fields, "action, quantity, stop_loss, take_profit, reason"},
}};

result<action> validate_entry(const char* script, const table_fields& t, bool is_long,
                              const effective_quote& q, std::string reason) {
    std::optional<error> err;
    enter_position e;
    e.direction = is_long ? side::long_side : side::short_side;
    if (!optional_price(script, commitment_fn, t, f_quantity, e.quantity, err) ||
        !optional_price(script, commitment_fn, t, f_stop_loss, e.stop_loss, err) ||
        !optional_price(script, commitment_fn, t, f_take_profit, e.take_profit, err)) {
        return std::move(*err);
    }
    // A long fills at the ask, a short at the bid: stop and target must straddle that price.
    const double fill = is_long ? q.ask : q.bid;
    const char* what = is_long ? "a long entry at" : "a short entry at";
    if ((e.stop_loss &&
         !check_side(script, commitment_fn, "stop_loss", *e.stop_loss, is_long, fill, what, err)) ||
        (e.take_profit && !check_side(script, commitment_fn, "take_profit", *e.take_profit,
                                      !is_long, fill, what, err))) {
        return std::move(*err);
    }
    e.reason = std::move(reason);
    return action{std::move(e)};
}

// ------------------------------------------------------------------------------------------
// manage_position

constexpr const char* management_fn = "manage_position";
constexpr const char* management_expected = "exit, update_stop_loss, update_take_profit";
constexpr std::array<action_rule, 3> management_rules{{
    {"exit", bit(f_action) | bit(f_reason), "action, reason"},
    {"update_stop_loss", bit(f_action) | bit(f_price) | bit(f_reason), "action, price, reason"},
    {"update_take_profit", bit(f_action) | bit(f_price) | bit(f_reason), "action, price, reason"},
}};

result<action> validate_update(const char* script, const table_fields& t, bool is_stop,
                               const position& p, const effective_quote& q, std::string reason) {
    std::optional<error> err;
    const field& f = t.known[f_price];
    if (!f.present()) {
        return make_error(script, management_fn, "field 'price': %s",
                          "missing (expected a finite number > 0)");
    }
    std::optional<double> price;
    if (!optional_price(script, management_fn, t, f_price, price, err)) return std::move(*err);
    // A long closes at the bid, a short at the ask: the stop must be on the losing side of that
    // price and the target on the winning side, or the update would trigger at once.
    const bool is_long = p.direction == side::long_side;
    const double mark = is_long ? q.bid : q.ask;
    const bool below = is_long == is_stop;
    if (below ? *price >= mark : *price <= mark) {
        char what[64];  // only formatted for the message
        std::snprintf(what, sizeof what, "a %s position's %s at %s", side_name(p.direction),
                      is_stop ? "stop-loss" : "take-profit", is_long ? "bid" : "ask");
        check_side(script, management_fn, "price", *price, below, mark, what, err);
        return std::move(*err);
    }
    if (is_stop) return action{update_stop_loss{*price, std::move(reason)}};
    return action{update_take_profit{*price, std::move(reason)}};
}

}  // namespace

result<action> validate_opportunity(lua_State* L, int idx, const char* script) {
    constexpr const char* fn = "detect_opportunity";
    if (lua_isnil(L, idx)) return action{no_action{}};
    std::optional<error> err;
    if (!returned_table(L, idx, script, fn, err)) return std::move(*err);
    idx = lua_absindex(L, idx);
    int bad_key_type = LUA_TNIL;
    const char* bad = nullptr;  // alphabetically first field that cannot be merged
    std::size_t bad_len = 0;
    field bad_value;
    field reason;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            bad_key_type = lua_type(L, -2);
            lua_pop(L, 1);
            continue;
        }
        std::size_t len = 0;
        const char* key = lua_tolstring(L, -2, &len);
        const field f = read_value(L, -1);
        const bool scalar_value = f.type == LUA_TBOOLEAN || f.type == LUA_TSTRING ||
                                  (f.type == LUA_TNUMBER && (f.is_integer || std::isfinite(f.d)));
        if (!scalar_value && (bad == nullptr || less(key, len, bad, bad_len))) {
            bad = key;
            bad_len = len;
            bad_value = f;
        }
        if (len == 6 && std::memcmp(key, "reason", 6) == 0) reason = f;
        lua_pop(L, 1);
    }
    if (bad_key_type != LUA_TNIL) {
        return make_error(script, fn,
                          "the opportunity has a %s key (fields merged into ctx "
                          "need string names)",
                          type_name(bad_key_type));
    }
    if (bad != nullptr) {
        char got[64];
        describe(bad_value, got, sizeof got);
        return make_error(script, fn,
                          "field '%.*s': cannot merge %s into ctx (expected a boolean, a string "
                          "or a finite number)",
                          static_cast<int>(bad_len < 64 ? bad_len : 64), bad, got);
    }
    open_analysis o;
    if (reason.type == LUA_TSTRING) o.reason.assign(reason.s, reason.len);
    return action{std::move(o)};
}

result<action> validate_commitment(lua_State* L, int idx, const char* script,
                                   const effective_quote& q) {
    if (lua_isnil(L, idx)) return action{no_action{}};
    std::optional<error> err;
    if (!returned_table(L, idx, script, commitment_fn, err)) return std::move(*err);
    const table_fields t = read_fields(L, lua_absindex(L, idx));
    const action_rule* rule = find_action(script, commitment_fn, t, commitment_rules.data(),
                                          commitment_rules.size(), commitment_expected, err);
    std::string reason;
    if (rule == nullptr || !check_fields(script, commitment_fn, t, *rule, err) ||
        !read_reason(script, commitment_fn, t, reason, err)) {
        return std::move(*err);
    }
    if (rule == &commitment_rules[0]) return action{cancel_analysis{std::move(reason)}};
    return validate_entry(script, t, rule == &commitment_rules[1], q, std::move(reason));
}

result<action> validate_management(lua_State* L, int idx, const char* script, const position& p,
                                   const effective_quote& q) {
    if (lua_isnil(L, idx)) return action{no_action{}};
    std::optional<error> err;
    if (!returned_table(L, idx, script, management_fn, err)) return std::move(*err);
    const table_fields t = read_fields(L, lua_absindex(L, idx));
    const action_rule* rule = find_action(script, management_fn, t, management_rules.data(),
                                          management_rules.size(), management_expected, err);
    std::string reason;
    if (rule == nullptr || !check_fields(script, management_fn, t, *rule, err) ||
        !read_reason(script, management_fn, t, reason, err)) {
        return std::move(*err);
    }
    if (rule == &management_rules[0]) return action{exit_position{std::move(reason)}};
    return validate_update(script, t, rule == &management_rules[1], p, q, std::move(reason));
}

}  // namespace tradingd::strategy::lua::detail
