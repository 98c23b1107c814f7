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
#define SPATE_IO_ERR (-4)        /* failure: t->err and ops->describe say why */

/* What kind of failure SPATE_IO_ERR was (used to pick the request's error kind). */
enum spate_io_fail {
    SPATE_FAIL_NONE = 0,
    SPATE_FAIL_RESET, /* ECONNRESET, EPIPE and other socket errors after connect */
    SPATE_FAIL_TLS,   /* handshake, verification or record-layer failure */
};

struct spate_transport;

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
    /* Writes the cause of the last ERR into buf (NUL-terminated). */
    void (*describe)(struct spate_transport *t, char *buf, size_t len);
    /* Releases transport state (sends close_notify for TLS, best effort); does not close fd. */
    void (*release)(struct spate_transport *t);
};

struct spate_transport {
    const struct spate_transport_ops *ops;
    int fd;
    int sys_errno;           /* errno of the last failure, 0 if none */
    enum spate_io_fail fail; /* class of the last failure */
    void *tls;               /* TLS state (owned, freed by release), NULL for plain TCP */
};

/* Sets up t as plain TCP over a connected non-blocking fd (fd stays owned by the caller). */
void spate_tcp_attach(struct spate_transport *t, int fd);

#endif
