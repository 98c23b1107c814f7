/* bench/lib-memory.c: heap memory of libspate as an embedder sees it, from glibc's mallinfo2()
 * (bytes in use: uordblks + hblkhd), so OpenSSL's and c-ares's allocations made on spate's
 * behalf count too. Kernel socket buffers do not (they are not the process's heap).
 *
 *   lib-memory HTTP_PREFIX HTTPS_PREFIX CAFILE [CONNS [QUEUED]]
 *
 * HTTP_PREFIX and HTTPS_PREFIX are URL prefixes to which a number is appended (".../f/" serving
 * f/0 .. f/CONNS-1). Prints "name value unit" lines:
 *   engine_first       the first engine of the process (includes OpenSSL's and c-ares's
 *                      process-wide initialisation)
 *   engine_next        each further engine
 *   queued_request     per request submitted and not yet started, beyond its URL string
 *   spare_attempt      per attempt state kept for reuse after its request ended (its small
 *                      buffers included): an engine keeps one for each request that ran at
 *                      once, up to 1,024
 *   idle_conn_http     per idle pooled connection, plain (the connection and its pool entry)
 *   idle_conn_https    per idle pooled connection, TLS
 *   idle_rss_https     with "rss" first (lib-memory rss HTTP_PREFIX ...), in a process that
 *                      did nothing else (freed heap would be reused and hide the growth): the
 *                      idle TLS connection as the process's resident memory (Linux), engines
 *                      of 50 connections each opened one after the other and all kept, per
 *                      connection (engines included); what libssl frees after a handshake is
 *                      reused by the next ones, what it keeps is not
 * An idle connection's cost is the difference between two runs of CONNS requests on two fresh
 * engines, one with CONNS connections and one with a single connection, divided by CONNS - 1:
 * the request objects kept for reuse, the host entry and a TLS session are the same in both.
 * The spare attempt states are not: the first run ends with one for each request it ran at once
 * (CONNS), the second with one. So a spare attempt state is measured first, the same way but
 * with every request asking the server to close its connection (Connection: close), so that
 * no connection stays pooled in either run, and the idle connection's figure is the difference
 * less that many spare attempt states. Only spate.h is used. */
#include <malloc.h>
#include <spate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t heap(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static unsigned long failures;
static struct spate_engine *running; /* the engine ran() runs, if any */
static unsigned long peak;           /* the most attempts in flight at once in its run */

static void on_done(void *user, const struct spate_response *r)
{
    (void)user;
    if (r->error != SPATE_OK && r->error != SPATE_E_CANCELED) {
        failures++;
        fprintf(stderr, "lib-memory: %s: %s\n", spate_error_kind_name(r->error), r->message);
    }
}

/* Before each wait: every attempt that ran at once holds its own attempt state. */
static int sample_peak(void *arg)
{
    (void)arg;
    if (!running) return -1;
    struct spate_stats st;
    spate_engine_stats(running, &st);
    if (st.in_flight > peak) peak = (unsigned long)st.in_flight;
    return -1;
}

static struct spate_engine *engine(unsigned concurrency, const char *cafile)
{
    struct spate_config cfg;
    spate_config_init(&cfg);
    cfg.concurrency = concurrency;
    cfg.cacert = cafile;
    cfg.before_wait = sample_peak;
    struct spate_engine *e;
    char err[256];
    if (spate_engine_create(&e, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "lib-memory: %s\n", err);
        exit(1);
    }
    return e;
}

/* Submits PREFIX0 .. PREFIX<n-1>, each asking the server to close its connection when closing
 * is set; returns the bytes of the URL strings (with their NULs). */
static size_t submit(struct spate_engine *e, const char *prefix, unsigned n, int closing)
{
    static const struct spate_header conn_close = {"Connection", "close"};
    size_t strings = 0;
    for (unsigned i = 0; i < n; i++) {
        char url[1024], err[256];
        snprintf(url, sizeof url, "%s%u", prefix, i);
        struct spate_request req = {.url = url, .done = on_done};
        if (closing) {
            req.headers = &conn_close;
            req.nheaders = 1;
        }
        if (spate_submit(e, &req, err, sizeof err) < 0) {
            fprintf(stderr, "lib-memory: %s: %s\n", url, err);
            exit(1);
        }
        strings += strlen(url) + 1;
    }
    return strings;
}

#define SPARE_CAP 1024 /* attempt states an engine keeps at most (engine/attempt.c) */

/* What a run left behind: heap growth, connections still pooled, and the spare attempt states
 * it ends with (one for each attempt that ran at once, up to the cap). */
struct run {
    double grown;
    unsigned long pooled, spares;
};

/* A fresh engine runs n requests with `concurrency` connections at most and keeps what it
 * pools and recycles (closing: see submit). */
static struct run ran(const char *prefix, const char *cafile, unsigned concurrency, unsigned n,
                      int closing)
{
    size_t before = heap();
    struct spate_engine *e = engine(concurrency, cafile);
    submit(e, prefix, n, closing);
    peak = 0;
    running = e;
    if (spate_run(e) < 0) exit(1);
    running = NULL;
    struct run r = {.grown = (double)heap() - (double)before};
    r.spares = peak < SPARE_CAP ? peak : SPARE_CAP;
    struct spate_stats st;
    spate_engine_stats(e, &st);
    r.pooled = closing ? 0 : (unsigned long)st.established;
    spate_engine_destroy(e);
    return r;
}

