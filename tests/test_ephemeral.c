/*
 * test_ephemeral.c — unit tests of the in-memory table of ephemeral instances (ephemeral.h): lookups,
 * due order, transactions (rollback puts back exactly what was there), group lifetime, and a long
 * random run checked step by step against a plain array model.
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

static int64_t put(struct eph *e, const struct instance_rec *in, const char *name)
{
    int64_t id = 0;
    assert_int_equal(eph_put(e, in, "public", name, NULL, &id), 0);
    return id;
}

static void test_put_get_remove(void **state)
{
    (void)state;
    struct eph *e = eph_new();
    struct instance_rec a = mk(7, "10.0.0.1", 80, T0);
    a.app = "shop";
    int64_t ia = put(e, &a, "G@@a");
    struct instance_rec b = mk(7, "10.0.0.2", 80, T0);
    int64_t ib = put(e, &b, "G@@a");
    assert_true(ia >= EPH_ID_BASE);
    assert_int_equal(ib, ia + 1);

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
    assert_int_equal(eph_put(e, &a2, "public", "G@@a", x, &id2), 0);
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
    eph_free(e);
}

static void test_due_order_and_rules(void **state)
{
    (void)state;
    struct eph *e = eph_new();
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
    eph_free(e);
}

/* A canonical text of the whole table (every field of every instance, sorted, and the due order),
 * to compare states before and after a rollback. Caller frees. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *dump(struct eph *e)
{
    const struct instance_rec **v = NULL;
    size_t n = 0;
    assert_int_equal(eph_list(e, 0, &v, &n), 0);
    char **lines = calloc(n + 1, sizeof *lines);
    size_t total = 64;
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
    qsort(lines, n, sizeof *lines, cmp_str);
    long cnt = 0, healthy = 0;
    eph_totals(e, &cnt, &healthy);
    const struct instance_rec **due = calloc(n + 1, sizeof *due);
    size_t nd = eph_due(e, INT64_MAX, n, due);
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

static void test_rollback_restores(void **state)
{
    (void)state;
    struct eph *e = eph_new();
    for (int k = 0; k < 50; k++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.1.%d", k);
        struct instance_rec r = mk(1 + k % 3, ip, 80, T0 + k);
        r.healthy = k % 4 != 0;
        char name[16];
        snprintf(name, sizeof name, "svc%d", 1 + k % 3);
        put(e, &r, name);
    }
    char *before = dump(e);

    eph_begin(e);
    struct instance_rec n1 = mk(1, "10.9.9.9", 1, T0);
    put(e, &n1, "svc1");
    struct instance_rec n2 = mk(42, "10.9.9.9", 1, T0);   /* a new group */
    put(e, &n2, "svc42");
    struct instance_rec rep = mk(2, "10.0.1.1", 80, T0 + 777);
    rep.instance_id = "replaced";
    assert_int_equal(eph_put(e, &rep, "public", "svc2", eph_get(e, 2, "DEFAULT", "10.0.1.1", 80), NULL), 0);
    assert_int_equal(eph_remove(e, eph_get(e, 3, "DEFAULT", "10.0.1.2", 80)), 0);
    assert_int_equal(eph_set_health(e, eph_get(e, 1, "DEFAULT", "10.0.1.3", 80), false), 0);
    assert_int_equal(eph_beat(e, eph_get(e, 1, "DEFAULT", "10.0.1.0", 80), T0 + 99999), 0);
    long removed = 0;
    assert_int_equal(eph_remove_service(e, 2, &removed), 0);
    assert_int_equal(removed, 17);
    assert_int_equal(eph_count(e, 2), 0);
    assert_int_equal(eph_remove_instances(e, 3, &removed), 0);
    assert_int_equal(eph_clear(e), 0);
    long n = -1;
    eph_totals(e, &n, NULL);
    assert_int_equal(n, 0);
    eph_rollback(e);

    char *after = dump(e);
    assert_string_equal(after, before);
    free(after);
    /* the rolled-back group is gone: service 42 can come back under another name */
    struct instance_rec again = mk(42, "10.9.9.8", 1, T0);
    put(e, &again, "renamed");
    assert_string_equal(eph_rec(eph_get(e, 42, "DEFAULT", "10.9.9.8", 1))->service, "renamed");
    /* and service 2, dropped in the rolled-back transaction, still has its name */
    assert_string_equal(eph_rec(eph_get(e, 2, "DEFAULT", "10.0.1.1", 80))->service, "svc2");

    /* committed, the same writes stay */
    eph_begin(e);
    assert_int_equal(eph_remove_service(e, 2, &removed), 0);
    eph_commit(e);
    assert_int_equal(eph_count(e, 2), 0);
    struct instance_rec reuse = mk(2, "10.7.7.7", 1, T0);
    put(e, &reuse, "other-name");
    assert_string_equal(eph_rec(eph_get(e, 2, "DEFAULT", "10.7.7.7", 1))->service, "other-name");
    free(before);
    eph_free(e);
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

