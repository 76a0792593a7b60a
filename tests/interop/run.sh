#!/usr/bin/env bash
# Interop suite: real clients against a nacos-mock binary — the npm `nacos` client (nacos-naming and
# nacos-config, 1.x HTTP), the Rust 2.x gRPC client (nacos-sdk-rust-binding-node) and scripted Java/Go
# 2.x gRPC clients (@grpc/grpc-js, grpc-client.js).
# Usage: tests/interop/run.sh path/to/nacos-mock
# Installs the pinned packages (package-lock.json, `npm ci`) into tests/interop/node_modules when missing
# or stale, then runs every tests/interop/*.test.js with Node's built-in test runner, one file at a time.
# Exit status is non-zero if anything fails.
# NACOS_INTEROP_VERBOSE=1 prints the clients' own log lines.
set -euo pipefail

usage() { echo "usage: $0 path/to/nacos-mock" >&2; exit 2; }
[ $# -eq 1 ] || usage

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$1"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
    echo "$0: not an executable file: $1" >&2
    exit 2
fi

command -v node >/dev/null || { echo "$0: node is not installed" >&2; exit 2; }
command -v npm >/dev/null || { echo "$0: npm is not installed" >&2; exit 2; }
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
    echo "$0: Node.js >= 18 is required (found $(node --version))" >&2
    exit 2
fi

# node_modules is stale when package.json / package-lock.json / the Node major changed since the last install
stamp="$here/node_modules/.nacos-mock-interop.stamp"
want_stamp() {
    {
        echo "node $node_major"
        cat "$here/package.json"
        [ -f "$here/package-lock.json" ] && cat "$here/package-lock.json"
    } | sha256sum | cut -d' ' -f1
}
if [ ! -d "$here/node_modules" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(want_stamp)" ]; then
    echo "interop: installing the npm client into $here/node_modules" >&2
    if [ -f "$here/package-lock.json" ]; then
        (cd "$here" && npm ci --no-audit --no-fund)
    else
        (cd "$here" && npm install --no-audit --no-fund)
    fi
    want_stamp >"$stamp"
fi

shopt -s nullglob
tests=("$here"/*.test.js)
[ ${#tests[@]} -gt 0 ] || { echo "$0: no *.test.js in $here" >&2; exit 2; }

export NACOS_MOCK_BIN="$bin"
cd "$here"
# a guard on top of the per-test timeouts: the whole suite (about 100 s on 2 cores: naming, gRPC and
# config files one after the other) must finish within 240 s
guard=()
command -v timeout >/dev/null && guard=(timeout --kill-after=5 240)
${guard[@]+"${guard[@]}"} node --test "${tests[@]}"
