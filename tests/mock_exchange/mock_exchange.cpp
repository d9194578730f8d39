// mock_exchange: the server (acceptor, market producer timer, threads) and the scripting API.
#include "mock_exchange.hpp"

#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <stdexcept>
#include <thread>

#include "exchange_core.hpp"

namespace tradingd::testing {

namespace detail {

exchange_core::exchange_core(mock_options opts)
    : options(std::move(opts)),
      certificates(
          test_certificates::generate(options.certificate_hosts, options.certificate_days)) {
    if (options.updates_per_candle < 0 || options.quotes_per_update < 0 ||
        options.history_candles < 0 || options.candle_period.count() <= 0) {
        throw std::invalid_argument("mock_exchange: negative counts or non-positive period");
    }
    using namespace std::chrono;
    const timestamp_ms origin = options.start_time.value_or(
        duration_cast<milliseconds>((system_clock::now() - hours(48)).time_since_epoch()).count());
    split_mix seeds(options.seed);
    for (const auto& spec : options.symbols) {
        const std::int64_t interval = interval_ms(spec.interval.c_str());
        if (interval <= 0)
            throw std::invalid_argument("mock_exchange: bad interval " + spec.interval);
        symbols.emplace_back(spec, interval, seeds.next(), origin - origin % interval,
                             options.history_candles, options.updates_per_candle + 1);
    }
}

}  // namespace detail

using namespace detail;

struct mock_exchange::impl {
    explicit impl(mock_options options) : core(std::move(options)) {}

    void configure_tls();
    void listen();
    void do_accept();
    void on_accept(error_code ec, tcp::socket socket);
    void schedule_tick();
    void on_tick(error_code ec);
    /// One producer step under the lock: the messages every subscribed client gets.
    std::vector<market_message> produce_step();
    void broadcast(std::vector<market_message> messages);
    void send_all(const outgoing& frame);

    exchange_core core;
    net::ssl::context tls{net::ssl::context::tls_server};
    net::io_context ioc;  // after core and tls: its handlers (and sessions) die first
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    net::strand<net::io_context::executor_type> server_strand{net::make_strand(ioc)};
    tcp::acceptor acceptor{server_strand};
    net::steady_timer ticker{server_strand};
    std::chrono::steady_clock::time_point next_tick;
    std::int32_t step = 0;  ///< walk step within the forming candle (server strand)
    bool skipping = false;  ///< the forming candle is not sent on WebSocket (server strand)
    std::vector<std::thread> threads;
    std::mutex run_mu;
    std::condition_variable run_cv;
    int running_threads = 0;
    bool started = false;  ///< guarded by core.mu
    std::uint16_t port = 0;
};

void mock_exchange::impl::configure_tls() {
    tls.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                    net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                    net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    tls.use_certificate_chain(net::buffer(core.certificates.server_cert_pem));
    tls.use_private_key(net::buffer(core.certificates.server_key_pem), net::ssl::context::pem);
}

void mock_exchange::impl::listen() {
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), core.options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
}

void mock_exchange::impl::do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
        on_accept(ec, std::move(socket));
    });
}

void mock_exchange::impl::on_accept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;  // stopping
    if (!ec) {
        bool refuse = false;
        {
            const std::lock_guard lock(core.mu);
            if (core.refuse_pending > 0) {
                --core.refuse_pending;
                ++core.stats.tcp_connections_refused;
                refuse = true;
            }
        }
        if (refuse) {
            // Closed before any TLS byte: the client's handshake sees end-of-stream.
            error_code ignored;
            socket.close(ignored);
        } else {
            auto conn = std::make_shared<http_connection>(core, std::move(socket), tls);
            if (core.add_connection(conn)) conn->run();
        }
    }
    // A failed accept (e.g. out of descriptors) only loses that one attempt.
    do_accept();
}

void mock_exchange::impl::schedule_tick() {
    const auto per_step = core.options.candle_period / (core.options.updates_per_candle + 1);
    next_tick +=
        std::max<std::chrono::steady_clock::duration>(per_step, std::chrono::microseconds(100));
    ticker.expires_at(next_tick);
    ticker.async_wait([this](error_code ec) { on_tick(ec); });
}

