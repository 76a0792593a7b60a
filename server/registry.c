/*
 * registry.c — registry snapshots: dump and all-or-nothing load (see registry.h).
 */
#include "nacos_mock/registry.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clients.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/cs_core.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/store.h"
#include "nacos_mock/util.h"

struct dump_ctx {
    struct app *app;
    cJSON *namespaces, *cur_ns;
    const char *cur_ns_name;
    int failed;
};

struct inst_dump { cJSON *arr; struct app *app; };

static int dump_instance(void *ctx, const struct instance_rec *r)
{
    struct inst_dump *d = ctx;
    cJSON *arr = d->arr, *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ip", r->ip);
    json_add_int(o, "port", r->port);
    cJSON_AddStringToObject(o, "clusterName", r->cluster);
    cJSON_AddStringToObject(o, "instanceId", r->instance_id);
    json_add_double(o, "weight", r->weight);
    cJSON_AddBoolToObject(o, "healthy", r->healthy);
    cJSON_AddBoolToObject(o, "enabled", r->enabled);
    cJSON_AddBoolToObject(o, "ephemeral", r->ephemeral);
    cJSON_AddBoolToObject(o, "marked", r->marked);
    cJSON_AddItemToObject(o, "metadata", json_object_or_empty(r->metadata));
    if (r->app) cJSON_AddStringToObject(o, "app", r->app);
    json_add_int(o, "lastBeatMs", r->last_beat_ms);
    json_add_int(o, "registeredMs", r->registered_ms);
    json_add_int(o, "heartBeatIntervalMs", r->hb_interval_ms);
    json_add_int(o, "heartBeatTimeoutMs", r->hb_timeout_ms);
    json_add_int(o, "ipDeleteTimeoutMs", r->delete_timeout_ms);
    const struct client *c = r->owner ? clients_get(d->app->clients, r->owner) : NULL;
    if (c) cJSON_AddStringToObject(o, "connectionId", c->id);   /* registered over gRPC: goes with it */
    cJSON_AddItemToArray(arr, o);
    return 0;
}

/* Services arrive ordered by (ns, name); instances are read after the service walk (the store's
 * statements are not re-entrant), so this collects the services first. */
struct svc_item { int64_t id; cJSON *json; };
struct svc_list { struct svc_item *v; size_t n, cap; cJSON *namespaces; cJSON *cur; char *cur_ns; };

static int dump_service(void *ctx, const struct service_rec *s)
{
    struct svc_list *l = ctx;
    if (!l->cur_ns || strcmp(l->cur_ns, s->ns)) {
        free(l->cur_ns);
        l->cur_ns = strdup(s->ns);
        cJSON *ns = cJSON_CreateObject();
        cJSON_AddStringToObject(ns, "namespaceId", s->ns);
        l->cur = cJSON_AddArrayToObject(ns, "services");
        cJSON_AddItemToArray(l->namespaces, ns);
    }
    char buf[GROUPED_MAX];
    const char *group = "", *bare = s->name;
    naming_split(s->name, buf, sizeof buf, &group, &bare);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", bare);
    cJSON_AddStringToObject(o, "groupName", group);
    json_add_double(o, "protectThreshold", s->protect_threshold);
    cJSON_AddItemToObject(o, "metadata", json_object_or_empty(s->metadata));
    cJSON_AddItemToObject(o, "selector", json_object_or_empty(s->selector));
    cJSON_AddBoolToObject(o, "explicit", s->explicit_);
    cJSON_AddArrayToObject(o, "instances");
    cJSON_AddItemToArray(l->cur, o);
    if (util_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v)) return 1;
    l->v[l->n++] = (struct svc_item){s->id, o};
    return 0;
}

static int dump_config(void *ctx, const struct config_rec *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "namespaceId", c->ns);
    cJSON_AddStringToObject(o, "group", c->group);
    cJSON_AddStringToObject(o, "dataId", c->data_id);
    cJSON_AddStringToObject(o, "content", c->content);
    cJSON_AddStringToObject(o, "md5", c->md5);
    cJSON_AddStringToObject(o, "type", c->type);
    cJSON_AddStringToObject(o, "appName", c->app_name);
    cJSON_AddStringToObject(o, "desc", c->desc);
    cJSON_AddStringToObject(o, "configTags", c->tags);
    cJSON_AddStringToObject(o, "encryptedDataKey", c->encrypted_data_key);
    json_add_int(o, "lastModifiedMs", c->modified_ms);
    cJSON_AddItemToArray(ctx, o);
    return 0;
}

