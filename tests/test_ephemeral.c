/*
 * test_ephemeral.c — unit tests of the in-memory registry (ephemeral.h): lookups, due order,
 * transactions (rollback puts back exactly what was there, services' attributes included), service
 * lifetime, and a long random run over several shards checked step by step against a plain array
 * model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/ephemeral.h"

#define T0 INT64_C(1000000000000)

static struct instance_rec mk(int64_t sid, const char *ip, int port, int64_t last_beat)
{
    static char id[8][64];
    static int k;
    char *buf = id[k++ % 8];
    snprintf(buf, 64, "%s#%d", ip, port);
    return (struct instance_rec){.service_id = sid, .cluster = "DEFAULT", .ip = ip, .port = port, .instance_id = buf,
                                 .weight = 1.0, .healthy = true, .enabled = true, .ephemeral = true,
                                 .metadata = "{}", .registered_ms = last_beat, .last_beat_ms = last_beat,
                                 .hb_interval_ms = 5000, .hb_timeout_ms = 15000, .delete_timeout_ms = 30000};
}

/* The service sid (named `name`) in shard s, added when absent. */
static void ensure(struct eph_shard *s, int64_t sid, const char *name)
{
    if (eph_svc_get_id(s, sid)) return;
    struct eph_svc_attrs a = {.metadata = "{}", .selector = "{}"};
    assert_int_equal(eph_svc_add(s, sid, "public", name, &a), 0);
}

static int64_t put(struct eph_shard *s, const struct instance_rec *in, const char *name)
{
    ensure(s, in->service_id, name);
    int64_t id = 0;
    assert_int_equal(eph_put(s, in, NULL, &id), 0);
    return id;
}

static void test_put_get_remove(void **state)
{
    (void)state;
    struct eph *all = eph_new();
    struct eph_shard *e = eph_shard(all, 3);
    struct instance_rec a = mk(7, "10.0.0.1", 80, T0);
    a.app = "shop";
    int64_t ia = put(e, &a, "G@@a");
    struct instance_rec b = mk(7, "10.0.0.2", 80, T0);
    int64_t ib = put(e, &b, "G@@a");
    assert_true(ia >= EPH_ID_BASE);
    assert_int_equal(ib, ia + EPH_SHARDS);   /* the shard is in the low bits */
    assert_int_equal(eph_shard_of_id(ia), 3);

    struct eph_inst *x = eph_get(e, 7, "DEFAULT", "10.0.0.1", 80);
    assert_non_null(x);
    const struct instance_rec *r = eph_rec(x);
    assert_int_equal(r->id, ia);
    assert_string_equal(r->ns, "public");
    assert_string_equal(r->service, "G@@a");
    assert_string_equal(r->instance_id, "10.0.0.1#80");
    assert_string_equal(r->app, "shop");
    assert_true(r->ephemeral && r->healthy);
    assert_ptr_equal(eph_get_named(e, "public", "G@@a", "DEFAULT", "10.0.0.1", 80), x);
    assert_ptr_equal(eph_get_id(e, ia), x);
    assert_null(eph_get(e, 7, "DEFAULT", "10.0.0.1", 81));
    assert_null(eph_get(e, 8, "DEFAULT", "10.0.0.1", 80));
    assert_null(eph_get_named(e, "other", "G@@a", "DEFAULT", "10.0.0.1", 80));
    assert_null(eph_get_id(e, ib + 1));

    /* replacing keeps the id; the old strings are not referenced */
    struct instance_rec a2 = mk(7, "10.0.0.1", 80, T0 + 5);
    a2.instance_id = "replaced";
    int64_t id2 = 0;
    assert_int_equal(eph_put(e, &a2, x, &id2), 0);
    assert_int_equal(id2, ia);
    x = eph_get(e, 7, "DEFAULT", "10.0.0.1", 80);
    assert_string_equal(eph_rec(x)->instance_id, "replaced");
    assert_null(eph_rec(x)->app);
    assert_int_equal(eph_count(e, 7), 2);

    assert_int_equal(eph_remove(e, x), 0);
    assert_null(eph_get_id(e, ia));
    assert_int_equal(eph_count(e, 7), 1);
    long n = 0, healthy = 0;
    eph_totals(e, &n, &healthy);
    assert_int_equal(n, 1);
    assert_int_equal(healthy, 1);
    /* an instance of a service the shard does not have is refused */
    struct instance_rec stray = mk(99, "10.0.0.9", 80, T0);
    assert_int_equal(eph_put(e, &stray, NULL, NULL), -1);
    eph_free(all);
}

