/*
 * test_grpc_naming.c — integration tests of Nacos 2.x naming over gRPC against the real nacos-mock
 * process (port 0; gRPC on HTTP port + 1000), with the harness's h2c client (grpc_client.h): the
 * handshake and its errors (301, 302, 400, 502, 300), every naming request, one registry shared with
 * v1 (a gRPC register is listed by v1, a v1 change is pushed to gRPC subscribers), instances that go
 * with their connection (TCP close, DELETE /__mock/connections), ConnectReset, the control plane,
 * fault rules on gRPC calls and pushes, and the journal / metrics entries of gRPC calls.
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

/* A connected, set-up client (ServerCheck, bi-stream, ConnectionSetupRequest as Java sends it). */
static struct gc *client(const struct nm_server *s, const char *app)
{
    struct gc *c = gc_connect_setup("127.0.0.1", grpc_port(s),
                                    nm_fmt("{\"source\":\"sdk\",\"module\":\"naming\",\"AppName\":\"%s\"}", app), T_MS);
    assert_non_null(c);
    return c;
}

/* A unary call that must be answered: the response as JSON (caller deletes), its type in *type. */
static cJSON *call(struct gc *c, const char *type, const char *json, char *type_out, size_t type_len)
{
    struct gc_result r;
    if (gc_unary(c, type, json, T_MS, &r)) fail_msg("%s: no answer", type);
    if (r.grpc_status != 0 || !r.json) fail_msg("%s: grpc-status %d (%s)", type, r.grpc_status, r.grpc_message);
    if (type_out) snprintf(type_out, type_len, "%s", r.type);
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

/* Calls and requires success (resultCode 200); returns the response. */
static cJSON *ok_call(struct gc *c, const char *type, const char *json, const char *want_type)
{
    char t[64];
    cJSON *j = call(c, type, json, t, sizeof t);
    if (strcmp(t, want_type) || num(j, "resultCode") != 200 || !cJSON_IsTrue(cJSON_GetObjectItem(j, "success")))
        fail_msg("%s answered %s: %s", type, t, cJSON_PrintUnformatted(j));
    return j;
}

/* Calls and requires an ErrorResponse with this errorCode; returns its message (static). */
static const char *err_call(struct gc *c, const char *type, const char *json, int code)
{
    static char msg[1024];
    char t[64];
    cJSON *j = call(c, type, json, t, sizeof t);
    if (strcmp(t, "ErrorResponse") || num(j, "errorCode") != code || num(j, "resultCode") != 500 ||
        !cJSON_IsFalse(cJSON_GetObjectItem(j, "success")))
        fail_msg("%s: wanted ErrorResponse %d, got %s %s", type, code, t, cJSON_PrintUnformatted(j));
    snprintf(msg, sizeof msg, "%s", str(j, "message"));
    cJSON_Delete(j);
    return msg;
}

static const char *reg_json(const char *svc, const char *ip, int port, const char *type)
{
    return nm_fmt("{\"requestId\":\"r1\",\"headers\":{},\"namespace\":\"public\",\"serviceName\":\"%s\","
                  "\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\",\"type\":\"%s\",\"instance\":{\"ip\":\"%s\","
                  "\"port\":%d,\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true,"
                  "\"clusterName\":\"DEFAULT\",\"metadata\":{\"k\":\"v\"}}}",
                  svc, type, ip, port);
}

/* A v1 register over HTTP. */
static void v1_reg(const struct nm_server *s, const char *svc, const char *ip, int port)
{
    struct nm_resp r;
    long st = nm_post_form(s, "/nacos/v1/ns/instance", nm_fmt("serviceName=%s&ip=%s&port=%d", svc, ip, port), &r);
    if (st != 200) fail_msg("v1 register %s %s:%d -> %ld %s", svc, ip, port, st, r.body);
    nm_resp_free(&r);
}

static void reg(struct gc *c, const char *svc, const char *ip, int port)
{
    cJSON_Delete(ok_call(c, "InstanceRequest", reg_json(svc, ip, port, "registerInstance"), "InstanceResponse"));
}

/* Hosts of the v1 list of svc (count), optionally requiring ip. */
static int v1_hosts(const struct nm_server *s, const char *svc, const char *ip, bool *has)
{
    cJSON *l = nm_get_json(s, nm_fmt("/nacos/v1/ns/instance/list?serviceName=%s", svc));
    assert_non_null(l);
    int n = 0;
    if (has) *has = false;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(l, "hosts")) {
        n++;
        if (has && ip && !strcmp(str(h, "ip"), ip)) *has = true;
    }
    cJSON_Delete(l);
    return n;
}

