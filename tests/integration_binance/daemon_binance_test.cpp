// The real tradingd binary on [feed] type = "binance", against the mock exchange: for each fault
// scenario, every closed candle reaches the runner exactly once and in order (the test strategy
// raises an error on any out-of-sequence candle, and the feed logs each candle it hands over),
// reconnects happen within the configured bounds, and the daemon neither crashes nor wedges.
#include <doctest/doctest.h>

#include <cmath>
#include <ctime>
#include <mock_exchange.hpp>
#include <process.hpp>
#include <regex>
#include <sstream>
#include <test_support.hpp>
#include <thread>

namespace fs = std::filesystem;
using namespace tradingd;
using namespace tradingd::testing;
using namespace std::chrono_literals;

namespace {

// Fails (an error the summary counts) whenever a candle does not follow the previous one.
constexpr const char* k_sequence_check = R"(
local interval = params.interval_ms or 60000
function detect_opportunity(market, ctx, ind)
    local last = ctx.last_open
    if last ~= nil and market.open_time ~= last + interval then
        error(string.format("candle out of sequence: %d after %d", market.open_time, last))
    end
    ctx.last_open = market.open_time
    return nil
end
function filter_commitment() return nil end
function manage_position() return nil end
)";

struct daemon_run {
    temp_dir dir;
    mock_exchange mock;
    std::unique_ptr<child_process> proc;

    explicit daemon_run(mock_options options, const std::string& extra_feed_settings = "",
                        const std::string& host_name = "127.0.0.1",
                        const std::vector<std::string>& env = {})
        : mock(std::move(options)) {
        mock.start();
        const auto ca = mock.certificates().write(dir.path());
        fs::create_directories(dir.path() / "strategies");
        dir.write("strategies/sequence_check.lua", k_sequence_check);
        const std::string host = host_name + ":" + std::to_string(mock.port());
        std::ostringstream cfg;
        cfg << "[daemon]\nlog_level = \"debug\"\nstate_dir = \"var\"\nstrategies_dir = "
               "\"strategies\"\n"
            << "[feed]\ntype = \"binance\"\n[feed.binance]\n"
            << "ws_url = \"wss://" << host << "\"\nrest_url = \"https://" << host << "\"\n"
            << "ca_file = \"" << ca.string() << "\"\nwarmup_candles = 20\n"
            << "data_timeout_ms = 1500\nidle_timeout_ms = 4000\nconnect_timeout_ms = 2000\n"
            << "reconnect_initial_ms = 100\nreconnect_max_ms = 1000\n"
            << extra_feed_settings << "\n"
            << "[[symbols]]\nsymbol = \"BTCUSDT\"\nstrategy = \"sequence_check\"\n"
            << "interval = \"1m\"\nwindow = 100\nquantity = 0.01\n";
        dir.write("tradingd.toml", cfg.str());
        proc = std::make_unique<child_process>(
            std::vector<std::string>{TRADINGD_BINARY, "--config",
                                     (dir.path() / "tradingd.toml").string()},
            dir.path() / "out", dir.path() / "err", env);
    }

    std::string err() const { return read_file(dir.path() / "err"); }
    std::string out() const { return read_file(dir.path() / "out"); }

    /// Open times of the closed candles the feed handed to the runner, in log order.
    std::vector<std::int64_t> delivered(const std::string& symbol = "BTCUSDT") const {
        const std::regex re(symbol + R"( 1m candle t=(\d+) closed \((\w[\w-]*)\))");
        std::vector<std::int64_t> out;
        const std::string text = err();
        for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
            out.push_back(std::stoll((*it)[1]));
        return out;
    }

    std::size_t count(const std::string& needle) const {
        const std::string text = err();
        std::size_t n = 0;
        for (auto pos = text.find(needle); pos != std::string::npos;
             pos = text.find(needle, pos + 1))
            ++n;
        return n;
    }

    bool wait_for_live(std::size_t candles, std::chrono::milliseconds timeout = 20s) {
        return wait_until([&] { return count("closed (live)") >= candles; }, timeout);
    }

