// The read endpoints of the running daemon: /healthz, /status and /metrics agree with each other
// and with the decision log (the engine's own account of what happened), the metrics pass
// promtool, and the server stays responsive under load and against stalled clients.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "service_fixture.hpp"

using namespace tradingd::testing;
using namespace tradingd::testing::service;

namespace {

/// What the decision log says about one symbol.
struct logged_symbol {
    std::string state = "Idle";  ///< the `to` of its last transition
    std::size_t trades = 0;      ///< exit fills
    double realized = 0;         ///< sum of the exit fills' pnl
    nlohmann::json last_entry;   ///< the last entry fill (null if none)
};

std::map<std::string, logged_symbol> summarize(const std::vector<nlohmann::json>& records) {
    std::map<std::string, logged_symbol> out;
    for (const auto& d : records) {
        logged_symbol& s = out[d["symbol"].get<std::string>()];
        if (d["event"] == "transition") s.state = d["to"].get<std::string>();
        if (is_exit_fill(d)) {
            ++s.trades;
            s.realized += d["pnl"].get<double>();
        }
        if (is_entry_fill(d)) s.last_entry = d;
    }
    return out;
}

/// A /status, /metrics and second /status read between which the decision log did not change,
/// the log last written at least `settle` before the first read (the runners publish their
/// status right after the event that wrote a record, so by then the status includes it).
struct consistent_read {
    nlohmann::json status;
    std::string metrics;
    nlohmann::json status_after;
    std::vector<nlohmann::json> records;
};

std::optional<consistent_read> read_consistently(const sim_tree& tree, std::uint16_t port) {
    for (int attempt = 0; attempt < 40; ++attempt) {
        const auto before = tree.log_size();
        std::this_thread::sleep_for(150ms);
        consistent_read r;
        const http_reply s1 = http_get(port, "/status");
        const http_reply m = http_get(port, "/metrics");
        const http_reply s2 = http_get(port, "/status");
        if (tree.log_size() != before) continue;
        if (s1.status != 200 || m.status != 200 || s2.status != 200) return std::nullopt;
        r.status = s1.json();
        r.metrics = m.body;
        r.status_after = s2.json();
        r.records = tree.decisions();
        if (r.records.empty()) continue;  // nothing decided yet: nothing to compare with
        return r;
    }
    return std::nullopt;
}

double signed_quantity(const nlohmann::json& position) {
    if (position.is_null()) return 0;
    const double q = position["quantity"].get<double>();
    return position["side"] == "short" ? -q : q;
}

void check_agreement(const consistent_read& r) {
    const auto logged = summarize(r.records);
    std::size_t open = 0;
    for (const auto& symbol : sim_symbols()) {
        CAPTURE(symbol);
        const nlohmann::json st = symbol_status(r.status, symbol);
        REQUIRE(st.is_object());
        const auto found = logged.find(symbol);
        const logged_symbol log = found == logged.end() ? logged_symbol{} : found->second;

        CHECK(st["state"] == log.state);
        CHECK(st["counters"]["trades"].get<std::size_t>() == log.trades);
        CHECK(std::fabs(st["realized_pnl"].get<double>() - log.realized) < 1e-6);
        if (log.state == "InPosition") {
            REQUIRE(log.last_entry.is_object());
            REQUIRE(st["position"].is_object());
            ++open;
            const auto& pos = st["position"];
            CHECK(pos["side"] == (log.last_entry["side"] == "buy" ? "long" : "short"));
            CHECK(pos["quantity"].get<double>() ==
                  doctest::Approx(log.last_entry["quantity"].get<double>()));
            CHECK(pos["entry_price"].get<double>() ==
                  doctest::Approx(log.last_entry["price"].get<double>()).epsilon(1e-12));
        } else {
            CHECK(st["position"].is_null());
        }

        // /metrics was read between the two /status reads.
        const std::string label = "symbol=\"" + symbol + "\"";
        const auto events = metric_value(r.metrics, "tradingd_events_total", label);
        const auto trades = metric_value(r.metrics, "tradingd_trades_total", label);
        const auto quantity = metric_value(r.metrics, "tradingd_position_quantity", label);
        const auto pnl = metric_value(r.metrics, "tradingd_realized_pnl", label);
        REQUIRE(events.has_value());
        REQUIRE(trades.has_value());
        REQUIRE(quantity.has_value());
        REQUIRE(pnl.has_value());
        const nlohmann::json after = symbol_status(r.status_after, symbol);
        CHECK(*events >= st["counters"]["events"].get<double>());
        CHECK(*events <= after["counters"]["events"].get<double>());
        CHECK(*trades == st["counters"]["trades"].get<double>());
        CHECK(*quantity == doctest::Approx(signed_quantity(st["position"])));
        CHECK(*pnl == doctest::Approx(st["realized_pnl"].get<double>()).epsilon(1e-12));
    }
    CHECK(r.status["risk"]["open_positions"].get<std::size_t>() == open);
    CHECK(metric_value(r.metrics, "tradingd_positions_open") == static_cast<double>(open));
    CHECK(metric_value(r.metrics, "tradingd_halted") == 0.0);
}

/// Sum of the events counters over all symbols of a /status document.
std::uint64_t total_events(const nlohmann::json& status) {
    std::uint64_t n = 0;
    if (!status.is_object()) return 0;
    for (const auto& s : status["symbols"])
        n += s["counters"]["events"].get<std::uint64_t>();
    return n;
}

}  // namespace

