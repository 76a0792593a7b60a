/*
 * app — the one context passed explicitly to everything below the wiring: configuration, the
 * registry lock and store, the virtual clock, subscribers, gRPC connection clients, faults, journal,
 * metrics, server status. It holds no threads and no listeners: server.h starts those above it and
 * fills `transport` so the layers below can ask things of them (close a connection, deliver a
 * push) without calling up. There are no mutable globals except main's stop flag, so a test can run
 * two servers in one process.
 *
 * Threading: `mu` guards SQLite, the clients table and every registry decision that spans more than
 * one service's shard (store.h). The hot paths — a beat of an instance in memory, an ephemeral
 * register or deregister over HTTP, a list answered from the cache — run in their service's shard
 * without it and fall back to it when the store answers STORE_SLOW (docs/architecture.md, "Locks").
 * routes_dispatch takes it for routes not marked ROUTE_NO_LOCK, the gRPC loop around the other naming
 * calls, the sweeper per batch. Nothing does network I/O while holding it. Take it with
 * app_lock / app_unlock (they count its hold time in lock-stats builds, lockstat.h, and remember
 * which thread holds it: app_holds_lock).
 */
#ifndef NACOS_MOCK_APP_H
#define NACOS_MOCK_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/auth.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/config.h"
#include "nacos_mock/events.h"
#include "nacos_mock/lockstat.h"

struct store;
struct subs;
struct clients;
struct faults;
struct journal;
struct metrics;
struct list_cache;
struct cs_core;

/* STATUS_OFFLINE is a node's alone (PUT /__mock/nodes/{i}): its listeners are closed. */
enum server_status { STATUS_UP = 0, STATUS_DOWN, STATUS_STARTING, STATUS_PAUSED, STATUS_WRITE_ONLY,
                     STATUS_READ_ONLY, STATUS_OFFLINE };

/* --nodes: at most this many nodes (listeners) in one process. */
#define APP_MAX_NODES 9

/* What the layers below may ask of the listeners, filled by the wiring (server.c) once they run; a
 * NULL function means "no such listener" (e.g. --no-grpc, or an app a test runs without listeners).
 * All may be called with app->mu held: they only queue work for the listener's own thread. */
struct app_transport {
    void *ctx;
    /* Closes gRPC connection `conn` as a crashed peer would see it (TCP closed). 0, -1 unknown. */
    int (*close_conn)(void *ctx, uint64_t conn);
    /* Closes every gRPC connection; how many. */
    long (*close_all)(void *ctx);
    /* Sends a ConnectResetRequest on the connection's bi-stream (server_ip NULL / port 0: absent). */
    int (*reset_conn)(void *ctx, uint64_t conn, const char *server_ip, int server_port);
    /* Delivers one push to n connection subscribers of (ns, grouped service) with the same clusters:
     * `info` is the serviceInfo JSON they all get (rendered once). Returns how many were queued (the
     * others' connections are gone). */
    size_t (*push_conns)(void *ctx, const uint64_t *conns, size_t n, const char *ns, const char *service,
                         const char *clusters, const char *info, size_t len);
    /* Sets node `node`'s status (UP, DOWN, STARTING, OFFLINE), back to UP by itself after for_ms (0 =
     * never). OFFLINE closes the node's listeners after the caller's answer has gone (asynchronously);
     * UP reopens them on the same ports before returning when it can. Never with app->mu held (closing
     * a gRPC listener ends connections, which takes it). 0, or an HTTP status with `err` filled: 409 the
     * change would leave no node listening for good, 500 a port could not be opened again, 503 the
     * server is stopping. */
    int (*set_node)(void *ctx, int node, int status, int64_t for_ms, char *err, size_t errlen);
};

/* One node of --nodes N (the wiring owns its listeners; this is what the layers below read). */
struct app_node {
    _Atomic int status;            /* enum server_status: UP, DOWN, STARTING or OFFLINE (this node alone) */
    _Atomic int http_port, grpc_port;   /* its ports, kept while OFFLINE (UP reopens them); gRPC 0 = none */
    _Atomic bool listening;        /* its listeners are open */
    _Atomic int64_t up_at_ms;      /* forMs: when it returns to UP (monotonic clock), 0 = not timed */
};

