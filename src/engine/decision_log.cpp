#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

#include <tradingd/engine/decision_log.hpp>

namespace tradingd::engine {
namespace {

std::string iso_time(timestamp_ms ts) {
    const std::time_t secs = static_cast<std::time_t>(ts / 1000);
    const int millis = static_cast<int>(((ts % 1000) + 1000) % 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

void put_optional(nlohmann::ordered_json& j, const char* key, const std::optional<double>& v) {
    if (v) j[key] = *v;
}

void put_seen(nlohmann::ordered_json& j, const decision_record& r) {
    if (r.bar != nullptr) {
        nlohmann::ordered_json m;
        m["open_time"] = r.bar->open_time;
        m["open"] = r.bar->open;
        m["high"] = r.bar->high;
        m["low"] = r.bar->low;
        m["close"] = r.bar->close;
        m["volume"] = r.bar->volume;
        m["bid"] = r.seen_quote.bid;
        m["ask"] = r.seen_quote.ask;
        j["market"] = std::move(m);
    }
    if (r.indicators != nullptr && r.indicators->size() > 0) {
        nlohmann::ordered_json ind = nlohmann::ordered_json::object();
        for (std::size_t h = 0; h < r.indicators->size(); ++h) {
            const auto& spec = r.indicators->spec(h);
            const auto& value = r.indicators->value(h);
            const auto outputs = indicators::output_count(spec.kind);
            nlohmann::ordered_json v;  // null while not ready
            if (value.ready && outputs == 1) {
                v = value.v[0];
            } else if (value.ready) {
                v = nlohmann::ordered_json::array();
                for (std::size_t i = 0; i < outputs; ++i)
                    v.push_back(value.v[i]);
            }
            ind[indicators::spec_text(spec)] = std::move(v);
        }
        j["indicators"] = std::move(ind);
    }
}

}  // namespace

std::string to_json_line(const decision_record& r) {
    nlohmann::ordered_json j;
    j["ts"] = r.ts;
    j["time"] = iso_time(r.ts);
    j["symbol"] = r.symbol;
    j["event"] = r.event;
    j["state"] = r.state;
    j["function"] = r.function;
    j["action"] = r.action;
    j["reason"] = r.reason;
    j["price"] = r.price;
    if (!r.script_hash.empty()) j["script_hash"] = r.script_hash;
    put_optional(j, "quantity", r.quantity);
    put_optional(j, "fee", r.fee);
    put_optional(j, "pnl", r.pnl);
    put_optional(j, "stop_loss", r.stop_loss);
    put_optional(j, "take_profit", r.take_profit);
    if (r.side) j["side"] = r.side;
    if (r.to_state) j["to"] = r.to_state;
    if (!r.message.empty()) j["message"] = r.message;
    if (!r.previous_hash.empty()) j["previous_hash"] = r.previous_hash;
    if (!r.refused_hash.empty()) j["refused_hash"] = r.refused_hash;
    put_seen(j, r);
    // Script-provided text may hold invalid UTF-8: replace rather than throw.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

decision_log_file::decision_log_file(const std::filesystem::path& path) : path_(path) {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
        throw std::runtime_error("cannot create directory '" + path.parent_path().string() +
                                 "' for the decision log: " + ec.message());
    }
    file_ = std::fopen(path.c_str(), "ae");
    if (file_ == nullptr) {
        throw std::runtime_error("cannot open decision log '" + path.string() +
                                 "': " + std::generic_category().message(errno));
    }
}

decision_log_file::~decision_log_file() {
    if (file_ != nullptr) std::fclose(file_);
}

void decision_log_file::write(const decision_record& r) noexcept {
    try {
        std::string line = to_json_line(r);
        line.push_back('\n');
        std::lock_guard lock(mutex_);
        if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
            std::fflush(file_) != 0) {
            ++write_errors_;
            spdlog::error("decision log '{}': write failed: {}", path_.string(),
                          std::generic_category().message(errno));
        }
    } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        ++write_errors_;
        spdlog::error("decision log '{}': cannot record an entry: {}", path_.string(), e.what());
    }
}

std::uint64_t decision_log_file::write_errors() const noexcept {
    std::lock_guard lock(mutex_);
    return write_errors_;
}

}  // namespace tradingd::engine
