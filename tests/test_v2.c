/*
 * test_v2.c — the v2 Open API (nacos-api.md §5) over real HTTP: one real nacos-mock process for the
 * group (port 0), driven with libcurl, plus its gRPC port for the connection-client views and the
 * cross-check that one instance looks the same through the v1 list, the v2 list and a gRPC query.
 *
 * Every endpoint is checked for its success shape and every error for its exact status, code,
 * message and data, and — for rejected requests — an unchanged registry (the /__mock/registry dump
 * before and after, minus nowMs). Each test uses its own service names. Nothing sleeps: waits poll
 * with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grpc_client.h"
#include "harness.h"

#define CT_JSON "application/json"
#define JAVA_UA "Nacos-Java-Client:v1.4.8"
#define INST "/nacos/v2/ns/instance"
#define LIST "/nacos/v2/ns/instance/list"
#define BEAT "/nacos/v2/ns/instance/beat"
#define BATCH "/nacos/v2/ns/instance/metadata/batch"
#define SERVICE "/nacos/v2/ns/service"
#define CLIENT "/nacos/v2/ns/client"
#define T_MS 5000

static struct nm_server *S;

/* ------------------------------------------------------------------ plumbing */

static int group_setup(void **state)
{
    (void)state;
    S = calloc(1, sizeof *S);
    if (!S || nm_start(S, (const char *const[]){"--quiet", NULL})) return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (S->pid > 0) nm_kill(S);
    free(S);
    return 0;
}

static void call(struct nm_resp *r, const char *method, const char *path, const char *body)
{
    nm_http(S, method, path, body, NULL, NULL, r);
    if (r->status < 0) fail_msg("%s %s: transport error (curl %d)", method, path, r->curl_code);
}

/* The exact v2 error answer: status, then {"code":code,"message":<its text>,"data":"<data>"}. */
static void expect_v2_error(const struct nm_resp *r, long status, int code, const char *message, const char *data)
{
    char want[2048];
    cJSON *w = cJSON_CreateObject();
    cJSON_AddNumberToObject(w, "code", code);
    cJSON_AddStringToObject(w, "message", message);
    cJSON_AddStringToObject(w, "data", data);
    char *t = cJSON_PrintUnformatted(w);
    snprintf(want, sizeof want, "%s", t);
    cJSON_free(t);
    cJSON_Delete(w);
    if (r->status != status || strcmp(r->body, want) != 0)
        fail_msg("got %ld %s, want %ld %s", r->status, r->body, status, want);
    assert_string_equal(r->content_type, CT_JSON);
}

/* A rejected request: exact v2 error, registry unchanged. */
static void expect_rejected(const char *method, const char *path, const char *body, long status, int code,
                            const char *message, const char *data)
{
    char *before = nm_registry_snapshot(S);
    struct nm_resp r;
    call(&r, method, path, body);
    expect_v2_error(&r, status, code, message, data);
    nm_resp_free(&r);
    char *after = nm_registry_snapshot(S);
    if (strcmp(before, after) != 0)
        fail_msg("%s %s changed the registry:\nbefore %s\nafter  %s", method, path, before, after);
    cJSON_free(before);
    cJSON_free(after);
}

/* A successful v2 call: 200, code 0, message "success"; returns `data` (detached; caller deletes). */
static cJSON *v2_data(const char *method, const char *path, const char *body)
{
    struct nm_resp r;
    call(&r, method, path, body);
    cJSON *j = cJSON_Parse(r.body);
    if (r.status != 200 || !j || !cJSON_IsNumber(cJSON_GetObjectItem(j, "code")) ||
        cJSON_GetObjectItem(j, "code")->valueint != 0)
        fail_msg("%s %s -> %ld %s", method, path, r.status, r.body);
    assert_string_equal(r.content_type, CT_JSON);
    assert_string_equal(nm_jstr(j, "message"), "success");
    cJSON *data = cJSON_DetachItemFromObjectCaseSensitive(j, "data");
    assert_non_null(data);
    cJSON_Delete(j);
    nm_resp_free(&r);
    return data;
}

/* A write answering data "ok". */
static void v2_ok(const char *method, const char *path, const char *body)
{
    cJSON *d = v2_data(method, path, body);
    if (!cJSON_IsString(d) || strcmp(d->valuestring, "ok")) fail_msg("%s %s: data is not \"ok\"", method, path);
    cJSON_Delete(d);
}

/* The registry's own view of an instance (its true state) or NULL; caller deletes. */
static cJSON *reg_inst(const char *group, const char *svc, const char *ip, int port)
{
    cJSON *d = nm_get_json(S, "/__mock/registry");
    assert_non_null(d);
    cJSON *out = NULL;
    const cJSON *n, *s, *i;
    cJSON_ArrayForEach(n, nm_field(d, "namespaces")) cJSON_ArrayForEach(s, nm_field(n, "services")) {
        if (strcmp(nm_jstr(s, "name"), svc) || strcmp(nm_jstr(s, "groupName"), group)) continue;
        cJSON_ArrayForEach(i, nm_field(s, "instances"))
            if (!strcmp(nm_jstr(i, "ip"), ip) && (int)nm_jnum(i, "port") == port) out = cJSON_Duplicate(i, true);
    }
    cJSON_Delete(d);
    return out;
}

static bool array_has_string(const cJSON *arr, const char *s)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) if (cJSON_IsString(e) && !strcmp(e->valuestring, s)) return true;
    return false;
}

/* ------------------------------------------------------------------ instances */

static void test_instance_register_detail_update_deregister(void **state)
{
    (void)state;
    v2_ok("POST", INST, "serviceName=v2-inst&ip=10.60.0.1&port=8080&weight=2.5&metadata=%7B%22k%22%3A%22v%22%7D");
    cJSON *d = v2_data("GET", INST "?serviceName=v2-inst&ip=10.60.0.1&port=8080", NULL);
    nm_assert_json(d, "{\"serviceName\":\"DEFAULT_GROUP@@v2-inst\",\"ip\":\"10.60.0.1\",\"port\":8080,"
                   "\"clusterName\":\"DEFAULT\",\"weight\":2.5,\"healthy\":true,"
                   "\"instanceId\":\"10.60.0.1#8080#DEFAULT#DEFAULT_GROUP@@v2-inst\",\"metadata\":{\"k\":\"v\"}}");
    cJSON_Delete(d);

    /* groupName is its own parameter; the query and a form body merge as on v1 */
    v2_ok("POST", INST "?serviceName=v2-inst&groupName=G2", "ip=10.60.0.2&port=8081&clusterName=C1&ephemeral=false&healthy=false");
    cJSON *i = reg_inst("G2", "v2-inst", "10.60.0.2", 8081);
    assert_non_null(i);
    assert_string_equal(nm_jstr(i, "clusterName"), "C1");
    assert_true(cJSON_IsFalse(nm_field(i, "ephemeral")));
    assert_true(cJSON_IsFalse(nm_field(i, "healthy")));
    cJSON_Delete(i);

    /* update: weight, enabled and metadata change; health stays (2.x) */
    v2_ok("PUT", INST, "serviceName=v2-inst&groupName=G2&ip=10.60.0.2&port=8081&clusterName=C1&weight=3&enabled=false"
                       "&healthy=true&metadata=a%3D1");
    i = reg_inst("G2", "v2-inst", "10.60.0.2", 8081);
    assert_true(nm_jnum(i, "weight") == 3.0);
    assert_true(cJSON_IsFalse(nm_field(i, "enabled")));
    assert_true(cJSON_IsFalse(nm_field(i, "healthy")));
    assert_true(cJSON_IsFalse(nm_field(i, "ephemeral")));
    nm_assert_json(nm_field(i, "metadata"), "{\"a\":\"1\"}");
    cJSON_Delete(i);

    /* deregister: the kind must match; an unknown instance is a silent success */
    v2_ok("DELETE", INST "?serviceName=v2-inst&groupName=G2&ip=10.60.0.2&port=8081&clusterName=C1", NULL);
    i = reg_inst("G2", "v2-inst", "10.60.0.2", 8081);
    assert_non_null(i);   /* ephemeral defaults to true: the persistent one stays */
    cJSON_Delete(i);
    v2_ok("DELETE", INST "?serviceName=v2-inst&groupName=G2&ip=10.60.0.2&port=8081&clusterName=C1&ephemeral=false", NULL);
    assert_null(reg_inst("G2", "v2-inst", "10.60.0.2", 8081));
    v2_ok("DELETE", INST "?serviceName=v2-none&ip=10.60.0.9&port=1", NULL);
}

