/*
 * test_control.c — the control plane (control-api.md) over real HTTP against the real server:
 * every fault action (status with default and custom bodies, delayMs and jitterMs measured while
 * other requests are answered at once, drop reset/close/hang as a client sees them, beatCode),
 * the schedule (after, times, forMs on the virtual clock), the /__mock/faults CRUD, start faults
 * (--fault, --faults with the fixtures/faults files, a bad --fault stops the server with a message
 * naming the field), --seed reproducibility, server status, forget, reset, registry snapshots
 * (round trip, all-or-nothing validation, --fixtures), the request journal and its filters,
 * --journal-size, --admin-token, and faults on UDP pushes.
 *
 * Slow checks run concurrently in threads; threads only record, assertions stay in the test's
 * thread (cmocka longjmps). Timing assertions are one-sided where real time could only add.
 */
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
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"

#define JSON_CT "application/json"
#define JAVA_UA "Nacos-Java-Client:v1.4.8"
#define DOWN_TEXT "server is DOWN now, please try again later!"

/* ------------------------------------------------------------------ servers */


/* ------------------------------------------------------------------ HTTP helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Upper time bounds are multiplied by this: 1, or 10 when the server runs under a tool
 * (NM_SERVER_WRAPPER, e.g. valgrind). Lower bounds (a delay is at least delayMs) never are. */
static double slack(void)
{
    const char *w = getenv("NM_SERVER_WRAPPER");
    return w && *w ? 10.0 : 1.0;
}

/* Upper bounds on durations only tell "answered" from "held far too long" (a delay ignored, a hang
 * never released): they are generous so that a loaded machine passes (README, "Tests"); what a test
 * checks precisely is a lower bound (the delay was honoured) or an order (who was answered first). */
#define LATE_S (5.0 * slack())

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* JSON request to the control plane; returns the status. */
static long jreq(const struct nm_server *s, const char *method, const char *path, const char *json, struct nm_resp *r)
{
    return nm_http(s, method, path, json, json ? JSON_CT : NULL, NULL, r);
}

/* Expects `status`; returns the parsed body (caller deletes) or NULL for an empty body. */
static cJSON *jexpect(const struct nm_server *s, const char *method, const char *path, const char *json, long status)
{
    struct nm_resp r;
    jreq(s, method, path, json, &r);
    if (r.status != status)
        fail_msg("%s %s %s -> %ld (curl %d) %s, want %ld", method, path, json ? json : "", r.status, r.curl_code,
                 r.body, status);
    cJSON *j = r.len ? cJSON_Parse(r.body) : NULL;
    if (r.len && !j) fail_msg("%s %s: body is not JSON: %s", method, path, r.body);
    if (r.len && strncmp(r.content_type, "application/json", 16))
        fail_msg("%s %s: content type '%s'", method, path, r.content_type);
    nm_resp_free(&r);
    return j;
}

static void add_fault(const struct nm_server *s, const char *rule)
{
    cJSON_Delete(jexpect(s, "POST", "/__mock/faults", rule, 201));
}

/* The {"error": ...} of a refused control call must contain `needle`. */
static void expect_error(const struct nm_server *s, const char *method, const char *path, const char *json,
                         long status, const char *needle)
{
    struct nm_resp r;
    jreq(s, method, path, json, &r);
    if (r.status != status) fail_msg("%s %s %s -> %ld %s, want %ld", method, path, json ? json : "", r.status, r.body, status);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (!cJSON_IsString(e)) fail_msg("%s %s: no {\"error\"} in %s", method, path, r.body);
    if (needle && !strstr(e->valuestring, needle))
        fail_msg("%s %s %s: error '%s' does not name '%s'", method, path, json ? json : "", e->valuestring, needle);
    cJSON_Delete(j);
    nm_resp_free(&r);
}

static long reg_status(const struct nm_server *s, const char *form, struct nm_resp *r)
{
    return nm_post_form(s, "/nacos/v1/ns/instance", form, r);
}

static void reg(const struct nm_server *s, const char *form)
{
    struct nm_resp r;
    if (reg_status(s, form, &r) != 200 || strcmp(r.body, "ok")) fail_msg("register %s -> %ld %s", form, r.status, r.body);
    nm_resp_free(&r);
}

/* Number of hosts listed for a service query (e.g. "serviceName=x&namespaceId=dev"). */
static int hosts(const struct nm_server *s, const char *query)
{
    cJSON *j = nm_get_json(s, nm_fmt("/nacos/v1/ns/instance/list?%s", query));
    if (!j) fail_msg("list %s failed", query);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "hosts"));
    cJSON_Delete(j);
    return n;
}

/* GET /__mock/requests?query (caller deletes). */
static cJSON *journal(const struct nm_server *s, const char *query)
{
    return jexpect(s, "GET", nm_fmt("/__mock/requests%s%s", query && *query ? "?" : "", query ? query : ""), NULL, 200);
}

static int journal_total(const struct nm_server *s, const char *query)
{
    cJSON *j = journal(s, query);
    int n = (int)cJSON_GetObjectItemCaseSensitive(j, "total")->valuedouble;
    cJSON_Delete(j);
    return n;
}

/* The listed rule with this id, from GET /__mock/faults (caller deletes the returned copy). */
static cJSON *fault_listed(const struct nm_server *s, const char *id)
{
    cJSON *l = jexpect(s, "GET", "/__mock/faults", NULL, 200), *r, *found = NULL;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(l, "faults"))
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring, id)) found = cJSON_Duplicate(r, true);
    cJSON_Delete(l);
    if (!found) fail_msg("fault '%s' not listed", id);
    return found;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) {
        char *t = cJSON_PrintUnformatted(o);
        fail_msg("field '%s' is not a number in %s", k, t);
    }
    return v->valuedouble;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v)) {
        char *t = cJSON_PrintUnformatted(o);
        fail_msg("field '%s' is not a string in %s", k, t);
    }
    return v->valuestring;
}

static void expect_text(const struct nm_resp *r, long status, const char *body)
{
    if (r->status != status || strcmp(r->body, body))
        fail_msg("got %ld '%s' (curl %d), want %ld '%s'", r->status, r->body, r->curl_code, status, body);
}

static void assert_json_equal(const cJSON *got, const cJSON *want)
{
    if (!cJSON_Compare(got, want, true)) {
        char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
        fail_msg("got  %s\nwant %s", g, w);
    }
}

/* Path of a file in the repository's fixtures/ (tests run from the build tree). */
static const char *fixture(const char *rel)
{
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    return nm_fmt("%.*s/../fixtures/%s", dir, slash ? __FILE__ : ".", rel);
}

/* ------------------------------------------------------------------ timed requests (threads) */

struct call {
    const struct nm_server *s;
    char method[8];
    char path[512];
    char body[512];
    long timeout_ms;          /* 0 = 20 s */
    long start_after_ms;
    /* results */
    long status;
    int curl_code;
    double seconds;           /* measured around the whole exchange */
    char *text;
    pthread_t th;
};

static size_t on_text(char *p, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len = size * n, old = c->text ? strlen(c->text) : 0;
    char *nb = realloc(c->text, old + len + 1);
    if (!nb) return 0;
    memcpy(nb + old, p, len);
    nb[old + len] = '\0';
    c->text = nb;
    return len;
}

static void call_run(struct call *c)
{
    if (c->start_after_ms) sleep_ms(c->start_after_ms);
    CURL *h = curl_easy_init();
    char url[700];
    snprintf(url, sizeof url, "%s%s", c->s->base, c->path);
    struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
    if (c->body[0]) hd = curl_slist_append(hd, "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->body[0]) curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_text);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms ? c->timeout_ms : 20000L);
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(h);
    c->seconds = now_s() - t0;
    c->curl_code = (int)rc;
    c->status = -1;
    if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    if (!c->text) c->text = calloc(1, 1);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}

static void *call_main(void *arg)
{
    call_run(arg);
    return NULL;
}

static void call_init(struct call *c, const struct nm_server *s, const char *method, const char *path, const char *body)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    snprintf(c->method, sizeof c->method, "%s", method);
    snprintf(c->path, sizeof c->path, "%s", path);
    if (body) snprintf(c->body, sizeof c->body, "%s", body);
}

static void call_spawn(struct call *c)
{
    if (pthread_create(&c->th, NULL, call_main, c)) fail_msg("pthread_create");
}

static void call_join(struct call *c) { pthread_join(c->th, NULL); }
static void call_free(struct call *c) { free(c->text); c->text = NULL; }

/* ------------------------------------------------------------------ UDP subscriber */

static int udp_bind(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Waits up to timeout_ms for a datagram; its length, or -1. */
static int udp_recv(int fd, long timeout_ms, char *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)timeout_ms) <= 0) return -1;
    ssize_t n = recv(fd, buf, cap - 1, 0);
    if (n < 0) return -1;
    buf[n] = '\0';
    return (int)n;
}

static void udp_drain(int fd)
{
    char b[65536];
    while (recv(fd, b, sizeof b, MSG_DONTWAIT) > 0) {}
}

static void subscribe(const struct nm_server *s, const char *svc, int udp_port)
{
    struct nm_resp r;
    nm_http(s, "GET", nm_fmt("/nacos/v1/ns/instance/list?serviceName=%s&udpPort=%d&clientIP=127.0.0.1", svc, udp_port),
            NULL, NULL, JAVA_UA, &r);
    if (r.status != 200) fail_msg("subscribe %s -> %ld %s", svc, r.status, r.body);
    nm_resp_free(&r);
}

/* ================================================================== status actions */

