/* spate_strerror: one text for every code the API hands out. Own strings rather than
 * strerror(3), which may use a shared buffer (not thread-safe on every libc) and the locale. */
#include "spate.h"
#include <errno.h>
#include <limits.h>
#include <string.h>

/* The error kinds of a response, in enum order. */
static const char *const kinds[] = {
    "success",
    "name resolution failed",
    "connection failed",
    "TLS handshake or certificate verification failed",
    "timed out",
    "connection reset or closed before the response completed",
    "protocol error: the server broke HTTP/1.1",
    "HTTP error status",
    "response too large (body or header limit exceeded)",
    "invalid request",
    "canceled",
};
_Static_assert(sizeof(kinds) / sizeof(kinds[0]) == SPATE_E_CANCELED + 1,
               "one text per enum spate_error_kind");

/* The errno values spate's calls can return, and the usual ones an embedder might pass on. */
static const struct {
    int e;
    const char *text;
} errnos[] = {
    {EINVAL, "invalid argument"},
    {ENOMEM, "out of memory"},
    {EBUSY, "resource busy"},
    {EAGAIN, "resource temporarily unavailable"},
    {EINTR, "interrupted"},
    {EMFILE, "too many open files in this process"},
    {ENFILE, "too many open files in the system"},
    {EPERM, "operation not permitted"},
    {EACCES, "permission denied"},
    {ENOENT, "no such file or directory"},
    {ENOSYS, "not supported on this system"},
    {EBADF, "bad file descriptor"},
    {ECANCELED, "canceled"},
    {ENOSPC, "no space left"},
    {EOVERFLOW, "value too large"},
};

static const char *errno_text(int e)
{
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
        if (errnos[i].e == e) return errnos[i].text;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    /* glibc's own table: English, static and thread-safe (unlike strerror) */
    const char *s = strerrordesc_np(e);
    if (s) return s;
#endif
    return NULL;
}

const char *spate_strerror(int err)
{
    const char *s = NULL;
    if (err >= 0 && (size_t)err < sizeof(kinds) / sizeof(kinds[0]))
        s = kinds[err];
    else if (err < 0 && err != INT_MIN) /* -INT_MIN overflows */
        s = errno_text(-err);
    return s ? s : "unknown error";
}