static void test_due_order_and_rules(void **state)
{
    (void)state;
    struct eph *all = eph_new();
    struct eph_shard *e = eph_shard(all, 0);
    struct instance_rec a = mk(1, "10.0.0.1", 1, T0 + 100);   /* due at T0 + 15100 */
    struct instance_rec b = mk(1, "10.0.0.2", 1, T0);         /* T0 + 15000 */
    struct instance_rec c = mk(1, "10.0.0.3", 1, T0);         /* T0 + 15000, a later id */
    struct instance_rec m = mk(1, "10.0.0.4", 1, T0 - 99999); /* marked: never due */
    m.marked = true;
    struct instance_rec u = mk(1, "10.0.0.5", 1, T0);         /* unhealthy: due at T0 + 30000 */
    u.healthy = false;
    struct instance_rec d = mk(1, "10.0.0.6", 1, T0);         /* delete timeout below the beat timeout */
    d.delete_timeout_ms = 9000;
    int64_t ia = put(e, &a, "s"), ib = put(e, &b, "s"), ic = put(e, &c, "s");
    put(e, &m, "s");
    int64_t iu = put(e, &u, "s"), id = put(e, &d, "s");

    const struct instance_rec *due[8];
    assert_int_equal(eph_due(e, T0 + 9000, 8, due), 0);   /* strictly past due */
    assert_int_equal(eph_due(e, T0 + 9001, 8, due), 1);
    assert_int_equal(due[0]->id, id);
    assert_int_equal(eph_due(e, T0 + 40000, 8, due), 5);
    int64_t want[] = {id, ib, ic, ia, iu};
    for (int k = 0; k < 5; k++) assert_int_equal(due[k]->id, want[k]);
    assert_int_equal(eph_due(e, T0 + 40000, 2, due), 2);   /* the limit takes the soonest */
    assert_int_equal(due[1]->id, ib);

    /* unhealthy moves the due time to last beat + delete timeout; a beat to now + beat timeout */
    assert_int_equal(eph_set_health(e, eph_get_id(e, ib), false), 0);
    assert_int_equal(eph_beat(e, eph_get_id(e, id), T0 + 20000), 0);
    assert_int_equal(eph_due(e, T0 + 30001, 8, due), 5);
    int64_t want2[] = {ic, ia, id, ib, iu};   /* id: T0 + 20000 + 9000; ib, iu: T0 + 30000 */
    for (int k = 0; k < 5; k++) assert_int_equal(due[k]->id, want2[k]);
    /* a beat restores health and never moves the last beat back */
    assert_int_equal(eph_beat(e, eph_get_id(e, ib), T0 - 5), 0);
    assert_true(eph_rec(eph_get_id(e, ib))->healthy);
    assert_int_equal(eph_rec(eph_get_id(e, ib))->last_beat_ms, T0);
    eph_free(all);
}

