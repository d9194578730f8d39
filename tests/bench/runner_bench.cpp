// Per-candle and per-quote cost of a runner, against a naive baseline measured in the same run.
//
//   build/tests/bench/runner_bench            all figures + ratios
//
// full step    runner_core::on_event(closed candle): window push, indicators, one Lua call of
//              lua-strategies/sma_cross.lua (sandboxed: hook, allocator cap), state machine.
// unhardened   the same without the count hook and pattern guards (sandbox_limits::hardening):
//              the sandbox's overhead, printed as a percentage.
// naive        the same script in a plain Lua VM, with indicators recomputed over the window on
//              every call and fresh market/ind tables built for every call.
// quote        runner_core::on_event(quote) while in position: the auto-exit check path.
// memory       resident set per runner with a 1000-candle window (50 runners, RSS delta / 50).
#include <benchmark/benchmark.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/feed/kline_file.hpp>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

using namespace tradingd;
namespace fs = std::filesystem;

namespace {

const std::vector<candle>& real_candles() {
    static const std::vector<candle> c =
        feed::read_kline_file(fs::path(TRADINGD_SHARED_DIR) / "binance-data" / "BTC_USDT-5m.json");
    return c;
}

market_event closed(const candle& c, std::int64_t shift) {
    market_event e;
    e.kind = event_kind::candle_closed;
    e.bar = c;
    e.bar.open_time += shift;
    e.bar.close_time += shift;
    e.ts = e.bar.close_time;
    e.bid = c.close * 0.9999;
    e.ask = c.close * 1.0001;
    return e;
}

class null_decisions final : public engine::decision_sink {
public:
    void write(const engine::decision_record&) noexcept override { ++n; }
    std::uint64_t n = 0;
};

std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("bench",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

config::symbol_config sma_cross_symbol(std::size_t window) {
    config::symbol_config s;
    s.symbol = "BTCUSDT";
    s.strategy = "sma_cross";
    s.strategy_path = fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies" / "sma_cross.lua";
    s.interval = "5m";
    s.interval_ms = 300'000;
    s.window = window;
    s.quantity = 0.01;
    s.params = {{"fast", std::int64_t{10}}, {"slow", std::int64_t{30}}};
    return s;
}

// ---- full runner step -------------------------------------------------------------------------

void run_full_step(benchmark::State& state, const strategy::lua::sandbox_limits* limits) {
    null_decisions sink;
    engine::runner_core r(sma_cross_symbol(1000), config::sandbox_config{}, config::paper_config{},
                          sink, quiet_logger(), limits);
    if (r.load_error()) {
        state.SkipWithError(r.load_error()->c_str());
        return;
    }
    const auto& cs = real_candles();
    for (std::size_t i = 0; i < 1000; ++i)
        r.on_event(closed(cs[i], 0));  // warm: indicators exist
    std::size_t i = 1000;
    std::int64_t shift = 0;
    for (auto _ : state) {
        if (i == cs.size()) {
            i = 0;
            shift += 1'000'000'000'000;  // keep time moving forward across laps
        }
        r.on_event(closed(cs[i++], shift));
    }
    state.counters["trades"] = static_cast<double>(r.summary().trades);
}

void BM_full_step(benchmark::State& state) {
    run_full_step(state, nullptr);
}
BENCHMARK(BM_full_step);

// The same step without the sandbox's CPU defences (no count hook, no pattern guards): the
// difference to BM_full_step is what the hardening costs. Never a configuration for real use.
void BM_full_step_unhardened(benchmark::State& state) {
    strategy::lua::sandbox_limits limits = engine::to_limits(config::sandbox_config{});
    limits.hardening = false;
    run_full_step(state, &limits);
}
BENCHMARK(BM_full_step_unhardened);

// The same step with a script that returns nil without reading anything: the fixed cost of a
// strategy call (runner step, window, protected call, result check).
void BM_step_empty_script(benchmark::State& state) {
    null_decisions sink;
    const fs::path dir =
        fs::temp_directory_path() / ("tradingd-bench-e-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "empty.lua") << "function detect_opportunity() return nil end\n"
                                        "function filter_commitment() return nil end\n"
                                        "function manage_position() return nil end\n";
    auto sym = sma_cross_symbol(1000);
    sym.strategy_path = dir / "empty.lua";
    engine::runner_core r(sym, config::sandbox_config{}, config::paper_config{}, sink,
                          quiet_logger());
    const auto& cs = real_candles();
    std::size_t i = 0;
    std::int64_t shift = 0;
    for (auto _ : state) {
        if (i == cs.size()) {
            i = 0;
            shift += 1'000'000'000'000;
        }
        r.on_event(closed(cs[i++], shift));
    }
    fs::remove_all(dir);
}
BENCHMARK(BM_step_empty_script);

// ---- naive baseline ---------------------------------------------------------------------------

struct naive_vm {
    lua_State* L = luaL_newstate();
    std::deque<candle> window;  // re-scanned on every indicator call
    std::size_t capacity = 1000;
    int phase = 0;  // 0 idle, 1 analyzing, 2 in position
    // The open position (long: sma_cross only enters long), exited on its stop or target as the
    // runner's auto-exit does, so both make the same decisions (checked by same_decisions()).
    double entry = 0, stop = 0, target = 0;
    std::int64_t opened_at = 0;
    std::int64_t bars_held = 0;
    std::uint64_t trades = 0;

    naive_vm() {
        luaL_openlibs(L);
        lua_newtable(L);
        lua_pushinteger(L, 10);
        lua_setfield(L, -2, "fast");
        lua_pushinteger(L, 30);
        lua_setfield(L, -2, "slow");
        lua_setglobal(L, "params");
        luaL_dostring(L, "log = { info = function() end, warn = function() end }");
        const auto path = fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies" / "sma_cross.lua";
        if (luaL_dofile(L, path.c_str()) != LUA_OK) throw std::runtime_error(lua_tostring(L, -1));
        lua_newtable(L);
        lua_setglobal(L, "ctx_table");
    }
    ~naive_vm() { lua_close(L); }

    static naive_vm* self(lua_State* L) {
        return static_cast<naive_vm*>(lua_touserdata(L, lua_upvalueindex(1)));
    }
    // What a naive bot does on every call: copy the window's closes into a fresh array, compute the
    // indicator's whole series over it (as `talib.SMA(closes)[-1]` would) and keep the last value.
    static int sma(lua_State* L) {
        auto* vm = self(L);
        const auto n = static_cast<std::size_t>(luaL_checkinteger(L, 1));
        std::vector<double> closes;
        for (const auto& c : vm->window)
            closes.push_back(c.close);
        if (closes.size() < n) return 0;
        std::vector<double> series(closes.size(), 0.0);  // sliding sum, O(window) like TA-Lib
        double sum = 0;
        for (std::size_t i = 0; i < closes.size(); ++i) {
            sum += closes[i];
            if (i >= n) sum -= closes[i - n];
            if (i + 1 >= n) series[i] = sum / static_cast<double>(n);
        }
        lua_pushnumber(L, series.back());
        return 1;
    }
    static int lowest(lua_State* L) {
        auto* vm = self(L);
        const auto n = static_cast<std::size_t>(luaL_checkinteger(L, 1));
        std::vector<double> lows;
        for (const auto& c : vm->window)
            lows.push_back(c.low);
        if (lows.size() < n) return 0;
        std::vector<double> series(lows.size(), 0.0);
        for (std::size_t i = n - 1; i < lows.size(); ++i) {
            double lo = lows[i];
            for (std::size_t j = i + 1 - n; j <= i; ++j)
                lo = std::min(lo, lows[j]);
            series[i] = lo;
        }
        lua_pushnumber(L, series.back());
        return 1;
    }
    void push_market(const market_event& e) {
        lua_createtable(L, 0, 13);
        lua_pushstring(L, "BTCUSDT");
        lua_setfield(L, -2, "symbol");
        lua_pushstring(L, "5m");
        lua_setfield(L, -2, "interval");
        const std::pair<const char*, double> fields[] = {
            {"open", e.bar.open},     {"high", e.bar.high},
            {"low", e.bar.low},       {"close", e.bar.close},
            {"volume", e.bar.volume}, {"bid", e.bid},
            {"ask", e.ask},           {"mid_price", (e.bid + e.ask) / 2}};
        for (const auto& [k, v] : fields) {
            lua_pushnumber(L, v);
            lua_setfield(L, -2, k);
        }
        lua_pushinteger(L, e.bar.open_time);
        lua_setfield(L, -2, "open_time");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "closed");
    }
    void push_ind() {
        lua_createtable(L, 0, 2);
        lua_pushlightuserdata(L, this);
        lua_pushcclosure(L, &naive_vm::sma, 1);
        lua_setfield(L, -2, "sma");
        lua_pushlightuserdata(L, this);
        lua_pushcclosure(L, &naive_vm::lowest, 1);
        lua_setfield(L, -2, "lowest");
    }
    void push_position(const market_event& e) {
        lua_createtable(L, 0, 8);
        lua_pushstring(L, "long");
        lua_setfield(L, -2, "side");
        const std::pair<const char*, double> fields[] = {
            {"quantity", 0.01},
            {"entry_price", entry},
            {"stop_loss", stop},
            {"take_profit", target},
            {"unrealized_pnl", (e.bid - entry) * 0.01}};
        for (const auto& [k, v] : fields) {
            lua_pushnumber(L, v);
            lua_setfield(L, -2, k);
        }
        lua_pushinteger(L, opened_at);
        lua_setfield(L, -2, "opened_at");
        lua_pushinteger(L, bars_held);
        lua_setfield(L, -2, "bars_held");
    }
    double number_field(const char* name) {
        lua_getfield(L, -1, name);
        const double v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        return v;
    }
    void act(const market_event& e) {
        lua_getfield(L, -1, "action");
        const std::string a = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
        lua_pop(L, 1);
        if (phase == 0) {
            phase = 1;
        } else if (phase == 1) {
            phase = a == "enter_long" ? 2 : 0;
            if (phase == 2) {
                entry = e.ask;
                stop = number_field("stop_loss");
                target = number_field("take_profit");
                opened_at = e.bar.open_time;
                bars_held = 0;
            }
        } else if (a == "exit") {
            phase = 0;
            ++trades;
        } else if (a == "update_stop_loss") {
            stop = number_field("price");
        }
    }
    void step(const market_event& e) {
        window.push_back(e.bar);
        if (window.size() > capacity) window.pop_front();
        if (phase == 2) {
            ++bars_held;
            if (e.bid <= stop || e.bid >= target) {  // auto-exit, as the runner does
                phase = 0;
                ++trades;
            }
        }
        static const char* fns[] = {"detect_opportunity", "filter_commitment", "manage_position"};
        lua_getglobal(L, fns[phase]);
        push_market(e);
        lua_getglobal(L, "ctx_table");
        push_ind();
        int nargs = 3;
        if (phase == 2) {
            push_position(e);
            nargs = 4;
        }
        if (lua_pcall(L, nargs, 1, 0) != LUA_OK) throw std::runtime_error(lua_tostring(L, -1));
        if (lua_istable(L, -1)) act(e);
        lua_pop(L, 1);
    }
};

// The naive baseline must do the work the runner does: both over the same candles, the same
// trades. Returns {runner trades, naive trades}.
std::pair<std::uint64_t, std::uint64_t> same_decisions(std::size_t steps) {
    null_decisions sink;
    engine::runner_core r(sma_cross_symbol(1000), config::sandbox_config{}, config::paper_config{},
                          sink, quiet_logger());
    naive_vm vm;
    const auto& cs = real_candles();
    for (std::size_t i = 0; i < 1000 + steps && i < cs.size(); ++i) {
        r.on_event(closed(cs[i], 0));
        vm.step(closed(cs[i], 0));
    }
    return {r.summary().trades, vm.trades};
}

void BM_naive_step(benchmark::State& state) {
    naive_vm vm;
    const auto& cs = real_candles();
    for (std::size_t i = 0; i < 1000; ++i)
        vm.step(closed(cs[i], 0));
    std::size_t i = 1000;
    for (auto _ : state) {
        if (i == cs.size()) i = 0;
        vm.step(closed(cs[i++], 0));
    }
}
BENCHMARK(BM_naive_step);

// ---- bare lua_pcall, for scale -----------------------------------------------------------------

void BM_bare_pcall(benchmark::State& state) {
    lua_State* L = luaL_newstate();
    luaL_dostring(L, "function f() return nil end");
    for (auto _ : state) {
        lua_getglobal(L, "f");
        lua_pcall(L, 0, 1, 0);
        lua_pop(L, 1);
    }
    lua_close(L);
}
BENCHMARK(BM_bare_pcall);

// ---- quote path ---------------------------------------------------------------------------------

void BM_quote_auto_exit_check(benchmark::State& state) {
    null_decisions sink;
    fs::path dir = fs::temp_directory_path() / ("tradingd-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "hold.lua") << R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.5, take_profit = m.ask * 2 }
end
function manage_position(m, ctx, ind, p) return nil end
)";
    auto sym = sma_cross_symbol(1000);
    sym.strategy_path = dir / "hold.lua";
    engine::runner_core r(sym, config::sandbox_config{}, config::paper_config{}, sink,
                          quiet_logger());
    const auto& cs = real_candles();
    r.on_event(closed(cs[0], 0));
    r.on_event(closed(cs[1], 0));
    if (r.machine().current() != strategy::phase::in_position) {
        state.SkipWithError("did not enter");
        return;
    }
    market_event q;
    q.kind = event_kind::quote;
    double px = cs[1].close;
    std::int64_t ts = cs[1].close_time;
    for (auto _ : state) {
        q.ts = ++ts;
        px = px * (1 + ((ts & 1) ? 1e-5 : -1e-5));
        q.bid = px;
        q.ask = px + 0.01;
        r.on_event(q);
    }
    benchmark::DoNotOptimize(r.summary().auto_exits);
    fs::remove_all(dir);
}
BENCHMARK(BM_quote_auto_exit_check);

// ---- memory per runner -------------------------------------------------------------------------

std::size_t rss_bytes() {
    std::ifstream in("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    in >> pages >> resident;
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

void BM_memory_per_runner(benchmark::State& state) {
    const auto& cs = real_candles();
    for (auto _ : state) {
        null_decisions sink;
        constexpr int n = 50;
        const std::size_t before = rss_bytes();
        std::vector<std::unique_ptr<engine::runner_core>> runners;
        for (int k = 0; k < n; ++k) {
            runners.push_back(std::make_unique<engine::runner_core>(
                sma_cross_symbol(1000), config::sandbox_config{}, config::paper_config{}, sink,
                quiet_logger()));
            for (std::size_t i = 0; i < 1200; ++i)
                runners.back()->on_event(closed(cs[i], 0));
        }
        const std::size_t after = rss_bytes();
        state.counters["rss_per_runner_KiB"] = static_cast<double>(after - before) / n / 1024.0;
        state.counters["lua_heap_per_runner_KiB"] =
            static_cast<double>(runners.front()->strategy()->stats().memory_used) / 1024.0;
    }
}
BENCHMARK(BM_memory_per_runner)->Iterations(1);

// Collects per-benchmark ns/iteration so main can print ratios measured in this run.
class ratio_reporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.iterations <= 0 || r.run_type != Run::RT_Iteration) continue;
            // First repetition wins for RSS (later ones reuse freed memory).
            ns.emplace(r.benchmark_name(), r.GetAdjustedRealTime());  // ns (default unit)
            for (const auto& [name, c] : r.counters)
                counters.emplace(name, c.value);
        }
    }
    std::map<std::string, double> ns;
    std::map<std::string, double> counters;
};

}  // namespace

