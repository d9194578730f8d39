#include <fmt/compile.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/journal/state_json.hpp>
#include <tradingd/strategy/lua/content_hash.hpp>

namespace tradingd::engine {

namespace lua = strategy::lua;
using strategy::phase;

strategy::lua::sandbox_limits to_limits(const config::sandbox_config& s) {
    lua::sandbox_limits l;
    l.memory_limit_bytes = s.memory_limit_mb << 20;
    l.instruction_budget = s.instruction_budget;
    l.time_limit = std::chrono::milliseconds(s.time_limit_ms);
    return l;
}

namespace {

exec::paper_broker_config broker_config(const config::paper_config& p) {
    exec::paper_broker_config c;
    c.fee_bps = p.fee_bps;
    c.slippage_bps = p.slippage_bps;
    c.starting_cash = p.starting_cash;
    return c;
}

// The action's reason, or `fallback` when it has none. A view: no string is built per decision
// (and none can dangle, as `cond ? "literal" : str` would through its temporary std::string).
std::string_view non_empty_or(const std::string& reason, std::string_view fallback) noexcept {
    return reason.empty() ? fallback : std::string_view(reason);
}

const char* function_for(phase p) noexcept {
    switch (p) {
        case phase::idle:
            return "detect_opportunity";
        case phase::analyzing:
            return "filter_commitment";
        case phase::in_position:
            return "manage_position";
    }
    return "";
}

// "%.10g" (or more digits) of a price with at most two decimals below 1e8, which is what candle
// closes are: written from integer cents without a float conversion. The decimal this writes
// converts back to x exactly and has at most 10 significant digits, so it is also what x
// rounded to 10 digits prints as. Returns nullptr when x is not such a price.
char* cents_text(double x, char* out) noexcept {
    if (!(std::fabs(x) < 1e8)) return nullptr;
    const double cents = std::round(std::fabs(x) * 100);
    if (cents / 100 != std::fabs(x)) return nullptr;
    auto c = static_cast<std::uint64_t>(cents);
    if (std::signbit(x)) *out++ = '-';
    char digits[12];
    int n = 0;
    const std::uint64_t frac = c % 100;
    c /= 100;
    do {
        digits[n++] = static_cast<char>('0' + c % 10);
        c /= 10;
    } while (c != 0);
    while (n > 0)
        *out++ = digits[--n];
    if (frac != 0) {
        *out++ = '.';
        *out++ = static_cast<char>('0' + frac / 10);
        if (frac % 10 != 0) *out++ = static_cast<char>('0' + frac % 10);
    }
    return out;
}

// "%.<precision>g" of x written from its shortest round-trip digits, without the exact
// big-number conversion a precision-bound format needs. Rounding the shortest decimal S to
// `precision` digits gives what rounding x itself gives, except when S lies exactly on a
// rounding midpoint (its digits after the kept ones are exactly "5"): S is within x's rounding
// interval and the closest of the shortest candidates, so no midpoint with fewer digits can lie
// strictly between S and x, and the precision grid is far coarser than an ulp. Returns nullptr
// in the midpoint case, for nan, infinities and subnormals, and for precisions where the grid
// argument does not hold.
char* g_from_shortest(double x, int precision, char* out) noexcept {
    if (!std::isfinite(x) || precision < 1 || precision > 15) return nullptr;
    // Subnormals carry fewer digits than the grid argument needs.
    if (x != 0 && std::fabs(x) < std::numeric_limits<double>::min()) return nullptr;
    if (std::signbit(x)) *out++ = '-';
    if (x == 0) {
        *out++ = '0';
        return out;
    }
    // fmt's shortest conversion (Dragonbox, as behind "{}"): x = significand * 10^exponent.
    const auto shortest = fmt::detail::dragonbox::to_decimal(std::fabs(x));
    char digits[24];
    int n = 0;
    for (auto s = shortest.significand; s != 0; s /= 10)
        digits[n++] = static_cast<char>('0' + s % 10);
    std::reverse(digits, digits + n);
    int exponent = shortest.exponent + n - 1;  // of the first digit
    while (n > 1 && digits[n - 1] == '0')
        --n;  // so that a midpoint shows as a lone '5' after the kept digits
    if (n > precision) {
        if (digits[precision] == '5' && n == precision + 1) return nullptr;  // midpoint
        const bool up = digits[precision] >= '5';
        n = precision;
        int i = n - 1;
        while (up && i >= 0 && digits[i] == '9')
            digits[i--] = '0';
        if (up && i < 0) {
            digits[0] = '1';  // 9.99..5 -> 10.0: one more digit before the point
            ++exponent;
        } else if (up) {
            ++digits[i];
        }
    }
    while (n > 1 && digits[n - 1] == '0')
        --n;
    const auto put = [&](int from, int to) {
        for (int i = from; i < to; ++i)
            *out++ = digits[i];
    };
    if (exponent < -4 || exponent >= precision) {
        *out++ = digits[0];
        if (n > 1) *out++ = '.';
        put(1, n);
        *out++ = 'e';
        *out++ = exponent < 0 ? '-' : '+';
        const int e = exponent < 0 ? -exponent : exponent;
        if (e >= 100) *out++ = static_cast<char>('0' + e / 100);
        *out++ = static_cast<char>('0' + e / 10 % 10);
        *out++ = static_cast<char>('0' + e % 10);
    } else if (exponent >= 0) {
        put(0, std::min(n, exponent + 1));
        for (int i = n; i <= exponent; ++i)
            *out++ = '0';
        if (n > exponent + 1) {
            *out++ = '.';
            put(exponent + 1, n);
        }
    } else {
        *out++ = '0';
        *out++ = '.';
        for (int i = -1; i > exponent; --i)
            *out++ = '0';
        put(0, n);
    }
    return out;
}

// A double as "{:.<precision>g}" would print it, with cheap paths for the common cases (prices
// with cents, then any value whose shortest form settles the rounding): the precision-bound
// conversion costs several times either.
class g_text {
public:
    /// Precondition: precision in [1, 17] (the longest text then fits the buffer).
    g_text(double x, int precision) {
        char* end = precision >= 10 ? cents_text(x, buf_.data()) : nullptr;
        if (end == nullptr) end = g_from_shortest(x, precision, buf_.data());
        if (end == nullptr) end = fmt::format_to(buf_.data(), FMT_COMPILE("{:.{}g}"), x, precision);
        end_ = end;
    }
    std::string_view view() const noexcept {
        return {buf_.data(), static_cast<std::size_t>(end_ - buf_.data())};
    }

private:
    // Longest texts: "-2.2250738585072014e-308" (shortest form), "-1.2345678901234567e-308".
    std::array<char, 32> buf_;
    char* end_ = buf_.data();
};

// A C string as a view; a null one (a record field left unset) as "".
std::string_view text(const char* s) noexcept {
    return s != nullptr ? std::string_view(s) : std::string_view();
}

// Hands spdlog one log line made of `pieces`. Every line is a plain concatenation of texts, so it
// is assembled with copies into a stack buffer (a string only for long lines: error messages can
// be) instead of going through a formatter.
void mirror(spdlog::logger& log, spdlog::level::level_enum level,
            std::initializer_list<std::string_view> pieces) {
    std::size_t size = 0;
    for (const std::string_view p : pieces)
        size += p.size();
    std::array<char, 512> small;
    std::string large;
    char* out = small.data();
    if (size > small.size()) {
        large.resize(size);
        out = large.data();
    }
    const char* const line = out;
    for (const std::string_view p : pieces) {
        if (p.empty()) continue;  // its data() may be null, which memcpy must not see
        std::memcpy(out, p.data(), p.size());
        out += p.size();
    }
    log.log(level, spdlog::string_view_t(line, size));
}

// Writes a record to the decision log and mirrors it, as one readable line, to the runner's
// spdlog logger (the symbol is the logger's name).
void note(decision_sink& sink, spdlog::logger& log, const decision_record& r) {
    using spdlog::level::info;
    sink.write(r);
    // Nothing is formatted when the logger would drop the line.
    const auto level = r.message.empty() ? info : spdlog::level::warn;
    if (!log.should_log(level) && !log.should_backtrace()) return;
    const std::string_view event = text(r.event);
    const std::string_view state = text(r.state);
    if (!r.message.empty()) {
        mirror(log, level, {event, " [", state, "]: ", r.message});
    } else if (r.to_state != nullptr) {
        mirror(log, info, {state, " -> ", r.to_state, ": ", r.reason});
    } else if (event == "fill") {
        const g_text quantity(r.quantity.value_or(0), 8);
        const g_text price(r.price, 10);
        const g_text fee(r.fee.value_or(0), 6);
        if (r.pnl) {
            mirror(log, info,
                   {"fill: ", text(r.side), " ", quantity.view(), " @ ", price.view(), " (fee ",
                    fee.view(), ", trade net P&L ", g_text(*r.pnl, 6).view(), "): ", r.reason});
        } else {
            mirror(log, info,
                   {"fill: ", text(r.side), " ", quantity.view(), " @ ", price.view(), " (fee ",
                    fee.view(), "): ", r.reason});
        }
    } else if (event == "auto_exit") {
        mirror(log, info, {"auto-exit: ", r.reason, " hit at ", g_text(r.price, 10).view()});
    } else {
        mirror(log, info,
               {event, " [", state, "] ", text(r.function), " -> ", text(r.action), ": ", r.reason,
                " (close ", g_text(r.price, 10).view(), ")"});
    }
}

}  // namespace

runner_core::runner_core(const config::symbol_config& symbol, const config::sandbox_config& sandbox,
                         const config::paper_config& paper, decision_sink& decisions,
                         std::shared_ptr<spdlog::logger> logger,
                         const strategy::lua::sandbox_limits* limits_override,
                         journal::record_sink* journal, const journal::runner_state* restored,
                         risk_book* book)
    : cfg_(symbol),
      max_failures_(sandbox.max_consecutive_failures),
      decisions_(decisions),
      log_(logger ? std::move(logger) : spdlog::default_logger()),
      window_(symbol.window),
      indicators_(window_),
      broker_(broker_config(paper)),
      script_name_(symbol.strategy_path.filename().string()),
      sandbox_(sandbox),
      risk_(symbol.risk),
      book_(book) {
    if (limits_override != nullptr) limits_override_ = *limits_override;
    journal_ = journal;
    if (restored != nullptr) {
        restore(*restored);
        restore_risk_state(restored->last_ts);
    }
    if (journal_ != nullptr) machine_.ctx().set_observer(this);
    auto loaded = lua::lua_strategy::load_file(cfg_.strategy_path,
                                               binding_for(cfg_, &machine_.ctx()), limits());
    if (loaded) {
        strategy_ = std::move(loaded).value();
        log_->info("loaded strategy {}", script_name_);
        note_loaded_version(restored);
        return;
    }
    load_error_ = loaded.error_message();
    suspended_ = true;
    suspension_reason_ = "script failed to load: " + *load_error_;
    log_->error("strategy {} failed to load: {}; symbol {} runs without a strategy (suspended)",
                script_name_, *load_error_, cfg_.symbol);
    decision_record r = base_record(0, "load_error", 0);
    r.message = *load_error_;
    decisions_.write(r);
}

runner_core::~runner_core() {
    machine_.ctx().set_observer(nullptr);
}

void runner_core::restore(const journal::runner_state& s) {
    machine_.restore(s.machine.image());
    if (s.has_account) {
        broker_.restore(s.broker.account());
        account_opened_ = true;
    }
    const auto& pos = machine_.current_position();
    recount_bars_held_ = pos.has_value();
    log_->info(
        "{}: restored from the journal: {}{}, realised P&L {:.6g} over {} trades, {} ctx keys, "
        "cash {:.2f}, script version {}",
        cfg_.symbol, strategy::phase_name(machine_.current()),
        pos ? fmt::format(" ({} {} @ {:.10g}, stop {}, target {})",
                          strategy::side_name(pos->direction), pos->quantity, pos->entry_price,
                          pos->stop_loss ? fmt::format("{:.10g}", *pos->stop_loss) : "none",
                          pos->take_profit ? fmt::format("{:.10g}", *pos->take_profit) : "none")
            : std::string(),
        machine_.realized_pnl(), machine_.trade_count(), machine_.ctx().size(), broker_.cash(),
        s.script_hash.empty() ? "none" : s.script_hash);
    // What the runner now holds, in the form `tradingd journal` prints the journal's state: a
    // restart can be checked field by field against the journal it restored from.
    journal::runner_state live;
    live.machine.restore(machine_.image());
    live.broker.restore(broker_.account());
    live.has_account = account_opened_;
    live.script_hash = s.script_hash;
    live.suspended = s.suspended;
    live.suspension_reason = s.suspension_reason;
    const std::string state = journal::state_json(live).dump();
    decision_record r = base_record(s.last_ts, "restored", pos ? pos->entry_price : 0);
    r.reason = "restored from the journal";
    r.message = state;
    r.script_hash = s.script_hash;
    if (pos) {
        r.side = strategy::side_name(pos->direction);
        r.quantity = pos->quantity;
        r.stop_loss = pos->stop_loss;
        r.take_profit = pos->take_profit;
    }
    r.pnl = machine_.realized_pnl();
    decisions_.write(r);
}

void runner_core::note_loaded_version(const journal::runner_state* restored) {
    const std::string& hash = strategy_->hash();
    const bool same = restored != nullptr && restored->script_hash == hash;
    if (!same) {
        journal::record r;
        r.type = journal::record_type::script;
        r.text = hash;
        r.name = script_name_;
        journal_append(r);
    }
    if (restored == nullptr || !restored->suspended) return;
    if (same) {
        // The version that was suspended: it stays suspended until a new version arrives.
        suspended_ = true;
        suspension_reason_ = restored->suspension_reason;
        log_->error("{}: strategy {} stays SUSPENDED after the restart (same version {}): {}",
                    cfg_.symbol, script_name_, hash, suspension_reason_);
        return;
    }
    journal_text(journal::record_type::resumed, {});
    log_->info("{}: a new script version ({}) lifts the suspension recorded before the restart",
               cfg_.symbol, hash);
}

bool runner_core::journal_append(journal::record& r) noexcept {
    if (journal_ == nullptr) return true;
    r.symbol = cfg_.symbol;
    if (r.ts == 0) r.ts = event_ts_;
    if (journal_->append(r)) return true;
    if (!journal_failure_noted_) {
        journal_failure_noted_ = true;
        try {
            const std::string why = journal_->failure();
            log_->critical(
                "{}: the journal cannot record changes ({}): no new positions; open "
                "positions stay protected by their stop-loss/take-profit",
                cfg_.symbol, why);
            const std::string message = "journal failed: " + why;  // outlives the record
            decision_record d = base_record(event_ts_, "error", last_quote_.bid);
            d.message = message;
            decisions_.write(d);
        } catch (...) {  // reporting must not throw out of a noexcept path
        }
    }
    return false;
}

bool runner_core::journal_text(journal::record_type type, std::string_view text,
                               timestamp_ms ts) noexcept {
    journal::record r;
    r.type = type;
    r.text = text;
    r.ts = ts;
    return journal_append(r);
}

bool runner_core::journal_allows_entry(const market_event& e) {
    if (journal_ == nullptr || journal_->healthy()) return true;
    decision_record r = base_record(e.ts, "error", e.bar.close);
    const std::string message =
        "entry refused: the journal cannot record it (" + journal_->failure() + ")";
    r.message = message;
    note(decisions_, *log_, r);
    return false;
}

bool runner_core::risk_allows_entry(double qty, const strategy::enter_position& a,
                                    const market_event& e) {
    const bool is_long = a.direction == strategy::side::long_side;
    double price = is_long ? last_quote_.ask : last_quote_.bid;
    if (!(price > 0)) price = e.bar.close;
    std::optional<risk_refusal> refusal = risk_.check_entry(qty, price, e.ts);
    if (!refusal && book_ != nullptr) refusal = book_->admit_entry(e.ts);
    if (!refusal) return true;
    const std::string_view limit = refusal->limit;
    auto counted = std::find_if(risk_refusals_.begin(), risk_refusals_.end(),
                                [&](const auto& c) { return c.limit == limit; });
    if (counted == risk_refusals_.end()) {
        risk_refusals_.push_back({std::string(limit), 0});
        counted = std::prev(risk_refusals_.end());
    }
    ++counted->count;
    decision_record r = base_record(e.ts, "risk_refused", price);
    r.side = strategy::side_name(a.direction);
    r.quantity = qty;
    r.reason = limit;
    const std::string message = "entry refused by risk limit " + refusal->message;  // outlives r
    r.message = message;
    note(decisions_, *log_, r);
    return false;
}

void runner_core::restore_risk_state(timestamp_ms last_ts) {
    const recovered_risk r = recover_from_fills(broker_.recent_fills(), last_ts);
    risk_.restore(r.day_pnl, last_ts, r.last_exit_ts);
    if (book_ != nullptr) {
        book_->note_restored(machine_.current_position().has_value(), r.day_pnl, last_ts);
    }
}

void runner_core::retire_vm_stats(const strategy::lua::lua_strategy& old) {
    const auto& s = old.stats();
    retired_vm_.budget_aborts += s.budget_aborts;
    retired_vm_.memory_aborts += s.memory_aborts;
    retired_vm_.latency_samples += s.latency_samples;
    retired_vm_.latency_total_ns += s.latency_total_ns;
    for (std::size_t i = 0; i < s.latency_buckets.size(); ++i)
        retired_vm_.latency_buckets[i] += s.latency_buckets[i];
}

bool runner_core::flatten(std::string_view reason) {
    const auto& pos = machine_.current_position();
    if (!pos) return false;
    if (!(last_quote_.bid > 0 && last_quote_.ask > 0)) {
        log_->error("{}: cannot flatten ({}): no quote to close the position at yet", cfg_.symbol,
                    reason);
        return false;
    }
    market_event e;
    e.kind = event_kind::quote;
    e.ts = last_quote_.ts;
    e.bid = last_quote_.bid;
    e.ask = last_quote_.ask;
    event_ts_ = e.ts;
    const bool is_long = pos->direction == strategy::side::long_side;
    log_->warn("{}: closing the open position at the market: {}", cfg_.symbol, reason);
    exit_position(e, reason, is_long ? last_quote_.bid : last_quote_.ask);
    return !machine_.current_position().has_value();
}

void runner_core::set_risk_limits(const config::symbol_risk_config& limits) {
    risk_.set_limits(limits);
    cfg_.risk = limits;
}

void runner_core::on_ctx_change(std::string_view key, const scalar* value) noexcept {
    journal::record r;
    r.type = value != nullptr ? journal::record_type::ctx_set : journal::record_type::ctx_erase;
    r.text = key;
    r.value = value;
    journal_append(r);
}

void runner_core::on_ctx_clear() noexcept {
    static const journal::ctx_entries none;
    journal::record r;
    r.type = journal::record_type::ctx_replace;
    r.entries = &none;
    journal_append(r);
}

strategy::lua::strategy_binding runner_core::binding_for(const config::symbol_config& symbol,
                                                         strategy::context* ctx) {
    // Reads only `symbol` and members fixed at construction: prepare() relies on it.
    lua::strategy_binding binding;
    binding.symbol = symbol.symbol;
    binding.interval = symbol.interval;
    binding.indicators = &indicators_;
    binding.ctx = ctx;
    binding.params = symbol.params;
    binding.logger = log_;
    return binding;
}

strategy::lua::sandbox_limits runner_core::limits() const {
    return limits_override_ ? *limits_override_ : to_limits(sandbox_);
}

prepared_strategy runner_core::prepare(const config::symbol_config& symbol,
                                       std::string_view source) {
    prepared_strategy p;
    p.since = std::chrono::steady_clock::now();
    try {
        p.symbol = symbol;
        p.hash = lua::content_hash(source);
        p.scratch = std::make_unique<strategy::context>();
        auto loaded =
            lua::lua_strategy::load_source(symbol.strategy_path.filename().string(), source,
                                           binding_for(symbol, p.scratch.get()), limits());
        if (loaded) {
            p.strategy = std::move(loaded).value();
        } else {
            p.error = loaded.error_message();
        }
    } catch (const std::exception& e) {  // allocation failure while copying the config
        p.error = symbol.strategy_path.filename().string() + ": cannot prepare: " + e.what();
    }
    return p;
}

prepared_strategy runner_core::prepare_file(const config::symbol_config& symbol) {
    std::string source;
    if (auto problem =
            lua::read_script_file(symbol.strategy_path, limits().max_script_bytes, source)) {
        prepared_strategy p;
        p.since = std::chrono::steady_clock::now();
        p.symbol = symbol;
        p.error = symbol.strategy_path.filename().string() + ": " + *problem;
        return p;
    }
    return prepare(symbol, source);
}

result<bool> runner_core::refuse_version(const prepared_strategy& p, std::string why) {
    reload_error_ = std::move(why);
    failed_hash_ = p.hash;
    ++reload_failures_;
    const std::string name = p.symbol.strategy_path.filename().string();
    log_->error("reload of {}{}{} refused: {}; {} keeps running", name, p.hash.empty() ? "" : " ",
                p.hash, *reload_error_,
                strategy_ ? script_name_ + " " + strategy_->hash() : std::string("no strategy"));
    decision_record r = base_record(last_quote_.ts, "reload_failed", last_quote_.bid);
    r.reason = name;
    r.refused_hash = p.hash;
    r.message = *reload_error_;
    decisions_.write(r);
    return error{*reload_error_};
}

result<bool> runner_core::install(prepared_strategy p) {
    if (!p.strategy) return refuse_version(p, p.error);
    auto adopted = p.strategy->adopt_context(machine_.ctx());
    if (!adopted) return refuse_version(p, adopted.error_message());
    const std::string old_hash = strategy_ ? strategy_->hash() : std::string();
    machine_.ctx() = std::move(adopted).value();
    p.strategy->rebind_context(&machine_.ctx());
    if (journal_ != nullptr) {
        const std::string file = p.symbol.strategy_path.filename().string();  // outlives v
        journal::record v;
        v.type = journal::record_type::script;
        v.text = p.hash;
        v.name = file;
        journal_append(v);
        // The adopted ctx replaced the old one wholesale (on_reload may have rewritten it).
        const journal::ctx_entries& entries = machine_.ctx().entries();
        journal::record c;
        c.type = journal::record_type::ctx_replace;
        c.entries = &entries;
        journal_append(c);
    }
    if (strategy_) retire_vm_stats(*strategy_);
    strategy_ = std::move(p.strategy);
    script_name_ = p.symbol.strategy_path.filename().string();
    cfg_ = std::move(p.symbol);
    risk_.set_limits(cfg_.risk);
    reload_error_.reset();
    load_error_.reset();
    failed_hash_.clear();
    ++reloads_;
    const bool was_suspended = suspended_;
    const bool wedged = wedged_ != nullptr && wedged_->load(std::memory_order_acquire);
    if (!wedged) {
        suspended_ = false;
        suspension_reason_.clear();
        if (was_suspended) {
            journal_text(journal::record_type::resumed, {});
        }
    }
    consecutive_failures_ = 0;
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - p.since);
    log_->info("reloaded strategy {} ({} -> {}) {:.1f} ms after the change{}", script_name_,
               old_hash.empty() ? "none" : old_hash, strategy_->hash(),
               static_cast<double>(latency.count()) / 1000.0,
               was_suspended && !suspended_ ? "; suspension lifted" : "");
    decision_record r = base_record(last_quote_.ts, "reloaded", last_quote_.bid);
    r.reason = script_name_;
    r.previous_hash = old_hash;
    decisions_.write(r);
    return true;
}

