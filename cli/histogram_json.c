/* The histogram's JSON form in reports (see histogram.h for the shape) and its checked reader: a
 * report that is corrupt or of another layout is refused with a message, never merged. */
#include "text.h"
#include "histogram.h"
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define UNIT "ns"

int spate_hist_write_json(struct spate_text *b, const struct spate_hist *h)
{
    int rc = spate_text_printf(b,
                               "{\"unit\":\"" UNIT "\",\"sub_bucket_bits\":%u,\"bucket_count\":%u,"
                               "\"count\":%llu,\"min\":%llu,\"max\":%llu,\"sum\":%llu,"
                               "\"clamped\":%llu,\"counts\":[",
                               (unsigned)SPATE_HIST_SUB_BITS, (unsigned)SPATE_HIST_BUCKETS,
                               (unsigned long long)h->count, (unsigned long long)spate_hist_min(h),
                               (unsigned long long)spate_hist_max(h), (unsigned long long)h->sum,
                               (unsigned long long)h->clamped);
    int first = 1;
    for (unsigned i = 0; i < SPATE_HIST_LEN && rc == 0; i++) {
        if (!h->counts[i]) continue;
        if (!first) rc = spate_text_add(b, ",", 1);
        first = 0;
        if (rc == 0) rc = spate_text_add(b, "[", 1);
        if (rc == 0) rc = spate_text_uint(b, i);
        if (rc == 0) rc = spate_text_add(b, ",", 1);
        if (rc == 0) rc = spate_text_uint(b, h->counts[i]);
        if (rc == 0) rc = spate_text_add(b, "]", 1);
    }
    return rc ? rc : spate_text_add(b, "]}", 2);
}

/* ---- reading ------------------------------------------------------------------------------ */

__extension__ typedef unsigned __int128 u128; /* bounds on sums of up to 2^64 values of 2^42 */

struct rd {
    char *err;
    size_t errlen;
};

