/* Unit tests for engine/version.c and engine/strerror.c: the run-time version agrees with the
 * header's string and numbers, and every code the API hands out has a text. */
#include "spate.h"
#include "tap.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>

static void test_version(void)
{
    is_str(spate_version(), SPATE_VERSION, "spate_version() is the header's SPATE_VERSION");
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", SPATE_VERSION_NUM >> 16,
             (SPATE_VERSION_NUM >> 8) & 0xff, SPATE_VERSION_NUM & 0xff);
    is_str(spate_version(), want, "SPATE_VERSION_NUM encodes the same version as 0xMMmmpp");
#if SPATE_VERSION_NUM < 0x000100
    ok(0, "SPATE_VERSION_NUM usable in #if (this library is at least 0.1.0)");
#else
    ok(1, "SPATE_VERSION_NUM usable in #if (this library is at least 0.1.0)");
#endif
}

static void test_strerror(void)
{
    is_str(spate_strerror(0), "success", "0 is success");
    is_str(spate_strerror(-EINVAL), "invalid argument", "-EINVAL");
    is_str(spate_strerror(-ENOMEM), "out of memory", "-ENOMEM");
    is_str(spate_strerror(-EMFILE), "too many open files in this process", "-EMFILE");
#ifdef __GLIBC__
    /* an errno outside spate's own table still gets the system's description */
    is_str(spate_strerror(-ECONNREFUSED), "Connection refused", "-ECONNREFUSED (libc's table)");
#else
    ok(1, "-ECONNREFUSED: not checked without glibc");
#endif
    is_str(spate_strerror(SPATE_E_DNS), "name resolution failed", "an error kind: dns");
    is_str(spate_strerror(SPATE_E_CANCELED), "canceled", "the last error kind: canceled");
    int bad = 0;
    for (int k = SPATE_OK; k <= SPATE_E_CANCELED; k++)
        if (!strcmp(spate_strerror(k), "unknown error")) bad++;
    is_int(bad, 0, "every error kind has its own text");
    is_str(spate_strerror(SPATE_E_CANCELED + 1), "unknown error", "past the last kind: unknown");
    is_str(spate_strerror(-100000), "unknown error", "an errno no one defines: unknown");
    is_str(spate_strerror(INT_MIN), "unknown error", "INT_MIN (cannot be negated): unknown");
    is_str(spate_strerror(INT_MAX), "unknown error", "INT_MAX: unknown");
}

int main(void)
{
    plan(15);
    test_version();
    test_strerror();
    return done();
}
