// Catalogue rows L01-L11 and L14-L17 (../shared/RELIABILITY.md §5.1): a hostile or broken
// strategy script fails in the documented way, and a benign runner beside it keeps processing
// its candles on time. Each test runs both as engine::symbol_runner threads, as in the daemon.
#include <doctest/doctest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <decision_capture.hpp>
#include <filesystem>
#include <fstream>
#include <lua.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <test_support.hpp>
#include <vector>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/symbol_runner.hpp>

using namespace tradingd;
using tradingd::testing::closed_event;
using tradingd::testing::make_candle;
using clock_type = std::chrono::steady_clock;

namespace {

using tradingd::testing::capture_sink;

/// Every log line the runner (and its script) writes, as "<level>|<text>".
class line_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::vector<std::string> lines() {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    std::size_t count(const std::string& what) {
        std::size_t n = 0;
        for (const auto& l : lines())
            n += l.find(what) != std::string::npos ? 1 : 0;
        return n;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        lines_.push_back(std::string(spdlog::level::to_string_view(msg.level).data()) + "|" +
                         std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}

private:
    std::vector<std::string> lines_;
};

// Counts its calls in ctx and never fails: the neighbour that must stay on time.
constexpr const char* benign_script = R"(
function detect_opportunity(m, ctx, ind)
  ctx.n = (ctx.n or 0) + 1
  if ("benign"):upper() ~= "BENIGN" then error("string methods broken") end
  return nil
end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)";

constexpr const char* nil_rest = R"(
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)";

constexpr auto on_time = std::chrono::seconds(2);

/// A hostile runner and a benign one, side by side on their own threads.
struct side_by_side {
    testing::temp_dir dir;
    config::sandbox_config sandbox;
    config::paper_config paper;
    capture_sink hostile_decisions;
    capture_sink benign_decisions;
    std::shared_ptr<line_sink> hostile_log = std::make_shared<line_sink>();
    std::unique_ptr<engine::symbol_runner> hostile;
    std::unique_ptr<engine::symbol_runner> benign;
    std::int64_t next_candle = 0;
    std::uint64_t fed = 0;

    side_by_side() {
        sandbox.max_consecutive_failures = 1000;  // keep calling the hostile script
        sandbox.time_limit_ms = 10'000;           // rows that test the budget set it
    }
    ~side_by_side() { stop(); }
    side_by_side(const side_by_side&) = delete;
    side_by_side& operator=(const side_by_side&) = delete;

    config::symbol_config symbol(const std::string& name, const std::filesystem::path& path) {
        config::symbol_config s;
        s.symbol = name;
        s.strategy = name;
        s.strategy_path = path;
        s.window = 100;
        s.quantity = 1;
        return s;
    }
    void start(const std::string& hostile_script) {
        start_file(dir.write("HOSTILEUSDT.lua", hostile_script));
    }
    void start_file(const std::filesystem::path& hostile_path) {
        auto logger = std::make_shared<spdlog::logger>("HOSTILEUSDT", hostile_log);
        logger->set_level(spdlog::level::debug);
        hostile = std::make_unique<engine::symbol_runner>(
            std::make_unique<engine::runner_core>(symbol("HOSTILEUSDT", hostile_path), sandbox,
                                                  paper, hostile_decisions, logger),
            64);
        auto quiet = std::make_shared<spdlog::logger>("BENIGNUSDT", std::make_shared<line_sink>());
        benign = std::make_unique<engine::symbol_runner>(
            std::make_unique<engine::runner_core>(
                symbol("BENIGNUSDT", dir.write("BENIGNUSDT.lua", benign_script)), sandbox, paper,
                benign_decisions, quiet),
            64);
        hostile->start();
        benign->start();
    }
    /// Pushes n closed candles to both runners; true when the benign one has processed all of
    /// its candles within `on_time` of the first push, whatever the hostile one is doing.
    bool feed(int n) {
        const auto t0 = clock_type::now();
        for (int i = 0; i < n; ++i) {
            const auto e = closed_event(make_candle(next_candle++, 100));
            hostile->push(e);
            benign->push(e);
        }
        fed += static_cast<std::uint64_t>(n);
        const bool done = testing::wait_until([&] { return benign->processed() == fed; }, on_time);
        MESSAGE("benign runner: "
                << fed << " candles after "
                << std::chrono::duration<double, std::milli>(clock_type::now() - t0).count()
                << " ms");
        return done;
    }
    /// Waits until the hostile runner has processed everything fed so far.
    bool hostile_done(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        return testing::wait_until([&] { return hostile->processed() == fed; }, timeout);
    }
    void stop() {
        if (hostile) hostile->stop();
        if (benign) benign->stop();
    }
    /// After stop(): the benign strategy ran once per candle and never failed.
    void check_benign() {
        CHECK(benign->core().summary().strategy_calls == fed);
        CHECK(benign->core().summary().strategy_errors == 0);
        CHECK(benign_decisions.messages("error").empty());
        const scalar* n = benign->core().machine().ctx().get("n");
        REQUIRE(n != nullptr);
        CHECK(std::get<std::int64_t>(*n) == static_cast<std::int64_t>(fed));
    }
    std::vector<std::string> errors() const { return hostile_decisions.messages("error"); }
    const scalar* hostile_ctx(std::string_view key) {
        return hostile->core().machine().ctx().get(key);
    }
};

