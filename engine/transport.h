/* The byte-stream interface a connection talks through: plain TCP (engine/tcp.c) or TLS
 * (tls/tls.c). Every call is non-blocking and says what it is waiting for. */
#ifndef SPATE_TRANSPORT_H
#define SPATE_TRANSPORT_H
#include <stddef.h>
#include <sys/types.h>

/* Negative results of handshake/read/write; read/write return a byte count (> 0) otherwise. */
#define SPATE_IO_WANT_READ (-1)  /* call again when the socket is readable */
#define SPATE_IO_WANT_WRITE (-2) /* call again when the socket is writable */
#define SPATE_IO_EOF (-3)        /* orderly end of stream */
#define SPATE_IO_ERR (-4)        /* failure: t->cause says what kind, ops->describe in words */

/* Why the last SPATE_IO_ERR happened, as a value the caller decides on (the error kind, which
 * words to add to the description); the words themselves come from ops->describe. */
enum spate_io_cause {
    SPATE_CAUSE_NONE = 0,
    SPATE_CAUSE_RESET,         /* socket error (t->sys_errno) or the peer closed mid-exchange */
    SPATE_CAUSE_TLS_HANDSHAKE, /* the TLS handshake failed (alert, protocol, wrong version) */
    SPATE_CAUSE_TLS_VERIFY,    /* the certificate was refused (t->verify holds the X.509 code);
                                  describe names the host in this case only */
    SPATE_CAUSE_TLS_RECORD,    /* a TLS record-layer failure after the handshake */
};

static inline int spate_io_cause_tls(enum spate_io_cause c)
{
    return c >= SPATE_CAUSE_TLS_HANDSHAKE;
}

struct spate_transport;
/* An implementation's own per-connection state, defined by that implementation only. */
struct spate_transport_impl;

struct spate_transport_ops {
    /* Returns 0 when the handshake is done, WANT_READ/WANT_WRITE, or ERR. */
    int (*handshake)(struct spate_transport *t);
    ssize_t (*read)(struct spate_transport *t, void *buf, size_t n);
    /* After WANT_*, must be called again with the same buf and n. */
    ssize_t (*write)(struct spate_transport *t, const void *buf, size_t n);
    /* 1 if bytes are buffered inside the transport that a read would return without the
     * socket being readable (TLS records already decrypted). */
    int (*pending)(struct spate_transport *t);
    /* 1 if an idle connection looks reusable: no data, no EOF, no error waiting on it. */
    int (*idle_ok)(struct spate_transport *t);
    /* 1 if the peer sent something not read yet (buffered in the transport or waiting on the
     * socket), without consuming it: after a failed write, whether an answer is waiting. */
    int (*peek)(struct spate_transport *t);
    /* 1 if the last SPATE_IO_EOF was not a clean end (TLS: no close_notify), so a body delimited
     * only by the close may be truncated; else 0. */
    int (*unclean_eof)(const struct spate_transport *t);
    /* Writes the cause of the last ERR into buf (NUL-terminated). */
    void (*describe)(struct spate_transport *t, char *buf, size_t len);
    /* Releases transport state (sends close_notify for TLS, best effort); does not close fd. */
    void (*release)(struct spate_transport *t);
    /* 1: a read that returned fewer bytes than asked emptied the socket (TCP). 0: only
     * WANT_READ says so (TLS hands out one record per read). See spate_transport_drained. */
    unsigned char short_read_drains;
};

struct spate_transport {
    const struct spate_transport_ops *ops;
    int fd;
    int sys_errno;                     /* errno of the last failure, 0 if none */
    long verify;                       /* X.509 verify code for SPATE_CAUSE_TLS_VERIFY, else 0 */
    enum spate_io_cause cause;         /* kind of the last failure */
    struct spate_transport_impl *impl; /* the implementation's state (owned, freed by release);
                                          NULL for plain TCP */
};

/* 1 when a read that returned n of asked bytes means nothing more waits on the connection. */
static inline int spate_transport_drained(const struct spate_transport *t, size_t n, size_t asked)
{
    return n < asked && t->ops->short_read_drains;
}

/* Sets up t as plain TCP over a connected non-blocking fd (fd stays owned by the caller). */
void spate_tcp_attach(struct spate_transport *t, int fd);

#endif
