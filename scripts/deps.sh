#!/usr/bin/env bash
# Installs the Debian 12 packages nacos-mock needs, only those missing. Usage: scripts/deps.sh [--test]
set -euo pipefail
pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libcjson-dev libsqlite3-dev zlib1g-dev
      libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(libcmocka-dev libcurl4-openssl-dev curl jq clang valgrind wrk nghttp2-client)   # curl, jq: examples/ and tests/*.sh; nghttp2-client: h2load
  pkgs+=(chromium)   # the console's browser test (tests/ui), driven by npm puppeteer-core
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
