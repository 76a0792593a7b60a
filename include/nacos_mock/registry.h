/*
 * registry — snapshots of the whole registry as JSON (GET/POST /__mock/registry, --fixtures):
 *   {"nowMs": N, "namespaces": [{"namespaceId": "public", "services": [{"name": "demo",
 *     "groupName": "DEFAULT_GROUP", "protectThreshold": 0.0, "metadata": {}, "selector": {...},
 *     "explicit": true, "instances": [{"ip", "port", "clusterName", "instanceId", "weight", "healthy",
 *     "enabled", "ephemeral", "marked", "metadata", "lastBeatMs", "registeredMs",
 *     "heartBeatIntervalMs", "heartBeatTimeoutMs", "ipDeleteTimeoutMs"}]}]}],
 *   "configs": [{"namespaceId", "group", "dataId", "content", "md5", "type", "appName", "desc",
 *     "configTags", "encryptedDataKey", "lastModifiedMs"}]}          (config-api.md §4)
 * Health is the stored truth (no protect-threshold view). Loading validates the whole snapshot
 * first and writes it, adding to what is there: all or nothing. Either part may be absent when
 * loading (a developer's configuration alone is `{"configs": [...]}`); each config is published
 * through the config core (`namespaceId` public, `group` DEFAULT_GROUP, `type` text by default;
 * md5 and lastModifiedMs are ignored), so listeners are woken and pushed.
 * Threading: both need app->mu held (the config core is taken after it).
 */
#ifndef NACOS_MOCK_REGISTRY_H
#define NACOS_MOCK_REGISTRY_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct app;

/* The snapshot (caller deletes), NULL on a store error. */
cJSON *registry_dump(struct app *app);
/* What a load added. */
struct registry_counts {
    long services, instances, configs;
};
/* Loads a snapshot. 0 ok (counts in *n, may be NULL), -1 invalid (err names the path of the bad
 * field, e.g. `configs[1].dataId`, nothing changed), -2 store error. */
int registry_load(struct app *app, const cJSON *snap, struct registry_counts *n, char *err, size_t errlen);
/* Reads a snapshot file and loads it (for --fixtures and reset). 0 or -1 with err. */
int registry_load_file(struct app *app, const char *path, char *err, size_t errlen);

#endif
