#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup and the setup_* functions are called indirectly (trap, $setup)
# bench/run.sh — measures nacos-mock against the machine's limit (see bench/README.md).
#
#   bench/run.sh            build a Release tree in build-bench/, run every scenario, print the table
#   bench/run.sh --smoke    every scenario for ~1 s with tiny sizes (checks the bench still works)
#
# Options: --build-dir DIR (default build-bench), --no-build (use the binaries already in DIR),
#          --runs N (runs per side, full default 5), --duration S (seconds per wrk run, default 5),
#          --only a,b (scenarios: beat register list sweep-p99 write-p99 sweep startup memory faults journal
#          listeners events grpc-check grpc-health grpc-query grpc-clients),
#          --strict (exit 1 when a target is missed),
#          --scaling (beat, list and register at 1, 2, ... up to nproc server threads, server and wrk
#          pinned to separate cores where there are enough, and the share of a request's CPU time spent
#          holding the shared locks, from a second build with -DNACOS_MOCK_LOCK_STATS=ON; alone, it
#          runs only that: add --only to run scenarios too).
# Environment: BENCH_THREADS (server workers, default 2), BENCH_WRK_THREADS (2), BENCH_CONNECTIONS (32),
#          BENCH_GRPC_CONNECTIONS (32) and BENCH_GRPC_STREAMS (10): the unary gRPC load (-c / -m),
#          BENCH_GRPC_CLIENTS (2000): the connected-clients scenario.
#
# Only 127.0.0.1 is ever contacted; every server is started on --port 0 and its port read from its
# listening line; every process started here is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_DIR=$ROOT/bench   # the wrk scripts load common.lua from here
MODE=full
BUILD_DIR=$ROOT/build-bench
DO_BUILD=1
STRICT=0
ONLY=""
RUNS=""
DURATION=""
SCALING=0

usage() { sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) MODE=smoke ;;
    --build-dir) BUILD_DIR=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift ;;
    --no-build) DO_BUILD=0 ;;
    --runs) RUNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --strict) STRICT=1 ;;
    --scaling) SCALING=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

THREADS=${BENCH_THREADS:-2}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
GRPC_C=${BENCH_GRPC_CONNECTIONS:-32}
GRPC_M=${BENCH_GRPC_STREAMS:-10}
if [ "$MODE" = smoke ]; then
  RUNS=${RUNS:-1}; DURATION=${DURATION:-1}
  BEAT_N=50; BEAT_SVCS=5; LIST_N=10; SWEEP_N=2000; MEM_SMALL=500; MEM_LARGE=2000; FAULT_RULES=10
  STARTUP_RUNS=3; SWEEP_LEAD_MS=300; SWEEP_GAP_MS=400; SWEEP_WRK_S=2; CHUNK=1000; MEM_RUNS=1; LISTENERS=50
  STREAMS=10; EVENTS_N=200000
  GRPC_C=4; GRPC_M=4; GRPC_CLIENTS=${BENCH_GRPC_CLIENTS:-50}; GRPC_CHANGES=2; GRPC_CLOSES=2; GRPC_CLIENT_RUNS=1
else
  RUNS=${RUNS:-5}; DURATION=${DURATION:-5}
  BEAT_N=1000; BEAT_SVCS=10; LIST_N=100; SWEEP_N=100000; MEM_SMALL=10000; MEM_LARGE=100000; FAULT_RULES=100
  STARTUP_RUNS=21; SWEEP_LEAD_MS=1500; SWEEP_GAP_MS=2500; SWEEP_WRK_S=6; CHUNK=4000; MEM_RUNS=3; LISTENERS=1000
  STREAMS=100; EVENTS_N=2000000
  GRPC_CLIENTS=${BENCH_GRPC_CLIENTS:-2000}; GRPC_CHANGES=5; GRPC_CLOSES=5; GRPC_CLIENT_RUNS=3
fi
SWEEP_SVCS=100
LAT_CONNECTIONS=8
LAT_DELAY_MS=4

MOCK=$BUILD_DIR/nacos-mock
LOCKSTATS_DIR=$BUILD_DIR-lockstats   # --scaling: the same Release build counting lock hold times
MOCK_LS=$LOCKSTATS_DIR/nacos-mock
REF=$BUILD_DIR/bench/nm_bench_reference
STARTUP=$BUILD_DIR/bench/nm_bench_startup
SWEEP_BIN=$BUILD_DIR/bench/nm_bench_sweep
HOLDPOLLS=$BUILD_DIR/bench/nm_bench_holdpolls
EVENTS_BIN=$BUILD_DIR/bench/nm_bench_events
GLOAD=$BUILD_DIR/bench/nm_bench_grpc_load
GREF=$BUILD_DIR/bench/nm_bench_grpc_reference
GBODY=$BUILD_DIR/bench/nm_bench_grpc_body

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ prerequisites and build

ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  log "installing wrk (Debian package)"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
  command -v wrk >/dev/null 2>&1 || die "wrk is not installed and could not be installed"
}

# h2load (Debian nghttp2-client): the gRPC cross-check of our own load generator
ensure_h2load() {
  command -v h2load >/dev/null 2>&1 && return 0
  log "installing h2load (Debian package nghttp2-client)"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nghttp2-client >/dev/null
  command -v h2load >/dev/null 2>&1 || die "h2load is not installed and could not be installed"
}

ensure_wrk
ensure_h2load
# the connected-clients scenario holds thousands of sockets in nacos-mock (which inherits this limit)
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 8192 ]; then ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; fi
command -v curl >/dev/null 2>&1 || die "curl is needed"
if [ "$DO_BUILD" = 1 ]; then
  "$ROOT/scripts/deps.sh"
  log "building Release in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DNACOS_MOCK_TESTS=OFF -DNACOS_MOCK_BENCH=ON >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
  if [ "$SCALING" = 1 ]; then
    log "building Release with lock statistics in $LOCKSTATS_DIR"
    cmake -S "$ROOT" -B "$LOCKSTATS_DIR" -DCMAKE_BUILD_TYPE=Release -DNACOS_MOCK_TESTS=OFF -DNACOS_MOCK_BENCH=OFF \
      -DNACOS_MOCK_LOCK_STATS=ON >/dev/null
    cmake --build "$LOCKSTATS_DIR" -j"$(nproc)" --target nacos-mock >/dev/null
  fi
fi
[ "$SCALING" = 0 ] || [ -x "$MOCK_LS" ] || die "missing $MOCK_LS (build it, or drop --no-build)"
[ "$SCALING" = 0 ] || command -v taskset >/dev/null 2>&1 || die "taskset (util-linux) is needed for --scaling"
for b in "$MOCK" "$REF" "$STARTUP" "$SWEEP_BIN" "$HOLDPOLLS" "$EVENTS_BIN" "$GLOAD" "$GREF" "$GBODY"; do [ -x "$b" ] || die "missing $b (build it, or drop --no-build)"; done

