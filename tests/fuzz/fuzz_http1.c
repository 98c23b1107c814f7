/* libFuzzer target: the response path of engine/http1.c (spate_http1_resp_init/feed/eof), fed
 * the way engine/conn.c feeds it: chunk after chunk while MORE, stop at DONE (the bytes past
 * *used are unsolicited) or ERROR, spate_http1_eof when the peer closes.
 *
 * Input layout (8-byte header, then split lengths, then the server's bytes):
 *   [0] flags: bit0 HEAD request, bit1 collect headers (acc), bit2 peer closes after the data
 *             (eof), bit3 body sink refuses once more than max_body/2 bytes arrived,
 *             bit4 keep-alive reuse: after a DONE, a fresh parser (same acc) reads the rest
 *   [1] max_headers (0..255)           [2..3] max_header_bytes (LE16; 0xffff = 64 KiB default)
 *   [4..5] max_body (LE16; 0xffff = 64 MiB)   [6] unused    [7] k: number of split lengths (k&15)
 *   [8..8+k) split lengths: chunk i is (len[i % k] + 1) bytes; k == 0: one read for everything
 *   rest: the response bytes
 *
 * Invariants (abort on violation):
 *  - a header given to the sink has a non-empty name;
 *  - DONE: *used <= n; status in 200..599 (never an interim 1xx, never 101), and 100..599 always;
 *    no body after HEAD, 204 or 304;
 *  - body bytes given to the sink <= max_body, and == r->body_bytes (which alone counts the chunk
 *    refused for exceeding max_body); header_bytes <= max_header_bytes
 *    and nheaders <= max_headers unless the parser stopped with TOO_LARGE;
 *  - ERROR: kind is protocol, too_large, input (only when the sink refused) or reset (only
 *    from eof); spate_http1_describe writes a non-empty, NUL-terminated message, even into a
 *    tiny buffer, and never llhttp's generic "... callback error" (that text means spate's own
 *    kind and reason, recorded by the callback, were lost);
 *  - split invariance: the same bytes fed in one read give the same sequence of outcomes (DONE
 *    at the same stream offset with the same status, keep-alive and body digest; or ERROR; or
 *    still MORE at the end). */
#include "http1.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_RESPONSES 8

struct sink_state {
    uint64_t body;   /* bytes the sink received for the current response */
    uint64_t hash;   /* FNV-1a over them */
    uint64_t refuse; /* refuse when body would exceed this (UINT64_MAX = never) */
    int refused;
    unsigned headers;
};

static volatile char g_touch;

static void on_header(void *owner, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct sink_state *s = owner;
    /* RFC 9112 field-name = token (1*tchar): an empty name must never reach the caller */
    CHECK(nlen > 0 && name != NULL);
    /* touch every byte so ASan checks the ranges */
    for (size_t i = 0; i < nlen; i++)
        g_touch ^= name[i];
    for (size_t i = 0; i < vlen; i++)
        g_touch ^= value[i];
    s->headers++;
}

static int on_body(void *owner, const char *p, size_t n)
{
    struct sink_state *s = owner;
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++)
        s->hash = (s->hash ^ (unsigned char)p[i]) * 0x100000001b3ull;
    s->body += n;
    if (s->body > s->refuse) {
        s->refused = 1;
        return 1;
    }
    return 0;
}

static const struct spate_http1_sink sink = {on_header, on_body};

/* What happened to one response. */
struct outcome {
    int st;           /* enum spate_http1_status; MORE = data ran out */
    uint64_t end;     /* DONE: stream offset just past the response */
    int status, keep_alive;
    uint64_t body, hash;
    int kind;
};

struct run {
    struct outcome o[MAX_RESPONSES];
    int count;
};

static void check_state(const struct spate_http1_resp *r, const struct spate_http1_limits *lim,
                        const struct sink_state *s, enum spate_http1_status st)
{
    int too_large = st == SPATE_H1_ERROR && r->kind == SPATE_E_TOO_LARGE;
    /* on a body overflow r->body_bytes counts the chunk that was refused, the sink never saw it */
    if (too_large && r->body_bytes > lim->max_body)
        CHECK(s->body <= r->body_bytes);
    else
        CHECK(s->body == r->body_bytes);
    CHECK(s->body <= lim->max_body);
    if (!too_large) {
        CHECK(r->header_bytes <= lim->max_header_bytes);
        CHECK(r->nheaders <= lim->max_headers);
    }
    if (r->status) CHECK(r->status >= 100 && r->status <= 599);
}

static void check_done(const struct spate_http1_resp *r, const struct sink_state *s, int head)
{
    CHECK(r->complete);
    CHECK(r->status >= 200 && r->status <= 599);
    if (head || r->status == 204 || r->status == 304) CHECK(s->body == 0);
}

