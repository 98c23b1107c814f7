/* `spate fetch`: requests from arguments, files and stdin, read as the submission window has
 * room (a bad line becomes a result of kind input; --strict checks everything first), streamed
 * through the engine, one JSON line each. */
#include "fetch.h"
#include "args.h"
#include "text.h"
#include "bodyfile.h"
#include "input.h"
#include "json.h"
#include "output.h"
#include "progress.h"
#include "results.h"
#include "interrupt.h"
#include "idset.h"
#include "lines.h"
#include "split.h"
#include "fetch_procs.h"
#include "procs.h"
#include "spate.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CMD "fetch"

/* A run winds down in two steps: on the first interrupt nothing new starts and what runs gets
 * --grace to finish (DRAINING); then, or at once on a second interrupt or a lost output,
 * everything still pending is canceled (STOPPED). */
enum stop { RUNNING, DRAINING, STOPPED };

struct fetch {
    struct spate_config cfg;
    struct spate_args_req req; /* request options from the command line */
    const char **inputs;       /* -i files, in order */
    size_t ninputs;
    const char **dns_servers, **pins;
    int ordered, with_body, quiet, verbose, progress;
    const char *outdir;
    struct spate_lines *in; /* one per input, opened before the run (owned) */
    size_t cur_in;          /* the input being read */
    int argc, next_arg;     /* URL arguments: argv[next_arg..argc) still to submit */
    char **argv;
    size_t next_index;       /* the index (id) the next request gets */
    int input_done;          /* every argument and input line has been taken */
    size_t window;           /* read-ahead: requests pending (--ordered: indexes held) at most */
    size_t skipped;          /* indexes of other shards or done before (--resume) */
    size_t bad;              /* bad input lines (counted in finished and failed too) */
    int read_failed;         /* an input could not be read to its end */
    int strict;              /* --strict: check every line before fetching */
    const char *resume_path; /* --resume FILE */
    struct spate_idset done_ids;
    const char *shard_arg; /* --shard K/N|auto, NULL = all */
    unsigned shards;       /* --shards N, 0 = not given */
    struct spate_split shard;
    size_t submitted, finished, ok, failed;
    size_t by_kind[SPATE_E_CANCELED + 1];
    struct spate_engine *e;
    struct spate_text line;  /* one result being formatted */
    struct spate_header *hv; /* scratch header array for build() */
    size_t hv_cap;
    struct spate_results res; /* stdout */
    double t0;
    struct job *spare_jobs; /* finished jobs, for the next submissions */
    double grace;           /* --grace: seconds in flight requests get after an interrupt */
    int max_body_set;       /* --max-body given (else -o lifts the cap) */
    struct spate_bodyfiles files;
    struct spate_progress prog;
    int prog_on; /* the progress line is drawn */
    enum stop stop;
    int stop_sig;          /* the signal that stopped the run, 0 = none */
    unsigned signals_seen; /* signals handled so far */
    double grace_end;
    int write_reported; /* the write error was said on stderr */
    size_t unstarted;   /* canceled before their first attempt: no line */
    unsigned procs;     /* --procs N: workers (1 = this process fetches) */
    unsigned proc_k;    /* in a worker: its number; it takes the requests whose host:port is its */
    int in_worker;      /* this process is a worker of --procs: records to out_fd */
    int out_fd;         /* where results go: 1, or a worker's pipe to the parent */
    struct spate_text rec; /* a worker's record being formatted */
    size_t next_seq;       /* the position the next request takes in this process's result
                            * stream: its index, except in a worker, which sees only its own */
    struct spate_fetch_procs_reader wire;    /* in a worker: the requests the parent routes */
    struct spate_fetch_procs_live *live;     /* in a worker: figures for the parent's progress */
    struct spate_progress_counts procs_prog; /* the parent of --procs: its progress figures */
};

struct job {
    struct fetch *f;
    struct spate_input_item it; /* the request (owned while it runs) */
    size_t index;
    size_t seq;       /* its place in the result stream (f->next_seq when it was read) */
    int fd;           /* -o: the body file, -1 until the first byte (or the end) */
    const char *path; /* -o: its path (owned by f->files), NULL until opened */
    struct job *next; /* on f->spare_jobs */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The flush clock: the coarse clock is read from memory, without the TSC read a precise vDSO
 * call costs, and it is read before every wait. Its resolution (one tick) is taken off the
 * flush interval, so results are still at most FLUSH_MS late. */
static double coarse_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double coarse_res_s(void)
{
    struct timespec ts;
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &ts) || ts.tv_sec) return 0.01;
    return ts.tv_nsec / 1e9;
}

static void usage(FILE *to)
{
    fputs(
        "usage: spate fetch [OPTIONS] [URL ...]\n"
        "Requests come from the URL arguments, then from each -i input, one per line: a URL or a\n"
        "JSON object {url, method, headers, body, json, id}. One JSON line per result on stdout.\n"
        "Durations S: seconds (decimals allowed) or with a unit: 250ms, 10s, 2m, 1h.\n"
        "Sizes BYTES: bytes or with K, M or G (powers of 1024).\n"
        "  -i, --input FILE            read requests from FILE ('-' = stdin); repeatable\n"
        "  -c, --concurrency N         requests in flight and open connections at most [100]\n"
        "      --per-host N            connections per host:port at most, 0 = no own limit [0]\n"
        "      --rate R                requests started per second at most [unlimited]\n"
        "      --connect-timeout S     DNS + TCP + TLS, 0 = no limit [10]\n"
        "      --timeout S             one whole attempt, 0 = no limit [30]\n"
        "      --read-timeout S        longest silence between bytes [none]\n"
        "      --retries N             extra attempts on failures worth retrying [0]\n"
        "      --backoff S             base of the exponential backoff [0.5]\n"
        "      --backoff-max S         cap of one backoff wait [30]\n"
        "      --retry-after-max S     cap of a 429/503 Retry-After wait [60]\n"
        "      --retry-all-methods     retry POST and PATCH too\n"
        "  -X, --request METHOD        request method [GET, or POST with a body]\n"
        "  -H, --header 'Name: value'  add a header; repeatable\n"
        "  -A, --user-agent UA         User-Agent [spate/VERSION]\n"
        "  -d, --data DATA|@FILE       request body (a file's bytes unchanged)\n"
        "      --json DATA|@FILE       JSON body, with Content-Type and Accept application/json\n"
        "      --bearer TOKEN          Authorization: Bearer TOKEN\n"
        "  -u, --user USER:PASS        Authorization: Basic\n"
        "  -L, --location              follow redirects\n"
        "      --max-redirs N          redirects followed at most [10]\n"
        "      --dns-ttl S             fixed DNS cache lifetime [the records' TTLs]\n"
        "      --dns-server ADDR[:PORT]  resolver to ask; repeatable [the system's]\n"
        "      --resolve HOST:PORT:ADDR  use ADDR for HOST:PORT; repeatable\n"
        "      --dns-cache-size N      names cached at most, least recently used evicted;\n"
        "                              0 = no caching [10000]\n"
        "      --happy-eyeballs-delay S  race the next address of a name when a connect is\n"
        "                              still pending after S; 0 = one at a time [250ms]\n"
        "      --cacert FILE           trusted CA certificates [the system store]\n"
        "  -k, --insecure              skip TLS certificate and host name checks\n"
        "      --max-body BYTES        longest body [64M; no cap with -o unless given]\n"
        "      --max-header-bytes BYTES  longest response head [64K]\n"
        "      --coalesce-us N         under load, nap up to N us before a wait so one wake-up\n"
        "                              serves several responses; 0 = off [100]\n"
        "      --ordered               print results in input order\n"
        "      --strict                check every input line first; any bad one: exit 2\n"
        "      --resume FILE           skip requests whose id has an \"ok\": true line in FILE\n"
        "      --shard K/N|auto        take only requests with index i mod N = K\n"
        "      --shards N              N for --shard auto (Kubernetes Indexed Job)\n"
        "      --procs N               N worker processes, requests routed by host:port [1]\n"
        "      --body                  include each body in its result\n"
        "  -o, --output-dir DIR        write each body to DIR/<id>, named in the result's "
        "\"file\"\n"
        "      --no-fail               a complete response with status >= 400 counts as ok\n"
        "      --grace S               after SIGINT/SIGTERM, time in-flight requests get [2]\n"
        "  -q, --quiet                 no summary or progress line on stderr\n"
        "      --progress              draw the progress line [when stderr is a terminal]\n"
        "      --no-progress           never draw it\n"
        "  -v, --verbose               one line per request and connection figures on stderr\n"
        "  -h, --help                  this text\n"
        "Exit status: 0 all ok, 1 any failed or a result line lost, 2 usage error,\n"
        "130/143 interrupted by SIGINT/SIGTERM, 141 stdout closed.\n",
        to);
}

