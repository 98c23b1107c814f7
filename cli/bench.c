/* `spate bench`: load one URL with -c connections for -d seconds or -n requests, closed model or
 * fixed-rate open model (-R), and report throughput, a latency histogram and errors by cause.
 * One process, or --procs N workers whose reports add up into one; --segment runs one piece of a
 * test spread over several machines. */
#include "bench.h"
#include "args.h"
#include "bench_hlog.h"
#include "bench_merge.h"
#include "bench_read.h"
#include "bench_report.h"
#include "text.h"
#include "histogram.h"
#include "interrupt.h"
#include "json.h"
#include "procs.h"
#include "spate.h"
#include "split.h"
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CMD "bench"
#define MAX_PROCS 1024
#define START_AHEAD_MAX (24 * 3600.0) /* a --start-at further ahead is a mistake (ms?) */

struct bench {
    struct spate_config cfg;
    struct spate_args_req req;
    struct spate_load_opts lo;
    struct spate_bench_setup set;
    const char *url, *latency_file, *hdr_log;
    int json;
    struct spate_bench_tally t;
    struct spate_load_report *rep; /* the run's, while it runs */
    /* the progress line */
    int progress_shown;
    uint64_t last_responses, last_ns;
    /* scale-out */
    unsigned procs, segments;
    int pin;
    const char *segment_arg, *start_arg;
    struct spate_split seg; /* this process's piece of the test, {0, 1} = all of it */
    double start_at;        /* --start-at in Unix seconds, 0 = none */
    unsigned conns_total;   /* -c of the whole test */
    uint64_t requests_total;
    int worker_fd; /* a --procs worker's socket to the parent; -1 elsewhere */
    /* --hdr-log: the current second's histogram */
    struct spate_bench_hlog *hlog;
    struct spate_hist *iv;
    uint64_t iv_sec;
    /* the parent of --procs workers */
    struct spate_bench_merge *merge;
    struct spate_bench_read *rd;
    const struct spate_procs_out *procs_out; /* while the workers run */
};

static void usage(FILE *to)
{
    fputs("usage: spate bench [OPTIONS] URL\n"
          "  -c, --connections N     connections kept busy [64]\n"
          "  -d, --duration S        run for S seconds [10] (unless -n is given)\n"
          "  -n, --requests N        stop after N requests\n"
          "  -R, --rate R            open model: R requests/s on a fixed schedule, latency\n"
          "                          measured from each scheduled start\n"
          "      --json              print the report as one JSON object (with its histogram)\n"
          "      --latency-file FILE write the percentile distribution (HdrHistogram text)\n"
          "      --hdr-log FILE      write an HdrHistogram interval log (one per second)\n"
          "  -X, --request METHOD  -H, --header 'Name: value'  -A, --user-agent UA\n"
          "      --data DATA|@FILE  --data-json DATA|@FILE  --bearer TOKEN  -u USER:PASS\n"
          "  -k, --insecure  --cacert FILE  --timeout S [30]  --connect-timeout S [10]\n"
          "      --no-fail           a status of 400 or more is not a failed request\n"
          "      --max-errors N      exit 0 with at most N failed requests [0]\n"
          "Scale-out (-c, -n and -R are the whole test's; each piece runs its share):\n"
          "      --procs N           N worker processes, one report [1]\n"
          "      --pin               put worker i on CPU i\n"
          "      --segment K/N|auto  run piece K (from 0) of N of the test (auto: from Slurm's\n"
          "                          or a Kubernetes Indexed Job's variables)\n"
          "      --segments N        the number of pieces where the system does not say it\n"
          "      --start-at T|+S     start measuring at Unix time T, or S s after launch\n"
          "Exit status: 0 when at most --max-errors requests failed, every connection came up\n"
          "and no request is outstanding past --timeout at the end (open model); 1 otherwise\n"
          "(also when a worker died); 2 usage; 130 interrupted by SIGINT (143 SIGTERM), after\n"
          "printing the report.\n",
          to);
}

enum {
    O_JSON = 256,
    O_LFILE,
    O_DATA,
    O_DATA_JSON,
    O_BEARER,
    O_CACERT,
    O_TIMEOUT,
    O_CTIMEOUT,
    O_NO_FAIL,
    O_MAX_ERRORS,
    O_PROCS,
    O_PIN,
    O_SEGMENT,
    O_SEGMENTS,
    O_START_AT,
    O_HDR_LOG,
};