static void test_status_actions(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"r400\",\"match\":{\"api\":\"register\",\"serviceName\":\"s400\"},\"action\":{\"status\":400}}");
    add_fault(s, "{\"id\":\"r409\",\"match\":{\"api\":\"register\",\"serviceName\":\"s409\"},"
                 "\"action\":{\"status\":409,\"body\":\"caused: instance already registered by another client;\"}}");
    add_fault(s, "{\"id\":\"r500\",\"match\":{\"api\":\"register\",\"serviceName\":\"s500\"},\"action\":{\"status\":500}}");
    add_fault(s, "{\"id\":\"r503\",\"match\":{\"api\":\"register\",\"serviceName\":\"s503\"},\"action\":{\"status\":503}}");
    add_fault(s, "{\"id\":\"r500c\",\"match\":{\"api\":\"register\",\"serviceName\":\"s500c\"},"
                 "\"action\":{\"status\":500,\"body\":\"boom\"}}");
    add_fault(s, "{\"id\":\"r503c\",\"match\":{\"api\":\"register\",\"serviceName\":\"s503c\"},"
                 "\"action\":{\"status\":503,\"body\":\"maintenance\"}}");
    static const struct { const char *svc; long status; const char *body; } cases[] = {
        {"s400", 400, "caused: nacos-mock injected fault 'r400' (HTTP 400);"},
        {"s409", 409, "caused: instance already registered by another client;"},
        {"s500", 500, "caused: nacos-mock injected fault 'r500' (HTTP 500);"},
        {"s503", 503, DOWN_TEXT},
        {"s500c", 500, "boom"},
        {"s503c", 503, "maintenance"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nm_resp r;
        reg_status(s, nm_fmt("serviceName=%s&ip=10.0.0.1&port=8080", cases[i].svc), &r);
        expect_text(&r, cases[i].status, cases[i].body);
        if (strncmp(r.content_type, "text/plain", 10)) fail_msg("%s: content type %s", cases[i].svc, r.content_type);
        nm_resp_free(&r);
    }
    /* a faulted register registered nothing: no instance, not even an implied service */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (hosts(s, nm_fmt("serviceName=%s", cases[i].svc))) fail_msg("%s got registered", cases[i].svc);
    cJSON *dump = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(dump, "namespaces")), 0);
    cJSON_Delete(dump);
    /* the rules do not touch other services */
    reg(s, "serviceName=fine&ip=10.0.0.1&port=8080");
    assert_int_equal(hosts(s, "serviceName=fine"), 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *f = fault_listed(s, nm_fmt("r%s", cases[i].svc + 1));
        assert_int_equal((int)jnum(f, "hits"), 1);
        cJSON_Delete(f);
    }
    /* the journal names the rule */
    cJSON *j = journal(s, "api=register");
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "requests");
    assert_int_equal(cJSON_GetArraySize(arr), 7);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *e = cJSON_GetArrayItem(arr, (int)i);
        assert_int_equal((int)jnum(e, "status"), (int)cases[i].status);
        assert_string_equal(jstr(e, "fault"), nm_fmt("r%s", cases[i].svc + 1));
    }
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 6), "fault")));
    cJSON_Delete(j);
    nm_test_stop(s);
}

/* ================================================================== filters over HTTP */

/* What a rule sees of a real request (routes.c's view): each filter once, with a request that
 * matches and one that differs only there. */
static void test_match_filters_http(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"any\",\"match\":{\"api\":\"any\",\"serviceName\":\"anysvc\"},\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"method\",\"match\":{\"api\":\"any\",\"method\":\"put\",\"serviceName\":\"m\"},"
                 "\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"path\",\"match\":{\"api\":\"any\",\"path\":\"/nacos/v1/ns/instance/list\",\"serviceName\":\"p\"},"
                 "\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"ns\",\"match\":{\"api\":\"list\",\"namespaceId\":\"dev\"},\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"group\",\"match\":{\"api\":\"list\",\"groupName\":\"G\"},\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"grouped\",\"match\":{\"api\":\"detail\",\"serviceName\":\"H@@gs\"},\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"bare\",\"match\":{\"api\":\"deregister\",\"serviceName\":\"bs\"},\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"cluster\",\"match\":{\"api\":\"register\",\"clusterName\":\"C1\"},\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"dflt-cluster\",\"match\":{\"api\":\"beat\",\"clusterName\":\"DEFAULT\",\"serviceName\":\"dc\"},"
                 "\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"ip\",\"match\":{\"api\":\"update\",\"ip\":\"10.0.0.5\"},\"action\":{\"status\":502}}");
    add_fault(s, "{\"id\":\"port\",\"match\":{\"api\":\"update\",\"port\":8080},\"action\":{\"status\":502}}");
    static const struct { const char *method, *path, *body, *fault; } cases[] = {
        {"POST", "/nacos/v1/ns/instance", "serviceName=anysvc&ip=10.9.9.9&port=1", "any"},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=anysvc", NULL, "any"},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=DEFAULT_GROUP%40%40anysvc", NULL, "any"},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=anysvc2", NULL, NULL},
        {"PUT", "/nacos/v1/ns/instance/beat?serviceName=m&ip=10.9.9.9&port=1", NULL, "method"},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=m", NULL, NULL},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=p", NULL, "path"},
        {"GET", "/nacos/v1/ns/instance?serviceName=p&ip=10.9.9.9&port=1", NULL, NULL},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=x&namespaceId=dev", NULL, "ns"},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=x&namespaceId=public", NULL, NULL},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=x", NULL, NULL},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=x&groupName=G", NULL, "group"},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=G%40%40x", NULL, "group"},
        {"GET", "/nacos/v1/ns/instance/list?serviceName=x&groupName=GG", NULL, NULL},
        {"GET", "/nacos/v1/ns/instance?serviceName=gs&groupName=H&ip=10.9.9.9&port=1", NULL, "grouped"},
        {"GET", "/nacos/v1/ns/instance?serviceName=H%40%40gs&ip=10.9.9.9&port=1", NULL, "grouped"},
        {"GET", "/nacos/v1/ns/instance?serviceName=gs&ip=10.9.9.9&port=1", NULL, NULL},
        {"DELETE", "/nacos/v1/ns/instance?serviceName=bs&ip=10.9.9.9&port=1", NULL, "bare"},
        {"DELETE", "/nacos/v1/ns/instance?serviceName=Z%40%40bs&ip=10.9.9.9&port=1", NULL, "bare"},
        {"POST", "/nacos/v1/ns/instance", "serviceName=c&ip=10.9.9.9&port=1&clusterName=C1", "cluster"},
        {"POST", "/nacos/v1/ns/instance", "serviceName=c&ip=10.9.9.9&port=1&clusterName=C2", NULL},
        {"PUT", "/nacos/v1/ns/instance/beat?serviceName=dc&ip=10.9.9.9&port=1", NULL, "dflt-cluster"},
        {"PUT", "/nacos/v1/ns/instance/beat?serviceName=dc&ip=10.9.9.9&port=1&clusterName=C2", NULL, NULL},
        {"PUT", "/nacos/v1/ns/instance", "serviceName=u&ip=10.0.0.5&port=1", "ip"},
        {"PUT", "/nacos/v1/ns/instance", "serviceName=u&ip=10.0.0.6&port=8080", "port"},
        {"PUT", "/nacos/v1/ns/instance", "serviceName=u&ip=10.0.0.6&port=8081", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct nm_resp r;
        nm_http(s, cases[i].method, cases[i].path, cases[i].body, NULL, NULL, &r);
        bool faulted = r.status == 502 && strstr(r.body, "nacos-mock injected fault");
        if (cases[i].fault && (!faulted || !strstr(r.body, nm_fmt("'%s'", cases[i].fault))))
            fail_msg("%s %s %s -> %ld %s, want fault '%s'", cases[i].method, cases[i].path,
                     cases[i].body ? cases[i].body : "", r.status, r.body, cases[i].fault);
        if (!cases[i].fault && faulted)
            fail_msg("%s %s %s -> faulted: %s", cases[i].method, cases[i].path, cases[i].body ? cases[i].body : "", r.body);
        nm_resp_free(&r);
    }
    nm_test_stop(s);
}

/* ================================================================== delays, concurrently */

static void test_delay_jitter_concurrent(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"slow\",\"match\":{\"api\":\"list\",\"serviceName\":\"slow\"},\"action\":{\"delayMs\":3000}}");
    add_fault(s, "{\"id\":\"jit\",\"match\":{\"api\":\"list\",\"serviceName\":\"jit\"},"
                 "\"action\":{\"delayMs\":300,\"jitterMs\":300}}");
    add_fault(s, "{\"id\":\"slowreg\",\"match\":{\"api\":\"register\",\"serviceName\":\"slowreg\"},"
                 "\"action\":{\"delayMs\":3000}}");
    add_fault(s, "{\"id\":\"late500\",\"match\":{\"api\":\"beat\",\"serviceName\":\"late\"},"
                 "\"action\":{\"delayMs\":400,\"status\":500}}");
    enum { NSLOW = 4, NJIT = 6 };
    struct call slow[NSLOW], jit[NJIT], sreg, late;
    /* more delayed requests than the server has worker threads (2 by default) */
    for (int i = 0; i < NSLOW; i++) {
        call_init(&slow[i], s, "GET", "/nacos/v1/ns/instance/list?serviceName=slow", NULL);
        call_spawn(&slow[i]);
    }
    for (int i = 0; i < NJIT; i++) {
        call_init(&jit[i], s, "GET", "/nacos/v1/ns/instance/list?serviceName=jit", NULL);
        call_spawn(&jit[i]);
    }
    call_init(&sreg, s, "POST", "/nacos/v1/ns/instance", "serviceName=slowreg&ip=10.0.0.9&port=9000");
    call_spawn(&sreg);
    call_init(&late, s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=late&ip=10.0.0.9&port=9000", NULL);
    call_spawn(&late);

    /* once the slow ones are held by the server (their rule fired for each), other requests are
     * answered at once: before the slow ones, as the journal's order shows below */
    for (double w0 = now_s();;) {
        cJSON *f = fault_listed(s, "slow");
        int held = (int)jnum(f, "hits");
        cJSON_Delete(f);
        if (held == NSLOW) break;
        if (now_s() - w0 > LATE_S) fail_msg("only %d of %d slow lists reached the server", held, NSLOW);
        sleep_ms(10);
    }
    for (int i = 0; i < 3; i++) {
        struct call q;
        call_init(&q, s, "GET", "/nacos/v1/ns/instance/list?serviceName=quick", NULL);
        call_run(&q);
        if (q.status != 200) fail_msg("quick list -> %ld (curl %d)", q.status, q.curl_code);
        call_free(&q);
    }
    cJSON_Delete(jexpect(s, "GET", "/__mock/faults", NULL, 200));   /* the control plane too */
    bool slowreg_early = hosts(s, "serviceName=slowreg") != 0;   /* well within its 3 s: not registered yet */

    for (int i = 0; i < NSLOW; i++) call_join(&slow[i]);
    for (int i = 0; i < NJIT; i++) call_join(&jit[i]);
    call_join(&sreg);
    call_join(&late);

    for (int i = 0; i < NSLOW; i++) {
        if (slow[i].status != 200 || !strstr(slow[i].text, "\"hosts\""))
            fail_msg("slow list -> %ld (curl %d) %s", slow[i].status, slow[i].curl_code, slow[i].text);
        if (slow[i].seconds < 3.0 || slow[i].seconds > 3.0 + LATE_S) fail_msg("slow list took %.3f s", slow[i].seconds);
    }
    double lo = 1e9, hi = 0;
    for (int i = 0; i < NJIT; i++) {
        if (jit[i].status != 200) fail_msg("jitter list -> %ld (curl %d)", jit[i].status, jit[i].curl_code);
        if (jit[i].seconds < 0.3 || jit[i].seconds > 0.6 + LATE_S) fail_msg("jitter list took %.3f s", jit[i].seconds);
        if (jit[i].seconds < lo) lo = jit[i].seconds;
        if (jit[i].seconds > hi) hi = jit[i].seconds;
    }
    /* delay-only register: answered normally, late, and it did register */
    if (sreg.status != 200 || strcmp(sreg.text, "ok") || sreg.seconds < 3.0)
        fail_msg("delayed register -> %ld '%s' in %.3f s", sreg.status, sreg.text, sreg.seconds);
    assert_false(slowreg_early);
    assert_int_equal(hosts(s, "serviceName=slowreg"), 1);
    /* delay + status: a late error */
    if (late.status != 500 || strcmp(late.text, "caused: nacos-mock injected fault 'late500' (HTTP 500);") ||
        late.seconds < 0.4)
        fail_msg("late 500 -> %ld '%s' in %.3f s", late.status, late.text, late.seconds);

    /* journal: recorded when answered (the quick lists before the slow ones), with fault and duration */
    cJSON *j = journal(s, "serviceName=slow");
    cJSON *e;
    int n = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "requests")) {
        n++;
        assert_string_equal(jstr(e, "fault"), "slow");
        assert_int_equal((int)jnum(e, "status"), 200);
        /* the server's timer has whole-millisecond resolution: up to 1 ms is lost to rounding */
        if (jnum(e, "durationMs") < 2999) fail_msg("slow durationMs %g", jnum(e, "durationMs"));
    }
    assert_int_equal(n, NSLOW);
    double first_slow_seq = jnum(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "requests"), 0), "seq");
    cJSON_Delete(j);
    j = journal(s, "serviceName=quick");
    double last_quick_seq = jnum(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "requests"), 2), "seq");
    cJSON_Delete(j);
    assert_true(last_quick_seq < first_slow_seq);
    j = journal(s, "serviceName=jit");
    double dlo = 1e9, dhi = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "requests")) {
        double d = jnum(e, "durationMs");
        if (d < 299 || d > 600 + 1000 * LATE_S) fail_msg("jitter durationMs %g outside [300, 600]", d);
        if (d < dlo) dlo = d;
        if (d > dhi) dhi = d;
    }
    cJSON_Delete(j);
    if (dhi - dlo < 20) fail_msg("6 jittered delays all within %g ms: no jitter?", dhi - dlo);
    cJSON *f = fault_listed(s, "jit");
    assert_int_equal((int)jnum(f, "hits"), NJIT);
    cJSON_Delete(f);

    for (int i = 0; i < NSLOW; i++) call_free(&slow[i]);
    for (int i = 0; i < NJIT; i++) call_free(&jit[i]);
    call_free(&sreg);
    call_free(&late);
    nm_test_stop(s);
}

