#include <doctest/doctest.h>

#include <string>

#include <tradingd/strategy/context.hpp>

using namespace tradingd;
using namespace tradingd::strategy;

TEST_CASE("context: set and get each scalar type") {
    context c;
    c.set("flag", true);
    c.set("count", std::int64_t{42});
    c.set("level", 0.5);
    c.set("note", std::string("breakout"));
    REQUIRE(c.size() == 4);
    REQUIRE(c.get("flag") != nullptr);
    CHECK(std::get<bool>(*c.get("flag")) == true);
    CHECK(std::get<std::int64_t>(*c.get("count")) == 42);
    CHECK(std::get<double>(*c.get("level")) == 0.5);
    CHECK(std::get<std::string>(*c.get("note")) == "breakout");
    CHECK(c.get("missing") == nullptr);
}

TEST_CASE("context: replace keeps the key's position and may change its type") {
    context c;
    c.set("a", std::int64_t{1});
    c.set("b", std::int64_t{2});
    c.set("c", std::int64_t{3});
    c.set("a", std::string("one"));
    REQUIRE(c.size() == 3);
    CHECK(c.entries()[0].first == "a");
    CHECK(std::get<std::string>(c.entries()[0].second) == "one");
    CHECK(c.entries()[1].first == "b");
    CHECK(c.entries()[2].first == "c");
}

TEST_CASE("context: erase removes one key and keeps the others in insertion order") {
    context c;
    for (const char* k : {"w", "x", "y", "z"})
        c.set(k, std::string(k));
    CHECK(c.erase("x"));
    CHECK_FALSE(c.erase("x"));
    CHECK_FALSE(c.erase("never"));
    REQUIRE(c.size() == 3);
    CHECK(c.get("x") == nullptr);
    CHECK(c.entries()[0].first == "w");
    CHECK(c.entries()[1].first == "y");
    CHECK(c.entries()[2].first == "z");
    // Re-adding an erased key appends it.
    c.set("x", 1.0);
    CHECK(c.entries()[3].first == "x");
}

TEST_CASE("context: clear empties it") {
    context c;
    c.set("k", false);
    c.clear();
    CHECK(c.size() == 0);
    CHECK(c.get("k") == nullptr);
}

TEST_CASE("context: keys are compared exactly") {
    context c;
    c.set("Key", std::int64_t{1});
    c.set("key", std::int64_t{2});
    CHECK(c.size() == 2);
    CHECK(std::get<std::int64_t>(*c.get("Key")) == 1);
    CHECK(std::get<std::int64_t>(*c.get("key")) == 2);
    CHECK(c.get("ke") == nullptr);
}
