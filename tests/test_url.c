/* Unit tests for engine/url.c: every accepted form and every refusal the URL parser pins. */
#include "tap.h"
#include "url.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Parses in and checks host, port, authority and target; "-" skips a field. */
static void accept(const char *in, const char *host, int port, const char *authority,
                   const char *target)
{
    struct spate_url u;
    char err[256];
    int rc = spate_url_parse(&u, in, err, sizeof err);
    if (!is_int(rc, 0, "accept %s", in)) {
        diag("error: %s", err);
        return;
    }
    if (strcmp(host, "-")) is_str(u.host, host, "  host of %s", in);
    if (port >= 0) is_int(u.port, port, "  port of %s", in);
    if (strcmp(authority, "-")) is_str(u.authority, authority, "  authority of %s", in);
    if (strcmp(target, "-")) is_str(u.target, target, "  target of %s", in);
    spate_url_fini(&u);
    is_int(spate_url_check(in, err, sizeof err), 0, "  spate_url_check accepts %s", in);
}

/* Parses in, expects -EINVAL, a message containing want, and nothing left to free. */
static void refuse(const char *in, const char *want)
{
    struct spate_url u;
    char err[512];
    memset(&u, 0xa5, sizeof u);
    int rc = spate_url_parse(&u, in, err, sizeof err);
    int pass = rc == -EINVAL && strstr(err, want) != NULL && u.buf == NULL && u.host == NULL;
    if (!ok(pass, "refuse %.60s: %s", in, want)) {
        diag("rc %d, error: %s", rc, rc ? err : "(none)");
        if (rc == 0) spate_url_fini(&u);
    }
    /* the check-only path (input validation) must refuse alike, with the same words */
    char err2[512];
    int rc2 = spate_url_check(in, err2, sizeof err2);
    ok(rc2 == rc && (!rc || !strcmp(err2, err)), "  spate_url_check refuses %.60s alike", in);
}

static void resolve(const char *base, const char *ref, const char *want_host, int want_port,
                    const char *want_target)
{
    struct spate_url b, u;
    char err[256];
    if (spate_url_parse(&b, base, err, sizeof err)) {
        ok(0, "base %s parses: %s", base, err);
        return;
    }
    int rc = spate_url_resolve(&u, &b, ref, err, sizeof err);
    if (is_int(rc, 0, "resolve \"%s\" against %s", ref, base)) {
        if (strcmp(want_host, "-")) is_str(u.host, want_host, "  host");
        if (want_port >= 0) is_int(u.port, want_port, "  port");
        is_str(u.target, want_target, "  target");
        spate_url_fini(&u);
    } else {
        diag("error: %s", err);
    }
    spate_url_fini(&b);
}

static void resolve_refused(const char *base, const char *ref, const char *want)
{
    struct spate_url b, u;
    char err[256];
    if (spate_url_parse(&b, base, err, sizeof err)) {
        ok(0, "base %s parses: %s", base, err);
        return;
    }
    int rc = spate_url_resolve(&u, &b, ref, err, sizeof err);
    ok(rc == -EINVAL && strstr(err, want) && u.buf == NULL, "resolve \"%.40s\" refused: %s", ref,
       want);
    if (rc == 0) spate_url_fini(&u);
    spate_url_fini(&b);
}

static void test_basics(void)
{
    struct spate_url u;
    char err[256];
    is_int(
        spate_url_parse(&u, "HTTPS://User:Pw@Example.COM:8443/a/b?x=1&y=%41#frag", err, sizeof err),
        0, "full URL parses");
    is_str(spate_url_scheme(&u), "https", "scheme lowercased");
    is_int(u.https, 1, "https flag");
    is_str(u.host, "example.com", "host lowercased");
    is_int(u.host_ip, 0, "host is a name");
    is_int(u.port, 8443, "explicit port");
    is_str(u.authority, "example.com:8443", "authority keeps the non-default port");
    is_str(u.target, "/a/b?x=1&y=%41", "target: path and query, fragment dropped, no decoding");
    is_str(u.userinfo, "User:Pw", "userinfo raw, case kept");
    spate_url_fini(&u);
    ok(u.buf == NULL && u.host == NULL, "fini zeroes");
    spate_url_fini(&u);
    spate_url_fini(NULL);
    ok(1, "fini is idempotent and NULL-safe");

    is_int(spate_url_parse(&u, "http://h/", err, sizeof err), 0, "plain http");
    is_str(spate_url_scheme(&u), "http", "scheme http");
    is_int(u.https, 0, "https flag off");
    ok(u.userinfo == NULL, "no userinfo -> NULL");
    spate_url_fini(&u);
    is_int(spate_url_parse(&u, "http://@h/", err, sizeof err), 0, "empty userinfo accepted");
    ok(u.userinfo == NULL, "empty userinfo -> NULL");
    spate_url_fini(&u);
    is_int(spate_url_parse(&u, "http://user@h/", err, sizeof err), 0, "user only");
    is_str(u.userinfo, "user", "userinfo without password");
    spate_url_fini(&u);
    is_int(spate_url_parse(&u, NULL, err, sizeof err), -EINVAL, "NULL string refused");
    is_int(spate_url_parse(&u, "", NULL, 0), -EINVAL, "NULL err buffer is fine");
}

