#include <charconv>
#include <cmath>

#include <tradingd/cli/commands.hpp>

namespace tradingd::cli {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || !std::isfinite(value) || value <= 0) return std::nullopt;
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    double ms_per_unit = 0;
    if (unit.empty() || unit == "s") {
        ms_per_unit = 1000;
    } else if (unit == "ms") {
        ms_per_unit = 1;
    } else if (unit == "m" || unit == "min") {
        ms_per_unit = 60'000;
    } else if (unit == "h") {
        ms_per_unit = 3'600'000;
    } else if (unit == "d") {
        ms_per_unit = 86'400'000;
    } else {
        return std::nullopt;
    }
    const double ms = value * ms_per_unit;
    if (ms < 1 || ms > 1e15) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

}  // namespace tradingd::cli
