/*
 * test_nodes.c — integration tests of --nodes N against the real nacos-mock process (control-api.md
 * "Several nodes: failover rehearsal"): one registry behind every node, the node lists real clients
 * read (serverlist, operator/servers, core cluster nodes, v2 node list), a node DOWN (HTTP 503, gRPC
 * errorCode 300) or OFFLINE (connection refused on both ports, its gRPC connections and their
 * instances gone, a subscriber elsewhere pushed), UP again on the same ports, forMs, the 409 that
 * keeps the control plane, per-node faults, and `node` in the journal, the metrics and the events.
 * Every wait has a deadline: nothing sleeps a fixed time.
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
#include <curl/curl.h>

#include "grpc_client.h"
#include "harness.h"

#define T_MS 5000

/* Node i of a server, as a harness server to send requests to (never started or stopped itself). */
struct node {
    struct nm_server s;
    int grpc_port;
};

static cJSON *control(const struct nm_server *s, const char *method, const char *path, const char *json, long want)
{
    struct nm_resp r;
    long st = nm_http(s, method, path, json, json ? "application/json" : NULL, NULL, &r);
    if (st != want) fail_msg("%s %s %s -> %ld, wanted %ld: %s", method, path, json ? json : "", st, want, r.body);
    cJSON *j = r.body && *r.body ? cJSON_Parse(r.body) : NULL;
    nm_resp_free(&r);
    return j;
}

/* The nodes of s from GET /__mock/nodes (n of them, checked). */
static void nodes_of(const struct nm_server *s, struct node *out, int n)
{
    cJSON *j = control(s, "GET", "/__mock/nodes", NULL, 200);
    const cJSON *arr = nm_field(j, "nodes");
    assert_int_equal(cJSON_GetArraySize(arr), n);
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(arr, i);
        assert_int_equal((int)nm_jnum(o, "node"), i);
        memset(&out[i], 0, sizeof out[i]);
        out[i].s.port = (int)nm_jnum(o, "port");
        snprintf(out[i].s.base, sizeof out[i].s.base, "%s", nm_jstr(o, "url"));
        assert_string_equal(out[i].s.base, nm_fmt("http://127.0.0.1:%d", out[i].s.port));
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "grpcPort");
        out[i].grpc_port = cJSON_IsNumber(g) ? (int)g->valuedouble : 0;
        assert_string_equal(nm_jstr(o, "status"), "UP");
        assert_true(cJSON_IsTrue(nm_field(o, "listening")));
    }
    assert_int_equal(out[0].s.port, s->port);   /* node 0 is the port of the first listening line */
    cJSON_Delete(j);
}

static void set_node(const struct nm_server *via, int i, const char *json, long want)
{
    cJSON_Delete(control(via, "PUT", nm_fmt("/__mock/nodes/%d", i), json, want));
}

/* A field of node i as GET /__mock/nodes/{i} shows it, as a string ("true"/"false" for booleans). */
static const char *node_field(const struct nm_server *via, int i, const char *key)
{
    static char out[64];
    cJSON *j = control(via, "GET", nm_fmt("/__mock/nodes/%d", i), NULL, 200);
    const cJSON *f = nm_field(j, key);
    if (cJSON_IsString(f)) snprintf(out, sizeof out, "%s", f->valuestring);
    else if (cJSON_IsBool(f)) snprintf(out, sizeof out, "%s", cJSON_IsTrue(f) ? "true" : "false");
    else if (cJSON_IsNumber(f)) snprintf(out, sizeof out, "%.0f", f->valuedouble);
    else snprintf(out, sizeof out, "null");
    cJSON_Delete(j);
    return out;
}

/* Waits until node i's listeners are open (want true) or closed. */
static void wait_listening(const struct nm_server *via, int i, bool want)
{
    int64_t deadline = nm_mono_ms() + T_MS;
    while (strcmp(node_field(via, i, "listening"), want ? "true" : "false"))
        if (nm_mono_ms() > deadline) fail_msg("node %d never became %s", i, want ? "listening" : "closed");
}