/* The next NotifySubscriberRequest on c's bi-stream (skipping others); its serviceInfo's host count. */
static int next_push(struct gc *c, const char *svc, char *request_id, size_t rlen)
{
    for (;;) {
        char *type = NULL, *json = NULL;
        if (gc_bi_recv(c, T_MS, &type, &json)) fail_msg("no push for %s", svc);
        bool is = !strcmp(type, "NotifySubscriberRequest");
        cJSON *j = cJSON_Parse(json);
        free(type);
        free(json);
        if (!is) { cJSON_Delete(j); continue; }
        const cJSON *info = cJSON_GetObjectItem(j, "serviceInfo");
        assert_string_equal(str(j, "module"), "naming");
        assert_string_equal(str(info, "name"), svc);          /* plain: clients add the group */
        assert_string_equal(str(info, "groupName"), "DEFAULT_GROUP");
        if (request_id) snprintf(request_id, rlen, "%s", str(j, "requestId"));
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(info, "hosts"));
        cJSON_Delete(j);
        return n;
    }
}

static void subscribe(struct gc *c, const char *svc)
{
    cJSON *j = ok_call(c, "SubscribeServiceRequest",
                       nm_fmt("{\"requestId\":\"s\",\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":"
                              "\"DEFAULT_GROUP\",\"clusters\":\"\",\"subscribe\":true}", svc),
                       "SubscribeServiceResponse");
    cJSON_Delete(j);
}

static cJSON *control_json(const struct nm_server *s, const char *method, const char *path, const char *body,
                           long want)
{
    struct nm_resp r;
    long st = nm_http(s, method, path, body, "application/json", NULL, &r);
    if (st != want) fail_msg("%s %s -> %ld %s", method, path, st, r.body);
    cJSON *j = r.body && *r.body ? cJSON_Parse(r.body) : NULL;
    nm_resp_free(&r);
    return j;
}

/* The id of the only connection of app `app`. */
static char *conn_id(const struct nm_server *s, const char *app)
{
    cJSON *j = control_json(s, "GET", "/__mock/connections", NULL, 200);
    char *id = NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "connections"))
        if (!strcmp(str(c, "appName"), app)) id = strdup(str(c, "id"));
    cJSON_Delete(j);
    if (!id) fail_msg("no connection of app %s", app);
    return id;
}

/* ------------------------------------------------------------------ tests */

