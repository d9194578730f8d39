// [feed] record and [feed.replay]: parsed, resolved against the config file, checked.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <tradingd/config/config.hpp>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using tradingd::config::config_error;
using tradingd::config::parse_config;
using tradingd::testing::temp_dir;

std::string config_text(const std::string& feed) {
    return R"(
[daemon]
state_dir = "var"
strategies_dir = "strategies"
)" + feed + R"(
[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
quantity = 0.01
)";
}

struct tree {
    temp_dir dir;
    tree() {
        fs::create_directories(dir.path() / "strategies");
        dir.write("strategies/sma_cross.lua", "-- dummy\n");
        dir.write("s.tdrec", "x");
    }
    fs::path origin() const { return dir.path() / "test.toml"; }
    std::string problems(const std::string& feed) const {
        try {
            parse_config(config_text(feed), origin());
        } catch (const config_error& e) {
            return e.what();
        }
        FAIL("accepted: " << feed);
        return {};
    }
};

}  // namespace

TEST_CASE("recording: [feed] record and [feed.replay] are read relative to the config file") {
    tree t;
    auto s = parse_config(config_text("[feed]\nrecord = \"rec/out.tdrec\"\n"), t.origin());
    CHECK(s.feed.type == "sim");
    CHECK(s.feed.record == t.dir.path() / "rec" / "out.tdrec");
    CHECK(s.feed.replay.data.empty());

    s = parse_config(config_text("[feed]\ntype = \"replay\"\n[feed.replay]\ndata = \"s.tdrec\"\n"),
                     t.origin());
    CHECK(s.feed.type == "replay");
    CHECK(s.feed.replay.data == t.dir.path() / "s.tdrec");
    CHECK(s.feed.replay.speed == 0);  // as fast as possible by default
    s = parse_config(
        config_text("[feed]\ntype = \"replay\"\n[feed.replay]\ndata = \"s.tdrec\"\nspeed = 2.5\n"),
        t.origin());
    CHECK(s.feed.replay.speed == 2.5);
    s = parse_config(
        config_text("[feed]\ntype = \"replay\"\n[feed.replay]\ndata = \"s.tdrec\"\nspeed = 0\n"),
        t.origin());
    CHECK(s.feed.replay.speed == 0);
    s = parse_config(
        config_text(
            "[feed]\ntype = \"replay\"\n[feed.replay]\ndata = \"s.tdrec\"\nspeed = \"max\"\n"),
        t.origin());
    CHECK(s.feed.replay.speed == 0);
}

TEST_CASE("recording: bad [feed] record and [feed.replay] values are reported with their line") {
    tree t;
    CHECK(t.problems("[feed]\ntype = \"replay\"\n")
              .find("feed.replay.data: required key is missing") != std::string::npos);
    CHECK(t.problems("[feed]\ntype = \"replay\"\n[feed.replay]\ndata = \"absent.tdrec\"\n")
              .find("test.toml:8:8: feed.replay.data: recording '") != std::string::npos);
    CHECK(t.problems("[feed]\ntype = \"replay\"\n[feed.replay]\ndata = \"s.tdrec\"\nspeed = -1\n")
              .find("feed.replay.speed") != std::string::npos);
    CHECK(t.problems(
               "[feed]\ntype = \"replay\"\n[feed.replay]\ndata = \"s.tdrec\"\nspeed = \"fast\"\n")
              .find("feed.replay.speed") != std::string::npos);
    CHECK(t.problems("[feed]\nrecord = \"\"\n").find("feed.record: path must not be empty") !=
          std::string::npos);
    CHECK(t.problems("[feed]\ntype = \"replay\"\nrecord = \"s.tdrec\"\n[feed.replay]\ndata = "
                     "\"s.tdrec\"\n")
              .find("feed.record: is the file [feed.replay] data replays") != std::string::npos);
    CHECK(t.problems("[feed.replay]\ndata = \"s.tdrec\"\nsped = 1\n").find("feed.replay.sped") !=
          std::string::npos);
}
