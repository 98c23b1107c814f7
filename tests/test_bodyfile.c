/* -o file names: percent-encoding of ids, the cut for long ids, and the set that numbers repeats
 * (id, id.1, id.2 ...) and frees a discarded name. */
#include "bodyfile.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *name(const char *id, size_t n)
{
    static char out[SPATE_BODYFILE_NAME_MAX + 1];
    spate_bodyfile_name(out, id, n);
    return out;
}

int main(void)
{
    plan(15);
    is_str(name("abc-1_2.txt", 11), "abc-1_2.txt", "safe bytes stay");
    is_str(name("../x", 4), "%2E.%2Fx", "a leading dot and '/' are encoded");
    is_str(name(".", 1), "%2E", "'.' alone");
    is_str(name("..", 2), "%2E.", "'..' cannot name the parent");
    is_str(name("", 0), "%22%22", "the empty id");
    is_str(name("a b\xc3\xa9", 5), "a%20b%C3%A9", "space and UTF-8 bytes");
    is_str(name("a\0b", 3), "a%00b", "NUL");
    char long_id[300];
    memset(long_id, '/', sizeof(long_id));
    size_t n = strlen(name(long_id, sizeof(long_id)));
    ok(n <= SPATE_BODYFILE_NAME_MAX && n % 3 == 0, "a long id is cut at a whole %%XX (%zu bytes)",
       n);

    char dir[] = "/tmp/spate-bodyfile-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    struct spate_bodyfiles b;
    spate_bodyfiles_init(&b, dir);
    const char *p[4];
    char err[300], want[300];
    int fds[4];
    for (int i = 0; i < 3; i++)
        fds[i] = spate_bodyfiles_open(&b, "x", 1, &p[i], err, sizeof(err));
    snprintf(want, sizeof(want), "%s/x", dir);
    is_str(p[0], want, "first: DIR/x");
    snprintf(want, sizeof(want), "%s/x.2", dir);
    is_str(p[2], want, "third: DIR/x.2");
    fds[3] = spate_bodyfiles_open(&b, "x.1", 3, &p[3], err, sizeof(err));
    snprintf(want, sizeof(want), "%s/x.1.1", dir);
    is_str(p[3], want, "an id equal to a numbered name gets its own: x.1.1");
    struct stat st;
    ok(stat(p[1], &st) == 0, "x.1 exists");
    char keep[300];
    snprintf(keep, sizeof(keep), "%s", p[1]);
    spate_bodyfiles_discard(&b, p[1]);
    ok(stat(keep, &st) != 0, "discard removes the file");
    const char *again;
    int fd = spate_bodyfiles_open(&b, "x", 1, &again, err, sizeof(err));
    is_str(again, keep, "a discarded name is free again");
    const char *bad;
    spate_bodyfiles_fini(&b);
    spate_bodyfiles_init(&b, "/nonexistent-dir-for-spate");
    ok(spate_bodyfiles_open(&b, "y", 1, &bad, err, sizeof(err)) < 0 && strstr(err, "y"),
       "an unwritable DIR: -1, the message names the path (%s)", err);
    spate_bodyfiles_fini(&b);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    close(fd);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd)) diag("could not remove %s", dir);
    return done();
}
