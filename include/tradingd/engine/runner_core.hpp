#pragma once
// runner_core: the deterministic decision step of one symbol.
//
// A function of (its state, one market_event) -> (new state, effects on the broker and decision
// log). No threads, sockets or clocks: the same code serves the daemon, dry runs, tests and
// benchmarks, so the same events always produce the same decisions.
//
//   closed candle -> window -> indicators -> auto-exit check -> the phase's Lua function ->
//                    validated action -> state machine / broker
//   quote or forming-candle update -> auto-exit check only
//   warm-up candle -> window and indicators only
//
// A failed strategy call (Lua error, budget or memory breach, invalid return) is logged and
// counted; after `max_consecutive_failures` failures in a row the strategy is suspended: no more
// strategy calls and no new entries, while an open position stays protected by the auto-exit.
// A script that failed to load leaves the runner in the same suspended state from the start.
//
// Thread-safety: must only be used by one thread (its runner's). Never throws from on_event().

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/market_types.hpp>
#include <tradingd/engine/decision_log.hpp>
#include <tradingd/engine/risk.hpp>
#include <tradingd/exec/paper_broker.hpp>
#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/journal/record_sink.hpp>
#include <tradingd/journal/runner_state.hpp>
#include <tradingd/market/market_data_window.hpp>
#include <tradingd/status/daemon_status.hpp>
#include <tradingd/strategy/lua/lua_strategy.hpp>
#include <tradingd/strategy/state_machine.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::engine {

/// A new version of a runner's script, built off the runner's thread (runner_core::prepare):
/// compiled in a fresh sandboxed VM, its top level and on_init run, its functions checked. It
/// waits to be installed between two events (runner_core::install).
struct prepared_strategy {
    config::symbol_config symbol;  ///< the config it was built for (new params on a config reload)
    std::string hash;              ///< content_hash of the source; "" when it could not be read
    /// The context its top level and on_init ran against (the VM's ctx points here until install).
    std::unique_ptr<strategy::context> scratch;
    std::unique_ptr<strategy::lua::lua_strategy> strategy;  ///< null when it failed
    std::string error;                                      ///< why it failed
    /// When what triggered the reload happened (the file was closed, SIGHUP arrived): the start
    /// of the reload latency that install() logs.
    std::chrono::steady_clock::time_point since{};
};

/// Counters and state for the shutdown summary (and, later, the status endpoint).
struct runner_summary {
    std::string symbol;
    std::string script;         ///< script file name
    std::string script_hash;    ///< content hash of the running version ("" when none loaded)
    std::uint64_t reloads = 0;  ///< versions swapped in since start
    std::uint64_t reload_failures = 0;  ///< versions refused since start
    /// The last refused version and why, until a good version is installed.
    std::string failed_hash;
    std::string reload_error;
    const char* state = "Idle";
    std::size_t trades = 0;
    double realized_pnl = 0;  ///< net of fees
    double fees = 0;
    std::uint64_t events = 0;   ///< market events processed
    std::uint64_t candles = 0;  ///< closed candles (excluding warm-up)
    std::uint64_t strategy_calls = 0;
    std::uint64_t strategy_errors = 0;
    std::uint64_t auto_exits = 0;
    bool suspended = false;
    std::string suspension_reason;
    bool retiring = false;  ///< removed from the config; no new entries
    std::optional<strategy::position> open_position;
    double last_bid = 0;
    double last_ask = 0;
};

class runner_core final : private strategy::context_observer {
public:
    /// Loads the symbol's script. A load failure is not fatal: it is logged, recorded in the
    /// decision log and the runner starts suspended (see load_error()).
    /// `limits_override` (benchmarks only: e.g. hardening = false to measure the sandbox's cost)
    /// replaces to_limits(sandbox) for every load and reload of this runner.
    /// `journal` (null: nothing is journaled) receives a record for every change to the durable
    /// state (journal/record.hpp) before the change is reported; while it is unhealthy no new
    /// position is opened. `restored` (from the journal at start) is installed before the script
    /// loads, so on_init sees the restored ctx: phase, position with its stop/target, P&L,
    /// history, ctx and paper account; a suspension carries over while the script is the same
    /// version. It must outlive the constructor call only.
    /// `book` (null: only this symbol's limits apply) holds the limits over all symbols and the
    /// kill switch (engine/risk.hpp); it must outlive the core. Every entry passes the symbol's
    /// [symbols.risk] limits, then the book's; a refusal is a "risk_refused" decision record
    /// naming the limit, and the strategy stays in its phase.
    runner_core(const config::symbol_config& symbol, const config::sandbox_config& sandbox,
                const config::paper_config& paper, decision_sink& decisions,
                std::shared_ptr<spdlog::logger> logger,
                const strategy::lua::sandbox_limits* limits_override = nullptr,
                journal::record_sink* journal = nullptr,
                const journal::runner_state* restored = nullptr, risk_book* book = nullptr);
    ~runner_core();
    runner_core(const runner_core&) = delete;
    runner_core& operator=(const runner_core&) = delete;

