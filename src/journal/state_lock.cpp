#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <stdexcept>

#include <tradingd/journal/state_lock.hpp>

#include "files.hpp"

namespace tradingd::journal {

namespace {

std::string holder_of(int fd) {
    std::string text(512, '\0');
    const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\0'))
        text.pop_back();
    return text.empty() ? "a process that has not written its details yet" : text;
}

std::string now_utc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

state_lock::state_lock(const std::filesystem::path& state_dir, const std::string& description)
    : path_(state_dir / "tradingd.lock") {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw std::runtime_error("cannot lock state directory '" + state_dir.string() + "' (" +
                                 path_.string() + "): " + detail::errno_text(errno));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const std::string holder = holder_of(fd_);
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK) {
            throw std::runtime_error("state directory '" + state_dir.string() +
                                     "' is in use by another tradingd: " + holder + " (lock file " +
                                     path_.string() + ")");
        }
        throw std::runtime_error("cannot lock '" + path_.string() +
                                 "': " + detail::errno_text(err));
    }
    const std::string text = "pid " + std::to_string(::getpid()) + ", started " + now_utc() +
                             (description.empty() ? "" : ", " + description) + "\n";
    if (::ftruncate(fd_, 0) != 0 || detail::write_all_at(fd_, text, 0) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error("cannot write lock file '" + path_.string() +
                                 "': " + detail::errno_text(err));
    }
}

state_lock::~state_lock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace tradingd::journal
