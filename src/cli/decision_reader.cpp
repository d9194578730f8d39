#include "decision_reader.hpp"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <ostream>

namespace tradingd::cli::detail {
namespace {

/// Why `j` is not a usable record ("" when it is).
const char* record_problem(const nlohmann::ordered_json& j) {
    if (!j.is_object()) return "not a JSON object";
    const auto ts = j.find("ts");
    if (ts == j.end() || !ts->is_number_integer()) return "no integer \"ts\"";
    const auto symbol = j.find("symbol");
    if (symbol == j.end() || !symbol->is_string()) return "no \"symbol\"";
    const auto event = j.find("event");
    if (event == j.end() || !event->is_string()) return "no \"event\"";
    return "";
}

}  // namespace

std::size_t read_decision_log(const std::vector<std::filesystem::path>& files, std::ostream& err,
                              const std::function<void(decision_line&&)>& fn) {
    std::size_t skipped = 0;
    for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            err << file.string() << ": cannot open; skipped\n";
            ++skipped;
            continue;
        }
        std::string text;
        std::size_t line_no = 0;
        while (std::getline(in, text)) {
            ++line_no;
            if (text.empty()) continue;
            auto j = nlohmann::ordered_json::parse(text, nullptr, false);
            const char* problem = j.is_discarded() ? "not valid JSON" : record_problem(j);
            if (*problem != '\0') {
                err << file.string() << ":" << line_no << ": " << problem << "; skipped\n";
                ++skipped;
                continue;
            }
            decision_line line;
            line.file = file;
            line.line_no = line_no;
            line.ts = j["ts"].get<std::int64_t>();
            line.symbol = j["symbol"].get<std::string>();
            line.event = j["event"].get<std::string>();
            line.json = std::move(j);
            line.text = std::move(text);
            fn(std::move(line));
        }
    }
    return skipped;
}

std::string text_of(const nlohmann::ordered_json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<double> number_of(const nlohmann::ordered_json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

std::string short_number(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

}  // namespace tradingd::cli::detail
