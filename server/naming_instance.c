/*
 * naming_instance.c — the v1 HTTP adapter of /nacos/v1/ns/instance*: register, deregister, update,
 * patch, detail, list, beat, statuses, metadata batch. Each handler turns its parameters into the
 * naming core's structs (naming_core.h), calls the core and renders the v1 answer; the behaviour is
 * the core's (nacos-api.md §2.1, 1.x semantics).
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
#include "nacos_mock/naming_list.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/validate.h"

/* A key's parameters: namespace, grouped service (kept in `service`), cluster (clusterName, or
 * `cluster` when fallback), ip, port, checked in the order the v1 API reports them. */
struct v1_key {
    struct nc_key k;
    char service[GROUPED_MAX];
};

static int key_or_reply(const struct request *req, struct reply *rep, struct v1_key *vk, bool cluster_fallback)
{
    const struct params *p = &req->params;
    struct nc_key *k = &vk->k;
    k->ns = naming_namespace(p);
    if (naming_check_name_or_reply("namespaceId", k->ns, strlen(k->ns), rep)) return -1;
    if (naming_grouped_service_or_reply(p, rep, vk->service, sizeof vk->service)) return -1;
    k->service = vk->service;
    if (param_required_or_reply(p, rep, "ip", &k->ip) || naming_check_ip_or_reply("ip", k->ip, rep)) return -1;
    if (param_port_or_reply(p, rep, "port", &k->port)) return -1;
    k->cluster = params_get(p, "clusterName");
    if (!k->cluster && cluster_fallback) k->cluster = params_get(p, "cluster");
    if (!k->cluster) k->cluster = DEFAULT_CLUSTER;
    return naming_check_name_or_reply("clusterName", k->cluster, strlen(k->cluster), rep);
}

/* The answer of a core call that failed. Always -1, for `return fail(...)`. */
static int fail(const struct naming_err *e, struct reply *rep)
{
    naming_err_reply(e, rep);
    return -1;
}

static int weight_or_reply(const struct params *p, struct reply *rep, double def, double *w)
{
    struct naming_err e;
    if (param_double(p, "weight", def, w, &e) == 0 && nc_check_weight(*w, &e) == 0) return 0;
    return fail(&e, rep);
}

static int metadata_or_reply(const char *text, struct reply *rep, cJSON **md)
{
    struct naming_err e;
    return naming_metadata_param(text, md, &e) ? fail(&e, rep) : 0;
}

/* register / update parameters. *md is the metadata object the instance points at (caller deletes). */
static int instance_or_reply(const struct request *req, struct reply *rep, struct v1_key *vk, struct nc_instance *in,
                             cJSON **md)
{
    const struct params *p = &req->params;
    memset(in, 0, sizeof *in);
    if (key_or_reply(req, rep, vk, true) || weight_or_reply(p, rep, 1.0, &in->weight)) return -1;
    in->k = vk->k;
    const char *en = params_get(p, "enabled");
    if (!en) en = params_get(p, "enable");
    in->enabled = en ? params_truthy(en) : true;
    in->healthy_given = params_get(p, "healthy") != NULL;
    in->healthy = param_bool(p, "healthy", true);
    in->ephemeral_given = params_get(p, "ephemeral") != NULL;
    in->ephemeral = param_bool(p, "ephemeral", true);
    in->app = params_get(p, "app");
    if (metadata_or_reply(params_get(p, "metadata"), rep, md)) return -1;
    in->metadata = *md;
    return 0;
}

static void upsert(struct app *app, struct request *req, struct reply *rep, enum nc_write_mode mode)
{
    struct v1_key vk;
    struct nc_instance in;
    cJSON *md = NULL;
    struct naming_err e;
    if (instance_or_reply(req, rep, &vk, &in, &md) == 0) {
        if (nc_register(app, &in, mode, 0, req->now_ms, &e)) fail(&e, rep);
        else reply_ok(rep);
    }
    cJSON_Delete(md);
}

void h_instance_register(struct app *app, struct request *req, struct reply *rep)
{
    upsert(app, req, rep, NC_REGISTER);
}

void h_instance_update(struct app *app, struct request *req, struct reply *rep)
{
    /* 1.x: the Java client >= 1.0.0 may only update what exists; every other client upserts */
    upsert(app, req, rep, naming_ua_java_ge_1(req->user_agent) ? NC_UPDATE_EXISTING : NC_UPDATE);
}

void h_instance_deregister(struct app *app, struct request *req, struct reply *rep)
{
    struct v1_key vk;
    struct naming_err e;
    if (key_or_reply(req, rep, &vk, true)) return;
    if (nc_deregister(app, &vk.k, param_bool(&req->params, "ephemeral", true), 0, req->now_ms, &e)) fail(&e, rep);
    else reply_ok(rep);   /* unknown service or instance: a silent no-op, as in Nacos */
}

