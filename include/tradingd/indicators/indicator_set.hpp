#pragma once
// indicator_set: the indicators one runner uses, maintained incrementally.
//
// Each indicator is created on first use (get_or_create), seeded by replaying the window's closed
// candles oldest first, and from then on updated in O(1) per closed candle by on_closed(). Values
// follow TA-Lib's definitions and seeding (see docs/lua-api.md, "Indicators"):
//   sma(n)              simple mean of the last n closes
//   ema(n)              k = 2/(n+1), seeded with the SMA of the first n closes
//   rsi(n)              Wilder smoothing, seeded with the simple average gain/loss of n changes
//   macd(f, s, sig)     EMA(f) - EMA(s), both EMAs start at bar s-1 (the fast one seeded with the
//                       SMA of closes s-f .. s-1, as TA-Lib does); signal = EMA(sig) of the MACD
//                       line; outputs {macd, signal, hist}; ready when the signal is
//   bollinger(n, k)     SMA(n) +/- k * population stddev(n); outputs {upper, middle, lower}
//   atr(n)              Wilder-smoothed true range, seeded with the SMA of the first n TRs
//                       (the first TR needs a previous close, so ready after n+1 candles)
//   highest(n)/lowest(n) max high / min low of the last n candles (monotonic deque, amortised O(1))
//   stddev(n)           population standard deviation of the last n closes
// Running sums are kept drift-free (periodic exact recomputation or compensated summation), so
// values stay within 1e-9 relative of a fresh computation over millions of candles.
//
// Thread-safety: distinct objects safe; a shared object must only be used by its runner thread.
// Lifetime: holds a reference to the window, which must outlive it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tradingd/core/market_types.hpp>
#include <tradingd/core/result.hpp>
#include <tradingd/market/market_data_window.hpp>

namespace tradingd::indicators {

enum class indicator_kind : std::uint8_t {
    sma,
    ema,
    rsi,
    macd,
    bollinger,
    atr,
    highest,
    lowest,
    stddev,
};

/// Which indicator with which parameters. Two equal specs share one instance.
struct indicator_spec {
    indicator_kind kind = indicator_kind::sma;
    std::int32_t n1 = 0;  ///< period (macd: fast)
    std::int32_t n2 = 0;  ///< macd: slow
    std::int32_t n3 = 0;  ///< macd: signal
    double k = 0;         ///< bollinger: number of standard deviations
    friend bool operator==(const indicator_spec&, const indicator_spec&) = default;
};

/// Number of outputs: 3 for macd and bollinger, 1 otherwise.
std::size_t output_count(indicator_kind k) noexcept;
/// "sma", "ema", ... (the Lua function name).
const char* kind_name(indicator_kind k) noexcept;

/// Validates parameters: periods in [1, 100000], macd needs
/// fast < slow, bollinger k finite and > 0. The error names the indicator and the parameter.
result<indicator_spec> make_spec(indicator_kind kind, std::int32_t n1, std::int32_t n2 = 0,
                                 std::int32_t n3 = 0, double k = 0);
/// "sma(20)", "macd(12,26,9)", "bollinger(20,2)": what parse_spec reads, and the key the
/// decision log uses for the indicator's value.
std::string spec_text(const indicator_spec& s);
/// Parses "sma(20)", "macd(12,26,9)", "bollinger(20,2)" (spaces allowed).
result<indicator_spec> parse_spec(std::string_view text);
/// Parses a comma-separated list: "sma(20),rsi(14),macd(12,26,9)".
result<std::vector<indicator_spec>> parse_spec_list(std::string_view text);
/// CSV column names for a spec's outputs, e.g. {"sma_20"}, {"macd_12_26_9", "macd_signal_12_26_9",
/// "macd_hist_12_26_9"}, {"bb_upper_20_2", "bb_middle_20_2", "bb_lower_20_2"}: the names used in
/// ../shared/reference/BTCUSDT-1h-2021-Q1.talib.csv.
std::vector<std::string> column_names(const indicator_spec& s);

/// Latest outputs of one indicator. `ready` is false until enough candles exist.
struct indicator_value {
    bool ready = false;
    std::array<double, 3> v{};
};

namespace detail {
class indicator_base;
}

class indicator_set {
public:
    explicit indicator_set(const market::market_data_window& window);
    ~indicator_set();
    indicator_set(const indicator_set&) = delete;
    indicator_set& operator=(const indicator_set&) = delete;

    /// Returns a stable handle for the spec, creating the indicator (and seeding it from the
    /// window's closed candles) on first use. Allocates only on first use of a spec.
    std::size_t get_or_create(const indicator_spec& spec);
    /// Handle of an existing spec, or nullopt. No allocation; linear scan (sets are small).
    std::optional<std::size_t> find(const indicator_spec& spec) const noexcept;
    /// Current value of an indicator. O(1). The reference stays valid, and keeps showing the
    /// latest value, for the set's lifetime (indicators are never removed or moved).
    const indicator_value& value(std::size_t handle) const noexcept;
    /// Feeds one closed candle to every existing indicator. Call after window.push_closed(c).
    void on_closed(const candle& c) noexcept;
    std::size_t size() const noexcept { return items_.size(); }
    /// The spec of a handle (handles are 0 .. size()-1, in order of first use).
    const indicator_spec& spec(std::size_t handle) const noexcept { return specs_[handle]; }

private:
    struct item;
    const market::market_data_window& window_;
    std::vector<std::unique_ptr<item>> items_;
    std::vector<indicator_spec> specs_;  ///< items_[i]->spec, contiguous for find()
};

}  // namespace tradingd::indicators
