#pragma once
// The decision log: one JSON object per line for every strategy call that returned something,
// every state transition, fill, auto-exit, strategy error and suspension.
//
// Every line has the same core keys, so a reader can filter without knowing the event kind:
//   {"ts":1704067260000,"time":"2024-01-01T00:01:00.000Z","symbol":"BTCUSDT","event":"call",
//    "state":"Idle","function":"detect_opportunity","action":"open_analysis","reason":"...",
//    "price":30012.5,"script_hash":"3f2a9c01b7de", ...extra keys per event}
// `ts` is the market event's time (not the wall clock), so replays of the same events produce the
// same file. Format reference: docs/architecture.md, "Decision log".
//
// Thread-safety: decision_log_file::write may be called from any thread (one mutex; each line is
// written whole and flushed, so a crash loses at most the line being written).

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <tradingd/core/market_types.hpp>
#include <tradingd/indicators/indicator_set.hpp>

namespace tradingd::engine {

struct decision_record {
    timestamp_ms ts = 0;
    std::string_view symbol;
    /// call, transition, fill, auto_exit, error, suspended, load_error, reloaded, reload_failed
    const char* event = "";
    const char* state = "";     ///< phase name when the record was made
    const char* function = "";  ///< Lua function ("" when not a call)
    const char* action = "";    ///< action name ("" when none)
    std::string_view reason;
    double price = 0;  ///< the price the decision was based on (close, fill or trigger price)
    /// content_hash of the script version running when the record was made ("" when none is).
    std::string_view script_hash;
    // Optional extras (omitted when unset).
    std::optional<double> quantity;
    std::optional<double> fee;
    std::optional<double> pnl;
    std::optional<double> stop_loss;
    std::optional<double> take_profit;
    const char* side = nullptr;
    const char* to_state = nullptr;
    std::string_view message;        ///< error text
    std::string_view previous_hash;  ///< reloaded: the version it replaced
    std::string_view refused_hash;   ///< reload_failed: the version that was not swapped in
    /// call and error records: what the strategy saw, rendered as "market" (the candle and the
    /// quote) and "indicators" (the current value of every indicator the script has used, keyed
    /// "sma(10)"; null while not ready; [a, b, c] for macd and bollinger). Null: omitted.
    const candle* bar = nullptr;
    quote seen_quote{};
    const indicators::indicator_set* indicators = nullptr;
};

/// Where runners send decision records.
class decision_sink {
public:
    virtual ~decision_sink() = default;
    virtual void write(const decision_record& r) noexcept = 0;
};

/// Renders a record as one JSON line (without the trailing newline).
std::string to_json_line(const decision_record& r);

/// Appends JSON lines to a file (created with its parent directories if missing).
class decision_log_file final : public decision_sink {
public:
    /// Throws std::runtime_error naming the path if the file cannot be opened.
    explicit decision_log_file(const std::filesystem::path& path);
    ~decision_log_file() override;
    decision_log_file(const decision_log_file&) = delete;
    decision_log_file& operator=(const decision_log_file&) = delete;

    void write(const decision_record& r) noexcept override;
    /// Lines that could not be written (I/O error); each failure is also logged.
    std::uint64_t write_errors() const noexcept;
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
    std::FILE* file_ = nullptr;
    mutable std::mutex mutex_;
    std::uint64_t write_errors_ = 0;
};

}  // namespace tradingd::engine
