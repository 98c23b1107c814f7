/* Error messages of the command's parsers and readers: written into the caller's buffer, so the
 * caller decides how the message is shown (with a file name and line, as a result line...). */
#ifndef SPATE_ERRMSG_H
#define SPATE_ERRMSG_H
#include <stddef.h>

/* Formats into err (when err and errlen are given, cut to fit) and returns -EINVAL, so a check
 * can say `return spate_errmsg(err, errlen, "bad \"%s\"", p);`. */
int spate_errmsg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
