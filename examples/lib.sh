# shellcheck shell=bash
# examples/lib.sh — shared by the example scripts in this folder (source it, do not run it).
#
# start_mock [flags...]   starts nacos-mock on 127.0.0.1 with a free port (--port 0), reads the port from
#                         its "nacos-mock listening on http://127.0.0.1:PORT" line and sets NACOS (the base
#                         URL); the server is stopped when the script exits, whatever the reason
# call METHOD PATH [curl args...]
#                         one HTTP request to the mock; prints the curl command and the answer, and leaves
#                         the answer in STATUS (HTTP status) and BODY
# call_json METHOD PATH JSON   the same with a JSON body (the /__mock/ control plane)
# expect_status N, expect_body TEXT, expect_jq FILTER [what]
#                         assertions on the last answer: on failure they print why and exit 1
# step TEXT, note TEXT    readable output
#
# Needs bash, curl and jq (scripts/deps.sh --test installs them). The binary is $NACOS_MOCK_BIN, else
# build/nacos-mock, else build-release/nacos-mock (scripts/build-release.sh builds that one).
set -euo pipefail

EXAMPLES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$EXAMPLES_DIR/.." && pwd)"

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "$0: needs '$tool' (scripts/deps.sh --test installs it)" >&2; exit 2; }
done

mock_bin() {
  local b
  for b in "${NACOS_MOCK_BIN:-}" "$REPO_DIR/build/nacos-mock" "$REPO_DIR/build-release/nacos-mock"; do
    [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
  done
  echo "$0: no nacos-mock binary: set NACOS_MOCK_BIN or run scripts/build-release.sh" >&2
  return 1
}

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; D=$'\e[2m'; N=$'\e[0m'; else B=; G=; R=; D=; N=; fi

step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '   %s\n' "$*"; }

MOCK_PID=""
MOCK_TMP=""
NACOS=""

stop_mock() {
  if [ -n "$MOCK_PID" ] && kill -0 "$MOCK_PID" 2>/dev/null; then
    kill -TERM "$MOCK_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$MOCK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
  fi
  MOCK_PID=""
  [ -n "$MOCK_TMP" ] && rm -rf "$MOCK_TMP"
  MOCK_TMP=""
}

start_mock() {
  local bin line
  bin="$(mock_bin)"
  MOCK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/nacos-mock-example.XXXXXX")"
  trap stop_mock EXIT
  trap 'exit 130' INT TERM
  mkfifo "$MOCK_TMP/stdout"
  # NACOS_MOCK_* variables of the caller would configure this server too: leave them out.
  local clean=() v
  for v in ${!NACOS_MOCK_@}; do clean+=(-u "$v"); done
  env "${clean[@]}" "$bin" --host 127.0.0.1 --port 0 --quiet "$@" >"$MOCK_TMP/stdout" 2>"$MOCK_TMP/stderr" &
  MOCK_PID=$!
  exec {mock_out}<"$MOCK_TMP/stdout"
  line=""
  IFS= read -r -t 10 line <&"$mock_out" || true
  # keep draining stdout in the background so the server never blocks on a full pipe
  cat <&"$mock_out" >/dev/null &
  exec {mock_out}<&-
  if [[ "$line" =~ ^nacos-mock\ listening\ on\ (http://127\.0\.0\.1:([0-9]+))$ ]]; then
    NACOS="${BASH_REMATCH[1]}"
  else
    echo "${R}nacos-mock did not start${N} (first line: '$line'); its log:" >&2
    cat "$MOCK_TMP/stderr" >&2
    exit 1
  fi
  note "${D}started $bin --host 127.0.0.1 --port 0 --quiet${*:+ $*} (pid $MOCK_PID): $NACOS${N}"
}

# call METHOD PATH [curl args...]: for GET/DELETE pass -G so that -d/--data-urlencode go to the query.
call() {
  local method="$1" path="$2"; shift 2
  case "$NACOS" in http://127.0.0.1:*) ;; *) echo "refusing a request to '$NACOS'" >&2; exit 1 ;; esac
  local shown="curl -X $method \"\$NACOS$path\"" a
  for a in "$@"; do
    if [[ "$a" =~ ^[-A-Za-z0-9_./:=@,]+$ ]]; then shown+=" $a"; else shown+=" '$a'"; fi
  done
  printf '   %s$ %s%s\n' "$D" "$shown" "$N"
  STATUS="$(curl -sS -o "$MOCK_TMP/body" -w '%{http_code}' --max-time 10 -X "$method" "$@" "$NACOS$path")"
  BODY="$(cat "$MOCK_TMP/body")"
  local shown_body="$BODY"
  if [ "${VERBOSE:-0}" != 1 ] && [ ${#shown_body} -gt 300 ]; then
    shown_body="${shown_body:0:300}… (${#BODY} bytes; VERBOSE=1 shows all)"
  fi
  printf '   → %s %s\n' "$STATUS" "$shown_body"
}

call_json() { call "$1" "$2" -H 'Content-Type: application/json' -d "$3"; }

fail() {
  printf '%sFAILED%s: %s\n   last answer: %s %s\n' "$R" "$N" "$*" "${STATUS:-}" "${BODY:-}" >&2
  exit 1
}

expect_status() { [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS"; printf '   %s✓ HTTP %s%s\n' "$G" "$1" "$N"; }
expect_body() { [ "$BODY" = "$1" ] || fail "expected body '$1'"; printf '   %s✓ body is "%s"%s\n' "$G" "$1" "$N"; }
# expect_jq FILTER [what]: FILTER must be true on the last (JSON) answer
expect_jq() {
  jq -e "$1" <<<"$BODY" >/dev/null 2>&1 || fail "expected ${2:-$1}  (jq: $1)"
  printf '   %s✓ %s%s\n' "$G" "${2:-$1}" "$N"
}
# show_hosts: one line per instance of the last instance/list answer
show_hosts() {
  jq -r '.hosts[] | "     \(.ip):\(.port)  healthy=\(.healthy)  weight=\(.weight)  metadata=\(.metadata | tojson)"' <<<"$BODY"
  [ "$(jq '.hosts | length' <<<"$BODY")" != 0 ] || note "  (no instances)"
}

done_ok() { printf '\n%s%s: all expectations met%s\n' "$G" "$(basename "$0")" "$N"; }
