#pragma once
// The replay feed ([feed] type = "replay"): feeds a recording (feed/recording.hpp) back through
// the runners, so a recorded session's decisions can be reproduced, inspected or compared with
// another script version.
//
// Each recorded symbol is matched by name to a configured symbol; its events go, in file order,
// to that symbol's sink with push() (blocking: nothing is dropped, so every runner sees exactly
// the event sequence it saw when recording). Recorded symbols the config lacks are skipped (one
// warning each); a configured symbol the recording lacks is an error at construction. Speed 0
// delivers as fast as the runners accept; speed N > 0 paces by the recorded accept times divided
// by N. After the last event, finished() turns true and the feed thread ends.
//
// Thread-safety: start/stop from one thread; finished() and events_sent() from any thread.
// Lifetime: the sinks must outlive the feed.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/config/config.hpp>
#include <tradingd/core/event_sink.hpp>
#include <tradingd/feed/recording.hpp>

namespace tradingd::feed {

class replay_feed {
public:
    /// Reads the whole recording once (so corruption is found before anything trades). Throws
    /// std::invalid_argument for a size mismatch, a null sink or a negative speed, and
    /// recording_error for an unreadable or corrupt file or a configured symbol it does not hold.
    replay_feed(const config::replay_feed_config& replay,
                const std::vector<config::symbol_config>& symbols, std::vector<event_sink*> sinks);
    ~replay_feed();  ///< stops and joins
    replay_feed(const replay_feed&) = delete;
    replay_feed& operator=(const replay_feed&) = delete;

    /// Starts the feed thread. Throws std::logic_error when called a second time.
    void start();
    /// Asks the thread to stop and joins it. Idempotent. A sink blocked in push() must be closed
    /// (or drained) by its owner for the join to complete.
    void stop();
    /// True once every event was delivered (or the file could not be read further: logged).
    bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
    /// Whether the replay ended on an unreadable record (the error was logged).
    bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
    /// Events delivered so far.
    std::uint64_t events_sent() const noexcept { return sent_.load(std::memory_order_relaxed); }
    /// What the constructor's pass over the file found.
    const recording_summary& summary() const noexcept { return summary_; }

private:
    void run();
    /// Waits until the event recorded at `recorded_ns` is due; false when asked to stop.
    bool wait_until_due(std::int64_t recorded_ns);

    config::replay_feed_config replay_;
    std::vector<std::string> names_;  // configured symbols, by index
    std::vector<event_sink*> sinks_;
    recording_summary summary_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> finished_{false};
    std::atomic<bool> failed_{false};
    std::atomic<std::uint64_t> sent_{0};
    bool started_ = false;
    std::int64_t pace_start_ns_ = 0;  // feed thread: steady time of the first paced event
    std::int64_t first_recorded_ns_ = -1;
    std::thread thread_;
};

}  // namespace tradingd::feed
