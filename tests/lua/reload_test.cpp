// Catalogue rows L12 and L13 (../shared/RELIABILITY.md §5.1): replacing a strategy at run time is
// all-or-nothing, and only complete, readable, regular, size-capped files are compiled.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <decision_capture.hpp>
#include <nlohmann/json.hpp>
#include <test_support.hpp>
#include <vector>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/strategy/lua/content_hash.hpp>

using namespace tradingd;
using tradingd::testing::closed_event;
using tradingd::testing::make_candle;

namespace {

using tradingd::testing::capture_sink;

// Version 1: enters long on the second candle, counts its calls in ctx.v1_calls.
constexpr const char* version1 = R"(
function detect_opportunity(m, ctx, ind)
  ctx.version = 1
  ctx.v1_calls = (ctx.v1_calls or 0) + 1
  return { reason = "v1" }
end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.5, take_profit = m.ask * 2 }
end
function manage_position(m, ctx, ind, p)
  ctx.version = 1
  ctx.v1_calls = (ctx.v1_calls or 0) + 1
  return nil
end
)";

// Version 2: never exits either, counts its own calls.
constexpr const char* version2 = R"(
function detect_opportunity(m, ctx, ind) return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p)
  ctx.version = 2
  ctx.v2_calls = (ctx.v2_calls or 0) + 1
  return nil
end
)";

struct fixture {
    testing::temp_dir dir;
    capture_sink sink;
    std::filesystem::path script = dir.path() / "strat.lua";
    std::unique_ptr<engine::runner_core> runner;
    std::int64_t i = 0;

    fixture() {
        dir.write("strat.lua", version1);
        config::symbol_config s;
        s.symbol = "TESTUSDT";
        s.strategy = "strat";
        s.strategy_path = script;
        s.window = 50;
        s.quantity = 1;
        runner = std::make_unique<engine::runner_core>(s, config::sandbox_config{},
                                                       config::paper_config{}, sink, nullptr);
        REQUIRE_FALSE(runner->load_error());
        // Into a position with v1, ctx holding v1's values.
        candle_at(100);
        candle_at(100);
        REQUIRE(runner->machine().current() == strategy::phase::in_position);
    }
    void candle_at(double price) { runner->on_event(closed_event(make_candle(i++, price))); }
    const scalar* ctx(const char* k) const { return runner->machine().ctx().get(k); }
    std::int64_t ctx_int(const char* k) const { return std::get<std::int64_t>(*ctx(k)); }
    /// Asserts that v1 is still the running version and nothing changed.
    void check_v1_still_runs(const std::vector<std::pair<std::string, scalar>>& ctx_before) {
        CHECK(runner->machine().ctx().entries() == ctx_before);
        const auto calls = ctx_int("v1_calls");
        candle_at(101);
        CHECK(ctx_int("v1_calls") == calls + 1);
        CHECK(runner->machine().current() == strategy::phase::in_position);
        CHECK(ctx_int("version") == 1);
    }
};

}  // namespace

TEST_CASE("sandbox L12: a good reload swaps the script and keeps position, stops and ctx") {
    fixture f;
    const auto pos_before = *f.runner->machine().current_position();
    f.dir.write("strat.lua", version2);
    REQUIRE(f.runner->reload(f.script).ok());
    const auto& pos = *f.runner->machine().current_position();
    CHECK(pos.entry_price == pos_before.entry_price);
    CHECK(pos.stop_loss == pos_before.stop_loss);
    CHECK(pos.take_profit == pos_before.take_profit);
    CHECK(f.ctx_int("version") == 1);  // ctx carried over as it was
    CHECK(f.ctx_int("v1_calls") == 1);
    f.candle_at(101);
    CHECK(f.ctx_int("version") == 2);
    CHECK(f.ctx_int("v2_calls") == 1);
    CHECK(f.ctx_int("v1_calls") == 1);  // the old version no longer runs
    CHECK(f.sink.count("reloaded") == 1);
    // ctx writes of the new version reach the runner's context (rebound from the scratch copy).
    f.candle_at(102);
    CHECK(f.ctx_int("v2_calls") == 2);
}

TEST_CASE("sandbox L12: a reload with a syntax error keeps the old version, error has file:line") {
    fixture f;
    const auto ctx_before = f.runner->machine().ctx().entries();
    f.dir.write("strat.lua", "function detect_opportunity(m)\n  return {\nend\n");
    const auto r = f.runner->reload(f.script);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("strat.lua:3:") == 0);
    REQUIRE(f.runner->reload_error());
    CHECK(f.sink.count("reload_failed") == 1);
    f.check_v1_still_runs(ctx_before);
}

