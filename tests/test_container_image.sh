#!/usr/bin/env bash
# test_container_image.sh — docker/Dockerfile built and run for real, without Docker (stage 8 of
# scripts/test.sh; the packages come from scripts/deps.sh --container).
#
# 1. Engine: podman with runc, its storage and state in a temp dir (not the machine's image store),
#    configured by a containers.conf written here for what our
#    machines need: runc (crun fails: "cgroups in hybrid mode not supported"), cgroupfs, events to a
#    file, and default ulimits no higher than ours (podman's defaults fail: "setrlimit … not permitted").
# 2. Base: debian:12-slim is pulled; when no registry is reachable, it is made here (debootstrap
#    --variant=minbase from the mirror apt uses, slimmed as the official image is) and kept as a tarball
#    under $NM_CONTAINER_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/nacos-mock), named by a hash of what
#    it depends on (debootstrap version, suite, architecture, mirrors, the recipe below).
# 3. Build: podman build --format docker (the OCI format would drop HEALTHCHECK).
# 4. The image: < 20 MB uncompressed; one layer holding exactly the binary, the libraries its loader
#    resolves (read with the image's own loader), passwd/group, the fixtures, the data directory and
#    /tmp — no shell, no package manager; USER a uid:gid its passwd/group define; ports, health check
#    and entrypoint as docker/compose.yaml expects.
# 5. A container, started as docker/compose.yaml starts the `nacos` service (its environment) plus
#    --db in the data directory, both ports published on 127.0.0.1 at host ports podman picks: register
#    and list an instance, the fixtures are loaded, the process is uid/gid 10001 and maps exactly the
#    image's libraries, `podman healthcheck run` (the image's HEALTHCHECK) and the compose health
#    command say healthy, unhealthy while DOWN, healthy again; `podman stop` ends it with status 0
#    before its 10 s timeout; restarted, its persistent instance is still there.
# 6. Prints the measured sizes (uncompressed, `podman save | gzip`) and the time of each phase.
# Traffic goes to 127.0.0.1 only (and, for the build stage's apt, to the Debian mirror apt uses).
# Needs root (re-runs itself with sudo otherwise). Bounded by NM_CONTAINER_TIMEOUT seconds (default 1200).
# Environment: NM_CONTAINER_PULL=0 (do not try the registry), NM_CONTAINER_KEEP=1 (keep the temp dir).
# Usage: tests/test_container_image.sh     Last line: "test_container_image: N passed, N failed".
set -uo pipefail

if [ -z "${NM_CONTAINER_INNER:-}" ]; then
  export NM_CONTAINER_CACHE="${NM_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nacos-mock}"
  export NM_CONTAINER_INNER=1
  guard=(timeout -k 10 "${NM_CONTAINER_TIMEOUT:-1200}")
  if [ "$(id -u)" = 0 ]; then exec "${guard[@]}" "$0" "$@"; fi
  exec sudo --preserve-env=NM_CONTAINER_CACHE,NM_CONTAINER_INNER,NM_CONTAINER_PULL,NM_CONTAINER_KEEP,TMPDIR \
    "${guard[@]}" "$0" "$@"
fi

repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/checks.sh
. "$repo/tests/checks.sh"
# shellcheck source=tests/rootfs_checks.sh
. "$repo/tests/rootfs_checks.sh"
checks_name=test_container_image
cache="$NM_CONTAINER_CACHE"
image=localhost/nacos-mock:test
base_ref=docker.io/library/debian:12-slim   # what FROM debian:12-slim means, to docker and to podman
ctr="nacos-mock-test-$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/nm-container.XXXXXX")"
timings=()
phase_start=$SECONDS
phase() {   # phase NAME: closes the previous phase's timing, announces the next
  [ -n "${phase_name:-}" ] && timings+=("$phase_name: $((SECONDS - phase_start)) s")
  phase_name="$1"; phase_start=$SECONDS
  [ -n "$1" ] && echo "# $1"
}

