#pragma once
// Private helpers of the HTTP server: request-target parsing and JSON string escaping. Pure
// functions, no I/O; safe from any thread.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tradingd::http::detail {

/// Decodes %XX escapes (and '+' as a space when `plus_as_space`). Nothing when an escape is
/// malformed (not two hex digits).
std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space);

struct parsed_target {
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;
};

/// Splits "/path?k=v&k2=v2" into the decoded path and the decoded query pairs (in order; a key
/// without '=' gets ""; empty segments are skipped). Nothing on a malformed escape.
std::optional<parsed_target> parse_target(std::string_view target);

/// The JSON string literal for `s` (with the quotes): '"', '\\' and control characters escaped.
std::string json_quote(std::string_view s);

/// True when `name` is an HTTP token and `value` holds no CR, LF or NUL, i.e. the pair cannot
/// split the response header.
bool valid_header(std::string_view name, std::string_view value);

}  // namespace tradingd::http::detail
