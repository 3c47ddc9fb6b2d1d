/* SPDX-License-Identifier: MIT */
/*
 * The deferred-free queue behind fr_defer_free(). One loop, one queue.
 */
#include <stddef.h>

#include "fr/defer.h"

static struct fr_defer *queue;
static struct ev_loop *defer_loop;
static ev_prepare prepare;

void
fr_defer_flush(void)
{
	while (queue != NULL) {
		struct fr_defer *d = queue;

		queue = d->next;
		d->free_fn(d);
	}
}

static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	fr_defer_flush();
}

void
fr_defer_init(struct ev_loop *loop)
{
	defer_loop = loop;
	ev_prepare_init(&prepare, prepare_cb);
	ev_prepare_start(loop, &prepare);
	/* The watcher alone must not keep ev_run() from returning. */
	ev_unref(loop);
}

void
fr_defer_free(struct fr_defer *d, void (*free_fn)(struct fr_defer *))
{
	d->free_fn = free_fn;
	d->next = queue;
	queue = d;
}

void
fr_defer_fini(void)
{
	fr_defer_flush();
	if (defer_loop != NULL) {
		ev_ref(defer_loop);
		ev_prepare_stop(defer_loop, &prepare);
		defer_loop = NULL;
	}
}
