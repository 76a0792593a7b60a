#!/usr/bin/env bash
# Installs what is missing, builds a Release nacos-mock and runs it (default 127.0.0.1:8848).
# Extra arguments go to nacos-mock, e.g. scripts/run.sh --port 0 --beat-interval-ms 200
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DNACOS_MOCK_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
exec build-release/nacos-mock "$@"
