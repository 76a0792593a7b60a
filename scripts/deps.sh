#!/usr/bin/env bash
# Installs the Debian 12 packages nacos-mock needs, only those missing (with sudo when not root).
# Usage: scripts/deps.sh [--test] [--container]
#   (none)       the build: compiler, CMake, the -dev packages of the libraries the server links
#   --test       also what scripts/test.sh needs (cmocka, libcurl, node/npm, valgrind, wrk, ...)
#   --container  also what its container stage needs to build and run the image without Docker:
#                podman with the runc runtime, debootstrap (for a local debian:12-slim base when no
#                registry is reachable), python3-yaml (reads docker/compose.yaml), curl, jq
set -euo pipefail
pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libcjson-dev libsqlite3-dev zlib1g-dev
      libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler nettle-dev)
for mode in "$@"; do
  case "$mode" in
    --test)
      # curl, jq: examples/ and tests/*.sh; nghttp2-client: h2load for bench/
      pkgs+=(libcmocka-dev libcurl4-openssl-dev curl jq clang valgrind wrk nghttp2-client)
      pkgs+=(chromium)   # the console's browser test (tests/ui), driven by npm puppeteer-core
      command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
      command -v npm >/dev/null 2>&1 || pkgs+=(npm)
      ;;
    --container) pkgs+=(podman runc debootstrap python3-yaml curl jq) ;;
    *) echo "deps.sh: unknown argument '$mode' (--test, --container)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
