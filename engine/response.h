/* What the host hears of a request: the response's head and body as they arrive (into the
 * request, and to the host's head and body callbacks), and at the end the one struct
 * spate_response its completion callback gets. Internal to the engine. */
#ifndef SPATE_RESPONSE_H
#define SPATE_RESPONSE_H
#include "http1.h"
#include "request.h"

/* The parser's sink for an attempt's response; its owner argument is the struct spate_req. */
extern const struct spate_http1_sink spate_response_sink;

/* Forgets what an earlier attempt received (status, headers, body, Location, Retry-After); a
 * host that was streaming the body hears a reset (its body callback with NULL, 0), from which
 * it may cancel r (r->stop is then set). */
void spate_response_reset(struct spate_req *r);
/* Completes r: the host's completion callback runs once with the result, k (SPATE_OK or an
 * error kind) and msg (not copied: valid for the callback; NULL = none), then r is freed
 * (spate_req_free). end_of_life: monotonic ns the request ends (the final attempt's end, or a
 * cancel). r must be in no queue, with no connection, timer or slot. */
void spate_response_complete(struct spate_req *r, enum spate_error_kind k, const char *msg,
                             uint64_t end_of_life);

#endif