result<bool> runner_core::reload(const std::filesystem::path& path) {
    config::symbol_config symbol = cfg_;
    symbol.strategy_path = path;
    return install(prepare_file(symbol));
}

void runner_core::on_event(const market_event& e) noexcept {
    ++events_;
    event_ts_ = e.ts;
    if (e.bid > 0 && e.ask > 0) last_quote_ = quote{e.bid, e.ask, e.ts};
    try {
        switch (e.kind) {
            case event_kind::candle_closed:
                if (e.warmup) {
                    window_.push_closed(e.bar);
                    indicators_.on_closed(e.bar);
                } else {
                    on_closed_candle(e);
                }
                break;
            case event_kind::candle_update:
                window_.set_forming(e.bar);
                check_auto_exit(e);
                break;
            case event_kind::quote:
                check_auto_exit(e);
                break;
        }
    } catch (const std::exception& ex) {
        // Only allocation failures can get here (the strategy and broker report by value).
        log_->critical("{}: event at {} not fully processed: {}", cfg_.symbol, e.ts, ex.what());
    }
}

void runner_core::on_closed_candle(const market_event& e) {
    if (wedged_ != nullptr && !suspended_ && wedged_->load(std::memory_order_acquire)) {
        suspend(e.ts, "the runner was wedged (one event took longer than the watchdog's limit)");
    }
    window_.push_closed(e.bar);
    indicators_.on_closed(e.bar);
    machine_.on_bar_closed();
    if (recount_bars_held_) {
        // A position restored after a restart: the candles closed while the daemon was down
        // count too (bars_held = candles closed since the entry candle).
        recount_bars_held_ = false;
        const auto& pos = machine_.current_position();
        if (pos && cfg_.interval_ms > 0 && e.bar.open_time > pos->opened_at) {
            const std::int64_t n = (e.bar.open_time - pos->opened_at - 1) / cfg_.interval_ms + 1;
            machine_.set_bars_held(std::max(pos->bars_held, n));
        }
    }
    ++candles_;
    check_auto_exit(e);
    // A retiring runner only manages the position it still has.
    const bool may_call = !retiring_ || machine_.current() == phase::in_position;
    if (!suspended_ && strategy_ && may_call) call_strategy(e);
}

