#pragma once
// Recovery: snapshot + records -> journal_state, with the torn-tail / corruption rules of
// journal.hpp. Shared by the journal (which then appends after the tail) and read_journal.

#include <cstdint>
#include <filesystem>

#include <tradingd/journal/journal.hpp>

namespace tradingd::journal::detail {

struct recovery {
    journal_state state;
    recovery_report report;
    std::filesystem::path last_segment;  ///< empty when there is none
    std::uint64_t end_offset = 0;        ///< where the next record goes in last_segment
    /// One past the last non-zero byte of last_segment (a torn record's remains end before).
    std::uint64_t dirty_end = 0;
};

/// Throws journal_error (corruption, gaps, misfit records) or std::runtime_error (I/O).
recovery recover(const std::filesystem::path& dir);

}  // namespace tradingd::journal::detail
