/* SPDX-License-Identifier: MIT */
/*
 * Host names to addresses without blocking the loop: c-ares, driven by libev io
 * watchers on its sockets and a timer for its timeouts. /etc/hosts and resolv.conf are
 * read as c-ares reads them; numeric addresses come back without a query. One resolver
 * per process, shared by every lookup.
 */
#ifndef FR_RESOLVE_H
#define FR_RESOLVE_H

#include <stddef.h>

#include <ev.h>

#include "fr/addr.h"

#define FR_RESOLVE_MAX_ADDRS 8

struct fr_resolver;
struct fr_resolve;

/*
 * A lookup's answer: n (1..FR_RESOLVE_MAX_ADDRS) addresses in the order to try them,
 * or n 0 and error, one line for the log. Always called from the loop, never from within
 * fr_resolver_lookup(); the lookup is freed after it returns.
 */
typedef void (*fr_resolve_fn)(void *arg, const struct fr_addr *addrs, size_t n,
    const char *error);

/* A resolver on loop. NULL with one line in err (FR_ERR_LEN bytes) if c-ares fails. */
struct fr_resolver *fr_resolver_new(struct ev_loop *loop, char *err);

/* Stops every lookup (their callbacks are not called) and frees r. NULL does nothing. */
void fr_resolver_free(struct fr_resolver *r);

/*
 * Starts looking up host (a name, or an IPv4 or IPv6 address) for TCP port port; fn(arg,
 * ...) is called with the answer. Returns the lookup, for fr_resolve_cancel(), or NULL
 * on ENOMEM (then fn is never called).
 */
struct fr_resolve *fr_resolver_lookup(struct fr_resolver *r, const char *host, unsigned port,
    fr_resolve_fn fn, void *arg);

/* Forgets a lookup whose callback has not been called: it never will be. */
void fr_resolve_cancel(struct fr_resolve *q);

#endif /* FR_RESOLVE_H */
