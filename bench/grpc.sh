#!/usr/bin/env bash
# bench/grpc.sh — unary gRPC calls/s of the transport (server/grpc_server.c with an echo handler,
# nm_bench_grpc_echo) against a bare nghttp2 server with the same threading that answers every call
# with the same bytes (nm_bench_grpc_reference), loaded with h2load over h2c on 127.0.0.1.
#
#   bench/grpc.sh            Release build in build-bench/, 5 alternating pairs, prints the table
#   bench/grpc.sh --smoke    one short pair (checks that the bench still works)
#   bench/grpc.sh --callgrind [N]   instructions per call of each server under valgrind's callgrind
#                            (deterministic, unlike req/s on a shared machine): each server answers
#                            2,000 calls, then 2,000 + N (default 20,000); the difference over N
#
# Options: --build-dir DIR (default build-bench), --no-build, --runs N (5), --requests N per run
#          (200000), --clients C (h2load -c, 32), --streams M (h2load -m, concurrent calls per
#          connection, 10), --h2load-threads T (1).
# Every server is started on --port 0 and its port read from its listening line; every process
# started here is stopped on exit. Only 127.0.0.1 is contacted.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/build-bench
DO_BUILD=1
RUNS=5
REQUESTS=200000
CLIENTS=32
STREAMS=10
H2THREADS=1
CALLGRIND=0

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) RUNS=1; REQUESTS=20000 ;;
    --callgrind)
      CALLGRIND=20000
      case "${2:-}" in ''|-*) ;; *) CALLGRIND=$2; shift ;; esac ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --no-build) DO_BUILD=0 ;;
    --runs) RUNS=$2; shift ;;
    --requests) REQUESTS=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --streams) STREAMS=$2; shift ;;
    --h2load-threads) H2THREADS=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/grpc.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[grpc-bench] $*" >&2; }
die() { echo "bench/grpc.sh: $*" >&2; exit 1; }

if ! command -v h2load >/dev/null 2>&1; then
  log "installing h2load (Debian package nghttp2-client)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nghttp2-client >/dev/null
fi
if [ "$DO_BUILD" = 1 ]; then
  "$ROOT/scripts/deps.sh"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DNACOS_MOCK_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target nm_bench_grpc_reference nm_bench_grpc_echo nm_bench_grpc_body >/dev/null
fi
REF=$BUILD_DIR/bench/nm_bench_grpc_reference
ECHO=$BUILD_DIR/bench/nm_bench_grpc_echo
BODY=$BUILD_DIR/bench/nm_bench_grpc_body
for b in "$REF" "$ECHO" "$BODY"; do [ -x "$b" ] || die "missing $b (build first, or drop --no-build)"; done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/grpc-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# An InstanceRequest as the Java client sends it (~400 bytes of JSON): the request of every call;
# the reference answers these very bytes, as the echo handler does.
JSON='{"headers":{"app":"bench"},"requestId":"42","namespace":"public","serviceName":"demo","groupName":"DEFAULT_GROUP","module":"naming","type":"registerInstance","instance":{"instanceId":"","ip":"10.0.0.1","port":8080,"weight":1.0,"healthy":true,"enabled":true,"ephemeral":true,"clusterName":"DEFAULT","serviceName":"","metadata":{"version":"1.0","zone":"a"},"instanceHeartBeatInterval":5000,"instanceHeartBeatTimeOut":15000,"ipDeleteTimeout":30000}}'
"$BODY" "$TMP/req.bin" InstanceRequest "$JSON"

SPID=""; SPORT=""
# start_server NAME COMMAND...: starts it, waits for "... listening on 127.0.0.1:PORT"; sets SPID/SPORT.
start_server() {
  local name=$1; shift
  local out=$TMP/$name.out line=""
  "$@" >"$out" 2>"$TMP/$name.err" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 500); do
    line=$(grep -m1 'listening on 127.0.0.1:' "$out" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.01
  done
  [ -n "$line" ] || die "$name did not print its listening line: $(cat "$TMP/$name.err")"
  SPORT=${line##*:}
}
stop_server() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# load PORT: one h2load run; prints req/s (fails the bench when any call failed)
load() {
  local out
  out=$(h2load -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t "$H2THREADS" -d "$TMP/req.bin" \
          -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$1/Request/request" 2>&1) ||
    die "h2load failed: $out"
  local ok
  ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
  [ "$ok" = "$REQUESTS" ] || die "not every call was answered 200: $(grep -E '^(requests|status codes):' <<<"$out")"
  sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

"$BODY" "$TMP/resp.bin" InstanceRequest "$JSON"

# instructions NAME CALLS COMMAND...: the server's total instructions (all threads) for CALLS calls
instructions() {
  local name=$1 calls=$2; shift 2
  start_server "$name" valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.cg" "$@"
  REQUESTS=$calls load "$SPORT" >/dev/null
  stop_server "$SPID"
  sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$TMP/$name.cg" | tail -n1
}
if [ "$CALLGRIND" != 0 ]; then
  command -v valgrind >/dev/null || die "valgrind is not installed"
  per_call() {   # per_call NAME COMMAND...
    local a b
    a=$(instructions "$1-base" 2000 "${@:2}")
    b=$(instructions "$1" $((2000 + CALLGRIND)) "${@:2}")
    echo $(((b - a) / CALLGRIND))
  }
  r=$(per_call reference "$REF" --response "$TMP/resp.bin" --port 0)
  e=$(per_call echo "$ECHO" --port 0)
  echo
  echo "callgrind: instructions per unary call (all server threads), $CALLGRIND calls after 2,000,"
  echo "h2load -c $CLIENTS -m $STREAMS, $(stat -c %s "$TMP/req.bin")-byte request and answer"
  printf '%-36s %14s %14s %7s\n' scenario transport reference ratio
  printf '%-36s %14s %14s %7s\n' "unary echo (InstanceRequest-sized)" "$e" "$r" \
    "$(awk -v a="$e" -v b="$r" 'BEGIN { printf "%.3f", b / a }')"
  exit 0
fi
refs=(); echoes=(); ratios=()
for i in $(seq "$RUNS"); do
  start_server reference "$REF" --response "$TMP/resp.bin" --port 0
  r=$(load "$SPORT"); stop_server "$SPID"
  start_server echo "$ECHO" --port 0
  e=$(load "$SPORT"); stop_server "$SPID"
  refs+=("$r"); echoes+=("$e")
  ratios+=("$(awk -v a="$e" -v b="$r" 'BEGIN { printf "%.3f", a / b }')")
  log "pair $i: reference $r req/s, transport (echo) $e req/s"
done

echo
echo "h2load -n $REQUESTS -c $CLIENTS -m $STREAMS -t $H2THREADS, unary /Request/request, $(stat -c %s "$TMP/req.bin")-byte request and answer;"
echo "median of $RUNS alternating pair(s); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %14s %14s %7s\n' scenario transport reference ratio
printf '%-36s %10.0f req/s %8.0f req/s %7s\n' "unary echo (InstanceRequest-sized)" "$(median "${echoes[@]}")" \
  "$(median "${refs[@]}")" "$(median "${ratios[@]}")"
