/*
 * naming_core — every naming operation, once, for every way in (style.md "Several ways in, one
 * core"): the v1 HTTP handlers, the gRPC handlers and the v2 Open API parse their own wire form into
 * the structs below, call one nc_* function, and render its result (or its naming_err) in their own
 * wire form. Validation, defaults, instance ids, store writes, change stamps, change notification
 * (UDP and gRPC subscribers alike, through app_service_changed), health transitions and their log
 * lines, and the bookkeeping of connection-owned instances live here and nowhere else.
 *
 * An `owner` is the gRPC connection (its serial, clients.h) a request came on, 0 for HTTP. Instances
 * registered with an owner are ephemeral, never swept for missed beats, and go when the owner ends
 * (nc_client_closed) — as Nacos 2.x does for connection clients.
 *
 * Every function takes the virtual time of the request (`now_ms`), returns 0 or -1 with `e` filled,
 * and is called with app->mu held. A failed call changes nothing.
 */
#ifndef NACOS_MOCK_NAMING_CORE_H
#define NACOS_MOCK_NAMING_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nacos_mock/naming.h"
#include "nacos_mock/store.h"

struct app;
struct client;

/* Which instance: namespace, grouped service, cluster, ip, port. */
struct nc_key {
    const char *ns;              /* NULL or "" = public */
    const char *service;         /* grouped */
    const char *cluster;         /* NULL or "" = DEFAULT */
    const char *ip;
    int port;
};

/* An instance as a client describes it in a register or an update. */
struct nc_instance {
    struct nc_key k;
    double weight;
    bool enabled, healthy, ephemeral;
    bool healthy_given, ephemeral_given;   /* an update keeps the stored value when not given */
    const cJSON *metadata;       /* object of strings, never NULL */
    const char *app;             /* may be NULL */
};

enum nc_write_mode {
    NC_REGISTER,                 /* upsert: health and kind as given, last beat = now */
    NC_UPDATE,                   /* upsert: an existing instance keeps health, kind, owner unless given */
    NC_UPDATE_EXISTING,          /* as NC_UPDATE, but the service and the instance must exist */
};

/* Checks a key as every transport must: namespace and name parts, ip, port range, cluster. Fills
 * the defaults (ns, cluster) into *k. */
int nc_check_key(struct nc_key *k, struct naming_err *e);

/* A weight in 0..10000, else NAMING_WEIGHT naming the parameter. */
int nc_check_weight(double weight, struct naming_err *e);

/* ---- instances */
int nc_register(struct app *app, const struct nc_instance *in, enum nc_write_mode mode, uint64_t owner,
                int64_t now_ms, struct naming_err *e);
/* Removes the instance when its ephemeral flag matches; an unknown service or instance is a silent
 * success. With an owner, only an instance that connection owns (others' are left alone). */
int nc_deregister(struct app *app, const struct nc_key *k, bool ephemeral, uint64_t owner, int64_t now_ms,
                  struct naming_err *e);
/* The connection's instances of (ns, service) become exactly `v` (n of them, all with that ns and
 * service): others it owned there go, the rest are registered. One transaction, one change. */
int nc_batch_register(struct app *app, const char *ns, const char *service, const struct nc_instance *v, size_t n,
                      uint64_t owner, int64_t now_ms, struct naming_err *e);
/* Only what is given changes (NULL / unset fields keep theirs). */
struct nc_patch {
    const double *weight;
    const bool *healthy, *enabled;
    const cJSON *metadata;       /* NULL = keep */
    const char *app;             /* NULL = keep */
};
int nc_patch(struct app *app, const struct nc_key *k, const struct nc_patch *p, int64_t now_ms,
             struct naming_err *e);
/* The stored instance (owned record: store_instance_rec_free). Unknown: NAMING_SERVICE_NOT_FOUND or
 * NAMING_INSTANCE_NOT_FOUND with the v1 texts ("no service ... found!", "no ips found for cluster",
 * "no matched ip found!"). */
