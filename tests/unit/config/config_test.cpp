// Tests for the config loader: every field parsed, defaults, path resolution, and the error
// catalogue of RELIABILITY.md §5.4 (C01-C04): each problem named with file, line, key path.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <tradingd/config/config.hpp>

namespace fs = std::filesystem;
using tradingd::config::config_error;
using tradingd::config::daemon_settings;
using tradingd::config::load_config;
using tradingd::config::parse_config;

namespace {

/// A fresh directory under the system temp dir, holding `strategies/` with dummy scripts and
/// removed at the end of the test.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        std::random_device rd;
        path_ = fs::temp_directory_path() /
                ("tradingd-config-test-" + std::to_string(rd()) + "-" + std::to_string(++counter));
        fs::create_directories(path_ / "strategies");
        for (const char* name : {"sma_cross", "rsi_reversion", "other"}) {
            write(fs::path("strategies") / (std::string(name) + ".lua"), "-- dummy\n");
        }
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const fs::path& path() const { return path_; }
    /// Where the config "lives": relative paths in it resolve against path().
    fs::path origin() const { return path_ / "test.toml"; }

    void write(const fs::path& relative, const std::string& text) const {
        std::ofstream out(path_ / relative, std::ios::binary);
        out << text;
    }

private:
    fs::path path_;
};

/// The smallest valid config: required keys only.
const std::string k_minimal = R"(
[daemon]
state_dir = "var"
strategies_dir = "strategies"

[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
quantity = 0.01
)";

/// Parses text that must be rejected and returns the problems.
std::vector<std::string> problems_of(const std::string& text, const fs::path& origin) {
    try {
        parse_config(text, origin);
    } catch (const config_error& e) {
        return e.problems();
    }
    FAIL("config was accepted but should have been rejected:\n" << text);
    return {};
}

bool has_problem(const std::vector<std::string>& problems, const std::string& expected) {
    return std::find(problems.begin(), problems.end(), expected) != problems.end();
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines)
        out += l + "\n";
    return out;
}

}  // namespace

