/* HTTP/1.1 request writer and llhttp response glue.
 * llhttp 8.1 (Debian 12) is built in strict mode, yet still accepts HTTP/2.0 and 1-digit status
 * codes and reads a body after 204/304/1xx: the checks below close those gaps. Limits are counted
 * across llhttp's callback fragments, since one header may arrive in many pieces. */
#include "http1.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_INTERIM 16
#define MAX_CHUNK_EXT 4096

/* ---------- request writer ---------- */

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int bad_token(const char *s)
{
    if (!*s) return 1;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s)) return 1;
    return 0;
}

/* Quotes at most 40 bytes of s with control and non-ASCII bytes as \xNN, so an error message
 * never carries a raw CR or LF to the terminal. */
static void quote(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i] && i < 40 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

int spate_http1_check_method(const char *m, char *err, size_t errlen)
{
    if (bad_token(m)) {
        char q[200];
        quote(q, sizeof(q), m);
        snprintf(err, errlen, "invalid method \"%s\" (must be an HTTP token)", q);
        return -EINVAL;
    }
    return 0;
}

int spate_http1_check_header(const char *name, const char *value, char *err, size_t errlen)
{
    if (bad_token(name)) {
        char q[200];
        quote(q, sizeof(q), name);
        snprintf(err, errlen, "invalid header name \"%s\"", q);
        return -EINVAL;
    }
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        if ((*v < 0x20 && *v != '\t') || *v == 0x7f) {
            snprintf(err, errlen, "invalid character 0x%02x in header value of \"%.40s\"", *v,
                     name);
            return -EINVAL;
        }
    }
    if (!strcasecmp(name, "Content-Length") || !strcasecmp(name, "Transfer-Encoding")) {
        snprintf(err, errlen, "header \"%s\" is set by spate and cannot be given", name);
        return -EINVAL;
    }
    return 0;
}

int spate_http1_idempotent(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!strcmp(m, ok[i])) return 1;
    return 0;
}

static int has_header(const struct spate_http1_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return 1;
    return 0;
}

static int unhex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t spate_base64(char *out, const void *in, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = in;
    char *p = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        *p++ = b64[v >> 18];
        *p++ = b64[(v >> 12) & 63];
        *p++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *p++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *p = 0;
    return (size_t)(p - out);
}

int spate_header_check(const char *name, const char *value, char *err, size_t errlen)
{
    return spate_http1_check_header(name, value, err, errlen);
}

int spate_method_check(const char *method, char *err, size_t errlen)
{
    return spate_http1_check_method(method, err, errlen);
}

/* Basic credentials from URL userinfo, percent-decoded as curl does. */
static int add_basic(struct spate_buf *out, const char *ui)
{
    size_t len = strlen(ui);
    unsigned char *raw = malloc(len + 1);
    char *enc = malloc(4 * ((len + 2) / 3) + 1);
    size_t n = 0;
    int rc = -ENOMEM;
    if (raw && enc) {
        for (const char *s = ui; *s; s++) {
            int h, l;
            if (*s == '%' && (h = unhex(s[1])) >= 0 && (l = unhex(s[2])) >= 0) {
                raw[n++] = (unsigned char)(h * 16 + l);
                s += 2;
            } else {
                raw[n++] = (unsigned char)*s;
            }
        }
        spate_base64(enc, raw, n);
        rc = spate_buf_adds(out, "Authorization: Basic ");
        if (!rc) rc = spate_buf_adds(out, enc);
        if (!rc) rc = spate_buf_adds(out, "\r\n");
    }
    free(raw);
    free(enc);
    return rc;
}

static int wants_length(const struct spate_http1_req *r)
{
    return r->has_body || !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
           !strcmp(r->method, "PATCH");
}

/* Appends "name: value\r\n" without printf: the writer runs once per request. */
static int add_field(struct spate_buf *out, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    int rc = spate_buf_reserve(out, nl + vl + 4);
    if (rc) return rc;
    char *p = out->data + out->len;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl);
    memcpy(p + nl + 2 + vl, "\r\n", 2);
    out->len += nl + vl + 4;
    return 0;
}

