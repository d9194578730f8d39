// Hot reload: latency from a script file being closed to the first event handled by the new
// version, and the pause a reload causes in event handling, with 50 runners sharing one script.
//
//   build/tests/bench/reload_bench          (standalone main; runs ~20 s, prints the figures)
//
// Set-up: 50 symbol_runners, each its own runner_core running the same bench.lua from a temp
// directory; a feeder thread pushes one closed candle to every runner every 1 ms (so "first event
// handled" has ~1 ms resolution); a script_watcher on the directory driven by a poll loop like the
// daemon's event loop; a script_reloader tracking the 50 runners. The script returns an action on
// every candle (detect_opportunity an opportunity, filter_commitment cancel_analysis), so every
// closed candle produces a "call" decision record carrying the running version's hash.
//
// Each round rewrites bench.lua with new content, records when close() returned, and waits until
// every runner has handled an event with the new hash. A per-runner decision sink timestamps:
//   swap         the "reloaded" record (written by install() on the runner's thread)
//   first event  the first "call" record with the new hash
//   handled      every "call" record, against the feeder's push time of that candle
//
// Phases: watcher rounds with the daemon's default debounce (100 ms) and with debounce 0 (the
// engine's own part: read, hash, 50 prepare() calls, post, install); then direct rounds that call
// prepare() on this thread and post a command timing core.install() on each runner's thread.
#include <poll.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/reload/script_reloader.hpp>
#include <tradingd/reload/script_watcher.hpp>
#include <tradingd/strategy/lua/content_hash.hpp>

using namespace tradingd;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int runner_count = 50;
constexpr int watcher_rounds = 20;  // per debounce setting
constexpr int direct_rounds = 10;
constexpr int version_count = 1 + 2 * watcher_rounds + direct_rounds;  // version 0 is the first
constexpr std::size_t max_ticks = 60'000;  // 60 s of 1 ms ticks: more than the run needs
constexpr timestamp_ms base_time = 1704067200000;
constexpr timestamp_ms interval_ms = 60'000;
constexpr std::int64_t unset = std::numeric_limits<std::int64_t>::min();

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               clock_type::now().time_since_epoch())
        .count();
}

std::string script_source(int version) {
    // Only the version constant differs between rounds: a different content hash each time.
    return "-- reload bench: acts on every closed candle\n"
           "local version = " +
           std::to_string(version) +
           "\n"
           "function on_init() end\n"
           "function detect_opportunity(m, ctx, ind)\n"
           "  return { reason = \"v\" .. version, seen_close = m.close }\n"
           "end\n"
           "function filter_commitment(m, ctx, ind)\n"
           "  return { action = \"cancel_analysis\", reason = \"bench\" }\n"
           "end\n"
           "function manage_position(m, ctx, ind, p) return nil end\n";
}

/// The decision sink of one runner: written only by that runner's thread; the main thread reads
/// `latest_version` while running and everything else after the runner stopped.
class probe final : public engine::decision_sink {
public:
    explicit probe(const std::vector<std::string>& hashes)
        : pushed_ns(max_ticks, unset),
          handled_ns(max_ticks, unset),
          swap_ns(version_count, unset),
          first_new_ns(version_count, unset),
          install_ns(version_count, unset),
          hashes_(hashes) {}

    void write(const engine::decision_record& r) noexcept override {
        const std::string_view ev = r.event;
        if (ev == "call") {
            const std::int64_t t = now_ns();
            const auto seq = static_cast<std::size_t>((r.ts - base_time) / interval_ms);
            if (seq < max_ticks && handled_ns[seq] == unset) handled_ns[seq] = t;
            if (r.script_hash != running_) {
                running_ = r.script_hash;
                if (const int v = version_of(r.script_hash); v >= 0) {
                    first_new_ns[static_cast<std::size_t>(v)] = t;
                    latest_version.store(v, std::memory_order_release);
                }
            }
        } else if (ev == "reloaded") {
            if (const int v = version_of(r.script_hash); v >= 0)
                swap_ns[static_cast<std::size_t>(v)] = now_ns();
        } else if (ev == "reload_failed" || ev == "error" || ev == "load_error" ||
                   ev == "suspended") {
            failures.fetch_add(1, std::memory_order_relaxed);
        }
    }

