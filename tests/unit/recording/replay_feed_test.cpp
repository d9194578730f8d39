// The replay feed: symbol mapping, order, finishing, pacing.
#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <tradingd/feed/replay_feed.hpp>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace tradingd;
using tradingd::testing::temp_dir;
using tradingd::testing::vector_sink;
using tradingd::testing::wait_until;

std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("replay-test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

config::symbol_config symbol(const std::string& name) {
    config::symbol_config s;
    s.symbol = name;
    return s;
}

market_event event(std::int64_t ts, double price) {
    market_event e;
    e.kind = event_kind::quote;
    e.ts = ts;
    e.bid = price;
    e.ask = price + 1;
    return e;
}

/// Records, in this order: A1 B1 C1 A2 B2 A3 (C is a symbol the replay config lacks), with
/// `gap` between records.
fs::path record_session(const temp_dir& dir, std::chrono::milliseconds gap = {}) {
    const fs::path path = dir.path() / "s.tdrec";
    feed::recording_writer w(path, {"AUSDT", "BUSDT", "CUSDT"}, quiet_logger());
    const std::pair<std::uint32_t, std::int64_t> order[] = {{0, 1}, {1, 1}, {2, 1},
                                                            {0, 2}, {1, 2}, {0, 3}};
    for (const auto& [s, ts] : order) {
        if (gap.count() > 0) std::this_thread::sleep_for(gap);
        w.record(s, event(ts, 100.0 * (s + 1) + static_cast<double>(ts)));
    }
    return path;
}

std::vector<std::int64_t> times(const vector_sink& sink) {
    std::vector<std::int64_t> out;
    for (const auto& e : sink.events())
        out.push_back(e.ts);
    return out;
}

}  // namespace

TEST_CASE("replay: each configured symbol's events go to its sink, in order, then it finishes") {
    temp_dir dir;
    const fs::path path = record_session(dir);
    vector_sink b_sink, a_sink;
    // The config lists B before A: matched by name, not by index.
    feed::replay_feed replay({path, 0}, {symbol("BUSDT"), symbol("AUSDT")}, {&b_sink, &a_sink});
    CHECK(replay.summary().total_events == 6);
    CHECK_FALSE(replay.finished());
    replay.start();
    REQUIRE(wait_until([&] { return replay.finished(); }));
    CHECK_FALSE(replay.failed());
    CHECK(replay.events_sent() == 5);  // CUSDT's event skipped
    CHECK(times(a_sink) == std::vector<std::int64_t>{1, 2, 3});
    CHECK(times(b_sink) == std::vector<std::int64_t>{1, 2});
    for (const auto& e : a_sink.events()) {
        CHECK(e.symbol == 1);  // the configured index
        CHECK(e.bid == 100.0 + static_cast<double>(e.ts));
        CHECK(e.received_ns == 0);  // none recorded
    }
    for (const auto& e : b_sink.events()) {
        CHECK(e.symbol == 0);
        CHECK(e.bid == 200.0 + static_cast<double>(e.ts));
    }
    replay.stop();
}

TEST_CASE("replay: a configured symbol missing from the recording is an error at start") {
    temp_dir dir;
    const fs::path path = record_session(dir);
    vector_sink a, x;
    CHECK_THROWS_WITH_AS(feed::replay_feed({path, 0}, {symbol("AUSDT"), symbol("XUSDT")}, {&a, &x}),
                         doctest::Contains("no events for the configured symbol XUSDT"),
                         feed::recording_error);
    CHECK_THROWS_AS(feed::replay_feed({dir.path() / "absent.tdrec", 0}, {symbol("AUSDT")}, {&a}),
                    feed::recording_error);
    CHECK_THROWS_AS(feed::replay_feed({path, -1}, {symbol("AUSDT")}, {&a}), std::invalid_argument);
}

TEST_CASE("replay: a corrupt recording is refused before anything is delivered") {
    temp_dir dir;
    const fs::path path = record_session(dir);
    fs::resize_file(path, fs::file_size(path) - 1);  // torn tail: fine, 5 events left
    vector_sink a;
    {
        feed::replay_feed replay({path, 0}, {symbol("AUSDT")}, {&a});
        CHECK(replay.summary().torn_tail_bytes == feed::recording_format::record_size - 1);
        replay.start();
        REQUIRE(wait_until([&] { return replay.finished(); }));
        CHECK(times(a) == std::vector<std::int64_t>{1, 2});  // A3 was the torn record
    }
    std::string bytes = tradingd::testing::read_file(path);
    bytes[bytes.size() - 200] ^= 0x01;
    dir.write("bad.tdrec", bytes);
    CHECK_THROWS_WITH_AS(feed::replay_feed({dir.path() / "bad.tdrec", 0}, {symbol("AUSDT")}, {&a}),
                         doctest::Contains("corrupt record at offset"), feed::recording_error);
}

TEST_CASE("replay: paced replay follows the recorded times divided by the speed") {
    temp_dir dir;
    // Six records 60 ms apart: the first is due at once, the last 300 ms later.
    const fs::path path = record_session(dir, std::chrono::milliseconds(60));
    // The span from the first delivered event (A1) to the last (A3, the last record).
    feed::recording_reader reader(path);
    feed::recorded_event ev;
    REQUIRE(reader.next(ev) == feed::recording_reader::status::event);
    const std::int64_t first = ev.recorded_ns;
    const std::int64_t last = feed::scan_recording(path).duration_ns;
    const double span = static_cast<double>(last - first) / 1e9;
    REQUIRE(span >= 0.3);
    const auto run = [&](double speed) {
        vector_sink a, b;
        feed::replay_feed replay({path, speed}, {symbol("AUSDT"), symbol("BUSDT")}, {&a, &b});
        const auto start = std::chrono::steady_clock::now();
        replay.start();
        REQUIRE(wait_until([&] { return replay.finished(); }, std::chrono::seconds(10),
                           std::chrono::milliseconds(1)));
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(a.events().size() == 3);
        return std::chrono::duration<double>(took).count();
    };
    const double half = run(0.5);  // twice as slow as recorded
    CHECK(half >= 2 * span * 0.9);
    CHECK(half < 2 * span + 1.0);
    const double fast = run(0);
    CHECK(fast < half / 2);
}
