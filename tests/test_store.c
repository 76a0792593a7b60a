/*
 * test_store.c — unit tests of server/store.c on ":memory:" (and one file database): services
 * (create / ensure / get / update / delete with cascade / list with group prefix, paging, totals /
 * touch), instances (upsert keeping instance_id and registered_ms, delete only when the ephemeral
 * flag matches, beats, health, ordering), the sweeper's due order (last beat + timeout while healthy,
 * + delete timeout when unhealthy, ephemeral and unmarked only), instances changing kind (memory <->
 * SQLite), numeric ids, counts, forget_ephemeral, GC of empty implicit services, what survives a
 * restart (the change-stamp floor too), transactions of one service without the registry lock (what
 * they may do alone, what needs SQLite), and the migrations from schema versions 1 and 2. The config tables (their own connection):
 * put/get byte-exact, created time kept, md5 lookup, delete, history (I holds the new content, U/D the
 * old, newest first, pruned by count and by bytes), search (exact, `*` patterns with GLOB's other
 * specials literal, paging), clear, and both connections writing one file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "nacos_mock/store.h"

#define NS "public"
#define SVC "DEFAULT_GROUP@@order"
#define T0 INT64_C(1700000000000)

static int setup(void **state)
{
    char err[256] = "";
    struct store *st = store_open(":memory:", err, sizeof err);
    if (!st) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    return 0;
}

/* An instance record with defaults; override fields after. */
static struct instance_rec inst(int64_t sid, const char *cluster, const char *ip, int port, const char *id)
{
    return (struct instance_rec){
        .service_id = sid, .cluster = cluster, .ip = ip, .port = port, .instance_id = id, .weight = 1.0,
        .healthy = true, .enabled = true, .ephemeral = true, .metadata = "{}", .registered_ms = T0,
        .last_beat_ms = T0, .hb_interval_ms = 5000, .hb_timeout_ms = 15000, .delete_timeout_ms = 30000,
    };
}

static void put(struct store *st, const struct instance_rec *in, bool want_created)
{
    bool created = !want_created;
    assert_int_equal(store_instance_upsert(st, in, &created), 0);
    assert_int_equal(created, want_created);
}

static int64_t svc(struct store *st, const char *ns, const char *name)
{
    int64_t id = 0;
    assert_int_equal(store_service_ensure(st, ns, name, T0, &id), 0);
    assert_true(id > 0);
    return id;
}

/* ---- collecting callbacks */

#define MAX_ROWS 64
struct rows {
    size_t n;
    char key[MAX_ROWS][160];   /* "cluster/ip:port" or service name */
    int64_t id[MAX_ROWS];
    long stop_after;           /* > 0: stop after this many */
};

static int collect_inst(void *ctx, const struct instance_rec *r)
{
    struct rows *rw = ctx;
    if (rw->n < MAX_ROWS) {
        snprintf(rw->key[rw->n], sizeof rw->key[0], "%s/%s:%d", r->cluster, r->ip, r->port);
        rw->id[rw->n] = r->id;
    }
    rw->n++;
    return rw->stop_after > 0 && (long)rw->n >= rw->stop_after;
}

static int collect_inst_full(void *ctx, const struct instance_rec *r)
{
    struct rows *rw = ctx;
    if (rw->n < MAX_ROWS)
        snprintf(rw->key[rw->n], sizeof rw->key[0], "%s|%s|%s/%s:%d", r->ns, r->service, r->cluster, r->ip, r->port);
    rw->n++;
    return 0;
}

static int collect_svc(void *ctx, const struct service_rec *s)
{
    struct rows *rw = ctx;
    if (rw->n < MAX_ROWS) {
        snprintf(rw->key[rw->n], sizeof rw->key[0], "%s|%s", s->ns, s->name);
        rw->id[rw->n] = s->id;
    }
    rw->n++;
    return rw->stop_after > 0 && (long)rw->n >= rw->stop_after;
}

static void assert_rows(const struct rows *rw, const char *const *want, size_t n)
{
    if (rw->n != n) {
        for (size_t i = 0; i < rw->n && i < MAX_ROWS; i++) fprintf(stderr, "  got[%zu] %s\n", i, rw->key[i]);
        fail_msg("got %zu rows, want %zu", rw->n, n);
    }
    for (size_t i = 0; i < n; i++) assert_string_equal(rw->key[i], want[i]);
}

/* ------------------------------------------------------------------ services */

static void test_service_create_get(void **state)
{
    struct store *st = *state;
    int64_t id = 0;
    assert_int_equal(store_service_create(st, NS, SVC, 0.25, "{\"k\":\"v\"}", NULL, true, T0, &id), 0);
    assert_true(id > 0);
    int64_t again = 0;
    assert_int_equal(store_service_create(st, NS, SVC, 0.5, NULL, NULL, false, T0 + 1, &again), 1);
    assert_int_equal(again, 0);
    /* the same name in another namespace is another service */
    int64_t other = 0;
    assert_int_equal(store_service_create(st, "dev", SVC, 0, NULL, NULL, false, T0, &other), 0);
    assert_true(other != id);

    struct service_rec s;
    assert_int_equal(store_service_get(st, NS, SVC, &s), 0);
    assert_int_equal(s.id, id);
    assert_string_equal(s.ns, NS);
    assert_string_equal(s.name, SVC);
    assert_true(s.protect_threshold == 0.25);
    assert_string_equal(s.metadata, "{\"k\":\"v\"}");
    assert_string_equal(s.selector, "{\"type\":\"none\"}");
    assert_true(s.explicit_);
    assert_int_equal(s.created_ms, T0);
    assert_int_equal(s.empty_since_ms, T0);   /* created empty */
    assert_int_equal(s.revision, 0);
    store_service_rec_free(&s);
    assert_null(s.name);

    assert_int_equal(store_service_get(st, NS, "DEFAULT_GROUP@@nope", &s), 1);
    assert_int_equal(store_service_get(st, "other", SVC, &s), 1);
}

static void test_service_ensure(void **state)
{
    struct store *st = *state;
    int64_t a = 0, b = 0, c = 0;
    assert_int_equal(store_service_ensure(st, NS, SVC, T0, &a), 0);
    assert_int_equal(store_service_ensure(st, NS, SVC, T0 + 5, &b), 0);
    assert_int_equal(a, b);
    struct service_rec s;
    assert_int_equal(store_service_get(st, NS, SVC, &s), 0);
    assert_false(s.explicit_);                 /* implicit */
    assert_true(s.protect_threshold == 0.0);
    assert_string_equal(s.metadata, "{}");
    assert_int_equal(s.created_ms, T0);
    store_service_rec_free(&s);
    /* an explicit service is found, not recreated */
    assert_int_equal(store_service_create(st, NS, "g@@explicit", 0.1, NULL, NULL, true, T0, &c), 0);
    int64_t d = 0;
    assert_int_equal(store_service_ensure(st, NS, "g@@explicit", T0, &d), 0);
    assert_int_equal(c, d);
}

static void test_service_update(void **state)
{
    struct store *st = *state;
    int64_t id = 0;
    assert_int_equal(store_service_create(st, NS, SVC, 0, "{\"a\":\"1\"}", "{\"type\":\"label\",\"expression\":\"x\"}",
                                          true, T0, &id), 0);
    assert_int_equal(store_service_update(st, id, 0.7, NULL, NULL), 0);
    struct service_rec s;
    assert_int_equal(store_service_get(st, NS, SVC, &s), 0);
    assert_true(s.protect_threshold == 0.7);
    assert_string_equal(s.metadata, "{\"a\":\"1\"}");   /* NULL = keep */
    assert_string_equal(s.selector, "{\"type\":\"label\",\"expression\":\"x\"}");
    assert_int_equal(s.revision, 0);   /* the caller stamps the change (store_service_touch) */
    store_service_rec_free(&s);
    assert_int_equal(store_service_update(st, id, 0.1, "{\"b\":\"2\"}", "{\"type\":\"none\"}"), 0);
    assert_int_equal(store_service_get(st, NS, SVC, &s), 0);
    assert_true(s.protect_threshold == 0.1);
    assert_string_equal(s.metadata, "{\"b\":\"2\"}");
    assert_string_equal(s.selector, "{\"type\":\"none\"}");
    assert_int_equal(s.revision, 0);
    store_service_rec_free(&s);
    assert_int_equal(store_service_update(st, id + 1000, 0.1, NULL, NULL), 1);
}

static void test_service_delete_cascades(void **state)
{
    struct store *st = *state;
    int64_t a = svc(st, NS, SVC), b = svc(st, NS, "DEFAULT_GROUP@@other");
    struct instance_rec i1 = inst(a, "DEFAULT", "10.0.0.1", 8080, "i1"), i2 = inst(a, "C2", "10.0.0.2", 8080, "i2");
    struct instance_rec i3 = inst(b, "DEFAULT", "10.0.0.3", 8080, "i3");
    i2.ephemeral = false;
    put(st, &i1, true);
    put(st, &i2, true);
    put(st, &i3, true);
    long ns = 0, ni = 0, nh = 0;
    assert_int_equal(store_counts(st, &ns, &ni, &nh), 0);
    assert_int_equal(ns, 2);
    assert_int_equal(ni, 3);

    assert_int_equal(store_service_delete(st, a), 0);
    assert_int_equal(store_service_delete(st, a), 1);
    assert_int_equal(store_counts(st, &ns, &ni, &nh), 0);
    assert_int_equal(ns, 1);
    assert_int_equal(ni, 1);   /* both of a's instances, persistent too, went with it */
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.0.0.1", 8080, &r), 1);
    assert_int_equal(store_instance_get(st, b, "DEFAULT", "10.0.0.3", 8080, &r), 0);
    store_instance_rec_free(&r);
    struct service_rec s;
    assert_int_equal(store_service_get(st, NS, SVC, &s), 1);
}

