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
#   bench/grpc.sh --nacos-callgrind [N]   the same for nacos-mock's Nacos calls (nm_bench_grpc_load -n,
#                            set-up connections): HealthCheck and ServiceQuery of 100 instances, each
#                            against the reference answering nacos-mock's own answer; and instructions
#                            per subscriber of a push (500 subscribed clients, 10 changes against none)
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
NACOS_CG=0

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) RUNS=1; REQUESTS=20000 ;;
    --callgrind)
      CALLGRIND=20000
      case "${2:-}" in ''|-*) ;; *) CALLGRIND=$2; shift ;; esac ;;
    --nacos-callgrind)
      NACOS_CG=20000
      case "${2:-}" in ''|-*) ;; *) NACOS_CG=$2; shift ;; esac ;;
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
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target nm_bench_grpc_reference nm_bench_grpc_echo nm_bench_grpc_body \
    nm_bench_grpc_load nacos-mock >/dev/null
fi
REF=$BUILD_DIR/bench/nm_bench_grpc_reference
ECHO=$BUILD_DIR/bench/nm_bench_grpc_echo
BODY=$BUILD_DIR/bench/nm_bench_grpc_body
GLOAD=$BUILD_DIR/bench/nm_bench_grpc_load
MOCK=$BUILD_DIR/nacos-mock
for b in "$REF" "$ECHO" "$BODY" "$GLOAD" "$MOCK"; do [ -x "$b" ] || die "missing $b (build first, or drop --no-build)"; done

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
# start_mock NAME [WRAPPER...]: nacos-mock on --port 0 (v1 instances never fall due); sets SPID, and
# HPORT and GPORT (HTTP and gRPC ports) from its listening and start-up lines.
start_mock() {
  local name=$1 line=""; shift
  "$@" "$MOCK" --port 0 --host 127.0.0.1 --quiet --unhealthy-misses 1000 --delete-misses 2000 \
    >"$TMP/$name.out" 2>"$TMP/$name.err" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 1200); do
    line=$(grep -o -m1 'gRPC on port [0-9]*' "$TMP/$name.err" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$line" ] || die "nacos-mock did not start: $(cat "$TMP/$name.err")"
  GPORT=${line##* }
  HPORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/$name.out")
}

if [ "$NACOS_CG" != 0 ]; then
  command -v valgrind >/dev/null || die "valgrind is not installed"
  HC='{"headers":{},"requestId":"42","module":"internal"}'
  SQ='{"headers":{},"requestId":"42","namespace":"public","serviceName":"bench-list","groupName":"DEFAULT_GROUP","module":"naming","cluster":"","healthyOnly":false,"udpPort":0}'
  # nacos-mock's own answers (natively), framed for the reference
  start_mock answers
  "$GLOAD" unary --port "$GPORT" -c 1 -m 1 -n 1 --type HealthCheckRequest --json "$HC" --expect HealthCheckResponse \
    --save-answer "$TMP/hc.json" >/dev/null
  "$GLOAD" unary --port "$GPORT" -c 1 -m 1 -n 1 --type ServiceQueryRequest --json "$SQ" --expect QueryServiceResponse \
    --save-answer "$TMP/sq.json" --preload bench-list:100 --http-port "$HPORT" >/dev/null
  stop_server "$SPID"
  "$BODY" "$TMP/hc.bin" HealthCheckResponse "$(cat "$TMP/hc.json")"
  "$BODY" "$TMP/sq.bin" QueryServiceResponse "$(cat "$TMP/sq.json")"
  # cg_run NAME KIND N: the server's total instructions (all threads) for KIND: mock-hc, ref-hc, mock-sq,
  # ref-sq (N calls, -c 32 -m 10) or push (N changes pushed to 500 subscribers)
  cg_run() {
    local name=$1 kind=$2 n=$3 cg=$TMP/$1.cg
    if [ "${kind%%-*}" = ref ]; then
      start_server "$name" valgrind --tool=callgrind --callgrind-out-file="$cg" "$REF" --response "$TMP/${kind#ref-}.bin" --port 0
      GPORT=$SPORT
    else
      start_mock "$name" valgrind --tool=callgrind --callgrind-out-file="$cg"
    fi
    local unary=(unary --port "$GPORT" -c 32 -m 10 -n "$n")
    case $kind in
      *-hc) "$GLOAD" "${unary[@]}" --type HealthCheckRequest --json "$HC" --expect HealthCheckResponse ;;
      mock-sq) "$GLOAD" "${unary[@]}" --type ServiceQueryRequest --json "$SQ" --expect QueryServiceResponse \
                 --preload bench-list:100 --http-port "$HPORT" ;;
      ref-sq) "$GLOAD" "${unary[@]}" --type ServiceQueryRequest --json "$SQ" --expect QueryServiceResponse ;;
      push) "$GLOAD" clients --port "$GPORT" --http-port "$HPORT" -c 500 --victims 0 --closes 0 --changes "$n" ;;
    esac >/dev/null 2>"$TMP/$name.load" || die "nm_bench_grpc_load failed: $(tail -3 "$TMP/$name.load")"
    stop_server "$SPID"
    sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg" | tail -n1
  }
  per() {   # per KIND N1 N2 DIVISOR
    local a b
    a=$(cg_run "$1-$2" "$1" "$2"); b=$(cg_run "$1-$3" "$1" "$3")
    echo $(((b - a) / $4))
  }
  mh=$(per mock-hc 2000 $((2000 + NACOS_CG)) "$NACOS_CG"); rh=$(per ref-hc 2000 $((2000 + NACOS_CG)) "$NACOS_CG")
  ms=$(per mock-sq 2000 $((2000 + NACOS_CG / 2)) $((NACOS_CG / 2))); rs=$(per ref-sq 2000 $((2000 + NACOS_CG / 2)) $((NACOS_CG / 2)))
  pp=$(per push 0 10 5000)
  echo
  echo "callgrind: instructions per call (all server threads), nm_bench_grpc_load -c 32 -m 10 on set-up connections"
  printf '%-44s %12s %12s %7s\n' scenario nacos-mock reference ratio
  printf '%-44s %12s %12s %7s\n' "HealthCheck" "$mh" "$rh" "$(awk -v a="$mh" -v b="$rh" 'BEGIN { printf "%.3f", b / a }')"
  printf '%-44s %12s %12s %7s\n' "ServiceQuery (100 instances, $(stat -c %s "$TMP/sq.bin") B)" "$ms" "$rs" \
    "$(awk -v a="$ms" -v b="$rs" 'BEGIN { printf "%.3f", b / a }')"
  printf '%-44s %12s\n' "push, per subscriber (500 subscribers)" "$pp"
  exit 0
fi

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
