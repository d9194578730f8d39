// Indicator specs: validation, parsing and naming (make_spec, parse_spec, column_names, ...).

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <tradingd/indicators/indicator_set.hpp>

namespace tradingd::indicators {

namespace {

constexpr std::int32_t max_period = 100000;

struct kind_info {
    indicator_kind kind;
    const char* name;
    std::size_t params;      // number of parameters in the text form
    const char* param_list;  // for "expects N parameters (...)"
};

constexpr std::array<kind_info, 9> kinds{{
    {indicator_kind::sma, "sma", 1, "period"},
    {indicator_kind::ema, "ema", 1, "period"},
    {indicator_kind::rsi, "rsi", 1, "period"},
    {indicator_kind::macd, "macd", 3, "fast, slow, signal"},
    {indicator_kind::bollinger, "bollinger", 2, "period, k"},
    {indicator_kind::atr, "atr", 1, "period"},
    {indicator_kind::highest, "highest", 1, "period"},
    {indicator_kind::lowest, "lowest", 1, "period"},
    {indicator_kind::stddev, "stddev", 1, "period"},
}};

const kind_info& info(indicator_kind k) noexcept {
    for (const auto& i : kinds) {
        if (i.kind == k) return i;
    }
    return kinds[0];  // unreachable for valid enum values
}

/// Shortest text that reads back as the same double ("2", "2.5", "nan").
std::string format_k(double k) {
    std::array<char, 32> buf{};
    const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), k);
    return std::string(buf.data(), r.ptr);
}

/// "sma(20)", "macd(12,26,9)", "bollinger(20,2)": how errors name a spec.
std::string spec_text(indicator_kind kind, std::int32_t n1, std::int32_t n2, std::int32_t n3,
                      double k) {
    std::string s = std::string(kind_name(kind)) + "(" + std::to_string(n1);
    if (kind == indicator_kind::macd) s += "," + std::to_string(n2) + "," + std::to_string(n3);
    if (kind == indicator_kind::bollinger) s += "," + format_k(k);
    return s + ")";
}

bool period_ok(std::int32_t n) noexcept {
    return n >= 1 && n <= max_period;
}

std::string period_error(const char* which) {
    return std::string(which) + " must be in [1, " + std::to_string(max_period) + "]";
}

/// The problem with a spec's parameters, or an empty string when they are valid.
std::string check(indicator_kind kind, std::int32_t n1, std::int32_t n2, std::int32_t n3,
                  double k) {
    if (kind == indicator_kind::macd) {
        if (!period_ok(n1)) return period_error("fast period");
        if (!period_ok(n2)) return period_error("slow period");
        if (!period_ok(n3)) return period_error("signal period");
        if (n1 >= n2) return "fast period must be < slow period";
        return {};
    }
    if (!period_ok(n1)) return period_error("period");
    if (kind == indicator_kind::bollinger && !(std::isfinite(k) && k > 0)) {
        return "k must be finite and > 0";
    }
    return {};
}

std::string_view trim(std::string_view s) noexcept {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

std::vector<std::string_view> split_args(std::string_view args) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto comma = args.find(',', start);
        out.push_back(trim(args.substr(start, comma - start)));
        if (comma == std::string_view::npos) return out;
        start = comma + 1;
    }
}

bool parse_int(std::string_view s, std::int32_t& out) noexcept {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

bool parse_double(std::string_view s, double& out) noexcept {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

/// Reads the parameters of `ki` from `args`; returns an error message or "".
std::string read_params(const kind_info& ki, const std::vector<std::string_view>& args,
                        std::array<std::int32_t, 3>& n, double& k) {
    static constexpr std::array<const char*, 3> macd_names{"fast period", "slow period",
                                                           "signal period"};
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (ki.kind == indicator_kind::bollinger && i == 1) {
            if (!parse_double(args[i], k))
                return "k must be a number, got '" + std::string(args[i]) + "'";
            continue;
        }
        if (!parse_int(args[i], n[i])) {
            const char* what = ki.kind == indicator_kind::macd ? macd_names[i] : "period";
            return std::string(what) + " must be an integer, got '" + std::string(args[i]) + "'";
        }
    }
    return {};
}

}  // namespace

std::size_t output_count(indicator_kind k) noexcept {
    return (k == indicator_kind::macd || k == indicator_kind::bollinger) ? 3 : 1;
}

