/*
 * log.c — request and health-transition lines on stderr, as text or JSON lines.
 * Settings are process-wide (they mirror the command line, set once in main before threads start).
 */
#include "nacos_mock/log.h"

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

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;   /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3f);
    }
    return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
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
    while (u[i] && (k = utf8_seq(u + i)) && !(ctl && (u[i] < 0x20 || u[i] == 0x7f))) i += k;
    if (!u[i]) return s;
    size_t len = strlen(s);
    char *out = malloc(len * 4 + 1);
    if (!out) return "?";
    size_t o = 0;
    for (i = 0; u[i];) {
        k = utf8_seq(u + i);
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
        snprintf(line + n, sizeof line - (size_t)n, " fault=%s", r->fault_id);
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

void log_transition(const char *instance_id, const char *ns, const char *service, const char *from,
                    const char *to, int64_t since_beat_ms)
{
    if (g_level > LOG_INFO) return;
    char ts[40];
    timestamp(ts, sizeof ts);
    if (g_format == LOG_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "level", "info");
        cJSON_AddStringToObject(o, "event", "health");
        cJSON_AddStringToObject(o, "instanceId", instance_id);
        cJSON_AddStringToObject(o, "namespaceId", ns);
        cJSON_AddStringToObject(o, "service", service);
        cJSON_AddStringToObject(o, "from", from);
        cJSON_AddStringToObject(o, "to", to);
        cJSON_AddNumberToObject(o, "sinceLastBeatMs", (double)since_beat_ms);
        emit_json(o);
        return;
    }
    char line[2048];
    snprintf(line, sizeof line, "%s info health %s -> %s instance=%s namespace=%s service=%s since_last_beat=%lldms",
             ts, from, to, instance_id, ns, service, (long long)since_beat_ms);
    emit(line);
}
