#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <thread>

#include <tradingd/backtest/sweep.hpp>
#include <tradingd/engine/standalone_strategy.hpp>

namespace tradingd::backtest {
namespace {

constexpr std::size_t max_combinations = 1'000'000;

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t at = s.find(sep, start);
        out.push_back(trim(s.substr(start, at == std::string_view::npos ? at : at - start)));
        if (at == std::string_view::npos) return out;
        start = at + 1;
    }
}

std::optional<std::int64_t> parse_int(std::string_view s) noexcept {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<double> parse_float(std::string_view s) noexcept {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

/// A list value: an integer, a float, a boolean, or else the text itself.
scalar parse_value(std::string_view s) {
    if (auto i = parse_int(s)) return *i;
    if (auto d = parse_float(s)) return *d;
    if (s == "true") return true;
    if (s == "false") return false;
    return std::string(s);
}

bool is_identifier(std::string_view s) noexcept {
    if (s.empty() || (std::isdigit(static_cast<unsigned char>(s.front())) != 0)) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    });
}

[[noreturn]] void bad_part(std::string_view part, const std::string& why) {
    throw std::invalid_argument(fmt::format("grid part '{}': {}", part, why));
}

std::vector<scalar> parse_range(std::string_view part, std::string_view spec) {
    const auto fields = split(spec, ':');
    if (fields.size() != 3) bad_part(part, "a range is start:stop:step");
    const auto a = parse_int(fields[0]);
    const auto b = parse_int(fields[1]);
    const auto c = parse_int(fields[2]);
    std::vector<scalar> values;
    if (a && b && c) {
        if (*c <= 0) bad_part(part, "the step must be > 0");
        if (*a > *b) bad_part(part, "start must be <= stop");
        const auto count = static_cast<std::uint64_t>(*b - *a) / static_cast<std::uint64_t>(*c) + 1;
        if (count > max_combinations) bad_part(part, "too many values");
        for (std::int64_t v = *a; v <= *b; v += *c) {
            values.emplace_back(v);
            if (*b - v < *c) break;  // the next step would pass stop (and might overflow)
        }
        return values;
    }
    const char* names[3] = {"start", "stop", "step"};
    double f[3] = {};
    for (int i = 0; i < 3; ++i) {
        const auto d = parse_float(fields[static_cast<std::size_t>(i)]);
        if (!d) {
            bad_part(part, fmt::format("{} '{}' is not a number", names[i],
                                       fields[static_cast<std::size_t>(i)]));
        }
        f[i] = *d;
    }
    if (f[2] <= 0) bad_part(part, "the step must be > 0");
    if (f[0] > f[1]) bad_part(part, "start must be <= stop");
    // Counted, then computed as start + i * step: no drift from repeated additions, and a stop
    // that is a whole number of steps away (up to rounding) is included.
    const double steps = std::floor((f[1] - f[0]) / f[2] + 1e-9);
    if (steps + 1 > static_cast<double>(max_combinations)) bad_part(part, "too many values");
    const auto count = static_cast<std::size_t>(steps) + 1;
    for (std::size_t i = 0; i < count; ++i)
        values.emplace_back(f[0] + static_cast<double>(i) * f[2]);
    return values;
}

std::vector<scalar> parse_list(std::string_view part, std::string_view spec) {
    std::vector<scalar> values;
    for (const auto v : split(spec, '|')) {
        if (v.empty()) bad_part(part, "empty value in the list");
        values.push_back(parse_value(v));
    }
    return values;
}

std::string format_scalar(const scalar& v) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, bool>) {
                return x ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::string>) {
                return x;
            } else {
                return fmt::format("{}", x);
            }
        },
        v);
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::shared_ptr<spdlog::logger> null_logger() {
    static const auto log = std::make_shared<spdlog::logger>(
        "sweep-valid", std::make_shared<spdlog::sinks::null_sink_mt>());
    return log;
}

