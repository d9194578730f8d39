// The live Binance feed: see include/tradingd/feed/binance_feed.hpp for the guarantees.
//
// Everything below runs on the network thread unless it says otherwise; only the REST worker
// (rest_worker.hpp) runs elsewhere, and it hands its results back with asio::post.
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <tradingd/binance/backoff.hpp>
#include <tradingd/binance/stream_names.hpp>
#include <tradingd/binance/stream_parser.hpp>
#include <tradingd/feed/binance_feed.hpp>
#include <tradingd/feed/binance_rest.hpp>
#include <tradingd/feed/candle_sequencer.hpp>
#include <tradingd/net/https_client.hpp>
#include <tradingd/net/tls.hpp>
#include <tradingd/net/ws_session.hpp>

#include "rest_worker.hpp"
#include "symbol_outbox.hpp"

namespace tradingd::feed {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

url require_url(const std::string& text, const char* key) {
    auto u = parse_url(text);
    if (!u)
        throw std::invalid_argument(std::string("feed.binance.") + key + ": bad URL '" + text +
                                    "'");
    return *u;
}

std::int64_t ms_since(steady::time_point t, steady::time_point now) {
    return std::chrono::duration_cast<milliseconds>(now - t).count();
}

/// A kline held while its symbol is being backfilled, replayed afterwards.
struct held_kline {
    candle bar;
    bool closed = false;
};

enum class symbol_mode : std::uint8_t { warming, live, backfilling, disabled };

const char* mode_name(symbol_mode m, bool stale) {
    if (stale && m != symbol_mode::disabled) return "stale";
    switch (m) {
        case symbol_mode::warming:
            return "warming";
        case symbol_mode::live:
            return "live";
        case symbol_mode::backfilling:
            return "backfilling";
        case symbol_mode::disabled:
            return "disabled";
    }
    return "?";
}

struct symbol_slot {
    config::symbol_config cfg;
    std::uint32_t index = 0;
    candle_sequencer seq;
    symbol_outbox outbox;
    symbol_mode mode = symbol_mode::warming;
    bool stale = false;  // the last REST repair failed; retrying
    bool fetch_in_flight = false;
    std::vector<held_kline> held;
    double bid = 0, ask = 0;
    std::uint64_t last_book_update = 0;
    std::size_t shard = 0;
    asio::steady_timer retry_timer;
    binance::reconnect_backoff retry_backoff;
    symbol_feed_stats stats;

    symbol_slot(asio::io_context& ioc, const config::symbol_config& c, std::uint32_t i,
                event_sink* sink)
        : cfg(c),
          index(i),
          seq(c.interval_ms),
          outbox(sink),
          retry_timer(ioc),
          retry_backoff(binance::backoff_policy{milliseconds(1'000), milliseconds(60'000), 2.0,
                                                milliseconds(0), 1'000'000, milliseconds(1),
                                                milliseconds(0)}) {
        stats.symbol = c.symbol;
    }
};

struct shard_conn {
    std::size_t id = 0;
    std::string target;
    std::vector<std::size_t> symbols;
    std::shared_ptr<net::ws_session> current;
    std::shared_ptr<net::ws_session> next;  // make-before-break replacement being opened
    binance::reconnect_backoff backoff;
    asio::steady_timer reconnect_timer;
    asio::steady_timer rotate_timer;
    bool ever_opened = false;
    steady::time_point last_data{};
    steady::time_point opened_at{};
    std::uint64_t messages_at_last_stats = 0;
    std::deque<steady::time_point> recent_bad;  // bad frames in the last 10 s
    connection_stats stats;

    shard_conn(asio::io_context& ioc, binance::backoff_policy p)
        : backoff(p), reconnect_timer(ioc), rotate_timer(ioc) {}
};

/// Lets the per-message lookup take the parser's string_view without building a std::string.
struct symbol_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

constexpr std::size_t k_max_held = 4096;                // klines held per symbol during a repair
constexpr std::size_t k_bad_frames_to_reconnect = 100;  // within 10 s (M01)

}  // namespace

