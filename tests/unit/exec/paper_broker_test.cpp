#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>
#include <string>

#include <tradingd/exec/paper_broker.hpp>

using namespace tradingd;
using namespace tradingd::exec;

namespace {

paper_broker_config cfg(double fee_bps, double slippage_bps, std::size_t keep = 1000) {
    paper_broker_config c;
    c.fee_bps = fee_bps;
    c.slippage_bps = slippage_bps;
    c.starting_cash = 10'000;
    c.max_fills_kept = keep;
    return c;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("paper_broker: side names") {
    CHECK(std::string(order_side_name(order_side::buy)) == "buy");
    CHECK(std::string(order_side_name(order_side::sell)) == "sell");
}

TEST_CASE("paper_broker: buy fills at the ask plus slippage and pays notional plus fee") {
    paper_broker b(cfg(10, 5));
    const auto r = b.market_order(order_side::buy, 2, quote{99, 100, 1234});
    REQUIRE(r.ok());
    const fill& f = r.value();
    CHECK(f.side == order_side::buy);
    CHECK(f.quantity == 2);
    CHECK(f.price == doctest::Approx(100.05));
    CHECK(f.fee == doctest::Approx(100.05 * 2 * 10 / 1e4));
    CHECK(f.ts == 1234);
    CHECK(b.cash() == doctest::Approx(10'000 - 200.1 - 0.2001));
    CHECK(b.fees_paid() == doctest::Approx(0.2001));
    CHECK(b.fill_count() == 1);
}

TEST_CASE("paper_broker: sell fills at the bid minus slippage and receives notional minus fee") {
    paper_broker b(cfg(10, 5));
    const auto r = b.market_order(order_side::sell, 2, quote{100, 101, 5});
    REQUIRE(r.ok());
    CHECK(r.value().price == doctest::Approx(99.95));
    CHECK(r.value().fee == doctest::Approx(99.95 * 2 * 10 / 1e4));
    CHECK(b.cash() == doctest::Approx(10'000 + 199.9 - 0.1999));
}

TEST_CASE("paper_broker: zero fee and slippage fill exactly at the quote") {
    paper_broker b(cfg(0, 0));
    REQUIRE(b.market_order(order_side::buy, 1, quote{99, 100, 0}).ok());
    REQUIRE(b.market_order(order_side::sell, 1, quote{99, 100, 0}).ok());
    CHECK(b.recent_fills()[0].price == 100);
    CHECK(b.recent_fills()[1].price == 99);
    CHECK(b.cash() == doctest::Approx(10'000 - 1));  // lost the spread, nothing else
    CHECK(b.fees_paid() == 0);
}

TEST_CASE("paper_broker: a round trip costs spread, slippage and both fees") {
    paper_broker b(cfg(10, 0));
    REQUIRE(b.market_order(order_side::buy, 1, quote{100, 100, 0}).ok());
    REQUIRE(b.market_order(order_side::sell, 1, quote{110, 110, 1}).ok());
    CHECK(b.cash() == doctest::Approx(10'000 + 10 - 0.1 - 0.11));
    CHECK(b.fees_paid() == doctest::Approx(0.21));
}

TEST_CASE("paper_broker: bad quantity is refused with a message naming it") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    paper_broker b(cfg(10, 0));
    for (double qty : {0.0, -1.0, nan, inf}) {
        const auto r = b.market_order(order_side::buy, qty, quote{99, 100, 0});
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error_message(), "quantity"));
    }
    CHECK(b.cash() == 10'000);
    CHECK(b.fill_count() == 0);
    CHECK(b.recent_fills().empty());
}

TEST_CASE("paper_broker: bad quotes are refused with a message naming the problem") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    paper_broker b(cfg(10, 0));
    struct bad_case {
        quote q;
        const char* expect;
    };
    for (const bad_case& c : {bad_case{{0, 100, 0}, "bid"}, bad_case{{-1, 100, 0}, "bid"},
                              bad_case{{nan, 100, 0}, "bid"}, bad_case{{99, 0, 0}, "ask"},
                              bad_case{{99, nan, 0}, "ask"}, bad_case{{101, 100, 0}, "crossed"}}) {
        for (order_side s : {order_side::buy, order_side::sell}) {
            const auto r = b.market_order(s, 1, c.q);
            REQUIRE_FALSE(r.ok());
            CHECK_MESSAGE(contains(r.error_message(), c.expect), r.error_message());
        }
    }
    CHECK(b.cash() == 10'000);
    CHECK(b.fees_paid() == 0);
    CHECK(b.fill_count() == 0);
}

TEST_CASE("paper_broker: a notional that overflows is refused") {
    paper_broker b(cfg(10, 0));
    const auto r = b.market_order(order_side::buy, 1e300, quote{1e300, 1e300, 0});
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error_message(), "notional"));
    CHECK(b.cash() == 10'000);
}

TEST_CASE("paper_broker: keeps the last max_fills_kept fills, totals stay exact") {
    paper_broker b(cfg(10, 0, 3));
    for (int i = 1; i <= 5; ++i) {
        REQUIRE(b.market_order(order_side::buy, i, quote{99, 100, i}).ok());
    }
    CHECK(b.fill_count() == 5);
    REQUIRE(b.recent_fills().size() == 3);
    CHECK(b.recent_fills()[0].ts == 3);
    CHECK(b.recent_fills()[2].ts == 5);
    CHECK(b.fees_paid() == doctest::Approx(100 * 15 * 10 / 1e4));
    CHECK(b.cash() == doctest::Approx(10'000 - 1500 - 1.5));

    paper_broker none(cfg(10, 0, 0));
    REQUIRE(none.market_order(order_side::sell, 1, quote{99, 100, 0}).ok());
    CHECK(none.recent_fills().empty());
    CHECK(none.fill_count() == 1);
}

TEST_CASE("paper_broker: rejects an unusable configuration at construction") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(paper_broker(cfg(-1, 0)), std::invalid_argument);
    CHECK_THROWS_AS(paper_broker(cfg(nan, 0)), std::invalid_argument);
    CHECK_THROWS_AS(paper_broker(cfg(10, -1)), std::invalid_argument);
    CHECK_THROWS_AS(paper_broker(cfg(10, 1e4)), std::invalid_argument);
    paper_broker_config c = cfg(10, 0);
    c.starting_cash = nan;
    CHECK_THROWS_AS(paper_broker{c}, std::invalid_argument);
    CHECK(paper_broker(cfg(10, 0)).config().fee_bps == 10);
}
