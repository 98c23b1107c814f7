/* TLS client transport: OpenSSL 3 in non-blocking mode over a private socket BIO (send with
 * MSG_NOSIGNAL), and a small LRU cache of resumable client sessions keyed by "host:port". */
#include "tls.h"
#include "htable.h"
#include "list.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct sess_entry {
    struct spate_hnode hnode; /* in the context's table, hashed on key */
    struct spate_list lru;    /* in the context's list, most recently used first */
    SSL_SESSION *sess;        /* owned reference */
    char key[];               /* "host:port" */
};

struct spate_tls {
    SSL_CTX *ssl_ctx;
    BIO_METHOD *bio_meth;         /* our socket BIO, shared by all connections */
    struct spate_htable sessions; /* owned entries (sess_entry.hnode); sessions.n of them */
    struct spate_list lru;        /* the same entries (sess_entry.lru), most recently used first */
    int insecure;
};

/* Per-connection state, t->impl (the transport interface leaves its definition to us). */
struct spate_transport_impl {
    SSL *ssl;
    struct spate_tls *ctx;
    int fd;
    int io_errno;           /* errno of the last failed socket call in the BIO */
    unsigned peer_eof : 1;  /* recv returned 0 */
    unsigned done : 1;      /* handshake complete */
    unsigned broken : 1;    /* fatal error seen: no close_notify on release */
    unsigned resumed : 1;   /* the handshake resumed a session */
    unsigned offered : 1;   /* a cached session was offered */
    unsigned unclean : 1;   /* EOF without close_notify */
    unsigned hs_fail : 1;   /* the failure happened before the handshake completed */
    unsigned trim_due : 1;  /* OpenSSL's state machine ran: its buffers may be held (trim) */
    unsigned long err_code; /* first OpenSSL error of the last failure */
    long verify;            /* SSL_get_verify_result at the failure */
    const char *host;       /* points into key */
    char key[];             /* "host:port" or "[v6]:port", then NUL and the host */
};

/* ---- socket BIO ---- */

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    struct spate_transport_impl *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = send(c->fd, data, len, MSG_NOSIGNAL);
        if (r >= 0) {
            *written = (size_t)r;
            return 1;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        else
            c->io_errno = errno;
        return 0;
    }
}

static int bio_read(BIO *b, char *data, size_t len, size_t *readbytes)
{
    struct spate_transport_impl *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = recv(c->fd, data, len, 0);
        if (r > 0) {
            *readbytes = (size_t)r;
            return 1;
        }
        if (r == 0)
            c->peer_eof = 1;
        else if (errno == EINTR)
            continue;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        else
            c->io_errno = errno;
        *readbytes = 0;
        return 0;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct spate_transport_impl *c = BIO_get_data(b);
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF: /* OpenSSL asks this to tell a peer close from a socket error */
        return c->peer_eof;
    default:
        return 0;
    }
}

