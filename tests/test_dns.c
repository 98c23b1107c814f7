/* Resolver tests against tests/lib/dns_server.py on loopback: answers, coalescing, TTL cache,
 * negative answers and their wording, pins, literals, cancel and destroy with queries in flight. */
#include "cache.h"
#include "clock.h"
#include "dns.h"
#include "loop.h"
#include "tap.h"
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT 0.3 /* seconds per try for every resolver here */

/* ---- the DNS server ---- */

static struct {
    pid_t pid;
    int port;
    char dir[64], zone[128], log[128];
} srv;

static char move_addr[32] = "127.0.0.20"; /* move.test's A record; changed mid-run */

static void write_zone(void)
{
    char big[512] = "";
    for (int i = 1; i <= 20; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s\"127.0.1.%d\"", i > 1 ? "," : "",
                 i);
    static char huge[300 * 16]; /* more A records than an answer keeps, and than UDP carries */
    huge[0] = 0;
    for (int i = 0; i < 300; i++)
        snprintf(huge + strlen(huge), sizeof(huge) - strlen(huge), "%s\"127.0.%d.%d\"",
                 i ? "," : "", 2 + i / 255, 1 + i % 255);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", srv.zone);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f,
            "{\"a.test\": {\"A\": [\"127.0.0.5\"], \"ttl\": 300},\n"
            " \"good2.test\": {\"A\": [\"127.0.0.6\"], \"ttl\": 300},\n"
            " \"same.test\": {\"A\": [\"127.0.0.7\"], \"ttl\": 300, \"delay\": 0.1},\n"
            " \"short.test\": {\"A\": [\"127.0.0.8\"], \"ttl\": 1},\n"
            " \"zero.test\": {\"A\": [\"127.0.0.9\"], \"ttl\": 0},\n"
            " \"long.test\": {\"A\": [\"127.0.0.10\"], \"ttl\": 300},\n"
            " \"many.test\": {\"A\": [\"127.0.0.11\", \"127.0.0.12\", \"127.0.0.13\"],"
            " \"AAAA\": [\"::1\"], \"ttl\": 300},\n"
            " \"www.test\": {\"CNAME\": \"cn.test\", \"ttl\": 1},\n"
            " \"cn.test\": {\"A\": [\"127.0.0.14\"], \"ttl\": 300},\n"
            " \"slow.test\": {\"A\": [\"127.0.0.15\"], \"ttl\": 300, \"delay\": 0.2},\n"
            " \"slow2.test\": {\"A\": [\"127.0.0.16\"], \"ttl\": 300, \"delay\": 0.2},\n"
            " \"slow3.test\": {\"A\": [\"127.0.0.17\"], \"ttl\": 300, \"delay\": 0.1},\n"
            " \"slow4.test\": {\"A\": [\"127.0.0.18\"], \"ttl\": 300, \"delay\": 0.1},\n"
            " \"move.test\": {\"A\": [\"%s\"], \"ttl\": 1},\n"
            " \"big.test\": {\"A\": [%s], \"ttl\": 300},\n"
            " \"huge.test\": {\"A\": [%s], \"ttl\": 300},\n"
            " \"v6.test\": {\"AAAA\": [\"::1\"], \"ttl\": 300},\n"
            " \"nx.test\": {\"rcode\": \"NXDOMAIN\"},\n"
            " \"sf.test\": {\"rcode\": \"SERVFAIL\"},\n"
            " \"ref.test\": {\"rcode\": \"REFUSED\"},\n"
            " \"drop.test\": {\"rcode\": \"DROP\"},\n"
            " \"drop2.test\": {\"rcode\": \"DROP\"},\n"
            " \"lru-a.test\": {\"A\": [\"127.0.0.1\"], \"ttl\": 300},\n"
            " \"lru-b.test\": {\"A\": [\"127.0.0.1\"], \"ttl\": 300},\n"
            " \"lru-c.test\": {\"A\": [\"127.0.0.1\"], \"ttl\": 300},\n"
            " \"slow5.test\": {\"A\": [\"127.0.0.19\"], \"ttl\": 300, \"delay\": 0.2}}\n",
            move_addr, big, huge);
    fclose(f);
    rename(tmp, srv.zone); /* atomic: the server never reads half a zone */
}

static int start_server(const char *argv0)
{
    snprintf(srv.dir, sizeof(srv.dir), "/tmp/spate-dns-XXXXXX");
    if (!mkdtemp(srv.dir)) return -1;
    snprintf(srv.zone, sizeof(srv.zone), "%s/zone.json", srv.dir);
    snprintf(srv.log, sizeof(srv.log), "%s/queries.jsonl", srv.dir);
    write_zone();
    /* run from the project root (make test), or find the script next to the binary's tree */
    char script[4096] = "tests/lib/dns_server.py";
    if (access(script, R_OK) != 0) {
        const char *slash = strrchr(argv0, '/');
        int dl = slash ? (int)(slash - argv0) : 1;
        snprintf(script, sizeof(script), "%.*s/../../../tests/lib/dns_server.py", dl,
                 slash ? argv0 : ".");
    }
    int p[2];
    if (pipe(p) < 0) return -1;
    srv.pid = fork();
    if (srv.pid < 0) return -1;
    if (srv.pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execlp("python3", "python3", script, srv.zone, srv.log, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[32] = "";
    size_t got = 0;
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    while (got < sizeof(line) - 1 && !strchr(line, '\n') && poll(&pfd, 1, 10000) == 1) {
        ssize_t n = read(p[0], line + got, sizeof(line) - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        line[got] = '\0';
    }
    close(p[0]);
    srv.port = atoi(line);
    return srv.port > 0 ? 0 : -1;
}

static void stop_server(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGTERM);
        waitpid(srv.pid, NULL, 0);
    }
    unlink(srv.zone);
    unlink(srv.log);
    rmdir(srv.dir);
}

/* Queries the server logged for name and type ("A", "AAAA"), or for every name when name is NULL.
 */
static int count_queries(const char *name, const char *type)
{
    char want[300], line[1024];
    snprintf(want, sizeof(want), "{\"name\": \"%s\", \"type\": \"%s\",", name ? name : "", type);
    FILE *f = fopen(srv.log, "r");
    int n = 0;
    if (!f) return 0;
    while (fgets(line, sizeof(line), f))
        n += name ? strncmp(line, want, strlen(want)) == 0 : 1;
    fclose(f);
    return n;
}

/* ---- resolver plumbing ---- */

static struct spate_loop loop;
static int calls; /* every callback, for run_until */

struct res {
    int called, ok, cached;
    size_t n;
    struct spate_dns_addr addrs[SPATE_DNS_MAX_ADDRS];
    char err[400];
    uint64_t at;
};

static void on_res(void *arg, const struct spate_dns_answer *a)
{
    struct res *r = arg;
    calls++;
    r->called++;
    r->ok = a->ok;
    r->cached = a->cached;
    r->n = a->ok ? a->n : 0;
    if (a->ok) memcpy(r->addrs, a->addrs, a->n * sizeof(*a->addrs));
    snprintf(r->err, sizeof(r->err), "%s", a->ok ? "" : a->error);
    r->at = spate_clock_now();
}

/* Runs the loop until calls reaches want or secs pass; 1 if reached. */
static int run_until(int want, double secs)
{
    uint64_t end = spate_clock_now() + spate_clock_from_sec(secs);
    while (calls < want) {
        uint64_t now = spate_clock_now();
        if (now >= end) return 0;
        uint64_t left = end - now;
        spate_loop_once(&loop, left < 10 * SPATE_NS_PER_MS ? left : 10 * SPATE_NS_PER_MS);
    }
    return 1;
}

static void run_for(double secs)
{
    run_until(1 << 30, secs);
}

/* One loop turn that does not wait: delivers the answers posted to the loop's queue. */
static void turn(void)
{
    spate_loop_once(&loop, 0);
}

static const char *addr_str(const struct spate_dns_addr *a)
{
    static char buf[4][80];
    static int k;
    char *b = buf[k++ & 3], ip[INET6_ADDRSTRLEN] = "?";
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)&a->sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        snprintf(b, 80, "%s:%u", ip, ntohs(s->sin_port));
    } else {
        const struct sockaddr_in6 *s = (const void *)&a->sa;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        snprintf(b, 80, "[%s]:%u", ip, ntohs(s->sin6_port));
    }
    return b;
}

