#!/usr/bin/env bash
# soak.sh: run the real tradingd for a long time and check that it stays flat and loses nothing
# (RELIABILITY.md P12). docs/operations-soak.md explains the output.
#
# Feeds:
#   mock (default)  the mock Binance exchange (build/mock_exchange_server) on 127.0.0.1 with a
#                   forced fault every --disconnect-every seconds, rotating: TCP reset,
#                   WebSocket close 1001, market-data stall (pings still answered). Three symbols,
#                   the example strategies, 1m candles every --candle-ms of wall time.
#   sim             the simulated feed at 1200x real time, three symbols, the example strategies.
#
# While it runs, every --interval seconds it samples the daemon from /proc/PID: VmRSS, open
# descriptors, threads, and the decision log's line count; the table is printed and written to
# OUT/samples.csv. At the end the daemon gets SIGTERM and must exit with code 0. Then:
#
# (a) growth. Samples in the first 20 % of the run (at least 2) are warm-up and ignored. Of the
#     rest (at least 4 needed), the first quarter is the baseline and the last quarter the end.
#       RSS:     median(end) <= median(baseline) * 1.10 + 4096 KiB
#       fds:     median(end) <= max(baseline) + 8
#       threads: median(end) <= max(baseline) + 2
#     A median ignores short spikes (a reconnect's second socket, a REST request); a leak of any
#     size per fault or per candle moves the median past the slack over a long run.
# (b) exactly once (mock feed). Before stopping, the exchange is quiesced (SIGUSR1: no more
#     faults, candle production frozen) and the daemon must deliver its last closed candle within
#     30 s. Per symbol, the candles the daemon delivered (its debug log line "SYM 1m candle t=T
#     closed (live|warm-up|backfill)") must equal the exchange's closed candles from the first
#     delivered one to the exchange's last: no duplicate, no hole, none missing at the end.
# (c) faults logged (mock feed). Every forced fault must show up in the daemon's log within 10 s
#     (at most the fault period): a TCP reset or close frame as "connection lost", a stall as
#     "no market data for". No strategy may end SUSPENDED.
#
# Exit status: 0 with "soak: PASS" and a summary; 1 with "soak: FAIL: <why>"; 2 on bad usage.
# Everything it writes is under the output directory (default: a new /tmp/tradingd-soak.XXXXXX).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/soak.sh [options]
       scripts/soak.sh --check-only SAMPLES.csv|OUTPUT_DIR

  --duration D          run time: seconds, or with s/m/h suffix (default 10m; 24h for P12)
  --feed mock|sim       market data source (default mock)
  --build DIR           build directory with tradingd and mock_exchange_server (default build)
  --interval S          seconds between samples (default 5)
  --out DIR             output directory, new or empty (default: new /tmp/tradingd-soak.XXXXXX)
  --clean-on-pass       delete the output directory when every check passes (for ctest)
  --disconnect-every S  mock: force a fault every S seconds (default 30)
  --stall-s S           mock: length of a stall fault, seconds (default 3)
  --candle-ms MS        mock: wall time per 1m candle (default 250)
  --check-only PATH     re-check an earlier run: a samples CSV (growth rule only), or a whole
                        output directory (every check but the exit code)
  -h, --help            this text

Exit 0 and "soak: PASS" when every check holds, 1 and "soak: FAIL: <why>" otherwise.
Rules: see the header of this script or docs/operations-soak.md.
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
symbols=(BTCUSDT ETHUSDT SOLUSDT)
# "2024-05-01 15:04:55.123 ..." (both logs) -> seconds since the epoch, in awk.
awk_time='function ts(d, t,    p, q) { split(d, p, "-"); split(t, q, ":"); return mktime(p[1] " " p[2] " " p[3] " " q[1] " " q[2] " " int(q[3])) + (q[3] - int(q[3])) }'