cJSON *registry_dump(struct app *app)
{
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "nowMs", clock_now_ms(&app->clock));
    struct svc_list l = {.namespaces = cJSON_AddArrayToObject(o, "namespaces")};
    struct cs_error cerr;
    int rc = cs_foreach(app->cs, dump_config, cJSON_AddArrayToObject(o, "configs"), &cerr) ? -1 : 0;
    if (rc == 0) rc = store_service_list(app->store, NULL, NULL, 0, -1, dump_service, &l, NULL);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        struct inst_dump d = {cJSON_GetObjectItemCaseSensitive(l.v[i].json, "instances"), app};
        rc = store_instance_foreach(app->store, l.v[i].id, dump_instance, &d);
    }
    free(l.v);
    free(l.cur_ns);
    if (rc) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------ load */

struct loader {
    char *err;
    size_t errlen;
    char path[200];
};

static int bad(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct loader *ld, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->errlen, "%s: %s", ld->path, msg);
    return -1;
}

static const char *opt_string(struct loader *ld, const cJSON *o, const char *key, const char *def, int *rc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsString(v) || !*v->valuestring) {
        *rc = bad(ld, "field '%s' must be a non-empty string", key);
        return def;
    }
    return v->valuestring;
}

static double opt_number(struct loader *ld, const cJSON *o, const char *key, double def, double min, double max, int *rc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max)) {
        *rc = bad(ld, "field '%s' must be a number from %g to %g", key, min, max);
        return def;
    }
    return v->valuedouble;
}

static bool opt_bool(struct loader *ld, const cJSON *o, const char *key, bool def, int *rc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsBool(v)) {
        *rc = bad(ld, "field '%s' must be true or false", key);
        return def;
    }
    return cJSON_IsTrue(v);
}

