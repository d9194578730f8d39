// Hot reload in the real daemon: scripts edited, renamed, broken, deleted and created under a
// running tradingd, and SIGHUP config reloads; checked through the decision log and stderr.
//
// Every run uses its own small config and scripts in a temp dir, on the simulated feed (a 1m
// candle every 0.1 s at speed 600), so what each script returns is known exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <process.hpp>
#include <sstream>
#include <string>
#include <test_support.hpp>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using tradingd::testing::child_process;
using tradingd::testing::read_file;
using tradingd::testing::temp_dir;

namespace {

/// The version label the daemon gives a script: 12 hex digits of the SHA-256 of its bytes,
/// computed independently of the daemon (coreutils' sha256sum).
std::string sha12(const fs::path& file) {
    const std::string cmd = "sha256sum '" + file.string() + "'";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[128] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, pipe);
    ::pclose(pipe);
    REQUIRE(n >= 12);
    return std::string(buf, 12);
}

struct symbol_spec {
    std::string symbol;
    std::string strategy;
    std::string params;  // lines of [symbols.params]
    double volatility = 0.5;
};

struct run_options {
    std::string log_level = "info";
    std::string daemon_extra;  // more [daemon] lines
    int speed = 600;
    int ticks_per_candle = 5;
};

std::string config_text(const std::vector<symbol_spec>& symbols, const run_options& o = {}) {
    std::ostringstream c;
    c << "[daemon]\nlog_level = \"" << o.log_level
      << "\"\nstate_dir = \"state\"\nstrategies_dir = \"strategies\"\n"
      << o.daemon_extra << "\n[feed]\ntype = \"sim\"\n[feed.sim]\nseed = 7\nspeed = " << o.speed
      << "\nticks_per_candle = " << o.ticks_per_candle << "\nwarmup_candles = 5\n";
    for (const auto& s : symbols) {
        c << "\n[[symbols]]\nsymbol = \"" << s.symbol << "\"\nstrategy = \"" << s.strategy
          << "\"\ninterval = \"1m\"\nquantity = 1\n[symbols.params]\n"
          << s.params << "\n[symbols.sim]\nstart_price = 100\nvolatility = " << s.volatility
          << "\n";
    }
    return c.str();
}

/// A daemon run in a temp dir: <dir>/tradingd.toml, <dir>/strategies/, <dir>/state/.
class daemon_run {
public:
    daemon_run() { fs::create_directories(dir_.path() / "strategies"); }

    fs::path script(const std::string& name) const { return dir_.path() / "strategies" / name; }
    fs::path config() const { return dir_.path() / "tradingd.toml"; }

    /// Writes the file in place (truncate, write, close); returns its version label.
    std::string write_script(const std::string& name, const std::string& text) const {
        std::ofstream(script(name), std::ios::binary | std::ios::trunc) << text;
        return sha12(script(name));
    }
    void write_config(const std::string& text) const {
        std::ofstream(config(), std::ios::binary | std::ios::trunc) << text;
    }

    void start() {
        proc_ = std::make_unique<child_process>(
            std::vector<std::string>{TRADINGD_BINARY, "--config", config().string()},
            dir_.path() / "out", dir_.path() / "err");
    }
    bool running() { return proc_ && !proc_->wait(0ms).has_value(); }
    std::optional<int> wait(std::chrono::milliseconds timeout) { return proc_->wait(timeout); }
    void signal(int sig) { proc_->signal(sig); }
    /// SIGTERM, then the exit code (nullopt if it did not exit within 20 s).
    std::optional<int> stop() {
        proc_->signal(SIGTERM);
        return proc_->wait(20s);
    }

    std::string out() const { return read_file(dir_.path() / "out"); }
    std::string err() const { return read_file(dir_.path() / "err"); }
    /// The end of stderr without the per-call lines (call, transition, fill, auto-exit).
    std::string err_tail() const {
        static const std::vector<std::string> noise{"] call [",        "] Idle -> ",
                                                    "] Analyzing -> ", "] InPosition -> ",
                                                    "] fill: ",        "] auto-exit: "};
        std::istringstream in(err());
        std::string e;
        for (std::string line; std::getline(in, line);) {
            if (std::none_of(noise.begin(), noise.end(), [&](const std::string& n) {
                    return line.find(n) != std::string::npos;
                }))
                e += line + "\n";
        }
        return e.substr(e.size() > 6000 ? e.size() - 6000 : 0);
    }

    /// The decision log's complete lines (a line still being written is left for later).
    std::vector<json> decisions() const {
        std::vector<json> out;
        const std::string text = read_file(dir_.path() / "state" / "decisions.jsonl");
        std::size_t begin = 0;
        for (std::size_t nl; (nl = text.find('\n', begin)) != std::string::npos; begin = nl + 1)
            out.push_back(json::parse(text.substr(begin, nl - begin)));
        return out;
    }

    /// Polls `cond(decisions())` for up to `timeout`.
    template <class F>
    bool wait_for(F&& cond, std::chrono::milliseconds timeout = 20s) const {
        return tradingd::testing::wait_until([&] { return cond(decisions()); }, timeout, 20ms);
    }
    template <class F>
    bool wait_for_log(F&& cond, std::chrono::milliseconds timeout = 20s) const {
        return tradingd::testing::wait_until([&] { return cond(err()); }, timeout, 20ms);
    }
    bool wait_for_text(const std::string& text, std::chrono::milliseconds timeout = 20s) const {
        return wait_for_log([&](const std::string& e) { return e.find(text) != std::string::npos; },
                            timeout);
    }

private:
    temp_dir dir_;
    std::unique_ptr<child_process> proc_;
};

