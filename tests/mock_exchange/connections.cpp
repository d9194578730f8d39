// The mock's connections: TLS accept, REST, WebSocket upgrade and the per-session write queue.
#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <charconv>
#include <chrono>

#include "exchange_core.hpp"

namespace tradingd::testing::detail {

namespace {

// Closing a socket the peer may already have dropped can fail; there is nothing left to do
// then, so the error is deliberately not reported.
void close_socket(tcp::socket& socket, bool abortive) {
    if (!socket.is_open()) return;
    error_code ignored;
    if (abortive) socket.set_option(tcp::socket::linger(true, 0), ignored);
    socket.close(ignored);
}

std::string percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            unsigned value = 0;
            const auto* first = in.data() + i + 1;
            if (std::from_chars(first, first + 2, value, 16).ptr == first + 2) {
                out += static_cast<char>(value);
                i += 2;
                continue;
            }
        }
        out += in[i] == '+' ? ' ' : in[i];
    }
    return out;
}

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> parts;
    std::size_t begin = 0;
    while (begin <= text.size()) {
        const std::size_t end = std::min(text.find(sep, begin), text.size());
        if (end > begin) parts.emplace_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    return parts;
}

struct query_param {
    std::string key;
    std::string value;
};

std::vector<query_param> parse_query(std::string_view query) {
    std::vector<query_param> params;
    for (const auto& pair : split(query, '&')) {
        const std::size_t eq = pair.find('=');
        if (eq == std::string::npos) {
            params.push_back({percent_decode(pair), ""});
        } else {
            params.push_back({percent_decode(std::string_view(pair).substr(0, eq)),
                              percent_decode(std::string_view(pair).substr(eq + 1))});
        }
    }
    return params;
}

const std::string* find_param(const std::vector<query_param>& params, std::string_view key) {
    for (const auto& p : params) {
        if (p.key == key) return &p.value;
    }
    return nullptr;
}

using response = http::response<http::string_body>;

response json_response(const http::request<http::string_body>& req, http::status status,
                       std::string body) {
    response res{status, req.version()};
    res.set(http::field::server, "tradingd-mock");
    res.set(http::field::content_type, "application/json;charset=UTF-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response api_error(const http::request<http::string_body>& req, int code, const std::string& msg,
                   http::status status = http::status::bad_request) {
    return json_response(req, status,
                         R"({"code":)" + std::to_string(code) + R"(,"msg":")" + msg + R"("})");
}

/// Parses an optional integer parameter; false (and an error response) when malformed.
bool integer_param(const std::vector<query_param>& params, const char* key,
                   std::optional<std::int64_t>& out) {
    const std::string* text = find_param(params, key);
    if (text == nullptr) return true;
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size() || text->empty()) return false;
    out = value;
    return true;
}

/// Binance's /api/v3/klines over the symbol's closed candles plus the forming one.
std::string klines_body(const synthetic_symbol& sym, std::optional<std::int64_t> start,
                        std::optional<std::int64_t> end, std::size_t limit) {
    const auto& closed = sym.closed();
    const std::size_t total = closed.size() + 1;
    const auto row = [&](std::size_t i) -> const kline_row& {
        return i < closed.size() ? closed[i] : sym.forming();
    };
    // First index whose open time is >= t (rows are in open-time order).
    const auto first_at_or_after = [&](std::int64_t t) {
        std::size_t lo = 0, hi = total;
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo) / 2;
            if (row(mid).open_time < t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    };
    std::size_t lo = start ? first_at_or_after(*start) : 0;
    std::size_t hi = end ? first_at_or_after(*end + 1) : total;
    if (hi < lo) hi = lo;
    if (start) {
        hi = std::min(hi, lo + limit);  // with startTime: the oldest from that point on
    } else if (hi - lo > limit) {
        lo = hi - limit;  // otherwise: the most recent ones
    }
    std::string body = "[";
    for (std::size_t i = lo; i < hi; ++i) {
        if (i > lo) body += ',';
        append_rest_row(body, row(i));
    }
    body += ']';
    return body;
}