# ---------------------------------------------------------------- 1. the engine
export CONTAINERS_CONF="$work/containers.conf" CONTAINERS_STORAGE_CONF="$work/storage.conf"
pm() { podman --root "$work/storage" --runroot "$work/run" "$@"; }
cleanup() {
  if [ -d "$work/storage" ]; then
    pm rm --all --force --time 0 >/dev/null 2>&1
    pm image unmount --all >/dev/null 2>&1
    pm rmi --all --force >/dev/null 2>&1
    # whatever storage still has mounted below the temp dir (deepest first), then the dir itself
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  fi
  if [ "${NM_CONTAINER_KEEP:-0}" = 1 ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT   # timeout's TERM: still clean up

lim() { local h; h="$(ulimit -H "$1")"; [ "$h" = unlimited ] || [ "$h" -gt 4096 ] && h=4096; echo "$h"; }
mkdir -p "$work/cni" "$work/tmp" "$work/libpod"
cat >"$work/containers.conf" <<EOF
[containers]
# podman's defaults (nofile 1048576, nproc 4194304) exceed the hard limits of our sandboxes
default_ulimits = ["nofile=$(lim -n):$(lim -n)", "nproc=$(lim -u):$(lim -u)"]
[network]
network_config_dir = "$work/cni"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
tmp_dir = "$work/libpod"
image_copy_tmp_dir = "$work/tmp"
EOF
cat >"$work/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
phase "engine: podman $(pm --version | awk '{print $3}'), runc, storage in $work"
if ! pm info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}' >"$work/info" 2>&1; then
  not_ok "podman info"; sed 's/^/     /' "$work/info"; finish
fi
check "podman runs runc on overlay storage ($(cat "$work/info"))" test "$(cat "$work/info")" = "runc overlay"

# ---------------------------------------------------------------- 2. the base image
phase "base: $base_ref"
arch="$(dpkg --print-architecture)"
site() {   # site RELEASE: the mirror apt uses for RELEASE main, if any
  apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null |
    awk -v r="$1" '$2 == r && $3 == "main" { print $1; exit }'
}
mirror="$(site bookworm)"; mirror="${mirror:-http://deb.debian.org/debian}"
security="$(site bookworm-security)"
make_base() {   # make_base DIR: a debian:12-slim made here
  local r="$1"
  debootstrap --variant=minbase --arch="$arch" bookworm "$r" "$mirror" || return 1
  # slimmed as the official image is (debuerreotype --slimify): dpkg keeps no docs, man pages, locales
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$r/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/{man,groff,info,lintian,linda,locale}/*
  # the mirrors apt uses here, as deb822 sources like the official image's; no packages or lists kept
  rm -f "$r/etc/apt/sources.list" "$r/etc/hostname"
  {
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$mirror"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [ -n "$security" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$security"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$r/etc/apt/sources.list.d/debian.sources"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/*
}
local_base() {   # prints the path of the base tarball, from the cache or made now
  local key tarball
  key="$( { debootstrap --version; echo "bookworm $arch $mirror $security"; declare -f make_base; } |
    sha256sum | cut -c1-16)"
  tarball="$cache/debian-12-slim-$arch-$key.tar.gz"
  if [ -s "$tarball" ]; then
    echo "     cached: $tarball" >&2
  else
    echo "     debootstrap bookworm ($arch) from $mirror; cached as $tarball" >&2
    make_base "$work/base" >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; return 1; }
    mkdir -p "$cache" || return 1
    tar -C "$work/base" --numeric-owner -cf - . | gzip -1 >"$tarball.tmp.$$" && mv "$tarball.tmp.$$" "$tarball" ||
      { rm -f "$tarball.tmp.$$"; return 1; }
    rm -rf "$work/base"
    # bases made by an older recipe are of no more use
    find "$cache" -maxdepth 1 -name "debian-12-slim-$arch-*.tar.gz" ! -name "${tarball##*/}" -delete
    [ -n "${SUDO_UID:-}" ] && chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$cache"
  fi
  echo "$tarball"
}
if [ "${NM_CONTAINER_PULL:-1}" = 1 ] && timeout 120 podman --root "$work/storage" --runroot "$work/run" \
  pull -q "$base_ref" >"$work/pull.log" 2>&1; then
  ok "base: pulled $base_ref"
else
  [ -s "$work/pull.log" ] && echo "     cannot pull $base_ref: $(tail -n1 "$work/pull.log" | cut -c1-160)"
  if tarball="$(local_base)" &&
    pm import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' "$tarball" "$base_ref" >"$work/import.log" 2>&1; then
    ok "base: $base_ref made here ($(du -m "$tarball" | cut -f1) MB tarball)"
  else
    not_ok "base: cannot make $base_ref here"; sed 's/^/     /' "$work/import.log" 2>/dev/null; finish
  fi
fi

# ---------------------------------------------------------------- 3. the build
phase "build: podman build --format docker -f docker/Dockerfile"
if pm build --format docker -f "$repo/docker/Dockerfile" -t "$image" "$repo" >"$work/build.log" 2>&1; then
  ok "built $image in $((SECONDS - phase_start)) s"
else
  not_ok "podman build failed; the end of its log:"; tail -n 40 "$work/build.log" | sed 's/^/     /'; finish
fi

