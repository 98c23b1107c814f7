/* Unit tests for engine/retry.c: retried statuses, the backoff envelope and its jitter, and
 * Retry-After in delta-seconds and all three HTTP-date forms (IMF-fixdate, RFC 850, asctime),
 * including garbage. */
#include "retry.h"
#include "tap.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static void test_status(void)
{
    static const int yes[] = {429, 500, 502, 503, 504};
    static const int no[] = {0,   100, 200, 204, 301, 304, 400, 401, 403, 404,
                             408, 418, 428, 430, 499, 501, 505, 511, 599};
    int bad = 0;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!spate_retry_status(yes[i])) {
            bad++;
            diag("%d should be retried", yes[i]);
        }
    is_int(bad, 0, "429 500 502 503 504 are retried");
    bad = 0;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (spate_retry_status(no[i])) {
            bad++;
            diag("%d should not be retried", no[i]);
        }
    is_int(bad, 0, "other statuses (2xx 3xx 4xx 501 505 ...) are not retried");
}

/* Exact envelope in ns: [full/2, full] with full = min(base * 2^(n-1), max) seconds. */
static void envelope(double base, double max, unsigned n, uint64_t *lo, uint64_t *hi)
{
    double d = base * pow(2, (double)n - 1);
    if (d > max) d = max;
    *hi = (uint64_t)(d * 1e9);
    *lo = *hi / 2;
}

static void test_backoff(void)
{
    uint64_t rng = 12345;
    const double base = 0.1, max = 10.0;
    for (unsigned n = 1; n <= 10; n++) {
        uint64_t lo, hi, min = UINT64_MAX, maxv = 0;
        envelope(base, max, n, &lo, &hi);
        int out = 0;
        double sum = 0;
        enum { DRAWS = 2000 };
        for (int i = 0; i < DRAWS; i++) {
            uint64_t w = spate_retry_backoff(base, max, n, &rng);
            /* allow 1 ns for the float -> integer conversion of the bound */
            if (w + 1 < lo || w > hi + 1) out++;
            if (w < min) min = w;
            if (w > maxv) maxv = w;
            sum += (double)w;
        }
        is_int(out, 0, "retry %u: %d draws within [%.4f, %.4f] s", n, DRAWS, lo / 1e9, hi / 1e9);
        /* jitter: spread over most of the range, mean near its middle */
        double span = (double)(hi - lo);
        ok((double)(maxv - min) > 0.9 * span,
           "retry %u: jitter covers the range (min %.4f max %.4f s)", n, min / 1e9, maxv / 1e9);
        double mean = sum / DRAWS, mid = (lo + hi) / 2.0;
        ok(fabs(mean - mid) < 0.05 * span, "retry %u: mean %.4f s near the middle %.4f s", n,
           mean / 1e9, mid / 1e9);
    }
    uint64_t a = 1, b = 1;
    int same = 1;
    for (int i = 0; i < 50; i++)
        same &= spate_retry_backoff(1, 30, 3, &a) == spate_retry_backoff(1, 30, 3, &b);
    ok(same, "the same rng seed gives the same sequence (the state is the caller's)");
    uint64_t s = 7;
    uint64_t w1 = spate_retry_backoff(1, 30, 3, &s), w2 = spate_retry_backoff(1, 30, 3, &s);
    ok(s != 7 && w1 != w2, "the rng state advances between draws");
    uint64_t z = 0;
    uint64_t wz = spate_retry_backoff(1, 30, 1, &z);
    ok(wz >= 500000000ull && wz <= 1000000000ull, "a zero rng state still draws in range");
    /* large n and the cap: no overflow, stays at max */
    uint64_t big = spate_retry_backoff(0.5, 30, 4000000000u, &rng);
    ok(big >= 15000000000ull && big <= 30000000000ull, "n = 4e9 stays within [max/2, max]");
    is_int((long long)spate_retry_backoff(0, 30, 3, &rng), 0, "base 0 gives no wait");
    uint64_t cap = spate_retry_backoff(100, 2, 1, &rng);
    ok(cap >= 1000000000ull && cap <= 2000000000ull, "base above max is capped at max");
}

/* Parses s (given length, may be unterminated garbage around it) and checks validity/value. */
static void after(const char *s, time_t now, int want_ok, double want)
{
    double secs = -12345;
    int rc = spate_retry_after_parse(s, strlen(s), now, &secs);
    if (!want_ok) {
        ok(rc == 0, "Retry-After \"%s\" is invalid", s);
        if (rc) diag("parsed as %f s", secs);
        return;
    }
    if (!ok(rc == 1 && fabs(secs - want) < 1e-9, "Retry-After \"%s\" = %g s", s, want))
        diag("rc %d, secs %f", rc, secs);
}

