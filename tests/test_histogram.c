/* Unit tests for cli/histogram: percentiles against exact sorted arrays on seeded random data,
 * the error bound across the whole range, merge, clamping, the HdrHistogram text output, and the
 * JSON form of reports: serialized, parsed and merged histograms equal one histogram of all the
 * values; corrupt or other-layout JSON is refused with a message naming the problem. */
#include "text.h"
#include "histogram.h"
#include "json.h"
#include "tap.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N 200000

static uint64_t rng_state;

/* splitmix64: fixed seeds give the same data on every run and platform. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double unit_rand(void)
{
    return (double)(rng() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double rel_err(uint64_t got, uint64_t want)
{
    if (got == want) return 0.0;
    double d = (double)got - (double)want;
    return fabs(d) / (double)(want ? want : 1);
}

/* Percentiles in hundredths of a percent, so the exact rank is integer arithmetic. */
static const unsigned pct_bp[] = {5000, 9000, 9900, 9990, 9999, 10000};

/* Records v[0..n) and checks percentiles, extremes, mean and stdev against the sorted data. */
static void check_against_exact(const char *name, uint64_t *v, size_t n)
{
    static struct spate_hist h;
    spate_hist_init(&h);
    long double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        spate_hist_record(&h, v[i]);
        sum += v[i];
    }
    long double mean = sum / n;
    for (size_t i = 0; i < n; i++)
        sq += ((long double)v[i] - mean) * ((long double)v[i] - mean);
    double stdev = (double)sqrtl(sq / n);
    qsort(v, n, sizeof(*v), cmp_u64);

    double worst = 0;
    int pass = 1;
    for (size_t k = 0; k < sizeof(pct_bp) / sizeof(pct_bp[0]); k++) {
        size_t rank = (size_t)(((uint64_t)pct_bp[k] * n + 9999) / 10000);
        uint64_t want = v[rank - 1], got = spate_hist_percentile(&h, pct_bp[k] / 100.0);
        double e = rel_err(got, want);
        if (e > worst) worst = e;
        if (e > 0.01) {
            pass = 0;
            diag("%s p%g: got %llu, exact %llu (%.3f%%)", name, pct_bp[k] / 100.0,
                 (unsigned long long)got, (unsigned long long)want, e * 100);
        }
    }
    ok(pass, "%s: p50 p90 p99 p99.9 p99.99 max within 1%% (worst %.3f%%)", name, worst * 100);
    ok(spate_hist_min(&h) == v[0] && spate_hist_max(&h) == v[n - 1] && h.count == n &&
           spate_hist_percentile(&h, 0) == v[0] && spate_hist_percentile(&h, 100) == v[n - 1],
       "%s: min, max, p0, p100 and count exact", name);
    double em = fabs(spate_hist_mean(&h) - (double)mean) / (double)mean;
    double es = fabs(spate_hist_stdev(&h) - stdev) / stdev;
    ok(em < 1e-9 && es < 0.01, "%s: mean exact (%.2g), stdev within 1%% (%.3f%%)", name, em,
       es * 100);
}

static void test_empty(void)
{
    static struct spate_hist h;
    spate_hist_init(&h);
    ok(h.count == 0 && spate_hist_percentile(&h, 50) == 0 && spate_hist_min(&h) == 0 &&
           spate_hist_max(&h) == 0 && spate_hist_mean(&h) == 0 && spate_hist_stdev(&h) == 0,
       "empty histogram reports zeros");
}

/* Below 256 ns every value has its own bucket. */
static void test_small_exact(void)
{
    static struct spate_hist h;
    spate_hist_init(&h);
    for (uint64_t v = 0; v < 256; v++)
        spate_hist_record(&h, v);
    int pass = 1;
    for (unsigned r = 1; r <= 256; r++) /* p = r/256 selects rank r */
        if (spate_hist_percentile(&h, r * 100.0 / 256) != r - 1) pass = 0;
    ok(pass, "values 0..255 are exact at every rank");
    ok(spate_hist_percentile(&h, 0) == 0 && spate_hist_percentile(&h, 100) == 255 &&
           spate_hist_percentile(&h, -5) == 0 && spate_hist_percentile(&h, 250) == 255,
       "p0 is min, p100 is max, p outside [0,100] is clamped");
}

