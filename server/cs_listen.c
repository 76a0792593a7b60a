/*
 * cs_listen.c — the config listener registry (see cs_listen.h).
 *
 * One entry per listened key (namespace normalised, group, dataId), in a hash table; each entry has
 * a doubly linked list of its listeners ("subs"). A sub belongs to a poll (an array of subs allocated
 * with the poll) or to a connection (allocated one by one, also linked in its connection's list), so
 * ending a poll, removing one key of a connection or dropping a connection are all walks of what it
 * owns, and a change is a walk of the one key's list.
 */
#include "nacos_mock/cs_listen.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nacos_mock/util.h"

/* ---------------------------------------------------------------- an intrusive hash table */

struct hnode {
    struct hnode *next;
    uint64_t h;
};

struct htab {
    struct hnode **b;
    size_t nb, n;   /* buckets (a power of two), entries */
};

/* The first node with hash h for which eq(node, arg) holds, or NULL. */
static struct hnode *ht_find(const struct htab *t, uint64_t h, bool (*eq)(const struct hnode *, const void *),
                             const void *arg)
{
    if (!t->nb) return NULL;
    for (struct hnode *e = t->b[h & (t->nb - 1)]; e; e = e->next)
        if (e->h == h && eq(e, arg)) return e;
    return NULL;
}

/* Inserts e (e->h set). 0 ok, -1 out of memory (nothing changed). */
static int ht_insert(struct htab *t, struct hnode *e)
{
    if (t->n >= t->nb) {   /* load factor 1: double */
        size_t nb = t->nb ? t->nb * 2 : 64;
        struct hnode **b = calloc(nb, sizeof *b);
        if (!b) return -1;
        for (size_t i = 0; i < t->nb; i++)
            for (struct hnode *x = t->b[i], *next; x; x = next) {
                next = x->next;
                x->next = b[x->h & (nb - 1)];
                b[x->h & (nb - 1)] = x;
            }
        free(t->b);
        t->b = b;
        t->nb = nb;
    }
    struct hnode **slot = &t->b[e->h & (t->nb - 1)];
    e->next = *slot;
    *slot = e;
    t->n++;
    return 0;
}

static void ht_remove(struct htab *t, struct hnode *e)
{
    for (struct hnode **l = &t->b[e->h & (t->nb - 1)]; *l; l = &(*l)->next)
        if (*l == e) {
            *l = e->next;
            t->n--;
            return;
        }
}

/* ---------------------------------------------------------------- the registry */

struct lkey;
struct lconn;

struct sub {
    struct lkey *k;
    struct sub *prev, *next;        /* in k->subs */
    struct cs_poll *poll;           /* the poll owning it, or NULL for a connection's */
    size_t idx;                     /* its key's index in the poll */
    struct lconn *conn;             /* the connection owning it */
    struct sub *cprev, *cnext;      /* in conn->subs */
    char *tenant;                   /* connections: the spelling (owned) */
};

struct lkey {
    struct hnode node;              /* first: the table's nodes are keys */
    struct sub *subs;
    char *ns, *group, *data_id;     /* one allocation, through ns */
};

struct lconn {
    struct hnode node;
    uint64_t conn;
    struct sub *subs;
    size_t n;
};

struct cs_poll {
    size_t n;
    bool woken;
    cs_wake_fn wake;
    void *ctx;
    bool *changed;                  /* n flags, after subs */
    struct sub subs[];
};

/* Does the tenant mean the public namespace? (blank: only white space, as Java's isBlank) */
static bool is_public(const char *tenant)
{
    if (!tenant) return true;
    bool blank = true;
    for (const char *c = tenant; *c && blank; c++) blank = *c == ' ' || (*c >= '\t' && *c <= '\r');
    return blank || !strcasecmp(tenant, CS_PUBLIC) || !strcasecmp(tenant, "null");
}

const char *cs_namespace(const char *tenant) { return is_public(tenant) ? CS_PUBLIC : tenant; }

struct cs_listen {
    pthread_mutex_t mu;
    struct htab keys, conns;
    cs_push_hook hook;
    void *hook_ctx;
    long polls, poll_keys, conn_keys;
    unsigned long long wakes, pushes;
};

struct key_ref { const char *ns, *group, *data_id; };

static uint64_t key_hash(const char *ns, const char *group, const char *data_id)
{
    uint64_t h = util_fnv1a_more(UTIL_FNV1A_BASIS, ns, strlen(ns) + 1);
    h = util_fnv1a_more(h, group, strlen(group) + 1);
    return util_fnv1a_more(h, data_id, strlen(data_id));
}

static bool key_eq(const struct hnode *n, const void *arg)
{
    const struct lkey *k = (const struct lkey *)n;
    const struct key_ref *r = arg;
    return !strcmp(k->data_id, r->data_id) && !strcmp(k->group, r->group) && !strcmp(k->ns, r->ns);
}