void mock_exchange::impl::on_tick(error_code ec) {
    if (ec) return;  // cancelled by stop()
    if (!core.paused.load()) {
        auto messages = produce_step();
        if (!core.stalled.load() && !messages.empty()) broadcast(std::move(messages));
    }
    schedule_tick();
}

std::vector<market_message> mock_exchange::impl::produce_step() {
    std::vector<market_message> out;
    const std::int32_t updates = core.options.updates_per_candle;
    const std::lock_guard lock(core.mu);
    if (step == 0) {
        skipping = core.skip_pending > 0;
        if (skipping) --core.skip_pending;
    }
    if (step < updates) {
        for (auto& sym : core.symbols) {
            sym.advance();
            const auto& row = sym.forming();
            const timestamp_ms event_time =
                row.open_time + (step + 1) * (sym.interval() / (updates + 1));
            if (!skipping) {
                out.push_back({sym.kline_stream(), kline_payload(sym, row, false, event_time)});
            }
            for (std::int32_t q = 0; q < core.options.quotes_per_update; ++q) {
                out.push_back({sym.book_stream(), book_ticker_payload(sym, sym.next_quote())});
            }
        }
        ++step;
        return out;
    }
    // The closing step: a skipped candle consumes none of the close scripts.
    int copies = 1;
    bool stale = false;
    if (skipping) {
        copies = 0;
    } else {
        copies = core.omit_next ? 0 : core.duplicate_next ? 2 : 1;
        stale = core.stale_next;
        core.omit_next = core.duplicate_next = core.stale_next = false;
    }
    for (auto& sym : core.symbols) {
        sym.advance();
        const kline_row row = sym.close_forming();
        for (int c = 0; c < copies; ++c) {
            out.push_back({sym.kline_stream(), kline_payload(sym, row, true, row.close_time + 1)});
        }
        const auto& closed = sym.closed();
        if (stale && closed.size() >= 2) {
            const kline_row& older = closed[closed.size() - 2];
            out.push_back(
                {sym.kline_stream(), kline_payload(sym, older, true, row.close_time + 1)});
        }
    }
    step = 0;
    return out;
}

void mock_exchange::impl::broadcast(std::vector<market_message> messages) {
    const auto batch = std::make_shared<const std::vector<market_message>>(std::move(messages));
    for (const auto& session : core.live_sessions())
        session->deliver(batch);
}

void mock_exchange::impl::send_all(const outgoing& frame) {
    for (const auto& session : core.live_sessions())
        session->send(frame);
}

// --- mock_exchange --------------------------------------------------------------------------

