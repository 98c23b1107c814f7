/* Unit tests for cli/json.c: parsing, compact re-serialization, string escaping, UTF-8 checks. */
#include "tap.h"
#include "json.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parses in and checks that writing it back gives want. */
static void round_trip(const char *in, const char *want)
{
    struct spate_json *v;
    struct spate_text b;
    char err[256];
    int rc = spate_json_parse(in, strlen(in), &v, err, sizeof err);
    if (!is_int(rc, 0, "parse %s", in)) {
        diag("error: %s", err);
        return;
    }
    spate_text_init(&b);
    rc = spate_json_write(&b, v);
    ok(rc == 0 && strcmp(b.s, want) == 0, "  writes back as %s", want);
    if (rc == 0 && strcmp(b.s, want)) diag("got %s", b.s);
    spate_text_fini(&b);
    spate_json_free(v);
}

/* Parses in[0..n) and expects -EINVAL with want in the message. */
static void refuse_n(const char *in, size_t n, const char *want)
{
    struct spate_json *v = (struct spate_json *)&v; /* must come back NULL */
    char err[256] = "";
    int rc = spate_json_parse(in, n, &v, err, sizeof err);
    if (!ok(rc == -EINVAL && v == NULL && strstr(err, want), "refuse %.50s: %s", in, want))
        diag("rc %d, error: %s", rc, err);
    if (rc == 0) spate_json_free(v);
}

static void refuse(const char *in, const char *want)
{
    refuse_n(in, strlen(in), want);
}

static void test_round_trips(void)
{
    round_trip("{\"a\":1,\"b\":[true,false,null],\"c\":\"x\"}",
               "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\"}");
    round_trip(" \t\r\n{ \"a\" : [ 1 , 2 ] ,\n\"b\":{} } \n", "{\"a\":[1,2],\"b\":{}}");
    round_trip("[]", "[]");
    round_trip("{}", "{}");
    round_trip("[[[]],{}]", "[[[]],{}]");
    round_trip("\"\"", "\"\"");
    round_trip("null", "null");
    round_trip("0", "0");
    round_trip("-0", "-0");
    round_trip("-12.50e+10", "-12.50e+10");
    round_trip("1E-2", "1E-2");
    round_trip("123456789012345678901234567890", "123456789012345678901234567890");
    round_trip("[0.5,1e5,-1]", "[0.5,1e5,-1]");
    round_trip("\"\\/\\\"\\\\\"", "\"/\\\"\\\\\"");
    round_trip("\"\\b\\f\\n\\r\\t\"", "\"\\b\\f\\n\\r\\t\"");
    round_trip("\"\\u0041\\u00e9\\u20AC\"", "\"A\xc3\xa9\xe2\x82\xac\"");
    round_trip("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    round_trip("\"\\uDBFF\\uDFFF\"", "\"\xf4\x8f\xbf\xbf\"");
    round_trip("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    round_trip("\"\\u001f\\u007f\"", "\"\\u001f\\u007f\"");
    round_trip("{\"k\":1,\"k\":2}", "{\"k\":1,\"k\":2}");
    round_trip("{\"a\\u0000b\":\"\\u0000\"}", "{\"a\\u0000b\":\"\\u0000\"}");

    /* 64 levels is the limit, not past it */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    round_trip(deep, deep);
}

