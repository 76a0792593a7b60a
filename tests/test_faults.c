/*
 * test_faults.c — unit tests of the fault rules module (faults.c, control-api.md "Fault rules"),
 * pure: no server, no clock (every call gets its now_ms), no sockets.
 *
 *   compact form  `k=v,...` → JSON with typed numbers, and each way it can be wrong;
 *   validation    every invalid rule is refused with a message naming the field, and adds nothing;
 *   matching      each filter on its own (api, any, method, path, namespaceId, groupName,
 *                 serviceName bare and grouped, clusterName, ip, port) and all together;
 *   scheduling    after, times (then spent: remaining 0, expired true), probability (seeded,
 *                 reproducible, right rate), forMs on the now_ms argument, first firing rule wins;
 *   lifecycle     delete, clear, reset (initial rules back with their ids, counters zeroed,
 *                 generator re-seeded), jitter inside [delayMs, delayMs + jitterMs];
 *   configs       config.* names, match.dataId / match.group / namespaceId on one config, on any key
 *                 of a listener poll (fault_request.about), config.push taking only drop / delayMs,
 *                 "any" not matching pushes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/faults.h"

/* a realistic epoch-ms "now": the server passes the virtual clock, not a small number */
#define T0 INT64_C(1700000000000)

/* ------------------------------------------------------------------ helpers */

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) fail_msg("test bug: invalid JSON %s", text);
    return j;
}

/* Adds a rule that must be valid; returns the stored rule (caller deletes). */
static cJSON *add_ok_at(struct faults *f, const char *text, int64_t now, bool initial)
{
    cJSON *j = parse(text), *stored = NULL;
    char err[512] = "";
    int rc = faults_add_json(f, j, now, initial, &stored, err, sizeof err);
    cJSON_Delete(j);
    if (rc) fail_msg("rule %s refused (%d): %s", text, rc, err);
    assert_non_null(stored);
    return stored;
}

static void add_ok(struct faults *f, const char *text)
{
    cJSON_Delete(add_ok_at(f, text, T0, false));
}

/* The rule must be refused with rc, a message containing `needle`, and nothing added. */
static void add_refused(struct faults *f, const char *text, int want_rc, const char *needle)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) fail_msg("test bug: invalid JSON %s", text);
    cJSON *stored = NULL;
    char err[512] = "";
    size_t before = faults_count(f);
    int rc = faults_add_json(f, j, T0, false, &stored, err, sizeof err);
    cJSON_Delete(j);
    if (rc != want_rc) fail_msg("rule %s: rc %d, want %d (err '%s')", text, rc, want_rc, err);
    assert_null(stored);
    if (!strstr(err, needle)) fail_msg("rule %s: message '%s' does not name '%s'", text, err, needle);
    assert_int_equal(faults_count(f), before);
}

static struct fault_request req_api(const char *api)
{
    struct fault_request r = {.api = api, .method = "GET", .path = "/nacos/v1/ns/instance/list", .ns = "public",
                              .group = "DEFAULT_GROUP", .service = "order", .cluster = "DEFAULT", .ip = "10.0.0.5",
                              .port = 8080};
    return r;
}

/* Does `rule` (alone in a fresh set) fire for r? */
static bool fires(const char *rule, const struct fault_request *r)
{
    struct faults *f = faults_create(1);
    add_ok(f, rule);
    struct fault_hit hit;
    bool yes = faults_match(f, r, T0 + 1, &hit);
    fault_hit_free(&hit);
    faults_free(f);
    return yes;
}

static bool match_now(struct faults *f, const struct fault_request *r, int64_t now, char *id, size_t idlen)
{
    struct fault_hit hit;
    bool yes = faults_match(f, r, now, &hit);
    if (id) snprintf(id, idlen, "%s", yes ? hit.id : "");
    fault_hit_free(&hit);
    return yes;
}

/* The listed rule with this id (borrowed from list). */
static const cJSON *listed(const cJSON *list, const char *id)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(list, "faults"), *r;
    cJSON_ArrayForEach(r, arr) {
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "id");
        if (cJSON_IsString(rid) && !strcmp(rid->valuestring, id)) return r;
    }
    fail_msg("rule '%s' not listed", id);
    return NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) fail_msg("field '%s' is not a number", k);
    return v->valuedouble;
}

static void assert_json_equal(const cJSON *got, const char *want_text)
{
    cJSON *want = parse(want_text);
    if (!cJSON_Compare(got, want, true)) {
        char *g = cJSON_PrintUnformatted(got);
        fail_msg("got %s\nwant %s", g, want_text);
    }
    cJSON_Delete(want);
}

/* ------------------------------------------------------------------ compact form */

static void test_compact_example(void **state)
{
    (void)state;
    char err[256] = "";
    cJSON *j = faults_compact_to_json("api=beat,status=500,times=2,probability=0.5,serviceName=order", err, sizeof err);
    if (!j) fail_msg("refused: %s", err);
    /* numbers are JSON numbers, names are strings, match/action fields land in their objects */
    assert_json_equal(j, "{\"match\":{\"api\":\"beat\",\"serviceName\":\"order\"},\"action\":{\"status\":500},"
                         "\"times\":2,\"probability\":0.5}");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(j, "action"), "status")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "times")));
    /* and the result is a valid rule */
    struct faults *f = faults_create(7);
    cJSON *stored = NULL;
    assert_int_equal(faults_add_json(f, j, T0, true, &stored, err, sizeof err), 0);
    assert_int_equal((int)num(stored, "remaining"), 2);
    cJSON_Delete(stored);
    cJSON_Delete(j);
    faults_free(f);
}

