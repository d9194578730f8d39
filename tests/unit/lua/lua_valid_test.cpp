// lua_strategy::call_valid: the optional `valid(params)` a parameter sweep prunes with.
#include "lua_fixture.hpp"

using namespace lua_test;

namespace {

constexpr const char* valid_fast_below_slow = R"(
function valid(p) return p.fast < p.slow end
)";

}  // namespace

TEST_CASE("lua: valid(params) sees the bound params and its boolean is returned") {
    fixture f;
    f.params = {{"fast", std::int64_t{10}}, {"slow", std::int64_t{30}}};
    auto s = f.must_load(std::string(nil_functions) + valid_fast_below_slow);
    auto r = s->call_valid();
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    REQUIRE(r.value().has_value());
    CHECK(*r.value());

    fixture g;
    g.params = {{"fast", std::int64_t{30}}, {"slow", std::int64_t{20}}};
    auto t = g.must_load(std::string(nil_functions) + valid_fast_below_slow);
    auto q = t->call_valid();
    REQUIRE_MESSAGE(q.ok(), error_of(q));
    REQUIRE(q.value().has_value());
    CHECK_FALSE(*q.value());
}

TEST_CASE("lua: a script without valid() gives no verdict") {
    fixture f;
    auto s = f.must_load(nil_functions);
    auto r = s->call_valid();
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    CHECK_FALSE(r.value().has_value());
}

TEST_CASE("lua: valid() failing or returning a non-boolean is an error naming it") {
    fixture f;
    auto raises = f.must_load(std::string(nil_functions) + "function valid(p) error('boom') end");
    auto r = raises->call_valid();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("valid") != std::string::npos);
    CHECK(r.error_message().find("boom") != std::string::npos);

    fixture g;
    auto number = g.must_load(std::string(nil_functions) + "function valid(p) return 1 end");
    auto n = number->call_valid();
    REQUIRE_FALSE(n.ok());
    CHECK(n.error_message().find("expected a boolean") != std::string::npos);

    fixture h;
    h.limits.instruction_budget = 10'000;
    auto loops =
        h.must_load(std::string(nil_functions) + "function valid(p) while true do end end");
    auto l = loops->call_valid();
    REQUIRE_FALSE(l.ok());
    CHECK(l.error_message().find("instruction budget") != std::string::npos);
    CHECK(loops->call_valid().ok() == false);  // the budget is re-armed per call, and trips again
}
