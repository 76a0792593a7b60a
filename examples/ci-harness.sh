#!/usr/bin/env bash
# ci-harness.sh — run one command against a private nacos-mock, then stop it. The pattern for CI jobs and
# test scripts; copy it as it is (it needs nothing from this repository but the binary).
#
# Usage: examples/ci-harness.sh [-- COMMAND ARGS...]
#   Starts nacos-mock on 127.0.0.1 with a free port (--port 0) and a --ready-file, waits until it listens,
#   runs COMMAND with
#     NACOS_ADDR=127.0.0.1:PORT        (the serverAddr / serverList a Nacos client wants)
#     NACOS_URL=http://127.0.0.1:PORT  (for curl and the /__mock/ control plane)
#   exported, stops the server and exits with COMMAND's status. Without COMMAND it runs a small demo.
#   On failure the server's log is printed.
# Binary: $NACOS_MOCK_BIN, else build/nacos-mock, else build-release/nacos-mock (scripts/build-release.sh).
# Server settings come from the environment, e.g. NACOS_MOCK_BEAT_INTERVAL_MS=200 or
# NACOS_MOCK_FIXTURES=fixtures/registry.json (every flag has its NACOS_MOCK_<FLAG> variable);
# host, port and ready file are always the harness's own.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${NACOS_MOCK_BIN:-}"
if [ -z "$bin" ]; then
  bin="$repo/build/nacos-mock"
  [ -x "$bin" ] || bin="$repo/build-release/nacos-mock"
fi
[ -x "$bin" ] || { echo "ci-harness: no nacos-mock binary at '$bin' (set NACOS_MOCK_BIN)" >&2; exit 2; }

[ "${1:-}" = "--" ] && shift
label="$*"
if [ $# -eq 0 ]; then
  label="the demo"
  # The demo: what a test would do with the two variables.
  set -- bash -c '
    set -euo pipefail
    echo "NACOS_ADDR=$NACOS_ADDR NACOS_URL=$NACOS_URL"
    curl -fsS "$NACOS_URL/nacos/v1/console/health/readiness"; echo "  <- readiness"
    curl -fsS -X POST "$NACOS_URL/nacos/v1/ns/instance" -d serviceName=demo -d ip=127.0.0.1 -d port=18080
    echo "  <- register"
    hosts=$(curl -fsS "$NACOS_URL/nacos/v1/ns/instance/list?serviceName=demo" | grep -o "\"port\":18080" || true)
    [ -n "$hosts" ] || { echo "demo: 127.0.0.1:18080 is not listed" >&2; exit 1; }
    echo "demo: registered and discovered 127.0.0.1:18080"'
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ci-harness.XXXXXX")"
pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  [ -n "$pid" ] && { wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

"$bin" --host 127.0.0.1 --port 0 --ready-file "$work/ready" >"$work/stdout" 2>"$work/nacos-mock.log" &
pid=$!

# The ready file appears (atomically, with the URL in it) once the server listens.
for _ in $(seq 100); do
  [ -s "$work/ready" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "ci-harness: nacos-mock exited before listening:" >&2
    cat "$work/nacos-mock.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$work/ready" ] || { echo "ci-harness: nacos-mock not ready after 10 s" >&2; cat "$work/nacos-mock.log" >&2; exit 1; }

NACOS_URL="$(head -n1 "$work/ready")"
export NACOS_URL NACOS_ADDR="${NACOS_URL#http://}"
echo "ci-harness: nacos-mock (pid $pid) at $NACOS_URL; running: $label" >&2

rc=0
"$@" || rc=$?
if [ "$rc" != 0 ]; then
  echo "ci-harness: command failed with status $rc; nacos-mock log (last 50 lines):" >&2
  tail -n 50 "$work/nacos-mock.log" >&2
fi
exit "$rc"
