/*
 * handlers — the HTTP adapters of the Nacos endpoints, one family per file: the v1 API
 * (naming_instance.c, naming_service.c, naming_operator.c) and the v2 Open API (naming_v2.c):
 * parameters → naming core call (naming_core.h) → answer in the API's own form. Each handler runs
 * with app->mu held (unless its route says ROUTE_NO_LOCK), reads req, fills rep, and never touches
 * libmicrohttpd.
 */
#ifndef NACOS_MOCK_HANDLERS_H
#define NACOS_MOCK_HANDLERS_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

struct app;

#define H(name) void name(struct app *app, struct request *req, struct reply *rep)
/* naming_instance.c */
H(h_instance_register);
H(h_instance_deregister);
H(h_instance_update);
H(h_instance_patch);
H(h_instance_detail);
H(h_instance_list);
H(h_instance_beat);
H(h_instance_statuses);
H(h_instance_metadata_batch);
/* naming_service.c */
H(h_service_create);
H(h_service_delete);
H(h_service_update);
H(h_service_get);
H(h_service_list);
/* naming_operator.c */
H(h_operator_metrics);
H(h_operator_servers);
H(h_operator_switches);
H(h_core_cluster_nodes);
H(h_health_instance);
H(h_console_liveness);
H(h_console_readiness);
H(h_serverlist);
H(h_auth_login);
/* naming_v2.c (the v2 Open API, nacos-api.md §5) */
H(h_v2_instance_register);
H(h_v2_instance_deregister);
H(h_v2_instance_update);
H(h_v2_instance_detail);
H(h_v2_instance_list);
H(h_v2_instance_beat);
H(h_v2_instance_metadata_batch);
H(h_v2_service_create);
H(h_v2_service_delete);
H(h_v2_service_update);
H(h_v2_service_get);
H(h_v2_service_list);
H(h_v2_client_list);
H(h_v2_client_detail);
H(h_v2_client_published);
H(h_v2_client_subscribed);
H(h_v2_service_publishers);
H(h_v2_service_subscribers);
H(h_v2_health_instance);
H(h_v2_operator_switches);
H(h_v2_operator_switches_update);
H(h_v2_operator_metrics);
H(h_v2_console_liveness);
H(h_v2_console_readiness);
H(h_v2_core_node_list);
H(h_v2_core_node_self);
H(h_v2_core_node_self_health);
#undef H

/* naming_operator.c, shared with the v2 adapter (app->mu held) */
/* The metrics object as node `node` answers it (v1: with the 1.x fields). 0, or -1 on a store error
 * (*out NULL). */
int operator_metrics(struct app *app, int node, bool v1, cJSON **out);
cJSON *operator_switches_json(struct app *app, int node);
/* The nodes of this cluster: the one place that lists them (operator/servers, serverlist, core
 * cluster nodes, v2 node/list): every node of --nodes, in order, with its state (the node's own
 * status, else the cluster's; OFFLINE is DOWN), whatever node is asked. */
#define OPERATOR_MAX_NODES 16
struct operator_node {
    const char *ip;              /* the advertised address */
    int port, grpc_port;         /* grpc_port 0: no gRPC listener */
    const char *state;           /* Nacos NodeState: "UP", "STARTING", "DOWN" */
};
size_t operator_nodes(struct app *app, struct operator_node *out, size_t cap);
/* A node as a Nacos Member: 1.x (operator/servers) or 2.x (abilities, grpcReportEnabled). */
cJSON *operator_member_json(const struct operator_node *n, bool v2);

#endif
