#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and runs every test: cmocka unit and
# integration tests against the real server (ctest), then the interop tests with real Nacos clients.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DNACOS_MOCK_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j"$(nproc)")
tests/interop/run.sh build/nacos-mock
