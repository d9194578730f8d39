#include <cstdio>

#include <tradingd/core/scalar.hpp>

namespace tradingd {

std::string to_display_string(const scalar& v) {
    struct visitor {
        std::string operator()(bool b) const { return b ? "true" : "false"; }
        std::string operator()(std::int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.17g", d);
            return buf;
        }
        std::string operator()(const std::string& s) const { return '"' + s + '"'; }
    };
    return std::visit(visitor{}, v);
}

}  // namespace tradingd