static void test_handshake_and_its_errors(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *c = gc_connect("127.0.0.1", grpc_port(s), T_MS);
    assert_non_null(c);
    /* before setup: only ServerCheck is answered; its connectionId is <ms>_<ip>_<port> */
    cJSON *sc = ok_call(c, "ServerCheckRequest", "{\"requestId\":\"a\"}", "ServerCheckResponse");
    const char *id = str(sc, "connectionId");
    assert_non_null(strstr(id, "_127.0.0.1_"));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(sc, "supportAbilityNegotiation")));
    assert_string_equal(str(sc, "requestId"), "a");   /* echoed */
    assert_string_equal(str(sc, "message"), "");      /* never null */
    cJSON_Delete(sc);
    assert_non_null(strstr(err_call(c, "HealthCheckRequest", "{\"requestId\":null}", 301), "unregistered"));
    assert_non_null(strstr(err_call(c, "NoSuchRequest", "{}", 302), "NoSuchRequest"));
    gc_close(c);

    c = client(s, "hs");
    /* requestId null (Rust) is echoed as "" */
    cJSON *hc = ok_call(c, "HealthCheckRequest", "{\"requestId\":null}", "HealthCheckResponse");
    assert_string_equal(str(hc, "requestId"), "");
    cJSON_Delete(hc);
    /* a body that is not JSON: 502; a bad field: 400 naming it; nothing registered */
    assert_non_null(strstr(err_call(c, "InstanceRequest", "not json", 502), "JSON"));
    const char *m = err_call(c, "InstanceRequest",
                             "{\"serviceName\":\"e\",\"type\":\"registerInstance\",\"instance\":{\"ip\":\"1.2.3.4\","
                             "\"port\":70000}}", 400);
    assert_non_null(strstr(m, "'port'"));
    m = err_call(c, "InstanceRequest", "{\"serviceName\":\"e\",\"type\":\"registerInstance\",\"instance\":{\"port\":1}}",
                 400);
    assert_non_null(strstr(m, "'ip'"));
    m = err_call(c, "InstanceRequest", "{\"serviceName\":\"e\",\"type\":\"bogus\",\"instance\":{}}", 400);
    assert_non_null(strstr(m, "'type'"));
    m = err_call(c, "InstanceRequest",
                 "{\"serviceName\":\"e\",\"type\":\"registerInstance\",\"instance\":{\"ip\":\"1.2.3.4\",\"port\":1,"
                 "\"weight\":\"heavy\"}}", 400);
    assert_non_null(strstr(m, "'weight'"));
    m = err_call(c, "InstanceRequest",
                 "{\"type\":\"registerInstance\",\"instance\":{\"ip\":\"1.2.3.4\",\"port\":1}}", 400);
    assert_non_null(strstr(m, "'serviceName'"));
    assert_int_equal(v1_hosts(s, "e", NULL, NULL), 0);
    /* the server DOWN: errorCode 300 to everything, ServerCheck included */
    cJSON_Delete(control_json(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}", 200));
    assert_non_null(strstr(err_call(c, "ServerCheckRequest", "{}", 300), "DOWN"));
    err_call(c, "InstanceRequest", reg_json("e", "1.2.3.4", 1, "registerInstance"), 300);
    cJSON_Delete(control_json(s, "PUT", "/__mock/status", "{\"status\":\"UP\"}", 200));
    reg(c, "e", "1.2.3.4", 1);
    gc_close(c);
    nm_test_stop(s);
}

static void test_one_registry_with_v1(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *c = client(s, "one");
    reg(c, "order", "10.0.0.1", 8080);
    bool has;
    assert_int_equal(v1_hosts(s, "order", "10.0.0.1", &has), 1);
    assert_true(has);
    /* a v1 registration is seen by a gRPC query, in the gRPC serviceInfo shape */
    v1_reg(s, "order", "10.0.0.2", 8080);
    cJSON *q = ok_call(c, "ServiceQueryRequest",
                       "{\"namespace\":\"\",\"serviceName\":\"order\",\"groupName\":\"\",\"cluster\":\"\","
                       "\"healthyOnly\":false,\"udpPort\":0}", "QueryServiceResponse");
    const cJSON *info = cJSON_GetObjectItem(q, "serviceInfo");
    assert_string_equal(str(info, "name"), "order");
    assert_string_equal(str(info, "groupName"), "DEFAULT_GROUP");
    assert_int_equal(num(info, "cacheMillis"), 10000);
    assert_true(num(info, "lastRefTime") > 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(info, "hosts")), 2);
    const cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(info, "hosts"), 0);
    assert_string_equal(str(h, "serviceName"), "DEFAULT_GROUP@@order");
    assert_non_null(cJSON_GetObjectItem(h, "instanceId"));
    assert_null(cJSON_GetObjectItem(info, "dom"));   /* only v1 has it */
    cJSON_Delete(q);
    /* a gRPC instance carries its connection in the registry, is counted on it, and is not swept */
    char *id = conn_id(s, "one");
    cJSON *reg_dump = control_json(s, "GET", "/__mock/registry", NULL, 200);
    char *dump = cJSON_PrintUnformatted(reg_dump);
    assert_non_null(strstr(dump, nm_fmt("\"connectionId\":\"%s\"", id)));
    cJSON_free(dump);
    cJSON_Delete(reg_dump);
    cJSON *conns = control_json(s, "GET", "/__mock/connections", NULL, 200);
    const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(conns, "connections"), 0);
    assert_int_equal(num(c0, "instances"), 1);
    assert_string_equal(str(c0, "clientVersion"), "Nacos-Java-Client:v2.3.2");
    assert_string_equal(str(cJSON_GetObjectItem(c0, "labels"), "module"), "naming");
    cJSON_Delete(conns);
    cJSON_Delete(control_json(s, "POST", "/__mock/clock/advance", "{\"ms\": 3600000}", 200));
    assert_int_equal(v1_hosts(s, "order", "10.0.0.1", &has), 1);   /* the v1 one beat-expired, ours stays */
    assert_true(has);
    /* the journal records the gRPC call */
    cJSON *jr = control_json(s, "GET", "/__mock/requests?transport=grpc&api=register", NULL, 200);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(jr, "requests"), 0);
    assert_string_equal(str(e, "method"), "GRPC");
    assert_string_equal(str(e, "path"), "InstanceRequest");
    assert_string_equal(str(e, "connectionId"), id);
    assert_string_equal(str(cJSON_GetObjectItem(e, "params"), "serviceName"), "order");
    assert_int_equal(num(e, "status"), 200);
    cJSON_Delete(jr);
    /* metrics: by transport */
    double reg_grpc = nm_metric(s, "nacos_mock_requests_total{api=\"register\",status=\"200\",transport=\"grpc\"}");
    assert_true(reg_grpc >= 1);
    assert_true(nm_metric(s, "\nnacos_mock_grpc_connections ") == 1);
    free(id);
    gc_close(c);
    nm_test_stop(s);
}

