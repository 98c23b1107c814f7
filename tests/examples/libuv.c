/* libuv.c: libspate inside a libuv loop: a uv_poll_t on the engine's fd and a uv_timer_t for
 * its next timer, re-armed after every step. Nothing is needed after a spate_submit(): it makes
 * the engine's fd readable, so the loop comes round. Same arguments and output as poll.c.
 * Build: cc libuv.c $(pkg-config --cflags --libs spate libuv) */
#include <spate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct app {
    struct spate_engine *e;
    uv_poll_t fd_watch;
    uv_timer_t timer;
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

static void on_timer(uv_timer_t *t);

/* The engine's next deadline moves as it works: re-read it after each step. */
static void rearm(struct app *a)
{
    int ms = spate_engine_timeout_ms(a->e);
    if (ms < 0)
        uv_timer_stop(&a->timer);
    else
        uv_timer_start(&a->timer, on_timer, (uint64_t)ms, 0);
}

static void step(struct app *a)
{
    int left = spate_engine_step(a->e);
    if (left < 0) fprintf(stderr, "spate: %s\n", spate_strerror(left));
    if (left > 0) {
        rearm(a);
        return;
    }
    uv_close((uv_handle_t *)&a->fd_watch, NULL); /* all done: nothing keeps the loop alive */
    uv_close((uv_handle_t *)&a->timer, NULL);
}

static void on_timer(uv_timer_t *t)
{
    step(t->data);
}
static void on_readable(uv_poll_t *w, int status, int events)
{
    (void)status, (void)events;
    step(w->data);
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
    uv_loop_t *loop = uv_default_loop();
    uv_poll_init(loop, &a.fd_watch, spate_engine_fd(a.e));
    uv_timer_init(loop, &a.timer);
    a.fd_watch.data = a.timer.data = &a;
    uv_poll_start(&a.fd_watch, UV_READABLE, on_readable);
    /* no first step by hand: the submits made the fd readable, so the loop starts the work */
    uv_run(loop, UV_RUN_DEFAULT);
    spate_engine_destroy(a.e);
    uv_loop_close(loop);
    printf("fetched %lu of %lu URLs, %llu body bytes\n", a.ok, total, a.bytes);
    return a.ok == total ? 0 : 1;
}
