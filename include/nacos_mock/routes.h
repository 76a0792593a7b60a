/*
 * routes — the route table {method, path, api name, handler} and central dispatch.
 *
 * Dispatch does, once for every route, what every route needs (as Redis's processCommand does):
 * method/path resolution (unknown under /nacos/v1/ns → 501 `no such api:...`, elsewhere → 404),
 * server status (503 while not UP), the app lock around the handler, and fault + journal hooks.
 * Handlers read as parse → validate → execute → render, fill a struct reply and never touch
 * libmicrohttpd.
 */
#ifndef NACOS_MOCK_ROUTES_H
#define NACOS_MOCK_ROUTES_H

#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

struct app;

typedef void (*route_handler)(struct app *app, struct request *req, struct reply *rep);

enum route_flags {
    ROUTE_NAMING = 1u << 0,   /* under /nacos/v1/ns: obeys server status, may be faulted */
    ROUTE_WRITE = 1u << 1,    /* changes the registry (allowed in WRITE_ONLY) */
    ROUTE_CONTROL = 1u << 2,  /* /__mock/: admin token, never faulted or journalled */
    ROUTE_PREFIX = 1u << 3,   /* path is a prefix (control routes with an id) */
    ROUTE_NO_LOCK = 1u << 4,  /* handler takes the app lock itself */
    ROUTE_PUBLIC = 1u << 9,   /* a control route without the admin token (the console's page: it holds no data) */
};

struct route {
    const char *method;
    const char *path;
    const char *api;          /* name used by fault rules and the journal */
    route_handler fn;
    unsigned flags;
};

/* Phase 1: resolves req->method/req->path, applies fault rules, and runs the handler unless a
 * delay-only fault defers it (rep->deferred, rep->delay_ms). Never fails: every outcome is a reply
 * (404/405/501/503 ...) or a drop. Thread-safe; takes app->mu around registry work. */
void routes_dispatch(struct app *app, struct request *req, struct reply *rep);
/* Phase 2 of a deferred request, once its delay is over: runs the handler. */
void routes_run_deferred(struct app *app, struct request *req, struct reply *rep);
/* Last, once per request, when its answer or drop is final: journal and log line. */
void routes_finish(struct app *app, struct request *req, struct reply *rep);

/* The route for (method, path), or NULL. *path_known tells whether the path exists for another
 * method. */
const struct route *routes_find(const char *method, const char *path, int *path_known);

#endif
