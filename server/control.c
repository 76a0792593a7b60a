/*
 * control.c — /__mock/ handlers (see control.h and control-api.md).
 */
#include "nacos_mock/control.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clients.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/cs_core.h"
#include "nacos_mock/events.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/journal.h"
#include "nacos_mock/list_cache.h"
#include "nacos_mock/metrics.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/registry.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/sweeper.h"

cJSON *control_body_or_reply(const struct request *req, struct reply *rep, bool allow_empty, const char *expected)
{
    const char *b = req->body;
    while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t') b++;
    if (!*b) {
        if (allow_empty) return cJSON_CreateObject();
        reply_error_json(rep, 400, "request body is empty; expected a JSON object %s", expected);
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, false);
    if (!j) {
        reply_error_json(rep, 400, "request body is not valid JSON (near byte %ld); expected a JSON object %s",
                         end ? (long)(end - req->body) : 0L, expected);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        reply_error_json(rep, 400, "request body must be a JSON object %s", expected);
        return NULL;
    }
    return j;
}

bool control_authorized(const struct app *app, const struct request *req)
{
    const char *t = app->cfg->admin_token;
    if (!t || !*t) return true;
    const char *a = req->authorization;
    return a && strncmp(a, "Bearer ", 7) == 0 && strcmp(a + 7, t) == 0;
}

static cJSON *clock_json(struct app *app)
{
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "nowMs", clock_now_ms(&app->clock));
    json_add_int(o, "offsetMs", clock_offset_ms(&app->clock));
    return o;
}

void h_mock_clock_get(struct app *app, struct request *req, struct reply *rep)
{
    reply_json(rep, 200, clock_json(app));
}

void h_mock_clock_advance(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *body = control_body_or_reply(req, rep, false, "{\"ms\": 16000} (field 'ms')");
    if (!body) return;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(body, "ms");
    if (!cJSON_IsNumber(ms) || ms->valuedouble < 0 || ms->valuedouble != floor(ms->valuedouble) ||
        ms->valuedouble > 1e13) {
        cJSON_Delete(body);
        reply_error_json(rep, 400, "field 'ms' must be a non-negative integer number of milliseconds");
        return;
    }
    clock_advance(&app->clock, (int64_t)ms->valuedouble);
    int64_t now = clock_now_ms(&app->clock);
    events_clock(app->events, now, clock_offset_ms(&app->clock), (int64_t)ms->valuedouble);
    cJSON_Delete(body);
    struct sweep_result r = {0};
    if (sweeper_run_once(app, now, 0, &r) < 0) {
        sweep_result_free(&r);
        reply_error_json(rep, 500, "health sweep failed");
        return;
    }
    /* written as text, in a buffer sized once: a sweep of 100,000 instances reports 100,000 changes */
    struct json_text t = {0};
    size_t need = 128, longest = 0;
    for (size_t i = 0; i < r.n; i++) {
        size_t n = strlen(r.v[i].instance_id) + strlen(r.v[i].ns) + strlen(r.v[i].service);
        need += 128 + n;
        if (n > longest) longest = n;
    }
    json_text_reserve(&t, need + 6 * longest);   /* a string reserves room for escaping it */
    JSON_TEXT_LIT(&t, "{\"nowMs\":");
    json_text_int(&t, now);
    JSON_TEXT_LIT(&t, ",\"offsetMs\":");
    json_text_int(&t, clock_offset_ms(&app->clock));
    JSON_TEXT_LIT(&t, ",\"changes\":[");
    for (size_t i = 0; i < r.n; i++) {
        const struct sweep_change *c = &r.v[i];
        if (i) JSON_TEXT_LIT(&t, ",");
        JSON_TEXT_LIT(&t, "{\"instanceId\":");
        json_text_string(&t, c->instance_id);
        JSON_TEXT_LIT(&t, ",\"namespaceId\":");
        json_text_string(&t, c->ns);
        JSON_TEXT_LIT(&t, ",\"serviceName\":");
        json_text_string(&t, c->service);
        JSON_TEXT_LIT(&t, ",\"from\":");
        json_text_string(&t, c->from);
        JSON_TEXT_LIT(&t, ",\"to\":");
        json_text_string(&t, c->to);
        JSON_TEXT_LIT(&t, ",\"sinceLastBeatMs\":");
        json_text_int(&t, c->since_beat_ms);
        JSON_TEXT_LIT(&t, "}");
    }
    JSON_TEXT_LIT(&t, "]}");
    size_t n = r.n;
    sweep_result_free(&r);
    if (t.oom) {
        free(t.p);
        reply_error_json(rep, 500, "out of memory rendering %zu changes", n);
        return;
    }
    reply_json_owned(rep, 200, t.p, t.len);
}

