// `tradingd --config FILE`: wiring of config -> runners -> feed, signal handling, summary.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <vector>

#include <tradingd/cli/commands.hpp>
#include <tradingd/config/config.hpp>
#include <tradingd/engine/decision_log.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/engine/watchdog.hpp>
#include <tradingd/feed/binance_feed.hpp>
#include <tradingd/feed/sim_feed.hpp>
#include <tradingd/journal/journal.hpp>
#include <tradingd/journal/state_lock.hpp>
#include <tradingd/reload/script_reloader.hpp>
#include <tradingd/reload/script_watcher.hpp>

#include "config_reload.hpp"
#include "event_loop.hpp"

namespace tradingd::cli {
namespace {

void print_summary(std::vector<std::unique_ptr<engine::symbol_runner>>& runners) {
    std::printf("\n%-10s %-37s %-10s %6s %14s %10s %8s %7s  %s\n", "symbol", "script", "state",
                "trades", "realised_pnl", "fees", "calls", "errors", "status");
    for (auto& r : runners) {
        const engine::runner_summary s = r->core().summary();
        std::string status = s.suspended ? "SUSPENDED: " + s.suspension_reason : "ok";
        if (s.retiring) status += "; RETIRED (removed from the configuration)";
        if (!s.reload_error.empty()) {
            status += fmt::format("; version {} REFUSED: {}",
                                  s.failed_hash.empty() ? "?" : s.failed_hash, s.reload_error);
        }
        if (r->wedged()) {
            // Flagged by the watchdog; the core may not have seen the flag (no candle since).
            status = s.suspended ? fmt::format("WEDGED; {}", status) : std::string("WEDGED");
            if (r->dropped() > 0) status += fmt::format(" ({} events dropped)", r->dropped());
        }
        if (s.open_position) {
            status += fmt::format(" (open {} {:g} @ {:.10g})",
                                  strategy::side_name(s.open_position->direction),
                                  s.open_position->quantity, s.open_position->entry_price);
        }
        const std::string script =
            s.script_hash.empty() ? s.script : s.script + "@" + s.script_hash;
        std::printf("%-10s %-37s %-10s %6zu %14.4f %10.4f %8llu %7llu  %s\n", s.symbol.c_str(),
                    script.c_str(), s.state, s.trades, s.realized_pnl, s.fees,
                    static_cast<unsigned long long>(s.strategy_calls),
                    static_cast<unsigned long long>(s.strategy_errors), status.c_str());
        spdlog::info(
            "summary {}: script={} state={} trades={} realised_pnl={:.4f} fees={:.4f} calls={} "
            "errors={} auto_exits={} reloads={} refused={} {}",
            s.symbol, script, s.state, s.trades, s.realized_pnl, s.fees, s.strategy_calls,
            s.strategy_errors, s.auto_exits, s.reloads, s.reload_failures, status);
    }
    std::fflush(stdout);
}

/// Exit code when a runner stays stuck in one event past [sandbox] wedge_exit_after_ms
/// (EX_SOFTWARE): a thread cannot be stopped safely, so the process ends and systemd
/// (Restart=on-failure) starts a fresh one.
constexpr int k_exit_wedged = 70;

[[noreturn]] void exit_wedged(const std::string& reason) {
    spdlog::critical("exiting with code {} so the service manager restarts the daemon: {}",
                     k_exit_wedged, reason);
    spdlog::shutdown();  // flushes every logger; the decision log is flushed line by line
    std::fflush(nullptr);
    // No destructors or atexit handlers: they would join the stuck runner thread and hang.
    std::_Exit(k_exit_wedged);
}

/// A logger named `name` writing where the default logger does. Registered with spdlog, so that
/// spdlog::set_level (a config reload's new log_level) reaches it as well; unregistered clones
/// would keep the level they were made with.
std::shared_ptr<spdlog::logger> named_logger(const std::string& name) {
    if (auto existing = spdlog::get(name)) return existing;
    auto logger = spdlog::default_logger()->clone(name);
    spdlog::register_logger(logger);
    return logger;
}

/// The content hash of the version a runner loaded ("" if none). Only before the runner starts.
std::string loaded_hash(engine::symbol_runner& runner) {
    const auto* loaded = runner.core().strategy();
    return loaded ? loaded->hash() : std::string();
}

/// The feed selected by [feed] type, behind one interface for the daemon's lifecycle.
class market_feed {
public:
    virtual ~market_feed() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    virtual std::string describe() const = 0;
    /// Whether add_symbol works while running (config reload adding a symbol).
    virtual bool can_add_symbols() const = 0;
    /// Starts delivering `symbol`'s events to `sink`. Throws std::exception on failure.
    virtual void add_symbol(const config::symbol_config& symbol, event_sink* sink) = 0;
};

class sim_market_feed final : public market_feed {
public:
    sim_market_feed(const config::daemon_settings& s, std::vector<event_sink*> sinks)
        : feed_(s.feed.sim, s.symbols, std::move(sinks)), sim_(s.feed.sim) {}
    void start() override { feed_.start(); }
    void stop() override { feed_.stop(); }
    std::string describe() const override {
        return fmt::format("simulated feed (seed {}, speed {})", sim_.seed,
                           sim_.speed > 0 ? fmt::format("{:g}x", sim_.speed) : "max");
    }
    bool can_add_symbols() const override { return true; }
    void add_symbol(const config::symbol_config& symbol, event_sink* sink) override {
        feed_.add_symbol(symbol, sink);
    }

private:
    feed::sim_feed feed_;
    config::sim_feed_config sim_;
};

class binance_market_feed final : public market_feed {
public:
    binance_market_feed(const config::daemon_settings& s, std::vector<event_sink*> sinks)
        : feed_(s.feed.binance, s.symbols, std::move(sinks), named_logger("binance")),
          ws_url_(s.feed.binance.ws_url) {}
    void start() override { feed_.start(); }
    void stop() override { feed_.stop(); }
    std::string describe() const override { return "Binance feed " + ws_url_; }
    bool can_add_symbols() const override { return true; }
    void add_symbol(const config::symbol_config& symbol, event_sink* sink) override {
        feed_.add_symbol(symbol, sink);
    }

private:
    feed::binance_feed feed_;
    std::string ws_url_;
};

std::unique_ptr<market_feed> make_feed(const config::daemon_settings& s,
                                       std::vector<event_sink*> sinks) {
    if (s.feed.type == "binance") return std::make_unique<binance_market_feed>(s, std::move(sinks));
    return std::make_unique<sim_market_feed>(s, std::move(sinks));
}

/// The journal in <state_dir>/journal, recovered. Throws with the file/offset on corruption.
std::unique_ptr<journal::journal> open_journal(const config::daemon_settings& s) {
    auto j = std::make_unique<journal::journal>(s.daemon.state_dir / "journal", s.journal,
                                                named_logger("journal"));
    const auto& r = j->report();
    spdlog::info(
        "journal {}: {} runner state(s) restored, {} records replayed{} in {:.1f} ms "
        "({} durability)",
        j->directory().string(), j->recovered().runners.size(), r.records_replayed,
        r.snapshot_seq > 0 ? fmt::format(" after the snapshot at record {}", r.snapshot_seq)
                           : std::string(),
        r.seconds * 1000, s.journal.durability);
    return j;
}

/// After a restart the simulated feed continues after the journal's newest record (on a day
/// boundary, which every interval divides), so market time never runs backwards across restarts:
/// a restored position's bars_held, the decision log and `tradingd why` stay consistent.
void continue_sim_clock(config::daemon_settings& s, const journal::journal_state& state) {
    if (s.feed.type != "sim") return;
    timestamp_ms newest = 0;
    for (const auto& [symbol, runner] : state.runners)
        newest = std::max(newest, runner.last_ts);
    constexpr timestamp_ms day = 86'400'000;
    if (newest < s.feed.sim.start_time) return;
    s.feed.sim.start_time = (newest / day + 1) * day;
    spdlog::info("simulated feed: continuing after the journal's newest record (start time {})",
                 s.feed.sim.start_time);
}

/// A journaled runner whose symbol the config no longer has: its state is kept in the journal
/// but nothing manages it. Said loudly when it holds a position.
void warn_unconfigured(const journal::journal_state& state, const config::daemon_settings& s) {
    for (const auto& entry : state.runners) {
        const std::string& symbol = entry.first;
        const journal::runner_state& runner = entry.second;
        const bool configured = std::any_of(s.symbols.begin(), s.symbols.end(),
                                            [&](const auto& sym) { return sym.symbol == symbol; });
        if (configured) continue;
        const auto& pos = runner.machine.current_position();
        if (pos) {
            spdlog::error(
                "{} has an open {} position of {} in the journal but is not in the config: it is "
                "NOT managed (no stop-loss/take-profit) until the symbol is configured again",
                symbol, strategy::side_name(pos->direction), pos->quantity);
        } else {
            spdlog::info("{} is in the journal but not in the config (flat): ignored", symbol);
        }
    }
}

/// The watcher of [daemon] strategies_dir, or null when hot reload is off or cannot start (then
/// the daemon runs on without it and says why).
std::unique_ptr<reload::script_watcher> make_watcher(const config::daemon_config& d) {
    if (!d.hot_reload) return nullptr;
    try {
        return std::make_unique<reload::script_watcher>(
            d.strategies_dir, std::chrono::milliseconds(d.reload_debounce_ms));
    } catch (const std::exception& e) {
        spdlog::error("hot reload disabled: {}", e.what());
        return nullptr;
    }
}

}  // namespace

int run_daemon(const std::filesystem::path& config_path,
               std::optional<std::chrono::milliseconds> duration) {
    // Block the signals the event loop handles before any thread exists, so every thread
    // inherits the mask and only the main thread receives them, through its signalfd.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    const auto end =
        duration ? std::optional(std::chrono::steady_clock::now() + *duration) : std::nullopt;

    config::daemon_settings settings;
    try {
        settings = config::load_config(config_path);
    } catch (const config::config_error& e) {
        std::cerr << "tradingd: invalid configuration:\n" << e.what() << "\n";
        return 2;
    }
    spdlog::set_level(spdlog::level::from_str(settings.daemon.log_level));

    std::unique_ptr<journal::state_lock> lock;
    std::unique_ptr<engine::decision_log_file> decisions;
    std::unique_ptr<journal::journal> journal;
    try {
        std::filesystem::create_directories(settings.daemon.state_dir);
        lock = std::make_unique<journal::state_lock>(settings.daemon.state_dir,
                                                     "config " + config_path.string());
        decisions = std::make_unique<engine::decision_log_file>(
            settings.daemon.decision_log,
            engine::decision_log_rotation{
                static_cast<std::uint64_t>(settings.daemon.decision_log_max_mb) << 20,
                std::chrono::days(settings.daemon.decision_log_keep_days)});
        journal = open_journal(settings);
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
    warn_unconfigured(journal->recovered(), settings);
    continue_sim_clock(settings, journal->recovered());

    std::vector<std::unique_ptr<engine::symbol_runner>> runners;
    // One runner (core + thread + queue) per symbol: at start and for symbols a config reload adds.
    const auto make_runner = [&](const config::symbol_config& sym) {
        const auto& recovered = journal->recovered().runners;
        const auto found = recovered.find(sym.symbol);
        auto core = std::make_unique<engine::runner_core>(
            sym, settings.sandbox, settings.paper, *decisions, named_logger(sym.symbol), nullptr,
            journal.get(), found != recovered.end() ? &found->second : nullptr);
        return std::make_unique<engine::symbol_runner>(std::move(core),
                                                       settings.engine.queue_capacity);
    };
    std::vector<event_sink*> sinks;
    for (const auto& sym : settings.symbols) {
        runners.push_back(make_runner(sym));
        sinks.push_back(runners.back().get());
    }
    std::unique_ptr<market_feed> feed;
    std::unique_ptr<event_loop> loop;
    try {
        feed = make_feed(settings, sinks);
        loop = std::make_unique<event_loop>(signals);
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
    // Declared after the runners so it is destroyed first; it keeps watching during shutdown,
    // when stopping a stuck runner would otherwise hang until systemd's stop timeout.
    engine::watchdog watchdog(engine::to_watchdog_limits(settings.sandbox), &exit_wedged);
    for (auto& r : runners)
        watchdog.watch(*r);
    // Tracked before the runners start: reading the loaded versions' hashes is safe then.
    reload::script_reloader reloader(named_logger("reload"));
    for (std::size_t i = 0; i < runners.size(); ++i)
        reloader.track(*runners[i], settings.symbols[i], loaded_hash(*runners[i]));
    const auto watcher = make_watcher(settings.daemon);
    for (auto& r : runners)
        r->start();
    feed->start();
    spdlog::info(
        "tradingd {} running: {} symbols, {}, paper broker, decision log {}{}",
        config_path.string(), runners.size(), feed->describe(),
        settings.daemon.decision_log.string(),
        watcher ? fmt::format(", hot reload of {}", watcher->directory().string()) : std::string());

    running_daemon live;
    live.config_path = config_path;
    live.settings = settings;
    live.runners = &runners;
    live.reloader = &reloader;
    live.can_add_symbols = feed->can_add_symbols();
    live.add_symbol = [&](const config::symbol_config& sym) {
        auto runner = make_runner(sym);
        // The feed first: if it refuses, nothing else knows about the runner yet.
        feed->add_symbol(sym, runner.get());
        reloader.track(*runner, sym, loaded_hash(*runner));
        watchdog.watch(*runner);
        runner->start();
        runners.push_back(std::move(runner));
    };
    loop->on_reload_config = [&live] { reload_config(live); };
    loop->on_script_changes = [&reloader](const std::vector<reload::script_change>& changes) {
        for (const auto& c : changes)
            reloader.on_change(c);
    };
    const int sig = loop->run(end, watcher.get());
    spdlog::info("stopping ({})", sig == SIGTERM  ? "SIGTERM"
                                  : sig == SIGINT ? "SIGINT"
                                                  : "duration elapsed");
    reloader.stop();
    feed->stop();
    for (auto& r : runners)
        r->stop();
    watchdog.stop();
    if (journal->sync()) {
        spdlog::info("journal synced: {} records, the last is {}", journal->stats().appended,
                     journal->stats().last_seq);
    } else {
        spdlog::error("journal: {}", journal->failure());
    }
    print_summary(runners);
    spdlog::info("stopped cleanly");
    return 0;
}

}  // namespace tradingd::cli