TEST_CASE("config: valid config parses with all fields") {
    temp_dir dir;
    const std::string text = R"(
[daemon]
log_level = "debug"
state_dir = "state"
decision_log = "logs/decisions.jsonl"
strategies_dir = "strategies"

[feed]
type = "sim"

[feed.sim]
seed = 42
speed = 600
ticks_per_candle = 10
warmup_candles = 200
start_time = 1700000000000

[paper]
fee_bps = 7.5
slippage_bps = 1
starting_cash = 50000

[sandbox]
memory_limit_mb = 32
instruction_budget = 2000000
time_limit_ms = 100
max_consecutive_failures = 3
wedge_after_ms = 500
wedge_exit_after_ms = 5000

[engine]
queue_capacity = 1024

[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
interval = "5m"
window = 300
quantity = 0.002

[symbols.params]
fast = 10
slow = 30.5
enabled = true
mode = "cross"

[symbols.sim]
start_price = 30000
drift = -0.1
volatility = 0.8
spread_bps = 1.5

[[symbols]]
symbol = "ETHUSDT"
strategy = "rsi_reversion"
quantity = 0.05
)";
    const daemon_settings s = parse_config(text, dir.origin());
    const fs::path root = fs::weakly_canonical(dir.path());

    CHECK(s.source == dir.origin());
    CHECK(s.daemon.log_level == "debug");
    CHECK(s.daemon.state_dir == root / "state");
    CHECK(s.daemon.decision_log == root / "logs" / "decisions.jsonl");
    CHECK(s.daemon.strategies_dir == root / "strategies");

    CHECK(s.feed.type == "sim");
    CHECK(s.feed.sim.seed == 42u);
    CHECK(s.feed.sim.speed == 600.0);
    CHECK(s.feed.sim.ticks_per_candle == 10);
    CHECK(s.feed.sim.warmup_candles == 200);
    CHECK(s.feed.sim.start_time == 1700000000000);

    CHECK(s.paper.fee_bps == 7.5);
    CHECK(s.paper.slippage_bps == 1.0);
    CHECK(s.paper.starting_cash == 50000.0);

    CHECK(s.sandbox.memory_limit_mb == 32u);
    CHECK(s.sandbox.instruction_budget == 2000000u);
    CHECK(s.sandbox.time_limit_ms == 100);
    CHECK(s.sandbox.max_consecutive_failures == 3);
    CHECK(s.sandbox.wedge_after_ms == 500);
    CHECK(s.sandbox.wedge_exit_after_ms == 5000);
    CHECK(s.engine.queue_capacity == 1024u);

    REQUIRE(s.symbols.size() == 2);
    const auto& btc = s.symbols[0];
    CHECK(btc.symbol == "BTCUSDT");
    CHECK(btc.strategy == "sma_cross");
    CHECK(btc.strategy_path == root / "strategies" / "sma_cross.lua");
    CHECK(btc.interval == "5m");
    CHECK(btc.interval_ms == 300'000);
    CHECK(btc.window == 300u);
    CHECK(btc.quantity == 0.002);
    CHECK(btc.sim.start_price == 30000.0);
    CHECK(btc.sim.drift == -0.1);
    CHECK(btc.sim.volatility == 0.8);
    CHECK(btc.sim.spread_bps == 1.5);
    const tradingd::named_scalars expected_params = {
        {"enabled", true},
        {"fast", std::int64_t{10}},
        {"mode", std::string("cross")},
        {"slow", 30.5},
    };
    CHECK(btc.params == expected_params);

    CHECK(s.symbols[1].symbol == "ETHUSDT");
    CHECK(s.symbols[1].strategy_path == root / "strategies" / "rsi_reversion.lua");
}

TEST_CASE("config: defaults applied for every optional key") {
    temp_dir dir;
    const daemon_settings s = parse_config(k_minimal, dir.origin());
    const tradingd::config::daemon_settings d{};  // the documented defaults

    CHECK(s.daemon.log_level == "info");
    CHECK(s.daemon.decision_log == s.daemon.state_dir / "decisions.jsonl");
    CHECK(s.feed.type == "sim");
    CHECK(s.feed.sim.seed == d.feed.sim.seed);
    CHECK(s.feed.sim.speed == 1.0);
    CHECK(s.feed.sim.ticks_per_candle == 20);
    CHECK(s.feed.sim.warmup_candles == 0);
    CHECK(s.feed.sim.start_time == 1704067200000);
    CHECK(s.paper.fee_bps == 10.0);
    CHECK(s.paper.slippage_bps == 0.0);
    CHECK(s.paper.starting_cash == 10000.0);
    CHECK(s.sandbox.memory_limit_mb == 64u);
    CHECK(s.sandbox.instruction_budget == 1000000u);
    CHECK(s.sandbox.time_limit_ms == 250);
    CHECK(s.sandbox.max_consecutive_failures == 5);
    CHECK(s.sandbox.wedge_after_ms == 2000);
    CHECK(s.sandbox.wedge_exit_after_ms == 15000);
    CHECK(s.engine.queue_capacity == 4096u);
    REQUIRE(s.symbols.size() == 1);
    CHECK(s.symbols[0].interval == "1m");
    CHECK(s.symbols[0].interval_ms == 60'000);
    CHECK(s.symbols[0].window == 500u);
    CHECK(s.symbols[0].params.empty());
    CHECK(s.symbols[0].sim.start_price == 100.0);
    CHECK(s.symbols[0].sim.drift == 0.0);
    CHECK(s.symbols[0].sim.volatility == 0.5);
    CHECK(s.symbols[0].sim.spread_bps == 2.0);
}

TEST_CASE("config: relative paths resolve against the config file's directory") {
    temp_dir dir;
    fs::create_directories(dir.path() / "etc" / "strategies");
    dir.write("etc/strategies/sma_cross.lua", "-- dummy\n");
    const std::string text = R"(
[daemon]
state_dir = "../var/./sim"
decision_log = "/tmp/absolute/decisions.jsonl"
strategies_dir = "strategies"

[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
quantity = 1
)";
    // The config sits in etc/, so "strategies" means etc/strategies, whatever the cwd is.
    const daemon_settings s = parse_config(text, dir.path() / "etc" / "tradingd.toml");
    const fs::path root = fs::weakly_canonical(dir.path());
    CHECK(s.daemon.state_dir == root / "var" / "sim");
    CHECK(s.daemon.decision_log == fs::path("/tmp/absolute/decisions.jsonl"));
    CHECK(s.daemon.strategies_dir == root / "etc" / "strategies");
    CHECK(s.symbols[0].strategy_path == root / "etc" / "strategies" / "sma_cross.lua");
    CHECK(s.daemon.state_dir.is_absolute());
}

TEST_CASE("config: load_config reads a file and anchors paths at its directory") {
    temp_dir dir;
    dir.write("test.toml", k_minimal);
    const daemon_settings s = load_config(dir.origin());
    CHECK(s.source == dir.origin());
    CHECK(s.daemon.state_dir == fs::weakly_canonical(dir.path()) / "var");
    CHECK(s.symbols.size() == 1);
}

TEST_CASE("config: invalid TOML is reported with file:line:col and the parser's message") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string text = "[daemon]\nstate_dir = \"var\"\nstrategies_dir = \"unclosed\n";
    try {
        parse_config(text, dir.origin());
        FAIL("invalid TOML accepted");
    } catch (const config_error& e) {
        REQUIRE(e.problems().size() == 1);
        const std::string& p = e.problems()[0];
        INFO(p);
        CHECK(p.rfind(origin + ":3:", 0) == 0);
        CHECK(p.find("invalid TOML: ") != std::string::npos);
        CHECK(p.find("string") != std::string::npos);  // toml++'s own wording names the problem
        CHECK(std::string(e.what()) == p);
    }
    // A duplicate key is a TOML error too (C01).
    const auto dup = problems_of("[daemon]\nstate_dir = \"a\"\nstate_dir = \"b\"\n", dir.origin());
    REQUIRE(dup.size() == 1);
    CHECK(dup[0].rfind(origin + ":3:", 0) == 0);
}

TEST_CASE("config: unknown keys (typos) are rejected naming the key and its line") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string text = k_minimal + R"(max_postion = 3

[daemon_extra]
x = 1

[paper]
fee = 5

[symbols.sim]
volatilty = 0.4
)";
    const auto problems = problems_of(text, dir.origin());
    INFO(joined(problems));
    // k_minimal is 9 lines counting its leading newline; the typo is on line 10.
    CHECK(has_problem(problems, origin + ":10:1: symbols[0].max_postion: unknown key"));
    CHECK(has_problem(problems, origin + ":12:2: daemon_extra: unknown key"));
    CHECK(has_problem(problems, origin + ":16:1: paper.fee: unknown key"));
    CHECK(has_problem(problems, origin + ":19:1: symbols[0].sim.volatilty: unknown key"));
    CHECK(problems.size() == 4);
}