/* ================================================================== drops */

static void test_drop_close(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"cls\",\"match\":{\"api\":\"register\"},\"action\":{\"drop\":\"close\"}}");
    struct call c;
    call_init(&c, s, "POST", "/nacos/v1/ns/instance", "serviceName=dropped&ip=10.0.0.1&port=1");
    call_run(&c);
    assert_int_equal(c.curl_code, CURLE_GOT_NOTHING);   /* closed without an answer */
    call_free(&c);
    /* the server goes on; the dropped register registered nothing */
    assert_int_equal(hosts(s, "serviceName=dropped"), 0);
    cJSON *j = journal(s, "api=register");
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "requests"), 0);
    assert_non_null(e);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "status")));
    assert_string_equal(jstr(e, "drop"), "close");
    assert_string_equal(jstr(e, "fault"), "cls");
    cJSON_Delete(j);
    nm_test_stop(s);
}

static void test_drop_reset(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"rst\",\"match\":{\"api\":\"register\"},\"action\":{\"drop\":\"reset\"}}");
    add_fault(s, "{\"id\":\"late-rst\",\"match\":{\"api\":\"list\",\"serviceName\":\"x\"},\"action\":{\"drop\":\"reset\",\"delayMs\":300}}");
    struct call c, d;
    call_init(&c, s, "POST", "/nacos/v1/ns/instance", "serviceName=dropped&ip=10.0.0.1&port=1");
    call_run(&c);
    call_init(&d, s, "GET", "/nacos/v1/ns/instance/list?serviceName=x", NULL);
    call_run(&d);
    /* the journal and the registry first (they do not depend on how the peer saw the drop) */
    assert_int_equal(hosts(s, "serviceName=dropped"), 0);
    cJSON *j = journal(s, "api=register");
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "requests"), 0);
    assert_non_null(e);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "status")));
    assert_string_equal(jstr(e, "drop"), "reset");
    assert_string_equal(jstr(e, "fault"), "rst");
    cJSON_Delete(j);
    if (d.seconds < 0.3) fail_msg("delayed reset after %.3f s", d.seconds);
    /* a reset is a TCP RST: curl reports a receive error ("Connection reset by peer"), not the
     * "empty reply" of a clean close */
    if (c.curl_code != CURLE_RECV_ERROR)
        fail_msg("drop reset: curl error %d (%s), want %d (CURLE_RECV_ERROR, connection reset)", c.curl_code,
                 curl_easy_strerror((CURLcode)c.curl_code), CURLE_RECV_ERROR);
    assert_int_equal(d.curl_code, CURLE_RECV_ERROR);
    call_free(&c);
    call_free(&d);
    nm_test_stop(s);
}

static void test_drop_hang(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"hang\",\"match\":{\"api\":\"list\",\"serviceName\":\"hang\"},\"action\":{\"drop\":\"hang\"}}");
    struct call c;
    call_init(&c, s, "GET", "/nacos/v1/ns/instance/list?serviceName=hang", NULL);
    c.timeout_ms = 500;
    call_run(&c);
    assert_int_equal(c.curl_code, CURLE_OPERATION_TIMEDOUT);
    if (c.seconds < 0.45 || c.seconds > 0.5 + LATE_S) fail_msg("hang: the client gave up after %.3f s", c.seconds);
    call_free(&c);
    double gave_up = now_s();
    /* the server still answers */
    assert_int_equal(hosts(s, "serviceName=other"), 0);
    /* once the client has gone the hung request is journalled (the server notices within about a
     * second on an idle machine) */
    cJSON *e = NULL;
    while (!e && now_s() - gave_up < 2 * LATE_S) {
        cJSON *j = journal(s, "serviceName=hang");
        cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "requests"), 0);
        if (first) e = cJSON_Duplicate(first, true);
        cJSON_Delete(j);
        if (!e) sleep_ms(50);
    }
    if (!e) fail_msg("no journal entry for the hung request %.0f s after the client gave up", 2 * LATE_S);
    assert_string_equal(jstr(e, "fault"), "hang");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "status")));
    assert_true(jnum(e, "durationMs") >= 450);
    cJSON *f = fault_listed(s, "hang");
    assert_int_equal((int)jnum(f, "hits"), 1);
    cJSON_Delete(f);
    /* the entry says what the rule did: it hung (the client closing it is not a "close" fault) */
    if (strcmp(jstr(e, "drop"), "hang")) fail_msg("hung request journalled with drop \"%s\", want \"hang\"", jstr(e, "drop"));
    cJSON_Delete(e);
    nm_test_stop(s);
}

/* SIGTERM with delayed and hung requests in flight: delayed ones are answered now, hung ones closed,
 * and the server exits 0 at once (control-api.md: requests in flight are answered). */
static void test_stop_with_requests_in_flight(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"slow\",\"match\":{\"api\":\"list\",\"serviceName\":\"slow\"},\"action\":{\"delayMs\":10000}}");
    add_fault(s, "{\"id\":\"late\",\"match\":{\"api\":\"register\"},\"action\":{\"delayMs\":10000}}");
    add_fault(s, "{\"id\":\"hang\",\"match\":{\"api\":\"list\",\"serviceName\":\"hang\"},\"action\":{\"drop\":\"hang\"}}");
    struct call slow, late, hang;
    call_init(&slow, s, "GET", "/nacos/v1/ns/instance/list?serviceName=slow", NULL);
    call_init(&late, s, "POST", "/nacos/v1/ns/instance", "serviceName=late&ip=10.0.0.1&port=1");
    call_init(&hang, s, "GET", "/nacos/v1/ns/instance/list?serviceName=hang", NULL);
    slow.timeout_ms = late.timeout_ms = hang.timeout_ms = (long)(9500 * slack());
    call_spawn(&slow);
    call_spawn(&late);
    call_spawn(&hang);
    /* wait until all three are held by the server (their rules have fired) */
    double w0 = now_s();
    for (;;) {
        cJSON *l = jexpect(s, "GET", "/__mock/faults", NULL, 200), *r;
        int held = 0;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(l, "faults")) held += (int)jnum(r, "hits");
        cJSON_Delete(l);
        if (held == 3) break;
        if (now_s() - w0 > LATE_S) fail_msg("only %d of 3 requests reached the server", held);
        sleep_ms(20);
    }
    sleep_ms(100);
    double t0 = now_s();
    nm_test_stop(s);
    double stopped = now_s() - t0;
    call_join(&slow);
    call_join(&late);
    call_join(&hang);
    /* the delays are 10 s: answered at the stop means well before that */
    if (stopped > 8 * slack()) fail_msg("stopping took %.3f s", stopped);
    if (slow.status != 200 || !strstr(slow.text, "\"hosts\"") || slow.seconds > 9 * slack())
        fail_msg("delayed list at stop -> %ld (curl %d) '%s' after %.3f s", slow.status, slow.curl_code, slow.text,
                 slow.seconds);
    if (late.status != 200 || strcmp(late.text, "ok") || late.seconds > 9 * slack())
        fail_msg("delayed register at stop -> %ld (curl %d) '%s' after %.3f s", late.status, late.curl_code, late.text,
                 late.seconds);
    if (hang.curl_code != CURLE_GOT_NOTHING || hang.seconds > 9 * slack())
        fail_msg("hung list at stop -> curl %d after %.3f s, want %d (closed)", hang.curl_code, hang.seconds,
                 CURLE_GOT_NOTHING);
    call_free(&slow);
    call_free(&late);
    call_free(&hang);
}

/* ================================================================== beatCode */

static void test_beat_code(void **state)
{
    (void)state;
    const char *args[] = {"--beat-interval-ms", "700", NULL};
    struct nm_server *s = nm_test_start(args);
    reg(s, "serviceName=bc&ip=10.0.0.7&port=8080");
    reg(s, "serviceName=bc&ip=10.0.0.8&port=8080");
    cJSON *d0 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    add_fault(s, "{\"id\":\"lost\",\"match\":{\"api\":\"beat\",\"ip\":\"10.0.0.7\"},\"action\":{\"beatCode\":20404}}");
    sleep_ms(20);
    struct nm_resp r;
    /* the ip of the beat JSON counts as the request's */
    const char *beat = nm_enc("{\"ip\":\"10.0.0.7\",\"port\":8080,\"serviceName\":\"DEFAULT_GROUP@@bc\",\"cluster\":\"DEFAULT\"}");
    nm_http(s, "PUT", nm_fmt("/nacos/v1/ns/instance/beat?serviceName=bc&beat=%s", beat), NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    cJSON *b = cJSON_Parse(r.body);
    assert_int_equal((int)jnum(b, "code"), 20404);
    assert_int_equal((int)jnum(b, "clientBeatInterval"), 700);
    cJSON_Delete(b);
    nm_resp_free(&r);
    nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=bc&ip=10.0.0.7&port=8080", NULL, NULL, NULL, &r);
    b = cJSON_Parse(r.body);
    assert_int_equal((int)jnum(b, "code"), 20404);
    cJSON_Delete(b);
    nm_resp_free(&r);
    /* a faulted beat never reached the registry: lastBeatMs unchanged */
    cJSON *d1 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    cJSON_DeleteItemFromObject(d0, "nowMs");
    cJSON_DeleteItemFromObject(d1, "nowMs");
    assert_json_equal(d1, d0);
    cJSON_Delete(d0);
    cJSON_Delete(d1);
    /* another instance beats normally */
    nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=bc&ip=10.0.0.8&port=8080", NULL, NULL, NULL, &r);
    b = cJSON_Parse(r.body);
    assert_int_equal((int)jnum(b, "code"), 10200);
    cJSON_Delete(b);
    nm_resp_free(&r);
    cJSON *f = fault_listed(s, "lost");
    assert_int_equal((int)jnum(f, "hits"), 2);
    cJSON_Delete(f);
    assert_int_equal(journal_total(s, "api=beat&status=200"), 3);
    cJSON *j = journal(s, "api=beat&ip=10.0.0.7");
    assert_string_equal(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "requests"), 0), "fault"), "lost");
    cJSON_Delete(j);
    nm_test_stop(s);
}

