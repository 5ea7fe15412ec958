/*
 * clock.h — the two clocks mien reads: wall time for what is stored and shown, monotonic time for
 * durations, timeouts and rates (it never jumps when the wall clock is set).
 */
#ifndef MIEN_CORE_CLOCK_H
#define MIEN_CORE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (UTC); what timestamps in the store and the API carry. */
int64_t mien_wall_ms(void);

/* Milliseconds on a monotonic clock with an arbitrary origin; only differences mean anything. */
int64_t mien_mono_ms(void);

#endif
