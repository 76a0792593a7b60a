/*
 * console — the two control-plane endpoints of the live console: GET /__mock/events (the events
 * stream: validates its parameters into a struct events_request that http.c hands to sse.c) and
 * GET /__mock/ui/ (the page and its assets, compiled into the binary from server/ui/ at build time
 * by cmake/embed_assets.cmake: no build step, nothing fetched from outside).
 *
 * The page holds no data: it asks for the admin token itself and sends it on every /__mock/ call, so
 * its assets are served without one (route flag ROUTE_PUBLIC).
 */
#ifndef NACOS_MOCK_CONSOLE_H
#define NACOS_MOCK_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/events.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

struct app;

/* Keep-alive comment period of an events stream unless ?keepAliveMs= says otherwise (below the
 * 60 s connection timeout of http.c). */
#define EVENTS_KEEPALIVE_MS 15000

/* What GET /__mock/events asked for, validated. Owned (filter.service heap): events_request_free. */
struct events_request {
    struct events_filter filter;
    uint64_t since;              /* EVENTS_SINCE_NOW when not given */
    int64_t keepalive_ms;
};
void events_request_free(void *er);

/* GET /__mock/events?kind=&serviceName=&since=&keepAliveMs=: rep->stream, or a 400 naming the
 * parameter. */
void h_mock_events(struct app *app, struct request *req, struct reply *rep);
/* GET /__mock/ui/ and /__mock/ui/<asset>: the file with its content type, or 404; and
 * /__mock/ui/config.json: {"adminToken": true|false}, so the page asks for the token before its
 * first call instead of after a 401. */
void h_mock_ui(struct app *app, struct request *req, struct reply *rep);

#endif
