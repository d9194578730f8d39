#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <decision_capture.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <test_support.hpp>
#include <thread>
#include <vector>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/strategy/lua/content_hash.hpp>

using namespace tradingd;
using tradingd::testing::closed_event;
using tradingd::testing::make_candle;
using tradingd::testing::quote_event;

namespace {

using tradingd::testing::capture_sink;

// Enters long on the first closed candle (stop/target 10% away), never exits by itself.
constexpr const char* enter_long_script = R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.9, take_profit = m.ask * 1.1, reason = "in" }
end
function manage_position(m, ctx, ind, p) return nil end
)";

constexpr const char* enter_short_script = R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind)
  return { action = "enter_short", quantity = 2, stop_loss = m.bid * 1.1, take_profit = m.bid * 0.9 }
end
function manage_position(m, ctx, ind, p) return nil end
)";

struct fixture {
    testing::temp_dir dir;
    capture_sink sink;
    config::sandbox_config sandbox;
    config::paper_config paper;

    fixture() {
        paper.fee_bps = 10;
        paper.slippage_bps = 0;
        sandbox.max_consecutive_failures = 3;
        sandbox.instruction_budget = 200'000;
    }
    config::symbol_config symbol(const std::string& script, const std::string& name = "TESTUSDT") {
        config::symbol_config s;
        s.symbol = name;
        s.strategy = name;
        s.strategy_path = dir.write(name + ".lua", script);
        s.window = 100;
        s.quantity = 1;
        return s;
    }
    std::unique_ptr<engine::runner_core> runner(const std::string& script,
                                                const std::string& name = "TESTUSDT") {
        return std::make_unique<engine::runner_core>(symbol(script, name), sandbox, paper, sink,
                                                     nullptr);
    }
};

}  // namespace

TEST_CASE("runner: closed candles drive Idle -> Analyzing -> InPosition with a paper fill at ask") {
    fixture f;
    auto r = f.runner(enter_long_script);
    REQUIRE_FALSE(r->load_error());
    r->on_event(closed_event(make_candle(0, 100)));
    CHECK(r->machine().current() == strategy::phase::analyzing);
    r->on_event(closed_event(make_candle(1, 100)));
    REQUIRE(r->machine().current() == strategy::phase::in_position);
    const auto& pos = *r->machine().current_position();
    CHECK(pos.entry_price == doctest::Approx(100.01));  // ask = close + spread/2
    CHECK(pos.quantity == 1);                           // configured quantity
    CHECK(pos.entry_fee == doctest::Approx(100.01 * 1 * 10 / 1e4));
    const auto fills = f.sink.with_event("fill");
    REQUIRE(fills.size() == 1);
    CHECK(fills[0]["side"] == "buy");
    CHECK(fills[0]["symbol"] == "TESTUSDT");
    CHECK(f.sink.with_event("transition").size() == 2);
    CHECK(f.sink.with_event("call").size() == 2);
}

TEST_CASE("runner: every decision record names the script version (content hash) that made it") {
    CHECK(strategy::lua::content_hash("abc") == "ba7816bf8f01");  // SHA-256("abc"), 12 digits
    fixture f;
    auto r = f.runner(enter_long_script);
    REQUIRE(r->strategy() != nullptr);
    const std::string expected = strategy::lua::content_hash(enter_long_script);
    CHECK(r->strategy()->hash() == expected);
    r->on_event(closed_event(make_candle(0, 100)));
    r->on_event(closed_event(make_candle(1, 100)));
    REQUIRE(f.sink.with_event("fill").size() == 1);
    for (const auto& event : {"call", "transition", "fill"}) {
        for (const auto& record : f.sink.with_event(event)) {
            CHECK_MESSAGE(record.value("script_hash", std::string()) == expected, record.dump());
        }
    }
}

TEST_CASE("runner: quotes only check the auto-exit; they never call the strategy") {
    fixture f;
    auto r = f.runner(R"(
function detect_opportunity(m, ctx, ind) ctx.calls = (ctx.calls or 0) + 1 return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)");
    for (int i = 0; i < 50; ++i)
        r->on_event(quote_event(1000 + i, 99.9, 100.1));
    CHECK(r->summary().strategy_calls == 0);
    r->on_event(closed_event(make_candle(0, 100)));
    CHECK(r->summary().strategy_calls == 1);
    REQUIRE(r->machine().ctx().get("calls") != nullptr);
}

