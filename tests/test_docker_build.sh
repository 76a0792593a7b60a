#!/usr/bin/env bash
# test_docker_build.sh — the container image's recipe, checked without a container engine (stage 3 of
# scripts/test.sh; stage 8, tests/test_container_image.sh, builds and runs the image for real).
#
# 1. docker/Dockerfile's shape: a debian:12-slim build stage that runs scripts/deps.sh,
#    scripts/build-release.sh --prefix /out and docker/rootfs.sh; a FROM scratch runtime stage that is
#    that tree and nothing else (no RUN: there is no shell); USER names a uid:gid that docker/passwd and
#    docker/group define; host 0.0.0.0, ports 8848 and 9848, HEALTHCHECK `nacos-mock --probe` in exec
#    form; every COPY source exists and survives .dockerignore. docker/compose.yaml uses the same probe
#    and maps both ports.
# 2. The build stage's build script, run here: a stripped binary in a temp dir.
# 3. docker/rootfs.sh on that binary: the tree holds exactly the binary, the libraries the loader
#    resolves for it, passwd/group, the fixtures, the data directory and /tmp. As root, the binary then
#    runs inside that tree (chroot) as uid/gid 10001, configured by NACOS_MOCK_* only, writes its
#    database in the data directory, and `nacos-mock --probe` says healthy / unhealthy correctly.
# Only 127.0.0.1 is contacted; the server it starts uses a free port and is stopped at exit.
# Usage: tests/test_docker_build.sh      Last line: "test_docker_build: N passed, N failed".
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dockerfile="$repo/docker/Dockerfile"
# shellcheck source=tests/checks.sh
. "$repo/tests/checks.sh"
# shellcheck source=tests/rootfs_checks.sh
. "$repo/tests/rootfs_checks.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/test_docker_build.XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    poll_until 5 bash -c '! kill -0 "$1"' _ "$pid"
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
check "two stages: FROM debian:12-slim AS build, then FROM scratch" \
  test "$froms" = "FROM debian:12-slim AS build"$'\n'"FROM scratch"
build_stage="$(awk '/^FROM /{n++} n==1' <<<"$logical")"
runtime_stage="$(awk '/^FROM /{n++} n==2' <<<"$logical")"
check "the build stage runs scripts/deps.sh" grep -qE '^RUN scripts/deps\.sh$' <<<"$build_stage"
check "the build stage runs scripts/build-release.sh --prefix /out" \
  grep -qE '^RUN scripts/build-release\.sh --prefix /out$' <<<"$build_stage"
check "the build stage runs docker/rootfs.sh /out/bin/nacos-mock /rootfs" \
  grep -qE '^RUN docker/rootfs\.sh /out/bin/nacos-mock /rootfs$' <<<"$build_stage"
check "the runtime stage's only file instruction is COPY --from=build /rootfs/ /" \
  test "$(grep -E '^(COPY|ADD) ' <<<"$runtime_stage")" = "COPY --from=build /rootfs/ /"
check "the runtime stage has no RUN (it has no shell)" bash -c '! grep -qE "^RUN " <<<"$1"' _ "$runtime_stage"

user="$(grep -E '^USER ' <<<"$runtime_stage" | tail -n1 | awk '{print $2}')"
uid="${user%%:*}" gid="${user#*:}"
check "USER is a numeric non-root uid:gid ($user)" \
  bash -c '[[ "$1" =~ ^[0-9]+:[0-9]+$ ]] && [ "${1%%:*}" != 0 ]' _ "$user"
# the image's /etc/passwd and /etc/group are these two files (docker/rootfs.sh)
check "docker/passwd defines uid $uid with primary gid $gid" \
  awk -F: -v u="$uid" -v g="$gid" '$3 == u && $4 == g { found = 1 } END { exit !found }' "$repo/docker/passwd"
check "docker/group defines gid $gid" awk -F: -v g="$gid" '$3 == g { found = 1 } END { exit !found }' "$repo/docker/group"
check "WORKDIR /var/lib/nacos-mock (the data directory)" grep -qxE 'WORKDIR /var/lib/nacos-mock' <<<"$runtime_stage"
check "ENV NACOS_MOCK_HOST=0.0.0.0" grep -qE '^ENV .*NACOS_MOCK_HOST=0\.0\.0\.0' <<<"$runtime_stage"
check "ENV PATH=/usr/local/bin (a scratch image has no default)" grep -qE '^ENV .*PATH=/usr/local/bin( |$)' <<<"$runtime_stage"
check "EXPOSE 8848 (HTTP) and 9848 (gRPC, HTTP port + 1000)" grep -qE '^EXPOSE 8848(/tcp)? 9848(/tcp)?$' <<<"$runtime_stage"
check 'HEALTHCHECK CMD ["nacos-mock", "--probe"] (exec form: no shell)' \
  grep -qE '^HEALTHCHECK .*CMD \["nacos-mock", ?"--probe"\]$' <<<"$runtime_stage"
