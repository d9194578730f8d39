#pragma once
// One accepted TCP connection. Serve mode reads requests (bounded by the server's timeouts and
// size limits), calls the handler and writes responses until the client or an error ends the
// connection. Reject mode (over max_connections) writes a 503 at once and closes.
// Thread-safety: runs on the server's I/O thread only. Lifetime: owned by its pending
// operations (shared_ptr); registered in server_state::sessions while alive.

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "server_state.hpp"

namespace tradingd::http::detail {

class session : public std::enable_shared_from_this<session> {
public:
    enum class mode { serve, reject };

    session(server_state& state, boost::asio::ip::tcp::socket socket, mode m);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Registers the session and starts its first operation.
    void run();
    /// Closes the socket: every pending operation completes with an error.
    void close() noexcept;

private:
    using error_code = boost::beast::error_code;

    void read_request();
    void on_idle_read(error_code ec, std::size_t n);
    void read_message();
    void on_header(error_code ec);
    void read_body();
    void on_read(error_code ec);
    void on_read_error(error_code ec);
    void dispatch();
    response call_handler(const request& req);
    void send(response r, bool keep_alive, unsigned version);
    void on_write(error_code ec, bool keep_alive);
    void finish();
    void drain();
    void on_drain(error_code ec, std::size_t n);
    std::chrono::milliseconds short_timeout() const;

    server_state& state_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    boost::beast::http::response<boost::beast::http::string_body> res_;
    boost::beast::http::response<boost::beast::http::empty_body> continue_;
    std::string peer_;
    mode mode_;
    bool first_request_ = true;
    std::array<char, 4096> drain_buf_{};
    std::size_t drained_ = 0;
};

/// "127.0.0.1:9180", "[::1]:9180".
std::string format_endpoint(const boost::asio::ip::address& address, std::uint16_t port);

}  // namespace tradingd::http::detail
