#pragma once
// script_reloader: turns finished script changes into new versions running in the runners that
// use them, off every runner's hot path.
//
// A worker thread takes jobs in order:
//   - a script file changed (script_watcher's report): read it once, hash it; content equal to
//     the version last handed out for that file is a no-op save and is skipped (logged at debug).
//     Otherwise, for each runner whose config names the file, build the version
//     (runner_core::prepare: fresh VM, top level, on_init, required functions) and post it to the
//     runner, which installs it between two events (runner_core::install). A version that fails
//     to build is posted too: the runner records the refusal and keeps its current version.
//   - a file was deleted: each runner of it keeps its last good version; a warning says so.
//   - a runner's config changed (SIGHUP: new params or another script): build from the new
//     config the same way.
// Runners are identified by the symbol_runner they were registered with; targets can be added
// and retargeted while running (config reload).
//
// Thread-safety: every public member may be called from any thread (one mutex). Lifetime: the
// runners must outlive the reloader (stop() or the destructor joins the worker first).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/reload/script_watcher.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::reload {

class script_reloader {
public:
    /// Starts the worker thread.
    explicit script_reloader(std::shared_ptr<spdlog::logger> logger);
    ~script_reloader();  ///< stop()
    script_reloader(const script_reloader&) = delete;
    script_reloader& operator=(const script_reloader&) = delete;

    /// Registers (or retargets) a runner with the config it runs. `loaded_hash` is the content
    /// hash of the version it runs now ("" if none): a later save of the same content is then
    /// recognised as a no-op.
    void track(engine::symbol_runner& runner, const config::symbol_config& symbol,
               const std::string& loaded_hash);
    /// Stops sending versions to a runner (its symbol was removed from the config).
    void untrack(const engine::symbol_runner& runner);

    /// A change the watcher reported.
    void on_change(const script_change& change);
    /// Builds and installs a version of `symbol`'s script for `runner` (a config reload changed
    /// its params or script), even if the content is unchanged. Tracks the runner under the new
    /// config.
    void rebuild(engine::symbol_runner& runner, const config::symbol_config& symbol,
                 std::chrono::steady_clock::time_point since);

    /// Finishes the job in progress, drops the others and joins the worker. Idempotent.
    void stop();

    /// Jobs waiting or running (tests and the benchmark wait for 0).
    std::size_t busy() const;
    /// Versions handed to runners so far (successful builds and failures alike).
    std::uint64_t versions_posted() const;

private:
    struct target {
        engine::symbol_runner* runner = nullptr;
        config::symbol_config symbol;
    };
    struct job {
        enum class kind : unsigned char { file_written, file_deleted, rebuild } what;
        std::string file;       ///< file name (file jobs)
        target rebuild_target;  ///< rebuild jobs
        std::chrono::steady_clock::time_point since;
    };

    void enqueue(job j);
    void run();
    void handle(const job& j);
    void handle_written(const job& j);
    void handle_deleted(const job& j);
    /// Builds the version for `t` from `source` (nullptr: read the target's file) and posts it.
    void post_version(const target& t, const std::string* source,
                      std::chrono::steady_clock::time_point since);
    std::vector<target> targets_of(const std::string& file) const;

    std::shared_ptr<spdlog::logger> log_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> jobs_;
    bool running_job_ = false;
    bool stopping_ = false;
    std::vector<target> targets_;
    std::unordered_map<std::string, std::string> handed_out_;  ///< file name -> last hash
    std::uint64_t posted_ = 0;
    std::thread worker_;
};

}  // namespace tradingd::reload
