#include <string>

#include <tradingd/journal/runner_state.hpp>

#include "byte_io.hpp"

namespace tradingd::journal {

namespace {

using strategy::phase;

error misfit(const record& r, const runner_state& s, const char* why) {
    return error{std::string(type_name(r.type)) + " record for " + std::string(r.symbol) +
                 " does not fit its state (" + strategy::phase_name(s.machine.current()) +
                 "): " + why};
}

result<bool> apply_fill(const record& r, runner_state& s) {
    if (!s.has_account) return misfit(r, s, "a fill before the account was opened");
    s.broker.apply_fill(r.order_fill);
    return true;
}

result<bool> apply_entry(const record& r, runner_state& s) {
    if (!s.has_account) return misfit(r, s, "an entry before the account was opened");
    strategy::position p;
    p.direction = r.direction;
    p.quantity = r.order_fill.quantity;
    p.entry_price = r.order_fill.price;
    p.stop_loss = r.stop_loss;
    p.take_profit = r.take_profit;
    p.entry_fee = r.order_fill.fee;
    if (!s.machine.open_position(p, r.ts, r.text)) {
        return misfit(r, s, "the state machine refuses the position");
    }
    s.broker.apply_fill(r.order_fill);
    return true;
}

result<bool> apply_exit(const record& r, runner_state& s) {
    if (!s.has_account) return misfit(r, s, "an exit before the account was opened");
    if (!s.machine.close_position(r.order_fill.price, r.order_fill.fee, r.ts, r.text)) {
        return misfit(r, s, "no open position to close");
    }
    s.broker.apply_fill(r.order_fill);
    return true;
}

result<bool> apply_change(const record& r, runner_state& s) {
    switch (r.type) {
        case record_type::script:
            s.script_hash = std::string(r.text);
            s.script_name = std::string(r.name);
            return true;
        case record_type::analysis_begun:
            if (!s.machine.begin_analysis(r.ts, r.text)) return misfit(r, s, "not Idle");
            return true;
        case record_type::analysis_cancelled:
            if (!s.machine.cancel_analysis(r.ts, r.text)) return misfit(r, s, "not Analyzing");
            return true;
        case record_type::entry:
            return apply_entry(r, s);
        case record_type::exit:
            return apply_exit(r, s);
        case record_type::fill:
            return apply_fill(r, s);
        case record_type::stop_loss:
            if (!s.machine.set_stop_loss(r.stop_loss)) return misfit(r, s, "no position");
            return true;
        case record_type::take_profit:
            if (!s.machine.set_take_profit(r.take_profit)) return misfit(r, s, "no position");
            return true;
        case record_type::ctx_set:
            if (r.value == nullptr) return misfit(r, s, "no value");
            s.machine.ctx().set(r.text, *r.value);
            return true;
        case record_type::ctx_erase:
            s.machine.ctx().erase(r.text);
            return true;
        case record_type::ctx_replace:
            s.machine.ctx().clear();
            if (r.entries != nullptr) {
                for (const auto& [k, v] : *r.entries)
                    s.machine.ctx().set(k, v);
            }
            return true;
        case record_type::suspended:
            s.suspended = true;
            s.suspension_reason = std::string(r.text);
            return true;
        case record_type::resumed:
            s.suspended = false;
            s.suspension_reason.clear();
            return true;
        case record_type::account_opened:
            if (s.has_account) return misfit(r, s, "the account is already open");
            s.broker.restore(exec::paper_account{r.amount, 0, 0, {}});
            s.has_account = true;
            return true;
    }
    return misfit(r, s, "unknown record type");
}

// ---- snapshot body ----------------------------------------------------------------------------

void put_position(detail::byte_writer& w, const std::optional<strategy::position>& p) {
    w.u8(p ? 1 : 0);
    if (!p) return;
    w.u8(static_cast<std::uint8_t>(p->direction));
    w.f64(p->quantity);
    w.f64(p->entry_price);
    w.opt(p->stop_loss);
    w.opt(p->take_profit);
    w.f64(p->entry_fee);
    w.i64(p->opened_at);
    w.i64(p->bars_held);
}

std::optional<strategy::position> get_position(detail::byte_reader& in) {
    if (in.u8() == 0) return std::nullopt;
    strategy::position p;
    p.direction = static_cast<strategy::side>(in.u8() & 1);
    p.quantity = in.f64();
    p.entry_price = in.f64();
    p.stop_loss = in.opt();
    p.take_profit = in.opt();
    p.entry_fee = in.f64();
    p.opened_at = in.i64();
    p.bars_held = in.i64();
    return p;
}

void put_runner(detail::byte_writer& w, const runner_state& s) {
    const strategy::machine_image m = s.machine.image();
    w.u8(static_cast<std::uint8_t>(m.current));
    put_position(w, m.open_position);
    w.f64(m.realized_pnl);
    w.f64(m.fees_paid);
    w.u64(m.trade_count);
    w.u32(static_cast<std::uint32_t>(m.history.size()));
    for (const auto& t : m.history) {
        w.u8(static_cast<std::uint8_t>(t.from));
        w.u8(static_cast<std::uint8_t>(t.to));
        w.i64(t.ts);
        w.str(t.reason);
    }
    w.entries(m.ctx.entries());
    const exec::paper_account a = s.broker.account();
    w.u8(s.has_account ? 1 : 0);
    w.f64(a.cash);
    w.f64(a.fees);
    w.u64(a.fill_count);
    w.u32(static_cast<std::uint32_t>(a.fills.size()));
    for (const auto& f : a.fills)
        w.fill(f);
    w.str(s.script_hash);
    w.str(s.script_name);
    w.u8(s.suspended ? 1 : 0);
    w.str(s.suspension_reason);
    w.i64(s.last_ts);
    w.u64(s.records);
}

phase get_phase(detail::byte_reader& in) {
    const std::uint8_t p = in.u8();
    return p <= 2 ? static_cast<phase>(p) : phase::idle;
}

runner_state get_runner(detail::byte_reader& in) {
    runner_state s;
    strategy::machine_image m;
    m.current = get_phase(in);
    m.open_position = get_position(in);
    m.realized_pnl = in.f64();
    m.fees_paid = in.f64();
    m.trade_count = in.u64();
    const std::uint32_t history = in.u32();
    for (std::uint32_t i = 0; i < history && in.ok(); ++i) {
        strategy::transition t;
        t.from = get_phase(in);
        t.to = get_phase(in);
        t.ts = in.i64();
        t.reason = std::string(in.str());
        m.history.push_back(std::move(t));
    }
    for (auto& [k, v] : in.entries())
        m.ctx.set(k, std::move(v));
    s.machine.restore(m);
    s.has_account = in.u8() != 0;
    exec::paper_account a;
    a.cash = in.f64();
    a.fees = in.f64();
    a.fill_count = in.u64();
    const std::uint32_t fills = in.u32();
    for (std::uint32_t i = 0; i < fills && in.ok(); ++i)
        a.fills.push_back(in.fill());
    s.broker.restore(a);
    s.script_hash = std::string(in.str());
    s.script_name = std::string(in.str());
    s.suspended = in.u8() != 0;
    s.suspension_reason = std::string(in.str());
    s.last_ts = in.i64();
    s.records = in.u64();
    return s;
}

}  // namespace

bool operator==(const runner_state& a, const runner_state& b) {
    return a.machine.image() == b.machine.image() && a.broker.account() == b.broker.account() &&
           a.has_account == b.has_account && a.script_hash == b.script_hash &&
           a.script_name == b.script_name && a.suspended == b.suspended &&
           a.suspension_reason == b.suspension_reason && a.last_ts == b.last_ts &&
           a.records == b.records;
}

result<bool> apply(const record& r, runner_state& s) {
    auto applied = apply_change(r, s);
    if (applied) {
        if (r.ts > s.last_ts) s.last_ts = r.ts;
        ++s.records;
    }
    return applied;
}

void encode_state(const journal_state& s, std::string& out) {
    detail::byte_writer w(out);
    w.u64(s.last_seq);
    w.u32(static_cast<std::uint32_t>(s.runners.size()));
    for (const auto& [symbol, runner] : s.runners) {
        w.str(symbol);
        put_runner(w, runner);
    }
}

result<journal_state> decode_state(std::string_view body) {
    detail::byte_reader in(body);
    journal_state s;
    s.last_seq = in.u64();
    const std::uint32_t n = in.u32();
    for (std::uint32_t i = 0; i < n && in.ok(); ++i) {
        std::string symbol(in.str());
        s.runners[symbol] = get_runner(in);
    }
    if (!in.ok()) return error{"snapshot body is malformed: " + in.problem()};
    if (!in.at_end())
        return error{"snapshot body has " + std::to_string(in.remaining()) +
                     " bytes after its last runner"};
    return s;
}

}  // namespace tradingd::journal
