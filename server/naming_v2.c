/*
 * naming_v2.c — the v2 Open API adapter of the naming core (nacos-api.md §5; Nacos 2.2+'s
 * InstanceControllerV2, ServiceControllerV2, ClientInfoControllerV2, HealthControllerV2,
 * OperatorControllerV2, the console's HealthControllerV2 and NacosClusterControllerV2): the third
 * way into the registry, after v1 HTTP and gRPC. Each handler reads its parameters (the group is
 * `groupName`: a serviceName is never pre-grouped here), calls the naming core, and renders the
 * result — or the core's naming_err, with the status and code real Nacos gives that failure — in
 * the v2 envelope (v2_envelope.h). `PUT /instance/beat` answers the un-enveloped beat JSON, as Nacos.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clients.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/naming_http.h"
#include "nacos_mock/naming_list.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/v2_envelope.h"
#include "nacos_mock/validate.h"

/* ------------------------------------------------------------------ errors */

/* How a kind of core failure answers on v2: HTTP status and code (ServiceOperatorV2Impl,
 * InstanceOperatorClientImpl, NacosApiExceptionHandler). */
struct v2_map {
    enum naming_code kind;
    int status, code;
};

static const struct v2_map DEFAULT_MAP[] = {
    {NAMING_PARAM_MISSING, 400, V2_PARAMETER_MISSING},
    {NAMING_PARAM_INVALID, 400, V2_PARAMETER_VALIDATE_ERROR},
    {NAMING_WEIGHT, 400, V2_WEIGHT_ERROR},
    {NAMING_INSTANCE_METADATA, 400, V2_INSTANCE_ERROR},      /* checkInstanceIsLegal: INSTANCE_ERROR */
    {NAMING_METADATA, 400, V2_INSTANCE_METADATA_ERROR},      /* parseMetadata, for services too */
    {NAMING_SERVICE_NOT_FOUND, 400, V2_SERVICE_NOT_EXIST},
    {NAMING_INSTANCE_NOT_FOUND, 404, V2_RESOURCE_NOT_FOUND},
    {NAMING_SERVICE_EXISTS, 400, V2_SERVICE_ALREADY_EXIST},
    {NAMING_SERVICE_NOT_EMPTY, 400, V2_SERVICE_DELETE_FAILURE},
    {NAMING_SELECTOR, 400, V2_SELECTOR_ERROR},
    {NAMING_CLIENT_NOT_FOUND, 404, V2_RESOURCE_NOT_FOUND},
    {NAMING_STORE, 500, V2_SERVER_ERROR},
};

/* An instance detail finds no service or no instance alike: 404 "resource not found". */
static const struct v2_map DETAIL_MAP[] = {{NAMING_SERVICE_NOT_FOUND, 404, V2_RESOURCE_NOT_FOUND}};
/* An update of an unknown service is an INSTANCE_ERROR in Nacos; of an unknown instance nacos-mock
 * answers "instance not found" (Nacos would keep the values for an instance that may come later). */
static const struct v2_map UPDATE_MAP[] = {{NAMING_SERVICE_NOT_FOUND, 400, V2_INSTANCE_ERROR},
                                           {NAMING_INSTANCE_NOT_FOUND, 404, V2_INSTANCE_NOT_FOUND}};
#define MAP(m) m, sizeof m / sizeof m[0]

/* Answers e on v2: the call's own map first, then the default. A missing parameter is worded as
 * Spring words it. Always -1. */
static int fail_map(const struct naming_err *e, struct reply *rep, const struct v2_map *own, size_t n_own)
{
    int status = 500, code = V2_SERVER_ERROR;
    bool found = false;
    for (size_t i = 0; i < n_own && !found; i++)
        if ((found = own[i].kind == e->code)) status = own[i].status, code = own[i].code;
    for (size_t i = 0; i < sizeof DEFAULT_MAP / sizeof DEFAULT_MAP[0] && !found; i++)
        if ((found = DEFAULT_MAP[i].kind == e->code)) status = DEFAULT_MAP[i].status, code = DEFAULT_MAP[i].code;
    if (e->code == NAMING_PARAM_MISSING && e->param[0])
        v2_error(rep, status, code, "Required parameter '%s' type %s is not present", e->param,
                 e->type ? e->type : "String");
    else
        v2_error(rep, status, code, "%s", e->msg);
    return -1;
}

