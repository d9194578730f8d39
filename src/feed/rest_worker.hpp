#pragma once
// Private to src/feed: the thread that runs a network feed's blocking REST calls (warm-up, gap
// repair), one job at a time in submission order, so the network thread never waits on HTTP.
//
// Thread-safety: submit/stop from any thread; sleep_for only from jobs.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace tradingd::feed {

class rest_worker {
public:
    ~rest_worker() {
        stop();
        join();
    }

    void start() {
        thread_ = std::thread([this] { run(); });
    }

    void submit(std::function<void()> job) {
        {
            std::lock_guard lock(m_);
            if (stopping_) return;
            jobs_.push_back(std::move(job));
        }
        cv_.notify_all();
    }

    /// Waits `d`; false when the worker is stopping (the job should give up).
    bool sleep_for(std::chrono::milliseconds d) {
        std::unique_lock lock(m_);
        return !cv_.wait_for(lock, d, [this] { return stopping_; });
    }

    /// Drops queued jobs and wakes a sleeping one. Idempotent.
    void stop() {
        {
            std::lock_guard lock(m_);
            stopping_ = true;
            jobs_.clear();
        }
        cv_.notify_all();
    }

    void join() {
        if (thread_.joinable()) thread_.join();
    }

private:
    void run() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(m_);
                cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
                if (stopping_) return;
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace tradingd::feed