enum {
    O_PER_HOST = 256,
    O_RATE,
    O_CTIMEOUT,
    O_TIMEOUT,
    O_RTIMEOUT,
    O_RETRIES,
    O_BACKOFF,
    O_BACKOFF_MAX,
    O_RA_MAX,
    O_RETRY_ALL,
    O_JSON,
    O_BEARER,
    O_MAX_REDIRS,
    O_DNS_TTL,
    O_DNS_SERVER,
    O_RESOLVE,
    O_CACERT,
    O_MAX_BODY,
    O_MAX_HDR,
    O_ORDERED,
    O_BODY,
    O_NO_FAIL,
    O_PROGRESS,
    O_NO_PROGRESS,
    O_COALESCE,
    O_DNS_CACHE,
    O_HE_DELAY,
    O_GRACE,
    O_STRICT,
    O_RESUME,
    O_SHARD,
    O_SHARDS,
    O_PROCS,
};

static const struct option longopts[] = {
    {"input", required_argument, 0, 'i'},
    {"concurrency", required_argument, 0, 'c'},
    {"per-host", required_argument, 0, O_PER_HOST},
    {"rate", required_argument, 0, O_RATE},
    {"connect-timeout", required_argument, 0, O_CTIMEOUT},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"read-timeout", required_argument, 0, O_RTIMEOUT},
    {"retries", required_argument, 0, O_RETRIES},
    {"backoff", required_argument, 0, O_BACKOFF},
    {"backoff-max", required_argument, 0, O_BACKOFF_MAX},
    {"retry-after-max", required_argument, 0, O_RA_MAX},
    {"retry-all-methods", no_argument, 0, O_RETRY_ALL},
    {"request", required_argument, 0, 'X'},
    {"header", required_argument, 0, 'H'},
    {"data", required_argument, 0, 'd'},
    {"json", required_argument, 0, O_JSON},
    {"bearer", required_argument, 0, O_BEARER},
    {"user", required_argument, 0, 'u'},
    {"user-agent", required_argument, 0, 'A'},
    {"location", no_argument, 0, 'L'},
    {"max-redirs", required_argument, 0, O_MAX_REDIRS},
    {"dns-ttl", required_argument, 0, O_DNS_TTL},
    {"dns-cache-size", required_argument, 0, O_DNS_CACHE},
    {"dns-server", required_argument, 0, O_DNS_SERVER},
    {"resolve", required_argument, 0, O_RESOLVE},
    {"happy-eyeballs-delay", required_argument, 0, O_HE_DELAY},
    {"cacert", required_argument, 0, O_CACERT},
    {"insecure", no_argument, 0, 'k'},
    {"max-body", required_argument, 0, O_MAX_BODY},
    {"max-header-bytes", required_argument, 0, O_MAX_HDR},
    {"ordered", no_argument, 0, O_ORDERED},
    {"body", no_argument, 0, O_BODY},
    {"output-dir", required_argument, 0, 'o'},
    {"no-fail", no_argument, 0, O_NO_FAIL},
    {"quiet", no_argument, 0, 'q'},
    {"progress", no_argument, 0, O_PROGRESS},
    {"no-progress", no_argument, 0, O_NO_PROGRESS},
    {"coalesce-us", required_argument, 0, O_COALESCE},
    {"grace", required_argument, 0, O_GRACE},
    {"strict", no_argument, 0, O_STRICT},
    {"resume", required_argument, 0, O_RESUME},
    {"shard", required_argument, 0, O_SHARD},
    {"shards", required_argument, 0, O_SHARDS},
    {"procs", required_argument, 0, O_PROCS},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static int push_str(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv) return -1;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

static int secs_opt(const char *opt, double *out)
{
    return spate_args_secs(CMD, opt, optarg, out);
}

static int uint_opt(const char *opt, unsigned long long min, unsigned long long max, unsigned *out)
{
    unsigned long long v;
    if (spate_args_uint(CMD, opt, optarg, min, max, &v)) return -1;
    *out = (unsigned)v;
    return 0;
}

/* One option; 0 or -1 (message printed). */
static int option(struct fetch *f, int c, size_t *ndns, size_t *npins)
{
    struct spate_config *g = &f->cfg;
    uint64_t sz;
    switch (c) {
    case 'i':
        return push_str(&f->inputs, &f->ninputs, optarg);
    case 'c':
        return uint_opt("--concurrency", 1, 1000000, &g->concurrency);
    case O_PER_HOST:
        return uint_opt("--per-host", 0, 1000000, &g->per_host);
    case O_RATE:
        return spate_args_rate(CMD, "--rate", optarg, &g->rate);
    case O_CTIMEOUT:
        return secs_opt("--connect-timeout", &g->connect_timeout);
    case O_TIMEOUT:
        return secs_opt("--timeout", &g->timeout);
    case O_RTIMEOUT:
        return secs_opt("--read-timeout", &g->read_timeout);
    case O_RETRIES:
        return uint_opt("--retries", 0, 1000, &g->retries);
    case O_COALESCE:
        return uint_opt("--coalesce-us", 0, 100000, &g->coalesce_us);
    case O_BACKOFF:
        return secs_opt("--backoff", &g->backoff);
    case O_BACKOFF_MAX:
        return secs_opt("--backoff-max", &g->backoff_max);
    case O_RA_MAX:
        return secs_opt("--retry-after-max", &g->retry_after_max);
    case O_RETRY_ALL:
        g->retry_all_methods = 1;
        return 0;
    case 'X': {
        char err[160];
        if (spate_method_check(optarg, err, sizeof(err))) {
            fprintf(stderr, "spate fetch: -X: %s\n", err);
            return -1;
        }
        f->req.method = optarg;
        return 0;
    }
    case 'H':
        return spate_args_header(CMD, &f->req, optarg);
    case 'd':
        return spate_args_data(CMD, &f->req, optarg, 0);
    case O_JSON:
        return spate_args_data(CMD, &f->req, optarg, 1);
    case O_BEARER:
        return spate_args_bearer(CMD, &f->req, optarg);
    case 'u':
        return spate_args_basic(CMD, &f->req, optarg);
    case 'A':
        f->req.user_agent = optarg;
        return 0;
    case 'L':
        g->follow_redirects = 1;
        return 0;
    case O_MAX_REDIRS:
        return uint_opt("--max-redirs", 0, 1000, &g->max_redirs);
    case O_DNS_TTL:
        return secs_opt("--dns-ttl", &g->dns_ttl);
    case O_DNS_CACHE: {
        unsigned long long v;
        if (spate_args_uint(CMD, "--dns-cache-size", optarg, 0, 100000000, &v)) return -1;
        g->dns_cache_size = (size_t)v;
        return 0;
    }
    case O_DNS_SERVER:
        return push_str(&f->dns_servers, ndns, optarg);
    case O_RESOLVE:
        return push_str(&f->pins, npins, optarg);
    case O_HE_DELAY:
        return secs_opt("--happy-eyeballs-delay", &g->happy_eyeballs_delay);
    case O_CACERT:
        g->cacert = optarg;
        return 0;
    case 'k':
        g->insecure = 1;
        return 0;
    case O_MAX_BODY:
        if (spate_args_size(CMD, "--max-body", optarg, &sz)) return -1;
        g->max_body = sz;
        f->max_body_set = 1;
        return 0;
    case O_MAX_HDR:
        if (spate_args_size(CMD, "--max-header-bytes", optarg, &sz)) return -1;
        g->max_header_bytes = (size_t)sz;
        return 0;
    case O_ORDERED:
        f->ordered = 1;
        return 0;
    case O_BODY:
        f->with_body = 1;
        return 0;
    case 'o':
        f->outdir = optarg;
        return 0;
    case O_NO_FAIL:
        g->no_fail = 1;
        return 0;
    case 'q':
        f->quiet = 1;
        return 0;
    case O_PROGRESS:
        f->progress = 1;
        return 0;
    case O_NO_PROGRESS:
        f->progress = 0;
        return 0;
    case 'v':
        f->verbose = 1;
        return 0;
    case O_GRACE:
        return secs_opt("--grace", &f->grace);
    case O_STRICT:
        f->strict = 1;
        return 0;
    case O_RESUME:
        f->resume_path = optarg;
        return 0;
    case O_SHARD:
        f->shard_arg = optarg;
        return 0;
    case O_SHARDS:
        return uint_opt("--shards", 1, SPATE_SPLIT_MAX_N, &f->shards);
    case O_PROCS:
        return uint_opt("--procs", 1, SPATE_FETCH_PROCS_MAX, &f->procs);
    default:
        return -1;
    }
}

