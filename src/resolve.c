/* SPDX-License-Identifier: MIT */
/*
 * c-ares on libev. c-ares tells us which sockets to watch (ARES_OPT_SOCK_STATE_CB) and
 * when it next needs the clock (ares_timeout); we call ares_process_fd() when either
 * fires. A finished lookup is answered from a zero timer of its own, so a callback never
 * runs inside c-ares or inside fr_resolver_lookup(), and may start another lookup.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ares.h>

#include "fr/resolve.h"
#include "fr/util.h"

struct sock_watch {
	ev_io io;
	struct fr_resolver *r;
	struct fr_list link;
};

struct fr_resolve {
	struct fr_resolver *r;
	fr_resolve_fn fn;		/* NULL once cancelled */
	void *arg;
	bool is_answered;		/* c-ares is done with it */
	ev_timer deliver;		/* answers from the loop */
	struct fr_addr addrs[FR_RESOLVE_MAX_ADDRS];
	size_t n;
	char error[128];
	struct fr_list link;
};

struct fr_resolver {
	struct ev_loop *loop;
	ares_channel channel;
	ev_timer timeout;
	struct fr_list socks;		/* struct sock_watch */
	struct fr_list lookups;		/* struct fr_resolve, answered or not */
	bool is_freeing;
};

static void update_timeout(struct fr_resolver *r);

static void
sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sock_watch *sw = FR_CONTAINER_OF(w, struct sock_watch, io);
	struct fr_resolver *r = sw->r;
	int fd = w->fd;

	(void)loop;
	/* May close fd and free sw (through sock_state_cb): nothing of sw after this. */
	ares_process_fd(r->channel, revents & EV_READ ? fd : ARES_SOCKET_BAD,
	    revents & EV_WRITE ? fd : ARES_SOCKET_BAD);
	update_timeout(r);
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_resolver *r = FR_CONTAINER_OF(w, struct fr_resolver, timeout);

	(void)loop, (void)revents;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	update_timeout(r);
}

static void
update_timeout(struct fr_resolver *r)
{
	struct timeval tv;

	ev_timer_stop(r->loop, &r->timeout);
	if (r->is_freeing || ares_timeout(r->channel, NULL, &tv) == NULL)
		return;
	ev_timer_set(&r->timeout, (double)tv.tv_sec + tv.tv_usec / 1e6, 0.);
	ev_timer_start(r->loop, &r->timeout);
}

/* c-ares opens, closes and changes its interest in a socket. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct fr_resolver *r = data;
	struct sock_watch *sw = NULL;

	for (struct fr_list *l = r->socks.next; l != &r->socks; l = l->next) {
		struct sock_watch *s = FR_CONTAINER_OF(l, struct sock_watch, link);

		if (s->io.fd == fd)
			sw = s;
	}
	if (sw != NULL) {
		ev_io_stop(r->loop, &sw->io);
		if (!readable && !writable) {
			fr_list_remove(&sw->link);
			free(sw);
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		if ((sw = calloc(1, sizeof *sw)) == NULL)
			return;	/* the lookup times out instead */
		sw->r = r;
		fr_list_append(&r->socks, &sw->link);
		ev_init(&sw->io, sock_cb);
	}
	ev_io_set(&sw->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(r->loop, &sw->io);
}

