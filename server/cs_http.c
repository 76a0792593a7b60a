/*
 * cs_http.c — the config center's HTTP adapters, v1 and v2, and the v1 listener wire format (see
 * cs_http.h). Handlers read as: parameters → cs_core struct → core call → render.
 */
#include "nacos_mock/cs_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "nacos_mock/app.h"
#include "nacos_mock/cs_core.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/params.h"
#include "nacos_mock/validate.h"

#define CT_XML "application/xml;charset=UTF-8"
#define CT_HTML "text/html;charset=UTF-8"

/* ---------------------------------------------------------------- the v1 listener wire format */

#define WORD_SEP '\x02'
#define LINE_SEP '\x01'

void cs_listening_free(struct cs_listening *l)
{
    free(l->keys);
    free(l->buf);
    memset(l, 0, sizeof *l);
}

int cs_listening_parse(const char *s, size_t len, struct cs_listening *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *b = malloc(len + 1);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = params_url_decode(b, s, len);   /* the second decoding Nacos does */
    out->buf = b;
    if (memchr(b, '\0', n)) {
        snprintf(err, errlen, "invalid probeModify: Listening-Configs holds a NUL byte");
        goto bad;
    }
    size_t cap = 0;
    char *words[4];
    size_t nw = 0, start = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == WORD_SEP) {
            if (nw == 3) {
                snprintf(err, errlen, "invalid protocol,too much key: key %zu of Listening-Configs has more than 3 "
                         "separators (U+0002)", out->n + 1);
                goto bad;
            }
            b[i] = '\0';
            words[nw++] = b + start;
            start = i + 1;
        } else if (b[i] == LINE_SEP) {
            b[i] = '\0';
            char *end = b + start;
            start = i + 1;
            if (nw < 2) {
                snprintf(err, errlen, "invalid protocol: key %zu of Listening-Configs has %zu separators (U+0002), "
                         "at least 2 needed (dataId, group, md5)", out->n + 1, nw);
                goto bad;
            }
            if (out->n == CS_LISTEN_MAX_KEYS) {
                snprintf(err, errlen, "invalid protocol, too much listener: more than %d keys in Listening-Configs",
                         CS_LISTEN_MAX_KEYS);
                goto bad;
            }
            if (out->n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                struct cs_listen_key *k = realloc(out->keys, nc * sizeof *k);
                if (!k) {
                    snprintf(err, errlen, "out of memory");
                    goto bad;
                }
                out->keys = k;
                cap = nc;
            }
            /* dataId, group, md5 — or with a tenant: dataId, group, md5, tenant */
            out->keys[out->n++] = nw == 2 ? (struct cs_listen_key){words[0], words[1], NULL, end}
                                          : (struct cs_listen_key){words[0], words[1], end, words[2]};
            nw = 0;
        }
    }
    return 0;   /* bytes after the last U+0001 are not a key (as Nacos) */
bad:
    cs_listening_free(out);
    return -1;
}

/* Appends s encoded like java.net.URLEncoder (UTF-8). */
static void url_encode(struct json_text *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[3];
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
            *p == '-' || *p == '*' || *p == '_') {
            json_text_raw(t, (const char *)p, 1);
        } else if (*p == ' ') {
            json_text_raw(t, "+", 1);
        } else {
            e[0] = '%';
            e[1] = hex[*p >> 4];
            e[2] = hex[*p & 15];
            json_text_raw(t, e, 3);
        }
    }
}

char *cs_listening_encode(const struct cs_listen_key *keys, const bool *changed, size_t n, size_t *len)
{
    struct json_text t = {0};
    static const char word[] = {WORD_SEP, 0}, line[] = {LINE_SEP, 0};
    json_text_raw(&t, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (!changed[i]) continue;
        url_encode(&t, keys[i].data_id);
        url_encode(&t, word);
        url_encode(&t, keys[i].group);
        if (keys[i].tenant && *keys[i].tenant && strspn(keys[i].tenant, " \t\r\n") < strlen(keys[i].tenant)) {
            url_encode(&t, word);
            url_encode(&t, keys[i].tenant);
        }
        url_encode(&t, line);
    }
    if (t.len) json_text_raw(&t, "\n", 1);
    if (t.oom || !t.p) {
        free(t.p);
        return NULL;
    }
    t.p[t.len] = '\0';
    *len = t.len;
    return t.p;
}