static void test_compact_all_fields(void **state)
{
    (void)state;
    char err[256] = "";
    cJSON *j = faults_compact_to_json("id=slow-1,api=list,method=GET,path=/nacos/v1/ns/instance/list,namespaceId=dev,"
                                      "groupName=G,clusterName=C1,ip=10.0.0.5,port=8080,delayMs=100,jitterMs=5,"
                                      "drop=reset,after=1,forMs=1000",
                                      err, sizeof err);
    if (!j) fail_msg("refused: %s", err);
    assert_json_equal(j, "{\"id\":\"slow-1\",\"match\":{\"api\":\"list\",\"method\":\"GET\","
                         "\"path\":\"/nacos/v1/ns/instance/list\",\"namespaceId\":\"dev\",\"groupName\":\"G\","
                         "\"clusterName\":\"C1\",\"ip\":\"10.0.0.5\",\"port\":8080},"
                         "\"action\":{\"delayMs\":100,\"jitterMs\":5,\"drop\":\"reset\"},\"after\":1,\"forMs\":1000}");
    cJSON_Delete(j);

    j = faults_compact_to_json("api=beat,beatCode=20404,status=503,body=down", err, sizeof err);
    if (!j) fail_msg("refused: %s", err);
    assert_json_equal(j, "{\"match\":{\"api\":\"beat\"},\"action\":{\"beatCode\":20404,\"status\":503,\"body\":\"down\"}}");
    cJSON_Delete(j);
}

static void compact_refused(const char *spec, const char *needle)
{
    char err[256] = "";
    cJSON *j = faults_compact_to_json(spec, err, sizeof err);
    if (j) {
        char *t = cJSON_PrintUnformatted(j);
        fail_msg("spec '%s' accepted as %s", spec, t);
    }
    if (!strstr(err, needle)) fail_msg("spec '%s': message '%s' does not name '%s'", spec, err, needle);
}

static void test_compact_errors(void **state)
{
    (void)state;
    compact_refused("api=beat,colour=red", "'colour'");              /* unknown key */
    compact_refused("api=beat,match=x", "'match'");                   /* not flattenable */
    compact_refused("api=beat,status", "'status'");                   /* missing '=' */
    compact_refused("api=beat,=500", "key=value");                    /* empty key */
    compact_refused("api=beat,api=list", "'api' given twice");        /* duplicate key */
    compact_refused("api=beat,status=500,status=503", "'status' given twice");
    compact_refused("api=beat,status=5x", "'status'");                /* bad integer */
    compact_refused("api=beat,status=", "'status'");
    compact_refused("api=beat,status=500,times=1.5", "'times'");
    compact_refused("api=beat,port=80a", "'port'");
    compact_refused("api=beat,status=500,probability=half", "'probability'");
}

/* ------------------------------------------------------------------ validation */

static void test_valid_rule_stored(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    cJSON *s = add_ok_at(f, "{\"match\":{\"api\":\"beat\",\"serviceName\":\"order\"},\"action\":{\"status\":500}}", T0,
                         false);
    /* generated id, defaults filled in, counters */
    assert_json_equal(s, "{\"id\":\"fault-1\",\"match\":{\"api\":\"beat\",\"serviceName\":\"order\"},"
                         "\"action\":{\"status\":500},\"probability\":1,\"after\":0,\"times\":null,\"forMs\":null,"
                         "\"hits\":0,\"remaining\":null,\"expired\":false}");
    cJSON_Delete(s);
    s = add_ok_at(f, "{\"id\":\"b\",\"match\":{\"api\":\"any\"},\"action\":{\"delayMs\":5},\"times\":3,\"forMs\":10,"
                     "\"probability\":0.25,\"after\":2}",
                  T0, false);
    assert_json_equal(s, "{\"id\":\"b\",\"match\":{\"api\":\"any\"},\"action\":{\"delayMs\":5},\"probability\":0.25,"
                         "\"after\":2,\"times\":3,\"forMs\":10,\"hits\":0,\"remaining\":3,\"expired\":false}");
    cJSON_Delete(s);
    /* a listed rule can be posted back as is (hits/remaining/expired are read-only echoes) */
    cJSON *list = faults_list_json(f, T0);
    cJSON *copy = cJSON_Duplicate(listed(list, "b"), true);
    cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", cJSON_CreateString("b2"));
    char err[256];
    assert_int_equal(faults_add_json(f, copy, T0, false, NULL, err, sizeof err), 0);
    cJSON_Delete(copy);
    cJSON_Delete(list);
    assert_int_equal(faults_count(f), 3);
    faults_free(f);
}