TEST_CASE("sandbox L12: a runtime error in the top-level chunk or on_init changes nothing") {
    fixture f;
    const auto ctx_before = f.runner->machine().ctx().entries();
    // The top level fails after defining everything.
    f.dir.write("strat.lua", std::string(version2) + "\nlocal x = nil\nx.boom = 1\n");
    auto r = f.runner->reload(f.script);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("strat.lua:11:") == 0);
    f.check_v1_still_runs(ctx_before);
    // on_init fails.
    const auto ctx_mid = f.runner->machine().ctx().entries();
    f.dir.write("strat.lua",
                std::string(version2) + "\nfunction on_init() error('init failed') end\n");
    r = f.runner->reload(f.script);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("init failed") != std::string::npos);
    f.check_v1_still_runs(ctx_mid);
}

TEST_CASE("sandbox L12: a reload missing a required callback is refused, naming it") {
    fixture f;
    const auto ctx_before = f.runner->machine().ctx().entries();
    f.dir.write("strat.lua",
                "function detect_opportunity() end\nfunction filter_commitment() end\n");
    const auto r = f.runner->reload(f.script);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("missing required function 'manage_position'") !=
          std::string::npos);
    f.check_v1_still_runs(ctx_before);
}

TEST_CASE("sandbox L12: a good reload lifts a suspension caused by failures") {
    fixture f;
    f.dir.write("strat.lua", R"(
function detect_opportunity() return nil end
function filter_commitment() return nil end
function manage_position() error("broken") end
)");
    REQUIRE(f.runner->reload(f.script).ok());
    for (int k = 0; k < 5; ++k)
        f.candle_at(100);
    REQUIRE(f.runner->suspended());
    f.dir.write("strat.lua", version2);
    REQUIRE(f.runner->reload(f.script).ok());
    CHECK_FALSE(f.runner->suspended());
    f.candle_at(100);
    CHECK(f.ctx_int("v2_calls") == 1);
}

TEST_CASE("sandbox L13: only complete, regular, readable, size-capped files are compiled") {
    fixture f;
    const auto refused = [&](const std::string& expect) {
        const auto before = f.runner->machine().ctx().entries();
        const auto r = f.runner->reload(f.script);
        CHECK_FALSE(r.ok());
        CHECK_MESSAGE(r.error_message().find(expect) != std::string::npos, r.error_message());
        f.check_v1_still_runs(before);
    };

    SUBCASE("half written: the file ends mid-function") {
        const std::string full = version2;
        f.dir.write("strat.lua", full.substr(0, full.size() / 2));
        refused("strat.lua:");
    }
    SUBCASE("deleted") {
        std::filesystem::remove(f.script);
        refused("No such file or directory");
    }
    SUBCASE("replaced by a directory") {
        std::filesystem::remove(f.script);
        std::filesystem::create_directory(f.script);
        refused("is not a regular file");
    }
    SUBCASE("replaced by a symlink loop") {
        std::filesystem::remove(f.script);
        std::filesystem::create_symlink(f.dir.path() / "loop_b.lua", f.script);
        std::filesystem::create_symlink(f.script, f.dir.path() / "loop_b.lua");
        refused("Too many levels of symbolic links");
    }
    SUBCASE("replaced by a FIFO (would block a naive reader)") {
        std::filesystem::remove(f.script);
        REQUIRE(::mkfifo(f.script.c_str(), 0600) == 0);
        refused("is not a regular file");
    }
    SUBCASE("larger than the size cap") {
        std::string big(std::size_t{2} << 20, '-');  // 2 MiB of comment > the 1 MiB default
        f.dir.write("strat.lua", big);
        refused("bytes (limit");
    }
    SUBCASE("permission denied") {
        if (::geteuid() == 0) {
            MESSAGE("running as root: file permissions do not apply, nothing to check");
            return;
        }
        f.dir.write("strat.lua", version2);
        std::filesystem::permissions(f.script, std::filesystem::perms::none);
        refused("Permission denied");
    }
    SUBCASE("renamed over: the complete new file is what gets loaded") {
        const auto tmp = f.dir.write(".strat.lua.tmp", version2);
        std::filesystem::rename(tmp, f.script);
        REQUIRE(f.runner->reload(f.script).ok());
        f.candle_at(101);
        CHECK(f.ctx_int("version") == 2);
    }
}

// ---- Hot reload in two halves: built off the runner's thread, installed between events ----

TEST_CASE("hot reload: a version built earlier adopts the ctx as it is when it is installed") {
    fixture f;
    // v2 reads what v1 left in ctx: it must see the values of the moment of the swap, not those
    // of the moment it was built.
    constexpr const char* reader = R"(
function detect_opportunity(m, ctx, ind) return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p)
  ctx.seen_v1_calls = ctx.v1_calls
  return nil
