/*
 * test_health.c — heartbeat and health over real HTTP (nacos-api.md §3, control-api.md "Virtual
 * clock"): the virtual clock drives UNHEALTHY and REMOVED, beats restore health, per-instance
 * metadata and the --beat-interval-ms/--unhealthy-misses/--delete-misses flags move the
 * thresholds, persistent instances only change through the health API, and one test lets the
 * real sweeper thread do the work in real time.
 *
 * The virtual clock is real time plus an offset, so a few real milliseconds pass between two
 * requests. Exact boundaries are the unit test's job (test_sweeper.c); here each step keeps a
 * margin of hundreds of milliseconds in the direction real time cannot spoil, and every reported
 * sinceLastBeatMs is checked exactly against the answer's nowMs and the instance's lastBeatMs from
 * /__mock/registry.
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

#include <cmocka.h>

#include "harness.h"

#define SVC "health"
#define GSVC "DEFAULT_GROUP@@" SVC
#define ID_A "10.0.0.1#8080#DEFAULT#" GSVC
#define ID_B "10.0.0.2#8080#DEFAULT#" GSVC

/* The test's server; the teardown kills it when an assertion ended the test early. */

static void reg(struct nm_server *s, const char *svc, const char *ip, const char *extra)
{
    struct nm_resp r;
    nm_post_form(s, "/nacos/v1/ns/instance",
                 nm_fmt("serviceName=%s&ip=%s&port=8080%s%s", svc, ip, extra ? "&" : "", extra ? extra : ""), &r);
    if (r.status != 200) fail_msg("register %s %s -> %ld %s", svc, ip, r.status, r.body);
    assert_string_equal(r.body, "ok");
    nm_resp_free(&r);
}

/* Light beat (no `beat` JSON); returns the answer (caller deletes). */
static cJSON *beat(struct nm_server *s, const char *svc, const char *ip)
{
    struct nm_resp r;
    nm_http(s, "PUT", nm_fmt("/nacos/v1/ns/instance/beat?serviceName=%s&ip=%s&port=8080", svc, ip), NULL, NULL,
            NULL, &r);
    if (r.status != 200) fail_msg("beat %s %s -> %ld %s", svc, ip, r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    nm_resp_free(&r);
    assert_non_null(j);
    return j;
}

static void beat_ok(struct nm_server *s, const char *svc, const char *ip, long interval)
{
    cJSON *j = beat(s, svc, ip);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")), 10200);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "clientBeatInterval")), interval);
    cJSON_Delete(j);
}

static cJSON *advance(struct nm_server *s, long ms)
{
    struct nm_resp r;
    nm_http(s, "POST", "/__mock/clock/advance", nm_fmt("{\"ms\":%ld}", ms), "application/json", NULL, &r);
    if (r.status != 200) fail_msg("advance %ld -> %ld %s", ms, r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    nm_resp_free(&r);
    assert_non_null(j);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "changes")));
    return j;
}

static int n_changes(const cJSON *adv)
{
    return cJSON_GetArraySize(cJSON_GetObjectItem(adv, "changes"));
}

static int64_t num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("field '%s' is not a number", key);
    return (int64_t)v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsString(v)) fail_msg("field '%s' is not a string", key);
    return v->valuestring;
}

/* The instance's lastBeatMs as /__mock/registry reports it (service in DEFAULT_GROUP/public). */
static int64_t last_beat(struct nm_server *s, const char *svc, const char *ip)
{
    cJSON *reg = nm_get_json(s, "/__mock/registry");
    assert_non_null(reg);
    int64_t out = -1;
    const cJSON *ns, *sv, *in;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItem(reg, "namespaces")) {
        if (strcmp(str(ns, "namespaceId"), "public")) continue;
        cJSON_ArrayForEach(sv, cJSON_GetObjectItem(ns, "services")) {
            if (strcmp(str(sv, "name"), svc) || strcmp(str(sv, "groupName"), "DEFAULT_GROUP")) continue;
            cJSON_ArrayForEach(in, cJSON_GetObjectItem(sv, "instances"))
                if (!strcmp(str(in, "ip"), ip) && num(in, "port") == 8080) out = num(in, "lastBeatMs");
        }
    }
    cJSON_Delete(reg);
    if (out < 0) fail_msg("%s %s not in /__mock/registry", svc, ip);
    return out;
}

