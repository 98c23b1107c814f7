/* HdrHistogram interval logs (`--hdr-log FILE`): one line per interval holding the interval's
 * histogram in HdrHistogram's V2 compressed encoding, base64, so HdrHistogram's own log readers and
 * processors (HistogramLogReader, HistogramLogProcessor, the plotters) read spate's measurements.
 *
 * The mapping is exact, not a resampling: spate's histogram (cli/histogram.h) is the bucket layout
 * of an HdrHistogram with lowestDiscernibleValue 1 (ns), numberOfSignificantValueDigits 2 (2 * 10^2
 * = 200 rounds up to subBucketCount 256) and highestTrackableValue SPATE_HIST_TOP (2^42 - 1, which
 * needs 35 buckets: countsArrayLength 36 * 128 = 4608 = SPATE_HIST_LEN). HdrHistogram's counts
 * index, (bucketIndex + 1) * 128 + subBucketIndex - 128 with bucketIndex = 56 - clz(v | 255) and
 * subBucketIndex = v >> bucketIndex, is then spate_hist_index(v), so spate's counts array is
 * written as it is.
 *
 * The encoding, all integers big-endian:
 *   compressed:   int32 cookie 0x1c849314 (V2 compressed base 0x1c849304 | 0x10), int32 length
 *                 of what follows, then zlib's deflate (zlib wrapper) of the plain encoding;
 *   plain:        int32 cookie 0x1c849313 (V2 base 0x1c849303 | 0x10), int32 payload length,
 *                 int32 normalizingIndexOffset 0, int32 significant digits 2, int64 lowest 1,
 *                 int64 highest 2^42 - 1, IEEE double integerToDoubleValueConversionRatio 1.0;
 *   payload:      the counts from index 0 to the last non-zero one (index 0 alone when empty), each
 *                 a ZigZag LEB128 varint of at most 9 bytes (the 9th carries 8 bits), a run of two
 *                 or more zero counts written as one negative number -run.
 * The log:
 *   #[Histogram log format version 1.3]
 *   #[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]
 *   #[BaseTime: 1700000000.000 (seconds since epoch)]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   0.000,1.000,12.345,HISTFAAAA...                 (start s after BaseTime, length s, max ms)
 *   Tag=w0,0.000,1.000,12.345,HISTFAAAA...          (the same for worker 0)
 * Interval_Max is the interval's exact max in ms (readers take the max from the histogram). */
#ifndef SPATE_HDRLOG_H
#define SPATE_HDRLOG_H
#include "histogram.h"
#include <stddef.h>
#include <stdio.h>

#define SPATE_HDRLOG_COOKIE UINT32_C(0x1c849313)
#define SPATE_HDRLOG_COMPRESSED_COOKIE UINT32_C(0x1c849314)
#define SPATE_HDRLOG_DIGITS 2

/* Encodes h in the plain V2 form (header and payload) into *out, malloc'd and owned by the caller,
 * *len bytes. 0, -ENOMEM, or -ERANGE for a count above 2^63 - 1 (HdrHistogram counts are signed).
 */
int spate_hdrlog_encode(const struct spate_hist *h, unsigned char **out, size_t *len);

/* The compressed form (what a log line carries before base64). Same ownership and errors, and -EIO
 * when zlib fails. */
int spate_hdrlog_encode_compressed(const struct spate_hist *h, unsigned char **out, size_t *len);

/* Writes the log's header lines: format version, StartTime and BaseTime (both start_unix_s, Unix
 * seconds; StartTime also as a UTC date), the legend. Interval starts are then seconds after
 * start_unix_s. Flushed. 0 or -errno (-EIO when the stream reports an error). */
int spate_hdrlog_header(FILE *f, double start_unix_s);

/* Appends one interval line for h: "Tag=TAG," when tag is not NULL, the start and length in
 * seconds and the max in ms with three decimals, the base64 of the compressed form. A tag must be
 * non-empty and free of ',', spaces and line breaks (-EINVAL). Flushed, so a killed run leaves
 * every finished interval. 0 or a negative errno. */
int spate_hdrlog_interval(FILE *f, const char *tag, double start_s, double length_s,
                          const struct spate_hist *h);

#endif