    std::atomic<int> latest_version{-1};
    std::atomic<int> failures{0};
    std::vector<std::int64_t> pushed_ns;   ///< feeder: when candle `seq` was pushed
    std::vector<std::int64_t> handled_ns;  ///< runner: when its call record was written
    std::vector<std::int64_t> swap_ns;     ///< per version: the "reloaded" record
    std::vector<std::int64_t> first_new_ns;
    std::vector<std::int64_t> install_ns;  ///< direct rounds: duration of core.install()

private:
    int version_of(std::string_view hash) const {
        for (std::size_t v = 0; v < hashes_.size(); ++v)
            if (hashes_[v] == hash) return static_cast<int>(v);
        return -1;
    }
    const std::vector<std::string>& hashes_;
    std::string running_;
};

std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("bench",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

config::symbol_config bench_symbol(int i, const fs::path& script) {
    config::symbol_config s;
    char name[16];
    std::snprintf(name, sizeof name, "R%02dUSDT", i);
    s.symbol = name;
    s.strategy = "bench";
    s.strategy_path = script;
    s.interval = "1m";
    s.interval_ms = interval_ms;
    s.window = 100;
    s.quantity = 0.01;
    return s;
}

market_event closed_candle(std::size_t seq) {
    market_event e;
    e.kind = event_kind::candle_closed;
    e.bar.open_time = base_time + static_cast<timestamp_ms>(seq) * interval_ms;
    e.bar.close_time = e.bar.open_time + interval_ms - 1;
    e.bar.close = 100.0 + static_cast<double>(seq % 17) * 0.01;
    e.bar.open = e.bar.close;
    e.bar.high = e.bar.close + 0.05;
    e.bar.low = e.bar.close - 0.05;
    e.bar.volume = 1;
    e.ts = e.bar.close_time;
    e.bid = e.bar.close - 0.01;
    e.ask = e.bar.close + 0.01;
    return e;
}

/// Pushes candle `seq` to every runner every 1 ms, recording each push time.
void feed(std::vector<std::unique_ptr<engine::symbol_runner>>& runners,
          std::vector<std::unique_ptr<probe>>& probes, const std::atomic<bool>& stop) {
    auto next = clock_type::now();
    for (std::size_t seq = 0; seq < max_ticks && !stop.load(std::memory_order_acquire); ++seq) {
        const market_event e = closed_candle(seq);
        for (std::size_t r = 0; r < runners.size(); ++r) {
            probes[r]->pushed_ns[seq] = now_ns();
            runners[r]->push(e);
        }
        next += std::chrono::milliseconds(1);
        const auto now = clock_type::now();
        if (now > next + std::chrono::milliseconds(5)) next = now;  // late: no catch-up burst
        std::this_thread::sleep_until(next);
    }
}

/// The daemon's event loop, reduced to the watcher: poll its fd until the next deadline, drain,
/// hand due changes to the reloader. Wakes at least every 20 ms to see `stop`.
void watch(reload::script_watcher& watcher, reload::script_reloader& reloader,
           const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_acquire)) {
        int timeout_ms = 20;
        if (auto d = watcher.next_deadline()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(*d - clock_type::now());
            timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 20));
        }
        pollfd p{watcher.fd(), POLLIN, 0};
        const int n = ::poll(&p, 1, timeout_ms);
        const auto now = clock_type::now();
        if (n > 0 && (p.revents & POLLIN) != 0) watcher.drain(now);
        for (const auto& change : watcher.take_due(now))
            reloader.on_change(change);
    }
}

void write_script(const fs::path& path, int version) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << script_source(version);
    out.close();
}