/* A canonical text of the whole table (every field of every instance, sorted, and the due order),
 * to compare states before and after a rollback. Caller frees. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int dump_svc(void *ctx, struct eph_svc *v)
{
    char ***lines = ctx, buf[512];
    const struct eph_svc_attrs *a = eph_svc_attrs(v);
    snprintf(buf, sizeof buf, "svc %lld %s %s %g %s %s %d %lld %lld %lld %ld count=%ld\n", (long long)eph_svc_id(v),
             eph_svc_ns(v), eph_svc_name(v), a->protect_threshold, a->metadata, a->selector, a->explicit_,
             (long long)a->created_ms, (long long)a->empty_since_ms, (long long)a->revision, a->n_persistent,
             eph_svc_count(v));
    *(*lines)++ = strdup(buf);
    return 0;
}

static char *dump(struct eph_shard *e)
{
    const struct instance_rec **v = NULL;
    size_t n = 0;
    assert_int_equal(eph_list(e, 0, &v, &n), 0);
    long nsvc = eph_svc_total(e);
    char **lines = calloc(n + (size_t)nsvc + 1, sizeof *lines), **w = lines + n;
    eph_svc_foreach(e, dump_svc, &w);
    size_t total = 64;
    for (long k = 0; k < nsvc; k++) total += strlen(lines[n + (size_t)k]);
    for (size_t k = 0; k < n; k++) {
        const struct instance_rec *r = v[k];
        char buf[512];
        snprintf(buf, sizeof buf, "%lld %lld %s %s %s %s %d %s %g %d%d%d%d %s %s %lld %lld %lld %lld %lld\n",
                 (long long)r->id, (long long)r->service_id, r->ns, r->service, r->cluster, r->ip, r->port,
                 r->instance_id, r->weight, r->healthy, r->enabled, r->ephemeral, r->marked, r->metadata,
                 r->app ? r->app : "-", (long long)r->registered_ms, (long long)r->last_beat_ms,
                 (long long)r->hb_interval_ms, (long long)r->hb_timeout_ms, (long long)r->delete_timeout_ms);
        lines[k] = strdup(buf);
        total += strlen(buf);
    }
    free(v);
    n += (size_t)nsvc;
    qsort(lines, n, sizeof *lines, cmp_str);
    long cnt = 0, healthy = 0;
    eph_totals(e, &cnt, &healthy);
    const struct instance_rec **due = calloc(n + 1, sizeof *due);
    size_t nd = eph_due(e, INT64_MAX, (size_t)cnt, due);
    size_t cap = total + 24 * (nd + 2);
    char *out = malloc(cap);
    size_t o = (size_t)snprintf(out, cap, "n=%ld healthy=%ld\n", cnt, healthy);
    for (size_t k = 0; k < n; k++) {
        o += (size_t)snprintf(out + o, cap - o, "%s", lines[k]);
        free(lines[k]);
    }
    o += (size_t)snprintf(out + o, cap - o, "due:");
    for (size_t k = 0; k < nd; k++) o += (size_t)snprintf(out + o, cap - o, " %lld", (long long)due[k]->id);
    free(due);
    free(lines);
    return out;
}

/* Service attributes as a test sets them: scalars from `k`, and texts only when `texts`. */
static void set_attrs(struct eph_shard *e, int64_t sid, int k, bool texts)
{
    struct eph_svc *v = eph_svc_get_id(e, sid);
    assert_non_null(v);
    struct eph_svc_attrs a = *eph_svc_attrs(v);
    char md[32];
    snprintf(md, sizeof md, "{\"k\":\"%d\"}", k);
    a.revision += k;
    a.empty_since_ms = k % 2 ? T0 + k : 0;
    a.n_persistent = k % 3;
    a.protect_threshold = k / 100.0;
    if (texts) a.metadata = md;   /* copied: md may go */
    assert_int_equal(eph_svc_set(e, v, &a), 0);
}

