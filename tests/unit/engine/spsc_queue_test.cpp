#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include <tradingd/engine/spsc_queue.hpp>

using tradingd::engine::spsc_queue;

TEST_CASE("spsc_queue: delivers every item in order across threads, blocking when full") {
    spsc_queue<int> q(8);  // much smaller than the item count: the producer must block
    constexpr int n = 200'000;
    std::vector<int> got;
    got.reserve(n);
    std::thread consumer([&] {
        while (auto v = q.pop())
            got.push_back(*v);
    });
    for (int i = 0; i < n; ++i)
        REQUIRE(q.push(i));
    q.close();
    consumer.join();
    REQUIRE(got.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        REQUIRE(got[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("spsc_queue: close drains queued items, then pop ends and push fails") {
    spsc_queue<int> q(4);
    CHECK(q.push(1));
    CHECK(q.push(2));
    q.close();
    CHECK_FALSE(q.push(3));
    CHECK(q.pop() == 1);
    CHECK(q.pop() == 2);
    CHECK_FALSE(q.pop().has_value());
}

TEST_CASE("spsc_queue: close wakes a consumer blocked on an empty queue") {
    spsc_queue<int> q(4);
    std::thread consumer([&] { CHECK_FALSE(q.pop().has_value()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    q.close();
    consumer.join();
}

TEST_CASE("spsc_queue: close wakes a producer blocked on a full queue") {
    spsc_queue<int> q(2);
    REQUIRE(q.push(1));
    REQUIRE(q.push(2));
    std::thread producer([&] { CHECK_FALSE(q.push(3)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    q.close();
    producer.join();
    CHECK(q.size() == 2);
}
