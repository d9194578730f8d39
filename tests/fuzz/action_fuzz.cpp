// action_fuzz: structured fuzzing of action validation. The input bytes drive a small generator
// that writes three Lua table constructors (keys from the action contract plus stray names, array
// items and non-string keys; values from numbers including nan/inf/-0/huge/maxinteger, strings
// including the valid action names, booleans, nested tables, functions and nil). Each becomes the
// return value of one entry point:
//
//   function detect_opportunity() return <X1> end
//   function filter_commitment() return <X2> end
//   function manage_position() return <X3> end
//
// Alongside the Lua text the generator keeps a model of the table Lua will build, and the target
// predicts from docs/lua-api.md whether each call must succeed and with which action. A
// disagreement, or an accepted action whose numbers break the contract (non-finite, <= 0, stop or
// target on the wrong side of the price), is a finding: __builtin_trap(). See docs/fuzzing.md.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numbers>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fuzz_harness.hpp"

namespace {

using namespace tradingd;
using namespace tradingd::strategy;
using tradingd::fuzz::harness;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

// ------------------------------------------------------------------------------------------
// The model of a Lua value

enum class vkind : std::uint8_t { nil, integer, number, string, boolean, table, function };

struct value {
    vkind kind = vkind::nil;
    std::int64_t i = 0;
    double d = 0;
    std::string s;
    bool b = false;
    std::string lua;  ///< the Lua expression producing it
};

value make_integer(std::int64_t i, std::string lua) {
    return {vkind::integer, i, 0, {}, false, std::move(lua)};
}
value make_number(double d, std::string lua) {
    return {vkind::number, 0, d, {}, false, std::move(lua)};
}

/// An integer literal Lua reads back exactly (the minimum has no literal: -9223372036854775808
/// would be the float 2^63 negated).
value integer_literal(std::int64_t i) {
    if (i == INT64_MIN) return make_integer(i, "math.mininteger");
    return make_integer(i, std::to_string(i));
}

/// A float literal Lua reads back bit-exactly, always a float (never an integer literal).
value float_literal(double d) {
    if (std::isnan(d)) return make_number(d, "(0/0)");
    if (std::isinf(d)) return make_number(d, d > 0 ? "math.huge" : "(-math.huge)");
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", d);
    std::string lua = text;
    if (lua.find_first_of(".e") == std::string::npos) lua += ".0";
    return make_number(d, "(" + lua + ")");
}

value number_value(FuzzedDataProvider& in) {
    struct special {
        const char* lua;
        bool integer;
        std::int64_t i;
        double d;
    };
    // Around the quote (bid 99.5..100.5, ask 100.5..101.5 in the snapshots below), zeros, signs,
    // the integer/float boundaries and the non-finite values.
    static const std::array<special, 34> specials{{
        {"0", true, 0, 0},
        {"1", true, 1, 0},
        {"-1", true, -1, 0},
        {"3", true, 3, 0},
        {"0.0", false, 0, 0.0},
        {"-0.0", false, 0, -0.0},
        {"0.5", false, 0, 0.5},
        {"1e-300", false, 0, 1e-300},
        {"5e-324", false, 0, 5e-324},
        {"1e308", false, 0, 1e308},
        {"(1e308*10)", false, 0, HUGE_VAL},
        {"math.huge", false, 0, HUGE_VAL},
        {"(-math.huge)", false, 0, -HUGE_VAL},
        {"(0/0)", false, 0, NAN},
        {"(-(0/0))", false, 0, NAN},
        {"math.maxinteger", true, INT64_MAX, 0},
        {"math.mininteger", true, INT64_MIN, 0},
        {"2^53", false, 0, 9007199254740992.0},
        {"9007199254740992", true, 9007199254740992, 0},
        {"9007199254740993", true, 9007199254740993, 0},
        {"-9007199254740993", true, -9007199254740993, 0},
        {"2^63", false, 0, 9223372036854775808.0},
        {"math.pi", false, 0, std::numbers::pi},
        {"50", true, 50, 0},
        {"99", true, 99, 0},
        {"99.5", false, 0, 99.5},
        {"100", true, 100, 0},
        {"100.0", false, 0, 100.0},
        {"100.5", false, 0, 100.5},
        {"101", true, 101, 0},
        {"101.5", false, 0, 101.5},
        {"102", true, 102, 0},
        {"150", true, 150, 0},
        {"1e15", false, 0, 1e15},
    }};
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 0:
            return integer_literal(in.ConsumeIntegral<std::int64_t>());
        case 1:
            return float_literal(in.ConsumeFloatingPoint<double>());
        case 2:  // a price near the quote, to reach the side checks
            return float_literal(98.0 + in.ConsumeIntegralInRange<int>(0, 400) / 100.0);
        default: {
            const special& s =
                specials[in.ConsumeIntegralInRange<std::size_t>(0, specials.size() - 1)];
            return s.integer ? make_integer(s.i, s.lua) : make_number(s.d, s.lua);
        }
    }
}

