#!/usr/bin/env bash
# Installs the Debian packages tradingd needs (only the missing ones), then configures and builds
# a Release build into build/ (or $TRADINGD_BUILD_DIR).
#
#   scripts/bootstrap.sh            install what is missing + build
#   scripts/bootstrap.sh --deps     install what is missing, don't build
#
# Works as root or through sudo; safe to run again (idempotent).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${TRADINGD_BUILD_DIR:-$root/build}
build_type=${TRADINGD_BUILD_TYPE:-Release}

# Everything the build and the tests need, by Debian package name (bookworm).
packages=(
    g++ cmake ninja-build pkg-config git
    liblua5.4-dev          # the strategy VM (Lua 5.4.4)
    nlohmann-json3-dev     # decision log, kline files
    libspdlog-dev          # logging (pulls libfmt-dev)
    libtomlplusplus-dev    # config files
    libcli11-dev           # command line
    doctest-dev            # unit and integration tests
    libbenchmark-dev       # tests/bench
    libboost1.81-dev       # Boost.Beast + Asio: the Binance WebSocket and REST clients
    libssl-dev             # TLS (OpenSSL 3), also generates the tests' throwaway certificates
    libsimdjson-dev        # market-data message parsing on the hot path
    libsystemd-dev         # sd_notify: Type=notify readiness, STATUS lines, the systemd watchdog
    prometheus             # promtool: the tests check /metrics with `promtool check metrics`
    wrk                    # the HTTP status server load test
    systemd                # systemd-analyze verify on systemd/tradingd.service (tests)
    chromium               # headless: the backtest report test opens report.html and screenshots it
    zlib1g-dev             # crc32 of journal records and snapshots
    ca-certificates        # the system CA store the live TLS connections verify against
    clang-14 libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer + ASan/UBSan runtimes for clang
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}"
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "bootstrap: all ${#packages[@]} packages present"
fi

[[ ${1:-} == --deps ]] && exit 0

echo "bootstrap: building ($build_type) in $build_dir"
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
echo "bootstrap: built $build_dir/tradingd"