static void test_accepted(void)
{
    accept("http://example.com", "example.com", 80, "example.com", "/");
    accept("http://example.com?q=1", "-", 80, "-", "/?q=1");
    accept("http://example.com?", "-", -1, "-", "/?");
    accept("https://example.com/", "-", 443, "example.com", "/");
    accept("http://example.com:80/", "-", 80, "example.com", "/");
    accept("https://example.com:443/x", "-", 443, "example.com", "/x");
    accept("https://example.com:80/x", "-", 80, "example.com:80", "/x");
    accept("http://example.com:/x", "-", 80, "example.com", "/x");
    accept("http://127.0.0.1:65535/", "127.0.0.1", 65535, "127.0.0.1:65535", "/");
    accept("http://127.0.0.1:00080/", "-", 80, "127.0.0.1", "/");
    accept("HTTP://LOCALHOST:8080/x", "localhost", 8080, "localhost:8080", "/x");
    accept("http://localhost./", "localhost", 80, "localhost", "/");
    accept("http://my_host-1.example/", "my_host-1.example", 80, "-", "/");
    accept("http://[::1]:8080/", "::1", 8080, "[::1]:8080", "/");
    accept("https://[::1]/", "::1", 443, "[::1]", "/");
    accept("http://[::FFFF:127.0.0.1]:81/", "::ffff:127.0.0.1", 81, "[::ffff:127.0.0.1]:81", "/");
    accept("http://[0:0:0:0:0:0:0:1]/", "::1", 80, "[::1]", "/");
    accept("http://[2001:DB8::A]/", "2001:db8::a", 80, "[2001:db8::a]", "/");
    accept("http://127.0.0.1:P@evil.test/", "evil.test", 80, "evil.test", "/");
    accept("http://h/#a#b", "h", 80, "h", "/");
    accept("http://h/p?q#f?g", "-", -1, "-", "/p?q");
    accept("http://h/%0d%0aInjected:%201", "-", -1, "-", "/%0d%0aInjected:%201");
    accept("http://h/a/../b/./c", "-", -1, "-", "/a/../b/./c");
    accept("http://h/caf\xc3\xa9?q=\xe2\x82\xac", "-", -1, "-", "/caf%C3%A9?q=%E2%82%AC");
    accept("http://h/a\\b{}|^`\"<>", "-", -1, "-", "/a\\b{}|^`\"<>");
    accept("http://h/a@b:c", "h", -1, "h", "/a@b:c");
    accept("http://0.0.0.0/", "0.0.0.0", -1, "-", "/");
    accept("http://255.255.255.255/", "255.255.255.255", -1, "-", "/");
    accept("http://1.2.3.4.example/", "1.2.3.4.example", -1, "-", "/");
    accept("http://0x7f.example/", "0x7f.example", -1, "-", "/");
    accept("http://123abc/", "123abc", -1, "-", "/");
    accept("http://xn--exmple-cua.test/", "xn--exmple-cua.test", -1, "-", "/");

    struct spate_url u;
    char err[256];
    spate_url_parse(&u, "http://127.0.0.1/", err, sizeof err);
    is_int(u.host_ip, 4, "dotted quad is an IPv4 literal");
    spate_url_fini(&u);
    spate_url_parse(&u, "http://[::1]/", err, sizeof err);
    is_int(u.host_ip, 6, "bracketed literal is IPv6");
    spate_url_fini(&u);
    spate_url_parse(&u, "http://u\xc3\xa9:p@h/", err, sizeof err);
    is_str(u.userinfo, "u%C3%A9:p", "non-ASCII in userinfo is percent-encoded");
    spate_url_fini(&u);

    /* Labels of exactly 63 and a name of exactly 253 bytes are the limits, not past them. */
    char big[400];
    memset(big, 'a', 63);
    strcpy(big + 63, ".x");
    char url[512];
    snprintf(url, sizeof url, "http://%s/", big);
    accept(url, big, 80, big, "/");
    size_t n = 0;
    while (n + 2 <= 253) {
        memcpy(big + n, "a.", 2);
        n += 2;
    }
    big[n] = 'a';
    big[n + 1] = '\0';
    is_int((long long)strlen(big), 253, "name of 253 bytes built");
    snprintf(url, sizeof url, "http://%s/", big);
    accept(url, big, 80, "-", "/");
    snprintf(url, sizeof url, "http://%s./", big);
    accept(url, big, 80, "-", "/");

    /* Exactly 65536 bytes is accepted. */
    char *huge = malloc(SPATE_URL_MAX + 2);
    if (huge) {
        memset(huge, 'a', SPATE_URL_MAX + 1);
        memcpy(huge, "http://h/", 9);
        huge[SPATE_URL_MAX] = '\0';
        is_int(spate_url_parse(&u, huge, err, sizeof err), 0, "URL of exactly 65536 bytes ok");
        is_int((long long)strlen(u.target), SPATE_URL_MAX - 8, "  whole path kept");
        spate_url_fini(&u);
        huge[SPATE_URL_MAX] = 'a';
        huge[SPATE_URL_MAX + 1] = '\0';
        refuse(huge, "URL too long (limit 65536 bytes)");
        free(huge);
    }
}

