// `tradingd --config FILE`: wiring of config -> runners -> feed, signal handling, summary.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <vector>

#include <tradingd/cli/commands.hpp>
#include <tradingd/config/config.hpp>
#include <tradingd/engine/decision_log.hpp>
#include <tradingd/engine/kill_switch.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/engine/watchdog.hpp>
#include <tradingd/http/server.hpp>
#include <tradingd/journal/journal.hpp>
#include <tradingd/journal/state_lock.hpp>
#include <tradingd/reload/script_reloader.hpp>
#include <tradingd/reload/script_watcher.hpp>
#include <tradingd/service/systemd_notifier.hpp>

#include "config_reload.hpp"
#include "daemon_services.hpp"
#include "event_loop.hpp"
#include "logging.hpp"
#include "market_feed.hpp"
#include "replay_cli.hpp"
#include "status_api.hpp"

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

/// The content hash of the version a runner loaded ("" if none). Only before the runner starts.
std::string loaded_hash(engine::symbol_runner& runner) {
    const auto* loaded = runner.core().strategy();
    return loaded ? loaded->hash() : std::string();
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

/// The status and control server [http] describes, started. Throws when it cannot listen.
std::unique_ptr<http::server> start_http(
    const config::daemon_settings& s, const status_sources& sources, engine::kill_switch& kill,
    const std::string& token,
    std::function<std::vector<std::string>(const std::string&)> flatten_everything,
    const runner_registry& registry) {
    http::server_options o;
    o.address = s.http.address;
    o.port = s.http.port;
    o.allow_non_loopback = s.http.allow_non_loopback;
    o.request_timeout = std::chrono::milliseconds(s.http.request_timeout_ms);
    o.idle_timeout = std::chrono::milliseconds(s.http.idle_timeout_ms);
    o.max_connections = static_cast<std::size_t>(s.http.max_connections);
    control_actions actions;
    actions.kill = &kill;
    actions.flatten_on_halt = s.risk.flatten_on_halt;
    actions.flatten_all = std::move(flatten_everything);
    actions.flatten_symbol = [&registry](const std::string& symbol, const std::string& reason) {
        return flatten_symbol(registry, symbol, reason);
    };
    status_api_options api;
    api.token = token;
    api.thresholds.max_event_age_ms = s.http.stale_after_ms;
    api.thresholds.max_message_age_ms =
        s.feed.type == "binance" ? s.feed.binance.data_timeout_ms * 2 : 0;
    auto server = std::make_unique<http::server>(
        o,
        make_status_api([&sources] { return assemble_status(sources); }, std::move(actions),
                        std::move(api)),
        named_logger("http"));
    server->start();
    spdlog::info("HTTP status server on http://{} (control endpoints {})", server->endpoint(),
                 token.empty() ? "disabled: no token_file" : "enabled");
    return server;
}

}  // namespace

int run_daemon(const std::filesystem::path& config_path,
               std::optional<std::chrono::milliseconds> duration) {
    return run_daemon_adjusted(config_path, duration, {});
}

