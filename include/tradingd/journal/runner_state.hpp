#pragma once
// runner_state: what the journal restores for one symbol, and how records rebuild it.
//
// apply() replays one record with the same state_machine and paper-account arithmetic the runner
// used when it made the change, so the state rebuilt from a journal is the runner's state as of
// that record. A record that does not fit the state (an entry while Idle, an exit with no
// position) means the journal and the engine disagree: apply() reports it and changes nothing,
// and recovery stops with that error rather than restore a state nobody had.
//
// journal_state is every symbol's runner_state plus the sequence number of the last record
// applied; snapshots serialise it (encode_state / decode_state).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <tradingd/core/result.hpp>
#include <tradingd/exec/paper_broker.hpp>
#include <tradingd/journal/record.hpp>
#include <tradingd/strategy/state_machine.hpp>

namespace tradingd::journal {

struct runner_state {
    strategy::state_machine machine;  ///< phase, position, realised P&L, history, ctx
    exec::paper_broker broker{exec::paper_broker_config{}};  ///< its account: cash, fees, fills
    bool has_account = false;  ///< false until an account_opened record
    std::string script_hash;   ///< the version that made the last change ("" before any)
    std::string script_name;
    bool suspended = false;
    std::string suspension_reason;
    timestamp_ms last_ts = 0;  ///< market time of the newest record
    std::uint64_t records = 0;

    /// Equal machine images, accounts and the other fields.
    friend bool operator==(const runner_state& a, const runner_state& b);
};

struct journal_state {
    std::uint64_t last_seq = 0;                   ///< of the last record applied (0: none)
    std::map<std::string, runner_state> runners;  ///< by symbol

    friend bool operator==(const journal_state&, const journal_state&) = default;
};

/// Applies `r` to `s` (the state of r.symbol). Returns an error (and leaves `s` unchanged) when
/// the record does not fit the state.
result<bool> apply(const record& r, runner_state& s);

/// Snapshot body encoding of a whole journal_state (docs/journal.md, "Snapshots").
void encode_state(const journal_state& s, std::string& out);
result<journal_state> decode_state(std::string_view body);

}  // namespace tradingd::journal
