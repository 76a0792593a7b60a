/*
 * test_observability.c — what operators and harnesses see of a running nacos-mock, against the real
 * server over HTTP:
 *   - request and health-transition log lines on stderr, JSON (--log-format json: every line one
 *     JSON object with the README's stable keys) and text (one line per request, even when a client
 *     sends a newline or invalid UTF-8 in a path or parameter);
 *   - GET /__mock/metrics: a strict Prometheus text-format 0.0.4 parser, then counters and gauges
 *     moving by exactly what the test did (requests by api/status, faults by rule, instances by
 *     health, services, UDP push subscribers and packets, up);
 *   - --ready-file: written atomically once the port accepts connections, removed on SIGTERM;
 *   - --auth USER:PASS: Nacos's 403 texts, login on both paths, the token as query parameter, form
 *     field and Bearer header, tampered and foreign tokens, raw username/password, what stays open.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "nacos_mock/journal.h"
#include "nacos_mock/params.h"

#define JSON_CT "application/json"
#define JAVA_UA "Nacos-Java-Client:v1.4.8"

/* ------------------------------------------------------------------ servers */


/* Stops the server (a clean exit is required) and returns everything it wrote on stderr. nm_stop
 * removes the file, so it is opened first and read through the open descriptor afterwards. */
static char *stop_and_read_log(struct nm_server *s)
{
    FILE *f = fopen(s->err_path, "rb");
    assert_non_null(f);
    nm_test_untrack(s);
    int rc = nm_stop(s);
    free(s);
    char *buf = nm_read_all(f);
    size_t len = strlen(buf);
    fclose(f);
    if (rc != 0) {
        printf("nacos-mock's stderr ends:\n%s\n", len > 3000 ? buf + len - 3000 : buf);
        fail_msg("nacos-mock exited with %d after SIGTERM", rc);
    }
    return buf;
}

static void stop(struct nm_server *s)
{
    free(stop_and_read_log(s));
}


/* ------------------------------------------------------------------ HTTP helpers */

static long call(const struct nm_server *s, const char *method, const char *path, const char *body, const char *ct,
                 struct nm_resp *r)
{
    long st = nm_http(s, method, path, body, ct, NULL, r);
    if (st < 0) fail_msg("%s %s: transport error %d", method, path, r->curl_code);
    return st;
}

/* One call whose answer is only checked: status and exact body (NULL = any body). */
static void expect(const struct nm_server *s, const char *method, const char *path, const char *body, const char *ct,
                   long status, const char *want_body)
{
    struct nm_resp r;
    call(s, method, path, body, ct, &r);
    if (r.status != status || (want_body && strcmp(r.body, want_body)))
        fail_msg("%s %s -> %ld '%s', expected %ld '%s'", method, path, r.status, r.body, status,
                 want_body ? want_body : "(any)");
    nm_resp_free(&r);
}

static cJSON *call_json(const struct nm_server *s, const char *method, const char *path, const char *body,
                        long status)
{
    struct nm_resp r;
    call(s, method, path, body, body ? JSON_CT : NULL, &r);
    if (r.status != status) fail_msg("%s %s -> %ld '%s', expected %ld", method, path, r.status, r.body, status);
    cJSON *j = cJSON_Parse(r.body);
    if (!j) fail_msg("%s %s: body is not JSON: %s", method, path, r.body);
    nm_resp_free(&r);
    return j;
}

static void reg(const struct nm_server *s, const char *svc, const char *ip, int port)
{
    expect(s, "POST", nm_fmt("/nacos/v1/ns/instance?serviceName=%s&ip=%s&port=%d", svc, ip, port), NULL, NULL, 200,
           "ok");
}

static void beat(const struct nm_server *s, const char *svc, const char *ip, int port, long status)
{
    struct nm_resp r;
    call(s, "PUT", nm_fmt("/nacos/v1/ns/instance/beat?serviceName=%s&ip=%s&port=%d", svc, ip, port), NULL, NULL, &r);
    if (r.status != status) fail_msg("beat %s:%d -> %ld '%s', expected %ld", ip, port, r.status, r.body, status);
    if (status == 200 && !strstr(r.body, "\"code\":10200")) fail_msg("beat %s:%d: %s", ip, port, r.body);
    nm_resp_free(&r);
}

/* POST /__mock/clock/advance; returns the number of health changes it reports. */
static int advance(const struct nm_server *s, long ms, cJSON **changes_out)
{
    cJSON *j = call_json(s, "POST", "/__mock/clock/advance", nm_fmt("{\"ms\":%ld}", ms), 200);
    cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "changes");
    assert_true(cJSON_IsArray(ch));
    int n = cJSON_GetArraySize(ch);
    if (changes_out) *changes_out = cJSON_Duplicate(ch, 1);
    cJSON_Delete(j);
    return n;
}

static void add_fault(const struct nm_server *s, const char *rule_json)
{
    cJSON *j = call_json(s, "POST", "/__mock/faults", rule_json, 201);
    cJSON_Delete(j);
}

/* ------------------------------------------------------------------ log line helpers */

/* Splits a buffer into lines (in place); the buffer must end with '\n' (every line terminated). */
static size_t split_lines(char *buf, char ***out)
{
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    size_t len = strlen(buf);
    if (len && buf[len - 1] != '\n') fail_msg("the log does not end with a newline: ...%s", buf + (len > 200 ? len - 200 : 0));
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = p;
        p = nl + 1;
    }
    *out = v;
    return n;
}

/* "2026-01-31T12:34:56.789Z": the timestamp every line starts with. */
static bool is_timestamp(const char *s, size_t len)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (len != sizeof pat - 1) return false;
    for (size_t i = 0; i < len; i++)
        if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i]) return false;
    return true;
}

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static bool valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        int n;
        unsigned cp, min;
        if (c < 0x80) { s++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return false;
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        s += n + 1;
    }
    return true;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("'%s' is not a number", key);
    return v->valuedouble;
}

static void expect_str_or_null(const cJSON *o, const char *key, const char *line)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) && !cJSON_IsNull(v)) fail_msg("'%s' is neither a string nor null in: %s", key, line);
}

/* ------------------------------------------------------------------ 1. logs */

struct want_req {
    const char *method, *path, *api;
    int status;
    const char *service, *ip;   /* NULL: expect JSON null */
    int port;                   /* 0: expect null */
    const char *fault;
};

static void check_request_line(const cJSON *o, const char *line, const struct want_req *w)
{
    static const char *const keys[] = {"method", "path", "api"};
    for (int k = 0; k < 3; k++)
        if (!jstr(o, keys[k])) fail_msg("'%s' is not a string in: %s", keys[k], line);
    expect_str_or_null(o, "service", line);
    expect_str_or_null(o, "ip", line);
    expect_str_or_null(o, "fault", line);
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(o, "port");
    if (!cJSON_IsNumber(port) && !cJSON_IsNull(port)) fail_msg("'port' is neither a number nor null in: %s", line);
    double st = jnum(o, "status"), dur = jnum(o, "durationMs");
    if (!(dur >= 0 && dur < 5000)) fail_msg("durationMs %g out of range in: %s", dur, line);

    if (strcmp(jstr(o, "method"), w->method) || strcmp(jstr(o, "path"), w->path) || strcmp(jstr(o, "api"), w->api) ||
        st != w->status)
        fail_msg("request line %s, expected %s %s api=%s status=%d", line, w->method, w->path, w->api, w->status);
    const char *svc = jstr(o, "service"), *ip = jstr(o, "ip"), *fault = jstr(o, "fault");
    if (w->service ? !svc || strcmp(svc, w->service) : svc != NULL)
        fail_msg("service: expected %s in: %s", w->service ? w->service : "null", line);
    if (w->ip ? !ip || strcmp(ip, w->ip) : ip != NULL) fail_msg("ip: expected %s in: %s", w->ip ? w->ip : "null", line);
    if (w->port ? !cJSON_IsNumber(port) || port->valuedouble != w->port : !cJSON_IsNull(port))
        fail_msg("port: expected %d in: %s", w->port, line);
    if (w->fault ? !fault || strcmp(fault, w->fault) : fault != NULL)
        fail_msg("fault: expected %s in: %s", w->fault ? w->fault : "null", line);
}

