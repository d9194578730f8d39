#include "status_api.hpp"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace tradingd::cli {
namespace {

/// Compares without an early exit, so response timing does not reveal how much of a guessed
/// token was right.
bool same_token(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
        const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

http::response json_ok(int status, const nlohmann::json& body) {
    http::response r;
    r.status = status;
    r.body = body.dump();
    return r;
}

bool truthy(const std::optional<std::string>& v) {
    return v && (*v == "true" || *v == "1" || *v == "yes");
}

class status_api {
public:
    status_api(std::function<status::daemon_status()> snapshot, control_actions actions,
               status_api_options options)
        : snapshot_(std::move(snapshot)),
          actions_(std::move(actions)),
          options_(std::move(options)) {}

    http::response operator()(const http::request& req) const {
        const std::string& p = req.path;
        if (p == "/healthz" || p == "/status" || p == "/metrics") {
            if (req.method != "GET") return method_not_allowed("GET");
            return read_endpoint(p);
        }
        if (p == "/halt" || p == "/resume" || p == "/flatten") {
            if (req.method != "POST") return method_not_allowed("POST");
            if (auto refused = check_token(req)) return *refused;
            if (p == "/halt") return halt(req);
            if (p == "/resume") return resume(req);
            return flatten(req);
        }
        return http::json_error(404, "no such endpoint: " + p +
                                         " (GET /healthz, /status, /metrics; POST /halt, "
                                         "/resume, /flatten?symbol=)");
    }

private:
    http::response read_endpoint(const std::string& p) const {
        const status::daemon_status s = snapshot_();
        http::response r;
        if (p == "/healthz") {
            const status::health h = status::evaluate_health(s, options_.thresholds);
            r.status = h.ok ? 200 : 503;
            r.body = status::render_health_json(h);
        } else if (p == "/status") {
            r.body = status::render_status_json(s);
        } else {
            r.content_type = "text/plain; version=0.0.4; charset=utf-8";
            r.body = status::render_metrics(s);
        }
        r.headers.emplace_back("Cache-Control", "no-store");
        return r;
    }

    static http::response method_not_allowed(const char* allowed) {
        http::response r = http::json_error(405, std::string("method not allowed; use ") + allowed);
        r.headers.emplace_back("Allow", allowed);
        return r;
    }

    std::optional<http::response> check_token(const http::request& req) const {
        if (options_.token.empty()) {
            return http::json_error(
                403, "control endpoints are disabled: no [http] token_file is configured");
        }
        constexpr std::string_view scheme = "Bearer ";
        const std::string& auth = req.authorization;
        if (auth.size() <= scheme.size() || auth.compare(0, scheme.size(), scheme) != 0 ||
            !same_token(std::string_view(auth).substr(scheme.size()), options_.token)) {
            http::response r = http::json_error(
                401, auth.empty() ? "missing Authorization: Bearer <token>" : "invalid token");
            r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"tradingd\"");
            return r;
        }
        return std::nullopt;
    }

    http::response halt(const http::request& req) const {
        const std::string origin = "POST /halt from " + req.peer;
        const auto error = actions_.kill->engage(origin);
        const bool flatten = truthy(req.param("flatten")) || actions_.flatten_on_halt;
        nlohmann::json body{{"halted", true}, {"kill_switch_file", actions_.kill->file().string()}};
        if (flatten) body["flattening"] = actions_.flatten_all(origin);
        if (error) body["warning"] = *error + "; the halt will not survive a restart";
        return json_ok(200, body);
    }

    http::response resume(const http::request& req) const {
        if (const auto error = actions_.kill->release("POST /resume from " + req.peer)) {
            return http::json_error(500, *error + "; still halted");
        }
        return json_ok(200, {{"halted", false}});
    }

    http::response flatten(const http::request& req) const {
        const auto symbol = req.param("symbol");
        if (!symbol || symbol->empty()) {
            return http::json_error(400, "missing query parameter: symbol (POST /flatten?symbol=)");
        }
        if (!actions_.flatten_symbol(*symbol, "POST /flatten from " + req.peer)) {
            return http::json_error(404, "unknown symbol: " + *symbol);
        }
        return json_ok(202, {{"symbol", *symbol}, {"flatten", "requested"}});
    }

    std::function<status::daemon_status()> snapshot_;
    control_actions actions_;
    status_api_options options_;
};

}  // namespace

http::handler make_status_api(std::function<status::daemon_status()> snapshot,
                              control_actions actions, status_api_options options) {
    return status_api(std::move(snapshot), std::move(actions), std::move(options));
}

std::string read_token_file(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("cannot read the HTTP token file " + file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto first = text.find_first_not_of(" \t\r\n");
    const auto last = text.find_last_not_of(" \t\r\n");
    if (first == std::string::npos)
        throw std::runtime_error("the HTTP token file " + file + " is empty");
    return text.substr(first, last - first + 1);
}

}  // namespace tradingd::cli
