// read_kline_file: the real Binance files, header rows, microsecond times, and bad rows.

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <tradingd/feed/kline_file.hpp>

namespace fs = std::filesystem;
using tradingd::feed::read_kline_file;

namespace {

/// A file in a per-process temporary folder, removed with the folder at exit of the test.
class temp_file {
public:
    temp_file(const std::string& name, const std::string& content)
        : dir_(fs::temp_directory_path() / ("tradingd-kline-" + std::to_string(::getpid()))),
          path_(dir_ / name) {
        fs::create_directories(dir_);
        std::ofstream(path_, std::ios::binary) << content;
    }
    ~temp_file() {
        std::error_code ec;
        fs::remove(path_, ec);
        fs::remove(dir_, ec);  // fails harmlessly while other files remain
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path dir_;
    fs::path path_;
};

/// The message read_kline_file throws for `content`, or "" when it does not throw.
std::string error_for(const std::string& name, const std::string& content) {
    temp_file f(name, content);
    try {
        (void)read_kline_file(f.path());
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return {};
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

const char* const row1 =
    "1609459200000,28923.63,29031.34,28690.17,28995.13,2311.811445,1609462799999,66768830.34,"
    "58389,1215.359238,35103542.78,0\n";
const char* const row2 =
    "1609462800000,28995.13,29470.00,28960.35,29409.99,5403.068471,1609466399999,158357816.81,"
    "103896,3160.041701,92613991.93,0\n";

}  // namespace

TEST_CASE("kline_file: reads the Binance 1h CSV (no header, ms times)") {
    const auto c = read_kline_file(TRADINGD_SHARED_DIR "/binance-data/BTCUSDT-1h-2021-Q1.csv");
    REQUIRE(c.size() == 2158);
    CHECK(c[0].open_time == 1609459200000);
    CHECK(c[0].close_time == 1609462799999);
    CHECK(c[0].open == 28923.63);
    CHECK(c[0].high == 29031.34);
    CHECK(c[0].low == 28690.17);
    CHECK(c[0].close == 28995.13);
    CHECK(c[0].volume == 2311.811445);
}

TEST_CASE("kline_file: reads the freqtrade JSON 5m file and infers close times") {
    const auto c = read_kline_file(TRADINGD_SHARED_DIR "/binance-data/BTC_USDT-5m.json");
    REQUIRE(c.size() == 65741);
    CHECK(c.front().open_time == 1606780800000);
    CHECK(c.front().close_time == 1606780800000 + 300000 - 1);
    CHECK(c.front().open == 19695.87);
    CHECK(c.front().volume == 794.500517);
    CHECK(c.back().open_time == 1626555900000);
    CHECK(c.back().close_time == 1626555900000 + 300000 - 1);
}

TEST_CASE("kline_file: CSV with a header row and microsecond times") {
    temp_file f("us.csv",
                "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                "taker_buy_volume,taker_buy_quote_volume,ignore\r\n"
                "1735689600000000,93576.00,93610.93,93537.50,93610.93,8.21827,1735689659999999,"
                "768978.1,1000,5.6,522000.5,0\r\n"
                "1735689660000000,93610.93,93652.00,93563.00,93600.00,3.33,1735689719999999,"
                "311712.2,800,1.1,103000.1,0\r\n");
    const auto c = read_kline_file(f.path());
    REQUIRE(c.size() == 2);
    CHECK(c[0].open_time == 1735689600000);
    CHECK(c[0].close_time == 1735689659999);
    CHECK(c[1].open_time == 1735689660000);
    CHECK(c[1].close == 93600.0);
}

TEST_CASE("kline_file: a 6-column CSV gets close times from the row spacing") {
    temp_file f("six.csv",
                "1000000,1,2,1,2,5\n1060000,2,3,2,3,5\n1120000,3,4,3,4,5\n1240000,3,4,3,4,5\n");
    const auto c = read_kline_file(f.path());
    REQUIRE(c.size() == 4);
    CHECK(c[3].close_time == 1240000 + 59999);  // the gap does not change the interval
}

TEST_CASE("kline_file: a bad CSV row is reported as file:line") {
    const std::string good = std::string(row1) + row2;
    auto e = error_for("bad1.csv", good +
                                       "1609466400000,29410,29465,29120,abc,2384,"
                                       "1609469999999,1,1,1,1,0\n");
    CHECK(e.find("bad1.csv:3: bad close 'abc'") != std::string::npos);
    e = error_for("bad2.csv", std::string(row1) + "\n" +
                                  "1609462800000,28995,28900,28960,29409,5403,1609466399999,1,1,"
                                  "1,1,0\n");
    CHECK(e.find("bad2.csv:3: invalid candle") != std::string::npos);  // high < low
    e = error_for("bad3.csv", good + "1609466400000,1,2,3\n");
    CHECK(e.find("bad3.csv:3: expected 12 columns") != std::string::npos);
    e = error_for("bad4.csv", std::string(row2) + row1);
    CHECK(e.find("bad4.csv:2: open time 1609459200000 is not after") != std::string::npos);
    e = error_for("bad5.csv", good +
                                  "1609466400000,29410,29465,29120,29194,-1,1609469999999,1,1,"
                                  "1,1,0\n");
    CHECK(e.find("bad5.csv:3: invalid candle: volume") != std::string::npos);
    e = error_for("bad6.csv", good + "open_time,open,high,low,close,volume\n");
    CHECK(e.find("bad6.csv:3: bad open time 'open_time'") != std::string::npos);
}

TEST_CASE("kline_file: a bad JSON row is reported with its line") {
    auto e = error_for("bad.json",
                       "[\n[1606780800000,19695.87,19720.0,19578.96,19607.03,794.5],\n"
                       "[1606781100000,19607.02,19607.02,19505.9,0,710.9]\n]");
    CHECK(e.find("bad.json:3: invalid candle: prices") != std::string::npos);
    e = error_for("short.json", "[[1606780800000,1,2,1,2,5],\n[1606781100000,1,2]]");
    CHECK(e.find("short.json:2: row 2: expected an array") != std::string::npos);
    e = error_for("str.json", "[[1606780800000,\"1\",2,1,2,5]]");
    CHECK(e.find("str.json:1: row 1: bad open") != std::string::npos);
    e = error_for("broken.json", "[[1606780800000,1,2,1,2,5],\n[1606781100000,1,2,");
    CHECK(starts_with(e, (fs::temp_directory_path() /
                          ("tradingd-kline-" + std::to_string(::getpid())) / "broken.json")
                                 .string() +
                             ":2:"));
}

TEST_CASE("kline_file: missing and empty files are errors") {
    CHECK_THROWS_AS(read_kline_file("/nonexistent/tradingd/klines.csv"), std::runtime_error);
    CHECK(error_for("empty.csv", "").find("empty.csv:1: no candles") != std::string::npos);
    CHECK(error_for("header.csv", "open_time,open,high,low,close,volume\n").find("no candles") !=
          std::string::npos);
    CHECK(error_for("empty.json", "[]").find("no candles") != std::string::npos);
}
