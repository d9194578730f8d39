#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <test_support.hpp>

#include <tradingd/reload/script_watcher.hpp>

namespace {

namespace fs = std::filesystem;
using tradingd::reload::change_kind;
using tradingd::reload::is_script_name;
using tradingd::reload::script_change;
using tradingd::reload::script_watcher;
using tradingd::testing::temp_dir;
using clock_type = script_watcher::clock;
using std::chrono::milliseconds;

constexpr milliseconds debounce{100};
// Explicit event times: the debounce assertions never depend on how fast the test runs.
const clock_type::time_point t0 = clock_type::time_point{} + std::chrono::hours(1);
const clock_type::time_point far_future = t0 + std::chrono::hours(1);

/// Waits (up to 2 s) for the kernel to have events queued, then drains them as of `now`.
/// inotify queues events inside the file system call itself, so everything the test did
/// before calling this is readable in one drain.
void drain_at(script_watcher& w, clock_type::time_point now) {
    pollfd p{w.fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 2000) == 1);
    w.drain(now);
}

void append(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary | std::ios::app) << text;
}

/// Writes a script that is not under test and waits for its report: once it is seen, every
/// event caused before it has been drained too.
std::vector<script_change> drain_with_sentinel(script_watcher& w, const temp_dir& dir) {
    dir.write("sentinel.lua", "return {}\n");
    drain_at(w, t0);
    return w.take_due(far_future);
}

void check_one(const std::vector<script_change>& changes, const std::string& name, change_kind kind,
               clock_type::time_point last_event) {
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].name == name);
    CHECK(changes[0].kind == kind);
    CHECK(changes[0].last_event == last_event);
}

}  // namespace

TEST_CASE("script_watcher: an in-place write is reported once, after the debounce") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    CHECK(w.error().empty());
    CHECK(w.fd() >= 0);

    dir.write("sma.lua", "return {}\n");  // open, write, close
    drain_at(w, t0);

    CHECK(w.take_due(t0).empty());
    CHECK(w.take_due(t0 + debounce - milliseconds(1)).empty());
    check_one(w.take_due(t0 + debounce), "sma.lua", change_kind::written, t0);
    CHECK(w.take_due(far_future).empty());
    CHECK_FALSE(w.next_deadline().has_value());
}

TEST_CASE("script_watcher: a chunked write is not reported before the writer closes the file") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    const auto t1 = t0 + milliseconds(500);
    const auto t2 = t0 + milliseconds(1000);
    const auto t3 = t0 + milliseconds(1500);
    {
        std::ofstream out(dir.path() / "chunked.lua", std::ios::binary);
        out << "local a = 1\n" << std::flush;
        drain_at(w, t0);
        CHECK(w.take_due(far_future).empty());
        CHECK_FALSE(w.next_deadline().has_value());

        out << "local b = 2\n" << std::flush;
        drain_at(w, t1);
        CHECK(w.take_due(far_future).empty());

        out << "return {}\n" << std::flush;
        drain_at(w, t2);
        CHECK(w.take_due(far_future).empty());
        CHECK_FALSE(w.next_deadline().has_value());
    }  // closed here
    drain_at(w, t3);
    CHECK(w.take_due(t3 + debounce - milliseconds(1)).empty());
    check_one(w.take_due(t3 + debounce), "chunked.lua", change_kind::written, t3);
    CHECK(w.take_due(far_future).empty());
}

TEST_CASE("script_watcher: repeated writes within the debounce yield one report") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    append(dir.path() / "x.lua", "local a = 1\n");
    drain_at(w, t0);
    append(dir.path() / "x.lua", "local b = 2\n");
    drain_at(w, t0 + milliseconds(30));
    append(dir.path() / "x.lua", "return {}\n");
    const auto last = t0 + milliseconds(60);
    drain_at(w, last);

    CHECK(w.next_deadline() == last + debounce);
    CHECK(w.take_due(t0 + debounce).empty());  // the first write's deadline was pushed back
    CHECK(w.take_due(last + debounce - milliseconds(1)).empty());
    check_one(w.take_due(last + debounce), "x.lua", change_kind::written, last);
    CHECK(w.take_due(far_future).empty());
}

TEST_CASE("script_watcher: writing to a file that is waiting for its report pushes it back") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    dir.write("busy.lua", "local a = 1\n");
    drain_at(w, t0);
    const auto t1 = t0 + milliseconds(50);
    const auto t2 = t0 + milliseconds(400);
    {
        std::ofstream out(dir.path() / "busy.lua", std::ios::binary | std::ios::app);
        out << "return {}\n" << std::flush;
        drain_at(w, t1);
        CHECK(w.next_deadline() == t1 + debounce);
        CHECK(w.take_due(t0 + debounce).empty());
    }
    drain_at(w, t2);
    CHECK(w.take_due(t1 + debounce).empty());
    check_one(w.take_due(t2 + debounce), "busy.lua", change_kind::written, t2);
}