/* Finds the change for instanceId `id` with the given `to`; checks every field. */
static void assert_change(const cJSON *adv, const char *id, const char *svc_grouped, const char *from, const char *to,
                          int64_t last)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(adv, "changes")) {
        if (strcmp(str(c, "instanceId"), id) || strcmp(str(c, "to"), to)) continue;
        assert_string_equal(str(c, "from"), from);
        assert_string_equal(str(c, "namespaceId"), "public");
        assert_string_equal(str(c, "serviceName"), svc_grouped);
        assert_int_equal(num(c, "sinceLastBeatMs"), num(adv, "nowMs") - last);
        return;
    }
    static char txt[4096];
    char *t = cJSON_PrintUnformatted(adv);
    snprintf(txt, sizeof txt, "%s", t ? t : "");
    cJSON_free(t);
    fail_msg("no change %s -> %s for %s in %s", from, to, id, txt);
}

static cJSON *list(struct nm_server *s, const char *query)
{
    cJSON *j = nm_get_json(s, nm_fmt("/nacos/v1/ns/instance/list?%s", query));
    assert_non_null(j);
    return j;
}

static const cJSON *host(const cJSON *lst, const char *ip)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(lst, "hosts"))
        if (!strcmp(str(h, "ip"), ip)) return h;
    return NULL;
}

static bool is_true(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsBool(v)) fail_msg("field '%s' is not a boolean", key);
    return cJSON_IsTrue(v);
}

/* Raw health from the detail endpoint (no protect threshold there): 1, 0, or -1 when unknown. */
static int detail_healthy(struct nm_server *s, const char *svc, const char *ip)
{
    struct nm_resp r;
    nm_get(s, nm_fmt("/nacos/v1/ns/instance?serviceName=%s&ip=%s&port=8080", svc, ip), &r);
    int out = -1;
    if (r.status == 200) {
        cJSON *j = cJSON_Parse(r.body);
        out = is_true(j, "healthy") ? 1 : 0;
        cJSON_Delete(j);
    } else {
        assert_int_equal(r.status, 500);
    }
    nm_resp_free(&r);
    return out;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    char *buf = nm_read_all(f);
    fclose(f);
    return buf;
}

/* The server's stderr has a transition line `health FROM -> TO instance=ID `. */
static bool logged(const struct nm_server *s, const char *from, const char *to, const char *id)
{
    char needle[600];
    snprintf(needle, sizeof needle, "health %s -> %s instance=%s ", from, to, id);
    char *log = slurp(s->err_path);
    bool found = strstr(log, needle) != NULL;
    free(log);
    return found;
}

static void assert_logged(const struct nm_server *s, const char *from, const char *to, const char *id)
{
    if (!logged(s, from, to, id)) {
        static char tail[6000];
        char *log = slurp(s->err_path);
        size_t n = strlen(log);
        snprintf(tail, sizeof tail, "%s", n >= sizeof tail ? log + n - (sizeof tail - 1) : log);
        free(log);
        fail_msg("stderr lacks 'health %s -> %s instance=%s'; its tail:\n%s", from, to, id, tail);
    }
}

/* ------------------------------------------------------------------ virtual clock */

