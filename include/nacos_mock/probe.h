/*
 * probe — `nacos-mock --probe`: the container's health check, built into the binary so that an image
 * without a shell, curl or wget can still run one. It asks the readiness endpoint of a server started
 * with the same flags and environment (`--host`, `--port`, `NACOS_MOCK_HOST`, `NACOS_MOCK_PORT`) and
 * says whether it answered 200. A wildcard bind address is asked on loopback (0.0.0.0 → 127.0.0.1,
 * :: → ::1).
 *
 * Owns: nothing (one socket for the duration of the call).
 * Threading: any thread; blocks for at most timeout_ms (name resolution of a non-literal --host aside).
 */
#ifndef NACOS_MOCK_PROBE_H
#define NACOS_MOCK_PROBE_H

#include <stddef.h>

#include "nacos_mock/config.h"

/* What `--probe` waits for, in all: connect, request, status line. */
#define PROBE_TIMEOUT_MS 2000

/* GET /nacos/v1/console/health/readiness on cfg->host:cfg->port (wildcard → loopback), HTTP/1.0.
 * Returns 0 when the status is 200, else -1 with a one-line reason in why (never empty): nothing
 * listening, timed out, the status line it got (500 while the mock is DOWN or STARTING), port 0. */
int probe_readiness(const struct config *cfg, int timeout_ms, char *why, size_t whylen);

#endif
