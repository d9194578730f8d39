// Journal append throughput and latency per durability mode, and restart (recovery) time.
//
//   build/tests/bench/journal_bench [dir]      (default: a fresh directory under /tmp)
//
// append/group    records/s and per-append latency (p50/p99) with group commit (5 ms), one
//                 thread and 4 threads; baseline: a bare pwrite of the same bytes (no framing,
//                 no crc, no state) measured in the same run
// append/fsync    the same with an fdatasync per record (the default for live trading)
// restart         opening (recovering) a journal of 1,000,000 records without a snapshot, and
//                 one whose snapshot covers all but the last 100,000
//
// Records are what a runner writes: mostly ctx writes, with analyses, entries (fill + position),
// stop/target updates and exits in between.
#include <fcntl.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <tradingd/journal/journal.hpp>

using namespace tradingd;
using namespace tradingd::journal;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

std::shared_ptr<spdlog::logger> quiet() {
    return std::make_shared<spdlog::logger>("bench",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

/// A runner's stream of records for one symbol: valid in order, ~50 bytes each on average.
class record_stream {
public:
    explicit record_stream(std::string symbol) : symbol_(std::move(symbol)) {}

    const record& next() {
        r_ = record{};
        r_.symbol = symbol_;
        r_.ts = (++n_) * 60'000;
        if (n_ == 1) {
            r_.type = record_type::account_opened;
            r_.amount = 10'000;
            return r_;
        }
        const auto step = n_ % 20;
        if (step == 5) {
            r_.type = record_type::analysis_begun;
            r_.text = "fast SMA crossed above slow SMA";
        } else if (step == 6) {
            r_.type = record_type::entry;
            r_.order_fill = exec::fill{exec::order_side::buy, 0.01, 30'000.5, 0.3, r_.ts};
            r_.stop_loss = 29'700.0;
            r_.take_profit = 30'600.0;
            r_.text = "cross held";
        } else if (step == 10 || step == 14) {
            r_.type = record_type::stop_loss;
            r_.stop_loss = 29'800.0 + static_cast<double>(step);
        } else if (step == 18) {
            r_.type = record_type::exit;
            r_.order_fill = exec::fill{exec::order_side::sell, 0.01, 30'100.25, 0.3, r_.ts};
            r_.text = "take_profit";
        } else {
            r_.type = record_type::ctx_set;
            key_ = step % 2 ? "fast_above" : "last_signal_close";
            value_ = static_cast<std::int64_t>(n_);
            r_.text = key_;
            r_.value = &value_;
        }
        return r_;
    }

private:
    std::string symbol_;
    std::string key_;
    scalar value_;
    record r_;
    std::uint64_t n_ = 0;
};

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

struct append_result {
    double per_second = 0;
    double p50_us = 0;
    double p99_us = 0;
};

append_result run_appends(const fs::path& dir, const config::journal_config& cfg, int threads,
                          int per_thread) {
    fs::remove_all(dir);
    journal::journal j(dir, cfg, quiet());
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(threads));
    const auto start = clock_type::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            record_stream s("SYM" + std::to_string(t));
            auto& mine = lat[static_cast<std::size_t>(t)];
            mine.reserve(static_cast<std::size_t>(per_thread));
            for (int i = 0; i < per_thread; ++i) {
                const record& r = s.next();
                const auto t0 = clock_type::now();
                if (!j.append(r)) {
                    std::fprintf(stderr, "append failed: %s\n", j.failure().c_str());
                    std::exit(1);
                }
                mine.push_back(
                    std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
            }
        });
    }
    for (auto& t : pool)
        t.join();
    const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    std::vector<double> all;
    for (auto& l : lat)
        all.insert(all.end(), l.begin(), l.end());
    append_result r;
    r.per_second = static_cast<double>(all.size()) / secs;
    r.p50_us = percentile(all, 0.50);
    r.p99_us = percentile(all, 0.99);
    return r;
}

/// The floor: the same number of bytes written with one pwrite each, nothing else.
append_result bare_pwrite(const fs::path& dir, int count, std::size_t bytes, bool sync) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path file = dir / "bare";
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::posix_fallocate(fd, 0, static_cast<off_t>(bytes) * count + 4096) != 0) {
        std::perror("bare");
        std::exit(1);
    }
    const std::string buf(bytes, 'x');
    std::vector<double> lat;
    lat.reserve(static_cast<std::size_t>(count));
    const auto start = clock_type::now();
    for (int i = 0; i < count; ++i) {
        const auto t0 = clock_type::now();
        if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(bytes) * i) < 0 ||
            (sync && ::fdatasync(fd) != 0)) {
            std::perror("bare pwrite");
            std::exit(1);
        }
        lat.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
    const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    ::close(fd);
    append_result r;
    r.per_second = count / secs;
    r.p50_us = percentile(lat, 0.50);
    r.p99_us = percentile(lat, 0.99);
    return r;
}