static void test_push_reaches_grpc_subscribers(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *sub = client(s, "sub"), *pub = client(s, "pub");
    subscribe(sub, "pay");
    /* a v1 change */
    v1_reg(s, "pay", "10.0.0.7", 1);
    char rid[64];
    assert_int_equal(next_push(sub, "pay", rid, sizeof rid), 1);
    assert_int_equal(gc_bi_send(sub, "NotifySubscriberResponse",
                                nm_fmt("{\"requestId\":\"%s\",\"resultCode\":200,\"errorCode\":0,\"success\":true}", rid)),
                     0);
    /* a gRPC change by another connection */
    reg(pub, "pay", "10.0.0.8", 2);
    assert_int_equal(next_push(sub, "pay", NULL, 0), 2);
    /* the publisher's connection ends: its instance goes, the subscriber is told */
    gc_close(pub);
    assert_int_equal(next_push(sub, "pay", NULL, 0), 1);
    bool has;
    assert_int_equal(v1_hosts(s, "pay", "10.0.0.8", &has), 1);
    assert_false(has);
    /* the ack was counted */
    int64_t deadline = nm_mono_ms() + T_MS;
    while (nm_metric(s, "nacos_mock_grpc_pushes_total{result=\"acked\"}") < 1) {
        if (nm_mono_ms() > deadline) fail_msg("the push ack was not counted");
        gc_pump(sub, 10);
    }
    /* unsubscribed: no more pushes */
    cJSON_Delete(ok_call(sub, "SubscribeServiceRequest",
                         "{\"serviceName\":\"pay\",\"groupName\":\"DEFAULT_GROUP\",\"clusters\":\"\",\"subscribe\":false}",
                         "SubscribeServiceResponse"));
    cJSON *conns = control_json(s, "GET", "/__mock/connections", NULL, 200);
    assert_int_equal(num(cJSON_GetArrayItem(cJSON_GetObjectItem(conns, "connections"), 0), "subscriptions"), 0);
    cJSON_Delete(conns);
    gc_close(sub);
    nm_test_stop(s);
}

/* One subscription per (connection, service), as in Nacos: subscribing again with other clusters
 * replaces the first, so a change is pushed once, rendered for the latest clusters (the Rust client
 * re-subscribes when asked for a cluster; two subscriptions made its callback flip between lists). */
