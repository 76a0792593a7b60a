/*
 * handlers — the v1 HTTP adapters of the Nacos endpoints, one family per file (naming_instance.c,
 * naming_service.c, naming_operator.c): parameters → naming core call (naming_core.h) → v1 answer.
 * Each handler runs with app->mu held (unless its route says ROUTE_NO_LOCK), reads req, fills rep,
 * and never touches libmicrohttpd.
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
H(h_health_instance);
H(h_console_liveness);
H(h_console_readiness);
H(h_serverlist);
H(h_auth_login);
#undef H

#endif
