/*
 * grpc_api.c — Nacos requests over gRPC (see grpc_api.h and grpc-api.md §§ 2-4).
 *
 * The path of a unary call: decode the Payload (grpc_payload.h) → server status (errorCode 300) →
 * ServerCheck → the request type (unknown: 302) → a set-up connection (else 301) → the JSON body
 * (not JSON: 502) → fault rules → the handler: JSON fields → naming core call → response JSON →
 * Payload. A handler's problem is an ErrorResponse whose errorCode says what (400: a field, naming
 * it); nothing changes then. Responses never carry null: strings are "" and lists [].
 */
#include "nacos_mock/grpc_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clients.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/cs_core.h"
#include "nacos_mock/events.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/grpc_payload.h"
#include "nacos_mock/grpc_server.h"
#include "nacos_mock/journal.h"
#include "nacos_mock/log.h"
#include "nacos_mock/metrics.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/naming_list.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/subs.h"

/* Nacos error codes (com.alibaba.nacos.api.exception.NacosException and the remote layer). */
enum {
    NACOS_INVALID_PARAM = 400, NACOS_NOT_FOUND = 404, NACOS_CONFLICT = 409, NACOS_SERVER_ERROR = 500,
    NACOS_INVALID_SERVER_STATUS = 300, NACOS_UN_REGISTER = 301, NACOS_NO_HANDLER = 302, NACOS_BAD_GATEWAY = 502,
};
#define RESULT_OK 200
#define RESULT_FAIL 500

struct grpc_api {
    struct app *app;
    _Atomic(struct grpc_server *) srv;
    int node;
    _Atomic uint64_t next_push_id;
};

/* What a handler answers: the response type and body, or an error. */
struct gout {
    const char *type;          /* response type; NULL = ErrorResponse */
    cJSON *body;               /* response fields besides the common ones (owned) */
    const char *raw_key;       /* one more field, already JSON text (a rendered serviceInfo): */
    char *raw;                 /* copied once into the answer instead of through a cJSON tree (owned) */
    size_t raw_len;
    int error_code;            /* 0 = success */
    bool typed_error;          /* an error answered in `type` (config requests), not an ErrorResponse */
    char message[800];
};

/* One unary call, kept across a deferral (call->user). */
struct gcall {
    struct grpc_payload pl;
    bool decoded;
    cJSON *req;                /* the body as JSON, NULL until parsed */
    bool req_verbatim;         /* pl.body is that one object and nothing else: the journal keeps it as sent */
    const struct route_g *route;
    char request_id[128];
    /* identity, for faults, the journal and the log: "" or strings in `ident`, one allocation of
     * their size (five fixed buffers made this struct 2.8 KB: a large-bin malloc and a fastbin
     * consolidation per call); grouped is "group@@service" when there is a service */
    char *ident;
    const char *ns, *group, *service, *grouped, *cluster, *ip;
    int port;
    char data_id[300];         /* config requests */
    bool have_hit, delayed;
    struct fault_hit hit;
    int result;                /* resultCode answered, 0 = none (dropped, status only, hung) */
    const char *drop;          /* "reset" | "close" | "hang" | NULL */
};

static int t_close_conn(void *ctx, uint64_t conn);
static void peer_text(const struct sockaddr_storage *a, char *out, size_t n);

typedef void (*ghandler)(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out);

struct route_g {
    const char *type;          /* metadata.type */
    const char *api;           /* fault and journal name */
    ghandler fn;
    bool write;                /* changes the registry (allowed in WRITE_ONLY, refused in READ_ONLY) */
    bool config;               /* the config center: its own lock (not app->mu), its fault fields */
    bool own_locks;            /* the handler takes app->mu itself when it needs it (lists: naming_list.h) */
};

/* ------------------------------------------------------------------ JSON fields */

/* A string field: NULL when absent or null; -1 (out filled) when of another type. */
static int field_str(const cJSON *o, const char *key, const char **v, struct gout *out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    *v = NULL;
    if (!f || cJSON_IsNull(f)) return 0;
    if (cJSON_IsString(f)) {
        *v = f->valuestring;
        return 0;
    }
    out->error_code = NACOS_INVALID_PARAM;
    snprintf(out->message, sizeof out->message, "field '%s' must be a string", key);
    return -1;
}

static int field_bool(const cJSON *o, const char *key, bool def, bool *v, bool *given, struct gout *out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    *v = def;
    if (given) *given = false;
    if (!f || cJSON_IsNull(f)) return 0;
    if (cJSON_IsBool(f)) {
        *v = cJSON_IsTrue(f);
        if (given) *given = true;
        return 0;
    }
    out->error_code = NACOS_INVALID_PARAM;
    snprintf(out->message, sizeof out->message, "field '%s' must be true or false", key);
    return -1;
}

static int field_num(const cJSON *o, const char *key, double def, double *v, struct gout *out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    *v = def;
    if (!f || cJSON_IsNull(f)) return 0;
    if (cJSON_IsNumber(f)) {
        *v = f->valuedouble;
        return 0;
    }
    out->error_code = NACOS_INVALID_PARAM;
    snprintf(out->message, sizeof out->message, "field '%s' must be a number", key);
    return -1;
}

static void fail_naming(const struct naming_err *e, struct gout *out)
{
    switch (e->code) {
    case NAMING_SERVICE_NOT_FOUND:
    case NAMING_INSTANCE_NOT_FOUND: out->error_code = NACOS_NOT_FOUND; break;
    case NAMING_SERVICE_EXISTS: out->error_code = NACOS_CONFLICT; break;
    case NAMING_STORE:
    case NAMING_SERVICE_NOT_EMPTY: out->error_code = NACOS_SERVER_ERROR; break;
    default: out->error_code = NACOS_INVALID_PARAM; break;
    }
    snprintf(out->message, sizeof out->message, "%s", e->msg);
}

/* namespace, groupName + serviceName → ns and grouped name (validated). */
struct svc_ref {
    const char *ns;
    char grouped[GROUPED_MAX];
};

static int svc_ref(const cJSON *req, struct svc_ref *r, struct gout *out)
{
    const char *svc, *group;
    if (field_str(req, "namespace", &r->ns, out) || field_str(req, "serviceName", &svc, out) ||
        field_str(req, "groupName", &group, out))
        return -1;
    if (!r->ns || !*r->ns) r->ns = DEFAULT_NAMESPACE;
    struct naming_err e;
    if (naming_check_name("namespace", r->ns, strlen(r->ns), &e) ||
        naming_group_service(svc, group, r->grouped, sizeof r->grouped, &e)) {
        fail_naming(&e, out);
        return -1;
    }
    return 0;
}

