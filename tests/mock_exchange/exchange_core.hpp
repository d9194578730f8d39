#pragma once
// Private parts of mock_exchange: the state shared by the server's connections, and the
// connection classes (TLS + HTTP/REST, then WebSocket after an upgrade).
//
// Thread-safety: exchange_core's plain members are guarded by `mu`; its atomics may be read on
// any thread. Each connection runs on its own strand; its public functions post onto it.
// Lifetime: exchange_core outlives the io_context, so connections may touch it until destroyed.

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gate_stream.hpp"
#include "mock_exchange.hpp"
#include "synthetic_market.hpp"

namespace tradingd::testing::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using ws_stream = websocket::stream<gate_stream<tls_stream>>;

/// A produced market message: its stream name and raw (unwrapped) payload.
struct market_message {
    std::string stream;
    std::string payload;
};
using market_batch = std::shared_ptr<const std::vector<market_message>>;

/// A frame a session must send, in order with everything else it sends.
struct outgoing {
    enum class kind : std::uint8_t { text, binary, ping, close };
    kind what = kind::text;
    std::string payload;
    int close_code = 1000;
};

class connection : public std::enable_shared_from_this<connection> {
public:
    virtual ~connection() = default;
    /// Closes the TCP socket (abortive: SO_LINGER 0, so the peer gets a RST). Any thread.
    virtual void reset(bool abortive) = 0;
};

class ws_session;

struct rest_failure {
    int remaining = 0;
    int status = 500;
    std::string body;
    std::optional<int> retry_after_s;
};

struct exchange_core {
    explicit exchange_core(mock_options opts);

    mock_options options;
    test_certificates certificates;
    std::atomic<bool> reads_enabled{true};  ///< answer_pings: off holds every session's reads
    std::atomic<bool> stalled{false};
    std::atomic<bool> paused{false};

    mutable std::mutex mu;
    std::vector<synthetic_symbol> symbols;
    mock_stats stats;
    std::vector<std::string> pongs;
    int skip_pending = 0;
    bool duplicate_next = false;
    bool omit_next = false;
    bool stale_next = false;
    int refuse_pending = 0;
    rest_failure rest_fail;
    bool stopping = false;
    std::vector<std::weak_ptr<connection>> connections;
    std::vector<std::weak_ptr<ws_session>> sessions;

    /// Live WebSocket sessions (copied under the lock).
    std::vector<std::shared_ptr<ws_session>> live_sessions();
    /// Registers a connection for stop(); false when the server is stopping.
    bool add_connection(const std::shared_ptr<connection>& c);
};

/// The REST answer for one request (GET /api/v3/...), fail_rest applied.
http::response<http::string_body> handle_rest(exchange_core& core,
                                              const http::request<http::string_body>& req);

/// Streams named by a WebSocket target (/stream?streams=a/b or /ws/a); nullopt if malformed.
struct stream_target {
    std::vector<std::string> streams;
    bool combined = false;
};
std::optional<stream_target> parse_stream_target(const std::string& target);

/// One WebSocket client: sends the market data it subscribed to and what the scripts inject.
class ws_session final : public connection {
public:
    ws_session(exchange_core& core, tls_stream&& stream, stream_target target);
    ~ws_session() override;

    void run(http::request<http::string_body> req);
    /// Queues the batch's messages for the streams this session subscribed to. Any thread.
    void deliver(const market_batch& batch);
    /// Queues a frame. Any thread.
    void send(outgoing frame);
    void reset(bool abortive) override;

private:
    std::shared_ptr<ws_session> self() {
        return std::static_pointer_cast<ws_session>(shared_from_this());
    }
    void on_accept(error_code ec);
    void do_read();
    void on_read(error_code ec, std::size_t bytes);
    void enqueue(outgoing frame);
    void pump();
    void on_write(error_code ec);
    bool subscribed(const std::string& stream) const;

    exchange_core& core_;
    ws_stream ws_;
    stream_target target_;
    beast::flat_buffer buffer_;
    std::deque<outgoing> queue_;
    bool writing_ = false;
    bool close_queued_ = false;
    bool accepted_ = false;
};

/// A TLS connection before any upgrade: serves REST, or hands itself to a ws_session.
class http_connection final : public connection {
public:
    http_connection(exchange_core& core, tcp::socket&& socket, net::ssl::context& tls);
    void run();
    void reset(bool abortive) override;

private:
    std::shared_ptr<http_connection> self() {
        return std::static_pointer_cast<http_connection>(shared_from_this());
    }
    void on_handshake(error_code ec);
    void do_read();
    void on_read(error_code ec, std::size_t bytes);
    void upgrade();
    void write(http::response<http::string_body> res);
    void on_write(bool keep_alive, error_code ec);
    void do_shutdown();

    exchange_core& core_;
    net::any_io_executor strand_;
    tls_stream stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> req_;
    std::shared_ptr<http::response<http::string_body>> res_;
    bool upgraded_ = false;  ///< stream_ moved into a ws_session
};

}  // namespace tradingd::testing::detail
