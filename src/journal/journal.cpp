#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <tradingd/journal/journal.hpp>

#include "files.hpp"
#include "recovery.hpp"

namespace tradingd::journal {

namespace fs = std::filesystem;
using detail::errno_text;

struct journal::segment {
    detail::unique_fd fd;
    fs::path path;
    std::uint64_t capacity = 0;
    std::uint64_t offset = 0;
};

journal_state read_journal(const fs::path& dir, recovery_report* report) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        throw std::runtime_error("journal directory '" + dir.string() + "' does not exist");
    }
    auto r = detail::recover(dir);
    if (report != nullptr) *report = r.report;
    return std::move(r.state);
}

journal::journal(const fs::path& dir, const config::journal_config& cfg,
                 std::shared_ptr<spdlog::logger> logger)
    : dir_(dir), cfg_(cfg), log_(logger ? std::move(logger) : spdlog::default_logger()) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) {
        throw std::runtime_error("cannot create journal directory '" + dir_.string() +
                                 "': " + ec.message());
    }
    auto r = detail::recover(dir_);
    for (const auto& tmp : detail::list_directory(dir_).temporaries) {
        log_->warn("journal: removing {} (a snapshot interrupted before it was complete)",
                   tmp.string());
        fs::remove(tmp, ec);
    }
    if (!r.report.snapshot_problem.empty()) log_->warn("journal: {}", r.report.snapshot_problem);
    if (!r.report.torn_tail.empty()) {
        log_->warn("journal: dropped a torn last record (a crash during a write): {}",
                   r.report.torn_tail);
    }
    recovered_ = r.state;
    report_ = r.report;
    state_ = std::move(r.state);
    next_seq_ = state_.last_seq + 1;
    // Records replayed now count towards the next snapshot: frequent restarts must not let the
    // journal behind the snapshot (and the next restart's replay) grow without bound.
    since_snapshot_ = report_.records_replayed;
    snapshot_due_ = since_snapshot_ >= static_cast<std::uint64_t>(cfg_.snapshot_every);
    if (snapshot_due_) since_snapshot_ = 0;
    stats_.last_seq = state_.last_seq;
    stats_.synced_seq = state_.last_seq;
    if (!r.last_segment.empty()) {
        open_for_append(r.last_segment, r.end_offset, r.dirty_end);
    } else if (!start_segment(next_seq_, 0)) {
        throw std::runtime_error(stats_.failure);
    }
    sync_thread_ = std::thread([this] { sync_loop(); });
}

journal::~journal() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (sync_thread_.joinable()) sync_thread_.join();
    sync();
}

void journal::open_for_append(const fs::path& path, std::uint64_t end_offset,
                              std::uint64_t dirty_end) {
    auto seg = std::make_shared<segment>();
    seg->fd.reset(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!seg->fd) {
        throw std::runtime_error("cannot open journal segment '" + path.string() +
                                 "' for writing: " + errno_text(errno));
    }
    struct stat st {};
    if (::fstat(seg->fd.get(), &st) != 0) {
        throw std::runtime_error("cannot stat '" + path.string() + "': " + errno_text(errno));
    }
    seg->path = path;
    seg->capacity = static_cast<std::uint64_t>(st.st_size);
    seg->offset = end_offset;
    // The remains of a torn record would read as garbage after the next records: zero them.
    if (dirty_end > end_offset) {
        const std::string zeros(dirty_end - end_offset, '\0');
        if (const int err = detail::write_all_at(seg->fd.get(), zeros, end_offset);
            err != 0 || ::fdatasync(seg->fd.get()) != 0) {
            throw std::runtime_error("cannot clear the torn tail of '" + path.string() +
                                     "': " + errno_text(err != 0 ? err : errno));
        }
    }
    current_ = std::move(seg);
}

bool journal::start_segment(std::uint64_t first_seq, std::size_t min_bytes) noexcept {
    try {
        if (current_ && cfg_.durability == "group" && dirty_) {
            // Group mode: what the old segment holds is synced before the switch.
            if (::fdatasync(current_->fd.get()) != 0) {
                fail("cannot sync '" + current_->path.string() + "': " + errno_text(errno));
                return false;
            }
        }
        const fs::path path = dir_ / detail::segment_name(first_seq);
        auto seg = std::make_shared<segment>();
        seg->fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!seg->fd) {
            fail("cannot create journal segment '" + path.string() + "': " + errno_text(errno));
            return false;
        }
        const std::uint64_t size = std::max<std::uint64_t>(
            static_cast<std::uint64_t>(cfg_.segment_mb) << 20, min_bytes + detail::frame_header);
        // Reserve the whole segment now: a full disk shows here, between records, not halfway
        // through one.
        if (const int err = ::posix_fallocate(seg->fd.get(), 0, static_cast<off_t>(size));
            err != 0) {
            std::error_code ec;
            fs::remove(path, ec);
            fail("cannot reserve " + std::to_string(size >> 20) + " MiB for journal segment '" +
                 path.string() + "': " + errno_text(err));
            return false;
        }
        if (const int err = detail::sync_directory(dir_); err != 0) {
            fail("cannot sync journal directory '" + dir_.string() + "': " + errno_text(err));
            return false;
        }
        seg->path = path;
        seg->capacity = size;
        current_ = std::move(seg);
        return true;
    } catch (const std::exception& e) {
        fail(std::string("cannot start a journal segment: ") + e.what());
        return false;
    }
}