static void test_unhealthy_then_removed(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1", NULL);
    reg(s, SVC, "10.0.0.2", NULL);
    int64_t la = last_beat(s, SVC, "10.0.0.1");

    cJSON *adv = advance(s, 14500);
    assert_int_equal(n_changes(adv), 0);
    assert_true(num(adv, "nowMs") - la <= 15000);
    assert_true(num(adv, "offsetMs") == 14500);
    cJSON_Delete(adv);
    cJSON *l = list(s, "serviceName=" SVC);
    assert_true(is_true(host(l, "10.0.0.1"), "healthy"));
    assert_true(is_true(host(l, "10.0.0.2"), "healthy"));
    assert_false(is_true(l, "reachProtectionThreshold"));
    cJSON_Delete(l);

    beat_ok(s, SVC, "10.0.0.2", 5000);   /* b stays healthy, so a's health is not masked */
    adv = advance(s, 1000);              /* a: 15500 ms + real time since its last beat */
    assert_int_equal(n_changes(adv), 1);
    assert_change(adv, ID_A, GSVC, "HEALTHY", "UNHEALTHY", la);
    assert_true(num(adv, "nowMs") - la > 15000);
    assert_int_equal(num(adv, "offsetMs"), 15500);
    cJSON_Delete(adv);

    l = list(s, "serviceName=" SVC);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "hosts")), 2);
    assert_false(is_true(l, "reachProtectionThreshold"));
    const cJSON *a = host(l, "10.0.0.1"), *b = host(l, "10.0.0.2");
    assert_false(is_true(a, "healthy"));
    assert_false(is_true(a, "valid"));
    assert_true(is_true(b, "healthy"));
    assert_string_equal(str(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "hosts"), 0), "ip"), "10.0.0.2");  /* healthy first */
    cJSON_Delete(l);
    l = list(s, "serviceName=" SVC "&healthyOnly=true");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "hosts")), 1);
    assert_non_null(host(l, "10.0.0.2"));
    cJSON_Delete(l);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 0);
    assert_logged(s, "HEALTHY", "UNHEALTHY", ID_A);

    beat_ok(s, SVC, "10.0.0.2", 5000);
    adv = advance(s, 14600);   /* a: past 30100 ms; b: 14600 ms since its beat */
    assert_int_equal(n_changes(adv), 1);
    assert_change(adv, ID_A, GSVC, "UNHEALTHY", "REMOVED", la);
    assert_true(num(adv, "nowMs") - la > 30000);
    cJSON_Delete(adv);
    l = list(s, "serviceName=" SVC);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "hosts")), 1);
    assert_null(host(l, "10.0.0.1"));
    assert_true(is_true(host(l, "10.0.0.2"), "healthy"));
    cJSON_Delete(l);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), -1);
    assert_logged(s, "UNHEALTHY", "REMOVED", ID_A);
    assert_false(logged(s, "HEALTHY", "UNHEALTHY", ID_B));

    /* a beat for the removed instance (no `beat` JSON): unknown, the client must re-register */
    cJSON *j = beat(s, SVC, "10.0.0.1");
    assert_int_equal(num(j, "code"), 20404);
    cJSON_Delete(j);

    cJSON *clk = nm_get_json(s, "/__mock/clock");
    assert_int_equal(num(clk, "offsetMs"), 30100);
    cJSON_Delete(clk);
    nm_test_stop(s);
}

static void test_protect_threshold_when_all_unhealthy(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1", NULL);
    reg(s, SVC, "10.0.0.2", NULL);
    int64_t la = last_beat(s, SVC, "10.0.0.1"), lb = last_beat(s, SVC, "10.0.0.2");
    cJSON *adv = advance(s, 15500);
    assert_int_equal(n_changes(adv), 2);
    assert_change(adv, ID_A, GSVC, "HEALTHY", "UNHEALTHY", la);
    assert_change(adv, ID_B, GSVC, "HEALTHY", "UNHEALTHY", lb);
    cJSON_Delete(adv);

    /* threshold 0: all unhealthy -> every host reported healthy, reachProtectionThreshold true */
    cJSON *l = list(s, "serviceName=" SVC);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "hosts")), 2);
    assert_true(is_true(l, "reachProtectionThreshold"));
    for (int i = 0; i < 2; i++) {
        const cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(l, "hosts"), i);
        assert_true(is_true(h, "healthy"));
        assert_true(is_true(h, "valid"));
    }
    cJSON_Delete(l);
    /* the true health is kept */
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 0);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.2"), 0);

    /* one beat lifts the protection: the other one shows as unhealthy again */
    beat_ok(s, SVC, "10.0.0.1", 5000);
    l = list(s, "serviceName=" SVC);
    assert_false(is_true(l, "reachProtectionThreshold"));
    assert_true(is_true(host(l, "10.0.0.1"), "healthy"));
    assert_false(is_true(host(l, "10.0.0.2"), "healthy"));
    cJSON_Delete(l);
    nm_test_stop(s);
}