static struct spate_dns *make(double fixed_ttl, const char *const *pins, size_t n_pins)
{
    static char server[64];
    static const char *servers[1] = {server};
    snprintf(server, sizeof(server), "127.0.0.1:%d", srv.port);
    struct spate_dns_opts o = {.fixed_ttl = fixed_ttl,
                               .servers = servers,
                               .n_servers = 1,
                               .pins = pins,
                               .n_pins = n_pins,
                               .timeout = TIMEOUT};
    struct spate_dns *d = NULL;
    char err[256] = "";
    if (spate_dns_create(&d, &loop, &o, err, sizeof(err)) < 0) diag("spate_dns_create: %s", err);
    return d;
}

/* Resolves and waits (bounded) for the answer. */
static void resolve_wait(struct spate_dns *d, const char *host, unsigned port, struct res *r)
{
    struct spate_dns_query *q = NULL;
    int before = calls;
    memset(r, 0, sizeof(*r));
    if (spate_dns_resolve(d, host, port, on_res, r, &q) < 0) return;
    if (!r->called) run_until(before + 1, 5);
}

static double secs_since(uint64_t t0, uint64_t t)
{
    return (double)(t - t0) / 1e9;
}

/* ---- tests ---- */

static void test_basic(struct spate_dns *d)
{
    struct res r = {0}, r2;
    struct spate_dns_query *q = NULL;
    spate_dns_resolve(d, "a.test", 8080, on_res, &r, &q);
    ok(q != NULL && !r.called, "a.test: asynchronous, handle returned");
    run_until(calls + 1, 5);
    ok(r.called == 1 && r.ok && r.n == 1 && strcmp(addr_str(&r.addrs[0]), "127.0.0.5:8080") == 0 &&
           !r.cached,
       "a.test resolves to 127.0.0.5 with the port filled in (got %s)",
       r.ok ? addr_str(&r.addrs[0]) : r.err);
    ok(count_queries("a.test", "A") == 1 && count_queries("a.test", "AAAA") == 1,
       "one A and one AAAA query at the server");

    q = NULL;
    memset(&r2, 0, sizeof(r2));
    spate_dns_resolve(d, "A.Test", 443, on_res, &r2, &q);
    int later = r2.called == 0 && q != NULL;
    turn();
    ok(later && r2.called == 1 && r2.cached && r2.ok &&
           strcmp(addr_str(&r2.addrs[0]), "127.0.0.5:443") == 0,
       "second resolve within TTL: from the cache, not inside the call but at the next loop "
       "turn, case-insensitive");
    struct spate_dns_stats st;
    spate_dns_get_stats(d, &st);
    ok(count_queries("a.test", "A") == 1 && st.cache_hits == 1 && st.queries == 1,
       "cache hit sent no query (queries %lu, hits %lu)", st.queries, st.cache_hits);
}

static void test_coalesce(struct spate_dns *d)
{
    static struct res r[100];
    struct spate_dns_stats before, after;
    spate_dns_get_stats(d, &before);
    int base = calls, handles = 0;
    for (int i = 0; i < 100; i++) {
        struct spate_dns_query *q = NULL;
        memset(&r[i], 0, sizeof(r[i]));
        spate_dns_resolve(d, "same.test", 80, on_res, &r[i], &q);
        handles += q != NULL;
    }
    run_until(base + 100, 5);
    int good = 0;
    for (int i = 0; i < 100; i++)
        good += r[i].called == 1 && r[i].ok && r[i].n == 1 &&
                strcmp(addr_str(&r[i].addrs[0]), "127.0.0.7:80") == 0;
    ok(handles == 100 && good == 100, "100 concurrent resolves all answered (%d)", good);
    spate_dns_get_stats(d, &after);
    ok(count_queries("same.test", "A") == 1 && count_queries("same.test", "AAAA") == 1 &&
           after.queries - before.queries == 1,
       "coalesced: the server saw 1 A + 1 AAAA (A %d, AAAA %d)", count_queries("same.test", "A"),
       count_queries("same.test", "AAAA"));
}

