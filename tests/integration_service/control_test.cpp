// The control side of the running daemon: bearer-token protected endpoints, the kill switch
// (file, POST /halt, SIGUSR1) and the risk limits, checked end to end against the decision log.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "service_fixture.hpp"

using namespace tradingd::testing;
using namespace tradingd::testing::service;

namespace {

constexpr const char* k_token = "s3cret-token-for-tests";

std::string bearer(const std::string& token) {
    return "Authorization: Bearer " + token;
}

/// Records of `records` for which `pred` holds.
template <class P>
std::size_t count_if_records(const std::vector<nlohmann::json>& records, P pred) {
    std::size_t n = 0;
    for (const auto& r : records)
        n += pred(r) ? 1 : 0;
    return n;
}

bool kill_switch_refusal(const nlohmann::json& d) {
    return d["event"] == "risk_refused" && d["reason"] == "kill_switch";
}

/// An entry: an entry fill or a transition into InPosition.
bool opens_position(const nlohmann::json& d) {
    return is_entry_fill(d) || (d["event"] == "transition" && d["to"] == "InPosition");
}

bool halted(daemon_run& d) {
    const auto s = d.status();
    return s.is_object() && s["risk"]["halted"].get<bool>();
}

}  // namespace

TEST_CASE("service: control endpoints need the bearer token; errors are JSON with the status") {
    SUBCASE("without a token_file the control endpoints are forbidden") {
        sim_tree tree;
        tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\n");
        daemon_run d(tree);
        const std::uint16_t port = d.port();
        INFO("stderr tail:\n" << d.err_tail());
        REQUIRE(port != 0);
        for (const char* target : {"/halt", "/resume", "/flatten?symbol=BTCUSDT"}) {
            CAPTURE(target);
            const http_reply r = http_request(port, "POST", target, {bearer(k_token)});
            CHECK(r.status == 403);
            CHECK(r.json().contains("error"));
        }
        CHECK_FALSE(halted(d));
        CHECK_FALSE(fs::exists(tree.halt_file()));
        const auto code = d.stop();
        REQUIRE(code.has_value());
        CHECK(*code == 0);
    }

    SUBCASE("with a token_file: 401, 400, 404, 405 and 202 as documented") {
        sim_tree tree;
        const fs::path token = tree.write_token(k_token, 0600);
        tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n");
        daemon_run d(tree);
        const std::uint16_t port = d.port();
        INFO("stderr tail:\n" << d.err_tail());
        REQUIRE(port != 0);

        const auto expect = [&](const std::string& method, const std::string& target,
                                const std::vector<std::string>& headers, int status) {
            CAPTURE(method);
            CAPTURE(target);
            const http_reply r = http_request(port, method, target, headers);
            CHECK(r.status == status);
            if (r.status != 0) {
                CHECK(r.header("content-type").find("application/json") == 0);
                const auto body = r.json();
                if (status >= 400) CHECK(body["error"].is_string());
            }
            return r;
        };
        for (const char* target : {"/halt", "/resume", "/flatten?symbol=BTCUSDT"}) {
            const http_reply missing = expect("POST", target, {}, 401);
            CHECK(missing.header("www-authenticate").find("Bearer") == 0);
            expect("POST", target, {bearer("wrong-token")}, 401);
            expect("POST", target, {bearer(std::string(k_token) + "x")}, 401);
            expect("POST", target, {"Authorization: Basic " + std::string(k_token)}, 401);
        }
        CHECK_FALSE(halted(d));  // no refused request had an effect
        CHECK_FALSE(fs::exists(tree.halt_file()));

        expect("POST", "/flatten", {bearer(k_token)}, 400);
        expect("POST", "/flatten?symbol=", {bearer(k_token)}, 400);
        expect("POST", "/flatten?symbol=DOGEUSDT", {bearer(k_token)}, 404);
        const http_reply flatten =
            expect("POST", "/flatten?symbol=BTCUSDT", {bearer(k_token)}, 202);
        if (flatten.status == 202) CHECK(flatten.json()["symbol"] == "BTCUSDT");

        const http_reply get_halt = expect("GET", "/halt", {bearer(k_token)}, 405);
        CHECK(get_halt.header("allow") == "POST");
        const http_reply post_status = expect("POST", "/status", {}, 405);
        CHECK(post_status.header("allow") == "GET");
        expect("DELETE", "/metrics", {}, 405);
        expect("GET", "/nope", {}, 404);
        expect("GET", "/status/extra", {}, 404);
        CHECK_FALSE(halted(d));

        const auto code = d.stop();
        REQUIRE(code.has_value());
        CHECK(*code == 0);
        CHECK(fs::exists(token));
    }

    SUBCASE("a token file readable by others is refused at start with exit code 2") {
        sim_tree tree;
        const fs::path token = tree.write_token(k_token, 0644);
        tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n");
        daemon_run d(tree);
        const auto code = d.process().wait(20s);
        const std::string err = d.err();
        INFO("stderr:\n" << err);
        REQUIRE(code.has_value());
        CHECK(*code == 2);
        CHECK(err.find(token.string()) != std::string::npos);
        CHECK(err.find("chmod 600") != std::string::npos);
        CHECK(err.find("HTTP status server on") == std::string::npos);
    }
}

