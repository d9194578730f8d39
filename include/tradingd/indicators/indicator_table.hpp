#pragma once
// write_indicator_csv: indicator values over a candle series as CSV (`tradingd indicators`).
//
// Uses exactly the path the runners use: a market_data_window whose capacity is the number of
// candles, an indicator_set with every spec created before the first candle, then
// push_closed + on_closed per candle. So the table shows what a strategy would have seen.
//
// Thread-safety: a free function with no shared state.

#include <ostream>
#include <vector>

#include <tradingd/core/market_types.hpp>
#include <tradingd/indicators/indicator_set.hpp>

namespace tradingd::indicators {

/// Writes the header "open_time,<column_names of every spec, in order>" and then one row per
/// candle: the open time, then each output, empty while the indicator is not ready, printed with
/// 17 significant digits (round-trips a double). Specs must be valid (from make_spec/parse_spec);
/// a duplicated spec gets its columns twice. Throws std::invalid_argument for an invalid spec.
void write_indicator_csv(const std::vector<candle>& candles,
                         const std::vector<indicator_spec>& specs, std::ostream& out);

}  // namespace tradingd::indicators
