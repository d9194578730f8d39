#pragma once
// Small helpers shared by tests: temp dirs, script files, candle builders, a capturing sink.

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/core/event_sink.hpp>
#include <tradingd/core/market_types.hpp>

namespace tradingd::testing {

/// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
public:
    temp_dir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("tradingd-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path write(const std::string& name, const std::string& content) const {
        const auto p = path_ / name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }

private:
    std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A 1-minute candle at index i with the given close (open = previous close style, small range).
inline candle make_candle(std::int64_t i, double close, double open = 0, double high = 0,
                          double low = 0) {
    candle c;
    c.open_time = 1704067200000 + i * 60'000;
    c.close_time = c.open_time + 59'999;
    c.open = open > 0 ? open : close;
    c.close = close;
    c.high = high > 0 ? high : std::max(c.open, c.close);
    c.low = low > 0 ? low : std::min(c.open, c.close);
    c.volume = 1;
    return c;
}

inline market_event closed_event(const candle& c, double spread = 0.02, bool warmup = false) {
    market_event e;
    e.kind = event_kind::candle_closed;
    e.warmup = warmup;
    e.ts = c.close_time;
    e.bar = c;
    e.bid = c.close - spread / 2;
    e.ask = c.close + spread / 2;
    return e;
}

inline market_event quote_event(timestamp_ms ts, double bid, double ask) {
    market_event e;
    e.kind = event_kind::quote;
    e.ts = ts;
    e.bid = bid;
    e.ask = ask;
    return e;
}

/// Collects events pushed by a feed.
class vector_sink final : public event_sink {
public:
    bool push(const market_event& e) override {
        std::lock_guard lock(mutex_);
        events_.push_back(e);
        return true;
    }
    std::vector<market_event> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<market_event> events_;
};

/// Polls `cond` every `poll` until true or the timeout; returns its last value. (Conditions that
/// read and parse files can pass a longer `poll` to leave the CPU to the process under test.)
template <class F>
bool wait_until(F&& cond, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds poll = std::chrono::milliseconds(2)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(poll);
    }
    return cond();
}

}  // namespace tradingd::testing
