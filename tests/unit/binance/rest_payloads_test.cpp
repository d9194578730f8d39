#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <tradingd/binance/rest_payloads.hpp>

using namespace tradingd;
using namespace tradingd::binance;

namespace {

constexpr std::int64_t k_5m = 300'000;
constexpr std::int64_t k_t0 = 1'609'459'200'000;  // 2021-01-01 00:00 UTC, 5m-aligned

// One klines row as Binance sends it (12 fields), with every field given as raw JSON.
struct row_spec {
    std::string t = std::to_string(k_t0);
    std::string o = R"("29000.00")", h = R"("29100.50")", l = R"("28950.10")", c = R"("29050.00")";
    std::string v = R"("123.456")";
    std::string T = std::to_string(k_t0 + k_5m - 1);

    row_spec shifted(int n) const {
        row_spec r = *this;
        r.t = std::to_string(k_t0 + n * k_5m);
        r.T = std::to_string(k_t0 + (n + 1) * k_5m - 1);
        return r;
    }
    std::string json() const {
        return "[" + t + "," + o + "," + h + "," + l + "," + c + "," + v + "," + T +
               R"(,"3580000.0",1234,"60.0","1790000.0","0"])";
    }
};

std::string body(const std::vector<row_spec>& rows) {
    std::string b = "[";
    for (std::size_t i = 0; i < rows.size(); ++i)
        b += (i ? "," : "") + rows[i].json();
    return b + "]";
}

std::vector<row_spec> three_rows() {
    return {row_spec{}, row_spec{}.shifted(1), row_spec{}.shifted(2)};
}

}  // namespace

TEST_CASE("binance: parse_klines reads a valid body into candles") {
    const auto r = parse_klines(body(three_rows()), k_5m);
    REQUIRE_MESSAGE(r.ok(), r.error_message());
    const auto& c = r.value();
    REQUIRE(c.size() == 3);
    CHECK(c[0].open_time == k_t0);
    CHECK(c[0].close_time == k_t0 + k_5m - 1);
    CHECK(c[0].open == 29000.0);
    CHECK(c[0].high == 29100.5);
    CHECK(c[0].low == 28950.1);
    CHECK(c[0].close == 29050.0);
    CHECK(c[0].volume == 123.456);
    CHECK(c[2].open_time == k_t0 + 2 * k_5m);

    const auto empty = parse_klines("[]", k_5m);
    REQUIRE(empty.ok());
    CHECK(empty.value().empty());
}

TEST_CASE("binance: drop_unclosed removes the still-open last row") {
    auto r = parse_klines(body(three_rows()), k_5m);
    REQUIRE(r.ok());
    auto candles = r.value();
    // "now" inside the third candle: it is still forming.
    drop_unclosed(candles, k_t0 + 2 * k_5m + 1234);
    REQUIRE(candles.size() == 2);
    CHECK(candles.back().open_time == k_t0 + k_5m);
    // Exactly at close_time the candle is not closed yet; one ms later it is.
    drop_unclosed(candles, k_t0 + 2 * k_5m - 1);
    CHECK(candles.size() == 1);
    candles = r.value();
    drop_unclosed(candles, k_t0 + 3 * k_5m);
    CHECK(candles.size() == 3);
}