/// A string field of a record, "" when absent (operator[] on a const json must not miss).
std::string field(const json& d, const char* key) {
    return d.contains(key) ? d[key].get<std::string>() : std::string();
}

bool is(const json& d, const char* event, const std::string& symbol = "AAAUSDT") {
    return d["event"] == event && d["symbol"] == symbol;
}

std::vector<json> of(const std::vector<json>& ds, const char* event,
                     const std::string& symbol = "AAAUSDT") {
    std::vector<json> out;
    for (const auto& d : ds)
        if (is(d, event, symbol)) out.push_back(d);
    return out;
}

/// Index of the first record (at or after `from`) for which pred holds, or ds.size().
template <class P>
std::size_t find_index(const std::vector<json>& ds, P pred, std::size_t from = 0) {
    for (std::size_t i = from; i < ds.size(); ++i)
        if (pred(ds[i])) return i;
    return ds.size();
}

std::size_t count_after(const std::vector<json>& ds, std::size_t from, const char* event,
                        const std::string& symbol = "AAAUSDT") {
    std::size_t n = 0;
    for (std::size_t i = from; i < ds.size(); ++i)
        if (is(ds[i], event, symbol)) ++n;
    return n;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

/// The integer after `key` in `text` ("v1 n=12", "n=" -> 12); -1 when absent.
long long number_after(const std::string& text, const std::string& key) {
    const auto at = text.find(key);
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + key.size()));
}

/// Enters long on its first chance with a stop and target far away (the position stays open),
/// counts its calls in ctx.n and moves the target on every candle, so every call leaves a
/// record whose reason shows the version tag and the counter.
std::string holder_script(const std::string& tag) {
    return "local TAG = \"" + tag + "\"\n" + R"lua(
function detect_opportunity(m, ctx, ind)
  ctx.n = (ctx.n or 0) + 1
  return { reason = TAG .. " n=" .. ctx.n }
end
function filter_commitment(m, ctx, ind)
  ctx.n = (ctx.n or 0) + 1
  return { action = "enter_long", stop_loss = m.ask * 0.5, take_profit = m.ask * 2,
           reason = TAG .. " n=" .. ctx.n }
end
function manage_position(m, ctx, ind, pos)
  ctx.n = (ctx.n or 0) + 1
  return { action = "update_take_profit", price = m.bid * 2, reason = TAG .. " n=" .. ctx.n }
end
)lua";
}

/// Enters long on every second candle with a take-profit and stop-loss 0.07 % away: on a
/// volatile symbol, the automatic exit closes each trade within a few quotes.
std::string scalper_script(const std::string& tag) {
    return "local TAG = \"" + tag + "\"\n" + R"lua(
function detect_opportunity(m, ctx, ind)
  return { reason = TAG .. " opportunity" }
end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.9993, take_profit = m.ask * 1.0007,
           reason = TAG .. " enter" }
end
function manage_position(m, ctx, ind, pos)
  return nil
end
)lua";
}

/// Makes a "call" record on every candle: Idle -> Analyzing -> Idle -> ...
std::string ping_pong_script(const std::string& tag) {
    return "local TAG = \"" + tag + "\"\n" + R"lua(
function detect_opportunity(m, ctx, ind)
  return { reason = TAG .. " look x=" .. tostring(params.x) }
end
function filter_commitment(m, ctx, ind)
  return { action = "cancel_analysis", reason = TAG .. " skip x=" .. tostring(params.x) }
end
function manage_position(m, ctx, ind, pos)
  return { action = "exit", reason = TAG }
end
)lua";
}

/// Every record at index < `split` names `before` as its script, every one after names `after`.
void check_versions_split(const std::vector<json>& ds, std::size_t split, const std::string& before,
                          const std::string& after, const std::string& symbol = "AAAUSDT") {
    for (std::size_t i = 0; i < ds.size(); ++i) {
        if (ds[i]["symbol"] != symbol || i == split) continue;
        INFO("record " << i << ": " << ds[i].dump());
        REQUIRE(ds[i].contains("script_hash"));
        CHECK(field(ds[i], "script_hash") == (i < split ? before : after));
    }
}

}  // namespace

