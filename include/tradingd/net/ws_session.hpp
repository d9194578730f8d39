#pragma once
// One TLS WebSocket client connection (Boost.Beast), run by the caller's io_context.
//
// start() resolves, connects, handshakes TLS (verified, see tls.hpp) and WebSocket, all within
// `connect_timeout`, then keeps exactly one read pending for the life of the connection: Beast
// answers the server's pings only while a read is pending (RELIABILITY.md §2.3), and the
// handlers run on the io thread, so they must never block. With `idle_timeout` set, Beast pings
// the server after idle/2 without traffic and fails the connection when nothing at all arrives
// for `idle_timeout` (a dead peer). Frames larger than `max_message_bytes` fail the read cleanly
// (no large allocation).
//
// Handlers: on_open once after the handshakes; on_message for every data frame; on_closed
// exactly once (after a failed connect too) with the reason, unless the session was closed with
// close() before it ended by itself — then on_closed still runs once, with "closed locally".
//
// Thread-safety: every call and every handler on the io_context's thread. Lifetime: the session
// keeps itself alive (shared_from_this) while operations are pending.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <tradingd/core/url.hpp>

namespace tradingd::net {

struct ws_options {
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds idle_timeout{30'000};
    std::size_t max_message_bytes = 1 << 20;
};

struct ws_handlers {
    std::function<void()> on_open;
    /// `binary` is true for binary frames. The view is valid during the call only.
    std::function<void(std::string_view payload, bool binary)> on_message;
    std::function<void(const std::string& reason)> on_closed;
    /// A ping or pong control frame arrived (liveness, not data).
    std::function<void()> on_control;
};

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
    /// `tls` must outlive the session. `target` is the request target ("/stream?streams=...").
    static std::shared_ptr<ws_session> create(boost::asio::io_context& ioc,
                                              boost::asio::ssl::context& tls, url endpoint,
                                              std::string target, ws_options options,
                                              ws_handlers handlers);
    virtual ~ws_session() = default;

    virtual void start() = 0;
    /// Sends a close frame (normal closure) and ends the session; safe at any time, repeatable.
    virtual void close() = 0;
    /// Ends the session at once without a close frame (the socket is shut down).
    virtual void abort() = 0;
    virtual bool open() const noexcept = 0;
    /// "host:port/target" for logs.
    virtual const std::string& name() const noexcept = 0;
};

}  // namespace tradingd::net