TEST_CASE("service: the kill switch file halts entries and removing it resumes them") {
    sim_tree tree;
    tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\n");
    daemon_run d(tree);
    const std::uint16_t port = d.port();
    INFO("stderr tail:\n" << d.err_tail());
    REQUIRE(port != 0);
    REQUIRE(wait_until([&] { return d.status().is_object(); }, 10s, 100ms));
    CHECK_FALSE(halted(d));

    // An operator's `touch HALT`.
    std::ofstream(tree.halt_file()).close();
    REQUIRE_MESSAGE(wait_until([&] { return halted(d); }, 3s, 50ms),
                    "touch HALT did not halt within 3 s");
    const nlohmann::json during = d.status();
    CHECK(during["risk"]["halt_reason"].get<std::string>().find("HALT") != std::string::npos);
    const auto metrics = http_get(port, "/metrics");
    CHECK(metric_value(metrics.body, "tradingd_halted") == 1.0);
    CHECK(http_get(port, "/healthz").status == 200);  // halted is a decision, not a fault

    // An entry already admitted when the halt was seen may still write its fill: give it time.
    std::this_thread::sleep_for(100ms);
    const auto halted_at = tree.log_size();
    const bool refused = wait_until(
        [&] { return count_if_records(tree.decisions(halted_at), kill_switch_refusal) >= 2; }, 20s,
        200ms);
    CHECK_MESSAGE(refused, "no entry was refused by the kill switch within 20 s");
    const auto while_halted = tree.decisions(halted_at);
    CHECK(count_if_records(while_halted, opens_position) == 0);
    for (const auto& r : while_halted) {
        if (!kill_switch_refusal(r)) continue;
        CHECK(r["message"].get<std::string>().find("entry refused by risk limit") == 0);
        CHECK(r.contains("side"));
        CHECK(r.contains("quantity"));
    }
    // /status counts them per limit too.
    std::uint64_t counted = 0;
    const nlohmann::json halted_status = d.status();
    REQUIRE(halted_status.is_object());
    for (const auto& s : halted_status["symbols"])
        counted += s["risk_refusals"].value("kill_switch", std::uint64_t{0});
    CHECK(counted >= count_if_records(while_halted, kill_switch_refusal));

    // `rm HALT`: entries are allowed again.
    fs::remove(tree.halt_file());
    REQUIRE_MESSAGE(wait_until([&] { return !halted(d); }, 3s, 50ms),
                    "rm HALT did not resume within 3 s");
    std::this_thread::sleep_for(100ms);  // a refusal decided just before may still be written
    const auto resumed_at = tree.log_size();
    CHECK_MESSAGE(
        wait_until([&] { return count_if_records(tree.decisions(resumed_at), opens_position) > 0; },
                   30s, 200ms),
        "no entry within 30 s after the kill switch was released");
    CHECK(count_if_records(tree.decisions(resumed_at), kill_switch_refusal) == 0);

    const auto code = d.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
}

