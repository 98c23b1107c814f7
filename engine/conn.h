/* One client connection and its state machine: resolve, connect (the answer's addresses raced
 * per RFC 8305), TLS handshake, send a request, receive its response, idle in the pool. The owner
 * (a fetch request or a bench slot) drives it through spate_conn_* calls and hears back through
 * spate_conn_ops. */
#ifndef SPATE_CONN_H
#define SPATE_CONN_H
#include "ctx.h"
#include "http1.h"
#include "list.h"
#include "loop.h"
#include "transport.h"
#include <netinet/in.h>
#include <stdint.h>

enum spate_conn_state {
    SPATE_CONN_RESOLVING,
    SPATE_CONN_CONNECTING,
    SPATE_CONN_HANDSHAKE,
    SPATE_CONN_IDLE,
    SPATE_CONN_SENDING,
    SPATE_CONN_RECEIVING,
    SPATE_CONN_CLOSED,
};

/* Where a connection goes; owned by the pool's host entry, outlives its connections. */
struct spate_target {
    const char *host; /* name or IP literal without brackets */
    int host_ip;      /* 0, 4 or 6 */
    uint16_t port;
    int https;
};

struct spate_conn;
struct spate_conn_ops {
    /* Connected (and TLS done): the owner may now call spate_conn_send. */
    void (*ready)(struct spate_conn *c);
    /* The response is complete; c->resp has it; spate_conn_reusable(c) tells whether the
     * connection may carry another request. The owner must then send, idle or close it. */
    void (*done)(struct spate_conn *c);
    /* The connection failed; ctx->msg holds the cause. The owner must close it. */
    void (*fail)(struct spate_conn *c, enum spate_error_kind k);
    /* An idle connection died (server closed it); the owner must close it. */
    void (*idle_dead)(struct spate_conn *c);
};

struct spate_dns_query;
struct spate_conn_setup; /* conn.c: the answer's addresses and the connects pending on them */

/* An IPv4 or IPv6 socket address. */
union spate_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

struct spate_conn {
    struct spate_io io;
    struct spate_transport tr;
    enum spate_conn_state state;
    struct spate_ctx *ctx;
    const struct spate_target *target;
    const struct spate_conn_ops *ops;
    void *user;               /* the owner's current object */
    struct spate_list link;   /* owner's list node (a host's idle list) */
    struct spate_list lru;    /* the pool's engine-wide idle list */
    struct spate_timer timer; /* connect deadline (or the next address's start), then the
                                 read-silence check */
    uint64_t connect_deadline;
    /* The read timeout of the exchange spate_conn_send starts next, ns: 0 = ctx->read_timeout,
     * SPATE_CONN_NO_TIMEOUT = none. The owner sets it before each spate_conn_send (the engine
     * from the request's options); left 0, the context's applies. */
    uint64_t read_timeout;
    uint64_t last_io; /* ns of the last byte received (the response's end once done) */
    const char *out;  /* request bytes being sent (not owned) */
    size_t out_len, out_off;
    struct spate_http1_resp resp;
    struct spate_dns_query *dnsq;
    struct spate_conn_setup *setup; /* while connecting (owned) */
    union spate_sockaddr peer;      /* the address connected to (the race's winner) */
    char peer_str[48];              /* peer as "ADDR:PORT", formatted once per connection */
    /* Monotonic ns, each read when its event happened (0 = did not happen): opened, name
     * resolved by a lookup (not a cache hit), TCP connected, TLS done, and of the current
     * exchange the first response byte; last_io is the last read (or the send's start). */
    uint64_t t_open, t_dns, t_tcp, t_tls, t_first;
    uint64_t wire_bytes; /* response bytes read in the current exchange */
    unsigned exchanges;  /* responses completed on this connection */
    uint64_t idle_batch; /* loop batch in which it went idle */
    unsigned char resumed, leftover, unclean_eof;
    unsigned char hup; /* the peer hung up: read to the EOF, not to a short read */
    struct spate_reap reap;
};

/* A per-use timeout meaning "none" (0 means "the context's"). */
#define SPATE_CONN_NO_TIMEOUT UINT64_MAX

/* Allocates a connection toward target and starts resolving. ops->ready or ops->fail follows,
 * always from the loop, never before this returns (the resolver answers through the loop even
 * when the answer is at hand). Returns NULL on allocation failure. */