static void test_beat_restores_health(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1", NULL);
    reg(s, SVC, "10.0.0.2", NULL);
    int64_t lb = last_beat(s, SVC, "10.0.0.2");
    cJSON *adv = advance(s, 15500);
    assert_int_equal(n_changes(adv), 2);
    cJSON_Delete(adv);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 0);

    beat_ok(s, SVC, "10.0.0.1", 5000);
    int64_t la = last_beat(s, SVC, "10.0.0.1");
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 1);
    assert_logged(s, "UNHEALTHY", "HEALTHY", ID_A);
    cJSON *l = list(s, "serviceName=" SVC);
    assert_true(is_true(host(l, "10.0.0.1"), "healthy"));
    assert_false(is_true(host(l, "10.0.0.2"), "healthy"));
    cJSON_Delete(l);

    /* the beat restarted a's timers; b (no beat) goes on towards removal */
    adv = advance(s, 14000);   /* a: 14000 ms since its beat, b: 29500 */
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);
    adv = advance(s, 1500);    /* a: 15500, b: 31000 */
    assert_int_equal(n_changes(adv), 2);
    assert_change(adv, ID_A, GSVC, "HEALTHY", "UNHEALTHY", la);
    assert_change(adv, ID_B, GSVC, "UNHEALTHY", "REMOVED", lb);
    cJSON_Delete(adv);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 0);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.2"), -1);
    nm_test_stop(s);
}

/* Every beat moves the instance's due time, also when nothing reads the registry between the beat
 * and the sweep (a regression test from the time beats were cached in front of SQLite). Margins:
 * 400 ms between the beats, 200 ms for the advance to reach its sweep. */
static void test_every_beat_counts(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1", NULL);
    beat_ok(s, SVC, "10.0.0.1", 5000);
    beat_ok(s, SVC, "10.0.0.1", 5000);   /* the first beat went through SQLite, this one is remembered */
    int64_t lb1 = last_beat(s, SVC, "10.0.0.1");
    usleep(400 * 1000);
    beat_ok(s, SVC, "10.0.0.1", 5000);   /* in memory only, until the next statement */
    cJSON *adv = advance(s, 14800);      /* >= 15.2 s after lb1, < 15 s after this beat */
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);
    int64_t lb2 = last_beat(s, SVC, "10.0.0.1");
    assert_true(lb2 >= lb1 + 400);
    adv = advance(s, 400);
    assert_int_equal(n_changes(adv), 1);
    assert_change(adv, ID_A, GSVC, "HEALTHY", "UNHEALTHY", lb2);
    cJSON_Delete(adv);
    nm_test_stop(s);
}

static void test_metadata_overrides(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1",
        nm_fmt("metadata=%s", nm_enc("{\"preserved.heart.beat.interval\":\"1000\",\"preserved.heart.beat.timeout\":"
                                     "\"3000\",\"preserved.ip.delete.timeout\":\"6000\"}")));
    reg(s, SVC, "10.0.0.2", NULL);
    cJSON *l = list(s, "serviceName=" SVC);
    const cJSON *a = host(l, "10.0.0.1"), *b = host(l, "10.0.0.2");
    assert_int_equal(num(a, "instanceHeartBeatInterval"), 1000);
    assert_int_equal(num(a, "instanceHeartBeatTimeOut"), 3000);
    assert_int_equal(num(a, "ipDeleteTimeout"), 6000);
    assert_int_equal(num(b, "instanceHeartBeatInterval"), 5000);
    assert_int_equal(num(b, "instanceHeartBeatTimeOut"), 15000);
    assert_int_equal(num(b, "ipDeleteTimeout"), 30000);
    cJSON_Delete(l);

    /* clientBeatInterval follows preserved.heart.beat.interval */
    beat_ok(s, SVC, "10.0.0.1", 1000);
    beat_ok(s, SVC, "10.0.0.2", 5000);
    int64_t la = last_beat(s, SVC, "10.0.0.1");

    cJSON *adv = advance(s, 2500);
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);
    adv = advance(s, 1000);   /* a: 3500 > 3000 */
    assert_int_equal(n_changes(adv), 1);
    assert_change(adv, ID_A, GSVC, "HEALTHY", "UNHEALTHY", la);
    cJSON_Delete(adv);
    l = list(s, "serviceName=" SVC);
    assert_false(is_true(host(l, "10.0.0.1"), "healthy"));
    assert_true(is_true(host(l, "10.0.0.2"), "healthy"));
    cJSON_Delete(l);
    adv = advance(s, 2000);   /* a: 5500 <= 6000 */
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);
    adv = advance(s, 1000);   /* a: 6500 > 6000; b: 6500 */
    assert_int_equal(n_changes(adv), 1);
    assert_change(adv, ID_A, GSVC, "UNHEALTHY", "REMOVED", la);
    cJSON_Delete(adv);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.2"), 1);

    /* a full beat for an unknown instance registers it with the beat's metadata */
    const char *bj = "{\"ip\":\"10.0.0.3\",\"port\":8080,\"cluster\":\"DEFAULT\",\"serviceName\":\"" GSVC "\","
                     "\"metadata\":{\"preserved.heart.beat.interval\":\"2000\",\"preserved.heart.beat.timeout\":"
                     "\"6000\",\"preserved.ip.delete.timeout\":\"12000\"}}";
    struct nm_resp r;
    nm_http(s, "PUT", nm_fmt("/nacos/v1/ns/instance/beat?serviceName=%s&beat=%s", SVC, nm_enc(bj)), NULL, NULL, NULL,
            &r);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    nm_resp_free(&r);
    assert_int_equal(num(j, "code"), 10200);
    assert_int_equal(num(j, "clientBeatInterval"), 2000);
    cJSON_Delete(j);
    l = list(s, "serviceName=" SVC);
    const cJSON *c = host(l, "10.0.0.3");
    assert_non_null(c);
    assert_int_equal(num(c, "instanceHeartBeatInterval"), 2000);
    assert_int_equal(num(c, "instanceHeartBeatTimeOut"), 6000);
    assert_int_equal(num(c, "ipDeleteTimeout"), 12000);
    cJSON_Delete(l);
    nm_test_stop(s);
}

