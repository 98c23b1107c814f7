/* Error messages into caller-provided buffers, the way every parser and constructor reports. */
#ifndef SPATE_ERR_H
#define SPATE_ERR_H
#include <stddef.h>

/* Formats into err (when err and errlen are given) and returns -EINVAL, so a parser can say
 * `return spate_errf(err, errlen, "invalid port \"%s\"", p);`. */
int spate_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
