#include "toml_reader.hpp"

#include <charconv>
#include <cmath>
#include <system_error>
#include <utility>

namespace tradingd::config::detail {

namespace {

/// Shortest round-trip rendering of a number for messages ("0.5", "1e+20", "nan").
std::string format_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

std::string describe_range(number_range r) {
    const bool has_min = std::isfinite(r.min);
    const bool has_max = std::isfinite(r.max);
    std::string text;
    if (has_min) text += std::string(r.min_exclusive ? "> " : ">= ") + format_number(r.min);
    if (has_min && has_max) text += " and ";
    if (has_max) text += "<= " + format_number(r.max);
    return text;
}

std::filesystem::path resolve_path(const std::filesystem::path& base_dir, const std::string& text) {
    std::filesystem::path p(text);
    if (p.is_relative()) p = base_dir / p;
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(p, ec);
    return ec ? p.lexically_normal() : canonical;
}

}  // namespace

void problem_list::add(const toml::source_region& where, std::string_view key_path,
                       std::string_view message) {
    std::string line = origin_;
    if (where.begin.line > 0) {
        line += ':' + std::to_string(where.begin.line);
        if (where.begin.column > 0) line += ':' + std::to_string(where.begin.column);
    }
    line += ": ";
    if (!key_path.empty()) {
        line += key_path;
        line += ": ";
    }
    line += message;
    items_.push_back(std::move(line));
}

table_reader::table_reader(const toml::table* table, std::string path, toml::source_region where,
                           problem_list& problems)
    : table_(table), path_(std::move(path)), where_(std::move(where)), problems_(&problems) {}

const toml::node* table_reader::take(std::string_view key, presence p) {
    known_.emplace(key);
    const toml::node* node = table_ != nullptr ? table_->get(key) : nullptr;
    if (node == nullptr && p == presence::required) report_here(key, "required key is missing");
    return node;
}

table_reader table_reader::child(std::string_view key) {
    const toml::node* node = take(key);
    const toml::table* sub = nullptr;
    toml::source_region where{};
    if (node != nullptr) {
        sub = node->as_table();
        if (sub == nullptr) {
            report(*node, key, "expected a table, got " + std::string(type_name(*node)));
        } else {
            where = sub->source();
        }
    }
    return table_reader(sub, key_path(key), where, *problems_);
}

void table_reader::reject_unknown_keys() {
    if (table_ == nullptr) return;
    for (auto&& [k, v] : *table_) {
        if (known_.find(k.str()) != known_.end()) continue;
        problems_->add(k.source(), key_path(k.str()), "unknown key");
    }
}

std::string table_reader::key_path(std::string_view key) const {
    if (path_.empty()) return std::string(key);
    std::string out = path_;
    out += '.';
    out += key;
    return out;
}

void table_reader::report(const toml::node& at, std::string_view key, std::string_view message) {
    problems_->add(at.source(), key_path(key), message);
}

void table_reader::report_here(std::string_view key, std::string_view message) {
    problems_->add(where_, key_path(key), message);
}

std::string_view type_name(const toml::node& node) noexcept {
    switch (node.type()) {
        case toml::node_type::table:
            return "table";
        case toml::node_type::array:
            return "array";
        case toml::node_type::string:
            return "string";
        case toml::node_type::integer:
            return "integer";
        case toml::node_type::floating_point:
            return "float";
        case toml::node_type::boolean:
            return "boolean";
        case toml::node_type::date:
            return "date";
        case toml::node_type::time:
            return "time";
        case toml::node_type::date_time:
            return "date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

std::optional<std::string> check_number(double v, number_range range) {
    if (!std::isfinite(v)) return "expected a finite number, got " + format_number(v);
    const bool below = range.min_exclusive ? !(v > range.min) : v < range.min;
    if (below || v > range.max) {
        return "value " + format_number(v) + " is out of range (expected " + describe_range(range) +
               ")";
    }
    return std::nullopt;
}

bool read_integer(table_reader& t, std::string_view key, integer_range range, std::int64_t& out,
                  presence p) {
    const toml::node* node = t.take(key, p);
    if (node == nullptr) return false;
    const auto* value = node->as_integer();
    if (value == nullptr) {
        t.report(*node, key, "expected an integer, got " + std::string(type_name(*node)));
        return false;
    }
    const std::int64_t v = value->get();
    if (v < range.min || v > range.max) {
        t.report(*node, key,
                 "value " + std::to_string(v) + " is out of range (expected " +
                     std::to_string(range.min) + ".." + std::to_string(range.max) + ")");
        return false;
    }
    out = v;
    return true;
}

bool read_number(table_reader& t, std::string_view key, number_range range, double& out,
                 presence p) {
    const toml::node* node = t.take(key, p);
    if (node == nullptr) return false;
    double v = 0;
    if (const auto* i = node->as_integer()) {
        v = static_cast<double>(i->get());
    } else if (const auto* f = node->as_floating_point()) {
        v = f->get();
    } else {
        t.report(*node, key, "expected a number, got " + std::string(type_name(*node)));
        return false;
    }
    if (auto problem = check_number(v, range)) {
        t.report(*node, key, *problem);
        return false;
    }
    out = v;
    return true;
}

bool read_string(table_reader& t, std::string_view key, std::string& out, presence p) {
    const toml::node* node = t.take(key, p);
    if (node == nullptr) return false;
    const auto* value = node->as_string();
    if (value == nullptr) {
        t.report(*node, key, "expected a string, got " + std::string(type_name(*node)));
        return false;
    }
    out = value->get();
    return true;
}

bool read_bool(table_reader& t, std::string_view key, bool& out, presence p) {
    const toml::node* node = t.take(key, p);
    if (node == nullptr) return false;
    const auto* value = node->as_boolean();
    if (value == nullptr) {
        t.report(*node, key, "expected true or false, got " + std::string(type_name(*node)));
        return false;
    }
    out = value->get();
    return true;
}

bool read_path(table_reader& t, std::string_view key, const std::filesystem::path& base_dir,
               std::filesystem::path& out, presence p) {
    std::string text;
    if (!read_string(t, key, text, p)) return false;
    if (text.empty()) {
        t.report(*t.take(key), key, "path must not be empty");
        return false;
    }
    out = resolve_path(base_dir, text);
    return true;
}

}  // namespace tradingd::config::detail
