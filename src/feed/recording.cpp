// The recording file format (docs/recording.md): encoding, the writer with its background
// flusher, the forwarding sink and the reader.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <system_error>
#include <utility>

#include <tradingd/feed/recording.hpp>

namespace tradingd::feed {

namespace {

namespace fs = std::filesystem;
namespace fmt_ = recording_format;
using record_bytes = std::array<unsigned char, fmt_::record_size>;

// Byte offsets inside a record (docs/recording.md, "Records").
constexpr std::size_t at_symbol = 0;
constexpr std::size_t at_kind = 4;
constexpr std::size_t at_flags = 5;  // a definition record keeps the name's length here
constexpr std::size_t at_recorded = 8;
constexpr std::size_t at_received = 16;
constexpr std::size_t at_ts = 24;
constexpr std::size_t at_open_time = 32;
constexpr std::size_t at_close_time = 40;
constexpr std::size_t at_open = 48;  // then high, low, close, volume, bid, ask (8 bytes each)
constexpr std::size_t at_name = 48;  // a definition record's name bytes
constexpr std::size_t at_sequence = 104;
constexpr std::size_t at_crc = 108;
static_assert(at_open + std::size_t{7} * 8 == at_sequence);
static_assert(at_name + fmt_::max_symbol_name == at_sequence);
static_assert(at_crc + 4 == fmt_::record_size);

constexpr std::uint8_t flag_warmup = 1;
constexpr std::uint8_t flag_received = 2;

/// The buffer size at which record() wakes the flusher early, and the size at which the
/// recording gives up (the disk has not kept up for a long time).
constexpr std::size_t wake_bytes = std::size_t{1} << 20;
constexpr std::size_t max_buffer_bytes = std::size_t{64} << 20;
constexpr auto flush_interval = std::chrono::milliseconds(100);

// CRC-32 (IEEE 802.3, as zlib's crc32), table-driven.
constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto crc_table = make_crc_table();

std::uint32_t crc32_update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i)
        crc = crc_table[(crc ^ p[i]) & 0xFFU] ^ (crc >> 8);
    return ~crc;
}

