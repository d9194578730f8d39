// The wall-clock limit also catches time spent where the count hook cannot look: inside one long C
// function near the end of a call.
#include <chrono>

#include "lua_fixture.hpp"

using namespace lua_test;

TEST_CASE("lua: a call that overruns its time limit inside a C function fails after returning") {
    fixture f;
    f.limits.time_limit = std::chrono::milliseconds(1);
    f.limits.memory_limit_bytes = std::size_t{512} << 20;
    // Fast calls stay well inside the limit, however the clock's ticks fall.
    auto fast = f.must_load(nil_functions);
    for (int i = 0; i < 200; ++i)
        REQUIRE(fast->detect_opportunity(snapshot(100, 99, 101)).ok());
    // A handful of instructions around C work that takes far longer than 1 ms (+ a clock tick):
    // the hook (every 1000 instructions) never fires during it.
    auto slow = f.must_load(std::string(nil_functions) + R"(
        function detect_opportunity(m, ctx)
            for i = 1, 8 do local s = string.rep("x", 64 * 1024 * 1024) end
            return nil
        end)");
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = slow->detect_opportunity(snapshot(100, 99, 101));
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_MESSAGE(took > std::chrono::milliseconds(10),
                    "the C work was too fast on this machine to test the limit");
    REQUIRE_FALSE(r.ok());
    CHECK(slow->last_failure() == failure_kind::budget_exceeded);
    CHECK(r.error_message().find("time limit exceeded (1 ms)") != std::string::npos);
    // Its next call starts with a fresh budget (and fails again for the same reason).
    CHECK_FALSE(slow->detect_opportunity(snapshot(100, 99, 101)).ok());
    CHECK(fast->detect_opportunity(snapshot(100, 99, 101)).ok());
}
