// The recording file: round trip, torn tails, corruption, concurrent writers, the forwarding sink.
#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <bit>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

#include <tradingd/feed/recording.hpp>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace tradingd;
using feed::recorded_event;
using feed::recording_reader;
using feed::recording_sink;
using feed::recording_writer;
using tradingd::testing::temp_dir;
using tradingd::testing::vector_sink;

std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("record-test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

std::uint64_t bits(double d) {
    return std::bit_cast<std::uint64_t>(d);
}

market_event sample(event_kind kind, std::int64_t i) {
    market_event e;
    e.kind = kind;
    e.warmup = i % 3 == 0;
    e.ts = 1704067200000 + i * 3000;
    e.bar.open_time = 1704067200000 + i * 60'000;
    e.bar.close_time = e.bar.open_time + 59'999;
    e.bar.open = 30000.0 + static_cast<double>(i) / 7.0;  // not exactly representable in decimal
    e.bar.high = e.bar.open * 1.000123456789;
    e.bar.low = std::nextafter(e.bar.open, 0.0);
    e.bar.close = 1.0 / 3.0 + static_cast<double>(i);
    e.bar.volume = i % 2 == 0 ? std::numeric_limits<double>::denorm_min() : 1e300;
    e.bid = 0.1 + 0.2;
    e.ask = -0.0;
    return e;
}

std::vector<recorded_event> read_all(const fs::path& path, recording_reader::status* last = nullptr,
                                     std::size_t* torn = nullptr) {
    recording_reader r(path);
    std::vector<recorded_event> out;
    recorded_event ev;
    recording_reader::status st;
    while ((st = r.next(ev)) == recording_reader::status::event)
        out.push_back(ev);
    if (last != nullptr) *last = st;
    if (torn != nullptr) *torn = r.torn_tail_bytes();
    return out;
}

/// A file of `n` events of one symbol (no torn tail).
fs::path write_events(const temp_dir& dir, int n) {
    const fs::path path = dir.path() / "s.tdrec";
    recording_writer w(path, {"BTCUSDT"}, quiet_logger());
    for (int i = 0; i < n; ++i)
        w.record(0, sample(event_kind::quote, i));
    w.close();
    return path;
}

std::uint64_t header_size(const fs::path& path) {
    recording_reader r(path);
    return r.offset();
}

}  // namespace

TEST_CASE("recording: every kind and field round-trips bit-exact, in order") {
    temp_dir dir;
    const fs::path path = dir.path() / "sub" / "session.tdrec";
    std::vector<market_event> written;
    {
        recording_writer w(path, {"BTCUSDT", "ETHUSDT"}, quiet_logger());
        for (std::int64_t i = 0; i < 300; ++i) {
            market_event e = sample(static_cast<event_kind>(i % 3), i);
            e.symbol = static_cast<std::uint32_t>(i % 2);
            // Network receive times on some events: stored relative to the recording's start.
            e.received_ns = i % 4 == 0 ? 5'000'000'000'000 + i * 1000 : 0;
            w.record(e.symbol, e);
            written.push_back(e);
        }
        CHECK(w.records() == 300);
    }  // the destructor closes and flushes
    recording_reader reader(path);
    CHECK(reader.symbols() == std::vector<std::string>{"BTCUSDT", "ETHUSDT"});
    CHECK(reader.start_wall_ns() > 1'700'000'000'000'000'000);
    const auto got = read_all(path);
    REQUIRE(got.size() == written.size());
    std::int64_t previous_recorded = 0;
    std::optional<std::int64_t> first_received;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const market_event& a = written[i];
        const market_event& b = got[i].event;
        INFO("event " << i);
        CHECK(a.kind == b.kind);
        CHECK(a.warmup == b.warmup);
        CHECK(a.symbol == b.symbol);
        CHECK(a.ts == b.ts);
        CHECK(a.bar.open_time == b.bar.open_time);
        CHECK(a.bar.close_time == b.bar.close_time);
        CHECK(bits(a.bar.open) == bits(b.bar.open));
        CHECK(bits(a.bar.high) == bits(b.bar.high));
        CHECK(bits(a.bar.low) == bits(b.bar.low));
        CHECK(bits(a.bar.close) == bits(b.bar.close));
        CHECK(bits(a.bar.volume) == bits(b.bar.volume));
        CHECK(bits(a.bid) == bits(b.bid));
        CHECK(bits(a.ask) == bits(b.ask));
        CHECK(got[i].has_received == (a.received_ns != 0));
        if (a.received_ns == 0) {
            CHECK(b.received_ns == 0);
        } else {
            // Relative to the start: the differences between events are kept exactly.
            if (!first_received) first_received = b.received_ns - a.received_ns;
            CHECK(b.received_ns - a.received_ns == *first_received);
        }
        CHECK(got[i].recorded_ns >= previous_recorded);
        previous_recorded = got[i].recorded_ns;
    }
}

