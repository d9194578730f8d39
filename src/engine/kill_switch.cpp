#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <system_error>

#include <tradingd/engine/decision_log.hpp>
#include <tradingd/engine/kill_switch.hpp>

namespace tradingd::engine {
namespace {

std::string now_iso() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return iso_time(ms);
}

/// The reason a halt file gives: its first line, or a sentence naming the file when it is empty
/// (an operator's `touch`).
std::string reason_from_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) {
        if (line.size() > 200) line.resize(200);
        return line;
    }
    return "kill switch file " + file.string() + " exists";
}

/// Writes `text` to `file` through a temporary file and a rename, so a reader never sees half.
std::optional<std::string> write_file(const std::filesystem::path& file, const std::string& text) {
    const std::filesystem::path tmp = file.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return "cannot create " + tmp.string() + ": " + std::generic_category().message(errno);
    const ssize_t n = ::write(fd, text.data(), text.size());
    const int write_errno = errno;
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size()) || !synced) {
        ::unlink(tmp.c_str());
        return "cannot write " + tmp.string() + ": " + std::generic_category().message(write_errno);
    }
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return "cannot rename " + tmp.string() + " to " + file.string() + ": " +
               std::generic_category().message(e);
    }
    return std::nullopt;
}

}  // namespace

kill_switch::kill_switch(std::filesystem::path file, risk_book& book,
                         std::shared_ptr<spdlog::logger> logger)
    : file_(std::move(file)),
      book_(book),
      log_(logger ? std::move(logger) : spdlog::default_logger()) {}

std::optional<std::string> kill_switch::engage(const std::string& origin) {
    std::lock_guard lock(mutex_);
    const std::string reason = "halted by " + origin + " at " + now_iso();
    const bool was_halted = book_.halted();
    if (!was_halted) book_.set_halt(true, reason);
    auto error = write_file(file_, reason + "\n");
    if (!was_halted) {
        log_->critical(
            "KILL SWITCH engaged: {}; no new entries until it is released (remove {} "
            "or POST /resume)",
            reason, file_.string());
    }
    unwritten_ = error.has_value();
    if (error) {
        log_->error(
            "kill switch: {} (the halt applies until the daemon stops; it will not "
            "survive a restart)",
            *error);
    }
    return error;
}

std::optional<std::string> kill_switch::release(const std::string& origin) {
    std::lock_guard lock(mutex_);
    std::error_code ec;
    std::filesystem::remove(file_, ec);
    // A path that cannot exist (a parent that is not a directory) has no file to remove.
    if (ec && ec != std::errc::not_a_directory) {
        std::string error = "cannot remove " + file_.string() + ": " + ec.message();
        log_->error("kill switch: {}; still halted", error);
        return error;
    }
    unwritten_ = false;
    if (book_.halted()) {
        book_.set_halt(false, {});
        log_->warn("kill switch released by {}: entries allowed again", origin);
    }
    return std::nullopt;
}

bool kill_switch::poll() {
    std::lock_guard lock(mutex_);
    std::error_code ec;
    const bool present = std::filesystem::exists(file_, ec);
    if (ec) {
        log_->error("kill switch: cannot check {}: {}", file_.string(), ec.message());
        return false;
    }
    if (present == book_.halted()) return false;
    if (!present && unwritten_) return false;  // engaged without a file: only release() ends it
    if (present) {
        const std::string reason = reason_from_file(file_);
        book_.set_halt(true, reason);
        log_->critical("KILL SWITCH engaged ({}): no new entries until {} is removed", reason,
                       file_.string());
    } else {
        book_.set_halt(false, {});
        log_->warn("kill switch released ({} removed): entries allowed again", file_.string());
    }
    return true;
}

}  // namespace tradingd::engine
