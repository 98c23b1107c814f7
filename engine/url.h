/* URL parsing for http and https request URLs, and redirect resolution (RFC 3986 §5).
 * Strict on purpose: anything that could be read two ways by two parsers is refused. */
#ifndef SPATE_URL_H
#define SPATE_URL_H
#include <stddef.h>
#include <stdint.h>

#define SPATE_URL_MAX 65536 /* longest URL accepted, in bytes */

struct spate_url {
    char *buf; /* owns every string below (one allocation) */
    /* Lowercased; one trailing dot stripped; an IPv6 literal without brackets, in the canonical
     * inet_ntop form. */
    const char *host;
    /* Host header value: host (IPv6 in brackets) plus ":port" only when not the default. */
    const char *authority;
    /* Request target: path + "?" + query, "/" when the path is empty; fragment dropped; bytes as
     * given (no decoding), except bytes >= 0x80, which are percent-encoded (%C3%A9). */
    const char *target;
    const char *userinfo; /* raw "user:pass" or "user" (non-ASCII %XX); NULL when none or empty */
    /* the small fields last, packed: a queued request embeds this struct (<= 256 bytes each) */
    uint16_t port;         /* explicit or default 80/443 */
    unsigned char https;   /* 1 for https, 0 for http (spate_url_scheme names it) */
    unsigned char host_ip; /* 0 = name, 4 = IPv4 dotted quad, 6 = IPv6 literal */
};

/* "https" or "http". */
static inline const char *spate_url_scheme(const struct spate_url *u)
{
    return u->https ? "https" : "http";
}

/* Parses s (NUL-terminated) into u. Returns 0, -EINVAL with err naming the problem, or -ENOMEM.
 * err may be NULL or errlen 0. On error u is zeroed: nothing to free. No dot-segment removal. */
int spate_url_parse(struct spate_url *u, const char *s, char *err, size_t errlen);
/* The same checks and messages as spate_url_parse, without building anything. */
int spate_url_check(const char *s, char *err, size_t errlen);
/* Frees what u owns and zeroes it. NULL-safe, idempotent. */
void spate_url_fini(struct spate_url *u);
/* Resolves ref (absolute, //host/path, /path, relative path, ?query, #frag) against base per
 * RFC 3986 §5.2 (dot segments removed from the resulting path), then parses it into out.
 * Relative references keep base's userinfo. An empty ref is refused ("empty URL").
 * Returns as spate_url_parse. */
int spate_url_resolve(struct spate_url *out, const struct spate_url *base, const char *ref,
                      char *err, size_t errlen);
/* Returns 1 if a and b have the same origin (scheme, host, port), else 0. */
int spate_url_same_origin(const struct spate_url *a, const struct spate_url *b);

#endif
