/* "Did you mean --timeout?": the known long option nearest to one the command refused. */
#ifndef SPATE_SUGGEST_H
#define SPATE_SUGGEST_H
#include <getopt.h>
#include <stddef.h>

#define SPATE_SUGGEST_MAX 3

/* The names (without dashes, pointing into longopts) of the options a user most likely meant by
 * `typed` (without dashes, up to an '=' if any), best first, into out[SPATE_SUGGEST_MAX]: a name
 * curl or wrk users know for it (curl's --max-time and -m are spate's --timeout); else every
 * option `typed` abbreviates ("--con": --concurrency, --connect-timeout), nearest first; else
 * the one within a few edits. Returns how many (0 when nothing is near enough to help).
 * longopts ends with a zero entry. */
size_t spate_suggest_options(const char *typed, const struct option *longopts,
                             const char *out[SPATE_SUGGEST_MAX]);
/* The first of those, or NULL. */
const char *spate_suggest_option(const char *typed, const struct option *longopts);

/* Edit distance (insertions, deletions, substitutions and swaps of neighbours) between a[0..na)
 * and b[0..nb); lengths above 64 count as far apart. Exposed for the unit test. */
unsigned spate_suggest_distance(const char *a, size_t na, const char *b, size_t nb);

#endif