int nc_detail(struct app *app, const struct nc_key *k, struct instance_rec *out, struct naming_err *e);
/* Manual health (persistent instances; works in every cluster). Logs the transition. */
int nc_set_health(struct app *app, const struct nc_key *k, bool healthy, int64_t now_ms, struct naming_err *e);

/* A v1 beat. `full` (the beat JSON's fields, may be NULL for a light beat) registers an unknown
 * instance, as Nacos does. */
struct nc_beat_full {
    double weight;
    const cJSON *metadata;       /* object of strings */
    bool ephemeral;
};
enum nc_beat_result { NC_BEAT_OK = 10200, NC_BEAT_UNKNOWN = 20404 };
int nc_beat(struct app *app, const struct nc_key *k, const struct nc_beat_full *full, int64_t now_ms,
            int *code, int64_t *interval_ms, struct naming_err *e);

/* Instance timings from metadata (preserved.* keys) or the configured defaults; an unusable value is
 * NAMING_INSTANCE_METADATA (400: not a positive number) or (500: interval above a timeout). */
int nc_instance_timeouts(const struct app *app, const cJSON *metadata, int64_t *interval, int64_t *timeout,
                         int64_t *delete_timeout, struct naming_err *e);

/* ---- services */
struct nc_service {
    const char *ns;
    const char *service;         /* grouped */
    double protect_threshold;
    const char *metadata;        /* normalised JSON text, NULL = keep / none */
    const char *selector;        /* JSON text, NULL = keep / none */
};
int nc_service_create(struct app *app, const struct nc_service *s, int64_t now_ms, struct naming_err *e);
/* Deletes the service and its instances (1.x), telling subscribers. */
int nc_service_delete(struct app *app, const char *ns, const char *service, int64_t now_ms, struct naming_err *e);
/* The 2.x delete: refuses while the service has instances (NAMING_SERVICE_NOT_EMPTY "Service G@@s is
 * not empty, can't be delete. Please unregister instance first"); unknown: NAMING_SERVICE_NOT_FOUND
 * "service G@@s not found!". */
int nc_service_delete_empty(struct app *app, const char *ns, const char *service, int64_t now_ms,
                            struct naming_err *e);
int nc_service_update(struct app *app, const struct nc_service *s, int64_t now_ms, struct naming_err *e);
/* Owned record (store_service_rec_free); NAMING_SERVICE_NOT_FOUND when unknown. */
int nc_service_get(struct app *app, const char *ns, const char *service, struct service_rec *out,
                   struct naming_err *e);
/* The clusters a service's instances are in, each once in instance order, with its health checker
 * as Nacos shows it: "TCP" when its first instance is ephemeral, else "NONE". */
int nc_service_clusters(struct app *app, int64_t service_id, void (*cb)(void *ctx, const char *cluster,
                                                                         const char *checker),
                        void *ctx, struct naming_err *e);
/* Services of (ns, group), 1-based page: *total, and cb for each on the page. */
int nc_service_list(struct app *app, const char *ns, const char *group, long page_no, long page_size,
                    store_service_cb cb, void *ctx, long *total, struct naming_err *e);

/* ---- metadata of many instances at once (instance/metadata/batch) */
struct nc_metadata_batch {
    const char *ns;
    const char *service;          /* grouped */
    const struct nc_key *targets; /* the instances to change (ns/service unused; cluster NULL = DEFAULT) */
    size_t n_targets;             /* 0 = every instance of the service */
    bool ephemeral;               /* only instances of this kind change (consistencyType != "persist") */
    const cJSON *metadata;        /* object of strings: the keys set, or removed */
    bool remove;
};
/* Sets (or removes) the keys on each named instance that exists (the others are skipped), in one
 * change of the service; `updated` (may be NULL) sees each instance changed, as it is now (a view).
 * Unknown service: NAMING_SERVICE_NOT_FOUND; preserved.* timings unusable: NAMING_INSTANCE_METADATA
 * (nothing changes). */
