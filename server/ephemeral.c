/*
 * ephemeral.c — ephemeral instances in memory (see ephemeral.h for why, invariants and views).
 *
 * Four intrusive hash tables (instances by key and by id, groups by service id and by name), a
 * doubly linked member list per group, and an 8-ary min-heap of instances ordered by (expire_at,
 * id), each instance knowing its heap slot so a beat or a health change moves it in O(log n).
 * Inside a transaction every write appends what undoes it to a log: rollback replays the log
 * backwards, commit frees what the transaction removed.
 */
#include "nacos_mock/ephemeral.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/util.h"

#define NO_SLOT SIZE_MAX
#define FIRST_BUCKETS 1024u

/* hlist-style nodes: pprev points at whatever points at the node (a bucket or the previous node's
 * next), so unlinking needs no walk and no load from the bucket array — with 100,000 instances
 * the walks were cache misses, the largest cost of removing an instance. */
struct hnode { struct hnode *next, **pprev; uint64_t h; };
struct htab { struct hnode **b; size_t mask, n; };

struct group {
    struct hnode by_id, by_name;
    int64_t service_id;
    long count;
    struct eph_inst *head;
    char *ns, *name;              /* point into data */
    char data[];
};

struct eph_inst {
    struct hnode by_key, by_id;
    struct group *g;
    struct eph_inst *gnext, *gprev;
    size_t slot;                  /* heap index, NO_SLOT when not due ever (marked) */
    int64_t expire_at;
    struct instance_rec rec;      /* strings point into data and into the group */
    char data[];
};

enum undo_op { U_INSERT, U_REMOVE, U_STATE, U_GROUP_NEW, U_GROUP_DROP };
struct undo {
    enum undo_op op;
    void *p;                      /* struct eph_inst * or struct group * */
    bool healthy;                 /* U_STATE: what to restore */
    int64_t last_beat_ms;
};

struct hent {                     /* a heap entry: the key, and whose it is */
    int64_t expire_at, id;
    struct eph_inst *i;
};

struct eph {
    struct htab by_key, by_id, groups_by_id, groups_by_name;
    struct hent *heap;
    size_t heap_n, heap_cap;
    int64_t next_id;
    long n, n_healthy;
    bool in_txn;
    struct undo *undo;
    size_t undo_n, undo_cap;
};

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------ hashing and tables */

