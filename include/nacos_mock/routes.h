/*
 * routes — the route table {method, path, api name, handler} and central dispatch.
 *
 * Dispatch does, once for every route, what every route needs (as Redis's processCommand does):
 * method/path resolution (unknown under /nacos/v1/ns → 501 `no such api:...`; under /nacos/v2/ →
 * 404, or 405 for a known path, in the v2 envelope; elsewhere → 404), server status (503 while not
 * UP), auth, the app lock around the handler, and fault + journal hooks. On v2 routes
 * (ROUTE_V2) its own answers — NUL or too many parameters, 403, 503, an injected status without a
 * `body` — come in the v2 envelope too, so a v2 client always parses {code, message, data}.
 * Handlers read as parse → validate → execute → render, fill a struct reply and never touch
 * libmicrohttpd.
 */
#ifndef NACOS_MOCK_ROUTES_H
#define NACOS_MOCK_ROUTES_H

#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

/* Request body caps, by route (routes_body_max): HTTP_BODY_MAX, or for ROUTE_LARGE_BODY routes (config
 * publishes) HTTP_BODY_MAX_LARGE — a 10 MiB content form-encoded takes up to 3 bytes per byte (%XX),
 * plus the other parameters. */
#define HTTP_BODY_MAX (1024 * 1024)
#define HTTP_BODY_MAX_LARGE (32 * 1024 * 1024)

struct app;

typedef void (*route_handler)(struct app *app, struct request *req, struct reply *rep);

enum route_flags {
    ROUTE_NAMING = 1u << 0,   /* naming API (v1 or v2): obeys server status and --auth */
    ROUTE_WRITE = 1u << 1,    /* changes the registry (allowed in WRITE_ONLY) */
    ROUTE_CONTROL = 1u << 2,  /* /__mock/: admin token, never faulted or journalled */
    ROUTE_PREFIX = 1u << 3,   /* path is a prefix (control routes with an id) */
    ROUTE_NO_LOCK = 1u << 4,  /* handler takes the app lock itself, when it needs it (config routes: their
                                 own lock; beats, lists, registers and deregisters: the naming core's
                                 fast paths take a service's shard, app->mu only for SQLite or clients) */
    ROUTE_V2 = 1u << 5,       /* the v2 Open API: dispatch answers its errors in the v2 envelope */
    ROUTE_CONFIG = 1u << 6,   /* the config center: obeys server status and --auth like naming; faults match
                                 its namespace, group and dataId (cs_http_fault_scope) */
    ROUTE_LARGE_BODY = 1u << 7,   /* body up to HTTP_BODY_MAX_LARGE (else HTTP_BODY_MAX) */
    ROUTE_PUBLIC = 1u << 9,   /* a control route without the admin token (the console's page: it holds no data) */
};

struct route {
    const char *method;
    const char *path;
    const char *api;          /* name used by fault rules and the journal */
    route_handler fn;
    unsigned flags;
    const char *(*api_of)(const struct request *req);   /* NULL, or the API name by parameters (GET
                                                           configs: search / get) */
};

/* Phase 1: resolves req->method/req->path, applies fault rules, and runs the handler unless a
 * delay-only fault defers it (rep->deferred, rep->delay_ms). Never fails: every outcome is a reply
 * (404/405/501/503 ...) or a drop. Thread-safe; takes app->mu around registry work. */
void routes_dispatch(struct app *app, struct request *req, struct reply *rep);
/* Phase 2 of a deferred request, once its delay is over: runs the handler. */
void routes_run_deferred(struct app *app, struct request *req, struct reply *rep);
/* Last, once per request, when its answer or drop is final: journal and log line. */
void routes_finish(struct app *app, struct request *req, struct reply *rep);

/* The body cap of the route for (method, path): HTTP_BODY_MAX_LARGE or HTTP_BODY_MAX. */
size_t routes_body_max(const char *method, const char *path);

/* The route for (method, path), or NULL. *path_known tells whether the path exists for another
 * method. */
const struct route *routes_find(const char *method, const char *path, int *path_known);

#endif
