#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include <tradingd/engine/decision_log.hpp>

namespace tradingd::engine {
namespace {

void put_optional(nlohmann::ordered_json& j, const char* key, const std::optional<double>& v) {
    if (v) j[key] = *v;
}

void put_seen(nlohmann::ordered_json& j, const decision_record& r) {
    if (r.bar != nullptr) {
        nlohmann::ordered_json m;
        m["open_time"] = r.bar->open_time;
        m["open"] = r.bar->open;
        m["high"] = r.bar->high;
        m["low"] = r.bar->low;
        m["close"] = r.bar->close;
        m["volume"] = r.bar->volume;
        m["bid"] = r.seen_quote.bid;
        m["ask"] = r.seen_quote.ask;
        j["market"] = std::move(m);
    }
    if (r.indicators != nullptr && r.indicators->size() > 0) {
        nlohmann::ordered_json ind = nlohmann::ordered_json::object();
        for (std::size_t h = 0; h < r.indicators->size(); ++h) {
            const auto& spec = r.indicators->spec(h);
            const auto& value = r.indicators->value(h);
            const auto outputs = indicators::output_count(spec.kind);
            nlohmann::ordered_json v;  // null while not ready
            if (value.ready && outputs == 1) {
                v = value.v[0];
            } else if (value.ready) {
                v = nlohmann::ordered_json::array();
                for (std::size_t i = 0; i < outputs; ++i)
                    v.push_back(value.v[i]);
            }
            ind[indicators::spec_text(spec)] = std::move(v);
        }
        j["indicators"] = std::move(ind);
    }
}

}  // namespace

namespace detail {

/// "20240101T033500Z" for a Unix time in seconds.
std::string rotation_stamp(std::time_t secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::optional<rotated_key> parse_rotated_name(const std::filesystem::path& current,
                                              const std::string& name) {
    const std::string prefix = current.stem().string() + "-";
    const std::string ext = current.extension().string();
    if (name.size() < prefix.size() + 16 + ext.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - ext.size(), ext.size(), ext) != 0) {
        return std::nullopt;
    }
    const std::string middle = name.substr(prefix.size(), name.size() - prefix.size() - ext.size());
    const std::string stamp = middle.substr(0, 16);
    for (std::size_t i = 0; i < stamp.size(); ++i) {
        const bool ok = i == 8
                            ? stamp[i] == 'T'
                            : (i == 15 ? stamp[i] == 'Z'
                                       : std::isdigit(static_cast<unsigned char>(stamp[i])) != 0);
        if (!ok) return std::nullopt;
    }
    rotated_key key{stamp, 0};
    const std::string rest = middle.substr(16);
    if (rest.empty()) return key;
    if (rest.size() < 2 || rest[0] != '-' || rest.size() > 10) return std::nullopt;
    for (std::size_t i = 1; i < rest.size(); ++i) {
        if (std::isdigit(static_cast<unsigned char>(rest[i])) == 0) return std::nullopt;
    }
    key.counter = std::stoi(rest.substr(1));
    return key;
}

std::filesystem::path free_rotated_name(const std::filesystem::path& current, std::time_t now) {
    const std::string base = current.stem().string() + "-" + rotation_stamp(now);
    const std::string ext = current.extension().string();
    auto candidate = current.parent_path() / (base + ext);
    std::error_code ec;
    for (int n = 1; std::filesystem::exists(candidate, ec); ++n) {
        std::string name = base;
        name += "-";
        name += std::to_string(n);
        name += ext;
        candidate = current.parent_path() / name;
    }
    return candidate;
}

}  // namespace detail

std::vector<std::filesystem::path> decision_log_files(const std::filesystem::path& current) {
    const auto dir = current.has_parent_path() ? current.parent_path() : std::filesystem::path(".");
    std::vector<std::pair<detail::rotated_key, std::filesystem::path>> rotated;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const auto name = it->path().filename().string();
        if (auto key = detail::parse_rotated_name(current, name)) {
            rotated.emplace_back(std::move(*key), current.parent_path() / name);
        }
    }
    std::sort(rotated.begin(), rotated.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first.stamp, a.first.counter) < std::tie(b.first.stamp, b.first.counter);
    });
    std::vector<std::filesystem::path> files;
    files.reserve(rotated.size() + 1);
    for (auto& [key, path] : rotated)
        files.push_back(std::move(path));
    if (std::filesystem::exists(current, ec)) files.push_back(current);
    return files;
}