static void test_invalid_rules(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    add_ok(f, "{\"id\":\"taken\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500}}");
#define OKM "\"match\":{\"api\":\"beat\"}"
#define OKA "\"action\":{\"status\":500}"
    static const struct { const char *rule, *field; } cases[] = {
        /* strict: unknown fields named with their path */
        {"{" OKM "," OKA ",\"colour\":1}", "'colour'"},
        {"{\"match\":{\"api\":\"beat\",\"svc\":\"x\"}," OKA "}", "'match.svc'"},
        {"{" OKM ",\"action\":{\"status\":500,\"code\":1}}", "'action.code'"},
        /* id */
        {"{\"id\":5," OKM "," OKA "}", "'id'"},
        {"{\"id\":\"a/b\"," OKM "," OKA "}", "'id'"},
        {"{\"id\":\"\"," OKM "," OKA "}", "'id'"},
        {"{\"id\":\"0123456789012345678901234567890123456789012345678901234567890123\"," OKM "," OKA "}", "'id'"},
        /* match */
        {"{" OKA "}", "'match'"},
        {"{\"match\":\"beat\"," OKA "}", "'match'"},
        {"{\"match\":{}," OKA "}", "'match.api'"},
        {"{\"match\":{\"api\":\"beats\"}," OKA "}", "'match.api'"},
        {"{\"match\":{\"api\":\"\"}," OKA "}", "'match.api'"},
        {"{\"match\":{\"api\":7}," OKA "}", "'match.api'"},
        {"{\"match\":{\"api\":\"beat\",\"method\":1}," OKA "}", "'match.method'"},
        {"{\"match\":{\"api\":\"beat\",\"path\":\"\"}," OKA "}", "'match.path'"},
        {"{\"match\":{\"api\":\"beat\",\"namespaceId\":[]}," OKA "}", "'match.namespaceId'"},
        {"{\"match\":{\"api\":\"beat\",\"groupName\":true}," OKA "}", "'match.groupName'"},
        {"{\"match\":{\"api\":\"beat\",\"serviceName\":\"\"}," OKA "}", "'match.serviceName'"},
        {"{\"match\":{\"api\":\"beat\",\"clusterName\":1}," OKA "}", "'match.clusterName'"},
        {"{\"match\":{\"api\":\"beat\",\"ip\":{}}," OKA "}", "'match.ip'"},
        {"{\"match\":{\"api\":\"beat\",\"port\":0}," OKA "}", "'match.port'"},
        {"{\"match\":{\"api\":\"beat\",\"port\":65536}," OKA "}", "'match.port'"},
        {"{\"match\":{\"api\":\"beat\",\"port\":80.5}," OKA "}", "'match.port'"},
        {"{\"match\":{\"api\":\"beat\",\"port\":\"80\"}," OKA "}", "'match.port'"},
        /* action */
        {"{" OKM "}", "'action'"},
        {"{" OKM ",\"action\":[]}", "'action'"},
        {"{" OKM ",\"action\":{}}", "'action'"},
        {"{" OKM ",\"action\":{\"jitterMs\":10}}", "'action'"},
        {"{" OKM ",\"action\":{\"status\":99}}", "'action.status'"},
        {"{" OKM ",\"action\":{\"status\":600}}", "'action.status'"},
        {"{" OKM ",\"action\":{\"status\":\"500\"}}", "'action.status'"},
        {"{" OKM ",\"action\":{\"status\":500.5}}", "'action.status'"},
        {"{" OKM ",\"action\":{\"status\":500,\"body\":\"\"}}", "'action.body'"},
        {"{" OKM ",\"action\":{\"status\":500,\"body\":3}}", "'action.body'"},
        {"{" OKM ",\"action\":{\"delayMs\":100,\"body\":\"x\"}}", "'action.body'"},   /* body needs status */
        {"{" OKM ",\"action\":{\"delayMs\":-1}}", "'action.delayMs'"},
        {"{" OKM ",\"action\":{\"delayMs\":3600001}}", "'action.delayMs'"},
        {"{" OKM ",\"action\":{\"delayMs\":\"5\"}}", "'action.delayMs'"},
        {"{" OKM ",\"action\":{\"delayMs\":5,\"jitterMs\":-1}}", "'action.jitterMs'"},
        {"{" OKM ",\"action\":{\"drop\":\"explode\"}}", "'action.drop'"},
        {"{" OKM ",\"action\":{\"drop\":1}}", "'action.drop'"},
        {"{" OKM ",\"action\":{\"drop\":\"reset\",\"status\":500}}", "'action.drop'"},
        {"{" OKM ",\"action\":{\"drop\":\"close\",\"beatCode\":20404}}", "'action.drop'"},
        {"{" OKM ",\"action\":{\"beatCode\":0}}", "'action.beatCode'"},
        {"{" OKM ",\"action\":{\"beatCode\":20404,\"status\":200}}", "'action.beatCode'"},
        {"{\"match\":{\"api\":\"list\"},\"action\":{\"beatCode\":20404}}", "'action.beatCode'"},
        {"{\"match\":{\"api\":\"any\"},\"action\":{\"beatCode\":20404}}", "'action.beatCode'"},
        {"{\"match\":{\"api\":\"push\"},\"action\":{\"status\":500}}", "match.api \"push\""},
        {"{\"match\":{\"api\":\"push\"},\"action\":{\"drop\":\"reset\"}}", "'action.drop'"},
        /* schedule */
        {"{" OKM "," OKA ",\"probability\":-0.1}", "'probability'"},
        {"{" OKM "," OKA ",\"probability\":1.5}", "'probability'"},
        {"{" OKM "," OKA ",\"probability\":\"0.5\"}", "'probability'"},
        {"{" OKM "," OKA ",\"after\":-1}", "'after'"},
        {"{" OKM "," OKA ",\"after\":1.5}", "'after'"},
        {"{" OKM "," OKA ",\"times\":0}", "'times'"},
        {"{" OKM "," OKA ",\"times\":-1}", "'times'"},
        {"{" OKM "," OKA ",\"times\":\"2\"}", "'times'"},
        {"{" OKM "," OKA ",\"forMs\":0}", "'forMs'"},
        {"{" OKM "," OKA ",\"forMs\":2.5}", "'forMs'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) add_refused(f, cases[i].rule, -1, cases[i].field);
    add_refused(f, "[1]", -1, "JSON object");
    /* a second rule with a taken id: 409 in the API */
    add_refused(f, "{\"id\":\"taken\"," OKM ",\"action\":{\"status\":503}}", -2, "'taken'");
#undef OKM
#undef OKA
    assert_int_equal(faults_count(f), 1);
    faults_free(f);
}

static void test_api_names(void **state)
{
    (void)state;
    const char *names[] = {"register", "deregister", "update", "patch", "detail", "list", "beat", "health",
                           "service.create", "service.delete", "service.update", "service.get", "service.list",
                           "metrics", "servers", "login", "push", "any"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!faults_api_known(names[i])) fail_msg("API name '%s' (control-api.md) unknown", names[i]);
    assert_false(faults_api_known("beats"));
    assert_false(faults_api_known("BEAT"));
    assert_false(faults_api_known(""));
    assert_false(faults_api_known(NULL));
}

/* ------------------------------------------------------------------ matching */

static void test_match_api_and_any(void **state)
{
    (void)state;
    struct fault_request beat = req_api("beat"), list = req_api("list"), push = req_api("push"), none = req_api(NULL);
    const char *beat_rule = "{\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500}}";
    assert_true(fires(beat_rule, &beat));
    assert_false(fires(beat_rule, &list));
    assert_false(fires(beat_rule, &none));
    assert_false(fires(beat_rule, &push));
    const char *any = "{\"match\":{\"api\":\"any\"},\"action\":{\"delayMs\":10}}";
    assert_true(fires(any, &beat));
    assert_true(fires(any, &list));
    assert_false(fires(any, &push));   /* "any" means HTTP requests, not UDP pushes */
    const char *push_rule = "{\"match\":{\"api\":\"push\"},\"action\":{\"drop\":\"close\"}}";
    assert_true(fires(push_rule, &push));
    assert_false(fires(push_rule, &list));
}

static void test_match_method_path(void **state)
{
    (void)state;
    struct fault_request r = req_api("beat");
    r.method = "PUT";
    r.path = "/nacos/v1/ns/instance/beat";
    assert_true(fires("{\"match\":{\"api\":\"beat\",\"method\":\"put\"},\"action\":{\"status\":500}}", &r));
    assert_true(fires("{\"match\":{\"api\":\"beat\",\"method\":\"PUT\"},\"action\":{\"status\":500}}", &r));
    assert_false(fires("{\"match\":{\"api\":\"beat\",\"method\":\"POST\"},\"action\":{\"status\":500}}", &r));
    const char *path_rule = "{\"match\":{\"api\":\"any\",\"path\":\"/nacos/v1/ns/instance/beat\"},\"action\":{\"status\":500}}";
    assert_true(fires(path_rule, &r));
    r.path = "/nacos/v1/ns/instance";
    assert_false(fires(path_rule, &r));
    r.path = "/nacos/v1/ns/instance/beat/";
    assert_false(fires(path_rule, &r));
    r.path = NULL;
    r.method = NULL;
    assert_false(fires(path_rule, &r));
    assert_false(fires("{\"match\":{\"api\":\"beat\",\"method\":\"PUT\"},\"action\":{\"status\":500}}", &r));
}

static void test_match_ns_group_cluster_ip_port(void **state)
{
    (void)state;
    struct fault_request r = req_api("register");
    const char *ns = "{\"match\":{\"api\":\"register\",\"namespaceId\":\"dev\"},\"action\":{\"status\":500}}";
    assert_false(fires(ns, &r));
    r.ns = "dev";
    assert_true(fires(ns, &r));
    r.ns = NULL;
    assert_false(fires(ns, &r));

    r = req_api("register");
    const char *group = "{\"match\":{\"api\":\"register\",\"groupName\":\"G\"},\"action\":{\"status\":500}}";
    assert_false(fires(group, &r));
    r.group = "G";
    assert_true(fires(group, &r));
    r.group = "g";
    assert_false(fires(group, &r));

    r = req_api("register");
    const char *cl = "{\"match\":{\"api\":\"register\",\"clusterName\":\"C1\"},\"action\":{\"status\":500}}";
    assert_false(fires(cl, &r));
    r.cluster = "C1";
    assert_true(fires(cl, &r));
    r.cluster = NULL;
    assert_false(fires(cl, &r));

    r = req_api("register");
    const char *ip = "{\"match\":{\"api\":\"register\",\"ip\":\"10.0.0.5\"},\"action\":{\"status\":500}}";
    assert_true(fires(ip, &r));
    r.ip = "10.0.0.50";
    assert_false(fires(ip, &r));
    r.ip = NULL;
    assert_false(fires(ip, &r));

    r = req_api("register");
    const char *port = "{\"match\":{\"api\":\"register\",\"port\":8080},\"action\":{\"status\":500}}";
    assert_true(fires(port, &r));
    r.port = 8081;
    assert_false(fires(port, &r));
    r.port = 0;
    assert_false(fires(port, &r));

    /* several filters: every one must hold */
    r = req_api("register");
    const char *all = "{\"match\":{\"api\":\"register\",\"namespaceId\":\"public\",\"groupName\":\"DEFAULT_GROUP\","
                      "\"serviceName\":\"order\",\"clusterName\":\"DEFAULT\",\"ip\":\"10.0.0.5\",\"port\":8080,"
                      "\"method\":\"GET\",\"path\":\"/nacos/v1/ns/instance/list\"},\"action\":{\"status\":500}}";
    assert_true(fires(all, &r));
    struct fault_request v;
    v = r; v.api = "beat"; assert_false(fires(all, &v));
    v = r; v.ns = "dev"; assert_false(fires(all, &v));
    v = r; v.group = "G"; assert_false(fires(all, &v));
    v = r; v.service = "pay"; assert_false(fires(all, &v));
    v = r; v.cluster = "C"; assert_false(fires(all, &v));
    v = r; v.ip = "10.0.0.6"; assert_false(fires(all, &v));
    v = r; v.port = 9090; assert_false(fires(all, &v));
    v = r; v.method = "PUT"; assert_false(fires(all, &v));
    v = r; v.path = "/x"; assert_false(fires(all, &v));
}

static void test_match_service_bare_and_grouped(void **state)
{
    (void)state;
    struct fault_request r = req_api("beat");
    const char *bare = "{\"match\":{\"api\":\"beat\",\"serviceName\":\"order\"},\"action\":{\"status\":500}}";
    r.group = "G1";
    assert_true(fires(bare, &r));   /* a bare name matches in every group */
    r.group = "DEFAULT_GROUP";
    assert_true(fires(bare, &r));
    r.group = NULL;
    assert_true(fires(bare, &r));
    r.service = "orders";
    assert_false(fires(bare, &r));
    r.service = "orde";
    assert_false(fires(bare, &r));
    r.service = NULL;
    assert_false(fires(bare, &r));

    const char *grouped = "{\"match\":{\"api\":\"beat\",\"serviceName\":\"G@@order\"},\"action\":{\"status\":500}}";
    r = req_api("beat");
    r.group = "G";
    assert_true(fires(grouped, &r));
    r.group = "H";
    assert_false(fires(grouped, &r));   /* the group in the name pins the group */
    r.group = "GG";
    assert_false(fires(grouped, &r));
    r.group = NULL;
    assert_false(fires(grouped, &r));
    r.group = "G";
    r.service = "other";
    assert_false(fires(grouped, &r));
    const char *dflt = "{\"match\":{\"api\":\"beat\",\"serviceName\":\"DEFAULT_GROUP@@order\"},\"action\":{\"status\":500}}";
    r = req_api("beat");
    assert_true(fires(dflt, &r));
}

static void test_hit_contents(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    add_ok(f, "{\"id\":\"s\",\"match\":{\"api\":\"register\"},\"action\":{\"status\":409,\"body\":\"caused: taken;\","
              "\"delayMs\":25}}");
    add_ok(f, "{\"id\":\"d\",\"match\":{\"api\":\"list\"},\"action\":{\"drop\":\"hang\"}}");
    add_ok(f, "{\"id\":\"b\",\"match\":{\"api\":\"beat\"},\"action\":{\"beatCode\":20404}}");
    add_ok(f, "{\"id\":\"r\",\"match\":{\"api\":\"detail\"},\"action\":{\"drop\":\"reset\",\"delayMs\":7}}");
    add_ok(f, "{\"id\":\"c\",\"match\":{\"api\":\"health\"},\"action\":{\"drop\":\"close\"}}");
    struct fault_hit h;
    struct fault_request r = req_api("register");
    assert_true(faults_match(f, &r, T0, &h));
    assert_string_equal(h.id, "s");
    assert_int_equal(h.status, 409);
    assert_string_equal(h.body, "caused: taken;");
    assert_int_equal(h.delay_ms, 25);
    assert_int_equal(h.drop, DROP_NONE);
    assert_int_equal(h.beat_code, 0);
    fault_hit_free(&h);
    r = req_api("list");
    assert_true(faults_match(f, &r, T0, &h));
    assert_string_equal(h.id, "d");
    assert_int_equal(h.drop, DROP_HANG);
    assert_int_equal(h.status, 0);
    assert_null(h.body);
    assert_int_equal(h.delay_ms, 0);
    fault_hit_free(&h);
    r = req_api("beat");
    assert_true(faults_match(f, &r, T0, &h));
    assert_int_equal(h.beat_code, 20404);
    assert_int_equal(h.status, 0);
    fault_hit_free(&h);
    r = req_api("detail");
    assert_true(faults_match(f, &r, T0, &h));
    assert_int_equal(h.drop, DROP_RESET);
    assert_int_equal(h.delay_ms, 7);
    fault_hit_free(&h);
    r = req_api("health");
    assert_true(faults_match(f, &r, T0, &h));
    assert_int_equal(h.drop, DROP_CLOSE);
    fault_hit_free(&h);
    r = req_api("servers");
    assert_false(faults_match(f, &r, T0, &h));
    assert_string_equal(h.id, "");
    fault_hit_free(&h);
    faults_free(f);
}

/* ------------------------------------------------------------------ scheduling */

static void test_after(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    add_ok(f, "{\"id\":\"a\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},\"after\":2}");
    struct fault_request beat = req_api("beat"), list = req_api("list");
    assert_false(match_now(f, &list, T0, NULL, 0));   /* a non-matching request is not counted */
    assert_false(match_now(f, &beat, T0, NULL, 0));
    assert_false(match_now(f, &list, T0, NULL, 0));
    assert_false(match_now(f, &beat, T0, NULL, 0));
    assert_true(match_now(f, &beat, T0, NULL, 0));
    assert_true(match_now(f, &beat, T0, NULL, 0));
    cJSON *l = faults_list_json(f, T0);
    assert_int_equal((int)num(listed(l, "a"), "hits"), 2);
    cJSON_Delete(l);
    faults_free(f);
}

static void test_times_then_spent(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    add_ok(f, "{\"id\":\"t\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},\"times\":3}");
    struct fault_request beat = req_api("beat");
    for (int i = 0; i < 3; i++) {
        cJSON *l = faults_list_json(f, T0);
        const cJSON *r = listed(l, "t");
        assert_int_equal((int)num(r, "hits"), i);
        assert_int_equal((int)num(r, "remaining"), 3 - i);
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "expired")));
        cJSON_Delete(l);
        assert_true(match_now(f, &beat, T0, NULL, 0));
    }
    for (int i = 0; i < 5; i++) assert_false(match_now(f, &beat, T0, NULL, 0));
    cJSON *l = faults_list_json(f, T0);
    const cJSON *r = listed(l, "t");   /* spent, still listed */
    assert_int_equal((int)num(r, "hits"), 3);
    assert_int_equal((int)num(r, "remaining"), 0);
    assert_int_equal((int)num(r, "times"), 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "expired")));
    cJSON_Delete(l);
    assert_int_equal(faults_count(f), 1);

    /* after + times: let 1 through, fault 2, then spent */
    struct faults *g = faults_create(1);
    add_ok(g, "{\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},\"after\":1,\"times\":2}");
    bool want[] = {false, true, true, false, false};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) assert_int_equal(match_now(g, &beat, T0, NULL, 0), want[i]);
    faults_free(g);
    faults_free(f);
}

