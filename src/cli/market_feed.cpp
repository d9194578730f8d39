#include "market_feed.hpp"

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <tradingd/feed/binance_feed.hpp>
#include <tradingd/feed/recording.hpp>
#include <tradingd/feed/replay_feed.hpp>
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

/// [feed] type = "replay": a recording played back; finishes at its end. Symbols cannot be
/// added while it runs (the recording decides which symbols have events).
class replay_market_feed final : public market_feed {
public:
    replay_market_feed(const config::daemon_settings& s, std::vector<event_sink*> sinks)
        : feed_(s.feed.replay, s.symbols, std::move(sinks)), replay_(s.feed.replay) {}
    void start() override {
        feed_.start();
        running_.store(true, std::memory_order_release);
    }
    void stop() override {
        running_.store(false, std::memory_order_release);
        feed_.stop();
    }
    std::string describe() const override {
        const auto& sum = feed_.summary();
        return fmt::format("replay of {} ({} events, {:.1f} s recorded, speed {})",
                           replay_.data.string(), sum.total_events,
                           static_cast<double>(sum.duration_ns) / 1e9,
                           replay_.speed > 0 ? fmt::format("{:g}x", replay_.speed) : "max");
    }
    bool can_add_symbols() const override { return false; }
    void add_symbol(const config::symbol_config& symbol, event_sink*) override {
        throw std::runtime_error("a replay cannot add " + symbol.symbol + " while running");
    }
    status::feed_status status() const override {
        status::feed_status s;
        s.type = "replay";
        s.running = running_.load(std::memory_order_acquire) && !feed_.finished();
        return s;
    }
    bool connected() const override { return true; }
    bool finished() const override { return feed_.finished(); }

private:
    feed::replay_feed feed_;
    config::replay_feed_config replay_;
    std::atomic<bool> running_{false};
};

std::unique_ptr<market_feed> make_plain_feed(const config::daemon_settings& s,
                                             std::vector<event_sink*> sinks) {
    if (s.feed.type == "binance") return std::make_unique<binance_market_feed>(s, std::move(sinks));
    if (s.feed.type == "replay") return std::make_unique<replay_market_feed>(s, std::move(sinks));
    return std::make_unique<sim_market_feed>(s, std::move(sinks));
}

/// [feed] record: the configured feed, delivering through recording_sinks so the recording holds
/// exactly what the runners accepted. Stopping the feed closes (flushes) the recording.
class recording_market_feed final : public market_feed {
public:
    recording_market_feed(const config::daemon_settings& s, std::vector<event_sink*> sinks) {
        std::vector<std::string> names;
        for (const auto& sym : s.symbols)
            names.push_back(sym.symbol);
        writer_ =
            std::make_unique<feed::recording_writer>(s.feed.record, names, named_logger("record"));
        std::vector<event_sink*> wrapped;
        for (std::size_t i = 0; i < sinks.size(); ++i) {
            sinks_.push_back(std::make_unique<feed::recording_sink>(*sinks[i], *writer_,
                                                                    static_cast<std::uint32_t>(i)));
            wrapped.push_back(sinks_.back().get());
        }
        inner_ = make_plain_feed(s, std::move(wrapped));
    }
    void start() override { inner_->start(); }
    void stop() override {
        inner_->stop();
        writer_->close();
    }
    std::string describe() const override {
        return inner_->describe() + ", recording to " + writer_->path().string();
    }
    bool can_add_symbols() const override { return inner_->can_add_symbols(); }
    void add_symbol(const config::symbol_config& symbol, event_sink* sink) override {
        const std::uint32_t index = writer_->add_symbol(symbol.symbol);
        auto wrapped = std::make_unique<feed::recording_sink>(*sink, *writer_, index);
        inner_->add_symbol(symbol, wrapped.get());
        sinks_.push_back(std::move(wrapped));
    }
    status::feed_status status() const override { return inner_->status(); }
    bool connected() const override { return inner_->connected(); }
    bool finished() const override { return inner_->finished(); }

private:
    // Declared in this order so the feed (which uses the sinks, which use the writer) goes first.
    std::unique_ptr<feed::recording_writer> writer_;
    std::vector<std::unique_ptr<feed::recording_sink>> sinks_;
    std::unique_ptr<market_feed> inner_;
};

}  // namespace

std::unique_ptr<market_feed> make_feed(const config::daemon_settings& s,
                                       std::vector<event_sink*> sinks) {
    if (s.feed.record.empty()) return make_plain_feed(s, std::move(sinks));
    std::error_code ec;
    if (s.feed.type == "replay" &&
        std::filesystem::equivalent(s.feed.record, s.feed.replay.data, ec)) {
        throw std::runtime_error("the recording to write (" + s.feed.record.string() +
                                 ") is the recording being replayed");
    }
    return std::make_unique<recording_market_feed>(s, std::move(sinks));
}

}  // namespace tradingd::cli
