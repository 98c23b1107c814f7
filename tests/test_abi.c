/* The ABI rule of the structs a program allocates (spate.h): the library reads and writes no
 * further than the `size` the program was built with. Each case plays a program built against
 * an older, shorter struct: the bytes past its size are poison (0xff: wild pointers, a retry
 * count of 4 billion, NaN-like times), so a library that read them would crash under ASan or
 * retry for ever, and one that wrote them would change the sentinel. A size never set (0) is
 * refused with a message that says what to call. The target is a loopback port nobody listens
 * on: a refused connect, one attempt with the defaults. */
#include "spate.h"
#include "tap.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define POISON 0xff

/* A loopback port that refuses: bound once to learn a free port, then closed. */
static int refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

/* 1 when bytes [from, total) of p are all still poison: nothing was written past a size. */
static int poison_from(const void *p, size_t from, size_t total)
{
    const unsigned char *b = p;
    for (size_t i = from; i < total; i++)
        if (b[i] != POISON) return 0;
    return 1;
}

static int calls;
static struct spate_response last;
static char last_msg[200];

static void on_done(void *user, const struct spate_response *r)
{
    (void)user;
    calls++;
    last = *r;
    snprintf(last_msg, sizeof(last_msg), "%s", r->message);
    last.message = last_msg;
}

/* An engine from a config that ends before `timeout`, the rest poison; one request. */
static void older_config(const char *url)
{
    struct spate_config c;
    spate_config_init(&c);
    memset(&c, POISON, sizeof(c));
    c.size = offsetof(struct spate_config, happy_eyeballs_delay);
    c.concurrency = 4;
    c.per_host = 0;
    c.rate = 0;
    c.connect_timeout = 5;
    struct spate_engine *e = NULL;
    char err[200] = "";
    int rc = spate_engine_create(&e, &c, err, sizeof(err));
    ok(rc == 0 && e,
       "a config that ends before happy_eyeballs_delay, poison after: engine made (%s)", err);
    if (!e) return;
    struct spate_request q = {.url = url, .done = on_done};
    rc = spate_submit(e, &q, err, sizeof(err));
    if (!rc) rc = spate_run(e);
    ok(rc == 0 && calls == 1 && last.error == SPATE_E_CONNECT && last.attempts == 1,
       "... a refused request: kind connect after 1 attempt (the default retries 0, not the "
       "poison): %s",
       last_msg);

    /* stats into a struct that ends before in_flight: that field and a sentinel untouched */
    struct {
        struct spate_stats st;
        unsigned char tail[16];
    } s;
    memset(&s, POISON, sizeof(s));
    size_t short_size = offsetof(struct spate_stats, in_flight);
    spate_engine_stats_sized(e, &s.st, short_size);
    int intact = poison_from(&s, short_size, sizeof(s));
    ok(s.st.size == short_size && s.st.connects == 1 && intact,
       "stats for an older struct: size %zu, connects %llu, nothing written past its size",
       s.st.size, (unsigned long long)s.st.connects);
    struct spate_stats full;
    spate_engine_stats(e, &full);
    ok(full.size == sizeof(full) && full.connects == 1 && full.in_flight == 0,
       "stats for this header's struct: size %zu (sizeof), connects 1, in flight 0", full.size);
    spate_engine_destroy(e);
}

static size_t seen_size; /* sofar->size in the set-up callback */
static double on_setup_done(void *user, const struct spate_load_report *sofar)
{
    (void)user;
    seen_size = sofar->size;
    return 0;
}

static void unset_sizes(const char *url)
{
    struct spate_config c;
    spate_config_init(&c);
    ok(c.size == sizeof(c), "spate_config_init sets size to the program's sizeof (%zu)", c.size);
    c.size = 0;
    struct spate_engine *e = NULL;
    char err[200] = "";
    int rc = spate_engine_create(&e, &c, err, sizeof(err));
    ok(rc == -EINVAL && !e && strstr(err, "spate_config_init"),
       "a config whose size was never set: -EINVAL, '%s'", err);

    spate_config_init(&c);
    if (spate_engine_create(&e, &c, err, sizeof(err))) {
        ok(0, "engine: %s", err);
        return;
    }
    struct spate_load_opts o;
    spate_load_opts_init(&o);
    ok(o.size == sizeof(o) && o.connections == 64 && o.stop_fd == -1,
       "spate_load_opts_init: size %zu, the defaults (64 connections, no stop fd)", o.size);
    o.size = 0;
    o.req.url = url;
    o.requests = 1;
    struct spate_load_report rep;
    memset(&rep, POISON, sizeof(rep));
    err[0] = 0;
    rc = spate_load_run(e, &o, NULL, NULL, &rep, err, sizeof(err));
    ok(rc == -EINVAL && strstr(err, "spate_load_opts_init") && rep.finished == 0 &&
           rep.size == sizeof(rep),
       "load options whose size was never set: -EINVAL, '%s'; the report zeroed all the same", err);

    /* the report the callbacks see while the run goes carries its size too */
    o.size = sizeof(o);
    o.connections = 1;
    o.setup_done = on_setup_done;
    memset(&rep, POISON, sizeof(rep));
    rc = spate_load_run(e, &o, NULL, NULL, &rep, err, sizeof(err));
    ok(rc == 0 && seen_size == sizeof(rep) && rep.size == sizeof(rep) && rep.finished == 1,
       "a run: the report's size is %zu in the set-up callback and %zu at the end (sizeof %zu)",
       seen_size, rep.size, sizeof(rep));
    spate_engine_destroy(e);
}

static unsigned samples;
static void on_sample(void *user, const struct spate_load_sample *s)
{
    (void)user;
    samples += !s->setup; /* a connection failed in set-up is not a request */
}

/* Load options that end before `rate` (poison after: a wild progress callback, a start_at
 * far in the future) and a report that ends before `start_unix`, with a sentinel after. */
static void older_load(const char *url)
{
    struct spate_config c;
    spate_config_init(&c);
    struct spate_engine *e = NULL;
    char err[200] = "";
    if (spate_engine_create(&e, &c, err, sizeof(err))) {
        ok(0, "engine: %s", err);
        return;
    }
    struct spate_load_opts o;
    memset(&o, POISON, sizeof(o));
    o.size = offsetof(struct spate_load_opts, rate);
    memset(&o.req, 0, sizeof(o.req));
    o.req.url = url;
    o.connections = 1;
    o.duration = 0;
    o.requests = 3;
    struct {
        struct spate_load_report rep;
        unsigned char tail[16];
    } r;
    memset(&r, POISON, sizeof(r));
    size_t short_size = offsetof(struct spate_load_report, start_unix);
    int rc = spate_load_run_sized(e, &o, on_sample, NULL, &r.rep, short_size, err, sizeof(err));
    int intact = poison_from(&r, short_size, sizeof(r));
    ok(rc == 0 && r.rep.size == short_size && intact,
       "an older load run (options and report cut short): rc %d (%s), report size %zu, nothing "
       "written past it",
       rc, err, r.rep.size);
    ok(r.rep.connections_wanted == 1 && r.rep.finished == 3 && samples == 3,
       "... its report holds the run: 1 connection wanted, %llu of 3 requests finished, %u "
       "samples",
       (unsigned long long)r.rep.finished, samples);
    spate_engine_destroy(e);
}

int main(void)
{
    plan(11);
    int port = refused_port();
    if (port < 0) {
        printf("Bail out! no free port\n");
        return 1;
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    older_config(url);
    unset_sizes(url);
    older_load(url);
    return done();
}
