/* spate: a single-threaded async HTTP/1.1 client engine. The only header the CLI and embedders use.
 *
 * Ownership: the engine copies everything a call is given; pointers handed to callbacks are valid
 * only for the duration of the callback. No call blocks; nothing calls exit() or abort(). */
#ifndef SPATE_H
#define SPATE_H
#include <stddef.h>
#include <stdint.h>

/* Every function declared here carries SPATE_API: those, and nothing else of the library (its
 * internal spate_* functions and the llhttp parser inside it included), are exported. */
#ifndef SPATE_API
#if defined(__GNUC__) || defined(__clang__)
#define SPATE_API __attribute__((visibility("default")))
#else
#define SPATE_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. spate_version() gives the library's, which may be newer. */
#define SPATE_VERSION_MAJOR 0
#define SPATE_VERSION_MINOR 1
#define SPATE_VERSION_PATCH 0
#define SPATE_VERSION "0.1.0"
/* 0xMMmmpp, for comparisons: #if SPATE_VERSION_NUM >= 0x000100 */
#define SPATE_VERSION_NUM                                                                          \
    ((SPATE_VERSION_MAJOR << 16) | (SPATE_VERSION_MINOR << 8) | SPATE_VERSION_PATCH)

/* "MAJOR.MINOR.PATCH" of the library linked in. Static storage. */
SPATE_API const char *spate_version(void);

/* Text for a code a spate call returned: 0 is "success", a negative value is -errno (every
 * negative return of this API is one), a positive one an enum spate_error_kind from a response.
 * Static storage, English, never NULL; unknown codes give "unknown error". */
SPATE_API const char *spate_strerror(int err);

/* The version of a component this process runs with: "spate" (as spate_version()), "openssl"
 * and "c-ares" as those libraries report themselves at run time, "llhttp" (compiled in). A
 * static string, or NULL for any other name. */
SPATE_API const char *spate_version_of(const char *component);

enum spate_error_kind {
    SPATE_OK = 0,
    SPATE_E_DNS,       /* name resolution failed */
    SPATE_E_CONNECT,   /* TCP connect failed (refused, unreachable) */
    SPATE_E_TLS,       /* handshake or certificate verification failed */
    SPATE_E_TIMEOUT,   /* connect, total or read timeout */
    SPATE_E_RESET,     /* connection reset or closed before the response completed */
    SPATE_E_PROTOCOL,  /* the server broke HTTP/1.1 */
    SPATE_E_HTTP,      /* a complete response with status >= 400 (unless no_fail) */
    SPATE_E_TOO_LARGE, /* body or header limit exceeded */
    SPATE_E_INPUT,     /* the request itself is invalid */
    SPATE_E_CANCELED,  /* the engine was destroyed or the request canceled */
};

/* "dns", "connect", ... as printed in JSON output; "" for SPATE_OK. */
SPATE_API const char *spate_error_kind_name(enum spate_error_kind k);

/* The ABI rule for the structs a program allocates and the library reads or fills
 * (spate_config, spate_stats, spate_load_opts, spate_load_report; spate_request_opts): each
 * begins with `size`, the size the program was built with, and grows only at its end. The
 * library reads and writes no further than `size`; a field a program built against an older,
 * shorter struct does not know takes its default. The init functions are macros that pass the
 * program's own sizeof, so source code just calls spate_config_init(&c). spate_request,
 * spate_header, spate_timing and spate_response do not grow: new per-request fields go to
 * spate_request_opts. */

