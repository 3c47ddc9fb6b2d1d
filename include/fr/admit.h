/* SPDX-License-Identifier: MIT */
/*
 * Admission: who may become a subscriber (--max-clients, over every stream and
 * protocol), and the budget of HTTP connections that have not been handed to a
 * subscriber or producer yet (--max-pending in all, --max-pending-per-peer per peer
 * address). Raw and HTTP listeners admit through here alike; refusals and evictions
 * are counted and logged (rate-limited) here.
 */
#ifndef FR_ADMIT_H
#define FR_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "fr/addr.h"
#include "fr/registry.h"
#include "fr/sub.h"

struct fr_admit;

struct fr_admit_params {
	unsigned max_clients;		/* subscribers of all streams together */
	double client_timeout_s;	/* a subscriber without write progress this long */
	/* HTTP connections not yet handed on, in all and from one IP address (unix
	 * peers: no per-peer cap). 0 acts as 1: the newest is never refused. */
	unsigned max_pending;
	unsigned max_pending_per_peer;
};

/* Closes a pending connection to make room; it must call fr_admit_pending_end(). */
typedef void (*fr_admit_evict_fn)(void *arg, const char *why);

/* A pending connection as admit.c tracks it; embedded in the connection. */
struct fr_admit_pending {
	struct fr_list age;		/* in the budget, oldest first */
	struct fr_list bucket;		/* among the pending of peers with the same hash */
	uint8_t key[16];		/* the peer's IP address, IPv4 as ::ffff:a.b.c.d */
	bool has_key;			/* false for unix peers: no per-peer cap */
	bool is_pending;
	double since;
	char peer[FR_ADDR_TEXT_LEN];
	fr_admit_evict_fn evict;
	void *arg;
};

/* reg (borrowed) counts the subscribers and keeps the process-wide counters. */
struct fr_admit *fr_admit_new(struct ev_loop *loop, struct fr_registry *reg,
    const struct fr_admit_params *params);

/* Every pending connection must have ended first. NULL does nothing. */
void fr_admit_free(struct fr_admit *a);

/* New limits (SIGHUP). Lower pending budgets take effect as connections arrive. */
void fr_admit_set_params(struct fr_admit *a, const struct fr_admit_params *params);

/*
 * Whether one more subscriber of e's stream fits under --max-clients. If not, counts
 * it in the stream's clients_refused and logs it (rate-limited); the caller refuses
 * the connection (raw: closes it; HTTP: 503).
 */
bool fr_admit_has_room(struct fr_admit *a, struct fr_registry_entry *e,
    const struct fr_addr *peer);

/*
 * Makes fd (connected, non-blocking) a subscriber of e's stream with protocol and,
 * for ?fps=, min_interval_s (0: no cap), of its frames scaled as scale asks (NULL:
 * as they are; otherwise fr_scale_check() must have said yes); call it after
 * fr_admit_has_room() said yes. The subscriber is sent the latest frame at once and
 * may already be closed when this returns. Returns false on ENOMEM, with fd closed
 * and the failure logged.
 */
bool fr_admit_subscribe(struct fr_admit *a, struct fr_registry_entry *e, int fd,
    const struct fr_addr *peer, enum fr_sub_protocol protocol, double min_interval_s,
    const struct fr_scale_spec *scale);

/*
 * Puts a new HTTP connection from peer into the pending budget. When the budget or
 * the peer's share of it is full, the oldest pending connection (of that peer, for
 * its cap) is evicted first: evict(arg) of that connection is called, counted in
 * pending_evicted and logged (rate-limited). Never refuses the new one: a client that
 * sends its request at once is served, whoever holds connections open without one.
 */
void fr_admit_pending_begin(struct fr_admit *a, struct fr_admit_pending *p,
    const struct fr_addr *peer, fr_admit_evict_fn evict, void *arg);

/* The connection was handed on or closed. Does nothing if p is not pending. */
void fr_admit_pending_end(struct fr_admit *a, struct fr_admit_pending *p);

/* Connections in the pending budget now (also the registry's connections_pending). */
unsigned fr_admit_pending_count(const struct fr_admit *a);

#endif /* FR_ADMIT_H */
