// Summary metrics of a run (formulas: docs/backtest.md, "Metrics").
#include <cmath>

#include <tradingd/backtest/backtest.hpp>

namespace tradingd::backtest {

namespace {
constexpr double year_ms = 365.0 * 24 * 3600 * 1000;
}

equity_stats::equity_stats(double starting_equity) noexcept
    : start_(starting_equity), last_(starting_equity), peak_(starting_equity) {}

double equity_stats::add(double equity, bool in_position) noexcept {
    // Per-candle simple return against the previous close's equity (the first against the
    // starting cash).
    const double r = last_ != 0 ? equity / last_ - 1 : 0.0;
    ++n_;
    const double delta = r - mean_;
    mean_ += delta / static_cast<double>(n_);
    m2_ += delta * (r - mean_);
    if (r < 0) downside_sq_ += r * r;
    if (in_position) ++exposed_;
    last_ = equity;
    if (equity > peak_) peak_ = equity;
    const double dd = equity - peak_;
    if (-dd > max_dd_) max_dd_ = -dd;
    if (peak_ > 0 && -dd / peak_ * 100 > max_dd_pct_) max_dd_pct_ = -dd / peak_ * 100;
    return dd;
}

void equity_stats::fill(summary& s, std::int64_t interval_ms) const noexcept {
    s.candles = n_;
    s.starting_cash = start_;
    s.final_equity = last_;
    s.return_pct = start_ != 0 ? (last_ / start_ - 1) * 100 : 0.0;
    s.max_drawdown = max_dd_;
    s.max_drawdown_pct = max_dd_pct_;
    s.exposure = n_ > 0 ? static_cast<double>(exposed_) / static_cast<double>(n_) : 0.0;
    s.sharpe = 0;
    s.sortino = 0;
    if (n_ < 2 || interval_ms <= 0) return;
    const double annualise = std::sqrt(year_ms / static_cast<double>(interval_ms));
    const double sd = std::sqrt(m2_ / static_cast<double>(n_ - 1));  // sample deviation
    if (sd > 0) s.sharpe = mean_ / sd * annualise;
    const double downside = std::sqrt(downside_sq_ / static_cast<double>(n_));
    if (downside > 0) s.sortino = mean_ / downside * annualise;
}

void fill_trade_stats(summary& s, const std::vector<trade>& trades) noexcept {
    s.trades = trades.size();
    s.wins = 0;
    s.losses = 0;
    s.gross_pnl = 0;
    s.net_pnl = 0;
    s.fees = 0;
    double won = 0;
    double lost = 0;
    for (const trade& t : trades) {
        s.net_pnl += t.net_pnl;
        s.fees += t.fees;
        s.gross_pnl += t.net_pnl + t.fees;
        if (t.net_pnl > 0) {
            ++s.wins;
            won += t.net_pnl;
        } else if (t.net_pnl < 0) {
            ++s.losses;
            lost += t.net_pnl;
        }
    }
    s.win_rate = s.trades > 0 ? static_cast<double>(s.wins) / static_cast<double>(s.trades) : 0.0;
    s.profit_factor = lost < 0 ? won / -lost : 0.0;
}

}  // namespace tradingd::backtest
