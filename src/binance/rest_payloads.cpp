#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include <tradingd/binance/decimal.hpp>
#include <tradingd/binance/rest_payloads.hpp>

#include "kline_checks.hpp"

namespace tradingd::binance {

namespace {

using json = nlohmann::json;

// Positions of the fields used in a klines row (GET /api/v3/klines, NOTES.md §2.3).
constexpr std::size_t k_open_time = 0;
constexpr std::size_t k_close_time = 6;
constexpr const char* k_field_names[] = {"open time", "open",   "high",      "low",
                                         "close",     "volume", "close time"};

std::string row_error(std::size_t row, const char* field, const std::string& what) {
    return "klines[" + std::to_string(row) + "] " + field + ": " + what;
}

// A sample of a JSON value for an error message, short enough for a log line.
std::string sample(const json& v) {
    std::string s = v.dump();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return s;
}

result<timestamp_ms> read_time(const json& row, std::size_t r, std::size_t index) {
    const json& v = row[index];
    if (!v.is_number_integer())
        return error{row_error(r, k_field_names[index], sample(v) + " is not an integer")};
    return v.get<timestamp_ms>();
}

result<double> read_decimal(const json& row, std::size_t r, std::size_t index) {
    const json& v = row[index];
    if (!v.is_string())
        return error{row_error(r, k_field_names[index], sample(v) + " is not a string")};
    const auto value = parse_decimal(v.get_ref<const std::string&>());
    if (!value)
        return error{row_error(r, k_field_names[index], sample(v) + " is not a finite decimal")};
    return *value;
}

result<candle> read_row(const json& row, std::size_t r, std::int64_t interval) {
    if (!row.is_array() || row.size() <= k_close_time)
        return error{"klines[" + std::to_string(r) + "]: expected an array of at least " +
                     std::to_string(k_close_time + 1) + " fields, got " + sample(row)};
    candle c;
    auto open_time = read_time(row, r, k_open_time);
    if (!open_time) return error{open_time.error_message()};
    auto close_time = read_time(row, r, k_close_time);
    if (!close_time) return error{close_time.error_message()};
    c.open_time = open_time.value();
    c.close_time = close_time.value();
    double* const targets[] = {&c.open, &c.high, &c.low, &c.close, &c.volume};
    for (std::size_t i = 0; i < 5; ++i) {
        auto v = read_decimal(row, r, i + 1);
        if (!v) return error{v.error_message()};
        *targets[i] = v.value();
    }
    if (const auto fault = detail::check_candle(c, interval); fault.field != nullptr)
        return error{row_error(r, fault.field, fault.rule)};
    return c;
}

}  // namespace

result<std::vector<candle>> parse_klines(std::string_view body, std::int64_t interval_ms) {
    if (interval_ms <= 0) return error{"klines: interval must be > 0 ms"};
    const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return error{"klines: body is not JSON"};
    if (!doc.is_array()) return error{"klines: body is not an array: " + sample(doc)};
    std::vector<candle> out;
    out.reserve(doc.size());
    for (std::size_t r = 0; r < doc.size(); ++r) {
        auto c = read_row(doc[r], r, interval_ms);
        if (!c) return error{c.error_message()};
        if (!out.empty() && c.value().open_time <= out.back().open_time)
            return error{row_error(r, "open time", "not after the previous row's open time")};
        out.push_back(c.value());
    }
    return out;
}

void drop_unclosed(std::vector<candle>& candles, timestamp_ms now) noexcept {
    std::erase_if(candles, [now](const candle& c) { return c.close_time >= now; });
}

api_error parse_api_error(std::string_view body) {
    const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded() && doc.is_object()) {
        const auto code = doc.find("code");
        const auto msg = doc.find("msg");
        if (code != doc.end() && code->is_number_integer() && msg != doc.end() && msg->is_string())
            return {code->get<std::int64_t>(), msg->get<std::string>()};
    }
    constexpr std::size_t k_sample = 200;
    return {0, std::string(body.substr(0, k_sample))};
}

}  // namespace tradingd::binance
