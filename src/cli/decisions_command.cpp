// `tradingd decisions` (the decision log as a table or JSON lines) and `tradingd why` (what a
// runner did at one time, and why), both read from every file of the decision log.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <iomanip>
#include <ostream>
#include <sstream>

#include <tradingd/cli/commands.hpp>
#include <tradingd/engine/decision_log.hpp>

#include "decision_reader.hpp"

namespace tradingd::cli {
namespace {

using detail::decision_line;
using detail::number_of;
using detail::short_number;
using detail::text_of;
using json = nlohmann::ordered_json;

/// Reads `count` digits at `pos` into `out`; advances `pos`.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t count, int& out) {
    if (pos + count > s.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const char c = s[pos + i];
        if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
        out = out * 10 + (c - '0');
    }
    pos += count;
    return true;
}

bool eat(std::string_view s, std::size_t& pos, char c) {
    if (pos < s.size() && s[pos] == c) {
        ++pos;
        return true;
    }
    return false;
}

/// The files of the log, or an error on `err` (and nullopt) when there are none.
std::optional<std::vector<std::filesystem::path>> log_files(const std::filesystem::path& log,
                                                            const char* command,
                                                            std::ostream& err) {
    auto files = engine::decision_log_files(log);
    if (files.empty()) {
        err << "tradingd " << command << ": no decision log at '" << log.string() << "'\n";
        return std::nullopt;
    }
    return files;
}

std::string shorten(std::string s, std::size_t max) {
    for (auto& c : s) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    if (s.size() <= max) return s;
    s.resize(max - 3);
    // Do not cut a UTF-8 sequence in half.
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80)
        s.pop_back();
    if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80) != 0) s.pop_back();
    return s + "...";
}

// ---- decisions --------------------------------------------------------------------------------

bool matches(const decisions_query& q, const decision_line& d) {
    if (q.symbol && d.symbol != *q.symbol) return false;
    if (q.since && d.ts < *q.since) return false;
    if (q.until && d.ts > *q.until) return false;
    if (q.action && text_of(d.json, "action") != *q.action && d.event != *q.action) return false;
    return true;
}

/// The "detail" column: the reason, or what an event without a reason is about.
std::string detail_text(const decision_line& d) {
    const auto& j = d.json;
    std::string reason = text_of(j, "reason");
    const std::string message = text_of(j, "message");
    if (d.event == "reloaded") {
        const std::string previous = text_of(j, "previous_hash");
        return "version " + text_of(j, "script_hash") +
               (previous.empty() ? std::string() : " (was " + previous + ")") +
               (reason.empty() ? std::string() : ": " + reason);
    }
    if (d.event == "reload_failed") {
        return "refused " + text_of(j, "refused_hash") + ": " + message;
    }
    if (!message.empty()) return reason.empty() ? message : reason + ": " + message;
    return reason;
}

std::string state_text(const decision_line& d) {
    std::string s = text_of(d.json, "state");
    const std::string to = text_of(d.json, "to");
    if (!to.empty()) s += "->" + to;
    return s;
}

std::string call_text(const decision_line& d) {
    const std::string function = text_of(d.json, "function");
    std::string action = text_of(d.json, "action");
    if (d.event == "error") action = "(error)";
    if (d.event == "fill") action = text_of(d.json, "side");
    if (function.empty()) return action;
    return function + "/" + action;
}

void print_table_header(std::ostream& out) {
    out << std::left << std::setw(25) << "TIME" << std::setw(10) << "SYMBOL" << std::setw(14)
        << "EVENT" << std::setw(22) << "STATE" << std::setw(35) << "FUNCTION/ACTION"
        << std::setw(13) << "PRICE" << std::setw(11) << "QTY" << std::setw(11) << "PNL"
        << "REASON\n";
}

void print_table_row(std::ostream& out, const decision_line& d) {
    const auto quantity = number_of(d.json, "quantity");
    const auto pnl = number_of(d.json, "pnl");
    const auto price = number_of(d.json, "price");
    out << std::left << std::setw(25) << engine::iso_time(d.ts) << std::setw(10) << d.symbol << ' '
        << std::setw(13) << d.event << ' ' << std::setw(21) << state_text(d) << ' ' << std::setw(34)
        << call_text(d) << ' ' << std::setw(12)
        << (price && *price != 0 ? short_number(*price) : std::string("-")) << ' ' << std::setw(10)
        << (quantity ? short_number(*quantity) : std::string("-")) << ' ' << std::setw(10)
        << (pnl ? short_number(*pnl, 6) : std::string("-")) << ' ' << shorten(detail_text(d), 70)
        << '\n';
}

