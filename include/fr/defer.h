/* SPDX-License-Identifier: MIT */
/*
 * Deferred frees: a connection closed from inside one of its own callbacks (or
 * while a stream iterates its subscribers) is queued here and freed once per loop
 * iteration, when no callback of it can be on the stack (redis freeClientAsync).
 */
#ifndef FR_DEFER_H
#define FR_DEFER_H

#include <ev.h>

struct fr_defer {
	struct fr_defer *next;
	void (*free_fn)(struct fr_defer *);
};

/* Starts the ev_prepare watcher that empties the queue. */
void fr_defer_init(struct ev_loop *loop);

/* Queues d; free_fn(d) runs before the loop next blocks. */
void fr_defer_free(struct fr_defer *d, void (*free_fn)(struct fr_defer *));

/* Frees everything queued now (shutdown, tests). */
void fr_defer_flush(void);

/* Flushes and stops the watcher. */
void fr_defer_fini(void);

#endif /* FR_DEFER_H */