static uint64_t fnv_add(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV_BASIS 0xcbf29ce484222325ULL

static uint64_t key_hash(int64_t service_id, const char *cluster, const char *ip, int port)
{
    uint64_t h = fnv_add(FNV_BASIS, &service_id, sizeof service_id);
    h = fnv_add(h, cluster, strlen(cluster) + 1);
    h = fnv_add(h, ip, strlen(ip) + 1);
    return fnv_add(h, &port, sizeof port);
}

/* Ids are handed out in sequence: the identity spreads them evenly over the buckets, and instances
 * made one after another (and swept one after another) sit in neighbouring buckets. */
static uint64_t id_hash(int64_t id) { return (uint64_t)id; }

static uint64_t name_hash(const char *ns, const char *name)
{
    return fnv_add(fnv_add(FNV_BASIS, ns, strlen(ns) + 1), name, strlen(name));
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

/* ------------------------------------------------------------------ the due heap */

/* An 8-ary min-heap whose entries carry their keys: a sift compares keys in the array instead of
 * following a pointer per child (with 100,000 instances those were cache misses, and the heap was the
 * largest cost of a mass expiry), and a node's children sit in three cache lines; 6 levels for
 * 100,000 instances instead of 17. Measured (bench/sweep.c, 100,000 all due, removed): binary 49 ms,
 * 4-ary 42, 8-ary 38, 16-ary 40. */
#define ARITY 8

static bool before(const struct hent *a, const struct hent *b)
{
    return a->expire_at < b->expire_at || (a->expire_at == b->expire_at && a->id < b->id);
}

static void heap_set(struct eph *e, size_t k, struct hent h)
{
    e->heap[k] = h;
    h.i->slot = k;
}

static void heap_up(struct eph *e, size_t k)
{
    struct hent h = e->heap[k];
    while (k > 0) {
        size_t parent = (k - 1) / ARITY;
        if (!before(&h, &e->heap[parent])) break;
        heap_set(e, k, e->heap[parent]);
        k = parent;
    }
    heap_set(e, k, h);
}

static void heap_down(struct eph *e, size_t k)
{
    struct hent h = e->heap[k];
    for (;;) {
        size_t first = ARITY * k + 1, best = first;
        if (first >= e->heap_n) break;
        size_t end = first + ARITY < e->heap_n ? first + ARITY : e->heap_n;
        for (size_t c = first + 1; c < end; c++)
            if (before(&e->heap[c], &e->heap[best])) best = c;
        if (!before(&e->heap[best], &h)) break;
        heap_set(e, k, e->heap[best]);
        k = best;
    }
    heap_set(e, k, h);
}

/* Room for one more instance in the heap. */
static int heap_reserve(struct eph *e)
{
    return util_grow((void **)&e->heap, &e->heap_cap, e->heap_n, sizeof *e->heap);
}

static void heap_add(struct eph *e, struct eph_inst *i)   /* room reserved */
{
    heap_set(e, e->heap_n++, (struct hent){i->expire_at, i->rec.id, i});
    heap_up(e, i->slot);
}

static void heap_del(struct eph *e, struct eph_inst *i)
{
    size_t k = i->slot;
    i->slot = NO_SLOT;
    struct hent last = e->heap[--e->heap_n];
    if (k == e->heap_n) return;
    heap_set(e, k, last);
    heap_up(e, k);
    heap_down(e, last.i->slot);
}

/* Recomputes expire_at after a change of beat time or health and moves the instance in the heap. */
static void reschedule(struct eph *e, struct eph_inst *i)
{
    const struct instance_rec *r = &i->rec;
    int64_t t = r->healthy ? (r->hb_timeout_ms < r->delete_timeout_ms ? r->hb_timeout_ms : r->delete_timeout_ms)
                           : r->delete_timeout_ms;
    int64_t old = i->expire_at;
    i->expire_at = r->last_beat_ms + t;
    if (i->slot == NO_SLOT) return;
    e->heap[i->slot].expire_at = i->expire_at;
    if (i->expire_at < old) heap_up(e, i->slot);
    else heap_down(e, i->slot);
}

/* ------------------------------------------------------------------ undo log */

static int undo_reserve(struct eph *e, size_t k)
{
    if (!e->in_txn) return 0;
    while (e->undo_cap < e->undo_n + k)
        if (util_grow((void **)&e->undo, &e->undo_cap, e->undo_cap, sizeof *e->undo)) return -1;
    return 0;
}

static void undo_push(struct eph *e, enum undo_op op, void *p)   /* room reserved */
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

/* ------------------------------------------------------------------ groups */

static struct group *group_by_id(struct eph *e, int64_t service_id)
{
    for (struct hnode *x = htab_first(&e->groups_by_id, id_hash(service_id)); x; x = x->next) {
        struct group *g = CONTAINER(x, struct group, by_id);
        if (g->service_id == service_id) return g;
    }
    return NULL;
}

static void group_link(struct eph *e, struct group *g)
{
    htab_add(&e->groups_by_id, &g->by_id, id_hash(g->service_id));
    htab_add(&e->groups_by_name, &g->by_name, name_hash(g->ns, g->name));
}

static void group_unlink(struct eph *e, struct group *g)
{
    htab_del(&e->groups_by_id, &g->by_id);
    htab_del(&e->groups_by_name, &g->by_name);
}

/* The group of service_id, made when absent. NULL when out of memory. */
static struct group *group_ensure(struct eph *e, int64_t service_id, const char *ns, const char *name)
{
    struct group *g = group_by_id(e, service_id);
    if (g) return g;
    if (htab_reserve(&e->groups_by_id) || htab_reserve(&e->groups_by_name) || undo_reserve(e, 1)) return NULL;
    size_t nl = strlen(ns) + 1, ml = strlen(name) + 1;
    g = calloc(1, sizeof *g + nl + ml);
    if (!g) return NULL;
    g->service_id = service_id;
    g->ns = memcpy(g->data, ns, nl);
    g->name = memcpy(g->data + nl, name, ml);
    group_link(e, g);
    undo_push(e, U_GROUP_NEW, g);
    return g;
}

/* ------------------------------------------------------------------ instances */

static void inst_link(struct eph *e, struct eph_inst *i)
{
    const struct instance_rec *r = &i->rec;
    htab_add(&e->by_key, &i->by_key, key_hash(r->service_id, r->cluster, r->ip, r->port));
    htab_add(&e->by_id, &i->by_id, id_hash(r->id));
    struct group *g = i->g;
    i->gprev = NULL;
    i->gnext = g->head;
    if (g->head) g->head->gprev = i;
    g->head = i;
    g->count++;
    e->n++;
    if (r->healthy) e->n_healthy++;
    if (!r->marked) heap_add(e, i);
}

static void inst_unlink(struct eph *e, struct eph_inst *i)
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
    if (i->slot != NO_SLOT) heap_del(e, i);
}

struct eph *eph_new(void)
{
    struct eph *e = calloc(1, sizeof *e);
    if (e) e->next_id = EPH_ID_BASE;
    return e;
}

/* Frees every instance and group (linked ones; the undo log must be empty). */
static void free_all(struct eph *e)
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
                free(CONTAINER(x, struct group, by_id));
            }
    }
    struct htab *t[] = {&e->by_key, &e->by_id, &e->groups_by_id, &e->groups_by_name};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        free(t[k]->b);
        memset(t[k], 0, sizeof *t[k]);
    }
    e->heap_n = 0;
    e->n = e->n_healthy = 0;
}

