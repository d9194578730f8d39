#include <tradingd/journal/state_json.hpp>

namespace tradingd::journal {

namespace {

nlohmann::ordered_json scalar_json(const scalar& v) {
    return std::visit([](const auto& x) { return nlohmann::ordered_json(x); }, v);
}

nlohmann::ordered_json optional_json(const std::optional<double>& v) {
    return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

nlohmann::ordered_json state_json(const runner_state& s) {
    nlohmann::ordered_json j;
    j["phase"] = strategy::phase_name(s.machine.current());
    const auto& pos = s.machine.current_position();
    if (pos) {
        j["position"] = {{"side", strategy::side_name(pos->direction)},
                         {"quantity", pos->quantity},
                         {"entry_price", pos->entry_price},
                         {"stop_loss", optional_json(pos->stop_loss)},
                         {"take_profit", optional_json(pos->take_profit)},
                         {"entry_fee", pos->entry_fee},
                         {"opened_at", pos->opened_at}};
    } else {
        j["position"] = nullptr;
    }
    j["realized_pnl"] = s.machine.realized_pnl();
    j["fees"] = s.machine.fees_paid();
    j["trades"] = s.machine.trade_count();
    j["history"] = s.machine.history_size();
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    for (const auto& [k, v] : s.machine.ctx().entries())
        ctx[k] = scalar_json(v);
    j["ctx"] = std::move(ctx);
    j["cash"] = s.has_account ? nlohmann::ordered_json(s.broker.cash()) : nullptr;
    j["account_fees"] = s.broker.fees_paid();
    j["fills"] = s.broker.fill_count();
    j["script_hash"] = s.script_hash;
    j["suspended"] = s.suspended;
    j["suspension"] = s.suspension_reason;
    return j;
}

nlohmann::ordered_json state_json(const journal_state& s) {
    nlohmann::ordered_json j;
    j["last_seq"] = s.last_seq;
    nlohmann::ordered_json runners = nlohmann::ordered_json::object();
    for (const auto& [symbol, r] : s.runners)
        runners[symbol] = state_json(r);
    j["runners"] = std::move(runners);
    return j;
}

}  // namespace tradingd::journal