static void test_service_list_groups_paging(void **state)
{
    struct store *st = *state;
    const char *names[] = {"g@@c", "g@@a", "g@@b", "g2@@x", "gg@@y", "g@@Z", "DEFAULT_GROUP@@z", "G@@upper"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) svc(st, NS, names[i]);
    svc(st, "dev", "g@@other-ns");

    struct rows rw = {0};
    long total = -1;
    assert_int_equal(store_service_list(st, NS, "g", 0, -1, collect_svc, &rw, &total), 0);
    const char *all_g[] = {"public|g@@Z", "public|g@@a", "public|g@@b", "public|g@@c"};
    assert_rows(&rw, all_g, 4);
    assert_int_equal(total, 4);

    memset(&rw, 0, sizeof rw);
    total = -1;
    assert_int_equal(store_service_list(st, NS, "g", 1, 2, collect_svc, &rw, &total), 0);
    const char *page2[] = {"public|g@@a", "public|g@@b"};
    assert_rows(&rw, page2, 2);
    assert_int_equal(total, 4);   /* before paging */

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_service_list(st, NS, "g", 3, 2, collect_svc, &rw, &total), 0);
    const char *last[] = {"public|g@@c"};
    assert_rows(&rw, last, 1);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_service_list(st, NS, "g", 10, 2, collect_svc, &rw, &total), 0);
    assert_int_equal(rw.n, 0);
    assert_int_equal(total, 4);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_service_list(st, NS, "g", -5, 1, collect_svc, &rw, NULL), 0);   /* offset < 0 = 0 */
    assert_rows(&rw, all_g, 1);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_service_list(st, NS, "nogroup", 0, -1, collect_svc, &rw, &total), 0);
    assert_int_equal(rw.n, 0);
    assert_int_equal(total, 0);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_service_list(st, NS, NULL, 0, -1, collect_svc, &rw, &total), 0);
    assert_int_equal(rw.n, 8);
    assert_int_equal(total, 8);
    assert_string_equal(rw.key[0], "public|DEFAULT_GROUP@@z");   /* ordered by name (binary) */
    assert_string_equal(rw.key[1], "public|G@@upper");

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_service_list(st, NULL, NULL, 0, -1, collect_svc, &rw, &total), 0);
    assert_int_equal(total, 9);
    assert_string_equal(rw.key[0], "dev|g@@other-ns");   /* by namespace first */

    memset(&rw, 0, sizeof rw);
    rw.stop_after = 2;
    assert_int_equal(store_service_list(st, NS, NULL, 0, -1, collect_svc, &rw, NULL), 0);
    assert_int_equal(rw.n, 2);   /* the callback stopped the walk */
}

static void test_service_touch(void **state)
{
    struct store *st = *state;
    int64_t id = svc(st, NS, SVC);
    struct service_rec s;
    struct instance_rec i1 = inst(id, "DEFAULT", "10.0.0.1", 8080, "i1");
    put(st, &i1, true);
    assert_int_equal(store_service_touch(st, id, T0 + 100, 0), 0);
    assert_int_equal(store_service_get(st, NS, SVC, &s), 0);
    assert_int_equal(s.empty_since_ms, 0);   /* has instances */
    assert_int_equal(s.revision, 1);
    store_service_rec_free(&s);

    assert_int_equal(store_instance_delete(st, id, "DEFAULT", "10.0.0.1", 8080, true), 0);
    assert_int_equal(store_service_touch(st, id, T0 + 200, 0), 0);
    assert_int_equal(store_service_touch(st, id, T0 + 300, 0), 0);   /* stays at the first empty time */
    assert_int_equal(store_service_get(st, NS, SVC, &s), 0);
    assert_int_equal(s.empty_since_ms, T0 + 200);
    assert_int_equal(s.revision, 3);
    store_service_rec_free(&s);
}

/* ------------------------------------------------------------------ instances */

static void test_instance_upsert_keeps_id_and_registered(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC);
    struct instance_rec in = inst(sid, "DEFAULT", "10.0.0.5", 8080, "10.0.0.5#8080#DEFAULT#" SVC);
    in.metadata = "{\"k\":\"v\"}";
    in.app = "shop";
    put(st, &in, true);

    struct instance_rec r;
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.5", 8080, &r), 0);
    assert_string_equal(r.instance_id, "10.0.0.5#8080#DEFAULT#" SVC);
    assert_string_equal(r.ns, NS);
    assert_string_equal(r.service, SVC);
    assert_string_equal(r.cluster, "DEFAULT");
    assert_string_equal(r.ip, "10.0.0.5");
    assert_int_equal(r.port, 8080);
    assert_true(r.weight == 1.0);
    assert_true(r.healthy && r.enabled && r.ephemeral && !r.marked);
    assert_string_equal(r.metadata, "{\"k\":\"v\"}");
    assert_string_equal(r.app, "shop");
    assert_int_equal(r.registered_ms, T0);
    assert_int_equal(r.last_beat_ms, T0);
    assert_int_equal(r.hb_interval_ms, 5000);
    assert_int_equal(r.hb_timeout_ms, 15000);
    assert_int_equal(r.delete_timeout_ms, 30000);
    int64_t row = r.id;
    store_instance_rec_free(&r);

    /* replace without an id: everything changes but instance_id and registered_ms */
    struct instance_rec again = inst(sid, "DEFAULT", "10.0.0.5", 8080, NULL);
    again.weight = 3.5;
    again.healthy = false;
    again.enabled = false;
    again.metadata = "{}";
    again.registered_ms = T0 + 999;
    again.last_beat_ms = T0 + 500;
    again.hb_interval_ms = 1000;
    put(st, &again, false);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.5", 8080, &r), 0);
    assert_int_equal(r.id, row);
    assert_string_equal(r.instance_id, "10.0.0.5#8080#DEFAULT#" SVC);
    assert_int_equal(r.registered_ms, T0);
    assert_int_equal(r.last_beat_ms, T0 + 500);
    assert_true(r.weight == 3.5);
    assert_false(r.healthy);
    assert_false(r.enabled);
    assert_string_equal(r.metadata, "{}");
    assert_null(r.app);
    assert_int_equal(r.hb_interval_ms, 1000);
    store_instance_rec_free(&r);

    /* with an explicit id it is replaced */
    again.instance_id = "7";
    put(st, &again, false);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.5", 8080, &r), 0);
    assert_string_equal(r.instance_id, "7");
    store_instance_rec_free(&r);

    /* another cluster, port or ip is another instance */
    struct instance_rec c2 = inst(sid, "C2", "10.0.0.5", 8080, "c2");
    put(st, &c2, true);
    struct instance_rec p2 = inst(sid, "DEFAULT", "10.0.0.5", 8081, "p2");
    put(st, &p2, true);
    long ni = 0;
    assert_int_equal(store_counts(st, NULL, &ni, NULL), 0);
    assert_int_equal(ni, 3);

    /* a new instance needs an id */
    struct instance_rec noid = inst(sid, "DEFAULT", "10.0.0.9", 8080, NULL);
    assert_int_equal(store_instance_upsert(st, &noid, NULL), -1);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.9", 8080, &r), 1);
}

static void test_instance_delete_matches_ephemeral(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC);
    struct instance_rec p = inst(sid, "DEFAULT", "10.0.0.1", 8080, "p"), e = inst(sid, "DEFAULT", "10.0.0.2", 8080, "e");
    p.ephemeral = false;
    put(st, &p, true);
    put(st, &e, true);
    struct instance_rec r;

    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.1", 8080, true), 1);   /* flag differs */
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.2", 8080, false), 1);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.2", 8080, &r), 0);
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_delete(st, sid, "OTHER", "10.0.0.2", 8080, true), 1);   /* wrong cluster */

    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.1", 8080, false), 0);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 1);
    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.2", 8080, true), 0);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.2", 8080, &r), 1);
    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.2", 8080, true), 1);

    /* by row id */
    struct instance_rec x = inst(sid, "DEFAULT", "10.0.0.3", 8080, "x");
    put(st, &x, true);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.3", 8080, &r), 0);
    int64_t row = r.id;
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_delete_id(st, row), 0);
    assert_int_equal(store_instance_delete_id(st, row), 1);
}

static void test_beat(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC);
    struct instance_rec e = inst(sid, "DEFAULT", "10.0.0.1", 8080, "10.0.0.1#8080#DEFAULT#" SVC);
    e.hb_interval_ms = 2000;
    put(st, &e, true);
    struct beat_result br;

    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.9", 8080, T0 + 1, &br), 1);
    assert_int_equal(store_instance_beat(st, "dev", SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 1, NULL), 1);
    assert_int_equal(store_instance_beat(st, NS, SVC, "C2", "10.0.0.1", 8080, T0 + 1, NULL), 1);
    assert_int_equal(store_instance_beat(st, NS, "DEFAULT_GROUP@@other", "DEFAULT", "10.0.0.1", 8080, T0 + 1, NULL), 1);

    memset(&br, 0x55, sizeof br);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 1000, &br), 0);
    assert_false(br.was_unhealthy);
    assert_int_equal(br.interval_ms, 2000);
    assert_int_equal(br.service_id, sid);
    assert_int_equal(br.prev_beat_ms, T0);
    assert_string_equal(br.instance_id, "");   /* healthy: nothing to log, the id is not copied */
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    assert_int_equal(r.last_beat_ms, T0 + 1000);
    assert_true(r.healthy);
    int64_t row = r.id;
    store_instance_rec_free(&r);

    /* an unhealthy instance is restored, and the caller learns it was unhealthy */
    assert_int_equal(store_instance_set_health(st, row, false), 0);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 2000, &br), 0);
    assert_true(br.was_unhealthy);
    assert_int_equal(br.prev_beat_ms, T0 + 1000);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    assert_true(r.healthy);
    assert_int_equal(r.last_beat_ms, T0 + 2000);
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 3000, &br), 0);
    assert_false(br.was_unhealthy);
    /* a NULL result is accepted and still records the beat */
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 4000, NULL), 0);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    assert_int_equal(r.last_beat_ms, T0 + 4000);
    store_instance_rec_free(&r);

    assert_int_equal(store_instance_set_health(st, row + 1000, false), 1);
}

/* A run of beats, with health changes, a delete and a re-register, an update and a reset between
 * them: each beat answers with what the one before left, and every reader sees the last. */