static void test_json_logs(void **state)
{
    (void)state;
    const char *args[] = {"--log-format", "json", NULL};
    struct nm_server *s = nm_test_start(args);
    const char *svc = "obs-json";

    reg(s, svc, "10.31.0.1", 8001);                                    /* r1 */
    reg(s, svc, "10.31.0.2", 8002);                                    /* r2 */
    assert_int_equal(advance(s, 10000, NULL), 0);                      /* r3: nobody is late yet */
    beat(s, svc, "10.31.0.2", 8002, 200);                              /* r4: B beats, A does not */
    expect(s, "GET", nm_fmt("/nacos/v1/ns/instance/list?serviceName=%s", svc), NULL, NULL, 200, NULL);   /* r5 */
    add_fault(s, "{\"id\":\"obs-list-500\",\"match\":{\"api\":\"list\"},\"action\":{\"status\":500},\"times\":1}"); /* r6 */
    expect(s, "GET", nm_fmt("/nacos/v1/ns/instance/list?serviceName=%s", svc), NULL, NULL, 500,
           "caused: nacos-mock injected fault 'obs-list-500' (HTTP 500);");                               /* r7 */
    expect(s, "POST", "/nacos/v1/ns/instance?serviceName=obs-json&ip=10.31.0.3&port=abc", NULL, NULL, 400,
           "caused: Param 'port' is not a number: For input string: \"abc\";");                          /* r8 */
    cJSON *changes = NULL;
    assert_int_equal(advance(s, 6000, &changes), 1);                  /* r9: 16 s after A's registration */
    assert_string_equal(jstr(cJSON_GetArrayItem(changes, 0), "instanceId"), "10.31.0.1#8001#DEFAULT#DEFAULT_GROUP@@obs-json");
    cJSON_Delete(changes);
    /* hostile input must not break the one-JSON-object-per-line rule */
    expect(s, "POST", "/nacos/v1/ns/instance?serviceName=obs%0Ajson&ip=10.31.0.4&port=1", NULL, NULL, 400, NULL); /* r10 */
    expect(s, "POST", "/nacos/v1/ns/instance?serviceName=obs%FF%FEjson&ip=10.31.0.5&port=1", NULL, NULL, 400, NULL); /* r11 */
    expect(s, "GET", "/nacos/obs%0A%C3json", NULL, NULL, 404, NULL);  /* r12 */

    char *log = stop_and_read_log(s);
    char **lines;
    size_t n = split_lines(log, &lines);

    const struct want_req want[] = {
        {"POST", "/nacos/v1/ns/instance", "register", 200, svc, "10.31.0.1", 8001, NULL},
        {"POST", "/nacos/v1/ns/instance", "register", 200, svc, "10.31.0.2", 8002, NULL},
        {"POST", "/__mock/clock/advance", "mock.clock.advance", 200, NULL, NULL, 0, NULL},
        {"PUT", "/nacos/v1/ns/instance/beat", "beat", 200, svc, "10.31.0.2", 8002, NULL},
        {"GET", "/nacos/v1/ns/instance/list", "list", 200, svc, NULL, 0, NULL},
        {"POST", "/__mock/faults", "mock.faults", 201, NULL, NULL, 0, NULL},
        {"GET", "/nacos/v1/ns/instance/list", "list", 500, svc, NULL, 0, "obs-list-500"},
        {"POST", "/nacos/v1/ns/instance", "register", 400, svc, "10.31.0.3", 0, NULL},
        {"POST", "/__mock/clock/advance", "mock.clock.advance", 200, NULL, NULL, 0, NULL},
        {"POST", "/nacos/v1/ns/instance", "register", 400, "obs\njson", "10.31.0.4", 1, NULL},
    };
    const size_t n_want = sizeof want / sizeof want[0];
    size_t n_req = 0, n_health = 0, n_msg = 0;
    for (size_t i = 0; i < n; i++) {
        const char *line = lines[i];
        if (!valid_utf8(line)) fail_msg("line %zu is not valid UTF-8: %s", i + 1, line);
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) fail_msg("line %zu is not a JSON object: %s", i + 1, line);
        const char *t = jstr(o, "time"), *level = jstr(o, "level"), *event = jstr(o, "event");
        if (!t || !level || !event) fail_msg("line %zu lacks string time/level/event: %s", i + 1, line);
        if (!is_timestamp(t, strlen(t))) fail_msg("line %zu: time '%s' is not YYYY-MM-DDTHH:MM:SS.mmmZ", i + 1, t);
        if (strcmp(level, "debug") && strcmp(level, "info") && strcmp(level, "warn") && strcmp(level, "error"))
            fail_msg("line %zu: level '%s'", i + 1, level);
        if (!strcmp(event, "request")) {
            assert_string_equal(level, "info");
            if (n_req < n_want) check_request_line(o, line, &want[n_req]);
            if (n_req == 10) {   /* invalid UTF-8 is made visible, not copied raw */
                const char *sv = jstr(o, "service");
                if (!sv || strncmp(sv, "obs", 3) || !strstr(sv, "json")) fail_msg("service of r11: %s", line);
            }
            if (n_req == 11) {
                assert_string_equal(jstr(o, "api"), "");
                assert_true(strncmp(jstr(o, "path"), "/nacos/obs\n", 11) == 0);
            }
            n_req++;
        } else if (!strcmp(event, "health")) {
            assert_string_equal(level, "info");
            static const char *const keys[] = {"instanceId", "namespaceId", "service", "from", "to"};
            for (int k = 0; k < 5; k++)
                if (!jstr(o, keys[k])) fail_msg("health line lacks string '%s': %s", keys[k], line);
            assert_string_equal(jstr(o, "instanceId"), "10.31.0.1#8001#DEFAULT#DEFAULT_GROUP@@obs-json");
            assert_string_equal(jstr(o, "namespaceId"), "public");
            assert_string_equal(jstr(o, "service"), "DEFAULT_GROUP@@obs-json");
            assert_string_equal(jstr(o, "from"), "HEALTHY");
            assert_string_equal(jstr(o, "to"), "UNHEALTHY");
            double since = jnum(o, "sinceLastBeatMs");
            if (!(since >= 16000 && since < 16000 + 8000)) fail_msg("sinceLastBeatMs %g: %s", since, line);
            /* logged while the second advance runs, i.e. between its neighbours' request lines */
            assert_int_equal(n_req, 8);
            n_health++;
        } else if (!strcmp(event, "message")) {
            if (!jstr(o, "msg")) fail_msg("message line without msg: %s", line);
            if (i == 0 && !strstr(jstr(o, "msg"), "listening on http://127.0.0.1:"))
                fail_msg("first line is not the start-up message: %s", line);
            if (i == n - 1) assert_string_equal(jstr(o, "msg"), "stopping");
            n_msg++;
        } else {
            fail_msg("line %zu: unknown event '%s'", i + 1, event);
        }
        cJSON_Delete(o);
    }
    assert_int_equal(n_req, 12);
    assert_int_equal(n_health, 1);
    assert_int_equal(n_msg, 2);
    assert_int_equal(n, 15);
    free(lines);
    free(log);
}