static void test_instance_errors(void **state)
{
    (void)state;
    v2_ok("POST", INST, "serviceName=v2-err&ip=10.61.0.1&port=8080");
    const char *pm = "parameter missing", *pv = "parameter validate error";
    expect_rejected("POST", INST "?ip=10.61.0.2&port=8080", NULL, 400, 10000, pm,
                    "Required parameter 'serviceName' type String is not present");
    expect_rejected("POST", INST "?serviceName=v2-err&port=8080", NULL, 400, 10000, pm,
                    "Required parameter 'ip' type String is not present");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=10.61.0.2", NULL, 400, 10000, pm,
                    "Required parameter 'port' type Integer is not present");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=10.61.0.2&port=abc", NULL, 400, 20002, pv,
                    "Param 'port' is not a number: For input string: \"abc\"");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=10.61.0.2&port=70000", NULL, 400, 20002, pv,
                    "Param 'port' must be a port from 1 to 65535, got 70000");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=999.1.1.1&port=8080", NULL, 400, 20002, pv,
                    "instance format invalid: Your IP address is spelled incorrectly (param 'ip': \"999.1.1.1\")");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=10.61.0.2&port=8080&weight=x", NULL, 400, 20002, pv,
                    "Param 'weight' is not a number: For input string: \"x\"");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=10.61.0.2&port=8080&weight=10001", NULL, 400, 21001,
                    "weight error",
                    "instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': 10001)");
    /* the weight is checked on deregister too, as Nacos does */
    expect_rejected("DELETE", INST "?serviceName=v2-err&ip=10.61.0.1&port=8080&weight=-1", NULL, 400, 21001,
                    "weight error", "instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': -1)");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=10.61.0.2&port=8080&metadata=bad", NULL, 400, 21002,
                    "instance metadata error",
                    "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"bad\"");
    expect_rejected("POST",
                    INST "?serviceName=v2-err&ip=10.61.0.2&port=8080&metadata=preserved.heart.beat.interval%3D20000",
                    NULL, 400, 21004, "instance error",
                    "Instance 'heart beat interval' must less than 'heart beat timeout' and 'ip delete timeout'. "
                    "(interval 20000 ms, timeout 15000 ms, delete timeout 30000 ms)");
    expect_rejected("POST", INST "?serviceName=v2-err&ip=10.61.0.2&port=8080&clusterName=a%01b", NULL, 400, 20002, pv,
                    "Param 'clusterName' contains a control character (byte 0x01 at 1)");

    /* detail: an unknown service and an unknown instance alike are 404 "resource not found" */
    expect_rejected("GET", INST "?serviceName=v2-err-none&ip=10.61.0.1&port=8080", NULL, 404, 20004,
                    "resource not found", "no service DEFAULT_GROUP@@v2-err-none found!");
    expect_rejected("GET", INST "?serviceName=v2-err&ip=10.61.0.9&port=8080", NULL, 404, 20004, "resource not found",
                    "no matched ip found! (10.61.0.9:8080 in cluster DEFAULT of service DEFAULT_GROUP@@v2-err)");
    expect_rejected("GET", INST "?serviceName=v2-err&ip=10.61.0.1&port=8080&clusterName=C9", NULL, 404, 20004,
                    "resource not found", "no ips found for cluster C9 in service DEFAULT_GROUP@@v2-err");
    expect_rejected("GET", INST "?serviceName=v2-err&ip=10.61.0.1", NULL, 400, 10000, pm,
                    "Required parameter 'port' type Integer is not present");

    /* update: the service must exist (INSTANCE_ERROR in Nacos), and here the instance too */
    expect_rejected("PUT", INST "?serviceName=v2-err-none&ip=10.61.0.1&port=8080", NULL, 400, 21004, "instance error",
                    "service not found, namespace: public, service: DEFAULT_GROUP@@v2-err-none");
    expect_rejected("PUT", INST "?serviceName=v2-err&ip=10.61.0.9&port=8080", NULL, 404, 21003, "instance not found",
                    "instance not exist: 10.61.0.9:8080 in cluster DEFAULT of service DEFAULT_GROUP@@v2-err "
                    "(namespace public)");
}

/* groupName is separate on v2: `@@` inside serviceName is refused (Nacos would register the part
 * before it into DEFAULT_GROUP and drop the rest), and the same instance is the same through v1. */
static void test_group_name_is_separate(void **state)
{
    (void)state;
    const char *data = "Param 'serviceName' is illegal: it must not contain '@@' (the v2 API takes the group in "
                       "'groupName'), got \"grp@@v2-at\"";
    expect_rejected("POST", INST "?serviceName=grp%40%40v2-at&ip=10.62.0.1&port=8080", NULL, 400, 20002,
                    "parameter validate error", data);
    expect_rejected("GET", LIST "?serviceName=grp%40%40v2-at", NULL, 400, 20002, "parameter validate error", data);
    expect_rejected("POST", SERVICE "?serviceName=grp%40%40v2-at", NULL, 400, 20002, "parameter validate error", data);
    expect_rejected("POST", INST "?serviceName=v2-at&groupName=a%40%40b&ip=10.62.0.1&port=8080", NULL, 400, 20002,
                    "parameter validate error",
                    "Param 'groupName' is illegal: '@@' may only separate group and service, got \"a@@b\"");

    v2_ok("POST", INST "?serviceName=v2-at&groupName=grp&ip=10.62.0.1&port=8080", NULL);
    /* v1 names it grouped, v2 separately */
    struct nm_resp r;
    call(&r, "GET", "/nacos/v1/ns/instance?serviceName=grp%40%40v2-at&ip=10.62.0.1&port=8080", NULL);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    cJSON *d = v2_data("GET", INST "?serviceName=v2-at&groupName=grp&ip=10.62.0.1&port=8080", NULL);
    assert_string_equal(nm_jstr(d, "serviceName"), "grp@@v2-at");
    cJSON_Delete(d);
}

