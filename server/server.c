/*
 * server.c — the wiring: context, threads and listeners, in order, and the nodes (see server.h).
 *
 * A node's switch (PUT /__mock/nodes/{i} → app->transport.set_node): the node's status is stored at
 * once (dispatch and the gRPC adapter read it: a DOWN node answers 503 / errorCode 300, an OFFLINE
 * one resets what still comes in). OFFLINE closes the listeners on the keeper thread, never on the
 * caller's: the request that takes its own node OFFLINE is in flight on that node's listener, which
 * answers it before it closes (http_stop waits for requests in flight). Its gRPC connections are
 * closed at once, as a crashed server's (no GOAWAY), so their clients move on; their connection-owned
 * instances go as the connections end. UP (or DOWN, STARTING) reopens the same ports before the
 * caller answers, unless the keeper is still closing them (then it waits for that, a bounded time).
 * forMs timers run on the keeper too: at their time the node is UP again and reopened.
 */
#include "nacos_mock/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nacos_mock/clock.h"
#include "nacos_mock/cs_core.h"
#include "nacos_mock/events.h"
#include "nacos_mock/grpc_api.h"
#include "nacos_mock/grpc_server.h"
#include "nacos_mock/http.h"
#include "nacos_mock/log.h"
#include "nacos_mock/push.h"
#include "nacos_mock/registry.h"
#include "nacos_mock/sweeper.h"
#include "nacos_mock/util.h"

/* With --port 0 the pair (P, P + offset) must both be free: tries this many HTTP ports. */
#define PORT_PAIR_TRIES 50
/* How long a switch to UP waits for the keeper to finish closing the same node. */
#define SWITCH_WAIT_MS 3000
/* A node whose ports could not be reopened (taken meanwhile) is tried again this often. */
#define REOPEN_RETRY_MS 250

