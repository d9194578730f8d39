#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs them.
#
#   scripts/fuzz.sh                      every target, 300 s each
#   scripts/fuzz.sh --smoke              every target, 20 s each (what CI runs)
#   scripts/fuzz.sh --seconds 3600 lua_strategy_fuzz
#
# Targets: lua_strategy_fuzz, action_fuzz (see docs/fuzzing.md). Each runs on a COPY of its seed
# corpus in tests/fuzz/corpus/<name>/, so the committed corpus never grows by itself. Fails (exit
# 1) when libFuzzer reports a crash, a sanitizer finding, a leak, an input slower than 10 s or an
# out-of-memory; the input that did it is left in build-fuzz/artifacts/<target>/.
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS="-jobs=2 -workers=2").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${TRADINGD_FUZZ_BUILD_DIR:-$root/build-fuzz}

seconds=300
targets=()
while (($#)); do
    case $1 in
        --smoke) seconds=20 ;;
        --seconds)
            [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "fuzz: --seconds needs a number" >&2; exit 2; }
            seconds=$2
            shift
            ;;
        -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        lua_strategy_fuzz | action_fuzz) targets+=("$1") ;;
        *) echo "fuzz: unknown argument '$1' (targets: lua_strategy_fuzz action_fuzz)" >&2; exit 2 ;;
    esac
    shift
done
((${#targets[@]})) || targets=(lua_strategy_fuzz action_fuzz)

# clang-14 and its sanitizer/libFuzzer runtimes come from the same package list as everything else.
"$root/scripts/bootstrap.sh" --deps

echo "fuzz: building ${targets[*]} in $build_dir (clang-14, ASan+UBSan+libFuzzer)"
# -O1 -g without NDEBUG: fast enough to fuzz, and the sources' asserts stay armed.
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DTRADINGD_FUZZ=ON -DTRADINGD_BUILD_TESTS=OFF -DTRADINGD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"

# A smaller quarantine and giving freed pages back keep RSS flat: with ASan's defaults the
# allocator caches every size class a string bomb ever reached, and RSS creeps towards the limit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=32:allocator_release_to_os_interval_ms=1000}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
    name=${t%_fuzz}
    seeds=$root/tests/fuzz/corpus/$name
    work=$build_dir/fuzz-run/$name
    artifacts=$build_dir/artifacts/$t
    log=$build_dir/fuzz-run/$t.log
    rm -rf "$work"
    mkdir -p "$work" "$artifacts"
    cp "$seeds"/* "$work"/
    # The shipped example strategies are seeds of the script target too (kept in one place).
    [[ $name == lua_strategy ]] && cp "$root"/lua-strategies/*.lua "$work"/
    dict=()
    [[ -f $root/tests/fuzz/$name.dict ]] && dict=(-dict="$root/tests/fuzz/$name.dict")
    echo "fuzz: $t for ${seconds}s (seeds: $(find "$work" -type f | wc -l), log: $log)"
    rc=0
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
    "$build_dir/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_FLAGS:-} \
        "$work" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    if ((rc != 0)) || grep -qE '^(==[0-9]+==ERROR|SUMMARY: )' "$log"; then
        echo "fuzz: $t FAILED (exit $rc); the end of its log:" >&2
        grep -vE '^#[0-9]+' "$log" | tail -60 >&2
        echo "fuzz: reproduce with: $build_dir/tests/fuzz/$t $artifacts/<crash-file>" >&2
        failed+=("$t")
    else
        echo "fuzz: $t OK: ${runs:-?} inputs, ${rate:-?} exec/s, ${cov:-cov: ?}"
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all ${#targets[@]} target(s) ran clean"