/* Validates (write=false) or writes (write=true) one service. */
static int load_service(struct app *app, struct loader *ld, const char *ns, const cJSON *svc, bool write,
                        long *n_inst, int64_t now)
{
    int rc = 0;
    struct reply rep;
    reply_init(&rep);
    if (!cJSON_IsObject(svc)) return bad(ld, "must be an object");
    const char *name = opt_string(ld, svc, "name", NULL, &rc);
    const char *group = opt_string(ld, svc, "groupName", DEFAULT_GROUP, &rc);
    if (rc) return rc;
    if (!name) return bad(ld, "field 'name' is required");
    char grouped[GROUPED_MAX];
    const char *sep = strstr(name, GROUP_SEP);
    int glen = sep ? snprintf(grouped, sizeof grouped, "%s", name)
                   : snprintf(grouped, sizeof grouped, "%s" GROUP_SEP "%s", group, name);
    /* truncated, the '@@' could be cut off (gsep NULL below) */
    if (glen < 0 || (size_t)glen >= sizeof grouped)
        return bad(ld, "field 'name' is too long: group and service are at most %d bytes each", NAME_MAX_BYTES);
    const char *gsep = strstr(grouped, GROUP_SEP);
    if (gsep == grouped || !gsep[2])   /* as the API: `@@svc` and `group@@` are refused */
        return bad(ld, "field 'name': group and service around '@@' must not be empty, got \"%.200s\"", grouped);
    char gpart[NAME_MAX_BYTES + 2];
    snprintf(gpart, sizeof gpart, "%.*s", (int)(gsep - grouped), grouped);
    if (naming_check_name_or_reply("groupName", gpart, strlen(gpart), &rep) ||
        naming_check_name_or_reply("name", gsep + 2, strlen(gsep + 2), &rep)) {
        rc = bad(ld, "%s", rep.body ? rep.body : "invalid name");
        reply_free(&rep);
        return rc;
    }
    double threshold = opt_number(ld, svc, "protectThreshold", 0.0, 0.0, 1.0, &rc);
    bool explicit_ = opt_bool(ld, svc, "explicit", true, &rc);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(svc, "metadata");
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(svc, "selector");
    if (md && !cJSON_IsNull(md) && !cJSON_IsObject(md)) rc = bad(ld, "field 'metadata' must be an object");
    if (sel && !cJSON_IsNull(sel) && !cJSON_IsObject(sel)) rc = bad(ld, "field 'selector' must be an object");
    const cJSON *insts = cJSON_GetObjectItemCaseSensitive(svc, "instances");
    if (insts && !cJSON_IsNull(insts) && !cJSON_IsArray(insts)) rc = bad(ld, "field 'instances' must be an array");
    if (rc) return rc;

    char err[256];
    cJSON *mdn = md && cJSON_IsObject(md) ? naming_metadata_from_json(md, err, sizeof err) : cJSON_CreateObject();
    char *md_text = mdn ? cJSON_PrintUnformatted(mdn) : NULL;
    char *sel_text = sel && cJSON_IsObject(sel) ? cJSON_PrintUnformatted(sel) : NULL;
    cJSON_Delete(mdn);
    int64_t sid = 0;
    if (write) {
        int c = store_service_create(app->store, ns, grouped, threshold, md_text, sel_text, explicit_, now, &sid);
        if (c == 1) {   /* exists: take the snapshot's settings, keep its instances */
            struct service_rec s;
            if (store_service_get(app->store, ns, grouped, &s) == 0) {
                sid = s.id;
                store_service_rec_free(&s);
                c = store_service_update(app->store, sid, threshold, md_text, sel_text);
            }
        }
        if (c) rc = -2;
    }
    cJSON_free(md_text);
    cJSON_free(sel_text);
    if (rc) return rc;

    size_t base = strlen(ld->path);
    int idx = 0;
    for (const cJSON *in = insts ? insts->child : NULL; in && rc == 0; in = in->next, idx++) {
        snprintf(ld->path + base, sizeof ld->path - base, ".instances[%d]", idx);
        if (!cJSON_IsObject(in)) { rc = bad(ld, "must be an object"); break; }
        const char *ip = opt_string(ld, in, "ip", NULL, &rc);
        const char *cluster = opt_string(ld, in, "clusterName", DEFAULT_CLUSTER, &rc);
        const char *iid = opt_string(ld, in, "instanceId", NULL, &rc);
        const char *app_name = opt_string(ld, in, "app", NULL, &rc);
        double port = opt_number(ld, in, "port", 0, 1, 65535, &rc);
        double weight = opt_number(ld, in, "weight", 1.0, 0.0, 10000.0, &rc);
        bool healthy = opt_bool(ld, in, "healthy", true, &rc);
        bool enabled = opt_bool(ld, in, "enabled", true, &rc);
        bool ephemeral = opt_bool(ld, in, "ephemeral", true, &rc);
        bool marked = opt_bool(ld, in, "marked", false, &rc);
        double last = opt_number(ld, in, "lastBeatMs", (double)now, 0, 1e15, &rc);
        double regd = opt_number(ld, in, "registeredMs", last, 0, 1e15, &rc);
        if (rc) break;
        if (!ip) { rc = bad(ld, "field 'ip' is required"); break; }
        if (!port || port != floor(port)) { rc = bad(ld, "field 'port' is required: an integer from 1 to 65535"); break; }
        if (naming_check_ip_or_reply("ip", ip, &rep) || naming_check_name_or_reply("clusterName", cluster, strlen(cluster), &rep)) {
            rc = bad(ld, "%s", rep.body ? rep.body : "invalid");
            break;
        }
        const cJSON *imd = cJSON_GetObjectItemCaseSensitive(in, "metadata");
        if (imd && !cJSON_IsNull(imd) && !cJSON_IsObject(imd)) { rc = bad(ld, "field 'metadata' must be an object"); break; }
        cJSON *m = imd && cJSON_IsObject(imd) ? naming_metadata_from_json(imd, err, sizeof err) : cJSON_CreateObject();
        int64_t interval, timeout, del;
        struct naming_err ne;
        if (nc_instance_timeouts(app, m, &interval, &timeout, &del, &ne)) {
            rc = bad(ld, "caused: %s;", ne.msg);
            cJSON_Delete(m);
            break;
        }
        interval = (int64_t)opt_number(ld, in, "heartBeatIntervalMs", (double)interval, 1, 1e12, &rc);
        timeout = (int64_t)opt_number(ld, in, "heartBeatTimeoutMs", (double)timeout, 1, 1e12, &rc);
        del = (int64_t)opt_number(ld, in, "ipDeleteTimeoutMs", (double)del, 1, 1e12, &rc);
        if (rc == 0 && write) {
            char idbuf[GROUPED_MAX + 600];
            if (!iid) iid = naming_instance_id(idbuf, sizeof idbuf, ip, (int)port, cluster, grouped);
            char *mt = cJSON_PrintUnformatted(m);
            struct instance_rec r = {.service_id = sid, .cluster = cluster, .ip = ip, .port = (int)port,
                                     .instance_id = iid, .weight = weight, .healthy = healthy, .enabled = enabled,
                                     .ephemeral = ephemeral, .marked = marked, .metadata = mt, .app = app_name,
                                     .registered_ms = (int64_t)regd, .last_beat_ms = (int64_t)last,
                                     .hb_interval_ms = interval, .hb_timeout_ms = timeout, .delete_timeout_ms = del};
            if (!mt || store_instance_upsert(app->store, &r, NULL)) rc = -2;
            cJSON_free(mt);
            (*n_inst)++;
        }
        cJSON_Delete(m);
    }
    ld->path[base] = '\0';
    reply_free(&rep);
    if (rc == 0 && write) app_service_changed(app, now, sid, ns, grouped);
    return rc;
}

