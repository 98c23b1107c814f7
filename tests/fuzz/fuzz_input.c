/* libFuzzer target: one line of `spate fetch` input (cli/input.c spate_input_parse_line, which
 * uses cli/json.c), followed by what fetch does with the result (spate_url_parse on the URL).
 * Invariants checked beyond "no sanitizer report":
 *  - the return is -1, 0 or 1; on 0 and -1 the item is all zero; on -1 err is non-empty;
 *  - on 1: url is set and holds no NUL (strlen), same for method and header names/values;
 *    body_len bytes of body are readable and body[body_len] == '\0';
 *    "json" bodies and ids are compact JSON: they parse back and re-serialize to the same bytes;
 *  - spate_json_parse on the raw bytes: a parsed value serializes to JSON that parses back and
 *    re-serializes identically (a fixed point); strings escaped by spate_json_add_string parse
 *    back to the same bytes when they are valid UTF-8. */
#include "input.h"
#include "json.h"
#include "url.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* s must be one JSON value in compact form: parse, write again, compare. */
static void check_compact_json(const char *s, size_t n)
{
    struct spate_json *v = NULL;
    char err[200];
    int rc = spate_json_parse(s, n, &v, err, sizeof err);
    if (rc == -ENOMEM) return;
    if (rc) fprintf(stderr, "re-parse of %.*s failed: %s\n", (int)n, s, err);
    CHECK(rc == 0 && v);
    struct spate_text b;
    spate_text_init(&b);
    if (spate_json_write(&b, v) == 0) {
        CHECK(b.len == n && memcmp(b.s, s, n) == 0);
    }
    spate_text_fini(&b);
    spate_json_free(v);
}

static volatile char g_touch;

static int is_zero(const struct spate_input_item *it)
{
    static const struct spate_input_item zero;
    return memcmp(it, &zero, sizeof zero) == 0;
}

static void check_item(const struct spate_input_item *it)
{
    CHECK(it->url != NULL);
    (void)strlen(it->url);
    if (it->method) (void)strlen(it->method);
    CHECK((it->headers == NULL) == (it->nheaders == 0));
    for (size_t i = 0; i < it->nheaders; i++) {
        CHECK(it->headers[i].name && it->headers[i].value);
        (void)strlen(it->headers[i].name);
        (void)strlen(it->headers[i].value);
    }
    if (it->body) {
        for (size_t i = 0; i < it->body_len; i++)
            g_touch ^= it->body[i];
        CHECK(it->body[it->body_len] == '\0');
    } else {
        CHECK(it->body_len == 0 && !it->json_body);
    }
    if (it->json_body) check_compact_json(it->body, it->body_len);
    if (it->id_json) check_compact_json(it->id_json, strlen(it->id_json));

    /* what fetch does next with the URL */
    struct spate_url u;
    char err[256];
    if (spate_url_parse(&u, it->url, err, sizeof err) == 0) spate_url_fini(&u);
}

static void json_roundtrip(const uint8_t *data, size_t size)
{
    struct spate_json *v = NULL;
    char err[200];
    memset(err, 'x', sizeof err);
    int rc = spate_json_parse((const char *)data, size, &v, err, sizeof err);
    if (rc) {
        CHECK(v == NULL);
        CHECK(rc == -EINVAL || rc == -ENOMEM);
        if (rc == -EINVAL) CHECK(memchr(err, '\0', sizeof err) && err[0]);
        return;
    }
    CHECK(v != NULL);
    struct spate_text b;
    spate_text_init(&b);
    if (spate_json_write(&b, v) == 0) check_compact_json(b.s, b.len);
    /* walk the tree through the accessors */
    size_t n = spate_json_count(v);
    for (size_t i = 0; i < n + 1; i++) {
        const char *key = NULL;
        const struct spate_json *m = spate_json_at(v, i, &key);
        if (i == n) {
            CHECK(m == NULL);
            break;
        }
        CHECK(m != NULL);
        size_t kl = 0;
        const char *k = spate_json_key(v, i, &kl);
        if (spate_json_type(v) == SPATE_JSON_OBJECT) {
            CHECK(k && key && k[kl] == '\0');
            const struct spate_json *g = spate_json_get(v, k);
            if (!memchr(k, '\0', kl)) CHECK(g != NULL);
        } else {
            CHECK(k == NULL);
        }
        size_t sl = 0;
        const char *s = spate_json_str(m, &sl);
        if (s) {
            CHECK(s[sl] == '\0');
            CHECK(spate_json_utf8_valid(s, sl));
        }
    }
    spate_text_fini(&b);
    spate_json_free(v);
}

static void string_roundtrip(const uint8_t *data, size_t size)
{
    if (!spate_json_utf8_valid((const char *)data, size)) return;
    struct spate_text b;
    spate_text_init(&b);
    if (spate_json_add_string(&b, (const char *)data, size) == 0) {
        for (size_t i = 0; i < b.len; i++)
            CHECK((unsigned char)b.s[i] >= 0x20 && b.s[i] != 0x7f);
        struct spate_json *v = NULL;
        int rc = spate_json_parse(b.s, b.len, &v, NULL, 0);
        if (rc != -ENOMEM) {
            CHECK(rc == 0);
            size_t n = 0;
            const char *s = spate_json_str(v, &n);
            CHECK(s && n == size && memcmp(s, data, size) == 0);
        }
        spate_json_free(v);
    }
    spate_text_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy so that ASan sees any read past the line. */
    char *line = malloc(size ? size : 1);
    if (!line) return 0;
    memcpy(line, data, size);

    struct spate_input_item it;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = spate_input_parse_line(line, size, &it, err, sizeof err);
    CHECK(rc == -1 || rc == 0 || rc == 1);
    if (rc == 1) {
        check_item(&it);
    } else {
        CHECK(is_zero(&it));
        CHECK(memchr(err, '\0', sizeof err));
        if (rc == -1) CHECK(err[0] != '\0');
    }
    spate_input_item_fini(&it);
    spate_input_item_fini(&it);
    CHECK(is_zero(&it));

    /* same line, no error buffer, and a tiny one */
    char small[3];
    CHECK(spate_input_parse_line(line, size, &it, NULL, 0) == rc);
    spate_input_item_fini(&it);
    CHECK(spate_input_parse_line(line, size, &it, small, sizeof small) == rc);
    if (rc == -1) CHECK(memchr(small, '\0', sizeof small));
    spate_input_item_fini(&it);

    json_roundtrip(data, size);
    string_roundtrip(data, size);
    free(line);
    return 0;
}