void runner_core::check_auto_exit(const market_event& e) {
    const auto& pos = machine_.current_position();
    if (!pos || e.bid <= 0 || e.ask <= 0) return;
    const auto hit = strategy::check_auto_exit(*pos, e.bid, e.ask);
    if (!hit) return;
    ++auto_exits_;
    decision_record r = base_record(e.ts, "auto_exit", hit->price);
    r.reason = strategy::exit_trigger_name(hit->trigger);
    r.stop_loss = pos->stop_loss;
    r.take_profit = pos->take_profit;
    note(decisions_, *log_, r);
    exit_position(e, strategy::exit_trigger_name(hit->trigger), hit->price);
}

void runner_core::call_strategy(const market_event& e) {
    const phase p = machine_.current();
    const lua::market_snapshot m{e.bar, true, e.bid, e.ask};
    ++calls_;
    result<strategy::action> r = p == phase::idle ? strategy_->detect_opportunity(m)
                                 : p == phase::analyzing
                                     ? strategy_->filter_commitment(m)
                                     : strategy_->manage_position(m, *machine_.current_position());
    if (!r) {
        on_failure(e, function_for(p), r.error_message());
        return;
    }
    consecutive_failures_ = 0;
    const strategy::action& a = r.value();
    if (std::holds_alternative<strategy::no_action>(a)) return;
    decision_record rec = base_record(e.ts, "call", e.bar.close);
    note_seen(rec, e);
    rec.function = function_for(p);
    rec.action = strategy::action_name(a);
    rec.reason = strategy::action_reason(a);
    if (const auto* en = std::get_if<strategy::enter_position>(&a)) {
        rec.quantity = en->quantity.value_or(cfg_.quantity);
        rec.stop_loss = en->stop_loss;
        rec.take_profit = en->take_profit;
    }
    note(decisions_, *log_, rec);
    apply(a, e, rec.function);
}

