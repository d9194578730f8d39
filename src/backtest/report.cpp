// report.html: one self-contained page. Inline CSS and SVG only: no scripts, no fonts, no
// links, nothing fetched, so it opens the same offline, in a mail attachment or a CI artifact.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <tradingd/engine/decision_log.hpp>

#include "outputs.hpp"

namespace tradingd::backtest::detail {

namespace {

using nlohmann::json;

constexpr std::size_t max_points = 2000;   ///< per plotted series
constexpr std::size_t max_markers = 2000;  ///< trades marked on the price chart
constexpr std::size_t max_gap_rows = 100;
constexpr std::size_t max_trade_rows = 200;
constexpr double width = 1000;
constexpr double pad_left = 70;
constexpr double pad_right = 10;
constexpr double pad_y = 12;

std::string escape(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

struct point {
    timestamp_ms t;
    double v;
};

/// At most `limit` points keeping each bucket's minimum and maximum (in time order), so spikes
/// and drawdown troughs survive the downsampling.
std::vector<point> downsample(const std::vector<point>& in, std::size_t limit) {
    if (in.size() <= limit) return in;
    const std::size_t buckets = limit / 2;
    std::vector<point> out;
    out.reserve(buckets * 2);
    for (std::size_t b = 0; b < buckets; ++b) {
        const std::size_t lo = in.size() * b / buckets;
        const std::size_t hi = in.size() * (b + 1) / buckets;
        if (lo >= hi) continue;
        std::size_t mn = lo;
        std::size_t mx = lo;
        for (std::size_t i = lo; i < hi; ++i) {
            if (in[i].v < in[mn].v) mn = i;
            if (in[i].v > in[mx].v) mx = i;
        }
        out.push_back(in[std::min(mn, mx)]);
        if (mn != mx) out.push_back(in[std::max(mn, mx)]);
    }
    return out;
}

/// Maps times and values of one chart into its SVG box.
struct scale {
    timestamp_ms t0 = 0;
    timestamp_ms t1 = 1;
    double lo = 0;
    double hi = 1;
    double height = 200;
    double x(timestamp_ms t) const {
        const double span = static_cast<double>(std::max<timestamp_ms>(t1 - t0, 1));
        return pad_left + (width - pad_left - pad_right) * static_cast<double>(t - t0) / span;
    }
    double y(double v) const {
        const double span = hi > lo ? hi - lo : 1;
        return pad_y + (height - 2 * pad_y) * (1 - (v - lo) / span);
    }
};

scale fit(const std::vector<point>& pts, double height, timestamp_ms t0, timestamp_ms t1) {
    scale s;
    s.t0 = t0;
    s.t1 = t1;
    s.height = height;
    s.lo = std::numeric_limits<double>::max();
    s.hi = std::numeric_limits<double>::lowest();
    for (const point& p : pts) {
        s.lo = std::min(s.lo, p.v);
        s.hi = std::max(s.hi, p.v);
    }
    if (pts.empty()) {
        s.lo = 0;
        s.hi = 1;
    }
    if (s.hi <= s.lo) {
        s.lo -= 1;
        s.hi += 1;
    }
    return s;
}

std::string polyline(const std::vector<point>& pts, const scale& s, const char* style) {
    std::string o = fmt::format("<polyline class=\"{}\" points=\"", style);
    for (const point& p : pts)
        o += fmt::format("{:.1f},{:.1f} ", s.x(p.t), s.y(p.v));
    o += "\"/>\n";
    return o;
}

/// The frame, value labels (top, bottom) and time labels (left, right) of a chart.
std::string axes(const scale& s, const char* unit_format) {
    std::string o;
    o += fmt::format("<rect class=\"frame\" x=\"{}\" y=\"0\" width=\"{}\" height=\"{}\"/>\n",
                     pad_left, width - pad_left - pad_right, s.height);
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"lbl\" text-anchor=\"end\">{}</text>\n",
                     pad_left - 4, s.y(s.hi) + 4, fmt::format(fmt::runtime(unit_format), s.hi));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"lbl\" text-anchor=\"end\">{}</text>\n",
                     pad_left - 4, s.y(s.lo) + 4, fmt::format(fmt::runtime(unit_format), s.lo));
    return o;
}

std::string svg_open(double height) {
    return fmt::format("<svg viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\">\n",
                       width, height + 16, width, height + 16);
}

std::string time_labels(const scale& s) {
    return fmt::format(
        "<text x=\"{}\" y=\"{}\" class=\"lbl\">{}</text>\n<text x=\"{}\" y=\"{}\" class=\"lbl\" "
        "text-anchor=\"end\">{}</text>\n",
        pad_left, s.height + 13, engine::iso_time(s.t0).substr(0, 16), width - pad_right,
        s.height + 13, engine::iso_time(s.t1).substr(0, 16));
}

/// An up (`up`) or down triangle of half-width `r` centred on (x, y).
std::string triangle(double x, double y, bool up, const char* cls, double r) {
    const double d = up ? r : -r;
    return fmt::format("<path class=\"{}\" d=\"M{:.1f},{:.1f} l{:.1f},{:.1f} h{:.1f} z\"/>\n", cls,
                       x, y - 0.8 * d, r, 1.8 * d, -2 * r);
}

std::string equity_charts(const run_result& r) {
    std::vector<point> eq;
    std::vector<point> dd;
    eq.reserve(r.equity.size());
    dd.reserve(r.equity.size());
    for (const equity_point& p : r.equity) {
        eq.push_back({p.ts, p.equity});
        dd.push_back({p.ts, p.drawdown});
    }
    if (eq.empty()) return "<p>No equity curve (no candles).</p>\n";
    eq = downsample(eq, max_points);
    dd = downsample(dd, max_points);
    const timestamp_ms t0 = r.equity.front().ts;
    const timestamp_ms t1 = r.equity.back().ts;
    std::string o = "<h2>Equity</h2>\n";
    const scale es = fit(eq, 240, t0, t1);
    o += svg_open(es.height) + axes(es, "{:.2f}") + polyline(eq, es, "equity") + time_labels(es) +
         "</svg>\n";
    o += "<h2>Drawdown</h2>\n";
    scale ds = fit(dd, 120, t0, t1);
    ds.hi = 0;
    std::string area =
        fmt::format("<polygon class=\"dd\" points=\"{:.1f},{:.1f} ", ds.x(dd.front().t), ds.y(0));
    for (const point& p : dd)
        area += fmt::format("{:.1f},{:.1f} ", ds.x(p.t), ds.y(p.v));
    area += fmt::format("{:.1f},{:.1f}\"/>\n", ds.x(dd.back().t), ds.y(0));
    o += svg_open(ds.height) + axes(ds, "{:.2f}") + area + time_labels(ds) + "</svg>\n";
    return o;
}

std::string price_chart(const run_result& r, const std::vector<candle>& candles) {
    if (candles.empty()) return "";
    std::vector<point> close;
    close.reserve(candles.size());
    for (const candle& c : candles)
        close.push_back({c.close_time, c.close});
    close = downsample(close, max_points);
    const scale s = fit(close, 300, candles.front().close_time, candles.back().close_time);
    std::string o = "<h2>Price (close) and trades</h2>\n";
    const std::size_t step =
        std::max<std::size_t>(1, (r.trades.size() + max_markers - 1) / max_markers);
    if (step > 1) {
        o += fmt::format("<p class=\"note\">{} trades: every {}th is marked.</p>\n",
                         r.trades.size(), step);
    }
    o += "<p class=\"note\"><span class=\"k-long\">&#9650;</span> long entry "
         "<span class=\"k-short\">&#9660;</span> short entry "
         "<span class=\"k-exit\">&#9660;/&#9650;</span> exit (of a long / of a short)</p>\n";
    o += svg_open(s.height) + axes(s, "{:.2f}") + polyline(close, s, "price");
    // Smaller markers when there are many, so the price line stays visible between them.
    const double size = r.trades.size() > 200 ? 2.5 : 5;
    const double off = 1.5 * size;
    for (std::size_t i = 0; i < r.trades.size(); i += step) {
        const trade& t = r.trades[i];
        const bool is_long = t.side == "long";
        o += triangle(s.x(t.opened_at), s.y(t.entry_price) + (is_long ? off : -off), is_long,
                      is_long ? "m-long" : "m-short", size);
        o += triangle(s.x(t.closed_at), s.y(t.exit_price) + (is_long ? -off : off), !is_long,
                      "m-exit", size);
    }
    o += time_labels(s) + "</svg>\n";
    return o;
}

std::string value_text(const json& v) {
    if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

std::string summary_table(const json& summary) {
    std::string o = "<h2>Summary</h2>\n<table>\n";
    for (const auto& [key, value] : summary.items()) {
        if (value.is_object() || value.is_array()) continue;
        o += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", escape(key),
                         escape(value_text(value)));
    }
    for (const auto& [key, value] : summary.at("inputs").items()) {
        o += fmt::format("<tr><th>inputs.{}</th><td>{}</td></tr>\n", escape(key),
                         escape(value_text(value)));
    }
    return o + "</table>\n";
}

std::string gaps_section(const data_report& d) {
    std::string o = fmt::format(
        "<h2>Data</h2>\n<p>{} candles of {}; {} gaps ({} missing candles, not bridged: the runner "
        "saw the next real candle); {} flat zero-volume candles; {} out-of-order rows dropped."
        "</p>\n",
        d.candles, escape(interval_name(d.interval_ms)), d.gaps.size(), d.missing_candles,
        d.flat_zero_volume, d.out_of_order);
    if (d.gaps.empty()) return o;
    o += "<table>\n<tr><th>first missing candle</th><th>missing</th></tr>\n";
    for (std::size_t i = 0; i < d.gaps.size() && i < max_gap_rows; ++i) {
        o += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", engine::iso_time(d.gaps[i].from),
                         d.gaps[i].missing);
    }
    o += "</table>\n";
    if (d.gaps.size() > max_gap_rows) {
        o += fmt::format("<p class=\"note\">and {} more (summary.json lists all).</p>\n",
                         d.gaps.size() - max_gap_rows);
    }
    return o;
}

