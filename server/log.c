/*
 * log.c — request and health-transition lines on stderr, as text or JSON lines.
 * Settings are process-wide (they mirror the command line, set once in main before threads start).
 */
#include "nacos_mock/log.h"
#include "nacos_mock/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static enum log_format g_format = LOG_TEXT;
static bool g_quiet = false;
static enum log_level g_level = LOG_INFO;

void log_set_level(enum log_level level) { g_level = level; }

int log_level_parse(const char *s)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

void log_set_format(enum log_format f) { g_format = f; }
void log_set_quiet(bool quiet) { g_quiet = quiet; }

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* One line, newline included, in one write(2) when it fits the stack buffer: stderr is unbuffered, so
 * fputs + fputc cost two system calls per line (a sweep that changes 100,000 instances logs 100,000
 * lines). fwrite holds the stream lock, so lines from different threads do not interleave. */
static void emit(const char *line)
{
    char buf[4096];
    size_t n = strlen(line);
    if (n < sizeof buf) {
        memcpy(buf, line, n);
        buf[n] = '\n';
        fwrite(buf, 1, n + 1, stderr);
        return;
    }
    flockfile(stderr);
    fputs(line, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}

static void emit_json(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (s) emit(s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void vline(const char *level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vline(const char *level, const char *fmt, va_list ap)
{
    char ts[40], msg[1024];
    timestamp(ts, sizeof ts);
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (g_format == LOG_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "level", level);
        cJSON_AddStringToObject(o, "event", "message");
        cJSON_AddStringToObject(o, "msg", msg);
        emit_json(o);
    } else {
        char line[1200];
        snprintf(line, sizeof line, "%s %s %s", ts, level, msg);
        emit(line);
    }
}

void log_info(const char *fmt, ...)
{
    if (g_level > LOG_INFO) return;
    va_list ap;
    va_start(ap, fmt);
    vline("info", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    if (g_level > LOG_WARN) return;
    va_list ap;
    va_start(ap, fmt);
    vline("warn", fmt, ap);
    va_end(ap);
}

/* Client-supplied text (path, parameters) fit for one log line: bytes that are not UTF-8 and, in text
 * mode, control characters become \xNN, so a request cannot split or forge lines and JSON lines stay
 * valid UTF-8 (cJSON escapes control characters itself). Returns s, or a copy in *owned (caller frees). */
static const char *loggable(const char *s, bool ctl, char **owned)
{
    *owned = NULL;
    if (!s) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k;
    while (u[i] && (k = util_utf8_seq(u + i, SIZE_MAX)) && !(ctl && (u[i] < 0x20 || u[i] == 0x7f))) i += k;
    if (!u[i]) return s;
    size_t len = strlen(s);
    char *out = malloc(len * 4 + 1);
    if (!out) return "?";
    size_t o = 0;
    for (i = 0; u[i];) {
        k = util_utf8_seq(u + i, SIZE_MAX);
        if (!k || (ctl && (u[i] < 0x20 || u[i] == 0x7f))) {
            o += (size_t)snprintf(out + o, 5, "\\x%02x", u[i]);
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    *owned = out;
    return out;
}

static void request_line(const struct log_request *r)
{
    char ts[40];
    timestamp(ts, sizeof ts);
    if (g_format == LOG_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "level", "info");
        cJSON_AddStringToObject(o, "event", "request");
        cJSON_AddStringToObject(o, "method", r->method ? r->method : "");
        cJSON_AddStringToObject(o, "path", r->path ? r->path : "");
        cJSON_AddStringToObject(o, "api", r->api ? r->api : "");
        if (r->service) cJSON_AddStringToObject(o, "service", r->service);
        else cJSON_AddNullToObject(o, "service");
        if (r->ip) cJSON_AddStringToObject(o, "ip", r->ip);
        else cJSON_AddNullToObject(o, "ip");
        if (r->port) cJSON_AddNumberToObject(o, "port", r->port);
        else cJSON_AddNullToObject(o, "port");
        cJSON_AddNumberToObject(o, "status", r->status);
        cJSON_AddNumberToObject(o, "durationMs", (double)(long long)(r->duration_ms * 1000) / 1000.0);
        if (r->fault_id) cJSON_AddStringToObject(o, "fault", r->fault_id);
        else cJSON_AddNullToObject(o, "fault");
        if (r->node >= 0) cJSON_AddNumberToObject(o, "node", r->node);
        emit_json(o);
        return;
    }
    char line[2048];
    int n = snprintf(line, sizeof line, "%s info %s %s api=%s status=%d %.3fms", ts, r->method ? r->method : "",
                     r->path ? r->path : "", r->api ? r->api : "-", r->status, r->duration_ms);
    if (n > 0 && (size_t)n < sizeof line && r->service)
        n += snprintf(line + n, sizeof line - (size_t)n, " service=%s", r->service);
    if (n > 0 && (size_t)n < sizeof line && r->ip)
        n += snprintf(line + n, sizeof line - (size_t)n, " instance=%s:%d", r->ip, r->port);
    if (n > 0 && (size_t)n < sizeof line && r->fault_id)
        n += snprintf(line + n, sizeof line - (size_t)n, " fault=%s", r->fault_id);
    if (n > 0 && (size_t)n < sizeof line && r->node >= 0)
        snprintf(line + n, sizeof line - (size_t)n, " node=%d", r->node);
    emit(line);
}

void log_request(const struct log_request *r)
{
    if (g_quiet || g_level > LOG_INFO) return;
    bool text = g_format != LOG_JSON;
    char *own[4];
    struct log_request clean = *r;
    clean.method = loggable(r->method, text, &own[0]);
    clean.path = loggable(r->path, text, &own[1]);
    clean.service = loggable(r->service, text, &own[2]);
    clean.ip = loggable(r->ip, text, &own[3]);
    request_line(&clean);
    for (int i = 0; i < 4; i++) free(own[i]);
}

/* ------------------------------------------------------------------ health transitions */

static int batch_reserve(struct log_batch *b, size_t more)
{
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) return -1;
    b->buf = p;
    b->cap = cap;
    return 0;
}

static void put(struct log_batch *b, const char *s, size_t n)   /* room reserved */
{
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

#define PUT_LIT(b, lit) put((b), "" lit "", sizeof(lit) - 1)   /* string literals only */

/* Client-supplied text, at most 6 bytes out per byte in (room reserved), made fit for one line as
 * `loggable` does for request lines — bytes that are not UTF-8 become \xNN, and so do control
 * characters in text mode — and, in JSON mode, escaped as cJSON escapes strings. */
static void put_clean(struct log_batch *b, const char *s, bool json)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    char *o = b->buf + b->len;
    /* the common case: a run of printable ASCII that needs no escape, found by table and copied at once */
    static const struct { unsigned char text[256], json[256]; } plain_byte = {
        .text = {[0x20 ... 0x7e] = 1},
        .json = {[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1},   /* not " or \\ */
    };
    const unsigned char *tbl = json ? plain_byte.json : plain_byte.text;
    size_t plain = 0;
    while (tbl[u[plain]]) plain++;
    memcpy(o, u, plain);
    o += plain;
    for (size_t i = plain; u[i];) {
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x7f && !(json && (c == '"' || c == '\\'))) {
            *o++ = (char)c;
            i++;
            continue;
        }
        size_t k = c >= 0x80 ? util_utf8_seq(u + i, SIZE_MAX) : 0;
        if (k) {
            memcpy(o, u + i, k);
            o += k;
            i += k;
            continue;
        }
        i++;
        if (json && c < 0x80) {
            const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                            : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (esc) { memcpy(o, esc, 2); o += 2; }
            else if (c == 0x7f) *o++ = (char)c;
            else { memcpy(o, "\\u00", 4); o[4] = hex[c >> 4]; o[5] = hex[c & 15]; o += 6; }
            continue;
        }
        if (json) *o++ = '\\';   /* \xNN, its backslash escaped, as cJSON prints loggable()'s output */
        *o++ = '\\';
        *o++ = 'x';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
    }
    b->len = (size_t)(o - b->buf);
}

static void put_int(struct log_batch *b, int64_t v)   /* room reserved (21 bytes) */
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) tmp[n++] = '-';
    while (n) b->buf[b->len++] = tmp[--n];
}

/* Room one transition line can take: each client byte may become a 6-byte escape. */
static size_t line_room(const char *instance_id, const char *ns, const char *service, const char *from,
                        const char *to)
{
    return 256 + 6 * (strlen(instance_id) + strlen(ns) + strlen(service)) + strlen(from) + strlen(to);
}

void log_batch_transition(struct log_batch *b, const char *instance_id, const char *ns, const char *service,
                          const char *from, const char *to, int64_t since_beat_ms)
{
    if (g_level > LOG_INFO) return;
    if (!b->len) timestamp(b->ts, sizeof b->ts);
    bool json = g_format == LOG_JSON;
    size_t need = line_room(instance_id, ns, service, from, to);
    if (batch_reserve(b, need)) {
        log_batch_flush(b);   /* out of memory: write what there is, then this line alone */
        log_transition(instance_id, ns, service, from, to, since_beat_ms);
        return;
    }
    if (json) {
        PUT_LIT(b, "{\"time\":\"");
        put(b, b->ts, strlen(b->ts));
        PUT_LIT(b, "\",\"level\":\"info\",\"event\":\"health\",\"instanceId\":\"");
        put_clean(b, instance_id, true);
        PUT_LIT(b, "\",\"namespaceId\":\"");
        put_clean(b, ns, true);
        PUT_LIT(b, "\",\"service\":\"");
        put_clean(b, service, true);
        PUT_LIT(b, "\",\"from\":\"");
        put(b, from, strlen(from));
        PUT_LIT(b, "\",\"to\":\"");
        put(b, to, strlen(to));
        PUT_LIT(b, "\",\"sinceLastBeatMs\":");
        put_int(b, since_beat_ms);
        PUT_LIT(b, "}\n");
    } else {
        put(b, b->ts, strlen(b->ts));
        PUT_LIT(b, " info health ");
        put(b, from, strlen(from));
        PUT_LIT(b, " -> ");
        put(b, to, strlen(to));
        PUT_LIT(b, " instance=");
        put_clean(b, instance_id, false);
        PUT_LIT(b, " namespace=");
        put_clean(b, ns, false);
        PUT_LIT(b, " service=");
        put_clean(b, service, false);
        PUT_LIT(b, " since_last_beat=");
        put_int(b, since_beat_ms);
        PUT_LIT(b, "ms\n");
    }
}

void log_batch_flush(struct log_batch *b)
{
    if (b->len) fwrite(b->buf, 1, b->len, stderr);   /* one write(2): stderr is unbuffered */
    b->len = 0;
}

void log_batch_discard(struct log_batch *b) { b->len = 0; }

void log_batch_free(struct log_batch *b)
{
    log_batch_flush(b);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

void log_transition(const char *instance_id, const char *ns, const char *service, const char *from,
                    const char *to, int64_t since_beat_ms)
{
    char stack[4096];
    struct log_batch b = {.buf = stack, .cap = sizeof stack};
    if (g_level > LOG_INFO) return;
    size_t need = line_room(instance_id, ns, service, from, to);
    if (need > sizeof stack) {   /* very long names: a line of its own on the heap */
        b.buf = NULL;
        b.cap = 0;
        if (batch_reserve(&b, need)) return;
    }
    log_batch_transition(&b, instance_id, ns, service, from, to, since_beat_ms);
    log_batch_flush(&b);
    if (b.buf != stack) free(b.buf);
}
