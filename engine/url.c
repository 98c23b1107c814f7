/* URL parser: splits an http(s) URL into host, port, Host-header authority and request target,
 * refusing every form that another parser could read differently; plus redirect resolution. */
#include "url.h"
#include "err.h"
#include "buf.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUOTE_MAX 64 /* bytes of user input echoed in a message */

/* The pieces of a URL as offsets into the caller's string, before any copying. */
struct parts {
    int https;
    const char *user; /* NULL when there is no '@' */
    size_t user_len;
    const char *host; /* without brackets */
    size_t host_len;
    int bracketed;
    const char *port; /* NULL when there is no ':' */
    size_t port_len;
    const char *path; /* path and query, up to the fragment */
    size_t path_len;
};

/* Character classes for the scanning loops (a table lookup per byte instead of a chain of
 * compares: every URL is parsed twice, once when checked and once when submitted). */
enum { C_CTL = 1, C_AUTH_END = 2, C_NAME = 4, C_HIGH = 8 };
static const unsigned char cclass[256] = {
    [0 ... 0x20] = C_CTL,   [0x7f] = C_CTL,         [0x80 ... 0xff] = C_HIGH,
    ['0' ... '9'] = C_NAME, ['A' ... 'Z'] = C_NAME, ['a' ... 'z'] = C_NAME,
    ['-'] = C_NAME,         ['_'] = C_NAME,         ['.'] = C_NAME,
    ['/'] = C_AUTH_END,     ['?'] = C_AUTH_END,     ['#'] = C_AUTH_END,
};

/* Index of the first byte of s[from..n) in class cls, or n. */
static size_t find_class(const char *s, size_t from, size_t n, unsigned cls)
{
    while (from < n && !(cclass[(unsigned char)s[from]] & cls))
        from++;
    return from;
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static int is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}
static int is_scheme_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}
static int ends_authority(int c)
{
    return c == '/' || c == '?' || c == '#';
}

/* Copies at most QUOTE_MAX bytes of s for a message, escaping anything not printable ASCII, so an
 * error line never carries control bytes or a megabyte of input. dst needs QUOTE_MAX * 4 + 4. */
static const char *quote(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *d = dst;
    for (size_t i = 0; i < n && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *d++ = (char)c;
        } else {
            *d++ = '\\';
            *d++ = 'x';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        }
    }
    if (n > QUOTE_MAX) d += sprintf(d, "...");
    *d = '\0';
    return dst;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

/* Length of the "scheme:" candidate (without the colon), or 0 when s does not start with one. */
static size_t scheme_len(const char *s, size_t n)
{
    if (n == 0 || !is_alpha(s[0])) return 0;
    size_t i = 1;
    while (i < n && is_scheme_char(s[i]))
        i++;
    return (i < n && s[i] == ':') ? i : 0;
}

/* Reports the first byte <= 0x20 or 0x7f. Inside the host it is an invalid host, so the message
 * shows which host; elsewhere it is an invalid character of the URL. */
static int bad_char(const char *s, size_t n, size_t pos, char *err, size_t errlen)
{
    unsigned c = (unsigned char)s[pos];
    size_t i = 0;
    while (i < n && is_scheme_char(s[i]))
        i++;
    if (i > 0 && is_alpha(s[0]) && i + 2 < n && s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
        size_t a = i + 3, e = a, h = a, he;
        while (e < n && !ends_authority(s[e]))
            e++;
        for (size_t k = a; k < e; k++)
            if (s[k] == '@') h = k + 1;
        he = h;
        if (he < e && s[he] == '[') {
            while (he < e && s[he] != ']')
                he++;
        } else {
            while (he < e && s[he] != ':')
                he++;
        }
        if (pos >= h && pos < he) {
            char q[QUOTE_MAX * 4 + 4];
            return spate_errf(err, errlen, "invalid host \"%s\" (invalid character 0x%02x)",
                              quote(q, s + h, he - h), c);
        }
    }
    return spate_errf(err, errlen, "invalid character 0x%02x in URL", c);
}

/* Splits "host[:port]" or "[v6][:port]" (h up to end); a second colon is a bad port, or an
 * unbracketed IPv6 address when the whole thing reads as one. */