/* An `instance` object → nc_instance of service r (md: its metadata object, caller deletes). */
static int instance_of(const cJSON *inst, const struct svc_ref *r, struct nc_instance *in, cJSON **md,
                       const char *field, struct gout *out)
{
    memset(in, 0, sizeof *in);
    *md = NULL;
    if (!cJSON_IsObject(inst)) {
        out->error_code = NACOS_INVALID_PARAM;
        snprintf(out->message, sizeof out->message, "field '%s' is required: an object with ip and port", field);
        return -1;
    }
    double port, weight;
    bool enabled;
    if (field_str(inst, "ip", &in->k.ip, out) || field_num(inst, "port", 0, &port, out) ||
        field_str(inst, "clusterName", &in->k.cluster, out) || field_num(inst, "weight", 1.0, &weight, out) ||
        field_bool(inst, "enabled", true, &enabled, NULL, out))
        return -1;
    if (port != (double)(int)port) {
        out->error_code = NACOS_INVALID_PARAM;
        snprintf(out->message, sizeof out->message, "field '%s.port' must be an integer port, got %g", field, port);
        return -1;
    }
    in->k.ns = r->ns;
    in->k.service = r->grouped;
    in->k.port = (int)port;
    in->weight = weight;
    in->enabled = enabled;   /* as sent (Go sends false unless set, and real Nacos hides such instances too) */
    in->healthy = true;      /* a register over gRPC is healthy: there are no beats to say otherwise */
    in->ephemeral = true;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(inst, "metadata");
    char err[256];
    *md = m && !cJSON_IsNull(m) ? naming_metadata_from_json(m, err, sizeof err) : cJSON_CreateObject();
    if (!*md) {
        out->error_code = NACOS_INVALID_PARAM;
        snprintf(out->message, sizeof out->message, "field '%s.metadata': %s", field, err);
        return -1;
    }
    in->metadata = *md;
    return 0;
}

/* ------------------------------------------------------------------ handlers (app->mu held) */

static void h_server_check(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    out->type = "ServerCheckResponse";
    cJSON_AddStringToObject(out->body, "connectionId", c->id);
    cJSON_AddBoolToObject(out->body, "supportAbilityNegotiation", false);
}

static void h_health_check(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    out->type = "HealthCheckResponse";
}

static int64_t now_of(struct grpc_api *g) { return clock_now_ms(&g->app->clock); }

/* InstanceRequest (ephemeral, owned by the connection) and PersistentInstanceRequest. */
static void instance_request(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out,
                             bool persistent)
{
    struct svc_ref r;
    const char *type;
    if (svc_ref(req, &r, out) || field_str(req, "type", &type, out)) return;
    bool reg = type && !strcmp(type, "registerInstance"), dereg = type && !strcmp(type, "deregisterInstance");
    if (!reg && !dereg) {
        out->error_code = NACOS_INVALID_PARAM;
        snprintf(out->message, sizeof out->message,
                 "field 'type' must be \"registerInstance\" or \"deregisterInstance\", got \"%.60s\"", type ? type : "");
        return;
    }
    struct nc_instance in;
    cJSON *md = NULL;
    if (instance_of(cJSON_GetObjectItemCaseSensitive(req, "instance"), &r, &in, &md, "instance", out)) goto out;
    in.ephemeral = !persistent;
    struct naming_err e;
    int rc = reg ? nc_register(g->app, &in, NC_REGISTER, persistent ? 0 : c->serial, now_of(g), &e)
                 : nc_deregister(g->app, &in.k, !persistent, persistent ? 0 : c->serial, now_of(g), &e);
    if (rc) {
        fail_naming(&e, out);
        goto out;
    }
    out->type = "InstanceResponse";
    cJSON_AddStringToObject(out->body, "type", type);
out:
    cJSON_Delete(md);
}

static void h_instance(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    instance_request(g, c, req, out, false);
}

static void h_persistent_instance(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    instance_request(g, c, req, out, true);
}

static void h_batch_instance(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    struct svc_ref r;
    const char *type;
    if (svc_ref(req, &r, out) || field_str(req, "type", &type, out)) return;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(req, "instances");
    if (arr && !cJSON_IsNull(arr) && !cJSON_IsArray(arr)) {
        out->error_code = NACOS_INVALID_PARAM;
        snprintf(out->message, sizeof out->message, "field 'instances' must be an array");
        return;
    }
    size_t n = (size_t)(arr ? cJSON_GetArraySize(arr) : 0);
    struct nc_instance *v = calloc(n ? n : 1, sizeof *v);
    cJSON **mds = calloc(n ? n : 1, sizeof *mds);
    if (!v || !mds) {
        out->error_code = NACOS_SERVER_ERROR;
        snprintf(out->message, sizeof out->message, "out of memory");
        goto out;
    }
    size_t i = 0;
    for (const cJSON *it = arr ? arr->child : NULL; it; it = it->next, i++) {
        char field[40];
        snprintf(field, sizeof field, "instances[%zu]", i);
        if (instance_of(it, &r, &v[i], &mds[i], field, out)) goto out;
    }
    struct naming_err e;
    if (nc_batch_register(g->app, r.ns, r.grouped, v, n, c->serial, now_of(g), &e)) {
        fail_naming(&e, out);
        goto out;
    }
    out->type = "BatchInstanceResponse";
    cJSON_AddStringToObject(out->body, "type", type ? type : "batchRegisterInstance");
out:
    for (size_t k = 0; mds && k < n; k++) cJSON_Delete(mds[k]);
    free(mds);
    free(v);
}

/* serviceInfo of (ns, grouped) for clusters, added to out->body. */
static int add_service_info(struct grpc_api *g, const struct svc_ref *r, const char *clusters, bool healthy_only,
                            struct gout *out)
{
    struct list_query q = {.shape = LIST_GRPC, .ns = r->ns, .service = r->grouped, .clusters = clusters ? clusters : "",
                           .healthy_only = healthy_only};
    size_t len = 0;
    char *text = naming_list_text(g->app, &q, &len);
    if (!text) {
        out->error_code = NACOS_SERVER_ERROR;
        snprintf(out->message, sizeof out->message, "registry store error rendering %.700s", r->grouped);
        return -1;
    }
    out->raw_key = "serviceInfo";
    out->raw = text;
    out->raw_len = len;
    return 0;
}

static void h_service_query(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    struct svc_ref r;
    const char *cluster;
    bool healthy_only;
    if (svc_ref(req, &r, out) || field_str(req, "cluster", &cluster, out) ||
        field_bool(req, "healthyOnly", false, &healthy_only, NULL, out))
        return;
    if (add_service_info(g, &r, cluster, healthy_only, out) == 0) out->type = "QueryServiceResponse";
}

