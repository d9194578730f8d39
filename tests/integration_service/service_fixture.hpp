#pragma once
// Shared by the service integration tests: a temp copy of config/sim.toml that a test can extend
// ([http], [risk], per-symbol limits), the daemon started on it, a tiny blocking HTTP client over
// a POSIX socket, and readers for the decision log and the status JSON.
//
// Every wait has a timeout, so a daemon that hangs fails a test instead of hanging the suite.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <process.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <test_support.hpp>
#include <vector>

namespace tradingd::testing::service {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// HTTP

struct http_reply {
    int status = 0;  ///< 0: no response (connection failed, timed out or closed early)
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;
    nlohmann::json json() const { return nlohmann::json::parse(body); }
    /// A header's value ("" when absent); `name` in lower case.
    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// A connected TCP socket to 127.0.0.1:port with a receive timeout; closed on destruction.
class tcp_socket {
public:
    tcp_socket(std::uint16_t port, std::chrono::milliseconds recv_timeout) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket() failed");
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(recv_timeout.count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((recv_timeout.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~tcp_socket() { ::close(fd_); }
    tcp_socket(const tcp_socket&) = delete;
    tcp_socket& operator=(const tcp_socket&) = delete;

    bool connected() const noexcept { return connected_; }

    bool send_all(const std::string& data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }

    /// Reads until the peer closes (returns true) or an error/timeout (false). What arrived is
    /// appended to `out`.
    bool read_to_eof(std::string& out) {
        char buf[16384];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;  // a reset also ends the connection
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_ = -1;
    bool connected_ = false;
};

/// Parses a whole HTTP/1.1 response (Content-Length or chunked body). status 0 when malformed.
inline http_reply parse_reply(const std::string& raw) {
    http_reply r;
    const auto head_end = raw.find("\r\n\r\n");
    if (head_end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) return r;
    std::istringstream head(raw.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    const int status = std::atoi(line.c_str() + 9);
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto value_start = line.find_first_not_of(' ', colon + 1);
        r.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
    }
    std::string body = raw.substr(head_end + 4);
    if (r.headers.count("transfer-encoding") != 0 &&
        r.headers["transfer-encoding"].find("chunked") != std::string::npos) {
        std::string decoded;
        std::size_t pos = 0;
        for (;;) {
            const auto eol = body.find("\r\n", pos);
            if (eol == std::string::npos) return r;
            const std::size_t size = std::stoul(body.substr(pos, eol - pos), nullptr, 16);
            if (size == 0) break;
            if (eol + 2 + size > body.size()) return r;
            decoded += body.substr(eol + 2, size);
            pos = eol + 2 + size + 2;
        }
        body = std::move(decoded);
    } else if (r.headers.count("content-length") != 0) {
        const std::size_t length = std::stoul(r.headers["content-length"]);
        if (body.size() < length) return r;
        body.resize(length);
    }
    r.body = std::move(body);
    r.status = status;
    return r;
}

/// One request on a fresh connection ("Connection: close"), the whole response read.
inline http_reply http_request(std::uint16_t port, const std::string& method,
                               const std::string& target,
                               const std::vector<std::string>& extra_headers = {},
                               std::chrono::milliseconds timeout = 5s) {
    tcp_socket s(port, timeout);
    if (!s.connected()) return {};
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& h : extra_headers)
        req += h + "\r\n";
    if (method == "POST") req += "Content-Length: 0\r\n";
    req += "Connection: close\r\n\r\n";
    if (!s.send_all(req)) return {};
    std::string raw;
    s.read_to_eof(raw);
    return parse_reply(raw);
}

inline http_reply http_get(std::uint16_t port, const std::string& target) {
    return http_request(port, "GET", target);
}

// ---------------------------------------------------------------------------------------------
// Prometheus text

/// The value of the sample `name{labels}` (labels exactly as rendered, e.g.
/// `symbol="BTCUSDT"`), nullopt when absent.
inline std::optional<double> metric_value(const std::string& body, const std::string& name,
                                          const std::string& labels = "") {
    const std::string key = labels.empty() ? name + " " : name + "{" + labels + "} ";
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Config tree and daemon

/// A copy of config/sim.toml in a temp tree mirroring the repo layout (config/ beside a link to
/// lua-strategies/), so the daemon's state goes to <tmp>/var/sim. The edit helpers respect TOML
/// scoping: global tables go before the first [[symbols]], per-symbol tables inside the symbol.
struct sim_tree {
    temp_dir dir;
    fs::path config;
    std::string text;

    sim_tree() {
        fs::create_directories(dir.path() / "config");
        config = dir.path() / "config" / "sim.toml";
        text = read_file(fs::path(TRADINGD_SOURCE_DIR) / "config" / "sim.toml");
        fs::create_directory_symlink(fs::path(TRADINGD_SOURCE_DIR) / "lua-strategies",
                                     dir.path() / "lua-strategies");
        save();
    }

    fs::path state_dir() const { return dir.path() / "var" / "sim"; }
    fs::path decision_log() const { return state_dir() / "decisions.jsonl"; }
    fs::path halt_file() const { return state_dir() / "HALT"; }

    void save() const { std::ofstream(config, std::ios::binary | std::ios::trunc) << text; }

    /// Replaces the first occurrence of `from` (which must exist).
    void replace(const std::string& from, const std::string& to) {
        const auto at = text.find(from);
        if (at == std::string::npos) throw std::runtime_error("sim.toml has no '" + from + "'");
        text.replace(at, from.size(), to);
        save();
    }

    /// Adds top-level tables ([http], [risk]) before the first [[symbols]].
    void add_global(const std::string& toml) { replace("[[symbols]]", toml + "\n[[symbols]]"); }

    /// Adds a sub-table ("[symbols.risk]\n...") to `symbol`'s [[symbols]] element, right after
    /// its own keys.
    void add_to_symbol(const std::string& symbol, const std::string& toml) {
        const auto at = text.find("symbol = \"" + symbol + "\"");
        if (at == std::string::npos) throw std::runtime_error("no symbol " + symbol);
        const auto sub = text.find("\n[symbols.", at);
        if (sub == std::string::npos) throw std::runtime_error("no sub-table after " + symbol);
        text.insert(sub + 1, toml + "\n");
        save();
    }

    /// Appends a whole [[symbols]] element at the end.
    void append_symbol(const std::string& toml) {
        text += "\n" + toml + "\n";
        save();
    }

    /// Writes a token file beside the config with `mode`; returns its path.
    fs::path write_token(const std::string& token, mode_t mode) const {
        const fs::path p = dir.path() / "config" / "token";
        std::ofstream(p, std::ios::binary | std::ios::trunc) << token << "\n";
        ::chmod(p.c_str(), mode);
        return p;
    }

    std::vector<nlohmann::json> decisions(std::size_t from_byte = 0) const {
        std::vector<nlohmann::json> out;
        const std::string all = read_file(decision_log());
        std::istringstream in(from_byte < all.size() ? all.substr(from_byte) : std::string());
        for (std::string line; std::getline(in, line);) {
            if (!line.empty()) out.push_back(nlohmann::json::parse(line));
        }
        return out;
    }

    std::uintmax_t log_size() const {
        std::error_code ec;
        const auto n = fs::file_size(decision_log(), ec);
        return ec ? 0 : n;
    }
};

/// A decision record that opens a position: an entry fill (fills without "pnl").
inline bool is_entry_fill(const nlohmann::json& d) {
    return d.value("event", "") == "fill" && !d.contains("pnl");
}
/// A decision record that closes a position: an exit fill (it carries the round trip's pnl).
inline bool is_exit_fill(const nlohmann::json& d) {
    return d.value("event", "") == "fill" && d.contains("pnl");
}

/// The daemon running on a tree's config; SIGKILLed if the test ends without stopping it.
class daemon_run {
public:
    explicit daemon_run(const sim_tree& tree, std::vector<std::string> env = {})
        : out_(tree.dir.path() / "daemon.out"),
          err_(tree.dir.path() / "daemon.err"),
          process_({TRADINGD_BINARY, "--config", tree.config.string()}, out_, err_,
                   std::move(env)) {}

    child_process& process() { return process_; }
    std::string out() const { return read_file(out_); }
    std::string err() const { return read_file(err_); }
    /// The last `n` characters of stderr, for failure messages.
    std::string err_tail(std::size_t n = 3000) const {
        const std::string e = err();
        return e.size() > n ? e.substr(e.size() - n) : e;
    }

    /// The status server's port, parsed from the start-up log line; 0 if it did not appear.
    std::uint16_t port(std::chrono::milliseconds timeout = 20s) {
        if (port_ != 0) return port_;
        static const std::string marker = "HTTP status server on http://127.0.0.1:";
        wait_until(
            [&] {
                const std::string e = err();
                const auto at = e.find(marker);
                if (at == std::string::npos) return false;
                port_ = static_cast<std::uint16_t>(std::atoi(e.c_str() + at + marker.size()));
                return port_ != 0;
            },
            timeout, 20ms);
        return port_;
    }

    /// GET /status parsed; a JSON null when the request failed.
    nlohmann::json status() {
        const http_reply r = http_get(port(), "/status");
        if (r.status != 200) return nullptr;
        return r.json();
    }

    /// SIGTERM, then the exit code (nullopt if it did not exit within `timeout`).
    std::optional<int> stop(std::chrono::milliseconds timeout = 20s) {
        process_.signal(SIGTERM);
        return process_.wait(timeout);
    }

private:
    fs::path out_, err_;
    child_process process_;
    std::uint16_t port_ = 0;
};

/// The entry of `symbol` in a /status document's symbols array (null if absent).
inline nlohmann::json symbol_status(const nlohmann::json& status, const std::string& symbol) {
    if (!status.is_object()) return nullptr;
    for (const auto& s : status["symbols"])
        if (s["symbol"] == symbol) return s;
    return nullptr;
}

/// Symbols of a /status document that hold a position.
inline std::vector<std::string> open_positions(const nlohmann::json& status) {
    std::vector<std::string> out;
    if (!status.is_object()) return out;
    for (const auto& s : status["symbols"])
        if (!s["position"].is_null()) out.push_back(s["symbol"].get<std::string>());
    return out;
}

inline const std::vector<std::string>& sim_symbols() {
    static const std::vector<std::string> symbols{"BTCUSDT", "ETHUSDT", "SOLUSDT"};
    return symbols;
}

}  // namespace tradingd::testing::service