/* The text after a text line's 24-character timestamp starts with `want`. */
static bool after_ts(const char *line, const char *want)
{
    return strlen(line) > 24 && !strncmp(line + 24, want, strlen(want));
}

static void test_text_logs(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    reg(s, "obs-text", "10.32.0.1", 8080);
    expect(s, "GET", "/nacos/v1/ns/instance/list?serviceName=obs-text", NULL, NULL, 200, NULL);
    beat(s, "obs-text", "10.32.0.1", 8080, 200);
    /* a newline in a parameter or the path must not start a line of its own (no forged lines) */
    expect(s, "POST",
           "/nacos/v1/ns/instance?serviceName=x%0A2026-01-01T00:00:00.000Z%20info%20POST%20/nacos/v1/ns/instance"
           "%20api=register%20status=200&ip=10.32.0.9&port=1",
           NULL, NULL, 400, NULL);
    expect(s, "GET", "/nacos/foo%0D%0A2026-01-01T00:00:00.000Z%20info%20bar", NULL, NULL, 404, NULL);
    expect(s, "POST", "/nacos/v1/ns/instance?serviceName=x%FF&ip=10.32.0.9&port=1", NULL, NULL, 400, NULL);
    assert_int_equal(advance(s, 16000, NULL), 1);

    char *log = stop_and_read_log(s), *whole = strdup(log);
    char **lines;
    size_t n = split_lines(log, &lines);
    /* start-up, 7 requests, 1 transition, stopping */
    if (n != 10) fail_msg("%zu lines, expected 10:\n%s", n, whole);
    free(whole);
    size_t reg_ok = 0;
    for (size_t i = 0; i < n; i++) {
        const char *l = lines[i];
        if (!is_timestamp(l, 24) || strncmp(l + 24, " info ", 6)) fail_msg("line %zu does not start with a timestamp and level: %s", i + 1, l);
        if (!valid_utf8(l)) fail_msg("line %zu is not valid UTF-8: %s", i + 1, l);
        for (const char *c = l; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                fail_msg("line %zu has control byte 0x%02x: %s", i + 1, (unsigned)(unsigned char)*c, l);
        /* the request's own fields come right after the timestamp; a client's text only later */
        if (after_ts(l, " info POST /nacos/v1/ns/instance api=register status=200 ")) {
            reg_ok++;
            if (!strstr(l, "ms service=obs-text instance=10.32.0.1:8080") || strchr(l, '\\'))
                fail_msg("register line: %s", l);
        }
    }
    assert_int_equal(reg_ok, 1);
    assert_non_null(strstr(lines[2], " GET /nacos/v1/ns/instance/list api=list status=200 "));
    assert_non_null(strstr(lines[3], " PUT /nacos/v1/ns/instance/beat api=beat status=200 "));
    assert_true(after_ts(lines[4], " info POST /nacos/v1/ns/instance api=register status=400 "));
    assert_non_null(strstr(lines[4], " service=x\\x0a2026-01-01T00:00:00.000Z info POST "));
    assert_true(after_ts(lines[5], " info GET /nacos/foo\\x0d\\x0a2026-01-01T00:00:00.000Z info bar api=- status=404 "));
    assert_non_null(strstr(lines[6], " api=register status=400 "));
    assert_non_null(strstr(lines[6], " service=x\\xff instance=10.32.0.9:1"));
    assert_non_null(strstr(lines[7], " health HEALTHY -> UNHEALTHY instance=10.32.0.1#8080#DEFAULT#DEFAULT_GROUP@@obs-text "));
    assert_non_null(strstr(lines[8], " POST /__mock/clock/advance api=mock.clock.advance status=200 "));
    assert_non_null(strstr(lines[9], " info stopping"));
    free(lines);
    free(log);
}

/* ------------------------------------------------------------------ 2. Prometheus */

#define PROM_MAX_LABELS 8

struct prom_sample {
    char name[128];
    int nl;
    char lk[PROM_MAX_LABELS][64];
    char lv[PROM_MAX_LABELS][256];
    double v;
    int family;
};

struct prom {
    struct prom_sample *s;
    size_t n, cap;
    char fam[64][128];
    char type[64][16];
    bool helped[64];
    size_t nf;
    char help[64][128];
    size_t nh;
};

static bool metric_name_ok(const char *s, size_t len)
{
    if (!len) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

static size_t name_span(const char *s, bool metric)
{
    size_t i = 0;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' || (metric && s[i] == ':') ||
           (i > 0 && s[i] >= '0' && s[i] <= '9'))
        i++;
    return i;
}

/* A sample value (or an le bound): a float, +Inf, -Inf or NaN; false when it is none of those. */
static bool parse_value(const char *tok, double *v)
{
    if (!strcmp(tok, "+Inf")) *v = INFINITY;
    else if (!strcmp(tok, "-Inf")) *v = -INFINITY;
    else if (!strcmp(tok, "NaN")) *v = NAN;
    else {
        if (!*tok || strspn(tok, "0123456789.eE+-") != strlen(tok)) return false;
        char *end;
        errno = 0;
        *v = strtod(tok, &end);
        if (*end || errno) return false;
    }
    return true;
}

static int find_family(const struct prom *p, const char *name)
{
    for (size_t i = 0; i < p->nf; i++)
        if (!strcmp(p->fam[i], name)) return (int)i;
    return -1;
}

static bool has_suffix(const char *s, const char *fam, const char *suffix)
{
    size_t fl = strlen(fam);
    return !strncmp(s, fam, fl) && !strcmp(s + fl, suffix);
}

static const char *label_of(const struct prom_sample *x, const char *k)
{
    for (int i = 0; i < x->nl; i++)
        if (!strcmp(x->lk[i], k)) return x->lv[i];
    return NULL;
}

/* The label set as a canonical string, without `skip` (le for histogram grouping). */
static void label_key(const struct prom_sample *x, const char *skip, char *out, size_t outlen)
{
    int idx[PROM_MAX_LABELS], n = 0;
    for (int i = 0; i < x->nl; i++)
        if (!skip || strcmp(x->lk[i], skip)) idx[n++] = i;
    for (int i = 1; i < n; i++)   /* insertion sort by label name */
        for (int j = i; j > 0 && strcmp(x->lk[idx[j - 1]], x->lk[idx[j]]) > 0; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%s=\"%s\";", x->lk[idx[i]], x->lv[idx[i]]);
}

static void prom_free(struct prom *p)
{
    if (!p) return;
    free(p->s);
    free(p);
}

static char g_prom_err[8192];
#define PERR(...)                                                   \
    do {                                                            \
        snprintf(g_prom_err, sizeof g_prom_err, __VA_ARGS__);       \
        goto bad;                                                   \
    } while (0)

/* Strict text exposition format 0.0.4 as the brief states it: NULL on any deviation, with the reason
 * in g_prom_err. */
static struct prom *prom_parse(const char *text)
{
    struct prom *p = calloc(1, sizeof *p);
    char *copy = NULL;
    size_t len = strlen(text);
    if (!len || text[len - 1] != '\n') PERR("exposition does not end with a newline");
    copy = strdup(text);
    char *save = NULL;
    int lineno = 0, cur = -1;
    for (char *line = copy; line && *line; line = save) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        save = nl + 1;
        lineno++;
        if (!*line) PERR("line %d is empty", lineno);
        if (line[0] == '#') {
            bool help = !strncmp(line, "# HELP ", 7), type = !strncmp(line, "# TYPE ", 7);
            if (!help && !type) PERR("line %d: a comment that is neither HELP nor TYPE: %s", lineno, line);
            const char *nm = line + 7;
            size_t l = name_span(nm, true);
            if (!metric_name_ok(nm, l) || nm[l] != ' ') PERR("line %d: bad metric name: %s", lineno, line);
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)l, nm);
            const char *rest = nm + l + 1;
            if (help) {
                for (size_t i = 0; i < p->nh; i++)
                    if (!strcmp(p->help[i], name)) PERR("line %d: second HELP for %s", lineno, name);
                for (const char *c = rest; *c; c++)
                    if (*c == '\\' && (c[1] != '\\' && c[1] != 'n')) PERR("line %d: bad escape in HELP: %s", lineno, line);
                    else if (*c == '\\') c++;
                if (p->nh == 64) PERR("too many HELP lines");
                snprintf(p->help[p->nh++], sizeof p->help[0], "%s", name);
            } else {
                if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram"))
                    PERR("line %d: type '%s' is not counter|gauge|histogram", lineno, rest);
                if (find_family(p, name) >= 0) PERR("line %d: second TYPE for %s", lineno, name);
                if (p->nf == 64) PERR("too many families");
                snprintf(p->fam[p->nf], sizeof p->fam[0], "%s", name);
                snprintf(p->type[p->nf], sizeof p->type[0], "%s", rest);
                cur = (int)p->nf++;
            }
            continue;
        }
        struct prom_sample x;
        memset(&x, 0, sizeof x);
        size_t l = name_span(line, true);
        if (!metric_name_ok(line, l) || l >= sizeof x.name) PERR("line %d: bad metric name: %s", lineno, line);
        memcpy(x.name, line, l);
        const char *c = line + l;
        if (*c == '{') {
            c++;
            if (*c != '}')
                for (;;) {
                    size_t ll = name_span(c, false);
                    if (!ll || c[ll] != '=' || c[ll + 1] != '"') PERR("line %d: bad label at '%s'", lineno, c);
                    if (x.nl == PROM_MAX_LABELS || ll >= sizeof x.lk[0]) PERR("line %d: too many/long labels", lineno);
                    memcpy(x.lk[x.nl], c, ll);
                    if (!strncmp(x.lk[x.nl], "__", 2)) PERR("line %d: reserved label name %s", lineno, x.lk[x.nl]);
                    for (int i = 0; i < x.nl; i++)
                        if (!strcmp(x.lk[i], x.lk[x.nl])) PERR("line %d: duplicate label %s", lineno, x.lk[i]);
                    c += ll + 2;
                    size_t o = 0;
                    for (; *c != '"'; c++) {
                        if (!*c) PERR("line %d: unterminated label value", lineno);
                        char ch = *c;
                        if (ch == '\\') {
                            c++;
                            if (*c == '\\' || *c == '"') ch = *c;
                            else if (*c == 'n') ch = '\n';
                            else PERR("line %d: bad escape \\%c in a label value", lineno, *c ? *c : '0');
                        }
                        if (o + 1 >= sizeof x.lv[0]) PERR("line %d: label value too long", lineno);
                        x.lv[x.nl][o++] = ch;
                    }
                    x.nl++;
                    c++;
                    if (*c == '}') break;
                    if (*c != ',' || c[1] == '}') PERR("line %d: expected ',' between labels at '%s'", lineno, c);
                    c++;
                }
            c++;   /* past '}' */
        }
        if (*c != ' ' || c[1] == ' ') PERR("line %d: expected one space before the value: %s", lineno, line);
        if (!parse_value(c + 1, &x.v)) PERR("line %d: bad value '%s': %s", lineno, c + 1, line);
        /* the sample's family: the one most recently declared by TYPE */
        if (cur < 0) PERR("line %d: sample before any TYPE: %s", lineno, line);
        const char *fam = p->fam[cur], *type = p->type[cur];
        bool ok;
        if (!strcmp(type, "histogram")) {
            ok = has_suffix(x.name, fam, "_bucket") || has_suffix(x.name, fam, "_sum") || has_suffix(x.name, fam, "_count");
            bool bucket = has_suffix(x.name, fam, "_bucket");
            if (ok && bucket != (label_of(&x, "le") != NULL)) PERR("line %d: 'le' belongs on buckets only: %s", lineno, line);
        } else {
            ok = !strcmp(x.name, fam);
            if (ok && !strcmp(type, "counter") && !(x.v >= 0)) PERR("line %d: negative counter: %s", lineno, line);
        }
        if (!ok) PERR("line %d: sample %s is not of the family %s (%s) declared last", lineno, x.name, fam, type);
        x.family = cur;
        char k1[2048], k2[2048];
        label_key(&x, NULL, k1, sizeof k1);
        for (size_t i = 0; i < p->n; i++) {
            if (strcmp(p->s[i].name, x.name)) continue;
            label_key(&p->s[i], NULL, k2, sizeof k2);
            if (!strcmp(k1, k2)) PERR("line %d: duplicate series %s{%s}", lineno, x.name, k1);
        }
        if (p->n == p->cap) p->s = realloc(p->s, (p->cap = p->cap ? p->cap * 2 : 64) * sizeof *p->s);
        p->s[p->n++] = x;
    }
    free(copy);
    copy = NULL;
    for (size_t i = 0; i < p->nh; i++)
        if (find_family(p, p->help[i]) < 0) PERR("HELP for %s, which has no TYPE", p->help[i]);

    /* histograms: per label set, buckets with increasing le, cumulative counts, +Inf last == _count */
    for (size_t f = 0; f < p->nf; f++) {
        if (strcmp(p->type[f], "histogram")) continue;
        char bucket[140], sum[140], count[140];
        snprintf(bucket, sizeof bucket, "%s_bucket", p->fam[f]);
        snprintf(sum, sizeof sum, "%s_sum", p->fam[f]);
        snprintf(count, sizeof count, "%s_count", p->fam[f]);
        for (size_t i = 0; i < p->n; i++) {
            if (strcmp(p->s[i].name, count)) continue;
            char key[2048], k[2048];
            label_key(&p->s[i], NULL, key, sizeof key);
            double prev_le = -INFINITY, prev_v = 0, last_le = 0, last_v = -1;
            int nb = 0;
            bool have_sum = false;
            for (size_t j = 0; j < p->n; j++) {
                const struct prom_sample *b = &p->s[j];
                if (!strcmp(b->name, sum)) {
                    label_key(b, NULL, k, sizeof k);
                    if (!strcmp(k, key)) have_sum = true;
                    continue;
                }
                if (strcmp(b->name, bucket)) continue;
                label_key(b, "le", k, sizeof k);
                if (strcmp(k, key)) continue;
                const char *les = label_of(b, "le");
                double le;
                if (!parse_value(les, &le)) PERR("%s{%s}: le=\"%s\" is not a number", bucket, key, les);
                if (!(le > prev_le)) PERR("%s{%s}: le=%s after le=%g", bucket, key, les, prev_le);
                if (b->v < prev_v) PERR("%s{%s}: le=%s count %g below the previous %g (not cumulative)", bucket,
                                            key, les, b->v, prev_v);
                prev_le = le;
                prev_v = b->v;
                last_le = le;
                last_v = b->v;
                nb++;
            }
            if (!nb || last_le != INFINITY) PERR("%s{%s}: the buckets do not end with le=\"+Inf\"", bucket, key);
            if (last_v != p->s[i].v) PERR("%s{%s}: +Inf bucket %g != _count %g", bucket, key, last_v, p->s[i].v);
            if (!have_sum) PERR("%s{%s}: no _sum", p->fam[f], key);
        }
        /* and every bucket group has its _count */
        for (size_t j = 0; j < p->n; j++) {
            if (strcmp(p->s[j].name, bucket)) continue;
            char key[2048], k[2048];
            label_key(&p->s[j], "le", key, sizeof key);
            bool found = false;
            for (size_t i = 0; i < p->n && !found; i++) {
                if (strcmp(p->s[i].name, count)) continue;
                label_key(&p->s[i], NULL, k, sizeof k);
                found = !strcmp(k, key);
            }
            if (!found) PERR("%s{%s}: buckets without _count", bucket, key);
        }
    }
    return p;