static void h_subscribe(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    struct svc_ref r;
    const char *clusters;
    bool subscribe;
    if (svc_ref(req, &r, out) || field_str(req, "clusters", &clusters, out) ||
        field_bool(req, "subscribe", true, &subscribe, NULL, out))
        return;
    struct naming_err e;
    if (nc_subscribe(g->app, c->serial, r.ns, r.grouped, clusters ? clusters : "", subscribe, &e)) {
        fail_naming(&e, out);
        return;
    }
    if (add_service_info(g, &r, clusters, false, out) == 0) out->type = "SubscribeServiceResponse";
}

static int add_service_name(void *ctx, const struct service_rec *s)
{
    const char *sep = strstr(s->name, GROUP_SEP);
    cJSON_AddItemToArray(ctx, cJSON_CreateString(sep ? sep + 2 : s->name));
    return 0;
}

static void h_service_list(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    const char *ns, *group;
    double page_no, page_size;
    if (field_str(req, "namespace", &ns, out) || field_str(req, "groupName", &group, out) ||
        field_num(req, "pageNo", 1, &page_no, out) || field_num(req, "pageSize", 10, &page_size, out))
        return;
    if (page_no < 1 || page_no > 1e9 || page_size < 0 || page_size > 1e9) {
        out->error_code = NACOS_INVALID_PARAM;
        snprintf(out->message, sizeof out->message, "fields 'pageNo' (from 1) and 'pageSize' (from 0) are out of range");
        return;
    }
    cJSON *names = cJSON_CreateArray();
    long total = 0;
    struct naming_err e;
    if (nc_service_list(g->app, ns, group, (long)page_no, (long)page_size, add_service_name, names, &total, &e)) {
        cJSON_Delete(names);
        fail_naming(&e, out);
        return;
    }
    out->type = "ServiceListResponse";
    json_add_int(out->body, "count", total);
    cJSON_AddItemToObject(out->body, "serviceNames", names);
}

/* ------------------------------------------------------------------ config (module "config") */

/* A config core error, answered in the request's response type (config-api.md §3): resultCode 500
 * with errorCode 400 for a field, 300 for an absent config, 500 for a CAS conflict or the store. */
static void fail_config(const struct cs_error *e, const char *type, struct gout *out)
{
    out->type = type;
    out->typed_error = true;
    out->error_code = e->status == CS_NOT_FOUND ? NACOS_INVALID_SERVER_STATUS
                      : e->status == CS_MISSING || e->status == CS_INVALID ? NACOS_INVALID_PARAM
                                                                          : NACOS_SERVER_ERROR;
    snprintf(out->message, sizeof out->message, "%s", e->msg);
}

/* dataId, group, tenant of a config request; -1 (out filled, typed) when one is not a string. */
static int config_key(const cJSON *req, struct cs_key *k, const char *type, struct gout *out)
{
    if (field_str(req, "dataId", &k->data_id, out) || field_str(req, "group", &k->group, out) ||
        field_str(req, "tenant", &k->tenant, out)) {
        out->type = type;
        out->typed_error = true;
        return -1;
    }
    return 0;
}

static void h_config_query(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    const char *type = "ConfigQueryResponse", *tag;
    struct cs_key k;
    if (config_key(req, &k, type, out) || field_str(req, "tag", &tag, out)) return;
    struct config_rec r;
    struct cs_error e;
    if (cs_get(g->app->cs, &k, tag, &r, &e) != CS_OK) {
        fail_config(&e, type, out);
        if (e.status == CS_NOT_FOUND) snprintf(out->message, sizeof out->message, "config data not exist");
        /* Rust refuses an answer without these, Go reads `tag` as a bool: every field, never null */
        cJSON_AddStringToObject(out->body, "content", "");
        cJSON_AddStringToObject(out->body, "contentType", "");
        cJSON_AddStringToObject(out->body, "md5", "");
        cJSON_AddStringToObject(out->body, "encryptedDataKey", "");
        json_add_int(out->body, "lastModified", 0);
        cJSON_AddBoolToObject(out->body, "beta", false);
        return;
    }
    out->type = type;
    cJSON *content = cJSON_CreateString("");
    if (content && r.content) cJSON_SetValuestring(content, r.content);   /* may be MiBs: one copy */
    cJSON_AddItemToObject(out->body, "content", content);
    cJSON_AddStringToObject(out->body, "contentType", r.type ? r.type : "text");
    cJSON_AddStringToObject(out->body, "md5", r.md5 ? r.md5 : "");
    cJSON_AddStringToObject(out->body, "encryptedDataKey", r.encrypted_data_key ? r.encrypted_data_key : "");
    json_add_int(out->body, "lastModified", r.modified_ms);
    cJSON_AddBoolToObject(out->body, "beta", false);
    cs_config_free(&r);
}

static void h_config_publish(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    const char *type = "ConfigPublishResponse";
    struct cs_publish p = {0};
    if (config_key(req, &p.key, type, out) || field_str(req, "content", &p.content, out) ||
        field_str(req, "casMd5", &p.cas_md5, out)) {
        out->type = type;
        out->typed_error = true;
        return;
    }
    p.content_len = p.content ? strlen(p.content) : 0;
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(req, "additionMap");
    if (cJSON_IsObject(add)) {
        const struct { const char *k; const char **v; } f[] = {
            {"type", &p.type}, {"appName", &p.app_name}, {"desc", &p.desc}, {"config_tags", &p.config_tags},
            {"encryptedDataKey", &p.encrypted_data_key}, {"src_user", &p.src_user}, {"tag", &p.tag},
            {"betaIps", &p.beta_ips}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(add, f[i].k);
            if (cJSON_IsString(v)) *f[i].v = v->valuestring;
        }
    }
    char peer[80];
    peer_text(&c->peer, peer, sizeof peer);
    p.src_ip = peer;
    struct cs_error e;
    if (cs_publish(g->app->cs, &p, "grpc", now_of(g), NULL, &e) != CS_OK) {
        fail_config(&e, type, out);
        return;
    }
    out->type = type;
}

static void h_config_remove(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    const char *type = "ConfigRemoveResponse", *tag;
    struct cs_key k;
    if (config_key(req, &k, type, out) || field_str(req, "tag", &tag, out)) return;
    char peer[80];
    peer_text(&c->peer, peer, sizeof peer);
    struct cs_error e;
    if (cs_remove(g->app->cs, &k, tag, peer, NULL, "grpc", now_of(g), NULL, &e) != CS_OK) fail_config(&e, type, out);
    else out->type = type;
}

