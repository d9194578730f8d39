// The sandbox's guards beyond the hook and the allocator: pattern-function limits, the log rate
// limit, security notes, resource figures, and the benchmark-only switch that turns hardening off.

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "lua_fixture.hpp"

using namespace lua_test;

namespace {

using clock_type = std::chrono::steady_clock;

/// The guard's bound on estimated matcher steps (string_guard.hpp, max_pattern_work).
constexpr double max_pattern_work = 1e6;

/// Loads a strategy whose detect_opportunity runs `body`.
std::unique_ptr<lua_strategy> load_body(fixture& f, const std::string& body) {
    return f.must_load(std::string(nil_functions) +
                       "function detect_opportunity(market, ctx, ind)\n" + body + "\nend");
}

result<action> run_once(fixture& f, const std::string& body) {
    return load_body(f, body)->detect_opportunity(snapshot(100, 99, 101));
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size()))
        ++n;
    return n;
}

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

}  // namespace

TEST_CASE("lua: pattern functions refuse a backtracking bomb with a clear error") {
    fixture f;
    const std::string complex =
        "pattern too complex for a 5000-byte subject (4 quantifiers); shorten the subject or "
        "simplify the pattern";
    const struct {
        const char* call;
        const char* fn;
    } cases[] = {
        {"string.find(s, '.-.-.-.-b$')", "string.find"},
        {"s:find('.-.-.-.-b$')", "string.find"},  // through the string metatable
        {"s:match('.-.-.-.-b$')", "string.match"},
        {"string.match(s, '.-.-.-.-b$')", "string.match"},
        {"for w in s:gmatch('.-.-.-.-b') do end", "string.gmatch"},
        {"s:gsub('.-.-.-.-b$', 'x')", "string.gsub"},
        {"s:gsub('.-.-.-.-b$', function(m) return m end)", "string.gsub"},
    };
    auto s = load_body(f, R"lua(
        local s = string.rep("a", 5000)
        local bombs = {
            function() return string.find(s, '.-.-.-.-b$') end,
            function() return s:find('.-.-.-.-b$') end,
            function() return s:match('.-.-.-.-b$') end,
            function() return string.match(s, '.-.-.-.-b$') end,
            function() for w in s:gmatch('.-.-.-.-b') do end end,
            function() return s:gsub('.-.-.-.-b$', 'x') end,
            function() return s:gsub('.-.-.-.-b$', function(m) return m end) end,
        }
        bombs[market.volume]()
    )lua");
    std::uint64_t refused = 0;
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        auto m = snapshot(100, 99, 101);
        m.bar.volume = static_cast<double>(i + 1);
        const auto t0 = clock_type::now();
        const auto r = s->detect_opportunity(m);
        CHECK_MESSAGE(ms_since(t0) < 200, cases[i].call);
        // The message names the script line of the call, the function and the remedy.
        CHECK_MESSAGE(error_of(r).find("sma_cross.lua:") == 0, error_of(r));
        CHECK_MESSAGE(
            error_of(r).find(std::string(cases[i].fn) + ": " + complex) != std::string::npos,
            error_of(r));
        ++refused;
    }
    CHECK(s->stats().pattern_refusals == refused);
    CHECK(s->last_failure() == failure_kind::runtime_error);
}

TEST_CASE("lua: pattern limits on subject and pattern size; ordinary pattern use is unchanged") {
    fixture f;
    auto r = run_once(f, R"lua(
        local big = string.rep("x", 2 * 1024 * 1024)
        local ok, e = pcall(string.match, big, "x")
        ctx.big = e
        ok, e = pcall(string.find, "abc", string.rep("a?", 300))
        ctx.long = e
        -- plain find (and a pattern without special characters) only needs the subject cap
        local mib = string.rep("ab", 512 * 1024)
        ctx.plain = mib:find("ba.", 1, true) == nil and mib:find("bab") == 2
        -- everyday patterns
        local k, v = ("fast=10"):match("^(%w+)=(%w+)$")
        ctx.kv = k .. ":" .. v
        local words = {}
        for w in ("buy the dip, sell the rip"):gmatch("%a+") do words[#words + 1] = w end
        ctx.words = #words
        ctx.trim = ("  BTCUSDT  "):gsub("^%s+", ""):gsub("%s+$", "")
        ctx.date = os.date("!%Y-%m-%d", 0):match("^(%d%d%d%d)%-%d%d%-%d%d$")
        ctx.balanced = ("f(a(b)c)"):match("%b()")
        ctx.frontier = select(2, ("THE (quick) fox"):gsub("%f[%a]%a+", "w"))
    )lua");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    CHECK(f.ctx_value<std::string>("big").find("string.match: subject too long (2097152 bytes, "
                                               "limit 1048576)") != std::string::npos);
    CHECK(f.ctx_value<std::string>("long").find(
              "string.find: pattern too long (600 bytes, limit 512)") != std::string::npos);
    CHECK(f.ctx_value<bool>("plain"));
    CHECK(f.ctx_value<std::string>("kv") == "fast:10");
    CHECK(f.ctx_value<std::int64_t>("words") == 6);
    CHECK(f.ctx_value<std::string>("trim") == "BTCUSDT");
    CHECK(f.ctx_value<std::string>("date") == "1970");
    CHECK(f.ctx_value<std::string>("balanced") == "(a(b)c)");
    CHECK(f.ctx_value<std::int64_t>("frontier") == 3);
}