static int bad(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct rd *r, const char *fmt, ...)
{
    if (r->err && r->errlen) {
        int k = snprintf(r->err, r->errlen, "histogram: ");
        va_list ap;
        va_start(ap, fmt);
        if (k >= 0 && (size_t)k < r->errlen) vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int field(struct rd *r, const struct spate_json *obj, const char *key, uint64_t *out)
{
    const struct spate_json *v = spate_json_get(obj, key);
    if (!v) return bad(r, "\"%s\" is missing", key);
    int rc = spate_json_u64(v, out);
    if (rc == -ERANGE) return bad(r, "\"%s\" is above 2^64-1", key);
    if (rc) return bad(r, "\"%s\" is not a whole number >= 0", key);
    return 0;
}

static int layout(struct rd *r, const struct spate_json *v)
{
    size_t len;
    const char *unit = spate_json_str(spate_json_get(v, "unit"), &len);
    uint64_t bits, buckets;
    if (!unit) return bad(r, "\"unit\" is missing or not a string");
    if (len != strlen(UNIT) || memcmp(unit, UNIT, len))
        return bad(r, "unit \"%.20s\" is not \"" UNIT "\" (a report of another layout)", unit);
    if (field(r, v, "sub_bucket_bits", &bits) || field(r, v, "bucket_count", &buckets))
        return -EINVAL;
    if (bits != SPATE_HIST_SUB_BITS || buckets != SPATE_HIST_BUCKETS)
        return bad(r,
                   "layout sub_bucket_bits %llu, bucket_count %llu is not this spate's (%u, %u): "
                   "a report of another histogram layout cannot be merged",
                   (unsigned long long)bits, (unsigned long long)buckets,
                   (unsigned)SPATE_HIST_SUB_BITS, (unsigned)SPATE_HIST_BUCKETS);
    return 0;
}

/* One [index, count] pair; prev is the previous index (-1 before the first). */
static int pair(struct rd *r, const struct spate_json *p, size_t k, long prev, unsigned *idx,
                uint64_t *cnt)
{
    uint64_t i, c;
    if (spate_json_type(p) != SPATE_JSON_ARRAY || spate_json_count(p) != 2)
        return bad(r, "counts[%zu] is not an [index, count] pair", k);
    if (spate_json_u64(spate_json_at(p, 0, NULL), &i) ||
        spate_json_u64(spate_json_at(p, 1, NULL), &c))
        return bad(r, "counts[%zu]: index and count must be whole numbers >= 0", k);
    if (i >= SPATE_HIST_LEN)
        return bad(r, "counts[%zu]: index %llu is beyond the layout's %u buckets", k,
                   (unsigned long long)i, (unsigned)SPATE_HIST_LEN);
    if ((long)i <= prev)
        return bad(r, "counts[%zu]: index %llu does not follow index %ld (must increase)", k,
                   (unsigned long long)i, prev);
    if (!c) return bad(r, "counts[%zu]: count 0 (only non-zero buckets are listed)", k);
    *idx = (unsigned)i;
    *cnt = c;
    return 0;
}

/* Fills h->counts from the pairs; checks that they add up to h->count without overflow. */
static int buckets(struct rd *r, const struct spate_json *v, struct spate_hist *h, unsigned *first,
                   unsigned *last)
{
    const struct spate_json *a = spate_json_get(v, "counts");
    if (!a || spate_json_type(a) != SPATE_JSON_ARRAY)
        return bad(r, "\"counts\" is missing or not an array");
    long prev = -1;
    uint64_t total = 0;
    for (size_t k = 0; k < spate_json_count(a); k++) {
        unsigned i = 0;
        uint64_t c = 0;
        if (pair(r, spate_json_at(a, k, NULL), k, prev, &i, &c)) return -EINVAL;
        if (c > UINT64_MAX - total) return bad(r, "the bucket counts add up beyond 2^64-1");
        total += c;
        h->counts[i] = c;
        if (prev < 0) *first = i;
        *last = i;
        prev = (long)i;
    }
    if (total != h->count)
        return bad(r, "the bucket counts add up to %llu, not count %llu", (unsigned long long)total,
                   (unsigned long long)h->count);
    return 0;
}

/* min, max, clamped and sum against the buckets (h->count > 0). */
static int extremes(struct rd *r, const struct spate_hist *h, unsigned first, unsigned last)
{
    const unsigned top = SPATE_HIST_LEN - 1;
    uint64_t lo = h->min > SPATE_HIST_TOP ? SPATE_HIST_TOP : h->min;
    uint64_t hi = h->max > SPATE_HIST_TOP ? SPATE_HIST_TOP : h->max;
    if (h->min > h->max)
        return bad(r, "min %llu is above max %llu", (unsigned long long)h->min,
                   (unsigned long long)h->max);
    if (spate_hist_index(lo) != first)
        return bad(r, "min %llu is not in the first bucket (index %u)", (unsigned long long)h->min,
                   first);
    if (spate_hist_index(hi) != last)
        return bad(r, "max %llu is not in the last bucket (index %u)", (unsigned long long)h->max,
                   last);
    if (h->clamped > h->counts[top] || (h->clamped > 0) != (h->max > SPATE_HIST_TOP) ||
        (h->min > SPATE_HIST_TOP && h->clamped != h->count))
        return bad(r, "clamped %llu does not fit max %llu and the top bucket's %llu",
                   (unsigned long long)h->clamped, (unsigned long long)h->max,
                   (unsigned long long)h->counts[top]);
    u128 smin = 0, smax = 0;
    for (unsigned i = first; i <= last; i++) {
        smin += (u128)spate_hist_bucket_lowest(i) * h->counts[i];
        smax += (u128)spate_hist_bucket_highest(i) * h->counts[i];
    }
    if (h->sum < smin || h->sum > smax)
        return bad(r, "sum %llu is outside what the buckets allow", (unsigned long long)h->sum);
    return 0;
}

int spate_hist_read_json(struct spate_hist *h, const struct spate_json *v, char *err, size_t errlen)
{
    struct rd r = {err, errlen};
    unsigned first = 0, last = 0;
    if (err && errlen) err[0] = '\0';
    spate_hist_init(h);
    if (!v || spate_json_type(v) != SPATE_JSON_OBJECT) return bad(&r, "not a JSON object");
    if (layout(&r, v) || field(&r, v, "count", &h->count) || field(&r, v, "min", &h->min) ||
        field(&r, v, "max", &h->max) || field(&r, v, "sum", &h->sum) ||
        field(&r, v, "clamped", &h->clamped) || buckets(&r, v, h, &first, &last))
        goto fail;
    if (!h->count) {
        if (h->min || h->max || h->sum || h->clamped) {
            bad(&r, "an empty histogram must have min, max, sum and clamped 0");
            goto fail;
        }
        h->min = UINT64_MAX; /* the struct's empty state */
        return 0;
    }
    if (extremes(&r, h, first, last)) goto fail;
    return 0;
fail:
    spate_hist_init(h); /* never half a histogram */
    return -EINVAL;
}