// The sandbox's cost measured as paired, interleaved blocks: the hardened and the unhardened
// runner process the same candles in alternating blocks, so load changes on a shared machine hit
// both sides alike. Returns the median over the rounds of (hardened / unhardened - 1).
double interleaved_sandbox_overhead() {
    using clock = std::chrono::steady_clock;
    null_decisions sink_a, sink_b;
    strategy::lua::sandbox_limits soft = engine::to_limits(config::sandbox_config{});
    soft.hardening = false;
    engine::runner_core hard_runner(sma_cross_symbol(1000), config::sandbox_config{},
                                    config::paper_config{}, sink_a, quiet_logger());
    engine::runner_core soft_runner(sma_cross_symbol(1000), config::sandbox_config{},
                                    config::paper_config{}, sink_b, quiet_logger(), &soft);
    const auto& cs = real_candles();
    for (std::size_t i = 0; i < 1000; ++i) {
        hard_runner.on_event(closed(cs[i], 0));
        soft_runner.on_event(closed(cs[i], 0));
    }
    constexpr std::size_t block = 20'000;
    std::vector<double> ratios;
    std::size_t next = 1000;
    std::int64_t shift = 0;
    const auto run_block = [&](engine::runner_core& r, std::size_t from, std::int64_t sh) {
        const auto t0 = clock::now();
        for (std::size_t k = 0; k < block; ++k)
            r.on_event(closed(cs[from + k], sh));
        return std::chrono::duration<double>(clock::now() - t0).count();
    };
    for (int round = 0; round < 31; ++round) {
        if (next + block > cs.size()) {
            next = 1000;
            shift += 1'000'000'000'000;
        }
        // Alternate which side goes first, so neither always runs on a warmer cache.
        double hard = 0, soft_s = 0;
        if (round % 2 == 0) {
            hard = run_block(hard_runner, next, shift);
            soft_s = run_block(soft_runner, next, shift);
        } else {
            soft_s = run_block(soft_runner, next, shift);
            hard = run_block(hard_runner, next, shift);
        }
        ratios.push_back(hard / soft_s - 1.0);
        next += block;
    }
    std::sort(ratios.begin(), ratios.end());
    return ratios[ratios.size() / 2];
}