/// A Lua string literal for any bytes (decimal escapes, so no byte can end or break it).
std::string quote(const std::string& bytes) {
    std::string out = "\"";
    for (const unsigned char c : bytes) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == ' ') {
            out += static_cast<char>(c);
        } else {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\%03u", c);
            out += esc;
        }
    }
    return out + "\"";
}

constexpr std::array<const char*, 12> word_strings{
    "enter_long", "enter_short",      "cancel_analysis",
    "exit",       "update_stop_loss", "update_take_profit",
    "",           "ENTER_LONG",       "exit ",
    "none",       "open_analysis",    "enter_long\0x"};

value string_value(FuzzedDataProvider& in) {
    value v;
    v.kind = vkind::string;
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
        case 0: {
            const std::size_t k =
                in.ConsumeIntegralInRange<std::size_t>(0, word_strings.size() - 1);
            // The last word has an embedded NUL: a valid name followed by junk.
            v.s = k + 1 == word_strings.size() ? std::string("enter_long\0x", 12) : word_strings[k];
            break;
        }
        case 1:
            v.s = in.ConsumeRandomLengthString(24);
            break;
        default: {  // around the 1024-byte reason limit
            static constexpr std::array<std::size_t, 5> lengths{1023, 1024, 1025, 0, 4000};
            const std::size_t n = in.ConsumeBool()
                                      ? lengths[in.ConsumeIntegralInRange<std::size_t>(0, 4)]
                                      : in.ConsumeIntegralInRange<std::size_t>(0, 2048);
            v.s.assign(n, 'r');
            v.lua = "string.rep(\"r\", " + std::to_string(n) + ")";
            return v;
        }
    }
    v.lua = quote(v.s);
    return v;
}

value any_value(FuzzedDataProvider& in) {
    value v;
    switch (in.ConsumeIntegralInRange<int>(0, 9)) {
        case 0:
        case 1:
        case 2:
            return number_value(in);
        case 3:
        case 4:
            return string_value(in);
        case 5:
            v.kind = vkind::boolean;
            v.b = in.ConsumeBool();
            v.lua = v.b ? "true" : "false";
            return v;
        case 6: {
            static constexpr std::array<const char*, 4> tables{
                "{}", "{1, 2, 3}", "{action = \"exit\"}",
                "setmetatable({}, {__index = function() error(\"boom\") end})"};
            v.kind = vkind::table;
            v.lua = tables[in.ConsumeIntegralInRange<std::size_t>(0, tables.size() - 1)];
            return v;
        }
        case 7:
            v.kind = vkind::function;
            v.lua = in.ConsumeBool() ? "print" : "function() return 1 end";
            return v;
        default:
            v.lua = "nil";
            return v;
    }
}

// ------------------------------------------------------------------------------------------
// The model of a returned table

constexpr std::array<const char*, 6> contract_keys{"action",      "quantity", "stop_loss",
                                                   "take_profit", "price",    "reason"};
constexpr std::array<const char*, 7> stray_keys{"qty",     "x",          "levels",     "Action",
                                                "reason2", "with space", "cross_close"};

/// What the table constructor leaves behind, as the validator will see it (raw reads).
struct table_model {
    std::string lua;
    bool raises = false;                  ///< building it raises (a NaN key)
    std::map<std::string, value> named;   ///< string keys with a non-nil value (last write wins)
    std::map<std::string, value> others;  ///< non-string keys, by a name for the key
    bool not_a_table = false;             ///< the function returns `value` instead of a table
    value returned;
};

bool identifier(const std::string& k) {
    return k.find(' ') == std::string::npos;
}

void assign(std::map<std::string, value>& m, const std::string& key, value v) {
    if (v.kind == vkind::nil) {
        m.erase(key);
    } else {
        m[key] = std::move(v);
    }
}