end
)";
    config::symbol_config sym;
    sym.symbol = "TESTUSDT";
    sym.strategy = "strat";
    sym.strategy_path = f.script;
    sym.window = 50;
    sym.quantity = 1;
    engine::prepared_strategy p = f.runner->prepare(sym, reader);
    REQUIRE(p.strategy != nullptr);
    f.candle_at(101);
    f.candle_at(102);  // v1 keeps running meanwhile: v1_calls grows to 3
    REQUIRE(f.ctx_int("v1_calls") == 3);
    const std::string old_hash = f.runner->strategy()->hash();
    REQUIRE(f.runner->install(std::move(p)).ok());
    f.candle_at(103);
    CHECK(f.ctx_int("seen_v1_calls") == 3);
    const auto reloaded = f.sink.with_event("reloaded");
    REQUIRE(reloaded.size() == 1);
    CHECK(reloaded[0]["previous_hash"] == old_hash);
    CHECK(reloaded[0]["script_hash"] == strategy::lua::content_hash(reader));
}

TEST_CASE(
    "hot reload: on_reload(old_ctx) migrates ctx; nil keeps it; its errors refuse the version") {
    constexpr const char* migrating = R"(
function on_reload(old)
  return { calls = old.v1_calls, migrated = true }
end
function detect_opportunity(m, ctx, ind) return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p)
  ctx.read_back = ctx.calls
  return nil
end
)";
    SUBCASE("a returned table becomes ctx, on both sides") {
        fixture f;
        f.dir.write("strat.lua", migrating);
        REQUIRE(f.runner->reload(f.script).ok());
        const auto& ctx = f.runner->machine().ctx();
        CHECK(ctx.get("v1_calls") == nullptr);
        CHECK(f.ctx_int("calls") == 1);
        CHECK(std::get<bool>(*ctx.get("migrated")));
        f.candle_at(101);
        CHECK(f.ctx_int("read_back") == 1);  // the Lua side holds the migrated values too
    }
    SUBCASE("nil keeps ctx as it is") {
        fixture f;
        const auto before = f.runner->machine().ctx().entries();
        f.dir.write("strat.lua",
                    std::string("function on_reload(old) return nil end\n") + version2);
        REQUIRE(f.runner->reload(f.script).ok());
        CHECK(f.runner->machine().ctx().entries() == before);
    }
    SUBCASE("an error in on_reload refuses the version") {
        fixture f;
        const auto before = f.runner->machine().ctx().entries();
        const std::string bad =
            std::string("function on_reload(old) error('cannot migrate') end\n") + version2;
        f.dir.write("strat.lua", bad);
        const auto r = f.runner->reload(f.script);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error_message().find("strat.lua:1: on_reload:") == 0);
        CHECK(r.error_message().find("cannot migrate") != std::string::npos);
        const auto failed = f.sink.with_event("reload_failed");
        REQUIRE(failed.size() == 1);
        CHECK(failed[0]["refused_hash"] == strategy::lua::content_hash(bad));
        CHECK(f.runner->summary().failed_hash == strategy::lua::content_hash(bad));
        f.check_v1_still_runs(before);
    }
    SUBCASE("a value ctx cannot hold refuses the version, naming the field") {
        fixture f;
        const auto before = f.runner->machine().ctx().entries();
        f.dir.write(
            "strat.lua",
            std::string("function on_reload(old) return { levels = {1, 2} } end\n") + version2);
        const auto r = f.runner->reload(f.script);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error_message().find("field 'levels'") != std::string::npos);
        f.check_v1_still_runs(before);
    }
}

TEST_CASE("hot reload: records name the version that made them, the new one only after the swap") {
    fixture f;
    const std::string v1_hash = strategy::lua::content_hash(version1);
    for (const auto& r : f.sink.with_event("call"))
        CHECK(r["script_hash"] == v1_hash);
    // v3 exits on its first call: its records must carry its own hash.
    constexpr const char* v3 = R"(
function detect_opportunity(m, ctx, ind) return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return { action = "exit", reason = "v3" } end
)";
    f.dir.write("strat.lua", v3);
    REQUIRE(f.runner->reload(f.script).ok());
    f.candle_at(101);
    const auto fills = f.sink.with_event("fill");
    REQUIRE(fills.size() == 2);  // v1's entry, v3's exit
    CHECK(fills[0]["script_hash"] == v1_hash);
    CHECK(fills[1]["script_hash"] == strategy::lua::content_hash(v3));
    CHECK(f.runner->summary().reloads == 1);
}