/* n draws of a p-rule in a fresh set seeded `seed`; fills seq (may be NULL), returns the hits */
static int draws(uint64_t seed, double p, int n, bool *seq)
{
    struct faults *f = faults_create(seed);
    char rule[160];
    snprintf(rule, sizeof rule, "{\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},\"probability\":%g}", p);
    add_ok(f, rule);
    struct fault_request beat = req_api("beat");
    int hits = 0;
    for (int i = 0; i < n; i++) {
        bool y = match_now(f, &beat, T0, NULL, 0);
        if (seq) seq[i] = y;
        hits += y;
    }
    cJSON *l = faults_list_json(f, T0);
    assert_int_equal((int)num(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "faults"), 0), "hits"), hits);
    cJSON_Delete(l);
    faults_free(f);
    return hits;
}

static void test_probability_seeded(void **state)
{
    (void)state;
    bool a[200], b[200], c[200];
    int ha = draws(42, 0.5, 200, a), hb = draws(42, 0.5, 200, b), hc = draws(43, 0.5, 200, c);
    assert_int_equal(ha, hb);
    assert_memory_equal(a, b, sizeof a);              /* same seed, same requests: same faults */
    assert_true(ha > 50 && ha < 150);                 /* and not a degenerate sequence */
    assert_true(hc > 50 && hc < 150);
    assert_memory_not_equal(a, c, sizeof a);          /* another seed, another sequence */
}

