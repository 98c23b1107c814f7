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
        if (!memcmp(m, names + 3 * i, 3)) return i;
    return -1;
}

/* 1 when s[0..n) is a day name: the short form ("Sun") or, with full set, the long one
 * ("Sunday") that RFC 850 dates use. */
static int day_name(const char *s, size_t n, int full)
{
    static const char *const names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
    for (int i = 0; i < 7; i++) {
        size_t len = full ? strlen(names[i]) : 3;
        if (n == len && !memcmp(s, names[i], len)) return 1;
    }
    return 0;
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

/* "HH:MM:SS" at s into tm; 0 when malformed (ranges are checked by to_time). */
static int time_of_day(const char *s, struct tm *tm)
{
    if (s[2] != ':' || s[5] != ':') return 0;
    tm->tm_hour = digits(s, 2);
    tm->tm_min = digits(s + 3, 2);
    tm->tm_sec = digits(s + 6, 2);
    return 1;
}

/* tm holds a full year (not - 1900) and a 0-based month; checks every field's range. */
static int to_time(struct tm *tm, time_t *out)
{
    if (tm->tm_mon < 0 || tm->tm_mday < 1 || tm->tm_mday > 31 || tm->tm_year < 0 ||
        tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59 ||
        tm->tm_sec < 0 || tm->tm_sec > 60)
        return 0;
    tm->tm_year -= 1900;
    *out = timegm(tm);
    return *out != (time_t)-1;
}

/* IMF-fixdate, the form RFC 9110 requires senders to use: "Sun, 06 Nov 1994 08:49:37 GMT".
 * Checked position by position: sscanf would let "-1" through as a minute. */
static int imf_fixdate(const char *s, size_t n, struct tm *tm)
{
    if (n != 29 || !day_name(s, 3, 0) || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
        s[11] != ' ' || s[16] != ' ' || memcmp(s + 25, " GMT", 4))
        return 0;
    tm->tm_mday = digits(s + 5, 2);
    tm->tm_mon = month_of(s + 8);
    tm->tm_year = digits(s + 12, 4);
    return time_of_day(s + 17, tm);
}

/* A two-digit year (RFC 850) is the one that is not more than 50 years after now's year
 * (RFC 9110 5.6.7). */
static int full_year(int yy, time_t now)
{
    struct tm cur;
    if (yy < 0 || !gmtime_r(&now, &cur)) return -1;
    int year = cur.tm_year + 1900;
    int y = year - year % 100 + yy;
    return y > year + 50 ? y - 100 : y;
}

/* Obsolete RFC 850 form: "Sunday, 06-Nov-94 08:49:37 GMT". */
static int rfc850_date(const char *s, size_t n, time_t now, struct tm *tm)
{
    const char *comma = memchr(s, ',', n);
    if (!comma || !day_name(s, (size_t)(comma - s), 1) || n - (size_t)(comma - s) != 24) return 0;
    const char *d = comma + 2; /* "06-Nov-94 08:49:37 GMT" */
    if (comma[1] != ' ' || d[2] != '-' || d[6] != '-' || d[9] != ' ' || memcmp(d + 18, " GMT", 4))
        return 0;
    tm->tm_mday = digits(d, 2);
    tm->tm_mon = month_of(d + 3);
    tm->tm_year = full_year(digits(d + 7, 2), now);
    return time_of_day(d + 10, tm);
}

/* Obsolete asctime() form: "Sun Nov  6 08:49:37 1994" (the day is space-padded). */
static int asctime_date(const char *s, size_t n, struct tm *tm)
{
    if (n != 24 || !day_name(s, 3, 0) || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
        return 0;
    tm->tm_mon = month_of(s + 4);
    tm->tm_mday = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
    tm->tm_year = digits(s + 20, 4);
    return time_of_day(s + 11, tm);
}

/* Any of the three HTTP-date forms recipients must accept (RFC 9110 5.6.7). */
static int parse_date(const char *s, size_t n, time_t now, time_t *out)
{
    struct tm tm = {0};
    if (!imf_fixdate(s, n, &tm) && !rfc850_date(s, n, now, &tm) && !asctime_date(s, n, &tm))
        return 0;
    return to_time(&tm, out);
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
    if (!parse_date(v, n, now, &t)) return 0;
    *secs = t > now ? (double)(t - now) : 0;
    return 1;
}
