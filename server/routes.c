/*
 * routes.c — the route table and central dispatch (see routes.h).
 */
#include "nacos_mock/routes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/control.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/log.h"

#define NS "/nacos/v1/ns"
#define R(m, p, api, fn, fl) {m, p, api, fn, fl}

static const struct route ROUTES[] = {
    R("POST", NS "/instance", "register", h_instance_register, ROUTE_NAMING | ROUTE_WRITE),
    R("DELETE", NS "/instance", "deregister", h_instance_deregister, ROUTE_NAMING | ROUTE_WRITE),
    R("PUT", NS "/instance", "update", h_instance_update, ROUTE_NAMING | ROUTE_WRITE),
    R("PATCH", NS "/instance", "patch", h_instance_patch, ROUTE_NAMING | ROUTE_WRITE),
    R("GET", NS "/instance", "detail", h_instance_detail, ROUTE_NAMING),
    R("GET", NS "/instance/list", "list", h_instance_list, ROUTE_NAMING),
    R("PUT", NS "/instance/beat", "beat", h_instance_beat, ROUTE_NAMING | ROUTE_WRITE),
    R("GET", NS "/instance/statuses", "statuses", h_instance_statuses, ROUTE_NAMING),
    R("PUT", NS "/instance/statuses", "statuses", h_instance_statuses, ROUTE_NAMING),
    R("POST", NS "/instance/statuses", "statuses", h_instance_statuses, ROUTE_NAMING),
    R("PUT", NS "/instance/metadata/batch", "metadata.batch", h_instance_metadata_batch, ROUTE_NAMING | ROUTE_WRITE),
    R("DELETE", NS "/instance/metadata/batch", "metadata.batch", h_instance_metadata_batch,
      ROUTE_NAMING | ROUTE_WRITE),
    R("POST", NS "/service", "service.create", h_service_create, ROUTE_NAMING | ROUTE_WRITE),
    R("DELETE", NS "/service", "service.delete", h_service_delete, ROUTE_NAMING | ROUTE_WRITE),
    R("PUT", NS "/service", "service.update", h_service_update, ROUTE_NAMING | ROUTE_WRITE),
    R("GET", NS "/service", "service.get", h_service_get, ROUTE_NAMING),
    R("GET", NS "/service/list", "service.list", h_service_list, ROUTE_NAMING),
    R("GET", NS "/operator/metrics", "metrics", h_operator_metrics, ROUTE_NAMING),
    R("GET", NS "/ops/metrics", "metrics", h_operator_metrics, ROUTE_NAMING),
    R("GET", NS "/operator/servers", "servers", h_operator_servers, ROUTE_NAMING),
    R("GET", NS "/operator/switches", "switches", h_operator_switches, ROUTE_NAMING),
    R("PUT", NS "/health/instance", "health", h_health_instance, ROUTE_NAMING | ROUTE_WRITE),
    R("PUT", NS "/health", "health", h_health_instance, ROUTE_NAMING | ROUTE_WRITE),
    R("GET", "/nacos/v1/console/health/liveness", "liveness", h_console_liveness, 0),
    R("GET", "/nacos/v1/console/health/readiness", "readiness", h_console_readiness, 0),
    R("GET", "/nacos/serverlist", "serverlist", h_serverlist, 0),
    R("POST", "/nacos/v1/auth/login", "login", h_auth_login, 0),
    R("POST", "/nacos/v1/auth/users/login", "login", h_auth_login, 0),
    R("GET", "/__mock/clock", "mock.clock", h_mock_clock_get, ROUTE_CONTROL),
    R("POST", "/__mock/clock/advance", "mock.clock.advance", h_mock_clock_advance, ROUTE_CONTROL),
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

const struct route *routes_find(const char *method, const char *path, int *path_known)
{
    int known = 0;
    size_t plen = strlen(path);
    /* Spring matches a trailing slash too */
    if (plen > 1 && path[plen - 1] == '/') plen--;
    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *r = &ROUTES[i];
        size_t rlen = strlen(r->path);
        bool match = (r->flags & ROUTE_PREFIX) ? strncmp(path, r->path, rlen) == 0
                                               : (rlen == plen && memcmp(path, r->path, rlen) == 0);
        if (!match) continue;
        known = 1;
        if (strcmp(r->method, method) == 0) {
            if (path_known) *path_known = 1;
            return r;
        }
    }
    if (path_known) *path_known = known;
    return NULL;
}

static bool status_allows(int status, const struct route *r)
{
    if (status == STATUS_UP) return true;
    if (strcmp(r->api, "metrics") == 0) return true;
    if (status == STATUS_READ_ONLY) return !(r->flags & ROUTE_WRITE);
    if (status == STATUS_WRITE_ONLY) return (r->flags & ROUTE_WRITE) != 0;
    return false;
}

void routes_dispatch(struct app *app, struct request *req, struct reply *rep)
{
    struct timespec ts0;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    req->now_ms = clock_now_ms(&app->clock);

    int known = 0;
    const struct route *r = routes_find(req->method, req->path, &known);
    req->route = r;
    if (!r) {
        if (strncmp(req->path, NS "/", sizeof NS) == 0 || strcmp(req->path, NS) == 0)
            reply_textf(rep, 501, "no such api:%s:%s", req->method, req->path);
        else if (strncmp(req->path, "/__mock/", 8) == 0)
            reply_error_json(rep, known ? 405 : 404, "no control endpoint %s %s", req->method, req->path);
        else if (known)
            reply_textf(rep, 405, "method %s not allowed for %s", req->method, req->path);
        else
            reply_textf(rep, 404, "no such path: %s", req->path);
    } else if ((r->flags & ROUTE_CONTROL) && !control_authorized(app, req)) {
        reply_error_json(rep, 401, "missing or wrong 'Authorization: Bearer <token>' (the server runs with --admin-token)");
    } else if (req->params.nul_key) {
        reply_caused(rep, 400, "Param '%s' contains a NUL byte", req->params.nul_key);
    } else if (req->params.overflow) {
        reply_caused(rep, 400, "too many parameters: at most %d", PARAMS_MAX);
    } else if ((r->flags & ROUTE_NAMING) && !status_allows(atomic_load(&app->status), r)) {
        reply_textf(rep, 503, "server is %s now, please try again later!", app_status_name(atomic_load(&app->status)));
    } else if (r->flags & ROUTE_NO_LOCK) {
        r->fn(app, req, rep);
    } else {
        pthread_mutex_lock(&app->mu);
        r->fn(app, req, rep);
        pthread_mutex_unlock(&app->mu);
    }

    struct timespec ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    double ms = (double)(ts1.tv_sec - ts0.tv_sec) * 1e3 + (double)(ts1.tv_nsec - ts0.tv_nsec) / 1e6;
    long long port = 0;
    const char *ps = params_get(&req->params, "port");
    if (ps) params_strtoll(ps, &port);
    struct log_request lr = {
        .method = req->method, .path = req->path, .api = r ? r->api : NULL,
        .service = params_get(&req->params, "serviceName"), .ip = params_get(&req->params, "ip"),
        .port = (int)port, .status = rep->status, .duration_ms = ms, .fault_id = NULL,
    };
    log_request(&lr);
}