TEST_CASE("config: wrong types name the expected and the actual type") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string text = R"([daemon]
state_dir = 5
strategies_dir = "strategies"
[feed.sim]
ticks_per_candle = 2.5
[sandbox]
memory_limit_mb = "64"
[engine]
queue_capacity = true
[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
quantity = "0.01"
window = [1, 2]
)";
    const auto problems = problems_of(text, dir.origin());
    INFO(joined(problems));
    CHECK(
        has_problem(problems, origin + ":2:13: daemon.state_dir: expected a string, got integer"));
    CHECK(has_problem(problems,
                      origin + ":5:20: feed.sim.ticks_per_candle: expected an integer, got float"));
    CHECK(has_problem(problems,
                      origin + ":7:19: sandbox.memory_limit_mb: expected an integer, got string"));
    CHECK(has_problem(problems,
                      origin + ":9:18: engine.queue_capacity: expected an integer, got boolean"));
    CHECK(has_problem(problems,
                      origin + ":13:12: symbols[0].quantity: expected a number, got string"));
    CHECK(has_problem(problems,
                      origin + ":14:10: symbols[0].window: expected an integer, got array"));
    CHECK(problems.size() == 6);

    const auto not_table = problems_of(k_minimal + "paper = 3\n", dir.origin());
    REQUIRE(not_table.size() == 1);
    CHECK(not_table[0].find("symbols[0].paper: unknown key") != std::string::npos);
    const auto root_not_table = problems_of("paper = 3\n" + k_minimal, dir.origin());
    CHECK(has_problem(root_not_table, origin + ":1:9: paper: expected a table, got integer"));
}

TEST_CASE("config: missing required keys are all listed at once") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string text = R"([daemon]
log_level = "info"

[[symbols]]
interval = "1m"

[[symbols]]
symbol = "ETHUSDT"
strategy = "sma_cross"
)";
    try {
        parse_config(text, dir.origin());
        FAIL("config without required keys accepted");
    } catch (const config_error& e) {
        const auto& problems = e.problems();
        INFO(joined(problems));
        CHECK(has_problem(problems, origin + ":1:1: daemon.state_dir: required key is missing"));
        CHECK(
            has_problem(problems, origin + ":1:1: daemon.strategies_dir: required key is missing"));
        CHECK(has_problem(problems, origin + ":4:1: symbols[0].symbol: required key is missing"));
        CHECK(has_problem(problems, origin + ":4:1: symbols[0].strategy: required key is missing"));
        CHECK(has_problem(problems, origin + ":4:1: symbols[0].quantity: required key is missing"));
        CHECK(has_problem(problems, origin + ":7:1: symbols[1].quantity: required key is missing"));
        CHECK(problems.size() == 6);
        // what() is every problem, one per line.
        CHECK(std::string(e.what()) + "\n" == joined(problems));
    }

    // No [daemon] and no [[symbols]] at all: nothing to point at, so no line number.
    const auto empty = problems_of("", dir.origin());
    CHECK(has_problem(empty, origin + ": daemon.state_dir: required key is missing"));
    CHECK(has_problem(empty, origin + ": daemon.strategies_dir: required key is missing"));
    CHECK(has_problem(
        empty, origin + ": symbols: required key is missing (at least one [[symbols]] table)"));
    CHECK(empty.size() == 3);
}

TEST_CASE("config: out-of-range values get a specific error per field") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string text = R"([daemon]
state_dir = "var"
strategies_dir = "strategies"
log_level = "verbose"
[feed]
type = "kraken"
[feed.sim]
seed = -1
speed = 0
ticks_per_candle = 0
warmup_candles = 100001
[paper]
fee_bps = -1
slippage_bps = 1001
starting_cash = 0
[sandbox]
memory_limit_mb = 4097
instruction_budget = 999
time_limit_ms = 0
max_consecutive_failures = 1001
[engine]
queue_capacity = 8
[[symbols]]
symbol = "btc-usdt"
strategy = "../../etc/passwd"
window = 0
quantity = -0.5
[symbols.sim]
start_price = 0
drift = nan
volatility = 11
spread_bps = -1
)";
    const auto problems = problems_of(text, dir.origin());
    INFO(joined(problems));
    const std::vector<std::string> expected = {
        ":4:13: daemon.log_level: unsupported log level 'verbose' (expected one of trace, debug, "
        "info, warn, error, critical, off)",
        ":6:8: feed.type: unsupported feed type 'kraken' (expected sim, binance or replay)",
        ":8:8: feed.sim.seed: value -1 is out of range (expected 0..9223372036854775807)",
        ":9:9: feed.sim.speed: value 0 is out of range (expected > 0)",
        ":10:20: feed.sim.ticks_per_candle: value 0 is out of range (expected 1..10000)",
        ":11:18: feed.sim.warmup_candles: value 100001 is out of range (expected 0..100000)",
        ":13:11: paper.fee_bps: value -1 is out of range (expected >= 0 and <= 1000)",
        ":14:16: paper.slippage_bps: value 1001 is out of range (expected >= 0 and <= 1000)",
        ":15:17: paper.starting_cash: value 0 is out of range (expected > 0)",
        ":17:19: sandbox.memory_limit_mb: value 4097 is out of range (expected 1..4096)",
        ":18:22: sandbox.instruction_budget: value 999 is out of range (expected "
        "1000..10000000000)",
        ":19:17: sandbox.time_limit_ms: value 0 is out of range (expected 1..60000)",
        ":20:28: sandbox.max_consecutive_failures: value 1001 is out of range (expected 1..1000)",
        ":22:18: engine.queue_capacity: value 8 is out of range (expected 16..1000000)",
        ":24:10: symbols[0].symbol: invalid symbol 'btc-usdt' (expected 2 to 20 upper-case "
        "letters or digits, e.g. BTCUSDT)",
        ":25:12: symbols[0].strategy: invalid strategy name '../../etc/passwd' (expected letters, "
        "digits, '_' or '-'; it names <strategies_dir>/<name>.lua)",
        ":26:10: symbols[0].window: value 0 is out of range (expected 1..1000000)",
        ":27:12: symbols[0].quantity: value -0.5 is out of range (expected > 0)",
        ":29:15: symbols[0].sim.start_price: value 0 is out of range (expected > 0)",
        ":30:9: symbols[0].sim.drift: expected a finite number, got nan",
        ":31:14: symbols[0].sim.volatility: value 11 is out of range (expected >= 0 and <= 10)",
        ":32:14: symbols[0].sim.spread_bps: value -1 is out of range (expected >= 0 and <= 10000)",
    };
    for (const auto& e : expected)
        CHECK(has_problem(problems, origin + e));
    CHECK(problems.size() == expected.size());
}

