// Data checks and aggregation of a candle series (docs/backtest.md, "Data gaps").
#include <algorithm>

#include <tradingd/backtest/backtest.hpp>

namespace tradingd::backtest {

namespace {

bool flat_zero_volume(const candle& c) noexcept {
    return c.volume == 0 && c.open == c.high && c.open == c.low && c.open == c.close;
}

// Floor division (bucket starts for times before the epoch stay aligned).
std::int64_t floor_to(std::int64_t t, std::int64_t step) noexcept {
    const std::int64_t q = t / step;
    return (t % step != 0 && t < 0 ? q - 1 : q) * step;
}

}  // namespace

data_report inspect(const std::vector<candle>& candles, std::int64_t interval_ms) {
    data_report r;
    r.interval_ms = interval_ms;
    const candle* prev = nullptr;
    for (const candle& c : candles) {
        if (prev != nullptr && c.open_time <= prev->open_time) {
            ++r.out_of_order;  // the run drops it: the previous candle stays the reference
            continue;
        }
        ++r.candles;
        if (flat_zero_volume(c)) ++r.flat_zero_volume;
        if (prev != nullptr && interval_ms > 0) {
            const std::int64_t missing = (c.open_time - prev->open_time) / interval_ms - 1;
            if (missing > 0) {
                r.gaps.push_back(gap{prev->open_time + interval_ms, missing});
                r.missing_candles += static_cast<std::size_t>(missing);
            }
        }
        prev = &c;
    }
    return r;
}

std::vector<candle> aggregate(const std::vector<candle>& candles, std::int64_t from_ms,
                              std::int64_t to_ms, std::size_t* incomplete) {
    std::vector<candle> out;
    std::size_t partial = 0;
    if (from_ms <= 0 || to_ms < from_ms || to_ms % from_ms != 0) {
        if (incomplete != nullptr) *incomplete = 0;
        return out;
    }
    const std::int64_t per_bucket = to_ms / from_ms;
    std::int64_t in_bucket = 0;
    const auto finish = [&] {
        if (in_bucket < per_bucket) ++partial;
    };
    for (const candle& c : candles) {
        const std::int64_t start = floor_to(c.open_time, to_ms);
        if (!out.empty() && start < out.back().open_time) continue;  // out of order: dropped
        if (out.empty() || start != out.back().open_time) {
            if (!out.empty()) finish();
            candle b = c;
            b.open_time = start;
            b.close_time = start + to_ms - 1;
            out.push_back(b);
            in_bucket = 1;
            continue;
        }
        candle& b = out.back();
        b.high = std::max(b.high, c.high);
        b.low = std::min(b.low, c.low);
        b.close = c.close;
        b.volume += c.volume;
        ++in_bucket;
    }
    if (!out.empty()) finish();
    if (incomplete != nullptr) *incomplete = partial;
    return out;
}

}  // namespace tradingd::backtest
