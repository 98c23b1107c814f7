/* threads.c: several threads, one engine each, started at the same instant, for t_threads.sh.
 *
 * Usage: threads NTHREADS N HTTP_PREFIX HTTPS_PREFIX CAFILE
 *
 * Every thread waits at a barrier, then at once asks for the versions (spate_version,
 * spate_version_of: the static strings and what OpenSSL and c-ares report), creates its engine
 * (c-ares' process-wide initialisation runs inside the first spate_engine_create of the
 * process, OpenSSL's inside the first https submit), and fetches N URLs: number i of thread t is
 * PREFIX/f/(t * N + i) with ?t=t, over https when i is odd (HTTPS_PREFIX, verified against
 * CAFILE) and over http when it is even. Each body must be the file's content, "file K\n".
 * Prints one line per thread and exits 0 only when every request of every thread succeeded:
 *   thread T: N of N ok (H http, S https), bodies right, versions VER/OPENSSL/CARES
 * Links the public spate.h only; the engine's own threads stay out (it has none). */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include <pthread.h>
#include <spate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 16

struct worker {
    pthread_t tid;
    unsigned id, n;
    unsigned ok, http, https, bad_body;
    char versions[256];
    char first_error[1024];
};

static const char *http_prefix, *https_prefix, *cafile;
static pthread_barrier_t start_line;

struct pending {
    struct worker *w;
    unsigned k; /* the file number */
    int https;
};

static void done(void *user, const struct spate_response *r)
{
    struct pending *p = user;
    struct worker *w = p->w;
    char want[32];
    int n = snprintf(want, sizeof want, "file %u\n", p->k);
    if (r->error != SPATE_OK || r->status != 200) {
        if (!w->first_error[0])
            snprintf(w->first_error, sizeof w->first_error, "file %u: %s: %s", p->k,
                     spate_error_kind_name(r->error), r->message);
    } else if (r->body_len != (size_t)n || memcmp(r->body, want, (size_t)n) != 0) {
        w->bad_body++;
    } else {
        w->ok++;
        if (p->https)
            w->https++;
        else
            w->http++;
    }
    free(p);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&start_line);
    snprintf(w->versions, sizeof w->versions, "%s/%s/%s", spate_version(),
             spate_version_of("openssl"), spate_version_of("c-ares"));
    struct spate_config cfg;
    spate_config_init(&cfg);
    cfg.concurrency = 20;
    cfg.cacert = cafile;
    struct spate_engine *e;
    char err[256];
    if (spate_engine_create(&e, &cfg, err, sizeof err) < 0) {
        snprintf(w->first_error, sizeof w->first_error, "engine: %s", err);
        return NULL;
    }
    for (unsigned i = 0; i < w->n; i++) {
        struct pending *p = malloc(sizeof *p);
        char url[512];
        if (!p) break;
        p->w = w;
        p->k = w->id * w->n + i;
        p->https = i % 2;
        snprintf(url, sizeof url, "%s/f/%u?t=%u", p->https ? https_prefix : http_prefix, p->k,
                 w->id);
        struct spate_request q = {.url = url, .keep_body = 1, .done = done, .user = p};
        if (spate_submit(e, &q, err, sizeof err) < 0) {
            snprintf(w->first_error, sizeof w->first_error, "submit %s: %s", url, err);
            free(p);
            break;
        }
    }
    if (spate_run(e) < 0 && !w->first_error[0])
        snprintf(w->first_error, sizeof w->first_error, "spate_run failed");
    spate_engine_destroy(e);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s NTHREADS N HTTP_PREFIX HTTPS_PREFIX CAFILE\n", argv[0]);
        return 2;
    }
    unsigned nthreads = (unsigned)atoi(argv[1]), n = (unsigned)atoi(argv[2]);
    if (nthreads < 1 || nthreads > MAX_THREADS || n < 1) {
        fprintf(stderr, "threads: 1 to %d threads, N >= 1\n", MAX_THREADS);
        return 2;
    }
    http_prefix = argv[3];
    https_prefix = argv[4];
    cafile = argv[5];
    static struct worker w[MAX_THREADS];
    pthread_barrier_init(&start_line, NULL, nthreads);
    for (unsigned t = 0; t < nthreads; t++) {
        w[t].id = t;
        w[t].n = n;
        if (pthread_create(&w[t].tid, NULL, run, &w[t]) != 0) {
            fprintf(stderr, "threads: cannot start thread %u\n", t);
            return 1;
        }
    }
    int all = 1;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(w[t].tid, NULL);
        printf("thread %u: %u of %u ok (%u http, %u https), %s, versions %s\n", t, w[t].ok, n,
               w[t].http, w[t].https, w[t].bad_body ? "a body wrong" : "bodies right",
               w[t].versions);
        if (w[t].first_error[0]) fprintf(stderr, "thread %u: %s\n", t, w[t].first_error);
        all &= w[t].ok == n;
    }
    pthread_barrier_destroy(&start_line);
    return all ? 0 : 1;
}
