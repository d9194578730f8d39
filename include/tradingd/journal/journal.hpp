#pragma once
// journal: the daemon's durable, append-only record of state changes, with snapshots and
// recovery. Format and guarantees: docs/journal.md.
//
// Layout of the journal directory (<state_dir>/journal/):
//   segment-<first seq, 20 digits>.log   records, framed u32 len | u32 crc32 | u64 seq | payload;
//                                         preallocated (fallocate) to [journal] segment_mb, the
//                                         unused tail is zeros
//   snapshot-<seq, 20 digits>.snap       every runner's state after record <seq>
//   *.tmp                                a snapshot being written (ignored and removed at open)
//
// Opening recovers: the newest snapshot whose checksum holds, then every record after it, in
// sequence order. A bad record at the very end of the last segment, with nothing valid after it,
// is a torn write (a crash mid-append): it is dropped with a warning and overwritten by the next
// append. A bad record anywhere else, a gap in the sequence, or a record that does not fit the
// state (runner_state.hpp) throws journal_error naming the file and the byte offset: a start
// never restores part of a journal silently.
//
// Appending: the record is encoded, framed and written with one pwrite before append() returns,
// so a killed process never loses a record append() accepted. Durability "fsync" also
// fdatasyncs before returning; "group" leaves that to a thread that syncs every group_commit_ms.
// Any write or sync error is final (PostgreSQL's lesson: a retried fsync may lie): the journal
// turns unhealthy, refuses every later append and says why; the runners then open no new
// positions and keep protecting the ones they have.
//
// Snapshots: the journal keeps the state its records imply (applying each record as it appends
// it); after snapshot_every records the sync thread writes that state to a temp file, fsyncs,
// renames it into place, fsyncs the directory, and deletes the older snapshots and the segments
// the new snapshot covers.
//
// Thread-safety: append(), healthy(), failure() and stats() from any thread (one mutex).

#include <spdlog/logger.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/journal/record_sink.hpp>
#include <tradingd/journal/runner_state.hpp>

namespace tradingd::journal {

/// A journal that cannot be opened or recovered; the message names the file and offset.
class journal_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct recovery_report {
    std::uint64_t snapshot_seq = 0;      ///< 0: no snapshot was used
    std::uint64_t records_replayed = 0;  ///< after the snapshot
    std::uint64_t last_seq = 0;
    std::string torn_tail;         ///< "file at offset N (why)" when a torn last record was dropped
    std::string snapshot_problem;  ///< a newer snapshot that was skipped (bad checksum), if any
    double seconds = 0;            ///< time the recovery took
};

struct journal_stats {
    std::uint64_t appended = 0;  ///< records appended since open
    std::uint64_t bytes = 0;
    std::uint64_t syncs = 0;
    std::uint64_t snapshots = 0;
    std::uint64_t last_seq = 0;
    std::uint64_t synced_seq = 0;  ///< every record up to this one is on disk
    bool healthy = true;
    std::string failure;
};

/// Reads a journal directory without changing anything (tools, tests): the state and how it was
/// recovered. Throws journal_error as the constructor does.
journal_state read_journal(const std::filesystem::path& dir, recovery_report* report = nullptr);

class journal final : public record_sink {
public:
    /// Creates `dir` if needed, recovers (see above) and opens for appending. Throws
    /// journal_error for corruption, std::runtime_error for I/O problems (read-only directory,
    /// no space for a segment), each naming the path.
    journal(const std::filesystem::path& dir, const config::journal_config& cfg,
            std::shared_ptr<spdlog::logger> logger);
    ~journal() override;  ///< syncs what was written, stops the sync thread
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    /// The state recovered at open (before any append of this process).
    const journal_state& recovered() const noexcept { return recovered_; }
    const recovery_report& report() const noexcept { return report_; }

    bool append(const record& r) noexcept override;
    bool healthy() const noexcept override;
    std::string failure() const override;

    /// Syncs everything appended so far (shutdown). Returns false when the journal is unhealthy.
    bool sync() noexcept;
    journal_stats stats() const;
    const std::filesystem::path& directory() const noexcept { return dir_; }

private:
    struct segment;
    void open_for_append(const std::filesystem::path& last_segment, std::uint64_t end_offset,
                         std::uint64_t dirty_end);
    bool start_segment(std::uint64_t first_seq, std::size_t min_bytes) noexcept;
    void fail(const std::string& what) noexcept;
    void sync_loop();
    void take_snapshot(std::unique_lock<std::mutex>& lock);

    std::filesystem::path dir_;
    config::journal_config cfg_;
    std::shared_ptr<spdlog::logger> log_;
    journal_state recovered_;
    recovery_report report_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    journal_state state_;  ///< recovered_ + every record appended since
    std::shared_ptr<segment> current_;
    std::string frame_;  ///< reused encoding buffer
    std::uint64_t next_seq_ = 1;
    std::uint64_t since_snapshot_ = 0;
    bool dirty_ = false;
    bool stopping_ = false;
    bool snapshot_due_ = false;
    journal_stats stats_;
    std::thread sync_thread_;
};

}  // namespace tradingd::journal
