/* Following a redirect: a hop is not an attempt (attempts count tries of the final URL). */
#include "redirect.h"
#include "attempt.h"
#include "engine.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int is_redirect(int s)
{
    return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

int spate_redirect_wanted(const struct spate_req *r, int status)
{
    return r->follow && is_redirect(status) && r->att->location;
}

/* 303 turns anything but HEAD into a GET, and 301/302 a POST (as browsers do). */
static void change_method(struct spate_req *r)
{
    int s = r->att->status;
    if ((s == 303 && strcmp(r->method, "HEAD")) ||
        ((s == 301 || s == 302) && !strcmp(r->method, "POST"))) {
        spate_req_set_method(r, "GET");
        spate_req_drop_body(r);
    }
}

int spate_redirect_follow(struct spate_req *r, char *msg, size_t len)
{
    struct spate_engine *e = r->e;
    struct spate_attempt *a = r->att;
    struct spate_url next;
    char err[200];
    if (r->redirects >= r->max_redirs) {
        snprintf(msg, len, "too many redirects (%u): a redirect loop? last Location: %.200s",
                 r->max_redirs, a->location);
        return -1;
    }
    if (spate_url_resolve(&next, &r->url, a->location, err, sizeof(err))) {
        snprintf(msg, len, "redirect refused: %.150s (Location: %.150s)", err, a->location);
        return -1;
    }
    if (!spate_url_same_origin(&next, &r->url)) spate_req_drop_credentials(r);
    change_method(r);
    struct spate_host *h =
        spate_pool_host(&e->pool, next.https, next.host, next.host_ip, next.port);
    int rc = r->method && h ? 0 : -ENOMEM;
    if (!rc && next.https) rc = spate_engine_need_tls(e, err, sizeof(err));
    spate_url_fini(&r->url);
    r->url = next;
    if (!rc && spate_req_may_not_fit(r, 0))
        rc = spate_req_render(r, &a->wire, err, sizeof(err));
    else
        spate_buf_reset(&a->wire); /* rendered when the next hop starts */
    if (rc) {
        if (h) spate_pool_unref(&e->pool, h);
        snprintf(msg, len, "cannot follow redirect: %s", rc == -ENOMEM ? "out of memory" : err);
        return -1;
    }
    spate_pool_unref(&e->pool, r->host);
    r->host = h;
    r->redirects++;
    a->attempts = 0;
    a->hop_attempts = 0;
    spate_limit_push_front(&e->lim, r); /* keeps its place at the front */
    return 0;
}