static void test_beat_sequences(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC);
    struct instance_rec e = inst(sid, "DEFAULT", "10.0.0.1", 8080, "a");
    put(st, &e, true);
    struct beat_result br;
    /* every beat answers with what the one before left */
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 1000, &br), 0);
    for (int i = 2; i <= 5; i++) {
        memset(&br, 0x55, sizeof br);
        assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 1000 * i, &br), 0);
        assert_false(br.was_unhealthy);
        assert_int_equal(br.prev_beat_ms, T0 + 1000 * (i - 1));
        assert_int_equal(br.interval_ms, 5000);
        assert_int_equal(br.service_id, sid);
        assert_string_equal(br.instance_id, "");
    }
    /* the sweeper's due query sees the last beat (T0 + 5000): not due at T0 + 5000 + 15000 */
    struct rows rw = {0};
    assert_int_equal(store_instance_foreach_expired(st, T0 + 20000, 100, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 0);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 6000, NULL), 0);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    assert_int_equal(r.last_beat_ms, T0 + 6000);
    int64_t row = r.id;
    store_instance_rec_free(&r);

    /* a health change is seen by the next beat, which restores it */
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 7000, NULL), 0);
    assert_int_equal(store_instance_set_health(st, row, false), 0);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 8000, &br), 0);
    assert_true(br.was_unhealthy);
    assert_int_equal(br.prev_beat_ms, T0 + 7000);

    /* deleted, then registered again under the same key: the new instance keeps its own last beat
     * and id; beats find the new one */
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 9000, NULL), 0);
    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.1", 8080, true), 0);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 9500, NULL), 1);
    e = inst(sid, "DEFAULT", "10.0.0.1", 8080, "b");
    e.last_beat_ms = T0 + 100;
    put(st, &e, true);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    assert_int_equal(r.last_beat_ms, T0 + 100);
    assert_string_equal(r.instance_id, "b");
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 10000, &br), 0);
    assert_int_equal(br.prev_beat_ms, T0 + 100);   /* the new instance's own, not the old one's T0 + 9000 */
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 11000, &br), 0);
    assert_int_equal(br.prev_beat_ms, T0 + 10000);

    /* an update (new interval) is seen by the next beat */
    e.hb_interval_ms = 2000;
    put(st, &e, false);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 12000, &br), 0);
    assert_int_equal(br.interval_ms, 2000);

    /* a cleared registry knows nothing */
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 13000, NULL), 0);
    assert_int_equal(store_clear(st), 0);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 14000, NULL), 1);
}

/* Ephemeral instances live in memory and persistent ones in SQLite (ephemeral.h): an update that
 * changes the kind moves the instance, keeping its instance id (unless given) and registration time. */
static void test_instance_changes_kind(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC);
    struct instance_rec e = inst(sid, "DEFAULT", "10.0.0.1", 80, "orig");
    e.registered_ms = T0 - 5;
    put(st, &e, true);
    struct instance_rec p = inst(sid, "DEFAULT", "10.0.0.1", 80, NULL);
    p.ephemeral = false;
    p.weight = 2.0;
    p.registered_ms = T0 + 999;
    put(st, &p, false);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 80, &r), 0);
    assert_false(r.ephemeral);
    assert_string_equal(r.instance_id, "orig");
    assert_int_equal(r.registered_ms, T0 - 5);
    assert_true(r.weight == 2.0);
    assert_true(r.id < INT64_C(1) << 48);   /* a SQLite row now */
    store_instance_rec_free(&r);
    struct rows rw = {0};
    assert_int_equal(store_instance_foreach(st, sid, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 1);
    long ni = -1;
    assert_int_equal(store_counts(st, NULL, &ni, NULL), 0);
    assert_int_equal(ni, 1);
    /* persistent: never due, beats change nothing, ephemeral deletes miss it */
    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 99999999, 10, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 0);
    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.1", 80, true), 1);

    /* and back, with a new id given */
    struct instance_rec back = inst(sid, "DEFAULT", "10.0.0.1", 80, "new-id");
    back.last_beat_ms = T0 + 100;
    put(st, &back, false);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 80, &r), 0);
    assert_true(r.ephemeral);
    assert_string_equal(r.instance_id, "new-id");
    assert_int_equal(r.registered_ms, T0 - 5);
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.1", 80, false), 1);
    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 15101, 10, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 1);
    assert_int_equal(store_counts(st, NULL, &ni, NULL), 0);
    assert_int_equal(ni, 1);

    /* a rolled-back move leaves it where it was */
    assert_int_equal(store_begin(st), 0);
    put(st, &p, false);
    store_rollback(st);
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 80, &r), 0);
    assert_true(r.ephemeral);
    assert_string_equal(r.instance_id, "new-id");
    store_instance_rec_free(&r);
    assert_int_equal(store_counts(st, NULL, &ni, NULL), 0);
    assert_int_equal(ni, 1);
}

/* Lists merge both kinds in the order SQLite gave before (healthy first, cluster, ip, port; for every
 * instance: namespace, service, cluster, ip, port), and numeric ids count both. */
static void test_foreach_merges_kinds(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC), dev = svc(st, "dev", SVC);
    struct {
        const char *cluster, *ip;
        int port;
        bool healthy, ephemeral;
        const char *id;
    } spec[] = {
        {"B", "10.0.0.1", 80, false, true, "0"},  {"A", "10.0.0.2", 80, true, false, "1"},
        {"B", "10.0.0.1", 79, true, true, "x"},   {"A", "10.0.0.1", 81, false, false, "3"},
        {"A", "10.0.0.1", 80, true, true, "4"},   {"A", "10.0.0.10", 80, true, false, "5"},
        {"A", "10.0.0.10", 79, true, true, "y"},
    };
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        struct instance_rec in = inst(sid, spec[i].cluster, spec[i].ip, spec[i].port, spec[i].id);
        in.healthy = spec[i].healthy;
        in.ephemeral = spec[i].ephemeral;
        put(st, &in, true);
    }
    struct instance_rec d = inst(dev, "A", "10.0.0.1", 1, "d");
    d.ephemeral = false;
    put(st, &d, true);
    struct rows rw = {0};
    assert_int_equal(store_instance_foreach(st, sid, collect_inst, &rw), 0);
    const char *want[] = {"A/10.0.0.1:80", "A/10.0.0.10:79", "A/10.0.0.10:80", "A/10.0.0.2:80", "B/10.0.0.1:79",
                          "A/10.0.0.1:81", "B/10.0.0.1:80"};
    assert_rows(&rw, want, 7);
    memset(&rw, 0, sizeof rw);
    rw.stop_after = 2;   /* a stop from the callback, on either side of the merge */
    assert_int_equal(store_instance_foreach(st, sid, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 2);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_all(st, collect_inst_full, &rw), 0);
    const char *all[] = {"dev|" SVC "|A/10.0.0.1:1", "public|" SVC "|A/10.0.0.1:80", "public|" SVC "|A/10.0.0.1:81",
                         "public|" SVC "|A/10.0.0.10:79", "public|" SVC "|A/10.0.0.10:80",
                         "public|" SVC "|A/10.0.0.2:80", "public|" SVC "|B/10.0.0.1:79",
                         "public|" SVC "|B/10.0.0.1:80"};
    assert_rows(&rw, all, 8);

    long id = -1;   /* 0 (memory), 1 and 3 (SQLite), 4 (memory), 5 (SQLite): 2 is free */
    assert_int_equal(store_instance_next_numeric_id(st, sid, &id), 0);
    assert_int_equal(id, 2);
    long ni = -1, healthy = -1;
    assert_int_equal(store_counts(st, NULL, &ni, &healthy), 0);
    assert_int_equal(ni, 8);
    assert_int_equal(healthy, 6);
}

/* Deleting a service takes its ephemeral instances too (and a rollback brings them back); a service
 * made later never gets its id, nor shows the old one's names. */
static void test_service_delete_and_id_reuse(void **state)
{
    struct store *st = *state;
    svc(st, NS, "g@@first");
    int64_t last = svc(st, NS, "g@@last");
    struct instance_rec in = inst(last, "DEFAULT", "10.0.0.1", 1, "x");
    put(st, &in, true);
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_service_delete(st, last), 0);
    store_rollback(st);
    struct beat_result br;
    assert_int_equal(store_instance_beat(st, NS, "g@@last", "DEFAULT", "10.0.0.1", 1, T0 + 1, &br), 0);

    assert_int_equal(store_service_delete(st, last), 0);
    assert_int_equal(store_instance_beat(st, NS, "g@@last", "DEFAULT", "10.0.0.1", 1, T0 + 2, &br), 1);
    long ni = -1;
    assert_int_equal(store_counts(st, NULL, &ni, NULL), 0);
    assert_int_equal(ni, 0);
    int64_t again = svc(st, NS, "g@@renamed");
    assert_true(again > last);   /* service ids are never handed out again (SQLite would reuse the highest) */
    in.service_id = again;
    put(st, &in, true);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, again, "DEFAULT", "10.0.0.1", 1, &r), 0);
    assert_string_equal(r.service, "g@@renamed");
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_beat(st, NS, "g@@renamed", "DEFAULT", "10.0.0.1", 1, T0 + 3, &br), 0);
    assert_int_equal(store_instance_beat(st, NS, "g@@last", "DEFAULT", "10.0.0.1", 1, T0 + 3, &br), 1);

    /* the empty-service cleaner never takes a service whose instances are all in memory */
    long removed = -1;
    assert_int_equal(store_gc_empty_services(st, INT64_MAX, &removed), 0);
    assert_int_equal(removed, 1);   /* g@@first, empty since T0 */
    assert_int_equal(store_instance_beat(st, NS, "g@@renamed", "DEFAULT", "10.0.0.1", 1, T0 + 4, &br), 0);
}

static void test_beat_persistent_unaffected(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC);
    struct instance_rec p = inst(sid, "DEFAULT", "10.0.0.1", 8080, "p");
    p.ephemeral = false;
    p.healthy = false;
    put(st, &p, true);
    struct beat_result br;
    memset(&br, 0x55, sizeof br);
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 5000, &br), 0);   /* known ... */
    assert_false(br.was_unhealthy);
    assert_int_equal(br.interval_ms, 5000);
    assert_int_equal(br.service_id, sid);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    assert_false(r.healthy);                 /* ... but untouched */
    assert_int_equal(r.last_beat_ms, T0);
    store_instance_rec_free(&r);
}

