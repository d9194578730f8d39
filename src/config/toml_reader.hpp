#pragma once
// Private to src/config: reading a parsed TOML tree into plain values while collecting every
// problem instead of stopping at the first one. toml++ types never leave src/config.
//
// Every problem is one line "file:line:col: key.path: message"; the position is the value's for
// type and range errors, the key's for unknown keys, the enclosing table's header for missing
// keys, and left out when unknown (a missing table, or a problem with the whole file).

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tradingd::config::detail {

/// The problems found so far in one config file. Not thread-safe; lives for one parse.
class problem_list {
public:
    explicit problem_list(std::string origin) : origin_(std::move(origin)) {}

    /// Records "origin[:line[:col]]: key_path: message" (the key path is left out when empty).
    void add(const toml::source_region& where, std::string_view key_path, std::string_view message);

    const std::string& origin() const noexcept { return origin_; }
    bool empty() const noexcept { return items_.empty(); }
    const std::vector<std::string>& items() const noexcept { return items_; }

private:
    std::string origin_;
    std::vector<std::string> items_;
};

enum class presence { optional, required };

/// A TOML table being read (or a table that is absent, which reads as empty). Remembers which keys
/// were asked for so that the others can be reported as unknown keys: a typo such as
/// `max_postion` must be an error, never silently ignored.
class table_reader {
public:
    /// `table` may be null (the table is absent). `path` is the key path of the table ("" for the
    /// root, "daemon", "symbols[0].sim"); `where` locates it for "required key is missing".
    table_reader(const toml::table* table, std::string path, toml::source_region where,
                 problem_list& problems);

    /// The value of `key` or null when absent (recording "required key is missing" when `p` is
    /// required). Marks the key as known either way.
    const toml::node* take(std::string_view key, presence p = presence::optional);

    /// A child table: a reader over `key`'s table, or over nothing when the key is absent or is not
    /// a table (the latter is recorded as a type error).
    table_reader child(std::string_view key);

    /// Records one "unknown key" problem per key that was never passed to take().
    void reject_unknown_keys();

    /// "daemon.state_dir", "symbols[0].params.fast".
    std::string key_path(std::string_view key) const;
    /// Records `message` about `key`, located at `at` (the value).
    void report(const toml::node& at, std::string_view key, std::string_view message);
    /// Same, located at the table itself (for a missing or inconsistent key).
    void report_here(std::string_view key, std::string_view message);

    const toml::table* table() const noexcept { return table_; }
    const std::string& path() const noexcept { return path_; }
    problem_list& problems() noexcept { return *problems_; }

private:
    const toml::table* table_;
    std::string path_;
    toml::source_region where_;
    problem_list* problems_;
    std::set<std::string, std::less<>> known_;
};

/// "string", "integer", "float", "boolean", "table", "array", "date", "time", "date-time".
std::string_view type_name(const toml::node& node) noexcept;

/// Inclusive integer bounds.
struct integer_range {
    std::int64_t min = std::numeric_limits<std::int64_t>::min();
    std::int64_t max = std::numeric_limits<std::int64_t>::max();
};

/// Bounds for a number; the value must also be finite. `min_exclusive` makes the lower bound
/// strict (`> 0` rather than `>= 0`).
struct number_range {
    double min = -std::numeric_limits<double>::infinity();
    double max = std::numeric_limits<double>::infinity();
    bool min_exclusive = false;
};

// Field readers. Each reads one key of `t`, checks its type and range, stores it into `out` only
// when it is valid (so `out` keeps its default otherwise) and records a problem when it is not.
// They return true when a valid value was stored.

bool read_integer(table_reader& t, std::string_view key, integer_range range, std::int64_t& out,
                  presence p = presence::optional);
/// An integer or a float (integers convert).
bool read_number(table_reader& t, std::string_view key, number_range range, double& out,
                 presence p = presence::optional);
bool read_string(table_reader& t, std::string_view key, std::string& out,
                 presence p = presence::optional);
bool read_bool(table_reader& t, std::string_view key, bool& out, presence p = presence::optional);
/// A non-empty path, relative ones resolved against `base_dir` (the config file's directory)
/// and normalised; symlinks in the existing part are resolved so logs show the real location.
bool read_path(table_reader& t, std::string_view key, const std::filesystem::path& base_dir,
               std::filesystem::path& out, presence p = presence::optional);

/// read_integer into a narrower or unsigned type; `range` must fit in `Int`.
template <typename Int>
bool read_integer_as(table_reader& t, std::string_view key, integer_range range, Int& out,
                     presence p = presence::optional) {
    std::int64_t v = 0;
    if (!read_integer(t, key, range, v, p)) return false;
    out = static_cast<Int>(v);
    return true;
}

/// Checks a number that was already read: finite and within `range`. Returns the problem text,
/// or nothing when the value is acceptable.
std::optional<std::string> check_number(double v, number_range range);

}  // namespace tradingd::config::detail
