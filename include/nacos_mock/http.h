/*
 * http — libmicrohttpd glue: request lifecycle (per-request state on the first call, body
 * accumulated with a hard cap → 413, dispatch on the last call, free in the completion callback)
 * and the one place that turns a struct reply into an MHD response.
 */
#ifndef NACOS_MOCK_HTTP_H
#define NACOS_MOCK_HTTP_H

#include <stddef.h>

#include "nacos_mock/routes.h"   /* HTTP_BODY_MAX, HTTP_BODY_MAX_LARGE: a route's body cap */

/* Per-connection pool for the request line, headers and parsed query arguments. libmicrohttpd zeroes
 * it after every request, so its size is paid per request (bench: 256 KiB cost 394k instructions a
 * beat, 6x the reference server's whole request). 64 KiB holds PARAMS_MAX ordinary arguments; a
 * query with more is refused before MHD parses it (http.c on_uri), and a longer URL gets MHD's 414. */
#define HTTP_CONN_MEMORY (64 * 1024)

struct app;
struct http_server;

/* Held requests (reply_hold): each request has a wake handle, request->hold (request.h). Waking it
 * ends the hold: its phase 2 runs on a worker thread within moments. Any thread, any lock but
 * http.c's own (it takes the timer lock, a leaf). Before the request is held it makes the hold end at
 * once; after the request was answered it does nothing — but the handle is freed with its request,
 * so whoever keeps one must drop it in phase 2 (which always runs, HOLD_GONE included). */

/* Binds host:port (0 = any free port) for node `node` and starts the worker threads. NULL with err on
 * failure. */
struct http_server *http_start(struct app *app, const char *host, int port, int node, char *err, size_t errlen);
int http_port(const struct http_server *s);
void http_stop(struct http_server *s);

#endif
