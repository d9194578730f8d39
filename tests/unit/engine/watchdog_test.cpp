// Tests for the wedge watchdog. A runner is stalled deterministically, without Lua tricks: its
// decision sink blocks inside write() (called from runner_core::on_event) until the test
// releases it, exactly like a C function that does not return.

#include <doctest/doctest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <test_support.hpp>
#include <thread>
#include <vector>

#include <tradingd/engine/runner_core.hpp>
#include <tradingd/engine/symbol_runner.hpp>
#include <tradingd/engine/watchdog.hpp>

using namespace tradingd;
using namespace std::chrono_literals;
using tradingd::testing::closed_event;
using tradingd::testing::make_candle;
using tradingd::testing::quote_event;
using tradingd::testing::wait_until;
using clock_type = std::chrono::steady_clock;

namespace {

/// Records decisions as JSON; while holding, a write() of a record whose action is `action`
/// blocks until release(), stalling the runner inside on_event.
class gate_sink final : public engine::decision_sink {
public:
    void hold(std::string action) {
        std::lock_guard lock(mutex_);
        hold_action_ = std::move(action);
        holding_ = true;
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            holding_ = false;
        }
        released_.notify_all();
    }
    void write(const engine::decision_record& r) noexcept override {
        std::unique_lock lock(mutex_);
        if (holding_ && hold_action_ == r.action) {
            ++blocked_;
            released_.wait(lock, [this] { return !holding_; });
        }
        lines_.push_back(nlohmann::json::parse(engine::to_json_line(r)));
    }
    int blocked() const {
        std::lock_guard lock(mutex_);
        return blocked_;
    }
    std::vector<nlohmann::json> with_event(const std::string& event) const {
        std::lock_guard lock(mutex_);
        std::vector<nlohmann::json> out;
        for (const auto& l : lines_)
            if (l["event"] == event) out.push_back(l);
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable released_;
    bool holding_ = false;
    std::string hold_action_;
    int blocked_ = 0;
    std::vector<nlohmann::json> lines_;
};

/// Releases the sink when the test leaves its scope (declared after the runners, so it runs
/// before their destructors join threads that may still be blocked in the sink).
struct release_on_exit {
    gate_sink& sink;
    ~release_on_exit() { sink.release(); }
};

/// What the watchdog logged, one "level message" line each.
class log_capture {
public:
    log_capture()
        : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)),
          logger_(std::make_shared<spdlog::logger>("watchdog", sink_)) {
        sink_->set_pattern("%l %v");
        logger_->set_level(spdlog::level::trace);
    }
    std::shared_ptr<spdlog::logger> logger() const { return logger_; }
    std::vector<std::string> lines() const { return sink_->last_formatted(); }
    /// Lines containing every one of `parts`.
    std::size_t count(std::initializer_list<std::string> parts) const {
        const auto all = lines();
        return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const auto& l) {
            return std::all_of(parts.begin(), parts.end(),
                               [&](const auto& p) { return l.find(p) != std::string::npos; });
        }));
    }
    std::string joined() const {
        std::string out;
        for (const auto& l : lines())
            out += l + "\n";
        return out;
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> logger_;
};

/// Counts on_fatal calls and keeps the reasons.
class fatal_recorder {
public:
    engine::watchdog::fatal_handler handler() {
        return [this](const std::string& reason) {
            std::lock_guard lock(mutex_);
            reasons_.push_back(reason);
        };
    }
    std::vector<std::string> reasons() const {
        std::lock_guard lock(mutex_);
        return reasons_;
    }
    std::size_t calls() const { return reasons().size(); }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> reasons_;
};

// Opens an analysis on every closed candle in Idle (one "call" record with open_analysis).
constexpr const char* open_script = R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)";

// Idle -> Analyzing on the first candle, enter_long on the second.
constexpr const char* enter_long_script = R"(
function detect_opportunity(m, ctx, ind) return { reason = "go" } end
function filter_commitment(m, ctx, ind)
  return { action = "enter_long", stop_loss = m.ask * 0.9, take_profit = m.ask * 1.1, reason = "in" }
end
function manage_position(m, ctx, ind, p) return nil end
)";

// Never returns an action: no decision records, so its sink never blocks.
constexpr const char* quiet_script = R"(
function detect_opportunity(m, ctx, ind) return nil end
function filter_commitment(m, ctx, ind) return nil end
function manage_position(m, ctx, ind, p) return nil end
)";

struct fixture {
    testing::temp_dir dir;
    config::sandbox_config sandbox;
    config::paper_config paper;
    std::shared_ptr<spdlog::logger> quiet =
        std::make_shared<spdlog::logger>("quiet", std::make_shared<spdlog::sinks::null_sink_mt>());
    log_capture log;
    fatal_recorder fatal;

