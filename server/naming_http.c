/*
 * naming_http.c — request parameters shared by the v1 and v2 HTTP naming adapters (see
 * naming_http.h).
 */
#include "nacos_mock/naming_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/validate.h"

int nh_beat_parse(struct request *req, struct nh_beat *b, struct naming_err *e)
{
    const struct params *p = &req->params;
    const char *ns = b->k.ns, *service = b->k.service;
    memset(b, 0, sizeof *b);
    b->k.ns = ns;
    b->k.service = service;
    const char *beat_text = params_get(p, "beat"), *port_text = NULL;
    const cJSON *beat = NULL;
    if (beat_text) {   /* the beat's ip/port/cluster override the parameters */
        beat = request_beat_json(req);
        if (!cJSON_IsObject(beat)) {
            naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param 'beat' is not a JSON object: \"%.80s\"", beat_text);
            return -1;
        }
        const cJSON *ip = cJSON_GetObjectItemCaseSensitive(beat, "ip");
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(beat, "port");
        const cJSON *cluster = cJSON_GetObjectItemCaseSensitive(beat, "cluster");
        if (cJSON_IsString(ip) && *ip->valuestring) {
            snprintf(b->ip, sizeof b->ip, "%s", ip->valuestring);
            b->k.ip = b->ip;
        }
        if (cJSON_IsNumber(port)) {
            snprintf(b->port, sizeof b->port, "%.17g", port->valuedouble);
            port_text = b->port;
        } else if (cJSON_IsString(port) && *port->valuestring) {
            port_text = port->valuestring;
        }
        if (cJSON_IsString(cluster) && *cluster->valuestring) b->k.cluster = cluster->valuestring;
    }
    if (!b->k.ip && param_required(p, "ip", "String", &b->k.ip, e)) return -1;
    if (!port_text && param_required(p, "port", "Integer", &port_text, e)) return -1;
    if (naming_check_ip("ip", b->k.ip, e) || value_port("port", port_text, &b->k.port, e)) return -1;
    if (!b->k.cluster) b->k.cluster = params_get(p, "clusterName");
    if (!b->k.cluster) b->k.cluster = DEFAULT_CLUSTER;
    if (naming_check_name("clusterName", b->k.cluster, strlen(b->k.cluster), e)) return -1;
    if (!beat) return 0;
    /* a full beat: what registers the instance if it is unknown */
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(beat, "weight");
    const cJSON *bm = cJSON_GetObjectItemCaseSensitive(beat, "metadata");
    const cJSON *be = cJSON_GetObjectItemCaseSensitive(beat, "ephemeral");
    b->full = (struct nc_beat_full){.weight = cJSON_IsNumber(bw) ? bw->valuedouble : 1.0,
                                    .ephemeral = be ? cJSON_IsTrue(be) : true};
    char err[256];
    b->md = bm ? naming_metadata_from_json(bm, err, sizeof err) : cJSON_CreateObject();
    if (!b->md) {
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param 'beat' field 'metadata': %s", err);
        return -1;
    }
    b->full.metadata = b->md;
    b->have_full = true;
    return 0;
}

void nh_beat_free(struct nh_beat *b)
{
    cJSON_Delete(b->md);
    b->md = NULL;
}

/* `instances`: *out (caller frees; its strings point into *json, which the caller deletes) gets n
 * keys. 0, or -1 with e. */
static int nh_batch_targets(const char *text, cJSON **json, struct nc_key **out, size_t *n, struct naming_err *e)
{
    *json = NULL;
    *out = NULL;
    *n = 0;
    if (!text) return 0;
    cJSON *j = cJSON_Parse(text);
    size_t cnt = cJSON_IsArray(j) ? (size_t)cJSON_GetArraySize(j) : 0;
    struct nc_key *v = cJSON_IsArray(j) ? calloc(cnt ? cnt : 1, sizeof *v) : NULL;
    size_t i = 0;
    for (const cJSON *t = v ? j->child : NULL; t; t = t->next, i++) {
        const cJSON *ip = cJSON_GetObjectItemCaseSensitive(t, "ip");
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(t, "port");
        const cJSON *cl = cJSON_GetObjectItemCaseSensitive(t, "clusterName");
        /* an entry that names no instance matches none, as before */
        v[i] = (struct nc_key){.ip = cJSON_IsString(ip) ? ip->valuestring : NULL,
                               .port = cJSON_IsNumber(port) ? (int)port->valuedouble : 0,
                               .cluster = cJSON_IsString(cl) ? cl->valuestring : DEFAULT_CLUSTER};
    }
    if (!v) {
        cJSON_Delete(j);
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param 'instances' must be a JSON array of {ip, port, clusterName}");
        return -1;
    }
    *json = j;
    *out = v;
    *n = cnt;
    return 0;
}

