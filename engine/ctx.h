/* What every connection shares: the loop, resolver, TLS context, limits, one read buffer and
 * the counters. Owned by the engine; connections only point at it. */
#ifndef SPATE_CTX_H
#define SPATE_CTX_H
#include "http1.h"
#include "loop.h"
#include "spate.h"

struct spate_dns;
struct spate_tls;
struct spate_transport;
struct spate_target;

/* A test's fake transport (tests/test_conn.c): called once a connection's socket is connected,
 * in place of spate_tls_attach for https and on top of plain TCP otherwise. It sets t->ops and
 * t->impl (t->fd is the connected socket, still owned by the connection). 0, or -1 to fail the
 * connection. The product leaves it NULL. */
typedef int (*spate_attach_hook)(void *arg, struct spate_transport *t,
                                 const struct spate_target *target);

struct spate_ctx {
    struct spate_loop loop;
    struct spate_dns *dns;
    struct spate_tls *tls; /* NULL until the first https connection needs it */
    struct spate_http1_limits lim;
    uint64_t connect_timeout; /* ns, 0 = none */
    uint64_t race_delay;      /* ns before the next address races a pending connect, 0 = none */
    uint64_t read_timeout;    /* ns, 0 = none */
    char *rbuf;               /* shared read buffer: the loop is single-threaded */
    size_t rbuf_len;
    char msg[512];            /* error message handed to a fail callback (copied by the owner) */
    spate_attach_hook attach; /* NULL but in tests */
    void *attach_arg;
    struct spate_stats stats;
};

struct spate_engine;
/* The shared context inside an engine (for engine-internal modules such as load.c). */
struct spate_ctx *spate_engine_ctx(struct spate_engine *e);
/* Makes sure the engine's TLS context exists. 0 or negative error with err. */
int spate_engine_need_tls(struct spate_engine *e, char *err, size_t errlen);

#endif