/* ------------------------------------------------------------------ faults */

void h_mock_faults_add(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *body = control_body_or_reply(req, rep, false, "(a fault rule with fields 'match' and 'action')"),
          *stored = NULL;
    if (!body) return;
    char err[512];
    int rc = faults_add_json(app->faults, body, clock_now_ms(&app->clock), false, &stored, err, sizeof err);
    cJSON_Delete(body);
    if (rc == -2) reply_error_json(rep, 409, "%s", err);
    else if (rc) reply_error_json(rep, 400, "%s", err);
    else reply_json(rep, 201, stored);
}

void h_mock_faults_list(struct app *app, struct request *req, struct reply *rep)
{
    reply_json(rep, 200, faults_list_json(app->faults, clock_now_ms(&app->clock)));
}

void h_mock_faults_delete(struct app *app, struct request *req, struct reply *rep)
{
    const char *id = req->path + strlen("/__mock/faults/");
    if (!*id) {
        reply_error_json(rep, 400, "a fault id is required after /__mock/faults/");
        return;
    }
    if (faults_delete(app->faults, id)) reply_error_json(rep, 404, "no fault rule with id '%s'", id);
    else reply_text(rep, 204, "");
}

void h_mock_faults_get(struct app *app, struct request *req, struct reply *rep)
{
    const char *id = req->path + strlen("/__mock/faults/");
    cJSON *o = *id ? faults_get_json(app->faults, id, clock_now_ms(&app->clock)) : NULL;
    if (o) reply_json(rep, 200, o);
    else reply_error_json(rep, 404, "no fault rule with id '%s'", id);
}

void h_mock_faults_clear(struct app *app, struct request *req, struct reply *rep)
{
    faults_clear(app->faults);
    reply_text(rep, 204, "");
}

/* ------------------------------------------------------------------ server state */

static cJSON *status_json(struct app *app)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", app_status_name(atomic_load(&app->status)));
    return o;
}

void h_mock_status_get(struct app *app, struct request *req, struct reply *rep)
{
    reply_json(rep, 200, status_json(app));
}

void h_mock_status_put(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *body = control_body_or_reply(req, rep, false, "{\"status\": \"DOWN\"} (field 'status')");
    if (!body) return;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "status");
    int s = cJSON_IsString(st) ? app_status_parse(st->valuestring) : -1;
    cJSON_Delete(body);
    if (s < 0 || s == STATUS_OFFLINE) {
        reply_error_json(rep, 400, "field 'status' must be one of UP, DOWN, STARTING, PAUSED, WRITE_ONLY, READ_ONLY%s",
                         s == STATUS_OFFLINE ? " (OFFLINE is a node's: PUT /__mock/nodes/{i})" : "");
        return;
    }
    int was = atomic_exchange(&app->status, s);
    if (was != s) events_status(app->events, clock_now_ms(&app->clock), app_status_name(was), app_status_name(s));
    reply_json(rep, 200, status_json(app));
}

