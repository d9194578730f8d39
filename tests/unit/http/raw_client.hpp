#pragma once
// A tiny blocking HTTP/1.1 client over a POSIX socket for the server tests: sends raw bytes
// (so tests can send malformed or partial requests) and parses responses by Content-Length.
// Every receive has a timeout so a broken server fails a test instead of hanging it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tradingd::http::test {

struct raw_response {
    int status = 0;
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;

    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

class raw_client {
public:
    /// Connects at once unless `connect_now` is false (then call connect()).
    explicit raw_client(std::uint16_t port,
                        std::chrono::milliseconds recv_timeout = std::chrono::seconds(10),
                        bool connect_now = true)
        : port_(port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket() failed");
        set_recv_timeout(recv_timeout);
        if (!connect_now) return;
        try {
            connect();
        } catch (...) {
            ::close(fd_);
            throw;
        }
    }
    void connect() {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port_);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("connect() failed");
    }
    ~raw_client() { ::close(fd_); }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    void set_recv_timeout(std::chrono::milliseconds t) {
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(t.count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }

    /// False when the peer has gone (EPIPE, reset).
    bool send(std::string_view data) {
        while (!data.empty()) {
            const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// The next response, or nothing on close / timeout / malformed response.
    std::optional<raw_response> read_response() {
        std::size_t header_end;
        while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) return std::nullopt;
        }
        raw_response r;
        std::string_view head(buf_.data(), header_end);
        const auto line_end = head.find("\r\n");
        const std::string_view status_line = head.substr(0, line_end);
        if (status_line.substr(0, 9) != "HTTP/1.1 " && status_line.substr(0, 9) != "HTTP/1.0 ")
            return std::nullopt;
        r.status = std::stoi(std::string(status_line.substr(9, 3)));
        std::string_view rest =
            line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
        while (!rest.empty()) {
            const auto eol = rest.find("\r\n");
            const std::string_view line = rest.substr(0, eol);
            rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) return std::nullopt;
            std::string name(line.substr(0, colon));
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
            r.headers[name] = std::string(value);
        }
        const std::string declared = r.header("content-length");
        const std::size_t length = declared.empty() ? 0 : std::stoul(declared);
        const std::size_t total = header_end + 4 + length;
        while (buf_.size() < total) {
            if (!fill()) return std::nullopt;
        }
        r.body = buf_.substr(header_end + 4, length);
        buf_.erase(0, total);
        return r;
    }

    /// True when the server closes (EOF or reset) before the receive timeout; bytes that
    /// arrive meanwhile are kept for read_response().
    bool wait_closed() {
        for (;;) {
            char tmp[4096];
            const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;
            buf_.append(tmp, static_cast<std::size_t>(n));
        }
    }

private:
    bool fill() {
        char tmp[4096];
        const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }

    std::uint16_t port_;
    int fd_ = -1;
    std::string buf_;
};

/// One request on a fresh connection with "Connection: close".
inline std::optional<raw_response> get_once(std::uint16_t port, const std::string& target) {
    raw_client c(port);
    if (!c.send("GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
        return std::nullopt;
    return c.read_response();
}

}  // namespace tradingd::http::test