    std::unique_ptr<engine::symbol_runner> runner(const std::string& script,
                                                  const std::string& name,
                                                  engine::decision_sink& sink,
                                                  std::size_t capacity = 64) {
        config::symbol_config s;
        s.symbol = name;
        s.strategy = name;
        s.strategy_path = dir.write(name + ".lua", script);
        s.window = 100;
        s.quantity = 1;
        auto core = std::make_unique<engine::runner_core>(s, sandbox, paper, sink, quiet);
        REQUIRE_FALSE(core->load_error());
        return std::make_unique<engine::symbol_runner>(std::move(core), capacity);
    }
    std::unique_ptr<engine::watchdog> watchdog(std::chrono::milliseconds wedge_after,
                                               std::chrono::milliseconds exit_after) {
        return std::make_unique<engine::watchdog>(engine::watchdog_limits{wedge_after, exit_after},
                                                  fatal.handler(), log.logger());
    }
};

std::chrono::milliseconds since(clock_type::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0);
}

}  // namespace

TEST_CASE("watchdog: a runner stuck in one event is flagged wedged while another keeps going") {
    fixture f;
    gate_sink stuck_sink;
    gate_sink other_sink;
    stuck_sink.hold("open_analysis");
    auto stuck = f.runner(open_script, "STUCKUSDT", stuck_sink);
    auto other = f.runner(quiet_script, "OTHERUSDT", other_sink, 1024);
    release_on_exit guard{stuck_sink};
    auto wd = f.watchdog(100ms, 10s);
    wd->watch(*stuck);
    wd->watch(*other);
    stuck->start();
    other->start();

    const auto t0 = clock_type::now();
    stuck->push(closed_event(make_candle(0, 100)));
    REQUIRE(wait_until([&] { return stuck_sink.blocked() == 1; }, 2s));
    constexpr int n = 300;
    for (int i = 0; i < n; ++i)
        other->push(closed_event(make_candle(i, 100 + i % 7)));
    CHECK(wait_until([&] { return other->processed() == n; }, 2s));

    REQUIRE(wait_until([&] { return stuck->wedged(); }, 2s));
    const auto flagged_after = since(t0);
    CHECK(flagged_after >= 100ms);
    CHECK(flagged_after < 500ms);
    CHECK(stuck->processed() == 0);  // still inside its first event
    CHECK_FALSE(other->wedged());
    CHECK(other->processed() == n);

    INFO(f.log.joined());
    CHECK(f.log.count({"critical STUCKUSDT: runner wedged: one event has taken ",
                       " ms (limit 100 ms); new entries blocked; open positions cannot be "
                       "managed while it is stuck"}) == 1);
    CHECK(f.log.count({"OTHERUSDT"}) == 0);
    CHECK(f.fatal.calls() == 0);
}

TEST_CASE("watchdog: a wedged runner with a full queue does not hold up the feed thread") {
    fixture f;
    gate_sink stuck_sink;
    gate_sink other_sink;
    stuck_sink.hold("open_analysis");
    auto stuck = f.runner(open_script, "STUCKUSDT", stuck_sink, 16);
    auto other = f.runner(quiet_script, "OTHERUSDT", other_sink, 16);
    release_on_exit guard{stuck_sink};
    auto wd = f.watchdog(100ms, 10s);
    wd->watch(*stuck);
    wd->watch(*other);
    stuck->start();
    other->start();

    stuck->push(closed_event(make_candle(0, 100)));
    REQUIRE(wait_until([&] { return stuck_sink.blocked() == 1; }, 2s));
    // This thread is the feed: one producer for both runners, as in the daemon.
    const auto t0 = clock_type::now();
    for (int i = 1; i <= 100; ++i) {
        CHECK(stuck->push(quote_event(i, 99.9, 100.1)));
        CHECK(other->push(quote_event(i, 99.9, 100.1)));
    }
    // Held up only until the stuck runner was flagged (100 ms after its event started).
    CHECK(since(t0) < 1s);
    CHECK(wait_until([&] { return other->processed() == 100; }, 2s));
    CHECK(stuck->wedged());
    CHECK(stuck->dropped() == 100 - 16);  // the queue kept the first 16
    CHECK(wait_until([&] {
        return f.log.count({"error STUCKUSDT: event queue full while the runner is wedged"}) == 1;
    }));

    stuck_sink.release();
    CHECK(wait_until([&] { return stuck->processed() == 17; }, 2s));
    CHECK(wait_until([&] {
        return f.log.count({"STUCKUSDT: runner recovered after ",
                            "84 events were dropped while its queue was full"}) == 1;
    }));
}