std::string iso_time(timestamp_ms ts) {
    const auto secs = static_cast<std::time_t>(ts >= 0 ? ts / 1000 : (ts - 999) / 1000);
    const int millis = static_cast<int>(((ts % 1000) + 1000) % 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

std::string to_json_line(const decision_record& r) {
    nlohmann::ordered_json j;
    j["ts"] = r.ts;
    j["time"] = iso_time(r.ts);
    j["symbol"] = r.symbol;
    j["event"] = r.event;
    j["state"] = r.state;
    j["function"] = r.function;
    j["action"] = r.action;
    j["reason"] = r.reason;
    j["price"] = r.price;
    if (!r.script_hash.empty()) j["script_hash"] = r.script_hash;
    put_optional(j, "quantity", r.quantity);
    put_optional(j, "fee", r.fee);
    put_optional(j, "pnl", r.pnl);
    put_optional(j, "stop_loss", r.stop_loss);
    put_optional(j, "take_profit", r.take_profit);
    if (r.side) j["side"] = r.side;
    if (r.to_state) j["to"] = r.to_state;
    if (!r.message.empty()) j["message"] = r.message;
    if (!r.previous_hash.empty()) j["previous_hash"] = r.previous_hash;
    if (!r.refused_hash.empty()) j["refused_hash"] = r.refused_hash;
    put_seen(j, r);
    // Script-provided text may hold invalid UTF-8: replace rather than throw.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

decision_log_file::decision_log_file(const std::filesystem::path& path,
                                     decision_log_rotation rotation)
    : path_(path), rotation_(rotation), rotate_limit_(rotation.max_bytes) {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
        throw std::runtime_error("cannot create directory '" + path.parent_path().string() +
                                 "' for the decision log: " + ec.message());
    }
    if (!open_locked()) {
        throw std::runtime_error("cannot open decision log '" + path.string() +
                                 "': " + std::generic_category().message(errno));
    }
    prune_old_files();
}

decision_log_file::~decision_log_file() {
    if (file_ != nullptr) std::fclose(file_);
}

bool decision_log_file::open_locked() {
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) return false;
    // The position of an append stream is unspecified until the first write: ask the file system.
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    size_ = ec ? 0 : size;
    end_with_newline();
    return true;
}

void decision_log_file::end_with_newline() {
    // A crash (kill -9) can cut the last line short: start on a new line so the next record is
    // not glued to it (readers skip the cut line as malformed, and keep the new one).
    if (size_ == 0) return;
    std::FILE* in = std::fopen(path_.c_str(), "rbe");
    if (in == nullptr) return;
    int last = '\n';
    if (std::fseek(in, -1, SEEK_END) == 0) last = std::fgetc(in);
    std::fclose(in);
    if (last != '\n' && std::fputc('\n', file_) != EOF && std::fflush(file_) == 0) ++size_;
}

void decision_log_file::rotate_locked() {
    std::fclose(file_);
    file_ = nullptr;
    const auto target = detail::free_rotated_name(path_, std::time(nullptr));
    std::error_code ec;
    std::filesystem::rename(path_, target, ec);
    if (ec) {
        // Keep appending to the same file; try again only after it grows by another max_bytes,
        // so a persistent failure does not log once per line.
        rotate_limit_ = size_ + rotation_.max_bytes;
        spdlog::error("decision log '{}': cannot rotate to '{}': {}; still writing to '{}'",
                      path_.string(), target.string(), ec.message(), path_.string());
    } else {
        ++rotations_;
        rotate_limit_ = rotation_.max_bytes;
        spdlog::info("decision log '{}' reached {} bytes: rotated to '{}'", path_.string(), size_,
                     target.filename().string());
    }
    if (!open_locked()) {
        spdlog::error("decision log '{}': cannot reopen after rotation: {}", path_.string(),
                      std::generic_category().message(errno));
    }
    if (!ec) prune_old_files();
}

void decision_log_file::prune_old_files() const {
    if (rotation_.keep.count() <= 0) return;
    const auto cutoff = std::filesystem::file_time_type::clock::now() - rotation_.keep;
    for (const auto& file : decision_log_files(path_)) {
        if (file == path_) continue;
        std::error_code ec;
        const auto mtime = std::filesystem::last_write_time(file, ec);
        if (ec || mtime >= cutoff) continue;
        if (std::filesystem::remove(file, ec)) {
            spdlog::info("decision log: deleted '{}' (older than {:g} days)", file.string(),
                         static_cast<double>(rotation_.keep.count()) / 86400.0);
        } else if (ec) {
            spdlog::warn("decision log: cannot delete old file '{}': {}", file.string(),
                         ec.message());
        }
    }
}

void decision_log_file::write(const decision_record& r) noexcept {
    try {
        std::string line = to_json_line(r);
        line.push_back('\n');
        std::lock_guard lock(mutex_);
        if (rotation_.max_bytes > 0 && file_ != nullptr && size_ > 0 &&
            size_ + line.size() > rotate_limit_) {
            rotate_locked();
        }
        if (file_ == nullptr && !open_locked()) {
            ++write_errors_;
            spdlog::error("decision log '{}': cannot open: {}", path_.string(),
                          std::generic_category().message(errno));
            return;
        }
        if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
            std::fflush(file_) != 0) {
            ++write_errors_;
            spdlog::error("decision log '{}': write failed: {}", path_.string(),
                          std::generic_category().message(errno));
            std::error_code ec;
            const auto size = std::filesystem::file_size(path_, ec);
            if (!ec) size_ = size;
            return;
        }
        size_ += line.size();
    } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        ++write_errors_;
        spdlog::error("decision log '{}': cannot record an entry: {}", path_.string(), e.what());
    }
}

std::uint64_t decision_log_file::rotations() const noexcept {
    std::lock_guard lock(mutex_);
    return rotations_;
}

std::uint64_t decision_log_file::write_errors() const noexcept {
    std::lock_guard lock(mutex_);
    return write_errors_;
}

}  // namespace tradingd::engine
