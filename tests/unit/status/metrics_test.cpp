#include <doctest/doctest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "status_fixture.hpp"

using namespace tradingd::status;
using namespace tradingd::status::testing;

namespace {

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
        ++n;
    return n;
}

struct promtool_result {
    int exit_status = -1;
    std::string output;  ///< stdout and stderr: lint problems and parse errors
};

/// Runs `promtool check metrics` on `text`, as an operator would on a /metrics scrape.
promtool_result promtool_check(const std::string& text) {
    char path[] = "/tmp/tradingd_status_metrics_XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    const std::string cmd = std::string("/usr/bin/promtool check metrics < ") + path + " 2>&1";
    promtool_result r;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
        r.output.append(buf.data(), n);
    const int st = ::pclose(p);
    ::unlink(path);
    r.exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

void check_promtool_accepts(const std::string& text) {
    const promtool_result r = promtool_check(text);
    INFO("promtool output:\n" << r.output << "\nmetrics:\n" << text);
    CHECK(r.exit_status == 0);
    CHECK(r.output.empty());
}

}  // namespace

TEST_CASE("status: metrics carry per-symbol gauges with signed position quantity") {
    const std::string m = render_metrics(fixture_status());
    CHECK(has_line(m, R"(tradingd_build_info{version="0.7.0"} 1)"));
    CHECK(has_line(m, "tradingd_uptime_seconds 3600.5"));
    CHECK(has_line(m, R"(tradingd_position_quantity{symbol="BTCUSDT"} 0.5)"));
    CHECK(has_line(m, R"(tradingd_position_quantity{symbol="ETHUSDT"} -2)"));
    CHECK(has_line(m, "tradingd_positions_open 2"));
    CHECK(has_line(m, R"(tradingd_runner_healthy{symbol="BTCUSDT"} 1)"));
    CHECK(has_line(m, R"(tradingd_runner_healthy{symbol="ETHUSDT"} 0)"));
    CHECK(has_line(m, R"(tradingd_strategy_suspended{symbol="ETHUSDT"} 1)"));
    CHECK(has_line(m, R"(tradingd_runner_wedged{symbol="BTCUSDT"} 0)"));
    CHECK(has_line(m, R"(tradingd_realized_pnl{symbol="ETHUSDT"} -4)"));
    CHECK(has_line(m, R"(tradingd_daily_realized_pnl{symbol="BTCUSDT"} 3.5)"));
    CHECK(has_line(m, R"(tradingd_unrealized_pnl{symbol="BTCUSDT"} 125.5)"));
    CHECK(has_line(m, R"(tradingd_last_price{symbol="BTCUSDT"} 42251)"));
    CHECK(has_line(m, R"(tradingd_market_data_age_seconds{symbol="BTCUSDT"} 1.5)"));
    CHECK(has_line(m, R"(tradingd_lua_memory_bytes{symbol="BTCUSDT"} 65536)"));
    CHECK(has_line(m, "tradingd_halted 0"));
    CHECK(has_line(m, "tradingd_orders_last_minute 2"));
}

