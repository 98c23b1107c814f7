/* One line of `spate fetch` input: a bare URL, or a JSON object naming url, method, headers, body
 * or json, and id. Only the line's shape is checked here; spate_request_check judges the content.
 */
#ifndef SPATE_INPUT_H
#define SPATE_INPUT_H
#include "spate.h"
#include <stddef.h>

struct spate_input_item {
    char *url;                    /* owned */
    char *method;                 /* owned, NULL = default */
    struct spate_header *headers; /* owned array; every name and value string owned too */
    size_t nheaders;
    char *body;      /* owned, NUL-terminated for convenience, NULL = none */
    size_t body_len; /* may include NULs ("\u0000" in the JSON string) */
    int json_body;   /* body came from "json": add Content-Type/Accept application/json */
    char *id_json;   /* the "id" value re-serialized as compact JSON, owned; NULL = none */
};

/* Parses line[0..len) (without its '\n'; a trailing CR and a leading UTF-8 BOM are dropped).
 * Returns 1 with *it filled, 0 for a line to skip (blank: only spaces/tabs; or first non-blank
 * character '#'), or -1 with err naming the problem. *it is zeroed unless 1 is returned.
 * A line whose first non-blank character is '{' is JSON; anything else is a URL, trimmed of
 * surrounding spaces and tabs. A NUL byte in the URL, method or headers is refused (it would
 * silently cut the string); nothing else about them is validated. */
int spate_input_parse_line(const char *line, size_t len, struct spate_input_item *it, char *err,
                           size_t errlen);
/* Frees what it owns and zeroes it. NULL-safe, idempotent. */
void spate_input_item_fini(struct spate_input_item *it);

#endif
