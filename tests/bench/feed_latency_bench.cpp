// Feed-to-decision latency over loopback TLS: the mock exchange (tests/mock_exchange) streams
// klines and bookTickers to the real binance_feed, which hands events to a runner thread that
// runs the real runner_core (lua-strategies/sma_cross.lua). For every event that came from a
// frame, the runner thread records
//   to_step      frame received by the feed's network thread -> runner starts the step
//                (the strategy call for a closed candle, the auto-exit check for a quote)
//   to_decision  frame received -> the step is done (the decision is made)
// and the summary prints p50/p90/p99/max per event kind. Target: p99 <= 100 us.
//
//   build/tests/bench/feed_latency_bench [seconds]      (default 10)
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <mock_exchange.hpp>
#include <thread>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/spsc_queue.hpp>
#include <tradingd/feed/binance_feed.hpp>

using namespace tradingd;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::int64_t now_ns() {
    return std::chrono::steady_clock::now().time_since_epoch().count();
}

class null_decisions final : public engine::decision_sink {
public:
    void write(const engine::decision_record&) noexcept override {}
};

/// A runner thread like engine::symbol_runner, instrumented around runner_core::on_event.
class timed_runner final : public event_sink {
public:
    explicit timed_runner(engine::runner_core& core) : core_(core), queue_(4096) {
        thread_ = std::thread([this] { run(); });
    }
    ~timed_runner() override {
        queue_.close();
        thread_.join();
    }
    bool push(const market_event& e) override { return queue_.push(e); }
    offer_result offer(const market_event& e) override {
        const auto r = queue_.push_unless(e, [] { return true; });
        if (r == engine::spsc_queue<market_event>::push_result::pushed)
            return offer_result::accepted;
        return r == engine::spsc_queue<market_event>::push_result::closed ? offer_result::closed
                                                                          : offer_result::full;
    }
    struct samples {
        std::vector<double> to_step, to_decision;  // microseconds
    };
    samples candles, quotes;

private:
    void run() {
        while (auto e = queue_.pop()) {
            const std::int64_t start = now_ns();
            core_.on_event(*e);
            const std::int64_t done = now_ns();
            if (e->received_ns == 0 || e->warmup) continue;  // REST candles: no frame
            auto& s = e->kind == event_kind::candle_closed ? candles : quotes;
            if (e->kind == event_kind::candle_update) continue;
            s.to_step.push_back(static_cast<double>(start - e->received_ns) / 1e3);
            s.to_decision.push_back(static_cast<double>(done - e->received_ns) / 1e3);
        }
    }
    engine::runner_core& core_;
    engine::spsc_queue<market_event> queue_;
    std::thread thread_;
};

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
    return v[i];
}

void print(const char* what, const std::vector<double>& v) {
    std::printf("  %-28s n=%6zu  p50 %7.1f us  p90 %7.1f us  p99 %7.1f us  max %8.1f us\n", what,
                v.size(), pct(v, 50), pct(v, 90), pct(v, 99), pct(v, 100));
}

}  // namespace

int main(int argc, char** argv) {
    const int seconds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
    testing::mock_options o;
    o.symbols = {testing::mock_symbol{"BTCUSDT", "1m", 30'000}};
    o.history_candles = 300;
    o.candle_period = 10ms;  // 100 closed candles/s, 300 updates/s, 600 bookTickers/s
    o.updates_per_candle = 3;
    o.quotes_per_update = 2;
    testing::mock_exchange mock(o);
    mock.start();
    const fs::path dir =
        fs::temp_directory_path() / ("tradingd-latency-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const auto ca = mock.certificates().write(dir);

    config::symbol_config sym;
    sym.symbol = "BTCUSDT";
    sym.strategy = "sma_cross";
    sym.strategy_path = fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies" / "sma_cross.lua";
    sym.interval = "1m";
    sym.interval_ms = 60'000;
    sym.window = 1000;
    sym.quantity = 0.01;
    sym.params = {{"fast", std::int64_t{10}}, {"slow", std::int64_t{30}}};

    auto quiet =
        std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    null_decisions decisions;
    engine::runner_core core(sym, config::sandbox_config{}, config::paper_config{}, decisions,
                             quiet);
    timed_runner runner(core);

    config::binance_feed_config feed_cfg;
    const std::string host = "127.0.0.1:" + std::to_string(mock.port());
    feed_cfg.ws_url = "wss://" + host;
    feed_cfg.rest_url = "https://" + host;
    feed_cfg.ca_file = ca;
    feed_cfg.warmup_candles = 200;
    {
        feed::binance_feed feed(feed_cfg, {sym}, {&runner}, quiet);
        feed.start();
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        feed.stop();
    }
    mock.stop();
    fs::remove_all(dir);

    std::printf(
        "\nfeed-to-decision latency over loopback TLS (mock exchange, %d s, sma_cross.lua)\n",
        seconds);
    print("closed candle -> strategy call", runner.candles.to_step);
    print("closed candle -> decision done", runner.candles.to_decision);
    print("bookTicker -> auto-exit check", runner.quotes.to_step);
    print("bookTicker -> check done", runner.quotes.to_decision);
    std::printf("  target: p99 <= 100 us (frame received -> decision)\n");
    return runner.candles.to_step.empty() ? 1 : 0;
}