static BIO_METHOD *bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "spate socket");
    if (!m) return NULL;
    if (!BIO_meth_set_write_ex(m, bio_write) || !BIO_meth_set_read_ex(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- session cache ---- */

static void drop_entry(struct spate_tls *ctx, struct sess_entry *e)
{
    spate_htable_remove(&ctx->sessions, &e->hnode);
    spate_list_remove(&e->lru);
    SSL_SESSION_free(e->sess);
    OPENSSL_free(e);
}

static struct sess_entry *find(const struct spate_tls *ctx, const char *key, size_t hash)
{
    for (struct spate_hnode *n = spate_htable_chain(&ctx->sessions, hash); n; n = n->next) {
        struct sess_entry *e = spate_container_of(n, struct sess_entry, hnode);
        if (n->hash == hash && strcmp(e->key, key) == 0) return e;
    }
    return NULL;
}

static int usable(SSL_SESSION *s)
{
    return SSL_SESSION_is_resumable(s) &&
           (time_t)SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) > time(NULL);
}

/* Returns 1 if the cache took over the reference to s. */
static int cache_put(struct spate_tls *ctx, const char *key, SSL_SESSION *s)
{
    size_t hash = spate_hash_str(key);
    struct sess_entry *e = find(ctx, key, hash);
    if (e) {
        SSL_SESSION_free(e->sess);
        spate_list_remove(&e->lru);
    } else {
        size_t klen = strlen(key) + 1;
        if (!(e = OPENSSL_malloc(sizeof *e + klen))) return 0;
        memcpy(e->key, key, klen);
        spate_htable_insert(&ctx->sessions, &e->hnode, hash);
    }
    e->sess = s;
    spate_list_push(&ctx->lru, &e->lru);
    if (ctx->sessions.n > SPATE_TLS_SESSIONS_MAX)
        drop_entry(ctx, spate_container_of(spate_list_last(&ctx->lru), struct sess_entry, lru));
    return 1;
}

/* Returns the usable session for key (borrowed), dropping a stale one. */
static SSL_SESSION *cache_get(struct spate_tls *ctx, const char *key)
{
    struct sess_entry *e = find(ctx, key, spate_hash_str(key));
    if (!e) return NULL;
    if (!usable(e->sess)) {
        drop_entry(ctx, e);
        return NULL;
    }
    spate_list_remove(&e->lru);
    spate_list_push(&ctx->lru, &e->lru);
    return e->sess;
}

static void cache_forget(struct spate_tls *ctx, const char *key)
{
    struct sess_entry *e = find(ctx, key, spate_hash_str(key));
    if (e) drop_entry(ctx, e);
}

/* TLS 1.2 sessions arrive at the end of the handshake, TLS 1.3 tickets any time after it. */
static int on_new_session(SSL *ssl, SSL_SESSION *s)
{
    struct spate_transport_impl *c = SSL_get_app_data(ssl);
    if (!c || !SSL_SESSION_is_resumable(s)) return 0;
    return cache_put(c->ctx, c->key, s);
}

/* OpenSSL calls this from its handshake state machine only (never for application data). After
 * the handshake that machine runs for a post-handshake message (a TLS 1.3 session ticket,
 * KeyUpdate) and, on entry, sets up the record layer's buffers: the 16.5 KiB write buffer among
 * them, which SSL_MODE_RELEASE_BUFFERS frees only after the next write. Noted here, so trim()
 * frees it once the message is read. */
static void on_info(const SSL *ssl, int where, int ret)
{
    struct spate_transport_impl *c = SSL_get_app_data(ssl);
    (void)where;
    (void)ret;
    if (c) c->trim_due = 1;
}

/* ---- context ---- */

/* err already holds what failed; appends OpenSSL's reason, frees ctx, returns rc. */
static int fail_create(struct spate_tls *ctx, char *err, size_t errlen, int rc)
{
    const char *why = NULL;
    unsigned long e;
    /* the last error is the most specific, except that an errno (missing file) beats all */
    while ((e = ERR_get_error()) != 0) {
        if (ERR_SYSTEM_ERROR(e)) {
            why = strerror(ERR_GET_REASON(e));
            break;
        }
        why = ERR_reason_error_string(e);
    }
    size_t n = strlen(err);
    if (why && n + 1 < errlen) snprintf(err + n, errlen - n, ": %s", why);
    ERR_clear_error();
    spate_tls_destroy(ctx);
    return rc;
}

int spate_tls_create(struct spate_tls **out, const struct spate_tls_opts *o, char *err,
                     size_t errlen)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    struct spate_tls_opts none = {0};
    struct spate_tls *ctx;
    if (!o) o = &none;
    *out = NULL;
    ERR_clear_error();
    snprintf(err, errlen, "out of memory");
    if (!(ctx = OPENSSL_zalloc(sizeof *ctx))) return fail_create(NULL, err, errlen, -ENOMEM);
    spate_list_init(&ctx->lru);
    if (spate_htable_init(&ctx->sessions, 16)) return fail_create(ctx, err, errlen, -ENOMEM);
    ctx->insecure = !!o->insecure;
    snprintf(err, errlen, "cannot create TLS context");
    if (!(ctx->ssl_ctx = SSL_CTX_new(TLS_client_method())) || !(ctx->bio_meth = bio_method()))
        return fail_create(ctx, err, errlen, -ENOMEM);
    SSL_CTX *s = ctx->ssl_ctx;
    if (!SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) ||
        SSL_CTX_set_alpn_protos(s, alpn, sizeof alpn - 1) != 0) /* 0 is success here */
        return fail_create(ctx, err, errlen, -EIO);
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_ENABLE_PARTIAL_WRITE);
    /* a renegotiation would let SSL_read want to write mid-body for no gain */
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(s, on_new_session);
    SSL_CTX_set_info_callback(s, on_info);
    if (ctx->insecure) {
        SSL_CTX_set_verify(s, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(s, SSL_VERIFY_PEER, NULL);
        if (o->cacert)
            snprintf(err, errlen, "cannot load CA file '%s'", o->cacert);
        else
            snprintf(err, errlen, "cannot load the system CA store");
        if (o->cacert ? !SSL_CTX_load_verify_file(s, o->cacert)
                      : !SSL_CTX_set_default_verify_paths(s))
            return fail_create(ctx, err, errlen, -EIO);
    }
    ERR_clear_error();
    if (errlen) err[0] = '\0';
    *out = ctx;
    return 0;
}

