#include <tradingd/strategy/action.hpp>

namespace tradingd::strategy {

namespace {

template <class... Fs>
struct overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

}  // namespace

const char* action_name(const action& a) noexcept {
    return std::visit(overloaded{
                          [](const no_action&) { return "none"; },
                          [](const open_analysis&) { return "open_analysis"; },
                          [](const cancel_analysis&) { return "cancel_analysis"; },
                          [](const enter_position& e) {
                              return e.direction == side::long_side ? "enter_long" : "enter_short";
                          },
                          [](const exit_position&) { return "exit"; },
                          [](const update_stop_loss&) { return "update_stop_loss"; },
                          [](const update_take_profit&) { return "update_take_profit"; },
                      },
                      a);
}

const std::string& action_reason(const action& a) noexcept {
    static const std::string empty;
    return std::visit(overloaded{
                          [](const no_action&) -> const std::string& { return empty; },
                          [](const auto& act) -> const std::string& { return act.reason; },
                      },
                      a);
}

}  // namespace tradingd::strategy
