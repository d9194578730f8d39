#include <doctest/doctest.h>

#include <vector>

#include <tradingd/feed/candle_sequencer.hpp>

#include "../../../src/feed/symbol_outbox.hpp"

using namespace tradingd;
using tradingd::feed::candle_sequencer;

namespace {

constexpr std::int64_t k_min = 60'000;

candle bar_at(timestamp_ms t, double close = 100) {
    return candle{t, t + k_min - 1, 100, 101, 99, close, 1};
}

// Runs klines through classify + admit the way the feed does; returns the delivered open times.
struct harness {
    candle_sequencer seq{k_min};
    std::vector<timestamp_ms> delivered;
    std::vector<timestamp_ms> gaps;
    int duplicates = 0, stale = 0;
    void feed(timestamp_ms t, bool closed) {
        const auto c = seq.classify(bar_at(t), closed);
        duplicates += c.duplicate;
        stale += c.stale;
        for (int i = 0; i < c.closed_count; ++i) {
            switch (seq.admit(c.closed[i])) {
                case candle_sequencer::admission::deliver:
                    delivered.push_back(c.closed[i].open_time);
                    break;
                case candle_sequencer::admission::duplicate:
                    ++duplicates;
                    break;
                case candle_sequencer::admission::gap:
                    gaps.push_back(c.closed[i].open_time);
                    break;
            }
        }
    }
};

}  // namespace

TEST_CASE("candle_sequencer: x:true closes a candle once; a late x:true is a duplicate") {
    harness h;
    h.feed(0, false);
    h.feed(0, true);
    h.feed(0, true);  // M05: the same close twice
    CHECK(h.delivered == std::vector<timestamp_ms>{0});
    CHECK(h.duplicates == 1);
}

TEST_CASE("candle_sequencer: the first event of the next candle closes the forming one") {
    harness h;
    h.feed(0, false);
    h.feed(k_min, false);  // no x:true for t=0 ever came
    CHECK(h.delivered == std::vector<timestamp_ms>{0});
    h.feed(0, true);  // the late x:true: already closed
    CHECK(h.delivered == std::vector<timestamp_ms>{0});
    CHECK(h.duplicates == 1);
}

TEST_CASE("candle_sequencer: older candles are stale and never delivered") {
    harness h;
    h.feed(0, true);
    h.feed(k_min, false);
    h.feed(0, false);  // M06: an update for a closed candle
    CHECK(h.stale == 1);
    CHECK(h.delivered == std::vector<timestamp_ms>{0});
}

TEST_CASE("candle_sequencer: a skipped interval is a gap and nothing advances past it") {
    harness h;
    h.feed(0, true);
    h.feed(3 * k_min, true);  // M07: t=1 and t=2 missing
    CHECK(h.gaps == std::vector<timestamp_ms>{3 * k_min});
    CHECK(h.seq.next_expected() == k_min);
    CHECK(h.seq.forming_implies_gap(3 * k_min));
    // The repair delivers the missing ones; then the held candle is admitted in order.
    CHECK(h.seq.admit(bar_at(k_min)) == candle_sequencer::admission::deliver);
    CHECK(h.seq.admit(bar_at(2 * k_min)) == candle_sequencer::admission::deliver);
    CHECK(h.seq.admit(bar_at(3 * k_min)) == candle_sequencer::admission::deliver);
    CHECK(h.seq.admit(bar_at(3 * k_min)) == candle_sequencer::admission::duplicate);
}

TEST_CASE("candle_sequencer: restart_at accepts the exchange's own holes") {
    candle_sequencer seq(k_min);
    seq.restart_at(0);
    seq.restart_at(10 * k_min);  // maintenance: no candles in between on the exchange either
    CHECK(seq.next_expected() == 11 * k_min);
    CHECK(seq.admit(bar_at(11 * k_min)) == candle_sequencer::admission::deliver);
}

namespace {
class fillable_sink final : public event_sink {
public:
    bool push(const market_event& e) override {
        got.push_back(e);
        return true;
    }
    offer_result offer(const market_event& e) override {
        if (full) return offer_result::full;
        got.push_back(e);
        return offer_result::accepted;
    }
    bool full = false;
    std::vector<market_event> got;
};

market_event ev(event_kind k, double price) {
    market_event e;
    e.kind = k;
    e.bid = price;
    e.bar = bar_at(static_cast<timestamp_ms>(price) * k_min);
    return e;
}
}  // namespace

TEST_CASE("symbol_outbox: a full runner keeps every closed candle and only the latest quote") {
    fillable_sink sink;
    feed::symbol_outbox box(&sink);
    CHECK(box.deliver(ev(event_kind::quote, 1)));
    sink.full = true;
    for (int i = 0; i < 10'000; ++i)  // M17: a burst while the runner is busy
        box.deliver(ev(event_kind::quote, 2 + i));
    box.deliver(ev(event_kind::candle_closed, 5));
    box.deliver(ev(event_kind::candle_update, 6));
    box.deliver(ev(event_kind::quote, 20'000));
    box.deliver(ev(event_kind::candle_update, 7));
    box.deliver(ev(event_kind::candle_closed, 8));
    CHECK(box.waiting() == 5);  // quote, closed, update, quote, closed
    CHECK_FALSE(box.flush());
    sink.full = false;
    CHECK(box.flush());
    REQUIRE(sink.got.size() == 6);
    CHECK(sink.got[1].bid == 10'001);  // the latest quote of the burst
    CHECK(sink.got[2].kind == event_kind::candle_closed);
    CHECK(sink.got[3].kind == event_kind::candle_update);
    CHECK(sink.got[3].bid == 7);
    CHECK(sink.got[4].bid == 20'000);
    CHECK(sink.got[5].kind == event_kind::candle_closed);
}