struct spate_conn *spate_conn_open(struct spate_ctx *ctx, const struct spate_target *target,
                                   const struct spate_conn_ops *ops, void *user);
/* The same with the connect budget (DNS + TCP + TLS) of this connection, ns: 0 = the context's
 * connect_timeout, SPATE_CONN_NO_TIMEOUT = none. */
struct spate_conn *spate_conn_open_within(struct spate_ctx *ctx, const struct spate_target *target,
                                          const struct spate_conn_ops *ops, void *user,
                                          uint64_t connect_timeout);

/* A per-request timeout option in seconds, as spate_request_opts gives it, to the form above:
 * 0 -> 0 (the engine's), < 0 -> SPATE_CONN_NO_TIMEOUT, > 0 -> ns (at least 1). Returns 0, or
 * -EINVAL for NaN with err naming the option `what`. */
int spate_conn_timeout_opt(const char *what, double sec, uint64_t *ns, char *err, size_t errlen);

/* Starts an exchange: sends out[0..len) (not copied: must stay valid until done/fail) and parses
 * the response into sink/owner. acc collects header fields (NULL = don't). ops->done or ops->fail
 * follows, possibly before this returns (a write error). */
void spate_conn_send(struct spate_conn *c, const char *out, size_t len, int head_request,
                     const struct spate_http1_sink *sink, void *owner, struct spate_buf *acc);

/* 1 if the connection may carry another request after ops->done. */
int spate_conn_reusable(const struct spate_conn *c);
/* Parks a connection in the idle state; ops->idle_dead fires if the server closes it. */
void spate_conn_idle(struct spate_conn *c);
/* Checks an idle connection right before reuse (no data, no EOF waiting). */
int spate_conn_idle_ok(struct spate_conn *c);
/* Closes the socket now and frees the connection after the current loop batch. NULL-safe. */
void spate_conn_close(struct spate_conn *c);
/* "ADDR:PORT" of the peer, or "" before connecting. */
void spate_conn_peer(const struct spate_conn *c, char *buf, size_t len);

/* What an owner asks of its connection, without reading its fields (inline: asked per request).
 * The status of the current exchange's response, 0 before its status line. */
static inline int spate_conn_status(const struct spate_conn *c)
{
    return c->resp.status;
}
/* Monotonic ns of the last byte received (the response's end once done). */
static inline uint64_t spate_conn_last_io(const struct spate_conn *c)
{
    return c->last_io;
}
/* "ADDR:PORT" of the peer, "" before connecting; valid while c is. */
static inline const char *spate_conn_peer_text(const struct spate_conn *c)
{
    return c->peer_str;
}
#define SPATE_CONN_PEER_TEXT_MAX 48 /* bytes spate_conn_peer_text may need, with its NUL */
/* The address connected to (the race's winner); meaningful once connected. */
static inline const struct sockaddr *spate_conn_peer_addr(const struct spate_conn *c)
{
    return &c->peer.sa;
}
/* 1 once bytes of the current exchange's response arrived. */
static inline int spate_conn_response_begun(const struct spate_conn *c)
{
    return c->state != SPATE_CONN_RESOLVING && spate_http1_started(&c->resp);
}
/* 1 while no byte of the current request has been written. */
static inline int spate_conn_unsent(const struct spate_conn *c)
{
    return c->out_off == 0;
}
/* Response bytes read in the current exchange. */
static inline uint64_t spate_conn_wire_bytes(const struct spate_conn *c)
{
    return c->wire_bytes;
}
/* 1 when a connection that failed had carried at least one whole exchange before: it was up,
 * so the failure is not one of connecting. */
static inline int spate_conn_had_exchanges(const struct spate_conn *c)
{
    return c->state == SPATE_CONN_CLOSED && c->exchanges > 0;
}
/* The connection's set-up marks and the current exchange's first byte (monotonic ns, 0 = did
 * not happen; see struct spate_conn). */
struct spate_conn_marks {
    uint64_t dns, tcp, tls, first;
    unsigned char resumed; /* TLS session resumed */
};
static inline void spate_conn_get_marks(const struct spate_conn *c, struct spate_conn_marks *m)
{
    m->dns = c->t_dns;
    m->tcp = c->t_tcp;
    m->tls = c->t_tls;
    m->first = c->t_first;
    m->resumed = c->resumed;
}

#endif