static void test_foreach_healthy_first(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC), other = svc(st, NS, "DEFAULT_GROUP@@other");
    struct {
        const char *cluster, *ip;
        int port;
        bool healthy;
    } spec[] = {
        {"B", "10.0.0.1", 80, false}, {"A", "10.0.0.2", 80, true}, {"B", "10.0.0.1", 79, true},
        {"A", "10.0.0.1", 81, false}, {"A", "10.0.0.1", 80, true}, {"A", "10.0.0.10", 80, true},
    };
    char ids[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof ids[i], "id%d", i);
        struct instance_rec in = inst(sid, spec[i].cluster, spec[i].ip, spec[i].port, ids[i]);
        in.healthy = spec[i].healthy;
        put(st, &in, true);
    }
    struct instance_rec o = inst(other, "A", "1.1.1.1", 1, "o");
    put(st, &o, true);

    struct rows rw = {0};
    assert_int_equal(store_instance_foreach(st, sid, collect_inst, &rw), 0);
    /* healthy first; then cluster, ip (as text), port */
    const char *want[] = {"A/10.0.0.1:80", "A/10.0.0.10:80", "A/10.0.0.2:80", "B/10.0.0.1:79", "A/10.0.0.1:81",
                          "B/10.0.0.1:80"};
    assert_rows(&rw, want, 6);

    memset(&rw, 0, sizeof rw);
    rw.stop_after = 1;
    assert_int_equal(store_instance_foreach(st, sid, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 1);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach(st, sid + 1000, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 0);
}

static void test_foreach_all_order(void **state)
{
    struct store *st = *state;
    int64_t b = svc(st, NS, "g@@b"), a = svc(st, NS, "g@@a"), d = svc(st, "dev", "g@@z");
    struct instance_rec i1 = inst(b, "DEFAULT", "10.0.0.2", 1, "1"), i2 = inst(b, "DEFAULT", "10.0.0.1", 1, "2");
    struct instance_rec i3 = inst(a, "DEFAULT", "10.0.0.9", 1, "3"), i4 = inst(d, "DEFAULT", "10.0.0.9", 1, "4");
    i2.healthy = false;   /* no healthy-first here */
    put(st, &i1, true);
    put(st, &i2, true);
    put(st, &i3, true);
    put(st, &i4, true);
    struct rows rw = {0};
    assert_int_equal(store_instance_foreach_all(st, collect_inst_full, &rw), 0);
    const char *want[] = {"dev|g@@z|DEFAULT/10.0.0.9:1", "public|g@@a|DEFAULT/10.0.0.9:1",
                          "public|g@@b|DEFAULT/10.0.0.1:1", "public|g@@b|DEFAULT/10.0.0.2:1"};
    assert_rows(&rw, want, 4);
}

static void test_foreach_expired(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC);
    /* healthy ephemeral: due at last_beat + hb_timeout */
    struct instance_rec h = inst(sid, "DEFAULT", "10.0.0.1", 1, "h");
    h.last_beat_ms = T0;
    h.hb_timeout_ms = 15000;
    h.delete_timeout_ms = 30000;
    /* unhealthy ephemeral: due at last_beat + delete_timeout */
    struct instance_rec u = inst(sid, "DEFAULT", "10.0.0.2", 1, "u");
    u.last_beat_ms = T0 - 10000;
    u.healthy = false;
    u.hb_timeout_ms = 1000;
    u.delete_timeout_ms = 30000;    /* due T0 + 20000 */
    /* persistent (never due), marked (never due) */
    struct instance_rec p = inst(sid, "DEFAULT", "10.0.0.3", 1, "p");
    p.ephemeral = false;
    p.last_beat_ms = T0 - 1000000;
    struct instance_rec m = inst(sid, "DEFAULT", "10.0.0.4", 1, "m");
    m.marked = true;
    m.last_beat_ms = T0 - 1000000;
    /* a delete timeout below the health timeout: due (for removal) at last_beat + delete_timeout */
    struct instance_rec q = inst(sid, "DEFAULT", "10.0.0.6", 1, "q");
    q.last_beat_ms = T0 + 100000;
    q.hb_timeout_ms = 15000;
    q.delete_timeout_ms = 5000;
    put(st, &q, true);
    struct rows rq = {0};
    assert_int_equal(store_instance_foreach_expired(st, T0 + 105000, 100, collect_inst, &rq), 0);
    assert_int_equal(rq.n, 0);
    memset(&rq, 0, sizeof rq);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 105001, 100, collect_inst, &rq), 0);
    assert_string_equal(rq.key[rq.n - 1], "DEFAULT/10.0.0.6:1");
    assert_int_equal(store_instance_delete(st, sid, "DEFAULT", "10.0.0.6", 1, true), 0);
    /* short timeout: due first */
    struct instance_rec s = inst(sid, "DEFAULT", "10.0.0.5", 1, "s");
    s.last_beat_ms = T0;
    s.hb_timeout_ms = 100;
    put(st, &h, true);
    put(st, &u, true);
    put(st, &p, true);
    put(st, &m, true);
    put(st, &s, true);

    struct rows rw = {0};
    assert_int_equal(store_instance_foreach_expired(st, T0 + 100, 100, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 0);   /* due at T0 + 100 exactly is not past due */

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 101, 100, collect_inst, &rw), 0);
    const char *w1[] = {"DEFAULT/10.0.0.5:1"};
    assert_rows(&rw, w1, 1);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 15000, 100, collect_inst, &rw), 0);
    assert_rows(&rw, w1, 1);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 15001, 100, collect_inst, &rw), 0);
    const char *w2[] = {"DEFAULT/10.0.0.5:1", "DEFAULT/10.0.0.1:1"};
    assert_rows(&rw, w2, 2);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 20001, 100, collect_inst, &rw), 0);
    const char *w3[] = {"DEFAULT/10.0.0.5:1", "DEFAULT/10.0.0.1:1", "DEFAULT/10.0.0.2:1"};   /* oldest due first */
    assert_rows(&rw, w3, 3);

    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 20001, 2, collect_inst, &rw), 0);
    assert_rows(&rw, w3, 2);   /* limit */

    /* turning h unhealthy moves its due time to last_beat + delete_timeout */
    memset(&rw, 0, sizeof rw);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, sid, "DEFAULT", "10.0.0.1", 1, &r), 0);
    assert_int_equal(store_instance_set_health(st, r.id, false), 0);
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 20001, 100, collect_inst, &rw), 0);
    const char *w4[] = {"DEFAULT/10.0.0.5:1", "DEFAULT/10.0.0.2:1"};
    assert_rows(&rw, w4, 2);
    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 30001, 100, collect_inst, &rw), 0);
    const char *w5[] = {"DEFAULT/10.0.0.5:1", "DEFAULT/10.0.0.2:1", "DEFAULT/10.0.0.1:1"};
    assert_rows(&rw, w5, 3);

    /* a beat moves it back to last_beat + hb_timeout from the beat */
    assert_int_equal(store_instance_beat(st, NS, SVC, "DEFAULT", "10.0.0.1", 1, T0 + 30000, NULL), 0);
    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 45000, 100, collect_inst, &rw), 0);
    assert_rows(&rw, w4, 2);
    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, T0 + 45001, 100, collect_inst, &rw), 0);
    assert_rows(&rw, w5, 3);

    /* the persistent and marked ones never showed up */
    memset(&rw, 0, sizeof rw);
    assert_int_equal(store_instance_foreach_expired(st, INT64_MAX, 100, collect_inst, &rw), 0);
    assert_int_equal(rw.n, 3);
}

static void test_next_numeric_id(void **state)
{
    struct store *st = *state;
    int64_t sid = svc(st, NS, SVC), other = svc(st, NS, "DEFAULT_GROUP@@other");
    long id = -1;
    assert_int_equal(store_instance_next_numeric_id(st, sid, &id), 0);
    assert_int_equal(id, 0);
    const char *ids[] = {"0", "1", "3", "10.0.0.9#80#DEFAULT#x", "-1", "", "2x"};
    for (int i = 0; i < 7; i++) {
        struct instance_rec in = inst(sid, "DEFAULT", "10.0.0.1", 1000 + i, ids[i]);
        put(st, &in, true);
    }
    struct instance_rec o = inst(other, "DEFAULT", "10.0.0.1", 1, "2");   /* other service: not counted */
    put(st, &o, true);
    assert_int_equal(store_instance_next_numeric_id(st, sid, &id), 0);
    assert_int_equal(id, 2);
    struct instance_rec two = inst(sid, "DEFAULT", "10.0.0.2", 1, "2");
    put(st, &two, true);
    assert_int_equal(store_instance_next_numeric_id(st, sid, &id), 0);
    assert_int_equal(id, 4);
    /* a large id grows the bitmap */
    struct instance_rec big = inst(sid, "DEFAULT", "10.0.0.3", 1, "4");
    put(st, &big, true);
    for (int i = 5; i < 200; i++) {
        char b[16];
        snprintf(b, sizeof b, "%d", i);
        struct instance_rec in = inst(sid, "C", "10.0.0.4", i, b);
        put(st, &in, true);
    }
    assert_int_equal(store_instance_next_numeric_id(st, sid, &id), 0);
    assert_int_equal(id, 200);
    assert_int_equal(store_instance_next_numeric_id(st, other, &id), 0);
    assert_int_equal(id, 0);
}

