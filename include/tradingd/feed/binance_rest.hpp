#pragma once
// Binance REST market data for the feed: closed klines for warm-up and gap repair
// (GET /api/v3/klines), with Binance's error handling rules (NOTES.md §2.7):
//   429 / 418   wait Retry-After seconds (bounded by `max_wait`), then retry
//   5xx, network/TLS/timeout failures   retry with exponential backoff
//   anything else   a clear error naming the endpoint and Binance's code/msg, no retry
// after `attempts` tries the last error is returned. Never throws.
//
// Thread-safety: one call at a time per object (it runs on the feed's REST worker thread).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tradingd/core/market_types.hpp>
#include <tradingd/core/result.hpp>
#include <tradingd/net/https_client.hpp>

namespace tradingd::feed {

struct rest_retry_policy {
    std::int32_t attempts = 5;
    std::chrono::milliseconds first_delay{500};   ///< 5xx/network backoff start (doubles)
    std::chrono::milliseconds max_wait{120'000};  ///< cap on any single wait (Retry-After too)
};

struct klines_failure {
    std::string message;
    bool permanent = false;  ///< the request itself is wrong (e.g. -1121 Invalid symbol)
};

class binance_rest {
public:
    /// `sleep` waits for a duration and returns false when the caller is shutting down (then the
    /// fetch gives up at once). `client` must outlive this object.
    binance_rest(const net::https_client& client, rest_retry_policy policy,
                 std::function<bool(std::chrono::milliseconds)> sleep);

    /// The exchange's clock (GET /api/v3/time). Candles are judged closed against it, not
    /// against the local clock, which may be skewed.
    result<timestamp_ms> server_time(klines_failure* failure = nullptr);

    /// Closed candles of `symbol`/`interval` with open time >= `start_time`, in order, up to
    /// the present (pages of 1000), excluding the still-forming candle (close time >= the
    /// server's time).
    result<std::vector<candle>> closed_since(const std::string& symbol, const std::string& interval,
                                             std::int64_t interval_ms, timestamp_ms start_time,
                                             klines_failure* failure = nullptr);
    /// The most recent `count` closed candles (count may exceed 1000; pages backwards).
    result<std::vector<candle>> latest_closed(const std::string& symbol,
                                              const std::string& interval, std::int64_t interval_ms,
                                              std::int32_t count,
                                              klines_failure* failure = nullptr);

    std::uint64_t requests() const noexcept { return requests_.load(); }

private:
    /// One GET with the retry rules; the 200 body.
    result<std::string> fetch(const std::string& target, klines_failure* failure);
    const net::https_client* client_;
    rest_retry_policy policy_;
    std::function<bool(std::chrono::milliseconds)> sleep_;
    std::atomic<std::uint64_t> requests_{0};
};

/// Wall clock, Unix epoch milliseconds.
timestamp_ms now_ms() noexcept;

}  // namespace tradingd::feed
