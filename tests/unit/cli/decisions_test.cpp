#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <tradingd/cli/commands.hpp>
#include <tradingd/engine/decision_log.hpp>

#include "test_support.hpp"

namespace {

using nlohmann::json;
using tradingd::cli::decisions_query;
using tradingd::cli::explain_decision;
using tradingd::cli::parse_time;
using tradingd::cli::print_decisions;
using tradingd::cli::why_query;

constexpr std::int64_t t0 = 1704067200000;  // 2024-01-01T00:00:00Z
constexpr std::int64_t minute = 60'000;

/// The close time of the 1m candle number i.
std::int64_t close_of(std::int64_t i) {
    return t0 + i * minute + minute - 1;
}

std::string rec(std::int64_t ts, const std::string& symbol, const std::string& event,
                const std::string& state, json extra = json::object()) {
    json j = {{"ts", ts},         {"time", "x"},
              {"symbol", symbol}, {"event", event},
              {"state", state},   {"function", ""},
              {"action", ""},     {"reason", ""},
              {"price", 100.0},   {"script_hash", "aaaaaaaaaaaa"}};
    for (auto& [k, v] : extra.items())
        j[k] = v;
    return j.dump() + "\n";
}

/// A call record at candle i with the market data and indicators the script saw.
std::string call(std::int64_t i, const std::string& symbol, const std::string& state,
                 const std::string& function, const std::string& action,
                 const std::string& reason) {
    json market = {{"open_time", t0 + i * minute},
                   {"open", 99.5},
                   {"high", 101.0},
                   {"low", 99.0},
                   {"close", 100.0},
                   {"volume", 12.5},
                   {"bid", 99.99},
                   {"ask", 100.01}};
    json indicators = {
        {"sma(10)", 99.75}, {"macd(12,26,9)", {0.5, 0.25, 0.25}}, {"rsi(14)", nullptr}};
    return rec(close_of(i), symbol, "call", state,
               {{"function", function},
                {"action", action},
                {"reason", reason},
                {"market", market},
                {"indicators", indicators}});
}

std::string transition(std::int64_t ts, const std::string& symbol, const std::string& from,
                       const std::string& to, const std::string& reason) {
    return rec(ts, symbol, "transition", from, {{"to", to}, {"reason", reason}});
}

/// BTCUSDT: open_analysis at candle 2, enter_long at 3 (fill + transition), stop-loss auto-exit
/// during candle 6, exit never called. ETHUSDT: one call at candle 4.
std::string sample_log() {
    return call(2, "BTCUSDT", "Idle", "detect_opportunity", "open_analysis", "fast above slow") +
           transition(close_of(2), "BTCUSDT", "Idle", "Analyzing", "fast above slow") +
           call(3, "BTCUSDT", "Analyzing", "filter_commitment", "enter_long", "cross held") +
           rec(close_of(3), "BTCUSDT", "fill", "InPosition",
               {{"side", "buy"}, {"quantity", 0.01}, {"fee", 0.3}, {"price", 100.5}}) +
           transition(close_of(3), "BTCUSDT", "Analyzing", "InPosition", "cross held") +
           call(4, "ETHUSDT", "Idle", "detect_opportunity", "open_analysis", "oversold") +
           rec(t0 + 6 * minute + 6000, "BTCUSDT", "auto_exit", "InPosition",
               {{"reason", "stop_loss"}, {"price", 98.0}}) +
           rec(t0 + 6 * minute + 6000, "BTCUSDT", "fill", "Idle",
               {{"side", "sell"}, {"quantity", 0.01}, {"pnl", -2.5}, {"reason", "stop_loss"}}) +
           transition(t0 + 6 * minute + 6000, "BTCUSDT", "InPosition", "Idle", "stop_loss") +
           call(9, "BTCUSDT", "Idle", "detect_opportunity", "open_analysis", "again");
}

struct output {
    int code = 0;
    std::string out;
    std::string err;
};

output run_decisions(decisions_query q) {
    std::ostringstream out;
    std::ostringstream err;
    output o;
    o.code = print_decisions(q, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
}

output run_why(const std::filesystem::path& log, const std::string& symbol, std::int64_t at,
               bool as_json = false) {
    why_query q;
    q.log = log;
    q.symbol = symbol;
    q.at = at;
    q.json = as_json;
    std::ostringstream out;
    std::ostringstream err;
    output o;
    o.code = explain_decision(q, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
}

json why_json(const std::filesystem::path& log, const std::string& symbol, std::int64_t at) {
    const auto o = run_why(log, symbol, at, true);
    REQUIRE(o.code == 0);
    return json::parse(o.out);
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
        v.push_back(line);
    return v;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("cli: parse_time accepts ISO-8601 UTC forms and Unix milliseconds") {
    CHECK(parse_time("2024-01-01T03:35:00Z") == 1704080100000);
    CHECK(parse_time("2024-01-01T03:35:00") == 1704080100000);
    CHECK(parse_time("2024-01-01 03:35") == 1704080100000);
    CHECK(parse_time("2024-01-01T03:35:59.999Z") == 1704080159999);
    CHECK(parse_time("2024-01-01") == t0);
    CHECK(parse_time("2024-02-29") == t0 + 59LL * 86'400'000);
    CHECK(parse_time("1704080159999") == 1704080159999);
    CHECK(parse_time(" 2024-01-01 ") == t0);
    CHECK_FALSE(parse_time(""));
    CHECK_FALSE(parse_time("yesterday"));
    CHECK_FALSE(parse_time("2024-13-01"));
    CHECK_FALSE(parse_time("2023-02-29"));
    CHECK_FALSE(parse_time("2024-01-01T25:00"));
    CHECK_FALSE(parse_time("2024-01-01T03"));
    CHECK_FALSE(parse_time("2024-01-01T03:35Zjunk"));
    CHECK_FALSE(parse_time("-5"));
}

TEST_CASE("cli: decisions prints a table of every record") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write("decisions.jsonl", sample_log());
    decisions_query q;
    q.log = log;
    const auto o = run_decisions(q);
    CHECK(o.code == 0);
    CHECK(o.err.empty());
    const auto rows = lines(o.out);
    REQUIRE(rows.size() == 11);  // header + 10 records
    CHECK(contains(rows[0], "TIME"));
    CHECK(contains(rows[0], "REASON"));
    CHECK(contains(rows[1], "2024-01-01T00:02:59.999Z"));
    CHECK(contains(rows[1], "detect_opportunity/open_analysis"));
    CHECK(contains(rows[2], "Idle->Analyzing"));
    CHECK(contains(rows[4], "fill"));
    CHECK(contains(rows[4], "0.01"));
    CHECK(contains(rows[8], "-2.5"));  // the pnl of the exit fill
}

TEST_CASE("cli: decisions filters by symbol, time range and action or event") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write("decisions.jsonl", sample_log());
    decisions_query q;
    q.log = log;
    q.json = true;

    q.symbol = "ETHUSDT";
    auto o = run_decisions(q);
    REQUIRE(lines(o.out).size() == 1);
    CHECK(json::parse(lines(o.out)[0])["symbol"] == "ETHUSDT");

    q.symbol = "BTCUSDT";
    q.action = "fill";  // an event name
    o = run_decisions(q);
    CHECK(lines(o.out).size() == 2);

    q.action = "enter_long";  // an action name
    o = run_decisions(q);
    REQUIRE(lines(o.out).size() == 1);
    CHECK(json::parse(lines(o.out)[0])["ts"] == close_of(3));

    q.action.reset();
    q.since = close_of(3);             // inclusive
    q.until = t0 + 6 * minute + 6000;  // inclusive
    o = run_decisions(q);
    CHECK(lines(o.out).size() == 6);
    for (const auto& line : lines(o.out)) {
        const auto ts = json::parse(line)["ts"].get<std::int64_t>();
        CHECK(ts >= close_of(3));
        CHECK(ts <= t0 + 6 * minute + 6000);
    }
}

TEST_CASE("cli: decisions --json prints the lines exactly as written") {
    tradingd::testing::temp_dir dir;
    const auto content = sample_log();
    const auto log = dir.write("decisions.jsonl", content);
    decisions_query q;
    q.log = log;
    q.json = true;
    CHECK(run_decisions(q).out == content);
}

TEST_CASE("cli: decisions reports malformed lines with file:line and skips them") {
    tradingd::testing::temp_dir dir;
    const auto log =
        dir.write("decisions.jsonl", rec(close_of(1), "BTCUSDT", "call", "Idle") + "{not json\n" +
                                         "[1,2]\n" + "{\"ts\":\"soon\",\"symbol\":\"X\"}\n" +
                                         rec(close_of(2), "BTCUSDT", "call", "Idle") +
                                         "{\"ts\":1,\"symb");  // torn last line
    decisions_query q;
    q.log = log;
    q.json = true;
    const auto o = run_decisions(q);
    CHECK(o.code == 0);
    CHECK(lines(o.out).size() == 2);
    CHECK(contains(o.err, log.string() + ":2: not valid JSON"));
    CHECK(contains(o.err, log.string() + ":3: not a JSON object"));
    CHECK(contains(o.err, log.string() + ":4: no integer \"ts\""));
    CHECK(contains(o.err, log.string() + ":6: not valid JSON"));
    CHECK(contains(o.err, "4 malformed line(s) skipped"));
}

TEST_CASE("cli: decisions fails when there is no log") {
    tradingd::testing::temp_dir dir;
    decisions_query q;
    q.log = dir.path() / "decisions.jsonl";
    const auto o = run_decisions(q);
    CHECK(o.code == 1);
    CHECK(contains(o.err, "no decision log"));
    CHECK(run_why(q.log, "BTCUSDT", t0).code == 1);
}

TEST_CASE("cli: decisions reads rotated files first, oldest first, then the current file") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    {
        tradingd::engine::decision_log_file log(
            path, tradingd::engine::decision_log_rotation{400, std::chrono::seconds(0)});
        for (std::int64_t i = 0; i < 12; ++i) {
            tradingd::engine::decision_record r;
            r.ts = close_of(i);
            r.symbol = "BTCUSDT";
            r.event = "call";
            r.state = "Idle";
            r.function = "detect_opportunity";
            r.action = "open_analysis";
            r.reason = "reason";
            r.price = static_cast<double>(i);
            log.write(r);
        }
        REQUIRE(log.rotations() >= 3);
    }
    decisions_query q;
    q.log = path;
    q.json = true;
    const auto o = run_decisions(q);
    CHECK(o.err.empty());
    const auto out = lines(o.out);
    REQUIRE(out.size() == 12);
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(json::parse(out[i])["ts"] == close_of(static_cast<std::int64_t>(i)));
    }
}