/// Whether row `a` ranks before row `b`: runs that failed last, then the better metric value
/// (non-finite values count as the worst), then combination order.
bool ranks_before(const sweep_row& a, const sweep_row& b, metric m) noexcept {
    if (a.error.empty() != b.error.empty()) return a.error.empty();
    if (a.error.empty()) {
        const double x = metric_value(a.stats, m);
        const double y = metric_value(b.stats, m);
        const bool fx = std::isfinite(x);
        const bool fy = std::isfinite(y);
        if (fx != fy) return fx;
        if (fx && x != y) return m == metric::max_drawdown ? x < y : x > y;
    }
    return a.index < b.index;
}

}  // namespace

std::vector<grid_axis> parse_grid(std::string_view text) {
    std::vector<grid_axis> axes;
    if (trim(text).empty())
        throw std::invalid_argument("grid is empty (expected name=start:stop:step,...)");
    std::size_t total = 1;
    for (const auto part : split(text, ',')) {
        if (part.empty()) throw std::invalid_argument("grid has an empty part (two commas?)");
        const std::size_t eq = part.find('=');
        if (eq == std::string_view::npos)
            bad_part(part, "expected name=start:stop:step or name=a|b|c");
        const auto name = trim(part.substr(0, eq));
        const auto spec = trim(part.substr(eq + 1));
        if (!is_identifier(name)) bad_part(part, "the name must be a Lua identifier");
        if (spec.empty()) bad_part(part, "no values");
        for (const auto& a : axes) {
            if (a.name == name) bad_part(part, "'" + a.name + "' appears twice");
        }
        grid_axis axis;
        axis.name = std::string(name);
        axis.values = spec.find(':') != std::string_view::npos ? parse_range(part, spec)
                                                               : parse_list(part, spec);
        total *= axis.values.size();
        if (total > max_combinations) {
            bad_part(part, fmt::format("more than {} combinations", max_combinations));
        }
        axes.push_back(std::move(axis));
    }
    return axes;
}

std::vector<named_scalars> combinations(const std::vector<grid_axis>& axes) {
    std::vector<named_scalars> out(1);
    for (const auto& axis : axes) {
        std::vector<named_scalars> next;
        next.reserve(out.size() * axis.values.size());
        for (const auto& prefix : out) {
            for (const auto& v : axis.values) {
                next.push_back(prefix);
                next.back().emplace_back(axis.name, v);
            }
        }
        out = std::move(next);
    }
    return out;
}

named_scalars override_params(const named_scalars& base, const named_scalars& overrides) {
    named_scalars out = base;
    for (const auto& entry : overrides) {
        const std::string& name = entry.first;
        const auto it =
            std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == name; });
        if (it != out.end()) {
            it->second = entry.second;
        } else {
            out.push_back(entry);
        }
    }
    return out;
}

std::optional<metric> parse_metric(std::string_view name) noexcept {
    for (const metric m : {metric::net_pnl, metric::sharpe, metric::sortino, metric::profit_factor,
                           metric::win_rate, metric::max_drawdown}) {
        if (name == metric_name(m)) return m;
    }
    return std::nullopt;
}

const char* metric_name(metric m) noexcept {
    switch (m) {
        case metric::net_pnl:
            return "net_pnl";
        case metric::sharpe:
            return "sharpe";
        case metric::sortino:
            return "sortino";
        case metric::profit_factor:
            return "profit_factor";
        case metric::win_rate:
            return "win_rate";
        case metric::max_drawdown:
            return "max_drawdown";
    }
    return "?";
}

double metric_value(const summary& s, metric m) noexcept {
    switch (m) {
        case metric::net_pnl:
            return s.net_pnl;
        case metric::sharpe:
            return s.sharpe;
        case metric::sortino:
            return s.sortino;
        case metric::profit_factor:
            return s.profit_factor;
        case metric::win_rate:
            return s.win_rate;
        case metric::max_drawdown:
            return s.max_drawdown;
    }
    return 0;
}

