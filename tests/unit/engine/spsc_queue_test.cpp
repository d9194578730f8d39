#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
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

TEST_CASE("spsc_queue: interrupt_producer wakes a blocked push_unless, which gives up") {
    spsc_queue<int> q(2);
    REQUIRE(q.push(1));
    REQUIRE(q.push(2));
    std::atomic<bool> give_up{false};
    std::atomic<int> outcome{-1};
    std::thread producer(
        [&] { outcome = static_cast<int>(q.push_unless(3, [&] { return give_up.load(); })); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(outcome == -1);  // still blocked: the queue is full and give_up is false
    q.interrupt_producer();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(outcome == -1);  // woken, re-checked, still not giving up: waits again
    give_up = true;
    q.interrupt_producer();
    producer.join();
    CHECK(outcome == static_cast<int>(spsc_queue<int>::push_result::gave_up));
    CHECK(q.size() == 2);
    // A pop makes room: the next push_unless succeeds without consulting give_up.
    CHECK(q.pop() == 1);
    CHECK(q.push_unless(4, [] { return true; }) == spsc_queue<int>::push_result::pushed);
}

TEST_CASE("spsc_queue: interrupt_consumer wakes an idle pop_unless, which returns interrupted") {
    spsc_queue<int> q(4);
    std::atomic<bool> stop_waiting{false};
    std::atomic<int> outcome{-1};
    std::thread consumer([&] {
        int item = 0;
        outcome = static_cast<int>(q.pop_unless(item, [&] { return stop_waiting.load(); }));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(outcome == -1);  // empty queue, nothing asked: still waiting
    q.interrupt_consumer();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(outcome == -1);  // woken, re-checked, waits again
    stop_waiting = true;
    q.interrupt_consumer();
    consumer.join();
    CHECK(outcome == static_cast<int>(spsc_queue<int>::pop_status::interrupted));
    // Items are still delivered in order after interrupts; the stop condition is only consulted
    // while the queue is empty.
    REQUIRE(q.push(7));
    int item = 0;
    CHECK(q.pop_unless(item, [] { return true; }) == spsc_queue<int>::pop_status::item);
    CHECK(item == 7);
    q.close();
    CHECK(q.pop_unless(item, [] { return false; }) == spsc_queue<int>::pop_status::closed);
}