/* ================================================================== schedule */

static long list_status(const struct nm_server *s, const char *svc)
{
    struct nm_resp r;
    long st = nm_get(s, nm_fmt("/nacos/v1/ns/instance/list?serviceName=%s", svc), &r);
    nm_resp_free(&r);
    return st;
}

static void test_after_times_for_ms(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"t\",\"match\":{\"api\":\"list\",\"serviceName\":\"t\"},\"action\":{\"status\":500},\"times\":2}");
    add_fault(s, "{\"id\":\"a\",\"match\":{\"api\":\"list\",\"serviceName\":\"a\"},\"action\":{\"status\":502},\"after\":2}");
    add_fault(s, "{\"id\":\"f\",\"match\":{\"api\":\"list\",\"serviceName\":\"f\"},\"action\":{\"status\":503},"
                 "\"forMs\":5000}");
    long want_t[] = {500, 500, 200, 200}, want_a[] = {200, 200, 502, 502};
    for (int i = 0; i < 4; i++) assert_int_equal(list_status(s, "t"), want_t[i]);
    for (int i = 0; i < 4; i++) assert_int_equal(list_status(s, "a"), want_a[i]);
    cJSON *t = fault_listed(s, "t");
    assert_int_equal((int)jnum(t, "hits"), 2);
    assert_int_equal((int)jnum(t, "remaining"), 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "expired")));
    cJSON_Delete(t);
    cJSON *a = fault_listed(s, "a");
    assert_int_equal((int)jnum(a, "hits"), 2);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "remaining")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(a, "expired")));
    cJSON_Delete(a);

    assert_int_equal(list_status(s, "f"), 503);
    cJSON *f = fault_listed(s, "f");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(f, "expired")));
    cJSON_Delete(f);
    expect_error(s, "POST", "/__mock/clock/advance", "{\"ms\":-1}", 400, "'ms'");
    expect_error(s, "POST", "/__mock/clock/advance", "{\"ms\":\"10\"}", 400, "'ms'");
    cJSON_Delete(jexpect(s, "POST", "/__mock/clock/advance", "{\"ms\":4000}", 200));
    assert_int_equal(list_status(s, "f"), 503);   /* 4 s of 5 on the virtual clock */
    cJSON_Delete(jexpect(s, "POST", "/__mock/clock/advance", "{\"ms\":1500}", 200));
    assert_int_equal(list_status(s, "f"), 200);
    f = fault_listed(s, "f");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "expired")));
    assert_int_equal((int)jnum(f, "remaining"), 0);
    assert_int_equal((int)jnum(f, "hits"), 2);
    cJSON_Delete(f);
    nm_test_stop(s);
}

/* ================================================================== /__mock/faults */

static void test_faults_crud(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    cJSON *l = jexpect(s, "GET", "/__mock/faults", NULL, 200);
    cJSON *want = cJSON_Parse("{\"faults\":[]}");
    assert_json_equal(l, want);
    cJSON_Delete(want);
    cJSON_Delete(l);

    cJSON *st = jexpect(s, "POST", "/__mock/faults",
                        "{\"match\":{\"api\":\"beat\",\"serviceName\":\"order\"},\"action\":{\"status\":500},\"times\":2}",
                        201);
    want = cJSON_Parse("{\"id\":\"fault-1\",\"match\":{\"api\":\"beat\",\"serviceName\":\"order\"},"
                       "\"action\":{\"status\":500},\"probability\":1,\"after\":0,\"times\":2,\"forMs\":null,"
                       "\"hits\":0,\"remaining\":2,\"expired\":false}");
    assert_json_equal(st, want);
    cJSON_Delete(want);
    cJSON_Delete(st);
    add_fault(s, "{\"id\":\"b\",\"match\":{\"api\":\"list\"},\"action\":{\"delayMs\":10}}");
    add_fault(s, "{\"id\":\"c\",\"match\":{\"api\":\"any\"},\"action\":{\"drop\":\"close\"},\"probability\":0}");

    /* refused: 409 for a taken id, 400 naming the field, nothing added */
    expect_error(s, "POST", "/__mock/faults", "{\"id\":\"b\",\"match\":{\"api\":\"list\"},\"action\":{\"status\":500}}",
                 409, "'b'");
    expect_error(s, "POST", "/__mock/faults", "{\"match\":{\"api\":\"lists\"},\"action\":{\"status\":500}}", 400,
                 "match.api");
    expect_error(s, "POST", "/__mock/faults", "{\"match\":{\"api\":\"list\"},\"action\":{\"status\":500},\"tims\":2}",
                 400, "'tims'");
    expect_error(s, "POST", "/__mock/faults", "{\"match\":{\"api\":\"list\"},\"action\":{\"drop\":\"reset\",\"status\":500}}",
                 400, "action.drop");
    expect_error(s, "POST", "/__mock/faults", "{\"match\":{\"api\":\"list\"},\"action\":{\"beatCode\":20404}}", 400,
                 "action.beatCode");
    expect_error(s, "POST", "/__mock/faults", "{\"match\":{\"api\":\"list\"},\"action\":{\"body\":\"x\",\"delayMs\":1}}",
                 400, "action.body");
    expect_error(s, "POST", "/__mock/faults", "{\"match\":{\"api\":\"list\"},\"action\":{}}", 400, "action");
    expect_error(s, "POST", "/__mock/faults", "{\"match\":", 400, "JSON");
    expect_error(s, "POST", "/__mock/faults", "[]", 400, "object");
    expect_error(s, "POST", "/__mock/faults", NULL, 400, NULL);

    l = jexpect(s, "GET", "/__mock/faults", NULL, 200);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(l, "faults");
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    const char *order[] = {"fault-1", "b", "c"};
    for (int i = 0; i < 3; i++) assert_string_equal(jstr(cJSON_GetArrayItem(arr, i), "id"), order[i]);
    cJSON_Delete(l);

    cJSON_Delete(jexpect(s, "DELETE", "/__mock/faults/b", NULL, 204));
    expect_error(s, "DELETE", "/__mock/faults/b", NULL, 404, "'b'");
    expect_error(s, "DELETE", "/__mock/faults/nope", NULL, 404, "'nope'");
    l = jexpect(s, "GET", "/__mock/faults", NULL, 200);
    arr = cJSON_GetObjectItemCaseSensitive(l, "faults");
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    assert_string_equal(jstr(cJSON_GetArrayItem(arr, 1), "id"), "c");
    cJSON_Delete(l);
    /* rules act right after they are added or deleted */
    struct nm_resp r;
    nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=order&ip=1.2.3.4&port=1", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 500);
    nm_resp_free(&r);
    cJSON_Delete(jexpect(s, "DELETE", "/__mock/faults", NULL, 204));
    l = jexpect(s, "GET", "/__mock/faults", NULL, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "faults")), 0);
    cJSON_Delete(l);
    nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=order&ip=1.2.3.4&port=1", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    /* control calls are not journalled: only the two beats are */
    assert_int_equal(journal_total(s, NULL), 2);
    nm_test_stop(s);
}

/* ================================================================== start faults */

static void test_start_faults(void **state)
{
    (void)state;
    /* slow-discovery.json runs in its own server while the rest is checked */
    const char *slow_args[] = {"--faults", fixture("faults/slow-discovery.json"), "--seed", "3", NULL};
    struct nm_server *slow = nm_test_start(slow_args);
    struct call sl, sd;
    call_init(&sl, slow, "GET", "/nacos/v1/ns/instance/list?serviceName=x", NULL);
    call_init(&sd, slow, "GET", "/nacos/v1/ns/instance?serviceName=x&ip=1.2.3.4&port=1", NULL);
    call_spawn(&sl);
    call_spawn(&sd);

    const char *args[] = {"--fault", "api=list,status=500,times=2,serviceName=order", "--faults",
                          fixture("faults/register-conflict.json"), NULL};
    struct nm_server *s = nm_test_start(args);
    for (int round = 0; round < 2; round++) {   /* the second round after a reset: everything again */
        cJSON *l = jexpect(s, "GET", "/__mock/faults", NULL, 200);
        cJSON *want = cJSON_Parse(
            "{\"faults\":[{\"id\":\"fault-1\",\"match\":{\"api\":\"list\",\"serviceName\":\"order\"},"
            "\"action\":{\"status\":500},\"probability\":1,\"after\":0,\"times\":2,\"forMs\":null,\"hits\":0,"
            "\"remaining\":2,\"expired\":false},"
            "{\"id\":\"register-409\",\"match\":{\"api\":\"register\"},\"action\":{\"status\":409,"
            "\"body\":\"caused: instance already registered by another client;\"},\"probability\":1,\"after\":0,"
            "\"times\":3,\"forMs\":null,\"hits\":0,\"remaining\":3,\"expired\":false}]}");
        assert_json_equal(l, want);
        cJSON_Delete(want);
        cJSON_Delete(l);
        assert_int_equal(list_status(s, "order"), 500);
        assert_int_equal(list_status(s, "other"), 200);
        assert_int_equal(list_status(s, "order"), 500);
        assert_int_equal(list_status(s, "order"), 200);
        for (int i = 0; i < 3; i++) {
            struct nm_resp r;
            reg_status(s, "serviceName=order&ip=10.0.0.1&port=1", &r);
            expect_text(&r, 409, "caused: instance already registered by another client;");
            nm_resp_free(&r);
        }
        reg(s, "serviceName=order&ip=10.0.0.1&port=1");
        assert_int_equal(hosts(s, "serviceName=order"), 1);
        cJSON_Delete(jexpect(s, "DELETE", "/__mock/faults", NULL, 204));
        cJSON_Delete(jexpect(s, "POST", "/__mock/reset", NULL, 200));
    }
    nm_test_stop(s);

    /* registry-restart.json: a 503 window on the virtual clock, then lost instances */
    const char *rargs[] = {"--faults", fixture("faults/registry-restart.json"), NULL};
    s = nm_test_start(rargs);
    for (int round = 0; round < 2; round++) {
        struct nm_resp r;
        nm_get(s, "/nacos/v1/ns/instance/list?serviceName=x", &r);
        expect_text(&r, 503, "server is STARTING now, please try again later!");
        nm_resp_free(&r);
        cJSON_Delete(jexpect(s, "POST", "/__mock/clock/advance", "{\"ms\":10001}", 200));
        assert_int_equal(list_status(s, "x"), 200);
        reg(s, "serviceName=x&ip=10.0.0.1&port=1");
        nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=x&ip=10.0.0.1&port=1", NULL, NULL, NULL, &r);
        cJSON *b = cJSON_Parse(r.body);
        assert_int_equal((int)jnum(b, "code"), 20404);
        cJSON_Delete(b);
        nm_resp_free(&r);
        cJSON_Delete(jexpect(s, "POST", "/__mock/clock/advance", "{\"ms\":5000}", 200));
        nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=x&ip=10.0.0.1&port=1", NULL, NULL, NULL, &r);
        b = cJSON_Parse(r.body);
        assert_int_equal((int)jnum(b, "code"), 10200);
        cJSON_Delete(b);
        nm_resp_free(&r);
        /* a reset restores the start rules with fresh windows (the clock offset goes back to 0) */
        cJSON_Delete(jexpect(s, "POST", "/__mock/reset", NULL, 200));
    }
    nm_test_stop(s);

    call_join(&sl);
    call_join(&sd);
    if (sl.status != 200 || sl.seconds < 1.5 || sl.seconds > 2.5 + LATE_S)
        fail_msg("slow-list -> %ld in %.3f s, want 200 in [1.5, 2.5] s", sl.status, sl.seconds);
    if (sd.seconds < 1.5 || sd.seconds > 1.5 + LATE_S) fail_msg("slow-detail in %.3f s, want 1.5 s", sd.seconds);
    cJSON *j = journal(slow, "api=detail");
    assert_string_equal(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "requests"), 0), "fault"), "slow-detail");
    cJSON_Delete(j);
    call_free(&sl);
    call_free(&sd);
    nm_test_stop(slow);
}