// ---- why --------------------------------------------------------------------------------------

/// The records of one symbol from one run of its runner: a replayed feed restarting (the sim
/// feed replays the same market times) makes the times go back, which starts a new run.
struct run_records {
    std::vector<decision_line> lines;
    std::int64_t first_ts = 0;  ///< first non-zero ts (ts 0: made before any market data)
    std::int64_t last_ts = 0;
};

std::vector<run_records> split_runs(std::vector<decision_line> lines) {
    std::vector<run_records> runs;
    std::int64_t latest = -1;
    for (auto& d : lines) {
        if (runs.empty() || d.ts < latest) {
            runs.emplace_back();
            latest = -1;
        }
        auto& run = runs.back();
        if (d.ts > 0 && run.first_ts == 0) run.first_ts = d.ts;
        latest = std::max(latest, d.ts);
        run.last_ts = latest;
        run.lines.push_back(std::move(d));
    }
    return runs;
}

/// The last run that covers `at`, else the last one that started before it, else the first.
const run_records& pick_run(const std::vector<run_records>& runs, std::int64_t at) {
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
        if (it->first_ts <= at && at <= it->last_ts) return *it;
    }
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
        if (it->first_ts != 0 && it->first_ts <= at) return *it;
    }
    return runs.front();
}

bool has_market(const decision_line& d) {
    const auto m = d.json.find("market");
    return m != d.json.end() && m->is_object() && m->contains("open_time") &&
           (*m)["open_time"].is_number_integer();
}

/// The candle interval from the call/error record nearest to `at` that carries market data.
std::optional<std::pair<std::int64_t, std::int64_t>> interval_near(const run_records& run,
                                                                   std::int64_t at) {
    std::optional<std::pair<std::int64_t, std::int64_t>> best;  // {open_time, interval}
    std::int64_t best_distance = 0;
    for (const auto& d : run.lines) {
        if (!has_market(d)) continue;
        const auto open = d.json["market"]["open_time"].get<std::int64_t>();
        const auto interval = d.ts - open + 1;
        if (interval <= 0) continue;
        const auto distance = d.ts > at ? d.ts - at : at - d.ts;
        if (!best || distance < best_distance) {
            best = std::make_pair(open, interval);
            best_distance = distance;
        }
    }
    return best;
}

const char* function_for(const std::string& state) {
    if (state == "Idle") return "detect_opportunity";
    if (state == "Analyzing") return "filter_commitment";
    if (state == "InPosition") return "manage_position";
    return "";
}

/// Why the runner called nothing at `close` (suspended, retired, no script), or "".
std::string not_called_because(const run_records& run, std::int64_t close,
                               const std::string& state) {
    const decision_line* suspended = nullptr;
    const decision_line* retired = nullptr;
    const decision_line* load_error = nullptr;
    for (const auto& d : run.lines) {
        if (d.ts >= close) break;
        if (d.event == "suspended") suspended = &d;
        if (d.event == "load_error") load_error = &d;
        if (d.event == "retired") retired = &d;
        if (d.event == "reloaded") suspended = load_error = nullptr;
        if (d.event == "reinstated") retired = nullptr;
    }
    if (load_error != nullptr) {
        return "no function was called: the script failed to load (" +
               text_of(load_error->json, "message") + ") and no version was loaded since";
    }
    if (suspended != nullptr) {
        return "no function was called: the strategy was suspended at " +
               engine::iso_time(suspended->ts) + " (" + text_of(suspended->json, "reason") +
               ") and not reloaded since";
    }
    if (retired != nullptr && state != "InPosition") {
        return "no function was called: the symbol was removed from the configuration at " +
               engine::iso_time(retired->ts) +
               " and not added back (a retired runner only manages an "
               "open position)";
    }
    return "";
}