static void test_instance_list(void **state)
{
    (void)state;
    v2_ok("POST", INST, "serviceName=v2-list&ip=10.63.0.1&port=8080&clusterName=A");
    v2_ok("POST", INST, "serviceName=v2-list&ip=10.63.0.2&port=8080&clusterName=B");
    v2_ok("POST", INST, "serviceName=v2-list&ip=10.63.0.3&port=8080&clusterName=B&healthy=false");
    cJSON *l = v2_data("GET", LIST "?serviceName=v2-list", NULL);
    assert_string_equal(nm_jstr(l, "name"), "DEFAULT_GROUP@@v2-list");   /* grouped, as the v1 SDKs expect */
    assert_string_equal(nm_jstr(l, "groupName"), "DEFAULT_GROUP");
    assert_string_equal(nm_jstr(l, "clusters"), "");
    assert_int_equal(nm_jnum(l, "cacheMillis"), 10000);
    assert_int_equal(cJSON_GetArraySize(nm_field(l, "hosts")), 3);
    assert_true(cJSON_IsTrue(nm_field(l, "valid")));
    assert_true(cJSON_IsFalse(nm_field(l, "reachProtectionThreshold")));
    nm_jnum(l, "lastRefTime");
    const cJSON *h = cJSON_GetArrayItem(nm_field(l, "hosts"), 0);
    assert_string_equal(nm_jstr(h, "instanceIdGenerator"), "simple");
    assert_int_equal(nm_jnum(h, "instanceHeartBeatInterval"), 5000);
    cJSON_Delete(l);
    /* clusterName filters (a comma list) and is echoed; healthyOnly drops the unhealthy */
    l = v2_data("GET", LIST "?serviceName=v2-list&clusterName=B", NULL);
    assert_string_equal(nm_jstr(l, "clusters"), "B");
    assert_int_equal(cJSON_GetArraySize(nm_field(l, "hosts")), 2);
    cJSON_Delete(l);
    l = v2_data("GET", LIST "?serviceName=v2-list&clusterName=A,B&healthyOnly=true", NULL);
    assert_int_equal(cJSON_GetArraySize(nm_field(l, "hosts")), 2);
    cJSON_Delete(l);
    /* an unknown service is no error: no hosts */
    l = v2_data("GET", LIST "?serviceName=v2-list-none&groupName=G", NULL);
    assert_string_equal(nm_jstr(l, "name"), "G@@v2-list-none");
    assert_int_equal(cJSON_GetArraySize(nm_field(l, "hosts")), 0);
    cJSON_Delete(l);
    expect_rejected("GET", LIST, NULL, 400, 10000, "parameter missing",
                    "Required parameter 'serviceName' type String is not present");
    expect_rejected("GET", LIST "?serviceName=v2-list&port=x", NULL, 400, 20002, "parameter validate error",
                    "Param 'port' is not a number: For input string: \"x\"");
}

static void test_beat(void **state)
{
    (void)state;
    v2_ok("POST", INST, "serviceName=v2-beat&ip=10.64.0.1&port=8080");
    struct nm_resp r;
    /* the beat alone answers un-enveloped, and takes a grouped serviceName */
    call(&r, "PUT", BEAT "?serviceName=DEFAULT_GROUP%40%40v2-beat&ip=10.64.0.1&port=8080", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"clientBeatInterval\":5000,\"code\":10200,\"lightBeatEnabled\":true}");
    nm_resp_free(&r);
    call(&r, "PUT", BEAT "?serviceName=DEFAULT_GROUP%40%40v2-beat&ip=10.64.0.9&port=8080", NULL);
    assert_string_equal(r.body, "{\"clientBeatInterval\":5000,\"code\":20404,\"lightBeatEnabled\":true}");
    nm_resp_free(&r);
    /* a full beat registers the unknown instance */
    call(&r, "PUT", BEAT, "serviceName=DEFAULT_GROUP%40%40v2-beat&beat=%7B%22ip%22%3A%2210.64.0.2%22%2C%22port%22%3A9090"
                          "%2C%22weight%22%3A2%7D");
    assert_string_equal(r.body, "{\"clientBeatInterval\":5000,\"code\":10200,\"lightBeatEnabled\":true}");
    nm_resp_free(&r);
    cJSON *i = reg_inst("DEFAULT_GROUP", "v2-beat", "10.64.0.2", 9090);
    assert_non_null(i);
    assert_true(nm_jnum(i, "weight") == 2.0);
    cJSON_Delete(i);
    /* its errors are enveloped */
    expect_rejected("PUT", BEAT "?serviceName=v2-beat&ip=10.64.0.1&port=8080", NULL, 400, 20002,
                    "parameter validate error",
                    "Param 'serviceName' is illegal, it should be format as 'groupName@@serviceName', got \"v2-beat\"");
    expect_rejected("PUT", BEAT "?serviceName=DEFAULT_GROUP%40%40v2-beat&port=8080", NULL, 400, 10000,
                    "parameter missing", "Required parameter 'ip' type String is not present");
    expect_rejected("PUT", BEAT "?serviceName=DEFAULT_GROUP%40%40v2-beat&beat=nope", NULL, 400, 20002,
                    "parameter validate error", "Param 'beat' is not a JSON object: \"nope\"");
}

static void test_metadata_batch(void **state)
{
    (void)state;
    v2_ok("POST", INST, "serviceName=v2-mb&ip=10.65.0.1&port=8080&metadata=a%3D1");
    v2_ok("POST", INST, "serviceName=v2-mb&ip=10.65.0.2&port=8080");
    v2_ok("POST", INST, "serviceName=v2-mb&ip=10.65.0.3&port=8080&ephemeral=false");
    const char *one = nm_enc("[{\"ip\":\"10.65.0.1\",\"port\":8080,\"clusterName\":\"DEFAULT\"}]");
    cJSON *d = v2_data("PUT", nm_fmt(BATCH "?serviceName=v2-mb&metadata=x%%3D1&instances=%s", one), NULL);
    nm_assert_json(d, "{\"updated\":[\"10.65.0.1:8080:unknown:DEFAULT:ephemeral\"]}");
    cJSON_Delete(d);
    cJSON *i = reg_inst("DEFAULT_GROUP", "v2-mb", "10.65.0.1", 8080);
    nm_assert_json(nm_field(i, "metadata"), "{\"a\":\"1\",\"x\":\"1\"}");
    cJSON_Delete(i);
    d = v2_data("PUT", BATCH, "serviceName=v2-mb&metadata=z%3D3&consistencyType=persist");
    nm_assert_json(d, "{\"updated\":[\"10.65.0.3:8080:unknown:DEFAULT:persist\"]}");
    cJSON_Delete(d);
    d = v2_data("DELETE", nm_fmt(BATCH "?serviceName=v2-mb&metadata=%s&instances=%s", nm_enc("{\"a\":\"\"}"), one),
                NULL);
    nm_assert_json(d, "{\"updated\":[\"10.65.0.1:8080:unknown:DEFAULT:ephemeral\"]}");
    cJSON_Delete(d);
    i = reg_inst("DEFAULT_GROUP", "v2-mb", "10.65.0.1", 8080);
    nm_assert_json(nm_field(i, "metadata"), "{\"x\":\"1\"}");
    cJSON_Delete(i);
    /* an unknown service has nothing to change (2.x answers an empty list) */
    d = v2_data("PUT", BATCH "?serviceName=v2-mb-none&metadata=q%3D1", NULL);
    nm_assert_json(d, "{\"updated\":[]}");
    cJSON_Delete(d);
    expect_rejected("PUT", BATCH "?serviceName=v2-mb", NULL, 400, 10000, "parameter missing",
                    "Required parameter 'metadata' type String is not present");
    expect_rejected("PUT", BATCH "?serviceName=v2-mb&metadata=bad", NULL, 400, 21002, "instance metadata error",
                    "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"bad\"");
    expect_rejected("DELETE", BATCH "?serviceName=v2-mb&metadata=q%3D1&instances=%7B%7D", NULL, 400, 20002,
                    "parameter validate error", "Param 'instances' must be a JSON array of {ip, port, clusterName}");
}

/* ------------------------------------------------------------------ services */