TEST_CASE("config: watchdog deadlines out of range are rejected") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string text = k_minimal + R"(
[sandbox]
wedge_after_ms = 9
wedge_exit_after_ms = 3600001
)";
    const auto problems = problems_of(text, dir.origin());
    INFO(joined(problems));
    CHECK(has_problem(problems, origin + ":12:18: sandbox.wedge_after_ms: value 9 is out of range "
                                         "(expected 10..600000)"));
    CHECK(has_problem(problems, origin +
                                    ":13:23: sandbox.wedge_exit_after_ms: value 3600001 is out of "
                                    "range (expected 10..3600000)"));
    // An invalid value is not also compared with the other deadlines.
    CHECK(problems.size() == 2);
}

TEST_CASE("config: the exit deadline must come after the wedge deadline") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    SUBCASE("both given, equal") {
        const auto problems = problems_of(k_minimal + R"(
[sandbox]
wedge_after_ms = 3000
wedge_exit_after_ms = 3000
)",
                                          dir.origin());
        REQUIRE(problems.size() == 1);
        CHECK(problems[0] == origin +
                                 ":13:23: sandbox.wedge_exit_after_ms: value 3000 must be greater "
                                 "than wedge_after_ms (3000): the runner is marked wedged before "
                                 "the daemon gives up on it");
    }
    SUBCASE("exit left at its default, wedge raised past it") {
        const auto problems =
            problems_of(k_minimal + "[sandbox]\nwedge_after_ms = 20000\n", dir.origin());
        REQUIRE(problems.size() == 1);
        CHECK(problems[0] == origin +
                                 ":11:18: sandbox.wedge_after_ms: value 20000 must be less than "
                                 "wedge_exit_after_ms (15000 by default): the runner is marked "
                                 "wedged before the daemon gives up on it");
    }
    SUBCASE("exit given below the default wedge deadline") {
        const auto problems =
            problems_of(k_minimal + "[sandbox]\nwedge_exit_after_ms = 1000\n", dir.origin());
        REQUIRE(problems.size() == 1);
        CHECK(problems[0] == origin +
                                 ":11:23: sandbox.wedge_exit_after_ms: value 1000 must be greater "
                                 "than wedge_after_ms (2000 by default): the runner is marked "
                                 "wedged before the daemon gives up on it");
    }
    SUBCASE("exit just above wedge is accepted") {
        const auto s = parse_config(k_minimal +
                                        "[sandbox]\nwedge_after_ms = 10\nwedge_exit_after_ms = 11\n"
                                        "time_limit_ms = 5\n",
                                    dir.origin());
        CHECK(s.sandbox.wedge_after_ms == 10);
        CHECK(s.sandbox.wedge_exit_after_ms == 11);
    }
}

TEST_CASE("config: the wedge deadline must come after the Lua time limit") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const auto given = problems_of(
        k_minimal + "[sandbox]\ntime_limit_ms = 500\nwedge_after_ms = 500\n", dir.origin());
    REQUIRE(given.size() == 1);
    CHECK(given[0] == origin +
                          ":12:18: sandbox.wedge_after_ms: value 500 must be greater than "
                          "time_limit_ms (500): the Lua time limit must stop a slow script before "
                          "the watchdog steps in");
    const auto by_default =
        problems_of(k_minimal + "[sandbox]\ntime_limit_ms = 2000\n", dir.origin());
    REQUIRE(by_default.size() == 1);
    CHECK(by_default[0] == origin +
                               ":11:17: sandbox.time_limit_ms: value 2000 must be less than "
                               "wedge_after_ms (2000 by default): the Lua time limit must stop a "
                               "slow script before the watchdog steps in");
}

TEST_CASE("config: unsupported interval is rejected; every interval named as valid is accepted") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const auto problems = problems_of(k_minimal + "interval = \"7m\"\n", dir.origin());
    REQUIRE(problems.size() == 1);
    const std::string prefix =
        origin + ":10:12: symbols[0].interval: unsupported interval '7m' " + "(expected one of ";
    REQUIRE(problems[0].rfind(prefix, 0) == 0);

    // The list in the message must stay in step with tradingd::interval_ms.
    std::string list = problems[0].substr(prefix.size());
    list.pop_back();  // ')'
    int count = 0;
    for (std::size_t pos = 0; pos <= list.size();) {
        const std::size_t comma = std::min(list.find(", ", pos), list.size());
        const std::string name = list.substr(pos, comma - pos);
        CAPTURE(name);
        const auto s = parse_config(k_minimal + "interval = \"" + name + "\"\n", dir.origin());
        CHECK(s.symbols[0].interval_ms == tradingd::interval_ms(name.c_str()));
        CHECK(s.symbols[0].interval_ms > 0);
        ++count;
        pos = comma + 2;
    }
    CHECK(count == 15);
    CHECK(parse_config(k_minimal + "interval = \"1h\"\n", dir.origin()).symbols[0].interval_ms ==
          3'600'000);
}