static void test_access(void)
{
    const char *in = "{\"s\":\"a\\u0000b\",\"n\":42,\"arr\":[1,\"two\"],\"dup\":1,\"dup\":\"last\","
                     "\"t\":true,\"f\":false,\"z\":null,\"o\":{}}";
    struct spate_json *v;
    char err[256];
    size_t len = 0;
    const char *key;
    is_int(spate_json_parse(in, strlen(in), &v, err, sizeof err), 0, "object parses");
    is_int(spate_json_type(v), SPATE_JSON_OBJECT, "type object");
    is_int((long long)spate_json_count(v), 9, "count of members");
    const char *s = spate_json_str(spate_json_get(v, "s"), &len);
    is_mem(s, len, "a\0b", 3, "string with \\u0000 keeps its length");
    is_int(spate_json_type(spate_json_get(v, "n")), SPATE_JSON_NUMBER, "number type");
    ok(spate_json_str(spate_json_get(v, "n"), NULL) == NULL, "str of a number is NULL");
    const struct spate_json *arr = spate_json_get(v, "arr");
    is_int(spate_json_type(arr), SPATE_JSON_ARRAY, "array type");
    is_int((long long)spate_json_count(arr), 2, "array count");
    is_str(spate_json_str(spate_json_at(arr, 1, &key), NULL), "two", "array member by index");
    ok(key == NULL, "array members have no key");
    ok(spate_json_at(arr, 2, NULL) == NULL, "index past the end is NULL");
    is_str(spate_json_str(spate_json_get(v, "dup"), NULL), "last", "duplicate key: get gives last");
    ok(spate_json_get(v, "missing") == NULL, "absent key is NULL");
    ok(spate_json_get(arr, "0") == NULL, "get on an array is NULL");
    spate_json_at(v, 2, &key);
    is_str(key, "arr", "object member key by index");
    is_int(spate_json_type(spate_json_get(v, "t")), SPATE_JSON_TRUE, "true");
    is_int(spate_json_type(spate_json_get(v, "f")), SPATE_JSON_FALSE, "false");
    is_int(spate_json_type(spate_json_get(v, "z")), SPATE_JSON_NULL, "null");
    is_int((long long)spate_json_count(spate_json_get(v, "o")), 0, "empty object");
    is_int((long long)spate_json_count(spate_json_get(v, "n")), 0, "count of a scalar is 0");
    spate_json_free(v);

    in = "{\"a\\u0000b\":1}";
    spate_json_parse(in, strlen(in), &v, err, sizeof err);
    s = spate_json_key(v, 0, &len);
    is_mem(s, len, "a\0b", 3, "spate_json_key reports names with NULs");
    ok(spate_json_get(v, "a") == NULL, "such a name does not match its prefix");
    spate_json_free(v);
    spate_json_free(NULL);
    ok(1, "free(NULL) is fine");
}