static int fail(const struct naming_err *e, struct reply *rep) { return fail_map(e, rep, NULL, 0); }

/* ------------------------------------------------------------------ parameters */

/* namespaceId, groupName and serviceName of a v2 call, grouped. */
struct v2_service {
    const char *ns;
    char grouped[GROUPED_MAX];
};

static int service_of(const struct params *p, struct v2_service *s, struct naming_err *e)
{
    const char *svc;
    s->ns = naming_namespace(p);
    if (naming_check_name("namespaceId", s->ns, strlen(s->ns), e) || param_required(p, "serviceName", "String", &svc, e))
        return -1;
    if (strstr(svc, GROUP_SEP)) {   /* never pre-grouped on v2 (nacos-api.md §5) */
        naming_err_set(e, NAMING_PARAM_INVALID, 400,
                       "Param 'serviceName' is illegal: it must not contain '@@' (the v2 API takes the group in "
                       "'groupName'), got \"%.600s\"", svc);
        return -1;
    }
    return naming_group_service(svc, params_get(p, "groupName"), s->grouped, sizeof s->grouped, e);
}

/* The instance form of register, deregister and update (InstanceForm). Free with form_free. */
struct v2_form {
    struct v2_service s;
    struct nc_instance in;
    cJSON *md;
};

static int instance_form(const struct params *p, struct v2_form *f, struct naming_err *e)
{
    memset(f, 0, sizeof *f);
    struct nc_instance *in = &f->in;
    if (service_of(p, &f->s, e) || param_required(p, "ip", "String", &in->k.ip, e) ||
        param_port(p, "port", &in->k.port, e) || param_double(p, "weight", 1.0, &in->weight, e) ||
        nc_check_weight(in->weight, e) || naming_metadata_param(params_get(p, "metadata"), &f->md, e))
        return -1;
    in->k.ns = f->s.ns;
    in->k.service = f->s.grouped;
    in->k.cluster = params_get(p, "clusterName");
    in->healthy_given = params_get(p, "healthy") != NULL;
    in->healthy = param_bool(p, "healthy", true);
    in->enabled = param_bool(p, "enabled", true);
    in->ephemeral_given = params_get(p, "ephemeral") != NULL;
    in->ephemeral = param_bool(p, "ephemeral", true);   /* the switch defaultInstanceEphemeral */
    in->metadata = f->md;
    return nc_check_key(&in->k, e);
}

static void form_free(struct v2_form *f) { cJSON_Delete(f->md); }

/* namespaceId, groupName, serviceName, ip, port, clusterName (DEFAULT): one instance. */
static int key_of(const struct params *p, struct v2_service *s, struct nc_key *k, struct naming_err *e)
{
    memset(k, 0, sizeof *k);
    if (service_of(p, s, e) || param_required(p, "ip", "String", &k->ip, e) || param_port(p, "port", &k->port, e))
        return -1;
    k->ns = s->ns;
    k->service = s->grouped;
    k->cluster = params_get(p, "clusterName");
    return nc_check_key(k, e);
}

/* ------------------------------------------------------------------ /nacos/v2/ns/instance */

void h_v2_instance_register(struct app *app, struct request *req, struct reply *rep)
{
    struct v2_form f;
    struct naming_err e;
    if (instance_form(&req->params, &f, &e) || nc_register(app, &f.in, NC_REGISTER, 0, req->now_ms, &e)) fail(&e, rep);
    else v2_ok_string(rep, "ok");
    form_free(&f);
}

void h_v2_instance_deregister(struct app *app, struct request *req, struct reply *rep)
{
    struct v2_form f;
    struct naming_err e;
    /* the whole form is checked, weight and metadata too, as Nacos does; an unknown instance is a
     * silent success */
    if (instance_form(&req->params, &f, &e) || nc_deregister(app, &f.in.k, f.in.ephemeral, 0, req->now_ms, &e))
        fail(&e, rep);
    else v2_ok_string(rep, "ok");
    form_free(&f);
}

