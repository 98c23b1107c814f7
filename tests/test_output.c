/* Unit tests for cli/output.c: the exact bytes of `spate fetch` result lines (the time fields
 * and the start are formatted by hand, not by printf, so every digit position is pinned here). */
#include "output.h"
#include "tap.h"
#include <string.h>

static void line(const struct spate_output_rec *rec, const struct spate_response *r,
                 const char *want, const char *name)
{
    struct spate_text b;
    spate_text_init(&b);
    int rc = spate_output_line(&b, rec, r);
    is_int(rc, 0, "%s: formatted", name);
    if (rc == 0) is_mem(b.s, b.len, want, strlen(want), "%s: exact line", name);
    spate_text_fini(&b);
}

static void test_ok(void)
{
    struct spate_output_rec rec = {.index = 7, .url = "http://h/a", .method = "GET"};
    struct spate_response r = {
        .status = 200, .attempts = 1, .body_bytes = 79, .message = "", .start = 1700000000.25};
    r.time = (struct spate_timing){0, 0.000203, 1.2345674, 12.5, 3600.0000004, 3600.0000004};
    line(&rec, &r,
         "{\"id\":7,\"url\":\"http://h/a\",\"method\":\"GET\",\"status\":200,\"ok\":true,"
         "\"attempts\":1,\"bytes\":79,\"start\":1700000000.250000,\"time\":{\"dns\":0.000000,"
         "\"connect\":0.000203,\"tls\":1.234567,\"ttfb\":12.500000,\"total\":3600.000000,"
         "\"elapsed\":3600.000000},\"error\":null}\n",
         "ok result");
    r.time = (struct spate_timing){0.0000005, 0.999999,      0.9999996,
                                   10.000001, 123456.789012, 234567.8999996};
    r.start = 1712345678.123456;
    line(&rec, &r,
         "{\"id\":7,\"url\":\"http://h/a\",\"method\":\"GET\",\"status\":200,\"ok\":true,"
         "\"attempts\":1,\"bytes\":79,\"start\":1712345678.123456,\"time\":{\"dns\":0.000001,"
         "\"connect\":0.999999,\"tls\":1.000000,\"ttfb\":10.000001,\"total\":123456.789012,"
         "\"elapsed\":234567.900000},\"error\":null}\n",
         "rounding to the microsecond, carries into the seconds");
    r.start = 1999999999.9999996;
    r.time = (struct spate_timing){0, 0, 0, 0, 0.5, 0.5};
    line(&rec, &r,
         "{\"id\":7,\"url\":\"http://h/a\",\"method\":\"GET\",\"status\":200,\"ok\":true,"
         "\"attempts\":1,\"bytes\":79,\"start\":2000000000.000000,\"time\":{\"dns\":0.000000,"
         "\"connect\":0.000000,\"tls\":0.000000,\"ttfb\":0.000000,\"total\":0.500000,"
         "\"elapsed\":0.500000},\"error\":null}\n",
         "start: Unix seconds with microseconds, the rounding carries");
}

static void test_error(void)
{
    struct spate_output_rec rec = {
        .id_json = "\"a\\\"b\"", .url = "http://h/\x01\"", .method = "POST"};
    struct spate_response r = {.error = SPATE_E_TIMEOUT,
                               .attempts = 3,
                               .message = "no answer\n\t\x7f\"\\",
                               .start = 1700000000.000001};
    r.time = (struct spate_timing){-1, 0, 0, 0, 30.0000001, 62.5};
    line(&rec, &r,
         "{\"id\":\"a\\\"b\",\"url\":\"http://h/\\u0001\\\"\",\"method\":\"POST\",\"status\":null,"
         "\"ok\":false,\"attempts\":3,\"bytes\":0,\"start\":1700000000.000001,\"time\":{"
         "\"dns\":0.000000,\"connect\":0.000000,\"tls\":0.000000,\"ttfb\":0.000000,"
         "\"total\":30.000000,\"elapsed\":62.500000},\"error\":{\"kind\":\"timeout\","
         "\"message\":\"no answer\\n\\t\\u007f\\\"\\\\\"}}\n",
         "error result, escapes, negative time as 0, elapsed over the retries");
    struct spate_response never = {.error = SPATE_E_CANCELED, .message = "canceled"};
    line(&rec, &never,
         "{\"id\":\"a\\\"b\",\"url\":\"http://h/\\u0001\\\"\",\"method\":\"POST\",\"status\":null,"
         "\"ok\":false,\"attempts\":0,\"bytes\":0,\"start\":null,\"time\":{\"dns\":0.000000,"
         "\"connect\":0.000000,\"tls\":0.000000,\"ttfb\":0.000000,\"total\":0.000000,"
         "\"elapsed\":0.000000},\"error\":{\"kind\":\"canceled\",\"message\":\"canceled\"}}\n",
         "never attempted: attempts 0, start null, every time 0");
}

static void test_body(void)
{
    struct spate_output_rec rec = {.index = 0, .url = "u", .method = "GET", .with_body = 1};
    struct spate_response r = {.status = 200,
                               .attempts = 1,
                               .body_bytes = 3,
                               .message = "",
                               .body = "\xff\x00z",
                               .body_len = 3};
    line(&rec, &r,
         "{\"id\":0,\"url\":\"u\",\"method\":\"GET\",\"status\":200,\"ok\":true,\"attempts\":1,"
         "\"bytes\":3,\"start\":null,\"time\":{\"dns\":0.000000,\"connect\":0.000000,"
         "\"tls\":0.000000,\"ttfb\":0.000000,\"total\":0.000000,\"elapsed\":0.000000},"
         "\"error\":null,\"body_base64\":\"/wB6\"}\n",
         "binary body as base64");
    r.body = "h\xc3\xa9\b";
    r.body_len = 4;
    r.body_bytes = 4;
    line(&rec, &r,
         "{\"id\":0,\"url\":\"u\",\"method\":\"GET\",\"status\":200,\"ok\":true,\"attempts\":1,"
         "\"bytes\":4,\"start\":null,\"time\":{\"dns\":0.000000,\"connect\":0.000000,"
         "\"tls\":0.000000,\"ttfb\":0.000000,\"total\":0.000000,\"elapsed\":0.000000},"
         "\"error\":null,\"body\":\"h\xc3\xa9\\b\"}\n",
         "UTF-8 body as a string");
}

int main(void)
{
    test_ok();
    test_error();
    test_body();
    return done();
}
