/*
 * test_api.c — the Nacos v1 naming API over real HTTP (nacos-api.md §1–2): one real nacos-mock
 * process for the whole group (port 0), driven with libcurl through tests/harness.h, stopped at
 * the end with SIGTERM and required to exit 0.
 *
 * Every test uses its own service names, so the tests share the server without seeing each other.
 * Every rejected request is checked three ways: exact status, exact body (`caused: ...;` naming the
 * parameter or object) and content type, and an unchanged registry (the full /__mock/registry dump
 * before and after, minus its `nowMs`).
 *
 * Nothing here waits for real time: the whole group runs in about a second, far below the 15 s
 * after which the real sweeper would start turning silent instances unhealthy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define CT_TEXT "text/plain;charset=UTF-8"
#define CT_JSON "application/json"
#define JAVA_UA "Nacos-Java-Client:v1.4.8"
#define NODE_UA "Nacos-Java-Client:v1.0.0"
#define GO_UA "Nacos-Go-Client:v1.1.6"
#define PY_UA "Nacos-Python-Client:v2.0.11"
#define INST "/nacos/v1/ns/instance"
#define LIST "/nacos/v1/ns/instance/list"
#define BEAT "/nacos/v1/ns/instance/beat"
#define SERVICE "/nacos/v1/ns/service"
#define HEALTH "/nacos/v1/ns/health/instance"

static struct nm_server *S;   /* the server of this group */

/* ------------------------------------------------------------------ plumbing */

static int group_setup(void **state)
{
    (void)state;
    S = calloc(1, sizeof *S);
    if (!S || nm_start(S, (const char *const[]){"--quiet", NULL})) return -1;
    return 0;
}

/* cmocka 1.1 does not count a failing group teardown in the exit status, so the clean stop is
 * checked by the last test (test_clean_stop); this only cleans up after an aborted run. */
static int group_teardown(void **state)
{
    (void)state;
    if (S->pid > 0) nm_kill(S);
    free(S);
    return 0;
}

/* One request; fails the test on a transport error. */
static void call(struct nm_resp *r, const char *method, const char *path, const char *body, const char *ua)
{
    nm_http(S, method, path, body, NULL, ua, r);
    if (r->status < 0) fail_msg("%s %s: transport error (curl %d)", method, path, r->curl_code);
}

static void expect_text(const struct nm_resp *r, long status, const char *body)
{
    if (r->status != status || strcmp(r->body, body) != 0)
        fail_msg("got %ld \"%s\", want %ld \"%s\"", r->status, r->body, status, body);
    assert_int_equal(r->len, strlen(body));
    assert_string_equal(r->content_type, CT_TEXT);
}

/* The registry as /__mock/registry dumps it, minus nowMs (caller frees with cJSON_free). */
static char *snapshot(void)
{
    cJSON *j = nm_get_json(S, "/__mock/registry");
    assert_non_null(j);
    cJSON_DeleteItemFromObjectCaseSensitive(j, "nowMs");
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(t);
    return t;
}

/* A request that must answer exactly (status, body) as text/plain and leave the registry alone. */
static void expect_unchanged(const char *method, const char *path, const char *body, const char *ua, long status,
                             const char *want)
{
    char *before = snapshot();
    struct nm_resp r;
    call(&r, method, path, body, ua);
    expect_text(&r, status, want);
    nm_resp_free(&r);
    char *after = snapshot();
    if (strcmp(before, after) != 0)
        fail_msg("%s %s changed the registry:\nbefore %s\nafter  %s", method, path, before, after);
    cJSON_free(before);
    cJSON_free(after);
}

static void expect_ok(const char *method, const char *path, const char *body, const char *ua)
{
    struct nm_resp r;
    call(&r, method, path, body, ua);
    expect_text(&r, 200, "ok");   /* Python wants exactly these two bytes */
    nm_resp_free(&r);
}

/* GET that must answer 200 application/json; returns the parsed body (caller deletes). The raw body
 * goes to *raw when raw != NULL (caller frees). */
static cJSON *get_json_ua(const char *path, const char *ua, char **raw)
{
    struct nm_resp r;
    call(&r, "GET", path, NULL, ua);
    if (r.status != 200) fail_msg("GET %s -> %ld %s", path, r.status, r.body);
    assert_string_equal(r.content_type, CT_JSON);
    cJSON *j = cJSON_Parse(r.body);
    if (!j) fail_msg("GET %s: not JSON: %s", path, r.body);
    if (raw) {
        *raw = r.body;
        r.body = NULL;
    }
    nm_resp_free(&r);
    return j;
}

static cJSON *get_json(const char *path) { return get_json_ua(path, NULL, NULL); }

/* Exact JSON body (as the server prints it). */
static void expect_json_body(const char *method, const char *path, const char *body, const char *ua, const char *want)
{
    struct nm_resp r;
    call(&r, method, path, body, ua);
    if (r.status != 200 || strcmp(r.body, want) != 0)
        fail_msg("%s %s -> %ld %s, want 200 %s", method, path, r.status, r.body, want);
    assert_string_equal(r.content_type, CT_JSON);
    nm_resp_free(&r);
}

static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        char *t = cJSON_PrintUnformatted(o);
        fail_msg("no field '%s' in %s", key, t);
    }
    return v;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = field(o, key);
    if (!cJSON_IsString(v)) fail_msg("field '%s' is not a string", key);
    return v->valuestring;
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = field(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("field '%s' is not a number", key);
    return v->valuedouble;
}

static bool jbool(const cJSON *o, const char *key)
{
    const cJSON *v = field(o, key);
    if (!cJSON_IsBool(v)) fail_msg("field '%s' is not a boolean", key);
    return cJSON_IsTrue(v);
}

/* The object's JSON text (for exact comparisons of small objects). */
static void assert_json(const cJSON *o, const char *want)
{
    char *t = cJSON_PrintUnformatted(o);
    assert_non_null(t);
    if (strcmp(t, want) != 0) fail_msg("got %s, want %s", t, want);
    cJSON_free(t);
}

/* POST register from a query string. */
static void reg(const char *query)
{
    expect_ok("POST", nm_fmt(INST "?%s", query), NULL, NULL);
}

static void set_health(const char *svc, const char *ip, int port, const char *healthy)
{
    expect_ok("PUT", nm_fmt(HEALTH "?serviceName=%s&ip=%s&port=%d&healthy=%s", svc, ip, port, healthy), NULL, NULL);
}

static cJSON *list_ua(const char *query, const char *ua)
{
    return get_json_ua(nm_fmt(LIST "?%s", query), ua, NULL);
}

static cJSON *list(const char *query) { return list_ua(query, NULL); }

static int n_hosts(const cJSON *lst)
{
    const cJSON *h = field(lst, "hosts");
    if (!cJSON_IsArray(h)) fail_msg("hosts is not an array");
    return cJSON_GetArraySize(h);
}

static const cJSON *host_at(const cJSON *lst, int i)
{
    const cJSON *h = cJSON_GetArrayItem(field(lst, "hosts"), i);
    if (!h) fail_msg("no host %d", i);
    return h;
}

static const cJSON *host_by_ip(const cJSON *lst, const char *ip)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, field(lst, "hosts"))
        if (!strcmp(jstr(h, "ip"), ip)) return h;
    return NULL;
}

/* The instance as /__mock/registry knows it (its true state), or NULL. Caller deletes. */
static cJSON *reg_inst(const char *ns, const char *group, const char *svc, const char *ip, int port)
{
    cJSON *d = nm_get_json(S, "/__mock/registry");
    assert_non_null(d);
    cJSON *out = NULL;
    const cJSON *n, *s, *i;
    cJSON_ArrayForEach(n, field(d, "namespaces")) {
        if (strcmp(jstr(n, "namespaceId"), ns)) continue;
        cJSON_ArrayForEach(s, field(n, "services")) {
            if (strcmp(jstr(s, "name"), svc) || strcmp(jstr(s, "groupName"), group)) continue;
            cJSON_ArrayForEach(i, field(s, "instances"))
                if (!strcmp(jstr(i, "ip"), ip) && (int)jnum(i, "port") == port) out = cJSON_Duplicate(i, true);
        }
    }
    cJSON_Delete(d);
    return out;
}

/* Does (ns, group@@svc) exist in the registry? */
static bool reg_has_service(const char *ns, const char *group, const char *svc)
{
    cJSON *d = nm_get_json(S, "/__mock/registry");
    assert_non_null(d);
    bool found = false;
    const cJSON *n, *s;
    cJSON_ArrayForEach(n, field(d, "namespaces")) {
        if (strcmp(jstr(n, "namespaceId"), ns)) continue;
        cJSON_ArrayForEach(s, field(n, "services"))
            if (!strcmp(jstr(s, "name"), svc) && !strcmp(jstr(s, "groupName"), group)) found = true;
    }
    cJSON_Delete(d);
    return found;
}

/* Detail of an instance (must exist). */
static cJSON *detail(const char *query)
{
    return get_json(nm_fmt(INST "?%s", query));
}

/* ------------------------------------------------------------------ register */

static void test_register_query_and_form(void **state)
{
    (void)state;
    expect_ok("POST", INST "?serviceName=reg-q&ip=10.0.0.5&port=8080", NULL, NULL);
    char *raw = NULL;
    cJSON *d = get_json_ua(INST "?serviceName=reg-q&ip=10.0.0.5&port=8080", NULL, &raw);
    assert_json(d, "{\"service\":\"DEFAULT_GROUP@@reg-q\",\"ip\":\"10.0.0.5\",\"port\":8080,\"clusterName\":\"DEFAULT\","
                   "\"weight\":1,\"healthy\":true,\"instanceId\":\"10.0.0.5#8080#DEFAULT#DEFAULT_GROUP@@reg-q\","
                   "\"metadata\":{}}");
    assert_non_null(strstr(raw, "\"weight\":1.0,"));   /* Java renders doubles with a fraction */
    free(raw);
    cJSON_Delete(d);

    expect_ok("POST", INST, "serviceName=reg-f&groupName=grp&ip=10.0.0.6&port=9090&weight=2.5&clusterName=C1"
                            "&metadata=%7B%22k%22%3A%22v%22%7D", NULL);
    d = detail("serviceName=grp@@reg-f&ip=10.0.0.6&port=9090&clusterName=C1");
    assert_json(d, "{\"service\":\"grp@@reg-f\",\"ip\":\"10.0.0.6\",\"port\":9090,\"clusterName\":\"C1\",\"weight\":2.5,"
                   "\"healthy\":true,\"instanceId\":\"10.0.0.6#9090#C1#grp@@reg-f\",\"metadata\":{\"k\":\"v\"}}");
    cJSON_Delete(d);

    /* `cluster` is the fallback of clusterName on register */
    reg("serviceName=reg-f&groupName=grp&ip=10.0.0.7&port=9090&cluster=C2");
    cJSON *i = reg_inst("public", "grp", "reg-f", "10.0.0.7", 9090);
    assert_non_null(i);
    assert_string_equal(jstr(i, "clusterName"), "C2");
    assert_true(jbool(i, "ephemeral"));
    assert_true(jbool(i, "enabled"));
    cJSON_Delete(i);
}

static void test_query_wins_over_body(void **state)
{
    (void)state;
    expect_ok("POST", INST "?serviceName=qwin&ip=10.1.0.1&port=8080&weight=2",
              "serviceName=qwin-body&ip=10.1.0.2&port=9090&weight=3&metadata=%7B%22from%22%3A%22body%22%7D", NULL);
    cJSON *d = detail("serviceName=qwin&ip=10.1.0.1&port=8080");
    assert_true(jnum(d, "weight") == 2.0);
    assert_json(field(d, "metadata"), "{\"from\":\"body\"}");   /* keys only in the body still count */
    cJSON_Delete(d);
    assert_false(reg_has_service("public", "DEFAULT_GROUP", "qwin-body"));
    cJSON *i = reg_inst("public", "DEFAULT_GROUP", "qwin", "10.1.0.2", 9090);
    assert_null(i);
}

