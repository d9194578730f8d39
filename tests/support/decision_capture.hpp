#pragma once
// capture_sink: a decision_sink for tests that keeps every record as parsed JSON (exactly what
// the decision-log file would hold). Thread-safe: runners may write from their own threads.

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <tradingd/engine/decision_log.hpp>

namespace tradingd::testing {

class capture_sink final : public engine::decision_sink {
public:
    void write(const engine::decision_record& r) noexcept override {
        std::lock_guard lock(mutex_);
        lines_.push_back(nlohmann::json::parse(engine::to_json_line(r)));
    }
    /// Every record of this event ("fill", "error", ...), in order.
    std::vector<nlohmann::json> with_event(const std::string& event) const {
        std::lock_guard lock(mutex_);
        std::vector<nlohmann::json> out;
        for (const auto& l : lines_)
            if (l["event"] == event) out.push_back(l);
        return out;
    }
    std::size_t count(const std::string& event) const { return with_event(event).size(); }
    /// The `message` of every record of this event, in order.
    std::vector<std::string> messages(const std::string& event) const {
        std::vector<std::string> out;
        for (const auto& l : with_event(event))
            out.push_back(l.value("message", std::string()));
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<nlohmann::json> lines_;
};

}  // namespace tradingd::testing
