/*
 * ephemeral.c — the directory of services and the ephemeral instances in memory, in shards (see
 * ephemeral.h for why, invariants and views).
 *
 * Per shard: four intrusive hash tables (instances by key and by id, services by id and by name), a
 * doubly linked member list per service, and the due times: one bucket per distinct expire_at holding
 * its instances in id order, the buckets in a hash by time and a heap by time (see "due times").
 * Inside a transaction every write appends what undoes it to the shard's log: rollback replays the
 * log backwards, commit frees what the transaction removed.
 */
#include "nacos_mock/ephemeral.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/util.h"

#define NO_SLOT SIZE_MAX
#define FIRST_BUCKETS 64u   /* per table and shard; doubled as it fills */

/* hlist-style nodes: pprev points at whatever points at the node (a bucket or the previous node's
 * next), so unlinking needs no walk and no load from the bucket array — with 100,000 instances
 * the walks were cache misses, the largest cost of removing an instance. */
struct hnode { struct hnode *next, **pprev; uint64_t h; };
struct htab { struct hnode **b; size_t mask, n; };

struct group {                    /* a service: its directory entry and its ephemeral instances */
    struct hnode by_id, by_name;
    int64_t service_id;
    long count;
    struct eph_inst *head;
    struct eph_svc_attrs a;       /* texts owned (malloc'd) */
    char *ns, *name;              /* point into data */
    char data[];
};

struct eph_inst {
    struct hnode by_key, by_id;
    struct group *g;
    struct eph_inst *gnext, *gprev;
    struct bucket *bk;            /* its due-time bucket, NULL when never due (marked, or connection-owned) */
    struct eph_inst *bnext, *bprev;
    int64_t expire_at;
    struct instance_rec rec;      /* strings point into data and into the group */
    char data[];
};

enum undo_op { U_INSERT, U_REMOVE, U_STATE, U_GROUP_NEW, U_GROUP_DROP, U_ATTRS };
struct undo {
    enum undo_op op;
    void *p;                      /* struct eph_inst * or struct group * */
    bool healthy;                 /* U_STATE: what to restore */
    bool new_md, new_sel;         /* U_ATTRS: this write replaced the metadata / selector text */
    int64_t last_beat_ms;         /* U_STATE; U_ATTRS: index of the saved attributes */
};

struct bucket {                   /* the instances due at one time */
    struct hnode node;            /* in eph.buckets, by time */
    int64_t at;
    size_t slot;                  /* in eph.bheap; NO_SLOT while a sweep holds it */
    struct eph_inst *head, *tail; /* in id order */
    struct bucket *next;          /* in the spare list, or in a sweep's held list */
    struct bucket *enext;         /* in the shard's list of buckets emptied inside a transaction */
    bool emptied;                 /* listed there */
};

struct bent { int64_t at; struct bucket *b; };   /* a heap entry carries its key */

struct eph_shard {
    pthread_mutex_t mu;
    struct lockstat stat;
    uint64_t t0;
    unsigned index;
    struct htab by_key, by_id, groups_by_id, groups_by_name, buckets;
    struct bent *bheap;
    size_t bheap_n, bheap_cap, n_held;
    struct bucket *spare;         /* freed buckets kept for reuse (at most SPARE_MAX) */
    size_t n_spare;
    int64_t next_seq;             /* instance ids: EPH_ID_BASE + (seq << EPH_SHARD_BITS | index) */
    long n, n_healthy;
    bool in_txn;
    struct undo *undo;
    size_t undo_n, undo_cap;
    struct eph_svc_attrs *saved;  /* U_ATTRS: the attributes to restore */
    size_t saved_n, saved_cap;
    struct bucket *emptied;       /* buckets that emptied inside the transaction: released at its end */
} __attribute__((aligned(64)));

struct eph {
    struct eph_shard *s[EPH_SHARDS];
};

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------ hashing and tables */

static uint64_t key_hash(int64_t service_id, const char *cluster, const char *ip, int port)
{
    uint64_t h = util_hash_more((uint64_t)service_id * 31 + (uint64_t)port, cluster, strlen(cluster));
    return util_hash_more(h, ip, strlen(ip));
}

/* Ids are handed out in sequence: the identity spreads them evenly over the buckets, and instances
 * made one after another (and swept one after another) sit in neighbouring buckets. An instance id's
 * low bits are its shard, the same for every instance of a shard: they are shifted out. */
static uint64_t id_hash(int64_t id) { return (uint64_t)id; }
static uint64_t inst_id_hash(int64_t id) { return (uint64_t)id >> EPH_SHARD_BITS; }

static uint64_t name_hash(const char *ns, const char *name)
{
    return util_hash_more(util_hash_more(0, ns, strlen(ns)), name, strlen(name));
}

