// The journal under real faults, with the real daemon on the simulated feed: kill -9 at random
// points (P01), a disk that fills up (P03), a read-only state directory (P06), a second daemon
// (P07), a truncated and a bit-flipped journal (P04). What a restart restores is compared with
// what `tradingd journal` says the journal holds, field by field.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <process.hpp>
#include <random>
#include <set>
#include <sstream>
#include <test_support.hpp>
#include <thread>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using tradingd::testing::child_process;
using tradingd::testing::read_file;
using tradingd::testing::temp_dir;
using tradingd::testing::wait_until;

namespace {

// Trades all the time and writes ctx on every call: every candle journals something.
constexpr const char* k_scalper = R"lua(
function detect_opportunity(m, ctx, ind)
  ctx.calls = (ctx.calls or 0) + 1
  return { reason = "look" }
end
function filter_commitment(m, ctx, ind)
  ctx.calls = (ctx.calls or 0) + 1
  ctx.entry_close = m.close
  return { action = "enter_long", stop_loss = m.ask * (1 - params.band),
           take_profit = m.ask * (1 + params.band), reason = "enter" }
end
function manage_position(m, ctx, ind, pos)
  ctx.calls = (ctx.calls or 0) + 1
  if pos.bars_held >= params.hold then return { action = "exit", reason = "held" } end
  return nil
end
)lua";

std::string config_text(double band, int hold, const std::string& extra = "") {
    std::ostringstream c;
    c << "[daemon]\nlog_level = \"info\"\nstate_dir = \"state\"\nstrategies_dir = \"strategies\"\n"
      << "hot_reload = false\n[feed]\ntype = \"sim\"\n[feed.sim]\nseed = 11\nspeed = 3000\n"
      << "ticks_per_candle = 4\nwarmup_candles = 5\n"
      << extra << "\n";
    for (const char* sym : {"AAAUSDT", "BBBUSDT"}) {
        c << "[[symbols]]\nsymbol = \"" << sym << "\"\nstrategy = \"scalper\"\ninterval = \"1m\"\n"
          << "window = 50\nquantity = 0.5\n[symbols.params]\nband = " << band << "\nhold = " << hold
          << "\n[symbols.sim]\nstart_price = 100\nvolatility = 2.0\n";
    }
    return c.str();
}

/// The daemon's environment for the fault shim; ASan must accept a preloaded library first.
std::vector<std::string> fault_env(const std::vector<std::string>& faults) {
    std::vector<std::string> env = faults;
    env.push_back(std::string("LD_PRELOAD=") + TRADINGD_FAULT_PRELOAD);
    const char* asan = std::getenv("ASAN_OPTIONS");
    env.push_back(std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                  "verify_asan_link_order=0");
    return env;
}

struct journal_daemon {
    temp_dir dir;
    fs::path state = dir.path() / "state";
    std::unique_ptr<child_process> proc;
    int runs = 0;

    explicit journal_daemon(const std::string& config) {
        fs::create_directories(dir.path() / "strategies");
        dir.write("strategies/scalper.lua", k_scalper);
        dir.write("tradingd.toml", config);
    }

    void start(const std::vector<std::string>& env = {}) {
        ++runs;
        proc = std::make_unique<child_process>(
            std::vector<std::string>{TRADINGD_BINARY, "--config",
                                     (dir.path() / "tradingd.toml").string()},
            out_path(), err_path(), env);
    }
    fs::path out_path() const { return dir.path() / ("out" + std::to_string(runs)); }
    fs::path err_path() const { return dir.path() / ("err" + std::to_string(runs)); }
    std::string err() const { return read_file(err_path()); }
    bool wait_for_text(const std::string& needle, std::chrono::milliseconds timeout = 15s) const {
        return wait_until([&] { return err().find(needle) != std::string::npos; }, timeout);
    }

    /// The decision log's records from line `from` on (malformed lines, cut by a kill, skipped).
    std::vector<json> decisions(std::size_t* lines = nullptr, std::size_t from = 0) const {
        std::vector<json> out;
        std::ifstream in(state / "decisions.jsonl");
        std::string line;
        std::size_t n = 0;
        while (std::getline(in, line)) {
            if (n++ < from) continue;
            auto j = json::parse(line, nullptr, false);
            if (!j.is_discarded()) out.push_back(std::move(j));
        }
        if (lines != nullptr) *lines = n;
        return out;
    }

