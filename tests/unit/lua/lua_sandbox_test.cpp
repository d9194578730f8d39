// The sandbox: what a script can and cannot reach, and the CPU and memory limits.

#include <chrono>

#include "lua_fixture.hpp"

using namespace lua_test;

namespace {

/// Runs `body` as detect_opportunity(market, ctx, ind) and returns the call's result.
result<action> run_body(fixture& f, const std::string& body, std::string symbol = "BTCUSDT") {
    auto s = f.must_load(std::string(nil_functions) +
                             "function detect_opportunity(market, ctx, ind)\n" + body + "\nend",
                         std::move(symbol));
    return s->detect_opportunity(snapshot(100, 99, 101));
}

/// Runs `expr` in the sandbox and returns type(expr) as stored in ctx.
std::string type_of(fixture& f, const std::string& expr) {
    auto r = run_body(f, "ctx.t = type(" + expr + ")");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    return f.ctx_value<std::string>("t");
}

}  // namespace

TEST_CASE("lua: dangerous globals and library functions are absent") {
    fixture f;
    for (const char* expr :
         {"io", "os.execute", "os.exit", "os.getenv", "os.remove", "require", "dofile", "loadfile",
          "debug", "package", "rawset", "rawget", "string.dump", "('x').dump", "coroutine.close",
          "_G.io", "load('return io')()"}) {
        CHECK_MESSAGE(type_of(f, expr) == "nil", expr);
    }
    for (const char* expr : {"os.time", "os.clock", "os.date", "string.format", "table.insert",
                             "math.floor", "utf8.char", "coroutine.wrap", "pcall", "rawequal",
                             "rawlen", "next", "select", "tostring", "log.info", "print", "warn"}) {
        CHECK_MESSAGE(type_of(f, expr) == "function", expr);
    }
}

TEST_CASE("lua: load accepts text bound to the sandbox env and refuses bytecode") {
    fixture f;
    // load("return os")() yields the sandbox's os (no execute), not the real one.
    auto r = run_body(f, R"(
        local os2 = load("return os")()
        ctx.same = os2 == os
        ctx.exec = type(os2.execute)
        ctx.value = load("return 1 + 2")()
        local fn, err = load("\27Lua\84\0\25\147\13\10\26\10")
        ctx.fn = type(fn)
        ctx.err = err
        local explicit = load("return io", "x", "bt", { io = "leak" })()
        ctx.explicit = type(explicit)
    )");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    CHECK(f.ctx_value<bool>("same") == true);
    CHECK(f.ctx_value<std::string>("exec") == "nil");
    CHECK(f.ctx_value<std::int64_t>("value") == 3);
    CHECK(f.ctx_value<std::string>("fn") == "nil");
    CHECK(f.ctx_value<std::string>("err").find("attempt to load a binary chunk") !=
          std::string::npos);
    CHECK(f.ctx_value<std::string>("explicit") == "nil");  // env argument ignored
    auto fn = run_body(f, "load(function() return nil end)");
    CHECK(error_of(fn).find("only string chunks can be loaded") != std::string::npos);
}

TEST_CASE("lua: setmetatable refuses __gc and metatables with metatables") {
    fixture f;
    auto gc = run_body(f, "setmetatable({}, { __gc = function() while true do end end })");
    CHECK(error_of(gc) ==
          "sma_cross.lua:6: detect_opportunity: setmetatable: metatables with a __gc field are "
          "not allowed");
    auto weak = run_body(f, "setmetatable({}, setmetatable({}, { __mode = 'k' }))");
    CHECK(error_of(weak).find("a metatable may not have a metatable itself") != std::string::npos);
    auto ok = run_body(f, R"(
        local t = setmetatable({}, { __index = function(_, k) return k .. "!" end })
        ctx.v = t.hi
    )");
    REQUIRE_MESSAGE(ok.ok(), error_of(ok));
    CHECK(f.ctx_value<std::string>("v") == "hi!");
}

TEST_CASE("lua: the string metatable is neither visible nor poisonable") {
    fixture f;
    auto r = run_body(f, R"(
        ctx.mt = type(getmetatable(""))
        ctx.dump = type(("x").dump)
        ctx.upper = ("abc"):upper()
    )");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    CHECK(f.ctx_value<std::string>("mt") == "nil");
    CHECK(f.ctx_value<std::string>("dump") == "nil");
    CHECK(f.ctx_value<std::string>("upper") == "ABC");
    auto poison = run_body(f, "getmetatable('').__index.upper = nil");
    CHECK(error_of(poison).find("attempt to index a nil value") != std::string::npos);
    CHECK_FALSE(run_body(f, "setmetatable('', {})").ok());
}