static void test_refused(void)
{
    refuse("", "empty URL");
    refuse("   ", "empty URL");
    refuse("\t", "empty URL");
    refuse("example.com/x", "missing scheme");
    refuse("example.com", "missing scheme");
    refuse("localhost:8080/x", "missing scheme");
    refuse("localhost:8080", "missing scheme");
    refuse("//example.com/x", "missing scheme");
    refuse("[::1]:80/", "missing scheme");
    refuse("/x", "missing scheme");
    refuse("htfp://h/", "unsupported scheme \"htfp\" (supported: http, https)");
    refuse("ftp://h/", "unsupported scheme \"ftp\" (supported: http, https)");
    refuse("file:///etc/passwd", "unsupported scheme \"file\"");
    refuse("ws://h/", "unsupported scheme \"ws\"");
    refuse("javascript:alert(1)", "unsupported scheme \"javascript\"");
    refuse("http:/x", "missing host");
    refuse("http:x", "missing host");
    refuse("http://", "missing host");
    refuse("http:///x", "missing host");
    refuse("http://:80/", "missing host");
    refuse("https://?q=1", "missing host");
    refuse("http://user@/", "missing host");
    refuse("http://127.0.0.1:0/", "invalid port \"0\"");
    refuse("http://h:65536/", "invalid port \"65536\"");
    refuse("http://h:99999/", "invalid port \"99999\"");
    refuse("http://h:99999999999999999999/", "invalid port \"99999999999999999999\"");
    refuse("http://h:-1/", "invalid port \"-1\"");
    refuse("http://h:80a/", "invalid port \"80a\"");
    refuse("http://h:alpha/", "invalid port \"alpha\"");
    refuse("http://h:+80/", "invalid port");
    refuse("http://h:80:80/", "invalid port \"80:80\"");
    refuse("http://h: 80/", "invalid character 0x20 in URL");
    refuse("http://[::1/", "invalid IPv6 literal");
    refuse("http://[::1]x/", "invalid IPv6 literal");
    refuse("http://[::1][::1]/", "invalid IPv6 literal");
    refuse("http://::1/", "invalid IPv6 literal");
    refuse("http://fe80::1/", "invalid IPv6 literal");
    refuse("http://[1:2:3:4:5:6:7:8:9]/", "invalid IPv6 literal");
    refuse("http://[v1.fe80::abcd]/", "invalid IPv6 literal");
    refuse("http://[]/", "invalid IPv6 literal");
    refuse("http://[127.0.0.1]/", "invalid IPv6 literal");
    refuse("http://[fe80::1%25lo]:8080/", "zone IDs are not supported");
    refuse("http://[::1]:0/", "invalid port");
    refuse("http://127.1/", "invalid host \"127.1\" (non-standard numeric address)");
    refuse("http://2130706433/", "non-standard numeric address");
    refuse("http://0x7f.0.0.1/", "non-standard numeric address");
    refuse("http://0177.0.0.1/", "non-standard numeric address");
    refuse("http://127.0.0.01/", "non-standard numeric address");
    refuse("http://256.0.0.1/", "non-standard numeric address");
    refuse("http://1.2.3.4.5/", "non-standard numeric address");
    refuse("http://example.123/", "non-standard numeric address");
    refuse("http://example.0x1f/", "non-standard numeric address");
    accept("http://1.2.3.4./x", "1.2.3.4", 80, "1.2.3.4", "/x");
    refuse("http://user@evil@127.0.0.1/", "ambiguous userinfo");
    refuse("http://user@[::1]@localhost/", "ambiguous userinfo");
    refuse("http://evil.test\\@127.0.0.1/", "invalid character '\\' before the path");
    refuse("http://h\\x/", "invalid character '\\' before the path");
    refuse("http://exam ple.com/", "invalid host \"exam ple.com\"");
    refuse("http://example.com%40127.0.0.1/", "invalid host \"example.com%40127.0.0.1\"");
    refuse("https://exam{ple.net", "invalid host \"exam{ple.net\"");
    refuse("http://a!b/", "invalid host");
    refuse("http://ex\xc3\xa4mple.test/", "internationalized domain names are not supported");
    refuse("http://bad..name/", "invalid host \"bad..name\" (empty label)");
    refuse("http://.name/", "empty label");
    refuse("http://./", "invalid host \".\"");
    refuse("http://localhost../", "empty label");
    refuse("http://h/a b", "invalid character 0x20 in URL");
    refuse("http://h/a\tb", "invalid character 0x09 in URL");
    refuse("http://h/a\r\nX: y", "invalid character 0x0d in URL");
    refuse("http://h/a\nb", "invalid character 0x0a in URL");
    refuse("http://h/?a=\x01", "invalid character 0x01 in URL");
    refuse("http://h/\x7f", "invalid character 0x7f in URL");
    refuse("http://h/#frag ment", "invalid character 0x20 in URL");
    refuse(" http://h/", "invalid character 0x20 in URL");
    refuse("http://h/ ", "invalid character 0x20 in URL");
    refuse("http://us er@h/", "invalid character 0x20 in URL");
    refuse("http://h\r\nX:1/", "invalid host \"h\\x0d\\x0aX\" (invalid character 0x0d)");

    char big[600], url[700];
    memset(big, 'a', 64);
    strcpy(big + 64, ".x");
    snprintf(url, sizeof url, "http://%s/", big);
    refuse(url, "label longer than 63 bytes");
    size_t n = 0;
    while (n + 2 <= 254) {
        memcpy(big + n, "a.", 2);
        n += 2;
    }
    big[n] = 'a';
    big[n + 1] = '\0'; /* 255 bytes */
    snprintf(url, sizeof url, "http://%s/", big);
    refuse(url, "name longer than 253 bytes");
    refuse(url, "...\""); /* the echo of a long host is cut short */

    char *huge = malloc(1 << 20);
    if (huge) {
        memset(huge, 'a', (1 << 20) - 1);
        memcpy(huge, "http://h/", 9);
        huge[(1 << 20) - 1] = '\0';
        refuse(huge, "URL too long (limit 65536 bytes)");
        /* an encoded target that outgrows the limit is refused too */
        for (size_t i = 9; i < SPATE_URL_MAX - 1; i++)
            huge[i] = (char)0xe9;
        huge[SPATE_URL_MAX - 1] = '\0';
        refuse(huge, "URL too long");
        free(huge);
    }
}