const char* kind_name(indicator_kind k) noexcept {
    return info(k).name;
}

result<indicator_spec> make_spec(indicator_kind kind, std::int32_t n1, std::int32_t n2,
                                 std::int32_t n3, double k) {
    const bool is_macd = kind == indicator_kind::macd;
    const bool is_bb = kind == indicator_kind::bollinger;
    // Unused parameters are zeroed so that equal indicators compare equal and share one instance.
    indicator_spec s{kind, n1, is_macd ? n2 : 0, is_macd ? n3 : 0, is_bb ? k : 0};
    if (auto problem = check(kind, s.n1, s.n2, s.n3, s.k); !problem.empty()) {
        return error{spec_text(kind, s.n1, s.n2, s.n3, s.k) + ": " + problem};
    }
    return s;
}

std::string spec_text(const indicator_spec& s) {
    const std::string name = kind_name(s.kind);
    switch (s.kind) {
        case indicator_kind::macd:
            return name + "(" + std::to_string(s.n1) + "," + std::to_string(s.n2) + "," +
                   std::to_string(s.n3) + ")";
        case indicator_kind::bollinger: {
            char k[32];
            std::snprintf(k, sizeof k, "%g", s.k);
            return name + "(" + std::to_string(s.n1) + "," + k + ")";
        }
        default:
            return name + "(" + std::to_string(s.n1) + ")";
    }
}

result<indicator_spec> parse_spec(std::string_view text) {
    const std::string_view t = trim(text);
    const auto open = t.find('(');
    if (t.empty() || open == std::string_view::npos || t.back() != ')') {
        return error{"bad indicator spec '" + std::string(t) + "': expected name(parameters)"};
    }
    const std::string_view name = trim(t.substr(0, open));
    const kind_info* ki = nullptr;
    for (const auto& i : kinds) {
        if (name == i.name) ki = &i;
    }
    if (ki == nullptr) {
        return error{"unknown indicator '" + std::string(name) + "' in '" + std::string(t) +
                     "' (known: sma, ema, rsi, macd, bollinger, atr, highest, lowest, stddev)"};
    }
    const auto args = split_args(t.substr(open + 1, t.size() - open - 2));
    if (args.size() != ki->params) {
        return error{"'" + std::string(t) + "': " + ki->name + " expects " +
                     std::to_string(ki->params) +
                     (ki->params == 1 ? " parameter (" : " parameters (") + ki->param_list + ")"};
    }
    std::array<std::int32_t, 3> n{};
    double k = 0;
    if (auto problem = read_params(*ki, args, n, k); !problem.empty()) {
        return error{"'" + std::string(t) + "': " + problem};
    }
    return make_spec(ki->kind, n[0], n[1], n[2], k);
}

result<std::vector<indicator_spec>> parse_spec_list(std::string_view text) {
    std::vector<indicator_spec> out;
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        const char ch = i < text.size() ? text[i] : ',';
        if (ch == '(') ++depth;
        if (ch == ')') --depth;
        if (depth < 0 || (i == text.size() && depth != 0)) {
            return error{"unbalanced parentheses in indicator list '" + std::string(text) + "'"};
        }
        if (ch != ',' || depth > 0) continue;
        const std::string_view item = trim(text.substr(start, i - start));
        if (item.empty()) {
            return error{"empty indicator spec at offset " + std::to_string(start) + " in '" +
                         std::string(text) + "'"};
        }
        auto spec = parse_spec(item);
        if (!spec) return error{spec.error_message()};
        out.push_back(spec.value());
        start = i + 1;
    }
    return out;
}

std::vector<std::string> column_names(const indicator_spec& s) {
    const std::string n1 = std::to_string(s.n1);
    switch (s.kind) {
        case indicator_kind::macd: {
            const std::string params = n1 + "_" + std::to_string(s.n2) + "_" + std::to_string(s.n3);
            return {"macd_" + params, "macd_signal_" + params, "macd_hist_" + params};
        }
        case indicator_kind::bollinger: {
            const std::string params = n1 + "_" + format_k(s.k);
            return {"bb_upper_" + params, "bb_middle_" + params, "bb_lower_" + params};
        }
        default:
            return {std::string(kind_name(s.kind)) + "_" + n1};
    }
}

}  // namespace tradingd::indicators
