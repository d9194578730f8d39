#pragma once
// Exact parsing of the decimal strings Binance sends for prices and quantities ("25.35190000").
//
// The whole string must be a plain decimal: optional '-', digits, optional '.' and digits, optional
// exponent. Rejected: empty, leading/trailing garbage ("1.5abc", " 1"), "nan", "inf", values that
// overflow a double ("1e400"). std::from_chars alone is not enough: in GCC 12 it accepts "nan" and
// "inf" and stops silently at the first bad character (RELIABILITY.md §2.4).

#include <optional>
#include <string_view>

namespace tradingd::binance {

/// The value of `text` when all of it is a finite decimal number; nullopt otherwise. Signs are
/// accepted here; callers decide whether negative or zero values are legal for their field.
std::optional<double> parse_decimal(std::string_view text) noexcept;

}  // namespace tradingd::binance