/* Makes sure the table has buckets, doubling them when it is full (best effort: a table that cannot
 * grow only gets longer chains). -1 only when it has none and cannot get them. */
static int htab_reserve(struct htab *t)
{
    if (t->b && t->n < t->mask + 1) return 0;
    size_t nb = t->b ? (t->mask + 1) * 2 : FIRST_BUCKETS;
    struct hnode **b = calloc(nb, sizeof *b);
    if (!b) return t->b ? 0 : -1;
    if (t->b) {
        for (size_t i = 0; i <= t->mask; i++) {
            for (struct hnode *x = t->b[i], *next; x; x = next) {
                next = x->next;
                struct hnode **head = &b[x->h & (nb - 1)];
                x->next = *head;
                if (*head) (*head)->pprev = &x->next;
                *head = x;
                x->pprev = head;
            }
        }
        free(t->b);
    }
    t->b = b;
    t->mask = nb - 1;
    return 0;
}

/* The table must have buckets (htab_reserve). */
static void htab_add(struct htab *t, struct hnode *x, uint64_t h)
{
    struct hnode **head = &t->b[h & t->mask];
    x->h = h;
    x->next = *head;
    if (*head) (*head)->pprev = &x->next;
    *head = x;
    x->pprev = head;
    t->n++;
}

static void htab_del(struct htab *t, struct hnode *x)
{
    *x->pprev = x->next;
    if (x->next) x->next->pprev = x->pprev;
    t->n--;
}

static struct hnode *htab_first(const struct htab *t, uint64_t h) { return t->b ? t->b[h & t->mask] : NULL; }

/* ------------------------------------------------------------------ due times */

/* Instances wait in buckets, one per distinct due time, each a list in id order; the buckets are
 * found by time in a hash and ordered by time in a binary heap. Moving an instance (a beat, a health
 * change) is a list unlink, a hash lookup and a list insert, at the tail in the usual case; the heap
 * moves only when a bucket appears or goes. A sweep takes buckets off the heap, soonest first, and
 * walks their lists. With one heap of instances instead, a mass expiry spent a third of its time
 * sifting: every instance turned unhealthy went from the root to the bottom of a 100,000-entry heap.
 * Inside a transaction a bucket that empties stays where it is (a rollback puts instances back into
 * it without allocating); outside, it is released at once, or when it reaches the top. */
#define SPARE_MAX 64

static void bheap_set(struct eph_shard *e, size_t k, struct bent x)
{
    e->bheap[k] = x;
    x.b->slot = k;
}

static void bheap_up(struct eph_shard *e, size_t k)
{
    struct bent x = e->bheap[k];
    while (k > 0 && x.at < e->bheap[(k - 1) / 2].at) {
        bheap_set(e, k, e->bheap[(k - 1) / 2]);
        k = (k - 1) / 2;
    }
    bheap_set(e, k, x);
}

static void bheap_down(struct eph_shard *e, size_t k)
{
    struct bent x = e->bheap[k];
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= e->bheap_n) break;
        if (c + 1 < e->bheap_n && e->bheap[c + 1].at < e->bheap[c].at) c++;
        if (e->bheap[c].at >= x.at) break;
        bheap_set(e, k, e->bheap[c]);
        k = c;
    }
    bheap_set(e, k, x);
}

static void bheap_push(struct eph_shard *e, struct bucket *b)   /* room reserved */
{
    bheap_set(e, e->bheap_n++, (struct bent){b->at, b});
    bheap_up(e, b->slot);
}

static void bheap_remove(struct eph_shard *e, struct bucket *b)
{
    size_t k = b->slot;
    b->slot = NO_SLOT;
    struct bent last = e->bheap[--e->bheap_n];
    if (k == e->bheap_n) return;
    bheap_set(e, k, last);
    bheap_up(e, k);
    bheap_down(e, last.b->slot);
}

static uint64_t time_hash(int64_t at) { return (uint64_t)at; }   /* consecutive times, consecutive buckets */

static struct bucket *bucket_find(struct eph_shard *e, int64_t at)
{
    for (struct hnode *x = htab_first(&e->buckets, time_hash(at)); x; x = x->next) {
        struct bucket *b = CONTAINER(x, struct bucket, node);
        if (b->at == at) return b;
    }
    return NULL;
}

/* Makes sure one more instance can be scheduled without failing: hash buckets, heap room (counting
 * buckets a sweep holds off the heap), a spare bucket. -1 out of memory (nothing changed). */
static int sched_reserve(struct eph_shard *e)
{
    if (htab_reserve(&e->buckets)) return -1;
    while (e->bheap_cap < e->bheap_n + e->n_held + 1)
        if (util_grow((void **)&e->bheap, &e->bheap_cap, e->bheap_cap, sizeof *e->bheap)) return -1;
    if (!e->spare) {
        struct bucket *b = malloc(sizeof *b);
        if (!b) return -1;
        b->next = NULL;
        e->spare = b;
        e->n_spare = 1;
    }
    return 0;
}

