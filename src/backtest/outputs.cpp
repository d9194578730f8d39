// summary.json, trades.csv, equity.csv and decisions.jsonl (formats: docs/backtest.md).
#include "outputs.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <utility>

#include <tradingd/engine/decision_log.hpp>

namespace tradingd::backtest::detail {

namespace {

using nlohmann::json;

/// Opens `path` for writing, or throws naming it.
std::ofstream open_out(const std::filesystem::path& path) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write '" + path.string() + "'");
    return f;
}

/// Flushes and checks a file written with open_out.
void finish(std::ofstream& f, const std::filesystem::path& path) {
    f.flush();
    if (!f) throw std::runtime_error("error writing '" + path.string() + "'");
}

/// A CSV field: quoted (with doubled quotes) only when it needs to be.
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + '"';
}

json time_or_null(const std::optional<timestamp_ms>& t) {
    return t ? json(engine::iso_time(*t)) : json(nullptr);
}

}  // namespace

std::string interval_name(std::int64_t ms) {
    static constexpr std::array<std::pair<const char*, std::int64_t>, 15> names{{
        {"1s", 1'000},
        {"1m", 60'000},
        {"3m", 180'000},
        {"5m", 300'000},
        {"15m", 900'000},
        {"30m", 1'800'000},
        {"1h", 3'600'000},
        {"2h", 7'200'000},
        {"4h", 14'400'000},
        {"6h", 21'600'000},
        {"8h", 28'800'000},
        {"12h", 43'200'000},
        {"1d", 86'400'000},
        {"3d", 259'200'000},
        {"1w", 604'800'000},
    }};
    for (const auto& [name, v] : names)
        if (v == ms) return name;
    return std::to_string(ms) + "ms";
}

json summary_json(const summary& s, const data_report& d, const run_meta& m) {
    json gaps = json::array();
    for (const gap& g : d.gaps) {
        gaps.push_back(
            {{"from", g.from}, {"time", engine::iso_time(g.from)}, {"missing", g.missing}});
    }
    json j = {
        {"symbol", s.symbol},
        {"script_hash", s.script_hash},
        {"interval", interval_name(s.interval_ms)},
        {"interval_ms", s.interval_ms},
        {"candles", s.candles},
        {"trades", s.trades},
        {"wins", s.wins},
        {"losses", s.losses},
        {"win_rate", s.win_rate},
        {"starting_cash", s.starting_cash},
        {"final_equity", s.final_equity},
        {"return_pct", s.return_pct},
        {"gross_pnl", s.gross_pnl},
        {"net_pnl", s.net_pnl},
        {"fees", s.fees},
        {"max_drawdown", s.max_drawdown},
        {"max_drawdown_pct", s.max_drawdown_pct},
        {"sharpe", s.sharpe},
        {"sortino", s.sortino},
        {"exposure", s.exposure},
        // Undefined without a losing trade: null rather than a made-up number.
        {"profit_factor", s.losses > 0 ? json(s.profit_factor) : json(nullptr)},
        {"open_at_end", s.open_at_end},
        {"seconds", s.seconds},
        {"candles_per_s", s.candles_per_s},
        {"strategy_errors", s.strategy_errors},
        {"data_report",
         {{"interval", interval_name(d.interval_ms)},
          {"interval_ms", d.interval_ms},
          {"candles", d.candles},
          {"missing_candles", d.missing_candles},
          {"gap_count", d.gaps.size()},
          {"gaps", std::move(gaps)},
          {"flat_zero_volume", d.flat_zero_volume},
          {"out_of_order", d.out_of_order}}},
        {"inputs",
         {{"config", m.config.string()},
          {"data", m.data.string()},
          {"data_interval", interval_name(m.data_interval_ms)},
          {"data_rows", m.data_rows},
          {"incomplete_buckets", m.incomplete_buckets},
          {"from", time_or_null(m.from)},
          {"to", time_or_null(m.to)},
          {"spread_bps", m.spread_bps}}},
    };
    return j;
}

void write_outputs(const std::filesystem::path& dir, const run_result& r,
                   const std::vector<candle>& candles, const data_report& d, const run_meta& m) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create '" + dir.string() + "': " + ec.message());

    const json summary = summary_json(r.stats, d, m);
    {
        const auto path = dir / "summary.json";
        auto f = open_out(path);
        f << summary.dump(2) << '\n';
        finish(f, path);
    }
    {
        const auto path = dir / "trades.csv";
        auto f = open_out(path);
        f << "side,quantity,entry_price,exit_price,opened_at,opened_time,closed_at,closed_time,"
             "fees,net_pnl,exit_reason\n";
        for (const trade& t : r.trades) {
            f << fmt::format(
                "{},{},{},{},{},{},{},{},{},{},{}\n", t.side, t.quantity, t.entry_price,
                t.exit_price, t.opened_at, engine::iso_time(t.opened_at), t.closed_at,
                engine::iso_time(t.closed_at), t.fees, t.net_pnl, csv_field(t.exit_reason));
        }
        finish(f, path);
    }
    {
        const auto path = dir / "equity.csv";
        auto f = open_out(path);
        f << "ts,time,equity,drawdown\n";
        for (const equity_point& p : r.equity) {
            f << fmt::format("{},{},{},{}\n", p.ts, engine::iso_time(p.ts), p.equity, p.drawdown);
        }
        finish(f, path);
    }
    {
        const auto path = dir / "decisions.jsonl";
        auto f = open_out(path);
        for (const std::string& line : r.decisions)
            f << line << '\n';
        finish(f, path);
    }
    {
        const auto path = dir / "report.html";
        auto f = open_out(path);
        f << render_report(summary, r, candles, d);
        finish(f, path);
    }
}

}  // namespace tradingd::backtest::detail
