/* Command-line value parsing. Every rejection names the option and the rule it broke. */
#include "args.h"
#include "buf.h"
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

int spate_args_secs(const char *cmd, const char *opt, const char *s, double *out)
{
    double v;
    if (decimal(s, &v) || v < 0 || v > 1e6)
        return bad(cmd, opt, s, "expected seconds from 0 to 1000000, decimals allowed");
    *out = v;
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
    struct spate_buf b;
    spate_buf_init(&b);
    for (;;) {
        if (spate_buf_reserve(&b, 65536)) {
            fprintf(stderr, "spate %s: '%s': out of memory\n", cmd, path);
            break;
        }
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len);
        if (n == 0) {
            close(fd);
            *out = b.data ? b.data : strdup("");
            *len = b.len;
            return *out ? 0 : -1;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fprintf(stderr, "spate %s: cannot read '%s': %s\n", cmd, path, strerror(errno));
            break;
        }
        b.len += (size_t)n;
    }
    close(fd);
    spate_buf_fini(&b);
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
    return 0;
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

int spate_args_bad_option(const char *cmd, int c, char **argv)
{
    const char *what = c == '?' ? "unknown option" : "missing value for option";
    /* for a long option optopt holds its internal code, not a character */
    if (optopt > 0 && optopt < 128 && optopt != '?')
        fprintf(stderr, "spate %s: %s '-%c'\n", cmd, what, optopt);
    else
        fprintf(stderr, "spate %s: %s '%s'\n", cmd, what, argv[optind - 1]);
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
