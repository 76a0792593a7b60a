#!/usr/bin/env bash
# test_docker_build.sh — checks docker/Dockerfile as far as possible without a Docker engine.
#
# 1. The Dockerfile's shape: two debian:12-slim stages, the build stage runs scripts/deps.sh and
#    scripts/build-release.sh --prefix /out, the runtime stage copies /out/bin/nacos-mock, runs as a
#    non-root user, sets NACOS_MOCK_HOST=0.0.0.0, exposes 8848, has the health check and the entrypoint;
#    every COPY source exists and is not excluded by .dockerignore.
# 2. The build stage's script, run here: scripts/build-release.sh builds a stripped binary into a temp dir.
# 3. That binary works configured only by environment variables (as in the image), also as an unprivileged
#    user, and docker/healthcheck.sh (the image's HEALTHCHECK) says healthy / unhealthy correctly.
# 4. Every shared library the binary loads (ldd) belongs (dpkg -S) to a package of the runtime stage or of
#    debian:12-slim itself; every runtime package is needed; their dependencies are in the base or the list.
# 5. Prints an estimate of the image size (see docker/README.md).
# Only 127.0.0.1 is contacted; the server it starts uses a free port and is stopped at exit.
# Usage: tests/test_docker_build.sh      Last line: "test_docker_build: N passed, N failed".
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dockerfile="$repo/docker/Dockerfile"

# Binary packages of debian:bookworm-slim (amd64) as listed by docker-library/repo-info,
# repos/debian/local/bookworm-slim.md (image of 2026-09-18, "Virtual Size: ~ 74.83 Mb").
BASE_PACKAGES=(adduser apt base-files base-passwd bash bsdutils coreutils dash debconf debian-archive-keyring
  debianutils diffutils dpkg e2fsprogs findutils gcc-12-base gpgv grep gzip hostname init-system-helpers
  libacl1 libapt-pkg6.0 libattr1 libaudit-common libaudit1 libblkid1 libbz2-1.0 libc-bin libc6 libcap-ng0
  libcap2 libcom-err2 libcrypt1 libdb5.3 libdebconfclient0 libext2fs2 libffi8 libgcc-s1 libgcrypt20 libgmp10
  libgnutls30 libgpg-error0 libhogweed6 libidn2-0 liblz4-1 liblzma5 libmd0 libmount1 libnettle8 libp11-kit0
  libpam-modules libpam-modules-bin libpam-runtime libpam0g libpcre2-8-0 libseccomp2 libselinux1
  libsemanage-common libsemanage2 libsepol2 libsmartcols1 libss2 libstdc++6 libsystemd0 libtasn1-6 libtinfo6
  libudev1 libunistring2 libuuid1 libxxhash0 libzstd1 login logsave mawk mount ncurses-base ncurses-bin
  passwd perl-base sed sysvinit-utils tar tzdata usr-is-merged util-linux util-linux-extra zlib1g)