/* many - one, or exit with a message naming what did not differ. */
static double apart(const char *name, const char *what, unsigned long many, unsigned long one)
{
    if (many <= one) {
        fprintf(stderr, "lib-memory: %s: %lu %s, not more than %lu\n", name, many, what, one);
        exit(1);
    }
    return (double)(many - one);
}

/* Bytes per spare attempt state: CONNS requests at once vs one at a time, no connection kept. */
static double spare_attempt(const char *name, const char *prefix, const char *cafile,
                            unsigned conns)
{
    struct run a = ran(prefix, cafile, conns, conns, 1);
    struct run b = ran(prefix, cafile, 1, conns, 1);
    double per = (a.grown - b.grown) / apart(name, "spare attempt states", a.spares, b.spares);
    printf("%s %.0f bytes (%lu spare vs %lu, no connection kept)\n", name, per, a.spares, b.spares);
    return per;
}

static void idle_conn(const char *name, const char *prefix, const char *cafile, unsigned conns,
                      double per_attempt)
{
    struct run a = ran(prefix, cafile, conns, conns, 0);
    struct run b = ran(prefix, cafile, 1, conns, 0);
    double spares = per_attempt * ((double)a.spares - (double)b.spares);
    double per = (a.grown - b.grown - spares) / apart(name, "connections", a.pooled, b.pooled);
    printf("%s %.0f bytes (%lu connections vs %lu, less %lu spare attempt states)\n", name, per,
           a.pooled, b.pooled, a.spares - b.spares);
}

/* Resident set size in bytes from /proc/self/statm, or 0 where there is none. */
static double rss(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* Engines of 50 connections, each fetching its own 50 URLs, opened one after the other and kept. */
static void idle_rss(const char *name, const char *prefix, const char *cafile, unsigned conns)
{
    enum { PER = 50, MAX_ENGINES = 200 };
    struct spate_engine *es[MAX_ENGINES];
    unsigned n = conns / PER ? conns / PER : 1;
    if (n > MAX_ENGINES) n = MAX_ENGINES;
    double before = rss();
    unsigned long established = 0;
    for (unsigned i = 0; i < n; i++) {
        es[i] = engine(PER, cafile);
        char p[1024];
        for (unsigned k = 0; k < PER; k++) {
            char err[256];
            snprintf(p, sizeof p, "%s%u", prefix, (i * PER + k) % conns);
            struct spate_request req = {.url = p, .done = on_done};
            if (spate_submit(es[i], &req, err, sizeof err) < 0) exit(1);
        }
        if (spate_run(es[i]) < 0) exit(1);
        struct spate_stats st;
        spate_engine_stats(es[i], &st);
        established += (unsigned long)st.established;
    }
    double after = rss();
    if (before > 0 && established)
        printf("%s %.0f bytes (%lu connections in %u engines, engines included)\n", name,
               (after - before) / (double)established, established, n);
    for (unsigned i = 0; i < n; i++)
        spate_engine_destroy(es[i]);
}

int main(int argc, char **argv)
{
    int rss_only = argc > 1 && !strcmp(argv[1], "rss");
    argc -= rss_only;
    argv += rss_only;
    if (argc < 4) {
        fprintf(stderr, "usage: %s [rss] HTTP_PREFIX HTTPS_PREFIX CAFILE [CONNS [QUEUED]]\n",
                argv[0]);
        return 2;
    }
    unsigned conns = argc > 4 ? (unsigned)atoi(argv[4]) : 500;
    unsigned queued = argc > 5 ? (unsigned)atoi(argv[5]) : 10000;
    if (rss_only) {
        ran(argv[2], argv[3], 1, 1, 0); /* OpenSSL's trust store and error strings */
        idle_rss("idle_rss_https", argv[2], argv[3], conns);
        return failures ? 1 : 0;
    }

    size_t h0 = heap();
    struct spate_engine *e1 = engine(100, argv[3]);
    size_t h1 = heap();
    struct spate_engine *e2 = engine(100, argv[3]);
    size_t h2 = heap();
    printf("engine_first %zu bytes\n", h1 - h0);
    printf("engine_next %zu bytes\n", h2 - h1);
    spate_engine_destroy(e2);

    /* queued: the first submit creates the host entry, so it is left out of the count */
    submit(e1, argv[1], 1, 0);
    size_t q0 = heap();
    size_t strings = submit(e1, argv[1], queued, 0);
    size_t q1 = heap();
    printf("queued_request %.1f bytes (beyond %.1f bytes of URL per request)\n",
           ((double)(q1 - q0) - (double)strings) / queued, (double)strings / queued);
    spate_engine_destroy(e1); /* cancels them all */

    /* warm-up: OpenSSL loads its trust store and error strings on first use */
    ran(argv[2], argv[3], 1, 1, 0);
    double att = spare_attempt("spare_attempt", argv[1], argv[3], conns);
    idle_conn("idle_conn_http", argv[1], argv[3], conns, att);
    idle_conn("idle_conn_https", argv[2], argv[3], conns, att);
    if (failures) fprintf(stderr, "lib-memory: %lu requests failed\n", failures);
    return failures ? 1 : 0;
}
