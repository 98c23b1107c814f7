/* JSON reader (a recursive-descent parser into a small tree) and JSON writer helpers. */
#include "json.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct member {
    char *key; /* owned, NUL-terminated; NULL in arrays */
    size_t key_len;
    struct spate_json *val; /* owned */
};

struct spate_json {
    enum spate_json_type type;
    char *str;        /* owned: decoded string, or a number's source text; NUL-terminated */
    size_t len;       /* bytes in str */
    struct member *m; /* owned: members of an array or object */
    size_t count, cap;
};

struct parser {
    const char *s;
    size_t n, i;
    char *err;
    size_t errlen;
};

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < p->errlen)
            snprintf(p->err + k, p->errlen - (size_t)k, " at byte %zu", at);
    }
    return -EINVAL;
}

/* "<what> at byte N", then names the byte found there instead. */
static int unexpected(struct parser *p, const char *what)
{
    if (p->err && p->errlen) {
        unsigned char c = p->i < p->n ? (unsigned char)p->s[p->i] : 0;
        if (p->i >= p->n)
            snprintf(p->err, p->errlen, "%s at byte %zu (end of input)", what, p->i);
        else if (c > 0x20 && c < 0x7f)
            snprintf(p->err, p->errlen, "%s at byte %zu (found '%c')", what, p->i, c);
        else
            snprintf(p->err, p->errlen, "%s at byte %zu (found byte 0x%02x)", what, p->i, c);
    }
    return -EINVAL;
}

static int cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c < 0xc2) /* continuation byte, or an overlong 2-byte lead */
        return 0;
    if (c < 0xe0) return n >= 2 && cont(s[1]) ? 2 : 0;
    if (c < 0xf0) {
        if (c == 0xe0) lo = 0xa0; /* overlong */
        if (c == 0xed) hi = 0x9f; /* surrogates */
        return n >= 3 && s[1] >= lo && s[1] <= hi && cont(s[2]) ? 3 : 0;
    }
    if (c < 0xf5) {
        if (c == 0xf0) lo = 0x90; /* overlong */
        if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
        return n >= 4 && s[1] >= lo && s[1] <= hi && cont(s[2]) && cont(s[3]) ? 4 : 0;
    }
    return 0;
}

int spate_json_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(u + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static char *put_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xc0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xe0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *d++ = (char)(0xf0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    }
    return d;
}

