// `tradingd backtest`: inputs -> run -> files (docs/backtest.md).
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <vector>

#include <tradingd/backtest/backtest.hpp>
#include <tradingd/backtest/command.hpp>
#include <tradingd/config/config.hpp>
#include <tradingd/engine/decision_log.hpp>
#include <tradingd/feed/kline_file.hpp>
#include <tradingd/feed/recording.hpp>

#include "outputs.hpp"

namespace tradingd::backtest {

namespace {

constexpr std::size_t gaps_listed = 5;  ///< on stderr; summary.json and report.html list all

/// The symbol's config section, or nullptr (reported) when the config has no such symbol.
const config::symbol_config* pick_symbol(const config::daemon_settings& cfg,
                                         const std::string& name, std::ostream& err) {
    if (name.empty()) return &cfg.symbols.front();
    for (const auto& s : cfg.symbols)
        if (s.symbol == name) return &s;
    std::string known;
    for (const auto& s : cfg.symbols)
        known += (known.empty() ? "" : ", ") + s.symbol;
    err << "tradingd backtest: --symbol " << name << ": not in the config (it has " << known
        << ")\n";
    return nullptr;
}

/// Rows whose open time is in [from, to) and after the previous kept row.
std::vector<candle> select(const std::vector<candle>& rows, const command_options& o) {
    std::vector<candle> out;
    out.reserve(rows.size());
    for (const candle& c : rows) {
        if (o.from && c.open_time < *o.from) continue;
        if (o.to && c.open_time >= *o.to) continue;
        if (!out.empty() && c.open_time <= out.back().open_time) continue;
        out.push_back(c);
    }
    return out;
}

/// The data's gaps and flat candles on stderr: never bridged silently.
void report_data(const data_report& d, std::ostream& err) {
    if (!d.gaps.empty()) {
        err << fmt::format(
            "tradingd backtest: data has {} {}, {} missing {} candles (not bridged: the runner "
            "sees the next real candle); first:",
            d.gaps.size(), d.gaps.size() == 1 ? "gap" : "gaps", d.missing_candles,
            detail::interval_name(d.interval_ms));
        for (std::size_t i = 0; i < d.gaps.size() && i < gaps_listed; ++i) {
            err << fmt::format("{} {} ({} missing)", i == 0 ? "" : ",",
                               engine::iso_time(d.gaps[i].from).substr(0, 16), d.gaps[i].missing);
        }
        err << (d.gaps.size() > gaps_listed ? ", ... (summary.json lists all)\n" : "\n");
    }
    if (d.flat_zero_volume > 0) {
        err << "tradingd backtest: data has " << d.flat_zero_volume
            << " flat zero-volume candles (kept: the exchange reported no trades)\n";
    }
    if (d.out_of_order > 0) {
        err << "tradingd backtest: dropped " << d.out_of_order
            << " rows whose open time was not after the previous row's\n";
    }
}

/// A progress bar on stderr, redrawn at most every 0.5 s; only when stderr is a terminal.
std::function<void(std::size_t, std::size_t)> progress_bar(bool wanted) {
    if (!wanted || ::isatty(STDERR_FILENO) == 0) return {};
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    return [last](std::size_t done, std::size_t total) {
        const auto now = std::chrono::steady_clock::now();
        const bool end = done == total;
        if (!end && now - *last < std::chrono::milliseconds(500)) return;
        *last = now;
        const std::size_t filled = total > 0 ? done * 30 / total : 30;
        std::fprintf(stderr, "\r[%-30s] %3zu%% %zu/%zu candles%s", std::string(filled, '#').c_str(),
                     total > 0 ? done * 100 / total : 100, done, total, end ? "\r\033[K" : "");
        std::fflush(stderr);
    };
}

void print_summary(const summary& s, const config::symbol_config& sym,
                   const std::vector<candle>& candles, const std::filesystem::path& out_dir,
                   std::ostream& out) {
    out << fmt::format(
        "backtest {} {} {} (script {}): {} candles from {} to {}; {} trades, {} wins ({:.1f} %), "
        "net P&L {:.2f} after {:.2f} fees, equity {:.2f} -> {:.2f} ({:+.2f} %), max drawdown "
        "{:.2f} ({:.2f} %), Sharpe {:.2f}, Sortino {:.2f}, exposure {:.1f} %, profit factor {}{}"
        "{}; {:.2f} s ({:.0f} candles/s). Files in {}\n",
        s.symbol, detail::interval_name(s.interval_ms), sym.strategy, s.script_hash, s.candles,
        engine::iso_time(candles.front().open_time).substr(0, 16),
        engine::iso_time(candles.back().close_time + 1).substr(0, 16), s.trades, s.wins,
        s.win_rate * 100, s.net_pnl, s.fees, s.starting_cash, s.final_equity, s.return_pct,
        s.max_drawdown, s.max_drawdown_pct, s.sharpe, s.sortino, s.exposure * 100,
        s.losses > 0 ? fmt::format("{:.2f}", s.profit_factor) : std::string("n/a (no losses)"),
        s.open_at_end ? "; a position is still open (marked at the last close)" : "",
        s.strategy_errors > 0 ? fmt::format("; {} STRATEGY ERRORS", s.strategy_errors) : "",
        s.seconds, s.candles_per_s, out_dir.string());
}

}  // namespace

int run_command(const command_options& o, std::ostream& out, std::ostream& err) {
    if (o.spread_bps && !(*o.spread_bps >= 0)) {
        err << "tradingd backtest: --spread-bps must be >= 0\n";
        return 2;
    }
    if (o.from && o.to && *o.from >= *o.to) {
        err << "tradingd backtest: --from must be before --to\n";
        return 2;
    }
    std::int64_t target_ms = 0;
    if (!o.interval.empty()) {
        target_ms = interval_ms(o.interval.c_str());
        if (target_ms == 0) {
            err << "tradingd backtest: --interval " << o.interval << ": unknown interval\n";
            return 2;
        }
    }
    config::daemon_settings cfg;
    std::vector<candle> rows;
    try {
        cfg = config::load_config(o.config);
        // A recording's closed candles of the symbol, or a kline file.
        const std::string name = o.symbol.empty() ? cfg.symbols.front().symbol : o.symbol;
        rows = feed::is_recording(o.data) ? feed::read_recorded_candles(o.data, name)
                                          : feed::read_kline_file(o.data);
    } catch (const config::config_error& e) {
        err << "tradingd backtest: " << e.what() << '\n';
        for (const auto& p : e.problems())
            err << "  " << p << '\n';
        return 1;
    } catch (const std::exception& e) {
        err << "tradingd backtest: " << e.what() << '\n';
        return 1;
    }
    const config::symbol_config* picked = pick_symbol(cfg, o.symbol, err);
    if (picked == nullptr) return 2;
    config::symbol_config symbol = *picked;
    if (rows.empty()) {
        err << "tradingd backtest: " << o.data.string() << ": no candles\n";
        return 1;
    }

    detail::run_meta meta;
    meta.config = o.config;
    meta.data = o.data;
    meta.data_rows = rows.size();
    meta.data_interval_ms = rows.front().close_time - rows.front().open_time + 1;
    meta.from = o.from;
    meta.to = o.to;
    const std::int64_t data_ms = meta.data_interval_ms;
    if (target_ms == 0) {
        if (symbol.interval_ms != data_ms) {
            err << fmt::format(
                "tradingd backtest: {} is configured for {} candles but the data has {}: pass "
                "--interval {} (run at the data's interval) or a multiple of it (aggregate)\n",
                symbol.symbol, symbol.interval, detail::interval_name(data_ms),
                detail::interval_name(data_ms));
            return 2;
        }
        target_ms = data_ms;
    } else if (target_ms < data_ms || target_ms % data_ms != 0) {
        err << fmt::format(
            "tradingd backtest: --interval {} is not a multiple of the data's interval {}\n",
            o.interval, detail::interval_name(data_ms));
        return 2;
    }
    if (symbol.interval_ms != target_ms) {
        err << fmt::format("tradingd backtest: running {} at {} (configured: {})\n", symbol.symbol,
                           detail::interval_name(target_ms), symbol.interval);
        symbol.interval = detail::interval_name(target_ms);
        symbol.interval_ms = target_ms;
    }

    const data_report report = inspect(rows, data_ms);
    std::vector<candle> candles = select(rows, o);
    rows.clear();
    rows.shrink_to_fit();
    if (candles.empty()) {
        err << "tradingd backtest: no candles in the requested time range\n";
        return 2;
    }
    data_report ranged = inspect(candles, data_ms);
    ranged.out_of_order = report.out_of_order;
    report_data(ranged, err);
    if (target_ms != data_ms) {
        candles = aggregate(candles, data_ms, target_ms, &meta.incomplete_buckets);
        if (meta.incomplete_buckets > 0) {
            err << "tradingd backtest: " << meta.incomplete_buckets << " of " << candles.size()
                << " aggregated candles are incomplete (built from the source candles that "
                   "exist)\n";
        }
    }

    run_options options;
    if (o.spread_bps) options.intrabar.spread_bps = *o.spread_bps;
    meta.spread_bps = options.intrabar.spread_bps;
    options.progress = progress_bar(o.progress);
    try {
        const run_result r = run(symbol, cfg.sandbox, cfg.paper, candles, options);
        detail::write_outputs(o.out, r, candles, ranged, meta);
        print_summary(r.stats, symbol, candles, o.out, out);
        if (r.stats.strategy_errors > 0) {
            err << "tradingd backtest: the strategy failed " << r.stats.strategy_errors
                << " times (see decisions.jsonl, event \"error\")\n";
        }
    } catch (const std::exception& e) {
        err << "tradingd backtest: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

}  // namespace tradingd::backtest
