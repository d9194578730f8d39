#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <tradingd/reload/script_watcher.hpp>

namespace tradingd::reload {

namespace {

constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY |
                                     IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_ONLYDIR | IN_EXCL_UNLINK;

/// What one event means for a script file: nullopt = only extends an existing deadline.
std::optional<change_kind> kind_of(std::uint32_t mask) {
    if ((mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0) return change_kind::written;
    if ((mask & (IN_DELETE | IN_MOVED_FROM)) != 0) return change_kind::deleted;
    return std::nullopt;  // IN_MODIFY, IN_CREATE: the file may still be open for writing
}

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

}  // namespace

script_watcher::script_watcher(const std::filesystem::path& directory,
                               std::chrono::milliseconds debounce)
    : directory_(directory), debounce_(debounce) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) {
        throw std::runtime_error("cannot watch strategies directory '" + directory_.string() +
                                 "': " + errno_text(errno));
    }
    watch_ = ::inotify_add_watch(fd_, directory_.c_str(), watch_mask);
    if (watch_ < 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error("cannot watch strategies directory '" + directory_.string() +
                                 "': " + errno_text(err));
    }
}

script_watcher::~script_watcher() {
    if (fd_ >= 0) ::close(fd_);
}

void script_watcher::stop(std::string why) {
    error_ = std::move(why);
    ::close(fd_);
    fd_ = -1;
    watch_ = -1;
}

void script_watcher::drain(clock::time_point now) {
    // Sized and aligned as inotify(7) recommends; events never straddle two reads.
    alignas(struct inotify_event) char buf[64 * 1024];
    while (fd_ >= 0) {
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            stop("cannot read inotify events for strategies directory '" + directory_.string() +
                 "': " + errno_text(errno) + ": no more hot reloads");
            return;
        }
        if (n == 0) return;  // not expected from inotify; nothing more to read either way
        handle_events(buf, static_cast<std::size_t>(n), now);
    }
}

void script_watcher::handle_events(const char* buf, std::size_t size, clock::time_point now) {
    std::size_t offset = 0;
    while (fd_ >= 0 && offset + sizeof(inotify_event) <= size) {
        inotify_event ev{};
        std::memcpy(&ev, buf + offset, sizeof ev);  // fixed-size header; the name follows it
        const char* name = buf + offset + sizeof ev;
        offset += sizeof ev + ev.len;
        handle_event(ev.mask, std::string(name, ::strnlen(name, ev.len)), now);
    }
}

void script_watcher::handle_event(std::uint32_t mask, const std::string& name,
                                  clock::time_point now) {
    if ((mask & IN_Q_OVERFLOW) != 0) {
        rescan(now);
        return;
    }
    // Checked before IN_ISDIR: the self events of the watched directory carry IN_ISDIR too.
    if ((mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        stop("strategies directory '" + directory_.string() +
             "' was deleted or moved: no more hot reloads");
        return;
    }
    if ((mask & IN_ISDIR) != 0 || name.empty() || !is_script_name(name)) return;
    note(name, kind_of(mask), now);
}

void script_watcher::note(const std::string& name, std::optional<change_kind> kind,
                          clock::time_point now) {
    if (kind) {
        pending_[name] = pending{*kind, now, now + debounce_};
        return;
    }
    const auto it = pending_.find(name);
    if (it == pending_.end()) return;  // a write in progress is reported when it is closed
    it->second.last_event = now;
    it->second.deadline = now + debounce_;
}

void script_watcher::rescan(clock::time_point now) {
    // Events were lost: report every script present; the caller's content hashes skip the
    // unchanged ones. Deletions lost in the overflow cannot be recovered from a listing.
    std::error_code ec;
    std::filesystem::directory_iterator it(directory_, ec);
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        std::error_code type_ec;  // an entry removed since the listing is simply not a script
        const std::string name = it->path().filename().string();
        if (it->is_regular_file(type_ec) && is_script_name(name)) {
            note(name, change_kind::written, now);
        }
    }
    if (ec) {
        stop("cannot list strategies directory '" + directory_.string() +
             "' after an inotify queue overflow: " + ec.message() + ": no more hot reloads");
    }
}

std::optional<script_watcher::clock::time_point> script_watcher::next_deadline() const {
    std::optional<clock::time_point> earliest;
    for (const auto& [name, p] : pending_) {
        if (!earliest || p.deadline < *earliest) earliest = p.deadline;
    }
    return earliest;
}

std::vector<script_change> script_watcher::take_due(clock::time_point now) {
    std::vector<script_change> due;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline <= now) {
            due.push_back(script_change{it->first, it->second.kind, it->second.last_event});
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    std::sort(due.begin(), due.end(),
              [](const script_change& a, const script_change& b) { return a.name < b.name; });
    return due;
}

}  // namespace tradingd::reload
