#pragma once
// JSON views of journaled state: what `tradingd journal` prints, and what a runner reports
// (decision record "restored") after a restart, so the two can be compared field by field.

#include <nlohmann/json.hpp>

#include <tradingd/journal/runner_state.hpp>

namespace tradingd::journal {

/// {"phase", "position": {...}|null, "realized_pnl", "fees", "trades", "history": n,
///  "ctx": {...}, "cash", "account_fees", "fills", "script_hash", "suspended", "suspension"}
nlohmann::ordered_json state_json(const runner_state& s);

/// {"last_seq", "runners": {symbol: state_json}}
nlohmann::ordered_json state_json(const journal_state& s);

}  // namespace tradingd::journal
