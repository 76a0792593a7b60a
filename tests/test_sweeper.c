/*
 * test_sweeper.c — unit tests of the health step (sweeper_run_once) with a fake `now`, on an
 * in-process app over the :memory: store. app_start is never called, so there is no listener, no
 * sweeper thread and no push (app->push is NULL, which the push functions accept): every decision
 * seen here is the one the step took at the `now` the test gave it.
 *
 * Time base: T0 is far from the real clock on purpose, so a decision that reads the real clock
 * instead of `now` shows up as a wrong answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/app.h"
#include "nacos_mock/config.h"
#include "nacos_mock/store.h"
#include "nacos_mock/sweeper.h"

#define T0 INT64_C(1000000000000)   /* 2001-09-09, far from the real clock */
#define NS "public"
#define SVC "DEFAULT_GROUP@@order"
#define HB_TIMEOUT 15000
#define DEL_TIMEOUT 30000

struct fx {
    struct config cfg;
    struct app app;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    config_defaults(&f->cfg);
    char err[256] = "";
    if (app_init(&f->app, &f->cfg, err, sizeof err)) {
        fprintf(stderr, "app_init: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    app_free(&f->app);
    config_free(&f->cfg);
    free(f);
    return 0;
}

struct inst_spec {
    const char *ns, *service, *ip;
    int port;
    int64_t last_beat, hb_timeout, delete_timeout;
    bool ephemeral, marked, healthy;
};

static struct inst_spec eph(const char *ip, int port, int64_t last_beat)
{
    return (struct inst_spec){.ns = NS, .service = SVC, .ip = ip, .port = port, .last_beat = last_beat,
                              .hb_timeout = HB_TIMEOUT, .delete_timeout = DEL_TIMEOUT, .ephemeral = true,
                              .healthy = true};
}

static void make_id(char *buf, size_t len, const struct inst_spec *s)
{
    snprintf(buf, len, "%s#%d#DEFAULT#%s", s->ip, s->port, s->service);
}

/* Registers as the register handler does (service ensured, instance upserted, service touched);
 * caller does not hold app.mu. Returns the service id. */
static int64_t add(struct fx *f, const struct inst_spec *s)
{
    char id[300];
    make_id(id, sizeof id, s);
    int64_t sid = 0;
    app_lock(&f->app);
    assert_int_equal(store_service_ensure(f->app.store, s->ns, s->service, s->last_beat, &sid), 0);
    struct instance_rec in = {
        .service_id = sid, .cluster = "DEFAULT", .ip = s->ip, .port = s->port, .instance_id = id, .weight = 1.0,
        .healthy = s->healthy, .enabled = true, .ephemeral = s->ephemeral, .marked = s->marked, .metadata = "{}",
        .registered_ms = s->last_beat, .last_beat_ms = s->last_beat, .hb_interval_ms = 5000,
        .hb_timeout_ms = s->hb_timeout, .delete_timeout_ms = s->delete_timeout,
    };
    bool created = false;
    assert_int_equal(store_instance_upsert(f->app.store, &in, &created), 0);
    assert_true(created);
    assert_int_equal(store_service_touch(f->app.store, sid, s->last_beat, 0), 0);
    app_unlock(&f->app);
    return sid;
}

/* 1 healthy, 0 unhealthy, -1 gone. */
static int health_of(struct fx *f, const char *service, const char *ip, int port)
{
    int out = -1;
    app_lock(&f->app);
    struct service_rec s;
    if (store_service_get(f->app.store, NS, service, &s) == 0) {
        struct instance_rec r;
        int g = store_instance_get(f->app.store, s.id, "DEFAULT", ip, port, &r);
        assert_true(g >= 0);
        if (g == 0) {
            out = r.healthy ? 1 : 0;
            store_instance_rec_free(&r);
        }
        store_service_rec_free(&s);
    }
    app_unlock(&f->app);
    return out;
}

static bool service_exists(struct fx *f, const char *service)
{
    app_lock(&f->app);
    struct service_rec s;
    int g = store_service_get(f->app.store, NS, service, &s);
    assert_true(g >= 0);
    if (g == 0) store_service_rec_free(&s);
    app_unlock(&f->app);
    return g == 0;
}

static int sweep(struct fx *f, int64_t now, long limit, struct sweep_result *r)
{
    app_lock(&f->app);
    int rc = sweeper_run_once(&f->app, now, limit, r);
    app_unlock(&f->app);
    return rc;
}

/* Sweeps with no limit, expects rc 0 and exactly `n` changes; the caller frees r. */
static void sweep_expect(struct fx *f, int64_t now, size_t n, struct sweep_result *r)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(sweep(f, now, 0, r), 0);
    if (r->n != n) {
        for (size_t i = 0; i < r->n; i++)
            fprintf(stderr, "  change %zu: %s %s -> %s (%lld ms)\n", i, r->v[i].instance_id, r->v[i].from,
                    r->v[i].to, (long long)r->v[i].since_beat_ms);
    }
    assert_int_equal(r->n, n);
}

static void assert_change(const struct sweep_change *c, const struct inst_spec *s, const char *from, const char *to,
                          int64_t since)
{
    char id[300];
    make_id(id, sizeof id, s);
    assert_string_equal(c->instance_id, id);
    assert_string_equal(c->ns, s->ns);
    assert_string_equal(c->service, s->service);
    assert_string_equal(c->from, from);
    assert_string_equal(c->to, to);
    assert_int_equal(c->since_beat_ms, since);
}

/* ------------------------------------------------------------------ thresholds */

/* store_instance_beat with the fields these tests look at. */
static int beat_(struct store *st, const char *ns, const char *svc, const char *cluster, const char *ip, int port,
                 int64_t now, bool *was_unhealthy, int64_t *interval, int64_t *sid)
{
    struct beat_result br;
    int rc = store_instance_beat(st, ns, svc, cluster, ip, port, now, &br);
    if (rc == 0) {
        *was_unhealthy = br.was_unhealthy;
        if (interval) *interval = br.interval_ms;
        if (sid) *sid = br.service_id;
    }
    return rc;
}

static void test_healthy_at_timeout_exactly(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    add(f, &a);
    struct sweep_result r;
    sweep_expect(f, T0 + HB_TIMEOUT, 0, &r);   /* not yet: the rule is strictly greater */
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), 1);
}

