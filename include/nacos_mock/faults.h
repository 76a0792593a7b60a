/*
 * faults — fault rules (control-api.md "Fault rules"): parse (JSON and compact `k=v,...` forms),
 * match a request, decide by schedule (after / times / probability / forMs) and hand back the
 * action. Every random choice draws from one generator seeded with --seed, under the module's
 * lock, so the same seed and the same sequence of requests give the same faults.
 *
 * Ownership: the faults set owns its rules; faults_match copies what the caller needs into a
 * struct fault_hit. Rules given at start (--fault, --faults) are kept to restore on reset.
 * Threading: own mutex; callable from any thread. forMs is measured on the virtual clock.
 */
#ifndef NACOS_MOCK_FAULTS_H
#define NACOS_MOCK_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nacos_mock/reply.h"

struct faults;

/* What a request looks like to a rule. Strings may be NULL (absent). */
struct fault_request {
    const char *api, *method, *path;
    const char *transport;                /* "http" (NULL means it too) or "grpc" */
    const char *ns, *group, *service;     /* service bare (group split off); configs: namespace, group */
    const char *cluster, *ip;
    int port;                             /* 0 = absent */
    const char *data_id;                  /* configs */
    /* A request about several configs (a listener poll): when set, a rule's namespaceId / group
     * (groupName) / dataId match when about(ctx, ns, group, data_id) says one of its configs has
     * them (NULL = any), instead of comparing ns / group / data_id above. */
    bool (*about)(const void *ctx, const char *ns, const char *group, const char *data_id);
    const void *about_ctx;
    bool on_node;                         /* it came in on a node's listener (false: a push) */
    int node;                             /* which (--nodes); a rule's match.node needs on_node */
};

struct fault_hit {
    char id[64];
    int status;                           /* 0 = none */
    char *body;                           /* NULL = Nacos-style default; owned (free) */
    int64_t delay_ms;                     /* jitter already drawn */
    enum reply_drop drop;
    int beat_code;                        /* 0 = none */
    int grpc_status;                      /* gRPC: end the call with this grpc-status; 0 = none */
};

struct faults *faults_create(uint64_t seed);
void faults_free(struct faults *f);
/* How many nodes the server runs (--nodes, default 1): match.node must name one of them. */
void faults_set_nodes(struct faults *f, int n);

/* Validates a rule given as JSON and adds it (a copy). On success returns 0 and, if stored != NULL,
 * the stored rule as JSON (with id, hits, remaining; caller deletes). On a problem returns -1 with
 * a message naming the field in err. `initial` marks rules from the command line (kept on reset). */
int faults_add_json(struct faults *f, const cJSON *rule, int64_t now_ms, bool initial, cJSON **stored,
                    char *err, size_t errlen);
/* Converts the compact form (`api=beat,status=500,times=2,serviceName=order`) to a JSON rule.
 * NULL with err on a problem. Caller deletes. Pure. */
cJSON *faults_compact_to_json(const char *spec, char *err, size_t errlen);

/* {"faults": [...]} in the order added, with hits, remaining and expired. Caller deletes. */
cJSON *faults_list_json(struct faults *f, int64_t now_ms);
/* The rule with this id as listed by faults_list_json, or NULL. Caller deletes. */
cJSON *faults_get_json(struct faults *f, const char *id, int64_t now_ms);
/* 0 deleted, 1 unknown id. */
int faults_delete(struct faults *f, const char *id);
void faults_clear(struct faults *f);
/* Back to the rules given at start, counters zeroed, generator re-seeded; the restored rules count
 * as added at now_ms (their forMs window starts again). */
void faults_reset(struct faults *f, int64_t now_ms);
/* How many rules there are: an atomic load, no lock — dispatch asks on every request and matches
 * (under the lock) only when there are rules. */
size_t faults_count(struct faults *f);

/* Finds the first rule that fires for r at now_ms (updating its counters). true and *hit filled
 * (free hit->body) when one fires. */
bool faults_match(struct faults *f, const struct fault_request *r, int64_t now_ms, struct fault_hit *hit);
void fault_hit_free(struct fault_hit *hit);

/* The seed in use. */
uint64_t faults_seed(const struct faults *f);
/* A draw in [0, 1) from the seeded generator (jitter etc. outside rules). */
double faults_random(struct faults *f);

/* Is `api` one of the names rules may match ("any" included)? */
bool faults_api_known(const char *api);

#endif