TEST_CASE("service: POST /halt?flatten=true closes positions; /resume and SIGUSR1") {
    sim_tree tree;
    tree.write_token(k_token, 0600);
    tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n");
    daemon_run d(tree);
    const std::uint16_t port = d.port();
    INFO("stderr tail:\n" << d.err_tail());
    REQUIRE(port != 0);

    // `seen_at`: the log's size before the /status read that showed the positions, so their
    // exits are after it.
    std::vector<std::string> holding;
    std::uintmax_t seen_at = 0;
    REQUIRE_MESSAGE(wait_until(
                        [&] {
                            seen_at = tree.log_size();
                            holding = open_positions(d.status());
                            return !holding.empty();
                        },
                        30s, 50ms),
                    "no position opened within 30 s");
    const http_reply halt = http_request(port, "POST", "/halt?flatten=true", {bearer(k_token)});
    REQUIRE(halt.status == 200);
    // An entry already admitted when the halt came may still write its fill: give it time.
    std::this_thread::sleep_for(100ms);
    const auto halted_at = tree.log_size();
    const auto body = halt.json();
    CHECK(body["halted"] == true);
    CHECK(body["flattening"].is_array());
    CHECK(fs::path(body["kill_switch_file"].get<std::string>()) == tree.halt_file());

    nlohmann::json after;
    CHECK_MESSAGE(wait_until(
                      [&] {
                          after = d.status();
                          return after.is_object() && open_positions(after).empty();
                      },
                      5s, 50ms),
                  "positions still open 5 s after POST /halt?flatten=true");
    CHECK(after["risk"]["halted"] == true);
    CHECK(after["risk"]["open_positions"] == 0);
    CHECK(after["risk"]["halt_reason"].get<std::string>().find("POST /halt") != std::string::npos);
    // Each position that was open is closed by a kill-switch fill (unless its own stop got there
    // first, which then is an exit fill as well); nothing opens.
    const auto records = tree.decisions(seen_at);
    std::set<std::string> closed_by_kill;
    for (const auto& r : records) {
        if (is_exit_fill(r) && r["reason"].get<std::string>().rfind("kill switch", 0) == 0)
            closed_by_kill.insert(r["symbol"].get<std::string>());
    }
    CHECK_FALSE(closed_by_kill.empty());
    for (const auto& symbol : holding) {
        CAPTURE(symbol);
        CHECK(count_if_records(records, [&](const nlohmann::json& r) {
                  return r["symbol"] == symbol && is_exit_fill(r);
              }) >= 1);
    }
    CHECK(count_if_records(tree.decisions(halted_at), opens_position) == 0);
    REQUIRE_MESSAGE(wait_until([&] { return fs::exists(tree.halt_file()); }, 3s, 20ms),
                    "POST /halt did not write the kill switch file");
    CHECK(read_file(tree.halt_file()).find("POST /halt") != std::string::npos);

    // POST /resume removes the file and releases the halt.
    const http_reply resume = http_request(port, "POST", "/resume", {bearer(k_token)});
    CHECK(resume.status == 200);
    CHECK(resume.json()["halted"] == false);
    CHECK_FALSE(fs::exists(tree.halt_file()));
    CHECK_FALSE(halted(d));
    std::this_thread::sleep_for(1500ms);  // a kill-switch poll must not re-engage it
    CHECK_FALSE(halted(d));

    // SIGUSR1 halts too, and says so.
    d.process().signal(SIGUSR1);
    REQUIRE_MESSAGE(wait_until([&] { return halted(d); }, 3s, 50ms), "SIGUSR1 did not halt");
    CHECK(d.status()["risk"]["halt_reason"].get<std::string>().find("SIGUSR1") !=
          std::string::npos);
    // The halt applies at once; the file (written and fsynced) follows.
    REQUIRE_MESSAGE(wait_until([&] { return fs::exists(tree.halt_file()); }, 3s, 20ms),
                    "SIGUSR1 did not write the kill switch file");
    CHECK(read_file(tree.halt_file()).find("halted by SIGUSR1") == 0);

    const auto code = d.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
}