void h_v2_instance_update(struct app *app, struct request *req, struct reply *rep)
{
    struct v2_form f;
    struct naming_err e;
    if (instance_form(&req->params, &f, &e)) {
        fail(&e, rep);
    } else {
        f.in.healthy_given = f.in.ephemeral_given = false;   /* 2.x: weight, enabled and metadata only */
        if (nc_register(app, &f.in, NC_UPDATE_EXISTING, 0, req->now_ms, &e)) fail_map(&e, rep, MAP(UPDATE_MAP));
        else v2_ok_string(rep, "ok");
    }
    form_free(&f);
}

void h_v2_instance_detail(struct app *app, struct request *req, struct reply *rep)
{
    struct v2_service s;
    struct nc_key k;
    struct instance_rec r;
    struct naming_err e;
    if (key_of(&req->params, &s, &k, &e)) {
        fail(&e, rep);
        return;
    }
    if (nc_detail(app, &k, &r, &e)) {
        fail_map(&e, rep, MAP(DETAIL_MAP));
        return;
    }
    cJSON *o = nh_instance_detail_json("serviceName", k.service, &r);   /* InstanceDetailInfoVo */
    store_instance_rec_free(&r);
    v2_ok(rep, o);
}

void h_v2_instance_list(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    struct v2_service s;
    struct naming_err e;
    long long port;
    if (service_of(p, &s, &e) || param_int(p, "port", 0, 0, 65535, &port, &e)) {
        fail(&e, rep);
        return;
    }
    const char *clusters = params_get(p, "clusterName");
    /* a push-capable client that names a port subscribes to UDP pushes, as on v1 (the target is the
     * HTTP peer, never the `ip` parameter) */
    if (port > 0) subs_add_udp(app->subs, s.ns, s.grouped, clusters ? clusters : "", &req->peer, (int)port,
                               req->user_agent, clock_mono_ms());
    struct list_query q = {.shape = LIST_V2, .ns = s.ns, .service = s.grouped, .clusters = clusters ? clusters : "",
                           .healthy_only = params_parse_boolean(params_get(p, "healthyOnly"))};
    size_t len = 0;
    char *text = naming_list_text(app, &q, &len);
    if (!text) {
        store_rollback(app->store);
        v2_error(rep, 500, V2_SERVER_ERROR, "registry store error: %s", store_errmsg(app->store));
        return;
    }
    v2_ok_raw(rep, text, len);
    free(text);
}

void h_v2_instance_beat(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    char service[GROUPED_MAX];
    struct nh_beat b = {.k.ns = naming_namespace(p)};
    struct naming_err e;
    const char *svc;
    /* the beat alone takes a grouped serviceName (NamingUtils.checkServiceNameFormat); no groupName */
    if (naming_check_name("namespaceId", b.k.ns, strlen(b.k.ns), &e) || param_required(p, "serviceName", "String", &svc, &e))
        goto failed;
    if (!strstr(svc, GROUP_SEP)) {
        naming_err_set(&e, NAMING_PARAM_INVALID, 400,
                       "Param 'serviceName' is illegal, it should be format as 'groupName@@serviceName', got \"%.600s\"",
                       svc);
        goto failed;
    }
    if (naming_group_service(svc, NULL, service, sizeof service, &e)) goto failed;
    b.k.service = service;
    if (nh_beat_parse(req, &b, &e)) goto failed;
    int code;
    int64_t interval;
    if (nc_beat(app, &b.k, b.have_full ? &b.full : NULL, req->now_ms, &code, &interval, &e)) fail(&e, rep);
    else nh_beat_answer(rep, interval, code);
    nh_beat_free(&b);
    return;
failed:
    fail(&e, rep);
}

