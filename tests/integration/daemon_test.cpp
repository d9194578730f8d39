// Runs the built tradingd binary on the shipped simulated-feed config and checks what a user sees.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <process.hpp>
#include <sstream>
#include <test_support.hpp>

namespace fs = std::filesystem;
using tradingd::testing::child_process;
using tradingd::testing::read_file;
using tradingd::testing::temp_dir;

namespace {

/// A copy of config/sim.toml in a temp tree that mirrors the repo layout (config/ beside
/// lua-strategies/), so the daemon's state goes to the temp dir, not into the source tree.
struct sim_tree {
    temp_dir dir;
    fs::path config;
    fs::path strategies;
    explicit sim_tree(bool copy_strategies = false) {
        fs::create_directories(dir.path() / "config");
        config = dir.path() / "config" / "sim.toml";
        fs::copy_file(fs::path(TRADINGD_SOURCE_DIR) / "config" / "sim.toml", config);
        strategies = dir.path() / "lua-strategies";
        if (copy_strategies) {
            fs::copy(fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies", strategies);
        } else {
            fs::create_directory_symlink(fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies",
                                         strategies);
        }
    }
    fs::path decision_log() const { return dir.path() / "var" / "sim" / "decisions.jsonl"; }
    std::vector<nlohmann::json> decisions() const {
        std::vector<nlohmann::json> out;
        std::istringstream in(read_file(decision_log()));
        for (std::string line; std::getline(in, line);)
            out.push_back(nlohmann::json::parse(line));
        return out;
    }
    std::size_t count(const std::string& event, const std::string& symbol = "") const {
        std::size_t n = 0;
        for (const auto& d : decisions())
            if (d["event"] == event && (symbol.empty() || d["symbol"] == symbol)) ++n;
        return n;
    }
};

}  // namespace

TEST_CASE("daemon: dry run on config/sim.toml trades, logs decisions and exits 0 on SIGTERM") {
    sim_tree tree;
    child_process p({TRADINGD_BINARY, "--config", tree.config.string()}, tree.dir.path() / "out",
                    tree.dir.path() / "err");
    // Trades should appear within a few seconds of simulated-feed time.
    const bool traded = tradingd::testing::wait_until(
        [&] { return fs::exists(tree.decision_log()) && tree.count("fill") >= 2; },
        std::chrono::seconds(30));
    p.signal(SIGTERM);
    const auto code = p.wait(std::chrono::seconds(20));
    const std::string out = read_file(tree.dir.path() / "out");
    const std::string err = read_file(tree.dir.path() / "err");
    INFO("stdout:\n"
         << out << "\nstderr (tail):\n"
         << err.substr(err.size() > 4000 ? err.size() - 4000 : 0));
    CHECK(traded);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    // The summary names every symbol with its state, trades, P&L and errors.
    for (const char* s : {"BTCUSDT", "ETHUSDT", "SOLUSDT"})
        CHECK(out.find(s) != std::string::npos);
    CHECK(out.find("realised_pnl") != std::string::npos);
    CHECK(err.find("stopping (SIGTERM)") != std::string::npos);
    // Every decision-log line has the documented keys.
    const auto ds = tree.decisions();
    REQUIRE_FALSE(ds.empty());
    for (const auto& d : ds) {
        for (const char* k :
             {"ts", "time", "symbol", "event", "state", "function", "action", "reason", "price"})
            REQUIRE_MESSAGE(d.contains(k), "missing " << k << " in " << d.dump());
    }
    CHECK(tree.count("call") > 0);
    CHECK(tree.count("transition") > 0);
}

TEST_CASE("daemon: --duration stops by itself with exit 0") {
    sim_tree tree;
    child_process p({TRADINGD_BINARY, "--config", tree.config.string(), "--duration", "1s"},
                    tree.dir.path() / "out", tree.dir.path() / "err");
    const auto code = p.wait(std::chrono::seconds(20));
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(read_file(tree.dir.path() / "err").find("duration elapsed") != std::string::npos);
}

TEST_CASE("daemon: a broken script suspends its symbol; the other symbols keep trading") {
    sim_tree tree(/*copy_strategies=*/true);
    // Break SOLUSDT's strategy with a syntax error on line 3.
    std::ofstream(tree.strategies / "bollinger_breakout.lua")
        << "-- broken\nfunction detect_opportunity(m, ctx, ind)\n  return {\nend\n";
    child_process p({TRADINGD_BINARY, "--config", tree.config.string()}, tree.dir.path() / "out",
                    tree.dir.path() / "err");
    const bool traded = tradingd::testing::wait_until(
        [&] {
            return fs::exists(tree.decision_log()) &&
                   tree.count("fill", "BTCUSDT") + tree.count("fill", "ETHUSDT") >= 2;
        },
        std::chrono::seconds(30));
    p.signal(SIGINT);
    const auto code = p.wait(std::chrono::seconds(20));
    const std::string out = read_file(tree.dir.path() / "out");
    const std::string err = read_file(tree.dir.path() / "err");
    INFO("stdout:\n" << out);
    CHECK(traded);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(err.find("bollinger_breakout.lua:") != std::string::npos);
    CHECK(out.find("SUSPENDED") != std::string::npos);
    CHECK(tree.count("load_error", "SOLUSDT") == 1);
    CHECK(tree.count("fill", "SOLUSDT") == 0);
}

TEST_CASE("daemon: check validates the config and every script") {
    sim_tree tree(/*copy_strategies=*/true);
    {
        child_process p({TRADINGD_BINARY, "check", "--config", tree.config.string()},
                        tree.dir.path() / "out", tree.dir.path() / "err");
        const auto code = p.wait(std::chrono::seconds(20));
        INFO(read_file(tree.dir.path() / "out") << read_file(tree.dir.path() / "err"));
        REQUIRE(code.has_value());
        CHECK(*code == 0);
        CHECK(read_file(tree.dir.path() / "out").find("OK") == 0);
    }
    // A script without manage_position: check names the script and the function.
    std::ofstream(tree.strategies / "rsi_reversion.lua")
        << "function detect_opportunity() end\nfunction filter_commitment() end\n";
    child_process p({TRADINGD_BINARY, "check", "--config", tree.config.string()},
                    tree.dir.path() / "out", tree.dir.path() / "err");
    const auto code = p.wait(std::chrono::seconds(20));
    const std::string out = read_file(tree.dir.path() / "out");
    INFO(out);
    REQUIRE(code.has_value());
    CHECK(*code == 1);
    CHECK(out.find("ETHUSDT") != std::string::npos);
    CHECK(out.find("rsi_reversion.lua") != std::string::npos);
    CHECK(out.find("manage_position") != std::string::npos);
}

TEST_CASE("daemon: check --script validates one script, with its config's params if given") {
    sim_tree tree(/*copy_strategies=*/true);
    const auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {TRADINGD_BINARY, "check"});
        child_process p(args, tree.dir.path() / "out", tree.dir.path() / "err");
        const auto code = p.wait(std::chrono::seconds(20));
        return std::make_pair(code.value_or(-1), read_file(tree.dir.path() / "out"));
    };
    const fs::path script = tree.strategies / "sma_cross.lua";
    auto [code, out] = run({"--script", script.string()});
    const std::string& output = out;  // clang 14: lambdas (INFO) cannot capture bindings
    INFO(output);
    CHECK(code == 0);
    CHECK(out.rfind("OK: " + script.string() + " (version ", 0) == 0);

    // An on_init that refuses any params.fast: passes alone, fails with the config, whose
    // BTCUSDT gives sma_cross.lua fast = 10.
    std::ofstream(script, std::ios::app)
        << "\nfunction on_init() assert(params.fast == nil, 'got params.fast') end\n";
    std::tie(code, out) = run({"--script", script.string()});
    CHECK(code == 0);
    std::tie(code, out) = run({"--script", script.string(), "--config", tree.config.string()});
    CHECK(code == 1);
    CHECK(out.find("got params.fast") != std::string::npos);

    std::ofstream(tree.strategies / "broken.lua") << "function detect_opportunity(\n";
    std::tie(code, out) = run({"--script", (tree.strategies / "broken.lua").string()});
    CHECK(code == 1);
    CHECK(out.find("FAILED: broken.lua:") == 0);
}