TEST_CASE("lua: the most expensive patterns the guard allows still finish in milliseconds") {
    // For q variable quantifiers, the longest subject allowed for ".-" x q .. "b" (which never
    // matches and backtracks through every split): the worst case of each complexity class.
    fixture f;
    f.limits.time_limit = std::chrono::seconds(30);
    f.limits.instruction_budget = 1'000'000'000;
    auto s = load_body(f, R"lua(
        local q, n = market.open_time, market.close_time
        local pattern = string.rep(".-", q) .. "b"
        if q == 0 then pattern = string.rep("a", 8) .. "b" end
        local t0 = os.clock()
        local ok, e = pcall(string.match, string.rep("a", n), pattern)
        ctx.ok = ok
        ctx.err = tostring(e)
        ctx.ms = (os.clock() - t0) * 1000
        ok = pcall(string.match, string.rep("a", n + 2), pattern)
        ctx.over_refused = not ok
    )lua");
    for (int q = 0; q <= 4; ++q) {
        const double items = q == 0 ? 9 : q + 1;
        const auto n = static_cast<std::int64_t>(
            std::floor(std::pow(max_pattern_work / items, 1.0 / (q + 1))));
        auto m = snapshot(100, 99, 101);
        m.bar.open_time = q;
        m.bar.close_time = n;
        const auto r = s->detect_opportunity(m);
        REQUIRE_MESSAGE(r.ok(), error_of(r));
        CHECK_MESSAGE(f.ctx_value<bool>("ok"), f.ctx_value<std::string>("err"));
        CHECK_MESSAGE(f.ctx_value<bool>("over_refused"), "q=" << q);
        const double ms = f.ctx_value<double>("ms");
        MESSAGE("q=" << q << " n=" << n << ": " << ms << " ms");
        CHECK_MESSAGE(ms < 50, "q=" << q << " n=" << n << " took " << ms << " ms");
    }
}

TEST_CASE("lua: print, log and warn floods are rate-limited and reported by one notice") {
    fixture f;
    f.limits.log_burst = 10;
    f.limits.log_lines_per_second = 50;
    auto s = load_body(f, R"lua(
        if market.volume == 1 then
            for i = 1, 1000 do print("line", i) end
            log.info("more") warn("w")
        end
    )lua");
    auto m = snapshot(100, 99, 101);
    m.bar.volume = 1;
    REQUIRE(s->detect_opportunity(m).ok());
    const std::string after_flood = f.log_text.str();
    CHECK(count_of(after_flood, "\n") <= 11);  // the burst, plus what refilled meanwhile
    CHECK(count_of(after_flood, "sma_cross.lua: line 1\n") == 1);
    CHECK(count_of(after_flood, "suppressed") == 0);  // reported once logging is allowed again
    const std::uint64_t dropped = s->stats().log_lines_suppressed;
    CHECK(dropped >= 990);
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    m.bar.volume = 2;  // logs nothing: the notice still comes, at the end of the call
    REQUIRE(s->detect_opportunity(m).ok());
    REQUIRE(s->detect_opportunity(m).ok());
    const std::string text = f.log_text.str();
    CHECK(count_of(text, "log lines suppressed") == 1);
    CHECK(text.find("[warning] sma_cross.lua: " + std::to_string(dropped) +
                    " log lines suppressed (limit 50 lines/s, burst 10)") != std::string::npos);
}