std::int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

response klines(exchange_core& core, const http::request<http::string_body>& req,
                const std::vector<query_param>& params) {
    const std::string* symbol = find_param(params, "symbol");
    const std::string* interval = find_param(params, "interval");
    if (symbol == nullptr || symbol->empty()) {
        return api_error(req, -1102,
                         "Mandatory parameter 'symbol' was not sent, was empty/null, or "
                         "malformed.");
    }
    if (interval == nullptr || interval->empty()) {
        return api_error(req, -1102,
                         "Mandatory parameter 'interval' was not sent, was empty/null, or "
                         "malformed.");
    }
    std::optional<std::int64_t> start, end, limit;
    for (const auto& [key, slot] :
         {std::pair{"startTime", &start}, std::pair{"endTime", &end}, std::pair{"limit", &limit}}) {
        if (!integer_param(params, key, *slot)) {
            return api_error(req, -1100,
                             std::string("Illegal characters found in parameter '") + key +
                                 "'; legal range is '^[0-9]{1,20}$'.");
        }
    }
    if (limit && *limit < 1) {
        return api_error(req, -1100,
                         "Illegal characters found in parameter 'limit'; legal range is '1'.");
    }
    // Binance caps limit at 1000.
    const auto count = static_cast<std::size_t>(std::min<std::int64_t>(limit.value_or(500), 1000));

    const std::lock_guard lock(core.mu);
    const auto it = std::find_if(core.symbols.begin(), core.symbols.end(),
                                 [&](const synthetic_symbol& s) { return s.symbol() == *symbol; });
    if (it == core.symbols.end()) return api_error(req, -1121, "Invalid symbol.");
    if (it->interval_name() != *interval) return api_error(req, -1120, "Invalid interval.");
    return json_response(req, http::status::ok, klines_body(*it, start, end, count));
}

}  // namespace

// --- exchange_core ------------------------------------------------------------------------

