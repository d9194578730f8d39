// read_kline_file: Binance kline CSV and freqtrade-style JSON candle files.
//
// Parsing is two passes: the format-specific reader turns each row into a candle plus the line it
// came from; then close times are inferred where the file has none, and every row is validated
// (is_valid, strictly increasing open times) with errors that name the file and line.

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <tradingd/feed/kline_file.hpp>

namespace tradingd::feed {

namespace {

/// Open times above this are microseconds (1e14 ms is the year 5138; 1e14 µs is 1973).
constexpr std::int64_t micros_threshold = 100'000'000'000'000;

struct row {
    candle c;
    std::size_t line = 0;
    bool has_close_time = false;
};

[[noreturn]] void fail(const std::filesystem::path& file, std::size_t line,
                       const std::string& problem) {
    throw std::runtime_error(file.string() + ":" + std::to_string(line) + ": " + problem);
}

std::string read_all(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error(file.string() + ": cannot open for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw std::runtime_error(file.string() + ": read error");
    return std::move(ss).str();
}

std::int64_t to_millis(std::int64_t t, bool micros) noexcept {
    return micros ? t / 1000 : t;
}

std::string_view trim(std::string_view s) noexcept {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

template <class T>
bool parse_number(std::string_view s, T& out) noexcept {
    s = trim(s);
    if (!s.empty() && s.front() == '"' && s.size() >= 2 && s.back() == '"') {
        s = s.substr(1, s.size() - 2);  // some exporters quote every field
    }
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::vector<std::string_view> split_csv(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    for (;;) {
        const auto comma = line.find(',', start);
        fields.push_back(line.substr(start, comma - start));
        if (comma == std::string_view::npos) return fields;
        start = comma + 1;
    }
}

// ---- CSV -------------------------------------------------------------------------------------

constexpr const char* csv_columns[] = {"open time", "open",   "high",      "low",
                                       "close",     "volume", "close time"};

/// Parses one CSV data line; returns an error message, or "" on success.
std::string parse_csv_row(std::string_view text, row& r) {
    const auto f = split_csv(text);
    if (f.size() < 6 || f.size() > 12) {
        return "expected 12 columns (Binance kline CSV; at least 6), got " +
               std::to_string(f.size());
    }
    std::int64_t open_time = 0;
    if (!parse_number(f[0], open_time)) {
        return "bad open time '" + std::string(trim(f[0])) + "'";
    }
    const bool micros = open_time > micros_threshold;
    r.c.open_time = to_millis(open_time, micros);
    double* prices[] = {&r.c.open, &r.c.high, &r.c.low, &r.c.close, &r.c.volume};
    for (std::size_t i = 0; i < 5; ++i) {
        if (!parse_number(f[i + 1], *prices[i])) {
            return std::string("bad ") + csv_columns[i + 1] + " '" + std::string(trim(f[i + 1])) +
                   "'";
        }
    }
    if (f.size() >= 7) {
        std::int64_t close_time = 0;
        if (!parse_number(f[6], close_time)) {
            return "bad close time '" + std::string(trim(f[6])) + "'";
        }
        r.c.close_time = to_millis(close_time, micros);
        r.has_close_time = true;
    }
    return {};
}

std::vector<row> read_csv(const std::filesystem::path& file, std::string_view text) {
    std::vector<row> rows;
    std::size_t line_no = 0;
    bool first_line = true;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        const std::string_view line =
            text.substr(pos, (nl == std::string_view::npos ? text.size() : nl) - pos);
        pos = (nl == std::string_view::npos) ? text.size() : nl + 1;
        ++line_no;
        if (trim(line).empty()) continue;
        const bool may_be_header = first_line;
        first_line = false;
        std::int64_t probe = 0;
        // Only the first line may be a header: one whose first field is not a number.
        if (may_be_header && !parse_number(split_csv(line)[0], probe)) continue;
        row r;
        r.line = line_no;
        if (auto problem = parse_csv_row(line, r); !problem.empty()) fail(file, line_no, problem);
        rows.push_back(r);
    }
    return rows;
}

// ---- JSON ------------------------------------------------------------------------------------

std::size_t line_of_offset(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    return 1 + static_cast<std::size_t>(std::count(
                   text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

/// Line on which each element of the top-level array starts (nlohmann keeps no positions), and in
/// `top_end` the offset just after the top-level value's closing bracket (npos if it never closes).
std::vector<std::size_t> element_lines(std::string_view text, std::size_t& top_end) {
    top_end = std::string_view::npos;
    std::vector<std::size_t> lines;
    std::size_t line = 1;
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    bool expect_element = false;
    for (std::size_t at = 0; at < text.size(); ++at) {
        const char ch = text[at];
        if (ch == '\n') ++line;
        if (in_string) {
            escaped = !escaped && ch == '\\';
            if (ch == '"' && !escaped) in_string = false;
            continue;
        }
        const bool blank = ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
        if (depth == 1 && expect_element && !blank && ch != ']') {
            lines.push_back(line);
            expect_element = false;
        }
        if (ch == '"') in_string = true;
        if (ch == '[' || ch == '{') {
            if (++depth == 1) expect_element = true;
        } else if (ch == ']' || ch == '}') {
            if (--depth == 0 && top_end == std::string_view::npos) top_end = at + 1;
        } else if (ch == ',' && depth == 1) {
            expect_element = true;
        }
    }
    return lines;
}

bool json_int(const nlohmann::json& v, std::int64_t& out) {
    if (v.is_number_integer()) {
        out = v.get<std::int64_t>();
        return true;
    }
    if (!v.is_number_float()) return false;
    const double d = v.get<double>();
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != static_cast<double>(static_cast<std::int64_t>(d))) {
        return false;
    }
    out = static_cast<std::int64_t>(d);
    return true;
}

/// Parses one [t, o, h, l, c, v] element; returns an error message, or "" on success.
std::string parse_json_row(const nlohmann::json& e, row& r) {
    if (!e.is_array() || e.size() < 6) {
        return "expected an array [open_time, open, high, low, close, volume], got " +
               e.dump().substr(0, 80);
    }
    std::int64_t open_time = 0;
    if (!json_int(e[0], open_time)) return "bad open time " + e[0].dump();
    r.c.open_time = to_millis(open_time, open_time > micros_threshold);
    double* prices[] = {&r.c.open, &r.c.high, &r.c.low, &r.c.close, &r.c.volume};
    for (std::size_t i = 0; i < 5; ++i) {
        if (!e[i + 1].is_number())
            return std::string("bad ") + csv_columns[i + 1] + " " + e[i + 1].dump();
        *prices[i] = e[i + 1].get<double>();
    }
    return {};
}

/// The fast path, simdjson's on-demand parser (about ten times nlohmann's speed on a million rows):
/// false at the first thing it does not accept, and the caller re-reads the file with nlohmann,
/// whose errors are precise. Same acceptance rules as parse_json_row.
/// Rows get line 0: read_kline_file finds the lines only if a row turns out to be bad.
bool read_json_fast(std::string_view text, std::vector<row>& rows) {
    namespace od = simdjson::ondemand;
    od::parser parser;
    const simdjson::padded_string padded(text);
    od::document doc;
    od::array top;
    if (parser.iterate(padded).get(doc) || doc.get_array().get(top)) return false;
    for (auto element : top) {
        od::array a;
        if (element.get_array().get(a)) return false;
        row r;
        r.line = 0;
        double* prices[] = {&r.c.open, &r.c.high, &r.c.low, &r.c.close, &r.c.volume};
        std::size_t k = 0;
        for (auto field : a) {
            od::number n;
            if (field.get_number().get(n)) return false;
            if (k == 0) {
                std::int64_t open_time = 0;
                if (n.is_int64()) {
                    open_time = n.get_int64();
                } else {
                    const double d = n.as_double();
                    if (!(d >= -9.2e18 && d <= 9.2e18) ||
                        d != static_cast<double>(static_cast<std::int64_t>(d))) {
                        return false;
                    }
                    open_time = static_cast<std::int64_t>(d);
                }
                r.c.open_time = to_millis(open_time, open_time > micros_threshold);
            } else if (k < 6) {
                *prices[k - 1] = n.as_double();
            }
            ++k;
        }
        if (k < 6) return false;
        rows.push_back(r);
    }
    // Anything but blanks after the array: let the strict parser say what.
    const char* rest = nullptr;
    return doc.current_location().get(rest) == simdjson::OUT_OF_BOUNDS;
}

std::vector<row> read_json(const std::filesystem::path& file, std::string_view text) {
    std::vector<row> fast;
    if (read_json_fast(text, fast)) return fast;
    std::size_t top_end = 0;
    const auto lines = element_lines(text, top_end);
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        fail(file, line_of_offset(text, e.byte == 0 ? 0 : e.byte - 1), e.what());
    }
    if (!doc.is_array()) fail(file, 1, "expected a JSON array of candle rows");
    std::vector<row> rows;
    rows.reserve(doc.size());
    for (std::size_t i = 0; i < doc.size(); ++i) {
        row r;
        r.line = i < lines.size() ? lines[i] : 1;
        if (auto problem = parse_json_row(doc[i], r); !problem.empty()) {
            fail(file, r.line, "row " + std::to_string(i + 1) + ": " + problem);
        }
        rows.push_back(r);
    }
    return rows;
}

// ---- shared checks ---------------------------------------------------------------------------

/// The most common difference between consecutive open times (0 with fewer than two rows).
std::int64_t common_interval(const std::vector<row>& rows) {
    std::map<std::int64_t, std::size_t> counts;
    for (std::size_t i = 1; i < rows.size(); ++i)
        ++counts[rows[i].c.open_time - rows[i - 1].c.open_time];
    std::int64_t best = 0;
    std::size_t best_count = 0;
    for (const auto& [diff, n] : counts) {
        if (diff > 0 && n > best_count) {
            best = diff;
            best_count = n;
        }
    }
    return best;
}

std::string describe_invalid(const candle& c) {
    const double prices[] = {c.open, c.high, c.low, c.close};
    for (double p : prices) {
        if (!std::isfinite(p) || p <= 0) return "prices must be finite and > 0";
    }
    if (!std::isfinite(c.volume) || c.volume < 0) return "volume must be finite and >= 0";
    if (c.open_time > c.close_time) return "close time is before open time";
    return "prices must satisfy low <= open, close <= high";
}

std::vector<candle> finish(const std::filesystem::path& file, std::vector<row>& rows) {
    if (rows.empty()) fail(file, 1, "no candles in file");
    const std::int64_t interval = common_interval(rows);
    std::vector<candle> out;
    out.reserve(rows.size());
    for (auto& r : rows) {
        // A single row without a close time has no spacing to infer from: it covers one instant.
        if (!r.has_close_time)
            r.c.close_time = interval > 0 ? r.c.open_time + interval - 1 : r.c.open_time;
        if (!is_valid(r.c)) fail(file, r.line, "invalid candle: " + describe_invalid(r.c));
        if (!out.empty() && r.c.open_time <= out.back().open_time) {
            fail(file, r.line,
                 "open time " + std::to_string(r.c.open_time) +
                     " is not after the previous row's " + std::to_string(out.back().open_time));
        }
        out.push_back(r.c);
    }
    return out;
}

}  // namespace

std::vector<candle> read_kline_file(const std::filesystem::path& path) {
    const std::string text = read_all(path);
    const auto first = text.find_first_not_of(" \t\r\n");
    const bool json = first != std::string::npos && text[first] == '[';
    std::vector<row> rows = json ? read_json(path, text) : read_csv(path, text);
    if (!json || rows.empty() || rows.front().line != 0) return finish(path, rows);
    try {
        return finish(path, rows);
    } catch (const std::runtime_error&) {
        // JSON rows read by the fast path carry no line numbers: find them and report again.
        std::size_t top_end = 0;
        const auto lines = element_lines(text, top_end);
        for (std::size_t i = 0; i < rows.size(); ++i)
            rows[i].line = i < lines.size() ? lines[i] : 1;
        return finish(path, rows);
    }
}

}  // namespace tradingd::feed