// Little-endian, byte by byte: the same file on every host.
void put_u64(unsigned char* p, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u32(unsigned char* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_i64(unsigned char* p, std::int64_t v) noexcept {
    put_u64(p, static_cast<std::uint64_t>(v));
}
void put_f64(unsigned char* p, double v) noexcept {
    put_u64(p, std::bit_cast<std::uint64_t>(v));  // bit-exact, NaN payloads included
}
std::uint64_t get_u64(const unsigned char* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}
std::uint32_t get_u32(const unsigned char* p) noexcept {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}
std::int64_t get_i64(const unsigned char* p) noexcept {
    return static_cast<std::int64_t>(get_u64(p));
}
double get_f64(const unsigned char* p) noexcept {
    return std::bit_cast<double>(get_u64(p));
}

std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

void check_name(const std::string& name) {
    if (name.empty() || name.size() > fmt_::max_symbol_name) {
        throw recording_error("recording: symbol name '" + name + "' must be 1 to " +
                              std::to_string(fmt_::max_symbol_name) + " bytes");
    }
}

/// <stem>-<UTC stamp>[-N]<ext> beside `path` that does not exist yet.
fs::path aside_name(const fs::path& path) {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    const std::string base = path.stem().string() + "-" + stamp;
    fs::path candidate = path.parent_path() / (base + path.extension().string());
    for (int n = 1; fs::exists(candidate); ++n)
        candidate =
            path.parent_path() / (base + "-" + std::to_string(n) + path.extension().string());
    return candidate;
}

void seal(record_bytes& r, std::uint32_t sequence) noexcept {
    put_u32(&r[at_sequence], sequence);
    put_u32(&r[at_crc], crc32_update(0, r.data(), at_crc));
}

std::vector<unsigned char> encode_header(std::int64_t start_wall_ns,
                                         const std::vector<std::string>& symbols) {
    std::vector<unsigned char> h(fmt_::magic, fmt_::magic + sizeof fmt_::magic);
    unsigned char word[8];
    put_u32(word, fmt_::version);
    h.insert(h.end(), word, word + 4);
    put_u32(word, static_cast<std::uint32_t>(fmt_::record_size));
    h.insert(h.end(), word, word + 4);
    put_i64(word, start_wall_ns);
    h.insert(h.end(), word, word + 8);
    put_u32(word, static_cast<std::uint32_t>(symbols.size()));
    h.insert(h.end(), word, word + 4);
    for (const auto& s : symbols) {
        h.push_back(static_cast<unsigned char>(s.size()));
        h.insert(h.end(), s.begin(), s.end());
    }
    put_u32(word, crc32_update(0, h.data(), h.size()));
    h.insert(h.end(), word, word + 4);
    return h;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// recording_writer

recording_writer::recording_writer(const fs::path& path, const std::vector<std::string>& symbols,
                                   std::shared_ptr<spdlog::logger> log)
    : path_(path), log_(std::move(log)), symbols_(symbols) {
    for (const auto& s : symbols_)
        check_name(s);
    std::error_code ec;
    if (!path_.parent_path().empty()) fs::create_directories(path_.parent_path(), ec);
    if (fs::exists(path_, ec)) {
        const fs::path aside = aside_name(path_);
        fs::rename(path_, aside, ec);
        if (ec) {
            throw recording_error("recording " + path_.string() +
                                  ": cannot move the existing file aside: " + ec.message());
        }
        log_->info("recording {}: the existing file was renamed to {}", path_.string(),
                   aside.string());
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw recording_error("recording " + path_.string() +
                              ": cannot create: " + errno_text(errno));
    }
    start_steady_ns_ = steady_ns();
    const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    if (!write_out(encode_header(wall, symbols_))) {
        ::close(fd_);
        fd_ = -1;
        throw recording_error("recording " + path_.string() +
                              ": cannot write the header: " + errno_text(errno));
    }
    buffer_.reserve(wake_bytes * 2);
    flusher_ = std::thread([this] { flush_loop(); });
}

recording_writer::~recording_writer() {
    close();
}

std::uint32_t recording_writer::add_symbol(const std::string& name) {
    check_name(name);
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < symbols_.size(); ++i) {
        if (symbols_[i] == name) return static_cast<std::uint32_t>(i);
    }
    const auto index = static_cast<std::uint32_t>(symbols_.size());
    symbols_.push_back(name);
    record_bytes r{};
    put_u32(&r[at_symbol], index);
    r[at_kind] = fmt_::symbol_definition_kind;
    r[at_flags] = static_cast<unsigned char>(name.size());
    std::memcpy(&r[at_name], name.data(), name.size());
    put_i64(&r[at_recorded], steady_ns() - start_steady_ns_);
    append_locked(r.data());
    return index;
}

void recording_writer::record(std::uint32_t index, const market_event& e) noexcept {
    if (failed_.load(std::memory_order_acquire)) return;
    record_bytes r{};
    put_u32(&r[at_symbol], index);
    r[at_kind] = static_cast<unsigned char>(e.kind);
    r[at_flags] = static_cast<unsigned char>((e.warmup ? flag_warmup : 0) |
                                             (e.received_ns != 0 ? flag_received : 0));
    put_i64(&r[at_ts], e.ts);
    put_i64(&r[at_open_time], e.bar.open_time);
    put_i64(&r[at_close_time], e.bar.close_time);
    const double values[] = {e.bar.open,   e.bar.high, e.bar.low, e.bar.close,
                             e.bar.volume, e.bid,      e.ask};
    for (std::size_t i = 0; i < 7; ++i)
        put_f64(&r[at_open + 8 * i], values[i]);
    std::lock_guard lock(mutex_);
    if (closing_ || failed_.load(std::memory_order_relaxed)) return;
    // Under the lock, so the offsets never decrease along the file.
    const std::int64_t now = steady_ns();
    put_i64(&r[at_recorded], now - start_steady_ns_);
    if (e.received_ns != 0) put_i64(&r[at_received], e.received_ns - start_steady_ns_);
    append_locked(r.data());
}

void recording_writer::append_locked(const unsigned char* record) {
    record_bytes r;
    std::memcpy(r.data(), record, r.size());
    seal(r, sequence_++);
    if (buffer_.size() + r.size() > max_buffer_bytes) {
        fail("the disk has not kept up: " + std::to_string(max_buffer_bytes >> 20) +
             " MiB waiting to be written");
        return;
    }
    buffer_.insert(buffer_.end(), r.begin(), r.end());
    records_.fetch_add(1, std::memory_order_relaxed);
    if (buffer_.size() >= wake_bytes) wake_.notify_one();
}

void recording_writer::flush_loop() {
    std::vector<unsigned char> out;
    out.reserve(wake_bytes * 2);
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait_for(lock, flush_interval,
                       [this] { return closing_ || buffer_.size() >= wake_bytes; });
        out.swap(buffer_);
        const bool closing = closing_;
        lock.unlock();
        if (!out.empty() && !failed_.load(std::memory_order_acquire)) write_out(out);
        out.clear();
        lock.lock();
        if (closing && buffer_.empty()) return;
    }
}

bool recording_writer::write_out(const std::vector<unsigned char>& data) noexcept {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            // The header is written from the constructor, which reports the error itself.
            if (flusher_.joinable()) fail("write failed: " + errno_text(err));
            errno = err;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

void recording_writer::fail(const std::string& why) noexcept {
    if (failed_.exchange(true, std::memory_order_acq_rel)) return;
    try {
        log_->error("recording {} stopped after {} records: {} (trading goes on unrecorded)",
                    path_.string(), records_.load(std::memory_order_relaxed), why);
    } catch (...) {  // logging must not take the feed thread down; the flag is set either way
    }
}

void recording_writer::close() noexcept {
    if (closed_.exchange(true)) return;
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
    }
    wake_.notify_one();
    if (flusher_.joinable()) flusher_.join();
    if (fd_ >= 0) {
        if (::fsync(fd_) != 0 && !failed()) fail("fsync failed: " + errno_text(errno));
        ::close(fd_);
        fd_ = -1;
    }
    try {
        log_->info("recording {} closed: {} records{}", path_.string(), records(),
                   failed() ? " (incomplete: see the error above)" : "");
    } catch (...) {  // close() runs from destructors
    }
}

// ---------------------------------------------------------------------------------------------
// recording_sink

bool recording_sink::push(const market_event& e) {
    if (!target_->push(e)) return false;
    writer_->record(index_, e);
    return true;
}

event_sink::offer_result recording_sink::offer(const market_event& e) {
    const offer_result r = target_->offer(e);
    if (r == offer_result::accepted) writer_->record(index_, e);
    return r;
}

// ---------------------------------------------------------------------------------------------
// recording_reader

namespace {

/// Reads exactly `n` bytes into `out` and feeds them to `crc`; throws naming what was missing.
void read_header_bytes(std::FILE* f, const fs::path& path, unsigned char* out, std::size_t n,
                       std::uint32_t& crc, std::uint64_t& offset, const char* what) {
    if (std::fread(out, 1, n, f) != n) {
        throw recording_error(path.string() + ": not a complete recording header (" + what +
                              " missing at offset " + std::to_string(offset) + ")");
    }
    crc = crc32_update(crc, out, n);
    offset += n;
}

}  // namespace

recording_reader::recording_reader(const fs::path& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr) {
        throw recording_error("cannot open recording " + path.string() + ": " + errno_text(errno));
    }
    try {
        std::uint32_t crc = 0;
        unsigned char fixed[28];
        read_header_bytes(file_, path_, fixed, sizeof fixed, crc, offset_, "magic and fields");
        if (std::memcmp(fixed, fmt_::magic, sizeof fmt_::magic) != 0) {
            throw recording_error(path_.string() + ": not a tradingd recording (bad magic)");
        }
        const std::uint32_t version = get_u32(fixed + 8);
        if (version != fmt_::version) {
            throw recording_error(path_.string() + ": recording format version " +
                                  std::to_string(version) + " is not supported (this build reads " +
                                  std::to_string(fmt_::version) + ")");
        }
        if (get_u32(fixed + 12) != fmt_::record_size) {
            throw recording_error(path_.string() + ": unexpected record size " +
                                  std::to_string(get_u32(fixed + 12)));
        }
        start_wall_ns_ = get_i64(fixed + 16);
        const std::uint32_t count = get_u32(fixed + 24);
        if (count > 1'000'000) {
            throw recording_error(path_.string() + ": implausible symbol count " +
                                  std::to_string(count) + " (corrupt header)");
        }
        for (std::uint32_t i = 0; i < count; ++i) {
            unsigned char len = 0;
            read_header_bytes(file_, path_, &len, 1, crc, offset_, "symbol table");
            std::string name(len, '\0');
            read_header_bytes(file_, path_, reinterpret_cast<unsigned char*>(name.data()), len, crc,
                              offset_, "symbol table");
            symbols_.push_back(std::move(name));
        }
        unsigned char stored[4];
        std::uint32_t ignored = 0;
        read_header_bytes(file_, path_, stored, 4, ignored, offset_, "header checksum");
        if (get_u32(stored) != crc) {
            throw recording_error(path_.string() + ": header checksum mismatch (corrupt header)");
        }
    } catch (...) {
        std::fclose(file_);
        throw;
    }
}