    /// `tradingd journal --json` on the state directory: exit code and output.
    std::pair<int, std::string> journal_tool() const {
        const fs::path out = dir.path() / "journal.json", err = dir.path() / "journal.err";
        child_process tool({TRADINGD_BINARY, "journal", "--state-dir", state.string(), "--json"},
                           out, err);
        const auto rc = tool.wait(60s);
        REQUIRE(rc.has_value());
        return {*rc, *rc == 0 ? read_file(out) : read_file(err)};
    }
    json journal_state() const {
        auto [rc, text] = journal_tool();
        const auto& output = text;  // clang 14: lambdas (INFO) cannot capture bindings
        INFO(output);
        REQUIRE(rc == 0);
        return json::parse(text);
    }
};

/// The restored records of the run whose decision-log lines start at `from`, by symbol.
std::map<std::string, json> restored_states(const journal_daemon& d, std::size_t from) {
    std::map<std::string, json> out;
    for (const auto& r : d.decisions(nullptr, from))
        if (r["event"] == "restored")
            out[r["symbol"]] = json::parse(r["message"].get<std::string>());
    return out;
}

std::size_t count_fills(const std::vector<json>& ds, const std::string& symbol) {
    return static_cast<std::size_t>(std::count_if(ds.begin(), ds.end(), [&](const json& d) {
        return d["event"] == "fill" && d["symbol"] == symbol;
    }));
}

}  // namespace

TEST_CASE(
    "journal crash: kill -9 at random points; every restart restores the journal's state "
    "exactly, no trade is lost or duplicated, positions stay managed (P01)") {
    const char* env_iterations = std::getenv("TRADINGD_CRASH_ITERATIONS");
#ifdef __SANITIZE_ADDRESS__
    constexpr int default_iterations = 20;  // the sanitizer build runs 3-5x slower; CI has 20 min
#else
    constexpr int default_iterations = 60;
#endif
    const int iterations = env_iterations ? std::atoi(env_iterations) : default_iterations;
    // Snapshots as often as allowed, so kills also land while one is written and compacts.
    journal_daemon d(config_text(0.004, 6, "[journal]\nsnapshot_every = 1000\n"));
    std::mt19937 rng(20261121);
    json expected;  // what the journal held after the previous kill
    std::size_t restored_positions = 0, restored_positions_closed = 0, torn_tails = 0;
    for (int i = 0; i <= iterations; ++i) {
        CAPTURE(i);
        std::size_t mark = 0;
        (void)d.decisions(&mark);
        d.start();
        INFO("stderr of this run:\n" << d.err());
        REQUIRE(d.wait_for_text("running:", 20s));
        if (!expected.is_null()) {
            // What each runner restored is exactly what the journal implied.
            const auto restored = restored_states(d, mark);
            for (const auto& [symbol, want] : expected["runners"].items()) {
                const auto& name = symbol;  // clang 14: lambdas (CAPTURE) cannot capture bindings
                CAPTURE(name);
                REQUIRE(restored.count(symbol) == 1);
                CHECK(restored.at(symbol) == want);
                restored_positions += !want["position"].is_null();
            }
        }
        if (i == iterations) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 400));
        d.proc->signal(SIGKILL);
        REQUIRE(d.proc->wait(10s).has_value());
        torn_tails += d.err().find("dropped a torn last record") != std::string::npos;
        const json now = d.journal_state();
        if (!expected.is_null()) {
            for (const auto& [symbol, before] : expected["runners"].items()) {
                const auto& after = now["runners"][symbol];
                CHECK(after["trades"].get<int>() >= before["trades"].get<int>());
                CHECK(after["fills"].get<int>() >= before["fills"].get<int>());
                // A position restored at this start and closed before the kill: still managed.
                if (!before["position"].is_null() &&
                    after["fills"].get<int>() > before["fills"].get<int>()) {
                    ++restored_positions_closed;
                }
            }
        }
        expected = now;
    }
    // A clean stop at the end.
    std::this_thread::sleep_for(1500ms);
    d.proc->signal(SIGTERM);
    const auto rc = d.proc->wait(20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    const json final_state = d.journal_state();
    const auto ds = d.decisions();
    for (const auto& [symbol, s] : final_state["runners"].items()) {
        const auto& name = symbol;  // clang 14: lambdas (CAPTURE) cannot capture bindings
        CAPTURE(name);
        // Every fill the decision log reports is in the journal; a crash can cut at most the
        // report of the one record being written.
        const auto reported = count_fills(ds, symbol);
        const auto journaled = s["fills"].get<std::size_t>();
        CHECK(journaled >= reported);
        CHECK(journaled - reported <= static_cast<std::size_t>(iterations));
        CHECK(s["trades"].get<int>() > 0);
        // No fill reported twice (a replayed trade would be).
        std::set<std::string> seen;
        for (const auto& x : ds) {
            if (x["event"] != "fill" || x["symbol"] != symbol) continue;
            const std::string key = std::to_string(x["ts"].get<long long>()) +
                                    x["side"].get<std::string>() + x["price"].dump();
            CHECK(seen.insert(key).second);
        }
    }
    MESSAGE(iterations << " kills, " << torn_tails << " torn tails dropped, " << restored_positions
                       << " positions restored, " << restored_positions_closed
                       << " of them closed after the restart");
    CHECK(restored_positions > 0);
    CHECK(restored_positions_closed > 0);
    CHECK(final_state["snapshot_seq"].get<long long>() > 0);  // restarts went through snapshots
}

