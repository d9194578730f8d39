// call_shape: what the budget reads from an entry point's bytecode. The sandbox skips the count
// hook on what this says, so the "no" answers matter most: every way of looping or of calling
// something that is not ind.* must be seen.
#include "../../../src/strategy/lua/call_shape.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

namespace {

using tradingd::strategy::lua::detail::call_records_readable;
using tradingd::strategy::lua::detail::loop_free_entry;
using tradingd::strategy::lua::detail::max_loop_free_length;
using tradingd::strategy::lua::detail::read_loop_free_entry;

struct state_closer {
    void operator()(lua_State* L) const { lua_close(L); }
};
using state_ptr = std::unique_ptr<lua_State, state_closer>;

// Runs `chunk` in a plain state and reads the function it returns.
std::optional<loop_free_entry> shape_of(const std::string& chunk) {
    state_ptr L(luaL_newstate());
    luaL_openlibs(L.get());
    REQUIRE_MESSAGE(luaL_dostring(L.get(), chunk.c_str()) == LUA_OK, lua_tostring(L.get(), -1));
    return read_loop_free_entry(L.get());
}

bool loop_free(const std::string& chunk) {
    return shape_of(chunk).has_value();
}

bool only_ind(const std::string& body, const char* params = "m, c, ind") {
    const auto shape = shape_of(std::string("return function(") + params + ")\n" + body + "\nend");
    REQUIRE_MESSAGE(shape, body);
    return shape->calls_only_ind;
}

}  // namespace

TEST_CASE("call_shape: every kind of loop is seen") {
    CHECK_FALSE(loop_free("return function(n) while n > 0 do n = n - 1 end end"));
    CHECK_FALSE(loop_free("return function(n) repeat n = n - 1 until n < 0 end"));
    CHECK_FALSE(loop_free("return function(n) for i = 1, n do end end"));
    CHECK_FALSE(loop_free("return function(t) for k, v in pairs(t) do end end"));
    CHECK_FALSE(loop_free("return function() ::top:: goto top end"));
    CHECK_FALSE(loop_free("return function(x) ::top:: if x then x = false goto top end end"));
    CHECK_FALSE(loop_free("return function(x) if x then while true do end end return 1 end"));
}

TEST_CASE("call_shape: straight code with forward jumps is loop-free, with its length") {
    const auto empty = shape_of("return function() end");
    REQUIRE(empty);
    CHECK(empty->length == 1);  // RETURN0
    const auto branchy = shape_of(R"(return function(a, b)
        if a then b = 1 elseif b then b = 2 else goto done end
        b = a and b or 3
        ::done::
        return b
    end)");
    REQUIRE(branchy);
    CHECK(branchy->length > empty->length);
    // A loop inside a nested function does not count: calling it is a call.
    CHECK(loop_free("return function() local f = function() while true do end end return f end"));
}

TEST_CASE("call_shape: long functions, C functions and bad dumps are not read") {
    std::string body;
    for (std::uint32_t i = 0; i < max_loop_free_length; ++i)
        body += "x = 1\n";
    CHECK_FALSE(loop_free("return function() " + body + " end"));
    CHECK_FALSE(loop_free("return print"));
    CHECK_FALSE(loop_free("return 42"));
    CHECK_FALSE(read_loop_free_entry(std::string_view("not a dump")));
    CHECK_FALSE(read_loop_free_entry(std::string_view("\x1bLua\x54\x00", 6)));

    // A real dump read whole, then cut short: the cut one is refused.
    state_ptr L(luaL_newstate());
    REQUIRE(luaL_loadstring(L.get(), "local a = ... if a then return 1 end return 2") == LUA_OK);
    std::string dump;
    lua_dump(
        L.get(),
        [](lua_State*, const void* p, std::size_t n, void* ud) {
            static_cast<std::string*>(ud)->append(static_cast<const char*>(p), n);
            return 0;
        },
        &dump, 1);
    const auto whole = read_loop_free_entry(dump);
    REQUIRE(whole);
    CHECK(whole->length > 2);
    CHECK_FALSE(read_loop_free_entry(std::string_view(dump).substr(0, 40)));
}

TEST_CASE("call_shape: calls of values read from ind are recognised") {
    CHECK(
        only_ind("local a, b = ind.sma(10), ind.ema(5)\n"
                 "if a and b and a > b then return { reason = 'x' } end"));
    CHECK(only_ind("local s = ind.sma return s(1) + s(2)"));  // a local copy
    CHECK(only_ind("local i = ind if c.x then return i.sma(3) end return ind.lowest(2)"));
    CHECK(only_ind("return m.close * 2 + c.n", "m, c, ind"));       // no call
    CHECK(only_ind("return ind.macd(12, 26, 9)", "m, c, ind, p"));  // tail call
    CHECK(only_ind("c.seen = true local v = ind.rsi(14) if v then c.v = v end", "m, c, ind"));
}

TEST_CASE("call_shape: any other call is not") {
    CHECK_FALSE(only_ind("return helper()"));
    CHECK_FALSE(only_ind("local s = string.format('%d', 1) return nil"));
    CHECK_FALSE(only_ind("return c.f()", "m, c"));       // no ind parameter
    CHECK_FALSE(only_ind("return ind.sma(1)", "m, c"));  // `ind` is a global here
    CHECK_FALSE(only_ind("ind = c return ind.sma(1)"));  // ind reassigned
    CHECK_FALSE(only_ind("local f = ind.sma if c.x then f = print end return f(1)"));
    CHECK_FALSE(only_ind("return (c.x and ind.sma or print)(1)"));
    CHECK_FALSE(only_ind("return ind:sma(1)"));     // method call
    CHECK_FALSE(only_ind("return ind.sma(1)(2)"));  // calls a result
    CHECK_FALSE(only_ind("local t = { ind.sma } return t[1](1)"));
    CHECK_FALSE(only_ind("local f = ... return f()", "m, c, ind, ..."));
    CHECK_FALSE(only_ind("local f, g = ind.sma, ind.ema f, g = g, c.x return g(1)"));
    CHECK_FALSE(only_ind("local f = ind.sma local r = f(1) return r(2)"));
    CHECK_FALSE(only_ind("local x <close> = nil return ind.sma(1) + helper()"));
}

TEST_CASE("call_shape: the example strategies' entry points") {
    state_ptr L(luaL_newstate());
    luaL_openlibs(L.get());
    REQUIRE(luaL_dostring(L.get(), "params = {} log = { info = print }") == LUA_OK);
    const std::string path = std::string(TRADINGD_SOURCE_DIR) + "/lua-strategies/sma_cross.lua";
    REQUIRE(luaL_dofile(L.get(), path.c_str()) == LUA_OK);
    const auto read = [&](const char* name) {
        lua_getglobal(L.get(), name);
        auto shape = read_loop_free_entry(L.get());
        lua_pop(L.get(), 1);
        return shape;
    };
    const auto detect = read("detect_opportunity");
    const auto filter = read("filter_commitment");
    const auto manage = read("manage_position");
    REQUIRE(detect);
    REQUIRE(filter);
    REQUIRE(manage);
    CHECK(detect->calls_only_ind);
    CHECK_FALSE(filter->calls_only_ind);  // string.format
    CHECK(manage->calls_only_ind);
}

TEST_CASE("call_shape: this Lua's call records are readable") {
    // Where this fails, every call falls back to the count hook (safe, but slower).
    CHECK(call_records_readable());
}
