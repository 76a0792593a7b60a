/*
 * naming_service.c — the v1 HTTP adapter of /nacos/v1/ns/service*: create, delete, update, get, list
 * (nacos-api.md §2.2, 1.x wording) over the naming core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/naming_http.h"
#include "nacos_mock/store.h"
#include "nacos_mock/validate.h"

struct svc_params {
    const char *ns;
    char name[GROUPED_MAX];
    struct nh_service body;
};

static int key_or_reply(const struct request *req, struct reply *rep, struct svc_params *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->ns = naming_namespace(&req->params);
    if (naming_check_name_or_reply("namespaceId", sp->ns, strlen(sp->ns), rep)) return -1;
    return naming_grouped_service_or_reply(&req->params, rep, sp->name, sizeof sp->name);
}

/* protectThreshold, metadata, selector. */
static int body_or_reply(const struct request *req, struct reply *rep, struct svc_params *sp)
{
    struct naming_err e;
    if (nh_service_body(&req->params, 0.0, &sp->body, &e) == 0) return 0;
    naming_err_reply(&e, rep);
    return -1;
}

static struct nc_service core_of(const struct svc_params *sp)
{
    return (struct nc_service){.ns = sp->ns, .service = sp->name, .protect_threshold = sp->body.threshold,
                               .metadata = sp->body.metadata, .selector = sp->body.selector};
}

void h_service_create(struct app *app, struct request *req, struct reply *rep)
{
    struct svc_params sp;
    struct naming_err e;
    if (key_or_reply(req, rep, &sp) == 0 && body_or_reply(req, rep, &sp) == 0) {
        struct nc_service cs = core_of(&sp);
        if (nc_service_create(app, &cs, req->now_ms, &e)) naming_err_reply(&e, rep);
        else reply_ok(rep);
    }
    nh_service_free(&sp.body);
}

void h_service_delete(struct app *app, struct request *req, struct reply *rep)
{
    struct svc_params sp;
    struct naming_err e;
    if (key_or_reply(req, rep, &sp)) return;
    if (nc_service_delete(app, sp.ns, sp.name, req->now_ms, &e)) naming_err_reply(&e, rep);
    else reply_ok(rep);
}

void h_service_update(struct app *app, struct request *req, struct reply *rep)
{
    struct svc_params sp;
    struct naming_err e;
    const char *pt;
    if (key_or_reply(req, rep, &sp) || param_required_or_reply(&req->params, rep, "protectThreshold", &pt) ||
        body_or_reply(req, rep, &sp))
        goto out;
    struct nc_service cs = core_of(&sp);
    if (nc_service_update(app, &cs, req->now_ms, &e)) naming_err_reply(&e, rep);
    else reply_ok(rep);
out:
    nh_service_free(&sp.body);
}

static void add_cluster(void *ctx, const char *cluster, const char *checker)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", cluster);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "healthChecker"), "type", checker);
    cJSON_AddObjectToObject(c, "metadata");
    cJSON_AddItemToArray(ctx, c);
}

void h_service_get(struct app *app, struct request *req, struct reply *rep)
{
    struct svc_params sp;
    if (key_or_reply(req, rep, &sp)) return;
    struct service_rec s;
    struct naming_err e;
    if (nc_service_get(app, sp.ns, sp.name, &s, &e)) {
        naming_err_reply(&e, rep);
        return;
    }
    char buf[GROUPED_MAX];
    const char *group = "", *bare = s.name;
    naming_split(s.name, buf, sizeof buf, &group, &bare);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", bare);
    cJSON_AddStringToObject(o, "namespaceId", s.ns);
    json_add_double(o, "protectThreshold", s.protect_threshold);
    cJSON_AddItemToObject(o, "metadata", json_object_or_empty(s.metadata));
    cJSON_AddItemToObject(o, "selector", json_object_or_empty(s.selector));
    cJSON_AddStringToObject(o, "groupName", group);
    cJSON *clusters = cJSON_AddArrayToObject(o, "clusters");
    int rc = nc_service_clusters(app, s.id, add_cluster, clusters, &e);
    store_service_rec_free(&s);
    if (rc) {
        cJSON_Delete(o);
        naming_err_reply(&e, rep);
        return;
    }
    reply_json(rep, 200, o);
}

static int add_dom(void *ctx, const struct service_rec *s)
{
    const char *sep = strstr(s->name, GROUP_SEP);
    cJSON_AddItemToArray(ctx, cJSON_CreateString(sep ? sep + 2 : s->name));
    return 0;
}

/* Java's Integer.parseInt fallback of the service list: non-numbers count as 0. */
static long lenient_long(const char *v)
{
    long long n;
    return params_strtoll(v, &n) == 0 && n > -1000000000LL && n < 1000000000LL ? (long)n : 0;
}

void h_service_list(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    const char *pn, *ps;
    if (param_required_or_reply(p, rep, "pageNo", &pn) || param_required_or_reply(p, rep, "pageSize", &ps)) return;
    cJSON *o = cJSON_CreateObject();
    cJSON *doms = cJSON_AddArrayToObject(o, "doms");
    long total = 0;
    struct naming_err e;
    if (nc_service_list(app, naming_namespace(p), params_get(p, "groupName"), lenient_long(pn), lenient_long(ps),
                        add_dom, doms, &total, &e)) {
        cJSON_Delete(o);
        naming_err_reply(&e, rep);
        return;
    }
    json_add_int(o, "count", total);
    reply_json(rep, 200, o);
}