TEST_CASE("lua: collectgarbage allows only count") {
    fixture f;
    auto r = run_body(f, "ctx.kb = collectgarbage('count')");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    CHECK(f.ctx_value<double>("kb") > 0);
    CHECK(error_of(run_body(f, "collectgarbage('stop')")) ==
          "sma_cross.lua:6: detect_opportunity: collectgarbage: option 'stop' is not allowed "
          "(only \"count\")");
    CHECK_FALSE(run_body(f, "collectgarbage()").ok());
}

TEST_CASE("lua: an error object whose __tostring throws does not crash the host") {
    fixture f;
    auto r = run_body(
        f, "error(setmetatable({}, { __tostring = function() error('nested failure') end }))");
    CHECK_FALSE(r.ok());
    CHECK(error_of(r).rfind("sma_cross.lua", 0) == 0);
    auto s = f.must_load(std::string(nil_functions) + R"(
        function filter_commitment()
            error(setmetatable({}, { __tostring = function() return 42 end }))
        end)");
    CHECK_FALSE(s->filter_commitment(snapshot(100, 99, 101)).ok());
    CHECK(s->last_failure() == failure_kind::runtime_error);
    CHECK(s->detect_opportunity(snapshot(100, 99, 101)).ok());
}

TEST_CASE("lua: math.random is deterministic per symbol") {
    const auto draw = [](const char* symbol) {
        fixture f;
        auto r = run_body(f,
                          "ctx.a = math.random(1, 1000000) ctx.b = math.random() "
                          "math.randomseed() ctx.c = math.random(1, 1000000)",
                          symbol);
        REQUIRE_MESSAGE(r.ok(), error_of(r));
        return std::make_tuple(f.ctx_value<std::int64_t>("a"), f.ctx_value<double>("b"),
                               f.ctx_value<std::int64_t>("c"));
    };
    const auto first = draw("BTCUSDT");
    CHECK(first == draw("BTCUSDT"));
    CHECK(std::get<0>(first) == std::get<2>(first));  // randomseed() restarts the sequence
    CHECK(first != draw("ETHUSDT"));
    CHECK(std::get<1>(first) >= 0.0);
    CHECK(std::get<1>(first) < 1.0);
    fixture f;
    CHECK(error_of(run_body(f, "math.random(5, 1)")).find("interval is empty") !=
          std::string::npos);
}

TEST_CASE("lua: an infinite loop exceeds the budget and the next call works") {
    fixture f;
    f.limits.instruction_budget = 200'000;
    f.limits.time_limit = std::chrono::seconds(10);
    auto s = f.must_load(std::string(nil_functions) + R"(
        function detect_opportunity(m, ctx)
            if ctx.loop then while true do end end
            ctx.calls = (ctx.calls or 0) + 1
        end)");
    REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    f.ctx.set("loop", true);
    auto looping = f.must_load(std::string(nil_functions) + R"(
        function detect_opportunity(m, ctx)
            if ctx.loop then while true do end end
            ctx.calls = (ctx.calls or 0) + 1
        end
        function filter_commitment(m, ctx) ctx.loop = false end)");
    auto r = looping->detect_opportunity(snapshot(100, 99, 101));
    CHECK(error_of(r) ==
          "sma_cross.lua:7: detect_opportunity: instruction budget exceeded (200000 instructions)");
    CHECK(looping->last_failure() == failure_kind::budget_exceeded);
    CHECK(looping->stats().budget_aborts == 1);
    REQUIRE(looping->filter_commitment(snapshot(100, 99, 101)).ok());  // clears ctx.loop
    auto after = looping->detect_opportunity(snapshot(100, 99, 101));
    CHECK_MESSAGE(after.ok(), error_of(after));
    CHECK(looping->last_failure() == failure_kind::none);
    CHECK(f.ctx_value<std::int64_t>("calls") == 2);
}

TEST_CASE("lua: pcall, xpcall and coroutines cannot swallow the budget error") {
    fixture f;
    f.limits.instruction_budget = 200'000;
    f.limits.time_limit = std::chrono::seconds(10);
    for (const char* body : {
             "while true do pcall(function() while true do end end) end",
             "while true do xpcall(function() while true do end end, function(e) return e end) end",
             "local ok = pcall(function() while true do end end) return nil",
             "local co = coroutine.create(function() while true do end end)\n"
             "while true do coroutine.resume(co) end",
             "local co = coroutine.wrap(function() while true do end end) pcall(co) return nil",
             // the handler runs inside the hook (hooks off) when the budget error is raised
             "xpcall(error, function() while true do end end) while true do end",
             "xpcall(function() while true do end end, function() while true do end end)",
             "local ok, e = xpcall(function() while true do end end, function(e) return e end)\n"
             "return nil",
             "local x <close> = setmetatable({}, { __close = function() while true do end end })\n"
             "while true do end",
         }) {
        const auto start = std::chrono::steady_clock::now();
        auto s = f.must_load(std::string(nil_functions) + "function detect_opportunity()\n" + body +
                             "\nend");
        auto r = s->detect_opportunity(snapshot(100, 99, 101));
        CHECK_MESSAGE(s->last_failure() == failure_kind::budget_exceeded, body);
        CHECK_MESSAGE(error_of(r).find("instruction budget exceeded") != std::string::npos, body);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
        CHECK(s->filter_commitment(snapshot(100, 99, 101)).ok());
    }
}

