#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <tradingd/http/server.hpp>

#include "raw_client.hpp"

using namespace std::chrono_literals;
using tradingd::http::request;
using tradingd::http::response;
using tradingd::http::server;
using tradingd::http::server_options;
using tradingd::http::test::get_once;
using tradingd::http::test::raw_client;

namespace {

std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("http-test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Records the last request and answers "ok", or echoes the body for /echo, or throws for
// /throw and /throw-int.
struct recording_handler {
    std::mutex mu;
    request last;

    response operator()(const request& r) {
        {
            std::lock_guard lock(mu);
            last = r;
        }
        if (r.path == "/throw") throw std::runtime_error("boom");
        if (r.path == "/throw-int") throw 42;
        if (r.path == "/echo") return response{200, "text/plain", r.method + ":" + r.body, {}};
        return response{200, "text/plain", "ok", {{"X-Test", "1"}}};
    }

    request snapshot() {
        std::lock_guard lock(mu);
        return last;
    }
};

struct fixture {
    explicit fixture(server_options o = {})
        : srv(
              std::move(o), [this](const request& r) { return rec(r); }, quiet_logger()) {
        srv.start();
    }
    recording_handler rec;
    server srv;
};

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return cond();
}

}  // namespace

TEST_CASE("http: json_error escapes quotes, backslashes and control characters") {
    const auto r = tradingd::http::json_error(418, "a\"b\\c\nd\x01");
    CHECK(r.status == 418);
    CHECK(r.content_type == "application/json");
    CHECK(r.body == R"({"error":"a\"b\\c\nd\u0001"})");
}

TEST_CASE("http: GET is served by the handler with decoded path, query and authorization") {
    fixture f;
    CHECK(f.srv.port() != 0);
    CHECK(f.srv.endpoint() == "127.0.0.1:" + std::to_string(f.srv.port()));

    raw_client c(f.srv.port());
    REQUIRE(
        c.send("GET /flatten?symbol=BTC%55SDT&x=a+b&empty&symbol=second HTTP/1.1\r\nHost: t\r\n"
               "Authorization: Bearer s3cret\r\nConnection: close\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "ok");
    CHECK(r->header("content-type") == "text/plain");
    CHECK(r->header("server") == "tradingd");
    CHECK(r->header("x-test") == "1");
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());

    const auto req = f.rec.snapshot();
    CHECK(req.method == "GET");
    CHECK(req.target == "/flatten?symbol=BTC%55SDT&x=a+b&empty&symbol=second");
    CHECK(req.path == "/flatten");
    CHECK(req.param("symbol") == "BTCUSDT");
    CHECK(req.param("x") == "a b");
    CHECK(req.param("empty") == "");
    CHECK_FALSE(req.param("missing"));
    REQUIRE(req.query.size() == 4);
    CHECK(req.query[3] == std::pair<std::string, std::string>{"symbol", "second"});
    CHECK(req.authorization == "Bearer s3cret");
    CHECK(req.peer.rfind("127.0.0.1:", 0) == 0);
    CHECK(f.srv.requests() == 1);
}

TEST_CASE("http: POST body reaches the handler and the path is percent-decoded") {
    fixture f;
    raw_client c(f.srv.port());
    REQUIRE(c.send("POST /ec%68o HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "POST:hello world");
    CHECK(f.rec.snapshot().authorization == "");
}

TEST_CASE("http: Expect 100-continue gets an interim response before the body") {
    server_options o;
    o.max_body_bytes = 64;
    fixture f(o);
    raw_client c(f.srv.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("data"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "POST:data");

    // Over the limit: 413 at once, no 100.
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 65\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto refused = c.read_response();
    REQUIRE(refused);
    CHECK(refused->status == 413);
}

TEST_CASE("http: keep-alive connection answers several requests") {
    fixture f;
    raw_client c(f.srv.port());
    for (int i = 0; i < 3; ++i) {
        REQUIRE(c.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "GET:");
        CHECK(r->header("connection") != "close");
    }
    CHECK(f.srv.requests() == 3);
    CHECK(f.srv.open_connections() == 1);
}

TEST_CASE("http: garbage gets 400 with a JSON error and the connection is closed") {
    fixture f;
    {
        raw_client c(f.srv.port());
        REQUIRE(c.send(std::string("\x01\x02 not http\r\n\r\n")));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->header("content-type") == "application/json");
        CHECK(r->header("connection") == "close");
        CHECK(r->body.rfind("{\"error\":\"bad request: ", 0) == 0);
        CHECK(c.wait_closed());
    }
    const auto next = get_once(f.srv.port(), "/");
    REQUIRE(next);
    CHECK(next->status == 200);
}

TEST_CASE("http: oversized header gets 431 and oversized body gets 413") {
    server_options o;
    o.max_header_bytes = 1024;
    o.max_body_bytes = 16;
    fixture f(o);

    SUBCASE("header") {
        raw_client c(f.srv.port());
        REQUIRE(
            c.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 431);
        CHECK(r->body == R"j({"error":"request header fields too large (limit 1024 bytes)"})j");
        CHECK(c.wait_closed());
    }
    SUBCASE("declared body") {
        raw_client c(f.srv.port());
        REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(r->body == R"j({"error":"request body too large (limit 16 bytes)"})j");
        CHECK(c.wait_closed());
    }
    SUBCASE("chunked body") {
        raw_client c(f.srv.port());
        REQUIRE(
            c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "20\r\n" +
                   std::string(32, 'b') + "\r\n0\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(c.wait_closed());
    }
    SUBCASE("body at the limit is served") {
        raw_client c(f.srv.port());
        REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n\r\n" +
                       std::string(16, 'c')));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "POST:" + std::string(16, 'c'));
    }
}

TEST_CASE("http: invalid percent escapes in the target get 400") {
    fixture f;
    for (const char* target : {"/a%zz", "/a?x=%4", "/a?%g1=1", "/a%"}) {
        CAPTURE(target);
        const auto r = get_once(f.srv.port(), target);
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->body == R"({"error":"bad request: invalid percent-encoding in target"})");
    }
    const auto ok = get_once(f.srv.port(), "/a%41");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(f.rec.snapshot().path == "/aA");
}