TEST_CASE("service: risk limits refuse entries end to end") {
    sim_tree tree;
    tree.add_global("[http]\nlisten = \"127.0.0.1:0\"\n\n[risk]\nmax_open_positions = 1\n");
    // BTCUSDT trades 0.01 at ~30000 (300 USDT): every entry is over 1 USDT of notional.
    tree.add_to_symbol("BTCUSDT", "[symbols.risk]\nmax_position_notional = 1.0\n");
    // ETHUSDT trades 0.15: over a 0.1 quantity limit.
    tree.add_to_symbol("ETHUSDT", "[symbols.risk]\nmax_position_quantity = 0.1\n");
    // Two more unrestricted symbols, so SOLUSDT has competition for the single position slot.
    tree.append_symbol(R"([[symbols]]
symbol = "ADAUSDT"
strategy = "bollinger_breakout"
interval = "1m"
window = 500
quantity = 500
[symbols.params]
period = 20
k = 2
[symbols.sim]
start_price = 0.5
volatility = 1.2

[[symbols]]
symbol = "XRPUSDT"
strategy = "bollinger_breakout"
interval = "1m"
window = 500
quantity = 400
[symbols.params]
period = 20
k = 1.5
[symbols.sim]
start_price = 0.6
volatility = 1.4)");
    daemon_run d(tree);
    const std::uint16_t port = d.port();
    INFO("stderr tail:\n" << d.err_tail());
    REQUIRE(port != 0);

    const auto refusals = [&](const std::string& symbol, const std::string& limit) {
        return count_if_records(tree.decisions(), [&](const nlohmann::json& r) {
            return r["event"] == "risk_refused" && r["symbol"] == symbol && r["reason"] == limit;
        });
    };
    // Sample /status while waiting: never more than one position open. A status assembled from
    // the runners' separately published snapshots can briefly show an exit's symbol as still
    // holding while another has just entered; a real breach persists, so it is re-read.
    std::size_t samples = 0;
    std::size_t max_open = 0;
    std::size_t max_book_open = 0;
    bool all_seen = false;
    const auto deadline = std::chrono::steady_clock::now() + 45s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto s = d.status();
        if (!s.is_object()) break;
        ++samples;
        if (open_positions(s).size() > 1) {
            std::this_thread::sleep_for(50ms);
            s = d.status();
            if (!s.is_object()) break;
        }
        max_open = std::max(max_open, open_positions(s).size());
        max_book_open = std::max(max_book_open, s["risk"]["open_positions"].get<std::size_t>());
        if (samples % 10 == 0 && refusals("BTCUSDT", "max_position_notional") > 0 &&
            refusals("ETHUSDT", "max_position_quantity") > 0 &&
            count_if_records(tree.decisions(),
                             [](const nlohmann::json& r) {
                                 return r["event"] == "risk_refused" &&
                                        r["reason"] == "max_open_positions";
                             }) > 0 &&
            samples >= 100) {
            all_seen = true;
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    CHECK(samples >= 100);
    CHECK_MESSAGE(all_seen, "not every limit refused an entry within 45 s");
    CHECK(max_open <= 1);
    CHECK(max_book_open <= 1);

    const auto records = tree.decisions();
    // The restricted symbols never entered; the refusals name the limit and the numbers.
    CHECK(count_if_records(records, [](const nlohmann::json& r) {
              return (r["symbol"] == "BTCUSDT" || r["symbol"] == "ETHUSDT") && opens_position(r);
          }) == 0);
    CHECK(refusals("BTCUSDT", "max_position_notional") > 0);
    CHECK(refusals("ETHUSDT", "max_position_quantity") > 0);
    for (const auto& r : records) {
        if (r["event"] != "risk_refused") continue;
        const std::string limit = r["reason"].get<std::string>();
        CHECK(r["message"].get<std::string>().find("entry refused by risk limit " + limit) == 0);
    }

    // /status and /metrics count the same refusals per symbol and limit: at least what the log
    // had before the reads (the runners publish right after writing), at most what it has after.
    using refusal_counts = std::map<std::pair<std::string, std::string>, std::uint64_t>;
    const auto count_refusals = [&] {
        refusal_counts out;
        for (const auto& r : tree.decisions()) {
            if (r["event"] == "risk_refused")
                ++out[{r["symbol"].get<std::string>(), r["reason"].get<std::string>()}];
        }
        return out;
    };
    const refusal_counts before = count_refusals();
    std::this_thread::sleep_for(200ms);
    const auto status = d.status();
    const std::string metrics = http_get(port, "/metrics").body;
    refusal_counts after_reads = count_refusals();
    REQUIRE(status.is_object());
    for (const auto& [key, n] : after_reads) {
        const auto& symbol = key.first;  // not a structured binding: CAPTURE's lambda (clang 14)
        const auto& limit = key.second;
        CAPTURE(symbol);
        CAPTURE(limit);
        const auto found = before.find(key);
        const std::uint64_t logged_before = found == before.end() ? 0 : found->second;
        const auto counted =
            symbol_status(status, symbol)["risk_refusals"].value(limit, std::uint64_t{0});
        CHECK(counted >= logged_before);
        CHECK(counted <= n);
        const auto metric = metric_value(metrics, "tradingd_risk_refusals_total",
                                         "symbol=\"" + symbol + "\",limit=\"" + limit + "\"");
        if (counted > 0) {
            REQUIRE(metric.has_value());
            CHECK(*metric >= static_cast<double>(counted));
            CHECK(*metric <= static_cast<double>(n));
        }
    }
    const auto code = d.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
}
