#pragma once
// spsc_queue: a bounded single-producer / single-consumer queue with blocking hand-off.
//
// The producer (a feed thread) blocks while the queue is full, so no event is ever dropped (closed
// candles must never be lost); the consumer (a runner thread) blocks while it is empty. Waiting
// uses C++20 atomic wait/notify (a futex on Linux), not spinning: dev and CI machines have 2 shared
// cores. close() wakes both sides; after it, push() returns false and pop() drains what is left,
// then returns false.
//
// Thread-safety: exactly one producer thread and one consumer thread; close() from any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

namespace tradingd::engine {

template <class T>
class spsc_queue {
public:
    explicit spsc_queue(std::size_t capacity) : slots_(capacity) {
        if (capacity == 0) throw std::invalid_argument("spsc_queue: capacity must be >= 1");
    }
    spsc_queue(const spsc_queue&) = delete;
    spsc_queue& operator=(const spsc_queue&) = delete;

    /// Blocks while full. Returns false once the queue is closed (the item is not queued).
    bool push(const T& item) {
        return push_unless(item, [] { return false; }) == push_result::pushed;
    }

    enum class push_result : std::uint8_t { pushed, closed, gave_up };

    /// Like push, but while the queue is full, `give_up()` is evaluated before each wait and after
    /// every interrupt_producer(); when it returns true the item is not queued (gave_up).
    template <class GiveUp>
    push_result push_unless(const T& item, GiveUp&& give_up) {
        const std::uint64_t head = head_.load(std::memory_order_relaxed) & index_mask;
        for (;;) {
            const std::uint64_t tail_word = tail_.load(std::memory_order_acquire);
            if (tail_word & closed_bit) return push_result::closed;
            if (head - (tail_word & index_mask) < slots_.size()) break;
            if (give_up()) return push_result::gave_up;
            tail_.wait(tail_word, std::memory_order_acquire);  // pop(), close() or interrupt
        }
        slots_[head % slots_.size()] = item;
        head_.fetch_add(1, std::memory_order_release);
        head_.notify_one();
        return push_result::pushed;
    }

    /// Wakes a producer blocked in push_unless so it re-evaluates its give-up condition (a
    /// watchdog's way to release a feed thread stuck behind a wedged consumer). Any thread.
    void interrupt_producer() noexcept {
        // Toggling a flag bit changes the word the producer waits on, which is what wakes it.
        tail_.fetch_xor(interrupt_bit, std::memory_order_acq_rel);
        tail_.notify_all();
    }

    /// Blocks while empty and open. Returns nullopt when closed and drained.
    std::optional<T> pop() {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed) & index_mask;
        for (;;) {
            const std::uint64_t head = head_.load(std::memory_order_acquire);
            if ((head & index_mask) != tail) break;
            if (head & closed_bit) return std::nullopt;
            head_.wait(head, std::memory_order_acquire);  // woken by push() or close()
        }
        T item = slots_[tail % slots_.size()];
        tail_.fetch_add(1, std::memory_order_release);
        tail_.notify_one();
        return item;
    }

    enum class pop_status : std::uint8_t { item, closed, interrupted };

    /// Like pop, but while the queue is empty, `stop_waiting()` is evaluated before each wait and
    /// after every interrupt_consumer(); when it returns true, pop_unless returns `interrupted`
    /// without an item. `out` holds the item when the result is `item`.
    template <class StopWaiting>
    pop_status pop_unless(T& out, StopWaiting&& stop_waiting) {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed) & index_mask;
        for (;;) {
            const std::uint64_t head = head_.load(std::memory_order_acquire);
            if ((head & index_mask) != tail) break;
            if (head & closed_bit) return pop_status::closed;
            if (stop_waiting()) return pop_status::interrupted;
            head_.wait(head, std::memory_order_acquire);  // push(), close() or interrupt
        }
        out = slots_[tail % slots_.size()];
        tail_.fetch_add(1, std::memory_order_release);
        tail_.notify_one();
        return pop_status::item;
    }

    /// Wakes a consumer blocked in pop_unless so it re-evaluates its stop condition (how work
    /// for the runner thread other than events, such as a script reload, reaches an idle
    /// runner). Any thread.
    void interrupt_consumer() noexcept {
        head_.fetch_xor(interrupt_bit, std::memory_order_acq_rel);
        head_.notify_all();
    }

    /// Closes both ends. The closed flag is a bit inside the head and tail words themselves, so
    /// setting it changes the value a blocked waiter is waiting on and wakes it reliably.
    void close() noexcept {
        head_.fetch_or(closed_bit, std::memory_order_acq_rel);
        tail_.fetch_or(closed_bit, std::memory_order_acq_rel);
        head_.notify_all();
        tail_.notify_all();
    }

    bool closed() const noexcept {
        return (head_.load(std::memory_order_acquire) & closed_bit) != 0;
    }
    std::size_t capacity() const noexcept { return slots_.size(); }
    /// Number of queued items (approximate while the other side is active).
    std::size_t size() const noexcept {
        const std::uint64_t tail = tail_.load(std::memory_order_acquire) & index_mask;
        const std::uint64_t head = head_.load(std::memory_order_acquire) & index_mask;
        return static_cast<std::size_t>(head - tail);
    }

private:
    static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63;
    /// Toggled to wake a waiter without changing the index: in the tail word by
    /// interrupt_producer, in the head word by interrupt_consumer.
    static constexpr std::uint64_t interrupt_bit = std::uint64_t{1} << 62;
    static constexpr std::uint64_t index_mask = ~(closed_bit | interrupt_bit);
    std::vector<T> slots_;
    alignas(64) std::atomic<std::uint64_t> head_{0};  // next write position (producer)
    alignas(64) std::atomic<std::uint64_t> tail_{0};  // next read position (consumer)
};

}  // namespace tradingd::engine
