// The daemon as a service: a clean stop on SIGTERM whose summary matches the journal, and the
// systemd notification protocol (READY, STATUS, WATCHDOG, RELOADING, STOPPING).
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "service_fixture.hpp"

using namespace tradingd::testing;
using namespace tradingd::testing::service;

namespace {

/// One row of the summary table the daemon prints on stdout when it stops.
struct summary_row {
    std::string state;
    std::size_t trades = 0;
    double realised = 0;
};

/// Rows keyed by symbol: "symbol script state trades realised_pnl ..." after the header line.
std::map<std::string, summary_row> parse_summary(const std::string& out) {
    std::map<std::string, summary_row> rows;
    std::istringstream in(out);
    bool header_seen = false;
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string symbol, script;
        summary_row row;
        if (!(fields >> symbol >> script >> row.state)) continue;
        if (symbol == "symbol" && row.state == "state") {
            header_seen = true;
            continue;
        }
        if (header_seen && (fields >> row.trades >> row.realised)) rows[symbol] = row;
    }
    return rows;
}

/// The state the decision log implies per symbol: the `to` of its last transition.
std::map<std::string, std::string> logged_states(const std::vector<nlohmann::json>& records) {
    std::map<std::string, std::string> out;
    for (const auto& r : records)
        if (r["event"] == "transition") out[r["symbol"].get<std::string>()] = r["to"];
    return out;
}

/// A bound AF_UNIX datagram socket standing in for systemd's notify socket; a thread collects
/// every datagram with its arrival time.
class notify_socket {
public:
    explicit notify_socket(const fs::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX) failed");
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.string().size() >= sizeof addr.sun_path)
            throw std::runtime_error("notify socket path too long: " + path.string());
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("bind " + path.string() + ": " + std::strerror(errno));
        timeval tv{0, 50'000};  // lets the thread notice stop_
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        thread_ = std::thread([this] { receive(); });
    }
    ~notify_socket() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    std::vector<std::string> messages() const {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return messages_.size();
    }
    /// Index (>= from) of the first message that starts with `prefix`, waiting up to `timeout`.
    std::optional<std::size_t> find(const std::string& prefix, std::size_t from,
                                    std::chrono::milliseconds timeout) const {
        std::optional<std::size_t> found;
        wait_until(
            [&] {
                const auto all = messages();
                for (std::size_t i = from; i < all.size(); ++i) {
                    if (all[i].rfind(prefix, 0) == 0) {
                        found = i;
                        return true;
                    }
                }
                return false;
            },
            timeout, 10ms);
        return found;
    }
    std::size_t count(const std::string& exact, std::size_t from) const {
        const auto all = messages();
        std::size_t n = 0;
        for (std::size_t i = from; i < all.size(); ++i)
            n += all[i] == exact ? 1 : 0;
        return n;
    }

private:
    void receive() {
        char buf[4096];
        while (!stop_) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) continue;
            std::lock_guard lock(mutex_);
            messages_.emplace_back(buf, static_cast<std::size_t>(n));
        }
    }

    fs::path path_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> messages_;
    std::thread thread_;
};

}  // namespace

TEST_CASE("service: SIGTERM while trading stops cleanly; the summary matches the journal") {
    sim_tree tree;
    daemon_run d(tree);
    INFO("stderr tail:\n" << d.err_tail());
    // Stop while there is activity: after trades happened and with a position open.
    const bool active = wait_until(
        [&] {
            std::size_t exits = 0;
            const auto records = tree.decisions();
            for (const auto& r : records)
                exits += is_exit_fill(r) ? 1 : 0;
            if (exits == 0) return false;
            for (const auto& [symbol, state] : logged_states(records))
                if (state == "InPosition") return true;
            return false;
        },
        45s, 100ms);
    CHECK_MESSAGE(active, "no closed trade with a position open within 45 s");

    const auto stop_started = std::chrono::steady_clock::now();
    const auto code = d.stop(20s);
    const auto stop_took = std::chrono::steady_clock::now() - stop_started;
    const std::string out = d.out();
    const std::string err = d.err();
    INFO("stdout:\n" << out);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(stop_took < 20s);
    CHECK(err.find("stopping (SIGTERM)") != std::string::npos);
    CHECK(err.find("journal synced:") != std::string::npos);
    CHECK(err.find("stopped cleanly") != std::string::npos);
    CHECK(out.find("realised_pnl") != std::string::npos);

    const auto summary = parse_summary(out);
    REQUIRE(summary.size() == 3);
    const auto logged = logged_states(tree.decisions());
    std::size_t trades = 0;
    for (const auto& symbol : sim_symbols()) {
        CAPTURE(symbol);
        REQUIRE(summary.count(symbol) == 1);
        const auto found = logged.find(symbol);
        CHECK(summary.at(symbol).state == (found == logged.end() ? "Idle" : found->second));
        trades += summary.at(symbol).trades;
    }
    CHECK(trades > 0);

    // The journal, read back by `tradingd journal`, implies the state the summary printed.
    const fs::path journal_out = tree.dir.path() / "journal.json";
    child_process journal(
        {TRADINGD_BINARY, "journal", "--state-dir", tree.state_dir().string(), "--json"},
        journal_out, tree.dir.path() / "journal.err");
    const auto journal_code = journal.wait(20s);
    INFO("journal stderr:\n" << read_file(tree.dir.path() / "journal.err"));
    REQUIRE(journal_code.has_value());
    REQUIRE(*journal_code == 0);
    const auto state = nlohmann::json::parse(read_file(journal_out));
    for (const auto& symbol : sim_symbols()) {
        CAPTURE(symbol);
        const auto& runner = state["runners"][symbol];
        REQUIRE(runner.is_object());
        const summary_row& row = summary.at(symbol);
        CHECK(runner["phase"] == row.state);
        CHECK(runner["trades"].get<std::size_t>() == row.trades);
        // The summary prints 4 decimals.
        CHECK(std::fabs(runner["realized_pnl"].get<double>() - row.realised) < 1e-4 + 1e-9);
        CHECK(runner["position"].is_null() == (row.state != "InPosition"));
    }
}