static void test_service_crud(void **state)
{
    (void)state;
    v2_ok("POST", SERVICE, "serviceName=v2-svc&groupName=G&protectThreshold=0.5&metadata=%7B%22o%22%3A%22t%22%7D"
                           "&selector=%7B%22type%22%3A%22label%22%2C%22expression%22%3A%22a%22%7D");
    cJSON *d = v2_data("GET", SERVICE "?serviceName=v2-svc&groupName=G", NULL);
    nm_assert_json(d, "{\"namespace\":\"public\",\"serviceName\":\"v2-svc\",\"groupName\":\"G\",\"clusterMap\":{},"
                   "\"metadata\":{\"o\":\"t\"},\"protectThreshold\":0.5,"
                   "\"selector\":{\"type\":\"label\",\"expression\":\"a\"},\"ephemeral\":false}");
    cJSON_Delete(d);
    expect_rejected("POST", SERVICE "?serviceName=v2-svc&groupName=G", NULL, 400, 21007, "service already exist",
                    "specified service already exists, serviceName : G@@v2-svc");

    /* update replaces threshold, metadata and selector: what is not given goes back to its default */
    v2_ok("PUT", SERVICE, "serviceName=v2-svc&groupName=G&protectThreshold=0.2");
    d = v2_data("GET", SERVICE "?serviceName=v2-svc&groupName=G", NULL);
    assert_true(nm_jnum(d, "protectThreshold") == 0.2);
    nm_assert_json(nm_field(d, "metadata"), "{}");
    nm_assert_json(nm_field(d, "selector"), "{\"type\":\"none\"}");
    cJSON_Delete(d);

    /* clusters of its instances; delete refuses while there are any */
    v2_ok("POST", INST, "serviceName=v2-svc&groupName=G&ip=10.66.0.1&port=8080&clusterName=C1");
    d = v2_data("GET", SERVICE "?serviceName=v2-svc&groupName=G", NULL);
    nm_assert_json(nm_field(d, "clusterMap"),
                "{\"C1\":{\"clusterName\":\"C1\",\"healthChecker\":{\"type\":\"TCP\"},\"metadata\":{}}}");
    cJSON_Delete(d);
    expect_rejected("DELETE", SERVICE "?serviceName=v2-svc&groupName=G", NULL, 400, 21009, "service delete failure",
                    "Service G@@v2-svc is not empty, can't be delete. Please unregister instance first");
    v2_ok("DELETE", INST "?serviceName=v2-svc&groupName=G&ip=10.66.0.1&port=8080&clusterName=C1", NULL);
    v2_ok("DELETE", SERVICE "?serviceName=v2-svc&groupName=G", NULL);

    const char *ne = "service not exist";
    expect_rejected("DELETE", SERVICE "?serviceName=v2-svc&groupName=G", NULL, 400, 21008, ne,
                    "service G@@v2-svc not found!");
    expect_rejected("PUT", SERVICE "?serviceName=v2-svc&groupName=G", NULL, 400, 21008, ne,
                    "service G@@v2-svc not found!");
    expect_rejected("GET", SERVICE "?serviceName=v2-svc&groupName=G", NULL, 400, 21008, ne,
                    "service G@@v2-svc is not found!");
    expect_rejected("POST", SERVICE, "groupName=G", 400, 10000, "parameter missing",
                    "Required parameter 'serviceName' type String is not present");
    expect_rejected("POST", SERVICE "?serviceName=v2-svc2&selector=%7B%22type%22%3A%22x%22%7D", NULL, 400, 21006,
                    "selector error",
                    "Param 'selector' must be a JSON object with type \"none\" or \"label\", got \"{\"type\":\"x\"}\"");
    expect_rejected("POST", SERVICE "?serviceName=v2-svc2&protectThreshold=2", NULL, 400, 20002,
                    "parameter validate error", "Param 'protectThreshold' must be from 0.0 to 1.0, got 2");
    expect_rejected("POST", SERVICE "?serviceName=v2-svc2&metadata=bad", NULL, 400, 21002, "instance metadata error",
                    "Param 'metadata' format incorrect: neither a JSON object nor k1=v1,k2=v2: \"bad\"");

    /* a service a registration made is ephemeral */
    v2_ok("POST", INST, "serviceName=v2-svc3&ip=10.66.0.2&port=8080");
    d = v2_data("GET", SERVICE "?serviceName=v2-svc3", NULL);
    assert_true(cJSON_IsTrue(nm_field(d, "ephemeral")));
    cJSON_Delete(d);
}

static void test_service_list(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) v2_ok("POST", SERVICE, nm_fmt("serviceName=v2-sl-%d&groupName=SL", k));
    cJSON *d = v2_data("GET", SERVICE "/list?groupName=SL", NULL);
    nm_assert_json(d, "{\"count\":3,\"services\":[\"v2-sl-0\",\"v2-sl-1\",\"v2-sl-2\"]}");
    cJSON_Delete(d);
    d = v2_data("GET", SERVICE "/list?groupName=SL&pageNo=2&pageSize=2", NULL);
    nm_assert_json(d, "{\"count\":3,\"services\":[\"v2-sl-2\"]}");
    cJSON_Delete(d);
    d = v2_data("GET", SERVICE "/list?groupName=SL-none", NULL);
    nm_assert_json(d, "{\"count\":0,\"services\":[]}");
    cJSON_Delete(d);
    expect_rejected("GET", SERVICE "/list?pageNo=x", NULL, 400, 20002, "parameter validate error",
                    "Param 'pageNo' is not a number: For input string: \"x\"");
}

/* ------------------------------------------------------------------ health, operator, console, nodes */

static void test_health(void **state)
{
    (void)state;
    v2_ok("POST", INST, "serviceName=v2-h&ip=10.67.0.1&port=8080&ephemeral=false");
    v2_ok("PUT", "/nacos/v2/ns/health/instance", "serviceName=v2-h&ip=10.67.0.1&port=8080&healthy=false");
    cJSON *i = reg_inst("DEFAULT_GROUP", "v2-h", "10.67.0.1", 8080);
    assert_true(cJSON_IsFalse(nm_field(i, "healthy")));
    cJSON_Delete(i);
    v2_ok("PUT", "/nacos/v2/ns/health", "serviceName=v2-h&ip=10.67.0.1&port=8080&healthy=true");
    i = reg_inst("DEFAULT_GROUP", "v2-h", "10.67.0.1", 8080);
    assert_true(cJSON_IsTrue(nm_field(i, "healthy")));
    cJSON_Delete(i);
    /* 2.x ignores an instance it does not know */
    char *before = nm_registry_snapshot(S);
    v2_ok("PUT", "/nacos/v2/ns/health/instance", "serviceName=v2-h&ip=10.67.0.9&port=8080&healthy=false");
    char *after = nm_registry_snapshot(S);
    assert_string_equal(before, after);
    cJSON_free(before);
    cJSON_free(after);
    expect_rejected("PUT", "/nacos/v2/ns/health/instance?serviceName=v2-h&ip=10.67.0.1&port=8080", NULL, 400, 10000,
                    "parameter missing", "Required parameter 'healthy' type Boolean is not present");
    expect_rejected("PUT", "/nacos/v2/ns/health/instance?serviceName=v2-h-none&ip=10.67.0.1&port=8080&healthy=true",
                    NULL, 400, 21008, "service not exist", "no service DEFAULT_GROUP@@v2-h-none found!");
}

static void test_operator(void **state)
{
    (void)state;
    cJSON *d = v2_data("GET", "/nacos/v2/ns/operator/switches", NULL);
    assert_int_equal(nm_jnum(d, "clientBeatInterval"), 5000);
    assert_true(cJSON_IsTrue(nm_field(d, "lightBeatEnabled")));
    cJSON_Delete(d);
    expect_rejected("PUT", "/nacos/v2/ns/operator/switches?value=1", NULL, 400, 10000, "parameter missing",
                    "Required parameter 'entry' type String is not present");
    expect_rejected("PUT", "/nacos/v2/ns/operator/switches?entry=clientBeatInterval&value=1000", NULL, 500, 30000,
                    "server error",
                    "nacos-mock does not change switches: 'clientBeatInterval' follows its command line "
                    "(--beat-interval-ms, --unhealthy-misses, --delete-misses)");
    d = v2_data("GET", "/nacos/v2/ns/operator/metrics", NULL);
    nm_assert_json(d, "{\"status\":\"UP\"}");   /* onlyStatus defaults to true */
    cJSON_Delete(d);
    v2_ok("POST", INST, "serviceName=v2-op&ip=10.68.0.1&port=8080");
    v2_ok("POST", INST, "serviceName=v2-op&ip=10.68.0.1&port=8081&ephemeral=false");
    d = v2_data("GET", "/nacos/v2/ns/ops/metrics?onlyStatus=false", NULL);
    assert_string_equal(nm_jstr(d, "status"), "UP");
    assert_true(nm_jnum(d, "instanceCount") >= 2 && nm_jnum(d, "serviceCount") >= 1);
    assert_true(nm_jnum(d, "ephemeralIpPortClientCount") >= 1 && nm_jnum(d, "persistentIpPortClientCount") >= 1);
    assert_int_equal(nm_jnum(d, "clientCount"), nm_jnum(d, "connectionBasedClientCount") +
                                                 nm_jnum(d, "ephemeralIpPortClientCount") +
                                                 nm_jnum(d, "persistentIpPortClientCount"));
    assert_null(cJSON_GetObjectItem(d, "raftNotifyTaskCount"));   /* a 1.x field */
    nm_jnum(d, "cpu");
    nm_jnum(d, "load");
    nm_jnum(d, "mem");
    cJSON_Delete(d);
}

