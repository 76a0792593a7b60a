/*
 * list_cache — rendered instance/list answers, so a list of a service that has not changed since
 * the last identical list is copied out instead of rendered again (rendering 100 hosts costs ~40x
 * what a beat does; bench/README.md). Real Nacos serves lists from a per-service cache too.
 *
 * An entry is keyed by everything the answer depends on besides the registry (namespace, grouped
 * service, clusters, env, healthyOnly, the client's shape, subscribed) and is valid only for the
 * registry state it was rendered from: the service's id and revision (bumped by every change of its
 * instances, health, threshold or metadata; app_service_changed) and the store's generation (bumped
 * whenever a service row is deleted, so a re-created service can never meet an old entry). Entries
 * are evicted least recently used past LIST_CACHE_MAX_BYTES.
 *
 * Threading: thread-safe, without a lock every list takes: the map is split into stripes by key
 * hash, each with its own lock, LRU list and share of the byte bound; a hit holds its stripe's
 * lock for the lookup only and copies the body out after releasing it (entries are reference
 * counted). A leaf lock: nothing is called while holding it.
 * Ownership: the cache owns its copies; list_cache_copy hands out a new one.
 */
#ifndef NACOS_MOCK_LIST_CACHE_H
#define NACOS_MOCK_LIST_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/lockstat.h"

#define LIST_CACHE_MAX_BYTES (16u * 1024 * 1024)
#define LIST_CACHE_STRIPES 16u

struct list_cache;

/* The registry state an entry was rendered from. */
struct list_cache_state {
    int64_t service_id, revision, generation;
};

/* `stripes` maps of max_bytes / stripes each (1: one LRU over the whole bound). */
struct list_cache *list_cache_new(size_t max_bytes, unsigned stripes);
void list_cache_free(struct list_cache *c);
/* A copy of the body cached under `key` for exactly `state` (malloc'd, NUL-terminated, length in
 * *len; caller frees), or NULL: none, a stale one (dropped), or out of memory. */
char *list_cache_copy(struct list_cache *c, const char *key, size_t keylen, const struct list_cache_state *state,
                      size_t *len);
/* Stores a copy of body for key at state (replacing any entry for key). Silently does nothing
 * when out of memory or when the body alone exceeds the cache. */
void list_cache_put(struct list_cache *c, const char *key, size_t keylen, const struct list_cache_state *state,
                    const char *body, size_t len);
/* Drops every entry and zeroes the hit/miss counters (control-plane reset). */
void list_cache_clear(struct list_cache *c);
/* Entries and bytes held, lookups (for tests and metrics); each may be NULL. `locks` (may be NULL)
 * gets the stripes' lock hold times added (lock-stats builds). */
void list_cache_stats(struct list_cache *c, size_t *entries, size_t *bytes, uint64_t *hits, uint64_t *misses,
                      struct lockstat_totals *locks);

#endif