/* Unlinks an empty bucket from the hash (and the heap unless held) and keeps it as a spare. */
static void bucket_release(struct eph_shard *e, struct bucket *b)
{
    htab_del(&e->buckets, &b->node);
    if (b->slot != NO_SLOT) bheap_remove(e, b);
    if (e->n_spare >= SPARE_MAX) {
        free(b);
        return;
    }
    b->next = e->spare;
    e->spare = b;
    e->n_spare++;
}

/* Puts i (not marked, not scheduled) into the bucket of its expire_at (room reserved). */
static void sched(struct eph_shard *e, struct eph_inst *i)
{
    struct bucket *b = bucket_find(e, i->expire_at);
    if (!b) {
        if (!e->spare) abort();   /* unreachable: sched_reserve first, and rollbacks find their buckets */
        b = e->spare;
        e->spare = b->next;
        e->n_spare--;
        b->at = i->expire_at;
        b->head = b->tail = NULL;
        b->emptied = false;
        htab_add(&e->buckets, &b->node, time_hash(b->at));
        bheap_push(e, b);
    }
    int64_t id = i->rec.id;
    i->bk = b;
    if (!b->tail || b->tail->rec.id < id) {          /* the usual case: the newest id, or a move in id order */
        i->bprev = b->tail;
        i->bnext = NULL;
        if (b->tail) b->tail->bnext = i;
        else b->head = i;
        b->tail = i;
    } else if (b->head->rec.id > id) {               /* a rollback puts instances back in reverse */
        i->bprev = NULL;
        i->bnext = b->head;
        b->head->bprev = i;
        b->head = i;
    } else {
        struct eph_inst *p = b->tail;
        while (p->rec.id > id) p = p->bprev;
        i->bprev = p;
        i->bnext = p->bnext;
        p->bnext->bprev = i;
        p->bnext = i;
    }
}

/* An empty bucket inside a transaction stays (a rollback may need it) and is listed for its end. */
static void note_emptied(struct eph_shard *e, struct bucket *b)
{
    if (b->emptied) return;
    b->emptied = true;
    b->enext = e->emptied;
    e->emptied = b;
}

/* At the end of a transaction: the buckets it emptied that are still empty go. */
static void release_emptied(struct eph_shard *e)
{
    for (struct bucket *b = e->emptied, *next; b; b = next) {
        next = b->enext;
        b->emptied = false;
        if (!b->head && b->slot != NO_SLOT) bucket_release(e, b);
    }
    e->emptied = NULL;
}

static void unsched(struct eph_shard *e, struct eph_inst *i)
{
    struct bucket *b = i->bk;
    if (!b) return;
    if (i->bprev) i->bprev->bnext = i->bnext;
    else b->head = i->bnext;
    if (i->bnext) i->bnext->bprev = i->bprev;
    else b->tail = i->bprev;
    i->bk = NULL;
    if (b->head) return;
    if (e->in_txn) note_emptied(e, b);
    else if (b->slot != NO_SLOT) bucket_release(e, b);
}

static void compute_expire(struct eph_inst *i)
{
    const struct instance_rec *r = &i->rec;
    int64_t t = r->healthy ? (r->hb_timeout_ms < r->delete_timeout_ms ? r->hb_timeout_ms : r->delete_timeout_ms)
                           : r->delete_timeout_ms;
    i->expire_at = r->last_beat_ms + t;
}

/* Moves the instance to the bucket of its new due time after a change of beat time or health (room
 * reserved, or the bucket exists: a rollback). */
static void reschedule(struct eph_shard *e, struct eph_inst *i)
{
    int64_t old = i->expire_at;
    compute_expire(i);
    if (!i->bk || i->expire_at == old) return;
    unsched(e, i);
    sched(e, i);
}

/* Takes the soonest bucket due before now off the heap into the held list; NULL when none. Empty
 * buckets met on the way are released (outside a transaction) or held too. */
static struct bucket *take_due(struct eph_shard *e, int64_t now_ms, struct bucket **held)
{
    while (e->bheap_n && e->bheap[0].at < now_ms) {
        struct bucket *b = e->bheap[0].b;
        if (!b->head && !e->in_txn) {
            bucket_release(e, b);
            continue;
        }
        bheap_remove(e, b);
        b->next = *held;
        *held = b;
        e->n_held++;
        if (b->head) return b;
    }
    return NULL;
}

/* Puts held buckets back on the heap (room was reserved for them); empty ones are released outside
 * a transaction. */