static const struct option longopts[] = {
    {"connections", required_argument, 0, 'c'},
    {"duration", required_argument, 0, 'd'},
    {"requests", required_argument, 0, 'n'},
    {"rate", required_argument, 0, 'R'},
    {"json", no_argument, 0, O_JSON},
    {"latency-file", required_argument, 0, O_LFILE},
    {"hdr-log", required_argument, 0, O_HDR_LOG},
    {"request", required_argument, 0, 'X'},
    {"header", required_argument, 0, 'H'},
    {"user-agent", required_argument, 0, 'A'},
    {"data", required_argument, 0, O_DATA},
    {"data-json", required_argument, 0, O_DATA_JSON},
    {"bearer", required_argument, 0, O_BEARER},
    {"user", required_argument, 0, 'u'},
    {"insecure", no_argument, 0, 'k'},
    {"cacert", required_argument, 0, O_CACERT},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"connect-timeout", required_argument, 0, O_CTIMEOUT},
    {"no-fail", no_argument, 0, O_NO_FAIL},
    {"max-errors", required_argument, 0, O_MAX_ERRORS},
    {"procs", required_argument, 0, O_PROCS},
    {"pin", no_argument, 0, O_PIN},
    {"segment", required_argument, 0, O_SEGMENT},
    {"segments", required_argument, 0, O_SEGMENTS},
    {"start-at", required_argument, 0, O_START_AT},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int scale_option(struct bench *b, int c)
{
    unsigned long long v;
    switch (c) {
    case O_PROCS:
        if (spate_args_uint(CMD, "--procs", optarg, 1, MAX_PROCS, &v)) return -1;
        b->procs = (unsigned)v;
        return 0;
    case O_PIN:
        b->pin = 1;
        return 0;
    case O_SEGMENT:
        b->segment_arg = optarg;
        return 0;
    case O_SEGMENTS:
        if (spate_args_uint(CMD, "--segments", optarg, 1, SPATE_SPLIT_MAX_N, &v)) return -1;
        b->segments = (unsigned)v;
        return 0;
    case O_START_AT:
        b->start_arg = optarg;
        return 0;
    case O_HDR_LOG:
        b->hdr_log = optarg;
        return 0;
    default:
        return -1;
    }
}

static int option(struct bench *b, int c, int *have_d)
{
    unsigned long long v;
    double s;
    switch (c) {
    case 'c':
        if (spate_args_uint(CMD, "--connections", optarg, 1, 1000000, &v)) return -1;
        b->lo.connections = (unsigned)v;
        return 0;
    case 'd':
        if (spate_args_secs(CMD, "--duration", optarg, &s)) return -1;
        if (!(s > 0)) {
            fprintf(stderr, "spate bench: --duration: must be above 0\n");
            return -1;
        }
        b->lo.duration = s;
        *have_d = 1;
        return 0;
    case 'n':
        if (spate_args_uint(CMD, "--requests", optarg, 1, 1ull << 62, &v)) return -1;
        b->lo.requests = v;
        return 0;
    case 'R':
        return spate_args_rate(CMD, "--rate", optarg, &b->lo.rate);
    case O_JSON:
        b->json = 1;
        return 0;
    case O_LFILE:
        b->latency_file = optarg;
        return 0;
    case 'X': {
        char err[160];
        if (spate_method_check(optarg, err, sizeof(err))) {
            fprintf(stderr, "spate bench: -X: %s\n", err);
            return -1;
        }
        b->req.method = optarg;
        return 0;
    }
    case 'H':
        return spate_args_header(CMD, &b->req, optarg);
    case 'A':
        b->req.user_agent = optarg;
        return 0;
    case O_DATA:
        return spate_args_data(CMD, &b->req, optarg, 0);
    case O_DATA_JSON:
        return spate_args_data(CMD, &b->req, optarg, 1);
    case O_BEARER:
        return spate_args_bearer(CMD, &b->req, optarg);
    case 'u':
        return spate_args_basic(CMD, &b->req, optarg);
    case 'k':
        b->cfg.insecure = 1;
        return 0;
    case O_CACERT:
        b->cfg.cacert = optarg;
        return 0;
    case O_TIMEOUT:
        return spate_args_secs(CMD, "--timeout", optarg, &b->cfg.timeout);
    case O_CTIMEOUT:
        return spate_args_secs(CMD, "--connect-timeout", optarg, &b->cfg.connect_timeout);
    case O_NO_FAIL:
        b->set.no_fail = 1;
        return 0;
    case O_MAX_ERRORS:
        if (spate_args_uint(CMD, "--max-errors", optarg, 0, 1ull << 62, &v)) return -1;
        b->set.max_errors = v;
        return 0;
    default:
        return scale_option(b, c);
    }
}

