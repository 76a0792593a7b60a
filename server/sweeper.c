/*
 * sweeper.c — the health step and its thread (see sweeper.h).
 */
#include "nacos_mock/sweeper.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/events.h"
#include "nacos_mock/log.h"
#include "nacos_mock/metrics.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/util.h"

struct sweeper {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
};

/* One batch: the services it changed (an open-addressing set of ids, each with its namespace and
 * name copied for the push after commit), its log lines (written only once it has committed) and,
 * for /__mock/clock/advance, the changes it reports. */
struct svc_slot { int64_t id; char *ns, *name; };

struct batch {
    struct app *app;
    int64_t now_ms;
    struct svc_slot *svc;
    size_t svc_cap, svc_n;
    struct log_batch lines;
    struct events_batch events;  /* published, like the lines, only once the batch has committed */
    struct sweep_result *out;   /* may be NULL */
    size_t out_start;           /* out->n when the batch began */
    bool oom;
};

static void change_free(struct sweep_change *c) { free((char *)c->instance_id); }

void sweep_result_free(struct sweep_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) change_free(&r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void record(struct sweep_result *out, const struct instance_rec *r, const char *from, const char *to,
                   int64_t since)
{
    if (util_grow((void **)&out->v, &out->cap, out->n, sizeof *out->v)) return;
    size_t li = strlen(r->instance_id) + 1, ln = strlen(r->ns) + 1, ls = strlen(r->service) + 1;
    char *p = malloc(li + ln + ls);
    if (!p) return;
    struct sweep_change *c = &out->v[out->n++];
    c->instance_id = memcpy(p, r->instance_id, li);
    c->ns = memcpy(p + li, r->ns, ln);
    c->service = memcpy(p + li + ln, r->service, ls);
    c->from = from;
    c->to = to;
    c->since_beat_ms = since;
}

static void transition(struct batch *b, const struct instance_rec *r, const char *from, const char *to, int64_t since)
{
    log_batch_transition(&b->lines, r->instance_id, r->ns, r->service, from, to, since);
    events_batch_transition(&b->events, b->app->events, b->now_ms, r, from, to, since);
    if (b->out) record(b->out, r, from, to, since);
}

/* Adds the instance's service to the batch's set. -1 out of memory. */
static int note_service(struct batch *b, const struct instance_rec *r)
{
    if ((b->svc_n + 1) * 2 > b->svc_cap) {   /* keep the set at most half full */
        size_t cap = b->svc_cap ? b->svc_cap * 2 : 64;
        struct svc_slot *v = calloc(cap, sizeof *v);
        if (!v) return -1;
        for (size_t k = 0; k < b->svc_cap; k++) {
            if (!b->svc[k].id) continue;
            size_t h = (size_t)util_fnv1a(&b->svc[k].id, sizeof b->svc[k].id) & (cap - 1);
            while (v[h].id) h = (h + 1) & (cap - 1);
            v[h] = b->svc[k];
        }
        free(b->svc);
        b->svc = v;
        b->svc_cap = cap;
    }
    size_t h = (size_t)util_fnv1a(&r->service_id, sizeof r->service_id) & (b->svc_cap - 1);
    while (b->svc[h].id && b->svc[h].id != r->service_id) h = (h + 1) & (b->svc_cap - 1);
    if (b->svc[h].id) return 0;
    char *ns = strdup(r->ns), *name = strdup(r->service);
    if (!ns || !name) { free(ns); free(name); return -1; }
    b->svc[h] = (struct svc_slot){r->service_id, ns, name};
    b->svc_n++;
    return 0;
}

static void services_clear(struct batch *b)
{
    for (size_t k = 0; k < b->svc_cap; k++) {
        free(b->svc[k].ns);
        free(b->svc[k].name);
    }
    if (b->svc) memset(b->svc, 0, b->svc_cap * sizeof *b->svc);
    b->svc_n = 0;
}

/* The health rules (nacos-api.md §3) for one due instance; logs and records what they decide. */
static int verdict(void *ctx, const struct instance_rec *r)
{
    struct batch *b = ctx;
    int64_t since = b->now_ms - r->last_beat_ms;
    bool unhealthy_now = r->healthy && since > r->hb_timeout_ms;
    bool removed = since > r->delete_timeout_ms;   /* whatever the health */
    if (!unhealthy_now && !removed) return STORE_KEEP;
    if (note_service(b, r)) {
        b->oom = true;
        return -1;
    }
    if (unhealthy_now) transition(b, r, "HEALTHY", "UNHEALTHY", since);
    if (!removed) return STORE_MARK_UNHEALTHY;   /* expire_at moves to last beat + delete timeout */
    transition(b, r, r->healthy && !unhealthy_now ? "HEALTHY" : "UNHEALTHY", "REMOVED", since);
    return STORE_REMOVE;
}

/* One transaction over at most `size` due instances of one shard: verdicts applied, the changed
 * services' revisions bumped (in memory: nothing of it is in SQLite). Then, committed, the lines are
 * written and subscribers told. Returns how many instances were visited, -1 on a store error
 * (rolled back: nothing applied, logged or reported). */
static long run_batch(struct batch *b, unsigned shard, long size)
{
    struct store *st = b->app->store;
    b->out_start = b->out ? b->out->n : 0;
    if (store_begin_memory(st)) return -1;
    long visited = store_instance_sweep_due(st, shard, b->now_ms, size, verdict, b);
    if (visited < 0 || b->oom) goto fail;
    if (b->svc_n) {   /* one stamp for them all */
        int64_t *ids = malloc(b->svc_n * sizeof *ids);
        size_t n = 0;
        for (size_t k = 0; ids && k < b->svc_cap; k++)
            if (b->svc[k].id) ids[n++] = b->svc[k].id;
        int rc = ids ? app_services_touch(b->app, b->now_ms, ids, n) : -1;
        free(ids);
        if (rc) goto fail;
    }
#ifdef NACOS_MOCK_TEST_HOOKS
    if (visited && b->app->test_hook) b->app->test_hook(b->app->test_hook_ctx, "sweep.batch");   /* write open */
#endif
    if (store_commit(st)) goto fail;
    log_batch_flush(&b->lines);
    events_batch_publish(b->app->events, &b->events);
    for (size_t k = 0; k < b->svc_cap; k++)
        if (b->svc[k].id) subs_changed(b->app->subs, b->svc[k].ns, b->svc[k].name);
    services_clear(b);
    return visited;
fail:
    store_rollback(st);
    log_batch_discard(&b->lines);
    events_batch_discard(&b->events);
    while (b->out && b->out->n > b->out_start) change_free(&b->out->v[--b->out->n]);
    services_clear(b);
    return -1;
}

int sweeper_run_once(struct app *app, int64_t now_ms, long limit, struct sweep_result *out)
{
    struct batch b = {.app = app, .now_ms = now_ms, .out = out};
    int rc = -1;
    long done = 0;
    /* shard by shard, so that a batch holds one shard's lock: requests about the other shards'
     * services go on meanwhile (due order is kept within a shard) */
    for (unsigned k = 0; k < STORE_SHARDS; k++) {
        for (;;) {
            long want = limit > 0 ? limit - done : SWEEP_BATCH;
            if (want <= 0) break;
            long visited = run_batch(&b, k, want);
            if (visited < 0) goto out;
            done += visited;
            if (visited < want) break;   /* nothing more due in this shard */
        }
        if (limit > 0 && done >= limit) {   /* the caller asked for one bounded step: 1 only if more are due */
            for (unsigned j = k; j < STORE_SHARDS; j++)
                if (store_any_due(app->store, j, now_ms)) {
                    rc = 1;
                    goto out;
                }
            break;
        }
    }
    long gc = 0;
    if (store_gc_empty_services(app->store, now_ms - SERVICE_GC_MS, &gc)) goto out;
    if (out) out->services_gc += gc;
    if (gc) events_registry(app->events, EV_REMOVED, now_ms, NULL, NULL, "empty services collected", gc);
    rc = 0;
out:
    services_clear(&b);
    free(b.svc);
    log_batch_free(&b.lines);
    events_batch_free(&b.events);
    return rc;
}

static double elapsed_ms(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void *sweeper_main(void *arg)
{
    struct sweeper *s = arg;
    struct app *app = s->app;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + (app->cfg->sweep_interval_ms % 1000) * 1000000;
        until.tv_sec += app->cfg->sweep_interval_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        while (!s->stop && pthread_cond_timedwait(&s->cond, &s->mu, &until) != ETIMEDOUT) {}
        if (s->stop) break;
        pthread_mutex_unlock(&s->mu);

        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int64_t now = clock_now_ms(&app->clock);
        int more;
        do {   /* bounded batches, releasing the registry between them so requests interleave */
            app_lock(app);
            more = sweeper_run_once(app, now, SWEEP_BATCH, NULL);
            if (more != 1) store_save_stamps(app->store);   /* a file keeps the stamp floor */
            app_unlock(app);
            if (more == 1) usleep(SWEEP_PAUSE_US);
        } while (more == 1);
        metrics_sweep(app->metrics, elapsed_ms(&t0));
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

struct sweeper *sweeper_start(struct app *app)
{
    struct sweeper *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->app = app;
    pthread_mutex_init(&s->mu, NULL);
    util_cond_init_monotonic(&s->cond);
    if (pthread_create(&s->thread, NULL, sweeper_main, s)) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

void sweeper_stop(struct sweeper *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