static void put_back(struct eph_shard *e, struct bucket *held)
{
    for (struct bucket *b = held, *next; b; b = next) {
        next = b->next;
        e->n_held--;
        if (!b->head && !e->in_txn) {
            bucket_release(e, b);   /* held: off the heap already */
            continue;
        }
        bheap_push(e, b);
        if (!b->head) note_emptied(e, b);
    }
}

/* ------------------------------------------------------------------ undo log */

static int undo_reserve(struct eph_shard *e, size_t k)
{
    if (!e->in_txn) return 0;
    while (e->undo_cap < e->undo_n + k)
        if (util_grow((void **)&e->undo, &e->undo_cap, e->undo_cap, sizeof *e->undo)) return -1;
    return 0;
}

static void undo_push(struct eph_shard *e, enum undo_op op, void *p)   /* room reserved */
{
    if (!e->in_txn) return;
    struct undo *u = &e->undo[e->undo_n++];
    u->op = op;
    u->p = p;
    if (op == U_STATE) {
        const struct eph_inst *i = p;
        u->healthy = i->rec.healthy;
        u->last_beat_ms = i->rec.last_beat_ms;
    }
}

/* ------------------------------------------------------------------ services (groups) */

static struct group *group_by_id(struct eph_shard *e, int64_t service_id)
{
    for (struct hnode *x = htab_first(&e->groups_by_id, id_hash(service_id)); x; x = x->next) {
        struct group *g = CONTAINER(x, struct group, by_id);
        if (g->service_id == service_id) return g;
    }
    return NULL;
}

static void group_link(struct eph_shard *e, struct group *g)
{
    htab_add(&e->groups_by_id, &g->by_id, id_hash(g->service_id));
    htab_add(&e->groups_by_name, &g->by_name, name_hash(g->ns, g->name));
}

static void group_unlink(struct eph_shard *e, struct group *g)
{
    htab_del(&e->groups_by_id, &g->by_id);
    htab_del(&e->groups_by_name, &g->by_name);
}

static void group_free(struct group *g)
{
    free((char *)g->a.metadata);
    free((char *)g->a.selector);
    free(g);
}

struct eph_svc *eph_svc_get(struct eph_shard *e, const char *ns, const char *name)
{
    for (struct hnode *x = htab_first(&e->groups_by_name, name_hash(ns, name)); x; x = x->next) {
        struct group *g = CONTAINER(x, struct group, by_name);
        if (!strcmp(g->name, name) && !strcmp(g->ns, ns)) return (struct eph_svc *)g;
    }
    return NULL;
}

struct eph_svc *eph_svc_get_id(struct eph_shard *e, int64_t id) { return (struct eph_svc *)group_by_id(e, id); }

const struct eph_svc_attrs *eph_svc_attrs(const struct eph_svc *v) { return &((const struct group *)v)->a; }
int64_t eph_svc_id(const struct eph_svc *v) { return ((const struct group *)v)->service_id; }
const char *eph_svc_ns(const struct eph_svc *v) { return ((const struct group *)v)->ns; }
const char *eph_svc_name(const struct eph_svc *v) { return ((const struct group *)v)->name; }
long eph_svc_count(const struct eph_svc *v) { return ((const struct group *)v)->count; }
long eph_svc_total(const struct eph_shard *e) { return (long)e->groups_by_id.n; }

int eph_svc_add(struct eph_shard *e, int64_t id, const char *ns, const char *name, const struct eph_svc_attrs *a)
{
    if (htab_reserve(&e->groups_by_id) || htab_reserve(&e->groups_by_name) || undo_reserve(e, 1)) return -1;
    size_t nl = strlen(ns) + 1, ml = strlen(name) + 1;
    struct group *g = calloc(1, sizeof *g + nl + ml);
    char *md = strdup(a->metadata ? a->metadata : "{}");
    char *sel = strdup(a->selector ? a->selector : "{\"type\":\"none\"}");
    if (!g || !md || !sel) {
        free(g);
        free(md);
        free(sel);
        return -1;
    }
    g->service_id = id;
    g->a = *a;
    g->a.metadata = md;
    g->a.selector = sel;
    g->ns = memcpy(g->data, ns, nl);
    g->name = memcpy(g->data + nl, name, ml);
    group_link(e, g);
    undo_push(e, U_GROUP_NEW, g);
    return 0;
}

