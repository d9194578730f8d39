#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "status_fixture.hpp"

using namespace tradingd::status;
using namespace tradingd::status::testing;

namespace {

std::vector<std::string> problems_of(const daemon_status& s, const health_thresholds& t = {}) {
    const health h = evaluate_health(s, t);
    CHECK(h.ok == h.problems.empty());
    return h.problems;
}

}  // namespace

TEST_CASE("status: health names the suspended runner and the connection in backoff") {
    const health h = evaluate_health(fixture_status(), health_thresholds{});
    CHECK_FALSE(h.ok);
    CHECK(h.problems ==
          std::vector<std::string>{"ETHUSDT: strategy suspended: budget exceeded 3 times",
                                   "feed ws#1: backoff (last error: connection reset by peer)"});
}

TEST_CASE("status: a clean snapshot is healthy, and halting does not change that") {
    daemon_status s = healthy_status();
    CHECK(evaluate_health(s, {}).ok);
    s.risk.halted = true;
    s.risk.halt_reason = "SIGUSR1 at 2026-01-01T00:00:00Z";
    const health h = evaluate_health(s, {});
    CHECK(h.ok);
    CHECK(h.problems.empty());
}

TEST_CASE("status: wedged, scriptless and unhealthy-journal problems are one line each") {
    daemon_status s = healthy_status();
    s.runners[0].wedged = true;
    s.runners[1].script_loaded = false;
    s.runners[1].suspended = true;  // no reason given: the line ends at "suspended"
    s.journal.healthy = false;
    s.journal.failure = "fsync failed: Input/output error";
    CHECK(problems_of(s) == std::vector<std::string>{"BTCUSDT: wedged (stuck in one event)",
                                                     "ETHUSDT: strategy suspended",
                                                     "ETHUSDT: no script loaded",
                                                     "journal: fsync failed: Input/output error"});
    s.journal.failure.clear();
    CHECK(problems_of(s).back() == "journal: unhealthy");
}

TEST_CASE("status: a runner is stale only when its last event is older than the limit") {
    daemon_status s = healthy_status();
    health_thresholds t;
    t.max_event_age_ms = 120'000;
    s.runners[0].last_event_wall_ms = s.now_wall_ms - 120'000;
    CHECK(problems_of(s, t).empty());
    s.runners[0].last_event_wall_ms = s.now_wall_ms - 120'001;
    CHECK(problems_of(s, t) ==
          std::vector<std::string>{"BTCUSDT: stale: last event 120.001 s ago (limit 120 s)"});
    s.runners[0].last_event_wall_ms = s.now_wall_ms - 130'000;
    CHECK(problems_of(s, t) ==
          std::vector<std::string>{"BTCUSDT: stale: last event 130 s ago (limit 120 s)"});
    t.max_event_age_ms = 0;  // not checked
    CHECK(problems_of(s, t).empty());
}

TEST_CASE("status: a runner without any event is stale only once uptime exceeds the limit") {
    daemon_status s = healthy_status();
    s.runners[1].last_event_wall_ms = 0;
    s.uptime_s = 120.0;
    CHECK(problems_of(s).empty());
    s.uptime_s = 121.0;
    CHECK(problems_of(s) ==
          std::vector<std::string>{"ETHUSDT: stale: no event in 121 s since start (limit 120 s)"});
}

TEST_CASE("status: a retiring runner is exempt from staleness only while flat") {
    daemon_status s = healthy_status();
    s.runners[1].retiring = true;
    s.runners[1].last_event_wall_ms = s.now_wall_ms - 500'000;
    CHECK_FALSE(problems_of(s).empty());  // still holds its short position: must be watched
    CHECK(problems_of(s).front() == "ETHUSDT: stale: last event 500 s ago (limit 120 s)");
    s.runners[1].position.reset();
    CHECK(problems_of(s).empty());
}

TEST_CASE("status: feed connections must be open and receiving") {
    daemon_status s = healthy_status();
    health_thresholds t;
    s.feed.connections[0].last_message_age_ms = 60'000;
    CHECK(problems_of(s, t).empty());
    s.feed.connections[0].last_message_age_ms = 75'000;
    CHECK(problems_of(s, t) ==
          std::vector<std::string>{"feed ws#0: no message for 75 s (limit 60 s)"});
    t.max_message_age_ms = 0;
    CHECK(problems_of(s, t).empty());

    s.feed.connections[0].last_message_age_ms = 10;
    s.feed.connections[1].state = "connecting";
    s.feed.connections[1].last_error.clear();  // no error: no "(last error: )" suffix
    CHECK(problems_of(s) == std::vector<std::string>{"feed ws#1: connecting"});
}

TEST_CASE("status: a connection that never received a message is stale after the limit") {
    daemon_status s = healthy_status();
    s.feed.connections[0].last_message_age_ms = -1;
    s.uptime_s = 59.0;
    CHECK(problems_of(s).empty());
    s.uptime_s = 61.0;
    CHECK(problems_of(s) == std::vector<std::string>{"feed ws#0: no message yet (limit 60 s)"});
}

TEST_CASE("status: a stopped feed is reported once, not once per connection") {
    daemon_status s = fixture_status();
    s.runners[1].suspended = false;
    s.feed.running = false;
    CHECK(problems_of(s) == std::vector<std::string>{"feed: not running"});
}

TEST_CASE("status: health JSON is {status: ok} or lists the problems") {
    CHECK(render_health_json(health{}) == R"({"status":"ok"})");

    const health h = evaluate_health(fixture_status(), {});
    const auto j = nlohmann::json::parse(render_health_json(h));
    CHECK(j.at("status") == "unhealthy");
    REQUIRE(j.at("problems").is_array());
    CHECK(j.at("problems").get<std::vector<std::string>>() == h.problems);
}

TEST_CASE("status: health JSON survives invalid UTF-8 in an error message") {
    health h;
    h.ok = false;
    h.problems = {"journal: bad \xff byte"};
    const auto j = nlohmann::json::parse(render_health_json(h));
    CHECK(j.at("problems").size() == 1);
}