static int split_hostport(struct parts *p, const char *h, const char *end, char *err, size_t errlen)
{
    char q[QUOTE_MAX * 4 + 4];
    if (h < end && *h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb) return spate_errf(err, errlen, "invalid IPv6 literal (missing ']')");
        p->bracketed = 1;
        p->host = h + 1;
        p->host_len = (size_t)(rb - h - 1);
        if (rb + 1 < end && rb[1] != ':')
            return spate_errf(err, errlen,
                              "invalid IPv6 literal (unexpected characters after ']')");
        if (rb + 1 < end) {
            p->port = rb + 2;
            p->port_len = (size_t)(end - rb - 2);
        }
        return 0;
    }
    const char *colon = memchr(h, ':', (size_t)(end - h));
    p->host = h;
    p->host_len = colon ? (size_t)(colon - h) : (size_t)(end - h);
    if (colon) {
        p->port = colon + 1;
        p->port_len = (size_t)(end - colon - 1);
        if (memchr(p->port, ':', p->port_len)) {
            char tmp[INET6_ADDRSTRLEN];
            struct in6_addr a6;
            size_t hl = (size_t)(end - h);
            int v6 = p->host_len == 0;
            if (!v6 && hl < sizeof tmp) {
                memcpy(tmp, h, hl);
                tmp[hl] = '\0';
                v6 = inet_pton(AF_INET6, tmp, &a6) == 1;
            }
            if (v6)
                return spate_errf(err, errlen,
                                  "invalid IPv6 literal (IPv6 addresses need brackets: "
                                  "http://[::1]/)");
            return spate_errf(err, errlen, "invalid port \"%s\"", quote(q, p->port, p->port_len));
        }
    }
    return 0;
}

/* Splits s into parts; checks the scheme and the shape of the authority. */
static int split(struct parts *p, const char *s, size_t n, char *err, size_t errlen)
{
    char q[QUOTE_MAX * 4 + 4];
    size_t sl = scheme_len(s, n);
    if (sl == 0) return spate_errf(err, errlen, "missing scheme (expected http:// or https://)");
    /* "host:8080/x" looks like a scheme followed by a port: say what the user forgot. */
    size_t j = sl + 1;
    while (j < n && is_digit(s[j]))
        j++;
    if (j > sl + 1 && (j == n || ends_authority(s[j])))
        return spate_errf(err, errlen, "missing scheme (expected http:// or https://)");
    if (sl == 4 && strncasecmp(s, "http", 4) == 0)
        p->https = 0;
    else if (sl == 5 && strncasecmp(s, "https", 5) == 0)
        p->https = 1;
    else
        return spate_errf(err, errlen, "unsupported scheme \"%s\" (supported: http, https)",
                          quote(q, s, sl));
    if (n < sl + 3 || s[sl + 1] != '/' || s[sl + 2] != '/')
        return spate_errf(err, errlen, "missing host (expected \"//\" after \"%.*s:\")", (int)sl,
                          s);

    size_t a = sl + 3, e = find_class(s, a, n, C_AUTH_END);
    const char *frag = memchr(s + e, '#', n - e);
    p->path = s + e;
    p->path_len = frag ? (size_t)(frag - p->path) : n - e;

    /* Browsers read '\' as '/', so "evil\@good" names a different host there: refuse it. */
    if (memchr(s + a, '\\', e - a))
        return spate_errf(err, errlen, "invalid character '\\' before the path");
    const char *at = memchr(s + a, '@', e - a);
    if (at) {
        if (memchr(at + 1, '@', (size_t)(s + e - at - 1)))
            return spate_errf(err, errlen,
                              "ambiguous userinfo (more than one '@' before the path)");
        p->user = s + a;
        p->user_len = (size_t)(at - p->user);
        a = (size_t)(at + 1 - s);
    }

    return split_hostport(p, s + a, s + e, err, errlen);
}

/* 1..65535; an empty port means the default. No arithmetic can overflow: we stop past 65535. */
static int parse_port(const struct parts *p, uint16_t *port, char *err, size_t errlen)
{
    char q[QUOTE_MAX * 4 + 4];
    unsigned long v = 0;
    *port = p->https ? 443 : 80;
    if (!p->port || p->port_len == 0) return 0;
    for (size_t i = 0; i < p->port_len; i++) {
        if (!is_digit(p->port[i]))
            return spate_errf(err, errlen, "invalid port \"%s\"", quote(q, p->port, p->port_len));
        v = v * 10 + (unsigned long)(p->port[i] - '0');
        if (v > 65535)
            return spate_errf(err, errlen, "invalid port \"%s\" (must be 1-65535)",
                              quote(q, p->port, p->port_len));
    }
    if (v == 0)
        return spate_errf(err, errlen, "invalid port \"%s\" (must be 1-65535)",
                          quote(q, p->port, p->port_len));
    *port = (uint16_t)v;
    return 0;
}