static void test_ttl(struct spate_dns *d)
{
    struct res r;
    resolve_wait(d, "short.test", 80, &r);
    resolve_wait(d, "short.test", 80, &r);
    ok(r.ok && r.cached && count_queries("short.test", "A") == 1, "TTL 1: cached at once");
    run_for(1.1);
    resolve_wait(d, "short.test", 80, &r);
    ok(r.ok && !r.cached && count_queries("short.test", "A") == 2,
       "TTL 1: re-queried after 1.1 s (%d A queries)", count_queries("short.test", "A"));

    resolve_wait(d, "zero.test", 80, &r);
    int first = r.ok && !r.cached;
    resolve_wait(d, "zero.test", 80, &r);
    ok(first && r.ok && !r.cached && count_queries("zero.test", "A") == 2,
       "TTL 0: cached for 0 s, every resolve queries (%d A queries)",
       count_queries("zero.test", "A"));

    resolve_wait(d, "www.test", 80, &r);
    int cname_ok = r.ok && r.n == 1 && strcmp(addr_str(&r.addrs[0]), "127.0.0.14:80") == 0;
    resolve_wait(d, "www.test", 80, &r);
    int cached = r.cached;
    run_for(1.1);
    resolve_wait(d, "www.test", 80, &r);
    ok(cname_ok && cached && !r.cached && count_queries("www.test", "A") == 2,
       "CNAME TTL 1 over an A TTL 300: cached for the minimum, 1 s");
}

/* spate_dns_fresh: the freshness question the engine asks before reusing a pooled connection. */
static void test_fresh(struct spate_dns *d)
{
    int calls0 = calls;
    ok(spate_dns_fresh(d, "127.0.0.1", 80) && spate_dns_fresh(d, "[::1]", 80) &&
           spate_dns_fresh(d, "localhost", 80),
       "literals and localhost are always fresh");
    struct res r;
    resolve_wait(d, "short.test", 80, &r);
    int q0 = count_queries("short.test", "A");
    struct spate_dns_stats a, b;
    spate_dns_get_stats(d, &a);
    int fresh = spate_dns_fresh(d, "short.test", 80);
    spate_dns_get_stats(d, &b);
    ok(fresh && count_queries("short.test", "A") == q0 && b.cache_hits == a.cache_hits + 1,
       "just resolved: fresh, no query, counted as a cache hit");
    run_for(1.1); /* TTL 1 */
    int stale = spate_dns_fresh(d, "short.test", 80);
    run_for(0.3);
    ok(!stale && count_queries("short.test", "A") == q0 + 1,
       "stale: not fresh, and a refresh was sent (%d A queries, %d before)",
       count_queries("short.test", "A"), q0);
    ok(spate_dns_fresh(d, "short.test", 80) && count_queries("short.test", "A") == q0 + 1,
       "the refresh's answer makes it fresh again without another query");
    ok(calls == calls0 + 1, "nobody was called back but the one resolve (%d calls)",
       calls - calls0);
}

static void test_fixed_ttl(void)
{
    struct spate_dns *fast = make(0.3, NULL, 0), *slow = make(60, NULL, 0);
    struct res r;
    resolve_wait(fast, "long.test", 80, &r);
    resolve_wait(fast, "long.test", 80, &r);
    int cached = r.cached;
    run_for(0.4);
    resolve_wait(fast, "long.test", 80, &r);
    ok(cached && r.ok && !r.cached && count_queries("long.test", "A") == 2,
       "fixed_ttl 0.3 s beats a record TTL of 300 s");

    int before = count_queries("zero.test", "A");
    resolve_wait(slow, "zero.test", 80, &r);
    resolve_wait(slow, "zero.test", 80, &r);
    ok(r.ok && r.cached && count_queries("zero.test", "A") == before + 1,
       "fixed_ttl 60 s caches a TTL-0 record");
    spate_dns_destroy(fast);
    spate_dns_destroy(slow);
}

static void test_failures(struct spate_dns *d)
{
    struct res nx = {0}, sf = {0}, rf = {0}, dr = {0}, good = {0};
    struct spate_dns_query *q;
    int base = calls;
    uint64_t t0 = spate_clock_now();
    spate_dns_resolve(d, "drop.test", 80, on_res, &dr, &q);
    spate_dns_resolve(d, "nx.test", 80, on_res, &nx, &q);
    spate_dns_resolve(d, "sf.test", 80, on_res, &sf, &q);
    spate_dns_resolve(d, "ref.test", 80, on_res, &rf, &q);
    spate_dns_resolve(d, "good2.test", 80, on_res, &good, &q);
    run_until(base + 5, 5);
    ok(good.ok && strcmp(addr_str(&good.addrs[0]), "127.0.0.6:80") == 0 &&
           secs_since(t0, good.at) < TIMEOUT && good.at < dr.at,
       "a good lookup next to failing ones answers at once (%.3f s)", secs_since(t0, good.at));
    ok(nx.called == 1 && !nx.ok, "NXDOMAIN fails");
    is_str(nx.err, "could not resolve host nx.test (NXDOMAIN)", "NXDOMAIN wording");
    ok(secs_since(t0, nx.at) < TIMEOUT, "NXDOMAIN is immediate (%.3f s)", secs_since(t0, nx.at));
    is_str(sf.err, "DNS lookup for sf.test failed (server failure, refused or unreachable)",
           "SERVFAIL wording (not 'connection refused')");
    is_str(rf.err, "DNS lookup for ref.test failed (server failure, refused or unreachable)",
           "REFUSED wording");
    is_str(dr.err, "DNS lookup for drop.test timed out", "DROP times out");
    double dt = secs_since(t0, dr.at);
    /* two tries, the second doubled by c-ares: 3 x timeout */
    ok(dt >= 2 * TIMEOUT && dt < 3 * TIMEOUT + 0.5,
       "timeout bounded by the configured tries (%.3f s)", dt);

    int nx_queries = count_queries("nx.test", "A");
    struct res r = {0};
    q = NULL;
    spate_dns_resolve(d, "nx.test", 80, on_res, &r, &q);
    int later = !r.called && q != NULL;
    turn();
    ok(later && r.called && !r.ok && r.cached && count_queries("nx.test", "A") == nx_queries &&
           strcmp(r.err, nx.err) == 0,
       "NXDOMAIN is cached (negative cache, %g s)", SPATE_DNS_NEG_TTL);
    int sf_queries = count_queries("sf.test", "A");
    resolve_wait(d, "sf.test", 80, &r);
    ok(!r.ok && !r.cached && count_queries("sf.test", "A") > sf_queries,
       "SERVFAIL is not cached: the next resolve asks again");
}