# ---------------------------------------------------------------- 4. the image
phase "image: size, configuration, files"
inspect="$(pm image inspect "$image")"
size="$(jq '.[0].Size' <<<"$inspect")"
gz="$(pm save --format docker-archive "$image" 2>/dev/null | gzip -c | wc -c)"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
check "uncompressed size $(mb "$size") ($size bytes) < 20 MB" test "$size" -lt 20000000
check "one layer" jq -e '.[0].RootFS.Layers | length == 1' <<<"$inspect"
check "HEALTHCHECK CMD nacos-mock --probe is kept (--format docker)" \
  jq -e '.[0].Healthcheck.Test == ["CMD", "nacos-mock", "--probe"]' <<<"$inspect"
check "EXPOSE 8848/tcp 9848/tcp" jq -e '.[0].Config.ExposedPorts | keys == ["8848/tcp", "9848/tcp"]' <<<"$inspect"
check 'ENTRYPOINT ["nacos-mock"]' jq -e '.[0].Config.Entrypoint == ["nacos-mock"]' <<<"$inspect"
check "ENV NACOS_MOCK_HOST=0.0.0.0" jq -e '.[0].Config.Env | index("NACOS_MOCK_HOST=0.0.0.0")' <<<"$inspect"
user="$(jq -r '.[0].Config.User' <<<"$inspect")"
check "USER 10001:10001 (got $user)" test "$user" = 10001:10001

mnt="$(pm image mount "$image" 2>"$work/mount.log")"
if [ -z "$mnt" ] || [ ! -x "$mnt/usr/local/bin/nacos-mock" ]; then
  not_ok "podman image mount"; sed 's/^/     /' "$work/mount.log"; finish
fi
check_rootfs "$mnt" "$repo" 10001 10001
pm image unmount "$image" >/dev/null 2>&1

# ---------------------------------------------------------------- 5. a container
phase "run: as docker/compose.yaml's nacos service, ports on 127.0.0.1"
# the nacos service's environment and health check command, from docker/compose.yaml
compose="$(/usr/bin/python3 - "$repo/docker/compose.yaml" <<'EOF' 2>&1
import json, sys, yaml
svc = yaml.safe_load(open(sys.argv[1]))["services"]["nacos"]
print(json.dumps({"env": [f"{k}={v}" for k, v in (svc.get("environment") or {}).items()],
                  "test": svc["healthcheck"]["test"], "ports": svc.get("ports", [])}))
EOF
)"
if ! jq -e . <<<"$compose" >/dev/null 2>&1; then not_ok "docker/compose.yaml parses: $compose"; finish; fi
ok "docker/compose.yaml parses (nacos: $(jq -r '.env | join(" ")' <<<"$compose"))"
env_args=()
while IFS= read -r e; do [ -n "$e" ] && env_args+=(-e "$e"); done < <(jq -r '.env[]' <<<"$compose")
mapfile -t hc_cmd < <(jq -r '.test[]' <<<"$compose")
check "compose's health check is exec form (no shell in the image): ${hc_cmd[*]}" test "${hc_cmd[0]}" = CMD
check "compose publishes both ports" jq -e '.ports == ["127.0.0.1:8848:8848", "127.0.0.1:9848:9848"]' <<<"$compose"

# host ports: podman picks free ones (127.0.0.1::PORT) and says which (podman port)
if ! pm run -d --name "$ctr" -p 127.0.0.1::8848 -p 127.0.0.1::9848 "${env_args[@]}" "$image" \
  --db /var/lib/nacos-mock/nacos.db >"$work/run.log" 2>&1; then
  not_ok "podman run"; sed 's/^/     /' "$work/run.log"; finish
fi
listening() {   # listening N: the container's log has N listening lines (one per start)
  [ "$(pm logs "$ctr" 2>/dev/null | grep -c '^nacos-mock listening on http://0.0.0.0:8848$')" -ge "$1" ]
}
host_port() { pm port "$ctr" "$1/tcp" | sed -n 's/^127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p'; }
c() { curl --noproxy '*' -sS --max-time 5 "$@"; }
ready() { [ "$(c -o /dev/null -w '%{http_code}' "$M/nacos/v1/console/health/readiness")" = 200 ]; }
started() {   # started N: the Nth start is listening and answers through the published port
  if ! poll_until 30 listening "$1"; then not_ok "start $1: no listening line"; pm logs "$ctr" 2>&1 | tail -n 20; finish; fi
  port="$(host_port 8848)"
  M="http://127.0.0.1:$port"
  if ! poll_until 30 ready; then not_ok "start $1: readiness through $M"; finish; fi
  ok "start $1: listening on 0.0.0.0:8848 in the container, ready at $M"
}
started 1
check "9848 is published too ($(pm port "$ctr" 9848/tcp))" test -n "$(host_port 9848)"
# A Nacos 2.x client's first call, by hand: a framed Payload {metadata {type: ServerCheckRequest}, body
# {value: "{}"}} POSTed over HTTP/2 with prior knowledge to the published gRPC port.
printf '\x00\x00\x00\x00\x1c\x12\x14\x1a\x12ServerCheckRequest\x1a\x04\x12\x02{}' >"$work/servercheck.bin"
grpc_answer="$(c --http2-prior-knowledge -X POST -H 'content-type: application/grpc' -H 'te: trailers' \
  --data-binary @"$work/servercheck.bin" -D - "http://127.0.0.1:$(host_port 9848)/Request/request" | tr -d '\0')"
