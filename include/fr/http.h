/* SPDX-License-Identifier: MIT */
/*
 * The HTTP front end (--http): routes requests to streams. GET /stream/NAME turns
 * the connection into a multipart subscriber, PUT|POST /ingest/NAME into the
 * stream's producer; /snapshot (at once or, with ?wait=, at the next frame), /stats,
 * /stats/history, /metrics and / are answered from memory.
 */
#ifndef FR_HTTP_H
#define FR_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "fr/addr.h"
#include "fr/admit.h"
#include "fr/registry.h"

struct fr_http;

struct fr_http_params {
	struct fr_registry *registry;
	struct fr_admit *admit;		/* subscribers and the pending budget */
	double client_timeout_s;	/* no write progress for this long: closed */
	double head_timeout_s;		/* no complete request head for this long: closed */
	/* The global tokens, which open every stream (a stream's own tokens are in its
	 * registry entry); NULL: none. */
	const char *ingest_token;	/* to push */
	const char *subscribe_token;	/* to read */
	const struct fr_acl *allow;	/* peers that may connect (borrowed); NULL: all */
	uint64_t *connections_denied;	/* bumped for each peer allow refuses */
	/*
	 * GET /healthz answers 200 while this says yes (NULL: always), else 503 with
	 * why (one line, up to len bytes): for load balancers' health checks.
	 */
	bool (*is_healthy)(void *arg, char *why, size_t len);
	/*
	 * A GET for a stream that does not exist, under a valid name: returns the stream
	 * made for it (federation: served from wherever it is ingested), or NULL for 404.
	 */
	struct fr_registry_entry *(*discover)(void *arg, const char *name);
	void *hook_arg;			/* for is_healthy and discover */
};

/* Binds addr. NULL with one line in err (FR_ERR_LEN bytes), e.g. the port in use. */
struct fr_http *fr_http_new(struct ev_loop *loop, const struct fr_addr *addr,
    const struct fr_http_params *params, char *err);

void fr_http_start(struct fr_http *h);

/* New limits and tokens (SIGHUP) for the requests and subscribers that come next. */
void fr_http_set_params(struct fr_http *h, const struct fr_http_params *params);

/* Closes the listener and every connection still in its HTTP phase. NULL: nothing. */
void fr_http_free(struct fr_http *h);

const struct fr_addr *fr_http_addr(const struct fr_http *h);

#endif /* FR_HTTP_H */