/* --start-at T (Unix seconds) or +S (seconds after launch). A start already past is a usage
 * error that says by how much: the pieces of one test could no longer start together. */
static int parse_start(struct bench *b, double launched)
{
    const char *a = b->start_arg;
    double t;
    if (!a) return 0;
    if (a[0] == '+') {
        double s;
        if (spate_args_secs(CMD, "--start-at", a + 1, &s)) return -1;
        t = launched + s;
    } else {
        char *end;
        t = strtod(a, &end);
        if (!*a || *end || !strchr("0123456789", a[0]) || !isfinite(t) || t <= 0) {
            fprintf(stderr,
                    "spate bench: --start-at: invalid value '%s' (expected Unix seconds, "
                    "decimals allowed, or +S: S seconds from now)\n",
                    a);
            return -1;
        }
    }
    if (t < launched) {
        fprintf(stderr,
                "spate bench: --start-at %s is %.3f s in the past: compute T shortly before "
                "launching every piece (e.g. T=$(($(date +%%s) + 10)))\n",
                a, launched - t);
        return -1;
    }
    if (t - launched > START_AHEAD_MAX) {
        fprintf(stderr,
                "spate bench: --start-at %s is %.0f s ahead, more than a day: Unix seconds, not "
                "milliseconds?\n",
                a, t - launched);
        return -1;
    }
    b->start_at = t;
    return 0;
}

/* --segment, --segments and the shares: every piece (machine, and worker within it) must get
 * at least one connection and, with -n, one request. */
static int parse_scale(struct bench *b)
{
    char err[512];
    const char *from = NULL;
    if (b->segments && !b->segment_arg) {
        fprintf(stderr, "spate bench: --segments needs --segment (auto or K/N)\n");
        return -1;
    }
    if (b->segment_arg && spate_split_parse(b->segment_arg, "--segment", "--segments", b->segments,
                                            NULL, &b->seg, &from, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s\n", err);
        return -1;
    }
    uint64_t pieces = (uint64_t)b->seg.n * b->procs;
    if (pieces > SPATE_SPLIT_MAX_N) {
        fprintf(stderr, "spate bench: %u segments of %u processes each are too many pieces\n",
                b->seg.n, b->procs);
        return -1;
    }
    if (b->lo.connections < pieces) {
        fprintf(stderr,
                "spate bench: -c %u cannot be shared by %llu pieces (%u segments x %u procs): "
                "give at least one connection per piece\n",
                b->lo.connections, (unsigned long long)pieces, b->seg.n, b->procs);
        return -1;
    }
    if (b->lo.requests && b->lo.requests < pieces) {
        fprintf(stderr,
                "spate bench: -n %llu cannot be shared by %llu pieces (%u segments x %u procs): "
                "give at least one request per piece\n",
                (unsigned long long)b->lo.requests, (unsigned long long)pieces, b->seg.n, b->procs);
        return -1;
    }
    return parse_start(b, wall_now());
}

static int parse_args(struct bench *b, int argc, char **argv)
{
    int c, have_d = 0;
    opterr = 0;
    optind = 1;
    while ((c = spate_args_getopt(argc, argv, ":c:d:n:R:X:H:A:u:kh", longopts)) != -1) {
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c == '?' || c == ':') return spate_args_bad_option(CMD, c, argv);
        if (option(b, c, &have_d)) return -1;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "spate bench: expected exactly one URL, got %d\n", argc - optind);
        return -1;
    }
    b->url = argv[optind];
    if (!have_d) b->lo.duration = b->lo.requests ? 0 : 10;
    return parse_scale(b);
}

