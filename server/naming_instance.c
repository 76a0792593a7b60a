/*
 * naming_instance.c — /nacos/v1/ns/instance family: register, deregister, update, patch, detail,
 * list, beat, statuses, metadata batch. Behaviour and wording follow nacos-api.md §2.1 (1.x
 * semantics; the list answer is the union of the 1.x and 2.x shapes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/list_cache.h"
#include "nacos_mock/log.h"
#include "nacos_mock/md5.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/push.h"
#include "nacos_mock/store.h"
#include "nacos_mock/validate.h"

#define MD_INTERVAL "preserved.heart.beat.interval"
#define MD_TIMEOUT "preserved.heart.beat.timeout"
#define MD_DELETE "preserved.ip.delete.timeout"
#define MD_GENERATOR "preserved.instance.id.generator"

struct inst_key {
    const char *ns;
    char service[GROUPED_MAX];
    const char *cluster;
    const char *ip;
    int port;
};

static int check_namespace_or_reply(const char *ns, struct reply *rep)
{
    return naming_check_name_or_reply("namespaceId", ns, strlen(ns), rep);
}

/* namespace, grouped service, cluster (clusterName, or `cluster` when fallback), ip, port. */
static int key_or_reply(const struct request *req, struct reply *rep, struct inst_key *k, bool cluster_fallback)
{
    const struct params *p = &req->params;
    k->ns = naming_namespace(p);
    if (check_namespace_or_reply(k->ns, rep)) return -1;
    if (naming_grouped_service_or_reply(p, rep, k->service, sizeof k->service)) return -1;
    if (param_required_or_reply(p, rep, "ip", &k->ip) || naming_check_ip_or_reply("ip", k->ip, rep)) return -1;
    if (param_port_or_reply(p, rep, "port", &k->port)) return -1;
    k->cluster = params_get(p, "clusterName");
    if (!k->cluster && cluster_fallback) k->cluster = params_get(p, "cluster");
    if (!k->cluster) k->cluster = DEFAULT_CLUSTER;
    return naming_check_name_or_reply("clusterName", k->cluster, strlen(k->cluster), rep);
}

static int weight_or_reply(const struct params *p, struct reply *rep, double def, double *w)
{
    if (param_double_or_reply(p, rep, "weight", def, w)) return -1;
    if (*w < 0.0 || *w > 10000.0) {
        reply_caused(rep, 500, "instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': %g)",
                     *w);
        return -1;
    }
    return 0;
}

static int md_ms_or_reply(const cJSON *md, const char *key, int64_t *out, struct reply *rep)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, key);
    long long n;
    if (!cJSON_IsString(v)) return 0;
    if (params_strtoll(v->valuestring, &n) || n <= 0) {
        reply_caused(rep, 400, "Param 'metadata' key '%s' must be a positive number of milliseconds, got \"%.64s\"",
                     key, v->valuestring);
        return -1;
    }
    *out = n;
    return 0;
}

int naming_instance_timeouts_or_reply(const struct app *app, const cJSON *md, int64_t *interval, int64_t *timeout,
                                      int64_t *delete_timeout, struct reply *rep)
{
    *interval = app->cfg->beat_interval_ms;
    *timeout = config_unhealthy_timeout_ms(app->cfg);
    *delete_timeout = config_delete_timeout_ms(app->cfg);
    if (md_ms_or_reply(md, MD_INTERVAL, interval, rep) || md_ms_or_reply(md, MD_TIMEOUT, timeout, rep) ||
        md_ms_or_reply(md, MD_DELETE, delete_timeout, rep))
        return -1;
    if (*interval > *timeout || *interval > *delete_timeout) {
        reply_caused(rep, 500, "Instance 'heart beat interval' must less than 'heart beat timeout' and 'ip delete "
                               "timeout'. (interval %lld ms, timeout %lld ms, delete timeout %lld ms)",
                     (long long)*interval, (long long)*timeout, (long long)*delete_timeout);
        return -1;
    }
    return 0;
}

/* Instance id for a new instance: snowflake-style small integers when the metadata asks for them,
 * else ip#port#cluster#group@@service. */
static int new_instance_id(struct app *app, int64_t service_id, const cJSON *md, const struct inst_key *k, char *out,
                           size_t outlen)
{
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(md, MD_GENERATOR);
    if (cJSON_IsString(gen) && strcmp(gen->valuestring, "snowflake") == 0) {
        long id;
        if (store_instance_next_numeric_id(app->store, service_id, &id)) return -1;
        snprintf(out, outlen, "%ld", id);
        return 0;
    }
    naming_instance_id(out, outlen, k->ip, k->port, k->cluster, k->service);
    return 0;
}

static char *print_json(const cJSON *j)
{
    return cJSON_PrintUnformatted(j);
}

