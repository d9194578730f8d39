#pragma once
// kill_switch: stops every new entry, from a file, a signal or the HTTP control endpoint.
//
// The file (config [risk] kill_switch_file, default <state_dir>/HALT) is the single source of
// truth, so a halt survives a restart (systemd restarting a crashed daemon must not resume
// trading by itself) and operators can use plain shell:
//   - engage(origin): writes the file (its first line says who and when) and halts at once;
//   - release(origin): removes the file and resumes;
//   - poll(): called every second by the daemon's main thread and at start: a file created by
//     an operator (`touch HALT`) halts, one removed (`rm HALT`) resumes.
// The halt itself is risk_book's flag, which every runner checks before an entry. Open positions
// stay protected by their stop-loss/take-profit; closing them (flatten) is the caller's choice.
// If the file cannot be written the halt still applies in memory, and the error is returned.
//
// Thread-safety: every member may be called from any thread (the HTTP thread, the main thread).

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <tradingd/engine/risk.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::engine {

class kill_switch {
public:
    /// Does not touch the file; call poll() to pick up a file that exists at start.
    kill_switch(std::filesystem::path file, risk_book& book,
                std::shared_ptr<spdlog::logger> logger = nullptr);

    /// Halts (if not already halted). `origin` names who: "SIGUSR1", "POST /halt from
    /// 127.0.0.1:5555". Returns the error writing the file, if any (halted regardless).
    std::optional<std::string> engage(const std::string& origin);
    /// Resumes (if halted). Returns the error removing the file, if any (then still halted: the
    /// file would halt again at the next poll).
    std::optional<std::string> release(const std::string& origin);
    /// Follows the file: exists -> halted, absent -> not. Returns true when the state changed.
    bool poll();

    bool engaged() const noexcept { return book_.halted(); }
    const std::filesystem::path& file() const noexcept { return file_; }

private:
    std::filesystem::path file_;
    risk_book& book_;
    std::shared_ptr<spdlog::logger> log_;
    std::mutex mutex_;        // serialises engage/release/poll
    bool unwritten_ = false;  // engaged but the file could not be written: poll() keeps it
};

}  // namespace tradingd::engine