/// Waits until every runner handled an event of `version`; false after 5 s.
bool wait_for_version(const std::vector<std::unique_ptr<probe>>& probes, int version) {
    const auto end = clock_type::now() + std::chrono::seconds(5);
    while (clock_type::now() < end) {
        const bool all = std::all_of(probes.begin(), probes.end(), [&](const auto& p) {
            return p->latest_version.load(std::memory_order_acquire) >= version;
        });
        if (all) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

struct round_info {
    int version = 0;
    std::int64_t start_ns = 0;  ///< file closed (watcher rounds) / first prepare (direct)
    std::int64_t end_ns = 0;    ///< the last runner's first new event
};

struct stats {
    std::size_t n = 0;
    double p50 = 0, p99 = 0, max = 0;
};

stats summarize(std::vector<double> v) {
    stats s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    const auto rank = [&](double q) {
        const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
        return v[std::min(i, v.size() - 1)];
    };
    s.p50 = rank(0.50);
    s.p99 = rank(0.99);
    s.max = v.back();
    return s;
}

void print(const char* label, const stats& s, const char* unit) {
    std::printf("  %-46s p50 %8.3f  p99 %8.3f  max %8.3f %s  (n=%zu)\n", label, s.p50, s.p99, s.max,
                unit, s.n);
}

constexpr double ns_per_ms = 1e6;

/// Watcher-driven rounds: returns the rounds; latency figures are read from the probes later.
std::vector<round_info> run_watcher_rounds(const fs::path& dir, const fs::path& script,
                                           std::chrono::milliseconds debounce, int first_version,
                                           reload::script_reloader& reloader,
                                           const std::vector<std::unique_ptr<probe>>& probes,
                                           int& missed) {
    reload::script_watcher watcher(dir, debounce);
    std::atomic<bool> stop{false};
    std::thread loop([&] { watch(watcher, reloader, stop); });
    std::vector<round_info> rounds;
    for (int k = 0; k < watcher_rounds; ++k) {
        round_info r;
        r.version = first_version + k;
        write_script(script, r.version);
        r.start_ns = now_ns();
        if (!wait_for_version(probes, r.version)) ++missed;
        r.end_ns = now_ns();
        rounds.push_back(r);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));  // steady state between
    }
    stop.store(true, std::memory_order_release);
    loop.join();
    return rounds;
}