TEST_CASE("binance: parse_klines rejects every kind of bad row, naming the row and field") {
    struct edit {
        std::string row_spec::*field;
        std::string value;
        std::string expected;  // the whole message
    };
    const std::vector<edit> edits = {
        {&row_spec::o, R"("NaN")", R"(klines[1] open: "NaN" is not a finite decimal)"},
        {&row_spec::h, R"("inf")", R"(klines[1] high: "inf" is not a finite decimal)"},
        {&row_spec::l, R"("1.5abc")", R"(klines[1] low: "1.5abc" is not a finite decimal)"},
        {&row_spec::c, R"("")", R"(klines[1] close: "" is not a finite decimal)"},
        {&row_spec::v, R"("1e400")", R"(klines[1] volume: "1e400" is not a finite decimal)"},
        {&row_spec::o, "29000.0", "klines[1] open: 29000.0 is not a string"},
        {&row_spec::t, R"("1609459500000")",
         R"(klines[1] open time: "1609459500000" is not an integer)"},
        {&row_spec::T, "null", "klines[1] close time: null is not an integer"},
        {&row_spec::o, R"("0")", "klines[1] open: must be > 0"},
        {&row_spec::l, R"("-1")", "klines[1] low: must be > 0"},
        {&row_spec::v, R"("-0.5")", "klines[1] volume: must be >= 0"},
        {&row_spec::l, R"("29060.00")", "klines[1] low: is above open or close"},
        {&row_spec::h, R"("29040.00")", "klines[1] high: is below open or close"},
        {&row_spec::T, std::to_string(k_t0 + 2 * k_5m),
         "klines[1] close time: is not open time + interval - 1"},
    };
    for (const auto& e : edits) {
        auto rows = three_rows();
        rows[1].*(e.field) = e.value;
        const auto r = parse_klines(body(rows), k_5m);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error_message() == e.expected);
    }

    auto misaligned = three_rows();
    misaligned[2].t = std::to_string(k_t0 + 2 * k_5m + 1000);
    misaligned[2].T = std::to_string(k_t0 + 3 * k_5m + 999);
    CHECK(parse_klines(body(misaligned), k_5m).error_message() ==
          "klines[2] open time: is not aligned to the interval");

    auto repeated = three_rows();
    repeated[2] = repeated[1];
    CHECK(parse_klines(body(repeated), k_5m).error_message() ==
          "klines[2] open time: not after the previous row's open time");
    auto backwards = three_rows();
    std::swap(backwards[0], backwards[2]);
    CHECK(parse_klines(body(backwards), k_5m).error_message() ==
          "klines[1] open time: not after the previous row's open time");

    const std::string short_row = "[" + row_spec{}.json() + R"(,[1609459500000,"1","1"]])";
    CHECK(parse_klines(short_row, k_5m).error_message().find("klines[1]: expected an array") == 0);
    CHECK(parse_klines("[" + row_spec{}.json() + R"(,{"t":1}])", k_5m)
              .error_message()
              .find("klines[1]:") == 0);
}

TEST_CASE("binance: parse_klines rejects bodies that are not a klines array") {
    CHECK(parse_klines("", k_5m).error_message() == "klines: body is not JSON");
    CHECK(parse_klines(body(three_rows()).substr(0, 50), k_5m).error_message() ==
          "klines: body is not JSON");
    CHECK(parse_klines(R"({"code":-1121,"msg":"Invalid symbol."})", k_5m)
              .error_message()
              .find("klines: body is not an array") == 0);
    CHECK_FALSE(parse_klines(body(three_rows()), 0).ok());
    // The interval must match the rows: 5m rows read as 1m fail on the close time.
    CHECK(parse_klines(body(three_rows()), 60'000).error_message() ==
          "klines[0] close time: is not open time + interval - 1");
}

TEST_CASE("binance: parse_api_error reads Binance's error body or samples anything else") {
    const auto e = parse_api_error(R"({"code":-1121,"msg":"Invalid symbol."})");
    CHECK(e.code == -1121);
    CHECK(e.msg == "Invalid symbol.");

    const auto html = parse_api_error("<html><body>502 Bad Gateway</body></html>");
    CHECK(html.code == 0);
    CHECK(html.msg == "<html><body>502 Bad Gateway</body></html>");

    const std::string long_body(1000, 'x');
    const auto sampled = parse_api_error(long_body);
    CHECK(sampled.code == 0);
    CHECK(sampled.msg == std::string(200, 'x'));

    CHECK(parse_api_error(R"({"code":"-1121","msg":"x"})").code == 0);  // code must be a number
    CHECK(parse_api_error(R"({"msg":"x"})").code == 0);
    CHECK(parse_api_error("").code == 0);
    CHECK(parse_api_error("").msg.empty());
}
