/* One submitted request through its whole life: queued, attempts (each on a connection, with the
 * state of attempt.h), backoff waits between attempts, completion. The object the engine, pool
 * and limiter share. Internal to the engine. */
#ifndef SPATE_REQUEST_H
#define SPATE_REQUEST_H
#include "buf.h"
#include "freelist.h"
#include "spate.h"
#include "url.h"

struct spate_engine;
struct spate_host;
struct spate_attempt;

enum spate_req_phase { REQ_QUEUED, REQ_HOSTWAIT, REQ_RUNNING, REQ_BACKOFF, REQ_DONE };

/* A submitted request: only what it needs while it waits in a queue (a queued request costs
 * about sizeof this plus its URL; issue 15 asks for <= 256 bytes beyond the caller's strings).
 * What an attempt needs (buffers, timers, marks, the response) is in r->att, allocated when the
 * first attempt starts (attempt.h). */
struct spate_req {
    struct spate_engine *e;
    /* Queue link (the limiter's FIFO queues: pushed at either end, popped at the head, removed
     * from the middle only by a sweep over the whole queue), or, once freed, the engine's spare
     * list. One pointer, not list.h's two: a queued request stays <= 256 B. */
    union {
        struct spate_req *next;
        struct spate_freelist_node spare;
    };
    struct spate_host *host;      /* a reference (spate_pool_host) */
    struct spate_attempt *att;    /* NULL until the first attempt starts (owned) */
    char *method;                 /* a static name, or owned when method_owned */
    struct spate_url url;         /* owned */
    struct spate_header *headers; /* owned copies */
    char *body;                   /* owned; NULL when none (has_body: an empty one) */
    size_t body_len;
    spate_body_cb on_body;
    spate_done_cb done;
    spate_head_cb on_head;
    void *user;
    /* per-request options (spate_submit_ex), already resolved against the engine's */
    uint64_t timeout_ns;          /* 0 = the engine's (its deadline list), UINT64_MAX = none */
    uint64_t connect_ns, read_ns; /* 0 = the engine's, UINT64_MAX = none (conn.h's form) */
    uint64_t max_body;
    unsigned nheaders;
    unsigned retries, max_redirs;
    unsigned redirects;  /* hops followed */
    unsigned char phase; /* enum spate_req_phase */
    unsigned char follow, keep_body, skip_headers, has_body, method_owned;
    unsigned char stop; /* 1: the host stopped it from its head or body callback (canceled);
                           2: its own body limit was passed (too large); 3: spate_cancel's mark */
    unsigned char held; /* on a bulk cancel's own list (engine.c): if a callback completes it
                           meanwhile, its memory stays for that list's owner to free */
};

/* Request objects (request.c). */

/* A zeroed request object for e (a spare one when there is one); NULL when out of memory. The
 * caller owns it until spate_req_free. */
struct spate_req *spate_req_new(struct spate_engine *e);
/* Frees what r owns (its attempt state goes back to the engine's spares), gives back its host
 * reference and keeps the object as a spare for the next spate_req_new. r must be on no list. */
void spate_req_free(struct spate_req *r);
/* Frees every spare object (engine teardown). */
void spate_req_free_spares(struct spate_engine *e);
/* Checks everything of q but its URL: 0, or -EINVAL with err. */
int spate_req_check_parts(const struct spate_request *q, char *err, size_t errlen);
/* Fills a new r (from spate_req_new) from q and o (NULL = the engine's options): callbacks,
 * options, the parsed URL, copies of the method, headers and body, the host entry (a reference
 * r owns); a head that may be too large is rendered once to report it now. q was checked by
 * spate_req_check_parts. 0, or a negative error with err; r is then spate_req_free's. */
int spate_req_fill(struct spate_req *r, const struct spate_request *q,
                   const struct spate_request_opts *o, char *err, size_t errlen);
/* Renders r's head (and body) into wire (emptied first). 0, or a negative error with err. */
int spate_req_render(const struct spate_req *r, struct spate_buf *wire, char *err, size_t errlen);
/* 1 when r's head may exceed the largest head spate sends: it is then rendered at once (the
 * error reported now), else only when an attempt needs it. url_len: the URL's length as given,
 * or 0 to bound by r->url's parts. */
int spate_req_may_not_fit(const struct spate_req *r, size_t url_len);
/* Sets r's method: a static name for the common ones, else a copy r owns. r->method is NULL
 * after an allocation failure. */
void spate_req_set_method(struct spate_req *r, const char *m);
/* Drops r's body (a redirect turned it into a GET). */
void spate_req_drop_body(struct spate_req *r);
/* Drops the headers that carry credentials (the request goes to another origin). */
void spate_req_drop_credentials(struct spate_req *r);

#endif