/* ---------- --hdr-log intervals ---------- */

/* The current second is complete: written (one process) or sent to the parent (a worker). */
static void interval_out(struct bench *b, double len)
{
    if (b->worker_fd >= 0) {
        struct spate_text o;
        spate_text_init(&o);
        if (!spate_text_printf(&o, "hist %llu %.9f ", (unsigned long long)b->iv_sec, len) &&
            !spate_hist_write_json(&o, b->iv) && !spate_text_add(&o, "\n", 1))
            spate_procs_send(b->worker_fd, o.s, o.len);
        spate_text_fini(&o);
    } else {
        const struct spate_load_report *r = b->rep;
        spate_bench_hlog_start(b->hlog, r->start_unix - (double)r->late_ns / 1e9);
        spate_bench_hlog_put(b->hlog, -1, b->iv_sec, len, b->iv);
    }
    spate_hist_init(b->iv);
    b->iv_sec++;
}

static void interval_note(struct bench *b, uint64_t at_ns, uint64_t latency_ns)
{
    /* A response read after the planned end, before the stop timer ran (it lags under load), is
     * in the report, so it goes in the last second: interval_end cuts the log at the planned end
     * and would otherwise write it as an interval of length 0 after that end. */
    uint64_t planned = (uint64_t)(b->lo.duration * 1e9);
    if (planned && at_ns >= planned) at_ns = planned - 1;
    uint64_t sec = at_ns / 1000000000u;
    while (b->iv_sec < sec)
        interval_out(b, 1.0);
    spate_hist_record(b->iv, latency_ns);
}

/* The last, partial second, when the measured period ends. */
static void interval_end(struct bench *b, const struct spate_load_report *r)
{
    if (!b->iv || !r->measuring) return;
    uint64_t end = r->late_ns + r->elapsed_ns; /* from the planned start */
    uint64_t planned = (uint64_t)(b->lo.duration * 1e9);
    if (planned && end > planned) end = planned; /* the stop timer's own lag is no interval */
    while ((b->iv_sec + 1) * 1000000000u <= end)
        interval_out(b, 1.0);
    uint64_t rest = end - b->iv_sec * 1000000000u;
    /* no empty sliver of an interval after the last whole second */
    if (rest >= 1000000u || b->iv->count) interval_out(b, (double)rest / 1e9);
}

/* ---------- samples ---------- */

static void on_sample(void *user, const struct spate_load_sample *s)
{
    struct bench *b = user;
    struct spate_bench_tally *t = &b->t;
    const char *msg = s->message ? s->message : "";
    if (s->setup) {
        spate_bench_errors_note(&t->setup, s->error, msg);
        return;
    }
    if (s->error != SPATE_OK) {
        spate_bench_errors_note(&t->errors, s->error, msg);
        return;
    }
    t->responses++;
    t->bad_status += s->status >= 400 && !b->set.no_fail;
    t->bytes += s->bytes;
    t->status[s->status > 0 && s->status < 600 ? s->status : 0]++;
    spate_hist_record(&t->hist, s->latency_ns);
    if (b->iv) interval_note(b, s->at_ns, s->latency_ns);
}

/* ---------- the progress line (stderr, a terminal only) ---------- */

#define PROGRESS_NS 1000000000ull

/* The line is composed first and written at once: stderr is unbuffered, and a redraw in several
 * writes flickers (and a terminal reader may see half a line). */
