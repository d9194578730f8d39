#pragma once
// scalar: the value types that cross between config, Lua and the journal: strategy `params`
// and `ctx` entries. Exactly Lua's boolean, integer, float and string.

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tradingd {

using scalar = std::variant<bool, std::int64_t, double, std::string>;

/// An ordered list of named scalars (strategy params from the config).
using named_scalars = std::vector<std::pair<std::string, scalar>>;

/// "true", "42", "0.5", "\"text\"": a short human/JSON-ish rendering for logs and summaries.
std::string to_display_string(const scalar& v);

}  // namespace tradingd
