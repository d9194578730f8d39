#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include <tradingd/backtest/command.hpp>

#include "test_support.hpp"

using namespace tradingd;

namespace {

constexpr timestamp_ms jan_1_2021 = 1609459200000;
constexpr timestamp_ms day = 86'400'000;

struct fixture {
    testing::temp_dir dir;
    backtest::command_options o;
    std::ostringstream out;
    std::ostringstream err;

    explicit fixture(const std::string& interval = "5m") {
        std::filesystem::copy_file(TRADINGD_SOURCE_DIR "/lua-strategies/sma_cross.lua",
                                   dir.path() / "sma_cross.lua");
        o.config = dir.write("backtest.toml", R"([daemon]
state_dir = "state"
strategies_dir = "."

[feed]
type = "sim"

[paper]
fee_bps = 10
slippage_bps = 1
starting_cash = 10000

[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
interval = ")" + interval + R"("
quantity = 0.01
[symbols.params]
fast = 10
slow = 30
)");
        o.data = TRADINGD_SHARED_DIR "/binance-data/BTC_USDT-5m.json";
        o.out = dir.path() / "out";
        o.progress = false;
    }
    int run() { return backtest::run_command(o, out, err); }
};

std::size_t data_lines(const std::filesystem::path& csv) {
    std::ifstream in(csv);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line))
        n += !line.empty();
    return n - 1;  // the header
}

}  // namespace

TEST_CASE("backtest: the command writes all five files, consistent with each other") {
    fixture f;
    f.o.from = jan_1_2021;
    f.o.to = jan_1_2021 + 20 * day;
    const int code = f.run();
    INFO(f.err.str());
    REQUIRE(code == 0);
    for (const char* name :
         {"summary.json", "trades.csv", "equity.csv", "decisions.jsonl", "report.html"}) {
        CHECK(std::filesystem::file_size(f.o.out / name) > 0);
    }
    const auto s = nlohmann::json::parse(testing::read_file(f.o.out / "summary.json"));
    CHECK(s["symbol"] == "BTCUSDT");
    CHECK(s["interval"] == "5m");
    CHECK(s["candles"] == 20 * 288);
    CHECK(s["trades"].get<std::size_t>() > 0);
    CHECK(data_lines(f.o.out / "trades.csv") == s["trades"].get<std::size_t>());
    CHECK(data_lines(f.o.out / "equity.csv") == s["candles"].get<std::size_t>());
    CHECK(s["inputs"]["config"] == f.o.config.string());
    CHECK(s["inputs"]["data"] == f.o.data.string());
    CHECK(s["data_report"]["candles"].get<std::size_t>() ==
          20 * 288 - s["data_report"]["missing_candles"].get<std::size_t>());
    CHECK(s.contains("profit_factor"));
    CHECK(s["final_equity"].get<double>() == doctest::Approx(10'000 + s["net_pnl"].get<double>()));

    std::ifstream decisions(f.o.out / "decisions.jsonl");
    std::string line;
    std::size_t fills = 0;
    while (std::getline(decisions, line)) {
        const auto j = nlohmann::json::parse(line);  // every line is JSON
        fills += j["event"] == "fill";
    }
    CHECK(fills >= 2 * s["trades"].get<std::size_t>());

    const std::string html = testing::read_file(f.o.out / "report.html");
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("<polyline") != std::string::npos);
    CHECK(html.find("m-long") != std::string::npos);  // entry markers
    CHECK(html.find("src=\"http") == std::string::npos);
    CHECK(html.find("href=\"http") == std::string::npos);
    CHECK(html.find("http") == std::string::npos);  // nothing external at all
    CHECK(html.find("<script") == std::string::npos);
    CHECK(f.out.str().find("backtest BTCUSDT 5m sma_cross") != std::string::npos);
}

TEST_CASE("backtest: the command reports the data's gaps and aggregates with --interval") {
    fixture f("1h");
    f.o.interval = "1h";
    REQUIRE(f.run() == 0);
    const auto s = nlohmann::json::parse(testing::read_file(f.o.out / "summary.json"));
    CHECK(s["interval"] == "1h");
    CHECK(s["inputs"]["data_interval"] == "5m");
    CHECK(s["data_report"]["gap_count"] == 6);
    CHECK(s["data_report"]["missing_candles"] == 177);
    CHECK(s["data_report"]["flat_zero_volume"] == 28);
    CHECK(s["data_report"]["gaps"].size() == 6);
    CHECK(s["inputs"]["incomplete_buckets"].get<int>() > 0);
    CHECK(f.err.str().find("6 gaps, 177 missing 5m candles") != std::string::npos);
    CHECK(f.err.str().find("28 flat zero-volume") != std::string::npos);
    // The SVG stays bounded however long the series: at most 2000 points per polyline.
    const std::string html = testing::read_file(f.o.out / "report.html");
    CHECK(html.size() < 2'000'000);
}

TEST_CASE("backtest: the command's usage and runtime errors") {
    SUBCASE("unknown symbol is a usage error") {
        fixture f;
        f.o.symbol = "ETHUSDT";
        CHECK(f.run() == 2);
        CHECK(f.err.str().find("ETHUSDT") != std::string::npos);
    }
    SUBCASE("a config interval that is not the data's needs --interval") {
        fixture f("1m");
        CHECK(f.run() == 2);
        CHECK(f.err.str().find("--interval") != std::string::npos);
    }
    SUBCASE("an interval that is not a multiple of the data's") {
        fixture f;
        f.o.interval = "3m";
        CHECK(f.run() == 2);
    }
    SUBCASE("an empty time range") {
        fixture f;
        f.o.from = 1;
        f.o.to = 2;
        CHECK(f.run() == 2);
    }
    SUBCASE("a missing data file is a runtime error naming it") {
        fixture f;
        f.o.data = f.dir.path() / "nope.csv";
        CHECK(f.run() == 1);
        CHECK(f.err.str().find("nope.csv") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(f.o.out / "summary.json"));
    }
}