    /// SIGTERM, clean exit, then the exactly-once checks.
    void stop_and_check() {
        proc->signal(SIGTERM);
        const auto rc = proc->wait(15s);
        INFO(err());
        REQUIRE(rc.has_value());
        CHECK(*rc == 0);
        check_exactly_once("BTCUSDT", 10);
        // The runner saw them in order too: the strategy raised no sequence error.
        CHECK(err().find("out of sequence") == std::string::npos);
        const std::string summary = out();
        CHECK(summary.find("BTCUSDT") != std::string::npos);
        CHECK(summary.find("SUSPENDED") == std::string::npos);
    }

    /// The candles the feed handed to `symbol`'s runner are the exchange's, once, in order.
    void check_exactly_once(const std::string& symbol, std::size_t at_least) const {
        const auto got = delivered(symbol);
        const auto all = mock.closed_candles(symbol);
        REQUIRE(got.size() >= at_least);
        std::size_t k = 0;
        while (k < all.size() && all[k].open_time != got.front())
            ++k;
        REQUIRE(k < all.size());
        for (std::size_t j = 0; j < got.size(); ++j) {
            REQUIRE(k + j < all.size());
            REQUIRE(got[j] == all[k + j].open_time);  // exactly once, in order, no hole
        }
    }
};

mock_options market() {
    mock_options o;
    o.symbols = {mock_symbol{"BTCUSDT", "1m", 30'000}};
    o.history_candles = 200;
    o.candle_period = 80ms;
    return o;
}

}  // namespace

TEST_CASE("daemon + mock Binance: a clean session trades on live candles") {
    daemon_run run(market());
    REQUIRE(run.wait_for_live(15));
    CHECK(run.count("closed (warm-up)") == 20);
    run.stop_and_check();
}

TEST_CASE("daemon + mock Binance: abrupt resets and close frames (M11)") {
    daemon_run run(market());
    REQUIRE(run.wait_for_live(3));
    // Generous waits: the reconnect delay itself is bounded by the test below (P-row "storm");
    // here the daemon may be a sanitizer build sharing 2 cores with three other test programs.
    run.mock.close_abruptly();
    REQUIRE(wait_until([&] { return run.count("connected to") >= 2; }, 20s));
    run.mock.close_with_code(1001);
    REQUIRE(wait_until([&] { return run.count("connected to") >= 3; }, 20s));
    const auto before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 5));
    CHECK(run.count("connection lost") == 2);
    run.stop_and_check();
}

TEST_CASE("daemon + mock Binance: stall with pings answered, then a gap (M09, M07)") {
    daemon_run run(market());
    REQUIRE(run.wait_for_live(3));
    run.mock.stall_data(true);
    REQUIRE(wait_until([&] { return run.count("no market data for") >= 1; }, 8s));
    run.mock.stall_data(false);
    run.mock.skip_candles(3);
    REQUIRE(wait_until([&] { return run.count("gap:") >= 1; }, 10s));
    const auto before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 5));
    CHECK(run.count("closed (backfill)") >= 3);
    run.stop_and_check();
}

TEST_CASE("daemon + mock Binance: serverShutdown, garbage and oversized frames (M12, M01, M02)") {
    daemon_run run(market(), "max_message_bytes = 65536");
    REQUIRE(run.wait_for_live(3));
    run.mock.send_server_shutdown(true);
    REQUIRE(wait_until([&] { return run.count("replacement connection open") >= 1; }, 8s));
    run.mock.send_text("this is not JSON");
    run.mock.send_binary("\x01\x02");
    REQUIRE(wait_until([&] { return run.count("dropped a bad frame") >= 2; }, 5s));
    run.mock.send_oversized(1 << 20);
    REQUIRE(wait_until([&] { return run.count("connection lost") >= 1; }, 8s));
    const auto before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 5));
    run.stop_and_check();
}

TEST_CASE("daemon + mock Binance: refused connections back off within bounds (M13)") {
    auto o = market();
    daemon_run run(o);
    REQUIRE(run.wait_for_live(3));
    run.mock.refuse_connections(4);
    const auto t0 = std::chrono::steady_clock::now();
    run.mock.close_abruptly();
    REQUIRE(wait_until([&] { return run.count("connected to") >= 2; }, 20s));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= 3'500ms);  // five attempts at most one per second
    CHECK(took <= 12s);      // reconnect_max_ms = 1 s: never waits longer than the cap + pacing
    CHECK(run.mock.stats().tcp_connections_refused == 4);
    const auto before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 3));
    run.stop_and_check();
}

