/*
 * test_lock_order.c — the fast paths take no registry-wide lock, checked by order rather than by time:
 * a long registry write is held open midway (the test hook of app.h, compiled in test builds only:
 * a sweep batch applied but not committed, a snapshot written but not committed — both under app->mu
 * and the shard of the services they change), and meanwhile a beat, a list answered from the cache
 * and a register of an ephemeral instance, all about a service in another shard, must be answered.
 * Only then is the write let go on. Were one of them to need app->mu, it could not finish before
 * the write does, and the test fails (the deadline only tells a hang from an answer: 60 s).
 * In process, over the naming core (the same calls the HTTP handlers make), no listener. Then many
 * threads at once over the fast and the slow paths, for ThreadSanitizer and for torn lists.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/config.h"
#include "nacos_mock/ephemeral.h"
#include "nacos_mock/list_cache.h"
#include "nacos_mock/log.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/naming_list.h"
#include "nacos_mock/registry.h"
#include "nacos_mock/store.h"
#include "nacos_mock/sweeper.h"
#include "nacos_mock/util.h"

#define T0 INT64_C(1000000000000)
#define HANG_S 60

#ifndef NACOS_MOCK_TEST_HOOKS
#error "test_lock_order needs the test hooks (NACOS_MOCK_TEST_HOOKS, set for test builds in CMakeLists.txt)"
#endif

struct fx {
    struct config cfg;
    struct app app;
    cJSON *md;
    char held[GROUPED_MAX], other[GROUPED_MAX];   /* two services in different shards */
    /* the hook: where it stops, and the hand-over */
    const char *stop_at;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool paused, go, fast_done;
};

static void hook(void *ctx, const char *where)
{
    struct fx *f = ctx;
    if (!f->stop_at || strcmp(where, f->stop_at)) return;
    pthread_mutex_lock(&f->mu);
    f->stop_at = NULL;   /* once */
    f->paused = true;
    pthread_cond_broadcast(&f->cond);
    while (!f->go) pthread_cond_wait(&f->cond, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    log_set_level(LOG_ERROR);
    config_defaults(&f->cfg);
    char err[256] = "";
    if (app_init(&f->app, &f->cfg, err, sizeof err)) {
        fprintf(stderr, "app_init: %s\n", err);
        return -1;
    }
    f->md = cJSON_CreateObject();
    pthread_mutex_init(&f->mu, NULL);
    util_cond_init_monotonic(&f->cond);
    f->app.test_hook = hook;
    f->app.test_hook_ctx = f;
    snprintf(f->held, sizeof f->held, "DEFAULT_GROUP@@held");
    for (int i = 0;; i++) {   /* a name whose shard differs */
        snprintf(f->other, sizeof f->other, "DEFAULT_GROUP@@other-%d", i);
        if (eph_shard_of("public", f->other) != eph_shard_of("public", f->held)) break;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cJSON_Delete(f->md);
    app_free(&f->app);
    config_free(&f->cfg);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

static void reg(struct fx *f, const char *service, const char *ip, int port, int64_t now)
{
    struct nc_instance in = {.k = {.ns = "public", .service = service, .ip = ip, .port = port}, .weight = 1.0,
                             .enabled = true, .healthy = true, .ephemeral = true, .metadata = f->md};
    struct naming_err e;
    if (nc_register(&f->app, &in, NC_REGISTER, 0, now, &e)) fail_msg("register %s:%d: %s", ip, port, e.msg);
}

static char *list(struct fx *f, const char *service)
{
    struct list_query q = {.shape = LIST_V1, .ns = "public", .service = service, .clusters = ""};
    size_t len = 0;
    char *text = naming_list_text(&f->app, &q, &len);
    if (!text) fail_msg("list of %s failed", service);
    return text;
}

static uint64_t cache_hits(struct fx *f)
{
    uint64_t hits = 0;
    list_cache_stats(f->app.list_cache, NULL, NULL, &hits, NULL, NULL);
    return hits;
}

/* What must get through while the write is held: runs in its own thread, says when it is done. */
struct fast {
    struct fx *f;
    const char *cached;   /* the list of `other` as cached before */
    int beat_code;
    bool list_hit, list_same;
};

static void *fast_main(void *arg)
{
    struct fast *x = arg;
    struct fx *f = x->f;
    struct nc_key k = {.ns = "public", .service = f->other, .cluster = "DEFAULT", .ip = "10.2.0.1", .port = 80};
    int64_t interval = 0;
    struct naming_err e;
    if (nc_beat(&f->app, &k, NULL, T0 + 15500, &x->beat_code, &interval, &e)) x->beat_code = -1;
    uint64_t hits = cache_hits(f);
    char *text = list(f, f->other);
    x->list_hit = cache_hits(f) == hits + 1;
    x->list_same = !strcmp(text, x->cached);
    free(text);
    reg(f, f->other, "10.2.0.2", 80, T0 + 15500);   /* another service's write: its own shard */
    pthread_mutex_lock(&f->mu);
    f->fast_done = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Waits until the hook holds the write, runs the fast requests beside it and waits for them (up
 * to HANG_S: only a hang takes that long), then lets the write go on. */
static void fast_while_held(struct fx *f, const char *cached)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += HANG_S;
    pthread_mutex_lock(&f->mu);
    while (!f->paused && pthread_cond_timedwait(&f->cond, &f->mu, &until) == 0) {}
    bool paused = f->paused;
    pthread_mutex_unlock(&f->mu);
    if (!paused) fail_msg("the write never reached its hook");
    struct fast x = {.f = f, .cached = cached};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fast_main, &x), 0);
    pthread_mutex_lock(&f->mu);
    while (!f->fast_done && pthread_cond_timedwait(&f->cond, &f->mu, &until) == 0) {}
    bool done = f->fast_done;
    f->go = true;   /* the write goes on now, whatever happened */
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    pthread_join(t, NULL);
    if (!done) fail_msg("a beat, a cached list or a register of another service waited for the held write");
    assert_int_equal(x.beat_code, NC_BEAT_OK);
    assert_true(x.list_hit);
    assert_true(x.list_same);
}

struct sweep_job { struct fx *f; int rc; long changes; };

static void *sweep_main(void *arg)
{
    struct sweep_job *j = arg;
    struct sweep_result r = {0};
    app_lock(&j->f->app);   /* as the sweeper thread and /__mock/clock/advance hold it */
    j->rc = sweeper_run_once(&j->f->app, T0 + 16000, 0, &r);
    app_unlock(&j->f->app);
    j->changes = (long)r.n;
    sweep_result_free(&r);
    return NULL;
}

static void test_sweep_held_beat_list_register_of_another_service(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 50; i++) {   /* due at T0 + 15000 */
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.0.%d", i + 1);
        reg(f, f->held, ip, 80, T0);
    }
    reg(f, f->other, "10.2.0.1", 80, T0 + 15000);   /* not due at T0 + 16000 */
    char *cached = list(f, f->other);
    f->stop_at = "sweep.batch";
    struct sweep_job j = {.f = f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sweep_main, &j), 0);
    fast_while_held(f, cached);
    pthread_join(t, NULL);
    free(cached);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.changes, 50);   /* the held batch went through after all */
}