TEST_CASE("hot reload: a script edited in place while in a position keeps the position and ctx") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    const std::string h1 = run.write_script("hold.lua", holder_script("v1"));
    run.write_config(config_text({{"AAAUSDT", "hold", "x = 1"}}));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) {
        return of(ds, "fill").size() == 1 && count_after(ds, 0, "call") >= 5;
    }));

    const std::string h2 = run.write_script("hold.lua", holder_script("v2"));
    REQUIRE(h1 != h2);
    REQUIRE(run.wait_for([](const auto& ds) {
        const auto at = find_index(ds, [](const json& d) { return is(d, "reloaded"); });
        return at < ds.size() && count_after(ds, at, "call") >= 4;
    }));
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);

    const auto ds = run.decisions();
    const auto reloads = of(ds, "reloaded");
    REQUIRE(reloads.size() == 1);
    CHECK(field(reloads[0], "reason") == "hold.lua");
    CHECK(field(reloads[0], "previous_hash") == h1);
    CHECK(field(reloads[0], "script_hash") == h2);
    CHECK(field(reloads[0], "state") == "InPosition");
    const std::size_t split = find_index(ds, [](const json& d) { return is(d, "reloaded"); });
    check_versions_split(ds, split, h1, h2);

    // One entry, never closed: the position carried over. The counter in ctx carried over too:
    // it goes up by exactly one per call, across the swap, and the reason shows which version
    // made the call.
    CHECK(of(ds, "fill").size() == 1);
    CHECK(count_after(ds, 0, "auto_exit") == 0);
    long long expected_n = 1;
    for (std::size_t i = 0; i < ds.size(); ++i) {
        if (!is(ds[i], "call")) continue;
        INFO("record " << i << ": " << ds[i].dump());
        const std::string reason = field(ds[i], "reason");
        CHECK(reason.rfind(i < split ? "v1 " : "v2 ", 0) == 0);
        CHECK(number_after(reason, "n=") == expected_n);
        if (i > split) CHECK(field(ds[i], "state") == "InPosition");
        ++expected_n;
    }
    const std::string err = run.err();
    CHECK(err.find("[reload] hold.lua changed (version " + h2 + "): reloading 1 runner(s)") !=
          std::string::npos);
    CHECK(err.find("[AAAUSDT] reloaded strategy hold.lua (" + h1 + " -> " + h2 + ")") !=
          std::string::npos);
    CHECK(run.out().find("hold.lua@" + h2) != std::string::npos);
}

TEST_CASE("hot reload: a rename, a chunked write and a no-op save each reload at most once") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    // A longer debounce than the default, so the 30 ms pauses of the chunked writes below stay
    // well inside it even on a loaded machine.
    run_options o;
    o.log_level = "debug";  // the no-op save is only logged at debug
    o.daemon_extra = "reload_debounce_ms = 300\n";
    const std::string h1 = run.write_script("hold.lua", holder_script("v1"));
    run.write_config(config_text({{"AAAUSDT", "hold", "x = 1"}}, o));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return count_after(ds, 0, "call") >= 3; }));
    std::vector<std::string> wanted{h1};

    // Save via rename: write a temporary beside it, rename it over the script.
    const fs::path tmp = run.script("hold.lua.tmp");
    std::ofstream(tmp, std::ios::binary) << holder_script("v2");
    const std::string h2 = sha12(tmp);
    fs::rename(tmp, run.script("hold.lua"));
    wanted.push_back(h2);
    auto reloaded_to = [](const std::string& h) {
        return [h](const std::vector<json>& ds) {
            const auto at = find_index(ds, [&](const json& d) {
                return is(d, "reloaded") && field(d, "script_hash") == h;
            });
            return at < ds.size() && count_after(ds, at, "call") >= 2;
        };
    };
    REQUIRE(run.wait_for(reloaded_to(h2)));

    // One open, three chunks, one close. Each prefix is itself a valid script (later definitions
    // replace earlier ones), so reloading a partial file would show as an extra version.
    const std::string v3a = holder_script("v3a");
    const std::string v3b =
        "function manage_position(m, ctx, ind, pos)\n  ctx.n = ctx.n + 1\n"
        "  return { action = \"update_take_profit\", price = m.bid * 2, "
        "reason = \"v3b n=\" .. ctx.n }\nend\n";
    const std::string v3c =
        "function manage_position(m, ctx, ind, pos)\n  ctx.n = ctx.n + 1\n"
        "  return { action = \"update_take_profit\", price = m.bid * 2, "
        "reason = \"v3 n=\" .. ctx.n }\nend\n";
    {
        std::ofstream f(run.script("hold.lua"), std::ios::binary | std::ios::trunc);
        f << v3a << std::flush;
        std::this_thread::sleep_for(30ms);
        f << v3b << std::flush;
        std::this_thread::sleep_for(30ms);
        f << v3c;
    }
    const std::string h3 = sha12(run.script("hold.lua"));
    wanted.push_back(h3);
    REQUIRE(run.wait_for(reloaded_to(h3)));

    // The same in three separate opens (append and close each time): three close-after-write
    // events that the debounce must fold into one reload of the final content.
    run.write_script("hold.lua", holder_script("v4a"));
    std::this_thread::sleep_for(30ms);
    std::ofstream(run.script("hold.lua"), std::ios::binary | std::ios::app)
        << v3b.substr(0, v3b.size() - 1) << " -- second chunk\n";
    std::this_thread::sleep_for(30ms);
    std::ofstream(run.script("hold.lua"), std::ios::binary | std::ios::app)
        << "function manage_position(m, ctx, ind, pos)\n  ctx.n = ctx.n + 1\n"
           "  return { action = \"update_take_profit\", price = m.bid * 2, "
           "reason = \"v4 n=\" .. ctx.n }\nend\n";
    const std::string h4 = sha12(run.script("hold.lua"));
    wanted.push_back(h4);
    REQUIRE(run.wait_for(reloaded_to(h4)));

    // A save that does not change a byte.
    const std::string same = read_file(run.script("hold.lua"));
    REQUIRE(run.write_script("hold.lua", same) == h4);
    REQUIRE(run.wait_for_text("hold.lua saved without a content change (" + h4 + ")"));
    // A call after the skipped save, so a reload it might have posted would be in the log.
    const std::size_t seen = run.decisions().size();
    REQUIRE(run.wait_for([&](const auto& ds) { return count_after(ds, seen, "call") >= 2; }));

    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    const auto ds = run.decisions();
    std::vector<std::string> versions{h1};
    for (const auto& r : of(ds, "reloaded")) {
        CHECK(field(r, "previous_hash") == versions.back());
        versions.push_back(field(r, "script_hash"));
    }
    CHECK(versions == wanted);
    CHECK(of(ds, "reload_failed").empty());
    const auto calls = of(ds, "call");
    REQUIRE_FALSE(calls.empty());
    CHECK(field(calls.back(), "reason").rfind("v4 n=", 0) == 0);
    CHECK(field(calls.back(), "script_hash") == h4);
    CHECK(occurrences(run.err(), "hold.lua changed (version ") == 3);
}