TEST_CASE("daemon: an invalid config is refused with every problem named, exit 2") {
    temp_dir dir;
    const auto cfg = dir.write("bad.toml", R"([daemon]
state_dir = "state"
strategies_dir = "."
max_postion = 3

[[symbols]]
symbol = "BTCUSDT"
strategy = "nope"
quantity = "lots"
)");
    child_process p({TRADINGD_BINARY, "--config", cfg.string()}, dir.path() / "out",
                    dir.path() / "err");
    const auto code = p.wait(std::chrono::seconds(20));
    const std::string err = read_file(dir.path() / "err");
    INFO(err);
    REQUIRE(code.has_value());
    CHECK(*code == 2);
    CHECK(err.find("bad.toml:4") != std::string::npos);  // unknown key, with its line
    CHECK(err.find("max_postion") != std::string::npos);
    CHECK(err.find("quantity") != std::string::npos);  // wrong type
    CHECK(err.find("nope.lua") != std::string::npos);  // missing script
}

TEST_CASE("daemon: a missing config file is a clear error") {
    temp_dir dir;
    child_process p({TRADINGD_BINARY, "--config", (dir.path() / "absent.toml").string()},
                    dir.path() / "out", dir.path() / "err");
    const auto code = p.wait(std::chrono::seconds(20));
    REQUIRE(code.has_value());
    CHECK(*code == 2);
    CHECK(read_file(dir.path() / "err").find("absent.toml") != std::string::npos);
}

