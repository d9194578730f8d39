#include <charconv>
#include <cmath>
#include <system_error>

#include <tradingd/binance/decimal.hpp>

namespace tradingd::binance {

namespace {

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

// Advances `i` over a run of digits; true when at least one digit was consumed.
bool skip_digits(std::string_view s, std::size_t& i) noexcept {
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i]))
        ++i;
    return i > start;
}

// The grammar check from_chars does not do: it accepts "nan"/"inf" and stops quietly at the first
// character it cannot use, so the whole text is matched here first.
// -?digits(.digits)?([eE][+-]?digits)?
bool is_plain_decimal(std::string_view s) noexcept {
    std::size_t i = 0;
    if (i < s.size() && s[i] == '-') ++i;
    if (!skip_digits(s, i)) return false;
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (!skip_digits(s, i)) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (!skip_digits(s, i)) return false;
    }
    return i == s.size();
}

}  // namespace

std::optional<double> parse_decimal(std::string_view text) noexcept {
    if (!is_plain_decimal(text)) return std::nullopt;
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    // ERANGE covers overflow ("1e400") and underflow ("1e-400"): neither is a price Binance sends.
    if (ec != std::errc{} || ptr != end || !std::isfinite(value)) return std::nullopt;
    return value;
}

}  // namespace tradingd::binance
