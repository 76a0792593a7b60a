/*
 * naming_list.c — instance lists in every wire shape, through the rendered-answer cache (see
 * naming_list.h).
 */
#include "nacos_mock/naming_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/list_cache.h"
#include "nacos_mock/md5.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/store.h"


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
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(md, MD_ID_GENERATOR);
    cJSON_AddItemToObject(h, "metadata", md);
    cJSON_AddBoolToObject(h, "enabled", r->enabled);
    json_add_double(h, "weight", r->weight);
    cJSON_AddStringToObject(h, "clusterName", r->cluster);
    cJSON_AddStringToObject(h, "serviceName", lc->q->java_ge_1 || lc->q->shape != LIST_V1 ? r->service : lc->bare);
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
 * deletes. NULL with *rc: -1 (store error, out of memory), STORE_SLOW (its persistent instances need
 * app->mu). */
static cJSON *list_render_service(struct app *app, const struct list_query *q, const struct service_rec *s, int *rc)
{
    *rc = -1;
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
    /* same state ⇒ same stamp, in lists and pushes alike; an unknown or never-changed service: now, or
     * above every stamp handed out so far if that is later (store.h, "change stamps") */
    int64_t ref = s && s->revision > 0 ? s->revision : store_stamp_peek(app->store, clock_real_ms());
    if (s) {
        threshold = s->protect_threshold;
        svc_md = json_object_or_empty(s->metadata);
        int f = store_instance_foreach(app->store, s->id, add_host, &lc);
        if (f) {
            *rc = f;
            goto fail;
        }
    }
    /* 1.x applies the threshold before healthyOnly (unhealthy hosts still come back, reported healthy);
     * 2.x (gRPC, v2) filters first, so with healthyOnly the threshold never applies */
    bool v1 = q->shape == LIST_V1;
    bool protect = lc.n > 0 && (double)lc.healthy / (double)lc.n <= threshold && (v1 || !q->healthy_only);
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

    cJSON_AddStringToObject(o, "name", q->shape == LIST_GRPC ? lc.bare : q->service);
    cJSON_AddStringToObject(o, "groupName", sep ? "" : DEFAULT_GROUP);
    if (sep) {
        cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "groupName");
        char gbuf[NAME_MAX_BYTES + 1];
        snprintf(gbuf, sizeof gbuf, "%.*s", (int)(sep - q->service), q->service);
        cJSON_SetValuestring(g, gbuf);
    }
    cJSON_AddStringToObject(o, "clusters", q->clusters ? q->clusters : "");
    json_add_int(o, "cacheMillis", q->subscribed || !v1 ? 10000 : 3000);
    cJSON_AddItemToObject(o, "hosts", lc.hosts);
    lc.hosts = NULL;
    json_add_int(o, "lastRefTime", ref);
    cJSON_AddStringToObject(o, "checksum", checksum);
    cJSON_AddBoolToObject(o, "allIPs", false);
    cJSON_AddBoolToObject(o, "reachProtectionThreshold", protect);
    cJSON_AddBoolToObject(o, "valid", true);
    if (v1) {
        cJSON_AddStringToObject(o, "dom", q->java_ge_1 ? q->service : lc.bare);
        cJSON_AddBoolToObject(o, "useSpecifiedURL", false);
        cJSON_AddStringToObject(o, "env", q->env ? q->env : "");
        cJSON_AddItemToObject(o, "metadata", svc_md ? svc_md : cJSON_CreateObject());
    } else {
        cJSON_Delete(svc_md);
    }
    free(cbuf);
    *rc = 0;
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
    int n = snprintf(out, outlen, "%s%c%s%c%s%c%s%c%d%d%d%d", q->ns, 0, q->service, 0, q->clusters ? q->clusters : "",
                     0, q->env ? q->env : "", 0, (int)q->shape, q->healthy_only, q->java_ge_1, q->subscribed);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

/* Renders q's answer from one state of its service (its shard held throughout: store_begin_service;
 * alone without app->mu) and caches it for that state. NULL with *rc as list_render_service. */
static char *render(struct app *app, const struct list_query *q, const char *key, size_t keylen, bool alone,
                    size_t *len, int *rc)
{
    struct store *st = app->store;
    store_begin_service(st, q->ns, q->service, alone);
    struct service_rec s;
    char *text = NULL;
    int f = store_service_get(st, q->ns, q->service, &s);
    *rc = f < 0 ? f : 0;
    cJSON *o = f < 0 ? NULL : list_render_service(app, q, f == 0 ? &s : NULL, rc);
    struct list_cache_state state = {f == 0 ? s.id : 0, f == 0 ? s.revision : 0, store_generation(st)};
    store_commit(st);   /* read only: nothing to undo */
    if (f == 0) store_service_rec_free(&s);
    if (!o) return NULL;
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        *rc = -1;
        return NULL;
    }
    *len = strlen(text);
    if (keylen && state.revision > 0) list_cache_put(app->list_cache, key, keylen, &state, text, *len);
    return text;
}

char *naming_list_text(struct app *app, const struct list_query *q, size_t *len)
{
    int64_t id = 0, rev = 0;
    int f = store_service_state(app->store, q->ns, q->service, &id, &rev);   /* its shard, briefly */
    if (f < 0) return NULL;
    char key[4096];
    size_t keylen = list_cache_key(q, key, sizeof key);
    if (f == 0 && rev > 0 && keylen) {
        struct list_cache_state state = {id, rev, store_generation(app->store)};
        char *text = list_cache_copy(app->list_cache, key, keylen, &state, len);
        if (text) return text;
    }
    int rc = STORE_SLOW;
    bool mine = !app_holds_lock(app);
    char *text = mine ? render(app, q, key, keylen, true, len, &rc) : NULL;
    if (rc == STORE_SLOW) {   /* persistent instances too: SQLite, under app->mu */
        if (mine) app_lock(app);
        text = render(app, q, key, keylen, false, len, &rc);
        if (mine) app_unlock(app);
    }
    return text;
}
