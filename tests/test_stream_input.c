/* Pieces of `spate fetch` at any size: the line reader (a last line without newline, CRLF kept
 * for the parser, a line too long dropped whole, a pipe read without blocking, restart), the
 * --resume set (growth, hashes of 0, an earlier output with cut and glued lines) and the
 * --ordered ring of the result stream (lines and skipped indexes in order, a wrap-around). */
#include "idset.h"
#include "lines.h"
#include "results.h"
#include "tap.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpl[] = "/tmp/spate-test-stream-XXXXXX";

static const char *write_file(const char *data, size_t n)
{
    int fd = mkstemp(tmpl);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n) exit(1);
    close(fd);
    return tmpl;
}

static void test_lines(void)
{
    char data[SPATE_LINES_MAX + 100];
    size_t n = (size_t)sprintf(data, "one\r\n\nthree\n");
    memset(data + n, 'x', SPATE_LINES_MAX + 1);
    n += SPATE_LINES_MAX + 1;
    n += (size_t)sprintf(data + n, "\nlast");
    const char *path = write_file(data, n);
    struct spate_lines l;
    is_int(spate_lines_open(&l, path), 0, "open a file");
    const char *line;
    size_t len;
    char got[200] = "";
    for (int rc; (rc = spate_lines_next(&l, &line, &len, 0)) != -1;) {
        char one[64];
        snprintf(one, sizeof(one), "%zu:%d:%.*s|", l.lineno, rc, rc == 1 ? (int)len : 0, line);
        strcat(got, one);
    }
    is_str(got, "1:1:one\r|2:1:|3:1:three|4:2:|5:1:last|",
           "lines in order, CR left to the parser, the long line 4 dropped whole, a last line "
           "without newline");
    is_int(spate_lines_restart(&l, l.fd), 0, "restart");
    is_int(spate_lines_next(&l, &line, &len, 0), 1, "the first line again");
    is_int((long long)l.lineno, 1, "  numbered 1");
    spate_lines_fini(&l);
    unlink(path);

    int p[2];
    if (pipe(p)) exit(1);
    int saved = dup(0);
    dup2(p[0], 0);
    close(p[0]);
    is_int(spate_lines_open(&l, "-"), 0, "open stdin (a pipe)");
    is_int(spate_lines_next(&l, &line, &len, 0), 0, "nothing written yet: 0, without blocking");
    if (write(p[1], "a\nb", 3) != 3) exit(1);
    is_int(spate_lines_next(&l, &line, &len, 0), 1, "a line written: it is there");
    is_int(spate_lines_next(&l, &line, &len, 0), 0, "half a line: not yet");
    close(p[1]);
    int rc = spate_lines_next(&l, &line, &len, 0);
    rc = rc == 0 ? spate_lines_next(&l, &line, &len, 0) : rc;
    ok(rc == 1 && len == 1 && line[0] == 'b', "the pipe closed: the half line is the last");
    is_int(spate_lines_next(&l, &line, &len, 0), -1, "then the end");
    spate_lines_fini(&l);
    dup2(saved, 0);
    close(saved);
    is_int(spate_lines_open(&l, "/nonexistent/x"), -2, "a missing file: -ENOENT");
    spate_lines_fini(&l);
}

static void test_idset(void)
{
    struct spate_idset s = {0};
    for (unsigned i = 0; i < 100000; i++) {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", i * 2);
        spate_idset_add(&s, spate_idset_hash(id, (size_t)n));
    }
    int all = 1, none = 1;
    for (unsigned i = 0; i < 200000; i++) {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", i);
        int has = spate_idset_has(&s, spate_idset_hash(id, (size_t)n));
        if (i % 2 == 0)
            all &= has;
        else
            none &= !has;
    }
    ok(all && none && s.n == 100000, "100,000 ids added: each found, none of the others");
    ok(s.cap * 8 <= 100000 * 8 * 3, "  in %zu slots of 8 bytes", s.cap);
    spate_idset_add(&s, 0);
    ok(spate_idset_has(&s, 0), "a hash of 0 is stored too");
    spate_idset_fini(&s);

    const char out[] = "{\"id\":0,\"ok\":true}\n"
                       "garbage\n"
                       "{\"id\":\"a b\",\"ok\":true}\n"
                       "{\"id\":2,\"ok\":false}\n"
                       "{\"id\":{\"k\": [1, 2]}, \"ok\": true}\n"
                       "{\"id\":3,\"ok\":true,\"url\":\"x\"}{\"id\":4,\"ok\":tr";
    const char *path = write_file(out, sizeof(out) - 1);
    char err[200];
    is_int(spate_idset_load(&s, path, err, sizeof(err)), 0, "an earlier output loads");
    const char *ids[] = {"0", "\"a b\"", "{\"k\":[1,2]}", "2", "3", "4", "1"};
    char got[100] = "";
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        strcat(got, spate_idset_has(&s, spate_idset_hash(ids[i], strlen(ids[i]))) ? "y" : "n");
    is_str(got, "yyynnnn",
           "done: ok true ids, keyed by compact JSON; not: ok false, glued and cut lines");
    spate_idset_fini(&s);
    unlink(path);
    ok(spate_idset_load(&s, "/nonexistent/x", err, sizeof(err)) < 0 && strstr(err, "--resume"),
       "a missing file: an error naming --resume (%s)", err);
}

static void test_ring(void)
{
    char path[] = "/tmp/spate-test-ring-XXXXXX";
    int fd = mkstemp(path);
    struct spate_results r;
    is_int(spate_results_init(&r, fd, 4, 1, 0), 0, "a ring of 4");
    char line[16];
    /* indexes 0..9: 1 and 6 skipped, the others arrive out of order within the window */
    int order[] = {2, 1, 3, 0, 5, 6, 4, 7, 9, 8};
    for (size_t i = 0; i < 10; i++) {
        int k = order[i];
        if (k == 1 || k == 6) {
            spate_results_skip(&r, (size_t)k);
            continue;
        }
        int n = snprintf(line, sizeof(line), "%d\n", k);
        spate_results_add(&r, (size_t)k, line, (size_t)n);
    }
    spate_results_flush(&r, 1);
    char got[64] = "";
    ssize_t n = pread(fd, got, sizeof(got) - 1, 0);
    got[n > 0 ? n : 0] = 0;
    is_str(got, "0\n2\n3\n4\n5\n7\n8\n9\n", "in index order, skipped ones passed over");
    is_int((long long)r.pending, 0, "  nothing left held");
    spate_results_add(&r, 11, "11\n", 3);
    spate_results_release_held(&r);
    spate_results_flush(&r, 2);
    n = pread(fd, got, sizeof(got) - 1, 0);
    got[n > 0 ? n : 0] = 0;
    is_str(got + 16, "11\n", "a stopped run releases what is held past a gap");
    spate_results_fini(&r);
    close(fd);
    unlink(path);
}

int main(void)
{
    plan(22);
    test_lines();
    strcpy(tmpl, "/tmp/spate-test-stream-XXXXXX");
    test_idset();
    test_ring();
    return done();
}
