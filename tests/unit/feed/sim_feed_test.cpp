#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <tradingd/feed/sim_feed.hpp>

#include "feed_test_util.hpp"

using namespace tradingd;
using namespace tradingd::feed;
using namespace tradingd::feed::test;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

struct delivery {
    std::uint32_t sink;
    market_event event;
};

/// Records every delivery, in delivery order, into a log shared by several sinks.
class logging_sink : public event_sink {
public:
    logging_sink(std::uint32_t id, std::vector<delivery>& log, std::size_t limit)
        : id_(id), log_(log), limit_(limit) {}
    bool push(const market_event& e) override {
        if (accepted >= limit_) return false;
        ++accepted;
        log_.push_back({id_, e});
        return true;
    }
    std::size_t accepted = 0;

private:
    std::uint32_t id_;
    std::vector<delivery>& log_;
    std::size_t limit_;
};

/// Accepts everything, keeps only a count (for open-ended runs).
class counting_sink : public event_sink {
public:
    bool push(const market_event&) override {
        count.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    std::atomic<std::uint64_t> count{0};
};

/// Accepts events until `span_ms` of event time has passed since the first one, noting the wall
/// time of the first and last delivery.
class span_sink : public event_sink {
public:
    explicit span_sink(timestamp_ms span_ms) : span_ms_(span_ms) {}
    bool push(const market_event& e) override {
        const auto now = steady_clock::now();
        if (count == 0) {
            first_ts_ = e.ts;
            first_wall = now;
        }
        if (e.ts - first_ts_ > span_ms_) {
            closed.store(true, std::memory_order_release);
            return false;
        }
        last_wall = now;
        ++count;
        return true;
    }
    // Written by the feed thread; read by the test only after `closed` is seen.
    std::size_t count = 0;
    steady_clock::time_point first_wall{}, last_wall{};
    std::atomic<bool> closed{false};

private:
    timestamp_ms span_ms_;
    timestamp_ms first_ts_ = 0;
};

/// Polls `done` until it holds or `limit` passes.
template <class Pred>
bool wait_for(Pred done, milliseconds limit = milliseconds(20'000)) {
    const auto deadline = steady_clock::now() + limit;
    while (!done()) {
        if (steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
}

}  // namespace

TEST_CASE("sim_feed: unpaced delivery is in event-time order across symbols") {
    std::vector<delivery> log;
    logging_sink s0(0, log, 3000), s1(1, log, 2000), s2(2, log, 3000);
    // Different intervals and tick counts so the symbols interleave unevenly.
    const std::vector<config::symbol_config> symbols{
        symbol_cfg("AAA", 60'000), symbol_cfg("BBB", 180'000, 50), symbol_cfg("CCC", 60'000, 10)};
    sim_feed feed(feed_cfg(77, 9, 3, 0), symbols, {&s0, &s1, &s2});
    feed.start();
    REQUIRE(wait_for([&] { return feed.events_sent() == 8000; }));
    feed.stop();

    REQUIRE(log.size() == 8000);
    for (std::size_t i = 1; i < log.size(); ++i) {
        CHECK(log[i].event.ts >= log[i - 1].event.ts);
    }
    for (const delivery& d : log)
        CHECK(d.event.symbol == d.sink);
    // Each sink saw its own symbol's sequence exactly as the generator makes it.
    sim_generator g1(feed_cfg(77, 9, 3, 0), symbols[1], 1);
    std::size_t k = 0;
    for (const delivery& d : log) {
        if (d.sink != 1) continue;
        const market_event e = g1.next();
        CHECK(d.event.ts == e.ts);
        CHECK(d.event.bid == e.bid);
        ++k;
    }
    CHECK(k == 2000);
}

TEST_CASE("sim_feed: a closed sink stops receiving while the others continue") {
    std::vector<delivery> log;
    logging_sink early(0, log, 10), late(1, log, 500);
    sim_feed feed(feed_cfg(1, 5, 0, 0), {symbol_cfg("AAA"), symbol_cfg("BBB")}, {&early, &late});
    feed.start();
    REQUIRE(wait_for([&] { return feed.events_sent() == 510; }));
    feed.stop();
    CHECK(early.accepted == 10);
    CHECK(late.accepted == 500);
}

TEST_CASE("sim_feed: stop is prompt when unpaced and idempotent") {
    counting_sink sink;
    sim_feed feed(feed_cfg(1, 20, 0, 0), {symbol_cfg("AAA")}, {&sink});
    feed.start();
    REQUIRE(wait_for([&] { return sink.count.load() > 1000; }));
    const auto t0 = steady_clock::now();
    feed.stop();
    CHECK(steady_clock::now() - t0 < milliseconds(1000));
    const auto after = sink.count.load();
    CHECK(feed.events_sent() == after);
    std::this_thread::sleep_for(milliseconds(20));
    CHECK(sink.count.load() == after);  // nothing after stop
    feed.stop();                        // second stop: no effect, no crash
}

TEST_CASE("sim_feed: stop is prompt while waiting for a far-off paced event") {
    counting_sink sink;
    // Real time with 1m candles of 2 ticks: the next event is 30 s away.
    sim_feed feed(feed_cfg(1, 2, 0, 1), {symbol_cfg("AAA")}, {&sink});
    feed.start();
    REQUIRE(wait_for([&] { return sink.count.load() >= 2; }));
    std::this_thread::sleep_for(milliseconds(30));
    CHECK(sink.count.load() == 2);  // quote + update of the first tick; the next is 30 s out
    const auto t0 = steady_clock::now();
    feed.stop();
    CHECK(steady_clock::now() - t0 < milliseconds(500));
}

TEST_CASE("sim_feed: speed paces event time against wall time") {
    // 1 s candles, 10 ticks: 1 s of event time at speed 10 is 100 ms of wall time.
    span_sink sink(1000);
    sim_feed feed(feed_cfg(1, 10, 0, 10), {symbol_cfg("AAA", 1000)}, {&sink});
    feed.start();
    REQUIRE(wait_for([&] { return sink.closed.load(std::memory_order_acquire); },
                     milliseconds(10'000)));
    feed.stop();
    const auto elapsed = sink.last_wall - sink.first_wall;
    CHECK(elapsed >= milliseconds(80));
    CHECK(elapsed < milliseconds(5000));
}

TEST_CASE("sim_feed: warm-up history is delivered without pacing") {
    std::vector<delivery> log;
    // 500 one-minute warm-up candles (over 8 hours of event time) at real-time speed.
    logging_sink sink(0, log, 501);
    sim_feed feed(feed_cfg(1, 20, 500, 1), {symbol_cfg("AAA")}, {&sink});
    const auto t0 = steady_clock::now();
    feed.start();
    REQUIRE(wait_for([&] { return feed.events_sent() == 501; }, milliseconds(5000)));
    CHECK(steady_clock::now() - t0 < milliseconds(5000));
    feed.stop();
    for (std::size_t i = 0; i < 500; ++i)
        CHECK(log[i].event.warmup);
    CHECK_FALSE(log[500].event.warmup);
}

TEST_CASE("sim_feed: setup errors are reported at construction and start") {
    counting_sink sink;
    CHECK_THROWS_AS(sim_feed(feed_cfg(1), {symbol_cfg("A"), symbol_cfg("B")}, {&sink}),
                    std::invalid_argument);
    CHECK_THROWS_AS(sim_feed(feed_cfg(1), {symbol_cfg("A")}, {nullptr}), std::invalid_argument);
    CHECK_THROWS_AS(sim_feed(feed_cfg(1, 20, 0, -1), {symbol_cfg("A")}, {&sink}),
                    std::invalid_argument);
    CHECK_THROWS_AS(sim_feed(feed_cfg(1, 0), {symbol_cfg("A")}, {&sink}), std::invalid_argument);

    sim_feed never_started(feed_cfg(1), {symbol_cfg("A")}, {&sink});
    never_started.stop();  // fine without start

    sim_feed feed(feed_cfg(1, 20, 0, 0), {symbol_cfg("A")}, {&sink});
    feed.start();
    CHECK_THROWS_AS(feed.start(), std::logic_error);
    feed.stop();
}

TEST_CASE("sim_feed: a symbol added while running gets history, then live events from now on") {
    std::vector<delivery> log_a;
    std::vector<delivery> log_b;
    logging_sink a(0, log_a, 1'000'000);
    logging_sink b(1, log_b, 1'000'000);
    // Mutex-free logs: the feed thread is the only writer; read after stop().
    sim_feed feed(feed_cfg(5, 4, 0, 0), {symbol_cfg("AAA")}, {&a});
    feed.start();
    REQUIRE(wait_for([&] { return feed.events_sent() >= 400; }));
    feed.add_symbol(symbol_cfg("BBB"), &b);
    const std::uint64_t sent_at_add = feed.events_sent();
    REQUIRE(wait_for([&] { return feed.events_sent() >= sent_at_add + 2000; }));
    feed.stop();

    REQUIRE(log_b.size() > 3);
    // No warm-up configured: BBB's first event is live, at a candle boundary no earlier than
    // the AAA events delivered before it was adopted, and its times never go backwards.
    CHECK_FALSE(log_b.front().event.warmup);
    CHECK(log_b.front().event.bar.open_time % 60'000 == 0);
    for (std::size_t i = 1; i < log_b.size(); ++i)
        CHECK(log_b[i].event.ts >= log_b[i - 1].event.ts);
    timestamp_ms a_before = 0;
    for (const delivery& d : log_a)
        if (d.event.ts <= log_b.front().event.ts) a_before = d.event.ts;
    CHECK(log_b.front().event.bar.open_time >= a_before - 60'000);
    CHECK(log_b.front().event.bar.open_time > log_a.front().event.ts);  // not from the start
    // AAA kept going: its sequence was not disturbed by the addition.
    for (std::size_t i = 1; i < log_a.size(); ++i)
        CHECK(log_a[i].event.ts >= log_a[i - 1].event.ts);
}

TEST_CASE("sim_feed: an added symbol with warm-up gets its history first, ending at now") {
    std::vector<delivery> log_a;
    std::vector<delivery> log_b;
    logging_sink a(0, log_a, 1'000'000);
    logging_sink b(1, log_b, 1'000'000);
    sim_feed feed(feed_cfg(5, 4, 3, 0), {symbol_cfg("AAA")}, {&a});
    feed.start();
    REQUIRE(wait_for([&] { return feed.events_sent() >= 400; }));
    feed.add_symbol(symbol_cfg("BBB"), &b);
    const std::uint64_t sent_at_add = feed.events_sent();
    REQUIRE(wait_for([&] { return feed.events_sent() >= sent_at_add + 500; }));
    feed.stop();
    REQUIRE(log_b.size() > 4);
    for (int i = 0; i < 3; ++i)
        CHECK(log_b[static_cast<std::size_t>(i)].event.warmup);
    CHECK_FALSE(log_b[3].event.warmup);
    // History ends where live begins: contiguous candles.
    CHECK(log_b[2].event.bar.open_time + 60'000 == log_b[3].event.bar.open_time);
}