static void h_config_listen(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req, struct gout *out)
{
    const char *type = "ConfigChangeBatchListenResponse";
    bool listen;
    if (field_bool(req, "listen", true, &listen, NULL, out)) {
        out->type = type;
        out->typed_error = true;
        return;
    }
    const cJSON *ctxs = cJSON_GetObjectItemCaseSensitive(req, "configListenContexts");
    size_t n = cJSON_IsArray(ctxs) ? (size_t)cJSON_GetArraySize(ctxs) : 0;
    struct cs_listen_key *keys = calloc(n ? n : 1, sizeof *keys);
    bool *changed = calloc(n ? n : 1, sizeof *changed);
    if (!keys || !changed) {
        struct cs_error e = {.status = CS_ERROR};
        snprintf(e.msg, sizeof e.msg, "out of memory");
        fail_config(&e, type, out);
        goto out;
    }
    size_t i = 0;
    for (const cJSON *it = n ? ctxs->child : NULL; it; it = it->next, i++) {
        if (!cJSON_IsObject(it) || field_str(it, "dataId", &keys[i].data_id, out) ||
            field_str(it, "group", &keys[i].group, out) || field_str(it, "tenant", &keys[i].tenant, out) ||
            field_str(it, "md5", &keys[i].md5, out) || !keys[i].data_id || !keys[i].group) {
            out->type = type;
            out->typed_error = true;
            out->error_code = NACOS_INVALID_PARAM;
            snprintf(out->message, sizeof out->message,
                     "field 'configListenContexts[%zu]' must be an object with string dataId, group, tenant, md5", i);
            goto out;
        }
        if (!keys[i].md5) keys[i].md5 = "";
    }
    struct cs_error e;
    if (cs_listen_batch(g->app->cs, c->serial, listen, keys, n, changed, NULL, &e) != CS_OK) {
        fail_config(&e, type, out);
        goto out;
    }
    out->type = type;
    cJSON *arr = cJSON_AddArrayToObject(out->body, "changedConfigs");   /* [] when none, never null */
    for (i = 0; i < n; i++) {
        if (!changed[i]) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dataId", keys[i].data_id);
        cJSON_AddStringToObject(o, "group", keys[i].group);
        cJSON_AddStringToObject(o, "tenant", keys[i].tenant ? keys[i].tenant : "");   /* as the client spelled it */
        cJSON_AddItemToArray(arr, o);
    }
out:
    free(keys);
    free(changed);
}

static const struct route_g ROUTES[] = {
    {"ServerCheckRequest", "servercheck", h_server_check, false, false, false},
    {"HealthCheckRequest", "healthcheck", h_health_check, false, false, false},
    {"InstanceRequest", NULL, h_instance, true, false, false},   /* api: register or deregister, by its type */
    {"BatchInstanceRequest", "register", h_batch_instance, true, false, false},
    {"PersistentInstanceRequest", NULL, h_persistent_instance, true, false, false},
    {"ServiceQueryRequest", "list", h_service_query, false, false, true},
    {"SubscribeServiceRequest", "subscribe", h_subscribe, false, false, true},
    {"ServiceListRequest", "service.list", h_service_list, false, false, false},
    {"ConfigQueryRequest", "config.get", h_config_query, false, true, false},
    {"ConfigPublishRequest", "config.publish", h_config_publish, true, true, false},
    {"ConfigRemoveRequest", "config.remove", h_config_remove, true, true, false},
    {"ConfigBatchListenRequest", "config.listen", h_config_listen, false, true, false},
};

static const struct route_g *route_of(const char *type)
{
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        if (!strcmp(ROUTES[i].type, type)) return &ROUTES[i];
    return NULL;
}

/* The API name of a call (fault rules, journal): InstanceRequest by its `type`. */
static const char *api_of(const struct route_g *r, const cJSON *req)
{
    if (r->api) return r->api;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "type");
    return cJSON_IsString(t) && !strcmp(t->valuestring, "deregisterInstance") ? "deregister" : "register";
}

/* ------------------------------------------------------------------ answers */

/* Encodes out as the call's answer: the common fields and the handler's (out->body, printed by
 * cJSON only when it has any) written as JSON text, its raw field after them, the Payload made of
 * those parts (a cJSON tree of the envelope cost ~10 k instructions a call, and a 37 KB serviceInfo
 * went through it, and then through protobuf-c, in four copies; now it is copied once). out stays
 * the caller's. */
static void answer(struct gcall *gc, const struct gout *out, struct grpc_answer *ans)
{
    bool ok = out->error_code == 0 && out->type;
    char *fields = out->body && out->body->child ? cJSON_PrintUnformatted(out->body) : NULL;   /* {...} */
    size_t flen = fields ? strlen(fields) : 0;
    struct json_text t = {0};
    json_text_reserve(&t, 128 + strlen(gc->request_id) + (ok ? 0 : strlen(out->message)) + flen);
    JSON_TEXT_LIT(&t, "{\"resultCode\":");
    json_text_int(&t, ok ? RESULT_OK : RESULT_FAIL);
    JSON_TEXT_LIT(&t, ",\"errorCode\":");
    json_text_int(&t, ok ? 0 : out->error_code);
    if (ok) JSON_TEXT_LIT(&t, ",\"success\":true,\"message\":");
    else JSON_TEXT_LIT(&t, ",\"success\":false,\"message\":");
    json_text_string(&t, ok ? "" : out->message);
    JSON_TEXT_LIT(&t, ",\"requestId\":");
    json_text_string(&t, gc->request_id);
    if (flen > 2) {   /* the handler's fields, without their braces */
        JSON_TEXT_LIT(&t, ",");
        json_text_raw(&t, fields + 1, flen - 2);
    }
    if (out->raw) {
        JSON_TEXT_LIT(&t, ",");
        json_text_string(&t, out->raw_key);
        JSON_TEXT_LIT(&t, ":");
    }
    cJSON_free(fields);
    struct grpc_part parts[] = {{t.p, t.len}, {out->raw, out->raw ? out->raw_len : 0}, {"}", 1}};
    ans->v = GRPC_ANSWER;
    ans->msg = t.oom || (out->body && out->body->child && !fields)
                   ? NULL
                   : grpc_payload_encode_parts(ok || out->typed_error ? out->type : "ErrorResponse", parts, 3, &ans->len);
    free(t.p);
    if (!ans->msg) {
        ans->v = GRPC_STATUS;
        ans->status = GRPC_INTERNAL;
        snprintf(ans->message, sizeof ans->message, "out of memory");
        return;
    }
    gc->result = ok ? RESULT_OK : RESULT_FAIL;
}