static uint64_t conn_hash(uint64_t conn) { return util_fnv1a(&conn, sizeof conn); }

static bool conn_eq(const struct hnode *n, const void *arg)
{
    return ((const struct lconn *)n)->conn == *(const uint64_t *)arg;
}

struct cs_listen *cs_listen_new(void)
{
    struct cs_listen *l = calloc(1, sizeof *l);
    if (l) pthread_mutex_init(&l->mu, NULL);
    return l;
}

static struct lkey *key_find(struct cs_listen *l, const char *ns, const char *group, const char *data_id)
{
    struct key_ref r = {ns, group, data_id};
    return (struct lkey *)ht_find(&l->keys, key_hash(ns, group, data_id), key_eq, &r);
}

/* The entry of a key, made when new. NULL when out of memory. */
static struct lkey *key_get(struct cs_listen *l, const char *ns, const char *group, const char *data_id)
{
    struct lkey *k = key_find(l, ns, group, data_id);
    if (k) return k;
    size_t a = strlen(ns) + 1, b = strlen(group) + 1, c = strlen(data_id) + 1;
    k = calloc(1, sizeof *k);
    char *s = malloc(a + b + c);
    if (!k || !s) goto oom;
    k->ns = memcpy(s, ns, a);
    k->group = memcpy(s + a, group, b);
    k->data_id = memcpy(s + a + b, data_id, c);
    k->node.h = key_hash(ns, group, data_id);
    if (ht_insert(&l->keys, &k->node)) goto oom;
    return k;
oom:
    free(s);
    free(k);
    return NULL;
}

static void key_link(struct lkey *k, struct sub *s)
{
    s->k = k;
    s->prev = NULL;
    s->next = k->subs;
    if (k->subs) k->subs->prev = s;
    k->subs = s;
}

/* Unlinks s from its key, and frees the key entry with its last listener. */
static void key_unlink(struct cs_listen *l, struct sub *s)
{
    struct lkey *k = s->k;
    if (s->prev) s->prev->next = s->next;
    else k->subs = s->next;
    if (s->next) s->next->prev = s->prev;
    if (!k->subs) {
        ht_remove(&l->keys, &k->node);
        free(k->ns);
        free(k);
    }
}

void cs_listen_free(struct cs_listen *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->conns.nb; i++)
        for (struct hnode *n = l->conns.b[i], *next; n; n = next) {
            next = n->next;
            struct lconn *c = (struct lconn *)n;
            for (struct sub *s = c->subs, *sn; s; s = sn) {
                sn = s->cnext;
                free(s->tenant);
                free(s);
            }
            free(c);
        }
    for (size_t i = 0; i < l->keys.nb; i++)
        for (struct hnode *n = l->keys.b[i], *next; n; n = next) {
            next = n->next;
            free(((struct lkey *)n)->ns);
            free(n);
        }
    free(l->keys.b);
    free(l->conns.b);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ---------------------------------------------------------------- polls */

struct cs_poll *cs_listen_poll_add(struct cs_listen *l, const struct cs_listen_key *keys, size_t n, cs_wake_fn wake,
                                   void *ctx)
{
    struct cs_poll *p = calloc(1, sizeof *p + n * sizeof p->subs[0] + n);
    if (!p) return NULL;
    p->n = n;
    p->wake = wake;
    p->ctx = ctx;
    p->changed = (bool *)(p->subs + n);
    pthread_mutex_lock(&l->mu);
    size_t i;
    for (i = 0; i < n; i++) {
        struct lkey *k = key_get(l, cs_namespace(keys[i].tenant), keys[i].group, keys[i].data_id);
        if (!k) break;
        p->subs[i] = (struct sub){.poll = p, .idx = i};
        key_link(k, &p->subs[i]);
    }
    if (i < n) {   /* out of memory: undo */
        while (i--) key_unlink(l, &p->subs[i]);
        pthread_mutex_unlock(&l->mu);
        free(p);
        return NULL;
    }
    l->polls++;
    l->poll_keys += (long)n;
    pthread_mutex_unlock(&l->mu);
    return p;
}

size_t cs_listen_poll_end(struct cs_listen *l, struct cs_poll *p, bool *changed)
{
    if (!p) return 0;
    size_t k = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < p->n; i++) {
        key_unlink(l, &p->subs[i]);
        k += p->changed[i];
        if (changed) changed[i] = p->changed[i];
    }
    l->polls--;
    l->poll_keys -= (long)p->n;
    pthread_mutex_unlock(&l->mu);
    free(p);
    return k;
}

/* ---------------------------------------------------------------- connections */

void cs_listen_set_push_hook(struct cs_listen *l, cs_push_hook hook, void *ctx)
{
    pthread_mutex_lock(&l->mu);
    l->hook = hook;
    l->hook_ctx = ctx;
    pthread_mutex_unlock(&l->mu);
}

static struct lconn *conn_find(struct cs_listen *l, uint64_t conn)
{
    return (struct lconn *)ht_find(&l->conns, conn_hash(conn), conn_eq, &conn);
}

