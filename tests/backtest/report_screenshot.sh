#!/usr/bin/env bash
# The backtest report opens in a real browser: runs `tradingd backtest` on two months of the real
# 5m BTCUSDT data (aggregated to 1h), loads report.html in headless Chromium with networking off,
# and checks the screenshot and the rendered DOM (the charts are drawn, nothing was fetched).
#
#   bash report_screenshot.sh <path to tradingd>
set -euo pipefail
tradingd=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data="$root/../shared/binance-data/BTC_USDT-5m.json"
out=$(mktemp -d /tmp/tradingd-report.XXXXXX)
trap 'rm -rf "$out"' EXIT
fail() { echo "report_screenshot: FAIL: $*" >&2; exit 1; }

command -v chromium >/dev/null || fail "chromium is not installed (scripts/bootstrap.sh installs it)"
"$tradingd" backtest --config "$root/config/sim.toml" --data "$data" --symbol BTCUSDT \
    --interval 1h --from 2021-01-01 --to 2021-03-01 --out "$out/bt" --no-progress >"$out/stdout"
[[ -s $out/bt/report.html ]] || fail "no report.html"

browser=(chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions
         --proxy-server=127.0.0.1:9 --window-size=1280,2000)
timeout 120 "${browser[@]}" --screenshot="$out/report.png" "file://$out/bt/report.html" \
    >"$out/chromium.log" 2>&1 || { cat "$out/chromium.log"; fail "chromium failed"; }
[[ -s $out/report.png ]] || fail "no screenshot"
[[ $(head -c 8 "$out/report.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] \
    || fail "the screenshot is not a PNG"
size=$(stat -c %s "$out/report.png")
# A blank page of this size compresses to a few KB; charts, tables and text make it much larger.
((size > 40000)) || fail "screenshot only $size bytes: the page looks empty"

timeout 120 "${browser[@]}" --dump-dom "file://$out/bt/report.html" >"$out/dom.html" 2>/dev/null \
    || fail "chromium --dump-dom failed"
svgs=$(grep -o '<svg' "$out/dom.html" | wc -l)
((svgs >= 2)) || fail "rendered DOM has $svgs <svg> elements (expected the equity and price charts)"
paths=$(grep -Eo '<(path|polyline)' "$out/dom.html" | wc -l)
((paths >= 2)) || fail "the charts have no lines ($paths path/polyline elements)"
grep -Eq '(src|href)="https?:' "$out/bt/report.html" && fail "report.html references the network"
echo "report_screenshot: ok ($size-byte screenshot, $svgs charts, $(wc -c <"$out/bt/report.html") bytes of HTML)"