int eph_svc_set(struct eph_shard *e, struct eph_svc *v, const struct eph_svc_attrs *a)
{
    struct group *g = (struct group *)v;
    char *md = NULL, *sel = NULL;
    if (a->metadata != g->a.metadata && !(md = strdup(a->metadata ? a->metadata : "{}"))) return -1;
    if (a->selector != g->a.selector && !(sel = strdup(a->selector ? a->selector : "{\"type\":\"none\"}"))) {
        free(md);
        return -1;
    }
    if (e->in_txn) {
        if (undo_reserve(e, 1) ||
            util_grow((void **)&e->saved, &e->saved_cap, e->saved_n, sizeof *e->saved)) {
            free(md);
            free(sel);
            return -1;
        }
        e->saved[e->saved_n] = g->a;   /* the old texts stay until commit (freed) or rollback (restored) */
        struct undo *u = &e->undo[e->undo_n++];
        u->op = U_ATTRS;
        u->p = g;
        u->new_md = md != NULL;
        u->new_sel = sel != NULL;
        u->last_beat_ms = (int64_t)e->saved_n++;
    } else {
        if (md) free((char *)g->a.metadata);
        if (sel) free((char *)g->a.selector);
    }
    const char *keep_md = g->a.metadata, *keep_sel = g->a.selector;
    g->a = *a;
    g->a.metadata = md ? md : keep_md;
    g->a.selector = sel ? sel : keep_sel;
    return 0;
}

void eph_svc_foreach(struct eph_shard *e, int (*cb)(void *ctx, struct eph_svc *v), void *ctx)
{
    for (size_t b = 0; e->groups_by_id.b && b <= e->groups_by_id.mask; b++)
        for (struct hnode *x = e->groups_by_id.b[b]; x; x = x->next)
            if (cb(ctx, (struct eph_svc *)CONTAINER(x, struct group, by_id))) return;
}

/* ------------------------------------------------------------------ instances */

static void inst_link(struct eph_shard *e, struct eph_inst *i)
{
    const struct instance_rec *r = &i->rec;
    htab_add(&e->by_key, &i->by_key, key_hash(r->service_id, r->cluster, r->ip, r->port));
    htab_add(&e->by_id, &i->by_id, inst_id_hash(r->id));
    struct group *g = i->g;
    i->gprev = NULL;
    i->gnext = g->head;
    if (g->head) g->head->gprev = i;
    g->head = i;
    g->count++;
    e->n++;
    if (r->healthy) e->n_healthy++;
    if (!r->marked && !r->owner) sched(e, i);
}

static void inst_unlink(struct eph_shard *e, struct eph_inst *i)
{
    htab_del(&e->by_key, &i->by_key);
    htab_del(&e->by_id, &i->by_id);
    struct group *g = i->g;
    if (i->gprev) i->gprev->gnext = i->gnext;
    else g->head = i->gnext;
    if (i->gnext) i->gnext->gprev = i->gprev;
    g->count--;
    e->n--;
    if (i->rec.healthy) e->n_healthy--;
    unsched(e, i);
}

struct eph *eph_new(void)
{
    struct eph *all = calloc(1, sizeof *all);
    if (!all) return NULL;
    for (unsigned k = 0; k < EPH_SHARDS; k++) {
        struct eph_shard *e = aligned_alloc(64, sizeof *e);
        if (!e) {
            eph_free(all);
            return NULL;
        }
        memset(e, 0, sizeof *e);
        pthread_mutex_init(&e->mu, NULL);
        e->index = k;
        all->s[k] = e;
    }
    return all;
}

/* Frees every instance and service (linked ones; the undo log must be empty). */
static void free_all(struct eph_shard *e)
{
    if (e->by_id.b) {
        for (size_t b = 0; b <= e->by_id.mask; b++)
            for (struct hnode *x = e->by_id.b[b], *next; x; x = next) {
                next = x->next;
                free(CONTAINER(x, struct eph_inst, by_id));
            }
    }
    if (e->groups_by_id.b) {
        for (size_t b = 0; b <= e->groups_by_id.mask; b++)
            for (struct hnode *x = e->groups_by_id.b[b], *next; x; x = next) {
                next = x->next;
                group_free(CONTAINER(x, struct group, by_id));
            }
    }
    if (e->buckets.b) {
        for (size_t b = 0; b <= e->buckets.mask; b++)
            for (struct hnode *x = e->buckets.b[b], *next; x; x = next) {
                next = x->next;
                free(CONTAINER(x, struct bucket, node));
            }
    }
    struct htab *t[] = {&e->by_key, &e->by_id, &e->groups_by_id, &e->groups_by_name, &e->buckets};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        free(t[k]->b);
        memset(t[k], 0, sizeof *t[k]);
    }
    e->bheap_n = 0;
    e->n = e->n_healthy = 0;
}

void eph_free(struct eph *all)
{
    if (!all) return;
    for (unsigned k = 0; k < EPH_SHARDS; k++) {
        struct eph_shard *e = all->s[k];
        if (!e) continue;
        if (e->in_txn) eph_rollback(e);
        free_all(e);
        for (struct bucket *b = e->spare, *next; b; b = next) {
            next = b->next;
            free(b);
        }
        free(e->bheap);
        free(e->undo);
        free(e->saved);
        pthread_mutex_destroy(&e->mu);
        free(e);
    }
    free(all);
}

