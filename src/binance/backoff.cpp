#include <algorithm>
#include <cmath>

#include <tradingd/binance/backoff.hpp>

namespace tradingd::binance {

namespace {

using std::chrono::milliseconds;

backoff_policy sanitised(backoff_policy p) {
    // Nautilus bounds the factor to [1, 100] "to prevent reconnect spam"; negative durations would
    // make the arithmetic below meaningless, so they count as zero.
    p.factor = std::clamp(std::isfinite(p.factor) ? p.factor : 1.0, 1.0, 100.0);
    p.initial = std::max(p.initial, milliseconds{0});
    p.cap = std::max(p.cap, milliseconds{0});
    p.min_interval = std::max(p.min_interval, milliseconds{0});
    p.window = std::max(p.window, milliseconds{0});
    p.healthy_after = std::max(p.healthy_after, milliseconds{0});
    return p;
}

// Smallest whole number of ms that reaches `until` from `now` (0 when already there).
milliseconds ms_until(reconnect_backoff::clock::time_point now,
                      reconnect_backoff::clock::time_point until) {
    if (until <= now) return milliseconds{0};
    return std::chrono::ceil<milliseconds>(until - now);
}

}  // namespace

reconnect_backoff::reconnect_backoff(backoff_policy policy, std::uint64_t seed)
    : policy_(sanitised(policy)), rng_(seed) {}

void reconnect_backoff::on_attempt(clock::time_point now) {
    attempts_.push_back(now);
    // Only the most recent max_attempts_per_window starts, and only those still inside the
    // window, can limit the next attempt.
    const std::size_t limit = std::max<std::uint32_t>(policy_.max_attempts_per_window, 1);
    while (attempts_.size() > limit ||
           (!attempts_.empty() && attempts_.front() + policy_.window <= now))
        attempts_.pop_front();
}

void reconnect_backoff::on_connected(clock::time_point now) noexcept {
    connected_ = true;
    connected_at_ = now;
}

void reconnect_backoff::on_disconnected(clock::time_point now) noexcept {
    // A link that drops soon after connecting is a failure too, or a flapping server would reset
    // the backoff on every cycle.
    if (connected_ && now - connected_at_ >= policy_.healthy_after) {
        failures_ = 0;
    } else if (failures_ < UINT32_MAX) {
        ++failures_;
    }
    connected_ = false;
}

milliseconds reconnect_backoff::next_delay(clock::time_point now) {
    // Full jitter: uniform in [0, min(cap, initial * factor^failures)].
    const double grown = static_cast<double>(policy_.initial.count()) *
                         std::pow(policy_.factor, static_cast<double>(failures_));
    const double ceiling = std::min(grown, static_cast<double>(policy_.cap.count()));
    // 53 random bits mapped onto [0, 1); mt19937_64 output is fixed by the standard, so a seed
    // gives the same delays on every platform (std distributions are implementation-defined).
    const double unit = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    milliseconds delay{static_cast<milliseconds::rep>(std::floor(unit * (ceiling + 1.0)))};
    delay = std::min(delay, milliseconds{static_cast<milliseconds::rep>(ceiling)});

    if (!attempts_.empty())
        delay = std::max(delay, ms_until(now, attempts_.back() + policy_.min_interval));
    // With max_attempts_per_window starts already in the window, wait until the oldest of the
    // last max_attempts_per_window leaves it.
    const std::size_t limit = std::max<std::uint32_t>(policy_.max_attempts_per_window, 1);
    if (attempts_.size() >= limit) {
        const clock::time_point oldest = attempts_[attempts_.size() - limit];
        delay = std::max(delay, ms_until(now, oldest + policy_.window));
    }
    return delay;
}

}  // namespace tradingd::binance
