/*
 * console — the control-plane endpoints of the live console: GET /__mock/events (the events
 * stream: validates its parameters into a struct events_request that http.c hands to sse.c).
 */
#ifndef NACOS_MOCK_CONSOLE_H
#define NACOS_MOCK_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/events.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

struct app;

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
#endif