/* conn's listener of k with this spelling, or NULL. */
static struct sub *conn_sub(struct lkey *k, uint64_t conn, const char *tenant)
{
    for (struct sub *s = k ? k->subs : NULL; s; s = s->next)
        if (s->conn && s->conn->conn == conn && !strcmp(s->tenant, tenant)) return s;
    return NULL;
}

/* Unlinks and frees a connection's listener; the connection entry goes with its last one. */
static void conn_sub_free(struct cs_listen *l, struct sub *s)
{
    struct lconn *c = s->conn;
    key_unlink(l, s);
    if (s->cprev) s->cprev->cnext = s->cnext;
    else c->subs = s->cnext;
    if (s->cnext) s->cnext->cprev = s->cprev;
    c->n--;
    l->conn_keys--;
    free(s->tenant);
    free(s);
    if (!c->subs) {
        ht_remove(&l->conns, &c->node);
        free(c);
    }
}

int cs_listen_conn_add(struct cs_listen *l, uint64_t conn, const char *data_id, const char *group, const char *tenant)
{
    if (!tenant) tenant = "";
    int rc = -1;
    struct sub *s = NULL;
    pthread_mutex_lock(&l->mu);
    struct lkey *k = key_get(l, cs_namespace(tenant), group, data_id);
    if (!k) goto out;
    if (conn_sub(k, conn, tenant)) {
        rc = 1;
        goto out;
    }
    struct lconn *c = conn_find(l, conn);
    bool new_conn = !c;
    if (new_conn) {
        if (!(c = calloc(1, sizeof *c))) goto undo;
        c->conn = conn;
        c->node.h = conn_hash(conn);
        if (ht_insert(&l->conns, &c->node)) {
            free(c);
            goto undo;
        }
    }
    if (!(s = calloc(1, sizeof *s)) || !(s->tenant = strdup(tenant))) {
        free(s);
        if (new_conn) {
            ht_remove(&l->conns, &c->node);
            free(c);
        }
        goto undo;
    }
    s->conn = c;
    key_link(k, s);
    s->cnext = c->subs;
    if (c->subs) c->subs->cprev = s;
    c->subs = s;
    c->n++;
    l->conn_keys++;
    rc = 0;
    goto out;
undo:
    if (!k->subs) {   /* made for this listener */
        ht_remove(&l->keys, &k->node);
        free(k->ns);
        free(k);
    }
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int cs_listen_conn_remove(struct cs_listen *l, uint64_t conn, const char *data_id, const char *group,
                          const char *tenant)
{
    if (!tenant) tenant = "";
    pthread_mutex_lock(&l->mu);
    struct sub *s = conn_sub(key_find(l, cs_namespace(tenant), group, data_id), conn, tenant);
    if (s) conn_sub_free(l, s);
    pthread_mutex_unlock(&l->mu);
    return s ? 0 : 1;
}

size_t cs_listen_conn_drop(struct cs_listen *l, uint64_t conn)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    struct lconn *c = conn_find(l, conn);
    if (c) {
        n = c->n;
        while (c->n > 1) conn_sub_free(l, c->subs);
        conn_sub_free(l, c->subs);   /* frees c too */
    }
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* ---------------------------------------------------------------- changes */

struct push_target {
    uint64_t conn;
    char *tenant;
};

size_t cs_listen_changed(struct cs_listen *l, const char *ns, const char *group, const char *data_id)
{
    struct push_target *v = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&l->mu);
    cs_push_hook hook = l->hook;
    void *hook_ctx = l->hook_ctx;
    struct lkey *k = key_find(l, ns, group, data_id);
    for (struct sub *s = k ? k->subs : NULL; s; s = s->next) {
        if (s->poll) {
            s->poll->changed[s->idx] = true;
            if (!s->poll->woken) {
                s->poll->woken = true;
                l->wakes++;
                if (s->poll->wake) s->poll->wake(s->poll->ctx);
            }
        } else if (hook) {
            char *t = strdup(s->tenant);
            if (!t || util_grow((void **)&v, &cap, n, sizeof *v)) {
                free(t);
                continue;   /* out of memory: this connection misses the push (it still polls) */
            }
            v[n++] = (struct push_target){s->conn->conn, t};
        }
    }
    l->pushes += n;
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        hook(hook_ctx, v[i].conn, data_id, group, v[i].tenant);
        free(v[i].tenant);
    }
    free(v);
    return n;
}

void cs_listen_get_stats(struct cs_listen *l, struct cs_listen_stats *out)
{
    pthread_mutex_lock(&l->mu);
    *out = (struct cs_listen_stats){.polls = l->polls, .poll_keys = l->poll_keys, .conns = (long)l->conns.n,
                                    .conn_keys = l->conn_keys, .wakes = l->wakes, .pushes = l->pushes};
    pthread_mutex_unlock(&l->mu);
}
