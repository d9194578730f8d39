#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include <tradingd/binance/backoff.hpp>

using namespace tradingd::binance;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using tp = reconnect_backoff::clock::time_point;

namespace {

// A policy where only the exponential part matters (no rate limits in the way).
backoff_policy unlimited() {
    backoff_policy p;
    p.min_interval = 0ms;
    p.max_attempts_per_window = 1'000'000;
    return p;
}

const tp t0 = tp{} + std::chrono::hours(1000);

}  // namespace

TEST_CASE("binance: backoff delays stay within [0, cap] and their ceiling doubles per failure") {
    reconnect_backoff b(unlimited(), 42);
    tp now = t0;
    std::vector<milliseconds> maxima;
    for (std::uint32_t failures = 0; failures < 12; ++failures) {
        REQUIRE(b.consecutive_failures() == failures);
        milliseconds worst{0};
        const milliseconds ceiling = std::min(milliseconds{1000 << failures}, 60'000ms);
        for (int i = 0; i < 400; ++i) {
            const milliseconds d = b.next_delay(now);
            CHECK(d >= 0ms);
            CHECK(d <= ceiling);
            worst = std::max(worst, d);
        }
        // With 400 uniform draws the largest is close to the ceiling.
        CHECK(worst >= ceiling * 95 / 100);
        maxima.push_back(worst);
        b.on_attempt(now);
        b.on_disconnected(now);  // the attempt failed
        now += 1s;
    }
    CHECK(maxima[1] > maxima[0]);
    CHECK(maxima[5] > maxima[4]);
    CHECK(maxima.back() <= 60'000ms);
}

TEST_CASE("binance: backoff factor is clamped to [1, 100]") {
    backoff_policy p = unlimited();
    p.factor = 0.1;
    reconnect_backoff low(p, 1);
    CHECK(low.policy().factor == 1.0);
    p.factor = 1e9;
    CHECK(reconnect_backoff(p, 1).policy().factor == 100.0);
}

TEST_CASE("binance: backoff never starts attempts closer than min_interval") {
    backoff_policy p;  // defaults: 1 s min interval
    p.initial = 0ms;   // jitter alone would allow an immediate retry
    reconnect_backoff b(p, 7);
    tp now = t0;
    CHECK(b.next_delay(now) == 0ms);  // nothing before: no wait
    b.on_attempt(now);
    b.on_disconnected(now + 10ms);
    CHECK(b.next_delay(now + 10ms) == 990ms);
    CHECK(b.next_delay(now + 1s) == 0ms);
    // Sub-millisecond remainders round up, never down.
    CHECK(b.next_delay(now + 10ms + std::chrono::microseconds(500)) == 990ms);
}

TEST_CASE("binance: a storm of 1000 attempts never exceeds 300 per 5 minutes") {
    backoff_policy p;
    p.initial = 0ms;  // the worst case: jitter would retry at once
    p.cap = 0ms;
    p.min_interval = 100ms;  // looser than Binance's 1/s, so the window limit has to bind
    reconnect_backoff b(p, 99);
    tp now = t0;
    std::vector<tp> starts;
    for (int i = 0; i < 1000; ++i) {
        now += b.next_delay(now);
        b.on_attempt(now);
        starts.push_back(now);
        b.on_disconnected(now + 5ms);  // refused
        now += 5ms;
    }
    std::size_t worst = 0;
    for (std::size_t i = 0; i < starts.size(); ++i) {
        const auto end = std::lower_bound(starts.begin(), starts.end(), starts[i] + 300s);
        worst = std::max(worst, static_cast<std::size_t>(
                                    end - (starts.begin() + static_cast<std::ptrdiff_t>(i))));
        if (i > 0) CHECK(starts[i] - starts[i - 1] >= 100ms);
    }
    CHECK(worst == 300);  // the limit is reached (the storm is real) and never exceeded
    CHECK(b.consecutive_failures() == 1000);
}

TEST_CASE("binance: backoff resets only after a connection stayed healthy for healthy_after") {
    reconnect_backoff b(unlimited(), 3);
    tp now = t0;
    for (int i = 0; i < 5; ++i) {
        b.on_attempt(now);
        b.on_disconnected(now);
    }
    REQUIRE(b.consecutive_failures() == 5);
    // Up for 9.999 s: a flap, still a failure.
    b.on_attempt(now);
    b.on_connected(now);
    b.on_disconnected(now + 9999ms);
    CHECK(b.consecutive_failures() == 6);
    // Up for 10 s: healthy, the count resets.
    now += 20s;
    b.on_attempt(now);
    b.on_connected(now);
    b.on_disconnected(now + 10s);
    CHECK(b.consecutive_failures() == 0);
    CHECK(b.next_delay(now + 10s) <= 1000ms);
}

TEST_CASE("binance: backoff delays are deterministic for a seed") {
    const auto run = [](std::uint64_t seed) {
        reconnect_backoff b(unlimited(), seed);
        std::vector<milliseconds> out;
        tp now = t0;
        for (int i = 0; i < 50; ++i) {
            out.push_back(b.next_delay(now));
            b.on_attempt(now);
            b.on_disconnected(now);
            now += 1s;
        }
        return out;
    };
    CHECK(run(5) == run(5));
    CHECK(run(5) != run(6));
}