static void progress_line(struct bench *b, const struct spate_load_report *r, struct spate_text *o)
{
    if (!r->measuring) {
        spate_text_printf(o, "\r\033[Kset-up: %llu of %llu connections up, %llu failed (%.0f s)",
                          (unsigned long long)r->connections_up,
                          (unsigned long long)r->connections_wanted,
                          (unsigned long long)r->setup_failed, (double)r->setup_ns / 1e9);
        return;
    }
    /* the rate of the last interval, not the mean so far: a stall shows at once */
    uint64_t dn = r->responses - b->last_responses, dt = r->elapsed_ns - b->last_ns;
    b->last_responses = r->responses;
    b->last_ns = r->elapsed_ns;
    spate_text_printf(o, "\r\033[K%.0f s", (double)r->elapsed_ns / 1e9);
    if (b->lo.duration > 0) spate_text_printf(o, " of %.3g s", b->lo.duration);
    spate_text_printf(o, ": %llu responses", (unsigned long long)r->responses);
    if (b->lo.requests)
        spate_text_printf(o, " (%.0f%% of %llu)",
                          100.0 * (double)r->finished / (double)b->lo.requests,
                          (unsigned long long)b->lo.requests);
    spate_text_printf(o, ", %.0f req/s, %llu failed, %llu in flight",
                      dt ? (double)dn * 1e9 / (double)dt : 0.0,
                      (unsigned long long)(b->t.errors.total + b->t.bad_status),
                      (unsigned long long)(r->sent - r->finished));
}

static void on_progress(void *user, const struct spate_load_report *r)
{
    struct bench *b = user;
    struct spate_text o;
    spate_text_init(&o);
    progress_line(b, r, &o);
    if (o.len && fwrite(o.s, 1, o.len, stderr) == o.len) b->progress_shown = 1;
    spate_text_fini(&o);
}

static void progress_clear(struct bench *b)
{
    if (!b->progress_shown) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* ---------- shaping: the test and this process's piece of it ---------- */

/* Sets this process's (or worker's) share of the test: piece p of it. */
static void take_piece(struct bench *b, struct spate_split p)
{
    b->set.piece = p;
    b->lo.connections = (unsigned)spate_split_share(b->conns_total, p);
    b->lo.requests = spate_split_share(b->requests_total, p);
    b->lo.slot_k = p.k;
    b->lo.slot_n = p.n;
    b->set.connections = b->lo.connections;
    b->set.requests = b->lo.requests;
    b->set.rate = b->set.test.rate / p.n;
}

static void shape_test(struct bench *b)
{
    struct spate_bench_test *x = &b->set.test;
    b->conns_total = b->lo.connections;
    b->requests_total = b->lo.requests;
    x->url = b->url;
    x->method = b->req.method && *b->req.method ? b->req.method : b->req.body ? "POST" : "GET";
    x->connections = b->lo.connections;
    x->requests = b->lo.requests;
    x->duration = b->lo.duration;
    x->rate = b->lo.rate;
    x->timeout_ns = (uint64_t)(b->cfg.timeout * 1e9);
    x->max_errors = b->set.max_errors;
    x->no_fail = b->set.no_fail;
    b->set.url = b->url;
    b->set.duration = b->lo.duration;
    b->set.procs = b->procs;
    b->set.start_at = b->start_at;
    b->lo.start_at = b->start_at;
}

/* Fills the engine's options from the parsed arguments. 0 or -1 (out of memory). */
static int shape(struct bench *b)
{
    shape_test(b);
    take_piece(b, b->seg);
    if (b->req.auth &&
        spate_args_push_header(&b->req.headers, &b->req.nheaders, "Authorization", b->req.auth))
        return -1;
    if (b->req.json &&
        (spate_args_push_header(&b->req.headers, &b->req.nheaders, "Content-Type",
                                "application/json") ||
         spate_args_push_header(&b->req.headers, &b->req.nheaders, "Accept", "application/json")))
        return -1;
    b->lo.req.url = b->url;
    b->lo.req.method = b->req.method;
    b->lo.req.headers = b->req.headers;
    b->lo.req.nheaders = b->req.nheaders;
    b->lo.req.body = b->req.body;
    b->lo.req.body_len = b->req.body_len;
    b->lo.timeout_ns = (uint64_t)(b->cfg.timeout * 1e9);
    b->set.timeout_ns = b->lo.timeout_ns;
    b->lo.user_agent = b->req.user_agent ? b->req.user_agent : "spate/" SPATE_VERSION;
    if (isatty(STDERR_FILENO) && b->procs == 1) {
        b->lo.progress = on_progress;
        b->lo.progress_ns = PROGRESS_NS;
    }
    return 0;
}

/* ---------- one process (or one worker) ---------- */

static int write_latency_file(const char *path, const struct spate_hist *h)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    int rc = spate_hist_write_hdr(h, f, 1e6);
    if (fclose(f) || rc) {
        fprintf(stderr, "spate bench: cannot write '%s'\n", path);
        return -1;
    }
    return 0;
}