table_model generate_table(FuzzedDataProvider& in) {
    table_model t;
    if (in.ConsumeIntegralInRange<int>(0, 15) == 0) {  // now and then not a table at all
        t.not_a_table = true;
        t.returned = any_value(in);
        if (t.returned.kind == vkind::table) t.returned = value{vkind::nil, 0, 0, {}, false, "nil"};
        t.lua = t.returned.lua;
        return t;
    }
    std::vector<value> items;  // array items: Lua stores them after the keyed fields
    std::string body;
    const int fields = in.ConsumeIntegralInRange<int>(0, 8);
    for (int f = 0; f < fields; ++f) {
        value v = any_value(in);
        const int kind = in.ConsumeIntegralInRange<int>(0, 15);
        std::string text;
        if (kind < 10) {  // a contract key, most of the time
            const std::string key = contract_keys[static_cast<std::size_t>(kind) % 6];
            text = (in.ConsumeBool() ? key : "[" + quote(key) + "]") + " = " + v.lua;
            assign(t.named, key, std::move(v));
        } else if (kind < 12) {
            const std::string key =
                stray_keys[in.ConsumeIntegralInRange<std::size_t>(0, stray_keys.size() - 1)];
            text = (identifier(key) ? key : "[" + quote(key) + "]") + " = " + v.lua;
            assign(t.named, key, std::move(v));
        } else if (kind < 14) {
            text = v.lua;
            items.push_back(std::move(v));
        } else if (kind == 14) {
            static constexpr std::array<const char*, 4> keys{"1", "2.5", "-1", "true"};
            const std::string key = keys[in.ConsumeIntegralInRange<std::size_t>(0, 3)];
            text = "[" + key + "] = " + v.lua;
            assign(t.others, key, std::move(v));
        } else {
            text = "[0/0] = " + v.lua;
            t.raises = true;
        }
        body += (f == 0 ? "" : ", ") + text;
    }
    for (std::size_t i = 0; i < items.size(); ++i)
        assign(t.others, std::to_string(i + 1), items[i]);
    t.lua = "{" + body + "}";
    // A metatable must not matter: validation reads the table raw.
    if (in.ConsumeIntegralInRange<int>(0, 7) == 0) {
        t.lua = "setmetatable(" + t.lua +
                ", {__index = {action = \"exit\", price = 1}, __pairs = function() error(\"no\") "
                "end})";
    }
    return t;
}

// ------------------------------------------------------------------------------------------
// What docs/lua-api.md says the result must be

bool scalar_for_ctx(const value& v) {
    return v.kind == vkind::boolean || v.kind == vkind::string || v.kind == vkind::integer ||
           (v.kind == vkind::number && std::isfinite(v.d));
}

/// "Numbers must be finite and > 0 (integers above 2^53 are refused, they are not exact)".
std::optional<double> positive_number(const value& v) {
    constexpr std::int64_t max_exact = std::int64_t{1} << 53;
    if (v.kind == vkind::integer) {
        if (v.i > max_exact || v.i < -max_exact || v.i <= 0) return std::nullopt;
        return static_cast<double>(v.i);
    }
    if (v.kind == vkind::number && std::isfinite(v.d) && v.d > 0) return v.d;
    return std::nullopt;
}

const value* field(const table_model& t, const char* key) {
    const auto it = t.named.find(key);
    return it == t.named.end() ? nullptr : &it->second;
}

/// The shared part of filter_commitment / manage_position: the named action among `allowed`, no
/// stray keys, a valid reason. Returns the action name, or nullopt when the call must fail.
std::optional<std::string> common_checks(
    const table_model& t, const std::map<std::string, std::vector<std::string>>& allowed_fields) {
    if (t.not_a_table) return std::nullopt;  // nil is handled by the caller
    if (t.raises || !t.others.empty()) return std::nullopt;
    const value* a = field(t, "action");
    if (a == nullptr || a->kind != vkind::string) return std::nullopt;
    const auto rule = allowed_fields.find(a->s);
    if (rule == allowed_fields.end()) return std::nullopt;
    for (const auto& [key, v] : t.named) {
        bool ok = key == "action";
        for (const auto& f : rule->second)
            ok = ok || key == f;
        if (!ok) return std::nullopt;
    }
    const value* r = field(t, "reason");
    if (r != nullptr && (r->kind != vkind::string || r->s.size() > 1024)) return std::nullopt;
    return a->s;
}

std::string reason_of(const table_model& t) {
    const value* r = field(t, "reason");
    return r == nullptr ? std::string{} : r->s;
}