duration_text=10m
feed=mock
build_dir=$root/build
interval=5
out_dir=
disconnect_every=30
stall_s=3
candle_ms=250
check_only=
clean_on_pass=0

die_usage() {
    echo "soak.sh: $*" >&2
    echo "(scripts/soak.sh --help for usage)" >&2
    exit 2
}

need_value() { [[ $# -ge 2 && -n $2 ]] || die_usage "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --duration) need_value "$@"; duration_text=$2; shift 2 ;;
    --feed) need_value "$@"; feed=$2; shift 2 ;;
    --build) need_value "$@"; build_dir=$(cd "$2" 2>/dev/null && pwd) || die_usage "no directory $2"; shift 2 ;;
    --interval) need_value "$@"; interval=$2; shift 2 ;;
    --out) need_value "$@"; out_dir=$2; shift 2 ;;
    --disconnect-every) need_value "$@"; disconnect_every=$2; shift 2 ;;
    --stall-s) need_value "$@"; stall_s=$2; shift 2 ;;
    --candle-ms) need_value "$@"; candle_ms=$2; shift 2 ;;
    --check-only) need_value "$@"; check_only=$2; shift 2 ;;
    --clean-on-pass) clean_on_pass=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die_usage "unknown argument '$1'" ;;
    esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# --- (a) the growth rule, on a samples CSV (elapsed_s,rss_kib,fds,threads,decisions) --------------

# Prints the evaluation; returns 0 when flat, 1 when something grew, 2 when the CSV is unusable.
check_growth() {
    local csv=$1
    [[ -r $csv ]] || { echo "growth: cannot read $csv"; return 2; }
    awk -F, '
        function median(a, lo, hi,    n, i, j, t, b) {
            n = 0
            for (i = lo; i <= hi; i++) b[++n] = a[i]
            for (i = 2; i <= n; i++) {          # insertion sort: quarters are small
                t = b[i]
                for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]
                b[j + 1] = t
            }
            return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
        }
        function maxof(a, lo, hi,    i, m) {
            m = a[lo]
            for (i = lo + 1; i <= hi; i++) if (a[i] > m) m = a[i]
            return m
        }
        NR == 1 && $1 !~ /^[0-9.]+$/ { next }   # header
        NF >= 4 && $2 ~ /^[0-9]+$/ { n++; el[n] = $1; rss[n] = $2; fds[n] = $3; thr[n] = $4 }
        END {
            if (n == 0) { print "growth: no samples"; exit 2 }
            w = int((n * 0.2) + 0.999999); if (w < 2) w = 2
            m = n - w
            if (m < 4) {
                printf "growth: only %d samples after %d warm-up samples (need 4): run longer or sample more often\n", m, w
                exit 2
            }
            q = int(m / 4)
            b0 = w + 1; b1 = w + q; e0 = n - q + 1; e1 = n
            rss_base = median(rss, b0, b1); rss_end = median(rss, e0, e1)
            rss_limit = rss_base * 1.10 + 4096
            fd_base = maxof(fds, b0, b1); fd_end = median(fds, e0, e1); fd_limit = fd_base + 8
            th_base = maxof(thr, b0, b1); th_end = median(thr, e0, e1); th_limit = th_base + 2
            printf "growth: %d samples, %d warm-up (to %ss); baseline samples %d-%d (%ss-%ss), end samples %d-%d (%ss-%ss)\n", \
                n, w, el[w], b0, b1, el[b0], el[b1], e0, e1, el[e0], el[e1]
            bad = ""
            verdict = (rss_end <= rss_limit) ? "ok" : "GREW"
            if (verdict != "ok") bad = bad " rss"
            printf "  rss_kib  baseline median %.0f, end median %.0f, limit %.0f (baseline*1.10 + 4096): %s\n", rss_base, rss_end, rss_limit, verdict
            verdict = (fd_end <= fd_limit) ? "ok" : "GREW"
            if (verdict != "ok") bad = bad " fds"
            printf "  fds      baseline max %d, end median %.1f, limit %d (baseline max + 8): %s\n", fd_base, fd_end, fd_limit, verdict
            verdict = (th_end <= th_limit) ? "ok" : "GREW"
            if (verdict != "ok") bad = bad " threads"
            printf "  threads  baseline max %d, end median %.1f, limit %d (baseline max + 2): %s\n", th_base, th_end, th_limit, verdict
            if (bad != "") { printf "growth: grew:%s\n", bad; exit 1 }
            print "growth: flat"
        }' "$csv"
}