/* Prints the report (a worker sends it to the parent instead); returns the exit status. */
static int report(struct bench *b, const struct spate_load_report *rep)
{
    struct spate_bench_verdict v;
    int sig = spate_interrupt_signal();
    int rc = spate_bench_judge(&b->set, &b->t, rep, NULL, &v);
    progress_clear(b);
    if (b->json || b->worker_fd >= 0) {
        struct spate_text o;
        spate_text_init(&o);
        if (b->worker_fd >= 0 && spate_text_adds(&o, "report ")) rc = 1;
        if (spate_bench_json(&o, &b->set, &b->t, rep, NULL, &v, sig))
            fprintf(stderr, "spate bench: out of memory writing the report\n"), rc = 1;
        else if (b->worker_fd >= 0)
            spate_procs_send(b->worker_fd, o.s, o.len);
        else
            fwrite(o.s, 1, o.len, stdout);
        spate_text_fini(&o);
    } else {
        spate_bench_text(stdout, &b->set, &b->t, rep, NULL, &v, sig);
    }
    if (fflush(stdout)) {
        perror("spate bench: writing the report");
        rc = 1;
    }
    if (b->latency_file && b->worker_fd < 0 && write_latency_file(b->latency_file, &b->t.hist))
        rc = 1;
    return sig ? spate_interrupt_exit_status() : rc;
}

/* A worker waits at the parent's barrier for the common start. */
static double worker_setup_done(void *user, const struct spate_load_report *r)
{
    struct bench *b = user;
    (void)r;
    double t = spate_procs_ready(b->worker_fd, spate_interrupt_fd());
    if (t > 0) b->set.start_at = t;
    return t;
}

