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
//
// Rotation (optional): when the file would grow past max_bytes it is renamed to
// <stem>-<UTC wall time, e.g. 20240101T033500Z>[-N]<ext> in the same directory and a new file is
// started; rotated files older than `keep` (by mtime) are deleted when the log is opened and at
// each rotation. A line is never split across files. decision_log_files() lists a log's files in
// the order they were written.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// "2024-01-01T00:01:00.000Z": a record's `time` field (UTC, millisecond precision; negative
/// times round down).
std::string iso_time(timestamp_ms ts);

/// Renders a record as one JSON line (without the trailing newline).
std::string to_json_line(const decision_record& r);

/// Size-based rotation and retention of a decision log. The defaults mean "one file, kept
/// forever" (no rotation, nothing deleted).
struct decision_log_rotation {
    /// Rotate before a line would take the file past this many bytes; 0 = never rotate.
    std::uint64_t max_bytes = 0;
    /// Delete rotated files whose mtime is older than this; 0 = keep forever.
    std::chrono::seconds keep{0};
};

namespace detail {
/// Sort key of a rotated file name: its UTC stamp ("20240101T033500Z") and the -N counter.
struct rotated_key {
    std::string stamp;
    int counter = 0;
};
/// The key when `name` is a rotated file of `current` (same stem and extension), else nullopt.
std::optional<rotated_key> parse_rotated_name(const std::filesystem::path& current,
                                              const std::string& name);
/// <stem>-<stamp of now><ext> beside `current`, with -1, -2, ... added if that name is taken.
std::filesystem::path free_rotated_name(const std::filesystem::path& current, std::time_t now);
}  // namespace detail

/// The files of the decision log whose current file is `current`: its rotated files (oldest
/// first, by the time suffix in their names), then `current` itself if it exists. Files that
/// merely resemble the pattern (other stems, other extensions, malformed times) are not included.
std::vector<std::filesystem::path> decision_log_files(const std::filesystem::path& current);

/// Appends JSON lines to a file (created with its parent directories if missing), rotating it by
/// size when asked to (see decision_log_rotation).
class decision_log_file final : public decision_sink {
public:
    /// Throws std::runtime_error naming the path if the file cannot be opened. With a rotation,
    /// rotated files older than rotation.keep are deleted here (each deletion is logged).
    explicit decision_log_file(const std::filesystem::path& path,
                               decision_log_rotation rotation = {});
    ~decision_log_file() override;
    decision_log_file(const decision_log_file&) = delete;
    decision_log_file& operator=(const decision_log_file&) = delete;

    void write(const decision_record& r) noexcept override;
    /// Lines that could not be written (I/O error); each failure is also logged.
    std::uint64_t write_errors() const noexcept;
    const std::filesystem::path& path() const noexcept { return path_; }
    /// Rotations done since construction.
    std::uint64_t rotations() const noexcept;

private:
    /// Renames the current file aside and opens a new one (mutex_ held). On failure the log keeps
    /// appending to the current file: a rotation is never worth losing lines.
    void rotate_locked();
    /// Deletes rotated files older than rotation_.keep (no-op when keep is 0).
    void prune_old_files() const;
    bool open_locked();
    void end_with_newline();

    std::filesystem::path path_;
    decision_log_rotation rotation_;
    std::FILE* file_ = nullptr;
    std::uint64_t size_ = 0;          ///< bytes in the current file
    std::uint64_t rotate_limit_ = 0;  ///< max_bytes, raised after a failed rotation
    mutable std::mutex mutex_;
    std::uint64_t write_errors_ = 0;
    std::uint64_t rotations_ = 0;
};

}  // namespace tradingd::engine