struct eph_shard *eph_shard(struct eph *all, unsigned k) { return all->s[k & (EPH_SHARDS - 1)]; }

unsigned eph_shard_of(const char *ns, const char *name)
{
    uint64_t h = name_hash(ns, name);
    return (unsigned)((h ^ (h >> 29) ^ (h >> 47)) & (EPH_SHARDS - 1));
}

unsigned eph_shard_of_id(int64_t id) { return (unsigned)((uint64_t)(id - EPH_ID_BASE) & (EPH_SHARDS - 1)); }
unsigned eph_shard_index(const struct eph_shard *e) { return e->index; }

void eph_lock(struct eph_shard *e) { nm_lock(&e->mu, &e->stat, &e->t0); }
void eph_unlock(struct eph_shard *e) { nm_unlock(&e->mu, &e->stat, &e->t0); }

void eph_lockstat(struct eph *all, struct lockstat_totals *t)
{
    for (unsigned k = 0; k < EPH_SHARDS; k++) lockstat_add_to(&all->s[k]->stat, t);
}

struct eph_inst *eph_get(struct eph_shard *e, int64_t service_id, const char *cluster, const char *ip, int port)
{
    for (struct hnode *x = htab_first(&e->by_key, key_hash(service_id, cluster, ip, port)); x; x = x->next) {
        struct eph_inst *i = CONTAINER(x, struct eph_inst, by_key);
        const struct instance_rec *r = &i->rec;
        if (r->service_id == service_id && r->port == port && !strcmp(r->ip, ip) && !strcmp(r->cluster, cluster))
            return i;
    }
    return NULL;
}

struct eph_inst *eph_get_named(struct eph_shard *e, const char *ns, const char *service, const char *cluster,
                               const char *ip, int port)
{
    struct eph_svc *v = eph_svc_get(e, ns, service);
    return v ? eph_get(e, eph_svc_id(v), cluster, ip, port) : NULL;
}

struct eph_inst *eph_get_id(struct eph_shard *e, int64_t id)
{
    for (struct hnode *x = htab_first(&e->by_id, inst_id_hash(id)); x; x = x->next) {
        struct eph_inst *i = CONTAINER(x, struct eph_inst, by_id);
        if (i->rec.id == id) return i;
    }
    return NULL;
}

const struct instance_rec *eph_rec(const struct eph_inst *i) { return &i->rec; }

int eph_put(struct eph_shard *e, const struct instance_rec *in, struct eph_inst *replace, int64_t *id_out)
{
    struct group *g = group_by_id(e, in->service_id);
    if (!g) return -1;
    if (htab_reserve(&e->by_key) || htab_reserve(&e->by_id) || sched_reserve(e) || undo_reserve(e, 2)) return -1;
    const char *s[] = {in->cluster ? in->cluster : "", in->ip ? in->ip : "", in->instance_id ? in->instance_id : "",
                       in->metadata ? in->metadata : "{}", in->app};
    size_t len[5], total = 0;
    for (int k = 0; k < 5; k++) total += len[k] = s[k] ? strlen(s[k]) + 1 : 0;
    struct eph_inst *i = malloc(sizeof *i + total);
    if (!i) return -1;
    memset(i, 0, sizeof *i);
    char *p = i->data;
    const char **dst[] = {&i->rec.cluster, &i->rec.ip, &i->rec.instance_id, &i->rec.metadata, &i->rec.app};
    for (int k = 0; k < 5; k++) {
        *dst[k] = s[k] ? memcpy(p, s[k], len[k]) : NULL;
        p += len[k];
    }
    struct instance_rec *r = &i->rec;
    r->service_id = in->service_id;
    r->ns = g->ns;
    r->service = g->name;
    r->port = in->port;
    r->weight = in->weight;
    r->healthy = in->healthy;
    r->enabled = in->enabled;
    r->ephemeral = true;
    r->marked = in->marked;
    r->owner = in->owner;
    r->registered_ms = in->registered_ms;
    r->last_beat_ms = in->last_beat_ms;
    r->hb_interval_ms = in->hb_interval_ms;
    r->hb_timeout_ms = in->hb_timeout_ms;
    r->delete_timeout_ms = in->delete_timeout_ms;
    r->owned_ = NULL;
    i->g = g;
    i->bk = NULL;
    if (replace) {
        r->id = replace->rec.id;
        inst_unlink(e, replace);
        if (e->in_txn) undo_push(e, U_REMOVE, replace);
        else free(replace);
    } else {
        r->id = EPH_ID_BASE + ((e->next_seq++ << EPH_SHARD_BITS) | (int64_t)e->index);
    }
    compute_expire(i);
    inst_link(e, i);
    undo_push(e, U_INSERT, i);
    if (id_out) *id_out = r->id;
    return 0;
}

