/*
 * test_grpc_config.c — the config center over gRPC (config-api.md §3) against the real nacos-mock,
 * with the harness's h2c client: ConfigQuery (found, absent — every field still there, never null),
 * ConfigPublish (CAS, gray release refused, validation answered in the response type), ConfigRemove,
 * ConfigBatchListen (changed keys listed with the tenant as spelled, listeners registered and
 * unregistered), ConfigChangeNotify pushes for changes made over HTTP and gRPC, listeners going with
 * their connection, a 1 MB content byte-exact, `config.*` fault rules (push dropped or delayed), and
 * the journal's gRPC entries (a large content cut).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "grpc_client.h"
#include "harness.h"

#define T_MS 5000

static int grpc_port(const struct nm_server *s) { return s->port + 1000; }

/* A set-up connection as the Java client makes one for configs (label module: config). */
static struct gc *client(const struct nm_server *s)
{
    struct gc *c = gc_connect("127.0.0.1", grpc_port(s), T_MS);
    assert_non_null(c);
    struct gc_result r;
    assert_int_equal(gc_unary(c, "ServerCheckRequest", "{}", T_MS, &r), 0);
    gc_result_free(&r);
    assert_int_equal(gc_bi_open(c, T_MS), 0);
    assert_int_equal(gc_bi_send(c, "ConnectionSetupRequest",
                                "{\"clientVersion\":\"Nacos-Java-Client:v2.3.2\",\"tenant\":\"\","
                                "\"labels\":{\"source\":\"sdk\",\"module\":\"config\"},\"abilityTable\":{}}"),
                     0);
    for (int64_t deadline = nm_mono_ms() + T_MS;;) {
        assert_int_equal(gc_unary(c, "HealthCheckRequest", "{}", T_MS, &r), 0);
        bool ok = r.type && !strcmp(r.type, "HealthCheckResponse");
        gc_result_free(&r);
        if (ok) break;
        if (nm_mono_ms() > deadline) fail_msg("the connection was never set up");
    }
    return c;
}

/* A unary call answered with a message: its JSON (caller deletes); the type must be `want`. */
static cJSON *call(struct gc *c, const char *type, const char *json, const char *want)
{
    struct gc_result r;
    if (gc_unary(c, type, json, T_MS, &r)) fail_msg("%s: no answer", type);
    if (r.grpc_status != 0 || !r.json) fail_msg("%s: grpc-status %d (%s)", type, r.grpc_status, r.grpc_message);
    if (strcmp(r.type, want)) fail_msg("%s answered %s: %s", type, r.type, r.json);
    cJSON *j = cJSON_Parse(r.json);
    gc_result_free(&r);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *o, const char *k) { return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k)); }
static const char *str(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v ? v : "(absent)";
}

static void ok(const cJSON *j)
{
    if (num(j, "resultCode") != 200 || !cJSON_IsTrue(cJSON_GetObjectItem(j, "success")))
        fail_msg("not a success: %s", cJSON_PrintUnformatted(j));
}

static void failed(const cJSON *j, int code, const char *needle)
{
    if (num(j, "resultCode") != 500 || num(j, "errorCode") != code || !cJSON_IsFalse(cJSON_GetObjectItem(j, "success")) ||
        (needle && !strstr(str(j, "message"), needle)))
        fail_msg("wanted errorCode %d (%s): %s", code, needle ? needle : "", cJSON_PrintUnformatted(j));
}

static void publish(struct gc *c, const char *data_id, const char *content)
{
    cJSON *j = call(c, "ConfigPublishRequest",
                    nm_fmt("{\"dataId\":\"%s\",\"group\":\"DEFAULT_GROUP\",\"tenant\":\"\",\"content\":\"%s\","
                           "\"additionMap\":{\"type\":\"yaml\"},\"module\":\"config\"}", data_id, content),
                    "ConfigPublishResponse");
    ok(j);
    cJSON_Delete(j);
}

/* The next ConfigChangeNotifyRequest on c's bi-stream (other messages skipped); its JSON. */
static cJSON *next_notify(struct gc *c, int timeout_ms)
{
    for (int64_t deadline = nm_mono_ms() + timeout_ms;;) {
        int left = (int)(deadline - nm_mono_ms());
        char *type = NULL, *json = NULL;
        if (left <= 0 || gc_bi_recv(c, left, &type, &json)) return NULL;
        cJSON *j = !strcmp(type, "ConfigChangeNotifyRequest") ? cJSON_Parse(json) : NULL;
        free(type);
        free(json);
        if (j) return j;
    }
}