std::vector<std::shared_ptr<ws_session>> exchange_core::live_sessions() {
    std::vector<std::shared_ptr<ws_session>> out;
    const std::lock_guard lock(mu);
    for (const auto& weak : sessions) {
        if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
}

bool exchange_core::add_connection(const std::shared_ptr<connection>& c) {
    const std::lock_guard lock(mu);
    if (stopping) return false;
    std::erase_if(connections, [](const auto& w) { return w.expired(); });
    connections.push_back(c);
    return true;
}

response handle_rest(exchange_core& core, const http::request<http::string_body>& req) {
    const std::string target(req.target());
    const std::size_t q = target.find('?');
    const std::string path = target.substr(0, q);
    const auto params = parse_query(
        q == std::string::npos ? std::string_view{} : std::string_view(target).substr(q + 1));
    {
        const std::lock_guard lock(core.mu);
        ++core.stats.rest_requests;
        if (core.rest_fail.remaining > 0) {
            --core.rest_fail.remaining;
            auto res = json_response(req, static_cast<http::status>(core.rest_fail.status),
                                     core.rest_fail.body);
            if (core.rest_fail.retry_after_s) {
                res.set(http::field::retry_after, std::to_string(*core.rest_fail.retry_after_s));
            }
            return res;
        }
    }
    if (req.method() != http::verb::get) {
        return api_error(req, -1000, "Method not allowed.", http::status::method_not_allowed);
    }
    if (path == "/api/v3/ping") return json_response(req, http::status::ok, "{}");
    if (path == "/api/v3/time") {
        // The exchange's clock is the virtual one: just after the forming candle opened, so
        // a client judging "closed" by server time sees exactly the closed candles.
        std::int64_t now = wall_ms();
        {
            const std::lock_guard lock(core.mu);
            if (!core.symbols.empty()) now = core.symbols.front().forming().open_time + 1;
        }
        return json_response(req, http::status::ok,
                             R"({"serverTime":)" + std::to_string(now) + "}");
    }
    if (path == "/api/v3/klines") return klines(core, req, params);
    return api_error(req, -1000, "Unknown endpoint.", http::status::not_found);
}

std::optional<stream_target> parse_stream_target(const std::string& target) {
    stream_target out;
    const std::size_t q = target.find('?');
    const std::string path = target.substr(0, q);
    if (path == "/stream") {
        if (q == std::string::npos) return std::nullopt;
        const auto params = parse_query(std::string_view(target).substr(q + 1));
        const std::string* streams = find_param(params, "streams");
        if (streams == nullptr) return std::nullopt;
        out.streams = split(*streams, '/');
        out.combined = true;
    } else if (path.rfind("/ws/", 0) == 0) {
        out.streams = split(percent_decode(std::string_view(path).substr(4)), '/');
    } else {
        return std::nullopt;
    }
    if (out.streams.empty()) return std::nullopt;
    return out;
}

// --- ws_session -----------------------------------------------------------------------------

ws_session::ws_session(exchange_core& core, tls_stream&& stream, stream_target target)
    : core_(core), ws_(core.reads_enabled, std::move(stream)), target_(std::move(target)) {}

ws_session::~ws_session() {
    if (!accepted_) return;
    const std::lock_guard lock(core_.mu);
    --core_.stats.open_ws_sessions;
}

void ws_session::run(http::request<http::string_body> req) {
    // send_oversized promises one frame, so frames are never split.
    ws_.auto_fragment(false);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "tradingd-mock"); }));
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
        const std::lock_guard lock(core_.mu);
        if (kind == websocket::frame_type::ping) {
            ++core_.stats.pings_received;
        } else if (kind == websocket::frame_type::pong) {
            ++core_.stats.pongs_received;
            core_.pongs.emplace_back(payload);
        }
    });
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, self()));
}

void ws_session::on_accept(error_code ec) {
    if (ec) return;  // the client gave up during the upgrade; nothing was registered yet
    bool stopping = false;
    {
        const std::lock_guard lock(core_.mu);
        accepted_ = true;
        ++core_.stats.ws_connections_accepted;
        ++core_.stats.open_ws_sessions;
        stopping = core_.stopping;
        if (!stopping) {
            std::erase_if(core_.sessions, [](const auto& w) { return w.expired(); });
            core_.sessions.push_back(self());
        }
    }
    if (stopping || !core_.add_connection(shared_from_this())) {
        close_socket(beast::get_lowest_layer(ws_).socket(), false);
        return;
    }
    do_read();
}

void ws_session::do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, self()));
}

void ws_session::on_read(error_code ec, std::size_t /*bytes*/) {
    // Any read error ends the session (closed, reset, stopped); the client sees the cause.
    if (ec) return;
    if (ws_.got_text()) {
        const std::lock_guard lock(core_.mu);
        ++core_.stats.text_frames_received;
    }
    buffer_.consume(buffer_.size());
    do_read();
}

bool ws_session::subscribed(const std::string& stream) const {
    return std::find(target_.streams.begin(), target_.streams.end(), stream) !=
           target_.streams.end();
}

void ws_session::deliver(const market_batch& batch) {
    net::post(ws_.get_executor(), [self = self(), batch] {
        for (const auto& m : *batch) {
            if (!self->subscribed(m.stream)) continue;
            self->enqueue({outgoing::kind::text,
                           self->target_.combined ? combined(m.stream, m.payload) : m.payload});
        }
    });
}

void ws_session::send(outgoing frame) {
    net::post(ws_.get_executor(), [self = self(), frame = std::move(frame)]() mutable {
        self->enqueue(std::move(frame));
    });
}