/* ---------------------------------------------------------------- rendering */

/* The v1 answer for a core error: 400 / 404 / 500, `caused: <msg>;` or the bare Nacos text. */
static void v1_error(struct reply *rep, const struct cs_error *e)
{
    int status = e->status == CS_NOT_FOUND ? 404 : e->status == CS_CONFLICT || e->status == CS_ERROR ? 500 : 400;
    if (e->caused) reply_caused(rep, status, "%s", e->msg);
    else reply_text(rep, status, e->msg);
}

/* The v2 envelope {"code","message","data"} (data is taken). */
static void v2_reply(struct reply *rep, int status, int code, const char *message, cJSON *data)
{
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddItemToObject(o, "data", data ? data : cJSON_CreateNull());
    reply_json(rep, status, o);
    rep->content_type = CT_JSON;
}

static void v2_error(struct reply *rep, const struct cs_error *e)
{
    char text[sizeof e->msg + 16];
    snprintf(text, sizeof text, e->caused ? "caused: %s;" : "%s", e->msg);
    switch (e->status) {
    case CS_MISSING: v2_reply(rep, 400, 10000, "parameter missing", cJSON_CreateString(text)); break;
    case CS_INVALID: v2_reply(rep, 400, 20002, "parameter validate error", cJSON_CreateString(text)); break;
    case CS_NOT_FOUND: v2_reply(rep, 404, 20004, "resource not found", cJSON_CreateString("config data not exist")); break;
    case CS_CONFLICT: v2_reply(rep, 500, 20005, "resource conflict", cJSON_CreateString(text)); break;
    default: v2_reply(rep, 500, 30000, "server error", cJSON_CreateString(text)); break;
    }
}

/* "" for the public namespace (how Nacos shows its tenant), else the namespace. */
static const char *shown_tenant(const char *ns) { return strcmp(ns, CS_PUBLIC) ? ns : ""; }

static const char *content_type_of(const char *type)
{
    if (!strcmp(type, "json")) return CT_JSON;
    if (!strcmp(type, "xml")) return CT_XML;
    if (!strcmp(type, "html")) return CT_HTML;
    return CT_TEXT;
}

/* RFC 1123 date of epoch ms (Last-Modified). */
static void http_date(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* What Jackson prints for a java.sql.Timestamp here: 2010-05-04T16:00:00.000+0000. */
static void iso_date(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03d+0000", (int)(ms % 1000));
}

static void no_cache(struct reply *rep)
{
    reply_header(rep, "Pragma", "no-cache");
    reply_header(rep, "Expires", "Thu, 01 Jan 1970 00:00:00 GMT");
    reply_header(rep, "Cache-Control", "no-cache,no-store");
}

/* The headers of a config GET (v1 and v2). */
static void config_headers(struct reply *rep, const struct config_rec *c)
{
    char date[40];
    http_date(c->modified_ms, date);
    reply_header(rep, "Content-MD5", c->md5);
    reply_header(rep, "Config-Type", c->type);
    reply_header(rep, "Last-Modified", date);
    no_cache(rep);
    if (*c->encrypted_data_key) reply_header(rep, "Encrypted-Data-Key", c->encrypted_data_key);
}

/* A search / detail item. */
static cJSON *config_json(const struct config_rec *c, bool detail)
{
    cJSON *o = cJSON_CreateObject();
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)c->id);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "dataId", c->data_id);
    cJSON_AddStringToObject(o, "group", c->group);
    cJSON_AddStringToObject(o, "content", c->content);
    cJSON_AddStringToObject(o, "md5", c->md5);
    cJSON_AddStringToObject(o, "encryptedDataKey", c->encrypted_data_key);
    cJSON_AddStringToObject(o, "tenant", shown_tenant(c->ns));
    cJSON_AddStringToObject(o, "appName", c->app_name);
    cJSON_AddStringToObject(o, "type", c->type);
    if (detail) {
        json_add_int(o, "createTime", c->created_ms);
        json_add_int(o, "modifyTime", c->modified_ms);
        cJSON_AddStringToObject(o, "createUser", c->src_user);
        cJSON_AddStringToObject(o, "createIp", c->src_ip);
        cJSON_AddStringToObject(o, "desc", c->desc);
        cJSON_AddStringToObject(o, "configTags", c->tags);
    }
    return o;
}

