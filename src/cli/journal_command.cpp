// `tradingd journal --state-dir DIR [--json]`: the state the journal implies, read without
// changing anything (a daemon may be running on it).
#include <fmt/format.h>

#include <iostream>

#include <tradingd/cli/commands.hpp>
#include <tradingd/journal/journal.hpp>
#include <tradingd/journal/state_json.hpp>

namespace tradingd::cli {

namespace {

void print_text(const journal::journal_state& state, const journal::recovery_report& report,
                std::ostream& out) {
    out << fmt::format("journal: {} records (last {}), {} after the snapshot at {}\n",
                       report.last_seq, report.last_seq, report.records_replayed,
                       report.snapshot_seq);
    if (!report.torn_tail.empty())
        out << "torn last record (dropped): " << report.torn_tail << "\n";
    if (!report.snapshot_problem.empty())
        out << "snapshot skipped: " << report.snapshot_problem << "\n";
    for (const auto& [symbol, s] : state.runners) {
        const auto& pos = s.machine.current_position();
        out << fmt::format(
            "{:<10} {:<10} trades {:>4}  realised {:>12.6g}  cash {:>12.2f}  ctx {} keys  "
            "script {}{}\n",
            symbol, strategy::phase_name(s.machine.current()), s.machine.trade_count(),
            s.machine.realized_pnl(), s.has_account ? s.broker.cash() : 0.0, s.machine.ctx().size(),
            s.script_hash.empty() ? "-" : s.script_hash,
            s.suspended ? "  SUSPENDED: " + s.suspension_reason : "");
        if (pos) {
            out << fmt::format("           {} {} @ {:.10g}  stop {}  target {}  opened {}\n",
                               strategy::side_name(pos->direction), pos->quantity, pos->entry_price,
                               pos->stop_loss ? fmt::format("{:.10g}", *pos->stop_loss) : "-",
                               pos->take_profit ? fmt::format("{:.10g}", *pos->take_profit) : "-",
                               pos->opened_at);
        }
    }
}

}  // namespace

int print_journal(const std::filesystem::path& state_dir, bool as_json, std::ostream& out) {
    journal::recovery_report report;
    journal::journal_state state;
    try {
        state = journal::read_journal(state_dir / "journal", &report);
    } catch (const std::exception& e) {
        std::cerr << "tradingd journal: " << e.what() << "\n";
        return 1;
    }
    if (as_json) {
        auto j = journal::state_json(state);
        j["snapshot_seq"] = report.snapshot_seq;
        j["records_replayed"] = report.records_replayed;
        j["torn_tail"] = report.torn_tail;
        out << j.dump(2) << "\n";
    } else {
        print_text(state, report, out);
    }
    return 0;
}

}  // namespace tradingd::cli