/* Runs the load and reports; the interrupt handler is installed. */
static int run_load(struct bench *b)
{
    struct spate_engine *e = NULL;
    struct spate_load_report rep;
    char err[300];
    int rc;
    b->rep = &rep;
    b->lo.connections = spate_args_fit_fds(CMD, b->lo.connections);
    b->lo.stop_fd = spate_interrupt_fd();
    if (spate_engine_create(&e, &b->cfg, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s\n", err);
        rc = 2;
    } else if (spate_load_run(e, &b->lo, on_sample, b, &rep, err, sizeof(err))) {
        progress_clear(b);
        fprintf(stderr, "spate bench: %s\n", err);
        rc = 2;
    } else {
        interval_end(b, &rep);
        rc = report(b, &rep);
    }
    spate_engine_destroy(e);
    b->rep = NULL;
    return rc;
}

static int open_hlog(struct bench *b, unsigned workers)
{
    char err[300];
    if (!b->hdr_log) return 0;
    if (spate_bench_hlog_open(&b->hlog, b->hdr_log, workers, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s\n", err);
        return -1;
    }
    return 0;
}

static int close_hlog(struct bench *b)
{
    if (!b->hlog) return 0;
    int rc = spate_bench_hlog_close(b->hlog);
    b->hlog = NULL;
    if (rc) fprintf(stderr, "spate bench: --hdr-log: cannot write '%s'\n", b->hdr_log);
    return rc ? -1 : 0;
}

static int run_single(struct bench *b)
{
    int rc = spate_interrupt_install();
    if (rc) {
        fprintf(stderr, "spate bench: cannot catch signals: %s\n", strerror(-rc));
        return 1;
    }
    if (open_hlog(b, 0)) {
        rc = 2;
    } else {
        rc = run_load(b);
        if (close_hlog(b) && rc == 0) rc = 1;
    }
    spate_interrupt_uninstall();
    return rc;
}

/* ---------- --procs: the workers ---------- */

static int child(void *user, unsigned w, int fd)
{
    struct bench *b = user;
    struct spate_split p;
    spate_split_sub(b->seg, w, b->procs, &p); /* checked by parse_scale */
    b->worker_fd = fd;
    take_piece(b, p);
    b->set.procs = 1;
    b->lo.setup_done = worker_setup_done;
    b->lo.progress = NULL;
    free(b->merge); /* the parent's, still empty */
    free(b->rd);
    b->merge = NULL;
    b->rd = NULL;
    close_hlog(b); /* the parent's file: nothing written to it yet */
    int rc = spate_interrupt_install();
    spate_procs_unblock();
    if (rc) {
        fprintf(stderr, "spate bench: worker %u: cannot catch signals: %s\n", w, strerror(-rc));
        rc = 1;
    } else {
        rc = run_load(b);
        spate_interrupt_uninstall();
    }
    close(fd);
    return rc;
}

static void worker_name(char *buf, size_t len, unsigned w)
{
    snprintf(buf, len, "worker %u", w);
}

/* "hist SEC LEN {histogram}" from worker w: its interval for the log. */
static void on_hist_line(struct bench *b, unsigned w, const char *s, size_t len)
{
    char err[200];
    unsigned long long sec;
    double l;
    int at = 0;
    struct spate_json *j = NULL;
    struct spate_hist *h = malloc(sizeof(*h));
    if (h && sscanf(s, "hist %llu %lf %n", &sec, &l, &at) == 2 && at > 0 &&
        !spate_json_parse(s + at, len - (size_t)at, &j, err, sizeof(err)) &&
        !spate_hist_read_json(h, j, err, sizeof(err))) {
        spate_bench_hlog_start(b->hlog, b->procs_out->start); /* intervals come after it */
        spate_bench_hlog_put(b->hlog, (int)w, sec, l, h);
    }
    spate_json_free(j);
    free(h);
}

static void on_line(void *user, unsigned w, const char *s, size_t len)
{
    struct bench *b = user;
    char err[600], name[32];
    worker_name(name, sizeof(name), w);
    if (len > 5 && !memcmp(s, "hist ", 5)) {
        if (b->hlog) on_hist_line(b, w, s, len);
        return;
    }
    if (len < 7 || memcmp(s, "report ", 7)) return;
    if (spate_bench_read(b->rd, s + 7, len - 7, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s sent a report that cannot be read: %s\n", name, err);
        return;
    }
    if (spate_bench_merge_add(b->merge, b->rd, name, 0, err, sizeof(err)))
        fprintf(stderr, "spate bench: %s: %s\n", name, err);
    spate_bench_read_fini(b->rd);
}

static const char *signame(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } v[] = {{SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},
             {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},
             {SIGPIPE, "SIGPIPE"}, {SIGHUP, "SIGHUP"},   {SIGFPE, "SIGFPE"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (v[i].sig == sig) return v[i].name;
    return NULL;
}

static void fate(char *buf, size_t len, int status, int err)
{
    if (err)
        snprintf(buf, len, "could not be started: %s", strerror(err));
    else if (WIFSIGNALED(status) && signame(WTERMSIG(status)))
        snprintf(buf, len, "was killed by %s before reporting", signame(WTERMSIG(status)));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d before reporting", WTERMSIG(status));
    else
        snprintf(buf, len, "exited with status %d without a report", WEXITSTATUS(status));
}

static void on_ended(void *user, unsigned w, pid_t pid, int status, int err)
{
    struct bench *b = user;
    char name[32], why[96];
    worker_name(name, sizeof(name), w);
    if (b->hlog) spate_bench_hlog_done(b->hlog, w);
    struct spate_bench_parts *p = &b->merge->parts;
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].name, name)) {
            p->v[i].pid = pid;
            return;
        }
    struct spate_split piece;
    spate_split_sub(b->seg, w, b->procs, &piece);
    fate(why, sizeof(why), status, err);
    spate_bench_merge_lost(b->merge, name, pid > 0 ? pid : 0, piece, why);
}

static int by_piece(const void *a, const void *b)
{
    const struct spate_bench_part *x = a, *y = b;
    return (x->piece.k > y->piece.k) - (x->piece.k < y->piece.k);
}

/* The merged report of the workers: the segment's share of the test, whatever was lost. */
static void settle(struct bench *b, double started)
{
    struct spate_bench_merge *m = b->merge;
    struct spate_bench_setup *s = &m->set;
    struct spate_bench_parts *p = &m->parts;
    qsort(p->v, p->n, sizeof(*p->v), by_piece);
    if (!m->have) { /* no worker reported: the settings are this process's own */
        struct spate_bench_parts keep = *p;
        *s = b->set;
        m->rep.start_unix = started;
        m->parts = keep;
    }
    s->piece = b->seg;
    s->connections = (unsigned)spate_split_share(b->conns_total, b->seg);
    s->requests = spate_split_share(b->requests_total, b->seg);
    s->rate = s->test.rate / b->seg.n;
    s->procs = b->procs;
    s->start_at = b->start_at > 0 ? b->start_at : started;
    free(p->missing); /* a lost worker is named as such */
    p->missing = NULL;
}

static int print_merged(struct bench *b, int sig)
{
    struct spate_bench_merge *m = b->merge;
    struct spate_bench_verdict v;
    int rc = spate_bench_judge(&m->set, &m->t, &m->rep, &m->parts, &v);
    if (b->json) {
        struct spate_text o;
        spate_text_init(&o);
        if (spate_bench_json(&o, &m->set, &m->t, &m->rep, &m->parts, &v, sig))
            fprintf(stderr, "spate bench: out of memory writing the report\n"), rc = 1;
        else
            fwrite(o.s, 1, o.len, stdout);
        spate_text_fini(&o);
    } else {
        spate_bench_text(stdout, &m->set, &m->t, &m->rep, &m->parts, &v, sig);
    }
    if (fflush(stdout)) {
        perror("spate bench: writing the report");
        rc = 1;
    }
    if (b->latency_file && write_latency_file(b->latency_file, &m->t.hist)) rc = 1;
    return rc;
}

/* The parent: checks what it can before forking (one message, not N), runs the workers and
 * prints the sum of their reports. */
static int run_procs(struct bench *b)
{
    static const struct spate_procs_ops ops = {child, on_line, on_ended};
    char err[300];
    struct spate_engine *e = NULL;
    struct spate_procs_out out;
    if (spate_request_check(&b->lo.req, err, sizeof(err)) ||
        spate_engine_create(&e, &b->cfg, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s\n", err);
        return 2;
    }
    spate_engine_destroy(e);
    b->merge = malloc(sizeof(*b->merge));
    b->rd = malloc(sizeof(*b->rd));
    if (!b->merge || !b->rd) {
        fprintf(stderr, "spate bench: out of memory\n");
        return 1;
    }
    spate_bench_merge_init(b->merge, "workers");
    if (open_hlog(b, b->procs)) return 2;
    b->procs_out = &out;
    int rc = spate_procs_run(b->procs, b->pin, b->start_at, &ops, b, &out);
    if (out.is_child) return out.child_rc;
    int sig = out.sig;
    double started = out.start;
    if (b->hlog) spate_bench_hlog_start(b->hlog, started > 0 ? started : wall_now());
    if (rc) {
        fprintf(stderr, "spate bench: cannot run the workers: %s\n", strerror(-rc));
        close_hlog(b);
        return 1;
    }
    if (spate_bench_merge_finish(b->merge)) {
        fprintf(stderr, "spate bench: out of memory\n");
        close_hlog(b);
        return 1;
    }
    settle(b, started);
    rc = print_merged(b, sig ? sig : b->merge->sig);
    if (close_hlog(b) && !rc) rc = 1;
    return sig ? 128 + sig : rc;
}

int spate_bench_main(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof(*b)); /* the histogram is large: not on the stack */
    int rc = 2;
    if (!b) return 2;
    spate_config_init(&b->cfg);
    spate_load_opts_init(&b->lo);
    spate_hist_init(&b->t.hist);
    b->procs = 1;
    b->seg.n = 1;
    b->worker_fd = -1;
    if (!parse_args(b, argc, argv) && !shape(b)) {
        if (b->hdr_log && !(b->iv = malloc(sizeof(*b->iv)))) {
            fprintf(stderr, "spate bench: out of memory\n");
        } else {
            if (b->iv) spate_hist_init(b->iv);
            rc = b->procs > 1 ? run_procs(b) : run_single(b);
        }
    }
    if (b->merge) spate_bench_merge_fini(b->merge);
    free(b->merge);
    free(b->rd);
    free(b->iv);
    spate_bench_tally_fini(&b->t);
    spate_args_req_fini(&b->req);
    free(b);
    return rc;
}