/* Engine-wide settings. Initialise with spate_config_init() and change what you need. */
struct spate_config {
    size_t size;            /* set by spate_config_init */
    unsigned concurrency;   /* requests in flight and open connections at most [100] */
    unsigned per_host;      /* connections per scheme+host+port, 0 = only the global cap [0] */
    double rate;            /* requests started per second, 0 = unlimited [0] */
    double connect_timeout; /* seconds for DNS + TCP + TLS [10] */
    /* Happy Eyeballs (RFC 8305): seconds a connect may stay pending before the next address of
     * the name (families alternating) starts alongside it; the first to connect wins.
     * 0 = one address at a time, each with its share of the connect budget [0.25] */
    double happy_eyeballs_delay;
    double timeout;         /* seconds for one whole attempt, 0 = none [30] */
    double read_timeout;    /* longest silence between bytes, 0 = none [0] */
    unsigned retries;       /* extra attempts [0] */
    double backoff;         /* base of the exponential backoff, seconds [0.5] */
    double backoff_max;     /* cap of one backoff wait [30] */
    double retry_after_max; /* cap of a Retry-After wait [60] */
    int retry_all_methods;  /* retry non-idempotent methods too [0] */
    int follow_redirects;   /* [0] */
    unsigned max_redirs;    /* [10] */
    int no_fail;            /* status >= 400 is not an error [0] */
    double dns_ttl;         /* fixed DNS cache lifetime in seconds; < 0 = record TTLs [-1] */
    size_t dns_cache_size;  /* names the DNS cache keeps (NXDOMAIN ones too), least recently
                               used evicted beyond; 0 = no caching [10000] */
    const char *const *dns_servers; /* "ADDR[:PORT]" strings, copied [none: system] */
    size_t n_dns_servers;
    const char *const *resolve; /* "HOST:PORT:ADDR" pins, copied */
    size_t n_resolve;
    const char *cacert;      /* CA bundle file, NULL = system store */
    int insecure;            /* skip certificate and host name checks [0] */
    uint64_t max_body;       /* bytes [64 MiB] */
    size_t max_header_bytes; /* bytes of one response header section [64 KiB] */
    unsigned max_headers;    /* header fields per response [256] */
    const char *user_agent;  /* [spate/VERSION]; "" sends none */
    /* spate_run only: while at least 8 requests are in flight and events arrive quickly, the
     * loop may sleep this many microseconds before a wait that would block, so one wake-up
     * collects several responses (interrupt coalescing). Less CPU per request; a response
     * may be seen up to this much (plus the kernel's timer slack) later. 0 = off [0] */
    unsigned coalesce_us;
    /* Called by spate_run each time before it waits for events, e.g. to flush buffered output
     * so results stream out without a write per result. Returns the longest the wait may
     * last in milliseconds (say, until the next flush is due), or -1 for no limit. It may
     * submit requests (from an input read as it arrives): they start before the wait.
     * NULL = none. */
    int (*before_wait)(void *arg);
    void *before_wait_arg;
};

/* Fills the defaults shown in brackets above (zero elsewhere) and sets size. */
SPATE_API void spate_config_init_sized(struct spate_config *c, size_t size);
#define spate_config_init(c) spate_config_init_sized((c), sizeof(struct spate_config))

struct spate_header {
    const char *name;
    const char *value;
};

/* Seconds, like curl's -w timers: points on a monotonic clock read when each event happened,
 * measured from the start of the final attempt: name known (dns), TCP connected (connect), TLS
 * handshake done (tls), first response byte (ttfb), last byte or failure (total). So
 * dns <= connect <= tls <= ttfb <= total; a step that did not happen (cache hit, pooled
 * connection, plain http, no response) takes the previous point's value. elapsed: the whole
 * request from its first attempt's start, every retry and wait included (== total after one
 * attempt). All 0 for a request never attempted. */
struct spate_timing {
    double dns, connect, tls, ttfb, total, elapsed;
};

struct spate_response {
    int status;                  /* last HTTP status, 0 if none */
    enum spate_error_kind error; /* SPATE_OK on success */
    const char *message;         /* error message naming the cause, "" on success */
    unsigned attempts;           /* >= 1; 0 when never attempted (canceled while queued) */
    uint64_t body_bytes;         /* body bytes received in the final attempt */
    const char *body;            /* whole body when keep_body was set, else NULL */
    size_t body_len;
    const struct spate_header *headers; /* response headers of the final response */
    size_t nheaders;
    struct spate_timing time;
    double start;       /* wall clock at the first attempt's start, Unix seconds; 0 = never */
    const char *remote; /* "ADDR:PORT" the final attempt used (the winner of a race), "" if none */
    int tls_resumed;    /* the final connection resumed a TLS session */
    int reused;         /* the final attempt ran on a pooled connection */
};