static cJSON *control(const struct nm_server *s, const char *method, const char *path, const char *body, long want)
{
    struct nm_resp r;
    long st = nm_http(s, method, path, body, "application/json", NULL, &r);
    if (st != want) fail_msg("%s %s -> %ld %s", method, path, st, r.body);
    cJSON *j = r.body && *r.body ? cJSON_Parse(r.body) : NULL;
    nm_resp_free(&r);
    return j;
}

static void test_query_publish_remove(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *c = client(s);
    /* absent: the response type, errorCode 300, every field there */
    cJSON *q = call(c, "ConfigQueryRequest", "{\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\",\"tenant\":\"\"}",
                    "ConfigQueryResponse");
    failed(q, 300, "config data not exist");
    assert_string_equal(str(q, "content"), "");
    assert_string_equal(str(q, "md5"), "");
    assert_string_equal(str(q, "contentType"), "");
    assert_int_equal(num(q, "lastModified"), 0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(q, "beta")));
    assert_null(cJSON_GetObjectItem(q, "tag"));
    cJSON_Delete(q);
    publish(c, "app.yaml", "a: 1");
    q = call(c, "ConfigQueryRequest", "{\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\",\"tenant\":\"public\"}",
             "ConfigQueryResponse");
    ok(q);
    assert_string_equal(str(q, "content"), "a: 1");
    assert_string_equal(str(q, "contentType"), "yaml");
    assert_string_equal(str(q, "md5"), "270f9e65a80226eccd82c99cdd0dd2fb");
    assert_true(num(q, "lastModified") > 0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(q, "beta")));
    cJSON_Delete(q);
    /* one store with HTTP: the v1 GET sees it */
    struct nm_resp r;
    assert_int_equal(nm_get(s, "/nacos/v1/cs/configs?dataId=app.yaml&group=DEFAULT_GROUP", &r), 200);
    assert_string_equal(r.body, "a: 1");
    nm_resp_free(&r);
    /* CAS: a stale md5 changes nothing */
    cJSON *p = call(c, "ConfigPublishRequest",
                    "{\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\",\"content\":\"a: 9\",\"casMd5\":\"0000\"}",
                    "ConfigPublishResponse");
    failed(p, 500, "Cas publish fail");
    cJSON_Delete(p);
    p = call(c, "ConfigPublishRequest",
             "{\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\",\"content\":\"a: 2\","
             "\"casMd5\":\"270f9e65a80226eccd82c99cdd0dd2fb\"}", "ConfigPublishResponse");
    ok(p);
    cJSON_Delete(p);
    /* refused: gray release, a bad dataId, no content — in the response type, naming the field */
    p = call(c, "ConfigPublishRequest",
             "{\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\",\"content\":\"x\",\"additionMap\":{\"betaIps\":\"1.2.3.4\"}}",
             "ConfigPublishResponse");
    failed(p, 400, "gray");
    cJSON_Delete(p);
    p = call(c, "ConfigPublishRequest", "{\"dataId\":\"bad id!\",\"group\":\"DEFAULT_GROUP\",\"content\":\"x\"}",
             "ConfigPublishResponse");
    failed(p, 400, "dataId");
    cJSON_Delete(p);
    p = call(c, "ConfigPublishRequest", "{\"dataId\":\"x\",\"group\":\"DEFAULT_GROUP\"}", "ConfigPublishResponse");
    failed(p, 400, "content");
    cJSON_Delete(p);
    q = call(c, "ConfigQueryRequest", "{\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\"}", "ConfigQueryResponse");
    assert_string_equal(str(q, "content"), "a: 2");
    cJSON_Delete(q);
    /* remove, and remove again (no error) */
    for (int i = 0; i < 2; i++) {
        cJSON *d = call(c, "ConfigRemoveRequest", "{\"dataId\":\"app.yaml\",\"group\":\"DEFAULT_GROUP\"}",
                        "ConfigRemoveResponse");
        ok(d);
        cJSON_Delete(d);
    }
    assert_int_equal(nm_get(s, "/nacos/v1/cs/configs?dataId=app.yaml&group=DEFAULT_GROUP", &r), 404);
    nm_resp_free(&r);
    gc_close(c);
    nm_test_stop(s);
}