static void test_unhealthy_just_after_timeout(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    add(f, &a);
    struct sweep_result r;
    sweep_expect(f, T0 + HB_TIMEOUT + 1, 1, &r);
    assert_change(&r.v[0], &a, "HEALTHY", "UNHEALTHY", HB_TIMEOUT + 1);
    assert_int_equal(r.services_gc, 0);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), 0);

    /* the same moment again: nothing new */
    sweep_expect(f, T0 + HB_TIMEOUT + 1, 0, &r);
    sweep_result_free(&r);
    /* still there up to the delete timeout, inclusive */
    sweep_expect(f, T0 + DEL_TIMEOUT, 0, &r);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), 0);
}

static void test_removed_after_delete_timeout(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    add(f, &a);
    struct sweep_result r;
    sweep_expect(f, T0 + 20000, 1, &r);
    assert_change(&r.v[0], &a, "HEALTHY", "UNHEALTHY", 20000);
    sweep_result_free(&r);
    sweep_expect(f, T0 + DEL_TIMEOUT + 1, 1, &r);
    assert_change(&r.v[0], &a, "UNHEALTHY", "REMOVED", DEL_TIMEOUT + 1);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), -1);
    sweep_expect(f, T0 + 10 * DEL_TIMEOUT, 0, &r);
    sweep_result_free(&r);
}

static void test_both_transitions_in_one_step(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0), b = eph("10.0.0.2", 8080, T0 + 5000);
    add(f, &a);
    add(f, &b);
    struct sweep_result r;
    /* a jump past both of a's timeouts but only b's health timeout */
    sweep_expect(f, T0 + DEL_TIMEOUT + 1, 3, &r);
    assert_change(&r.v[0], &a, "HEALTHY", "UNHEALTHY", DEL_TIMEOUT + 1);
    assert_change(&r.v[1], &a, "UNHEALTHY", "REMOVED", DEL_TIMEOUT + 1);
    assert_change(&r.v[2], &b, "HEALTHY", "UNHEALTHY", DEL_TIMEOUT + 1 - 5000);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), -1);
    assert_int_equal(health_of(f, SVC, "10.0.0.2", 8080), 0);
}