    /// Processes one event. Never throws.
    void on_event(const market_event& e) noexcept;

    /// Connects the wedge flag a watchdog sets from another thread when this runner spends too
    /// long in one event (see engine/watchdog.hpp). Once the flag is seen set, the strategy is
    /// suspended (no new entries; open positions stay protected by the auto-exit). The flag must
    /// outlive the core. Call before the runner thread starts.
    void attach_wedge_flag(const std::atomic<bool>* wedged) noexcept { wedged_ = wedged; }

    /// Hot reload, first half: builds `source` (the bytes of `symbol.strategy_path`, read once
    /// by the caller for every runner of the script) into a new version in a fresh VM, bound to
    /// this runner's indicators and logger and to `symbol`'s params, against a scratch ctx.
    /// Thread-safe: may run on any thread while the runner runs (it reads only what is fixed at
    /// construction). Never throws; a failure is reported in the result's `error`.
    prepared_strategy prepare(const config::symbol_config& symbol, std::string_view source);
    /// Same, reading the file at `symbol.strategy_path` (size-capped, regular files only).
    prepared_strategy prepare_file(const config::symbol_config& symbol);

    /// Hot reload, second half, on the runner's thread between two events: adopts the running
    /// ctx (through the script's on_reload(old_ctx) if it has one) and swaps the version in,
    /// keeping the state machine, position, stop-loss/take-profit and ctx; a suspended strategy
    /// resumes (unless the runner is wedged); the symbol's config becomes `p.symbol`. If the
    /// version failed to build or on_reload fails, the running version stays untouched: the
    /// error is logged, written to the decision log ("reload_failed", with the refused hash)
    /// and returned, and summary() shows it until a good version is installed.
    result<bool> install(prepared_strategy p);

    /// prepare_file + install on the calling thread (the runner's): for tests and tools.
    result<bool> reload(const std::filesystem::path& path);
    /// The last failed reload's error, until a reload succeeds.
    const std::optional<std::string>& reload_error() const noexcept { return reload_error_; }

    /// The symbol was removed from the config (SIGHUP). From now on there are no new entries:
    /// an analysis in progress is cancelled; an open position stays managed by manage_position
    /// and the auto-exit until it closes, or, with `flatten`, is closed at the market at once
    /// (at the last known quote). Once flat the runner makes no more strategy calls. Runner
    /// thread only.
    void retire(bool flatten);
    /// The symbol came back into the config (SIGHUP) while its retired runner still ran: new
    /// entries are allowed again, from the state the runner is in (a position it kept is managed
    /// as before). No-op unless retiring. Runner thread only.
    void reinstate();
    bool retiring() const noexcept { return retiring_; }

    /// Closes the open position at the market (the last quote) now: the kill switch with
    /// flatten, POST /flatten. `reason` goes into the exit's decision records. Returns false
    /// when there was no position, or no quote to close it at yet (then it says so in the log).
    /// An analysis in progress is left alone. Runner thread only.
    bool flatten(std::string_view reason);
    /// New [symbols.risk] limits (a config reload). Runner thread only.
    void set_risk_limits(const config::symbol_risk_config& limits);

    /// Fills `out` with this runner's state and counters (the status endpoint; published by the
    /// runner's thread). Reuses `out`'s storage: no allocation once it has been filled before.
    void fill_status(status::runner_status& out) const;
    /// Decision records made so far: changes whenever something worth reporting happened
    /// (a strategy call, an entry, an exit, a suspension, a reload, ...).
    std::uint64_t records_made() const noexcept { return records_made_; }