/* A label that a URL parser following WHATWG would read as a number (decimal or 0x hex). */
static int numeric_label(const char *l, size_t n)
{
    if (n >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) {
        for (size_t i = 2; i < n; i++)
            if (!is_hex(l[i])) return 0;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_digit(l[i])) return 0;
    return n > 0;
}

/* Exactly four decimal parts 0-255 without leading zeros: the only numeric form every resolver
 * and every proxy reads the same way (0177.0.0.1 is octal to some, decimal to others). */
static int dotted_quad(const char *h, size_t n)
{
    size_t parts = 0, i = 0;
    while (i <= n) {
        size_t s = i;
        unsigned v = 0;
        while (i < n && is_digit(h[i]) && i - s < 4)
            v = v * 10 + (unsigned)(h[i++] - '0');
        size_t len = i - s;
        if (len == 0 || len > 3 || v > 255 || (len > 1 && h[s] == '0')) return 0;
        parts++;
        if (i == n) break;
        if (h[i] != '.') return 0;
        i++;
    }
    return parts == 4;
}

/* Checks a host name (one trailing dot already stripped). Returns 0 for a name, 4 for an IPv4
 * literal, or -EINVAL. */
static int check_name(const char *h, size_t n, char *err, size_t errlen)
{
    char q[QUOTE_MAX * 4 + 4];
    for (size_t i = 0; i < n; i++)
        if (!(cclass[(unsigned char)h[i]] & C_NAME))
            return spate_errf(err, errlen, "invalid host \"%s\"", quote(q, h, n));
    if (n > 253)
        return spate_errf(err, errlen, "invalid host \"%s\" (name longer than 253 bytes)",
                          quote(q, h, n));
    size_t s = 0, last = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && h[i] != '.') continue;
        if (i == s)
            return spate_errf(err, errlen, "invalid host \"%s\" (empty label)", quote(q, h, n));
        if (i - s > 63)
            return spate_errf(err, errlen, "invalid host \"%s\" (label longer than 63 bytes)",
                              quote(q, h, n));
        last = s;
        s = i + 1;
    }
    if (!numeric_label(h + last, n - last)) return 0;
    if (!dotted_quad(h, n))
        return spate_errf(err, errlen, "invalid host \"%s\" (non-standard numeric address)",
                          quote(q, h, n));
    return 4;
}

/* Validates the host and writes its canonical form into out (room for 254 bytes). */
static int check_host(const struct parts *p, char *out, int *host_ip, char *err, size_t errlen)
{
    char q[QUOTE_MAX * 4 + 4];
    const char *h = p->host;
    size_t n = p->host_len;
    if (p->bracketed) {
        char tmp[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        /* The zone would end up in the Host header and means nothing to the server. */
        if (memchr(h, '%', n))
            return spate_errf(err, errlen,
                              "invalid IPv6 literal \"%s\" (zone IDs are not supported)",
                              quote(q, h, n));
        if (n == 0 || n >= sizeof tmp)
            return spate_errf(err, errlen, "invalid IPv6 literal \"%s\"", quote(q, h, n));
        memcpy(tmp, h, n);
        tmp[n] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1 || !inet_ntop(AF_INET6, &a6, out, 254))
            return spate_errf(err, errlen, "invalid IPv6 literal \"%s\"", quote(q, h, n));
        *host_ip = 6;
        return 0;
    }
    if (n == 0) return spate_errf(err, errlen, "missing host");
    if (find_class(h, 0, n, C_HIGH) < n)
        return spate_errf(err, errlen,
                          "invalid host \"%s\": internationalized domain names are not "
                          "supported (use the xn-- form)",
                          quote(q, h, n));
    /* "localhost." and "localhost" are one host: one pool key, one certificate name. */
    if (h[n - 1] == '.') n--;
    if (n == 0)
        return spate_errf(err, errlen, "invalid host \"%s\"", quote(q, p->host, p->host_len));
    int rc = check_name(h, n, err, errlen);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)lower(h[i]);
    out[n] = '\0';
    *host_ip = rc;
    return 0;
}

/* Bytes needed for s[0..n) once non-ASCII bytes are percent-encoded. */
static size_t encoded_len(const char *s, size_t n)
{
    size_t len = n;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) len += 2;
    return len;
}