static void test_per_instance_overrides(void **state)
{
    struct fx *f = *state;
    struct inst_spec fast = eph("10.0.0.1", 8080, T0), slow = eph("10.0.0.2", 8080, T0), dflt = eph("10.0.0.3", 8080, T0);
    fast.hb_timeout = 3000;
    fast.delete_timeout = 6000;
    slow.hb_timeout = 40000;
    slow.delete_timeout = 90000;
    add(f, &fast);
    add(f, &slow);
    add(f, &dflt);
    struct sweep_result r;
    sweep_expect(f, T0 + 3000, 0, &r);
    sweep_result_free(&r);
    sweep_expect(f, T0 + 3001, 1, &r);
    assert_change(&r.v[0], &fast, "HEALTHY", "UNHEALTHY", 3001);
    sweep_result_free(&r);
    sweep_expect(f, T0 + 6000, 0, &r);
    sweep_result_free(&r);
    sweep_expect(f, T0 + 6001, 1, &r);
    assert_change(&r.v[0], &fast, "UNHEALTHY", "REMOVED", 6001);
    sweep_result_free(&r);
    /* the default one follows 15 s / 30 s, the slow one 40 s / 90 s */
    sweep_expect(f, T0 + 30001, 2, &r);
    assert_change(&r.v[0], &dflt, "HEALTHY", "UNHEALTHY", 30001);
    assert_change(&r.v[1], &dflt, "UNHEALTHY", "REMOVED", 30001);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.2", 8080), 1);
    sweep_expect(f, T0 + 40001, 1, &r);
    assert_change(&r.v[0], &slow, "HEALTHY", "UNHEALTHY", 40001);
    sweep_result_free(&r);
    sweep_expect(f, T0 + 90000, 0, &r);
    sweep_result_free(&r);
    sweep_expect(f, T0 + 90001, 1, &r);
    assert_change(&r.v[0], &slow, "UNHEALTHY", "REMOVED", 90001);
    sweep_result_free(&r);
}

/* nacos-api.md §3: "now − lastBeat > ipDeleteTimeout → removed", independently of the health
 * timeout. Metadata may set a delete timeout below the health timeout (only the interval must be
 * smaller than both), and then Nacos removes the instance while it is still healthy. */
static void test_delete_timeout_below_health_timeout(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    a.hb_timeout = 20000;
    a.delete_timeout = 8000;
    add(f, &a);
    struct sweep_result r;
    sweep_expect(f, T0 + 8000, 0, &r);
    sweep_result_free(&r);
    memset(&r, 0, sizeof r);
    assert_int_equal(sweep(f, T0 + 8001, 0, &r), 0);
    bool removed = false;
    for (size_t i = 0; i < r.n; i++) removed |= strcmp(r.v[i].to, "REMOVED") == 0;
    sweep_result_free(&r);
    assert_true(removed);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), -1);
}

/* ------------------------------------------------------------------ what is never swept */

static void test_persistent_never_touched(void **state)
{
    struct fx *f = *state;
    struct inst_spec p = eph("10.0.0.1", 8080, T0), q = eph("10.0.0.2", 8080, T0);
    p.ephemeral = q.ephemeral = false;
    q.healthy = false;   /* set unhealthy by the health API: stays, and stays unhealthy */
    add(f, &p);
    add(f, &q);
    struct sweep_result r;
    sweep_expect(f, T0 + 1000 * DEL_TIMEOUT, 0, &r);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), 1);
    assert_int_equal(health_of(f, SVC, "10.0.0.2", 8080), 0);

    /* a beat has no effect on a persistent instance */
    bool was_unhealthy = true;
    int64_t interval = 0, sid = 0;
    app_lock(&f->app);
    assert_int_equal(beat_(f->app.store, NS, SVC, "DEFAULT", "10.0.0.2", 8080, T0 + 1, &was_unhealthy, &interval, &sid), 0);
    app_unlock(&f->app);
    assert_false(was_unhealthy);
    assert_int_equal(health_of(f, SVC, "10.0.0.2", 8080), 0);
}

static void test_marked_skipped(void **state)
{
    struct fx *f = *state;
    struct inst_spec m = eph("10.0.0.1", 8080, T0), n = eph("10.0.0.2", 8080, T0);
    m.marked = true;
    add(f, &m);
    add(f, &n);
    struct sweep_result r;
    sweep_expect(f, T0 + 100 * DEL_TIMEOUT, 2, &r);   /* only n */
    assert_change(&r.v[0], &n, "HEALTHY", "UNHEALTHY", 100 * DEL_TIMEOUT);
    assert_change(&r.v[1], &n, "UNHEALTHY", "REMOVED", 100 * DEL_TIMEOUT);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), 1);
}

/* ------------------------------------------------------------------ beats */