void runner_core::apply(const strategy::action& a, const market_event& e, const char* function) {
    const auto transition = [&](phase from, std::string_view reason) {
        decision_record r = base_record(e.ts, "transition", e.bar.close);
        r.state = strategy::phase_name(from);
        r.to_state = strategy::phase_name(machine_.current());
        r.reason = reason;
        note(decisions_, *log_, r);
    };
    const phase before = machine_.current();
    bool legal = true;
    if (const auto* o = std::get_if<strategy::open_analysis>(&a)) {
        const std::string_view reason = non_empty_or(o->reason, "opportunity");
        legal = machine_.begin_analysis(e.ts, reason);
        if (legal) {
            journal_text(journal::record_type::analysis_begun, reason);
            transition(before, reason);
        }
    } else if (const auto* c = std::get_if<strategy::cancel_analysis>(&a)) {
        const std::string_view reason = non_empty_or(c->reason, "analysis cancelled");
        legal = machine_.cancel_analysis(e.ts, reason);
        if (legal) {
            journal_text(journal::record_type::analysis_cancelled, reason);
            transition(before, reason);
        }
    } else if (const auto* en = std::get_if<strategy::enter_position>(&a)) {
        enter(*en, e);
    } else if (const auto* x = std::get_if<strategy::exit_position>(&a)) {
        const double price =
            machine_.current_position() &&
                    machine_.current_position()->direction == strategy::side::long_side
                ? e.bid
                : e.ask;
        exit_position(e, non_empty_or(x->reason, "strategy exit"), price);
    } else if (const auto* s = std::get_if<strategy::update_stop_loss>(&a)) {
        legal = machine_.set_stop_loss(s->price);
        if (legal) {
            journal::record j;
            j.type = journal::record_type::stop_loss;
            j.stop_loss = s->price;
            journal_append(j);
        }
    } else if (const auto* t = std::get_if<strategy::update_take_profit>(&a)) {
        legal = machine_.set_take_profit(t->price);
        if (legal) {
            journal::record j;
            j.type = journal::record_type::take_profit;
            j.take_profit = t->price;
            journal_append(j);
        }
    }
    if (!legal) {
        // The Lua layer only accepts actions valid for the phase it was called in; getting here
        // means the engine and the contract disagree.
        log_->error("{}: action {} from {} is not valid in state {}; ignored", cfg_.symbol,
                    strategy::action_name(a), function, strategy::phase_name(before));
    }
}