static void test_persistent_instances(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1", "ephemeral=false");
    reg(s, SVC, "10.0.0.2", NULL);
    int64_t lb = last_beat(s, SVC, "10.0.0.2");
    cJSON *adv = advance(s, 100000);
    assert_int_equal(n_changes(adv), 2);   /* only the ephemeral one */
    assert_change(adv, ID_B, GSVC, "HEALTHY", "UNHEALTHY", lb);
    assert_change(adv, ID_B, GSVC, "UNHEALTHY", "REMOVED", lb);
    cJSON_Delete(adv);
    cJSON *l = list(s, "serviceName=" SVC);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "hosts")), 1);
    assert_false(is_true(host(l, "10.0.0.1"), "ephemeral"));
    assert_true(is_true(host(l, "10.0.0.1"), "healthy"));
    assert_false(is_true(l, "reachProtectionThreshold"));
    cJSON_Delete(l);

    struct nm_resp r;
    nm_http(s, "PUT", "/nacos/v1/ns/health/instance", "serviceName=" SVC "&ip=10.0.0.1&port=8080&healthy=false",
            NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    nm_resp_free(&r);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 0);
    assert_logged(s, "HEALTHY", "UNHEALTHY", ID_A);

    /* neither the clock nor beats touch it */
    adv = advance(s, 1000000);
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);
    cJSON *j = beat(s, SVC, "10.0.0.1");
    cJSON_Delete(j);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 0);

    nm_http(s, "PUT", "/nacos/v1/ns/health/instance", "serviceName=" SVC "&ip=10.0.0.1&port=8080&healthy=true",
            NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 1);
    assert_logged(s, "UNHEALTHY", "HEALTHY", ID_A);

    nm_http(s, "PUT", "/nacos/v1/ns/health/instance", "serviceName=" SVC "&ip=10.0.0.1&port=8080", NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "'healthy'"));
    nm_resp_free(&r);
    nm_test_stop(s);
}

/* Transition lines name the instance by its instanceId, whatever the id generator: with
 * preserved.instance.id.generator=snowflake the id is "0", not ip#port#cluster#service. */
static void test_transition_logs_use_instance_id(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1", nm_fmt("metadata=%s", nm_enc("{\"preserved.instance.id.generator\":\"snowflake\"}")));
    reg(s, SVC, "10.0.0.2", NULL);
    int64_t la = last_beat(s, SVC, "10.0.0.1");
    beat_ok(s, SVC, "10.0.0.2", 5000);
    cJSON *adv = advance(s, 15500);
    assert_change(adv, "0", GSVC, "HEALTHY", "UNHEALTHY", la);
    cJSON_Delete(adv);
    assert_logged(s, "HEALTHY", "UNHEALTHY", "0");
    beat_ok(s, SVC, "10.0.0.1", 5000);   /* restores it: logged under the same id */
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 1);
    assert_logged(s, "UNHEALTHY", "HEALTHY", "0");
    nm_test_stop(s);
}

