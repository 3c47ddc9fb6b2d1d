/* SPDX-License-Identifier: MIT */
/*
 * Accept loops. EMFILE/ENFILE leave the pending connection in the backlog and the
 * listen socket readable, so the watcher is paused and resumed by a timer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "fr/listener.h"
#include "fr/log.h"
#include "fr/net.h"
#include "fr/util.h"
#include "fr/xmalloc.h"

#define LISTENER_BACKLOG 511
#define LISTENER_ACCEPTS_PER_EVENT 64
#define LISTENER_PAUSE_S 0.1

struct fr_listener {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	ev_timer pause;
	struct fr_addr addr;
	const char *option;
	fr_listener_accept_fn on_accept;
	void *arg;
	const struct fr_acl *acl;	/* NULL: everyone */
	uint64_t *denied;
	struct fr_ratelimit pause_log;
	struct fr_ratelimit denied_log;
};

/* The connection was accepted only to learn its address: close it unread. */
static void
deny(struct fr_listener *l, int fd, const struct fr_addr *peer)
{
	close(fd);
	(*l->denied)++;
	fr_log_limited(&l->denied_log, ev_now(l->loop), FR_LOG_WARN,
	    "%s %s: denied %s (not in --allow)", l->option, l->addr.text, peer->text);
}

static void
resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_listener *l = FR_CONTAINER_OF(w, struct fr_listener, pause);

	(void)revents;
	ev_io_start(loop, &l->io);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fr_listener *l = FR_CONTAINER_OF(w, struct fr_listener, io);

	(void)revents;
	for (int i = 0; i < LISTENER_ACCEPTS_PER_EVENT; i++) {
		struct fr_addr peer;
		int fd = fr_net_accept(l->fd, &peer);

		if (fd >= 0) {
			if (l->acl != NULL && !fr_acl_permits(l->acl, &peer))
				deny(l, fd, &peer);
			else
				l->on_accept(fd, &peer, l->arg);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		fr_log_limited(&l->pause_log, ev_now(loop), FR_LOG_WARN,
		    "%s %s: accept paused for %.1fs: %s", l->option, l->addr.text,
		    LISTENER_PAUSE_S, strerror(errno));
		ev_io_stop(loop, &l->io);
		ev_timer_set(&l->pause, LISTENER_PAUSE_S, 0.);
		ev_timer_start(loop, &l->pause);
		return;
	}
}

struct fr_listener *
fr_listener_new(struct ev_loop *loop, const char *option, const struct fr_addr *addr,
    fr_listener_accept_fn on_accept, void *arg, char *err)
{
	char why[FR_ERR_LEN];
	int fd = fr_net_listen(addr, LISTENER_BACKLOG, why);

	if (fd < 0) {
		snprintf(err, FR_ERR_LEN, "%.32s %.200s", option, why);
		return NULL;
	}
	struct fr_listener *l = fr_xcalloc(1, sizeof *l);
	l->loop = loop;
	l->fd = fd;
	l->option = option;
	l->on_accept = on_accept;
	l->arg = arg;
	if (fr_addr_is_unix(addr) || fr_net_local_addr(fd, &l->addr) < 0)
		l->addr = *addr;
	fr_ratelimit_init(&l->pause_log, 1.0);
	fr_ratelimit_init(&l->denied_log, 1.0);
	ev_io_init(&l->io, accept_cb, fd, EV_READ);
	ev_timer_init(&l->pause, resume_cb, LISTENER_PAUSE_S, 0.);
	return l;
}

void
fr_listener_set_acl(struct fr_listener *l, const struct fr_acl *acl, uint64_t *denied)
{
	l->acl = acl;
	l->denied = denied;
}

void
fr_listener_start(struct fr_listener *l)
{
	ev_io_start(l->loop, &l->io);
}

void
fr_listener_free(struct fr_listener *l)
{
	if (l == NULL)
		return;
	ev_io_stop(l->loop, &l->io);
	ev_timer_stop(l->loop, &l->pause);
	close(l->fd);
	if (fr_addr_is_unix(&l->addr))
		unlink(((struct sockaddr_un *)&l->addr.ss)->sun_path);
	free(l);
}

const struct fr_addr *
fr_listener_addr(const struct fr_listener *l)
{
	return &l->addr;
}