void print(const char* what, const append_result& r, const append_result* floor = nullptr) {
    std::printf("  %-34s %12.0f records/s   p50 %8.2f us   p99 %8.2f us", what, r.per_second,
                r.p50_us, r.p99_us);
    if (floor != nullptr)
        std::printf("   (%.2fx the bare pwrite's time)", floor->per_second / r.per_second);
    std::printf("\n");
}

/// Writes `total` records; with `snapshot_before_last`, a snapshot covers all but that many.
void write_journal(const fs::path& dir, int total, int snapshot_before_last) {
    fs::remove_all(dir);
    config::journal_config cfg;
    cfg.durability = "group";
    cfg.group_commit_ms = 50;
    cfg.snapshot_every = snapshot_before_last > 0 ? total - snapshot_before_last : 100'000'000;
    journal::journal j(dir, cfg, quiet());
    record_stream streams[4] = {record_stream("BTCUSDT"), record_stream("ETHUSDT"),
                                record_stream("SOLUSDT"), record_stream("BNBUSDT")};
    for (int i = 0; i < total; ++i) {
        if (snapshot_before_last > 0 && i == total - snapshot_before_last) {
            while (j.stats().snapshots == 0)  // let the snapshot land exactly here
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (!j.append(streams[i % 4].next())) std::exit(1);
    }
}

void restart(const fs::path& dir, const char* what) {
    const auto t0 = clock_type::now();
    config::journal_config cfg;
    cfg.durability = "group";
    journal::journal j(dir, cfg, quiet());
    const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    std::printf("  %-34s %8.3f s   (snapshot at %llu, %llu records replayed, %zu runners)\n", what,
                secs, static_cast<unsigned long long>(j.report().snapshot_seq),
                static_cast<unsigned long long>(j.report().records_replayed),
                j.recovered().runners.size());
}

}  // namespace

int main(int argc, char** argv) {
    const fs::path base = argc > 1 ? fs::path(argv[1])
                                   : fs::temp_directory_path() /
                                         ("tradingd-journal-bench-" + std::to_string(::getpid()));
    std::printf("journal_bench in %s\n\nappend (records as a runner writes them, ~50 B)\n",
                base.c_str());
    config::journal_config group;
    group.durability = "group";
    config::journal_config fsync;
    fsync.durability = "fsync";
    const int n = 1'000'000;
    const auto floor = bare_pwrite(base / "bare", n, 64, false);
    print("bare pwrite, 64 B (baseline)", floor);
    print("group commit, 1 thread", run_appends(base / "g1", group, 1, n), &floor);
    print("group commit, 4 threads", run_appends(base / "g4", group, 4, n / 4), &floor);
    const int m = 3'000;
    const auto floor_sync = bare_pwrite(base / "bare-sync", m, 64, true);
    print("bare pwrite + fdatasync (baseline)", floor_sync);
    print("fsync per record, 1 thread", run_appends(base / "f1", fsync, 1, m), &floor_sync);
    print("fsync per record, 4 threads", run_appends(base / "f4", fsync, 4, m / 4), &floor_sync);

    std::printf("\nrestart (recovery of 4 runners' state)\n");
    write_journal(base / "nosnap", 1'000'000, 0);
    restart(base / "nosnap", "1,000,000 records, no snapshot");
    write_journal(base / "snap", 1'000'000, 100'000);
    restart(base / "snap", "snapshot + 100,000 records");
    if (argc <= 1) fs::remove_all(base);
    return 0;
}