struct fr_resolver *
fr_resolver_new(struct ev_loop *loop, char *err)
{
	struct fr_resolver *r = calloc(1, sizeof *r);
	struct ares_options opts = { 0 };
	int rc;

	if (r == NULL) {
		snprintf(err, FR_ERR_LEN, "resolver: out of memory");
		return NULL;
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, FR_ERR_LEN, "resolver: c-ares: %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	r->loop = loop;
	fr_list_init(&r->socks);
	fr_list_init(&r->lookups);
	ev_init(&r->timeout, timeout_cb);
	opts.sock_state_cb = sock_state_cb;
	opts.sock_state_cb_data = r;
	/* A puller has its own deadline for the whole attempt; 2 x 2 s per server fits. */
	opts.timeout = 2000;
	opts.tries = 2;
	rc = ares_init_options(&r->channel, &opts,
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		snprintf(err, FR_ERR_LEN, "resolver: c-ares: %s", ares_strerror(rc));
		ares_library_cleanup();
		free(r);
		return NULL;
	}
	return r;
}

static void
lookup_free(struct fr_resolve *q)
{
	ev_timer_stop(q->r->loop, &q->deliver);
	fr_list_remove(&q->link);
	free(q);
}

void
fr_resolver_free(struct fr_resolver *r)
{
	if (r == NULL)
		return;
	/* ares_destroy answers every open lookup with ARES_EDESTRUCTION: forget them first. */
	r->is_freeing = true;
	for (struct fr_list *l = r->lookups.next; l != &r->lookups; l = l->next)
		FR_CONTAINER_OF(l, struct fr_resolve, link)->fn = NULL;
	ares_destroy(r->channel);
	while (!fr_list_is_empty(&r->lookups))
		lookup_free(FR_CONTAINER_OF(r->lookups.next, struct fr_resolve, link));
	while (!fr_list_is_empty(&r->socks)) {
		struct sock_watch *sw = FR_CONTAINER_OF(r->socks.next, struct sock_watch, link);

		ev_io_stop(r->loop, &sw->io);
		fr_list_remove(&sw->link);
		free(sw);
	}
	ev_timer_stop(r->loop, &r->timeout);
	ares_library_cleanup();
	free(r);
}

static void
deliver_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_resolve *q = FR_CONTAINER_OF(w, struct fr_resolve, deliver);
	fr_resolve_fn fn = q->fn;

	(void)loop, (void)revents;
	q->fn = NULL;
	if (fn != NULL)
		fn(q->arg, q->addrs, q->n, q->n > 0 ? NULL : q->error);
	lookup_free(q);
}

static void
answer_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct fr_resolve *q = arg;

	(void)timeouts;
	q->is_answered = true;
	if (q->r->is_freeing) {
		ares_freeaddrinfo(res);
		return;		/* fr_resolver_free frees q */
	}
	if (status == ARES_SUCCESS && res != NULL) {
		for (struct ares_addrinfo_node *a = res->nodes;
		    a != NULL && q->n < FR_RESOLVE_MAX_ADDRS; a = a->ai_next)
			if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
				fr_addr_from_sockaddr(&q->addrs[q->n++], a->ai_addr, a->ai_addrlen);
	}
	if (q->n == 0)
		snprintf(q->error, sizeof q->error, "%s",
		    status == ARES_SUCCESS ? "no IPv4 or IPv6 address" : ares_strerror(status));
	ares_freeaddrinfo(res);
	if (q->fn == NULL) {	/* cancelled while c-ares worked on it */
		lookup_free(q);
		return;
	}
	ev_timer_set(&q->deliver, 0., 0.);
	ev_timer_start(q->r->loop, &q->deliver);
}

struct fr_resolve *
fr_resolver_lookup(struct fr_resolver *r, const char *host, unsigned port, fr_resolve_fn fn,
    void *arg)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct fr_resolve *q = calloc(1, sizeof *q);
	char service[8];

	if (q == NULL)
		return NULL;
	q->r = r;
	q->fn = fn;
	q->arg = arg;
	ev_init(&q->deliver, deliver_cb);
	fr_list_append(&r->lookups, &q->link);
	snprintf(service, sizeof service, "%u", port);
	/* May answer at once (numeric hosts, /etc/hosts): answer_cb defers to the loop. */
	ares_getaddrinfo(r->channel, host, service, &hints, answer_cb, q);
	update_timeout(r);
	return q;
}

void
fr_resolve_cancel(struct fr_resolve *q)
{
	if (q == NULL)
		return;
	q->fn = NULL;
	if (q->is_answered)
		lookup_free(q);	/* only its delivery timer was left */
}
