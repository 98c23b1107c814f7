/* Tests for tls/tls.c against real TLS servers on loopback: openssl s_server for certificate and
 * protocol cases, forked scripted servers for close, idle-liveness and bulk-transfer cases. The
 * client is a tiny poll() loop over the transport ops, so nothing here depends on the engine. */
#include "tap.h"
#include "tls.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#if !defined(__SANITIZE_ADDRESS__)
#include <malloc.h>
#endif

#define WAIT_MS 3000      /* every single wait is bounded by this */
#define HS_TIMEOUT (-100) /* a wait timed out */

static char dir[64];
static pid_t servers[32];
static size_t nservers;

/* ---- counting allocator: OpenSSL's heap (and tls.c's, which allocates through it) ---- */

static size_t live_bytes;

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    size_t *p = malloc(n + 16);
    if (!p) return NULL;
    *p = n;
    live_bytes += n;
    return (char *)p + 16;
}

static void count_free(void *q, const char *file, int line)
{
    (void)file;
    (void)line;
    if (!q) return;
    size_t *p = (size_t *)((char *)q - 16);
    live_bytes -= *p;
    free(p);
}

static void *count_realloc(void *q, size_t n, const char *file, int line)
{
    if (!q) return count_malloc(n, file, line);
    if (n == 0) {
        count_free(q, file, line);
        return NULL;
    }
    size_t *p = (size_t *)((char *)q - 16), old = *p;
    size_t *np = realloc(p, n + 16);
    if (!np) return NULL;
    *np = n;
    live_bytes = live_bytes - old + n;
    return (char *)np + 16;
}

/* ---- processes ---- */

static void kill_servers(void)
{
    for (size_t i = 0; i < nservers; i++) {
        if (servers[i] > 0) {
            kill(servers[i], SIGKILL);
            waitpid(servers[i], NULL, 0);
            servers[i] = 0;
        }
    }
    nservers = 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    for (size_t i = 0; i < nservers; i++)
        if (servers[i] > 0) kill(servers[i], SIGKILL);
    static const char msg[] = "Bail out! test_tls took too long\n";
    if (write(1, msg, sizeof msg - 1) < 0) _exit(2);
    _exit(2);
}

static void track(pid_t pid)
{
    if (nservers < sizeof servers / sizeof servers[0]) servers[nservers++] = pid;
}

static void stop(pid_t pid)
{
    for (size_t i = 0; i < nservers; i++) {
        if (servers[i] == pid) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            servers[i] = 0;
        }
    }
}

/* Starts `openssl s_server -accept 127.0.0.1:PORT -www ...extra` (port 0: any) with cert/key from
 * dir; returns the port it printed (0 on failure) and its pid in *pid. extra is NULL-terminated. */
