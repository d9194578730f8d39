#pragma once
// script_watcher: notices finished changes to the `.lua` files of one directory (inotify).
//
// The daemon's event loop polls fd() for readability and calls drain() when it is readable; it
// also wakes at next_deadline() and then calls take_due(). Nothing polls file contents: the
// kernel reports what happened, the watcher only keeps one debounce deadline per file name.
//
// What counts as a change of `name.lua` (files whose name does not end in ".lua", hidden files
// (leading '.') and editor temporaries are ignored; so is anything in subdirectories):
//   - written:  IN_CLOSE_WRITE (a writer closed it) or IN_MOVED_TO (renamed into place, e.g. an
//               editor's save-via-rename, `mv new.lua x.lua`).
//   - deleted:  IN_DELETE or IN_MOVED_FROM (renamed away).
// Debounce: each of those events sets the file's deadline to now + debounce. IN_MODIFY and
// IN_CREATE only extend a deadline the file already has (keeping its kind) and record nothing
// otherwise: a file still open for writing is not reported before it is closed. (So a hard link
// made into the directory, which produces only IN_CREATE, is not reported; use `mv` or `cp`.) A
// file is reported once its deadline passes with no further event, with the kind of its *last*
// event, so a save through a temporary file, a rename and a chunked write each yield exactly one
// report of the final state. Content comparison (no-op saves) is the caller's job: the watcher does
// not read files.
//
// If the kernel's event queue overflows (IN_Q_OVERFLOW), every `.lua` file currently in the
// directory is reported as written at the next deadline (the caller's content hashes then skip
// the unchanged ones). If the directory itself is deleted or moved (IN_IGNORED / IN_MOVE_SELF /
// IN_DELETE_SELF), watching stops and error() says why; the caller logs it.
//
// Thread-safety: one thread (the daemon's event loop). Lifetime: owns the inotify fd (RAII).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tradingd::reload {

enum class change_kind : unsigned char { written, deleted };

struct script_change {
    std::string name;  ///< file name, e.g. "sma_cross.lua"
    change_kind kind = change_kind::written;
    /// When the last event of this burst was seen (the file was closed / renamed / deleted):
    /// the start of the reload latency the daemon reports.
    std::chrono::steady_clock::time_point last_event;
};

class script_watcher {
public:
    using clock = std::chrono::steady_clock;

    /// Starts watching `directory`. Throws std::runtime_error naming the directory and errno's
    /// text if inotify cannot be set up (e.g. the directory does not exist, or the per-user
    /// watch limit is reached). A debounce of zero reports at the next take_due().
    script_watcher(const std::filesystem::path& directory, std::chrono::milliseconds debounce);
    ~script_watcher();
    script_watcher(const script_watcher&) = delete;
    script_watcher& operator=(const script_watcher&) = delete;

    /// The inotify descriptor (non-blocking, close-on-exec) to poll for POLLIN; -1 once watching
    /// stopped.
    int fd() const noexcept { return fd_; }
    /// Reads every pending inotify event (never blocks) and updates the deadlines, using `now`
    /// as the time of the events.
    void drain(clock::time_point now = clock::now());
    /// The earliest pending deadline, if any file is waiting to be reported.
    std::optional<clock::time_point> next_deadline() const;
    /// Removes and returns the changes whose deadline is <= now, ordered by name.
    std::vector<script_change> take_due(clock::time_point now = clock::now());
    /// Why watching stopped (empty while it works).
    const std::string& error() const noexcept { return error_; }
    const std::filesystem::path& directory() const noexcept { return directory_; }

private:
    struct pending {
        change_kind kind = change_kind::written;
        clock::time_point last_event;
        clock::time_point deadline;
    };
    void handle_events(const char* buf, std::size_t size, clock::time_point now);
    void handle_event(std::uint32_t mask, const std::string& name, clock::time_point now);
    /// nullopt kind: only extends an existing entry (IN_MODIFY, IN_CREATE).
    void note(const std::string& name, std::optional<change_kind> kind, clock::time_point now);
    void rescan(clock::time_point now);
    /// Stops watching for good: records why and closes the descriptor.
    void stop(std::string why);

    std::filesystem::path directory_;
    std::chrono::milliseconds debounce_;
    int fd_ = -1;
    int watch_ = -1;
    std::unordered_map<std::string, pending> pending_;
    std::string error_;
};

/// True for names the watcher reports: ends in ".lua", longer than ".lua", no leading '.', no
/// '/', and not an editor temporary (ending in '~', or matching ".#*", "#*#", "*.swp").
bool is_script_name(const std::string& name);

}  // namespace tradingd::reload
