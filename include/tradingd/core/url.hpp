#pragma once
// Absolute URLs of the exchange endpoints in the config ("wss://stream.binance.com:9443",
// "https://api.binance.com"). Only what the daemon needs: scheme, host, port, path prefix.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tradingd {

struct url {
    std::string scheme;  ///< lower case: "wss", "https", ...
    std::string host;    ///< a DNS name or an IPv4 address, without brackets
    std::uint16_t port = 0;
    std::string path;  ///< "" or a prefix starting with '/', without a trailing '/'

    /// "host" when the port is the scheme's default, "host:port" otherwise (the HTTP Host header).
    std::string host_header() const;
};

/// Parses "scheme://host[:port][/path]"; the port defaults to 443 for wss/https and 80 for
/// ws/http. Nothing for anything else (no scheme, empty host, a bad port, user info, a query or a
/// fragment).
std::optional<url> parse_url(std::string_view text);

}  // namespace tradingd