TEST_CASE("script_watcher: a save through a temporary file reports only the final name") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    SUBCASE("x.lua.tmp renamed to x.lua") {
        dir.write("x.lua.tmp", "return {}\n");
        REQUIRE(::rename((dir.path() / "x.lua.tmp").c_str(), (dir.path() / "x.lua").c_str()) == 0);
    }
    SUBCASE("a hidden swap file renamed to x.lua") {
        dir.write(".x.lua.swp", "return {}\n");
        REQUIRE(::rename((dir.path() / ".x.lua.swp").c_str(), (dir.path() / "x.lua").c_str()) == 0);
    }
    SUBCASE("x.lua moved to a backup, rewritten, backup deleted (vim's default save)") {
        dir.write("x.lua", "return 1\n");
        REQUIRE(::rename((dir.path() / "x.lua").c_str(), (dir.path() / "x.lua~").c_str()) == 0);
        dir.write("x.lua", "return 2\n");
        REQUIRE(::unlink((dir.path() / "x.lua~").c_str()) == 0);
    }
    drain_at(w, t0);
    check_one(w.take_due(far_future), "x.lua", change_kind::written, t0);
}

TEST_CASE("script_watcher: a deleted script is reported as deleted") {
    temp_dir dir;
    const auto path = dir.write("gone.lua", "return {}\n");
    script_watcher w(dir.path(), debounce);
    SUBCASE("unlink") {
        REQUIRE(::unlink(path.c_str()) == 0);
    }
    SUBCASE("renamed to a name that is not a script") {
        REQUIRE(::rename(path.c_str(), (dir.path() / "gone.lua.disabled").c_str()) == 0);
    }
    drain_at(w, t0);
    CHECK(w.take_due(t0 + debounce - milliseconds(1)).empty());
    check_one(w.take_due(t0 + debounce), "gone.lua", change_kind::deleted, t0);
}

TEST_CASE("script_watcher: a write followed by a delete within the debounce reports deleted") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    const auto path = dir.write("brief.lua", "return {}\n");
    drain_at(w, t0);
    REQUIRE(::unlink(path.c_str()) == 0);
    const auto t1 = t0 + milliseconds(10);
    drain_at(w, t1);
    CHECK(w.take_due(t0 + debounce).empty());
    check_one(w.take_due(far_future), "brief.lua", change_kind::deleted, t1);
}

TEST_CASE(
    "script_watcher: non-scripts, hidden files, editor files and subdirectories are "
    "ignored") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    dir.write("notes.txt", "hello\n");
    dir.write("x.luac", "bytecode\n");
    dir.write(".hidden.lua", "return {}\n");
    dir.write("x.lua~", "return {}\n");
    dir.write("x.lua.swp", "swap\n");
    dir.write("#x.lua#", "autosave\n");
    REQUIRE(::symlink("user@host.1234", (dir.path() / ".#x.lua").c_str()) == 0);  // emacs lock
    fs::create_directory(dir.path() / "sub");
    dir.write("sub/inner.lua", "return {}\n");
    fs::create_directory(dir.path() / "dir.lua");
    fs::remove(dir.path() / "dir.lua");
    REQUIRE(::unlink((dir.path() / "notes.txt").c_str()) == 0);

    const auto changes = drain_with_sentinel(w, dir);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].name == "sentinel.lua");
    CHECK(w.error().empty());
}

TEST_CASE("script_watcher: a hard link alone is not reported (it may still be open)") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    // The header's contract: only a close, a rename or a delete reports a file; IN_CREATE does
    // not, because a created file may be half-written.
    dir.write("staged.txt", "return {}\n");
    REQUIRE(::link((dir.path() / "staged.txt").c_str(), (dir.path() / "linked.lua").c_str()) == 0);
    const auto changes = drain_with_sentinel(w, dir);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].name == "sentinel.lua");
}

TEST_CASE("script_watcher: is_script_name accepts plain .lua names only") {
    CHECK(is_script_name("a.lua"));
    CHECK(is_script_name("sma_cross.lua"));
    CHECK(is_script_name("v2.mean-revert.lua"));
    CHECK_FALSE(is_script_name(""));
    CHECK_FALSE(is_script_name(".lua"));
    CHECK_FALSE(is_script_name("lua"));
    CHECK_FALSE(is_script_name("a.luac"));
    CHECK_FALSE(is_script_name("a.LUA"));
    CHECK_FALSE(is_script_name("a.lua.tmp"));
    CHECK_FALSE(is_script_name("a.lua~"));
    CHECK_FALSE(is_script_name("a.lua.swp"));
    CHECK_FALSE(is_script_name(".a.lua.swp"));
    CHECK_FALSE(is_script_name(".a.lua"));
    CHECK_FALSE(is_script_name(".#a.lua"));
    CHECK_FALSE(is_script_name("#a.lua#"));
    CHECK_FALSE(is_script_name("sub/a.lua"));
}

