#pragma once
// A mock Binance Spot exchange on 127.0.0.1 for the network tests (Boost.Beast, TLS).
//
// It serves, on one TLS port:
//   GET /stream?streams=a/b/...     combined market streams (WebSocket upgrade)
//   GET /ws/<stream>                 a raw stream (WebSocket upgrade)
//   GET /api/v3/klines?symbol=&interval=&startTime=&endTime=&limit=   (Binance's semantics:
//       chronological rows, limit default 500 max 1000, startTime inclusive; without startTime
//       the most recent `limit` rows, the last one being the still-forming candle)
//   GET /api/v3/time, GET /api/v3/ping
// Unknown symbols get HTTP 400 {"code":-1121,"msg":"Invalid symbol."} on REST, and no data on
// the streams.
//
// Market data is synthetic and deterministic: every configured symbol has candles of its
// interval on a virtual clock. `start()` begins at `history_candles` candles of history (served by
// REST), then every `candle_period` of wall time one more candle forms: `updates_per_candle`
// x:false kline updates interleaved with bookTicker messages, then the x:true kline, to every
// WebSocket client subscribed to those streams. Prices follow a seeded walk; every row is valid.
//
// Scripting (any thread, takes effect on the next event): stall data while still answering
// pings, stop answering pings, skip candles on the WebSocket (they stay in REST: a gap), send the
// closing x:true twice, omit x:true (the next candle's first event must close it), send an older
// candle, inject arbitrary text/binary/oversized frames, send serverShutdown (raw or combined
// shape), close connections abruptly (TCP reset) or with a close code, refuse the next N
// connection attempts, fail the next N REST requests with a status and Retry-After, ping clients
// and record their pongs, present a certificate for another host.
//
// Thread-safety: all public functions are safe from any thread. The server runs its own threads.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tradingd/core/market_types.hpp>

namespace tradingd::testing {

/// A throwaway PKI: a CA and a server certificate it signed, generated with OpenSSL at run time.
struct test_certificates {
    std::string ca_pem;           ///< what clients trust (the daemon's `ca_file`)
    std::string server_cert_pem;  ///< SANs: the `hosts` given to generate()
    std::string server_key_pem;
    /// A CA + server certificate whose SANs are `hosts` (DNS names, or IP addresses such as
    /// "127.0.0.1"). Valid from one hour ago for `days` days.
    static test_certificates generate(const std::vector<std::string>& hosts, int days = 2);
    /// Writes ca.pem, server.pem, server.key into `dir`; returns the path of ca.pem.
    std::filesystem::path write(const std::filesystem::path& dir) const;
};

struct mock_symbol {
    std::string symbol = "BTCUSDT";  ///< upper case
    std::string interval = "1m";
    double start_price = 100;
};

struct mock_options {
    std::vector<mock_symbol> symbols{mock_symbol{}};
    std::uint16_t port = 0;  ///< 0: pick a free port (see port())
    /// Hosts in the server certificate. {"localhost", "127.0.0.1"} by default; set to e.g.
    /// {"wrong.example"} to present a certificate for another host.
    std::vector<std::string> certificate_hosts{"localhost", "127.0.0.1"};
    /// Validity of the generated certificates in days from one hour ago; -1 gives certificates
    /// that expired a day ago (to test that clients refuse them).
    int certificate_days = 2;
    /// Virtual time of the first history candle's open (aligned to the interval). Default:
    /// wall clock minus two days, so every candle the mock produces is in the past.
    std::optional<timestamp_ms> start_time;
    std::int32_t history_candles = 600;
    std::chrono::milliseconds candle_period{200};  ///< wall time per new candle
    std::int32_t updates_per_candle = 3;           ///< x:false kline updates per candle
    std::int32_t quotes_per_update = 2;            ///< bookTicker messages after each update
    std::uint64_t seed = 7;
};

struct mock_stats {
    std::uint64_t ws_connections_accepted = 0;  ///< upgraded WebSocket sessions
    std::uint64_t tcp_connections_refused = 0;  ///< attempts closed by refuse_connections
    std::uint64_t rest_requests = 0;
    std::uint64_t pongs_received = 0;
    std::uint64_t pings_received = 0;  ///< client-initiated pings
    std::uint64_t text_frames_received = 0;
    std::size_t open_ws_sessions = 0;
};

class mock_exchange {
public:
    explicit mock_exchange(mock_options options);
    ~mock_exchange();  ///< stops and joins
    mock_exchange(const mock_exchange&) = delete;
    mock_exchange& operator=(const mock_exchange&) = delete;

    /// Starts listening and producing candles. Throws on setup failure (bind, TLS).
    void start();
    void stop();

    std::uint16_t port() const noexcept;
    const test_certificates& certificates() const noexcept;
    mock_stats stats() const;

    /// Every closed candle produced so far for `symbol`, in order (history included): what a
    /// client must have delivered exactly once, in order, whatever the scenario did.
    std::vector<candle> closed_candles(const std::string& symbol) const;
    /// Candles closed so far (all symbols); handy for waiting.
    std::uint64_t candles_closed_total() const;

    // --- data-flow scripting -------------------------------------------------------------
    void stall_data(bool on);        ///< no data frames while on; pings still answered
    void answer_pings(bool on);      ///< off: client pings get no pong (dead peer)
    void skip_candles(int n);        ///< the next n candles are not sent on WebSocket at all
    void duplicate_next_close();     ///< the next x:true is sent twice
    void omit_next_close();          ///< the next candle gets no x:true message
    void send_stale_candle();        ///< re-send an older closed candle after the next close
    void pause_production(bool on);  ///< freeze the virtual clock (no new candles at all)

    // --- frame injection (to every open WebSocket session) ---------------------------------
    void send_text(const std::string& text);
    void send_binary(const std::string& bytes);
    void send_oversized(std::size_t bytes);  ///< one text frame of that many bytes
    void send_server_shutdown(bool combined_shape);
    void send_ping(const std::string& payload);
    /// Payloads of the pongs received for send_ping (in order).
    std::vector<std::string> pong_payloads() const;

    // --- connection faults -------------------------------------------------------------------
    void close_abruptly();           ///< TCP reset on every session, no close frame
    void close_with_code(int code);  ///< WebSocket close frame (1000, 1001, 1008, ...)
    void refuse_connections(int n);  ///< the next n TCP connections are closed at accept
    /// The next n REST requests get `status` with `body`; `retry_after_s` adds Retry-After.
    void fail_rest(int n, int status, std::string body,
                   std::optional<int> retry_after_s = std::nullopt);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace tradingd::testing
