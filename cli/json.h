/* A small JSON (RFC 8259) reader for input lines and writer helpers for JSON Lines output.
 * Strict: one value, no extensions, strings must be valid UTF-8 once decoded. */
#ifndef SPATE_JSON_H
#define SPATE_JSON_H
#include "text.h"
#include <stddef.h>
#include <stdint.h>

#define SPATE_JSON_MAX_DEPTH 64 /* nested arrays/objects accepted */

enum spate_json_type {
    SPATE_JSON_NULL,
    SPATE_JSON_FALSE,
    SPATE_JSON_TRUE,
    SPATE_JSON_NUMBER,
    SPATE_JSON_STRING,
    SPATE_JSON_ARRAY,
    SPATE_JSON_OBJECT,
};

struct spate_json; /* opaque; a tree owned by its root */

/* Parses exactly one JSON value from s[0..n) (whitespace around it allowed, nothing after).
 * Strings are decoded (\uXXXX and surrogate pairs to UTF-8; \u0000 kept, lengths tracked).
 * Duplicate object keys are kept; spate_json_get returns the last one.
 * Returns 0 with *out owned by the caller, -EINVAL with err naming the problem and its 0-based byte
 * offset ("expected ':' at byte 12"), or -ENOMEM. On error *out is NULL. */
int spate_json_parse(const char *s, size_t n, struct spate_json **out, char *err, size_t errlen);
/* Frees the whole tree. NULL-safe. */
void spate_json_free(struct spate_json *v);

enum spate_json_type spate_json_type(const struct spate_json *v); /* v must not be NULL */
/* The member named key (the last one when repeated); NULL if absent or obj is not an object. */
const struct spate_json *spate_json_get(const struct spate_json *obj, const char *key);
/* The decoded bytes of a string, NUL-terminated, length in *len (may be NULL); NULL if v is not a
 * string. The bytes may contain NULs: use *len. Owned by the tree. */
const char *spate_json_str(const struct spate_json *v, size_t *len);
/* A number that is a whole decimal without sign, fraction or exponent ("0", "123") into *out.
 * 0; -EINVAL when v is not a number or not of that form (-1, 1.5, 1e3); -ERANGE above 2^64-1. */
int spate_json_u64(const struct spate_json *v, uint64_t *out);
/* Any JSON number as a double into *out. 0; -EINVAL when v is not a number; -ERANGE when it
 * does not fit a finite double (1e999). */
int spate_json_double(const struct spate_json *v, double *out);
/* Members of an object or array; 0 for anything else. */
size_t spate_json_count(const struct spate_json *v);
/* The i-th member (in source order), NULL when out of range or v is not a container; *key (if key
 * is not NULL) is set to the member's name for objects, NULL for arrays. */
const struct spate_json *spate_json_at(const struct spate_json *v, size_t i, const char **key);
/* Name of the i-th member of an object with its length (names may hold NULs); NULL otherwise. */
const char *spate_json_key(const struct spate_json *obj, size_t i, size_t *len);

/* Appends v serialized compactly (numbers exactly as their source text). 0 or -ENOMEM. */
int spate_json_write(struct spate_text *b, const struct spate_json *v);
/* Appends s[0..n) as a JSON string literal with quotes. Escapes '"', '\\', control characters
 * (\n \r \t \b \f, others \u00xx, DEL as \u007f); bytes >= 0x80 pass through unchanged (check them
 * with spate_json_utf8_valid first). 0 or -ENOMEM. */
int spate_json_add_string(struct spate_text *b, const char *s, size_t n);
/* 1 if s[0..n) is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), else 0.
 */
int spate_json_utf8_valid(const char *s, size_t n);

#endif
