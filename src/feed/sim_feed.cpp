#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <tradingd/feed/sim_feed.hpp>

namespace tradingd::feed {

namespace {

constexpr double ms_per_year = 365.0 * 24 * 3600 * 1000;

std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// Mixes the feed seed with the symbol index so every symbol gets an independent stream, and
// adding a symbol does not change the others' streams.
std::uint64_t symbol_seed(std::uint64_t seed, std::uint32_t index) noexcept {
    return splitmix64(seed ^ ((static_cast<std::uint64_t>(index) + 1) * 0x9E3779B97F4A7C15ULL));
}

// Uniform in [0, 1) from the top 53 bits: exact and the same on every platform, unlike
// std::uniform_real_distribution whose algorithm is implementation-defined.
double unit_uniform(std::mt19937_64& rng) noexcept {
    return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

void check_params(const config::sim_feed_config& feed, const config::symbol_config& symbol) {
    const std::string who = "sim feed, symbol '" + symbol.symbol + "': ";
    const auto& p = symbol.sim;
    if (feed.ticks_per_candle < 1)
        throw std::invalid_argument(who + "ticks_per_candle must be >= 1");
    if (feed.warmup_candles < 0) throw std::invalid_argument(who + "warmup_candles must be >= 0");
    if (symbol.interval_ms <= 0) throw std::invalid_argument(who + "interval_ms must be > 0");
    if (!std::isfinite(p.start_price) || p.start_price <= 0) {
        throw std::invalid_argument(who + "start_price must be finite and > 0");
    }
    if (!std::isfinite(p.drift)) throw std::invalid_argument(who + "drift must be finite");
    if (!std::isfinite(p.volatility) || p.volatility < 0) {
        throw std::invalid_argument(who + "volatility must be finite and >= 0");
    }
    // A spread of 100% or more would put the bid at or below zero.
    if (!std::isfinite(p.spread_bps) || p.spread_bps < 0 || p.spread_bps >= 2e4) {
        throw std::invalid_argument(who + "spread_bps must be in [0, 20000)");
    }
}

// Maps event time to wall time for speed > 0. The clock starts at the first live event, so
// warm-up history (not paced) does not delay live trading.
class pacer {
public:
    explicit pacer(double speed) noexcept : speed_(speed) {}

    /// Waits until event time `t` is due. Returns false when asked to stop while waiting.
    bool wait_until_due(timestamp_ms t, const std::atomic<bool>& stop) {
        using clock = std::chrono::steady_clock;
        if (speed_ <= 0) return true;
        if (!started_) {
            started_ = true;
            first_event_ = t;
            start_wall_ = clock::now();
            return true;
        }
        const std::chrono::duration<double, std::milli> offset(
            static_cast<double>(t - first_event_) / speed_);
        const auto due = start_wall_ + std::chrono::ceil<clock::duration>(offset);
        // Small slices keep stop() responsive even at slow speeds.
        constexpr auto slice = std::chrono::milliseconds(20);
        for (auto now = clock::now(); now < due; now = clock::now()) {
            if (stop.load(std::memory_order_relaxed)) return false;
            std::this_thread::sleep_for(std::min<clock::duration>(due - now, slice));
        }
        return true;
    }

private:
    double speed_;
    bool started_ = false;
    timestamp_ms first_event_ = 0;
    std::chrono::steady_clock::time_point start_wall_{};
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// sim_generator

sim_generator::sim_generator(const config::sim_feed_config& feed,
                             const config::symbol_config& symbol, std::uint32_t symbol_index)
    : rng_((check_params(feed, symbol), symbol_seed(feed.seed, symbol_index))),
      symbol_index_(symbol_index),
      ticks_per_candle_(feed.ticks_per_candle),
      warmup_candles_(feed.warmup_candles),
      interval_ms_(symbol.interval_ms),
      half_spread_(symbol.sim.spread_bps / 2e4),
      mid_(symbol.sim.start_price) {
    const double vol = symbol.sim.volatility;
    const double dt = static_cast<double>(interval_ms_) / ticks_per_candle_ / ms_per_year;
    step_drift_ = (symbol.sim.drift - vol * vol / 2) * dt;
    step_vol_ = vol * std::sqrt(dt);
    bid_ = mid_ * (1 - half_spread_);
    ask_ = mid_ * (1 + half_spread_);
    forming_.open_time = feed.start_time;
    forming_.close_time = feed.start_time + interval_ms_ - 1;
    pending_ = produce();
}

market_event sim_generator::next() {
    market_event e = pending_;
    pending_ = produce();
    return e;
}

timestamp_ms sim_generator::peek_time() const noexcept {
    return pending_.ts;
}

market_event sim_generator::produce() {
    if (candles_done_ < warmup_candles_) {
        // Warm-up: the same GBM path, but only the finished candle is emitted.
        for (std::int32_t k = 0; k < ticks_per_candle_; ++k)
            tick();
        const market_event e = make_event(event_kind::candle_closed, forming_.close_time, true);
        finish_candle();
        return e;
    }
    switch (stage_) {
        case stage::quote:
            tick();
            stage_ = stage::update;
            return make_event(event_kind::quote, tick_time(tick_ - 1), false);
        case stage::update:
            stage_ = tick_ == ticks_per_candle_ ? stage::closed : stage::quote;
            return make_event(event_kind::candle_update, tick_time(tick_ - 1), false);
        case stage::closed:
            break;
    }
    const market_event e = make_event(event_kind::candle_closed, forming_.close_time, false);
    finish_candle();
    stage_ = stage::quote;
    return e;
}

void sim_generator::tick() {
    const double z = normal_(rng_);
    mid_ *= std::exp(step_drift_ + step_vol_ * z);
    bid_ = mid_ * (1 - half_spread_);
    ask_ = mid_ * (1 + half_spread_);
    if (tick_ == 0) {
        forming_.open = forming_.high = forming_.low = mid_;
        forming_.volume = 0;
    } else {
        forming_.high = std::max(forming_.high, mid_);
        forming_.low = std::min(forming_.low, mid_);
    }
    forming_.close = mid_;
    // Strictly positive, so every tick is visible as traded volume.
    forming_.volume += 0.5 + unit_uniform(rng_);
    ++tick_;
}

void sim_generator::finish_candle() noexcept {
    ++candles_done_;
    tick_ = 0;
    forming_.open_time += interval_ms_;
    forming_.close_time += interval_ms_;
}

timestamp_ms sim_generator::tick_time(std::int32_t k) const noexcept {
    // Ticks are spread evenly over the candle; the last one is before close_time.
    return forming_.open_time + k * interval_ms_ / ticks_per_candle_;
}

market_event sim_generator::make_event(event_kind kind, timestamp_ms ts,
                                       bool warmup) const noexcept {
    market_event e;
    e.kind = kind;
    e.warmup = warmup;
    e.symbol = symbol_index_;
    e.ts = ts;
    e.bar = forming_;
    e.bid = bid_;
    e.ask = ask_;
    return e;
}

// ---------------------------------------------------------------------------------------------
// sim_feed

sim_feed::sim_feed(const config::sim_feed_config& feed,
                   const std::vector<config::symbol_config>& symbols,
                   std::vector<event_sink*> sinks)
    : feed_(feed), sinks_(std::move(sinks)) {
    if (sinks_.size() != symbols.size()) {
        throw std::invalid_argument("sim feed: " + std::to_string(symbols.size()) +
                                    " symbols but " + std::to_string(sinks_.size()) + " sinks");
    }
    if (std::find(sinks_.begin(), sinks_.end(), nullptr) != sinks_.end()) {
        throw std::invalid_argument("sim feed: null sink");
    }
    if (!std::isfinite(feed_.speed) || feed_.speed < 0) {
        throw std::invalid_argument("sim feed: speed must be finite and >= 0 (0 = no pacing)");
    }
    gens_.reserve(symbols.size());
    names_.reserve(symbols.size());
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        gens_.emplace_back(feed_, symbols[i], static_cast<std::uint32_t>(i));
        names_.push_back(symbols[i].symbol);
    }
    symbol_count_ = static_cast<std::uint32_t>(symbols.size());
}

void sim_feed::add_symbol(const config::symbol_config& symbol, event_sink* sink) {
    if (sink == nullptr) throw std::invalid_argument("sim feed: null sink");
    if (symbol.interval_ms <= 0) throw std::invalid_argument("sim feed: interval_ms must be > 0");
    const timestamp_ms warmup_span = feed_.warmup_candles * symbol.interval_ms;
    timestamp_ms now = live_time_.load(std::memory_order_acquire);
    if (now == 0) now = feed_.start_time + warmup_span;  // nothing live yet: start with the others
    // Live candles start at the next boundary of the symbol's interval; history ends there.
    const timestamp_ms boundary =
        (now + symbol.interval_ms - 1) / symbol.interval_ms * symbol.interval_ms;
    config::sim_feed_config shifted = feed_;
    shifted.start_time = std::max<timestamp_ms>(0, boundary - warmup_span);
    std::lock_guard lock(add_mutex_);
    added_.push_back(
        added_symbol{sim_generator(shifted, symbol, symbol_count_), sink, symbol.symbol});
    ++symbol_count_;
    added_pending_.store(true, std::memory_order_release);
}

void sim_feed::adopt_added(std::vector<bool>& open, std::size_t& open_count) {
    std::lock_guard lock(add_mutex_);
    for (auto& a : added_) {
        gens_.push_back(a.gen);
        sinks_.push_back(a.sink);
        names_.push_back(std::move(a.name));
        open.push_back(true);
        ++open_count;
        spdlog::info("sim feed: now also generating {}", names_.back());
    }
    added_.clear();
    added_pending_.store(false, std::memory_order_release);
}

sim_feed::~sim_feed() {
    stop();
}

void sim_feed::start() {
    if (started_) throw std::logic_error("sim feed: start() called twice");
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

void sim_feed::stop() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
}

void sim_feed::run() {
    std::vector<bool> open(sinks_.size(), true);
    std::size_t open_count = sinks_.size();
    pacer pace(feed_.speed);
    while (!stop_.load(std::memory_order_relaxed)) {
        if (added_pending_.load(std::memory_order_acquire)) adopt_added(open, open_count);
        if (open_count == 0) break;
        // Earliest event first; ties go to the lowest index, so the order is deterministic.
        std::size_t pick = 0;
        timestamp_ms best = std::numeric_limits<timestamp_ms>::max();
        for (std::size_t i = 0; i < gens_.size(); ++i) {
            if (open[i] && gens_[i].peek_time() < best) {
                best = gens_[i].peek_time();
                pick = i;
            }
        }
        const market_event e = gens_[pick].next();
        if (!e.warmup && !pace.wait_until_due(e.ts, stop_)) break;
        if (!sinks_[pick]->push(e)) {
            open[pick] = false;
            --open_count;
            spdlog::info("sim feed: sink for {} closed, no more events sent to it", names_[pick]);
            continue;
        }
        sent_.fetch_add(1, std::memory_order_relaxed);
        if (!e.warmup) live_time_.store(e.ts, std::memory_order_release);
    }
}

}  // namespace tradingd::feed
