/* "Did you mean --timeout?": the known long option nearest to one the command refused. */
#ifndef SPATE_SUGGEST_H
#define SPATE_SUGGEST_H
#include <getopt.h>
#include <stddef.h>

/* The name (without dashes, pointing into longopts) of the option a user most likely meant by
 * `typed` (without dashes, up to an '=' if any): a name curl or wrk users know for it (curl's
 * --max-time and -m are spate's --timeout), an option `typed` abbreviates, or one within a few
 * edits. NULL when nothing is near enough to be a useful hint. longopts ends with a zero entry. */
const char *spate_suggest_option(const char *typed, const struct option *longopts);

/* Edit distance (insertions, deletions, substitutions and swaps of neighbours) between a[0..na)
 * and b[0..nb); lengths above 64 count as far apart. Exposed for the unit test. */
unsigned spate_suggest_distance(const char *a, size_t na, const char *b, size_t nb);

#endif
