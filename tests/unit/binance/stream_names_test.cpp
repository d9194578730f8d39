#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <tradingd/binance/stream_names.hpp>

using namespace tradingd::binance;

namespace {

// Splits "/stream?streams=a/b/c" into {"a","b","c"}.
std::vector<std::string> streams_of(const std::string& target) {
    const std::string prefix = "/stream?streams=";
    REQUIRE(target.rfind(prefix, 0) == 0);
    std::vector<std::string> out;
    std::size_t pos = prefix.size();
    while (pos <= target.size()) {
        const std::size_t slash = std::min(target.find('/', pos), target.size());
        out.push_back(target.substr(pos, slash - pos));
        pos = slash + 1;
    }
    return out;
}

std::string symbol_of(const std::string& s) {
    return s.substr(0, s.find('@'));
}

}  // namespace

TEST_CASE("binance: stream names lower-case the symbol and keep the interval's case") {
    CHECK(kline_stream("BTCUSDT", "5m") == "btcusdt@kline_5m");
    CHECK(kline_stream("BtcUsdt", "1M") == "btcusdt@kline_1M");
    CHECK(book_ticker_stream("ETHBTC") == "ethbtc@bookTicker");
    CHECK(book_ticker_stream("ethbtc") == "ethbtc@bookTicker");
}

TEST_CASE("binance: combined targets keep order and respect the per-connection limit") {
    CHECK(combined_stream_targets({}, 10).empty());
    const std::vector<std::string> one = {"btcusdt@kline_1m", "btcusdt@bookTicker"};
    CHECK(combined_stream_targets(one, 10) ==
          std::vector<std::string>{"/stream?streams=btcusdt@kline_1m/btcusdt@bookTicker"});

    std::vector<std::string> many;
    for (int i = 0; i < 2500; ++i)
        many.push_back("s" + std::to_string(i) + "usdt@bookTicker");
    const auto targets = combined_stream_targets(many, 5000);  // clamped to 1024
    REQUIRE(targets.size() == 3);
    std::vector<std::string> all;
    for (const auto& t : targets) {
        const auto s = streams_of(t);
        CHECK(s.size() <= k_max_streams_per_connection);
        all.insert(all.end(), s.begin(), s.end());
    }
    CHECK(streams_of(targets[0]).size() == 1024);
    CHECK(all == many);  // nothing lost, duplicated or reordered

    // A limit of 0 is clamped to 1: one stream per connection.
    CHECK(combined_stream_targets(one, 0).size() == 2);
}

TEST_CASE("binance: combined targets keep a symbol's streams on one connection when they fit") {
    // 3 symbols x 2 streams, 5 per connection: a greedy split would separate ccc's pair.
    std::vector<std::string> streams;
    for (const char* sym : {"aaa", "bbb", "ccc"}) {
        streams.push_back(kline_stream(sym, "1m"));
        streams.push_back(book_ticker_stream(sym));
    }
    const auto targets = combined_stream_targets(streams, 5);
    REQUIRE(targets.size() == 2);
    CHECK(streams_of(targets[0]) == std::vector<std::string>{"aaa@kline_1m", "aaa@bookTicker",
                                                             "bbb@kline_1m", "bbb@bookTicker"});
    CHECK(streams_of(targets[1]) == std::vector<std::string>{"ccc@kline_1m", "ccc@bookTicker"});

    // Interleaved input (all klines, then all bookTickers, as in the real capture's URL) is still
    // grouped per symbol.
    const std::vector<std::string> interleaved = {"aaa@kline_1m",   "bbb@kline_1m",
                                                  "ccc@kline_1m",   "aaa@bookTicker",
                                                  "bbb@bookTicker", "ccc@bookTicker"};
    std::map<std::string, std::size_t> connection_of;
    const auto split = combined_stream_targets(interleaved, 2);
    REQUIRE(split.size() == 3);
    for (std::size_t i = 0; i < split.size(); ++i) {
        for (const auto& s : streams_of(split[i])) {
            const auto [it, fresh] = connection_of.emplace(symbol_of(s), i);
            CHECK(it->second == i);  // every stream of a symbol on the same connection
        }
    }
    CHECK(connection_of.size() == 3);
}

TEST_CASE("binance: combined targets split a symbol only when it cannot fit in one connection") {
    std::vector<std::string> streams = {"aaa@bookTicker"};
    for (const char* iv : {"1m", "5m", "15m", "1h"})
        streams.push_back(kline_stream("bbb", iv));
    const auto targets = combined_stream_targets(streams, 3);
    REQUIRE(targets.size() == 2);
    CHECK(streams_of(targets[0]) ==
          std::vector<std::string>{"aaa@bookTicker", "bbb@kline_1m", "bbb@kline_5m"});
    CHECK(streams_of(targets[1]) == std::vector<std::string>{"bbb@kline_15m", "bbb@kline_1h"});
}