/* The snapshot's name of a field the config core names (its v1 parameter names). */
static const char *config_field(const char *core_field)
{
    if (!strcmp(core_field, "tenant")) return "namespaceId";
    if (!strcmp(core_field, "config_tags")) return "configTags";
    return core_field;
}

/* The publishes of the snapshot's "configs" (views into the JSON), validated: *v (caller frees) and
 * *n. 0 ok, -1 with the bad entry named. */
static int walk_configs(struct loader *ld, const cJSON *configs, struct cs_publish **v, size_t *n)
{
    *v = NULL;
    *n = 0;
    if (!configs || cJSON_IsNull(configs)) return 0;
    if (!cJSON_IsArray(configs)) { snprintf(ld->path, sizeof ld->path, "configs"); return bad(ld, "must be an array"); }
    size_t cap = (size_t)cJSON_GetArraySize(configs);
    if (!cap) return 0;
    if (!(*v = calloc(cap, sizeof **v))) { snprintf(ld->path, sizeof ld->path, "configs"); return bad(ld, "out of memory"); }
    int i = 0;
    for (const cJSON *c = configs->child; c; c = c->next, i++) {
        snprintf(ld->path, sizeof ld->path, "configs[%d]", i);
        if (!cJSON_IsObject(c)) return bad(ld, "must be an object");
        static const char *const fields[] = {"namespaceId", "group", "dataId", "content", "type", "appName", "desc",
                                             "configTags", "encryptedDataKey"};
        const char *val[sizeof fields / sizeof fields[0]] = {0};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, fields[f]);
            if (x && !cJSON_IsNull(x) && !cJSON_IsString(x)) {
                snprintf(ld->path, sizeof ld->path, "configs[%d].%s", i, fields[f]);
                return bad(ld, "must be a string");
            }
            val[f] = cJSON_IsString(x) ? x->valuestring : NULL;
        }
        struct cs_publish p = {
            .key = {val[2], val[1] ? val[1] : CS_DEFAULT_GROUP, val[0]}, .content = val[3],
            .content_len = val[3] ? strlen(val[3]) : 0, .type = val[4], .app_name = val[5], .desc = val[6],
            .config_tags = val[7], .encrypted_data_key = val[8],
        };
        struct cs_error e;
        if (cs_publish_check(&p, &e)) {
            snprintf(ld->path, sizeof ld->path, "configs[%d].%s", i, config_field(e.field));
            return bad(ld, "%s", e.msg);
        }
        (*v)[(*n)++] = p;
    }
    return 0;
}