/* Status of GET path on node n, -1 when the connection failed (the curl code then in *curl_code). */
static long get_status(const struct nm_server *n, const char *path, int *curl_code)
{
    struct nm_resp r;
    long st = nm_http(n, "GET", path, NULL, NULL, NULL, &r);
    if (curl_code) *curl_code = r.curl_code;
    nm_resp_free(&r);
    return st;
}

static void v1_reg(const struct nm_server *n, const char *svc, const char *ip, int port)
{
    struct nm_resp r;
    long st = nm_post_form(n, "/nacos/v1/ns/instance", nm_fmt("serviceName=%s&ip=%s&port=%d", svc, ip, port), &r);
    if (st != 200) fail_msg("v1 register %s %s:%d on %s -> %ld %s", svc, ip, port, n->base, st, r.body);
    nm_resp_free(&r);
}

/* The instances of svc listed by node n, as "ip:port" joined by ','. */
static const char *hosts_on(const struct nm_server *n, const char *svc)
{
    static char out[1024];
    cJSON *j = nm_get_json(n, nm_fmt("/nacos/v1/ns/instance/list?serviceName=%s", svc));
    out[0] = '\0';
    size_t len = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, nm_field(j, "hosts"))
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s:%d", len ? "," : "", nm_jstr(h, "ip"),
                                (int)nm_jnum(h, "port"));
    cJSON_Delete(j);
    return out;
}

/* ------------------------------------------------------------------ gRPC */

static struct gc *grpc_client(int port, const char *app)
{
    struct gc *c = gc_connect_setup("127.0.0.1", port,
                                    nm_fmt("{\"source\":\"sdk\",\"module\":\"naming\",\"AppName\":\"%s\"}", app), T_MS);
    if (!c) fail_msg("no set-up gRPC connection to port %d", port);
    return c;
}

/* A unary call that must be answered with type `want_type` and errorCode `code` (0 = success). */
static void grpc_expect(struct gc *c, const char *type, const char *json, const char *want_type, int code)
{
    struct gc_result r;
    if (gc_unary(c, type, json, T_MS, &r)) fail_msg("%s: no answer", type);
    if (r.grpc_status != 0 || !r.json) fail_msg("%s: grpc-status %d (%s)", type, r.grpc_status, r.grpc_message);
    cJSON *j = cJSON_Parse(r.json);
    if (strcmp(r.type, want_type) || (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "errorCode")) != code)
        fail_msg("%s: wanted %s errorCode %d, got %s %s", type, want_type, code, r.type, r.json);
    cJSON_Delete(j);
    gc_result_free(&r);
}

static const char *grpc_reg_json(const char *svc, const char *ip, int port)
{
    return nm_fmt("{\"requestId\":\"r\",\"headers\":{},\"namespace\":\"public\",\"serviceName\":\"%s\","
                  "\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\",\"type\":\"registerInstance\","
                  "\"instance\":{\"ip\":\"%s\",\"port\":%d,\"weight\":1.0,\"healthy\":true,\"enabled\":true,"
                  "\"ephemeral\":true,\"clusterName\":\"DEFAULT\",\"metadata\":{}}}",
                  svc, ip, port);
}

/* The next NotifySubscriberRequest for svc on c: how many hosts it lists (acks it). */
static int next_push(struct gc *c, const char *svc)
{
    int64_t deadline = nm_mono_ms() + T_MS;
    while (nm_mono_ms() < deadline) {
        char *type = NULL, *json = NULL;
        int rc = gc_bi_recv(c, 200, &type, &json);
        if (rc == 1) fail_msg("the bi-stream ended while waiting for a push of %s", svc);
        if (rc) continue;
        int n = -1;
        if (!strcmp(type, "NotifySubscriberRequest")) {
            cJSON *j = cJSON_Parse(json);
            const cJSON *info = cJSON_GetObjectItem(j, "serviceInfo");
            if (strstr(cJSON_GetStringValue(cJSON_GetObjectItem(info, "name")), svc))
                n = cJSON_GetArraySize(cJSON_GetObjectItem(info, "hosts"));
            gc_bi_send(c, "NotifySubscriberResponse",
                       nm_fmt("{\"requestId\":\"%s\",\"resultCode\":200}",
                              cJSON_GetStringValue(cJSON_GetObjectItem(j, "requestId"))));
            cJSON_Delete(j);
        }
        free(type);
        free(json);
        if (n >= 0) return n;
    }
    fail_msg("no push of %s", svc);
    return -1;
}