enum upsert_mode { UPSERT_REGISTER, UPSERT_UPDATE, UPSERT_UPDATE_EXISTING };

/* Writes one instance from its parameters and metadata object. `md` stays the caller's. */
struct instance_write {
    struct inst_key k;
    double weight;
    bool enabled, healthy, ephemeral;
    bool healthy_given, ephemeral_given;
    const cJSON *md;
    const char *app_name;
    int64_t now_ms;          /* virtual time of the request */
};

/* Executes a register/update/beat-registration. Caller holds mu; on error fills rep. */
static int write_instance(struct app *app, const struct instance_write *w, enum upsert_mode mode,
                          struct reply *rep)
{
    int64_t interval, timeout, del;
    if (naming_instance_timeouts_or_reply(app, w->md, &interval, &timeout, &del, rep)) return -1;
    char *md_text = print_json(w->md);
    if (!md_text) { reply_caused(rep, 500, "out of memory"); return -1; }

    int rc = -1;
    struct instance_rec old = {0};
    bool have_old = false;
    int64_t sid = 0;
    if (store_begin(app->store)) goto store_err;
    if (mode == UPSERT_UPDATE_EXISTING) {
        struct service_rec s;
        int f = store_service_get(app->store, w->k.ns, w->k.service, &s);
        if (f < 0) goto store_err;
        if (f == 1) {
            store_rollback(app->store);
            reply_caused(rep, 500, "service not found, namespace: %s, service: %s", w->k.ns, w->k.service);
            goto out;
        }
        sid = s.id;
        store_service_rec_free(&s);
    } else if (store_service_ensure(app->store, w->k.ns, w->k.service, w->now_ms, &sid)) {
        goto store_err;
    }
    int g = store_instance_get(app->store, sid, w->k.cluster, w->k.ip, w->k.port, &old);
    if (g < 0) goto store_err;
    have_old = g == 0;
    if (!have_old && mode == UPSERT_UPDATE_EXISTING) {
        store_rollback(app->store);
        reply_caused(rep, 500, "instance not exist: %s:%d in cluster %s of service %s (namespace %s)", w->k.ip,
                     w->k.port, w->k.cluster, w->k.service, w->k.ns);
        goto out;
    }
    char idbuf[GROUPED_MAX + 600];
    if (!have_old && new_instance_id(app, sid, w->md, &w->k, idbuf, sizeof idbuf)) goto store_err;

    int64_t now = w->now_ms;
    bool register_like = mode == UPSERT_REGISTER || !have_old;
    struct instance_rec in = {
        .service_id = sid, .cluster = w->k.cluster, .ip = w->k.ip, .port = w->k.port,
        .instance_id = have_old ? NULL : idbuf, .weight = w->weight, .enabled = w->enabled,
        .healthy = register_like ? w->healthy : (w->healthy_given ? w->healthy : old.healthy),
        .ephemeral = register_like ? w->ephemeral : (w->ephemeral_given ? w->ephemeral : old.ephemeral),
        .marked = have_old ? old.marked : false, .metadata = md_text, .app = w->app_name,
        .registered_ms = have_old ? old.registered_ms : now,
        .last_beat_ms = register_like ? now : old.last_beat_ms,
        .hb_interval_ms = interval, .hb_timeout_ms = timeout, .delete_timeout_ms = del,
    };
    if (store_instance_write(app->store, &in, have_old ? old.id : 0)) goto store_err;
    app_service_changed(app, w->now_ms, sid, w->k.ns, w->k.service);
    if (store_commit(app->store)) goto store_err;
    rc = 0;
    goto out;
store_err:
    app_reply_store_error(app, rep);
out:
    if (have_old) store_instance_rec_free(&old);
    cJSON_free(md_text);
    return rc;
}

static int parse_write_or_reply(const struct request *req, struct reply *rep, struct instance_write *w, cJSON **md)
{
    const struct params *p = &req->params;
    memset(w, 0, sizeof *w);
    if (key_or_reply(req, rep, &w->k, true) || weight_or_reply(p, rep, 1.0, &w->weight)) return -1;
    const char *en = params_get(p, "enabled");
    if (!en) en = params_get(p, "enable");
    w->enabled = en ? params_truthy(en) : true;
    w->healthy_given = params_get(p, "healthy") != NULL;
    w->healthy = param_bool(p, "healthy", true);
    w->ephemeral_given = params_get(p, "ephemeral") != NULL;
    w->ephemeral = param_bool(p, "ephemeral", true);
    w->app_name = params_get(p, "app");
    w->now_ms = req->now_ms;
    char err[256];
    *md = naming_parse_metadata(params_get(p, "metadata"), err, sizeof err);
    if (!*md) {
        reply_caused(rep, 400, "%s", err);
        return -1;
    }
    w->md = *md;
    return 0;
}

