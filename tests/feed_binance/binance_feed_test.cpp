// binance_feed against the mock exchange: the M rows of RELIABILITY.md §5.2 that concern the
// feed, each asserting that closed candles reach the runner exactly once and in order.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "feed_rig.hpp"

using namespace tradingd;
using namespace tradingd::testing;
using namespace std::chrono_literals;

namespace {
std::string book_ticker(const std::string& symbol, std::uint64_t u, const char* bid,
                        const char* ask) {
    return R"({"stream":")" + std::string("btcusdt@bookTicker") + R"(","data":{"u":)" +
           std::to_string(u) + R"(,"s":")" + symbol + R"(","b":")" + bid +
           R"(","B":"1.00000000","a":")" + ask + R"(","A":"1.00000000"}})";
}
}  // namespace

TEST_CASE("binance_feed: warm-up over REST, then live candles exactly once with quotes") {
    feed_rig rig(fast_market({"BTCUSDT", "ETHUSDT"}));
    rig.start();
    rig.expect_exactly_once(0, 10);
    rig.expect_exactly_once(1, 10);
    const auto warm = rig.sinks[0]->closed(true).size() - rig.sinks[0]->closed(false).size();
    CHECK(warm == 20);  // warmup_candles, delivered flagged warm-up
    CHECK(rig.sinks[0]->count(event_kind::quote) > 0);
    CHECK(rig.sinks[0]->count(event_kind::candle_update) > 0);
    const auto st = rig.feed->stats();
    REQUIRE(st.connections.size() == 1);  // one combined stream for both symbols
    CHECK(st.connections[0].state == "open");
    CHECK(st.connections[0].reconnects == 0);
    CHECK(st.symbols[0].state == "live");
}

TEST_CASE(
    "binance_feed: duplicate, missing and stale closes never reach the runner twice "
    "(M05, M06)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.mock.duplicate_next_close();
    std::this_thread::sleep_for(200ms);
    rig.mock.omit_next_close();
    std::this_thread::sleep_for(200ms);
    rig.mock.send_stale_candle();
    // The candle whose x:true never came was closed by the next candle's first message, with
    // the values of its last update (the issue's rule): one candle may differ in value.
    rig.expect_exactly_once(0, 12, 1);
    CHECK(rig.feed->stats().symbols[0].duplicates + rig.feed->stats().symbols[0].stale_dropped >=
          1);
}

TEST_CASE("binance_feed: a gap in the stream is repaired over REST before live resumes (M07)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.mock.skip_candles(4);
    rig.expect_exactly_once(0, 15);
    CHECK(rig.feed->stats().symbols[0].gaps >= 1);
    CHECK(rig.feed->stats().symbols[0].backfilled >= 4);
}

TEST_CASE("binance_feed: a stalled connection that still answers pings is replaced (M09)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    const auto accepted = rig.mock.stats().ws_connections_accepted;
    rig.mock.stall_data(true);
    REQUIRE(wait_until([&] { return rig.mock.stats().ws_connections_accepted > accepted; }, 6s));
    rig.mock.stall_data(false);
    rig.expect_exactly_once(0, 12);
    CHECK(rig.conn().reconnects >= 1);
}

TEST_CASE("binance_feed: abrupt resets and close frames reconnect without loss (M11)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.mock.close_abruptly();
    REQUIRE(
        wait_until([&] { return rig.conn().reconnects >= 1 && rig.conn().state == "open"; }, 8s));
    rig.mock.close_with_code(1008);
    REQUIRE(
        wait_until([&] { return rig.conn().reconnects >= 2 && rig.conn().state == "open"; }, 8s));
    rig.mock.close_with_code(1001);
    REQUIRE(
        wait_until([&] { return rig.conn().reconnects >= 3 && rig.conn().state == "open"; }, 8s));
    rig.expect_exactly_once(0, 20);
    CHECK(rig.log_sink->contains("code 1008"));
}