/* Nacos's Page around items (taken). */
static cJSON *page_json(long total, long page_no, long page_size, cJSON *items)
{
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "totalCount", total);
    json_add_int(o, "pageNumber", page_no);
    json_add_int(o, "pagesAvailable", (total + page_size - 1) / page_size);
    cJSON_AddItemToObject(o, "pageItems", items);
    return o;
}

/* ---------------------------------------------------------------- request → core structs */

static bool is_v2(const struct request *req) { return strncmp(req->path, "/nacos/v2/", 10) == 0; }

/* v1 names the namespace `tenant`, v2 `namespaceId` (tenant accepted too). */
static const char *tenant_of(const struct request *req)
{
    const char *t = is_v2(req) ? params_get_raw(&req->params, "namespaceId") : NULL;
    return t ? t : params_get_raw(&req->params, "tenant");
}

static struct cs_key key_of(const struct request *req)
{
    return (struct cs_key){params_get(&req->params, "dataId"), params_get(&req->params, "group"), tenant_of(req)};
}

/* The peer's address as text into buf (the history's srcIp). */
static const char *peer_ip(const struct request *req, char *buf, size_t len)
{
    buf[0] = '\0';
    if (req->peer.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&req->peer)->sin_addr, buf, (socklen_t)len);
    else if (req->peer.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&req->peer)->sin6_addr, buf, (socklen_t)len);
    return buf;
}

/* First of the parameter names given that is present. */
static const char *param_any(const struct request *req, const char *a, const char *b)
{
    const char *v = params_get(&req->params, a);
    return v || !b ? v : params_get(&req->params, b);
}

static struct cs_publish publish_of(const struct request *req, char *ip, size_t iplen)
{
    const struct params *p = &req->params;
    const char *content = params_get_untrimmed(p, "content");
    return (struct cs_publish){
        .key = key_of(req), .content = content, .content_len = content ? strlen(content) : 0,
        .type = params_get(p, "type"), .app_name = params_get(p, "appName"), .desc = params_get(p, "desc"),
        .config_tags = param_any(req, "config_tags", "configTags"), .src_user = param_any(req, "src_user", "srcUser"),
        .encrypted_data_key = params_get(p, "encryptedDataKey"), .cas_md5 = request_header(req, "casMd5"),
        .tag = params_get(p, "tag"), .beta_ips = request_header(req, "betaIps"), .src_ip = peer_ip(req, ip, iplen),
    };
}

/* ---------------------------------------------------------------- v1 configs */

const char *cs_http_get_api(const struct request *req)
{
    const char *s = params_get(&req->params, "search");
    return s && (!strcmp(s, "accurate") || !strcmp(s, "blur")) ? "config.search" : "config.get";
}

static int page_params_or_reply(struct request *req, struct reply *rep, long long def_size, long long *no, long long *size)
{
    return param_int_or_reply(&req->params, rep, "pageNo", 1, 1, 1000000000LL, no) ||
           param_int_or_reply(&req->params, rep, "pageSize", def_size, 1, CS_PAGE_SIZE_MAX, size);
}

static int add_search_item(void *ctx, const struct config_rec *c)
{
    cJSON_AddItemToArray(ctx, config_json(c, false));
    return 0;
}

