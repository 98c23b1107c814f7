/* The progress line's text: done/total, percent, elapsed, ETA, in flight, rate, failures, an
 * unknown total, and the cut to the terminal's width. */
#include "progress.h"
#include "tap.h"
#include <stdint.h>
#include <string.h>

int main(void)
{
    plan(7);
    char b[256];
    struct spate_progress_counts c = {.done = 250, .total = 1000, .in_flight = 100};
    spate_progress_format(b, sizeof(b), 65.9, 50, &c, 0);
    is_str(b, "250/1000 done (25.0%)  elapsed 1:05  ETA 0:15  in flight 100  50 req/s",
           "known total: percent, elapsed (whole seconds gone), ETA = left / rate");
    c.failed = 3;
    spate_progress_format(b, sizeof(b), 3700, 0.1, &c, 0);
    is_str(b,
           "250/1000 done (25.0%)  elapsed 1:01:40  ETA 2:05:00  in flight 100  0 req/s  3 failed",
           "hours, an ETA rounded up, failures");
    spate_progress_format(b, sizeof(b), 0.2, -1, &c, 0);
    is_str(b, "250/1000 done (25.0%)  elapsed 0:00  ETA --  in flight 100  -- req/s  3 failed",
           "no rate yet: ETA and rate unknown");
    c = (struct spate_progress_counts){.done = 7, .total = SIZE_MAX, .in_flight = 2};
    spate_progress_format(b, sizeof(b), 1, 7, &c, 0);
    is_str(b, "7 done  elapsed 0:01  in flight 2  7 req/s", "unknown total: no percent or ETA");
    c = (struct spate_progress_counts){.done = 4, .total = 4};
    spate_progress_format(b, sizeof(b), 2, 2, &c, 0);
    is_str(b, "4/4 done (100.0%)  elapsed 0:02  ETA 0:00  in flight 0  2 req/s", "finished");
    c = (struct spate_progress_counts){.done = 0, .total = 0};
    spate_progress_format(b, sizeof(b), 0, -1, &c, 0);
    is_str(b, "0/0 done (100.0%)  elapsed 0:00  ETA 0:00  in flight 0  -- req/s", "an empty run");
    c = (struct spate_progress_counts){.done = 250, .total = 1000, .in_flight = 100};
    size_t n = spate_progress_format(b, sizeof(b), 65, 50, &c, 20);
    ok(n == 19 && strlen(b) == 19, "20 columns: cut to 19 (%s)", b);
    return done();
}