TEST_CASE("script_watcher: next_deadline is the earliest last event plus the debounce") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    CHECK_FALSE(w.next_deadline().has_value());

    dir.write("a.lua", "return {}\n");
    drain_at(w, t0);
    CHECK(w.next_deadline() == t0 + debounce);

    const auto t1 = t0 + milliseconds(50);
    dir.write("b.lua", "return {}\n");
    drain_at(w, t1);
    CHECK(w.next_deadline() == t0 + debounce);

    check_one(w.take_due(t0 + debounce), "a.lua", change_kind::written, t0);
    CHECK(w.next_deadline() == t1 + debounce);
    check_one(w.take_due(t1 + debounce), "b.lua", change_kind::written, t1);
    CHECK_FALSE(w.next_deadline().has_value());
}

TEST_CASE("script_watcher: due changes come back ordered by name") {
    temp_dir dir;
    script_watcher w(dir.path(), debounce);
    for (const char* name : {"m.lua", "z.lua", "a.lua"})
        dir.write(name, "return {}\n");
    drain_at(w, t0);
    const auto changes = w.take_due(t0 + debounce);
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].name == "a.lua");
    CHECK(changes[1].name == "m.lua");
    CHECK(changes[2].name == "z.lua");
}

TEST_CASE("script_watcher: a zero debounce reports at the next take_due") {
    temp_dir dir;
    script_watcher w(dir.path(), milliseconds(0));
    dir.write("now.lua", "return {}\n");
    drain_at(w, t0);
    CHECK(w.next_deadline() == t0);
    check_one(w.take_due(t0), "now.lua", change_kind::written, t0);
}

TEST_CASE("script_watcher: a queue overflow reports every script in the directory") {
    temp_dir dir;
    dir.write("one.lua", "return {}\n");
    dir.write("two.lua", "return {}\n");
    dir.write("readme.txt", "not a script\n");
    script_watcher w(dir.path(), debounce);

    long max_events = 0;
    std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_events;
    REQUIRE(max_events > 0);
    // Alternate two files so the kernel cannot merge consecutive identical events.
    const int a = ::open((dir.path() / "a.txt").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    const int b = ::open((dir.path() / "b.txt").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    bool all_written = true;
    for (long i = 0; i <= max_events / 2 + 1; ++i) {
        all_written = all_written && ::write(a, "x", 1) == 1 && ::write(b, "x", 1) == 1;
    }
    REQUIRE(all_written);
    ::close(a);
    ::close(b);

    drain_at(w, t0);
    CHECK(w.error().empty());
    const auto changes = w.take_due(t0 + debounce);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].name == "one.lua");
    CHECK(changes[0].kind == change_kind::written);
    CHECK(changes[1].name == "two.lua");
    CHECK(changes[1].kind == change_kind::written);
}

TEST_CASE("script_watcher: a missing directory throws with its path") {
    temp_dir dir;
    const auto missing = dir.path() / "no-such-strategies";
    CHECK_THROWS_WITH_AS(script_watcher(missing, debounce), doctest::Contains(missing.c_str()),
                         std::runtime_error);
    const auto file = dir.write("plain.lua", "return {}\n");
    CHECK_THROWS_WITH_AS(script_watcher(file, debounce), doctest::Contains(file.c_str()),
                         std::runtime_error);
}

TEST_CASE("script_watcher: removing or moving the watched directory stops watching") {
    temp_dir parent;
    const auto dir = parent.path() / "strategies";
    fs::create_directory(dir);
    std::ofstream(dir / "kept.lua") << "return {}\n";
    script_watcher w(dir, debounce);

    SUBCASE("removed") {
        fs::remove_all(dir);
        drain_at(w, t0);
        // The script's deletion seen before the directory went is still reported.
        check_one(w.take_due(far_future), "kept.lua", change_kind::deleted, t0);
    }
    SUBCASE("moved") {
        fs::rename(dir, parent.path() / "elsewhere");
        drain_at(w, t0);
        CHECK(w.take_due(far_future).empty());
    }
    CHECK(w.fd() == -1);
    CHECK(w.error().find(dir.string()) != std::string::npos);
    CHECK(w.error().find("deleted or moved") != std::string::npos);
    w.drain(t0);  // stopped: a no-op, not a read on a closed descriptor
    CHECK(w.fd() == -1);
    CHECK_FALSE(w.next_deadline().has_value());
}