static void test_answers(struct spate_dns *d)
{
    struct res r;
    resolve_wait(d, "v6.test", 443, &r);
    ok(r.ok && r.n == 1 && r.addrs[0].sa.ss_family == AF_INET6 &&
           r.addrs[0].len == sizeof(struct sockaddr_in6) &&
           strcmp(addr_str(&r.addrs[0]), "[::1]:443") == 0,
       "AAAA-only name resolves to [::1]:443");
    resolve_wait(d, "many.test", 80, &r);
    int v4 = 0, v6 = 0, order = 1, last = 10;
    for (size_t i = 0; i < r.n; i++) {
        if (r.addrs[i].sa.ss_family == AF_INET6) {
            v6++;
            continue;
        }
        v4++;
        int oct = atoi(strrchr(addr_str(&r.addrs[i]), '.') + 1);
        order &= oct == last + 1;
        last = oct;
    }
    ok(r.ok && r.n == 4 && v4 == 3 && v6 == 1 && order,
       "3 A + 1 AAAA: all four, the A records in server order (no sorting)");
    resolve_wait(d, "big.test", 80, &r);
    int all = r.ok && r.n == 20;
    for (size_t i = 0; all && i < r.n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "127.0.1.%zu:80", i + 1);
        all = strcmp(addr_str(&r.addrs[i]), want) == 0;
    }
    ok(all, "20 A records: all 20, in order (%zu)", r.n);
    resolve_wait(d, "big.test", 81, &r);
    ok(r.ok && r.cached && r.n == 20 && strcmp(addr_str(&r.addrs[19]), "127.0.1.20:81") == 0,
       "20 A records from the cache: all 20 (%zu)", r.n);
    resolve_wait(d, "huge.test", 80, &r);
    ok(r.ok && r.n == SPATE_DNS_MAX_ADDRS &&
           strcmp(addr_str(&r.addrs[SPATE_DNS_MAX_ADDRS - 1]), "127.0.2.128:80") == 0,
       "300 A records (a reply over TCP): cut to the first %d (%zu)", SPATE_DNS_MAX_ADDRS, r.n);
}

static void test_pins(void)
{
    const char *pins[] = {"a.test:8080:127.0.0.99", "pin6.test:443:[::1],127.0.0.2"};
    struct spate_dns *d = make(-1, pins, 2);
    struct res r = {0};
    struct spate_dns_query *q = NULL;
    int before = count_queries(NULL, "A");
    spate_dns_resolve(d, "a.test", 8080, on_res, &r, &q);
    int later = !r.called && q != NULL;
    turn();
    ok(later && r.called && r.cached && r.n == 1 &&
           strcmp(addr_str(&r.addrs[0]), "127.0.0.99:8080") == 0,
       "pin a.test:8080 overrides the server, answered at the next turn");
    memset(&r, 0, sizeof(r));
    spate_dns_resolve(d, "pin6.test", 443, on_res, &r, &q);
    turn();
    ok(r.called && r.n == 2 && strcmp(addr_str(&r.addrs[0]), "[::1]:443") == 0 &&
           strcmp(addr_str(&r.addrs[1]), "127.0.0.2:443") == 0,
       "pin with [v6] and a list of addresses");
    ok(count_queries(NULL, "A") == before, "pins sent no query");
    resolve_wait(d, "a.test", 80, &r);
    ok(r.ok && !r.cached && strcmp(addr_str(&r.addrs[0]), "127.0.0.5:80") == 0,
       "the pin is for port 8080 only: a.test:80 asks the server");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "127.0.0.99", &sa.sin_addr);
    ok(spate_dns_addr_current(d, "a.test", (struct sockaddr *)&sa) == 1,
       "addr_current: 1 for a pinned address");
    spate_dns_destroy(d);

    char err[200] = "";
    const char *bad_pin[] = {"nocolon"};
    struct spate_dns_opts o = {.fixed_ttl = -1, .pins = bad_pin, .n_pins = 1};
    struct spate_dns *x = NULL;
    int rc = spate_dns_create(&x, &loop, &o, err, sizeof(err));
    ok(rc == -EINVAL && x == NULL && strstr(err, "nocolon"), "bad pin refused: %s", err);
    const char *bad_srv[] = {"127.0.0.1:99999"};
    struct spate_dns_opts o2 = {.fixed_ttl = -1, .servers = bad_srv, .n_servers = 1};
    rc = spate_dns_create(&x, &loop, &o2, err, sizeof(err));
    ok(rc == -EINVAL && x == NULL && strstr(err, "99999"), "bad server refused: %s", err);
}

static int hosts_name(char *out, size_t outlen);