static void test_probability_rate(void **state)
{
    (void)state;
    int h = draws(12345, 0.3, 10000, NULL);
    if (h < 2700 || h > 3300) fail_msg("p=0.3 fired %d of 10000", h);
    h = draws(99, 0.9, 10000, NULL);
    if (h < 8700 || h > 9300) fail_msg("p=0.9 fired %d of 10000", h);
    assert_int_equal(draws(12345, 0.0, 10000, NULL), 0);      /* probability 0 never fires */
    assert_int_equal(draws(12345, 1.0, 1000, NULL), 1000);
}

static void test_for_ms_expiry(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    add_ok(f, "{\"id\":\"w\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},\"forMs\":1000}");   /* at T0 */
    struct fault_request beat = req_api("beat");
    assert_true(match_now(f, &beat, T0, NULL, 0));
    assert_true(match_now(f, &beat, T0 + 999, NULL, 0));
    cJSON *l = faults_list_json(f, T0 + 999);
    const cJSON *r = listed(l, "w");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "expired")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "remaining")));
    cJSON_Delete(l);
    assert_false(match_now(f, &beat, T0 + 1000, NULL, 0));
    assert_false(match_now(f, &beat, T0 + 50000, NULL, 0));
    l = faults_list_json(f, T0 + 1000);
    r = listed(l, "w");   /* expired, still listed with its hits */
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "expired")));
    assert_int_equal((int)num(r, "remaining"), 0);
    assert_int_equal((int)num(r, "hits"), 2);
    cJSON_Delete(l);
    faults_free(f);
}

