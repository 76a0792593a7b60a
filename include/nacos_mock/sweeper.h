/*
 * sweeper — health decisions for ephemeral instances (nacos-api.md §3): UNHEALTHY after
 * hb_timeout without a beat, removed after delete_timeout. The decision is a pure step over the
 * store at a given virtual `now` (sweeper_run_once), which tests and /__mock/clock/advance call
 * directly; the thread around it is thin and only decides when to call it.
 *
 * Cost: due instances come out of time buckets in the store (ephemeral.h), so a sweep where nothing
 * is due costs one comparison, whatever the registry size. Each due instance is judged and changed
 * in place (store_instance_sweep_due: no copies, no per-instance statement) and its line formatted
 * into one buffer written after the batch commits. 100,000 instances all due, in process
 * (bench/README.md): 14 ms to mark them UNHEALTHY and 24 ms to remove them when they last beat at
 * the same moment, 26 and 40 ms when their last beats are spread over 5 s. Due instances are
 * handled in batches of SWEEP_BATCH, each one transaction that also bumps the revision of every
 * service it changed; the thread releases app->mu and pauses SWEEP_PAUSE_US between batches so
 * beats keep being answered during a large sweep (a batch holds the lock 0.5-1.5 ms).
 * Threading: sweeper_run_once needs app->mu held. Empty implicit services are garbage-collected
 * SERVICE_GC_MS after they became empty (as Nacos's empty-service cleaner does).
 */
#ifndef NACOS_MOCK_SWEEPER_H
#define NACOS_MOCK_SWEEPER_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct sweeper;

#define SWEEP_BATCH 4096   /* ~0.5-1.5 ms under the lock; fewer batches, fewer revision bumps */
#define SWEEP_PAUSE_US 100   /* between batches: lets waiting requests take the lock (mutexes are not fair) */
#define SERVICE_GC_MS 60000

struct sweep_change {
    const char *instance_id, *ns, *service;   /* one allocation, owned through instance_id */
    const char *from, *to;          /* "HEALTHY" | "UNHEALTHY" | "REMOVED" (static strings) */
    int64_t since_beat_ms;
};

struct sweep_result {
    struct sweep_change *v;
    size_t n, cap;
    long services_gc;               /* empty implicit services removed */
};

void sweep_result_free(struct sweep_result *r);

/* One step at virtual time now_ms over at most `limit` due instances (limit <= 0: all of them);
 * applies and logs the transitions, notifies subscribers, appends to `out` (may be NULL).
 * Caller holds app->mu. Returns 0 when nothing more is due, 1 when `limit` was reached and more
 * instances are due (call again), -1 on a store error (nothing of the failed batch applied). */
int sweeper_run_once(struct app *app, int64_t now_ms, long limit, struct sweep_result *out);

/* Starts the thread that sweeps every cfg->sweep_interval_ms (each sweep counted in app->metrics).
 * NULL on failure. Started and stopped by the wiring (server.c). */
struct sweeper *sweeper_start(struct app *app);
void sweeper_stop(struct sweeper *s);

#endif