TEST_CASE("recording: a symbol added while recording is defined in the file") {
    temp_dir dir;
    const fs::path path = dir.path() / "s.tdrec";
    {
        recording_writer w(path, {"BTCUSDT"}, quiet_logger());
        w.record(0, sample(event_kind::quote, 1));
        CHECK(w.add_symbol("BTCUSDT") == 0);  // known: no new entry
        const std::uint32_t sol = w.add_symbol("SOLUSDT");
        CHECK(sol == 1);
        w.record(sol, sample(event_kind::candle_closed, 2));
        CHECK_THROWS_AS(w.add_symbol(""), feed::recording_error);
    }
    recording_reader r(path);
    CHECK(r.symbols() == std::vector<std::string>{"BTCUSDT"});
    recorded_event ev;
    REQUIRE(r.next(ev) == recording_reader::status::event);
    CHECK(ev.event.symbol == 0);
    REQUIRE(r.next(ev) == recording_reader::status::event);
    CHECK(ev.event.symbol == 1);
    CHECK(ev.event.kind == event_kind::candle_closed);
    CHECK(r.symbols() == std::vector<std::string>{"BTCUSDT", "SOLUSDT"});
    CHECK(r.next(ev) == recording_reader::status::end);
    const auto summary = feed::scan_recording(path);
    CHECK(summary.symbols == std::vector<std::string>{"BTCUSDT", "SOLUSDT"});
    CHECK(summary.events == std::vector<std::uint64_t>{1, 1});
    CHECK(summary.total_events == 2);
}

TEST_CASE("recording: a torn last record is ignored, the rest is read") {
    temp_dir dir;
    const fs::path path = write_events(dir, 10);
    const auto full = fs::file_size(path);
    CHECK(full == header_size(path) + 10 * feed::recording_format::record_size);
    fs::resize_file(path, full - 50);  // the last record lost its last 50 bytes
    recording_reader::status last{};
    std::size_t torn = 0;
    const auto got = read_all(path, &last, &torn);
    CHECK(got.size() == 9);
    CHECK(last == recording_reader::status::end);
    CHECK(torn == feed::recording_format::record_size - 50);
    const auto summary = feed::scan_recording(path);
    CHECK(summary.total_events == 9);
    CHECK(summary.torn_tail_bytes == feed::recording_format::record_size - 50);
}

TEST_CASE("recording: a corrupted record is an error naming the file and its offset") {
    temp_dir dir;
    const fs::path path = write_events(dir, 10);
    const std::uint64_t bad = header_size(path) + 3 * feed::recording_format::record_size;
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(bad + 30));  // inside the 4th record's ts
        f.put('\x7f');
    }
    recording_reader r(path);
    recorded_event ev;
    for (int i = 0; i < 3; ++i)
        REQUIRE(r.next(ev) == recording_reader::status::event);
    REQUIRE(r.next(ev) == recording_reader::status::corrupt);
    CHECK(r.error().find(path.string()) != std::string::npos);
    const std::string where = "offset " + std::to_string(bad);
    CHECK(r.error().find(where) != std::string::npos);
    CHECK(r.error().find("checksum") != std::string::npos);
    CHECK_THROWS_WITH_AS(feed::scan_recording(path), doctest::Contains(where.c_str()),
                         feed::recording_error);
}

TEST_CASE("recording: a record missing from the middle is detected by its sequence number") {
    temp_dir dir;
    const fs::path path = write_events(dir, 5);
    const std::string bytes = tradingd::testing::read_file(path);
    const std::size_t h = header_size(path);
    const std::size_t rs = feed::recording_format::record_size;
    // Drop the second record: every record still has a valid checksum.
    const std::string cut = bytes.substr(0, h + rs) + bytes.substr(h + 2 * rs);
    dir.write("cut.tdrec", cut);
    CHECK_THROWS_WITH_AS(feed::scan_recording(dir.path() / "cut.tdrec"),
                         doctest::Contains("sequence number 2, expected 1"), feed::recording_error);
}