static void test_console_and_nodes(void **state)
{
    (void)state;
    cJSON *d = v2_data("GET", "/nacos/v2/console/health/liveness", NULL);
    assert_string_equal(d->valuestring, "ok");
    cJSON_Delete(d);
    d = v2_data("GET", "/nacos/v2/console/health/readiness", NULL);
    assert_string_equal(d->valuestring, "ok");
    cJSON_Delete(d);

    d = v2_data("GET", "/nacos/v2/core/cluster/node/list", NULL);
    assert_int_equal(cJSON_GetArraySize(d), 1);
    const cJSON *m = cJSON_GetArrayItem(d, 0);
    assert_string_equal(nm_jstr(m, "ip"), "127.0.0.1");
    assert_int_equal(nm_jnum(m, "port"), S->port);
    assert_string_equal(nm_jstr(m, "state"), "UP");
    assert_string_equal(nm_jstr(m, "address"), nm_fmt("127.0.0.1:%d", S->port));
    assert_int_equal(nm_jnum(nm_field(m, "extendInfo"), "grpcPort"), S->port + 1000);
    assert_true(cJSON_IsTrue(nm_field(m, "grpcReportEnabled")));
    nm_field(m, "abilities");
    cJSON_Delete(d);
    d = v2_data("GET", "/nacos/v2/core/cluster/node/list?state=up&address=127.0.0.1", NULL);
    assert_int_equal(cJSON_GetArraySize(d), 1);
    cJSON_Delete(d);
    d = v2_data("GET", "/nacos/v2/core/cluster/node/list?state=DOWN", NULL);
    assert_int_equal(cJSON_GetArraySize(d), 0);
    cJSON_Delete(d);
    d = v2_data("GET", "/nacos/v2/core/cluster/node/list?address=10.", NULL);
    assert_int_equal(cJSON_GetArraySize(d), 0);
    cJSON_Delete(d);
    expect_rejected("GET", "/nacos/v2/core/cluster/node/list?state=sleepy", NULL, 400, 23000, "illegal state",
                    "Illegal state: sleepy");
    d = v2_data("GET", "/nacos/v2/core/cluster/node/self", NULL);
    assert_int_equal(nm_jnum(d, "port"), S->port);
    cJSON_Delete(d);
    d = v2_data("GET", "/nacos/v2/core/cluster/node/self/health", NULL);
    assert_string_equal(d->valuestring, "UP");
    cJSON_Delete(d);

    /* the v1 node list: a RestResult */
    cJSON *v1 = nm_get_json(S, "/nacos/v1/core/cluster/nodes");
    assert_non_null(v1);
    assert_int_equal(nm_jnum(v1, "code"), 200);
    assert_true(cJSON_IsNull(nm_field(v1, "message")));
    assert_int_equal(cJSON_GetArraySize(nm_field(v1, "data")), 1);
    assert_string_equal(nm_jstr(cJSON_GetArrayItem(nm_field(v1, "data"), 0), "address"), nm_fmt("127.0.0.1:%d", S->port));
    cJSON_Delete(v1);
    v1 = nm_get_json(S, "/nacos/v1/core/cluster/nodes?keyword=10.");
    assert_int_equal(cJSON_GetArraySize(nm_field(v1, "data")), 0);
    cJSON_Delete(v1);
}

/* ------------------------------------------------------------------ clients */

static void test_ip_port_clients(void **state)
{
    (void)state;
    v2_ok("POST", INST, "serviceName=v2-cl&ip=10.69.0.1&port=7001");
    v2_ok("POST", INST, "serviceName=v2-cl2&ip=10.69.0.1&port=7001&clusterName=C2");
    v2_ok("POST", INST, "serviceName=v2-cl&ip=10.69.0.1&port=7001&ephemeral=false&clusterName=P");
    /* a v1 registration makes an ip:port client too */
    struct nm_resp r;
    call(&r, "POST", "/nacos/v1/ns/instance?serviceName=v2-cl&ip=10.69.0.2&port=7002", NULL);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);

    cJSON *ids = v2_data("GET", CLIENT "/list", NULL);
    assert_true(array_has_string(ids, "10.69.0.1:7001#true"));
    assert_true(array_has_string(ids, "10.69.0.1:7001#false"));
    assert_true(array_has_string(ids, "10.69.0.2:7002#true"));
    cJSON_Delete(ids);

    cJSON *d = v2_data("GET", CLIENT "?clientId=10.69.0.1%3A7001%23true", NULL);
    assert_string_equal(nm_jstr(d, "clientId"), "10.69.0.1:7001#true");
    assert_true(cJSON_IsTrue(nm_field(d, "ephemeral")));
    assert_string_equal(nm_jstr(d, "clientType"), "ipPort");
    assert_string_equal(nm_jstr(d, "clientIp"), "10.69.0.1");
    assert_string_equal(nm_jstr(d, "clientPort"), "7001");
    assert_true(nm_jnum(d, "lastUpdatedTime") > 0);
    cJSON_Delete(d);

    d = v2_data("GET", CLIENT "/publish/list?clientId=10.69.0.1%3A7001%23true", NULL);
    nm_assert_json(d, "[{\"namespace\":\"public\",\"group\":\"DEFAULT_GROUP\",\"serviceName\":\"v2-cl\","
                   "\"registeredInstance\":{\"ip\":\"10.69.0.1\",\"port\":7001,\"cluster\":\"DEFAULT\"}},"
                   "{\"namespace\":\"public\",\"group\":\"DEFAULT_GROUP\",\"serviceName\":\"v2-cl2\","
                   "\"registeredInstance\":{\"ip\":\"10.69.0.1\",\"port\":7001,\"cluster\":\"C2\"}}]");
    cJSON_Delete(d);
    d = v2_data("GET", CLIENT "/publish/list?clientId=10.69.0.1%3A7001%23false", NULL);
    assert_int_equal(cJSON_GetArraySize(d), 1);
    cJSON_Delete(d);
    d = v2_data("GET", CLIENT "/subscribe/list?clientId=10.69.0.1%3A7001%23true", NULL);
    nm_assert_json(d, "[]");
    cJSON_Delete(d);

    d = v2_data("GET", CLIENT "/service/publisher/list?serviceName=v2-cl", NULL);
    assert_int_equal(cJSON_GetArraySize(d), 3);
    cJSON_Delete(d);
    d = v2_data("GET", CLIENT "/service/publisher/list?serviceName=v2-cl&ip=10.69.0.2&port=7002", NULL);
    nm_assert_json(d, "[{\"ip\":\"10.69.0.2\",\"port\":7002,\"cluster\":\"DEFAULT\",\"clientId\":\"10.69.0.2:7002#true\"}]");
    cJSON_Delete(d);
    d = v2_data("GET", CLIENT "/service/publisher/list?serviceName=v2-cl-none", NULL);
    nm_assert_json(d, "[]");
    cJSON_Delete(d);

    /* the client goes with its last instance */
    v2_ok("DELETE", INST "?serviceName=v2-cl&ip=10.69.0.1&port=7001&ephemeral=false&clusterName=P", NULL);
    expect_rejected("GET", CLIENT "?clientId=10.69.0.1%3A7001%23false", NULL, 404, 20004, "resource not found",
                    "clientId [ 10.69.0.1:7001#false ] not exist");
    expect_rejected("GET", CLIENT "/publish/list?clientId=nope", NULL, 404, 20004, "resource not found",
                    "clientId [ nope ] not exist");
    expect_rejected("GET", CLIENT "/subscribe/list", NULL, 400, 10000, "parameter missing",
                    "Required parameter 'clientId' type String is not present");
    expect_rejected("GET", CLIENT "/service/subscriber/list", NULL, 400, 10000, "parameter missing",
                    "Required parameter 'serviceName' type String is not present");
}

