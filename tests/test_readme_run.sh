#!/usr/bin/env bash
# The README's run command, exactly as shown ("scripts/run.sh --port 0"): it installs nothing when the
# Debian packages are there (scripts/deps.sh), builds a Release binary in build-release/ and execs it.
# Checks: the one stdout line `nacos-mock listening on http://127.0.0.1:PORT`, that the process behind
# it IS build-release/nacos-mock (run.sh exec'd it), liveness and a register/list round trip, the
# console's page (/__mock/ui/), and that SIGTERM stops it with exit 0 and a final `stopping` log line.
# Only loopback traffic.
#
# Usage: tests/test_readme_run.sh REPO_DIR     (ctest: readme_run). The whole run is bounded by
# `timeout` (NM_README_RUN_TIMEOUT seconds, default 900: a cold Release build on a small machine).
set -euo pipefail

if [ -z "${NM_README_RUN_INNER:-}" ]; then
  exec timeout -k 10 "${NM_README_RUN_TIMEOUT:-900}" env NM_README_RUN_INNER=1 "$0" "$@"
fi

repo="$(cd "${1:?usage: test_readme_run.sh REPO_DIR}" && pwd -P)"
work="$(mktemp -d /tmp/nm-readme-run-XXXXXX)"
pid=""
cleanup() {   # the server, or run.sh and its build, whatever is left of the group we started
  if [ -n "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT   # timeout's TERM: still clean up

fail() {
  echo "not ok - $*"
  echo "--- stdout:"; cat "$work/out" 2>/dev/null || true
  echo "--- stderr (tail):"; tail -n 40 "$work/err" 2>/dev/null || true
  exit 1
}
ok() { echo "ok - $*"; }

# Loopback only, never through a proxy from the environment.
c() { curl --noproxy '*' -sS --max-time 10 "$@"; }

cd "$repo"
# Exactly the README's command, from the repository root, as its own process group (set -m).
set -m
scripts/run.sh --port 0 >"$work/out" 2>"$work/err" &
pid=$!
set +m

while :; do   # until the first stdout line is complete
  if [ -s "$work/out" ] && [ -z "$(tail -c1 "$work/out")" ]; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    rc=0; wait "$pid" || rc=$?; pid=""
    fail "scripts/run.sh exited ($rc) before listening"
  fi
  sleep 0.1
done
line="$(head -n1 "$work/out")"
[[ "$line" =~ ^nacos-mock\ listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]] || fail "first stdout line: '$line'"
port="${BASH_REMATCH[1]}"
[ "$port" -gt 0 ] && [ "$port" -le 65535 ] || fail "port $port"
ok "listening line: $line"

# run.sh exec'd the Release binary it built: the pid we started is that binary now
exe="$(readlink "/proc/$pid/exe" || true)"
[ "$exe" = "$repo/build-release/nacos-mock" ] || fail "process $pid runs '$exe', expected $repo/build-release/nacos-mock"
ok "scripts/run.sh exec'd $exe"

M="http://127.0.0.1:$port"
body="$(c "$M/nacos/v1/console/health/liveness")" || fail "liveness: curl failed"
[ "$body" = "OK" ] || fail "liveness answered '$body'"
ok "liveness: OK"

body="$(c -X POST "$M/nacos/v1/ns/instance?serviceName=readme-demo&ip=127.0.0.1&port=8080")" || fail "register: curl failed"
[ "$body" = "ok" ] || fail "register answered '$body'"
body="$(c "$M/nacos/v1/ns/instance/list?serviceName=readme-demo")" || fail "list: curl failed"
case "$body" in *'"ip":"127.0.0.1","port":8080'*) ;; *) fail "list lacks the registered instance: $body" ;; esac
ok "register + list"

# the console the README sends a newcomer to, with what it needs
ct="$(c -o /dev/null -w '%{http_code} %{content_type}' "$M/__mock/ui/")" || fail "console: curl failed"
[[ "$ct" == "200 text/html"* ]] || fail "GET /__mock/ui/ answered '$ct'"
for f in app.js app.css; do
  code="$(c -o /dev/null -w '%{http_code}' "$M/__mock/ui/$f")" || fail "console $f: curl failed"
  [ "$code" = 200 ] || fail "GET /__mock/ui/$f answered $code"
done
ok "console: /__mock/ui/ and its assets"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || fail "exit status after SIGTERM: $rc"
[ "$(wc -l <"$work/out")" = 1 ] || fail "stdout has more than the listening line"
tail -n1 "$work/err" | grep -q ' info stopping$' || fail "stderr does not end with the 'stopping' line"
ok "SIGTERM: exit 0"
