/* Nearest known option for a refused one: first the names other tools use for the same thing,
 * then an option the typed text abbreviates, then the fewest edits. */
#include "suggest.h"
#include <string.h>

#define MAX_NAME 64

/* What curl, wrk and aiohttp users type for spate's options. A hint is only given when its
 * target exists in the command's table, so one list serves fetch and bench. */
static const struct {
    const char *typed, *meant;
} aliases[] = {
    {"m", "timeout"},           /* curl -m */
    {"max-time", "timeout"},    /* curl */
    {"retry", "retries"},       /* curl */
    {"retry-delay", "backoff"}, /* curl */
    {"retry-max-time", "backoff-max"},
    {"data-binary", "data"}, /* curl: spate's -d is already binary */
    {"data-raw", "data"},
    {"data-urlencode", "data"},
    {"silent", "quiet"},             /* curl -s */
    {"output", "output-dir"},        /* curl -o FILE */
    {"max-filesize", "max-body"},    /* curl */
    {"connections", "concurrency"},  /* wrk -c in fetch */
    {"concurrency", "connections"},  /* fetch -c in bench */
    {"parallel-max", "concurrency"}, /* curl */
    {"limit-per-host", "per-host"},  /* aiohttp */
    {"latency", "latency-file"},     /* wrk --latency */
};

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

unsigned spate_suggest_distance(const char *a, size_t na, const char *b, size_t nb)
{
    if (na > MAX_NAME || nb > MAX_NAME) return 1000;
    /* three rows of the optimal-string-alignment table are enough */
    size_t prev2[MAX_NAME + 1], prev[MAX_NAME + 1], cur[MAX_NAME + 1];
    for (size_t j = 0; j <= nb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        memcpy(prev2, prev, sizeof(prev));
        memcpy(prev, cur, sizeof(cur));
    }
    return (unsigned)prev[nb];
}

static const struct option *find(const struct option *longopts, const char *name, size_t n)
{
    for (const struct option *o = longopts; o->name; o++)
        if (strlen(o->name) == n && !memcmp(o->name, name, n)) return o;
    return NULL;
}

static size_t common_prefix(const char *a, size_t na, const char *b)
{
    size_t i = 0;
    while (i < na && b[i] && a[i] == b[i])
        i++;
    return i;
}

/* Every option typed abbreviates, nearest first (ties to table order), at most max. */
static size_t abbreviated(const char *typed, size_t n, const struct option *longopts,
                          const char **out, size_t max)
{
    size_t k = 0;
    unsigned dist[SPATE_SUGGEST_MAX];
    for (const struct option *o = longopts; o->name && n >= 2; o++) {
        if (strncmp(o->name, typed, n)) continue;
        unsigned d = (unsigned)(strlen(o->name) - n);
        size_t at = k;
        while (at > 0 && dist[at - 1] > d)
            at--;
        if (at == max) continue;
        if (k < max) k++;
        memmove(&out[at + 1], &out[at], (k - 1 - at) * sizeof(*out));
        memmove(&dist[at + 1], &dist[at], (k - 1 - at) * sizeof(*dist));
        out[at] = o->name;
        dist[at] = d;
    }
    return k;
}

/* The option fewest edits away, if near enough: ties go to the longer shared start ("retry" is
 * nearer "retries" than "rate"). */
static const char *nearest(const char *typed, size_t n, const struct option *longopts)
{
    const char *best = NULL;
    unsigned best_d = 0;
    size_t best_p = 0;
    for (const struct option *o = longopts; o->name; o++) {
        size_t len = strlen(o->name);
        unsigned d = spate_suggest_distance(typed, n, o->name, len);
        size_t p = common_prefix(typed, n, o->name);
        size_t longer = len > n ? len : n;
        if (d > 2 && 3 * d > longer) continue;
        if (!best || d < best_d || (d == best_d && p > best_p)) {
            best = o->name;
            best_d = d;
            best_p = p;
        }
    }
    return best;
}

size_t spate_suggest_options(const char *typed, const struct option *longopts,
                             const char *out[SPATE_SUGGEST_MAX])
{
    size_t n = strcspn(typed, "=");
    if (n == 0 || n > MAX_NAME) return 0;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strlen(aliases[i].typed) != n || memcmp(aliases[i].typed, typed, n)) continue;
        const struct option *o = find(longopts, aliases[i].meant, strlen(aliases[i].meant));
        if (o) {
            out[0] = o->name;
            return 1;
        }
    }
    if (n == 1) return 0; /* a single letter is near everything */
    size_t k = abbreviated(typed, n, longopts, out, SPATE_SUGGEST_MAX);
    if (k) return k;
    out[0] = nearest(typed, n, longopts);
    return out[0] != NULL;
}

const char *spate_suggest_option(const char *typed, const struct option *longopts)
{
    const char *v[SPATE_SUGGEST_MAX];
    return spate_suggest_options(typed, longopts, v) ? v[0] : NULL;
}