/// Direct rounds: prepare() here, then a posted command timing core.install() on each runner.
std::vector<round_info> run_direct_rounds(
    const fs::path& script, int first_version,
    std::vector<std::unique_ptr<engine::symbol_runner>>& runners,
    std::vector<std::unique_ptr<probe>>& probes, std::vector<double>& prepare_ms, int& missed) {
    std::vector<round_info> rounds;
    for (int k = 0; k < direct_rounds; ++k) {
        round_info r;
        r.version = first_version + k;
        const std::string source = script_source(r.version);
        r.start_ns = now_ns();
        for (int i = 0; i < runner_count; ++i) {
            const auto t0 = now_ns();
            auto prepared = std::make_shared<engine::prepared_strategy>(
                runners[static_cast<std::size_t>(i)]->core().prepare(bench_symbol(i, script),
                                                                     source));
            prepare_ms.push_back(static_cast<double>(now_ns() - t0) / ns_per_ms);
            probe* p = probes[static_cast<std::size_t>(i)].get();
            const auto v = static_cast<std::size_t>(r.version);
            runners[static_cast<std::size_t>(i)]->post([prepared, p, v](engine::runner_core& c) {
                const auto t = now_ns();
                (void)c.install(std::move(*prepared));
                p->install_ns[v] = now_ns() - t;
            });
        }
        if (!wait_for_version(probes, r.version)) ++missed;
        r.end_ns = now_ns();
        rounds.push_back(r);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    return rounds;
}

struct latency_figures {
    std::vector<double> total_ms;        ///< close -> first new event, per runner x round
    std::vector<double> to_swap_ms;      ///< close -> reloaded record
    std::vector<double> swap_to_ms;      ///< reloaded record -> first new event
    std::vector<double> whole_round_ms;  ///< close -> the last runner's first new event
};

latency_figures latencies(const std::vector<round_info>& rounds,
                          const std::vector<std::unique_ptr<probe>>& probes) {
    latency_figures f;
    for (const auto& r : rounds) {
        const auto v = static_cast<std::size_t>(r.version);
        std::int64_t last = unset;
        for (const auto& p : probes) {
            const std::int64_t first = p->first_new_ns[v], swap = p->swap_ns[v];
            if (first == unset || swap == unset) continue;
            f.total_ms.push_back(static_cast<double>(first - r.start_ns) / ns_per_ms);
            f.to_swap_ms.push_back(static_cast<double>(swap - r.start_ns) / ns_per_ms);
            f.swap_to_ms.push_back(static_cast<double>(first - swap) / ns_per_ms);
            last = std::max(last, first);
        }
        if (last != unset)
            f.whole_round_ms.push_back(static_cast<double>(last - r.start_ns) / ns_per_ms);
    }
    return f;
}

/// Event handling delay (push -> call record), split by whether the event was handled inside a
/// reload window [file closed, last runner's first new event + 20 ms] or outside every window.
void delays(const std::vector<round_info>& rounds,
            const std::vector<std::unique_ptr<probe>>& probes, std::vector<double>& inside_ms,
            std::vector<double>& outside_ms, std::int64_t from_ns, std::int64_t to_ns) {
    constexpr std::int64_t margin = 20'000'000;
    for (const auto& p : probes) {
        for (std::size_t seq = 0; seq < max_ticks; ++seq) {
            const std::int64_t pushed = p->pushed_ns[seq], handled = p->handled_ns[seq];
            if (pushed == unset || handled == unset || handled < from_ns || handled > to_ns)
                continue;
            const bool in_window = std::any_of(rounds.begin(), rounds.end(), [&](const auto& r) {
                return handled >= r.start_ns && handled <= r.end_ns + margin;
            });
            (in_window ? inside_ms : outside_ms)
                .push_back(static_cast<double>(handled - pushed) / ns_per_ms);
        }
    }
}

/// Per runner and round, the delay of the first event handled after the swap: it was queued
/// while the runner ran install() (or was waiting to), so this is the pause the swap itself causes
/// to event handling.
std::vector<double> across_swap(const std::vector<round_info>& rounds,
                                const std::vector<std::unique_ptr<probe>>& probes) {
    std::vector<double> out;
    for (const auto& p : probes) {
        // Events are handled in order, so the handled times are increasing up to the first unset.
        const auto end = std::find(p->handled_ns.begin(), p->handled_ns.end(), unset);
        for (const auto& r : rounds) {
            const std::int64_t swap = p->swap_ns[static_cast<std::size_t>(r.version)];
            if (swap == unset) continue;
            const auto it = std::lower_bound(p->handled_ns.begin(), end, swap);
            if (it == end) continue;
            const auto seq = static_cast<std::size_t>(it - p->handled_ns.begin());
            out.push_back(static_cast<double>(*it - p->pushed_ns[seq]) / ns_per_ms);
        }
    }
    return out;
}

void print_latency(const char* title, const latency_figures& f) {
    std::printf("%s\n", title);
    print("close -> first event of the new version", summarize(f.total_ms), "ms");
    print("  close -> swap (reloaded record)", summarize(f.to_swap_ms), "ms");
    print("  swap -> first event of the new version", summarize(f.swap_to_ms), "ms");
    print("close -> all 50 runners on the new version", summarize(f.whole_round_ms), "ms");
}

}  // namespace