static void test_refused(void)
{
    refuse("", "expected a value at byte 0");
    refuse("   ", "expected a value at byte 3");
    refuse("{\"a\":1} x", "unexpected data after the value at byte 8");
    refuse("[1]]", "unexpected data after the value at byte 3");
    refuse("{\"a\" 1}", "expected ':' at byte 5");
    refuse("{\"a\":1 \"b\":2}", "expected ',' or '}' at byte 7");
    refuse("{\"a\":1", "expected ',' or '}' at byte 6 (end of input)");
    refuse("[1 2]", "expected ',' or ']' at byte 3");
    refuse("{\"a\":1,}", "expected a string key at byte 7");
    refuse("{1:2}", "expected a string key at byte 1");
    refuse("{'a':2}", "expected a string key at byte 1 (found ''')");
    refuse("[1,]", "expected a value at byte 3");
    refuse("[", "expected a value at byte 1 (end of input)");
    refuse("\"\\x\"", "invalid escape '\\x' at byte 1");
    refuse("\"\\u12\"", "invalid \\u escape");
    refuse("\"\\u12G4\"", "invalid \\u escape");
    refuse("\"\\", "unterminated string starting at byte 0");
    refuse("[\"abc", "unterminated string starting at byte 1");
    refuse("\"abc\\\"", "unterminated string");
    refuse("01", "invalid number (leading zero) at byte 0");
    refuse("-01", "leading zero");
    refuse("1.", "invalid number");
    refuse("1.e5", "invalid number");
    refuse("-", "invalid number at byte 0");
    refuse("1e", "invalid number");
    refuse("1e+", "invalid number");
    refuse(".5", "expected a value");
    refuse("+1", "expected a value");
    refuse("0x10", "unexpected data after the value at byte 1");
    refuse("NaN", "expected a value");
    refuse("\"\\ud800\"", "lone surrogate \\uD800 at byte 1");
    refuse("\"\\udc00\"", "lone surrogate \\uDC00");
    refuse("\"\\ud800\\u0041\"", "lone surrogate");
    refuse("\"\\ud800\\ud800\"", "lone surrogate");
    refuse("\"\\ud800", "unterminated string");
    refuse("\"\\ud800\"  ", "lone surrogate");
    refuse("\"a\nb\"", "control character 0x0a in string (must be escaped) at byte 2");
    refuse("\"\t\"", "control character 0x09");
    refuse("\"\xc3(\"", "invalid UTF-8 in string at byte 1");
    refuse("\"\xc0\xaf\"", "invalid UTF-8");
    refuse("\"\xed\xa0\x80\"", "invalid UTF-8");
    refuse("\"\xf4\x90\x80\x80\"", "invalid UTF-8");
    refuse("\"\xe2\x82\"", "invalid UTF-8");
    refuse("\"\xff\"", "invalid UTF-8");
    refuse("tru", "expected a value at byte 0");
    refuse("True", "expected a value at byte 0 (found 'T')");
    refuse("nul", "expected a value");
    refuse("truex", "unexpected data after the value at byte 4");
    refuse_n("1\0", 2, "unexpected data after the value at byte 1 (found byte 0x00)");
    refuse_n("\"a\0b\"", 5, "control character 0x00");

    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    refuse(deep, "nesting deeper than 64 levels at byte 64");
    char mixed[300];
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)sprintf(mixed + n, "%s", i % 2 ? "[" : "{\"k\":");
    refuse(mixed, "nesting deeper than 64 levels");

    /* a long hostile input fails without reading past its length */
    char *big = malloc(100000);
    if (big) {
        memset(big, '[', 100000);
        refuse_n(big, 100000, "nesting deeper than 64 levels");
        memset(big, ' ', 100000);
        big[0] = '"';
        refuse_n(big, 100000, "unterminated string");
        free(big);
    }
    struct spate_json *v;
    ok(spate_json_parse(NULL, 0, &v, NULL, 0) == -EINVAL && v == NULL,
       "NULL input and NULL err are fine");
}

