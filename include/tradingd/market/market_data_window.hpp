#pragma once
// MarketDataWindow: the recent history a strategy sees.
//
// A fixed-capacity ring of closed candles (oldest dropped first) plus the candle that is still
// forming. Storage is allocated once in the constructor; push is O(1) and never allocates.
//
// Thread-safety: distinct objects safe; a shared object must only be used by its runner thread.

#include <cstddef>
#include <optional>
#include <vector>

#include <tradingd/core/market_types.hpp>

namespace tradingd::market {

class market_data_window {
public:
    /// `capacity` closed candles are kept (must be >= 1).
    explicit market_data_window(std::size_t capacity);

    /// Appends a closed candle, evicting the oldest when full. O(1), no allocation.
    /// Clears the forming candle if it had the same open_time.
    void push_closed(const candle& c) noexcept;
    /// Replaces the forming (not yet closed) candle.
    void set_forming(const candle& c) noexcept;

    std::size_t capacity() const noexcept { return ring_.size(); }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// Total closed candles ever pushed (not bounded by capacity).
    std::size_t total_pushed() const noexcept { return total_; }

    /// The i-th most recent closed candle: at(0) is the latest. Precondition: i < size().
    const candle& at(std::size_t i) const noexcept;
    /// Latest closed candle, if any.
    std::optional<candle> latest() const noexcept;
    /// The forming candle, if one was set since the last close.
    std::optional<candle> forming() const noexcept;

    /// Copies the closes of the last n closed candles, oldest first, into `out` (resized to n).
    /// Returns false (and leaves `out` empty) when fewer than n candles exist.
    bool closes(std::size_t n, std::vector<double>& out) const;
    /// Highest high / lowest low over the last n closed candles; nullopt when fewer than n exist
    /// or n == 0. O(n).
    std::optional<double> highest(std::size_t n) const noexcept;
    std::optional<double> lowest(std::size_t n) const noexcept;

    /// Calls f(candle) for the last n closed candles (all when n >= size()), oldest first.
    template <class F>
    void for_each_oldest_first(std::size_t n, F&& f) const {
        if (n > size_) n = size_;
        for (std::size_t i = n; i-- > 0;)
            f(at(i));
    }

private:
    std::vector<candle> ring_;
    std::size_t head_ = 0;  // index of the next write
    std::size_t size_ = 0;
    std::size_t total_ = 0;
    candle forming_{};
    bool has_forming_ = false;
};

}  // namespace tradingd::market