static int parse_args(struct fetch *f, int argc, char **argv)
{
    size_t ndns = 0, npins = 0;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = spate_args_getopt(argc, argv, ":i:c:X:H:d:u:A:Lko:qvh", longopts)) != -1) {
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c == '?' || c == ':') return spate_args_bad_option(CMD, c, argv);
        if (option(f, c, &ndns, &npins)) return -1;
    }
    f->cfg.dns_servers = f->dns_servers;
    f->cfg.n_dns_servers = ndns;
    f->cfg.resolve = f->pins;
    f->cfg.n_resolve = npins;
    if (f->req.user_agent) f->cfg.user_agent = f->req.user_agent;
    f->shard = (struct spate_split){0, 1};
    if (f->shards && !f->shard_arg) /* harmless, but likely a mistake */
        fprintf(stderr, "spate fetch: warning: --shards N is only read by --shard auto\n");
    char err[400];
    if (f->shard_arg && spate_split_parse(f->shard_arg, "--shard", "--shards", f->shards, NULL,
                                          &f->shard, NULL, err, sizeof(err))) {
        fprintf(stderr, "spate fetch: %s\n", err);
        return -1;
    }
    if (f->procs > f->cfg.concurrency) {
        fprintf(stderr, "spate fetch: --procs %u: -c %u gives a worker no connection (-c >= N)\n",
                f->procs, f->cfg.concurrency);
        return -1;
    }
    return 0;
}

/* ---------- input ---------- */

/* Builds the engine request for item i: line fields override command-line ones. headers must
 * hold req.nheaders + item headers + 3 entries. */
static void build(const struct fetch *f, const struct spate_input_item *it, struct spate_request *q,
                  struct spate_header *hv)
{
    size_t n = 0;
    int json = it->body ? it->json_body : f->req.json;
    for (size_t i = 0; i < f->req.nheaders; i++) {
        int overridden = 0;
        for (size_t j = 0; j < it->nheaders; j++)
            overridden |= !strcasecmp(f->req.headers[i].name, it->headers[j].name);
        if (!overridden) hv[n++] = f->req.headers[i];
    }
    if (f->req.auth) hv[n++] = (struct spate_header){"Authorization", f->req.auth};
    if (json) {
        hv[n++] = (struct spate_header){"Content-Type", "application/json"};
        hv[n++] = (struct spate_header){"Accept", "application/json"};
    }
    for (size_t j = 0; j < it->nheaders; j++)
        hv[n++] = it->headers[j];
    /* a later header of the same name wins over an earlier generated one */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (!strcasecmp(hv[i].name, hv[j].name) && hv[i].name != hv[j].name) {
                memmove(&hv[i], &hv[i + 1], (n - i - 1) * sizeof(*hv));
                n--;
                i--;
                break;
            }
    memset(q, 0, sizeof(*q));
    q->url = it->url;
    q->method = it->method ? it->method : f->req.method;
    q->headers = hv;
    q->nheaders = n;
    if (it->body) {
        q->body = it->body;
        q->body_len = it->body_len;
    } else if (f->req.body) {
        q->body = f->req.body;
        q->body_len = f->req.body_len;
    }
}

/* Room in f->hv for the headers build() makes of item it. 0 or -ENOMEM. */
static int headers_room(struct fetch *f, const struct spate_input_item *it)
{
    size_t need = f->req.nheaders + it->nheaders + 3;
    if (need <= f->hv_cap) return 0;
    free(f->hv);
    f->hv = calloc(need, sizeof(*f->hv));
    f->hv_cap = f->hv ? need : 0;
    return f->hv ? 0 : -ENOMEM;
}

/* Checks the request of item it without submitting it (URL arguments and --strict, which judge
 * everything before the run; during the run spate_submit is the check). 0, or -1 with err
 * naming the problem. */