void h_v2_instance_metadata_batch(struct app *app, struct request *req, struct reply *rep)
{
    struct v2_service s;
    struct nh_batch b;
    struct naming_err e;
    if (service_of(&req->params, &s, &e) || nh_batch_parse(req, s.ns, s.grouped, &b, &e)) {
        fail(&e, rep);
        return;
    }
    cJSON *out = cJSON_CreateObject();   /* InstanceMetadataBatchOperationVo */
    /* an unknown service has no instances to change: 2.x answers an empty list */
    if (nc_metadata_batch(app, &b.mb, req->now_ms, nh_batch_updated, cJSON_AddArrayToObject(out, "updated"), &e) &&
        e.code != NAMING_SERVICE_NOT_FOUND) {
        cJSON_Delete(out);
        fail(&e, rep);
    } else {
        v2_ok(rep, out);
    }
    nh_batch_free(&b);
}

/* ------------------------------------------------------------------ /nacos/v2/ns/service */

/* Create, or update: 2.x replaces the whole service metadata on update, so what is not given goes
 * back to its default. `ephemeral` (default false) is read by Nacos but not kept here: nacos-mock
 * mixes both kinds of instance in any service. */
static void service_write(struct app *app, struct request *req, struct reply *rep, bool create)
{
    struct v2_service s;
    struct nh_service body = {0};
    struct naming_err e;
    if (service_of(&req->params, &s, &e) || nh_service_body(&req->params, 0.0, &body, &e)) {
        fail(&e, rep);
        return;
    }
    struct nc_service cs = {.ns = s.ns, .service = s.grouped, .protect_threshold = body.threshold,
                            .metadata = body.metadata, .selector = body.selector};
    if (!create && !cs.metadata) cs.metadata = "{}";
    if (!create && !cs.selector) cs.selector = "{\"type\":\"none\"}";
    if (create ? nc_service_create(app, &cs, req->now_ms, &e) : nc_service_update(app, &cs, req->now_ms, &e))
        fail(&e, rep);
    else
        v2_ok_string(rep, "ok");
    nh_service_free(&body);
}

void h_v2_service_create(struct app *app, struct request *req, struct reply *rep)
{
    service_write(app, req, rep, true);
}

void h_v2_service_update(struct app *app, struct request *req, struct reply *rep)
{
    service_write(app, req, rep, false);
}

void h_v2_service_delete(struct app *app, struct request *req, struct reply *rep)
{
    struct v2_service s;
    struct naming_err e;
    if (service_of(&req->params, &s, &e) || nc_service_delete_empty(app, s.ns, s.grouped, req->now_ms, &e)) fail(&e, rep);
    else v2_ok_string(rep, "ok");
}

static void add_cluster(void *ctx, const char *cluster, const char *checker)
{
    cJSON *c = cJSON_AddObjectToObject(ctx, cluster);   /* ClusterInfo, keyed by its name */
    cJSON_AddStringToObject(c, "clusterName", cluster);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "healthChecker"), "type", checker);
    cJSON_AddObjectToObject(c, "metadata");
}

void h_v2_service_get(struct app *app, struct request *req, struct reply *rep)
{
    struct v2_service s;
    struct service_rec sr;
    struct naming_err e;
    if (service_of(&req->params, &s, &e) || nc_service_get(app, s.ns, s.grouped, &sr, &e)) {
        fail(&e, rep);
        return;
    }
    char buf[GROUPED_MAX];
    const char *group = DEFAULT_GROUP, *bare = sr.name;
    naming_split(sr.name, buf, sizeof buf, &group, &bare);
    cJSON *o = cJSON_CreateObject();   /* ServiceDetailInfo */
    cJSON_AddStringToObject(o, "namespace", sr.ns);
    cJSON_AddStringToObject(o, "serviceName", bare);
    cJSON_AddStringToObject(o, "groupName", group);
    int rc = nc_service_clusters(app, sr.id, add_cluster, cJSON_AddObjectToObject(o, "clusterMap"), &e);
    cJSON_AddItemToObject(o, "metadata", json_object_or_empty(sr.metadata));
    json_add_double(o, "protectThreshold", sr.protect_threshold);
    cJSON_AddItemToObject(o, "selector", json_object_or_empty(sr.selector));
    /* services created by a registration are ephemeral in 2.x, created ones persistent */
    cJSON_AddBoolToObject(o, "ephemeral", !sr.explicit_);
    store_service_rec_free(&sr);
    if (rc) {
        cJSON_Delete(o);
        fail(&e, rep);
        return;
    }
    v2_ok(rep, o);
}