int main() {
    const auto started = clock_type::now();
    const fs::path dir =
        fs::temp_directory_path() / ("tradingd-reload-bench-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path script = dir / "bench.lua";
    write_script(script, 0);

    std::vector<std::string> hashes;
    for (int v = 0; v < version_count; ++v)
        hashes.push_back(strategy::lua::content_hash(script_source(v)));

    std::vector<std::unique_ptr<probe>> probes;
    std::vector<std::unique_ptr<engine::symbol_runner>> runners;
    const auto log = quiet_logger();
    for (int i = 0; i < runner_count; ++i) {
        probes.push_back(std::make_unique<probe>(hashes));
        auto core =
            std::make_unique<engine::runner_core>(bench_symbol(i, script), config::sandbox_config{},
                                                  config::paper_config{}, *probes.back(), log);
        if (core->load_error()) {
            std::fprintf(stderr, "cannot load the bench script: %s\n", core->load_error()->c_str());
            return 1;
        }
        runners.push_back(std::make_unique<engine::symbol_runner>(std::move(core), 4096));
    }
    reload::script_reloader reloader(log);
    for (int i = 0; i < runner_count; ++i)
        reloader.track(*runners[static_cast<std::size_t>(i)], bench_symbol(i, script), hashes[0]);
    for (auto& r : runners)
        r->start();

    std::atomic<bool> stop_feed{false};
    std::thread feeder([&] { feed(runners, probes, stop_feed); });
    int missed = 0;
    if (!wait_for_version(probes, 0)) ++missed;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // settle
    const std::int64_t measure_from = now_ns();

    const auto slow = run_watcher_rounds(dir, script, std::chrono::milliseconds(100), 1, reloader,
                                         probes, missed);
    const auto fast = run_watcher_rounds(dir, script, std::chrono::milliseconds(0),
                                         1 + watcher_rounds, reloader, probes, missed);
    const std::int64_t watcher_end = now_ns();
    std::vector<double> prepare_ms;
    const auto direct =
        run_direct_rounds(script, 1 + 2 * watcher_rounds, runners, probes, prepare_ms, missed);

    stop_feed.store(true, std::memory_order_release);
    feeder.join();
    reloader.stop();
    for (auto& r : runners)
        r->stop();  // joins: the probes' vectors are ours to read from here on
    fs::remove_all(dir);

    int failures = 0;
    for (const auto& p : probes)
        failures += p->failures.load();

    std::printf("hot reload: %d runners sharing one script, a closed candle to each every 1 ms\n",
                runner_count);
    std::printf("(%d rounds per debounce setting, %d direct install rounds)\n\n", watcher_rounds,
                direct_rounds);
    const auto slow_f = latencies(slow, probes);
    const auto fast_f = latencies(fast, probes);
    print_latency("reload latency, debounce 100 ms (daemon default):", slow_f);
    const stats slow_total = summarize(slow_f.total_ms);
    std::printf("  target: reload within 500 ms of close (max over runners x rounds): %s\n\n",
                slow_total.max <= 500 ? "met" : "NOT met");
    print_latency("reload latency, debounce 0 (the engine's own part):", fast_f);

    std::vector<double> install_us;
    for (const auto& r : direct)
        for (const auto& p : probes)
            if (const auto t = p->install_ns[static_cast<std::size_t>(r.version)]; t != unset)
                install_us.push_back(static_cast<double>(t) / 1e3);
    std::vector<double> inside, outside;
    auto windows = slow;
    windows.insert(windows.end(), fast.begin(), fast.end());
    delays(windows, probes, inside, outside, measure_from, watcher_end);
    std::printf("\npause on the runner's thread:\n");
    print("install() duration (timed around core.install)", summarize(install_us), "us");
    print("event delay (push -> call record), no reload", summarize(outside), "ms");
    print("event delay during reload windows", summarize(inside), "ms");
    print("delay of the first event after the swap", summarize(across_swap(windows, probes)), "ms");
    std::printf("\nbuild cost, off the runner's thread:\n");
    print("prepare() per runner", summarize(prepare_ms), "ms");

    std::printf("\nrounds that timed out: %d; failure records (reload_failed/error/...): %d\n",
                missed, failures);
    std::printf("run time %.1f s\n",
                std::chrono::duration<double>(clock_type::now() - started).count());
    return missed == 0 && failures == 0 ? 0 : 1;
}