static void test_one_subscription_per_service(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *sub = client(s, "resub");
    subscribe(sub, "dup");
    cJSON_Delete(ok_call(sub, "SubscribeServiceRequest",
                         "{\"serviceName\":\"dup\",\"groupName\":\"DEFAULT_GROUP\",\"clusters\":\"C2\",\"subscribe\":true}",
                         "SubscribeServiceResponse"));
    cJSON *conns = control_json(s, "GET", "/__mock/connections", NULL, 200);
    assert_int_equal(num(cJSON_GetArrayItem(cJSON_GetObjectItem(conns, "connections"), 0), "subscriptions"), 1);
    cJSON_Delete(conns);
    v1_reg(s, "dup", "10.0.0.1", 1);   /* cluster DEFAULT: not in C2 */
    for (;;) {
        char *type = NULL, *json = NULL;
        if (gc_bi_recv(sub, T_MS, &type, &json)) fail_msg("no push");
        cJSON *j = !strcmp(type, "NotifySubscriberRequest") ? cJSON_Parse(json) : NULL;
        free(type);
        free(json);
        if (!j) continue;
        const cJSON *info = cJSON_GetObjectItem(j, "serviceInfo");
        assert_string_equal(str(info, "clusters"), "C2");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(info, "hosts")), 0);
        cJSON_Delete(j);
        break;
    }
    gc_close(sub);
    nm_test_stop(s);
}

static void test_control_plane_connections(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *a = client(s, "a"), *b = client(s, "b");
    reg(a, "kill", "10.0.0.1", 1);
    subscribe(b, "kill");
    char *ida = conn_id(s, "a"), *idb = conn_id(s, "b");
    /* closing one connection removes its instances before the answer, and pushes */
    cJSON_Delete(control_json(s, "DELETE", nm_fmt("/__mock/connections/%s", ida), NULL, 204));
    assert_int_equal(v1_hosts(s, "kill", NULL, NULL), 0);
    assert_int_equal(next_push(b, "kill", NULL, 0), 0);
    assert_true(gc_wait_closed(a, T_MS));
    cJSON_Delete(control_json(s, "DELETE", nm_fmt("/__mock/connections/%s", ida), NULL, 404));
    /* ConnectReset: the client is asked to move */
    cJSON_Delete(control_json(s, "POST", nm_fmt("/__mock/connections/%s/reset", idb),
                              "{\"serverIp\":\"127.0.0.1\",\"serverPort\":8848}", 202));
    for (;;) {
        char *type = NULL, *json = NULL;
        if (gc_bi_recv(b, T_MS, &type, &json)) fail_msg("no ConnectResetRequest");
        bool is = !strcmp(type, "ConnectResetRequest");
        if (is) {
            cJSON *j = cJSON_Parse(json);
            assert_string_equal(str(j, "serverIp"), "127.0.0.1");
            assert_string_equal(str(j, "serverPort"), "8848");   /* a string, as Java and Go read it */
            assert_true(strlen(str(j, "requestId")) > 0);
            cJSON_Delete(j);
        }
        free(type);
        free(json);
        if (is) break;
    }
    cJSON_Delete(control_json(s, "POST", "/__mock/connections/nope/reset", "{}", 404));
    cJSON_Delete(control_json(s, "POST", nm_fmt("/__mock/connections/%s/reset", idb), "{\"serverPort\":0}", 400));
    /* forget closes every connection (a restarted server has none) */
    reg(b, "kill", "10.0.0.2", 2);
    cJSON *f = control_json(s, "POST", "/__mock/forget", "", 200);
    assert_int_equal(num(f, "connections"), 1);
    assert_int_equal(num(f, "removed"), 1);
    cJSON_Delete(f);
    assert_true(gc_wait_closed(b, T_MS));
    cJSON *conns = control_json(s, "GET", "/__mock/connections", NULL, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(conns, "connections")), 0);
    cJSON_Delete(conns);
    free(ida);
    free(idb);
    gc_close(a);
    gc_close(b);
    nm_test_stop(s);
}

