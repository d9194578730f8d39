#pragma once
// Reconnect pacing for exchange connections (RELIABILITY.md §2.4, row M13).
//
// Exponential backoff with full jitter: attempt n waits a uniformly random time in
// [0, min(cap, initial * factor^n)], but never less than `min_interval` since the previous
// attempt started (Binance: at most one connect per second in practice) and never so soon that
// more than `max_attempts_per_window` attempts fall in any `window` (Binance: 300 per 5 minutes
// per IP). The attempt count resets only after a connection has stayed healthy for
// `healthy_after` (NautilusTrader: 10 s), so a flapping link keeps backing off.
//
// Thread-safety: none; owned by the connection's strand. Deterministic for a given seed.

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>

namespace tradingd::binance {

struct backoff_policy {
    std::chrono::milliseconds initial{1'000};
    std::chrono::milliseconds cap{60'000};
    double factor = 2.0;  ///< clamped to [1, 100]
    std::chrono::milliseconds min_interval{1'000};
    std::uint32_t max_attempts_per_window = 300;
    std::chrono::milliseconds window{300'000};
    std::chrono::milliseconds healthy_after{10'000};
};

class reconnect_backoff {
public:
    using clock = std::chrono::steady_clock;
    explicit reconnect_backoff(backoff_policy policy, std::uint64_t seed = std::random_device{}());

    /// Call when an attempt is about to start at `now`; records it in the rate window.
    void on_attempt(clock::time_point now);
    /// Call when a connection became usable at `now`.
    void on_connected(clock::time_point now) noexcept;
    /// Call when a connection ended (or an attempt failed) at `now`. Resets the attempt count
    /// if the connection had been up for at least `healthy_after`.
    void on_disconnected(clock::time_point now) noexcept;
    /// Delay to wait from `now` before the next attempt (includes jitter and both rate limits).
    std::chrono::milliseconds next_delay(clock::time_point now);

    std::uint32_t consecutive_failures() const noexcept { return failures_; }
    const backoff_policy& policy() const noexcept { return policy_; }

private:
    backoff_policy policy_;
    std::mt19937_64 rng_;
    std::uint32_t failures_ = 0;
    std::deque<clock::time_point> attempts_;  ///< starts within the last `window`
    clock::time_point connected_at_{};
    bool connected_ = false;
};

}  // namespace tradingd::binance