/* Formats t as an IMF-fixdate. */
static void fixdate(char *buf, size_t len, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void test_after(void)
{
    time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    after("120", now, 1, 120);
    after(" 5 ", now, 1, 5);
    after("\t7\t", now, 1, 7);
    after("0", now, 1, 0);
    after("-1", now, 0, 0);
    after("+1", now, 0, 0);
    after("1.5", now, 0, 0);
    after("abc", now, 0, 0);
    after("12abc", now, 0, 0);
    after("", now, 0, 0);
    after("   ", now, 0, 0);
    after("1 2", now, 0, 0);
    after("0x10", now, 0, 0);
    double secs = -1;
    int rc = spate_retry_after_parse("99999999999999999999", 20, now, &secs);
    ok(rc == 1 && isfinite(secs) && secs >= 1e9, "huge delta-seconds: valid, finite, large (%g)",
       secs);
    /* only the given length counts: "30" inside a longer buffer */
    rc = spate_retry_after_parse("30junk", 2, now, &secs);
    ok(rc == 1 && secs == 30, "length-delimited value \"30\" out of \"30junk\"");

    char d[64];
    fixdate(d, sizeof d, now + 5);
    after(d, now, 1, 5);
    fixdate(d, sizeof d, now + 3600);
    after(d, now, 1, 3600);
    fixdate(d, sizeof d, now - 5);
    after(d, now, 1, 0);
    fixdate(d, sizeof d, now);
    after(d, now, 1, 0);
    after("Sun, 06 Nov 1994 08:49:37 GMT", now, 1, 0);
    after("Tue, 14 Nov 2023 22:13:30 GMT", now, 1, 10);
    after("  Tue, 14 Nov 2023 22:13:30 GMT  ", now, 1, 10);
    /* malformed dates: all fall back to the backoff */
    after("Tue, 14 Nov 2023 22:13:30 UTC", now, 0, 0);
    after("Tue, 14 Nov 2023 22:13:30", now, 0, 0);
    after("Tue, 14 Foo 2023 22:13:30 GMT", now, 0, 0);
    after("Tue, 32 Nov 2023 22:13:30 GMT", now, 0, 0);
    after("Tue, 00 Nov 2023 22:13:30 GMT", now, 0, 0);
    after("Tue, 14 Nov 2023 24:13:30 GMT", now, 0, 0);
    after("Tue, 14 Nov 2023 22:60:30 GMT", now, 0, 0);
    after("Tue, 14 Nov 2023 22:13:30 GMTX", now, 0, 0);
    after("Tue, 14 Nov 2023 22:13:30 GMT x", now, 0, 0);
    after("Xyz, 14 Nov 2023 22:13:30 GMT", now, 0, 0); /* not a day name */
    /* sign characters in numeric fields are not digits: a date with them is malformed */
    after("Tue, 14 Nov 2023 22:-1:30 GMT", now, 0, 0);
    after("Tue, 14 Nov 2023 -1:13:30 GMT", now, 0, 0);
    after("Tue, 14 Nov 2023 22:13:-1 GMT", now, 0, 0);
}

/* The two obsolete HTTP-date forms every recipient must accept (RFC 9110 5.6.7). */
static void test_after_obsolete(void)
{
    time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    /* RFC 850: full day name, dashes, two-digit year */
    after("Tuesday, 14-Nov-23 22:13:30 GMT", now, 1, 10);
    after("Tuesday, 14-Nov-23 23:13:20 GMT", now, 1, 3600);
    after("Wednesday, 15-Nov-23 22:13:20 GMT", now, 1, 86400);
    after(" Tuesday, 14-Nov-23 22:13:25 GMT\t", now, 1, 5);
    after("Sunday, 06-Nov-94 08:49:37 GMT", now, 1, 0); /* 1994: in the past */
    /* two-digit years: more than 50 years ahead means the previous century (RFC 9110) */
    after("Monday, 01-Jan-73 00:00:00 GMT", now, 1, 3250454400.0 - now); /* 2073: 50 years on */
    after("Monday, 01-Jan-74 00:00:00 GMT", now, 1, 0);                  /* 1974, past */
    after("Friday, 14-Nov-70 22:13:20 GMT", now, 1, 3183228800.0 - now); /* 2070 */
    after("Tuesday, 14-Nov-2023 22:13:30 GMT", now, 0, 0);               /* four-digit year */
    after("Tue, 14-Nov-23 22:13:30 GMT", now, 0, 0);                     /* short day name */
    after("Tuesday, 14 Nov 23 22:13:30 GMT", now, 0, 0);                 /* spaces, not dashes */
    after("Tuesday, 14-Nov-23 22:13:30 UTC", now, 0, 0);
    after("Tuesday, 14-Nov-23 22:13:30", now, 0, 0);
    after("Tuesday, 14-Nov-23 25:13:30 GMT", now, 0, 0);
    after("Tuesday, 14-Foo-23 22:13:30 GMT", now, 0, 0);
    after("Tuesday, 1x-Nov-23 22:13:30 GMT", now, 0, 0);
    after("Tuesday, 14-Nov--3 22:13:30 GMT", now, 0, 0);
    after("Someday, 14-Nov-23 22:13:30 GMT", now, 0, 0);
    after(", 14-Nov-23 22:13:30 GMT", now, 0, 0);
    /* asctime: day space-padded (or two digits), time, four-digit year, no zone */
    after("Tue Nov 14 22:13:30 2023", now, 1, 10);
    after("Wed Nov 15 22:13:20 2023", now, 1, 86400);
    after("Sun Nov  6 08:49:37 1994", now, 1, 0);
    after("Fri Dec  1 00:00:00 2023", now, 1, 1701388800.0 - now);
    after("Fri Dec 01 00:00:00 2023", now, 1, 1701388800.0 - now);
    after("  Tue Nov 14 22:13:30 2023  ", now, 1, 10);
    after("Tue Nov 14 22:13:30 2023 GMT", now, 0, 0);
    after("Tue Nov 14 22:13:30 23", now, 0, 0);
    after("Tue Nov 14 22:13 2023", now, 0, 0);
    after("Tue Nov  x 22:13:30 2023", now, 0, 0);
    after("Tue Nov 32 22:13:30 2023", now, 0, 0);
    after("Tue Nov 14 22:13:61 2023", now, 0, 0);
    after("Tuesday Nov 14 22:13:30 2023", now, 0, 0);
    after("Tue Foo 14 22:13:30 2023", now, 0, 0);
    after("Tue Nov 14 22:13:30 -023", now, 0, 0);
}

int main(void)
{
    test_status();
    test_backoff();
    test_after();
    test_after_obsolete();
    return done();
}