bool journal::append(const record& r) noexcept {
    try {
        std::lock_guard lock(mutex_);
        if (!stats_.healthy) return false;
        // The state must accept the record, or recovery would later refuse the whole journal.
        auto& runner = state_.runners[std::string(r.symbol)];
        if (auto applied = apply(r, runner); !applied) {
            fail("refused a record the state does not accept: " + applied.error_message());
            return false;
        }
        const std::uint64_t seq = next_seq_;
        frame_.assign(detail::frame_header, '\0');
        encode(r, frame_);
        const auto len = static_cast<std::uint32_t>(frame_.size() - detail::frame_header);
        std::memcpy(frame_.data() + 8, &seq, 8);
        const std::uint32_t crc = detail::crc32_of(std::string_view(frame_).substr(8));
        std::memcpy(frame_.data(), &len, 4);
        std::memcpy(frame_.data() + 4, &crc, 4);
        if (!current_ || current_->offset + frame_.size() > current_->capacity) {
            if (!start_segment(seq, frame_.size())) return false;
        }
        if (const int err = detail::write_all_at(current_->fd.get(), frame_, current_->offset);
            err != 0) {
            fail("cannot write to '" + current_->path.string() + "': " + errno_text(err));
            return false;
        }
        current_->offset += frame_.size();
        state_.last_seq = seq;
        ++next_seq_;
        ++stats_.appended;
        stats_.bytes += frame_.size();
        stats_.last_seq = seq;
        if (cfg_.durability == "fsync") {
            if (::fdatasync(current_->fd.get()) != 0) {
                fail("cannot sync '" + current_->path.string() + "': " + errno_text(errno));
                return false;
            }
            ++stats_.syncs;
            stats_.synced_seq = seq;
        } else {
            dirty_ = true;
        }
        if (++since_snapshot_ >= static_cast<std::uint64_t>(cfg_.snapshot_every)) {
            since_snapshot_ = 0;
            snapshot_due_ = true;
            wake_.notify_one();
        }
        return true;
    } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        fail(std::string("cannot append: ") + e.what());
        return false;
    }
}

void journal::fail(const std::string& what) noexcept {
    if (!stats_.healthy) return;
    stats_.healthy = false;
    try {
        stats_.failure = what;
        log_->critical(
            "journal FAILED: {}. Nothing more is recorded: no new positions are opened until "
            "the daemon is restarted with a writable journal; open positions stay protected",
            what);
    } catch (...) {  // logging must not turn a journal failure into a crash
        stats_.failure = "journal failure (out of memory while reporting it)";
    }
}

bool journal::healthy() const noexcept {
    std::lock_guard lock(mutex_);
    return stats_.healthy;
}

std::string journal::failure() const {
    std::lock_guard lock(mutex_);
    return stats_.failure;
}

journal_stats journal::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

bool journal::sync() noexcept {
    std::unique_lock lock(mutex_);
    if (!stats_.healthy) return false;
    if (!dirty_ || !current_) return true;
    auto seg = current_;
    const std::uint64_t seq = stats_.last_seq;
    dirty_ = false;
    lock.unlock();
    const bool ok = ::fdatasync(seg->fd.get()) == 0;
    const int err = errno;
    lock.lock();
    if (!ok) {
        fail("cannot sync '" + seg->path.string() + "': " + errno_text(err));
        return false;
    }
    ++stats_.syncs;
    stats_.synced_seq = std::max(stats_.synced_seq, seq);
    return true;
}

void journal::sync_loop() {
    const bool group = cfg_.durability == "group";
    const auto period = std::chrono::milliseconds(group ? cfg_.group_commit_ms : 1'000);
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, period, [&] { return stopping_ || snapshot_due_; });
        if (stopping_) break;
        if (group && dirty_) {
            lock.unlock();
            sync();  // a shared_ptr keeps the segment open even if append() switches meanwhile
            lock.lock();
        }
        if (snapshot_due_ && stats_.healthy) take_snapshot(lock);
    }
}

void journal::take_snapshot(std::unique_lock<std::mutex>& lock) {
    snapshot_due_ = false;
    std::string body;
    encode_state(state_, body);
    const std::uint64_t seq = state_.last_seq;
    lock.unlock();
    std::string failure;
    try {
        std::string file(detail::snapshot_magic);
        const std::uint64_t len = body.size();
        const std::uint32_t crc = detail::crc32_of(body);
        file.append(reinterpret_cast<const char*>(&seq), 8);
        file.append(reinterpret_cast<const char*>(&len), 8);
        file.append(reinterpret_cast<const char*>(&crc), 4);
        file += body;
        const fs::path final_path = dir_ / detail::snapshot_name(seq);
        const fs::path tmp = fs::path(final_path.string() + ".tmp");
        detail::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        int err = fd ? detail::write_all_at(fd.get(), file, 0) : errno;
        if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
        fd.reset();
        if (err == 0 && ::rename(tmp.c_str(), final_path.c_str()) != 0) err = errno;
        if (err == 0) err = detail::sync_directory(dir_);
        if (err != 0) {
            std::error_code ec;
            fs::remove(tmp, ec);
            failure = "cannot write snapshot '" + final_path.string() + "': " + errno_text(err);
        } else {
            // Older snapshots, and the segments whose every record the new one covers.
            const auto files = detail::list_directory(dir_);
            std::error_code ec;
            for (const auto& [s, path] : files.snapshots)
                if (s < seq) fs::remove(path, ec);
            for (std::size_t i = 0; i + 1 < files.segments.size(); ++i)
                if (files.segments[i + 1].first <= seq + 1)
                    fs::remove(files.segments[i].second, ec);
            log_->debug("journal: snapshot at record {} ({} bytes)", seq, file.size());
        }
    } catch (const std::exception& e) {
        failure = std::string("cannot write a snapshot: ") + e.what();
    }
    lock.lock();
    if (!failure.empty()) {
        fail(failure);
    } else {
        ++stats_.snapshots;
    }
}

}  // namespace tradingd::journal