/* Representative of a lone value's bucket: record v twice between two far extremes so that the
 * [min, max] limit does not hide the bucket's midpoint, then ask for rank 2. */
static uint64_t rep_of(struct spate_hist *h, uint64_t v)
{
    spate_hist_init(h);
    spate_hist_record(h, 0);
    spate_hist_record(h, v);
    spate_hist_record(h, v);
    spate_hist_record(h, SPATE_HIST_TOP);
    return spate_hist_percentile(h, 50);
}

static void test_error_bound(void)
{
    static struct spate_hist h;
    double worst = 0;
    int pass = 1;
    for (double x = 1000; x <= 3.6e12; x *= 1.0007) {
        uint64_t v = (uint64_t)x;
        double e = rel_err(rep_of(&h, v), v);
        if (e > worst) worst = e;
        if (e > 0.01) pass = 0;
    }
    for (unsigned k = 10; k < 42; k++) /* both sides of every power-of-two range edge */
        for (int d = -1; d <= 1; d++) {
            uint64_t v = (UINT64_C(1) << k) + (uint64_t)(int64_t)d;
            double e = rel_err(rep_of(&h, v), v);
            if (e > worst) worst = e;
            if (e > 0.01) pass = 0;
        }
    ok(pass && worst <= 1.0 / 256, "1 us .. 1 h: relative error <= 1%% (worst %.4f%%)",
       worst * 100);

    uint64_t worst_abs = 0;
    for (uint64_t v = 0; v < 1000; v++) {
        uint64_t r = rep_of(&h, v), d = r > v ? r - v : v - r;
        if (d > worst_abs) worst_abs = d;
    }
    ok(worst_abs <= 10, "below 1 us: absolute error <= 10 ns (worst %llu ns)",
       (unsigned long long)worst_abs);
}

static void test_distributions(uint64_t *v)
{
    rng_state = 1; /* uniform over 0..100 ms */
    for (size_t i = 0; i < N; i++)
        v[i] = rng() % 100000000;
    check_against_exact("uniform 0..100ms", v, N);

    rng_state = 2; /* log-uniform over 1 us .. 1 h */
    for (size_t i = 0; i < N; i++)
        v[i] = (uint64_t)(1000.0 * exp(unit_rand() * log(3.6e12 / 1000.0)));
    check_against_exact("log-uniform 1us..1h", v, N);

    rng_state = 3; /* bimodal: 90% near 200 us, 10% near 50 ms (a slow path), bell-shaped modes */
    for (size_t i = 0; i < N; i++) {
        double bell = (unit_rand() + unit_rand() + unit_rand()) / 3.0 - 0.5;
        v[i] = rng() % 10 ? (uint64_t)(200000 * (1 + bell)) : (uint64_t)(50000000 * (1 + bell));
    }
    check_against_exact("bimodal 200us/50ms", v, N);

    rng_state = 4; /* sub-microsecond values */
    for (size_t i = 0; i < N; i++)
        v[i] = 1 + rng() % 999;
    check_against_exact("uniform 1..999ns", v, N);
}

static void test_merge(void)
{
    static struct spate_hist a, b, all;
    spate_hist_init(&a);
    spate_hist_init(&b);
    spate_hist_init(&all);
    rng_state = 5;
    for (size_t i = 0; i < N; i++) {
        uint64_t x = (uint64_t)(1000.0 * exp(unit_rand() * log(1e10)));
        spate_hist_record(i % 3 ? &a : &b, x);
        spate_hist_record(&all, x);
    }
    spate_hist_record(&b, UINT64_C(1) << 50); /* a clamped value travels too */
    spate_hist_record(&all, UINT64_C(1) << 50);
    spate_hist_merge(&a, &b);
    ok(memcmp(a.counts, all.counts, sizeof(a.counts)) == 0, "merge: bucket-for-bucket equal");
    ok(a.count == all.count && a.min == all.min && a.max == all.max && a.sum == all.sum &&
           a.clamped == all.clamped && memcmp(&a, &all, sizeof(a)) == 0,
       "merge: count, min, max, sum, clamped equal");
    static struct spate_hist empty;
    spate_hist_init(&empty);
    spate_hist_merge(&a, &empty);
    spate_hist_merge(&empty, &all);
    ok(memcmp(&a, &all, sizeof(a)) == 0 && memcmp(&empty, &all, sizeof(a)) == 0,
       "merge with an empty histogram is the identity, both ways");
}

