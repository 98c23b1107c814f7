/* One JSON object per finished request, every field always present (null when not known). */
#include "output.h"
#include "json.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

/* Copies a string literal to p and returns the end: its length is known at compile time, so this
 * is a few moves, not a call. */
#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* Writes v in decimal at p, two digits at a time; returns the end. */
static char *put_uint(char *p, uint64_t v)
{
    char tmp[20], *end = tmp + sizeof(tmp), *q = end;
    for (; v >= 100; v /= 100) {
        q -= 2;
        memcpy(q, digits2 + 2 * (v % 100), 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    memcpy(p, q, (size_t)(end - q));
    return p + (end - q);
}

/* Writes "S.UUUUUU" for seconds (a duration, or the start's Unix time) at p; returns the end.
 * printf's float path is the costliest thing a result line would otherwise do, and seven of
 * these are in every line. */
static char *put_secs(char *p, double s)
{
    /* through int64_t: a double converts to it in one instruction (bounded: 1e12 s is 31,000 years)
     */
    uint64_t us = s > 0 ? (uint64_t)(int64_t)((s < 1e12 ? s : 1e12) * 1e6 + 0.5) : 0;
    uint64_t whole = us / 1000000;
    unsigned frac = (unsigned)(us - whole * 1000000);
    if (whole < 10)
        *p++ = (char)('0' + whole); /* the usual duration */
    else
        p = put_uint(p, whole);
    p[0] = '.';
    memcpy(p + 1, digits2 + 2 * (frac / 10000), 2);
    memcpy(p + 3, digits2 + 2 * (frac / 100 % 100), 2);
    memcpy(p + 5, digits2 + 2 * (frac % 100), 2);
    return p + 7;
}

/* "start" (the first attempt's wall-clock start, or null when there was none) and "time". */
static int add_times(struct spate_text *b, double start, const struct spate_timing *t)
{
    char *const room = spate_text_room(b, 7 * (16 + 32) + 2);
    if (!room) return -1;
    char *p = room;
    if (start > 0)
        p = put_secs(PUT(p, ",\"start\":"), start);
    else
        p = PUT(p, ",\"start\":null");
    p = put_secs(PUT(p, ",\"time\":{\"dns\":"), t->dns);
    p = put_secs(PUT(p, ",\"connect\":"), t->connect);
    p = put_secs(PUT(p, ",\"tls\":"), t->tls);
    p = put_secs(PUT(p, ",\"ttfb\":"), t->ttfb);
    p = put_secs(PUT(p, ",\"total\":"), t->total);
    p = put_secs(PUT(p, ",\"elapsed\":"), t->elapsed);
    *p++ = '}';
    spate_text_wrote(b, (size_t)(p - room));
    return 0;
}

static int add_body(struct spate_text *b, const struct spate_response *r)
{
    const char *p = r->body ? r->body : "";
    if (spate_json_utf8_valid(p, r->body_len)) {
        int rc = spate_text_adds(b, ",\"body\":");
        return rc ? rc : spate_json_add_string(b, p, r->body_len);
    }
    char *enc = malloc(4 * ((r->body_len + 2) / 3) + 1);
    if (!enc) return -1;
    spate_base64(enc, p, r->body_len);
    int rc = spate_text_printf(b, ",\"body_base64\":\"%s\"", enc);
    free(enc);
    return rc;
}

int spate_output_line(struct spate_text *b, const struct spate_output_rec *rec,
                      const struct spate_response *r)
{
    int rc = spate_text_adds(b, "{\"id\":");
    if (!rc) rc = rec->id_json ? spate_text_adds(b, rec->id_json) : spate_text_uint(b, rec->index);
    if (!rc) rc = spate_text_adds(b, ",\"url\":");
    if (!rc) rc = spate_json_add_string(b, rec->url, strlen(rec->url));
    if (!rc) rc = spate_text_adds(b, ",\"method\":");
    if (!rc) rc = spate_json_add_string(b, rec->method, strlen(rec->method));
    if (!rc) rc = spate_text_adds(b, ",\"status\":");
    if (!rc) rc = r->status ? spate_text_uint(b, (unsigned)r->status) : spate_text_adds(b, "null");
    if (!rc)
        rc = spate_text_adds(b, r->error == SPATE_OK ? ",\"ok\":true,\"attempts\":"
                                                     : ",\"ok\":false,\"attempts\":");
    if (!rc) rc = spate_text_uint(b, r->attempts);
    if (!rc) rc = spate_text_adds(b, ",\"bytes\":");
    if (!rc) rc = spate_text_uint(b, r->body_bytes);
    if (!rc) rc = add_times(b, r->start, &r->time);
    if (!rc && r->error == SPATE_OK) rc = spate_text_adds(b, ",\"error\":null");
    if (!rc && r->error != SPATE_OK) {
        rc = spate_text_printf(
            b, ",\"error\":{\"kind\":\"%s\",\"message\":", spate_error_kind_name(r->error));
        if (!rc) rc = spate_json_add_string(b, r->message, strlen(r->message));
        if (!rc) rc = spate_text_adds(b, "}");
    }
    if (!rc && rec->with_file) {
        rc = spate_text_adds(b, ",\"file\":");
        if (!rc)
            rc = rec->file ? spate_json_add_string(b, rec->file, strlen(rec->file))
                           : spate_text_adds(b, "null");
    }
    if (!rc && rec->with_body) rc = add_body(b, r);
    return rc ? rc : spate_text_adds(b, "}\n");
}