static void test_beat_restores_and_resets_timers(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    int64_t sid_reg = add(f, &a);
    struct sweep_result r;
    sweep_expect(f, T0 + 16000, 1, &r);
    assert_change(&r.v[0], &a, "HEALTHY", "UNHEALTHY", 16000);
    sweep_result_free(&r);

    const int64_t beat = T0 + 20000;
    bool was_unhealthy = false;
    int64_t interval = 0, sid = 0;
    app_lock(&f->app);
    assert_int_equal(beat_(f->app.store, NS, SVC, "DEFAULT", "10.0.0.1", 8080, beat, &was_unhealthy, &interval, &sid), 0);
    app_unlock(&f->app);
    assert_true(was_unhealthy);
    assert_int_equal(interval, 5000);
    assert_int_equal(sid, sid_reg);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), 1);

    /* without the beat it would be gone at T0 + 30001; the timers now count from the beat */
    sweep_expect(f, T0 + DEL_TIMEOUT + 1, 0, &r);
    sweep_result_free(&r);
    sweep_expect(f, beat + HB_TIMEOUT, 0, &r);
    sweep_result_free(&r);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), 1);
    sweep_expect(f, beat + HB_TIMEOUT + 1, 1, &r);
    assert_change(&r.v[0], &a, "HEALTHY", "UNHEALTHY", HB_TIMEOUT + 1);
    sweep_result_free(&r);
    sweep_expect(f, beat + DEL_TIMEOUT, 0, &r);
    sweep_result_free(&r);
    sweep_expect(f, beat + DEL_TIMEOUT + 1, 1, &r);
    assert_change(&r.v[0], &a, "UNHEALTHY", "REMOVED", DEL_TIMEOUT + 1);
    sweep_result_free(&r);

    /* a beat for an instance that is gone is unknown */
    app_lock(&f->app);
    assert_int_equal(beat_(f->app.store, NS, SVC, "DEFAULT", "10.0.0.1", 8080, beat + DEL_TIMEOUT + 2, &was_unhealthy, &interval, &sid), 1);
    app_unlock(&f->app);
}

static void test_beat_on_healthy_instance_postpones(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    add(f, &a);
    bool was_unhealthy = true;
    app_lock(&f->app);
    assert_int_equal(beat_(f->app.store, NS, SVC, "DEFAULT", "10.0.0.1", 8080, T0 + 10000, &was_unhealthy, NULL, NULL), 0);
    app_unlock(&f->app);
    assert_false(was_unhealthy);
    struct sweep_result r;
    sweep_expect(f, T0 + 25000, 0, &r);
    sweep_result_free(&r);
    sweep_expect(f, T0 + 25001, 1, &r);
    assert_change(&r.v[0], &a, "HEALTHY", "UNHEALTHY", 15001);
    sweep_result_free(&r);
}

/* ------------------------------------------------------------------ services */

static void test_empty_implicit_services_gc(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    struct inst_spec e = eph("10.0.0.9", 8080, T0);
    e.service = "DEFAULT_GROUP@@explicit";
    int64_t eid = 0;
    app_lock(&f->app);
    assert_int_equal(store_service_create(f->app.store, NS, "DEFAULT_GROUP@@explicit", 0.0, NULL, NULL, true, T0, &eid),
                     0);
    assert_int_equal(store_service_create(f->app.store, NS, "DEFAULT_GROUP@@explicit-empty", 0.0, NULL, NULL, true,
                                          T0, NULL),
                     0);
    app_unlock(&f->app);
    add(f, &a);
    add(f, &e);

    struct sweep_result r;
    sweep_expect(f, T0 + DEL_TIMEOUT + 1, 4, &r);   /* both instances: unhealthy and removed */
    assert_int_equal(r.services_gc, 0);
    sweep_result_free(&r);
    assert_true(service_exists(f, SVC));            /* empty since T0 + 30001 */
    assert_true(service_exists(f, "DEFAULT_GROUP@@explicit"));

    sweep_expect(f, T0 + DEL_TIMEOUT + 1 + SERVICE_GC_MS, 0, &r);   /* empty for exactly 60 s */
    assert_int_equal(r.services_gc, 0);
    sweep_result_free(&r);
    assert_true(service_exists(f, SVC));

    sweep_expect(f, T0 + DEL_TIMEOUT + 2 + SERVICE_GC_MS, 0, &r);
    assert_int_equal(r.services_gc, 1);
    sweep_result_free(&r);
    assert_false(service_exists(f, SVC));
    assert_true(service_exists(f, "DEFAULT_GROUP@@explicit"));
    assert_true(service_exists(f, "DEFAULT_GROUP@@explicit-empty"));

    sweep_expect(f, T0 + 1000 * SERVICE_GC_MS, 0, &r);
    assert_int_equal(r.services_gc, 0);
    sweep_result_free(&r);
    assert_true(service_exists(f, "DEFAULT_GROUP@@explicit"));
    assert_true(service_exists(f, "DEFAULT_GROUP@@explicit-empty"));
}