/* ------------------------------------------------------------------ tests */

static void test_one_registry_every_node_listed(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start((const char *const[]){"--nodes", "3", NULL});
    struct node n[3];
    nodes_of(s, n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(n[i].s.port, 0);
        assert_int_equal(n[i].grpc_port, n[i].s.port + 1000);   /* each node its own pair */
    }
    /* one registry: a register on node 0 is listed by nodes 1 and 2, a v1 delete on 2 is seen by 0 */
    v1_reg(&n[0].s, "shared", "10.1.0.1", 1);
    assert_string_equal(hosts_on(&n[1].s, "shared"), "10.1.0.1:1");
    assert_string_equal(hosts_on(&n[2].s, "shared"), "10.1.0.1:1");

    /* every node lists the whole cluster, in the shapes clients parse */
    for (int k = 0; k < 3; k++) {
        struct nm_resp r;
        assert_int_equal(nm_get(&n[k].s, "/nacos/serverlist", &r), 200);
        assert_string_equal(r.body, nm_fmt("127.0.0.1:%d\n127.0.0.1:%d\n127.0.0.1:%d\n", n[0].s.port, n[1].s.port,
                                           n[2].s.port));
        nm_resp_free(&r);
        cJSON *j = nm_get_json(&n[k].s, "/nacos/v1/ns/operator/servers");
        const cJSON *servers = nm_field(j, "servers");
        assert_int_equal(cJSON_GetArraySize(servers), 3);
        for (int i = 0; i < 3; i++) {
            const cJSON *m = cJSON_GetArrayItem(servers, i);
            assert_string_equal(nm_jstr(m, "address"), nm_fmt("127.0.0.1:%d", n[i].s.port));
            assert_string_equal(nm_jstr(m, "state"), "UP");
        }
        cJSON_Delete(j);
        j = nm_get_json(&n[k].s, "/nacos/v1/core/cluster/nodes");
        assert_int_equal(cJSON_GetArraySize(nm_field(j, "data")), 3);
        const cJSON *m1 = cJSON_GetArrayItem(nm_field(j, "data"), 1);
        assert_int_equal((int)nm_jnum(nm_field(m1, "extendInfo"), "grpcPort"), n[1].grpc_port);
        cJSON_Delete(j);
        /* the v2 "self" is the node asked */
        j = nm_get_json(&n[k].s, "/nacos/v2/core/cluster/node/self");
        assert_string_equal(nm_jstr(nm_field(j, "data"), "address"), nm_fmt("127.0.0.1:%d", n[k].s.port));
        cJSON_Delete(j);
    }
    /* one control plane: the journal on node 2 has the register made on node 0, with its node */
    cJSON *j = nm_get_json(&n[2].s, "/__mock/requests?api=register");
    const cJSON *e = cJSON_GetArrayItem(nm_field(j, "requests"), 0);
    assert_int_equal((int)nm_jnum(e, "node"), 0);
    cJSON_Delete(j);
    j = nm_get_json(&n[2].s, "/__mock/requests?api=list&node=2");
    assert_int_equal((int)nm_jnum(j, "total"), 1);
    cJSON_Delete(j);
    nm_test_stop(s);
}

