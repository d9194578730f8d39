#include "files.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace tradingd::journal::detail {

namespace fs = std::filesystem;

std::uint32_t crc32_of(std::string_view a, std::string_view b) noexcept {
    uLong crc = ::crc32(0L, Z_NULL, 0);
    if (!a.empty()) {
        crc = ::crc32(crc, reinterpret_cast<const Bytef*>(a.data()), static_cast<uInt>(a.size()));
    }
    // crc32(crc, Z_NULL, 0) would return the initial value, not crc: skip empty parts.
    if (!b.empty()) {
        crc = ::crc32(crc, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size()));
    }
    return static_cast<std::uint32_t>(crc);
}

std::string segment_name(std::uint64_t first_seq) {
    return fmt::format("segment-{:020}.log", first_seq);
}

std::string snapshot_name(std::uint64_t seq) {
    return fmt::format("snapshot-{:020}.snap", seq);
}

namespace {

std::optional<std::uint64_t> number_between(const fs::path& p, std::string_view prefix,
                                            std::string_view suffix) {
    const std::string name = p.filename().string();
    if (name.size() != prefix.size() + 20 + suffix.size() || !name.starts_with(prefix) ||
        !name.ends_with(suffix)) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    const char* first = name.data() + prefix.size();
    const auto [end, ec] = std::from_chars(first, first + 20, v);
    if (ec != std::errc() || end != first + 20) return std::nullopt;
    return v;
}

}  // namespace

std::optional<std::uint64_t> segment_seq(const fs::path& p) {
    return number_between(p, "segment-", ".log");
}

std::optional<std::uint64_t> snapshot_seq(const fs::path& p) {
    return number_between(p, "snapshot-", ".snap");
}

directory_listing list_directory(const fs::path& dir) {
    directory_listing out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const fs::path& p = entry.path();
        if (auto s = segment_seq(p)) {
            out.segments.emplace_back(*s, p);
        } else if (auto n = snapshot_seq(p)) {
            out.snapshots.emplace_back(*n, p);
        } else if (p.extension() == ".tmp") {
            out.temporaries.push_back(p);
        }
    }
    std::sort(out.segments.begin(), out.segments.end());
    std::sort(out.snapshots.begin(), out.snapshots.end(), std::greater<>());
    return out;
}

std::string errno_text(int err) {
    return fmt::format("{} (errno {})", std::generic_category().message(err), err);
}

std::string read_whole_file(const fs::path& p) {
    unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw std::runtime_error("cannot open '" + p.string() + "': " + errno_text(errno));
    std::string data;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error("cannot read '" + p.string() + "': " + errno_text(errno));
        }
        if (n == 0) break;
        data.append(buf, static_cast<std::size_t>(n));
    }
    return data;
}

mapped_file::mapped_file(const fs::path& p) {
    unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw std::runtime_error("cannot open '" + p.string() + "': " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw std::runtime_error("cannot stat '" + p.string() + "': " + errno_text(errno));
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return;
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (m == MAP_FAILED) {
        throw std::runtime_error("cannot map '" + p.string() + "': " + errno_text(errno));
    }
    data_ = static_cast<const char*>(m);
}

mapped_file::~mapped_file() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

int sync_directory(const fs::path& dir) noexcept {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return errno;
    return ::fsync(fd.get()) == 0 ? 0 : errno;
}

int write_all_at(int fd, std::string_view data, std::uint64_t offset) noexcept {
    while (!data.empty()) {
        const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;
        data.remove_prefix(static_cast<std::size_t>(n));
        offset += static_cast<std::uint64_t>(n);
    }
    return 0;
}

}  // namespace tradingd::journal::detail