static void test_first_firing_rule_wins(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    add_ok(f, "{\"id\":\"only-pay\",\"match\":{\"api\":\"beat\",\"serviceName\":\"pay\"},\"action\":{\"status\":503}}");
    add_ok(f, "{\"id\":\"first\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},\"times\":1}");
    add_ok(f, "{\"id\":\"never\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":502},\"probability\":0}");
    add_ok(f, "{\"id\":\"second\",\"match\":{\"api\":\"any\"},\"action\":{\"status\":501}}");
    struct fault_request beat = req_api("beat");
    char id[64];
    assert_true(match_now(f, &beat, T0, id, sizeof id));
    assert_string_equal(id, "first");
    assert_true(match_now(f, &beat, T0, id, sizeof id));   /* first is spent; never never fires */
    assert_string_equal(id, "second");
    beat.service = "pay";
    assert_true(match_now(f, &beat, T0, id, sizeof id));
    assert_string_equal(id, "only-pay");
    cJSON *l = faults_list_json(f, T0);
    assert_int_equal((int)num(listed(l, "only-pay"), "hits"), 1);
    assert_int_equal((int)num(listed(l, "first"), "hits"), 1);
    assert_int_equal((int)num(listed(l, "never"), "hits"), 0);
    assert_int_equal((int)num(listed(l, "second"), "hits"), 1);
    /* listed in the order added */
    const char *order[] = {"only-pay", "first", "never", "second"};
    int i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(l, "faults")) assert_string_equal(cJSON_GetObjectItem(r, "id")->valuestring, order[i++]);
    assert_int_equal(i, 4);
    cJSON_Delete(l);
    faults_free(f);
}

/* The service-hash prefilter (faults_match) must not change which rule fires: 100 rules for other
 * services, names that share a prefix, a grouped rule of another group, then the one that matches. */
static void test_many_service_rules(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    char rule[256];
    for (int i = 0; i < 100; i++) {
        snprintf(rule, sizeof rule, "{\"id\":\"other-%d\",\"match\":{\"api\":\"beat\",\"serviceName\":\"order-%d\"},"
                         "\"action\":{\"status\":500}}", i, i);
        add_ok(f, rule);
    }
    add_ok(f, "{\"id\":\"prefix\",\"match\":{\"api\":\"beat\",\"serviceName\":\"orde\"},\"action\":{\"status\":500}}");
    add_ok(f, "{\"id\":\"grp\",\"match\":{\"api\":\"beat\",\"serviceName\":\"g@@order\"},\"action\":{\"status\":500}}");
    struct fault_request beat = req_api("beat");
    char id[64];
    assert_false(match_now(f, &beat, T0, id, sizeof id));
    beat.group = "g";
    assert_true(match_now(f, &beat, T0, id, sizeof id));
    assert_string_equal(id, "grp");
    beat.group = "DEFAULT_GROUP";
    beat.service = "order-57";
    assert_true(match_now(f, &beat, T0, id, sizeof id));
    assert_string_equal(id, "other-57");
    beat.service = NULL;
    assert_false(match_now(f, &beat, T0, id, sizeof id));
    add_ok(f, "{\"id\":\"all\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500}}");
    assert_true(match_now(f, &beat, T0, id, sizeof id));
    assert_string_equal(id, "all");
    faults_free(f);
}

/* ------------------------------------------------------------------ delete, clear, reset */

static void test_delete_clear(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    add_ok(f, "{\"id\":\"a\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500}}");
    add_ok(f, "{\"id\":\"b\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":501}}");
    add_ok(f, "{\"id\":\"c\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":502}}");
    assert_int_equal(faults_delete(f, "b"), 0);
    assert_int_equal(faults_delete(f, "b"), 1);
    assert_int_equal(faults_delete(f, "nope"), 1);
    assert_int_equal(faults_count(f), 2);
    cJSON *l = faults_list_json(f, T0);
    assert_json_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "faults"), 1),
                      "{\"id\":\"c\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":502},\"probability\":1,"
                      "\"after\":0,\"times\":null,\"forMs\":null,\"hits\":0,\"remaining\":null,\"expired\":false}");
    cJSON_Delete(l);
    struct fault_request beat = req_api("beat");
    char id[64];
    assert_true(match_now(f, &beat, T0, id, sizeof id));
    assert_string_equal(id, "a");
    assert_int_equal(faults_delete(f, "a"), 0);
    assert_true(match_now(f, &beat, T0, id, sizeof id));
    assert_string_equal(id, "c");
    /* a deleted id can be used again */
    add_ok(f, "{\"id\":\"a\",\"match\":{\"api\":\"list\"},\"action\":{\"status\":500}}");
    faults_clear(f);
    assert_int_equal(faults_count(f), 0);
    assert_false(match_now(f, &beat, T0, NULL, 0));
    l = faults_list_json(f, T0);
    assert_json_equal(l, "{\"faults\":[]}");
    cJSON_Delete(l);
    faults_free(f);
}

