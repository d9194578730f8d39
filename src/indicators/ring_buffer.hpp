#pragma once
// detail::ring_buffer: a fixed-capacity FIFO of doubles, allocated once.
//
// push() appends and, once full, evicts the oldest element; it never allocates. Used by the
// windowed indicators to remember the values that must later leave their running sums.
//
// Thread-safety: distinct objects safe; a shared object must only be used by one thread.

#include <cassert>
#include <cstddef>
#include <vector>

namespace tradingd::indicators::detail {

class ring_buffer {
public:
    /// Precondition: capacity >= 1.
    explicit ring_buffer(std::size_t capacity) : data_(capacity) { assert(capacity >= 1); }

    std::size_t capacity() const noexcept { return data_.size(); }
    std::size_t size() const noexcept { return size_; }
    bool full() const noexcept { return size_ == data_.size(); }

    /// Appends x. Returns the evicted oldest value when the buffer was full, else returns x and
    /// sets `evicted` to false.
    double push(double x, bool& evicted) noexcept {
        evicted = full();
        const double old = data_[head_];
        data_[head_] = x;
        head_ = (head_ + 1 == data_.size()) ? 0 : head_ + 1;
        if (!evicted) ++size_;
        return evicted ? old : x;
    }

    /// Calls f(value) for every stored value, oldest first.
    template <class F>
    void for_each(F&& f) const {
        const std::size_t cap = data_.size();
        std::size_t i = (head_ + cap - size_) % cap;
        for (std::size_t k = 0; k < size_; ++k) {
            f(data_[i]);
            i = (i + 1 == cap) ? 0 : i + 1;
        }
    }

private:
    std::vector<double> data_;
    std::size_t head_ = 0;  // index of the next write
    std::size_t size_ = 0;
};

}  // namespace tradingd::indicators::detail