int eph_remove(struct eph_shard *e, struct eph_inst *i)
{
    if (undo_reserve(e, 1)) return -1;
    inst_unlink(e, i);
    if (e->in_txn) undo_push(e, U_REMOVE, i);
    else free(i);
    return 0;
}

static void set_state(struct eph_shard *e, struct eph_inst *i, bool healthy, int64_t last_beat_ms)
{
    if (i->rec.healthy != healthy) e->n_healthy += healthy ? 1 : -1;
    i->rec.healthy = healthy;
    i->rec.last_beat_ms = last_beat_ms;
    reschedule(e, i);
}

/* set_state as a write: room first, then what undoes it. */
static int change_state(struct eph_shard *e, struct eph_inst *i, bool healthy, int64_t last_beat_ms)
{
    if (undo_reserve(e, 1) || sched_reserve(e)) return -1;
    undo_push(e, U_STATE, i);
    set_state(e, i, healthy, last_beat_ms);
    return 0;
}

int eph_set_health(struct eph_shard *e, struct eph_inst *i, bool healthy)
{
    return change_state(e, i, healthy, i->rec.last_beat_ms);
}

int eph_beat(struct eph_shard *e, struct eph_inst *i, int64_t now_ms)
{
    return change_state(e, i, true, now_ms > i->rec.last_beat_ms ? now_ms : i->rec.last_beat_ms);
}

/* Unlinks the service (it must be empty); freed now, or at commit inside a transaction. */
static void group_drop(struct eph_shard *e, struct group *g)
{
    group_unlink(e, g);
    if (e->in_txn) undo_push(e, U_GROUP_DROP, g);
    else group_free(g);
}

/* Removes the group's instances, and the group too when `drop`. */
static int remove_group(struct eph_shard *e, struct group *g, bool drop, long *removed)
{
    long n = g ? g->count : 0;
    if (removed) *removed = 0;
    if (!g) return 0;
    if (undo_reserve(e, (size_t)n + 1)) return -1;
    while (g->head) eph_remove(e, g->head);
    if (drop) group_drop(e, g);
    if (removed) *removed = n;
    return 0;
}

int eph_remove_instances(struct eph_shard *e, int64_t service_id, long *removed)
{
    return remove_group(e, group_by_id(e, service_id), false, removed);
}

int eph_svc_drop(struct eph_shard *e, struct eph_svc *v, long *removed)
{
    return remove_group(e, (struct group *)v, true, removed);
}

int eph_clear(struct eph_shard *e)
{
    if (!e->in_txn) {
        free_all(e);
        return 0;
    }
    size_t groups = e->groups_by_id.n;
    if (undo_reserve(e, (size_t)e->n + groups)) return -1;
    for (size_t b = 0; e->groups_by_id.b && b <= e->groups_by_id.mask; b++) {
        while (e->groups_by_id.b[b]) {
            struct group *g = CONTAINER(e->groups_by_id.b[b], struct group, by_id);
            while (g->head) eph_remove(e, g->head);
            group_drop(e, g);
        }
    }
    return 0;
}

long eph_count(struct eph_shard *e, int64_t service_id)
{
    struct group *g = group_by_id(e, service_id);
    return g ? g->count : 0;
}

void eph_totals(const struct eph_shard *e, long *instances, long *healthy)
{
    if (instances) *instances = e->n;
    if (healthy) *healthy = e->n_healthy;
}

int eph_list(struct eph_shard *e, int64_t service_id, const struct instance_rec ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct group *one = service_id ? group_by_id(e, service_id) : NULL;
    size_t cap = service_id ? (one ? (size_t)one->count : 0) : (size_t)e->n;
    if (!cap) return 0;
    const struct instance_rec **v = malloc(cap * sizeof *v);
    if (!v) return -1;
    size_t k = 0;
    if (one) {
        for (struct eph_inst *i = one->head; i; i = i->gnext) v[k++] = &i->rec;
    } else {
        for (size_t b = 0; b <= e->by_id.mask; b++)
            for (struct hnode *x = e->by_id.b[b]; x; x = x->next) v[k++] = &CONTAINER(x, struct eph_inst, by_id)->rec;
    }
    *out = v;
    *n = k;
    return 0;
}

