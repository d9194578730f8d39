#pragma once
// A binance_feed wired to a mock exchange on 127.0.0.1, with sinks that record what the
// runners would receive, and a log sink the tests can search.
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mock_exchange.hpp>
#include <mutex>
#include <test_support.hpp>

#include <tradingd/feed/binance_feed.hpp>

namespace tradingd::testing {

/// Records events; offer() reports `full` while `blocked` is set (a busy runner).
class recording_sink final : public event_sink {
public:
    bool push(const market_event& e) override {
        std::lock_guard lock(m_);
        events_.push_back(e);
        return true;
    }
    offer_result offer(const market_event& e) override {
        if (blocked.load()) return offer_result::full;
        return push(e) ? offer_result::accepted : offer_result::closed;
    }
    std::vector<candle> closed(bool include_warmup = true) const {
        std::lock_guard lock(m_);
        std::vector<candle> out;
        for (const auto& e : events_)
            if (e.kind == event_kind::candle_closed && (include_warmup || !e.warmup))
                out.push_back(e.bar);
        return out;
    }
    std::size_t count(event_kind k) const {
        std::lock_guard lock(m_);
        std::size_t n = 0;
        for (const auto& e : events_)
            n += e.kind == k;
        return n;
    }
    std::atomic<bool> blocked{false};

private:
    mutable std::mutex m_;
    std::vector<market_event> events_;
};

class capture_log_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    bool contains(const std::string& needle) {
        std::lock_guard lock(mutex_);
        for (const auto& l : lines_)
            if (l.find(needle) != std::string::npos) return true;
        return false;
    }
    std::string all() {
        std::lock_guard lock(mutex_);
        std::string s;
        for (const auto& l : lines_)
            s += l + "\n";
        return s;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    void flush_() override {}

private:
    std::vector<std::string> lines_;
};

struct feed_rig {
    temp_dir dir;
    mock_exchange mock;
    config::binance_feed_config settings;
    std::vector<config::symbol_config> symbols;
    std::vector<std::unique_ptr<recording_sink>> sinks;
    std::shared_ptr<capture_log_sink> log_sink = std::make_shared<capture_log_sink>();
    std::unique_ptr<feed::binance_feed> feed;

    explicit feed_rig(mock_options options, std::vector<std::string> subscribe = {})
        : mock(options) {
        mock.start();
        const auto ca = mock.certificates().write(dir.path());
        const std::string host = "127.0.0.1:" + std::to_string(mock.port());
        settings.ws_url = "wss://" + host;
        settings.rest_url = "https://" + host;
        settings.ca_file = ca;
        settings.warmup_candles = 20;
        settings.connect_timeout_ms = 2'000;
        settings.idle_timeout_ms = 4'000;
        settings.data_timeout_ms = 1'500;
        settings.reconnect_initial_ms = 100;
        settings.reconnect_max_ms = 1'000;
        settings.rest_timeout_ms = 3'000;
        if (subscribe.empty())
            for (const auto& s : options.symbols)
                subscribe.push_back(s.symbol);
        for (const auto& name : subscribe) {
            config::symbol_config c;
            c.symbol = name;
            c.interval = "1m";
            c.interval_ms = 60'000;
            c.window = 100;
            symbols.push_back(c);
            sinks.push_back(std::make_unique<recording_sink>());
        }
    }

    void start() {
        std::vector<event_sink*> raw;
        for (auto& s : sinks)
            raw.push_back(s.get());
        auto logger = std::make_shared<spdlog::logger>("binance-test", log_sink);
        logger->set_level(spdlog::level::debug);
        feed = std::make_unique<feed::binance_feed>(settings, symbols, raw, logger);
        feed->start();
    }

    /// Waits until symbol `i` has received every candle the exchange closed so far, up to the
    /// exchange's latest (but at least `min_live` live ones), then checks exactly-once order.
    /// `value_mismatches`: candles allowed to differ in value (closed by the next candle's first
    /// message when the exchange never sent their x:true).
    void expect_exactly_once(std::size_t i, std::size_t min_live, std::size_t value_mismatches = 0,
                             std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        const auto& name = symbols[i].symbol;
        const bool caught_up = wait_until(
            [&] {
                const auto got = sinks[i]->closed(false);
                const auto all = mock.closed_candles(name);
                return got.size() >= min_live && !all.empty() &&
                       sinks[i]->closed().back().open_time >= all[all.size() - 2].open_time;
            },
            timeout);
        INFO(log_sink->all());
        REQUIRE(caught_up);
        const auto got = sinks[i]->closed();
        const auto all = mock.closed_candles(name);
        // The delivered sequence must be exactly the exchange's, from the first one delivered.
        std::size_t k = 0;
        while (k < all.size() && all[k].open_time != got.front().open_time)
            ++k;
        REQUIRE(k < all.size());
        std::size_t differing = 0;
        for (std::size_t j = 0; j < got.size(); ++j) {
            REQUIRE(k + j < all.size());
            REQUIRE(got[j].open_time == all[k + j].open_time);  // once, in order, no hole
            const auto& want = all[k + j];
            differing += got[j].close != want.close || got[j].high != want.high ||
                         got[j].low != want.low || got[j].volume != want.volume;
        }
        CHECK(differing <= value_mismatches);
    }

    feed::connection_stats conn(std::size_t k = 0) const {
        const auto st = feed->stats();
        return k < st.connections.size() ? st.connections[k] : feed::connection_stats{};
    }
};

inline mock_options fast_market(std::vector<std::string> names = {"BTCUSDT"}) {
    mock_options o;
    o.symbols.clear();
    double price = 100;
    for (const auto& n : names) {
        mock_symbol s;
        s.symbol = n;
        s.interval = "1m";
        s.start_price = price;
        price *= 3;
        o.symbols.push_back(s);
    }
    o.history_candles = 200;
    o.candle_period = std::chrono::milliseconds(60);
    return o;
}

}  // namespace tradingd::testing