TEST_CASE("hot reload: broken versions are refused and never run; the old version keeps trading") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    const std::string h1 = run.write_script("hold.lua", holder_script("v1"));
    run.write_config(config_text({{"AAAUSDT", "hold", "x = 1"}}));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return count_after(ds, 0, "call") >= 3; }));

    struct broken {
        std::string text;
        std::string message;  // a fragment of the expected error
    };
    const std::string good = holder_script("bad");
    const std::vector<broken> versions{
        {"local TAG = 'bad'\nfunction detect_opportunity(m, ctx, ind)\n  return {\nend\n" +
             good.substr(good.find("function filter_commitment")),
         "hold.lua:4: unexpected symbol near 'end'"},
        {good.substr(0, good.find("function manage_position")),
         "hold.lua: missing required function 'manage_position'"},
        {good + "function on_init()\n  error(\"on_init refuses this version\")\nend\n",
         "on_init: on_init refuses this version"},
    };
    std::vector<std::string> refused;
    for (std::size_t k = 0; k < versions.size(); ++k) {
        INFO("broken version " << k);
        const std::string h = run.write_script("hold.lua", versions[k].text);
        refused.push_back(h);
        // Refused, and the running version is still called after the refusal.
        REQUIRE(run.wait_for([&](const auto& ds) {
            const auto at = find_index(ds, [&](const json& d) {
                return is(d, "reload_failed") && field(d, "refused_hash") == h;
            });
            return at < ds.size() && count_after(ds, at, "call") >= 2;
        }));
        const auto ds = run.decisions();
        const auto failed = of(ds, "reload_failed");
        REQUIRE(failed.size() == k + 1);
        CHECK(field(failed.back(), "reason") == "hold.lua");
        CHECK(field(failed.back(), "script_hash") == h1);
        CHECK(field(failed.back(), "message").find(versions[k].message) != std::string::npos);
        CHECK(run.err().find("reload of hold.lua " + h + " refused: ") != std::string::npos);
        CHECK(run.err().find("; hold.lua " + h1 + " keeps running") != std::string::npos);
    }

    const std::string h2 = run.write_script("hold.lua", holder_script("v2"));
    REQUIRE(run.wait_for([&](const auto& ds) {
        const auto at = find_index(
            ds, [&](const json& d) { return is(d, "reloaded") && field(d, "script_hash") == h2; });
        return at < ds.size() && count_after(ds, at, "call") >= 2;
    }));
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);

    const auto ds = run.decisions();
    const auto reloads = of(ds, "reloaded");
    REQUIRE(reloads.size() == 1);
    CHECK(field(reloads[0], "previous_hash") == h1);
    const std::size_t split = find_index(ds, [](const json& d) { return is(d, "reloaded"); });
    check_versions_split(ds, split, h1, h2);  // no record names a refused version
    for (const auto& d : ds) {
        for (const auto& h : refused)
            CHECK(field(d, "script_hash") != h);
        if (is(d, "call")) CHECK(field(d, "reason").rfind("bad", 0) == std::string::npos);
    }
    CHECK(of(ds, "fill").size() == 1);  // the position opened by v1 is still open
    CHECK(of(ds, "error").empty());
    CHECK(of(ds, "suspended").empty());
}

TEST_CASE("hot reload: automatic exits keep firing during and after reloads") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    const std::string h1 = run.write_script("scalp.lua", scalper_script("s1"));
    run.write_config(config_text({{"AAAUSDT", "scalp", "x = 1", 3.0}}));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return count_after(ds, 0, "auto_exit") >= 2; }));

    std::vector<std::string> hashes{h1};
    for (const char* tag : {"s2", "s3", "s4"}) {
        const std::string h = run.write_script("scalp.lua", scalper_script(tag));
        hashes.push_back(h);
        // After each swap, the new version enters and the daemon exits it by itself.
        REQUIRE(run.wait_for([&](const auto& ds) {
            const auto at = find_index(ds, [&](const json& d) {
                return is(d, "reloaded") && field(d, "script_hash") == h;
            });
            return at < ds.size() && count_after(ds, at, "auto_exit") >= 2;
        }));
    }
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);

    const auto ds = run.decisions();
    REQUIRE(of(ds, "reloaded").size() == 3);
    // Each version's entries carry its tag and hash; every auto-exit closes the open trade.
    std::size_t version = 0;
    bool in_position = false;
    for (std::size_t i = 0; i < ds.size(); ++i) {
        const json& d = ds[i];
        INFO("record " << i << ": " << d.dump());
        if (is(d, "reloaded")) {
            ++version;
            REQUIRE(version < hashes.size());
            CHECK(field(d, "script_hash") == hashes[version]);
            continue;
        }
        CHECK(field(d, "script_hash") == hashes[version]);
        if (is(d, "call") && field(d, "action") == "enter_long") {
            CHECK(field(d, "reason") == "s" + std::to_string(version + 1) + " enter");
            CHECK_FALSE(in_position);
            in_position = true;
        }
        if (is(d, "auto_exit")) {
            CHECK(in_position);
            CHECK((field(d, "reason") == "take_profit" || field(d, "reason") == "stop_loss"));
            in_position = false;
        }
    }
    const std::size_t last_reload = find_index(ds, [&](const json& d) {
        return is(d, "reloaded") && field(d, "script_hash") == hashes.back();
    });
    CHECK(count_after(ds, last_reload, "auto_exit") >= 2);
    CHECK(of(ds, "error").empty());
}

