#!/usr/bin/env bash
# run-all.sh — runs every example in this folder and fails if any of them fails (part of the test suite).
#
# Usage: examples/run-all.sh [path/to/nacos-mock]     (default: $NACOS_MOCK_BIN, else build/nacos-mock)
# Each example starts and stops its own nacos-mock on 127.0.0.1 with a free port. An example's output is
# shown when it fails (VERBOSE=1: always). The last line is "examples: N passed, N failed".
# node-client.js needs the npm `nacos` package: it is installed into tests/interop/node_modules
# (npm ci, from the lock file) when missing.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

bin="${1:-${NACOS_MOCK_BIN:-$repo/build/nacos-mock}}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "run-all.sh: not an executable: $bin (build first, or pass the path)" >&2; exit 2; }
# the caller's NACOS_MOCK_* settings must not leak into the examples' servers
for v in ${!NACOS_MOCK_@}; do unset "$v"; done
export NACOS_MOCK_BIN="$bin"

guard=()
command -v timeout >/dev/null && guard=(timeout --kill-after=5 120)

passed=0
failed=0
failures=()
# run NAME EXPECTED_STATUS COMMAND...
run() {
  local name="$1" want="$2"; shift 2
  local log start rc
  log="$(mktemp)"
  start=$(date +%s.%N)
  "${guard[@]}" "$@" >"$log" 2>&1 </dev/null
  rc=$?
  local secs
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" = "$want" ]; then
    passed=$((passed + 1))
    printf 'PASS  %-48s %5ss\n' "$name" "$secs"
    [ "${VERBOSE:-0}" = 1 ] && sed 's/^/      /' "$log"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL  %-48s %5ss  (exit %s, expected %s)\n' "$name" "$secs" "$rc" "$want"
    sed 's/^/      /' "$log"
  fi
  rm -f "$log"
}

run register-and-discover.sh 0 "$here/register-and-discover.sh"
run virtual-clock.sh 0 "$here/virtual-clock.sh"
run outage-rehearsal.sh 0 "$here/outage-rehearsal.sh"
run failover-rehearsal.sh 0 "$here/failover-rehearsal.sh"
run "ci-harness.sh (demo)" 0 "$here/ci-harness.sh"
run "ci-harness.sh -- <command using NACOS_URL>" 0 "$here/ci-harness.sh" -- bash -c \
  'curl -fsS "$NACOS_URL/nacos/v1/console/health/readiness" && [ -n "$NACOS_ADDR" ]'
run "ci-harness.sh passes a failure on (exit 3)" 3 "$here/ci-harness.sh" -- bash -c 'exit 3'

if ! command -v node >/dev/null; then
  run "node-client.js (node is not installed)" 0 false
else
  if [ ! -d "$repo/tests/interop/node_modules/nacos" ]; then
    echo "run-all.sh: installing the npm client into tests/interop/node_modules" >&2
    (cd "$repo/tests/interop" && npm ci --no-audit --no-fund >/dev/null) || echo "run-all.sh: npm ci failed" >&2
  fi
  run node-client.js 0 node "$here/node-client.js"
fi

echo
[ "$failed" = 0 ] || echo "failed: ${failures[*]}"
echo "examples: $passed passed, $failed failed"
[ "$failed" = 0 ]
