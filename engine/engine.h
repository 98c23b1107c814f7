/* The engine's own state, shared by the files that make up the face: engine.c (public calls and
 * lifetime), request.c (request objects), attempt.c (attempts on connections), redirect.c and
 * response.c (what the host hears). Internal: nothing outside those files includes it. */
#ifndef SPATE_ENGINE_H
#define SPATE_ENGINE_H
#include "ctx.h"
#include "deadline.h"
#include "limit.h"
#include "list.h"
#include "pool.h"
#include "request.h"
#include "spate.h"

struct spate_engine {
    struct spate_ctx ctx;
    struct spate_config cfg;
    uint64_t nap_ns;
    char *user_agent; /* owned */
    size_t ua_len;
    char *cacert; /* owned */
    struct spate_pool pool;
    struct spate_limit lim;
    size_t active;                   /* submitted and not yet completed */
    uint64_t rng;                    /* backoff jitter */
    struct spate_list started;       /* requests that started an attempt (spate_attempt.link); the
                                        others are in the limiter's queues */
    struct spate_freelist spare;     /* finished request objects kept for reuse (request.c) */
    struct spate_freelist spare_att; /* attempt states kept for reuse, with their buffers */
    struct spate_deadlines dl;       /* running attempts under the engine's --timeout */
    /* the host loop's wake-up (see "Waking the host loop" in spate.h): readable after a
     * spate_submit made outside a callback, drained by the next step */
    struct spate_io wake_io;
    int wake_wfd; /* write end (== wake_io.fd for an eventfd) */
    unsigned char woken;
    unsigned cb_depth;        /* > 0 while one of the host's callbacks runs */
    struct spate_req *cb_req; /* the request whose head or body callback runs, if any */
    /* spate_engine_destroy is canceling everything: a spate_engine_cancel from its callbacks has
     * nothing left to do. (One inside another spate_engine_cancel skips the requests the outer
     * one holds, and cancels only the others.) */
    unsigned char bulk;
};

/* The engine around its shared context (connections know only the context). */
static inline struct spate_engine *spate_engine_of(struct spate_ctx *x)
{
    return spate_container_of(x, struct spate_engine, ctx);
}

/* Brackets a call into one of r's host callbacks (head, body): a spate_cancel of r from inside
 * only marks it, and calls that would nest the loop are refused. Returns what to pass to
 * spate_engine_cb_leave (the request of an enclosing callback, if any). */
static inline struct spate_req *spate_engine_cb_enter(struct spate_engine *e, struct spate_req *r)
{
    struct spate_req *outer = e->cb_req;
    e->cb_depth++;
    e->cb_req = r;
    return outer;
}
static inline void spate_engine_cb_leave(struct spate_engine *e, struct spate_req *outer)
{
    e->cb_depth--;
    e->cb_req = outer;
}

#endif