/* The gRPC port from the node list (the HTTP port + the offset). */
static int grpc_port(void)
{
    cJSON *d = v2_data("GET", "/nacos/v2/core/cluster/node/self", NULL);
    int port = (int)nm_jnum(nm_field(d, "extendInfo"), "grpcPort");
    cJSON_Delete(d);
    return port;
}

/* One unary gRPC call that must succeed; returns its JSON (caller deletes). */
static cJSON *grpc_ok(struct gc *c, const char *type, const char *json, const char *want_type)
{
    struct gc_result r;
    if (gc_unary(c, type, json, T_MS, &r)) fail_msg("gRPC %s: no answer", type);
    if (!r.type || strcmp(r.type, want_type)) fail_msg("gRPC %s -> %s %s", type, r.type ? r.type : "-", r.json ? r.json : "");
    cJSON *j = cJSON_Parse(r.json);
    gc_result_free(&r);
    assert_non_null(j);
    return j;
}

/* A gRPC connection, set up (its ConnectionSetupRequest seen: polled with HealthCheck until the
 * server no longer answers 301). *id gets its connectionId. */
static struct gc *grpc_client(char *id, size_t idlen)
{
    struct gc *c = gc_connect("127.0.0.1", grpc_port(), T_MS);
    assert_non_null(c);
    assert_int_equal(gc_bi_open(c, T_MS), 0);
    assert_int_equal(gc_bi_send(c, "ConnectionSetupRequest",
                                "{\"clientVersion\":\"Nacos-Java-Client:v2.3.2\",\"tenant\":\"\","
                                "\"labels\":{\"source\":\"sdk\",\"module\":\"naming\",\"AppName\":\"v2-app\"}}"),
                     0);
    int64_t deadline = nm_mono_ms() + T_MS;
    for (;;) {
        struct gc_result r;
        assert_int_equal(gc_unary(c, "HealthCheckRequest", "{\"requestId\":\"h\"}", T_MS, &r), 0);
        bool ok = r.type && !strcmp(r.type, "HealthCheckResponse");
        gc_result_free(&r);
        if (ok) break;
        if (nm_mono_ms() > deadline) fail_msg("the connection was never set up");
        gc_pump(c, 10);
    }
    cJSON *sc = grpc_ok(c, "ServerCheckRequest", "{\"requestId\":\"s\"}", "ServerCheckResponse");
    snprintf(id, idlen, "%s", nm_jstr(sc, "connectionId"));
    cJSON_Delete(sc);
    return c;
}

/* Closes a gRPC connection and waits (polling, with a deadline) until the server has forgotten it
 * and what it owned, so the next test sees a settled registry. */
static void grpc_close(struct gc *c, const char *id)
{
    gc_close(c);
    int64_t deadline = nm_mono_ms() + T_MS;
    for (;;) {
        cJSON *ids = v2_data("GET", CLIENT "/list", NULL);
        bool gone = !array_has_string(ids, id);
        cJSON_Delete(ids);
        if (gone) return;
        if (nm_mono_ms() > deadline) fail_msg("connection client %s still listed", id);
    }
}

static void test_connection_clients(void **state)
{
    (void)state;
    char id[128];
    struct gc *c = grpc_client(id, sizeof id);
    cJSON *j = grpc_ok(c, "InstanceRequest",
                       "{\"requestId\":\"1\",\"namespace\":\"public\",\"serviceName\":\"v2-conn\",\"groupName\":\"CG\","
                       "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"10.70.0.1\",\"port\":9000,\"weight\":1.0,"
                       "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\",\"metadata\":{}}}",
                       "InstanceResponse");
    cJSON_Delete(j);
    j = grpc_ok(c, "SubscribeServiceRequest",
                "{\"requestId\":\"2\",\"namespace\":\"public\",\"serviceName\":\"v2-conn\",\"groupName\":\"CG\","
                "\"subscribe\":true,\"clusters\":\"\"}",
                "SubscribeServiceResponse");
    cJSON_Delete(j);

    cJSON *ids = v2_data("GET", CLIENT "/list", NULL);
    assert_true(array_has_string(ids, id));
    assert_false(array_has_string(ids, "10.70.0.1:9000#true"));   /* its instance belongs to the connection */
    cJSON_Delete(ids);
    cJSON *d = v2_data("GET", nm_fmt(CLIENT "?clientId=%s", nm_enc(id)), NULL);
    assert_string_equal(nm_jstr(d, "clientId"), id);
    assert_string_equal(nm_jstr(d, "clientType"), "connection");
    assert_string_equal(nm_jstr(d, "connectType"), "GRPC");
    assert_string_equal(nm_jstr(d, "appName"), "v2-app");
    assert_string_equal(nm_jstr(d, "version"), "Nacos-Java-Client:v2.3.2");
    assert_string_equal(nm_jstr(d, "clientIp"), "127.0.0.1");
    assert_string_equal(nm_jstr(d, "clientPort"), strrchr(id, '_') + 1);
    assert_true(cJSON_IsTrue(nm_field(d, "ephemeral")));
    cJSON_Delete(d);
    d = v2_data("GET", nm_fmt(CLIENT "/publish/list?clientId=%s", nm_enc(id)), NULL);
    nm_assert_json(d, "[{\"namespace\":\"public\",\"group\":\"CG\",\"serviceName\":\"v2-conn\","
                   "\"registeredInstance\":{\"ip\":\"10.70.0.1\",\"port\":9000,\"cluster\":\"DEFAULT\"}}]");
    cJSON_Delete(d);
    d = v2_data("GET", nm_fmt(CLIENT "/subscribe/list?clientId=%s", nm_enc(id)), NULL);
    nm_assert_json(d, "[{\"namespace\":\"public\",\"group\":\"CG\",\"serviceName\":\"v2-conn\",\"subscriberInfo\":"
                   "{\"app\":\"v2-app\",\"agent\":\"Nacos-Java-Client:v2.3.2\",\"addr\":\"127.0.0.1\"}}]");
    cJSON_Delete(d);
    d = v2_data("GET", CLIENT "/service/subscriber/list?serviceName=v2-conn&groupName=CG", NULL);
    nm_assert_json(d, nm_fmt("[{\"clientId\":\"%s\",\"ip\":\"127.0.0.1\",\"port\":0}]", id));
    cJSON_Delete(d);
    d = v2_data("GET", CLIENT "/service/subscriber/list?serviceName=v2-conn&groupName=CG&ip=10.0.0.1", NULL);
    nm_assert_json(d, "[]");
    cJSON_Delete(d);
    d = v2_data("GET", CLIENT "/service/publisher/list?serviceName=v2-conn&groupName=CG", NULL);
    nm_assert_json(d, nm_fmt("[{\"ip\":\"10.70.0.1\",\"port\":9000,\"cluster\":\"DEFAULT\",\"clientId\":\"%s\"}]", id));
    cJSON_Delete(d);
    d = v2_data("GET", "/nacos/v2/ns/operator/metrics?onlyStatus=false", NULL);
    assert_true(nm_jnum(d, "connectionBasedClientCount") >= 1);
    cJSON_Delete(d);

    /* the connection ends: the client and its instance go */
    grpc_close(c, id);
    assert_null(reg_inst("CG", "v2-conn", "10.70.0.1", 9000));
}