static void check_error(const struct spate_http1_resp *r, const struct sink_state *s, int from_eof)
{
    switch (r->kind) {
    case SPATE_E_PROTOCOL:
    case SPATE_E_TOO_LARGE:
        break;
    case SPATE_E_INPUT:
        CHECK(s->refused);
        break;
    case SPATE_E_RESET:
        CHECK(from_eof);
        break;
    default:
        fprintf(stderr, "unexpected error kind %d\n", (int)r->kind);
        CHECK(0);
    }
    char msg[512], tiny[5];
    memset(msg, 'x', sizeof msg);
    spate_http1_describe(r, msg, sizeof msg);
    CHECK(memchr(msg, '\0', sizeof msg) && msg[0] != '\0');
    /* llhttp's generic text for a failing callback: spate's own reason (and kind) was lost */
    if (strstr(msg, "callback error")) fprintf(stderr, "error message: %s\n", msg);
    CHECK(strstr(msg, "callback error") == NULL);
    memset(tiny, 'x', sizeof tiny);
    spate_http1_describe(r, tiny, sizeof tiny);
    CHECK(memchr(tiny, '\0', sizeof tiny));
}

/* Feeds data[0..n) in chunks (lens/k as described above) and records the outcomes. */
static void run(struct run *out, const uint8_t *hdr, const uint8_t *lens, unsigned k,
                const char *data, size_t n)
{
    unsigned flags = hdr[0];
    int head = flags & 1, eof = flags & 4, reuse = flags & 16;
    struct spate_http1_limits lim;
    lim.max_headers = hdr[1];
    unsigned mhb = hdr[2] | (unsigned)hdr[3] << 8;
    lim.max_header_bytes = mhb == 0xffff ? 64u << 10 : mhb;
    unsigned mb = hdr[4] | (unsigned)hdr[5] << 8;
    lim.max_body = mb == 0xffff ? 64ull << 20 : mb;

    struct spate_buf acc;
    spate_buf_init(&acc);
    struct sink_state s;
    struct spate_http1_resp r;
    size_t off = 0; /* stream offset */
    unsigned ci = 0;
    out->count = 0;

    for (;;) {
        memset(&s, 0, sizeof s);
        s.refuse = (flags & 8) ? lim.max_body / 2 : UINT64_MAX;
        spate_http1_resp_init(&r, &lim, &sink, &s, (flags & 2) ? &acc : NULL, head);
        struct outcome *o = &out->o[out->count++];
        memset(o, 0, sizeof *o);
        o->st = SPATE_H1_MORE;
        while (off < n) {
            size_t len = k ? (size_t)lens[ci++ % k] + 1 : n - off;
            if (len > n - off) len = n - off;
            /* the loop reads into its own buffer: give the parser an exact-size heap copy */
            char *chunk = malloc(len);
            if (!chunk) abort();
            memcpy(chunk, data + off, len);
            size_t used = (size_t)-1;
            enum spate_http1_status st = spate_http1_feed(&r, chunk, len, &used);
            check_state(&r, &lim, &s, st);
            if (st == SPATE_H1_MORE) {
                CHECK(used == len);
                CHECK(!r.complete);
                off += len;
                free(chunk);
                continue;
            }
            free(chunk);
            o->st = st;
            if (st == SPATE_H1_DONE) {
                CHECK(used <= len);
                check_done(&r, &s, head);
                off += used;
                o->end = off;
                o->status = r.status;
                o->keep_alive = r.keep_alive;
                o->body = s.body;
                o->hash = s.hash;
            } else {
                CHECK(st == SPATE_H1_ERROR);
                check_error(&r, &s, 0);
                o->kind = r.kind;
            }
            break;
        }
        if (o->st == SPATE_H1_MORE && eof) {
            enum spate_http1_status st = spate_http1_eof(&r);
            check_state(&r, &lim, &s, st);
            o->st = st;
            if (st == SPATE_H1_DONE) {
                check_done(&r, &s, head);
                o->end = off;
                o->status = r.status;
                o->body = s.body;
                o->hash = s.hash;
                CHECK(spate_http1_eof(&r) == SPATE_H1_DONE); /* idempotent once done */
            } else {
                CHECK(st == SPATE_H1_ERROR);
                check_error(&r, &s, 1);
                o->kind = r.kind;
            }
        }
        /* the engine reuses a connection only after a complete keep-alive response */
        if (o->st != SPATE_H1_DONE || !reuse || !r.keep_alive || off >= n ||
            out->count == MAX_RESPONSES)
            break;
    }
    spate_buf_fini(&acc);
}

static void same(const struct run *a, const struct run *b)
{
    CHECK(a->count == b->count);
    for (int i = 0; i < a->count; i++) {
        const struct outcome *x = &a->o[i], *y = &b->o[i];
        if (x->st != y->st)
            fprintf(stderr, "response %d: split feed gave %d, one read gave %d\n", i, x->st,
                    y->st);
        CHECK(x->st == y->st);
        if (x->st == SPATE_H1_DONE) {
            CHECK(x->end == y->end);
            CHECK(x->status == y->status);
            CHECK(x->keep_alive == y->keep_alive);
            CHECK(x->body == y->body && x->hash == y->hash);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    const uint8_t *hdr = data;
    unsigned k = hdr[7] & 15;
    if (size < 8 + (size_t)k) return 0;
    const uint8_t *lens = data + 8;
    const char *body = (const char *)data + 8 + k;
    size_t n = size - 8 - k;

    static struct run split, whole;
    run(&split, hdr, lens, k, body, n);
    if (k) {
        run(&whole, hdr, lens, 0, body, n);
        same(&split, &whole);
    }
    return 0;
}