bad:
    free(copy);
    prom_free(p);
    return NULL;
}
#undef PERR

/* The value of name{k1="v1",...} (exactly that label set; NULL-terminated k, v pairs); NAN if absent. */
static double prom_get(const struct prom *p, const char *name, ...)
{
    struct prom_sample q;
    memset(&q, 0, sizeof q);
    va_list ap;
    va_start(ap, name);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL && q.nl < PROM_MAX_LABELS; q.nl++) {
        snprintf(q.lk[q.nl], sizeof q.lk[0], "%s", k);
        snprintf(q.lv[q.nl], sizeof q.lv[0], "%s", va_arg(ap, const char *));
    }
    va_end(ap);
    char want[2048], k[2048];
    label_key(&q, NULL, want, sizeof want);
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->s[i].name, name)) continue;
        label_key(&p->s[i], NULL, k, sizeof k);
        if (!strcmp(k, want)) return p->s[i].v;
    }
    return NAN;
}

static double zero_if_absent(double v) { return isnan(v) ? 0 : v; }

static const char *family_type(const struct prom *p, const char *name)
{
    int f = find_family(p, name);
    return f < 0 ? "(none)" : p->type[f];
}

static struct prom *scrape(const struct nm_server *s)
{
    struct nm_resp r;
    call(s, "GET", "/__mock/metrics", NULL, NULL, &r);
    if (r.status != 200) fail_msg("GET /__mock/metrics -> %ld %s", r.status, r.body);
    if (strncmp(r.content_type, "text/plain; version=0.0.4", 25))
        fail_msg("metrics content type '%s'", r.content_type);
    struct prom *p = prom_parse(r.body);
    if (!p) fail_msg("GET /__mock/metrics is not valid exposition text: %s", g_prom_err);
    nm_resp_free(&r);
    return p;
}