BASE_IMAGE_MB=74.83

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi; }
finish() {
  echo "test_docker_build: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}
in_list() { local x="$1"; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/test_docker_build.XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. the Dockerfile's shape
echo "# 1. docker/Dockerfile"
[ -f "$dockerfile" ] || { not_ok "docker/Dockerfile exists"; finish; }
# logical lines: comments dropped, "\" continuations joined
logical="$(sed -e '/^[[:space:]]*#/d' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | tr -s ' \t' '  ')"
froms="$(grep -E '^FROM ' <<<"$logical")"
check "two stages, both FROM debian:12-slim" test "$(grep -c '^FROM debian:12-slim' <<<"$froms")" = 2 -a "$(wc -l <<<"$froms")" = 2
build_stage="$(awk '/^FROM /{n++} n==1' <<<"$logical")"
runtime_stage="$(awk '/^FROM /{n++} n==2' <<<"$logical")"
check "the build stage is named 'build'" grep -qE '^FROM debian:12-slim AS build$' <<<"$froms"
check "the build stage runs scripts/deps.sh" grep -qE '^RUN scripts/deps\.sh$' <<<"$build_stage"
check "the build stage runs scripts/build-release.sh --prefix /out" \
  grep -qE '^RUN scripts/build-release\.sh --prefix /out$' <<<"$build_stage"
check "the runtime stage copies /out/bin/nacos-mock from the build stage" \
  grep -qE '^COPY --from=build /out/bin/nacos-mock /usr/local/bin/nacos-mock$' <<<"$runtime_stage"
user="$(grep -E '^USER ' <<<"$runtime_stage" | tail -n1 | awk '{print $2}')"
check "the runtime stage runs as a non-root user (USER $user)" \
  bash -c '[ -n "$1" ] && [ "${1%%:*}" != root ] && [ "${1%%:*}" != 0 ]' _ "$user"
check "ENV NACOS_MOCK_HOST=0.0.0.0" grep -qE '^ENV .*NACOS_MOCK_HOST=0\.0\.0\.0' <<<"$runtime_stage"
check "EXPOSE 8848" grep -qE '^EXPOSE 8848(/tcp)?$' <<<"$runtime_stage"
check "HEALTHCHECK runs nacos-mock-healthcheck" grep -qE '^HEALTHCHECK .*CMD \["nacos-mock-healthcheck"\]$' <<<"$runtime_stage"
check "the health check script is docker/healthcheck.sh" \
  grep -qE '^COPY docker/healthcheck\.sh /usr/local/bin/nacos-mock-healthcheck$' <<<"$runtime_stage"
check "docker/healthcheck.sh is executable (COPY keeps the mode)" test -x "$repo/docker/healthcheck.sh"
check 'ENTRYPOINT ["nacos-mock"]' grep -qE '^ENTRYPOINT \["nacos-mock"\]$' <<<"$runtime_stage"
runtime_packages=()
read -r -a runtime_packages <<<"$(sed -nE 's/^ARG RUNTIME_PACKAGES="([^"]*)"$/\1/p' <<<"$runtime_stage")"
check "the runtime packages are listed in ARG RUNTIME_PACKAGES (${runtime_packages[*]:-none})" test ${#runtime_packages[@]} -gt 0
check "the runtime stage installs exactly \${RUNTIME_PACKAGES}, without recommends, and drops the apt lists" \
  grep -qE 'apt-get install -y --no-install-recommends \$\{RUNTIME_PACKAGES\} && rm -rf /var/lib/apt/lists/\*' <<<"$runtime_stage"
check "the runtime stage installs no compiler or -dev package" \
  bash -c '! grep -qE "(build-essential|cmake|gcc|-dev\b)" <<<"$1"' _ "$runtime_stage"

# COPY sources exist in the repository and survive .dockerignore (simple patterns: exact names, dir/ and *)
ignored() {
  local p="$1" pat neg hit=1 anywhere q
  while IFS= read -r pat; do
    pat="${pat%%#*}"; pat="${pat%"${pat##*[![:space:]]}"}"
    [ -z "$pat" ] && continue
    neg=0; [ "${pat#!}" != "$pat" ] && { neg=1; pat="${pat#!}"; }
    pat="${pat#/}"
    anywhere=0; [ "${pat#\*\*/}" != "$pat" ] && { anywhere=1; pat="${pat#\*\*/}"; }
    # a pattern matches the path itself or one of its parent directories (**/x: at any depth)
    q="$p"
    while :; do
      # shellcheck disable=SC2053
      if [[ "$q" == $pat ]] || { [ "$anywhere" = 1 ] && [[ "${q##*/}" == $pat ]]; }; then
        if [ "$neg" = 1 ]; then hit=1; else hit=0; fi
        break
      fi
      [ "$q" = "${q%/*}" ] && break
      q="${q%/*}"
    done
  done <"$repo/.dockerignore"
  return $hit
}
while read -r src; do
  [ -z "$src" ] && continue
  src="${src%/}"
  if [ "$src" = . ]; then
    for need in CMakeLists.txt cmake server server/ui include scripts/deps.sh scripts/build-release.sh; do
      check "COPY . . carries $need (exists, not in .dockerignore)" bash -c '[ -e "$1/$2" ]' _ "$repo" "$need"
      if ignored "$need"; then not_ok ".dockerignore excludes $need"; fi
    done
  else
    check "COPY source $src exists" test -e "$repo/$src"
    if ignored "$src"; then not_ok ".dockerignore excludes COPY source $src"; fi
  fi
done < <(grep -E '^COPY ' <<<"$logical" | grep -v -- '--from=' | awk '{ for (i = 2; i < NF; i++) print $i }')
for host_tree in build build-release build-asan tests/interop/node_modules tests/ui/node_modules; do
  if ignored "$host_tree"; then ok ".dockerignore keeps the host build tree $host_tree/ out"; else not_ok ".dockerignore keeps $host_tree/ out"; fi
done

# ---------------------------------------------------------------- 2. the build stage's script
echo "# 2. scripts/build-release.sh (the build stage's RUN), into a temp dir"
bin=""
if out="$("$repo/scripts/build-release.sh" --build-dir "$work/build" --prefix "$work/out" 2>"$work/build.log")"; then
  bin="$(tail -n1 <<<"$out")"
fi
if [ "$bin" = "$work/out/bin/nacos-mock" ] && [ -x "$bin" ]; then
  ok "scripts/build-release.sh --prefix DIR built DIR/bin/nacos-mock"
else
  not_ok "scripts/build-release.sh --prefix DIR built DIR/bin/nacos-mock (got '$bin')"
  sed 's/^/     /' "$work/build.log"
  finish
fi
check "the binary is stripped" bash -c '! file "$1" 2>/dev/null | grep -q "not stripped" && ! nm "$1" 2>/dev/null | grep -q .' _ "$bin"
check "the binary prints its version" bash -c '"$1" --version | grep -qE "^nacos-mock [0-9]+\.[0-9]+\.[0-9]+"' _ "$bin"

# ---------------------------------------------------------------- 3. run it as the image does
echo "# 3. the binary configured by environment only, and the health check"
hc="$repo/docker/healthcheck.sh"
chmod 0755 "$work" "$work/out" "$work/out/bin"
mkdir -m 0777 "$work/run"
runner=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  runner=(setpriv --reuid 10001 --regid 10001 --clear-groups)   # the image's USER 10001:10001
fi
# NACOS_MOCK_HOST is 127.0.0.1 here (0.0.0.0 in the image): this test stays on loopback.
(cd "$work/run" && exec env -i PATH=/usr/bin:/bin NACOS_MOCK_HOST=127.0.0.1 NACOS_MOCK_PORT=0 \
  NACOS_MOCK_READY_FILE="$work/run/ready" NACOS_MOCK_QUIET=1 "${runner[@]}" "$bin" \
  >"$work/run/stdout" 2>"$work/run/stderr") &
pid=$!
for _ in $(seq 100); do [ -s "$work/run/ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
url="$(head -n1 "$work/run/ready" 2>/dev/null)"
port="${url##*:}"
if [[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
  ok "started with NACOS_MOCK_* variables only${runner:+, as uid 10001}: $url"
else
  not_ok "start with NACOS_MOCK_* variables only (ready file: '$url')"
  sed 's/^/     /' "$work/run/stderr"
  finish
fi
check "it printed 'nacos-mock listening on $url'" grep -qx "nacos-mock listening on $url" "$work/run/stdout"
check "healthcheck: healthy while UP (exit 0)" env NACOS_MOCK_PORT="$port" "$hc"
curl -sS --max-time 5 -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"status":"DOWN"}' "$url/__mock/status"
check "healthcheck: unhealthy while DOWN (readiness 500)" bash -c '! NACOS_MOCK_PORT="$1" "$2"' _ "$port" "$hc"
curl -sS --max-time 5 -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"status":"UP"}' "$url/__mock/status"
check "healthcheck: healthy again once UP" env NACOS_MOCK_PORT="$port" "$hc"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
check "SIGTERM stops it with status 0" test "$rc" = 0
check "healthcheck: unhealthy when nothing listens" bash -c '! NACOS_MOCK_PORT="$1" "$2"' _ "$port" "$hc"
check "healthcheck: refuses NACOS_MOCK_PORT=0" bash -c '! NACOS_MOCK_PORT=0 "$1"' _ "$hc"

# ---------------------------------------------------------------- 4. shared libraries -> packages
echo "# 4. every shared library comes from the runtime packages or the base image"
pkg_of() {   # the Debian package that ships a file (tries the path as given, resolved, and /usr-merged)
  local f="$1" c r
  r="$(readlink -f "$f")"
  for c in "$f" "$r" "/usr${f}" "${f#/usr}" "/usr${r}" "${r#/usr}"; do
    [ -n "$c" ] || continue
    dpkg -S "$c" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  done
  return 1
}
needed=()
while read -r lib path; do
  pkg="$(pkg_of "$path")" || { not_ok "$lib ($path) belongs to no Debian package"; continue; }
  if in_list "$pkg" "${runtime_packages[@]}"; then
    ok "$lib <- $pkg (runtime stage)"
  elif in_list "$pkg" "${BASE_PACKAGES[@]}"; then
    ok "$lib <- $pkg (already in debian:12-slim)"
  else
    not_ok "$lib <- $pkg: neither in RUNTIME_PACKAGES nor in debian:12-slim"
  fi
  in_list "$pkg" "${needed[@]}" || needed+=("$pkg")
done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 } $1 ~ /^\// { print $1, $1 }')
check "ldd found the libraries (${#needed[@]} packages)" test ${#needed[@]} -gt 3
for p in "${runtime_packages[@]}"; do
  check "runtime package $p is needed by the binary" in_list "$p" "${needed[@]}"
  check "runtime package $p exists in Debian 12 under that name" dpkg-query -W "$p"
  # its dependencies (first alternative, arch qualifier dropped) must not pull anything new into the image
  deps="$(dpkg-query -W -f='${Depends},${Pre-Depends}' "$p" 2>/dev/null | tr ',' '\n' |
    sed -E 's/\|.*//; s/\(.*\)//; s/:[a-z0-9]+//; s/[[:space:]]//g' | sed '/^$/d' | sort -u)"
  for d in $deps; do
    if in_list "$d" "${runtime_packages[@]}" || in_list "$d" "${BASE_PACKAGES[@]}"; then
      ok "  $p depends on $d: present"
    else
      not_ok "  $p depends on $d, which apt would add (not in the base image, not listed)"
    fi
  done
done

# ---------------------------------------------------------------- 5. size estimate
echo "# 5. image size estimate"
added_kib=0
for p in "${runtime_packages[@]}"; do
  in_list "$p" "${BASE_PACKAGES[@]}" && continue
  s="$(dpkg-query -W -f='${Installed-Size}' "$p" 2>/dev/null || echo 0)"
  echo "     $p: ${s} KiB installed"
  added_kib=$((added_kib + s))
done
bin_kib=$(( ($(stat -c %s "$bin") + 1023) / 1024 ))
fix_kib=$(du -sk "$repo/fixtures" | cut -f1)
hc_kib=$(( ($(stat -c %s "$hc") + 1023) / 1024 ))
echo "     nacos-mock (stripped): ${bin_kib} KiB, healthcheck: ${hc_kib} KiB, fixtures: ${fix_kib} KiB"
awk -v base="$BASE_IMAGE_MB" -v k=$((added_kib + bin_kib + fix_kib + hc_kib)) \
  'BEGIN { printf "     estimate: %.2f MB (debian:12-slim) + %.2f MB = %.1f MB uncompressed\n", base, k * 1024 / 1e6, base + k * 1024 / 1e6 }'

finish