static int walk(struct app *app, struct loader *ld, const cJSON *snap, bool write, long *n_svc, long *n_inst)
{
    if (!cJSON_IsObject(snap)) { snprintf(ld->path, sizeof ld->path, "snapshot"); return bad(ld, "must be a JSON object"); }
    const cJSON *nss = cJSON_GetObjectItemCaseSensitive(snap, "namespaces");
    const cJSON *cfgs = cJSON_GetObjectItemCaseSensitive(snap, "configs");
    if ((nss || !cfgs) && !cJSON_IsArray(nss)) {   /* optional when the snapshot holds configs */
        snprintf(ld->path, sizeof ld->path, "namespaces");
        return bad(ld, "is required: an array (or give \"configs\" alone)");
    }
    int64_t now = clock_now_ms(&app->clock);
    int i = 0;
    for (const cJSON *ns = nss ? nss->child : NULL; ns; ns = ns->next, i++) {
        snprintf(ld->path, sizeof ld->path, "namespaces[%d]", i);
        if (!cJSON_IsObject(ns)) return bad(ld, "must be an object");
        int rc = 0;
        const char *nsid = opt_string(ld, ns, "namespaceId", DEFAULT_NAMESPACE, &rc);
        if (rc) return rc;
        struct reply rep;   /* the rules the API applies to namespaceId */
        reply_init(&rep);
        if (naming_check_name_or_reply("namespaceId", nsid, strlen(nsid), &rep)) {
            rc = bad(ld, "%s", rep.body ? rep.body : "invalid namespaceId");
            reply_free(&rep);
            return rc;
        }
        const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(ns, "services");
        if (svcs && !cJSON_IsArray(svcs)) return bad(ld, "field 'services' must be an array");
        int k = 0;
        for (const cJSON *s = svcs ? svcs->child : NULL; s; s = s->next, k++) {
            snprintf(ld->path, sizeof ld->path, "namespaces[%d].services[%d]", i, k);
            if ((rc = load_service(app, ld, nsid, s, write, n_inst, now))) return rc;
            if (write) (*n_svc)++;
        }
    }
    return 0;
}

int registry_load(struct app *app, const cJSON *snap, struct registry_counts *n, char *err, size_t errlen)
{
    struct loader ld = {.err = err, .errlen = errlen};
    long ns = 0, ni = 0;
    struct cs_publish *configs = NULL;
    size_t nc = 0;
    /* validate everything before writing anything */
    int rc = walk(app, &ld, snap, false, &ns, &ni);
    if (rc == 0) rc = walk_configs(&ld, cJSON_GetObjectItemCaseSensitive(snap, "configs"), &configs, &nc);
    if (rc) goto out;
    if (store_begin(app->store)) {
        rc = -2;
        goto out;
    }
    rc = walk(app, &ld, snap, true, &ns, &ni);
#ifdef NACOS_MOCK_TEST_HOOKS
    if (rc == 0 && app->test_hook) app->test_hook(app->test_hook_ctx, "registry.load");   /* written, not committed */
#endif
    if (rc || store_commit(app->store)) {
        store_rollback(app->store);
        snprintf(err, errlen, "registry store error: %s", store_errmsg(app->store));
        rc = -2;
        goto out;
    }
    struct cs_error e;
    if (nc && cs_publish_many(app->cs, configs, nc, "control", clock_now_ms(&app->clock), &e)) {
        snprintf(err, errlen, "configs%s: %s", e.field, e.msg);
        rc = e.status == CS_ERROR ? -2 : -1;
        goto out;
    }
    if (n) *n = (struct registry_counts){ns, ni, (long)nc};
out:
    free(configs);
    return rc;
}

int registry_load_file(struct app *app, const char *path, char *err, size_t errlen)
{
    char *text = util_read_file(path, NULL);
    if (!text) {
        snprintf(err, errlen, "cannot read %s", path);
        return -1;
    }
    cJSON *snap = cJSON_Parse(text);
    free(text);
    if (!snap) {
        snprintf(err, errlen, "%s is not valid JSON", path);
        return -1;
    }
    char why[512];
    int rc = registry_load(app, snap, NULL, why, sizeof why);
    cJSON_Delete(snap);
    if (rc) snprintf(err, errlen, "%s: %s", path, why);
    return rc ? -1 : 0;
}
