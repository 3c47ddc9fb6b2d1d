/* SPDX-License-Identifier: MIT */
/*
 * Admission. Subscribers are admitted against --max-clients over every stream. HTTP
 * connections that have not been handed on are kept in a budget, oldest first, with
 * a hash of peer addresses for the per-peer share; when either is full the oldest
 * pending connection goes, so clients that hold connections open without sending a
 * request cannot lock out the ones that do (slowloris).
 */
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/admit.h"
#include "fr/log.h"
#include "fr/stream.h"
#include "fr/util.h"
#include "fr/xmalloc.h"

/* Buckets of the per-peer index; a peer's pending connections share one. */
#define ADMIT_BUCKETS 256

struct fr_admit {
	struct ev_loop *loop;
	struct fr_registry *reg;
	struct fr_admit_params params;
	struct fr_list by_age;		/* every pending connection, oldest first */
	unsigned n_pending;
	struct fr_list buckets[ADMIT_BUCKETS];
	struct fr_ratelimit evict_log;
	struct fr_process_counters *counters;	/* the registry's: pending_evicted, ... */
};

struct fr_admit *
fr_admit_new(struct ev_loop *loop, struct fr_registry *reg, const struct fr_admit_params *params)
{
	struct fr_admit *a = fr_xcalloc(1, sizeof *a);

	a->loop = loop;
	a->reg = reg;
	a->counters = fr_registry_counters(reg);
	a->params = *params;
	fr_list_init(&a->by_age);
	for (size_t i = 0; i < ADMIT_BUCKETS; i++)
		fr_list_init(&a->buckets[i]);
	fr_ratelimit_init(&a->evict_log, 1.0);
	return a;
}

void
fr_admit_free(struct fr_admit *a)
{
	if (a == NULL)
		return;
	assert(a->n_pending == 0);
	free(a);
}

void
fr_admit_set_params(struct fr_admit *a, const struct fr_admit_params *params)
{
	a->params = *params;
}

/* ---- subscribers ---- */

bool
fr_admit_has_room(struct fr_admit *a, struct fr_registry_entry *e, const struct fr_addr *peer)
{
	struct fr_stream *s = e->stream;

	if (fr_registry_clients(a->reg) < a->params.max_clients)
		return true;
	s->counters.clients_refused++;
	fr_log_limited(&s->sub_log, ev_now(a->loop), FR_LOG_WARN,
	    "stream %s: refused subscriber %s: --max-clients %u reached", s->name, peer->text,
	    a->params.max_clients);
	return false;
}

bool
fr_admit_subscribe(struct fr_admit *a, struct fr_registry_entry *e, int fd,
    const struct fr_addr *peer, enum fr_sub_protocol protocol, double min_interval_s,
    const struct fr_scale_spec *scale)
{
	struct fr_stream *s = e->stream;
	struct fr_sub_params params = fr_stream_sub_params(s, a->params.client_timeout_s);
	bool is_scaled = scale != NULL && !fr_scale_spec_is_plain(scale);
	char label[FR_SCALE_SPEC_TEXT_LEN] = "";
	struct fr_sub *sub = NULL;

	params.protocol = protocol;
	params.min_interval_s = min_interval_s;
	if (is_scaled)
		fr_scale_spec_format(scale, label, sizeof label);
	else if ((sub = fr_sub_new(a->loop, fd, peer, &params)) == NULL)
		goto no_memory;
	fr_log_limited(&s->sub_log, ev_now(a->loop), FR_LOG_INFO,
	    "stream %s: %s subscriber %s connected%s%s", s->name,
	    protocol == FR_SUB_RAW ? "raw" : "http", peer->text, is_scaled ? ", scale " : "",
	    label);
	/* A scaled subscriber joins the stream of its size (scale.c). */
	if (is_scaled && !fr_scale_subscribe(e->scale, scale, fd, peer, &params))
		goto no_memory;
	if (sub != NULL)
		fr_stream_add_sub(s, sub);
	return true;
no_memory:
	log_warnx("stream %s: out of memory for subscriber %s", s->name, peer->text);
	return false;
}