static int64_t revision_of(struct fx *f, const char *service)
{
    struct service_rec s;
    app_lock(&f->app);
    assert_int_equal(store_service_get(f->app.store, NS, service, &s), 0);
    app_unlock(&f->app);
    int64_t rev = s.revision;
    store_service_rec_free(&s);
    return rev;
}

/* One batch changes several services: every one of them gets a new revision (lists and pushes key
 * on it), the one whose instance is still healthy does not. */
static void test_every_changed_service_bumped(void **state)
{
    struct fx *f = *state;
    const char *names[] = {"DEFAULT_GROUP@@a", "DEFAULT_GROUP@@b", "DEFAULT_GROUP@@c", "DEFAULT_GROUP@@quiet"};
    for (int k = 0; k < 4; k++) {
        struct inst_spec s = eph("10.0.0.1", 8080, k == 3 ? T0 + 10000 : T0);
        s.service = names[k];
        add(f, &s);
    }
    int64_t before[4];
    for (int k = 0; k < 4; k++) before[k] = revision_of(f, names[k]);
    struct sweep_result r;
    sweep_expect(f, T0 + HB_TIMEOUT + 1, 3, &r);
    sweep_result_free(&r);
    for (int k = 0; k < 3; k++)
        if (revision_of(f, names[k]) <= before[k]) fail_msg("%s: revision not bumped by the sweep", names[k]);
    assert_int_equal(revision_of(f, names[3]), before[3]);
}

static void test_implicit_service_with_instances_kept(void **state)
{
    struct fx *f = *state;
    struct inst_spec p = eph("10.0.0.1", 8080, T0);
    p.ephemeral = false;
    add(f, &p);
    /* an implicit service created without an instance is empty from its creation */
    int64_t sid = 0;
    app_lock(&f->app);
    assert_int_equal(store_service_ensure(f->app.store, NS, "DEFAULT_GROUP@@never-used", T0, &sid), 0);
    app_unlock(&f->app);
    struct sweep_result r;
    sweep_expect(f, T0 + SERVICE_GC_MS, 0, &r);
    assert_int_equal(r.services_gc, 0);
    sweep_result_free(&r);
    sweep_expect(f, T0 + SERVICE_GC_MS + 1, 0, &r);
    assert_int_equal(r.services_gc, 1);
    sweep_result_free(&r);
    assert_false(service_exists(f, "DEFAULT_GROUP@@never-used"));
    assert_true(service_exists(f, SVC));   /* holds a persistent instance */
}

/* ------------------------------------------------------------------ batching and cost */

static void test_batches_with_small_limit(void **state)
{
    struct fx *f = *state;
    struct inst_spec s[5];
    char ips[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(ips[i], sizeof ips[i], "10.0.1.%d", i + 1);
        s[i] = eph(ips[i], 8080, T0 + 4 - i);   /* the last one added is the oldest */
        add(f, &s[i]);
    }
    const int64_t now = T0 + HB_TIMEOUT + 10;
    struct sweep_result r = {0};
    assert_int_equal(sweep(f, now, 2, &r), 1);
    assert_int_equal(r.n, 2);
    assert_change(&r.v[0], &s[4], "HEALTHY", "UNHEALTHY", HB_TIMEOUT + 10);   /* oldest first */
    assert_change(&r.v[1], &s[3], "HEALTHY", "UNHEALTHY", HB_TIMEOUT + 9);
    assert_int_equal(sweep(f, now, 2, &r), 1);
    assert_int_equal(r.n, 4);
    assert_int_equal(sweep(f, now, 2, &r), 0);
    assert_int_equal(r.n, 5);
    assert_change(&r.v[4], &s[0], "HEALTHY", "UNHEALTHY", HB_TIMEOUT + 6);
    sweep_result_free(&r);
    for (int i = 0; i < 5; i++) assert_int_equal(health_of(f, SVC, ips[i], 8080), 0);
    assert_int_equal(sweep(f, now, 2, &r), 0);
    assert_int_equal(r.n, 0);
    sweep_result_free(&r);
}

/* sweeper.h: "1 when `limit` was reached and more instances are due". With exactly `limit` due
 * instances, nothing more is due after the first call. */
