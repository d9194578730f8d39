// The budget's three ways of holding a call (docs/lua-api.md, "Instruction budget"): counted by
// the count hook, a loop-free entry point under the call hook, or a loop-free entry point that
// calls only ind.* with no hook at all. Whatever the way, no call may run past its budget.

#include <chrono>
#include <string>

#include "lua_fixture.hpp"

using namespace lua_test;

namespace {

// A small instruction budget (stopping an endless loop takes milliseconds) and a time limit long
// enough that only the instruction budget can stop a call.
struct budget_fixture : fixture {
    budget_fixture() {
        limits.instruction_budget = 200'000;
        limits.time_limit = std::chrono::seconds(10);
    }
};

// A loop-free detect_opportunity that reaches an endless loop through `how`, after `setup` ran
// at load time. The endless loop lives in a helper (spin) or in `how` itself.
std::string reaching_a_loop(const std::string& setup, const std::string& how) {
    return std::string(nil_functions) + "local function spin() while true do end end\n" + setup +
           "\nfunction detect_opportunity(market, ctx, ind)\n" + how + "\nend";
}

void check_stopped_by_budget(fixture& f, const std::string& script, const std::string& what) {
    const auto start = std::chrono::steady_clock::now();
    auto s = f.must_load(script);
    auto r = s->detect_opportunity(snapshot(100, 99, 101));
    CHECK_MESSAGE(s->last_failure() == failure_kind::budget_exceeded, what);
    CHECK_MESSAGE(error_of(r).find("instruction budget exceeded") != std::string::npos,
                  what << ": " << error_of(r));
    CHECK_MESSAGE(std::chrono::steady_clock::now() - start < std::chrono::seconds(5), what);
    // The VM stays usable.
    CHECK_MESSAGE(s->filter_commitment(snapshot(100, 99, 101)).ok(), what);
}

}  // namespace

TEST_CASE("lua budget: entry points are planned by their code") {
    fixture f;
    auto s = f.must_load(R"(
        function detect_opportunity(market, ctx, ind)   -- calls only ind.*: no hook
            local a = ind.sma(3)
            if a and a > market.close then ctx.above = true end
        end
        function filter_commitment(market, ctx, ind)    -- calls string.format: call hook
            ctx.note = string.format("%d", 1)
        end
        function manage_position(market, ctx, ind, p)  -- loops: counted
            for i = 1, 3 do end
        end)");
    for (int i = 0; i < 5; ++i)
        f.push(make_candle(i, 100 + i));
    const auto& st = s->stats();
    const auto instructions_before = st.instructions;
    REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    CHECK(st.calls_unhooked == 1);
    CHECK(st.calls_call_hook == 0);
    CHECK(st.instructions > instructions_before);  // charged its length up front
    REQUIRE(s->filter_commitment(snapshot(100, 99, 101)).ok());
    CHECK(st.calls_unhooked == 1);
    CHECK(st.calls_call_hook == 1);
    position p;
    p.direction = side::long_side;
    p.quantity = 1;
    p.entry_price = 100;
    REQUIRE(s->manage_position(snapshot(100, 99, 101), p).ok());
    CHECK(st.calls_unhooked == 1);
    CHECK(st.calls_call_hook == 1);
    CHECK(f.ctx_value<std::string>("note") == "1");
}

TEST_CASE("lua budget: once a script sets a metatable, no call runs without a hook") {
    fixture f;
    auto s = f.must_load(std::string(nil_functions) + R"(
        local t = {}
        function detect_opportunity(market, ctx, ind) return t.x end
        function filter_commitment(market, ctx, ind)
            setmetatable(t, { __index = function() while true do end end })
        end)");
    REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    CHECK(s->stats().calls_unhooked == 1);
    REQUIRE(s->filter_commitment(snapshot(100, 99, 101)).ok());
    // t.x now runs an endless Lua __index: the same loop-free detect_opportunity must be stopped.
    auto r = s->detect_opportunity(snapshot(100, 99, 101));
    CHECK(s->last_failure() == failure_kind::budget_exceeded);
    CHECK(error_of(r).find("instruction budget exceeded") != std::string::npos);
    CHECK(s->stats().calls_unhooked == 1);
}