TEST_CASE(
    "runner: a long exits on the first quote whose bid reaches the stop, filled at that bid") {
    fixture f;
    auto r = f.runner(enter_long_script);
    r->on_event(closed_event(make_candle(0, 100)));
    r->on_event(closed_event(make_candle(1, 100)));
    REQUIRE(r->machine().current() == strategy::phase::in_position);
    const double stop = *r->machine().current_position()->stop_loss;  // 90.009
    r->on_event(quote_event(2'000'000'000'000, stop + 0.5, stop + 0.6));
    CHECK(r->machine().current() == strategy::phase::in_position);
    // The market gaps through the stop: the fill is at the gapped bid, not at the stop level.
    r->on_event(quote_event(2'000'000'000'001, 85.0, 85.1));
    CHECK(r->machine().current() == strategy::phase::idle);
    const auto exits = f.sink.with_event("auto_exit");
    REQUIRE(exits.size() == 1);
    CHECK(exits[0]["reason"] == "stop_loss");
    CHECK(exits[0]["price"] == doctest::Approx(85.0));
    const auto fills = f.sink.with_event("fill");
    REQUIRE(fills.size() == 2);
    CHECK(fills[1]["side"] == "sell");
    CHECK(fills[1]["price"] == doctest::Approx(85.0));
    CHECK(r->summary().auto_exits == 1);
    CHECK(r->summary().trades == 1);
    CHECK(r->summary().realized_pnl < 0);
}

TEST_CASE(
    "runner: a short takes profit when the ask reaches the target, on a forming-candle update") {
    fixture f;
    auto r = f.runner(enter_short_script);
    r->on_event(closed_event(make_candle(0, 100)));
    r->on_event(closed_event(make_candle(1, 100)));
    REQUIRE(r->machine().current() == strategy::phase::in_position);
    CHECK(r->machine().current_position()->quantity == 2);
    const double target = *r->machine().current_position()->take_profit;  // 89.991
    market_event upd = closed_event(make_candle(2, target - 0.5));
    upd.kind = event_kind::candle_update;
    r->on_event(upd);
    CHECK(r->machine().current() == strategy::phase::idle);
    const auto exits = f.sink.with_event("auto_exit");
    REQUIRE(exits.size() == 1);
    CHECK(exits[0]["reason"] == "take_profit");
    CHECK(r->summary().realized_pnl > 0);
}

TEST_CASE("runner: warm-up candles fill the window and indicators without strategy calls") {
    fixture f;
    auto r = f.runner(R"(
function detect_opportunity(m, ctx, ind) ctx.sma = ind.sma(5) return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)");
    for (int i = 0; i < 10; ++i)
        r->on_event(closed_event(make_candle(i, 100 + i), 0.02, true));
    CHECK(r->summary().strategy_calls == 0);
    CHECK(r->window().size() == 10);
    r->on_event(closed_event(make_candle(10, 110)));
    REQUIRE(r->machine().ctx().get("sma") != nullptr);
    CHECK(std::get<double>(*r->machine().ctx().get("sma")) == doctest::Approx(108.0));
}

TEST_CASE("runner: consecutive failures suspend the strategy; the open position stays protected") {
    fixture f;
    // Enters, then every manage_position call raises.
    auto r = f.runner(R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.9 }
end
function manage_position(m, ctx, ind, p) error("boom") end
)");
    r->on_event(closed_event(make_candle(0, 100)));
    r->on_event(closed_event(make_candle(1, 100)));
    REQUIRE(r->machine().current() == strategy::phase::in_position);
    for (int i = 2; i < 5; ++i)
        r->on_event(closed_event(make_candle(i, 100)));
    CHECK(r->suspended());
    CHECK(r->summary().strategy_errors == 3);
    const auto errors = f.sink.with_event("error");
    REQUIRE(errors.size() == 3);
    CHECK(errors[0]["function"] == "manage_position");
    CHECK(errors[0]["message"].get<std::string>().find("boom") != std::string::npos);
    CHECK(errors[0]["message"].get<std::string>().find("TESTUSDT.lua:") != std::string::npos);
    REQUIRE(f.sink.with_event("suspended").size() == 1);
    // Suspended: no more strategy calls...
    const auto calls = r->summary().strategy_calls;
    r->on_event(closed_event(make_candle(5, 100)));
    CHECK(r->summary().strategy_calls == calls);
    // ...but the stop-loss still fires.
    r->on_event(quote_event(2'000'000'000'000, 80, 80.1));
    CHECK(r->machine().current() == strategy::phase::idle);
    CHECK(f.sink.with_event("auto_exit").size() == 1);
}

TEST_CASE("runner: a success resets the consecutive failure count") {
    fixture f;
    auto r = f.runner(R"(
function detect_opportunity(m, ctx, ind)
  ctx.n = (ctx.n or 0) + 1
  if ctx.n % 2 == 0 then error("every other call fails") end
  return nil
end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)");
    for (int i = 0; i < 20; ++i)
        r->on_event(closed_event(make_candle(i, 100)));
    CHECK_FALSE(r->suspended());
    CHECK(r->summary().strategy_errors == 10);
}

TEST_CASE("runner: an invalid action is an error and changes nothing") {
    fixture f;
    auto r = f.runner(R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind) return { action = "enter_long", quantity = -1 } end
function manage_position(m, ctx, ind, p) return nil end
)");
    r->on_event(closed_event(make_candle(0, 100)));
    r->on_event(closed_event(make_candle(1, 100)));
    CHECK(r->machine().current() == strategy::phase::analyzing);
    CHECK(r->broker().fill_count() == 0);
    const auto errors = f.sink.with_event("error");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0]["message"].get<std::string>().find("quantity") != std::string::npos);
}