bool contains(const std::string& s, const std::string& what) {
    return s.find(what) != std::string::npos;
}

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

std::size_t rss_bytes() {
    std::ifstream in("/proc/self/statm");
    std::size_t pages = 0;
    std::size_t resident = 0;
    in >> pages >> resident;
    return resident * 4096;
}

// lua_Writer appending to a std::string.
int append_chunk(lua_State*, const void* p, std::size_t n, void* ud) {
    static_cast<std::string*>(ud)->append(static_cast<const char*>(p), n);
    return 0;
}

/// Real Lua 5.4 bytecode of `source`, compiled outside the sandbox.
std::string bytecode_of(const std::string& source) {
    lua_State* L = luaL_newstate();
    REQUIRE(luaL_loadstring(L, source.c_str()) == LUA_OK);
    std::string out;
    lua_dump(L, append_chunk, &out, 0);
    lua_close(L);
    return out;
}

/// `bytes` as a Lua string literal with decimal escapes.
std::string lua_literal(const std::string& bytes) {
    std::string out = "\"";
    char buf[8];
    for (const unsigned char c : bytes) {
        std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(c));
        out += buf;
    }
    return out + "\"";
}

}  // namespace

TEST_CASE(
    "sandbox L01: an endless loop stops within 2x the budget with file:line; next candle ok") {
    side_by_side s;
    constexpr std::uint64_t budget = 200'000;
    s.sandbox.instruction_budget = budget;
    s.start(std::string(R"(
iterations = 0
calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  if calls == 1 then
    while true do iterations = iterations + 1 end
  end
  ctx.iterations = iterations
  return nil
end
)") + nil_rest);
    CHECK(s.feed(3));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 1);  // the next candles were processed normally
    CHECK(errors[0] ==
          "HOSTILEUSDT.lua:7: detect_opportunity: instruction budget exceeded (200000 "
          "instructions)");
    // Each iteration is at least 3 VM instructions (get, add, set, jump): it ran close to the
    // budget and stopped well before twice the budget.
    const scalar* it = s.hostile_ctx("iterations");
    REQUIRE(it != nullptr);
    const auto iterations = static_cast<std::uint64_t>(std::get<std::int64_t>(*it));
    CHECK(iterations * 3 < 2 * budget);
    CHECK(iterations * 6 > budget);
    const auto& stats = s.hostile->core().strategy()->stats();
    CHECK(stats.budget_aborts == 1);
    CHECK(stats.instructions >= budget);
    CHECK(stats.instructions < 2 * budget);
    CHECK_FALSE(s.hostile->core().suspended());
}

TEST_CASE("sandbox L02: a pcall-wrapped endless loop is stopped by the sticky budget") {
    side_by_side s;
    s.sandbox.instruction_budget = 5'000'000;
    s.start(std::string(R"(
function detect_opportunity(m, ctx, ind)
  while true do pcall(function() while true do end end) end
end
)") + nil_rest);
    const auto t0 = clock_type::now();
    CHECK(s.feed(1));
    REQUIRE(s.hostile_done());
    const double ms = ms_since(t0);
    MESSAGE("pcall loop stopped after " << ms << " ms");
    CHECK(ms < 500);  // ~20 ms in a release build
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 1);
    CHECK(contains(errors[0],
                   "detect_opportunity: instruction budget exceeded (5000000 "
                   "instructions)"));
    CHECK(s.hostile->core().strategy()->last_failure() ==
          strategy::lua::failure_kind::budget_exceeded);
}

