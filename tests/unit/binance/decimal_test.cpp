#include <doctest/doctest.h>

#include <string>

#include <tradingd/binance/decimal.hpp>

using tradingd::binance::parse_decimal;

TEST_CASE("binance: parse_decimal reads the decimals Binance sends exactly") {
    CHECK(parse_decimal("25.35190000") == doctest::Approx(25.3519));
    CHECK(*parse_decimal("0.00007477") == 0.00007477);
    CHECK(*parse_decimal("208601.00000000") == 208601.0);
    CHECK(*parse_decimal("0") == 0.0);
    CHECK(*parse_decimal("0.00000000") == 0.0);
    CHECK(*parse_decimal("-1") == -1.0);  // sign accepted here; callers reject it for prices
    CHECK(*parse_decimal("1e3") == 1000.0);
    CHECK(*parse_decimal("1.5E-2") == 0.015);
    CHECK(*parse_decimal("2e+2") == 200.0);
}

TEST_CASE("binance: parse_decimal accepts 20-digit integers as finite doubles") {
    const auto v = parse_decimal("12345678901234567890");
    REQUIRE(v);
    CHECK(*v == doctest::Approx(1.2345678901234567e19));
    CHECK(parse_decimal("99999999999999999999"));
}

TEST_CASE("binance: parse_decimal rejects anything but a whole finite plain decimal") {
    for (const char* bad : {"",       "NaN",  "nan", "inf", "-inf", "Infinity", "1e400", "-1e400",
                            "1.5abc", " 1",   "1 ",  "1.",  ".5",   "+1",       "-",     "1e",
                            "1e+",    "0x10", "1,5", "--1", "1..2", "1.2.3",    "e5",    "\"1\""}) {
        INFO("input: \"" << bad << "\"");
        CHECK_FALSE(parse_decimal(bad));
    }
    // A 400-digit integer overflows a double like 1e400 does.
    CHECK_FALSE(parse_decimal(std::string(400, '9')));
    // from_chars would stop at the NUL and report success on the prefix.
    CHECK_FALSE(
        parse_decimal(std::string_view("1\0"
                                       "5",
                                       3)));
}
