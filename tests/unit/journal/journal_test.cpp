// The journal: encoding, append + recovery equal to the state the records imply, torn tails,
// corruption in the middle, snapshots and compaction, group durability, the state-dir lock.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <test_support.hpp>

#include <tradingd/journal/journal.hpp>
#include <tradingd/journal/state_lock.hpp>

using namespace tradingd;
using namespace tradingd::journal;
using journal_file = tradingd::journal::journal;
using tradingd::testing::temp_dir;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<spdlog::logger> quiet() {
    return std::make_shared<spdlog::logger>("journal-test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

config::journal_config small(const char* durability = "fsync") {
    config::journal_config c;
    c.durability = durability;
    c.segment_mb = 1;
    c.snapshot_every = 1'000'000;  // no snapshot unless a test asks
    return c;
}

/// Produces a valid stream of records for several symbols (a runner's life: analyses, entries
/// with stops and targets, ctx writes, exits, suspensions), and applies each to `expected`.
class life_generator {
public:
    explicit life_generator(std::uint32_t seed) : rng_(seed) {}

    /// The next record; its views stay valid until the next call.
    const record& next(journal_state& expected) {
        symbol_ = symbols_[rng_() % 3];
        auto& s = expected.runners[symbol_];
        r_ = record{};
        r_.symbol = symbol_;
        r_.ts = ++ts_ * 60'000;
        pick(s);
        REQUIRE(apply(r_, s));
        ++expected.last_seq;
        return r_;
    }

private:
    void pick(const runner_state& s) {
        if (!s.has_account) {
            r_.type = record_type::account_opened;
            r_.amount = 10'000;
            return;
        }
        const auto roll = rng_() % 10;
        if (roll == 0) {
            r_.type = record_type::ctx_set;
            key_ = "k" + std::to_string(rng_() % 5);
            value_ = roll_value();
            r_.text = key_;
            r_.value = &value_;
            return;
        }
        if (roll == 1) {
            r_.type = record_type::script;
            hash_ = "h" + std::to_string(rng_() % 1000);
            r_.text = hash_;
            r_.name = "s.lua";
            return;
        }
        switch (s.machine.current()) {
            case strategy::phase::idle:
                r_.type = record_type::analysis_begun;
                r_.text = "cross";
                return;
            case strategy::phase::analyzing:
                if (roll < 4) {
                    r_.type = record_type::analysis_cancelled;
                    r_.text = "no";
                    return;
                }
                r_.type = record_type::entry;
                r_.direction = roll % 2 ? strategy::side::long_side : strategy::side::short_side;
                r_.order_fill = exec::fill{exec::order_side::buy, 0.5, 100.0 + roll, 0.05, r_.ts};
                r_.stop_loss = 90.0;
                r_.take_profit = 120.0;
                r_.text = "enter";
                return;
            case strategy::phase::in_position:
                if (roll < 5) {
                    r_.type = roll % 2 ? record_type::stop_loss : record_type::take_profit;
                    r_.stop_loss = 95.0 + roll;
                    r_.take_profit = 110.0 + roll;
                    return;
                }
                if (roll == 5) {
                    r_.type = record_type::ctx_replace;
                    entries_ = {{"a", std::int64_t{1}}, {"b", std::string("x")}};
                    r_.entries = &entries_;
                    return;
                }
                r_.type = record_type::exit;
                r_.order_fill = exec::fill{exec::order_side::sell, 0.5, 104.0, 0.05, r_.ts};
                r_.text = "take_profit";
                return;
        }
    }
    scalar roll_value() {
        switch (rng_() % 4) {
            case 0:
                return rng_() % 2 == 0;
            case 1:
                return static_cast<std::int64_t>(rng_());
            case 2:
                return static_cast<double>(rng_()) / 7.0;
            default:
                return std::string(rng_() % 40, 'z');
        }
    }

    std::mt19937 rng_;
    const char* symbols_[3] = {"BTCUSDT", "ETHUSDT", "SOLUSDT"};
    std::string symbol_, key_, hash_;
    scalar value_;
    ctx_entries entries_;
    timestamp_ms ts_ = 0;
    record r_;
};

/// Appends n generated records; returns the state they imply.
journal_state write_life(const fs::path& dir, const config::journal_config& cfg, int n,
                         std::uint32_t seed = 1) {
    journal_state expected;
    life_generator gen(seed);
    journal_file j(dir, cfg, quiet());
    expected = j.recovered();
    for (int i = 0; i < n; ++i)
        REQUIRE(j.append(gen.next(expected)));
    return expected;
}

fs::path only_segment(const fs::path& dir) {
    fs::path found;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".log") found = e.path();
    REQUIRE(!found.empty());
    return found;
}

/// Offset just past the n-th frame (1-based) of a segment.
std::uint64_t frame_end(const fs::path& segment, int n) {
    const std::string data = tradingd::testing::read_file(segment);
    std::uint64_t off = 0;
    for (int i = 0; i < n; ++i) {
        std::uint32_t len = 0;
        std::memcpy(&len, data.data() + off, 4);
        off += 16 + len;
    }
    return off;
}

void poke(const fs::path& file, std::uint64_t offset, char value) {
    const int fd = ::open(file.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, &value, 1, static_cast<off_t>(offset)) == 1);
    ::close(fd);
}

}  // namespace