static void configs_search(struct app *app, struct request *req, struct reply *rep)
{
    long long no, size;
    if (page_params_or_reply(req, rep, 10, &no, &size)) return;
    struct cs_search q = {.tenant = tenant_of(req), .data_id = params_get(&req->params, "dataId"),
                          .group = params_get(&req->params, "group"), .app_name = params_get(&req->params, "appName"),
                          .blur = !strcmp(params_get(&req->params, "search"), "blur"), .page_no = (long)no,
                          .page_size = (long)size};
    cJSON *items = cJSON_CreateArray();
    long total = 0;
    struct cs_error err;
    if (cs_search(app->cs, &q, add_search_item, items, &total, &err)) {
        cJSON_Delete(items);
        v1_error(rep, &err);
        return;
    }
    reply_json(rep, 200, page_json(total, q.page_no, q.page_size, items));
}

void h_cs_configs_get(struct app *app, struct request *req, struct reply *rep)
{
    if (!strcmp(cs_http_get_api(req), "config.search")) {
        configs_search(app, req, rep);
        return;
    }
    const char *show = params_get(&req->params, "show");
    bool detail = show && !strcmp(show, "all");
    struct cs_key key = key_of(req);
    struct config_rec c;
    struct cs_error err;
    enum cs_status st = cs_get(app->cs, &key, params_get(&req->params, "tag"), &c, &err);
    if (st == CS_NOT_FOUND) {
        if (detail) reply_json_text(rep, 200, "", 0);   /* Nacos: 200 and nothing */
        else reply_text(rep, 404, "config data not exist\n");
        no_cache(rep);
        return;
    }
    if (st) {
        v1_error(rep, &err);
        return;
    }
    if (detail) {
        reply_json(rep, 200, config_json(&c, true));
    } else {
        reply_bytes(rep, 200, content_type_of(c.type), c.content, c.content_len);
        config_headers(rep, &c);
    }
    cs_config_free(&c);
}

/* The request's publish / removal, through the core (v1 and v2 differ only in rendering). */
static enum cs_status publish_req(struct app *app, struct request *req, struct cs_error *err)
{
    char ip[64];
    struct cs_publish p = publish_of(req, ip, sizeof ip);
    return cs_publish(app->cs, &p, "http", req->now_ms, NULL, err);
}

static enum cs_status remove_req(struct app *app, struct request *req, struct cs_error *err)
{
    char ip[64];
    struct cs_key key = key_of(req);
    return cs_remove(app->cs, &key, params_get(&req->params, "tag"), peer_ip(req, ip, sizeof ip),
                     param_any(req, "src_user", "srcUser"), "http", req->now_ms, NULL, err);
}

void h_cs_configs_publish(struct app *app, struct request *req, struct reply *rep)
{
    struct cs_error err;
    if (publish_req(app, req, &err)) v1_error(rep, &err);
    else reply_json_text(rep, 200, "true", 4);
}

void h_cs_configs_remove(struct app *app, struct request *req, struct reply *rep)
{
    struct cs_error err;
    if (remove_req(app, req, &err)) v1_error(rep, &err);
    else reply_json_text(rep, 200, "true", 4);
}

/* ---------------------------------------------------------------- v1 history */

static cJSON *history_json(const struct config_history_rec *h)
{
    cJSON *o = cJSON_CreateObject();
    char id[24], created[40], modified[40];
    snprintf(id, sizeof id, "%lld", (long long)h->id);
    iso_date(h->created_ms, created);
    iso_date(h->modified_ms, modified);
    cJSON_AddStringToObject(o, "id", id);
    json_add_int(o, "lastId", -1);
    cJSON_AddStringToObject(o, "dataId", h->data_id);
    cJSON_AddStringToObject(o, "group", h->group);
    cJSON_AddStringToObject(o, "tenant", shown_tenant(h->ns));
    cJSON_AddStringToObject(o, "appName", h->app_name);
    cJSON_AddStringToObject(o, "md5", h->md5);
    cJSON_AddStringToObject(o, "content", h->content);
    cJSON_AddStringToObject(o, "srcIp", h->src_ip);
    cJSON_AddStringToObject(o, "srcUser", h->src_user);
    cJSON_AddStringToObject(o, "opType", h->op_type);
    cJSON_AddStringToObject(o, "createdTime", created);
    cJSON_AddStringToObject(o, "lastModifiedTime", modified);
    cJSON_AddStringToObject(o, "encryptedDataKey", h->encrypted_data_key);
    return o;
}

