/*
 * events.c — what emitting an event costs, in process (events.h), per call, median of R runs:
 *   off       nobody has ever subscribed: the path every register, health-restoring beat and sweep
 *             takes in a process no stream watches (one relaxed atomic load);
 *   on        recording (a stream is open, parked, and wants other kinds: nobody is woken): rendering
 *             the JSON, one allocation, the ring under its lock;
 *   batch     the same through a sweeper batch (collected, then published under one lock).
 * The same health event each time (a beat restoring an instance). Prints one line per run and
 * medians, in nanoseconds.
 *
 * Usage: nm_bench_events [-n CALLS] [-r RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nacos_mock/events.h"

#include "timing.h"

#define SVC "DEFAULT_GROUP@@bench-events"
#define ID "10.0.0.1#8080#DEFAULT#" SVC

static void wake(void *ctx) { (void)ctx; }
static int take(void *ctx, uint64_t id, enum event_kind kind, const char *data, size_t len) { return 0; }
static bool park(void *ctx) { return true; }

static double per_call_ns(struct events *ev, long n)
{
    double t = now_ms();
    for (long i = 0; i < n; i++)
        events_health(ev, i, "public", SVC, ID, "DEFAULT", "10.0.0.1", 8080, "UNHEALTHY", "HEALTHY", 15001);
    return (now_ms() - t) * 1e6 / (double)n;
}

static double per_batch_event_ns(struct events *ev, long n)
{
    struct instance_rec r = {.ns = "public", .service = SVC, .cluster = "DEFAULT", .ip = "10.0.0.1", .port = 8080,
                             .instance_id = ID, .ephemeral = true};
    struct events_batch b = {0};
    double t = now_ms();
    for (long i = 0; i < n; i += 4096) {   /* SWEEP_BATCH transitions, then one publish */
        for (long k = i; k < n && k < i + 4096; k++)
            events_batch_transition(&b, ev, k, &r, "HEALTHY", "UNHEALTHY", 15001);
        events_batch_publish(ev, &b);
    }
    double ns = (now_ms() - t) * 1e6 / (double)n;
    events_batch_free(&b);
    return ns;
}

int main(int argc, char **argv)
{
    long n = 2000000, runs = 5;
    int opt;
    while ((opt = getopt(argc, argv, "n:r:")) != -1) {
        if (opt == 'n') n = strtol(optarg, NULL, 10);
        else if (opt == 'r') runs = strtol(optarg, NULL, 10);
        else {
            fprintf(stderr, "usage: nm_bench_events [-n CALLS] [-r RUNS]\n");
            return 2;
        }
    }
    if (n < 1 || runs < 1 || runs > 64) return 2;
    double off[64], on[64], batch[64];
    for (long r = 0; r < runs; r++) {
        struct events *ev = events_create();
        off[r] = per_call_ns(ev, n);
        struct events_sub *s = events_subscribe(ev, &(struct events_filter){.kinds = 1u << EV_CONFIG},
                                                EVENTS_SINCE_NOW, wake, NULL, NULL);
        events_take(s, take, NULL, park);   /* parked: waits for a config event that never comes */
        on[r] = per_call_ns(ev, n / 10);
        batch[r] = per_batch_event_ns(ev, n / 10);
        events_unsubscribe(s);
        events_free(ev);
        printf("run %ld: off %.2f ns, on %.1f ns, batch %.1f ns\n", r + 1, off[r], on[r], batch[r]);
    }
    printf("median: off_ns=%.2f on_ns=%.1f batch_ns=%.1f\n", median_sorted(off, (int)runs),
           median_sorted(on, (int)runs), median_sorted(batch, (int)runs));
    return 0;
}