TEST_CASE(
    "journal crash: a full disk stops new entries, keeps protecting open positions and "
    "says why (P03)") {
    journal_daemon d(config_text(0.01, 1'000'000));
    const fs::path trigger = d.dir.path() / "disk_full";
    d.start(fault_env({"TRADINGD_FAULT_DISK_FULL_IF=" + trigger.string()}));
    INFO("stderr:\n" << d.err());
    REQUIRE(d.wait_for_text("running:", 20s));
    // Both symbols in a position: their last fill is a buy.
    const auto last_fill_side = [&](const std::string& symbol) {
        std::string side;
        for (const auto& x : d.decisions())
            if (x["event"] == "fill" && x["symbol"] == symbol) side = x["side"];
        return side;
    };
    REQUIRE(wait_until(
        [&] { return last_fill_side("AAAUSDT") == "buy" && last_fill_side("BBBUSDT") == "buy"; },
        20s));
    std::ofstream(trigger) << "full";
    REQUIRE(d.wait_for_text("journal FAILED", 10s));
    CHECK(d.err().find("No space left on device") != std::string::npos);
    // An open position closes by its stop-loss or take-profit after the failure, and no new
    // entry happens: entries are refused with the reason.
    std::size_t failed_at = 0;
    const auto protected_exit = [&] {
        const auto ds = d.decisions();
        for (std::size_t i = 0; i < ds.size(); ++i) {
            if (ds[i]["event"] == "error" &&
                ds[i].value("message", std::string()).starts_with("journal failed")) {
                failed_at = i;
                break;
            }
        }
        if (failed_at == 0) return false;
        for (std::size_t i = failed_at; i < ds.size(); ++i) {
            const auto& x = ds[i];
            if (x["event"] == "fill" && x["side"] == "sell" &&
                (x["reason"] == "stop_loss" || x["reason"] == "take_profit")) {
                return true;
            }
        }
        return false;
    };
    REQUIRE(wait_until(protected_exit, 30s));
    REQUIRE(wait_until(
        [&] {
            return d.err().find("entry refused: the journal cannot record it") != std::string::npos;
        },
        30s));
    const auto ds = d.decisions();
    for (std::size_t i = failed_at; i < ds.size(); ++i) {
        INFO("record " << i << ": " << ds[i].dump());
        CHECK_FALSE((ds[i]["event"] == "fill" && ds[i]["side"] == "buy"));
    }
    d.proc->signal(SIGTERM);
    const auto rc = d.proc->wait(20s);
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    CHECK(d.err().find("journal: cannot") != std::string::npos);  // said again at shutdown
}