/* The parser itself must reject what the format forbids (so a pass means something). */
static void test_prom_parser_rejects(void **state)
{
    (void)state;
    static const char good[] = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 3\n"
                               "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n";
    struct prom *p = prom_parse(good);
    if (!p) fail_msg("the parser rejected good input: %s", g_prom_err);
    assert_true(prom_get(p, "a_total", "x", "q\"\\\n", NULL) == 3);
    assert_true(prom_get(p, "h_count", NULL) == 2);
    assert_true(isnan(prom_get(p, "a_total", NULL)));
    prom_free(p);
    static const char *const bad[] = {
        "a 1\n",                                                          /* no TYPE */
        "# TYPE a counter\na 1",                                          /* no final newline */
        "# TYPE a counter\nb 1\n",                                        /* not the declared family */
        "# TYPE a summary\na 1\n",                                        /* type */
        "# TYPE a counter\na{x=\"\\q\"} 1\n",                             /* bad escape */
        "# TYPE a counter\na{x=\"1\",} 1\n",                              /* trailing comma */
        "# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n",                       /* duplicate label */
        "# TYPE a counter\na{x=\"1\"\n",                                  /* unterminated */
        "# TYPE a counter\na 1 123\n",                                    /* timestamp / extra token */
        "# TYPE a counter\na one\n",                                      /* value */
        "# TYPE a counter\na -1\n",                                       /* negative counter */
        "# TYPE 1a counter\n1a 1\n",                                      /* name */
        "# TYPE a counter\n# a comment\na 1\n",                           /* other comment */
        "# TYPE a counter\n\na 1\n",                                      /* empty line */
        "# TYPE a counter\na 1\na 2\n",                                   /* duplicate series */
        "# TYPE a counter\n# TYPE b gauge\nb 1\na 1\n",                  /* family not grouped */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /* not cumulative */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",                         /* no +Inf */
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",                      /* +Inf != count */
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",                              /* no _sum */
        "# TYPE h histogram\nh 1\n",                                                             /* bare name */
        "# HELP b B.\n# TYPE a counter\na 1\n",                          /* orphan HELP */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = prom_parse(bad[i]);
        if (p) fail_msg("the parser accepted bad input %zu: %s", i, bad[i]);
    }
}

static int registry_healthy(const struct nm_server *s, int *unhealthy)
{
    cJSON *j = call_json(s, "GET", "/__mock/registry", NULL, 200);
    int h = 0, u = 0;
    const cJSON *ns, *sv, *in;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(j, "namespaces"))
        cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(ns, "services"))
            cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(sv, "instances"))
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "healthy"))) h++;
                else u++;
    cJSON_Delete(j);
    *unhealthy = u;
    return h;
}

