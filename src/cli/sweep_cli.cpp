#include "sweep_cli.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <tradingd/backtest/backtest.hpp>
#include <tradingd/backtest/montecarlo.hpp>
#include <tradingd/backtest/sweep.hpp>
#include <tradingd/config/config.hpp>
#include <tradingd/feed/kline_file.hpp>
#include <tradingd/feed/recording.hpp>

namespace tradingd::cli::detail {
namespace {

namespace fs = std::filesystem;

/// A progress bar on stderr, redrawn at most every 0.25 s; none when stderr is not a terminal.
std::function<void(std::size_t, std::size_t)> progress_bar(bool wanted, const char* unit) {
    if (!wanted || ::isatty(STDERR_FILENO) == 0) return {};
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    return [last, unit](std::size_t done, std::size_t total) {
        const auto now = std::chrono::steady_clock::now();
        const bool end = done == total;
        if (!end && now - *last < std::chrono::milliseconds(250)) return;
        *last = now;
        const std::size_t filled = total > 0 ? done * 30 / total : 30;
        std::fprintf(stderr, "\r[%-30s] %3zu%% %zu/%zu %s%s", std::string(filled, '#').c_str(),
                     total > 0 ? done * 100 / total : 100, done, total, unit,
                     end ? "\r\033[K" : "");
        std::fflush(stderr);
    };
}

/// Script warnings and errors of the runs go to stderr; info lines (on_init banners, one per
/// run) would drown the output.
std::shared_ptr<spdlog::logger> runs_logger() {
    auto log = std::make_shared<spdlog::logger>("sweep",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    log->set_level(spdlog::level::err);
    return log;
}

/// Loads the config; prints its problems and returns nullopt on failure.
std::optional<config::daemon_settings> load(const char* command, const std::string& path) {
    try {
        return config::load_config(path);
    } catch (const config::config_error& e) {
        std::cerr << "tradingd " << command << ": " << e.what() << '\n';
        for (const auto& p : e.problems())
            std::cerr << "  " << p << '\n';
    } catch (const std::exception& e) {
        std::cerr << "tradingd " << command << ": " << e.what() << '\n';
    }
    return std::nullopt;
}

const config::symbol_config* pick_symbol(const char* command, const config::daemon_settings& cfg,
                                         const std::string& name) {
    if (name.empty()) return &cfg.symbols.front();
    for (const auto& s : cfg.symbols) {
        if (s.symbol == name) return &s;
    }
    std::cerr << "tradingd " << command << ": --symbol " << name << ": not in the config\n";
    return nullptr;
}

bool make_out_dir(const char* command, const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!ec) return true;
    std::cerr << "tradingd " << command << ": cannot create " << dir.string() << ": "
              << ec.message() << '\n';
    return false;
}

/// Writes `path` through `write`, then checks the stream; reports a failure.
template <class Write>
bool write_file(const char* command, const fs::path& path, Write&& write) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (f) write(f);
    f.flush();
    if (f) return true;
    std::cerr << "tradingd " << command << ": cannot write " << path.string() << '\n';
    return false;
}

/// The candles a sweep runs over: the file's rows in time order (later duplicates dropped and
/// counted), aggregated to `interval` when given. nullopt (reported) on a problem; `usage` tells
/// the caller it was the user's (exit 2).
std::optional<std::vector<candle>> sweep_candles(const sweep_command_options& o,
                                                 config::symbol_config& symbol, bool& usage) {
    std::vector<candle> rows;
    try {
        rows = feed::is_recording(o.data) ? feed::read_recorded_candles(o.data, symbol.symbol)
                                          : feed::read_kline_file(o.data);
    } catch (const std::exception& e) {
        std::cerr << "tradingd sweep: " << e.what() << '\n';
        return std::nullopt;
    }
    if (rows.empty()) {
        std::cerr << "tradingd sweep: " << o.data << ": no candles\n";
        return std::nullopt;
    }
    std::vector<candle> candles;
    candles.reserve(rows.size());
    for (const candle& c : rows) {
        if (candles.empty() || c.open_time > candles.back().open_time) candles.push_back(c);
    }
    if (candles.size() != rows.size()) {
        std::cerr << "tradingd sweep: dropped " << rows.size() - candles.size()
                  << " out-of-order or duplicate candles\n";
    }
    const std::int64_t data_ms = candles.front().close_time - candles.front().open_time + 1;
    std::int64_t target_ms = data_ms;
    if (!o.interval.empty()) {
        target_ms = interval_ms(o.interval.c_str());
        if (target_ms == 0 || target_ms < data_ms || target_ms % data_ms != 0) {
            std::cerr << "tradingd sweep: --interval " << o.interval
                      << ": unknown, or not a multiple of the data's interval (" << data_ms
                      << " ms)\n";
            usage = true;
            return std::nullopt;
        }
        symbol.interval = o.interval;
        symbol.interval_ms = target_ms;
    } else if (symbol.interval_ms != data_ms) {
        std::cerr << fmt::format(
            "tradingd sweep: {} is configured for {} candles but the data's are {} ms apart: "
            "pass --interval with the data's interval or a multiple of it\n",
            symbol.symbol, symbol.interval, data_ms);
        usage = true;
        return std::nullopt;
    }
    if (target_ms != data_ms) candles = backtest::aggregate(candles, data_ms, target_ms);
    return candles;
}

std::string params_text(const named_scalars& params) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) out += ' ';
        out += name + '=' + to_display_string(value);
    }
    return out;
}

