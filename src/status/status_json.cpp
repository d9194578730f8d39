// render_status_json: the GET /status document, a JSON rendering of the whole snapshot.
//
// nlohmann::json writes non-finite doubles as null, so a NaN P&L never yields invalid JSON;
// text from outside (error messages, hashes) is dumped with invalid UTF-8 replaced, not thrown.

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <tradingd/status/daemon_status.hpp>

namespace tradingd::status {
namespace {

using nlohmann::json;

/// ISO-8601 UTC with milliseconds, e.g. "2026-03-01T12:00:05.250Z".
std::string iso8601_utc_ms(std::int64_t wall_ms) {
    using namespace std::chrono;
    const sys_time<milliseconds> t{milliseconds{wall_ms}};
    const sys_days day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> tod{t - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                       tod.hours().count(), tod.minutes().count(), tod.seconds().count(),
                       tod.subseconds().count());
}

json optional_number(const std::optional<double>& v) {
    return v ? json(*v) : json(nullptr);
}

/// Records appended but not yet known to be on disk (never negative, even on a torn snapshot).
std::uint64_t lag_records(const journal_status& j) {
    return j.last_seq > j.synced_seq ? j.last_seq - j.synced_seq : 0;
}

json feed_json(const daemon_status& s) {
    json connections = json::array();
    for (const connection_status& c : s.feed.connections) {
        connections.push_back({{"name", c.name},
                               {"state", c.state},
                               {"reconnects", c.reconnects},
                               {"last_message_age_ms", c.last_message_age_ms},
                               {"messages", c.messages},
                               {"last_error", c.last_error}});
    }
    json symbols = json::object();
    for (const auto& [symbol, state] : s.feed.symbol_states)
        symbols[symbol] = state;
    return {{"type", s.feed.type},
            {"description", s.feed_description},
            {"running", s.feed.running},
            {"connections", std::move(connections)},
            {"symbols", std::move(symbols)}};
}

json journal_json(const journal_status& j) {
    return {{"healthy", j.healthy},       {"failure", j.failure},
            {"appended", j.appended},     {"last_seq", j.last_seq},
            {"synced_seq", j.synced_seq}, {"lag_records", lag_records(j)}};
}

json risk_json(const risk_status& r) {
    return {{"halted", r.halted},
            {"halt_reason", r.halt_reason},
            {"open_positions", r.open_positions},
            {"daily_realized_pnl", r.daily_realized_pnl},
            {"orders_last_minute", r.orders_last_minute}};
}

json position_json(const std::optional<position_status>& p) {
    if (!p) return nullptr;
    return {{"side", p->side},
            {"quantity", p->quantity},
            {"entry_price", p->entry_price},
            {"stop_loss", optional_number(p->stop_loss)},
            {"take_profit", optional_number(p->take_profit)},
            {"unrealized_pnl", p->unrealized_pnl},
            {"opened_at", p->opened_at},
            {"bars_held", p->bars_held}};
}

json script_json(const runner_status& r) {
    return {{"name", r.script},
            {"hash", r.script_hash},
            {"loaded", r.script_loaded},
            {"reloads", r.script_reloads},
            {"reload_failures", r.script_reload_failures},
            {"version_status", r.refused_hash.empty() ? "ok" : "refused"},
            {"refused_hash", r.refused_hash},
            {"reload_error", r.reload_error}};
}

json counters_json(const runner_status& r) {
    return {{"events", r.events},
            {"events_dropped", r.events_dropped},
            {"candles", r.candles},
            {"strategy_calls", r.strategy_calls},
            {"strategy_errors", r.strategy_errors},
            {"budget_aborts", r.budget_aborts},
            {"memory_aborts", r.memory_aborts},
            {"auto_exits", r.auto_exits},
            {"trades", r.trades}};
}

json latency_json(const latency_histogram& h) {
    const json mean_us =
        h.count == 0 ? json(nullptr) : json(h.sum_s * 1e6 / static_cast<double>(h.count));
    return {{"timed_calls", h.count}, {"mean_us", mean_us}};
}

/// {limit: count}; a limit listed twice is summed rather than silently overwritten.
json refusals_json(const std::vector<risk_refusal_count>& refusals) {
    std::map<std::string, std::uint64_t> by_limit;
    for (const risk_refusal_count& r : refusals)
        by_limit[r.limit] += r.count;
    json out = json::object();
    for (const auto& [limit, count] : by_limit)
        out[limit] = count;
    return out;
}

json runner_json(const daemon_status& s, const runner_status& r) {
    const json event_age =
        r.last_event_wall_ms == 0 ? json(nullptr) : json(s.now_wall_ms - r.last_event_wall_ms);
    json j = {{"symbol", r.symbol},
              {"interval", r.interval},
              {"state", r.state},
              {"position", position_json(r.position)},
              {"last_price", r.last_price},
              {"bid", r.bid},
              {"ask", r.ask},
              {"last_event_ts", r.last_event_ts},
              {"last_event_age_ms", event_age},
              {"script", script_json(r)},
              {"suspended", r.suspended},
              {"suspension_reason", r.suspension_reason},
              {"wedged", r.wedged},
              {"retiring", r.retiring},
              {"last_error", r.last_error},
              {"counters", counters_json(r)},
              {"lua_memory_bytes", r.lua_memory_bytes},
              {"call_latency", latency_json(r.call_latency)},
              {"risk_refusals", refusals_json(r.risk_refusals)},
              {"realized_pnl", r.realized_pnl},
              {"daily_realized_pnl", r.daily_realized_pnl},
              {"fees", r.fees}};
    return j;
}

}  // namespace

std::string render_status_json(const daemon_status& s) {
    json symbols = json::array();
    for (const runner_status& r : s.runners)
        symbols.push_back(runner_json(s, r));
    const json doc = {{"version", s.version},
                      {"uptime_s", s.uptime_s},
                      {"now", iso8601_utc_ms(s.now_wall_ms)},
                      {"feed", feed_json(s)},
                      {"journal", journal_json(s.journal)},
                      {"risk", risk_json(s.risk)},
                      {"config_reloads", s.config_reloads},
                      {"config_reload_failures", s.config_reload_failures},
                      {"symbols", std::move(symbols)}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace tradingd::status
