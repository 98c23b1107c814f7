/* Latency histogram: log-linear buckets (HdrHistogram's layout), percentiles, and the .hgrm text
 * output that HdrHistogram's plotters read. */
#include "histogram.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define HALF_BITS (SPATE_HIST_SUB_BITS - 1)

/* Number of leading zero bits; v is never 0 here (callers OR in the sub-bucket mask). */
static inline unsigned clz64(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_clzll(v);
#else
    unsigned n = 0;
    if (!(v >> 32)) n += 32, v <<= 32;
    if (!(v >> 48)) n += 16, v <<= 16;
    if (!(v >> 56)) n += 8, v <<= 8;
    if (!(v >> 60)) n += 4, v <<= 4;
    if (!(v >> 62)) n += 2, v <<= 2;
    if (!(v >> 63)) n += 1;
    return n;
#endif
}

/* Power-of-two range b is 0 for v < 256; the sub-bucket v >> b is then in [128, 256), so the
 * ranges tile the array without gaps: index = b * 128 + (v >> b). */
static inline unsigned index_of(uint64_t v)
{
    unsigned b = 64 - SPATE_HIST_SUB_BITS - clz64(v | (SPATE_HIST_SUB_COUNT - 1));
    return (b << HALF_BITS) + (unsigned)(v >> b);
}

unsigned spate_hist_index(uint64_t v)
{
    return index_of(v);
}

static uint64_t lowest_of(unsigned i)
{
    if (i < SPATE_HIST_SUB_COUNT) return i;
    unsigned b = (i >> HALF_BITS) - 1;
    return (uint64_t)((i & (SPATE_HIST_HALF_COUNT - 1)) + SPATE_HIST_HALF_COUNT) << b;
}

static uint64_t width_of(unsigned i)
{
    return i < SPATE_HIST_SUB_COUNT ? 1 : UINT64_C(1) << ((i >> HALF_BITS) - 1);
}

uint64_t spate_hist_bucket_lowest(unsigned i)
{
    return lowest_of(i);
}

uint64_t spate_hist_bucket_highest(unsigned i)
{
    return lowest_of(i) + width_of(i) - 1;
}

/* The midpoint minimises the worst-case error; clamping to [min, max] only moves it toward the
 * true value. The extreme ranks are reported as the exact min and max by the callers. */
static uint64_t value_of(const struct spate_hist *h, unsigned i)
{
    uint64_t v = lowest_of(i) + width_of(i) / 2;
    if (v < h->min) v = h->min;
    if (v > h->max) v = h->max;
    return v;
}

void spate_hist_init(struct spate_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void spate_hist_record(struct spate_hist *h, uint64_t v)
{
    uint64_t r = v;
    if (r > SPATE_HIST_TOP) {
        r = SPATE_HIST_TOP;
        h->clamped++;
    }
    h->counts[index_of(r)]++;
    h->count++;
    h->sum += r;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

void spate_hist_merge(struct spate_hist *dst, const struct spate_hist *src)
{
    for (unsigned i = 0; i < SPATE_HIST_LEN; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

/* ceil(p/100 * count), tolerating the rounding of p/100 (99.9 is not exact in binary). */
static uint64_t rank_of(double p, uint64_t count)
{
    if (!(p > 0)) return 1; /* also NaN */
    if (p >= 100) return count;
    double x = p / 100.0 * (double)count;
    uint64_t r = (uint64_t)x;
    if ((double)r < x - x * 1e-12) r++;
    if (r < 1) r = 1;
    return r > count ? count : r;
}

uint64_t spate_hist_percentile(const struct spate_hist *h, double p)
{
    if (!h->count) return 0;
    uint64_t rank = rank_of(p, h->count), seen = 0;
    if (rank == 1) return h->min;
    if (rank == h->count) return h->max;
    for (unsigned i = 0; i < SPATE_HIST_LEN; i++) {
        seen += h->counts[i];
        if (seen >= rank) return value_of(h, i);
    }
    return h->max; /* not reached: the counts sum to count */
}

double spate_hist_mean(const struct spate_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

double spate_hist_stdev(const struct spate_hist *h)
{
    if (!h->count) return 0.0;
    double mean = spate_hist_mean(h), acc = 0.0;
    for (unsigned i = 0; i < SPATE_HIST_LEN; i++) {
        if (!h->counts[i]) continue;
        double d = (double)value_of(h, i) - mean;
        acc += d * d * (double)h->counts[i];
    }
    return sqrt(acc / (double)h->count);
}

uint64_t spate_hist_min(const struct spate_hist *h)
{
    return h->count ? h->min : 0;
}
uint64_t spate_hist_max(const struct spate_hist *h)
{
    return h->count ? h->max : 0;
}

/* Enough decimals to show 1 ns in the chosen unit (6 for milliseconds), at most 9. */
static int decimals_for(double unit_ns)
{
    int d = 0;
    for (double u = 1; u < unit_ns && d < 9; u *= 10)
        d++;
    return d;
}

/* HdrHistogram's PercentileIterator step: 5 ticks per halving of the distance to 100%. */
static double next_level(double level)
{
    double halvings = floor(log(100.0 / (100.0 - level)) / log(2.0));
    return level + 100.0 / (5.0 * ldexp(1.0, (int)halvings + 1));
}

static int put_line(FILE *f, int dec, double value, double level, uint64_t cum)
{
    double frac = level / 100.0;
    if (level >= 100.0)
        return fprintf(f, "%12.*f %2.12f %10llu\n", dec, value, frac, (unsigned long long)cum);
    return fprintf(f, "%12.*f %2.12f %10llu %14.2f\n", dec, value, frac, (unsigned long long)cum,
                   1.0 / (1.0 - frac));
}

/* Same walk as HdrHistogram's outputPercentileDistribution: a bucket prints one line per
 * reporting level it reaches, except the last bucket, which prints one line and then the
 * 100% line. Row values follow spate_hist_percentile: min at 0%, max at 100%. */
static int put_table(const struct spate_hist *h, FILE *f, int dec, double unit)
{
    double level = 0.0;
    uint64_t cum = 0;
    for (unsigned i = 0; i < SPATE_HIST_LEN && cum < h->count; i++) {
        if (!h->counts[i]) continue;
        cum += h->counts[i];
        double pct = 100.0 * (double)cum / (double)h->count;
        while (pct >= level && level < 100.0) {
            uint64_t v = level > 0 ? value_of(h, i) : h->min;
            if (put_line(f, dec, (double)v / unit, level, cum) < 0) return -1;
            level = next_level(level);
            if (cum == h->count) break;
        }
    }
    if (h->count && put_line(f, dec, (double)h->max / unit, 100.0, cum) < 0) return -1;
    return 0;
}

int spate_hist_write_hdr(const struct spate_hist *h, FILE *f, double unit_ns)
{
    double unit = unit_ns > 0 ? unit_ns : 1.0;
    int dec = decimals_for(unit);
    errno = 0;
    if (fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)") < 0 ||
        put_table(h, f, dec, unit) < 0 ||
        fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", dec, spate_hist_mean(h) / unit,
                dec, spate_hist_stdev(h) / unit) < 0 ||
        fprintf(f, "#[Max     = %12.*f, Total count    = %12llu]\n", dec,
                (double)spate_hist_max(h) / unit, (unsigned long long)h->count) < 0 ||
        fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", SPATE_HIST_BUCKETS,
                (int)SPATE_HIST_SUB_COUNT) < 0 ||
        fflush(f) != 0)
        return errno ? -errno : -EIO;
    return ferror(f) ? -EIO : 0;
}
