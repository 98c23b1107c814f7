/* Command-line value parsing. Every rejection names the option and the rule it broke. */
#include "args.h"
#include "text.h"
#include "json.h"
#include "suggest.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int bad(const char *cmd, const char *opt, const char *s, const char *rule)
{
    fprintf(stderr, "spate %s: %s: invalid value '%s' (%s)\n", cmd, opt, s, rule);
    return -1;
}

int spate_args_uint(const char *cmd, const char *opt, const char *s, unsigned long long min,
                    unsigned long long max, unsigned long long *out)
{
    char rule[96];
    snprintf(rule, sizeof(rule), "expected a whole number from %llu to %llu", min, max);
    if (!*s || *s == '-' || *s == '+' || *s == ' ') return bad(cmd, opt, s, rule);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) return bad(cmd, opt, s, rule);
    *out = v;
    return 0;
}

static int decimal(const char *s, double *out)
{
    if (!*s || *s == ' ') return -1;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789.eE+-", *p)) return -1; /* refuses nan, inf and hex floats */
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* The multiplier to seconds of a unit suffix, 0 when s is not one. */
static double unit_secs(const char *u)
{
    static const struct {
        const char *name;
        double secs;
    } units[] = {{"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcmp(u, units[i].name)) return units[i].secs;
    return 0;
}

int spate_args_secs(const char *cmd, const char *opt, const char *s, double *out)
{
    static const char rule[] = "expected seconds from 0 to 1000000, decimals allowed, or a "
                               "number with a unit: 250ms, 10s, 2m, 1h";
    char num[64];
    size_t n = strlen(s), digits = n;
    while (digits && strchr("smh", s[digits - 1]))
        digits--;
    double mult = digits < n ? unit_secs(s + digits) : 1, v;
    if (n >= sizeof(num) || !mult) return bad(cmd, opt, s, rule);
    memcpy(num, s, digits);
    num[digits] = 0;
    if (decimal(num, &v) || v < 0 || v * mult > 1e6) return bad(cmd, opt, s, rule);
    *out = v * mult;
    return 0;
}

int spate_args_rate(const char *cmd, const char *opt, const char *s, double *out)
{
    double v;
    if (decimal(s, &v) || !(v > 0) || v > 1e7)
        return bad(cmd, opt, s, "expected a rate above 0 and at most 10000000 per second");
    *out = v;
    return 0;
}

int spate_args_size(const char *cmd, const char *opt, const char *s, uint64_t *out)
{
    char num[32];
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n && n < sizeof(num)) {
        char last = s[n - 1];
        shift = last == 'K' || last == 'k'   ? 10
                : last == 'M' || last == 'm' ? 20
                : last == 'G' || last == 'g' ? 30
                                             : 0;
    }
    if (!n || n >= sizeof(num))
        return bad(cmd, opt, s, "expected bytes, optionally with K, M or G");
    memcpy(num, s, n + 1);
    if (shift) num[n - 1] = 0;
    unsigned long long v;
    if (spate_args_uint(cmd, opt, num, 1, (1ull << 50) >> shift, &v)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int spate_args_push_header(struct spate_header **v, size_t *n, const char *name, const char *value)
{
    struct spate_header *nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (!nv) return -ENOMEM;
    *v = nv;
    nv[*n].name = strdup(name);
    nv[*n].value = strdup(value);
    if (!nv[*n].name || !nv[*n].value) {
        free((char *)nv[*n].name);
        free((char *)nv[*n].value);
        return -ENOMEM;
    }
    (*n)++;
    return 0;
}

int spate_args_header(const char *cmd, struct spate_args_req *r, const char *arg)
{
    const char *colon = strchr(arg, ':');
    if (!colon) {
        fprintf(stderr, "spate %s: -H: invalid header '%s' (expected 'Name: value')\n", cmd, arg);
        return -1;
    }
    char name[256];
    size_t nl = (size_t)(colon - arg);
    if (nl == 0 || nl >= sizeof(name)) {
        fprintf(stderr, "spate %s: -H: invalid header name in '%.60s'\n", cmd, arg);
        return -1;
    }
    memcpy(name, arg, nl);
    name[nl] = 0;
    const char *val = colon + 1;
    while (*val == ' ' || *val == '\t')
        val++;
    char err[160];
    if (spate_header_check(name, val, err, sizeof(err))) {
        fprintf(stderr, "spate %s: -H: %s\n", cmd, err);
        return -1;
    }
    if (spate_args_push_header(&r->headers, &r->nheaders, name, val)) {
        fprintf(stderr, "spate %s: out of memory\n", cmd);
        return -1;
    }
    return 0;
}

static int read_file(const char *cmd, const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "spate %s: cannot open '%s': %s\n", cmd, path, strerror(errno));
        return -1;
    }
    struct spate_text b;
    spate_text_init(&b);
    for (;;) {
        ssize_t n = spate_text_read(&b, fd, 65536);
        if (n == 0) {
            close(fd);
            *len = b.len;
            *out = spate_text_take(&b);
            if (*out) return 0;
            fprintf(stderr, "spate %s: '%s': out of memory\n", cmd, path);
            return -1;
        }
        if (n == -EINTR) continue;
        if (n == -ENOMEM) {
            fprintf(stderr, "spate %s: '%s': out of memory\n", cmd, path);
            break;
        }
        if (n < 0) {
            fprintf(stderr, "spate %s: cannot read '%s': %s\n", cmd, path, strerror((int)-n));
            break;
        }
    }
    close(fd);
    spate_text_fini(&b);
    return -1;
}

/* A JSON body must be one JSON value: sent malformed, it would fail at every server instead. */
static int check_json(const char *cmd, const char *arg, const char *p, size_t n)
{
    struct spate_json *v = NULL;
    char err[160];
    int rc = spate_json_parse(p, n, &v, err, sizeof(err));
    spate_json_free(v);
    if (rc == -ENOMEM) {
        fprintf(stderr, "spate %s: out of memory\n", cmd);
        return -1;
    }
    if (rc == 0) return 0;
    if (arg[0] == '@')
        fprintf(stderr, "spate %s: '%s' is not valid JSON: %s\n", cmd, arg + 1, err);
    else
        fprintf(stderr, "spate %s: the JSON body '%.60s%s' is not valid JSON: %s\n", cmd, arg,
                strlen(arg) > 60 ? "..." : "", err);
    return -1;
}

int spate_args_data(const char *cmd, struct spate_args_req *r, const char *arg, int json)
{
    free(r->body);
    r->body = NULL;
    if (arg[0] == '@') {
        if (read_file(cmd, arg + 1, &r->body, &r->body_len)) return -1;
    } else {
        r->body = strdup(arg);
        r->body_len = strlen(arg);
        if (!r->body) return -1;
    }
    r->json = json;
    return json ? check_json(cmd, arg, r->body, r->body_len) : 0;
}

static int set_auth(struct spate_args_req *r, const char *scheme, const char *cred)
{
    free(r->auth);
    size_t n = strlen(scheme) + 1 + strlen(cred) + 1;
    r->auth = malloc(n);
    if (!r->auth) return -1;
    snprintf(r->auth, n, "%s %s", scheme, cred);
    return 0;
}

int spate_args_bearer(const char *cmd, struct spate_args_req *r, const char *tok)
{
    char err[160];
    if (!*tok || spate_header_check("Authorization", tok, err, sizeof(err))) {
        fprintf(stderr, "spate %s: --bearer: invalid token (empty or with control characters)\n",
                cmd);
        return -1;
    }
    return set_auth(r, "Bearer", tok);
}

int spate_args_basic(const char *cmd, struct spate_args_req *r, const char *up)
{
    size_t n = strlen(up);
    if (!strchr(up, ':') || n > 4096) {
        fprintf(stderr, "spate %s: -u: expected USER:PASSWORD\n", cmd);
        return -1;
    }
    char *enc = malloc(4 * ((n + 2) / 3) + 1);
    if (!enc) return -1;
    spate_base64(enc, up, n);
    int rc = set_auth(r, "Basic", enc);
    free(enc);
    return rc;
}

void spate_args_req_fini(struct spate_args_req *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    free(r->auth);
    memset(r, 0, sizeof(*r));
}

/* 1 if name (up to '=') is exactly a long option that takes no value. */
static int is_flag(const char *name, const struct option *longopts)
{
    if (!longopts) return 0;
    size_t n = strcspn(name, "=");
    for (const struct option *o = longopts; o->name; o++)
        if (strlen(o->name) == n && !memcmp(o->name, name, n)) return o->has_arg == no_argument;
    return 0;
}

/* The token of the last long option getopt_long matched by a prefix, refused by
 * spate_args_getopt; and the table it was matched against, for the hint. */
static const char *inexact;
static const struct option *last_table;

/* The argv element that held the long option getopt_long just returned: the value may have been
 * the next element ("--timeout 5") or inside it ("--timeout=5"). */
static const char *long_token(char **argv, const struct option *o)
{
    if (o->has_arg == required_argument && optarg && optind >= 2 && optarg == argv[optind - 1])
        return argv[optind - 2];
    return argv[optind - 1];
}

int spate_args_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    int idx = -1;
    last_table = longopts;
    inexact = NULL;
    int c = getopt_long(argc, argv, shortopts, longopts, &idx);
    if (c == -1 || c == '?' || c == ':' || idx < 0) return c;
    const char *tok = long_token(argv, &longopts[idx]);
    const char *name = tok + 2;
    size_t n = strcspn(name, "=");
    if (strncmp(tok, "--", 2) || n != strlen(longopts[idx].name) ||
        memcmp(name, longopts[idx].name, n)) {
        inexact = tok; /* an abbreviation: "--time" must never silently mean --timeout */
        optopt = 0;
        return '?';
    }
    return c;
}

/* The single-dash element that held the unknown short option optopt, or NULL. getopt has moved
 * optind past it only when optopt was its last character. */
static const char *short_token(int argc, char **argv)
{
    const char *prev = optind >= 1 ? argv[optind - 1] : NULL;
    if (prev && prev[0] == '-' && prev[1] != '-' && prev[1] && prev[strlen(prev) - 1] == optopt)
        return prev;
    if (optind < argc && argv[optind][0] == '-' && argv[optind][1] != '-' &&
        strchr(argv[optind] + 1, optopt))
        return argv[optind];
    return NULL;
}

/* " (did you mean --a?)", " (did you mean --a or --b?)", " (did you mean --a, --b or --c?)" */
static void hint(const char *typed)
{
    const char *v[SPATE_SUGGEST_MAX];
    size_t n = last_table ? spate_suggest_options(typed, last_table, v) : 0;
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s--%s", i == 0 ? " (did you mean " : i + 1 < n ? ", " : " or ", v[i]);
    if (n) fputs("?)", stderr);
}

/* The element getopt_long stopped at, when it was a long option ("--x" or "--x=v"): every long
 * option error moves optind past its element. A short option's val can equal optopt too, so a
 * flag given a value is told apart by its name. */
static const char *long_error_token(int c, char **argv)
{
    if (inexact) return inexact;
    if (optind < 1 || strncmp(argv[optind - 1], "--", 2)) return NULL;
    if (optopt <= 0 || optopt >= 128 || c == ':') return argv[optind - 1];
    return strchr(argv[optind - 1], '=') && is_flag(argv[optind - 1] + 2, last_table)
               ? argv[optind - 1]
               : NULL;
}

int spate_args_bad_option(const char *cmd, int c, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    const char *tok = long_error_token(c, argv);
    int n = tok ? (int)strcspn(tok, "=") : 0;
    if (c == ':' && tok) {
        fprintf(stderr, "spate %s: missing value for option '%s'\n", cmd, tok);
    } else if (c == ':') {
        fprintf(stderr, "spate %s: missing value for option '-%c'\n", cmd, optopt);
    } else if (tok && !inexact && strchr(tok, '=') && is_flag(tok + 2, last_table)) {
        fprintf(stderr, "spate %s: option '%.*s' takes no value\n", cmd, n, tok);
    } else if (tok) {
        fprintf(stderr, "spate %s: unknown option '%.*s'", cmd, n, tok);
        hint(tok + 2);
        fputc('\n', stderr);
    } else {
        const char *word = short_token(argc, argv);
        char one[2] = {(char)optopt, 0};
        fprintf(stderr, "spate %s: unknown option '-%c'", cmd, optopt);
        /* "-timeout": a long option written with one dash */
        hint(word && strlen(word) > 2 && word[1] == optopt ? word + 1 : one);
        fputc('\n', stderr);
    }
    fprintf(stderr, "try 'spate %s --help'\n", cmd);
    return -1;
}

#define FD_SPARE 64 /* stdio, the event loop, resolver sockets, output files */

unsigned spate_args_fit_fds(const char *cmd, unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return want;
    rlim_t spare = FD_SPARE;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4 * FD_SPARE)
        spare = rl.rlim_max / 4; /* a tiny limit: keep a quarter for everything else */
    rlim_t need = (rlim_t)want + spare;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return want;
    unsigned fit = rl.rlim_cur > spare + 1 ? (unsigned)(rl.rlim_cur - spare) : 1;
    fprintf(stderr,
            "spate %s: warning: the open-files limit is %llu: using %u connections instead of %u "
            "(raise it with ulimit -n)\n",
            cmd, (unsigned long long)rl.rlim_cur, fit, want);
    return fit;
}