TEST_CASE(
    "binance_feed: serverShutdown in both shapes replaces the connection make-before-break "
    "(M12)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    const auto accepted = rig.mock.stats().ws_connections_accepted;
    rig.mock.send_server_shutdown(true);
    REQUIRE(
        wait_until([&] { return rig.mock.stats().ws_connections_accepted == accepted + 1; }, 5s));
    std::this_thread::sleep_for(1'200ms);  // the connect pacing: at most one per second
    rig.mock.send_server_shutdown(false);
    REQUIRE(
        wait_until([&] { return rig.mock.stats().ws_connections_accepted == accepted + 2; }, 5s));
    rig.expect_exactly_once(0, 15);
    CHECK(rig.conn().reconnects == 0);  // replaced, never lost
    CHECK(rig.log_sink->contains("serverShutdown"));
}

TEST_CASE("binance_feed: refused connections back off, at most one attempt per second (M13)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.mock.refuse_connections(3);
    const auto t0 = std::chrono::steady_clock::now();
    rig.mock.close_abruptly();
    REQUIRE(
        wait_until([&] { return rig.conn().reconnects >= 4 && rig.conn().state == "open"; }, 15s));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(rig.mock.stats().tcp_connections_refused == 3);
    CHECK(took >= 1'900ms);  // the 2nd, 3rd and 4th attempts each >= 1 s after the previous
    CHECK(took <= 8s);       // reconnect_max_ms = 1 s caps every wait
    rig.expect_exactly_once(0, 10);
}

TEST_CASE("binance_feed: a certificate for another host is refused with a clear error (M14)") {
    auto options = fast_market();
    options.certificate_hosts = {"wrong.example"};
    feed_rig rig(options);
    rig.start();
    const bool refused = wait_until(
        [&] { return rig.log_sink->contains("certificate verify failed: IP address mismatch"); },
        8s);
    INFO(rig.log_sink->all());
    REQUIRE(refused);
    CHECK(rig.mock.stats().ws_connections_accepted == 0);
    CHECK(rig.sinks[0]->count(event_kind::quote) == 0);
    CHECK(rig.sinks[0]->closed().empty());  // REST is refused too: nothing unverified is used
}

TEST_CASE(
    "binance_feed: bad frames are counted and dropped; the connection stays (M01, M03, M04)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.mock.send_text(
        "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":1,\"s\":\"BTC");  // truncated
    rig.mock.send_text("not json at all");
    rig.mock.send_text("");
    rig.mock.send_binary(std::string("\x00\x01\x02", 3));
    rig.mock.send_text(book_ticker("BTCUSDT", 1ULL << 62, "NaN", "1.0"));
    rig.mock.send_text(book_ticker("BTCUSDT", (1ULL << 62) + 1, "1.5abc", "2"));
    rig.mock.send_text(R"({"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT"}})");
    rig.mock.send_text(R"({"e":"somethingNew","E":1})");
    REQUIRE(wait_until([&] { return rig.conn().parse_errors >= 7; }, 5s));
    rig.expect_exactly_once(0, 10);
    CHECK(rig.conn().reconnects == 0);
    CHECK(rig.log_sink->contains("dropped a bad frame"));
}

TEST_CASE("binance_feed: an oversized frame fails the read and the feed reconnects (M02)") {
    feed_rig rig(fast_market());
    rig.settings.max_message_bytes = 64 * 1024;
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.mock.send_oversized(2 << 20);
    REQUIRE(
        wait_until([&] { return rig.conn().reconnects >= 1 && rig.conn().state == "open"; }, 8s));
    rig.expect_exactly_once(0, 12);
}

TEST_CASE("binance_feed: a symbol the exchange rejects is disabled, the others trade (M16)") {
    feed_rig rig(fast_market({"BTCUSDT"}), {"BTCUSDT", "NOSUCHCOIN"});
    rig.start();
    rig.expect_exactly_once(0, 5);
    REQUIRE(wait_until([&] { return rig.feed->stats().symbols[1].state == "disabled"; }, 5s));
    CHECK(rig.log_sink->contains("NOSUCHCOIN disabled"));
    CHECK(rig.log_sink->contains("-1121"));
}

TEST_CASE(
    "binance_feed: a busy runner holds no connection back; candles wait, quotes coalesce "
    "(M10, M17)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    const auto quotes_before = rig.sinks[0]->count(event_kind::quote);
    const auto messages_before = rig.conn().messages;
    rig.sinks[0]->blocked = true;     // the strategy is stuck in a long call
    for (int i = 0; i < 10'000; ++i)  // a burst while it is stuck
        rig.mock.send_text(book_ticker("BTCUSDT", (1ULL << 62) + 10 + static_cast<unsigned>(i),
                                       "100.00000000", "100.10000000"));
    // Stay stuck until the whole burst has reached the feed (slow under sanitizers on a loaded
    // machine), and for at least 2 s (~30 candles close meanwhile).
    const auto stuck_since = std::chrono::steady_clock::now();
    REQUIRE(wait_until([&] { return rig.conn().messages - messages_before >= 10'000; }, 60s));
    std::this_thread::sleep_until(stuck_since + 2s);
    rig.sinks[0]->blocked = false;
    rig.expect_exactly_once(0, 30);
    CHECK(rig.conn().reconnects == 0);
    // Only the latest quote between two closed candles was kept.
    CHECK(rig.sinks[0]->count(event_kind::quote) - quotes_before < 1'000);
}

TEST_CASE("binance_feed: REST 429 honours Retry-After; warm-up still completes") {
    feed_rig rig(fast_market());
    rig.mock.fail_rest(1, 429, R"({"code":-1003,"msg":"Too many requests."})", 1);
    const auto t0 = std::chrono::steady_clock::now();
    rig.start();
    REQUIRE(wait_until([&] { return rig.sinks[0]->closed().size() >= 20; }, 10s));
    CHECK(std::chrono::steady_clock::now() - t0 >= 1s);  // waited Retry-After
    rig.expect_exactly_once(0, 5);
    CHECK(rig.sinks[0]->closed().size() - rig.sinks[0]->closed(false).size() == 20);
}

TEST_CASE("binance_feed: REST 5xx is retried with backoff; a 4xx is a clear error") {
    feed_rig rig(fast_market());
    rig.mock.fail_rest(2, 503, R"({"code":-1008,"msg":"Server is currently overloaded."})");
    rig.start();
    rig.expect_exactly_once(0, 5);
    CHECK(rig.sinks[0]->closed().size() - rig.sinks[0]->closed(false).size() == 20);
}

TEST_CASE("binance_feed: an unresolvable host backs off and keeps retrying (M15)") {
    feed_rig rig(fast_market());
    rig.settings.ws_url = "wss://no-such-host.invalid";
    rig.settings.connect_timeout_ms = 1'000;
    rig.start();
    REQUIRE(wait_until([&] { return rig.conn().reconnects >= 2; }, 10s));
    CHECK(rig.log_sink->contains("no-such-host.invalid"));
    CHECK(rig.conn().state != "open");
}

TEST_CASE("binance_feed: a peer that stops answering our pings is declared dead (M09)") {
    feed_rig rig(fast_market());
    rig.settings.idle_timeout_ms = 1'000;   // keep-alive ping after 0.5 s of silence
    rig.settings.data_timeout_ms = 60'000;  // so only the dead-peer check can fire
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.mock.stall_data(true);     // silence...
    rig.mock.answer_pings(false);  // ...and no pong for our keep-alive pings
    REQUIRE(wait_until([&] { return rig.conn().reconnects >= 1; }, 8s));
    CHECK(rig.log_sink->contains("dead peer"));
    rig.mock.answer_pings(true);
    rig.mock.stall_data(false);
    rig.expect_exactly_once(0, 10);
}

TEST_CASE("binance_feed: pings are answered while the runner is stuck (M10)") {
    feed_rig rig(fast_market());
    rig.start();
    rig.expect_exactly_once(0, 3);
    rig.sinks[0]->blocked = true;
    rig.mock.send_ping("are-you-there");
    REQUIRE(wait_until([&] { return !rig.mock.pong_payloads().empty(); }, 3s));
    CHECK(rig.mock.pong_payloads().back() == "are-you-there");  // the pong echoes the payload
    rig.sinks[0]->blocked = false;
    rig.expect_exactly_once(0, 8);
    CHECK(rig.conn().reconnects == 0);
}

TEST_CASE("binance_feed: an old connection is rotated make-before-break (M11, 24 h cut)") {
    feed_rig rig(fast_market());
    rig.settings.rotate_after_ms = 1'500;
    rig.start();
    rig.expect_exactly_once(0, 3);
    REQUIRE(wait_until([&] { return rig.mock.stats().ws_connections_accepted >= 3; }, 10s));
    rig.expect_exactly_once(0, 20);
    CHECK(rig.conn().reconnects == 0);  // replaced twice, never lost
    CHECK(rig.log_sink->contains("rotating before the 24 h cut"));
}

namespace {
std::filesystem::path other_ca_dir(const feed_rig& rig) {
    const auto dir = rig.dir.path() / "other-ca";
    std::filesystem::create_directories(dir);
    return dir;
}
}  // namespace

TEST_CASE("binance_feed: expired and untrusted certificates are refused, never used (M14)") {
    SUBCASE("expired") {
        auto options = fast_market();
        options.certificate_days = -1;
        feed_rig rig(options);
        rig.start();
        const bool refused = wait_until(
            [&] {
                return rig.log_sink->contains("certificate verify failed: certificate has expired");
            },
            8s);
        INFO(rig.log_sink->all());
        CHECK(refused);
        CHECK(rig.mock.stats().ws_connections_accepted == 0);
        CHECK(rig.sinks[0]->closed().empty());
    }
    SUBCASE("signed by a CA the daemon does not trust") {
        feed_rig rig(fast_market());
        // Trust another (freshly generated) CA instead of the one that signed the mock's cert.
        rig.settings.ca_file = test_certificates::generate({"127.0.0.1"}).write(other_ca_dir(rig));
        rig.start();
        const bool refused = wait_until(
            [&] {
                return rig.log_sink->contains(
                    "certificate verify failed: unable to get local issuer");
            },
            8s);
        INFO(rig.log_sink->all());
        CHECK(refused);
        CHECK(rig.mock.stats().ws_connections_accepted == 0);
    }
}

TEST_CASE("binance_feed: a server that never completes the TLS handshake times out (M14)") {
    // A listening socket nobody accepts on: TCP connects (the kernel's backlog), TLS never
    // answers.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    {
        feed_rig rig(fast_market());
        rig.settings.ws_url = "wss://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
        rig.settings.connect_timeout_ms = 500;
        rig.start();
        REQUIRE(wait_until([&] { return rig.conn().reconnects >= 2; }, 8s));
        CHECK(rig.log_sink->contains("connect timed out after 500 ms"));
    }
    ::close(fd);
}

TEST_CASE(
    "binance_feed: a symbol added while running gets its own connection, warm-up and "
    "live candles; the others are not disturbed") {
    feed_rig rig(fast_market({"BTCUSDT", "ETHUSDT"}), {"BTCUSDT"});
    rig.start();
    rig.expect_exactly_once(0, 3);
    REQUIRE(rig.feed->stats().connections.size() == 1);

    config::symbol_config eth = rig.symbols[0];
    eth.symbol = "ETHUSDT";
    rig.symbols.push_back(eth);
    rig.sinks.push_back(std::make_unique<recording_sink>());
    rig.feed->add_symbol(eth, rig.sinks[1].get());
    rig.expect_exactly_once(1, 5);
    rig.expect_exactly_once(0, 10);
    const auto warm = rig.sinks[1]->closed(true).size() - rig.sinks[1]->closed(false).size();
    CHECK(warm == 20);  // warmup_candles, as for a symbol present at start
    CHECK(rig.sinks[1]->count(event_kind::quote) > 0);
    const auto st = rig.feed->stats();
    REQUIRE(st.connections.size() == 2);
    CHECK(st.connections[0].reconnects == 0);  // the running connection was left alone
    CHECK(st.connections[1].state == "open");
    REQUIRE(st.symbols.size() == 2);
    CHECK(st.symbols[1].symbol == "ETHUSDT");
    CHECK(st.symbols[1].state == "live");
    CHECK(rig.log_sink->contains("ETHUSDT 1m added"));

    // A symbol already fed is refused, and so is a null sink; nothing changes.
    recording_sink extra;
    CHECK_THROWS_WITH_AS(rig.feed->add_symbol(eth, &extra), doctest::Contains("already fed"),
                         std::invalid_argument);
    config::symbol_config other = eth;
    other.symbol = "BNBUSDT";
    CHECK_THROWS_AS(rig.feed->add_symbol(other, nullptr), std::invalid_argument);
    CHECK(rig.feed->stats().connections.size() == 2);
    rig.feed->stop();
    CHECK_THROWS_AS(rig.feed->add_symbol(other, &extra), std::logic_error);
}
