#pragma once
// state_lock: one daemon per state directory.
//
// Takes an exclusive flock on <state_dir>/tradingd.lock and writes the holder's pid, start time
// and config path into it. A second daemon on the same directory fails to take the lock and is
// refused with a message naming the holder (from the file). The lock goes with the process (the
// kernel drops it on exit or kill -9): a stale lock file never blocks a restart.

#include <filesystem>
#include <string>

namespace tradingd::journal {

class state_lock {
public:
    /// Throws std::runtime_error: directory not writable ("cannot lock state directory ..."), or
    /// held by another process ("... is in use by another tradingd: pid N, started ...").
    state_lock(const std::filesystem::path& state_dir, const std::string& description);
    ~state_lock();
    state_lock(const state_lock&) = delete;
    state_lock& operator=(const state_lock&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

}  // namespace tradingd::journal
