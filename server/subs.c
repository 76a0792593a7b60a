/*
 * subs.c — the subscriber registry and the queue of changed services (see subs.h).
 */
#include "nacos_mock/subs.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nacos_mock/clock.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/util.h"

struct sub {
    enum subs_kind kind;
    char *ns, *service, *clusters;   /* one allocation, owned through ns */
    struct sockaddr_storage addr;    /* UDP */
    socklen_t alen;
    bool java_ge_1;
    int64_t refreshed_mono;          /* UDP */
    uint64_t conn;                   /* connection */
};

struct pending { char *ns, *service; };   /* one allocation, owned through ns */

/* How many subscribers (of both kinds) a (namespace, service) has, in a chained hash table:
 * subs_changed asks for every change of any service, and that was a scan of every subscriber
 * (~60 instructions each: with 2,000 subscribers ~120 k per register of an unsubscribed service,
 * twice the register itself). */
struct svc_count {
    struct svc_count *next;
    uint64_t hash;
    size_t n;
    char *ns, *service;              /* one allocation, owned through ns */
};

struct subs {
    pthread_mutex_t mu;
    int wake;
    struct sub *v;
    size_t n, cap;
    _Atomic size_t n_any;            /* n, read without the lock: a change with no subscriber at all
                                        (the usual case under load) takes no lock */
    struct pending *pend;
    size_t n_pend, cap_pend;
    struct svc_count **buckets;      /* n_buckets: 0 or a power of two */
    size_t n_buckets, n_counts;
    int64_t pend_deadline;           /* monotonic ms when the queued changes go out; 0 = none */
};

/* Three strings in one allocation; *a gets it. -1 out of memory. */
static int dup_names(const char *a, const char *b, const char *c, char **pa, char **pb, char **pc)
{
    size_t la = strlen(a) + 1, lb = strlen(b) + 1, lc = c ? strlen(c) + 1 : 0;
    char *p = malloc(la + lb + lc);
    if (!p) return -1;
    *pa = memcpy(p, a, la);
    *pb = memcpy(p + la, b, lb);
    if (pc) *pc = memcpy(p + la + lb, c, lc);
    return 0;
}

struct subs *subs_create(void)
{
    struct subs *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake < 0) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void subs_free(struct subs *s)
{
    if (!s) return;
    for (size_t b = 0; b < s->n_buckets; b++)
        for (struct svc_count *e = s->buckets[b], *next; e; e = next) {
            next = e->next;
            free(e->ns);
            free(e);
        }
    free(s->buckets);
    for (size_t i = 0; i < s->n; i++) free(s->v[i].ns);
    for (size_t i = 0; i < s->n_pend; i++) free(s->pend[i].ns);
    free(s->v);
    free(s->pend);
    close(s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int subs_wake_fd(const struct subs *s) { return s->wake; }

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) && x->sin6_port == y->sin6_port;
}

static uint64_t svc_hash(const char *ns, const char *service)
{
    return util_fnv1a_more(util_fnv1a(ns, strlen(ns) + 1), service, strlen(service));
}

/* With mu held: the link that points at (ns, service)'s count, or at the end of its chain. */
static struct svc_count **count_link(struct subs *s, const char *ns, const char *service, uint64_t h)
{
    struct svc_count **l = &s->buckets[h & (s->n_buckets - 1)];
    while (*l && ((*l)->hash != h || strcmp((*l)->service, service) || strcmp((*l)->ns, ns))) l = &(*l)->next;
    return l;
}

static size_t count_of(struct subs *s, const char *ns, const char *service)
{
    if (!s->n_buckets) return 0;
    struct svc_count *e = *count_link(s, ns, service, svc_hash(ns, service));
    return e ? e->n : 0;
}

/* With mu held: one more subscriber of (ns, service). -1 out of memory. */
static int count_add(struct subs *s, const char *ns, const char *service)
{
    if (s->n_counts >= s->n_buckets) {   /* keep chains short: rehash into twice the buckets */
        size_t nb = s->n_buckets ? s->n_buckets * 2 : 64;
        struct svc_count **b = calloc(nb, sizeof *b);
        if (!b) return -1;
        for (size_t i = 0; i < s->n_buckets; i++)
            for (struct svc_count *e = s->buckets[i], *next; e; e = next) {
                next = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
            }
        free(s->buckets);
        s->buckets = b;
        s->n_buckets = nb;
    }
    uint64_t h = svc_hash(ns, service);
    struct svc_count **l = count_link(s, ns, service, h), *e = *l;
    if (!e) {
        if (!(e = calloc(1, sizeof *e)) || dup_names(ns, service, NULL, &e->ns, &e->service, NULL)) {
            free(e);
            return -1;
        }
        e->hash = h;
        *l = e;
        s->n_counts++;
    }
    e->n++;
    return 0;
}

