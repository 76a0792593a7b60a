/*
 * test_nodes_soak.c — nodes switched OFFLINE and UP 200 times under a 50-client load (--nodes 3).
 *
 * 40 HTTP clients (each a libcurl handle of its own, keep-alive: a node going away resets kept
 * connections too) and 10 gRPC clients (the harness's h2c client, PersistentInstanceRequest) register
 * and deregister persistent instances of their own, each write on a node picked at random. A write that
 * fails — connection refused or reset, a gRPC connection cut, an error answer — is retried on the next
 * node until one acknowledges it, as a client given the whole server list does; only an acknowledged
 * write enters the client's model. Meanwhile the switcher takes one node after the other OFFLINE (asked
 * through another node), waits until its ports are closed, and brings it back UP, 200 times.
 * Then: no acknowledged write is lost (the registry equals the union of the models, exactly), every
 * write was acknowledged in the end (none gave up), the server holds as many descriptors as before the
 * load (/proc/PID/fd), and it stops cleanly.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "grpc_client.h"
#include "harness.h"

#define NODES 3
#define HTTP_CLIENTS 40
#define GRPC_CLIENTS 10
#define NCLIENTS (HTTP_CLIENTS + GRPC_CLIENTS)
#define NSLOT 8             /* instances per client: 10.70.C.(X+1):(7000+X) in service soak-(C % NSVC) */
#define NSVC 5
#define SWITCHES 200
#define GIVE_UP_MS 30000    /* a write not acknowledged by any node for this long fails the test */
#define T_MS 5000

struct node {
    struct nm_server s;
    int grpc_port;
};

static struct nm_server *g_srv;
static struct node g_nodes[NODES];
static atomic_bool g_stop;
static atomic_long g_acked, g_retries, g_failures;
static char g_first_failure[512];

struct client {
    int id;
    bool model[NSLOT];      /* acknowledged: registered */
    uint32_t rnd;
};
static struct client g_clients[NCLIENTS];

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
    if (atomic_fetch_add(&g_failures, 1) == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g_first_failure, sizeof g_first_failure, fmt, ap);
        va_end(ap);
    }
}

static int open_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static const char *svc_of(int c) { return nm_fmt("soak-%d", c % NSVC); }

/* ------------------------------------------------------------------ HTTP clients */

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf), take = size * n;
    if (have + take < 64) {
        memcpy(buf + have, p, take);
        buf[have + take] = '\0';
    }
    return size * n;
}

/* One v1 write on node `node` over the client's handle: true when acknowledged ("ok"). */
static bool http_write(CURL *h, int node, bool reg, int c, int k)
{
    char url[256], body[256], answer[64] = "";
    snprintf(url, sizeof url, "%s/nacos/v1/ns/instance", g_nodes[node].s.base);
    snprintf(body, sizeof body, "serviceName=%s&ip=10.70.%d.%d&port=%d&ephemeral=false", svc_of(c), c, k + 1, 7000 + k);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, reg ? "POST" : "DELETE");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
    long status = 0;
    if (curl_easy_perform(h) != CURLE_OK) return false;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status == 200 && !strcmp(answer, "ok");
}

