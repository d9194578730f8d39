// stream_parser::parse must not allocate once its buffers have grown (the per-event hot path).
// This executable replaces the global operator new to count allocations.
#include <doctest/doctest.h>

#include <counting_allocator.hpp>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <tradingd/binance/stream_parser.hpp>

using tradingd::testing::g_allocations;

using namespace tradingd::binance;

TEST_CASE("binance: parse allocates nothing once warmed up, whatever the frame") {
    const std::vector<std::string> frames = {
        R"({"stream":"bnbusdt@bookTicker","data":{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}})",
        R"({"stream":"ftmusdt@kline_1m","data":{"e":"kline","E":1628952396573,"s":"FTMUSDT","k":{"t":1628952360000,"T":1628952419999,"s":"FTMUSDT","i":"1m","f":38248833,"L":38248910,"o":"0.34064000","c":"0.33993000","h":"0.34070000","l":"0.33934000","v":"208601.00000000","n":78,"x":false,"q":"70846.76968900","V":"156046.30000000","Q":"52984.16932200","B":"0"}}})",
        R"({"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","2"]],"a":[]})",
        R"({"result":null,"id":1})",
        R"({"code":2,"msg":"Invalid request","id":7})",
        R"({"e":"kline","E":1,"s":"X"})",
        R"({"u":1,"s":"X","b":"NaN","B":"1","a":"2","A":"1"})",
        R"({"stream":"x","data":{"u":1,"s":)",
        "not json",
        "",
    };
    const std::size_t at_start = g_allocations;
    stream_parser p;
    for (const auto& f : frames)
        (void)p.parse(f);             // warm-up: the buffer and simdjson's indexes reach their size
    CHECK(g_allocations > at_start);  // the counter does see the parser's own allocations
    const std::size_t before = g_allocations;
    int kinds_seen = 0;
    for (int round = 0; round < 100; ++round) {
        for (const auto& f : frames)
            kinds_seen += static_cast<int>(p.parse(f).kind);
    }
    const std::size_t allocated = g_allocations - before;
    CHECK(allocated == 0);
    CHECK(kinds_seen > 0);
}
