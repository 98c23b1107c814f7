/* Retry policy arithmetic. */
#include "retry.h"
#include <ctype.h>
#include <string.h>

int spate_retry_status(int s)
{
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

uint64_t spate_retry_backoff(double base, double max, unsigned n, uint64_t *rng)
{
    double d = base;
    for (unsigned i = 1; i < n && d < max; i++)
        d *= 2;
    if (d > max) d = max;
    if (!(d > 0)) return 0;
    uint64_t full = (uint64_t)(d * 1e9);
    uint64_t half = full / 2;
    return half + (full > half ? next_rand(rng) % (full - half + 1) : 0);
}

static int month_of(const char *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (!strncmp(m, names + 3 * i, 3)) return i;
    return -1;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* IMF-fixdate, the form RFC 9110 requires senders to use: "Sun, 06 Nov 1994 08:49:37 GMT".
 * Checked position by position: sscanf would let "-1" through as a minute. */
static int parse_date(const char *s, size_t n, time_t *out)
{
    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4))
        return 0;
    char mon[4] = {s[8], s[9], s[10], 0};
    struct tm tm = {0};
    tm.tm_mday = digits(s + 5, 2);
    tm.tm_year = digits(s + 12, 4);
    tm.tm_hour = digits(s + 17, 2);
    tm.tm_min = digits(s + 20, 2);
    tm.tm_sec = digits(s + 23, 2);
    tm.tm_mon = month_of(mon);
    if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_year < 0 || tm.tm_hour < 0 ||
        tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
        return 0;
    tm.tm_year -= 1900;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

int spate_retry_after_parse(const char *v, size_t n, time_t now, double *secs)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0) return 0;
    size_t i = 0;
    double d = 0;
    while (i < n && isdigit((unsigned char)v[i])) {
        if (d < 1e12) /* anything this large is capped later anyway: no overflow */
            d = d * 10 + (v[i] - '0');
        i++;
    }
    if (i == n) {
        *secs = d;
        return 1;
    }
    time_t t;
    if (!parse_date(v, n, &t)) return 0;
    *secs = t > now ? (double)(t - now) : 0;
    return 1;
}
