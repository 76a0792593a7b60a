/*
 * sweep.c — the cost of one sweep, without HTTP around it: loads N ephemeral instances over S
 * services into a real registry (the server library, as nacos-mock runs it), then times
 *   idle       a sweep where nothing is due,
 *   unhealthy  a sweep where all N are due to turn UNHEALTHY,
 *   removed    a sweep where all N are due to be REMOVED,
 * each done the way the sweeper thread does it — batches of SWEEP_BATCH under the registry lock,
 * every transition logged — and repeated R times on a fresh registry. Log lines go to stderr (point
 * it at a file, as a server's would be). Prints one line per run and medians.
 *
 * POST /__mock/clock/advance runs the same sweep, then renders every change into its answer; that
 * answer (JSON of N changes) is timed separately by bench/run.sh.
 *
 * -j SPREAD_MS spreads the instances' last beats over that many milliseconds (as clients that beat at
 * different moments; default 0: all at once, as a fixture load or a stopped fleet), and the sweeps
 * run that much later so that all are due.
 *
 * Usage: nm_bench_sweep [-n INSTANCES] [-s SERVICES] [-r RUNS] [-j SPREAD_MS]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nacos_mock/app.h"
#include "nacos_mock/config.h"
#include "nacos_mock/store.h"
#include "nacos_mock/sweeper.h"

#include "timing.h"

#define T0 INT64_C(1000000000000)

static int load(struct app *app, long n, long services, long spread)
{
    for (long k = 0; k < n; k++) {
        char svc[64], ip[32], id[128];
        snprintf(svc, sizeof svc, "DEFAULT_GROUP@@bench-sweep-%ld", k % services);
        snprintf(ip, sizeof ip, "10.%ld.%ld.%ld", (k >> 16) & 255, (k >> 8) & 255, k & 255);
        snprintf(id, sizeof id, "%s#8080#DEFAULT#%s", ip, svc);
        int64_t sid = 0;
        if (store_service_ensure(app->store, "public", svc, T0, &sid)) return -1;
        struct instance_rec in = {
            .service_id = sid, .cluster = "DEFAULT", .ip = ip, .port = 8080, .instance_id = id, .weight = 1.0,
            .healthy = true, .enabled = true, .ephemeral = true, .metadata = "{}", .registered_ms = T0,
            .last_beat_ms = T0 + (spread ? (k * 7919) % spread : 0), .hb_interval_ms = 5000, .hb_timeout_ms = 15000, .delete_timeout_ms = 30000,
        };
        if (store_instance_upsert(app->store, &in, NULL)) return -1;
    }
    return 0;
}

/* One sweep at `now` as the sweeper thread runs it; milliseconds, -1 on error. */
static double sweep(struct app *app, int64_t now)
{
    double t = now_ms();
    int more;
    do {
        app_lock(app);
        more = sweeper_run_once(app, now, SWEEP_BATCH, NULL);
        app_unlock(app);
    } while (more == 1);
    return more < 0 ? -1 : now_ms() - t;
}

int main(int argc, char **argv)
{
    long n = 100000, services = 100, spread = 0;
    int runs = 5, opt;
    while ((opt = getopt(argc, argv, "n:s:r:j:")) != -1) {
        if (opt == 'n') n = atol(optarg);
        else if (opt == 's') services = atol(optarg);
        else if (opt == 'r') runs = atoi(optarg);
        else if (opt == 'j') spread = atol(optarg);
        else { fprintf(stdout, "usage: nm_bench_sweep [-n INSTANCES] [-s SERVICES] [-r RUNS] [-j SPREAD_MS]\n"); return 2; }
    }
    if (n < 1 || services < 1 || runs < 1 || runs > 100 || spread < 0 || spread > 10000) return 2;
    double idle[100], unh[100], rem[100];
    for (int r = 0; r < runs; r++) {
        struct config cfg;
        struct app app;
        char err[256] = "";
        config_defaults(&cfg);
        if (app_init(&app, &cfg, err, sizeof err)) { fprintf(stdout, "app_init: %s\n", err); return 1; }
        app_lock(&app);   /* the store refuses SQLite to a thread without the registry lock (store.h) */
        int lr = load(&app, n, services, spread);
        app_unlock(&app);
        if (lr) { fprintf(stdout, "loading failed: %s\n", store_errmsg(app.store)); return 1; }
        long before = 0, healthy = 0, after = 0;
        idle[r] = sweep(&app, T0 + 1000);
        unh[r] = sweep(&app, T0 + 15001 + spread);
        app_lock(&app);
        store_counts(app.store, NULL, &before, &healthy);
        app_unlock(&app);
        rem[r] = sweep(&app, T0 + 30001 + spread);
        app_lock(&app);
        store_counts(app.store, NULL, &after, NULL);
        app_unlock(&app);
        app_free(&app);
        config_free(&cfg);
        if (idle[r] < 0 || unh[r] < 0 || rem[r] < 0 || before != n || healthy != 0 || after != 0) {
            fprintf(stdout, "run %d: sweep failed (instances %ld, healthy %ld after the first sweep; %ld after the second)\n",
                    r + 1, before, healthy, after);
            return 1;
        }
        fprintf(stdout, "run %d: %ld instances, %ld services, beats spread over %ld ms: nothing due %.2f ms, all -> UNHEALTHY %.2f ms, all -> REMOVED %.2f ms\n",
                r + 1, n, services, spread, idle[r], unh[r], rem[r]);
    }
    fprintf(stdout, "idle_ms=%.2f unhealthy_ms=%.2f removed_ms=%.2f\n", median_sorted(idle, runs), median_sorted(unh, runs),
            median_sorted(rem, runs));
    return 0;
}
