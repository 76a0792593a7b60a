/*
 * metrics — request counters and duration histograms by transport and API, push and sweep counters,
 * and the Prometheus text exposition of them together with the gauges the caller reads from the
 * registry (GET /__mock/metrics).
 *
 * Threading: leaf locks; recorders are called from any thread. Request counters are striped by
 * thread (16 stripes, each its own lock), so workers on different cores record without meeting;
 * push and sweep counters share one lock (a few a second).
 */
#ifndef NACOS_MOCK_METRICS_H
#define NACOS_MOCK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/lockstat.h"

struct metrics;
struct faults;

#define METRICS_MAX_NODES 9        /* app.h APP_MAX_NODES */

/* Push outcomes, by kind of subscriber. */
enum metrics_push { PUSH_SENT = 0, PUSH_ACKED, PUSH_RESENT, PUSH_FAILED, PUSH_DROPPED, PUSH__COUNT };
enum metrics_push_kind { PUSH_UDP = 0, PUSH_GRPC, PUSH_CONFIG, PUSH_KIND__COUNT };   /* UDP, gRPC naming, gRPC config */

/* What the registry and the listeners look like at render time (read by the caller). */
struct metrics_gauges {
    long services, instances, healthy;
    size_t list_cache_bytes;
    uint64_t list_cache_hits, list_cache_misses;
    long udp_subscribers, grpc_subscribers, grpc_connections;
    long config_poll_keys, config_conn_keys;   /* listened config keys: held v1 polls, gRPC connections */
    unsigned long long config_pushes;          /* ConfigChangeNotifyRequests handed to connections */
    int up;                        /* 1 while the status is UP */
    double uptime_s;
    struct faults *faults;         /* hits per rule; may be NULL */
    int64_t now_ms;                /* virtual, for the fault list */
    int n_nodes;                   /* --nodes; with more than one, the per-node series below are rendered */
    const char *node_status[METRICS_MAX_NODES];   /* each node's status name (UP, DOWN, STARTING, OFFLINE) */
    long node_connections[METRICS_MAX_NODES];     /* gRPC connections per node */
    /* lock-stats builds (lockstat.h): hold times by lock class; n_locks 0 = not measured */
    struct { const char *name; struct lockstat_totals t; } locks[4];
    size_t n_locks;
};

struct metrics *metrics_create(void);
void metrics_free(struct metrics *m);
/* Forgets the request counters (control-plane reset); push and sweep counters keep counting. */
void metrics_reset(struct metrics *m);
/* One finished request. transport "http" | "grpc"; api NULL = no route; node: the node it came in on,
 * < 0 with a single node (then the series has no `node` label, as before --nodes); status 0 = dropped
 * connection (for gRPC: the Nacos resultCode, or 0 when no answer was sent). */
void metrics_record(struct metrics *m, const char *transport, const char *api, int node, int status,
                    double seconds);
void metrics_push(struct metrics *m, enum metrics_push_kind kind, enum metrics_push what);
/* A sweep by the sweeper thread, and how long it took. */
void metrics_sweep(struct metrics *m, double ms);
/* Prometheus text exposition format 0.0.4 of everything; caller frees. NULL when out of memory. */
char *metrics_render(struct metrics *m, const struct metrics_gauges *g, size_t *len);

#endif
