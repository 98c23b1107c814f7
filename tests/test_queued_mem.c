/* What a queued request costs the heap (issue 15: at most 256 bytes beyond the caller's own
 * strings). Every allocation made while requests are submitted is seen through the sanitizer's
 * malloc and free hooks (the unit tests are built with ASan) and counted as glibc would hold
 * it: its size plus an 8-byte header, rounded up to 16, at least 32, the way
 * bench/lib-memory.sh sees it with mallinfo2. Only spate.h is used. */
#include "spate.h"
#include "tap.h"
#include <stdio.h>
#include <string.h>

/* The sanitizer runtime's allocator interface (its header is not shipped with every gcc). */
int __sanitizer_install_malloc_and_free_hooks(void (*on_malloc)(const volatile void *, size_t),
                                              void (*on_free)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);

static long long held; /* bytes held, as glibc would count them */
static long long nheld;

static size_t glibc_chunk(size_t n)
{
    size_t c = (n + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    held += (long long)glibc_chunk(n);
    nheld++;
}

static void on_free(const volatile void *p)
{
    held -= (long long)glibc_chunk(__sanitizer_get_allocated_size(p));
    nheld--;
}

static unsigned long done_calls, canceled, attempted;

static void on_done(void *user, const struct spate_response *r)
{
    (void)user;
    done_calls++;
    canceled += r->error == SPATE_E_CANCELED;
    attempted += r->attempts != 0;
}

#define N 2000

/* Submits N requests, prefix + a number + suffix, to a port nothing listens on (the engine
 * never runs); returns the URL bytes. */
static size_t submit_all(struct spate_engine *e, const char *prefix, const char *suffix)
{
    size_t strings = 0;
    for (unsigned i = 0; i < N; i++) {
        char url[256], err[256];
        snprintf(url, sizeof url, "%s%u%s", prefix, i, suffix);
        struct spate_request q = {.url = url, .done = on_done};
        if (spate_submit(e, &q, err, sizeof err) < 0) {
            diag("submit %s: %s", url, err);
            return 0;
        }
        strings += strlen(url) + 1;
    }
    return strings;
}

/* Per queued request: bytes held beyond its URL string, and allocations. */
static void measure(const char *what, const char *prefix, const char *suffix)
{
    struct spate_config cfg;
    spate_config_init(&cfg);
    struct spate_engine *e;
    char err[256];
    if (spate_engine_create(&e, &cfg, err, sizeof err) < 0) {
        ok(0, "engine: %s", err);
        return;
    }
    struct spate_request first = {.url = "http://127.0.0.1:1/", .done = on_done};
    spate_submit(e, &first, err, sizeof err); /* creates the host entry, which is shared */
    long long h0 = held, n0 = nheld;
    size_t strings = submit_all(e, prefix, suffix);
    double per = ((double)(held - h0) - (double)strings) / N;
    double allocs = (double)(nheld - n0) / N;
    diag("%s: %.1f bytes per queued request beyond %.1f bytes of URL, %.2f allocations", what, per,
         (double)strings / N, allocs);
    ok(strings && per <= 256, "%s: a queued request holds %.1f bytes beyond its URL (<= 256)", what,
       per);
    ok(allocs <= 2,
       "%s: %.2f allocations each (the object and its parsed URL, nothing of an "
       "attempt)",
       what, allocs);
    done_calls = canceled = attempted = 0;
    spate_engine_destroy(e);
    ok(done_calls == N + 1 && canceled == N + 1 && attempted == 0,
       "%s: destroying the engine completes all %d as canceled, none attempted (%lu, %lu, %lu)",
       what, N + 1, done_calls, canceled, attempted);
}

int main(void)
{
    plan(6);
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    measure("short URL", "http://127.0.0.1:1/f/", "");
    measure("longer URL", "http://127.0.0.1:1/some/longer/path/to/a/file-", ".html?query=value");
    return done();
}