TEST_CASE("watchdog: a runner still stuck after the exit deadline triggers on_fatal once") {
    fixture f;
    gate_sink sink;
    sink.hold("open_analysis");
    auto stuck = f.runner(open_script, "FATALUSDT", sink);
    release_on_exit guard{sink};
    auto wd = f.watchdog(100ms, 400ms);
    wd->watch(*stuck);
    stuck->start();

    const auto t0 = clock_type::now();
    stuck->push(closed_event(make_candle(0, 100)));
    REQUIRE(wait_until([&] { return f.fatal.calls() == 1; }, 3s));
    CHECK(since(t0) >= 400ms);
    CHECK(stuck->wedged());
    const auto reasons = f.fatal.reasons();
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].rfind("FATALUSDT: runner still stuck in one event after ", 0) == 0);
    CHECK(reasons[0].find("(exit limit 400 ms)") != std::string::npos);
    INFO(f.log.joined());
    CHECK(f.log.count({"critical FATALUSDT: runner still stuck in one event"}) == 1);

    // Still stuck in the same event: no second call.
    std::this_thread::sleep_for(4 * wd->check_interval());
    CHECK(f.fatal.calls() == 1);
}

TEST_CASE(
    "watchdog: a runner that recovers before the exit deadline is not fatal; its strategy stays "
    "suspended and it refuses entries") {
    fixture f;
    gate_sink sink;
    auto r = f.runner(enter_long_script, "SLOWUSDT", sink);
    release_on_exit guard{sink};
    auto wd = f.watchdog(100ms, 400ms);
    wd->watch(*r);
    r->start();

    r->push(closed_event(make_candle(0, 100)));  // Idle -> Analyzing
    REQUIRE(wait_until([&] { return r->processed() == 1; }, 2s));
    // The call that returns enter_long stalls, as if the script were stuck in a C function.
    sink.hold("enter_long");
    r->push(closed_event(make_candle(1, 100)));
    REQUIRE(wait_until([&] { return r->wedged(); }, 2s));
    sink.release();
    REQUIRE(wait_until([&] { return r->processed() == 2; }, 2s));
    r->push(closed_event(make_candle(2, 100)));
    r->push(closed_event(make_candle(3, 100)));
    REQUIRE(wait_until([&] { return r->processed() == 4; }, 2s));

    INFO(f.log.joined());
    CHECK(wait_until(
        [&] {
            return f.log.count({"warning SLOWUSDT: runner recovered after ", " ms"}) == 1;
        },
        2s));
    CHECK(f.log.count({"strategy stays suspended"}) == 1);
    r->stop();
    CHECK(f.fatal.calls() == 0);
    CHECK(r->wedged());  // the flag is never cleared
    const auto& core = r->core();
    CHECK(core.suspended());
    CHECK(core.summary().suspension_reason.find("wedged") != std::string::npos);
    CHECK(core.machine().current() == strategy::phase::analyzing);
    CHECK(core.broker().fill_count() == 0);
    CHECK(sink.with_event("fill").empty());
    const auto errors = sink.with_event("error");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0]["message"] == "entry refused: the runner is marked wedged");
    CHECK(sink.with_event("suspended").size() == 1);
    CHECK(core.summary().strategy_calls == 2);  // none after the wedge
}

TEST_CASE("watchdog: idle runners and runners with short events are never flagged") {
    fixture f;
    gate_sink sink;
    auto idle = f.runner(open_script, "IDLEUSDT", sink);
    auto busy = f.runner(quiet_script, "BUSYUSDT", sink, 4096);
    auto wd = f.watchdog(50ms, 200ms);
    wd->watch(*idle);
    wd->watch(*busy);
    idle->start();
    busy->start();
    const auto t0 = clock_type::now();
    int pushed = 0;
    while (since(t0) < 300ms) {  // many short events, spread over several wedge periods
        for (int i = 0; i < 50; ++i, ++pushed)
            busy->push(quote_event(pushed, 99.9, 100.1));
        std::this_thread::sleep_for(5ms);
    }
    CHECK(wait_until([&] { return busy->processed() == static_cast<std::uint64_t>(pushed); }));
    CHECK_FALSE(idle->wedged());
    CHECK_FALSE(busy->wedged());
    CHECK(f.fatal.calls() == 0);
    INFO(f.log.joined());
    CHECK(f.log.lines().empty());
}

TEST_CASE("watchdog: stop is prompt and idempotent; invalid limits are rejected") {
    fixture f;
    auto wd = f.watchdog(2s, 15s);
    CHECK(wd->check_interval() == 100ms);
    std::this_thread::sleep_for(10ms);
    const auto t0 = clock_type::now();
    wd->stop();
    CHECK(since(t0) < 50ms);
    wd->stop();
    CHECK(f.watchdog(100ms, 400ms)->check_interval() == 25ms);

    const auto noop = [](const std::string&) {};
    CHECK_THROWS_AS(engine::watchdog({100ms, 100ms}, noop), std::invalid_argument);
    CHECK_THROWS_AS(engine::watchdog({0ms, 100ms}, noop), std::invalid_argument);
    CHECK_THROWS_AS(engine::watchdog({100ms, 400ms}, nullptr), std::invalid_argument);
}