TEST_CASE("daemon + mock Binance: a certificate for the wrong host is refused, clearly (M14)") {
    auto o = market();
    o.certificate_hosts = {"wrong.example"};
    daemon_run run(o, "", "localhost");  // by name: SNI + host name check
    REQUIRE(wait_until(
        [&] { return run.count("certificate verify failed: hostname mismatch") >= 1; }, 10s));
    CHECK(run.count("closed (") == 0);  // nothing from an unverified peer
    run.proc->signal(SIGTERM);
    const auto rc = run.proc->wait(15s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(run.mock.stats().ws_connections_accepted == 0);
}

TEST_CASE("daemon + mock Binance: SIGHUP adding a symbol starts its runner on its own streams") {
    auto o = market();
    o.symbols.push_back(mock_symbol{"ETHUSDT", "1m", 2'000});
    daemon_run run(o);
    REQUIRE(run.wait_for_live(3));
    const auto config = run.dir.path() / "tradingd.toml";
    run.dir.write("tradingd.toml", read_file(config) +
                                       "[[symbols]]\nsymbol = \"ETHUSDT\"\nstrategy = "
                                       "\"sequence_check\"\ninterval = \"1m\"\nwindow = 100\n"
                                       "quantity = 0.1\n");
    run.proc->signal(SIGHUP);
    REQUIRE(wait_until([&] { return run.count("config reload: ETHUSDT added") == 1; }, 5s));
    REQUIRE(wait_until([&] { return run.count("ETHUSDT 1m candle t=") >= 20 + 5; }, 20s));
    CHECK(run.count("closed (warm-up)") == 40);  // 20 for each symbol
    CHECK(run.count("ws#1: connected to") == 1);
    CHECK(run.count("connection lost") == 0);  // BTCUSDT's connection was not touched
    const auto before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 3));
    run.check_exactly_once("ETHUSDT", 25);
    run.stop_and_check();
    CHECK(run.out().find("ETHUSDT") != std::string::npos);
}

TEST_CASE(
    "daemon + mock Binance: the wall clock stepped back and forward 1 h mid-run: no "
    "duplicate or missing candle, no reconnect (P09)") {
    temp_dir clock_dir;
    const auto offset = clock_dir.write("offset", "0");
    const char* asan = std::getenv("ASAN_OPTIONS");
    daemon_run run(market(), "", "127.0.0.1",
                   {std::string("LD_PRELOAD=") + TRADINGD_FAULT_PRELOAD,
                    "TRADINGD_FAULT_CLOCK_OFFSET_FILE=" + offset.string(),
                    std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                        "verify_asan_link_order=0"});
    REQUIRE(run.wait_for_live(3));
    // How far the daemon's wall clock is from ours, read from its newest log line's time of day.
    const auto skew = [&] {
        const std::string text = run.err();
        const auto line = text.rfind("\n20", text.size() - 2);
        if (line == std::string::npos) return 0L;
        const long h = std::stol(text.substr(line + 12, 2)),
                   m = std::stol(text.substr(line + 15, 2)),
                   sec = std::stol(text.substr(line + 18, 2));
        const std::time_t now = std::time(nullptr);
        std::tm tm{};
        localtime_r(&now, &tm);
        long d = (h * 3600 + m * 60 + sec) - (tm.tm_hour * 3600L + tm.tm_min * 60 + tm.tm_sec);
        if (d > 43'200) d -= 86'400;
        if (d <= -43'200) d += 86'400;
        return d;
    };
    clock_dir.write("offset", "-3600");  // an NTP step back (or an operator's date -s)
    auto before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 5));
    CHECK(std::abs(skew() + 3600) < 120);  // the step reached the daemon
    clock_dir.write("offset", "3600");
    before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 5));
    CHECK(std::abs(skew() - 3600) < 120);
    clock_dir.write("offset", "0");
    before = run.count("closed (live)");
    REQUIRE(run.wait_for_live(before + 3));
    CHECK(run.count("connected to") == 1);  // no reconnect: timeouts run on the monotonic clock
    CHECK(run.count("connection lost") == 0);
    CHECK(run.count("no market data for") == 0);
    run.stop_and_check();  // exactly once, in order
}
