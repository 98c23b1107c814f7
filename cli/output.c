/* One JSON object per finished request, every field always present (null when not known). */
#include "output.h"
#include "json.h"
#include <stdlib.h>
#include <string.h>

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

/* Appends "S.UUUUUU" for seconds (a duration, or the start's Unix time); printf's float path is
 * the costliest thing a result line would otherwise do, and seven of these are in every line. */
static void add_secs(char **p, double s)
{
    unsigned long long us = s > 0 ? (unsigned long long)(s * 1e6 + 0.5) : 0;
    unsigned long long whole = us / 1000000;
    unsigned frac = (unsigned)(us % 1000000);
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + whole % 10);
    while ((whole /= 10));
    while (n)
        *(*p)++ = tmp[--n];
    char *d = *p;
    d[0] = '.';
    for (int i = 5; i > 0; i -= 2, frac /= 100) /* two digits at a time, right to left */
        memcpy(d + i, digits2 + 2 * (frac % 100), 2);
    *p = d + 7;
}

static int add_time(struct spate_buf *b, const struct spate_timing *t)
{
#define KEY(s)                                                                                     \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
    static const struct {
        const char *s;
        size_t n;
    } keys[] = {KEY(",\"time\":{\"dns\":"), KEY(",\"connect\":"), KEY(",\"tls\":"),
                KEY(",\"ttfb\":"),          KEY(",\"total\":"),   KEY(",\"elapsed\":")};
#undef KEY
    const double v[] = {t->dns, t->connect, t->tls, t->ttfb, t->total, t->elapsed};
    if (spate_buf_reserve(b, 6 * (16 + 32) + 2)) return -1;
    char *p = b->data + b->len;
    for (int i = 0; i < 6; i++) {
        memcpy(p, keys[i].s, keys[i].n);
        p += keys[i].n;
        add_secs(&p, v[i]);
    }
    *p++ = '}';
    b->len = (size_t)(p - b->data);
    return 0;
}

/* "start": the first attempt's wall-clock start, or null when there was none. */
static int add_start(struct spate_buf *b, double start)
{
    if (!(start > 0)) return spate_buf_adds(b, ",\"start\":null");
    if (spate_buf_reserve(b, 16 + 32)) return -1;
    char *p = b->data + b->len;
    memcpy(p, ",\"start\":", 9);
    p += 9;
    add_secs(&p, start);
    b->len = (size_t)(p - b->data);
    return 0;
}

static int add_body(struct spate_buf *b, const struct spate_response *r)
{
    const char *p = r->body ? r->body : "";
    if (spate_json_utf8_valid(p, r->body_len)) {
        int rc = spate_buf_adds(b, ",\"body\":");
        return rc ? rc : spate_json_add_string(b, p, r->body_len);
    }
    char *enc = malloc(4 * ((r->body_len + 2) / 3) + 1);
    if (!enc) return -1;
    spate_base64(enc, p, r->body_len);
    int rc = spate_buf_printf(b, ",\"body_base64\":\"%s\"", enc);
    free(enc);
    return rc;
}

int spate_output_line(struct spate_buf *b, const struct spate_output_rec *rec,
                      const struct spate_response *r)
{
    int rc = spate_buf_adds(b, "{\"id\":");
    if (!rc)
        rc = rec->id_json ? spate_buf_adds(b, rec->id_json) : spate_buf_add_uint(b, rec->index);
    if (!rc) rc = spate_buf_adds(b, ",\"url\":");
    if (!rc) rc = spate_json_add_string(b, rec->url, strlen(rec->url));
    if (!rc) rc = spate_buf_adds(b, ",\"method\":");
    if (!rc) rc = spate_json_add_string(b, rec->method, strlen(rec->method));
    if (!rc) rc = spate_buf_adds(b, ",\"status\":");
    if (!rc)
        rc = r->status ? spate_buf_add_uint(b, (unsigned)r->status) : spate_buf_adds(b, "null");
    if (!rc)
        rc = spate_buf_adds(b, r->error == SPATE_OK ? ",\"ok\":true,\"attempts\":"
                                                    : ",\"ok\":false,\"attempts\":");
    if (!rc) rc = spate_buf_add_uint(b, r->attempts);
    if (!rc) rc = spate_buf_adds(b, ",\"bytes\":");
    if (!rc) rc = spate_buf_add_uint(b, r->body_bytes);
    if (!rc) rc = add_start(b, r->start);
    if (!rc) rc = add_time(b, &r->time);
    if (!rc && r->error == SPATE_OK) rc = spate_buf_adds(b, ",\"error\":null");
    if (!rc && r->error != SPATE_OK) {
        rc = spate_buf_printf(
            b, ",\"error\":{\"kind\":\"%s\",\"message\":", spate_error_kind_name(r->error));
        if (!rc) rc = spate_json_add_string(b, r->message, strlen(r->message));
        if (!rc) rc = spate_buf_adds(b, "}");
    }
    if (!rc && rec->with_body) rc = add_body(b, r);
    return rc ? rc : spate_buf_adds(b, "}\n");
}
