// The must-have of recording: run the real daemon on the simulated feed with --record, replay the
// recording with `tradingd replay` on a fresh state directory, and get the same decisions.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include <tradingd/feed/recording.hpp>

#include "process.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using tradingd::testing::child_process;
using tradingd::testing::read_file;
using tradingd::testing::temp_dir;

/// A copy of config/sim.toml and the shipped strategies in a temp tree (state goes to var/sim
/// there), paced at 6000x: a 1m candle every 10 ms.
struct sim_tree {
    temp_dir dir;
    fs::path config;
    sim_tree() {
        fs::create_directories(dir.path() / "config");
        config = dir.path() / "config" / "sim.toml";
        std::string text = read_file(fs::path(TRADINGD_SOURCE_DIR) / "config" / "sim.toml");
        text = std::regex_replace(text, std::regex("\nspeed = 600 "), "\nspeed = 6000 ");
        REQUIRE(text.find("speed = 6000") != std::string::npos);
        REQUIRE(text.find("\n[sandbox]") == std::string::npos);  // only a comment mentions it
        // The time limit is wall-clock: under ctest -j4 on 2 cores a runner thread was once
        // descheduled for longer than the default 250 ms, its call failed with "time limit
        // exceeded" in one of the two runs only, and the decision logs differed. This test is
        // about replay identity, not time limits.
        text +=
            "\n[sandbox]\ntime_limit_ms = 10000\nwedge_after_ms = 20000\nwedge_exit_after_ms = "
            "60000\n";
        std::ofstream(config) << text;
        fs::copy(fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies", dir.path() / "lua-strategies");
    }
};

/// Runs tradingd with `args`; returns the exit code (fails the test on a timeout).
int run_tradingd(const sim_tree& tree, const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), TRADINGD_BINARY);
    child_process p(args, tree.dir.path() / (name + ".out"), tree.dir.path() / (name + ".err"));
    const auto code = p.wait(std::chrono::seconds(60));
    REQUIRE_MESSAGE(code.has_value(), name << " did not exit in 60 s");
    return *code;
}

/// The decision log's lines grouped by symbol, in file order. Runners of different symbols
/// write concurrently, so only each symbol's own sequence is reproducible.
std::map<std::string, std::vector<nlohmann::json>> by_symbol(const fs::path& log) {
    std::map<std::string, std::vector<nlohmann::json>> out;
    std::istringstream in(read_file(log));
    for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line);
        out[j.at("symbol").get<std::string>()].push_back(j);
    }
    return out;
}

}  // namespace

TEST_CASE("recording: a replay of a recorded sim session reproduces its decision log exactly") {
    sim_tree tree;
    const fs::path recording = tree.dir.path() / "session.tdrec";
    const fs::path live_log = tree.dir.path() / "var" / "sim" / "decisions.jsonl";

    REQUIRE(run_tradingd(tree, "live",
                         {"--config", tree.config.string(), "--duration", "4s", "--record",
                          recording.string()}) == 0);
    const auto summary = tradingd::feed::scan_recording(recording);
    CHECK(summary.symbols == std::vector<std::string>{"BTCUSDT", "ETHUSDT", "SOLUSDT"});
    CHECK(summary.torn_tail_bytes == 0);
    for (const auto n : summary.events)
        CHECK(n > 200);  // the warm-up candles and then live events, for every symbol

    // Replaying into the live state directory would start from its journal: refused.
    const int refused =
        run_tradingd(tree, "refused",
                     {"replay", "--config", tree.config.string(), "--data", recording.string()});
    CHECK(refused == 1);
    CHECK(read_file(tree.dir.path() / "refused.err").find("fresh state directory") !=
          std::string::npos);

    const fs::path replay_dir = tree.dir.path() / "replay-state";
    REQUIRE(run_tradingd(tree, "replay",
                         {"replay", "--config", tree.config.string(), "--data", recording.string(),
                          "--state-dir", replay_dir.string()}) == 0);
    const std::string replay_err = read_file(tree.dir.path() / "replay.err");
    CHECK(replay_err.find("stopping (the feed finished)") != std::string::npos);
    CHECK(replay_err.find("events delivered") != std::string::npos);

    const auto live = by_symbol(live_log);
    const auto replayed = by_symbol(replay_dir / "decisions.jsonl");
    REQUIRE(live.size() == 3);
    std::size_t fills = 0;
    for (const auto& [symbol, lines] : live) {
        const std::string& name = symbol;  // clang 14: lambdas (INFO) cannot capture bindings
        INFO("symbol " << name);
        REQUIRE(replayed.count(symbol) == 1);
        const auto& other = replayed.at(symbol);
        CHECK(lines.size() == other.size());
        // Every field of every line: ts and time are market time, prices come from the
        // recorded events, script_hash from the same scripts. Nothing is excluded.
        for (std::size_t i = 0; i < std::min(lines.size(), other.size()); ++i) {
            INFO("line " << i);
            REQUIRE(lines[i] == other[i]);
        }
        for (const auto& l : lines)
            fills += l.at("event") == "fill" ? 1 : 0;
    }
    CHECK(fills >= 2);  // the comparison covered trading, not just idle calls
}
