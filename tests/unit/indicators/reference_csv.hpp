#pragma once
// Test helper: a CSV table of optional doubles (empty cell = no value), as the TA-Lib reference
// file and write_indicator_csv produce, plus the comparison both reference tests use.

#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace tradingd::indicators::test {

struct csv_table {
    std::vector<std::string> header;
    std::vector<std::int64_t> open_time;
    std::vector<std::vector<std::optional<double>>> cells;  // [row][column], column 0 = first value
};

inline std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, ','))
        out.push_back(field);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
}

inline csv_table parse_csv_table(std::istream& in) {
    csv_table t;
    std::string line;
    if (!std::getline(in, line)) return t;
    t.header = split(line);
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto f = split(line);
        t.open_time.push_back(std::stoll(f.at(0)));
        std::vector<std::optional<double>> row;
        for (std::size_t i = 1; i < t.header.size(); ++i) {
            const std::string& s = i < f.size() ? f[i] : std::string();
            row.push_back(s.empty() ? std::nullopt : std::optional<double>(std::stod(s)));
        }
        t.cells.push_back(std::move(row));
    }
    return t;
}

/// |a - b| <= 1e-9 * max(1, |b|): relative error, or absolute near zero (macd_hist crosses 0).
inline bool close_enough(double a, double b) {
    return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b));
}

}  // namespace tradingd::indicators::test