static void test_counts(void **state)
{
    struct store *st = *state;
    long ns = -1, ni = -1, nh = -1;
    assert_int_equal(store_counts(st, &ns, &ni, &nh), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(ni, 0);
    assert_int_equal(nh, 0);
    int64_t a = svc(st, NS, SVC);
    svc(st, "dev", SVC);
    struct instance_rec i1 = inst(a, "DEFAULT", "10.0.0.1", 1, "1"), i2 = inst(a, "DEFAULT", "10.0.0.2", 1, "2");
    struct instance_rec i3 = inst(a, "DEFAULT", "10.0.0.3", 1, "3");
    i2.healthy = false;
    i3.ephemeral = false;
    put(st, &i1, true);
    put(st, &i2, true);
    put(st, &i3, true);
    assert_int_equal(store_counts(st, &ns, &ni, &nh), 0);
    assert_int_equal(ns, 2);
    assert_int_equal(ni, 3);
    assert_int_equal(nh, 2);
    assert_int_equal(store_counts(st, NULL, NULL, NULL), 0);
}

struct seen { int64_t ids[16]; int n; };

static void on_forgot(void *ctx, int64_t service_id)
{
    struct seen *s = ctx;
    if (s->n < 16) s->ids[s->n] = service_id;
    s->n++;
}

static void test_forget_ephemeral(void **state)
{
    struct store *st = *state;
    int64_t a = svc(st, NS, "g@@a"), b = svc(st, NS, "g@@b"), d = svc(st, "dev", "g@@a");
    int64_t ids[] = {a, a, b, d};
    const char *ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
    for (int i = 0; i < 4; i++) {
        struct instance_rec in = inst(ids[i], "DEFAULT", ips[i], 1, ips[i]);
        put(st, &in, true);
    }
    struct instance_rec p = inst(a, "DEFAULT", "10.0.0.9", 1, "p");
    p.ephemeral = false;
    put(st, &p, true);
    for (int i = 0; i < 3; i++) assert_int_equal(store_service_touch(st, (int64_t[]){a, b, d}[i], T0, 0), 0);

    /* narrowed to one service of one namespace */
    struct seen seen = {0};
    long removed = -1;
    assert_int_equal(store_forget_ephemeral(st, NS, "g@@a", T0 + 10, 0, on_forgot, &seen, &removed), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.ids[0], a);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.0.0.9", 1, &r), 0);   /* persistent stays */
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.0.0.1", 1, &r), 1);
    assert_int_equal(store_instance_get(st, d, "DEFAULT", "10.0.0.4", 1, &r), 0);   /* other namespace stays */
    store_instance_rec_free(&r);
    struct service_rec s;
    assert_int_equal(store_service_get(st, NS, "g@@a", &s), 0);
    assert_int_equal(s.revision, 4);           /* touched again: a stamp above the three handed out before */
    assert_int_equal(s.empty_since_ms, 0);     /* still has the persistent one */
    store_service_rec_free(&s);

    /* everything else */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_forget_ephemeral(st, NULL, NULL, T0 + 20, 0, on_forgot, &seen, &removed), 0);
    assert_int_equal(removed, 2);
    assert_int_equal(seen.n, 2);
    assert_int_equal(store_service_get(st, NS, "g@@b", &s), 0);
    assert_int_equal(s.empty_since_ms, T0 + 20);   /* now empty */
    store_service_rec_free(&s);
    long ni = 0;
    assert_int_equal(store_counts(st, NULL, &ni, NULL), 0);
    assert_int_equal(ni, 1);

    /* nothing left to forget; a NULL callback is fine */
    assert_int_equal(store_forget_ephemeral(st, NULL, NULL, T0 + 30, 0, NULL, NULL, &removed), 0);
    assert_int_equal(removed, 0);
}

static void test_gc_empty_services(void **state)
{
    struct store *st = *state;
    int64_t old_implicit = 0, young_implicit = 0, explicit_ = 0, busy = 0;
    assert_int_equal(store_service_ensure(st, NS, "g@@old", T0, &old_implicit), 0);
    assert_int_equal(store_service_ensure(st, NS, "g@@young", T0 + 50000, &young_implicit), 0);
    assert_int_equal(store_service_create(st, NS, "g@@explicit", 0, NULL, NULL, true, T0, &explicit_), 0);
    assert_int_equal(store_service_ensure(st, NS, "g@@busy", T0, &busy), 0);
    struct instance_rec in = inst(busy, "DEFAULT", "10.0.0.1", 1, "x");
    put(st, &in, true);
    assert_int_equal(store_service_touch(st, busy, T0, 0), 0);

    long removed = -1;
    assert_int_equal(store_gc_empty_services(st, T0, &removed), 0);   /* empty since T0 is not before T0 */
    assert_int_equal(removed, 0);
    assert_int_equal(store_gc_empty_services(st, T0 + 30000, &removed), 0);
    assert_int_equal(removed, 1);
    struct service_rec s;
    assert_int_equal(store_service_get(st, NS, "g@@old", &s), 1);
    assert_int_equal(store_service_get(st, NS, "g@@young", &s), 0);
    store_service_rec_free(&s);
    assert_int_equal(store_service_get(st, NS, "g@@explicit", &s), 0);
    store_service_rec_free(&s);
    assert_int_equal(store_service_get(st, NS, "g@@busy", &s), 0);
    store_service_rec_free(&s);

    assert_int_equal(store_gc_empty_services(st, INT64_MAX, &removed), 0);
    assert_int_equal(removed, 1);   /* young; never the explicit one or the one with an instance */
    assert_int_equal(store_service_get(st, NS, "g@@explicit", &s), 0);
    store_service_rec_free(&s);
    assert_int_equal(store_service_get(st, NS, "g@@busy", &s), 0);
    store_service_rec_free(&s);
}

static void test_transactions_and_clear(void **state)
{
    struct store *st = *state;
    assert_int_equal(store_begin(st), 0);
    int64_t sid = svc(st, NS, SVC);
    struct instance_rec in = inst(sid, "DEFAULT", "10.0.0.1", 1, "x");
    put(st, &in, true);
    store_rollback(st);
    long ns = -1, ni = -1;
    assert_int_equal(store_counts(st, &ns, &ni, NULL), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(ni, 0);
    store_rollback(st);   /* outside a transaction: harmless */

    assert_int_equal(store_begin(st), 0);
    sid = svc(st, NS, SVC);
    in.service_id = sid;
    put(st, &in, true);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_counts(st, &ns, &ni, NULL), 0);
    assert_int_equal(ns, 1);
    assert_int_equal(ni, 1);

    assert_int_equal(store_clear(st), 0);
    assert_int_equal(store_counts(st, &ns, &ni, NULL), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(ni, 0);
}

/* A database file in a fresh temporary directory; tmp_db_remove deletes both (and WAL leftovers). */
struct tmp_db { char dir[32], path[128], wal[140], shm[140]; };

static void tmp_db_make(struct tmp_db *t, const char *name)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/nacos-mock-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    snprintf(t->wal, sizeof t->wal, "%s-wal", t->path);
    snprintf(t->shm, sizeof t->shm, "%s-shm", t->path);
}

static void tmp_db_remove(const struct tmp_db *t)
{
    unlink(t->wal);
    unlink(t->shm);
    assert_int_equal(unlink(t->path), 0);
    assert_int_equal(rmdir(t->dir), 0);
}

static void test_file_db_survives_restart(void **state)
{
    (void)state;
    struct tmp_db t;
    tmp_db_make(&t, "registry.db");
    const char *path = t.path;

    char err[256] = "";
    struct store *st = store_open(path, err, sizeof err);
    if (!st) fail_msg("store_open(%s): %s", path, err);
    int64_t a = 0, b = 0;
    assert_int_equal(store_service_create(st, NS, SVC, 0.3, "{\"k\":\"v\"}", NULL, true, T0, &a), 0);
    assert_int_equal(store_service_ensure(st, "dev", "g@@implicit", T0, &b), 0);
    struct instance_rec p = inst(a, "DEFAULT", "10.0.0.1", 8080, "persist-id"), e = inst(a, "DEFAULT", "10.0.0.2", 8080, "e");
    p.ephemeral = false;
    p.weight = 2.5;
    p.metadata = "{\"m\":\"1\"}";
    struct instance_rec e2 = inst(b, "DEFAULT", "10.0.0.3", 8080, "e2");
    put(st, &p, true);
    put(st, &e, true);
    put(st, &e2, true);
    store_close(st);

    st = store_open(path, err, sizeof err);
    if (!st) fail_msg("reopen %s: %s", path, err);
    struct service_rec s;
    assert_int_equal(store_service_get(st, NS, SVC, &s), 0);
    assert_true(s.protect_threshold == 0.3);
    assert_string_equal(s.metadata, "{\"k\":\"v\"}");
    assert_true(s.explicit_);
    store_service_rec_free(&s);
    assert_int_equal(store_service_get(st, "dev", "g@@implicit", &s), 0);   /* services survive, even empty */
    store_service_rec_free(&s);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.0.0.1", 8080, &r), 0);
    assert_string_equal(r.instance_id, "persist-id");
    assert_true(r.weight == 2.5);
    assert_string_equal(r.metadata, "{\"m\":\"1\"}");
    assert_false(r.ephemeral);
    store_instance_rec_free(&r);
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.0.0.2", 8080, &r), 1);   /* ephemeral lost */
    assert_int_equal(store_instance_get(st, b, "DEFAULT", "10.0.0.3", 8080, &r), 1);
    long ns = 0, ni = 0;
    assert_int_equal(store_counts(st, &ns, &ni, NULL), 0);
    assert_int_equal(ns, 2);
    assert_int_equal(ni, 1);
    store_close(st);

    tmp_db_remove(&t);
}

/* The one row of 4 integers `sql` gives on the database file at path is `want`. */
static void assert_row4(const char *path, const char *sql, const int want[4])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    for (int i = 0; i < 4; i++)
        if (sqlite3_column_int(q, i) != want[i]) fail_msg("%s: column %d is %d, want %d", sql, i, sqlite3_column_int(q, i), want[i]);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* The services table and the instance columns of schema versions 1 and 2 (an old file's, written
 * here with SQLite directly; version 1 adds a generated column). */
#define V1_V2_TABLES                                                                                       \
    "CREATE TABLE services(id INTEGER PRIMARY KEY, ns TEXT NOT NULL, name TEXT NOT NULL,"                  \
    "  protect_threshold REAL NOT NULL DEFAULT 0, metadata TEXT NOT NULL DEFAULT '{}',"                   \
    "  selector TEXT NOT NULL DEFAULT '{\"type\":\"none\"}', explicit INTEGER NOT NULL DEFAULT 0,"         \
    "  created_ms INTEGER NOT NULL, empty_since_ms INTEGER NOT NULL DEFAULT 0,"                           \
    "  revision INTEGER NOT NULL DEFAULT 0, UNIQUE(ns, name));"                                           \
    "CREATE TABLE instances(id INTEGER PRIMARY KEY,"                                                      \
    "  service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,"                            \
    "  cluster TEXT NOT NULL, ip TEXT NOT NULL, port INTEGER NOT NULL, instance_id TEXT NOT NULL,"        \
    "  weight REAL NOT NULL, healthy INTEGER NOT NULL, enabled INTEGER NOT NULL,"                         \
    "  ephemeral INTEGER NOT NULL, marked INTEGER NOT NULL DEFAULT 0,"                                    \
    "  metadata TEXT NOT NULL DEFAULT '{}', app TEXT,"                                                    \
    "  registered_ms INTEGER NOT NULL, last_beat_ms INTEGER NOT NULL,"                                    \
    "  hb_interval_ms INTEGER NOT NULL, hb_timeout_ms INTEGER NOT NULL, delete_timeout_ms INTEGER NOT NULL,"