static void upsert(struct app *app, struct request *req, struct reply *rep, enum upsert_mode mode)
{
    struct instance_write w;
    cJSON *md = NULL;
    if (parse_write_or_reply(req, rep, &w, &md) == 0 && write_instance(app, &w, mode, rep) == 0) reply_ok(rep);
    cJSON_Delete(md);
}

void h_instance_register(struct app *app, struct request *req, struct reply *rep)
{
    upsert(app, req, rep, UPSERT_REGISTER);
}

void h_instance_update(struct app *app, struct request *req, struct reply *rep)
{
    /* 1.x: the Java client >= 1.0.0 may only update what exists; every other client upserts */
    upsert(app, req, rep, naming_ua_java_ge_1(req->user_agent) ? UPSERT_UPDATE_EXISTING : UPSERT_UPDATE);
}

void h_instance_deregister(struct app *app, struct request *req, struct reply *rep)
{
    struct inst_key k;
    if (key_or_reply(req, rep, &k, true)) return;
    bool ephemeral = param_bool(&req->params, "ephemeral", true);
    struct service_rec s;
    int f = store_service_get(app->store, k.ns, k.service, &s);
    if (f < 0) { app_reply_store_error(app, rep); return; }
    if (f == 0) {
        int d = store_instance_delete(app->store, s.id, k.cluster, k.ip, k.port, ephemeral);
        if (d < 0) { store_service_rec_free(&s); app_reply_store_error(app, rep); return; }
        if (d == 0) app_service_changed(app, req->now_ms, s.id, k.ns, k.service);
        store_service_rec_free(&s);
    }
    reply_ok(rep);   /* unknown service or instance: a silent no-op, as in Nacos */
}

/* Finds (service, instance) for k. 0 found (owned *inst, *sid), 1 service unknown, 2 instance unknown,
 * -1 store error (rep filled). */
static int find_instance(struct app *app, const struct inst_key *k, int64_t *sid, struct instance_rec *inst,
                         struct reply *rep)
{
    struct service_rec s;
    int f = store_service_get(app->store, k->ns, k->service, &s);
    if (f < 0) { app_reply_store_error(app, rep); return -1; }
    if (f == 1) return 1;
    *sid = s.id;
    store_service_rec_free(&s);
    int g = store_instance_get(app->store, *sid, k->cluster, k->ip, k->port, inst);
    if (g < 0) { app_reply_store_error(app, rep); return -1; }
    return g == 0 ? 0 : 2;
}

void h_instance_patch(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    struct inst_key k;
    if (key_or_reply(req, rep, &k, true)) return;
    double weight = 0;
    if (params_get(p, "weight") && weight_or_reply(p, rep, 1.0, &weight)) return;
    cJSON *md = NULL;
    if (params_get(p, "metadata")) {
        char err[256];
        if (!(md = naming_parse_metadata(params_get(p, "metadata"), err, sizeof err))) {
            reply_caused(rep, 400, "%s", err);
            return;
        }
    }
    int64_t sid = 0;
    struct instance_rec cur;
    int f = find_instance(app, &k, &sid, &cur, rep);
    if (f < 0) goto out;
    if (f > 0) {
        reply_caused(rep, 400, "instance not found: %s:%d in cluster %s of service %s (namespace %s)", k.ip, k.port,
                     k.cluster, k.service, k.ns);
        goto out;
    }
    struct instance_rec in = cur;
    char *md_text = NULL;
    int64_t interval = cur.hb_interval_ms, timeout = cur.hb_timeout_ms, del = cur.delete_timeout_ms;
    if (md) {
        if (naming_instance_timeouts_or_reply(app, md, &interval, &timeout, &del, rep)) goto out_inst;
        md_text = print_json(md);
        in.metadata = md_text;
    }
    if (params_get(p, "weight")) in.weight = weight;
    if (params_get(p, "healthy")) in.healthy = param_bool(p, "healthy", true);
    const char *en = params_get(p, "enabled");
    if (en) in.enabled = params_truthy(en);
    if (params_get(p, "app")) in.app = params_get(p, "app");
    in.hb_interval_ms = interval;
    in.hb_timeout_ms = timeout;
    in.delete_timeout_ms = del;
    in.instance_id = NULL;   /* keep */
    if (store_instance_upsert(app->store, &in, NULL)) {
        app_reply_store_error(app, rep);
    } else {
        app_service_changed(app, req->now_ms, sid, k.ns, k.service);
        reply_ok(rep);
    }
    cJSON_free(md_text);
out_inst:
    store_instance_rec_free(&cur);
out:
    cJSON_Delete(md);
}