static void test_listen_and_push(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *a = client(s), *b = client(s);
    publish(a, "db.properties", "url=x");
    /* a listens with no md5 ("I have none"): listed as changed, tenant as spelled */
    cJSON *l = call(a, "ConfigBatchListenRequest",
                    "{\"listen\":true,\"configListenContexts\":[{\"dataId\":\"db.properties\",\"group\":\"DEFAULT_GROUP\","
                    "\"tenant\":\"public\",\"md5\":\"\"},{\"dataId\":\"none\",\"group\":\"DEFAULT_GROUP\",\"tenant\":\"\","
                    "\"md5\":\"\"}]}", "ConfigChangeBatchListenResponse");
    ok(l);
    const cJSON *ch = cJSON_GetObjectItem(l, "changedConfigs");
    assert_int_equal(cJSON_GetArraySize(ch), 1);
    assert_string_equal(str(cJSON_GetArrayItem(ch, 0), "dataId"), "db.properties");
    assert_string_equal(str(cJSON_GetArrayItem(ch, 0), "tenant"), "public");
    cJSON_Delete(l);
    /* b listens with the right md5 and the tenant spelled "": nothing changed, an empty list (not null) */
    l = call(b, "ConfigBatchListenRequest",
             "{\"listen\":true,\"configListenContexts\":[{\"dataId\":\"db.properties\",\"group\":\"DEFAULT_GROUP\","
             "\"tenant\":\"\",\"md5\":\"e8f1d55f5f154b0373cc3fb8a0ee3f2a\"}]}", "ConfigChangeBatchListenResponse");
    ok(l);   /* md5 of "url=x" */
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(l, "changedConfigs")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "changedConfigs")), 0);
    cJSON_Delete(l);
    /* a change over HTTP reaches both, each with its own spelling of the tenant */
    struct nm_resp r;
    assert_int_equal(nm_post_form(s, "/nacos/v1/cs/configs", "dataId=db.properties&group=DEFAULT_GROUP&content=url%3Dy",
                                  &r), 200);
    nm_resp_free(&r);
    cJSON *na = next_notify(a, T_MS), *nb = next_notify(b, T_MS);
    assert_non_null(na);
    assert_non_null(nb);
    assert_string_equal(str(na, "tenant"), "public");
    assert_string_equal(str(nb, "tenant"), "");
    assert_string_equal(str(na, "module"), "config");
    assert_string_equal(str(na, "dataId"), "db.properties");
    assert_true(strlen(str(na, "requestId")) > 0);
    assert_int_equal(gc_bi_send(a, "ConfigChangeNotifyResponse",
                                nm_fmt("{\"requestId\":\"%s\",\"resultCode\":200,\"success\":true}", str(na, "requestId"))),
                     0);
    cJSON_Delete(na);
    cJSON_Delete(nb);
    /* identical content: no change, no push; b stops listening */
    l = call(b, "ConfigBatchListenRequest",
             "{\"listen\":false,\"configListenContexts\":[{\"dataId\":\"db.properties\",\"group\":\"DEFAULT_GROUP\","
             "\"tenant\":\"\",\"md5\":\"\"}]}", "ConfigChangeBatchListenResponse");
    ok(l);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "changedConfigs")), 0);
    cJSON_Delete(l);
    publish(b, "db.properties", "url=z");   /* a gRPC change: a is pushed, b no more */
    cJSON *n2 = next_notify(a, T_MS);
    assert_non_null(n2);
    cJSON_Delete(n2);
    assert_null(next_notify(b, 300));
    /* listeners go with their connection */
    double before = nm_metric(s, "nacos_mock_config_listeners{transport=\"grpc\"} ");
    assert_true(before >= 1);
    gc_close(a);
    for (int64_t deadline = nm_mono_ms() + T_MS;
         nm_metric(s, "nacos_mock_config_listeners{transport=\"grpc\"} ") > 0;)
        if (nm_mono_ms() > deadline) fail_msg("the closed connection's listeners stayed");
    /* the ack was counted */
    assert_true(nm_metric(s, "nacos_mock_config_push_results_total{result=\"acked\"} ") >= 1);
    gc_close(b);
    nm_test_stop(s);
}

