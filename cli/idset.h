/* The set of request ids `--resume FILE` skips: ids a few bytes each, never the lines. */
#ifndef SPATE_IDSET_H
#define SPATE_IDSET_H
#include <stddef.h>
#include <stdint.h>

/* An open-addressing table of 64-bit hashes of each id's compact JSON text (0 marks a free
 * slot; a hash of 0 is stored as 1). Two different ids share a hash with probability 2^-64
 * per pair: over 10^7 done ids that is about 10^14 / 3.7 10^19 = 3 in a million runs that one
 * request is wrongly skipped, far below a lost line's odds. */
struct spate_idset {
    uint64_t *slot; /* owned, cap entries */
    size_t cap, n;  /* cap a power of two, kept at most 3/4 full */
};

uint64_t spate_idset_hash(const char *s, size_t n);
/* 0 or -ENOMEM. */
int spate_idset_add(struct spate_idset *s, uint64_t h);
int spate_idset_has(const struct spate_idset *s, uint64_t h);
void spate_idset_fini(struct spate_idset *s);

/* Reads an earlier run's output: every line that parses as a JSON object with "ok": true adds
 * its "id" (compact JSON); lines that do not parse are ignored. 0, or -errno (err names it). */
int spate_idset_load(struct spate_idset *s, const char *path, char *err, size_t errlen);

#endif