TEST_CASE("sandbox L03: coroutines inherit the hook; resume cannot swallow the budget error") {
    side_by_side s;
    s.sandbox.instruction_budget = 200'000;
    s.start(std::string(R"(
local looping = coroutine.create(function() while true do end end)  -- created at load time
local calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  if calls == 1 then
    local ok, err = coroutine.resume(looping)
    ctx.swallowed = tostring(err)
    return nil  -- returns normally: the host still sees the exhausted budget
  elseif calls == 2 then
    while true do coroutine.resume(coroutine.create(function() while true do end end)) end
  end
  return nil
end
)") + nil_rest);
    CHECK(s.feed(3));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 2);
    CHECK(contains(errors[0], "instruction budget exceeded (200000 instructions)"));
    CHECK(contains(errors[1], "instruction budget exceeded (200000 instructions)"));
    const scalar* swallowed = s.hostile_ctx("swallowed");
    REQUIRE(swallowed != nullptr);
    CHECK(contains(std::get<std::string>(*swallowed), "instruction budget exceeded"));
    CHECK(s.hostile->core().strategy()->stats().budget_aborts == 2);
}

TEST_CASE("sandbox L04: pattern bombs via find, match, gmatch, gsub and methods fail fast") {
    side_by_side s;
    s.start(std::string(R"(
local subject = string.rep("a", 5000)
local bombs = {
  function() return string.find(subject, ".-.-.-.-b$") end,
  function() return subject:match(".-.-.-.-b$") end,
  function() for w in subject:gmatch(".-.-.-.-b") do end end,
  function() return string.gsub(subject, ".-.-.-.-b$", "") end,
  function() return ("a"):rep(5000):find(".-.-.-.-b$") end,
}
local calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  if bombs[calls] then bombs[calls]() end
  return nil
end
)") + nil_rest);
    const auto t0 = clock_type::now();
    CHECK(s.feed(6));
    REQUIRE(s.hostile_done(std::chrono::seconds(5)));
    CHECK(ms_since(t0) < 1000);
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 5);
    const std::string tail =
        ": pattern too complex for a 5000-byte subject (4 quantifiers); shorten the subject or "
        "simplify the pattern";
    CHECK(errors[0] == "HOSTILEUSDT.lua:4: detect_opportunity: string.find" + tail);
    CHECK(errors[1] == "HOSTILEUSDT.lua:5: detect_opportunity: string.match" + tail);
    CHECK(errors[2] == "HOSTILEUSDT.lua:6: detect_opportunity: string.gmatch" + tail);
    CHECK(errors[3] == "HOSTILEUSDT.lua:7: detect_opportunity: string.gsub" + tail);
    CHECK(errors[4] == "HOSTILEUSDT.lua:8: detect_opportunity: string.find" + tail);
    CHECK(s.hostile->core().strategy()->stats().pattern_refusals == 5);
}