static void answer_error(struct gcall *gc, int code, struct grpc_answer *ans, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_error(struct gcall *gc, int code, struct grpc_answer *ans, const char *fmt, ...)
{
    struct gout out = {.error_code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out.message, sizeof out.message, fmt, ap);
    va_end(ap);
    answer(gc, &out, ans);
}

/* src into dst (cap bytes), cut to fit and terminated: snprintf's "%s" without its format parsing
 * (this is on every call's path). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A piece of the identity: at most max bytes of src, terminated, at *w (advanced). */
static const char *ident_put(char **w, const char *src, size_t n, size_t max)
{
    const char *at = *w;
    if (n > max) n = max;
    memcpy(*w, src, n);
    (*w)[n] = '\0';
    *w += n + 1;
    return at;
}

/* Records what a config call is about in gc: namespace (the tenant's), group, dataId. */
static void identify_config(struct gcall *gc, const cJSON *req)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "tenant");
    const cJSON *grp = cJSON_GetObjectItemCaseSensitive(req, "group");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(req, "dataId");
    const char *n_s = cs_namespace(cJSON_IsString(t) ? t->valuestring : NULL);
    const char *g_s = cJSON_IsString(grp) ? grp->valuestring : "";
    size_t n_n = strlen(n_s), g_n = strlen(g_s);
    copy_str(gc->data_id, sizeof gc->data_id, cJSON_IsString(d) ? d->valuestring : "");
    char *w = gc->ident = malloc(n_n + g_n + 2);
    if (!w) return;   /* out of memory: the identity stays empty */
    gc->ns = ident_put(&w, n_s, n_n, NAME_MAX_BYTES);
    gc->group = ident_put(&w, g_s, g_n, NAME_MAX_BYTES);
}

/* A ConfigBatchListenRequest is about each of its keys: a rule matches when one of them does. */
static bool listen_about(const void *ctx, const char *ns, const char *group, const char *data_id)
{
    const cJSON *ctxs = cJSON_GetObjectItemCaseSensitive((const cJSON *)ctx, "configListenContexts");
    for (const cJSON *it = cJSON_IsArray(ctxs) ? ctxs->child : NULL; it; it = it->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "tenant");
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(it, "group");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "dataId");
        if ((!ns || !strcmp(ns, cs_namespace(cJSON_IsString(t) ? t->valuestring : NULL))) &&
            (!group || (cJSON_IsString(g) && !strcmp(group, g->valuestring))) &&
            (!data_id || (cJSON_IsString(d) && !strcmp(data_id, d->valuestring))))
            return true;
    }
    return false;
}

/* Records what the call is about (ns, group, service, cluster, ip, port) in gc, each cut as before
 * to the limits of the names (NAME_MAX_BYTES) and of an ip (299 bytes). */
static void identify(struct gcall *gc, const cJSON *req)
{
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(req, "namespace");
    const cJSON *grp = cJSON_GetObjectItemCaseSensitive(req, "groupName");
    const cJSON *svc = cJSON_GetObjectItemCaseSensitive(req, "serviceName");
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(req, "instance");
    if (!inst) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(req, "instances");
        if (cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 1) inst = arr->child;
    }
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(inst, "ip");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(inst, "port");
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(inst, "clusterName");
    const char *n_s = cJSON_IsString(ns) && *ns->valuestring ? ns->valuestring : DEFAULT_NAMESPACE;
    const char *s = cJSON_IsString(svc) ? svc->valuestring : "", *sep = strstr(s, GROUP_SEP), *g_s, *s_s;
    size_t g_n;
    if (sep) {
        g_s = s;
        g_n = (size_t)(sep - s);
        s_s = sep + 2;
    } else {
        g_s = cJSON_IsString(grp) && *grp->valuestring ? grp->valuestring : DEFAULT_GROUP;
        g_n = strlen(g_s);
        s_s = s;
    }
    const char *ip_s = cJSON_IsString(ip) ? ip->valuestring : "";
    const char *c_s = !inst ? "" : cJSON_IsString(cl) ? cl->valuestring : DEFAULT_CLUSTER;
    size_t n_n = strlen(n_s), s_n = strlen(s_s), ip_n = strlen(ip_s), c_n = strlen(c_s);
    char *w = gc->ident = malloc(n_n + 2 * (g_n + s_n) + ip_n + c_n + 16);
    if (!w) return;   /* out of memory: the identity stays empty */
    gc->ns = ident_put(&w, n_s, n_n, NAME_MAX_BYTES);
    gc->group = ident_put(&w, g_s, g_n, NAME_MAX_BYTES);
    gc->service = ident_put(&w, s_s, s_n, NAME_MAX_BYTES);
    if (*gc->service) {
        gc->grouped = w;
        size_t gl = strlen(gc->group), sl = strlen(gc->service);
        memcpy(w, gc->group, gl);
        memcpy(w + gl, GROUP_SEP, 2);
        memcpy(w + gl + 2, gc->service, sl + 1);
        w += gl + 2 + sl + 1;
    }
    gc->ip = ident_put(&w, ip_s, ip_n, 299);
    gc->cluster = ident_put(&w, c_s, c_n, NAME_MAX_BYTES);
    if (cJSON_IsNumber(port) && port->valuedouble > 0 && port->valuedouble < 65536) gc->port = (int)port->valuedouble;
}

static bool status_allows(int status, const struct route_g *r)
{
    if (status == STATUS_UP) return true;
    if (status == STATUS_READ_ONLY) return !r->write;
    if (status == STATUS_WRITE_ONLY) return r->write;
    return false;
}

/* Carries out a fault that fired (after its delay). */
static void apply_fault(struct gcall *gc, struct grpc_answer *ans)
{
    const struct fault_hit *h = &gc->hit;
    if (h->drop == DROP_RESET) {
        ans->v = GRPC_RESET;
        gc->drop = "reset";
    } else if (h->drop == DROP_CLOSE) {
        ans->v = GRPC_CLOSE;
        gc->drop = "close";
    } else if (h->drop == DROP_HANG) {
        ans->v = GRPC_HANG;
        gc->drop = "hang";
    } else if (h->grpc_status) {
        ans->v = GRPC_STATUS;
        ans->status = h->grpc_status;
        snprintf(ans->message, sizeof ans->message, "nacos-mock injected fault '%s'", h->id);
    } else {
        const char *msg = h->body ? h->body
                          : h->status == NACOS_INVALID_SERVER_STATUS ? "server is starting, please try again later"
                          : h->status == NACOS_UN_REGISTER           ? "Connection is unregistered."
                                                                     : NULL;
        if (msg) answer_error(gc, h->status, ans, "%s", msg);
        else answer_error(gc, h->status, ans, "nacos-mock injected fault '%s' (errorCode %d)", h->id, h->status);
    }
}