/* Runs the binary with --host 127.0.0.1 --port 0 and args; waits up to 5 s (see nm_run). */
static int run_bin(const char *const *args, char *out, size_t outcap, char *err, size_t errcap)
{
    const char *argv[32] = {"--host", "127.0.0.1", "--port", "0"};
    int n = 4;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    return nm_run(argv, NULL, 5000, out, outcap, err, errcap);
}

static void expect_refused_start(const char *const *args, const char *needle)
{
    char out[4096], err[4096];
    int rc = run_bin(args, out, sizeof out, err, sizeof err);
    if (rc <= 0) fail_msg("%s %s: exit %d (stdout '%s', stderr '%s'), want a non-zero exit", args[0], args[1], rc, out, err);
    if (strstr(out, "listening")) fail_msg("%s %s: the server started: %s", args[0], args[1], out);
    if (!strstr(err, needle)) fail_msg("%s %s: stderr '%s' does not name '%s'", args[0], args[1], err, needle);
}

static void test_invalid_start_faults(void **state)
{
    (void)state;
    const char *a1[] = {"--fault", "api=beat,status=abc", NULL};
    expect_refused_start(a1, "'status'");
    const char *a2[] = {"--fault", "api=beat,status=500,colour=red", NULL};
    expect_refused_start(a2, "'colour'");
    const char *a3[] = {"--fault", "api=beats,status=500", NULL};
    expect_refused_start(a3, "match.api");
    const char *a4[] = {"--fault", "api=list,beatCode=20404", NULL};
    expect_refused_start(a4, "action.beatCode");
    const char *a5[] = {"--fault", "api=beat,status=500", "--fault", "api=list,drop=close,status=500", NULL};
    expect_refused_start(a5, "action.drop");
    char path[] = "/tmp/nacos-mock-test-faults-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *bad = "[{\"id\":\"ok\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500}},"
                      " {\"id\":\"bad\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},\"probability\":2}]";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    const char *a6[] = {"--faults", path, NULL};
    expect_refused_start(a6, "'probability'");
    unlink(path);
    const char *a7[] = {"--faults", "/nonexistent/faults.json", NULL};
    expect_refused_start(a7, "/nonexistent/faults.json");
}

/* ================================================================== --seed */

/* The statuses of n light beats (200 or the flaky 500). */
static void beat_statuses(const struct nm_server *s, int n, long *out)
{
    for (int i = 0; i < n; i++) {
        struct nm_resp r;
        out[i] = nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=svc&ip=10.0.0.1&port=1", NULL, NULL, NULL, &r);
        nm_resp_free(&r);
    }
}

static void test_seed_reproducible(void **state)
{
    (void)state;
    enum { N = 40 };
    const char *args[] = {"--seed", "4242", "--faults", fixture("faults/flaky-beats.json"), NULL};
    const char *other[] = {"--seed", "4243", "--faults", fixture("faults/flaky-beats.json"), NULL};
    struct nm_server *a = nm_test_start(args), *b = nm_test_start(args), *c = nm_test_start(other);
    long sa[N], sb[N], sc[N];
    beat_statuses(a, N, sa);
    beat_statuses(b, N, sb);
    beat_statuses(c, N, sc);
    int faulted = 0;
    for (int i = 0; i < N; i++) {
        if ((sa[i] != 200 && sa[i] != 500) || sa[i] != sb[i]) fail_msg("beat %d: %ld vs %ld", i, sa[i], sb[i]);
        faulted += sa[i] == 500;
    }
    if (faulted < 4 || faulted > 24) fail_msg("p=0.3: %d of %d beats faulted", faulted, N);
    assert_memory_not_equal(sa, sc, sizeof sa);   /* another seed, another sequence */
    /* a reset re-seeds: the same sequence again */
    cJSON_Delete(jexpect(a, "POST", "/__mock/reset", NULL, 200));
    beat_statuses(a, N, sb);
    assert_memory_equal(sa, sb, sizeof sa);
    cJSON *f = fault_listed(a, "flaky-beats");
    assert_int_equal((int)jnum(f, "hits"), faulted);
    cJSON_Delete(f);
    /* the seed is printed at start */
    FILE *e = fopen(a->err_path, "r");
    assert_non_null(e);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, e);
    buf[n] = '\0';
    fclose(e);
    if (!strstr(buf, "seed 4242")) fail_msg("stderr does not show the seed: %s", buf);
    nm_test_stop(a);
    nm_test_stop(b);
    nm_test_stop(c);
}

/* ================================================================== server status */

static void expect_get(const struct nm_server *s, const char *path, long status, const char *body)
{
    struct nm_resp r;
    nm_get(s, path, &r);
    if (r.status != status || (body && strcmp(r.body, body)))
        fail_msg("GET %s -> %ld '%s', want %ld '%s'", path, r.status, r.body, status, body ? body : "*");
    nm_resp_free(&r);
}

static void test_server_status(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    reg(s, "serviceName=st&ip=10.0.0.1&port=1");
    const char *names[] = {"DOWN", "STARTING"};
    for (int k = 0; k < 2; k++) {
        cJSON *o = jexpect(s, "PUT", "/__mock/status", nm_fmt("{\"status\":\"%s\"}", names[k]), 200);
        assert_string_equal(jstr(o, "status"), names[k]);
        cJSON_Delete(o);
        const char *text = nm_fmt("server is %s now, please try again later!", names[k]);
        expect_get(s, "/nacos/v1/ns/instance/list?serviceName=st", 503, text);
        expect_get(s, "/nacos/v1/ns/instance?serviceName=st&ip=10.0.0.1&port=1", 503, text);
        expect_get(s, "/nacos/v1/ns/service/list?pageNo=1&pageSize=10", 503, text);
        expect_get(s, "/nacos/v1/ns/operator/servers", 503, text);
        struct nm_resp r;
        reg_status(s, "serviceName=down&ip=10.0.0.1&port=1", &r);
        expect_text(&r, 503, text);
        nm_resp_free(&r);
        nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=st&ip=10.0.0.1&port=1", NULL, NULL, NULL, &r);
        expect_text(&r, 503, text);
        nm_resp_free(&r);
        cJSON *m = nm_get_json(s, "/nacos/v1/ns/operator/metrics");
        assert_non_null(m);
        assert_string_equal(jstr(m, "status"), names[k]);
        cJSON_Delete(m);
        expect_get(s, "/nacos/v1/console/health/readiness", 500, NULL);
        expect_get(s, "/nacos/v1/console/health/liveness", 200, NULL);
    }
    /* bad input changes nothing */
    expect_error(s, "PUT", "/__mock/status", "{\"status\":\"SIDEWAYS\"}", 400, "'status'");
    expect_error(s, "PUT", "/__mock/status", "{\"status\":5}", 400, "'status'");
    expect_error(s, "PUT", "/__mock/status", "{}", 400, "'status'");
    expect_error(s, "PUT", "/__mock/status", "UP", 400, "JSON");
    expect_get(s, "/nacos/v1/ns/instance/list?serviceName=st", 503, "server is STARTING now, please try again later!");
    cJSON_Delete(jexpect(s, "PUT", "/__mock/status", "{\"status\":\"UP\"}", 200));
    assert_int_equal(hosts(s, "serviceName=st"), 1);
    assert_int_equal(hosts(s, "serviceName=down"), 0);   /* registers while down registered nothing */
    expect_get(s, "/nacos/v1/console/health/readiness", 200, NULL);
    cJSON *m = nm_get_json(s, "/nacos/v1/ns/operator/metrics");
    assert_string_equal(jstr(m, "status"), "UP");
    cJSON_Delete(m);
    /* the 503s were journalled like any answer */
    assert_int_equal(journal_total(s, "status=503"), 13);
    nm_test_stop(s);
}

/* ================================================================== forget */

static cJSON *beat_json(const struct nm_server *s, const char *query)
{
    struct nm_resp r;
    nm_http(s, "PUT", nm_fmt("/nacos/v1/ns/instance/beat?%s", query), NULL, NULL, NULL, &r);
    if (r.status != 200) fail_msg("beat %s -> %ld %s", query, r.status, r.body);
    cJSON *b = cJSON_Parse(r.body);
    nm_resp_free(&r);
    return b;
}

static void test_forget(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    reg(s, "serviceName=fa&ip=10.0.0.1&port=8080");
    reg(s, "serviceName=fa&ip=10.0.0.2&port=8080&ephemeral=false");
    reg(s, "serviceName=fb&ip=10.0.0.3&port=8080");
    reg(s, "serviceName=fa&ip=10.0.0.4&port=8080&namespaceId=dev");
    int up;
    int ufd = udp_bind(&up);
    subscribe(s, "fa", up);
    subscribe(s, "fb", up);

    expect_error(s, "POST", "/__mock/forget", "{\"serviceName\":5}", 400, "'serviceName'");
    expect_error(s, "POST", "/__mock/forget", "{\"namespaceId\":\"\"}", 400, "'namespaceId'");
    expect_error(s, "POST", "/__mock/forget", "[1]", 400, "object");
    assert_int_equal(hosts(s, "serviceName=fb"), 1);

    /* narrowed to one service */
    cJSON *o = jexpect(s, "POST", "/__mock/forget", "{\"serviceName\":\"fb\"}", 200);
    assert_int_equal((int)jnum(o, "removed"), 1);
    long subs_fb = (long)jnum(o, "subscriptions");
    cJSON_Delete(o);
    assert_int_equal(hosts(s, "serviceName=fb"), 0);
    assert_int_equal(hosts(s, "serviceName=fa"), 2);
    /* narrowed to a namespace */
    o = jexpect(s, "POST", "/__mock/forget", "{\"namespaceId\":\"dev\"}", 200);
    assert_int_equal((int)jnum(o, "removed"), 1);
    cJSON_Delete(o);
    assert_int_equal(hosts(s, "serviceName=fa&namespaceId=dev"), 0);
    assert_int_equal(hosts(s, "serviceName=fa"), 2);
    /* everything: ephemeral instances go, persistent ones stay */
    o = jexpect(s, "POST", "/__mock/forget", NULL, 200);
    assert_int_equal((int)jnum(o, "removed"), 1);
    long subs_all = (long)jnum(o, "subscriptions");
    cJSON_Delete(o);
    cJSON *l = nm_get_json(s, "/nacos/v1/ns/instance/list?serviceName=fa");
    cJSON *hs = cJSON_GetObjectItemCaseSensitive(l, "hosts");
    assert_int_equal(cJSON_GetArraySize(hs), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(hs, 0), "ip"), "10.0.0.2");
    cJSON_Delete(l);
    o = jexpect(s, "POST", "/__mock/forget", NULL, 200);
    assert_int_equal((int)jnum(o, "removed"), 0);
    assert_int_equal((int)jnum(o, "subscriptions"), 0);
    cJSON_Delete(o);

    /* the forgotten client's light beat is told to re-register ... */
    cJSON *b = beat_json(s, "serviceName=fa&ip=10.0.0.1&port=8080");
    assert_int_equal((int)jnum(b, "code"), 20404);
    cJSON_Delete(b);
    assert_int_equal(hosts(s, "serviceName=fa"), 1);
    /* ... and a beat with its beat body brings it back */
    b = beat_json(s, nm_fmt("serviceName=fa&beat=%s",
                            nm_enc("{\"ip\":\"10.0.0.1\",\"port\":8080,\"cluster\":\"DEFAULT\","
                                   "\"serviceName\":\"DEFAULT_GROUP@@fa\",\"weight\":1.0,\"metadata\":{}}")));
    assert_int_equal((int)jnum(b, "code"), 10200);
    cJSON_Delete(b);
    assert_int_equal(hosts(s, "serviceName=fa"), 2);

    /* the UDP subscriptions were dropped too: fa (1) in the second call, fb (1) in the first */
    close(ufd);
    if (subs_fb != 1 || subs_all != 1)
        fail_msg("forget answered subscriptions %ld (fb) and %ld (all), want 1 and 1", subs_fb, subs_all);
    nm_test_stop(s);
}