# --- (b), (c) and the rest, on a finished run's output directory --------------------------------

# Appends to problems[]; prints one line per check. Uses out_dir, feed, disconnect_every.
run_checks() {
    local csv=$out_dir/samples.csv decisions_file=$out_dir/var/decisions.jsonl
    local growth_rc sym verdict window fault_report faults_rc summary_line forced errors
    set +e
    check_growth "$csv"
    growth_rc=$?
    set -e
    case $growth_rc in
    0) ;;
    1) problems+=("resource growth (see growth lines above)") ;;
    *) problems+=("growth not evaluable (see above)") ;;
    esac

    if grep -q SUSPENDED "$out_dir/daemon.stdout"; then
        problems+=("a strategy ended SUSPENDED (daemon.stdout)")
    fi

    if [[ $feed == mock ]]; then
        # (b) exactly once.
        for sym in "${symbols[@]}"; do
            grep -o "$sym 1m candle t=[0-9]* closed ([a-z-]*)" "$out_dir/daemon.stderr" |
                sed 's/.*t=\([0-9]*\) closed (\(.*\))/\1 \2/' >"$out_dir/delivered.$sym.txt" || true
            set +e
            verdict=$(awk -v s="$sym" '
                FNR == NR { if ($1 == s) ex[++ne] = $2; next }
                { got[++ng] = $1; src[ng] = $2 }
                END {
                    if (ng == 0) { print "FAIL no candle delivered"; exit 1 }
                    k = 0
                    for (i = 1; i <= ne; i++) if (ex[i] == got[1]) { k = i; break }
                    if (k == 0) { print "FAIL first delivered t=" got[1] " is not an exchange candle"; exit 1 }
                    for (j = 1; j <= ng; j++) {
                        e = k + j - 1
                        if (e > ne) { print "FAIL extra candle t=" got[j] " after the exchange last t=" ex[ne]; exit 1 }
                        if (got[j] != ex[e]) {
                            if (j > 1 && got[j] <= got[j - 1]) print "FAIL duplicate/out of order: t=" got[j] " after t=" got[j - 1]
                            else print "FAIL hole: expected t=" ex[e] ", got t=" got[j] " (" src[j] ")"
                            exit 1
                        }
                        n[src[j]]++
                    }
                    if (k + ng - 1 < ne) { printf "FAIL missing at the end: %d exchange candle(s) after t=%s never delivered\n", ne - (k + ng - 1), got[ng]; exit 1 }
                    printf "ok %d candles exactly once (warm-up %d, live %d, backfill %d), t=%s..%s\n", ng, n["warm-up"], n["live"], n["backfill"], got[1], got[ng]
                }' "$out_dir/mock/candles.txt" "$out_dir/delivered.$sym.txt")
            set -e
            echo "exactly-once: $sym: ${verdict#ok }"
            [[ $verdict == ok* ]] || problems+=("$sym: ${verdict#FAIL }")
        done

        # (c) faults logged: each forced fault has its daemon log line within 10 s.
        grep -E ': (connection lost|no market data for)' "$out_dir/daemon.stderr" >"$out_dir/daemon-faults.log" || true
        window=$((disconnect_every < 10 ? disconnect_every : 10))
        set +e
        fault_report=$(awk -v window="$window" "$awk_time"'
            FNR == NR {
                if ($3 == "fault") { nf++; ft[nf] = ts($1, $2); fk[nf] = $5; fn[nf] = $4; fw[nf] = $1 " " $2 }
                next
            }
            { t = ts($1, $2); if ($0 ~ /connection lost/) lost[++nl] = t; else stall[++ns] = t }
            END {
                bad = 0
                for (i = 1; i <= nf; i++) {
                    found = 0
                    if (fk[i] == "stall") { for (j = 1; j <= ns; j++) if (stall[j] >= ft[i] - 1 && stall[j] <= ft[i] + window) { found = 1; break } }
                    else { for (j = 1; j <= nl; j++) if (lost[j] >= ft[i] - 1 && lost[j] <= ft[i] + window) { found = 1; break } }
                    if (!found) { bad++; printf "NOTLOGGED fault %s (%s) at %s\n", fn[i], fk[i], fw[i] }
                    count[fk[i]]++
                }
                printf "SUMMARY %d forced (close_abruptly %d, close_with_code_1001 %d, stall %d); daemon logged %d \"connection lost\", %d \"no market data\"; %d not logged\n", \
                    nf, count["close_abruptly"], count["close_with_code_1001"], count["stall"], nl, ns, bad
                exit bad > 0
            }' "$out_dir/mock/events.log" "$out_dir/daemon-faults.log")
        faults_rc=$?
        set -e
        grep '^NOTLOGGED' <<<"$fault_report" | head -n 5 | sed 's/^NOTLOGGED /faults: not logged: /' || true
        summary_line=$(grep '^SUMMARY' <<<"$fault_report" | sed 's/^SUMMARY //')
        echo "faults: $summary_line"
        forced=$(grep -c ' fault ' "$out_dir/mock/events.log" || true)
        ((faults_rc == 0)) || problems+=("forced faults missing from the daemon log (see faults lines)")
        ((forced > 0)) || problems+=("no fault was forced (run longer than --disconnect-every)")
        echo "faults: daemon reconnects: $(grep -c ': connected to ' "$out_dir/daemon.stderr" || true) connections opened, $(grep -c ' gap: ' "$out_dir/daemon.stderr" || true) gaps backfilled"
    fi

    errors=$(grep -c -E ' (error|critical) ' "$out_dir/daemon.stderr" || true)
    echo "log: $errors error/critical line(s) in daemon.stderr; decision log: $(wc -l <"$decisions_file" 2>/dev/null || echo 0) records"
}

if [[ -n $check_only && -d $check_only ]]; then
    # A finished run's output directory: every check except the exit code, again.
    out_dir=$(cd "$check_only" && pwd)
    [[ -r $out_dir/soak.params ]] || die_usage "$out_dir/soak.params missing: not a soak output directory"
    feed=$(sed -n 's/^feed=//p' "$out_dir/soak.params")
    disconnect_every=$(sed -n 's/^disconnect_every=//p' "$out_dir/soak.params")
    problems=()
    run_checks
    if ((${#problems[@]} > 0)); then
        fail_reason=$(IFS=';'; echo "${problems[*]}")
        echo "soak: FAIL: ${fail_reason//;/; }"
        exit 1
    fi
    echo "soak: PASS (checks only, $out_dir)"
    exit 0
elif [[ -n $check_only ]]; then
    set +e
    check_growth "$check_only"
    rc=$?
    set -e
    case $rc in
    0) echo "soak: PASS (growth check only, $check_only)"; exit 0 ;;
    1) echo "soak: FAIL: resource growth in $check_only"; exit 1 ;;
    *) echo "soak: FAIL: cannot evaluate $check_only"; exit 1 ;;
    esac
fi

# --- arguments ------------------------------------------------------------------------------------

if [[ $duration_text =~ ^([0-9]+)(s|m|h)?$ ]]; then
    case ${BASH_REMATCH[2]} in
    m) duration=$((BASH_REMATCH[1] * 60)) ;;
    h) duration=$((BASH_REMATCH[1] * 3600)) ;;
    *) duration=${BASH_REMATCH[1]} ;;
    esac
