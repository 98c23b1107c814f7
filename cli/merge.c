/* `spate merge REPORT.json...`: the `spate bench --json` reports of one test's pieces (several
 * machines, or --procs workers kept apart, or earlier merges of some of them) added up into the
 * report one process would have printed. */
#include "merge.h"
#include "args.h"
#include "bench_merge.h"
#include "bench_read.h"
#include "text.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORT (256u << 20) /* a report is kilobytes; anything this big is not one */

static void usage(FILE *to)
{
    fputs("usage: spate merge [--json] REPORT.json...\n"
          "Adds up the `spate bench --json` reports of the pieces of one test (--segment on\n"
          "several machines, say) into the report one process would have printed: counts,\n"
          "statuses and errors summed, latency histograms summed bucket by bucket, the measured\n"
          "period the union of the pieces' periods and the rate computed over it. Pieces that\n"
          "started late are named with how late. A report may itself be a merge or a --procs\n"
          "report: the pieces it adds up are listed and checked as if given one by one.\n"
          "      --json              print the merged report as one JSON object\n"
          "Exit status: 0 merged; 2 usage, or a report that is unreadable, corrupt, of another\n"
          "test or a share of the test given twice.\n",
          to);
}

static int slurp(const char *path, struct spate_text *b, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > MAX_REPORT) {
            snprintf(err, errlen, "larger than %u MB: not a report", MAX_REPORT >> 20);
            rc = -1;
        } else if (spate_text_add(b, chunk, n)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        rc = -1;
    }
    if (f != stdin) fclose(f);
    return rc;
}

/* The report is the one line that starts with '{': a Slurm task's --output file also holds the
 * task's stderr, when it wrote any. */
static int find_report(const struct spate_text *b, const char **at, size_t *len, unsigned *others)
{
    const char *p = b->s, *end = b->s + b->len;
    int found = 0;
    *others = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p && *p == '{') {
            if (found++) return -1;
            *at = p;
            *len = (size_t)(e - p);
        } else if (e > p) {
            (*others)++;
        }
        p = e + 1;
    }
    return found == 1 ? 0 : -1;
}

static int add_file(struct spate_bench_merge *m, struct spate_bench_read *r, const char *path)
{
    struct spate_text b;
    char err[600];
    const char *at = NULL;
    size_t len = 0;
    unsigned others = 0;
    int rc = -1;
    spate_text_init(&b);
    if (slurp(path, &b, err, sizeof(err))) {
        fprintf(stderr, "spate merge: %s: %s\n", path, err);
    } else if (find_report(&b, &at, &len, &others)) {
        fprintf(stderr,
                "spate merge: %s: not a report: want exactly one line holding a JSON object "
                "(spate bench --json)\n",
                path);
    } else if (spate_bench_read(r, at, len, err, sizeof(err))) {
        fprintf(stderr, "spate merge: %s: corrupt report: %s\n", path, err);
    } else {
        if (others)
            fprintf(stderr, "spate merge: %s: %u line(s) besides the report ignored\n", path,
                    others);
        rc = spate_bench_merge_add(m, r, path, 0, err, sizeof(err));
        if (rc) fprintf(stderr, "spate merge: refused: %s\n", err);
        spate_bench_read_fini(r);
    }
    spate_text_fini(&b);
    return rc ? -1 : 0;
}

static int print(struct spate_bench_merge *m, int json)
{
    struct spate_bench_verdict v;
    spate_bench_judge(&m->set, &m->t, &m->rep, &m->parts, &v);
    if (json) {
        struct spate_text o;
        spate_text_init(&o);
        int rc = spate_bench_json(&o, &m->set, &m->t, &m->rep, &m->parts, &v, m->sig);
        if (!rc) fwrite(o.s, 1, o.len, stdout);
        spate_text_fini(&o);
        if (rc) {
            fprintf(stderr, "spate merge: out of memory\n");
            return 2;
        }
    } else {
        spate_bench_text(stdout, &m->set, &m->t, &m->rep, &m->parts, &v, m->sig);
    }
    if (fflush(stdout)) {
        perror("spate merge: writing the report");
        return 2;
    }
    return 0;
}

static const struct option longopts[] = {
    {"json", no_argument, 0, 'j'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

int spate_merge_main(int argc, char **argv)
{
    int c, json = 0;
    opterr = 0;
    optind = 1;
    while ((c = spate_args_getopt(argc, argv, ":h", longopts)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == 'j') {
            json = 1;
            continue;
        }
        spate_args_bad_option("merge", c, argv);
        return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "spate merge: no report given\n");
        usage(stderr);
        return 2;
    }
    /* both are large (histograms): on the heap */
    struct spate_bench_merge *m = malloc(sizeof(*m));
    struct spate_bench_read *r = malloc(sizeof(*r));
    int rc = 2;
    if (!m || !r) {
        fprintf(stderr, "spate merge: out of memory\n");
        goto out;
    }
    spate_bench_merge_init(m, "pieces");
    for (int i = optind; i < argc; i++)
        if (add_file(m, r, argv[i])) goto done;
    if (spate_bench_merge_finish(m)) {
        fprintf(stderr, "spate merge: out of memory\n");
        goto done;
    }
    rc = print(m, json);
done:
    spate_bench_merge_fini(m);
out:
    free(m);
    free(r);
    return rc;
}