static unsigned s_server(pid_t *pid, unsigned port, const char *cert, const char *key,
                         const char *const *extra)
{
    char certp[128], keyp[128], acc[32];
    const char *argv[32] = {"openssl", "s_server", "-accept", acc, "-www",
                            "-cert",   certp,      "-key",    keyp};
    size_t n = 9;
    snprintf(acc, sizeof acc, "127.0.0.1:%u", port);
    snprintf(certp, sizeof certp, "%s/%s", dir, cert);
    snprintf(keyp, sizeof keyp, "%s/%s", dir, key);
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    int pfd[2];
    if (pipe(pfd) < 0) return 0;
    *pid = fork();
    if (*pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(pfd[1], 1);
        dup2(null, 0);
        dup2(null, 2);
        close(pfd[0]);
        signal(SIGPIPE, SIG_IGN); /* we stop reading its stdout once the port is known */
        execvp("openssl", (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    if (*pid < 0) {
        close(pfd[0]);
        return 0;
    }
    track(*pid);
    char line[256];
    size_t len = 0;
    unsigned want = port;
    port = 0;
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    while (!port && len < sizeof line - 1 && poll(&p, 1, WAIT_MS) > 0) {
        ssize_t r = read(pfd[0], line + len, sizeof line - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        line[len] = '\0';
        /* "ACCEPT 127.0.0.1:P" for port 0, a bare "ACCEPT" for a given port */
        char *a = strstr(line, "ACCEPT");
        if (a && strchr(a, '\n'))
            port = strncmp(a, "ACCEPT 127.0.0.1:", 17) == 0 ? (unsigned)atoi(a + 17) : want;
    }
    close(pfd[0]); /* s_server prints nothing more we need; writes to a closed pipe are rare */
    return port;
}

/* A listening socket on 127.0.0.1:0; returns fd and the port in *port. */
static int listen_any(unsigned *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* ---- the client: a poll loop over the transport ops ---- */

static int tcp_connect(unsigned port, int sndbuf)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (sndbuf) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int e = 0;
    socklen_t elen = sizeof e;
    if (poll(&p, 1, WAIT_MS) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 || e) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits for what code asks (WANT_READ/WANT_WRITE); 1 if ready, 0 on timeout. */
static int wait_for(int fd, int code, int ms)
{
    struct pollfd p = {.fd = fd, .events = code == SPATE_IO_WANT_WRITE ? POLLOUT : POLLIN};
    return poll(&p, 1, ms) == 1;
}

static int handshake(struct spate_transport *t)
{
    for (;;) {
        int r = t->ops->handshake(t);
        if (r == 0 || r == SPATE_IO_ERR) return r;
        if (!wait_for(t->fd, r, WAIT_MS)) return HS_TIMEOUT;
    }
}

/* Writes all n bytes, retrying with identical arguments after WANT_*; counts WANT_WRITEs. */
static ssize_t write_all(struct spate_transport *t, const char *buf, size_t n, int *wants)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = t->ops->write(t, buf + off, n - off);
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        if (r != SPATE_IO_WANT_READ && r != SPATE_IO_WANT_WRITE) return r;
        if (wants && r == SPATE_IO_WANT_WRITE) ++*wants;
        if (!wait_for(t->fd, (int)r, WAIT_MS)) return HS_TIMEOUT;
    }
    return (ssize_t)off;
}

/* Reads until EOF/ERR/timeout into out (keeping at most cap bytes); returns the final code. */
static ssize_t read_all(struct spate_transport *t, char *out, size_t cap, size_t *len)
{
    char scratch[4096];
    *len = 0;
    for (;;) {
        size_t room = cap - *len;
        char *dst = room ? out + *len : scratch;
        ssize_t r = t->ops->read(t, dst, room ? room : sizeof scratch);
        if (r > 0) {
            if (room) *len += (size_t)r;
            continue;
        }
        if (r == SPATE_IO_EOF || r == SPATE_IO_ERR) return r;
        if (t->ops->pending(t)) continue;
        if (!wait_for(t->fd, (int)r, WAIT_MS)) return HS_TIMEOUT;
    }
}

struct result {
    int hs;       /* handshake result */
    int io;       /* final read result */
    int cause;    /* t.cause after the failure */
    int resumed;  /* spate_tls_resumed */
    int unclean;  /* ops->unclean_eof */
    int attached; /* spate_tls_attach rc */
    char msg[512];
    char body[2048];
    size_t len;
};

/* Connects, attaches, handshakes and (when send is set) writes it and reads to EOF. */
static void fetch(struct spate_tls *ctx, unsigned port, const char *host, int ip, const char *send,
                  struct result *res)
{
    struct spate_transport t;
    memset(res, 0, sizeof *res);
    res->hs = res->io = SPATE_IO_ERR;
    int fd = tcp_connect(port, 0);
    if (fd < 0) {
        snprintf(res->msg, sizeof res->msg, "connect failed");
        return;
    }
    spate_tcp_attach(&t, fd);
    res->attached = spate_tls_attach(ctx, &t, host, ip, port, res->msg, sizeof res->msg);
    if (res->attached == 0) {
        res->hs = handshake(&t);
        if (res->hs == 0 && send && write_all(&t, send, strlen(send), NULL) > 0)
            res->io = (int)read_all(&t, res->body, sizeof res->body - 1, &res->len);
        res->body[res->len] = '\0';
        res->cause = (int)t.cause;
        res->resumed = spate_tls_resumed(&t);
        res->unclean = t.ops->unclean_eof(&t);
        if (res->hs == SPATE_IO_ERR || res->io == SPATE_IO_ERR)
            t.ops->describe(&t, res->msg, sizeof res->msg);
        else if (res->hs == HS_TIMEOUT || res->io == HS_TIMEOUT)
            snprintf(res->msg, sizeof res->msg, "timed out");
        t.ops->release(&t);
    }
    close(fd);
}

static const char GET[] = "GET / HTTP/1.0\r\n\r\n";

static int served(const struct result *r)
{
    return r->hs == 0 && r->io == SPATE_IO_EOF && strstr(r->body, "HTTP/1.0 200 ok");
}

static int has(const char *s, const char *want)
{
    return strcasestr(s, want) != NULL;
}

/* ---- certificates ---- */

static int sh(const char *cmd)
{
    char full[4096];
    snprintf(full, sizeof full, "cd '%s' && { %s ; } >/dev/null 2>&1", dir, cmd);
    return system(full) == 0;
}

static int make_certs(void)
{
    static const char *const steps[] = {
        "printf '%s\\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' "
        "'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' "
        "'extendedKeyUsage=serverAuth' > leaf.ext",
        "printf 'subjectAltName=DNS:wrong.example\\n' > wrong.ext",
        "printf 'subjectAltName=DNS:127.0.0.1\\n' > ipasdns.ext",
        "printf 'basicConstraints=CA:FALSE\\n' > cnonly.ext",
        "printf '%s\\n' '[ca]' 'default_ca=t' '[t]' 'database=index.txt' 'new_certs_dir=.' "
        "'serial=serial' 'certificate=ca.crt' 'private_key=ca.key' 'default_md=sha256' "
        "'policy=p' 'unique_subject=no' '[p]' 'commonName=supplied' '[leaf]' "
        "'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' 'basicConstraints=CA:FALSE' "
        "'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' > ca.cnf "
        "&& : > index.txt && echo 01 > serial",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
        "-out ca.crt -days 3650 -subj '/CN=spate test CA' "
        "-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign'",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout other.key -out other.crt -days 3650 -subj '/CN=other CA' "
        "-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign'",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout leaf.key "
        "-out leaf.csr -subj /CN=localhost",
        "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 "
        "-extfile leaf.ext -out good.crt",
        "openssl ca -batch -notext -config ca.cnf -extensions leaf -startdate 20200101000000Z "
        "-enddate 20200201000000Z -in leaf.csr -out expired.crt",
        "openssl ca -batch -notext -config ca.cnf -extensions leaf -startdate 20900101000000Z "
        "-enddate 20910101000000Z -in leaf.csr -out notyet.crt",
        "openssl req -x509 -key leaf.key -out self.crt -days 30 -subj /CN=localhost "
        "-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1'",
        "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 "
        "-extfile wrong.ext -out wrong.crt",
        "openssl x509 -req -in leaf.csr -CA other.crt -CAkey other.key -CAcreateserial -days 30 "
        "-extfile leaf.ext -out untrusted.crt",
        "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 "
        "-extfile ipasdns.ext -out ipasdns.crt",
        "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 "
        "-extfile cnonly.ext -out cnonly.crt",
        "printf 'not a certificate\\n' > junk.pem",
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (!sh(steps[i])) {
            diag("failed: %s", steps[i]);
            return 0;
        }
    }
    return 1;
}

static void path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* ---- scripted servers (forked children; blocking I/O, bounded by SO_RCVTIMEO and alarm) ---- */

enum scenario {
    RAW_PLAIN_HTTP, /* answers the ClientHello with an HTTP response */
    RAW_CLOSE,      /* reads the ClientHello, closes */
    RAW_RST,        /* reads the ClientHello, resets */
    RAW_PARTIAL,    /* reads the ClientHello, sends half a record header, closes */
    RAW_STALL,      /* accepts and never answers */
    TLS_IDLE,       /* one exchange, then on command: 'k' KeyUpdate, 'd' app data */
    TLS_UNCLEAN,    /* answers a request, closes without close_notify */
    TLS_CLEAN,      /* answers a request, sends close_notify, closes */
    TLS_BULK,       /* reads BULK_IN bytes slowly, answers their hash and BULK_OUT bytes */
};

#define IDLE_RESP "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#define BULK_IN (4u << 20)
#define BULK_OUT (1u << 20)

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + (i >> 13));
}

static SSL *server_tls(int fd)
{
    char crt[128], key[128];
    path(crt, sizeof crt, "good.crt");
    path(key, sizeof key, "leaf.key");
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
    if (!sctx || SSL_CTX_use_certificate_chain_file(sctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1)
        return NULL;
    SSL *ssl = SSL_new(sctx);
    if (!ssl || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1) return NULL;
    return ssl;
}

static void read_request(SSL *ssl)
{
    char req[1024];
    size_t len = 0, got;
    while (len < sizeof req - 1 && SSL_read_ex(ssl, req + len, sizeof req - 1 - len, &got)) {
        len += got;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
}

static void child(int lfd, enum scenario sc, int ctl)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial-body";
    char buf[16384], cmd;
    size_t got;
    alarm(20);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) _exit(1);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (sc < RAW_STALL && recv(fd, buf, sizeof buf, 0) <= 0) _exit(1);
    SSL *ssl = sc > RAW_STALL ? server_tls(fd) : NULL;
    if (sc > RAW_STALL && !ssl) _exit(1);
    switch (sc) {
    case RAW_PLAIN_HTTP: {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        if (send(fd, bad, sizeof bad - 1, MSG_NOSIGNAL) < 0) _exit(1);
        break;
    }
    case RAW_RST: {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
    }
    case RAW_PARTIAL:
        if (send(fd, "\x16\x03\x03", 3, MSG_NOSIGNAL) < 0) _exit(1);
        break;
    case TLS_IDLE:
        read_request(ssl);
        SSL_write_ex(ssl, IDLE_RESP, sizeof IDLE_RESP - 1, &got);
        /* fall through */
    case RAW_STALL:
        while (read(ctl, &cmd, 1) == 1) {
            if (cmd == 'k' && ssl) {
                SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED);
                SSL_do_handshake(ssl);
            } else if (cmd == 'd' && ssl) {
                SSL_write_ex(ssl, "DATA", 4, &got);
            }
        }
        break;
    case TLS_UNCLEAN:
    case TLS_CLEAN:
        read_request(ssl);
        SSL_write_ex(ssl, resp, sizeof resp - 1, &got);
        if (sc == TLS_CLEAN) SSL_shutdown(ssl);
        break;
    case RAW_CLOSE:
        break;
    case TLS_BULK: {
        uint64_t h = 0xcbf29ce484222325ull;
        size_t total = 0;
        while (total < BULK_IN && SSL_read_ex(ssl, buf, sizeof buf, &got)) {
            h = fnv(h, (unsigned char *)buf, got);
            total += got;
            usleep(200); /* slow reader: the client must see WANT_WRITE */
        }
        if (!SSL_write_ex(ssl, &h, sizeof h, &got)) _exit(1);
        for (size_t off = 0; off < BULK_OUT; off += sizeof buf) {
            for (size_t i = 0; i < sizeof buf; i++)
                buf[i] = (char)pattern(off + i);
            if (!SSL_write_ex(ssl, buf, sizeof buf, &got)) _exit(1);
        }
        SSL_shutdown(ssl);
        break;
    }
    }
    close(fd);
    _exit(0);
}

