/*
 * naming_operator.c — operator, health, console, address-server, cluster and auth endpoints
 * (nacos-api.md §2.3). With auth off (the default) login accepts any credentials. The metrics, the
 * switches and the node list are built here once, for the v1 answers and the v2 adapter alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/log.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/clients.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/store.h"
#include "nacos_mock/validate.h"

/* The address clients should use to reach us: the bound host, or loopback for a wildcard bind. */
static const char *advertised_host(const struct app *app)
{
    const char *h = app->cfg->host;
    if (!strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !*h) return "127.0.0.1";
    return h;
}

int operator_metrics(struct app *app, int node, bool v1, cJSON **out)
{
    long services = 0, instances = 0, healthy = 0;
    struct nc_client_counts cc;
    struct naming_err e;
    *out = NULL;
    if (store_counts(app->store, &services, &instances, &healthy) || nc_client_counts(app, &cc, &e)) return -1;
    double load[1] = {0};
    getloadavg(load, 1);
    struct sysinfo si;
    double mem = 0;
    if (sysinfo(&si) == 0 && si.totalram) mem = 1.0 - (double)si.freeram / (double)si.totalram;
    struct subs_stats ss;
    subs_get_stats(app->subs, &ss);
    long clients = cc.connection + cc.ephemeral_ip_port + cc.persistent_ip_port;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", app_status_name(app_status_of(app, node)));
    json_add_int(o, "serviceCount", services);
    json_add_int(o, "instanceCount", instances);
    json_add_int(o, "subscribeCount", ss.udp + ss.conn);
    if (v1) {
        json_add_int(o, "raftNotifyTaskCount", 0);
        json_add_int(o, "responsibleServiceCount", services);
        json_add_int(o, "responsibleInstanceCount", instances);
    }
    json_add_int(o, "clientCount", clients);
    json_add_int(o, "connectionBasedClientCount", cc.connection);
    json_add_int(o, "ephemeralIpPortClientCount", cc.ephemeral_ip_port);
    json_add_int(o, "persistentIpPortClientCount", cc.persistent_ip_port);
    json_add_int(o, "responsibleClientCount", clients);   /* one node: responsible for every client */
    cJSON_AddNumberToObject(o, "cpu", 0.0);
    cJSON_AddNumberToObject(o, "load", (double)(long)(load[0] * 100) / 100.0);
    cJSON_AddNumberToObject(o, "mem", (double)(long)(mem * 100) / 100.0);
    *out = o;
    return 0;
}

void h_operator_metrics(struct app *app, struct request *req, struct reply *rep)
{
    cJSON *o;
    if (operator_metrics(app, req->node, true, &o)) app_reply_store_error(app, rep);
    else reply_json(rep, 200, o);
}

size_t operator_nodes(struct app *app, struct operator_node *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < app->n_nodes && n < cap; i++, n++) {
        int status = app_status_of(app, i);   /* OFFLINE: a member nobody reaches, DOWN to Nacos */
        out[n] = (struct operator_node){
            .ip = advertised_host(app), .port = atomic_load(&app->nodes[i].http_port),
            .grpc_port = atomic_load(&app->nodes[i].grpc_port),
            .state = status == STATUS_UP ? "UP" : status == STATUS_STARTING ? "STARTING" : "DOWN",
        };
    }
    return n;
}

cJSON *operator_member_json(const struct operator_node *n, bool v2)
{
    char addr[300];
    snprintf(addr, sizeof addr, "%s:%d", n->ip, n->port);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "ip", n->ip);
    json_add_int(s, "port", n->port);
    cJSON_AddStringToObject(s, "state", n->state);
    cJSON *ext = cJSON_AddObjectToObject(s, "extendInfo");
    cJSON_AddStringToObject(ext, "raftPort", "7848");
    if (v2) {
        cJSON_AddBoolToObject(ext, "readyToUpgrade", true);
        cJSON_AddStringToObject(ext, "version", "2.5.1");
        if (n->grpc_port) json_add_int(ext, "grpcPort", n->grpc_port);
    } else {
        cJSON_AddStringToObject(ext, "site", "unknown");
        cJSON_AddStringToObject(ext, "version", "1.4.8");
    }
    cJSON_AddStringToObject(ext, "mock", "nacos-mock " NACOS_MOCK_VERSION);
    cJSON_AddStringToObject(s, "address", addr);
    json_add_int(s, "failAccessCnt", 0);
    if (v2) {
        cJSON *ab = cJSON_AddObjectToObject(s, "abilities");
        cJSON *remote = cJSON_AddObjectToObject(ab, "remoteAbility");
        cJSON_AddBoolToObject(remote, "supportRemoteConnection", n->grpc_port != 0);
        cJSON_AddBoolToObject(remote, "grpcReportEnabled", n->grpc_port != 0);
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(ab, "configAbility"), "supportRemoteMetrics", false);
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(ab, "namingAbility"), "supportJraft", true);
        cJSON_AddBoolToObject(s, "grpcReportEnabled", n->grpc_port != 0);
    }
    return s;
}

void h_operator_servers(struct app *app, struct request *req, struct reply *rep)
{
    bool healthy_only = params_parse_boolean(params_get(&req->params, "healthy"));
    struct operator_node nodes[OPERATOR_MAX_NODES];
    size_t n = operator_nodes(app, nodes, OPERATOR_MAX_NODES);
    cJSON *o = cJSON_CreateObject(), *servers = cJSON_AddArrayToObject(o, "servers");
    for (size_t i = 0; i < n; i++) {
        if (healthy_only && strcmp(nodes[i].state, "UP")) continue;
        cJSON *m = operator_member_json(&nodes[i], false);
        if (strcmp(nodes[i].state, "UP")) cJSON_ReplaceItemInObjectCaseSensitive(m, "state", cJSON_CreateString("DOWN"));
        cJSON_AddItemToArray(servers, m);
    }
    reply_json(rep, 200, o);
}