static void test_clamp(void)
{
    static struct spate_hist h;
    spate_hist_init(&h);
    spate_hist_record(&h, 5000);
    spate_hist_record(&h, SPATE_HIST_TOP); /* the top itself is in range */
    spate_hist_record(&h, SPATE_HIST_TOP + 1);
    spate_hist_record(&h, UINT64_C(10000000000000));
    spate_hist_record(&h, UINT64_MAX);
    ok(h.clamped == 3 && h.count == 5, "values above the top are counted as clamped (%llu)",
       (unsigned long long)h.clamped);
    ok(spate_hist_max(&h) == UINT64_MAX && spate_hist_min(&h) == 5000,
       "max stays exact for a clamped value");
    uint64_t p = spate_hist_percentile(&h, 80); /* rank 4 of 5: a clamped value */
    ok(p <= SPATE_HIST_TOP && rel_err(p, SPATE_HIST_TOP) < 0.01 &&
           h.counts[SPATE_HIST_LEN - 1] == 4,
       "clamped values land in the top bucket (p80 %llu)", (unsigned long long)p);
    ok(SPATE_HIST_TOP >= UINT64_C(3600000000000), "range reaches at least 1 hour (%.1f min)",
       (double)SPATE_HIST_TOP / 6e10);
}

struct hgrm {
    int header, data_lines, monotonic, last_is_one, footer;
    double last_value, mean, stdev, max;
    unsigned long long last_count, total;
};

/* Parses the .hgrm text the way HdrHistogram's plotters do: header, blank line, rows of
 * value/percentile/count[/inverse], "#[" footer lines. */
static void parse_hgrm(FILE *f, struct hgrm *r)
{
    char line[256], a[32], b[32], c[32], d[32];
    double prev_v = -1, prev_p = -1;
    unsigned long long prev_c = 0;
    memset(r, 0, sizeof(*r));
    r->monotonic = 1;
    rewind(f);
    if (fgets(line, sizeof(line), f) && sscanf(line, "%31s %31s %31s %31s", a, b, c, d) == 4 &&
        !strcmp(a, "Value") && !strcmp(b, "Percentile") && !strcmp(c, "TotalCount") &&
        !strcmp(d, "1/(1-Percentile)"))
        r->header = 1;
    if (!fgets(line, sizeof(line), f) || strcmp(line, "\n") != 0) r->header = 0;
    while (fgets(line, sizeof(line), f)) {
        double v, p, inv;
        unsigned long long cnt;
        if (!strncmp(line, "#[Mean", 6)) {
            r->footer +=
                sscanf(line, "#[Mean = %lf, StdDeviation = %lf]", &r->mean, &r->stdev) == 2;
            continue;
        }
        if (!strncmp(line, "#[Max", 5)) {
            r->footer += sscanf(line, "#[Max = %lf, Total count = %llu]", &r->max, &r->total) == 2;
            continue;
        }
        if (!strncmp(line, "#[Buckets", 9)) {
            int bk, sb;
            r->footer += sscanf(line, "#[Buckets = %d, SubBuckets = %d]", &bk, &sb) == 2;
            continue;
        }
        int got = sscanf(line, "%lf %lf %llu %lf", &v, &p, &cnt, &inv);
        if (got < 3) {
            r->monotonic = 0; /* unexpected line */
            continue;
        }
        r->data_lines++;
        if (v < prev_v || p <= prev_p || cnt < prev_c) r->monotonic = 0;
        if (got == 4 && fabs(inv - 1.0 / (1.0 - p)) > 0.01 * inv + 0.01) r->monotonic = 0;
        r->last_is_one = got == 3 && p == 1.0;
        prev_v = v, prev_p = p, prev_c = cnt;
        r->last_value = v, r->last_count = cnt;
    }
}