/* Forks a scripted server; returns its port; *ctl is the write end of its command pipe. */
static unsigned scripted(enum scenario sc, pid_t *pid, int *ctl)
{
    unsigned port;
    int pfd[2], lfd = listen_any(&port);
    if (lfd < 0 || pipe(pfd) < 0) return 0;
    fflush(stdout);
    *pid = fork();
    if (*pid == 0) {
        close(pfd[1]);
        child(lfd, sc, pfd[0]);
    }
    close(pfd[0]);
    close(lfd);
    if (*pid < 0) {
        close(pfd[1]);
        return 0;
    }
    track(*pid);
    *ctl = pfd[1];
    return port;
}

/* ---- test groups ---- */

static void test_create(void)
{
    char err[256], p[128];
    struct spate_tls *ctx = (struct spate_tls *)1;
    int rc = spate_tls_create(&ctx, &(struct spate_tls_opts){.cacert = "/nonexistent/ca.pem"}, err,
                              sizeof err);
    ok(rc < 0 && ctx == NULL && has(err, "cannot load CA file '/nonexistent/ca.pem'"),
       "missing CA file is an error naming the file (%s)", err);
    path(p, sizeof p, "junk.pem");
    rc = spate_tls_create(&ctx, &(struct spate_tls_opts){.cacert = p}, err, sizeof err);
    ok(rc < 0 && has(err, "cannot load CA file"), "CA file without certificates is an error (%s)",
       err);
    rc = spate_tls_create(&ctx, NULL, err, sizeof err);
    ok(rc == 0 && ctx, "default context (system store) is created");
    spate_tls_destroy(ctx);
    spate_tls_destroy(NULL);
    ok(1, "spate_tls_destroy(NULL) is a no-op");
}

