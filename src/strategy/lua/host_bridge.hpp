#pragma once
// host_bridge: the C++ work that Lua C functions need (context writes, indicator queries,
// logging), wrapped so that it can be called from a frame a Lua error may later cross: every
// function is noexcept, takes and returns only trivially destructible values, destroys all its
// C++ objects before returning, and reports failure as text in a caller-provided buffer. The
// caller raises the Lua error afterwards.

#include <cstddef>
#include <cstdint>

#include <tradingd/indicators/indicator_set.hpp>

#include "vm.hpp"

namespace tradingd::strategy::lua::detail {

/// A Lua scalar read off the stack (the string points into the Lua state).
struct scalar_view {
    enum class kind : std::uint8_t { boolean, integer, number, string };
    kind type = kind::boolean;
    bool b = false;
    std::int64_t i = 0;
    double d = 0;
    const char* s = nullptr;
    std::size_t len = 0;
};

/// The ctx value a view describes (copies a string's bytes). Throws std::bad_alloc.
scalar to_scalar(const scalar_view& v);

/// Stores (value != nullptr) or erases (value == nullptr) a key of the C++ context bound to `v`.
bool mirror_ctx(lua_strategy::impl& v, const char* key, std::size_t key_len,
                const scalar_view* value, char* err, std::size_t err_size) noexcept;

/// One ind.<fn>(...) call: its arguments in, the indicator's value out.
struct indicator_query {
    indicators::indicator_kind kind = indicators::indicator_kind::sma;
    std::int32_t n1 = 0;
    std::int32_t n2 = 0;
    std::int32_t n3 = 0;
    double k = 0;
    indicators::indicator_value out{};
    /// Where the value lives in the set: stable for the set's lifetime (indicator_set::value),
    /// so an ind.* closure may keep it and skip the lookup on later calls.
    const indicators::indicator_value* source = nullptr;
};

/// Validates the parameters (indicators::make_spec), finds or creates the indicator and reads
/// its value. Allocates only the first time a spec is used.
bool query_indicator(indicators::indicator_set& set, indicator_query& q, char* err,
                     std::size_t err_size) noexcept;

enum class log_level : std::uint8_t { debug, info, warn, error };

/// Writes "<script>: <text>" to the strategy's logger, bypassing the rate limit. Never fails
/// (falls back to stderr).
void emit_log(const lua_strategy::impl& v, log_level level, const char* text,
              std::size_t len) noexcept;

/// The log rate limit (sandbox_limits::log_lines_per_second / log_burst), asked before a line is
/// even formatted. True: write the line (one token spent). False: drop it (counted).
bool log_allowed(lua_strategy::impl& v) noexcept;

/// After a call: once the bucket has refilled (the flood is over), writes a single
/// "N log lines suppressed" notice for every line dropped since the last notice, whether or not
/// the script logs again. Reads the clock only when lines were dropped.
void flush_log_notice(lua_strategy::impl& v) noexcept;

/// A refused escape attempt: counts it and writes "<script>: security: <what> refused" at warn
/// level (rate-limited like every other line).
void security_note(lua_strategy::impl& v, const char* what) noexcept;

/// lua_WarnFunction with `ud` = the impl: assembles warn() pieces and writes the message at warn
/// level through the rate limit. Control messages ("@on", "@off") are ignored.
void warn_function(void* ud, const char* msg, int tocont) noexcept;

}  // namespace tradingd::strategy::lua::detail