int run_sweep(const sweep_command_options& o) {
    const auto rank_by = backtest::parse_metric(o.metric);
    if (!rank_by) {
        std::cerr << "tradingd sweep: --metric " << o.metric
                  << ": unknown (net_pnl, sharpe, sortino, profit_factor, win_rate, "
                     "max_drawdown)\n";
        return 2;
    }
    std::vector<backtest::grid_axis> axes;
    try {
        axes = backtest::parse_grid(o.grid);
    } catch (const std::invalid_argument& e) {
        std::cerr << "tradingd sweep: --grid: " << e.what() << '\n';
        return 2;
    }
    const auto cfg = load("sweep", o.config);
    if (!cfg) return 1;
    const auto* picked = pick_symbol("sweep", *cfg, o.symbol);
    if (picked == nullptr) return 2;
    config::symbol_config symbol = *picked;
    bool usage = false;
    const auto candles = sweep_candles(o, symbol, usage);
    if (!candles) return usage ? 2 : 1;
    if (!make_out_dir("sweep", o.out)) return 1;

    backtest::sweep_options so;
    so.rank_by = *rank_by;
    so.threads = o.threads;
    so.run.logger = runs_logger();
    so.progress = progress_bar(!o.no_progress, "runs");
    backtest::sweep_result r;
    try {
        r = backtest::sweep(symbol, cfg->sandbox, cfg->paper, *candles, axes, so);
    } catch (const std::exception& e) {
        std::cerr << "tradingd sweep: " << e.what() << '\n';
        return 1;
    }
    const fs::path csv = fs::path(o.out) / "sweep.csv";
    if (!write_file("sweep", csv, [&](std::ostream& f) { backtest::write_sweep_csv(f, r); })) {
        return 1;
    }
    const unsigned threads =
        o.threads != 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
    const std::size_t ran = r.rows.size();
    std::cout << fmt::format(
        "sweep {} {}: {} combinations over {} candles, {} pruned by valid(params), {} run, {} "
        "failed; {:.2f} s on {} threads ({:.1f} runs/s)\n",
        symbol.symbol, symbol.strategy, r.combinations, candles->size(), r.pruned, ran, r.failed,
        r.seconds, threads, r.seconds > 0 ? static_cast<double>(ran) / r.seconds : 0.0);
    if (!r.rows.empty() && r.rows.front().error.empty()) {
        const auto& best = r.rows.front();
        std::cout << fmt::format("best by {}: {} ({} = {}; net P&L {:.2f}, {} trades)\n",
                                 backtest::metric_name(r.rank_by), params_text(best.params),
                                 backtest::metric_name(r.rank_by),
                                 backtest::metric_value(best.stats, r.rank_by), best.stats.net_pnl,
                                 best.stats.trades);
    }
    for (const auto& row : r.rows) {
        if (!row.error.empty()) {
            std::cerr << "tradingd sweep: " << params_text(row.params) << ": " << row.error << '\n';
        }
    }
    std::cout << "wrote " << csv.string() << '\n';
    return r.failed > 0 && r.failed == r.rows.size() ? 1 : 0;
}

void print_distribution(const char* name, const backtest::distribution& d) {
    std::cout << fmt::format(
        "  {:<13} p5 {:>12.4g}  p25 {:>12.4g}  median {:>12.4g}  p75 {:>12.4g}  p95 {:>12.4g}  "
        "(mean {:.4g}, {} paths)\n",
        name, d.p5, d.p25, d.p50, d.p75, d.p95, d.mean, d.count);
}