/* Called exactly once per submitted request, from inside spate_run/spate_engine_step, never from
 * inside spate_submit. May submit further requests. */
typedef void (*spate_done_cb)(void *user, const struct spate_response *r);
/* Streams body bytes as they arrive. p == NULL && n == 0 means "discard what you were given so
 * far" (the request is being re-attempted). Return 0 to go on, nonzero to abort (error input). */
typedef int (*spate_body_cb)(void *user, const char *p, size_t n);

struct spate_request {
    const char *method; /* NULL = GET (or POST when body is set) */
    const char *url;
    const struct spate_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    int keep_body;    /* collect the body into spate_response.body */
    int skip_headers; /* leave spate_response.headers empty (saves copying them) */
    spate_body_cb on_body;
    spate_done_cb done; /* required */
    void *user;
};

struct spate_engine;

/* ---- Per-request handles and options (spate_submit_ex) ---- */

/* A submitted request, as spate_submit_ex hands it out: valid from the submit until its done
 * callback returns (the engine reuses the object afterwards, as libcurl does an easy handle's
 * slot). Opaque. */
struct spate_req;

/* Called once per attempt when the final response's status line and headers have arrived,
 * before its first body byte (1xx interim responses and followed redirects are not shown).
 * headers: the fields as received, valid during the call. Return 0 to go on, nonzero to stop
 * the request as spate_cancel would (done then runs with SPATE_E_CANCELED, the connection is
 * not reused unless the body was already complete). */
typedef int (*spate_head_cb)(void *user, int status, const struct spate_header *headers,
                             size_t nheaders);

/* Marks an option "off" where 0 would mean "the engine's default". */
#define SPATE_OPT_NONE (-1)

/* Per-request options. Set size = sizeof(struct spate_request_opts) (fields may be added at the
 * end; the library reads only the first `size` bytes, so a caller built against an older header
 * gets the engine's value for every field it does not know). Every field left 0 takes the
 * engine's value from spate_config. */
struct spate_request_opts {
    size_t size;
    double timeout;       /* seconds for one whole attempt; < 0 = none */
    int retries;          /* extra attempts; SPATE_OPT_NONE = none */
    int follow_redirects; /* 1 = follow, SPATE_OPT_NONE = do not */
    unsigned max_redirs;
    uint64_t max_body; /* bytes; only lower than the engine's limit takes effect */
    spate_head_cb on_head;
    /* Seconds for DNS + TCP + TLS of a connection opened for this request (one taken from the
     * pool is already connected); < 0 = none. Happy Eyeballs shares this budget as it does the
     * engine's. The resolver's own retries stay engine-wide: a lookup still fails as DNS after
     * about the engine's connect_timeout even when this one is longer. */
    double connect_timeout;
    /* Longest silence between bytes while this request's exchange runs on a connection
     * (sending the request, waiting for and reading the response), whichever connection it
     * runs on; < 0 = none (when the engine has one). Fails with SPATE_E_TIMEOUT. */
    double read_timeout;
};

/* Checks a request header as spate_submit would: an RFC 9110 token name; a value without CR,
 * LF, NUL or other control characters but HTAB; not a framing header spate sets itself
 * (Content-Length, Transfer-Encoding). 0 or -EINVAL with err naming the problem. */
SPATE_API int spate_header_check(const char *name, const char *value, char *err, size_t errlen);
/* Checks a method token: 0 or -EINVAL with err. */
SPATE_API int spate_method_check(const char *method, char *err, size_t errlen);
/* Base64 of in[0..n) into out, which must hold 4 * ((n + 2) / 3) + 1 bytes; returns the length
 * written (without the NUL). */
SPATE_API size_t spate_base64(char *out, const void *in, size_t n);

/* Creates an engine. Returns 0 or a negative error (-EINVAL when cfg->size was never set:
 * initialise cfg with spate_config_init); on error *out is NULL and err (if given) holds a
 * message. Safe to call from several threads at once (one engine each). */
SPATE_API int spate_engine_create(struct spate_engine **out, const struct spate_config *cfg,
                                  char *err, size_t errlen);