TEST_CASE("journal crash: a read-only state directory refuses the start, clearly (P06)") {
    journal_daemon d(config_text(0.004, 6));
    fs::create_directories(d.state);
    d.start(fault_env({"TRADINGD_FAULT_READONLY_DIR=" + d.state.string()}));
    const auto rc = d.proc->wait(20s);
    INFO("stderr:\n" << d.err());
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(d.err().find("cannot lock state directory '" + d.state.string()) != std::string::npos);
    CHECK(d.err().find("Read-only file system") != std::string::npos);
}

TEST_CASE("journal crash: a second daemon on the same state directory is refused (P07)") {
    journal_daemon d(config_text(0.004, 6));
    d.start();
    REQUIRE(d.wait_for_text("running:", 20s));
    child_process second({TRADINGD_BINARY, "--config", (d.dir.path() / "tradingd.toml").string()},
                         d.dir.path() / "out-second", d.dir.path() / "err-second");
    const auto rc = second.wait(20s);
    const std::string err = read_file(d.dir.path() / "err-second");
    INFO(err);
    REQUIRE(rc.has_value());
    CHECK(*rc == 1);
    CHECK(err.find("is in use by another tradingd: pid " + std::to_string(d.proc->pid())) !=
          std::string::npos);
    d.proc->signal(SIGTERM);
    CHECK(d.proc->wait(20s) == std::optional<int>(0));
}

TEST_CASE(
    "journal crash: a truncated journal restores up to its last whole record; a flipped "
    "bit in the middle refuses the start naming file and offset (P04)") {
    journal_daemon d(config_text(0.004, 6));
    d.start();
    REQUIRE(d.wait_for_text("running:", 20s));
    std::this_thread::sleep_for(1s);
    d.proc->signal(SIGTERM);
    REQUIRE(d.proc->wait(20s) == std::optional<int>(0));

    fs::path segment;
    for (const auto& e : fs::directory_iterator(d.state / "journal"))
        if (e.path().extension() == ".log") segment = std::max(segment, e.path());
    const std::string data = read_file(segment);
    std::vector<std::uint64_t> starts;  // of each record
    for (std::uint64_t off = 0; off + 16 <= data.size();) {
        std::uint32_t len = 0;
        std::memcpy(&len, data.data() + off, 4);
        if (len == 0) break;
        starts.push_back(off);
        off += 16 + len;
    }
    REQUIRE(starts.size() > 20);

    SUBCASE("truncated inside the last record (power loss during a write)") {
        fs::resize_file(segment, starts.back() + 9);
        const json journal = d.journal_state();
        std::size_t mark = 0;
        (void)d.decisions(&mark);
        d.start();
        INFO("stderr:\n" << d.err());
        REQUIRE(d.wait_for_text("running:", 20s));
        CHECK(d.err().find("dropped a torn last record") != std::string::npos);
        CHECK(d.err().find("at offset " + std::to_string(starts.back())) != std::string::npos);
        const auto restored = restored_states(d, mark);
        for (const auto& [symbol, want] : journal["runners"].items())
            CHECK(restored.at(symbol) == want);
        d.proc->signal(SIGTERM);
        CHECK(d.proc->wait(20s) == std::optional<int>(0));
    }
    SUBCASE("a flipped bit in a record in the middle") {
        const std::uint64_t at = starts[starts.size() / 2] + 20;
        {
            std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(at));
            f.put(static_cast<char>(data[at] ^ 0x10));
        }
        const auto [tool_rc, tool_text] = d.journal_tool();
        CHECK(tool_rc == 1);
        CHECK(tool_text.find("corrupt at offset " + std::to_string(starts[starts.size() / 2])) !=
              std::string::npos);
        d.start();
        const auto rc = d.proc->wait(20s);
        INFO("stderr:\n" << d.err());
        REQUIRE(rc.has_value());
        CHECK(*rc == 1);
        CHECK(d.err().find(segment.string() + " is corrupt at offset " +
                           std::to_string(starts[starts.size() / 2])) != std::string::npos);
        CHECK(d.err().find("refusing to start") != std::string::npos);
    }
}
