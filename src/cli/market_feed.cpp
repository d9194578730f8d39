#include "market_feed.hpp"

#include <atomic>
#include <utility>

#include <tradingd/feed/binance_feed.hpp>
#include <tradingd/feed/sim_feed.hpp>

#include "logging.hpp"

namespace tradingd::cli {
namespace {

/// What both feeds share: start/stop with the running flag /status reports, and adding symbols.
template <class Feed>
class feed_adapter : public market_feed {
public:
    template <class... Args>
    explicit feed_adapter(Args&&... args) : feed_(std::forward<Args>(args)...) {}
    void start() override {
        feed_.start();
        running_.store(true, std::memory_order_release);
    }
    void stop() override {
        running_.store(false, std::memory_order_release);
        feed_.stop();
    }
    bool can_add_symbols() const override { return true; }
    void add_symbol(const config::symbol_config& symbol, event_sink* sink) override {
        feed_.add_symbol(symbol, sink);
    }

protected:
    status::feed_status base_status(const char* type) const {
        status::feed_status s;
        s.type = type;
        s.running = running_.load(std::memory_order_acquire);
        return s;
    }
    Feed feed_;

private:
    std::atomic<bool> running_{false};
};

class sim_market_feed final : public feed_adapter<feed::sim_feed> {
public:
    sim_market_feed(const config::daemon_settings& s, std::vector<event_sink*> sinks)
        : feed_adapter(s.feed.sim, s.symbols, std::move(sinks)), sim_(s.feed.sim) {}
    std::string describe() const override {
        return fmt::format("simulated feed (seed {}, speed {})", sim_.seed,
                           sim_.speed > 0 ? fmt::format("{:g}x", sim_.speed) : "max");
    }
    status::feed_status status() const override { return base_status("sim"); }
    bool connected() const override { return true; }

private:
    config::sim_feed_config sim_;
};

class binance_market_feed final : public feed_adapter<feed::binance_feed> {
public:
    binance_market_feed(const config::daemon_settings& s, std::vector<event_sink*> sinks)
        : feed_adapter(s.feed.binance, s.symbols, std::move(sinks), named_logger("binance")),
          ws_url_(s.feed.binance.ws_url) {}
    std::string describe() const override { return "Binance feed " + ws_url_; }
    status::feed_status status() const override {
        status::feed_status s = base_status("binance");
        const feed::binance_feed_stats stats = feed_.stats();
        for (const auto& c : stats.connections) {
            s.connections.push_back(
                {c.name, c.state, c.reconnects, c.last_message_age_ms, c.messages, c.last_error});
        }
        for (const auto& sym : stats.symbols)
            s.symbol_states.emplace_back(sym.symbol, sym.state);
        return s;
    }
    bool connected() const override {
        const feed::binance_feed_stats stats = feed_.stats();
        for (const auto& c : stats.connections) {
            if (c.state != "open") return false;
        }
        return !stats.connections.empty();
    }

private:
    std::string ws_url_;
};

}  // namespace

std::unique_ptr<market_feed> make_feed(const config::daemon_settings& s,
                                       std::vector<event_sink*> sinks) {
    if (s.feed.type == "binance") return std::make_unique<binance_market_feed>(s, std::move(sinks));
    return std::make_unique<sim_market_feed>(s, std::move(sinks));
}

}  // namespace tradingd::cli
