/* SPDX-License-Identifier: MIT */
/*
 * Who may read or push a stream over HTTP, from the token a request presents: the
 * global tokens (--subscribe-token, --ingest-token) open every stream, a stream's own
 * (--stream NAME,subscribe-token=T,ingest-token=T) opens that stream, and a stream
 * with neither is open to all. Pure: strings in, a yes or no out.
 */
#ifndef FR_ACCESS_H
#define FR_ACCESS_H

#include <stdbool.h>

/*
 * Whether presented (NULL: the request has no token) opens a stream whose tokens are
 * global and own (NULL or "": none). With neither set, anyone may; otherwise the
 * presented token must equal one of them. Compared in time that does not depend on
 * where the strings differ.
 */
bool fr_access_allows(const char *global, const char *own, const char *presented);

/* True when a and b are the same token (a non-empty string), in constant time. */
bool fr_access_token_equal(const char *a, const char *b);

#endif /* FR_ACCESS_H */
