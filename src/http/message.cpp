#include "message.hpp"

#include <array>
#include <cstdio>

#include <tradingd/http/server.hpp>

namespace tradingd::http {

namespace detail {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
    return specials.find(c) != std::string_view::npos;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '+' && plus_as_space) {
            out.push_back(' ');
        } else if (c == '%') {
            if (in.size() - i < 3) return std::nullopt;  // needs '%' and two digits
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::optional<parsed_target> parse_target(std::string_view target) {
    parsed_target result;
    const auto qmark = target.find('?');
    auto path = percent_decode(target.substr(0, qmark), false);
    if (!path) return std::nullopt;
    result.path = std::move(*path);
    if (qmark == std::string_view::npos) return result;

    std::string_view rest = target.substr(qmark + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view segment = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (segment.empty()) continue;
        const auto eq = segment.find('=');
        auto key = percent_decode(segment.substr(0, eq), true);
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view{} : segment.substr(eq + 1), true);
        if (!key || !value) return std::nullopt;
        result.query.emplace_back(std::move(*key), std::move(*value));
    }
    return result;
}

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    for (const char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    std::array<char, 8> buf{};
                    std::snprintf(buf.data(), buf.size(), "\\u%04x",
                                  static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf.data();
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
    return out;
}

bool valid_header(std::string_view name, std::string_view value) {
    if (name.empty()) return false;
    for (const char c : name) {
        if (!is_token_char(c)) return false;
    }
    return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace detail

std::optional<std::string> request::param(std::string_view name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return value;
    }
    return std::nullopt;
}

response json_error(int status, std::string_view message) {
    response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = "{\"error\":" + detail::json_quote(message) + "}";
    return r;
}

}  // namespace tradingd::http
