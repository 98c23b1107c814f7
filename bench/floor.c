/* bench/floor.c: the CPU floor of a keep-alive HTTP client on this machine. A bare epoll loop
 * over CONNS connections that sends one fixed request and reads a response of a known length,
 * with no parsing, no timers, no allocation and no output. Whatever a real client spends above
 * this is its own overhead; the rest is the kernel's (TCP over loopback, wake-ups).
 *
 * usage: floor PORT REQUESTS CONNS RESPONSE_BYTES [PATH]   (server on 127.0.0.1) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 1024

struct conn {
    int fd;
    int sent;  /* a request is out */
    long have; /* bytes of its response read so far */
};

static struct conn conns[MAX_CONNS];
static char req[512];
static size_t req_len;
static long want, total, sent, done;

static void die(const char *what)
{
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void send_next(struct conn *c)
{
    if (sent >= total) return;
    if (send(c->fd, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len) die("send");
    c->sent = 1;
    c->have = 0;
    sent++;
}

/* Reads what is there (edge-triggered: a short read means drained); a full response sends
 * the next request on the same connection. */
static void on_readable(struct conn *c)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == 0) {
            fprintf(stderr, "floor: server closed a connection\n");
            exit(1);
        }
        if (n < 0) {
            if (errno == EAGAIN) return;
            die("recv");
        }
        c->have += n;
        if (c->have >= want) {
            c->sent = 0;
            done++;
            send_next(c);
            return;
        }
        if ((size_t)n < sizeof(buf)) return;
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: floor PORT REQUESTS CONNS RESPONSE_BYTES [PATH]\n");
        return 2;
    }
    int port = atoi(argv[1]), nconns = atoi(argv[3]);
    total = atol(argv[2]);
    want = atol(argv[4]);
    const char *path = argc > 5 ? argv[5] : "/f/0";
    if (port <= 0 || nconns <= 0 || nconns > MAX_CONNS || total <= 0 || want <= 0) {
        fprintf(stderr, "floor: bad arguments\n");
        return 2;
    }
    req_len = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                               path, port);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c->fd < 0) die("socket");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
            die("connect");
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    }
    struct epoll_event evs[MAX_CONNS];
    while (done < total) {
        int n = epoll_wait(ep, evs, nconns, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c->sent && (evs[i].events & EPOLLOUT) && !c->have) {
                send_next(c); /* connected */
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
        }
    }
    printf("%ld responses\n", done);
    return 0;
}