static void test_attach_errors(struct spate_tls *ctx)
{
    char err[256];
    struct spate_transport t;
    spate_tcp_attach(&t, -1);
    int rc = spate_tls_attach(ctx, &t, "not-an-ip", 4, 443, err, sizeof err);
    ok(rc == -EINVAL && t.impl == NULL && has(err, "invalid IP address"),
       "attach refuses a bad IP literal (%s)", err);
    rc = spate_tls_attach(ctx, &t, ".", 0, 443, err, sizeof err);
    ok(rc == -EINVAL && t.impl == NULL, "attach refuses an empty host name (%s)", err);
}

static void test_good(struct spate_tls *vctx, struct spate_tls *ictx)
{
    pid_t pid;
    struct result r;
    unsigned port = s_server(&pid, 0, "good.crt", "leaf.key", NULL);
    if (!ok(port != 0, "s_server with a good certificate started")) return;
    fetch(vctx, port, "localhost", 0, GET, &r);
    ok(served(&r) && !r.resumed, "good certificate verifies for localhost (%s)", r.msg);
    ok(r.unclean == 0, "s_server's close_notify is a clean EOF");
    ok(spate_tls_cached_sessions(vctx) == 1, "the TLS 1.3 ticket is cached (%zu)",
       spate_tls_cached_sessions(vctx));
    fetch(vctx, port, "localhost", 0, GET, &r);
    ok(served(&r) && r.resumed, "second connection to localhost resumes (TLS 1.3)");
    fetch(vctx, port, "localhost.", 0, GET, &r);
    ok(served(&r) && r.resumed, "trailing-dot name uses the same session and verifies (%s)", r.msg);
    fetch(vctx, port, "127.0.0.1", 4, GET, &r);
    ok(served(&r) && !r.resumed, "127.0.0.1 verifies by IP SAN, localhost's session not offered");
    fetch(vctx, port, "::1", 6, GET, &r);
    ok(served(&r), "::1 verifies by IP SAN (%s)", r.msg);
    ok(spate_tls_cached_sessions(vctx) == 3, "one session per host:port (%zu)",
       spate_tls_cached_sessions(vctx));
    fetch(ictx, port, "localhost", 0, GET, &r);
    ok(served(&r) && !r.resumed, "insecure context does not share the verified cache");
    stop(pid);
}

/* The session cache keeps SPATE_TLS_SESSIONS_MAX host:port keys and drops the least recently
 * used: a session used again (resumed, its new ticket stored) is at the front and survives
 * the next insertion; the least recently used one is the one dropped. */