/* Cancels everything still pending (callbacks fire with SPATE_E_CANCELED) and frees all.
 * NULL-safe. Called from inside a callback it does nothing (see the embedding contract). */
SPATE_API void spate_engine_destroy(struct spate_engine *e);

/* Checks a request without submitting it: 0, or -EINVAL with err naming the problem. */
SPATE_API int spate_request_check(const struct spate_request *req, char *err, size_t errlen);

/* Queues a request (all of it copied). Returns 0, or a negative error (-EINVAL for an invalid
 * request, err naming it; -ENOMEM), in which case done will never be called. */
SPATE_API int spate_submit(struct spate_engine *e, const struct spate_request *req, char *err,
                           size_t errlen);

/* spate_submit with options (NULL = all defaults) and a handle: *handle (if handle is not
 * NULL) is set on success and stays valid until the request's done callback returns. */
SPATE_API int spate_submit_ex(struct spate_engine *e, const struct spate_request *req,
                              const struct spate_request_opts *opts, struct spate_req **handle,
                              char *err, size_t errlen);

/* Cancels one request, wherever it is: queued, resolving or connecting, waiting for its
 * response, mid-body, or in a backoff wait. Its done callback runs exactly once, before this
 * returns, with SPATE_E_CANCELED; a connection it was using is closed, never reused. Returns 0,
 * or -EALREADY when the request is already completing (called from its own done callback).
 * From the request's own head or body callback the request stops as if the callback had
 * returned nonzero: done runs after that callback returns. */
SPATE_API int spate_cancel(struct spate_engine *e, struct spate_req *handle);

/* Runs until every submitted request has completed. Returns 0 or a negative error
 * (-EDEADLK from inside a callback). */
SPATE_API int spate_run(struct spate_engine *e);

/* Embedding: watch this fd for readability in your loop (level-triggered) ... */
SPATE_API int spate_engine_fd(const struct spate_engine *e);
/* ... wake at least this many milliseconds from now (-1 = no timer pending) ... */
SPATE_API int spate_engine_timeout_ms(struct spate_engine *e);
/* ... and call this: it does the ready work without blocking and returns the number of requests
 * not yet completed (0 = idle), or a negative error: -EDEADLK when called from inside one of
 * the engine's callbacks (nothing is done then). After each call, re-read the timeout. */
SPATE_API int spate_engine_step(struct spate_engine *e);

/* The embedding contract.
 *
 * Threads: an engine and every request on it belong to one thread at a time; nothing in it
 * locks. Different engines may run in different threads at once. Process-wide state (c-ares'
 * and OpenSSL's library initialisation, a probe for epoll_pwait2) is set up once, thread-safely,
 * on the first spate_engine_create and never torn down.
 *
 * Callbacks (done, on_body, on_head, before_wait) run only inside spate_run and
 * spate_engine_step (and spate_cancel / spate_engine_cancel / spate_engine_destroy for
 * canceled requests). From inside them, spate_submit, spate_submit_ex and spate_cancel work;
 * spate_run and spate_engine_step return -EDEADLK, and spate_engine_destroy does nothing.
 *
 * Waking the host loop: a spate_submit made outside a callback makes spate_engine_fd readable
 * until the next spate_engine_step, so a loop that waits on the fd (libuv, libevent, poll)
 * comes round, calls spate_engine_step and re-reads spate_engine_timeout_ms; nothing else is
 * needed after a submit.
 *
 * Memory: a queued request costs its copies (URL, headers, body) plus a fixed part
 * (bench/lib-memory.sh measures it); the engine does not limit the queue: apply back-pressure
 * with spate_stats.in_flight and your own count of submitted requests.
 *
 * Example, a poll() loop (error handling shortened):
 *
 *     static void done(void *user, const struct spate_response *r) {
 *         printf("%d %s\n", r->status, spate_error_kind_name(r->error));
 *     }
 *     struct spate_config cfg; spate_config_init(&cfg);
 *     struct spate_engine *e; char err[256];
 *     if (spate_engine_create(&e, &cfg, err, sizeof err) < 0) return 1;
 *     struct spate_request q = {.url = "http://example.com/", .done = done};
 *     spate_submit(e, &q, err, sizeof err);
 *     for (int left = 1; left > 0;) {
 *         struct pollfd p = {.fd = spate_engine_fd(e), .events = POLLIN};
 *         poll(&p, 1, spate_engine_timeout_ms(e));
 *         left = spate_engine_step(e);
 *     }
 *     spate_engine_destroy(e);
 */