TEST_CASE("status: metrics carry per-symbol and global counters") {
    const std::string m = render_metrics(fixture_status());
    CHECK(has_line(m, R"(tradingd_events_total{symbol="BTCUSDT"} 1000)"));
    CHECK(has_line(m, R"(tradingd_events_dropped_total{symbol="BTCUSDT"} 4)"));
    CHECK(has_line(m, R"(tradingd_candles_total{symbol="BTCUSDT"} 60)"));
    CHECK(has_line(m, R"(tradingd_strategy_calls_total{symbol="BTCUSDT"} 1060)"));
    CHECK(has_line(m, R"(tradingd_lua_errors_total{symbol="BTCUSDT"} 5)"));
    CHECK(has_line(m, R"(tradingd_lua_budget_aborts_total{symbol="BTCUSDT"} 1)"));
    CHECK(has_line(m, R"(tradingd_lua_memory_aborts_total{symbol="BTCUSDT"} 2)"));
    CHECK(has_line(m, R"(tradingd_auto_exits_total{symbol="BTCUSDT"} 3)"));
    CHECK(has_line(m, R"(tradingd_trades_total{symbol="BTCUSDT"} 6)"));
    CHECK(has_line(m, R"(tradingd_fees_total{symbol="BTCUSDT"} 1.75)"));
    CHECK(has_line(m, R"(tradingd_script_reloads_total{symbol="BTCUSDT"} 2)"));
    CHECK(has_line(m, R"(tradingd_script_reload_failures_total{symbol="BTCUSDT"} 1)"));
    CHECK(has_line(
        m, R"(tradingd_risk_refusals_total{symbol="BTCUSDT",limit="max_position_notional"} 4)"));
    CHECK(has_line(
        m, R"(tradingd_risk_refusals_total{symbol="BTCUSDT",limit="max_orders_per_minute"} 1)"));
    CHECK(has_line(m, "tradingd_config_reloads_total 3"));
    CHECK(has_line(m, "tradingd_config_reload_failures_total 1"));
}