static void test_no_query(struct spate_dns *d)
{
    static const struct {
        const char *host, *want0, *want1;
    } cases[] = {
        {"127.0.0.1", "127.0.0.1:80", NULL},
        {"::1", "[::1]:80", NULL},
        {"[::1]", "[::1]:80", NULL},
        {"::ffff:127.0.0.1", "[::ffff:127.0.0.1]:80", NULL},
        {"localhost", "127.0.0.1:80", "[::1]:80"},
        {"LocalHost.", "127.0.0.1:80", "[::1]:80"},
        {"api.localhost", "127.0.0.1:80", "[::1]:80"},
    };
    int before = count_queries(NULL, "A") + count_queries(NULL, "AAAA");
    int good = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct res r = {0};
        struct spate_dns_query *q = NULL;
        spate_dns_resolve(d, cases[i].host, 80, on_res, &r, &q);
        int later = !r.called && q != NULL;
        turn();
        int pass = later && r.called == 1 && r.ok && r.cached &&
                   strcmp(addr_str(&r.addrs[0]), cases[i].want0) == 0 &&
                   (cases[i].want1 ? r.n == 2 && strcmp(addr_str(&r.addrs[1]), cases[i].want1) == 0
                                   : r.n == 1);
        if (!pass) diag("%s: %s", cases[i].host, r.ok ? addr_str(&r.addrs[0]) : r.err);
        good += pass;
    }
    ok(good == (int)(sizeof(cases) / sizeof(cases[0])),
       "IP literals and localhost answer at the next turn, localhost as 127.0.0.1 then ::1");
    struct res z = {0};
    struct spate_dns_query *zq;
    spate_dns_resolve(d, "fe80::1%1", 80, on_res, &z, &zq);
    turn();
    ok(z.called && z.ok && z.n == 1 &&
           ((const struct sockaddr_in6 *)(const void *)&z.addrs[0].sa)->sin6_scope_id == 1,
       "IPv6 literal with a zone id keeps its scope");

    static const char *bad[] = {
        "bad..name",
        "a b.test",
        "127.1",
        "0x7f.1",
        "0177.0.0.1",
        "",
        "x.test/evil",
        "[foo]",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test"};
    int refused = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct res r = {0};
        struct spate_dns_query *q = NULL;
        spate_dns_resolve(d, bad[i], 80, on_res, &r, &q);
        int later = !r.called && q != NULL;
        turn();
        int pass = later && r.called == 1 && !r.ok && strncmp(r.err, "invalid host name", 17) == 0;
        if (!pass) diag("'%s': %s", bad[i], r.ok ? "resolved" : r.err);
        refused += pass;
    }
    ok(refused == (int)(sizeof(bad) / sizeof(bad[0])),
       "invalid names (empty labels, spaces, legacy numeric forms, long labels) refused at the "
       "next turn");
    struct res r = {0};
    struct spate_dns_query *q;
    spate_dns_resolve(d, "a\x01\xff.test", 80, on_res, &r, &q);
    turn();
    is_str(r.err, "invalid host name a\\x01\\xff.test", "hostile bytes are escaped in the message");

    /* c-ares answers these inside ares_getaddrinfo: the answer still waits for the loop */
    memset(&r, 0, sizeof(r));
    q = NULL;
    spate_dns_resolve(d, "hidden.onion", 80, on_res, &r, &q);
    int later = !r.called && q != NULL;
    turn();
    ok(later && r.called == 1 && !r.ok &&
           strcmp(r.err, "could not resolve host hidden.onion (NXDOMAIN)") == 0,
       "synchronous c-ares answer (.onion): not called inside the call, delivered at the next "
       "turn");
    char name[256];
    if (hosts_name(name, sizeof(name))) {
        memset(&r, 0, sizeof(r));
        q = NULL;
        spate_dns_resolve(d, name, 80, on_res, &r, &q);
        later = !r.called && q != NULL;
        turn();
        ok(later && r.called == 1 && r.ok, "/etc/hosts is honoured (%s -> %s)", name,
           r.ok ? addr_str(&r.addrs[0]) : r.err);
    } else {
        ok(1, "# SKIP no usable name in /etc/hosts");
    }
    ok(count_queries(NULL, "A") + count_queries(NULL, "AAAA") == before,
       "none of these reached the DNS server");
}

/* A name from /etc/hosts that is neither localhost nor a literal, if there is one. */
static int hosts_name(char *out, size_t outlen)
{
    char line[512];
    FILE *f = fopen("/etc/hosts", "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof(line), f)) {
        char addr[128], name[256];
        if (line[0] == '#' || sscanf(line, "%127s %255s", addr, name) != 2) continue;
        if (strstr(name, "localhost") || strchr(name, ':') || strlen(name) >= outlen) continue;
        snprintf(out, outlen, "%s", name);
        found = 1;
    }
    if (f) fclose(f);
    return found;
}

static void test_addr_current(struct spate_dns *d)
{
    struct res r;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    inet_pton(AF_INET6, "::1", &sa6.sin6_addr);
    resolve_wait(d, "move.test", 80, &r);
    inet_pton(AF_INET, "127.0.0.20", &sa.sin_addr);
    int before = spate_dns_addr_current(d, "move.test", (struct sockaddr *)&sa);
    inet_pton(AF_INET, "127.0.0.21", &sa.sin_addr);
    int other = spate_dns_addr_current(d, "move.test", (struct sockaddr *)&sa);
    ok(before == 1 && other == 0, "addr_current: 1 for the answered address, 0 for another");

    snprintf(move_addr, sizeof(move_addr), "127.0.0.21");
    write_zone();
    run_for(1.1);
    resolve_wait(d, "move.test", 80, &r);
    ok(r.ok && strcmp(addr_str(&r.addrs[0]), "127.0.0.21:80") == 0,
       "after the TTL the changed record is seen (%s)", r.ok ? addr_str(&r.addrs[0]) : r.err);
    inet_pton(AF_INET, "127.0.0.20", &sa.sin_addr);
    int gone = spate_dns_addr_current(d, "move.test", (struct sockaddr *)&sa);
    inet_pton(AF_INET, "127.0.0.21", &sa.sin_addr);
    int now = spate_dns_addr_current(d, "move.test", (struct sockaddr *)&sa);
    ok(gone == 0 && now == 1, "addr_current: the address that left the record set is 0");

    resolve_wait(d, "zero.test", 80, &r);
    inet_pton(AF_INET, "127.0.0.9", &sa.sin_addr);
    ok(spate_dns_addr_current(d, "zero.test", (struct sockaddr *)&sa) == 1,
       "addr_current: a TTL-0 name's latest answer still counts (pooled connections survive)");
    ok(spate_dns_addr_current(d, "localhost", (struct sockaddr *)&sa6) == 1 &&
           spate_dns_addr_current(d, "127.0.0.9", (struct sockaddr *)&sa) == 1 &&
           spate_dns_addr_current(d, "never.test", (struct sockaddr *)&sa) == 0 &&
           spate_dns_addr_current(d, "nx.test", (struct sockaddr *)&sa) == 0,
       "addr_current: 1 for literals and localhost, 0 for unknown and NXDOMAIN names");
}

/* ---- answers known at once go through the loop ---- */

static int order_log[8], norder;

struct tagged {
    struct res r;
    int tag;
    struct spate_dns *d;
    struct spate_dns_query *victim, *nested_q; /* cancelled from the callback; asked from it */
    struct res nested;
};

static void on_tagged(void *arg, const struct spate_dns_answer *a)
{
    struct tagged *t = arg;
    on_res(&t->r, a);
    if (norder < 8) order_log[norder++] = t->tag;
    if (t->victim) spate_dns_cancel(t->victim);
    if (t->d) spate_dns_resolve(t->d, "127.0.0.3", 80, on_res, &t->nested, &t->nested_q);
}

