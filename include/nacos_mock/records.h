/*
 * records — the registry's records as the store hands them out (services and instances), and the
 * sweeper's verdict on a due instance. Types only: shared by the store (store.h) and its in-memory
 * half (ephemeral.h) without either including the other.
 * Ownership: records filled by store_*_get own their strings (store_*_rec_free); records handed to
 * callbacks are views valid only during the callback.
 */
#ifndef NACOS_MOCK_RECORDS_H
#define NACOS_MOCK_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

struct service_rec {
    int64_t id;
    char *ns, *name;             /* name is grouped: group@@service */
    double protect_threshold;
    char *metadata;              /* JSON object text */
    char *selector;              /* JSON object text */
    bool explicit_;              /* created by POST /service (kept when empty) */
    int64_t created_ms;
    int64_t empty_since_ms;      /* virtual time it became empty, 0 when it has instances */
    int64_t revision;            /* change stamp of its last change (store_stamp_next), 0 = never
                                    changed; reported as lastRefTime (clients drop data that looks older) */
};

struct instance_rec {
    int64_t id;
    int64_t service_id;
    const char *ns, *service;    /* set in foreach views and by store_instance_get */
    const char *cluster, *ip;
    int port;
    const char *instance_id;
    double weight;
    bool healthy, enabled, ephemeral, marked;
    const char *metadata;        /* JSON object text */
    const char *app;
    int64_t registered_ms, last_beat_ms;
    int64_t hb_interval_ms, hb_timeout_ms, delete_timeout_ms;
    uint64_t owner;              /* the gRPC connection (serial) that registered it, 0 = none. An owned
                                    instance is ephemeral, never swept for missed beats, and goes
                                    when its connection ends (clients.h) */
    void *owned_;                /* internal: backing allocation of an owned record */
};

/* What the sweeper decides for a due instance. */
enum store_verdict { STORE_KEEP, STORE_MARK_UNHEALTHY, STORE_REMOVE };
/* Returns the verdict for r (a view, valid during the call), or -1 to stop. */
typedef int (*store_verdict_cb)(void *ctx, const struct instance_rec *r);
#endif