static void *http_client(void *arg)
{
    struct client *cl = arg;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    while (!atomic_load(&g_stop) && !atomic_load(&g_failures)) {
        int k = (int)(nm_rand(&cl->rnd) % NSLOT), node = (int)(nm_rand(&cl->rnd) % NODES);
        bool reg = !cl->model[k];
        int64_t deadline = nm_mono_ms() + GIVE_UP_MS;
        while (!http_write(h, node, reg, cl->id, k)) {   /* the next node, until one acknowledges it */
            atomic_fetch_add(&g_retries, 1);
            node = (node + 1) % NODES;
            if (nm_mono_ms() > deadline) {
                failure("HTTP client %d: no node acknowledged %s of slot %d for %d ms", cl->id, reg ? "register" : "deregister",
                        k, GIVE_UP_MS);
                break;
            }
        }
        cl->model[k] = reg;
        atomic_fetch_add(&g_acked, 1);
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* ------------------------------------------------------------------ gRPC clients */

static bool grpc_write(struct gc *g, bool reg, int c, int k)
{
    char json[768];
    snprintf(json, sizeof json,
             "{\"requestId\":\"w\",\"headers\":{},\"namespace\":\"public\",\"serviceName\":\"%s\","
             "\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\",\"type\":\"%s\",\"instance\":{\"ip\":\"10.70.%d.%d\","
             "\"port\":%d,\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":false,\"clusterName\":\"DEFAULT\","
             "\"metadata\":{}}}",
             svc_of(c), reg ? "registerInstance" : "deregisterInstance", c, k + 1, 7000 + k);
    struct gc_result r;
    if (gc_unary(g, "PersistentInstanceRequest", json, T_MS, &r)) {
        gc_result_free(&r);
        return false;
    }
    bool ok = r.grpc_status == 0 && r.type && !strcmp(r.type, "InstanceResponse");
    gc_result_free(&r);
    return ok;
}

static void *grpc_client(void *arg)
{
    struct client *cl = arg;
    struct gc *g = NULL;
    int node = (int)(nm_rand(&cl->rnd) % NODES);
    const char *labels = nm_fmt("{\"source\":\"sdk\",\"module\":\"naming\",\"AppName\":\"soak-%d\"}", cl->id);
    char lab[128];
    snprintf(lab, sizeof lab, "%s", labels);
    while (!atomic_load(&g_stop) && !atomic_load(&g_failures)) {
        int k = (int)(nm_rand(&cl->rnd) % NSLOT);
        bool reg = !cl->model[k];
        int64_t deadline = nm_mono_ms() + GIVE_UP_MS;
        for (;;) {
            if (!g) g = gc_connect_setup("127.0.0.1", g_nodes[node].grpc_port, lab, T_MS);
            if (g && grpc_write(g, reg, cl->id, k)) break;
            atomic_fetch_add(&g_retries, 1);
            gc_close(g);   /* its node went away (or refused): reconnect to the next and redo */
            g = NULL;
            node = (node + 1) % NODES;
            if (nm_mono_ms() > deadline) {
                failure("gRPC client %d: no node acknowledged %s of slot %d for %d ms", cl->id, reg ? "register" : "deregister",
                        k, GIVE_UP_MS);
                break;
            }
        }
        cl->model[k] = reg;
        atomic_fetch_add(&g_acked, 1);
    }
    gc_close(g);
    return NULL;
}

/* ------------------------------------------------------------------ the switcher */

static cJSON *control(const struct nm_server *s, const char *method, const char *path, const char *json)
{
    struct nm_resp r;
    long st = nm_http(s, method, path, json, json ? "application/json" : NULL, NULL, &r);
    if (st != 200) fail_msg("%s %s %s -> %ld: %s", method, path, json ? json : "", st, r.body);
    cJSON *j = cJSON_Parse(r.body);
    nm_resp_free(&r);
    return j;
}

static bool node_listening(const struct nm_server *via, int i)
{
    cJSON *j = control(via, "GET", nm_fmt("/__mock/nodes/%d", i), NULL);
    bool on = cJSON_IsTrue(cJSON_GetObjectItem(j, "listening"));
    cJSON_Delete(j);
    return on;
}

static void test_switching_nodes_under_load(void **state)
{
    (void)state;
    g_srv = nm_test_start((const char *const[]){"--nodes", "3", "--quiet", "--journal-size", "1000", NULL});
    cJSON *j = control(g_srv, "GET", "/__mock/nodes", NULL);
    for (int i = 0; i < NODES; i++) {
        const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "nodes"), i);
        g_nodes[i].s.port = (int)nm_jnum(o, "port");
        snprintf(g_nodes[i].s.base, sizeof g_nodes[i].s.base, "%s", nm_jstr(o, "url"));
        g_nodes[i].grpc_port = (int)nm_jnum(o, "grpcPort");
    }
    cJSON_Delete(j);
    /* descriptors before the load, once each kind of client has been and gone */
    struct gc *warm = gc_connect_setup("127.0.0.1", g_nodes[1].grpc_port, "{\"source\":\"sdk\"}", T_MS);
    assert_non_null(warm);
    gc_close(warm);
    struct nm_resp r;
    assert_int_equal(nm_get(&g_nodes[2].s, "/nacos/v1/ns/instance/list?serviceName=soak-0", &r), 200);
    nm_resp_free(&r);
    /* settled: the warm-up gRPC connection is gone, and a request more leaves the count as it was */
    int fds_before = -1;
    for (int64_t settle = nm_mono_ms() + T_MS;;) {
        cJSON *conns = control(g_srv, "GET", "/__mock/connections", NULL);
        bool none = cJSON_GetArraySize(cJSON_GetObjectItem(conns, "connections")) == 0;
        cJSON_Delete(conns);
        int now = open_fds(g_srv->pid);
        if (none && now == fds_before) break;
        fds_before = none ? now : -1;
        if (nm_mono_ms() > settle) fail_msg("the descriptors never settled before the load");
    }
    assert_true(fds_before > 0);

    pthread_t th[NCLIENTS];
    for (int c = 0; c < NCLIENTS; c++) {
        g_clients[c] = (struct client){.id = c, .rnd = 0x9e3779b9u * (uint32_t)(c + 1)};
        pthread_create(&th[c], NULL, c < HTTP_CLIENTS ? http_client : grpc_client, &g_clients[c]);
    }
    int64_t t0 = nm_mono_ms();
    for (int k = 0; k < SWITCHES && !atomic_load(&g_failures); k++) {
        int i = k % NODES;
        const struct nm_server *via = &g_nodes[(i + 1) % NODES].s;
        cJSON_Delete(control(via, "PUT", nm_fmt("/__mock/nodes/%d", i), "{\"status\":\"OFFLINE\"}"));
        int64_t deadline = nm_mono_ms() + T_MS;
        while (node_listening(via, i))
            if (nm_mono_ms() > deadline) fail_msg("switch %d: node %d never closed", k, i);
        long acked = atomic_load(&g_acked);   /* the others keep taking writes meanwhile */
        deadline = nm_mono_ms() + T_MS;
        while (atomic_load(&g_acked) < acked + 5 && !atomic_load(&g_failures))
            if (nm_mono_ms() > deadline) fail_msg("switch %d: no write acknowledged while node %d was away", k, i);
        cJSON *up = control(via, "PUT", nm_fmt("/__mock/nodes/%d", i), "{\"status\":\"UP\"}");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(up, "listening")));
        cJSON_Delete(up);
    }
    atomic_store(&g_stop, true);
    for (int c = 0; c < NCLIENTS; c++) pthread_join(th[c], NULL);
    print_message("%d switches in %lld ms; %ld writes acknowledged, %ld attempts retried on another node\n", SWITCHES,
                  (long long)(nm_mono_ms() - t0), atomic_load(&g_acked), atomic_load(&g_retries));
    if (atomic_load(&g_failures)) fail_msg("%ld failure(s); first: %s", atomic_load(&g_failures), g_first_failure);
    assert_true(atomic_load(&g_retries) > 0);   /* the clients did see nodes go away */

    /* the registry equals the union of the models */
    for (int sv = 0; sv < NSVC; sv++) {
        char want[NCLIENTS * NSLOT][32], *got_list = NULL;
        int nwant = 0;
        for (int c = sv; c < NCLIENTS; c += NSVC)
            for (int k = 0; k < NSLOT; k++)
                if (g_clients[c].model[k]) snprintf(want[nwant++], sizeof want[0], "10.70.%d.%d:%d", c, k + 1, 7000 + k);
        j = nm_get_json(&g_nodes[sv % NODES].s, nm_fmt("/nacos/v1/ns/instance/list?serviceName=soak-%d", sv));
        const cJSON *hosts = cJSON_GetObjectItem(j, "hosts"), *h;
        if (cJSON_GetArraySize(hosts) != nwant) {
            got_list = cJSON_PrintUnformatted(hosts);
            fail_msg("soak-%d: %d instances listed, the clients acknowledged %d: %s", sv, cJSON_GetArraySize(hosts), nwant,
                     got_list);
        }
        cJSON_ArrayForEach(h, hosts)
        {
            char a[32];
            snprintf(a, sizeof a, "%s:%d", nm_jstr(h, "ip"), (int)nm_jnum(h, "port"));
            bool found = false;
            for (int w = 0; w < nwant && !found; w++) found = !strcmp(want[w], a);
            if (!found) fail_msg("soak-%d lists %s, which no client has registered", sv, a);
        }
        cJSON_Delete(j);
    }
    /* no descriptor leaked: once the clients' connections have closed, as many as before */
    int fds_after = 0;
    int64_t deadline = nm_mono_ms() + 10000;
    while ((fds_after = open_fds(g_srv->pid)) > fds_before && nm_mono_ms() < deadline) {
        struct nm_resp p;   /* (a request now and then: libmicrohttpd closes idle connections on activity) */
        nm_get(&g_nodes[0].s, "/nacos/v1/ns/operator/metrics", &p);
        nm_resp_free(&p);
    }
    print_message("server descriptors: %d before the load, %d after\n", fds_before, fds_after);
    if (fds_after > fds_before) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "ls -l /proc/%d/fd >&2", (int)g_srv->pid);
        if (system(cmd)) {}
        fail_msg("the server holds %d descriptors, %d before the load", fds_after, fds_before);
    }
    nm_test_stop(g_srv);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_switching_nodes_under_load, nm_test_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