TEST_CASE("service: /healthz, /status and /metrics agree with the decision log") {
    sim_tree tree;
    // A candle every half second: the state changes rarely enough to read it consistently.
    tree.replace("speed = 600", "speed = 120");
    tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\n");
    daemon_run d(tree);
    const std::uint16_t port = d.port();
    INFO("stderr tail:\n" << d.err_tail());
    REQUIRE(port != 0);

    http_reply health;
    CHECK(wait_until(
        [&] {
            health = http_get(port, "/healthz");
            return health.status == 200;
        },
        10s, 100ms));
    REQUIRE(health.status == 200);
    CHECK(health.json() == nlohmann::json{{"status", "ok"}});

    const http_reply status = http_get(port, "/status");
    REQUIRE(status.status == 200);
    CHECK(status.header("content-type").find("application/json") == 0);
    const auto doc = status.json();
    for (const char* key : {"version", "uptime_s", "now", "feed", "journal", "risk",
                            "config_reloads", "config_reload_failures", "symbols"})
        CHECK_MESSAGE(doc.contains(key), key);
    CHECK(doc["feed"]["type"] == "sim");
    CHECK(doc["symbols"].size() == 3);

    // Compare once while a position is open (so a fill and a position are checked), and once
    // more a few seconds later, whatever the state then.
    std::optional<consistent_read> holding;
    const bool in_position = wait_until(
        [&] {
            holding = read_consistently(tree, port);
            if (!holding) return false;
            for (const auto& [symbol, logged] : summarize(holding->records))
                if (logged.state == "InPosition") return true;
            return false;
        },
        60s, 100ms);
    REQUIRE_MESSAGE(in_position, "no consistent read with a position open within 60 s");
    check_agreement(*holding);
    std::this_thread::sleep_for(3s);
    const auto later = read_consistently(tree, port);
    REQUIRE_MESSAGE(later.has_value(), "no consistent /status + /metrics read");
    check_agreement(*later);

    // The exposition format passes promtool's checks (and its lint).
    const http_reply metrics = http_get(port, "/metrics");
    REQUIRE(metrics.status == 200);
    CHECK(metrics.header("content-type").find("text/plain; version=0.0.4") == 0);
    const fs::path body = tree.dir.path() / "metrics.txt";
    const fs::path checked = tree.dir.path() / "promtool.out";
    std::ofstream(body, std::ios::binary) << metrics.body;
    const std::string cmd = "/usr/bin/promtool check metrics < '" + body.string() + "' > '" +
                            checked.string() + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    INFO("promtool:\n" << read_file(checked));
    CHECK(rc == 0);

    const auto code = d.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
}

TEST_CASE("service: the HTTP server stays responsive under load and drops stalled clients") {
    sim_tree tree;
    tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\nrequest_timeout_ms = 500\n");
    daemon_run d(tree);
    const std::uint16_t port = d.port();
    INFO("stderr tail:\n" << d.err_tail());
    REQUIRE(port != 0);
    REQUIRE(wait_until([&] { return total_events(d.status()) > 0; }, 10s, 100ms));

    // A client that sends half a request and then nothing: closed after request_timeout_ms,
    // while the load below is served.
    std::atomic<bool> stalled_closed{false};
    std::atomic<long long> stalled_ms{-1};
    std::thread stalled([&] {
        tcp_socket s(port, 10s);
        if (!s.connected() || !s.send_all("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half"))
            return;
        const auto sent = std::chrono::steady_clock::now();
        std::string ignored;
        stalled_closed = s.read_to_eof(ignored);
        stalled_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - sent)
                         .count();
    });

    const std::uint64_t events_before = total_events(d.status());
    const fs::path wrk_out = tree.dir.path() / "wrk.out";
    child_process wrk({"/usr/bin/wrk", "-t2", "-c32", "-d3s",
                       "http://127.0.0.1:" + std::to_string(port) + "/metrics"},
                      wrk_out, tree.dir.path() / "wrk.err");
    // During the load: /healthz answers 200 every time it is asked.
    int health_checks = 0;
    int health_ok = 0;
    std::optional<int> wrk_code;
    while (!(wrk_code = wrk.wait(200ms))) {
        ++health_checks;
        health_ok += http_get(port, "/healthz").status == 200 ? 1 : 0;
        if (health_checks > 100) break;  // 20 s: wrk hangs
    }
    stalled.join();
    const std::string report = read_file(wrk_out);
    INFO("wrk:\n" << report << read_file(tree.dir.path() / "wrk.err"));
    REQUIRE(wrk_code.has_value());
    CHECK(*wrk_code == 0);
    CHECK(health_checks >= 5);
    CHECK(health_ok == health_checks);

    const auto rps_at = report.find("Requests/sec:");
    REQUIRE(rps_at != std::string::npos);
    const double rps = std::atof(report.c_str() + rps_at + 13);
    CHECK(rps > 0);
    CHECK(report.find("Non-2xx") == std::string::npos);

    CHECK_MESSAGE(stalled_closed.load(), "the stalled client was not disconnected");
    CHECK(stalled_ms.load() >= 400);
    CHECK(stalled_ms.load() <= 3000);

    // Afterwards: still healthy, still processing market events.
    CHECK(http_get(port, "/healthz").status == 200);
    CHECK(wait_until([&] { return total_events(d.status()) > events_before; }, 5s, 100ms));
    const std::uint64_t events_after = total_events(d.status());
    CHECK(wait_until([&] { return total_events(d.status()) > events_after; }, 5s, 100ms));

    const auto code = d.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
}
