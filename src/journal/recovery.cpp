#include "recovery.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "files.hpp"

namespace tradingd::journal::detail {

namespace fs = std::filesystem;

namespace {

struct frame {
    std::uint32_t len = 0;
    std::uint32_t crc = 0;
    std::uint64_t seq = 0;
};

frame header_at(std::string_view data, std::size_t off) {
    frame f;
    std::memcpy(&f.len, data.data() + off, 4);
    std::memcpy(&f.crc, data.data() + off + 4, 4);
    std::memcpy(&f.seq, data.data() + off + 8, 8);
    return f;
}

/// Why the frame at `off` is not a valid record ("" when it is).
std::string frame_problem(std::string_view data, std::size_t off) {
    const frame f = header_at(data, off);
    if (f.len > max_payload || f.len > data.size() - off - frame_header) {
        return fmt::format("length {} runs past the end of the file", f.len);
    }
    const std::string_view covered = data.substr(off + 8, 8 + f.len);
    if (crc32_of(covered) != f.crc) return "checksum mismatch";
    return "";
}

/// Whether a valid frame with a sequence number in [seq, seq + 2^20) starts anywhere after `off`.
bool valid_frame_after(std::string_view data, std::size_t off, std::uint64_t seq) {
    for (std::size_t p = off + 1; p + frame_header <= data.size(); ++p) {
        const frame f = header_at(data, p);
        if (f.seq < seq || f.seq - seq >= (1u << 20)) continue;
        if (frame_problem(data, p).empty()) return true;
    }
    return false;
}

std::size_t last_nonzero_end(std::string_view data) {
    std::size_t n = data.size();
    // Word at a time over the (usually long) zero tail of a preallocated segment.
    while (n >= 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, data.data() + n - 8, 8);
        if (w != 0) break;
        n -= 8;
    }
    while (n > 0 && data[n - 1] == 0)
        --n;
    return n;
}

bool all_zero(std::string_view data) {
    return last_nonzero_end(data) == 0;
}

/// The newest snapshot whose header and checksum hold; notes any newer one that did not.
void load_snapshot(const directory_listing& files, recovery& out) {
    for (const auto& [seq, path] : files.snapshots) {
        const std::string data = read_whole_file(path);
        std::string why;
        if (data.size() < snapshot_header || data.compare(0, 8, snapshot_magic) != 0) {
            why = "not a snapshot (bad header)";
        } else {
            std::uint64_t body_seq = 0, len = 0;
            std::uint32_t crc = 0;
            std::memcpy(&body_seq, data.data() + 8, 8);
            std::memcpy(&len, data.data() + 16, 8);
            std::memcpy(&crc, data.data() + 24, 4);
            const std::string_view body = std::string_view(data).substr(snapshot_header);
            if (len != body.size() || body_seq != seq) {
                why = "truncated or misnamed";
            } else if (crc32_of(body) != crc) {
                why = "checksum mismatch";
            } else if (auto state = decode_state(body); !state) {
                why = state.error_message();
            } else {
                out.state = std::move(state).value();
                out.report.snapshot_seq = seq;
                return;
            }
        }
        if (out.report.snapshot_problem.empty()) {
            out.report.snapshot_problem = path.string() + ": " + why + " (skipped)";
        }
    }
}

class replayer {
public:
    replayer(recovery& out, const directory_listing& files) : out_(out), files_(files) {}

    void run() {
        for (std::size_t i = 0; i < files_.segments.size(); ++i) {
            const bool last = i + 1 == files_.segments.size();
            // Wholly covered by the snapshot: the next segment starts at or before what it needs.
            if (!last && files_.segments[i + 1].first <= out_.state.last_seq + 1) continue;
            replay_segment(files_.segments[i].second, files_.segments[i].first, last);
            if (stopped_) break;
        }
    }

private:
    void replay_segment(const fs::path& path, std::uint64_t first_seq, bool last) {
        const mapped_file file(path);
        const std::string_view data = file.data();
        const std::uint64_t expected = out_.state.last_seq + 1;
        if (first_seq > expected) {
            throw journal_error(fmt::format(
                "journal {}: records {} to {} are missing (segment {} starts at {}){}",
                path.parent_path().string(), expected, first_seq - 1, path.filename().string(),
                first_seq,
                out_.report.snapshot_problem.empty()
                    ? ""
                    : "; the snapshot covering them is unusable: " + out_.report.snapshot_problem));
        }
        std::size_t off = 0;
        while (off + frame_header <= data.size()) {
            const frame f = header_at(data, off);
            if (f.len == 0 && f.crc == 0 && f.seq == 0 && all_zero(data.substr(off))) break;
            if (std::string why = frame_problem(data, off); !why.empty()) {
                bad_frame(path, data, off, why, last);
                return;
            }
            const std::string_view payload =
                std::string_view(data).substr(off + frame_header, f.len);
            if (f.seq > out_.state.last_seq) apply_frame(path, off, f.seq, payload);
            off += frame_header + f.len;
        }
        if (off + frame_header > data.size() && off < data.size() && !all_zero(data.substr(off))) {
            bad_frame(path, data, off, "a partial frame header", last);
            return;
        }
        if (last) {
            out_.last_segment = path;
            out_.end_offset = off;
            out_.dirty_end = last_nonzero_end(data);
        }
    }

    void apply_frame(const fs::path& path, std::size_t off, std::uint64_t seq,
                     std::string_view payload) {
        const std::uint64_t expected = out_.state.last_seq + 1;
        if (seq != expected) {
            throw journal_error(fmt::format("{} at offset {}: record {} where {} was expected",
                                            path.string(), off, seq, expected));
        }
        if (auto d = decode(payload, decoded_); !d) {
            throw journal_error(fmt::format("{} at offset {}: record {} is malformed: {}",
                                            path.string(), off, seq, d.error_message()));
        }
        auto& runner = out_.state.runners[std::string(decoded_.r.symbol)];
        if (auto a = apply(decoded_.r, runner); !a) {
            throw journal_error(fmt::format("{} at offset {}: record {}: {}", path.string(), off,
                                            seq, a.error_message()));
        }
        out_.state.last_seq = seq;
        ++out_.report.records_replayed;
    }

    // A torn write can only be the very last thing in the journal: anything valid after it means
    // the damage is in the middle, and a partial restore would be silent data loss.
    void bad_frame(const fs::path& path, std::string_view data, std::size_t off,
                   const std::string& why, bool last) {
        const std::uint64_t next = out_.state.last_seq + 1;
        if (!last || valid_frame_after(data, off, next)) {
            throw journal_error(fmt::format(
                "{} is corrupt at offset {} ({}), and valid records follow it: refusing to start "
                "from a partial journal. Restore the file from a backup, or move the journal "
                "directory away to start without the state it holds",
                path.string(), off, why));
        }
        out_.report.torn_tail = fmt::format("{} at offset {} ({})", path.string(), off, why);
        out_.last_segment = path;
        out_.end_offset = off;
        out_.dirty_end = last_nonzero_end(data);
        stopped_ = true;
    }

    recovery& out_;
    const directory_listing& files_;
    decoded_record decoded_;
    bool stopped_ = false;
};

}  // namespace

recovery recover(const fs::path& dir) {
    const auto started = std::chrono::steady_clock::now();
    recovery out;
    const directory_listing files = list_directory(dir);
    load_snapshot(files, out);
    replayer(out, files).run();
    out.report.last_seq = out.state.last_seq;
    out.report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
}

}  // namespace tradingd::journal::detail
