/*
 * list_cache.c — LRU maps of rendered list answers, striped by key (see list_cache.h).
 *
 * Each stripe: open hashing with chains of entries, a doubly linked recency list for O(1)
 * eviction, its own lock and its share of the byte bound. Key and body live in one allocation per
 * entry, with a reference count: the stripe holds one while the entry is in it, a reader one while
 * it copies the body out, outside the lock; whoever drops the last frees it.
 */
#include "nacos_mock/list_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/util.h"

#define BUCKETS 256u

struct entry {
    struct entry *chain;           /* next in bucket */
    struct entry *newer, *older;   /* recency list */
    _Atomic unsigned refs;
    uint64_t hash;
    struct list_cache_state state;
    size_t keylen, len;
    char *body;                    /* points after the key in data */
    char data[];                   /* key bytes, then body bytes */
};

struct stripe {
    pthread_mutex_t mu;
    struct lockstat stat;
    uint64_t t0;
    struct entry *bucket[BUCKETS];
    struct entry *newest, *oldest;
    size_t max_bytes, bytes, entries;
    uint64_t hits, misses;
} __attribute__((aligned(64)));

struct list_cache {
    size_t n;
    struct stripe s[];
};

static size_t entry_cost(const struct entry *e) { return sizeof *e + e->keylen + e->len; }

static void entry_unref(struct entry *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1) free(e);
}

struct list_cache *list_cache_new(size_t max_bytes, unsigned stripes)
{
    if (!stripes) stripes = 1;
    size_t size = sizeof(struct list_cache) + stripes * sizeof(struct stripe);
    size = (size + 63) & ~(size_t)63;
    struct list_cache *c = aligned_alloc(64, size);
    if (!c) return NULL;
    memset(c, 0, size);
    c->n = stripes;
    for (unsigned i = 0; i < stripes; i++) {
        pthread_mutex_init(&c->s[i].mu, NULL);
        c->s[i].max_bytes = max_bytes / stripes;
    }
    return c;
}

static struct stripe *stripe_of(struct list_cache *c, uint64_t h) { return &c->s[(h >> 32) % c->n]; }

static void unlink_recency(struct stripe *c, struct entry *e)
{
    if (e->newer) e->newer->older = e->older;
    else c->newest = e->older;
    if (e->older) e->older->newer = e->newer;
    else c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_newest(struct stripe *c, struct entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest) c->newest->newer = e;
    c->newest = e;
    if (!c->oldest) c->oldest = e;
}

/* Finds the entry for key; *link is where it hangs in its chain (for removal). */
static struct entry *find(struct stripe *c, const char *key, size_t keylen, uint64_t h, struct entry ***link)
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

/* Takes e out of the stripe (a reader copying it keeps it alive until it is done). */
static void remove_entry(struct stripe *c, struct entry *e, struct entry **link)
{
    *link = e->chain;
    unlink_recency(c, e);
    c->bytes -= entry_cost(e);
    c->entries--;
    entry_unref(e);
}

static void remove_oldest(struct stripe *c)
{
    struct entry *e = c->oldest;
    struct entry **l = NULL;
    if (e && find(c, e->data, e->keylen, e->hash, &l) == e) remove_entry(c, e, l);
}

static bool same_state(const struct list_cache_state *a, const struct list_cache_state *b)
{
    return a->service_id == b->service_id && a->revision == b->revision && a->generation == b->generation;
}

char *list_cache_copy(struct list_cache *lc, const char *key, size_t keylen, const struct list_cache_state *state,
                      size_t *len)
{
    uint64_t h = util_fnv1a(key, keylen);
    struct stripe *c = stripe_of(lc, h);
    nm_lock(&c->mu, &c->stat, &c->t0);
    struct entry **l = NULL;
    struct entry *e = find(c, key, keylen, h, &l);
    if (e && !same_state(&e->state, state)) {
        remove_entry(c, e, l);
        e = NULL;
    }
    if (e) {
        c->hits++;
        if (c->newest != e) {
            unlink_recency(c, e);
            push_newest(c, e);
        }
        atomic_fetch_add(&e->refs, 1);
    } else {
        c->misses++;
    }
    nm_unlock(&c->mu, &c->stat, &c->t0);
    if (!e) return NULL;
    char *text = malloc(e->len + 1);
    if (text) {
        memcpy(text, e->body, e->len);
        text[e->len] = '\0';
        *len = e->len;
    }
    entry_unref(e);
    return text;
}

void list_cache_put(struct list_cache *lc, const char *key, size_t keylen, const struct list_cache_state *state,
                    const char *body, size_t len)
{
    uint64_t h = util_fnv1a(key, keylen);
    struct stripe *c = stripe_of(lc, h);
    struct entry *e = NULL;
    if (sizeof(struct entry) + keylen + len <= c->max_bytes && (e = malloc(sizeof *e + keylen + len))) {
        atomic_init(&e->refs, 1);
        e->hash = h;
        e->state = *state;
        e->keylen = keylen;
        e->len = len;
        memcpy(e->data, key, keylen);
        e->body = e->data + keylen;
        memcpy(e->body, body, len);
    }
    nm_lock(&c->mu, &c->stat, &c->t0);
    struct entry **l = NULL;
    struct entry *old = find(c, key, keylen, h, &l);
    if (old) remove_entry(c, old, l);
    if (e) {
        while (c->oldest && c->bytes + entry_cost(e) > c->max_bytes) remove_oldest(c);
        struct entry **b = &c->bucket[h % BUCKETS];
        e->chain = *b;
        *b = e;
        push_newest(c, e);
        c->bytes += entry_cost(e);
        c->entries++;
    }
    nm_unlock(&c->mu, &c->stat, &c->t0);
}

void list_cache_clear(struct list_cache *lc)
{
    for (size_t i = 0; i < lc->n; i++) {
        struct stripe *c = &lc->s[i];
        pthread_mutex_lock(&c->mu);
        while (c->oldest) remove_oldest(c);
        c->hits = c->misses = 0;
        pthread_mutex_unlock(&c->mu);
    }
}

void list_cache_free(struct list_cache *lc)
{
    if (!lc) return;
    for (size_t i = 0; i < lc->n; i++) {
        while (lc->s[i].oldest) remove_oldest(&lc->s[i]);
        pthread_mutex_destroy(&lc->s[i].mu);
    }
    free(lc);
}

void list_cache_stats(struct list_cache *lc, size_t *entries, size_t *bytes, uint64_t *hits, uint64_t *misses,
                      struct lockstat_totals *locks)
{
    size_t ne = 0, nb = 0;
    uint64_t nh = 0, nm = 0;
    for (size_t i = 0; i < lc->n; i++) {
        struct stripe *c = &lc->s[i];
        pthread_mutex_lock(&c->mu);
        ne += c->entries;
        nb += c->bytes;
        nh += c->hits;
        nm += c->misses;
        pthread_mutex_unlock(&c->mu);
        if (locks) lockstat_add_to(&c->stat, locks);
    }
    if (entries) *entries = ne;
    if (bytes) *bytes = nb;
    if (hits) *hits = nh;
    if (misses) *misses = nm;
}