/* GET /nacos/v1/core/cluster/nodes: {"code":200,"message":null,"data":[Member...]} (RestResult), the
 * members whose address starts with `keyword`. */
void h_core_cluster_nodes(struct app *app, struct request *req, struct reply *rep)
{
    const char *kw = params_get(&req->params, "keyword");
    struct operator_node nodes[OPERATOR_MAX_NODES];
    size_t n = operator_nodes(app, nodes, OPERATOR_MAX_NODES);
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "code", 200);
    cJSON_AddNullToObject(o, "message");
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    for (size_t i = 0; i < n; i++) {
        cJSON *m = operator_member_json(&nodes[i], true);
        const cJSON *addr = cJSON_GetObjectItemCaseSensitive(m, "address");
        if (kw && strncmp(addr->valuestring, kw, strlen(kw))) cJSON_Delete(m);
        else cJSON_AddItemToArray(data, m);
    }
    reply_json(rep, 200, o);
}

cJSON *operator_switches_json(struct app *app, int node)
{
    const struct config *cfg = app->cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00");
    cJSON_AddObjectToObject(o, "masters");
    cJSON_AddObjectToObject(o, "adWeightMap");
    json_add_int(o, "defaultPushCacheMillis", 10000);
    json_add_int(o, "clientBeatInterval", cfg->beat_interval_ms);
    json_add_int(o, "defaultCacheMillis", 3000);
    json_add_double(o, "distroThreshold", 0.7);
    cJSON_AddBoolToObject(o, "healthCheckEnabled", true);
    cJSON_AddBoolToObject(o, "autoChangeHealthCheckEnabled", true);
    cJSON_AddBoolToObject(o, "distroEnabled", true);
    cJSON_AddBoolToObject(o, "enableStandalone", true);
    cJSON_AddBoolToObject(o, "pushEnabled", true);
    json_add_int(o, "checkTimes", 3);
    cJSON_AddBoolToObject(o, "lightBeatEnabled", true);
    json_add_int(o, "serviceStatusSynchronizationPeriodMillis", 5000);
    json_add_int(o, "serverStatusSynchronizationPeriodMillis", 2000);
    cJSON_AddStringToObject(o, "overriddenServerStatus", app_status_name(app_status_of(app, node)));
    cJSON_AddBoolToObject(o, "defaultInstanceEphemeral", true);
    json_add_int(o, "instanceHeartBeatTimeOut", config_unhealthy_timeout_ms(cfg));
    json_add_int(o, "ipDeleteTimeout", config_delete_timeout_ms(cfg));
    cJSON_AddBoolToObject(o, "sendBeatOnly", false);
    return o;
}

void h_operator_switches(struct app *app, struct request *req, struct reply *rep)
{
    reply_json(rep, 200, operator_switches_json(app, req->node));
}

void h_health_instance(struct app *app, struct request *req, struct reply *rep)
{
    const struct params *p = &req->params;
    const char *hv = params_get(p, "healthy");
    if (!hv) hv = params_get(p, "valid");
    if (!hv) {
        reply_caused(rep, 400, "Param 'healthy' is required.");
        return;
    }
    bool healthy = params_truthy(hv);
    char service[GROUPED_MAX];
    struct nc_key k = {.ns = naming_namespace(p)};
    if (naming_check_name_or_reply("namespaceId", k.ns, strlen(k.ns), rep) ||
        naming_grouped_service_or_reply(p, rep, service, sizeof service) ||
        param_required_or_reply(p, rep, "ip", &k.ip) || naming_check_ip_or_reply("ip", k.ip, rep) ||
        param_port_or_reply(p, rep, "port", &k.port))
        return;
    k.service = service;
    k.cluster = params_get(p, "clusterName");
    struct naming_err e;
    if (nc_set_health(app, &k, healthy, req->now_ms, &e)) naming_err_reply(&e, rep);
    else reply_ok(rep);
}

void h_console_liveness(struct app *app, struct request *req, struct reply *rep)
{
    reply_text(rep, 200, "OK");
}

void h_console_readiness(struct app *app, struct request *req, struct reply *rep)
{
    if (app_status_of(app, req->node) == STATUS_UP) reply_text(rep, 200, "OK");
    else reply_text(rep, 500, "Naming is not in readiness");
}

void h_serverlist(struct app *app, struct request *req, struct reply *rep)
{
    struct operator_node nodes[OPERATOR_MAX_NODES];
    size_t n = operator_nodes(app, nodes, OPERATOR_MAX_NODES), len = 0;
    char buf[OPERATOR_MAX_NODES * 320];   /* an advertised host is at most 255 bytes */
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s:%d\n", nodes[i].ip, nodes[i].port);
    reply_text(rep, 200, buf);
    rep->content_type = "text/plain";
}

void h_auth_login(struct app *app, struct request *req, struct reply *rep)
{
    const char *user = params_get(&req->params, "username");
    const char *pass = params_get(&req->params, "password");
    if (app->auth.enabled && !auth_credentials_ok(&app->auth, user, pass)) {
        reply_text(rep, 403, "unknown user!");
        return;
    }
    if (!user) user = "nacos";
    char token[600];
    auth_token(&app->auth, user, clock_real_ms() / 1000, token, sizeof token);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "accessToken", token);
    json_add_int(o, "tokenTtl", AUTH_TOKEN_TTL_S);
    cJSON_AddBoolToObject(o, "globalAdmin", true);
    cJSON_AddStringToObject(o, "username", user);
    reply_json(rep, 200, o);
    char bearer[700];
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    reply_header(rep, "Authorization", bearer);
}