static void test_metrics(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct prom *m = scrape(s);
    /* every family the README lists, with its type */
    static const char *const fams[][2] = {
        {"nacos_mock_requests_total", "counter"},        {"nacos_mock_request_duration_seconds", "histogram"},
        {"nacos_mock_faults_injected_total", "counter"}, {"nacos_mock_instances", "gauge"},
        {"nacos_mock_services", "gauge"},                {"nacos_mock_sweeps_total", "counter"},
        {"nacos_mock_sweep_duration_seconds", "gauge"},  {"nacos_mock_push_subscribers", "gauge"},
        {"nacos_mock_pushes_total", "counter"},          {"nacos_mock_up", "gauge"},
        {"nacos_mock_uptime_seconds", "gauge"},          {"nacos_mock_grpc_connections", "gauge"},
        {"nacos_mock_grpc_subscribers", "gauge"},        {"nacos_mock_grpc_pushes_total", "counter"},
    };
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++)
        if (strcmp(family_type(m, fams[i][0]), fams[i][1]))
            fail_msg("%s has type %s, expected %s", fams[i][0], family_type(m, fams[i][0]), fams[i][1]);
    assert_true(prom_get(m, "nacos_mock_up", NULL) == 1);
    assert_true(prom_get(m, "nacos_mock_services", NULL) == 0);
    assert_true(prom_get(m, "nacos_mock_instances", "health", "healthy", NULL) == 0);
    assert_true(prom_get(m, "nacos_mock_instances", "health", "unhealthy", NULL) == 0);
    assert_true(prom_get(m, "nacos_mock_push_subscribers", NULL) == 0);
    assert_true(prom_get(m, "nacos_mock_uptime_seconds", NULL) >= 0);
    assert_true(prom_get(m, "nacos_mock_sweeps_total", NULL) >= 0);
    static const char *const results[] = {"sent", "acked", "resent", "failed", "dropped"};
    for (int i = 0; i < 5; i++) assert_true(prom_get(m, "nacos_mock_pushes_total", "result", results[i], NULL) == 0);
    double reg0 = zero_if_absent(prom_get(m, "nacos_mock_requests_total", "api", "register", "status", "200", "transport", "http", NULL));
    double bad0 = zero_if_absent(prom_get(m, "nacos_mock_requests_total", "api", "register", "status", "400", "transport", "http", NULL));
    prom_free(m);

    /* requests by api and status; control-plane calls are not counted */
    reg(s, "obs-m", "10.33.0.1", 8080);
    reg(s, "obs-m", "10.33.0.2", 8080);
    reg(s, "obs-m", "10.33.0.3", 8080);
    expect(s, "POST", "/nacos/v1/ns/instance?serviceName=obs-m&ip=10.33.0.4&port=abc", NULL, NULL, 400, NULL);
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_requests_total", "api", "register", "status", "200", "transport", "http", NULL) == reg0 + 3);
    assert_true(prom_get(m, "nacos_mock_requests_total", "api", "register", "status", "400", "transport", "http", NULL) == bad0 + 1);
    assert_true(prom_get(m, "nacos_mock_request_duration_seconds_count", "api", "register", NULL) == reg0 + bad0 + 4);
    assert_true(isnan(prom_get(m, "nacos_mock_requests_total", "api", "mock.metrics", "status", "200", "transport", "http", NULL)));
    assert_true(prom_get(m, "nacos_mock_services", NULL) == 1);
    assert_true(prom_get(m, "nacos_mock_instances", "health", "healthy", NULL) == 3);
    assert_true(isnan(prom_get(m, "nacos_mock_faults_injected_total", "rule", "obs-beat-503", NULL)));
    prom_free(m);

    /* faults by rule: the first matching beat passes (after 1), the next two are injected (times 2) */
    assert_int_equal(advance(s, 10000, NULL), 0);
    add_fault(s, "{\"id\":\"obs-beat-503\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":503},\"after\":1,\"times\":2}");
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_faults_injected_total", "rule", "obs-beat-503", NULL) == 0);
    prom_free(m);
    beat(s, "obs-m", "10.33.0.1", 8080, 200);
    beat(s, "obs-m", "10.33.0.1", 8080, 503);
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_faults_injected_total", "rule", "obs-beat-503", NULL) == 1);
    prom_free(m);
    beat(s, "obs-m", "10.33.0.1", 8080, 503);
    beat(s, "obs-m", "10.33.0.1", 8080, 200);
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_faults_injected_total", "rule", "obs-beat-503", NULL) == 2);
    assert_true(prom_get(m, "nacos_mock_requests_total", "api", "beat", "status", "503", "transport", "http", NULL) == 2);
    assert_true(prom_get(m, "nacos_mock_requests_total", "api", "beat", "status", "200", "transport", "http", NULL) == 2);
    prom_free(m);

    /* instances by health: .1 beat 10 s after the others registered; 6 s later .2 and .3 are late */
    assert_int_equal(advance(s, 6000, NULL), 2);
    int unhealthy = 0, healthy = registry_healthy(s, &unhealthy);
    assert_int_equal(healthy, 1);
    assert_int_equal(unhealthy, 2);
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_instances", "health", "healthy", NULL) == healthy);
    assert_true(prom_get(m, "nacos_mock_instances", "health", "unhealthy", NULL) == unhealthy);
    assert_true(prom_get(m, "nacos_mock_sweeps_total", NULL) >= 0);
    prom_free(m);

    /* push subscribers: a Java client's list with udpPort subscribes; a change pushes to it */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    int udp_port = ntohs(a.sin_port);
    struct nm_resp r;
    nm_http(s, "GET", nm_fmt("/nacos/v1/ns/instance/list?serviceName=obs-m&udpPort=%d", udp_port), NULL, NULL, JAVA_UA, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"cacheMillis\":10000"));
    nm_resp_free(&r);
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_push_subscribers", NULL) == 1);
    prom_free(m);
    reg(s, "obs-m", "10.33.0.5", 8080);
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int packets = 0;
    char buf[65536];
    if (poll(&pf, 1, 3000) != 1) fail_msg("no UDP push within 3 s of a change");
    do {
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        assert_true(got > 0);
        packets++;
    } while (poll(&pf, 1, 300) == 1);   /* anything else the change caused */
    close(fd);
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_pushes_total", "result", "sent", NULL) == packets);
    assert_true(prom_get(m, "nacos_mock_pushes_total", "result", "failed", NULL) == 0);
    assert_true(prom_get(m, "nacos_mock_instances", "health", "healthy", NULL) == 2);
    prom_free(m);

    /* up: 0 while DOWN (naming calls then answer 503, counted as such), 1 again when UP */
    expect(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}", JSON_CT, 200, NULL);
    expect(s, "POST", "/nacos/v1/ns/instance?serviceName=obs-m&ip=10.33.0.6&port=8080", NULL, NULL, 503,
           "server is DOWN now, please try again later!");
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_up", NULL) == 0);
    assert_true(prom_get(m, "nacos_mock_requests_total", "api", "register", "status", "503", "transport", "http", NULL) == 1);
    prom_free(m);
    expect(s, "PUT", "/__mock/status", "{\"status\":\"UP\"}", JSON_CT, 200, NULL);
    m = scrape(s);
    assert_true(prom_get(m, "nacos_mock_up", NULL) == 1);
    assert_true(prom_get(m, "nacos_mock_requests_total", "api", "register", "status", "200", "transport", "http", NULL) == reg0 + 4);
    prom_free(m);
    stop(s);
}

/* ------------------------------------------------------------------ 3. --ready-file */