else
    die_usage "--duration: expected e.g. 600, 90s, 10m, 24h; got '$duration_text'"
fi
[[ $feed == mock || $feed == sim ]] || die_usage "--feed must be mock or sim"
if ! is_uint "$interval" || ((interval < 1)); then die_usage "--interval: whole seconds >= 1"; fi
if ! is_uint "$disconnect_every" || ((disconnect_every < 2)); then
    die_usage "--disconnect-every: whole seconds >= 2"
fi
if ! is_uint "$stall_s" || ((stall_s < 2 || stall_s >= disconnect_every)); then
    die_usage "--stall-s: whole seconds, >= 2 (longer than the 1.5 s data timeout) and < --disconnect-every"
fi
if ! is_uint "$candle_ms" || ((candle_ms < 20)); then die_usage "--candle-ms: whole milliseconds >= 20"; fi
((duration >= 6 * interval)) || die_usage "--duration must be at least 6 sampling intervals ($((6 * interval)) s)"

tradingd=$build_dir/tradingd
server=$build_dir/mock_exchange_server
[[ -x $server ]] || server=$build_dir/tests/mock_exchange_server
[[ -x $tradingd ]] || die_usage "$tradingd not found (build it, or pass --build DIR)"
if [[ $feed == mock && ! -x $server ]]; then
    die_usage "$server not found (ninja -C $build_dir mock_exchange_server)"