recording_reader::~recording_reader() {
    if (file_ != nullptr) std::fclose(file_);
}

recording_reader::status recording_reader::next(recorded_event& out) {
    record_bytes r;
    for (;;) {
        const std::size_t n = std::fread(r.data(), 1, r.size(), file_);
        if (n < r.size()) {
            if (std::ferror(file_)) {
                error_ = path_.string() + ": read error at offset " + std::to_string(offset_);
                return status::corrupt;
            }
            torn_tail_ = n;  // 0: a clean end
            return status::end;
        }
        const auto corrupt = [&](const std::string& why) {
            error_ = path_.string() + ": corrupt record at offset " + std::to_string(offset_) +
                     ": " + why;
            return status::corrupt;
        };
        if (get_u32(&r[at_crc]) != crc32_update(0, r.data(), at_crc))
            return corrupt("checksum mismatch");
        if (get_u32(&r[at_sequence]) != expected_sequence_) {
            return corrupt("sequence number " + std::to_string(get_u32(&r[at_sequence])) +
                           ", expected " + std::to_string(expected_sequence_) +
                           " (records lost or repeated)");
        }
        const std::uint32_t symbol = get_u32(&r[at_symbol]);
        const std::uint8_t kind = r[at_kind];
        if (kind == fmt_::symbol_definition_kind) {
            const std::size_t len = r[at_flags];
            if (symbol != symbols_.size() || len == 0 || len > fmt_::max_symbol_name)
                return corrupt("invalid symbol definition");
            symbols_.emplace_back(reinterpret_cast<const char*>(&r[at_name]), len);
            offset_ += r.size();
            ++expected_sequence_;
            continue;
        }
        if (kind > static_cast<std::uint8_t>(event_kind::quote))
            return corrupt("unknown record kind " + std::to_string(kind));
        if (symbol >= symbols_.size())
            return corrupt("symbol index " + std::to_string(symbol) + " is not in the table");
        market_event& e = out.event;
        e = market_event{};
        e.kind = static_cast<event_kind>(kind);
        e.warmup = (r[at_flags] & flag_warmup) != 0;
        e.symbol = symbol;
        e.ts = get_i64(&r[at_ts]);
        e.bar.open_time = get_i64(&r[at_open_time]);
        e.bar.close_time = get_i64(&r[at_close_time]);
        double* values[] = {&e.bar.open,   &e.bar.high, &e.bar.low, &e.bar.close,
                            &e.bar.volume, &e.bid,      &e.ask};
        for (std::size_t i = 0; i < 7; ++i)
            *values[i] = get_f64(&r[at_open + 8 * i]);
        out.has_received = (r[at_flags] & flag_received) != 0;
        e.received_ns = out.has_received ? get_i64(&r[at_received]) : 0;
        out.recorded_ns = get_i64(&r[at_recorded]);
        offset_ += r.size();
        ++expected_sequence_;
        return status::event;
    }
}

