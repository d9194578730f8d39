#pragma once
// The version label of a script: the first 12 hex digits of the SHA-256 of its bytes.
//
// Every decision-log entry and trade names the version that made it with this label, and the
// hot-reload watcher compares labels to ignore saves that did not change the content.
// 48 bits: a collision between two versions of one script is not a practical concern.

#include <string>
#include <string_view>

namespace tradingd::strategy::lua {

inline constexpr std::size_t content_hash_digits = 12;

/// Lower-case hex, content_hash_digits long.
std::string content_hash(std::string_view bytes);

}  // namespace tradingd::strategy::lua