/* Copies s[0..n), percent-encoding non-ASCII bytes; returns the end of what was written. */
static char *encode(char *d, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *d++ = (char)c;
        } else {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        }
    }
    return d;
}

/* Copies n bytes and a NUL; returns the end of the copy (where the NUL is). */
static char *put(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    d[n] = '\0';
    return d + n;
}

static char *put_uint(char *d, unsigned v)
{
    char tmp[12];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *d++ = tmp[--n];
    *d = '\0';
    return d;
}

/* Lays every string out in one allocation: scheme, host, authority, userinfo, target (last, so
 * resolve can shorten it in place). With u NULL, only checks what the layout would check. */
static int build(struct spate_url *u, const struct parts *p, const char *host, int host_ip,
                 uint16_t port, char *err, size_t errlen)
{
    int dflt = port == (p->https ? 443 : 80);
    size_t hl = strlen(host);
    size_t ul = p->user_len ? encoded_len(p->user, p->user_len) : 0;
    size_t tl = encoded_len(p->path, p->path_len);
    int slash = p->path_len == 0 || p->path[0] != '/';
    if (tl + (size_t)slash > SPATE_URL_MAX)
        return spate_errf(err, errlen, "URL too long (limit %d bytes)", SPATE_URL_MAX);
    if (!u) return 0;
    size_t size = (hl + 1) + (hl + 2 + 6 + 1) + (ul + 1) + (tl + 2);
    char *b = malloc(size), *d = b;
    if (!b) return -ENOMEM;
    u->buf = b;
    u->https = (unsigned char)p->https;
    u->host_ip = (unsigned char)host_ip;
    u->port = port;

    u->host = d;
    d = put(d, host, hl) + 1;
    u->authority = d;
    if (host_ip == 6) *d++ = '[';
    d = put(d, host, hl);
    if (host_ip == 6) *d++ = ']';
    if (!dflt) {
        *d++ = ':';
        d = put_uint(d, port);
    }
    *d = '\0';
    d++;
    if (ul) {
        u->userinfo = d;
        d = encode(d, p->user, p->user_len);
        *d++ = '\0';
    }
    u->target = d;
    if (slash) *d++ = '/';
    d = encode(d, p->path, p->path_len);
    *d = '\0';
    return 0;
}

/* Parses into u, or with u NULL only checks. */
static int parse(struct spate_url *u, const char *s, char *err, size_t errlen)
{
    struct parts p;
    char host[256];
    int host_ip = 0, rc;
    uint16_t port;

    if (u) memset(u, 0, sizeof *u);
    memset(&p, 0, sizeof p);
    if (err && errlen) err[0] = '\0';
    if (!s) return spate_errf(err, errlen, "empty URL");
    size_t n = strnlen(s, SPATE_URL_MAX + 1);
    if (n > SPATE_URL_MAX)
        return spate_errf(err, errlen, "URL too long (limit %d bytes)", SPATE_URL_MAX);
    if (is_blank(s, n)) return spate_errf(err, errlen, "empty URL");
    size_t bad = find_class(s, 0, n, C_CTL);
    if (bad < n) return bad_char(s, n, bad, err, errlen);
    if ((rc = split(&p, s, n, err, errlen)) < 0) return rc;
    if ((rc = check_host(&p, host, &host_ip, err, errlen)) < 0) return rc;
    if ((rc = parse_port(&p, &port, err, errlen)) < 0) return rc;
    return build(u, &p, host, host_ip, port, err, errlen);
}

int spate_url_parse(struct spate_url *u, const char *s, char *err, size_t errlen)
{
    return parse(u, s, err, errlen);
}

int spate_url_check(const char *s, char *err, size_t errlen)
{
    return parse(NULL, s, err, errlen);
}

void spate_url_fini(struct spate_url *u)
{
    if (!u) return;
    free(u->buf);
    memset(u, 0, sizeof *u);
}