check "gRPC on 9848: ServerCheckRequest answered (grpc-status 0, ServerCheckResponse)" \
  bash -c 'grep -q "grpc-status: 0" <<<"$1" && grep -q ServerCheckResponse <<<"$1"' _ "$grpc_answer"
check "register" test "$(c -X POST "$M/nacos/v1/ns/instance?serviceName=container-demo&ip=10.0.0.7&port=8080&ephemeral=false")" = ok
check "list shows it" bash -c 'grep -q "\"ip\":\"10.0.0.7\",\"port\":8080" <<<"$1"' _ \
  "$(c "$M/nacos/v1/ns/instance/list?serviceName=container-demo")"
check "the fixtures from NACOS_MOCK_FIXTURES are loaded (order-service)" bash -c 'grep -q "\"hosts\":\[{" <<<"$1"' _ \
  "$(c "$M/nacos/v1/ns/instance/list?serviceName=order-service")"

pid="$(pm inspect -f '{{.State.Pid}}' "$ctr")"
ids="$(grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" | tr -s '\t ' '  ')"
check "the process runs as uid 10001, gid 10001, in no other group ($(tr '\n' ' ' <<<"$ids"))" \
  awk '/^(Uid|Gid):/ { for (i = 2; i <= 5; i++) if ($i != 10001) bad = 1 } /^Groups:/ { for (i = 2; i <= NF; i++) if ($i != 10001) bad = 1 }
    END { exit bad }' <<<"$ids"
mapped="$(awk '$6 ~ /\.so/ { print $6 }' "/proc/$pid/maps" | sort -u)"
if [ "$mapped" = "$libs" ]; then
  ok "it has loaded exactly the image's $(wc -l <<<"$libs") libraries"
else
  not_ok "loaded libraries differ from the image's (< image, > loaded):"
  diff <(echo "$libs") <(echo "$mapped") | grep '^[<>]' | sed 's/^/     /'
fi
check "its database is in the data directory" test -s "/proc/$pid/root/var/lib/nacos-mock/nacos.db"

healthcheck() { pm healthcheck run "$ctr" >"$work/hc.log" 2>&1; }
compose_check() { pm exec "$ctr" "${hc_cmd[@]:1}" >"$work/hc.log" 2>&1; }
status() { c -o /dev/null -X PUT -H 'Content-Type: application/json' -d "{\"status\":\"$1\"}" "$M/__mock/status"; }
check "podman healthcheck run (the image's HEALTHCHECK): healthy" healthcheck
check "compose's health command (podman exec ${hc_cmd[*]:1}): healthy" compose_check
status DOWN
check "podman healthcheck run: unhealthy while DOWN" fails healthcheck
check "compose's health command: unhealthy while DOWN" fails compose_check
status UP
check "podman healthcheck run: healthy again once UP" healthcheck

phase "stop and restart"
stop_clean() {   # podman stop: SIGTERM, then SIGKILL after 10 s; a clean stop is exit 0, well before
  local t0=$SECONDS rc
  pm stop --time 10 "$ctr" >/dev/null 2>&1
  rc="$(pm inspect -f '{{.State.ExitCode}}' "$ctr")"
  check "podman stop: exit status $rc after $((SECONDS - t0)) s (0, before the 10 s SIGKILL)" \
    test "$rc" = 0 -a $((SECONDS - t0)) -lt 10
  check "the log ends with 'stopping'" bash -c 'pm_logs="$1"; tail -n1 <<<"$pm_logs" | grep -q stopping' _ \
    "$(pm logs "$ctr" 2>&1 | grep -v 'level=error')"
}
stop_clean
pm start "$ctr" >/dev/null 2>&1
started 2
check "after a restart the persistent instance is still listed (--db in the data directory)" \
  bash -c 'grep -q "\"ip\":\"10.0.0.7\",\"port\":8080" <<<"$1"' _ "$(c "$M/nacos/v1/ns/instance/list?serviceName=container-demo")"
stop_clean
phase ""

# ---------------------------------------------------------------- 6. figures
echo "# measured: image $(mb "$size") uncompressed ($size bytes), $(mb "$gz") gzip (podman save | gzip), $(jq '.[0].RootFS.Layers | length' <<<"$inspect") layer"
for t in "${timings[@]}"; do echo "#   $t"; done
finish