/* Whole file into buf; -1 if absent. */
static ssize_t read_whole(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) fail_msg("open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)k;
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

static pid_t spawn_server(const char *const *extra, const char *out_path)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = NACOS_MOCK_BIN;
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    for (int i = 0; extra[i] && n < 30; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Entries of dir other than the names listed (NULL-terminated). */
static int other_entries(const char *dir, const char *const *keep, char *first, size_t flen)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        bool kept = false;
        for (int i = 0; keep[i]; i++) kept |= !strcmp(e->d_name, keep[i]);
        if (kept) continue;
        if (!n) snprintf(first, flen, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static pid_t g_child;

/* Waits up to 10 s for g_child to exit; its wait status. */
static int wait_child(void)
{
    int st = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(g_child, &st, WNOHANG);
        if (r == g_child) {
            g_child = 0;
            return st;
        }
        assert_int_equal(r, 0);
        usleep(10000);
    }
    fail_msg("nacos-mock (pid %d) still running 10 s later", (int)g_child);
    return -1;
}

static int teardown_child(void **state)
{
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        waitpid(g_child, NULL, 0);
        g_child = 0;
    }
    return nm_test_teardown(state);
}

static void test_ready_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/nm-obs-ready-XXXXXX", out[] = "/tmp/nm-obs-ready-out-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int ofd = mkstemp(out);
    assert_true(ofd >= 0);
    close(ofd);
    char ready[256];
    snprintf(ready, sizeof ready, "%s/ready", dir);
    const char *args[] = {"--port", "0", "--ready-file", ready, NULL};
    g_child = spawn_server(args, out);

    char buf[512], first[512];
    int64_t deadline = nm_mono_ms() + 10000;
    ssize_t n;
    while ((n = read_whole(ready, buf, sizeof buf)) < 0) {
        int st;
        if (waitpid(g_child, &st, WNOHANG) == g_child) {
            g_child = 0;
            fail_msg("nacos-mock exited (status 0x%x) before writing the ready file", st);
        }
        if (nm_mono_ms() > deadline) fail_msg("no ready file after 10 s");
        usleep(1000);
    }
    /* the moment it exists: the whole URL, and the port accepts a connection */
    int port = 0, consumed = 0;
    if (sscanf(buf, "http://127.0.0.1:%d\n%n", &port, &consumed) != 1 || consumed != n || port <= 0 || port > 65535 ||
        strcmp(buf, nm_fmt("http://127.0.0.1:%d\n", port)))
        fail_msg("ready file holds '%s' (%zd bytes)", buf, n);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) fail_msg("connect to port %d right after the ready file: %s", port, strerror(errno));
    close(fd);
    snprintf(first, sizeof first, "%s", buf);
    /* never partial, never changing */
    for (int i = 0; i < 2000; i++) {
        n = read_whole(ready, buf, sizeof buf);
        if (n < 0 || strcmp(buf, first)) fail_msg("read %d of the ready file: '%s', first '%s'", i, n < 0 ? "(gone)" : buf, first);
    }
    char stray[256] = "";
    const char *keep[] = {"ready", NULL};
    if (other_entries(dir, keep, stray, sizeof stray)) fail_msg("ready-file directory holds '%s' too", stray);
    /* it is the server the harness talks to */
    struct nm_server view = {.pid = 0, .port = port};
    snprintf(view.base, sizeof view.base, "http://127.0.0.1:%d", port);
    expect(&view, "GET", "/nacos/v1/console/health/liveness", NULL, NULL, 200, "OK");

    char log[8192];
    const char *want = nm_fmt("\nnacos-mock listening on http://127.0.0.1:%d\n", port);   /* a line of its own */
    if (read_whole(out, log, sizeof log) < 0 || (strncmp(log, want + 1, strlen(want + 1)) && !strstr(log, want)))
        fail_msg("stdout lacks the listening line of port %d:\n%s", port, log);

    kill(g_child, SIGTERM);
    int st = wait_child();
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(access(ready, F_OK), -1);
    const char *none[] = {NULL};
    if (other_entries(dir, none, stray, sizeof stray)) fail_msg("after the stop the directory still holds '%s'", stray);

    /* a server that cannot listen writes no ready file and fails */
    int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(busy, (struct sockaddr *)&b, sizeof b), 0);
    assert_int_equal(listen(busy, 1), 0);
    socklen_t bl = sizeof b;
    assert_int_equal(getsockname(busy, (struct sockaddr *)&b, &bl), 0);
    const char *args2[] = {"--port", nm_fmt("%d", ntohs(b.sin_port)), "--ready-file", ready, NULL};
    g_child = spawn_server(args2, out);
    st = wait_child();
    close(busy);
    assert_true(WIFEXITED(st));
    assert_true(WEXITSTATUS(st) != 0);
    assert_int_equal(access(ready, F_OK), -1);
    if (other_entries(dir, none, stray, sizeof stray)) fail_msg("a failed start left '%s'", stray);
    rmdir(dir);
    unlink(out);
}

/* ------------------------------------------------------------------ 4. --auth */

static void expect_403(const struct nm_server *s, const char *method, const char *path, const char *body,
                       const char *const *headers, const char *text)
{
    struct nm_resp r;
    nm_http_h(s, method, path, body, NULL, NULL, headers, &r);
    if (r.status != 403 || strcmp(r.body, text))
        fail_msg("%s %s -> %ld '%s', expected 403 '%s'", method, path, r.status, r.body, text);
    nm_resp_free(&r);
}

static void expect_200(const struct nm_server *s, const char *method, const char *path, const char *body,
                       const char *const *headers)
{
    struct nm_resp r;
    nm_http_h(s, method, path, body, NULL, NULL, headers, &r);
    if (r.status != 200) fail_msg("%s %s -> %ld '%s', expected 200", method, path, r.status, r.body);
    nm_resp_free(&r);
}

/* Logs in; checks the answer's shape and header; returns the token (static buffer per call site). */
static void login(const struct nm_server *s, const char *path, const char *user, const char *pass, bool in_query,
                  char *token, size_t tlen)
{
    struct nm_resp r;
    const char *cred = nm_fmt("username=%s&password=%s", nm_enc(user), nm_enc(pass));
    if (in_query) nm_http(s, "POST", nm_fmt("%s?%s", path, cred), NULL, NULL, NULL, &r);
    else nm_http(s, "POST", path, cred, NULL, NULL, &r);
    if (r.status != 200) fail_msg("login %s as %s -> %ld '%s'", path, user, r.status, r.body);
    assert_true(strncmp(r.content_type, "application/json", 16) == 0);
    cJSON *j = cJSON_Parse(r.body);
    assert_non_null(j);
    const char *tok = jstr(j, "accessToken");
    assert_non_null(tok);
    assert_true(strncmp(tok, "eyJhbGciOiJIUzI1NiJ9.", 21) == 0);
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(j, "tokenTtl");
    assert_true(cJSON_IsNumber(ttl));
    assert_true(ttl->valuedouble == 18000);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "globalAdmin")));
    assert_string_equal(jstr(j, "username"), user);
    assert_string_equal(r.authorization, nm_fmt("Bearer %s", tok));
    snprintf(token, tlen, "%s", tok);
    cJSON_Delete(j);
    nm_resp_free(&r);
}

static int registry_instances(const struct nm_server *s)
{
    int u = 0, h = registry_healthy(s, &u);
    return h + u;
}