/* A file written by schema version 1 (ephemeral instances in the table, with a generated due-time
 * column and its index) opens at the current version: persistent instances kept, ephemeral ones dropped as at
 * any restart, the column and index gone. Version 1's schema is written here with SQLite directly. */
static void test_migrates_schema_1(void **state)
{
    (void)state;
    struct tmp_db t;
    tmp_db_make(&t, "v1.db");
    const char *path = t.path;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    const char *v1 =
        V1_V2_TABLES
        "  expire_at INTEGER GENERATED ALWAYS AS (CASE WHEN ephemeral AND NOT marked THEN last_beat_ms +"
        "    CASE WHEN healthy THEN min(hb_timeout_ms, delete_timeout_ms) ELSE delete_timeout_ms END END) VIRTUAL,"
        "  UNIQUE(service_id, cluster, ip, port));"
        "CREATE INDEX instances_expire ON instances(expire_at) WHERE expire_at IS NOT NULL;"
        "INSERT INTO services(id, ns, name, explicit, created_ms) VALUES(1, 'public', 'DEFAULT_GROUP@@order', 1, 1);"
        "INSERT INTO instances(service_id, cluster, ip, port, instance_id, weight, healthy, enabled, ephemeral,"
        "  registered_ms, last_beat_ms, hb_interval_ms, hb_timeout_ms, delete_timeout_ms) VALUES"
        "  (1, 'DEFAULT', '10.0.0.1', 80, 'p', 1, 1, 1, 0, 1, 1, 5000, 15000, 30000),"
        "  (1, 'DEFAULT', '10.0.0.2', 80, 'e', 1, 1, 1, 1, 1, 1, 5000, 15000, 30000);"
        "PRAGMA user_version=1;";
    char *msg = NULL;
    if (sqlite3_exec(db, v1, NULL, NULL, &msg) != SQLITE_OK) fail_msg("writing a version 1 file: %s", msg);
    sqlite3_close(db);

    char err[256] = "";
    struct store *st = store_open(path, err, sizeof err);
    if (!st) fail_msg("store_open(%s): %s", path, err);
    struct rows rw = {0};
    assert_int_equal(store_instance_foreach(st, 1, collect_inst, &rw), 0);
    const char *want[] = {"DEFAULT/10.0.0.1:80"};
    assert_rows(&rw, want, 1);
    struct instance_rec in = inst(1, "DEFAULT", "10.0.0.3", 80, "p2");
    in.ephemeral = false;
    put(st, &in, true);
    store_close(st);

    assert_row4(path, "SELECT (SELECT user_version FROM pragma_user_version),"
                      " (SELECT count(*) FROM pragma_table_info('instances') WHERE name='expire_at'),"
                      " (SELECT count(*) FROM sqlite_master WHERE name='instances_expire'),"
                      " (SELECT count(*) FROM instances)", (int[]){4, 0, 0, 2});
    tmp_db_remove(&t);
}

/* A file written by schema version 2 opens as version 4: the config tables (3) and the meta table (4)
 * appear, the registry is kept. */
static void test_migrates_schema_2(void **state)
{
    (void)state;
    struct tmp_db t;
    tmp_db_make(&t, "v2.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
    const char *v2 =
        V1_V2_TABLES
        "  UNIQUE(service_id, cluster, ip, port));"
        "INSERT INTO services(id, ns, name, explicit, created_ms) VALUES(1, 'public', 'DEFAULT_GROUP@@order', 1, 1);"
        "INSERT INTO instances(service_id, cluster, ip, port, instance_id, weight, healthy, enabled, ephemeral,"
        "  registered_ms, last_beat_ms, hb_interval_ms, hb_timeout_ms, delete_timeout_ms) VALUES"
        "  (1, 'DEFAULT', '10.0.0.1', 80, 'p', 1, 1, 1, 0, 1, 1, 5000, 15000, 30000);"
        "PRAGMA user_version=2;";
    char *msg = NULL;
    if (sqlite3_exec(db, v2, NULL, NULL, &msg) != SQLITE_OK) fail_msg("writing a version 2 file: %s", msg);
    sqlite3_close(db);

    char err[256] = "";
    struct store *st = store_open(t.path, err, sizeof err);
    if (!st) fail_msg("store_open(%s): %s", t.path, err);
    struct cfg_store *cs = store_config_open(t.path, err, sizeof err);
    if (!cs) fail_msg("store_config_open(%s): %s", t.path, err);
    struct rows rw = {0};
    assert_int_equal(store_instance_foreach(st, 1, collect_inst, &rw), 0);
    const char *want[] = {"DEFAULT/10.0.0.1:80"};
    assert_rows(&rw, want, 1);
    struct config_rec c = {.ns = "public", .group = "G", .data_id = "d", .content = "x", .content_len = 1, .md5 = "m"};
    assert_int_equal(store_config_put(cs, &c, T0, NULL), 0);
    store_config_close(cs);
    store_close(st);

    assert_row4(t.path, "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM config),"
                        " (SELECT count(*) FROM config_history), (SELECT count(*) FROM instances)", (int[]){4, 1, 0, 1});
    tmp_db_remove(&t);
}

/* ---------------------------------------------------------------- configs */

static struct cfg_store *cfg_mem(void)
{
    char err[256] = "";
    struct cfg_store *cs = store_config_open(":memory:", err, sizeof err);
    if (!cs) fail_msg("store_config_open: %s", err);
    return cs;
}

static struct config_rec cfg(const char *group, const char *data_id, const char *content, const char *md5)
{
    return (struct config_rec){.ns = "public", .group = group, .data_id = data_id, .content = content,
                               .content_len = strlen(content), .md5 = md5, .type = "yaml", .app_name = "app"};
}

static void test_config_put_get_delete(void **state)
{
    (void)state;
    struct cfg_store *cs = cfg_mem();
    char md5[33];
    assert_int_equal(store_config_md5(cs, "public", "G", "a", md5), 1);
    assert_string_equal(md5, "");
    struct config_rec in = cfg("G", "a", "  spaced  \n", "m1");
    bool created = false;
    assert_int_equal(store_config_put(cs, &in, T0, &created), 0);
    assert_true(created);
    in.content = "v2";
    in.content_len = 2;
    in.md5 = "m2";
    in.desc = "d";
    assert_int_equal(store_config_put(cs, &in, T0 + 5, &created), 0);
    assert_false(created);
    struct config_rec r;
    assert_int_equal(store_config_get(cs, "public", "G", "a", &r), 0);
    assert_string_equal(r.content, "v2");
    assert_int_equal(r.content_len, 2);
    assert_string_equal(r.md5, "m2");
    assert_string_equal(r.type, "yaml");
    assert_string_equal(r.desc, "d");
    assert_string_equal(r.tags, "");
    assert_int_equal(r.created_ms, T0);
    assert_int_equal(r.modified_ms, T0 + 5);
    store_config_rec_free(&r);
    assert_int_equal(store_config_get(cs, "ns2", "G", "a", &r), 1);   /* namespaces are apart */
    assert_int_equal(store_config_md5(cs, "public", "G", "a", md5), 0);
    assert_string_equal(md5, "m2");
    assert_int_equal(store_config_delete(cs, "public", "G", "a"), 0);
    assert_int_equal(store_config_delete(cs, "public", "G", "a"), 1);
    assert_int_equal(store_config_get(cs, "public", "G", "a", &r), 1);
    store_config_close(cs);
}

/* Every byte value but NUL, in valid UTF-8, and a 1 MB content come back exactly. */
static void test_config_byte_exact(void **state)
{
    (void)state;
    struct cfg_store *cs = cfg_mem();
    size_t n = 1024 * 1024;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = (char)(1 + i % 127);
    memcpy(big + 1000, "\xe4\xb8\xad\xf0\x9f\x98\x80\r\n\t ", 11);
    big[n] = '\0';
    struct config_rec in = cfg("G", "big", big, "m");
    in.content_len = n;
    assert_int_equal(store_config_put(cs, &in, T0, NULL), 0);
    struct config_rec r;
    assert_int_equal(store_config_get(cs, "public", "G", "big", &r), 0);
    assert_int_equal(r.content_len, n);
    assert_memory_equal(r.content, big, n);
    store_config_rec_free(&r);
    free(big);
    store_config_close(cs);
}

struct hist_rows { char s[40][64]; size_t n; int64_t nid[200]; };

static int collect_hist(void *ctx, const struct config_history_rec *h)
{
    struct hist_rows *r = ctx;
    if (r->n < 40) snprintf(r->s[r->n], sizeof r->s[0], "%s:%.20s", h->op_type, h->content);
    if (r->n < 200) r->nid[r->n] = h->id;
    r->n++;
    return 0;
}

static void test_config_history(void **state)
{
    (void)state;
    struct cfg_store *cs = cfg_mem();
    struct config_rec in = cfg("G", "a", "one", "m1");
    /* what cs_core does: insert then I (the new content); U / D before the change (the old content) */
    assert_int_equal(store_config_put(cs, &in, T0, NULL), 0);
    assert_int_equal(store_config_history_add(cs, "public", "G", "a", "I", "10.0.0.1", "alice", T0), 0);
    assert_int_equal(store_config_history_add(cs, "public", "G", "a", "U", "10.0.0.2", "bob", T0 + 1), 0);
    in.content = "two";
    in.content_len = 3;
    assert_int_equal(store_config_put(cs, &in, T0 + 1, NULL), 0);
    assert_int_equal(store_config_history_add(cs, "public", "G", "a", "D", "", "", T0 + 2), 0);
    assert_int_equal(store_config_delete(cs, "public", "G", "a"), 0);
    /* absent: nothing appended */
    assert_int_equal(store_config_history_add(cs, "public", "G", "a", "D", "", "", T0 + 3), 0);
    struct hist_rows r = {0};
    long total = 0;
    assert_int_equal(store_config_history(cs, "public", "G", "a", 0, 10, collect_hist, &r, &total), 0);
    assert_int_equal(total, 3);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.s[0], "D:two");
    assert_string_equal(r.s[1], "U:one");
    assert_string_equal(r.s[2], "I:one");
    struct hist_rows one = {0};
    assert_int_equal(store_config_history_get(cs, r.nid[1], collect_hist, &one), 0);
    assert_string_equal(one.s[0], "U:one");
    assert_int_equal(store_config_history_get(cs, 99999, collect_hist, &one), 1);
    /* paging */
    struct hist_rows p = {0};
    assert_int_equal(store_config_history(cs, "public", "G", "a", 1, 1, collect_hist, &p, NULL), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.s[0], "U:one");

    /* pruned to the newest CONFIG_HISTORY_KEEP */
    in.content = "x";
    in.content_len = 1;
    assert_int_equal(store_config_put(cs, &in, T0, NULL), 0);
    for (int i = 0; i < CONFIG_HISTORY_KEEP + 20; i++)
        assert_int_equal(store_config_history_add(cs, "public", "G", "a", "U", "", "", T0 + i), 0);
    assert_int_equal(store_config_history(cs, "public", "G", "a", 0, -1, collect_hist, &(struct hist_rows){0}, &total), 0);
    assert_int_equal(total, CONFIG_HISTORY_KEEP);

    /* and by bytes: 10 MiB versions, 64 MiB budget -> the 6 newest */
    size_t n = 10u * 1024 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'b', n);
    big[n] = '\0';
    struct config_rec b = cfg("G", "big", big, "m");
    assert_int_equal(store_config_put(cs, &b, T0, NULL), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(store_config_history_add(cs, "public", "G", "big", "U", "", "", T0 + i), 0);
    assert_int_equal(store_config_history(cs, "public", "G", "big", 0, -1, collect_hist, &(struct hist_rows){0}, &total), 0);
    assert_int_equal(total, (long)(CONFIG_HISTORY_BYTES / (long)n));
    free(big);
    store_config_close(cs);
}