int nc_metadata_batch(struct app *app, const struct nc_metadata_batch *b, int64_t now_ms,
                      void (*updated)(void *ctx, const struct instance_rec *r), void *ctx, struct naming_err *e);

/* ---- clients: who registered and who subscribes, as Nacos 2.x sees them. An ip:port client is an
 * address that registered instances over HTTP (or persistent ones over gRPC): one per (ip, port,
 * kind), id "ip:port#true" (ephemeral) or "ip:port#false", derived from the instances no
 * connection owns. A connection client is a gRPC connection (clients.h), id its connectionId, with
 * the instances it owns and its subscriptions (subs.h). Views valid while app->mu is held. */
struct nc_client {
    char id[400];
    bool connection;              /* a gRPC connection; else an ip:port client */
    bool ephemeral;               /* connections: always */
    int64_t last_updated_ms;      /* ip:port: newest last beat of its instances (virtual); connection: its
                                     last request (real time) */
    char ip[300];                 /* ip:port: the address; connection: the peer's */
    int port;
    const struct client *conn;    /* connection clients */
};
typedef int (*nc_client_cb)(void *ctx, const struct nc_client *c);   /* non-zero stops */
/* Every client: ip:port clients ordered by ip, port, kind, then connections in the order they opened. */
int nc_client_foreach(struct app *app, nc_client_cb cb, void *ctx, struct naming_err *e);
/* One client; NAMING_CLIENT_NOT_FOUND "clientId [ id ] not exist" when unknown. */
int nc_client_get(struct app *app, const char *id, struct nc_client *out, struct naming_err *e);
/* The instances a client registered (views, with ns and service set); NAMING_CLIENT_NOT_FOUND. */
int nc_client_published(struct app *app, const char *id, store_instance_cb cb, void *ctx, struct naming_err *e);
/* A client's subscriptions (ip:port clients have none here); NAMING_CLIENT_NOT_FOUND. */
int nc_client_subscribed(struct app *app, const char *id,
                         void (*cb)(void *ctx, const char *ns, const char *service, const char *clusters), void *ctx,
                         struct naming_err *e);
/* Who registered the instances of (ns, service): cb per instance with its client's id; ip / port
 * (NULL / 0 = any) narrow. An unknown service has none. */
int nc_service_publishers(struct app *app, const char *ns, const char *service, const char *ip, int port,
                          int (*cb)(void *ctx, const char *client_id, const struct instance_rec *r), void *ctx,
                          struct naming_err *e);
/* Who subscribes to (ns, service): each connection client once; ip / port (NULL / 0 = any) narrow
 * (a connection subscriber's port is 0, as in Nacos). */
int nc_service_subscribers(struct app *app, const char *ns, const char *service, const char *ip, int port,
                           nc_client_cb cb, void *ctx, struct naming_err *e);
struct nc_client_counts { long connection, ephemeral_ip_port, persistent_ip_port; };
int nc_client_counts(struct app *app, struct nc_client_counts *out, struct naming_err *e);

/* ---- connection clients (gRPC) */
/* Subscribes (subscribe true) or unsubscribes the connection to (ns, service, clusters). */
int nc_subscribe(struct app *app, uint64_t owner, const char *ns, const char *service, const char *clusters,
                 bool subscribe, struct naming_err *e);
/* The connection ended: its instances go (subscribers told), its subscriptions go, it is forgotten.
 * *removed (may be NULL) gets how many instances went. */
void nc_client_closed(struct app *app, uint64_t owner, int64_t now_ms, long *removed);
/* Closes one connection for the control plane, as a crashed peer: its instances go at once
 * (nc_client_closed) and the transport closes the TCP connection. 0, or -1 when no connection has
 * that connectionId. */
int nc_client_kill(struct app *app, const char *connection_id, int64_t now_ms);
/* The same for every connection; how many there were. */
long nc_client_kill_all(struct app *app, int64_t now_ms);

#endif
