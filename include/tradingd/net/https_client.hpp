#pragma once
// A small HTTPS/1.1 client for REST calls (Boost.Beast), synchronous for its caller and bounded
// by a deadline: each request resolves, connects, handshakes (verified TLS, see tls.hpp), writes
// and reads under one timeout, on a private io_context. Meant for infrequent calls (warm-up and
// gap repair); it opens one connection per request.
//
// Thread-safety: one request at a time per client object; distinct clients are independent.

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <tradingd/core/result.hpp>
#include <tradingd/core/url.hpp>

namespace tradingd::net {

struct http_response {
    int status = 0;
    std::string body;
    /// Retry-After in seconds when the server sent one as an integer (Binance on 429/418).
    std::optional<std::int64_t> retry_after_s;
};

class https_client {
public:
    /// `base` must be an https URL; `tls` must outlive the client.
    https_client(url base, boost::asio::ssl::context& tls, std::chrono::milliseconds timeout,
                 std::size_t max_body_bytes = 16 << 20);

    /// GET base.path + target (target starts with '/', query included). Any HTTP status is a
    /// response; a network, TLS, timeout or protocol failure is an error naming host, target and
    /// reason. Never throws.
    result<http_response> get(std::string_view target) const noexcept;

    const url& base() const noexcept { return base_; }

private:
    url base_;
    boost::asio::ssl::context* tls_;
    std::chrono::milliseconds timeout_;
    std::size_t max_body_bytes_;
};

}  // namespace tradingd::net