mock_exchange::mock_exchange(mock_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

mock_exchange::~mock_exchange() {
    stop();
}

void mock_exchange::start() {
    {
        const std::lock_guard lock(impl_->core.mu);
        if (impl_->started) throw std::logic_error("mock_exchange: start() called twice");
        impl_->started = true;
    }
    impl_->configure_tls();
    impl_->listen();
    impl_->work.emplace(impl_->ioc.get_executor());
    net::dispatch(impl_->server_strand, [this] {
        impl_->do_accept();
        impl_->next_tick = std::chrono::steady_clock::now();
        impl_->schedule_tick();
    });
    impl_->running_threads = 2;
    for (int i = 0; i < 2; ++i) {
        impl_->threads.emplace_back([this] {
            impl_->ioc.run();
            const std::lock_guard lock(impl_->run_mu);
            --impl_->running_threads;
            impl_->run_cv.notify_all();
        });
    }
}

void mock_exchange::stop() {
    std::vector<std::weak_ptr<connection>> connections;
    {
        const std::lock_guard lock(impl_->core.mu);
        if (!impl_->started || impl_->core.stopping) return;
        impl_->core.stopping = true;
        connections = impl_->core.connections;
    }
    net::post(impl_->server_strand, [this] {
        error_code ignored;  // closing a listening socket cannot fail in a way we could handle
        impl_->acceptor.close(ignored);
        impl_->ticker.cancel();
    });
    for (const auto& weak : connections) {
        if (auto c = weak.lock()) c->reset(false);
    }
    impl_->work.reset();
    {
        // Every operation ends once its socket is closed; the deadline guards against a
        // handler that still holds work, so the destructor can never hang.
        std::unique_lock lock(impl_->run_mu);
        if (!impl_->run_cv.wait_for(lock, std::chrono::seconds(5),
                                    [&] { return impl_->running_threads == 0; })) {
            impl_->ioc.stop();
        }
    }
    for (auto& t : impl_->threads)
        t.join();
    impl_->threads.clear();
}

std::uint16_t mock_exchange::port() const noexcept {
    return impl_->port;
}

const test_certificates& mock_exchange::certificates() const noexcept {
    return impl_->core.certificates;
}

mock_stats mock_exchange::stats() const {
    const std::lock_guard lock(impl_->core.mu);
    return impl_->core.stats;
}

std::vector<candle> mock_exchange::closed_candles(const std::string& symbol) const {
    std::vector<candle> out;
    const std::lock_guard lock(impl_->core.mu);
    for (const auto& sym : impl_->core.symbols) {
        if (sym.symbol() != symbol) continue;
        out.reserve(sym.closed().size());
        for (const auto& row : sym.closed())
            out.push_back(row.to_candle());
    }
    return out;
}

std::uint64_t mock_exchange::candles_closed_total() const {
    std::uint64_t total = 0;
    const std::lock_guard lock(impl_->core.mu);
    for (const auto& sym : impl_->core.symbols)
        total += sym.closed().size();
    return total;
}

void mock_exchange::stall_data(bool on) {
    impl_->core.stalled.store(on);
}
void mock_exchange::answer_pings(bool on) {
    impl_->core.reads_enabled.store(on);
}
void mock_exchange::pause_production(bool on) {
    impl_->core.paused.store(on);
}

void mock_exchange::skip_candles(int n) {
    const std::lock_guard lock(impl_->core.mu);
    impl_->core.skip_pending += std::max(n, 0);
}

void mock_exchange::duplicate_next_close() {
    const std::lock_guard lock(impl_->core.mu);
    impl_->core.duplicate_next = true;
}

void mock_exchange::omit_next_close() {
    const std::lock_guard lock(impl_->core.mu);
    impl_->core.omit_next = true;
}

void mock_exchange::send_stale_candle() {
    const std::lock_guard lock(impl_->core.mu);
    impl_->core.stale_next = true;
}

void mock_exchange::send_text(const std::string& text) {
    impl_->send_all({outgoing::kind::text, text});
}

void mock_exchange::send_binary(const std::string& bytes) {
    impl_->send_all({outgoing::kind::binary, bytes});
}

void mock_exchange::send_oversized(std::size_t bytes) {
    // Valid JSON when there is room for it, so a client must reject it by size, not by parsing.
    static constexpr std::string_view head = R"({"e":"oversized","pad":")";
    static constexpr std::string_view tail = R"("})";
    std::string text;
    if (bytes >= head.size() + tail.size()) {
        text.reserve(bytes);
        text += head;
        text.append(bytes - head.size() - tail.size(), 'x');
        text += tail;
    } else {
        text.assign(bytes, 'x');
    }
    impl_->send_all({outgoing::kind::text, std::move(text)});
}

void mock_exchange::send_server_shutdown(bool combined_shape) {
    using namespace std::chrono;
    const auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const std::string event = R"({"e":"serverShutdown","E":)" + std::to_string(now) + "}";
    impl_->send_all(
        {outgoing::kind::text, combined_shape ? combined("!serverShutdown", event) : event});
}

void mock_exchange::send_ping(const std::string& payload) {
    impl_->send_all({outgoing::kind::ping, payload});
}

std::vector<std::string> mock_exchange::pong_payloads() const {
    const std::lock_guard lock(impl_->core.mu);
    return impl_->core.pongs;
}

void mock_exchange::close_abruptly() {
    for (const auto& session : impl_->core.live_sessions())
        session->reset(true);
}

void mock_exchange::close_with_code(int code) {
    outgoing frame{outgoing::kind::close, {}, code};
    impl_->send_all(frame);
}

void mock_exchange::refuse_connections(int n) {
    const std::lock_guard lock(impl_->core.mu);
    impl_->core.refuse_pending += std::max(n, 0);
}

void mock_exchange::fail_rest(int n, int status, std::string body,
                              std::optional<int> retry_after_s) {
    const std::lock_guard lock(impl_->core.mu);
    impl_->core.rest_fail = rest_failure{std::max(n, 0), status, std::move(body), retry_after_s};
}

}  // namespace tradingd::testing