/* Winding a run down (an interrupt, a closed output): SPATE_CANCEL_QUEUED cancels the requests
 * whose first attempt has not started (nothing of them reached a server: attempts 0),
 * SPATE_CANCEL_ALL every pending request, cutting the attempts in flight. Each canceled
 * request's callback runs once before this returns, with SPATE_E_CANCELED and the message `why`
 * (copied; NULL = "canceled"); requests those callbacks submit are not canceled, and the engine
 * stays usable. Call it outside request callbacks, e.g. from before_wait: spate_run returns
 * once nothing is pending. From a callback of another spate_engine_cancel it cancels only what
 * that one does not (the requests it holds are left to it); from a callback of
 * spate_engine_destroy it does nothing and returns 0. Returns the number of requests canceled. */
enum spate_cancel_scope { SPATE_CANCEL_QUEUED, SPATE_CANCEL_ALL };
SPATE_API size_t spate_engine_cancel(struct spate_engine *e, enum spate_cancel_scope which,
                                     const char *why);

/* Counters for the whole engine life. */
struct spate_stats {
    size_t size;             /* set by spate_engine_stats: the bytes it filled */
    uint64_t connects;       /* TCP connections attempted */
    uint64_t established;    /* ... of which succeeded */
    uint64_t reused;         /* requests served on a pooled connection */
    uint64_t tls_handshakes; /* completed TLS handshakes */
    uint64_t tls_resumed;    /* ... of which resumed a session */
    uint64_t dns_queries;    /* lookups sent to c-ares */
    uint64_t dns_cache_hits;
    uint64_t stale_resends; /* requests re-sent after a pooled connection proved dead */
    uint64_t in_flight;     /* now: attempts running (a gauge, not a count) */
};
SPATE_API void spate_engine_stats_sized(const struct spate_engine *e, struct spate_stats *out,
                                        size_t size);
#define spate_engine_stats(e, out) spate_engine_stats_sized((e), (out), sizeof(struct spate_stats))

/* Closed-model and open-model load generation (spate bench): one request, rendered once,
 * sent over `connections` connections again and again.
 *
 * A run has two phases. Set-up opens every connection (at most 256 handshakes at once) and
 * nothing is measured; the measured period starts when each connection has come up or failed,
 * so the load measured is the load asked for. Connections that failed set-up are opened again
 * during the measured period, where each failure costs a request (closed model) or fails a due
 * request (open model). */
struct spate_load_report;
struct spate_load_opts {
    size_t size;              /* set by spate_load_opts_init */
    struct spate_request req; /* method, url, headers, body; callbacks unused */
    unsigned connections;     /* [64]; never more are opened than `requests` */
    double duration;          /* seconds of measured period, 0 = until `requests` are done */
    uint64_t requests;        /* total, 0 = until `duration` ends */
    double rate;              /* open model: requests per second, 0 = closed model */
    uint64_t timeout_ns;      /* per request, 0 = none */
    const char *user_agent;   /* NULL or "" = none */
    /* The run ends early, as if the duration were over, when this descriptor becomes readable
     * (a signal's self-pipe, say). Watched, never read or closed. -1 = none [-1] */
    int stop_fd;
    /* Called every progress_ns of the run (set-up included) with the report so far;
     * NULL or 0 = never [NULL]. */
    void (*progress)(void *user, const struct spate_load_report *sofar);
    uint64_t progress_ns;
    /* Scale-out: one test cut into pieces run by several processes or machines.
     * slot_k of slot_n (slot_n 0 or 1 = the whole test): in the open model `rate` is the whole
     * test's rate, whose slot i is due floor(i * round(1e15 / rate) / 1e6) ns after the common
     * start, and this run sends only the slots with i mod slot_n == slot_k, so the pieces'
     * schedules together are exactly the one schedule (no burst, no gap). `requests` and
     * `connections` are this run's own share. [0, 0] */
    unsigned slot_k, slot_n;
    /* The measured period's common start, wall-clock Unix seconds; 0 = when set-up ends [0].
     * The connections stay open and idle until then. When set-up ends after it, the period
     * starts at once and the report says how late (late_ns); with `duration` it still ends at
     * start_at + duration, and in the open model the slots due before it began are skipped. */
    double start_at;
    /* Called once when set-up has ended, before the measured period, with the report so far;
     * a return value above 0 replaces start_at (a coordinator telling several processes one
     * instant), 0 keeps it, below 0 ends the run with no measured period (the coordinator is
     * gone, or a signal came). It may block: the engine is idle while it runs. NULL = none. */
    double (*setup_done)(void *user, const struct spate_load_report *sofar);
};