static int add_bare_name(void *ctx, const struct service_rec *s)
{
    const char *sep = strstr(s->name, GROUP_SEP);
    cJSON_AddItemToArray(ctx, cJSON_CreateString(sep ? sep + 2 : s->name));
    return 0;
}

void h_v2_service_list(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    long long page_no, page_size;
    struct naming_err e;
    if (param_int(p, "pageNo", 1, -1000000000LL, 1000000000LL, &page_no, &e) ||
        param_int(p, "pageSize", 20, -1000000000LL, 1000000000LL, &page_size, &e)) {
        fail(&e, rep);
        return;
    }
    if (page_size > 500) page_size = 500;   /* ServiceControllerV2: at most 500 a page */
    cJSON *o = cJSON_CreateObject(), *names = cJSON_CreateArray();   /* ServiceNameView */
    long total = 0;
    if (nc_service_list(app, naming_namespace(p), params_get(p, "groupName"), (long)page_no, (long)page_size,
                        add_bare_name, names, &total, &e)) {
        cJSON_Delete(o);
        cJSON_Delete(names);
        fail(&e, rep);
        return;
    }
    json_add_int(o, "count", total);
    cJSON_AddItemToObject(o, "services", names);
    v2_ok(rep, o);
}

/* ------------------------------------------------------------------ /nacos/v2/ns/client */

static int add_client_id(void *ctx, const struct nc_client *c)
{
    cJSON_AddItemToArray(ctx, cJSON_CreateString(c->id));
    return 0;
}

void h_v2_client_list(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *ids = cJSON_CreateArray();
    struct naming_err e;
    if (nc_client_foreach(app, add_client_id, ids, &e)) {
        cJSON_Delete(ids);
        fail(&e, rep);
        return;
    }
    v2_ok(rep, ids);
}

