/* `spate bench`: load one URL with -c connections for -d seconds or -n requests, closed model or
 * fixed-rate open model (-R), and report throughput, a latency histogram and errors by cause. */
#include "bench.h"
#include "args.h"
#include "bench_report.h"
#include "buf.h"
#include "histogram.h"
#include "interrupt.h"
#include "spate.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "bench"

struct bench {
    struct spate_config cfg;
    struct spate_args_req req;
    struct spate_load_opts lo;
    struct spate_bench_setup set;
    const char *url, *latency_file;
    int json;
    struct spate_bench_tally t;
    /* the progress line */
    int progress_shown;
    uint64_t last_responses, last_ns;
};

static void usage(FILE *to)
{
    fputs("usage: spate bench [OPTIONS] URL\n"
          "  -c, --connections N     connections kept busy [64]\n"
          "  -d, --duration S        run for S seconds [10] (unless -n is given)\n"
          "  -n, --requests N        stop after N requests\n"
          "  -R, --rate R            open model: R requests/s on a fixed schedule, latency\n"
          "                          measured from each scheduled start\n"
          "      --json              print the report as one JSON object\n"
          "      --latency-file FILE write the percentile distribution (HdrHistogram text)\n"
          "  -X, --request METHOD  -H, --header 'Name: value'  -A, --user-agent UA\n"
          "      --data DATA|@FILE  --data-json DATA|@FILE  --bearer TOKEN  -u USER:PASS\n"
          "  -k, --insecure  --cacert FILE  --timeout S [30]  --connect-timeout S [10]\n"
          "      --no-fail           a status of 400 or more is not a failed request\n"
          "      --max-errors N      exit 0 with at most N failed requests [0]\n"
          "Exit status: 0 when at most --max-errors requests failed, every connection came up\n"
          "and no request is outstanding past --timeout at the end (open model); 1 otherwise;\n"
          "2 usage; 130 interrupted by SIGINT (143 SIGTERM), after printing the report.\n",
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
};

static const struct option longopts[] = {
    {"connections", required_argument, 0, 'c'},
    {"duration", required_argument, 0, 'd'},
    {"requests", required_argument, 0, 'n'},
    {"rate", required_argument, 0, 'R'},
    {"json", no_argument, 0, O_JSON},
    {"latency-file", required_argument, 0, O_LFILE},
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
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

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
        return -1;
    }
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
    return 0;
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
}

/* ---------- the progress line (stderr, a terminal only) ---------- */

#define PROGRESS_NS 1000000000ull

/* The line is composed first and written at once: stderr is unbuffered, and a redraw in several
 * writes flickers (and a terminal reader may see half a line). */
static void progress_line(struct bench *b, const struct spate_load_report *r, struct spate_buf *o)
{
    if (!r->measuring) {
        spate_buf_printf(o, "\r\033[Kset-up: %llu of %llu connections up, %llu failed (%.0f s)",
                         (unsigned long long)r->connections_up,
                         (unsigned long long)r->connections_wanted,
                         (unsigned long long)r->setup_failed, (double)r->setup_ns / 1e9);
        return;
    }
    /* the rate of the last interval, not the mean so far: a stall shows at once */
    uint64_t dn = r->responses - b->last_responses, dt = r->elapsed_ns - b->last_ns;
    b->last_responses = r->responses;
    b->last_ns = r->elapsed_ns;
    spate_buf_printf(o, "\r\033[K%.0f s", (double)r->elapsed_ns / 1e9);
    if (b->lo.duration > 0) spate_buf_printf(o, " of %.3g s", b->lo.duration);
    spate_buf_printf(o, ": %llu responses", (unsigned long long)r->responses);
    if (b->lo.requests)
        spate_buf_printf(o, " (%.0f%% of %llu)",
                         100.0 * (double)r->finished / (double)b->lo.requests,
                         (unsigned long long)b->lo.requests);
    spate_buf_printf(o, ", %.0f req/s, %llu failed, %llu in flight",
                     dt ? (double)dn * 1e9 / (double)dt : 0.0,
                     (unsigned long long)(b->t.errors.total + b->t.bad_status),
                     (unsigned long long)(r->sent - r->finished));
}

