#pragma once
// State shared by the server and its sessions. Everything except the atomics is touched only on
// the server's I/O thread (or by stop() after that thread has been joined).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include <tradingd/http/server.hpp>

namespace spdlog {
class logger;
}

namespace tradingd::http::detail {

class session;

struct server_state {
    server_state(server_options o, handler h, std::shared_ptr<spdlog::logger> l)
        : options(std::move(o)), handle(std::move(h)), logger(std::move(l)) {}

    const server_options options;
    const handler handle;
    const std::shared_ptr<spdlog::logger> logger;

    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::size_t> open{0};
    /// Set by stop(): sessions start no new operation once it is set.
    std::atomic<bool> stopping{false};

    /// Live sessions, so stop() can close their sockets. Sessions add and remove themselves.
    std::unordered_map<session*, std::weak_ptr<session>> sessions;

    /// Declared last so it is destroyed first: handlers it still holds own sessions, whose
    /// destructors update the members above.
    boost::asio::io_context ioc{1};
};

}  // namespace tradingd::http::detail
