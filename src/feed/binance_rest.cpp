#include <algorithm>
#include <nlohmann/json.hpp>

#include <tradingd/binance/rest_payloads.hpp>
#include <tradingd/feed/binance_rest.hpp>

namespace tradingd::feed {

namespace {
constexpr std::int32_t k_page = 1000;  // Binance's maximum `limit`
}

timestamp_ms now_ms() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

binance_rest::binance_rest(const net::https_client& client, rest_retry_policy policy,
                           std::function<bool(std::chrono::milliseconds)> sleep)
    : client_(&client), policy_(policy), sleep_(std::move(sleep)) {}

result<std::string> binance_rest::fetch(const std::string& target, klines_failure* failure) {
    const std::string endpoint = "GET " + client_->base().path + target;
    std::chrono::milliseconds delay = policy_.first_delay;
    std::string last_error;
    for (std::int32_t attempt = 1; attempt <= policy_.attempts; ++attempt) {
        requests_.fetch_add(1, std::memory_order_relaxed);
        auto response = client_->get(target);
        std::chrono::milliseconds wait = delay;
        if (!response) {
            last_error = response.error_message();
        } else if (response.value().status == 200) {
            return std::move(response.value().body);
        } else {
            const int status = response.value().status;
            const auto api = binance::parse_api_error(response.value().body);
            last_error = endpoint + ": HTTP " + std::to_string(status) + " (code " +
                         std::to_string(api.code) + ": " + api.msg + ")";
            if (status == 429 || status == 418) {
                // Rate limited / banned: Binance says how long to wait; waiting less escalates
                // the ban (NOTES.md §2.7).
                const auto s = response.value().retry_after_s.value_or(60);
                wait = std::chrono::seconds(s);
                last_error += ", Retry-After " + std::to_string(s) + " s";
            } else if (status < 500) {
                if (failure) failure->permanent = true;
                if (failure) failure->message = last_error;
                return error{last_error};
            }
        }
        if (attempt == policy_.attempts) break;
        wait = std::min(wait, policy_.max_wait);
        if (!sleep_(wait)) {
            last_error += " (gave up: shutting down)";
            break;
        }
        delay = std::min(delay * 2, policy_.max_wait);
    }
    if (failure) failure->message = last_error;
    return error{last_error + " after " + std::to_string(policy_.attempts) + " attempts"};
}

result<timestamp_ms> binance_rest::server_time(klines_failure* failure) {
    auto body = fetch("/api/v3/time", failure);
    if (!body) return error{body.error_message()};
    try {
        const auto j = nlohmann::json::parse(body.value());
        if (j.is_object() && j.contains("serverTime") && j["serverTime"].is_number_integer()) {
            return j["serverTime"].get<timestamp_ms>();
        }
    } catch (const nlohmann::json::exception&) {
    }
    const std::string msg = "GET /api/v3/time: unusable response: " + body.value().substr(0, 200);
    if (failure) failure->message = msg;
    return error{msg};
}

result<std::vector<candle>> binance_rest::closed_since(const std::string& symbol,
                                                       const std::string& interval,
                                                       std::int64_t interval_ms,
                                                       timestamp_ms start_time,
                                                       klines_failure* failure) {
    const auto now = server_time(failure);
    if (!now) return error{now.error_message()};
    std::vector<candle> out;
    timestamp_ms from = start_time;
    for (;;) {
        std::string target = "/api/v3/klines?symbol=";
        target += symbol;
        target += "&interval=";
        target += interval;
        target += "&startTime=";
        target += std::to_string(from);
        target += "&limit=";
        target += std::to_string(k_page);
        auto body = fetch(target, failure);
        if (!body) return error{body.error_message()};
        auto rows = binance::parse_klines(body.value(), interval_ms);
        if (!rows) {
            const std::string msg = "GET " + client_->base().path + target +
                                    ": unusable response: " + rows.error_message();
            if (failure) failure->message = msg;
            return error{msg};
        }
        const bool full_page = rows.value().size() == static_cast<std::size_t>(k_page);
        binance::drop_unclosed(rows.value(), now.value());
        for (const auto& c : rows.value()) {
            if (c.open_time >= from) out.push_back(c);
        }
        if (!full_page || rows.value().empty()) break;
        from = rows.value().back().open_time + interval_ms;
    }
    return out;
}

result<std::vector<candle>> binance_rest::latest_closed(const std::string& symbol,
                                                        const std::string& interval,
                                                        std::int64_t interval_ms,
                                                        std::int32_t count,
                                                        klines_failure* failure) {
    if (count <= 0) return std::vector<candle>{};
    const auto now = server_time(failure);
    if (!now) return error{now.error_message()};
    // One extra row: the most recent one is usually the still-forming candle.
    const timestamp_ms start = (now.value() / interval_ms - count - 1) * interval_ms;
    auto rows = closed_since(symbol, interval, interval_ms, start, failure);
    if (!rows) return rows;
    auto& v = rows.value();
    if (v.size() > static_cast<std::size_t>(count)) {
        v.erase(v.begin(), v.end() - count);
    }
    return rows;
}

}  // namespace tradingd::feed