std::string trades_section(const run_result& r) {
    std::string o = fmt::format("<h2>Trades ({})</h2>\n", r.trades.size());
    if (r.trades.empty()) return o;
    o += "<table>\n<tr><th>side</th><th>opened</th><th>entry</th><th>closed</th><th>exit</th>"
         "<th>fees</th><th>net pnl</th><th>exit reason</th></tr>\n";
    for (std::size_t i = 0; i < r.trades.size() && i < max_trade_rows; ++i) {
        const trade& t = r.trades[i];
        o += fmt::format(
            "<tr><td>{}</td><td>{}</td><td>{:.6g}</td><td>{}</td><td>{:.6g}</td><td>{:.4f}</td>"
            "<td class=\"{}\">{:.4f}</td><td>{}</td></tr>\n",
            escape(t.side), engine::iso_time(t.opened_at).substr(0, 19), t.entry_price,
            engine::iso_time(t.closed_at).substr(0, 19), t.exit_price, t.fees,
            t.net_pnl >= 0 ? "pos" : "neg", t.net_pnl, escape(t.exit_reason));
    }
    o += "</table>\n";
    if (r.trades.size() > max_trade_rows) {
        o += fmt::format("<p class=\"note\">and {} more (trades.csv lists all).</p>\n",
                         r.trades.size() - max_trade_rows);
    }
    return o;
}