/* The same instance through v1 list, v2 list and a gRPC ServiceQuery. */
static void cross_check(struct gc *c, const char *svc, const char *ip)
{
    cJSON *v1 = NULL;
    struct nm_resp r;
    nm_http(S, "GET", nm_fmt("/nacos/v1/ns/instance/list?serviceName=CX%%40%%40%s", svc), NULL, NULL, JAVA_UA, &r);
    assert_int_equal(r.status, 200);
    v1 = cJSON_Parse(r.body);
    nm_resp_free(&r);
    cJSON *v2 = v2_data("GET", nm_fmt(LIST "?serviceName=%s&groupName=CX", svc), NULL);
    cJSON *q = grpc_ok(c, "ServiceQueryRequest",
                       nm_fmt("{\"requestId\":\"q\",\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":\"CX\","
                              "\"cluster\":\"\",\"healthyOnly\":false,\"udpPort\":0}", svc),
                       "QueryServiceResponse");
    const cJSON *g = nm_field(q, "serviceInfo");
    assert_string_equal(nm_jstr(v1, "name"), nm_fmt("CX@@%s", svc));
    assert_string_equal(nm_jstr(v2, "name"), nm_fmt("CX@@%s", svc));
    assert_string_equal(nm_jstr(g, "name"), svc);   /* gRPC: plain, clients add the group */
    assert_string_equal(nm_jstr(g, "groupName"), "CX");
    assert_string_equal(nm_jstr(v2, "groupName"), "CX");
    assert_true(nm_jnum(v1, "lastRefTime") == nm_jnum(v2, "lastRefTime") && nm_jnum(v2, "lastRefTime") == nm_jnum(g, "lastRefTime"));
    assert_string_equal(nm_jstr(v1, "checksum"), nm_jstr(v2, "checksum"));
    assert_string_equal(nm_jstr(v2, "checksum"), nm_jstr(g, "checksum"));
    const cJSON *hosts[3] = {nm_field(v1, "hosts"), nm_field(v2, "hosts"), nm_field(g, "hosts")};
    for (int k = 0; k < 3; k++) assert_int_equal(cJSON_GetArraySize(hosts[k]), 1);
    const char *keys[] = {"instanceId", "ip", "port", "weight", "healthy", "enabled", "ephemeral", "clusterName",
                          "serviceName", "metadata", "instanceHeartBeatInterval", "instanceHeartBeatTimeOut",
                          "ipDeleteTimeout"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *a = cJSON_PrintUnformatted(nm_field(hosts[0]->child, keys[i]));
        char *b = cJSON_PrintUnformatted(nm_field(hosts[1]->child, keys[i]));
        char *d = cJSON_PrintUnformatted(nm_field(hosts[2]->child, keys[i]));
        if (strcmp(a, b) || strcmp(b, d)) fail_msg("%s differs: v1 %s, v2 %s, gRPC %s", keys[i], a, b, d);
        cJSON_free(a);
        cJSON_free(b);
        cJSON_free(d);
    }
    assert_string_equal(nm_jstr(hosts[1]->child, "ip"), ip);
    cJSON_Delete(v1);
    cJSON_Delete(v2);
    cJSON_Delete(q);
}

static void test_cross_check_v1_v2_grpc(void **state)
{
    (void)state;
    char id[128];
    struct gc *c = grpc_client(id, sizeof id);
    /* registered over v1 */
    struct nm_resp r;
    call(&r, "POST", "/nacos/v1/ns/instance", "serviceName=v1-made&groupName=CX&ip=10.71.0.1&port=8080&weight=2.5"
                                               "&clusterName=C1&metadata=%7B%22k%22%3A%22v%22%7D");
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    cross_check(c, "v1-made", "10.71.0.1");
    /* registered over v2, then updated over v2 */
    v2_ok("POST", INST, "serviceName=v2-made&groupName=CX&ip=10.71.0.2&port=8080&ephemeral=false");
    v2_ok("PUT", INST, "serviceName=v2-made&groupName=CX&ip=10.71.0.2&port=8080&weight=4&metadata=a%3D1");
    cross_check(c, "v2-made", "10.71.0.2");
    /* registered over gRPC */
    cJSON *j = grpc_ok(c, "InstanceRequest",
                       "{\"requestId\":\"1\",\"namespace\":\"public\",\"serviceName\":\"grpc-made\",\"groupName\":\"CX\","
                       "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"10.71.0.3\",\"port\":9000,\"weight\":3.0,"
                       "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"G1\","
                       "\"metadata\":{\"m\":\"n\"}}}",
                       "InstanceResponse");
    cJSON_Delete(j);
    cross_check(c, "grpc-made", "10.71.0.3");
    cJSON *d = v2_data("GET", INST "?serviceName=grpc-made&groupName=CX&ip=10.71.0.3&port=9000&clusterName=G1", NULL);
    nm_assert_json(d, "{\"serviceName\":\"CX@@grpc-made\",\"ip\":\"10.71.0.3\",\"port\":9000,\"clusterName\":\"G1\","
                   "\"weight\":3,\"healthy\":true,\"instanceId\":\"10.71.0.3#9000#G1#CX@@grpc-made\","
                   "\"metadata\":{\"m\":\"n\"}}");
    cJSON_Delete(d);
    grpc_close(c, id);   /* its instance goes with it */
    assert_null(reg_inst("CX", "grpc-made", "10.71.0.3", 9000));
}

/* ------------------------------------------------------------------ dispatch: paths, status, faults, journal */

static void test_unknown_paths(void **state)
{
    (void)state;
    expect_rejected("GET", "/nacos/v2/ns/foo", NULL, 404, 20004, "resource not found", "no such api: GET /nacos/v2/ns/foo");
    expect_rejected("DELETE", "/nacos/v2/ns/instance/list?serviceName=x", NULL, 405, 20004, "resource not found",
                    "no such api: DELETE /nacos/v2/ns/instance/list");
    expect_rejected("POST", "/nacos/v2/ns/instance/list?serviceName=v2-wm&ip=10.72.0.1&port=8080", NULL, 405, 20004,
                    "resource not found", "no such api: POST /nacos/v2/ns/instance/list");
    expect_rejected("GET", "/nacos/v2/core/nope", NULL, 404, 20004, "resource not found",
                    "no such api: GET /nacos/v2/core/nope");
    expect_rejected("GET", LIST "?serviceName=v2%00x", NULL, 400, 20002, "parameter validate error",
                    "Param 'serviceName' contains a NUL byte");
}

static void set_status(const char *status)
{
    struct nm_resp r;
    call(&r, "PUT", "/__mock/status", nm_fmt("{\"status\":\"%s\"}", status));
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
}

