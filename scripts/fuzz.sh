#!/bin/bash
# Runs the fuzz targets built by `make fuzz-build` (docs/TESTING.md, "Fuzzing").
#
# usage: scripts/fuzz.sh SECONDS TARGET...
#
# Each target runs SECONDS over its corpus (.build-fuzz/corpus/TARGET, which it grows), its
# regression fixtures (Fuzz/Regressions/TARGET, replayed first) and its dictionary. A crash, a
# failed promise (fatalError), a leak, an input slower than FUZZ_TIMEOUT seconds or a process
# above FUZZ_RSS_MB fails the target; the input is saved in .build-fuzz/artifacts/TARGET/.
# FUZZ_CONFIG (debug or release) picks the build; FUZZ_FLAGS adds libFuzzer flags. Every target runs; the exit status is 1 when any failed. Logs: .build-fuzz/logs/TARGET.log.
set -u
seconds="$1"; shift
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${FUZZ_SCRATCH:-$root/.build-fuzz}"
timeout_s="${FUZZ_TIMEOUT:-10}"
rss_mb="${FUZZ_RSS_MB:-2048}"
export LSAN_OPTIONS="suppressions=$root/Fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# libFuzzer prints the stack of a crash itself; Swift's own backtracer would only add minutes.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
failed=()
mkdir -p "$scratch/logs"
for target in "$@"; do
    binary="$scratch/${FUZZ_CONFIG:-debug}/fuzz-$target"
    if [ ! -x "$binary" ]; then echo "fuzz $target: no $binary (run make fuzz-build)"; failed+=("$target"); continue; fi
    corpus="$scratch/corpus/$target"
    artifacts="$scratch/artifacts/$target/"
    mkdir -p "$corpus" "$artifacts"
    inputs=("$corpus")
    [ -d "$root/Fuzz/Regressions/$target" ] && inputs+=("$root/Fuzz/Regressions/$target")
    flags=(-max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" -detect_leaks=1
        -artifact_prefix="$artifacts" -print_final_stats=1)
    [ -f "$root/Fuzz/Dictionaries/$target.dict" ] && flags+=(-dict="$root/Fuzz/Dictionaries/$target.dict")
    # shellcheck disable=SC2206 # FUZZ_FLAGS: extra libFuzzer flags, split on spaces (e.g. -max_len=16384)
    flags+=(${FUZZ_FLAGS:-})
    log="$scratch/logs/$target.log"
    "$binary" "${flags[@]}" "${inputs[@]}" > "$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    units=$(find "$corpus" -type f | wc -l)
    if [ "$status" -eq 0 ]; then
        echo "fuzz $target: ok, ${runs:-0} runs in ${seconds}s (${rate:-0} exec/s), corpus $units inputs, peak RSS ${rss:-?} MB"
    else
        echo "fuzz $target: FAILED (exit $status) after ${runs:-?} runs; input in $artifacts, log $log:"
        grep -E -m 8 'ERROR|Fatal error|SUMMARY|Test unit written|deadly signal' "$log" | sed 's/^/    /'
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzz: failed: ${failed[*]}"; exit 1; fi
