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
#include "nacos_mock/log.h"
#include "nacos_mock/store.h"
#include "nacos_mock/util.h"

struct sweeper {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    long sweeps;
    double last_ms, max_ms;
};

/* A due instance, copied out of the statement before anything is written. */
struct due {
    int64_t id, service_id;
    char *instance_id, *ns, *service;
    bool healthy;
    int64_t last_beat_ms, hb_timeout_ms, delete_timeout_ms;
};

struct due_list { struct due *v; size_t n, cap; };

static int collect_due(void *ctx, const struct instance_rec *r)
{
    struct due_list *dl = ctx;
    if (util_grow((void **)&dl->v, &dl->cap, dl->n, sizeof *dl->v)) return 1;
    struct due *d = &dl->v[dl->n];
    d->id = r->id;
    d->service_id = r->service_id;
    d->instance_id = strdup(r->instance_id);
    d->ns = strdup(r->ns);
    d->service = strdup(r->service);
    d->healthy = r->healthy;
    d->last_beat_ms = r->last_beat_ms;
    d->hb_timeout_ms = r->hb_timeout_ms;
    d->delete_timeout_ms = r->delete_timeout_ms;
    if (!d->instance_id || !d->ns || !d->service) {
        free(d->instance_id);
        free(d->ns);
        free(d->service);
        return 1;
    }
    dl->n++;
    return 0;
}

static int count_due(void *ctx, const struct instance_rec *r)
{
    (void)r;
    ++*(long *)ctx;
    return 0;
}

static int by_service(const void *a, const void *b)
{
    int64_t x = ((const struct due *)a)->service_id, y = ((const struct due *)b)->service_id;
    return (x > y) - (x < y);
}

static void due_list_free(struct due_list *dl)
{
    for (size_t i = 0; i < dl->n; i++) {
        free(dl->v[i].instance_id);
        free(dl->v[i].ns);
        free(dl->v[i].service);
    }
    free(dl->v);
}

void sweep_result_free(struct sweep_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].instance_id);
        free(r->v[i].ns);
        free(r->v[i].service);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void record(struct sweep_result *out, const struct due *d, const char *from, const char *to, int64_t since)
{
    log_transition(d->instance_id, d->ns, d->service, from, to, since);
    if (!out) return;
    if (util_grow((void **)&out->v, &out->cap, out->n, sizeof *out->v)) return;
    struct sweep_change *c = &out->v[out->n];
    c->instance_id = strdup(d->instance_id);
    c->ns = strdup(d->ns);
    c->service = strdup(d->service);
    c->from = from;
    c->to = to;
    c->since_beat_ms = since;
    if (c->instance_id && c->ns && c->service) out->n++;
    else { free(c->instance_id); free(c->ns); free(c->service); }
}

int sweeper_run_once(struct app *app, int64_t now_ms, long limit, struct sweep_result *out)
{
    struct due_list dl = {0};
    int rc = -1;
    long batch = limit > 0 ? limit : SWEEP_BATCH;
    for (;;) {
        dl.n = 0;
        if (store_instance_foreach_expired(app->store, now_ms, batch, collect_due, &dl)) goto out;
        if (dl.n == 0) break;
        size_t fetched = dl.n;
        if (store_begin(app->store)) goto out;
        for (size_t i = 0; i < dl.n; i++) {
            const struct due *d = &dl.v[i];
            int64_t since = now_ms - d->last_beat_ms;
            if (since > d->delete_timeout_ms) {   /* whatever the health (nacos-api.md §3) */
                if (store_instance_delete_id(app->store, d->id) < 0) goto fail;
            } else if (d->healthy && since > d->hb_timeout_ms) {
                /* the set-health write moves expire_at to last_beat + delete_timeout */
                if (store_instance_set_health(app->store, d->id, false) < 0) goto fail;
            }
        }
        if (store_commit(app->store)) goto fail;
        /* committed: now log, and tell subscribers once per changed service */
        size_t n_changed = 0;
        for (size_t i = 0; i < dl.n; i++) {
            const struct due *d = &dl.v[i];
            int64_t since = now_ms - d->last_beat_ms;
            bool unhealthy_now = d->healthy && since > d->hb_timeout_ms;
            bool removed = since > d->delete_timeout_ms;
            if (unhealthy_now) record(out, d, "HEALTHY", "UNHEALTHY", since);
            if (removed) record(out, d, d->healthy && !unhealthy_now ? "HEALTHY" : "UNHEALTHY", "REMOVED", since);
            if (unhealthy_now || removed) dl.v[n_changed++] = dl.v[i];   /* compact (i >= n_changed) */
            else { free(d->instance_id); free(d->ns); free(d->service); }
        }
        dl.n = n_changed;
        qsort(dl.v, dl.n, sizeof *dl.v, by_service);
        for (size_t i = 0; i < dl.n; i++) {
            if (i > 0 && dl.v[i].service_id == dl.v[i - 1].service_id) continue;
            app_service_changed(app, now_ms, dl.v[i].service_id, dl.v[i].ns, dl.v[i].service);
        }
        for (size_t i = 0; i < dl.n; i++) {
            free(dl.v[i].instance_id);
            free(dl.v[i].ns);
            free(dl.v[i].service);
        }
        dl.n = 0;
        if ((long)fetched < batch) break;
        if (limit > 0) {   /* the caller asked for one bounded batch: 1 only if more are due */
            long more = 0;
            if (store_instance_foreach_expired(app->store, now_ms, 1, count_due, &more)) goto out;
            if (!more) break;
            rc = 1;
            goto out;
        }
    }
    dl.n = 0;
    long gc = 0;
    if (store_gc_empty_services(app->store, now_ms - SERVICE_GC_MS, &gc)) goto out;
    if (out) out->services_gc += gc;
    rc = 0;
    goto out;
fail:
    store_rollback(app->store);
out:
    due_list_free(&dl);
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
            pthread_mutex_lock(&app->mu);
            more = sweeper_run_once(app, now, SWEEP_BATCH, NULL);
            pthread_mutex_unlock(&app->mu);
            if (more == 1) usleep(SWEEP_PAUSE_US);
        } while (more == 1);
        double ms = elapsed_ms(&t0);

        pthread_mutex_lock(&s->mu);
        s->sweeps++;
        s->last_ms = ms;
        if (ms > s->max_ms) s->max_ms = ms;
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
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
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

void sweeper_stats(struct sweeper *s, long *sweeps, double *last_ms, double *max_ms)
{
    pthread_mutex_lock(&s->mu);
    if (sweeps) *sweeps = s->sweeps;
    if (last_ms) *last_ms = s->last_ms;
    if (max_ms) *max_ms = s->max_ms;
    pthread_mutex_unlock(&s->mu);
}