/* Optional {namespaceId, serviceName[, groupName]} narrowing; fills ns/grouped (NULL = all). */
static int scope_or_reply(const cJSON *body, struct reply *rep, const char **ns, char *grouped, size_t glen,
                          bool *has_service)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "namespaceId");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "serviceName");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(body, "groupName");
    *ns = NULL;
    *has_service = false;
    if (n && !cJSON_IsNull(n)) {
        if (!cJSON_IsString(n) || !*n->valuestring) {
            reply_error_json(rep, 400, "field 'namespaceId' must be a non-empty string");
            return -1;
        }
        *ns = n->valuestring;
    }
    if (g && !cJSON_IsNull(g) && (!cJSON_IsString(g) || !*g->valuestring)) {
        reply_error_json(rep, 400, "field 'groupName' must be a non-empty string");
        return -1;
    }
    if (s && !cJSON_IsNull(s)) {
        if (!cJSON_IsString(s) || !*s->valuestring) {
            reply_error_json(rep, 400, "field 'serviceName' must be a non-empty string");
            return -1;
        }
        if (strstr(s->valuestring, GROUP_SEP)) snprintf(grouped, glen, "%s", s->valuestring);
        else snprintf(grouped, glen, "%s" GROUP_SEP "%s", cJSON_IsString(g) ? g->valuestring : DEFAULT_GROUP,
                      s->valuestring);
        *has_service = true;
        if (!*ns) *ns = DEFAULT_NAMESPACE;
    }
    return 0;
}

void h_mock_forget(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *body = control_body_or_reply(req, rep, true, "(optional fields 'namespaceId', 'serviceName', 'groupName')");
    if (!body) return;
    const char *ns;
    char grouped[GROUPED_MAX];
    bool has_service;
    if (scope_or_reply(body, rep, &ns, grouped, sizeof grouped, &has_service)) {
        cJSON_Delete(body);
        return;
    }
    long removed = 0, conns = 0;
    /* a restarted Nacos has lost both; the subscriptions of exactly these services go, so nobody is
     * pushed; un-narrowed, every gRPC connection goes too (a restarted server has none): their
     * subscriptions go with them and their clients reconnect and redo their registrations */
    long subs = subs_forget_udp(app->subs, ns, has_service ? grouped : NULL);
    if (!ns && !has_service) {
        struct subs_stats ss;
        subs_get_stats(app->subs, &ss);
        subs += ss.conn;
    }
    int rc = store_forget_ephemeral(app->store, ns, has_service ? grouped : NULL, clock_now_ms(&app->clock),
                                    clock_real_ms(), NULL, NULL, &removed);
    cJSON_Delete(body);
    if (rc) {
        reply_error_json(rep, 500, "registry store error: %s", store_errmsg(app->store));
        return;
    }
    if (!ns && !has_service) conns = nc_client_kill_all(app, clock_now_ms(&app->clock));
    events_registry(app->events, EV_REMOVED, clock_now_ms(&app->clock), ns, has_service ? grouped : NULL, "forget",
                    removed);
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "removed", removed);
    json_add_int(o, "subscriptions", subs);
    json_add_int(o, "connections", conns);
    reply_json(rep, 200, o);
}

