/*
 * routes.c — the route table and central dispatch (see routes.h).
 */
#include "nacos_mock/routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/console.h"
#include "nacos_mock/control.h"
#include "nacos_mock/cs_http.h"
#include "nacos_mock/events.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/journal.h"
#include "nacos_mock/metrics.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/naming_http.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/log.h"
#include "nacos_mock/v2_envelope.h"

#define NS "/nacos/v1/ns"
#define NS2 "/nacos/v2/ns"
#define V2 "/nacos/v2/"
#define CS "/nacos/v1/cs"
#define R(m, p, api, fn, fl) {m, p, api, fn, fl, NULL}
#define RX(m, p, api, fn, fl, api_of) {m, p, api, fn, fl, api_of}
/* the v2 naming routes: what v1 naming routes obey (status, auth, faults), answered in the envelope */
#define N2 (ROUTE_NAMING | ROUTE_V2)
#define W2 (ROUTE_NAMING | ROUTE_V2 | ROUTE_WRITE)
#define CFG (ROUTE_CONFIG | ROUTE_NO_LOCK)

static const struct route ROUTES[] = {
    R("POST", NS "/instance", "register", h_instance_register, ROUTE_NAMING | ROUTE_WRITE | ROUTE_NO_LOCK),
    R("DELETE", NS "/instance", "deregister", h_instance_deregister, ROUTE_NAMING | ROUTE_WRITE | ROUTE_NO_LOCK),
    R("PUT", NS "/instance", "update", h_instance_update, ROUTE_NAMING | ROUTE_WRITE | ROUTE_NO_LOCK),
    R("PATCH", NS "/instance", "patch", h_instance_patch, ROUTE_NAMING | ROUTE_WRITE),
    R("GET", NS "/instance", "detail", h_instance_detail, ROUTE_NAMING),
    R("GET", NS "/instance/list", "list", h_instance_list, ROUTE_NAMING | ROUTE_NO_LOCK),
    R("PUT", NS "/instance/beat", "beat", h_instance_beat, ROUTE_NAMING | ROUTE_WRITE | ROUTE_NO_LOCK),
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
    R("GET", "/nacos/v1/core/cluster/nodes", "nodes", h_core_cluster_nodes, 0),
    R("PUT", NS "/health/instance", "health", h_health_instance, ROUTE_NAMING | ROUTE_WRITE),
    R("PUT", NS "/health", "health", h_health_instance, ROUTE_NAMING | ROUTE_WRITE),
    R("GET", "/nacos/v1/console/health/liveness", "liveness", h_console_liveness, 0),
    R("GET", "/nacos/v1/console/health/readiness", "readiness", h_console_readiness, 0),
    R("GET", "/nacos/serverlist", "serverlist", h_serverlist, 0),
    R("POST", "/nacos/v1/auth/login", "login", h_auth_login, 0),
    R("POST", "/nacos/v1/auth/users/login", "login", h_auth_login, 0),
    /* the v2 Open API (nacos-api.md §5): the same API names as v1, so one rule covers both */
    R("POST", NS2 "/instance", "register", h_v2_instance_register, W2 | ROUTE_NO_LOCK),
    R("DELETE", NS2 "/instance", "deregister", h_v2_instance_deregister, W2 | ROUTE_NO_LOCK),
    R("PUT", NS2 "/instance", "update", h_v2_instance_update, W2 | ROUTE_NO_LOCK),
    R("GET", NS2 "/instance", "detail", h_v2_instance_detail, N2),
    R("GET", NS2 "/instance/list", "list", h_v2_instance_list, N2 | ROUTE_NO_LOCK),
    R("PUT", NS2 "/instance/beat", "beat", h_v2_instance_beat, W2 | ROUTE_NO_LOCK),
    R("PUT", NS2 "/instance/metadata/batch", "metadata.batch", h_v2_instance_metadata_batch, W2),
    R("DELETE", NS2 "/instance/metadata/batch", "metadata.batch", h_v2_instance_metadata_batch, W2),
    R("POST", NS2 "/service", "service.create", h_v2_service_create, W2),
    R("DELETE", NS2 "/service", "service.delete", h_v2_service_delete, W2),
    R("PUT", NS2 "/service", "service.update", h_v2_service_update, W2),
    R("GET", NS2 "/service", "service.get", h_v2_service_get, N2),
    R("GET", NS2 "/service/list", "service.list", h_v2_service_list, N2),
    R("GET", NS2 "/client/list", "clients", h_v2_client_list, N2),
    R("GET", NS2 "/client", "client", h_v2_client_detail, N2),
    R("GET", NS2 "/client/publish/list", "client.published", h_v2_client_published, N2),
    R("GET", NS2 "/client/subscribe/list", "client.subscribed", h_v2_client_subscribed, N2),
    R("GET", NS2 "/client/service/publisher/list", "service.publishers", h_v2_service_publishers, N2),
    R("GET", NS2 "/client/service/subscriber/list", "service.subscribers", h_v2_service_subscribers, N2),
    R("PUT", NS2 "/health/instance", "health", h_v2_health_instance, W2),
    R("PUT", NS2 "/health", "health", h_v2_health_instance, W2),
    R("GET", NS2 "/operator/switches", "switches", h_v2_operator_switches, N2),
    R("PUT", NS2 "/operator/switches", "switches", h_v2_operator_switches_update, W2),
    R("GET", NS2 "/operator/metrics", "metrics", h_v2_operator_metrics, N2),
    R("GET", NS2 "/ops/metrics", "metrics", h_v2_operator_metrics, N2),
    R("GET", V2 "console/health/liveness", "liveness", h_v2_console_liveness, ROUTE_V2),
    R("GET", V2 "console/health/readiness", "readiness", h_v2_console_readiness, ROUTE_V2),
    R("GET", V2 "core/cluster/node/list", "nodes", h_v2_core_node_list, ROUTE_V2),
    R("GET", V2 "core/cluster/node/self", "nodes", h_v2_core_node_self, ROUTE_V2),
    R("GET", V2 "core/cluster/node/self/health", "nodes", h_v2_core_node_self_health, ROUTE_V2),
    RX("GET", CS "/configs", "config.get", h_cs_configs_get, CFG, cs_http_get_api),
    R("POST", CS "/configs", "config.publish", h_cs_configs_publish, CFG | ROUTE_WRITE | ROUTE_LARGE_BODY),
    R("DELETE", CS "/configs", "config.remove", h_cs_configs_remove, CFG | ROUTE_WRITE),
    R("POST", CS "/configs/listener", "config.listen", h_cs_listener, CFG),
    R("GET", CS "/history", "config.history", h_cs_history, CFG),
    R("GET", "/nacos/v2/cs/config", "config.get", h_cs2_config_get, CFG | ROUTE_V2),
    R("POST", "/nacos/v2/cs/config", "config.publish", h_cs2_config_publish, CFG | ROUTE_V2 | ROUTE_WRITE | ROUTE_LARGE_BODY),
    R("DELETE", "/nacos/v2/cs/config", "config.remove", h_cs2_config_remove, CFG | ROUTE_V2 | ROUTE_WRITE),
    R("GET", "/__mock/clock", "mock.clock", h_mock_clock_get, ROUTE_CONTROL),
    R("POST", "/__mock/clock/advance", "mock.clock.advance", h_mock_clock_advance, ROUTE_CONTROL),
    R("POST", "/__mock/faults", "mock.faults", h_mock_faults_add, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("GET", "/__mock/faults", "mock.faults", h_mock_faults_list, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("DELETE", "/__mock/faults", "mock.faults", h_mock_faults_clear, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("DELETE", "/__mock/faults/", "mock.faults", h_mock_faults_delete, ROUTE_CONTROL | ROUTE_NO_LOCK | ROUTE_PREFIX),
    R("GET", "/__mock/faults/", "mock.faults", h_mock_faults_get, ROUTE_CONTROL | ROUTE_NO_LOCK | ROUTE_PREFIX),
    R("GET", "/__mock/status", "mock.status", h_mock_status_get, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("PUT", "/__mock/status", "mock.status", h_mock_status_put, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("POST", "/__mock/forget", "mock.forget", h_mock_forget, ROUTE_CONTROL),
    R("POST", "/__mock/reset", "mock.reset", h_mock_reset, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("GET", "/__mock/registry", "mock.registry", h_mock_registry_get, ROUTE_CONTROL),
    R("POST", "/__mock/registry", "mock.registry", h_mock_registry_post, ROUTE_CONTROL),
    R("GET", "/__mock/requests", "mock.requests", h_mock_requests_get, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("DELETE", "/__mock/requests", "mock.requests", h_mock_requests_clear, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("GET", "/__mock/metrics", "mock.metrics", h_mock_metrics, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("GET", "/__mock/connections", "mock.connections", h_mock_connections_list, ROUTE_CONTROL),
    R("DELETE", "/__mock/connections", "mock.connections", h_mock_connections_close_all, ROUTE_CONTROL),
    R("DELETE", "/__mock/connections/", "mock.connections", h_mock_connections_close, ROUTE_CONTROL | ROUTE_PREFIX),
    R("POST", "/__mock/connections/", "mock.connections", h_mock_connections_reset, ROUTE_CONTROL | ROUTE_PREFIX),
    R("GET", "/__mock/events", "mock.events", h_mock_events, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("GET", "/__mock/nodes", "mock.nodes", h_mock_nodes_list, ROUTE_CONTROL | ROUTE_NO_LOCK),
    R("GET", "/__mock/nodes/", "mock.nodes", h_mock_node_get, ROUTE_CONTROL | ROUTE_NO_LOCK | ROUTE_PREFIX),
    R("PUT", "/__mock/nodes/", "mock.nodes", h_mock_node_put, ROUTE_CONTROL | ROUTE_NO_LOCK | ROUTE_PREFIX),
    R("GET", "/__mock/ui", "mock.ui", h_mock_ui, ROUTE_CONTROL | ROUTE_PUBLIC | ROUTE_NO_LOCK | ROUTE_PREFIX),
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

size_t routes_body_max(const char *method, const char *path)
{
    const struct route *r = routes_find(method, path, NULL);
    return r && (r->flags & ROUTE_LARGE_BODY) ? HTTP_BODY_MAX_LARGE : HTTP_BODY_MAX;
}

static bool status_allows(int status, const struct route *r)
{
    if (status == STATUS_UP) return true;
    if (strcmp(r->api, "metrics") == 0) return true;
    if (status == STATUS_READ_ONLY) return !(r->flags & ROUTE_WRITE);
    if (status == STATUS_WRITE_ONLY) return (r->flags & ROUTE_WRITE) != 0;
    return false;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void run_handler(struct app *app, const struct route *r, struct request *req, struct reply *rep)
{
    int status = app_status_of(app, req->node);   /* the node's own, else the cluster's */
    if ((r->flags & (ROUTE_NAMING | ROUTE_CONFIG)) && !status_allows(status, r)) {
        const char *st = app_status_name(status);
        if (r->flags & ROUTE_V2) v2_error(rep, 503, V2_SERVER_ERROR, "server is %s now, please try again later!", st);
        else reply_textf(rep, 503, "server is %s now, please try again later!", st);
    } else if (r->flags & ROUTE_NO_LOCK) {
        r->fn(app, req, rep);
    } else {
        app_lock(app);
        r->fn(app, req, rep);
        app_unlock(app);
    }
}

const cJSON *request_beat_json(struct request *req)
{
    if (!req->beat_parsed) {
        req->beat_parsed = true;
        const char *beat = params_get(&req->params, "beat");
        req->beat_json = beat ? cJSON_Parse(beat) : NULL;
    }
    return req->beat_json;
}

void request_free(struct request *req)
{
    params_free(&req->params);
    cJSON_Delete(req->beat_json);
    req->beat_json = NULL;
    req->beat_parsed = false;
    if (req->ext_free) req->ext_free(req->ext);
    req->ext = NULL;
    req->ext_free = NULL;
}

const char *request_header(const struct request *req, const char *name)
{
    return req->header_fn ? req->header_fn(req->header_ctx, name) : NULL;
}

/* The request's identity (see request.h), worked out on first use. */
static const struct request_ident *ident_of(struct request *req)
{
    struct request_ident *id = &req->ident;
    if (id->ready) return id;
    id->ready = true;
    const struct params *p = &req->params;
    id->ns = naming_namespace(p);
    const char *sn = params_get(p, "serviceName");
    if (sn) {
        const char *sep = strstr(sn, GROUP_SEP);
        const char *g = params_get(p, "groupName");
        if (sep) {   /* the group part needs its own terminator */
            size_t n = (size_t)(sep - sn) < sizeof id->group_buf - 1 ? (size_t)(sep - sn) : sizeof id->group_buf - 1;
            memcpy(id->group_buf, sn, n);
            id->group_buf[n] = '\0';
            id->group = id->group_buf;
        } else {
            id->group = g ? g : DEFAULT_GROUP;
        }
        id->service = sep ? sep + 2 : sn;
    }
    id->ip = params_get(p, "ip");
    id->cluster = params_get(p, "clusterName");
    long long port = 0;
    const char *ps = params_get(p, "port");
    if (ps && params_strtoll(ps, &port) == 0 && port > 0 && port < 65536) id->port = (int)port;
    const cJSON *b = request_beat_json(req);
    if (b) {
        const cJSON *bip = cJSON_GetObjectItemCaseSensitive(b, "ip");
        const cJSON *bport = cJSON_GetObjectItemCaseSensitive(b, "port");
        const cJSON *bcl = cJSON_GetObjectItemCaseSensitive(b, "cluster");
        if (cJSON_IsString(bip)) id->ip = bip->valuestring;
        if (cJSON_IsNumber(bport) && bport->valuedouble > 0 && bport->valuedouble < 65536) id->port = (int)bport->valuedouble;
        if (cJSON_IsString(bcl) && *bcl->valuestring) id->cluster = bcl->valuestring;
    }
    const char *api = req->api;
    if (!id->cluster && api && (!strcmp(api, "register") || !strcmp(api, "beat") || !strcmp(api, "deregister") ||
                                !strcmp(api, "update")))
        id->cluster = DEFAULT_CLUSTER;
    return id;
}

/* Applies a fired rule to rep (v2: a default body in the envelope). Returns true when the handler
 * must still run (delay only). */
static bool apply_fault(struct app *app, const struct fault_hit *hit, bool v2, struct reply *rep)
{
    snprintf(rep->fault_id, sizeof rep->fault_id, "%s", hit->id);
    rep->delay_ms = hit->delay_ms;
    if (hit->drop) {
        rep->drop = hit->drop;
        return false;
    }
    if (hit->status) {
        if (hit->body) reply_text(rep, hit->status, hit->body);
        else if (v2 && hit->status == 503)
            v2_error(rep, 503, V2_SERVER_ERROR, "server is DOWN now, please try again later!");
        else if (v2)
            v2_error(rep, hit->status, v2_code_of_status(hit->status), "nacos-mock injected fault '%s' (HTTP %d)",
                     hit->id, hit->status);
        else if (hit->status == 503) reply_text(rep, 503, "server is DOWN now, please try again later!");
        else reply_caused(rep, hit->status, "nacos-mock injected fault '%s' (HTTP %d)", hit->id, hit->status);
        return false;
    }
    if (hit->beat_code) {
        nh_beat_answer(rep, app->cfg->beat_interval_ms, hit->beat_code);
        return false;
    }
    return true;
}

void routes_dispatch(struct app *app, struct request *req, struct reply *rep)
{
    if (!req->t0_us) req->t0_us = mono_us();
    req->now_ms = clock_now_ms(&app->clock);

    int known = 0;
    const struct route *r = routes_find(req->method, req->path, &known);
    req->route = r;
    req->api = r ? (r->api_of ? r->api_of(req) : r->api) : NULL;
    if (app_status_of(app, req->node) == STATUS_OFFLINE) {
        rep->drop = DROP_RESET;   /* its listener is closing: what still comes in is reset, as by a dead server */
        return;
    }
    if (!r) {
        if (strncmp(req->path, V2, sizeof V2 - 1) == 0)
            v2_error(rep, known ? 405 : 404, V2_RESOURCE_NOT_FOUND, "no such api: %s %s", req->method, req->path);
        else if (strncmp(req->path, NS "/", sizeof NS) == 0 || strcmp(req->path, NS) == 0)
            reply_textf(rep, 501, "no such api:%s:%s", req->method, req->path);
        else if (strncmp(req->path, "/__mock/", 8) == 0)
            reply_error_json(rep, known ? 405 : 404, "no control endpoint %s %s", req->method, req->path);
        else if (known)
            reply_textf(rep, 405, "method %s not allowed for %s", req->method, req->path);
        else
            reply_textf(rep, 404, "no such path: %s", req->path);
        return;
    }
    if ((r->flags & ROUTE_CONTROL) && !(r->flags & ROUTE_PUBLIC) && !control_authorized(app, req)) {
        reply_error_json(rep, 401, "missing or wrong 'Authorization: Bearer <token>' (the server runs with --admin-token)");
        return;
    }
    bool v2 = (r->flags & ROUTE_V2) != 0;
    if (req->params.nul_key || req->params.overflow) {
        char msg[600];
        if (req->params.nul_key) snprintf(msg, sizeof msg, "Param '%.500s' contains a NUL byte", req->params.nul_key);
        else snprintf(msg, sizeof msg, "too many parameters: at most %d", PARAMS_MAX);
        if (v2) v2_error(rep, 400, V2_PARAMETER_VALIDATE_ERROR, "%s", msg);
        else reply_caused(rep, 400, "%s", msg);
        return;
    }
    if (r->flags & (ROUTE_NAMING | ROUTE_CONFIG)) {
        const char *denied = auth_check(&app->auth, &req->params, req->authorization, clock_real_ms() / 1000);
        if (denied && v2) {
            v2_error(rep, 403, V2_ACCESS_DENIED, "%s", denied);
            return;
        }
        if (denied) {
            reply_text(rep, 403, denied);
            return;
        }
    }
    if (!(r->flags & ROUTE_CONTROL) && app->faults && faults_count(app->faults)) {
        const struct request_ident *id = ident_of(req);
        struct fault_request fr = {.api = req->api, .method = req->method, .path = req->path, .ns = id->ns,
                                   .group = id->group, .service = id->service, .cluster = id->cluster,
                                   .ip = id->ip, .port = id->port, .on_node = true, .node = req->node};
        if (r->flags & ROUTE_CONFIG) cs_http_fault_scope(req, &fr);   /* namespace, group, dataId of configs */
        struct fault_hit hit;
        if (faults_match(app->faults, &fr, req->now_ms, &hit)) {
            events_fault(app->events, req->now_ms, "http", &fr, &hit);
            bool run = apply_fault(app, &hit, (r->flags & ROUTE_V2) != 0, rep);
            fault_hit_free(&hit);
            if (!run) return;
            rep->deferred = true;   /* delay only: answered normally, late */
            return;
        }
    }
    run_handler(app, r, req, rep);
}

void routes_run_deferred(struct app *app, struct request *req, struct reply *rep)
{
    rep->deferred = false;
    req->now_ms = clock_now_ms(&app->clock);
    if (req->route) run_handler(app, req->route, req, rep);
}

static const char *drop_name(enum reply_drop d)
{
    return d == DROP_RESET ? "reset" : d == DROP_CLOSE ? "close" : d == DROP_HANG ? "hang" : NULL;
}

void routes_finish(struct app *app, struct request *req, struct reply *rep)
{
    const struct route *r = req->route;
    double ms = (double)(mono_us() - req->t0_us) / 1000.0;
    int status = rep->drop ? 0 : rep->status;
    const struct request_ident *ident = ident_of(req);
    bool control = (r && (r->flags & ROUTE_CONTROL)) || strncmp(req->path, "/__mock/", 8) == 0;
    if (!control) {
        char grouped[2 * (NAME_MAX_BYTES + 1) + 3];
        if (ident->service) snprintf(grouped, sizeof grouped, "%s" GROUP_SEP "%s", ident->group, ident->service);
        struct journal_in je = {
            .service = ident->service ? grouped : NULL,
            .time_ms = clock_now_ms(&app->clock), .method = req->method, .path = req->path, .api = req->api,
            .params = &req->params, .ip = ident->ip, .port = ident->port, .status = status, .drop = drop_name(rep->drop),
            .fault_id = rep->fault_id[0] ? rep->fault_id : NULL, .duration_ms = ms,
            .node = app_node_label(app, req->node),
        };
        req->seq = journal_record(app->journal, &je);
        metrics_record(app->metrics, "http", req->api, app_node_label(app, req->node), status, ms / 1000.0);
    }
    struct log_request lr = {
        .method = req->method, .path = req->path, .api = req->api,
        .service = params_get(&req->params, "serviceName"), .ip = control ? NULL : ident->ip,
        .port = control ? 0 : ident->port, .status = status, .duration_ms = ms,
        .fault_id = rep->fault_id[0] ? rep->fault_id : NULL, .node = app_node_label(app, req->node),
    };
    log_request(&lr);
}
