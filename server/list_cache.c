/*
 * list_cache.c — a small LRU map of rendered list answers (see list_cache.h).
 *
 * Open hashing with chains of entries; a doubly linked recency list gives O(1) eviction. Key and
 * body live in one allocation per entry.
 */
#include "nacos_mock/list_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/util.h"

#define BUCKETS 1024u

struct entry {
    struct entry *chain;           /* next in bucket */
    struct entry *newer, *older;   /* recency list */
    uint64_t hash;
    struct list_cache_state state;
    size_t keylen, len;
    char *body;                    /* points after the key in data */
    char data[];                   /* key bytes, then body bytes */
};

struct list_cache {
    struct entry *bucket[BUCKETS];
    struct entry *newest, *oldest;
    size_t max_bytes, bytes, entries;
    uint64_t hits, misses;
};

static size_t entry_cost(const struct entry *e) { return sizeof *e + e->keylen + e->len; }

struct list_cache *list_cache_new(size_t max_bytes)
{
    struct list_cache *c = calloc(1, sizeof *c);
    if (c) c->max_bytes = max_bytes;
    return c;
}

static void unlink_recency(struct list_cache *c, struct entry *e)
{
    if (e->newer) e->newer->older = e->older;
    else c->newest = e->older;
    if (e->older) e->older->newer = e->newer;
    else c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_newest(struct list_cache *c, struct entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest) c->newest->newer = e;
    c->newest = e;
    if (!c->oldest) c->oldest = e;
}

/* Finds the entry for key; *link is where it hangs in its chain (for removal). */
static struct entry *find(struct list_cache *c, const char *key, size_t keylen, uint64_t h, struct entry ***link)
{
    struct entry **l = &c->bucket[h % BUCKETS];
    for (; *l; l = &(*l)->chain) {
        struct entry *e = *l;
        if (e->hash == h && e->keylen == keylen && memcmp(e->data, key, keylen) == 0) {
            if (link) *link = l;
            return e;
        }
    }
    return NULL;
}

static void remove_entry(struct list_cache *c, struct entry *e, struct entry **link)
{
    *link = e->chain;
    unlink_recency(c, e);
    c->bytes -= entry_cost(e);
    c->entries--;
    free(e);
}

static void remove_oldest(struct list_cache *c)
{
    struct entry *e = c->oldest;
    struct entry **l = NULL;
    if (e && find(c, e->data, e->keylen, e->hash, &l) == e) remove_entry(c, e, l);
}

static bool same_state(const struct list_cache_state *a, const struct list_cache_state *b)
{
    return a->service_id == b->service_id && a->revision == b->revision && a->generation == b->generation;
}

const char *list_cache_get(struct list_cache *c, const char *key, size_t keylen, const struct list_cache_state *state,
                           size_t *len)
{
    uint64_t h = util_fnv1a(key, keylen);
    struct entry **l = NULL;
    struct entry *e = find(c, key, keylen, h, &l);
    if (e && !same_state(&e->state, state)) {
        remove_entry(c, e, l);
        e = NULL;
    }
    if (!e) {
        c->misses++;
        return NULL;
    }
    c->hits++;
    unlink_recency(c, e);
    push_newest(c, e);
    *len = e->len;
    return e->body;
}

void list_cache_put(struct list_cache *c, const char *key, size_t keylen, const struct list_cache_state *state,
                    const char *body, size_t len)
{
    uint64_t h = util_fnv1a(key, keylen);
    struct entry **l = NULL;
    struct entry *old = find(c, key, keylen, h, &l);
    if (old) remove_entry(c, old, l);
    if (sizeof(struct entry) + keylen + len > c->max_bytes) return;
    struct entry *e = malloc(sizeof *e + keylen + len);
    if (!e) return;
    e->hash = h;
    e->state = *state;
    e->keylen = keylen;
    e->len = len;
    memcpy(e->data, key, keylen);
    e->body = e->data + keylen;
    memcpy(e->body, body, len);
    while (c->oldest && c->bytes + entry_cost(e) > c->max_bytes) remove_oldest(c);
    struct entry **b = &c->bucket[h % BUCKETS];
    e->chain = *b;
    *b = e;
    push_newest(c, e);
    c->bytes += entry_cost(e);
    c->entries++;
}

void list_cache_clear(struct list_cache *c)
{
    while (c->oldest) remove_oldest(c);
    c->hits = c->misses = 0;
}

void list_cache_free(struct list_cache *c)
{
    if (!c) return;
    while (c->oldest) remove_oldest(c);
    free(c);
}

void list_cache_stats(const struct list_cache *c, size_t *entries, size_t *bytes, uint64_t *hits, uint64_t *misses)
{
    if (entries) *entries = c->entries;
    if (bytes) *bytes = c->bytes;
    if (hits) *hits = c->hits;
    if (misses) *misses = c->misses;
}
