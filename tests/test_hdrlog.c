/* Unit tests for cli/hdrlog: the V2 encoding's exact bytes (header, ZigZag LEB128 counts, zero
 * runs), the compressed wrapper, and whole interval logs decoded back by this file's own reader
 * (base64, inflate, varints) to the very counts recorded.
 * `test_hdrlog --write FILE` writes a known log to FILE and prints, one line per interval, what
 * HdrHistogram's Java HistogramLogReader must decode from it (tests/t_hdrlog_java.sh compares). */
#include "hdrlog.h"
#include "tap.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BASE_TIME 1700000000.0 /* Tue Nov 14 22:13:20 UTC 2023 */
#define SECONDS 3
#define WORKERS 2

static uint64_t rng_state;

static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* ---- the reader ----------------------------------------------------------------------------- */

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* One ZigZag LEB128 varint of at most 9 bytes (the 9th whole); -1 when it runs past end. */
static int get_varint(const unsigned char **p, const unsigned char *end, int64_t *out)
{
    uint64_t z = 0;
    int shift = 0;
    for (int i = 0; i < 9; i++) {
        if (*p >= end) return -1;
        unsigned char b = *(*p)++;
        if (i == 8) {
            z |= (uint64_t)b << 56;
            break;
        }
        z |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return 0;
}

/* Decodes a plain V2 encoding into h's counts (count summed); 0 or a line naming what is wrong. */
static const char *decode_plain(const unsigned char *b, size_t n, struct spate_hist *h)
{
    spate_hist_init(h);
    if (n < 40) return "shorter than the 40-byte header";
    if (get_be(b, 4) != 0x1c849313) return "cookie is not 0x1c849313";
    uint64_t payload = get_be(b + 4, 4);
    if (payload != n - 40) return "payload length does not match";
    if (get_be(b + 8, 4) != 0 || get_be(b + 12, 4) != 2 || get_be(b + 16, 8) != 1 ||
        get_be(b + 24, 8) != SPATE_HIST_TOP || get_be(b + 32, 8) != UINT64_C(0x3ff0000000000000))
        return "header is not offset 0, 2 digits, lowest 1, highest 2^42-1, ratio 1.0";
    const unsigned char *p = b + 40, *end = b + n;
    size_t i = 0;
    while (p < end) {
        int64_t v;
        if (get_varint(&p, end, &v)) return "a varint runs past the payload";
        if (v < 0) {
            i += (size_t)-v;
            if (i > SPATE_HIST_LEN) return "a zero run goes past the last bucket";
            continue;
        }
        if (i >= SPATE_HIST_LEN) return "a count past the last bucket";
        h->counts[i++] = (uint64_t)v;
        h->count += (uint64_t)v;
    }
    return NULL;
}

static const char *decode_compressed(const unsigned char *b, size_t n, struct spate_hist *h)
{
    static unsigned char plain[40 + SPATE_HIST_LEN * 9];
    if (n < 8 || get_be(b, 4) != 0x1c849314) return "compressed cookie is not 0x1c849314";
    if (get_be(b + 4, 4) != n - 8) return "compressed length does not match";
    uLongf len = sizeof(plain);
    if (uncompress(plain, &len, b + 8, (uLong)(n - 8)) != Z_OK) return "inflate failed";
    return decode_plain(plain, len, h);
}

static int b64val(int c)
{
    const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(tab, c) : NULL;
    return p ? (int)(p - tab) : -1;
}

/* Decodes standard padded base64 in place-free fashion; returns the byte count or -1. */
static long unbase64(const char *s, size_t n, unsigned char *out, size_t cap)
{
    size_t o = 0;
    if (n % 4) return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = s[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64val(s[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return -1;
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        int bytes = 3 - (s[i + 2] == '=') - (s[i + 3] == '=');
        for (int k = 0; k < bytes; k++) {
            if (o == cap) return -1;
            out[o++] = (unsigned char)(w >> (16 - 8 * k));
        }
    }
    return (long)o;
}

struct line {
    char tag[32];
    double start, length, max_ms;
    struct spate_hist h;
};

/* Parses one interval line; NULL or what is wrong. */
static const char *parse_line(char *s, struct line *l)
{
    static unsigned char bin[8 + 64 * 1024];
    l->tag[0] = '\0';
    if (!strncmp(s, "Tag=", 4)) {
        char *comma = strchr(s, ',');
        if (!comma || comma - s - 4 >= (long)sizeof(l->tag)) return "bad tag";
        memcpy(l->tag, s + 4, (size_t)(comma - s - 4));
        l->tag[comma - s - 4] = '\0';
        s = comma + 1;
    }
    int used = 0;
    if (sscanf(s, "%lf,%lf,%lf,%n", &l->start, &l->length, &l->max_ms, &used) != 3 || !used)
        return "not start,length,max,";
    s += used;
    size_t n = strcspn(s, "\n");
    if (s[n] != '\n' || s[n + 1]) return "not one line";
    long len = unbase64(s, n, bin, sizeof(bin));
    if (len < 0) return "bad base64";
    return decode_compressed(bin, (size_t)len, &l->h);
}

/* ---- the data ------------------------------------------------------------------------------- */

/* Per second and worker: log-uniform latencies 50 us .. 500 ms; worker 1 idles in the last second
 * (an empty histogram) and worker 0 has one value far beyond the top in second 1 (clamped). */
static void make_data(struct spate_hist w[SECONDS][WORKERS], struct spate_hist all[SECONDS])
{
    rng_state = 42;
    for (int s = 0; s < SECONDS; s++) {
        spate_hist_init(&all[s]);
        for (int k = 0; k < WORKERS; k++) {
            spate_hist_init(&w[s][k]);
            int n = (s == SECONDS - 1 && k == 1) ? 0 : 3000 + 1000 * k;
            for (int i = 0; i < n; i++) {
                double u = (double)(rng() >> 11) / 9007199254740992.0;
                spate_hist_record(&w[s][k], (uint64_t)(50000.0 * exp(u * log(1e4))));
            }
            if (s == 1 && k == 0) spate_hist_record(&w[s][k], UINT64_C(1) << 50);
            spate_hist_merge(&all[s], &w[s][k]);
        }
    }
}

static int write_log(FILE *f, struct spate_hist w[SECONDS][WORKERS], struct spate_hist all[SECONDS])
{
    int rc = spate_hdrlog_header(f, BASE_TIME);
    for (int s = 0; s < SECONDS && rc == 0; s++) {
        rc = spate_hdrlog_interval(f, NULL, s, 1.0, &all[s]);
        for (int k = 0; k < WORKERS && rc == 0; k++) {
            char tag[16];
            snprintf(tag, sizeof(tag), "w%d", k);
            rc = spate_hdrlog_interval(f, tag, s, 1.0, &w[s][k]);
        }
    }
    return rc;
}

/* What HdrHistogram's reader reports for h: tag, start and length in ms, total count, max (the
 * highest value equivalent to the max's bucket), then value:count for each non-zero bucket at the
 * bucket's highest equivalent value. */
static void print_expected(const char *tag, int second, const struct spate_hist *h)
{
    unsigned last = 0;
    for (unsigned i = 0; i < SPATE_HIST_LEN; i++)
        if (h->counts[i]) last = i;
    printf("%s %.0f 1000 %llu %llu", tag, (BASE_TIME + second) * 1000.0,
           (unsigned long long)h->count,
           h->count ? (unsigned long long)spate_hist_bucket_highest(last) : 0ULL);
    for (unsigned i = 0; i < SPATE_HIST_LEN; i++)
        if (h->counts[i])
            printf(" %llu:%llu", (unsigned long long)spate_hist_bucket_highest(i),
                   (unsigned long long)h->counts[i]);
    putchar('\n');
}

static struct spate_hist data_w[SECONDS][WORKERS], data_all[SECONDS];

static int write_mode(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return 2;
    make_data(data_w, data_all);
    int rc = write_log(f, data_w, data_all);
    if (fclose(f) || rc) return 2;
    for (int s = 0; s < SECONDS; s++) {
        print_expected("-", s, &data_all[s]);
        for (int k = 0; k < WORKERS; k++) {
            char tag[16];
            snprintf(tag, sizeof(tag), "w%d", k);
            print_expected(tag, s, &data_w[s][k]);
        }
    }
    return 0;
}

/* ---- the tests ------------------------------------------------------------------------------ */

static void test_plain_bytes(void)
{
    static struct spate_hist h;
    unsigned char *b;
    size_t n;
    spate_hist_init(&h);
    h.counts[0] = 300; /* ZigZag 600 = 0x258: d8 04 */
    h.counts[3] = 1;   /* indexes 1, 2: a run of two zeros, -2: 03; then 1: 02 */
    h.counts[5] = 64;  /* index 4: a single zero, 00; 64: ZigZag 128: 80 01 */
    h.count = 365;
    int rc = spate_hdrlog_encode(&h, &b, &n);
    static const unsigned char want[] = {
        0x1c, 0x84, 0x93, 0x13, 0,    0,    0,    7,
        0,    0,    0,    0,    0,    0,    0,    2, /* cookie, 7, offset, digits */
        0,    0,    0,    0,    0,    0,    0,    1,
        0,    0,    0x03, 0xff, 0xff, 0xff, 0xff, 0xff, /* lowest, highest */
        0x3f, 0xf0, 0,    0,    0,    0,    0,    0,    /* ratio 1.0 */
        0xd8, 0x04, 0x03, 0x02, 0x00, 0x80, 0x01};
    ok(rc == 0, "encode returns 0");
    is_mem(b, rc ? 0 : n, want, sizeof(want),
           "plain V2 bytes: header (cookie 0x1c849313, payload 7, offset 0, 2 digits, lowest 1, "
           "highest 2^42-1, ratio 1.0) and counts 300, 0, 0, 1, 0, 64 as d8 04 03 02 00 80 01");
    free(b);

    spate_hist_init(&h);
    rc = spate_hdrlog_encode(&h, &b, &n);
    ok(rc == 0 && n == 41 && b[40] == 0 && get_be(b + 4, 4) == 1,
       "an empty histogram encodes index 0 alone: one zero byte");
    free(b);

    spate_hist_init(&h);
    h.counts[SPATE_HIST_LEN - 1] =
        (uint64_t)INT64_MAX; /* ZigZag 2^64-2: fe ff ff ff ff ff ff ff ff */
    rc = spate_hdrlog_encode(&h, &b, &n);
    static const unsigned char big[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ok(rc == 0 && n == 40 + 2 + 9 && get_be(b + 40, 2) == 0xfd47 && !memcmp(b + 42, big, 9),
       "4607 zeros as one varint -4607 (ZigZag 9213: fd 47) and a count of 2^63-1 in 9 bytes");
    free(b);
    h.counts[SPATE_HIST_LEN - 1] = (uint64_t)INT64_MAX + 1;
    ok(spate_hdrlog_encode(&h, &b, &n) == -ERANGE && !b, "a count above 2^63-1 is -ERANGE");
}

static void test_compressed(void)
{
    static struct spate_hist h, back;
    spate_hist_init(&h);
    rng_state = 9;
    for (int i = 0; i < 100000; i++)
        spate_hist_record(&h, 1000 + rng() % 100000000);
    unsigned char *plain, *z;
    size_t pn, zn;
    int rc = spate_hdrlog_encode(&h, &plain, &pn);
    int rz = spate_hdrlog_encode_compressed(&h, &z, &zn);
    ok(rc == 0 && rz == 0 && get_be(z, 4) == 0x1c849314 && get_be(z + 4, 4) == zn - 8,
       "compressed: cookie 0x1c849314 and the deflated length (%zu bytes for %zu plain)", zn, pn);
    static unsigned char out[40 + SPATE_HIST_LEN * 9];
    uLongf on = sizeof(out);
    ok(rz == 0 && uncompress(out, &on, z + 8, (uLong)(zn - 8)) == Z_OK && on == pn &&
           !memcmp(out, plain, pn),
       "inflating the compressed form gives the plain encoding byte for byte");
    const char *why = rz ? "encode failed" : decode_compressed(z, zn, &back);
    ok(!why && !memcmp(back.counts, h.counts, sizeof(h.counts)) && back.count == h.count,
       "decoded by this test's reader: the same 4608 counts (%s)", why ? why : "ok");
    free(plain);
    free(z);
}

static void test_log(void)
{
    FILE *f = tmpfile();
    if (!f) {
        ok(0, "tmpfile: %s", strerror(errno));
        return;
    }
    make_data(data_w, data_all);
    ok(write_log(f, data_w, data_all) == 0, "a 3-second log with 2 tagged workers is written");
    rewind(f);
    char line[128 * 1024];
    static const char *const head[] = {
        "#[Histogram log format version 1.3]\n",
        "#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n",
        "#[BaseTime: 1700000000.000 (seconds since epoch)]\n",
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_"
        "Histogram\"\n",
    };
    int head_ok = 1;
    for (int i = 0; i < 4; i++)
        if (!fgets(line, sizeof(line), f) || strcmp(line, head[i])) {
            head_ok = 0;
            diag("header line %d: %s", i, line);
        }
    ok(head_ok, "header: format version 1.3, StartTime with its UTC date, BaseTime, the legend");
    int lines = 0, tags_ok = 1, times_ok = 1, counts_ok = 1, max_ok = 1;
    static struct line l;
    while (fgets(line, sizeof(line), f)) {
        int s = lines / (WORKERS + 1), k = lines % (WORKERS + 1) - 1; /* k -1: untagged */
        const char *why = parse_line(line, &l);
        const struct spate_hist *want = k < 0 ? &data_all[s] : &data_w[s][k];
        char tag[16] = "";
        if (k >= 0) snprintf(tag, sizeof(tag), "w%d", k);
        lines++;
        if (why) {
            counts_ok = 0;
            diag("line %d: %s", lines, why);
            continue;
        }
        if (strcmp(l.tag, tag)) tags_ok = 0;
        if (l.start != s || l.length != 1.0) times_ok = 0;
        if (memcmp(l.h.counts, want->counts, sizeof(want->counts)) || l.h.count != want->count)
            counts_ok = 0;
        if (fabs(l.max_ms - (double)spate_hist_max(want) / 1e6) > 0.0005) max_ok = 0;
    }
    ok(lines == SECONDS * (WORKERS + 1), "%d interval lines: per second one untagged, then w0, w1",
       lines);
    ok(tags_ok && times_ok,
       "tags Tag=w0/Tag=w1 on worker lines only; starts 0, 1, 2 s; length 1 s");
    ok(counts_ok,
       "every line decodes (base64, inflate, varints) to the recorded counts, the clamped "
       "value and the empty interval included");
    ok(max_ok, "Interval_Max is each interval's exact max in ms (3 decimals)");
    fclose(f);
}

static void test_refusals(void)
{
    static struct spate_hist h;
    spate_hist_init(&h);
    FILE *f = tmpfile();
    if (!f) {
        ok(0, "tmpfile: %s", strerror(errno));
        return;
    }
    int bad = spate_hdrlog_interval(f, "w 0", 0, 1, &h) == -EINVAL &&
              spate_hdrlog_interval(f, "a,b", 0, 1, &h) == -EINVAL &&
              spate_hdrlog_interval(f, "", 0, 1, &h) == -EINVAL &&
              spate_hdrlog_interval(f, "x\n", 0, 1, &h) == -EINVAL;
    ok(bad && ftell(f) == 0,
       "tags with a space, comma, line break or nothing are refused, unwritten");
    fclose(f);
    f = fopen("/dev/full", "w");
    if (f) {
        int rc = spate_hdrlog_header(f, BASE_TIME);
        int ri = spate_hdrlog_interval(f, "w0", 0, 1, &h);
        ok(rc == -ENOSPC && ri == -ENOSPC,
           "a full device: header and interval return -ENOSPC (%d, %d)", rc, ri);
        fclose(f);
    } else {
        ok(1, "# SKIP no /dev/full");
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write")) return write_mode(argv[2]);
    plan(16);
    test_plain_bytes();
    test_compressed();
    test_log();
    test_refusals();
    return done();
}
