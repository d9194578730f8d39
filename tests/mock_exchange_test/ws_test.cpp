// The mock exchange's WebSocket side: payload shapes, close semantics, scripting and faults.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "mock_exchange.hpp"
#include "test_client.hpp"

using namespace mock_test;
using tradingd::testing::mock_exchange;
using tradingd::testing::mock_options;
using tradingd::testing::mock_symbol;
using json = nlohmann::json;

namespace {

constexpr auto combined_btc = "/stream?streams=btcusdt@kline_1m/btcusdt@bookTicker";

mock_options fast_options() {
    mock_options o;
    o.symbols = {mock_symbol{"BTCUSDT", "1m", 30000}, mock_symbol{"ETHUSDT", "1m", 2000}};
    o.history_candles = 20;
    o.candle_period = std::chrono::milliseconds(30);
    o.updates_per_candle = 2;
    o.quotes_per_update = 1;
    return o;
}

struct started {
    mock_exchange mock;
    ws_client client;
    explicit started(mock_options o = fast_options(), const char* target = combined_btc)
        : mock(std::move(o)), client((mock.start(), mock.certificates().ca_pem)) {
        const auto ec = client.connect(mock.port(), target);
        REQUIRE_MESSAGE(!ec, ec.message());
        // The server registers the session right after its handshake write; scripts act on
        // registered sessions only.
        REQUIRE(client.wait([&] { return mock.stats().open_ws_sessions == 1; }, 3000ms));
    }
};

double decimal(const json& j) {
    return std::stod(j.get<std::string>());
}

tradingd::candle kline_candle(const json& k) {
    return {k["t"].get<std::int64_t>(),
            k["T"].get<std::int64_t>(),
            decimal(k["o"]),
            decimal(k["h"]),
            decimal(k["l"]),
            decimal(k["c"]),
            decimal(k["v"])};
}

bool same(const tradingd::candle& a, const tradingd::candle& b) {
    return a.open_time == b.open_time && a.close_time == b.close_time && a.open == b.open &&
           a.high == b.high && a.low == b.low && a.close == b.close && a.volume == b.volume;
}

/// The kline objects (`k`) received on a combined stream, in arrival order.
struct kline_log {
    std::vector<json> all;
    std::vector<json> closes;
    void add(const json& message) {
        if (!message.contains("data") || !message["data"].contains("k")) return;
        all.push_back(message["data"]["k"]);
        if (all.back()["x"] == true) closes.push_back(all.back());
    }
};

/// Reads combined messages until `closes` x:true klines arrived.
kline_log collect_closes(ws_client& client, std::size_t closes) {
    kline_log log;
    while (log.closes.size() < closes) {
        const auto m = client.next(3000ms);
        REQUIRE(m.has_value());
        log.add(json::parse(m->text));
    }
    return log;
}

const tradingd::candle* find_closed(const std::vector<tradingd::candle>& closed, std::int64_t t) {
    const auto it = std::find_if(closed.begin(), closed.end(),
                                 [&](const tradingd::candle& c) { return c.open_time == t; });
    return it == closed.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("mock_exchange: combined stream sends subscribed kline and bookTicker payloads") {
    started s;
    std::int64_t last_update_id = 0;
    kline_log log;
    while (log.closes.size() < 4) {
        const auto m = s.client.next();
        REQUIRE(m.has_value());
        const auto msg = json::parse(m->text);
        const auto stream = msg["stream"].get<std::string>();
        REQUIRE((stream == "btcusdt@kline_1m" || stream == "btcusdt@bookTicker"));
        const auto& d = msg["data"];
        CHECK(d["s"] == "BTCUSDT");
        if (stream == "btcusdt@bookTicker") {
            CHECK(d.size() == 6);
            for (const char* key : {"u", "s", "b", "B", "a", "A"})
                CHECK(d.contains(key));
            CHECK(decimal(d["b"]) > 0);
            CHECK(decimal(d["b"]) < decimal(d["a"]));
            CHECK(d["u"].get<std::int64_t>() > last_update_id);
            last_update_id = d["u"].get<std::int64_t>();
            continue;
        }
        CHECK(d["e"] == "kline");
        CHECK(d["E"].is_number_integer());
        const auto& k = d["k"];
        for (const char* key : {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x",
                                "q", "V", "Q", "B"}) {
            CHECK_MESSAGE(k.contains(key), key);
        }
        CHECK(k["i"] == "1m");
        CHECK(k["T"].get<std::int64_t>() == k["t"].get<std::int64_t>() + 59'999);
        CHECK(tradingd::is_valid(kline_candle(k)));
        log.add(msg);
    }
    // Each closed candle exactly once, consecutive, identical to what the exchange recorded.
    const auto closed = s.mock.closed_candles("BTCUSDT");
    for (std::size_t i = 0; i < log.closes.size(); ++i) {
        const auto c = kline_candle(log.closes[i]);
        if (i > 0) CHECK(c.open_time == kline_candle(log.closes[i - 1]).open_time + 60'000);
        const auto* expected = find_closed(closed, c.open_time);
        REQUIRE(expected != nullptr);
        CHECK(same(c, *expected));
    }
    CHECK(s.mock.stats().ws_connections_accepted == 1);
    CHECK(s.mock.stats().open_ws_sessions == 1);
}

TEST_CASE("mock_exchange: raw stream sends bare payloads of its stream only") {
    started s(fast_options(), "/ws/ethusdt@bookTicker");
    for (int i = 0; i < 5; ++i) {
        const auto m = s.client.next();
        REQUIRE(m.has_value());
        const auto d = json::parse(m->text);
        CHECK(!d.contains("stream"));
        CHECK(d["s"] == "ETHUSDT");
        CHECK(d.contains("u"));
    }
}

TEST_CASE("mock_exchange: unknown symbols get no data") {
    started s(fast_options(), "/ws/nopeusdt@kline_1m");
    CHECK(!s.client.next(300ms).has_value());
    CHECK(!s.client.finished);
}

/// Applies `script` while production is paused; returns the open time of the candle forming
/// then, which is the first candle the script affects.
template <class Script>
std::int64_t apply_paused(started& s, Script script) {
    s.mock.pause_production(true);
    s.client.wait([] { return false; }, 20ms);  // a producer step in progress finishes
    const std::int64_t forming = s.mock.closed_candles("BTCUSDT").back().open_time + 60'000;
    script();
    s.mock.pause_production(false);
    return forming;
}

/// Reads until an x:true for a candle opening at or after `t` arrives.
kline_log collect_until_close_of(ws_client& client, std::int64_t t) {
    kline_log log;
    while (log.closes.empty() || log.closes.back()["t"].get<std::int64_t>() < t) {
        const auto m = client.next(3000ms);
        REQUIRE(m.has_value());
        log.add(json::parse(m->text));
    }
    return log;
}

std::vector<std::int64_t> close_times(const kline_log& log) {
    std::vector<std::int64_t> out;
    for (const auto& k : log.closes)
        out.push_back(k["t"].get<std::int64_t>());
    return out;
}

TEST_CASE("mock_exchange: close scripting (duplicate, omit, skip, stale)") {
    started s;
    collect_closes(s.client, 1);  // in the candle flow
    constexpr std::int64_t minute = 60'000;

    SUBCASE("duplicate_next_close sends the next x:true twice") {
        const auto t = apply_paused(s, [&] { s.mock.duplicate_next_close(); });
        const auto times = close_times(collect_until_close_of(s.client, t + 2 * minute));
        CHECK(std::count(times.begin(), times.end(), t) == 2);
        CHECK(std::count(times.begin(), times.end(), t + minute) == 1);
        CHECK(std::count(times.begin(), times.end(), t + 2 * minute) == 1);
    }
    SUBCASE("omit_next_close leaves one candle without x:true, still closed in REST") {
        const auto t = apply_paused(s, [&] { s.mock.omit_next_close(); });
        const auto log = collect_until_close_of(s.client, t + minute);
        const auto times = close_times(log);
        CHECK(std::count(times.begin(), times.end(), t) == 0);
        CHECK(std::count(times.begin(), times.end(), t + minute) == 1);
        // The next candle's updates are what close it for a client.
        CHECK(std::any_of(log.all.begin(), log.all.end(), [&](const json& k) {
            return k["t"].get<std::int64_t>() == t + minute && k["x"] == false;
        }));
        CHECK(find_closed(s.mock.closed_candles("BTCUSDT"), t) != nullptr);
    }
    SUBCASE("skip_candles removes whole candles from the stream, not from REST") {
        const auto t = apply_paused(s, [&] { s.mock.skip_candles(2); });
        const auto log = collect_until_close_of(s.client, t + 3 * minute);
        std::set<std::int64_t> seen;
        for (const auto& k : log.all)
            seen.insert(k["t"].get<std::int64_t>());
        // The forming candle had started, unless the pause fell right on a candle boundary.
        const std::int64_t first_skipped = seen.count(t) ? t + minute : t;
        CHECK(seen.count(first_skipped) == 0);
        CHECK(seen.count(first_skipped + minute) == 0);
        CHECK(seen.count(first_skipped + 2 * minute) == 1);
        const auto closed = s.mock.closed_candles("BTCUSDT");
        CHECK(find_closed(closed, first_skipped) != nullptr);
        CHECK(find_closed(closed, first_skipped + minute) != nullptr);
    }
    SUBCASE("send_stale_candle re-sends the previous closed candle after the next close") {
        const auto t = apply_paused(s, [&] { s.mock.send_stale_candle(); });
        const auto log = collect_until_close_of(s.client, t + minute);
        const auto times = close_times(log);
        const auto at = std::find(times.begin(), times.end(), t);
        REQUIRE(at != times.end());
        REQUIRE(at + 1 != times.end());
        CHECK(*(at + 1) == t - minute);
        const auto closed = s.mock.closed_candles("BTCUSDT");
        const auto* expected = find_closed(closed, t - minute);
        REQUIRE(expected != nullptr);
        CHECK(same(kline_candle(log.closes[static_cast<std::size_t>(at + 1 - times.begin())]),
                   *expected));
    }
}

TEST_CASE("mock_exchange: serverShutdown in the raw and combined shapes") {
    auto options = fast_options();
    started s(options);
    s.mock.pause_production(true);
    s.client.wait([] { return false; }, 100ms);  // let in-flight market data arrive
    s.client.messages.clear();

    s.mock.send_server_shutdown(true);
    auto m = s.client.next();
    REQUIRE(m.has_value());
    auto j = json::parse(m->text);
    CHECK(j.size() == 2);
    CHECK(j["stream"] == "!serverShutdown");
    CHECK(j["data"].size() == 2);
    CHECK(j["data"]["e"] == "serverShutdown");
    CHECK(j["data"]["E"].is_number_integer());

    s.mock.send_server_shutdown(false);
    m = s.client.next();
    REQUIRE(m.has_value());
    j = json::parse(m->text);
    CHECK(j.size() == 2);
    CHECK(j["e"] == "serverShutdown");
    CHECK(j["E"].is_number_integer());
}

TEST_CASE("mock_exchange: server pings get the client's pong payload recorded") {
    started s;
    s.mock.send_ping("abc123");
    s.client.wait([&] { return s.client.pings_seen > 0; }, 3000ms);
    REQUIRE(s.client.pings_seen == 1);
    const bool recorded = s.client.wait(
        [&] {
            const auto p = s.mock.pong_payloads();
            return std::find(p.begin(), p.end(), "abc123") != p.end();
        },
        3000ms);
    CHECK(recorded);
    CHECK(s.mock.stats().pongs_received >= 1);
}

TEST_CASE("mock_exchange: client pings are answered unless answer_pings(false)") {
    started s;
    s.client.ping("p1");
    CHECK(s.client.wait([&] { return !s.client.pongs.empty(); }, 3000ms));
    CHECK(s.client.pongs.at(0) == "p1");
    CHECK(s.mock.stats().pings_received == 1);

    s.mock.answer_pings(false);
    s.client.wait([] { return false; }, 50ms);
    s.client.ping("p2");
    CHECK(!s.client.wait([&] { return s.client.pongs.size() > 1; }, 400ms));
    CHECK(s.mock.stats().pings_received == 1);
    CHECK(!s.client.messages.empty());  // data kept flowing: only the peer's reads stopped

    s.mock.answer_pings(true);
    CHECK(s.client.wait([&] { return s.client.pongs.size() > 1; }, 3000ms));
    CHECK(s.client.pongs.at(1) == "p2");
}

TEST_CASE("mock_exchange: stall_data stops data frames while pings are still answered") {
    started s;
    s.mock.stall_data(true);
    s.client.wait([] { return false; }, 100ms);
    s.client.messages.clear();
    const auto closed_before = s.mock.candles_closed_total();

    s.client.ping("alive");
    CHECK(s.client.wait([&] { return !s.client.pongs.empty(); }, 3000ms));
    s.client.wait([] { return false; }, 300ms);
    CHECK(s.client.messages.empty());
    CHECK(s.mock.candles_closed_total() > closed_before);  // the market kept going
    CHECK(!s.client.finished);

    s.mock.stall_data(false);
    CHECK(s.client.next().has_value());
}

TEST_CASE("mock_exchange: close_abruptly resets the connection without a close frame") {
    started s;
    s.mock.close_abruptly();
    REQUIRE(s.client.wait([&] { return s.client.finished; }, 3000ms));
    CHECK(s.client.read_error != websocket::error::closed);
    CHECK(s.client.close_reason().code == websocket::close_code::none);
    CHECK(s.client.wait([&] { return s.mock.stats().open_ws_sessions == 0; }, 3000ms));
}

TEST_CASE("mock_exchange: close_with_code sends that close code") {
    started s;
    s.mock.close_with_code(1008);
    REQUIRE(s.client.wait([&] { return s.client.finished; }, 3000ms));
    CHECK(s.client.read_error == websocket::error::closed);
    CHECK(s.client.close_reason().code == 1008);
}

TEST_CASE("mock_exchange: refuse_connections closes the next attempts before TLS") {
    mock_exchange mock(fast_options());
    mock.start();
    mock.refuse_connections(2);
    for (int i = 0; i < 2; ++i) {
        ws_client refused(mock.certificates().ca_pem);
        CHECK(refused.connect(mock.port(), combined_btc));
    }
    ws_client accepted(mock.certificates().ca_pem);
    CHECK(!accepted.connect(mock.port(), combined_btc));
    CHECK(mock.stats().tcp_connections_refused == 2);
    CHECK(accepted.wait([&] { return mock.stats().ws_connections_accepted == 1; }, 3000ms));
}

TEST_CASE("mock_exchange: injected text, binary and oversized frames") {
    auto options = fast_options();
    mock_exchange mock(options);
    mock.start();
    ws_client big(mock.certificates().ca_pem);
    ws_client small(mock.certificates().ca_pem, 64 * 1024);
    REQUIRE(!big.connect(mock.port(), "/ws/nopeusdt@bookTicker"));
    REQUIRE(!small.connect(mock.port(), "/ws/nopeusdt@bookTicker"));
    REQUIRE(big.wait([&] { return mock.stats().open_ws_sessions == 2; }, 3000ms));

    mock.send_text("hello");
    mock.send_binary(std::string("\x00\x01\x02", 3));
    mock.send_oversized(200'000);

    auto m = big.next();
    REQUIRE(m.has_value());
    CHECK(m->text == "hello");
    CHECK(!m->binary);
    m = big.next();
    REQUIRE(m.has_value());
    CHECK(m->binary);
    CHECK(m->text == std::string("\x00\x01\x02", 3));
    m = big.next();
    REQUIRE(m.has_value());
    CHECK(m->text.size() == 200'000);
    CHECK(json::parse(m->text)["e"] == "oversized");

    // Beast rejects the frame from its header; what follows (its close, the rest of the frame
    // in flight) decides the exact error, so only the outcome is checked.
    REQUIRE(small.wait([&] { return small.finished; }, 3000ms));
    CHECK(small.read_error);
    REQUIRE(small.messages.size() == 2);
    CHECK(small.messages.back().binary);
}

TEST_CASE("mock_exchange: stop closes every session") {
    started s;
    s.mock.stop();
    CHECK(s.client.wait([&] { return s.client.finished; }, 3000ms));
}
