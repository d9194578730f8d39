#!/usr/bin/env bash
# A dry run: the simulated feed, the paper broker and the example strategies. No network, no
# account. Ctrl-C stops it and prints a per-symbol summary.
#
#   scripts/dry-run.sh [extra tradingd options, e.g. --duration 30s]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/bootstrap.sh"
echo "dry-run: decision log: $root/var/sim/decisions.jsonl (Ctrl-C to stop)"
exec "$root/build/tradingd" --config "$root/config/sim.toml" "$@"