/* The reset itself, with app->mu held (nodes are brought back UP after it, without the lock). */
static void reset_locked(struct app *app, struct reply *rep)
{
    struct cs_error cerr;
    if (store_clear(app->store)) {
        reply_error_json(rep, 500, "registry store error: %s", store_errmsg(app->store));
        return;
    }
    if (cs_clear(app->cs, "control", &cerr)) {   /* listeners of every config are woken and pushed */
        reply_error_json(rep, 500, "%s", cerr.msg);
        return;
    }
    list_cache_clear(app->list_cache);   /* not needed for correctness (store generation); frees memory */
    subs_forget_udp(app->subs, NULL, NULL);
    nc_client_kill_all(app, clock_now_ms(&app->clock));   /* their instances went above */
    clock_reset(&app->clock);
    faults_reset(app->faults, clock_now_ms(&app->clock));   /* forMs windows restart at the reset */
    journal_clear(app->journal);
    metrics_reset(app->metrics);
    int was = atomic_exchange(&app->status, STATUS_UP);
    events_registry(app->events, EV_REMOVED, clock_now_ms(&app->clock), NULL, NULL, "reset", -1);
    if (was != STATUS_UP) events_status(app->events, clock_now_ms(&app->clock), app_status_name(was), "UP");
    char err[512] = "";
    if (app->cfg->fixtures_file && registry_load_file(app, app->cfg->fixtures_file, err, sizeof err)) {
        reply_error_json(rep, 500, "reset done, but reloading --fixtures failed: %s", err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "reset", true);
    reply_json(rep, 200, o);
}

void h_mock_reset(struct app *app, struct request *req, struct reply *rep)
{
    app_lock(app);
    reset_locked(app, rep);
    app_unlock(app);
    /* every node UP and listening again (never with app->mu held: see app_transport.set_node) */
    for (int i = 0; rep->status == 200 && i < app->n_nodes && app->transport.set_node; i++) {
        if (atomic_load(&app->nodes[i].status) == STATUS_UP && !atomic_load(&app->nodes[i].up_at_ms) &&
            atomic_load(&app->nodes[i].listening))
            continue;
        char err[300];
        if (app->transport.set_node(app->transport.ctx, i, STATUS_UP, 0, err, sizeof err))
            reply_error_json(rep, 500, "reset done, but node %d did not come back: %s", i, err);
    }
}

void h_mock_registry_get(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *o = registry_dump(app);
    if (!o) reply_error_json(rep, 500, "registry store error: %s", store_errmsg(app->store));
    else reply_json(rep, 200, o);
}

void h_mock_registry_post(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *body = control_body_or_reply(req, rep, false, "(a registry snapshot with field 'namespaces')");
    if (!body) return;
    char err[512];
    struct registry_counts n = {0};
    int rc = registry_load(app, body, &n, err, sizeof err);
    cJSON_Delete(body);
    if (rc == -1) {
        reply_error_json(rep, 400, "%s", err);
        return;
    }
    if (rc) {
        reply_error_json(rep, 500, "%s", err);
        return;
    }
    events_registry(app->events, EV_REGISTERED, clock_now_ms(&app->clock), NULL, NULL, "snapshot loaded", n.instances);
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "services", n.services);
    json_add_int(o, "instances", n.instances);
    json_add_int(o, "configs", n.configs);
    reply_json(rep, 200, o);
}

/* ------------------------------------------------------------------ journal */

