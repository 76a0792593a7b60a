/*
 * console.c — GET /__mock/events (parameters → struct events_request) and the console's assets
 * (see console.h).
 */
#include "nacos_mock/console.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/control.h"
#include "nacos_mock/ui_assets.h"

void events_request_free(void *p)
{
    struct events_request *er = p;
    if (!er) return;
    free((char *)er->filter.service);
    free(er);
}

/* kind=health,registered: the bits of the kinds named; 0 (every kind) when absent. -1 with a 400. */
static int kinds_or_reply(const char *v, struct reply *rep, unsigned *out)
{
    *out = 0;
    for (const char *p = v; p && *p;) {
        size_t n = strcspn(p, ",");
        while (n && p[n - 1] == ' ') n--;
        int k = events_kind_parse(p, n);
        if (k < 0 && n) {
            reply_error_json(rep, 400,
                             "parameter 'kind': unknown event kind '%.*s' (one of registered, deregistered, updated, "
                             "health, removed, fault, connection, status, config, clock)",
                             (int)(n > 64 ? 64 : n), p);
            return -1;
        }
        if (k >= 0) *out |= 1u << k;
        p += strcspn(p, ",");
        while (*p == ',' || *p == ' ') p++;
    }
    return 0;
}

void h_mock_events(struct app *app, struct request *req, struct reply *rep)
{
    long long since = -1, keepalive = EVENTS_KEEPALIVE_MS;
    unsigned kinds;
    if (kinds_or_reply(params_get(&req->params, "kind"), rep, &kinds) ||
        control_query_int_or_reply(req, rep, "since", 0, INT64_MAX, &since) ||
        control_query_int_or_reply(req, rep, "keepAliveMs", 100, 3600000, &keepalive))
        return;
    const char *service = params_get(&req->params, "serviceName");
    struct events_request *er = calloc(1, sizeof *er);
    if (!er || (service && !(er->filter.service = strdup(service)))) {
        free(er);
        reply_error_json(rep, 500, "out of memory");
        return;
    }
    er->filter.kinds = kinds;
    er->since = since < 0 ? EVENTS_SINCE_NOW : (uint64_t)since;
    er->keepalive_ms = keepalive;
    rep->status = 200;
    rep->stream = er;
    rep->stream_free = events_request_free;
}

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && !strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (dot && !strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (dot && !strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (dot && !strcmp(dot, ".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

void h_mock_ui(struct app *app, struct request *req, struct reply *rep)
{
    const char *name = req->path + strlen("/__mock/ui");
    if (*name == '/') name++;
    if (!*name) name = "index.html";
    if (!strcmp(name, "config.json")) {   /* what the page must know before its first call */
        const char *t = app->cfg->admin_token;
        const char *body = t && *t ? "{\"adminToken\":true}" : "{\"adminToken\":false}";
        reply_json_text(rep, 200, body, strlen(body));
        reply_header(rep, "Cache-Control", "no-store");
        return;
    }
    for (size_t i = 0; i < UI_ASSETS_N; i++) {
        const struct ui_asset *a = &UI_ASSETS[i];
        if (strcmp(a->name, name)) continue;
        char *body = malloc(a->len + 1);
        if (!body) {
            reply_error_json(rep, 500, "out of memory");
            return;
        }
        memcpy(body, a->data, a->len);
        body[a->len] = '\0';
        free(rep->body);
        rep->status = 200;
        rep->body = body;
        rep->len = a->len;
        rep->content_type = content_type(a->name);
        reply_header(rep, "Cache-Control", "no-cache");
        reply_header(rep, "X-Content-Type-Options", "nosniff");
        /* the page talks to this server only: nothing from outside, no inline script */
        reply_header(rep, "Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                     "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
        return;
    }
    reply_error_json(rep, 404, "no console file %s", req->path);
}