struct load_job { struct fx *f; int rc; char err[256]; };

static void *load_main(void *arg)
{
    struct load_job *j = arg;
    char snap[512];
    const char *bare = strstr(j->f->held, GROUP_SEP) + 2;
    snprintf(snap, sizeof snap,
             "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":[{\"name\":\"%s\",\"explicit\":true,"
             "\"instances\":[{\"ip\":\"10.3.0.1\",\"port\":80},{\"ip\":\"10.3.0.2\",\"port\":80,\"ephemeral\":false}]}]}]}",
             bare);
    cJSON *o = cJSON_Parse(snap);
    app_lock(&j->f->app);   /* as the control plane holds it */
    j->rc = registry_load(&j->f->app, o, NULL, j->err, sizeof j->err);
    app_unlock(&j->f->app);
    cJSON_Delete(o);
    return NULL;
}

static void test_snapshot_load_held_beat_list_register_of_another_service(void **state)
{
    struct fx *f = *state;
    reg(f, f->other, "10.2.0.1", 80, T0 + 15000);
    char *cached = list(f, f->other);
    f->stop_at = "registry.load";
    struct load_job j = {.f = f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, load_main, &j), 0);
    fast_while_held(f, cached);
    pthread_join(t, NULL);
    free(cached);
    if (j.rc) fail_msg("load: %s", j.err);
    char *held = list(f, f->held);
    assert_non_null(strstr(held, "10.3.0.1"));
    assert_non_null(strstr(held, "10.3.0.2"));
    free(held);
}

/* ------------------------------------------------------------------ many threads at once */

/* Threads beat, register, deregister and list over a few services while another writes under
 * app->mu (persistent instances, which send the others to the slow path; service updates; sweeps):
 * ThreadSanitizer (stage 10) watches for races, and the lists for torn states — a list's stamp names
 * one state of its service, so two lists with the same lastRefTime must have the same checksum, and
 * one thread's lists of a service never go back in time. */
#define NSVC 6
#define OPS 3000
#define MAX_SEEN 20000

struct stress {
    struct fx *f;
    char names[NSVC][64];
    pthread_mutex_t mu;   /* the seen table */
    struct { int s; int64_t ref; char sum[40]; } seen[MAX_SEEN];
    int n_seen;
    _Atomic long torn, back, failed;
};

static uint32_t next32(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void note_list(struct stress *st, int s, const char *text, int64_t *last_ref)
{
    cJSON *o = cJSON_Parse(text);
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(o, "lastRefTime");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(o, "checksum");
    if (!cJSON_IsNumber(ref) || !cJSON_IsString(sum)) {
        st->failed++;
        cJSON_Delete(o);
        return;
    }
    int64_t r = (int64_t)cJSON_GetNumberValue(ref);
    if (r < *last_ref) st->back++;
    *last_ref = r;
    pthread_mutex_lock(&st->mu);
    int i;
    for (i = 0; i < st->n_seen && !(st->seen[i].s == s && st->seen[i].ref == r); i++) {}
    if (i < st->n_seen) {
        if (strcmp(st->seen[i].sum, sum->valuestring)) st->torn++;
    } else if (st->n_seen < MAX_SEEN) {
        st->seen[st->n_seen].s = s;
        st->seen[st->n_seen].ref = r;
        snprintf(st->seen[st->n_seen].sum, sizeof st->seen[0].sum, "%s", sum->valuestring);
        st->n_seen++;
    }
    pthread_mutex_unlock(&st->mu);
    cJSON_Delete(o);
}

struct worker { struct stress *st; uint32_t seed; int id; };

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct stress *st = w->st;
    struct fx *f = st->f;
    int64_t last_ref[NSVC] = {0};
    for (int i = 0; i < OPS; i++) {
        int s = (int)(next32(&w->seed) % NSVC), op = (int)(next32(&w->seed) % 100);
        char ip[32];
        snprintf(ip, sizeof ip, "10.%d.0.%u", 10 + w->id, next32(&w->seed) % 20 + 1);
        int64_t now = clock_now_ms(&f->app.clock);
        struct naming_err e;
        if (op < 30) {
            struct nc_instance in = {.k = {.ns = "public", .service = st->names[s], .ip = ip, .port = 80},
                                     .weight = 1.0, .enabled = true, .healthy = true, .ephemeral = true,
                                     .metadata = f->md};
            if (nc_register(&f->app, &in, NC_REGISTER, 0, now, &e)) st->failed++;
        } else if (op < 45) {
            struct nc_key k = {.ns = "public", .service = st->names[s], .ip = ip, .port = 80};
            if (nc_deregister(&f->app, &k, true, 0, now, &e)) st->failed++;
        } else if (op < 70) {
            struct nc_key k = {.ns = "public", .service = st->names[s], .ip = ip, .port = 80};
            int code;
            int64_t interval;
            if (nc_beat(&f->app, &k, NULL, now, &code, &interval, &e)) st->failed++;
        } else {
            char *text = list(f, st->names[s]);
            note_list(st, s, text, &last_ref[s]);
            free(text);
        }
    }
    return NULL;
}

static void *writer_main(void *arg)
{
    struct worker *w = arg;
    struct stress *st = w->st;
    struct fx *f = st->f;
    for (int i = 0; i < OPS / 10; i++) {
        int s = (int)(next32(&w->seed) % NSVC), op = (int)(next32(&w->seed) % 4);
        char ip[32];
        snprintf(ip, sizeof ip, "10.99.0.%u", next32(&w->seed) % 5 + 1);
        struct naming_err e;
        int64_t now = clock_now_ms(&f->app.clock);
        app_lock(&f->app);
        if (op == 0) {   /* a persistent instance: lists and registers of s need SQLite now */
            struct nc_instance in = {.k = {.ns = "public", .service = st->names[s], .ip = ip, .port = 90},
                                     .weight = 1.0, .enabled = true, .healthy = true, .metadata = f->md};
            if (nc_register(&f->app, &in, NC_REGISTER, 0, now, &e)) st->failed++;
        } else if (op == 1) {
            struct nc_key k = {.ns = "public", .service = st->names[s], .ip = ip, .port = 90};
            if (nc_deregister(&f->app, &k, false, 0, now, &e)) st->failed++;
        } else if (op == 2) {
            struct nc_service sv = {.ns = "public", .service = st->names[s], .protect_threshold = (i % 10) / 10.0};
            nc_service_update(&f->app, &sv, now, &e);   /* unknown service: fine */
        } else {   /* a sweep with instances far past due: some go */
            struct sweep_result r = {0};
            if (sweeper_run_once(&f->app, now + 40000, 0, &r) < 0) st->failed++;
            sweep_result_free(&r);
        }
        app_unlock(&f->app);
    }
    return NULL;
}

static void test_threads_at_once(void **state)
{
    struct fx *f = *state;
    struct stress *st = calloc(1, sizeof *st);
    st->f = f;
    pthread_mutex_init(&st->mu, NULL);
    for (int s = 0; s < NSVC; s++) snprintf(st->names[s], sizeof st->names[s], "DEFAULT_GROUP@@stress-%d", s);
    struct worker w[5];
    pthread_t t[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (struct worker){st, 2463534242u + (uint32_t)i * 7919u, i};
        assert_int_equal(pthread_create(&t[i], NULL, i == 4 ? writer_main : worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&st->failed), 0);
    assert_int_equal(atomic_load(&st->torn), 0);
    assert_int_equal(atomic_load(&st->back), 0);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_held_beat_list_register_of_another_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_load_held_beat_list_register_of_another_service, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_threads_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