TEST_CASE("cli: why explains a call: state, function, result, market, indicators, script") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write("decisions.jsonl", sample_log());
    const auto r = why_json(log, "BTCUSDT", t0 + 3 * minute + 30'000);  // inside candle 3
    CHECK(r["coverage"] == "within");
    CHECK(r["candle"]["open_time"] == t0 + 3 * minute);
    CHECK(r["candle"]["close_time"] == close_of(3));
    CHECK(r["candle"]["interval_ms"] == minute);
    CHECK(r["state"] == "Analyzing");
    CHECK(r["function"] == "filter_commitment");
    CHECK(r["result"] == "action");
    CHECK(r["returned"]["action"] == "enter_long");
    CHECK(r["returned"]["reason"] == "cross held");
    CHECK(r["market"]["close"] == 100.0);
    CHECK(r["indicators"]["sma(10)"] == 99.75);
    CHECK(r["script_hash"] == "aaaaaaaaaaaa");
    REQUIRE(r["followed"].size() == 2);
    CHECK(r["followed"][0]["event"] == "fill");
    CHECK(r["followed"][1]["to"] == "InPosition");

    const auto text = run_why(log, "BTCUSDT", t0 + 3 * minute + 30'000).out;
    CHECK(contains(text, "state:       Analyzing"));
    CHECK(contains(text, "function:    filter_commitment"));
    CHECK(contains(text, "returned:    enter_long"));
    CHECK(contains(text, "close 100"));
    CHECK(contains(text, "sma(10) = 99.75"));
    CHECK(contains(text, "macd(12,26,9) = [0.5, 0.25, 0.25]"));
    CHECK(contains(text, "rsi(14) = not ready"));
    CHECK(contains(text, "script:      aaaaaaaaaaaa"));
    CHECK(contains(text, "fill buy 0.01 @ 100.5"));
}

TEST_CASE("cli: why infers a nil return from a missing record") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write("decisions.jsonl", sample_log());
    // Candle 5: in position since candle 3, nothing logged.
    auto r = why_json(log, "BTCUSDT", t0 + 5 * minute);
    CHECK(r["state"] == "InPosition");
    CHECK(r["function"] == "manage_position");
    CHECK(r["result"] == "nil");
    CHECK(r["script_hash"] == "aaaaaaaaaaaa");
    // Candle 7: idle after the stop-loss.
    r = why_json(log, "BTCUSDT", close_of(7));
    CHECK(r["state"] == "Idle");
    CHECK(r["result"] == "nil");
    const auto text = run_why(log, "BTCUSDT", close_of(7)).out;
    CHECK(contains(text, "in Idle; detect_opportunity returned nil"));
    CHECK(contains(text, "returned:    nil (no record)"));
}