int control_query_int_or_reply(const struct request *req, struct reply *rep, const char *key, long long min,
                               long long max, long long *out)
{
    const char *v = params_get(&req->params, key);
    if (!v) return 0;
    long long n;
    if (params_strtoll(v, &n) || n < min || n > max) {
        reply_error_json(rep, 400, "parameter '%s' must be an integer from %lld to %lld, got \"%.40s\"", key, min, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

void h_mock_requests_get(struct app *app, struct request *req, struct reply *rep)
{
    long long port = 0, status = 0, since = 0, limit = -1, node = -1;
    if (control_query_int_or_reply(req, rep, "port", 1, 65535, &port) ||
        control_query_int_or_reply(req, rep, "node", 0, app->n_nodes - 1, &node) ||
        control_query_int_or_reply(req, rep, "status", 100, 599, &status) ||
        control_query_int_or_reply(req, rep, "since", 0, (long long)1 << 53, &since) ||
        control_query_int_or_reply(req, rep, "limit", 0, 100000000, &limit))
        return;
    struct journal_query q = {
        .api = params_get(&req->params, "api"), .service = params_get(&req->params, "serviceName"),
        .ip = params_get(&req->params, "ip"), .transport = params_get(&req->params, "transport"),
        .port = (int)port, .status = (int)status, .since = (uint64_t)since,
        .limit = (long)limit, .node = (int)node,
    };
    reply_json(rep, 200, journal_query_json(app->journal, &q));
}

void h_mock_requests_clear(struct app *app, struct request *req, struct reply *rep)
{
    journal_clear(app->journal);
    reply_text(rep, 204, "");
}

/* clients_foreach: counts connections by node (ctx: long[APP_MAX_NODES]). */
static int count_node_conn(void *ctx, struct client *c)
{
    long *n = ctx;
    if (c->node >= 0 && c->node < APP_MAX_NODES) n[c->node]++;
    return 0;
}

void h_mock_metrics(struct app *app, struct request *req, struct reply *rep)
{
    struct metrics_gauges g = {.faults = app->faults, .now_ms = clock_now_ms(&app->clock),
                               .up = atomic_load(&app->status) == STATUS_UP,
                               .uptime_s = (double)(clock_real_ms() - app->started_ms) / 1000.0};
    struct subs_stats ss;
    subs_get_stats(app->subs, &ss);
    g.udp_subscribers = ss.udp;
    g.grpc_subscribers = ss.conn;
    app_lock(app);
    store_counts(app->store, &g.services, &g.instances, &g.healthy);
    g.grpc_connections = (long)clients_count(app->clients);
    g.n_nodes = app->n_nodes;
    if (app->n_nodes > 1) clients_foreach(app->clients, count_node_conn, g.node_connections);
    app_unlock(app);
    for (int i = 0; i < app->n_nodes && i < METRICS_MAX_NODES; i++)
        g.node_status[i] = app_status_name(atomic_load(&app->nodes[i].status));
    list_cache_stats(app->list_cache, NULL, &g.list_cache_bytes, &g.list_cache_hits, &g.list_cache_misses,
                     &g.locks[2].t);
    if (LOCKSTAT_ENABLED) {
        g.locks[0].name = "registry";
        lockstat_add_to(&app->mu_stat, &g.locks[0].t);
        g.locks[1].name = "shard";
        store_lockstat(app->store, &g.locks[1].t);
        g.locks[2].name = "list_cache";
        g.n_locks = 3;
    }
    struct cs_listen_stats cl = {0};
    if (app->cs) cs_listen_get_stats(cs_listeners(app->cs), &cl);
    g.config_poll_keys = cl.poll_keys;
    g.config_conn_keys = cl.conn_keys;
    g.config_pushes = cl.pushes;
    size_t len = 0;
    char *text = metrics_render(app->metrics, &g, &len);
    if (!text) {
        reply_error_json(rep, 500, "out of memory");
        return;
    }
    free(rep->body);
    rep->status = 200;
    rep->body = text;
    rep->len = len;
    rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ------------------------------------------------------------------ gRPC connections */

struct conn_list { struct app *app; cJSON *arr; };

static int add_connection(void *ctx, struct client *c)
{
    struct conn_list *l = ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", c->id);
    json_add_int(o, "node", c->node);
    cJSON_AddStringToObject(o, "remoteAddr", c->remote);
    cJSON_AddStringToObject(o, "clientVersion", c->client_version);
    cJSON_AddItemToObject(o, "labels", cJSON_Duplicate(c->labels, true));
    cJSON_AddStringToObject(o, "appName", c->app_name);
    cJSON_AddStringToObject(o, "tenant", c->tenant);
    cJSON_AddBoolToObject(o, "setUp", c->setup);
    json_add_int(o, "connectedAtMs", c->connected_ms);
    json_add_int(o, "lastActiveMs", c->last_active_ms);
    json_add_int(o, "instances", (long long)c->n_owned);
    json_add_int(o, "subscriptions", subs_count_conn(l->app->subs, c->serial));
    cJSON_AddItemToArray(l->arr, o);
    return 0;
}

void h_mock_connections_list(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *o = cJSON_CreateObject();
    struct conn_list l = {app, cJSON_AddArrayToObject(o, "connections")};
    clients_foreach(app->clients, add_connection, &l);
    reply_json(rep, 200, o);
}

void h_mock_connections_close_all(struct app *app, struct request *req, struct reply *rep)
{
    nc_client_kill_all(app, clock_now_ms(&app->clock));
    reply_text(rep, 204, "");
}

void h_mock_connections_close(struct app *app, struct request *req, struct reply *rep)
{
    const char *id = req->path + strlen("/__mock/connections/");
    if (!*id) {
        reply_error_json(rep, 400, "a connection id is required after /__mock/connections/");
        return;
    }
    if (nc_client_kill(app, id, clock_now_ms(&app->clock))) reply_error_json(rep, 404, "no gRPC connection with id '%s'", id);
    else reply_text(rep, 204, "");
}

/* POST /__mock/connections/{id}/reset {"serverIp"?, "serverPort"?}: a ConnectResetRequest. */
void h_mock_connections_reset(struct app *app, struct request *req, struct reply *rep)
{
    const char *rest = req->path + strlen("/__mock/connections/");
    const char *slash = strrchr(rest, '/');
    if (!slash || slash == rest || strcmp(slash, "/reset")) {
        reply_error_json(rep, 404, "no control endpoint POST %s (POST /__mock/connections/{id}/reset)", req->path);
        return;
    }
    char id[128];
    snprintf(id, sizeof id, "%.*s", (int)(slash - rest), rest);
    cJSON *body = control_body_or_reply(req, rep, true, "(optional fields 'serverIp', 'serverPort')");
    if (!body) return;
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(body, "serverIp");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(body, "serverPort");
    const char *why = NULL;
    if (ip && !cJSON_IsNull(ip) && (!cJSON_IsString(ip) || !*ip->valuestring))
        why = "field 'serverIp' must be a non-empty string";
    else if (port && !cJSON_IsNull(port) &&
             (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 ||
              port->valuedouble != floor(port->valuedouble)))
        why = "field 'serverPort' must be a port number from 1 to 65535";
    if (why) {
        cJSON_Delete(body);
        reply_error_json(rep, 400, "%s", why);
        return;
    }
    const struct client *c = clients_find(app->clients, id);
    int rc = -1;
    if (c && app->transport.reset_conn)
        rc = app->transport.reset_conn(app->transport.ctx, c->serial, cJSON_IsString(ip) ? ip->valuestring : NULL,
                                       cJSON_IsNumber(port) ? (int)port->valuedouble : 0);
    cJSON_Delete(body);
    if (!c) {
        reply_error_json(rep, 404, "no gRPC connection with id '%s'", id);
    } else if (rc) {
        reply_error_json(rep, 409, "connection '%s' has no open bi-stream to send ConnectResetRequest on", id);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddBoolToObject(o, "resetSent", true);
        reply_json(rep, 202, o);
    }
}

/* ------------------------------------------------------------------ nodes (--nodes) */

/* A node as GET /__mock/nodes lists it; conns: its gRPC connections. */
static cJSON *node_json(struct app *app, int i, long conns)
{
    const struct app_node *n = &app->nodes[i];
    const char *host = app->cfg->host;
    bool v6 = strchr(host, ':') != NULL;
    char url[320];
    snprintf(url, sizeof url, "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", atomic_load(&n->http_port));
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "node", i);
    cJSON_AddStringToObject(o, "url", url);
    json_add_int(o, "port", atomic_load(&n->http_port));
    if (atomic_load(&n->grpc_port)) json_add_int(o, "grpcPort", atomic_load(&n->grpc_port));
    else cJSON_AddNullToObject(o, "grpcPort");
    cJSON_AddStringToObject(o, "status", app_status_name(atomic_load(&n->status)));
    cJSON_AddBoolToObject(o, "listening", atomic_load(&n->listening));
    int64_t up_at = atomic_load(&n->up_at_ms);
    if (up_at) {
        int64_t left = up_at - clock_mono_ms();
        json_add_int(o, "upInMs", left > 0 ? left : 0);
    } else {
        cJSON_AddNullToObject(o, "upInMs");
    }
    json_add_int(o, "connections", conns);
    return o;
}

/* Every node's JSON, or node `only` alone (>= 0). */
static cJSON *nodes_json(struct app *app, int only)
{
    long conns[APP_MAX_NODES] = {0};
    app_lock(app);
    clients_foreach(app->clients, count_node_conn, conns);
    app_unlock(app);
    if (only >= 0) return node_json(app, only, conns[only]);
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "nodes");
    for (int i = 0; i < app->n_nodes; i++) cJSON_AddItemToArray(arr, node_json(app, i, conns[i]));
    return o;
}

void h_mock_nodes_list(struct app *app, struct request *req, struct reply *rep)
{
    reply_json(rep, 200, nodes_json(app, -1));
}

/* The node named after /__mock/nodes/, or -1 with a 404 answered. */
static int node_of_path_or_reply(struct app *app, const struct request *req, struct reply *rep)
{
    const char *id = req->path + strlen("/__mock/nodes/");
    long long i = -1;
    if (!*id || params_strtoll(id, &i) || i < 0 || i >= app->n_nodes) {
        reply_error_json(rep, 404, "no node '%.40s': the server runs nodes 0 to %d (--nodes %d)", id, app->n_nodes - 1,
                         app->n_nodes);
        return -1;
    }
    return (int)i;
}

void h_mock_node_get(struct app *app, struct request *req, struct reply *rep)
{
    int i = node_of_path_or_reply(app, req, rep);
    if (i >= 0) reply_json(rep, 200, nodes_json(app, i));
}

/* PUT /__mock/nodes/{i} {"status": "UP"|"DOWN"|"STARTING"|"OFFLINE", "forMs"?}. Never with app->mu
 * held (route ROUTE_NO_LOCK): taking a node OFFLINE ends connections, which takes it. */
void h_mock_node_put(struct app *app, struct request *req, struct reply *rep)
{
    int i = node_of_path_or_reply(app, req, rep);
    if (i < 0) return;
    cJSON *body = control_body_or_reply(req, rep, false, "{\"status\": \"OFFLINE\", \"forMs\": 2000} (field 'status')");
    if (!body) return;
    const char *why = NULL;
    for (const cJSON *it = body->child; it && !why; it = it->next)
        if (strcmp(it->string, "status") && strcmp(it->string, "forMs")) why = it->string;
    if (why) {
        reply_error_json(rep, 400, "unknown field '%.60s' (a node takes 'status' and 'forMs')", why);
        cJSON_Delete(body);
        return;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "status");
    const cJSON *fm = cJSON_GetObjectItemCaseSensitive(body, "forMs");
    int s = cJSON_IsString(st) ? app_status_parse(st->valuestring) : -1;
    if (s != STATUS_UP && s != STATUS_DOWN && s != STATUS_STARTING && s != STATUS_OFFLINE) {
        reply_error_json(rep, 400, "field 'status' must be one of UP, DOWN, STARTING, OFFLINE");
        cJSON_Delete(body);
        return;
    }
    int64_t for_ms = 0;
    if (fm && !cJSON_IsNull(fm)) {
        if (!cJSON_IsNumber(fm) || fm->valuedouble < 1 || fm->valuedouble > 86400000.0 ||
            fm->valuedouble != floor(fm->valuedouble)) {
            reply_error_json(rep, 400, "field 'forMs' must be an integer number of milliseconds from 1 to 86400000");
            cJSON_Delete(body);
            return;
        }
        if (s == STATUS_UP) {
            reply_error_json(rep, 400, "field 'forMs' needs a status other than UP: the node returns to UP after it");
            cJSON_Delete(body);
            return;
        }
        for_ms = (int64_t)fm->valuedouble;
    }
    cJSON_Delete(body);
    if (!app->transport.set_node) {
        reply_error_json(rep, 503, "no listeners to switch (a context without the wiring)");
        return;
    }
    char err[400] = "";
    int rc = app->transport.set_node(app->transport.ctx, i, s, for_ms, err, sizeof err);
    if (rc) reply_error_json(rep, rc, "%s", err);
    else reply_json(rep, 200, nodes_json(app, i));
}