static void check_model(struct eph *e, const struct model_inst *m, int64_t now)
{
    long n = 0, healthy = 0, want_n = 0, want_h = 0;
    for (int k = 0; k < SLOTS; k++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.%d.%d", k / 256, k % 256);
        struct eph_inst *x = eph_get(e, m[k].live ? m[k].sid : 1 + k % 5, "DEFAULT", ip, m[k].port);
        if (!m[k].live) { assert_null(x); continue; }
        assert_non_null(x);
        const struct instance_rec *r = eph_rec(x);
        assert_int_equal(r->id, m[k].id);
        assert_int_equal(r->last_beat_ms, m[k].last_beat);
        assert_int_equal(r->healthy, m[k].healthy);
        assert_ptr_equal(eph_get_id(e, m[k].id), x);
        want_n++;
        want_h += m[k].healthy;
    }
    eph_totals(e, &n, &healthy);
    assert_int_equal(n, want_n);
    assert_int_equal(healthy, want_h);
    /* the due order: every due model instance, by (expire, id) */
    static const struct instance_rec *due[SLOTS];
    size_t nd = eph_due(e, now, SLOTS, due);
    size_t want_due = 0;
    for (int k = 0; k < SLOTS; k++) want_due += m[k].live && !m[k].marked && model_expire(&m[k]) < now;
    assert_int_equal(nd, want_due);
    for (size_t k = 1; k < nd; k++) {
        int64_t ea = due[k - 1]->last_beat_ms + (due[k - 1]->healthy ? 15000 : 30000);
        int64_t eb = due[k]->last_beat_ms + (due[k]->healthy ? 15000 : 30000);
        assert_true(ea < eb || (ea == eb && due[k - 1]->id < due[k]->id));
    }
}

static void test_random_against_model(void **state)
{
    (void)state;
    struct eph *e = eph_new();
    static struct model_inst m[SLOTS], saved[SLOTS];
    memset(m, 0, sizeof m);
    bool in_txn = false;
    int64_t now = T0;
    for (int step = 0; step < 40000; step++) {
        int k = (int)(next_rand() % SLOTS);
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.%d.%d", k / 256, k % 256);
        int op = (int)(next_rand() % 100);
        now += (int64_t)(next_rand() % 50);
        if (op < 40) {   /* register (new or replace) */
            int64_t sid = 1 + k % 5;
            struct eph_inst *old = m[k].live ? eph_get(e, sid, "DEFAULT", ip, m[k].port) : NULL;
            struct instance_rec r = mk(sid, ip, m[k].live ? m[k].port : 80, now - (int64_t)(next_rand() % 20000));
            r.healthy = next_rand() % 3 != 0;
            r.marked = next_rand() % 10 == 0;
            char name[16];
            snprintf(name, sizeof name, "svc%lld", (long long)sid);
            int64_t id = 0;
            assert_int_equal(eph_put(e, &r, "public", name, old, &id), 0);
            if (old) assert_int_equal(id, m[k].id);
            m[k] = (struct model_inst){true, id, sid, r.last_beat_ms, r.port, r.healthy, r.marked};
        } else if (op < 55 && m[k].live) {
            assert_int_equal(eph_remove(e, eph_get_id(e, m[k].id)), 0);
            m[k].live = false;
        } else if (op < 75 && m[k].live) {
            assert_int_equal(eph_beat(e, eph_get_id(e, m[k].id), now), 0);
            if (now > m[k].last_beat) m[k].last_beat = now;
            m[k].healthy = true;
        } else if (op < 85 && m[k].live) {
            bool h = next_rand() % 2;
            assert_int_equal(eph_set_health(e, eph_get_id(e, m[k].id), h), 0);
            m[k].healthy = h;
        } else if (op < 90) {
            if (!in_txn) {
                eph_begin(e);
                memcpy(saved, m, sizeof m);
                in_txn = true;
            } else if (next_rand() % 2) {
                eph_commit(e);
                in_txn = false;
            } else {
                eph_rollback(e);
                memcpy(m, saved, sizeof m);
                in_txn = false;
            }
        } else if (op < 92) {   /* drop a whole service's instances */
            int64_t sid = 1 + (int64_t)(next_rand() % 5);
            long removed = 0, want = 0;
            for (int j = 0; j < SLOTS; j++) want += m[j].live && m[j].sid == sid;
            assert_int_equal(eph_remove_instances(e, sid, &removed), 0);
            assert_int_equal(removed, want);
            for (int j = 0; j < SLOTS; j++)
                if (m[j].sid == sid) m[j].live = false;
        }
        if (step % 500 == 0) check_model(e, m, now);
    }
    if (in_txn) {
        eph_rollback(e);
        memcpy(m, saved, sizeof m);
    }
    check_model(e, m, now);
    eph_free(e);
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
    struct eph *e = eph_new();
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
    eph_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_remove),
        cmocka_unit_test(test_due_order_and_rules),
        cmocka_unit_test(test_rollback_restores),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_sweep_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