TEST_CASE("cli: why shows an auto-exit during the candle before the call") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write("decisions.jsonl", sample_log());
    const auto r = why_json(log, "BTCUSDT", t0 + 6 * minute + 6000);
    CHECK(r["state"] == "Idle");  // the call at the close came after the auto-exit
    CHECK(r["result"] == "nil");
    REQUIRE(r["before_call"].size() == 3);
    CHECK(r["before_call"][0]["event"] == "auto_exit");
    CHECK(r["before_call"][1]["pnl"] == -2.5);
}

TEST_CASE("cli: why says when the time is outside the log") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write("decisions.jsonl", sample_log());
    auto r = why_json(log, "BTCUSDT", t0);
    CHECK(r["coverage"] == "before_first");
    CHECK(r["result"] == "unknown");
    CHECK(contains(r["explanation"].get<std::string>(), "before the first record"));
    r = why_json(log, "BTCUSDT", close_of(30));
    CHECK(r["coverage"] == "after_last");
    CHECK(r["result"] == "unknown");
    CHECK(contains(r["explanation"].get<std::string>(), "after the last record"));
    const auto o = run_why(log, "XRPUSDT", close_of(3));
    CHECK(o.code == 1);
    CHECK(contains(o.err, "no records for XRPUSDT"));
}