int nh_batch_parse(const struct request *req, const char *ns, const char *service, struct nh_batch *b,
                   struct naming_err *e)
{
    const struct params *p = &req->params;
    const char *md_text, *ct = params_get(p, "consistencyType");
    size_t n = 0;
    memset(b, 0, sizeof *b);
    if (param_required(p, "metadata", "String", &md_text, e) || naming_metadata_param(md_text, &b->md, e)) return -1;
    if (nh_batch_targets(params_get(p, "instances"), &b->targets_json, &b->targets, &n, e)) {
        nh_batch_free(b);
        return -1;
    }
    b->mb = (struct nc_metadata_batch){.ns = ns, .service = service, .targets = b->targets, .n_targets = n,
                                       .ephemeral = !(ct && strcmp(ct, "persist") == 0), .metadata = b->md,
                                       .remove = strcmp(req->method, "DELETE") == 0};
    return 0;
}

void nh_batch_free(struct nh_batch *b)
{
    cJSON_Delete(b->md);
    cJSON_Delete(b->targets_json);
    free(b->targets);
    memset(b, 0, sizeof *b);
}


int nh_service_body(const struct params *p, double def_threshold, struct nh_service *s, struct naming_err *e)
{
    memset(s, 0, sizeof *s);
    if (param_double(p, "protectThreshold", def_threshold, &s->threshold, e)) return -1;
    if (s->threshold < 0.0 || s->threshold > 1.0) {
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param 'protectThreshold' must be from 0.0 to 1.0, got %g",
                       s->threshold);
        return -1;
    }
    const char *md = params_get(p, "metadata"), *sel = params_get(p, "selector");
    cJSON *m = NULL;
    if (md) {
        if (naming_metadata_param(md, &m, e)) return -1;
        s->metadata = cJSON_PrintUnformatted(m);
        cJSON_Delete(m);
    }
    if (sel && naming_parse_selector(sel, &s->selector, e)) {
        nh_service_free(s);
        return -1;
    }
    return 0;
}

void nh_service_free(struct nh_service *s)
{
    cJSON_free(s->metadata);
    cJSON_free(s->selector);
    s->metadata = s->selector = NULL;
}

cJSON *nh_instance_detail_json(const char *service_key, const char *service, const struct instance_rec *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, service_key, service);
    cJSON_AddStringToObject(o, "ip", r->ip);
    json_add_int(o, "port", r->port);
    cJSON_AddStringToObject(o, "clusterName", r->cluster);
    json_add_double(o, "weight", r->weight);
    cJSON_AddBoolToObject(o, "healthy", r->healthy);
    cJSON_AddStringToObject(o, "instanceId", r->instance_id);
    cJSON_AddItemToObject(o, "metadata", json_object_or_empty(r->metadata));
    return o;
}

void nh_beat_answer(struct reply *rep, int64_t interval_ms, int code)
{
    char b[128];   /* printed directly: every beat answers it */
    int n = snprintf(b, sizeof b, "{\"clientBeatInterval\":%lld,\"code\":%d,\"lightBeatEnabled\":true}",
                     (long long)interval_ms, code);
    reply_json_text(rep, 200, b, (size_t)n);
}

void nh_batch_updated(void *ctx, const struct instance_rec *r)
{
    char line[600];
    snprintf(line, sizeof line, "%s:%d:unknown:%s:%s", r->ip, r->port, r->cluster, r->ephemeral ? "ephemeral" : "persist");
    cJSON_AddItemToArray(ctx, cJSON_CreateString(line));
}