static void on_unary(void *ctx, struct grpc_call *call, struct grpc_answer *ans)
{
    struct grpc_api *g = ctx;
    struct app *app = g->app;
    struct gcall *gc = call->user;
    if (gc && gc->delayed) {   /* the delay of a fault is over */
        gc->delayed = false;
        if (gc->hit.status || gc->hit.drop || gc->hit.grpc_status) {
            apply_fault(gc, ans);
            return;
        }
        goto handle;   /* delay only: handled now, answered normally */
    }
    if (!(gc = calloc(1, sizeof *gc))) {
        ans->v = GRPC_STATUS;
        ans->status = GRPC_RESOURCE_EXHAUSTED;
        snprintf(ans->message, sizeof ans->message, "out of memory");
        return;
    }
    call->user = gc;
    gc->ns = gc->group = gc->service = gc->grouped = gc->cluster = gc->ip = "";
    char err[128];
    if (grpc_payload_decode(call->msg, call->len, &gc->pl, err, sizeof err)) {
        answer_error(gc, NACOS_BAD_GATEWAY, ans, "the request is not a Nacos Payload: %s", err);
        return;
    }
    gc->decoded = true;
    int status = app_status_of(app, g->node);   /* this node's own, else the cluster's */
    if (status == STATUS_OFFLINE) {   /* its listener is closing: the connection dies as with a crashed server */
        ans->v = GRPC_CLOSE;
        gc->drop = "close";
        return;
    }
    const char *type = gc->pl.type;
    gc->route = route_of(type);
    /* the body, when it is JSON: for the requestId of any answer, and for the journal */
    const char *end = NULL;
    gc->req = cJSON_ParseWithLengthOpts(gc->pl.body, gc->pl.body_len, &end, false);
    if (gc->req) {   /* the text is the object alone (trailing whitespace aside): journaled as sent, not re-printed */
        while (end < gc->pl.body + gc->pl.body_len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
        gc->req_verbatim = end == gc->pl.body + gc->pl.body_len && !memchr(gc->pl.body, '\0', gc->pl.body_len);
    }
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(gc->req, "requestId");
    if (cJSON_IsString(rid)) copy_str(gc->request_id, sizeof gc->request_id, rid->valuestring);
    if (cJSON_IsObject(gc->req)) {
        if (gc->route && gc->route->config) identify_config(gc, gc->req);
        else identify(gc, gc->req);
    }

    if (status != STATUS_UP && (!gc->route || !status_allows(status, gc->route))) {
        answer_error(gc, NACOS_INVALID_SERVER_STATUS, ans, "server is %s now, please try again later!",
                     app_status_name(status));
        return;
    }
    if (!gc->route) {
        answer_error(gc, NACOS_NO_HANDLER, ans, "RequestHandler Not Found: no handler for request type '%.100s'",
                     *type ? type : "(none)");
        return;
    }
    bool server_check = !strcmp(type, "ServerCheckRequest");
    if (!server_check) {
        bool setup = clients_touch(app->clients, call->conn->serial, clock_real_ms());   /* no app->mu */
        if (!setup) {
            answer_error(gc, NACOS_UN_REGISTER, ans, "Connection is unregistered.");
            return;
        }
    }
    if (!cJSON_IsObject(gc->req)) {
        answer_error(gc, NACOS_BAD_GATEWAY, ans, "Invalid request: the body of a %.100s is not a JSON object", type);
        return;
    }
    if (app->faults && faults_count(app->faults)) {
        struct fault_request fr = {.api = api_of(gc->route, gc->req), .transport = "grpc", .method = "GRPC",
                                   .path = type, .ns = gc->ns, .group = *gc->service ? gc->group : NULL,
                                   .service = *gc->service ? gc->service : NULL,
                                   .cluster = *gc->cluster ? gc->cluster : NULL, .ip = *gc->ip ? gc->ip : NULL,
                                   .port = gc->port, .on_node = true, .node = g->node};
        if (gc->route->config) {   /* configs: namespace, group, dataId (a listen: any of its keys) */
            fr.group = *gc->group ? gc->group : NULL;
            fr.data_id = *gc->data_id ? gc->data_id : NULL;
            if (!strcmp(type, "ConfigBatchListenRequest")) {
                fr.about = listen_about;
                fr.about_ctx = gc->req;
            }
        }
        if (faults_match(app->faults, &fr, clock_now_ms(&app->clock), &gc->hit)) {
            events_fault(app->events, clock_now_ms(&app->clock), "grpc", &fr, &gc->hit);
            gc->have_hit = true;
            if (gc->hit.delay_ms > 0) {
                gc->delayed = true;
                ans->v = GRPC_DEFER;
                ans->delay_ms = gc->hit.delay_ms;
                return;
            }
            if (gc->hit.status || gc->hit.drop || gc->hit.grpc_status) {
                apply_fault(gc, ans);
                return;
            }
        }
    }
handle:;
    struct gout out = {.body = cJSON_CreateObject()};
    bool lock = !gc->route->config && !gc->route->own_locks;   /* the config core has its own lock */
    if (lock) app_lock(app);
    gc->route->fn(g, call->conn, gc->req, &out);
    if (lock) app_unlock(app);
    answer(gc, &out, ans);
    cJSON_Delete(out.body);
    free(out.raw);
}

static void on_call_end(void *ctx, struct grpc_call *call, bool answered)
{
    struct grpc_api *g = ctx;
    struct gcall *gc = call->user;
    if (!gc) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double ms = (double)((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - call->t0_us) / 1000.0;
    const char *type = gc->decoded && *gc->pl.type ? gc->pl.type : "(undecodable)";
    const char *api = gc->route && gc->req ? api_of(gc->route, gc->req) : NULL;
    if (!answered && !gc->drop) gc->drop = "cancelled";
    int status = answered ? gc->result : 0;
    const char *grouped = *gc->service ? gc->grouped : NULL;
    /* journaled as sent when no string in it can be longer than the journal keeps (a config's content
     * can be 10 MiB): a string is never longer than the JSON text it is written in */
    bool verbatim = gc->req_verbatim && gc->pl.body_len <= JOURNAL_VALUE_MAX;
    if (gc->req && !verbatim) journal_cut_strings(gc->req);
    char *params = gc->req && !verbatim ? cJSON_PrintUnformatted(gc->req) : NULL;
    struct journal_in je = {
        .time_ms = clock_now_ms(&g->app->clock), .method = "GRPC", .path = type, .api = api,
        .params_json = !cJSON_IsObject(gc->req) ? "{}" : verbatim ? gc->pl.body : params ? params : "{}",
        .transport = "grpc",
        .connection_id = call->conn->id, .service = grouped, .ip = *gc->ip ? gc->ip : NULL,
        .port = gc->port, .status = status, .drop = gc->drop, .fault_id = gc->have_hit ? gc->hit.id : NULL,
        .duration_ms = ms, .node = app_node_label(g->app, g->node),
    };
    journal_record(g->app->journal, &je);
    cJSON_free(params);
    metrics_record(g->app->metrics, "grpc", api, app_node_label(g->app, g->node), status, ms / 1000.0);
    struct log_request lr = {.method = "GRPC", .path = type, .api = api, .service = grouped,
                             .ip = *gc->ip ? gc->ip : NULL, .port = gc->port, .status = status, .duration_ms = ms,
                             .fault_id = gc->have_hit ? gc->hit.id : NULL, .node = app_node_label(g->app, g->node)};
    log_request(&lr);
    if (gc->have_hit) fault_hit_free(&gc->hit);
    cJSON_Delete(gc->req);
    if (gc->decoded) grpc_payload_free(&gc->pl);
    free(gc->ident);
    free(gc);
    call->user = NULL;
}

/* ------------------------------------------------------------------ connections and the bi-stream */

static void peer_text(const struct sockaddr_storage *a, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const void *)a;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
        port = ntohs(v4->sin_port);
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const void *)a;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
        port = ntohs(v6->sin6_port);
    }
    snprintf(out, n, a->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

static void on_open(void *ctx, struct grpc_conn_info *c)
{
    struct grpc_api *g = ctx;
    char remote[80];
    peer_text(&c->peer, remote, sizeof remote);
    bool closing = atomic_load(&g->app->nodes[g->node].status) == STATUS_OFFLINE;   /* the node is going away */
    app_lock(g->app);
    bool ok = !closing && clients_open(g->app->clients, c->serial, c->id, remote, g->node, c->opened_ms) != NULL;
    app_unlock(g->app);
    if (ok) events_connection(g->app->events, clock_now_ms(&g->app->clock), "opened", c->id, g->node, remote, -1);
    if (!ok) {
        if (!closing) log_warn("gRPC connection %s refused: out of memory", c->id);
        t_close_conn(g, c->serial);
    }
}

static void on_close(void *ctx, struct grpc_conn_info *c)
{
    struct grpc_api *g = ctx;
    long removed = 0;
    app_lock(g->app);
    nc_client_closed(g->app, c->serial, clock_now_ms(&g->app->clock), &removed);
    app_unlock(g->app);
    cs_listen_conn_drop(cs_listeners(g->app->cs), c->serial);   /* its config listeners go with it */
    events_connection(g->app->events, clock_now_ms(&g->app->clock), "closed", c->id, g->node, NULL, removed);
    if (removed) log_info("gRPC connection %s ended: its %ld instance(s) removed", c->id, removed);
}

/* ConnectionSetupRequest: the client's version, tenant and labels; no reply (grpc-api.md §2). */
static void setup(struct grpc_api *g, struct grpc_conn_info *c, const cJSON *req)
{
    struct app *app = g->app;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(req, "clientVersion");
    const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(req, "tenant");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(req, "labels");
    struct fault_hit hit;
    const struct fault_request fr = {.api = "setup", .transport = "grpc", .method = "GRPC",
                                     .path = "ConnectionSetupRequest", .on_node = true, .node = g->node};
    bool faulted =
        app->faults && faults_count(app->faults) && faults_match(app->faults, &fr, clock_now_ms(&app->clock), &hit);
    if (faulted) events_fault(app->events, clock_now_ms(&app->clock), "grpc", &fr, &hit);
    bool refuse = faulted && (hit.status || hit.grpc_status || hit.drop);
    bool close = faulted && (hit.drop == DROP_CLOSE || hit.drop == DROP_RESET);
    if (faulted) fault_hit_free(&hit);
    struct journal_in je = {.time_ms = clock_now_ms(&app->clock), .method = "GRPC", .path = "ConnectionSetupRequest",
                            .api = "setup", .transport = "grpc", .connection_id = c->id, .status = refuse ? 0 : RESULT_OK,
                            .fault_id = faulted ? hit.id : NULL, .node = app_node_label(app, g->node)};
    char *params = cJSON_PrintUnformatted(req);
    je.params_json = params ? params : "{}";
    journal_record(app->journal, &je);
    cJSON_free(params);
    if (close) {   /* the client sees its connection die and starts again */
        t_close_conn(g, c->serial);
        return;
    }
    if (refuse) return;   /* left unregistered: its next request gets 301 and it reconnects */
    app_lock(app);
    struct client *cl = clients_get(app->clients, c->serial);
    if (cl) {
        client_set_setup(cl, cJSON_IsString(ver) ? ver->valuestring : "", cJSON_IsString(tenant) ? tenant->valuestring : "",
                         labels);
        cl->last_active_ms = clock_real_ms();
    }
    app_unlock(app);
}

static void on_stream_msg(void *ctx, struct grpc_conn_info *c, const uint8_t *msg, size_t len)
{
    struct grpc_api *g = ctx;
    struct grpc_payload pl;
    char err[128];
    if (grpc_payload_decode(msg, len, &pl, err, sizeof err)) {
        log_warn("gRPC connection %s sent an undecodable bi-stream message: %s", c->id, err);
        return;
    }
    if (!strcmp(pl.type, "ConnectionSetupRequest")) {
        cJSON *req = cJSON_ParseWithLength(pl.body, pl.body_len);
        setup(g, c, cJSON_IsObject(req) ? req : NULL);
        cJSON_Delete(req);
    } else if (!strcmp(pl.type, "NotifySubscriberResponse")) {
        /* acks are counted, never waited for (nor parsed: one per subscriber per push) */
        metrics_push(g->app->metrics, PUSH_GRPC, PUSH_ACKED);
    } else if (!strcmp(pl.type, "ConfigChangeNotifyResponse")) {
        metrics_push(g->app->metrics, PUSH_CONFIG, PUSH_ACKED);   /* Java and Rust; Go answers the type above */
    }
    /* other answers (ConnectResetResponse, ClientDetectionResponse, ...) need nothing */
    grpc_payload_free(&pl);
}

/* Nacos ends a connection whose bi-stream ends: its instances go, the client reconnects. */
static void on_stream_close(void *ctx, struct grpc_conn_info *c)
{
    t_close_conn(ctx, c->serial);
}

/* ------------------------------------------------------------------ server-initiated messages */

/* Sends a request on the connection's bi-stream, no sooner than delay_ms from now: `o` gets
 * requestId, headers and module (and is deleted). */
static int send_request_after(struct grpc_api *g, uint64_t conn, const char *type, cJSON *o, const char *module,
                              int64_t delay_ms)
{
    struct grpc_server *srv = atomic_load(&g->srv);
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)atomic_fetch_add(&g->next_push_id, 1) + 1);
    cJSON_AddStringToObject(o, "requestId", id);
    cJSON_AddObjectToObject(o, "headers");
    cJSON_AddStringToObject(o, "module", module);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t len = 0;
    uint8_t *msg = json ? grpc_payload_encode(type, json, strlen(json), &len) : NULL;
    cJSON_free(json);
    if (!msg || !srv) {
        free(msg);
        return -1;
    }
    return grpc_server_send_after(srv, conn, msg, len, delay_ms);
}