void ws_session::reset(bool abortive) {
    net::post(ws_.get_executor(), [self = self(), abortive] {
        close_socket(beast::get_lowest_layer(self->ws_).socket(), abortive);
    });
}

void ws_session::enqueue(outgoing frame) {
    if (close_queued_ || !beast::get_lowest_layer(ws_).socket().is_open()) return;
    if (frame.what == outgoing::kind::close) close_queued_ = true;
    queue_.push_back(std::move(frame));
    pump();
}

void ws_session::pump() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    outgoing& frame = queue_.front();
    auto done = [self = self()](error_code ec, std::size_t = 0) { self->on_write(ec); };
    switch (frame.what) {
        case outgoing::kind::text:
        case outgoing::kind::binary:
            ws_.text(frame.what == outgoing::kind::text);
            ws_.async_write(net::buffer(frame.payload), std::move(done));
            break;
        case outgoing::kind::ping:
            ws_.async_ping(websocket::ping_data(frame.payload.data(),
                                                std::min<std::size_t>(frame.payload.size(), 125)),
                           std::move(done));
            break;
        case outgoing::kind::close:
            ws_.async_close(websocket::close_reason(static_cast<std::uint16_t>(frame.close_code)),
                            std::move(done));
            break;
    }
}

void ws_session::on_write(error_code ec) {
    writing_ = false;
    queue_.pop_front();
    if (ec) {
        // The connection is gone (reset, closed by either side): drop what was still queued.
        queue_.clear();
        close_queued_ = true;
        return;
    }
    pump();
}

// --- http_connection ------------------------------------------------------------------------

http_connection::http_connection(exchange_core& core, tcp::socket&& socket, net::ssl::context& tls)
    : core_(core), strand_(socket.get_executor()), stream_(std::move(socket), tls) {}

void http_connection::run() {
    net::dispatch(strand_, [self = self()] {
        beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(10));
        self->stream_.async_handshake(
            net::ssl::stream_base::server,
            beast::bind_front_handler(&http_connection::on_handshake, self));
    });
}

void http_connection::reset(bool abortive) {
    net::post(strand_, [self = self(), abortive] {
        if (!self->upgraded_)
            close_socket(beast::get_lowest_layer(self->stream_).socket(), abortive);
    });
}

void http_connection::on_handshake(error_code ec) {
    if (ec) return;  // the client rejected us (e.g. certificate check) or went away
    do_read();
}

void http_connection::do_read() {
    req_ = {};
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_,
                     beast::bind_front_handler(&http_connection::on_read, self()));
}

void http_connection::on_read(error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream) return do_shutdown();
    if (ec) return;  // timeout, reset or garbage: the connection is dropped
    if (websocket::is_upgrade(req_)) return upgrade();
    write(handle_rest(core_, req_));
}

void http_connection::upgrade() {
    auto target = parse_stream_target(std::string(req_.target()));
    if (!target) {
        return write(api_error(req_, -1000, "Unknown stream path.", http::status::not_found));
    }
    beast::get_lowest_layer(stream_).expires_never();
    upgraded_ = true;
    auto session = std::make_shared<ws_session>(core_, std::move(stream_), std::move(*target));
    session->run(std::move(req_));
}

void http_connection::write(http::response<http::string_body> res) {
    res_ = std::make_shared<http::response<http::string_body>>(std::move(res));
    const bool keep_alive = res_->keep_alive();
    http::async_write(stream_, *res_, [self = self(), keep_alive](error_code ec, std::size_t) {
        self->on_write(keep_alive, ec);
    });
}

void http_connection::on_write(bool keep_alive, error_code ec) {
    res_.reset();
    if (ec) return;
    if (keep_alive) return do_read();
    do_shutdown();
}

void http_connection::do_shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = self()](error_code) {
        // The peer may skip its close_notify; the socket is closed either way.
        close_socket(beast::get_lowest_layer(self->stream_).socket(), false);
    });
}

}  // namespace tradingd::testing::detail
