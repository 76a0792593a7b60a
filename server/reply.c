/*
 * reply.c — building answers without libmicrohttpd (see reply.h).
 */
#include "nacos_mock/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_hold(struct reply *r, int64_t hold_ms, reply_hold_fn fn, void *ctx)
{
    r->hold_ms = hold_ms > 0 ? hold_ms : 0;
    r->hold_fn = fn;
    r->hold_ctx = ctx;
}

void reply_init(struct reply *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
    r->content_type = CT_TEXT;
}

void reply_free(struct reply *r)
{
    if (r->stream_free) r->stream_free(r->stream);
    free(r->body);
    for (size_t i = 0; i < r->n_headers; i++) free(r->headers[i].value);
    reply_init(r);
}

static void set_body(struct reply *r, int status, const char *ct, char *body, size_t len)
{
    free(r->body);
    r->status = status;
    r->content_type = ct;
    r->body = body;
    r->len = body ? len : 0;
}

void reply_text(struct reply *r, int status, const char *s)
{
    char *b = strdup(s);
    set_body(r, status, CT_TEXT, b, b ? strlen(b) : 0);
}

static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vformat(const char *fmt, va_list ap)
{
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0) return NULL;
    return out;
}

void reply_textf(struct reply *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *b = vformat(fmt, ap);
    va_end(ap);
    set_body(r, status, CT_TEXT, b, b ? strlen(b) : 0);
}

void reply_caused(struct reply *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    char *b = NULL;
    if (msg && asprintf(&b, "caused: %s;", msg) < 0) b = NULL;
    free(msg);
    set_body(r, status, CT_TEXT, b, b ? strlen(b) : 0);
}

void reply_bytes(struct reply *r, int status, const char *ct, const char *p, size_t n)
{
    char *b = malloc(n + 1);
    if (!b) {
        reply_text(r, 500, "caused: out of memory;");
        return;
    }
    memcpy(b, p, n);
    b[n] = '\0';
    set_body(r, status, ct, b, n);
}

void reply_json_text(struct reply *r, int status, const char *text, size_t len)
{
    reply_bytes(r, status, "application/json", text, len);
}

void reply_json_owned(struct reply *r, int status, char *text, size_t len)
{
    set_body(r, status, "application/json", text, len);
}

void reply_json(struct reply *r, int status, cJSON *json)
{
    char *b = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!b) {
        reply_text(r, 500, "caused: out of memory;");
        return;
    }
    set_body(r, status, "application/json", b, strlen(b));
}

void reply_error_json(struct reply *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg ? msg : "out of memory");
    free(msg);
    reply_json(r, status, o);
}

void reply_header(struct reply *r, const char *name, const char *value)
{
    if (r->n_headers >= REPLY_MAX_HEADERS) return;
    char *v = strdup(value);
    if (!v) return;
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = v;
    r->n_headers++;
}

void reply_ok(struct reply *r) { reply_text(r, 200, "ok"); }

/* Java's rendering of a double (1.0, not 1; the shortest form that reads back the same) into buf[64]. */
static const char *format_double(char *buf, size_t n, double v)
{
    if (!isfinite(v)) v = 0;
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "%.17g", v);
    /* shortest round-trip form when %.17g is noisy (0.1 → 0.10000000000000001) */
    if (strchr(buf, 'e') == NULL && strlen(buf) > 10) {
        for (int prec = 1; prec <= 17; prec++) {
            char t[32];   /* %.17g needs at most 24 bytes */
            snprintf(t, sizeof t, "%.*g", prec, v);
            if (strtod(t, NULL) == v) {
                snprintf(buf, n, "%s%s", t, strchr(t, '.') || strchr(t, 'e') ? "" : ".0");
                break;
            }
        }
    }
    return buf;
}

cJSON *json_add_double(cJSON *obj, const char *key, double v)
{
    char buf[64];
    return cJSON_AddRawToObject(obj, key, format_double(buf, sizeof buf, v));
}

cJSON *json_add_int(cJSON *obj, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return cJSON_AddRawToObject(obj, key, buf);
}

cJSON *json_object_or_empty(const char *text)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = cJSON_CreateObject();
    }
    return j;
}

/* ------------------------------------------------------------------ JSON text */

static bool json_text_room(struct json_text *t, size_t n)
{
    if (t->oom) return false;
    if (t->len + n + 1 <= t->cap) return true;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->oom = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

void json_text_reserve(struct json_text *t, size_t n) { json_text_room(t, n); }

void json_text_raw(struct json_text *t, const char *s, size_t n)
{
    if (!json_text_room(t, n)) return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* 1 for the bytes a JSON string must escape: controls, '"' and '\\' (and NUL, which ends the loop). */
static const unsigned char JSON_ESCAPE[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

void json_text_string(struct json_text *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    if (!json_text_room(t, n * 6 + 2)) return;
    char *o = t->p + t->len;
    *o++ = '"';
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        const unsigned char *run = u;   /* what needs no escaping goes in one copy */
        while (!JSON_ESCAPE[*u]) u++;
        memcpy(o, run, (size_t)(u - run));
        o += u - run;
        if (!*u) break;
        unsigned c = *u;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default: memcpy(o, "u00", 3); o[3] = hex[c >> 4]; o[4] = hex[c & 15]; o += 5;
        }
    }
    *o++ = '"';
    *o = '\0';
    t->len = (size_t)(o - t->p);
}

void json_text_int(struct json_text *t, long long v)
{
    char buf[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do { buf[sizeof buf - ++n] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) buf[sizeof buf - ++n] = '-';
    json_text_raw(t, buf + sizeof buf - n, n);
}

void json_text_double(struct json_text *t, double v)
{
    char buf[64];
    const char *s = format_double(buf, sizeof buf, v);
    json_text_raw(t, s, strlen(s));
}
