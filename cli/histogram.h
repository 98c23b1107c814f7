/* Latency histogram: log-linear buckets over uint64 nanoseconds (the HdrHistogram layout with 256
 * sub-buckets), fixed size, O(1) recording with integer ops only, at most 0.4% relative error. */
#ifndef SPATE_HISTOGRAM_H
#define SPATE_HISTOGRAM_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct spate_text;
struct spate_json;

/* Values 0..255 get one bucket each (exact). Above, each power-of-two range [2^k, 2^(k+1)) is cut
 * into 128 equal buckets of width 2^(k-7), so a bucket is at most 1/128 of its lowest value wide
 * and its midpoint is within 1/256 (0.39%) of anything in it. Tracked range: 0 .. SPATE_HIST_TOP ns
 * (2^42 - 1 ns, about 73 minutes); larger values count in the top bucket and in `clamped`. */
#define SPATE_HIST_SUB_BITS 8
#define SPATE_HIST_SUB_COUNT (1u << SPATE_HIST_SUB_BITS) /* 256 */
#define SPATE_HIST_HALF_COUNT (SPATE_HIST_SUB_COUNT / 2) /* 128 */
#define SPATE_HIST_BUCKETS 35                            /* power-of-two ranges */
#define SPATE_HIST_TOP ((UINT64_C(1) << (SPATE_HIST_BUCKETS + SPATE_HIST_SUB_BITS - 1)) - 1)
#define SPATE_HIST_LEN ((SPATE_HIST_BUCKETS + 1) * SPATE_HIST_HALF_COUNT) /* 4608 counters */

/* Plain data: embed it, copy it, merge it. Fields are readable; change them only through the API.
 * sizeof is 36,904 bytes on LP64. */
struct spate_hist {
    uint64_t counts[SPATE_HIST_LEN];
    uint64_t count;   /* values recorded */
    uint64_t clamped; /* of which above SPATE_HIST_TOP */
    uint64_t min;     /* exact; UINT64_MAX while empty */
    uint64_t max;     /* exact, even for clamped values */
    uint64_t sum;     /* sum of the values (clamped ones as SPATE_HIST_TOP): ~584 years to wrap */
};

/* Empties the histogram. */
void spate_hist_init(struct spate_hist *h);

/* Adds one value in ns. No allocation, no floating point, no loop. */
void spate_hist_record(struct spate_hist *h, uint64_t v);

/* Adds every value of src into dst; afterwards dst equals a histogram that recorded both. */
void spate_hist_merge(struct spate_hist *dst, const struct spate_hist *src);

/* The value of rank ceil(p/100 * count) (at least 1) in sorted order, p in [0, 100] (clamped):
 * rank 1 is the exact min and rank count the exact max; other ranks are reported as the midpoint of
 * their bucket limited to [min, max], within 0.4% of the exact sorted-array percentile (values
 * below 256 ns are exact). O(buckets): for reports, not the hot path. 0 when empty. */
uint64_t spate_hist_percentile(const struct spate_hist *h, double p);

/* Mean from the exact sum (exact unless values were clamped); population standard deviation from
 * the bucket midpoints (within 0.4%). 0 when empty. */
double spate_hist_mean(const struct spate_hist *h);
double spate_hist_stdev(const struct spate_hist *h);

/* Exact extremes; 0 when empty. */
uint64_t spate_hist_min(const struct spate_hist *h);
uint64_t spate_hist_max(const struct spate_hist *h);

/* Writes the percentile distribution in HdrHistogram's text (.hgrm) format: the
 * "Value Percentile TotalCount 1/(1-Percentile)" table with 5 ticks per half distance, the last
 * line at percentile 1.0, then the #[Mean ...] #[Max ...] #[Buckets ...] footer. Values are divided
 * by unit_ns (1e6 for milliseconds; <= 0 means 1) and printed to 1 ns resolution; a row's value is
 * what spate_hist_percentile reports at its percentile (min at 0, max at 1.0; elsewhere the
 * bucket's midpoint where HdrHistogram prints the bucket's highest value). Returns 0 or -errno. */
int spate_hist_write_hdr(const struct spate_hist *h, FILE *f, double unit_ns);

/* Bucket geometry. Index i = b * 128 + (v >> b) with b = max(0, floor(log2 v) - 7): exactly the
 * counts-array index of an HdrHistogram with lowestDiscernibleValue 1 and 2 significant digits
 * (subBucketCount 256), so spate's counts map 1:1 onto HdrHistogram's. */
unsigned spate_hist_index(uint64_t v);          /* v <= SPATE_HIST_TOP */
uint64_t spate_hist_bucket_lowest(unsigned i);  /* smallest value counted at i < SPATE_HIST_LEN */
uint64_t spate_hist_bucket_highest(unsigned i); /* largest value counted at i < SPATE_HIST_LEN */

/* The histogram as one compact JSON object, for --json reports that `spate merge` adds up:
 *   {"unit":"ns","sub_bucket_bits":8,"bucket_count":35,
 *    "count":5,"min":1200,"max":98000,"sum":250400,"clamped":0,
 *    "counts":[[i,c],...]}
 * unit, sub_bucket_bits and bucket_count name the layout (SPATE_HIST_SUB_BITS, SPATE_HIST_BUCKETS):
 * reports of another layout are refused, never rescaled. count, min, max, sum and clamped are the
 * struct's fields (min and max 0 when empty). counts holds only the non-zero buckets, as
 * [index, count] pairs in increasing index order (index as in spate_hist_index). Every number is
 * a whole decimal. Appends to b; 0 or -ENOMEM. */
int spate_hist_write_json(struct spate_text *b, const struct spate_hist *h);

/* Reads that object back into h (overwritten) after checking it: the layout, every field present
 * and a whole number, indexes in range and increasing, counts positive and adding up to count,
 * min and max in the first and last bucket, clamped consistent with max, sum within what the
 * buckets allow. Unknown members are ignored. 0, or -EINVAL with err naming the field and the
 * problem ("histogram: counts[3]: index 4700 is beyond the layout's 4608 buckets"). */
int spate_hist_read_json(struct spate_hist *h, const struct spate_json *v, char *err,
                         size_t errlen);

#endif