void h_v2_client_detail(struct app *app, struct request *req, struct reply *rep)
{
    const char *id;
    struct nc_client c;
    struct naming_err e;
    if (param_required(&req->params, "clientId", "String", &id, &e) || nc_client_get(app, id, &c, &e)) {
        fail(&e, rep);
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", c.port);   /* a string in Nacos */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "clientId", c.id);
    cJSON_AddBoolToObject(o, "ephemeral", c.ephemeral);
    json_add_int(o, "lastUpdatedTime", c.last_updated_ms);
    if (c.connection) {
        cJSON_AddStringToObject(o, "clientType", "connection");
        cJSON_AddStringToObject(o, "connectType", "GRPC");
        cJSON_AddStringToObject(o, "appName", *c.conn->app_name ? c.conn->app_name : "-");
        cJSON_AddStringToObject(o, "version", c.conn->client_version);
    } else {
        cJSON_AddStringToObject(o, "clientType", "ipPort");
    }
    cJSON_AddStringToObject(o, "clientIp", c.ip);
    cJSON_AddStringToObject(o, "clientPort", port);
    v2_ok(rep, o);
}

/* {namespace, group, serviceName} of a grouped service, into o. */
static void add_service_ref(cJSON *o, const char *ns, const char *service)
{
    char buf[GROUPED_MAX];
    const char *group = DEFAULT_GROUP, *bare = service;
    naming_split(service, buf, sizeof buf, &group, &bare);
    cJSON_AddStringToObject(o, "namespace", ns);
    cJSON_AddStringToObject(o, "group", group);
    cJSON_AddStringToObject(o, "serviceName", bare);
}

/* {ip, port, cluster} of an instance, into o. */
static void add_instance_ref(cJSON *o, const struct instance_rec *r)
{
    cJSON_AddStringToObject(o, "ip", r->ip);
    json_add_int(o, "port", r->port);
    cJSON_AddStringToObject(o, "cluster", r->cluster);
}

static int add_published(void *ctx, const struct instance_rec *r)
{
    cJSON *item = cJSON_CreateObject();
    add_service_ref(item, r->ns, r->service);
    add_instance_ref(cJSON_AddObjectToObject(item, "registeredInstance"), r);
    cJSON_AddItemToArray(ctx, item);
    return 0;
}

void h_v2_client_published(struct app *app, struct request *req, struct reply *rep)
{
    const char *id;
    struct naming_err e;
    cJSON *arr = cJSON_CreateArray();
    if (param_required(&req->params, "clientId", "String", &id, &e) || nc_client_published(app, id, add_published, arr, &e)) {
        cJSON_Delete(arr);
        fail(&e, rep);
        return;
    }
    v2_ok(rep, arr);
}

struct subscribed_ctx {
    cJSON *arr;
    const struct nc_client *c;
};

static void add_subscribed(void *ctx, const char *ns, const char *service, const char *clusters)
{
    struct subscribed_ctx *sc = ctx;
    cJSON *item = cJSON_CreateObject();
    add_service_ref(item, ns, service);
    cJSON *info = cJSON_AddObjectToObject(item, "subscriberInfo");
    const struct client *conn = sc->c->conn;
    cJSON_AddStringToObject(info, "app", conn && *conn->app_name ? conn->app_name : "unknown");
    cJSON_AddStringToObject(info, "agent", conn ? conn->client_version : "");
    cJSON_AddStringToObject(info, "addr", sc->c->ip);
    cJSON_AddItemToArray(sc->arr, item);
}

void h_v2_client_subscribed(struct app *app, struct request *req, struct reply *rep)
{
    const char *id;
    struct nc_client c;
    struct naming_err e;
    struct subscribed_ctx sc = {.arr = cJSON_CreateArray(), .c = &c};
    if (param_required(&req->params, "clientId", "String", &id, &e) || nc_client_get(app, id, &c, &e) ||
        nc_client_subscribed(app, id, add_subscribed, &sc, &e)) {
        cJSON_Delete(sc.arr);
        fail(&e, rep);
        return;
    }
    v2_ok(rep, sc.arr);
}

static int add_publisher(void *ctx, const char *client_id, const struct instance_rec *r)
{
    cJSON *item = cJSON_CreateObject();
    add_instance_ref(item, r);
    cJSON_AddStringToObject(item, "clientId", client_id);
    cJSON_AddItemToArray(ctx, item);
    return 0;
}

static int add_subscriber(void *ctx, const struct nc_client *c)
{
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "clientId", c->id);
    cJSON_AddStringToObject(item, "ip", c->ip);
    json_add_int(item, "port", 0);   /* a connection subscriber has no port of its own */
    cJSON_AddItemToArray(ctx, item);
    return 0;
}

/* The publishers or the subscribers of a service, narrowed by ip / port. */
static void service_clients(struct app *app, struct request *req, struct reply *rep, bool publishers)
{
    struct v2_service s;
    const char *ip = params_get(&req->params, "ip");
    long long port;
    struct naming_err e;
    cJSON *arr = cJSON_CreateArray();
    int rc = service_of(&req->params, &s, &e) || param_int(&req->params, "port", 0, 0, 65535, &port, &e) ? -1
             : publishers ? nc_service_publishers(app, s.ns, s.grouped, ip, (int)port, add_publisher, arr, &e)
                          : nc_service_subscribers(app, s.ns, s.grouped, ip, (int)port, add_subscriber, arr, &e);
    if (rc) {
        cJSON_Delete(arr);
        fail(&e, rep);
        return;
    }
    v2_ok(rep, arr);
}

void h_v2_service_publishers(struct app *app, struct request *req, struct reply *rep)
{
    service_clients(app, req, rep, true);
}

void h_v2_service_subscribers(struct app *app, struct request *req, struct reply *rep)
{
    service_clients(app, req, rep, false);
}

/* ------------------------------------------------------------------ health, operator */

void h_v2_health_instance(struct app *app, struct request *req, struct reply *rep)
{
    const char *hv;
    struct v2_service s;
    struct nc_key k;
    struct naming_err e;
    if (param_required(&req->params, "healthy", "Boolean", &hv, &e) || key_of(&req->params, &s, &k, &e)) {
        fail(&e, rep);
        return;
    }
    /* 2.x ignores an instance it does not know */
    if (nc_set_health(app, &k, params_truthy(hv), req->now_ms, &e) && e.code != NAMING_INSTANCE_NOT_FOUND) fail(&e, rep);
    else v2_ok_string(rep, "ok");
}

