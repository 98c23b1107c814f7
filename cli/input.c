/* Input lines for `spate fetch`: URL lines and JSON object lines into request items. */
#include "input.h"
#include "errmsg.h"
#include "json.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_URL, F_METHOD, F_HEADERS, F_BODY, F_JSON, F_ID, F_COUNT };
static const char *const fields[F_COUNT] = {"url", "method", "headers", "body", "json", "id"};

/* This module's contract says -1 for a rejected line. */
#define reject(...) (spate_errmsg(__VA_ARGS__), -1)

/* At most 64 bytes of a field name for a message, anything but printable ASCII as \xNN. */
static const char *quote(char *dst, const char *s, size_t n)
{
    char *d = dst;
    for (size_t i = 0; i < n && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            *d++ = (char)c;
        else
            d += sprintf(d, "\\x%02x", c);
    }
    strcpy(d, n > 64 ? "..." : "");
    return dst;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A NUL-terminated copy of s[0..n); NULL when out of memory. */
static char *dup_mem(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Copies a JSON string that must not hold NULs (a C string would silently end there). */
static int take_string(const struct spate_json *v, const char *name, char **out, char *err,
                       size_t errlen)
{
    size_t n;
    const char *s = spate_json_str(v, &n);
    if (!s) return reject(err, errlen, "\"%s\" must be a string", name);
    if (memchr(s, '\0', n)) return reject(err, errlen, "\"%s\" must not contain NUL bytes", name);
    if (!(*out = dup_mem(s, n))) return reject(err, errlen, "out of memory");
    return 0;
}

static int take_headers(struct spate_input_item *it, const struct spate_json *v, char *err,
                        size_t errlen)
{
    size_t n = spate_json_count(v);
    if (spate_json_type(v) != SPATE_JSON_OBJECT)
        return reject(err, errlen, "\"headers\" must be an object of strings");
    if (n == 0) return 0;
    if (!(it->headers = calloc(n, sizeof *it->headers)))
        return reject(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t kl, vl;
        const char *k = spate_json_key(v, i, &kl);
        const char *s = spate_json_str(spate_json_at(v, i, NULL), &vl);
        if (!s) return reject(err, errlen, "\"headers\" must be an object of strings");
        if (memchr(k, '\0', kl) || memchr(s, '\0', vl))
            return reject(err, errlen, "\"headers\" must not contain NUL bytes");
        struct spate_header *h = &it->headers[it->nheaders];
        h->name = dup_mem(k, kl);
        h->value = dup_mem(s, vl);
        it->nheaders++; /* counted now so fini frees a half-copied pair */
        if (!h->name || !h->value) return reject(err, errlen, "out of memory");
    }
    return 0;
}

/* Serializes v compactly into a fresh NUL-terminated string. */
static int serialize(const struct spate_json *v, char **out, size_t *len, char *err, size_t errlen)
{
    struct spate_text b;
    spate_text_init(&b);
    int rc = spate_json_write(&b, v);
    size_t n = b.len;
    *out = rc ? NULL : spate_text_take(&b);
    spate_text_fini(&b);
    if (!*out) return reject(err, errlen, "out of memory");
    if (len) *len = n;
    return 0;
}

/* Finds every known field once; refuses unknown and repeated ones so nothing is ambiguous. */
static int index_fields(const struct spate_json *obj, const struct spate_json *f[F_COUNT],
                        char *err, size_t errlen)
{
    char q[64 * 4 + 4];
    for (size_t i = 0; i < spate_json_count(obj); i++) {
        size_t kl;
        const char *k = spate_json_key(obj, i, &kl);
        int j = 0;
        while (j < F_COUNT && !(strlen(fields[j]) == kl && memcmp(fields[j], k, kl) == 0))
            j++;
        if (j == F_COUNT)
            return reject(err, errlen,
                          "unknown field \"%s\" (known: url, method, headers, body, "
                          "json, id)",
                          quote(q, k, kl));
        if (f[j]) return reject(err, errlen, "duplicate field \"%s\"", fields[j]);
        f[j] = spate_json_at(obj, i, NULL);
    }
    return 0;
}

static int fill(struct spate_input_item *it, const struct spate_json *obj, char *err, size_t errlen)
{
    const struct spate_json *f[F_COUNT] = {NULL};
    if (spate_json_type(obj) != SPATE_JSON_OBJECT)
        return reject(err, errlen, "a JSON line must be an object");
    if (index_fields(obj, f, err, errlen)) return -1;
    if (!f[F_URL]) return reject(err, errlen, "\"url\" is missing");
    if (f[F_BODY] && f[F_JSON]) return reject(err, errlen, "\"body\" and \"json\" are exclusive");
    if (take_string(f[F_URL], "url", &it->url, err, errlen)) return -1;
    if (f[F_METHOD] && take_string(f[F_METHOD], "method", &it->method, err, errlen)) return -1;
    if (f[F_HEADERS] && take_headers(it, f[F_HEADERS], err, errlen)) return -1;
    if (f[F_BODY]) {
        size_t n;
        const char *s = spate_json_str(f[F_BODY], &n);
        if (!s) return reject(err, errlen, "\"body\" must be a string");
        if (!(it->body = dup_mem(s, n))) return reject(err, errlen, "out of memory");
        it->body_len = n;
    }
    if (f[F_JSON]) {
        if (serialize(f[F_JSON], &it->body, &it->body_len, err, errlen)) return -1;
        it->json_body = 1;
    }
    if (f[F_ID] && serialize(f[F_ID], &it->id_json, NULL, err, errlen)) return -1;
    return 0;
}

static int parse_json_line(const char *line, size_t len, struct spate_input_item *it, char *err,
                           size_t errlen)
{
    struct spate_json *obj;
    char jerr[200];
    int rc = spate_json_parse(line, len, &obj, jerr, sizeof jerr);
    if (rc == -ENOMEM) return reject(err, errlen, "out of memory");
    if (rc) return reject(err, errlen, "invalid JSON: %s", jerr);
    rc = fill(it, obj, err, errlen);
    spate_json_free(obj);
    if (rc) {
        spate_input_item_fini(it);
        return -1;
    }
    return 1;
}

int spate_input_parse_line(const char *line, size_t len, struct spate_input_item *it, char *err,
                           size_t errlen)
{
    memset(it, 0, sizeof *it);
    if (err && errlen) err[0] = '\0';
    if (!line) return 0;
    /* Editors on Windows save a BOM and CRLF; neither is part of the request. */
    if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) line += 3, len -= 3;
    if (len && line[len - 1] == '\n') len--;
    if (len && line[len - 1] == '\r') len--;
    size_t i = 0;
    while (i < len && is_blank(line[i]))
        i++;
    if (i == len || line[i] == '#') return 0;
    /* Offsets in JSON errors count from the start of the line (after a BOM). */
    if (line[i] == '{') return parse_json_line(line, len, it, err, errlen);
    while (len > i && is_blank(line[len - 1]))
        len--;
    if (memchr(line + i, '\0', len - i))
        return reject(err, errlen, "invalid character 0x00 in URL");
    if (!(it->url = dup_mem(line + i, len - i))) return reject(err, errlen, "out of memory");
    return 1;
}

void spate_input_item_fini(struct spate_input_item *it)
{
    if (!it) return;
    free(it->url);
    free(it->method);
    for (size_t i = 0; i < it->nheaders; i++) {
        free((char *)it->headers[i].name);
        free((char *)it->headers[i].value);
    }
    free(it->headers);
    free(it->body);
    free(it->id_json);
    memset(it, 0, sizeof *it);
}
