#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <memory>

#include <tradingd/net/https_client.hpp>
#include <tradingd/net/tls.hpp>

namespace tradingd::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::optional<std::int64_t> parse_retry_after(std::string_view v) {
    std::int64_t s = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (ec != std::errc{} || end != v.data() + v.size() || s < 0) return std::nullopt;
    return s;
}

// One request's state; the async chain runs on a private io_context bounded by the stream's
// deadline (tcp_stream::expires_after covers resolve-less steps; resolve has its own check).
struct exchange {
    asio::io_context ioc;
    tcp::resolver resolver{ioc};
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    http::response_parser<http::string_body> parser;
    std::string failure;
    bool done = false;

    explicit exchange(asio::ssl::context& tls) : stream(ioc, tls) {}
};

}  // namespace

https_client::https_client(url base, asio::ssl::context& tls, std::chrono::milliseconds timeout,
                           std::size_t max_body_bytes)
    : base_(std::move(base)), tls_(&tls), timeout_(timeout), max_body_bytes_(max_body_bytes) {}

result<http_response> https_client::get(std::string_view target) const noexcept {
    const std::string where =
        "GET https://" + base_.host_header() + base_.path + std::string(target);
    try {
        auto x = std::make_unique<exchange>(*tls_);
        std::string prep_error;
        if (!prepare_tls_client(x->stream.native_handle(), base_.host, prep_error)) {
            return error{where + ": " + prep_error};
        }
        x->parser.body_limit(max_body_bytes_);
        x->req = {http::verb::get, base_.path + std::string(target), 11};
        x->req.set(http::field::host, base_.host_header());
        x->req.set(http::field::user_agent, "tradingd");
        x->req.set(http::field::accept, "application/json");
        x->req.set(http::field::connection, "close");

        auto fail = [&x](const char* step, const boost::system::error_code& ec) {
            x->failure = std::string(step) + ": " + ec.message();
        };
        // Resolve with a deadline too: a stuck resolver must not hold the caller for long.
        asio::steady_timer resolve_timer(x->ioc, timeout_);
        resolve_timer.async_wait([&x](const boost::system::error_code& ec) {
            if (!ec) x->resolver.cancel();
        });
        x->resolver.async_resolve(
            base_.host, std::to_string(base_.port),
            [&, this](const boost::system::error_code& ec,
                      const tcp::resolver::results_type& results) {
                resolve_timer.cancel();
                if (ec) return fail("resolve", ec);
                beast::get_lowest_layer(x->stream).expires_after(timeout_);
                beast::get_lowest_layer(x->stream).async_connect(
                    results, [&](const boost::system::error_code& ec2, const tcp::endpoint&) {
                        if (ec2) return fail("connect", ec2);
                        x->stream.async_handshake(
                            asio::ssl::stream_base::client,
                            [&](const boost::system::error_code& ec3) {
                                if (ec3) {
                                    x->failure =
                                        "TLS handshake: " +
                                        describe_tls_failure(x->stream.native_handle(), ec3);
                                    return;
                                }
                                http::async_write(
                                    x->stream, x->req,
                                    [&](const boost::system::error_code& ec4, std::size_t) {
                                        if (ec4) return fail("write", ec4);
                                        http::async_read(
                                            x->stream, x->buffer, x->parser,
                                            [&](const boost::system::error_code& ec5, std::size_t) {
                                                if (ec5) return fail("read", ec5);
                                                x->done = true;
                                            });
                                    });
                            });
                    });
            });
        x->ioc.run();
        if (!x->done) {
            return error{where + " failed: " + (x->failure.empty() ? "no response" : x->failure)};
        }
        auto& res = x->parser.get();
        http_response out;
        out.status = static_cast<int>(res.result_int());
        out.body = std::move(res.body());
        if (const auto it = res.find(http::field::retry_after); it != res.end()) {
            out.retry_after_s = parse_retry_after(it->value());
        }
        // Best effort: the server closes after the response (Connection: close).
        boost::system::error_code ignored;
        beast::get_lowest_layer(x->stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
        return out;
    } catch (const std::exception& e) {
        return error{where + " failed: " + e.what()};
    }
}

}  // namespace tradingd::net