/// The expected filter_commitment result, or nullopt when it must fail.
std::optional<action> expected_commitment(const table_model& t, double bid, double ask) {
    if (t.not_a_table && t.returned.kind == vkind::nil) return action{no_action{}};
    const std::vector<std::string> entry{"quantity", "stop_loss", "take_profit", "reason"};
    const auto name = common_checks(
        t, {{"cancel_analysis", {"reason"}}, {"enter_long", entry}, {"enter_short", entry}});
    if (!name) return std::nullopt;
    if (*name == "cancel_analysis") return action{cancel_analysis{reason_of(t)}};
    enter_position e;
    const bool is_long = *name == "enter_long";
    e.direction = is_long ? side::long_side : side::short_side;
    e.reason = reason_of(t);
    std::array<std::optional<double>*, 3> out{&e.quantity, &e.stop_loss, &e.take_profit};
    for (std::size_t k = 0; k < 3; ++k) {
        const value* v = field(t, entry[k].c_str());
        if (v == nullptr) continue;
        *out[k] = positive_number(*v);
        if (!*out[k]) return std::nullopt;
    }
    const double fill = is_long ? ask : bid;
    if (e.stop_loss && !(is_long ? *e.stop_loss < fill : *e.stop_loss > fill)) return std::nullopt;
    if (e.take_profit && !(is_long ? *e.take_profit > fill : *e.take_profit < fill)) {
        return std::nullopt;
    }
    return action{e};
}

/// The expected manage_position result, or nullopt when it must fail.
std::optional<action> expected_management(const table_model& t, const position& p, double bid,
                                          double ask) {
    if (t.not_a_table && t.returned.kind == vkind::nil) return action{no_action{}};
    const auto name = common_checks(t, {{"exit", {"reason"}},
                                        {"update_stop_loss", {"price", "reason"}},
                                        {"update_take_profit", {"price", "reason"}}});
    if (!name) return std::nullopt;
    if (*name == "exit") return action{exit_position{reason_of(t)}};
    const value* v = field(t, "price");
    if (v == nullptr) return std::nullopt;
    const auto price = positive_number(*v);
    if (!price) return std::nullopt;
    const bool is_long = p.direction == side::long_side;
    const bool is_stop = *name == "update_stop_loss";
    const double mark = is_long ? bid : ask;
    const bool below = is_long == is_stop;
    if (!(below ? *price < mark : *price > mark)) return std::nullopt;
    if (is_stop) return action{update_stop_loss{*price, reason_of(t)}};
    return action{update_take_profit{*price, reason_of(t)}};
}

// ------------------------------------------------------------------------------------------
// Comparing

bool same(const std::optional<double>& a, const std::optional<double>& b) {
    return a.has_value() == b.has_value() && (!a || *a == *b);
}

bool finite_positive(const std::optional<double>& x) {
    return !x || (std::isfinite(*x) && *x > 0);
}

/// The contract's invariants on an accepted action, independent of the model.
void check_invariants(const action& a, double bid, double ask, const position* p) {
    check(action_reason(a).size() <= 1024 || std::holds_alternative<open_analysis>(a));
    if (const auto* e = std::get_if<enter_position>(&a)) {
        check(finite_positive(e->quantity) && finite_positive(e->stop_loss) &&
              finite_positive(e->take_profit));
        const bool is_long = e->direction == side::long_side;
        const double fill = is_long ? ask : bid;
        if (e->stop_loss) check(is_long ? *e->stop_loss < fill : *e->stop_loss > fill);
        if (e->take_profit) check(is_long ? *e->take_profit > fill : *e->take_profit < fill);
    } else if (const auto* s = std::get_if<update_stop_loss>(&a)) {
        check(p != nullptr && std::isfinite(s->price) && s->price > 0);
        check(p->direction == side::long_side ? s->price < bid : s->price > ask);
    } else if (const auto* tp = std::get_if<update_take_profit>(&a)) {
        check(p != nullptr && std::isfinite(tp->price) && tp->price > 0);
        check(p->direction == side::long_side ? tp->price > bid : tp->price < ask);
    }
}

bool same_action(const action& got, const action& want) {
    if (got.index() != want.index() || action_reason(got) != action_reason(want)) return false;
    if (const auto* e = std::get_if<enter_position>(&got)) {
        const auto& w = std::get<enter_position>(want);
        return e->direction == w.direction && same(e->quantity, w.quantity) &&
               same(e->stop_loss, w.stop_loss) && same(e->take_profit, w.take_profit);
    }
    if (const auto* s = std::get_if<update_stop_loss>(&got)) {
        return s->price == std::get<update_stop_loss>(want).price;
    }
    if (const auto* tp = std::get_if<update_take_profit>(&got)) {
        return tp->price == std::get<update_take_profit>(want).price;
    }
    return true;
}