static void test_origin(void)
{
    struct spate_url a, b;
    char err[256];
    const char *same[][2] = {
        {"http://h/a", "HTTP://H:80/b?x"},
        {"http://localhost/", "http://localhost./"},
        {"https://[::1]/", "https://[0::1]:443/x"},
        {"http://u:p@h/", "http://h/"},
    };
    const char *other[][2] = {
        {"http://h/", "https://h/"},
        {"http://h/", "http://h:8080/"},
        {"http://localhost/", "http://127.0.0.1/"},
        {"https://h:443/", "http://h:443/"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        spate_url_parse(&a, same[i][0], err, sizeof err);
        spate_url_parse(&b, same[i][1], err, sizeof err);
        is_int(spate_url_same_origin(&a, &b), 1, "same origin: %s %s", same[i][0], same[i][1]);
        spate_url_fini(&a);
        spate_url_fini(&b);
    }
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        spate_url_parse(&a, other[i][0], err, sizeof err);
        spate_url_parse(&b, other[i][1], err, sizeof err);
        is_int(spate_url_same_origin(&a, &b), 0, "other origin: %s %s", other[i][0], other[i][1]);
        spate_url_fini(&a);
        spate_url_fini(&b);
    }
    is_int(spate_url_same_origin(NULL, &a), 0, "NULL is no origin");
}

