/* HTTP/1.1 on the wire: the request writer and the response parser (llhttp glue with the checks
 * and limits llhttp 8.1 does not make itself: see HOSTILE.md-derived notes in http1.c). */
#ifndef SPATE_HTTP1_H
#define SPATE_HTTP1_H
#include "buf.h"
#include "spate.h"
#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

/* ---- request writer ---- */

struct spate_http1_req {
    const char *method;    /* validated token */
    const char *authority; /* Host header value */
    const char *target;    /* path and query */
    const char *userinfo;  /* "user:pass" from the URL, or NULL */
    const struct spate_header *headers;
    size_t nheaders;
    const char *user_agent; /* NULL or "" = none */
    const void *body;
    size_t body_len;
    int has_body; /* send Content-Length even when body_len == 0 */
};

#define SPATE_HTTP1_MAX_REQUEST_HEAD 65536

/* Checks a method token: 0 or -EINVAL with err. */
int spate_http1_check_method(const char *m, char *err, size_t errlen);
/* Checks one user header (RFC 9110 token name; value without CR, LF, NUL or other controls but
 * HTAB; framing headers refused since spate sets them). 0 or -EINVAL with err. */
int spate_http1_check_header(const char *name, const char *value, char *err, size_t errlen);
/* Appends the request head and body to out. Inputs must have passed the checks above.
 * 0, -ENOMEM, or -EINVAL when the head would exceed SPATE_HTTP1_MAX_REQUEST_HEAD (err says so). */
int spate_http1_render(struct spate_buf *out, const struct spate_http1_req *r, char *err,
                       size_t errlen);
/* 1 for methods that may be repeated safely (GET HEAD PUT DELETE OPTIONS TRACE). */
int spate_http1_idempotent(const char *method);

/* ---- response parser ---- */

struct spate_http1_limits {
    size_t max_header_bytes; /* status line + fields, summed across fragments and 1xx responses */
    unsigned max_headers;
    uint64_t max_body;
};

/* Where a response goes. Either callback may be NULL. */
struct spate_http1_sink {
    /* One whole header field (joined across fragments); only called when collect_headers. */
    void (*header)(void *owner, const char *name, size_t nlen, const char *value, size_t vlen);
    /* Body bytes (de-chunked). Nonzero return aborts the response with SPATE_E_INPUT. */
    int (*body)(void *owner, const char *p, size_t n);
    /* Called when the header section is complete: nonzero says the owner will not use the body
     * (a redirect being followed). A small framed body is still read, to keep the connection;
     * any other body is skipped and the connection is not reused. */
    int (*unwanted_body)(void *owner, int status);
};

/* an unwanted body up to this is read to keep the connection */
#define SPATE_HTTP1_DRAIN_MAX 65536

enum spate_http1_status { SPATE_H1_MORE, SPATE_H1_DONE, SPATE_H1_ERROR };

struct spate_http1_resp {
    llhttp_t p;
    const struct spate_http1_sink *sink;
    void *owner;
    const struct spate_http1_limits *lim;
    struct spate_buf *acc; /* header accumulation (owned by the caller), NULL = don't collect */
    size_t name_len;
    size_t header_bytes;
    uint64_t body_bytes;
    unsigned nheaders, interim, ext_bytes;
    int status;
    unsigned char head_request, started, complete, keep_alive, dropped;
    unsigned char in_te, te_headers, tname_len, tval_len; /* Transfer-Encoding tracking */
    char tname[17], tval[7];
    enum spate_error_kind kind; /* on SPATE_H1_ERROR */
    const char *why;            /* static text of the error */
    uint64_t why_num;           /* number quoted in the message, if any */
};

/* Prepares r for one response. head_request: the request was HEAD (no body will follow). */
void spate_http1_resp_init(struct spate_http1_resp *r, const struct spate_http1_limits *lim,
                           const struct spate_http1_sink *sink, void *owner, struct spate_buf *acc,
                           int head_request);
/* Feeds bytes. Returns MORE (all used), DONE (final response complete; *used = bytes that
 * belonged to it, anything after is unsolicited), or ERROR (r->kind, spate_http1_describe). */
enum spate_http1_status spate_http1_feed(struct spate_http1_resp *r, const char *p, size_t n,
                                         size_t *used);
/* The peer closed: DONE for a body delimited by close, else ERROR. */
enum spate_http1_status spate_http1_eof(struct spate_http1_resp *r);
/* 1 once any byte of a response was parsed. */
static inline int spate_http1_started(const struct spate_http1_resp *r)
{
    return r->started;
}
/* Writes the error message. */
void spate_http1_describe(const struct spate_http1_resp *r, char *buf, size_t len);

#endif