/* Reads the 4 hex digits after "\u" at s[at]; -1 if they are not there. */
static long hex4(const struct parser *p, size_t at, size_t end)
{
    long v = 0;
    if (at > end || end - at < 6 || p->s[at] != '\\' || p->s[at + 1] != 'u') return -1;
    for (size_t k = at + 2; k < at + 6; k++) {
        int c = (unsigned char)p->s[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes one "\u" escape (two for a surrogate pair) at p->i into *d. */
static int unicode_escape(struct parser *p, size_t end, char **d)
{
    long hi = hex4(p, p->i, end), lo;
    if (hi < 0) return fail(p, p->i, "invalid \\u escape (need 4 hex digits)");
    if (hi >= 0xdc00 && hi <= 0xdfff) return fail(p, p->i, "lone surrogate \\u%04lX", hi);
    if (hi < 0xd800 || hi > 0xdbff) {
        *d = put_utf8(*d, (uint32_t)hi);
        p->i += 6;
        return 0;
    }
    lo = hex4(p, p->i + 6, end);
    if (lo < 0xdc00 || lo > 0xdfff) return fail(p, p->i, "lone surrogate \\u%04lX", hi);
    *d = put_utf8(*d, (uint32_t)(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)));
    p->i += 12;
    return 0;
}

/* The byte a one-letter escape stands for, or -1. */
static int simple_escape(char e)
{
    switch (e) {
    case '"':
    case '\\':
    case '/':
        return e;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    }
    return -1;
}

/* Parses the string at p->i (a '"') into a fresh NUL-terminated buffer. Decoding never grows the
 * text (an escape of 6 or 12 bytes yields at most 3 or 4), so the raw length bounds the output. */
static int parse_string(struct parser *p, char **out, size_t *outlen)
{
    size_t start = p->i, end = p->i + 1;
    while (end < p->n && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n) return fail(p, start, "unterminated string starting");
    char *buf = malloc(end - start), *d = buf;
    if (!buf) return -ENOMEM;
    int rc = 0;
    p->i = start + 1;
    while (p->i < end && rc == 0) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '\\') {
            char e = p->s[p->i + 1];
            if (e == 'u')
                rc = unicode_escape(p, end, &d);
            else if ((rc = simple_escape(e)) >= 0)
                *d++ = (char)rc, p->i += 2, rc = 0;
            else if (e > 0x20 && e < 0x7f)
                rc = fail(p, p->i, "invalid escape '\\%c'", e);
            else
                rc = fail(p, p->i, "invalid escape");
        } else if (c < 0x20) {
            rc = fail(p, p->i, "control character 0x%02x in string (must be escaped)", c);
        } else {
            size_t k = utf8_seq((const unsigned char *)p->s + p->i, end - p->i);
            if (!k) {
                rc = fail(p, p->i, "invalid UTF-8 in string");
            } else {
                memcpy(d, p->s + p->i, k);
                d += k;
                p->i += k;
            }
        }
    }
    if (rc) {
        free(buf);
        return rc;
    }
    *d = '\0';
    *outlen = (size_t)(d - buf);
    *out = buf;
    p->i = end + 1;
    return 0;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* RFC 8259 number grammar; the source text is kept so output repeats it exactly. */
static int parse_number(struct parser *p, struct spate_json *v)
{
    size_t start = p->i;
    const char *s = p->s;
    if (p->i < p->n && s[p->i] == '-') p->i++;
    if (p->i < p->n && s[p->i] == '0') {
        p->i++;
        if (p->i < p->n && is_digit(s[p->i]))
            return fail(p, start, "invalid number (leading zero)");
    } else if (p->i < p->n && is_digit(s[p->i])) {
        while (p->i < p->n && is_digit(s[p->i]))
            p->i++;
    } else {
        return fail(p, start, "invalid number");
    }
    if (p->i < p->n && s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || !is_digit(s[p->i]))
            return fail(p, start, "invalid number (digits must follow '.')");
        while (p->i < p->n && is_digit(s[p->i]))
            p->i++;
    }
    if (p->i < p->n && (s[p->i] == 'e' || s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (s[p->i] == '+' || s[p->i] == '-')) p->i++;
        if (p->i >= p->n || !is_digit(s[p->i]))
            return fail(p, start, "invalid number (digits must follow the exponent)");
        while (p->i < p->n && is_digit(s[p->i]))
            p->i++;
    }
    v->len = p->i - start;
    v->str = malloc(v->len + 1);
    if (!v->str) return -ENOMEM;
    memcpy(v->str, s + start, v->len);
    v->str[v->len] = '\0';
    v->type = SPATE_JSON_NUMBER;
    return 0;
}

static void skip_ws(struct parser *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

/* Takes ownership of key and val, also on failure. */
static int add_member(struct spate_json *c, char *key, size_t key_len, struct spate_json *val)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        struct member *m = realloc(c->m, cap * sizeof *m);
        if (!m) {
            free(key);
            spate_json_free(val);
            return -ENOMEM;
        }
        c->m = m;
        c->cap = cap;
    }
    c->m[c->count++] = (struct member){key, key_len, val};
    return 0;
}

static int parse_value(struct parser *p, int depth, struct spate_json **out);