TEST_CASE("recording: files that are not recordings are refused with the reason") {
    temp_dir dir;
    dir.write("text.tdrec", "time,open,high,low,close\n1,2,3,4,5\n");
    CHECK_THROWS_WITH_AS(recording_reader(dir.path() / "text.tdrec"),
                         doctest::Contains("not a tradingd recording"), feed::recording_error);
    dir.write("short.tdrec", "TDREC001");
    CHECK_THROWS_WITH_AS(recording_reader(dir.path() / "short.tdrec"),
                         doctest::Contains("not a complete recording header"),
                         feed::recording_error);
    CHECK_THROWS_WITH_AS(recording_reader(dir.path() / "absent.tdrec"),
                         doctest::Contains("cannot open recording"), feed::recording_error);
    // A flipped bit in the symbol table.
    const fs::path good = write_events(dir, 1);
    std::string bytes = tradingd::testing::read_file(good);
    bytes[30] = 'X';  // first symbol name starts at byte 29
    dir.write("bad_header.tdrec", bytes);
    CHECK_THROWS_WITH_AS(recording_reader(dir.path() / "bad_header.tdrec"),
                         doctest::Contains("header checksum mismatch"), feed::recording_error);
}

TEST_CASE("recording: an existing file is renamed aside, never overwritten") {
    temp_dir dir;
    const fs::path path = write_events(dir, 3);
    {
        recording_writer w(path, {"ETHUSDT"}, quiet_logger());
        w.record(0, sample(event_kind::quote, 1));
    }
    CHECK(feed::scan_recording(path).symbols == std::vector<std::string>{"ETHUSDT"});
    int others = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        if (entry.path() == path) continue;
        ++others;
        CHECK(entry.path().filename().string().starts_with("s-"));
        CHECK(entry.path().extension() == ".tdrec");
        CHECK(feed::scan_recording(entry.path()).total_events == 3);
    }
    CHECK(others == 1);
}

TEST_CASE("recording: writers on 4 threads: every event present, each symbol's order kept") {
    temp_dir dir;
    const fs::path path = dir.path() / "s.tdrec";
    constexpr int per_symbol = 20'000;
    const std::vector<std::string> names{"AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"};
    {
        recording_writer w(path, names, quiet_logger());
        std::vector<vector_sink> targets(4);
        std::vector<std::thread> threads;
        for (std::uint32_t s = 0; s < 4; ++s) {
            threads.emplace_back([&, s] {
                recording_sink sink(targets[s], w, s);
                for (int i = 0; i < per_symbol; ++i) {
                    market_event e = sample(event_kind::candle_update, i);
                    e.symbol = s;
                    REQUIRE(sink.push(e));
                }
            });
        }
        for (auto& t : threads)
            t.join();
        for (const auto& t : targets)
            CHECK(t.events().size() == per_symbol);  // forwarded unchanged
    }
    const auto got = read_all(path);
    REQUIRE(got.size() == 4 * per_symbol);
    std::vector<std::int64_t> next_ts(4, sample(event_kind::candle_update, 0).ts);
    std::vector<int> count(4, 0);
    for (const auto& ev : got) {
        const auto s = ev.event.symbol;
        REQUIRE(s < 4);
        REQUIRE(ev.event.ts == next_ts[s]);  // no gap, no reordering within a symbol
        next_ts[s] += 3000;
        ++count[s];
    }
    CHECK(count == std::vector<int>(4, per_symbol));
}

namespace {

/// A sink that refuses on demand: offer() full on odd calls; push() false once closed.
class picky_sink final : public event_sink {
public:
    bool push(const market_event& e) override {
        if (closed) return false;
        taken.push_back(e);
        return true;
    }
    offer_result offer(const market_event& e) override {
        if (closed) return offer_result::closed;
        if (calls++ % 2 == 1) return offer_result::full;
        taken.push_back(e);
        return offer_result::accepted;
    }
    bool closed = false;
    int calls = 0;
    std::vector<market_event> taken;
};

}  // namespace

