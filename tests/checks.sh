# shellcheck shell=bash
# checks.sh — TAP-like check helpers for the shell tests (sourced, not run). A test calls ok/not_ok or
# `check DESCRIPTION COMMAND...` (passes when COMMAND succeeds; its output is dropped), then `finish`,
# which prints "NAME: N passed, N failed" and exits non-zero when anything failed.
# The caller sets checks_name before finish (default: the script's name).
passed=0
failed=0
checks_name="${checks_name:-$(basename "$0" .sh)}"
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi; }
finish() {
  echo "$checks_name: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}
fails() { ! "$@"; }   # check "..." fails COMMAND...: passes when COMMAND fails
in_list() { local x="$1"; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
# poll_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or SECONDS pass (1).
poll_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