    runner_summary summary() const;
    const std::optional<std::string>& load_error() const noexcept { return load_error_; }
    const std::string& symbol() const noexcept { return cfg_.symbol; }
    bool suspended() const noexcept { return suspended_; }
    const strategy::state_machine& machine() const noexcept { return machine_; }
    const exec::paper_broker& broker() const noexcept { return broker_; }
    const market::market_data_window& window() const noexcept { return window_; }
    const strategy::lua::lua_strategy* strategy() const noexcept { return strategy_.get(); }

private:
    strategy::lua::sandbox_limits limits() const;
    /// What a script of this runner is bound to (the first load and every reload): the symbol's
    /// config, this runner's indicators and logger, and `ctx`.
    strategy::lua::strategy_binding binding_for(const config::symbol_config& symbol,
                                                strategy::context* ctx);
    void on_closed_candle(const market_event& e);
    void on_price_update(const market_event& e);
    void check_auto_exit(const market_event& e);
    void call_strategy(const market_event& e);
    void apply(const strategy::action& a, const market_event& e, const char* function);
    void enter(const strategy::enter_position& a, const market_event& e);
    void exit_position(const market_event& e, std::string_view reason, double trigger_price);
    void on_failure(const market_event& e, const char* function, const std::string& message);
    void suspend(timestamp_ms ts, const std::string& reason);
    /// Logs and records a refused version; the running one stays.
    result<bool> refuse_version(const prepared_strategy& p, std::string why);
    decision_record base_record(timestamp_ms ts, const char* event, double price) const;
    /// Adds what a strategy call saw (candle, quote, indicator values) to a call/error record.
    void note_seen(decision_record& r, const market_event& e) const noexcept;
    /// Installs a state restored from the journal (constructor, before the script loads).
    void restore(const journal::runner_state& s);
    /// After the first load: records the script version, and carries a restored suspension over.
    void note_loaded_version(const journal::runner_state* restored);
    /// Appends to the journal (a no-op without one). On failure, says so once (log + decision
    /// record) and returns false.
    bool journal_append(journal::record& r) noexcept;
    /// journal_append of a record that carries only a text (reason): analyses, suspension, ...
    /// `ts` 0: the current event's time.
    bool journal_text(journal::record_type type, std::string_view text,
                      timestamp_ms ts = 0) noexcept;
    /// Whether a new position may be opened as far as the journal is concerned; if not, records
    /// the refusal.
    bool journal_allows_entry(const market_event& e);
    /// Whether the risk limits admit an entry of `qty` (symbol's, then the book's, which then
    /// holds a slot for it); if not, records the refusal.
    bool risk_allows_entry(double qty, const strategy::enter_position& a, const market_event& e);
    /// After the restore: the day's realised P&L and the last exit, for the risk limits.
    void restore_risk_state(timestamp_ms last_ts);
    /// Adds the counters of a VM being replaced (reload) to retired_vm_, so metrics only grow.
    void retire_vm_stats(const strategy::lua::lua_strategy& old);
    void on_ctx_change(std::string_view key, const scalar* value) noexcept override;
    void on_ctx_clear() noexcept override;

    config::symbol_config cfg_;
    std::int32_t max_failures_;
    decision_sink& decisions_;
    std::shared_ptr<spdlog::logger> log_;
    market::market_data_window window_;
    indicators::indicator_set indicators_;
    strategy::state_machine machine_;
    exec::paper_broker broker_;
    std::unique_ptr<strategy::lua::lua_strategy> strategy_;
    std::optional<std::string> load_error_;
    std::optional<std::string> reload_error_;
    std::string failed_hash_;
    std::uint64_t reloads_ = 0;
    std::uint64_t reload_failures_ = 0;
    std::string script_name_;
    config::sandbox_config sandbox_;
    std::optional<strategy::lua::sandbox_limits> limits_override_;

    journal::record_sink* journal_ = nullptr;
    bool journal_failure_noted_ = false;
    bool account_opened_ = false;     ///< the journal has this runner's starting cash
    bool recount_bars_held_ = false;  ///< a restored position: bars_held from candle times
    timestamp_ms event_ts_ = 0;       ///< of the event being processed (journal records)

    const std::atomic<bool>* wedged_ = nullptr;
    quote last_quote_{};
    bool suspended_ = false;
    bool retiring_ = false;
    std::string suspension_reason_;
    std::int32_t consecutive_failures_ = 0;
    std::uint64_t events_ = 0;
    std::uint64_t candles_ = 0;
    std::uint64_t calls_ = 0;
    std::uint64_t errors_ = 0;
    std::uint64_t auto_exits_ = 0;

    symbol_risk risk_;
    risk_book* book_ = nullptr;
    std::vector<status::risk_refusal_count> risk_refusals_;
    std::string last_error_;                    ///< the last strategy failure's message
    strategy::lua::strategy_stats retired_vm_;  ///< summed counters of replaced VMs
    mutable std::uint64_t records_made_ = 0;    ///< base_record() calls
};

/// The sandbox limits a config's [sandbox] section describes.
strategy::lua::sandbox_limits to_limits(const config::sandbox_config& s);

}  // namespace tradingd::engine
