#pragma once
// A pass-through stream layer whose reads can be held back, so the mock can play a dead peer.
//
// Beast answers a client's ping from inside a pending websocket read, and offers no switch to
// stop that. Placed between the websocket stream and TLS, this layer simply stops handing bytes
// up while `reads_enabled` is false: the client's pings stay unread in the socket, and so get
// no pong. Writes always pass straight through. A held read polls the flag every few
// milliseconds and ends with operation_aborted once the socket is closed.
//
// Thread-safety: as the wrapped stream (one strand); `reads_enabled` may change on any thread.

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <chrono>
#include <utility>

namespace tradingd::testing::detail {

template <class NextLayer>
class gate_stream {
public:
    using executor_type = typename NextLayer::executor_type;

    template <class... Args>
    explicit gate_stream(const std::atomic<bool>& reads_enabled, Args&&... args)
        : next_(std::forward<Args>(args)...),
          reads_enabled_(&reads_enabled),
          poll_(next_.get_executor()) {}

    executor_type get_executor() noexcept { return next_.get_executor(); }
    NextLayer& next_layer() noexcept { return next_; }
    const NextLayer& next_layer() const noexcept { return next_; }

    template <class MutableBuffers, class ReadHandler>
    auto async_read_some(const MutableBuffers& buffers, ReadHandler&& handler) {
        return boost::asio::async_compose<ReadHandler,
                                          void(boost::system::error_code, std::size_t)>(
            read_op<MutableBuffers>{*this, buffers}, handler, *this);
    }

    template <class ConstBuffers, class WriteHandler>
    auto async_write_some(const ConstBuffers& buffers, WriteHandler&& handler) {
        return next_.async_write_some(buffers, std::forward<WriteHandler>(handler));
    }

private:
    // start -> (poll while closed) -> reading -> (poll while closed) -> done. The second hold
    // matters: a read started while the gate was open may complete with a ping after it closed.
    template <class MutableBuffers>
    struct read_op {
        gate_stream& s;
        MutableBuffers buffers;
        bool read_done = false;
        bool reading = false;
        boost::system::error_code read_ec{};
        std::size_t read_bytes = 0;

        template <class Self>
        void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
            if (reading) {  // the wrapped read just completed
                reading = false;
                read_done = true;
                read_ec = ec;
                read_bytes = n;
            } else if (ec) {  // the poll timer failed
                return self.complete(ec, 0);
            }
            if (read_done && (read_ec || s.reads_enabled_->load())) {
                return self.complete(read_ec, read_bytes);
            }
            if (!boost::beast::get_lowest_layer(s.next_).socket().is_open()) {
                return self.complete(boost::asio::error::operation_aborted, 0);
            }
            if (!read_done && s.reads_enabled_->load()) {
                reading = true;
                return s.next_.async_read_some(buffers, std::move(self));
            }
            s.poll_.expires_after(std::chrono::milliseconds(5));
            s.poll_.async_wait(std::move(self));
        }
    };

    NextLayer next_;
    const std::atomic<bool>* reads_enabled_;
    boost::asio::steady_timer poll_;
};

// Closing handshakes go straight to the wrapped layer (found by ADL from websocket::stream).
template <class NextLayer>
void teardown(boost::beast::role_type role, gate_stream<NextLayer>& s,
              boost::system::error_code& ec) {
    using boost::beast::websocket::teardown;
    teardown(role, s.next_layer(), ec);
}

template <class NextLayer, class TeardownHandler>
void async_teardown(boost::beast::role_type role, gate_stream<NextLayer>& s,
                    TeardownHandler&& handler) {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, s.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace tradingd::testing::detail
