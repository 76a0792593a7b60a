#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [HARNESS...] — build the libFuzzer harnesses with clang in build-fuzz/
# and run each for SECONDS (default 10) on its corpus, then print the executions per harness.
#
#   SECONDS   -max_total_time per harness (default 10)
#   HARNESS   params metadata beat faults registry grpc listening (default: all of them)
#   NM_FUZZ_JOBS=N   run up to N harnesses at the same time (default 1)
#   NM_FUZZ_BUILD_DIR=DIR   build directory (default build-fuzz at the repository root)
#
# Each harness fuzzes a working copy of tests/fuzz/corpus/<h> (kept in build-fuzz/corpus/<h>, so
# later runs start from what earlier runs found; committed seeds are copied in every run) and
# replays tests/fuzz/regressions/<h> first. New inputs never touch the committed corpus.
# Exit status: 0 when every harness ran clean, 1 when any crashed, broke an invariant or timed out;
# the failing input's path is printed (`CRASH <harness>: <file>`) — copy it to
# tests/fuzz/regressions/<h>/ once the bug is fixed. Logs: build-fuzz/logs/<h>.log.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-10}
shift $(( $# > 0 ? 1 : 0 ))
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(params metadata beat faults registry grpc listening)
build=${NM_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${NM_FUZZ_JOBS:-1}

case $secs in (''|*[!0-9]*) echo "usage: $0 [SECONDS] [HARNESS...]" >&2; exit 2;; esac

mkdir -p "$build"
cmake -S "$root" -B "$build" -DNACOS_MOCK_FUZZ=ON -DNACOS_MOCK_TESTS=OFF -DCMAKE_C_COMPILER=clang \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; echo "run.sh: configure failed" >&2; exit 1; }
targets=()
for h in "${harnesses[@]}"; do targets+=(--target "fuzz_$h"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}" >"$build/build.log" 2>&1 ||
    { tail -n 40 "$build/build.log"; echo "run.sh: build failed" >&2; exit 1; }

mkdir -p "$build/logs"
run_one() {
    local h=$1 corpus=$build/corpus/$h art=$build/artifacts/$h/ dict=$here/json.dict extra=()
    # params is quadratic in the number of keys (by design, PARAMS_MAX bounds it): keep inputs short
    # so the run explores parsing; the PARAMS_MAX seed is replayed whole by the ctest
    [ "$h" = params ] && { dict=$here/params.dict; extra=(-max_len=1024); }
    # grpc: HTTP/2 frames; a few KiB hold a preface, SETTINGS and several calls
    [ "$h" = grpc ] && { dict=$here/grpc.dict; extra=(-max_len=8192); }
    [ "$h" = listening ] && dict=$here/listening.dict
    mkdir -p "$corpus" "$art"
    cp -n "$here/corpus/$h/"* "$corpus/" 2>/dev/null
    "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -artifact_prefix="$art" -dict="$dict" "${extra[@]}" "$corpus" "$here/regressions/$h" >"$build/logs/$h.log" 2>&1
    echo $? >"$build/logs/$h.rc"
}

running=0
for h in "${harnesses[@]}"; do
    if [ ! -x "$build/tests/fuzz/fuzz_$h" ]; then echo "run.sh: no harness '$h'" >&2; exit 2; fi
    run_one "$h" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n 2>/dev/null || wait; running=$((running - 1)); fi
done
wait

status=0
printf '%-10s %12s %10s  %s\n' harness executions exec/s result
for h in "${harnesses[@]}"; do
    log=$build/logs/$h.log
    rc=$(cat "$build/logs/$h.rc" 2>/dev/null || echo 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    result=ok
    if [ "$rc" != 0 ]; then
        result="FAILED (exit $rc, log $log)"
        status=1
    fi
    printf '%-10s %12s %10s  %s\n' "$h" "${execs:-?}" "${rate:-?}" "$result"
done
for h in "${harnesses[@]}"; do
    [ "$(cat "$build/logs/$h.rc" 2>/dev/null || echo 1)" = 0 ] && continue
    log=$build/logs/$h.log
    echo "---- $h: $log (last lines)"
    grep -aE 'invariant failed|ERROR: |SUMMARY: |^want|^got|^before|^after|^first|^second' "$log" | head -n 20
    sed -n 's/.*Test unit written to \(.*\)$/CRASH '"$h"': \1/p' "$log"
done
exit $status
