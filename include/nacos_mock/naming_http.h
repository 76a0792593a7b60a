/*
 * naming_http — what the two HTTP adapters of the naming core share (v1: naming_instance.c and its
 * neighbours; v2: naming_v2.c): request parameters whose wire form is the same in both APIs, read
 * into the naming core's structs (naming_core.h), and the few answers both send alike (the beat
 * JSON, the metadata batch's `updated` lines). Problems come back as a naming_err (kind, v1 status,
 * message naming the parameter), which each adapter renders in its own envelope.
 * Pure: no registry access, no locks.
 */
#ifndef NACOS_MOCK_NAMING_HTTP_H
#define NACOS_MOCK_NAMING_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "nacos_mock/naming.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"

/* A beat's instance (nacos-api.md §2.1): the `beat` JSON, when present, gives ip, port and cluster
 * (a blank cluster: the clusterName parameter) and the fields that register an unknown instance;
 * without it the `ip` and `port` parameters are required. */
struct nh_beat {
    struct nc_key k;              /* ns and service: the caller's (set them before or after) */
    struct nc_beat_full full;     /* valid when have_full */
    bool have_full;
    cJSON *md;                    /* owned: full.metadata */
    char ip[300], port[40];
};
/* 0, or -1 with e (nothing to free then). Free a parsed beat with nh_beat_free. */
int nh_beat_parse(struct request *req, struct nh_beat *b, struct naming_err *e);
void nh_beat_free(struct nh_beat *b);

/* The parameters of instance/metadata/batch for (ns, grouped service): metadata (required; its keys
 * are set, or removed on DELETE), instances (optional targets), consistencyType ("persist": the
 * persistent instances, else the ephemeral ones). b->mb is ready for nc_metadata_batch. 0, or -1
 * with e (nothing to free then); free with nh_batch_free. `instances` must be a JSON array of
 * {ip, port, clusterName}; an empty one means every instance, as in Nacos. */
struct nh_batch {
    struct nc_metadata_batch mb;
    cJSON *md, *targets_json;     /* owned */
    struct nc_key *targets;       /* owned */
};
int nh_batch_parse(const struct request *req, const char *ns, const char *service, struct nh_batch *b,
                   struct naming_err *e);
void nh_batch_free(struct nh_batch *b);

/* The body of a service create / update: protectThreshold (0.0..1.0; def when absent), metadata (a
 * JSON object or k=v list, normalised; NULL when absent) and selector (NULL when absent). */
struct nh_service {
    double threshold;
    char *metadata;               /* owned (cJSON_free); NULL = not given */
    char *selector;               /* owned (cJSON_free); NULL = not given */
};
/* 0, or -1 with e (NAMING_PARAM_INVALID, NAMING_METADATA, NAMING_SELECTOR; nothing to free then). */
int nh_service_body(const struct params *p, double def_threshold, struct nh_service *s, struct naming_err *e);
void nh_service_free(struct nh_service *s);

/* An instance's detail: {<service_key>: service (grouped), ip, port, clusterName, weight, healthy,
 * instanceId, metadata} — v1 names the service "service", v2 "serviceName". Caller deletes. */
cJSON *nh_instance_detail_json(const char *service_key, const char *service, const struct instance_rec *r);
/* The beat answer, un-enveloped in both APIs: {"clientBeatInterval":N,"code":C,"lightBeatEnabled":true}. */
void nh_beat_answer(struct reply *rep, int64_t interval_ms, int code);
/* nc_metadata_batch's `updated` callback: appends "ip:port:unknown:cluster:ephemeral|persist" to the
 * cJSON array ctx. */
void nh_batch_updated(void *ctx, const struct instance_rec *r);

#endif
