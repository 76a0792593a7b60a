/*
 * naming_list — what a service's instances look like to a client that asks for them: the one
 * rendering behind the v1 `instance/list` answer, the UDP push, the gRPC ServiceQuery / Subscribe
 * answers and NotifySubscriber pushes, and the v2 `instance/list` data. Host selection is shared
 * (cluster filter, disabled hidden, healthy first, protect threshold, healthyOnly) and so is the
 * change stamp (lastRefTime, store.h); the shapes differ only in what the wire forms need
 * (nacos-api.md §2.1, grpc-api.md §3).
 *
 * Rendered answers are cached (list_cache.h) per query and service state, so N subscribers of a
 * service cost one rendering per change.
 * Threading: callable with or without app->mu. Without it, an answer from the cache takes the
 * service's shard lock for a moment and the cache stripe's; a rendering holds the shard while it
 * reads the service (one state, never a torn list), and app->mu too only when the service has
 * persistent instances (SQLite).
 */
#ifndef NACOS_MOCK_NAMING_LIST_H
#define NACOS_MOCK_NAMING_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct app;

enum list_shape {
    LIST_V1 = 0,      /* the union of the 1.x and 2.x instance/list shapes (dom, env, metadata, ...) */
    LIST_GRPC,        /* serviceInfo of the gRPC answers and pushes: `name` plain (clients add the group) */
    LIST_V2,          /* ServiceInfo of /nacos/v2/ns/instance/list: `name` grouped */
};

/* What an answer is built from besides the registry. */
struct list_query {
    enum list_shape shape;
    const char *ns;
    const char *service;       /* grouped */
    const char *clusters;      /* echoed as given; "" = all clusters */
    const char *env;           /* LIST_V1: echoed, "" when absent */
    bool healthy_only;
    bool java_ge_1;            /* LIST_V1: grouped `dom` and host serviceName (Java >= 1.0.0 User-Agent) */
    bool subscribed;           /* LIST_V1: a UDP subscription was taken: cacheMillis 10000 (else 3000) */
};

/* The answer for q at the current registry state, as printed JSON (malloc'd, NUL-terminated, length
 * in *len; caller frees): from the cache when the service has not changed since an identical query,
 * else rendered and cached (only for a service with a change stamp: an unknown or never-changed
 * service answers a fresh stamp, store_stamp_peek). NULL on a store error or out of memory. */
char *naming_list_text(struct app *app, const struct list_query *q, size_t *len);

#endif