static void test_resolve(void)
{
    const char *base = "http://a/b/c/d;p?q";
    /* RFC 3986 §5.4.1 normal examples (the ones an http base can express) */
    resolve(base, "g", "a", 80, "/b/c/g");
    resolve(base, "./g", "a", 80, "/b/c/g");
    resolve(base, "g/", "a", 80, "/b/c/g/");
    resolve(base, "/g", "a", 80, "/g");
    resolve(base, "//g", "g", 80, "/");
    resolve(base, "?y", "a", 80, "/b/c/d;p?y");
    resolve(base, "g?y", "a", 80, "/b/c/g?y");
    resolve(base, "#s", "a", 80, "/b/c/d;p?q");
    resolve(base, "g#s", "a", 80, "/b/c/g");
    resolve(base, ";x", "a", 80, "/b/c/;x");
    resolve(base, ".", "a", 80, "/b/c/");
    resolve(base, "./", "a", 80, "/b/c/");
    resolve(base, "..", "a", 80, "/b/");
    resolve(base, "../", "a", 80, "/b/");
    resolve(base, "../g", "a", 80, "/b/g");
    resolve(base, "../..", "a", 80, "/");
    resolve(base, "../../g", "a", 80, "/g");
    /* §5.4.2 abnormal examples */
    resolve(base, "../../../g", "a", 80, "/g");
    resolve(base, "/./g", "a", 80, "/g");
    resolve(base, "/../g", "a", 80, "/g");
    resolve(base, "g.", "a", 80, "/b/c/g.");
    resolve(base, "..g", "a", 80, "/b/c/..g");
    resolve(base, "./g/.", "a", 80, "/b/c/g/");
    resolve(base, "g/./h", "a", 80, "/b/c/g/h");
    resolve(base, "g/../h", "a", 80, "/b/c/h");
    resolve(base, "g;x=1/../y", "a", 80, "/b/c/y");
    resolve(base, "g?y/./x", "a", 80, "/b/c/g?y/./x");
    /* what redirects actually send */
    resolve("http://h:8080/a/b", "../x", "h", 8080, "/x");
    resolve("http://h:8080/a/b", "x/../y", "h", 8080, "/a/y");
    resolve("http://h:8080/a/b?old", "?q=1", "h", 8080, "/a/b?q=1");
    resolve("http://h:8080/a/b", "//other:81/p", "other", 81, "/p");
    resolve("https://h/a/b", "//other/p", "other", 443, "/p");
    resolve("http://h/a", "https://x.test/y/../z#f", "x.test", 443, "/z");
    resolve("http://h/a", "/abs?x#y", "h", 80, "/abs?x");
    resolve("http://[::1]:9/a/b", "c", "::1", 9, "/a/c");
    resolve("http://h/", "/%2e%2e/x", "h", 80, "/%2e%2e/x");
    resolve("http://h/a/b/", "../../../../..", "h", 80, "/");

    struct spate_url b, u;
    char err[256];
    spate_url_parse(&b, "http://user:pw@h/a", err, sizeof err);
    is_int(spate_url_resolve(&u, &b, "/x", err, sizeof err), 0, "relative resolve with userinfo");
    is_str(u.userinfo, "user:pw", "  relative reference keeps base userinfo");
    spate_url_fini(&u);
    is_int(spate_url_resolve(&u, &b, "http://other/", err, sizeof err), 0, "absolute resolve");
    ok(u.userinfo == NULL, "  absolute reference has its own (no) userinfo");
    spate_url_fini(&u);
    spate_url_fini(&b);
    is_int(spate_url_resolve(&u, NULL, "/x", err, sizeof err), -EINVAL, "NULL base refused");

    resolve_refused("http://h/", "", "empty URL");
    resolve_refused("http://h/", "file:///etc/passwd", "unsupported scheme \"file\"");
    resolve_refused("http://h/", "ftp://h/x", "unsupported scheme \"ftp\"");
    resolve_refused("http://h/", "data:,x", "unsupported scheme \"data\"");
    resolve_refused("http://h/", "javascript:x", "unsupported scheme \"javascript\"");
    resolve_refused("http://h/", "http://[::1", "invalid IPv6 literal");
    resolve_refused("http://h/", "http://h:99999/", "invalid port \"99999\"");
    resolve_refused("http://h/", "http:// sp", "invalid");
    resolve_refused("http://h/", "///x", "missing host");
    resolve_refused("http://h/", "/a\r\nSet-Cookie: x", "invalid character 0x0d in URL");
}

int main(void)
{
    test_basics();
    test_accepted();
    test_refused();
    test_origin();
    test_resolve();
    return done();
}