static void test_hgrm(uint64_t *v)
{
    static struct spate_hist h;
    spate_hist_init(&h);
    rng_state = 6; /* log-uniform 10 us .. 1 s */
    for (size_t i = 0; i < N; i++) {
        v[i] = (uint64_t)(10000.0 * exp(unit_rand() * log(1e5)));
        spate_hist_record(&h, v[i]);
    }
    FILE *f = tmpfile();
    if (!f) {
        ok(0, "tmpfile: %s", strerror(errno));
        return;
    }
    ok(spate_hist_write_hdr(&h, f, 1e6) == 0, "write_hdr returns 0");
    struct hgrm r;
    parse_hgrm(f, &r);
    ok(r.header, "hgrm: header line then a blank line");
    ok(r.data_lines > 50 && r.monotonic, "hgrm: %d rows, increasing percentiles and counts",
       r.data_lines);
    ok(r.last_is_one && r.last_count == N && fabs(r.last_value - h.max / 1e6) < 1e-6,
       "hgrm: last row is percentile 1.0 at the max with the total count");
    ok(r.footer == 3 && r.total == N && fabs(r.max - h.max / 1e6) < 1e-6 &&
           fabs(r.mean - spate_hist_mean(&h) / 1e6) < 1e-5 &&
           fabs(r.stdev - spate_hist_stdev(&h) / 1e6) < 1e-5,
       "hgrm: Mean/StdDeviation, Max/Total count and Buckets footer lines");
    fclose(f);

    static struct spate_hist e;
    spate_hist_init(&e);
    f = tmpfile();
    if (f) {
        int rc = spate_hist_write_hdr(&e, f, 1e6);
        parse_hgrm(f, &r);
        ok(rc == 0 && r.header && r.data_lines == 0 && r.footer == 3 && r.total == 0,
           "hgrm: an empty histogram gives the header and footer only");
        fclose(f);
    } else {
        ok(0, "tmpfile: %s", strerror(errno));
    }

    f = fopen("/dev/full", "w");
    if (f) {
        int rc = spate_hist_write_hdr(&h, f, 1e6);
        ok(rc == -ENOSPC, "write_hdr to a full device returns -ENOSPC (%d)", rc);
        fclose(f);
    } else {
        ok(1, "# SKIP no /dev/full");
    }
}

/* ---- the JSON form ----------------------------------------------------------------------------
 */

/* Serializes h; the caller frees b. */
static int to_json(const struct spate_hist *h, struct spate_text *b)
{
    spate_text_init(b);
    return spate_hist_write_json(b, h);
}

/* Parses text into h; 0 or the error, message in err. */
static int from_json(const char *text, size_t n, struct spate_hist *h, char *err, size_t errlen)
{
    struct spate_json *v;
    int rc = spate_json_parse(text, n, &v, err, errlen);
    if (rc) return rc;
    rc = spate_hist_read_json(h, v, err, errlen);
    spate_json_free(v);
    return rc;
}