static void test_reset(void **state)
{
    (void)state;
    struct faults *f = faults_create(2024);
    /* as --fault/--faults give them: one with an id, one without */
    cJSON_Delete(add_ok_at(f, "{\"id\":\"flaky\",\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500},"
                              "\"probability\":0.5}",
                           T0, true));
    cJSON *s = add_ok_at(f, "{\"match\":{\"api\":\"list\"},\"action\":{\"delayMs\":10,\"jitterMs\":90},\"times\":4}",
                         T0, true);
    char gen[64];
    snprintf(gen, sizeof gen, "%s", cJSON_GetObjectItem(s, "id")->valuestring);
    cJSON_Delete(s);
    /* added at run time: gone after reset */
    add_ok(f, "{\"id\":\"runtime\",\"match\":{\"api\":\"any\"},\"action\":{\"status\":503}}");
    assert_int_equal(faults_delete(f, "flaky"), 0);   /* even a deleted start rule comes back */

    struct fault_request beat = req_api("beat"), list = req_api("list");

    faults_reset(f, T0);
    assert_int_equal(faults_count(f), 2);
    cJSON *l = faults_list_json(f, T0);
    const cJSON *arr = cJSON_GetObjectItem(l, "faults");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "id")->valuestring, "flaky");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "id")->valuestring, gen);
    cJSON_Delete(l);

    /* a sequence of requests after a reset ... */
    bool seq1[100], seq2[100];
    int64_t d1[4], d2[4];
    struct fault_hit h;
    for (int i = 0; i < 100; i++) seq1[i] = match_now(f, &beat, T0, NULL, 0);
    for (int i = 0; i < 4; i++) {
        assert_true(faults_match(f, &list, T0, &h));
        d1[i] = h.delay_ms;
        fault_hit_free(&h);
    }
    assert_false(match_now(f, &list, T0, NULL, 0));   /* times 4: spent */
    l = faults_list_json(f, T0);
    assert_int_equal((int)num(listed(l, gen), "hits"), 4);
    cJSON_Delete(l);

    /* ... repeats exactly after the next reset: counters zeroed, generator re-seeded */
    faults_reset(f, T0);
    l = faults_list_json(f, T0);
    assert_int_equal((int)num(listed(l, "flaky"), "hits"), 0);
    assert_int_equal((int)num(listed(l, gen), "hits"), 0);
    assert_int_equal((int)num(listed(l, gen), "remaining"), 4);
    cJSON_Delete(l);
    for (int i = 0; i < 100; i++) seq2[i] = match_now(f, &beat, T0, NULL, 0);
    for (int i = 0; i < 4; i++) {
        assert_true(faults_match(f, &list, T0, &h));
        d2[i] = h.delay_ms;
        fault_hit_free(&h);
    }
    assert_memory_equal(seq1, seq2, sizeof seq1);
    assert_memory_equal(d1, d2, sizeof d1);
    int hits = 0;
    for (int i = 0; i < 100; i++) hits += seq1[i];
    assert_true(hits > 20 && hits < 80);
    /* a new rule without id after reset does not take a start rule's id */
    s = add_ok_at(f, "{\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500}}", T0, false);
    assert_string_not_equal(cJSON_GetObjectItem(s, "id")->valuestring, gen);
    cJSON_Delete(s);
    faults_free(f);
}

/* A start rule with forMs: reset restores it as if just added (at the reset's now), not expired. */
static void test_reset_restores_for_ms_rule(void **state)
{
    (void)state;
    struct faults *f = faults_create(1);
    cJSON_Delete(add_ok_at(f, "{\"id\":\"restarting\",\"match\":{\"api\":\"any\"},\"action\":{\"status\":503},"
                              "\"forMs\":10000}",
                           T0, true));
    struct fault_request list = req_api("list");
    assert_true(match_now(f, &list, T0 + 1, NULL, 0));
    assert_false(match_now(f, &list, T0 + 20000, NULL, 0));   /* expired */
    faults_reset(f, T0 + 20000);
    assert_true(match_now(f, &list, T0 + 20001, NULL, 0));    /* back, with its window from the reset */
    cJSON *l = faults_list_json(f, T0 + 20001);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(listed(l, "restarting"), "expired")));
    cJSON_Delete(l);
    assert_true(match_now(f, &list, T0 + 29999, NULL, 0));
    assert_false(match_now(f, &list, T0 + 30000, NULL, 0));
    faults_free(f);
}

static void test_jitter_range(void **state)
{
    (void)state;
    struct faults *f = faults_create(5);
    add_ok(f, "{\"match\":{\"api\":\"list\"},\"action\":{\"delayMs\":100,\"jitterMs\":50}}");
    add_ok(f, "{\"match\":{\"api\":\"beat\"},\"action\":{\"status\":500,\"jitterMs\":20}}");
    struct fault_request list = req_api("list"), beat = req_api("beat");
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    struct fault_hit h;
    for (int i = 0; i < 2000; i++) {
        assert_true(faults_match(f, &list, T0, &h));
        if (h.delay_ms < 100 || h.delay_ms > 150) fail_msg("delay %lld outside [100, 150]", (long long)h.delay_ms);
        if (h.delay_ms < lo) lo = h.delay_ms;
        if (h.delay_ms > hi) hi = h.delay_ms;
        fault_hit_free(&h);
    }
    assert_int_equal(lo, 100);   /* both ends reachable */
    assert_int_equal(hi, 150);
    lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < 500; i++) {   /* jitter alone: a late error within [0, 20] */
        assert_true(faults_match(f, &beat, T0, &h));
        assert_int_equal(h.status, 500);
        if (h.delay_ms < lo) lo = h.delay_ms;
        if (h.delay_ms > hi) hi = h.delay_ms;
        fault_hit_free(&h);
    }
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 20);
    faults_free(f);
}

static void test_random_seeded(void **state)
{
    (void)state;
    struct faults *a = faults_create(77), *b = faults_create(77);
    assert_int_equal(faults_seed(a), 77);
    for (int i = 0; i < 50; i++) {
        double x = faults_random(a), y = faults_random(b);
        assert_true(x >= 0.0 && x < 1.0);
        assert_true(x == y);
    }
    faults_free(a);
    faults_free(b);
}

