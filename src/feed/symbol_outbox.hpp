#pragma once
// Private to src/feed: one symbol's events waiting for its runner's queue (network feeds offer
// events without blocking). Closed candles are never dropped; between two closed candles only
// the latest quote and the latest candle update are kept (RELIABILITY.md row M17), so the
// backlog is bounded by three events per candle interval however fast messages arrive.
//
// Thread-safety: none (the feed's network thread).

#include <deque>

#include <tradingd/core/event_sink.hpp>

namespace tradingd::feed {

class symbol_outbox {
public:
    explicit symbol_outbox(event_sink* sink) noexcept : sink_(sink) {}

    /// Hands `e` to the sink at once when nothing is waiting and the sink has room; otherwise
    /// queues it. Returns true when nothing is left waiting.
    bool deliver(const market_event& e) {
        if (q_.empty() && offer(e)) return true;
        enqueue(e);
        return false;
    }

    /// Offers the waiting events in order. Returns true when none is left.
    bool flush() {
        while (!q_.empty()) {
            if (!offer(q_.front())) return false;
            q_.pop_front();
        }
        return true;
    }

    std::size_t waiting() const noexcept { return q_.size(); }

private:
    /// True when the sink took the event (or will never take anything again).
    bool offer(const market_event& e) {
        if (closed_) return true;
        switch (sink_->offer(e)) {
            case event_sink::offer_result::accepted:
                return true;
            case event_sink::offer_result::closed:
                closed_ = true;
                return true;
            case event_sink::offer_result::full:
                return false;
        }
        return false;
    }

    void enqueue(const market_event& e) {
        if (e.kind != event_kind::candle_closed) {
            for (auto it = q_.rbegin(); it != q_.rend() && it->kind != event_kind::candle_closed;
                 ++it) {
                if (it->kind == e.kind) {
                    *it = e;  // superseded: only the latest quote / update matters
                    return;
                }
            }
        }
        q_.push_back(e);
    }

    event_sink* sink_;
    std::deque<market_event> q_;
    bool closed_ = false;
};

}  // namespace tradingd::feed