void runner_core::enter(const strategy::enter_position& a, const market_event& e) {
    if (wedged_ != nullptr && wedged_->load(std::memory_order_acquire)) {
        // The watchdog marked this runner wedged while this very call was running.
        decision_record r = base_record(e.ts, "error", e.bar.close);
        r.message = "entry refused: the runner is marked wedged";
        note(decisions_, *log_, r);
        return;
    }
    if (!journal_allows_entry(e)) return;
    const double qty = a.quantity.value_or(cfg_.quantity);
    if (!risk_allows_entry(qty, a, e)) return;
    // From here on the book holds a position slot for this entry: given back if none opens.
    admitted_entry slot(book_);
    if (!account_opened_ && journal_ != nullptr) {
        journal::record acct;
        acct.type = journal::record_type::account_opened;
        acct.amount = broker_.cash();
        if (!journal_append(acct)) return;
        account_opened_ = true;
    }
    const bool is_long = a.direction == strategy::side::long_side;
    auto f = broker_.market_order(is_long ? exec::order_side::buy : exec::order_side::sell, qty,
                                  last_quote_);
    if (!f) {
        decision_record r = base_record(e.ts, "error", e.bar.close);
        r.message = f.error_message();
        note(decisions_, *log_, r);
        return;
    }
    strategy::position p;
    p.direction = a.direction;
    p.quantity = f.value().quantity;
    p.entry_price = f.value().price;
    p.stop_loss = a.stop_loss;
    p.take_profit = a.take_profit;
    p.entry_fee = f.value().fee;
    p.opened_at = e.ts;
    const std::string_view reason = non_empty_or(a.reason, "entry");
    if (!machine_.open_position(p, e.ts, reason)) {
        // The Lua layer validated the entry; a refusal here means the fill itself is unusable.
        // Undo the broker's side so the account and the state machine stay in agreement.
        auto undo = broker_.market_order(is_long ? exec::order_side::sell : exec::order_side::buy,
                                         p.quantity, last_quote_);
        for (const exec::fill* made : {&f.value(), undo ? &undo.value() : nullptr}) {
            if (made == nullptr) continue;
            journal::record j;
            j.type = journal::record_type::fill;
            j.order_fill = *made;
            journal_append(j);
        }
        decision_record r = base_record(e.ts, "error", p.entry_price);
        r.message = "entry refused by the state machine (unusable fill or stop/target)";
        note(decisions_, *log_, r);
        return;
    }
    slot.keep();
    risk_.note_order(e.ts);

    journal::record j;
    j.type = journal::record_type::entry;
    j.direction = p.direction;
    j.order_fill = f.value();
    j.stop_loss = p.stop_loss;
    j.take_profit = p.take_profit;
    j.text = reason;
    journal_append(j);

    decision_record r = base_record(e.ts, "fill", p.entry_price);
    r.side = exec::order_side_name(f.value().side);
    r.quantity = p.quantity;
    r.fee = p.entry_fee;
    r.stop_loss = p.stop_loss;
    r.take_profit = p.take_profit;
    r.reason = reason;
    note(decisions_, *log_, r);
    decision_record t = base_record(e.ts, "transition", p.entry_price);
    t.state = strategy::phase_name(phase::analyzing);
    t.to_state = strategy::phase_name(phase::in_position);
    t.reason = reason;
    note(decisions_, *log_, t);
}