/* ---- the pending budget ---- */

/* The peer's IP address as 16 bytes, IPv4 (also IPv4-mapped IPv6) as ::ffff:a.b.c.d;
 * false for a unix peer, which has none. */
static bool
peer_key(const struct fr_addr *peer, uint8_t key[16])
{
	static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	switch (peer->ss.ss_family) {
	case AF_INET:
		memcpy(key, v4_mapped, sizeof v4_mapped);
		memcpy(key + 12, &((const struct sockaddr_in *)&peer->ss)->sin_addr, 4);
		return true;
	case AF_INET6:
		memcpy(key, &((const struct sockaddr_in6 *)&peer->ss)->sin6_addr, 16);
		return true;
	default:
		return false;
	}
}

static struct fr_list *
bucket_of(struct fr_admit *a, const uint8_t key[16])
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return &a->buckets[h % ADMIT_BUCKETS];
}

/* The peer's oldest pending connection (the first in arrival order) and how many it has. */
static struct fr_admit_pending *
peer_oldest(struct fr_admit *a, const uint8_t key[16], unsigned *count)
{
	struct fr_list *b = bucket_of(a, key);
	struct fr_admit_pending *oldest = NULL;

	*count = 0;
	for (struct fr_list *l = b->next; l != b; l = l->next) {
		struct fr_admit_pending *p = FR_CONTAINER_OF(l, struct fr_admit_pending, bucket);

		if (memcmp(p->key, key, 16) != 0)
			continue;
		if (oldest == NULL)
			oldest = p;
		(*count)++;
	}
	return oldest;
}

static void
evict(struct fr_admit *a, struct fr_admit_pending *p, const char *budget, unsigned limit)
{
	double now = ev_now(a->loop);

	a->counters->pending_evicted++;
	fr_log_limited(&a->evict_log, now, FR_LOG_WARN,
	    "http: %s of %u connections without a request is full: closing the oldest, %s "
	    "(%.1f s)", budget, limit, p->peer, now - p->since);
	p->evict(p->arg, "evicted to make room for a new connection");
	if (p->is_pending)	/* evict must end it; never loop on one that did not */
		fr_admit_pending_end(a, p);
}

void
fr_admit_pending_begin(struct fr_admit *a, struct fr_admit_pending *p,
    const struct fr_addr *peer, fr_admit_evict_fn evict_fn, void *arg)
{
	unsigned n_peer = 0;

	*p = (struct fr_admit_pending){ .evict = evict_fn, .arg = arg, .since = ev_now(a->loop) };
	snprintf(p->peer, sizeof p->peer, "%s", peer->text);
	p->has_key = peer_key(peer, p->key);
	if (p->has_key) {
		struct fr_admit_pending *oldest = peer_oldest(a, p->key, &n_peer);

		/* A cap of 0 acts as 1, as --max-pending 0 does: there may be no one to
		 * evict, and the new connection itself is never refused. */
		if (oldest != NULL && n_peer >= a->params.max_pending_per_peer)
			evict(a, oldest, "--max-pending-per-peer", a->params.max_pending_per_peer);
	}
	while (a->n_pending >= a->params.max_pending && !fr_list_is_empty(&a->by_age))
		evict(a, FR_CONTAINER_OF(a->by_age.next, struct fr_admit_pending, age),
		    "--max-pending", a->params.max_pending);
	fr_list_append(&a->by_age, &p->age);
	if (p->has_key)
		fr_list_append(bucket_of(a, p->key), &p->bucket);
	else
		fr_list_init(&p->bucket);
	p->is_pending = true;
	a->counters->connections_pending = ++a->n_pending;
}

void
fr_admit_pending_end(struct fr_admit *a, struct fr_admit_pending *p)
{
	if (!p->is_pending)
		return;
	fr_list_remove(&p->age);
	fr_list_remove(&p->bucket);
	p->is_pending = false;
	a->counters->connections_pending = --a->n_pending;
}

unsigned
fr_admit_pending_count(const struct fr_admit *a)
{
	return a->n_pending;
}
