/* poll.c: libspate driven by a plain poll() loop.
 *
 *   poll URL...                 fetches each URL
 *   poll -n COUNT PREFIX        fetches PREFIX0 .. PREFIX<COUNT-1>
 *
 * Prints "fetched OK of N URLs, B body bytes"; exit status 0 when all succeeded.
 * Build: cc poll.c $(pkg-config --cflags --libs spate) */
#include <errno.h>
#include <poll.h>
#include <spate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tally {
    unsigned long done, ok;
    unsigned long long bytes;
};

/* Runs once per request, from inside spate_engine_step(). */
static void on_done(void *user, const struct spate_response *r)
{
    struct tally *t = user;
    t->done++;
    if (r->error == SPATE_OK) {
        t->ok++;
        t->bytes += r->body_bytes;
    } else {
        fprintf(stderr, "%s: %s\n", spate_error_kind_name(r->error), r->message);
    }
}

static int submit(struct spate_engine *e, const char *url, struct tally *t)
{
    struct spate_request req = {.url = url, .done = on_done, .user = t};
    char err[256];
    int rc = spate_submit(e, &req, err, sizeof err);
    if (rc < 0) fprintf(stderr, "%s: %s\n", url, err);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long n = argc == 4 && !strcmp(argv[1], "-n") ? strtoul(argv[2], NULL, 10) : 0;
    if (argc < 2 || (!strcmp(argv[1], "-n") && n == 0)) {
        fprintf(stderr, "usage: %s URL... | %s -n COUNT PREFIX\n", argv[0], argv[0]);
        return 2;
    }
    unsigned long total = n ? n : (unsigned long)argc - 1, submitted = 0;
    struct spate_config cfg;
    spate_config_init(&cfg);
    struct spate_engine *e;
    char err[256];
    if (spate_engine_create(&e, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "spate: %s\n", err);
        return 1;
    }
    struct tally t = {0};
    for (unsigned long i = 0; i < total; i++) {
        char url[2048];
        if (n) snprintf(url, sizeof url, "%s%lu", argv[3], i);
        if (submit(e, n ? url : argv[i + 1], &t) == 0) submitted++;
    }
    /* The loop: wait for the engine's fd or its next timer, then let it work. The timeout is
     * read again before every wait; a spate_submit() makes the fd readable. */
    for (int left = submitted > 0; left > 0;) {
        struct pollfd p = {.fd = spate_engine_fd(e), .events = POLLIN};
        if (poll(&p, 1, spate_engine_timeout_ms(e)) < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        left = spate_engine_step(e);
        if (left < 0) fprintf(stderr, "spate: %s\n", spate_strerror(left));
    }
    spate_engine_destroy(e);
    printf("fetched %lu of %lu URLs, %llu body bytes\n", t.ok, total, t.bytes);
    return t.ok == total ? 0 : 1;
}
