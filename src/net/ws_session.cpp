#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <tradingd/net/tls.hpp>
#include <tradingd/net/ws_session.hpp>

namespace tradingd::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

class tls_ws_session final : public ws_session {
public:
    tls_ws_session(asio::io_context& ioc, asio::ssl::context& tls, url endpoint, std::string target,
                   ws_options options, ws_handlers handlers)
        : resolver_(ioc),
          ws_(ioc, tls),
          connect_timer_(ioc),
          endpoint_(std::move(endpoint)),
          target_(std::move(target)),
          options_(options),
          handlers_(std::move(handlers)),
          name_(endpoint_.host_header() + endpoint_.path + target_) {}

    void start() override {
        std::string error;
        if (!prepare_tls_client(ws_.next_layer().native_handle(), endpoint_.host, error)) {
            return finish(error);
        }
        ws_.read_message_max(options_.max_message_bytes);
        // One deadline for resolve + connect + TLS + WebSocket handshakes.
        connect_timer_.expires_after(options_.connect_timeout);
        connect_timer_.async_wait([self = shared()](const error_code& ec) {
            if (ec || self->opened_ || self->finished_) return;
            self->finish("connect timed out after " +
                         std::to_string(self->options_.connect_timeout.count()) + " ms");
        });
        resolver_.async_resolve(
            endpoint_.host, std::to_string(endpoint_.port),
            [self = shared()](const error_code& ec, const tcp::resolver::results_type& r) {
                self->on_resolve(ec, r);
            });
    }

    void close() override {
        if (finished_) return;
        closing_locally_ = true;
        if (!opened_) return finish("closed locally");
        ws_.async_close(websocket::close_code::normal,
                        [self = shared()](const error_code&) { self->finish("closed locally"); });
    }

    void abort() override {
        if (finished_) return;
        closing_locally_ = true;
        finish("closed locally");
    }

    bool open() const noexcept override { return opened_ && !finished_; }
    const std::string& name() const noexcept override { return name_; }

private:
    std::shared_ptr<tls_ws_session> shared() {
        return std::static_pointer_cast<tls_ws_session>(shared_from_this());
    }

    void on_resolve(const error_code& ec, const tcp::resolver::results_type& results) {
        if (finished_) return;
        if (ec) return finish("resolve " + endpoint_.host + ": " + ec.message());
        beast::get_lowest_layer(ws_).expires_never();  // the connect timer bounds every step
        beast::get_lowest_layer(ws_).async_connect(
            results, [self = shared()](const error_code& ec2, const tcp::endpoint&) {
                self->on_connect(ec2);
            });
    }

    void on_connect(const error_code& ec) {
        if (finished_) return;
        if (ec) return finish("connect: " + ec.message());
        ws_.next_layer().async_handshake(
            asio::ssl::stream_base::client,
            [self = shared()](const error_code& ec2) { self->on_tls_handshake(ec2); });
    }

    void on_tls_handshake(const error_code& ec) {
        if (finished_) return;
        if (ec) {
            return finish("TLS handshake with " + endpoint_.host +
                          " failed: " + describe_tls_failure(ws_.next_layer().native_handle(), ec));
        }
        ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
            req.set(beast::http::field::user_agent, "tradingd");
        }));
        ws_.async_handshake(endpoint_.host_header(), endpoint_.path + target_,
                            [self = shared()](const error_code& ec2) { self->on_handshake(ec2); });
    }

    void on_handshake(const error_code& ec) {
        if (finished_) return;
        if (ec) return finish("WebSocket handshake: " + ec.message());
        connect_timer_.cancel();
        opened_ = true;
        websocket::stream_base::timeout t{};
        t.handshake_timeout = options_.connect_timeout;
        t.idle_timeout = options_.idle_timeout;
        t.keep_alive_pings = true;
        ws_.set_option(t);
        ws_.control_callback([this](websocket::frame_type, beast::string_view) {
            if (handlers_.on_control) handlers_.on_control();
        });
        if (handlers_.on_open) handlers_.on_open();
        if (!finished_) read();
    }

    void read() {
        ws_.async_read(buffer_,
                       [self = shared()](const error_code& ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(const error_code& ec) {
        if (finished_) return;
        if (ec) {
            if (ec == websocket::error::closed) {
                const auto& r = ws_.reason();
                return finish(
                    "server closed the connection (code " +
                    std::to_string(static_cast<int>(r.code)) +
                    (r.reason.empty() ? "" : ", " + std::string(r.reason.data(), r.reason.size())) +
                    ")");
            }
            if (ec == beast::error::timeout) {
                return finish("no frame for " + std::to_string(options_.idle_timeout.count()) +
                              " ms (dead peer)");
            }
            return finish("read: " + ec.message());
        }
        const auto data = buffer_.cdata();
        const std::string_view payload(static_cast<const char*>(data.data()), data.size());
        if (handlers_.on_message) handlers_.on_message(payload, !ws_.got_text());
        buffer_.consume(buffer_.size());
        if (!finished_) read();
    }

    void finish(const std::string& reason) {
        if (finished_) return;
        finished_ = true;
        connect_timer_.cancel();
        resolver_.cancel();
        error_code ignored;
        auto& sock = beast::get_lowest_layer(ws_).socket();
        if (sock.is_open()) {
            sock.shutdown(tcp::socket::shutdown_both, ignored);
            sock.close(ignored);
        }
        if (handlers_.on_closed) {
            auto cb = std::move(handlers_.on_closed);
            handlers_ = {};  // drop the feed's callbacks: nothing else is delivered
            cb(closing_locally_ ? std::string("closed locally") : reason);
        }
    }

    tcp::resolver resolver_;
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
    asio::steady_timer connect_timer_;
    beast::flat_buffer buffer_;
    url endpoint_;
    std::string target_;
    ws_options options_;
    ws_handlers handlers_;
    std::string name_;
    bool opened_ = false;
    bool finished_ = false;
    bool closing_locally_ = false;
};

}  // namespace

std::shared_ptr<ws_session> ws_session::create(asio::io_context& ioc, asio::ssl::context& tls,
                                               url endpoint, std::string target, ws_options options,
                                               ws_handlers handlers) {
    return std::make_shared<tls_ws_session>(ioc, tls, std::move(endpoint), std::move(target),
                                            options, std::move(handlers));
}

}  // namespace tradingd::net
