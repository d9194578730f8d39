#pragma once
// File-level helpers of the journal: names, an owning fd, whole-file reads, framing constants.

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tradingd::journal::detail {

/// Frame header: u32 payload length | u32 crc32 of (seq + payload) | u64 seq.
constexpr std::size_t frame_header = 16;
/// A payload larger than this is corruption, not a record (the largest real one, a ctx_replace,
/// is bounded by the VM's memory cap).
constexpr std::uint32_t max_payload = 64u << 20;

constexpr std::string_view snapshot_magic = "TDSNAP01";
/// Snapshot header: magic | u64 seq | u64 body length | u32 crc32 of the body.
constexpr std::size_t snapshot_header = 8 + 8 + 8 + 4;

/// An owned file descriptor (closed on destruction).
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

std::uint32_t crc32_of(std::string_view a, std::string_view b = {}) noexcept;

std::string segment_name(std::uint64_t first_seq);
std::string snapshot_name(std::uint64_t seq);
/// The sequence number in a segment/snapshot file name, or nullopt for other files.
std::optional<std::uint64_t> segment_seq(const std::filesystem::path& p);
std::optional<std::uint64_t> snapshot_seq(const std::filesystem::path& p);

struct directory_listing {
    std::vector<std::pair<std::uint64_t, std::filesystem::path>> segments;   ///< ascending
    std::vector<std::pair<std::uint64_t, std::filesystem::path>> snapshots;  ///< descending
    std::vector<std::filesystem::path> temporaries;                          ///< *.tmp
};
directory_listing list_directory(const std::filesystem::path& dir);

/// The whole file. Throws std::runtime_error naming the path.
std::string read_whole_file(const std::filesystem::path& p);

/// A whole file mapped read-only (segments are large and mostly preallocated zeros: mapping
/// avoids copying them). Throws std::runtime_error naming the path.
class mapped_file {
public:
    explicit mapped_file(const std::filesystem::path& p);
    ~mapped_file();
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    std::string_view data() const noexcept { return {data_, size_}; }

private:
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};
/// "<strerror> (errno N)".
std::string errno_text(int err);
/// fsync of a directory (makes creations and renames in it durable). Returns 0 or an errno.
int sync_directory(const std::filesystem::path& dir) noexcept;
/// Writes all of `data` at `offset` (retrying short writes). Returns 0 or an errno.
int write_all_at(int fd, std::string_view data, std::uint64_t offset) noexcept;

}  // namespace tradingd::journal::detail