TEST_CASE("sandbox L05: memory bombs fail at the cap; the VM stays usable; RSS stays bounded") {
    side_by_side s;
    s.sandbox.memory_limit_mb = 32;
    s.sandbox.instruction_budget = 200'000'000;
    const std::size_t rss_before = rss_bytes();
    s.start(std::string(R"(
local calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  if calls == 1 then local s = string.rep("x", 1 << 30) end
  if calls == 2 then local s = "x" while true do s = s .. s end end
  if calls == 3 then local t = {} while true do t[#t + 1] = #t end end
  ctx.after = 1 + 1
  return nil
end
)") + nil_rest);
    CHECK(s.feed(4));
    REQUIRE(s.hostile_done());
    const std::size_t rss_after = rss_bytes();
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 3);
    for (const auto& e : errors)
        CHECK_MESSAGE(contains(e, "detect_opportunity: memory limit exceeded (32 MiB)"), e);
    const scalar* after = s.hostile_ctx("after");
    REQUIRE(after != nullptr);  // the fourth call ran normally in the same VM
    CHECK(std::get<std::int64_t>(*after) == 2);
    const auto& stats = s.hostile->core().strategy()->stats();
    CHECK(stats.memory_aborts == 3);
    CHECK(stats.memory_peak <= std::size_t{32} << 20);
    // Unbounded, the doubling loop alone would need gigabytes. ASan keeps freed memory in
    // quarantine (256 MiB by default), hence the wider bound there.
#if defined(__SANITIZE_ADDRESS__)
    constexpr std::size_t rss_bound = std::size_t{768} << 20;
#else
    constexpr std::size_t rss_bound = std::size_t{256} << 20;
#endif
    const std::size_t grown = rss_after > rss_before ? rss_after - rss_before : 0;
    MESSAGE("RSS grew by " << (grown >> 20) << " MiB");
    CHECK(grown < rss_bound);
}

TEST_CASE("sandbox L06: a __gc metatable is refused; no hang at GC or shutdown") {
    side_by_side s;
    s.start(std::string(R"(
function detect_opportunity(m, ctx, ind)
  setmetatable({}, {__gc = function() while true do end end})
  return nil
end
)") + nil_rest);
    CHECK(s.feed(2));
    REQUIRE(s.hostile_done());
    const auto t0 = clock_type::now();
    s.stop();
    s.hostile.reset();  // closes the VM: a finalizer would run now
    CHECK(ms_since(t0) < 2000);
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] ==
          "HOSTILEUSDT.lua:3: detect_opportunity: setmetatable: metatables with a __gc field are "
          "not allowed");
    CHECK(s.hostile_log->count("security: setmetatable with a __gc field refused") == 2);
}

TEST_CASE("sandbox L07: binary chunks are refused as files and at run time; dump is nil") {
    const std::string good = std::string("function detect_opportunity() return nil end") + nil_rest;
    SUBCASE("a script file that is a binary chunk") {
        side_by_side s;
        const std::string bc = bytecode_of(good);
        REQUIRE(bc.rfind("\x1bLua", 0) == 0);
        s.start_file(s.dir.write("HOSTILEUSDT.lua", bc));
        CHECK(s.feed(2));
        REQUIRE(s.hostile_done());
        s.stop();
        s.check_benign();
        REQUIRE(s.hostile->core().load_error());
        CHECK(*s.hostile->core().load_error() ==
              "HOSTILEUSDT.lua: attempt to load a binary chunk (mode is 't')");
        CHECK(s.hostile->core().suspended());
    }
    SUBCASE("dump and load at run time") {
        side_by_side s;
        s.start(R"(
x = "script global"
local bytecode = )" +
                lua_literal(bytecode_of("return 42")) +
                R"(
function detect_opportunity(m, ctx, ind)
  ctx.dump_nil = string.dump == nil and ("").dump == nil
  local f, err = load(bytecode)
  ctx.bytecode_loaded = f ~= nil
  ctx.load_error = err
  local f2, err2 = load(bytecode, "b", "b")  -- asking for binary mode changes nothing
  ctx.binary_mode_error = err2
  ctx.env = load("return x", "chunk", "t", { x = "caller's env" })()
  ctx.text = load("return 6 * 7")()
  return nil
end
)" + nil_rest);
        CHECK(s.feed(1));
        REQUIRE(s.hostile_done());
        s.stop();
        s.check_benign();
        CHECK(s.errors().empty());
        const auto text = [&](const char* k) { return std::get<std::string>(*s.hostile_ctx(k)); };
        CHECK(std::get<bool>(*s.hostile_ctx("dump_nil")));
        CHECK_FALSE(std::get<bool>(*s.hostile_ctx("bytecode_loaded")));
        CHECK(contains(text("load_error"), "attempt to load a binary chunk (mode is 't')"));
        CHECK(contains(text("binary_mode_error"), "attempt to load a binary chunk (mode is 't')"));
        CHECK(text("env") == "script global");  // bound to the script's env, not the argument
        CHECK(std::get<std::int64_t>(*s.hostile_ctx("text")) == 42);
        CHECK(s.hostile_log->count("security: load of a binary chunk refused") == 2);
        CHECK(s.hostile_log->count("security: access to 'string.dump' refused") == 2);
    }
}

