// Per-message cost of the market-data hot path: parse a Binance stream frame, look up the symbol,
// build a market_event and hand it through an spsc_queue, against the same pipeline built on
// nlohmann::json measured in the same run.
//
//   build/tests/bench/feed_parse_bench            all figures + summary
//
// Frames are the real combined-stream frames of binance-data/BINANCE.ws.1.0 (412 bookTicker, 17
// kline), replayed in a loop on one thread; the queue is popped right after each push so it
// never fills (the consumer's cost is part of the figure, as one core would do both in the worst
// case). Targets: bookTicker >= 1,000,000 msgs/s per core; no allocation per message after
// warm-up (counted by a replaced global operator new).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <tradingd/binance/decimal.hpp>
#include <tradingd/binance/stream_parser.hpp>
#include <tradingd/core/market_types.hpp>
#include <tradingd/engine/spsc_queue.hpp>

#include "../support/counting_allocator.hpp"

using tradingd::testing::g_allocations;

using namespace tradingd;
namespace bn = tradingd::binance;
using json = nlohmann::json;

namespace {

struct capture {
    std::vector<std::string> book_tickers;
    std::vector<std::string> klines;
};

// The combined-stream JSON of each bookTicker and kline line ("<time>: <json>").
const capture& frames() {
    static const capture c = [] {
        capture out;
        std::ifstream in(std::string(TRADINGD_SHARED_DIR) + "/binance-data/BINANCE.ws.1.0");
        if (!in) {
            std::fprintf(stderr, "cannot open BINANCE.ws.1.0\n");
            std::exit(1);
        }
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            const auto sep = line.find(": ");
            if (sep == std::string::npos) continue;
            std::string frame = line.substr(sep + 2);
            if (frame.find("@bookTicker\"") != std::string::npos)
                out.book_tickers.push_back(std::move(frame));
            else if (frame.find("@kline_") != std::string::npos)
                out.klines.push_back(std::move(frame));
        }
        return out;
    }();
    return c;
}

// The consumer side of the hot path: symbol index lookup, latest quote per symbol, event into the
// queue (popped at once so it never blocks).
class dispatcher {
public:
    dispatcher() : queue_(1024) {
        for (const char* s : {"FTMUSDT", "SXPBTC", "BADGERBTC", "XMRBTC"})
            symbols_.emplace(s, static_cast<std::uint32_t>(symbols_.size()));
        quotes_.resize(symbols_.size());
    }

    void on_quote(std::string_view symbol, double bid, double ask) {
        const auto it = symbols_.find(symbol);
        if (it == symbols_.end()) return reject();
        market_event e;
        e.kind = event_kind::quote;
        e.symbol = it->second;
        e.ts = now_;  // bookTicker has no event time: the feed stamps receive time
        e.bid = bid;
        e.ask = ask;
        quotes_[it->second] = {bid, ask, now_};
        deliver(e);
    }

    void on_kline(std::string_view symbol, timestamp_ms event_time, const candle& bar,
                  bool closed) {
        const auto it = symbols_.find(symbol);
        if (it == symbols_.end()) return reject();
        market_event e;
        e.kind = closed ? event_kind::candle_closed : event_kind::candle_update;
        e.symbol = it->second;
        e.ts = event_time;
        e.bar = bar;
        e.bid = quotes_[it->second].bid;
        e.ask = quotes_[it->second].ask;
        deliver(e);
    }

    void reject() { ++rejected_; }
    std::uint64_t rejected() const { return rejected_; }
    std::uint64_t delivered() const { return delivered_; }

private:
    void deliver(const market_event& e) {
        queue_.push(e);
        auto out = queue_.pop();
        benchmark::DoNotOptimize(out);
        ++delivered_;
    }

    std::map<std::string, std::uint32_t, std::less<>> symbols_;
    std::vector<quote> quotes_;
    engine::spsc_queue<market_event> queue_;
    timestamp_ms now_ = 1'628'952'397'523;
    std::uint64_t rejected_ = 0;
    std::uint64_t delivered_ = 0;
};