# ------------------------------------------------------------------ processes

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nacos-mock-bench.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SPID=0; SPORT=0; SERIAL=0
# start_server NAME COMMAND...: starts it on --port 0 (the command must include it), waits for the
# listening line (LISTEN_AT, default "listening on http://127.0.0.1:"), port last; sets SPID and
# SPORT. stderr goes to $TMP/NAME.N.err.
start_server() {
  local name=$1 at=${LISTEN_AT:-listening on http://127.0.0.1:}; shift
  SERIAL=$((SERIAL + 1))
  local out=$TMP/$name.$SERIAL.out err=$TMP/$name.$SERIAL.err
  "$@" >"$out" 2>"$err" &
  SPID=$!
  PIDS+=("$SPID")
  local i line=""
  for i in $(seq 1 500); do
    line=$(grep -m1 -F "$at" "$out" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$SPID" 2>/dev/null || die "$name exited at start: $(tail -3 "$err")"
    sleep 0.01
  done
  [ -n "$line" ] || die "$name did not print its listening line"
  SPORT=${line##*:}
}

stop_server() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

# PIN_SERVER / PIN_WRK: a taskset prefix for the servers and for wrk (--scaling), empty otherwise.
PIN_SERVER=(); PIN_WRK=()
start_mock() {
  start_server nacos-mock "${PIN_SERVER[@]+"${PIN_SERVER[@]}"}" "${MOCK_BIN:-$MOCK}" --port 0 --host 127.0.0.1 --quiet \
    --threads "$THREADS" "$@"
}
start_ref() { start_server reference "${PIN_SERVER[@]+"${PIN_SERVER[@]}"}" "$REF" --port 0 --threads "$THREADS"; }

# ------------------------------------------------------------------ HTTP helpers (loopback only)

CURL=(curl -sS --noproxy '*' --max-time 120)
url() { printf 'http://127.0.0.1:%s%s' "$1" "$2"; }
http_get() { "${CURL[@]}" -f "$(url "$1" "$2")"; }
http_post_json() { "${CURL[@]}" -f -X POST -H 'Content-Type: application/json' --data-binary "$3" "$(url "$1" "$2")"; }
clock_now() { http_get "$1" /__mock/clock | sed 's/.*"nowMs":\([0-9]*\).*/\1/'; }
instance_count() { http_get "$1" /nacos/v1/ns/operator/metrics | sed 's/.*"instanceCount":\([0-9]*\).*/\1/'; }
count() { { grep -o -- "$1" || true; } | wc -l; }   # occurrences of a fixed pattern on stdin
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# gen_chunk PREFIX SERVICES START COUNT OCTET EXTRA: a /__mock/registry snapshot of instances
# START..START+COUNT-1; instance k is in service PREFIX-(k % SERVICES), ip 10.(OCTET + k/65536).
# (k/256 % 256).(k % 256), port 8080; EXTRA is appended to every instance object (",\"k\":v").
gen_chunk() {
  awk -v p="$1" -v s="$2" -v a="$3" -v n="$4" -v o="$5" -v x="$6" 'BEGIN {
    printf "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":["
    first = 1
    for (j = 0; j < s; j++) {
      k0 = a + ((j - a % s) % s + s) % s
      if (k0 >= a + n) continue
      printf "%s{\"name\":\"%s-%d\",\"groupName\":\"DEFAULT_GROUP\",\"explicit\":false,\"instances\":[", (first ? "" : ","), p, j
      first = 0
      sep = ""
      for (k = k0; k < a + n; k += s) {
        printf "%s{\"ip\":\"10.%d.%d.%d\",\"port\":8080%s}", sep, o + int(k / 65536), int(k / 256) % 256, k % 256, x
        sep = ","
      }
      printf "]}"
    }
    printf "]}]}\n"
  }'
}

# load_instances PORT PREFIX SERVICES START COUNT OCTET EXTRA: in chunks (the body cap is 1 MiB).
load_instances() {
  local port=$1 prefix=$2 svcs=$3 start=$4 count=$5 octet=$6 extra=$7 done_=0 n
  while [ "$done_" -lt "$count" ]; do
    n=$((count - done_)); [ "$n" -gt "$CHUNK" ] && n=$CHUNK
    gen_chunk "$prefix" "$svcs" $((start + done_)) "$n" "$octet" "$extra" >"$TMP/chunk.json"
    "${CURL[@]}" -f -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/chunk.json" \
      "$(url "$port" /__mock/registry)" >/dev/null || die "loading instances into :$port failed"
    done_=$((done_ + n))
  done
}

load_beat_set() { load_instances "$1" bench-beat "$BEAT_SVCS" 0 "$BEAT_N" 1 ""; }

check_beat() {
  local body
  body=$("${CURL[@]}" -X PUT -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-urlencode 'beat={"cluster":"DEFAULT","ip":"10.1.0.1","metadata":{},"period":5000,"port":8080,"scheduled":false,"serviceName":"DEFAULT_GROUP@@bench-beat-1","stopped":false,"weight":1.0}' \
    "$(url "$1" '/nacos/v1/ns/instance/beat?namespaceId=public&serviceName=DEFAULT_GROUP%40%40bench-beat-1&clusterName=DEFAULT&ip=10.1.0.1&port=8080')")
  case "$body" in *'"code":10200'*) ;; *) die "beat sanity check failed on :$1: $body" ;; esac
}

# ------------------------------------------------------------------ wrk

WRK_RPS=0; WRK_P99=0; WRK_MAX=0; WRK_DELAY_MS=0
# run_wrk PORT SCRIPT SECONDS: one keep-alive wrk run; sets WRK_RPS, WRK_P99 (ms), WRK_MAX (ms).
run_wrk() {
  local port=$1 script=$2 secs=$3 line
  line=$(BENCH_BEAT_INSTANCES=$BEAT_N BENCH_BEAT_SERVICES=$BEAT_SVCS BENCH_DELAY_MS=$WRK_DELAY_MS \
    "${PIN_WRK[@]+"${PIN_WRK[@]}"}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 10s -s "$BENCH_DIR/$script" \
    "http://127.0.0.1:$port/" | grep '^BENCH ') || die "wrk produced no result ($script on :$port)"
  local errors
  errors=$(kv "$line" errors)
  [ "$errors" = 0 ] || die "wrk saw $errors errors ($script on :$port): $line"
  WRK_RPS=$(kv "$line" rps)
  WRK_P99=$(awk -v v="$(kv "$line" p99_us)" 'BEGIN { printf "%.2f", v / 1000 }')
  WRK_MAX=$(awk -v v="$(kv "$line" max_us)" 'BEGIN { printf "%.2f", v / 1000 }')
}
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt0() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }

# ------------------------------------------------------------------ results table

ROWS=()
MISSES=0
# row SCENARIO MOCK REF RATIO TARGET_TEXT PASS(1/0)
row() {   # row SCENARIO MOCK REF RATIO TARGET MET (1 met, 0 missed, - a figure without a target)
  local res=PASS
  if [ "$6" = - ]; then res=-; elif [ "$6" != 1 ]; then res=MISS; MISSES=$((MISSES + 1)); fi
  ROWS+=("$1|$2|$3|$4|$5|$res")
  log "$1: nacos-mock $2, reference $3, ratio $4, target $5 -> $res"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }' && echo 1 || echo 0; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo 1 || echo 0; }

wants() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# ------------------------------------------------------------------ throughput: nacos-mock vs reference

# mock_vs_ref NAME SCRIPT TARGET SETUP: alternating runs, fresh servers each run. The ratio is the
# median of the per-pair ratios (each nacos-mock run over the reference run just before it), which
# cancels slow drifts in what the machine gives us (other load, CPU frequency).
mock_vs_ref() {
  local name=$1 script=$2 target=$3 setup=$4 i mock=() ref=() ratios=()
  for i in $(seq 1 "$RUNS"); do
    start_ref; run_wrk "$SPORT" "$script" "$DURATION"; stop_server "$SPID"; ref+=("$WRK_RPS")
    start_mock; $setup "$SPORT"; run_wrk "$SPORT" "$script" "$DURATION"; stop_server "$SPID"; mock+=("$WRK_RPS")
    ratios+=("$(ratio "${mock[-1]}" "${ref[-1]}")")
    log "$name run $i/$RUNS: reference $(fmt0 "${ref[-1]}") req/s, nacos-mock $(fmt0 "${mock[-1]}") req/s (${ratios[-1]})"
  done
  local q
  q=$(median "${ratios[@]}")
  row "$name" "$(fmt0 "$(median "${mock[@]}")") req/s" "$(fmt0 "$(median "${ref[@]}")") req/s" "$q" ">= $target x" "$(ge "$q" "$target")"
}

setup_beat() { load_beat_set "$1"; check_beat "$1"; }
setup_register() { :; }
setup_list() {
  load_instances "$1" bench-list 1 0 "$LIST_N" 200 ',"metadata":{"version":"1.0"}'
  local n
  # the very request list.lua sends
  n=$(http_get "$1" '/nacos/v1/ns/instance/list?namespaceId=public&serviceName=DEFAULT_GROUP%40%40bench-list-0&clusters=&healthyOnly=false' |
    count '"instanceId"')
  [ "$n" = "$LIST_N" ] || die "list sanity check: $n hosts, expected $LIST_N"
}

scenario_beat() { mock_vs_ref "beat" beat.lua 0.6 setup_beat; }
scenario_register() { mock_vs_ref "register" register.lua 0.5 setup_register; }
scenario_list() { mock_vs_ref "list ($LIST_N instances)" list.lua 0.3 setup_list; }

# ------------------------------------------------------------------ nacos-mock vs nacos-mock (A/B)

# ab NAME TARGET_TEXT MIN_RATIO SETUP_A ARGS_A SETUP_B ARGS_B LABEL_A LABEL_B: beat throughput of
# nacos-mock in two configurations, alternating, fresh servers each run; ratio = median of B/A pairs.
ab() {
  local name=$1 ttext=$2 min=$3 sa=$4 aa=$5 sb=$6 ba=$7 la=$8 lb=$9 i a=() b=() ratios=()
  for i in $(seq 1 "$RUNS"); do
    # shellcheck disable=SC2086
    start_mock $aa; setup_beat "$SPORT"; $sa "$SPORT"; run_wrk "$SPORT" beat.lua "$DURATION"; stop_server "$SPID"; a+=("$WRK_RPS")
    # shellcheck disable=SC2086
    start_mock $ba; setup_beat "$SPORT"; $sb "$SPORT"; run_wrk "$SPORT" beat.lua "$DURATION"; stop_server "$SPID"; b+=("$WRK_RPS")
    ratios+=("$(ratio "${b[-1]}" "${a[-1]}")")
    log "$name run $i/$RUNS: $la $(fmt0 "${a[-1]}") req/s, $lb $(fmt0 "${b[-1]}") req/s (${ratios[-1]})"
  done
  local q
  q=$(median "${ratios[@]}")
  row "$name" "$(fmt0 "$(median "${b[@]}")") req/s ($lb)" "$(fmt0 "$(median "${a[@]}")") req/s ($la)" "$q" "$ttext" "$(ge "$q" "$min")"
}

noop() { :; }
install_faults() {
  local i
  for i in $(seq 1 "$FAULT_RULES"); do
    http_post_json "$1" /__mock/faults \
      "{\"id\":\"nomatch-$i\",\"match\":{\"api\":\"beat\",\"serviceName\":\"no-such-service-$i\"},\"action\":{\"status\":500}}" >/dev/null
  done
  local n
  n=$(http_get "$1" /__mock/faults | count '"id"')
  [ "$n" = "$FAULT_RULES" ] || die "installed $n fault rules, expected $FAULT_RULES"
  check_beat "$1"   # none of them matches
}

scenario_faults() {
  ab "beat, $FAULT_RULES non-matching fault rules" ">= 0.95 x (within 5%)" 0.95 noop "" install_faults "" \
    "no rules" "$FAULT_RULES rules"
}
scenario_journal() {
  ab "beat, journal on vs off" ">= 0.90 x (within 10%)" 0.90 noop "--journal-size 0" noop "" "journal off" "journal on"
}

# ------------------------------------------------------------------ config listeners

# LISTENERS held config long polls (nm_bench_holdpolls, one connection each) cost what, and do they
# slow beats? Each run: one server with the beat set and one config; beats measured with no poll held
# (A) and with LISTENERS polls held (B) — opened and waited for until /__mock/metrics says the server
# holds them all, VmRSS read before and after. The order alternates between runs (a server's second
# wrk run is a little faster than its first), closing the polls and waiting until the server has let
# them go when B comes first. Ratio = median of B/A pairs; the cost = median of the RSS increases.
HOLD_PID=0
listeners_gauge() {
  http_get "$1" /__mock/metrics | awk '/^nacos_mock_config_listeners\{transport="http"\}/ { print $2 }'
}
wait_listeners() {   # wait_listeners PORT N
  local i
  for i in $(seq 1 1000); do
    [ "$(listeners_gauge "$1")" = "$2" ] && return 0
    sleep 0.02
  done
  die "the server holds $(listeners_gauge "$1") polls, expected $2"
}
hold_listeners() {   # hold_listeners PORT
  local md5
  "${CURL[@]}" -f -X POST --data 'dataId=bench-listen&group=DEFAULT_GROUP&content=v1' "$(url "$1" /nacos/v1/cs/configs)" >/dev/null
  md5=$(printf 'v1' | md5sum | cut -c1-32)
  "$HOLDPOLLS" -p "$1" -n "$LISTENERS" -d bench-listen -m "$md5" >"$TMP/holdpolls.out" 2>"$TMP/holdpolls.err" &
  HOLD_PID=$!
  PIDS+=("$HOLD_PID")
  wait_listeners "$1" "$LISTENERS"
}
scenario_listeners() {
  local i a=() b=() ratios=() cost=() before after
  for i in $(seq 1 "$RUNS"); do
    start_mock; setup_beat "$SPORT"
    if [ $((i % 2)) = 1 ]; then
      run_wrk "$SPORT" beat.lua "$DURATION"; a+=("$WRK_RPS")
      before=$(rss_kb "$SPID"); hold_listeners "$SPORT"; after=$(rss_kb "$SPID")
      run_wrk "$SPORT" beat.lua "$DURATION"; b+=("$WRK_RPS")
      [ "$(listeners_gauge "$SPORT")" = "$LISTENERS" ] || die "the polls were not held through the beat run"
      stop_server "$HOLD_PID"
    else
      before=$(rss_kb "$SPID"); hold_listeners "$SPORT"; after=$(rss_kb "$SPID")
      run_wrk "$SPORT" beat.lua "$DURATION"; b+=("$WRK_RPS")
      [ "$(listeners_gauge "$SPORT")" = "$LISTENERS" ] || die "the polls were not held through the beat run"
      stop_server "$HOLD_PID"
      wait_listeners "$SPORT" 0   # the server notices the clients left (it looks every second)
      run_wrk "$SPORT" beat.lua "$DURATION"; a+=("$WRK_RPS")
    fi
    stop_server "$SPID"
    cost+=("$((after - before))")
    ratios+=("$(ratio "${b[-1]}" "${a[-1]}")")
    log "listeners run $i/$RUNS: beat $(fmt0 "${a[-1]}") req/s with none held, $(fmt0 "${b[-1]}") req/s with $LISTENERS held (${ratios[-1]}); VmRSS $before -> $after kB"
  done
  local q c
  q=$(median "${ratios[@]}")
  c=$(awk -v v="$(median "${cost[@]}")" 'BEGIN { printf "%.1f", v / 1024 }')
  row "beat with $LISTENERS held config polls vs none" "$(fmt0 "$(median "${b[@]}")") req/s ($LISTENERS held)" \
    "$(fmt0 "$(median "${a[@]}")") req/s (none)" "$q" ">= 0.95 x (within 5%)" "$(ge "$q" 0.95)"
  row "VmRSS added by $LISTENERS held config polls" "$c MB" "-" "-" "<= 16 MB" "$(le "$c" 16)"
}

# Events streams held open during a run: curl -N on GET /__mock/events, each writing to its own file;
# a stream is subscribed once its opening comment arrived. They end when their server stops (every
# run stops its server), so they are only waited for, never killed: a PID reaped long ago may be
# another process's by now.
STREAM_PIDS=()
close_streams() {
  local p
  for p in "${STREAM_PIDS[@]+"${STREAM_PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
  STREAM_PIDS=()
  rm -f "$TMP"/stream.*
}
open_streams() {
  close_streams
  local i f n=0
  for i in $(seq 1 "$STREAMS"); do
    curl -sS --noproxy '*' -N --max-time 600 -o "$TMP/stream.$i" "$(url "$1" /__mock/events)" 2>/dev/null &
    STREAM_PIDS+=("$!")
  done
  for i in $(seq 1 500); do
    n=0
    for f in "$TMP"/stream.*; do [ -s "$f" ] && n=$((n + 1)); done
    [ "$n" -ge "$STREAMS" ] && return 0
    sleep 0.01
  done
  die "only $n of $STREAMS events streams opened on :$1"
}

# What an event costs to emit (bench/events.c), and beat throughput with STREAMS open streams (idle:
# a beat of a healthy instance emits nothing, and a waiting stream is suspended) against none.
scenario_events() {
  local out off on batch
  out=$("$EVENTS_BIN" -n "$EVENTS_N" -r "$RUNS") || die "nm_bench_events failed: $out"
  printf '%s\n' "$out" | sed -n 's/^run /[bench] events in process, run /p' >&2
  off=$(printf '%s\n' "$out" | sed -n 's/.*off_ns=\([0-9.]*\).*/\1/p')
  on=$(printf '%s\n' "$out" | sed -n 's/.*on_ns=\([0-9.]*\).*/\1/p')
  batch=$(printf '%s\n' "$out" | sed -n 's/.*batch_ns=\([0-9.]*\).*/\1/p')
  [ -n "$off" ] && [ -n "$on" ] && [ -n "$batch" ] || die "nm_bench_events printed no figures"
  row "emit an event, no stream ever opened (per call)" "$off ns" "-" "-" "<= 10 ns" "$(le "$off" 10)"
  row "emit an event while recording (per call / in a sweep batch)" "$on / $batch ns" "-" "-" "-" -
  ab "beat, $STREAMS open events streams vs none" ">= 0.95 x (within 5%)" 0.95 noop "" open_streams "" \
    "no streams" "$STREAMS streams"
  close_streams
}

# ------------------------------------------------------------------ sweeps

# Beat latency while the background sweeper works through SWEEP_N due instances. The instances are
# loaded with lastBeatMs = t0 and timeouts of 60 s (unhealthy) and 60 s + GAP (removed), so none is
# due while loading; then the virtual clock is advanced so that they fall due SWEEP_LEAD_MS after wrk
# starts (that advance sweeps nothing: nothing is due yet). The sweeper thread (--sweep-interval-ms
# 100) then marks all SWEEP_N unhealthy, and SWEEP_GAP_MS later removes them all: two sweeps over
# SWEEP_N instances inside one wrk run, in the bounded batches the thread uses. The load is paced
# (LAT_CONNECTIONS connections, each waiting LAT_DELAY_MS between requests, about 2,000 beats/s), so
# the latency is service time plus waiting for the sweeper, not queueing at saturation. The baseline
# run is identical except that the instances never fall due. The sweeper thread's own figure, the
# longest sweep (nacos_mock_sweep_duration_seconds{sweep="max"} on /__mock/metrics), is read after.
SWEEP_THREAD_MS=0
sweep_p99_run() {
  local due=$1 t0 t1 adv hb=60000
  start_mock --sweep-interval-ms 100
  t0=$(clock_now "$SPORT")
  [ "$due" = 1 ] || hb=600000000
  load_instances "$SPORT" bench-sweep "$SWEEP_SVCS" 0 "$SWEEP_N" 2 \
    ",\"lastBeatMs\":$t0,\"heartBeatTimeoutMs\":$hb,\"ipDeleteTimeoutMs\":$((hb + SWEEP_GAP_MS))"
  t1=$(clock_now "$SPORT")
  adv=$((t0 + 60000 - t1 - SWEEP_LEAD_MS))
  [ "$adv" -ge 0 ] || die "loading $SWEEP_N instances took longer than 58 s"
  http_post_json "$SPORT" /__mock/clock/advance "{\"ms\":$adv}" >/dev/null
  setup_beat "$SPORT"
  local saved_c=$CONNECTIONS saved_t=$WRK_THREADS
  CONNECTIONS=$LAT_CONNECTIONS; WRK_THREADS=1; WRK_DELAY_MS=$LAT_DELAY_MS
  run_wrk "$SPORT" beat.lua "$SWEEP_WRK_S"
  CONNECTIONS=$saved_c; WRK_THREADS=$saved_t; WRK_DELAY_MS=0
  if [ "$due" = 1 ]; then
    local i left
    for i in $(seq 1 600); do
      left=$(instance_count "$SPORT")
      [ "$left" = "$BEAT_N" ] && break
      [ "$i" = 1 ] && log "sweep-p99: the sweeps outlasted the wrk run ($left instances left); waiting for them"
      sleep 0.1
    done
    [ "$left" = "$BEAT_N" ] || die "the sweeps did not finish within 60 s after the wrk run ($left instances left)"
    SWEEP_THREAD_MS=$(http_get "$SPORT" /__mock/metrics |
      awk '/^nacos_mock_sweep_duration_seconds\{sweep="max"\}/ { printf "%.2f", $2 * 1000 }')
    [ -n "$SWEEP_THREAD_MS" ] || SWEEP_THREAD_MS=0
  fi
  stop_server "$SPID"
}

scenario_sweep_p99() {
  local i with=() without=() wmax=() thread=()
  for i in $(seq 1 "$RUNS"); do
    sweep_p99_run 0; without+=("$WRK_P99")
    sweep_p99_run 1; with+=("$WRK_P99"); wmax+=("$WRK_MAX"); thread+=("$SWEEP_THREAD_MS")
    log "sweep-p99 run $i/$RUNS: beat p99 ${without[-1]} ms without sweep, ${with[-1]} ms during two $SWEEP_N-instance sweeps (max ${wmax[-1]} ms); longest sweep (sweeper thread) ${thread[-1]} ms"
  done
  local m b t
  m=$(median "${with[@]}"); b=$(median "${without[@]}"); t=$(median "${thread[@]}")
  row "beat p99 during sweeps of $SWEEP_N (~2k beats/s; max $(median "${wmax[@]}") ms)" "$m ms" "$b ms (no sweep)" "$(ratio "$m" "$b")" "<= 10 ms" "$(le "$m" 10)"
  row "sweep of $SWEEP_N, all due (sweeper thread, longest)" "$t ms" "-" "-" "<= 50 ms" "$(le "$t" 50)"
}

# Beat latency while one control-plane request writes 100,000 instances at once: POST
# /__mock/clock/advance over SWEEP_N due instances (other services than the beaten ones) holds the
# registry lock (app->mu) for the whole sweep and the rendering of its answer, and each shard of the
# services it sweeps while it sweeps that shard. Beats of known instances need neither: the question
# is whether they wait anyway. The beaten instances are loaded with timeouts the advance cannot reach;
# the swept ones are due by then. wrk is paced as in sweep-p99; the advance is sent WRITE_AT_S after
# wrk starts. The baseline is the identical run whose advance finds nothing due. The server runs
# WRITE_THREADS workers: a libmicrohttpd worker serves its connections one request at a time, so the
# beats on the worker that runs the advance wait for it whatever the locks; with 8 workers that is one
# in 8 — what the p99 shows is whether the beats on the others wait for the registry lock.
WRITE_AT_S=1.5
WRITE_THREADS=8
write_p99_run() {   # write_p99_run DUE(0/1): sets WRK_P99, WRK_MAX, WRITE_MS (the advance's time)
  local due=$1 t0 hb=60000 long=600000000
  THREADS=$WRITE_THREADS start_mock --sweep-interval-ms 600000
  t0=$(clock_now "$SPORT")
  [ "$due" = 1 ] || hb=$long
  load_instances "$SPORT" bench-write "$SWEEP_SVCS" 0 "$SWEEP_N" 3 \
    ",\"lastBeatMs\":$t0,\"heartBeatTimeoutMs\":$hb,\"ipDeleteTimeoutMs\":$((hb + 1))"
  load_instances "$SPORT" bench-beat "$BEAT_SVCS" 0 "$BEAT_N" 1 ",\"heartBeatTimeoutMs\":$long,\"ipDeleteTimeoutMs\":$long"
  check_beat "$SPORT"
  local saved_c=$CONNECTIONS saved_t=$WRK_THREADS
  CONNECTIONS=$LAT_CONNECTIONS; WRK_THREADS=1; WRK_DELAY_MS=$LAT_DELAY_MS
  ( sleep "$WRITE_AT_S"; "${CURL[@]}" -f -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' \
      --data-binary '{"ms":61000}' "$(url "$SPORT" /__mock/clock/advance)" >"$TMP/write.time" ) &
  local writer=$!
  run_wrk "$SPORT" beat.lua "$SWEEP_WRK_S"
  wait "$writer" || die "the advance failed"
  CONNECTIONS=$saved_c; WRK_THREADS=$saved_t; WRK_DELAY_MS=0
  WRITE_MS=$(awk '{ printf "%.1f", $1 * 1000 }' "$TMP/write.time")
  if [ "$due" = 1 ]; then
    local left
    left=$(instance_count "$SPORT")
    [ "$left" = "$BEAT_N" ] || die "write-p99: $left instances left after the advance, expected $BEAT_N"
  fi
  stop_server "$SPID"
}

scenario_write_p99() {
  local i with=() without=() wmax=() took=()
  for i in $(seq 1 "$RUNS"); do
    write_p99_run 0; without+=("$WRK_P99")
    write_p99_run 1; with+=("$WRK_P99"); wmax+=("$WRK_MAX"); took+=("$WRITE_MS")
    log "write-p99 run $i/$RUNS: beat p99 ${without[-1]} ms without, ${with[-1]} ms during an advance removing $SWEEP_N instances in one request (${took[-1]} ms; beat max ${wmax[-1]} ms)"
  done
  local m b
  m=$(median "${with[@]}"); b=$(median "${without[@]}")
  row "beat p99 during one $SWEEP_N-instance write (advance, $(median "${took[@]}") ms under the registry lock; $WRITE_THREADS workers; max $(median "${wmax[@]}") ms)" \
    "$m ms" "$b ms (nothing due)" "$(ratio "$m" "$b")" "<= 10 ms" "$(le "$m" 10)"
}

# time_advance PORT MS: seconds to first byte of POST /__mock/clock/advance (the sweep runs before
# the answer is rendered); sets ADV_MS (milliseconds) and ADV_CHANGES (number of changes reported).
ADV_MS=0; ADV_CHANGES=0
time_advance() {
  local t
  t=$("${CURL[@]}" -f -o "$TMP/advance.json" -w '%{time_starttransfer}' -X POST -H 'Content-Type: application/json' \
    --data-binary "{\"ms\":$2}" "$(url "$1" /__mock/clock/advance)")
  ADV_MS=$(awk -v v="$t" 'BEGIN { printf "%.2f", v * 1000 }')
  ADV_CHANGES=$(count '"instanceId"' <"$TMP/advance.json")
}

# One sweep in process (bench/sweep.c): the server library with SWEEP_N instances in SWEEP_SVCS
# services, swept as the sweeper thread does (batches under the registry lock, every transition
# logged — to a file here), without HTTP, loading or answering around it. Twice: instances that last
# beat at the same moment (a fixture load, a fleet stopped at once, the clock advanced past them),
# and last beats spread over 5 s (clients beating at their own moments: the instances a sweep meets
# are scattered in memory).
SWEEP_SPREAD_MS=5000
inproc_sweep() {   # inproc_sweep SPREAD_MS LABEL
  local out idle unh rem
  out=$("$SWEEP_BIN" -n "$SWEEP_N" -s "$SWEEP_SVCS" -r "$RUNS" -j "$1" 2>"$TMP/sweep-inproc.log") || die "nm_bench_sweep failed: $out"
  printf '%s\n' "$out" | sed -n 's/^run /[bench] sweep in process, run /p' >&2
  idle=$(printf '%s\n' "$out" | sed -n 's/.*idle_ms=\([0-9.]*\).*/\1/p')
  unh=$(printf '%s\n' "$out" | sed -n 's/.*unhealthy_ms=\([0-9.]*\).*/\1/p')
  rem=$(printf '%s\n' "$out" | sed -n 's/.*removed_ms=\([0-9.]*\).*/\1/p')
  [ -n "$idle" ] && [ -n "$unh" ] && [ -n "$rem" ] || die "nm_bench_sweep printed no figures"
  if [ "$1" = 0 ]; then
    row "one sweep of $SWEEP_N in process, nothing due" "$idle ms" "-" "-" "<= 50 ms" "$(le "$idle" 50)"
  fi
  row "one sweep of $SWEEP_N in process, all due -> UNHEALTHY ($2)" "$unh ms" "-" "-" "<= 50 ms" "$(le "$unh" 50)"
  row "one sweep of $SWEEP_N in process, all due -> REMOVED ($2)" "$rem ms" "-" "-" "<= 50 ms" "$(le "$rem" 50)"
}
scenario_sweep_inproc() {
  inproc_sweep 0 "last beats together"
  inproc_sweep "$SWEEP_SPREAD_MS" "last beats over $((SWEEP_SPREAD_MS / 1000)) s"
}

scenario_sweep() {
  scenario_sweep_inproc
  local i idle=() unh=() rem=() loads=() probe=()
  for i in $(seq 1 "$RUNS"); do
    start_mock
    local s e
    s=$(date +%s%N)
    load_instances "$SPORT" bench-sweep "$SWEEP_SVCS" 0 "$SWEEP_N" 2 ""
    e=$(date +%s%N)
    loads+=("$(( (e - s) / 1000000 ))")
    probe=()
    for _ in 1 2 3 4 5; do time_advance "$SPORT" 1; probe+=("$ADV_MS"); done
    idle+=("$(median "${probe[@]}")")
    time_advance "$SPORT" 16000
    [ "$ADV_CHANGES" = "$SWEEP_N" ] || die "advance 16 s: $ADV_CHANGES changes, expected $SWEEP_N"
    unh+=("$ADV_MS")
    time_advance "$SPORT" 15000
    [ "$ADV_CHANGES" = "$SWEEP_N" ] || die "advance 15 s: $ADV_CHANGES changes, expected $SWEEP_N"
    rem+=("$ADV_MS")
    stop_server "$SPID"
    log "sweep run $i/$RUNS: load ${loads[-1]} ms; advance with nothing due ${idle[-1]} ms, all due -> UNHEALTHY ${unh[-1]} ms, all due -> REMOVED ${rem[-1]} ms"
  done
  local mi mu mr
  mi=$(median "${idle[@]}"); mu=$(median "${unh[@]}"); mr=$(median "${rem[@]}")
  row "advance over $SWEEP_N, nothing due (sweep + answer)" "$mi ms" "-" "-" "<= 50 ms" "$(le "$mi" 50)"
  # the sweep has its target above; these add rendering and sending the ~15 MB answer
  row "advance over $SWEEP_N, all due -> UNHEALTHY (sweep + answer of every change)" "$mu ms" "-" "-" "-" -
  row "advance over $SWEEP_N, all due -> REMOVED (sweep + answer of every change)" "$mr ms" "-" "-" "-" -
  LOAD_NOTE="loading $SWEEP_N instances through POST /__mock/registry in chunks of $CHUNK: median $(median "${loads[@]}") ms"
}

# ------------------------------------------------------------------ start-up and memory

scenario_startup() {
  local i mock=() ref=() per=$(( (STARTUP_RUNS + 2) / 3 ))
  for i in 1 2 3; do
    mapfile -t -O "${#mock[@]}" mock < <("$STARTUP" -n "$per" -- "$MOCK" --port 0 --host 127.0.0.1 --quiet --threads "$THREADS" \
      | sed -n 's/^run [0-9]*: \([0-9.]*\) ms$/\1/p')
    mapfile -t -O "${#ref[@]}" ref < <("$STARTUP" -n "$per" -- "$REF" --port 0 --threads "$THREADS" \
      | sed -n 's/^run [0-9]*: \([0-9.]*\) ms$/\1/p')
  done
  if [ "${#mock[@]}" -lt 1 ] || [ "${#ref[@]}" -lt 1 ]; then die "start-up timing failed"; fi
  local m r
  m=$(median "${mock[@]}"); r=$(median "${ref[@]}")
  row "start-up to first answer (median of ${#mock[@]})" "$m ms" "$r ms" "$(ratio "$m" "$r")" "<= 20 ms" "$(le "$m" 20)"
}

scenario_memory() {
  local i idle=() small=() large=() refidle=()
  for i in $(seq 1 "$MEM_RUNS"); do
    start_ref; sleep 0.2; refidle+=("$(rss_kb "$SPID")"); stop_server "$SPID"
    start_mock
    sleep 0.2
    idle+=("$(rss_kb "$SPID")")
    load_instances "$SPORT" bench-mem "$SWEEP_SVCS" 0 "$MEM_SMALL" 50 ',"metadata":{"version":"1.0"}'
    [ "$(instance_count "$SPORT")" = "$MEM_SMALL" ] || die "memory: load of $MEM_SMALL failed"
    small+=("$(rss_kb "$SPID")")
    load_instances "$SPORT" bench-mem "$SWEEP_SVCS" "$MEM_SMALL" $((MEM_LARGE - MEM_SMALL)) 50 ',"metadata":{"version":"1.0"}'
    [ "$(instance_count "$SPORT")" = "$MEM_LARGE" ] || die "memory: load of $MEM_LARGE failed"
    large+=("$(rss_kb "$SPID")")
    stop_server "$SPID"
    log "memory run $i/$MEM_RUNS: VmRSS idle ${idle[-1]} kB, $MEM_SMALL instances ${small[-1]} kB, $MEM_LARGE instances ${large[-1]} kB"
  done
  mb() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1024 }'; }
  local mi ms ml
  mi=$(mb "$(median "${idle[@]}")"); ms=$(mb "$(median "${small[@]}")"); ml=$(mb "$(median "${large[@]}")")
  row "VmRSS idle" "$mi MB" "$(mb "$(median "${refidle[@]}")") MB" "-" "<= 8 MB" "$(le "$mi" 8)"
  row "VmRSS with $MEM_SMALL instances" "$ms MB" "-" "-" "<= 32 MB" "$(le "$ms" 32)"
  row "VmRSS with $MEM_LARGE instances" "$ml MB" "-" "-" "<= 200 MB" "$(le "$ml" 200)"
}

# ------------------------------------------------------------------ gRPC (Nacos 2.x)

# nacos-mock answers 301 to anything but ServerCheck on a connection that has not sent
# ConnectionSetupRequest, so h2load can only load ServerCheck. bench/grpc_load.c
# (nm_bench_grpc_load) sets its connections up as a real client does and drives the real calls, against
# nacos-mock and against the bare nghttp2 server (nm_bench_grpc_reference), which answers every call
# with one fixed message: nacos-mock's own answer to the same call, captured first (grpc_answer).
GPORT=0
# start_mock_grpc: start_mock, plus GPORT (its gRPC port, from the start-up log line). Instances
# registered over v1 here never fall due (1,000 missed beats: no beats are sent).
start_mock_grpc() {
  start_mock --unhealthy-misses 1000 --delete-misses 2000
  local i line=""
  for i in $(seq 1 300); do
    line=$(grep -o -m1 'gRPC on port [0-9]*' "$TMP/nacos-mock.$SERIAL.err" 2>/dev/null || true)
    [ -n "$line" ] && break
    sleep 0.01
  done
  [ -n "$line" ] || die "nacos-mock logged no gRPC port"
  GPORT=${line##* }
}
start_grpc_ref() { LISTEN_AT="listening on 127.0.0.1:" start_server grpc-reference "$GREF" --response "$1" --port 0; }

GL_LINE=""
# run_gload ARGS...: one nm_bench_grpc_load run (it dies on any wrong answer or missed push); sets GL_LINE.
run_gload() {
  GL_LINE=$("$GLOAD" "$@" 2>"$TMP/gload.err" | grep '^GRPC_LOAD ') ||
    die "nm_bench_grpc_load $1 failed: $(tail -3 "$TMP/gload.err")"
}

GRPC_HC='{"headers":{},"requestId":"42","module":"internal"}'
GRPC_SQ='{"headers":{},"requestId":"42","namespace":"public","serviceName":"bench-list","groupName":"DEFAULT_GROUP","module":"naming","cluster":"","healthyOnly":false,"udpPort":0}'
GRPC_PRELOAD="bench-list:$LIST_N"   # registered over v1 HTTP by nm_bench_grpc_load, before the calls

# grpc_answer NAME TYPE JSON EXPECT [PRELOAD]: a fresh nacos-mock's answer to one such call (set-up
# connection), framed for the reference in $TMP/NAME.bin; its JSON in $TMP/NAME.json.
grpc_answer() {
  start_mock_grpc
  run_gload unary --port "$GPORT" -c 1 -m 1 -d 0.2 --warmup 0 --type "$2" --json "$3" --expect "$4" \
    --save-answer "$TMP/$1.json" ${5:+--preload "$5" --http-port "$SPORT"}
  stop_server "$SPID"
  "$GBODY" "$TMP/$1.bin" "$4" "$(cat "$TMP/$1.json")"
}

# grpc_vs_ref NAME ANSWER TARGET PRELOAD LOAD_ARGS...: unary calls/s of nacos-mock against the reference
# answering $TMP/ANSWER.bin, alternating fresh pairs (reference first); ratio = median of per-pair ratios.
grpc_vs_ref() {
  local name=$1 answer=$2 target=$3 preload=$4 i mock=() ref=() ratios=() p99m=() p99r=(); shift 4
  for i in $(seq 1 "$RUNS"); do
    start_grpc_ref "$TMP/$answer.bin"
    run_gload unary --port "$SPORT" -c "$GRPC_C" -m "$GRPC_M" -d "$DURATION" "$@"; stop_server "$SPID"
    ref+=("$(kv "$GL_LINE" rps)"); p99r+=("$(kv "$GL_LINE" p99_ms)")
    start_mock_grpc
    run_gload unary --port "$GPORT" -c "$GRPC_C" -m "$GRPC_M" -d "$DURATION" "$@" \
      ${preload:+--preload "$preload" --http-port "$SPORT"}
    stop_server "$SPID"
    mock+=("$(kv "$GL_LINE" rps)"); p99m+=("$(kv "$GL_LINE" p99_ms)")
    ratios+=("$(ratio "${mock[-1]}" "${ref[-1]}")")
    log "$name run $i/$RUNS: reference $(fmt0 "${ref[-1]}") calls/s (p99 ${p99r[-1]} ms), nacos-mock $(fmt0 "${mock[-1]}") calls/s (p99 ${p99m[-1]} ms) (${ratios[-1]})"
  done
  local q met=- ttext=-; q=$(median "${ratios[@]}")
  if [ -n "$target" ]; then ttext=">= $target x"; met=$(ge "$q" "$target"); fi
  row "$name" "$(fmt0 "$(median "${mock[@]}")") calls/s (p99 $(median "${p99m[@]}") ms)" \
    "$(fmt0 "$(median "${ref[@]}")") calls/s (p99 $(median "${p99r[@]}") ms)" "$q" "$ttext" "$met"
}

H2_RPS=0
# run_h2load PORT BODY: one h2load run of unary calls with BODY (framed); sets H2_RPS; dies on a failure.
run_h2load() {
  local out
  out=$(h2load -D "$DURATION" --warm-up-time 500ms -c "$GRPC_C" -m "$GRPC_M" -t 1 -d "$2" \
          -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$1/Request/request" 2>&1) ||
    die "h2load failed: $(tail -3 <<<"$out")"
  grep -q '^requests: .* 0 failed, 0 errored' <<<"$out" || die "h2load: calls failed: $(grep '^requests:' <<<"$out")"
  H2_RPS=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
}

# ServerCheck needs no set-up: h2load can load it, so the same calls by both drivers cross-check ours.
scenario_grpc_check() {
  grpc_answer servercheck ServerCheckRequest "$GRPC_HC" ServerCheckResponse
  "$GBODY" "$TMP/servercheck-req.bin" ServerCheckRequest "$GRPC_HC"
  local i mock=() ref=() ratios=()
  for i in $(seq 1 "$RUNS"); do
    start_grpc_ref "$TMP/servercheck.bin"; run_h2load "$SPORT" "$TMP/servercheck-req.bin"; stop_server "$SPID"; ref+=("$H2_RPS")
    start_mock_grpc; run_h2load "$GPORT" "$TMP/servercheck-req.bin"; stop_server "$SPID"; mock+=("$H2_RPS")
    ratios+=("$(ratio "${mock[-1]}" "${ref[-1]}")")
    log "grpc-check (h2load) run $i/$RUNS: reference $(fmt0 "${ref[-1]}") calls/s, nacos-mock $(fmt0 "${mock[-1]}") calls/s (${ratios[-1]})"
  done
  local q; q=$(median "${ratios[@]}")
  row "gRPC ServerCheck, h2load -c$GRPC_C -m$GRPC_M (cross-check; no set-up)" "$(fmt0 "$(median "${mock[@]}")") calls/s" \
    "$(fmt0 "$(median "${ref[@]}")") calls/s" "$q" "-" -
  grpc_vs_ref "gRPC ServerCheck, grpc_load -c$GRPC_C -m$GRPC_M (cross-check; no set-up)" servercheck "" "" \
    --no-setup --type ServerCheckRequest --json "$GRPC_HC" --expect ServerCheckResponse
}

scenario_grpc_health() {
  grpc_answer health HealthCheckRequest "$GRPC_HC" HealthCheckResponse
  grpc_vs_ref "gRPC HealthCheck (set-up connections, -c$GRPC_C -m$GRPC_M)" health 0.5 "" \
    --type HealthCheckRequest --json "$GRPC_HC" --expect HealthCheckResponse
}

scenario_grpc_query() {
  grpc_answer query ServiceQueryRequest "$GRPC_SQ" QueryServiceResponse "$GRPC_PRELOAD"
  local n; n=$(count '"instanceId"' <"$TMP/query.json")
  [ "$n" = "$LIST_N" ] || die "ServiceQuery sanity check: $n hosts, expected $LIST_N"
  grpc_vs_ref "gRPC ServiceQuery ($LIST_N instances, $(wc -c <"$TMP/query.bin") B answer)" query 0.5 "$GRPC_PRELOAD" \
    --type ServiceQueryRequest --json "$GRPC_SQ" --expect QueryServiceResponse
}

# GRPC_CLIENTS connected, set-up clients, each with one instance and one subscription (all to one
# service, which so has GRPC_CLIENTS subscribers); the server's VmRSS; GRPC_CHANGES changes (a v1
# register into that service) timed to each subscriber's push; GRPC_CLOSES closed connections timed
# to "gone from instance/list" and to the push without them. The push path waits SUBS_COALESCE_MS
# (50 ms, server/subs.h) to coalesce changes: every push figure includes it.
scenario_grpc_clients() {
  local i rss=() idle=() f50=() f99=() fmax=() g99=() c99=() cmin=() cs=() cl=()
  for i in $(seq 1 "$GRPC_CLIENT_RUNS"); do
    start_mock_grpc
    run_gload clients --port "$GPORT" --http-port "$SPORT" -c "$GRPC_CLIENTS" --victims "$GRPC_CLOSES" \
      --changes "$GRPC_CHANGES" --closes "$GRPC_CLOSES" --mock-pid "$SPID"
    stop_server "$SPID"
    [ "$(kv "$GL_LINE" fanout_n)" = $((GRPC_CLIENTS * GRPC_CHANGES)) ] || die "grpc-clients: not every push arrived: $GL_LINE"
    rss+=("$(kv "$GL_LINE" rss_kb)"); idle+=("$(kv "$GL_LINE" rss_idle_kb)")
    f50+=("$(kv "$GL_LINE" fanout_p50_ms)"); f99+=("$(kv "$GL_LINE" fanout_p99_ms)"); fmax+=("$(kv "$GL_LINE" fanout_max_ms)")
    g99+=("$(kv "$GL_LINE" gone_p99_ms)"); c99+=("$(kv "$GL_LINE" closepush_p99_ms)"); cmin+=("$(kv "$GL_LINE" closepush_min_ms)")
    cs+=("$(kv "$GL_LINE" fanout_cpu_server_ms)"); cl+=("$(kv "$GL_LINE" fanout_cpu_load_ms)")
    log "grpc-clients run $i/$GRPC_CLIENT_RUNS: $GRPC_CLIENTS clients set up in $(kv "$GL_LINE" setup_s) s; VmRSS ${rss[-1]} kB (idle ${idle[-1]} kB);" \
      "push p50/p99/max ${f50[-1]}/${f99[-1]}/${fmax[-1]} ms (CPU per change: nacos-mock ${cs[-1]} ms, load generator ${cl[-1]} ms);" \
      "closed connection: gone p99 ${g99[-1]} ms, pushed to the first subscriber ${cmin[-1]} ms, p99 of all ${c99[-1]} ms"
  done
  local w=50 mr f g c cm
  mr=$(awk -v v="$(median "${rss[@]}")" 'BEGIN { printf "%.1f", v / 1024 }')
  f=$(median "${f99[@]}"); g=$(median "${g99[@]}"); c=$(median "${c99[@]}"); cm=$(median "${cmin[@]}")
  minus() { awk -v a="$1" -v b="$w" 'BEGIN { printf "%.2f", a - b }'; }
  row "$GRPC_CLIENTS gRPC clients (1 instance + 1 subscription each): RSS" "$mr MB" \
    "$(awk -v v="$(median "${idle[@]}")" 'BEGIN { printf "%.1f", v / 1024 }') MB idle before" "-" "<= 64 MB" "$(le "$mr" 64)"
  row "push to $GRPC_CLIENTS gRPC subscribers p99 (p50 $(median "${f50[@]}"), max $(median "${fmax[@]}") ms; $GRPC_CHANGES changes x $GRPC_CLIENT_RUNS runs)" \
    "$f ms" "-" "-" "<= 100 ms" "$(le "$f" 100)"
  row "  the same minus the ${w} ms coalescing window" "$(minus "$f") ms" "-" "-" "-" -
  row "  CPU per change: nacos-mock / load generator" "$(median "${cs[@]}") ms" "$(median "${cl[@]}") ms (generator)" "-" "-" -
  row "closed connection -> instance gone from instance/list (p99 of $GRPC_CLOSES x $GRPC_CLIENT_RUNS)" "$g ms" "-" "-" "<= 50 ms" "$(le "$g" 50)"
  row "closed connection -> pushed: first subscriber (minus the ${w} ms window)" "$cm ms ($(minus "$cm") ms)" "-" "-" "-" -
  row "closed connection -> pushed: p99 of the other $((GRPC_CLIENTS - 1)) subscribers (minus the window)" "$c ms ($(minus "$c") ms)" "-" "-" \
    "<= 50 ms, minus the window" "$(le "$(minus "$c")" 50)"
}

# ------------------------------------------------------------------ scaling with cores (--scaling)

NCPU=$(nproc)
# pin_for T: T server threads on cores 0..T-1 and wrk on the others when at least one is left (wrk
# then runs one thread per core it has, up to 8); with no core left both run unpinned, as the other
# scenarios do.
pin_for() {
  local t=$1
  if [ "$t" -lt "$NCPU" ]; then
    PIN_SERVER=(taskset -c "0-$((t - 1))"); PIN_WRK=(taskset -c "$t-$((NCPU - 1))")
    WRK_THREADS=$((NCPU - t)); [ "$WRK_THREADS" -gt 8 ] && WRK_THREADS=8
  else
    PIN_SERVER=(); PIN_WRK=(); WRK_THREADS=${BENCH_WRK_THREADS:-2}
  fi
  CONNECTIONS=${BENCH_CONNECTIONS:-32}
  [ "$CONNECTIONS" -lt $((8 * t)) ] && CONNECTIONS=$((8 * t))
  return 0
}

# The scaling rows: for T = 1 .. nproc server threads (both servers), beat, list and register against
# the reference, alternating pairs as everywhere else.
SCALE_ROWS=()
scenario_scaling() {
  local t name script setup i mock ref ratios
  for t in $(seq 1 "$NCPU"); do
    THREADS=$t
    pin_for "$t"
    for name in beat "list ($LIST_N)" register; do
      case "$name" in
        beat) script=beat.lua; setup=setup_beat ;;
        list*) script=list.lua; setup=setup_list ;;
        register) script=register.lua; setup=setup_register ;;
      esac
      mock=(); ref=(); ratios=()
      for i in $(seq 1 "$RUNS"); do
        start_ref; run_wrk "$SPORT" "$script" "$DURATION"; stop_server "$SPID"; ref+=("$WRK_RPS")
        start_mock; $setup "$SPORT"; run_wrk "$SPORT" "$script" "$DURATION"; stop_server "$SPID"; mock+=("$WRK_RPS")
        ratios+=("$(ratio "${mock[-1]}" "${ref[-1]}")")
        log "scaling $name, $t thread(s) run $i/$RUNS: reference $(fmt0 "${ref[-1]}") req/s, nacos-mock $(fmt0 "${mock[-1]}") req/s (${ratios[-1]})"
      done
      local pin="unpinned"; [ "${#PIN_SERVER[@]}" -gt 0 ] && pin="server on cores 0-$((t - 1)), wrk -t$WRK_THREADS on $t-$((NCPU - 1))"
      SCALE_ROWS+=("$name|$t|$(fmt0 "$(median "${mock[@]}")")|$(fmt0 "$(median "${ref[@]}")")|$(median "${ratios[@]}")|$pin")
    done
  done
  THREADS=${BENCH_THREADS:-2}; PIN_SERVER=(); PIN_WRK=(); WRK_THREADS=${BENCH_WRK_THREADS:-2}
  CONNECTIONS=${BENCH_CONNECTIONS:-32}
}

# metric_sum PORT PREFIX: the sum of the /__mock/metrics series whose line starts with PREFIX.
metric_sum() {
  http_get "$1" /__mock/metrics | awk -v p="$2" 'index($0, p) == 1 { s += $NF } END { printf "%.9f\n", s }'
}
cpu_ns() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"; }

# lock_share NAME SCRIPT SETUP: the lock-stats build under the load of SCRIPT (--threads nproc,
# unpinned): per lock class, the ns it was held per request and the share of the process's CPU time
# (user + system, all threads) spent holding it, medians of RUNS runs.
LOCK_ROWS=()
lock_share() {
  local name=$1 script=$2 setup=$3 i cls
  local -A held per share waits
  for i in $(seq 1 "$RUNS"); do
    MOCK_BIN=$MOCK_LS THREADS=$NCPU start_mock; $setup "$SPORT"
    local req0 cpu0 req1 cpu1 h0 h1 a0 a1 w0 w1
    declare -A H0 A0 W0
    req0=$(metric_sum "$SPORT" 'nacos_mock_requests_total{'); cpu0=$(cpu_ns "$SPID")
    for cls in registry shard list_cache; do
      H0[$cls]=$(metric_sum "$SPORT" "nacos_mock_lock_held_seconds_total{lock=\"$cls\"}")
      A0[$cls]=$(metric_sum "$SPORT" "nacos_mock_lock_acquired_total{lock=\"$cls\"}")
      W0[$cls]=$(metric_sum "$SPORT" "nacos_mock_lock_waited_total{lock=\"$cls\"}")
    done
    run_wrk "$SPORT" "$script" "$DURATION"
    cpu1=$(cpu_ns "$SPID"); req1=$(metric_sum "$SPORT" 'nacos_mock_requests_total{')
    for cls in registry shard list_cache; do
      h1=$(metric_sum "$SPORT" "nacos_mock_lock_held_seconds_total{lock=\"$cls\"}")
      a1=$(metric_sum "$SPORT" "nacos_mock_lock_acquired_total{lock=\"$cls\"}")
      w1=$(metric_sum "$SPORT" "nacos_mock_lock_waited_total{lock=\"$cls\"}")
      held[$cls]+=" $(awk -v a="${H0[$cls]}" -v b="$h1" -v n0="$req0" -v n1="$req1" 'BEGIN { printf "%.0f", (b - a) * 1e9 / (n1 - n0) }')"
      per[$cls]+=" $(awk -v a="${A0[$cls]}" -v b="$a1" -v n0="$req0" -v n1="$req1" 'BEGIN { printf "%.2f", (b - a) / (n1 - n0) }')"
      share[$cls]+=" $(awk -v a="${H0[$cls]}" -v b="$h1" -v c0="$cpu0" -v c1="$cpu1" 'BEGIN { printf "%.2f", 100 * (b - a) * 1e9 / (c1 - c0) }')"
      waits[$cls]+=" $(awk -v a="${W0[$cls]}" -v b="$w1" -v x="${A0[$cls]}" -v y="$a1" 'BEGIN { if (y > x) printf "%.2f", 100 * (b - a) / (y - x); else print 0 }')"
    done
    log "lock share, $name run $i/$RUNS: $(fmt0 "$WRK_RPS") req/s; registry lock $(echo "${share[registry]}" | awk '{print $NF}') % of CPU"
    stop_server "$SPID"
  done
  for cls in registry shard list_cache; do
    # shellcheck disable=SC2086
    LOCK_ROWS+=("$name|$cls|$(median ${held[$cls]}) ns|$(median ${per[$cls]})|$(median ${waits[$cls]}) %|$(median ${share[$cls]}) %")
  done
}
scenario_lock_share() {
  lock_share beat beat.lua setup_beat
  lock_share "list ($LIST_N, cached)" list.lua setup_list
  lock_share register register.lua setup_register
}

print_table() {   # print_table HEADER ROWS...: a '|' separated table, columns padded
  { echo "$1"; echo "$1" | sed 's/[^|]*/---/g'; shift; for r in "$@"; do echo "$r"; done; } | awk -F'|' '
  { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
  END { for (r = 1; r <= n; r++) { line = "|"; for (i = 1; i <= nf; i++) {
          v = c[r, i]; if (r == 2) { v = ""; while (length(v) < w[i]) v = v "-" }
          line = line " " sprintf("%-" w[i] "s", v) " |" } print line } }'
}

# ------------------------------------------------------------------ main

LOAD_NOTE=""
START=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
case "$(cut -d' ' -f1 /proc/loadavg)" in 0.[0-4]*) ;; *) log "warning: load average $LOAD_BEFORE before the bench: other work competes for the CPUs, expect noise" ;; esac
log "mode $MODE: $RUNS run(s) per side, ${DURATION}s each; wrk -t$WRK_THREADS -c$CONNECTIONS (keep-alive);" \
  "server workers $THREADS (both); nacos-mock runs with --quiet"
