#pragma once
// Recording of market sessions: every event the runners accepted, in order, with when it was
// accepted, in a compact binary file that `[feed] type = "replay"` feeds back
// (docs/recording.md has the byte layout).
//
// File: a header (magic "TDREC001", format version, record size, the recording's start wall
// time, the symbol table, CRC-32), then fixed-size 112-byte little-endian records, each with
// its own CRC-32. A record is an event (kind 0..2) or a symbol definition (kind 255: a symbol
// added while recording, e.g. by a config reload). A partial record at the end of the file (the
// process died mid-write) is a torn tail: readers ignore it with a warning. A complete record
// whose CRC does not match is corruption: an error naming the file and the byte offset.

#include <spdlog/logger.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/core/event_sink.hpp>
#include <tradingd/core/market_types.hpp>

namespace tradingd::feed {

/// A recording that cannot be opened, read or written; the message names the file (and the byte
/// offset for corruption).
class recording_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace recording_format {
inline constexpr char magic[8] = {'T', 'D', 'R', 'E', 'C', '0', '0', '1'};
inline constexpr std::uint32_t version = 1;
inline constexpr std::size_t record_size = 112;
inline constexpr std::uint8_t symbol_definition_kind = 255;
inline constexpr std::size_t max_symbol_name = 56;  ///< bytes of a name in a definition record
}  // namespace recording_format

/// One event read back from a recording.
struct recorded_event {
    /// The event as the runner received it, except: `symbol` is the index in the recording's
    /// symbol table, and `received_ns` is relative to the recording's start (0 when the event had
    /// no network receive time).
    market_event event;
    /// When the runner accepted it: nanoseconds since the recording started (steady clock).
    std::int64_t recorded_ns = 0;
    bool has_received = false;  ///< the event carried a network receive time
};

/// Writes a recording. Created at daemon start; events arrive from the feed threads of every
/// symbol at once.
///
/// Thread-safety: record(), add_symbol() and the accessors from any thread; close() from the
/// owner. Guarantees: records are written in the order record() was entered (one mutex), and
/// each symbol's events in the order its feed thread passed them. Writes go to a memory buffer
/// that a background thread writes out at least every 100 ms (and at close), so a slow disk never
/// blocks trading. The first write error (or the buffer passing 64 MiB because the disk cannot
/// keep up) is logged once and ends the recording; the daemon keeps trading.
/// Lifetime: the destructor closes the file.
class recording_writer {
public:
    /// Creates `path` with a header listing `symbols` (index = position). An existing file at
    /// `path` is renamed aside to <stem>-<UTC time>[-N]<ext> first (logged), never overwritten.
    /// Throws recording_error when the file cannot be created, or a name is empty or too long.
    recording_writer(const std::filesystem::path& path, const std::vector<std::string>& symbols,
                     std::shared_ptr<spdlog::logger> log);
    ~recording_writer();
    recording_writer(const recording_writer&) = delete;
    recording_writer& operator=(const recording_writer&) = delete;

    /// The index of `name` in the file's symbol table, adding it (a definition record) when it
    /// is new. Throws recording_error for an empty or too long name.
    std::uint32_t add_symbol(const std::string& name);
    /// Appends one event of symbol `index` (from the constructor or add_symbol). Never blocks on
    /// I/O, never throws; does nothing once the recording failed or was closed.
    void record(std::uint32_t index, const market_event& e) noexcept;
    /// Writes out the buffer, stops the background thread and closes the file. Idempotent.
    void close() noexcept;

    const std::filesystem::path& path() const noexcept { return path_; }
    /// Records accepted so far (events and symbol definitions).
    std::uint64_t records() const noexcept { return records_.load(std::memory_order_relaxed); }
    /// Whether the recording stopped because of an error (logged once).
    bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }

private:
    void append_locked(const unsigned char* record);
    void flush_loop();
    /// Writes `data` to the file (flusher thread or close); false on error (logged, fails).
    bool write_out(const std::vector<unsigned char>& data) noexcept;
    void fail(const std::string& why) noexcept;