static int check_item(struct fetch *f, struct spate_input_item *it, char *err, size_t errlen)
{
    if (headers_room(f, it)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct spate_request q;
    build(f, it, &q, f->hv);
    return spate_request_check(&q, err, errlen) ? -1 : 0;
}

/* Opens every input before anything is fetched (an unreadable one is a usage error).
 * 0 or -1 (message printed). */
static int open_inputs(struct fetch *f)
{
    f->in = calloc(f->ninputs ? f->ninputs : 1, sizeof(*f->in));
    if (!f->in) {
        fprintf(stderr, "spate fetch: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < f->ninputs; i++)
        f->in[i].fd = -1;
    for (size_t i = 0; i < f->ninputs; i++) {
        int rc = spate_lines_open(&f->in[i], f->inputs[i]);
        if (rc) {
            fprintf(stderr, "spate fetch: cannot %s '%s': %s\n", rc == -EISDIR ? "read" : "open",
                    f->inputs[i], strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static const char *input_name(const struct fetch *f, size_t i)
{
    return strcmp(f->inputs[i], "-") ? f->inputs[i] : "stdin";
}

/* Checks the URL arguments before anything is fetched; 0 or -1 (message printed). */
static int check_args(struct fetch *f, int argc, char **argv)
{
    char where[64];
    for (int i = optind; i < argc; i++) {
        snprintf(where, sizeof(where), "argument '%.40s'", argv[i]);
        size_t len = strlen(argv[i]);
        if (len == 0 || strspn(argv[i], " \t") == len) {
            fprintf(stderr, "spate fetch: %s: empty URL\n", where);
            return -1;
        }
        /* an argument is always a URL, never a JSON object or comment */
        struct spate_input_item it = {.url = argv[i]};
        char err[300];
        if (check_item(f, &it, err, sizeof(err))) {
            fprintf(stderr, "spate fetch: %s: %s\n", where, err);
            return -1;
        }
    }
    if (optind == argc && f->ninputs == 0) {
        fprintf(stderr, "spate fetch: no URLs given (arguments, -i FILE or -i -)\n");
        return -1;
    }
    f->argc = argc;
    f->argv = argv;
    f->next_arg = optind;
    return 0; /* inputs that hold no request: a run of 0 requests, not an error */
}

/* One line parsed (rc: what spate_lines_next returned for it): 1 a request (*it filled; its
 * request is checked by whoever takes it), 0 a line to skip, -1 a bad line (err says why; *it
 * may hold what did parse). */
static int judge_line(int rc, const char *line, size_t len, struct spate_input_item *it, char *err,
                      size_t errlen)
{
    memset(it, 0, sizeof(*it));
    if (rc == 2) {
        snprintf(err, errlen, "line longer than %u bytes", SPATE_LINES_MAX);
        return -1;
    }
    return spate_input_parse_line(line, len, it, err, errlen);
}

/* A copy of a pipe's input in an unlinked temporary file, for --strict to read it again. */
static int temp_copy(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/spate-strict-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0) unlink(path);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* --strict, input i: every line checked before anything is fetched; a pipe's lines are kept in
 * a temporary file (not in memory) and the run reads them from there. Returns the number of bad
 * lines (each said on stderr), or -1 when the input cannot be read. */
static long strict_input(struct fetch *f, size_t i)
{
    struct spate_lines *l = &f->in[i];
    int copy = l->seekable ? -1 : temp_copy();
    if (!l->seekable && copy < 0) {
        fprintf(stderr, "spate fetch: --strict: no temporary file for %s: %s\n", input_name(f, i),
                strerror(errno));
        return -1;
    }
    long bad = 0;
    int failed = 0;
    const char *line;
    size_t len;
    char err[300];
    for (;;) {
        int rc = spate_lines_next(l, &line, &len, 1);
        if (rc < 0) break;
        if (rc == 0) {
            if (spate_interrupt_count()) break; /* the run ends before it starts */
            continue;
        }
        if (copy >= 0 && (write_all(copy, line, rc == 2 ? 0 : len) || write_all(copy, "\n", 1))) {
            fprintf(stderr, "spate fetch: --strict: cannot keep %s: %s\n", input_name(f, i),
                    strerror(errno));
            failed = 1;
            break;
        }
        struct spate_input_item it;
        int k = judge_line(rc, line, len, &it, err, sizeof(err));
        if (k < 0 || (k > 0 && check_item(f, &it, err, sizeof(err)))) {
            fprintf(stderr, "spate fetch: %s:%zu: %s\n", input_name(f, i), l->lineno, err);
            bad++;
        }
        spate_input_item_fini(&it);
    }
    if (l->err) {
        fprintf(stderr, "spate fetch: cannot read '%s': %s\n", f->inputs[i], strerror(l->err));
        failed = 1;
    }
    int rc = failed ? -1 : spate_lines_restart(l, copy >= 0 ? copy : l->fd);
    if (rc && !failed)
        fprintf(stderr, "spate fetch: --strict: cannot read %s again: %s\n", input_name(f, i),
                strerror(-rc));
    if ((failed || rc) && copy >= 0) close(copy);
    return failed || rc ? -1 : bad;
}

static int strict_check(struct fetch *f)
{
    long bad = 0;
    for (size_t i = 0; i < f->ninputs && !spate_interrupt_count(); i++) {
        long b = strict_input(f, i);
        if (b < 0) return -1;
        bad += b;
    }
    if (bad) {
        fprintf(stderr, "spate fetch: --strict: %ld bad input line%s; nothing fetched\n", bad,
                bad == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

/* ---------- output ---------- */

#define FLUSH_MS 25        /* results reach stdout at most this late, in one write per batch */
#define SIGNAL_POLL_MS 200 /* a signal landing just before a wait is seen this late at most */
/* A line arriving on a pipe while requests are in flight is read this late at most (the
 * engine's wait does not watch the input); with nothing in flight the pipe itself is waited on. */
#define INPUT_POLL_MS 10

static int draw_progress(struct fetch *f, int force);

/* A message on stderr during the run: the progress line goes first, or they would share it. */
static void say(struct fetch *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct fetch *f, const char *fmt, ...)
{
    if (f->prog_on) spate_progress_clear(&f->prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* A full disk is said once, when it happens; a closed pipe needs no words. */
static void note_output(struct fetch *f)
{
    if (!f->res.write_errno || f->write_reported) return;
    f->write_reported = 1;
    say(f, "spate fetch: cannot write results: %s; stopping\n", strerror(f->res.write_errno));
}

/* Around each write of results: the progress line leaves the terminal they go to, then comes
 * back under them. */
static void around_write(void *arg, int before)
{
    struct fetch *f = arg;
    if (before)
        spate_progress_clear(&f->prog);
    else
        draw_progress(f, 1);
}

/* Redraws the progress line when due (or now, with force); ms until the next redraw. */
static int draw_progress(struct fetch *f, int force)
{
    if (!f->prog_on) return INT32_MAX;
    struct spate_stats st;
    spate_engine_stats(f->e, &st);
    struct spate_progress_counts c = {
        .done = f->finished,
        .failed = f->failed,
        .in_flight = (size_t)st.in_flight,
        .total = f->input_done ? f->next_index - f->skipped - f->unstarted : SIZE_MAX,
    };
    return spate_progress_tick(&f->prog, now_s(), &c, force);
}

/* ---------- bodies to files (-o) ---------- */

/* The bytes an id names its file by: a string id's text, any other id's JSON, else the index. */
static int open_body(struct job *j)
{
    if (j->fd >= 0) return 0;
    struct fetch *f = j->f;
    const char *idj = j->it.id_json;
    char num[32], err[4300];
    const char *id = num;
    size_t n;
    struct spate_json *v = NULL;
    if (!idj)
        n = (size_t)snprintf(num, sizeof(num), "%zu", j->index);
    else if (idj[0] == '"' && spate_json_parse(idj, strlen(idj), &v, err, sizeof(err)) == 0)
        id = spate_json_str(v, &n);
    else
        id = idj, n = strlen(idj);
    j->fd = spate_bodyfiles_open(&f->files, id, n, &j->path, err, sizeof(err));
    spate_json_free(v);
    if (j->fd < 0) {
        say(f, "spate fetch: #%zu: %s\n", j->index, err);
        return -1;
    }
    return 0;
}

static int on_body(void *user, const char *p, size_t n)
{
    struct job *j = user;
    if (!p) { /* re-attempt: start the file over */
        if (j->fd >= 0 && ftruncate(j->fd, 0) == 0) lseek(j->fd, 0, SEEK_SET);
        return 0;
    }
    if (open_body(j)) return -1;
    while (n) {
        ssize_t w = write(j->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A complete response keeps its file, error statuses too (an API's 4xx payload is data); a body
 * cut short (reset, timeout, too large, canceled) is removed so it cannot pass for a whole one.
 * Returns the path to name in the result, or NULL. */
static const char *finish_body(struct job *j, const struct spate_response *r)
{
    struct fetch *f = j->f;
    if (!f->outdir) return NULL;
    int whole = r->error == SPATE_OK || r->error == SPATE_E_HTTP;
    if (whole) open_body(j); /* an empty body still gets its file */
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
    if (!whole && j->path) {
        spate_bodyfiles_discard(&f->files, j->path);
        j->path = NULL;
    }
    return j->path;
}

/* ---------- running ---------- */

static void submit_more(struct fetch *f);
static void publish(struct fetch *f);

static void recycle(struct fetch *f, struct job *j)
{
    spate_input_item_fini(&j->it);
    j->next = f->spare_jobs;
    f->spare_jobs = j;
}

static const char *method_of(const struct fetch *f, const struct spate_input_item *it)
{
    return it->method                  ? it->method
           : f->req.method             ? f->req.method
           : (it->body || f->req.body) ? "POST"
                                       : "GET";
}

static void count(struct fetch *f, enum spate_error_kind k)
{
    f->finished++;
    if (k == SPATE_OK) {
        f->ok++;
    } else {
        f->failed++;
        f->by_kind[k]++;
    }
}

/* -v in a worker: which one fetched (each host:port has one). */
static const char *worker_tag(const struct fetch *f)
{
    static char tag[32];
    snprintf(tag, sizeof(tag), ", worker %u", f->proc_k);
    return tag;
}

/* A result line of request `index` (its error kind k) at place seq of the stream: to stdout,
 * or in a worker as a record for the parent, which counts it. */
static void emit(struct fetch *f, size_t seq, size_t index, int k, const char *line, size_t len)
{
    if (!f->in_worker) {
        spate_results_add(&f->res, seq, line, len);
        return;
    }
    char num[32];
    int n = snprintf(num, sizeof(num), "%zu %d\t", index, k);
    spate_text_reset(&f->rec);
    spate_text_add(&f->rec, num, (size_t)n);
    spate_text_add(&f->rec, line, len);
    spate_results_add(&f->res, seq, f->rec.s, f->rec.len);
}

/* Request `index` prints nothing (done before, or never started); a worker still tells the
 * parent, which holds every routed request until its worker answers it. */
static void no_line(struct fetch *f, size_t seq, size_t index)
{
    if (!f->in_worker) {
        spate_results_skip(&f->res, seq);
        return;
    }
    char num[32];
    int n = snprintf(num, sizeof(num), "%zu\t\n", index);
    spate_results_add(&f->res, seq, num, (size_t)n);
}

static void print_result(struct fetch *f, struct job *j, const struct spate_response *r)
{
    const struct spate_input_item *it = &j->it;
    struct spate_text *line = &f->line;
    spate_text_reset(line);
    struct spate_output_rec rec = {
        .id_json = it->id_json,
        .index = j->index,
        .url = it->url,
        .method = method_of(f, it),
        .with_body = f->with_body,
        .with_file = f->outdir != NULL,
        .file = finish_body(j, r),
    };
    if (spate_output_line(line, &rec, r) == 0)
        emit(f, j->seq, j->index, r->error, line->s, line->len);
    if (f->verbose)
        say(f, "spate fetch: #%zu %s -> %d via %s (%s%s%s)%s%s\n", j->index, it->url, r->status,
            r->remote[0] ? r->remote : "-", r->reused ? "reused" : "new",
            r->tls_resumed ? ", TLS resumed" : "", f->in_worker ? worker_tag(f) : "",
            r->error ? ": " : "", r->message);
}

static void on_done(void *user, const struct spate_response *r)
{
    struct job *j = user;
    struct fetch *f = j->f;
    if (r->error == SPATE_E_CANCELED && r->attempts == 0) {
        /* stopped before its first attempt: no line, it is left for --resume */
        finish_body(j, r);
        f->unstarted++;
        no_line(f, j->seq, j->index);
        recycle(f, j);
        return;
    }
    print_result(f, j, r);
    count(f, r->error);
    recycle(f, j);
    submit_more(f);
}

static size_t pending(const struct fetch *f)
{
    return f->submitted - (f->finished - f->bad) - f->unstarted;
}

/* The read-ahead is used up: requests pending, and for --ordered the indexes since the first
 * one not printed yet (its lines are held), are bounded by the window. */
static int window_full(const struct fetch *f)
{
    return pending(f) >= f->window || (f->ordered && f->next_seq - f->res.next >= f->window);
}

/* A bad input line: a result of kind input naming FILE:LINE and the rule; the run goes on. */
static void bad_line(struct fetch *f, size_t seq, size_t index, const struct spate_input_item *it,
                     const char *line, size_t len, const char *where, const char *why)
{
    char msg[700], url[256];
    snprintf(msg, sizeof(msg), "%s: %s", where, why);
    snprintf(url, sizeof(url), "%.*s", (int)(len < 200 ? len : 200), line);
    struct spate_response r = {.error = SPATE_E_INPUT, .message = msg, .remote = ""};
    struct spate_output_rec rec = {
        .id_json = it->id_json,
        .index = index,
        .url = it->url ? it->url : url,
        .method = method_of(f, it),
        .with_body = f->with_body,
        .with_file = f->outdir != NULL,
    };
    spate_text_reset(&f->line);
    if (spate_output_line(&f->line, &rec, &r) == 0)
        emit(f, seq, index, SPATE_E_INPUT, f->line.s, f->line.len);
    count(f, SPATE_E_INPUT);
    f->bad++;
}

/* --resume: the id an earlier run printed for this request was ok. */
static int done_before(struct fetch *f, size_t index, const struct spate_input_item *it)
{
    if (!f->resume_path) return 0;
    char num[32];
    const char *id = it->id_json;
    size_t n = id ? strlen(id) : (size_t)snprintf(num, sizeof(num), "%zu", index);
    return spate_idset_has(&f->done_ids, spate_idset_hash(id ? id : num, n));
}

/* Submits request `index`: 0 and the job took *it, or spate_submit's error with err naming it
 * (-EINVAL: the item's request is invalid) and *it still the caller's. The engine checks the
 * request as it takes it: nothing checks it before. */
static int submit(struct fetch *f, size_t seq, size_t index, struct spate_input_item *it, char *err,
                  size_t errlen)
{
    struct job *j = f->spare_jobs ? f->spare_jobs : malloc(sizeof(*j));
    if (j && j == f->spare_jobs) f->spare_jobs = j->next;
    struct spate_request q;
    if (!j || headers_room(f, it)) {
        fprintf(stderr, "spate fetch: out of memory\n");
        exit(2);
    }
    *j = (struct job){.f = f, .it = *it, .index = index, .seq = seq, .fd = -1};
    build(f, &j->it, &q, f->hv);
    q.keep_body = f->with_body;
    q.skip_headers = 1; /* results do not print response headers */
    q.on_body = f->outdir ? on_body : NULL;
    q.done = on_done;
    q.user = j;
    int rc = spate_submit(f->e, &q, err, errlen);
    if (rc) { /* the item goes back to the caller, the job to the spares */
        memset(&j->it, 0, sizeof(j->it));
        recycle(f, j);
        return rc;
    }
    memset(it, 0, sizeof(*it)); /* the job owns it now */
    f->submitted++;
    return 0;
}

/* Request `index` (place seq of the stream), read: another shard's, done before, or submitted.
 * 0 (*it taken), or -1 when the engine refused it as invalid (err says why; *it is still the
 * caller's, and the caller reports it). Any other failure to submit ends the run. */
static int take(struct fetch *f, size_t seq, size_t index, struct spate_input_item *it, char *err,
                size_t errlen)
{
    if (index % f->shard.n != f->shard.k || done_before(f, index, it)) {
        f->skipped++;
        no_line(f, seq, index);
        spate_input_item_fini(it);
        return 0;
    }
    int rc = submit(f, seq, index, it, err, errlen);
    if (rc == -EINVAL) return -1;
    if (rc) {
        fprintf(stderr, "spate fetch: #%zu: %s\n", index, err);
        exit(2);
    }
    return 0;
}

static const char *input_name(const struct fetch *f, size_t i);

/* In a worker: the next request the parent routed to it (its index, line and where the line
 * came from are in the record). 1 taken, 0 none there yet, -1 the parent sent the last. */
static int take_routed(struct fetch *f)
{
    const char *rec;
    size_t len;
    while (!(rec = spate_fetch_procs_record(&f->wire, &len))) {
        int rc = spate_fetch_procs_fill(&f->wire);
        if (rc == 0) return 0;
        if (rc < 0) {
            f->input_done = 1;
            return -1;
        }
    }
    ((volatile struct spate_fetch_procs_live *)f->live)->taken++; /* before it can be sent */
    struct spate_fetch_procs_req q;
    if (spate_fetch_procs_parse_req(rec, len, &q)) {
        say(f, "spate fetch: worker %u: a malformed request record from the parent\n", f->proc_k);
        f->read_failed = 1;
        return 1;
    }
    size_t seq = f->next_seq++;
    struct spate_input_item it;
    char err[300], where[320];
    memset(&it, 0, sizeof(it));
    int k = 1;
    if (q.input < 0) { /* a URL argument, checked before the run */
        it.url = strndup(q.line, q.len);
        if (!it.url) {
            fprintf(stderr, "spate fetch: out of memory\n");
            exit(2);
        }
        snprintf(where, sizeof(where), "argument '%.40s'", it.url);
    } else {
        k = judge_line(q.too_long ? 2 : 1, q.line, q.len, &it, err, sizeof(err));
        snprintf(where, sizeof(where), "%s:%zu",
                 (size_t)q.input < f->ninputs ? input_name(f, (size_t)q.input) : "input", q.lineno);
    }
    if (k > 0 && take(f, seq, q.index, &it, err, sizeof(err)) == 0) return 1;
    if (k == 0) /* the parent routes no blank line; harmless if it did */
        no_line(f, seq, q.index);
    else /* did not parse, or the engine refused its request */
        bad_line(f, seq, q.index, &it, q.line, q.too_long ? 0 : q.len, where, err);
    spate_input_item_fini(&it);
    return 1;
}

/* The current input file is over (end, or a read error, said here): on to the next. */
static void input_over(struct fetch *f, struct spate_lines *l)
{
    if (l->err) {
        say(f, "spate fetch: cannot read '%s': %s\n", f->inputs[f->cur_in], strerror(l->err));
        f->read_failed = 1;
    }
    spate_lines_fini(l);
    f->cur_in++;
}

/* Takes the next argument or input line. 1 one was taken, 0 none is ready yet (a quiet pipe),
 * -1 the input is over. */
static int take_next(struct fetch *f)
{
    struct spate_input_item it;
    char err[300];
    if (f->in_worker) return take_routed(f);
    if (f->next_arg < f->argc) {
        memset(&it, 0, sizeof(it));
        it.url = strdup(f->argv[f->next_arg++]);
        if (!it.url) {
            fprintf(stderr, "spate fetch: out of memory\n");
            exit(2);
        }
        size_t index = f->next_index++;
        f->next_seq++;
        if (take(f, index, index, &it, err, sizeof(err))) { /* checked by check_args first */
            char where[64];
            snprintf(where, sizeof(where), "argument '%.40s'", it.url);
            bad_line(f, index, index, &it, it.url, strlen(it.url), where, err);
            spate_input_item_fini(&it);
        }
        return 1;
    }
    while (f->cur_in < f->ninputs) {
        struct spate_lines *l = &f->in[f->cur_in];
        const char *line = "";
        size_t len = 0;
        int rc = spate_lines_next(l, &line, &len, 0);
        if (rc == 0) return 0;
        if (rc < 0) {
            input_over(f, l);
            continue;
        }
        int k = judge_line(rc, line, len, &it, err, sizeof(err));
        if (k == 0) continue; /* blank or comment: no index */
        size_t index = f->next_index++;
        f->next_seq++;
        if (k > 0 && take(f, index, index, &it, err, sizeof(err)) == 0) return 1;
        if (k < 0 && index % f->shard.n != f->shard.k) {
            f->skipped++; /* another shard reports it */
            spate_results_skip(&f->res, index);
        } else { /* did not parse, or the engine refused its request (k > 0: this one's) */
            char where[320];
            snprintf(where, sizeof(where), "%s:%zu", input_name(f, f->cur_in), l->lineno);
            bad_line(f, index, index, &it, line, rc == 2 ? 0 : len, where, err);
        }
        spate_input_item_fini(&it);
        return 1;
    }
    f->input_done = 1;
    return -1;
}

/* Reads and submits while the window has room and the input has lines ready. */
static void submit_more(struct fetch *f)
{
    while (f->stop == RUNNING && !f->input_done && !window_full(f))
        if (take_next(f) <= 0) break;
}

/* The input is a pipe (or terminal) still open, with room to read: a line may arrive during a
 * wait the engine does not know of. */
static int waiting_for_input(const struct fetch *f)
{
    if (f->in_worker) return f->stop == RUNNING && !f->input_done && !window_full(f);
    return f->stop == RUNNING && !f->input_done && !window_full(f) && f->cur_in < f->ninputs &&
           !f->in[f->cur_in].seekable;
}

/* ---------- stopping ---------- */

static const char *sig_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/* Cancels everything pending; each started request still gets its whole line. */
static void stop_now(struct fetch *f, const char *why)
{
    f->stop = STOPPED;
    spate_engine_cancel(f->e, SPATE_CANCEL_ALL, why);
}

/* The first interrupt: nothing new starts, requests in flight get --grace; a second one, or
 * the end of the grace, cancels them. */
static void on_interrupt(struct fetch *f, double now)
{
    unsigned n = spate_interrupt_count();
    char why[160];
    if (n != f->signals_seen) {
        f->signals_seen = n;
        if (!f->stop_sig) f->stop_sig = spate_interrupt_signal();
        const char *name = sig_name(f->stop_sig);
        if (f->stop == RUNNING && n == 1 && f->grace > 0) {
            f->stop = DRAINING;
            f->grace_end = now + f->grace;
            spate_engine_cancel(f->e, SPATE_CANCEL_QUEUED, "canceled before it started");
            if (!f->quiet)
                say(f,
                    "spate fetch: %s: no new requests; %zu in flight get %.3g s to finish "
                    "(interrupt again to stop now)\n",
                    name, pending(f), f->grace);
        } else if (f->stop != STOPPED) {
            snprintf(why, sizeof(why), "canceled: interrupted by %s", name);
            stop_now(f, why);
        }
    }
    if (f->stop == DRAINING && now >= f->grace_end) {
        snprintf(why, sizeof(why),
                 "canceled: interrupted by %s, still running after the %.3g s grace",
                 sig_name(f->stop_sig), f->grace);
        stop_now(f, why);
    }
}

/* Called by spate_run before each wait: interrupts, lost output, the flush and the progress
 * line, each due at its own time; returns how long the wait may last (ms). */
static int before_wait(void *arg)
{
    struct fetch *f = arg;
    double now = coarse_s();
    on_interrupt(f, now);
    publish(f);
    int cap = SIGNAL_POLL_MS;
    int ms = spate_results_tick(&f->res, now, SIGNAL_POLL_MS / 1e3);
    if (ms >= 0 && ms < cap) cap = ms;
    note_output(f);
    if (f->stop != STOPPED && spate_results_done(&f->res))
        stop_now(f, f->res.closed ? "canceled: the output was closed"
                                  : "canceled: results could not be written");
    ms = draw_progress(f, 0);
    if (ms < cap) cap = ms;
    submit_more(f);
    if (waiting_for_input(f) && INPUT_POLL_MS < cap) cap = INPUT_POLL_MS;
    if (f->stop == DRAINING) {
        int left = (int)((f->grace_end - now) * 1e3) + 1;
        if (left < cap) cap = left > 0 ? left : 0;
    }
    return cap;
}

static void summary(struct fetch *f)
{
    double el = now_s() - f->t0;
    if (f->stop_sig || spate_results_done(&f->res)) {
        const char *why = f->stop_sig     ? (f->stop_sig == SIGINT ? "interrupted by SIGINT"
                                                                   : "interrupted by SIGTERM")
                          : f->res.closed ? "stopped: stdout was closed"
                                          : "stopped: results could not be written";
        if (f->input_done)
            fprintf(stderr,
                    "spate fetch: %s: %zu of %zu requests not started (no line; left for "
                    "--resume)\n",
                    why, f->unstarted, f->submitted);
        else
            fprintf(stderr,
                    "spate fetch: %s: %zu requests read and not started, and the input not read "
                    "to its end (no line; left for --resume)\n",
                    why, f->unstarted);
    }
    fprintf(stderr, "spate fetch: %zu requests, %zu ok, %zu failed in %.3f s (%.0f req/s)\n",
            f->finished, f->ok, f->failed, el, el > 0 ? (double)f->finished / el : 0.0);
    if (f->res.lost)
        fprintf(stderr, "spate fetch: %zu result lines could not be written\n", f->res.lost);
    if (f->verbose && f->e) {
        struct spate_stats st;
        spate_engine_stats(f->e, &st);
        fprintf(stderr,
                "spate fetch: connections %llu opened (%llu established), %llu reused; "
                "TLS %llu handshakes (%llu resumed); DNS %llu queries, %llu cache hits; "
                "%llu stale re-sends\n",
                (unsigned long long)st.connects, (unsigned long long)st.established,
                (unsigned long long)st.reused, (unsigned long long)st.tls_handshakes,
                (unsigned long long)st.tls_resumed, (unsigned long long)st.dns_queries,
                (unsigned long long)st.dns_cache_hits, (unsigned long long)st.stale_resends);
    }
    if (!f->failed) return;
    fprintf(stderr, "spate fetch: failures by kind:");
    for (int k = 1; k <= SPATE_E_CANCELED; k++)
        if (f->by_kind[k]) fprintf(stderr, " %s %zu", spate_error_kind_name(k), f->by_kind[k]);
    fputc('\n', stderr);
}

static void cleanup(struct fetch *f)
{
    spate_engine_destroy(f->e);
    for (size_t i = 0; f->in && i < f->ninputs; i++)
        spate_lines_fini(&f->in[i]);
    free(f->in);
    spate_idset_fini(&f->done_ids);
    spate_args_req_fini(&f->req);
    free(f->inputs);
    free(f->dns_servers);
    free(f->pins);
    spate_results_fini(&f->res);
    spate_text_fini(&f->line);
    spate_text_fini(&f->rec);
    spate_bodyfiles_fini(&f->files);
    free(f->hv);
    while (f->spare_jobs) {
        struct job *j = f->spare_jobs;
        f->spare_jobs = j->next;
        free(j);
    }
}

/* Same terminal for results and progress: the line must be cleared before results are written. */
static int same_terminal(int a, int b)
{
    struct stat sa, sb;
    return isatty(a) && isatty(b) && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
           sa.st_rdev == sb.st_rdev;
}

/* Checks what the run needs before anything is fetched; 0 or -1 (message printed). */
static int prepare(struct fetch *f)
{
    if (f->outdir) {
        struct stat st;
        if (stat(f->outdir, &st) || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "spate fetch: -o: '%s' is not a directory\n", f->outdir);
            return -1;
        }
        spate_bodyfiles_init(&f->files, f->outdir);
        /* the body goes to disk, not to memory: only --body or --max-body bound it */
        if (!f->max_body_set && !f->with_body) f->cfg.max_body = UINT64_MAX;
    }
    double every = FLUSH_MS / 1e3 - coarse_res_s(); /* the flush clock ticks coarsely */
    f->window = f->cfg.concurrency * 4 > 1024 ? f->cfg.concurrency * 4 : 1024;
    if (spate_results_init(&f->res, f->out_fd, f->ordered ? f->window : 0,
                           every < 0.001 ? 0.001 : every, coarse_s())) {
        fprintf(stderr, "spate fetch: out of memory\n");
        return -1;
    }
    return 0;
}

/* Nothing in flight and the input is quiet: waits for it (or a signal, or the next flush or
 * redraw), then reads what came. */
static void wait_input(struct fetch *f)
{
    int ms = before_wait(f); /* also reads and submits what is there already */
    if (pending(f) || f->input_done || f->stop != RUNNING) return;
    struct pollfd p = {.fd = f->in_worker ? f->wire.fd : f->in[f->cur_in].fd, .events = POLLIN};
    poll(&p, 1, ms < 0 || ms > SIGNAL_POLL_MS ? SIGNAL_POLL_MS : ms); /* EINTR: a signal */
    submit_more(f);
}

/* A worker's last record: its counts, for the parent's one summary. */
static void send_counts(struct fetch *f)
{
    struct spate_fetch_procs_counts c = {.finished = f->finished,
                                         .ok = f->ok,
                                         .failed = f->failed,
                                         .unstarted = f->unstarted,
                                         .submitted = f->submitted,
                                         .lost = f->res.lost};
    for (int k = 0; k <= SPATE_E_CANCELED && k < SPATE_FETCH_PROCS_KINDS; k++)
        c.by_kind[k] = f->by_kind[k];
    char buf[1024];
    size_t n = spate_fetch_procs_format_counts(buf, sizeof(buf), &c);
    if (!spate_results_done(&f->res)) write_all(f->out_fd, buf, n);
}

/* Runs the requests; the exit status. */
static int run(struct fetch *f)
{
    char err[300];
    f->cfg.concurrency = spate_args_fit_fds(CMD, f->cfg.concurrency);
    f->cfg.before_wait = before_wait;
    f->cfg.before_wait_arg = f;
    if (spate_engine_create(&f->e, &f->cfg, err, sizeof(err))) {
        fprintf(stderr, "spate fetch: %s\n", err);
        return 2;
    }
    f->t0 = now_s();
    f->prog_on = f->progress && !f->quiet;
    if (f->prog_on && same_terminal(1, 2)) {
        f->res.around = around_write;
        f->res.arg = f;
    }
    if (f->prog_on) spate_progress_init(&f->prog, 2, f->t0);
    int loop_failed = 0;
    if (spate_interrupt_count()) { /* interrupted while reading the input */
        f->stop_sig = spate_interrupt_signal();
        f->stop = STOPPED;
    }
    submit_more(f);
    for (;;) {
        if (pending(f)) {
            if (spate_run(f->e) < 0) {
                fprintf(stderr, "spate fetch: event loop failed\n");
                loop_failed = 1;
                break;
            }
            continue;
        }
        if (f->input_done || f->stop != RUNNING) break;
        wait_input(f);
    }
    spate_results_release_held(&f->res);
    spate_results_flush(&f->res, coarse_s());
    note_output(f);
    if (f->prog_on) spate_progress_clear(&f->prog);
    if (f->in_worker) {
        publish(f);
        send_counts(f);
    } else if (!f->quiet)
        summary(f);
    if (f->stop_sig) return 128 + f->stop_sig;
    if (f->res.closed) return 128 + SIGPIPE;
    return loop_failed || f->failed || f->read_failed || f->res.write_errno || f->res.lost ? 1 : 0;
}

/* SIGINT and SIGTERM are counted (cli/interrupt.c) and acted on between waits. Without
 * SA_RESTART a read of the input blocked on a quiet pipe returns too, so `kill -TERM` ends a run
 * whose producer is still silent; every other call here retries EINTR. 0 or -1. */
static int catch_interrupts(void)
{
    int rc = spate_interrupt_install();
    if (rc) {
        fprintf(stderr, "spate fetch: cannot catch SIGINT/SIGTERM: %s\n", strerror(-rc));
        return -1;
    }
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction sa;
        if (sigaction(sigs[i], NULL, &sa) == 0) {
            sa.sa_flags &= ~SA_RESTART;
            sigaction(sigs[i], &sa, NULL);
        }
    }
    return 0;
}

/* ---------- --procs ---------- */

/* The parent reads each input line only as far as routing needs: the shape rules of
 * spate_input_parse_line (a BOM, a CR, blanks, '#', '{'), and for a plain URL its trimmed bytes.
 * 0 a line without a request, 1 a URL at *u (*ulen bytes), 2 a JSON line. */
static int line_shape(const char *line, size_t len, const char **u, size_t *ulen)
{
    if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) line += 3, len -= 3;
    if (len && line[len - 1] == '\r') len--;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] == '#') return 0;
    if (line[i] == '{') return 2;
    while (len > i && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    *u = line + i;
    *ulen = len - i;
    return 1;
}

/* The worker of a line: a URL's host:port; a JSON line is parsed for its "url"; a line that
 * cannot say (too long, bad JSON) goes to worker 0, which reports it. */
static unsigned worker_of_line(const struct fetch *f, int shape, const char *line, size_t len,
                               const char *u, size_t ulen)
{
    if (shape == 1) return spate_fetch_procs_worker_of(u, ulen, f->procs);
    if (shape != 2) return 0;
    struct spate_input_item it;
    char err[300];
    unsigned w = 0;
    if (spate_input_parse_line(line, len, &it, err, sizeof(err)) > 0)
        w = spate_fetch_procs_worker_of(it.url, strlen(it.url), f->procs);
    spate_input_item_fini(&it);
    return w;
}

/* The parent of --procs: the next request to route (URL arguments first, then every input line
 * with a request, bad ones included, the index counting them all); other shards' are passed
 * over here. See spate_fetch_procs_ops.next. */
static int route_next(void *arg, struct spate_fetch_procs_req *q, unsigned *w, int *wait_fd)
{
    struct fetch *f = arg;
    for (;;) {
        if (f->next_arg < f->argc) {
            const char *a = f->argv[f->next_arg++];
            size_t index = f->next_index++;
            if (index % f->shard.n != f->shard.k) {
                f->skipped++;
                continue;
            }
            *q = (struct spate_fetch_procs_req){
                .index = index, .input = -1, .line = a, .len = strlen(a)};
            *w = spate_fetch_procs_worker_of(a, q->len, f->procs);
            return 1;
        }
        if (f->cur_in >= f->ninputs || spate_interrupt_count()) {
            f->input_done = f->cur_in >= f->ninputs;
            return -1;
        }
        struct spate_lines *l = &f->in[f->cur_in];
        const char *line = "", *u = NULL;
        size_t len = 0, ulen = 0;
        int rc = spate_lines_next(l, &line, &len, 0);
        if (rc == 0) {
            *wait_fd = l->fd;
            return 0;
        }
        if (rc < 0) {
            input_over(f, l);
            continue;
        }
        int shape = rc == 2 ? 3 : line_shape(line, len, &u, &ulen);
        if (shape == 0) continue; /* blank or comment: no index */
        size_t index = f->next_index++;
        if (index % f->shard.n != f->shard.k) {
            f->skipped++;
            continue;
        }
        *q = (struct spate_fetch_procs_req){.index = index,
                                            .input = (long)f->cur_in,
                                            .lineno = l->lineno,
                                            .too_long = rc == 2,
                                            .line = rc == 2 ? "" : line,
                                            .len = rc == 2 ? 0 : len};
        *w = worker_of_line(f, shape, line, len, u, ulen);
        return 1;
    }
}

/* The parent of --procs: the line of a request whose worker died before answering it. */
static const char *route_lost(void *arg, const struct spate_fetch_procs_req *q, const char *why,
                              size_t *len)
{
    struct fetch *f = arg;
    struct spate_input_item it;
    char err[300], url[256];
    memset(&it, 0, sizeof(it));
    if (q->input < 0)
        it.url = strndup(q->line, q->len);
    else if (!q->too_long)
        spate_input_parse_line(q->line, q->len, &it, err, sizeof(err));
    snprintf(url, sizeof(url), "%.*s", (int)(q->len < 200 ? q->len : 200), q->line);
    struct spate_response r = {.error = SPATE_E_CANCELED, .message = why, .remote = ""};
    struct spate_output_rec rec = {
        .id_json = it.id_json,
        .index = q->index,
        .url = it.url ? it.url : url,
        .method = method_of(f, &it),
        .with_body = f->with_body,
        .with_file = f->outdir != NULL,
    };
    spate_text_reset(&f->line);
    int ok = spate_output_line(&f->line, &rec, &r) == 0;
    spate_input_item_fini(&it);
    *len = f->line.len;
    return ok ? f->line.s : NULL;
}

/* The parent of --procs: its one progress line, from the workers' figures. */
static int route_progress(void *arg, const struct spate_fetch_procs_live *s, size_t total,
                          int force)
{
    struct fetch *f = arg;
    f->procs_prog = (struct spate_progress_counts){
        .done = s->done, .failed = s->failed, .in_flight = s->in_flight, .total = total};
    return spate_progress_tick(&f->prog, now_s(), &f->procs_prog, force);
}

/* The parent's progress line leaves the terminal the results go to, and comes back under them. */
static void procs_around_write(void *arg, int before)
{
    struct fetch *f = arg;
    if (before)
        spate_progress_clear(&f->prog);
    else
        spate_progress_tick(&f->prog, now_s(), &f->procs_prog, 1);
}

/* A worker's live figures for the parent's progress line. */
static void publish(struct fetch *f)
{
    if (!f->live) return;
    struct spate_stats st;
    spate_engine_stats(f->e, &st);
    f->live->done = f->finished;
    f->live->failed = f->failed;
    f->live->in_flight = (size_t)st.in_flight;
    f->live->skipped = f->skipped;
    f->live->unstarted = f->unstarted;
}

/* Worker p of --procs: the one-process run over the requests the parent routes to it, with its
 * share of -c and --rate, its results as records on out_fd. */
static int procs_worker(void *arg, unsigned p, int in_fd, int out_fd,
                        struct spate_fetch_procs_live *live)
{
    struct fetch *f = arg;
    f->in_worker = 1;
    f->proc_k = p;
    f->out_fd = out_fd;
    f->progress = 0;
    f->live = live;
    f->wire = (struct spate_fetch_procs_reader){.fd = in_fd};
    f->next_index = f->next_seq = 0;
    f->cfg.concurrency =
        (unsigned)spate_split_share(f->cfg.concurrency, (struct spate_split){p, f->procs});
    if (f->cfg.rate > 0) f->cfg.rate /= f->procs;
    spate_results_fini(&f->res); /* the parent's stream is not this worker's */
    for (size_t i = 0; i < f->ninputs; i++)
        spate_lines_fini(&f->in[i]); /* the parent reads the inputs */
    int rc = 2;
    int caught = catch_interrupts() == 0;
    spate_procs_unblock(); /* blocked across fork; a signal waiting now reaches the handler */
    if (caught && prepare(f) == 0) rc = run(f);
    spate_interrupt_uninstall();
    spate_fetch_procs_reader_fini(&f->wire);
    cleanup(f);
    close(in_fd);
    close(out_fd);
    return rc;
}

/* The parent of --procs: workers forked, the input routed to them, their lines merged to
 * stdout, one progress line and one summary. */
static int run_procs(struct fetch *f)
{
    if (spate_results_init(&f->res, 1, 0, FLUSH_MS / 1e3, coarse_s())) {
        fprintf(stderr, "spate fetch: out of memory\n");
        return 2;
    }
    f->t0 = now_s();
    f->prog_on = f->progress && !f->quiet;
    if (f->prog_on) {
        spate_progress_init(&f->prog, 2, f->t0);
        f->procs_prog.total = SIZE_MAX;
        if (same_terminal(1, 2)) {
            f->res.around = procs_around_write;
            f->res.arg = f;
        }
    }
    struct spate_fetch_procs_run_args a = {
        .n = f->procs,
        .ordered = f->ordered,
        .window = f->cfg.concurrency * 4 > 1024 ? f->cfg.concurrency * 4 : 1024,
    };
    const struct spate_fetch_procs_ops ops = {
        .worker = procs_worker,
        .next = route_next,
        .lost = route_lost,
        .progress = f->prog_on ? route_progress : NULL,
    };
    struct spate_fetch_procs_counts sum;
    int sig = 0;
    int rc = spate_fetch_procs_run(&a, &ops, f, &f->res, &sum, &sig);
    spate_results_flush(&f->res, coarse_s());
    note_output(f);
    if (f->prog_on) spate_progress_clear(&f->prog);
    f->finished = sum.finished;
    f->ok = sum.ok;
    f->failed = sum.failed;
    f->unstarted = sum.unstarted;
    f->submitted = sum.submitted;
    f->res.lost += sum.lost;
    for (int k = 0; k <= SPATE_E_CANCELED && k < SPATE_FETCH_PROCS_KINDS; k++)
        f->by_kind[k] = sum.by_kind[k];
    f->stop_sig = sig;
    if (!f->quiet) summary(f);
    if (rc == 0 && (f->read_failed || f->res.write_errno || f->res.lost)) rc = 1;
    return rc;
}

int spate_fetch_main(int argc, char **argv)
{
    struct fetch f;
    memset(&f, 0, sizeof(f));
    spate_config_init(&f.cfg);
    f.cfg.coalesce_us = 100; /* a batch fetch trades up to 0.1 ms of latency for less CPU */
    f.progress = isatty(2);
    f.grace = 2;
    spate_text_init(&f.line);
    spate_text_init(&f.rec);
    f.out_fd = 1;
    f.procs = 1;
    int rc = 2;
    if (parse_args(&f, argc, argv)) goto out;
    if (catch_interrupts()) goto out; /* from here an interrupt ends the run with whole lines */
    if (open_inputs(&f) || check_args(&f, argc, argv)) goto out;
    if (f.strict && strict_check(&f)) goto out;
    if (f.resume_path) {
        char err[600];
        if (spate_idset_load(&f.done_ids, f.resume_path, err, sizeof(err))) {
            fprintf(stderr, "spate fetch: %s\n", err);
            goto out;
        }
    }
    if (f.procs > 1) {
        rc = run_procs(&f);
        goto out;
    }
    if (prepare(&f)) goto out;
    rc = run(&f);
out:
    spate_interrupt_uninstall();
    cleanup(&f);
    return rc;
}