struct cluster_probe { const char *cluster; long n; };

static int count_cluster(void *ctx, const struct instance_rec *r)
{
    struct cluster_probe *cp = ctx;
    if (strcmp(r->cluster, cp->cluster) == 0) cp->n++;
    return 0;
}

void h_instance_detail(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    struct inst_key k;
    k.ns = naming_namespace(p);
    if (check_namespace_or_reply(k.ns, rep) || naming_grouped_service_or_reply(p, rep, k.service, sizeof k.service))
        return;
    if (param_required_or_reply(p, rep, "ip", &k.ip) || naming_check_ip_or_reply("ip", k.ip, rep)) return;
    if (param_port_or_reply(p, rep, "port", &k.port)) return;
    k.cluster = params_get(p, "clusterName");   /* `cluster` is ignored here, as in Nacos */
    if (!k.cluster) k.cluster = DEFAULT_CLUSTER;

    int64_t sid = 0;
    struct instance_rec r;
    int f = find_instance(app, &k, &sid, &r, rep);
    if (f < 0) return;
    if (f == 1) {
        reply_caused(rep, 500, "no service %s found!", k.service);
        return;
    }
    if (f == 2) {
        struct cluster_probe cp = {k.cluster, 0};
        store_instance_foreach(app->store, sid, count_cluster, &cp);
        if (cp.n == 0)
            reply_caused(rep, 500, "no ips found for cluster %s in service %s", k.cluster, k.service);
        else
            reply_caused(rep, 500, "no matched ip found! (%s:%d in cluster %s of service %s)", k.ip, k.port,
                         k.cluster, k.service);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "service", k.service);
    cJSON_AddStringToObject(o, "ip", r.ip);
    json_add_int(o, "port", r.port);
    cJSON_AddStringToObject(o, "clusterName", r.cluster);
    json_add_double(o, "weight", r.weight);
    cJSON_AddBoolToObject(o, "healthy", r.healthy);
    cJSON_AddStringToObject(o, "instanceId", r.instance_id);
    cJSON_AddItemToObject(o, "metadata", json_object_or_empty(r.metadata));
    store_instance_rec_free(&r);
    reply_json(rep, 200, o);
}

/* ------------------------------------------------------------------ list */

#define MAX_CLUSTER_FILTER 64

struct list_ctx {
    const struct list_query *q;
    const char *bare;                       /* service name without group */
    char *filter[MAX_CLUSTER_FILTER];
    size_t n_filter;
    cJSON *hosts;
    long n, healthy;                        /* after cluster filter, disabled included (as Nacos) */
};

static bool cluster_wanted(const struct list_ctx *lc, const char *cluster)
{
    if (lc->n_filter == 0) return true;
    for (size_t i = 0; i < lc->n_filter; i++)
        if (strcmp(lc->filter[i], cluster) == 0) return true;
    return false;
}

static int add_host(void *ctx, const struct instance_rec *r)
{
    struct list_ctx *lc = ctx;
    if (!cluster_wanted(lc, r->cluster)) return 0;
    lc->n++;
    if (r->healthy) lc->healthy++;
    if (!r->enabled) return 0;   /* disabled instances are never returned */
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "ip", r->ip);
    json_add_int(h, "port", r->port);
    cJSON_AddBoolToObject(h, "valid", r->healthy);
    cJSON_AddBoolToObject(h, "healthy", r->healthy);
    cJSON_AddBoolToObject(h, "marked", r->marked);
    cJSON_AddStringToObject(h, "instanceId", r->instance_id);
    cJSON *md = json_object_or_empty(r->metadata);
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(md, MD_GENERATOR);
    cJSON_AddItemToObject(h, "metadata", md);
    cJSON_AddBoolToObject(h, "enabled", r->enabled);
    json_add_double(h, "weight", r->weight);
    cJSON_AddStringToObject(h, "clusterName", r->cluster);
    cJSON_AddStringToObject(h, "serviceName", lc->q->java_ge_1 ? r->service : lc->bare);
    cJSON_AddBoolToObject(h, "ephemeral", r->ephemeral);
    json_add_int(h, "instanceHeartBeatInterval", r->hb_interval_ms);
    if (cJSON_IsString(gen)) cJSON_AddStringToObject(h, "instanceIdGenerator", gen->valuestring);
    else if (!md->child) cJSON_AddStringToObject(h, "instanceIdGenerator", "simple");
    json_add_int(h, "instanceHeartBeatTimeOut", r->hb_timeout_ms);
    json_add_int(h, "ipDeleteTimeout", r->delete_timeout_ms);
    cJSON_AddItemToArray(lc->hosts, h);
    return 0;
}

