/*
 * request — one HTTP request as handlers see it: method, path, merged parameters, the headers that
 * matter to Nacos, the peer address and the virtual time it is handled at. Built by http.c,
 * read-only for handlers. Strings point into libmicrohttpd or http.c memory that outlives dispatch.
 */
#ifndef NACOS_MOCK_REQUEST_H
#define NACOS_MOCK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "nacos_mock/params.h"

struct route;
struct cJSON;
/* The wake handle of a held request (reply.h, reply_hold): any thread may call request_hold_wake to end
 * the hold (before it starts it ends at once; after the answer it does nothing). The transport that
 * holds the request fills `wake`, so handlers reach it without depending on the transport. */
struct request_hold {
    void (*wake)(struct request_hold *h);
};

/* Who a request is about — namespace, group, bare service, cluster, ip, port — from its parameters,
 * or from its `beat` JSON (Go/Node beats carry ip/port only there). Worked out once per request
 * (routes.c), used by fault matching, the journal and the log line. The strings point into the
 * request's parameters and parsed beat, so they live as long as the request. */
struct request_ident {
    bool ready;
    const char *ns, *group, *service, *cluster, *ip;   /* NULL when absent */
    int port;                                          /* 0 when absent */
    char group_buf[513];                               /* the group of a grouped serviceName */
};

struct request {
    const char *method;
    const char *path;              /* decoded path, no query string */
    struct params params;          /* query, then form body */
    const char *user_agent;        /* User-Agent, or Client-Version when blank; never NULL */
    const char *content_type;      /* never NULL */
    const char *authorization;     /* NULL when absent */
    const char *body;              /* raw body (NUL-terminated), may be "" */
    size_t body_len;
    struct sockaddr_storage peer;  /* the TCP peer: the only UDP push target we ever use */
    int node;                      /* the node (listener, --nodes) it came in on; 0 with one node */
    int64_t now_ms;                /* virtual clock when dispatch began */
    const struct route *route;     /* set by the dispatcher */
    uint64_t seq;                  /* journal sequence number, 0 when not journalled */
    int64_t t0_us;                 /* monotonic arrival time, for durations */
    struct request_ident ident;    /* see above; fill with routes' ident_of() */
    struct cJSON *beat_json;       /* the `beat` parameter parsed once (request_beat_json); owned */
    bool beat_parsed;
    const char *api;               /* the API name: the route's, or what its api_of said (dispatcher) */
    struct request_hold *hold;     /* this request's wake handle for reply_hold; NULL outside a transport */
    const char *(*header_fn)(void *ctx, const char *name);   /* request_header's source (http.c) */
    void *header_ctx;
    void *ext;                     /* a handler family's per-request data, freed with ext_free by request_free */
    void (*ext_free)(void *ext);
};

/* The value of header `name` (case-insensitive), NULL when absent. */
const char *request_header(const struct request *req, const char *name);

/* The `beat` parameter parsed as JSON, once per request (identity, fault matching and the beat
 * handler share it). NULL when absent or not JSON. Owned by the request (freed with it). */
const struct cJSON *request_beat_json(struct request *req);
/* Frees what the request owns (its parameters and the parsed beat). */
void request_free(struct request *req);

static inline void request_hold_wake(struct request_hold *h)
{
    if (h && h->wake) h->wake(h);
}

#endif
