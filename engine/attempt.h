/* An attempt: one try of a request on a connection, from the limiter's start to its end, and
 * what the end leads to: completion, a retry after a backoff wait, a re-send on a new connection
 * or a redirect's next hop. Internal to the engine. */
#ifndef SPATE_ATTEMPT_H
#define SPATE_ATTEMPT_H
#include "buf.h"
#include "conn.h"
#include "deadline.h"
#include "freelist.h"
#include "request.h"
#include "timer.h"

/* What a started request needs for its attempts and its response, beyond the queued object:
 * allocated when the first attempt starts, kept through retries and redirects, given back to
 * the engine's spares (with its small buffers) when the request ends. */
struct spate_attempt {
    struct spate_req *r;              /* the request it belongs to */
    struct spate_list link;           /* the engine's list of started requests */
    struct spate_freelist_node spare; /* while on the engine's spare list */
    struct spate_conn *conn;          /* while an attempt runs on a connection */
    struct spate_buf wire;    /* the rendered request (empty: rendered when an attempt starts) */
    struct spate_buf acc;     /* header field being assembled */
    struct spate_buf hstore;  /* response headers: name NUL value NUL ... */
    struct spate_buf bodybuf; /* body, when keep_body */
    size_t nresp_headers;
    struct spate_timer timer; /* a backoff wait, or the request's own attempt timeout */
    struct spate_deadline dl; /* on the engine's deadline list while an attempt runs */
    unsigned attempts;
    unsigned hop_attempts; /* attempts made before the last redirect */
    char *location;        /* Location of the last response (owned) */
    unsigned char stale_resent, force_new, inflight, streamed;
    unsigned char resp_started; /* the failed attempt had received response bytes */
    unsigned char tls_resumed, reused;
    double retry_after; /* seconds from the last response, < 0 = none */
    /* Monotonic ns, each read when its event happened: the first attempt's start, the current
     * attempt's start, then that attempt's marks (0 = did not happen): name known, TCP
     * connected, TLS done, first response byte, end (last byte or failure). */
    uint64_t t_first, t_attempt;
    uint64_t m_dns, m_tcp, m_tls, m_first, m_end;
    double wall_first; /* wall clock at t_first, Unix seconds */
    int status;
    uint64_t body_bytes;
    char remote[SPATE_CONN_PEER_TEXT_MAX];
};

/* Gives r's attempt state back to the engine's spares (NULL-safe); r->att is then NULL. */
void spate_attempt_release(struct spate_req *r);
/* Frees every spare attempt state (engine teardown). */
void spate_attempt_free_spares(struct spate_engine *e);

/* The limiter's start callback (owner: the engine): takes a slot and starts an attempt of r on
 * a pooled or a new connection (the first one allocates r->att). r may complete before this
 * returns. */
void spate_attempt_start(void *owner, struct spate_req *r);
/* The engine's deadline list callback: the attempt of the request holding d timed out. */
void spate_attempt_expired(struct spate_deadlines *q, struct spate_deadline *d);
/* Ends r now with kind canceled and message why (not copied: it must outlive the completion
 * callback, a literal in practice): a running attempt ends (and counts),
 * a backoff wait stops; the completion callback runs before this returns. r must be in no
 * limiter queue. */
void spate_attempt_cancel(struct spate_req *r, const char *why);

#endif