/* Parses the array or object whose opening bracket is at p->i into v. */
static int parse_container(struct parser *p, int depth, struct spate_json *v)
{
    int obj = p->s[p->i] == '{';
    char close = obj ? '}' : ']';
    if (depth >= SPATE_JSON_MAX_DEPTH)
        return fail(p, p->i, "nesting deeper than %d levels", SPATE_JSON_MAX_DEPTH);
    v->type = obj ? SPATE_JSON_OBJECT : SPATE_JSON_ARRAY;
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        struct spate_json *val;
        int rc;
        skip_ws(p);
        if (obj) {
            if (p->i >= p->n || p->s[p->i] != '"') return unexpected(p, "expected a string key");
            if ((rc = parse_string(p, &key, &key_len))) return rc;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                return unexpected(p, "expected ':'");
            }
            p->i++;
        }
        if ((rc = parse_value(p, depth + 1, &val))) {
            free(key);
            return rc;
        }
        if ((rc = add_member(v, key, key_len, val))) return rc;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
        } else if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return 0;
        } else {
            return unexpected(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

static int literal(struct parser *p, const char *word, enum spate_json_type t, struct spate_json *v)
{
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0)
        return unexpected(p, "expected a value");
    p->i += k;
    v->type = t;
    return 0;
}

static int parse_value(struct parser *p, int depth, struct spate_json **out)
{
    struct spate_json *v = calloc(1, sizeof *v);
    int rc;
    *out = NULL;
    if (!v) return -ENOMEM;
    skip_ws(p);
    char c = p->i < p->n ? p->s[p->i] : '\0';
    switch (c) {
    case '{':
    case '[':
        rc = parse_container(p, depth, v);
        break;
    case '"':
        v->type = SPATE_JSON_STRING;
        rc = parse_string(p, &v->str, &v->len);
        break;
    case 't':
        rc = literal(p, "true", SPATE_JSON_TRUE, v);
        break;
    case 'f':
        rc = literal(p, "false", SPATE_JSON_FALSE, v);
        break;
    case 'n':
        rc = literal(p, "null", SPATE_JSON_NULL, v);
        break;
    default:
        rc = c == '-' || is_digit(c) ? parse_number(p, v) : unexpected(p, "expected a value");
    }
    if (rc) {
        spate_json_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int spate_json_parse(const char *s, size_t n, struct spate_json **out, char *err, size_t errlen)
{
    struct parser p = {s ? s : "", s ? n : 0, 0, err, errlen};
    struct spate_json *v;
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    int rc = parse_value(&p, 0, &v);
    if (rc) return rc;
    skip_ws(&p);
    if (p.i < p.n) {
        spate_json_free(v);
        return unexpected(&p, "unexpected data after the value");
    }
    *out = v;
    return 0;
}

void spate_json_free(struct spate_json *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->count; i++) {
        free(v->m[i].key);
        spate_json_free(v->m[i].val);
    }
    free(v->m);
    free(v->str);
    free(v);
}

enum spate_json_type spate_json_type(const struct spate_json *v)
{
    return v->type;
}

const struct spate_json *spate_json_get(const struct spate_json *obj, const char *key)
{
    if (!obj || obj->type != SPATE_JSON_OBJECT || !key) return NULL;
    size_t k = strlen(key);
    for (size_t i = obj->count; i-- > 0;)
        if (obj->m[i].key_len == k && memcmp(obj->m[i].key, key, k) == 0) return obj->m[i].val;
    return NULL;
}

const char *spate_json_str(const struct spate_json *v, size_t *len)
{
    if (!v || v->type != SPATE_JSON_STRING) return NULL;
    if (len) *len = v->len;
    return v->str;
}

int spate_json_u64(const struct spate_json *v, uint64_t *out)
{
    if (!v || v->type != SPATE_JSON_NUMBER) return -EINVAL;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        unsigned d = (unsigned)(v->str[i] - '0');
        if (d > 9) return -EINVAL; /* '-', '.', 'e' */
        if (x > (UINT64_MAX - d) / 10) return -ERANGE;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

int spate_json_double(const struct spate_json *v, double *out)
{
    if (!v || v->type != SPATE_JSON_NUMBER) return -EINVAL;
    char *end;
    double x = strtod(v->str, &end); /* the parser has checked the syntax */
    if (end != v->str + v->len) return -EINVAL;
    if (!isfinite(x)) return -ERANGE; /* an underflow to 0 or a denormal is fine */
    *out = x;
    return 0;
}

size_t spate_json_count(const struct spate_json *v)
{
    if (!v || (v->type != SPATE_JSON_ARRAY && v->type != SPATE_JSON_OBJECT)) return 0;
    return v->count;
}

const struct spate_json *spate_json_at(const struct spate_json *v, size_t i, const char **key)
{
    if (key) *key = NULL;
    if (i >= spate_json_count(v)) return NULL;
    if (key) *key = v->m[i].key;
    return v->m[i].val;
}

const char *spate_json_key(const struct spate_json *obj, size_t i, size_t *len)
{
    if (!obj || obj->type != SPATE_JSON_OBJECT || i >= obj->count) return NULL;
    if (len) *len = obj->m[i].key_len;
    return obj->m[i].key;
}

/* 0: copied as is; else the character after the backslash ('u' = \u00XX). */
static const char json_esc[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['\b'] = 'b',
    ['\f'] = 'f', [0] = 'u',     [1] = 'u',    [2] = 'u',    [3] = 'u',    [4] = 'u',
    [5] = 'u',    [6] = 'u',     [7] = 'u',    [11] = 'u',   [14] = 'u',   [15] = 'u',
    [16] = 'u',   [17] = 'u',    [18] = 'u',   [19] = 'u',   [20] = 'u',   [21] = 'u',
    [22] = 'u',   [23] = 'u',    [24] = 'u',   [25] = 'u',   [26] = 'u',   [27] = 'u',
    [28] = 'u',   [29] = 'u',    [30] = 'u',   [31] = 'u',   [0x7f] = 'u',
};

int spate_json_add_string(struct spate_text *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Most strings need no escapes: reserve once, then copy unescaped runs in bulk. */
    int rc = spate_text_grow(b, n + 2);
    if (!rc) rc = spate_text_add(b, "\"", 1);
    if (rc) return rc;
    size_t i = 0;
    while (rc == 0) {
        size_t run = i;
        while (i < n && !json_esc[(unsigned char)s[i]])
            i++;
        rc = spate_text_add(b, s + run, i - run);
        if (rc || i == n) break;
        unsigned char c = (unsigned char)s[i++];
        char esc[6] = {'\\', json_esc[c], '0', '0', hex[c >> 4], hex[c & 15]};
        rc = spate_text_add(b, esc, esc[1] == 'u' ? 6 : 2);
    }
    return rc ? rc : spate_text_add(b, "\"", 1);
}

int spate_json_write(struct spate_text *b, const struct spate_json *v)
{
    int rc = 0;
    switch (v->type) {
    case SPATE_JSON_NULL:
        return spate_text_add(b, "null", 4);
    case SPATE_JSON_FALSE:
        return spate_text_add(b, "false", 5);
    case SPATE_JSON_TRUE:
        return spate_text_add(b, "true", 4);
    case SPATE_JSON_NUMBER:
        return spate_text_add(b, v->str, v->len);
    case SPATE_JSON_STRING:
        return spate_json_add_string(b, v->str, v->len);
    case SPATE_JSON_ARRAY:
    case SPATE_JSON_OBJECT:
        rc = spate_text_add(b, v->type == SPATE_JSON_ARRAY ? "[" : "{", 1);
        for (size_t i = 0; i < v->count && rc == 0; i++) {
            if (i) rc = spate_text_add(b, ",", 1);
            if (rc == 0 && v->type == SPATE_JSON_OBJECT) {
                rc = spate_json_add_string(b, v->m[i].key, v->m[i].key_len);
                if (rc == 0) rc = spate_text_add(b, ":", 1);
            }
            if (rc == 0) rc = spate_json_write(b, v->m[i].val);
        }
        if (rc == 0) rc = spate_text_add(b, v->type == SPATE_JSON_ARRAY ? "]" : "}", 1);
        return rc;
    }
    return -EINVAL;
}
