// evaluate_health / render_health_json: what /healthz answers.
//
// Every problem is one human-readable line that names what is wrong (a symbol, a feed
// connection, the journal), so an operator reading `curl /healthz` knows where to look.

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include <tradingd/status/daemon_status.hpp>

namespace tradingd::status {
namespace {

/// Milliseconds as seconds for a message: "130 s", "1.5 s" (shortest exact representation).
std::string seconds_text(std::int64_t ms) {
    return fmt::format("{} s", static_cast<double>(ms) / 1000.0);
}

/// A status line with an optional detail: "<what>: <detail>" or just "<what>".
std::string with_detail(std::string what, const std::string& detail) {
    if (!detail.empty()) what += ": " + detail;
    return what;
}

/// A thing that has never happened yet is overdue once the process has been up longer than the
/// limit: before that it simply has not had the chance.
bool never_happened_overdue(const daemon_status& s, std::int64_t limit_ms) {
    return s.uptime_s * 1000.0 > static_cast<double>(limit_ms);
}

void check_runner_staleness(const daemon_status& s, const runner_status& r,
                            const health_thresholds& t, std::vector<std::string>& problems) {
    if (t.max_event_age_ms <= 0) return;
    // A runner removed from the config that holds no position only waits to be torn down;
    // silence from it is expected.
    if (r.retiring && !r.position) return;
    const std::string limit = seconds_text(t.max_event_age_ms);
    if (r.last_event_wall_ms == 0) {
        if (never_happened_overdue(s, t.max_event_age_ms)) {
            problems.push_back(fmt::format("{}: stale: no event in {} since start (limit {})",
                                           r.symbol,
                                           seconds_text(std::llround(s.uptime_s * 1000.0)), limit));
        }
        return;
    }
    const std::int64_t age_ms = s.now_wall_ms - r.last_event_wall_ms;
    if (age_ms > t.max_event_age_ms) {
        problems.push_back(fmt::format("{}: stale: last event {} ago (limit {})", r.symbol,
                                       seconds_text(age_ms), limit));
    }
}

void check_runner(const daemon_status& s, const runner_status& r, const health_thresholds& t,
                  std::vector<std::string>& problems) {
    if (r.suspended) {
        problems.push_back(with_detail(r.symbol + ": strategy suspended", r.suspension_reason));
    }
    if (r.wedged) problems.push_back(r.symbol + ": wedged (stuck in one event)");
    if (!r.script_loaded) problems.push_back(r.symbol + ": no script loaded");
    check_runner_staleness(s, r, t, problems);
}

void check_connection(const daemon_status& s, const connection_status& c,
                      const health_thresholds& t, std::vector<std::string>& problems) {
    const std::string who = "feed " + c.name;
    if (c.state != "open") {
        // A connection that is down also stops receiving messages: its state (and the error
        // that caused it) is the problem to report, not the silence that follows.
        std::string line = who + ": " + c.state;
        if (!c.last_error.empty()) line += " (last error: " + c.last_error + ")";
        problems.push_back(std::move(line));
        return;
    }
    if (t.max_message_age_ms <= 0) return;
    if (c.last_message_age_ms < 0) {
        if (never_happened_overdue(s, t.max_message_age_ms)) {
            problems.push_back(fmt::format("{}: no message yet (limit {})", who,
                                           seconds_text(t.max_message_age_ms)));
        }
        return;
    }
    if (c.last_message_age_ms > t.max_message_age_ms) {
        problems.push_back(fmt::format("{}: no message for {} (limit {})", who,
                                       seconds_text(c.last_message_age_ms),
                                       seconds_text(t.max_message_age_ms)));
    }
}

void check_feed(const daemon_status& s, const health_thresholds& t,
                std::vector<std::string>& problems) {
    if (!s.feed.running) {
        // A stopped feed has stopped every connection: one line says it all.
        problems.push_back("feed: not running");
        return;
    }
    for (const connection_status& c : s.feed.connections)
        check_connection(s, c, t, problems);
}

}  // namespace

health evaluate_health(const daemon_status& s, const health_thresholds& t) {
    health h;
    for (const runner_status& r : s.runners)
        check_runner(s, r, t, h.problems);
    check_feed(s, t, h.problems);
    if (!s.journal.healthy) {
        h.problems.push_back("journal: " + (s.journal.failure.empty() ? std::string("unhealthy")
                                                                      : s.journal.failure));
    }
    h.ok = h.problems.empty();
    return h;
}

std::string render_health_json(const health& h) {
    nlohmann::json j;
    j["status"] = h.ok ? "ok" : "unhealthy";
    if (!h.ok) j["problems"] = h.problems;
    // Problem lines carry error text from elsewhere (exchange, OS); never let invalid UTF-8 in
    // it turn a health answer into an exception.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tradingd::status