/* Fills the defaults shown in brackets above (zero elsewhere) and sets size. */
SPATE_API void spate_load_opts_init_sized(struct spate_load_opts *o, size_t size);
#define spate_load_opts_init(o) spate_load_opts_init_sized((o), sizeof(struct spate_load_opts))

struct spate_load_sample {
    uint64_t latency_ns; /* from the scheduled start (open model) or the send (closed) */
    int status;          /* 0 on error */
    enum spate_error_kind error;
    const char *message; /* cause when error != SPATE_OK */
    uint64_t bytes;      /* response bytes on the wire (headers + body) */
    int setup;           /* a connection that failed during set-up: not a request */
    uint64_t at_ns;      /* when it ended: ns after the measured period's planned start */
};

struct spate_load_report {
    size_t size; /* set by spate_load_run: the bytes it fills */
    /* set-up */
    uint64_t connections_wanted; /* min(connections, requests) */
    uint64_t connections_up;     /* up when the measured period started */
    uint64_t setup_failed;       /* connections that failed during set-up */
    uint64_t setup_ns;           /* how long set-up took (so far, while it runs) */
    int measuring;               /* the measured period has started */
    int interrupted;             /* stop_fd ended the run */
    /* measured period */
    uint64_t elapsed_ns; /* its length (so far, while it runs) */
    uint64_t sent;       /* requests started: written, or failed before a connection came up */
    uint64_t finished;   /* requests that ended: a response or an error */
    uint64_t responses;  /* ... of which a complete response (any status) */
    uint64_t connections_requested, connections_established, reconnects; /* set-up included */
    uint64_t max_lag_ns; /* open model: the furthest a send fell behind its schedule */
    uint64_t late_sends; /* open model: requests sent more than 1 ms after their slot */
    /* at the end: requests neither answered nor failed, never in the samples */
    uint64_t unfinished; /* sent and still waiting when the period was cut off */
    uint64_t unsent;     /* open model: due by the end but never sent */
    uint64_t oldest_ns;  /* age of the oldest of these (open model: from its scheduled start) */
    /* where the measured period lies in wall-clock time (for pieces of one test to line up) */
    double start_unix; /* Unix seconds: start_at when on time, else when it really began */
    uint64_t late_ns;  /* how long after start_at it began (set-up overran it); 0 = on time */
    uint64_t skipped;  /* open model, late start: own slots due before it began, never sent */
};

/* Called once per finished request, and once per connection that failed during set-up. */
typedef void (*spate_load_cb)(void *user, const struct spate_load_sample *s);

/* Runs the load to completion (or to the end of the duration, or to stop_fd); cb (NULL = none) is
 * called once per finished request. rep is filled in as the run goes and complete on return (for a
 * program built against an older, shorter report: complete on return; the callbacks' `sofar`
 * is always live). 0 or negative error (err naming it; -EINVAL when o->size was never set). */
SPATE_API int spate_load_run_sized(struct spate_engine *e, const struct spate_load_opts *o,
                                   spate_load_cb cb, void *user, struct spate_load_report *rep,
                                   size_t rep_size, char *err, size_t errlen);
#define spate_load_run(e, o, cb, user, rep, err, errlen)                                           \
    spate_load_run_sized((e), (o), (cb), (user), (rep), sizeof(struct spate_load_report), (err),   \
                         (errlen))

#ifdef __cplusplus
}
#endif

#endif