static void test_lru(void)
{
    pid_t pid;
    struct result r;
    char err[256], name[32];
    struct spate_tls *ctx = NULL;
    if (!ok(spate_tls_create(&ctx, &(struct spate_tls_opts){.insecure = 1}, err, sizeof err) == 0,
            "LRU: a fresh context (%s)", err))
        return;
    unsigned port = s_server(&pid, 0, "good.crt", "leaf.key", NULL);
    if (!ok(port != 0, "LRU: s_server started")) return;
    int all = 1;
    for (int i = 0; i < SPATE_TLS_SESSIONS_MAX; i++) {
        snprintf(name, sizeof name, "n%d.test", i);
        fetch(ctx, port, name, 0, GET, &r);
        all &= served(&r) && !r.resumed;
    }
    ok(all && spate_tls_cached_sessions(ctx) == SPATE_TLS_SESSIONS_MAX,
       "LRU: %d names, %zu sessions cached", SPATE_TLS_SESSIONS_MAX,
       spate_tls_cached_sessions(ctx));
    fetch(ctx, port, "n0.test", 0, GET, &r); /* n0 becomes the most recently used */
    ok(served(&r) && r.resumed, "LRU: the oldest name resumes (and moves to the front)");
    fetch(ctx, port, "new.test", 0, GET, &r); /* one more key: the least recently used goes */
    ok(served(&r) && spate_tls_cached_sessions(ctx) == SPATE_TLS_SESSIONS_MAX,
       "LRU: one name more, still %zu cached", spate_tls_cached_sessions(ctx));
    fetch(ctx, port, "n0.test", 0, GET, &r);
    int n0 = served(&r) && r.resumed;
    fetch(ctx, port, "n1.test", 0, GET, &r);
    ok(n0 && served(&r) && !r.resumed,
       "LRU: n1 (least recently used) was dropped, n0 (used again) kept");
    stop(pid);
    spate_tls_destroy(ctx);
}

static void test_tls12(struct spate_tls *vctx, const char *name, const char *const *extra)
{
    pid_t pid;
    struct result r;
    unsigned port = s_server(&pid, 0, "good.crt", "leaf.key", extra);
    if (!ok(port != 0, "s_server %s started", name)) return;
    fetch(vctx, port, "localhost", 0, GET, &r);
    ok(served(&r) && !r.resumed, "%s: full handshake verifies (%s)", name, r.msg);
    fetch(vctx, port, "localhost", 0, GET, &r);
    ok(served(&r) && r.resumed, "%s: second connection resumes", name);
    stop(pid);
}

struct bad_case {
    const char *cert, *key, *host;
    int ip;
    const char *want;
};

static void test_bad(struct spate_tls *vctx, struct spate_tls *ictx, const struct bad_case *b)
{
    pid_t pid;
    struct result r;
    unsigned port = s_server(&pid, 0, b->cert, b->key, NULL);
    if (!ok(port != 0, "s_server with %s started", b->cert)) return;
    fetch(vctx, port, b->host, b->ip, GET, &r);
    ok(r.hs == SPATE_IO_ERR && r.cause == SPATE_CAUSE_TLS_VERIFY &&
           has(r.msg, "certificate verify failed: ") && has(r.msg, b->want),
       "%s for %s: %s", b->cert, b->host, r.msg);
    fetch(ictx, port, b->host, b->ip, GET, &r);
    ok(served(&r), "%s for %s succeeds when insecure (%s)", b->cert, b->host, r.msg);
    stop(pid);
}

static void test_server_variant(struct spate_tls *vctx, const char *what, const char *const *extra,
                                const char *want)
{
    pid_t pid;
    struct result r;
    unsigned port = s_server(&pid, 0, "good.crt", "leaf.key", extra);
    if (!ok(port != 0, "s_server (%s) started", what)) return;
    fetch(vctx, port, "localhost", 0, GET, &r);
    ok((r.hs == SPATE_IO_ERR || r.io == SPATE_IO_ERR) && spate_io_cause_tls(r.cause) &&
           has(r.msg, want),
       "%s: %s", what, r.msg);
    stop(pid);
}

static void test_raw(struct spate_tls *vctx, enum scenario sc, const char *what, int want_fail,
                     const char *want)
{
    pid_t pid;
    int ctl;
    struct result r;
    unsigned port = scripted(sc, &pid, &ctl);
    if (!ok(port != 0, "scripted server (%s) started", what)) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fetch(vctx, port, "localhost", 0, GET, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ok(r.hs == SPATE_IO_ERR && r.cause == want_fail && has(r.msg, want) && secs < 2,
       "%s: error, not a hang (%.3f s): %s", what, secs, r.msg);
    close(ctl);
    stop(pid);
}

static void test_stall(struct spate_tls *vctx)
{
    pid_t pid;
    int ctl;
    char err[256];
    unsigned port = scripted(RAW_STALL, &pid, &ctl);
    int fd = tcp_connect(port, 0);
    struct spate_transport t;
    spate_tcp_attach(&t, fd);
    int rc = spate_tls_attach(vctx, &t, "localhost", 0, port, err, sizeof err);
    int r = rc == 0 ? t.ops->handshake(&t) : SPATE_IO_ERR;
    int woke = wait_for(fd, r, 200);
    int r2 = rc == 0 ? t.ops->handshake(&t) : SPATE_IO_ERR;
    ok(fd >= 0 && r == SPATE_IO_WANT_READ && !woke && r2 == SPATE_IO_WANT_READ,
       "silent server: handshake asks to read and never blocks");
    if (rc == 0) t.ops->release(&t);
    if (fd >= 0) close(fd);
    close(ctl);
    stop(pid);
}

static void cmd(int ctl, char c)
{
    if (write(ctl, &c, 1) != 1) diag("cannot command the scripted server");
}

/* Reads exactly n bytes; returns 1 on success. */
static int read_exact(struct spate_transport *t, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = t->ops->read(t, buf + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == SPATE_IO_EOF || r == SPATE_IO_ERR)
            return 0;
        else if (!t->ops->pending(t) && !wait_for(t->fd, (int)r, WAIT_MS))
            return 0;
    }
    return 1;
}