TEST_CASE("journal: every record type round-trips through its encoding") {
    journal_state expected;
    life_generator gen(7);
    std::string buf;
    decoded_record d;
    for (int i = 0; i < 2'000; ++i) {
        const record& r = gen.next(expected);
        buf.clear();
        encode(r, buf);
        REQUIRE(decode(buf, d));
        CHECK(d.r.type == r.type);
        CHECK(d.r.symbol == r.symbol);
        CHECK(d.r.ts == r.ts);
        std::string again;
        encode(d.r, again);
        CHECK(again == buf);
        // Every strict prefix is refused, never half-decoded.
        if (i % 50 == 0) {
            for (std::size_t cut = 0; cut < buf.size(); ++cut)
                CHECK_FALSE(decode(std::string_view(buf).substr(0, cut), d));
        }
    }
}

TEST_CASE("journal: reopening restores exactly the state the records imply") {
    temp_dir dir;
    for (const char* durability : {"fsync", "group"}) {
        CAPTURE(durability);
        const fs::path jdir = dir.path() / durability;
        const journal_state expected = write_life(jdir, small(durability), 3'000);
        const journal_file j(jdir, small(durability), quiet());
        CHECK(j.report().records_replayed == 3'000);
        CHECK(j.report().torn_tail.empty());
        CHECK(j.recovered() == expected);
        CHECK(read_journal(jdir) == expected);
        // Positions survive with their stop and target.
        bool some_position = false;
        for (const auto& [sym, s] : expected.runners)
            some_position |= s.machine.current_position().has_value();
        CHECK(some_position);
    }
}

TEST_CASE("journal: appends after a reopen continue the sequence across segments") {
    temp_dir dir;
    auto cfg = small();
    journal_state expected = write_life(dir.path(), cfg, 500, 1);
    {
        journal_file j(dir.path(), cfg, quiet());
        life_generator gen(99);
        // Records must fit the state: continue from the recovered one.
        expected = j.recovered();
        journal_state shadow = expected;
        for (int i = 0; i < 20'000; ++i) {  // > 1 MiB: several segments
            const record& r = gen.next(shadow);
            REQUIRE(j.append(r));
        }
        expected = shadow;
        CHECK(j.stats().last_seq == 20'500);
    }
    std::size_t segments = 0;
    for (const auto& e : fs::directory_iterator(dir.path()))
        segments += e.path().extension() == ".log";
    CHECK(segments >= 2);
    CHECK(read_journal(dir.path()) == expected);
}

TEST_CASE("journal: a torn last record is dropped with a report; the next append replaces it") {
    temp_dir dir;
    journal_state before_last;
    {
        journal_state expected;
        life_generator gen(3);
        journal_file j(dir.path(), small(), quiet());
        for (int i = 0; i < 100; ++i) {
            if (i == 99) before_last = expected;
            REQUIRE(j.append(gen.next(expected)));
        }
    }
    const fs::path seg = only_segment(dir.path());
    const std::uint64_t start = frame_end(seg, 99), end = frame_end(seg, 100);
    SUBCASE("cut in the payload") {
        poke(seg, end - 2, '\x5a');
    }
    SUBCASE("only the header made it") {
        for (std::uint64_t o = start + 16; o < end; ++o)
            poke(seg, o, 0);
    }
    SUBCASE("half the header") {
        for (std::uint64_t o = start + 6; o < end; ++o)
            poke(seg, o, 0);
    }
    recovery_report report;
    CHECK(read_journal(dir.path(), &report) == before_last);
    CHECK(report.torn_tail.find("at offset " + std::to_string(start)) != std::string::npos);
    {
        journal_file j(dir.path(), small(), quiet());
        CHECK(j.recovered() == before_last);
        journal_state expected = before_last;
        life_generator gen(5);
        journal_state shadow = expected;
        for (int i = 0; i < 3; ++i)
            REQUIRE(j.append(gen.next(shadow)));
        expected = shadow;
        j.sync();
        // Reopened again: no torn tail reported any more, and the new records are there.
        recovery_report again;
        CHECK(read_journal(dir.path(), &again) == expected);
        CHECK(again.torn_tail.empty());
    }
}

TEST_CASE("journal: a flipped bit in the middle refuses the start, naming file and offset") {
    temp_dir dir;
    write_life(dir.path(), small(), 200);
    const fs::path seg = only_segment(dir.path());
    const std::uint64_t off = frame_end(seg, 57);
    const std::string data = tradingd::testing::read_file(seg);
    poke(seg, off + 20, static_cast<char>(data[off + 20] ^ 0x04));
    try {
        (void)read_journal(dir.path());
        FAIL("a corrupt journal was accepted");
    } catch (const journal_error& e) {
        const std::string what = e.what();
        CHECK(what.find(seg.string()) != std::string::npos);
        CHECK(what.find("corrupt at offset " + std::to_string(off)) != std::string::npos);
        CHECK(what.find("refusing to start") != std::string::npos);
    }
    CHECK_THROWS_AS(journal_file(dir.path(), small(), quiet()), journal_error);
}

TEST_CASE("journal: snapshots bound the replay and compact the journal behind them") {
    temp_dir dir;
    auto cfg = small("group");
    cfg.snapshot_every = 1'000;
    cfg.group_commit_ms = 1;
    journal_state expected;
    {
        life_generator gen(11);
        journal_file j(dir.path(), cfg, quiet());
        for (int i = 0; i < 30'000; ++i) {
            REQUIRE(j.append(gen.next(expected)));
            if (i % 5'000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        REQUIRE(tradingd::testing::wait_until([&] { return j.stats().snapshots >= 3; },
                                              std::chrono::seconds(10)));
    }
    recovery_report report;
    CHECK(read_journal(dir.path(), &report) == expected);
    CHECK(report.snapshot_seq > 0);
    CHECK(report.records_replayed == 30'000 - report.snapshot_seq);
    std::size_t snapshots = 0;
    unsigned long long first_segment = ~0ull;
    for (const auto& e : fs::directory_iterator(dir.path())) {
        const auto name = e.path().filename().string();
        snapshots += name.starts_with("snapshot-");
        if (name.starts_with("segment-"))
            first_segment = std::min(first_segment, std::stoull(name.substr(8, 20)));
    }
    CHECK(snapshots == 1);                            // older ones deleted
    CHECK(first_segment > 1);                         // segments behind the snapshot deleted
    CHECK(first_segment <= report.snapshot_seq + 1);  // nothing the snapshot lacks

    // A snapshot interrupted before its rename is ignored and removed (P05).
    tradingd::testing::temp_dir scratch;
    const fs::path tmp = dir.path() / "snapshot-99999999999999999999.snap.tmp";
    std::ofstream(tmp) << "half a snapshot";
    {
        journal_file j(dir.path(), cfg, quiet());
        CHECK(j.recovered() == expected);
    }
    CHECK_FALSE(fs::exists(tmp));

    // A damaged snapshot whose records were compacted away: refuse, saying why.
    for (const auto& e : fs::directory_iterator(dir.path())) {
        if (e.path().filename().string().starts_with("snapshot-")) poke(e.path(), 40, '\x7f');
    }
    try {
        (void)read_journal(dir.path());
        FAIL("a journal missing its start was accepted");
    } catch (const journal_error& e) {
        CHECK(std::string(e.what()).find("are missing") != std::string::npos);
        CHECK(std::string(e.what()).find("checksum mismatch") != std::string::npos);
    }
}

TEST_CASE("journal: a record the state does not accept is refused and the journal stops") {
    temp_dir dir;
    journal_file j(dir.path(), small(), quiet());
    record r;
    r.symbol = "BTCUSDT";
    r.type = record_type::exit;  // nothing open, no account
    CHECK_FALSE(j.append(r));
    CHECK_FALSE(j.healthy());
    CHECK(j.failure().find("does not fit") != std::string::npos);
    r.type = record_type::account_opened;
    r.amount = 1'000;
    CHECK_FALSE(j.append(r));  // sticky: nothing more is recorded
    CHECK(read_journal(dir.path()).last_seq == 0);
}

TEST_CASE("journal: an unwritable directory is a clear error at open (P06)") {
    if (::geteuid() == 0) {
        // root writes through permission bits; the daemon test covers this with a file in the way
        temp_dir dir;
        const fs::path blocker = dir.write("journal", "a file, not a directory");
        CHECK_THROWS_WITH_AS(journal_file(blocker, small(), quiet()),
                             doctest::Contains("cannot create journal directory"),
                             std::runtime_error);
        return;
    }
    temp_dir dir;
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
    CHECK_THROWS_WITH_AS(journal_file(dir.path() / "journal", small(), quiet()),
                         doctest::Contains("cannot create journal directory"), std::runtime_error);
    fs::permissions(dir.path(), fs::perms::owner_all);
}

TEST_CASE("state_lock: a second holder is refused, naming the first (P07)") {
    temp_dir dir;
    {
        state_lock first(dir.path(), "config a.toml");
        try {
            state_lock second(dir.path(), "config b.toml");
            FAIL("two locks on one state directory");
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            CHECK(what.find("is in use by another tradingd") != std::string::npos);
            CHECK(what.find("pid " + std::to_string(::getpid())) != std::string::npos);
            CHECK(what.find("config a.toml") != std::string::npos);
        }
    }
    // Released with its holder: a restart takes it again.
    CHECK_NOTHROW(state_lock(dir.path(), "again"));
}

TEST_CASE("journal: a snapshot body decodes to the state it encoded") {
    journal_state expected;
    life_generator gen(21);
    for (int i = 0; i < 5'000; ++i) {
        (void)gen.next(expected);
        if (i % 250 != 0) continue;
        std::string body;
        encode_state(expected, body);
        auto back = decode_state(body);
        INFO("after record " << i);
        INFO((back ? std::string() : back.error_message()));
        REQUIRE(back.ok());
        CHECK(back.value() == expected);
    }
}

TEST_CASE("journal: a record of another format version is refused, naming the version") {
    journal_state expected;
    life_generator gen(2);
    std::string buf;
    encode(gen.next(expected), buf);
    CHECK(static_cast<std::uint8_t>(buf[0]) == record_format_version);
    buf[0] = static_cast<char>(record_format_version + 1);
    decoded_record d;
    const auto r = decode(buf, d);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("record format version 2") != std::string::npos);
}

TEST_CASE("journal: records replayed at open count towards the next snapshot") {
    temp_dir dir;
    const journal_state expected = write_life(dir.path(), small(), 1'500);
    auto cfg = small();
    cfg.snapshot_every = 1'000;
    {
        journal_file j(dir.path(), cfg, quiet());
        // Restarting often must not let the replay grow without bound: a snapshot is due now.
        REQUIRE(tradingd::testing::wait_until([&] { return j.stats().snapshots == 1; },
                                              std::chrono::seconds(10)));
    }
    recovery_report report;
    CHECK(read_journal(dir.path(), &report) == expected);
    CHECK(report.snapshot_seq == 1'500);
    CHECK(report.records_replayed == 0);
}
