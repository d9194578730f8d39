#pragma once
// event_sink: where a feed delivers market events (a runner's queue in the daemon; a vector in
// tests). Lives in core so feeds do not depend on the engine.

#include <cstdint>

#include <tradingd/core/market_types.hpp>

namespace tradingd {

class event_sink {
public:
    virtual ~event_sink() = default;
    /// Delivers one event. May block while the consumer is behind (closed candles are never
    /// dropped). Returns false once the sink is closed; the feed should then stop sending to it.
    virtual bool push(const market_event& e) = 0;

    enum class offer_result : std::uint8_t { accepted, full, closed };
    /// Non-blocking delivery, for feeds whose thread must never wait on a consumer (a network
    /// thread has pings to answer): `full` means the event was not taken and the caller keeps
    /// it for later. The default blocks in push(), for sinks that never fill.
    virtual offer_result offer(const market_event& e) {
        return push(e) ? offer_result::accepted : offer_result::closed;
    }
};

}  // namespace tradingd
