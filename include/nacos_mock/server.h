/*
 * server — the wiring on top of everything: builds the context (app.h) and loads --fixtures, then
 * starts what runs — the push thread, the health sweeper, and for each node of --nodes N its HTTP
 * listener and its gRPC listener (its HTTP port + --grpc-port-offset, unless --no-grpc) — and fills
 * app->transport so the layers below can reach the listeners without calling up into them. Stops
 * them in the reverse order. Nothing below includes this header: the module graph reads top-down
 * (docs/architecture.md).
 *
 * Nodes: node i listens on --port + i (with --port 0, a free pair of its own), all of them serving
 * the one context. A node's listeners can be closed and reopened on the same ports while the rest
 * runs (PUT /__mock/nodes/{i}, through app->transport.set_node): a keeper thread closes them after
 * the request that asked has been answered, and runs the forMs timers that bring a node back UP.
 * The transport ops (close a gRPC connection, push to one) are routed to the node that carries the
 * connection; a node being closed is detached from them first, under a lock, so nothing reaches a
 * listener that is going away.
 *
 * Threading: start/stop from one thread (main, or a test); the rest runs on the threads it starts.
 */
#ifndef NACOS_MOCK_SERVER_H
#define NACOS_MOCK_SERVER_H

#include <pthread.h>
#include <stddef.h>

#include "nacos_mock/app.h"

struct push;
struct sweeper;
struct http_server;
struct grpc_server;
struct grpc_api;

/* One node: its listeners (NULL while OFFLINE) and its gRPC adapter (kept across reopenings). */
struct server_node {
    struct http_server *http;
    struct grpc_server *grpc;
    struct grpc_api *grpc_api;
    struct app_transport ops;      /* the adapter's own ops (grpc_api_transport): the wiring's route to them */
    bool want_open;                /* under the server's mu: listeners wanted open (not OFFLINE) */
    bool busy;                     /* under mu: the keeper is opening or closing them, without mu */
    int64_t retry_ms;              /* keeper: a failed reopen is tried again then (monotonic) */
};

struct server {
    struct app app;
    bool app_ready;
    struct push *push;
    struct sweeper *sweeper;
    struct server_node nodes[APP_MAX_NODES];
    pthread_mutex_t mu;            /* the nodes' switch state; never held while a listener stops */
    pthread_cond_t cond;           /* the keeper's wake-up; a switch finished */
    pthread_rwlock_t ops_lock;     /* read: a transport op reaching a node's gRPC server; write: swapping one */
    pthread_t keeper;
    bool keeper_running, stopping, sync_ready;
};

/* Builds the context and loads --fixtures. 0, or -1 with err (server_free either way). */
int server_init(struct server *s, const struct config *cfg, char *err, size_t errlen);
/* Starts the threads and every node's listeners. 0, or -1 with err (server_free stops what started). */
int server_start(struct server *s, char *err, size_t errlen);
/* Node 0's bound ports (after server_start; gRPC 0 when off). */
int server_http_port(const struct server *s);
int server_grpc_port(const struct server *s);
/* Stops listening (answering requests in flight) and every thread. Idempotent. */
void server_stop(struct server *s);
/* server_stop, then frees the context. */
void server_free(struct server *s);

#endif