int server_init(struct server *s, const struct config *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    util_cond_init_monotonic(&s->cond);
    pthread_rwlock_init(&s->ops_lock, NULL);
    s->sync_ready = true;
    s->app_ready = true;   /* app_free copes with a half-built context */
    if (app_init(&s->app, cfg, err, errlen)) return -1;
    if (!cfg->fixtures_file) return 0;
    app_lock(&s->app);   /* the registry's writes are app->mu's (store.h), threads or not */
    int rc = registry_load_file(&s->app, cfg->fixtures_file, err, errlen);
    app_unlock(&s->app);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------------ opening and closing a node */

/* Publishes node i's listeners (NULL, NULL: detaches them) to the transport ops and the adapter. */
static void node_publish(struct server *s, int i, struct http_server *http, struct grpc_server *grpc)
{
    struct server_node *n = &s->nodes[i];
    pthread_rwlock_wrlock(&s->ops_lock);
    n->http = http;
    n->grpc = grpc;
    if (n->grpc_api) grpc_api_attach(n->grpc_api, grpc);
    pthread_rwlock_unlock(&s->ops_lock);
}

/* Starts node i's listeners on its ports (the first time: on --port + i, or with --port 0 on a free
 * pair; after that on the ports it had). 0, or -1 with err. Caller holds mu or has marked it busy. */
static int node_open(struct server *s, int i, char *err, size_t errlen)
{
    struct app *app = &s->app;
    const struct config *cfg = app->cfg;
    struct server_node *n = &s->nodes[i];
    int known = atomic_load(&app->nodes[i].http_port);
    int port = known ? known : cfg->port ? cfg->port + i : 0;
    if (port > 65535) {
        snprintf(err, errlen, "node %d: HTTP port %d (--port + %d) is out of range", i, port, i);
        return -1;
    }
    for (int attempt = 0;; attempt++) {
        struct http_server *http = http_start(app, cfg->host, port, i, err, errlen);
        if (!http) return -1;
        if (!n->grpc_api) {   /* --no-grpc */
            atomic_store(&app->nodes[i].http_port, http_port(http));
            node_publish(s, i, http, NULL);
            atomic_store(&app->nodes[i].listening, true);
            return 0;
        }
        int gport = http_port(http) + cfg->grpc_port_offset;
        struct grpc_handlers h;
        grpc_api_handlers(n->grpc_api, &h);
        struct grpc_server *grpc = gport <= 65535 ? grpc_server_start(cfg->host, gport, &h, err, errlen) : NULL;
        if (grpc) {
            atomic_store(&app->nodes[i].http_port, http_port(http));
            atomic_store(&app->nodes[i].grpc_port, grpc_server_port(grpc));
            node_publish(s, i, http, grpc);
            atomic_store(&app->nodes[i].listening, true);
            return 0;
        }
        bool busy = gport > 65535 || errno == EADDRINUSE;
        if (gport > 65535)
            snprintf(err, errlen, "gRPC port %d (HTTP port + %d) is out of range", gport, cfg->grpc_port_offset);
        http_stop(http);
        if (port != 0 || !busy || attempt + 1 >= PORT_PAIR_TRIES) return -1;   /* --port 0: another pair */
    }
}

/* Closes node i's listeners: its gRPC connections end as with a crashed server (no GOAWAY), requests
 * in flight on its HTTP listener are answered first. Keeper thread (busy set, mu not held), or stop. */
static void node_close(struct server *s, int i)
{
    struct server_node *n = &s->nodes[i];
    struct http_server *http = n->http;
    struct grpc_server *grpc = n->grpc;
    node_publish(s, i, NULL, NULL);   /* from now on no op reaches them */
    if (grpc) {
        grpc_server_close_all(grpc);   /* queued before the stop: the loop runs both in one turn */
        grpc_server_stop(grpc);
    }
    http_stop(http);
    atomic_store(&s->app.nodes[i].listening, false);   /* only now: its ports refuse connections */
}

/* ------------------------------------------------------------------ node status */

static void node_status_changed(struct server *s, int i, int was, int now_status, int64_t for_ms)
{
    struct app *app = &s->app;
    if (was != now_status)
        events_node_status(app->events, clock_now_ms(&app->clock), i, app_status_name(was),
                           app_status_name(now_status));
    if (for_ms > 0)
        log_info("node %d: %s -> %s for %lld ms", i, app_status_name(was), app_status_name(now_status),
                 (long long)for_ms);
    else
        log_info("node %d: %s -> %s", i, app_status_name(was), app_status_name(now_status));
}

/* Would taking node i OFFLINE for good leave no node listening for good? (Then the control plane,
 * which answers on the nodes' ports, would be lost.) With mu held. */
static bool leaves_none(struct server *s, int i)
{
    for (int j = 0; j < s->app.n_nodes; j++) {
        if (j == i) continue;
        if (atomic_load(&s->app.nodes[j].status) != STATUS_OFFLINE || atomic_load(&s->app.nodes[j].up_at_ms))
            return false;
    }
    return true;
}

/* app->transport.set_node (app.h). */
static int w_set_node(void *ctx, int i, int status, int64_t for_ms, char *err, size_t errlen)
{
    struct server *s = ctx;
    struct app *app = &s->app;
    if (i < 0 || i >= app->n_nodes) {
        snprintf(err, errlen, "no node %d: the server runs nodes 0 to %d", i, app->n_nodes - 1);
        return 404;
    }
    struct server_node *n = &s->nodes[i];
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        snprintf(err, errlen, "the server is stopping");
        pthread_mutex_unlock(&s->mu);
        return 503;
    }
    if (status == STATUS_OFFLINE && for_ms <= 0 && leaves_none(s, i)) {
        snprintf(err, errlen,
                 "node %d OFFLINE would leave no node listening, and the control plane answers on the nodes' ports: "
                 "give \"forMs\" (it comes back UP by itself)", i);
        pthread_mutex_unlock(&s->mu);
        return 409;
    }
    int was = atomic_exchange(&app->nodes[i].status, status);
    atomic_store(&app->nodes[i].up_at_ms, for_ms > 0 ? clock_mono_ms() + for_ms : 0);
    if (status == STATUS_OFFLINE) {
        n->want_open = false;
        pthread_rwlock_rdlock(&s->ops_lock);   /* its gRPC clients see their connections die now */
        if (n->grpc) grpc_server_close_all(n->grpc);
        pthread_rwlock_unlock(&s->ops_lock);
    } else {
        n->want_open = true;
        n->retry_ms = 0;
        int64_t deadline = clock_mono_ms() + SWITCH_WAIT_MS;
        while (n->busy && !s->stopping && clock_mono_ms() < deadline) {   /* the keeper is closing it */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 20 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
        if (!n->busy && !atomic_load(&app->nodes[i].listening) && node_open(s, i, err, errlen)) {
            atomic_store(&app->nodes[i].status, STATUS_OFFLINE);   /* not reopened: still OFFLINE */
            atomic_store(&app->nodes[i].up_at_ms, 0);
            n->want_open = false;
            status = STATUS_OFFLINE;
            rc = 500;
        }
    }
    pthread_cond_broadcast(&s->cond);   /* the keeper: a close to do, or a timer to watch */
    pthread_mutex_unlock(&s->mu);
    node_status_changed(s, i, was, status, rc ? 0 : for_ms);
    return rc;
}

/* The keeper: closes and reopens nodes' listeners as their status asks, and brings timed (forMs)
 * nodes back UP. Holds mu except while it opens or closes a node (marked busy meanwhile). */
static void *keeper_main(void *arg)
{
    struct server *s = arg;
    struct app *app = &s->app;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int64_t now = clock_mono_ms(), next = INT64_MAX;
        bool worked = false;
        for (int i = 0; i < app->n_nodes && !s->stopping && !worked; i++) {
            struct server_node *n = &s->nodes[i];
            int64_t up_at = atomic_load(&app->nodes[i].up_at_ms);
            if (up_at && up_at <= now) {   /* its forMs is over */
                atomic_store(&app->nodes[i].up_at_ms, 0);
                int was = atomic_exchange(&app->nodes[i].status, STATUS_UP);
                n->want_open = true;
                n->retry_ms = 0;
                node_status_changed(s, i, was, STATUS_UP, 0);
                pthread_cond_broadcast(&s->cond);
            } else if (up_at && up_at < next) {
                next = up_at;
            }
            bool open = atomic_load(&app->nodes[i].listening);
            if (n->busy || n->want_open == open) continue;
            if (n->want_open && n->retry_ms > now) {
                if (n->retry_ms < next) next = n->retry_ms;
                continue;
            }
            bool opening = n->want_open;
            n->busy = true;
            pthread_mutex_unlock(&s->mu);
            char err[256] = "";
            int rc = 0;
            if (opening) rc = node_open(s, i, err, sizeof err);
            else node_close(s, i);
            pthread_mutex_lock(&s->mu);
            n->busy = false;
            if (rc) {
                if (!n->retry_ms)
                    log_warn("node %d: cannot listen again (trying every %d ms): %s", i, REOPEN_RETRY_MS, err);
                n->retry_ms = clock_mono_ms() + REOPEN_RETRY_MS;
            } else {
                n->retry_ms = 0;
            }
            pthread_cond_broadcast(&s->cond);
            worked = true;   /* scan again: the world may have changed meanwhile */
        }
        if (worked || s->stopping) continue;
        if (next == INT64_MAX) {
            pthread_cond_wait(&s->cond, &s->mu);
        } else {
            int64_t wait = next - clock_mono_ms();
            if (wait < 0) wait = 0;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------------ transport ops, routed by node */

/* The node whose gRPC server carries connection `conn` (serials are unique in the process), or NULL.
 * With ops_lock held for reading. */
static struct server_node *node_of_conn(struct server *s, uint64_t conn)
{
    if (s->app.n_nodes == 1) return s->nodes[0].grpc ? &s->nodes[0] : NULL;
    for (int i = 0; i < s->app.n_nodes; i++)
        if (s->nodes[i].grpc && grpc_server_has_conn(s->nodes[i].grpc, conn)) return &s->nodes[i];
    return NULL;
}

static int w_close_conn(void *ctx, uint64_t conn)
{
    struct server *s = ctx;
    pthread_rwlock_rdlock(&s->ops_lock);
    struct server_node *n = node_of_conn(s, conn);
    int rc = n ? n->ops.close_conn(n->ops.ctx, conn) : -1;
    pthread_rwlock_unlock(&s->ops_lock);
    return rc;
}

static long w_close_all(void *ctx)
{
    struct server *s = ctx;
    long total = 0;
    pthread_rwlock_rdlock(&s->ops_lock);
    for (int i = 0; i < s->app.n_nodes; i++)
        if (s->nodes[i].grpc) total += s->nodes[i].ops.close_all(s->nodes[i].ops.ctx);
    pthread_rwlock_unlock(&s->ops_lock);
    return total;
}

static int w_reset_conn(void *ctx, uint64_t conn, const char *server_ip, int server_port)
{
    struct server *s = ctx;
    pthread_rwlock_rdlock(&s->ops_lock);
    struct server_node *n = node_of_conn(s, conn);
    int rc = n ? n->ops.reset_conn(n->ops.ctx, conn, server_ip, server_port) : -1;
    pthread_rwlock_unlock(&s->ops_lock);
    return rc;
}

/* One push to n subscribers: with several nodes, each node's adapter gets (and renders once for) the
 * connections it carries. How many were queued. */
static size_t w_push_conns(void *ctx, const uint64_t *conns, size_t n, const char *ns, const char *service,
                           const char *clusters, const char *info, size_t len)
{
    struct server *s = ctx;
    size_t sent = 0;
    pthread_rwlock_rdlock(&s->ops_lock);
    if (s->app.n_nodes == 1) {
        struct server_node *nd = &s->nodes[0];
        if (nd->grpc) sent = nd->ops.push_conns(nd->ops.ctx, conns, n, ns, service, clusters, info, len);
    } else {
        uint64_t *mine = malloc((n ? n : 1) * sizeof *mine);
        for (int i = 0; mine && i < s->app.n_nodes; i++) {
            struct server_node *nd = &s->nodes[i];
            if (!nd->grpc) continue;
            size_t k = 0;
            for (size_t c = 0; c < n; c++)
                if (grpc_server_has_conn(nd->grpc, conns[c])) mine[k++] = conns[c];
            if (k) sent += nd->ops.push_conns(nd->ops.ctx, mine, k, ns, service, clusters, info, len);
        }
        free(mine);
    }
    pthread_rwlock_unlock(&s->ops_lock);
    return sent;
}

/* The config center's push hook (cs_listen.h), to the adapter of the connection's node. */
static void w_config_push(void *ctx, uint64_t conn, const char *data_id, const char *group, const char *tenant)
{
    struct server *s = ctx;
    pthread_rwlock_rdlock(&s->ops_lock);
    struct server_node *n = node_of_conn(s, conn);
    if (n) grpc_api_config_push(n->grpc_api, conn, data_id, group, tenant);
    pthread_rwlock_unlock(&s->ops_lock);
}

/* ------------------------------------------------------------------ start and stop */

int server_start(struct server *s, char *err, size_t errlen)
{
    struct app *app = &s->app;
    const struct config *cfg = app->cfg;
    if (!(s->push = push_start(app, err, errlen))) return -1;
    if (!(s->sweeper = sweeper_start(app))) {
        snprintf(err, errlen, "cannot start the health sweeper thread");
        return -1;
    }
    for (int i = 0; i < app->n_nodes && !cfg->no_grpc; i++) {
        if (!(s->nodes[i].grpc_api = grpc_api_create(app, i))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        grpc_api_transport(s->nodes[i].grpc_api, &s->nodes[i].ops);
    }
    /* before any listener: pushes may start at once */
    app->transport = (struct app_transport){.ctx = s, .set_node = w_set_node};
    if (!cfg->no_grpc) {
        app->transport.close_conn = w_close_conn;
        app->transport.close_all = w_close_all;
        app->transport.reset_conn = w_reset_conn;
        app->transport.push_conns = w_push_conns;
        /* config changes reach listening gRPC connections (ConfigChangeNotifyRequest) */
        cs_listen_set_push_hook(cs_listeners(app->cs), w_config_push, s);
    }
    for (int i = 0; i < app->n_nodes; i++) {
        s->nodes[i].want_open = true;
        if (node_open(s, i, err, errlen)) return -1;
    }
    if (pthread_create(&s->keeper, NULL, keeper_main, s)) {
        snprintf(err, errlen, "cannot start the node keeper thread");
        return -1;
    }
    s->keeper_running = true;
    return 0;
}

int server_http_port(const struct server *s) { return atomic_load(&s->app.nodes[0].http_port); }
int server_grpc_port(const struct server *s) { return atomic_load(&s->app.nodes[0].grpc_port); }

void server_stop(struct server *s)
{
    if (!s->sync_ready) return;
    /* no switch from now on, then the keeper ends (after the open or close it may be doing) */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (s->keeper_running) pthread_join(s->keeper, NULL);
    s->keeper_running = false;
    /* HTTP first (no control plane calls into the transports any more), then the threads that might
     * push, then gRPC: its connections end, and their instances go (queued changes stay unsent) */
    for (int i = 0; i < APP_MAX_NODES; i++) {
        http_stop(s->nodes[i].http);   /* answers requests in flight, then joins the workers */
        s->nodes[i].http = NULL;
    }
    sweeper_stop(s->sweeper);
    s->sweeper = NULL;
    push_stop(s->push);
    s->push = NULL;
    memset(&s->app.transport, 0, sizeof s->app.transport);
    if (s->app.cs) cs_listen_set_push_hook(cs_listeners(s->app.cs), NULL, NULL);
    for (int i = 0; i < APP_MAX_NODES; i++) {
        struct server_node *n = &s->nodes[i];
        if (n->grpc_api) grpc_api_attach(n->grpc_api, NULL);   /* what still runs on the loop sends nothing more */
        grpc_server_stop(n->grpc);
        n->grpc = NULL;
        grpc_api_free(n->grpc_api);
        n->grpc_api = NULL;
        atomic_store(&s->app.nodes[i].listening, false);
    }
}

void server_free(struct server *s)
{
    server_stop(s);
    if (s->app_ready) app_free(&s->app);
    s->app_ready = false;
    if (s->sync_ready) {
        pthread_rwlock_destroy(&s->ops_lock);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
    }
    s->sync_ready = false;
}
