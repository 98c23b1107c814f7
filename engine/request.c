/* Request objects: a submitted request copied and checked, its head rendered when needed, and
 * finished objects recycled (a batch of a million requests does not pay for a calloc and its
 * buffers each). */
#include "request.h"
#include "attempt.h"
#include "clock.h"
#include "conn.h"
#include "engine.h"
#include "http1.h"
#include "sized.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPARE_MAX 1024

/* The methods most requests use point at these names instead of a copy. */
static const char *const known_methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};

static void free_method(struct spate_req *r)
{
    if (r->method_owned) free(r->method);
    r->method = NULL;
    r->method_owned = 0;
}

void spate_req_set_method(struct spate_req *r, const char *m)
{
    free_method(r);
    for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
        if (!strcmp(m, known_methods[i])) {
            r->method = (char *)known_methods[i];
            return;
        }
    r->method = strdup(m);
    r->method_owned = r->method != NULL;
}

/* Frees what the request owns. */
static void clear_req(struct spate_req *r)
{
    free_method(r);
    spate_url_fini(&r->url);
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    r->headers = NULL;
    r->nheaders = 0;
    r->body = NULL;
    spate_attempt_release(r);
}

void spate_req_free(struct spate_req *r)
{
    struct spate_engine *e = r->e;
    clear_req(r);
    if (r->host) spate_pool_unref(&e->pool, r->host);
    r->host = NULL;
    if (!spate_freelist_push(&e->spare, &r->spare, SPARE_MAX)) free(r);
}

struct spate_req *spate_req_new(struct spate_engine *e)
{
    struct spate_freelist_node *n = spate_freelist_pop(&e->spare);
    struct spate_req *r;
    if (n) {
        r = spate_container_of(n, struct spate_req, spare);
        memset(r, 0, sizeof(*r));
    } else if (!(r = calloc(1, sizeof(*r)))) {
        return NULL;
    }
    r->e = e;
    return r;
}

void spate_req_free_spares(struct spate_engine *e)
{
    struct spate_freelist_node *n;
    while ((n = spate_freelist_pop(&e->spare)))
        free(spate_container_of(n, struct spate_req, spare));
}

static const char *default_method(const struct spate_request *q)
{
    if (q->method && *q->method) return q->method;
    return q->body ? "POST" : "GET";
}

int spate_req_check_parts(const struct spate_request *q, char *err, size_t errlen)
{
    if (!q->url) {
        snprintf(err, errlen, "no URL given");
        return -EINVAL;
    }
    int rc = spate_http1_check_method(default_method(q), err, errlen);
    for (size_t i = 0; !rc && i < q->nheaders; i++) {
        if (!q->headers[i].name || !q->headers[i].value) {
            snprintf(err, errlen, "header %zu has no name or value", i);
            return -EINVAL;
        }
        rc = spate_http1_check_header(q->headers[i].name, q->headers[i].value, err, errlen);
    }
    return rc;
}

int spate_request_check(const struct spate_request *q, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) err = dummy, errlen = sizeof(dummy);
    if (!q) {
        snprintf(err, errlen, "no request given");
        return -EINVAL;
    }
    int rc = spate_req_check_parts(q, err, errlen);
    if (rc) return rc;
    return spate_url_check(q->url, err, errlen);
}

int spate_req_render(const struct spate_req *r, struct spate_buf *wire, char *err, size_t errlen)
{
    struct spate_http1_req h = {
        .method = r->method,
        .authority = r->url.authority,
        .target = r->url.target,
        .userinfo = r->url.userinfo,
        .headers = r->headers,
        .nheaders = r->nheaders,
        .user_agent = r->e->user_agent,
        .body = r->body,
        .body_len = r->body_len,
        .has_body = r->has_body,
    };
    spate_buf_reset(wire);
    return spate_http1_render(wire, &h, err, errlen);
}

/* What of a parsed URL the head holds, as a length to bound it by. */
static size_t url_parts_len(const struct spate_url *u)
{
    return strlen(u->target) + strlen(u->authority) + (u->userinfo ? strlen(u->userinfo) : 0);
}

/* A bound on the rendered head's size (every part it may hold, with room for the fixed text),
 * so a request that surely fits is rendered only when it starts: a queued request then holds
 * no copy of its head and body. */
int spate_req_may_not_fit(const struct spate_req *r, size_t url_len)
{
    /* the target may triple (percent-encoded bytes), the userinfo too and then grow by 4/3 in
     * base64; authority is shorter than the URL */
    if (!url_len) url_len = url_parts_len(&r->url);
    size_t n = 256 + strlen(r->method) + 8 * url_len + r->e->ua_len;
    for (size_t i = 0; i < r->nheaders; i++)
        n += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 4;
    return n > SPATE_HTTP1_MAX_REQUEST_HEAD;
}

