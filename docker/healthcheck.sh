#!/bin/bash
# nacos-mock-healthcheck — the container's HEALTHCHECK: exit 0 when GET /nacos/v1/console/health/readiness
# on 127.0.0.1:${NACOS_MOCK_PORT:-8848} answers HTTP 200, else 1.
#
# Pure bash (its /dev/tcp redirection): debian:12-slim has neither curl nor wget nor busybox, and
# installing curl only for this would add about 10 MB of libraries (libcurl4 with OpenSSL, nghttp2,
# LDAP, Kerberos, SSH ...) to an image whose own additions are about 2 MB. bash is already in the base.
# The readiness answer is 500 while the server is not UP (PUT /__mock/status), so a rehearsed outage
# also shows as "unhealthy" in `docker ps`; that is what Nacos's own readiness probe does.
set -u
port="${NACOS_MOCK_PORT:-8848}"
case "$port" in ''|0|*[!0-9]*) echo "healthcheck: NACOS_MOCK_PORT must be the fixed port the server listens on" >&2; exit 1 ;; esac
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /nacos/v1/console/health/readiness HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: nacos-mock-healthcheck\r\n\r\n' >&3 || exit 1
status_line=""
IFS= read -r -t 3 status_line <&3 || true
exec 3<&- 3>&-
case "$status_line" in
  "HTTP/1."[01]" 200 "*) exit 0 ;;
  *) echo "healthcheck: readiness answered '${status_line%$'\r'}'" >&2; exit 1 ;;
esac
