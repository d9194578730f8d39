// The notifier speaks the sd_notify datagram protocol: these tests stand in for systemd by binding
// an AF_UNIX datagram socket, pointing NOTIFY_SOCKET at it and reading what arrives.
#include <doctest/doctest.h>
#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/service/systemd_notifier.hpp>

namespace {

using namespace std::chrono_literals;
using tradingd::service::systemd_notifier;

// Sets (or unsets) an environment variable for one test and restores the previous value.
class env_var {
public:
    env_var(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old;
        if (value) {
            ::setenv(name_.c_str(), value->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    ~env_var() {
        if (old_) {
            ::setenv(name_.c_str(), old_->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    env_var(const env_var&) = delete;
    env_var& operator=(const env_var&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

// A stand-in for systemd's notification socket.
class notify_socket {
public:
    notify_socket() {
        static std::atomic<int> counter{0};
        path_ = "/tmp/tradingd-notify-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter++) + ".sock";
        ::unlink(path_.c_str());
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
            ::close(fd_);
            throw std::runtime_error("bind " + path_ + ": " + std::strerror(errno));
        }
    }
    ~notify_socket() {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    const std::string& path() const { return path_; }

    /// The next datagram, or nullopt when none arrives within `timeout`.
    std::optional<std::string> receive(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n < 0) return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }

    /// Every datagram that arrives within `window`.
    std::vector<std::string> collect(std::chrono::milliseconds window) {
        std::vector<std::string> out;
        const auto until = std::chrono::steady_clock::now() + window;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left <= 0ms) break;
            if (auto d = receive(left)) out.push_back(*d);
        }
        return out;
    }

private:
    std::string path_;
    int fd_ = -1;
};

// The environment systemd sets up for a Type=notify unit with WatchdogSec (usec = 0: none).
struct systemd_env {
    systemd_env(const notify_socket& socket, const std::optional<std::string>& watchdog_usec)
        : notify("NOTIFY_SOCKET", socket.path()),
          usec("WATCHDOG_USEC", watchdog_usec),
          pid("WATCHDOG_PID", std::to_string(::getpid())) {}
    env_var notify;
    env_var usec;
    env_var pid;
};

struct captured_log {
    std::ostringstream out;
    std::shared_ptr<spdlog::logger> logger;
    captured_log() {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
        sink->set_pattern("%l %v");
        logger = std::make_shared<spdlog::logger>("service-test", sink);
        logger->set_level(spdlog::level::trace);
    }
    std::size_t count(const std::string& needle) const {
        const std::string text = out.str();
        std::size_t n = 0;
        for (auto pos = text.find(needle); pos != std::string::npos;
             pos = text.find(needle, pos + 1)) {
            ++n;
        }
        return n;
    }
};

// Polls `condition` for up to a second.
template <typename F>
bool eventually(F condition) {
    const auto until = std::chrono::steady_clock::now() + 1s;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

std::size_t count_pings(const std::vector<std::string>& datagrams) {
    std::size_t n = 0;
    for (const auto& d : datagrams)
        n += d == "WATCHDOG=1" ? 1 : 0;
    return n;
}

// A progress check the test can flip between "progress" ("") and a reason.
class switchable_check {
public:
    void set(std::string reason) {
        std::lock_guard lock(mutex_);
        reason_ = std::move(reason);
    }
    systemd_notifier::progress_check function() {
        return [this] {
            std::lock_guard lock(mutex_);
            ++calls_;
            return reason_;
        };
    }
    int calls() {
        std::lock_guard lock(mutex_);
        return calls_;
    }

private:
    std::mutex mutex_;
    std::string reason_;
    int calls_ = 0;
};

}  // namespace

TEST_CASE("service: ready, status, reloading and stopping reach the notification socket") {
    notify_socket socket;
    systemd_env env(socket, std::nullopt);
    systemd_notifier notifier;
    REQUIRE(notifier.enabled());
    CHECK(notifier.watchdog_interval() == 0us);

    notifier.ready("3 runners live, journal restored");
    CHECK(socket.receive(1s) == "READY=1\nSTATUS=3 runners live, journal restored");
    notifier.status("BTCUSDT: 12 trades");
    CHECK(socket.receive(1s) == "STATUS=BTCUSDT: 12 trades");
    notifier.reloading();
    CHECK(socket.receive(1s) == "RELOADING=1");
    notifier.ready("reloaded");
    CHECK(socket.receive(1s) == "READY=1\nSTATUS=reloaded");
    notifier.stopping();
    CHECK(socket.receive(1s) == "STOPPING=1");
    CHECK(socket.receive(50ms) == std::nullopt);
}

TEST_CASE("service: a multi-line status is flattened so it cannot inject assignments") {
    notify_socket socket;
    systemd_env env(socket, std::nullopt);
    systemd_notifier notifier;
    notifier.status("feed lost\nREADY=1\r\nretrying");
    CHECK(socket.receive(1s) == "STATUS=feed lost READY=1  retrying");
    notifier.ready("a\nb");
    CHECK(socket.receive(1s) == "READY=1\nSTATUS=a b");
}

TEST_CASE("service: without NOTIFY_SOCKET every call is a no-op and no watchdog thread starts") {
    notify_socket socket;  // exists, but the notifier is not told about it
    env_var notify("NOTIFY_SOCKET", std::nullopt);
    env_var usec("WATCHDOG_USEC", "200000");
    env_var pid("WATCHDOG_PID", std::to_string(::getpid()));
    captured_log log;
    systemd_notifier notifier(log.logger);
    CHECK_FALSE(notifier.enabled());
    CHECK(notifier.watchdog_interval() == 0us);

    switchable_check check;
    notifier.ready("up");
    notifier.status("up");
    notifier.reloading();
    notifier.stopping();
    notifier.start_watchdog(check.function());
    CHECK(socket.collect(300ms).empty());
    CHECK(check.calls() == 0);
    CHECK(notifier.watchdog_pings() == 0);
    notifier.stop_watchdog();
    CHECK(log.out.str().empty());
}

TEST_CASE("service: an empty NOTIFY_SOCKET counts as not started by systemd") {
    env_var notify("NOTIFY_SOCKET", "");
    systemd_notifier notifier;
    CHECK_FALSE(notifier.enabled());
}

TEST_CASE("service: WATCHDOG_USEC sets the interval only for the process named by WATCHDOG_PID") {
    notify_socket socket;
    SUBCASE("our pid") {
        systemd_env env(socket, "200000");
        systemd_notifier notifier;
        CHECK(notifier.watchdog_interval() == 200ms);
    }
    SUBCASE("no WATCHDOG_PID") {
        systemd_env env(socket, "30000000");
        env_var pid("WATCHDOG_PID", std::nullopt);
        systemd_notifier notifier;
        CHECK(notifier.watchdog_interval() == 30s);
    }
    SUBCASE("another process") {
        systemd_env env(socket, "200000");
        env_var pid("WATCHDOG_PID", std::to_string(::getpid() + 1));
        systemd_notifier notifier;
        CHECK(notifier.watchdog_interval() == 0us);
    }
}

TEST_CASE("service: without WatchdogSec start_watchdog starts nothing and sends no pings") {
    notify_socket socket;
    systemd_env env(socket, std::nullopt);
    systemd_notifier notifier;
    switchable_check check;
    notifier.start_watchdog(check.function());
    CHECK(socket.collect(250ms).empty());
    CHECK(check.calls() == 0);
    CHECK(notifier.watchdog_pings() == 0);
}

TEST_CASE("service: watchdog pings every half interval, withholds them while stuck, resumes") {
    notify_socket socket;
    systemd_env env(socket, "200000");  // WatchdogSec=200ms: a ping about every 100 ms
    captured_log log;
    systemd_notifier notifier(log.logger);
    REQUIRE(notifier.watchdog_interval() == 200ms);
    switchable_check check;
    notifier.start_watchdog(check.function());

    // Progress: the first ping comes at once, then one per ~100 ms.
    auto first = socket.receive(1s);
    REQUIRE(first.has_value());
    CHECK(*first == "WATCHDOG=1");
    const auto steady = socket.collect(450ms);
    CHECK(count_pings(steady) == steady.size());
    CHECK(count_pings(steady) >= 3);  // ~4 expected; slack for a loaded machine
    CHECK(count_pings(steady) <= 6);

    // Stuck: let any check already running finish, drop what it sent, then expect silence.
    check.set("BTCUSDT stuck in one event for 20 s");
    socket.collect(250ms);
    const auto calls_before = check.calls();
    CHECK(socket.collect(400ms).empty());
    CHECK(check.calls() - calls_before >= 2);  // it kept asking, it just did not ping
    CHECK(log.count("withholding the systemd watchdog ping: BTCUSDT stuck in one event") == 1);

    // Progress again: pings resume within one period and the recovery is logged.
    const auto pings_before = notifier.watchdog_pings();
    check.set("");
    auto resumed = socket.receive(500ms);
    REQUIRE(resumed.has_value());
    CHECK(*resumed == "WATCHDOG=1");
    // The counter is bumped just after the datagram goes out: give that thread a moment.
    CHECK(eventually([&] { return notifier.watchdog_pings() > pings_before; }));
    CHECK(log.count("progress resumed") == 1);

    // A second episode is logged again (once per episode, not once per process).
    check.set("ETHUSDT stuck");
    socket.collect(400ms);
    CHECK(log.count("withholding the systemd watchdog ping: ETHUSDT stuck") == 1);
    notifier.stop_watchdog();
}

TEST_CASE("service: the watchdog ping counter matches the pings sent") {
    notify_socket socket;
    systemd_env env(socket, "100000");
    systemd_notifier notifier;
    switchable_check check;
    notifier.start_watchdog(check.function());
    auto received = socket.collect(300ms);
    notifier.stop_watchdog();
    const auto rest = socket.collect(100ms);  // pings sent between collecting and stopping
    received.insert(received.end(), rest.begin(), rest.end());
    CHECK(count_pings(received) == received.size());
    CHECK(notifier.watchdog_pings() == received.size());
    CHECK(received.size() >= 3);
    CHECK(socket.collect(150ms).empty());  // stopped means stopped
}

TEST_CASE("service: stop_watchdog returns promptly even with a long interval") {
    notify_socket socket;
    systemd_env env(socket, "20000000");  // WatchdogSec=20s: the thread sleeps 10 s between pings
    systemd_notifier notifier;
    switchable_check check;
    notifier.start_watchdog(check.function());
    REQUIRE(socket.receive(1s) == "WATCHDOG=1");
    const auto start = std::chrono::steady_clock::now();
    notifier.stop_watchdog();
    CHECK(std::chrono::steady_clock::now() - start < 500ms);
    notifier.stop_watchdog();  // idempotent
    // Stopping is final: a later start does not bring the pings back.
    notifier.start_watchdog(check.function());
    CHECK(socket.collect(200ms).empty());
}

TEST_CASE("service: a second start_watchdog does not replace the first check") {
    notify_socket socket;
    systemd_env env(socket, "200000");
    systemd_notifier notifier;
    switchable_check first;
    switchable_check second;
    notifier.start_watchdog(first.function());
    notifier.start_watchdog(second.function());
    socket.collect(250ms);
    notifier.stop_watchdog();
    CHECK(first.calls() >= 2);
    CHECK(second.calls() == 0);
}

TEST_CASE("service: a throwing progress check withholds the ping and says why") {
    notify_socket socket;
    systemd_env env(socket, "200000");
    captured_log log;
    systemd_notifier notifier(log.logger);
    notifier.start_watchdog([]() -> std::string { throw std::runtime_error("runner table gone"); });
    CHECK(socket.collect(300ms).empty());
    notifier.stop_watchdog();
    CHECK(log.count("progress check failed: runner table gone") == 1);
    CHECK(notifier.watchdog_pings() == 0);
}

TEST_CASE("service: a failing notification socket is reported once, not per message") {
    env_var notify("NOTIFY_SOCKET",
                   "/tmp/tradingd-notify-no-such-socket-" + std::to_string(::getpid()) + ".sock");
    captured_log log;
    systemd_notifier notifier(log.logger);
    REQUIRE(notifier.enabled());
    notifier.status("one");
    notifier.status("two");
    notifier.ready("three");
    CHECK(log.count("sd_notify failed") == 1);
    CHECK(log.count("warning") == 1);
}
