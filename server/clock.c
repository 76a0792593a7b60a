/*
 * clock.c — virtual time = real time + offset (see clock.h).
 */
#include "nacos_mock/clock.h"

#include <stdatomic.h>
#include <time.h>

void clock_init(struct nm_clock *c) { atomic_store(&c->offset_ms, 0); }

int64_t clock_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(struct nm_clock *c) { return clock_real_ms() + atomic_load(&c->offset_ms); }
int64_t clock_offset_ms(struct nm_clock *c) { return atomic_load(&c->offset_ms); }
void clock_advance(struct nm_clock *c, int64_t ms) { atomic_fetch_add(&c->offset_ms, ms); }
void clock_reset(struct nm_clock *c) { atomic_store(&c->offset_ms, 0); }