int run_montecarlo(const sweep_command_options& o) {
    if (o.paths == 0 || o.candles == 0) {
        std::cerr << "tradingd montecarlo: --paths and --candles must be > 0\n";
        return 2;
    }
    const auto cfg = load("montecarlo", o.config);
    if (!cfg) return 1;
    const auto* symbol = pick_symbol("montecarlo", *cfg, o.symbol);
    if (symbol == nullptr) return 2;
    if (!make_out_dir("montecarlo", o.out)) return 1;
    backtest::montecarlo_options mo;
    mo.paths = o.paths;
    mo.seed = o.seed;
    mo.candles = o.candles;
    mo.threads = o.threads;
    mo.progress = progress_bar(!o.no_progress, "paths");
    backtest::montecarlo_result r;
    try {
        r = backtest::montecarlo(cfg->feed.sim, *symbol, cfg->sandbox, cfg->paper, mo);
    } catch (const std::exception& e) {
        std::cerr << "tradingd montecarlo: " << e.what() << '\n';
        return 1;
    }
    const fs::path json = fs::path(o.out) / "montecarlo.json";
    if (!write_file("montecarlo", json,
                    [&](std::ostream& f) { backtest::write_montecarlo_json(f, r); })) {
        return 1;
    }
    std::cout << fmt::format(
        "montecarlo {} {}: {} paths x {} candles (seed {}) in {:.2f} s; {:.1f} % of paths "
        "profitable\n",
        r.symbol, r.strategy, r.paths.size(), r.candles, r.seed, r.seconds,
        r.profitable_fraction * 100);
    print_distribution("net P&L", r.net_pnl);
    print_distribution("max drawdown", r.max_drawdown);
    print_distribution("win rate", r.win_rate);
    print_distribution("trades", r.trades);
    std::uint64_t errors = 0;
    for (const auto& p : r.paths)
        errors += p.strategy_errors;
    if (errors > 0) {
        std::cerr << "tradingd montecarlo: the strategy failed " << errors
                  << " times over all paths\n";
    }
    std::cout << "wrote " << json.string() << '\n';
    return 0;
}

}  // namespace

void add_sweep_commands(CLI::App& app, sweep_command_options& o) {
    o.sweep = app.add_subcommand(
        "sweep",
        "Backtest every combination of a parameter grid in parallel, ranked by a metric; writes "
        "sweep.csv");
    auto* s = o.sweep;
    s->add_option("--config", o.config, "The daemon's config ([paper], [sandbox], [[symbols]])")
        ->required();
    s->add_option("--data", o.data,
                  "Candles: Binance kline CSV, a JSON array of rows, or a recording (--record)")
        ->required();
    s->add_option("--grid", o.grid,
                  "Params to sweep: \"fast=5:30:5,slow=20:100:10\" (start:stop:step, stop "
                  "inclusive) or \"mode=a|b|c\"")
        ->required();
    s->add_option("--metric", o.metric,
                  "Rank by net_pnl, sharpe, sortino, profit_factor, win_rate or max_drawdown "
                  "(lower first)")
        ->capture_default_str();
    s->add_option("--symbol", o.symbol, "The config's symbol to run (default: the first)");
    s->add_option("--interval", o.interval,
                  "Run at this interval, aggregating the data to it (default: the data's)");
    s->add_option("--threads", o.threads, "Worker threads (default: every core)");
    s->add_option("--out", o.out, "Output directory (created)")->required();
    s->add_flag("--no-progress", o.no_progress, "No progress bar even on a terminal");

    o.montecarlo = app.add_subcommand(
        "montecarlo",
        "Run the strategy over N simulated-feed paths ([feed.sim], [symbols.sim]); writes the "
        "distribution of outcomes to montecarlo.json");
    auto* m = o.montecarlo;
    m->add_option("--config", o.config, "The daemon's config (the simulated feed's model)")
        ->required();
    m->add_option("--paths", o.paths, "Number of paths")->capture_default_str();
    m->add_option("--seed", o.seed, "Seed: the same seed gives the same paths and results")
        ->capture_default_str();
    m->add_option("--candles", o.candles, "Closed candles traded per path")->capture_default_str();
    m->add_option("--symbol", o.symbol, "The config's symbol to run (default: the first)");
    m->add_option("--threads", o.threads, "Worker threads (default: every core)");
    m->add_option("--out", o.out, "Output directory (created)")->required();
    m->add_flag("--no-progress", o.no_progress, "No progress bar even on a terminal");
}

std::optional<int> run_sweep_commands(const sweep_command_options& o) {
    if (o.sweep != nullptr && *o.sweep) return run_sweep(o);
    if (o.montecarlo != nullptr && *o.montecarlo) return run_montecarlo(o);
    return std::nullopt;
}

}  // namespace tradingd::cli::detail