/// detect_opportunity: nil -> no_action; a table of scalar fields under string keys ->
/// open_analysis, with every field now in ctx.
void check_opportunity(const table_model& t, const result<action>& r, const context& ctx) {
    if (t.not_a_table) {
        check(r.ok() == (t.returned.kind == vkind::nil));
        if (r.ok()) check(std::holds_alternative<no_action>(r.value()));
        return;
    }
    bool valid = !t.raises && t.others.empty();
    for (const auto& [key, v] : t.named)
        valid = valid && scalar_for_ctx(v);
    check(r.ok() == valid);
    if (!r.ok()) return;
    const auto* o = std::get_if<open_analysis>(&r.value());
    check(o != nullptr);
    const value* reason = field(t, "reason");
    check(o->reason == (reason != nullptr && reason->kind == vkind::string ? reason->s : ""));
    for (const auto& [key, v] : t.named) {
        const scalar* s = ctx.get(key);
        check(s != nullptr);
        if (v.kind == vkind::boolean) {
            check(std::holds_alternative<bool>(*s) && std::get<bool>(*s) == v.b);
        } else if (v.kind == vkind::string) {
            check(std::holds_alternative<std::string>(*s) && std::get<std::string>(*s) == v.s);
        } else if (v.kind == vkind::integer) {
            check(std::holds_alternative<std::int64_t>(*s) && std::get<std::int64_t>(*s) == v.i);
        } else {
            check(std::holds_alternative<double>(*s) && std::get<double>(*s) == v.d);
        }
    }
    for (const auto& [key, s] : ctx.entries()) {
        if (const auto* d = std::get_if<double>(&s)) check(std::isfinite(*d));
    }
}

void check_call(const result<action>& r, const std::optional<action>& want, double bid, double ask,
                const position* p) {
    check(r.ok() == want.has_value());
    if (!r.ok()) {
        check(!r.error_message().empty());
        return;
    }
    check_invariants(r.value(), bid, ask, p);
    check(same_action(r.value(), *want));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const table_model opportunity = generate_table(in);
    const table_model commitment = generate_table(in);
    const table_model management = generate_table(in);
    const std::string script = "function detect_opportunity() return " + opportunity.lua +
                               " end\nfunction filter_commitment() return " + commitment.lua +
                               " end\nfunction manage_position() return " + management.lua +
                               " end\n";
    static const bool verbose = std::getenv("TRADINGD_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "--- script:\n%s", script.c_str());
    harness h;
    auto loaded = strategy::lua::lua_strategy::load_source("action.lua", script, h.binding(),
                                                           tradingd::fuzz::fuzz_limits());
    check(loaded.ok());  // the generator only writes valid Lua
    auto& s = *loaded.value();

    auto snap = harness::snapshot(h.advance());
    // Now and then no usable quote: the close stands in for bid and ask (docs/lua-api.md).
    if (in.ConsumeIntegralInRange<int>(0, 3) == 0) {
        snap.bid = in.ConsumeBool() ? 0.0 : NAN;
        snap.ask = in.ConsumeBool() ? -1.0 : HUGE_VAL;
    }
    const auto usable = [](double x) { return std::isfinite(x) && x > 0; };
    const double bid = usable(snap.bid) ? snap.bid : snap.bar.close;
    const double ask = usable(snap.ask) ? snap.ask : snap.bar.close;
    const position p = harness::open_position(in.ConsumeBool() ? side::long_side : side::short_side,
                                              snap.bar.close);

    const auto detected = s.detect_opportunity(snap);
    const auto committed = s.filter_commitment(snap);
    const auto managed = s.manage_position(snap, p);
    if (verbose) {
        std::fprintf(stderr, "--- bid %.17g ask %.17g position %s\n", bid, ask,
                     side_name(p.direction));
        for (const auto* r : {&detected, &committed, &managed}) {
            std::fprintf(stderr, "--- %s\n",
                         r->ok() ? action_name(r->value()) : r->error_message().c_str());
        }
    }
    check_opportunity(opportunity, detected, h.ctx());
    check_call(committed, expected_commitment(commitment, bid, ask), bid, ask, nullptr);
    check_call(managed, expected_management(management, p, bid, ask), bid, ask, &p);
    return 0;
}