static void test_offline_refuses_up_reopens_same_ports(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start((const char *const[]){"--nodes", "3", NULL});
    struct node n[3];
    nodes_of(s, n, 3);
    v1_reg(&n[0].s, "svc", "10.2.0.1", 1);
    struct gc *g1 = grpc_client(n[1].grpc_port, "on-node-1");

    /* asked on node 1 itself: answered before its listener closes */
    cJSON *j = control(&n[1].s, "PUT", "/__mock/nodes/1", "{\"status\":\"OFFLINE\"}", 200);
    assert_string_equal(nm_jstr(j, "status"), "OFFLINE");
    cJSON_Delete(j);
    wait_listening(&n[0].s, 1, false);
    int code = 0;
    assert_int_equal(get_status(&n[1].s, "/nacos/v1/ns/instance/list?serviceName=svc", &code), -1);
    assert_int_equal(code, CURLE_COULDNT_CONNECT);   /* refused, as a dead server's port */
    assert_null(gc_connect("127.0.0.1", n[1].grpc_port, 1000));
    assert_true(gc_wait_closed(g1, T_MS));           /* its open gRPC connection was cut */
    gc_close(g1);
    /* the others answer */
    assert_string_equal(hosts_on(&n[0].s, "svc"), "10.2.0.1:1");
    assert_string_equal(hosts_on(&n[2].s, "svc"), "10.2.0.1:1");
    /* the cluster lists it DOWN, and still lists it (clients keep the whole server list) */
    j = nm_get_json(&n[2].s, "/nacos/v1/ns/operator/servers");
    assert_string_equal(nm_jstr(cJSON_GetArrayItem(nm_field(j, "servers"), 1), "state"), "DOWN");
    cJSON_Delete(j);
    j = nm_get_json(&n[2].s, "/nacos/v1/ns/operator/servers?healthy=true");
    assert_int_equal(cJSON_GetArraySize(nm_field(j, "servers")), 2);
    cJSON_Delete(j);
    assert_string_equal(node_field(&n[0].s, 1, "port"), nm_fmt("%d", n[1].s.port));   /* kept */

    /* UP: the same ports again, answered when the PUT is */
    j = control(&n[2].s, "PUT", "/__mock/nodes/1", "{\"status\":\"UP\"}", 200);
    assert_true(cJSON_IsTrue(nm_field(j, "listening")));
    cJSON_Delete(j);
    assert_string_equal(hosts_on(&n[1].s, "svc"), "10.2.0.1:1");
    struct gc *again = grpc_client(n[1].grpc_port, "back-on-1");
    gc_close(again);
    /* OFFLINE and straight back UP, many times: every cycle closes and reopens */
    for (int k = 0; k < 20; k++) {
        set_node(&n[0].s, 2, "{\"status\":\"OFFLINE\"}", 200);
        if (k % 2) wait_listening(&n[0].s, 2, false);
        set_node(&n[0].s, 2, "{\"status\":\"UP\"}", 200);
        assert_string_equal(hosts_on(&n[2].s, "svc"), "10.2.0.1:1");
    }
    nm_test_stop(s);
}