void simdjson_step(bn::stream_parser& parser, dispatcher& d, const std::string& frame) {
    const bn::parsed_message& m = parser.parse(frame);
    switch (m.kind) {
        case bn::message_kind::book_ticker:
            d.on_quote(m.book.symbol, m.book.bid, m.book.ask);
            break;
        case bn::message_kind::kline:
            d.on_kline(m.kline.symbol, m.kline.event_time, m.kline.bar, m.kline.closed);
            break;
        default:
            d.reject();
            break;
    }
}

// The same pipeline on nlohmann::json, with the same checks (exact decimals, bid <= ask, candle
// rules), so the difference is the JSON library.
bool decimal_field(const json& obj, const char* key, double& out) {
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return false;
    const auto v = bn::parse_decimal(it->get_ref<const std::string&>());
    if (!v) return false;
    out = *v;
    return true;
}

bool int_field(const json& obj, const char* key, std::int64_t& out) {
    const auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_integer()) return false;
    out = it->get<std::int64_t>();
    return true;
}

void nlohmann_step(dispatcher& d, const std::string& frame) {
    const json doc = json::parse(frame, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return d.reject();
    const auto data_it = doc.find("data");
    if (data_it == doc.end() || !data_it->is_object()) return d.reject();
    const json& data = *data_it;
    const auto e = data.find("e");
    if (e == data.end()) {
        const auto s = data.find("s");
        double bid = 0, bid_qty = 0, ask = 0, ask_qty = 0;
        if (s == data.end() || !s->is_string() || !decimal_field(data, "b", bid) ||
            !decimal_field(data, "B", bid_qty) || !decimal_field(data, "a", ask) ||
            !decimal_field(data, "A", ask_qty) || !(bid > 0) || !(ask >= bid) || bid_qty < 0 ||
            ask_qty < 0)
            return d.reject();
        return d.on_quote(s->get_ref<const std::string&>(), bid, ask);
    }
    if (!e->is_string() || *e != "kline") return d.reject();
    const auto k_it = data.find("k");
    if (k_it == data.end() || !k_it->is_object()) return d.reject();
    const json& k = *k_it;
    candle bar;
    std::int64_t event_time = 0;
    const auto s = k.find("s");
    const auto i = k.find("i");
    const auto x = k.find("x");
    if (!int_field(data, "E", event_time) || !int_field(k, "t", bar.open_time) ||
        !int_field(k, "T", bar.close_time) || s == k.end() || !s->is_string() || i == k.end() ||
        !i->is_string() || x == k.end() || !x->is_boolean() || !decimal_field(k, "o", bar.open) ||
        !decimal_field(k, "h", bar.high) || !decimal_field(k, "l", bar.low) ||
        !decimal_field(k, "c", bar.close) || !decimal_field(k, "v", bar.volume))
        return d.reject();
    const std::int64_t interval = interval_ms(i->get_ref<const std::string&>().c_str());
    if (interval == 0 || bar.close_time != bar.open_time + interval - 1 ||
        bar.open_time % interval != 0 || !is_valid(bar))
        return d.reject();
    d.on_kline(s->get_ref<const std::string&>(), event_time, bar, x->get<bool>());
}

void report(benchmark::State& state, const dispatcher& d) {
    state.SetItemsProcessed(state.iterations());
    state.counters["rejected"] = static_cast<double>(d.rejected());
}

void BM_simdjson_book_ticker(benchmark::State& state) {
    const auto& f = frames().book_tickers;
    bn::stream_parser parser;
    dispatcher d;
    for (const auto& frame : f)
        simdjson_step(parser, d, frame);  // warm-up: buffers reach their final size
    std::size_t i = 0;
    const std::size_t allocations_before = g_allocations;
    for (auto _ : state) {
        simdjson_step(parser, d, f[i]);
        if (++i == f.size()) i = 0;
    }
    state.counters["allocs_per_msg"] = static_cast<double>(g_allocations - allocations_before) /
                                       static_cast<double>(state.iterations());
    report(state, d);
}
BENCHMARK(BM_simdjson_book_ticker);

void BM_simdjson_kline(benchmark::State& state) {
    const auto& f = frames().klines;
    bn::stream_parser parser;
    dispatcher d;
    for (const auto& frame : f)
        simdjson_step(parser, d, frame);
    std::size_t i = 0;
    const std::size_t allocations_before = g_allocations;
    for (auto _ : state) {
        simdjson_step(parser, d, f[i]);
        if (++i == f.size()) i = 0;
    }
    state.counters["allocs_per_msg"] = static_cast<double>(g_allocations - allocations_before) /
                                       static_cast<double>(state.iterations());
    report(state, d);
}
BENCHMARK(BM_simdjson_kline);

void BM_nlohmann_book_ticker(benchmark::State& state) {
    const auto& f = frames().book_tickers;
    dispatcher d;
    std::size_t i = 0;
    for (auto _ : state) {
        nlohmann_step(d, f[i]);
        if (++i == f.size()) i = 0;
    }
    report(state, d);
}
BENCHMARK(BM_nlohmann_book_ticker);

void BM_nlohmann_kline(benchmark::State& state) {
    const auto& f = frames().klines;
    dispatcher d;
    std::size_t i = 0;
    for (auto _ : state) {
        nlohmann_step(d, f[i]);
        if (++i == f.size()) i = 0;
    }
    report(state, d);
}
BENCHMARK(BM_nlohmann_kline);

// Collects per-benchmark ns/iteration so main can print rates measured in this run.
class rate_reporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.iterations <= 0 || r.run_type != Run::RT_Iteration) continue;
            cpu_ns.emplace(r.benchmark_name(), r.GetAdjustedCPUTime());
            real_ns.emplace(r.benchmark_name(), r.GetAdjustedRealTime());
            for (const auto& [name, c] : r.counters)
                counters.emplace(r.benchmark_name() + "/" + name, c.value);
        }
    }
    std::map<std::string, double> cpu_ns;   // per message, on the core that ran it
    std::map<std::string, double> real_ns;  // wall clock: inflated when the machine is shared
    std::map<std::string, double> counters;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (frames().book_tickers.size() != 412 || frames().klines.size() != 17) {
        std::fprintf(stderr, "unexpected capture contents: %zu bookTicker, %zu kline frames\n",
                     frames().book_tickers.size(), frames().klines.size());
        return 1;
    }
    rate_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    const auto per_second = [](const std::map<std::string, double>& m, const char* n) {
        const auto it = m.find(n);
        return it == m.end() || it->second <= 0 ? 0.0 : 1e9 / it->second;
    };
    const auto counter = [&](const std::string& n) {
        const auto it = reporter.counters.find(n);
        return it == reporter.counters.end() ? -1.0 : it->second;
    };
    // Rates from CPU time: the figure is "per core", and wall time on a shared 2-core machine
    // also counts time the thread spent descheduled. Wall-clock rates are printed alongside.
    const auto line = [&](const char* label, const char* bench) {
        const double cpu = per_second(reporter.cpu_ns, bench);
        const double wall = per_second(reporter.real_ns, bench);
        if (cpu > 0) std::printf("  %-30s: %11.0f msgs/s (wall clock %11.0f)\n", label, cpu, wall);
        return cpu;
    };
    std::printf("\nsummary (this run, one core, parse + dispatch + queue hand-off):\n");
    const double book = line("bookTicker, stream_parser", "BM_simdjson_book_ticker");
    const double kline = line("kline, stream_parser", "BM_simdjson_kline");
    const double nbook = line("bookTicker, nlohmann baseline", "BM_nlohmann_book_ticker");
    const double nkline = line("kline, nlohmann baseline", "BM_nlohmann_kline");
    if (book > 0)
        std::printf("  bookTicker target >= 1,000,000 msgs/s per core: %s\n",
                    book >= 1e6 ? "MET" : "MISSED");
    if (book > 0 && nbook > 0)
        std::printf("  ratio stream_parser / nlohmann: bookTicker %.2fx", book / nbook);
    if (kline > 0 && nkline > 0) std::printf(", kline %.2fx", kline / nkline);
    std::printf("\n");
    for (const char* b : {"BM_simdjson_book_ticker", "BM_simdjson_kline"}) {
        const double a = counter(std::string(b) + "/allocs_per_msg");
        const double rej = counter(std::string(b) + "/rejected");
        if (a >= 0) std::printf("  %-32s: %.4f allocations/msg, %.0f rejected\n", b, a, rej);
    }
    return 0;
}