TEST_CASE("hot reload: no candle is skipped or processed twice across a swap") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    // A candle every 20 ms, so the swaps land between busy events.
    run_options o;
    o.speed = 3000;
    o.ticks_per_candle = 2;
    const std::string h1 = run.write_script("pp.lua", ping_pong_script("p1"));
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 1"}}, o));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return count_after(ds, 0, "call") >= 10; }));
    const std::string h2 = run.write_script("pp.lua", ping_pong_script("p2"));
    REQUIRE(run.wait_for([&](const auto& ds) {
        const auto at = find_index(
            ds, [&](const json& d) { return is(d, "reloaded") && field(d, "script_hash") == h2; });
        return at < ds.size() && count_after(ds, at, "call") >= 10;
    }));
    const std::string h3 = run.write_script("pp.lua", ping_pong_script("p3"));
    REQUIRE(run.wait_for([&](const auto& ds) {
        const auto at = find_index(
            ds, [&](const json& d) { return is(d, "reloaded") && field(d, "script_hash") == h3; });
        return at < ds.size() && count_after(ds, at, "call") >= 10;
    }));
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);

    const auto ds = run.decisions();
    REQUIRE(of(ds, "reloaded").size() == 2);
    const std::vector<std::string> hashes{h1, h2, h3};
    std::size_t version = 0;
    std::optional<long long> last_ts;
    std::string last_function;
    for (std::size_t i = 0; i < ds.size(); ++i) {
        const json& d = ds[i];
        INFO("record " << i << ": " << d.dump());
        if (is(d, "reloaded")) {
            ++version;
            continue;
        }
        CHECK(field(d, "script_hash") == hashes[version]);
        if (!is(d, "call")) continue;
        const long long ts = d["ts"];
        if (last_ts) CHECK(ts - *last_ts == 60'000);  // the next candle, every time
        last_ts = ts;
        // The state machine carries over: the functions alternate across the swaps too.
        const std::string function = field(d, "function");
        if (!last_function.empty())
            CHECK(function == (last_function == "detect_opportunity" ? "filter_commitment"
                                                                     : "detect_opportunity"));
        last_function = function;
        CHECK(field(d, "reason").rfind("p" + std::to_string(version + 1) + " ", 0) == 0);
    }
    CHECK(version == 2);
}

TEST_CASE("hot reload: on_reload(old_ctx) migrates ctx; an on_reload that raises is refused") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    const std::string v1 = R"lua(
function detect_opportunity(m, ctx, ind)
  ctx.count = (ctx.count or 0) + 1
  return { reason = "v1 count=" .. ctx.count }
end
function filter_commitment(m, ctx, ind)
  ctx.count = ctx.count + 1
  return { action = "enter_long", stop_loss = m.ask * 0.5, take_profit = m.ask * 2,
           reason = "v1 count=" .. ctx.count }
end
function manage_position(m, ctx, ind, pos)
  ctx.count = ctx.count + 1
  return { action = "update_take_profit", price = m.bid * 2, reason = "v1 count=" .. ctx.count }
end
)lua";
    // Renames ctx.count to ctx.total.
    auto v_total = [](const std::string& tag, const std::string& on_reload) {
        return on_reload + "local TAG = \"" + tag + "\"\n" + R"lua(
function detect_opportunity(m, ctx, ind) return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, pos)
  ctx.total = ctx.total + 1
  return { action = "update_take_profit", price = m.bid * 2,
           reason = TAG .. " total=" .. ctx.total .. " count=" .. tostring(ctx.count)
                    .. " from=" .. tostring(ctx.migrated_from) }