/* ================================================================== reset */

static int count_instances(const cJSON *dump)
{
    int n = 0;
    const cJSON *ns, *svc;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(dump, "namespaces"))
        cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(ns, "services"))
            n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(svc, "instances"));
    return n;
}

static void test_reset(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    reg(s, "serviceName=r1&ip=10.0.0.1&port=1");
    reg(s, "serviceName=r1&ip=10.0.0.2&port=1&ephemeral=false&namespaceId=dev");
    add_fault(s, "{\"id\":\"x\",\"match\":{\"api\":\"detail\"},\"action\":{\"status\":418}}");
    expect_get(s, "/nacos/v1/ns/instance?serviceName=r1&ip=10.0.0.1&port=1", 418, NULL);
    cJSON_Delete(jexpect(s, "POST", "/__mock/clock/advance", "{\"ms\":5000}", 200));
    int up;
    int ufd = udp_bind(&up);
    subscribe(s, "r1", up);
    cJSON *m = nm_get_json(s, "/nacos/v1/ns/operator/metrics");
    assert_int_equal((int)jnum(m, "subscribeCount"), 1);
    cJSON_Delete(m);
    cJSON_Delete(jexpect(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}", 200));
    assert_true(journal_total(s, NULL) > 0);

    cJSON_Delete(jexpect(s, "POST", "/__mock/reset", NULL, 200));
    cJSON *d = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "namespaces")), 0);
    cJSON_Delete(d);
    cJSON *l = jexpect(s, "GET", "/__mock/faults", NULL, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "faults")), 0);
    cJSON_Delete(l);
    assert_int_equal(journal_total(s, NULL), 0);
    cJSON *c = jexpect(s, "GET", "/__mock/clock", NULL, 200);
    assert_int_equal((int)jnum(c, "offsetMs"), 0);
    cJSON_Delete(c);
    c = jexpect(s, "GET", "/__mock/status", NULL, 200);
    assert_string_equal(jstr(c, "status"), "UP");
    cJSON_Delete(c);
    m = nm_get_json(s, "/nacos/v1/ns/operator/metrics");   /* UP, and the subscription is gone */
    assert_string_equal(jstr(m, "status"), "UP");
    assert_int_equal((int)jnum(m, "subscribeCount"), 0);
    cJSON_Delete(m);
    close(ufd);
    /* no fault rule, and the service is gone */
    expect_get(s, "/nacos/v1/ns/instance?serviceName=r1&ip=10.0.0.1&port=1", 500, "caused: no service DEFAULT_GROUP@@r1 found!;");
    assert_int_equal(journal_total(s, NULL), 2);
    nm_test_stop(s);

    /* with --fixtures: reset empties, then reloads the fixtures */
    const char *args[] = {"--fixtures", fixture("registry.json"), NULL};
    s = nm_test_start(args);
    cJSON *d0 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(count_instances(d0), 4);
    reg(s, "serviceName=extra&ip=10.0.0.1&port=1");
    struct nm_resp r;
    nm_http(s, "DELETE", "/nacos/v1/ns/instance?serviceName=order-service&ip=127.0.0.1&port=18081&ephemeral=false",
            NULL, NULL, NULL, &r);
    expect_text(&r, 200, "ok");
    nm_resp_free(&r);
    assert_int_equal(hosts(s, "serviceName=order-service"), 1);
    cJSON_Delete(jexpect(s, "POST", "/__mock/reset", NULL, 200));
    cJSON *d1 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(count_instances(d1), 4);
    assert_int_equal(hosts(s, "serviceName=order-service"), 2);
    assert_int_equal(hosts(s, "serviceName=extra"), 0);
    cJSON_Delete(d0);
    cJSON_Delete(d1);
    nm_test_stop(s);
}

/* ================================================================== registry snapshots */

/* Removes the fields that say when (not what) from a dump. */
static void strip_times(cJSON *dump)
{
    cJSON_DeleteItemFromObject(dump, "nowMs");
}

static void test_registry_round_trip(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    reg(s, "serviceName=rt-a&ip=10.0.0.1&port=8080&weight=2.5&metadata=%7B%22k%22%3A%22v%22%7D&clusterName=C1");
    reg(s, "serviceName=rt-a&ip=10.0.0.2&port=8080&ephemeral=false");
    reg(s, "serviceName=G%40%40rt-b&ip=10.0.0.3&port=9090&enabled=false");
    reg(s, "serviceName=rt-a&ip=10.0.0.4&port=8080&namespaceId=dev");
    struct nm_resp r;
    nm_post_form(s, "/nacos/v1/ns/service", "serviceName=rt-c&protectThreshold=0.5&metadata=%7B%22team%22%3A%22x%22%7D", &r);
    expect_text(&r, 200, "ok");
    nm_resp_free(&r);
    nm_http(s, "PUT", "/nacos/v1/ns/health/instance?serviceName=rt-a&ip=10.0.0.2&port=8080&healthy=false", NULL, NULL,
            NULL, &r);
    expect_text(&r, 200, "ok");
    nm_resp_free(&r);
    cJSON_Delete(jexpect(s, "POST", "/__mock/clock/advance", "{\"ms\":16000}", 200));   /* 10.0.0.1, .3, .4 unhealthy */

    cJSON *d1 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(count_instances(d1), 4);
    cJSON_Delete(jexpect(s, "POST", "/__mock/reset", NULL, 200));
    cJSON *empty = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(empty, "namespaces")), 0);
    cJSON_Delete(empty);
    char *text = cJSON_PrintUnformatted(d1);
    cJSON *counts = jexpect(s, "POST", "/__mock/registry", text, 200);
    free(text);
    assert_int_equal((int)jnum(counts, "services"), 4);
    assert_int_equal((int)jnum(counts, "instances"), 4);
    cJSON_Delete(counts);
    cJSON *d2 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    strip_times(d1);
    strip_times(d2);
    assert_json_equal(d2, d1);   /* health, lastBeatMs and timeouts come back as they were */
    assert_int_equal(hosts(s, "serviceName=rt-a"), 2);

    /* loading adds to what is there */
    cJSON *add = jexpect(s, "POST", "/__mock/registry",
                         "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":[{\"name\":\"rt-a\",\"instances\":"
                         "[{\"ip\":\"10.0.0.9\",\"port\":1}]}]}]}",
                         200);
    assert_int_equal((int)jnum(add, "instances"), 1);
    cJSON_Delete(add);
    assert_int_equal(hosts(s, "serviceName=rt-a"), 3);
    cJSON *d3 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(count_instances(d3), 5);
    strip_times(d3);

    /* invalid snapshots: 400 naming the path, nothing changed (valid services come first) */
#define SVC_OK "{\"name\":\"new-ok\",\"instances\":[{\"ip\":\"10.1.0.1\",\"port\":1}]}"
#define INST_OK "{\"ip\":\"10.1.0.2\",\"port\":2}"
    static const struct { const char *snap, *needle; } bad[] = {
        {"{\"namespaces\":[{\"services\":[" SVC_OK ",{\"name\":\"x\",\"instances\":[" INST_OK "," INST_OK
         ",{\"ip\":\"10.1.0.3\",\"port\":\"x\"}]}]}]}",
         "namespaces[0].services[1].instances[2]: field 'port'"},
        {"{\"namespaces\":[{\"services\":[" SVC_OK "]},{\"namespaceId\":\"dev\",\"services\":[{\"name\":\"x\","
         "\"instances\":[{\"port\":1}]}]}]}",
         "namespaces[1].services[0].instances[0]: field 'ip'"},
        {"{\"namespaces\":[{\"services\":[" SVC_OK ",{\"instances\":[]}]}]}", "namespaces[0].services[1]: field 'name'"},
        {"{\"namespaces\":[{\"services\":[{\"name\":\"x\",\"instances\":[" INST_OK ",{\"ip\":\"10.1.0.3\",\"port\":3,"
         "\"healthy\":\"yes\"}]}]}]}",
         "namespaces[0].services[0].instances[1]: field 'healthy'"},
        {"{\"namespaces\":[{\"services\":[{\"name\":\"x\",\"instances\":[{\"ip\":\"10.1.0.3\",\"port\":3,"
         "\"weight\":20000}]}]}]}",
         "namespaces[0].services[0].instances[0]: field 'weight'"},
        {"{\"namespaces\":[{\"services\":[{\"name\":\"x\",\"protectThreshold\":2}]}]}",
         "namespaces[0].services[0]: field 'protectThreshold'"},
        {"{\"namespaces\":[{\"services\":[{\"name\":\"x\",\"instances\":{}}]}]}", "namespaces[0].services[0]: field 'instances'"},
        {"{\"namespaces\":[" "{\"services\":[" SVC_OK "]}, 5]}", "namespaces[1]"},
        {"{\"namespaces\":{}}", "namespaces"},
        {"{}", "namespaces"},
        {"{\"namespaces\":[{\"namespaceId\":7}]}", "namespaces[0]: field 'namespaceId'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_error(s, "POST", "/__mock/registry", bad[i].snap, 400, bad[i].needle);
    expect_error(s, "POST", "/__mock/registry", "{\"namespaces\":[", 400, "JSON");
#undef SVC_OK
#undef INST_OK
    cJSON *d4 = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    strip_times(d4);
    assert_json_equal(d4, d3);
    assert_int_equal(hosts(s, "serviceName=new-ok"), 0);
    cJSON_Delete(d1);
    cJSON_Delete(d2);
    cJSON_Delete(d3);
    cJSON_Delete(d4);
    nm_test_stop(s);
}

static const cJSON *find_service(const cJSON *dump, const char *ns, const char *name)
{
    const cJSON *n, *svc;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(dump, "namespaces")) {
        if (strcmp(jstr(n, "namespaceId"), ns)) continue;
        cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(n, "services"))
            if (!strcmp(jstr(svc, "name"), name)) return svc;
    }
    fail_msg("service %s/%s not in the dump", ns, name);
    return NULL;
}

static void test_fixtures_at_start(void **state)
{
    (void)state;
    const char *args[] = {"--fixtures", fixture("registry.json"), NULL};
    struct nm_server *s = nm_test_start(args);
    cJSON *d = jexpect(s, "GET", "/__mock/registry", NULL, 200);
    assert_int_equal(count_instances(d), 4);
    const cJSON *order = find_service(d, "public", "order-service");
    assert_string_equal(jstr(order, "groupName"), "DEFAULT_GROUP");
    assert_string_equal(jstr(cJSON_GetObjectItem(order, "metadata"), "owner"), "team-orders");
    const cJSON *insts = cJSON_GetObjectItemCaseSensitive(order, "instances");
    assert_int_equal(cJSON_GetArraySize(insts), 2);
    const cJSON *in;
    double wsum = 0;
    cJSON_ArrayForEach(in, insts) {
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(in, "ephemeral")));
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "healthy")));
        wsum += jnum(in, "weight");
    }
    assert_true(wsum == 3.0);
    const cJSON *pay = find_service(d, "public", "payment-service");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItem(pay, "instances"), 0),
                                                               "healthy")));
    find_service(d, "staging", "order-service");
    cJSON_Delete(d);
    assert_int_equal(hosts(s, "serviceName=order-service"), 2);
    assert_int_equal(hosts(s, "serviceName=order-service&namespaceId=staging"), 1);
    nm_test_stop(s);
}

