/*
 * registry — snapshots of the whole registry as JSON (GET/POST /__mock/registry, --fixtures):
 *   {"nowMs": N, "namespaces": [{"namespaceId": "public", "services": [{"name": "demo",
 *     "groupName": "DEFAULT_GROUP", "protectThreshold": 0.0, "metadata": {}, "selector": {...},
 *     "explicit": true, "instances": [{"ip", "port", "clusterName", "instanceId", "weight", "healthy",
 *     "enabled", "ephemeral", "marked", "metadata", "lastBeatMs", "registeredMs",
 *     "heartBeatIntervalMs", "heartBeatTimeoutMs", "ipDeleteTimeoutMs"}]}]}]}
 * Health is the stored truth (no protect-threshold view). Loading validates the whole snapshot
 * first and writes it in one transaction, adding to what is there: all or nothing.
 * Threading: both need app->mu held.
 */
#ifndef NACOS_MOCK_REGISTRY_H
#define NACOS_MOCK_REGISTRY_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct app;

/* The snapshot (caller deletes), NULL on a store error. */
cJSON *registry_dump(struct app *app);
/* Loads a snapshot. 0 ok (counts in *services and *instances), -1 invalid (err names the path of the
 * bad field, nothing changed), -2 store error. */
int registry_load(struct app *app, const cJSON *snap, long *services, long *instances, char *err, size_t errlen);
/* Reads a snapshot file and loads it (for --fixtures and reset). 0 or -1 with err. */
int registry_load_file(struct app *app, const char *path, char *err, size_t errlen);

#endif