struct app {
    const struct config *cfg;
    pthread_mutex_t mu;            /* the registry lock: app_lock / app_unlock */
    struct lockstat mu_stat;       /* its hold time (lock-stats builds) */
    uint64_t mu_t0;                /* when it was taken (lock-stats builds; the holder's) */
    struct store *store;
    struct nm_clock clock;
    struct subs *subs;             /* UDP and connection subscribers, queued changes; own lock (after mu) */
    struct clients *clients;       /* gRPC connection clients and what they own; under mu */
    struct faults *faults;         /* fault rules; own lock */
    struct journal *journal;       /* request journal; own lock */
    struct metrics *metrics;       /* request counters; own lock */
    struct list_cache *list_cache; /* rendered instance/list answers; under mu */
    struct cs_core *cs;            /* the config center (cs_core.h); own lock, after mu */
    struct events *events;         /* what happens, for /__mock/events (events.h); own lock (after mu) */
    struct auth auth;              /* --auth emulation; read-only after init */
    _Atomic int status;            /* enum server_status of the whole cluster (/__mock/status; never OFFLINE) */
    int64_t started_ms;
    int n_nodes;                   /* --nodes, 1..APP_MAX_NODES; read-only after init */
    struct app_node nodes[APP_MAX_NODES];   /* ports and statuses, set by the wiring and the control plane */
    struct app_transport transport;     /* set by the wiring before it starts any listener */
#ifdef NACOS_MOCK_TEST_HOOKS
    /* Test builds only: called where a long registry write is open (`where`: "sweep.batch" — a sweep
     * batch applied, not committed; "registry.load" — a snapshot written, not committed), so a test can
     * hold it there and check that requests that need no registry-wide lock are answered meanwhile. */
    void (*test_hook)(void *ctx, const char *where);
    void *test_hook_ctx;
#endif
};

/* Builds the context: store, clock, subscribers, clients, faults (those given at start), journal,
 * metrics. No threads. Returns 0, or -1 with err filled (free with app_free either way). */
int app_init(struct app *app, const struct config *cfg, char *err, size_t errlen);
/* Adds the fault rules given at start (--fault, --faults); used by app_init. 0 or -1 with err. */
int app_load_start_faults(struct app *app, char *err, size_t errlen);
void app_free(struct app *app);

/* The registry lock (app->mu). Not recursive: app_holds_lock tells whether this thread holds it. */
void app_lock(struct app *app);
void app_unlock(struct app *app);
bool app_holds_lock(const struct app *app);

/* Rolls back any open transaction and answers 500 `caused: registry store error: <sqlite message>;`. */
struct reply;
void app_reply_store_error(struct app *app, struct reply *rep);

const char *app_status_name(int status);
int app_status_parse(const char *s);
/* The status a request on node `node` sees: the node's own when it is not UP, else the cluster's
 * (/__mock/status). An out-of-range node reads as node 0. */
int app_status_of(struct app *app, int node);
/* `node` for journal entries, log lines and metrics: itself with several nodes, -1 (not shown) with one. */
static inline int app_node_label(const struct app *app, int node) { return app->n_nodes > 1 ? node : -1; }

/* Called (with mu held) after any change of a service's instances, health or threshold, at virtual
 * time now_ms: stamps the service (store_service_touch; service_id 0 = the service is gone) and queues
 * the change for its subscribers (subs_changed), UDP and gRPC alike. */
void app_service_changed(struct app *app, int64_t now_ms, int64_t service_id, const char *ns, const char *service);
/* Emits `kind` (registered, updated) for the instance (ns, service, cluster, ip, port) as the store
 * has it now, with its gRPC connection's id — when events are on (events_on), else nothing. ns and
 * cluster NULL or "": the defaults. Caller holds mu, after the change committed. */
void app_event_instance(struct app *app, enum event_kind kind, int64_t now_ms, const char *ns, const char *service,
                        const char *cluster, const char *ip, int port);
/* Its first half for n services at once: the stamps and empty-since times alone (0 ok, -1 store
 * error), for a caller that queues the changes itself once its transaction has committed (the
 * sweeper). */
int app_services_touch(struct app *app, int64_t now_ms, const int64_t *ids, size_t n);

#endif