static void split_clusters(struct list_ctx *lc, char *buf)
{
    for (char *s = buf; s && lc->n_filter < MAX_CLUSTER_FILTER;) {
        char *comma = strchr(s, ',');
        if (comma) *comma = '\0';
        while (*s == ' ') s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ') s[--n] = '\0';
        if (*s) lc->filter[lc->n_filter++] = s;
        s = comma ? comma + 1 : NULL;
    }
}

/* Renders the list answer for q of a service already looked up (s NULL: unknown service). Caller
 * deletes. */
static cJSON *list_render_service(struct app *app, const struct list_query *q, const struct service_rec *s)
{
    struct list_ctx lc = {.q = q};
    const char *sep = strstr(q->service, GROUP_SEP);
    lc.bare = sep ? sep + 2 : q->service;
    char *cbuf = strdup(q->clusters ? q->clusters : "");
    if (!cbuf) return NULL;
    split_clusters(&lc, cbuf);

    cJSON *o = cJSON_CreateObject();
    lc.hosts = cJSON_CreateArray();
    double threshold = 0;
    cJSON *svc_md = NULL;
    int64_t ref = clock_real_ms();   /* unknown or never-changed service: now */
    if (s) {
        if (s->revision > 0) ref = s->revision;   /* same state ⇒ same stamp, in lists and pushes alike */
        threshold = s->protect_threshold;
        svc_md = json_object_or_empty(s->metadata);
        if (store_instance_foreach(app->store, s->id, add_host, &lc)) goto fail;
    }
    bool protect = lc.n > 0 && (double)lc.healthy / (double)lc.n <= threshold;
    if (protect) {
        for (cJSON *h = lc.hosts->child; h; h = h->next) {
            cJSON_ReplaceItemInObjectCaseSensitive(h, "valid", cJSON_CreateTrue());
            cJSON_ReplaceItemInObjectCaseSensitive(h, "healthy", cJSON_CreateTrue());
        }
    } else if (q->healthy_only) {
        for (cJSON *h = lc.hosts->child, *next; h; h = next) {
            next = h->next;
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "healthy")))
                cJSON_Delete(cJSON_DetachItemViaPointer(lc.hosts, h));
        }
    }
    struct md5_ctx m;
    md5_init(&m);
    md5_update(&m, strlen(q->service), (const uint8_t *)q->service);
    for (cJSON *h = lc.hosts->child; h; h = h->next) {
        char line[1400];
        /* port and weight are raw JSON numbers (json_add_int/_double): hash their text, since
         * cJSON_GetNumberValue gives NaN for raw items and the checksum would ignore them */
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(h, "port");
        const cJSON *weight = cJSON_GetObjectItemCaseSensitive(h, "weight");
        int n = snprintf(line, sizeof line, ",%s:%s_%s_%d_%s",
                         cJSON_GetObjectItemCaseSensitive(h, "ip")->valuestring,
                         cJSON_IsRaw(port) ? port->valuestring : "",
                         cJSON_IsRaw(weight) ? weight->valuestring : "",
                         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "healthy")),
                         cJSON_GetObjectItemCaseSensitive(h, "clusterName")->valuestring);
        if (n > 0) md5_update(&m, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, (const uint8_t *)line);
    }
    char checksum[33];
    md5_hex_final(&m, checksum);

    cJSON_AddStringToObject(o, "name", q->service);
    cJSON_AddStringToObject(o, "groupName", sep ? "" : DEFAULT_GROUP);
    if (sep) {
        cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "groupName");
        char gbuf[NAME_MAX_BYTES + 1];
        snprintf(gbuf, sizeof gbuf, "%.*s", (int)(sep - q->service), q->service);
        cJSON_SetValuestring(g, gbuf);
    }
    cJSON_AddStringToObject(o, "clusters", q->clusters ? q->clusters : "");
    json_add_int(o, "cacheMillis", q->subscribed ? 10000 : 3000);
    cJSON_AddItemToObject(o, "hosts", lc.hosts);
    lc.hosts = NULL;
    json_add_int(o, "lastRefTime", ref);
    cJSON_AddStringToObject(o, "checksum", checksum);
    cJSON_AddBoolToObject(o, "allIPs", false);
    cJSON_AddBoolToObject(o, "reachProtectionThreshold", protect);
    cJSON_AddBoolToObject(o, "valid", true);
    cJSON_AddStringToObject(o, "dom", q->java_ge_1 ? q->service : lc.bare);
    cJSON_AddBoolToObject(o, "useSpecifiedURL", false);
    cJSON_AddStringToObject(o, "env", q->env ? q->env : "");
    cJSON_AddItemToObject(o, "metadata", svc_md ? svc_md : cJSON_CreateObject());
    free(cbuf);
    return o;