static void test_status_down(void **state)
{
    (void)state;
    set_status("DOWN");
    expect_rejected("POST", INST "?serviceName=v2-down&ip=10.73.0.1&port=8080", NULL, 503, 30000, "server error",
                    "server is DOWN now, please try again later!");
    expect_rejected("GET", LIST "?serviceName=v2-down", NULL, 503, 30000, "server error",
                    "server is DOWN now, please try again later!");
    cJSON *d = v2_data("GET", "/nacos/v2/ns/operator/metrics", NULL);   /* the status itself still answers */
    nm_assert_json(d, "{\"status\":\"DOWN\"}");
    cJSON_Delete(d);
    /* readiness: Nacos returns Result.failure as it is, under HTTP 200 */
    struct nm_resp r;
    call(&r, "GET", "/nacos/v2/console/health/readiness", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"code\":30000,\"message\":\"naming not in readiness\",\"data\":null}");
    nm_resp_free(&r);
    d = v2_data("GET", "/nacos/v2/core/cluster/node/list?state=DOWN", NULL);
    assert_int_equal(cJSON_GetArraySize(d), 1);
    cJSON_Delete(d);
    set_status("READ_ONLY");
    cJSON_Delete(v2_data("GET", LIST "?serviceName=v2-down", NULL));
    expect_rejected("POST", INST "?serviceName=v2-down&ip=10.73.0.1&port=8080", NULL, 503, 30000, "server error",
                    "server is READ_ONLY now, please try again later!");
    set_status("UP");
    v2_ok("POST", INST "?serviceName=v2-down&ip=10.73.0.1&port=8080", NULL);
}

static void add_fault(const char *rule)
{
    struct nm_resp r;
    call(&r, "POST", "/__mock/faults", rule);
    if (r.status != 201) fail_msg("fault %s -> %ld %s", rule, r.status, r.body);
    nm_resp_free(&r);
}

static void clear_faults(void)
{
    struct nm_resp r;
    call(&r, "DELETE", "/__mock/faults", NULL);
    assert_int_equal(r.status, 204);
    nm_resp_free(&r);
}

static void test_faults_journal_metrics(void **state)
{
    (void)state;
    char id[128];
    struct gc *c = grpc_client(id, sizeof id);
    /* one `register` rule hits v1, v2 and gRPC registers alike */
    add_fault("{\"id\":\"reg-any\",\"match\":{\"api\":\"register\",\"serviceName\":\"v2-f\"},\"action\":{\"status\":500},"
              "\"times\":3}");
    expect_rejected("POST", INST "?serviceName=v2-f&ip=10.74.0.1&port=8080", NULL, 500, 30000, "server error",
                    "nacos-mock injected fault 'reg-any' (HTTP 500)");
    struct nm_resp r;
    call(&r, "POST", "/nacos/v1/ns/instance?serviceName=v2-f&ip=10.74.0.1&port=8080", NULL);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "caused: nacos-mock injected fault 'reg-any' (HTTP 500);");
    nm_resp_free(&r);
    struct gc_result g;
    assert_int_equal(gc_unary(c, "InstanceRequest",
                              "{\"requestId\":\"1\",\"serviceName\":\"v2-f\",\"type\":\"registerInstance\","
                              "\"instance\":{\"ip\":\"10.74.0.2\",\"port\":9000}}",
                              T_MS, &g),
                     0);
    assert_string_equal(g.type, "ErrorResponse");
    gc_result_free(&g);
    assert_null(reg_inst("DEFAULT_GROUP", "v2-f", "10.74.0.1", 8080));
    clear_faults();

    /* match.path narrows a rule to v2; other statuses map to their codes; a body is sent as given */
    add_fault("{\"id\":\"v2-only\",\"match\":{\"api\":\"list\",\"path\":\"/nacos/v2/ns/instance/list\"},"
              "\"action\":{\"status\":404},\"times\":1}");
    call(&r, "GET", "/nacos/v1/ns/instance/list?serviceName=v2-f", NULL);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    expect_rejected("GET", LIST "?serviceName=v2-f", NULL, 404, 20004, "resource not found",
                    "nacos-mock injected fault 'v2-only' (HTTP 404)");
    add_fault("{\"id\":\"v2-503\",\"match\":{\"api\":\"detail\"},\"action\":{\"status\":503},\"times\":1}");
    expect_rejected("GET", INST "?serviceName=v2-f&ip=10.74.0.1&port=8080", NULL, 503, 30000, "server error",
                    "server is DOWN now, please try again later!");
    add_fault("{\"id\":\"v2-body\",\"match\":{\"api\":\"clients\"},\"action\":{\"status\":409,\"body\":\"busy\"},"
              "\"times\":1}");
    call(&r, "GET", CLIENT "/list", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(r.body, "busy");
    nm_resp_free(&r);
    /* a beat rule's code comes un-enveloped, as the beat itself */
    add_fault("{\"id\":\"v2-beat\",\"match\":{\"api\":\"beat\"},\"action\":{\"beatCode\":20404},\"times\":1}");
    call(&r, "PUT", BEAT "?serviceName=DEFAULT_GROUP%40%40v2-f&ip=10.74.0.1&port=8080", NULL);
    assert_string_equal(r.body, "{\"clientBeatInterval\":5000,\"code\":20404,\"lightBeatEnabled\":true}");
    nm_resp_free(&r);
    clear_faults();
    grpc_close(c, id);

    /* the journal names v2 calls with the v1 API names, the group from groupName */
    call(&r, "DELETE", "/__mock/requests", NULL);
    nm_resp_free(&r);
    v2_ok("POST", INST "?serviceName=v2-j&groupName=JG&ip=10.74.0.5&port=8080", NULL);
    cJSON *j = nm_get_json(S, "/__mock/requests?api=register&serviceName=JG%40%40v2-j");
    assert_non_null(j);
    assert_int_equal(nm_jnum(j, "total"), 1);
    const cJSON *e = cJSON_GetArrayItem(nm_field(j, "requests"), 0);
    assert_string_equal(nm_jstr(e, "path"), "/nacos/v2/ns/instance");
    assert_string_equal(nm_jstr(e, "method"), "POST");
    assert_int_equal(nm_jnum(e, "status"), 200);
    assert_string_equal(nm_jstr(nm_field(e, "params"), "ip"), "10.74.0.5");
    cJSON_Delete(j);
    double before = nm_metric(S, "nacos_mock_requests_total{api=\"service.list\",status=\"200\",transport=\"http\"} ");
    cJSON_Delete(v2_data("GET", SERVICE "/list", NULL));
    double after = nm_metric(S, "nacos_mock_requests_total{api=\"service.list\",status=\"200\",transport=\"http\"} ");
    assert_true(after == before + 1);
}

static void test_auth(void **state)
{
    (void)state;
    struct nm_server *a = nm_test_start((const char *const[]){"--quiet", "--auth", "nacos:secret", NULL});
    struct nm_resp r;
    nm_http(a, "GET", LIST "?serviceName=x", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.body, "{\"code\":10001,\"message\":\"access denied\",\"data\":\"user not found!\"}");
    nm_resp_free(&r);
    nm_http(a, "GET", LIST "?serviceName=x&username=nacos&password=secret", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    nm_http(a, "GET", "/nacos/v2/console/health/liveness", NULL, NULL, NULL, &r);   /* not a naming call */
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    nm_test_stop(a);
}

static void test_clean_stop(void **state)
{
    (void)state;
    int rc = nm_stop(S);
    if (rc != 0) fail_msg("nacos-mock did not stop cleanly: exit status %d", rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_register_detail_update_deregister),
        cmocka_unit_test(test_instance_errors),
        cmocka_unit_test(test_group_name_is_separate),
        cmocka_unit_test(test_instance_list),
        cmocka_unit_test(test_beat),
        cmocka_unit_test(test_metadata_batch),
        cmocka_unit_test(test_service_crud),
        cmocka_unit_test(test_service_list),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_operator),
        cmocka_unit_test(test_console_and_nodes),
        cmocka_unit_test(test_ip_port_clients),
        cmocka_unit_test(test_connection_clients),
        cmocka_unit_test(test_cross_check_v1_v2_grpc),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_status_down),
        cmocka_unit_test(test_faults_journal_metrics),
        cmocka_unit_test_teardown(test_auth, nm_test_teardown),
        cmocka_unit_test(test_clean_stop),   /* keep last */
    };
    return cmocka_run_group_tests_name("v2 Open API", tests, group_setup, group_teardown);
}