/* With mu held: one subscriber of (ns, service) fewer. */
static void count_sub(struct subs *s, const char *ns, const char *service)
{
    if (!s->n_buckets) return;
    struct svc_count **l = count_link(s, ns, service, svc_hash(ns, service)), *e = *l;
    if (!e || --e->n) return;
    *l = e->next;
    free(e->ns);
    free(e);
    s->n_counts--;
}

static bool same_key(const struct sub *x, const char *ns, const char *service, const char *clusters)
{
    return !strcmp(x->ns, ns) && !strcmp(x->service, service) && !strcmp(x->clusters, clusters);
}

/* With mu held: appends a subscriber with copies of the names. NULL when out of memory. */
static struct sub *append(struct subs *s, enum subs_kind kind, const char *ns, const char *service,
                          const char *clusters)
{
    if (util_grow((void **)&s->v, &s->cap, s->n, sizeof *s->v)) return NULL;
    struct sub *x = &s->v[s->n];
    memset(x, 0, sizeof *x);
    if (dup_names(ns, service, clusters, &x->ns, &x->service, &x->clusters)) return NULL;
    if (count_add(s, ns, service)) {
        free(x->ns);
        return NULL;
    }
    x->kind = kind;
    s->n++;
    atomic_store(&s->n_any, s->n);
    return x;
}

/* With mu held: removes v[i] (order is not kept). */
static void remove_at(struct subs *s, size_t i)
{
    count_sub(s, s->v[i].ns, s->v[i].service);
    free(s->v[i].ns);
    s->v[i] = s->v[--s->n];
    atomic_store(&s->n_any, s->n);
}

bool subs_add_udp(struct subs *s, const char *ns, const char *service, const char *clusters,
                  const struct sockaddr_storage *peer, int udp_port, const char *user_agent, int64_t now_mono)
{
    if (!s || udp_port <= 0 || udp_port > 65535 || !naming_ua_push_capable(user_agent)) return false;
    if (peer->ss_family != AF_INET && peer->ss_family != AF_INET6) return false;
    struct sockaddr_storage target = *peer;   /* the HTTP peer, never the clientIP parameter */
    socklen_t alen;
    if (target.ss_family == AF_INET) {
        ((struct sockaddr_in *)&target)->sin_port = htons((uint16_t)udp_port);
        alen = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)&target)->sin6_port = htons((uint16_t)udp_port);
        alen = sizeof(struct sockaddr_in6);
    }
    bool java = naming_ua_java_ge_1(user_agent), ok = false;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        struct sub *x = &s->v[i];
        if (x->kind == SUBS_UDP && same_key(x, ns, service, clusters) && same_addr(&x->addr, &target)) {
            x->refreshed_mono = now_mono;
            x->java_ge_1 = java;
            ok = true;
            goto out;
        }
    }
    struct sub *x = append(s, SUBS_UDP, ns, service, clusters);
    if (x) {
        x->addr = target;
        x->alen = alen;
        x->java_ge_1 = java;
        x->refreshed_mono = now_mono;
        ok = true;
    }
out:
    pthread_mutex_unlock(&s->mu);
    return ok;
}