end
)lua";
    };
    const std::string v2 = v_total("v2", R"lua(
function on_reload(old)
  log.info("on_reload saw count=" .. tostring(old.count) .. " (" .. type(old) .. ")")
  return { total = old.count, migrated_from = "count" }
end
)lua");
    const std::string v3 = v_total("v3", R"lua(
function on_reload(old)
  error("cannot migrate total=" .. tostring(old.total))
end
)lua");
    const std::string v4 = v_total("v4", R"lua(
function on_reload(old)
  log.info("v4 on_reload keeps ctx")
  return nil
end
)lua");

    const std::string h1 = run.write_script("mig.lua", v1);
    run.write_config(config_text({{"AAAUSDT", "mig", "x = 1"}}));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return count_after(ds, 0, "call") >= 4; }));
    auto calls_after_event = [](const char* event, const std::string& key, const std::string& h,
                                std::size_t calls) {
        return [=](const std::vector<json>& ds) {
            const auto at =
                find_index(ds, [&](const json& d) { return is(d, event) && d[key] == h; });
            return at < ds.size() && count_after(ds, at, "call") >= calls;
        };
    };
    const std::string h2 = run.write_script("mig.lua", v2);
    REQUIRE(run.wait_for(calls_after_event("reloaded", "script_hash", h2, 3)));
    const std::string h3 = run.write_script("mig.lua", v3);
    REQUIRE(run.wait_for(calls_after_event("reload_failed", "refused_hash", h3, 3)));
    const std::string h4 = run.write_script("mig.lua", v4);
    REQUIRE(run.wait_for(calls_after_event("reloaded", "script_hash", h4, 3)));
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);

    const auto ds = run.decisions();
    const auto failed = of(ds, "reload_failed");
    REQUIRE(failed.size() == 1);
    CHECK(field(failed[0], "refused_hash") == h3);
    CHECK(field(failed[0], "script_hash") == h2);
    const std::string message = field(failed[0], "message");
    CHECK(message.find("mig.lua") == 0);
    CHECK(message.find("on_reload") != std::string::npos);
    CHECK(message.find("cannot migrate total=") != std::string::npos);

    // The counter goes on by one per call: v1 counts in ctx.count, v2 and v4 in ctx.total,
    // which v2's on_reload filled from ctx.count (and ctx.count is gone). v4's on_reload returned
    // nil: ctx unchanged.
    long long expected = 1;
    std::string version = "v1";
    for (std::size_t i = 0; i < ds.size(); ++i) {
        const json& d = ds[i];
        INFO("record " << i << ": " << d.dump());
        CHECK(field(d, "script_hash") != h3);
        if (is(d, "reloaded")) version = field(d, "script_hash") == h2 ? "v2" : "v4";
        if (!is(d, "call")) continue;
        const std::string reason = field(d, "reason");
        CHECK(reason.rfind(version + " ", 0) == 0);
        if (version == "v1") {
            CHECK(number_after(reason, "count=") == expected);
        } else {
            CHECK(number_after(reason, "total=") == expected);
            CHECK(reason.find("count=nil from=count") != std::string::npos);
        }
        ++expected;
    }
    CHECK(version == "v4");
    const std::string err = run.err();
    CHECK(occurrences(err, "on_reload saw count=") == 1);
    const auto first_v2 = find_index(
        ds, [&](const json& d) { return is(d, "call") && field(d, "script_hash") == h2; });
    REQUIRE(first_v2 < ds.size());
    // on_reload saw the ctx as it was at the swap: one less than the first v2 call's total.
    CHECK(err.find("on_reload saw count=" +
                   std::to_string(number_after(field(ds[first_v2], "reason"), "total=") - 1) +
                   " (table)") != std::string::npos);
    CHECK(occurrences(err, "v4 on_reload keeps ctx") == 1);
}

TEST_CASE("hot reload: a deleted script keeps running until a new file arrives") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    const std::string h1 = run.write_script("hold.lua", holder_script("v1"));
    run.write_config(config_text({{"AAAUSDT", "hold", "x = 1"}}));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return count_after(ds, 0, "call") >= 3; }));

    fs::remove(run.script("hold.lua"));
    REQUIRE(
        run.wait_for_text("[reload] hold.lua was deleted: AAAUSDT keeps running its current "
                          "version until a new file arrives"));
    const std::size_t deleted_at = run.decisions().size();
    REQUIRE(run.wait_for([&](const auto& ds) { return count_after(ds, deleted_at, "call") >= 3; }));
    {
        const auto ds = run.decisions();
        for (std::size_t i = deleted_at; i < ds.size(); ++i) {
            CHECK(field(ds[i], "script_hash") == h1);
            CHECK(ds[i]["event"] != "reload_failed");
            CHECK(ds[i]["event"] != "suspended");
        }
    }

    const std::string h2 = run.write_script("hold.lua", holder_script("v2"));
    REQUIRE(run.wait_for([&](const auto& ds) {
        const auto at = find_index(
            ds, [&](const json& d) { return is(d, "reloaded") && field(d, "script_hash") == h2; });
        return at < ds.size() && count_after(ds, at, "call") >= 2;
    }));
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    const auto ds = run.decisions();
    const auto reloads = of(ds, "reloaded");
    REQUIRE(reloads.size() == 1);
    CHECK(field(reloads[0], "previous_hash") == h1);
    check_versions_split(ds, find_index(ds, [](const json& d) { return is(d, "reloaded"); }), h1,
                         h2);
    CHECK(of(ds, "fill").size() == 1);
    CHECK(of(ds, "reload_failed").empty());
}

