/* HdrHistogram V2 histogram encoding and the interval log's lines (format in hdrlog.h). */
#include "hdrlog.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define HEADER_LEN 40
#define MAX_VARINT 9
#define VALUE_RATIO 1e6 /* Interval_Max in ms, HdrHistogram's default maxValueUnitRatio */

static unsigned char *put32(unsigned char *p, uint32_t v)
{
    for (int s = 24; s >= 0; s -= 8)
        *p++ = (unsigned char)(v >> s);
    return p;
}

static unsigned char *put64(unsigned char *p, uint64_t v)
{
    for (int s = 56; s >= 0; s -= 8)
        *p++ = (unsigned char)(v >> s);
    return p;
}

/* ZigZag maps small negative and positive numbers to small unsigned ones; LEB128 writes 7 bits per
 * byte, low first, the high bit saying "more follows". HdrHistogram stops after 8 such bytes and
 * puts the remaining 8 bits whole in a 9th, so a 64-bit value never takes 10. */
static unsigned char *put_varint(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    for (int i = 0; i < 8; i++) {
        if (z < 0x80) {
            *p++ = (unsigned char)z;
            return p;
        }
        *p++ = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    *p++ = (unsigned char)z; /* the top 8 bits */
    return p;
}

/* The counts from index 0 through the last non-zero one; zero runs of two or more as -run. */
static unsigned char *put_counts(unsigned char *p, const struct spate_hist *h)
{
    unsigned end = SPATE_HIST_LEN;
    while (end > 1 && !h->counts[end - 1])
        end--;
    for (unsigned i = 0; i < end;) {
        if (h->counts[i]) {
            p = put_varint(p, (int64_t)h->counts[i++]);
            continue;
        }
        unsigned run = 0;
        while (i < end && !h->counts[i])
            i++, run++;
        p = put_varint(p, run > 1 ? -(int64_t)run : 0);
    }
    return p;
}

int spate_hdrlog_encode(const struct spate_hist *h, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    for (unsigned i = 0; i < SPATE_HIST_LEN; i++)
        if (h->counts[i] > (uint64_t)INT64_MAX) return -ERANGE;
    unsigned char *buf = malloc(HEADER_LEN + (size_t)SPATE_HIST_LEN * MAX_VARINT);
    if (!buf) return -ENOMEM;
    uint64_t ratio;
    double one = 1.0;
    memcpy(&ratio, &one, sizeof(ratio)); /* IEEE 754 binary64, as Java's putDouble */
    unsigned char *p = put32(buf, SPATE_HDRLOG_COOKIE);
    p = put32(p, 0); /* payload length, filled in below */
    p = put32(p, 0); /* normalizingIndexOffset */
    p = put32(p, SPATE_HDRLOG_DIGITS);
    p = put64(p, 1); /* lowestDiscernibleValue: 1 ns */
    p = put64(p, SPATE_HIST_TOP);
    p = put64(p, ratio);
    unsigned char *end = put_counts(p, h);
    put32(buf + 4, (uint32_t)(end - p));
    *out = buf;
    *len = (size_t)(end - buf);
    return 0;
}

int spate_hdrlog_encode_compressed(const struct spate_hist *h, unsigned char **out, size_t *len)
{
    unsigned char *plain;
    size_t plain_len;
    *out = NULL;
    *len = 0;
    int rc = spate_hdrlog_encode(h, &plain, &plain_len);
    if (rc) return rc;
    uLongf zlen = compressBound((uLong)plain_len);
    unsigned char *buf = malloc(8 + zlen);
    if (!buf) {
        free(plain);
        return -ENOMEM;
    }
    /* zlib's wrapper and best compression, as HdrHistogram's log writer (java.util.zip.Deflater) */
    int zrc = compress2(buf + 8, &zlen, plain, (uLong)plain_len, Z_BEST_COMPRESSION);
    free(plain);
    if (zrc != Z_OK) {
        free(buf);
        return zrc == Z_MEM_ERROR ? -ENOMEM : -EIO;
    }
    put32(put32(buf, SPATE_HDRLOG_COMPRESSED_COOKIE), (uint32_t)zlen);
    *out = buf;
    *len = 8 + (size_t)zlen;
    return 0;
}

/* ---- the log's lines ------------------------------------------------------------------------ */

/* Each call ends with a flush: a run that is killed leaves every finished interval in the log. */
static int stream_rc(FILE *f, int printed)
{
    if (printed < 0 || fflush(f) != 0 || ferror(f)) return errno ? -errno : -EIO;
    return 0;
}

int spate_hdrlog_header(FILE *f, double start_unix_s)
{
    char date[64] = "";
    time_t t = (time_t)start_unix_s;
    struct tm tm;
    /* Java's Date.toString() layout; UTC so the log does not depend on the machine's zone */
    if (gmtime_r(&t, &tm)) strftime(date, sizeof(date), "%a %b %d %H:%M:%S UTC %Y", &tm);
    errno = 0;
    int n = fprintf(f,
                    "#[Histogram log format version 1.3]\n"
                    "#[StartTime: %.3f (seconds since epoch), %s]\n"
                    "#[BaseTime: %.3f (seconds since epoch)]\n"
                    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                    "\"Interval_Compressed_Histogram\"\n",
                    start_unix_s, date, start_unix_s);
    return stream_rc(f, n);
}

/* Standard base64 with padding, one line (what java.util.Base64's basic encoder writes). */
static void put_base64(FILE *f, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        q[0] = tab[v >> 18];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        fwrite(q, 1, 4, f);
    }
}

static int tag_ok(const char *tag)
{
    return *tag && !strpbrk(tag, ", \t\r\n");
}

int spate_hdrlog_interval(FILE *f, const char *tag, double start_s, double length_s,
                          const struct spate_hist *h)
{
    if (tag && !tag_ok(tag)) return -EINVAL;
    unsigned char *enc;
    size_t len;
    int rc = spate_hdrlog_encode_compressed(h, &enc, &len);
    if (rc) return rc;
    errno = 0;
    int n = fprintf(f, "%s%s%s%.3f,%.3f,%.3f,", tag ? "Tag=" : "", tag ? tag : "", tag ? "," : "",
                    start_s, length_s, (double)spate_hist_max(h) / VALUE_RATIO);
    if (n >= 0) {
        put_base64(f, enc, len);
        n = fputc('\n', f) == EOF ? -1 : n;
    }
    free(enc);
    return stream_rc(f, n);
}
