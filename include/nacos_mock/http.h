/*
 * http — libmicrohttpd glue: request lifecycle (per-request state on the first call, body
 * accumulated with a hard cap → 413, dispatch on the last call, free in the completion callback)
 * and the one place that turns a struct reply into an MHD response.
 */
#ifndef NACOS_MOCK_HTTP_H
#define NACOS_MOCK_HTTP_H

#include <stddef.h>

#define HTTP_BODY_MAX (1024 * 1024)
/* Per-connection pool for the request line, headers and parsed query arguments: a query may carry
 * 64 KiB of metadata and up to PARAMS_MAX arguments (the Go SDK puts everything in the query).
 * Pages are touched only as used, so idle memory does not grow with it. */
#define HTTP_CONN_MEMORY (256 * 1024)

struct app;
struct http_server;

/* Binds cfg->host:cfg->port and starts the worker threads. NULL with err on failure. */
struct http_server *http_start(struct app *app, char *err, size_t errlen);
int http_port(const struct http_server *s);
void http_stop(struct http_server *s);

#endif