struct cfg_rows { char s[32][80]; size_t n; };

static int collect_cfg(void *ctx, const struct config_rec *c)
{
    struct cfg_rows *r = ctx;
    if (r->n < 32) snprintf(r->s[r->n], sizeof r->s[0], "%s/%s/%s", c->ns, c->group, c->data_id);
    r->n++;
    return 0;
}

static void test_config_search(void **state)
{
    (void)state;
    struct cfg_store *cs = cfg_mem();
    const char *keys[][2] = {{"G1", "app.yaml"}, {"G1", "app.json"}, {"G2", "db.yaml"}, {"G2", "a?b"}, {"G2", "a[b"}};
    for (size_t i = 0; i < 5; i++) {
        struct config_rec c = cfg(keys[i][0], keys[i][1], "c", "m");
        assert_int_equal(store_config_put(cs, &c, T0, NULL), 0);
    }
    struct config_rec other = cfg("G1", "app.yaml", "c", "m");
    other.ns = "dev";
    other.app_name = "other";
    assert_int_equal(store_config_put(cs, &other, T0, NULL), 0);

    long total = 0;
    struct cfg_rows r = {0};
    struct config_filter f = {.ns = "public"};
    assert_int_equal(store_config_search(cs, &f, 0, -1, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 5);
    assert_string_equal(r.s[0], "public/G1/app.yaml");   /* by id: insertion order */

    memset(&r, 0, sizeof r);
    f = (struct config_filter){.ns = "public", .data_id = "app.*", .glob = true};
    assert_int_equal(store_config_search(cs, &f, 0, -1, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 2);
    memset(&r, 0, sizeof r);
    f = (struct config_filter){.data_id = "*.yaml", .glob = true};   /* every namespace */
    assert_int_equal(store_config_search(cs, &f, 0, -1, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 3);
    memset(&r, 0, sizeof r);
    f = (struct config_filter){.data_id = "a?b", .glob = true};   /* '?' and '[' are literal */
    assert_int_equal(store_config_search(cs, &f, 0, -1, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 1);
    assert_string_equal(r.s[0], "public/G2/a?b");
    memset(&r, 0, sizeof r);
    f = (struct config_filter){.data_id = "a[b", .glob = true};
    assert_int_equal(store_config_search(cs, &f, 0, -1, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 1);
    memset(&r, 0, sizeof r);
    f = (struct config_filter){.data_id = "app.*"};   /* accurate: no patterns */
    assert_int_equal(store_config_search(cs, &f, 0, -1, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 0);
    memset(&r, 0, sizeof r);
    f = (struct config_filter){.group = "G*", .app_name = "other", .glob = true};
    assert_int_equal(store_config_search(cs, &f, 0, -1, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 1);
    assert_string_equal(r.s[0], "dev/G1/app.yaml");
    memset(&r, 0, sizeof r);
    f = (struct config_filter){.ns = "public"};   /* paging */
    assert_int_equal(store_config_search(cs, &f, 2, 2, collect_cfg, &r, &total), 0);
    assert_int_equal(total, 5);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.s[0], "public/G2/db.yaml");

    memset(&r, 0, sizeof r);
    assert_int_equal(store_config_foreach(cs, collect_cfg, &r), 0);
    assert_int_equal(r.n, 6);
    assert_string_equal(r.s[0], "dev/G1/app.yaml");
    assert_string_equal(r.s[1], "public/G1/app.json");
    assert_int_equal(store_config_clear(cs), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(store_config_foreach(cs, collect_cfg, &r), 0);
    assert_int_equal(r.n, 0);
    store_config_close(cs);
}

/* With a file, the registry and the config connection write one database; both survive a reopen. */
static void test_config_file_shared(void **state)
{
    (void)state;
    struct tmp_db t;
    tmp_db_make(&t, "both.db");
    char err[256] = "";
    struct store *st = store_open(t.path, err, sizeof err);
    assert_non_null(st);
    struct cfg_store *cs = store_config_open(t.path, err, sizeof err);
    assert_non_null(cs);
    assert_int_equal(store_config_begin(cs), 0);
    struct config_rec c = cfg("G", "a", "kept", "m");
    assert_int_equal(store_config_put(cs, &c, T0, NULL), 0);
    assert_int_equal(store_config_commit(cs), 0);
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_service_create(st, NS, SVC, 0, NULL, NULL, true, T0, NULL), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_config_begin(cs), 0);   /* a rolled-back write leaves nothing */
    struct config_rec gone = cfg("G", "gone", "x", "m");
    assert_int_equal(store_config_put(cs, &gone, T0, NULL), 0);
    store_config_rollback(cs);
    store_config_close(cs);
    store_close(st);

    st = store_open(t.path, err, sizeof err);
    cs = store_config_open(t.path, err, sizeof err);
    assert_non_null(st);
    assert_non_null(cs);
    struct config_rec r;
    assert_int_equal(store_config_get(cs, "public", "G", "a", &r), 0);
    assert_string_equal(r.content, "kept");
    store_config_rec_free(&r);
    assert_int_equal(store_config_get(cs, "public", "G", "gone", &r), 1);
    struct service_rec sv;
    assert_int_equal(store_service_get(st, NS, SVC, &sv), 0);
    store_service_rec_free(&sv);
    store_config_close(cs);
    store_close(st);
    tmp_db_remove(&t);
}

static void test_open_bad_path(void **state)
{
    (void)state;
    char err[256] = "";
    struct store *st = store_open("/nonexistent-dir-for-nacos-mock/x.db", err, sizeof err);
    assert_null(st);
    assert_non_null(strstr(err, "/nonexistent-dir-for-nacos-mock/x.db"));
}


/* ---- change stamps: what a service answers as lastRefTime never goes back (store.h). Real time is a
 * parameter, so the case that breaks naive stamps — many changes within one millisecond pushing a
 * service's stamp ahead of real time, then the service going away — is reproduced exactly. */

/* A burst of n changes of service `id` at one real millisecond; returns the last stamp. */
static int64_t burst(struct store *st, int64_t id, int n)
{
    for (int i = 0; i < n; i++) assert_int_equal(store_service_touch(st, id, T0, T0), 0);
    struct service_rec s;
    int64_t rev = 0;
    const char *names[2][2] = {{NS, SVC}, {"dev", "g@@other"}};
    for (int k = 0; k < 2 && !rev; k++)
        if (store_service_get(st, names[k][0], names[k][1], &s) == 0) {
            if (s.id == id) rev = s.revision;
            store_service_rec_free(&s);
        }
    assert_true(rev >= T0 + n - 1);   /* ahead of real time */
    return rev;
}

static int64_t revision_of(struct store *st, const char *ns, const char *name)
{
    struct service_rec s;
    assert_int_equal(store_service_get(st, ns, name, &s), 0);
    int64_t r = s.revision;
    store_service_rec_free(&s);
    return r;
}

static void test_stamps_only_grow_within_a_service(void **state)
{
    struct store *st = *state;
    int64_t id = svc(st, NS, SVC);
    assert_int_equal(revision_of(st, NS, SVC), 0);
    int64_t last = burst(st, id, 50);
    /* a later real time than the burst's lead: real time again */
    assert_int_equal(store_service_touch(st, id, T0, T0 + 1000), 0);
    assert_int_equal(revision_of(st, NS, SVC), T0 + 1000);
    /* the same millisecond again, and an earlier one (a clock step back): still above */
    assert_int_equal(store_service_touch(st, id, T0, T0 + 1000), 0);
    assert_int_equal(revision_of(st, NS, SVC), T0 + 1001);
    assert_int_equal(store_service_touch(st, id, T0, T0 - 5000), 0);
    assert_true(revision_of(st, NS, SVC) > T0 + 1001 && last < T0 + 1001);
    /* several services in one statement (the sweeper): each above everything before */
    int64_t other = svc(st, "dev", "g@@other");
    int64_t ids[] = {id, other};
    int64_t before = revision_of(st, NS, SVC);
    assert_int_equal(store_service_touch_many(st, ids, 2, T0, T0), 0);
    assert_true(revision_of(st, NS, SVC) > before);
    assert_true(revision_of(st, "dev", "g@@other") > before);
    /* an update of settings alone does not stamp (its caller touches) and never lowers the stamp */
    before = revision_of(st, NS, SVC);
    assert_int_equal(store_service_update(st, id, 0.5, NULL, NULL), 0);
    assert_int_equal(revision_of(st, NS, SVC), before);
}

/* Every way a service can go, then come back (or be asked for while gone): the next stamp it
 * answers is above the last one it had. */
static void test_stamps_survive_the_service_going(void **state)
{
    struct store *st = *state;
    enum { DELETE, CLEAR, GC, FORGET, N_PATHS };
    const char *names[] = {"delete", "clear (reset)", "empty-service collection", "forget"};
    for (int path = 0; path < N_PATHS; path++) {
        int64_t id = svc(st, NS, SVC);
        struct instance_rec e = inst(id, "DEFAULT", "10.0.0.1", 1, "e");
        put(st, &e, true);
        int64_t last = burst(st, id, 200);   /* the service's stamp is 199 ms ahead of real time */
        long n = 0;
        switch (path) {
        case DELETE: assert_int_equal(store_service_delete(st, id), 0); break;
        case CLEAR: assert_int_equal(store_clear(st), 0); break;
        case GC:
            assert_int_equal(store_instance_delete(st, id, "DEFAULT", "10.0.0.1", 1, true), 0);
            assert_int_equal(store_service_touch(st, id, T0, T0), 0);   /* empty since T0 */
            last = revision_of(st, NS, SVC);
            assert_int_equal(store_gc_empty_services(st, T0 + 1, &n), 0);
            assert_int_equal(n, 1);
            break;
        case FORGET:
            assert_int_equal(store_forget_ephemeral(st, NULL, NULL, T0, T0, NULL, NULL, &n), 0);
            assert_int_equal(n, 1);
            break;
        }
        /* gone (or emptied): what an unknown service answers at the same real millisecond */
        int64_t peek = store_stamp_peek(st, T0);
        if (peek <= last) fail_msg("%s: an unknown service's stamp %lld is not above %lld", names[path],
                                   (long long)peek, (long long)last);
        /* created again and changed at the same real millisecond */
        int64_t again = svc(st, NS, SVC);
        assert_int_equal(store_service_touch(st, again, T0, T0), 0);
        int64_t now = revision_of(st, NS, SVC);
        if (now <= peek) fail_msg("%s: the re-created service's stamp %lld is not above %lld", names[path],
                                  (long long)now, (long long)peek);
        assert_int_equal(store_clear(st), 0);
    }
}

/* What an unknown or unchanged service answers is never below a stamp handed out, and a change made
 * in the same millisecond as such an answer gets a higher one. */
static void test_stamp_peek_then_change(void **state)
{
    struct store *st = *state;
    int64_t p1 = store_stamp_peek(st, T0);
    assert_int_equal(p1, T0);
    assert_int_equal(store_stamp_peek(st, T0), T0);   /* reading twice changes nothing */
    int64_t id = svc(st, NS, SVC);
    assert_int_equal(store_service_touch(st, id, T0, T0), 0);
    assert_true(revision_of(st, NS, SVC) > p1);
    assert_true(store_stamp_peek(st, T0 - 10) >= revision_of(st, NS, SVC));   /* a clock step back */
    assert_int_equal(store_stamp_next(st, T0 + 5000), T0 + 5000);
}

/* A database file carries its stamps into the next run: the first new stamp is above them. */
static void test_stamps_survive_a_restart(void **state)
{
    (void)state;
    struct tmp_db t;
    tmp_db_make(&t, "stamps.db");
    char err[256] = "";
    struct store *st = store_open(t.path, err, sizeof err);
    if (!st) fail_msg("store_open(%s): %s", t.path, err);
    int64_t id = 0;
    assert_int_equal(store_service_create(st, NS, SVC, 0, NULL, NULL, true, T0, &id), 0);
    int64_t last = 0;
    for (int i = 0; i < 300; i++) assert_int_equal(store_service_touch(st, id, T0, T0), 0);
    last = revision_of(st, NS, SVC);
    assert_int_equal(last, T0 + 299);
    store_close(st);
    st = store_open(t.path, err, sizeof err);
    if (!st) fail_msg("reopen %s: %s", t.path, err);
    assert_true(store_stamp_peek(st, T0) >= last);
    assert_true(store_stamp_next(st, T0) > last);
    store_close(st);
    tmp_db_remove(&t);
}

/* A transaction of one service without app->mu (store_begin_service, alone): memory of its own shard
 * only — anything needing SQLite or another shard is refused with STORE_SLOW, and a service's count
 * of persistent instances (kept in memory) decides when SQLite is needed. */
static void test_alone_transactions(void **state)
{
    struct store *st = *state;
    int64_t a = svc(st, NS, "g@@eph-only");
    int64_t b = svc(st, NS, "g@@has-persistent");
    struct instance_rec p = inst(b, "DEFAULT", "10.0.0.1", 80, "p");
    p.ephemeral = false;
    put(st, &p, true);

    assert_int_equal(store_begin_service(st, NS, "g@@eph-only", true), 0);
    int64_t id = 0;
    assert_int_equal(store_service_ensure(st, NS, "g@@eph-only", T0, &id), 0);
    assert_int_equal(id, a);
    struct instance_rec e = inst(a, "DEFAULT", "10.0.0.2", 80, "e");
    put(st, &e, true);                                           /* memory only: allowed */
    assert_int_equal(store_service_touch(st, a, T0 + 1, T0 + 1), 0);
    struct instance_rec r;
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.9.9.9", 80, &r), 1);   /* no SQLite needed to know */
    assert_int_equal(store_service_touch(st, b, T0, T0), STORE_SLOW);                  /* another service */
    assert_int_equal(store_service_ensure(st, NS, "g@@new", T0, &id), STORE_SLOW);     /* a SQLite row */
    struct instance_rec pa = inst(a, "DEFAULT", "10.0.0.3", 80, "pa");
    pa.ephemeral = false;
    assert_int_equal(store_instance_upsert(st, &pa, NULL), STORE_SLOW);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.0.0.2", 80, &r), 0);     /* committed */
    store_instance_rec_free(&r);
    assert_true(revision_of(st, NS, "g@@eph-only") >= T0 + 1);

    /* rolled back: gone, revision too */
    int64_t rev = revision_of(st, NS, "g@@eph-only");
    assert_int_equal(store_begin_service(st, NS, "g@@eph-only", true), 0);
    struct instance_rec e2 = inst(a, "DEFAULT", "10.0.0.4", 80, "e2");
    put(st, &e2, true);
    assert_int_equal(store_service_touch(st, a, T0 + 5, T0 + 5), 0);
    store_rollback(st);
    assert_int_equal(store_instance_get(st, a, "DEFAULT", "10.0.0.4", 80, &r), 1);
    assert_int_equal(revision_of(st, NS, "g@@eph-only"), rev);

    /* a service with a persistent instance: an unknown key may be in SQLite */
    assert_int_equal(store_begin_service(st, NS, "g@@has-persistent", true), 0);
    assert_int_equal(store_instance_get(st, b, "DEFAULT", "10.9.9.9", 80, &r), STORE_SLOW);
    struct instance_rec e3 = inst(b, "DEFAULT", "10.0.0.5", 80, "e3");
    assert_int_equal(store_instance_upsert(st, &e3, NULL), STORE_SLOW);
    store_rollback(st);
    /* once its last persistent instance is gone, memory knows alone again */
    assert_int_equal(store_instance_delete(st, b, "DEFAULT", "10.0.0.1", 80, false), 0);
    assert_int_equal(store_begin_service(st, NS, "g@@has-persistent", true), 0);
    assert_int_equal(store_instance_get(st, b, "DEFAULT", "10.9.9.9", 80, &r), 1);
    store_rollback(st);
    /* and an instance turning persistent (memory -> SQLite) counts again */
    struct instance_rec move = inst(b, "DEFAULT", "10.0.0.6", 80, "m");
    put(st, &move, true);
    move.ephemeral = false;
    put(st, &move, false);
    assert_int_equal(store_begin_service(st, NS, "g@@has-persistent", true), 0);
    assert_int_equal(store_instance_get(st, b, "DEFAULT", "10.9.9.9", 80, &r), STORE_SLOW);
    store_rollback(st);
    move.ephemeral = true;   /* and back: the row goes, the count with it */
    put(st, &move, false);
    assert_int_equal(store_begin_service(st, NS, "g@@has-persistent", true), 0);
    assert_int_equal(store_instance_get(st, b, "DEFAULT", "10.9.9.9", 80, &r), 1);
    store_rollback(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_service_create_get),
        T(test_service_ensure),
        T(test_service_update),
        T(test_service_delete_cascades),
        T(test_service_list_groups_paging),
        T(test_service_touch),
        T(test_instance_upsert_keeps_id_and_registered),
        T(test_instance_delete_matches_ephemeral),
        T(test_beat),
        T(test_beat_sequences),
        T(test_instance_changes_kind),
        T(test_foreach_merges_kinds),
        T(test_service_delete_and_id_reuse),
        T(test_alone_transactions),
        T(test_beat_persistent_unaffected),
        T(test_foreach_healthy_first),
        T(test_foreach_all_order),
        T(test_foreach_expired),
        T(test_next_numeric_id),
        T(test_counts),
        T(test_forget_ephemeral),
        T(test_gc_empty_services),
        T(test_transactions_and_clear),
        T(test_stamps_only_grow_within_a_service),
        T(test_stamps_survive_the_service_going),
        T(test_stamp_peek_then_change),
        cmocka_unit_test(test_stamps_survive_a_restart),
        cmocka_unit_test(test_file_db_survives_restart),
        cmocka_unit_test(test_migrates_schema_1),
        cmocka_unit_test(test_migrates_schema_2),
        cmocka_unit_test(test_config_put_get_delete),
        cmocka_unit_test(test_config_byte_exact),
        cmocka_unit_test(test_config_history),
        cmocka_unit_test(test_config_search),
        cmocka_unit_test(test_config_file_shared),
        cmocka_unit_test(test_open_bad_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