static int send_request(struct grpc_api *g, uint64_t conn, const char *type, cJSON *o, const char *module)
{
    return send_request_after(g, conn, type, o, module, 0);
}

/* NotifySubscriberRequest to n subscribers of one rendering: one JSON text, one Payload, queued by
 * reference on every subscriber's bi-stream (grpc_server_send_many). It was a cJSON tree printed and
 * encoded per subscriber, ~20 k instructions and a 5 KB allocation each, allocated on the push
 * thread and freed on the loop. The subscribers of one push share its requestId: a connection still
 * sees a new one with every push, and acks are only counted. */
static size_t t_push_conns(void *ctx, const uint64_t *conns, size_t n, const char *ns, const char *service,
                           const char *clusters, const char *info, size_t len)
{
    struct grpc_api *g = ctx;
    struct grpc_server *srv = atomic_load(&g->srv);
    if (!srv || !n) return 0;
    char buf[GROUPED_MAX], id[32];
    const char *group = DEFAULT_GROUP, *bare = service;
    naming_split(service, buf, sizeof buf, &group, &bare);
    (void)clusters;   /* serviceInfo echoes them already */
    snprintf(id, sizeof id, "%llu", (unsigned long long)atomic_fetch_add(&g->next_push_id, 1) + 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "namespace", ns);
    cJSON_AddStringToObject(o, "serviceName", bare);
    cJSON_AddStringToObject(o, "groupName", group);
    cJSON_AddStringToObject(o, "requestId", id);
    cJSON_AddObjectToObject(o, "headers");
    cJSON_AddStringToObject(o, "module", "naming");
    char *head = cJSON_PrintUnformatted(o);   /* {...,"module":"naming"}: serviceInfo goes before its } */
    cJSON_Delete(o);
    static const char key[] = ",\"serviceInfo\":";
    uint8_t *msg = NULL;
    size_t mlen = 0;
    if (head) {
        struct grpc_part parts[] = {{head, strlen(head) - 1}, {key, sizeof key - 1}, {info, len}, {"}", 1}};
        msg = grpc_payload_encode_parts("NotifySubscriberRequest", parts, 4, &mlen);
    }
    cJSON_free(head);
    return msg ? grpc_server_send_many(srv, conns, n, msg, mlen) : 0;
}

