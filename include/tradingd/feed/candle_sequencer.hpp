#pragma once
// candle_sequencer: turns one symbol's kline stream into closed candles delivered exactly once,
// in order, with gaps detected (ISSUE: "never twice; never out of order").
//
// A candle is closed by its x:true message or by the first message of a later candle, whichever
// comes first; afterwards a late x:true or update for it is a duplicate. Closed candles are
// admitted strictly in sequence: the next one must open exactly one interval after the last
// admitted one. When it opens later, the candles between are missing (a gap) and must be
// fetched (REST) and admitted first; admit() reports the gap instead of advancing.
//
// Thread-safety: none (one per symbol, owned by the feed's network thread).

#include <array>
#include <cstdint>
#include <optional>

#include <tradingd/core/market_types.hpp>

namespace tradingd::feed {

class candle_sequencer {
public:
    explicit candle_sequencer(std::int64_t interval_ms) noexcept : interval_(interval_ms) {}

    /// What one kline message means.
    struct classified {
        std::array<candle, 2> closed{};  ///< candidates to admit, in order
        std::uint8_t closed_count = 0;
        bool is_update = false;  ///< the message updates the forming candle (forward it)
        bool duplicate = false;  ///< it re-closes a candle already closed: drop
        bool stale = false;      ///< older than what was already seen: drop
    };
    classified classify(const candle& bar, bool closed) noexcept;

    enum class admission : std::uint8_t { deliver, duplicate, gap };
    /// Decides on a closed candle: `deliver` (it is the next one; the sequencer advances),
    /// `duplicate` (at or before the last admitted one), or `gap` (later than the next expected:
    /// nothing advances; see gap_start()). Before any candle was admitted, anything is delivered.
    admission admit(const candle& c) noexcept;

    /// Takes a closed candle from the exchange's own record (REST) as the last admitted one,
    /// whatever the spacing: a hole in that record is an outage, not a gap to repair.
    void restart_at(timestamp_ms open_time) noexcept;

    /// True when a forming candle opening at `open_time` implies closed candles are missing
    /// between the last admitted one and it.
    bool forming_implies_gap(timestamp_ms open_time) const noexcept;

    /// Open time of the next closed candle expected; nothing before the first admission.
    std::optional<timestamp_ms> next_expected() const noexcept;
    std::optional<timestamp_ms> last_admitted() const noexcept { return last_; }
    std::int64_t interval_ms() const noexcept { return interval_; }

private:
    std::int64_t interval_;
    std::optional<timestamp_ms> last_;  ///< open time of the last admitted closed candle
    std::optional<candle> forming_;     ///< latest update of the candle still open
};

}  // namespace tradingd::feed
