#include "session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "message.hpp"

namespace tradingd::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Bytes read from a client after an error response before the socket is closed, so that the
// close does not turn into a reset that could destroy the response in flight.
constexpr std::size_t drain_limit = std::size_t{1024} * 1024;
// Upper bound on writing a 503 and on draining: such connections must not linger.
constexpr std::chrono::milliseconds linger_timeout{1000};
constexpr std::size_t idle_read_chunk = 4096;

bool is_http_error(const beast::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category();
}

std::string peer_of(const tcp::socket& socket) {
    beast::error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    if (ec) return "unknown";
    return format_endpoint(ep.address(), ep.port());
}

}  // namespace

std::string format_endpoint(const asio::ip::address& address, std::uint16_t port) {
    if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
    return address.to_string() + ":" + std::to_string(port);
}

session::session(server_state& state, tcp::socket socket, mode m)
    : state_(state), stream_(std::move(socket)), mode_(m) {
    continue_.version(11);
    continue_.result(bhttp::status::continue_);
    peer_ = peer_of(stream_.socket());
    // Responses are written in one gather write; no_delay only avoids Nagle stalls on
    // keep-alive connections, so a failure here costs latency, not correctness.
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    if (mode_ == mode::serve) state_.open.fetch_add(1, std::memory_order_relaxed);
}

session::~session() {
    if (mode_ == mode::serve) state_.open.fetch_sub(1, std::memory_order_relaxed);
    state_.sessions.erase(this);
}

void session::run() {
    state_.sessions.emplace(this, weak_from_this());
    if (mode_ == mode::reject) {
        send(json_error(503, "too many connections"), false, 11);
        return;
    }
    read_request();
}

void session::close() noexcept {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
}

std::chrono::milliseconds session::short_timeout() const {
    return std::min(state_.options.request_timeout, linger_timeout);
}

void session::read_request() {
    if (state_.stopping.load()) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        state_.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(state_.options.max_body_bytes);
    if (first_request_ || buffer_.size() > 0) return read_message();

    // Keep-alive: wait up to idle_timeout for the first byte of the next request; the
    // request_timeout clock starts once it has arrived.
    stream_.expires_after(state_.options.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(idle_read_chunk),
        [self = shared_from_this()](error_code ec, std::size_t n) { self->on_idle_read(ec, n); });
}

void session::on_idle_read(error_code ec, std::size_t n) {
    if (ec) {
        state_.logger->debug("http: {}: closing idle connection: {}", peer_, ec.message());
        return close();
    }
    buffer_.commit(n);
    read_message();
}

void session::read_message() {
    if (state_.stopping.load()) return close();
    // One deadline covers the header, an interim 100 Continue and the body.
    stream_.expires_after(state_.options.request_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

void session::on_header(error_code ec) {
    if (ec) return on_read(ec);
    const auto expect = parser_->get()[bhttp::field::expect];
    if (parser_->is_done() || !beast::iequals(expect, "100-continue")) return read_body();
    // Clients such as curl wait for this before sending a body (RFC 9110, 10.1.1).
    bhttp::async_write(stream_, continue_,
                       [self = shared_from_this()](error_code wec, std::size_t) {
                           if (wec) return self->on_read(wec);
                           self->read_body();
                       });
}

void session::read_body() {
    if (parser_->is_done()) return on_read({});
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
}

void session::on_read(error_code ec) {
    first_request_ = false;
    if (ec) return on_read_error(ec);
    dispatch();
}

void session::on_read_error(error_code ec) {
    // Timeouts, resets, EOF and a message cut short mean the client is gone or too slow:
    // nothing useful can be sent.
    if (!is_http_error(ec) || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message) {
        state_.logger->debug("http: {}: closing connection: {}", peer_, ec.message());
        return close();
    }
    response r;
    if (ec == bhttp::error::header_limit) {
        r = json_error(431, "request header fields too large (limit " +
                                std::to_string(state_.options.max_header_bytes) + " bytes)");
    } else if (ec == bhttp::error::body_limit) {
        r = json_error(413, "request body too large (limit " +
                                std::to_string(state_.options.max_body_bytes) + " bytes)");
    } else {
        r = json_error(400, "bad request: " + ec.message());
    }
    state_.logger->debug("http: {}: rejecting request with {}: {}", peer_, r.status, ec.message());
    send(std::move(r), false, 11);
}

void session::dispatch() {
    state_.requests.fetch_add(1, std::memory_order_relaxed);
    auto& msg = parser_->get();
    const unsigned version = msg.version();
    const bool keep_alive = msg.keep_alive();

    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto target = parse_target(req.target);
    if (!target) {
        state_.logger->debug("http: {}: bad percent-encoding in target", peer_);
        return send(json_error(400, "bad request: invalid percent-encoding in target"), false,
                    version);
    }
    req.path = std::move(target->path);
    req.query = std::move(target->query);
    req.authorization = std::string(msg[bhttp::field::authorization]);
    req.body = std::move(msg.body());
    req.peer = peer_;
    send(call_handler(req), keep_alive, version);
}

response session::call_handler(const request& req) {
    try {
        return state_.handle(req);
    } catch (const std::exception& e) {
        state_.logger->error("http: {}: handler failed on {} {}: {}", peer_, req.method, req.target,
                             e.what());
        return json_error(500, std::string("internal error: ") + e.what());
    } catch (...) {
        state_.logger->error("http: {}: handler failed on {} {}: unknown exception", peer_,
                             req.method, req.target);
        return json_error(500, "internal error: unknown exception");
    }
}

void session::send(response r, bool keep_alive, unsigned version) {
    if (state_.stopping.load()) return close();
    if (r.status < 100 || r.status > 599) {
        state_.logger->error("http: {}: handler returned invalid status {}", peer_, r.status);
        r = json_error(500, "internal error: invalid status " + std::to_string(r.status));
    }
    res_ = {};
    res_.version(version);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(bhttp::field::server, "tradingd");
    res_.set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) {
        if (!valid_header(name, value)) {
            state_.logger->error("http: {}: dropping invalid response header '{}'", peer_, name);
            continue;
        }
        res_.insert(name, value);
    }
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive);
    res_.prepare_payload();

    stream_.expires_after(mode_ == mode::reject ? short_timeout() : state_.options.request_timeout);
    bhttp::async_write(stream_, res_,
                       [self = shared_from_this(), keep_alive](error_code ec, std::size_t) {
                           self->on_write(ec, keep_alive);
                       });
}

void session::on_write(error_code ec, bool keep_alive) {
    if (ec) {
        state_.logger->debug("http: {}: write failed: {}", peer_, ec.message());
        return close();
    }
    if (keep_alive) return read_request();
    finish();
}

void session::finish() {
    // Half-close, then read what the client still sends until it closes too (bounded in time
    // and bytes): closing with unread data would reset the connection.
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    stream_.expires_after(short_timeout());
    drain();
}

void session::drain() {
    if (state_.stopping.load()) return close();
    stream_.async_read_some(
        asio::buffer(drain_buf_),
        [self = shared_from_this()](error_code ec, std::size_t n) { self->on_drain(ec, n); });
}

void session::on_drain(error_code ec, std::size_t n) {
    drained_ += n;
    if (ec || drained_ > drain_limit) return close();
    drain();
}

}  // namespace tradingd::http::detail