void runner_core::exit_position(const market_event& e, std::string_view reason,
                                double trigger_price) {
    const auto& pos = machine_.current_position();
    if (!pos) return;
    const bool is_long = pos->direction == strategy::side::long_side;
    auto f = broker_.market_order(is_long ? exec::order_side::sell : exec::order_side::buy,
                                  pos->quantity, last_quote_);
    if (!f) {
        decision_record r = base_record(e.ts, "error", trigger_price);
        r.message = f.error_message();
        note(decisions_, *log_, r);
        return;
    }
    const auto trade = machine_.close_position(f.value().price, f.value().fee, e.ts, reason);
    const double net = trade ? trade->net_pnl : 0.0;
    risk_.note_exit(net, e.ts);
    if (book_ != nullptr) book_->note_exit(net, e.ts);
    journal::record j;
    j.type = journal::record_type::exit;
    j.order_fill = f.value();
    j.text = reason;
    journal_append(j);
    decision_record r = base_record(e.ts, "fill", f.value().price);
    r.side = exec::order_side_name(f.value().side);
    r.quantity = f.value().quantity;
    r.fee = f.value().fee;
    r.reason = reason;
    if (trade) r.pnl = trade->net_pnl;
    note(decisions_, *log_, r);
    decision_record t = base_record(e.ts, "transition", f.value().price);
    t.state = strategy::phase_name(phase::in_position);
    t.to_state = strategy::phase_name(phase::idle);
    t.reason = reason;
    note(decisions_, *log_, t);
}

