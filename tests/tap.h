/* A tiny TAP producer for the unit tests: plan(), ok(), is_str(), is_int(), is_mem(), done().
 * Header-only (static inline) so every tests/test_*.c stays a single translation unit. */
#ifndef SPATE_TAP_H
#define SPATE_TAP_H
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct tap_state {
    int run, failed, planned;
};

/* Function-local static: one state per test program without a global that -Wunused could flag. */
static inline struct tap_state *tap_state(void)
{
    static struct tap_state s;
    return &s;
}

/* Prints "1..n" up front. Without a plan, done() prints the plan at the end instead. */
static inline void plan(int n)
{
    tap_state()->planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static inline void tap_vresult(int pass, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static inline void tap_vresult(int pass, const char *fmt, va_list ap)
{
    struct tap_state *t = tap_state();
    t->run++;
    if (!pass) t->failed++;
    char desc[512];
    vsnprintf(desc, sizeof desc, fmt, ap);
    printf("%sok %d - ", pass ? "" : "not ", t->run);
    /* A raw newline would end the TAP line early and '#' would start a directive: escape them. */
    for (const unsigned char *c = (const unsigned char *)desc; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            printf("\\x%02x", *c);
        else if (*c == '#')
            fputs("\\#", stdout);
        else
            putchar(*c);
    }
    putchar('\n');
    fflush(stdout);
}

/* Diagnostics go to stdout as "# ..." lines so they stay next to the result they explain. */
static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
}

static inline int ok(int pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int ok(int pass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(pass != 0, fmt, ap);
    va_end(ap);
    return pass != 0;
}

/* NULL compares equal only to NULL. */
static inline int is_str(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int is_str(const char *got, const char *want, const char *fmt, ...)
{
    int pass = (!got && !want) || (got && want && strcmp(got, want) == 0);
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(pass, fmt, ap);
    va_end(ap);
    if (!pass) {
        diag("     got: %s%s%s", got ? "\"" : "", got ? got : "NULL", got ? "\"" : "");
        diag("expected: %s%s%s", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    }
    return pass;
}

static inline int is_int(long long got, long long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int is_int(long long got, long long want, const char *fmt, ...)
{
    int pass = got == want;
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(pass, fmt, ap);
    va_end(ap);
    if (!pass) {
        diag("     got: %lld", got);
        diag("expected: %lld", want);
    }
    return pass;
}

/* Byte-exact comparison for data that may hold NULs; got may be NULL only when want is. */
static inline int is_mem(const void *got, size_t got_len, const void *want, size_t want_len,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int is_mem(const void *got, size_t got_len, const void *want, size_t want_len,
                         const char *fmt, ...)
{
    int pass = got_len == want_len && (got_len == 0 || (got && memcmp(got, want, got_len) == 0));
    if (!got && want) pass = 0;
    va_list ap;
    va_start(ap, fmt);
    tap_vresult(pass, fmt, ap);
    va_end(ap);
    if (!pass) diag("lengths: got %zu, expected %zu", got_len, want_len);
    return pass;
}

/* Returns the exit status: 0 only when every test passed and the plan (if any) was met. */
static inline int done(void)
{
    struct tap_state *t = tap_state();
    if (!t->planned)
        printf("1..%d\n", t->run);
    else if (t->planned != t->run)
        diag("planned %d tests but ran %d", t->planned, t->run);
    if (t->failed) diag("failed %d of %d tests", t->failed, t->run);
    fflush(stdout);
    return (t->failed || (t->planned && t->planned != t->run)) ? 1 : 0;
}

#endif
