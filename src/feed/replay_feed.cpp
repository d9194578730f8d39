#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <tradingd/feed/replay_feed.hpp>

namespace tradingd::feed {

namespace {

std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

replay_feed::replay_feed(const config::replay_feed_config& replay,
                         const std::vector<config::symbol_config>& symbols,
                         std::vector<event_sink*> sinks)
    : replay_(replay), sinks_(std::move(sinks)) {
    if (sinks_.size() != symbols.size()) {
        throw std::invalid_argument("replay feed: " + std::to_string(symbols.size()) +
                                    " symbols but " + std::to_string(sinks_.size()) + " sinks");
    }
    if (std::find(sinks_.begin(), sinks_.end(), nullptr) != sinks_.end()) {
        throw std::invalid_argument("replay feed: null sink");
    }
    if (!std::isfinite(replay_.speed) || replay_.speed < 0) {
        throw std::invalid_argument("replay feed: speed must be finite and >= 0 (0 = no pacing)");
    }
    for (const auto& s : symbols)
        names_.push_back(s.symbol);
    summary_ = scan_recording(replay_.data);
    for (const auto& name : names_) {
        if (std::find(summary_.symbols.begin(), summary_.symbols.end(), name) ==
            summary_.symbols.end()) {
            throw recording_error("replay: the recording " + replay_.data.string() +
                                  " holds no events for the configured symbol " + name);
        }
    }
    for (std::size_t i = 0; i < summary_.symbols.size(); ++i) {
        if (std::find(names_.begin(), names_.end(), summary_.symbols[i]) == names_.end()) {
            spdlog::warn(
                "replay: {} is in the recording ({} events) but not in the config: skipped",
                summary_.symbols[i], summary_.events[i]);
        }
    }
    if (summary_.torn_tail_bytes > 0) {
        spdlog::warn(
            "replay: {} ends with a partial record ({} bytes; the recorder stopped mid-write): "
            "ignored",
            replay_.data.string(), summary_.torn_tail_bytes);
    }
}

replay_feed::~replay_feed() {
    stop();
}

void replay_feed::start() {
    if (started_) throw std::logic_error("replay feed: start() called twice");
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

void replay_feed::stop() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
}

bool replay_feed::wait_until_due(std::int64_t recorded_ns) {
    if (replay_.speed <= 0) return true;
    const std::int64_t now = steady_ns();
    if (first_recorded_ns_ < 0) {
        first_recorded_ns_ = recorded_ns;
        pace_start_ns_ = now;
        return true;
    }
    const auto due = pace_start_ns_ +
                     static_cast<std::int64_t>(std::ceil(
                         static_cast<double>(recorded_ns - first_recorded_ns_) / replay_.speed));
    // Small slices keep stop() responsive at slow speeds.
    constexpr std::int64_t slice_ns = 20'000'000;
    for (std::int64_t t = now; t < due; t = steady_ns()) {
        if (stop_.load(std::memory_order_relaxed)) return false;
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(due - t, slice_ns)));
    }
    return true;
}

void replay_feed::run() {
    try {
        recording_reader reader(replay_.data);
        std::vector<int> to_config;  // recording symbol index -> configured index (-1: skipped)
        std::vector<bool> open(sinks_.size(), true);
        recorded_event ev;
        while (!stop_.load(std::memory_order_relaxed)) {
            const auto st = reader.next(ev);
            if (st == recording_reader::status::end) break;
            if (st == recording_reader::status::corrupt) {
                spdlog::error("replay stopped: {}", reader.error());
                failed_.store(true, std::memory_order_release);
                break;
            }
            while (to_config.size() < reader.symbols().size()) {
                const auto& name = reader.symbols()[to_config.size()];
                const auto it = std::find(names_.begin(), names_.end(), name);
                to_config.push_back(it == names_.end() ? -1
                                                       : static_cast<int>(it - names_.begin()));
            }
            const int index = to_config[ev.event.symbol];
            if (index < 0 || !open[static_cast<std::size_t>(index)]) continue;
            if (!wait_until_due(ev.recorded_ns)) break;
            market_event e = ev.event;
            e.symbol = static_cast<std::uint32_t>(index);
            // The recorded receive time is of another process's clock: latency is measured
            // from when the replay delivers the event instead.
            e.received_ns = ev.has_received ? steady_ns() : 0;
            if (!sinks_[static_cast<std::size_t>(index)]->push(e)) {
                open[static_cast<std::size_t>(index)] = false;
                spdlog::info("replay: sink for {} closed, no more events sent to it",
                             names_[static_cast<std::size_t>(index)]);
                continue;
            }
            sent_.fetch_add(1, std::memory_order_relaxed);
        }
    } catch (const std::exception& e) {
        // The file was read whole at construction: this only happens if it changed since.
        spdlog::error("replay stopped: {}", e.what());
        failed_.store(true, std::memory_order_release);
    }
    if (!stop_.load(std::memory_order_relaxed)) {
        spdlog::info("replay of {} finished: {} events delivered", replay_.data.string(),
                     sent_.load(std::memory_order_relaxed));
    }
    finished_.store(true, std::memory_order_release);
}

}  // namespace tradingd::feed