void runner_core::on_failure(const market_event& e, const char* function,
                             const std::string& message) {
    ++errors_;
    ++consecutive_failures_;
    last_error_ = message;
    decision_record r = base_record(e.ts, "error", e.bar.close);
    note_seen(r, e);
    r.function = function;
    r.message = message;
    note(decisions_, *log_, r);
    if (consecutive_failures_ >= max_failures_) {
        suspend(e.ts, std::to_string(consecutive_failures_) +
                          " consecutive strategy failures; last: " + message);
    }
}

void runner_core::suspend(timestamp_ms ts, const std::string& reason) {
    suspended_ = true;
    suspension_reason_ = reason;
    journal_text(journal::record_type::suspended, reason, ts);
    log_->error(
        "{}: strategy {} SUSPENDED ({}); no new entries; an open position stays protected "
        "by its stop-loss/take-profit; fix the script to resume",
        cfg_.symbol, script_name_, reason);
    decision_record r = base_record(ts, "suspended", last_quote_.bid);
    r.reason = reason;
    decisions_.write(r);
}

void runner_core::note_seen(decision_record& r, const market_event& e) const noexcept {
    r.bar = &e.bar;
    r.seen_quote = quote{e.bid, e.ask, e.ts};
    r.indicators = &indicators_;
}