/* Idle liveness: tickets and KeyUpdate keep an idle connection usable, app data poisons it.
 * Also measures the heap of one idle connection after a request/response exchange. */
static void test_idle(struct spate_tls *vctx)
{
    pid_t pid;
    int ctl;
    char err[256], resp[sizeof IDLE_RESP];
    size_t cached0 = spate_tls_cached_sessions(vctx);
    unsigned port = scripted(TLS_IDLE, &pid, &ctl);
    size_t before = live_bytes;
#if !defined(__SANITIZE_ADDRESS__)
    size_t heap_before = mallinfo2().uordblks;
#endif
    int fd = tcp_connect(port, 0);
    struct spate_transport t;
    spate_tcp_attach(&t, fd);
    if (!ok(fd >= 0 && spate_tls_attach(vctx, &t, "localhost", 0, port, err, sizeof err) == 0 &&
                handshake(&t) == 0,
            "scripted TLS 1.3 server: handshake")) {
        close(ctl);
        stop(pid);
        return;
    }
    int readable = wait_for(fd, SPATE_IO_WANT_READ, WAIT_MS);
    ok(readable && t.ops->idle_ok(&t) == 1, "connection with only tickets arrived is reusable");
    ok(spate_tls_cached_sessions(vctx) == cached0 + 1, "tickets read by idle_ok are cached");
    ok(!t.ops->pending(&t), "nothing pending after tickets");
    ok(write_all(&t, GET, sizeof GET - 1, NULL) == sizeof GET - 1 &&
           read_exact(&t, resp, sizeof IDLE_RESP - 1) &&
           memcmp(resp, IDLE_RESP, sizeof IDLE_RESP - 1) == 0,
       "request and framed response exchanged");
    ok(t.ops->idle_ok(&t) == 1, "idle after the response: reusable");
    size_t idle = live_bytes - before;
#if !defined(__SANITIZE_ADDRESS__)
    size_t heap = mallinfo2().uordblks - heap_before;
#endif
    cmd(ctl, 'k');
    readable = wait_for(fd, SPATE_IO_WANT_READ, WAIT_MS);
    ok(readable && t.ops->idle_ok(&t) == 1, "idle connection after a KeyUpdate is reusable");
    cmd(ctl, 'd');
    readable = wait_for(fd, SPATE_IO_WANT_READ, WAIT_MS);
    ok(readable && t.ops->idle_ok(&t) == 0, "unsolicited application data poisons it");
    char b[8];
    ssize_t n = t.ops->read(&t, b, sizeof b);
    ok(n == 4 && memcmp(b, "DATA", 4) == 0, "idle_ok peeked, did not consume");
    t.ops->release(&t);
    ok(t.impl == NULL, "release clears t->impl");
    size_t cache = live_bytes - before;
    diag("idle TLS 1.3 connection after one exchange (P-256 leaf): %zu bytes of OpenSSL heap, "
         "%zu of them its session (shared with the cache)",
         idle, cache);
#if !defined(__SANITIZE_ADDRESS__)
    diag("mallinfo2 delta for the same idle connection: %zu bytes", heap);
#endif
    ok(idle < 32 * 1024, "an idle connection holds < 32 KiB (%zu)", idle);
    close(fd);
    close(ctl);
    stop(pid);
}

/* The engine's usual exchange: the request goes out right after the handshake, and the server's
 * TLS 1.3 tickets are read by the same read as the response; the connection then idles without
 * another read (no WANT_READ, no idle_ok). OpenSSL 3.0's state machine allocated its 16.5 KiB
 * write buffer for the tickets: it must not stay with the idle connection. */
