/* libevent.c: libspate inside a libevent loop: a persistent read event on the engine's fd and a
 * timer event for its next timer, re-armed after every step. Same arguments and output as poll.c.
 * Build: cc libevent.c $(pkg-config --cflags --libs spate libevent) */
#include <event2/event.h>
#include <spate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct app {
    struct spate_engine *e;
    struct event *fd_watch, *timer;
    unsigned long ok;
    unsigned long long bytes;
};

static void on_done(void *user, const struct spate_response *r)
{
    struct app *a = user;
    if (r->error != SPATE_OK) {
        fprintf(stderr, "%s: %s\n", spate_error_kind_name(r->error), r->message);
        return;
    }
    a->ok++;
    a->bytes += r->body_bytes;
}

/* Both events land here. The engine's next deadline moves as it works: re-read it after each
 * step. A spate_submit() needs nothing: it makes the engine's fd readable. */
static void step(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    (void)fd, (void)what;
    int left = spate_engine_step(a->e);
    if (left < 0) fprintf(stderr, "spate: %s\n", spate_strerror(left));
    if (left <= 0) { /* all done: with no event pending, event_base_dispatch returns */
        event_del(a->fd_watch);
        event_del(a->timer);
        return;
    }
    int ms = spate_engine_timeout_ms(a->e);
    if (ms < 0) {
        event_del(a->timer);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(a->timer, &tv);
}

int main(int argc, char **argv)
{
    unsigned long n = argc == 4 && !strcmp(argv[1], "-n") ? strtoul(argv[2], NULL, 10) : 0;
    if (argc < 2 || (!strcmp(argv[1], "-n") && n == 0)) {
        fprintf(stderr, "usage: %s URL... | %s -n COUNT PREFIX\n", argv[0], argv[0]);
        return 2;
    }
    unsigned long total = n ? n : (unsigned long)argc - 1;
    struct app a = {0};
    struct spate_config cfg;
    spate_config_init(&cfg);
    char err[256];
    if (spate_engine_create(&a.e, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "spate: %s\n", err);
        return 1;
    }
    for (unsigned long i = 0; i < total; i++) {
        char url[2048];
        if (n) snprintf(url, sizeof url, "%s%lu", argv[3], i);
        struct spate_request req = {.url = n ? url : argv[i + 1], .done = on_done, .user = &a};
        if (spate_submit(a.e, &req, err, sizeof err) < 0) fprintf(stderr, "%s\n", err);
    }
    if (spate_engine_timeout_ms(a.e) < 0) return 1; /* nothing queued: nothing will wake us */
    struct event_base *base = event_base_new();
    a.fd_watch = event_new(base, spate_engine_fd(a.e), EV_READ | EV_PERSIST, step, &a);
    a.timer = evtimer_new(base, step, &a);
    event_add(a.fd_watch, NULL);
    /* no first step by hand: the submits made the fd readable, so the loop starts the work */
    event_base_dispatch(base);
    event_free(a.fd_watch);
    event_free(a.timer);
    event_base_free(base);
    spate_engine_destroy(a.e);
    printf("fetched %lu of %lu URLs, %llu body bytes\n", a.ok, total, a.bytes);
    return a.ok == total ? 0 : 1;
}