static void test_json_shape(void)
{
    static struct spate_hist h, back;
    struct spate_text b;
    char err[256];
    spate_hist_init(&h);
    spate_hist_record(&h, 1200);
    spate_hist_record(&h, 1200);
    spate_hist_record(&h, 98000);
    to_json(&h, &b);
    /* 1200 ns: b = 10 - 7 = 3, index 3*128 + (1200 >> 3) = 534; 98000 ns: b = 9, 9*128 + 191 */
    static const char want[] =
        "{\"unit\":\"ns\",\"sub_bucket_bits\":8,\"bucket_count\":35,\"count\":3,\"min\":1200,"
        "\"max\":98000,\"sum\":100400,\"clamped\":0,\"counts\":[[534,2],[1343,1]]}";
    is_mem(b.s, b.len, want, sizeof(want) - 1, "JSON form of {1200, 1200, 98000} ns: %.*s",
           (int)b.len, b.s);
    ok(spate_hist_index(1200) == 534 && spate_hist_bucket_lowest(534) == 1200 &&
           spate_hist_bucket_highest(534) == 1207 && spate_hist_index(98000) == 1343 &&
           spate_hist_bucket_lowest(1343) == 97792 && spate_hist_bucket_highest(1343) == 98303 &&
           spate_hist_index(255) == 255 && spate_hist_bucket_highest(255) == 255 &&
           spate_hist_bucket_highest(SPATE_HIST_LEN - 1) == SPATE_HIST_TOP,
       "bucket index, lowest and highest values (534: 1200..1207, 1343: 97792..98303)");
    int rc = from_json(b.s, b.len, &back, err, sizeof(err));
    ok(rc == 0 && memcmp(&back, &h, sizeof(h)) == 0, "it reads back to the same histogram (%s)",
       rc ? err : "ok");
    spate_text_fini(&b);

    spate_hist_init(&h);
    to_json(&h, &b);
    rc = from_json(b.s, b.len, &back, err, sizeof(err));
    ok(rc == 0 && memcmp(&back, &h, sizeof(h)) == 0 && strstr(b.s, "\"min\":0,\"max\":0") &&
           strstr(b.s, "\"counts\":[]}"),
       "an empty histogram: min and max 0, no counts; reads back to the empty state (%s)",
       rc ? err : "ok");
    spate_text_fini(&b);

    spate_hist_init(&h);
    spate_hist_record(&h, 77);
    spate_hist_record(&h, SPATE_HIST_TOP + 5);
    spate_hist_record(&h, UINT64_MAX);
    to_json(&h, &b);
    rc = from_json(b.s, b.len, &back, err, sizeof(err));
    ok(rc == 0 && memcmp(&back, &h, sizeof(h)) == 0 && back.clamped == 2 && back.max == UINT64_MAX,
       "clamped values and a max of 2^64-1 read back exactly (%s)", rc ? err : "ok");
    spate_text_fini(&b);
}

