#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <tradingd/engine/decision_log.hpp>

#include "test_support.hpp"

namespace {

using tradingd::engine::decision_log_file;
using tradingd::engine::decision_log_files;
using tradingd::engine::decision_log_rotation;
using tradingd::engine::decision_record;
namespace fs = std::filesystem;

decision_record call_record(std::int64_t i) {
    decision_record r;
    r.ts = 1704067259999 + i * 60'000;
    r.symbol = "BTCUSDT";
    r.event = "call";
    r.state = "Idle";
    r.function = "detect_opportunity";
    r.action = "open_analysis";
    r.reason = "a reason long enough to make each line around two hundred bytes of JSON text";
    r.price = 30000 + static_cast<double>(i);
    return r;
}

std::vector<std::string> lines_of(const fs::path& p) {
    std::ifstream in(p);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

void set_age(const fs::path& p, std::chrono::hours age) {
    fs::last_write_time(p, fs::file_time_type::clock::now() - age);
}

}  // namespace

TEST_CASE("decision_log: without a rotation everything stays in one file") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    {
        decision_log_file log(path);
        for (int i = 0; i < 50; ++i)
            log.write(call_record(i));
        CHECK(log.rotations() == 0);
    }
    CHECK(decision_log_files(path) == std::vector<fs::path>{path});
    CHECK(lines_of(path).size() == 50);
}

TEST_CASE("decision_log: rotation by size keeps every line whole and in order") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    const auto line_size = tradingd::engine::to_json_line(call_record(0)).size() + 1;
    const std::uint64_t max_bytes = line_size * 3 + line_size / 2;  // 3 lines fit, not 4
    {
        decision_log_file log(path, decision_log_rotation{max_bytes, std::chrono::seconds(0)});
        for (int i = 0; i < 10; ++i)
            log.write(call_record(i));
        CHECK(log.rotations() == 3);
        CHECK(log.write_errors() == 0);
    }
    const auto files = decision_log_files(path);
    REQUIRE(files.size() == 4);
    CHECK(files.back() == path);
    std::int64_t expected = 0;
    for (const auto& f : files) {
        CHECK(fs::file_size(f) <= max_bytes);
        for (const auto& line : lines_of(f)) {
            const auto j = nlohmann::json::parse(line);  // throws if a line was split
            CHECK(j["price"].get<double>() == 30000 + static_cast<double>(expected));
            ++expected;
        }
    }
    CHECK(expected == 10);
    // Rotated names: <stem>-<UTC stamp>[-N].jsonl; several rotations in one second get -1, -2.
    for (std::size_t i = 0; i + 1 < files.size(); ++i) {
        const auto name = files[i].filename().string();
        CHECK(name.rfind("decisions-", 0) == 0);
        CHECK(files[i].extension() == ".jsonl");
        CHECK(tradingd::engine::detail::parse_rotated_name(path, name).has_value());
    }
}

TEST_CASE("decision_log: a line longer than max_bytes is written whole to its own file") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    {
        decision_log_file log(path, decision_log_rotation{50, std::chrono::seconds(0)});
        log.write(call_record(0));
        log.write(call_record(1));
    }
    const auto files = decision_log_files(path);
    REQUIRE(files.size() == 2);
    CHECK(lines_of(files[0]).size() == 1);
    CHECK(lines_of(files[1]).size() == 1);
    CHECK(nlohmann::json::parse(lines_of(files[1])[0])["price"] == 30001.0);
}

TEST_CASE("decision_log: rotated names sort by time stamp, then by counter") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    dir.write("decisions-20240102T000000Z.jsonl", "");
    dir.write("decisions-20240101T000000Z-2.jsonl", "");
    dir.write("decisions-20240101T000000Z-10.jsonl", "");
    dir.write("decisions-20240101T000000Z.jsonl", "");
    dir.write("decisions-20240101T000000Z-1.jsonl", "");
    // Not rotated files of this log: other stem, other extension, malformed stamps.
    dir.write("other-20240101T000000Z.jsonl", "");
    dir.write("decisions-20240101T000000Z.txt", "");
    dir.write("decisions-2024010T000000Z.jsonl", "");
    dir.write("decisions-20240101T000000Z-x.jsonl", "");
    dir.write("decisions.jsonl", "");
    const std::vector<fs::path> expected{
        dir.path() / "decisions-20240101T000000Z.jsonl",
        dir.path() / "decisions-20240101T000000Z-1.jsonl",
        dir.path() / "decisions-20240101T000000Z-2.jsonl",
        dir.path() / "decisions-20240101T000000Z-10.jsonl",
        dir.path() / "decisions-20240102T000000Z.jsonl",
        path,
    };
    CHECK(decision_log_files(path) == expected);
}

TEST_CASE("decision_log: a taken rotated name gets a -N suffix") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    const std::time_t t = 1704080100;  // 2024-01-01T03:35:00Z
    const auto first = tradingd::engine::detail::free_rotated_name(path, t);
    CHECK(first.filename() == "decisions-20240101T033500Z.jsonl");
    dir.write(first.filename().string(), "x\n");
    CHECK(tradingd::engine::detail::free_rotated_name(path, t).filename() ==
          "decisions-20240101T033500Z-1.jsonl");
}

TEST_CASE("decision_log: rotated files older than keep are deleted at open and at rotation") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    const auto old_file = dir.write("decisions-20230101T000000Z.jsonl", "{}\n");
    const auto recent_file = dir.write("decisions-20230102T000000Z.jsonl", "{}\n");
    const auto unrelated = dir.write("notes-20230101T000000Z.jsonl", "{}\n");
    set_age(old_file, std::chrono::hours(24 * 3));
    set_age(recent_file, std::chrono::hours(12));
    set_age(unrelated, std::chrono::hours(24 * 3));
    const auto line_size = tradingd::engine::to_json_line(call_record(0)).size() + 1;
    {
        decision_log_file log(path, decision_log_rotation{line_size, std::chrono::days(2)});
        CHECK_FALSE(fs::exists(old_file));
        CHECK(fs::exists(recent_file));
        CHECK(fs::exists(unrelated));

        // The recent file ages while the log is open; the next rotation deletes it.
        set_age(recent_file, std::chrono::hours(24 * 3));
        log.write(call_record(0));
        CHECK(fs::exists(recent_file));
        log.write(call_record(1));
        CHECK(log.rotations() == 1);
        CHECK_FALSE(fs::exists(recent_file));
    }
    CHECK(fs::exists(unrelated));
    CHECK(decision_log_files(path).size() == 2);  // the rotated file just made, and the current
}

TEST_CASE("decision_log: keep 0 deletes nothing") {
    tradingd::testing::temp_dir dir;
    const auto path = dir.path() / "decisions.jsonl";
    const auto old_file = dir.write("decisions-20000101T000000Z.jsonl", "{}\n");
    set_age(old_file, std::chrono::hours(24 * 365 * 5));
    decision_log_file log(path, decision_log_rotation{1, std::chrono::seconds(0)});
    log.write(call_record(0));
    log.write(call_record(1));
    CHECK(fs::exists(old_file));
    CHECK(decision_log_files(path).size() == 3);
}
