/* Unit tests for cli/text.c, the command's text builder: exact bytes after every kind of append,
 * the C-string guarantee, growth across many appends, reading a pipe, cutting handled lines and
 * handing the string over. */
#include "tap.h"
#include "text.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_appends(void)
{
    struct spate_text t;
    spate_text_init(&t);
    is_int(t.len, 0, "a new text is empty");
    int rc = spate_text_adds(&t, "{\"n\":");
    rc |= spate_text_uint(&t, 0);
    rc |= spate_text_add(&t, ",", 1);
    rc |= spate_text_uint(&t, ULLONG_MAX);
    rc |= spate_text_printf(&t, ",\"x\":%.2f,\"s\":\"%s\"}", 1.5, "ab");
    is_int(rc, 0, "appends succeed");
    is_str(t.s, "{\"n\":0,18446744073709551615,\"x\":1.50,\"s\":\"ab\"}",
           "literal, numbers 0 and 2^64-1, printf: exact text, NUL-terminated");
    is_int(t.len, strlen(t.s), "len counts the bytes before the 0");
    char *keep = t.s;
    spate_text_reset(&t);
    ok(t.len == 0 && t.s == keep && t.s[0] == 0, "reset empties and keeps the storage");
    spate_text_add(&t, "a\0b", 3);
    is_mem(t.s, t.len + 1, "a\0b\0", 4, "bytes with a NUL inside are kept, 0 after them");
    spate_text_fini(&t);
    ok(t.s == NULL && t.len == 0 && t.cap == 0, "fini leaves an empty, reusable text");
    spate_text_fini(&t); /* twice is fine */
    spate_text_fini(NULL);
}

static void test_growth(void)
{
    struct spate_text t;
    spate_text_init(&t);
    int rc = 0;
    for (unsigned i = 0; i < 100000 && !rc; i++)
        rc = spate_text_uint(&t, i % 10);
    is_int(rc, 0, "100,000 one-byte appends");
    is_int(t.len, 100000, "... all there");
    int right = t.s[t.len] == 0;
    for (size_t i = 0; i < t.len && right; i++)
        right = t.s[i] == (char)('0' + i % 10);
    ok(right, "... in order, 0 after them");
    char *p = spate_text_room(&t, 10);
    ok(p == t.s + t.len, "room is past the end");
    memcpy(p, "xyz", 3);
    spate_text_wrote(&t, 3);
    ok(t.len == 100003 && !memcmp(t.s + t.len - 3, "xyz", 4),
       "wrote joins 3 bytes and ends with 0");
    ok(spate_text_grow(&t, (size_t)-1 / 2) == -ENOMEM, "an impossible size is refused");
    is_int(t.len, 100003, "... and the text is unchanged");
    spate_text_fini(&t);
}

static void test_read_cut_take(void)
{
    int fds[2];
    if (pipe(fds)) {
        ok(0, "pipe");
        return;
    }
    struct spate_text t;
    spate_text_init(&t);
    is_int(write(fds[1], "one\ntwo\nthr", 11), 11, "11 bytes in the pipe");
    is_int(spate_text_read(&t, fds[0], 4), 4, "a read of at most 4 bytes takes 4");
    is_int(spate_text_read(&t, fds[0], 100), 7, "the next takes the other 7");
    is_str(t.s, "one\ntwo\nthr", "both reads appended");
    spate_text_cut(&t, 8);
    is_str(t.s, "thr", "cutting the two handled lines leaves the partial one");
    is_int(t.len, 3, "... 3 bytes");
    close(fds[1]);
    is_int(spate_text_read(&t, fds[0], 100), 0, "0 at the end of the input");
    is_int(spate_text_read(&t, -1, 100), -EBADF, "-errno for a failed read");
    spate_text_cut(&t, 99);
    ok(t.len == 0 && t.s[0] == 0, "cutting more than there is empties it");
    close(fds[0]);
    spate_text_adds(&t, "kept");
    char *s = spate_text_take(&t);
    is_str(s, "kept", "take hands the string over");
    ok(t.s == NULL && t.len == 0, "... and the text is empty");
    free(s);
    s = spate_text_take(&t);
    is_str(s, "", "an empty text gives an allocated \"\"");
    free(s);
}

int main(void)
{
    test_appends();
    test_growth();
    test_read_cut_take();
    return done();
}
