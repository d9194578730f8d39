#pragma once
// record_sink: where a runner sends its journal records (the journal, or a test double).

#include <string>

#include <tradingd/journal/record.hpp>

namespace tradingd::journal {

class record_sink {
public:
    virtual ~record_sink() = default;
    /// Appends `r`; true once it is as durable as the journal's durability mode promises. False
    /// when the journal cannot record anything any more (see failure()). Never throws.
    virtual bool append(const record& r) noexcept = 0;
    /// False after a write or sync error: nothing new may be opened.
    virtual bool healthy() const noexcept = 0;
    /// Why it is unhealthy ("" while healthy).
    virtual std::string failure() const = 0;
};

}  // namespace tradingd::journal