static void test_rollback_restores(void **state)
{
    (void)state;
    struct eph *all = eph_new();
    struct eph_shard *e = eph_shard(all, 7);
    for (int k = 0; k < 50; k++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.1.%d", k);
        struct instance_rec r = mk(1 + k % 3, ip, 80, T0 + k);
        r.healthy = k % 4 != 0;
        char name[16];
        snprintf(name, sizeof name, "svc%d", 1 + k % 3);
        put(e, &r, name);
    }
    set_attrs(e, 1, 5, true);   /* outside a transaction: kept at once */
    char *before = dump(e);

    eph_begin(e);
    struct instance_rec n1 = mk(1, "10.9.9.9", 1, T0);
    put(e, &n1, "svc1");
    struct instance_rec n2 = mk(42, "10.9.9.9", 1, T0);   /* a new service */
    put(e, &n2, "svc42");
    struct instance_rec rep = mk(2, "10.0.1.1", 80, T0 + 777);
    rep.instance_id = "replaced";
    assert_int_equal(eph_put(e, &rep, eph_get(e, 2, "DEFAULT", "10.0.1.1", 80), NULL), 0);
    assert_int_equal(eph_remove(e, eph_get(e, 3, "DEFAULT", "10.0.1.2", 80)), 0);
    assert_int_equal(eph_set_health(e, eph_get(e, 1, "DEFAULT", "10.0.1.3", 80), false), 0);
    assert_int_equal(eph_beat(e, eph_get(e, 1, "DEFAULT", "10.0.1.0", 80), T0 + 99999), 0);
    set_attrs(e, 1, 7, true);    /* texts replaced twice, scalars three times */
    set_attrs(e, 1, 8, false);
    set_attrs(e, 1, 9, true);
    set_attrs(e, 42, 4, true);
    set_attrs(e, 2, 3, true);
    long removed = 0;
    assert_int_equal(eph_svc_drop(e, eph_svc_get_id(e, 2), &removed), 0);
    assert_int_equal(removed, 17);
    assert_int_equal(eph_count(e, 2), 0);
    assert_null(eph_svc_get(e, "public", "svc2"));
    assert_int_equal(eph_remove_instances(e, 3, &removed), 0);
    assert_int_equal(eph_clear(e), 0);
    long n = -1;
    eph_totals(e, &n, NULL);
    assert_int_equal(n, 0);
    assert_int_equal(eph_svc_total(e), 0);
    eph_rollback(e);

    char *after = dump(e);
    assert_string_equal(after, before);
    free(after);
    /* the rolled-back service is gone: service 42 can come back under another name */
    assert_null(eph_svc_get_id(e, 42));
    struct instance_rec again = mk(42, "10.9.9.8", 1, T0);
    put(e, &again, "renamed");
    assert_string_equal(eph_rec(eph_get(e, 42, "DEFAULT", "10.9.9.8", 1))->service, "renamed");
    /* and service 2, dropped in the rolled-back transaction, still has its name */
    assert_string_equal(eph_rec(eph_get(e, 2, "DEFAULT", "10.0.1.1", 80))->service, "svc2");

    /* committed, the same writes stay */
    eph_begin(e);
    set_attrs(e, 1, 11, true);
    set_attrs(e, 1, 12, false);
    assert_int_equal(eph_svc_drop(e, eph_svc_get_id(e, 2), &removed), 0);
    eph_commit(e);
    assert_int_equal(eph_count(e, 2), 0);
    assert_string_equal(eph_svc_attrs(eph_svc_get_id(e, 1))->metadata, "{\"k\":\"11\"}");
    assert_int_equal(eph_svc_attrs(eph_svc_get_id(e, 1))->n_persistent, 0);   /* 12 % 3 */
    struct instance_rec reuse = mk(2, "10.7.7.7", 1, T0);
    put(e, &reuse, "other-name");
    assert_string_equal(eph_rec(eph_get(e, 2, "DEFAULT", "10.7.7.7", 1))->service, "other-name");
    free(before);
    eph_free(all);
}

/* ---- a long random run against a model */

struct model_inst {
    bool live;
    int64_t id, sid, last_beat;
    int port;
    bool healthy, marked;
};

