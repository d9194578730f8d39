// render_metrics: the GET /metrics body, Prometheus text exposition format 0.0.4.
//
// Each family is assembled whole (all its samples under one # HELP / # TYPE pair) before the
// next one starts: the format forbids a family appearing twice, and promtool rejects it. A
// family without samples (no runners, no connections) is left out entirely, as the client
// libraries do for a vector with no children.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include <tradingd/status/daemon_status.hpp>

namespace tradingd::status {
namespace {

/// A sample value: counters of events stay exact integers, everything else is a double.
using metric_value = std::variant<std::uint64_t, std::int64_t, double>;

/// Prometheus float text: Go's ParseFloat accepts fmt's shortest round-trip form ("1e-06",
/// "0.5", "-2"); the non-finite values have their own spellings.
std::string float_text(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

std::string value_text(const metric_value& v) {
    if (const auto* d = std::get_if<double>(&v)) return float_text(*d);
    return std::visit([](auto x) { return fmt::format("{}", x); }, v);
}

/// Label value escaping of the text format: backslash, double quote and line feed.
std::string escape_label(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

/// `{symbol="BTCUSDT"}` style label set (empty string for none).
class labels {
public:
    labels() = default;
    labels(std::string_view name, std::string_view value) { add(name, value); }

    labels& add(std::string_view name, std::string_view value) {
        text_ += text_.empty() ? "{" : ",";
        text_ += fmt::format("{}=\"{}\"", name, escape_label(value));
        return *this;
    }
    std::string str() const { return text_.empty() ? std::string() : text_ + "}"; }

private:
    std::string text_;
};

/// One metric family being assembled: header and samples are written out together by flush().
class family {
public:
    family(std::string_view name, std::string_view type, std::string_view help)
        : name_(name), type_(type), help_(help) {}

    /// A sample of this family; `suffix` is "_bucket", "_sum", "_count" for histograms.
    void sample(const labels& l, const metric_value& v, std::string_view suffix = {}) {
        body_ += fmt::format("{}{}{} {}\n", name_, suffix, l.str(), value_text(v));
    }

    void flush(std::string& out) const {
        if (body_.empty()) return;
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_, type_);
        out += body_;
    }

private:
    std::string_view name_;
    std::string_view type_;
    std::string_view help_;
    std::string body_;
};

/// A per-runner family whose only label is the symbol.
struct runner_metric {
    std::string_view name;
    std::string_view type;
    std::string_view help;
    metric_value (*value)(const runner_status&);
};

double flag(bool b) {
    return b ? 1.0 : 0.0;
}

double signed_quantity(const runner_status& r) {
    if (!r.position) return 0.0;
    return r.position->side == "short" ? -r.position->quantity : r.position->quantity;
}

// clang-format off
constexpr runner_metric runner_gauges[] = {
    {"tradingd_runner_healthy", "gauge",
     "1 when the runner is not wedged, not suspended and has a script loaded.",
     [](const runner_status& r) -> metric_value {
         return flag(!r.wedged && !r.suspended && r.script_loaded); }},
    {"tradingd_strategy_suspended", "gauge", "1 while the symbol's strategy is suspended.",
     [](const runner_status& r) -> metric_value { return flag(r.suspended); }},
    {"tradingd_runner_wedged", "gauge", "1 while the watchdog sees the runner stuck in one event.",
     [](const runner_status& r) -> metric_value { return flag(r.wedged); }},
    {"tradingd_position_quantity", "gauge",
     "Open position quantity in base currency: positive long, negative short, 0 flat.",
     [](const runner_status& r) -> metric_value { return signed_quantity(r); }},
    {"tradingd_realized_pnl", "gauge", "Realized P&L net of fees since the account opened.",
     [](const runner_status& r) -> metric_value { return r.realized_pnl; }},
    {"tradingd_daily_realized_pnl", "gauge", "Realized P&L net of fees for the current UTC day.",
     [](const runner_status& r) -> metric_value { return r.daily_realized_pnl; }},
    {"tradingd_unrealized_pnl", "gauge",
     "Unrealized P&L of the open position at the last quote (0 when flat).",
     [](const runner_status& r) -> metric_value {
         return r.position ? r.position->unrealized_pnl : 0.0; }},
    {"tradingd_last_price", "gauge", "Last trade or close price seen (0 before the first).",
     [](const runner_status& r) -> metric_value { return r.last_price; }},
    {"tradingd_lua_memory_bytes", "gauge", "Memory held by the symbol's Lua state.",
     [](const runner_status& r) -> metric_value {
         return static_cast<std::uint64_t>(r.lua_memory_bytes); }},
};

constexpr runner_metric runner_counters[] = {
    {"tradingd_events_total", "counter", "Market events processed.",
     [](const runner_status& r) -> metric_value { return r.events; }},
    {"tradingd_events_dropped_total", "counter",
     "Market events dropped while the runner was wedged with a full queue.",
     [](const runner_status& r) -> metric_value { return r.events_dropped; }},
    {"tradingd_candles_total", "counter", "Closed candles processed.",
     [](const runner_status& r) -> metric_value { return r.candles; }},
    {"tradingd_strategy_calls_total", "counter", "Calls into the Lua strategy.",
     [](const runner_status& r) -> metric_value { return r.strategy_calls; }},
    {"tradingd_lua_errors_total", "counter", "Strategy calls that raised a Lua error.",
     [](const runner_status& r) -> metric_value { return r.strategy_errors; }},
    {"tradingd_lua_budget_aborts_total", "counter",
     "Strategy calls aborted for exceeding the instruction/time budget.",
     [](const runner_status& r) -> metric_value { return r.budget_aborts; }},
    {"tradingd_lua_memory_aborts_total", "counter",
     "Strategy calls aborted for exceeding the memory cap.",
     [](const runner_status& r) -> metric_value { return r.memory_aborts; }},
    {"tradingd_auto_exits_total", "counter", "Positions closed by stop loss or take profit.",
     [](const runner_status& r) -> metric_value { return r.auto_exits; }},
    {"tradingd_trades_total", "counter", "Closed round trips.",
     [](const runner_status& r) -> metric_value { return r.trades; }},
    {"tradingd_fees_total", "counter", "Fees paid, in quote currency.",
     [](const runner_status& r) -> metric_value { return r.fees; }},
    {"tradingd_script_reloads_total", "counter", "Strategy script versions installed by reload.",
     [](const runner_status& r) -> metric_value { return r.script_reloads; }},
    {"tradingd_script_reload_failures_total", "counter", "Strategy script reloads refused.",
     [](const runner_status& r) -> metric_value { return r.script_reload_failures; }},
};
// clang-format on

void write_runner_family(std::string& out, const daemon_status& s, const runner_metric& m) {
    family f(m.name, m.type, m.help);
    for (const runner_status& r : s.runners)
        f.sample(labels("symbol", r.symbol), m.value(r));
    f.flush(out);
}

/// A single-sample family without labels.
void write_scalar(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, const metric_value& v) {
    family f(name, type, help);
    f.sample(labels(), v);
    f.flush(out);
}

std::uint64_t journal_lag(const journal_status& j) {
    return j.last_seq > j.synced_seq ? j.last_seq - j.synced_seq : 0;
}

void write_process_gauges(std::string& out, const daemon_status& s) {
    family build("tradingd_build_info", "gauge", "Build information; the value is always 1.");
    build.sample(labels("version", s.version), 1.0);
    build.flush(out);
    write_scalar(out, "tradingd_uptime_seconds", "gauge", "Seconds since the daemon started.",
                 s.uptime_s);
    write_scalar(out, "tradingd_halted", "gauge", "1 while the kill switch is engaged.",
                 flag(s.risk.halted));
    write_scalar(out, "tradingd_orders_last_minute", "gauge",
                 "Orders sent in the last 60 seconds, all symbols.", s.risk.orders_last_minute);
    write_scalar(out, "tradingd_journal_healthy", "gauge", "1 while the journal accepts records.",
                 flag(s.journal.healthy));
    write_scalar(out, "tradingd_journal_lag_records", "gauge",
                 "Journal records appended but not yet known to be on disk.",
                 journal_lag(s.journal));
    write_scalar(out, "tradingd_journal_last_seq", "gauge",
                 "Sequence number of the newest journal record.", s.journal.last_seq);
}

void write_runner_gauges(std::string& out, const daemon_status& s) {
    for (const runner_metric& m : runner_gauges)
        write_runner_family(out, s, m);

    std::uint64_t open = 0;
    for (const runner_status& r : s.runners)
        open += r.position ? 1 : 0;
    write_scalar(out, "tradingd_positions_open", "gauge", "Runners holding an open position.",
                 open);

    family age("tradingd_market_data_age_seconds", "gauge",
               "Wall-clock seconds since the runner processed its last market event.");
    for (const runner_status& r : s.runners) {
        if (r.last_event_wall_ms == 0) continue;  // no event yet: no age to report
        age.sample(labels("symbol", r.symbol),
                   static_cast<double>(s.now_wall_ms - r.last_event_wall_ms) / 1000.0);
    }
    age.flush(out);
}

void write_feed(std::string& out, const daemon_status& s) {
    const auto& conns = s.feed.connections;
    family connected("tradingd_feed_connected", "gauge", "1 while the feed connection is open.");
    family age("tradingd_feed_message_age_seconds", "gauge",
               "Seconds since the feed connection last received a message.");
    family reconnects("tradingd_feed_reconnects_total", "counter", "Feed connection reconnects.");
    family messages("tradingd_feed_messages_total", "counter", "Feed messages received.");
    for (const connection_status& c : conns) {
        const labels l("connection", c.name);
        connected.sample(l, flag(c.state == "open"));
        if (c.last_message_age_ms >= 0) {
            age.sample(l, static_cast<double>(c.last_message_age_ms) / 1000.0);
        }
        reconnects.sample(l, c.reconnects);
        messages.sample(l, c.messages);
    }
    for (const family* f : {&connected, &age, &reconnects, &messages})
        f->flush(out);
}

void write_global_counters(std::string& out, const daemon_status& s) {
    write_scalar(out, "tradingd_config_reloads_total", "counter", "Configuration reloads applied.",
                 s.config_reloads);
    write_scalar(out, "tradingd_config_reload_failures_total", "counter",
                 "Configuration reloads refused.", s.config_reload_failures);
    write_scalar(out, "tradingd_journal_records_total", "counter",
                 "Journal records appended since start.", s.journal.appended);
}

void write_risk_refusals(std::string& out, const daemon_status& s) {
    family f("tradingd_risk_refusals_total", "counter",
             "Strategy actions refused by a risk limit.");
    for (const runner_status& r : s.runners) {
        // A limit listed twice must not become two samples with the same labels.
        std::map<std::string, std::uint64_t> by_limit;
        for (const risk_refusal_count& c : r.risk_refusals)
            by_limit[c.limit] += c.count;
        for (const auto& [limit, count] : by_limit) {
            f.sample(labels("symbol", r.symbol).add("limit", limit), count);
        }
    }
    f.flush(out);
}

/// The `le` label texts, computed once so that every symbol carries identical bucket labels.
const std::array<std::string, call_latency_bounds_s.size()>& bucket_bounds_text() {
    static const auto texts = [] {
        std::array<std::string, call_latency_bounds_s.size()> t;
        for (std::size_t i = 0; i < t.size(); ++i)
            t[i] = float_text(call_latency_bounds_s[i]);
        return t;
    }();
    return texts;
}

void write_call_latency(std::string& out, const daemon_status& s) {
    family f("tradingd_strategy_call_duration_seconds", "histogram",
             "Duration of timed (sampled) strategy calls.");
    const auto& bounds = bucket_bounds_text();
    for (const runner_status& r : s.runners) {
        const latency_histogram& h = r.call_latency;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.buckets.size(); ++i) {
            cumulative += h.buckets[i];
            f.sample(labels("symbol", r.symbol).add("le", bounds[i]), cumulative, "_bucket");
        }
        // Buckets and count are published together, so count >= the bucket sum; should a
        // snapshot ever disagree, keep the histogram monotonic rather than emit a +Inf bucket
        // smaller than a finite one.
        const std::uint64_t total = std::max(h.count, cumulative);
        f.sample(labels("symbol", r.symbol).add("le", "+Inf"), total, "_bucket");
        f.sample(labels("symbol", r.symbol), h.sum_s, "_sum");
        f.sample(labels("symbol", r.symbol), total, "_count");
    }
    f.flush(out);
}

}  // namespace

std::string render_metrics(const daemon_status& s) {
    std::string out;
    out.reserve(4096 + s.runners.size() * 4096);
    write_process_gauges(out, s);
    write_runner_gauges(out, s);
    for (const runner_metric& m : runner_counters)
        write_runner_family(out, s, m);
    write_risk_refusals(out, s);
    write_feed(out, s);
    write_global_counters(out, s);
    write_call_latency(out, s);
    return out;
}

}  // namespace tradingd::status
