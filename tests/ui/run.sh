#!/usr/bin/env bash
# Console suite: the page at /__mock/ui/ in Debian's headless Chromium, driven by npm puppeteer-core
# (pinned in package-lock.json), against a nacos-mock binary.
# Usage: tests/ui/run.sh path/to/nacos-mock
# Installs puppeteer-core into tests/ui/node_modules when missing or stale (it never downloads a
# browser: it drives /usr/bin/chromium, or $CHROMIUM), then runs tests/ui/*.test.js with Node's test
# runner. Screenshots of the main views go to $NM_UI_SCREENSHOTS (default build/screenshots);
# NM_UI_SCREENSHOTS=docs/screenshots refreshes the README's.
set -euo pipefail

usage() { echo "usage: $0 path/to/nacos-mock" >&2; exit 2; }
[ $# -eq 1 ] || usage

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$1"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "$0: not an executable file: $1" >&2; exit 2; }
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "$0: no Chromium at $chromium (scripts/deps.sh --test installs Debian's chromium)" >&2; exit 2; }
command -v node >/dev/null || { echo "$0: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "$0: npm is not installed" >&2; exit 2; }
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || { echo "$0: Node.js >= 18 is required (found $(node --version))" >&2; exit 2; }

# node_modules is stale when package.json / package-lock.json / the Node major changed since the last install
stamp="$here/node_modules/.nacos-mock-ui.stamp"
want_stamp() { { echo "node $node_major"; cat "$here/package.json" "$here/package-lock.json"; } | sha256sum | cut -d' ' -f1; }
if [ ! -d "$here/node_modules" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(want_stamp)" ]; then
    echo "ui: installing puppeteer-core into $here/node_modules" >&2
    (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
    want_stamp >"$stamp"
fi

shots="${NM_UI_SCREENSHOTS:-$root/build/screenshots}"
case "$shots" in /*) ;; *) shots="$PWD/$shots" ;; esac
mkdir -p "$shots"
export NACOS_MOCK_BIN="$bin" CHROMIUM="$chromium" NM_UI_SCREENSHOTS="$shots"
cd "$here"
guard=()
command -v timeout >/dev/null && guard=(timeout --kill-after=5 120)
${guard[@]+"${guard[@]}"} node --test "$here"/*.test.js