static void test_posted(struct spate_dns *d)
{
    struct res warm;
    resolve_wait(d, "a.test", 80, &warm); /* fresh in the cache from here on */
    /* four kinds of answer at hand, asked in this order: delivered in this order */
    static struct tagged t[4];
    const char *hosts[4] = {"a.test", "127.0.0.2", "bad..name", "localhost"};
    memset(t, 0, sizeof(t));
    norder = 0;
    int base = calls, handles = 0;
    for (int i = 0; i < 4; i++) {
        struct spate_dns_query *q = NULL;
        t[i].tag = i;
        spate_dns_resolve(d, hosts[i], 80, on_tagged, &t[i], &q);
        handles += q != NULL;
    }
    ok(calls == base && handles == 4, "4 answers at hand: 4 handles, nobody called inside a call");
    turn();
    ok(calls == base + 4 && norder == 4 && order_log[0] == 0 && order_log[1] == 1 &&
           order_log[2] == 2 && order_log[3] == 3,
       "one turn delivers all 4, in the order asked (%d %d %d %d)", order_log[0], order_log[1],
       order_log[2], order_log[3]);

    /* cancelled before its turn: never called, and the memory it pointed at may be gone */
    struct res *gone = calloc(1, sizeof(*gone));
    struct spate_dns_query *q1 = NULL, *q2 = NULL, *q3 = NULL;
    struct res kept = {0};
    base = calls;
    spate_dns_resolve(d, "a.test", 80, on_res, gone, &q1);    /* a cache hit */
    spate_dns_resolve(d, "127.0.0.1", 80, on_res, gone, &q2); /* a literal */
    spate_dns_resolve(d, "x.onion", 80, on_res, gone, &q3);   /* c-ares answered inside */
    spate_dns_resolve(d, "a.test", 80, on_res, &kept, NULL);
    spate_dns_cancel(q2);
    spate_dns_cancel(q1);
    spate_dns_cancel(q3);
    free(gone); /* ASan would catch a delivery into it */
    turn();
    turn();
    ok(calls == base + 1 && kept.called == 1 && kept.ok,
       "3 answers cancelled before their turn are never delivered; the 4th is");

    /* a callback cancels a sibling posted after it, and asks again: that waits a turn */
    static struct tagged first, second;
    memset(&first, 0, sizeof(first));
    memset(&second, 0, sizeof(second));
    first.d = d;
    base = calls;
    spate_dns_resolve(d, "localhost", 80, on_tagged, &first, NULL);
    spate_dns_resolve(d, "localhost", 80, on_tagged, &second, &first.victim);
    turn();
    ok(first.r.called == 1 && second.r.called == 0 && first.nested.called == 0 &&
           first.nested_q != NULL,
       "a callback cancelled its posted sibling; what it asked waits for the next turn");
    turn();
    ok(first.nested.called == 1 && first.nested.ok && calls == base + 2,
       "  and arrives at the next turn");

    /* spate_dns_fresh calls nobody, now or later; c-ares answering from /etc/hosts inside the
     * call makes the name fresh at once (cached 60 s here: hosts entries carry no TTL) */
    char name[256];
    struct spate_dns *f = make(60, NULL, 0);
    base = calls;
    int fresh_lit = spate_dns_fresh(f, "127.0.0.1", 80);
    int have = hosts_name(name, sizeof(name));
    int fresh_hosts = have ? spate_dns_fresh(f, name, 80) : 1;
    struct spate_dns_stats st;
    spate_dns_get_stats(f, &st);
    turn();
    turn();
    ok(fresh_lit && fresh_hosts && calls == base && st.queries == (have ? 1u : 0u),
       "spate_dns_fresh: a literal, and an /etc/hosts name after one lookup, are fresh; nobody "
       "called back (%s: %d, %lu lookups)",
       have ? name : "none", fresh_hosts, st.queries);
    spate_dns_destroy(f);

    /* destroyed with answers posted: none is delivered */
    struct spate_dns *x = make(-1, NULL, 0);
    struct res lost = {0};
    spate_dns_resolve(x, "127.0.0.1", 80, on_res, &lost, NULL);
    spate_dns_resolve(x, "localhost", 80, on_res, &lost, NULL);
    spate_dns_destroy(x);
    turn();
    ok(lost.called == 0, "destroy with 2 answers posted: neither is delivered");
}

/* ---- cancel, re-entrancy, destroy ---- */

struct chain {
    struct spate_dns *d;
    struct spate_dns_query *victim; /* cancelled from the callback */
    struct res own, nested_cached, nested_new;
    int destroy;
};

static void on_chain(void *arg, const struct spate_dns_answer *a)
{
    struct chain *c = arg;
    struct spate_dns_query *q;
    on_res(&c->own, a);
    if (c->victim) spate_dns_cancel(c->victim);
    if (c->destroy) {
        spate_dns_destroy(c->d);
        return;
    }
    spate_dns_resolve(c->d, "a.test", 81, on_res, &c->nested_cached, &q);
    spate_dns_resolve(c->d, "zero.test", 82, on_res, &c->nested_new, &q);
}

static void test_cancel(struct spate_dns *d)
{
    struct res r = {0}, r1 = {0}, r2 = {0};
    struct spate_dns_query *q = NULL, *q1 = NULL, *q2 = NULL;
    spate_dns_resolve(d, "slow.test", 80, on_res, &r, &q);
    spate_dns_cancel(q);
    spate_dns_resolve(d, "slow2.test", 80, on_res, &r1, &q1);
    spate_dns_resolve(d, "slow2.test", 80, on_res, &r2, &q2);
    spate_dns_cancel(q1);
    run_until(calls + 1, 5);
    run_for(0.4); /* slow.test's answer (0.2 s) has arrived by now */
    ok(r.called == 0 && count_queries("slow.test", "A") == 1,
       "cancel: the callback never runs, though the answer arrived (called %d, %d queries)",
       r.called, count_queries("slow.test", "A"));
    ok(r1.called == 0 && r2.called == 1 && r2.ok, "cancelling one of two coalesced waiters");

    /* a callback that cancels its sibling and resolves again (cached and new) from inside */
    struct chain c = {.d = d};
    struct res sib = {0};
    struct spate_dns_query *cq;
    spate_dns_resolve(d, "slow3.test", 80, on_chain, &c, &cq);
    spate_dns_resolve(d, "slow3.test", 80, on_res, &sib, &c.victim);
    run_until(calls + 3, 5);
    ok(c.own.called == 1 && sib.called == 0, "a callback cancelled its sibling waiter");
    ok(c.nested_cached.called == 1 && c.nested_cached.cached && c.nested_new.called == 1 &&
           c.nested_new.ok && !c.nested_new.cached,
       "resolve from inside a callback: cached answer at the next turn, new query later");
}