TEST_CASE("lua: the wall-clock limit stops a call with a large instruction budget") {
    fixture f;
    f.limits.instruction_budget = 1'000'000'000'000;
    f.limits.time_limit = std::chrono::milliseconds(50);
    auto r = run_body(f, "while true do end");
    CHECK(error_of(r) == "sma_cross.lua:6: detect_opportunity: time limit exceeded (50 ms)");
}

TEST_CASE("lua: an endless top level or on_init fails the load") {
    fixture f;
    f.limits.instruction_budget = 100'000;
    CHECK(error_of(f.load(std::string(nil_functions) + "while true do end")) ==
          "sma_cross.lua:5: top level: instruction budget exceeded (100000 instructions)");
    CHECK(
        error_of(f.load(std::string(nil_functions) + "function on_init() while true do end end")) ==
        "sma_cross.lua:5: on_init: instruction budget exceeded (100000 instructions)");
}

TEST_CASE("lua: memory bombs fail with memory_exceeded and the VM stays usable") {
    fixture f;
    f.limits.memory_limit_bytes = std::size_t{8} << 20;
    f.limits.instruction_budget = 100'000'000;
    f.limits.time_limit = std::chrono::seconds(10);
    for (const char* kind : {"rep", "concat", "table", "pcall"}) {
        f.ctx.set("kind", std::string(kind));
        auto s = f.must_load(std::string(nil_functions) + R"(
        function detect_opportunity(m, ctx)
            if ctx.kind == "rep" then return string.rep("x", 1 << 30) end
            if ctx.kind == "concat" then local s = "x" while true do s = s .. s end end
            if ctx.kind == "table" then local t = {} for i = 1, 1e9 do t[i] = i end end
            if ctx.kind == "pcall" then
                local ok = pcall(function() local s = "x" while true do s = s .. s end end)
                error("after " .. tostring(ok))
            end
        end
        function filter_commitment(m, ctx) ctx.kind = "none" end)");
        auto r = s->detect_opportunity(snapshot(100, 99, 101));
        CHECK_MESSAGE(s->last_failure() == failure_kind::memory_exceeded, kind);
        CHECK_MESSAGE(
            error_of(r) == "sma_cross.lua: detect_opportunity: memory limit exceeded (8 MiB)",
            kind);
        CHECK(s->stats().memory_aborts == 1);
        CHECK(s->stats().memory_peak <= f.limits.memory_limit_bytes);
        // Usable afterwards: the same VM runs another call successfully.
        REQUIRE(s->filter_commitment(snapshot(100, 99, 101)).ok());
        auto again = s->detect_opportunity(snapshot(100, 99, 101));
        CHECK_MESSAGE(again.ok(), error_of(again));
    }
}

TEST_CASE("lua: a deeply recursive script fails cleanly") {
    fixture f;
    f.limits.instruction_budget = 100'000'000;
    f.limits.time_limit = std::chrono::seconds(10);
    auto r = run_body(f, "local function r(n) return 1 + r(n + 1) end return r(1)");
    CHECK_FALSE(r.ok());
    CHECK(error_of(r).find("stack overflow") != std::string::npos);
}

TEST_CASE("lua: xpcall still calls the script's handler for ordinary errors and can yield") {
    fixture f;
    auto r = run_body(f, R"(
        local ok, msg = xpcall(function() error("x", 0) end, function(e) return "handled " .. e end)
        ctx.ok, ctx.msg = ok, msg
        local co = coroutine.wrap(function()
            return xpcall(function() coroutine.yield(1) return 2 end, print)
        end)
        ctx.first = co()
        local ok2, second = co()
        ctx.second = second
    )");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    CHECK(f.ctx_value<bool>("ok") == false);
    CHECK(f.ctx_value<std::string>("msg") == "handled x");
    CHECK(f.ctx_value<std::int64_t>("first") == 1);
    CHECK(f.ctx_value<std::int64_t>("second") == 2);
}
