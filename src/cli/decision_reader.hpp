#pragma once
// Reading the decision log back (for `tradingd decisions` and `tradingd why`): every file of the
// log in the order it was written, one parsed record per valid line. Private to the cli component.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tradingd::cli::detail {

/// One valid line of the log: a JSON object with an integer `ts` and string `symbol` and `event`.
struct decision_line {
    std::filesystem::path file;
    std::size_t line_no = 0;
    std::string text;  ///< the line as written
    nlohmann::ordered_json json;
    std::int64_t ts = 0;
    std::string symbol;
    std::string event;
};

/// Calls `fn` for every valid line of `files`, in order. Malformed lines are reported on `err` as
/// "file:line: reason" and skipped; a file that cannot be opened is reported and skipped.
/// Returns the number of lines and files skipped.
std::size_t read_decision_log(const std::vector<std::filesystem::path>& files, std::ostream& err,
                              const std::function<void(decision_line&&)>& fn);

/// The string at `key`, or "" when absent or not a string.
std::string text_of(const nlohmann::ordered_json& j, const char* key);
/// The number at `key`, or nullopt when absent or not a number.
std::optional<double> number_of(const nlohmann::ordered_json& j, const char* key);
/// A number in at most `digits` significant digits ("30257.515", "0.01").
std::string short_number(double v, int digits = 8);

}  // namespace tradingd::cli::detail