static int64_t model_expire(const struct model_inst *m)
{
    return m->last_beat + (m->healthy ? 15000 : 30000);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define SLOTS 3000
#define NSVC 5
#define NSH 3   /* services 1..5 live in shards sid % 3 of the table */

static struct eph_shard *shard_of_sid(struct eph *all, int64_t sid) { return eph_shard(all, (unsigned)(sid % NSH)); }

static void check_model(struct eph *all, const struct model_inst *m, const int64_t *rev, int64_t now)
{
    long want_n = 0, want_h = 0, n = 0, healthy = 0;
    for (int k = 0; k < SLOTS; k++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.%d.%d", k / 256, k % 256);
        int64_t sid = m[k].live ? m[k].sid : 1 + k % NSVC;
        struct eph_shard *e = shard_of_sid(all, sid);
        struct eph_inst *x = eph_get(e, sid, "DEFAULT", ip, m[k].port);
        if (!m[k].live) { assert_null(x); continue; }
        assert_non_null(x);
        const struct instance_rec *r = eph_rec(x);
        assert_int_equal(r->id, m[k].id);
        assert_int_equal(eph_shard_of_id(r->id), sid % NSH);
        assert_int_equal(r->last_beat_ms, m[k].last_beat);
        assert_int_equal(r->healthy, m[k].healthy);
        assert_ptr_equal(eph_get_id(e, m[k].id), x);
        want_n++;
        want_h += m[k].healthy;
    }
    for (int64_t sid = 1; sid <= NSVC; sid++) {
        struct eph_svc *v = eph_svc_get_id(shard_of_sid(all, sid), sid);
        assert_non_null(v);
        assert_int_equal(eph_svc_attrs(v)->revision, rev[sid]);
    }
    for (unsigned k = 0; k < NSH; k++) {
        long sn = 0, sh = 0;
        eph_totals(eph_shard(all, k), &sn, &sh);
        n += sn;
        healthy += sh;
        /* the due order of each shard: its due model instances, by (expire, id) */
        static const struct instance_rec *due[SLOTS];
        size_t nd = eph_due(eph_shard(all, k), now, SLOTS, due);
        size_t want_due = 0;
        for (int j = 0; j < SLOTS; j++)
            want_due += m[j].live && m[j].sid % NSH == k && !m[j].marked && model_expire(&m[j]) < now;
        assert_int_equal(nd, want_due);
        for (size_t j = 1; j < nd; j++) {
            int64_t ea = due[j - 1]->last_beat_ms + (due[j - 1]->healthy ? 15000 : 30000);
            int64_t eb = due[j]->last_beat_ms + (due[j]->healthy ? 15000 : 30000);
            assert_true(ea < eb || (ea == eb && due[j - 1]->id < due[j]->id));
        }
    }
    assert_int_equal(n, want_n);
    assert_int_equal(healthy, want_h);
}

static void test_random_against_model(void **state)
{
    (void)state;
    struct eph *all = eph_new();
    static struct model_inst m[SLOTS], saved[SLOTS];
    int64_t rev[NSVC + 1] = {0}, saved_rev[NSVC + 1];
    memset(m, 0, sizeof m);
    for (int64_t sid = 1; sid <= NSVC; sid++) {
        char name[16];
        snprintf(name, sizeof name, "svc%lld", (long long)sid);
        ensure(shard_of_sid(all, sid), sid, name);
    }
    bool in_txn = false;
    int64_t now = T0;
    for (int step = 0; step < 40000; step++) {
        int k = (int)(next_rand() % SLOTS);
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.%d.%d", k / 256, k % 256);
        int op = (int)(next_rand() % 100);
        now += (int64_t)(next_rand() % 50);
        if (op < 40) {   /* register (new or replace) */
            int64_t sid = 1 + k % NSVC;
            struct eph_shard *e = shard_of_sid(all, sid);
            struct eph_inst *old = m[k].live ? eph_get(e, sid, "DEFAULT", ip, m[k].port) : NULL;
            struct instance_rec r = mk(sid, ip, m[k].live ? m[k].port : 80, now - (int64_t)(next_rand() % 20000));
            r.healthy = next_rand() % 3 != 0;
            r.marked = next_rand() % 10 == 0;
            int64_t id = 0;
            assert_int_equal(eph_put(e, &r, old, &id), 0);
            if (old) assert_int_equal(id, m[k].id);
            m[k] = (struct model_inst){true, id, sid, r.last_beat_ms, r.port, r.healthy, r.marked};
        } else if (op < 55 && m[k].live) {
            struct eph_shard *e = shard_of_sid(all, m[k].sid);
            assert_int_equal(eph_remove(e, eph_get_id(e, m[k].id)), 0);
            m[k].live = false;
        } else if (op < 72 && m[k].live) {
            struct eph_shard *e = shard_of_sid(all, m[k].sid);
            assert_int_equal(eph_beat(e, eph_get_id(e, m[k].id), now), 0);
            if (now > m[k].last_beat) m[k].last_beat = now;
            m[k].healthy = true;
        } else if (op < 82 && m[k].live) {
            struct eph_shard *e = shard_of_sid(all, m[k].sid);
            bool h = next_rand() % 2;
            assert_int_equal(eph_set_health(e, eph_get_id(e, m[k].id), h), 0);
            m[k].healthy = h;
        } else if (op < 86) {   /* a service's attributes (its revision is what the model follows) */
            int64_t sid = 1 + (int64_t)(next_rand() % NSVC);
            int d = 1 + (int)(next_rand() % 9);
            set_attrs(shard_of_sid(all, sid), sid, d, d % 2 == 0);
            rev[sid] += d;
        } else if (op < 91) {   /* transactions span every shard, as the store's do */
            if (!in_txn) {
                for (unsigned j = 0; j < NSH; j++) eph_begin(eph_shard(all, j));
                memcpy(saved, m, sizeof m);
                memcpy(saved_rev, rev, sizeof rev);
                in_txn = true;
            } else if (next_rand() % 2) {
                for (unsigned j = 0; j < NSH; j++) eph_commit(eph_shard(all, j));
                in_txn = false;
            } else {
                for (unsigned j = 0; j < NSH; j++) eph_rollback(eph_shard(all, j));
                memcpy(m, saved, sizeof m);
                memcpy(rev, saved_rev, sizeof rev);
                in_txn = false;
            }
        } else if (op < 93) {   /* drop a whole service's instances */
            int64_t sid = 1 + (int64_t)(next_rand() % NSVC);
            long removed = 0, want = 0;
            for (int j = 0; j < SLOTS; j++) want += m[j].live && m[j].sid == sid;
            assert_int_equal(eph_remove_instances(shard_of_sid(all, sid), sid, &removed), 0);
            assert_int_equal(removed, want);
            for (int j = 0; j < SLOTS; j++)
                if (m[j].sid == sid) m[j].live = false;
        }
        if (step % 500 == 0) check_model(all, m, rev, now);
    }
    if (in_txn) {
        for (unsigned j = 0; j < NSH; j++) eph_rollback(eph_shard(all, j));
        memcpy(m, saved, sizeof m);
        memcpy(rev, saved_rev, sizeof rev);
    }
    check_model(all, m, rev, now);
    eph_free(all);
}

static int verdict_remove_all(void *ctx, const struct instance_rec *r)
{
    (void)ctx;
    (void)r;
    return STORE_REMOVE;
}

/* eph_sweep applies each verdict as it goes, leaves KEEP instances as they were, stops on -1 */
struct verdicts { int calls, stop_at; };
static int verdict_by_port(void *ctx, const struct instance_rec *r)
{
    struct verdicts *v = ctx;
    if (++v->calls == v->stop_at) return -1;
    return r->port == 1 ? STORE_REMOVE : r->port == 2 ? STORE_MARK_UNHEALTHY : STORE_KEEP;
}

static void test_sweep_verdicts(void **state)
{
    (void)state;
    struct eph *all = eph_new();
    struct eph_shard *e = eph_shard(all, EPH_SHARDS - 1);
    for (int k = 0; k < 30; k++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.2.0.%d", k);
        struct instance_rec r = mk(1, ip, 1 + k % 3, T0);
        put(e, &r, "s");
    }
    struct verdicts v = {0, 0};
    eph_begin(e);
    assert_int_equal(eph_sweep(e, T0 + 15001, 100, verdict_by_port, &v), 30);
    long n = 0, healthy = 0;
    eph_totals(e, &n, &healthy);
    assert_int_equal(n, 20);
    assert_int_equal(healthy, 10);   /* port 3: kept healthy, still due */
    eph_rollback(e);
    eph_totals(e, &n, &healthy);
    assert_int_equal(n, 30);
    assert_int_equal(healthy, 30);
    v = (struct verdicts){0, 5};
    assert_int_equal(eph_sweep(e, T0 + 15001, 100, verdict_by_port, &v), 4);
    eph_totals(e, &n, &healthy);
    assert_int_equal(n + healthy, 30 + 30 - 2 - 2 - 1);   /* ids 1..4: ports 1,2,3,1 → 2 removed, 1 unhealthy */
    const struct instance_rec *due[40];
    assert_int_equal(eph_due(e, T0 + 15001, 40, due), 10 + 17);   /* kept ones and those not visited */
    eph_free(all);
}

/* A beat moves its instance to the bucket of its new due time; the bucket it leaves goes once empty,
 * inside transactions too (at their end: a rollback may need it until then), and a sweep's empty
 * buckets as well — beats every millisecond must not leave a bucket behind each. */
static void test_buckets_do_not_pile_up(void **state)
{
    (void)state;
    struct eph *all = eph_new();
    struct eph_shard *e = eph_shard(all, 1);
    struct instance_rec a = mk(1, "10.0.0.1", 80, T0), b = mk(1, "10.0.0.2", 80, T0);
    int64_t ia = put(e, &a, "s"), ib = put(e, &b, "s");
    assert_int_equal(eph_buckets(e), 1);
    for (int k = 1; k <= 1000; k++) {
        eph_begin(e);
        assert_int_equal(eph_beat(e, eph_get_id(e, ia), T0 + k), 0);
        assert_int_equal(eph_beat(e, eph_get_id(e, ib), T0 + k), 0);
        if (k % 3) eph_commit(e);
        else eph_rollback(e);
    }
    assert_int_equal(eph_buckets(e), 1);   /* both due at T0 + 1000 (the last commit) + 15000 */
    eph_begin(e);
    const struct instance_rec *due[4];
    assert_int_equal(eph_sweep(e, T0 + 99999, 10, verdict_remove_all, NULL), 2);
    eph_commit(e);
    assert_int_equal(eph_buckets(e), 0);
    assert_int_equal(eph_due(e, INT64_MAX, 4, due), 0);
    eph_free(all);
}

/* Names spread over every shard, and a name's shard never changes. */
static void test_shard_of(void **state)
{
    (void)state;
    int seen[EPH_SHARDS] = {0};
    for (int i = 0; i < 2000; i++) {
        char name[32];
        snprintf(name, sizeof name, "DEFAULT_GROUP@@svc-%d", i);
        unsigned k = eph_shard_of("public", name);
        assert_true(k < EPH_SHARDS);
        assert_int_equal(eph_shard_of("public", name), k);
        seen[k]++;
    }
    for (unsigned k = 0; k < EPH_SHARDS; k++) assert_true(seen[k] > (int)(2000 / EPH_SHARDS / 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_remove),
        cmocka_unit_test(test_due_order_and_rules),
        cmocka_unit_test(test_rollback_restores),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_sweep_verdicts),
        cmocka_unit_test(test_shard_of),
        cmocka_unit_test(test_buckets_do_not_pile_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
