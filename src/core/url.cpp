#include <algorithm>
#include <cctype>
#include <charconv>

#include <tradingd/core/url.hpp>

namespace tradingd {

namespace {

std::uint16_t default_port(std::string_view scheme) noexcept {
    if (scheme == "wss" || scheme == "https") return 443;
    if (scheme == "ws" || scheme == "http") return 80;
    return 0;
}

bool host_char(char c) noexcept {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
}

}  // namespace

std::string url::host_header() const {
    if (port == default_port(scheme)) return host;
    return host + ":" + std::to_string(port);
}

std::optional<url> parse_url(std::string_view text) {
    const auto sep = text.find("://");
    if (sep == std::string_view::npos || sep == 0) return std::nullopt;
    url u;
    u.scheme.assign(text.substr(0, sep));
    std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (default_port(u.scheme) == 0) return std::nullopt;
    std::string_view rest = text.substr(sep + 3);
    if (rest.find_first_of("?#@") != std::string_view::npos) return std::nullopt;
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string_view path = rest.substr(slash);
        while (!path.empty() && path.back() == '/')
            path.remove_suffix(1);
        u.path.assign(path);
    }
    u.port = default_port(u.scheme);
    if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
        const std::string_view port = authority.substr(colon + 1);
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
            return std::nullopt;
        u.port = static_cast<std::uint16_t>(value);
        authority = authority.substr(0, colon);
    }
    if (authority.empty() || !std::all_of(authority.begin(), authority.end(), host_char))
        return std::nullopt;
    u.host.assign(authority);
    return u;
}

}  // namespace tradingd
