/*
 * clock — the one source of "now" for health decisions: real wall time plus a virtual offset that
 * the control plane can advance (/__mock/clock/advance). Nothing else reads time() for health.
 *
 * Threading: offset is an atomic; any thread may read or advance.
 */
#ifndef NACOS_MOCK_CLOCK_H
#define NACOS_MOCK_CLOCK_H

#include <stdint.h>

struct nm_clock {
    _Atomic int64_t offset_ms;
};

void clock_init(struct nm_clock *c);
/* Virtual now in epoch milliseconds (real time + offset). */
int64_t clock_now_ms(struct nm_clock *c);
int64_t clock_offset_ms(struct nm_clock *c);
void clock_advance(struct nm_clock *c, int64_t ms);
void clock_reset(struct nm_clock *c);
/* Real (non-virtual) epoch ms and monotonic ms, for durations and UDP subscription ageing. */
int64_t clock_real_ms(void);
int64_t clock_mono_ms(void);

#endif
