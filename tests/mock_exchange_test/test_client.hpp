#pragma once
// Minimal TLS clients for the mock exchange's own tests: a WebSocket client that always keeps a
// read pending (so it answers pings, as a real client must) and collects what arrives, and a
// one-shot HTTPS GET. Both verify the server certificate against the mock's CA and a host name.
//
// Thread-safety: none; one test thread drives a client (its io_context runs inside wait()).

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mock_test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

inline bool is_ip(const std::string& host) {
    error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

/// A client TLS context trusting only `ca_pem`.
inline net::ssl::context client_tls(const std::string& ca_pem) {
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.add_certificate_authority(net::buffer(ca_pem));
    ctx.set_verify_mode(net::ssl::verify_peer);
    return ctx;
}

/// TCP connect + TLS handshake verifying `host` (SNI set for DNS names).
inline error_code tls_connect(beast::ssl_stream<beast::tcp_stream>& stream, std::uint16_t port,
                              const std::string& host) {
    error_code ec;
    beast::get_lowest_layer(stream).socket().connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return ec;
    if (!is_ip(host)) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    stream.set_verify_callback(net::ssl::host_name_verification(host));
    stream.handshake(net::ssl::stream_base::client, ec);
    return ec;
}

struct received {
    std::string text;
    bool binary = false;
};

class ws_client {
public:
    explicit ws_client(const std::string& ca_pem, std::size_t read_message_max = 16u << 20)
        : tls_(client_tls(ca_pem)), ws_(ioc_, tls_) {
        ws_.read_message_max(read_message_max);
        ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
            if (kind == websocket::frame_type::pong) pongs.emplace_back(payload);
            if (kind == websocket::frame_type::ping) ++pings_seen;
        });
    }
    ~ws_client() {
        error_code ignored;  // test teardown: the socket may already be gone
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

    /// Connects, verifies `host`, upgrades to `target`, then keeps a read pending.
    error_code connect(std::uint16_t port, const std::string& target,
                       const std::string& host = "127.0.0.1") {
        if (auto ec = tls_connect(ws_.next_layer(), port, host)) return ec;
        error_code ec;
        ws_.handshake(host + ":" + std::to_string(port), target, ec);
        if (ec) return ec;
        beast::get_lowest_layer(ws_).expires_never();
        read_next();
        return {};
    }

    /// Runs the client until `done()` or the timeout; returns done().
    bool wait(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            if (ioc_.stopped()) ioc_.restart();
            ioc_.run_for(5ms);
            if (ioc_.stopped()) std::this_thread::sleep_for(2ms);  // no work left
        }
        return true;
    }

    /// Waits for the next message; nullopt on timeout or end of connection.
    std::optional<received> next(std::chrono::milliseconds timeout = 3000ms) {
        wait([&] { return !messages.empty() || finished; }, timeout);
        if (messages.empty()) return std::nullopt;
        received r = std::move(messages.front());
        messages.pop_front();
        return r;
    }

    void ping(const std::string& payload) {
        ws_.async_ping(websocket::ping_data(payload.c_str()), [](error_code) {});
    }

    websocket::close_reason close_reason() const { return ws_.reason(); }

    std::deque<received> messages;
    std::vector<std::string> pongs;
    int pings_seen = 0;
    bool finished = false;  ///< the read loop ended
    error_code read_error;

private:
    void read_next() {
        ws_.async_read(buffer_, [this](error_code ec, std::size_t) {
            if (ec) {
                finished = true;
                read_error = ec;
                return;
            }
            messages.push_back({beast::buffers_to_string(buffer_.data()), ws_.got_binary()});
            buffer_.consume(buffer_.size());
            read_next();
        });
    }

    net::io_context ioc_;
    net::ssl::context tls_;
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
    beast::flat_buffer buffer_;
};

struct rest_reply {
    error_code error;
    unsigned status = 0;
    std::string body;
    std::string retry_after;
};

/// One blocking HTTPS GET (Connection: close) verifying 127.0.0.1.
inline rest_reply rest_get(std::uint16_t port, const std::string& ca_pem,
                           const std::string& target) {
    rest_reply reply;
    net::io_context ioc;
    auto tls = client_tls(ca_pem);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, tls);
    if ((reply.error = tls_connect(stream, port, "127.0.0.1"))) return reply;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(false);
    http::write(stream, req, reply.error);
    if (reply.error) return reply;
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res, reply.error);
    if (reply.error) return reply;
    reply.status = res.result_int();
    reply.body = res.body();
    reply.retry_after = std::string(res[http::field::retry_after]);
    return reply;
}

}  // namespace mock_test
