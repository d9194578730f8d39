#pragma once
// string_guard: limits on Lua's pattern functions (string.find, match, gmatch, gsub).
//
// Lua's pattern matcher backtracks in C, where neither the count hook nor the deadline can stop
// it: `("a"):rep(5000):find(".-.-.-.-b$")` runs for hours. The guards replace the functions in
// the VM's real `string` table (so `("x"):find(...)` through the string metatable is covered
// too) with wrappers that estimate the worst-case work before matching and refuse calls that
// could stall. The original C functions are kept as upvalues and called in the wrapper's own
// frame, so their results and error messages are unchanged.
//
// The estimate: a matcher attempt costs at most items x n^q steps (n: subject bytes, q: variable
// items: `*`, `+`, `-`, `?` quantifiers, `%b` and back-references, each of which may scan the
// subject; items: the pattern's single-character items), and an unanchored search repeats the
// attempt at every start position (one more factor n). Refused: subject > max_subject_bytes,
// pattern > max_pattern_bytes, or estimated work > max_pattern_work. A plain find (4th argument
// true, or a pattern without special characters) is linear and only needs the subject cap.

#include <cstddef>
#include <lua.hpp>

namespace tradingd::strategy::lua::detail {

inline constexpr std::size_t max_subject_bytes = std::size_t{1} << 20;
inline constexpr std::size_t max_pattern_bytes = 512;
/// Bound on the estimated matcher steps of one call. One step costs ~4 ns (release build); the
/// worst calls allowed (no quantifier, 1e6 / items bytes) take ~4 ms, those with quantifiers less.
inline constexpr double max_pattern_work = 1e6;

/// What the estimate is made of (exposed for tests and messages).
struct pattern_shape {
    std::size_t quantifiers = 0;  ///< variable items (see above)
    std::size_t items = 0;        ///< single-character items
    bool anchored = false;        ///< starts with '^' (and the function honours it)
};

/// Parses `p` the way lstrlib.c does (sets, escapes, %b, %f, captures); malformed patterns are
/// measured as far as they go (Lua reports them when matching).
pattern_shape shape_of(const char* p, std::size_t len, bool anchor_allowed) noexcept;

/// Estimated worst-case matcher steps for a subject of `n` bytes (saturates at a large value).
double pattern_work(const pattern_shape& s, std::size_t n) noexcept;

/// Replaces find, match, gmatch and gsub in the string library table at `string_index` with
/// their guarded versions. Runs in protected mode (allocates).
void install_pattern_guards(lua_State* L, int string_index);

}  // namespace tradingd::strategy::lua::detail