int spate_http1_render(struct spate_buf *out, const struct spate_http1_req *r, char *err,
                       size_t errlen)
{
    size_t start = out->len;
    int rc = spate_buf_adds(out, r->method);
    if (!rc) rc = spate_buf_adds(out, " ");
    if (!rc) rc = spate_buf_adds(out, r->target);
    if (!rc) rc = spate_buf_adds(out, " HTTP/1.1\r\n");
    if (!rc && !has_header(r, "Host")) rc = add_field(out, "Host", r->authority);
    if (!rc && r->user_agent && *r->user_agent && !has_header(r, "User-Agent"))
        rc = add_field(out, "User-Agent", r->user_agent);
    if (!rc && !has_header(r, "Accept")) rc = spate_buf_adds(out, "Accept: */*\r\n");
    if (!rc && r->userinfo && !has_header(r, "Authorization")) rc = add_basic(out, r->userinfo);
    for (size_t i = 0; !rc && i < r->nheaders; i++)
        rc = add_field(out, r->headers[i].name, r->headers[i].value);
    if (!rc && wants_length(r)) rc = spate_buf_printf(out, "Content-Length: %zu\r\n", r->body_len);
    if (!rc) rc = spate_buf_adds(out, "\r\n");
    if (rc) return rc;
    if (out->len - start > SPATE_HTTP1_MAX_REQUEST_HEAD) {
        out->len = start;
        snprintf(err, errlen, "request header too large (limit %d bytes)",
                 SPATE_HTTP1_MAX_REQUEST_HEAD);
        return -EINVAL;
    }
    return spate_buf_add(out, r->body, r->body_len);
}

/* ---------- response parser ---------- */

static struct spate_http1_resp *R(llhttp_t *p)
{
    return p->data;
}

static int fail(struct spate_http1_resp *r, enum spate_error_kind k, const char *why, uint64_t num)
{
    r->kind = k;
    r->why = why;
    r->why_num = num;
    return HPE_USER;
}

static int count_header_bytes(struct spate_http1_resp *r, size_t n)
{
    r->header_bytes += n;
    if (r->header_bytes > r->lim->max_header_bytes)
        return fail(r, SPATE_E_TOO_LARGE, "response header section exceeds %llu bytes",
                    r->lim->max_header_bytes);
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    R(p)->started = 1;
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    return count_header_bytes(R(p), n);
}

static int collect(struct spate_http1_resp *r, const char *at, size_t n)
{
    if (r->acc && spate_buf_add(r->acc, at, n))
        return fail(r, SPATE_E_TOO_LARGE, "out of memory storing response headers", 0);
    return 0;
}

/* Framing checks need the Transfer-Encoding header even when nobody collects headers (bench):
 * a few bytes of name and value are kept here, across fragments. */
static void track(char *dst, unsigned char *len, size_t cap, const char *at, size_t n)
{
    /* saturates at cap + 1 ("longer than cap"): a counter that wrapped could make a long
     * name look like "Transfer-Encoding" */
    if (*len > cap) return;
    size_t room = cap - *len, k = n < room ? n : room;
    memcpy(dst + *len, at, k);
    *len = (unsigned char)(*len + k + (n > room));
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct spate_http1_resp *r = R(p);
    int rc = count_header_bytes(r, n);
    if (!rc) track(r->tname, &r->tname_len, sizeof(r->tname), at, n);
    return rc ? rc : collect(r, at, n);
}

