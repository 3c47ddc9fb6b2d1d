/* SPDX-License-Identifier: MIT */
/*
 * The scaled sizes of a stream. Each size (and quality) that some subscriber asks
 * for is a stream derived from it (fr_stream_set_parent): its own latest slot and
 * subscribers, so skipping, counters and sendfile() work as for the original. A
 * worker thread makes its frames, once per source frame per size and only while the
 * size has subscribers or a snapshot waits for it; the loop hands the worker the
 * newest source frame (a waiting one is replaced, never queued) and adopts what it
 * makes through an ev_async, newest first again. ?scale=auto subscribers move
 * between the sizes as their measured rate allows. The loop never waits for the
 * worker, except to join it when the stream is freed.
 */
#ifndef FR_SCALE_H
#define FR_SCALE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "fr/addr.h"
#include "fr/scaler.h"
#include "fr/stats.h"
#include "fr/stream.h"
#include "fr/sub.h"

/* Sizes (and qualities) of one stream scaled at once at most; more are refused. */
#define FR_SCALE_MAX_SIZES 8

struct fr_scale;

/* The scaled sizes of s (borrowed, must outlive it). Starts no thread yet. */
struct fr_scale *fr_scale_new(struct ev_loop *loop, struct fr_stream *s);

/* Closes every scaled and auto subscriber, fails waiting snapshots, stops the worker
 * (waiting for the frame it is scaling, if any) and frees the derived streams. Call
 * before freeing the stream. NULL does nothing. */
void fr_scale_free(struct fr_scale *sc);

/*
 * Whether a subscriber or snapshot asking for spec (not plain) can be served now:
 * returns 0, or the HTTP status to refuse it with (501: built without libjpeg-turbo;
 * 503: FR_SCALE_MAX_SIZES other sizes busy, no memory, or no worker thread) and one
 * line in err (FR_ERR_LEN bytes). Gives the size it starts at a slot (an idle size
 * may make room for it) and starts the worker thread if need be, so that
 * fr_scale_subscribe() and fr_scale_snapshot() right after it cannot fail for want
 * of either.
 */
int fr_scale_check(struct fr_scale *sc, const struct fr_scale_spec *spec, char *err);

/*
 * Makes fd (connected, non-blocking) a subscriber of the frames spec asks for, after
 * fr_scale_check() said yes. params are the stream's (fr_stream_sub_params plus
 * protocol and fps cap): the subscriber's counters and log lines are the stream's;
 * its close callback is replaced. It is sent the size's latest frame, or the first
 * one scaled. Returns false on ENOMEM, with fd closed.
 */
bool fr_scale_subscribe(struct fr_scale *sc, const struct fr_scale_spec *spec, int fd,
    const struct fr_addr *peer, const struct fr_sub_params *params);

/* A snapshot waiting for a scaled frame; embedded in the HTTP connection. */
struct fr_scale_waiter;

/* The waited-for frame (borrowed: take a reference to keep it), or NULL with why. */
typedef void (*fr_scale_snapshot_fn)(void *arg, struct fr_frame *f, const char *why);

struct fr_scale_waiter {
	struct fr_list link;
	struct fr_scale *sc;		/* NULL while not waiting */
	unsigned slot;
	uint64_t want_seq;		/* a frame scaled from this source frame or a newer one */
	fr_scale_snapshot_fn fn;
	void *arg;
};

/*
 * The stream's latest frame scaled as spec asks (not plain, not auto), after
 * fr_scale_check() said yes and while the stream has a latest frame. Returns it at
 * once (borrowed) when the size already holds it; otherwise returns NULL, and w
 * waits: fn(arg, frame or NULL, why) is called once, from the loop, when the worker
 * has scaled it or failed to, or the stream goes away.
 */
struct fr_frame *fr_scale_snapshot(struct fr_scale *sc, const struct fr_scale_spec *spec,
    struct fr_scale_waiter *w, fr_scale_snapshot_fn fn, void *arg);

/* Stops waiting (fn is not called). Does nothing if w is not waiting. */
void fr_scale_snapshot_cancel(struct fr_scale_waiter *w);

/* Subscribers at a scaled size or on auto, their sizes in the form /stats shows them
 * ("1/2", "1/4,q=50", "auto:1/2"). Calls fn for each; sub is borrowed. */
typedef void (*fr_scale_sub_fn)(struct fr_sub *sub, const char *scale, void *arg);
void fr_scale_foreach_sub(struct fr_scale *sc, fr_scale_sub_fn fn, void *arg);

/* True when sub (a subscriber of the stream itself) is an auto one at full size. */
bool fr_scale_is_member(const struct fr_scale *sc, const struct fr_sub *sub);

/* The sizes in use, for /stats: up to max of them into out; returns how many. */
size_t fr_scale_sizes(const struct fr_scale *sc, struct fr_stats_scaled *out, size_t max);

/* Writes each size's counters and each scaled subscriber to the log (SIGUSR1), as
 * fr_stream_log_counters does for the stream's own. */
void fr_scale_log_counters(struct fr_scale *sc, double now);

#endif /* FR_SCALE_H */