TEST_CASE("status: metrics describe feed connections and the journal") {
    const std::string m = render_metrics(fixture_status());
    CHECK(has_line(m, R"(tradingd_feed_connected{connection="ws#0"} 1)"));
    CHECK(has_line(m, R"(tradingd_feed_connected{connection="ws#1"} 0)"));
    CHECK(has_line(m, R"(tradingd_feed_message_age_seconds{connection="ws#0"} 0.25)"));
    CHECK(has_line(m, R"(tradingd_feed_message_age_seconds{connection="ws#1"} 30)"));
    CHECK(has_line(m, R"(tradingd_feed_reconnects_total{connection="ws#1"} 3)"));
    CHECK(has_line(m, R"(tradingd_feed_messages_total{connection="ws#0"} 1000)"));
    CHECK(has_line(m, "tradingd_journal_healthy 1"));
    CHECK(has_line(m, "tradingd_journal_lag_records 10"));
    CHECK(has_line(m, "tradingd_journal_last_seq 1500"));
    CHECK(has_line(m, "tradingd_journal_records_total 500"));
}

TEST_CASE("status: metrics leave out ages that do not exist yet") {
    daemon_status s = fixture_status();
    s.runners[1].last_event_wall_ms = 0;
    s.feed.connections[1].last_message_age_ms = -1;
    const std::string m = render_metrics(s);
    CHECK(m.find(R"(tradingd_market_data_age_seconds{symbol="ETHUSDT"})") == std::string::npos);
    CHECK(has_line(m, R"(tradingd_market_data_age_seconds{symbol="BTCUSDT"} 1.5)"));
    CHECK(m.find(R"(tradingd_feed_message_age_seconds{connection="ws#1"})") == std::string::npos);
    check_promtool_accepts(m);
}

TEST_CASE("status: call latency histogram buckets are cumulative with +Inf = count") {
    const std::string m = render_metrics(fixture_status());
    const std::string b = "tradingd_strategy_call_duration_seconds_bucket";
    CHECK(has_line(m, b + R"({symbol="BTCUSDT",le="1e-06"} 2)"));
    CHECK(has_line(m, b + R"({symbol="BTCUSDT",le="2.5e-06"} 5)"));
    CHECK(has_line(m, b + R"({symbol="BTCUSDT",le="5e-06"} 5)"));
    CHECK(has_line(m, b + R"({symbol="BTCUSDT",le="1e-05"} 6)"));
    CHECK(has_line(m, b + R"({symbol="BTCUSDT",le="0.001"} 6)"));
    CHECK(has_line(m, b + R"({symbol="BTCUSDT",le="1"} 6)"));
    CHECK(has_line(m, b + R"({symbol="BTCUSDT",le="+Inf"} 7)"));
    CHECK(has_line(m, R"(tradingd_strategy_call_duration_seconds_sum{symbol="BTCUSDT"} 1.5)"));
    CHECK(has_line(m, R"(tradingd_strategy_call_duration_seconds_count{symbol="BTCUSDT"} 7)"));
    CHECK(has_line(m, b + R"({symbol="ETHUSDT",le="1"} 0)"));
    CHECK(has_line(m, b + R"({symbol="ETHUSDT",le="+Inf"} 0)"));
    CHECK(count_of(m, b + "{") == 2 * (call_latency_bounds_s.size() + 1));
}

TEST_CASE("status: every metric family has one HELP and one TYPE line") {
    const std::string m = render_metrics(fixture_status());
    for (const char* family :
         {"tradingd_position_quantity", "tradingd_events_total", "tradingd_risk_refusals_total",
          "tradingd_feed_connected", "tradingd_strategy_call_duration_seconds",
          "tradingd_journal_lag_records"}) {
        INFO(family);
        CHECK(count_of(m, std::string("# HELP ") + family + " ") == 1);
        CHECK(count_of(m, std::string("# TYPE ") + family + " ") == 1);
    }
    CHECK(has_line(m, "# TYPE tradingd_events_total counter"));
    CHECK(has_line(m, "# TYPE tradingd_strategy_call_duration_seconds histogram"));
    CHECK(has_line(m, "# TYPE tradingd_halted gauge"));
}

TEST_CASE("status: the promtool check used below does reject bad exposition text") {
    const promtool_result r = promtool_check("# TYPE foo counter\nfoo 1\n");
    CHECK(r.exit_status != 0);
    CHECK(r.output.find("_total") != std::string::npos);
}

TEST_CASE("status: promtool accepts the metrics of a busy daemon") {
    check_promtool_accepts(render_metrics(fixture_status()));
}

TEST_CASE("status: metric label values are escaped") {
    daemon_status s = fixture_status();
    s.runners[0].symbol = "BAD\"SYM\\X";
    s.runners[0].risk_refusals = {{"lim\"it\\one\nnext", 1}};
    const std::string m = render_metrics(s);
    CHECK(has_line(m, R"(tradingd_position_quantity{symbol="BAD\"SYM\\X"} 0.5)"));
    CHECK(has_line(
        m, R"(tradingd_risk_refusals_total{symbol="BAD\"SYM\\X",limit="lim\"it\\one\nnext"} 1)"));
    check_promtool_accepts(m);
}

TEST_CASE("status: a risk limit listed twice is one summed sample") {
    daemon_status s = fixture_status();
    s.runners[0].risk_refusals.push_back({"max_position_notional", 2});
    const std::string m = render_metrics(s);
    CHECK(has_line(
        m, R"(tradingd_risk_refusals_total{symbol="BTCUSDT",limit="max_position_notional"} 6)"));
    check_promtool_accepts(m);
}

TEST_CASE("status: promtool accepts the metrics of an empty daemon") {
    daemon_status s;
    s.version = "0.7.0";
    const std::string m = render_metrics(s);
    CHECK(m.find("symbol=") == std::string::npos);
    CHECK(m.find("connection=") == std::string::npos);
    CHECK(has_line(m, "tradingd_positions_open 0"));
    check_promtool_accepts(m);
}

TEST_CASE("status: non-finite values are written as Prometheus floats") {
    daemon_status s = fixture_status();
    s.runners[0].realized_pnl = std::numeric_limits<double>::quiet_NaN();
    s.runners[0].daily_realized_pnl = -std::numeric_limits<double>::infinity();
    s.runners[0].fees = std::numeric_limits<double>::infinity();
    s.uptime_s = std::numeric_limits<double>::quiet_NaN();
    const std::string m = render_metrics(s);
    CHECK(has_line(m, R"(tradingd_realized_pnl{symbol="BTCUSDT"} NaN)"));
    CHECK(has_line(m, R"(tradingd_daily_realized_pnl{symbol="BTCUSDT"} -Inf)"));
    CHECK(has_line(m, R"(tradingd_fees_total{symbol="BTCUSDT"} +Inf)"));
    CHECK(has_line(m, "tradingd_uptime_seconds NaN"));
    check_promtool_accepts(m);
}