static void on_progress(void *user, const struct spate_load_report *r)
{
    struct bench *b = user;
    struct spate_buf o;
    spate_buf_init(&o);
    progress_line(b, r, &o);
    if (o.len && fwrite(o.data, 1, o.len, stderr) == o.len) b->progress_shown = 1;
    spate_buf_fini(&o);
}

static void progress_clear(struct bench *b)
{
    if (!b->progress_shown) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* ---------- the run ---------- */

static int write_latency_file(struct bench *b)
{
    FILE *f = fopen(b->latency_file, "w");
    if (!f) {
        perror(b->latency_file);
        return -1;
    }
    int rc = spate_hist_write_hdr(&b->t.hist, f, 1e6);
    if (fclose(f) || rc) {
        fprintf(stderr, "spate bench: cannot write '%s'\n", b->latency_file);
        return -1;
    }
    return 0;
}

/* Fills the engine's options from the parsed arguments. 0 or -1 (out of memory). */
static int shape(struct bench *b)
{
    b->set.url = b->url;
    b->set.connections = b->lo.connections;
    b->set.requests = b->lo.requests;
    b->set.duration = b->lo.duration;
    b->set.rate = b->lo.rate;
    b->lo.connections = spate_args_fit_fds(CMD, b->lo.connections);
    b->cfg.concurrency = b->lo.connections;
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
    if (isatty(STDERR_FILENO)) {
        b->lo.progress = on_progress;
        b->lo.progress_ns = PROGRESS_NS;
    }
    return 0;
}

/* Prints the report; returns the exit status it calls for. */
static int report(struct bench *b, const struct spate_load_report *rep)
{
    struct spate_bench_verdict v;
    int sig = spate_interrupt_signal();
    int rc = spate_bench_judge(&b->set, &b->t, rep, &v);
    progress_clear(b);
    if (b->json) {
        struct spate_buf o;
        spate_buf_init(&o);
        if (spate_bench_json(&o, &b->set, &b->t, rep, &v, sig))
            fprintf(stderr, "spate bench: out of memory writing the report\n"), rc = 1;
        else
            fwrite(o.data, 1, o.len, stdout);
        spate_buf_fini(&o);
    } else {
        spate_bench_text(stdout, &b->set, &b->t, rep, &v, sig);
    }
    if (fflush(stdout)) {
        perror("spate bench: writing the report");
        rc = 1;
    }
    if (b->latency_file && write_latency_file(b)) rc = 1;
    return sig ? spate_interrupt_exit_status() : rc;
}

static int run(struct bench *b)
{
    struct spate_engine *e = NULL;
    struct spate_load_report rep;
    char err[300];
    int rc = spate_interrupt_install();
    if (rc) {
        fprintf(stderr, "spate bench: cannot catch signals: %s\n", strerror(-rc));
        return 1;
    }
    b->lo.stop_fd = spate_interrupt_fd();
    if (spate_engine_create(&e, &b->cfg, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s\n", err);
        rc = 2;
    } else if (spate_load_run(e, &b->lo, on_sample, b, &rep, err, sizeof(err))) {
        progress_clear(b);
        fprintf(stderr, "spate bench: %s\n", err);
        rc = 2;
    } else {
        rc = report(b, &rep);
    }
    spate_engine_destroy(e);
    spate_interrupt_uninstall();
    return rc;
}

int spate_bench_main(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof(*b)); /* the histogram is large: not on the stack */
    int rc = 2;
    if (!b) return 2;
    spate_config_init(&b->cfg);
    spate_load_opts_init(&b->lo);
    spate_hist_init(&b->t.hist);
    if (!parse_args(b, argc, argv) && !shape(b)) rc = run(b);
    spate_bench_errors_fini(&b->t.errors);
    spate_bench_errors_fini(&b->t.setup);
    spate_args_req_fini(&b->req);
    free(b);
    return rc;
}