TEST_CASE("recording: the sink records only what its target accepted, results unchanged") {
    temp_dir dir;
    const fs::path path = dir.path() / "s.tdrec";
    picky_sink target;
    {
        recording_writer w(path, {"BTCUSDT"}, quiet_logger());
        recording_sink sink(target, w, 0);
        CHECK(sink.offer(sample(event_kind::quote, 0)) == event_sink::offer_result::accepted);
        CHECK(sink.offer(sample(event_kind::quote, 1)) == event_sink::offer_result::full);
        CHECK(sink.offer(sample(event_kind::quote, 1)) == event_sink::offer_result::accepted);
        CHECK(sink.push(sample(event_kind::candle_closed, 2)));
        target.closed = true;
        CHECK_FALSE(sink.push(sample(event_kind::candle_closed, 3)));
        CHECK(sink.offer(sample(event_kind::quote, 4)) == event_sink::offer_result::closed);
    }
    const auto got = read_all(path);
    REQUIRE(got.size() == target.taken.size());
    REQUIRE(got.size() == 3);
    for (std::size_t i = 0; i < got.size(); ++i)
        CHECK(got[i].event.ts == target.taken[i].ts);
}

TEST_CASE("recording: a file that cannot be created is an error at construction") {
    temp_dir dir;
    dir.write("file", "x");
    // The parent "directory" is a regular file.
    CHECK_THROWS_WITH_AS(
        recording_writer(dir.path() / "file" / "s.tdrec", {"BTCUSDT"}, quiet_logger()),
        doctest::Contains("cannot create"), feed::recording_error);
    CHECK_THROWS_AS(
        recording_writer(dir.path() / "s.tdrec", {std::string(57, 'A')}, quiet_logger()),
        feed::recording_error);
}

TEST_CASE("recording: a write error is logged once and stops the recording, nothing thrown") {
    temp_dir dir;
    const fs::path path = dir.path() / "s.tdrec";
    std::ostringstream log_text;
    auto log = std::make_shared<spdlog::logger>(
        "record-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text));
    // A file size limit makes write() fail with EFBIG once the file reaches 64 KiB (the signal
    // that would otherwise kill the process is ignored meanwhile).
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limited = old;
    limited.rlim_cur = 64 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
    {
        recording_writer w(path, {"BTCUSDT"}, log);
        for (int i = 0; i < 20'000 && !w.failed(); ++i) {
            w.record(0, sample(event_kind::quote, i));
            if (i % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
        CHECK(tradingd::testing::wait_until([&] { return w.failed(); }));
        const auto records = w.records();
        w.record(0, sample(event_kind::quote, 1));  // ignored once failed
        CHECK(w.records() == records);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    const std::string text = log_text.str();
    const auto first = text.find("stopped after");
    REQUIRE(first != std::string::npos);
    CHECK(text.find("stopped after", first + 1) == std::string::npos);  // reported once
    CHECK(text.find("File too large") != std::string::npos);
    // What was written before the error is still a readable recording (maybe with a torn tail).
    CHECK(feed::scan_recording(path).total_events > 0);
}

TEST_CASE("recording: a backtest reads one symbol's closed candles from a recording") {
    temp_dir dir;
    const fs::path path = dir.path() / "bt.tdrec";
    std::vector<candle> btc;
    {
        recording_writer w(path, {"BTCUSDT", "ETHUSDT"}, quiet_logger());
        for (std::int64_t i = 0; i < 30; ++i) {
            market_event e = sample(static_cast<event_kind>(i % 3), i);
            e.symbol = static_cast<std::uint32_t>((i / 3) % 2);
            w.record(e.symbol, e);
            if (e.kind == event_kind::candle_closed && e.symbol == 0) btc.push_back(e.bar);
        }
    }
    REQUIRE(btc.size() == 5);
    CHECK(feed::is_recording(path));
    dir.write("klines.csv", "1,2,3,1,2,5\n");
    CHECK_FALSE(feed::is_recording(dir.path() / "klines.csv"));
    CHECK_FALSE(feed::is_recording(dir.path() / "missing"));
    const std::vector<candle> got = feed::read_recorded_candles(path, "BTCUSDT");
    REQUIRE(got.size() == btc.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].open_time == btc[i].open_time);
        CHECK(got[i].close == btc[i].close);
    }
    CHECK_THROWS_WITH_AS(feed::read_recorded_candles(path, "SOLUSDT"),
                         doctest::Contains("has no symbol SOLUSDT"), feed::recording_error);
}
