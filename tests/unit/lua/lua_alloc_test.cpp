// The per-call success path allocates nothing on the C++ heap and does not grow the VM's memory.
// This file replaces the global operator new/delete for the whole unit_lua executable; they only
// count while `counting` is set.

#include <atomic>
#include <cstdlib>
#include <new>

#include "lua_fixture.hpp"

namespace {

std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

void* counted_alloc(std::size_t n) {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

}  // namespace

void* operator new(std::size_t n) {
    return counted_alloc(n);
}
void* operator new[](std::size_t n) {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

using namespace lua_test;

TEST_CASE("lua: a nil-returning call allocates nothing and does not grow VM memory") {
    fixture f;
    for (int i = 0; i < 50; ++i)
        f.push(make_candle(i, 100 + i % 7));
    auto s = f.must_load(R"(
        function detect_opportunity(market, ctx, ind)
            local sma = ind.sma(3)
            local m1, m2, m3 = ind.macd(3, 6, 2)
            if market.close > 1e9 and sma and m1 and market.symbol == "x" then
                return { reason = "never" }
            end
            return nil
        end
        function filter_commitment(market, ctx, ind) return nil end
        function manage_position(market, ctx, ind, position)
            if position.quantity < 0 then return { action = "exit" } end
        end
    )");
    const market_snapshot m = snapshot(105, 104.9, 105.1);
    position p;
    p.quantity = 1;
    p.entry_price = 100;
    for (int i = 0; i < 10; ++i) {  // warm-up: indicators created, strings interned
        REQUIRE(s->detect_opportunity(m).ok());
        REQUIRE(s->manage_position(m, p).ok());
    }
    const std::size_t before = s->stats().memory_used;

    // The counter itself works (an explicit operator new call cannot be elided).
    allocations = 0;
    counting = true;
    ::operator delete(::operator new(64));
    counting = false;
    REQUIRE(allocations.load() == 1);

    allocations = 0;
    counting = true;
    bool all_ok = true;
    for (int i = 0; i < 100; ++i) {
        all_ok = s->detect_opportunity(m).ok() && all_ok;
        all_ok = s->filter_commitment(m).ok() && all_ok;
        all_ok = s->manage_position(m, p).ok() && all_ok;
    }
    counting = false;

    CHECK(all_ok);
    CHECK(allocations.load() == 0);
    CHECK(s->stats().memory_used <= before);
    CHECK(s->stats().calls == 320);
}

TEST_CASE("lua: a failing call is counted and its VM memory stays bounded") {
    fixture f;
    auto s =
        f.must_load(std::string(nil_functions) + "function detect_opportunity() return 'bad' end");
    for (int i = 0; i < 10; ++i)
        CHECK_FALSE(s->detect_opportunity(snapshot(1, 1, 1)).ok());
    const std::size_t before = s->stats().memory_used;
    for (int i = 0; i < 200; ++i)
        CHECK_FALSE(s->detect_opportunity(snapshot(1, 1, 1)).ok());
    CHECK(s->stats().failures == 210);
    CHECK(s->stats().memory_used <= before + 64 * 1024);
}