static void test_batch_persistent_and_lists(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *c = client(s, "batch");
    const char *batch2 = "{\"serviceName\":\"b\",\"groupName\":\"DEFAULT_GROUP\",\"type\":\"batchRegisterInstance\","
                         "\"instances\":[{\"ip\":\"10.0.0.1\",\"port\":1},{\"ip\":\"10.0.0.2\",\"port\":2}]}";
    cJSON_Delete(ok_call(c, "BatchInstanceRequest", batch2, "BatchInstanceResponse"));
    assert_int_equal(v1_hosts(s, "b", NULL, NULL), 2);
    cJSON_Delete(ok_call(c, "BatchInstanceRequest",
                         "{\"serviceName\":\"b\",\"groupName\":\"DEFAULT_GROUP\",\"type\":\"batchRegisterInstance\","
                         "\"instances\":[{\"ip\":\"10.0.0.2\",\"port\":2}]}", "BatchInstanceResponse"));
    bool has;
    assert_int_equal(v1_hosts(s, "b", "10.0.0.2", &has), 1);   /* the batch replaces the connection's own */
    assert_true(has);
    /* a bad instance in a batch changes nothing */
    err_call(c, "BatchInstanceRequest",
             "{\"serviceName\":\"b\",\"type\":\"batchRegisterInstance\",\"instances\":[{\"ip\":\"10.0.0.3\",\"port\":3},"
             "{\"ip\":\"10.0.0.4\",\"port\":0}]}", 400);
    assert_int_equal(v1_hosts(s, "b", NULL, NULL), 1);
    /* persistent: not owned by the connection, listed ephemeral=false, stays after it ends */
    cJSON_Delete(ok_call(c, "PersistentInstanceRequest", reg_json("p", "10.0.0.9", 9, "registerInstance"),
                         "InstanceResponse"));
    /* deregister over gRPC only touches what the connection owns */
    v1_reg(s, "b", "10.0.0.5", 5);
    cJSON_Delete(ok_call(c, "InstanceRequest", reg_json("b", "10.0.0.5", 5, "deregisterInstance"), "InstanceResponse"));
    assert_int_equal(v1_hosts(s, "b", "10.0.0.5", &has), 2);
    assert_true(has);
    /* service list */
    cJSON *sl = ok_call(c, "ServiceListRequest",
                        "{\"namespace\":\"public\",\"groupName\":\"DEFAULT_GROUP\",\"pageNo\":1,\"pageSize\":10}",
                        "ServiceListResponse");
    assert_int_equal(num(sl, "count"), 2);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(sl, "serviceNames"), 0)->valuestring, "b");
    cJSON_Delete(sl);
    gc_close(c);
    int64_t deadline = nm_mono_ms() + T_MS;
    while (v1_hosts(s, "b", NULL, NULL) != 1) {   /* the connection's instance goes; the v1 one stays */
        if (nm_mono_ms() > deadline) fail_msg("the batch instance did not go with its connection");
    }
    assert_int_equal(v1_hosts(s, "p", "10.0.0.9", &has), 1);
    assert_true(has);
    nm_test_stop(s);
}