int eph_services(struct eph_shard *e, const char *ns, const char *service, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (size_t b = 0; e->groups_by_id.b && b <= e->groups_by_id.mask; b++) {
        for (struct hnode *x = e->groups_by_id.b[b]; x; x = x->next) {
            struct group *g = CONTAINER(x, struct group, by_id);
            if (!g->count || (ns && strcmp(ns, g->ns)) || (service && strcmp(service, g->name))) continue;
            if (util_grow((void **)out, &cap, *n, sizeof **out)) {
                free(*out);
                *out = NULL;
                *n = 0;
                return -1;
            }
            (*out)[(*n)++] = g->service_id;
        }
    }
    return 0;
}

size_t eph_due(struct eph_shard *e, int64_t now_ms, size_t limit, const struct instance_rec **out)
{
    size_t k = 0;
    struct bucket *held = NULL, *b;
    while (k < limit && (b = take_due(e, now_ms, &held)))
        for (struct eph_inst *i = b->head; i && k < limit; i = i->bnext) out[k++] = &i->rec;
    put_back(e, held);
    return k;
}

size_t eph_buckets(const struct eph_shard *e) { return e->buckets.n; }

bool eph_any_due(struct eph_shard *e, int64_t now_ms)
{
    const struct instance_rec *one;
    return eph_due(e, now_ms, 1, &one) > 0;
}

long eph_sweep(struct eph_shard *e, int64_t now_ms, size_t limit, store_verdict_cb cb, void *ctx)
{
    if (limit > (size_t)e->n) limit = (size_t)e->n;
    /* nothing due: no room reserved either (a first sweep would otherwise grow every shard's undo
     * log to its size, ~2 ms over 32 shards of 100,000 instances, for nothing) */
    if (!limit || !e->bheap_n || e->bheap[0].at >= now_ms) return 0;
    if (undo_reserve(e, limit)) return -1;
    size_t visited = 0;
    int rc = 0;
    struct bucket *held = NULL, *b;
    while (!rc && visited < limit && (b = take_due(e, now_ms, &held))) {
        /* b is off the heap: what the verdicts move goes to later buckets, never back into b;
         * instances left as they are (KEEP) stay in b and go back on the heap with it */
        for (struct eph_inst *i = b->head, *next; i && visited < limit; i = next) {
            next = i->bnext;
            if (next) {   /* bucket-mates are scattered in memory: fetch the next one while judging this */
                __builtin_prefetch(next);
                __builtin_prefetch((const char *)next + 64);
                __builtin_prefetch((const char *)next + 128);
                __builtin_prefetch((const char *)next + 192);
            }
            int v = cb(ctx, &i->rec);
            if (v < 0) {
                rc = 1;
                break;
            }
            visited++;
            if (v == STORE_REMOVE) rc = eph_remove(e, i) ? -1 : 0;
            else if (v == STORE_MARK_UNHEALTHY && i->rec.healthy) rc = eph_set_health(e, i, false) ? -1 : 0;
            if (rc) break;
        }
    }
    put_back(e, held);
    return rc < 0 ? -1 : (long)visited;
}

/* ------------------------------------------------------------------ transactions */

void eph_begin(struct eph_shard *e)
{
    e->in_txn = true;
    e->undo_n = 0;
    e->saved_n = 0;
}

void eph_commit(struct eph_shard *e)
{
    for (size_t k = 0; k < e->undo_n; k++) {
        struct undo *u = &e->undo[k];
        if (u->op == U_REMOVE) {
            free(u->p);
        } else if (u->op == U_GROUP_DROP) {
            group_free(u->p);
        } else if (u->op == U_ATTRS) {   /* the texts this write replaced */
            const struct eph_svc_attrs *old = &e->saved[u->last_beat_ms];
            if (u->new_md) free((char *)old->metadata);
            if (u->new_sel) free((char *)old->selector);
        }
    }
    e->undo_n = 0;
    e->saved_n = 0;
    e->in_txn = false;
    release_emptied(e);
}

void eph_rollback(struct eph_shard *e)
{
    while (e->undo_n) {
        struct undo *u = &e->undo[--e->undo_n];
        switch (u->op) {
        case U_INSERT:
            inst_unlink(e, u->p);
            free(u->p);
            break;
        case U_REMOVE:
            inst_link(e, u->p);   /* its bucket is still there: none goes inside a transaction */
            break;
        case U_STATE:
            set_state(e, u->p, u->healthy, u->last_beat_ms);
            break;
        case U_GROUP_NEW:
            group_unlink(e, u->p);
            group_free(u->p);
            break;
        case U_GROUP_DROP:
            group_link(e, u->p);
            break;
        case U_ATTRS: {   /* later writes are undone already: the texts now are the ones this one made */
            struct group *g = u->p;
            if (u->new_md) free((char *)g->a.metadata);
            if (u->new_sel) free((char *)g->a.selector);
            g->a = e->saved[u->last_beat_ms];
            break;
        }
        }
    }
    e->saved_n = 0;
    e->in_txn = false;
    release_emptied(e);
}
