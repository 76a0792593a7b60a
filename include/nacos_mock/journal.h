/*
 * journal — every request that reaches the Nacos API, in a bounded ring (newest kept), for
 * GET /__mock/requests. An entry is stored as a few strings in one allocation; its parameters as raw
 * key/value strings in a block shared by every entry with the same parameters (a client's beats
 * repeat theirs), rendered as JSON only when queried: no escaping and no JSON tree on the request
 * path, and a ring of repeated beats does not hold thousands of copies of the same beat JSON.
 *
 * Threading: any thread records and queries. Writers do not serialize on one lock: each takes its
 * sequence number from an atomic counter and writes its slot under one of 256 locks striped over the
 * ring; the shared-parameter table is striped by hash (64 locks). A query locks slot by slot, so
 * it sees each entry whole, and entries in seq order.
 */
#ifndef NACOS_MOCK_JOURNAL_H
#define NACOS_MOCK_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nacos_mock/params.h"

/* A parameter value longer than this is kept cut (at a character boundary) with its length: a ring of
 * 10,000 config publishes would otherwise hold up to 10,000 contents of up to 10 MiB. */
#define JOURNAL_VALUE_MAX 4096

struct journal;

struct journal_in {
    int64_t time_ms;
    const char *method, *path, *api;   /* api NULL = no route; gRPC: "GRPC", the request type */
    const struct params *params;
    const char *params_json;           /* instead of params: a JSON object text, kept verbatim (gRPC) */
    const char *transport;             /* "http" (NULL) or "grpc" */
    const char *connection_id;         /* gRPC: the connection's id; NULL otherwise */
    const char *service;               /* grouped service name, NULL when none */
    const char *ip;                    /* the instance the request is about (params or beat JSON) */
    int port;
    int status;                        /* 0 when the connection was dropped; gRPC: resultCode, 0 = no answer */
    const char *drop;                  /* "reset" | "close" | "hang" | NULL */
    const char *fault_id;              /* NULL = none */
    double duration_ms;
    int node;                          /* the node it came in on; < 0 = not shown (one node). Set it: 0 is node 0 */
};

struct journal_query {
    const char *api, *service, *ip;    /* NULL = any; service `svc` matches any group, `G@@svc` only G */
    const char *transport;             /* NULL = any */
    int port, status;                  /* 0 = any */
    int node;                          /* -1 = any */
    uint64_t since;                    /* entries with seq > since */
    long limit;                        /* < 0 = all; with since: the oldest `limit` after it; else the newest */
};

/* capacity 0 disables recording. NULL on allocation failure. */
struct journal *journal_create(size_t capacity);
void journal_free(struct journal *j);
/* Cuts every string in o (nested too) longer than the journal keeps a value, as it cuts parameter
 * values — for a request given as JSON (params_json) before it is printed. */
void journal_cut_strings(cJSON *o);
/* Records; returns the entry's seq (0 when disabled). */
uint64_t journal_record(struct journal *j, const struct journal_in *e);
/* {"total": n, "requests": [...]} oldest first; total counts matches before limit. Caller deletes. */
cJSON *journal_query_json(struct journal *j, const struct journal_query *q);
void journal_clear(struct journal *j);

#endif