TEST_CASE("cli: why explains that a suspended runner called nothing, until a reload") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write(
        "decisions.jsonl",
        call(1, "BTCUSDT", "Idle", "detect_opportunity", "open_analysis", "x") +
            transition(close_of(1), "BTCUSDT", "Idle", "Analyzing", "x") +
            rec(close_of(2), "BTCUSDT", "error", "Analyzing",
                {{"function", "filter_commitment"}, {"message", "attempt to index a nil value"}}) +
            rec(close_of(2), "BTCUSDT", "suspended", "Analyzing",
                {{"reason", "1 consecutive strategy failures"}}) +
            rec(t0 + 5 * minute + 10, "BTCUSDT", "reloaded", "Analyzing",
                {{"script_hash", "bbbbbbbbbbbb"}, {"previous_hash", "aaaaaaaaaaaa"}}) +
            call(8, "BTCUSDT", "Analyzing", "filter_commitment", "cancel_analysis", "y"));
    auto r = why_json(log, "BTCUSDT", close_of(2));
    CHECK(r["result"] == "error");
    CHECK(r["returned"]["message"] == "attempt to index a nil value");
    CHECK(r["followed"][0]["event"] == "suspended");

    r = why_json(log, "BTCUSDT", close_of(3));
    CHECK(r["result"] == "not_called");
    CHECK(contains(r["explanation"].get<std::string>(), "suspended"));

    r = why_json(log, "BTCUSDT", close_of(6));  // after the reload
    CHECK(r["result"] == "nil");
    CHECK(r["function"] == "filter_commitment");
    CHECK(r["script_hash"] == "bbbbbbbbbbbb");
}

TEST_CASE("cli: why explains a retired symbol and a script that failed to load") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write(
        "decisions.jsonl",
        rec(0, "SOLUSDT", "load_error", "Idle", {{"message", "syntax error near 'end'"}}) +
            rec(close_of(1), "BTCUSDT", "call", "Idle") +
            rec(close_of(3), "BTCUSDT", "retired", "Idle", {{"reason", "removed"}}) +
            rec(close_of(9), "SOLUSDT", "reloaded", "Idle") +
            rec(close_of(9), "BTCUSDT", "reinstated", "Idle"));
    auto r = why_json(log, "BTCUSDT", close_of(5));
    CHECK(r["result"] == "not_called");
    CHECK(contains(r["explanation"].get<std::string>(), "removed from the configuration"));
    CHECK(why_json(log, "BTCUSDT", close_of(9))["result"] == "not_called");  // same ts: after
    r = why_json(log, "SOLUSDT", close_of(4));
    CHECK(r["result"] == "not_called");
    CHECK(contains(r["explanation"].get<std::string>(), "syntax error near 'end'"));
}

TEST_CASE("cli: why without market data says the candle boundaries are unknown") {
    tradingd::testing::temp_dir dir;
    const auto log = dir.write("decisions.jsonl", rec(close_of(1), "BTCUSDT", "call", "Idle") +
                                                      rec(close_of(5), "BTCUSDT", "call", "Idle"));
    const auto r = why_json(log, "BTCUSDT", close_of(3));
    CHECK(r["candle"].is_null());
    CHECK(contains(r["notes"][0].get<std::string>(), "candle boundaries cannot be told"));
}

TEST_CASE("cli: why explains the latest run when a replayed feed restarted the times") {
    tradingd::testing::temp_dir dir;
    const auto first =
        call(2, "BTCUSDT", "Idle", "detect_opportunity", "open_analysis", "first run");
    const auto second =
        call(2, "BTCUSDT", "Idle", "detect_opportunity", "open_analysis", "second run");
    const auto log = dir.write(
        "decisions.jsonl",
        first +
            call(5, "BTCUSDT", "Idle", "detect_opportunity", "open_analysis", "first run later") +
            second);
    const auto r = why_json(log, "BTCUSDT", close_of(2));
    CHECK(r["returned"]["reason"] == "second run");
    REQUIRE(r["notes"].size() == 1);
    CHECK(contains(r["notes"][0].get<std::string>(), "2 runs"));
}