static void test_idle_after_first_read(struct spate_tls *vctx)
{
    pid_t pid;
    int ctl;
    char err[256], resp[sizeof IDLE_RESP];
    unsigned port = scripted(TLS_IDLE, &pid, &ctl);
    size_t before = live_bytes;
    int fd = tcp_connect(port, 0);
    struct spate_transport t;
    spate_tcp_attach(&t, fd);
    int up = fd >= 0 && spate_tls_attach(vctx, &t, "localhost", 0, port, err, sizeof err) == 0 &&
             handshake(&t) == 0;
    int sent = up && write_all(&t, GET, sizeof GET - 1, NULL) == sizeof GET - 1;
    usleep(200 * 1000); /* tickets and response all on the socket before the first read */
    ok(sent && read_exact(&t, resp, sizeof IDLE_RESP - 1) &&
           memcmp(resp, IDLE_RESP, sizeof IDLE_RESP - 1) == 0,
       "request sent at once after the handshake, tickets and response read together");
    size_t idle = live_bytes - before;
    diag("idle TLS 1.3 connection right after its first response: %zu bytes of OpenSSL heap", idle);
    ok(idle < 24 * 1024, "... and it holds < 24 KiB (%zu): no record buffer left behind", idle);
    if (up) t.ops->release(&t);
    close(fd);
    close(ctl);
    stop(pid);
}