void spate_tls_destroy(struct spate_tls *ctx)
{
    if (!ctx) return;
    struct spate_list *n;
    while ((n = spate_list_first(&ctx->lru)))
        drop_entry(ctx, spate_container_of(n, struct sess_entry, lru));
    spate_htable_fini(&ctx->sessions);
    SSL_CTX_free(ctx->ssl_ctx);
    BIO_meth_free(ctx->bio_meth);
    OPENSSL_free(ctx);
}

size_t spate_tls_cached_sessions(const struct spate_tls *ctx)
{
    return ctx ? ctx->sessions.n : 0;
}

/* ---- transport ops ---- */

/* Classifies a failed SSL call; returns the transport code. */
static int io_result(struct spate_transport *t, int r)
{
    struct spate_transport_impl *c = t->impl;
    int e = SSL_get_error(c->ssl, r);
    unsigned long code = ERR_peek_error();
    if (e == SSL_ERROR_WANT_READ) return SPATE_IO_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE) return SPATE_IO_WANT_WRITE;
    /* after a close_notify OpenSSL reports any later failure as ZERO_RETURN: socket errors first */
    if (e == SSL_ERROR_ZERO_RETURN && c->done && !c->io_errno) return SPATE_IO_EOF;
    c->broken = 1;
    c->hs_fail = !c->done;
    c->err_code = code;
    c->verify = SSL_get_verify_result(c->ssl);
    ERR_clear_error();
    t->verify = 0;
    if (c->io_errno) {
        t->cause = SPATE_CAUSE_RESET;
        t->sys_errno = c->io_errno;
        return SPATE_IO_ERR;
    }
    int eof = e == SSL_ERROR_ZERO_RETURN ||
              (e == SSL_ERROR_SSL && ERR_GET_LIB(code) == ERR_LIB_SSL &&
               ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
              (e == SSL_ERROR_SYSCALL && !code);
    if (eof && c->done) {
        c->unclean = 1;
        return SPATE_IO_EOF;
    }
    t->sys_errno = 0;
    if (eof)
        t->cause = SPATE_CAUSE_RESET;
    else if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
             ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && c->verify != X509_V_OK)
        t->cause = SPATE_CAUSE_TLS_VERIFY, t->verify = c->verify;
    else
        t->cause = c->hs_fail ? SPATE_CAUSE_TLS_HANDSHAKE : SPATE_CAUSE_TLS_RECORD;
    return SPATE_IO_ERR;
}

static void before_io(struct spate_transport_impl *c)
{
    ERR_clear_error();
    c->io_errno = 0;
}

static int tls_handshake(struct spate_transport *t)
{
    struct spate_transport_impl *c = t->impl;
    if (c->done) return 0;
    if (c->broken) return SPATE_IO_ERR;
    before_io(c);
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->done = 1;
        c->resumed = SSL_session_reused(c->ssl) == 1;
        return 0;
    }
    r = io_result(t, r);
    if (r == SPATE_IO_ERR && c->offered)
        cache_forget(c->ctx, c->key); /* the session may be why it failed */
    return r;
}

/* Reading a post-handshake message (ticket, KeyUpdate) makes OpenSSL 3.0 allocate a 16 KiB write
 * buffer that RELEASE_BUFFERS only frees after the next write: on an idle pooled connection that
 * would be half its memory (a TLS 1.3 server sends its tickets with the first response, and a
 * connection that goes idle after it is never read again until reused). So after a read, once
 * the state machine has run (on_info) and nothing is buffered, the buffers go; otherwise the
 * call costs one test (SSL_free_buffers itself walks 32 record slots: ~700 instructions). */