TEST_CASE("config: duplicate symbols are rejected") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string text = k_minimal + R"(
[[symbols]]
symbol = "ETHUSDT"
strategy = "sma_cross"
quantity = 1

[[symbols]]
symbol = "BTCUSDT"
strategy = "other"
quantity = 1
)";
    const auto problems = problems_of(text, dir.origin());
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] ==
          origin + ":17:10: symbols[2].symbol: duplicate symbol 'BTCUSDT' (also in symbols[0])");
}

TEST_CASE("config: a missing strategy script or strategies_dir is an error naming the path") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const fs::path root = fs::weakly_canonical(dir.path());
    fs::create_directories(dir.path() / "strategies" / "a_dir.lua");
    const std::string text = k_minimal + R"(
[[symbols]]
symbol = "ETHUSDT"
strategy = "no_such_strategy"
quantity = 1

[[symbols]]
symbol = "SOLUSDT"
strategy = "a_dir"
quantity = 1
)";
    const auto problems = problems_of(text, dir.origin());
    INFO(joined(problems));
    CHECK(has_problem(problems, origin + ":13:12: symbols[1].strategy: script not found: " +
                                    (root / "strategies" / "no_such_strategy.lua").string()));
    CHECK(has_problem(problems, origin +
                                    ":18:12: symbols[2].strategy: script is not a regular "
                                    "file: " +
                                    (root / "strategies" / "a_dir.lua").string()));
    CHECK(problems.size() == 2);

    // A wrong strategies_dir is reported once, not once per symbol.
    std::string wrong_dir = k_minimal;
    wrong_dir.replace(wrong_dir.find("\"strategies\""), 12, "\"nowhere\"");
    const auto dir_problems = problems_of(wrong_dir, dir.origin());
    REQUIRE(dir_problems.size() == 1);
    CHECK(dir_problems[0] == origin + ":4:18: daemon.strategies_dir: directory not found: " +
                                 (root / "nowhere").string());
}

TEST_CASE("config: a missing config file is a config_error naming the file") {
    temp_dir dir;
    const fs::path missing = dir.path() / "absent.toml";
    try {
        load_config(missing);
        FAIL("missing file accepted");
    } catch (const config_error& e) {
        const std::string expected =
            "cannot read config file '" + missing.string() + "': No such file or directory";
        CHECK(std::string(e.what()) == expected);
        CHECK(e.problems() == std::vector<std::string>{expected});
    }
    CHECK_THROWS_WITH_AS(
        load_config(dir.path()),
        ("cannot read config file '" + dir.path().string() + "': Is a directory").c_str(),
        config_error);
}

TEST_CASE("config: params keep scalar types; nested tables and arrays are rejected") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string good = k_minimal + R"(
[symbols.params]
period = 14
k = 2.0
label = "x"
short_only = false
)";
    const auto s = parse_config(good, dir.origin());
    const tradingd::named_scalars expected = {
        {"k", 2.0},
        {"label", std::string("x")},
        {"period", std::int64_t{14}},
        {"short_only", false},
    };
    CHECK(s.symbols[0].params == expected);
    CHECK(std::holds_alternative<double>(s.symbols[0].params[0].second));
    CHECK(std::holds_alternative<std::int64_t>(s.symbols[0].params[2].second));

    const std::string bad = k_minimal + R"(
[symbols.params]
levels = [1, 2]
when = 2024-01-01T00:00:00Z
big = inf

[symbols.params.nested]
x = 1
)";
    const auto problems = problems_of(bad, dir.origin());
    INFO(joined(problems));
    CHECK(has_problem(problems, origin + ":12:10: symbols[0].params.levels: expected a boolean, "
                                         "integer, float or string, got array"));
    CHECK(has_problem(problems, origin + ":13:8: symbols[0].params.when: expected a boolean, "
                                         "integer, float or string, got date-time"));
    CHECK(has_problem(problems, origin + ":14:7: symbols[0].params.big: expected a finite "
                                         "number, got inf"));
    CHECK(has_problem(problems, origin + ":16:1: symbols[0].params.nested: expected a boolean, "
                                         "integer, float or string, got table"));
    CHECK(problems.size() == 4);

    const auto not_table = problems_of(k_minimal + "params = 3\n", dir.origin());
    CHECK(not_table == std::vector<std::string>{
                           origin + ":10:10: symbols[0].params: expected a table, got integer"});
}

TEST_CASE("config: speed \"max\" means 0 (as fast as possible); other strings are rejected") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const auto s = parse_config(k_minimal + "[feed.sim]\nspeed = \"max\"\n", dir.origin());
    CHECK(s.feed.sim.speed == 0.0);
    CHECK(parse_config(k_minimal + "[feed.sim]\nspeed = 0.5\n", dir.origin()).feed.sim.speed ==
          0.5);
    const auto problems = problems_of(k_minimal + "[feed.sim]\nspeed = \"fast\"\n", dir.origin());
    CHECK(problems ==
          std::vector<std::string>{origin + ":11:9: feed.sim.speed: expected a number > 0 or "
                                            "\"max\", got string 'fast'"});
}

