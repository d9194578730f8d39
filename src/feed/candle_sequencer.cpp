#include <tradingd/feed/candle_sequencer.hpp>

namespace tradingd::feed {

candle_sequencer::classified candle_sequencer::classify(const candle& bar, bool closed) noexcept {
    classified out;
    if (last_ && bar.open_time <= *last_) {
        // Already closed here: a late x:true (or a replay after a reconnect) is a duplicate; a
        // late x:false update for a closed candle is stale.
        (closed ? out.duplicate : out.stale) = true;
        return out;
    }
    if (forming_ && bar.open_time < forming_->open_time) {
        out.stale = true;  // older than the candle already forming
        return out;
    }
    if (forming_ && bar.open_time > forming_->open_time) {
        // The first message of a later candle closes the forming one.
        out.closed[out.closed_count++] = *forming_;
        forming_.reset();
    }
    if (closed) {
        out.closed[out.closed_count++] = bar;
        forming_.reset();
    } else {
        forming_ = bar;
        out.is_update = true;
    }
    return out;
}

candle_sequencer::admission candle_sequencer::admit(const candle& c) noexcept {
    if (last_ && c.open_time <= *last_) return admission::duplicate;
    if (last_ && c.open_time != *last_ + interval_) return admission::gap;
    restart_at(c.open_time);
    return admission::deliver;
}

void candle_sequencer::restart_at(timestamp_ms open_time) noexcept {
    last_ = open_time;
    if (forming_ && forming_->open_time <= open_time) forming_.reset();
}

bool candle_sequencer::forming_implies_gap(timestamp_ms open_time) const noexcept {
    return last_ && open_time > *last_ + interval_;
}

std::optional<timestamp_ms> candle_sequencer::next_expected() const noexcept {
    if (!last_) return std::nullopt;
    return *last_ + interval_;
}

}  // namespace tradingd::feed