static int on_header_field_complete(llhttp_t *p)
{
    struct spate_http1_resp *r = R(p);
    if (r->tname_len == 0) /* llhttp 8.1 lets ": value" through, even in strict mode */
        return fail(r, SPATE_E_PROTOCOL, "invalid response: empty header name", 0);
    r->in_te = r->tname_len == 17 && !strncasecmp(r->tname, "Transfer-Encoding", 17);
    r->tname_len = 0;
    r->tval_len = 0;
    if (r->in_te && ++r->te_headers > 1)
        return fail(r, SPATE_E_PROTOCOL,
                    "unsupported transfer-coding in response (Transfer-Encoding given twice)", 0);
    r->name_len = r->acc ? r->acc->len : 0;
    if (++r->nheaders > r->lim->max_headers)
        return fail(r, SPATE_E_TOO_LARGE, "too many response headers (more than %llu)",
                    r->lim->max_headers);
    return count_header_bytes(r, 4); /* ": " and CRLF */
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct spate_http1_resp *r = R(p);
    int rc = count_header_bytes(r, n);
    if (!rc && r->in_te) track(r->tval, &r->tval_len, sizeof(r->tval), at, n);
    return rc ? rc : collect(r, at, n);
}

static int is_name(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && !strncasecmp(s, want, n);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct spate_http1_resp *r = R(p);
    /* llhttp 8.1 turns any transfer-coding it does not know into a read-until-close body, and
     * accepts "chunked" twice: only a single "chunked" is framing we can trust. */
    if (r->in_te && !is_name(r->tval, r->tval_len, "chunked"))
        return fail(r, SPATE_E_PROTOCOL, "unsupported transfer-coding in response", 0);
    if (!r->acc) return 0;
    const char *name = r->acc->data, *val = r->acc->data + r->name_len;
    size_t vlen = r->acc->len - r->name_len;
    /* headers of interim (1xx) responses are not the response's: a Location or Retry-After
     * there must not steer anything */
    if (r->sink && r->sink->header && llhttp_get_status_code(p) >= 200)
        r->sink->header(r->owner, name, r->name_len, val, vlen);
    spate_buf_reset(r->acc);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct spate_http1_resp *r = R(p);
    int status = llhttp_get_status_code(p);
    if (llhttp_get_http_major(p) != 1)
        return fail(r, SPATE_E_PROTOCOL, "unsupported HTTP version in status line", 0);
    if (status < 100 || status > 599)
        return fail(r, SPATE_E_PROTOCOL, "invalid status code %llu", (uint64_t)status);
    r->status = status;
    if (status == 101) return fail(r, SPATE_E_PROTOCOL, "unexpected 101 Switching Protocols", 0);
    if (status < 200) {
        if (++r->interim > MAX_INTERIM)
            return fail(r, SPATE_E_PROTOCOL, "too many interim responses (more than %llu)",
                        MAX_INTERIM);
        r->nheaders = 0;
        r->te_headers = 0;
        return 1;
    }
    /* no body for these, whatever Content-Length says (llhttp 8.1 would wait for it) */
    if (r->head_request || status == 204 || status == 304) return 1;
    /* an unwanted body is skipped unless it is small and framed: then it is cheaper to read it
     * than to lose the connection */
    if (r->sink && r->sink->unwanted_body && r->sink->unwanted_body(r->owner, status) &&
        !((p->flags & F_CONTENT_LENGTH) && p->content_length <= SPATE_HTTP1_DRAIN_MAX)) {
        r->dropped = 1;
        return 1;
    }
    /* a declared length beyond the limit fails now, not after downloading up to it */
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->lim->max_body)
        return fail(r, SPATE_E_TOO_LARGE,
                    "response body exceeds %llu bytes (its Content-Length says more)",
                    r->lim->max_body);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct spate_http1_resp *r = R(p);
    r->body_bytes += n;
    if (r->body_bytes > r->lim->max_body)
        return fail(r, SPATE_E_TOO_LARGE, "response body exceeds %llu bytes", r->lim->max_body);
    if (r->sink && r->sink->body && r->sink->body(r->owner, at, n))
        return fail(r, SPATE_E_INPUT, "body consumer refused the data", 0);
    return 0;
}

static int on_chunk_ext(llhttp_t *p, const char *at, size_t n)
{
    struct spate_http1_resp *r = R(p);
    (void)at;
    r->ext_bytes += (unsigned)n;
    if (r->ext_bytes > MAX_CHUNK_EXT)
        return fail(r, SPATE_E_TOO_LARGE, "chunk extensions exceed %llu bytes", MAX_CHUNK_EXT);
    return 0;
}

