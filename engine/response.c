/* The response as the host sees it: headers kept as "name NUL value NUL" pairs, the body kept,
 * streamed or counted against its limit, the head callback before the body, and the completion
 * that hands the whole result over once. */
#include "response.h"
#include "attempt.h"
#include "engine.h"
#include "redirect.h"
#include "retry.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double secs(uint64_t from, uint64_t to)
{
    return to > from ? (double)(to - from) / 1e9 : 0;
}

void spate_response_reset(struct spate_req *r)
{
    struct spate_attempt *a = r->att;
    spate_buf_reset(&a->bodybuf);
    spate_buf_reset(&a->hstore);
    a->nresp_headers = 0;
    a->body_bytes = 0;
    a->status = 0;
    a->retry_after = -1;
    free(a->location);
    a->location = NULL;
    if (a->streamed && r->on_body) {
        struct spate_req *outer = spate_engine_cb_enter(r->e, r);
        r->on_body(r->user, NULL, 0);
        spate_engine_cb_leave(r->e, outer);
    }
    a->streamed = 0;
}

static void on_header(void *owner, const char *name, size_t nlen, const char *val, size_t vlen)
{
    struct spate_req *r = owner;
    struct spate_attempt *a = r->att;
    if (nlen == 8 && !strncasecmp(name, "Location", 8) && !a->location)
        a->location = strndup(val, vlen);
    if (nlen == 11 && !strncasecmp(name, "Retry-After", 11)) {
        double s;
        if (spate_retry_after_parse(val, vlen, time(NULL), &s)) a->retry_after = s;
    }
    if (r->skip_headers && !r->on_head) return;
    if (spate_buf_reserve(&a->hstore, nlen + vlen + 2))
        return; /* out of memory: the header is dropped from the result, nothing else */
    spate_buf_add(&a->hstore, name, nlen);
    spate_buf_add(&a->hstore, "", 1);
    spate_buf_add(&a->hstore, val, vlen);
    spate_buf_add(&a->hstore, "", 1);
    a->nresp_headers++;
}

static int on_body(void *owner, const char *p, size_t n)
{
    struct spate_req *r = owner;
    struct spate_attempt *a = r->att;
    if (r->stop) return -1;
    a->body_bytes += n;
    if (r->max_body && a->body_bytes > r->max_body) {
        r->stop = 2;
        return -1;
    }
    if (r->keep_body && spate_buf_add(&a->bodybuf, p, n)) return -1;
    if (r->on_body) {
        a->streamed = 1;
        struct spate_req *outer = spate_engine_cb_enter(r->e, r);
        int rc = r->on_body(r->user, p, n);
        spate_engine_cb_leave(r->e, outer);
        if (rc && !r->stop) r->stop = 1;
        return r->stop ? -1 : 0;
    }
    return 0;
}

/* The response headers as an array pointing into a->hstore (the caller owns v). */
static void build_headers(const struct spate_attempt *a, struct spate_header *v)
{
    const char *p = a->hstore.data;
    for (size_t i = 0; i < a->nresp_headers; i++) {
        v[i].name = p;
        p += strlen(p) + 1;
        v[i].value = p;
        p += strlen(p) + 1;
    }
}

/* The final response's head, to the host's head callback. */
static void call_head(struct spate_req *r, int status)
{
    const struct spate_attempt *a = r->att;
    struct spate_header *hv = NULL;
    if (a->nresp_headers) hv = calloc(a->nresp_headers, sizeof(*hv));
    if (hv) build_headers(a, hv);
    struct spate_req *outer = spate_engine_cb_enter(r->e, r);
    int rc = r->on_head(r->user, status, hv, hv ? a->nresp_headers : 0);
    spate_engine_cb_leave(r->e, outer);
    free(hv);
    if (rc && !r->stop) r->stop = 1;
}

/* A redirect that will be followed: its body is of no use to anyone. */
static int on_unwanted_body(void *owner, int status)
{
    struct spate_req *r = owner;
    if (spate_redirect_wanted(r, status)) return 1;
    if (r->on_head && !r->stop) call_head(r, status);
    return r->stop != 0; /* stopped: the body is not read (the connection closes) */
}

const struct spate_http1_sink spate_response_sink = {
    .header = on_header,
    .body = on_body,
    .unwanted_body = on_unwanted_body,
};

static uint64_t later(uint64_t a, uint64_t b)
{
    return b > a ? b : a;
}

/* The points of the final attempt and the whole life (see struct spate_timing): each mark that
 * did not happen, or came before the previous point, takes the previous point's value. */
static void fill_timing(const struct spate_attempt *a, uint64_t end_of_life, struct spate_timing *t)
{
    uint64_t s = a->t_attempt, dns = later(s, a->m_dns), tcp = later(dns, a->m_tcp),
             tls = later(tcp, a->m_tls), first = later(tls, a->m_first),
             end = later(first, a->m_end);
    t->dns = secs(s, dns);
    t->connect = secs(s, tcp);
    t->tls = secs(s, tls);
    t->ttfb = secs(s, first);
    t->total = secs(s, end);
    t->elapsed = secs(a->t_first, later(end, end_of_life));
}

/* What the attempts gave (r->att; a request that never started has no attempt state). */
static void fill_from_attempts(const struct spate_req *r, uint64_t end_of_life,
                               struct spate_response *resp, struct spate_header **hv)
{
    const struct spate_attempt *a = r->att;
    if (!a || !a->t_first) return; /* never attempted: zeros */
    if (a->nresp_headers && !r->skip_headers) *hv = calloc(a->nresp_headers, sizeof(**hv));
    if (*hv) build_headers(a, *hv);
    resp->status = a->status;
    resp->attempts = a->attempts ? a->attempts : 1;
    resp->body_bytes = a->body_bytes;
    if (r->keep_body) {
        resp->body = a->bodybuf.data ? a->bodybuf.data : "";
        resp->body_len = a->bodybuf.len;
    }
    resp->headers = *hv;
    resp->nheaders = *hv ? a->nresp_headers : 0;
    resp->start = a->wall_first;
    resp->remote = a->remote;
    resp->tls_resumed = a->tls_resumed;
    resp->reused = a->reused;
    fill_timing(a, end_of_life, &resp->time);
}

void spate_response_complete(struct spate_req *r, enum spate_error_kind k, const char *msg,
                             uint64_t end_of_life)
{
    struct spate_engine *e = r->e;
    r->phase = REQ_DONE;
    struct spate_header *hv = NULL;
    struct spate_response resp = {
        .error = k,
        .message = k && msg ? msg : "",
        .body = r->keep_body ? "" : NULL,
        .remote = "",
    };
    fill_from_attempts(r, end_of_life, &resp, &hv);
    e->active--;
    if (r->att) spate_list_remove(&r->att->link); /* a cancel-all from the callback skips it */
    e->cb_depth++;
    r->done(r->user, &resp);
    e->cb_depth--;
    free(hv);
    if (!r->held) spate_req_free(r);
}