/* ------------------------------------------------------------------ advance input */

static void expect_bad_advance(struct nm_server *s, const char *body)
{
    static char why[700];
    struct nm_resp r;
    nm_http(s, "POST", "/__mock/clock/advance", body, "application/json", NULL, &r);
    cJSON *j = r.status == 400 ? cJSON_Parse(r.body) : NULL;
    const cJSON *e = cJSON_GetObjectItem(j, "error");
    why[0] = '\0';
    if (r.status != 400)
        snprintf(why, sizeof why, "answered %ld %.500s", r.status, r.body);
    else if (!strstr(r.content_type, "application/json"))
        snprintf(why, sizeof why, "content type %s", r.content_type);
    else if (!cJSON_IsString(e))
        snprintf(why, sizeof why, "no {\"error\": string} in %.500s", r.body);
    else if (!strstr(e->valuestring, "'ms'"))
        snprintf(why, sizeof why, "error does not name 'ms': %.500s", e->valuestring);
    cJSON_Delete(j);
    nm_resp_free(&r);
    if (why[0]) fail_msg("advance body '%s': %s", body, why);
}

static void assert_offset(struct nm_server *s, int64_t offset)
{
    cJSON *clk = nm_get_json(s, "/__mock/clock");
    assert_int_equal(num(clk, "offsetMs"), offset);
    cJSON_Delete(clk);
}

static void test_advance_rejects_bad_ms(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    reg(s, SVC, "10.0.0.1", NULL);
    expect_bad_advance(s, "{}");
    expect_bad_advance(s, "{\"ms\":-1}");
    expect_bad_advance(s, "{\"ms\":\"16000\"}");
    expect_bad_advance(s, "{\"ms\":1.5}");
    expect_bad_advance(s, "{\"ms\":null}");
    expect_bad_advance(s, "{\"ms\":true}");
    expect_bad_advance(s, "{\"msec\":16000}");
    assert_offset(s, 0);   /* bad input changes nothing */
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 1);

    cJSON *adv = advance(s, 0);
    assert_int_equal(num(adv, "offsetMs"), 0);
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t real = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    adv = advance(s, 16000);
    assert_int_equal(num(adv, "offsetMs"), 16000);
    int64_t skew = num(adv, "nowMs") - (real + 16000);
    assert_true(skew >= -2000 && skew <= 2000);
    assert_int_equal(n_changes(adv), 1);
    cJSON_Delete(adv);
    assert_offset(s, 16000);
    nm_test_stop(s);
}

/* control-api.md: "Bad input is answered 400 with {"error": "<what is wrong, naming the field>"}".
 * A body that is not a JSON object is bad input too; the answer should say what is expected. */
static void test_advance_rejects_non_object_body_naming_ms(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    expect_bad_advance(s, "ms=16000");
    expect_bad_advance(s, "16000");
    expect_bad_advance(s, "[16000]");
    expect_bad_advance(s, "");
    assert_offset(s, 0);
    nm_test_stop(s);
}

/* ------------------------------------------------------------------ flags */

static void test_flags_change_thresholds(void **state)
{
    const char *args[] = {"--beat-interval-ms", "1000", "--unhealthy-misses", "2", "--delete-misses", "4", NULL};
    struct nm_server *s = nm_test_start(args);
    reg(s, SVC, "10.0.0.1", NULL);
    int64_t la = last_beat(s, SVC, "10.0.0.1");
    cJSON *l = list(s, "serviceName=" SVC);
    const cJSON *a = host(l, "10.0.0.1");
    assert_int_equal(num(a, "instanceHeartBeatInterval"), 1000);
    assert_int_equal(num(a, "instanceHeartBeatTimeOut"), 2000);
    assert_int_equal(num(a, "ipDeleteTimeout"), 4000);
    cJSON_Delete(l);

    cJSON *adv = advance(s, 1700);
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);
    adv = advance(s, 500);   /* 2200 > 2000 */
    assert_int_equal(n_changes(adv), 1);
    assert_change(adv, ID_A, GSVC, "HEALTHY", "UNHEALTHY", la);
    cJSON_Delete(adv);
    assert_int_equal(detail_healthy(s, SVC, "10.0.0.1"), 0);
    adv = advance(s, 1600);   /* 3800 <= 4000 */
    assert_int_equal(n_changes(adv), 0);
    cJSON_Delete(adv);
    adv = advance(s, 500);    /* 4300 > 4000 */
    assert_int_equal(n_changes(adv), 1);
    assert_change(adv, ID_A, GSVC, "UNHEALTHY", "REMOVED", la);
    cJSON_Delete(adv);
    l = list(s, "serviceName=" SVC);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "hosts")), 0);
    cJSON_Delete(l);

    /* the beat interval told to clients is the flag's */
    reg(s, SVC, "10.0.0.2", NULL);
    beat_ok(s, SVC, "10.0.0.2", 1000);
    cJSON *j = beat(s, SVC, "10.0.0.9");
    assert_int_equal(num(j, "code"), 20404);
    assert_int_equal(num(j, "clientBeatInterval"), 1000);
    cJSON_Delete(j);
    nm_test_stop(s);
}