check 'ENTRYPOINT ["nacos-mock"]' grep -qE '^ENTRYPOINT \["nacos-mock"\]$' <<<"$runtime_stage"

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
    for need in CMakeLists.txt cmake server server/ui include scripts/deps.sh scripts/build-release.sh docker/rootfs.sh \
      docker/passwd docker/group fixtures/registry.json; do
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
check "docker/rootfs.sh is executable (COPY keeps the mode)" test -x "$repo/docker/rootfs.sh"

compose="$repo/docker/compose.yaml"
check "compose.yaml: the health check is the image's probe, exec form" \
  grep -qE '^\s*test: \["CMD", "nacos-mock", "--probe"\]' "$compose"
check "compose.yaml: publishes 8848 and 9848" \
  bash -c 'grep -qE "^\s*- \"127\.0\.0\.1:8848:8848\"" "$1" && grep -qE "^\s*- \"127\.0\.0\.1:9848:9848\"" "$1"' _ "$compose"

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

# ---------------------------------------------------------------- 3. the runtime tree
echo "# 3. docker/rootfs.sh: the runtime image's files"
root="$work/rootfs"
if "$repo/docker/rootfs.sh" "$bin" "$root" >"$work/rootfs.log" 2>&1; then
  ok "docker/rootfs.sh assembled $(find "$root" -type f | wc -l) files"
else
  not_ok "docker/rootfs.sh"; sed 's/^/     /' "$work/rootfs.log"; finish
fi
check_rootfs "$root" "$repo" "$uid" "$gid"
if [ "$(id -u)" != 0 ]; then
  echo "     (not root: the run inside the tree is checked as root only)"
  finish
fi
chroot="$(command -v chroot)"

echo "# 3b. the server inside the tree (chroot, uid/gid $uid:$gid, NACOS_MOCK_* only), and --probe"
tree_cmd() {   # tree_cmd ENV... -- ARGS...: cmd=(nacos-mock inside the tree, as the image's USER)
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  cmd=(env -i PATH=/usr/local/bin "${envs[@]}" "$chroot" --userspec="$uid:$gid" "$root" /usr/local/bin/nacos-mock "$@")
}
in_tree() { tree_cmd "$@"; "${cmd[@]}"; }
# NACOS_MOCK_HOST is 127.0.0.1 here (0.0.0.0 in the image): this test stays on loopback.
tree_cmd NACOS_MOCK_HOST=127.0.0.1 NACOS_MOCK_PORT=0 NACOS_MOCK_READY_FILE=/tmp/ready NACOS_MOCK_QUIET=1 \
  NACOS_MOCK_DB=/var/lib/nacos-mock/nacos.db --
"${cmd[@]}" >"$work/stdout" 2>"$work/stderr" &
pid=$!   # env execs chroot, which execs nacos-mock: the same process
poll_until 10 test -s "$root/tmp/ready"
url="$(head -n1 "$root/tmp/ready" 2>/dev/null)"
port="${url##*:}"
if [[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
  ok "started inside the tree as $uid:$gid with NACOS_MOCK_* only: $url"
else
  not_ok "start inside the tree (ready file: '$url')"
  sed 's/^/     /' "$work/stderr"
  finish
fi
check "it printed 'nacos-mock listening on $url'" grep -qx "nacos-mock listening on $url" "$work/stdout"
check "its database is in the data directory, owned by $uid:$gid" \
  test "$(stat -c %u:%g "$root/var/lib/nacos-mock/nacos.db" 2>/dev/null)" = "$uid:$gid"
check "--probe (NACOS_MOCK_HOST=0.0.0.0 as in the image): healthy while UP" \
  in_tree NACOS_MOCK_HOST=0.0.0.0 NACOS_MOCK_PORT="$port" -- --probe
curl -sS --noproxy '*' --max-time 5 -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"status":"DOWN"}' "$url/__mock/status"
check "--probe: unhealthy while DOWN (readiness 500)" fails in_tree NACOS_MOCK_PORT="$port" -- --probe
curl -sS --noproxy '*' --max-time 5 -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"status":"UP"}' "$url/__mock/status"
check "--probe --port: healthy again once UP" in_tree -- --probe --port "$port"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
check "SIGTERM stops it with status 0" test "$rc" = 0
check "--probe: unhealthy when nothing listens" fails in_tree NACOS_MOCK_PORT="$port" -- --probe

finish