TEST_CASE("service: systemd notifications: READY, WATCHDOG, RELOADING on SIGHUP, STOPPING") {
    sim_tree tree;
    const fs::path socket_path = tree.dir.path() / "notify.sock";
    notify_socket notify(socket_path);
    daemon_run d(tree, {"NOTIFY_SOCKET=" + socket_path.string(), "WATCHDOG_USEC=400000"});
    INFO("stderr tail:\n" << d.err_tail());
    INFO("notifications: " << nlohmann::json(notify.messages()).dump());

    const auto ready = notify.find("READY=1", 0, 15s);
    REQUIRE_MESSAGE(ready.has_value(), "no READY=1 within 15 s");
    const std::string ready_message = notify.messages()[*ready];
    CHECK(ready_message.find("\nSTATUS=3 symbols") != std::string::npos);
    CHECK(ready_message.find("journal ok") != std::string::npos);

    // With WatchdogSec = 0.4 s the daemon pings every ~0.2 s while healthy.
    const std::size_t before_pings = notify.size();
    std::this_thread::sleep_for(2s);
    CHECK(notify.count("WATCHDOG=1", before_pings) >= 3);

    // SIGHUP: RELOADING=1, then READY=1 again once the reload is done.
    const std::size_t before_hup = notify.size();
    d.process().signal(SIGHUP);
    const auto reloading = notify.find("RELOADING=1", before_hup, 10s);
    REQUIRE_MESSAGE(reloading.has_value(), "no RELOADING=1 after SIGHUP");
    const auto ready_again = notify.find("READY=1", *reloading + 1, 10s);
    CHECK_MESSAGE(ready_again.has_value(), "no READY=1 after RELOADING=1");
    CHECK(notify.count("READY=1", before_hup) == 0);  // READY carries a STATUS: never bare
    // Still pinging after the reload.
    const std::size_t after_reload = notify.size();
    CHECK(wait_until([&] { return notify.count("WATCHDOG=1", after_reload) >= 2; }, 2s, 20ms));

    // SIGTERM: STOPPING=1 and a clean exit.
    const std::size_t before_term = notify.size();
    const auto code = d.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(notify.find("STOPPING=1", before_term, 2s).has_value());
}

TEST_CASE("service: [daemon] log_file gets the same log as stderr") {
    sim_tree tree;
    tree.replace("log_level = \"info\"",
                 "log_level = \"info\"\nlog_file = \"../var/log/tradingd.log\"\n"
                 "log_file_max_mb = 1\nlog_file_count = 2");
    const fs::path log_dir = tree.dir.path() / "var" / "log";
    fs::create_directories(log_dir);
    daemon_run d(tree);
    const bool traded = wait_until(
        [&] { return read_file(log_dir / "tradingd.log").find("fill: ") != std::string::npos; },
        30s, 200ms);  // the file is flushed every second while running
    const auto code = d.stop();
    INFO(d.err_tail());
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(traded);
    const std::string file = read_file(log_dir / "tradingd.log");
    const std::string err = d.err();
    CHECK(file.find("stopped cleanly") != std::string::npos);  // flushed at exit
    // Every stderr line is in the file (the file's lines carry the logger name in brackets).
    const auto lines = [](const std::string& text) {
        return std::count(text.begin(), text.end(), '\n');
    };
    CHECK(lines(file) == lines(err));
    CHECK_FALSE(fs::exists(log_dir / "tradingd.1.log"));  // far below the 1 MiB rotation size
}
