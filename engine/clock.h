/* Monotonic time in nanoseconds: the one clock every timer, timeout and latency uses. */
#ifndef SPATE_CLOCK_H
#define SPATE_CLOCK_H
#include <stdint.h>

/* Returns CLOCK_MONOTONIC in nanoseconds; never goes backwards. */
uint64_t spate_clock_now(void);

/* Returns CLOCK_REALTIME (wall-clock time) in nanoseconds since the Unix epoch: only to place a
 * measured period in time for other processes and machines, never to measure a duration. */
uint64_t spate_clock_wall_ns(void);

#define SPATE_NS_PER_SEC 1000000000ull
#define SPATE_NS_PER_MS 1000000ull

/* Seconds (decimal, >= 0) to nanoseconds, saturating instead of overflowing. */
uint64_t spate_clock_from_sec(double s);

#endif