TEST_CASE("lua budget: a loop-free entry point cannot reach a loop unbudgeted") {
    budget_fixture f;
    const std::string none;
    const std::string wrap_spin = "local co = coroutine.create(function() while true do end end)";
    const struct {
        const std::string& setup;
        std::string how;
    } cases[] = {
        {none, "spin()"},
        {none, "return spin()"},
        {none, "pcall(spin)"},
        {none, "xpcall(spin, function(e) return e end)"},
        {none, "string.gsub('aaa', 'a', function() while true do end end)"},
        {none, "table.sort({3, 2, 1}, function(a, b) while true do end end)"},
        {none, "coroutine.wrap(spin)()"},
        {none, "coroutine.resume(coroutine.create(spin))"},
        {wrap_spin, "coroutine.resume(co)"},
        {none, "load('while true do end')()"},
        {none, "local f = ind.sma if ctx.missing == nil then f = spin end f(1)"},
        {none, "ind = { sma = spin } return ind.sma(1)"},
        {none, "local s = ind.sma return s(spin())"},
    };
    for (const auto& c : cases) {
        check_stopped_by_budget(f, reaching_a_loop(c.setup, c.how), c.how);
    }
}

TEST_CASE("lua budget: metamethods written in Lua are budgeted in loop-free entry points") {
    budget_fixture f;
    const std::string setup = R"(
        local mt = {}
        for _, e in ipairs({ "__index", "__newindex", "__add", "__lt", "__le", "__eq", "__concat",
                             "__len", "__call", "__unm", "__close" }) do
            mt[e] = function() while true do end end
        end
        local t, u = setmetatable({}, mt), setmetatable({}, mt))";
    for (const char* how :
         {"return t.x", "t.x = 1", "return t + 1", "return t < u", "return t <= u", "return t == u",
          "return t .. 'x'", "return #t", "return t()", "return -t", "local x <close> = t",
          "return ind.sma(1) + t"}) {
        check_stopped_by_budget(f, reaching_a_loop(setup, how), how);
    }
}

TEST_CASE("lua budget: entry points longer than the budget, or without hardening, are counted") {
    fixture f;
    f.limits.instruction_budget = 5;  // shorter than any of the entry points below
    auto s = f.must_load(std::string(nil_functions) + R"(
        function detect_opportunity(market, ctx, ind)
            local a, b, c = ind.sma(3), ind.sma(4), ind.sma(5)
            return nil
        end)");
    REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    CHECK(s->stats().calls_unhooked == 0);
    CHECK(s->stats().calls_call_hook == 0);

    fixture g;
    g.limits.hardening = false;
    auto t = g.must_load(nil_functions);
    REQUIRE(t->detect_opportunity(snapshot(100, 99, 101)).ok());
    CHECK(t->stats().calls_unhooked == 0);
    CHECK(t->stats().calls_call_hook == 0);
}

// Regressions from a review of the budget's call plans (each of these hung a call before).

TEST_CASE("lua budget: pairs() over ind, ctx and params never hands out their backing tables") {
    fixture f;
    f.params = {{"fast", std::int64_t{10}}};
    auto s = f.must_load(std::string(nil_functions) + R"(
        function filter_commitment(market, ctx, ind)
            local names = 0
            for k, v in pairs(ind) do names = names + 1 end
            ctx.ind_names = names
            local _, a = pairs(ind)
            local _, b = pairs(ctx)
            local _, c = pairs(params)
            ctx.leaked = a ~= nil or b ~= nil or c ~= nil
            for k, v in pairs(params) do ctx["param_" .. k] = v end
        end
        function detect_opportunity(market, ctx, ind)
            local _, backing = pairs(ind)
            backing.sma = function() while true do end end
        end)");
    REQUIRE(s->filter_commitment(snapshot(100, 99, 101)).ok());
    CHECK(f.ctx_value<std::int64_t>("ind_names") == 9);
    CHECK(f.ctx_value<bool>("leaked") == false);
    CHECK(f.ctx_value<std::int64_t>("param_fast") == 10);
    auto r = s->detect_opportunity(snapshot(100, 99, 101));
    CHECK(error_of(r).find("attempt to index a nil value") != std::string::npos);
}

TEST_CASE("lua budget: the sandbox's own metatables, reached by getmetatable, are budgeted") {
    budget_fixture f;
    const struct {
        const char* setup;
        const char* how;
    } cases[] = {
        {"getmetatable(_G).__index = spin", "return undefined_global"},
        {"getmetatable(string).__index = spin", "local x = ('abc').nosuchmethod"},
        {"getmetatable(os).__close = spin", "local x <close> = os"},
        {"getmetatable(coroutine).__lt = spin", "if coroutine < coroutine then return nil end"},
    };
    for (const auto& c : cases) {
        check_stopped_by_budget(f, reaching_a_loop(c.setup, c.how), c.setup);
    }
}