static void test_batch_exactly_limit_is_done(void **state)
{
    struct fx *f = *state;
    char ips[4][16];
    for (int i = 0; i < 4; i++) {
        snprintf(ips[i], sizeof ips[i], "10.0.2.%d", i + 1);
        struct inst_spec s = eph(ips[i], 8080, T0);
        add(f, &s);
    }
    struct sweep_result r = {0};
    assert_int_equal(sweep(f, T0 + HB_TIMEOUT + 1, 2, &r), 1);
    assert_int_equal(r.n, 2);
    assert_int_equal(sweep(f, T0 + HB_TIMEOUT + 1, 2, &r), 0);
    assert_int_equal(r.n, 4);
    sweep_result_free(&r);
}

static int count_cb(void *ctx, const struct instance_rec *rec)
{
    (void)rec;
    ++*(long *)ctx;
    return 0;
}

static void test_large_registry_nothing_due(void **state)
{
    struct fx *f = *state;
    enum { N = 100000 };
    int64_t sid = 0;
    app_lock(&f->app);
    struct store *st = f->app.store;
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_service_ensure(st, NS, SVC, T0, &sid), 0);
    for (int i = 0; i < N; i++) {
        char ip[32], id[96];
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        snprintf(id, sizeof id, "%s#8080#DEFAULT#%s", ip, SVC);
        /* instance i last beat at T0 + i: due one by one after T0 + 15000 */
        struct instance_rec in = {
            .service_id = sid, .cluster = "DEFAULT", .ip = ip, .port = 8080, .instance_id = id, .weight = 1.0,
            .healthy = true, .enabled = true, .ephemeral = true, .metadata = "{}", .registered_ms = T0 + i,
            .last_beat_ms = T0 + i, .hb_interval_ms = 5000, .hb_timeout_ms = HB_TIMEOUT,
            .delete_timeout_ms = DEL_TIMEOUT,
        };
        if (store_instance_upsert(st, &in, NULL)) fail_msg("upsert %d: %s", i, store_errmsg(st));
    }
    assert_int_equal(store_service_touch(st, sid, T0, 0), 0);
    assert_int_equal(store_commit(st), 0);

    /* the sweeper reads instances only through the due query: it yields none at T0 + 15000 */
    long due = 0;
    assert_int_equal(store_instance_foreach_expired(st, T0 + HB_TIMEOUT, 0x7fffffff, count_cb, &due), 0);
    assert_int_equal(due, 0);
    app_unlock(&f->app);

    struct sweep_result r = {0};
    assert_int_equal(sweep(f, T0 + HB_TIMEOUT, 0, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.services_gc, 0);
    sweep_result_free(&r);
    assert_int_equal(sweep(f, T0 + HB_TIMEOUT, 1, &r), 0);   /* even a batch of 1 is not filled */
    assert_int_equal(r.n, 0);

    /* one ms later exactly the oldest is due, then the next two */
    assert_int_equal(sweep(f, T0 + HB_TIMEOUT + 1, 0, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].instance_id, "10.0.0.0#8080#DEFAULT#" SVC);
    assert_int_equal(sweep(f, T0 + HB_TIMEOUT + 3, 0, &r), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.v[1].instance_id, "10.0.0.1#8080#DEFAULT#" SVC);
    assert_string_equal(r.v[2].instance_id, "10.0.0.2#8080#DEFAULT#" SVC);
    sweep_result_free(&r);

    long services = 0, instances = 0, healthy = 0;
    app_lock(&f->app);
    assert_int_equal(store_counts(f->app.store, &services, &instances, &healthy), 0);
    app_unlock(&f->app);
    assert_int_equal(services, 1);
    assert_int_equal(instances, N);
    assert_int_equal(healthy, N - 3);
}

static void test_null_result_accepted(void **state)
{
    struct fx *f = *state;
    struct inst_spec a = eph("10.0.0.1", 8080, T0);
    add(f, &a);
    assert_int_equal(sweep(f, T0 + DEL_TIMEOUT + 1, 0, NULL), 0);
    assert_int_equal(health_of(f, SVC, "10.0.0.1", 8080), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthy_at_timeout_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unhealthy_just_after_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_after_delete_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_both_transitions_in_one_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_instance_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_timeout_below_health_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_never_touched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marked_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beat_restores_and_resets_timers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beat_on_healthy_instance_postpones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_implicit_services_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_changed_service_bumped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_implicit_service_with_instances_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_with_small_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_exactly_limit_is_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_registry_nothing_due, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_result_accepted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