static int copy_request(struct spate_req *r, const struct spate_request *q)
{
    spate_req_set_method(r, default_method(q));
    if (!r->method) return -ENOMEM;
    if (q->nheaders) {
        if (q->nheaders > UINT_MAX) return -ENOMEM; /* could not be sent anyway */
        r->headers = calloc(q->nheaders, sizeof(*r->headers));
        if (!r->headers) return -ENOMEM;
        for (size_t i = 0; i < q->nheaders; i++, r->nheaders++) {
            r->headers[i].name = strdup(q->headers[i].name);
            r->headers[i].value = strdup(q->headers[i].value);
            if (!r->headers[i].name || !r->headers[i].value) {
                r->nheaders++;
                return -ENOMEM;
            }
        }
    }
    if (q->body) {
        r->has_body = 1;
        r->body_len = q->body_len;
        r->body = malloc(q->body_len ? q->body_len : 1);
        if (!r->body) return -ENOMEM;
        memcpy(r->body, q->body, q->body_len);
    }
    return 0;
}

/* The options the host gave, each 0 taking the engine's value. */
static int apply_opts(struct spate_req *r, const struct spate_request_opts *o, char *err,
                      size_t errlen)
{
    const struct spate_config *cfg = &r->e->cfg;
    struct spate_request_opts v = {0};
    r->retries = cfg->retries;
    r->follow = cfg->follow_redirects != 0;
    r->max_redirs = cfg->max_redirs;
    if (!o) return 0;
    /* an older caller's shorter struct: the fields it does not know stay 0 (the engine's) */
    if (!spate_sized_in(&v, sizeof(v), o)) {
        snprintf(err, errlen, "spate_request_opts.size must be set (to sizeof the struct)");
        return -EINVAL;
    }
    if (v.timeout != v.timeout) {
        snprintf(err, errlen, "timeout is not a number");
        return -EINVAL;
    }
    if (v.timeout < 0)
        r->timeout_ns = UINT64_MAX;
    else if (v.timeout > 0)
        r->timeout_ns = spate_clock_from_sec(v.timeout) ? spate_clock_from_sec(v.timeout) : 1;
    if (spate_conn_timeout_opt("connect_timeout", v.connect_timeout, &r->connect_ns, err, errlen) ||
        spate_conn_timeout_opt("read_timeout", v.read_timeout, &r->read_ns, err, errlen))
        return -EINVAL;
    if (v.retries > 0) r->retries = (unsigned)v.retries;
    if (v.retries < 0) r->retries = 0;
    if (v.follow_redirects) r->follow = v.follow_redirects > 0;
    if (v.max_redirs) r->max_redirs = v.max_redirs;
    r->max_body = v.max_body;
    r->on_head = v.on_head;
    return 0;
}

int spate_req_fill(struct spate_req *r, const struct spate_request *q,
                   const struct spate_request_opts *o, char *err, size_t errlen)
{
    struct spate_engine *e = r->e;
    r->keep_body = q->keep_body;
    r->skip_headers = q->skip_headers;
    r->on_body = q->on_body;
    r->done = q->done;
    r->user = q->user;
    int rc = apply_opts(r, o, err, errlen);
    if (!rc) rc = spate_url_parse(&r->url, q->url, err, errlen);
    if (rc) return rc;
    rc = copy_request(r, q);
    /* one that may not fit is rendered now, so spate_submit reports it; a queued request keeps
     * no head (rendered again when it starts: rare, such heads are many kilobytes) */
    if (!rc && spate_req_may_not_fit(r, strlen(q->url))) {
        struct spate_buf wire;
        spate_buf_init(&wire);
        rc = spate_req_render(r, &wire, err, errlen);
        spate_buf_fini(&wire);
    }
    if (!rc && r->url.https) rc = spate_engine_need_tls(e, err, errlen);
    if (!rc) {
        r->host = spate_pool_host(&e->pool, r->url.https, r->url.host, r->url.host_ip, r->url.port);
        if (!r->host) rc = -ENOMEM;
    }
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
    return rc;
}

void spate_req_drop_body(struct spate_req *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->has_body = 0;
}

void spate_req_drop_credentials(struct spate_req *r)
{
    static const char *const secret[] = {"Authorization", "Cookie", "Proxy-Authorization", "Host"};
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        int drop = 0;
        for (size_t j = 0; j < sizeof(secret) / sizeof(secret[0]); j++)
            drop |= !strcasecmp(r->headers[i].name, secret[j]);
        if (drop) {
            free((char *)r->headers[i].name);
            free((char *)r->headers[i].value);
        } else {
            r->headers[n++] = r->headers[i];
        }
    }
    r->nheaders = n;
}