static void test_add_string(void)
{
    static const char *want[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    };
    struct spate_text b;
    int all = 1;
    for (int c = 0; c < 32; c++) {
        char in = (char)c, expect[16];
        spate_text_init(&b);
        spate_json_add_string(&b, &in, 1);
        snprintf(expect, sizeof expect, "\"%s\"", want[c]);
        if (b.len != strlen(expect) || memcmp(b.s, expect, b.len)) {
            diag("control 0x%02x escaped as %.*s", c, (int)b.len, b.s);
            all = 0;
        }
        spate_text_fini(&b);
    }
    ok(all, "every control character 0x00-0x1f is escaped");

    const char in[] = "a\"b\\c/d\x7f\xc3\xa9\xff e\r\n";
    const char expect[] = "\"a\\\"b\\\\c/d\\u007f\xc3\xa9\xff e\\r\\n\"";
    spate_text_init(&b);
    is_int(spate_json_add_string(&b, in, sizeof in - 1), 0, "add_string returns 0");
    is_mem(b.s, b.len, expect, sizeof expect - 1,
           "quotes, backslash and DEL escaped; '/' and bytes >= 0x80 passed through");
    spate_text_fini(&b);
    spate_text_init(&b);
    spate_json_add_string(&b, "", 0);
    is_mem(b.s, b.len, "\"\"", 2, "empty string");
    spate_text_fini(&b);

    /* the escaped output parses back to the same bytes */
    char all_bytes[128];
    for (int c = 0; c < 128; c++)
        all_bytes[c] = (char)c;
    spate_text_init(&b);
    spate_json_add_string(&b, all_bytes, sizeof all_bytes);
    struct spate_json *v;
    char err[128];
    size_t len = 0;
    is_int(spate_json_parse(b.s, b.len, &v, err, sizeof err), 0, "escaped ASCII parses back");
    const char *s = spate_json_str(v, &len);
    is_mem(s, len, all_bytes, sizeof all_bytes, "  to the same 128 bytes");
    spate_json_free(v);
    spate_text_fini(&b);
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t n;
        int valid;
        const char *what;
    } cases[] = {
        {"", 0, 1, "empty"},
        {"plain ascii", 11, 1, "ASCII"},
        {"\0", 1, 1, "NUL is valid UTF-8"},
        {"\xc3\xa9", 2, 1, "U+00E9"},
        {"\xe2\x82\xac", 3, 1, "U+20AC"},
        {"\xed\x9f\xbf", 3, 1, "U+D7FF, last before the surrogates"},
        {"\xee\x80\x80", 3, 1, "U+E000, first after the surrogates"},
        {"\xf0\x9f\x98\x80", 4, 1, "U+1F600"},
        {"\xf4\x8f\xbf\xbf", 4, 1, "U+10FFFF"},
        {"\xc0\x80", 2, 0, "overlong NUL"},
        {"\xc1\xbf", 2, 0, "overlong 2-byte"},
        {"\xe0\x80\xaf", 3, 0, "overlong 3-byte"},
        {"\xf0\x8f\xbf\xbf", 4, 0, "overlong 4-byte"},
        {"\xed\xa0\x80", 3, 0, "surrogate U+D800"},
        {"\xed\xbf\xbf", 3, 0, "surrogate U+DFFF"},
        {"\xf4\x90\x80\x80", 4, 0, "above U+10FFFF"},
        {"\xf5\x80\x80\x80", 4, 0, "lead byte 0xF5"},
        {"\xff", 1, 0, "0xFF"},
        {"\x80", 1, 0, "lone continuation byte"},
        {"\xe2\x82", 2, 0, "truncated sequence"},
        {"a\xe2\x82", 3, 0, "truncated at the end"},
        {"\xc3\x28", 2, 0, "bad continuation"},
        {"\xe2\x82\xac", 2, 0, "length cuts the sequence"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_int(spate_json_utf8_valid(cases[i].s, cases[i].n), cases[i].valid, "utf8 %s: %s",
               cases[i].valid ? "valid" : "invalid", cases[i].what);
}

/* spate_json_u64: whole decimals only, exact up to 2^64-1. */
static void test_u64(void)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } c[] = {
        {"0", 0, 0},
        {"4398046511103", 0, UINT64_C(4398046511103)},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"99999999999999999999", -ERANGE, 0},
        {"-1", -EINVAL, 0},
        {"-0", -EINVAL, 0},
        {"1.0", -EINVAL, 0},
        {"1e3", -EINVAL, 0},
        {"\"7\"", -EINVAL, 0},
        {"null", -EINVAL, 0},
        {"[7]", -EINVAL, 0},
    };
    int pass = 1;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct spate_json *v;
        char err[128];
        uint64_t got = 12345;
        if (spate_json_parse(c[i].in, strlen(c[i].in), &v, err, sizeof err)) {
            pass = 0;
            continue;
        }
        int rc = spate_json_u64(v, &got);
        if (rc != c[i].rc || (rc == 0 && got != c[i].want) || (rc && got != 12345)) {
            pass = 0;
            diag("%s: rc %d, %llu", c[i].in, rc, (unsigned long long)got);
        }
        spate_json_free(v);
    }
    ok(pass && spate_json_u64(NULL, NULL) == -EINVAL,
       "u64: 0 .. 2^64-1 exact; above -ERANGE; sign, fraction, exponent, strings -EINVAL");
}

int main(void)
{
    test_round_trips();
    test_access();
    test_refused();
    test_add_string();
    test_utf8();
    test_u64();
    return done();
}