/// Everything `why` reports, as the JSON object --json prints; the text form is rendered from it.
json explain(const std::vector<run_records>& runs, const why_query& q) {
    json r;
    r["symbol"] = q.symbol;
    r["at"] = q.at;
    r["at_time"] = engine::iso_time(q.at);
    json notes = json::array();
    if (runs.size() > 1) {
        notes.push_back("the log holds " + std::to_string(runs.size()) + " runs of " + q.symbol +
                        " whose market times restart (a replayed feed); explaining the latest "
                        "run that covers this time");
    }
    const auto& run = pick_run(runs, q.at);
    r["first_record"] = engine::iso_time(run.first_ts);
    r["last_record"] = engine::iso_time(run.last_ts);

    const auto interval = interval_near(run, q.at);
    std::int64_t open = q.at;
    std::int64_t close = q.at;
    if (interval) {
        const auto [anchor, length] = *interval;
        const auto offset = q.at - anchor;
        open =
            anchor + (offset >= 0 ? offset / length : -((-offset + length - 1) / length)) * length;
        close = open + length - 1;
        r["candle"] = {{"open_time", open},
                       {"close_time", close},
                       {"open", engine::iso_time(open)},
                       {"close", engine::iso_time(close)},
                       {"interval_ms", length}};
    } else {
        r["candle"] = nullptr;
        notes.push_back(
            "no record carries market data, so the candle boundaries cannot be told; "
            "showing the records at exactly this time");
    }

    std::string coverage = "within";
    if (run.first_ts == 0 || close < run.first_ts) {
        coverage = "before_first";
    } else if (open > run.last_ts) {
        coverage = "after_last";
    }
    r["coverage"] = coverage;

    // The records at the candle, the call (or error) among them, the state and script before.
    const decision_line* call = nullptr;
    json before_call = json::array();  // e.g. an auto-exit during the candle
    json followed = json::array();
    std::string state;
    std::string hash;
    for (const auto& d : run.lines) {
        if (d.ts < open) {
            if (d.event == "transition") state = text_of(d.json, "to");
            if (state.empty()) state = text_of(d.json, "state");
            if (!text_of(d.json, "script_hash").empty()) hash = text_of(d.json, "script_hash");
            continue;
        }
        if (d.ts > close) break;
        if (call == nullptr && d.ts == close && (d.event == "call" || d.event == "error")) {
            call = &d;
            continue;
        }
        if (call == nullptr && d.event == "transition") state = text_of(d.json, "to");
        if (call == nullptr && !text_of(d.json, "script_hash").empty()) {
            hash = text_of(d.json, "script_hash");
        }
        (call == nullptr ? before_call : followed).push_back(d.json);
    }
    if (state.empty() && !run.lines.empty()) state = text_of(run.lines.front().json, "state");
    if (call != nullptr) {
        state = text_of(call->json, "state");
        if (!text_of(call->json, "script_hash").empty()) {
            hash = text_of(call->json, "script_hash");
        }
    }
    // Records with ts 0 were made when the runner started, before any market data (load_error):
    // they hold from the start, even before the first timed record.
    const bool starts_at_startup = !run.lines.empty() && run.lines.front().ts == 0;
    if (coverage == "before_first" && call == nullptr && !starts_at_startup) state.clear();
    r["state"] = state;
    std::string function = call != nullptr ? text_of(call->json, "function") : "";
    if (function.empty()) function = function_for(state);
    r["function"] = function;

    const std::string in_state = state.empty() ? std::string() : "in " + state + "; ";
    std::string explanation;
    if (call != nullptr && call->event == "call") {
        r["result"] = "action";
        json returned;
        for (const char* key : {"action", "reason", "quantity", "stop_loss", "take_profit"}) {
            if (call->json.contains(key)) returned[key] = call->json[key];
        }
        r["returned"] = std::move(returned);
        explanation = in_state + function + " returned " + text_of(call->json, "action") + ": " +
                      text_of(call->json, "reason");
    } else if (call != nullptr) {
        r["result"] = "error";
        r["returned"] = {{"message", text_of(call->json, "message")}};
        explanation =
            "in " + state + "; " + function + " failed: " + text_of(call->json, "message");
    } else if (auto why_not = coverage == "before_first" && !starts_at_startup
                                  ? std::string()
                                  : not_called_because(run, close, state);
               !why_not.empty()) {
        r["result"] = "not_called";
        explanation = in_state + why_not;
    } else if (coverage != "within") {
        r["result"] = "unknown";
        explanation = coverage == "before_first"
                          ? "this is before the first record for " + q.symbol + " (" +
                                engine::iso_time(run.first_ts) +
                                "): the log cannot tell whether the runner was running"
                          : "this is after the last record for " + q.symbol + " (" +
                                engine::iso_time(run.last_ts) +
                                "): every call may have returned nil or the daemon was not "
                                "running; the log cannot tell which";
    } else {
        r["result"] = "nil";
        explanation =
            in_state + function + " returned nil (no record: calls that return nil are not logged)";
    }
    r["explanation"] = explanation;
    r["market"] = call != nullptr && call->json.contains("market") ? call->json["market"] : json();
    r["indicators"] =
        call != nullptr && call->json.contains("indicators") ? call->json["indicators"] : json();
    r["script_hash"] = hash.empty() ? json() : json(hash);
    r["before_call"] = std::move(before_call);
    r["followed"] = std::move(followed);
    r["notes"] = std::move(notes);
    return r;
}

