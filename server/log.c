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

void log_request(const struct log_request *r)
{
    if (g_quiet || g_level > LOG_INFO) return;
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
