/* Monotonic clock helpers. */
#include "clock.h"
#include <time.h>

uint64_t spate_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SPATE_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t spate_clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * SPATE_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t spate_clock_from_sec(double s)
{
    if (!(s > 0)) return 0;
    if (s >= 1e9) /* ~31 years: treat as "never" without overflowing */
        return UINT64_MAX / 2;
    return (uint64_t)(s * 1e9);
}
