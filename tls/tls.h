/* TLS client transport over OpenSSL 3 (non-blocking): one shared context with a client session
 * cache keyed by "host:port", and per-connection state behind struct spate_transport.
 * Sockets are written with send(MSG_NOSIGNAL) through a private BIO, so no SIGPIPE is raised. */
#ifndef SPATE_TLS_H
#define SPATE_TLS_H
#include "transport.h"
#include <stddef.h>

/* Sessions kept in one context's cache at most; the least recently used is dropped first. */
#define SPATE_TLS_SESSIONS_MAX 256

/* One SSL_CTX plus the session cache. Every setting that matters for security (verification,
 * CA set) is fixed per context, so sessions never cross those settings. */
struct spate_tls;

struct spate_tls_opts {
    const char *cacert; /* CA bundle (PEM file) to trust instead of the system store, or NULL */
    int insecure;       /* nonzero: no certificate or host name verification */
};

/* Creates a context: verification on (system trust store, or o->cacert), TLS 1.2 minimum, ALPN
 * "http/1.1" only, renegotiation refused. o may be NULL (defaults). Returns 0, or -ENOMEM / -EIO
 * with a message in err (e.g. "cannot load CA file 'x': ..."). *out is owned by the caller. */
int spate_tls_create(struct spate_tls **out, const struct spate_tls_opts *o, char *err,
                     size_t errlen);

/* Frees the context and its cached sessions. NULL-safe. Every transport attached with it must be
 * released first. */
void spate_tls_destroy(struct spate_tls *ctx);

/* Turns t (already spate_tcp_attach'ed to a connected non-blocking fd) into a TLS client: t->ops
 * becomes the TLS ops and t->impl the per-connection state (owned, freed by t->ops->release; the fd
 * stays the caller's). host is a DNS name (a trailing dot is dropped) or, with host_ip 4 or 6, an
 * IP literal without brackets: names get SNI and a SAN dNSName check, IPs no SNI and a SAN
 * iPAddress check; the subject CN is never used. Offers the session cached for host:port.
 * Returns 0, or -ENOMEM / -EINVAL (bad host) / -EIO with a message in err; t is unchanged then. */
int spate_tls_attach(struct spate_tls *ctx, struct spate_transport *t, const char *host,
                     int host_ip, unsigned port, char *err, size_t errlen);

/* 1 if the completed handshake on t resumed a cached session, else 0 (also for plain TCP). */
int spate_tls_resumed(const struct spate_transport *t);

/* The OpenSSL this process runs with, as the library reports it ("OpenSSL 3.0.13 30 Jan 2024"). */
const char *spate_tls_library_version(void);

/* Number of sessions in ctx's cache (for tests). */
size_t spate_tls_cached_sessions(const struct spate_tls *ctx);

#endif