struct binance_feed::impl {
    config::binance_feed_config settings;
    std::shared_ptr<spdlog::logger> log;
    url ws_url;
    url rest_url;
    asio::ssl::context tls;
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    std::vector<std::unique_ptr<symbol_slot>> slots;
    std::unordered_map<std::string, std::size_t, symbol_hash, std::equal_to<>> by_symbol;
    std::vector<std::unique_ptr<shard_conn>> shards;
    binance::stream_parser parser;
    net::https_client http;
    rest_worker worker;
    binance_rest rest;
    asio::steady_timer watchdog_timer{ioc};
    asio::steady_timer flush_timer{ioc};
    asio::steady_timer stats_timer{ioc};
    bool flush_armed = false;
    std::int64_t frame_received_ns = 0;  // of the frame being handled (0: from REST)
    bool stopping = false;
    std::thread io_thread;
    std::atomic<bool> started{false};
    std::atomic<bool> stopped{false};
    mutable std::mutex stats_mutex;
    binance_feed_stats published;
    steady::time_point last_stats_time = steady::now();
    std::uint64_t log_budget_reset = 0;
    std::uint32_t bad_frame_logs = 0;  // per minute, see note_bad_frame

    impl(const config::binance_feed_config& s, const std::vector<config::symbol_config>& symbols,
         std::vector<event_sink*> sinks, std::shared_ptr<spdlog::logger> logger)
        : settings(s),
          log(std::move(logger)),
          ws_url(require_url(s.ws_url, "ws_url")),
          rest_url(require_url(s.rest_url, "rest_url")),
          tls(net::make_client_tls_context(s.ca_file)),
          http(rest_url, tls, milliseconds(s.rest_timeout_ms)),
          rest(http, rest_retry_policy{s.rest_attempts, milliseconds(500), milliseconds(120'000)},
               [this](milliseconds d) { return worker.sleep_for(d); }) {
        if (symbols.size() != sinks.size()) {
            throw std::invalid_argument("binance_feed: one sink per symbol is required");
        }
        std::vector<std::size_t> added;
        for (std::size_t i = 0; i < symbols.size(); ++i)
            added.push_back(add_slot(symbols[i], sinks[i]));
        add_shards(added);
    }

    /// A new slot for `cfg` (not yet connected or warmed up). Throws std::invalid_argument.
    std::size_t add_slot(const config::symbol_config& cfg, event_sink* sink) {
        if (sink == nullptr) throw std::invalid_argument("binance_feed: null sink");
        if (by_symbol.count(cfg.symbol) != 0) {
            throw std::invalid_argument("binance_feed: " + cfg.symbol + " is already fed");
        }
        const std::size_t i = slots.size();
        slots.push_back(
            std::make_unique<symbol_slot>(ioc, cfg, static_cast<std::uint32_t>(i), sink));
        by_symbol.emplace(cfg.symbol, i);
        return i;
    }

    /// New connections carrying the streams of `slot_indices` (sharded at
    /// max_streams_per_connection); returns their shard ids. Not connected yet.
    std::vector<std::size_t> add_shards(const std::vector<std::size_t>& slot_indices) {
        std::vector<std::string> streams;
        for (auto i : slot_indices) {
            streams.push_back(binance::kline_stream(slots[i]->cfg.symbol, slots[i]->cfg.interval));
            streams.push_back(binance::book_ticker_stream(slots[i]->cfg.symbol));
        }
        const binance::backoff_policy policy{milliseconds(settings.reconnect_initial_ms),
                                             milliseconds(settings.reconnect_max_ms),
                                             2.0,
                                             milliseconds(1'000),
                                             300,
                                             milliseconds(300'000),
                                             milliseconds(10'000)};
        const auto targets = binance::combined_stream_targets(
            streams, static_cast<std::size_t>(settings.max_streams_per_connection));
        std::vector<std::size_t> ids;
        for (const auto& target : targets) {
            auto sh = std::make_unique<shard_conn>(ioc, policy);
            sh->id = shards.size();
            sh->target = target;
            sh->stats.name = "ws#" + std::to_string(sh->id);
            sh->stats.state = "connecting";
            // Which of the new symbols it carries: those whose kline stream its target names.
            for (auto i : slot_indices) {
                const auto name =
                    binance::kline_stream(slots[i]->cfg.symbol, slots[i]->cfg.interval);
                if (sh->target.find(name) != std::string::npos) {
                    slots[i]->shard = sh->id;
                    sh->symbols.push_back(i);
                }
            }
            ids.push_back(sh->id);
            shards.push_back(std::move(sh));
        }
        return ids;
    }

    /// A symbol added while running: its own connection(s), then warm-up as at start. Runs on
    /// the network thread; the existing connections are left alone (no resubscription).
    void add_running(const config::symbol_config& cfg, event_sink* sink) {
        if (stopping) throw std::runtime_error("binance_feed: stopping");
        const auto i = add_slot(cfg, sink);
        const auto ids = add_shards({i});
        log->info("{} {} added: warming up over REST, streams on {}", cfg.symbol, cfg.interval,
                  shards[ids.front()]->stats.name);
        request_warmup(*slots[i]);
        for (auto id : ids)
            connect(*shards[id], false);
        publish_stats();
    }

    // ---- delivery to runners ---------------------------------------------------------------

    market_event make_event(const symbol_slot& s, event_kind kind, const candle& bar,
                            bool warmup) const {
        market_event e;
        e.kind = kind;
        e.warmup = warmup;
        e.symbol = s.index;
        e.bar = bar;
        e.ts = kind == event_kind::candle_closed ? bar.close_time : now_ms();
        e.bid = s.bid > 0 ? s.bid : bar.close;
        e.ask = s.ask > 0 ? s.ask : bar.close;
        e.received_ns = frame_received_ns;
        return e;
    }

    void deliver(symbol_slot& s, const market_event& e) {
        if (!s.outbox.deliver(e)) arm_flush();
    }

    void arm_flush() {
        if (flush_armed || stopping) return;
        flush_armed = true;
        flush_timer.expires_after(milliseconds(2));
        flush_timer.async_wait([this](const boost::system::error_code& ec) {
            flush_armed = false;
            if (ec || stopping) return;
            bool pending = false;
            for (auto& s : slots)
                pending |= !s->outbox.flush();
            if (pending) arm_flush();
        });
    }

    void deliver_closed(symbol_slot& s, const candle& c, const char* source, bool warmup) {
        deliver(s, make_event(s, event_kind::candle_closed, c, warmup));
        ++s.stats.closed_delivered;
        log->debug("{} {} candle t={} closed ({})", s.cfg.symbol, s.cfg.interval, c.open_time,
                   source);
    }

    // ---- klines -------------------------------------------------------------------------------

    void on_kline(symbol_slot& s, const binance::kline_message& k) {
        if (s.mode == symbol_mode::disabled) return;
        if (k.interval != s.cfg.interval) return;  // not our subscription
        process_kline(s, held_kline{k.bar, k.closed});
    }

    void hold(symbol_slot& s, const held_kline& k) {
        if (s.held.size() >= k_max_held) {
            // The repair fetches everything up to its own time, so the oldest held klines are
            // the ones it covers anyway.
            s.held.erase(s.held.begin(),
                         s.held.begin() + static_cast<std::ptrdiff_t>(k_max_held / 2));
        }
        s.held.push_back(k);
    }

    void process_kline(symbol_slot& s, const held_kline& k) {
        if (s.mode != symbol_mode::live) {
            hold(s, k);
            return;
        }
        const auto cls = s.seq.classify(k.bar, k.closed);
        if (cls.duplicate) {
            ++s.stats.duplicates;
            log->debug("{} duplicate close of candle t={} dropped", s.cfg.symbol, k.bar.open_time);
            return;
        }
        if (cls.stale) {
            ++s.stats.stale_dropped;
            log->debug("{} out-of-order kline t={} dropped", s.cfg.symbol, k.bar.open_time);
            return;
        }
        for (std::uint8_t i = 0; i < cls.closed_count; ++i) {
            const candle& c = cls.closed[i];
            switch (s.seq.admit(c)) {
                case candle_sequencer::admission::deliver:
                    deliver_closed(s, c, "live", false);
                    break;
                case candle_sequencer::admission::duplicate:
                    ++s.stats.duplicates;
                    break;
                case candle_sequencer::admission::gap:
                    log->warn("{} gap: candle t={} arrived, expected t={}; backfilling over REST",
                              s.cfg.symbol, c.open_time, s.seq.next_expected().value_or(0));
                    ++s.stats.gaps;
                    start_repair(s);
                    for (std::uint8_t j = i; j < cls.closed_count; ++j)
                        hold(s, held_kline{cls.closed[j], true});
                    if (cls.is_update) hold(s, k);
                    return;
            }
        }
        if (cls.is_update) {
            if (s.seq.forming_implies_gap(k.bar.open_time)) {
                log->warn("{} gap: candle t={} forming, expected t={} to close first; backfilling",
                          s.cfg.symbol, k.bar.open_time, s.seq.next_expected().value_or(0));
                ++s.stats.gaps;
                start_repair(s);
                hold(s, k);
                return;
            }
            deliver(s, make_event(s, event_kind::candle_update, k.bar, false));
        }
    }

    // ---- REST warm-up and repair ----------------------------------------------------------------

    void request_warmup(symbol_slot& s) {
        const auto count = static_cast<std::int32_t>(
            std::min<std::size_t>(static_cast<std::size_t>(settings.warmup_candles), s.cfg.window));
        if (count == 0) {
            s.mode = symbol_mode::live;
            replay_held(s);
            return;
        }
        s.fetch_in_flight = true;
        const auto cfg = s.cfg;
        const auto index = s.index;
        worker.submit([this, cfg, count, index] {
            klines_failure failure;
            auto r = rest.latest_closed(cfg.symbol, cfg.interval, cfg.interval_ms, count, &failure);
            asio::post(ioc, [this, index, r = std::move(r), failure]() mutable {
                on_fetched(*slots[index], std::move(r), failure, true);
            });
        });
    }

    void start_repair(symbol_slot& s) {
        if (s.mode == symbol_mode::disabled) return;
        if (s.mode == symbol_mode::warming) return;  // warm-up will cover it
        s.mode = symbol_mode::backfilling;
        if (s.fetch_in_flight) return;
        const auto from = s.seq.next_expected();
        if (!from) {  // nothing delivered yet: a warm-up is the repair
            s.mode = symbol_mode::warming;
            request_warmup(s);
            return;
        }
        s.fetch_in_flight = true;
        const auto cfg = s.cfg;
        const auto index = s.index;
        const timestamp_ms start = *from;
        worker.submit([this, cfg, start, index] {
            klines_failure failure;
            auto r = rest.closed_since(cfg.symbol, cfg.interval, cfg.interval_ms, start, &failure);
            asio::post(ioc, [this, index, r = std::move(r), failure]() mutable {
                on_fetched(*slots[index], std::move(r), failure, false);
            });
        });
    }

    void on_fetched(symbol_slot& s, result<std::vector<candle>> r, const klines_failure& failure,
                    bool warmup) {
        frame_received_ns = 0;  // these candles come from REST, not from a frame
        s.fetch_in_flight = false;
        if (stopping || s.mode == symbol_mode::disabled) return;
        if (!r) {
            if (failure.permanent) {
                s.mode = symbol_mode::disabled;
                s.held.clear();
                log->error("{} disabled: {} (the other symbols continue)", s.cfg.symbol,
                           r.error_message());
                return;
            }
            s.stale = true;
            s.retry_backoff.on_disconnected(steady::now());
            const auto delay = s.retry_backoff.next_delay(steady::now());
            log->error("{} is STALE: {} fetch failed: {}; retrying in {} ms", s.cfg.symbol,
                       warmup ? "warm-up" : "gap repair", r.error_message(), delay.count());
            s.retry_timer.expires_after(delay);
            s.retry_timer.async_wait([this, &s, warmup](const boost::system::error_code& ec) {
                if (ec || stopping) return;
                if (warmup)
                    request_warmup(s);
                else
                    start_repair(s);
            });
            return;
        }
        if (s.stale) log->info("{} recovered: REST data received", s.cfg.symbol);
        s.stale = false;
        s.retry_backoff.on_connected(steady::now());
        std::size_t delivered = 0;
        for (const auto& c : r.value()) {
            // REST is the exchange's record: a hole in it (maintenance) is real, not a gap to
            // repair, so its candles are taken in order whatever their spacing.
            const auto last = s.seq.last_admitted();
            if (last && c.open_time <= *last) continue;
            if (last && c.open_time != *last + s.cfg.interval_ms) {
                log->warn("{} the exchange has no candles from t={} to t={} (outage)", s.cfg.symbol,
                          *last + s.cfg.interval_ms, c.open_time - s.cfg.interval_ms);
            }
            s.seq.restart_at(c.open_time);
            deliver_closed(s, c, warmup ? "warm-up" : "backfill", warmup);
            ++delivered;
        }
        if (!warmup) {
            s.stats.backfilled += delivered;
            shards[s.shard]->stats.gaps_backfilled += delivered > 0 ? 1 : 0;
        }
        log->info("{} {}: {} closed candles from REST", s.cfg.symbol, warmup ? "warm-up" : "repair",
                  delivered);
        s.mode = symbol_mode::live;
        replay_held(s);
    }

    void replay_held(symbol_slot& s) {
        std::vector<held_kline> held;
        held.swap(s.held);
        for (std::size_t i = 0; i < held.size(); ++i) {
            process_kline(s, held[i]);
            if (s.mode != symbol_mode::live) {  // another gap: keep the rest for the next round
                for (std::size_t j = i + 1; j < held.size(); ++j)
                    hold(s, held[j]);
                return;
            }
        }
    }

    // ---- quotes -------------------------------------------------------------------------------

    void on_book(symbol_slot& s, const binance::book_ticker_message& b) {
        if (s.mode == symbol_mode::disabled) return;
        // During a make-before-break overlap both connections carry the stream: the update
        // id orders them.
        if (b.update_id != 0 && b.update_id <= s.last_book_update) return;
        s.last_book_update = b.update_id;
        s.bid = b.bid;
        s.ask = b.ask;
        market_event e;
        e.kind = event_kind::quote;
        e.symbol = s.index;
        e.ts = now_ms();
        e.bid = b.bid;
        e.ask = b.ask;
        e.received_ns = frame_received_ns;
        deliver(s, e);
    }

    // ---- connections ----------------------------------------------------------------------------

    void connect(shard_conn& sh, bool rotation) {
        if (stopping) return;
        sh.backoff.on_attempt(steady::now());
        net::ws_options opts;
        opts.connect_timeout = milliseconds(settings.connect_timeout_ms);
        opts.idle_timeout = milliseconds(settings.idle_timeout_ms);
        opts.max_message_bytes = settings.max_message_bytes;
        auto holder = std::make_shared<std::weak_ptr<net::ws_session>>();
        net::ws_handlers h;
        h.on_open = [this, &sh, holder] { on_open(sh, holder->lock()); };
        h.on_message = [this, &sh](std::string_view payload, bool binary) {
            on_message(sh, payload, binary);
        };
        h.on_closed = [this, &sh, holder](const std::string& reason) {
            on_closed(sh, holder->lock(), reason);
        };
        auto session = net::ws_session::create(ioc, tls, ws_url, sh.target, opts, std::move(h));
        *holder = session;
        if (rotation) {
            sh.next = session;
        } else {
            sh.current = session;
            sh.stats.state = "connecting";
        }
        session->start();
    }

    void on_open(shard_conn& sh, const std::shared_ptr<net::ws_session>& session) {
        const auto now = steady::now();
        if (session && session == sh.next) {
            auto old = std::move(sh.current);
            sh.current = std::move(sh.next);
            log->info("{}: replacement connection open; closing the old one", sh.stats.name);
            if (old) old->close();
        } else {
            log->info("{}: connected to {}", sh.stats.name, session ? session->name() : "?");
        }
        sh.stats.state = "open";
        sh.stats.last_error.clear();
        sh.backoff.on_connected(now);
        sh.opened_at = now;
        sh.last_data = now;
        if (sh.ever_opened) {
            // Whatever was sent while no connection was open is only in REST now.
            for (auto i : sh.symbols)
                if (slots[i]->mode == symbol_mode::live) start_repair(*slots[i]);
        }
        sh.ever_opened = true;
        sh.rotate_timer.expires_after(milliseconds(settings.rotate_after_ms));
        sh.rotate_timer.async_wait([this, &sh](const boost::system::error_code& ec) {
            if (ec || stopping) return;
            log->info("{}: connection is {} ms old; rotating before the 24 h cut", sh.stats.name,
                      settings.rotate_after_ms);
            rotate(sh);
        });
    }

    void rotate(shard_conn& sh) {
        if (sh.next || !sh.current || stopping) return;
        connect(sh, true);
    }

    void on_closed(shard_conn& sh, const std::shared_ptr<net::ws_session>& session,
                   const std::string& reason) {
        if (stopping) return;
        if (session && session == sh.next) {
            sh.next.reset();
            log->warn("{}: replacement connection failed: {}", sh.stats.name, reason);
            // Keep the current connection; if it was asked to go (serverShutdown) it will close
            // and the normal reconnect takes over.
            return;
        }
        if (!session || session != sh.current) return;  // an old connection after a rotation
        const bool was_open = sh.stats.state == "open";
        sh.current.reset();
        sh.rotate_timer.cancel();
        const auto now = steady::now();
        sh.backoff.on_disconnected(now);
        const auto delay = sh.backoff.next_delay(now);
        ++sh.stats.reconnects;
        sh.stats.state = "backoff";
        sh.stats.last_error = reason;
        log->warn("{}: {}: {}; reconnecting in {} ms (attempt {})", sh.stats.name,
                  was_open ? "connection lost" : "connect failed", reason, delay.count(),
                  sh.backoff.consecutive_failures());
        sh.reconnect_timer.expires_after(delay);
        sh.reconnect_timer.async_wait([this, &sh](const boost::system::error_code& ec) {
            if (ec || stopping) return;
            connect(sh, false);
        });
    }

    void note_bad_frame(shard_conn& sh, std::string_view what, std::string_view sample) {
        ++sh.stats.parse_errors;
        const auto now = steady::now();
        sh.recent_bad.push_back(now);
        while (!sh.recent_bad.empty() && now - sh.recent_bad.front() > std::chrono::seconds(10))
            sh.recent_bad.pop_front();
        if (bad_frame_logs < 20) {  // reset every stats period: a flood costs no log storm
            ++bad_frame_logs;
            log->warn("{}: dropped a bad frame ({}): {:.200}", sh.stats.name, what, sample);
        }
        if (sh.recent_bad.size() > k_bad_frames_to_reconnect && sh.current) {
            log->error("{}: more than {} bad frames in 10 s; reconnecting", sh.stats.name,
                       k_bad_frames_to_reconnect);
            sh.recent_bad.clear();
            sh.current->abort();
        }
    }

    void on_message(shard_conn& sh, std::string_view payload, bool binary) {
        frame_received_ns = steady::now().time_since_epoch().count();
        ++sh.stats.messages;
        if (binary) return note_bad_frame(sh, "binary frame", "");
        const auto& m = parser.parse(payload);
        switch (m.kind) {
            case binance::message_kind::kline: {
                sh.last_data = steady::now();
                const auto it = by_symbol.find(m.kline.symbol);
                if (it != by_symbol.end()) on_kline(*slots[it->second], m.kline);
                break;
            }
            case binance::message_kind::book_ticker: {
                sh.last_data = steady::now();
                const auto it = by_symbol.find(m.book.symbol);
                if (it != by_symbol.end()) on_book(*slots[it->second], m.book);
                break;
            }
            case binance::message_kind::server_shutdown:
                log->warn("{}: serverShutdown received; opening a replacement connection",
                          sh.stats.name);
                rotate(sh);
                break;
            case binance::message_kind::subscription_error:
                log->error("{}: the server rejected a request: code {}: {}", sh.stats.name,
                           m.error_code, m.error);
                break;
            case binance::message_kind::subscription_result:
            case binance::message_kind::ignored:
                sh.last_data = steady::now();
                break;
            case binance::message_kind::invalid:
                note_bad_frame(sh, std::string("invalid: ") + std::string(m.error), payload);
                break;
            case binance::message_kind::malformed:
                note_bad_frame(sh, std::string("malformed: ") + std::string(m.error), payload);
                break;
        }
    }

    // ---- timers
    // -----------------------------------------------------------------------------------

    void arm_watchdog() {
        const auto period =
            milliseconds(std::clamp<std::int64_t>(settings.data_timeout_ms / 4, 50, 1'000));
        watchdog_timer.expires_after(period);
        watchdog_timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping) return;
            const auto now = steady::now();
            for (auto& sh : shards) {
                if (!sh->current || !sh->current->open()) continue;
                if (ms_since(sh->last_data, now) > settings.data_timeout_ms) {
                    log->warn(
                        "{}: no market data for {} ms while the connection stays up; "
                        "replacing it",
                        sh->stats.name, ms_since(sh->last_data, now));
                    sh->current->abort();
                }
            }
            arm_watchdog();
        });
    }

    /// Snapshot for stats(); rates are over the time since the previous snapshot.
    void publish_stats() {
        const auto now = steady::now();
        const double secs =
            std::max(1e-3, std::chrono::duration<double>(now - last_stats_time).count());
        last_stats_time = now;
        binance_feed_stats st;
        for (auto& sh : shards) {
            auto c = sh->stats;
            c.messages_per_s = static_cast<double>(c.messages - sh->messages_at_last_stats) / secs;
            sh->messages_at_last_stats = c.messages;
            c.last_message_age_ms = sh->ever_opened ? ms_since(sh->last_data, now) : -1;
            st.connections.push_back(std::move(c));
        }
        for (auto& s : slots) {
            auto x = s->stats;
            x.state = mode_name(s->mode, s->stale);
            st.symbols.push_back(std::move(x));
        }
        std::lock_guard lock(stats_mutex);
        published = std::move(st);
    }

    void arm_stats() {
        stats_timer.expires_after(milliseconds(1'000));
        stats_timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping) return;
            publish_stats();
            bad_frame_logs = 0;
            static constexpr int k_log_every = 60;
            if (++log_budget_reset % k_log_every == 0) {
                std::lock_guard lock(stats_mutex);
                for (const auto& c : published.connections) {
                    log->info(
                        "{}: {} reconnects={} last_message_age={}ms msgs/s={:.1f} "
                        "parse_errors={} gaps_backfilled={}",
                        c.name, c.state, c.reconnects, c.last_message_age_ms, c.messages_per_s,
                        c.parse_errors, c.gaps_backfilled);
                }
            }
            arm_stats();
        });
    }

    void begin() {
        for (auto& s : slots)
            request_warmup(*s);
        for (auto& sh : shards)
            connect(*sh, false);
        arm_watchdog();
        arm_stats();
    }

    void shutdown() {
        stopping = true;
        watchdog_timer.cancel();
        flush_timer.cancel();
        stats_timer.cancel();
        for (auto& s : slots)
            s->retry_timer.cancel();
        for (auto& sh : shards) {
            sh->reconnect_timer.cancel();
            sh->rotate_timer.cancel();
            if (sh->next) sh->next->abort();
            if (sh->current) sh->current->close();
            sh->stats.state = "stopped";
        }
    }
};

binance_feed::binance_feed(const config::binance_feed_config& settings,
                           const std::vector<config::symbol_config>& symbols,
                           std::vector<event_sink*> sinks, std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_unique<impl>(settings, symbols, std::move(sinks), std::move(logger))) {}

binance_feed::~binance_feed() {
    stop();
}

void binance_feed::start() {
    if (impl_->started.exchange(true)) throw std::logic_error("binance_feed: started twice");
    impl_->worker.start();
    asio::post(impl_->ioc, [this] { impl_->begin(); });
    impl_->io_thread = std::thread([this] {
        try {
            impl_->ioc.run();
        } catch (const std::exception& e) {
            impl_->log->critical("binance feed network thread failed: {}", e.what());
        }
    });
}

void binance_feed::stop() {
    if (!impl_->started.load() || impl_->stopped.exchange(true)) return;
    impl_->worker.stop();  // wakes a REST retry wait; an in-flight request ends by its deadline
    asio::post(impl_->ioc, [this] { impl_->shutdown(); });
    impl_->work.reset();
    // Give close handshakes a moment, then stop whatever is left (a dead peer never answers).
    asio::steady_timer deadline(impl_->ioc, milliseconds(1'000));
    deadline.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) impl_->ioc.stop();
    });
    if (impl_->io_thread.joinable()) impl_->io_thread.join();
    impl_->worker.join();
}

void binance_feed::add_symbol(const config::symbol_config& symbol, event_sink* sink) {
    if (!impl_->started.load() || impl_->stopped.load()) {
        throw std::logic_error("binance_feed::add_symbol: the feed is not running");
    }
    // The network thread owns every slot and connection: the symbol is added there, and its
    // refusal (already fed, null sink) comes back here.
    auto done = std::make_shared<std::promise<void>>();
    auto added = done->get_future();
    asio::post(impl_->ioc, [this, symbol, sink, done] {
        try {
            impl_->add_running(symbol, sink);
            done->set_value();
        } catch (...) {
            done->set_exception(std::current_exception());
        }
    });
    if (added.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        throw std::runtime_error("binance_feed: the network thread did not answer within 5 s");
    }
    added.get();
}

binance_feed_stats binance_feed::stats() const {
    // Fresh figures from the network thread when it is running; the last published ones
    // otherwise (before start, after stop, or if it is slow to answer).
    if (impl_->started.load() && !impl_->stopped.load()) {
        auto done = std::make_shared<std::promise<void>>();
        auto ready = done->get_future();
        asio::post(impl_->ioc, [this, done] {
            impl_->publish_stats();
            done->set_value();
        });
        ready.wait_for(milliseconds(500));
    }
    std::lock_guard lock(impl_->stats_mutex);
    return impl_->published;
}

}  // namespace tradingd::feed
