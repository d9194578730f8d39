#include "host_bridge.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

namespace tradingd::strategy::lua::detail {

namespace {

void copy_error(char* err, std::size_t err_size, const char* text) noexcept {
    std::snprintf(err, err_size, "%s", text);
}

}  // namespace

scalar to_scalar(const scalar_view& v) {
    switch (v.type) {
        case scalar_view::kind::boolean:
            return scalar{v.b};
        case scalar_view::kind::integer:
            return scalar{v.i};
        case scalar_view::kind::number:
            return scalar{v.d};
        case scalar_view::kind::string:
            break;
    }
    return scalar{std::string(v.s, v.len)};
}

bool mirror_ctx(lua_strategy::impl& v, const char* key, std::size_t key_len,
                const scalar_view* value, char* err, std::size_t err_size) noexcept {
    try {
        const std::string_view k(key, key_len);
        if (value == nullptr) {
            v.binding.ctx->erase(k);
            return true;
        }
        v.binding.ctx->set(k, to_scalar(*value));
        return true;
    } catch (const std::exception& e) {
        std::snprintf(err, err_size, "ctx: cannot store '%.*s': %s", static_cast<int>(key_len), key,
                      e.what());
    } catch (...) {
        copy_error(err, err_size, "ctx: cannot store a value: unknown error");
    }
    return false;
}

bool query_indicator(indicators::indicator_set& set, indicator_query& q, char* err,
                     std::size_t err_size) noexcept {
    try {
        // Fast path (every call after the first): an existing indicator was validated when it
        // was created. The lookup key zeroes the parameters the kind does not use, as make_spec.
        indicators::indicator_spec key{q.kind, q.n1, 0, 0, 0};
        if (q.kind == indicators::indicator_kind::macd) key.n2 = q.n2, key.n3 = q.n3;
        if (q.kind == indicators::indicator_kind::bollinger) key.k = q.k;
        if (const auto found = set.find(key)) {
            q.source = &set.value(*found);
            q.out = *q.source;
            return true;
        }
        const auto spec = indicators::make_spec(q.kind, q.n1, q.n2, q.n3, q.k);
        if (!spec) {
            copy_error(err, err_size, spec.error_message().c_str());
            return false;
        }
        q.source = &set.value(set.get_or_create(spec.value()));
        q.out = *q.source;
        return true;
    } catch (const std::exception& e) {
        std::snprintf(err, err_size, "ind.%s: %s", indicators::kind_name(q.kind), e.what());
    } catch (...) {
        std::snprintf(err, err_size, "ind.%s: unknown error", indicators::kind_name(q.kind));
    }
    return false;
}

void emit_log(const lua_strategy::impl& v, log_level level, const char* text,
              std::size_t len) noexcept {
    static constexpr spdlog::level::level_enum levels[] = {
        spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err};
    try {
        v.logger->log(levels[static_cast<std::size_t>(level)], "{}: {}", v.name,
                      std::string_view(text, len));
    } catch (...) {
        std::fprintf(stderr, "tradingd: %s: %.*s\n", v.name.c_str(), static_cast<int>(len), text);
    }
}

namespace {

// Adds the tokens earned since the last refill (the bucket starts full).
void refill(log_limiter& b, std::chrono::steady_clock::time_point now) noexcept {
    if (b.last == std::chrono::steady_clock::time_point{}) {
        b.tokens = b.burst;
    } else {
        const std::chrono::duration<double> dt = now - b.last;
        b.tokens = std::min(b.burst, b.tokens + dt.count() * b.rate);
    }
    b.last = now;
}

void write_notice(lua_strategy::impl& v) noexcept {
    auto& b = v.log_limit;
    char text[160];
    const int n =
        std::snprintf(text, sizeof text, "%llu log lines suppressed (limit %g lines/s, burst %g)",
                      static_cast<unsigned long long>(b.suppressed), b.rate, b.burst);
    b.suppressed = 0;
    emit_log(v, log_level::warn, text, static_cast<std::size_t>(std::max(n, 0)));
}

}  // namespace

bool log_allowed(lua_strategy::impl& v) noexcept {
    auto& b = v.log_limit;
    refill(b, std::chrono::steady_clock::now());
    if (b.tokens < 1) {
        ++b.suppressed;
        ++v.stats.log_lines_suppressed;
        return false;
    }
    b.tokens -= 1;
    return true;
}

// The notice is written only between calls: inside a flood a token frees up every 1/rate
// seconds, and a notice before each such line would itself be a flood.
void flush_log_notice(lua_strategy::impl& v) noexcept {
    auto& b = v.log_limit;
    if (b.suppressed == 0) return;
    refill(b, std::chrono::steady_clock::now());
    if (b.tokens >= 1) write_notice(v);  // the notice itself is free: it ends the flood
}

void security_note(lua_strategy::impl& v, const char* what) noexcept {
    ++v.stats.security_refusals;
    if (!log_allowed(v)) return;
    char text[192];
    const int n = std::snprintf(text, sizeof text, "security: %s refused", what);
    emit_log(v, log_level::warn, text,
             std::min(static_cast<std::size_t>(std::max(n, 0)), sizeof text - 1));
}

void warn_function(void* ud, const char* msg, int tocont) noexcept {
    auto& v = *static_cast<lua_strategy::impl*>(ud);
    if (v.warn_len == 0 && tocont == 0 && msg[0] == '@') return;  // control message
    const std::size_t room = sizeof v.warn_text - v.warn_len;
    const std::size_t n = std::min(std::strlen(msg), room);
    std::memcpy(v.warn_text + v.warn_len, msg, n);
    v.warn_len += n;
    if (tocont != 0) return;
    const std::size_t len = v.warn_len;
    v.warn_len = 0;
    if (log_allowed(v)) emit_log(v, log_level::warn, v.warn_text, len);
}

}  // namespace tradingd::strategy::lua::detail