int spate_url_same_origin(const struct spate_url *a, const struct spate_url *b)
{
    if (!a || !b || !a->host || !b->host) return 0;
    return a->https == b->https && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* RFC 3986 §5.2.4 over p[0..n) (a path starting with '/'), written to out; returns out's length.
 * Works on a private copy because rules B and C rewrite the input's head to "/". */
static size_t remove_dots(char *in, size_t n, char *out)
{
    size_t o = 0;
    while (n) {
        if (n >= 3 && memcmp(in, "../", 3) == 0) {
            in += 3, n -= 3;
        } else if (n >= 2 && memcmp(in, "./", 2) == 0) {
            in += 2, n -= 2;
        } else if (n >= 3 && memcmp(in, "/./", 3) == 0) {
            in += 2, n -= 2;
        } else if (n == 2 && memcmp(in, "/.", 2) == 0) {
            in += 1, n -= 1;
            in[0] = '/';
        } else if ((n >= 4 && memcmp(in, "/../", 4) == 0) ||
                   (n == 3 && memcmp(in, "/..", 3) == 0)) {
            /* drop "/.." but keep a '/' as the head of the rest, then pop one output segment */
            in += 2, n -= 2;
            if (n == 1)
                in[0] = '/';
            else
                in++, n--;
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0) o--;
        } else if ((n == 1 && in[0] == '.') || (n == 2 && memcmp(in, "..", 2) == 0)) {
            n = 0;
        } else {
            size_t k = in[0] == '/' ? 1 : 0;
            while (k < n && in[k] != '/')
                k++;
            memcpy(out + o, in, k);
            o += k;
            in += k, n -= k;
        }
    }
    return o;
}

/* Rewrites u->target with dot segments removed from its path; only ever shortens it. */
static int normalize_target(struct spate_url *u)
{
    char *t = u->buf + (u->target - u->buf);
    size_t tl = strlen(t);
    const char *qm = memchr(t, '?', tl);
    size_t pl = qm ? (size_t)(qm - t) : tl;
    char *tmp = malloc(2 * pl + 1);
    if (!tmp) return -ENOMEM;
    memcpy(tmp, t, pl);
    size_t o = remove_dots(tmp, pl, tmp + pl);
    if (o == 0) tmp[pl + o++] = '/';
    memcpy(t, tmp + pl, o);
    memmove(t + o, t + pl, tl - pl + 1);
    free(tmp);
    return 0;
}

/* Builds the absolute URL text that ref denotes against base (RFC 3986 §5.2.2, before dot
 * removal) into b, NUL-terminated. */
static int merge(struct spate_buf *b, const struct spate_url *base, const char *ref)
{
    int rc = 0;
    if (scheme_len(ref, strlen(ref))) return spate_buf_adds(b, ref);
    rc |= spate_buf_adds(b, spate_url_scheme(base));
    rc |= spate_buf_adds(b, ":");
    if (ref[0] == '/' && ref[1] == '/') return rc | spate_buf_adds(b, ref);
    rc |= spate_buf_adds(b, "//");
    if (base->userinfo) {
        rc |= spate_buf_adds(b, base->userinfo);
        rc |= spate_buf_adds(b, "@");
    }
    rc |= spate_buf_adds(b, base->authority);
    const char *t = base->target;
    size_t pl = strcspn(t, "?");
    if (ref[0] == '/') {
        /* absolute path: nothing from base's path */
    } else if (ref[0] == '?') {
        rc |= spate_buf_add(b, t, pl);
    } else if (ref[0] == '#') {
        rc |= spate_buf_adds(b, t);
    } else {
        size_t keep = pl; /* up to and including the last '/' of base's path */
        while (keep > 0 && t[keep - 1] != '/')
            keep--;
        rc |= spate_buf_add(b, t, keep);
    }
    return rc | spate_buf_adds(b, ref);
}

int spate_url_resolve(struct spate_url *out, const struct spate_url *base, const char *ref,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!base || !base->buf) return spate_errf(err, errlen, "no base URL to resolve against");
    if (!ref) return spate_errf(err, errlen, "empty URL");
    size_t n = strnlen(ref, SPATE_URL_MAX + 1);
    if (n > SPATE_URL_MAX)
        return spate_errf(err, errlen, "URL too long (limit %d bytes)", SPATE_URL_MAX);
    /* An empty Location would mean "this same URL": a redirect loop, so refuse it outright. */
    if (is_blank(ref, n)) return spate_errf(err, errlen, "empty URL");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ref[i];
        if (c <= 0x20 || c == 0x7f) return bad_char(ref, n, i, err, errlen);
    }
    struct spate_buf b;
    spate_buf_init(&b);
    int rc = merge(&b, base, ref);
    if (rc == 0) rc = spate_buf_add(&b, "", 1);
    if (rc)
        rc = -ENOMEM;
    else
        rc = spate_url_parse(out, b.data, err, errlen);
    spate_buf_fini(&b);
    if (rc == 0 && (rc = normalize_target(out)) < 0) spate_url_fini(out);
    return rc;
}
