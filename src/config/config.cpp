// Config loading: toml++ parses, then one small parser per section reads its table through
// table_reader, which records every problem (type, range, missing, unknown key) instead of
// stopping at the first; the whole list is thrown as one config_error at the end.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <system_error>

#include <tradingd/config/config.hpp>
#include <tradingd/core/url.hpp>

#include "service_sections.hpp"
#include "toml_reader.hpp"

namespace tradingd::config {

namespace {

namespace fs = std::filesystem;
using detail::integer_range;
using detail::number_range;
using detail::presence;
using detail::problem_list;
using detail::read_integer;
using detail::read_integer_as;
using detail::read_number;
using detail::read_path;
using detail::read_string;
using detail::table_reader;
using detail::type_name;

constexpr double k_inf = std::numeric_limits<double>::infinity();
constexpr number_range k_positive{0, k_inf, true};
constexpr std::string_view k_log_levels[] = {"trace", "debug",    "info", "warn",
                                             "error", "critical", "off"};
// Kept in the order of interval_ms()'s table (core/market_types.hpp); a test checks each parses.
constexpr std::string_view k_intervals =
    "1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w";
// 9999-12-31T23:59:59.999Z: keeps start_time arithmetic far from overflow.
constexpr std::int64_t k_max_time_ms = 253'402'300'799'999;

/// What the section parsers share: where relative paths start, and whether scripts can be
/// checked (not when strategies_dir itself is missing or wrong: that is reported once).
struct parse_state {
    fs::path base_dir;
    bool strategies_dir_ok = false;
};

[[noreturn]] void throw_problems(const problem_list& problems) {
    std::string what;
    for (const auto& p : problems.items()) {
        if (!what.empty()) what += '\n';
        what += p;
    }
    throw config_error(what, problems.items());
}

bool is_symbol_name(const std::string& s) {
    if (s.size() < 2 || s.size() > 20) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
}

bool is_strategy_name(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

// ---- [daemon] -----------------------------------------------------------------------------

void check_log_level(table_reader& t, daemon_config& d) {
    const auto* node = t.take("log_level");
    if (!read_string(t, "log_level", d.log_level)) return;
    if (std::find(std::begin(k_log_levels), std::end(k_log_levels), d.log_level) !=
        std::end(k_log_levels)) {
        return;
    }
    t.report(*node, "log_level",
             "unsupported log level '" + d.log_level +
                 "' (expected one of trace, debug, info, warn, error, critical, off)");
}

void check_strategies_dir(table_reader& t, const daemon_config& d, parse_state& state) {
    std::error_code ec;
    if (fs::is_directory(d.strategies_dir, ec)) {
        state.strategies_dir_ok = true;
        return;
    }
    t.report(*t.take("strategies_dir"), "strategies_dir",
             "directory not found: " + d.strategies_dir.string());
}

daemon_config parse_daemon(table_reader t, parse_state& state) {
    daemon_config d;
    check_log_level(t, d);
    const bool has_state_dir =
        read_path(t, "state_dir", state.base_dir, d.state_dir, presence::required);
    if (!read_path(t, "decision_log", state.base_dir, d.decision_log) && has_state_dir) {
        d.decision_log = d.state_dir / "decisions.jsonl";
    }
    if (read_path(t, "strategies_dir", state.base_dir, d.strategies_dir, presence::required)) {
        check_strategies_dir(t, d, state);
    }
    detail::read_bool(t, "hot_reload", d.hot_reload);
    read_integer(t, "reload_debounce_ms", {0, 10'000}, d.reload_debounce_ms);
    const toml::node* missing_node = t.take("allow_missing_scripts");
    if (detail::read_bool(t, "allow_missing_scripts", d.allow_missing_scripts) &&
        d.allow_missing_scripts && !d.hot_reload) {
        t.report(*missing_node, "allow_missing_scripts",
                 "needs hot_reload = true (a missing script could never be picked up)");
    }
    const toml::node* removed_node = t.take("on_symbol_removed");
    if (read_string(t, "on_symbol_removed", d.on_symbol_removed) && d.on_symbol_removed != "keep" &&
        d.on_symbol_removed != "flatten") {
        t.report(
            *removed_node, "on_symbol_removed",
            "unsupported value '" + d.on_symbol_removed + "' (expected \"keep\" or \"flatten\")");
    }
    read_integer(t, "decision_log_max_mb", {1, 100'000}, d.decision_log_max_mb);
    read_integer(t, "decision_log_keep_days", {0, 36'500}, d.decision_log_keep_days);
    read_path(t, "log_file", state.base_dir, d.log_file);
    read_integer(t, "log_file_max_mb", {1, 100'000}, d.log_file_max_mb);
    read_integer_as(t, "log_file_count", {1, 1'000}, d.log_file_count);
    t.reject_unknown_keys();
    return d;
}

// ---- [feed] and [feed.sim] -----------------------------------------------------------------

void read_speed(table_reader& t, double& out) {
    const toml::node* node = t.take("speed");
    if (node == nullptr) return;
    if (const auto* s = node->as_string()) {
        if (s->get() == "max") {
            out = 0;  // 0 means "as fast as possible" (see sim_feed_config::speed)
        } else {
            t.report(*node, "speed",
                     "expected a number > 0 or \"max\", got string '" + s->get() + "'");
        }
        return;
    }
    read_number(t, "speed", k_positive, out);
}

/// Epoch milliseconds of an offset date-time; nothing for a local one (no offset: ambiguous).
std::optional<timestamp_ms> to_epoch_ms(const toml::date_time& dt) {
    if (!dt.offset) return std::nullopt;
    using namespace std::chrono;
    const year_month_day ymd{year{dt.date.year}, month{dt.date.month}, day{dt.date.day}};
    const std::int64_t days = sys_days{ymd}.time_since_epoch().count();
    const std::int64_t seconds = days * 86'400 + std::int64_t{dt.time.hour} * 3'600 +
                                 std::int64_t{dt.time.minute} * 60 + dt.time.second -
                                 std::int64_t{dt.offset->minutes} * 60;
    return seconds * 1'000 + dt.time.nanosecond / 1'000'000;
}

/// "2024-01-01T00:00:00Z" written as a string: parsed with the TOML date-time grammar (RFC 3339).
std::optional<timestamp_ms> parse_time_string(const std::string& text) {
    // Only date-time characters, so the text cannot smuggle in other TOML.
    const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '-' || c == ':' || c == '.' || c == '+' || c == 'T' ||
               c == 't' || c == 'Z' || c == 'z' || c == ' ';
    });
    if (!plain) return std::nullopt;
    try {
        const toml::table doc = toml::parse("t = " + text);
        const auto* dt = doc.get_as<toml::date_time>("t");
        if (doc.size() != 1 || dt == nullptr) return std::nullopt;
        return to_epoch_ms(dt->get());
    } catch (const toml::parse_error&) {
        return std::nullopt;  // reported by the caller with the offending text
    }
}

void read_start_time(table_reader& t, timestamp_ms& out) {
    const toml::node* node = t.take("start_time");
    if (node == nullptr) return;
    std::optional<timestamp_ms> ms;
    if (node->is_integer()) {
        read_integer(t, "start_time", {0, k_max_time_ms}, out);
        return;
    }
    if (const auto* dt = node->as_date_time()) {
        ms = to_epoch_ms(dt->get());
    } else if (const auto* s = node->as_string()) {
        ms = parse_time_string(s->get());
    } else {
        t.report(
            *node, "start_time",
            "expected integer milliseconds or a date-time, got " + std::string(type_name(*node)));
        return;
    }
    if (!ms || *ms < 0 || *ms > k_max_time_ms) {
        t.report(*node, "start_time",
                 "expected a UTC date-time with offset after 1970, e.g. 2024-01-01T00:00:00Z");
        return;
    }
    out = *ms;
}

sim_feed_config parse_sim_feed(table_reader t) {
    sim_feed_config c;
    read_integer_as(t, "seed", {0, std::numeric_limits<std::int64_t>::max()}, c.seed);
    read_speed(t, c.speed);
    read_integer_as(t, "ticks_per_candle", {1, 10'000}, c.ticks_per_candle);
    read_integer_as(t, "warmup_candles", {0, 100'000}, c.warmup_candles);
    read_start_time(t, c.start_time);
    t.reject_unknown_keys();
    return c;
}

void read_url(table_reader& t, std::string_view key, std::string_view scheme, std::string& out) {
    std::string text;
    if (!read_string(t, key, text)) return;
    const auto u = parse_url(text);
    if (!u || u->scheme != scheme) {
        t.report(*t.take(key), key,
                 "expected a URL like " + std::string(scheme) + "://host[:port], got '" + text +
                     "' (only TLS endpoints: verification is never turned off)");
        return;
    }
    out = text;
}

binance_feed_config parse_binance_feed(table_reader t, const parse_state& state) {
    binance_feed_config c;
    const integer_range ms{1, std::int64_t{7} * 24 * 3'600'000};
    read_url(t, "ws_url", "wss", c.ws_url);
    read_url(t, "rest_url", "https", c.rest_url);
    if (read_path(t, "ca_file", state.base_dir, c.ca_file)) {
        std::error_code ec;
        if (!fs::is_regular_file(c.ca_file, ec)) {
            t.report(*t.take("ca_file"), "ca_file",
                     "CA file '" + c.ca_file.string() + "' does not exist or is not a file");
        }
    }
    read_integer_as(t, "warmup_candles", {0, 100'000}, c.warmup_candles);
    read_integer(t, "connect_timeout_ms", ms, c.connect_timeout_ms);
    read_integer(t, "idle_timeout_ms", {1'000, ms.max}, c.idle_timeout_ms);
    read_integer(t, "data_timeout_ms", {100, ms.max}, c.data_timeout_ms);
    read_integer(t, "rotate_after_ms", {1'000, 24 * 3'600'000LL - 60'000}, c.rotate_after_ms);
    read_integer(t, "reconnect_initial_ms", ms, c.reconnect_initial_ms);
    read_integer(t, "reconnect_max_ms", ms, c.reconnect_max_ms);
    read_integer_as(t, "max_streams_per_connection", {2, 1024}, c.max_streams_per_connection);
    read_integer(t, "rest_timeout_ms", ms, c.rest_timeout_ms);
    read_integer_as(t, "rest_attempts", {1, 100}, c.rest_attempts);
    read_integer_as(t, "max_message_bytes", {4'096, 64 << 20}, c.max_message_bytes);
    if (c.reconnect_max_ms < c.reconnect_initial_ms) {
        t.report_here("reconnect_max_ms", "must be >= reconnect_initial_ms");
    }
    t.reject_unknown_keys();
    return c;
}

/// [feed.replay]. `data` is required only when the feed type is "replay" (`required`).
replay_feed_config parse_replay_feed(table_reader t, const parse_state& state, bool required) {
    replay_feed_config c;
    if (read_path(t, "data", state.base_dir, c.data,
                  required ? presence::required : presence::optional) &&
        required) {
        std::error_code ec;
        if (!fs::is_regular_file(c.data, ec)) {
            t.report(*t.take("data"), "data",
                     "recording '" + c.data.string() + "' does not exist or is not a file");
        }
    }
    const toml::node* speed = t.take("speed");
    // 0 is accepted here (unlike [feed.sim] speed): both 0 and "max" mean no pacing.
    if (speed != nullptr && speed->is_number()) {
        read_number(t, "speed", {0, k_inf}, c.speed);
    } else {
        read_speed(t, c.speed);
    }
    t.reject_unknown_keys();
    return c;
}

feed_config parse_feed(table_reader t, const parse_state& state) {
    feed_config f;
    if (read_string(t, "type", f.type) && f.type != "sim" && f.type != "binance" &&
        f.type != "replay") {
        t.report(*t.take("type"), "type",
                 "unsupported feed type '" + f.type + "' (expected sim, binance or replay)");
    }
    f.sim = parse_sim_feed(t.child("sim"));
    f.binance = parse_binance_feed(t.child("binance"), state);
    f.replay = parse_replay_feed(t.child("replay"), state, f.type == "replay");
    if (read_path(t, "record", state.base_dir, f.record) && f.type == "replay" &&
        !f.replay.data.empty() && f.record == f.replay.data) {
        t.report(*t.take("record"), "record",
                 "is the file [feed.replay] data replays: recording would replace it");
    }
    t.reject_unknown_keys();
    return f;
}

// ---- [paper], [sandbox], [engine] ----------------------------------------------------------

paper_config parse_paper(table_reader t) {
    paper_config p;
    read_number(t, "fee_bps", {0, 1'000}, p.fee_bps);
    read_number(t, "slippage_bps", {0, 1'000}, p.slippage_bps);
    read_number(t, "starting_cash", k_positive, p.starting_cash);
    t.reject_unknown_keys();
    return p;
}

/// A key read with read_integer_as: whether it was given, and whether its value is usable (a
/// valid value, or the default when absent). Cross-field checks only look at usable values.
struct integer_key {
    const char* name;
    bool given = false;
    bool usable = true;
};

template <typename Int>
integer_key read_checked(table_reader& t, const char* key, integer_range range, Int& out) {
    const bool stored = read_integer_as(t, key, range, out);
    const bool given = t.take(key) != nullptr;
    return {key, given, stored || !given};
}

/// `low` must be strictly less than `high`. The problem is reported at the key the user wrote
/// (the higher one if both were written), naming the other key's value and where it comes from.
void check_less(table_reader& t, const integer_key& low, std::int64_t low_value,
                const integer_key& high, std::int64_t high_value, std::string_view why) {
    if (!low.usable || !high.usable || low_value < high_value) return;
    if (!low.given && !high.given) return;  // defaults are consistent by construction
    if (high.given) {
        t.report(*t.take(high.name), high.name,
                 "value " + std::to_string(high_value) + " must be greater than " + low.name +
                     " (" + std::to_string(low_value) + (low.given ? "" : " by default") +
                     "): " + std::string(why));
    } else {
        t.report(*t.take(low.name), low.name,
                 "value " + std::to_string(low_value) + " must be less than " + high.name + " (" +
                     std::to_string(high_value) + " by default): " + std::string(why));
    }
}

sandbox_config parse_sandbox(table_reader t) {
    sandbox_config s;
    read_integer_as(t, "memory_limit_mb", {1, 4'096}, s.memory_limit_mb);
    read_integer_as(t, "instruction_budget", {1'000, 10'000'000'000}, s.instruction_budget);
    const auto time_limit = read_checked(t, "time_limit_ms", {1, 60'000}, s.time_limit_ms);
    read_integer_as(t, "max_consecutive_failures", {1, 1'000}, s.max_consecutive_failures);
    const auto wedge = read_checked(t, "wedge_after_ms", {10, 600'000}, s.wedge_after_ms);
    const auto exit_after =
        read_checked(t, "wedge_exit_after_ms", {10, 3'600'000}, s.wedge_exit_after_ms);
    // Deadlines in escalating order: the Lua hook stops a slow script first, the watchdog only
    // catches what it cannot (a stuck C function), and exiting is the very last step.
    check_less(t, time_limit, s.time_limit_ms, wedge, s.wedge_after_ms,
               "the Lua time limit must stop a slow script before the watchdog steps in");
    check_less(t, wedge, s.wedge_after_ms, exit_after, s.wedge_exit_after_ms,
               "the runner is marked wedged before the daemon gives up on it");
    t.reject_unknown_keys();
    return s;
}

engine_config parse_engine(table_reader t) {
    engine_config e;
    read_integer_as(t, "queue_capacity", {16, 1'000'000}, e.queue_capacity);
    t.reject_unknown_keys();
    return e;
}

journal_config parse_journal(table_reader t) {
    journal_config j;
    const toml::node* durability_node = t.take("durability");
    if (read_string(t, "durability", j.durability) && j.durability != "fsync" &&
        j.durability != "group") {
        t.report(*durability_node, "durability",
                 "unsupported value '" + j.durability + "' (expected \"fsync\" or \"group\")");
    }
    read_integer(t, "group_commit_ms", {1, 10'000}, j.group_commit_ms);
    read_integer(t, "snapshot_every", {1'000, 100'000'000}, j.snapshot_every);
    read_integer(t, "segment_mb", {1, 4'096}, j.segment_mb);
    t.reject_unknown_keys();
    return j;
}

// ---- [[symbols]] ---------------------------------------------------------------------------

named_scalars parse_params(table_reader t) {
    named_scalars params;
    if (t.table() == nullptr) return params;
    for (auto&& [key, node] : *t.table()) {
        const std::string name(key.str());
        t.take(name);
        if (const auto* b = node.as_boolean()) {
            params.emplace_back(name, b->get());
        } else if (const auto* i = node.as_integer()) {
            params.emplace_back(name, i->get());
        } else if (const auto* f = node.as_floating_point()) {
            if (auto problem = detail::check_number(f->get(), {})) {
                t.report(node, name, *problem);
            } else {
                params.emplace_back(name, f->get());
            }
        } else if (const auto* s = node.as_string()) {
            params.emplace_back(name, s->get());
        } else {
            t.report(node, name,
                     "expected a boolean, integer, float or string, got " +
                         std::string(type_name(node)));
        }
    }
    return params;
}

sim_symbol_config parse_symbol_sim(table_reader t) {
    sim_symbol_config s;
    read_number(t, "start_price", k_positive, s.start_price);
    read_number(t, "drift", {}, s.drift);
    read_number(t, "volatility", {0, 10}, s.volatility);
    read_number(t, "spread_bps", {0, 10'000}, s.spread_bps);
    t.reject_unknown_keys();
    return s;
}

void read_strategy(table_reader& t, const daemon_config& d, const parse_state& state,
                   symbol_config& s) {
    if (!read_string(t, "strategy", s.strategy, presence::required)) return;
    const toml::node& node = *t.take("strategy");
    if (!is_strategy_name(s.strategy)) {
        t.report(
            node, "strategy",
            "invalid strategy name '" + s.strategy +
                "' (expected letters, digits, '_' or '-'; it names <strategies_dir>/<name>.lua)");
        return;
    }
    s.strategy_path = d.strategies_dir / (s.strategy + ".lua");
    if (!state.strategies_dir_ok) return;
    std::error_code ec;
    const auto status = fs::status(s.strategy_path, ec);
    if (!fs::exists(status)) {
        if (d.allow_missing_scripts) return;  // picked up when it appears (hot reload)
        t.report(node, "strategy", "script not found: " + s.strategy_path.string());
    } else if (!fs::is_regular_file(status)) {
        t.report(node, "strategy", "script is not a regular file: " + s.strategy_path.string());
    }
}

void read_interval(table_reader& t, symbol_config& s) {
    if (!read_string(t, "interval", s.interval)) return;
    s.interval_ms = interval_ms(s.interval.c_str());
    if (s.interval_ms != 0) return;
    t.report(*t.take("interval"), "interval",
             "unsupported interval '" + s.interval + "' (expected one of " +
                 std::string(k_intervals) + ")");
}

symbol_config parse_symbol(table_reader t, const daemon_config& d, const parse_state& state) {
    symbol_config s;
    if (read_string(t, "symbol", s.symbol, presence::required) && !is_symbol_name(s.symbol)) {
        t.report(*t.take("symbol"), "symbol",
                 "invalid symbol '" + s.symbol +
                     "' (expected 2 to 20 upper-case letters or digits, e.g. BTCUSDT)");
    }
    read_strategy(t, d, state, s);
    read_interval(t, s);
    read_integer_as(t, "window", {1, 1'000'000}, s.window);
    read_number(t, "quantity", k_positive, s.quantity, presence::required);
    s.params = parse_params(t.child("params"));
    s.sim = parse_symbol_sim(t.child("sim"));
    s.risk = detail::parse_symbol_risk(t.child("risk"));
    t.reject_unknown_keys();
    return s;
}

/// The [[symbols]] array: at least one table, each symbol once.
std::vector<symbol_config> parse_symbols(table_reader& root, const daemon_config& d,
                                         const parse_state& state) {
    std::vector<symbol_config> out;
    const toml::node* node = root.take("symbols");
    if (node == nullptr) {
        root.report_here("symbols", "required key is missing (at least one [[symbols]] table)");
        return out;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty()) {
        root.report(*node, "symbols",
                    array == nullptr ? "expected an array of tables ([[symbols]]), got " +
                                           std::string(type_name(*node))
                                     : std::string("at least one [[symbols]] table is required"));
        return out;
    }
    std::map<std::string, std::size_t> seen;  // symbol -> index of its first table
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const std::string path = "symbols[" + std::to_string(i) + "]";
        const toml::table* table = element.as_table();
        if (table == nullptr) {
            root.problems().add(element.source(), path,
                                "expected a table, got " + std::string(type_name(element)));
            continue;
        }
        table_reader reader(table, path, table->source(), root.problems());
        symbol_config s = parse_symbol(reader, d, state);
        if (!s.symbol.empty()) {
            const auto [it, inserted] = seen.emplace(s.symbol, i);
            if (!inserted) {
                reader.report(*table->get("symbol"), "symbol",
                              "duplicate symbol '" + s.symbol + "' (also in symbols[" +
                                  std::to_string(it->second) + "])");
            }
        }
        out.push_back(std::move(s));
    }
    return out;
}

// ---- the whole file ------------------------------------------------------------------------

daemon_settings read_settings(const toml::table& doc, const fs::path& origin,
                              problem_list& problems) {
    std::error_code ec;
    parse_state state;
    const fs::path absolute = fs::absolute(origin, ec);
    state.base_dir = (ec ? origin : absolute).parent_path();

    table_reader root(&doc, "", toml::source_region{}, problems);
    daemon_settings s;
    s.source = origin;
    s.daemon = parse_daemon(root.child("daemon"), state);
    s.feed = parse_feed(root.child("feed"), state);
    s.paper = parse_paper(root.child("paper"));
    s.sandbox = parse_sandbox(root.child("sandbox"));
    s.engine = parse_engine(root.child("engine"));
    s.journal = parse_journal(root.child("journal"));
    s.http = detail::parse_http(root.child("http"), state.base_dir);
    s.risk = detail::parse_risk(root.child("risk"), s.daemon.state_dir);
    s.symbols = parse_symbols(root, s.daemon, state);
    root.reject_unknown_keys();
    return s;
}

std::string read_file(const fs::path& path) {
    const auto fail = [&](int err) {
        const std::string what = "cannot read config file '" + path.string() +
                                 "': " + std::generic_category().message(err);
        return config_error(what, {what});
    };
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (!file) throw fail(errno);
    std::string text;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0)
        text.append(buf, n);
    if (std::ferror(file.get())) throw fail(errno);
    return text;
}

}  // namespace

daemon_settings load_config(const std::filesystem::path& path) {
    return parse_config(read_file(path), path);
}

daemon_settings parse_config(std::string_view text, const std::filesystem::path& origin) {
    problem_list problems(origin.string());
    toml::table doc;
    try {
        doc = toml::parse(text, origin.string());
    } catch (const toml::parse_error& e) {
        problems.add(e.source(), "", "invalid TOML: " + std::string(e.description()));
        throw_problems(problems);
    }
    daemon_settings settings = read_settings(doc, origin, problems);
    if (!problems.empty()) throw_problems(problems);
    return settings;
}

}  // namespace tradingd::config