TEST_CASE("config: start_time accepts epoch ms, an offset date-time or its string form") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const auto start = [&](const std::string& value) {
        return parse_config(k_minimal + "[feed.sim]\nstart_time = " + value + "\n", dir.origin())
            .feed.sim.start_time;
    };
    CHECK(start("1700000000000") == 1700000000000);
    CHECK(start("2024-01-01T00:00:00Z") == 1704067200000);
    CHECK(start("\"2024-01-01T00:00:00Z\"") == 1704067200000);
    CHECK(start("2024-01-01T02:00:00.250+02:00") == 1704067200250);
    CHECK(start("\"2023-03-01T12:34:56-01:30\"") == 1677679496000);

    for (const std::string bad : {"2024-01-01T00:00:00", "\"yesterday\"",
                                  "\"2024-01-01T00:00:00Z\\nx = 1\"", "\"1960-01-01T00:00:00Z\""}) {
        CAPTURE(bad);
        const auto problems =
            problems_of(k_minimal + "[feed.sim]\nstart_time = " + bad + "\n", dir.origin());
        CHECK(problems ==
              std::vector<std::string>{origin + ":11:14: feed.sim.start_time: expected a UTC "
                                                "date-time with offset after 1970, e.g. "
                                                "2024-01-01T00:00:00Z"});
    }
    CHECK(problems_of(k_minimal + "[feed.sim]\nstart_time = 1.5\n", dir.origin()) ==
          std::vector<std::string>{origin + ":11:14: feed.sim.start_time: expected integer "
                                            "milliseconds or a date-time, got float"});
}

TEST_CASE("config: symbols must be a non-empty array of tables") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    const std::string daemon = "[daemon]\nstate_dir = \"v\"\nstrategies_dir = \"strategies\"\n";
    CHECK(problems_of("symbols = []\n" + daemon, dir.origin()) ==
          std::vector<std::string>{origin +
                                   ":1:11: symbols: at least one [[symbols]] table is required"});
    CHECK(problems_of("symbols = 1\n" + daemon, dir.origin()) ==
          std::vector<std::string>{origin +
                                   ":1:11: symbols: expected an array of tables ([[symbols]]), "
                                   "got integer"});
    CHECK(problems_of("symbols = [\"BTCUSDT\"]\n" + daemon, dir.origin()) ==
          std::vector<std::string>{origin + ":1:12: symbols[0]: expected a table, got string"});
}