static int on_chunk_header(llhttp_t *p)
{
    R(p)->ext_bytes = 0;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct spate_http1_resp *r = R(p);
    if (r->status < 200) return 0; /* an interim response: the real one follows */
    r->complete = 1;
    r->keep_alive = !r->dropped && llhttp_should_keep_alive(p);
    /* pause so that any bytes after this response stay visible to the caller */
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_extension_name = on_chunk_ext,
    .on_chunk_extension_value = on_chunk_ext,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

void spate_http1_resp_init(struct spate_http1_resp *r, const struct spate_http1_limits *lim,
                           const struct spate_http1_sink *sink, void *owner, struct spate_buf *acc,
                           int head_request)
{
    memset(r, 0, sizeof(*r));
    llhttp_init(&r->p, HTTP_RESPONSE, &settings);
    r->p.data = r;
    r->lim = lim;
    r->sink = sink;
    r->owner = owner;
    r->acc = acc;
    r->head_request = (unsigned char)head_request;
    if (acc) spate_buf_reset(acc);
}

static enum spate_http1_status parse_error(struct spate_http1_resp *r, llhttp_errno_t e)
{
    /* llhttp renames HPE_USER to HPE_CB_* for some callbacks: our own cause is whatever
     * fail() recorded, whatever code came back */
    if (e == HPE_INVALID_STATUS && !r->why) {
        r->kind = SPATE_E_PROTOCOL;
        r->why = "invalid status code in status line";
        r->why_num = 0;
    } else if (!r->why) {
        r->kind = SPATE_E_PROTOCOL;
        r->why = e == HPE_PAUSED_UPGRADE ? "unexpected protocol upgrade"
                                         : llhttp_get_error_reason(&r->p);
        if (!r->why) r->why = llhttp_errno_name(e);
        r->why_num = 0;
    }
    return SPATE_H1_ERROR;
}

enum spate_http1_status spate_http1_feed(struct spate_http1_resp *r, const char *p, size_t n,
                                         size_t *used)
{
    llhttp_errno_t e = llhttp_execute(&r->p, p, n);
    if (e == HPE_OK) {
        *used = n;
        return SPATE_H1_MORE;
    }
    if (e == HPE_PAUSED && r->complete) {
        const char *pos = llhttp_get_error_pos(&r->p);
        *used = pos ? (size_t)(pos - p) : n;
        return SPATE_H1_DONE;
    }
    return parse_error(r, e);
}

enum spate_http1_status spate_http1_eof(struct spate_http1_resp *r)
{
    if (r->complete) return SPATE_H1_DONE;
    llhttp_errno_t e = llhttp_finish(&r->p);
    if ((e == HPE_OK || e == HPE_PAUSED) && r->complete) {
        r->keep_alive = 0;
        return SPATE_H1_DONE;
    }
    r->kind = SPATE_E_RESET;
    r->why_num = 0;
    if (!r->started)
        r->why = "server closed the connection without a response";
    else if (r->status < 200)
        r->why = "connection closed before the end of the response headers";
    else
        r->why = "connection closed before the end of the response body (truncated)";
    return SPATE_H1_ERROR;
}

/* The static texts carry at most one "%llu", replaced here without a non-literal format. */
static void expand(char *buf, size_t len, const char *why, uint64_t num)
{
    const char *mark = strstr(why, "%llu");
    if (!mark) {
        snprintf(buf, len, "%s", why);
        return;
    }
    snprintf(buf, len, "%.*s%llu%s", (int)(mark - why), why, (unsigned long long)num, mark + 4);
}

void spate_http1_describe(const struct spate_http1_resp *r, char *buf, size_t len)
{
    const char *why = r->why ? r->why : "unknown parser error";
    int plain = r->kind != SPATE_E_PROTOCOL || !strncmp(why, "unexpected", 10) ||
                !strncmp(why, "unsupported", 11) || !strncmp(why, "too many", 8) ||
                !strncmp(why, "invalid status", 14);
    if (plain) {
        expand(buf, len, why, r->why_num);
        return;
    }
    snprintf(buf, len, "invalid response: %s", why);
}
