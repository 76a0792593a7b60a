/*
 * server — the wiring on top of everything: builds the context (app.h) and loads --fixtures, then
 * starts what runs — the push thread, the health sweeper, the HTTP listener and the gRPC listener
 * (HTTP port + --grpc-port-offset, unless --no-grpc) — and fills app->transport so the layers below
 * can reach the listeners without calling up into them. Stops them in the reverse order. Nothing
 * below includes this header: the module graph reads top-down (docs/architecture.md).
 *
 * Threading: start/stop from one thread (main, or a test); the rest runs on the threads it starts.
 */
#ifndef NACOS_MOCK_SERVER_H
#define NACOS_MOCK_SERVER_H

#include <stddef.h>

#include "nacos_mock/app.h"

struct push;
struct sweeper;
struct http_server;
struct grpc_server;
struct grpc_api;

struct server {
    struct app app;
    bool app_ready;
    struct push *push;
    struct sweeper *sweeper;
    struct http_server *http;
    struct grpc_server *grpc;
    struct grpc_api *grpc_api;
};

/* Builds the context and loads --fixtures. 0, or -1 with err (server_free either way). */
int server_init(struct server *s, const struct config *cfg, char *err, size_t errlen);
/* Starts the threads and listeners. 0, or -1 with err (server_free stops what started). */
int server_start(struct server *s, char *err, size_t errlen);
/* Bound ports (after server_start; gRPC 0 when off). */
int server_http_port(const struct server *s);
int server_grpc_port(const struct server *s);
/* Stops listening (answering requests in flight) and every thread. Idempotent. */
void server_stop(struct server *s);
/* server_stop, then frees the context. */
void server_free(struct server *s);

#endif
