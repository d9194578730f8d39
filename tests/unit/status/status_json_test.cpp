#include <doctest/doctest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "status_fixture.hpp"

using namespace tradingd::status;
using namespace tradingd::status::testing;
using nlohmann::json;

namespace {

json status_doc(const daemon_status& s) {
    return json::parse(render_status_json(s));
}

}  // namespace

TEST_CASE("status: status JSON carries the process, feed, journal and risk sections") {
    const json j = status_doc(fixture_status());
    CHECK(j.at("version") == "0.7.0");
    CHECK(j.at("uptime_s") == 3600.5);
    CHECK(j.at("now") == "2026-01-01T00:00:05.250Z");
    CHECK(j.at("config_reloads") == 3);
    CHECK(j.at("config_reload_failures") == 1);

    const json& feed = j.at("feed");
    CHECK(feed.at("type") == "binance");
    CHECK(feed.at("description") == "binance spot, 2 streams");
    CHECK(feed.at("running") == true);
    REQUIRE(feed.at("connections").size() == 2);
    CHECK(feed.at("connections")[1] == json{{"name", "ws#1"},
                                            {"state", "backoff"},
                                            {"reconnects", 3},
                                            {"last_message_age_ms", 30000},
                                            {"messages", 400},
                                            {"last_error", "connection reset by peer"}});
    CHECK(feed.at("symbols") == json{{"BTCUSDT", "live"}, {"ETHUSDT", "stale"}});

    const json& journal = j.at("journal");
    CHECK(journal.at("healthy") == true);
    CHECK(journal.at("failure") == "");
    CHECK(journal.at("appended") == 500);
    CHECK(journal.at("last_seq") == 1500);
    CHECK(journal.at("synced_seq") == 1490);
    CHECK(journal.at("lag_records") == 10);

    const json& risk = j.at("risk");
    CHECK(risk.at("halted") == false);
    CHECK(risk.at("halt_reason") == "");
    CHECK(risk.at("open_positions") == 2);
    CHECK(risk.at("daily_realized_pnl") == 3.5);
    CHECK(risk.at("orders_last_minute") == 2);
}

TEST_CASE("status: status JSON describes each runner's position, script and counters") {
    const json j = status_doc(fixture_status());
    REQUIRE(j.at("symbols").size() == 2);
    const json& btc = j.at("symbols")[0];
    CHECK(btc.at("symbol") == "BTCUSDT");
    CHECK(btc.at("interval") == "1m");
    CHECK(btc.at("state") == "InPosition");
    CHECK(btc.at("position") == json{{"side", "long"},
                                     {"quantity", 0.5},
                                     {"entry_price", 42000.0},
                                     {"stop_loss", 41000.0},
                                     {"take_profit", 44000.0},
                                     {"unrealized_pnl", 125.5},
                                     {"opened_at", 1767225000000},
                                     {"bars_held", 3}});
    CHECK(btc.at("last_price") == 42251.0);
    CHECK(btc.at("bid") == 42250.0);
    CHECK(btc.at("ask") == 42252.0);
    CHECK(btc.at("last_event_ts") == 1767225604000);
    CHECK(btc.at("last_event_age_ms") == 1500);
    CHECK(btc.at("script") == json{{"name", "sma_cross.lua"},
                                   {"hash", "abc123"},
                                   {"loaded", true},
                                   {"reloads", 2},
                                   {"reload_failures", 1},
                                   {"version_status", "refused"},
                                   {"refused_hash", "def456"},
                                   {"reload_error", "syntax error near 'end'"}});
    CHECK(btc.at("counters") == json{{"events", 1000},
                                     {"events_dropped", 4},
                                     {"candles", 60},
                                     {"strategy_calls", 1060},
                                     {"strategy_errors", 5},
                                     {"budget_aborts", 1},
                                     {"memory_aborts", 2},
                                     {"auto_exits", 3},
                                     {"trades", 6}});
    CHECK(btc.at("lua_memory_bytes") == 65536);
    CHECK(btc.at("call_latency").at("timed_calls") == 7);
    CHECK(btc.at("call_latency").at("mean_us").get<double>() == doctest::Approx(1.5e6 / 7.0));
    CHECK(btc.at("risk_refusals") ==
          json{{"max_position_notional", 4}, {"max_orders_per_minute", 1}});
    CHECK(btc.at("realized_pnl") == 10.25);
    CHECK(btc.at("daily_realized_pnl") == 3.5);
    CHECK(btc.at("fees") == 1.75);
    CHECK(btc.at("suspended") == false);
    CHECK(btc.at("wedged") == false);
    CHECK(btc.at("retiring") == false);

    const json& eth = j.at("symbols")[1];
    CHECK(eth.at("position").at("side") == "short");
    CHECK(eth.at("position").at("stop_loss").is_null());
    CHECK(eth.at("position").at("take_profit").is_null());
    CHECK(eth.at("script").at("version_status") == "ok");
    CHECK(eth.at("suspended") == true);
    CHECK(eth.at("suspension_reason") == "budget exceeded 3 times");
    CHECK(eth.at("last_error") == "rsi.lua:12: instruction budget exceeded");
    CHECK(eth.at("call_latency").at("mean_us").is_null());  // nothing timed yet
    CHECK(eth.at("risk_refusals") == json::object());
}

TEST_CASE("status: status JSON uses null for a flat position and an event not yet seen") {
    daemon_status s = fixture_status();
    s.runners[1].position.reset();
    s.runners[1].last_event_wall_ms = 0;
    const json eth = status_doc(s).at("symbols")[1];
    CHECK(eth.at("position").is_null());
    CHECK(eth.at("last_event_age_ms").is_null());
}

TEST_CASE("status: status JSON sums a risk limit listed twice") {
    daemon_status s = fixture_status();
    s.runners[0].risk_refusals.push_back({"max_position_notional", 2});
    CHECK(status_doc(s).at("symbols")[0].at("risk_refusals").at("max_position_notional") == 6);
}

TEST_CASE("status: status JSON stays valid with an empty snapshot and non-finite numbers") {
    daemon_status s;
    const json empty = status_doc(s);
    CHECK(empty.at("now") == "1970-01-01T00:00:00.000Z");
    CHECK(empty.at("symbols") == json::array());
    CHECK(empty.at("feed").at("connections") == json::array());
    CHECK(empty.at("feed").at("symbols") == json::object());

    s.risk.daily_realized_pnl = std::numeric_limits<double>::quiet_NaN();
    runner_status r;
    r.symbol = "NANUSDT";
    r.realized_pnl = std::numeric_limits<double>::infinity();
    r.last_error = "bad \xc3 utf-8";
    s.runners.push_back(r);
    const json j = status_doc(s);
    CHECK(j.at("risk").at("daily_realized_pnl").is_null());
    CHECK(j.at("symbols")[0].at("realized_pnl").is_null());
}

TEST_CASE("status: status JSON lag never wraps when the synced sequence is ahead") {
    daemon_status s = fixture_status();
    s.journal.synced_seq = s.journal.last_seq + 5;
    CHECK(status_doc(s).at("journal").at("lag_records") == 0);
}