decision_record runner_core::base_record(timestamp_ms ts, const char* event, double price) const {
    ++records_made_;
    decision_record r;
    r.ts = ts;
    r.symbol = cfg_.symbol;
    r.event = event;
    r.state = strategy::phase_name(machine_.current());
    r.price = price;
    if (strategy_) r.script_hash = strategy_->hash();
    return r;
}

void runner_core::retire(bool flatten) {
    if (retiring_) return;
    retiring_ = true;
    const timestamp_ms ts = last_quote_.ts;
    log_->warn("{} was removed from the configuration: no new entries{}", cfg_.symbol,
               machine_.current_position()
                   ? (flatten ? "; closing the open position at the market"
                              : "; the open position stays managed until it closes")
                   : "");
    decision_record r = base_record(ts, "retired", last_quote_.bid);
    r.reason =
        flatten ? "removed from the configuration (flatten)" : "removed from the configuration";
    decisions_.write(r);
    if (machine_.current() == phase::analyzing) {
        machine_.cancel_analysis(ts, "symbol removed from the configuration");
        journal_text(journal::record_type::analysis_cancelled,
                     "symbol removed from the configuration", ts);
        decision_record t = base_record(ts, "transition", last_quote_.bid);
        t.state = strategy::phase_name(phase::analyzing);
        t.to_state = strategy::phase_name(phase::idle);
        t.reason = "symbol removed from the configuration";
        decisions_.write(t);
    }
    const auto& pos = machine_.current_position();
    if (flatten && pos && last_quote_.bid > 0 && last_quote_.ask > 0) {
        market_event e;
        e.kind = event_kind::quote;
        e.ts = ts;
        e.bid = last_quote_.bid;
        e.ask = last_quote_.ask;
        const bool is_long = pos->direction == strategy::side::long_side;
        exit_position(e, "symbol removed from the configuration",
                      is_long ? last_quote_.bid : last_quote_.ask);
    }
}

void runner_core::reinstate() {
    if (!retiring_) return;
    retiring_ = false;
    log_->info("{} is back in the configuration: entries allowed again", cfg_.symbol);
    decision_record r = base_record(last_quote_.ts, "reinstated", last_quote_.bid);
    r.reason = "added back to the configuration";
    decisions_.write(r);
}

runner_summary runner_core::summary() const {
    runner_summary s;
    s.symbol = cfg_.symbol;
    s.script = script_name_;
    if (strategy_) s.script_hash = strategy_->hash();
    s.reloads = reloads_;
    s.reload_failures = reload_failures_;
    s.failed_hash = failed_hash_;
    if (reload_error_) s.reload_error = *reload_error_;
    s.state = strategy::phase_name(machine_.current());
    s.trades = machine_.trade_count();
    s.realized_pnl = machine_.realized_pnl();
    s.fees = broker_.fees_paid();
    s.events = events_;
    s.candles = candles_;
    s.strategy_calls = calls_;
    s.strategy_errors = errors_;
    s.auto_exits = auto_exits_;
    s.suspended = suspended_;
    s.suspension_reason = suspension_reason_;
    s.retiring = retiring_;
    s.open_position = machine_.current_position();
    s.last_bid = last_quote_.bid;
    s.last_ask = last_quote_.ask;
    return s;
}

}  // namespace tradingd::engine
