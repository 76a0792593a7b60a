/*
 * control — the /__mock/ control plane (control-api.md): JSON in, JSON out; bad input is a 400
 * `{"error": "<what, naming the field>"}` that changes nothing. The admin token (--admin-token) is
 * checked once in routes_dispatch for every ROUTE_CONTROL route.
 */
#ifndef NACOS_MOCK_CONTROL_H
#define NACOS_MOCK_CONTROL_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

struct app;

/* The request body as a JSON object (an empty body gives an empty object when allow_empty).
 * On a problem fills a 400 whose message shows `expected` (the fields wanted, e.g.
 * "{\"ms\": 16000} (field 'ms')") and returns NULL. Caller deletes. */
cJSON *control_body_or_reply(const struct request *req, struct reply *rep, bool allow_empty, const char *expected);

/* The integer query parameter `key` in [min, max] into *out (left alone when absent): 0, or -1 with a
 * 400 naming the parameter and the range. */
int control_query_int_or_reply(const struct request *req, struct reply *rep, const char *key, long long min,
                               long long max, long long *out);

/* true when the request may use the control plane (no token configured, or the right bearer). */
bool control_authorized(const struct app *app, const struct request *req);

#define CH(name) void name(struct app *app, struct request *req, struct reply *rep)
CH(h_mock_clock_get);
CH(h_mock_clock_advance);
CH(h_mock_faults_add);
CH(h_mock_faults_list);
CH(h_mock_faults_delete);
CH(h_mock_faults_get);
CH(h_mock_faults_clear);
CH(h_mock_status_get);
CH(h_mock_status_put);
CH(h_mock_forget);
CH(h_mock_reset);
CH(h_mock_registry_get);
CH(h_mock_registry_post);
CH(h_mock_requests_get);
CH(h_mock_requests_clear);
CH(h_mock_metrics);
CH(h_mock_connections_list);
CH(h_mock_connections_close_all);
CH(h_mock_connections_close);
CH(h_mock_connections_reset);
CH(h_mock_nodes_list);
CH(h_mock_node_get);
CH(h_mock_node_put);
#undef CH

#endif