    std::filesystem::path path_;
    std::shared_ptr<spdlog::logger> log_;
    int fd_ = -1;
    std::int64_t start_steady_ns_ = 0;
    std::mutex mutex_;  // guards the members below
    std::condition_variable wake_;
    std::vector<unsigned char> buffer_;
    std::vector<std::string> symbols_;
    std::uint32_t sequence_ = 0;
    bool closing_ = false;
    std::mutex write_mutex_;  // one writer of fd_ at a time (flusher, close)
    std::atomic<bool> failed_{false};
    std::atomic<bool> closed_{false};
    std::atomic<std::uint64_t> records_{0};
    std::thread flusher_;
};

/// An event_sink that forwards to `target` and records what `target` accepted, so a recording
/// holds exactly what the runner received: push()/offer() results are passed through unchanged,
/// and an event `target` refused (full, closed) is not recorded.
///
/// Thread-safety: as `target` (one producer per sink). Lifetime: `target` and `writer` must
/// outlive it.
class recording_sink final : public event_sink {
public:
    recording_sink(event_sink& target, recording_writer& writer, std::uint32_t index) noexcept
        : target_(&target), writer_(&writer), index_(index) {}
    bool push(const market_event& e) override;
    offer_result offer(const market_event& e) override;

private:
    event_sink* target_;
    recording_writer* writer_;
    std::uint32_t index_;
};

/// Reads a recording front to back.
///
/// Thread-safety: one thread. Lifetime: owns the open file.
class recording_reader {
public:
    /// Opens `path` and reads the header. Throws recording_error (naming the file) when it cannot
    /// be opened or the header is not a valid recording header of a supported version.
    explicit recording_reader(const std::filesystem::path& path);
    ~recording_reader();
    recording_reader(const recording_reader&) = delete;
    recording_reader& operator=(const recording_reader&) = delete;

    enum class status : std::uint8_t {
        event,    ///< `out` holds the next event
        end,      ///< no more events (a torn tail, if any, was skipped: see torn_tail_bytes())
        corrupt,  ///< a record failed its checks; error() names the file and offset
    };
    /// The next event; symbol definitions are applied to symbols() on the way.
    status next(recorded_event& out);

    /// The symbol table: the header's, plus definitions read so far.
    const std::vector<std::string>& symbols() const noexcept { return symbols_; }
    /// The recording's start, Unix epoch nanoseconds (wall clock).
    std::int64_t start_wall_ns() const noexcept { return start_wall_ns_; }
    /// Bytes of a partial last record (known once next() returned `end`).
    std::size_t torn_tail_bytes() const noexcept { return torn_tail_; }
    /// The offset of the next record in the file.
    std::uint64_t offset() const noexcept { return offset_; }
    const std::string& error() const noexcept { return error_; }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
    std::FILE* file_ = nullptr;
    std::vector<std::string> symbols_;
    std::int64_t start_wall_ns_ = 0;
    std::uint64_t offset_ = 0;
    std::uint32_t expected_sequence_ = 0;
    std::size_t torn_tail_ = 0;
    std::string error_;
};

/// What a whole recording holds, from one pass over it.
struct recording_summary {
    std::vector<std::string> symbols;   ///< every symbol, definitions included
    std::vector<std::uint64_t> events;  ///< events per symbol (same indexing)
    std::uint64_t total_events = 0;
    std::int64_t start_wall_ns = 0;
    std::int64_t duration_ns = 0;  ///< recorded_ns of the last event
    std::size_t torn_tail_bytes = 0;
};

/// Reads `path` to the end. Throws recording_error on a bad header or corruption (with the
/// offset). A torn tail is reported in the summary, not thrown.
recording_summary scan_recording(const std::filesystem::path& path);

/// Whether `path` starts with a recording's magic (false when it cannot be read).
bool is_recording(const std::filesystem::path& path);

/// The closed candles (warm-up history included) of `symbol` in a recording, in recorded order.
/// Throws recording_error naming the file: corrupt records, or a symbol the recording lacks.
std::vector<candle> read_recorded_candles(const std::filesystem::path& path,
                                          const std::string& symbol);

}  // namespace tradingd::feed