fail:
    cJSON_Delete(lc.hosts);
    cJSON_Delete(o);
    cJSON_Delete(svc_md);
    free(cbuf);
    return NULL;
}

/* The list cache key of q: every input of the answer besides the registry, NUL-separated. Returns
 * its length, 0 when it does not fit (the answer is then not cached). */
static size_t list_cache_key(const struct list_query *q, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s%c%s%c%s%c%s%c%d%d%d", q->ns, 0, q->service, 0, q->clusters ? q->clusters : "",
                     0, q->env ? q->env : "", 0, q->healthy_only, q->java_ge_1, q->subscribed);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

char *naming_list_text(struct app *app, const struct list_query *q, size_t *len)
{
    struct service_rec s;
    int f = store_service_get(app->store, q->ns, q->service, &s);
    if (f < 0) return NULL;
    char key[4096];
    size_t keylen = f == 0 && s.revision > 0 ? list_cache_key(q, key, sizeof key) : 0;
    struct list_cache_state state = {0};
    char *text = NULL;
    if (keylen) {
        state = (struct list_cache_state){s.id, s.revision, store_generation(app->store)};
        const char *hit = list_cache_get(app->list_cache, key, keylen, &state, len);
        if (hit && (text = malloc(*len + 1))) {
            memcpy(text, hit, *len);
            text[*len] = '\0';
            goto out;
        }
    }
    cJSON *o = list_render_service(app, q, f == 0 ? &s : NULL);
    text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) goto out;
    *len = strlen(text);
    if (keylen) list_cache_put(app->list_cache, key, keylen, &state, text, *len);
out:
    if (f == 0) store_service_rec_free(&s);
    return text;
}

/* Answers q from the list cache, or renders it. */
static void list_answer(struct app *app, const struct list_query *q, struct reply *rep)
{
    size_t len = 0;
    char *text = naming_list_text(app, q, &len);
    if (!text) {
        app_reply_store_error(app, rep);
        return;
    }
    reply_json_owned(rep, 200, text, len);
}

void h_instance_list(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    char service[GROUPED_MAX];
    const char *ns = naming_namespace(p);
    long long udp_port;
    if (check_namespace_or_reply(ns, rep) || naming_grouped_service_or_reply(p, rep, service, sizeof service) ||
        param_int_or_reply(p, rep, "udpPort", 0, 0, 65535, &udp_port))
        return;
    if (params_parse_boolean(params_get(p, "isCheck"))) {
        reply_json(rep, 200, cJSON_CreateObject());
        return;
    }
    const char *clusters = params_get(p, "clusters");
    struct list_query q = {
        .ns = ns, .service = service, .clusters = clusters ? clusters : "", .env = params_get(p, "env"),
        .healthy_only = params_parse_boolean(params_get(p, "healthyOnly")),
        .java_ge_1 = naming_ua_java_ge_1(req->user_agent),
        .subscribed = udp_port > 0 && push_subscribe(app->push, ns, service, clusters ? clusters : "", &req->peer,
                                                     (int)udp_port, req->user_agent),
    };
    list_answer(app, &q, rep);
}

/* ------------------------------------------------------------------ beat */

/* {"clientBeatInterval":N,"code":C,"lightBeatEnabled":true}: printed directly (every beat answers it). */
static void beat_answer(struct reply *rep, int64_t interval, int code)
{
    char b[128];
    int n = snprintf(b, sizeof b, "{\"clientBeatInterval\":%lld,\"code\":%d,\"lightBeatEnabled\":true}",
                     (long long)interval, code);
    reply_json_text(rep, 200, b, (size_t)n);
}