TEST_CASE("http: slow, silent and idle clients are closed after their timeout") {
    server_options o;
    o.request_timeout = 300ms;
    o.idle_timeout = 400ms;
    fixture f(o);
    using clock = std::chrono::steady_clock;

    const auto start = clock::now();
    raw_client slow(f.srv.port());
    raw_client silent(f.srv.port());
    REQUIRE(slow.send("GET /slo"));

    // Others are served while the stalled ones hold their sockets.
    const auto served = get_once(f.srv.port(), "/");
    REQUIRE(served);
    CHECK(served->status == 200);

    CHECK(slow.wait_closed());
    CHECK(silent.wait_closed());
    const auto elapsed = clock::now() - start;
    CHECK(elapsed >= 200ms);
    CHECK(elapsed < 5s);

    // Keep-alive: after a response, the connection lives idle_timeout, not longer.
    raw_client idle(f.srv.port());
    REQUIRE(idle.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto r = idle.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    const auto idle_start = clock::now();
    CHECK(idle.wait_closed());
    const auto idle_elapsed = clock::now() - idle_start;
    CHECK(idle_elapsed >= 300ms);
    CHECK(idle_elapsed < 5s);
    CHECK(wait_for([&] { return f.srv.open_connections() == 0; }));
}

TEST_CASE("http: connections over max_connections get 503 and are closed") {
    server_options o;
    o.max_connections = 2;
    fixture f(o);
    {
        raw_client idle1(f.srv.port());
        raw_client idle2(f.srv.port());
        REQUIRE(wait_for([&] { return f.srv.open_connections() == 2; }));

        raw_client third(f.srv.port());
        REQUIRE(third.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
        const auto r = third.read_response();
        REQUIRE(r);
        CHECK(r->status == 503);
        CHECK(r->body == R"({"error":"too many connections"})");
        CHECK(r->header("connection") == "close");
        CHECK(third.wait_closed());
        CHECK(f.srv.rejected_connections() == 1);
        CHECK(f.srv.requests() == 0);
    }
    REQUIRE(wait_for([&] { return f.srv.open_connections() == 0; }));
    const auto r = get_once(f.srv.port(), "/");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(f.srv.rejected_connections() == 1);
}

TEST_CASE("http: a throwing handler produces 500 and the server keeps serving") {
    fixture f;
    raw_client c(f.srv.port());
    REQUIRE(c.send("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(r->body == R"({"error":"internal error: boom"})");

    REQUIRE(c.send("GET /throw-int HTTP/1.1\r\nHost: t\r\n\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(r->body == R"({"error":"internal error: unknown exception"})");

    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE("http: a handler returning an invalid status or header is answered safely") {
    server srv(
        {},
        [](const request& r) {
            if (r.path == "/status") return response{1000, "text/plain", "x", {}};
            return response{200, "text/plain", "x", {{"X-Bad", "a\r\nInjected: 1"}}};
        },
        quiet_logger());
    srv.start();
    auto r = get_once(srv.port(), "/status");
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(r->body == R"({"error":"internal error: invalid status 1000"})");
    r = get_once(srv.port(), "/header");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("x-bad") == "");
    CHECK(r->header("injected") == "");
}

TEST_CASE("http: many concurrent clients are all served") {
    fixture f;
    constexpr int threads = 8;
    constexpr int connections = 20;
    constexpr int per_connection = 10;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (int c = 0; c < connections; ++c) {
                raw_client client(f.srv.port());
                for (int i = 0; i < per_connection; ++i) {
                    const auto r = client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                                       ? client.read_response()
                                       : std::nullopt;
                    (r && r->status == 200 && r->body == "ok" ? ok : failed).fetch_add(1);
                }
            }
        });
    }
    for (auto& t : pool)
        t.join();
    CHECK(failed.load() == 0);
    CHECK(ok.load() == threads * connections * per_connection);
    CHECK(f.srv.requests() == static_cast<std::uint64_t>(threads * connections * per_connection));
}

TEST_CASE("http: stop returns promptly with stalled clients connected") {
    auto f = std::make_unique<fixture>();
    raw_client silent(f->srv.port());
    raw_client partial(f->srv.port());
    raw_client mid_body(f->srv.port());
    REQUIRE(partial.send("GET / HTTP/1.1\r\nHost:"));
    REQUIRE(mid_body.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
    REQUIRE(wait_for([&] { return f->srv.open_connections() == 3; }));

    const auto start = std::chrono::steady_clock::now();
    f->srv.stop();
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    CHECK(f->srv.open_connections() == 0);
    CHECK(silent.wait_closed());
    CHECK(partial.wait_closed());
    CHECK(mid_body.wait_closed());
    f->srv.stop();  // idempotent
    f.reset();      // destructor after stop
}

TEST_CASE("http: a port in use makes start() throw naming the address") {
    fixture first;
    server_options o;
    o.port = first.srv.port();
    server second(
        o, [](const request&) { return response{}; }, quiet_logger());
    try {
        second.start();
        FAIL("start() should have thrown");
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        CHECK(what.find("127.0.0.1:" + std::to_string(first.srv.port())) != std::string::npos);
        CHECK(what.find("http: cannot listen on") == 0);
    }
    const auto r = get_once(first.srv.port(), "/");
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE("http: unusable options are refused") {
    const auto h = [](const request&) { return response{}; };
    server_options o;
    o.address = "0.0.0.0";
    try {
        server s(o, h, quiet_logger());
        FAIL("a non-loopback address should be refused");
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        CHECK(what.find("0.0.0.0") != std::string::npos);
        CHECK(what.find("allow_non_loopback") != std::string::npos);
    }

    auto bad = [&](auto mutate) {
        server_options opt;
        mutate(opt);
        CHECK_THROWS_AS(server(opt, h, quiet_logger()), std::invalid_argument);
    };
    bad([](server_options& x) { x.address = "not-an-address"; });
    bad([](server_options& x) { x.max_connections = 0; });
    bad([](server_options& x) { x.max_header_bytes = 0; });
    bad([](server_options& x) { x.max_body_bytes = 0; });
    bad([](server_options& x) { x.request_timeout = 0ms; });
    bad([](server_options& x) { x.idle_timeout = 0ms; });
    CHECK_THROWS_AS(server({}, nullptr, quiet_logger()), std::invalid_argument);
}

TEST_CASE("http: a non-loopback address is served when allowed") {
    server_options o;
    o.address = "0.0.0.0";
    o.allow_non_loopback = true;
    server s(
        o,
        [](const request&) {
            return response{200, "text/plain", "any", {}};
        },
        quiet_logger());
    s.start();
    CHECK(s.port() != 0);
    CHECK(s.endpoint() == "0.0.0.0:" + std::to_string(s.port()));
    const auto r = get_once(s.port(), "/");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "any");
}

TEST_CASE("http: accept errors are logged and retried until accepting works again") {
    auto log = std::make_shared<std::ostringstream>();
    auto logger = std::make_shared<spdlog::logger>(
        "http-test-emfile", std::make_shared<spdlog::sinks::ostream_sink_mt>(*log));
    server srv(
        {},
        [](const request&) {
            return response{200, "text/plain", "back", {}};
        },
        logger);
    srv.start();

    // The client's socket exists before the limit drops and connects after: the kernel
    // completes the handshake from the backlog, and the server's accept() fails with EMFILE.
    raw_client c(srv.port(), 10s, false);
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    const int lowest_free = ::dup(0);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    c.connect();
    std::this_thread::sleep_for(350ms);  // several 100 ms retry rounds
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);

    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "back");
    srv.stop();
    logger->flush();
    CHECK(log->str().find("http: accept failed:") != std::string::npos);
}