void eph_free(struct eph *e)
{
    if (!e) return;
    if (e->in_txn) eph_rollback(e);
    free_all(e);
    free(e->heap);
    free(e->undo);
    free(e);
}

struct eph_inst *eph_get(struct eph *e, int64_t service_id, const char *cluster, const char *ip, int port)
{
    for (struct hnode *x = htab_first(&e->by_key, key_hash(service_id, cluster, ip, port)); x; x = x->next) {
        struct eph_inst *i = CONTAINER(x, struct eph_inst, by_key);
        const struct instance_rec *r = &i->rec;
        if (r->service_id == service_id && r->port == port && !strcmp(r->ip, ip) && !strcmp(r->cluster, cluster))
            return i;
    }
    return NULL;
}

struct eph_inst *eph_get_named(struct eph *e, const char *ns, const char *service, const char *cluster,
                               const char *ip, int port)
{
    for (struct hnode *x = htab_first(&e->groups_by_name, name_hash(ns, service)); x; x = x->next) {
        struct group *g = CONTAINER(x, struct group, by_name);
        if (!strcmp(g->name, service) && !strcmp(g->ns, ns)) return eph_get(e, g->service_id, cluster, ip, port);
    }
    return NULL;
}

struct eph_inst *eph_get_id(struct eph *e, int64_t id)
{
    for (struct hnode *x = htab_first(&e->by_id, id_hash(id)); x; x = x->next) {
        struct eph_inst *i = CONTAINER(x, struct eph_inst, by_id);
        if (i->rec.id == id) return i;
    }
    return NULL;
}

const struct instance_rec *eph_rec(const struct eph_inst *i) { return &i->rec; }

int eph_put(struct eph *e, const struct instance_rec *in, const char *ns, const char *service,
            struct eph_inst *replace, int64_t *id_out)
{
    if (htab_reserve(&e->by_key) || htab_reserve(&e->by_id) || heap_reserve(e) || undo_reserve(e, 3)) return -1;
    struct group *g = group_ensure(e, in->service_id, ns, service);
    if (!g) return -1;
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
    r->registered_ms = in->registered_ms;
    r->last_beat_ms = in->last_beat_ms;
    r->hb_interval_ms = in->hb_interval_ms;
    r->hb_timeout_ms = in->hb_timeout_ms;
    r->delete_timeout_ms = in->delete_timeout_ms;
    r->owned_ = NULL;
    i->g = g;
    i->slot = NO_SLOT;
    if (replace) {
        r->id = replace->rec.id;
        inst_unlink(e, replace);
        if (e->in_txn) undo_push(e, U_REMOVE, replace);
        else free(replace);
    } else {
        r->id = e->next_id++;
    }
    reschedule(e, i);   /* not in the heap yet: only computes expire_at */
    inst_link(e, i);
    undo_push(e, U_INSERT, i);
    if (id_out) *id_out = r->id;
    return 0;
}

int eph_remove(struct eph *e, struct eph_inst *i)
{
    if (undo_reserve(e, 1)) return -1;
    inst_unlink(e, i);
    if (e->in_txn) undo_push(e, U_REMOVE, i);
    else free(i);
    return 0;
}

static void set_state(struct eph *e, struct eph_inst *i, bool healthy, int64_t last_beat_ms)
{
    if (i->rec.healthy != healthy) e->n_healthy += healthy ? 1 : -1;
    i->rec.healthy = healthy;
    i->rec.last_beat_ms = last_beat_ms;
    reschedule(e, i);
}

int eph_set_health(struct eph *e, struct eph_inst *i, bool healthy)
{
    if (undo_reserve(e, 1)) return -1;
    undo_push(e, U_STATE, i);
    set_state(e, i, healthy, i->rec.last_beat_ms);
    return 0;
}

int eph_beat(struct eph *e, struct eph_inst *i, int64_t now_ms)
{
    if (undo_reserve(e, 1)) return -1;
    undo_push(e, U_STATE, i);
    set_state(e, i, true, now_ms > i->rec.last_beat_ms ? now_ms : i->rec.last_beat_ms);
    return 0;
}