static void trim(struct spate_transport_impl *c)
{
    if (c->trim_due && !SSL_has_pending(c->ssl) && SSL_free_buffers(c->ssl)) c->trim_due = 0;
}

static ssize_t tls_read(struct spate_transport *t, void *buf, size_t n)
{
    struct spate_transport_impl *c = t->impl;
    size_t got = 0;
    if (c->broken) return c->unclean ? SPATE_IO_EOF : SPATE_IO_ERR;
    int r = tls_handshake(t);
    if (r != 0) return r;
    before_io(c);
    if (SSL_read_ex(c->ssl, buf, n, &got) == 1) {
        trim(c);
        return (ssize_t)got;
    }
    r = io_result(t, 0);
    if (r == SPATE_IO_WANT_READ) trim(c);
    return r;
}

static ssize_t tls_write(struct spate_transport *t, const void *buf, size_t n)
{
    struct spate_transport_impl *c = t->impl;
    size_t put = 0;
    if (n == 0) return 0;
    if (c->broken) return SPATE_IO_ERR;
    int r = tls_handshake(t);
    if (r != 0) return r;
    before_io(c);
    if (SSL_write_ex(c->ssl, buf, n, &put) == 1) return (ssize_t)put;
    return io_result(t, 0);
}

static int tls_pending(struct spate_transport *t)
{
    struct spate_transport_impl *c = t->impl;
    return !c->broken && SSL_has_pending(c->ssl);
}

/* Peeking processes what arrived (TLS 1.3 tickets, KeyUpdate) without consuming app data. */
static int tls_idle_ok(struct spate_transport *t)
{
    struct spate_transport_impl *c = t->impl;
    char b;
    size_t got;
    if (!c->done || c->broken) return 0;
    before_io(c);
    if (SSL_peek_ex(c->ssl, &b, 1, &got) == 1) return 0;
    int e = SSL_get_error(c->ssl, 0);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ) {
        trim(c);
        return 1;
    }
    if (e != SSL_ERROR_WANT_WRITE) c->broken = 1;
    return 0;
}

static const char *hint(unsigned long code)
{
    if (ERR_GET_LIB(code) != ERR_LIB_SSL) return NULL;
    switch (ERR_GET_REASON(code)) {
    case SSL_R_WRONG_VERSION_NUMBER:
        return "server did not speak TLS: is this an http:// port?";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return "server requires a client certificate";
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
        return "server does not offer HTTP/1.1 via ALPN";
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        return "server does not support TLS 1.2 or newer";
    default:
        return NULL;
    }
}

static void tls_describe(struct spate_transport *t, char *buf, size_t len)
{
    struct spate_transport_impl *c = t->impl;
    unsigned long code = c->err_code;
    const char *why = code ? ERR_reason_error_string(code) : NULL;
    const char *more = hint(code);
    if (t->cause == SPATE_CAUSE_RESET) {
        const char *sys = t->sys_errno ? strerror(t->sys_errno) : NULL;
        if (c->hs_fail)
            snprintf(buf, len, "connection closed during TLS handshake%s%s", sys ? ": " : "",
                     sys ? sys : "");
        else
            snprintf(buf, len, "%s", sys ? sys : "connection closed");
    } else if (!spate_io_cause_tls(t->cause)) {
        snprintf(buf, len, "%s",
                 c->unclean ? "connection closed without TLS close_notify" : "no TLS error");
    } else if (t->cause == SPATE_CAUSE_TLS_VERIFY) {
        snprintf(buf, len, "certificate verify failed: %s (host %s)",
                 X509_verify_cert_error_string(c->verify), c->host);
    } else {
        snprintf(buf, len, "%s: %s%s%s%s", c->hs_fail ? "TLS handshake failed" : "TLS error",
                 why ? why : "unknown error", more ? " (" : "", more ? more : "", more ? ")" : "");
    }
}

