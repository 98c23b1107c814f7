/* JSON Lines result records for `spate fetch`. */
#ifndef SPATE_OUTPUT_H
#define SPATE_OUTPUT_H
#include "text.h"
#include "spate.h"

struct spate_output_rec {
    const char *id_json; /* the input's id as JSON text, or NULL to print index */
    size_t index;
    const char *url;
    const char *method;
    int with_body;    /* add "body" or "body_base64" */
    int with_file;    /* add "file" (-o): the path of the body's file */
    const char *file; /* ... or NULL for none (no complete response) */
};

/* Appends one JSON object and a newline to b. 0 or -ENOMEM. */
int spate_output_line(struct spate_text *b, const struct spate_output_rec *rec,
                      const struct spate_response *r);

#endif