TEST_CASE("daemon: indicators prints the engine's values for a Binance kline file") {
    temp_dir dir;
    const fs::path data = fs::path(TRADINGD_SHARED_DIR) / "binance-data" / "BTCUSDT-1h-2021-Q1.csv";
    child_process p(
        {TRADINGD_BINARY, "indicators", "--data", data.string(), "--spec", "sma(5),rsi(14)"},
        dir.path() / "out", dir.path() / "err");
    const auto code = p.wait(std::chrono::seconds(30));
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    std::istringstream out(read_file(dir.path() / "out"));
    std::vector<std::string> lines;
    for (std::string l; std::getline(out, l);)
        lines.push_back(l);
    REQUIRE(lines.size() == 2159);  // header + one row per input row
    CHECK(lines[0] == "open_time,sma_5,rsi_14");
    CHECK(lines[1] == "1609459200000,,");  // not ready yet
    // Row 5 (index 4): TA-Lib's SMA(5) is 29219.696000000004.
    REQUIRE(lines[5].rfind("1609473600000,", 0) == 0);
    const double sma5 = std::stod(lines[5].substr(14));
    CHECK(sma5 == doctest::Approx(29219.696000000004).epsilon(1e-12));
}

TEST_CASE("daemon: --version and --help") {
    temp_dir dir;
    child_process v({TRADINGD_BINARY, "--version"}, dir.path() / "out", dir.path() / "err");
    REQUIRE(v.wait(std::chrono::seconds(10)) == 0);
    CHECK(read_file(dir.path() / "out").find("tradingd ") == 0);
    child_process h({TRADINGD_BINARY, "--help"}, dir.path() / "out2", dir.path() / "err2");
    REQUIRE(h.wait(std::chrono::seconds(10)) == 0);
    const std::string help = read_file(dir.path() / "out2");
    for (const char* s : {"--config", "--duration", "check", "indicators"})
        CHECK(help.find(s) != std::string::npos);
}
