// The mock exchange's REST side and certificates: what the daemon's REST backfill relies on.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "mock_exchange.hpp"
#include "test_client.hpp"

using namespace mock_test;
using tradingd::testing::mock_exchange;
using tradingd::testing::mock_options;
using json = nlohmann::json;

namespace {

/// History only: a candle period long enough that nothing forms during the test.
mock_options frozen_options(int history) {
    mock_options o;
    o.history_candles = history;
    o.candle_period = std::chrono::seconds(60);
    o.start_time = 1'600'000'000'000;  // aligned to the minute
    return o;
}

json get_json(const mock_exchange& mock, const std::string& target, unsigned expect_status = 200) {
    const auto reply = rest_get(mock.port(), mock.certificates().ca_pem, target);
    REQUIRE_MESSAGE(!reply.error, reply.error.message());
    REQUIRE(reply.status == expect_status);
    return json::parse(reply.body);
}

double number(const json& decimal_string) {
    static const std::regex binance_decimal(R"(^\d+\.\d{8}$)");
    const auto text = decimal_string.get<std::string>();
    CHECK(std::regex_match(text, binance_decimal));
    return std::stod(text);
}

/// Checks one row's shape and returns it as a candle.
tradingd::candle row_candle(const json& row) {
    REQUIRE(row.is_array());
    REQUIRE(row.size() == 12);
    CHECK(row[0].is_number_integer());
    CHECK(row[6].is_number_integer());
    CHECK(row[8].is_number_integer());
    CHECK(row[11] == "0");
    for (int i : {7, 9, 10})
        number(row[i]);
    tradingd::candle c{row[0].get<std::int64_t>(),
                       row[6].get<std::int64_t>(),
                       number(row[1]),
                       number(row[2]),
                       number(row[3]),
                       number(row[4]),
                       number(row[5])};
    CHECK(tradingd::is_valid(c));
    CHECK(c.close_time == c.open_time + 60'000 - 1);
    return c;
}

bool same(const tradingd::candle& a, const tradingd::candle& b) {
    return a.open_time == b.open_time && a.close_time == b.close_time && a.open == b.open &&
           a.high == b.high && a.low == b.low && a.close == b.close && a.volume == b.volume;
}

}  // namespace

TEST_CASE("mock_exchange: REST klines follow Binance's limit, paging and open-last-row rules") {
    mock_exchange mock(frozen_options(1200));
    mock.start();
    const auto closed = mock.closed_candles("BTCUSDT");
    REQUIRE(closed.size() == 1200);
    const std::string base = "/api/v3/klines?symbol=BTCUSDT&interval=1m";

    SUBCASE("most recent: default 500, last row is the forming candle") {
        const auto rows = get_json(mock, base);
        REQUIRE(rows.size() == 500);
        for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
            CHECK(same(row_candle(rows[i]), closed[closed.size() - 499 + i]));
        }
        const auto open = row_candle(rows.back());
        CHECK(open.open_time == closed.back().open_time + 60'000);
        CHECK(open.open == closed.back().close);
    }
    SUBCASE("limit is capped at 1000") {
        CHECK(get_json(mock, base + "&limit=1000").size() == 1000);
        CHECK(get_json(mock, base + "&limit=5000").size() == 1000);
        CHECK(get_json(mock, base + "&limit=3").size() == 3);
    }
    SUBCASE("startTime pages forward to the forming candle with no gap or duplicate") {
        std::vector<tradingd::candle> all;
        std::int64_t start = closed.front().open_time;
        for (int page = 0; page < 3; ++page) {
            const auto rows =
                get_json(mock, base + "&limit=1000&startTime=" + std::to_string(start));
            for (const auto& r : rows)
                all.push_back(row_candle(r));
            if (rows.size() < 1000) break;
            start = all.back().open_time + 1;
        }
        REQUIRE(all.size() == closed.size() + 1);
        for (std::size_t i = 0; i < closed.size(); ++i)
            CHECK(same(all[i], closed[i]));
    }
    SUBCASE("startTime and endTime bound the open times inclusively") {
        const auto t0 = closed[10].open_time;
        const auto rows = get_json(mock, base + "&startTime=" + std::to_string(t0) +
                                             "&endTime=" + std::to_string(closed[14].open_time));
        REQUIRE(rows.size() == 5);
        CHECK(same(row_candle(rows[0]), closed[10]));
        CHECK(same(row_candle(rows[4]), closed[14]));
        const auto before = get_json(mock, base + "&limit=2&endTime=" + std::to_string(t0));
        REQUIRE(before.size() == 2);
        CHECK(same(row_candle(before[1]), closed[10]));
    }
}

TEST_CASE("mock_exchange: REST errors, fail_rest and the small endpoints") {
    mock_exchange mock(frozen_options(10));
    mock.start();
    const auto& ca = mock.certificates().ca_pem;

    const auto bad = get_json(mock, "/api/v3/klines?symbol=NOPEUSDT&interval=1m", 400);
    CHECK(bad == json{{"code", -1121}, {"msg", "Invalid symbol."}});
    CHECK(get_json(mock, "/api/v3/klines?interval=1m", 400)["code"] == -1102);
    CHECK(get_json(mock, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=x", 400)["code"] ==
          -1100);

    mock.fail_rest(2, 429, R"({"code":-1003,"msg":"Too many requests."})", 7);
    for (int i = 0; i < 2; ++i) {
        const auto reply = rest_get(mock.port(), ca, "/api/v3/klines?symbol=BTCUSDT&interval=1m");
        REQUIRE(!reply.error);
        CHECK(reply.status == 429);
        CHECK(reply.retry_after == "7");
        CHECK(json::parse(reply.body)["code"] == -1003);
    }
    const auto ok = rest_get(mock.port(), ca, "/api/v3/klines?symbol=BTCUSDT&interval=1m");
    CHECK(ok.status == 200);
    CHECK(ok.retry_after.empty());

    CHECK(get_json(mock, "/api/v3/ping") == json::object());
    // The exchange's clock is the virtual one: inside the forming candle, after every closed one.
    const auto server_time = get_json(mock, "/api/v3/time")["serverTime"].get<std::int64_t>();
    const auto closed = mock.closed_candles("BTCUSDT");
    REQUIRE_FALSE(closed.empty());
    CHECK(server_time > closed.back().close_time);
    CHECK(server_time <= closed.back().close_time + 60'000);
    CHECK(mock.stats().rest_requests == 8);
}

TEST_CASE("mock_exchange: certificates verify for their hosts only") {
    SUBCASE("default certificate verifies as 127.0.0.1 and as localhost") {
        mock_exchange mock(frozen_options(5));
        mock.start();
        for (const char* host : {"127.0.0.1", "localhost"}) {
            ws_client client(mock.certificates().ca_pem);
            CHECK_MESSAGE(!client.connect(mock.port(), "/ws/btcusdt@bookTicker", host), host);
        }
    }
    SUBCASE("a certificate for another host fails the handshake with a verification error") {
        auto options = frozen_options(5);
        options.certificate_hosts = {"wrong.example"};
        mock_exchange mock(options);
        mock.start();
        ws_client client(mock.certificates().ca_pem);
        const auto ec = client.connect(mock.port(), "/ws/btcusdt@bookTicker", "127.0.0.1");
        REQUIRE(ec);
        CHECK(ec.category() == net::error::get_ssl_category());
        CHECK(ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
              SSL_R_CERTIFICATE_VERIFY_FAILED);
        // The chain itself is fine: only the name was wrong.
        ws_client named(mock.certificates().ca_pem);
        CHECK(!named.connect(mock.port(), "/ws/btcusdt@bookTicker", "wrong.example"));
    }
}

TEST_CASE("mock_exchange: certificates are written as PEM files") {
    const auto certs = tradingd::testing::test_certificates::generate({"localhost"});
    const auto dir =
        std::filesystem::temp_directory_path() / ("mock_certs_" + std::to_string(::getpid()));
    const auto ca = certs.write(dir);
    CHECK(ca == dir / "ca.pem");
    for (const char* name : {"ca.pem", "server.pem", "server.key"}) {
        std::ifstream file(dir / name);
        std::string first;
        std::getline(file, first);
        CHECK(first.rfind("-----BEGIN ", 0) == 0);
    }
    std::filesystem::remove_all(dir);
}
