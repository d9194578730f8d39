#include "string_guard.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "vm.hpp"

namespace tradingd::strategy::lua::detail {

namespace {

constexpr char escape = '%';

bool is_quantifier(char c) noexcept {
    return c == '*' || c == '+' || c == '-' || c == '?';
}

// Index just past the set starting at p[i] == '[' (lstrlib.c classEnd).
std::size_t set_end(const char* p, std::size_t len, std::size_t i) noexcept {
    std::size_t j = i + 1;
    if (j < len && p[j] == '^') ++j;
    do {
        if (j >= len) return len;  // malformed: Lua reports it
        if (p[j++] == escape && j < len) ++j;
    } while (j < len && p[j] != ']');
    return j < len ? j + 1 : len;
}

// lstrlib.c nospecials: such a find pattern is searched with memcmp, not the matcher.
bool no_specials(const char* p, std::size_t len) noexcept {
    for (std::size_t i = 0; i < len; ++i) {
        if (std::strchr("^$*+?.([%-", p[i]) != nullptr) return false;
    }
    return true;
}

}  // namespace

pattern_shape shape_of(const char* p, std::size_t len, bool anchor_allowed) noexcept {
    pattern_shape s;
    std::size_t i = 0;
    if (anchor_allowed && len > 0 && p[0] == '^') {
        s.anchored = true;
        i = 1;
    }
    while (i < len) {
        std::size_t end = i + 1;
        switch (p[i]) {
            case '(':
            case ')':
                i = end;
                continue;
            case '$':
                if (end == len) {
                    i = end;
                    continue;
                }
                break;
            case escape:
                if (end >= len) return s;  // malformed
                if (p[end] == 'b') {       // %bxy scans for the balance
                    ++s.quantifiers;
                    ++s.items;
                    i = i + 4;
                    continue;
                }
                if (p[end] == 'f') {  // %f[set]: a zero-width test
                    i = i + 2;
                    if (i < len && p[i] == '[') i = set_end(p, len, i);
                    ++s.items;
                    continue;
                }
                if (p[end] >= '0' && p[end] <= '9') {  // back-reference compares a capture
                    ++s.quantifiers;
                    ++s.items;
                    i = i + 2;
                    continue;
                }
                end = i + 2;
                break;
            case '[':
                end = set_end(p, len, i);
                break;
            default:
                break;
        }
        ++s.items;
        if (end < len && is_quantifier(p[end])) {
            ++s.quantifiers;
            ++end;
        }
        i = end;
    }
    return s;
}

double pattern_work(const pattern_shape& s, std::size_t n) noexcept {
    const double base = n < 2 ? 2.0 : static_cast<double>(n);
    const std::size_t exponent = s.quantifiers + (s.anchored ? 0 : 1);
    double work = s.items > 0 ? static_cast<double>(s.items) : 1.0;
    for (std::size_t k = 0; k < exponent && work <= 1e300; ++k)
        work *= base;
    return work;
}

namespace {

enum class pattern_fn : unsigned char { find, match, gmatch, gsub };

const char* name_of(pattern_fn f) noexcept {
    switch (f) {
        case pattern_fn::find:
            return "string.find";
        case pattern_fn::match:
            return "string.match";
        case pattern_fn::gmatch:
            return "string.gmatch";
        case pattern_fn::gsub:
            return "string.gsub";
    }
    return "string";
}

// Writes the refusal message into err and returns false when the call could stall.
bool allowed(pattern_fn f, std::size_t n, const char* p, std::size_t plen, bool plain, char* err,
             std::size_t err_size) noexcept {
    const char* fn = name_of(f);
    if (n > max_subject_bytes) {
        std::snprintf(err, err_size, "%s: subject too long (%zu bytes, limit %zu)", fn, n,
                      max_subject_bytes);
        return false;
    }
    if (plain) return true;
    if (plen > max_pattern_bytes) {
        std::snprintf(err, err_size, "%s: pattern too long (%zu bytes, limit %zu)", fn, plen,
                      max_pattern_bytes);
        return false;
    }
    // gmatch has no anchor in 5.4: a leading '^' is an ordinary character there.
    const pattern_shape s = shape_of(p, plen, f != pattern_fn::gmatch);
    if (pattern_work(s, n) <= max_pattern_work) return true;
    std::snprintf(err, err_size,
                  "%s: pattern too complex for a %zu-byte subject (%zu quantifier%s); shorten "
                  "the subject or simplify the pattern",
                  fn, n, s.quantifiers, s.quantifiers == 1 ? "" : "s");
    return false;
}

// The guard: checks, then runs the original C function (upvalue 1) in this same frame, so it
// sees exactly the arguments and its errors name the caller's line as usual.
int guarded(lua_State* L, pattern_fn f) {
    std::size_t n = 0;
    std::size_t plen = 0;
    luaL_checklstring(L, 1, &n);
    const char* p = luaL_checklstring(L, 2, &plen);
    const bool plain = f == pattern_fn::find && (lua_toboolean(L, 4) != 0 || no_specials(p, plen));
    char err[256];
    if (!allowed(f, n, p, plen, plain, err, sizeof err)) {
        ++vm_of(L).stats.pattern_refusals;
        return luaL_error(L, "%s", err);
    }
    const lua_CFunction original = lua_tocfunction(L, lua_upvalueindex(1));
    return original(L);
}

int guarded_find(lua_State* L) {
    return guarded(L, pattern_fn::find);
}
int guarded_match(lua_State* L) {
    return guarded(L, pattern_fn::match);
}
int guarded_gmatch(lua_State* L) {
    return guarded(L, pattern_fn::gmatch);
}
int guarded_gsub(lua_State* L) {
    return guarded(L, pattern_fn::gsub);
}

}  // namespace

void install_pattern_guards(lua_State* L, int string_index) {
    string_index = lua_absindex(L, string_index);
    const struct {
        const char* name;
        lua_CFunction guard;
    } guards[] = {{"find", guarded_find},
                  {"match", guarded_match},
                  {"gmatch", guarded_gmatch},
                  {"gsub", guarded_gsub}};
    for (const auto& g : guards) {
        lua_getfield(L, string_index, g.name);
        if (lua_tocfunction(L, -1) == nullptr) {
            luaL_error(L, "string.%s is not a C function", g.name);
        }
        lua_pushcclosure(L, g.guard, 1);
        lua_setfield(L, string_index, g.name);
    }
}

}  // namespace tradingd::strategy::lua::detail