/* ================================================================== journal */

static void test_journal(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    add_fault(s, "{\"id\":\"j3-500\",\"match\":{\"api\":\"register\",\"serviceName\":\"j3\"},\"action\":{\"status\":500}}");
    reg(s, "serviceName=j1&ip=10.0.0.1&port=8081");                      /* 1 */
    reg(s, "serviceName=j1&ip=10.0.0.2&port=8082");                      /* 2 */
    reg(s, "serviceName=G%40%40j2&ip=10.0.0.1&port=8081");               /* 3 */
    struct nm_resp r;
    reg_status(s, "serviceName=j3&ip=10.0.0.3&port=8083", &r);          /* 4: 500 */
    nm_resp_free(&r);
    assert_int_equal(hosts(s, "serviceName=j1"), 2);                     /* 5 */
    cJSON_Delete(beat_json(s, "serviceName=j1&ip=10.0.0.2&port=8082"));  /* 6 */
    /* control calls are not journalled */
    cJSON_Delete(jexpect(s, "GET", "/__mock/faults", NULL, 200));
    cJSON_Delete(jexpect(s, "GET", "/__mock/clock", NULL, 200));

    cJSON *j = journal(s, NULL);
    assert_int_equal((int)jnum(j, "total"), 6);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "requests"), *e;
    assert_int_equal(cJSON_GetArraySize(arr), 6);
    const char *apis[] = {"register", "register", "register", "register", "list", "beat"};
    double prev_seq = 0;
    int i = 0;
    cJSON_ArrayForEach(e, arr) {
        assert_string_equal(jstr(e, "api"), apis[i]);
        assert_true(jnum(e, "seq") > prev_seq);   /* oldest first */
        prev_seq = jnum(e, "seq");
        assert_true(jnum(e, "timeMs") > 1.6e12);
        assert_true(jnum(e, "durationMs") >= 0);
        assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, "params")));
        i++;
    }
    e = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(jstr(e, "method"), "POST");
    assert_string_equal(jstr(e, "path"), "/nacos/v1/ns/instance");
    assert_int_equal((int)jnum(e, "status"), 200);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "fault")));
    cJSON *params = cJSON_GetObjectItemCaseSensitive(e, "params");
    assert_string_equal(jstr(params, "serviceName"), "j1");
    assert_string_equal(jstr(params, "ip"), "10.0.0.1");
    assert_string_equal(jstr(params, "port"), "8081");
    e = cJSON_GetArrayItem(arr, 3);
    assert_int_equal((int)jnum(e, "status"), 500);
    assert_string_equal(jstr(e, "fault"), "j3-500");
    double seq3 = jnum(cJSON_GetArrayItem(arr, 2), "seq");
    cJSON_Delete(j);

    assert_int_equal(journal_total(s, "api=register"), 4);
    assert_int_equal(journal_total(s, "api=beat"), 1);
    assert_int_equal(journal_total(s, "api=nope"), 0);
    assert_int_equal(journal_total(s, "serviceName=j1"), 4);   /* 2 registers, the list, the beat */
    assert_int_equal(journal_total(s, "serviceName=j2"), 1);   /* a bare name matches the grouped one */
    assert_int_equal(journal_total(s, "serviceName=G%40%40j2"), 1);
    assert_int_equal(journal_total(s, "serviceName=DEFAULT_GROUP%40%40j2"), 0);
    assert_int_equal(journal_total(s, "ip=10.0.0.1"), 2);
    assert_int_equal(journal_total(s, "ip=10.0.0.2"), 2);
    assert_int_equal(journal_total(s, "port=8082"), 2);
    assert_int_equal(journal_total(s, "port=8083"), 1);
    assert_int_equal(journal_total(s, "status=500"), 1);
    assert_int_equal(journal_total(s, "status=200"), 5);
    assert_int_equal(journal_total(s, "api=register&ip=10.0.0.1&port=8081"), 2);
    assert_int_equal(journal_total(s, nm_fmt("since=%.0f", seq3)), 3);
    j = journal(s, nm_fmt("since=%.0f&api=register", seq3));
    assert_int_equal((int)jnum(j, "total"), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "requests"), 0), "fault"), "j3-500");
    cJSON_Delete(j);
    j = journal(s, "limit=2");
    assert_int_equal((int)jnum(j, "total"), 6);   /* total counts every match, limit caps the list */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "requests")), 2);
    cJSON_Delete(j);
    j = journal(s, "limit=0&api=register");
    assert_int_equal((int)jnum(j, "total"), 4);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "requests")), 0);
    cJSON_Delete(j);
    expect_error(s, "GET", "/__mock/requests?port=abc", NULL, 400, "'port'");
    expect_error(s, "GET", "/__mock/requests?limit=-1", NULL, 400, "'limit'");
    expect_error(s, "GET", "/__mock/requests?status=2000", NULL, 400, "'status'");
    expect_error(s, "GET", "/__mock/requests?since=x", NULL, 400, "'since'");

    cJSON_Delete(jexpect(s, "DELETE", "/__mock/requests", NULL, 204));
    assert_int_equal(journal_total(s, NULL), 0);
    assert_int_equal(hosts(s, "serviceName=j1"), 2);
    j = journal(s, NULL);
    assert_int_equal((int)jnum(j, "total"), 1);
    assert_true(jnum(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "requests"), 0), "seq") > prev_seq);
    cJSON_Delete(j);
    /* a grouped filter finds a request that named the group apart (groupName) or not at all (DEFAULT_GROUP) */
    reg(s, "serviceName=j4&groupName=G4&ip=10.0.0.9&port=1");
    assert_int_equal(hosts(s, "serviceName=G4%40%40j4"), 1);
    assert_int_equal(journal_total(s, "serviceName=j4"), 2);
    assert_int_equal(journal_total(s, "serviceName=G4%40%40j4"), 2);
    assert_int_equal(journal_total(s, "serviceName=DEFAULT_GROUP%40%40j4"), 0);
    assert_int_equal(journal_total(s, "serviceName=DEFAULT_GROUP%40%40j1"), 1);
    assert_int_equal(journal_total(s, "serviceName=G4%40%40j1"), 0);
    nm_test_stop(s);

    /* --journal-size 0: no journal */
    const char *off[] = {"--journal-size", "0", NULL};
    s = nm_test_start(off);
    assert_int_equal(hosts(s, "serviceName=k"), 0);
    j = journal(s, NULL);
    assert_int_equal((int)jnum(j, "total"), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "requests")), 0);
    cJSON_Delete(j);
    cJSON_Delete(jexpect(s, "DELETE", "/__mock/requests", NULL, 204));
    nm_test_stop(s);

    /* --journal-size 5 keeps the newest 5 */
    const char *args[] = {"--journal-size", "5", NULL};
    s = nm_test_start(args);
    for (int k = 0; k < 8; k++) hosts(s, nm_fmt("serviceName=k%d", k));
    j = journal(s, NULL);
    assert_int_equal((int)jnum(j, "total"), 5);
    arr = cJSON_GetObjectItem(j, "requests");
    assert_int_equal(cJSON_GetArraySize(arr), 5);
    for (int k = 0; k < 5; k++)
        assert_string_equal(jstr(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, k), "params"), "serviceName"),
                            nm_fmt("k%d", k + 3));
    cJSON_Delete(j);
    /* identical parameters are stored once and shared by the entries that carry them; they must
     * outlive the older entries the ring drops, and a cleared journal starts afresh */
    for (int k = 0; k < 7; k++) hosts(s, k % 2 ? "serviceName=same" : nm_fmt("serviceName=d%d", k));
    j = journal(s, NULL);
    arr = cJSON_GetObjectItem(j, "requests");
    assert_int_equal(cJSON_GetArraySize(arr), 5);
    const char *want[] = {"d2", "same", "d4", "same", "d6"};
    for (int k = 0; k < 5; k++)
        assert_string_equal(jstr(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, k), "params"), "serviceName"), want[k]);
    cJSON_Delete(j);
    cJSON_Delete(jexpect(s, "DELETE", "/__mock/requests", NULL, 204));
    for (int k = 0; k < 7; k++) hosts(s, "serviceName=same");
    j = journal(s, "serviceName=same");
    assert_int_equal((int)jnum(j, "total"), 5);
    arr = cJSON_GetObjectItem(j, "requests");
    for (int k = 0; k < 5; k++)
        assert_string_equal(jstr(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, k), "params"), "serviceName"), "same");
    cJSON_Delete(j);
    nm_test_stop(s);
}