void h_instance_patch(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    struct v1_key vk;
    if (key_or_reply(req, rep, &vk, true)) return;
    double weight = 0;
    bool healthy = param_bool(p, "healthy", true), enabled = params_truthy(params_get(p, "enabled") ? params_get(p, "enabled") : "");
    if (params_get(p, "weight") && weight_or_reply(p, rep, 1.0, &weight)) return;
    cJSON *md = NULL;
    if (params_get(p, "metadata") && metadata_or_reply(params_get(p, "metadata"), rep, &md)) return;
    struct nc_patch pt = {
        .weight = params_get(p, "weight") ? &weight : NULL, .healthy = params_get(p, "healthy") ? &healthy : NULL,
        .enabled = params_get(p, "enabled") ? &enabled : NULL, .metadata = md, .app = params_get(p, "app"),
    };
    struct naming_err e;
    if (nc_patch(app, &vk.k, &pt, req->now_ms, &e)) fail(&e, rep);
    else reply_ok(rep);
    cJSON_Delete(md);
}

void h_instance_detail(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    struct v1_key vk;
    struct nc_key *k = &vk.k;
    k->ns = naming_namespace(p);
    if (naming_check_name_or_reply("namespaceId", k->ns, strlen(k->ns), rep) ||
        naming_grouped_service_or_reply(p, rep, vk.service, sizeof vk.service))
        return;
    k->service = vk.service;
    if (param_required_or_reply(p, rep, "ip", &k->ip) || naming_check_ip_or_reply("ip", k->ip, rep)) return;
    if (param_port_or_reply(p, rep, "port", &k->port)) return;
    k->cluster = params_get(p, "clusterName");   /* `cluster` is ignored here, as in Nacos */
    if (!k->cluster) k->cluster = DEFAULT_CLUSTER;
    struct instance_rec r;
    struct naming_err e;
    if (nc_detail(app, k, &r, &e)) {
        fail(&e, rep);
        return;
    }
    cJSON *o = nh_instance_detail_json("service", k->service, &r);
    store_instance_rec_free(&r);
    reply_json(rep, 200, o);
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
    if (naming_check_name_or_reply("namespaceId", ns, strlen(ns), rep) ||
        naming_grouped_service_or_reply(p, rep, service, sizeof service) ||
        param_int_or_reply(p, rep, "udpPort", 0, 0, 65535, &udp_port))
        return;
    if (params_parse_boolean(params_get(p, "isCheck"))) {
        reply_json(rep, 200, cJSON_CreateObject());
        return;
    }
    const char *clusters = params_get(p, "clusters");
    struct list_query q = {
        .shape = LIST_V1, .ns = ns, .service = service, .clusters = clusters ? clusters : "",
        .env = params_get(p, "env"), .healthy_only = params_parse_boolean(params_get(p, "healthyOnly")),
        .java_ge_1 = naming_ua_java_ge_1(req->user_agent),
        .subscribed = udp_port > 0 && subs_add_udp(app->subs, ns, service, clusters ? clusters : "", &req->peer,
                                                   (int)udp_port, req->user_agent, clock_mono_ms()),
    };
    list_answer(app, &q, rep);
}

/* ------------------------------------------------------------------ beat */

void h_instance_beat(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    char service[GROUPED_MAX];
    struct nh_beat b = {.k.ns = naming_namespace(p)};
    struct naming_err e;
    if (naming_check_name_or_reply("namespaceId", b.k.ns, strlen(b.k.ns), rep) ||
        naming_grouped_service_or_reply(p, rep, service, sizeof service))
        return;
    b.k.service = service;
    if (nh_beat_parse(req, &b, &e)) {
        fail(&e, rep);
        return;
    }
    int code;
    int64_t interval;
    if (nc_beat(app, &b.k, b.have_full ? &b.full : NULL, req->now_ms, &code, &interval, &e)) fail(&e, rep);
    else nh_beat_answer(rep, interval, code);
    nh_beat_free(&b);
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

void h_instance_metadata_batch(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    char service[GROUPED_MAX];
    const char *ns = naming_namespace(p);
    struct nh_batch b;
    struct naming_err e;
    if (naming_check_name_or_reply("namespaceId", ns, strlen(ns), rep) ||
        naming_grouped_service_or_reply(p, rep, service, sizeof service))
        return;
    if (nh_batch_parse(req, ns, service, &b, &e)) {
        fail(&e, rep);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    if (nc_metadata_batch(app, &b.mb, req->now_ms, nh_batch_updated, cJSON_AddArrayToObject(out, "updated"), &e)) {
        cJSON_Delete(out);
        fail(&e, rep);
    } else {
        reply_json(rep, 200, out);
    }
    nh_batch_free(&b);
}