/* A listener poll's keys, as cs_http gives them to fault matching. */
struct keyset { const char *v[4][3]; int n; };

static bool keys_about(const void *ctx, const char *ns, const char *group, const char *data_id)
{
    const struct keyset *k = ctx;
    for (int i = 0; i < k->n; i++)
        if ((!ns || !strcmp(ns, k->v[i][0])) && (!group || !strcmp(group, k->v[i][1])) &&
            (!data_id || !strcmp(data_id, k->v[i][2])))
            return true;
    return false;
}

static void test_config_rules(void **state)
{
    (void)state;
    struct fault_request get = {.api = "config.get", .method = "GET", .path = "/nacos/v1/cs/configs", .ns = "public",
                                .group = "DEFAULT_GROUP", .data_id = "app.yaml"};
    assert_true(fires("{\"match\":{\"api\":\"config.get\"},\"action\":{\"status\":500}}", &get));
    assert_true(fires("{\"match\":{\"api\":\"config.get\",\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\","
                      "\"namespaceId\":\"public\"},\"action\":{\"status\":500}}", &get));
    assert_true(fires("{\"match\":{\"api\":\"config.get\",\"groupName\":\"DEFAULT_GROUP\"},\"action\":{\"status\":500}}", &get));
    assert_false(fires("{\"match\":{\"api\":\"config.get\",\"dataId\":\"db.yaml\"},\"action\":{\"status\":500}}", &get));
    assert_false(fires("{\"match\":{\"api\":\"config.get\",\"group\":\"OTHER\"},\"action\":{\"status\":500}}", &get));
    assert_false(fires("{\"match\":{\"api\":\"config.get\",\"namespaceId\":\"dev\"},\"action\":{\"status\":500}}", &get));
    assert_false(fires("{\"match\":{\"api\":\"config.publish\"},\"action\":{\"status\":500}}", &get));
    assert_true(fires("{\"match\":{\"api\":\"any\"},\"action\":{\"status\":500}}", &get));
    /* a naming request has no dataId: a rule naming one never fires for it */
    struct fault_request list = req_api("list");
    assert_false(fires("{\"match\":{\"api\":\"any\",\"dataId\":\"app.yaml\"},\"action\":{\"status\":500}}", &list));

    /* a poll: any of its keys */
    struct keyset ks = {.v = {{"public", "G", "a"}, {"dev", "H", "b"}}, .n = 2};
    struct fault_request poll = {.api = "config.listen", .method = "POST", .path = "/nacos/v1/cs/configs/listener",
                                 .about = keys_about, .about_ctx = &ks};
    assert_true(fires("{\"match\":{\"api\":\"config.listen\"},\"action\":{\"drop\":\"hang\"}}", &poll));
    assert_true(fires("{\"match\":{\"api\":\"config.listen\",\"dataId\":\"b\"},\"action\":{\"drop\":\"hang\"}}", &poll));
    assert_true(fires("{\"match\":{\"api\":\"config.listen\",\"dataId\":\"b\",\"group\":\"H\",\"namespaceId\":\"dev\"},"
                      "\"action\":{\"drop\":\"hang\"}}", &poll));
    assert_false(fires("{\"match\":{\"api\":\"config.listen\",\"dataId\":\"b\",\"group\":\"G\"},\"action\":{\"drop\":\"hang\"}}",
                       &poll));   /* both fields of one key */
    assert_false(fires("{\"match\":{\"api\":\"config.listen\",\"dataId\":\"c\"},\"action\":{\"delayMs\":5}}", &poll));
    ks.n = 0;   /* an unparseable poll: no key */
    assert_false(fires("{\"match\":{\"api\":\"config.listen\",\"dataId\":\"a\"},\"action\":{\"delayMs\":5}}", &poll));
    assert_true(fires("{\"match\":{\"api\":\"config.listen\"},\"action\":{\"delayMs\":5}}", &poll));

    /* gRPC pushes: drop and delayMs only, and "any" is not them */
    struct faults *f = faults_create(1);
    add_refused(f, "{\"match\":{\"api\":\"config.push\"},\"action\":{\"status\":500}}", -1, "config.push");
    add_ok(f, "{\"match\":{\"api\":\"config.push\",\"dataId\":\"a\"},\"action\":{\"drop\":\"close\"}}");
    faults_free(f);
    struct fault_request push = {.api = "config.push", .ns = "public", .group = "G", .data_id = "a"};
    assert_false(fires("{\"match\":{\"api\":\"any\"},\"action\":{\"status\":500}}", &push));
    assert_true(fires("{\"match\":{\"api\":\"config.push\"},\"action\":{\"delayMs\":10}}", &push));
    /* compact form knows the new fields */
    char err[256];
    cJSON *j = faults_compact_to_json("api=config.get,status=500,dataId=app.yaml,group=G", err, sizeof err);
    assert_non_null(j);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "match");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "dataId")->valuestring, "app.yaml");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "group")->valuestring, "G");
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_example),
        cmocka_unit_test(test_compact_all_fields),
        cmocka_unit_test(test_compact_errors),
        cmocka_unit_test(test_valid_rule_stored),
        cmocka_unit_test(test_invalid_rules),
        cmocka_unit_test(test_api_names),
        cmocka_unit_test(test_match_api_and_any),
        cmocka_unit_test(test_match_method_path),
        cmocka_unit_test(test_match_ns_group_cluster_ip_port),
        cmocka_unit_test(test_match_service_bare_and_grouped),
        cmocka_unit_test(test_hit_contents),
        cmocka_unit_test(test_after),
        cmocka_unit_test(test_times_then_spent),
        cmocka_unit_test(test_probability_seeded),
        cmocka_unit_test(test_probability_rate),
        cmocka_unit_test(test_for_ms_expiry),
        cmocka_unit_test(test_first_firing_rule_wins),
        cmocka_unit_test(test_many_service_rules),
        cmocka_unit_test(test_delete_clear),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_reset_restores_for_ms_rule),
        cmocka_unit_test(test_jitter_range),
        cmocka_unit_test(test_random_seeded),
        cmocka_unit_test(test_config_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