/* ================================================================== --admin-token */

/* limit without since gives the newest entries, with since the oldest after it; GET /__mock/faults/{id}. */
static void test_journal_limit_and_fault_get(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    for (int i = 1; i <= 5; i++) reg(s, nm_fmt("serviceName=lim&ip=10.0.0.%d&port=80", i));
    cJSON *j = journal(s, "api=register&limit=2");
    assert_int_equal((int)jnum(j, "total"), 5);
    cJSON *reqs = cJSON_GetObjectItemCaseSensitive(j, "requests");
    assert_int_equal(cJSON_GetArraySize(reqs), 2);
    const cJSON *p0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(reqs, 0), "params");
    const cJSON *p1 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(reqs, 1), "params");
    assert_string_equal(jstr(p0, "ip"), "10.0.0.4");   /* the newest two, oldest first */
    assert_string_equal(jstr(p1, "ip"), "10.0.0.5");
    double first_seq = jnum(cJSON_GetArrayItem(reqs, 0), "seq");
    cJSON_Delete(j);
    j = journal(s, nm_fmt("api=register&since=%.0f&limit=1", first_seq - 3));
    reqs = cJSON_GetObjectItemCaseSensitive(j, "requests");
    assert_int_equal(cJSON_GetArraySize(reqs), 1);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(reqs, 0), "params"), "ip"), "10.0.0.2");
    cJSON_Delete(j);

    add_fault(s, "{\"id\":\"one\",\"match\":{\"api\":\"detail\"},\"action\":{\"status\":500},\"times\":3}");
    cJSON *f = jexpect(s, "GET", "/__mock/faults/one", NULL, 200);
    assert_string_equal(jstr(f, "id"), "one");
    assert_int_equal((int)jnum(f, "remaining"), 3);
    cJSON_Delete(f);
    expect_error(s, "GET", "/__mock/faults/nope", NULL, 404, "nope");
    nm_test_stop(s);
}

static long ctl_with(const struct nm_server *s, const char *method, const char *path, const char *json, const char *auth,
                     struct nm_resp *r)
{
    const char *h[] = {auth, NULL};
    return nm_http_h(s, method, path, json, json ? JSON_CT : NULL, NULL, auth ? h : NULL, r);
}

static void test_admin_token(void **state)
{
    (void)state;
    const char *args[] = {"--admin-token", "s3cret", NULL};
    struct nm_server *s = nm_test_start(args);
    reg(s, "serviceName=tok&ip=10.0.0.1&port=1");   /* the Nacos API needs no token */
    assert_int_equal(hosts(s, "serviceName=tok"), 1);
    static const struct { const char *method, *path, *json; } calls[] = {
        {"GET", "/__mock/faults", NULL},
        {"POST", "/__mock/faults", "{\"match\":{\"api\":\"list\"},\"action\":{\"status\":500}}"},
        {"DELETE", "/__mock/faults", NULL},
        {"POST", "/__mock/reset", NULL},
        {"POST", "/__mock/forget", NULL},
        {"GET", "/__mock/requests", NULL},
        {"DELETE", "/__mock/requests", NULL},
        {"GET", "/__mock/registry", NULL},
        {"PUT", "/__mock/status", "{\"status\":\"DOWN\"}"},
        {"POST", "/__mock/clock/advance", "{\"ms\":100000}"},
        {"GET", "/__mock/clock", NULL},
    };
    const char *wrong[] = {NULL, "Authorization: Bearer wrong", "Authorization: Bearer s3cret2",
                           "Authorization: Basic s3cret", "Authorization: s3cret", "Authorization: Bearer "};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
            struct nm_resp r;
            ctl_with(s, calls[i].method, calls[i].path, calls[i].json, wrong[k], &r);
            if (r.status != 401) fail_msg("%s %s with '%s' -> %ld, want 401", calls[i].method, calls[i].path,
                                          wrong[k] ? wrong[k] : "(none)", r.status);
            cJSON *j = cJSON_Parse(r.body);
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error"))) fail_msg("401 body %s", r.body);
            cJSON_Delete(j);
            nm_resp_free(&r);
        }
    /* nothing of that happened */
    assert_int_equal(hosts(s, "serviceName=tok"), 1);
    struct nm_resp r;
    ctl_with(s, "GET", "/__mock/faults", NULL, "Authorization: Bearer s3cret", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"faults\":[]}");
    nm_resp_free(&r);
    ctl_with(s, "GET", "/__mock/requests", NULL, "Authorization: Bearer s3cret", &r);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    assert_int_equal((int)jnum(j, "total"), 3);
    cJSON_Delete(j);
    nm_resp_free(&r);
    ctl_with(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}", "Authorization: Bearer s3cret", &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    expect_get(s, "/nacos/v1/ns/instance/list?serviceName=tok", 503, DOWN_TEXT);
    ctl_with(s, "POST", "/__mock/reset", NULL, "Authorization: Bearer s3cret", &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    assert_int_equal(hosts(s, "serviceName=tok"), 0);
    nm_test_stop(s);
}

/* ================================================================== UDP push faults */

static void test_push_faults(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    int up;
    int fd = udp_bind(&up);
    subscribe(s, "pushed", up);
    char buf[65536];
    /* without a fault: a change is pushed at once */
    reg(s, "serviceName=pushed&ip=10.0.0.1&port=1");
    int n = udp_recv(fd, (long)(1000 * LATE_S), buf, sizeof buf);
    if (n <= 0) fail_msg("no push within %.0f s of a change", LATE_S);
    if (buf[0] == '{' && !strstr(buf, "\"dom\"")) fail_msg("not a dom push: %s", buf);
    udp_drain(fd);

    /* drop: the push never comes */
    add_fault(s, "{\"id\":\"push-drop\",\"match\":{\"api\":\"push\",\"serviceName\":\"pushed\"},\"action\":{\"drop\":\"close\"}}");
    reg(s, "serviceName=pushed&ip=10.0.0.2&port=1");
    cJSON *f = NULL;
    for (double w0 = now_s();; sleep_ms(10)) {   /* the push thread has acted on the change */
        f = fault_listed(s, "push-drop");
        if ((int)jnum(f, "hits") == 1) break;
        cJSON_Delete(f);
        if (now_s() - w0 > LATE_S) fail_msg("the push rule never fired");
    }
    cJSON_Delete(f);
    n = udp_recv(fd, 300, buf, sizeof buf);
    if (n > 0) fail_msg("a push came despite the drop rule: %.200s", buf);
    cJSON_Delete(jexpect(s, "DELETE", "/__mock/faults/push-drop", NULL, 204));

    /* delay: it comes, late */
    add_fault(s, nm_fmt("{\"id\":\"push-late\",\"match\":{\"api\":\"push\",\"ip\":\"127.0.0.1\",\"port\":%d},"
                        "\"action\":{\"delayMs\":800}}",
                        up));
    double t0 = now_s();
    reg(s, "serviceName=pushed&ip=10.0.0.3&port=1");
    n = udp_recv(fd, (long)(1000 * (0.8 + LATE_S)), buf, sizeof buf);
    double dt = now_s() - t0;
    if (n <= 0) fail_msg("the delayed push did not come within %.1f s", 0.8 + LATE_S);
    if (dt < 0.8) fail_msg("the delayed push came after %.3f s, want >= 0.8 s", dt);
    f = fault_listed(s, "push-late");
    assert_int_equal((int)jnum(f, "hits"), 1);
    cJSON_Delete(f);
    /* "any" is about HTTP: a push is not faulted by it (and HTTP of other services is untouched) */
    cJSON_Delete(jexpect(s, "DELETE", "/__mock/faults", NULL, 204));
    add_fault(s, "{\"id\":\"any-drop\",\"match\":{\"api\":\"any\",\"serviceName\":\"nobody\"},\"action\":{\"drop\":\"close\"}}");
    add_fault(s, "{\"id\":\"any-all\",\"match\":{\"api\":\"any\",\"method\":\"PATCH\"},\"action\":{\"status\":500}}");
    udp_drain(fd);
    reg(s, "serviceName=pushed&ip=10.0.0.4&port=1");
    n = udp_recv(fd, (long)(1000 * LATE_S), buf, sizeof buf);
    if (n <= 0) fail_msg("an \"any\" rule stopped a push");
    close(fd);
    nm_test_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const char *only = getenv("NM_TEST_FILTER");   /* e.g. NM_TEST_FILTER='test_drop*' */
    if (only && *only) cmocka_set_test_filter(only);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_status_actions, nm_test_teardown),
        cmocka_unit_test_teardown(test_match_filters_http, nm_test_teardown),
        cmocka_unit_test_teardown(test_delay_jitter_concurrent, nm_test_teardown),
        cmocka_unit_test_teardown(test_drop_close, nm_test_teardown),
        cmocka_unit_test_teardown(test_drop_reset, nm_test_teardown),
        cmocka_unit_test_teardown(test_drop_hang, nm_test_teardown),
        cmocka_unit_test_teardown(test_stop_with_requests_in_flight, nm_test_teardown),
        cmocka_unit_test_teardown(test_beat_code, nm_test_teardown),
        cmocka_unit_test_teardown(test_after_times_for_ms, nm_test_teardown),
        cmocka_unit_test_teardown(test_faults_crud, nm_test_teardown),
        cmocka_unit_test_teardown(test_start_faults, nm_test_teardown),
        cmocka_unit_test_teardown(test_invalid_start_faults, nm_test_teardown),
        cmocka_unit_test_teardown(test_seed_reproducible, nm_test_teardown),
        cmocka_unit_test_teardown(test_server_status, nm_test_teardown),
        cmocka_unit_test_teardown(test_forget, nm_test_teardown),
        cmocka_unit_test_teardown(test_reset, nm_test_teardown),
        cmocka_unit_test_teardown(test_journal_limit_and_fault_get, nm_test_teardown),
        cmocka_unit_test_teardown(test_registry_round_trip, nm_test_teardown),
        cmocka_unit_test_teardown(test_fixtures_at_start, nm_test_teardown),
        cmocka_unit_test_teardown(test_journal, nm_test_teardown),
        cmocka_unit_test_teardown(test_admin_token, nm_test_teardown),
        cmocka_unit_test_teardown(test_push_faults, nm_test_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
