/* `spate bench`: load one URL with -c connections for -d seconds or -n requests, closed model or
 * fixed-rate open model (-R), and report throughput, a latency histogram and errors by cause. */
#include "bench.h"
#include "args.h"
#include "buf.h"
#include "histogram.h"
#include "json.h"
#include "spate.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "bench"
#define MAX_CAUSES 4

struct cause {
    char *msg;
    uint64_t count;
};

struct bench {
    struct spate_config cfg;
    struct spate_args_req req;
    struct spate_load_opts lo;
    const char *url, *latency_file;
    int json;
    struct spate_hist hist;
    uint64_t ok, errors, bytes, unfinished;
    uint64_t status[600];
    uint64_t by_kind[SPATE_E_CANCELED + 1];
    struct cause causes[SPATE_E_CANCELED + 1][MAX_CAUSES];
    uint64_t other_causes[SPATE_E_CANCELED + 1];
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
          "  -k, --insecure  --cacert FILE  --timeout S [30]  --connect-timeout S [10]\n",
          to);
}

enum { O_JSON = 256, O_LFILE, O_DATA, O_DATA_JSON, O_BEARER, O_CACERT, O_TIMEOUT, O_CTIMEOUT };

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
    default:
        return -1;
    }
}

static int parse_args(struct bench *b, int argc, char **argv)
{
    int c, have_d = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:d:n:R:X:H:A:u:kh", longopts, NULL)) != -1) {
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

static void note_cause(struct bench *b, enum spate_error_kind k, const char *msg)
{
    struct cause *v = b->causes[k];
    for (int i = 0; i < MAX_CAUSES; i++) {
        if (v[i].msg && !strcmp(v[i].msg, msg)) {
            v[i].count++;
            return;
        }
        if (!v[i].msg) {
            v[i].msg = strdup(msg);
            v[i].count = 1;
            return;
        }
    }
    b->other_causes[k]++;
}

static void on_sample(void *user, const struct spate_load_sample *s)
{
    struct bench *b = user;
    if (s->unfinished) {
        b->unfinished++;
        spate_hist_record(&b->hist, s->latency_ns);
        return;
    }
    if (s->error != SPATE_OK) {
        b->errors++;
        b->by_kind[s->error]++;
        note_cause(b, s->error, s->message ? s->message : "");
        return;
    }
    b->ok++;
    b->bytes += s->bytes;
    b->status[s->status < 600 ? s->status : 0]++;
    spate_hist_record(&b->hist, s->latency_ns);
}

/* ---------- report ---------- */

static void fmt_dur(char *buf, size_t len, double ns)
{
    if (ns < 1e3)
        snprintf(buf, len, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(buf, len, "%.2fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, len, "%.2fms", ns / 1e6);
    else
        snprintf(buf, len, "%.3fs", ns / 1e9);
}

static const double pcts[] = {50, 90, 99, 99.9, 99.99};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99.9", "p99.99"};

static void text_report(struct bench *b, const struct spate_load_report *r)
{
    double el = (double)r->elapsed_ns / 1e9;
    uint64_t n = b->ok + b->errors;
    char d[5][32];
    printf("spate bench %s\n  %u connections, %s model", b->url, b->lo.connections,
           b->lo.rate > 0 ? "open" : "closed");
    if (b->lo.rate > 0) printf(" at %.0f req/s", b->lo.rate);
    printf("\n  requests     %llu in %.2f s: %.1f req/s, %.2f MB/s\n", (unsigned long long)n, el,
           el > 0 ? (double)n / el : 0.0, el > 0 ? (double)b->bytes / el / 1e6 : 0.0);
    if (b->ok) {
        fmt_dur(d[0], 32, (double)spate_hist_min(&b->hist));
        fmt_dur(d[1], 32, spate_hist_mean(&b->hist));
        fmt_dur(d[2], 32, spate_hist_stdev(&b->hist));
        fmt_dur(d[3], 32, (double)spate_hist_max(&b->hist));
        printf("  latency      min %s  mean %s  stdev %s  max %s\n", d[0], d[1], d[2], d[3]);
        printf("              ");
        for (int i = 0; i < 5; i++) {
            fmt_dur(d[0], 32, (double)spate_hist_percentile(&b->hist, pcts[i]));
            printf(" %s %s", pct_names[i], d[0]);
        }
        printf("\n");
    }
    printf("  status      ");
    for (int s = 0; s < 600; s++)
        if (b->status[s]) printf(" %d: %llu", s, (unsigned long long)b->status[s]);
    printf("\n");
    for (int k = 1; k <= SPATE_E_CANCELED; k++) {
        if (!b->by_kind[k]) continue;
        printf("  errors       %s: %llu\n", spate_error_kind_name(k),
               (unsigned long long)b->by_kind[k]);
        for (int i = 0; i < MAX_CAUSES && b->causes[k][i].msg; i++)
            printf("                 %llu x %s\n", (unsigned long long)b->causes[k][i].count,
                   b->causes[k][i].msg);
        if (b->other_causes[k])
            printf("                 %llu x other causes\n",
                   (unsigned long long)b->other_causes[k]);
    }
    printf("  connections  %llu requested, %llu established, %llu reconnects\n",
           (unsigned long long)r->connections_requested,
           (unsigned long long)r->connections_established, (unsigned long long)r->reconnects);
    if (b->lo.rate > 0) {
        fmt_dur(d[0], 32, (double)r->max_lag_ns);
        printf("  schedule     achieved %.1f of %.0f req/s; max lag %s, %llu sent >1ms late\n",
               el > 0 ? (double)n / el : 0.0, b->lo.rate, d[0], (unsigned long long)r->late_sends);
        if (b->unfinished)
            printf("  unfinished   %llu requests (%llu never sent) were still waiting at the "
                   "end; their wait so far is in the latency figures\n",
                   (unsigned long long)b->unfinished, (unsigned long long)r->unsent);
        if (n && r->late_sends * 100 > n)
            printf("  warning: %.1f%% of requests were sent more than 1 ms after their "
                   "scheduled start: every connection was busy (a slow server, or too few "
                   "connections for the rate) or the client could not keep up; latencies are "
                   "measured from the scheduled starts and include that delay\n",
                   100.0 * (double)r->late_sends / (double)n);
    }
}

static void json_report(struct bench *b, const struct spate_load_report *r)
{
    struct spate_buf o;
    spate_buf_init(&o);
    double el = (double)r->elapsed_ns / 1e9;
    uint64_t n = b->ok + b->errors;
    spate_buf_adds(&o, "{\"url\":");
    spate_json_add_string(&o, b->url, strlen(b->url));
    spate_buf_printf(&o,
                     ",\"connections\":%u,\"model\":\"%s\",\"rate\":%.3f,\"duration\":%.6f,"
                     "\"requests\":%llu,\"ok\":%llu,\"errors\":%llu,\"rps\":%.3f,\"bytes\":%llu,"
                     "\"bytes_per_sec\":%.3f",
                     b->lo.connections, b->lo.rate > 0 ? "open" : "closed", b->lo.rate, el,
                     (unsigned long long)n, (unsigned long long)b->ok,
                     (unsigned long long)b->errors, el > 0 ? (double)n / el : 0.0,
                     (unsigned long long)b->bytes, el > 0 ? (double)b->bytes / el : 0.0);
    spate_buf_printf(&o,
                     ",\"latency\":{\"unit\":\"s\",\"min\":%.9f,\"mean\":%.9f,\"stdev\":%.9f,"
                     "\"max\":%.9f",
                     (double)spate_hist_min(&b->hist) / 1e9, spate_hist_mean(&b->hist) / 1e9,
                     spate_hist_stdev(&b->hist) / 1e9, (double)spate_hist_max(&b->hist) / 1e9);
    static const char *const keys[] = {"p50", "p90", "p99", "p99_9", "p99_99"};
    for (int i = 0; i < 5; i++)
        spate_buf_printf(&o, ",\"%s\":%.9f", keys[i],
                         (double)spate_hist_percentile(&b->hist, pcts[i]) / 1e9);
    spate_buf_adds(&o, "},\"status\":{");
    const char *sep = "";
    for (int s = 0; s < 600; s++)
        if (b->status[s]) {
            spate_buf_printf(&o, "%s\"%d\":%llu", sep, s, (unsigned long long)b->status[s]);
            sep = ",";
        }
    spate_buf_adds(&o, "},\"errors_by_kind\":{");
    sep = "";
    for (int k = 1; k <= SPATE_E_CANCELED; k++) {
        if (!b->by_kind[k]) continue;
        spate_buf_printf(&o, "%s\"%s\":{\"count\":%llu,\"causes\":[", sep, spate_error_kind_name(k),
                         (unsigned long long)b->by_kind[k]);
        for (int i = 0; i < MAX_CAUSES && b->causes[k][i].msg; i++) {
            spate_buf_printf(&o, "%s{\"message\":", i ? "," : "");
            spate_json_add_string(&o, b->causes[k][i].msg, strlen(b->causes[k][i].msg));
            spate_buf_printf(&o, ",\"count\":%llu}", (unsigned long long)b->causes[k][i].count);
        }
        spate_buf_adds(&o, "]}");
        sep = ",";
    }
    spate_buf_printf(&o,
                     "},\"connections_requested\":%llu,\"connections_established\":%llu,"
                     "\"reconnects\":%llu,\"max_lag\":%.9f,\"late_sends\":%llu,"
                     "\"unfinished\":%llu,\"unsent\":%llu}\n",
                     (unsigned long long)r->connections_requested,
                     (unsigned long long)r->connections_established,
                     (unsigned long long)r->reconnects, (double)r->max_lag_ns / 1e9,
                     (unsigned long long)r->late_sends, (unsigned long long)b->unfinished,
                     (unsigned long long)r->unsent);
    fwrite(o.data, 1, o.len, stdout);
    spate_buf_fini(&o);
}

static int write_latency_file(struct bench *b)
{
    FILE *f = fopen(b->latency_file, "w");
    if (!f) {
        perror(b->latency_file);
        return -1;
    }
    int rc = spate_hist_write_hdr(&b->hist, f, 1e6);
    if (fclose(f) || rc) {
        fprintf(stderr, "spate bench: cannot write '%s'\n", b->latency_file);
        return -1;
    }
    return 0;
}

int spate_bench_main(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof(*b)); /* the histogram is large: not on the stack */
    struct spate_engine *e = NULL;
    char err[300];
    int rc = 2;
    if (!b) return 2;
    spate_config_init(&b->cfg);
    spate_hist_init(&b->hist);
    b->lo.connections = 64;
    if (parse_args(b, argc, argv)) goto out;
    b->lo.connections = spate_args_fit_fds(CMD, b->lo.connections);
    b->cfg.concurrency = b->lo.connections;
    if (b->req.auth &&
        spate_args_push_header(&b->req.headers, &b->req.nheaders, "Authorization", b->req.auth))
        goto out;
    if (b->req.json &&
        (spate_args_push_header(&b->req.headers, &b->req.nheaders, "Content-Type",
                                "application/json") ||
         spate_args_push_header(&b->req.headers, &b->req.nheaders, "Accept", "application/json")))
        goto out;
    b->lo.req.url = b->url;
    b->lo.req.method = b->req.method;
    b->lo.req.headers = b->req.headers;
    b->lo.req.nheaders = b->req.nheaders;
    b->lo.req.body = b->req.body;
    b->lo.req.body_len = b->req.body_len;
    b->lo.timeout_ns = (uint64_t)(b->cfg.timeout * 1e9);
    b->lo.user_agent = b->req.user_agent ? b->req.user_agent : "spate/" SPATE_VERSION;
    if (spate_engine_create(&e, &b->cfg, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s\n", err);
        goto out;
    }
    struct spate_load_report rep;
    if (spate_load_run(e, &b->lo, on_sample, b, &rep, err, sizeof(err))) {
        fprintf(stderr, "spate bench: %s\n", err);
        goto out;
    }
    if (b->json)
        json_report(b, &rep);
    else
        text_report(b, &rep);
    rc = b->ok ? 0 : 1;
    if (b->latency_file && write_latency_file(b)) rc = 1;
out:
    spate_engine_destroy(e);
    for (int k = 0; k <= SPATE_E_CANCELED; k++)
        for (int i = 0; i < MAX_CAUSES; i++)
            free(b->causes[k][i].msg);
    spate_args_req_fini(&b->req);
    free(b);
    return rc;
}