/* Unlinks the group (it must be empty); freed now, or at commit inside a transaction. */
static void group_drop(struct eph *e, struct group *g)
{
    group_unlink(e, g);
    if (e->in_txn) undo_push(e, U_GROUP_DROP, g);
    else free(g);
}

/* Removes the group's instances, and the group too when `drop`. */
static int remove_group(struct eph *e, int64_t service_id, bool drop, long *removed)
{
    struct group *g = group_by_id(e, service_id);
    long n = g ? g->count : 0;
    if (removed) *removed = 0;
    if (!g) return 0;
    if (undo_reserve(e, (size_t)n + 1)) return -1;
    while (g->head) eph_remove(e, g->head);
    if (drop) group_drop(e, g);
    if (removed) *removed = n;
    return 0;
}

int eph_remove_instances(struct eph *e, int64_t service_id, long *removed)
{
    return remove_group(e, service_id, false, removed);
}

int eph_remove_service(struct eph *e, int64_t service_id, long *removed)
{
    return remove_group(e, service_id, true, removed);
}

int eph_clear(struct eph *e)
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

long eph_count(struct eph *e, int64_t service_id)
{
    struct group *g = group_by_id(e, service_id);
    return g ? g->count : 0;
}

void eph_totals(const struct eph *e, long *instances, long *healthy)
{
    if (instances) *instances = e->n;
    if (healthy) *healthy = e->n_healthy;
}

int eph_list(struct eph *e, int64_t service_id, const struct instance_rec ***out, size_t *n)
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

int eph_services(struct eph *e, const char *ns, const char *service, int64_t **out, size_t *n)
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

size_t eph_due(struct eph *e, int64_t now_ms, size_t limit, const struct instance_rec **out)
{
    size_t k = 0;
    while (k < limit && e->heap_n && e->heap[0].expire_at < now_ms) {
        struct eph_inst *i = e->heap[0].i;
        heap_del(e, i);
        out[k++] = &i->rec;
    }
    for (size_t j = 0; j < k; j++) heap_add(e, CONTAINER(out[j], struct eph_inst, rec));
    return k;
}

long eph_sweep(struct eph *e, int64_t now_ms, size_t limit, store_verdict_cb cb, void *ctx)
{
    if (limit > (size_t)e->n) limit = (size_t)e->n;
    if (undo_reserve(e, limit)) return -1;
    struct eph_inst **kept = NULL;   /* due, but left as they are: out of the heap until the end */
    size_t n_kept = 0, cap_kept = 0, visited = 0;
    while (visited < limit && e->heap_n && e->heap[0].expire_at < now_ms) {
        struct eph_inst *i = e->heap[0].i;
        int v = cb(ctx, &i->rec);
        if (v < 0) break;
        visited++;
        if (v == STORE_REMOVE) {
            eph_remove(e, i);
        } else if (v == STORE_MARK_UNHEALTHY && i->rec.healthy) {
            eph_set_health(e, i, false);
        } else if (!util_grow((void **)&kept, &cap_kept, n_kept, sizeof *kept)) {
            heap_del(e, i);
            kept[n_kept++] = i;
        } else {
            break;   /* cannot set it aside: stop rather than visit it again */
        }
    }
    for (size_t k = 0; k < n_kept; k++) heap_add(e, kept[k]);   /* their slots are still reserved */
    free(kept);
    return (long)visited;
}

/* ------------------------------------------------------------------ transactions */

void eph_begin(struct eph *e)
{
    e->in_txn = true;
    e->undo_n = 0;
}

void eph_commit(struct eph *e)
{
    for (size_t k = 0; k < e->undo_n; k++) {
        struct undo *u = &e->undo[k];
        if (u->op == U_REMOVE || u->op == U_GROUP_DROP) free(u->p);
    }
    e->undo_n = 0;
    e->in_txn = false;
}

void eph_rollback(struct eph *e)
{
    while (e->undo_n) {
        struct undo *u = &e->undo[--e->undo_n];
        switch (u->op) {
        case U_INSERT:
            inst_unlink(e, u->p);
            free(u->p);
            break;
        case U_REMOVE:
            inst_link(e, u->p);   /* the heap had room for it before */
            break;
        case U_STATE:
            set_state(e, u->p, u->healthy, u->last_beat_ms);
            break;
        case U_GROUP_NEW:
            group_unlink(e, u->p);
            free(u->p);
            break;
        case U_GROUP_DROP:
            group_link(e, u->p);
            break;
        }
    }
    e->in_txn = false;
}