static void test_go_raw_put_body(void **state)
{
    (void)state;
    /* nacos-sdk-go v1 sends PUT bodies as raw, un-encoded key=value pairs */
    expect_ok("PUT", INST,
              "serviceName=DEFAULT_GROUP@@goraw&ip=10.2.0.1&port=7001&weight=1.5&ephemeral=true"
              "&metadata={\"k\":\"v\",\"tags\":\"[a|b]\",\"n\":3}",
              GO_UA);
    cJSON *d = detail("serviceName=DEFAULT_GROUP@@goraw&ip=10.2.0.1&port=7001");
    assert_true(jnum(d, "weight") == 1.5);
    assert_json(field(d, "metadata"), "{\"k\":\"v\",\"tags\":\"[a|b]\",\"n\":\"3\"}");
    cJSON_Delete(d);

    struct nm_resp r;
    call(&r, "PUT", BEAT,
         "serviceName=DEFAULT_GROUP@@goraw&beat={\"cluster\":\"DEFAULT\",\"ip\":\"10.2.0.2\",\"metadata\":{\"k\":\"v\"},"
         "\"period\":5000,\"port\":7002,\"scheduled\":true,\"serviceName\":\"DEFAULT_GROUP@@goraw\",\"stopped\":false,"
         "\"weight\":2}",
         GO_UA);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, CT_JSON);
    assert_string_equal(r.body, "{\"clientBeatInterval\":5000,\"code\":10200,\"lightBeatEnabled\":true}");
    nm_resp_free(&r);
    d = detail("serviceName=DEFAULT_GROUP@@goraw&ip=10.2.0.2&port=7002");
    assert_true(jnum(d, "weight") == 2.0);
    assert_json(field(d, "metadata"), "{\"k\":\"v\"}");
    assert_string_equal(jstr(d, "instanceId"), "10.2.0.2#7002#DEFAULT#DEFAULT_GROUP@@goraw");
    cJSON_Delete(d);
}

static void test_plus_is_space(void **state)
{
    (void)state;
    reg("serviceName=plus+svc&ip=10.3.0.1&port=8080&metadata=%7B%22k%22%3A%22a+b%22%2C%22p%22%3A%22c%2Bd%22%7D");
    assert_true(reg_has_service("public", "DEFAULT_GROUP", "plus svc"));
    cJSON *l = list("serviceName=plus%20svc");
    assert_string_equal(jstr(l, "name"), "DEFAULT_GROUP@@plus svc");
    assert_int_equal(n_hosts(l), 1);
    assert_json(field(host_at(l, 0), "metadata"), "{\"k\":\"a b\",\"p\":\"c+d\"}");
    cJSON_Delete(l);
    /* in a form body too (libmicrohttpd decodes the query's '+'; the body is ours alone) */
    expect_ok("POST", INST, "serviceName=plus+body&ip=10.3.0.2&port=8080&metadata=%7B%22k%22%3A%22a+b%22%7D", NULL);
    cJSON *d = detail("serviceName=plus%20body&ip=10.3.0.2&port=8080");
    assert_string_equal(jstr(d, "service"), "DEFAULT_GROUP@@plus body");
    assert_json(field(d, "metadata"), "{\"k\":\"a b\"}");
    cJSON_Delete(d);
}

static void test_utf8_names(void **state)
{
    (void)state;
    /* service "订单", group "组", cluster "集群" */
    reg("serviceName=%E8%AE%A2%E5%8D%95&groupName=%E7%BB%84&clusterName=%E9%9B%86%E7%BE%A4&ip=10.3.1.1&port=8080");
    cJSON *l = list_ua("serviceName=%E7%BB%84%40%40%E8%AE%A2%E5%8D%95", JAVA_UA);
    assert_string_equal(jstr(l, "name"), "\xE7\xBB\x84@@\xE8\xAE\xA2\xE5\x8D\x95");
    assert_string_equal(jstr(l, "groupName"), "\xE7\xBB\x84");
    assert_int_equal(n_hosts(l), 1);
    assert_string_equal(jstr(host_at(l, 0), "instanceId"),
                        "10.3.1.1#8080#\xE9\x9B\x86\xE7\xBE\xA4#\xE7\xBB\x84@@\xE8\xAE\xA2\xE5\x8D\x95");
    cJSON_Delete(l);
    expect_unchanged("POST", INST "?serviceName=%E8%AE&ip=10.3.1.2&port=8080", NULL, NULL, 400,
                     "caused: Param 'serviceName' is not valid UTF-8 (byte 0);");
}

static void test_python_booleans(void **state)
{
    (void)state;
    reg("serviceName=py&ip=10.4.0.1&port=8080&ephemeral=False&healthy=False&enabled=True");
    reg("serviceName=py&ip=10.4.0.2&port=8080&ephemeral=True&healthy=True&enabled=True");
    cJSON *a = reg_inst("public", "DEFAULT_GROUP", "py", "10.4.0.1", 8080);
    cJSON *b = reg_inst("public", "DEFAULT_GROUP", "py", "10.4.0.2", 8080);
    assert_non_null(a);
    assert_non_null(b);
    assert_false(jbool(a, "ephemeral"));
    assert_false(jbool(a, "healthy"));
    assert_true(jbool(a, "enabled"));
    assert_true(jbool(b, "ephemeral"));
    assert_true(jbool(b, "healthy"));
    cJSON_Delete(a);
    cJSON_Delete(b);

    cJSON *l = list("serviceName=py");
    assert_int_equal(n_hosts(l), 2);
    assert_false(jbool(host_by_ip(l, "10.4.0.1"), "ephemeral"));
    assert_false(jbool(host_by_ip(l, "10.4.0.1"), "healthy"));
    assert_true(jbool(host_by_ip(l, "10.4.0.2"), "ephemeral"));
    cJSON_Delete(l);

    /* deregistering the persistent one needs ephemeral=False, Python-style */
    expect_ok("DELETE", INST "?serviceName=py&ip=10.4.0.1&port=8080&ephemeral=False", NULL, PY_UA);
    a = reg_inst("public", "DEFAULT_GROUP", "py", "10.4.0.1", 8080);
    assert_null(a);
}

static void test_enable_vs_enabled(void **state)
{
    (void)state;
    reg("serviceName=en&ip=10.5.0.1&port=8080&enable=false");              /* the Java client's spelling */
    reg("serviceName=en&ip=10.5.0.2&port=8080&enabled=true&enable=false"); /* enabled wins */
    reg("serviceName=en&ip=10.5.0.3&port=8080&enabled=&enable=false");     /* blank enabled: enable */
    reg("serviceName=en&ip=10.5.0.4&port=8080&enabled=False");
    reg("serviceName=en&ip=10.5.0.5&port=8080");                           /* default true */
    const char *ips[] = {"10.5.0.1", "10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5"};
    bool want[] = {false, true, false, false, true};
    for (int k = 0; k < 5; k++) {
        cJSON *i = reg_inst("public", "DEFAULT_GROUP", "en", ips[k], 8080);
        assert_non_null(i);
        if (jbool(i, "enabled") != want[k]) fail_msg("%s: enabled should be %d", ips[k], want[k]);
        cJSON_Delete(i);
    }
    /* disabled instances are never listed */
    cJSON *l = list("serviceName=en");
    assert_int_equal(n_hosts(l), 2);
    assert_non_null(host_by_ip(l, "10.5.0.2"));
    assert_non_null(host_by_ip(l, "10.5.0.5"));
    cJSON_Delete(l);
}