static int same_figures(const struct spate_hist *a, const struct spate_hist *b)
{
    static const double ps[] = {0, 50, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        if (spate_hist_percentile(a, ps[i]) != spate_hist_percentile(b, ps[i])) return 0;
    return a->count == b->count && a->sum == b->sum && a->clamped == b->clamped &&
           spate_hist_min(a) == spate_hist_min(b) && spate_hist_max(a) == spate_hist_max(b) &&
           spate_hist_mean(a) == spate_hist_mean(b) && spate_hist_stdev(a) == spate_hist_stdev(b);
}

/* Two workers' latency sets, each serialized as a report would carry it, parsed and merged: the
 * same figures as one histogram of all values, and within 1% of the exact sorted union. */
static void test_json_merge(uint64_t *v)
{
    static struct spate_hist a, b, all, ra, rb;
    spate_hist_init(&a);
    spate_hist_init(&b);
    spate_hist_init(&all);
    rng_state = 7;
    for (size_t i = 0; i < N; i++) {
        double bell = (unit_rand() + unit_rand() + unit_rand()) / 3.0 - 0.5;
        /* worker a: a fast server around 300 us; worker b: log-uniform 1 ms .. 2 s */
        v[i] = i % 2 ? (uint64_t)(300000 * (1 + bell))
                     : (uint64_t)(1e6 * exp(unit_rand() * log(2000.0)));
        spate_hist_record(i % 2 ? &a : &b, v[i]);
        spate_hist_record(&all, v[i]);
    }
    struct spate_text ja, jb, jm, jall;
    char err[256];
    to_json(&a, &ja);
    to_json(&b, &jb);
    int rc = from_json(ja.s, ja.len, &ra, err, sizeof(err));
    if (!rc) rc = from_json(jb.s, jb.len, &rb, err, sizeof(err));
    ok(rc == 0, "both reports' histograms parse (%s; %zu and %zu bytes for %d values each)",
       rc ? err : "ok", ja.len, jb.len, N / 2);
    spate_hist_merge(&ra, &rb);
    ok(memcmp(&ra, &all, sizeof(all)) == 0, "parsed and merged: bucket for bucket the histogram of "
                                            "all values");
    ok(same_figures(&ra, &all), "parsed and merged: the same min, p50, p90, p99, p99.9, p99.99, "
                                "max, mean, stdev, count and sum as one histogram of all values");
    to_json(&ra, &jm);
    to_json(&all, &jall);
    is_mem(jm.s, jm.len, jall.s, jall.len, "the merged JSON is byte for byte that of all values");
    qsort(v, N, sizeof(*v), cmp_u64);
    int within = 1;
    for (size_t k = 0; k < sizeof(pct_bp) / sizeof(pct_bp[0]); k++) {
        size_t rank = (size_t)(((uint64_t)pct_bp[k] * N + 9999) / 10000);
        if (rel_err(spate_hist_percentile(&ra, pct_bp[k] / 100.0), v[rank - 1]) > 0.01) within = 0;
    }
    ok(within, "the merged percentiles are within 1%% of the exact sorted union's");
    spate_text_fini(&ja);
    spate_text_fini(&jb);
    spate_text_fini(&jm);
    spate_text_fini(&jall);
}

#define LAYOUT "\"unit\":\"ns\",\"sub_bucket_bits\":8,\"bucket_count\":35,"
#define FIGS "\"count\":3,\"min\":1200,\"max\":98000,\"sum\":100400,\"clamped\":0,"
#define COUNTS "\"counts\":[[534,2],[1343,1]]"

static const struct {
    const char *json, *why;
} corrupt[] = {
    {"[1,2]", "histogram: not a JSON object"},
    {"{" FIGS COUNTS "}", "histogram: \"unit\" is missing or not a string"},
    {"{\"unit\":\"us\",\"sub_bucket_bits\":8,\"bucket_count\":35," FIGS COUNTS "}",
     "unit \"us\" is not \"ns\" (a report of another layout)"},
    {"{\"unit\":\"ns\",\"sub_bucket_bits\":7,\"bucket_count\":35," FIGS COUNTS "}",
     "layout sub_bucket_bits 7, bucket_count 35 is not this spate's (8, 35): a report of another "
     "histogram layout cannot be merged"},
    {"{\"unit\":\"ns\",\"sub_bucket_bits\":8,\"bucket_count\":36," FIGS COUNTS "}",
     "bucket_count 36 is not this spate's"},
    {"{\"unit\":\"ns\",\"bucket_count\":35," FIGS COUNTS "}", "\"sub_bucket_bits\" is missing"},
    {"{" LAYOUT "\"min\":1200,\"max\":98000,\"sum\":100400,\"clamped\":0," COUNTS "}",
     "\"count\" is missing"},
    {"{" LAYOUT "\"count\":-3,\"min\":1200,\"max\":98000,\"sum\":100400,\"clamped\":0," COUNTS "}",
     "\"count\" is not a whole number >= 0"},
    {"{" LAYOUT "\"count\":3.0,\"min\":1200,\"max\":98000,\"sum\":100400,\"clamped\":0," COUNTS "}",
     "\"count\" is not a whole number"},
    {"{" LAYOUT "\"count\":3,\"min\":1200,\"max\":98000,\"sum\":1.004e5,\"clamped\":0," COUNTS "}",
     "\"sum\" is not a whole number"},
    {"{" LAYOUT "\"count\":\"3\",\"min\":1200,\"max\":98000,\"sum\":100400,\"clamped\":0," COUNTS
     "}",
     "\"count\" is not a whole number"},
    {"{" LAYOUT "\"count\":18446744073709551616,\"min\":1200,\"max\":98000,\"sum\":100400,"
     "\"clamped\":0," COUNTS "}",
     "\"count\" is above 2^64-1"},
    {"{" LAYOUT FIGS "\"counts\":{}}", "\"counts\" is missing or not an array"},
    {"{" LAYOUT FIGS "\"counts\":[[534,2],[1343]]}", "counts[1] is not an [index, count] pair"},
    {"{" LAYOUT FIGS "\"counts\":[[534,2],[1343,1,0]]}", "counts[1] is not an [index, count] pair"},
    {"{" LAYOUT FIGS "\"counts\":[[534,2],[-1343,1]]}",
     "counts[1]: index and count must be whole numbers >= 0"},
    {"{" LAYOUT FIGS "\"counts\":[[534,2],[4608,1]]}",
     "counts[1]: index 4608 is beyond the layout's 4608 buckets"},
    {"{" LAYOUT FIGS "\"counts\":[[1343,1],[534,2]]}",
     "counts[1]: index 534 does not follow index 1343 (must increase)"},
    {"{" LAYOUT FIGS "\"counts\":[[534,1],[534,1],[1343,1]]}",
     "counts[1]: index 534 does not follow index 534"},
    {"{" LAYOUT FIGS "\"counts\":[[534,3],[1000,0],[1343,1]]}", "counts[1]: count 0"},
    {"{" LAYOUT FIGS "\"counts\":[[534,2],[1343,2]]}",
     "the bucket counts add up to 4, not count 3"},
    {"{" LAYOUT FIGS "\"counts\":[[534,18446744073709551615],[1343,1]]}",
     "the bucket counts add up beyond 2^64-1"},
    {"{" LAYOUT "\"count\":3,\"min\":1300,\"max\":98000,\"sum\":100400,\"clamped\":0," COUNTS "}",
     "min 1300 is not in the first bucket (index 534)"},
    {"{" LAYOUT "\"count\":3,\"min\":1200,\"max\":99000,\"sum\":100400,\"clamped\":0," COUNTS "}",
     "max 99000 is not in the last bucket (index 1343)"},
    {"{" LAYOUT "\"count\":3,\"min\":1200,\"max\":1100,\"sum\":100400,\"clamped\":0," COUNTS "}",
     "min 1200 is above max 1100"},
    {"{" LAYOUT "\"count\":3,\"min\":1200,\"max\":98000,\"sum\":999999,\"clamped\":0," COUNTS "}",
     "sum 999999 is outside what the buckets allow"},
    {"{" LAYOUT "\"count\":3,\"min\":1200,\"max\":98000,\"sum\":99000,\"clamped\":0," COUNTS "}",
     "sum 99000 is outside what the buckets allow"},
    {"{" LAYOUT "\"count\":3,\"min\":1200,\"max\":98000,\"sum\":100400,\"clamped\":1," COUNTS "}",
     "clamped 1 does not fit max 98000 and the top bucket's 0"},
    {"{" LAYOUT "\"count\":0,\"min\":5,\"max\":0,\"sum\":0,\"clamped\":0,\"counts\":[]}",
     "an empty histogram must have min, max, sum and clamped 0"},
};

static void test_json_corrupt(void)
{
    int pass = 1;
    for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
        static struct spate_hist h;
        char err[256];
        int rc = from_json(corrupt[i].json, strlen(corrupt[i].json), &h, err, sizeof(err));
        if (rc != -EINVAL || !strstr(err, corrupt[i].why) || h.count || h.counts[534]) {
            pass = 0;
            diag("case %zu: rc %d, message '%s', want '%s'", i, rc, err, corrupt[i].why);
        }
    }
    ok(pass,
       "%zu corrupt or other-layout histograms refused, each with a message naming the field "
       "and leaving the histogram empty",
       sizeof(corrupt) / sizeof(corrupt[0]));
    static struct spate_hist h;
    char err[256];
    static const char good[] = "{" LAYOUT FIGS COUNTS ",\"later\":[1]}";
    int rc = from_json(good, sizeof(good) - 1, &h, err, sizeof(err));
    ok(rc == 0 && h.count == 3 && h.counts[534] == 2,
       "the valid base of those cases reads (an unknown member is ignored) (%s)", rc ? err : "ok");
    rc = from_json(good, sizeof(good) - 30, &h, err, sizeof(err));
    ok(rc == -EINVAL && strstr(err, "at byte"), "a truncated report is a JSON error (%s)", err);
}

int main(void)
{
    uint64_t *v = malloc(N * sizeof(*v));
    if (!v) return 1;
    plan(31 + 13);
    diag("sizeof(struct spate_hist) = %zu bytes, %u counters, top %llu ns",
         sizeof(struct spate_hist), (unsigned)SPATE_HIST_LEN, (unsigned long long)SPATE_HIST_TOP);
    test_empty();
    test_small_exact();
    test_error_bound();
    test_distributions(v);
    test_merge();
    test_clamp();
    test_hgrm(v);
    test_json_shape();
    test_json_merge(v);
    test_json_corrupt();
    free(v);
    return done();
}