// `runner_bench --profile-steps N`: only N full steps after the warm-up, for callgrind
// (valgrind --tool=callgrind build/tests/bench/runner_bench --profile-steps 20000), whose
// instruction counts are deterministic where timings on this shared machine are not.
int profile_full_steps(std::size_t steps, bool hardened) {
    null_decisions sink;
    strategy::lua::sandbox_limits limits = engine::to_limits(config::sandbox_config{});
    limits.hardening = hardened;
    engine::runner_core r(sma_cross_symbol(1000), config::sandbox_config{}, config::paper_config{},
                          sink, quiet_logger(), &limits);
    const auto& cs = real_candles();
    for (std::size_t i = 0; i < 1000; ++i)
        r.on_event(closed(cs[i], 0));
    for (std::size_t k = 0; k < steps; ++k)
        r.on_event(closed(cs[1000 + k % (cs.size() - 1000)], 0));
    std::printf("%zu steps, %llu trades, %llu decision records\n", steps,
                static_cast<unsigned long long>(r.summary().trades),
                static_cast<unsigned long long>(sink.n));
    return 0;
}

// The speed-up measured the same way: the runner and the naive baseline run in alternating
// blocks, the runner 20,000 candles (~6 ms) and the naive baseline 2,000 (~15 ms), so that a
// pause of the shared machine hits both alike; each walks on through the real candles (wrapping
// around with time shifted forward). Returns the median over the rounds of the ratio of their
// per-candle times.
double interleaved_speedup() {
    using clock = std::chrono::steady_clock;
    null_decisions sink;
    engine::runner_core runner(sma_cross_symbol(1000), config::sandbox_config{},
                               config::paper_config{}, sink, quiet_logger());
    naive_vm naive;
    const auto& cs = real_candles();
    for (std::size_t i = 0; i < 1000; ++i) {
        runner.on_event(closed(cs[i], 0));
        naive.step(closed(cs[i], 0));
    }
    struct cursor {
        std::size_t next = 1000;
        std::int64_t shift = 0;
    };
    const auto per_candle_ns = [&](cursor& c, std::size_t n, auto&& step_one) {
        const auto t0 = clock::now();
        for (std::size_t k = 0; k < n; ++k) {
            if (c.next == cs.size()) {
                c.next = 0;
                c.shift += 1'000'000'000'000;
            }
            step_one(closed(cs[c.next++], c.shift));
        }
        return std::chrono::duration<double, std::nano>(clock::now() - t0).count() /
               static_cast<double>(n);
    };
    cursor rc, nc;
    std::vector<double> ratios, runner_ns, naive_ns;
    for (int round = 0; round < 21; ++round) {
        const auto run_runner = [&] {
            return per_candle_ns(rc, 20'000, [&](const market_event& e) { runner.on_event(e); });
        };
        const auto run_naive = [&] {
            return per_candle_ns(nc, 2'000, [&](const market_event& e) { naive.step(e); });
        };
        double r = 0, n = 0;
        if (round % 2 == 0) {
            r = run_runner();
            n = run_naive();
        } else {
            n = run_naive();
            r = run_runner();
        }
        ratios.push_back(n / r);
        runner_ns.push_back(r);
        naive_ns.push_back(n);
    }
    const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::printf("  interleaved blocks, median         : runner %.1f ns, naive %.1f ns per candle\n",
                median(runner_ns), median(naive_ns));
    return median(ratios);
}

int main(int argc, char** argv) {
    if (argc == 3 && (std::string_view(argv[1]) == "--profile-steps" ||
                      std::string_view(argv[1]) == "--profile-steps-unhardened"))
        return profile_full_steps(std::stoul(argv[2]),
                                  std::string_view(argv[1]) == "--profile-steps");
    benchmark::Initialize(&argc, argv);
    ratio_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    const auto get = [&](const char* n) {
        auto it = reporter.ns.find(n);
        return it == reporter.ns.end() ? 0.0 : it->second;
    };
    const double full = get("BM_full_step"), naive = get("BM_naive_step");
    const double quote_ns = get("BM_quote_auto_exit_check"), pcall = get("BM_bare_pcall");
    std::printf("\nsummary (this run):\n");
    if (full > 0)
        std::printf("  full runner step per closed candle : %8.1f ns (target <= 1000 ns)\n", full);
    if (const double bare = get("BM_full_step_unhardened"); full > 0 && bare > 0) {
        std::printf("  same step without hardening        : %8.1f ns\n", bare);
        std::printf("  sandbox overhead, separate runs    : %8.1f%%\n",
                    (full - bare) / bare * 100.0);
        std::printf(
            "  sandbox overhead, interleaved      : %8.1f%% (median of 31 paired blocks; "
            "target <= 15%%)\n",
            interleaved_sandbox_overhead() * 100.0);
    }
    if (naive > 0) std::printf("  naive baseline per closed candle   : %8.1f ns\n", naive);
    if (full > 0 && naive > 0) {
        std::printf("  speed-up over naive baseline       : %8.1fx (separate runs)\n",
                    naive / full);
        std::printf(
            "  speed-up, interleaved              : %8.1fx (median of 21 paired blocks; "
            "target >= 20x)\n",
            interleaved_speedup());
        const auto [runner_trades, naive_trades] = same_decisions(20'000);
        std::printf(
            "  trades over 21,000 candles         : runner %llu, naive %llu%s\n",
            static_cast<unsigned long long>(runner_trades),
            static_cast<unsigned long long>(naive_trades),
            runner_trades == naive_trades ? " (same work)" : " (DIFFERENT: fix the baseline)");
    }
    if (quote_ns > 0)
        std::printf("  quote auto-exit path               : %8.1f ns (target <= 25 ns)\n",
                    quote_ns);
    if (pcall > 0) std::printf("  bare lua_pcall                     : %8.1f ns\n", pcall);
    if (const double e = get("BM_step_empty_script"); e > 0)
        std::printf("  step with an empty script          : %8.1f ns\n", e);
    if (auto it = reporter.counters.find("rss_per_runner_KiB"); it != reporter.counters.end())
        std::printf(
            "  resident memory per runner         : %8.1f KiB (1000-candle window, sma_cross; "
            "target <= 2048 KiB)\n",
            it->second);
    if (auto it = reporter.counters.find("lua_heap_per_runner_KiB"); it != reporter.counters.end())
        std::printf("  of which the Lua VM heap           : %8.1f KiB\n", it->second);
    benchmark::Shutdown();
    return 0;
}