TEST_CASE("sandbox L08: every escape attempt is nil or errors and writes a security line") {
    side_by_side s;
    s.start(std::string(R"(
local attempts = {
  function() return os.execute("id") end,
  function() return io.open("/etc/passwd") end,
  function() return require("os") end,
  function() return package.loadlib("libc.so.6", "system") end,
  function() return debug.sethook() end,
  function() return load("return os")().execute("id") end,
  function() return collectgarbage("stop") end,
  function() getmetatable("").__index.upper = function() return "pwned" end end,
  function() return rawset(_G, "x", 1) end,
}
function detect_opportunity(m, ctx, ind)
  if ctx.done then ctx.sma = ind.sma(2) return nil end
  local escaped = 0
  for _, f in ipairs(attempts) do
    if pcall(f) then escaped = escaped + 1 end
  end
  ctx.escaped = escaped
  ctx.upper = ("abc"):upper()
  ctx.done = true
  return nil
end
)") + nil_rest);
    CHECK(s.feed(3));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    CHECK(s.errors().empty());
    CHECK(std::get<std::int64_t>(*s.hostile_ctx("escaped")) == 0);
    CHECK(std::get<std::string>(*s.hostile_ctx("upper")) == "ABC");
    REQUIRE(s.hostile_ctx("sma") != nullptr);  // the host API still works
    CHECK(std::get<double>(*s.hostile_ctx("sma")) == doctest::Approx(100));
    for (const char* line :
         {"security: access to 'os.execute' refused", "security: access to 'io' refused",
          "security: access to 'require' refused", "security: access to 'package' refused",
          "security: access to 'debug' refused", "security: collectgarbage('stop') refused",
          "security: getmetatable of a string refused", "security: access to 'rawset' refused"}) {
        CHECK_MESSAGE(s.hostile_log->count(line) >= 1, line);
    }
    // os.execute is attempted twice (directly and through load("return os")).
    CHECK(s.hostile_log->count("security: access to 'os.execute' refused") == 2);
    CHECK(s.hostile_log->count("security: ") == 9);
    CHECK(s.hostile->core().strategy()->stats().security_refusals == 9);
}

TEST_CASE("sandbox L09: chained coroutine closes over 20000 coroutines do not crash") {
    side_by_side s;
    s.sandbox.memory_limit_mb = 256;
    s.sandbox.instruction_budget = 100'000'000;
    s.start(std::string(R"(
local calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  local prev
  if calls == 1 then
    -- upstream bug 1e64c139: each __close closes the previous coroutine, recursing in C
    for i = 1, 20001 do
      local p = prev
      local co = coroutine.create(function()
        local guard <close> = setmetatable({}, {__close = function()
          if p then coroutine.close(p) end
        end})
        coroutine.yield()
      end)
      coroutine.resume(co)
      prev = co
    end
    coroutine.close(prev)
  elseif calls == 2 then
    -- the same chain unwound by erroring coroutine.wrap functions (lua_resetthread)
    for i = 1, 20001 do
      local p = prev
      prev = coroutine.wrap(function()
        local guard <close> = setmetatable({}, {__close = function() if p then pcall(p) end end})
        coroutine.yield()
        error("unwind")
      end)
      prev()
    end
    prev()
  end
  return nil
end
)") + nil_rest);
    CHECK(s.feed(3));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 2);
    CHECK(contains(errors[0], "attempt to call a nil value (field 'close')"));
    CHECK(contains(errors[1], "detect_opportunity:"));
    CHECK(s.hostile_log->count("security: access to 'coroutine.close' refused") >= 1);
}

TEST_CASE("sandbox L10: error objects with bad __tostring never reach the panic handler") {
    side_by_side s;
    s.sandbox.instruction_budget = 1'000'000;
    s.start(std::string(R"(
local calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  if calls == 1 then error(setmetatable({}, {__tostring = function() error("x") end})) end
  if calls == 2 then
    error(setmetatable({}, {__tostring = function() return string.rep("y", 10 << 20) end}))
  end
  if calls == 3 then error(setmetatable({}, {__tostring = function() while true do end end})) end
  return nil
end
)") + nil_rest);
    CHECK(s.feed(4));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 3);
    for (const auto& e : errors) {
        CHECK_MESSAGE(e.rfind("HOSTILEUSDT.lua", 0) == 0, e);
        CHECK(e.size() <= 4096 + 128);  // truncated
    }
    CHECK(contains(errors[1], "yyyy"));
    CHECK(errors[1].size() > 4000);
    CHECK(contains(errors[2], "instruction budget exceeded"));
    CHECK(s.hostile->core().strategy()->last_failure() == strategy::lua::failure_kind::none);
}

TEST_CASE("sandbox L11: deep recursion and the CVE-2021-43519 reproducer are ordinary errors") {
    side_by_side s;
    s.sandbox.instruction_budget = 100'000'000;
    s.start(std::string(R"(
local calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  if calls == 1 then
    local function deep(n) return 1 + deep(n + 1) end
    deep(1)
  elseif calls == 2 then
    local function f() pcall(1) coroutine.wrap(f)() end
    f()
  end
  return nil
end
)") + nil_rest);
    CHECK(s.feed(3));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 2);
    CHECK(contains(errors[0], "HOSTILEUSDT.lua:6: detect_opportunity: stack overflow"));
    CHECK(contains(errors[1], "C stack overflow"));
}

TEST_CASE("sandbox L14: a 50 MiB script is refused before parsing; 10000 nested parens fail") {
    SUBCASE("huge file") {
        side_by_side s;
        const auto path = s.dir.write("HOSTILEUSDT.lua", "-- huge\n");
        std::filesystem::resize_file(path, std::uintmax_t{50} << 20);
        const auto t0 = clock_type::now();
        s.start_file(path);
        CHECK(ms_since(t0) < 1000);  // the size is checked, nothing is read or parsed
        CHECK(s.feed(2));
        REQUIRE(s.hostile_done());
        s.stop();
        s.check_benign();
        REQUIRE(s.hostile->core().load_error());
        CHECK(*s.hostile->core().load_error() ==
              "HOSTILEUSDT.lua: script is 52428800 bytes (limit 1048576)");
    }
    SUBCASE("deeply nested expression") {
        side_by_side s;
        s.start("function detect_opportunity(m, ctx, ind)\n  return " + std::string(10000, '(') +
                "1" + std::string(10000, ')') + "\nend\n" + nil_rest);
        CHECK(s.feed(2));
        REQUIRE(s.hostile_done());
        s.stop();
        s.check_benign();
        REQUIRE(s.hostile->core().load_error());
        MESSAGE(*s.hostile->core().load_error());
        // The parser's nesting limit (LUAI_MAXCCALLS) answers before the C stack is at risk.
        CHECK(*s.hostile->core().load_error() == "HOSTILEUSDT.lua: C stack overflow");
    }
}

TEST_CASE("sandbox L15: garbage returns are rejected with specific messages; nothing is sent") {
    side_by_side s;
    s.start(R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
local garbage = {
  function(m) return "enter" end,
  function(m) return { action = 5 } end,
  function(m) return { action = "enter_long", quantity = 0/0 } end,
  function(m) return { action = "enter_long", quantity = 1/0 } end,
  function(m) return { action = "enter_long", quantity = -1 } end,
  function(m) return { action = "enter_long", quantity = math.maxinteger + 1 } end,
  function(m) return { action = "enter_long", quantity = "1" } end,
  function(m) return { action = "enter_long", stop_loss = m.ask * 2 } end,
  function(m)
    local t = { action = "enter_long" }
    for i = 1, 10000 do t[i] = { action = "enter_long" } end
    return t
  end,
}
local n = 0
function filter_commitment(m, ctx, ind)
  n = n + 1
  if garbage[n] then return garbage[n](m) end
  return nil
end
function manage_position(m, ctx, ind, p) return nil end
)");
    CHECK(s.feed(11));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    const auto errors = s.errors();
    REQUIRE(errors.size() == 9);
    const std::string p = "HOSTILEUSDT.lua: filter_commitment: ";
    CHECK(errors[0] == p + "returned a string (expected nil or a table)");
    CHECK(errors[1] == p + "field 'action': expected a string, got 5");
    CHECK(contains(errors[2], p + "field 'quantity': expected a finite number > 0, got "));
    CHECK(contains(errors[2], "nan"));
    CHECK(errors[3] == p + "field 'quantity': expected a finite number > 0, got inf");
    CHECK(errors[4] == p + "field 'quantity': expected a finite number > 0, got -1");
    CHECK(errors[5] ==
          p + "field 'quantity': expected a finite number > 0, got -9223372036854775808 "
              "(integers beyond 2^53 are not exact)");
    CHECK(errors[6] == p + "field 'quantity': expected a finite number > 0, got a string");
    CHECK(contains(errors[7], p + "field 'stop_loss': "));
    CHECK(contains(errors[7], "is on the wrong side for a long entry"));
    CHECK(errors[8] == p + "the table has a number key (action fields are named)");
    CHECK(s.hostile->core().broker().fill_count() == 0);
    CHECK(s.hostile_decisions.messages("fill").empty());
    CHECK(s.hostile->core().machine().current() == strategy::phase::analyzing);
}

TEST_CASE("sandbox L16: a flood of 1M print lines is rate-limited with one suppressed notice") {
    side_by_side s;
    s.sandbox.instruction_budget = 1'000'000'000;
    s.sandbox.time_limit_ms = 60'000;
    s.start(std::string(R"(
local calls = 0
function detect_opportunity(m, ctx, ind)
  calls = calls + 1
  if calls == 1 then
    for i = 1, 1000000 do print("flood", i) end
    for i = 1, 1000 do warn("flood warn ", i) end
  end
  return nil
end
)") + nil_rest);
    const auto t0 = clock_type::now();
    CHECK(s.feed(1));
    REQUIRE(s.hostile_done());
    const double seconds = ms_since(t0) / 1000;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(s.feed(1));  // the notice comes once logging is allowed again
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    const std::size_t flood = s.hostile_log->count("HOSTILEUSDT.lua: flood");
    MESSAGE(flood << " of 1001000 lines logged in " << seconds << " s");
    CHECK(flood >= 200);                                                 // the burst
    CHECK(flood <= 200 + static_cast<std::size_t>(50 * (seconds + 1)));  // then 50 lines/s
    for (const auto& l : s.hostile_log->lines())
        if (contains(l, "suppressed")) MESSAGE(l);
    CHECK(s.hostile_log->count("log lines suppressed") == 1);
    const auto& stats = s.hostile->core().strategy()->stats();
    CHECK(stats.log_lines_suppressed == 1'001'000 - flood);
    CHECK(s.hostile_log->count(std::to_string(1'001'000 - flood) + " log lines suppressed") == 1);
    CHECK(s.errors().empty());
}

TEST_CASE("sandbox L17: a weak metatable used as a metatable near the memory cap is refused") {
    side_by_side s;
    s.sandbox.memory_limit_mb = 16;
    s.sandbox.instruction_budget = 100'000'000;
    s.start(std::string(R"(
local hog = {}
function detect_opportunity(m, ctx, ind)
  pcall(function() while true do hog[#hog + 1] = string.rep("x", 1000) .. #hog end end)
  for i = 1, 200 do hog[#hog] = nil end  -- a little room below the cap
  local weak = setmetatable({__newindex = {}}, {__mode = "v"})
  local ok, err = pcall(setmetatable, {}, weak)
  -- churn close to the cap: emergency collections while tables with __newindex are written
  for i = 1, 2000 do
    pcall(function()
      local t = setmetatable({}, {__newindex = {}})
      t[i] = string.rep("z", 500)
    end)
  end
  hog = {}
  ctx.refused = tostring(err)
  return nil
end
)") + nil_rest);
    CHECK(s.feed(2));
    REQUIRE(s.hostile_done());
    s.stop();
    s.check_benign();
    CHECK(s.errors().empty());
    REQUIRE(s.hostile_ctx("refused") != nullptr);
    CHECK(contains(std::get<std::string>(*s.hostile_ctx("refused")),
                   "setmetatable: a metatable may not have a metatable itself"));
    CHECK(s.hostile_log->count(
              "security: setmetatable with a metatable that has a metatable refused") == 2);
}