/* ------------------------------------------------------------------ real time */

static void test_real_time_sweeper(void **state)
{
    const char *args[] = {"--beat-interval-ms", "200", "--sweep-interval-ms", "50", NULL};
    struct nm_server *s = nm_test_start(args);
    int64_t t0 = nm_mono_ms();
    reg(s, SVC, "10.0.0.1", NULL);
    reg(s, SVC, "10.0.0.2", NULL);
    int64_t unhealthy_at = -1, removed_at = -1;
    bool checked_fields = false;
    while (nm_mono_ms() - t0 < 3000) {
        beat_ok(s, SVC, "10.0.0.2", 200);   /* keeps b healthy, so a's health shows in the list */
        cJSON *l = list(s, "serviceName=" SVC);
        int64_t t = nm_mono_ms() - t0;
        const cJSON *a = host(l, "10.0.0.1");
        assert_false(is_true(l, "reachProtectionThreshold"));
        assert_true(is_true(host(l, "10.0.0.2"), "healthy"));
        if (a && !checked_fields) {
            assert_int_equal(num(a, "instanceHeartBeatInterval"), 200);
            assert_int_equal(num(a, "instanceHeartBeatTimeOut"), 600);
            assert_int_equal(num(a, "ipDeleteTimeout"), 1200);
            checked_fields = true;
        }
        if (a && !is_true(a, "healthy") && unhealthy_at < 0) unhealthy_at = t;
        if (!a) {
            removed_at = t;
            cJSON_Delete(l);
            break;
        }
        cJSON_Delete(l);
        usleep(20000);
    }
    fprintf(stderr, "real time: unhealthy seen at %lld ms, removed at %lld ms\n", (long long)unhealthy_at,
            (long long)removed_at);
    assert_true(checked_fields);
    assert_true(unhealthy_at >= 600);    /* > 3 x 200 ms after the register (which came after t0) */
    assert_true(unhealthy_at <= 1600);
    assert_true(removed_at >= 1200);     /* > 6 x 200 ms */
    assert_true(removed_at <= 2800);
    assert_true(removed_at > unhealthy_at);
    assert_logged(s, "HEALTHY", "UNHEALTHY", ID_A);
    assert_logged(s, "UNHEALTHY", "REMOVED", ID_A);
    assert_false(logged(s, "HEALTHY", "UNHEALTHY", ID_B));
    nm_test_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unhealthy_then_removed, nm_test_teardown),
        cmocka_unit_test_teardown(test_protect_threshold_when_all_unhealthy, nm_test_teardown),
        cmocka_unit_test_teardown(test_beat_restores_health, nm_test_teardown),
        cmocka_unit_test_teardown(test_metadata_overrides, nm_test_teardown),
        cmocka_unit_test_teardown(test_persistent_instances, nm_test_teardown),
        cmocka_unit_test_teardown(test_every_beat_counts, nm_test_teardown),
        cmocka_unit_test_teardown(test_transition_logs_use_instance_id, nm_test_teardown),
        cmocka_unit_test_teardown(test_advance_rejects_bad_ms, nm_test_teardown),
        cmocka_unit_test_teardown(test_advance_rejects_non_object_body_naming_ms, nm_test_teardown),
        cmocka_unit_test_teardown(test_flags_change_thresholds, nm_test_teardown),
        cmocka_unit_test_teardown(test_real_time_sweeper, nm_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