static void test_reregister_keeps_instance_id(void **state)
{
    (void)state;
    reg("serviceName=rereg&ip=10.6.0.1&port=8080&weight=1");
    cJSON *before = reg_inst("public", "DEFAULT_GROUP", "rereg", "10.6.0.1", 8080);
    assert_non_null(before);
    /* one virtual second later the same key registers again */
    struct nm_resp r;
    nm_http(S, "POST", "/__mock/clock/advance", "{\"ms\":1000}", "application/json", NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    reg("serviceName=rereg&ip=10.6.0.1&port=8080&weight=7&metadata=k%3Dv");
    cJSON *after = reg_inst("public", "DEFAULT_GROUP", "rereg", "10.6.0.1", 8080);
    assert_non_null(after);
    assert_string_equal(jstr(after, "instanceId"), "10.6.0.1#8080#DEFAULT#DEFAULT_GROUP@@rereg");
    assert_true(jnum(after, "weight") == 7.0);
    assert_json(field(after, "metadata"), "{\"k\":\"v\"}");
    assert_true(jnum(after, "registeredMs") == jnum(before, "registeredMs"));
    assert_true(jnum(after, "lastBeatMs") >= jnum(before, "lastBeatMs") + 1000);   /* register resets the beat */
    cJSON_Delete(before);
    cJSON_Delete(after);
}

static void test_snowflake_ids(void **state)
{
    (void)state;
    const char *md = "metadata=%7B%22preserved.instance.id.generator%22%3A%22snowflake%22%7D";
    reg(nm_fmt("serviceName=snow&ip=10.7.0.1&port=8080&%s", md));
    reg(nm_fmt("serviceName=snow&ip=10.7.0.2&port=8080&%s", md));
    cJSON *d = detail("serviceName=snow&ip=10.7.0.1&port=8080");
    assert_string_equal(jstr(d, "instanceId"), "0");
    cJSON_Delete(d);
    d = detail("serviceName=snow&ip=10.7.0.2&port=8080");
    assert_string_equal(jstr(d, "instanceId"), "1");
    cJSON_Delete(d);
    /* re-registering keeps "0" */
    reg(nm_fmt("serviceName=snow&ip=10.7.0.1&port=8080&weight=3&%s", md));
    d = detail("serviceName=snow&ip=10.7.0.1&port=8080");
    assert_string_equal(jstr(d, "instanceId"), "0");
    assert_true(jnum(d, "weight") == 3.0);
    cJSON_Delete(d);
    /* the smallest free id is reused */
    expect_ok("DELETE", INST "?serviceName=snow&ip=10.7.0.1&port=8080", NULL, NULL);
    reg(nm_fmt("serviceName=snow&ip=10.7.0.3&port=8080&%s", md));
    d = detail("serviceName=snow&ip=10.7.0.3&port=8080");
    assert_string_equal(jstr(d, "instanceId"), "0");
    cJSON_Delete(d);
    cJSON *l = list("serviceName=snow");
    assert_string_equal(jstr(host_at(l, 0), "instanceIdGenerator"), "snowflake");
    cJSON_Delete(l);
}

static void test_weight_range(void **state)
{
    (void)state;
    reg("serviceName=wt&ip=10.8.0.1&port=8080&weight=0");
    reg("serviceName=wt&ip=10.8.0.2&port=8080&weight=10000");
    cJSON *d = detail("serviceName=wt&ip=10.8.0.2&port=8080");
    assert_true(jnum(d, "weight") == 10000.0);
    cJSON_Delete(d);
    d = detail("serviceName=wt&ip=10.8.0.1&port=8080");
    assert_true(jnum(d, "weight") == 0.0);
    cJSON_Delete(d);
    expect_unchanged("POST", INST "?serviceName=wt&ip=10.8.0.3&port=8080&weight=10001", NULL, NULL, 500,
                     "caused: instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': 10001);");
    expect_unchanged("POST", INST "?serviceName=wt&ip=10.8.0.1&port=8080&weight=-0.5", NULL, NULL, 500,
                     "caused: instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': -0.5);");
    expect_unchanged("POST", INST "?serviceName=wt&ip=10.8.0.1&port=8080&weight=abc", NULL, NULL, 400,
                     "caused: Param 'weight' is not a number: For input string: \"abc\";");
    expect_unchanged("POST", INST "?serviceName=wt&ip=10.8.0.1&port=8080&weight=NaN", NULL, NULL, 400,
                     "caused: Param 'weight' is not a number: For input string: \"NaN\";");
    expect_unchanged("POST", INST "?serviceName=wt&ip=10.8.0.1&port=8080&weight=1e400", NULL, NULL, 400,
                     "caused: Param 'weight' is not a number: For input string: \"1e400\";");
}

static void test_register_rejections(void **state)
{
    (void)state;
    reg("serviceName=rej&ip=10.9.0.1&port=8080");   /* something to not change */
    struct { const char *q; long status; const char *body; } cases[] = {
        {"ip=10.9.0.2&port=8080", 400, "caused: Param 'serviceName' is required.;"},
        {"serviceName=+&ip=10.9.0.2&port=8080", 400, "caused: Param 'serviceName' is required.;"},
        {"serviceName=rej&port=8080", 400, "caused: Param 'ip' is required.;"},
        {"serviceName=rej&ip=10.9.0.2", 400, "caused: Param 'port' is required.;"},
        {"serviceName=rej&ip=10.9.0.2&port=", 400, "caused: Param 'port' is required.;"},
        {"serviceName=rej&ip=10.9.0.2&port=0", 400, "caused: Param 'port' must be a port from 1 to 65535, got 0;"},
        {"serviceName=rej&ip=10.9.0.2&port=65536", 400,
         "caused: Param 'port' must be a port from 1 to 65535, got 65536;"},
        {"serviceName=rej&ip=10.9.0.2&port=-1", 400, "caused: Param 'port' must be a port from 1 to 65535, got -1;"},
        {"serviceName=rej&ip=10.9.0.2&port=8080abc", 400,
         "caused: Param 'port' is not a number: For input string: \"8080abc\";"},
        {"serviceName=rej&ip=999.1.1.1&port=8080", 400,
         "caused: instance format invalid: Your IP address is spelled incorrectly (param 'ip': \"999.1.1.1\");"},
        {"serviceName=rej&ip=1.2.3&port=8080", 400,
         "caused: instance format invalid: Your IP address is spelled incorrectly (param 'ip': \"1.2.3\");"},
        {"serviceName=rej&ip=bad_host-&port=8080", 400,
         "caused: Param 'ip' is neither an IP address nor a host name: \"bad_host-\";"},
        {"serviceName=@@svc&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'serviceName' is illegal: group and service around '@@' must not be empty, got \"@@svc\";"},
        {"serviceName=g@@&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'serviceName' is illegal: group and service around '@@' must not be empty, got \"g@@\";"},
        {"serviceName=a@@b@@c&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'serviceName' is illegal: '@@' may only separate group and service, got \"b@@c\";"},
        {"serviceName=x&groupName=a@@b&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'groupName' is illegal: '@@' may only separate group and service, got \"a@@b\";"},
        {"serviceName=a%01b&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'serviceName' contains a control character (byte 0x01 at 1);"},
        {"serviceName=%FFx&ip=10.9.0.2&port=8080", 400, "caused: Param 'serviceName' is not valid UTF-8 (byte 0);"},
        {"serviceName=rej&groupName=g%1B&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'groupName' contains a control character (byte 0x1b at 1);"},
        {"serviceName=rej&clusterName=c%02&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'clusterName' contains a control character (byte 0x02 at 1);"},
        {"serviceName=rej&namespaceId=n%03&ip=10.9.0.2&port=8080", 400,
         "caused: Param 'namespaceId' contains a control character (byte 0x03 at 1);"},
        {"serviceName=rej&ip=10.9.0.1&port=8080&metadata=k", 400,
         "caused: Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"k\";"},
        {"serviceName=rej&ip=10.9.0.1&port=8080&metadata=%7B%22preserved.heart.beat.interval%22%3A%22abc%22%7D",
         400, "caused: Param 'metadata' key 'preserved.heart.beat.interval' must be a positive number of "
              "milliseconds, got \"abc\";"},
        {"serviceName=rej&ip=10.9.0.1&port=8080&metadata=%7B%22preserved.heart.beat.interval%22%3A%2220000%22%7D",
         500, "caused: Instance 'heart beat interval' must less than 'heart beat timeout' and 'ip delete timeout'. "
              "(interval 20000 ms, timeout 15000 ms, delete timeout 30000 ms);"},
        {"serviceName=rej&ip=10.9.0.1%00&port=8080", 400, "caused: Param 'ip' contains a NUL byte;"},
        {"serviceName=rej%00x&ip=10.9.0.2&port=8080", 400, "caused: Param 'serviceName' contains a NUL byte;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_unchanged("POST", nm_fmt(INST "?%s", cases[i].q), NULL, NULL, cases[i].status, cases[i].body);

    /* the same through a form body */
    expect_unchanged("POST", INST, "serviceName=rej&ip=10.9.0.2&port=99999", NULL, 400,
                     "caused: Param 'port' must be a port from 1 to 65535, got 99999;");

    /* metadata over 64 KiB, in a form body */
    size_t n = 64 * 1024 + 1;
    char *big = malloc(n + 200);
    assert_non_null(big);
    int off = snprintf(big, 200, "serviceName=rej&ip=10.9.0.1&port=8080&metadata=");
    memset(big + off, 'x', n);
    big[off + (int)n] = '\0';
    expect_unchanged("POST", INST, big, NULL, 400, "caused: Param 'metadata' is too large: 65537 bytes, at most 65536;");
    free(big);
}

/* ------------------------------------------------------------------ deregister */

static void test_deregister(void **state)
{
    (void)state;
    reg("serviceName=dereg&ip=10.10.0.1&port=8080");
    reg("serviceName=dereg&ip=10.10.0.2&port=8080&ephemeral=false");
    reg("serviceName=dereg&ip=10.10.0.3&port=8080&clusterName=C1");

    /* unknown service, unknown instance: still 200 ok, nothing changes */
    expect_unchanged("DELETE", INST "?serviceName=dereg-none&ip=10.10.0.1&port=8080", NULL, NULL, 200, "ok");
    expect_unchanged("DELETE", INST "?serviceName=dereg&ip=10.10.0.9&port=8080", NULL, NULL, 200, "ok");
    /* wrong cluster */
    expect_unchanged("DELETE", INST "?serviceName=dereg&ip=10.10.0.3&port=8080", NULL, NULL, 200, "ok");
    /* the ephemeral flag must match: the persistent one stays */
    expect_unchanged("DELETE", INST "?serviceName=dereg&ip=10.10.0.2&port=8080", NULL, NULL, 200, "ok");
    expect_unchanged("DELETE", INST "?serviceName=dereg&ip=10.10.0.1&port=8080&ephemeral=false", NULL, NULL, 200, "ok");
    /* invalid parameters are still errors */
    expect_unchanged("DELETE", INST "?serviceName=dereg&ip=10.10.0.1", NULL, NULL, 400,
                     "caused: Param 'port' is required.;");
    expect_unchanged("DELETE", INST "?serviceName=dereg&ip=10.10.0.1&port=x", NULL, NULL, 400,
                     "caused: Param 'port' is not a number: For input string: \"x\";");

    expect_ok("DELETE", INST "?serviceName=dereg&ip=10.10.0.1&port=8080", NULL, NULL);
    expect_ok("DELETE", INST "?serviceName=dereg&ip=10.10.0.2&port=8080&ephemeral=false", NULL, NULL);
    expect_ok("DELETE", INST, "serviceName=dereg&ip=10.10.0.3&port=8080&clusterName=C1", NULL);   /* form body */
    cJSON *l = list("serviceName=dereg");
    assert_int_equal(n_hosts(l), 0);
    cJSON_Delete(l);
    cJSON *i = reg_inst("public", "DEFAULT_GROUP", "dereg", "10.10.0.2", 8080);
    assert_null(i);
}

/* ------------------------------------------------------------------ update (PUT) and PATCH */

static void test_update_put(void **state)
{
    (void)state;
    /* the Java client >= 1.0.0 may only update what exists */
    expect_unchanged("PUT", INST "?serviceName=upd-none&ip=10.11.0.1&port=8080&weight=2", NULL, JAVA_UA, 500,
                     "caused: service not found, namespace: public, service: DEFAULT_GROUP@@upd-none;");
    assert_false(reg_has_service("public", "DEFAULT_GROUP", "upd-none"));
    reg("serviceName=upd&ip=10.11.0.1&port=8080&metadata=a%3D1");
    expect_unchanged("PUT", INST "?serviceName=upd&ip=10.11.0.9&port=8080&weight=2", NULL, JAVA_UA, 500,
                     "caused: instance not exist: 10.11.0.9:8080 in cluster DEFAULT of service DEFAULT_GROUP@@upd "
                     "(namespace public);");
    expect_unchanged("PUT", INST "?serviceName=upd&ip=10.11.0.1&port=8080&clusterName=C9&weight=2", NULL, JAVA_UA, 500,
                     "caused: instance not exist: 10.11.0.1:8080 in cluster C9 of service DEFAULT_GROUP@@upd "
                     "(namespace public);");
    expect_unchanged("PUT", INST "?serviceName=upd&ip=10.11.0.1&port=8080&weight=20000", NULL, JAVA_UA, 500,
                     "caused: instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': 20000);");

    /* existing: updated; health is not touched when not given */
    set_health("upd", "10.11.0.1", 8080, "false");
    expect_ok("PUT", INST "?serviceName=upd&ip=10.11.0.1&port=8080&weight=4&metadata=b%3D2", NULL, JAVA_UA);
    cJSON *i = reg_inst("public", "DEFAULT_GROUP", "upd", "10.11.0.1", 8080);
    assert_non_null(i);
    assert_true(jnum(i, "weight") == 4.0);
    assert_json(field(i, "metadata"), "{\"b\":\"2\"}");
    assert_false(jbool(i, "healthy"));
    assert_string_equal(jstr(i, "instanceId"), "10.11.0.1#8080#DEFAULT#DEFAULT_GROUP@@upd");
    cJSON_Delete(i);

    /* every other client upserts */
    const char *uas[] = {GO_UA, PY_UA, "Nacos-Java-Client:v0.9.0", NULL};
    for (int k = 0; k < 4; k++) {
        const char *ip = nm_fmt("10.11.1.%d", k + 1);
        expect_ok("PUT", nm_fmt(INST "?serviceName=upd-other&ip=%s&port=8080&weight=5", ip), NULL, uas[k]);
        i = reg_inst("public", "DEFAULT_GROUP", "upd-other", ip, 8080);
        if (!i) fail_msg("PUT with UA %s did not create %s", uas[k] ? uas[k] : "(none)", ip);
        assert_true(jnum(i, "weight") == 5.0);
        assert_true(jbool(i, "healthy"));
        cJSON_Delete(i);
    }
}

static void test_patch(void **state)
{
    (void)state;
    reg("serviceName=patch&ip=10.12.0.1&port=8080&weight=1&metadata=a%3D1");
    reg("serviceName=patch&ip=10.12.0.2&port=8080");
    cJSON *before = reg_inst("public", "DEFAULT_GROUP", "patch", "10.12.0.1", 8080);

    expect_ok("PATCH", INST "?serviceName=patch&ip=10.12.0.1&port=8080&weight=5", NULL, NULL);
    cJSON *i = reg_inst("public", "DEFAULT_GROUP", "patch", "10.12.0.1", 8080);
    assert_true(jnum(i, "weight") == 5.0);
    assert_json(field(i, "metadata"), "{\"a\":\"1\"}");   /* untouched */
    assert_true(jbool(i, "enabled"));
    assert_true(jbool(i, "healthy"));
    assert_string_equal(jstr(i, "instanceId"), jstr(before, "instanceId"));
    assert_true(jnum(i, "lastBeatMs") == jnum(before, "lastBeatMs"));
    cJSON_Delete(i);

    expect_ok("PATCH", INST, "serviceName=patch&ip=10.12.0.1&port=8080&metadata=%7B%22b%22%3A%222%22%7D", NULL);
    i = reg_inst("public", "DEFAULT_GROUP", "patch", "10.12.0.1", 8080);
    assert_true(jnum(i, "weight") == 5.0);
    assert_json(field(i, "metadata"), "{\"b\":\"2\"}");
    cJSON_Delete(i);

    expect_ok("PATCH", INST "?serviceName=patch&ip=10.12.0.1&port=8080&healthy=false", NULL, NULL);
    i = reg_inst("public", "DEFAULT_GROUP", "patch", "10.12.0.1", 8080);
    assert_false(jbool(i, "healthy"));
    assert_true(jnum(i, "weight") == 5.0);
    cJSON_Delete(i);

    expect_ok("PATCH", INST "?serviceName=patch&ip=10.12.0.1&port=8080&enabled=false", NULL, NULL);
    cJSON *l = list("serviceName=patch");
    assert_int_equal(n_hosts(l), 1);
    assert_string_equal(jstr(host_at(l, 0), "ip"), "10.12.0.2");
    cJSON_Delete(l);

    expect_unchanged("PATCH", INST "?serviceName=patch&ip=10.12.0.99&port=8080&weight=2", NULL, NULL, 400,
                     "caused: instance not found: 10.12.0.99:8080 in cluster DEFAULT of service DEFAULT_GROUP@@patch "
                     "(namespace public);");
    expect_unchanged("PATCH", INST "?serviceName=patch-none&ip=10.12.0.1&port=8080&weight=2", NULL, NULL, 400,
                     "caused: instance not found: 10.12.0.1:8080 in cluster DEFAULT of service "
                     "DEFAULT_GROUP@@patch-none (namespace public);");
    expect_unchanged("PATCH", INST "?serviceName=patch&ip=10.12.0.2&port=8080&weight=10001", NULL, NULL, 500,
                     "caused: instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': 10001);");
    expect_unchanged("PATCH", INST "?serviceName=patch&ip=10.12.0.2&port=8080&metadata=%3D", NULL, NULL, 400,
                     "caused: Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"=\";");
    cJSON_Delete(before);
}

/* ------------------------------------------------------------------ detail */

static void test_detail(void **state)
{
    (void)state;
    reg("serviceName=det&ip=10.13.0.1&port=8080");
    reg("serviceName=det&ip=10.13.0.2&port=8080&cluster=C1");
    expect_unchanged("GET", INST "?serviceName=det-none&ip=10.13.0.1&port=8080", NULL, NULL, 500,
                     "caused: no service DEFAULT_GROUP@@det-none found!;");
    expect_unchanged("GET", INST "?serviceName=det&ip=10.13.0.1&port=8080&clusterName=OTHER", NULL, NULL, 500,
                     "caused: no ips found for cluster OTHER in service DEFAULT_GROUP@@det;");
    expect_unchanged("GET", INST "?serviceName=det&ip=10.13.0.9&port=8080", NULL, NULL, 500,
                     "caused: no matched ip found! (10.13.0.9:8080 in cluster DEFAULT of service DEFAULT_GROUP@@det);");
    expect_unchanged("GET", INST "?serviceName=det&ip=10.13.0.1&port=8081", NULL, NULL, 500,
                     "caused: no matched ip found! (10.13.0.1:8081 in cluster DEFAULT of service DEFAULT_GROUP@@det);");
    /* `cluster` is ignored by detail: it looks in DEFAULT */
    expect_unchanged("GET", INST "?serviceName=det&ip=10.13.0.2&port=8080&cluster=C1", NULL, NULL, 500,
                     "caused: no matched ip found! (10.13.0.2:8080 in cluster DEFAULT of service DEFAULT_GROUP@@det);");
    expect_unchanged("GET", INST "?serviceName=det&port=8080", NULL, NULL, 400, "caused: Param 'ip' is required.;");
    cJSON *d = detail("serviceName=det&ip=10.13.0.2&port=8080&clusterName=C1");
    assert_string_equal(jstr(d, "clusterName"), "C1");
    assert_string_equal(jstr(d, "instanceId"), "10.13.0.2#8080#C1#DEFAULT_GROUP@@det");
    cJSON_Delete(d);
}

/* ------------------------------------------------------------------ list */

static void assert_host_shape(const cJSON *h)
{
    static const char *const keys[] = {"ip", "port", "valid", "healthy", "marked", "instanceId", "metadata",
                                       "enabled", "weight", "clusterName", "serviceName", "ephemeral",
                                       "instanceHeartBeatInterval", "instanceHeartBeatTimeOut", "ipDeleteTimeout"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) (void)field(h, keys[i]);
    jstr(h, "ip");
    jnum(h, "port");
    jbool(h, "valid");
    jbool(h, "healthy");
    jbool(h, "marked");
    jstr(h, "instanceId");
    assert_true(cJSON_IsObject(field(h, "metadata")));
    jbool(h, "enabled");
    jnum(h, "weight");
    jstr(h, "clusterName");
    jstr(h, "serviceName");
    jbool(h, "ephemeral");
}

static void test_list_shape(void **state)
{
    (void)state;
    reg("serviceName=lst&ip=10.14.0.1&port=8080");
    reg("serviceName=lst&ip=10.14.0.2&port=8081&weight=2&metadata=%7B%22preserved.heart.beat.interval%22%3A%223000%22"
        "%2C%22preserved.heart.beat.timeout%22%3A%229000%22%2C%22preserved.ip.delete.timeout%22%3A%2218000%22%7D");
    char *raw = NULL;
    cJSON *l = get_json_ua(LIST "?serviceName=lst", NULL, &raw);
    assert_string_equal(jstr(l, "name"), "DEFAULT_GROUP@@lst");
    assert_string_equal(jstr(l, "groupName"), "DEFAULT_GROUP");
    assert_string_equal(jstr(l, "clusters"), "");
    assert_int_equal(jnum(l, "cacheMillis"), 3000);
    assert_string_equal(jstr(l, "dom"), "lst");          /* bare for non-Java clients */
    assert_true(jnum(l, "lastRefTime") > 1e12);
    assert_int_equal(strlen(jstr(l, "checksum")), 32);
    assert_false(jbool(l, "reachProtectionThreshold"));
    assert_true(jbool(l, "valid"));
    assert_false(jbool(l, "allIPs"));
    assert_false(jbool(l, "useSpecifiedURL"));
    assert_string_equal(jstr(l, "env"), "");
    assert_true(cJSON_IsObject(field(l, "metadata")));
    assert_int_equal(n_hosts(l), 2);
    const cJSON *a = host_by_ip(l, "10.14.0.1"), *b = host_by_ip(l, "10.14.0.2");
    assert_non_null(a);
    assert_non_null(b);
    assert_host_shape(a);
    assert_host_shape(b);
    assert_int_equal(jnum(a, "port"), 8080);
    assert_true(jbool(a, "valid") && jbool(a, "healthy") && jbool(a, "enabled") && jbool(a, "ephemeral"));
    assert_false(jbool(a, "marked"));
    assert_string_equal(jstr(a, "instanceId"), "10.14.0.1#8080#DEFAULT#DEFAULT_GROUP@@lst");
    assert_string_equal(jstr(a, "clusterName"), "DEFAULT");
    assert_string_equal(jstr(a, "serviceName"), "lst");
    assert_true(jnum(a, "weight") == 1.0);
    assert_json(field(a, "metadata"), "{}");
    assert_string_equal(jstr(a, "instanceIdGenerator"), "simple");
    assert_int_equal(jnum(a, "instanceHeartBeatInterval"), 5000);
    assert_int_equal(jnum(a, "instanceHeartBeatTimeOut"), 15000);
    assert_int_equal(jnum(a, "ipDeleteTimeout"), 30000);
    assert_int_equal(jnum(b, "instanceHeartBeatInterval"), 3000);
    assert_int_equal(jnum(b, "instanceHeartBeatTimeOut"), 9000);
    assert_int_equal(jnum(b, "ipDeleteTimeout"), 18000);
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "instanceIdGenerator"));   /* metadata is not empty */
    assert_non_null(strstr(raw, "\"weight\":2.0,"));
    assert_non_null(strstr(raw, "\"weight\":1.0,"));
    free(raw);

    /* the checksum follows the instances */
    char sum[40];
    snprintf(sum, sizeof sum, "%s", jstr(l, "checksum"));
    cJSON_Delete(l);
    l = list("serviceName=lst");
    assert_string_equal(jstr(l, "checksum"), sum);
    cJSON_Delete(l);
    expect_ok("PATCH", INST "?serviceName=lst&ip=10.14.0.1&port=8080&weight=3", NULL, NULL);
    l = list("serviceName=lst");
    assert_string_not_equal(jstr(l, "checksum"), sum);
    cJSON_Delete(l);
    /* ... the port too */
    reg("serviceName=cks&ip=10.14.2.1&port=1");
    l = list("serviceName=cks");
    snprintf(sum, sizeof sum, "%s", jstr(l, "checksum"));
    cJSON_Delete(l);
    expect_ok("DELETE", INST "?serviceName=cks&ip=10.14.2.1&port=1", NULL, NULL);
    reg("serviceName=cks&ip=10.14.2.1&port=2");
    l = list("serviceName=cks");
    assert_string_not_equal(jstr(l, "checksum"), sum);
    cJSON_Delete(l);

    /* Java >= 1.0.0 (and Node, which claims v1.0.0) gets the grouped dom and host serviceName */
    const char *grouped_uas[] = {JAVA_UA, NODE_UA};
    for (int k = 0; k < 2; k++) {
        l = list_ua("serviceName=lst", grouped_uas[k]);
        assert_string_equal(jstr(l, "dom"), "DEFAULT_GROUP@@lst");
        assert_string_equal(jstr(l, "name"), "DEFAULT_GROUP@@lst");
        assert_string_equal(jstr(host_at(l, 0), "serviceName"), "DEFAULT_GROUP@@lst");
        assert_string_equal(jstr(host_at(l, 1), "serviceName"), "DEFAULT_GROUP@@lst");
        cJSON_Delete(l);
    }
    const char *bare_uas[] = {GO_UA, PY_UA, "Nacos-Java-Client:v0.6.2"};
    for (int k = 0; k < 3; k++) {
        l = list_ua("serviceName=DEFAULT_GROUP@@lst", bare_uas[k]);
        assert_string_equal(jstr(l, "dom"), "lst");
        assert_string_equal(jstr(l, "name"), "DEFAULT_GROUP@@lst");
        assert_string_equal(jstr(host_at(l, 0), "serviceName"), "lst");
        cJSON_Delete(l);
    }

    /* with no User-Agent, Client-Version tells the client */
    struct nm_resp r;
    nm_http_h(S, "GET", LIST "?serviceName=lst", NULL, NULL, "", (const char *const[]){"Client-Version: " JAVA_UA, NULL},
              &r);
    assert_int_equal(r.status, 200);
    l = cJSON_Parse(r.body);
    nm_resp_free(&r);
    assert_non_null(l);
    assert_string_equal(jstr(l, "dom"), "DEFAULT_GROUP@@lst");
    cJSON_Delete(l);

    /* a grouped name in another group */
    reg("serviceName=mygrp@@lst2&ip=10.14.1.1&port=8080");
    l = list_ua("serviceName=lst2&groupName=mygrp", JAVA_UA);
    assert_string_equal(jstr(l, "name"), "mygrp@@lst2");
    assert_string_equal(jstr(l, "groupName"), "mygrp");
    assert_string_equal(jstr(l, "dom"), "mygrp@@lst2");
    assert_int_equal(n_hosts(l), 1);
    cJSON_Delete(l);
}

static void test_list_unknown_and_is_check(void **state)
{
    (void)state;
    char *before = snapshot();
    cJSON *l = list("serviceName=lst-none&clusters=DEFAULT");
    assert_string_equal(jstr(l, "name"), "DEFAULT_GROUP@@lst-none");
    assert_string_equal(jstr(l, "groupName"), "DEFAULT_GROUP");
    assert_string_equal(jstr(l, "clusters"), "DEFAULT");
    assert_int_equal(jnum(l, "cacheMillis"), 3000);
    assert_int_equal(n_hosts(l), 0);
    assert_false(jbool(l, "reachProtectionThreshold"));
    cJSON_Delete(l);
    char *after = snapshot();
    assert_string_equal(before, after);   /* a list never creates the service */
    cJSON_free(before);
    cJSON_free(after);

    reg("serviceName=chk&ip=10.15.0.1&port=8080");
    expect_json_body("GET", LIST "?serviceName=chk&isCheck=true", NULL, NULL, "{}");
    expect_json_body("GET", LIST "?serviceName=chk&isCheck=TRUE", NULL, NULL, "{}");
    l = list("serviceName=chk&isCheck=yes");   /* parseBoolean: only "true" */
    assert_int_equal(n_hosts(l), 1);
    cJSON_Delete(l);

    expect_unchanged("GET", LIST "?clusters=DEFAULT", NULL, NULL, 400, "caused: Param 'serviceName' is required.;");
    expect_unchanged("GET", LIST "?serviceName=chk&udpPort=abc", NULL, NULL, 400,
                     "caused: Param 'udpPort' is not a number: For input string: \"abc\";");
    expect_unchanged("GET", LIST "?serviceName=chk&udpPort=70000", NULL, NULL, 400,
                     "caused: Param 'udpPort' must be from 0 to 65535, got 70000;");
}

static void test_list_filters(void **state)
{
    (void)state;
    reg("serviceName=flt&ip=10.16.0.1&port=8080&clusterName=C1");
    reg("serviceName=flt&ip=10.16.0.2&port=8080&clusterName=C2");
    reg("serviceName=flt&ip=10.16.0.3&port=8080");
    reg("serviceName=flt&ip=10.16.0.4&port=8080");

    struct { const char *clusters; int n; const char *first; } cases[] = {
        {"C1", 1, "10.16.0.1"}, {"C2,C1", 2, "10.16.0.1"}, {"DEFAULT", 2, "10.16.0.3"}, {"NOPE", 0, NULL},
        {"C1,+C2", 2, "10.16.0.1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cJSON *l = list(nm_fmt("serviceName=flt&clusters=%s", cases[k].clusters));
        char echoed[32];
        snprintf(echoed, sizeof echoed, "%s", cases[k].clusters);
        for (char *c = echoed; *c; c++)
            if (*c == '+') *c = ' ';
        assert_string_equal(jstr(l, "clusters"), echoed);   /* echoed exactly as sent */
        if (n_hosts(l) != cases[k].n) fail_msg("clusters=%s: %d hosts, want %d", echoed, n_hosts(l), cases[k].n);
        if (cases[k].first) assert_string_equal(jstr(host_at(l, 0), "ip"), cases[k].first);
        cJSON_Delete(l);
    }

    /* healthy first */
    set_health("flt", "10.16.0.3", 8080, "false");
    cJSON *l = list("serviceName=flt&clusters=DEFAULT");
    assert_int_equal(n_hosts(l), 2);
    assert_string_equal(jstr(host_at(l, 0), "ip"), "10.16.0.4");
    assert_true(jbool(host_at(l, 0), "healthy"));
    assert_string_equal(jstr(host_at(l, 1), "ip"), "10.16.0.3");
    assert_false(jbool(host_at(l, 1), "healthy"));
    assert_false(jbool(host_at(l, 1), "valid"));
    cJSON_Delete(l);
    l = list("serviceName=flt");
    assert_int_equal(n_hosts(l), 4);
    assert_string_equal(jstr(host_at(l, 3), "ip"), "10.16.0.3");
    cJSON_Delete(l);

    /* healthyOnly drops it (parseBoolean: "TRUE" yes, "yes" no) */
    l = list("serviceName=flt&healthyOnly=TRUE");
    assert_int_equal(n_hosts(l), 3);
    assert_null(host_by_ip(l, "10.16.0.3"));
    cJSON_Delete(l);
    l = list("serviceName=flt&healthyOnly=yes");
    assert_int_equal(n_hosts(l), 4);
    cJSON_Delete(l);

    /* disabled instances are hidden */
    expect_ok("PATCH", INST "?serviceName=flt&ip=10.16.0.4&port=8080&enabled=false", NULL, NULL);
    l = list("serviceName=flt");
    assert_int_equal(n_hosts(l), 3);
    assert_null(host_by_ip(l, "10.16.0.4"));
    cJSON_Delete(l);
}

static void test_protect_threshold(void **state)
{
    (void)state;
    reg("serviceName=prot&ip=10.17.0.1&port=8080");
    reg("serviceName=prot&ip=10.17.0.2&port=8080");
    reg("serviceName=prot&ip=10.17.0.3&port=8080");
    expect_ok("PUT", SERVICE "?serviceName=prot&protectThreshold=0.5", NULL, NULL);
    set_health("prot", "10.17.0.1", 8080, "false");
    set_health("prot", "10.17.0.2", 8080, "false");

    /* 1/3 healthy <= 0.5: every host comes back, reported healthy */
    const char *queries[] = {"serviceName=prot", "serviceName=prot&healthyOnly=true"};
    for (int k = 0; k < 2; k++) {
        cJSON *l = list(queries[k]);
        assert_true(jbool(l, "reachProtectionThreshold"));
        assert_int_equal(n_hosts(l), 3);
        for (int i = 0; i < 3; i++) {
            assert_true(jbool(host_at(l, i), "healthy"));
            assert_true(jbool(host_at(l, i), "valid"));
        }
        cJSON_Delete(l);
    }
    /* the detail keeps the truth */
    cJSON *d = detail("serviceName=prot&ip=10.17.0.1&port=8080");
    assert_false(jbool(d, "healthy"));
    cJSON_Delete(d);

    /* 2/3 > 0.5: no protection */
    set_health("prot", "10.17.0.2", 8080, "true");
    cJSON *l = list("serviceName=prot");
    assert_false(jbool(l, "reachProtectionThreshold"));
    assert_int_equal(n_hosts(l), 3);
    assert_false(jbool(host_by_ip(l, "10.17.0.1"), "healthy"));
    assert_string_equal(jstr(host_at(l, 2), "ip"), "10.17.0.1");
    cJSON_Delete(l);
    l = list("serviceName=prot&healthyOnly=true");
    assert_int_equal(n_hosts(l), 2);
    cJSON_Delete(l);

    /* default threshold 0: triggers exactly when all are unhealthy */
    reg("serviceName=prot0&ip=10.17.1.1&port=8080");
    reg("serviceName=prot0&ip=10.17.1.2&port=8080");
    set_health("prot0", "10.17.1.1", 8080, "false");
    l = list("serviceName=prot0&healthyOnly=true");
    assert_false(jbool(l, "reachProtectionThreshold"));
    assert_int_equal(n_hosts(l), 1);
    cJSON_Delete(l);
    set_health("prot0", "10.17.1.2", 8080, "false");
    l = list("serviceName=prot0");
    assert_true(jbool(l, "reachProtectionThreshold"));
    assert_int_equal(n_hosts(l), 2);
    assert_true(jbool(host_at(l, 0), "healthy"));
    assert_true(jbool(host_at(l, 1), "healthy"));
    cJSON_Delete(l);
}

/* ------------------------------------------------------------------ beat */

static void test_beat(void **state)
{
    (void)state;
    const char *known = "{\"clientBeatInterval\":5000,\"code\":10200,\"lightBeatEnabled\":true}";
    const char *unknown = "{\"clientBeatInterval\":5000,\"code\":20404,\"lightBeatEnabled\":true}";
    reg("serviceName=beat&ip=10.18.0.1&port=8080");
    expect_json_body("PUT", BEAT "?serviceName=beat&ip=10.18.0.1&port=8080", NULL, JAVA_UA, known);
    /* a light beat for an unknown instance: 20404, nothing registered */
    char *before = snapshot();
    expect_json_body("PUT", BEAT "?serviceName=beat&ip=10.18.0.9&port=8080", NULL, JAVA_UA, unknown);
    expect_json_body("PUT", BEAT "?serviceName=beat-none&ip=10.18.0.1&port=8080", NULL, NULL, unknown);
    expect_json_body("PUT", BEAT "?serviceName=beat&ip=10.18.0.1&port=8080&clusterName=C1", NULL, NULL, unknown);
    char *after = snapshot();
    assert_string_equal(before, after);
    cJSON_free(before);
    cJSON_free(after);

    /* clientBeatInterval comes from the instance's metadata */
    reg("serviceName=beat&ip=10.18.0.2&port=8080&metadata=%7B%22preserved.heart.beat.interval%22%3A%222500%22%7D");
    expect_json_body("PUT", BEAT "?serviceName=beat&ip=10.18.0.2&port=8080", NULL, NULL,
                     "{\"clientBeatInterval\":2500,\"code\":10200,\"lightBeatEnabled\":true}");

    /* a full beat in the form body (Java) for an unknown instance registers it from the beat */
    const char *bj = "{\"cluster\":\"C9\",\"ip\":\"10.18.1.1\",\"metadata\":{\"m\":\"x\",\"preserved.heart.beat.interval\":"
                     "\"1500\"},\"period\":5000,\"port\":9001,\"scheduled\":false,\"serviceName\":\"DEFAULT_GROUP@@beat\","
                     "\"stopped\":false,\"weight\":3.0}";
    expect_json_body("PUT", BEAT, nm_fmt("serviceName=DEFAULT_GROUP%%40%%40beat&beat=%s", nm_enc(bj)), JAVA_UA,
                     "{\"clientBeatInterval\":1500,\"code\":10200,\"lightBeatEnabled\":true}");
    cJSON *d = detail("serviceName=beat&ip=10.18.1.1&port=9001&clusterName=C9");
    assert_true(jnum(d, "weight") == 3.0);
    assert_json(field(d, "metadata"), "{\"m\":\"x\",\"preserved.heart.beat.interval\":\"1500\"}");
    assert_string_equal(jstr(d, "instanceId"), "10.18.1.1#9001#C9#DEFAULT_GROUP@@beat");
    assert_true(jbool(d, "healthy"));
    cJSON_Delete(d);
    /* ... and the next beat finds it */
    expect_json_body("PUT", BEAT, nm_fmt("serviceName=DEFAULT_GROUP%%40%%40beat&beat=%s", nm_enc(bj)), JAVA_UA,
                     "{\"clientBeatInterval\":1500,\"code\":10200,\"lightBeatEnabled\":true}");

    /* the beat in the query (Python / Node), blank cluster: clusterName param, then DEFAULT */
    const char *pj = "{\"cluster\":\"\",\"ip\":\"10.18.2.1\",\"port\":9002,\"weight\":1,\"metadata\":{}}";
    expect_json_body("PUT", nm_fmt(BEAT "?serviceName=beat&beat=%s", nm_enc(pj)), NULL, PY_UA, known);
    d = detail("serviceName=beat&ip=10.18.2.1&port=9002");
    assert_string_equal(jstr(d, "clusterName"), "DEFAULT");
    cJSON_Delete(d);

    /* broken beats change nothing */
    expect_unchanged("PUT", BEAT "?serviceName=beat&beat=%7Bnot+json", NULL, NULL, 400,
                     "caused: Param 'beat' is not a JSON object: \"{not json\";");
    expect_unchanged("PUT", nm_fmt(BEAT "?serviceName=beat&beat=%s",
                                   nm_enc("{\"ip\":\"10.18.3.1\",\"port\":9003,\"weight\":10001}")),
                     NULL, NULL, 500,
                     "caused: instance format invalid: The weights range from 0.0 to 10000.0 (beat 'weight': 10001);");
    expect_unchanged("PUT", nm_fmt(BEAT "?serviceName=beat&beat=%s", nm_enc("{\"ip\":\"999.1.1.1\",\"port\":9003}")),
                     NULL, NULL, 400,
                     "caused: instance format invalid: Your IP address is spelled incorrectly (param 'ip': "
                     "\"999.1.1.1\");");
    expect_unchanged("PUT", BEAT "?serviceName=beat&port=8080", NULL, NULL, 400, "caused: Param 'ip' is required.;");
    expect_unchanged("PUT", BEAT "?ip=10.18.0.1&port=8080", NULL, NULL, 400,
                     "caused: Param 'serviceName' is required.;");
}

static void test_beat_restores_health(void **state)
{
    (void)state;
    reg("serviceName=bh&ip=10.19.0.1&port=8080");
    reg("serviceName=bh&ip=10.19.0.2&port=8080");
    set_health("bh", "10.19.0.1", 8080, "false");
    cJSON *d = detail("serviceName=bh&ip=10.19.0.1&port=8080");
    assert_false(jbool(d, "healthy"));
    cJSON_Delete(d);
    cJSON *l = list("serviceName=bh");
    assert_false(jbool(host_by_ip(l, "10.19.0.1"), "healthy"));
    cJSON_Delete(l);

    expect_json_body("PUT", BEAT "?serviceName=bh&ip=10.19.0.1&port=8080", NULL, NULL,
                     "{\"clientBeatInterval\":5000,\"code\":10200,\"lightBeatEnabled\":true}");
    d = detail("serviceName=bh&ip=10.19.0.1&port=8080");
    assert_true(jbool(d, "healthy"));
    cJSON_Delete(d);
    l = list("serviceName=bh&healthyOnly=true");
    assert_int_equal(n_hosts(l), 2);
    cJSON_Delete(l);

    /* beats do nothing to a persistent instance */
    reg("serviceName=bh&ip=10.19.0.3&port=8080&ephemeral=false");
    set_health("bh", "10.19.0.3", 8080, "false");
    cJSON *before = reg_inst("public", "DEFAULT_GROUP", "bh", "10.19.0.3", 8080);
    expect_json_body("PUT", BEAT "?serviceName=bh&ip=10.19.0.3&port=8080", NULL, NULL,
                     "{\"clientBeatInterval\":5000,\"code\":10200,\"lightBeatEnabled\":true}");
    cJSON *after = reg_inst("public", "DEFAULT_GROUP", "bh", "10.19.0.3", 8080);
    assert_false(jbool(after, "healthy"));
    assert_true(jnum(after, "lastBeatMs") == jnum(before, "lastBeatMs"));
    cJSON_Delete(before);
    cJSON_Delete(after);
}

/* ------------------------------------------------------------------ statuses, metadata batch */

static void test_statuses(void **state)
{
    (void)state;
    reg("serviceName=stat&ip=10.20.0.1&port=8080");
    reg("serviceName=stat&ip=10.20.0.2&port=8080");
    set_health("stat", "10.20.0.1", 8080, "false");
    const char *want = "{\"ips\":[\"10.20.0.2:8080_true\",\"10.20.0.1:8080_false\"]}";
    expect_json_body("GET", "/nacos/v1/ns/instance/statuses?key=DEFAULT_GROUP%40%40stat", NULL, NULL, want);
    expect_json_body("PUT", "/nacos/v1/ns/instance/statuses?key=DEFAULT_GROUP@@stat", NULL, NULL, want);
    expect_json_body("POST", "/nacos/v1/ns/instance/statuses", "key=public%23%23DEFAULT_GROUP%40%40stat", NULL, want);
    reg("serviceName=stat&namespaceId=dev&ip=10.20.1.1&port=8080");
    expect_json_body("GET", "/nacos/v1/ns/instance/statuses?key=dev%23%23DEFAULT_GROUP%40%40stat", NULL, NULL,
                     "{\"ips\":[\"10.20.1.1:8080_true\"]}");
    expect_json_body("GET", "/nacos/v1/ns/instance/statuses?key=DEFAULT_GROUP%40%40stat-none", NULL, NULL,
                     "{\"ips\":[]}");
    expect_unchanged("GET", "/nacos/v1/ns/instance/statuses", NULL, NULL, 400, "caused: Param 'key' is required.;");
    expect_unchanged("GET", "/nacos/v1/ns/instance/statuses?key=stat", NULL, NULL, 400,
                     "caused: Param 'key' must be [namespace##]group@@service, got \"stat\";");
}

static void test_metadata_batch(void **state)
{
    (void)state;
    reg("serviceName=mb&ip=10.21.0.1&port=8080&metadata=a%3D1");
    reg("serviceName=mb&ip=10.21.0.2&port=8080&clusterName=C1");
    reg("serviceName=mb&ip=10.21.0.3&port=8080&ephemeral=false");
    const char *one = nm_enc("[{\"ip\":\"10.21.0.1\",\"port\":8080,\"clusterName\":\"DEFAULT\"}]");
    expect_json_body("PUT", nm_fmt("/nacos/v1/ns/instance/metadata/batch?serviceName=mb&metadata=%s&instances=%s",
                                   nm_enc("{\"x\":\"1\"}"), one),
                     NULL, NULL, "{\"updated\":[\"10.21.0.1:8080:unknown:DEFAULT:ephemeral\"]}");
    cJSON *d = detail("serviceName=mb&ip=10.21.0.1&port=8080");
    assert_json(field(d, "metadata"), "{\"a\":\"1\",\"x\":\"1\"}");   /* merged */
    cJSON_Delete(d);

    /* without instances: every ephemeral instance */
    expect_json_body("PUT", "/nacos/v1/ns/instance/metadata/batch", "serviceName=mb&metadata=y%3D2", NULL,
                     "{\"updated\":[\"10.21.0.2:8080:unknown:C1:ephemeral\",\"10.21.0.1:8080:unknown:DEFAULT:ephemeral\"]}");
    /* consistencyType=persist: the persistent ones */
    expect_json_body("PUT", "/nacos/v1/ns/instance/metadata/batch",
                     "serviceName=mb&metadata=z%3D3&consistencyType=persist", NULL,
                     "{\"updated\":[\"10.21.0.3:8080:unknown:DEFAULT:persist\"]}");
    d = detail("serviceName=mb&ip=10.21.0.3&port=8080");
    assert_json(field(d, "metadata"), "{\"z\":\"3\"}");
    cJSON_Delete(d);

    /* DELETE removes the named keys */
    expect_json_body("DELETE", nm_fmt("/nacos/v1/ns/instance/metadata/batch?serviceName=mb&metadata=%s&instances=%s",
                                      nm_enc("{\"a\":\"\",\"y\":\"\"}"), one),
                     NULL, NULL, "{\"updated\":[\"10.21.0.1:8080:unknown:DEFAULT:ephemeral\"]}");
    d = detail("serviceName=mb&ip=10.21.0.1&port=8080");
    assert_json(field(d, "metadata"), "{\"x\":\"1\"}");
    cJSON_Delete(d);
    /* matching nothing */
    expect_json_body("PUT", nm_fmt("/nacos/v1/ns/instance/metadata/batch?serviceName=mb&metadata=q%%3D1&instances=%s",
                                   nm_enc("[{\"ip\":\"10.21.0.9\",\"port\":8080}]")),
                     NULL, NULL, "{\"updated\":[]}");

    expect_unchanged("PUT", "/nacos/v1/ns/instance/metadata/batch?serviceName=mb-none&metadata=q%3D1", NULL, NULL, 500,
                     "caused: service not found, namespace: public, service: DEFAULT_GROUP@@mb-none;");
    expect_unchanged("PUT", "/nacos/v1/ns/instance/metadata/batch?serviceName=mb", NULL, NULL, 400,
                     "caused: Param 'metadata' is required.;");
    expect_unchanged("PUT", "/nacos/v1/ns/instance/metadata/batch?serviceName=mb&metadata=q%3D1&instances=%7B%7D", NULL,
                     NULL, 400, "caused: Param 'instances' must be a JSON array of {ip, port, clusterName};");
    expect_unchanged("DELETE", "/nacos/v1/ns/instance/metadata/batch?serviceName=mb&metadata=bad", NULL, NULL, 400,
                     "caused: Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"bad\";");
}

/* ------------------------------------------------------------------ services */

static void test_service_crud(void **state)
{
    (void)state;
    expect_ok("POST", SERVICE "?serviceName=svc-crud", NULL, NULL);
    expect_unchanged("POST", SERVICE "?serviceName=svc-crud&protectThreshold=0.3", NULL, NULL, 400,
                     "caused: specified service already exists, serviceName : DEFAULT_GROUP@@svc-crud;");
    expect_json_body("GET", SERVICE "?serviceName=svc-crud", NULL, NULL,
                     "{\"name\":\"svc-crud\",\"namespaceId\":\"public\",\"protectThreshold\":0.0,\"metadata\":{},"
                     "\"selector\":{\"type\":\"none\"},\"groupName\":\"DEFAULT_GROUP\",\"clusters\":[]}");
    /* an explicit service with instances shows its clusters */
    reg("serviceName=svc-crud&ip=10.22.0.1&port=8080");
    expect_json_body("GET", SERVICE "?serviceName=DEFAULT_GROUP@@svc-crud", NULL, NULL,
                     "{\"name\":\"svc-crud\",\"namespaceId\":\"public\",\"protectThreshold\":0.0,\"metadata\":{},"
                     "\"selector\":{\"type\":\"none\"},\"groupName\":\"DEFAULT_GROUP\",\"clusters\":[{\"name\":\"DEFAULT\","
                     "\"healthChecker\":{\"type\":\"TCP\"},\"metadata\":{}}]}");

    /* PUT: protectThreshold is required */
    expect_unchanged("PUT", SERVICE "?serviceName=svc-crud&metadata=k%3Dv", NULL, NULL, 400,
                     "caused: Param 'protectThreshold' is required.;");
    expect_unchanged("PUT", SERVICE "?serviceName=svc-crud&protectThreshold=1.5", NULL, NULL, 400,
                     "caused: Param 'protectThreshold' must be from 0.0 to 1.0, got 1.5;");
    expect_unchanged("PUT", SERVICE "?serviceName=svc-crud&protectThreshold=x", NULL, NULL, 400,
                     "caused: Param 'protectThreshold' is not a number: For input string: \"x\";");
    expect_unchanged("PUT", SERVICE "?serviceName=svc-crud&protectThreshold=0.5&selector=%7B%22type%22%3A%22x%22%7D",
                     NULL, NULL, 400,
                     "caused: Param 'selector' must be a JSON object with type \"none\" or \"label\", got "
                     "\"{\"type\":\"x\"}\";");
    expect_unchanged("PUT", SERVICE "?serviceName=svc-none&protectThreshold=0.5", NULL, NULL, 500,
                     "caused: service DEFAULT_GROUP@@svc-none not found!;");
    expect_ok("PUT", SERVICE,
              "serviceName=svc-crud&protectThreshold=0.5&metadata=k%3Dv&selector=%7B%22type%22%3A%22label%22%2C"
              "%22expression%22%3A%22CONSUMER.label.a%3DPROVIDER.label.a%22%7D",
              NULL);
    cJSON *g = get_json(SERVICE "?serviceName=svc-crud");
    assert_true(jnum(g, "protectThreshold") == 0.5);
    assert_json(field(g, "metadata"), "{\"k\":\"v\"}");
    assert_json(field(g, "selector"), "{\"type\":\"label\",\"expression\":\"CONSUMER.label.a=PROVIDER.label.a\"}");
    cJSON_Delete(g);

    /* DELETE drops the instances with it */
    expect_ok("DELETE", SERVICE "?serviceName=svc-crud", NULL, NULL);
    assert_false(reg_has_service("public", "DEFAULT_GROUP", "svc-crud"));
    cJSON *l = list("serviceName=svc-crud");
    assert_int_equal(n_hosts(l), 0);
    cJSON_Delete(l);
    expect_unchanged("DELETE", SERVICE "?serviceName=svc-crud", NULL, NULL, 400,
                     "caused: specified service not exist, serviceName : DEFAULT_GROUP@@svc-crud;");
    expect_unchanged("GET", SERVICE "?serviceName=svc-crud", NULL, NULL, 500,
                     "caused: service DEFAULT_GROUP@@svc-crud is not found!;");

    /* POST with everything, in another group */
    expect_ok("POST", SERVICE, "serviceName=svc-full&groupName=g1&protectThreshold=0.25&metadata=%7B%22a%22%3A1%7D", NULL);
    expect_json_body("GET", SERVICE "?serviceName=svc-full&groupName=g1", NULL, NULL,
                     "{\"name\":\"svc-full\",\"namespaceId\":\"public\",\"protectThreshold\":0.25,\"metadata\":{\"a\":"
                     "\"1\"},\"selector\":{\"type\":\"none\"},\"groupName\":\"g1\",\"clusters\":[]}");
    expect_unchanged("POST", SERVICE "?groupName=g1", NULL, NULL, 400, "caused: Param 'serviceName' is required.;");
    expect_unchanged("POST", SERVICE "?serviceName=@@x", NULL, NULL, 400,
                     "caused: Param 'serviceName' is illegal: group and service around '@@' must not be empty, got "
                     "\"@@x\";");
    expect_unchanged("POST", SERVICE "?serviceName=svc-bad&protectThreshold=-0.1", NULL, NULL, 400,
                     "caused: Param 'protectThreshold' must be from 0.0 to 1.0, got -0.1;");
    expect_unchanged("POST", SERVICE "?serviceName=svc-bad&metadata=k%3D", NULL, NULL, 400,
                     "caused: Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"k=\";");
}

static void test_service_list(void **state)
{
    (void)state;
    const char *names[] = {"s-c", "s-a", "s-e", "s-b", "s-d"};
    for (int i = 0; i < 5; i++)
        expect_ok("POST", nm_fmt(SERVICE "?serviceName=%s&groupName=lg&namespaceId=listns", names[i]), NULL, NULL);
    expect_ok("POST", SERVICE "?serviceName=d-1&namespaceId=listns", NULL, NULL);
    expect_ok("POST", SERVICE "?serviceName=d-2&groupName=DEFAULT_GROUP&namespaceId=listns", NULL, NULL);
    reg("serviceName=d-3&namespaceId=listns&ip=10.23.0.1&port=8080");   /* implicit services count too */

    const char *base = "/nacos/v1/ns/service/list?namespaceId=listns&groupName=lg";
    expect_json_body("GET", nm_fmt("%s&pageNo=1&pageSize=2", base), NULL, NULL, "{\"doms\":[\"s-a\",\"s-b\"],\"count\":5}");
    expect_json_body("GET", nm_fmt("%s&pageNo=2&pageSize=2", base), NULL, NULL, "{\"doms\":[\"s-c\",\"s-d\"],\"count\":5}");
    expect_json_body("GET", nm_fmt("%s&pageNo=3&pageSize=2", base), NULL, NULL, "{\"doms\":[\"s-e\"],\"count\":5}");
    expect_json_body("GET", nm_fmt("%s&pageNo=4&pageSize=2", base), NULL, NULL, "{\"doms\":[],\"count\":5}");
    expect_json_body("GET", nm_fmt("%s&pageNo=1&pageSize=abc", base), NULL, NULL, "{\"doms\":[],\"count\":5}");
    expect_json_body("GET", nm_fmt("%s&pageNo=1&pageSize=100", base), NULL, NULL,
                     "{\"doms\":[\"s-a\",\"s-b\",\"s-c\",\"s-d\",\"s-e\"],\"count\":5}");
    /* groupName defaults to DEFAULT_GROUP, and only that group */
    expect_json_body("GET", "/nacos/v1/ns/service/list?namespaceId=listns&pageNo=1&pageSize=10", NULL, NULL,
                     "{\"doms\":[\"d-1\",\"d-2\",\"d-3\"],\"count\":3}");
    /* namespaces are separate */
    expect_json_body("GET", "/nacos/v1/ns/service/list?groupName=lg&pageNo=1&pageSize=10", NULL, NULL,
                     "{\"doms\":[],\"count\":0}");

    expect_unchanged("GET", "/nacos/v1/ns/service/list?pageSize=10", NULL, NULL, 400,
                     "caused: Param 'pageNo' is required.;");
    expect_unchanged("GET", "/nacos/v1/ns/service/list?pageNo=1", NULL, NULL, 400,
                     "caused: Param 'pageSize' is required.;");
}

/* ------------------------------------------------------------------ operator, health, console, misc */

static void registry_counts(long *services, long *instances)
{
    cJSON *d = nm_get_json(S, "/__mock/registry");
    assert_non_null(d);
    *services = *instances = 0;
    const cJSON *n, *s;
    cJSON_ArrayForEach(n, field(d, "namespaces")) cJSON_ArrayForEach(s, field(n, "services")) {
        (*services)++;
        *instances += cJSON_GetArraySize(field(s, "instances"));
    }
    cJSON_Delete(d);
}

static void test_operator(void **state)
{
    (void)state;
    reg("serviceName=op&ip=10.24.0.1&port=8080");
    long services = 0, instances = 0;
    registry_counts(&services, &instances);
    assert_true(services > 0 && instances > 0);
    const char *paths[] = {"/nacos/v1/ns/operator/metrics", "/nacos/v1/ns/ops/metrics"};
    for (int k = 0; k < 2; k++) {
        cJSON *m = get_json(paths[k]);
        assert_string_equal(jstr(m, "status"), "UP");
        assert_int_equal(jnum(m, "serviceCount"), services);
        assert_int_equal(jnum(m, "instanceCount"), instances);
        assert_int_equal(jnum(m, "responsibleServiceCount"), services);
        assert_int_equal(jnum(m, "responsibleInstanceCount"), instances);
        assert_int_equal(jnum(m, "raftNotifyTaskCount"), 0);
        jnum(m, "cpu");
        jnum(m, "load");
        jnum(m, "mem");
        cJSON_Delete(m);
    }

    cJSON *sv = get_json("/nacos/v1/ns/operator/servers");
    const cJSON *arr = field(sv, "servers");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    const cJSON *one = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(jstr(one, "ip"), "127.0.0.1");
    assert_int_equal(jnum(one, "port"), S->port);
    assert_string_equal(jstr(one, "state"), "UP");
    assert_string_equal(jstr(one, "address"), nm_fmt("127.0.0.1:%d", S->port));
    assert_int_equal(jnum(one, "failAccessCnt"), 0);
    assert_string_equal(jstr(field(one, "extendInfo"), "version"), "1.4.8");
    assert_string_equal(jstr(field(one, "extendInfo"), "raftPort"), "7848");
    cJSON_Delete(sv);
    sv = get_json("/nacos/v1/ns/operator/servers?healthy=true");
    assert_int_equal(cJSON_GetArraySize(field(sv, "servers")), 1);
    cJSON_Delete(sv);

    cJSON *sw = get_json("/nacos/v1/ns/operator/switches");
    assert_int_equal(jnum(sw, "clientBeatInterval"), 5000);
    assert_int_equal(jnum(sw, "defaultCacheMillis"), 3000);
    assert_int_equal(jnum(sw, "defaultPushCacheMillis"), 10000);
    assert_int_equal(jnum(sw, "checkTimes"), 3);
    assert_true(jbool(sw, "lightBeatEnabled"));
    assert_true(jbool(sw, "healthCheckEnabled"));
    assert_true(jbool(sw, "defaultInstanceEphemeral"));
    assert_int_equal(jnum(sw, "instanceHeartBeatTimeOut"), 15000);
    assert_int_equal(jnum(sw, "ipDeleteTimeout"), 30000);
    cJSON_Delete(sw);
}

static void test_health_instance(void **state)
{
    (void)state;
    reg("serviceName=hi&ip=10.25.0.1&port=8080");
    reg("serviceName=hi&ip=10.25.0.2&port=8080&ephemeral=false&clusterName=P");
    expect_ok("PUT", HEALTH "?serviceName=hi&ip=10.25.0.1&port=8080&healthy=false", NULL, NULL);
    cJSON *d = detail("serviceName=hi&ip=10.25.0.1&port=8080");
    assert_false(jbool(d, "healthy"));
    cJSON_Delete(d);
    /* the legacy path and the legacy `valid` parameter, lenient booleans */
    expect_ok("PUT", "/nacos/v1/ns/health", "serviceName=hi&ip=10.25.0.1&port=8080&valid=True", NULL);
    d = detail("serviceName=hi&ip=10.25.0.1&port=8080");
    assert_true(jbool(d, "healthy"));
    cJSON_Delete(d);
    /* persistent instances, any cluster */
    expect_ok("PUT", HEALTH "?serviceName=hi&ip=10.25.0.2&port=8080&clusterName=P&healthy=false", NULL, NULL);
    d = detail("serviceName=hi&ip=10.25.0.2&port=8080&clusterName=P");
    assert_false(jbool(d, "healthy"));
    cJSON_Delete(d);
    /* setting the same health again is fine and changes nothing */
    expect_unchanged("PUT", HEALTH "?serviceName=hi&ip=10.25.0.2&port=8080&clusterName=P&healthy=false", NULL, NULL,
                     200, "ok");

    expect_unchanged("PUT", HEALTH "?serviceName=hi&ip=10.25.0.1&port=8080", NULL, NULL, 400,
                     "caused: Param 'healthy' is required.;");
    expect_unchanged("PUT", HEALTH "?serviceName=hi-none&ip=10.25.0.1&port=8080&healthy=false", NULL, NULL, 500,
                     "caused: no service DEFAULT_GROUP@@hi-none found!;");
    expect_unchanged("PUT", HEALTH "?serviceName=hi&ip=10.25.0.9&port=8080&healthy=false", NULL, NULL, 500,
                     "caused: no matched ip found! (10.25.0.9:8080 in cluster DEFAULT of service DEFAULT_GROUP@@hi);");
    expect_unchanged("PUT", HEALTH "?serviceName=hi&ip=10.25.0.1&port=0&healthy=false", NULL, NULL, 400,
                     "caused: Param 'port' must be a port from 1 to 65535, got 0;");
}

static void test_console_and_serverlist(void **state)
{
    (void)state;
    struct nm_resp r;
    call(&r, "GET", "/nacos/v1/console/health/liveness", NULL, NULL);
    expect_text(&r, 200, "OK");
    nm_resp_free(&r);
    call(&r, "GET", "/nacos/v1/console/health/readiness", NULL, NULL);
    expect_text(&r, 200, "OK");
    nm_resp_free(&r);

    const char *paths[] = {"/nacos/serverlist", "/nacos/serverlist?namespace=dev"};
    for (int k = 0; k < 2; k++) {
        call(&r, "GET", paths[k], NULL, NULL);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, nm_fmt("127.0.0.1:%d\n", S->port));
        assert_string_equal(r.content_type, "text/plain");
        nm_resp_free(&r);
    }
}

static void check_login(const struct nm_resp *r, const char *user)
{
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, CT_JSON);
    cJSON *j = cJSON_Parse(r->body);
    assert_non_null(j);
    const char *tok = jstr(j, "accessToken");
    int dots = 0;
    for (const char *c = tok; *c; c++) dots += *c == '.';
    assert_int_equal(dots, 2);                           /* JWT-shaped */
    assert_true(strncmp(tok, "eyJ", 3) == 0);
    assert_true(cJSON_IsNumber(field(j, "tokenTtl")));   /* Go type-asserts a float64 */
    assert_int_equal(jnum(j, "tokenTtl"), 18000);
    assert_non_null(strstr(r->body, "\"tokenTtl\":18000"));
    assert_true(jbool(j, "globalAdmin"));
    assert_string_equal(jstr(j, "username"), user);
    assert_string_equal(r->authorization, nm_fmt("Bearer %s", tok));
    cJSON_Delete(j);
}

