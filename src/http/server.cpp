#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <tradingd/http/server.hpp>

#include "server_state.hpp"
#include "session.hpp"

namespace tradingd::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::milliseconds accept_retry_delay{100};

asio::ip::address parse_address(const server_options& o) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(o.address, ec);
    if (ec) throw std::invalid_argument("http: invalid listen address '" + o.address + "'");
    if (!address.is_loopback() && !o.allow_non_loopback) {
        throw std::invalid_argument("http: listen address " + o.address +
                                    " is not loopback; set allow_non_loopback to serve on it");
    }
    return address;
}

void validate(const server_options& o, const handler& h) {
    if (!h) throw std::invalid_argument("http: no handler");
    if (o.max_connections == 0) throw std::invalid_argument("http: max_connections must be > 0");
    if (o.max_header_bytes == 0) throw std::invalid_argument("http: max_header_bytes must be > 0");
    if (o.max_body_bytes == 0) throw std::invalid_argument("http: max_body_bytes must be > 0");
    if (o.request_timeout.count() <= 0)
        throw std::invalid_argument("http: request_timeout must be > 0");
    if (o.idle_timeout.count() <= 0) throw std::invalid_argument("http: idle_timeout must be > 0");
}

}  // namespace

// The server's state (shared with sessions) plus the listener and the I/O thread. Members below
// the base class are destroyed before its io_context, as Asio requires for I/O objects.
struct server::impl : detail::server_state {
    impl(server_options o, handler h, std::shared_ptr<spdlog::logger> l, asio::ip::address a)
        : server_state(std::move(o), std::move(h), std::move(l)), address(std::move(a)) {}

    void listen();
    void do_accept();
    void on_accept(boost::system::error_code ec, tcp::socket socket);
    void close_all();
    void run_loop();

    const asio::ip::address address;
    std::atomic<std::uint16_t> bound_port{0};
    std::mutex lifecycle;  ///< serialises start() and stop()
    bool started = false;
    bool overloaded = false;  ///< I/O thread only: the last connection was rejected
    tcp::acceptor acceptor{ioc};
    asio::steady_timer accept_retry{ioc};
    std::thread thread;
};

void server::impl::listen() {
    const tcp::endpoint ep(address, options.port);
    boost::system::error_code ec;
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        throw std::runtime_error("http: cannot listen on " +
                                 detail::format_endpoint(address, options.port) + ": " +
                                 ec.message());
    }
    bound_port.store(acceptor.local_endpoint().port());
}

void server::impl::do_accept() {
    acceptor.async_accept(ioc, [this](boost::system::error_code ec, tcp::socket socket) {
        on_accept(ec, std::move(socket));
    });
}

void server::impl::on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (stopping.load()) return;
    if (ec) {
        // EMFILE and friends: pause instead of spinning; the backlog holds clients meanwhile.
        logger->warn("http: accept failed: {}; retrying in {} ms", ec.message(),
                     accept_retry_delay.count());
        accept_retry.expires_after(accept_retry_delay);
        accept_retry.async_wait([this](boost::system::error_code wait_ec) {
            if (wait_ec || stopping.load()) return;
            do_accept();
        });
        return;
    }
    auto m = detail::session::mode::serve;
    if (open.load() >= options.max_connections) {
        m = detail::session::mode::reject;
        rejected.fetch_add(1, std::memory_order_relaxed);
        // Warn once per overload episode: a flood must not turn into a log flood.
        if (!overloaded) {
            logger->warn("http: {} connections open (max {}); rejecting new connections with 503",
                         open.load(), options.max_connections);
        }
        overloaded = true;
    } else if (overloaded) {
        overloaded = false;
        logger->info("http: accepting connections again ({} rejected so far)", rejected.load());
    }
    std::make_shared<detail::session>(*this, std::move(socket), m)->run();
    do_accept();
}

void server::impl::close_all() {
    boost::system::error_code ec;
    acceptor.close(ec);
    accept_retry.cancel();
    // Copy first: closing can release sessions, which erase themselves from the map.
    std::vector<std::shared_ptr<detail::session>> live;
    live.reserve(sessions.size());
    for (auto& [ptr, weak] : sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live)
        s->close();
}

void server::impl::run_loop() {
    // Handlers do not throw by design; should one (bad_alloc), log it and keep serving rather
    // than terminate the daemon from a helper thread.
    for (;;) {
        try {
            ioc.run();
            return;
        } catch (const std::exception& e) {
            logger->error("http: I/O loop error: {}", e.what());
        }
    }
}

server::server(server_options options, handler h, std::shared_ptr<spdlog::logger> logger) {
    validate(options, h);
    const auto address = parse_address(options);
    if (!logger) logger = spdlog::default_logger();
    impl_ = std::make_unique<impl>(std::move(options), std::move(h), std::move(logger), address);
}

server::~server() {
    stop();
}

void server::start() {
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->started) throw std::logic_error("http: server already started");
    impl_->listen();
    impl_->started = true;
    impl_->do_accept();
    impl_->thread = std::thread([this] { impl_->run_loop(); });
    impl_->logger->info("http: listening on {}", endpoint());
}

void server::stop() {
    std::lock_guard lock(impl_->lifecycle);
    if (!impl_->thread.joinable()) return;
    impl_->stopping.store(true);
    asio::post(impl_->ioc, [i = impl_.get()] {
        i->close_all();
        // Stop at once rather than wait for the aborted operations: they run below.
        i->ioc.stop();
    });
    impl_->thread.join();
    // Run the completions of the operations close_all() aborted, releasing every session now.
    impl_->ioc.restart();
    impl_->ioc.poll();
    impl_->logger->info("http: stopped listening on {}", endpoint());
}

std::uint16_t server::port() const noexcept {
    return impl_->bound_port.load();
}

std::string server::endpoint() const {
    return detail::format_endpoint(impl_->address, port());
}

std::uint64_t server::requests() const noexcept {
    return impl_->requests.load();
}

std::uint64_t server::rejected_connections() const noexcept {
    return impl_->rejected.load();
}

std::size_t server::open_connections() const noexcept {
    return impl_->open.load();
}

}  // namespace tradingd::http
