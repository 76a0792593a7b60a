/*
 * clients — the gRPC connections the registry knows (Nacos 2.x's "connection clients") and what each
 * owns. A connection is opened by its transport, set up by its ConnectionSetupRequest (client
 * version, labels, tenant), and closed when it ends however it ends. It owns the instances it
 * registered (store.h `owner`): their keys are kept here so that when the connection ends the naming
 * core removes exactly those (nc_client_closed), without scanning the registry. Subscriptions live
 * in subs.h (keyed by the same serial).
 *
 * Invariants: serials are unique and never reused in a process; a key is listed at most once per
 * client; clients are kept in the order they opened.
 * Threading: callers hold app->mu (the registry lock), except for clients_touch, which the gRPC loop
 * calls on every request without it: the table's own lock orders it against opens and closes (which
 * take that lock too, under app->mu), and `setup` and `last_active_ms` are atomics.
 * Ownership: the table owns its clients and their strings; pointers returned stay valid until that
 * client is closed.
 */
#ifndef NACOS_MOCK_CLIENTS_H
#define NACOS_MOCK_CLIENTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

struct clients;

/* An instance a connection registered: enough to find it again (store_instance_get). */
struct client_key {
    char *ns, *service, *cluster, *ip;   /* one allocation, owned through ns; service grouped */
    int port;
};

struct client {
    uint64_t serial;                     /* the transport's connection serial */
    char id[96];                         /* Nacos connectionId: "<ms since epoch>_<peer ip>_<peer port>" */
    char remote[80];                     /* "ip:port" of the peer */
    int node;                            /* the node (listener) it came in on */
    _Atomic bool setup;                  /* ConnectionSetupRequest received */
    char *client_version;                /* "" until setup */
    char *app_name;                      /* labels.AppName, "" when absent */
    char *tenant;                        /* the setup's tenant, "" when absent */
    cJSON *labels;                       /* object of strings, never NULL */
    int64_t connected_ms;                /* real time */
    _Atomic int64_t last_active_ms;      /* real time */
    struct client_key *owned;
    size_t n_owned, cap_owned;
};

struct clients *clients_create(void);
void clients_free(struct clients *cl);

/* A new connection. NULL when out of memory or the serial is taken. */
struct client *clients_open(struct clients *cl, uint64_t serial, const char *id, const char *remote, int node,
                            int64_t now_ms);
struct client *clients_get(struct clients *cl, uint64_t serial);
/* Without app->mu: the connection made a request at now_ms (real); whether it has been set up (false
 * when unknown). */
bool clients_touch(struct clients *cl, uint64_t serial, int64_t now_ms);
/* By connectionId; NULL when unknown. */
struct client *clients_find(struct clients *cl, const char *id);
/* Records the setup (copies the strings; labels: an object of strings, or NULL). 0, -1 out of memory. */
int client_set_setup(struct client *c, const char *client_version, const char *tenant, const cJSON *labels);
/* Forgets the client (its keys must have been dealt with). */
void clients_close(struct clients *cl, uint64_t serial);

/* Ownership bookkeeping: own is idempotent; disown of a key not owned is a no-op. 0, -1 oom. */
int client_own(struct client *c, const char *ns, const char *service, const char *cluster, const char *ip, int port);
void client_disown(struct client *c, const char *ns, const char *service, const char *cluster, const char *ip,
                   int port);
bool client_owns(const struct client *c, const char *ns, const char *service, const char *cluster, const char *ip,
                 int port);

size_t clients_count(const struct clients *cl);
/* Visits every client oldest first; non-zero from cb stops. */
void clients_foreach(struct clients *cl, int (*cb)(void *ctx, struct client *c), void *ctx);

#endif
