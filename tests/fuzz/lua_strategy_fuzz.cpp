// lua_strategy_fuzz: the input bytes are a strategy script. It is loaded into the sandbox under the
// fuzz limits; if it loads, its three entry points are called a few times with candles closing in
// between, as a runner would. Any result (an action or an error) is fine; a crash, a sanitizer
// report or a hang past the budget is a finding. See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_harness.hpp"

namespace {

using tradingd::fuzz::harness;
using tradingd::strategy::side;
using tradingd::strategy::lua::lua_strategy;

/// Rounds of detect/filter/manage, one closed candle apart.
constexpr int call_rounds = 3;

/// Reads the result: an error must carry a message, and last_failure() must agree with ok().
template <class R>
void check_call(const R& r, const lua_strategy& s) {
    if (r.ok() != (s.last_failure() == tradingd::strategy::lua::failure_kind::none)) {
        __builtin_trap();
    }
    if (!r.ok() && r.error_message().empty()) __builtin_trap();
    // The memory cap holds: the VM never held more than its limit.
    if (s.stats().memory_peak > tradingd::fuzz::fuzz_limits().memory_limit_bytes) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view source(reinterpret_cast<const char*>(data), size);
    harness h;
    auto loaded =
        lua_strategy::load_source("fuzz.lua", source, h.binding(), tradingd::fuzz::fuzz_limits());
    if (!loaded) {
        if (loaded.error_message().empty()) __builtin_trap();
        return 0;
    }
    lua_strategy& s = *loaded.value();
    for (int round = 0; round < call_rounds; ++round) {
        const auto snap = harness::snapshot(h.advance());
        check_call(s.detect_opportunity(snap), s);
        check_call(s.filter_commitment(snap), s);
        const side direction = round % 2 == 0 ? side::long_side : side::short_side;
        check_call(s.manage_position(snap, harness::open_position(direction, snap.bar.close)), s);
    }
    return 0;
}
