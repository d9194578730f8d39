#include <algorithm>
#include <cassert>
#include <stdexcept>

#include <tradingd/market/market_data_window.hpp>

namespace tradingd::market {

market_data_window::market_data_window(std::size_t capacity) {
    if (capacity == 0) throw std::invalid_argument("market_data_window: capacity must be >= 1");
    ring_.resize(capacity);
}

void market_data_window::push_closed(const candle& c) noexcept {
    ring_[head_] = c;
    head_ = (head_ + 1 == ring_.size()) ? 0 : head_ + 1;
    if (size_ < ring_.size()) ++size_;
    ++total_;
    if (has_forming_ && forming_.open_time <= c.open_time) has_forming_ = false;
}

void market_data_window::set_forming(const candle& c) noexcept {
    forming_ = c;
    has_forming_ = true;
}

const candle& market_data_window::at(std::size_t i) const noexcept {
    assert(i < size_);
    const std::size_t cap = ring_.size();
    return ring_[(head_ + cap - 1 - i) % cap];
}

std::optional<candle> market_data_window::latest() const noexcept {
    if (size_ == 0) return std::nullopt;
    return at(0);
}

std::optional<candle> market_data_window::forming() const noexcept {
    if (!has_forming_) return std::nullopt;
    return forming_;
}

bool market_data_window::closes(std::size_t n, std::vector<double>& out) const {
    out.clear();
    if (n > size_) return false;
    out.reserve(n);
    for_each_oldest_first(n, [&](const candle& c) { out.push_back(c.close); });
    return true;
}

std::optional<double> market_data_window::highest(std::size_t n) const noexcept {
    if (n == 0 || n > size_) return std::nullopt;
    double best = at(0).high;
    for (std::size_t i = 1; i < n; ++i)
        best = std::max(best, at(i).high);
    return best;
}

std::optional<double> market_data_window::lowest(std::size_t n) const noexcept {
    if (n == 0 || n > size_) return std::nullopt;
    double best = at(0).low;
    for (std::size_t i = 1; i < n; ++i)
        best = std::min(best, at(i).low);
    return best;
}

}  // namespace tradingd::market