int run_daemon_adjusted(const std::filesystem::path& config_path,
                        std::optional<std::chrono::milliseconds> duration,
                        const settings_override& adjust) {
    const auto started = std::chrono::steady_clock::now();
    // Block the signals the event loop handles before any thread exists, so every thread
    // inherits the mask and only the main thread receives them, through its signalfd.
    sigset_t signals;
    sigemptyset(&signals);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1})
        sigaddset(&signals, sig);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    const auto end = duration ? std::optional(started + *duration) : std::nullopt;

    config::daemon_settings settings;
    try {
        settings = config::load_config(config_path);
    } catch (const config::config_error& e) {
        std::cerr << "tradingd: invalid configuration:\n" << e.what() << "\n";
        return 2;
    }
    if (adjust) adjust(settings);  // command-line overrides (replay, --record)
    spdlog::set_level(spdlog::level::from_str(settings.daemon.log_level));
    service::systemd_notifier notifier(named_logger("systemd"));

    std::unique_ptr<journal::state_lock> lock;
    std::unique_ptr<engine::decision_log_file> decisions;
    std::unique_ptr<journal::journal> journal;
    std::string token;
    try {
        add_log_file(settings.daemon);
        std::filesystem::create_directories(settings.daemon.state_dir);
        lock = std::make_unique<journal::state_lock>(settings.daemon.state_dir,
                                                     "config " + config_path.string());
        decisions = std::make_unique<engine::decision_log_file>(
            settings.daemon.decision_log,
            engine::decision_log_rotation{
                static_cast<std::uint64_t>(settings.daemon.decision_log_max_mb) << 20,
                std::chrono::days(settings.daemon.decision_log_keep_days)});
        journal = open_journal(settings);
        if (settings.http.enabled && !settings.http.token_file.empty())
            token = read_token_file(settings.http.token_file.string());
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
    // A replay reproduces a session that started from nothing: restored positions and P&L
    // would change its decisions (docs/recording.md).
    if (settings.feed.type == "replay" && !journal->recovered().runners.empty()) {
        spdlog::critical(
            "cannot start: replay needs a fresh state directory, but the journal in {} holds the "
            "state of {} symbol(s); use `tradingd replay --state-dir NEW_DIR`",
            journal->directory().string(), journal->recovered().runners.size());
        return 1;
    }
    warn_unconfigured(journal->recovered(), settings);
    continue_sim_clock(settings, journal->recovered());

    // Before the runners: a halt file left by an earlier run applies to their first entry.
    engine::risk_book risk(settings.risk);
    engine::kill_switch kill(settings.risk.kill_switch_file, risk, named_logger("risk"));
    kill.poll();

    std::vector<std::unique_ptr<engine::symbol_runner>> runners;
    runner_registry registry;
    // One runner (core + thread + queue) per symbol: at start and for symbols a config reload adds.
    const auto make_runner = [&](const config::symbol_config& sym) {
        const auto& recovered = journal->recovered().runners;
        const auto found = recovered.find(sym.symbol);
        auto core = std::make_unique<engine::runner_core>(
            sym, settings.sandbox, settings.paper, *decisions, named_logger(sym.symbol), nullptr,
            journal.get(), found != recovered.end() ? &found->second : nullptr, &risk);
        return std::make_unique<engine::symbol_runner>(std::move(core),
                                                       settings.engine.queue_capacity);
    };
    std::vector<event_sink*> sinks;
    for (const auto& sym : settings.symbols) {
        runners.push_back(make_runner(sym));
        sinks.push_back(runners.back().get());
        registry.add(runners.back().get());
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

    status_sources sources;
    sources.version = TRADINGD_VERSION;
    sources.started = started;
    sources.runners = &registry;
    sources.feed = feed.get();
    sources.journal = journal.get();
    sources.risk = &risk;
    const auto flatten_everything = [&registry](const std::string& why) {
        return flatten_all(registry, "kill switch: " + why);
    };
    std::unique_ptr<http::server> http;
    if (settings.http.enabled) {
        try {
            http = start_http(settings, sources, kill, token, flatten_everything, registry);
        } catch (const std::exception& e) {
            spdlog::critical("cannot start: {}", e.what());
            return 1;
        }
    }
    feed->start();
    spdlog::info(
        "tradingd {} running: {} symbols, {}, paper broker, decision log {}{}{}",
        config_path.string(), runners.size(), feed->describe(),
        settings.daemon.decision_log.string(),
        watcher ? fmt::format(", hot reload of {}", watcher->directory().string()) : std::string(),
        http ? fmt::format(", status on http://{}", http->endpoint()) : std::string());

    running_daemon live;
    live.config_path = config_path;
    live.settings = settings;
    live.runners = &runners;
    live.reloader = &reloader;
    live.risk = &risk;
    live.can_add_symbols = feed->can_add_symbols();
    live.add_symbol = [&](const config::symbol_config& sym) {
        auto runner = make_runner(sym);
        // The feed first: if it refuses, nothing else knows about the runner yet.
        feed->add_symbol(sym, runner.get());
        reloader.track(*runner, sym, loaded_hash(*runner));
        watchdog.watch(*runner);
        runner->start();
        registry.add(runner.get());
        runners.push_back(std::move(runner));
    };
    loop->on_reload_config = [&] {
        notifier.reloading();
        const bool ok = reload_config(live);
        (ok ? sources.config_reloads : sources.config_reload_failures)
            .fetch_add(1, std::memory_order_relaxed);
        notifier.ready(status_line(assemble_status(sources)));
    };
    loop->on_script_changes = [&reloader](const std::vector<reload::script_change>& changes) {
        for (const auto& c : changes)
            reloader.on_change(c);
    };
    const auto halt = [&](const std::string& origin) {
        kill.engage(origin);
        if (live.settings.risk.flatten_on_halt) flatten_everything(origin);
    };
    loop->on_halt_signal = [&] { halt("SIGUSR1"); };

    // systemd: READY once the feed is connected; STATUS every few seconds; the watchdog ping
    // only while runners and the main loop make progress.
    std::atomic<std::int64_t> last_tick_ns{monotonic_ns()};
    const auto stuck_after = std::chrono::milliseconds(settings.sandbox.wedge_exit_after_ms);
    notifier.start_watchdog([&registry, &last_tick_ns, stuck_after] {
        return progress_problem(registry, stuck_after, last_tick_ns.load());
    });
    bool ready = false;
    std::string last_line;
    std::uint64_t ticks = 0;
    bool feed_finished = false;
    const auto tick = [&] {
        last_tick_ns.store(monotonic_ns());
        // A replay at the end of its recording: stop the way SIGTERM does (the event loop only
        // ends on a signal or the duration), after the runners drain their queues.
        if (!feed_finished && feed->finished()) {
            feed_finished = true;
            ::kill(::getpid(), SIGTERM);
        }
        const bool was_halted = risk.halted();
        if (kill.poll() && !was_halted && risk.halted() && live.settings.risk.flatten_on_halt) {
            flatten_everything("kill switch file " + kill.file().string());
        }
        if (!ready && !feed->connected()) return;
        std::string line = status_line(assemble_status(sources));
        if (!ready) {
            ready = true;
            spdlog::info("ready: {}", line);
            notifier.ready(line);
        } else if (line != last_line || ++ticks % 30 == 0) {
            notifier.status(line);
        }
        last_line = std::move(line);
    };
    tick();
    loop->on_tick = tick;
    const int sig = loop->run(end, watcher.get());
    spdlog::info("stopping ({})", feed_finished    ? "the feed finished"
                                  : sig == SIGTERM ? "SIGTERM"
                                  : sig == SIGINT  ? "SIGINT"
                                                   : "duration elapsed");
    notifier.stopping();
    notifier.stop_watchdog();
    if (http) http->stop();
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
