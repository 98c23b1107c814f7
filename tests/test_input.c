/* Unit tests for cli/input.c: URL lines, JSON lines, skipping rules and every error message. */
#include "tap.h"
#include "input.h"
#include <string.h>

static int parse(const char *line, struct spate_input_item *it, char *err, size_t errlen)
{
    return spate_input_parse_line(line, strlen(line), it, err, errlen);
}

static void url_line(const char *line, const char *want)
{
    struct spate_input_item it;
    char err[256];
    int rc = parse(line, &it, err, sizeof err);
    if (is_int(rc, 1, "URL line \"%s\"", line))
        ok(it.url && strcmp(it.url, want) == 0 && !it.method && !it.headers && !it.body &&
               !it.id_json,
           "  gives only url %s", want);
    else
        diag("error: %s", err);
    spate_input_item_fini(&it);
}

static void skipped(const char *line, size_t len, const char *what)
{
    struct spate_input_item it;
    char err[256];
    int rc = spate_input_parse_line(line, len, &it, err, sizeof err);
    ok(rc == 0 && it.url == NULL, "skipped: %s", what);
    spate_input_item_fini(&it);
}

static void refused(const char *line, const char *want)
{
    struct spate_input_item it;
    char err[256] = "";
    int rc = parse(line, &it, err, sizeof err);
    int zero = !it.url && !it.method && !it.headers && !it.nheaders && !it.body && !it.id_json;
    if (!ok(rc == -1 && zero && strcmp(err, want) == 0, "refused %s", line))
        diag("rc %d, error: %s", rc, err);
    spate_input_item_fini(&it);
}

static void test_url_lines(void)
{
    url_line("http://h/x", "http://h/x");
    url_line("  \thttp://h/x \t ", "http://h/x");
    url_line("http://h/x\r", "http://h/x");
    url_line("http://h/x\r\n", "http://h/x");
    url_line("\xef\xbb\xbfhttp://h/bom", "http://h/bom");
    url_line("\xef\xbb\xbf  http://h/bom\r", "http://h/bom");
    url_line("example.com/no-scheme", "example.com/no-scheme"); /* judged later, by the engine */
    url_line("http://h/a b", "http://h/a b");
    url_line("[1,2]", "[1,2]");
    url_line("http://h/#not-a-comment", "http://h/#not-a-comment");

    struct spate_input_item it;
    char err[256];
    is_int(spate_input_parse_line("http://h/\0x", 11, &it, err, sizeof err), -1,
           "NUL byte in a URL line refused");
    is_str(err, "invalid character 0x00 in URL", "  message");
    is_int(spate_input_parse_line("http://h/x--", 9, &it, err, sizeof err), 1, "len is honoured");
    is_str(it.url, "http://h/", "  only len bytes taken");
    spate_input_item_fini(&it);
}

static void test_skipping(void)
{
    skipped("", 0, "empty line");
    skipped("   \t ", 5, "spaces and tabs");
    skipped("\r", 1, "lone CR");
    skipped("\r\n", 2, "CRLF");
    skipped("\xef\xbb\xbf", 3, "BOM only");
    skipped("\xef\xbb\xbf\r\n", 5, "BOM and CRLF");
    skipped("# a comment", 11, "comment");
    skipped("   # indented comment", 21, "indented comment");
    skipped("#http://h/", 10, "commented-out URL");
    skipped(NULL, 0, "NULL line");
}