static void test_auth_login(void **state)
{
    (void)state;
    struct nm_resp r;
    call(&r, "POST", "/nacos/v1/auth/login?username=nacos&password=nacos", NULL, PY_UA);
    check_login(&r, "nacos");
    nm_resp_free(&r);
    call(&r, "POST", "/nacos/v1/auth/users/login", "username=alice&password=secret", JAVA_UA);
    check_login(&r, "alice");
    nm_resp_free(&r);
    /* with auth off, the token is not needed (nor checked) */
    reg("serviceName=auth-off&ip=10.26.0.1&port=8080&accessToken=garbage");
    call(&r, "GET", "/nacos/v1/auth/login", NULL, NULL);
    expect_text(&r, 405, "method GET not allowed for /nacos/v1/auth/login");
    nm_resp_free(&r);
}

static void test_namespaces_isolated(void **state)
{
    (void)state;
    reg("serviceName=nsv&namespaceId=dev&ip=10.27.0.1&port=1111");
    reg("serviceName=nsv&ip=10.27.0.1&port=2222");
    reg("serviceName=nsv&namespaceId=&ip=10.27.0.1&port=3333");            /* blank = public */
    reg("serviceName=nsv&namespaceId=+public+&ip=10.27.0.1&port=4444");    /* trimmed */
    reg("serviceName=nsv&namespaceId=default&ip=10.27.0.1&port=5555");     /* Node's literal "default" */
    reg("serviceName=nsv&tenant=dev&ip=10.27.0.1&port=6666");               /* naming ignores tenant */
    cJSON *t = reg_inst("public", "DEFAULT_GROUP", "nsv", "10.27.0.1", 6666);
    assert_non_null(t);
    cJSON_Delete(t);
    expect_ok("DELETE", INST "?serviceName=nsv&ip=10.27.0.1&port=6666", NULL, NULL);

    cJSON *l = list("serviceName=nsv&namespaceId=dev");
    assert_int_equal(n_hosts(l), 1);
    assert_int_equal(jnum(host_at(l, 0), "port"), 1111);
    cJSON_Delete(l);
    const char *publics[] = {"serviceName=nsv", "serviceName=nsv&namespaceId=", "serviceName=nsv&namespaceId=public"};
    for (int k = 0; k < 3; k++) {
        l = list(publics[k]);
        assert_int_equal(n_hosts(l), 3);
        assert_null(cJSON_GetArrayItem(field(l, "hosts"), 3));
        for (int i = 0; i < 3; i++) {
            int port = (int)jnum(host_at(l, i), "port");
            assert_true(port == 2222 || port == 3333 || port == 4444);
        }
        cJSON_Delete(l);
    }
    l = list("serviceName=nsv&namespaceId=default");
    assert_int_equal(n_hosts(l), 1);
    assert_int_equal(jnum(host_at(l, 0), "port"), 5555);
    cJSON_Delete(l);
    l = list("serviceName=nsv&namespaceId=other");
    assert_int_equal(n_hosts(l), 0);
    cJSON_Delete(l);

    /* a deregister in dev does not touch public */
    expect_ok("DELETE", INST "?serviceName=nsv&namespaceId=dev&ip=10.27.0.1&port=1111", NULL, NULL);
    expect_unchanged("DELETE", INST "?serviceName=nsv&namespaceId=dev&ip=10.27.0.1&port=2222", NULL, NULL, 200, "ok");
    l = list("serviceName=nsv");
    assert_int_equal(n_hosts(l), 3);
    cJSON_Delete(l);
    cJSON *d = detail("serviceName=nsv&namespaceId=default&ip=10.27.0.1&port=5555");
    assert_string_equal(jstr(d, "service"), "DEFAULT_GROUP@@nsv");
    cJSON_Delete(d);
    expect_unchanged("GET", INST "?serviceName=nsv&namespaceId=other&ip=10.27.0.1&port=2222", NULL, NULL, 500,
                     "caused: no service DEFAULT_GROUP@@nsv found!;");
}