/* The config center's push hook (cs_listen.h): a ConfigChangeNotifyRequest to a listening connection,
 * with the tenant as it listened; `config.push` fault rules drop or delay it. Any thread. */
void grpc_api_config_push(void *ctx, uint64_t conn, const char *data_id, const char *group, const char *tenant)
{
    struct grpc_api *g = ctx;
    struct app *app = g->app;
    int64_t delay = 0;
    struct fault_hit hit;
    if (app->faults && faults_count(app->faults) &&
        faults_match(app->faults,
                     &(struct fault_request){.api = "config.push", .transport = "grpc", .ns = cs_namespace(tenant),
                                             .group = group, .data_id = data_id, .on_node = true, .node = g->node},
                     clock_now_ms(&app->clock), &hit)) {
        bool drop = hit.drop != DROP_NONE;
        delay = hit.delay_ms;
        events_fault(app->events, clock_now_ms(&app->clock), "grpc",
                     &(struct fault_request){.api = "config.push", .transport = "grpc", .ns = cs_namespace(tenant),
                                             .group = group, .data_id = data_id, .on_node = true, .node = g->node},
                     &hit);
        fault_hit_free(&hit);
        if (drop) {
            metrics_push(app->metrics, PUSH_CONFIG, PUSH_DROPPED);
            return;
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dataId", data_id);
    cJSON_AddStringToObject(o, "group", group);
    cJSON_AddStringToObject(o, "tenant", tenant ? tenant : "");
    bool sent = send_request_after(g, conn, "ConfigChangeNotifyRequest", o, "config", delay) == 0;
    metrics_push(app->metrics, PUSH_CONFIG, sent ? PUSH_SENT : PUSH_FAILED);
}

static int t_close_conn(void *ctx, uint64_t conn)
{
    struct grpc_api *g = ctx;
    struct grpc_server *srv = atomic_load(&g->srv);
    return srv ? grpc_server_close(srv, conn) : -1;
}

static long t_close_all(void *ctx)
{
    struct grpc_api *g = ctx;
    struct grpc_server *srv = atomic_load(&g->srv);
    if (!srv) return 0;
    long n = (long)grpc_server_connections(srv);
    grpc_server_close_all(srv);
    return n;
}

static int t_reset_conn(void *ctx, uint64_t conn, const char *server_ip, int server_port)
{
    struct grpc_api *g = ctx;
    cJSON *o = cJSON_CreateObject();
    if (server_ip) cJSON_AddStringToObject(o, "serverIp", server_ip);
    if (server_port) {
        char p[16];
        snprintf(p, sizeof p, "%d", server_port);   /* a string in the Java and Go clients */
        cJSON_AddStringToObject(o, "serverPort", p);
    }
    return send_request(g, conn, "ConnectResetRequest", o, "internal");
}

/* ------------------------------------------------------------------ wiring */

struct grpc_api *grpc_api_create(struct app *app, int node)
{
    struct grpc_api *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->app = app;
    g->node = node;
    return g;
}

void grpc_api_free(struct grpc_api *g) { free(g); }

void grpc_api_handlers(struct grpc_api *g, struct grpc_handlers *h)
{
    memset(h, 0, sizeof *h);
    h->ctx = g;
    h->on_open = on_open;
    h->on_close = on_close;
    h->on_unary = on_unary;
    h->on_call_end = on_call_end;
    h->on_stream_msg = on_stream_msg;
    h->on_stream_close = on_stream_close;
}

void grpc_api_attach(struct grpc_api *g, struct grpc_server *srv) { atomic_store(&g->srv, srv); }

void grpc_api_transport(struct grpc_api *g, struct app_transport *t)
{
    t->ctx = g;
    t->close_conn = t_close_conn;
    t->close_all = t_close_all;
    t->reset_conn = t_reset_conn;
    t->push_conns = t_push_conns;
}