static int add_history_item(void *ctx, const struct config_history_rec *h)
{
    cJSON_AddItemToArray(ctx, history_json(h));
    return 0;
}

static int take_history_item(void *ctx, const struct config_history_rec *h)
{
    *(cJSON **)ctx = history_json(h);
    return 1;
}

void h_cs_history(struct app *app, struct request *req, struct reply *rep)
{
    struct cs_key key = key_of(req);
    struct cs_error err;
    const char *nid = params_get(&req->params, "nid");
    if (nid) {
        long long id;
        if (params_strtoll(nid, &id)) {
            reply_caused(rep, 400, "Param 'nid' is not a number: For input string: \"%.64s\"", nid);
            return;
        }
        cJSON *item = NULL;
        if (cs_history_get(app->cs, id, &key, take_history_item, &item, &err)) v1_error(rep, &err);
        else reply_json(rep, 200, item);
        return;
    }
    long long no, size;
    if (page_params_or_reply(req, rep, 100, &no, &size)) return;
    cJSON *items = cJSON_CreateArray();
    long total = 0;
    if (cs_history(app->cs, &key, (long)no, (long)size, add_history_item, items, &total, &err)) {
        cJSON_Delete(items);
        v1_error(rep, &err);
        return;
    }
    reply_json(rep, 200, page_json(total, (long)no, (long)size, items));
}

/* ---------------------------------------------------------------- v1 listener (long polling) */

/* The parsed Listening-Configs of a request, kept in req->ext (parsed once: for fault matching, then
 * for the handler and its held phase 2). */
struct listen_state {
    bool present;                 /* the parameter was sent, not blank */
    int rc;                       /* cs_listening_parse's */
    char err[256];
    struct cs_listening l;
};

static void listen_state_free(void *p)
{
    struct listen_state *s = p;
    cs_listening_free(&s->l);
    free(s);
}

static struct listen_state *listen_state_of(struct request *req)
{
    if (req->ext) return req->ext;
    struct listen_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    const char *v = params_get(&req->params, "Listening-Configs");
    s->present = v != NULL;
    if (v) s->rc = cs_listening_parse(v, strlen(v), &s->l, s->err, sizeof s->err);
    req->ext = s;
    req->ext_free = listen_state_free;
    return s;
}

static bool listening_about(const void *ctx, const char *ns, const char *group, const char *data_id)
{
    const struct cs_listening *l = ctx;
    for (size_t i = 0; i < l->n; i++) {
        const struct cs_listen_key *k = &l->keys[i];
        if ((!ns || !strcmp(ns, cs_namespace(k->tenant))) && (!group || !strcmp(group, k->group)) &&
            (!data_id || !strcmp(data_id, k->data_id)))
            return true;
    }
    return false;
}

void cs_http_fault_scope(struct request *req, struct fault_request *fr)
{
    fr->service = fr->cluster = fr->ip = NULL;
    fr->port = 0;
    if (!strcmp(req->api, "config.listen")) {
        struct listen_state *s = listen_state_of(req);
        static const struct cs_listening none = {0};
        fr->ns = fr->group = fr->data_id = NULL;
        fr->about = listening_about;
        fr->about_ctx = s && s->rc == 0 ? &s->l : &none;
        return;
    }
    fr->ns = cs_namespace(tenant_of(req));
    fr->group = params_get(&req->params, "group");
    fr->data_id = params_get(&req->params, "dataId");
}

static void wake_request(void *hold) { request_hold_wake(hold); }

