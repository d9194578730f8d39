#pragma once
// The files a backtest writes (private to the backtest component).

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <tradingd/backtest/backtest.hpp>

namespace tradingd::backtest::detail {

/// Where the run's inputs came from and how they were prepared: recorded in summary.json.
struct run_meta {
    std::filesystem::path config;
    std::filesystem::path data;
    std::int64_t data_interval_ms = 0;   ///< of the file (before aggregation)
    std::size_t data_rows = 0;           ///< candles read from the file
    std::size_t incomplete_buckets = 0;  ///< aggregated candles missing source candles
    std::optional<timestamp_ms> from;
    std::optional<timestamp_ms> to;
    double spread_bps = 0;
};

/// "5m", "1h", "1d" for the intervals Binance names, else "<n>ms".
std::string interval_name(std::int64_t ms);

/// summary.json's document: every summary field, "data_report" and the inputs.
nlohmann::json summary_json(const summary& s, const data_report& d, const run_meta& m);

/// Writes summary.json, trades.csv, equity.csv, decisions.jsonl and report.html into `dir`
/// (created). Throws std::runtime_error naming the file that could not be written.
void write_outputs(const std::filesystem::path& dir, const run_result& r,
                   const std::vector<candle>& candles, const data_report& d, const run_meta& m);

/// report.html: one self-contained page (inline SVG and CSS, no scripts, no external resource).
std::string render_report(const nlohmann::json& summary, const run_result& r,
                          const std::vector<candle>& candles, const data_report& d);

}  // namespace tradingd::backtest::detail
