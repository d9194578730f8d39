#pragma once
// Journal records: one per change to a runner's durable state, and their binary encoding.
//
// A record names its symbol and says what changed; applying the records of a symbol in order to
// an empty runner_state (runner_state.hpp) rebuilds the state the runner had. Each record is
// self-contained and applies atomically: an entry carries both the fill and the position it opened,
// so a crash can never leave one without the other.
//
// Encoding (little-endian, docs/journal.md): u8 format version, u8 type, str symbol, i64 ts, then
// the type's fields;
// str = u32 length + bytes; opt<f64> = u8 present + f64; scalar = u8 tag (0 bool, 1 int, 2 float,
// 3 string) + value. Decoding checks every length against the payload: a record that does not
// decode exactly is reported, never half-applied.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tradingd/core/result.hpp>
#include <tradingd/core/scalar.hpp>
#include <tradingd/exec/paper_broker.hpp>
#include <tradingd/strategy/position.hpp>

namespace tradingd::journal {

/// The first byte of every record. A reader refuses any other version with an error naming it,
/// so an older tradingd never misreads a newer journal.
constexpr std::uint8_t record_format_version = 1;

enum class record_type : std::uint8_t {
    script = 1,              ///< text: content hash of the version now running; name: file name
    analysis_begun = 2,      ///< text: reason (Idle -> Analyzing)
    analysis_cancelled = 3,  ///< text: reason (Analyzing -> Idle)
    entry = 4,               ///< the fill and the position it opened; text: reason
    exit = 5,                ///< the fill that closed the position; text: reason
    fill = 6,                ///< a fill that changed only the account (an entry undone)
    stop_loss = 7,           ///< level (nullopt: removed)
    take_profit = 8,         ///< level (nullopt: removed)
    ctx_set = 9,             ///< text: key; value
    ctx_erase = 10,          ///< text: key
    ctx_replace = 11,        ///< entries: the whole ctx (a reload's adopted ctx)
    suspended = 12,          ///< text: reason
    resumed = 13,            ///< a new script version lifted a suspension
    account_opened = 14,     ///< amount: starting cash of the runner's paper account
};

/// "entry", "ctx_set", ...; "unknown" for a value outside the enum.
const char* type_name(record_type t) noexcept;

using ctx_entries = std::vector<std::pair<std::string, scalar>>;

/// A record to append. Views: nothing is copied until it is encoded.
struct record {
    record_type type = record_type::script;
    std::string_view symbol;
    timestamp_ms ts = 0;
    std::string_view text;  ///< reason, script hash or ctx key (see record_type)
    std::string_view name;  ///< script: file name
    strategy::side direction = strategy::side::long_side;  ///< entry
    exec::fill order_fill;                                 ///< entry, exit, fill
    std::optional<double> stop_loss;                       ///< entry, stop_loss
    std::optional<double> take_profit;                     ///< entry, take_profit
    const scalar* value = nullptr;                         ///< ctx_set
    const ctx_entries* entries = nullptr;                  ///< ctx_replace
    double amount = 0;                                     ///< account_opened
};

/// A decoded record and the storage its views point into.
struct decoded_record {
    record r;
    scalar value;
    ctx_entries entries;
};

/// Appends r's payload encoding to `out` (which is not cleared: a caller reuses its buffer).
void encode(const record& r, std::string& out);
/// Decodes one payload. The views in the result point into `payload` (and into the result).
result<bool> decode(std::string_view payload, decoded_record& out);

}  // namespace tradingd::journal