TEST_CASE("runner: a script that fails to load leaves the runner suspended, with the error") {
    fixture f;
    auto r = f.runner("function detect_opportunity(m, ctx, ind) return nil\n");  // syntax error
    REQUIRE(r->load_error());
    CHECK(r->load_error()->find("TESTUSDT.lua:") != std::string::npos);
    CHECK(r->suspended());
    r->on_event(closed_event(make_candle(0, 100)));
    CHECK(r->summary().strategy_calls == 0);
    CHECK(f.sink.with_event("load_error").size() == 1);
}

TEST_CASE("runner: an infinite loop in one symbol does not stop another symbol's runner") {
    fixture f;
    f.sandbox.time_limit_ms = 50;
    f.sandbox.instruction_budget = 1'000'000'000;  // the wall-clock limit must catch it
    engine::symbol_runner hostile(f.runner(R"(
function detect_opportunity(m, ctx, ind) while true do end end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)",
                                           "HOSTILEUSDT"),
                                  64);
    engine::symbol_runner benign(f.runner(enter_long_script, "BENIGNUSDT"), 64);
    hostile.start();
    benign.start();
    for (int i = 0; i < 10; ++i) {
        hostile.push(closed_event(make_candle(i, 100)));
        benign.push(closed_event(make_candle(i, 100)));
    }
    // The benign runner is done long before the hostile one burns 10 x 50 ms.
    CHECK(testing::wait_until([&] { return benign.processed() == 10; }));
    hostile.stop();
    benign.stop();
    CHECK(benign.core().machine().current() == strategy::phase::in_position);
    CHECK(hostile.core().summary().strategy_errors >= 3);
    CHECK(hostile.core().suspended());
}

TEST_CASE("runner: posted commands run on the runner's thread between events, even when idle") {
    fixture f;
    engine::symbol_runner runner(f.runner(enter_long_script), 64);
    runner.start();
    // Idle (no events): the command still runs promptly, on the runner's thread.
    std::atomic<bool> ran{false};
    std::thread::id ran_on;
    REQUIRE(runner.post([&](engine::runner_core&) {
        ran_on = std::this_thread::get_id();
        ran = true;
    }));
    REQUIRE(testing::wait_until([&] { return ran.load(); }));
    CHECK(ran_on != std::this_thread::get_id());
    // Between events: commands run in posting order, ahead of events still queued (a reload does
    // not wait for the backlog), each at a point between two events.
    std::vector<std::uint64_t> seen;
    for (int i = 0; i < 20; ++i) {
        runner.push(closed_event(make_candle(i, 100)));
        runner.post([&](engine::runner_core& core) { seen.push_back(core.summary().events); });
    }
    REQUIRE(testing::wait_until([&] { return runner.processed() == 20; }));
    runner.stop();
    CHECK_FALSE(runner.post([](engine::runner_core&) {}));  // refused once stopped
    REQUIRE(seen.size() == 20);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(seen.back() <= 20);
}

TEST_CASE("runner: a retired symbol takes no new entries and manages or flattens its position") {
    SUBCASE("keep: the position stays until it closes; then no more calls") {
        fixture f;
        auto r = f.runner(enter_long_script);
        r->on_event(closed_event(make_candle(0, 100)));
        r->on_event(closed_event(make_candle(1, 100)));
        REQUIRE(r->machine().current() == strategy::phase::in_position);
        r->retire(/*flatten=*/false);
        CHECK(f.sink.count("retired") == 1);
        r->on_event(closed_event(make_candle(2, 100)));
        CHECK(r->machine().current() == strategy::phase::in_position);
        r->on_event(quote_event(make_candle(3, 100).close_time, 80, 80.02));  // stop hit
        REQUIRE(r->machine().current() == strategy::phase::idle);
        const auto calls = r->summary().strategy_calls;
        for (int i = 4; i < 8; ++i)
            r->on_event(closed_event(make_candle(i, 100)));
        CHECK(r->summary().strategy_calls == calls);  // no detect_opportunity any more
        CHECK(f.sink.count("fill") == 2);
    }
    SUBCASE("flatten: closed at the market at once") {
        fixture f;
        auto r = f.runner(enter_long_script);
        r->on_event(closed_event(make_candle(0, 100)));
        r->on_event(closed_event(make_candle(1, 100)));
        REQUIRE(r->machine().current() == strategy::phase::in_position);
        r->retire(/*flatten=*/true);
        CHECK(r->machine().current() == strategy::phase::idle);
        const auto fills = f.sink.with_event("fill");
        REQUIRE(fills.size() == 2);
        CHECK(fills[1]["side"] == "sell");
        CHECK(r->summary().retiring);
    }
    SUBCASE("an analysis in progress is cancelled") {
        fixture f;
        auto r = f.runner(enter_long_script);
        r->on_event(closed_event(make_candle(0, 100)));
        REQUIRE(r->machine().current() == strategy::phase::analyzing);
        r->retire(false);
        CHECK(r->machine().current() == strategy::phase::idle);
        r->on_event(closed_event(make_candle(1, 100)));
        CHECK(r->machine().current() == strategy::phase::idle);
        CHECK(f.sink.count("fill") == 0);
    }
}