static void test_auth(void **state)
{
    (void)state;
    const char *args[] = {"--auth", "nacos:secret", NULL};
    struct nm_server *s = nm_test_start(args);
    const char *list = "/nacos/v1/ns/instance/list?serviceName=obs-auth";

    /* nothing, wrong credentials */
    expect_403(s, "GET", list, NULL, NULL, "user not found!");
    expect_403(s, "POST", "/nacos/v1/ns/instance?serviceName=obs-auth&ip=10.34.0.1&port=1", NULL, NULL, "user not found!");
    expect_403(s, "POST", "/nacos/v1/auth/login", "username=nacos&password=wrong", NULL, "unknown user!");
    expect_403(s, "POST", "/nacos/v1/auth/users/login", "username=other&password=secret", NULL, "unknown user!");
    expect_403(s, "POST", "/nacos/v1/auth/login", NULL, NULL, "unknown user!");
    expect_403(s, "POST", "/nacos/v1/auth/login", "username=nacos&password=secre", NULL, "unknown user!");
    expect_403(s, "POST", "/nacos/v1/auth/login", "username=nacos&password=secrett", NULL, "unknown user!");

    /* login on both paths, form body and query */
    char tok[1024], tok2[1024], tok3[1024];
    login(s, "/nacos/v1/auth/login", "nacos", "secret", false, tok, sizeof tok);
    login(s, "/nacos/v1/auth/users/login", "nacos", "secret", false, tok2, sizeof tok2);
    login(s, "/nacos/v1/auth/login", "nacos", "secret", true, tok3, sizeof tok3);

    /* the token as query parameter, form field, Bearer header */
    expect_200(s, "GET", nm_fmt("%s&accessToken=%s", list, tok), NULL, NULL);
    expect_200(s, "POST", "/nacos/v1/ns/instance", nm_fmt("serviceName=obs-auth&ip=10.34.0.2&port=1&accessToken=%s", tok2), NULL);
    const char *bearer[] = {nm_fmt("Authorization: Bearer %s", tok3), NULL};
    expect_200(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=obs-auth&ip=10.34.0.2&port=1", NULL, bearer);
    expect_200(s, "GET", list, NULL, bearer);

    /* tampered tokens: signature, payload, prefix, garbage; as parameter and as header */
    size_t tl = strlen(tok);
    char bad[1024];
    snprintf(bad, sizeof bad, "%s", tok);
    bad[tl - 1] = bad[tl - 1] == '0' ? '1' : '0';
    expect_403(s, "GET", nm_fmt("%s&accessToken=%s", list, bad), NULL, NULL, "token invalid!");
    const char *bad_bearer[] = {nm_fmt("Authorization: Bearer %s", bad), NULL};
    expect_403(s, "GET", list, NULL, bad_bearer, "token invalid!");
    snprintf(bad, sizeof bad, "%s", tok);
    bad[22] = bad[22] == 'A' ? 'B' : 'A';   /* inside the payload */
    expect_403(s, "GET", nm_fmt("%s&accessToken=%s", list, bad), NULL, NULL, "token invalid!");
    snprintf(bad, sizeof bad, "%s", tok);
    bad[0] = 'f';
    expect_403(s, "GET", nm_fmt("%s&accessToken=%s", list, bad), NULL, NULL, "token invalid!");
    expect_403(s, "GET", nm_fmt("%s&accessToken=garbage", list), NULL, NULL, "token invalid!");
    expect_403(s, "POST", "/nacos/v1/ns/instance", "serviceName=obs-auth&ip=10.34.0.3&port=1&accessToken=x.y.z", NULL,
               "token invalid!");
    /* a token signed by another server (same credentials) is not valid here */
    const char *args_b[] = {"--auth", "nacos:secret", NULL};
    struct nm_server *other = nm_test_start(args_b);
    char foreign[1024];
    login(other, "/nacos/v1/auth/login", "nacos", "secret", false, foreign, sizeof foreign);
    stop(other);
    expect_403(s, "GET", nm_fmt("%s&accessToken=%s", list, foreign), NULL, NULL, "token invalid!");

    /* raw username/password parameters (the Node client's way) */
    expect_200(s, "POST", "/nacos/v1/ns/instance?serviceName=obs-auth&ip=10.34.0.4&port=1&username=nacos&password=secret",
               NULL, NULL);
    expect_200(s, "POST", "/nacos/v1/ns/instance", "serviceName=obs-auth&ip=10.34.0.5&port=1&username=nacos&password=secret",
               NULL);
    expect_403(s, "GET", nm_fmt("%s&username=nacos&password=nope", list), NULL, NULL, "unknown user!");

    /* open without a token: console health, the control plane, login itself */
    expect(s, "GET", "/nacos/v1/console/health/liveness", NULL, NULL, 200, "OK");
    expect(s, "GET", "/nacos/v1/console/health/readiness", NULL, NULL, 200, "OK");
    expect(s, "GET", "/__mock/status", NULL, NULL, 200, NULL);
    expect(s, "GET", "/__mock/metrics", NULL, NULL, 200, NULL);
    /* the refused requests changed nothing: exactly the three accepted registrations */
    assert_int_equal(registry_instances(s), 3);
    stop(s);

    /* without --auth: everything passes, any credentials log in */
    s = nm_test_start(NULL);
    expect_200(s, "GET", list, NULL, NULL);
    expect_200(s, "GET", nm_fmt("%s&accessToken=garbage", list), NULL, NULL);
    expect_200(s, "GET", nm_fmt("%s&username=who&password=ever", list), NULL, NULL);
    login(s, "/nacos/v1/auth/login", "anyone", "anything", false, tok, sizeof tok);
    login(s, "/nacos/v1/auth/users/login", "nacos", "", true, tok, sizeof tok);
    stop(s);
}

/* ------------------------------------------------------------------ the journal alone, by threads */

/* Writers record at once while a reader queries and clears (ThreadSanitizer runs this in stage 10):
 * a query lists whole entries (each one's parameters are its writer's), in seq order, never more
 * than the ring holds, and after a clear nothing recorded before it. */
struct jw { struct journal *j; int id; };

static void *journal_writer(void *arg)
{
    struct jw *w = arg;
    char api[16], val[32];
    snprintf(api, sizeof api, "w%d", w->id);
    for (int i = 0; i < 20000; i++) {
        struct params p;
        params_init(&p);
        snprintf(val, sizeof val, "%d", i % 50);   /* repeated parameters share one block */
        params_add(&p, "writer", api);
        params_add(&p, "i", val);
        struct journal_in e = {.time_ms = i, .method = "PUT", .path = "/x", .api = api, .params = &p, .status = 200};
        journal_record(w->j, &e);
        params_free(&p);
    }
    return NULL;
}

static void test_journal_concurrent(void **state)
{
    (void)state;
    struct journal *j = journal_create(1000);
    struct jw w[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct jw){j, i};
        assert_int_equal(pthread_create(&t[i], NULL, journal_writer, &w[i]), 0);
    }
    for (int round = 0; round < 40; round++) {
        struct journal_query q = {.limit = -1};
        cJSON *raw = journal_query_json(j, &q);   /* params are raw JSON text: print and read back */
        char *text = cJSON_PrintUnformatted(raw);
        cJSON_Delete(raw);
        cJSON *o = cJSON_Parse(text);
        cJSON_free(text);
        assert_non_null(o);
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "requests");
        assert_true(cJSON_GetArraySize(arr) <= 1000);
        double prev = 0;
        for (cJSON *r = arr->child; r; r = r->next) {
            double seq = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "seq"));
            assert_true(seq > prev);
            prev = seq;
            const char *api = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "api"));
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
            assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "writer")), api);
        }
        cJSON_Delete(o);
        if (round % 10 == 9) {
            journal_clear(j);
            struct journal_query before = {.limit = -1};
            cJSON *after = journal_query_json(j, &before);
            for (cJSON *r = cJSON_GetObjectItemCaseSensitive(after, "requests")->child; r; r = r->next)
                assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "seq")) > prev);
            cJSON_Delete(after);
        }
    }
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    journal_free(j);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_concurrent),
        cmocka_unit_test_teardown(test_json_logs, nm_test_teardown),
        cmocka_unit_test_teardown(test_text_logs, nm_test_teardown),
        cmocka_unit_test_teardown(test_prom_parser_rejects, nm_test_teardown),
        cmocka_unit_test_teardown(test_metrics, nm_test_teardown),
        cmocka_unit_test_teardown(test_ready_file, teardown_child),
        cmocka_unit_test_teardown(test_auth, nm_test_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
