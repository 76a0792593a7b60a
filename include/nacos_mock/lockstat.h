/*
 * lockstat — how long the server's shared locks are held, measured only in builds configured with
 * -DNACOS_MOCK_LOCK_STATS=ON (bench/run.sh --scaling builds one): per lock class, the nanoseconds
 * held, the acquisitions and how many of them had to wait, summed over every lock of the class and
 * shown on /__mock/metrics (nacos_mock_lock_held_seconds_total{lock=...}, ..._acquired_total,
 * ..._waited_total). Divided by the CPU time of the process over a load run, the held time is the
 * share of the work done under the lock: what bounds scaling with cores (Amdahl), measured on a
 * machine with too few cores to show it by throughput.
 *
 * In other builds nm_lock / nm_unlock are the bare pthread calls and nothing is counted.
 * Threading: the counters are atomics; `*t0` is written and read by the holder of the lock only.
 */
#ifndef NACOS_MOCK_LOCKSTAT_H
#define NACOS_MOCK_LOCKSTAT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct lockstat {
    _Atomic uint64_t held_ns, acquired, waited;
};

#ifdef NACOS_MOCK_LOCK_STATS
#include <time.h>

static inline uint64_t lockstat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Locks m, counting the acquisition (and the wait, when it was held) into s; *t0 = when. */
static inline void nm_lock(pthread_mutex_t *m, struct lockstat *s, uint64_t *t0)
{
    if (pthread_mutex_trylock(m)) {
        atomic_fetch_add_explicit(&s->waited, 1, memory_order_relaxed);
        pthread_mutex_lock(m);
    }
    atomic_fetch_add_explicit(&s->acquired, 1, memory_order_relaxed);
    *t0 = lockstat_now_ns();
}

static inline void nm_unlock(pthread_mutex_t *m, struct lockstat *s, const uint64_t *t0)
{
    atomic_fetch_add_explicit(&s->held_ns, lockstat_now_ns() - *t0, memory_order_relaxed);
    pthread_mutex_unlock(m);
}
#define LOCKSTAT_ENABLED 1
#else
static inline void nm_lock(pthread_mutex_t *m, struct lockstat *s, uint64_t *t0)
{
    (void)s;
    (void)t0;
    pthread_mutex_lock(m);
}

static inline void nm_unlock(pthread_mutex_t *m, struct lockstat *s, const uint64_t *t0)
{
    (void)s;
    (void)t0;
    pthread_mutex_unlock(m);
}
#define LOCKSTAT_ENABLED 0
#endif

/* Adds s into a plain snapshot (for rendering sums over several locks of a class). */
struct lockstat_totals { uint64_t held_ns, acquired, waited; };
static inline void lockstat_add_to(const struct lockstat *s, struct lockstat_totals *t)
{
    t->held_ns += atomic_load_explicit(&s->held_ns, memory_order_relaxed);
    t->acquired += atomic_load_explicit(&s->acquired, memory_order_relaxed);
    t->waited += atomic_load_explicit(&s->waited, memory_order_relaxed);
}

#endif