constexpr const char* style = R"(<style>
body{font:14px sans-serif;margin:20px;color:#222;max-width:1040px}
h1{font-size:20px}h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}
th{background:#f3f3f3;font-weight:normal}td.pos{color:#1a7f37}td.neg{color:#c62828}
.note{color:#555}.frame{fill:#fcfcfc;stroke:#bbb}.lbl{font-size:11px;fill:#555}
.equity{fill:none;stroke:#1f5fbf;stroke-width:1.2}.price{fill:none;stroke:#444;stroke-width:1}
.dd{fill:#e57373;fill-opacity:.6;stroke:#c62828;stroke-width:.6}
.m-long{fill:#1a7f37}.m-short{fill:#7b1fa2}.m-exit{fill:#d32f2f}
.k-long{color:#1a7f37}.k-short{color:#7b1fa2}.k-exit{color:#d32f2f}
</style>
)";

}  // namespace

std::string render_report(const json& summary, const run_result& r,
                          const std::vector<candle>& candles, const data_report& d) {
    std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    o += fmt::format("<title>tradingd backtest: {}</title>\n", escape(r.stats.symbol));
    o += style;
    o += "</head>\n<body>\n";
    o += fmt::format(
        "<h1>Backtest {} ({})</h1>\n<p>{} candles, {} trades, net P&amp;L {:.2f} ({:+.2f} %), "
        "max drawdown {:.2f} %, Sharpe {:.2f}.</p>\n",
        escape(r.stats.symbol), escape(interval_name(r.stats.interval_ms)), r.stats.candles,
        r.stats.trades, r.stats.net_pnl, r.stats.return_pct, r.stats.max_drawdown_pct,
        r.stats.sharpe);
    o += equity_charts(r);
    o += price_chart(r, candles);
    o += summary_table(summary);
    o += gaps_section(d);
    o += trades_section(r);
    o += "</body>\n</html>\n";
    return o;
}

}  // namespace tradingd::backtest::detail