static void test_eof(struct spate_tls *vctx, enum scenario sc, int want_unclean)
{
    pid_t pid;
    int ctl;
    struct result r;
    unsigned port = scripted(sc, &pid, &ctl);
    const char *what = want_unclean ? "close without close_notify" : "close_notify";
    fetch(vctx, port, "localhost", 0, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    ok(r.hs == 0 && r.io == SPATE_IO_EOF && strstr(r.body, "partial-body") &&
           r.unclean == want_unclean,
       "%s: body delivered, EOF, unclean=%d (%s)", what, r.unclean, r.msg);
    close(ctl);
    stop(pid);
}

/* Writing to a peer that has gone must fail with FAIL_RESET, never raise SIGPIPE (the test
 * process does not ignore it) and release must not fail either. */
static void test_write_after_close(struct spate_tls *vctx)
{
    pid_t pid;
    int ctl;
    char err[256], body[256];
    size_t len;
    unsigned port = scripted(TLS_CLEAN, &pid, &ctl);
    int fd = tcp_connect(port, 0);
    struct spate_transport t;
    spate_tcp_attach(&t, fd);
    if (!ok(fd >= 0 && spate_tls_attach(vctx, &t, "localhost", 0, port, err, sizeof err) == 0 &&
                handshake(&t) == 0 && write_all(&t, GET, sizeof GET - 1, NULL) > 0 &&
                read_all(&t, body, sizeof body, &len) == SPATE_IO_EOF,
            "closed peer: exchange done")) {
        close(ctl);
        stop(pid);
        return;
    }
    ssize_t r = 0;
    for (int i = 0; i < 100 && r != SPATE_IO_ERR; i++) {
        r = t.ops->write(&t, "x", 1);
        if (r != SPATE_IO_ERR) usleep(10000);
    }
    char msg[256];
    t.ops->describe(&t, msg, sizeof msg);
    ok(r == SPATE_IO_ERR && t.cause == SPATE_CAUSE_RESET && t.sys_errno != 0,
       "write to a closed peer: reset, no SIGPIPE (%s)", msg);
    t.ops->release(&t);
    ok(1, "release after the failure returns");
    close(fd);
    close(ctl);
    stop(pid);
}

/* A handshake that fails after offering a cached session forgets that session. */
static void test_forget(struct spate_tls *vctx)
{
    pid_t pid;
    struct result r;
    unsigned port = s_server(&pid, 0, "good.crt", "leaf.key", NULL);
    fetch(vctx, port, "localhost", 0, GET, &r);
    size_t n = spate_tls_cached_sessions(vctx);
    stop(pid);
    unsigned port2 = s_server(&pid, port, "expired.crt", "leaf.key", NULL);
    if (!ok(served(&r) && port2 == port, "same port served again with an expired certificate")) {
        diag("port %u, again %u: %s", port, port2, r.msg);
        stop(pid);
        return;
    }
    fetch(vctx, port, "localhost", 0, GET, &r);
    ok(r.hs == SPATE_IO_ERR && has(r.msg, "certificate has expired") &&
           spate_tls_cached_sessions(vctx) == n - 1,
       "failed handshake dropped the offered session (%zu -> %zu)", n,
       spate_tls_cached_sessions(vctx));
    stop(pid);
}

static void test_bulk(struct spate_tls *vctx)
{
    pid_t pid;
    int ctl, wants = 0;
    char err[256];
    unsigned port = scripted(TLS_BULK, &pid, &ctl);
    int fd = tcp_connect(port, 16384);
    struct spate_transport t;
    spate_tcp_attach(&t, fd);
    char *out = malloc(BULK_IN), *in = malloc(BULK_OUT + 64);
    if (!ok(out && in && fd >= 0 &&
                spate_tls_attach(vctx, &t, "localhost", 0, port, err, sizeof err) == 0 &&
                handshake(&t) == 0,
            "bulk: handshake")) {
        free(out);
        free(in);
        close(ctl);
        stop(pid);
        return;
    }
    for (size_t i = 0; i < BULK_IN; i++)
        out[i] = (char)(i * 31 + (i >> 11));
    ssize_t w = write_all(&t, out, BULK_IN, &wants);
    ok(w == (ssize_t)BULK_IN && wants > 0, "bulk: 4 MiB written through %d WANT_WRITEs", wants);
    size_t len;
    ssize_t r = read_all(&t, in, BULK_OUT + 64, &len);
    uint64_t h = fnv(0xcbf29ce484222325ull, (unsigned char *)out, BULK_IN), got = 0;
    if (len >= sizeof got) memcpy(&got, in, sizeof got);
    ok(r == SPATE_IO_EOF && len == sizeof h + BULK_OUT && got == h,
       "bulk: server's hash of the upload matches");
    int same = len == sizeof h + BULK_OUT;
    for (size_t i = 0; same && i < BULK_OUT; i++)
        same = (unsigned char)in[sizeof h + i] == pattern(i);
    ok(same, "bulk: 1 MiB download intact");
    t.ops->release(&t);
    close(fd);
    free(out);
    free(in);
    close(ctl);
    stop(pid);
}

int main(void)
{
    if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
        diag("cannot count OpenSSL allocations (already initialised)");
    signal(SIGALRM, on_alarm);
    alarm(120);
    snprintf(dir, sizeof dir, "/tmp/spate-tls-XXXXXX");
    if (!mkdtemp(dir) || !make_certs()) {
        ok(0, "certificates generated in %s", dir);
        return done();
    }
    ok(1, "certificates generated");
    test_create();

    char ca[128], err[256];
    path(ca, sizeof ca, "ca.crt");
    struct spate_tls *vctx = NULL, *ictx = NULL;
    int rc1 = spate_tls_create(&vctx, &(struct spate_tls_opts){.cacert = ca}, err, sizeof err);
    int rc2 = spate_tls_create(&ictx, &(struct spate_tls_opts){.insecure = 1}, err, sizeof err);
    if (!ok(rc1 == 0 && rc2 == 0, "verifying and insecure contexts created (%s)", err))
        return done();
    test_attach_errors(vctx);
    test_good(vctx, ictx);
    test_lru();
    test_tls12(vctx, "-no_tls1_3 (tickets)", (const char *const[]){"-no_tls1_3", NULL});
    test_tls12(vctx, "-no_tls1_3 -no_ticket (session ids)",
               (const char *const[]){"-no_tls1_3", "-no_ticket", NULL});

    static const struct bad_case bad[] = {
        {"expired.crt", "leaf.key", "localhost", 0, "certificate has expired"},
        {"notyet.crt", "leaf.key", "localhost", 0, "certificate is not yet valid"},
        {"self.crt", "leaf.key", "localhost", 0, "self-signed certificate"},
        {"wrong.crt", "leaf.key", "localhost", 0, "hostname mismatch (host localhost)"},
        {"untrusted.crt", "leaf.key", "localhost", 0, "unable to get local issuer certificate"},
        {"ipasdns.crt", "leaf.key", "127.0.0.1", 4, "IP address mismatch (host 127.0.0.1)"},
        {"cnonly.crt", "leaf.key", "localhost", 0, "hostname mismatch"}, /* pinned: CN unused */
        {"good.crt", "leaf.key", "wrong.example", 0, "hostname mismatch (host wrong.example)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        test_bad(vctx, ictx, &bad[i]);

    test_server_variant(vctx, "ALPN h2 only", (const char *const[]){"-alpn", "h2", NULL},
                        "no application protocol");
    test_server_variant(vctx, "TLS 1.0 only",
                        (const char *const[]){"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0", NULL},
                        "TLS 1.2 or newer");
    char cafile[160];
    snprintf(cafile, sizeof cafile, "%s", ca);
    test_server_variant(vctx, "client certificate required",
                        (const char *const[]){"-Verify", "1", "-CAfile", cafile, NULL},
                        "server requires a client certificate");

    test_raw(vctx, RAW_PLAIN_HTTP, "plain HTTP server", SPATE_CAUSE_TLS_HANDSHAKE,
             "wrong version number (server did not speak TLS: is this an http:// port?)");
    test_raw(vctx, RAW_CLOSE, "close after ClientHello", SPATE_CAUSE_RESET,
             "connection closed during TLS handshake");
    test_raw(vctx, RAW_RST, "reset after ClientHello", SPATE_CAUSE_RESET,
             "connection closed during TLS handshake: Connection reset by peer");
    test_raw(vctx, RAW_PARTIAL, "half a record header, then close", SPATE_CAUSE_RESET,
             "connection closed during TLS handshake");
    test_stall(vctx);
    test_idle(vctx);
    test_idle_after_first_read(vctx);
    test_eof(vctx, TLS_UNCLEAN, 1);
    test_eof(vctx, TLS_CLEAN, 0);
    test_bulk(vctx);
    test_write_after_close(vctx);
    test_forget(vctx);

    spate_tls_destroy(vctx);
    spate_tls_destroy(ictx);
    kill_servers();
    alarm(0);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) diag("cannot remove %s", dir);
    return done();
}