std::string value_text(const json& v) {
    if (v.is_null()) return "not ready";
    if (v.is_number()) return short_number(v.get<double>());
    if (v.is_array()) {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) s += ", ";
            s += value_text(v[i]);
        }
        return s + "]";
    }
    return v.dump();
}

/// One line about a record that followed the call: "fill buy 0.01 @ 30257.51 (fee 0.30)".
std::string followed_text(const json& j) {
    const std::string event = text_of(j, "event");
    std::ostringstream s;
    s << engine::iso_time(j["ts"].get<std::int64_t>()) << "  " << event;
    const auto price = number_of(j, "price");
    if (event == "transition") {
        s << " " << text_of(j, "state") << " -> " << text_of(j, "to");
    } else if (event == "fill") {
        s << " " << text_of(j, "side") << " " << short_number(number_of(j, "quantity").value_or(0))
          << " @ " << short_number(price.value_or(0));
        if (auto fee = number_of(j, "fee")) s << " (fee " << short_number(*fee, 6) << ")";
        if (auto pnl = number_of(j, "pnl")) s << ", trade P&L " << short_number(*pnl, 6);
    } else if (event == "auto_exit") {
        s << " at " << short_number(price.value_or(0));
    } else if (price && *price != 0) {
        s << " (price " << short_number(*price) << ")";
    }
    json jj = j;
    decision_line d;
    d.event = event;
    d.json = std::move(jj);
    const std::string detail = detail_text(d);
    if (!detail.empty()) s << ": " << shorten(detail, 100);
    return s.str();
}

