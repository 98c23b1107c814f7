/* Unit tests for `spate fetch --procs`' pieces: the routed-request table (cli/fetch_routed) against
 * a plain array under random adds and removes, its backward-shift deletion included; the
 * parent -> worker request records; the host:port routing hash. */
#include "fetch_procs.h"
#include "fetch_routed.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPACE 5000 /* indexes drawn from 0 .. SPACE-1 */

/* Random adds and removes, mirrored in a presence array; every few steps every index is looked
 * up and checked against the mirror (worker and record bytes too). */
static void test_table(void)
{
    struct spate_fetch_routed t = {0};
    static unsigned char have[SPACE];
    unsigned long long x = 88172645463325252ull; /* xorshift: the same run every time */
    int agree = 1, bytes_ok = 1, counts_ok = 1;
    size_t n = 0;
    for (int step = 0; step < 200000 && agree; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = (size_t)(x % SPACE);
        /* add more than remove at first, then the other way, so the table grows and empties */
        int add = (x >> 32) % 100 < (step < 100000 ? 70u : 30u);
        if (add && !have[i]) {
            char rec[32];
            int len = snprintf(rec, sizeof(rec), "%zu rec", i);
            if (spate_fetch_routed_add(&t, i, (unsigned)(i % 3), rec, (size_t)len)) agree = 0;
            have[i] = 1;
            n++;
        } else if (!add) {
            int was = spate_fetch_routed_remove(&t, i);
            if (was != have[i]) agree = 0;
            if (have[i]) n--;
            have[i] = 0;
        }
        if (t.n != n) counts_ok = 0;
        if (step % 997 == 0)
            for (size_t k = 0; k < SPACE; k++) {
                struct spate_fetch_routed_entry *e = spate_fetch_routed_find(&t, k);
                if (!!e != have[k]) agree = 0;
                char want[32];
                int len = snprintf(want, sizeof(want), "%zu rec", k);
                if (e && (e->worker != k % 3 || e->rec_len != (size_t)len ||
                          memcmp(e->rec, want, (size_t)len)))
                    bytes_ok = 0;
            }
    }
    ok(agree, "200,000 random adds and removes: every index found exactly when held");
    ok(bytes_ok && counts_ok, "  each entry keeps its worker and record; the count follows");
    /* draining one worker's entries, as for a dead worker */
    unsigned left = 0;
    struct spate_fetch_routed_entry *e;
    while ((e = spate_fetch_routed_any(&t, 1)))
        spate_fetch_routed_remove(&t, e->index);
    for (size_t k = 0; k < SPACE; k++)
        if (have[k] && k % 3 != 1) left++;
    int others = 1;
    for (size_t k = 0; k < SPACE; k++)
        if (!!spate_fetch_routed_find(&t, k) != (have[k] && k % 3 != 1)) others = 0;
    ok(t.n == left && others, "draining worker 1's entries leaves exactly the others'");
    spate_fetch_routed_fini(&t);
}

static void test_records(void)
{
    struct spate_fetch_procs_req q;
    const char rec[] = "123 2 45 0\t{\"url\": \"http://a/\tb\"}\n";
    int rc = spate_fetch_procs_parse_req(rec, sizeof(rec) - 1, &q);
    ok(rc == 0 && q.index == 123 && q.input == 2 && q.lineno == 45 && !q.too_long &&
           q.len == strlen("{\"url\": \"http://a/\tb\"}") && !memcmp(q.line, "{\"url\"", 6),
       "a request record: index, input, line number; the line keeps its own tabs");
    const char arg[] = "7 -1 0 0\thttp://x/\n";
    rc = spate_fetch_procs_parse_req(arg, sizeof(arg) - 1, &q);
    ok(rc == 0 && q.index == 7 && q.input == -1 && q.len == 9, "a URL argument's record");
    const char lng[] = "9 0 3 1\t\n";
    rc = spate_fetch_procs_parse_req(lng, sizeof(lng) - 1, &q);
    ok(rc == 0 && q.too_long && q.len == 0, "a line too long: flagged, no bytes");
    const char *bad[] = {"x 0 0 0\tu\n", "1 0 0\tu\n", "1 0 0 0 5\tu\n", "1 0 0 0\tu", "nothing\n"};
    int refused = 1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (spate_fetch_procs_parse_req(bad[i], strlen(bad[i]), &q) == 0) refused = 0;
    ok(refused, "malformed records are refused");
}

static void test_route(void)
{
    unsigned n = 4;
    unsigned a = spate_fetch_procs_worker_of("http://Example.COM/x", 20, n);
    int same = a == spate_fetch_procs_worker_of("http://example.com:80/y?q", 25, n) &&
               a == spate_fetch_procs_worker_of("http://u:p@example.com", 22, n);
    ok(same, "one host:port, one worker: case, default port, path and user:pass do not matter");
    const char *u = "https://example.com/x";
    ok(spate_fetch_procs_worker_of(u, strlen(u), n) ==
           spate_fetch_procs_worker_of("https://example.com:443/", 24, n),
       "https's default port is 443");
    /* the length bounds the URL: what follows (a record's next bytes) is not read */
    ok(spate_fetch_procs_worker_of("http://a.test/\nhttp://b.test:9/", 14, n) ==
           spate_fetch_procs_worker_of("http://a.test/", 14, n),
       "only url[0..len) is read");
    int spread[4] = {0}, all_in = 1;
    for (int i = 0; i < 400; i++) {
        char h[64];
        int len = snprintf(h, sizeof(h), "http://host%d.test:%d/", i, 8000 + i % 7);
        unsigned w = spate_fetch_procs_worker_of(h, (size_t)len, n);
        if (w >= n)
            all_in = 0;
        else
            spread[w]++;
    }
    ok(all_in && spread[0] > 60 && spread[1] > 60 && spread[2] > 60 && spread[3] > 60,
       "400 host:ports over 4 workers: each gets a share (%d %d %d %d)", spread[0], spread[1],
       spread[2], spread[3]);
    ok(spate_fetch_procs_worker_of("not a url", 9, n) == 0, "no host: worker 0");
}

int main(void)
{
    plan(12);
    test_table();
    test_records();
    test_route();
    return done();
}