fi

if [[ -z $out_dir ]]; then
    out_dir=$(mktemp -d /tmp/tradingd-soak.XXXXXX)
else
    mkdir -p "$out_dir"
    out_dir=$(cd "$out_dir" && pwd)
    # A previous run's decision log and state would be picked up by the daemon: start clean.
    [[ -z $(ls -A "$out_dir") ]] || die_usage "--out $out_dir is not empty"
fi
mkdir -p "$out_dir/var"
printf 'feed=%s\nduration=%s\ninterval=%s\ndisconnect_every=%s\nstall_s=%s\ncandle_ms=%s\n' \
    "$feed" "$duration" "$interval" "$disconnect_every" "$stall_s" "$candle_ms" >"$out_dir/soak.params"

daemon_pid=
server_pid=
fail_reason=

# Stop whatever this script started (by PID) if it exits early.
cleanup() {
    if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'echo "soak: FAIL: interrupted"; exit 1' INT TERM

fail() {
    echo "soak: FAIL: $*"
    echo "soak: output in $out_dir"
    exit 1
}

# Waits up to $2 seconds for process $1 to exit; sets wait_rc (exit code) or returns 1.
wait_exit() {
    local pid=$1 limit=$2 t=0
    while kill -0 "$pid" 2>/dev/null; do
        ((t >= limit * 10)) && return 1
        sleep 0.1
        t=$((t + 1))
    done
    set +e
    wait "$pid"
    wait_rc=$?
    set -e
    return 0
}


# --- the exchange ---------------------------------------------------------------------------------

start_server() {
    mkdir -p "$out_dir/mock"
    # The virtual clock runs one minute per --candle-ms: start early enough that every candle of
    # the run (plus history and slack) is still in the past.
    local now_ms candles start_ms
    now_ms=$(($(date +%s) * 1000))
    candles=$((duration * 1000 / candle_ms + 600 + 10000))
    start_ms=$((now_ms - candles * 60000))
    "$server" --symbols "$(IFS=,; echo "${symbols[*]}")" --candle-ms "$candle_ms" --port 0 \
        --ca-dir "$out_dir/mock" --candles-out "$out_dir/mock/candles.txt" \
        --disconnect-every "$disconnect_every" --stall-s "$stall_s" --history-candles 600 \
        --start-time-ms "$start_ms" >"$out_dir/mock/events.log" 2>"$out_dir/mock/stderr.log" &
    server_pid=$!
    local t=0
    until grep -q ' ready port=' "$out_dir/mock/events.log" 2>/dev/null; do
        kill -0 "$server_pid" 2>/dev/null || fail "mock_exchange_server exited: $(cat "$out_dir/mock/stderr.log")"
        ((t++ < 200)) || fail "mock_exchange_server not ready after 20 s"
        sleep 0.1
    done
    local ready
    ready=$(grep ' ready port=' "$out_dir/mock/events.log")
    mock_port=$(sed -n 's/.* ready port=\([0-9]*\) .*/\1/p' <<<"$ready")
    mock_ca=$(sed -n 's/.* ca_file=\(.*\)$/\1/p' <<<"$ready")
}

# --- the daemon's config --------------------------------------------------------------------------

symbol_tables() {
    cat <<EOF
[[symbols]]
symbol = "BTCUSDT"
strategy = "sma_cross"
interval = "1m"
window = 200
quantity = 0.01
[symbols.params]
fast = 5
slow = 15
[symbols.sim]
start_price = 30000
volatility = 0.8

[[symbols]]
symbol = "ETHUSDT"
strategy = "rsi_reversion"
interval = "1m"
window = 200
quantity = 0.15
[symbols.params]
period = 14
oversold = 35
overbought = 65
[symbols.sim]
start_price = 2000
volatility = 0.9

[[symbols]]
symbol = "SOLUSDT"
strategy = "bollinger_breakout"
interval = "1m"
window = 200
quantity = 3
[symbols.params]
period = 20
k = 1.5
[symbols.sim]
start_price = 100
volatility = 1.2
EOF
}

write_config() {
    local cfg=$out_dir/tradingd.toml
    {
        # debug: the feed logs every candle it delivers, which check (b) compares.
        echo "[daemon]"
        if [[ $feed == mock ]]; then echo 'log_level = "debug"'; else echo 'log_level = "info"'; fi
        echo "state_dir = \"$out_dir/var\""
        echo "strategies_dir = \"$root/lua-strategies\""
        echo
        if [[ $feed == mock ]]; then
            cat <<EOF
[feed]
type = "binance"
[feed.binance]
ws_url = "wss://127.0.0.1:$mock_port"
rest_url = "https://127.0.0.1:$mock_port"
ca_file = "$mock_ca"
warmup_candles = 50
data_timeout_ms = 1500
idle_timeout_ms = 4000
connect_timeout_ms = 2000
reconnect_initial_ms = 100
reconnect_max_ms = 1000
EOF
        else
            cat <<EOF
[feed]
type = "sim"
[feed.sim]
seed = 42
speed = 1200
ticks_per_candle = 20
warmup_candles = 100
EOF
        fi
        echo
        echo "[paper]"
        echo "starting_cash = 100000"
        echo
        symbol_tables
    } >"$cfg"
    echo "$cfg"
}

# --- run ------------------------------------------------------------------------------------------

echo "soak: feed=$feed duration=${duration}s interval=${interval}s build=$build_dir"
echo "soak: output in $out_dir"
if [[ $feed == mock ]]; then
    start_server
    echo "soak: mock exchange on 127.0.0.1:$mock_port (pid $server_pid), a fault every ${disconnect_every}s, a 1m candle every ${candle_ms}ms"
fi
config=$(write_config)
"$tradingd" --config "$config" >"$out_dir/daemon.stdout" 2>"$out_dir/daemon.stderr" </dev/null &
daemon_pid=$!
echo "soak: tradingd pid $daemon_pid, config $config"

csv=$out_dir/samples.csv
echo "elapsed_s,rss_kib,fds,threads,decisions" >"$csv"
printf '%10s %10s %6s %8s %10s\n' elapsed_s rss_kib fds threads decisions
decisions_file=$out_dir/var/decisions.jsonl
# The decision log grows by ~50 MB/h on the sim feed: count only the bytes added since the
# previous sample. A smaller file means it was rotated; counting restarts on the new one.
decisions=0
decisions_offset=0
count_decisions() {
    [[ -f $decisions_file ]] || return 0
    local size
    size=$(stat -c %s "$decisions_file")
    ((size >= decisions_offset)) || decisions_offset=0
    decisions=$((decisions + $(tail -c +$((decisions_offset + 1)) "$decisions_file" | head -c $((size - decisions_offset)) | wc -l)))
    decisions_offset=$size
}
start=$(date +%s)
while :; do
    kill -0 "$daemon_pid" 2>/dev/null || break
    status=$(cat "/proc/$daemon_pid/status" 2>/dev/null) || break
    rss=$(awk '/^VmRSS:/ { print $2 }' <<<"$status")
    threads=$(awk '/^Threads:/ { print $2 }' <<<"$status")
    fds=$(find "/proc/$daemon_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    count_decisions
    elapsed=$(($(date +%s) - start))
    [[ -n $rss && -n $threads ]] || break
    echo "$elapsed,$rss,$fds,$threads,$decisions" >>"$csv"
    printf '%10s %10s %6s %8s %10s\n' "$elapsed" "$rss" "$fds" "$threads" "$decisions"
    ((elapsed >= duration)) && break
    sleep "$interval"
done

if ! kill -0 "$daemon_pid" 2>/dev/null; then
    wait_exit "$daemon_pid" 1 || true
    echo "--- last lines of $out_dir/daemon.stderr"
    tail -n 20 "$out_dir/daemon.stderr"
    fail "tradingd exited during the run (exit code ${wait_rc:-?})"
fi

# --- stop -----------------------------------------------------------------------------------------

# The last candle each symbol delivered, per the daemon's log.
last_delivered() {
    tail -c 1000000 "$out_dir/daemon.stderr" | grep -o "$1 1m candle t=[0-9]* closed" | tail -n 1 |
        sed 's/.*t=\([0-9]*\).*/\1/'
}

if [[ $feed == mock ]]; then
    kill -USR1 "$server_pid"
    t=0
    until grep -q ' quiesced' "$out_dir/mock/events.log"; do
        ((t++ < 100)) || fail "mock_exchange_server did not quiesce within 10 s"
        sleep 0.1
    done
    # Let the daemon catch up to the exchange's final candle on every symbol.
    t=0
    for sym in "${symbols[@]}"; do
        want=$(awk -v s="$sym" '$1 == s { t = $2 } END { print t }' "$out_dir/mock/candles.txt")
        until [[ $(last_delivered "$sym") == "$want" ]]; do
            ((t++ < 300)) || break
            sleep 0.1
        done
    done
fi

kill -TERM "$daemon_pid"
wait_exit "$daemon_pid" 30 || fail "tradingd did not exit within 30 s of SIGTERM"
daemon_rc=$wait_rc
daemon_pid=
if [[ $feed == mock ]]; then
    kill -TERM "$server_pid"
    wait_exit "$server_pid" 15 || fail "mock_exchange_server did not exit within 15 s of SIGTERM"
    server_pid=
fi

echo
echo "--- checks"
problems=()
if ((daemon_rc != 0)); then
    problems+=("tradingd exited with code $daemon_rc after SIGTERM")
fi
echo "exit: tradingd exited with code $daemon_rc after SIGTERM"
run_checks


echo "soak: output in $out_dir (samples.csv, daemon.stderr, daemon.stdout$([[ $feed == mock ]] && echo ", mock/events.log, mock/candles.txt"))"
if ((${#problems[@]} > 0)); then
    fail_reason=$(IFS=';'; echo "${problems[*]}")
    echo "soak: FAIL: ${fail_reason//;/; }"
    exit 1
fi
echo "soak: PASS ($feed feed, ${duration}s, $(($(wc -l <"$csv") - 1)) samples)"
if ((clean_on_pass)); then
    rm -rf -- "$out_dir"
    echo "soak: removed $out_dir (--clean-on-pass)"
fi