static void test_destroy(void)
{
    static struct res r[12];
    struct spate_dns_query *q;
    struct spate_dns *d = make(-1, NULL, 0);
    memset(r, 0, sizeof(r));
    spate_dns_resolve(d, "drop2.test", 80, on_res, &r[0], &q);
    spate_dns_resolve(d, "slow.test", 80, on_res, &r[1], &q);
    for (int i = 2; i < 12; i++)
        spate_dns_resolve(d, "slow4.test", 80, on_res, &r[i], &q);
    run_for(0.05);
    spate_dns_destroy(d);
    run_for(0.5);
    int called = 0;
    for (int i = 0; i < 12; i++)
        called += r[i].called;
    ok(called == 0, "destroy with 12 lookups in flight: no callback, then or later");

    /* destroy from inside a callback: the sibling and another pending lookup stay silent */
    d = make(-1, NULL, 0);
    struct chain c = {.d = d, .destroy = 1};
    struct res sib = {0}, other = {0};
    spate_dns_resolve(d, "slow4.test", 80, on_chain, &c, &q);
    spate_dns_resolve(d, "slow4.test", 80, on_res, &sib, &q);
    spate_dns_resolve(d, "drop.test", 80, on_res, &other, &q);
    run_until(calls + 1, 5);
    run_for(0.2);
    ok(c.own.called == 1 && sib.called == 0 && other.called == 0,
       "destroy from inside a callback: nothing else is called");

    /* nothing listening on the resolver's port */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bind(s, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(s, (struct sockaddr *)&sa, &sl);
    close(s);
    char server[64], err[200] = "";
    snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(sa.sin_port));
    const char *servers[] = {server};
    struct spate_dns_opts o = {.fixed_ttl = -1, .servers = servers, .n_servers = 1, .timeout = 2};
    d = NULL;
    spate_dns_create(&d, &loop, &o, err, sizeof(err));
    struct res u;
    uint64_t t0 = spate_clock_now();
    resolve_wait(d, "x.test", 80, &u);
    is_str(u.err, "DNS lookup for x.test failed (server failure, refused or unreachable)",
           "closed DNS port: unreachable wording");
    ok(u.called && secs_since(t0, u.at) < 1.0, "closed DNS port fails fast (%.3f s)",
       secs_since(t0, u.at));
    spate_dns_destroy(d);
    spate_dns_destroy(NULL);
}

/* White-box: beyond its cap the cache drops the least recently used idle entry, never one a
 * query holds; cap 0 keeps only held entries. */
static int has(struct spate_dns_cache *c, const char *host)
{
    return spate_dns_cache_get(c, host) != NULL;
}

static void test_cache_lru(void)
{
    struct spate_dns_cache c;
    struct spate_dns_ip ip = {.family = AF_INET, .b = {127, 0, 0, 1}};
    uint64_t now = 1000 * SPATE_NS_PER_SEC;
    spate_dns_cache_init(&c, 3);
    const char *names[] = {"a.test", "b.test", "c.test"};
    for (int i = 0; i < 3; i++)
        spate_dns_entry_set(spate_dns_cache_add(&c, names[i]), &ip, 1, now, SPATE_NS_PER_SEC);
    /* use order, oldest first: b, c, a (a looked up last) */
    spate_dns_cache_get(&c, "a.test");
    spate_dns_cache_add(&c, "d.test");
    ok(c.n == 3 && !spate_dns_cache_get(&c, "b.test") && !spate_list_empty(&c.lru) &&
           strcmp(spate_container_of(c.lru.prev, struct spate_dns_entry, lru)->host, "c.test") ==
               0 &&
           strcmp(spate_container_of(c.lru.next, struct spate_dns_entry, lru)->host, "d.test") == 0,
       "cap 3: a fourth name evicts the least recently used (b), not the oldest added (a)");
    ok(has(&c, "a.test") && has(&c, "c.test") && has(&c, "d.test"), "  a, c and d stay");

    /* held entries leave the LRU: the cap cannot evict them, even far beyond it */
    struct spate_dns_entry *h[4];
    char name[32];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "held%d.test", i);
        h[i] = spate_dns_cache_add(&c, name);
        spate_dns_cache_hold(&c, h[i]);
    }
    int held = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "held%d.test", i);
        held += spate_dns_cache_get(&c, name) == h[i];
    }
    ok(held == 4 && c.n == 4 && spate_list_empty(&c.lru),
       "4 held entries in a cap-3 cache: all kept, every idle one evicted (%zu entries)", c.n);
    spate_dns_cache_hold(&c, h[0]); /* a second waiter on held0 */
    spate_dns_cache_release(&c, h[0]);
    ok(has(&c, "held0.test") && c.n == 4, "one of two holds released: still held, still there");
    spate_dns_entry_set_negative(h[1], 3, now, SPATE_NS_PER_SEC); /* an NXDOMAIN answer */
    spate_dns_cache_release(&c, h[1]);
    ok(!has(&c, "held1.test") && c.n == 3,
       "released while the held ones fill the cap: the NXDOMAIN entry is evicted at once");
    spate_dns_cache_release(&c, h[0]);
    spate_dns_cache_release(&c, h[2]);
    spate_dns_cache_release(&c, h[3]);
    ok(c.n == 3 && has(&c, "held0.test") && has(&c, "held2.test") && has(&c, "held3.test"),
       "all released: back to the cap, the three most recent stay");
    spate_dns_cache_fini(&c);

    /* more addresses than the entry holds inline, then fewer (ASan checks the owned array) */
    spate_dns_cache_init(&c, 2);
    struct spate_dns_ip many[5];
    for (int i = 0; i < 5; i++)
        many[i] = (struct spate_dns_ip){.family = AF_INET, .b = {127, 0, 0, (unsigned char)i}};
    struct spate_dns_entry *e = spate_dns_cache_add(&c, "many.test");
    spate_dns_entry_set(e, many, 5, now, SPATE_NS_PER_SEC);
    int same = e->n == 5;
    for (unsigned i = 0; same && i < e->n; i++)
        same = e->ip[i].b[3] == i;
    spate_dns_entry_set(e, many + 3, 1, now, SPATE_NS_PER_SEC);
    ok(same && e->n == 1 && e->ip[0].b[3] == 3, "5 addresses stored and read back, then 1");
    spate_dns_entry_set(e, many, 5, now, SPATE_NS_PER_SEC);
    spate_dns_cache_fini(&c);

    /* cap 0: nothing stays once its query is done */
    spate_dns_cache_init(&c, 0);
    e = spate_dns_cache_add(&c, "x.test");
    spate_dns_cache_hold(&c, e);
    spate_dns_entry_set(e, &ip, 1, now, SPATE_NS_PER_SEC);
    int during = has(&c, "x.test");
    spate_dns_cache_release(&c, e);
    ok(during && c.n == 0 && spate_list_empty(&c.lru),
       "cap 0: the entry lives while held, then goes");
    spate_dns_cache_fini(&c);
}