TEST_CASE("hot reload: allow_missing_scripts starts suspended and picks the script up") {
    run_options o;
    {
        // Without allow_missing_scripts, a missing script is a config error (exit 2).
        daemon_run strict;
        strict.write_config(config_text({{"AAAUSDT", "later", "x = 1"}}, o));
        strict.start();
        const auto code = strict.wait(20s);
        REQUIRE(code.has_value());
        CHECK(*code == 2);
        CHECK(strict.err().find("later.lua") != std::string::npos);
    }
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    o.daemon_extra = "allow_missing_scripts = true\n";
    run.write_config(config_text({{"AAAUSDT", "later", "x = 1"}}, o));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return of(ds, "load_error").size() == 1; }));
    REQUIRE(run.running());

    const std::string h = run.write_script("later.lua", holder_script("L1"));
    REQUIRE(run.wait_for([&](const auto& ds) {
        const auto at = find_index(
            ds, [&](const json& d) { return is(d, "reloaded") && field(d, "script_hash") == h; });
        return at < ds.size() && count_after(ds, at, "call") >= 3;
    }));
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);

    const auto ds = run.decisions();
    const auto load_errors = of(ds, "load_error");
    REQUIRE(load_errors.size() == 1);
    CHECK(field(load_errors[0], "message").find("later.lua") != std::string::npos);
    CHECK_FALSE(load_errors[0].contains("script_hash"));
    const auto reloads = of(ds, "reloaded");
    REQUIRE(reloads.size() == 1);
    CHECK(field(reloads[0], "reason") == "later.lua");
    CHECK_FALSE(reloads[0].contains("previous_hash"));  // there was no version before
    // Nothing was called before the script arrived; from then on, calls by the new version.
    const std::size_t split = find_index(ds, [](const json& d) { return is(d, "reloaded"); });
    CHECK(find_index(ds, [](const json& d) { return is(d, "call"); }) > split);
    for (std::size_t i = split; i < ds.size(); ++i)
        CHECK(field(ds[i], "script_hash") == h);
    const auto first_call = of(ds, "call").front();
    CHECK(field(first_call, "reason") == "L1 n=1");
    CHECK(run.err().find("suspension lifted") != std::string::npos);
    CHECK(run.out().find("later.lua@" + h) != std::string::npos);
}

TEST_CASE(
    "hot reload: SIGHUP applies params, refuses a bad config whole, adds and retires symbols") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    const std::string hp = run.write_script("pp.lua", ping_pong_script("p"));
    run.write_script("scalp.lua", scalper_script("s"));
    const symbol_spec bbb{"BBBUSDT", "scalp", "x = 1", 3.0};
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 1"}, bbb}));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) {
        return count_after(ds, 0, "call") >= 3 && count_after(ds, 0, "call", "BBBUSDT") >= 3;
    }));

    // A changed parameter rebuilds the (unchanged) script with the new params.
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 2"}, bbb}));
    run.signal(SIGHUP);
    auto calls_with = [](const std::string& text, std::size_t from, std::size_t n) {
        return [=](const std::vector<json>& ds) {
            std::size_t k = 0;
            for (std::size_t i = from; i < ds.size(); ++i)
                if (is(ds[i], "call") && field(ds[i], "reason").find(text) != std::string::npos)
                    ++k;
            return k >= n;
        };
    };
    REQUIRE(run.wait_for(calls_with("x=2", 0, 3)));
    {
        const auto ds = run.decisions();
        const auto reloads = of(ds, "reloaded");
        REQUIRE(reloads.size() == 1);
        CHECK(field(reloads[0], "script_hash") == hp);
        CHECK(field(reloads[0], "previous_hash") == hp);
        CHECK(of(ds, "reloaded", "BBBUSDT").empty());  // its config did not change
        // x=1 before the rebuild, x=2 after it.
        const std::size_t split = find_index(ds, [](const json& d) { return is(d, "reloaded"); });
        for (std::size_t i = 0; i < ds.size(); ++i) {
            if (!is(ds[i], "call")) continue;
            INFO("record " << i << ": " << ds[i].dump());
            CHECK(field(ds[i], "reason").find(i < split ? "x=1" : "x=2") != std::string::npos);
        }
    }
    CHECK(run.err().find("config reload applied: 2 symbol(s) active") != std::string::npos);

    // An unknown key: the whole file is refused and everything keeps running as it was.
    std::string bad = config_text({{"AAAUSDT", "pp", "x = 3"}});
    bad.insert(bad.find("state_dir"), "bogus_key = 1\n");
    run.write_config(bad);
    run.signal(SIGHUP);
    REQUIRE(
        run.wait_for_text("config reload refused (1 problem(s)); the running configuration "
                          "stays:"));
    CHECK(run.err().find("daemon.bogus_key: unknown key") != std::string::npos);
    std::size_t mark = run.decisions().size();
    REQUIRE(run.wait_for(calls_with("x=2", mark, 3)));
    REQUIRE(run.wait_for(
        [&](const auto& ds) { return count_after(ds, mark, "call", "BBBUSDT") >= 2; }));

    // On the simulated feed, an added symbol starts trading at once.
    const symbol_spec ccc{"CCCUSDT", "pp", "x = 7"};
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 2"}, bbb, ccc}));
    run.signal(SIGHUP);
    REQUIRE(run.wait_for_text("config reload: CCCUSDT added (pp on 1m)"));
    REQUIRE(
        run.wait_for([](const auto& ds) { return count_after(ds, 0, "call", "CCCUSDT") >= 3; }));

    // Removing BBBUSDT retires it.
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 2"}, ccc}));
    run.signal(SIGHUP);
    REQUIRE(run.wait_for([](const auto& ds) { return of(ds, "retired", "BBBUSDT").size() == 1; }));
    mark = run.decisions().size();
    REQUIRE(run.wait_for(calls_with("x=2", mark, 5)));

    // BBBUSDT's runner still runs (retired): it cannot come back with another [symbols.sim].
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 2"}, ccc, {"BBBUSDT", "pp", "x = 9"}}));
    run.signal(SIGHUP);
    REQUIRE(run.wait_for_text(
        "config reload: BBBUSDT cannot come back with another interval, window or [symbols.sim] "
        "before a restart"));
    // Adding it back as it was reinstates the retired runner (no second runner), under a new
    // script.
    run.write_config(
        config_text({{"AAAUSDT", "pp", "x = 2"}, ccc, {"BBBUSDT", "pp", "x = 9", 3.0}}));
    run.signal(SIGHUP);
    REQUIRE(run.wait_for_text("config reload: BBBUSDT is back: its runner takes entries again"));
    REQUIRE(run.wait_for([&](const auto& ds) {
        std::size_t k = 0;
        for (const auto& d : of(ds, "call", "BBBUSDT"))
            k += field(d, "reason").find("x=9") != std::string::npos;
        return k >= 3;
    }));
    REQUIRE(run.running());
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);

    const auto ds = run.decisions();
    CHECK(of(ds, "retired").empty());  // AAAUSDT stays
    CHECK(of(ds, "reloaded").size() == 1);
    const std::size_t retired =
        find_index(ds, [](const json& d) { return is(d, "retired", "BBBUSDT"); });
    const std::size_t reinstated =
        find_index(ds, [](const json& d) { return is(d, "reinstated", "BBBUSDT"); });
    REQUIRE(reinstated < ds.size());
    CHECK(retired < reinstated);
    CHECK(of(ds, "reinstated", "BBBUSDT").size() == 1);
    for (std::size_t i = retired; i < reinstated; ++i) {
        INFO("record " << i << ": " << ds[i].dump());
        if (is(ds[i], "call", "BBBUSDT")) {
            CHECK(field(ds[i], "action") != "enter_long");
            CHECK(field(ds[i], "action") != "enter_short");
        }
        if (is(ds[i], "fill", "BBBUSDT")) CHECK(field(ds[i], "side") != "buy");
    }
    CHECK(run.err().find("[BBBUSDT] BBBUSDT was removed from the configuration") !=
          std::string::npos);
    CHECK(run.err().find("config reload applied: 2 symbol(s) active") != std::string::npos);
    CHECK(run.err().find("config reload applied: 3 symbol(s) active") != std::string::npos);
    CHECK(run.err().find("config reload: BBBUSDT added") == std::string::npos);
    // One runner for BBBUSDT after it came back: one call per candle, on the new script.
    std::vector<long long> bbb_ts;
    for (std::size_t i = reinstated; i < ds.size(); ++i)
        if (is(ds[i], "call", "BBBUSDT")) bbb_ts.push_back(ds[i]["ts"]);
    REQUIRE(bbb_ts.size() >= 3);
    for (std::size_t i = 1; i < bbb_ts.size(); ++i)
        CHECK(bbb_ts[i] > bbb_ts[i - 1]);
    CHECK(of(ds, "reloaded", "BBBUSDT").size() == 1);  // the switch from scalp to pp
    // The added symbol: its own params, one call per candle, on the same clock as the others.
    const auto ccc_calls = of(ds, "call", "CCCUSDT");
    REQUIRE(ccc_calls.size() >= 3);
    std::vector<long long> aaa_ts;
    for (const auto& d : of(ds, "call"))
        aaa_ts.push_back(d["ts"]);
    for (std::size_t i = 0; i < ccc_calls.size(); ++i) {
        INFO("CCCUSDT call " << i << ": " << ccc_calls[i].dump());
        CHECK(field(ccc_calls[i], "reason").find("x=7") != std::string::npos);
        CHECK(std::find(aaa_ts.begin(), aaa_ts.end(), ccc_calls[i]["ts"].get<long long>()) !=
              aaa_ts.end());
        if (i > 0)
            CHECK(ccc_calls[i]["ts"].get<long long>() - ccc_calls[i - 1]["ts"].get<long long>() ==
                  60'000);
    }
    CHECK(run.out().find("AAAUSDT") != std::string::npos);
}