if [ "$SCALING" = 1 ]; then
  scenario_scaling
  scenario_lock_share
  [ -n "$ONLY" ] || ONLY=none   # --scaling alone runs only that
fi
wants beat && scenario_beat
wants register && scenario_register
wants list && scenario_list
wants faults && scenario_faults
wants journal && scenario_journal
wants events && scenario_events
wants sweep-p99 && scenario_sweep_p99
wants write-p99 && scenario_write_p99
wants sweep && scenario_sweep
wants startup && scenario_startup
wants memory && scenario_memory
wants listeners && scenario_listeners
wants grpc-check && scenario_grpc_check
wants grpc-health && scenario_grpc_health
wants grpc-query && scenario_grpc_query
wants grpc-clients && scenario_grpc_clients

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "nacos-mock bench ($MODE) — $(nproc) CPUs ($cpu), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "wrk -t$WRK_THREADS -c$CONNECTIONS keep-alive on 127.0.0.1; ${DURATION}s per run; median of $RUNS run(s) per side, alternating;"
echo "nacos-mock --quiet --threads $THREADS (per-request log lines off); reference = bench/reference.c, $THREADS threads"
echo "ratios: median of per-pair ratios; load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$MODE" = smoke ] && echo "SMOKE MODE: tiny sizes and 1 s runs; the figures say nothing about performance"
if [ "${#ROWS[@]}" -gt 0 ]; then
  echo
  print_table "scenario|nacos-mock|reference / baseline|ratio|target|result" "${ROWS[@]}"
fi
[ -n "$LOAD_NOTE" ] && { echo; echo "$LOAD_NOTE"; }
if [ "$SCALING" = 1 ]; then
  echo
  echo "scaling with server threads ($NCPU CPUs; $RUNS pairs each; ratio = median of per-pair ratios):"
  print_table "scenario|threads|nacos-mock req/s|reference req/s|ratio|pinning" "${SCALE_ROWS[@]}"
  echo
  echo "locks under load (lock-stats build, --threads $NCPU, unpinned; medians of $RUNS runs): time held per request,"
  echo "acquisitions per request, acquisitions that found the lock held, share of the process's CPU time held"
  print_table "load|lock|held per request|acquired per request|waited|share of CPU" "${LOCK_ROWS[@]}"
fi
echo
echo "$MISSES target(s) missed; $(( $(date +%s) - START )) s"
if [ "$STRICT" = 1 ] && [ "$MODE" = full ] && [ "$MISSES" -gt 0 ]; then exit 1; fi
exit 0
