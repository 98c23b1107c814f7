/* The "did you mean" hints: edit distance, aliases other tools' users type, abbreviations and
 * typos, and no hint when nothing is near. */
#include "suggest.h"
#include "tap.h"
#include <string.h>

static const struct option opts[] = {
    {"timeout", 1, 0, 1},
    {"connect-timeout", 1, 0, 2},
    {"concurrency", 1, 0, 3},
    {"retries", 1, 0, 4},
    {"rate", 1, 0, 5},
    {"request", 1, 0, 6},
    {"requests", 1, 0, 7},
    {"header", 1, 0, 8},
    {"body", 0, 0, 9},
    {"data", 1, 0, 10},
    {"data-json", 1, 0, 11},
    {"output-dir", 1, 0, 12},
    {0, 0, 0, 0},
};

static const char *one(const char *typed)
{
    const char *s = spate_suggest_option(typed, opts);
    return s ? s : "(none)";
}

static void all(const char *typed, const char *want)
{
    const char *v[SPATE_SUGGEST_MAX];
    size_t n = spate_suggest_options(typed, opts, v);
    char got[200] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(got, i ? " " : "");
        strcat(got, v[i]);
    }
    is_str(got, want, "'%s' suggests: %s", typed, want);
}

int main(void)
{
    plan(19);
    is_int(spate_suggest_distance("timeout", 7, "timeout", 7), 0, "distance: equal strings 0");
    is_int(spate_suggest_distance("tiemout", 7, "timeout", 7), 1, "distance: a swap is 1");
    is_int(spate_suggest_distance("retry", 5, "retries", 7), 3, "distance: retry/retries 3");
    is_int(spate_suggest_distance("", 0, "abc", 3), 3, "distance: from empty = length");
    is_str(one("time"), "timeout", "an abbreviation: --time -> --timeout");
    is_str(one("max-time"), "timeout", "curl's --max-time -> --timeout");
    is_str(one("m"), "timeout", "curl's -m -> --timeout");
    is_str(one("retry"), "retries", "curl's --retry -> --retries");
    is_str(one("data-binary"), "data", "curl's --data-binary -> --data");
    is_str(one("output"), "output-dir", "curl's --output -> --output-dir");
    is_str(one("concurency"), "concurrency", "a typo: one letter missing");
    is_str(one("heder"), "header", "a typo: --heder");
    is_str(one("head"), "header", "--head -> --header (the issue's case)");
    is_str(one("bogus-opt"), "(none)", "nothing near: no hint");
    is_str(one("x"), "(none)", "a single unknown letter: no hint");
    is_str(one("connections"), "concurrency", "wrk's --connections -> --concurrency");
    all("con", "concurrency connect-timeout");
    all("reques", "request requests");
    all("timeout=5", "timeout");
    return done();
}