recording_summary scan_recording(const fs::path& path) {
    recording_reader reader(path);
    recording_summary s;
    s.start_wall_ns = reader.start_wall_ns();
    recorded_event ev;
    for (;;) {
        const auto st = reader.next(ev);
        if (st == recording_reader::status::corrupt) throw recording_error(reader.error());
        if (st == recording_reader::status::end) break;
        s.events.resize(reader.symbols().size());
        ++s.events[ev.event.symbol];
        ++s.total_events;
        s.duration_ns = ev.recorded_ns;
    }
    s.symbols = reader.symbols();
    s.events.resize(s.symbols.size());
    s.torn_tail_bytes = reader.torn_tail_bytes();
    return s;
}

bool is_recording(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    char head[sizeof fmt_::magic] = {};
    return in.read(head, sizeof head) && std::memcmp(head, fmt_::magic, sizeof head) == 0;
}

std::vector<candle> read_recorded_candles(const std::filesystem::path& path,
                                          const std::string& symbol) {
    recording_reader reader(path);
    std::vector<candle> out;
    recorded_event r;
    for (;;) {
        const auto st = reader.next(r);
        if (st == recording_reader::status::end) break;
        if (st == recording_reader::status::corrupt) throw recording_error(reader.error());
        if (r.event.kind != event_kind::candle_closed) continue;
        const auto& names = reader.symbols();
        if (r.event.symbol < names.size() && names[r.event.symbol] == symbol)
            out.push_back(r.event.bar);
    }
    const auto& names = reader.symbols();
    if (std::find(names.begin(), names.end(), symbol) == names.end()) {
        throw recording_error(path.string() + ": the recording has no symbol " + symbol);
    }
    return out;
}

}  // namespace tradingd::feed
