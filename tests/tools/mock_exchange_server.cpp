// mock_exchange_server: the mock Binance exchange (tests/mock_exchange) as a standalone process,
// for soak runs of the real daemon (scripts/soak.sh) and for trying the daemon by hand.
//
//   mock_exchange_server --symbols BTCUSDT,ETHUSDT --candle-ms 250 --port 0 --ca-dir DIR
//                        --disconnect-every 30 --stall-s 3 --candles-out FILE
//
// stdout (line-buffered, one event per line, local time as the daemon logs it):
//   <date> <time> ready port=<port> ca_file=<path>
//   <date> <time> fault <n> <kind>           kind: close_abruptly | close_with_code_1001 | stall
//   <date> <time> stall end
//   <date> <time> quiesced                    (SIGUSR1, after the candle file is written)
//   <date> <time> stopped                     (SIGTERM/SIGINT, after the candle file is written)
//
// Signals: SIGUSR1 quiesces (no more faults, stall lifted, candle production frozen) and writes
// the candle file, so a soak can let the daemon catch up and then compare everything; SIGTERM /
// SIGINT write the candle file and exit 0.
//
// Candle file: one line per closed candle, "<SYMBOL> <open_time_ms>", every symbol in order,
// history included; written to a temporary file and renamed, so a reader never sees half of it.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mock_exchange.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono;
using tradingd::testing::mock_exchange;
using tradingd::testing::mock_options;
using tradingd::testing::mock_symbol;

namespace {

struct server_options {
    std::vector<std::string> symbols{"BTCUSDT", "ETHUSDT", "SOLUSDT"};
    std::string interval = "1m";
    std::int64_t candle_ms = 250;
    std::uint16_t port = 0;
    std::string ca_dir = ".";
    std::string candles_out;
    double disconnect_every_s = 0;  ///< 0: no forced faults
    double stall_s = 3;
    std::int32_t history_candles = 600;
    std::optional<std::int64_t> start_time_ms;
    std::uint64_t seed = 7;
};

/// "2024-05-01 15:04:55.123": the daemon's log time format, so the two logs can be lined up.
std::string now_text() {
    const auto now = system_clock::now();
    const std::time_t secs = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm local{};
    localtime_r(&secs, &local);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
    std::snprintf(buf + n, sizeof buf - n, ".%03lld", static_cast<long long>(ms));
    return buf;
}

void say(const std::string& text) {
    std::cout << now_text() << ' ' << text << std::endl;  // endl: the soak script tails this
}

/// A price that keeps the generated prices in a plausible range for the example strategies.
double start_price_for(const std::string& symbol) {
    if (symbol.rfind("BTC", 0) == 0) return 30'000;
    if (symbol.rfind("ETH", 0) == 0) return 2'000;
    return 100;
}

void write_candles(const mock_exchange& mock, const server_options& opt) {
    if (opt.candles_out.empty()) return;
    const fs::path target(opt.candles_out);
    const fs::path tmp = target.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) throw std::runtime_error("cannot write " + tmp.string());
        for (const auto& symbol : opt.symbols) {
            for (const auto& c : mock.closed_candles(symbol))
                out << symbol << ' ' << c.open_time << '\n';
        }
        out.flush();
        if (!out) throw std::runtime_error("write failed: " + tmp.string());
    }
    fs::rename(tmp, target);
}

/// The forced faults in rotation: the three ways a Binance connection dies in practice.
class fault_schedule {
public:
    fault_schedule(mock_exchange& mock, const server_options& opt)
        : mock_(mock),
          every_(duration<double>(opt.disconnect_every_s)),
          stall_for_(duration<double>(opt.stall_s)),
          next_fault_(steady_clock::now() +
                      duration_cast<steady_clock::duration>(duration<double>(every_))) {}

    bool enabled() const { return every_.count() > 0 && !quiesced_; }

    /// Runs whatever is due; returns the time until the next action.
    steady_clock::duration poll() {
        const auto now = steady_clock::now();
        if (stall_end_ && now >= *stall_end_) {
            mock_.stall_data(false);
            stall_end_.reset();
            say("stall end");
        }
        if (enabled() && now >= next_fault_) {
            inject();
            next_fault_ += duration_cast<steady_clock::duration>(every_);
            if (next_fault_ <= now)
                next_fault_ = now + duration_cast<steady_clock::duration>(every_);
        }
        auto next = steady_clock::time_point::max();
        if (enabled()) next = next_fault_;
        if (stall_end_) next = std::min(next, *stall_end_);
        if (next == steady_clock::time_point::max()) return seconds(1);
        return std::max<steady_clock::duration>(next - steady_clock::now(), milliseconds(1));
    }