void h_v2_operator_switches(struct app *app, struct request *req, struct reply *rep)
{
    v2_ok(rep, operator_switches_json(app, req->node));
}

void h_v2_operator_switches_update(struct app *app, struct request *req, struct reply *rep)
{
    const char *entry, *value;
    struct naming_err e;
    if (param_required(&req->params, "entry", "String", &entry, &e) ||
        param_required(&req->params, "value", "String", &value, &e)) {
        fail(&e, rep);
        return;
    }
    /* the answer Nacos gives a switch update it refuses */
    v2_error(rep, 500, V2_SERVER_ERROR,
             "nacos-mock does not change switches: '%.100s' follows its command line (--beat-interval-ms, "
             "--unhealthy-misses, --delete-misses)", entry);
}

void h_v2_operator_metrics(struct app *app, struct request *req, struct reply *rep)
{
    const char *only = params_get(&req->params, "onlyStatus");
    cJSON *o;
    if (!only || params_parse_boolean(only)) {   /* MetricsInfoVo with the status alone */
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", app_status_name(app_status_of(app, req->node)));
    } else if (operator_metrics(app, req->node, false, &o)) {
        store_rollback(app->store);
        v2_error(rep, 500, V2_SERVER_ERROR, "registry store error: %s", store_errmsg(app->store));
        return;
    }
    v2_ok(rep, o);
}

/* ------------------------------------------------------------------ console, core cluster */

void h_v2_console_liveness(struct app *app, struct request *req, struct reply *rep)
{
    v2_ok_string(rep, "ok");
}

void h_v2_console_readiness(struct app *app, struct request *req, struct reply *rep)
{
    /* Result.failure(message) returned as it is: HTTP 200, code 30000 (the v1 path answers 500) */
    if (app_status_of(app, req->node) == STATUS_UP) v2_ok_string(rep, "ok");
    else v2_failure(rep, 200, V2_SERVER_ERROR, "naming not in readiness");
}

static const char *const NODE_STATES[] = {"STARTING", "UP", "SUSPICIOUS", "DOWN", "ISOLATION"};

void h_v2_core_node_list(struct app *app, struct request *req, struct reply *rep)
{
    const char *address = params_get(&req->params, "address"), *state = params_get(&req->params, "state");
    const char *want = NULL;
    for (size_t i = 0; state && !want && i < sizeof NODE_STATES / sizeof NODE_STATES[0]; i++)
        if (!strcasecmp(state, NODE_STATES[i])) want = NODE_STATES[i];
    if (state && !want) {
        v2_error(rep, 400, V2_ILLEGAL_STATE, "Illegal state: %.100s", state);
        return;
    }
    struct operator_node nodes[OPERATOR_MAX_NODES];
    size_t n = operator_nodes(app, nodes, OPERATOR_MAX_NODES);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        if (want && strcmp(want, nodes[i].state)) continue;
        cJSON *m = operator_member_json(&nodes[i], true);
        const cJSON *addr = cJSON_GetObjectItemCaseSensitive(m, "address");
        if (address && strncmp(addr->valuestring, address, strlen(address))) cJSON_Delete(m);
        else cJSON_AddItemToArray(arr, m);
    }
    v2_ok(rep, arr);
}

void h_v2_core_node_self(struct app *app, struct request *req, struct reply *rep)
{
    struct operator_node nodes[OPERATOR_MAX_NODES];
    size_t n = operator_nodes(app, nodes, OPERATOR_MAX_NODES);
    if ((size_t)req->node < n) v2_ok(rep, operator_member_json(&nodes[req->node], true));   /* the node asked */
    else v2_error(rep, 500, V2_SERVER_ERROR, "no node");
}

void h_v2_core_node_self_health(struct app *app, struct request *req, struct reply *rep)
{
    struct operator_node nodes[OPERATOR_MAX_NODES];
    size_t n = operator_nodes(app, nodes, OPERATOR_MAX_NODES);
    v2_ok_string(rep, (size_t)req->node < n ? nodes[req->node].state : "DOWN");
}
