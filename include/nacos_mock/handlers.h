/*
 * handlers — the Nacos endpoints, one family per file (naming_instance.c, naming_service.c,
 * naming_operator.c). Each handler runs with app->mu held (unless its route says ROUTE_NO_LOCK),
 * reads req, fills rep, and never touches libmicrohttpd.
 */
#ifndef NACOS_MOCK_HANDLERS_H
#define NACOS_MOCK_HANDLERS_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

struct app;

#define H(name) void name(struct app *app, struct request *req, struct reply *rep)
/* naming_instance.c */
H(h_instance_register);
H(h_instance_deregister);
H(h_instance_update);
H(h_instance_patch);
H(h_instance_detail);
H(h_instance_list);
H(h_instance_beat);
H(h_instance_statuses);
H(h_instance_metadata_batch);
/* naming_service.c */
H(h_service_create);
H(h_service_delete);
H(h_service_update);
H(h_service_get);
H(h_service_list);
/* naming_operator.c */
H(h_operator_metrics);
H(h_operator_servers);
H(h_operator_switches);
H(h_health_instance);
H(h_console_liveness);
H(h_console_readiness);
H(h_serverlist);
H(h_auth_login);
#undef H

/* What an instance/list answer (or a UDP push of it) is built from. */
struct list_query {
    const char *ns;
    const char *service;       /* grouped */
    const char *clusters;      /* echoed as given; "" = all clusters */
    const char *env;           /* echoed, "" when absent */
    bool healthy_only;
    bool java_ge_1;            /* grouped `dom` and host serviceName (Java >= 1.0.0 User-Agent) */
    bool subscribed;           /* a UDP subscription was taken: cacheMillis 10000 */
};

/* The union of the 1.x and 2.x instance-list shapes for q at the current registry state, as printed
 * JSON (malloc'd, NUL-terminated, length in *len; caller frees): from the rendered-list cache when
 * the service has not changed since an identical query (list_cache.h), else rendered and cached
 * (only for a service with a change stamp: a never-changed or unknown service answers
 * lastRefTime = now). Caller holds app->mu. NULL on store error. */
char *naming_list_text(struct app *app, const struct list_query *q, size_t *len);

/* Timeouts of an instance from its metadata (preserved.* keys) or the configured defaults. On an
 * unusable value fills rep with a 400/500 naming the key and returns -1. */
int naming_instance_timeouts_or_reply(const struct app *app, const cJSON *metadata, int64_t *interval,
                                      int64_t *timeout, int64_t *delete_timeout, struct reply *rep);

#endif
