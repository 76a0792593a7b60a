#!/usr/bin/env bash
# Installs what is missing, builds a Release nacos-mock and runs it (default 127.0.0.1:8848).
# Extra arguments go to nacos-mock, e.g. scripts/run.sh --port 0 --beat-interval-ms 200
# The build is scripts/build-release.sh, the same one the container image uses.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(scripts/build-release.sh | tail -n1)"
exec "$bin" "$@"