/* Answers with the changed keys (or nothing). */
static void listen_answer(struct reply *rep, const struct cs_listening *l, const bool *changed)
{
    size_t len = 0;
    char *body = cs_listening_encode(l->keys, changed, l->n, &len);
    if (!body) {
        reply_caused(rep, 500, "out of memory");
        return;
    }
    reply_bytes(rep, 200, CT_TEXT, body, len);
    free(body);
    no_cache(rep);
}

/* Phase 2 of a held poll: woken by a change, at its deadline, or its client gone. */
static void listen_end(struct app *app, struct request *req, struct reply *rep, void *ctx, enum hold_end why)
{
    const struct listen_state *s = req->ext;
    bool *changed = calloc(s->l.n ? s->l.n : 1, sizeof *changed);
    cs_listen_poll_end(cs_listeners(app->cs), ctx, changed);
    if (why != HOLD_GONE) {
        if (changed) listen_answer(rep, &s->l, changed);
        else reply_caused(rep, 500, "out of memory");
    }
    free(changed);
}

void h_cs_listener(struct app *app, struct request *req, struct reply *rep)
{
    struct listen_state *s = listen_state_of(req);
    if (!s) {
        reply_caused(rep, 500, "out of memory");
        return;
    }
    if (!s->present) {
        reply_caused(rep, 400, "invalid probeModify: Param 'Listening-Configs' is missing or blank");
        return;
    }
    if (s->rc) {
        reply_caused(rep, 400, "%s", s->err);
        return;
    }
    const char *t = request_header(req, "Long-Pulling-Timeout");
    long long timeout = -1;
    if (t && (params_strtoll(t, &timeout) || timeout < 0)) {
        reply_caused(rep, 400, "Header 'Long-Pulling-Timeout' must be a non-negative integer of milliseconds, got \"%.40s\"", t);
        return;
    }
    const char *no_hangup = request_header(req, "Long-Pulling-Timeout-No-Hangup");
    bool hold = t && !(no_hangup && !strcasecmp(no_hangup, "true"));
    /* registered before comparing: a change in between wakes it (and is listed either way) */
    struct cs_poll *poll = hold ? cs_listen_poll_add(cs_listeners(app->cs), s->l.keys, s->l.n, wake_request, req->hold)
                                : NULL;
    bool *changed = calloc(s->l.n ? s->l.n : 1, sizeof *changed);
    size_t n_changed = 0;
    struct cs_error err;
    enum cs_status st = changed ? cs_compare(app->cs, s->l.keys, s->l.n, changed, &n_changed, &err) : CS_ERROR;
    if (st || n_changed || !poll) {   /* answered at once: a change, an error, or no hold wanted */
        cs_listen_poll_end(cs_listeners(app->cs), poll, NULL);
        if (!changed) reply_caused(rep, 500, "out of memory");
        else if (st) v1_error(rep, &err);
        else listen_answer(rep, &s->l, changed);
        free(changed);
        return;
    }
    free(changed);
    reply_hold(rep, timeout > 500 ? timeout - 500 : 0, listen_end, poll);   /* hold = timeout - 500 ms */
}

/* ---------------------------------------------------------------- v2 Open API */

void h_cs2_config_get(struct app *app, struct request *req, struct reply *rep)
{
    struct cs_key key = key_of(req);
    struct config_rec c;
    struct cs_error err;
    if (cs_get(app->cs, &key, params_get(&req->params, "tag"), &c, &err)) {
        v2_error(rep, &err);
        return;
    }
    v2_reply(rep, 200, 0, "success", cJSON_CreateString(c.content));
    config_headers(rep, &c);
    cs_config_free(&c);
}

void h_cs2_config_publish(struct app *app, struct request *req, struct reply *rep)
{
    struct cs_error err;
    if (publish_req(app, req, &err)) v2_error(rep, &err);
    else v2_reply(rep, 200, 0, "success", cJSON_CreateTrue());
}

void h_cs2_config_remove(struct app *app, struct request *req, struct reply *rep)
{
    struct cs_error err;
    if (remove_req(app, req, &err)) v2_error(rep, &err);
    else v2_reply(rep, 200, 0, "success", cJSON_CreateTrue());
}