void print_why_text(const json& r, std::ostream& out) {
    const auto row = [&out](const char* label) -> std::ostream& {
        return out << std::left << std::setw(13) << label;
    };
    out << r["symbol"].get<std::string>() << " at " << r["at_time"].get<std::string>() << "\n";
    if (r["candle"].is_object()) {
        const auto& c = r["candle"];
        row("candle:") << c["open"].get<std::string>() << " .. " << c["close"].get<std::string>()
                       << " (" << c["interval_ms"].get<std::int64_t>() / 1000 << " s)\n";
    }
    const auto or_unknown = [](const json& v) {
        const auto s = v.get<std::string>();
        return s.empty() ? std::string("unknown") : s;
    };
    row("state:") << or_unknown(r["state"]) << "\n";
    row("function:") << or_unknown(r["function"]) << "\n";
    bool first = true;
    for (const auto& f : r["before_call"]) {
        row(first ? "before call:" : "") << followed_text(f) << "\n";
        first = false;
    }
    const auto result = r["result"].get<std::string>();
    if (result == "action") {
        const auto& ret = r["returned"];
        row("returned:") << text_of(ret, "action");
        for (const char* key : {"quantity", "stop_loss", "take_profit"}) {
            if (auto v = number_of(ret, key)) out << " " << key << "=" << short_number(*v);
        }
        out << "\n";
        row("reason:") << text_of(ret, "reason") << "\n";
    } else if (result == "error") {
        row("returned:") << "error: " << text_of(r["returned"], "message") << "\n";
    } else if (result == "nil") {
        row("returned:") << "nil (no record)\n";
    }
    row("why:") << r["explanation"].get<std::string>() << "\n";
    if (r["market"].is_object()) {
        const auto& m = r["market"];
        row("market:");
        const char* separator = "";
        for (const char* key : {"open", "high", "low", "close", "volume", "bid", "ask"}) {
            if (auto v = number_of(m, key)) {
                out << separator << key << " " << short_number(*v);
                separator = "  ";
            }
        }
        out << "\n";
    } else if (result == "nil") {
        row("market:") << "not logged (calls that return nil are not recorded)\n";
    }
    if (r["indicators"].is_object()) {
        first = true;
        for (const auto& [name, value] : r["indicators"].items()) {
            row(first ? "indicators:" : "") << name << " = " << value_text(value) << "\n";
            first = false;
        }
    }
    row("script:") << (r["script_hash"].is_string() ? r["script_hash"].get<std::string>()
                                                    : std::string("unknown (none recorded)"))
                   << "\n";
    first = true;
    for (const auto& f : r["followed"]) {
        row(first ? "then:" : "") << followed_text(f) << "\n";
        first = false;
    }
    for (const auto& note : r["notes"]) {
        row("note:") << note.get<std::string>() << "\n";
    }
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0)
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0)
        text.remove_suffix(1);
    if (text.empty()) return std::nullopt;
    if (std::all_of(text.begin(), text.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
        if (text.size() > 15) return std::nullopt;
        return std::stoll(std::string(text));
    }
    std::size_t pos = 0;
    int year = 0;
    int month = 0;
    int day = 0;
    if (!read_digits(text, pos, 4, year) || !eat(text, pos, '-') ||
        !read_digits(text, pos, 2, month) || !eat(text, pos, '-') ||
        !read_digits(text, pos, 2, day)) {
        return std::nullopt;
    }
    int hour = 0;
    int minute = 0;
    int second = 0;
    int millis = 0;
    if (eat(text, pos, 'T') || eat(text, pos, 't') || eat(text, pos, ' ')) {
        if (!read_digits(text, pos, 2, hour) || !eat(text, pos, ':') ||
            !read_digits(text, pos, 2, minute)) {
            return std::nullopt;
        }
        if (eat(text, pos, ':')) {
            if (!read_digits(text, pos, 2, second)) return std::nullopt;
            if (eat(text, pos, '.')) {
                int scale = 100;
                const std::size_t start = pos;
                while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
                    millis += (text[pos] - '0') * scale;
                    scale /= 10;
                    ++pos;
                }
                if (pos == start) return std::nullopt;
            }
        }
        if (!eat(text, pos, 'Z')) eat(text, pos, 'z');
    }
    if (pos != text.size() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year(year),
                                          std::chrono::month(static_cast<unsigned>(month)),
                                          std::chrono::day(static_cast<unsigned>(day))};
    if (!ymd.ok()) return std::nullopt;
    const auto days = std::chrono::sys_days(ymd).time_since_epoch().count();
    return ((static_cast<std::int64_t>(days) * 24 + hour) * 60 + minute) * 60'000 +
           static_cast<std::int64_t>(second) * 1000 + millis;
}

int print_decisions(const decisions_query& q, std::ostream& out, std::ostream& err) {
    const auto files = log_files(q.log, "decisions", err);
    if (!files) return 1;
    if (!q.json) print_table_header(out);
    std::size_t shown = 0;
    const auto skipped = detail::read_decision_log(*files, err, [&](decision_line&& d) {
        if (!matches(q, d)) return;
        ++shown;
        if (q.json) {
            out << d.text << '\n';
        } else {
            print_table_row(out, d);
        }
    });
    if (skipped > 0) err << "tradingd decisions: " << skipped << " malformed line(s) skipped\n";
    if (shown == 0 && !q.json) out << "(no matching records)\n";
    out.flush();
    return out ? 0 : 1;
}

int explain_decision(const why_query& q, std::ostream& out, std::ostream& err) {
    const auto files = log_files(q.log, "why", err);
    if (!files) return 1;
    std::vector<decision_line> lines;
    const auto skipped = detail::read_decision_log(*files, err, [&](decision_line&& d) {
        if (d.symbol == q.symbol) lines.push_back(std::move(d));
    });
    if (skipped > 0) err << "tradingd why: " << skipped << " malformed line(s) skipped\n";
    if (lines.empty()) {
        err << "tradingd why: the decision log has no records for " << q.symbol << "\n";
        return 1;
    }
    const auto report = explain(split_runs(std::move(lines)), q);
    if (q.json) {
        out << report.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    } else {
        print_why_text(report, out);
    }
    out.flush();
    return out ? 0 : 1;
}

}  // namespace tradingd::cli
