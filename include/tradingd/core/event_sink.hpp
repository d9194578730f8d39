#pragma once
// event_sink: where a feed delivers market events (a runner's queue in the daemon; a vector in
// tests). Lives in core so feeds do not depend on the engine.

#include <tradingd/core/market_types.hpp>

namespace tradingd {

class event_sink {
public:
    virtual ~event_sink() = default;
    /// Delivers one event. May block while the consumer is behind (closed candles are never
    /// dropped). Returns false once the sink is closed; the feed should then stop sending to it.
    virtual bool push(const market_event& e) = 0;
};

}  // namespace tradingd
