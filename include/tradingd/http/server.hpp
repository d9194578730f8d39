#pragma once
// http::server: a small HTTP/1.1 server (Boost.Beast) for the daemon's status and control
// endpoints. Generic: it knows nothing about trading; a handler maps a request to a response.
//
// Guarantees (what "never crash, never hang" means here):
//   - binds to `address:port` (port 0: an ephemeral port, see port()); a non-loopback address
//     is refused unless allow_non_loopback;
//   - a request must arrive whole (headers and body) within request_timeout, and a response
//     must be written within it; an idle keep-alive connection is closed after idle_timeout.
//     Slow, stalled and half-open clients therefore cost one socket for a bounded time;
//   - headers over max_header_bytes get 431, bodies over max_body_bytes get 413, unparsable
//     requests get 400 (all with a JSON error body) and the connection is closed;
//   - at most max_connections connections at once: beyond that, new connections are accepted
//     and closed at once (with a 503 JSON error) so the listen backlog never fills;
//   - a handler that throws produces a 500 JSON error (the exception is logged), never a crash;
//   - accept errors (EMFILE, ...) are logged and retried after a short pause.
//
// Threading: one I/O thread owned by the server runs every connection and calls the handler, so
// handlers must be quick (they read published snapshots; they never wait on a runner).
// Lifetime: start() binds (throws std::runtime_error naming the address and the reason when it
// cannot) and starts the thread; stop() (or the destructor) closes the listener and every
// connection and joins the thread promptly, even with clients connected.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace tradingd::http {

struct request {
    std::string method;  ///< "GET", "POST", ...
    std::string target;  ///< as sent: "/flatten?symbol=BTCUSDT"
    std::string path;    ///< target before '?', percent-decoded: "/flatten"
    /// Query parameters in order, percent-decoded ('+' as space).
    std::vector<std::pair<std::string, std::string>> query;
    std::string authorization;  ///< the Authorization header ("" if absent)
    std::string body;
    std::string peer;  ///< "127.0.0.1:54321"

    /// The first value of query parameter `name`.
    std::optional<std::string> param(std::string_view name) const;
};

struct response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
};

/// {"error": message} with `status`.
response json_error(int status, std::string_view message);

using handler = std::function<response(const request&)>;

struct server_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    bool allow_non_loopback = false;
    std::chrono::milliseconds request_timeout{10'000};
    std::chrono::milliseconds idle_timeout{30'000};
    std::size_t max_connections = 64;
    std::size_t max_header_bytes = std::size_t{8} * 1024;
    std::size_t max_body_bytes = std::size_t{64} * 1024;
};

class server {
public:
    /// `logger` defaults to spdlog's default. Throws std::invalid_argument for unusable options
    /// (unparsable address, non-loopback without allow_non_loopback, zero limits).
    server(server_options options, handler h, std::shared_ptr<spdlog::logger> logger = nullptr);
    ~server();  ///< stop()
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    void start();
    void stop();
    /// The bound port (after start()).
    std::uint16_t port() const noexcept;
    /// "127.0.0.1:9180" (after start()).
    std::string endpoint() const;

    /// Counters, readable from any thread.
    std::uint64_t requests() const noexcept;
    std::uint64_t rejected_connections() const noexcept;  ///< over max_connections
    std::size_t open_connections() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace tradingd::http