TEST_CASE("lua budget: a coroutine made by a metamethod is counted when resumed later") {
    budget_fixture f;
    auto s = f.must_load(std::string(nil_functions) + R"(
        local co
        getmetatable(_G).__index = function(_, k)
            if k == "arm" and not co then co = coroutine.create(function() while true do end end) end
        end
        function detect_opportunity(market, ctx, ind) local _ = arm return nil end
        function filter_commitment(market, ctx, ind)
            for i = 1, 1 do end
            coroutine.resume(co)
        end)");
    REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    auto r = s->filter_commitment(snapshot(100, 99, 101));
    CHECK(s->last_failure() == failure_kind::budget_exceeded);
    CHECK(error_of(r).find("instruction budget exceeded") != std::string::npos);
}

TEST_CASE("lua budget: every new coroutine is charged, so short ones cannot outrun the budget") {
    budget_fixture f;
    // Each body runs ~990 instructions and ends before the count hook of its fresh thread fires.
    const std::string bodies = R"(
        bodies = 0
        local function body() bodies = bodies + 1 for i = 1, 320 do end end
        local wrap = coroutine.wrap
        function filter_commitment(market, ctx, ind) ctx.bodies = bodies end
        function manage_position() end
    )";
    std::string straight = "function detect_opportunity(market, ctx, ind)\n";
    for (int i = 0; i < 400; ++i)
        straight += "wrap(body)()\n";  // loop-free: runs under the call hook
    straight += "end\n";
    for (const std::string& entry : {std::string("function detect_opportunity(market, ctx, ind)\n"
                                                 "  while true do wrap(body)() end\nend\n"),
                                     straight}) {
        auto s = f.must_load(bodies + entry);
        auto r = s->detect_opportunity(snapshot(100, 99, 101));
        CHECK(s->last_failure() == failure_kind::budget_exceeded);
        REQUIRE(s->filter_commitment(snapshot(100, 99, 101)).ok());
        // 1000 charged per coroutine: at most budget / 1000 of them (+1 for the one that trips).
        CHECK(f.ctx_value<std::int64_t>("bodies") <= 201);
    }
}

TEST_CASE("lua budget: a failed coroutine.wrap coroutine does not run its __close unbudgeted") {
    budget_fixture f;
    check_stopped_by_budget(f,
                            reaching_a_loop(R"(
        local mt = { __close = function() while true do end end })",
                                            R"(
        local g = coroutine.wrap(function()
            local guard <close> = setmetatable({}, mt)
            while true do end
        end)
        g())"),
                            "__close in a wrapped coroutine");
}

TEST_CASE("lua budget: coroutines made in earlier calls are charged again when they run") {
    budget_fixture f;
    auto s = f.must_load(std::string(nil_functions) + R"(
        local cos = {}
        local function body() for i = 1, 320 do end coroutine.yield() end
        function filter_commitment(market, ctx, ind)  -- 150 coroutines a call, within the budget
            for i = 1, 150 do cos[#cos + 1] = coroutine.create(body) end
        end
        function detect_opportunity(market, ctx, ind)  -- runs all of them in one call
            for i = 1, #cos do coroutine.resume(cos[i]) end
        end)");
    for (int i = 0; i < 10; ++i)
        REQUIRE(s->filter_commitment(snapshot(100, 99, 101)).ok());
    // 1500 coroutines of ~990 instructions each: far more than one call's budget.
    auto r = s->detect_opportunity(snapshot(100, 99, 101));
    CHECK(s->last_failure() == failure_kind::budget_exceeded);
    CHECK(error_of(r).find("instruction budget exceeded") != std::string::npos);
}

TEST_CASE("lua budget: coroutine.wrap still yields, returns and reports errors with a position") {
    fixture f;
    auto s = f.must_load(std::string(nil_functions) + R"(
        function filter_commitment(market, ctx, ind)
            local gen = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
            ctx.first = gen(1)
            ctx.second = gen(5)
            local ok, err = pcall(gen)
            ctx.dead = err
            local bad = coroutine.wrap(function() error("boom") end)
            ok, err = pcall(bad)
            ctx.err = err
        end)");
    REQUIRE(s->filter_commitment(snapshot(100, 99, 101)).ok());
    CHECK(f.ctx_value<std::int64_t>("first") == 2);
    CHECK(f.ctx_value<std::int64_t>("second") == 10);
    CHECK(f.ctx_value<std::string>("dead").find("cannot resume dead coroutine") !=
          std::string::npos);
    CHECK(f.ctx_value<std::string>("err").find("boom") != std::string::npos);
}