static struct spate_dns *make_sized(long cache_size)
{
    static char server[64];
    static const char *servers[1] = {server};
    snprintf(server, sizeof(server), "127.0.0.1:%d", srv.port);
    struct spate_dns_opts o = {.fixed_ttl = -1,
                               .servers = servers,
                               .n_servers = 1,
                               .timeout = TIMEOUT,
                               .cache_size = cache_size};
    struct spate_dns *d = NULL;
    char err[256] = "";
    if (spate_dns_create(&d, &loop, &o, err, sizeof(err)) < 0) diag("spate_dns_create: %s", err);
    return d;
}

/* 1 when resolving host now is answered from the cache (no query sent). */
static int cached_now(struct spate_dns *d, const char *host)
{
    int before = count_queries(host, "A");
    struct res r;
    resolve_wait(d, host, 80, &r);
    return r.called && r.cached && count_queries(host, "A") == before;
}

/* The resolver with a cache of 2 names: LRU order decides which name is asked again. */
static void test_cache_size(void)
{
    struct spate_dns *d = make_sized(2);
    if (!d) return;
    struct res r;
    int a0 = count_queries("lru-a.test", "A"), b0 = count_queries("lru-b.test", "A");
    resolve_wait(d, "lru-a.test", 80, &r);
    resolve_wait(d, "lru-b.test", 80, &r);
    int hit = cached_now(d, "lru-a.test");     /* a becomes the most recently used */
    resolve_wait(d, "lru-c.test", 80, &r);     /* evicts b, the least recently used */
    int a_kept = cached_now(d, "lru-a.test");  /* a: a cache hit */
    int b_gone = !cached_now(d, "lru-b.test"); /* b: asked again (and evicts c) */
    ok(r.ok && hit && a_kept && b_gone, "cache of 2 names: the least recently used one is evicted");
    ok(count_queries("lru-a.test", "A") == a0 + 1 && count_queries("lru-b.test", "A") == b0 + 2,
       "  the server saw lru-a once and lru-b twice");

    /* NXDOMAIN answers take a place too */
    resolve_wait(d, "nx.test", 80, &r);
    int nx_hit = cached_now(d, "nx.test");
    resolve_wait(d, "lru-a.test", 80, &r);
    resolve_wait(d, "lru-c.test", 80, &r);
    ok(nx_hit && !cached_now(d, "nx.test"), "an NXDOMAIN entry is cached and evicted like others");

    /* a lookup in flight keeps its entry while other names churn through the cache */
    static struct res w[3];
    struct spate_dns_query *q;
    memset(w, 0, sizeof(w));
    int s0 = count_queries("slow5.test", "A"), base = calls;
    spate_dns_resolve(d, "slow5.test", 80, on_res, &w[0], &q);
    const char *churn[] = {"lru-a.test", "lru-b.test", "lru-c.test", "good2.test"};
    for (int i = 0; i < 4; i++) {
        resolve_wait(d, churn[i], 80, &r);
        base++;
        if (i == 1) spate_dns_resolve(d, "slow5.test", 80, on_res, &w[1], &q);
    }
    spate_dns_resolve(d, "slow5.test", 80, on_res, &w[2], &q);
    run_until(base + 3, 5);
    int good = 0;
    for (int i = 0; i < 3; i++)
        good +=
            w[i].called == 1 && w[i].ok && strcmp(addr_str(&w[i].addrs[0]), "127.0.0.19:80") == 0;
    ok(good == 3 && count_queries("slow5.test", "A") == s0 + 1,
       "4 names through a cache of 2 while slow5 is in flight: its 3 waiters share 1 query (%d ok)",
       good);
    ok(cached_now(d, "slow5.test"), "  and its answer is cached afterwards");
    spate_dns_destroy(d);

    /* no caching: each resolve asks, concurrent ones still share one query */
    d = make_sized(-1);
    if (!d) return;
    int n0 = count_queries("lru-a.test", "A");
    resolve_wait(d, "lru-a.test", 80, &r);
    int first = r.ok && !r.cached;
    resolve_wait(d, "lru-a.test", 80, &r);
    ok(first && r.ok && !r.cached && count_queries("lru-a.test", "A") == n0 + 2,
       "cache size < 0: every resolve queries (%d queries)", count_queries("lru-a.test", "A") - n0);
    int x0 = count_queries("nx.test", "A");
    resolve_wait(d, "nx.test", 80, &r);
    resolve_wait(d, "nx.test", 80, &r);
    ok(!r.ok && !r.cached && count_queries("nx.test", "A") == x0 + 2, "  NXDOMAIN too");
    memset(w, 0, sizeof(w));
    s0 = count_queries("slow5.test", "A");
    base = calls;
    for (int i = 0; i < 3; i++)
        spate_dns_resolve(d, "slow5.test", 80, on_res, &w[i], &q);
    run_until(base + 3, 5);
    ok(w[0].ok && w[1].ok && w[2].ok && count_queries("slow5.test", "A") == s0 + 1,
       "  3 concurrent resolves share one query");
    spate_dns_destroy(d);
}

int main(int argc, char **argv)
{
    (void)argc;
    signal(SIGPIPE, SIG_IGN);
    plan(84);
    if (spate_loop_init(&loop) < 0 || start_server(argv[0]) < 0) {
        ok(0, "start the loop and tests/lib/dns_server.py");
        stop_server();
        return done();
    }
    struct spate_dns *d = make(-1, NULL, 0);
    ok(d != NULL, "spate_dns_create against 127.0.0.1:%d", srv.port);
    if (!d) {
        stop_server();
        return done();
    }
    test_basic(d);
    test_coalesce(d);
    test_ttl(d);
    test_fresh(d);
    test_fixed_ttl();
    test_failures(d);
    test_answers(d);
    test_pins();
    test_no_query(d);
    test_addr_current(d);
    test_posted(d);
    test_cancel(d);
    test_destroy();
    test_cache_lru();
    test_cache_size();
    spate_dns_destroy(d);
    run_for(0.01);
    spate_loop_fini(&loop);
    stop_server();
    return done();
}