TEST_CASE("hot reload: a SIGHUP log level change applies to the runners and the reloader") {
    daemon_run run;
    INFO("stderr tail:\n" << run.err_tail());
    run.write_script("pp.lua", ping_pong_script("p1"));
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 1"}}));
    run.start();
    REQUIRE(run.wait_for([](const auto& ds) { return count_after(ds, 0, "call") >= 3; }));

    // info -> debug: the reloader's debug line about a no-op save must now show.
    run_options verbose;
    verbose.log_level = "debug";
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 1"}}, verbose));
    run.signal(SIGHUP);
    REQUIRE(run.wait_for_text("config reload: log level is now debug"));
    run.write_script("pp.lua", read_file(run.script("pp.lua")));  // no content change
    // Logged about 100 ms (the debounce) after the save when the new level applies.
    CHECK(run.wait_for_text("[reload] pp.lua saved without a content change", 5s));
    // debug -> warn: the runner's info lines (one per call) stop. The one call that may have been
    // logging while the level changed is allowed for.
    run_options quiet;
    quiet.log_level = "warn";
    run.write_config(config_text({{"AAAUSDT", "pp", "x = 1"}}, quiet));
    run.signal(SIGHUP);
    REQUIRE(run.wait_for_log([](const std::string& e) {
        return occurrences(e, "SIGHUP: reloading the configuration") == 2;
    }));
    const std::size_t mark = run.decisions().size();
    REQUIRE(run.wait_for([&](const auto& ds) { return count_after(ds, mark, "call") >= 5; }));
    const auto code = run.stop();
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    const std::string err = run.err();
    const auto second_hup = err.rfind("SIGHUP: reloading the configuration");
    REQUIRE(second_hup != std::string::npos);
    CHECK(occurrences(err.substr(second_hup), "info  [AAAUSDT] call") <= 1);
}