static void tls_release(struct spate_transport *t)
{
    struct spate_transport_impl *c = t->impl;
    if (!c) return;
    /* OpenSSL forbids SSL_shutdown after a fatal error; otherwise send close_notify, no wait */
    if (c->done && !c->broken) {
        before_io(c);
        SSL_shutdown(c->ssl);
    }
    SSL_free(c->ssl);
    ERR_clear_error();
    OPENSSL_free(c);
    t->impl = NULL;
}

/* Records OpenSSL holds decrypted, or bytes (records) waiting on the socket. */
static int tls_peek(struct spate_transport *t)
{
    char b;
    return tls_pending(t) || recv(t->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static int tls_unclean_eof(const struct spate_transport *t)
{
    return t->impl && t->impl->unclean;
}

static const struct spate_transport_ops tls_ops = {
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .pending = tls_pending,
    .idle_ok = tls_idle_ok,
    .peek = tls_peek,
    .unclean_eof = tls_unclean_eof,
    .describe = tls_describe,
    .release = tls_release,
    .short_read_drains = 0, /* one record per read: a short read says nothing of the socket */
};

/* ---- attach ---- */

/* err already holds what failed; frees c, returns rc. */
static int fail_attach(struct spate_transport_impl *c, int rc)
{
    if (c) {
        SSL_free(c->ssl);
        OPENSSL_free(c);
    }
    ERR_clear_error();
    return rc;
}

static int setup_peer(struct spate_transport_impl *c, int host_ip)
{
    SSL *ssl = c->ssl;
    if (host_ip)
        return c->ctx->insecure || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->host);
    if (!SSL_set_tlsext_host_name(ssl, c->host)) return 0;
    if (c->ctx->insecure) return 1;
    /* a name only in the subject CN is not accepted (as browsers and Go do) */
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    return SSL_set1_host(ssl, c->host);
}

int spate_tls_attach(struct spate_tls *ctx, struct spate_transport *t, const char *host,
                     int host_ip, unsigned port, char *err, size_t errlen)
{
    size_t hlen = strlen(host);
    if (!host_ip && hlen && host[hlen - 1] == '.') hlen--;
    snprintf(err, errlen, "invalid TLS host '%s'", host);
    if (hlen == 0 || hlen > 255 || port > 65535 || (host_ip && host_ip != 4 && host_ip != 6))
        return fail_attach(NULL, -EINVAL);
    ERR_clear_error();
    /* key: "host:port" (IPv6 in brackets), NUL, host */
    size_t cap = hlen * 2 + 16;
    struct spate_transport_impl *c = OPENSSL_zalloc(sizeof *c + cap);
    snprintf(err, errlen, "out of memory for TLS to '%s'", host);
    if (!c) return fail_attach(NULL, -ENOMEM);
    int v6 = host_ip == 6;
    int klen =
        snprintf(c->key, cap, "%s%.*s%s:%u", v6 ? "[" : "", (int)hlen, host, v6 ? "]" : "", port);
    c->host = c->key + klen + 1;
    memcpy(c->key + klen + 1, host, hlen);
    c->ctx = ctx;
    c->fd = t->fd;
    BIO *bio = NULL;
    if (!(c->ssl = SSL_new(ctx->ssl_ctx)) || !(bio = BIO_new(ctx->bio_meth)))
        return fail_attach(c, -ENOMEM);
    BIO_set_data(bio, c);
    BIO_set_init(bio, 1);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_connect_state(c->ssl);
    if (host_ip)
        snprintf(err, errlen, "invalid IP address '%s'", host);
    else
        snprintf(err, errlen, "cannot set TLS host name '%s'", host);
    if (!SSL_set_app_data(c->ssl, c) || !setup_peer(c, host_ip))
        return fail_attach(c, host_ip ? -EINVAL : -EIO);
    SSL_SESSION *s = cache_get(ctx, c->key);
    if (s && SSL_set_session(c->ssl, s)) c->offered = 1;
    ERR_clear_error();
    if (errlen) err[0] = '\0';
    t->ops = &tls_ops;
    t->impl = c;
    t->sys_errno = 0;
    t->verify = 0;
    t->cause = SPATE_CAUSE_NONE;
    return 0;
}

int spate_tls_resumed(const struct spate_transport *t)
{
    const struct spate_transport_impl *c = t->impl;
    return c && t->ops == &tls_ops && c->done && c->resumed;
}

const char *spate_tls_library_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}
