#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest.
#
#   scripts/test.sh                 Release build in build/, all tests
#   TRADINGD_SANITIZE=1 scripts/test.sh   also an ASan+UBSan build in build-asan/ and its tests
#                                         (without the soak run, which the Release build covers)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/bootstrap.sh"

jobs=$(nproc)
# Most tests spend their time waiting on daemons, sockets and sleeps (the Release suite uses about
# a fifth of one core on average), so ctest runs twice as many at once as there are cores.
test_jobs=$((jobs * 2))
asan_dir="$root/build-asan"
# The sanitizer build uses clang-14 (installed by bootstrap.sh for the fuzz targets): it compiles
# this code base ~1.7x faster than g++ at -O0 with ASan, and its ASan/UBSan are the reference
# implementations. The Release build (what ships) stays on g++.
build_asan() {
    cmake -S "$root" -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTRADINGD_SANITIZE=ON \
        -DTRADINGD_BUILD_BENCH=OFF -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
        >/dev/null
    cmake --build "$asan_dir" -j "$jobs"
}
if [[ ${TRADINGD_SANITIZE:-0} == 1 ]]; then
    # The sanitizer build compiles while the Release suite runs (which mostly waits): its output
    # goes to a log that is printed when it is done.
    asan_log="$asan_dir/build.log"
    echo "test: ASan+UBSan build in $asan_dir (beside the Release tests; log $asan_log)"
    if [[ -f $asan_dir/CMakeCache.txt ]] &&
        ! grep -q "^CMAKE_CXX_COMPILER:.*clang++-14" "$asan_dir/CMakeCache.txt"; then
        rm -rf "$asan_dir"  # an older g++ tree: a build tree's compiler cannot change
    fi
    mkdir -p "$asan_dir"
    build_asan >"$asan_log" 2>&1 &
    asan_pid=$!
fi
echo "test: running ctest in $root/build"
release_ok=0
ctest --test-dir "$root/build" --output-on-failure -j "$test_jobs" || release_ok=$?

if [[ ${TRADINGD_SANITIZE:-0} == 1 ]]; then
    asan_ok=0
    wait "$asan_pid" || asan_ok=$?
    tail -n 5 "$asan_log"
    ((asan_ok == 0)) || { cat "$asan_log"; exit "$asan_ok"; }
    ((release_ok == 0)) || exit "$release_ok"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$asan_dir" --output-on-failure -j "$test_jobs" -LE soak
fi
exit "$release_ok"
