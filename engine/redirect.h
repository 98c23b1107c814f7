/* Redirects: which responses are followed, and following one (the new URL resolved against the
 * old, credentials dropped across origins, the method changed as RFC 9110 says, the request
 * queued again). Internal to the engine. */
#ifndef SPATE_REDIRECT_H
#define SPATE_REDIRECT_H
#include "request.h"
#include <stddef.h>

/* 1 when a response with this status, r->location being set, will be followed. */
int spate_redirect_wanted(const struct spate_req *r, int status);
/* Follows r->location: 0 when r was queued again (at the front) for the new URL, else -1 with
 * msg saying why (r unchanged but for its headers and method). r holds no slot or connection. */
int spate_redirect_follow(struct spate_req *r, char *msg, size_t len);

#endif