void h_instance_beat(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    struct instance_write w;
    memset(&w, 0, sizeof w);
    w.now_ms = req->now_ms;
    const cJSON *beat = NULL;
    cJSON *md = NULL;
    w.k.ns = naming_namespace(p);
    if (check_namespace_or_reply(w.k.ns, rep) || naming_grouped_service_or_reply(p, rep, w.k.service, sizeof w.k.service))
        return;
    const char *beat_text = params_get(p, "beat");
    char ipbuf[300], portbuf[40];
    const char *port_text = NULL;   /* the beat's ip/port/cluster override the parameters */
    if (beat_text) {
        beat = request_beat_json(req);
        if (!cJSON_IsObject(beat)) {
            reply_caused(rep, 400, "Param 'beat' is not a JSON object: \"%.80s\"", beat_text);
            goto out;
        }
        const cJSON *ip = cJSON_GetObjectItemCaseSensitive(beat, "ip");
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(beat, "port");
        const cJSON *cluster = cJSON_GetObjectItemCaseSensitive(beat, "cluster");
        if (cJSON_IsString(ip) && *ip->valuestring) {
            snprintf(ipbuf, sizeof ipbuf, "%s", ip->valuestring);
            w.k.ip = ipbuf;
        }
        if (cJSON_IsNumber(port)) {
            snprintf(portbuf, sizeof portbuf, "%.17g", port->valuedouble);
            port_text = portbuf;
        } else if (cJSON_IsString(port) && *port->valuestring) {
            port_text = port->valuestring;
        }
        if (cJSON_IsString(cluster) && *cluster->valuestring) w.k.cluster = cluster->valuestring;
    }
    if (!w.k.ip && param_required_or_reply(p, rep, "ip", &w.k.ip)) goto out;
    if (!port_text && param_required_or_reply(p, rep, "port", &port_text)) goto out;
    if (naming_check_ip_or_reply("ip", w.k.ip, rep) || value_port_or_reply("port", port_text, rep, &w.k.port))
        goto out;
    if (!w.k.cluster) w.k.cluster = params_get(p, "clusterName");
    if (!w.k.cluster) w.k.cluster = DEFAULT_CLUSTER;
    if (naming_check_name_or_reply("clusterName", w.k.cluster, strlen(w.k.cluster), rep)) goto out;

    struct beat_result br;
    int f = store_instance_beat(app->store, w.k.ns, w.k.service, w.k.cluster, w.k.ip, w.k.port, req->now_ms, &br);
    if (f < 0) { app_reply_store_error(app, rep); goto out; }
    if (f == 0) {
        if (br.was_unhealthy) {
            log_transition(br.instance_id, w.k.ns, w.k.service, "UNHEALTHY", "HEALTHY", req->now_ms - br.prev_beat_ms);
            app_service_changed(app, req->now_ms, br.service_id, w.k.ns, w.k.service);
        }
        beat_answer(rep, br.interval_ms, 10200);
        goto out;
    }
    if (!beat) {   /* light beat for an instance we do not know: the client must re-register */
        beat_answer(rep, app->cfg->beat_interval_ms, 20404);
        goto out;
    }
    /* a full beat for an unknown instance registers it, as Nacos does */
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(beat, "weight");
    const cJSON *bm = cJSON_GetObjectItemCaseSensitive(beat, "metadata");
    const cJSON *be = cJSON_GetObjectItemCaseSensitive(beat, "ephemeral");
    w.weight = cJSON_IsNumber(bw) ? bw->valuedouble : 1.0;
    if (w.weight < 0 || w.weight > 10000) {
        reply_caused(rep, 500, "instance format invalid: The weights range from 0.0 to 10000.0 (beat 'weight': %g)",
                     w.weight);
        goto out;
    }
    char err[256];
    md = bm ? naming_metadata_from_json(bm, err, sizeof err) : cJSON_CreateObject();
    if (!md) {
        reply_caused(rep, 400, "Param 'beat' field 'metadata': %s", err);
        goto out;
    }
    w.md = md;
    w.enabled = w.healthy = true;
    w.ephemeral = be ? cJSON_IsTrue(be) : true;
    if (write_instance(app, &w, UPSERT_REGISTER, rep)) goto out;
    int64_t interval, tmo, del;
    naming_instance_timeouts_or_reply(app, md, &interval, &tmo, &del, rep);
    beat_answer(rep, interval, 10200);
out:
    cJSON_Delete(md);
}

/* ------------------------------------------------------------------ statuses, metadata batch */

static int add_status(void *ctx, const struct instance_rec *r)
{
    char line[400];
    snprintf(line, sizeof line, "%s:%d_%s", r->ip, r->port, r->healthy ? "true" : "false");
    cJSON_AddItemToArray(ctx, cJSON_CreateString(line));
    return 0;
}

void h_instance_statuses(struct app *app, struct request *req, struct reply *rep)
{
    const char *key;
    if (param_required_or_reply(&req->params, rep, "key", &key)) return;
    char ns[NAME_MAX_BYTES + 1] = DEFAULT_NAMESPACE;
    const char *svc = key;
    const char *hash = strstr(key, "##");
    if (hash) {
        snprintf(ns, sizeof ns, "%.*s", (int)(hash - key), key);
        svc = hash + 2;
    }
    if (!strstr(svc, GROUP_SEP)) {
        reply_caused(rep, 400, "Param 'key' must be [namespace##]group@@service, got \"%.200s\"", key);
        return;
    }
    cJSON *o = cJSON_CreateObject(), *ips = cJSON_AddArrayToObject(o, "ips");
    struct service_rec s;
    int f = store_service_get(app->store, ns, svc, &s);
    if (f < 0) { cJSON_Delete(o); app_reply_store_error(app, rep); return; }
    if (f == 0) {
        store_instance_foreach(app->store, s.id, add_status, ips);
        store_service_rec_free(&s);
    }
    reply_json(rep, 200, o);
}

