/* One JSON object per finished request, every field always present (null when not known). */
#include "output.h"
#include "json.h"
#include <stdlib.h>
#include <string.h>

/* Appends "S.UUUUUU" for a duration in seconds; printf's float path is the costliest thing a
 * result line would otherwise do. */
static void add_secs(char **p, double s)
{
    unsigned long long us = s > 0 ? (unsigned long long)(s * 1e6 + 0.5) : 0;
    char tmp[24];
    int n = 0;
    unsigned long long whole = us / 1000000, frac = us % 1000000;
    do
        tmp[n++] = (char)('0' + whole % 10);
    while ((whole /= 10));
    while (n)
        *(*p)++ = tmp[--n];
    *(*p)++ = '.';
    for (int i = 5; i >= 0; i--, frac /= 10)
        (*p)[i] = (char)('0' + frac % 10);
    *p += 6;
}

static int add_time(struct spate_buf *b, const struct spate_timing *t)
{
    static const char *const keys[] = {
        ",\"time\":{\"dns\":", ",\"connect\":", ",\"tls\":", ",\"ttfb\":", ",\"total\":"};
    const double v[] = {t->dns, t->connect, t->tls, t->ttfb, t->total};
    if (spate_buf_reserve(b, 5 * (16 + 32) + 2)) return -1;
    char *p = b->data + b->len;
    for (int i = 0; i < 5; i++) {
        size_t kl = strlen(keys[i]);
        memcpy(p, keys[i], kl);
        p += kl;
        add_secs(&p, v[i]);
    }
    *p++ = '}';
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
