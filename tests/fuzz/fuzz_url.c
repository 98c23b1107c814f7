/* libFuzzer target: engine/url.c (spate_url_parse, spate_url_resolve).
 * Input: "URL" or "BASE\nREF". The whole input (up to the first '\n') is parsed as a URL; with a
 * '\n', the rest is resolved against it. Invariants checked beyond "no sanitizer report":
 *  - on success: scheme is http/https and matches https, host non-empty and canonical (lowercase,
 *    no trailing dot, no bytes <= 0x20 or >= 0x7f), port != 0, target starts with '/', holds no
 *    '#' and no byte <= 0x20 or >= 0x7f, authority == host (bracketed for IPv6) [+ ":port"];
 *  - re-parsing the URL rebuilt from the parts gives the same parts (a fixed point);
 *  - on failure: u is zeroed and err is a non-empty, NUL-terminated, printable message;
 *  - resolve: the result passes the same checks and its path has no "." or ".." segment. */
#include "url.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) return 0;
    return 1;
}

static void check_err(int rc, const struct spate_url *u, const char *err)
{
    static const struct spate_url zero;
    CHECK(rc == -EINVAL || rc == -ENOMEM);
    CHECK(memcmp(u, &zero, sizeof zero) == 0);
    CHECK(memchr(err, '\0', 256) != NULL);
    CHECK(err[0] != '\0');
    CHECK(printable(err));
}

static void check_ok(const struct spate_url *u)
{
    CHECK(u->buf && u->host && u->authority && u->target);
    CHECK(u->https == 0 || u->https == 1);
    CHECK(u->host[0] != '\0');
    CHECK(u->port != 0);
    CHECK(u->host_ip == 0 || u->host_ip == 4 || u->host_ip == 6);
    size_t hl = strlen(u->host);
    CHECK(u->host[hl - 1] != '.');
    for (const char *h = u->host; *h; h++) {
        unsigned char c = (unsigned char)*h;
        CHECK(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
        CHECK(c != '/' && c != '?' && c != '#' && c != '@' && c != '[' && c != ']');
        if (u->host_ip != 6) CHECK(c != ':');
    }
    CHECK(u->target[0] == '/');
    for (const char *t = u->target; *t; t++) {
        unsigned char c = (unsigned char)*t;
        CHECK(c > 0x20 && c < 0x7f && c != '#');
    }
    if (u->userinfo) {
        CHECK(u->userinfo[0] != '\0');
        for (const char *s = u->userinfo; *s; s++) {
            unsigned char c = (unsigned char)*s;
            CHECK(c > 0x20 && c < 0x7f && c != '@' && c != '/' && c != '\\');
        }
    }
    char want[300];
    int dflt = u->port == (u->https ? 443 : 80);
    if (u->host_ip == 6)
        snprintf(want, sizeof want, "[%s]", u->host);
    else
        snprintf(want, sizeof want, "%s", u->host);
    if (!dflt) snprintf(want + strlen(want), sizeof want - strlen(want), ":%u", u->port);
    CHECK(!strcmp(u->authority, want));
}

/* Rebuilds the URL from its parts and parses it again: the parts must not change. */
static void check_fixed_point(const struct spate_url *u)
{
    size_t n = strlen(spate_url_scheme(u)) + strlen(u->authority) + strlen(u->target) +
               (u->userinfo ? strlen(u->userinfo) + 1 : 0) + 8;
    char *s = malloc(n);
    if (!s) return;
    snprintf(s, n, "%s://%s%s%s%s", spate_url_scheme(u), u->userinfo ? u->userinfo : "",
             u->userinfo ? "@" : "", u->authority, u->target);
    struct spate_url v;
    char err[256];
    int rc = spate_url_parse(&v, s, err, sizeof err);
    if (rc == -ENOMEM) {
        free(s);
        return;
    }
    if (rc != 0) fprintf(stderr, "re-parse of \"%s\" failed: %s\n", s, err);
    CHECK(rc == 0);
    CHECK(v.https == u->https && v.port == u->port && v.host_ip == u->host_ip);
    CHECK(!strcmp(v.host, u->host));
    CHECK(!strcmp(v.authority, u->authority));
    CHECK(!strcmp(v.target, u->target));
    CHECK((v.userinfo == NULL) == (u->userinfo == NULL));
    if (u->userinfo) CHECK(!strcmp(v.userinfo, u->userinfo));
    CHECK(spate_url_same_origin(u, &v));
    spate_url_fini(&v);
    spate_url_fini(&v); /* idempotent */
    free(s);
}

static void check_no_dot_segments(const char *t)
{
    size_t pl = strcspn(t, "?");
    size_t s = 1; /* t[0] == '/' */
    for (size_t i = 1; i <= pl; i++) {
        if (i < pl && t[i] != '/') continue;
        size_t len = i - s;
        CHECK(!(len == 1 && t[s] == '.'));
        CHECK(!(len == 2 && t[s] == '.' && t[s + 1] == '.'));
        s = i + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *ref = memchr(s, '\n', size);
    if (ref) *ref++ = '\0';

    struct spate_url u;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = spate_url_parse(&u, s, err, sizeof err);
    if (rc == 0) {
        check_ok(&u);
        check_fixed_point(&u);
    } else {
        check_err(rc, &u, err);
    }
    /* A tiny error buffer must still be NUL-terminated and never overrun. */
    {
        struct spate_url t;
        char small[4];
        if (spate_url_parse(&t, s, small, sizeof small) == 0)
            spate_url_fini(&t);
        else
            CHECK(memchr(small, '\0', sizeof small));
        CHECK(spate_url_parse(&t, s, NULL, 0) == rc || rc == -ENOMEM);
        spate_url_fini(&t);
    }

    if (ref) {
        struct spate_url base;
        if (rc == 0) {
            base = u;
        } else {
            /* keep resolution exercised when the first line is not a valid URL */
            if (spate_url_parse(&base, "http://User:p%41ss@Example.COM:8080/a/b/c?q=1#f", NULL,
                                0))
                abort();
        }
        struct spate_url out;
        memset(err, 'x', sizeof err);
        int r2 = spate_url_resolve(&out, &base, ref, err, sizeof err);
        if (r2 == 0) {
            check_ok(&out);
            check_no_dot_segments(out.target);
            check_fixed_point(&out);
            spate_url_fini(&out);
        } else {
            check_err(r2, &out, err);
        }
        if (rc != 0) spate_url_fini(&base);
    }
    spate_url_fini(&u);
    spate_url_fini(&u);
    free(s);
    return 0;
}