static void test_unknown_paths_and_methods(void **state)
{
    (void)state;
    struct { const char *method, *path; long status; const char *body; } cases[] = {
        {"GET", "/nacos/v1/ns/foo", 501, "no such api:GET:/nacos/v1/ns/foo"},
        {"POST", "/nacos/v1/ns/instance/list", 501, "no such api:POST:/nacos/v1/ns/instance/list"},
        {"DELETE", "/nacos/v1/ns/service/list", 501, "no such api:DELETE:/nacos/v1/ns/service/list"},
        {"GET", "/nacos/v1/ns/instance/beat", 501, "no such api:GET:/nacos/v1/ns/instance/beat"},
        {"POST", "/nacos/v1/ns/health/instance", 501, "no such api:POST:/nacos/v1/ns/health/instance"},
        {"GET", "/nacos/v1/ns", 501, "no such api:GET:/nacos/v1/ns"},
        {"GET", "/nacos/v1/cs/nope?dataId=x&group=y", 404, "no such path: /nacos/v1/cs/nope"},
        {"GET", "/nope", 404, "no such path: /nope"},
        {"GET", "/nacos/v1/nsfoo", 404, "no such path: /nacos/v1/nsfoo"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_unchanged(cases[i].method, cases[i].path, NULL, NULL, cases[i].status, cases[i].body);
    /* a write with the wrong method registers nothing */
    expect_unchanged("POST", "/nacos/v1/ns/instance/list?serviceName=wm&ip=10.28.0.1&port=8080", NULL, NULL, 501,
                     "no such api:POST:/nacos/v1/ns/instance/list");
    /* Spring matches a trailing slash */
    cJSON *j = get_json("/nacos/v1/ns/instance/list/?serviceName=wm");
    assert_string_equal(jstr(j, "name"), "DEFAULT_GROUP@@wm");
    cJSON_Delete(j);
}

static void test_nul_in_params(void **state)
{
    (void)state;
    reg("serviceName=nul&ip=10.29.0.1&port=8080");
    expect_unchanged("GET", LIST "?serviceName=nul%00x", NULL, NULL, 400, "caused: Param 'serviceName' contains a NUL byte;");
    expect_unchanged("POST", INST, "serviceName=nul&ip=10.29.0.2&port=8080&metadata=%00", NULL, 400,
                     "caused: Param 'metadata' contains a NUL byte;");
    expect_unchanged("DELETE", INST "?serviceName=nul&ip=10.29.0.1&port=8080&clusterName=DEF%00AULT", NULL, NULL, 400,
                     "caused: Param 'clusterName' contains a NUL byte;");
    expect_unchanged("PUT", BEAT "?serviceName=nul&ip=10.29.0.1&port=80%0080", NULL, NULL, 400,
                     "caused: Param 'port' contains a NUL byte;");
}

static void test_body_limit(void **state)
{
    (void)state;
    size_t max = 1024 * 1024;
    char *body = malloc(max + 2);
    assert_non_null(body);
    int off = snprintf(body, 100, "serviceName=big&ip=10.30.0.1&port=8080&pad=");
    memset(body + off, 'x', max + 1 - (size_t)off);
    body[max + 1] = '\0';   /* 1 MiB + 1 byte */
    expect_unchanged("POST", INST, body, NULL, 413, "caused: request body is larger than 1048576 bytes;");
    assert_false(reg_has_service("public", "DEFAULT_GROUP", "big"));

    /* the server still serves, and exactly 1 MiB is accepted */
    body[max] = '\0';
    expect_ok("POST", INST, body, NULL);
    free(body);
    cJSON *d = detail("serviceName=big&ip=10.30.0.1&port=8080");
    assert_string_equal(jstr(d, "instanceId"), "10.30.0.1#8080#DEFAULT#DEFAULT_GROUP@@big");
    cJSON_Delete(d);
    struct nm_resp r;
    call(&r, "GET", "/nacos/v1/console/health/liveness", NULL, NULL);
    expect_text(&r, 200, "OK");
    nm_resp_free(&r);
}

/* Last: SIGTERM must stop the server with exit status 0 (requests answered, database closed). */
static void test_clean_stop(void **state)
{
    (void)state;
    assert_true(S->pid > 0);
    int rc = nm_stop(S);
    if (rc != 0) fail_msg("nacos-mock did not stop cleanly: exit status %d", rc);
    assert_int_equal(S->pid, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_query_and_form),
        cmocka_unit_test(test_query_wins_over_body),
        cmocka_unit_test(test_go_raw_put_body),
        cmocka_unit_test(test_plus_is_space),
        cmocka_unit_test(test_utf8_names),
        cmocka_unit_test(test_python_booleans),
        cmocka_unit_test(test_enable_vs_enabled),
        cmocka_unit_test(test_reregister_keeps_instance_id),
        cmocka_unit_test(test_snowflake_ids),
        cmocka_unit_test(test_weight_range),
        cmocka_unit_test(test_register_rejections),
        cmocka_unit_test(test_deregister),
        cmocka_unit_test(test_update_put),
        cmocka_unit_test(test_patch),
        cmocka_unit_test(test_detail),
        cmocka_unit_test(test_list_shape),
        cmocka_unit_test(test_list_unknown_and_is_check),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_protect_threshold),
        cmocka_unit_test(test_beat),
        cmocka_unit_test(test_beat_restores_health),
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_metadata_batch),
        cmocka_unit_test(test_service_crud),
        cmocka_unit_test(test_service_list),
        cmocka_unit_test(test_operator),
        cmocka_unit_test(test_health_instance),
        cmocka_unit_test(test_console_and_serverlist),
        cmocka_unit_test(test_auth_login),
        cmocka_unit_test(test_namespaces_isolated),
        cmocka_unit_test(test_unknown_paths_and_methods),
        cmocka_unit_test(test_nul_in_params),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_clean_stop),   /* keep last */
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