TEST_CASE("config: the shipped config/sim.toml loads with its three symbols") {
    const fs::path sim = fs::path(TRADINGD_SOURCE_DIR) / "config" / "sim.toml";
    const daemon_settings s = load_config(sim);
    REQUIRE(s.symbols.size() == 3);
    CHECK(s.symbols[0].symbol == "BTCUSDT");
    CHECK(s.symbols[0].strategy == "sma_cross");
    CHECK(s.symbols[1].symbol == "ETHUSDT");
    CHECK(s.symbols[1].strategy == "rsi_reversion");
    CHECK(s.symbols[2].symbol == "SOLUSDT");
    CHECK(s.symbols[2].strategy == "bollinger_breakout");
    CHECK(s.feed.sim.seed == 42u);
    CHECK(s.feed.sim.speed == 600.0);
    CHECK(s.feed.sim.warmup_candles == 200);
    CHECK(s.daemon.strategies_dir ==
          fs::weakly_canonical(fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies"));
    for (const auto& sym : s.symbols) {
        CHECK(sym.interval_ms == 60'000);
        CHECK(sym.window == 500u);
        CHECK(sym.quantity > 0);
    }
}

TEST_CASE("config: the documented template config/prod.toml is valid apart from its paths") {
    // prod.toml names /etc/tradingd/lua-strategies and /etc/tradingd/http-token, which do not
    // exist on a dev machine: the only problems allowed are those two paths and nothing else (no
    // typo, type or range error).
    const fs::path prod = fs::path(TRADINGD_SOURCE_DIR) / "config" / "prod.toml";
    try {
        const daemon_settings s = load_config(prod);
        CHECK(s.daemon.state_dir == fs::path("/var/lib/tradingd"));
    } catch (const config_error& e) {
        INFO(e.what());
        for (const auto& p : e.problems()) {
            const bool expected =
                p.find(
                    "daemon.strategies_dir: directory not found: "
                    "/etc/tradingd/lua-strategies") != std::string::npos ||
                p.find("http.token_file: cannot read token file '/etc/tradingd/http-token'") !=
                    std::string::npos;
            CHECK_MESSAGE(expected, p);
        }
    }
}

TEST_CASE("config: [feed.binance] parses, resolves ca_file, and has documented defaults") {
    temp_dir dir;
    dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    const std::string text = R"(
[daemon]
state_dir = "var"
strategies_dir = "strategies"
[feed]
type = "binance"
[feed.binance]
ws_url = "wss://data-stream.binance.vision"
rest_url = "https://data-api.binance.vision"
ca_file = "ca.pem"
warmup_candles = 100
data_timeout_ms = 5000
[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
quantity = 0.01
)";
    const daemon_settings s = parse_config(text, dir.origin());
    CHECK(s.feed.type == "binance");
    CHECK(s.feed.binance.ws_url == "wss://data-stream.binance.vision");
    CHECK(s.feed.binance.rest_url == "https://data-api.binance.vision");
    CHECK(s.feed.binance.ca_file == dir.origin().parent_path() / "ca.pem");
    CHECK(s.feed.binance.warmup_candles == 100);
    CHECK(s.feed.binance.data_timeout_ms == 5000);
    const daemon_settings d = parse_config(k_minimal, dir.origin());
    CHECK(d.feed.binance.ws_url == "wss://stream.binance.com:9443");
    CHECK(d.feed.binance.rest_url == "https://api.binance.com");
    CHECK(d.feed.binance.ca_file.empty());  // the system CA store
    CHECK(d.feed.binance.rotate_after_ms == 84'600'000);
}

TEST_CASE("config: [feed.binance] refuses plain-text URLs, a missing CA file and a bad backoff") {
    temp_dir dir;
    const std::string text = k_minimal + R"(
[feed]
type = "binance"
[feed.binance]
ws_url = "ws://stream.binance.com:9443"
rest_url = "http://api.binance.com"
ca_file = "missing.pem"
reconnect_initial_ms = 5000
reconnect_max_ms = 1000
)";
    const auto problems = problems_of(text, dir.origin());
    INFO(joined(problems));
    CHECK(problems.size() == 4);
    CHECK(joined(problems).find("feed.binance.ws_url: expected a URL like wss://") !=
          std::string::npos);
    CHECK(joined(problems).find("feed.binance.rest_url: expected a URL like https://") !=
          std::string::npos);
    CHECK(joined(problems).find("feed.binance.ca_file: CA file") != std::string::npos);
    CHECK(joined(problems).find("feed.binance.reconnect_max_ms: must be >= reconnect_initial_ms") !=
          std::string::npos);
}

TEST_CASE("config: hot reload keys: defaults, values, and what they refuse") {
    temp_dir dir;
    const daemon_settings defaults = parse_config(k_minimal, dir.origin());
    CHECK(defaults.daemon.hot_reload);
    CHECK(defaults.daemon.reload_debounce_ms == 100);
    CHECK_FALSE(defaults.daemon.allow_missing_scripts);
    CHECK(defaults.daemon.on_symbol_removed == "keep");

    const std::string daemon_keys = R"(
[daemon]
state_dir = "var"
strategies_dir = "strategies"
reload_debounce_ms = 0
allow_missing_scripts = true
on_symbol_removed = "flatten"

[[symbols]]
symbol = "BTCUSDT"
strategy = "not_written_yet"
quantity = 0.01
)";
    const daemon_settings s = parse_config(daemon_keys, dir.origin());
    CHECK(s.daemon.reload_debounce_ms == 0);
    CHECK(s.daemon.allow_missing_scripts);  // so the missing script is not an error
    CHECK(s.daemon.on_symbol_removed == "flatten");
    CHECK(s.symbols[0].strategy_path == dir.path() / "strategies" / "not_written_yet.lua");

    // Without allow_missing_scripts the same file is refused (C04).
    std::string strict = daemon_keys;
    strict.replace(strict.find("allow_missing_scripts = true"), 28,
                   "allow_missing_scripts = false");
    CHECK(joined(problems_of(strict, dir.origin())).find("script not found") != std::string::npos);

    std::string bad = daemon_keys;
    bad.replace(bad.find("reload_debounce_ms = 0"), 22, "hot_reload = false");
    bad.replace(bad.find("\"flatten\""), 9, "\"sell\"");
    const auto problems = joined(problems_of(bad, dir.origin()));
    CHECK(problems.find("allow_missing_scripts: needs hot_reload = true") != std::string::npos);
    CHECK(problems.find("on_symbol_removed: unsupported value 'sell'") != std::string::npos);

    std::string wrong_type = k_minimal;
    wrong_type.replace(wrong_type.find("strategies_dir"), 0, "hot_reload = \"yes\"\n");
    CHECK(joined(problems_of(wrong_type, dir.origin()))
              .find("daemon.hot_reload: expected true or false, got string") != std::string::npos);
}

TEST_CASE("config: journal and decision-log rotation keys: defaults, values, refusals") {
    temp_dir dir;
    const daemon_settings defaults = parse_config(k_minimal, dir.origin());
    CHECK(defaults.journal.durability == "fsync");  // safe for live trading by default
    CHECK(defaults.journal.group_commit_ms == 5);
    CHECK(defaults.journal.snapshot_every == 50'000);
    CHECK(defaults.journal.segment_mb == 64);
    CHECK(defaults.daemon.decision_log_max_mb == 64);
    CHECK(defaults.daemon.decision_log_keep_days == 30);

    std::string text = k_minimal;
    text.replace(text.find("strategies_dir"), 0,
                 "decision_log_max_mb = 1\ndecision_log_keep_days = 0\n");
    text +=
        "\n[journal]\ndurability = \"group\"\ngroup_commit_ms = 20\nsnapshot_every = 1000\n"
        "segment_mb = 2\n";
    const daemon_settings s = parse_config(text, dir.origin());
    CHECK(s.journal.durability == "group");
    CHECK(s.journal.group_commit_ms == 20);
    CHECK(s.journal.snapshot_every == 1000);
    CHECK(s.journal.segment_mb == 2);
    CHECK(s.daemon.decision_log_max_mb == 1);
    CHECK(s.daemon.decision_log_keep_days == 0);

    std::string bad = k_minimal +
                      "\n[journal]\ndurability = \"never\"\nsnapshot_every = 10\n"
                      "segment_mb = 0\nbogus = 1\n";
    const auto problems = joined(problems_of(bad, dir.origin()));
    CHECK(problems.find("journal.durability: unsupported value 'never'") != std::string::npos);
    CHECK(problems.find("journal.snapshot_every") != std::string::npos);
    CHECK(problems.find("journal.segment_mb") != std::string::npos);
    CHECK(problems.find("journal.bogus: unknown key") != std::string::npos);
}

TEST_CASE("config: [http] is off without the section; listen, token file and limits parse") {
    temp_dir dir;
    const daemon_settings off = parse_config(k_minimal, dir.origin());
    CHECK_FALSE(off.http.enabled);
    dir.write("token", "s3cret\n");
    fs::permissions(dir.path() / "token", fs::perms::owner_read | fs::perms::owner_write);
    const daemon_settings s = parse_config(k_minimal + R"(
[http]
listen = "[::1]:9999"
token_file = "token"
request_timeout_ms = 500
max_connections = 8
stale_after_ms = 0
)",
                                           dir.origin());
    CHECK(s.http.enabled);
    CHECK(s.http.address == "::1");
    CHECK(s.http.port == 9999);
    CHECK(s.http.token_file == fs::weakly_canonical(dir.path() / "token"));
    CHECK(s.http.request_timeout_ms == 500);
    CHECK(s.http.max_connections == 8);
    CHECK(s.http.stale_after_ms == 0);
    const daemon_settings defaults = parse_config(k_minimal + "[http]\n", dir.origin());
    CHECK(defaults.http.enabled);
    CHECK(defaults.http.address == "127.0.0.1");
    CHECK(defaults.http.port == 9180);
    CHECK(defaults.http.token_file.empty());
    CHECK_FALSE(parse_config(k_minimal + "[http]\nenabled = false\n", dir.origin()).http.enabled);
}

TEST_CASE("config: a bad listen address or a token file others can read is refused") {
    temp_dir dir;
    const std::string origin = dir.origin().string();
    dir.write("token", "s3cret\n");
    fs::permissions(dir.path() / "token", fs::perms::owner_read | fs::perms::owner_write |
                                              fs::perms::group_read | fs::perms::others_read);
    const auto problems = problems_of(k_minimal + R"(
[http]
listen = "localhost"
token_file = "token"
)",
                                      dir.origin());
    INFO(joined(problems));
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].find("http.listen: expected \"host:port\"") != std::string::npos);
    const std::string token = fs::weakly_canonical(dir.path() / "token").string();
    CHECK(problems[1].find("http.token_file: token file '" + token +
                           "' is accessible by group or others (mode 0644); run: chmod 600") !=
          std::string::npos);
    const auto missing = problems_of(k_minimal + "[http]\ntoken_file = \"nope\"\n", dir.origin());
    REQUIRE(missing.size() == 1);
    CHECK(missing[0].find("cannot read token file") != std::string::npos);
    CHECK(problems_of(k_minimal + "[http]\nlisten = \"127.0.0.1:65536\"\n", dir.origin()).size() ==
          1);
}

