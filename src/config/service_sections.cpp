#include "service_sections.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <limits>
#include <string>
#include <system_error>

namespace tradingd::config::detail {
namespace {

constexpr number_range k_non_negative{0, std::numeric_limits<double>::infinity()};

/// "host:port" or "[v6]:port" into address and port; false when it is not of that shape.
bool split_listen(const std::string& text, std::string& address, std::uint16_t& port) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
    std::string host = text.substr(0, colon);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return false;
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        return false;  // a bare IPv6 address needs brackets
    }
    const char* first = text.data() + colon + 1;
    const char* last = text.data() + text.size();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last || value > 65'535) return false;
    address = host;
    port = static_cast<std::uint16_t>(value);
    return true;
}

/// The bearer token file must exist and be readable by the service user only: anyone who can
/// read it can halt trading or close positions.
void check_token_file(table_reader& t, const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        t.report(*t.take("token_file"), "token_file",
                 "cannot read token file '" + path.string() +
                     "': " + std::generic_category().message(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        t.report(*t.take("token_file"), "token_file",
                 "token file '" + path.string() + "' is not a regular file");
        return;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        t.report(*t.take("token_file"), "token_file",
                 "token file '" + path.string() + "' is accessible by group or others (mode " +
                     mode + "); run: chmod 600 " + path.string());
    }
}

}  // namespace

http_config parse_http(table_reader t, const std::filesystem::path& base_dir) {
    http_config h;
    if (t.table() == nullptr) return h;
    h.enabled = true;
    read_bool(t, "enabled", h.enabled);
    std::string listen;
    if (read_string(t, "listen", listen) && !split_listen(listen, h.address, h.port)) {
        t.report(*t.take("listen"), "listen",
                 "expected \"host:port\" (e.g. \"127.0.0.1:9180\" or \"[::1]:9180\"), got '" +
                     listen + "'");
    }
    read_bool(t, "allow_non_loopback", h.allow_non_loopback);
    if (read_path(t, "token_file", base_dir, h.token_file) && h.enabled) {
        check_token_file(t, h.token_file);
    }
    read_integer(t, "request_timeout_ms", {100, 600'000}, h.request_timeout_ms);
    read_integer(t, "idle_timeout_ms", {100, 3'600'000}, h.idle_timeout_ms);
    read_integer_as(t, "max_connections", {1, 10'000}, h.max_connections);
    read_integer(t, "stale_after_ms", {0, 86'400'000}, h.stale_after_ms);
    t.reject_unknown_keys();
    return h;
}

risk_config parse_risk(table_reader t, const std::filesystem::path& state_dir) {
    risk_config r;
    read_integer_as(t, "max_open_positions", {0, 1'000'000}, r.max_open_positions);
    read_number(t, "max_daily_loss", k_non_negative, r.max_daily_loss);
    read_integer_as(t, "max_orders_per_minute", {0, 1'000'000}, r.max_orders_per_minute);
    std::string file;
    if (read_string(t, "kill_switch_file", file)) {
        if (file.empty()) {
            t.report(*t.take("kill_switch_file"), "kill_switch_file", "path must not be empty");
        } else {
            // Relative to the state directory (where the operator expects it), not to the file.
            const std::filesystem::path p(file);
            r.kill_switch_file = p.is_relative() ? state_dir / p : p;
        }
    }
    if (r.kill_switch_file.empty() && !state_dir.empty()) r.kill_switch_file = state_dir / "HALT";
    read_bool(t, "flatten_on_halt", r.flatten_on_halt);
    t.reject_unknown_keys();
    return r;
}

symbol_risk_config parse_symbol_risk(table_reader t) {
    symbol_risk_config r;
    read_number(t, "max_position_quantity", k_non_negative, r.max_position_quantity);
    read_number(t, "max_position_notional", k_non_negative, r.max_position_notional);
    read_number(t, "max_daily_loss", k_non_negative, r.max_daily_loss);
    read_integer_as(t, "max_orders_per_minute", {0, 1'000'000}, r.max_orders_per_minute);
    read_integer(t, "cooldown_after_exit_s", {0, 365LL * 86'400}, r.cooldown_after_exit_s);
    t.reject_unknown_keys();
    return r;
}

}  // namespace tradingd::config::detail