TEST_CASE("lua: warn() writes a warning line; control messages are ignored") {
    fixture f;
    auto r = run_once(f, R"lua(warn("@on") warn("low ", "liquidity"))lua");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    CHECK(f.log_text.str() == "[warning] sma_cross.lua: low liquidity\n");
}

TEST_CASE("lua: every escape attempt writes one security line") {
    fixture f;
    const char* attempts[] = {
        "os.execute('id')",
        "io.open('/etc/passwd')",
        "require('os')",
        "package.loadlib('x', 'y')",
        "debug.sethook()",
        "load('return os')().getenv('HOME')",
        "collectgarbage('stop')",
        "getmetatable('').__index.upper = print",
        "rawset(_G, 'x', 1)",
        "('').dump(print)",
        "coroutine.close(coroutine.create(print))",
        "setmetatable({}, {__gc = print})",
        "setmetatable({}, setmetatable({}, {__mode = 'k'}))",
        "load(string.char(27) .. 'Lua')",
    };
    std::string body = "local n = 0\n";
    for (const char* a : attempts)
        body += "if pcall(function() " + std::string(a) + " end) then n = n + 1 end\n";
    body += "ctx.succeeded = n ctx.upper = ('abc'):upper()";
    auto s = load_body(f, body);
    REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    // Every attempt failed (the binary load returns nil, message: it does not raise).
    CHECK(f.ctx_value<std::int64_t>("succeeded") == 1);
    CHECK(f.ctx_value<std::string>("upper") == "ABC");
    const std::string text = f.log_text.str();
    CHECK(count_of(text, "security: ") == std::size(attempts));
    CHECK(s->stats().security_refusals == std::size(attempts));
    for (const char* line :
         {"security: access to 'os.execute' refused", "security: access to 'io' refused",
          "security: access to 'require' refused", "security: access to 'package' refused",
          "security: access to 'debug' refused", "security: access to 'os.getenv' refused",
          "security: collectgarbage('stop') refused", "security: getmetatable of a string refused",
          "security: access to 'rawset' refused", "security: access to 'string.dump' refused",
          "security: access to 'coroutine.close' refused",
          "security: setmetatable with a __gc field refused",
          "security: setmetatable with a metatable that has a metatable refused",
          "security: load of a binary chunk refused"}) {
        CHECK_MESSAGE(text.find(line) != std::string::npos, line);
    }
    // Reading an undefined global of the script's own is not an escape attempt.
    auto quiet = run_once(f, "ctx.n = (counter or 0) + 1");
    REQUIRE(quiet.ok());
    CHECK(count_of(f.log_text.str(), "security: ") == std::size(attempts));
}

TEST_CASE("lua: stats count instructions and sample call latency") {
    fixture f;
    auto s = load_body(f, "local x = 0 for i = 1, 2000 do x = x + i end");
    const std::uint64_t at_load = s->stats().instructions;
    for (int i = 0; i < 32; ++i)
        REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    const auto& st = s->stats();
    // The loop body is 2 instructions (ADD, FORLOOP): ~4000 per call, counted in steps of 1000.
    const std::uint64_t ran = st.instructions - at_load;
    CHECK(ran >= 32 * 4000 - 1000);
    CHECK(ran <= 32 * 4100 + 1000);
    // Sampled calls (every 16th) and every call the hook fired in are timed.
    CHECK(st.latency_samples >= 2);
    CHECK(st.latency_max_ns > 0);
    CHECK(st.latency_total_ns >= st.latency_max_ns);
    CHECK(st.latency_last_ns <= st.latency_max_ns);
}

TEST_CASE("lua: hardening=false (benchmarks only) removes the hook and the pattern guards") {
    fixture f;
    f.limits.hardening = false;
    auto s = load_body(f, R"lua(
        ctx.m = #(string.rep("a", 5000):match("^a*a*a*a*"))  -- refused when hardened
    )lua");
    REQUIRE(s->detect_opportunity(snapshot(100, 99, 101)).ok());
    CHECK(f.ctx_value<std::int64_t>("m") == 5000);
    CHECK(s->stats().instructions == 0);
    CHECK(s->stats().pattern_refusals == 0);

    fixture hardened;
    auto h = load_body(hardened, R"lua(ctx.m = #(string.rep("a", 5000):match("^a*a*a*a*")))lua");
    CHECK(error_of(h->detect_opportunity(snapshot(100, 99, 101))).find("pattern too complex") !=
          std::string::npos);
}