    /// No more faults; lifts a stall in progress.
    void quiesce() {
        quiesced_ = true;
        if (stall_end_) {
            mock_.stall_data(false);
            stall_end_.reset();
            say("stall end");
        }
    }

private:
    void inject() {
        ++count_;
        switch (count_ % 3) {
            case 1:
                say("fault " + std::to_string(count_) + " close_abruptly");
                mock_.close_abruptly();
                break;
            case 2:
                say("fault " + std::to_string(count_) + " close_with_code_1001");
                mock_.close_with_code(1001);
                break;
            default:
                say("fault " + std::to_string(count_) + " stall");
                mock_.stall_data(true);
                stall_end_ =
                    steady_clock::now() + duration_cast<steady_clock::duration>(stall_for_);
                break;
        }
    }

    mock_exchange& mock_;
    duration<double> every_;
    duration<double> stall_for_;
    steady_clock::time_point next_fault_;
    std::optional<steady_clock::time_point> stall_end_;
    std::uint64_t count_ = 0;
    bool quiesced_ = false;
};

mock_options to_mock_options(const server_options& opt) {
    mock_options mo;
    mo.symbols.clear();
    for (const auto& s : opt.symbols)
        mo.symbols.push_back(mock_symbol{s, opt.interval, start_price_for(s)});
    mo.port = opt.port;
    mo.candle_period = milliseconds(opt.candle_ms);
    mo.history_candles = opt.history_candles;
    mo.start_time = opt.start_time_ms;
    mo.seed = opt.seed;
    // The certificates must outlive the longest soak; the default (2 days) would not.
    mo.certificate_days = 30;
    return mo;
}

int serve(const server_options& opt) {
    // Block the signals before the exchange starts its threads, so they all inherit the mask and
    // only sigtimedwait() below sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    mock_exchange mock(to_mock_options(opt));
    mock.start();
    fs::create_directories(opt.ca_dir);
    const fs::path ca = mock.certificates().write(opt.ca_dir);
    say("ready port=" + std::to_string(mock.port()) + " ca_file=" + fs::absolute(ca).string());

    fault_schedule faults(mock, opt);
    for (;;) {
        const auto wait = duration_cast<nanoseconds>(faults.poll());
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(wait.count() / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(wait.count() % 1'000'000'000);
        const int sig = sigtimedwait(&signals, nullptr, &ts);
        if (sig == SIGUSR1) {
            faults.quiesce();
            mock.pause_production(true);
            write_candles(mock, opt);
            say("quiesced");
        } else if (sig == SIGTERM || sig == SIGINT) {
            write_candles(mock, opt);
            const auto st = mock.stats();
            say("stopped ws_connections=" + std::to_string(st.ws_connections_accepted) +
                " rest_requests=" + std::to_string(st.rest_requests));
            mock.stop();
            return 0;
        }
        // sig < 0: timeout (EAGAIN) or EINTR; poll() again.
    }
}

}  // namespace

int main(int argc, char** argv) {
    server_options opt;
    CLI::App app{"The mock Binance exchange (TLS WebSocket + REST on 127.0.0.1) as a process",
                 "mock_exchange_server"};
    app.add_option("--symbols", opt.symbols, "Symbols (comma-separated, upper case)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--interval", opt.interval, "Candle interval of every symbol")
        ->capture_default_str();
    app.add_option("--candle-ms", opt.candle_ms, "Wall time per new candle, milliseconds")
        ->check(CLI::Range(std::int64_t{10}, std::int64_t{3'600'000}))
        ->capture_default_str();
    app.add_option("--port", opt.port, "TCP port on 127.0.0.1 (0: any free port, printed)")
        ->capture_default_str();
    app.add_option("--ca-dir", opt.ca_dir, "Directory to write ca.pem (+ server cert/key) into")
        ->capture_default_str();
    app.add_option("--candles-out", opt.candles_out,
                   "File to write the closed candles to on SIGUSR1 / SIGTERM");
    app.add_option("--disconnect-every", opt.disconnect_every_s,
                   "Force a fault every this many seconds, rotating close_abruptly, "
                   "close_with_code(1001), stall (0: never)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--stall-s", opt.stall_s, "How long a stall fault withholds market data, s")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--history-candles", opt.history_candles, "Candles of history served by REST")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
    app.add_option("--start-time-ms", opt.start_time_ms,
                   "Open time of the first history candle, epoch ms (default: now - 48 h; a "
                   "long run at a short --candle-ms needs an earlier start so candles stay in "
                   "the past)");
    app.add_option("--seed", opt.seed, "Price walk seed")->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (opt.symbols.empty()) {
        std::cerr << "mock_exchange_server: --symbols is empty\n";
        return 2;
    }
    if (opt.disconnect_every_s > 0 && opt.stall_s >= opt.disconnect_every_s) {
        std::cerr << "mock_exchange_server: --stall-s must be shorter than --disconnect-every\n";
        return 2;
    }
    try {
        return serve(opt);
    } catch (const std::exception& e) {
        std::cerr << "mock_exchange_server: " << e.what() << '\n';
        return 1;
    }
}