static void test_json_lines(void)
{
    struct spate_input_item it;
    char err[256];
    const char *line =
        " {\"url\": \"http://h/p\", \"method\": \"POST\", \"headers\": "
        "{\"X-A\": \"1\", \"X-B\": \"two words\"}, \"body\": \"caf\\u00e9\\u0000!\", "
        "\"id\": {\"n\": [1, 2.50]}}\r";
    is_int(parse(line, &it, err, sizeof err), 1, "full JSON line parses");
    is_str(it.url, "http://h/p", "url");
    is_str(it.method, "POST", "method");
    is_int((long long)it.nheaders, 2, "two headers");
    ok(it.nheaders == 2 && strcmp(it.headers[0].name, "X-A") == 0 &&
           strcmp(it.headers[0].value, "1") == 0 && strcmp(it.headers[1].name, "X-B") == 0 &&
           strcmp(it.headers[1].value, "two words") == 0,
       "headers in order, names and values");
    is_mem(it.body, it.body_len, "caf\xc3\xa9\0!", 7, "body: the string's UTF-8 bytes, NUL kept");
    is_int(it.json_body, 0, "plain body is not JSON");
    is_str(it.id_json, "{\"n\":[1,2.50]}", "id re-serialized compactly, numbers verbatim");
    spate_input_item_fini(&it);
    ok(!it.url && !it.headers && !it.body && !it.nheaders, "fini leaves it zeroed");
    spate_input_item_fini(&it);
    spate_input_item_fini(NULL);

    line = "{\"url\":\"http://h/\",\"json\":{ \"a\" : [true, null, \"x\\ny\"] },\"id\":7}";
    is_int(parse(line, &it, err, sizeof err), 1, "json field parses");
    is_str(it.body, "{\"a\":[true,null,\"x\\ny\"]}", "json body serialized compactly");
    is_int((long long)it.body_len, (long long)strlen(it.body), "json body length");
    is_int(it.json_body, 1, "json_body set");
    is_str(it.id_json, "7", "numeric id");
    ok(it.method == NULL && it.headers == NULL, "method and headers default to none");
    spate_input_item_fini(&it);

    is_int(parse("{\"url\":\"u\",\"id\":\"a\\\"b\"}", &it, err, sizeof err), 1, "string id");
    is_str(it.id_json, "\"a\\\"b\"", "string id kept as JSON text");
    spate_input_item_fini(&it);
    is_int(parse("{\"url\":\"u\",\"id\":null,\"json\":null}", &it, err, sizeof err), 1,
           "null id and null json");
    ok(it.id_json && strcmp(it.id_json, "null") == 0 && it.body && strcmp(it.body, "null") == 0,
       "  both serialized as null");
    spate_input_item_fini(&it);
    is_int(parse("{\"url\":\"u\",\"body\":\"\",\"headers\":{}}", &it, err, sizeof err), 1,
           "empty body and empty headers");
    ok(it.body && it.body_len == 0 && it.nheaders == 0 && it.headers == NULL,
       "  empty body is present, no headers");
    spate_input_item_fini(&it);
    is_int(parse("\xef\xbb\xbf{\"url\":\" http://h/ \"}\r", &it, err, sizeof err), 1,
           "JSON line after a BOM, before a CR");
    is_str(it.url, " http://h/ ", "  url from JSON is not trimmed");
    spate_input_item_fini(&it);
}

static void test_errors(void)
{
    refused("{\"url\": \"http://h/\" \"method\": \"GET\"}",
            "invalid JSON: expected ',' or '}' at byte 20 (found '\"')");
    refused("{\"url\": \"http://h/\",",
            "invalid JSON: expected a string key at byte 20 (end of input)");
    refused("{\"url\": \"a\"} trailing", "invalid JSON: unexpected data after the value at byte 13 "
                                         "(found 't')");
    refused("{\"method\": \"GET\"}", "\"url\" is missing");
    refused("{}", "\"url\" is missing");
    refused("{\"url\": 5}", "\"url\" must be a string");
    refused("{\"url\": null}", "\"url\" must be a string");
    refused("{\"url\": \"http://h/\\u0000x\"}", "\"url\" must not contain NUL bytes");
    refused("{\"url\": \"u\", \"method\": [\"GET\"]}", "\"method\" must be a string");
    refused("{\"url\": \"u\", \"method\": \"G\\u0000\"}", "\"method\" must not contain NUL bytes");
    refused("{\"url\": \"u\", \"headers\": [\"X: 1\"]}",
            "\"headers\" must be an object of strings");
    refused("{\"url\": \"u\", \"headers\": {\"X\": 1}}",
            "\"headers\" must be an object of strings");
    refused("{\"url\": \"u\", \"headers\": {\"A\": \"1\", \"X\": [\"a\"]}}",
            "\"headers\" must be an object of strings");
    refused("{\"url\": \"u\", \"headers\": \"X: 1\"}", "\"headers\" must be an object of strings");
    refused("{\"url\": \"u\", \"headers\": {\"X\\u0000Y\": \"1\"}}",
            "\"headers\" must not contain NUL bytes");
    refused("{\"url\": \"u\", \"headers\": {\"X\": \"a\\u0000b\"}}",
            "\"headers\" must not contain NUL bytes");
    refused("{\"url\": \"u\", \"body\": 5}", "\"body\" must be a string");
    refused("{\"url\": \"u\", \"body\": \"a\", \"json\": {}}",
            "\"body\" and \"json\" are exclusive");
    refused("{\"url\": \"u\", \"foo\": 1}",
            "unknown field \"foo\" (known: url, method, headers, body, json, id)");
    refused("{\"url\": \"u\", \"URL\": \"v\"}",
            "unknown field \"URL\" (known: url, method, headers, body, json, id)");
    refused("{\"url\": \"u\", \"a\\nb\": 1}",
            "unknown field \"a\\x0ab\" (known: url, method, headers, body, json, id)");
    refused("{\"url\": \"a\", \"url\": \"b\"}", "duplicate field \"url\"");
    refused("{\"url\": \"a\", \"id\": 1, \"id\": 2}", "duplicate field \"id\"");
    refused("  {\"url\": \"\xff\"}", "invalid JSON: invalid UTF-8 in string at byte 11");
}

int main(void)
{
    test_url_lines();
    test_skipping();
    test_json_lines();
    test_errors();
    return done();
}