struct batch_ctx {
    const cJSON *targets;      /* array of {ip, port, clusterName} or NULL = all */
    bool want_ephemeral;
    cJSON *matched;            /* array of instance ids (rowid as number) */
};

static int batch_match(void *ctx, const struct instance_rec *r)
{
    struct batch_ctx *bc = ctx;
    if (r->ephemeral != bc->want_ephemeral) return 0;
    bool hit = bc->targets == NULL;
    for (const cJSON *t = bc->targets ? bc->targets->child : NULL; t && !hit; t = t->next) {
        const cJSON *ip = cJSON_GetObjectItemCaseSensitive(t, "ip");
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(t, "port");
        const cJSON *cl = cJSON_GetObjectItemCaseSensitive(t, "clusterName");
        hit = cJSON_IsString(ip) && strcmp(ip->valuestring, r->ip) == 0 && cJSON_IsNumber(port) &&
              (int)port->valuedouble == r->port &&
              strcmp(cJSON_IsString(cl) ? cl->valuestring : DEFAULT_CLUSTER, r->cluster) == 0;
    }
    if (hit) {
        cJSON *e = cJSON_CreateArray();
        cJSON_AddItemToArray(e, cJSON_CreateString(r->cluster));
        cJSON_AddItemToArray(e, cJSON_CreateString(r->ip));
        cJSON_AddItemToArray(e, cJSON_CreateNumber(r->port));
        cJSON_AddItemToArray(bc->matched, e);
    }
    return 0;
}

void h_instance_metadata_batch(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    char service[GROUPED_MAX], err[256];
    const char *ns = naming_namespace(p), *md_text;
    bool del = strcmp(req->method, "DELETE") == 0;
    if (check_namespace_or_reply(ns, rep) || naming_grouped_service_or_reply(p, rep, service, sizeof service) ||
        param_required_or_reply(p, rep, "metadata", &md_text))
        return;
    cJSON *md = naming_parse_metadata(md_text, err, sizeof err), *targets = NULL, *out = NULL;
    struct batch_ctx bc = {.matched = cJSON_CreateArray()};
    if (!md) { reply_caused(rep, 400, "%s", err); goto done; }
    const char *inst = params_get(p, "instances");
    if (inst) {
        targets = cJSON_Parse(inst);
        if (!cJSON_IsArray(targets)) {
            reply_caused(rep, 400, "Param 'instances' must be a JSON array of {ip, port, clusterName}");
            goto done;
        }
        bc.targets = targets;
    }
    const char *ct = params_get(p, "consistencyType");
    bc.want_ephemeral = !(ct && strcmp(ct, "persist") == 0);
    out = cJSON_CreateObject();
    cJSON *updated = cJSON_AddArrayToObject(out, "updated");
    struct service_rec s;
    int f = store_service_get(app->store, ns, service, &s);
    if (f < 0) { app_reply_store_error(app, rep); goto done; }
    if (f == 1) {
        reply_caused(rep, 500, "service not found, namespace: %s, service: %s", ns, service);
        goto done;
    }
    store_instance_foreach(app->store, s.id, batch_match, &bc);
    for (cJSON *e = bc.matched->child; e; e = e->next) {
        const char *cl = cJSON_GetArrayItem(e, 0)->valuestring, *ip = cJSON_GetArrayItem(e, 1)->valuestring;
        int port = (int)cJSON_GetArrayItem(e, 2)->valuedouble;
        struct instance_rec r;
        if (store_instance_get(app->store, s.id, cl, ip, port, &r) != 0) continue;
        cJSON *cur = json_object_or_empty(r.metadata);
        for (cJSON *kv = md->child; kv; kv = kv->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(cur, kv->string);
            if (!del) cJSON_AddStringToObject(cur, kv->string, kv->valuestring);
        }
        char *text = print_json(cur);
        r.metadata = text;
        r.instance_id = NULL;
        if (text && store_instance_upsert(app->store, &r, NULL) == 0) {
            char line[600];
            snprintf(line, sizeof line, "%s:%d:unknown:%s:%s", ip, port, cl, r.ephemeral ? "ephemeral" : "persist");
            cJSON_AddItemToArray(updated, cJSON_CreateString(line));
        }
        cJSON_free(text);
        cJSON_Delete(cur);
        store_instance_rec_free(&r);
    }
    if (cJSON_GetArraySize(updated) > 0) app_service_changed(app, req->now_ms, s.id, ns, service);
    store_service_rec_free(&s);
    reply_json(rep, 200, out);
    out = NULL;
done:
    cJSON_Delete(out);
    cJSON_Delete(md);
    cJSON_Delete(targets);
    cJSON_Delete(bc.matched);
}
