#!/usr/bin/env bash
# Installs what is missing (scripts/deps.sh) and builds a Release nacos-mock: no tests, no benchmarks.
# The one build recipe shared by scripts/run.sh, docker/Dockerfile and the CI recipes in docs/ci-recipes.md.
#
# Usage: scripts/build-release.sh [--build-dir DIR] [--prefix DIR] [--no-deps]
#   --build-dir DIR  CMake build tree (default: $NACOS_MOCK_BUILD_DIR or build-release, relative to the repo)
#   --prefix DIR     also install a stripped binary as DIR/bin/nacos-mock (what the container image ships)
#   --no-deps        do not run scripts/deps.sh (the build packages are known to be there)
# Prints the path of the resulting binary as the last line on standard output; the build's own output
# goes to standard error when VERBOSE=1, else only warnings and errors are shown.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${NACOS_MOCK_BUILD_DIR:-build-release}"
prefix=""
deps=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="${2:?--build-dir needs a value}"; shift 2 ;;
    --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
    --no-deps) deps=0; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-release.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$build_dir" in /*) ;; *) build_dir="$repo/$build_dir" ;; esac

[ "$deps" = 1 ] && "$repo/scripts/deps.sh"

out=/dev/null
[ "${VERBOSE:-0}" = 1 ] && out=/dev/stderr
# --no-warn-unused-cli: trees from before the NACOS_MOCK_BENCH option would warn about it.
cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DNACOS_MOCK_TESTS=OFF -DNACOS_MOCK_BENCH=OFF \
  --no-warn-unused-cli >"$out"
cmake --build "$build_dir" --target nacos-mock -j"$(nproc)" >"$out"

bin="$build_dir/nacos-mock"
if [ -n "$prefix" ]; then
  cmake --install "$build_dir" --prefix "$prefix" --strip >"$out"
  bin="$prefix/bin/nacos-mock"
fi
[ -x "$bin" ] || { echo "build-release.sh: $bin was not built" >&2; exit 1; }
echo "$bin"