void parallel_for(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& task,
                  const std::function<void(std::size_t, std::size_t)>& progress) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    const auto workers = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    std::atomic<std::size_t> next{0};
    std::mutex progress_mutex;
    std::size_t done = 0;
    const auto work = [&] {
        for (std::size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
            task(i);
            if (progress) {
                const std::lock_guard lock(progress_mutex);
                progress(++done, count);
            }
        }
    };
    if (workers <= 1) {
        work();
        return;
    }
    std::vector<std::jthread> pool;
    pool.reserve(workers - 1);
    for (unsigned t = 1; t < workers; ++t)
        pool.emplace_back(work);
    work();  // the calling thread is one of the workers
}

std::optional<bool> check_valid(const config::symbol_config& symbol,
                                const config::sandbox_config& sandbox,
                                const named_scalars& params) {
    config::symbol_config with_params = symbol;
    with_params.params = params;
    engine::standalone_strategy loaded(with_params, sandbox, null_logger());
    if (loaded.error()) throw std::runtime_error(*loaded.error());
    auto verdict = loaded.get()->call_valid();
    if (!verdict) throw std::runtime_error(verdict.error_message());
    return verdict.value();
}

sweep_result sweep(const config::symbol_config& symbol, const config::sandbox_config& sandbox,
                   const config::paper_config& paper, const std::vector<candle>& candles,
                   const std::vector<grid_axis>& axes, const sweep_options& options) {
    if (candles.empty()) throw std::invalid_argument("sweep: no candles");
    const auto started = std::chrono::steady_clock::now();
    const auto combos = combinations(axes);
    run_options ro = options.run;
    ro.keep_decisions = false;
    ro.keep_equity = false;
    ro.progress = nullptr;  // progress is per combination here, not per candle

    struct slot {
        sweep_row row;
        bool pruned = false;
    };
    std::vector<slot> slots(combos.size());
    parallel_for(
        combos.size(), options.threads,
        [&](std::size_t i) {
            slot& s = slots[i];
            s.row.index = i;
            s.row.params = combos[i];
            config::symbol_config sym = symbol;
            sym.params = override_params(symbol.params, combos[i]);
            try {
                if (check_valid(sym, sandbox, sym.params) == std::optional<bool>(false)) {
                    s.pruned = true;
                    return;
                }
                s.row.stats = run(sym, sandbox, paper, candles, ro).stats;
            } catch (const std::exception& e) {
                s.row.error = e.what();
                s.row.stats = summary{};
            }
        },
        options.progress);

    sweep_result r;
    r.combinations = combos.size();
    r.rank_by = options.rank_by;
    for (const auto& a : axes)
        r.param_names.push_back(a.name);
    for (auto& s : slots) {
        if (s.pruned) {
            ++r.pruned;
            continue;
        }
        if (!s.row.error.empty()) ++r.failed;
        r.rows.push_back(std::move(s.row));
    }
    std::sort(r.rows.begin(), r.rows.end(), [m = options.rank_by](const auto& a, const auto& b) {
        return ranks_before(a, b, m);
    });
    for (std::size_t i = 0; i < r.rows.size(); ++i)
        r.rows[i].rank = i + 1;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return r;
}

void write_sweep_csv(std::ostream& out, const sweep_result& r) {
    out << "rank";
    for (const auto& name : r.param_names)
        out << ',' << csv_field(name);
    out << ",trades,win_rate,net_pnl,fees,max_drawdown,sharpe,sortino,profit_factor,exposure,"
           "strategy_errors,error\n";
    for (const auto& row : r.rows) {
        out << row.rank;
        for (const auto& [name, value] : row.params)
            out << ',' << csv_field(format_scalar(value));
        const summary& s = row.stats;
        out << fmt::format(",{},{},{},{},{},{},{},{},{},{},", s.trades, s.win_rate, s.net_pnl,
                           s.fees, s.max_drawdown, s.sharpe, s.sortino, s.profit_factor, s.exposure,
                           s.strategy_errors)
            << csv_field(row.error) << '\n';
    }
}

}  // namespace tradingd::backtest
