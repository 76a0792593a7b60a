#!/usr/bin/env bash
# The one test command: installs what is missing, then runs every test stage and fails if any fails.
#   1. build with warnings as errors; ctest: cmocka unit tests + integration tests against the real server
#   2. interop with real clients (tests/interop): npm `nacos` 1.x, the Rust 2.x gRPC client, scripted Java/Go gRPC
#   3. examples/ and the container recipe check without an engine (tests/test_docker_build.sh)
#   4. the whole ctest suite again built with address + undefined-behaviour sanitizers (leaks fail it)
#   5. the API integration suite with the server under valgrind --leak-check=full
#   6. fuzzing: corpus + regression replay (in ctest), and a short libFuzzer run of every harness
#   7. a smoke run of the benchmarks (bench/run.sh --smoke), so they cannot rot
#   8. the container image built and run for real with podman (tests/test_container_image.sh; installs
#      podman, runc and debootstrap: scripts/deps.sh --container)
#   9. the console (/__mock/ui/) in headless Chromium driven by npm puppeteer-core (tests/ui), with
#      screenshots of its main views in build/screenshots
#  10. the ctest suite (unit + integration, the server included) built with the thread sanitizer: any
#      data race in the server makes its exit status 66 and fails the test that stopped it
#      (readme_run is left out: it builds and times a Release tree of its own)
# NM_TEST_STAGES="1 2" runs only some stages (for quick local loops); CI runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
jobs=$(nproc)
stages=" ${NM_TEST_STAGES:-1 2 3 4 5 6 7 8 9 10} "
passed=0 failed=0 failures=""

run_stage() {   # run_stage N "name" command...
  local n=$1 name=$2; shift 2
  case "$stages" in *" $n "*) ;; *) return 0 ;; esac
  local t0=$SECONDS
  echo "=== stage $n: $name"
  if "$@"; then
    passed=$((passed + 1)); echo "=== stage $n: $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures="$failures $n"; echo "=== stage $n: $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

build() {   # build DIR cmake-args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DNACOS_MOCK_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j"$jobs" >/dev/null
}

stage_unit() { build build && (cd build && ctest --output-on-failure -j"$jobs"); }
stage_interop() { build build && tests/interop/run.sh build/nacos-mock; }
stage_examples() { build build && examples/run-all.sh build/nacos-mock && tests/test_docker_build.sh; }
stage_sanitize() {
  build build-asan -DNACOS_MOCK_SANITIZE=ON &&
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -j"$jobs")
}
stage_valgrind() {
  command -v valgrind >/dev/null || { echo "valgrind is not installed"; return 1; }
  build build &&
    (cd build && NM_SERVER_WRAPPER="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99" \
       ctest --output-on-failure -R 'test_api$')
}
stage_fuzz() { tests/fuzz/run.sh "${NM_FUZZ_SECONDS:-5}"; }
stage_bench() { bench/run.sh --smoke; }
stage_container() { scripts/deps.sh --container && tests/test_container_image.sh; }
stage_console() { build build && tests/ui/run.sh build/nacos-mock; }
stage_tsan() {
  build build-tsan -DNACOS_MOCK_TSAN=ON &&
    (cd build-tsan && TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$PWD/../tests/tsan.supp" \
       ctest --output-on-failure -j"$jobs" -E '^readme_run$')
}

run_stage 1 "unit + integration (ctest)" stage_unit
run_stage 2 "interop: real clients (npm nacos, Rust gRPC, scripted Java/Go gRPC)" stage_interop
run_stage 3 "examples + container build script" stage_examples
run_stage 4 "sanitizers (ASan + UBSan, ctest)" stage_sanitize
run_stage 5 "valgrind (server under the API suite)" stage_valgrind
run_stage 6 "fuzzing (short run)" stage_fuzz
run_stage 7 "benchmark smoke" stage_bench
run_stage 8 "container image (podman)" stage_container
run_stage 9 "console (headless Chromium)" stage_console
run_stage 10 "thread sanitizer (ctest)" stage_tsan

echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "failed stages:$failures"; exit 1; }