static void test_down_is_503_and_errorcode_300_on_that_node_only(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start((const char *const[]){"--nodes", "3", NULL});
    struct node n[3];
    nodes_of(s, n, 3);
    struct gc *g0 = grpc_client(n[0].grpc_port, "g0");
    struct gc *g2 = grpc_client(n[2].grpc_port, "g2");
    set_node(&n[0].s, 2, "{\"status\":\"DOWN\"}", 200);
    struct nm_resp r;
    assert_int_equal(nm_get(&n[2].s, "/nacos/v1/ns/instance/list?serviceName=x", &r), 503);
    assert_string_equal(r.body, "server is DOWN now, please try again later!");
    nm_resp_free(&r);
    assert_int_equal(get_status(&n[0].s, "/nacos/v1/ns/instance/list?serviceName=x", NULL), 200);
    assert_int_equal(get_status(&n[1].s, "/nacos/v1/ns/instance/list?serviceName=x", NULL), 200);
    /* what SDKs ask to know whether their server is healthy */
    cJSON *j = nm_get_json(&n[2].s, "/nacos/v1/ns/operator/metrics");
    assert_string_equal(nm_jstr(j, "status"), "DOWN");
    cJSON_Delete(j);
    j = nm_get_json(&n[0].s, "/nacos/v1/ns/operator/metrics");
    assert_string_equal(nm_jstr(j, "status"), "UP");
    cJSON_Delete(j);
    assert_int_equal(get_status(&n[2].s, "/nacos/v1/console/health/readiness", NULL), 500);
    assert_int_equal(get_status(&n[0].s, "/nacos/v1/console/health/readiness", NULL), 200);
    /* gRPC: errorCode 300 to everything on node 2, ServerCheck included; node 0 is served */
    grpc_expect(g2, "HealthCheckRequest", "{\"requestId\":\"h\",\"headers\":{}}", "ErrorResponse", 300);
    grpc_expect(g2, "ServerCheckRequest", "{\"requestId\":\"c\",\"headers\":{}}", "ErrorResponse", 300);
    grpc_expect(g2, "InstanceRequest", grpc_reg_json("x", "10.3.0.2", 2), "ErrorResponse", 300);
    grpc_expect(g0, "InstanceRequest", grpc_reg_json("x", "10.3.0.1", 1), "InstanceResponse", 0);
    /* the cluster lists node 2 DOWN; STARTING is shown as such */
    j = nm_get_json(&n[1].s, "/nacos/v2/core/cluster/node/list?state=DOWN");
    assert_int_equal(cJSON_GetArraySize(nm_field(j, "data")), 1);
    cJSON_Delete(j);
    set_node(&n[0].s, 1, "{\"status\":\"STARTING\"}", 200);
    assert_int_equal(get_status(&n[1].s, "/nacos/v1/ns/instance/list?serviceName=x", NULL), 503);
    j = nm_get_json(&n[0].s, "/nacos/v1/core/cluster/nodes");
    assert_string_equal(nm_jstr(cJSON_GetArrayItem(nm_field(j, "data"), 1), "state"), "STARTING");
    assert_string_equal(nm_jstr(cJSON_GetArrayItem(nm_field(j, "data"), 2), "state"), "DOWN");
    cJSON_Delete(j);
    /* the cluster status still sets every node */
    cJSON_Delete(control(&n[0].s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}", 200));
    assert_int_equal(get_status(&n[0].s, "/nacos/v1/ns/instance/list?serviceName=x", NULL), 503);
    cJSON_Delete(control(&n[0].s, "PUT", "/__mock/status", "{\"status\":\"UP\"}", 200));
    set_node(&n[0].s, 2, "{\"status\":\"UP\"}", 200);
    grpc_expect(g2, "HealthCheckRequest", "{\"requestId\":\"h\",\"headers\":{}}", "HealthCheckResponse", 0);
    gc_close(g0);
    gc_close(g2);
    nm_test_stop(s);
}

static void test_offline_ends_its_grpc_clients_instances(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start((const char *const[]){"--nodes", "3", NULL});
    struct node n[3];
    nodes_of(s, n, 3);
    struct gc *pub = grpc_client(n[1].grpc_port, "pub");
    struct gc *sub = grpc_client(n[2].grpc_port, "sub");
    grpc_expect(sub, "SubscribeServiceRequest",
                "{\"requestId\":\"s\",\"headers\":{},\"namespace\":\"public\",\"serviceName\":\"moving\","
                "\"groupName\":\"DEFAULT_GROUP\",\"clusters\":\"\",\"subscribe\":true}",
                "SubscribeServiceResponse", 0);
    grpc_expect(pub, "InstanceRequest", grpc_reg_json("moving", "10.4.0.1", 1), "InstanceResponse", 0);
    assert_int_equal(next_push(sub, "moving"), 1);
    cJSON *j = nm_get_json(&n[0].s, "/__mock/nodes");
    assert_int_equal((int)nm_jnum(cJSON_GetArrayItem(nm_field(j, "nodes"), 1), "connections"), 1);
    cJSON_Delete(j);

    struct nm_sse *ev = nm_sse_open(&n[0].s, "/__mock/events?kind=status", NULL, NULL);
    assert_non_null(ev);
    set_node(&n[0].s, 1, "{\"status\":\"OFFLINE\"}", 200);
    struct nm_sse_event e;
    assert_int_equal(nm_sse_wait(ev, "status", "\"OFFLINE\"", T_MS, &e), 1);
    assert_int_equal((int)nm_jnum(e.json, "node"), 1);
    assert_string_equal(nm_jstr(e.json, "from"), "UP");
    nm_sse_event_free(&e);
    nm_sse_close(ev);
    assert_true(gc_wait_closed(pub, T_MS));
    assert_int_equal(next_push(sub, "moving"), 0);   /* the subscriber on node 2 is told */
    assert_string_equal(hosts_on(&n[0].s, "moving"), "");
    /* the client redoes its registration on another node */
    gc_close(pub);
    pub = grpc_client(n[0].grpc_port, "pub");
    grpc_expect(pub, "InstanceRequest", grpc_reg_json("moving", "10.4.0.1", 1), "InstanceResponse", 0);
    assert_int_equal(next_push(sub, "moving"), 1);
    j = nm_get_json(&n[0].s, "/__mock/connections");
    const cJSON *c;
    int seen = 0;
    cJSON_ArrayForEach(c, nm_field(j, "connections"))
    {
        const char *app = nm_jstr(nm_field(c, "labels"), "AppName");
        assert_int_equal((int)nm_jnum(c, "node"), !strcmp(app, "pub") ? 0 : 2);
        seen++;
    }
    assert_int_equal(seen, 2);
    cJSON_Delete(j);
    /* node 1's state never touched node 2's client: it is served throughout */
    grpc_expect(sub, "HealthCheckRequest", "{\"requestId\":\"h\",\"headers\":{}}", "HealthCheckResponse", 0);
    gc_close(pub);
    gc_close(sub);
    nm_test_stop(s);
}

static void test_for_ms_and_the_control_plane_kept(void **state)
{
    (void)state;
    /* one node: OFFLINE only with forMs, and back by itself */
    struct nm_server *s = nm_test_start(NULL);
    cJSON *j = control(s, "PUT", "/__mock/nodes/0", "{\"status\":\"OFFLINE\"}", 409);
    assert_non_null(strstr(nm_jstr(j, "error"), "forMs"));
    cJSON_Delete(j);
    j = control(s, "PUT", "/__mock/nodes/0", "{\"status\":\"OFFLINE\",\"forMs\":400}", 200);
    assert_true(cJSON_IsNumber(nm_field(j, "upInMs")));
    cJSON_Delete(j);
    int64_t deadline = nm_mono_ms() + T_MS;
    int code = 0;
    bool refused = false;
    for (;;) {   /* refused for a while, then served again on the same port */
        long st = get_status(s, "/nacos/v1/ns/operator/metrics", &code);
        if (st == -1 && code == CURLE_COULDNT_CONNECT) refused = true;
        if (st == 200 && refused) break;
        if (nm_mono_ms() > deadline) fail_msg("the node did not come back (refused seen: %d)", refused);
    }
    assert_string_equal(node_field(s, 0, "status"), "UP");
    assert_string_equal(node_field(s, 0, "upInMs"), "null");
    /* DOWN for a while: 503, then served */
    set_node(s, 0, "{\"status\":\"DOWN\",\"forMs\":300}", 200);
    assert_int_equal(get_status(s, "/nacos/v1/ns/instance/list?serviceName=x", NULL), 503);
    deadline = nm_mono_ms() + T_MS;
    while (get_status(s, "/nacos/v1/ns/instance/list?serviceName=x", NULL) != 200)
        if (nm_mono_ms() > deadline) fail_msg("DOWN for 300 ms never ended");
    nm_test_stop(s);

    /* three nodes: the last one OFFLINE for good is refused; a timed one keeps the control plane */
    s = nm_test_start((const char *const[]){"--nodes", "3", NULL});
    struct node n[3];
    nodes_of(s, n, 3);
    set_node(&n[0].s, 1, "{\"status\":\"OFFLINE\"}", 200);
    set_node(&n[0].s, 2, "{\"status\":\"OFFLINE\",\"forMs\":500}", 200);
    set_node(&n[0].s, 0, "{\"status\":\"OFFLINE\"}", 200);   /* allowed: node 2 comes back by itself */
    deadline = nm_mono_ms() + T_MS;
    while (get_status(&n[2].s, "/__mock/nodes", &code) != 200)   /* nothing answers, until node 2 is back */
        if (nm_mono_ms() > deadline) fail_msg("node 2 never came back");
    assert_string_equal(node_field(&n[2].s, 0, "status"), "OFFLINE");
    assert_string_equal(node_field(&n[2].s, 1, "status"), "OFFLINE");
    assert_string_equal(node_field(&n[2].s, 2, "status"), "UP");
    j = control(&n[2].s, "PUT", "/__mock/nodes/2", "{\"status\":\"OFFLINE\"}", 409);   /* the last one */
    assert_non_null(strstr(nm_jstr(j, "error"), "no node listening"));
    cJSON_Delete(j);
    set_node(&n[2].s, 2, "{\"status\":\"DOWN\"}", 200);   /* DOWN keeps listening: allowed */
    set_node(&n[2].s, 0, "{\"status\":\"UP\"}", 200);
    assert_int_equal(get_status(&n[0].s, "/nacos/v1/ns/operator/metrics", NULL), 200);
    /* reset brings every node back UP */
    cJSON_Delete(control(&n[0].s, "POST", "/__mock/reset", NULL, 200));
    for (int i = 0; i < 3; i++) {
        assert_string_equal(node_field(&n[0].s, i, "status"), "UP");
        assert_string_equal(node_field(&n[0].s, i, "listening"), "true");
    }
    nm_test_stop(s);
}

static void test_node_faults_journal_metrics(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start((const char *const[]){"--nodes", "3", NULL});
    struct node n[3];
    nodes_of(s, n, 3);
    cJSON_Delete(control(s, "POST", "/__mock/faults",
                         "{\"id\":\"n1\",\"match\":{\"api\":\"list\",\"node\":1},\"action\":{\"status\":500}}", 201));
    cJSON_Delete(control(s, "POST", "/__mock/faults",
                         "{\"id\":\"g2\",\"match\":{\"api\":\"register\",\"node\":2,\"transport\":\"grpc\"},"
                         "\"action\":{\"status\":500}}", 201));
    assert_int_equal(get_status(&n[1].s, "/nacos/v1/ns/instance/list?serviceName=f", NULL), 500);
    assert_int_equal(get_status(&n[0].s, "/nacos/v1/ns/instance/list?serviceName=f", NULL), 200);
    assert_int_equal(get_status(&n[2].s, "/nacos/v1/ns/instance/list?serviceName=f", NULL), 200);
    struct gc *g2 = grpc_client(n[2].grpc_port, "g2"), *g0 = grpc_client(n[0].grpc_port, "g0");
    grpc_expect(g2, "InstanceRequest", grpc_reg_json("f", "10.5.0.2", 2), "ErrorResponse", 500);
    grpc_expect(g0, "InstanceRequest", grpc_reg_json("f", "10.5.0.1", 1), "InstanceResponse", 0);
    gc_close(g2);
    gc_close(g0);
    cJSON *j = nm_get_json(s, "/__mock/faults/n1");
    assert_int_equal((int)nm_jnum(j, "hits"), 1);
    assert_int_equal((int)nm_jnum(nm_field(j, "match"), "node"), 1);
    cJSON_Delete(j);
    /* a node that does not exist, in JSON and in the compact form */
    j = control(s, "POST", "/__mock/faults", "{\"match\":{\"api\":\"list\",\"node\":3},\"action\":{\"status\":500}}", 400);
    assert_non_null(strstr(nm_jstr(j, "error"), "match.node"));
    cJSON_Delete(j);
    /* the journal: node on every entry, and a filter */
    j = nm_get_json(s, "/__mock/requests?node=1");
    assert_int_equal((int)nm_jnum(j, "total"), 1);
    assert_string_equal(nm_jstr(cJSON_GetArrayItem(nm_field(j, "requests"), 0), "fault"), "n1");
    cJSON_Delete(j);
    j = nm_get_json(s, "/__mock/requests?transport=grpc&api=register");
    const cJSON *e;
    cJSON_ArrayForEach(e, nm_field(j, "requests")) assert_true(nm_jnum(e, "node") == 0 || nm_jnum(e, "node") == 2);
    cJSON_Delete(j);
    struct nm_resp r;
    assert_int_equal(nm_get(s, "/__mock/requests?node=3", &r), 400);
    nm_resp_free(&r);
    /* metrics: by node */
    assert_true(nm_metric(s, "nacos_mock_requests_total{api=\"list\",node=\"1\",status=\"500\",transport=\"http\"} ") == 1);
    assert_true(nm_metric(s, "nacos_mock_requests_total{api=\"register\",node=\"2\",status=\"500\",transport=\"grpc\"} ") == 1);
    assert_true(nm_metric(s, "nacos_mock_node_up{node=\"1\"} ") == 1);
    set_node(s, 1, "{\"status\":\"DOWN\"}", 200);
    assert_true(nm_metric(s, "nacos_mock_node_up{node=\"1\"} ") == 0);
    nm_test_stop(s);

    /* one node: no node anywhere, as before --nodes */
    s = nm_test_start(NULL);
    assert_int_equal(get_status(s, "/nacos/v1/ns/instance/list?serviceName=f", NULL), 200);
    j = nm_get_json(s, "/__mock/requests?api=list");
    assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(nm_field(j, "requests"), 0), "node"));
    cJSON_Delete(j);
    assert_true(nm_metric(s, "nacos_mock_requests_total{api=\"list\",status=\"200\",transport=\"http\"} ") == 1);
    assert_int_equal(nm_get(s, "/__mock/metrics", &r), 200);
    assert_null(strstr(r.body, "node="));
    nm_resp_free(&r);
    nm_test_stop(s);
}

