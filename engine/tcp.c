/* Plain TCP transport: thin wrappers over recv/send with MSG_NOSIGNAL. */
#include "transport.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int tcp_handshake(struct spate_transport *t)
{
    (void)t;
    return 0;
}

static ssize_t fail(struct spate_transport *t, int e)
{
    t->sys_errno = e;
    t->cause = SPATE_CAUSE_RESET;
    return SPATE_IO_ERR;
}

static ssize_t tcp_read(struct spate_transport *t, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = recv(t->fd, buf, n, 0);
        if (r > 0) return r;
        if (r == 0) return SPATE_IO_EOF;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return SPATE_IO_WANT_READ;
        return fail(t, errno);
    }
}

static ssize_t tcp_write(struct spate_transport *t, const void *buf, size_t n)
{
    for (;;) {
        ssize_t r = send(t->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0) return r > 0 ? r : SPATE_IO_WANT_WRITE;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return SPATE_IO_WANT_WRITE;
        return fail(t, errno);
    }
}

static int tcp_pending(struct spate_transport *t)
{
    (void)t;
    return 0;
}

static int tcp_idle_ok(struct spate_transport *t)
{
    char c;
    ssize_t r = recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    /* anything readable on an idle connection (data, EOF, error) makes it unusable */
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static int tcp_peek(struct spate_transport *t)
{
    char c;
    return recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static int tcp_unclean_eof(const struct spate_transport *t)
{
    (void)t;
    return 0; /* a FIN is the only end TCP has */
}

static void tcp_describe(struct spate_transport *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s", t->sys_errno ? strerror(t->sys_errno) : "connection closed");
}

static void tcp_release(struct spate_transport *t)
{
    t->impl = NULL;
}

static const struct spate_transport_ops tcp_ops = {
    .handshake = tcp_handshake,
    .read = tcp_read,
    .write = tcp_write,
    .pending = tcp_pending,
    .idle_ok = tcp_idle_ok,
    .peek = tcp_peek,
    .unclean_eof = tcp_unclean_eof,
    .describe = tcp_describe,
    .release = tcp_release,
    .short_read_drains = 1,
};

void spate_tcp_attach(struct spate_transport *t, int fd)
{
    t->ops = &tcp_ops;
    t->fd = fd;
    t->sys_errno = 0;
    t->verify = 0;
    t->cause = SPATE_CAUSE_NONE;
    t->impl = NULL;
}