static void test_faults_on_grpc(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *c = client(s, "f");
    /* status: an ErrorResponse with that errorCode, nothing registered */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"id\":\"r500\",\"match\":{\"api\":\"register\",\"transport\":\"grpc\"},"
                              "\"action\":{\"status\":500},\"times\":1}", 201));
    assert_non_null(strstr(err_call(c, "InstanceRequest", reg_json("x", "10.0.0.1", 1, "registerInstance"), 500), "r500"));
    assert_int_equal(v1_hosts(s, "x", NULL, NULL), 0);
    reg(c, "x", "10.0.0.1", 1);   /* spent */
    /* an HTTP-only rule does not touch gRPC */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"id\":\"httplist\",\"match\":{\"api\":\"list\",\"transport\":\"http\"},"
                              "\"action\":{\"status\":500}}", 201));
    cJSON_Delete(ok_call(c, "ServiceQueryRequest", "{\"serviceName\":\"x\",\"groupName\":\"DEFAULT_GROUP\"}",
                         "QueryServiceResponse"));
    cJSON_Delete(control_json(s, "DELETE", "/__mock/faults/httplist", NULL, 204));
    /* grpcStatus: the call ends with that grpc-status */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"match\":{\"api\":\"subscribe\"},\"action\":{\"grpcStatus\":14},\"times\":1}", 201));
    struct gc_result r;
    assert_int_equal(gc_unary(c, "SubscribeServiceRequest", "{\"serviceName\":\"x\"}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, 14);
    gc_result_free(&r);
    /* delay: that call is late, and another on the same connection is not held up (a delay far longer
     * than any machine needs for the other call; then cancelled) */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"match\":{\"api\":\"service.list\"},\"action\":{\"delayMs\":600000},\"times\":1}",
                              201));
    int32_t slow = gc_start(c, "ServiceListRequest", "{\"pageNo\":1,\"pageSize\":10}");
    assert_true(slow > 0);
    cJSON_Delete(ok_call(c, "HealthCheckRequest", "{}", "HealthCheckResponse"));
    assert_false(gc_done(c, slow));
    assert_int_equal(gc_cancel(c, slow), 0);
    /* a short delay alone: answered normally, late */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"match\":{\"api\":\"service.list\"},\"action\":{\"delayMs\":100},\"times\":1}",
                              201));
    int64_t t0 = nm_mono_ms();
    cJSON_Delete(ok_call(c, "ServiceListRequest", "{\"pageNo\":1,\"pageSize\":10}", "ServiceListResponse"));
    assert_true(nm_mono_ms() - t0 >= 100);
    /* hang: never answered; the client cancels */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"match\":{\"api\":\"list\",\"transport\":\"grpc\"},\"action\":{\"drop\":\"hang\"},"
                              "\"times\":1}", 201));
    int32_t hung = gc_start(c, "ServiceQueryRequest", "{\"serviceName\":\"x\"}");
    cJSON_Delete(ok_call(c, "HealthCheckRequest", "{}", "HealthCheckResponse"));
    assert_false(gc_done(c, hung));
    assert_int_equal(gc_cancel(c, hung), 0);
    /* reset: RST_STREAM on that call */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"match\":{\"api\":\"healthcheck\"},\"action\":{\"drop\":\"reset\"},\"times\":1}", 201));
    assert_int_equal(gc_unary(c, "HealthCheckRequest", "{}", T_MS, &r), 0);
    assert_true(r.reset);
    gc_result_free(&r);
    /* close: the whole connection goes, and its instances with it */
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"match\":{\"api\":\"healthcheck\"},\"action\":{\"drop\":\"close\"},\"times\":1}", 201));
    gc_unary(c, "HealthCheckRequest", "{}", T_MS, &r);
    gc_result_free(&r);
    assert_true(gc_wait_closed(c, T_MS));
    int64_t deadline = nm_mono_ms() + T_MS;
    while (v1_hosts(s, "x", NULL, NULL) != 0)
        if (nm_mono_ms() > deadline) fail_msg("the instance outlived its closed connection");
    gc_close(c);
    /* the journal names the faults */
    cJSON *jr = control_json(s, "GET", "/__mock/requests?transport=grpc&api=register", NULL, 200);
    assert_string_equal(str(cJSON_GetArrayItem(cJSON_GetObjectItem(jr, "requests"), 0), "fault"), "r500");
    cJSON_Delete(jr);
    nm_test_stop(s);
}

/* A push fault: dropped pushes are never sent, delayed ones arrive later. */
static void test_push_faults(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct gc *sub = client(s, "ps");
    subscribe(sub, "q");
    cJSON_Delete(control_json(s, "POST", "/__mock/faults",
                              "{\"match\":{\"api\":\"push\",\"transport\":\"grpc\"},\"action\":{\"drop\":\"close\"},"
                              "\"times\":1}", 201));
    v1_reg(s, "q", "10.0.0.1", 1);
    int64_t deadline = nm_mono_ms() + T_MS;
    while (nm_metric(s, "nacos_mock_grpc_pushes_total{result=\"dropped\"}") < 1)
        if (nm_mono_ms() > deadline) fail_msg("the push was not dropped");
    v1_reg(s, "q", "10.0.0.2", 2);
    assert_int_equal(next_push(sub, "q", NULL, 0), 2);   /* the next change arrives, with everything */
    gc_close(sub);
    nm_test_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_handshake_and_its_errors, nm_test_teardown),
        cmocka_unit_test_teardown(test_one_registry_with_v1, nm_test_teardown),
        cmocka_unit_test_teardown(test_push_reaches_grpc_subscribers, nm_test_teardown),
        cmocka_unit_test_teardown(test_one_subscription_per_service, nm_test_teardown),
        cmocka_unit_test_teardown(test_control_plane_connections, nm_test_teardown),
        cmocka_unit_test_teardown(test_batch_persistent_and_lists, nm_test_teardown),
        cmocka_unit_test_teardown(test_faults_on_grpc, nm_test_teardown),
        cmocka_unit_test_teardown(test_push_faults, nm_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