/* A 1 MB content goes in and comes out byte for byte (JSON escapes included); the journal keeps it cut. */
static void test_large_content_and_journal(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *c = client(s);
    size_t n = 1024 * 1024;
    char *content = malloc(n + 1);
    for (size_t i = 0; i < n; i++) content[i] = "abcdefghij\"\\\n\t"[i % 14];
    content[n] = '\0';
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "dataId", "big.txt");
    cJSON_AddStringToObject(req, "group", "DEFAULT_GROUP");
    cJSON_AddStringToObject(req, "content", content);
    char *json = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    cJSON *p = call(c, "ConfigPublishRequest", json, "ConfigPublishResponse");
    ok(p);
    cJSON_Delete(p);
    cJSON_free(json);
    cJSON *q = call(c, "ConfigQueryRequest", "{\"dataId\":\"big.txt\",\"group\":\"DEFAULT_GROUP\"}", "ConfigQueryResponse");
    ok(q);
    assert_int_equal(strlen(str(q, "content")), n);
    assert_int_equal(memcmp(str(q, "content"), content, n), 0);
    cJSON_Delete(q);
    free(content);
    cJSON *jr = control(s, "GET", "/__mock/requests?transport=grpc&api=config.publish", NULL, 200);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(jr, "requests"), 0);
    assert_string_equal(str(e, "path"), "ConfigPublishRequest");
    const char *kept = str(cJSON_GetObjectItem(e, "params"), "content");
    assert_true(strlen(kept) < 5000);
    assert_non_null(strstr(kept, "(1048576 bytes)"));
    cJSON_Delete(jr);
    gc_close(c);
    nm_test_stop(s);
}

static void test_config_faults(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *c = client(s);
    publish(c, "f.yaml", "v: 1");
    cJSON_Delete(call(c, "ConfigBatchListenRequest",
                      "{\"listen\":true,\"configListenContexts\":[{\"dataId\":\"f.yaml\",\"group\":\"DEFAULT_GROUP\","
                      "\"tenant\":\"\",\"md5\":\"\"}]}", "ConfigChangeBatchListenResponse"));
    /* a 500 on get: an ErrorResponse, as for every faulted gRPC call */
    cJSON_Delete(control(s, "POST", "/__mock/faults",
                         "{\"match\":{\"api\":\"config.get\",\"dataId\":\"f.yaml\",\"transport\":\"grpc\"},"
                         "\"action\":{\"status\":500},\"times\":1}", 201));
    cJSON *q = call(c, "ConfigQueryRequest", "{\"dataId\":\"f.yaml\",\"group\":\"DEFAULT_GROUP\"}", "ErrorResponse");
    failed(q, 500, NULL);
    cJSON_Delete(q);
    /* a listen faulted by one of its keys */
    cJSON_Delete(control(s, "POST", "/__mock/faults",
                         "{\"match\":{\"api\":\"config.listen\",\"dataId\":\"f.yaml\"},\"action\":{\"grpcStatus\":14},"
                         "\"times\":1}", 201));
    struct gc_result r;
    assert_int_equal(gc_unary(c, "ConfigBatchListenRequest",
                              "{\"listen\":true,\"configListenContexts\":[{\"dataId\":\"other\",\"group\":\"G\"},"
                              "{\"dataId\":\"f.yaml\",\"group\":\"DEFAULT_GROUP\"}]}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, 14);
    gc_result_free(&r);
    /* pushes: dropped, then delayed */
    cJSON_Delete(control(s, "POST", "/__mock/faults",
                         "{\"id\":\"pdrop\",\"match\":{\"api\":\"config.push\"},\"action\":{\"drop\":\"close\"},\"times\":1}",
                         201));
    publish(c, "f.yaml", "v: 2");
    cJSON *f = control(s, "GET", "/__mock/faults/pdrop", NULL, 200);
    assert_int_equal(num(f, "hits"), 1);   /* the push hook runs before the publish is answered */
    cJSON_Delete(f);
    assert_null(next_notify(c, 300));
    cJSON_Delete(control(s, "POST", "/__mock/faults",
                         "{\"match\":{\"api\":\"config.push\"},\"action\":{\"delayMs\":400},\"times\":1}", 201));
    int64_t t0 = nm_mono_ms();
    publish(c, "f.yaml", "v: 3");
    cJSON *n = next_notify(c, T_MS);
    assert_non_null(n);
    assert_true(nm_mono_ms() - t0 >= 400);
    cJSON_Delete(n);
    gc_close(c);
    nm_test_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_query_publish_remove, nm_test_teardown),
        cmocka_unit_test_teardown(test_listen_and_push, nm_test_teardown),
        cmocka_unit_test_teardown(test_large_content_and_journal, nm_test_teardown),
        cmocka_unit_test_teardown(test_config_faults, nm_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
