/* One submitted request through its whole life: queued, attempts (each on a connection),
 * backoff waits between attempts, completion. Internal to the engine. */
#ifndef SPATE_REQUEST_H
#define SPATE_REQUEST_H
#include "buf.h"
#include "spate.h"
#include "timer.h"
#include "url.h"

struct spate_engine;
struct spate_host;
struct spate_conn;

enum spate_req_phase { REQ_QUEUED, REQ_HOSTWAIT, REQ_RUNNING, REQ_BACKOFF, REQ_DONE };

struct spate_req {
    struct spate_engine *e;
    struct spate_req *next;          /* queue link (engine pending queue or host wait queue) */
    struct spate_req *aprev, *anext; /* the engine's list of active requests */
    struct spate_host *host;
    struct spate_conn *conn; /* while an attempt runs on a connection */
    enum spate_req_phase phase;
    char *method; /* method_buf, or owned when longer */
    char method_buf[16];
    struct spate_url url;         /* owned */
    struct spate_header *headers; /* owned copies */
    size_t nheaders;
    char *body; /* owned */
    size_t body_len;
    int has_body;
    struct spate_buf wire;   /* the rendered request */
    struct spate_buf acc;    /* header field being assembled */
    struct spate_buf hstore; /* response headers: name NUL value NUL ... */
    size_t nresp_headers;
    struct spate_buf bodybuf; /* body, when keep_body */
    int keep_body;
    int skip_headers;
    spate_body_cb on_body;
    spate_done_cb done;
    spate_head_cb on_head;
    void *user;
    /* per-request options (spate_submit_ex), already resolved against the engine's */
    uint64_t timeout_ns;          /* 0 = the engine's (its deadline list), UINT64_MAX = none */
    uint64_t connect_ns, read_ns; /* 0 = the engine's, UINT64_MAX = none (conn.h's form) */
    uint64_t max_body;
    unsigned retries, max_redirs;
    unsigned char follow;
    unsigned char stop;       /* 1: the host stopped it from its head or body callback (canceled);
                                 2: its own body limit was passed (too large) */
    struct spate_timer timer; /* a backoff wait */
    struct spate_req *dl_prev, *dl_next; /* the engine's deadline list, while an attempt runs */
    uint64_t deadline;
    unsigned char dl_on;
    unsigned attempts;
    unsigned hop_attempts; /* attempts made before the last redirect */
    unsigned redirects;
    char *location; /* Location of the last response (owned) */
    unsigned char stale_resent, force_new, inflight, streamed;
    unsigned char resp_started; /* the failed attempt had received response bytes */
    double retry_after;         /* seconds from the last response, < 0 = none */
    /* Monotonic ns, each read when its event happened: the first attempt's start (0 = never
     * attempted), the current attempt's start, then that attempt's marks (0 = did not happen):
     * name known, TCP connected, TLS done, first response byte, end (last byte or failure). */
    uint64_t t_first, t_attempt;
    uint64_t m_dns, m_tcp, m_tls, m_first, m_end;
    double wall_first; /* wall clock at t_first, Unix seconds */
    int status;
    uint64_t body_bytes;
    enum spate_error_kind error;
    char *message; /* owned */
    char remote[64];
    unsigned char tls_resumed, reused;
};

#endif