long subs_forget_udp(struct subs *s, const char *ns, const char *service)
{
    long removed = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n;) {
        const struct sub *x = &s->v[i];
        if (x->kind == SUBS_UDP && (!ns || !strcmp(x->ns, ns)) && (!service || !strcmp(x->service, service))) {
            remove_at(s, i);
            removed++;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return removed;
}

/* With mu held: the subscription of `conn` to (ns, service), whatever its clusters; NULL when none. */
static struct sub *conn_sub(struct subs *s, uint64_t conn, const char *ns, const char *service)
{
    for (size_t i = 0; i < s->n; i++) {
        struct sub *x = &s->v[i];
        if (x->kind == SUBS_CONN && x->conn == conn && !strcmp(x->service, service) && !strcmp(x->ns, ns)) return x;
    }
    return NULL;
}

int subs_add_conn(struct subs *s, uint64_t conn, const char *ns, const char *service, const char *clusters)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    struct sub *x = conn_sub(s, conn, ns, service);
    if (x && strcmp(x->clusters, clusters)) {   /* one per (connection, service): the new clusters win */
        char *a, *b, *c;
        if (dup_names(ns, service, clusters, &a, &b, &c)) {
            rc = -1;
        } else {
            free(x->ns);
            x->ns = a;
            x->service = b;
            x->clusters = c;
        }
    } else if (!x) {
        if ((x = append(s, SUBS_CONN, ns, service, clusters))) x->conn = conn;
        else rc = -1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int subs_remove_conn(struct subs *s, uint64_t conn, const char *ns, const char *service)
{
    int rc = 1;
    pthread_mutex_lock(&s->mu);
    struct sub *x = conn_sub(s, conn, ns, service);
    if (x) {
        remove_at(s, (size_t)(x - s->v));
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

long subs_drop_conn(struct subs *s, uint64_t conn)
{
    long removed = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n;) {
        if (s->v[i].kind == SUBS_CONN && s->v[i].conn == conn) {
            remove_at(s, i);
            removed++;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return removed;
}

long subs_count_conn(struct subs *s, uint64_t conn)
{
    long n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) n += s->v[i].kind == SUBS_CONN && s->v[i].conn == conn;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void subs_foreach_conn(struct subs *s, uint64_t conn, void (*cb)(void *ctx, const char *ns, const char *service,
                                                                const char *clusters), void *ctx)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].kind == SUBS_CONN && s->v[i].conn == conn) cb(ctx, s->v[i].ns, s->v[i].service, s->v[i].clusters);
    pthread_mutex_unlock(&s->mu);
}

void subs_changed(struct subs *s, const char *ns, const char *service)
{
    /* A subscriber taken concurrently is not missed: a list subscribes before it reads the registry,
     * and a change is made before it is announced here. */
    if (!s || !atomic_load(&s->n_any)) return;
    pthread_mutex_lock(&s->mu);
    bool has_sub = count_of(s, ns, service) > 0, queued = false;
    for (size_t i = 0; i < s->n_pend && has_sub && !queued; i++)
        queued = !strcmp(s->pend[i].ns, ns) && !strcmp(s->pend[i].service, service);
    if (has_sub && !queued && util_grow((void **)&s->pend, &s->cap_pend, s->n_pend, sizeof *s->pend) == 0) {
        struct pending *e = &s->pend[s->n_pend];
        if (dup_names(ns, service, NULL, &e->ns, &e->service, NULL) == 0) {
            s->n_pend++;
            if (!s->pend_deadline) s->pend_deadline = clock_mono_ms() + SUBS_COALESCE_MS;
            uint64_t one = 1;
            ssize_t w = write(s->wake, &one, sizeof one);
            (void)w;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

size_t subs_take_due(struct subs *s, int64_t now_mono, struct subs_job **jobs_out, int64_t *wait_ms)
{
    *jobs_out = NULL;
    *wait_ms = INT32_MAX;
    struct subs_job *jobs = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n;) {
        if (s->v[i].kind == SUBS_UDP && now_mono - s->v[i].refreshed_mono > SUBS_UDP_TTL_MS) remove_at(s, i);
        else i++;
    }
    if (!s->pend_deadline) goto out;
    if (now_mono < s->pend_deadline) {
        *wait_ms = s->pend_deadline - now_mono;
        goto out;
    }
    for (size_t k = 0; k < s->n_pend; k++) {
        for (size_t i = 0; i < s->n; i++) {
            const struct sub *x = &s->v[i];
            if (strcmp(x->ns, s->pend[k].ns) || strcmp(x->service, s->pend[k].service)) continue;
            if (util_grow((void **)&jobs, &cap, n, sizeof *jobs)) break;
            struct subs_job *j = &jobs[n];
            memset(j, 0, sizeof *j);
            if (dup_names(x->ns, x->service, x->clusters, &j->ns, &j->service, &j->clusters)) continue;
            j->kind = x->kind;
            j->addr = x->addr;
            j->alen = x->alen;
            j->java_ge_1 = x->java_ge_1;
            j->conn = x->conn;
            n++;
        }
        free(s->pend[k].ns);
    }
    s->n_pend = 0;
    s->pend_deadline = 0;
out:
    pthread_mutex_unlock(&s->mu);
    *jobs_out = jobs;
    return n;
}

void subs_jobs_free(struct subs_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) free(jobs[i].ns);
    free(jobs);
}

void subs_get_stats(struct subs *s, struct subs_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].kind == SUBS_UDP) out->udp++;
        else out->conn++;
    }
    pthread_mutex_unlock(&s->mu);
}