static void test_bad_node_requests(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start((const char *const[]){"--nodes", "2", NULL});
    const struct { const char *path, *body; long status; const char *says; } cases[] = {
        {"/__mock/nodes/2", "{\"status\":\"DOWN\"}", 404, "nodes 0 to 1"},
        {"/__mock/nodes/x", "{\"status\":\"DOWN\"}", 404, "no node 'x'"},
        {"/__mock/nodes/-1", "{\"status\":\"DOWN\"}", 404, "no node"},
        {"/__mock/nodes/1", "{\"status\":\"PAUSED\"}", 400, "'status'"},
        {"/__mock/nodes/1", "{}", 400, "'status'"},
        {"/__mock/nodes/1", "[1]", 400, "JSON object"},
        {"/__mock/nodes/1", "{\"status\":\"DOWN\",\"forMs\":-5}", 400, "'forMs'"},
        {"/__mock/nodes/1", "{\"status\":\"DOWN\",\"forMs\":1.5}", 400, "'forMs'"},
        {"/__mock/nodes/1", "{\"status\":\"UP\",\"forMs\":100}", 400, "'forMs'"},
        {"/__mock/nodes/1", "{\"status\":\"DOWN\",\"formS\":100}", 400, "'formS'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = control(s, "PUT", cases[i].path, cases[i].body, cases[i].status);
        if (!strstr(nm_jstr(j, "error"), cases[i].says))
            fail_msg("%s %s: '%s' does not say %s", cases[i].path, cases[i].body, nm_jstr(j, "error"), cases[i].says);
        cJSON_Delete(j);
    }
    /* nothing changed */
    assert_string_equal(node_field(s, 1, "status"), "UP");
    cJSON *j = control(s, "PUT", "/__mock/status", "{\"status\":\"OFFLINE\"}", 400);
    assert_non_null(strstr(nm_jstr(j, "error"), "/__mock/nodes"));
    cJSON_Delete(j);
    nm_test_stop(s);

    /* --nodes out of range */
    char out[512], err[512];
    int rc = nm_run((const char *const[]){NACOS_MOCK_BIN, "--port", "0", "--nodes", "10", NULL}, NULL, 5000, out,
                    sizeof out, err, sizeof err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--nodes"));
    rc = nm_run((const char *const[]){NACOS_MOCK_BIN, "--port", "65535", "--nodes", "2", NULL}, NULL, 5000, out,
                sizeof out, err, sizeof err);
    assert_int_not_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_one_registry_every_node_listed, nm_test_teardown),
        cmocka_unit_test_teardown(test_offline_refuses_up_reopens_same_ports, nm_test_teardown),
        cmocka_unit_test_teardown(test_down_is_503_and_errorcode_300_on_that_node_only, nm_test_teardown),
        cmocka_unit_test_teardown(test_offline_ends_its_grpc_clients_instances, nm_test_teardown),
        cmocka_unit_test_teardown(test_for_ms_and_the_control_plane_kept, nm_test_teardown),
        cmocka_unit_test_teardown(test_node_faults_journal_metrics, nm_test_teardown),
        cmocka_unit_test_teardown(test_bad_node_requests, nm_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
