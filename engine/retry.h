/* Retry policy arithmetic: which failures are retried, exponential backoff with jitter, and the
 * Retry-After header in all of its forms (delta-seconds and the three HTTP-date forms). */
#ifndef SPATE_RETRY_H
#define SPATE_RETRY_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* 1 for statuses worth another attempt: 429, 500, 502, 503, 504. */
int spate_retry_status(int status);
/* Wait before retry number n (1 = first retry): uniformly in [d/2, d] with
 * d = min(base * 2^(n-1), max), in ns. rng is the caller's xorshift state (nonzero). */
uint64_t spate_retry_backoff(double base, double max, unsigned n, uint64_t *rng);
/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date. Returns 1 with *secs set
 * (a date in the past gives 0), or 0 when the value is not valid (then use the backoff). */
int spate_retry_after_parse(const char *v, size_t n, time_t now, double *secs);

#endif