TEST_CASE("config: [risk] and [symbols.risk] limits parse; negatives and typos are refused") {
    temp_dir dir;
    const daemon_settings s = parse_config(R"(
[daemon]
state_dir = "var"
strategies_dir = "strategies"

[risk]
max_open_positions = 2
max_daily_loss = 150.5
max_orders_per_minute = 30
flatten_on_halt = true

[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
quantity = 0.01
[symbols.risk]
max_position_quantity = 0.5
max_position_notional = 25000
max_daily_loss = 100
max_orders_per_minute = 6
cooldown_after_exit_s = 300
)",
                                           dir.origin());
    CHECK(s.risk.max_open_positions == 2);
    CHECK(s.risk.max_daily_loss == 150.5);
    CHECK(s.risk.max_orders_per_minute == 30);
    CHECK(s.risk.flatten_on_halt);
    CHECK(s.risk.kill_switch_file == s.daemon.state_dir / "HALT");  // the default
    const auto& r = s.symbols.at(0).risk;
    CHECK(r.max_position_quantity == 0.5);
    CHECK(r.max_position_notional == 25000);
    CHECK(r.max_daily_loss == 100);
    CHECK(r.max_orders_per_minute == 6);
    CHECK(r.cooldown_after_exit_s == 300);
    // No limits unless configured; the kill switch file is always there.
    const daemon_settings none = parse_config(k_minimal, dir.origin());
    CHECK(none.symbols.at(0).risk == tradingd::config::symbol_risk_config{});
    CHECK(none.risk.kill_switch_file == none.daemon.state_dir / "HALT");
    CHECK(parse_config(k_minimal + "[risk]\nkill_switch_file = \"stop-now\"\n", dir.origin())
              .risk.kill_switch_file == none.daemon.state_dir / "stop-now");

    const auto problems = problems_of(k_minimal + R"([symbols.risk]
max_position_notional = -1
max_postion_quantity = 1
[risk]
max_open_positions = -2
)",
                                      dir.origin());
    INFO(joined(problems));
    CHECK(problems.size() == 3);
    CHECK(joined(problems).find("symbols[0].risk.max_position_notional") != std::string::npos);
    CHECK(joined(problems).find("symbols[0].risk.max_postion_quantity: unknown key") !=
          std::string::npos);
    CHECK(joined(problems).find("risk.max_open_positions: value -2 is out of range") !=
          std::string::npos);
}

TEST_CASE("config: [daemon] log_file with its rotation settings") {
    temp_dir dir;
    const std::string text = R"(
[daemon]
state_dir = "var"
strategies_dir = "strategies"
log_file = "logs/tradingd.log"
log_file_max_mb = 10
log_file_count = 3

[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
quantity = 0.01
)";
    const daemon_settings s = parse_config(text, dir.origin());
    CHECK(s.daemon.log_file == fs::weakly_canonical(dir.path() / "logs" / "tradingd.log"));
    CHECK(s.daemon.log_file_max_mb == 10);
    CHECK(s.daemon.log_file_count == 3);
    CHECK(parse_config(k_minimal, dir.origin()).daemon.log_file.empty());
}
