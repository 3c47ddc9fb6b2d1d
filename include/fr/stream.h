/* SPDX-License-Identifier: MIT */
/*
 * A named stream: the latest complete frame, the subscribers, and the counters.
 * Publishing stores the frame in the latest slot and offers it to every
 * subscriber; a new subscriber is offered the latest frame at once.
 */
#ifndef FR_STREAM_H
#define FR_STREAM_H

#include <stdbool.h>

#include "fr/frame.h"
#include "fr/log.h"
#include "fr/stats.h"
#include "fr/sub.h"
#include "fr/util.h"

/* Lines about connections (subscribers and producers coming and going, refusals)
 * logged per second per stream; the rest are counted as suppressed. */
#define FR_STREAM_LOG_BURST 10

struct fr_stream;

/*
 * Called when a stream gains its first subscriber (has_demand true) or loses its last
 * (false): a source that feeds the stream only while someone watches (a pulled camera
 * with on-demand, a NATS subject) starts and stops on it. Must not free the stream.
 */
typedef void (*fr_stream_demand_fn)(struct fr_stream *s, bool has_demand, void *arg);

/*
 * Someone waiting for a stream's next frame (GET /snapshot/NAME?wait=). Embedded in
 * the waiter's own struct; on_frame is called once, from fr_stream_publish with the
 * new frame (borrowed), or with NULL when the stream is being freed. The waiter is
 * off the list by then, and may wait again or be freed.
 */
struct fr_stream_waiter {
	struct fr_list link;
	void (*on_frame)(struct fr_stream_waiter *w, struct fr_frame *f);
};
/* Called with every frame the stream publishes (borrowed), after its subscribers were
 * offered it. Must not free the stream. */
typedef void (*fr_stream_frame_fn)(struct fr_stream *s, struct fr_frame *f, void *arg);

/* Who watches a stream's frames: one slot each, called in this order. */
enum fr_stream_frame_watcher {
	FR_WATCH_SCALE,		/* the scaled streams derived from it (scale.c) */
	FR_WATCH_FEDERATION,	/* publishing the frames a node ingests (nats.c) */
	FR_WATCH_SLOTS,
};

struct fr_stream {
	char name[FR_STREAM_NAME_MAX + 1];
	struct fr_frame *latest;	/* a reference, or NULL before the first frame */
	struct fr_arena *arena;		/* published frames go here; NULL: they stay on the heap */
	struct fr_list subs;
	struct fr_stream_counters counters;
	struct fr_ratelimit drop_log[FR_DROP_REASONS];	/* by enum fr_drop_reason (stats.h) */
	struct fr_ratelimit garbage_log;
	struct fr_ratelimit sub_log;	/* subscribers connecting, closing, refused */
	uint64_t next_seq;
	double fps_window_at;		/* input fps: start of the current window */
	uint64_t fps_window_frames;	/* frames since then */
	double input_fps;		/* over the last complete window */
	fr_stream_demand_fn on_demand;	/* NULL: nobody watches the demand */
	void *on_demand_arg;
	struct fr_list waiters;		/* struct fr_stream_waiter, woken by the next frame */
	struct {
		fr_stream_frame_fn fn;	/* NULL: nobody in this slot */
		void *arg;
	} on_frame[FR_WATCH_SLOTS];
	/* A stream derived from another (its frames scaled): its subscribers count as
	 * the parent's clients too, so they make demand for the parent's frames. */
	struct fr_stream *parent;
};

/*
 * A stream with no frame and no subscribers. NULL on ENOMEM. Without a memfd arena
 * (no memfd_create) it still works, sending frames from the heap.
 */
struct fr_stream *fr_stream_new(const char *name);

/* Closes every subscriber and drops the latest frame. NULL does nothing. */
void fr_stream_free(struct fr_stream *s);

/*
 * Makes f (borrowed, sealed) the latest frame and offers it to every subscriber.
 * Gives f the stream's arena, where the first subscriber to send it stores it.
 * May close subscribers that fail to write; never frees them.
 */
void fr_stream_publish(struct fr_stream *s, struct fr_frame *f);

/* Calls fn(s, has_demand, arg) from now on when demand starts or stops (NULL: never).
 * One watcher per stream: the stream's one source. */
void fr_stream_watch_demand(struct fr_stream *s, fr_stream_demand_fn fn, void *arg);

/* Calls w->on_frame once, with the next frame published (or NULL, see above). */
void fr_stream_wait_frame(struct fr_stream *s, struct fr_stream_waiter *w);

/* Takes w off its stream's list; nothing if it is on none (its link points at itself). */
void fr_stream_cancel_wait(struct fr_stream_waiter *w);

/* Calls fn(s, f, arg) with every frame published from now on (NULL: none), as the
 * watcher who: one of each per stream. */
void fr_stream_watch_frames(struct fr_stream *s, enum fr_stream_frame_watcher who,
    fr_stream_frame_fn fn, void *arg);

/* Makes s a stream derived from parent (which must outlive it): s's subscribers are
 * counted in parent's clients as well. Call while s has no subscribers. */
void fr_stream_set_parent(struct fr_stream *s, struct fr_stream *parent);

/* Adds a subscriber and offers it the latest frame, if any. May close it. */
void fr_stream_add_sub(struct fr_stream *s, struct fr_sub *sub);

/*
 * Moves a subscriber of from to to (a stream of the same family: a scaled size and
 * the stream or another size of it). It gets to's next frame, not its latest, which
 * may show what it was sent already. A stream both belong to keeps its demand
 * throughout. Never closes the subscriber.
 */
void fr_stream_move_sub(struct fr_stream *from, struct fr_stream *to, struct fr_sub *sub);

/*
 * Takes a subscriber out of s without closing it (it may be added to another
 * stream): the close callback of fr_stream_sub_params() does this. Ends the
 * demand when it was the last.
 */
void fr_stream_remove_sub(struct fr_stream *s, struct fr_sub *sub);

/*
 * Parameters for a subscriber of s: its counters, its log limit and the close
 * callback that takes it out of the stream. The caller adds the protocol and fps cap.
 */
struct fr_sub_params fr_stream_sub_params(struct fr_stream *s, double timeout_s);

/*
 * Counts a dropped frame in the stream counter of reason (fr_stats_drop_counter()) and
 * logs it, at most once per second per reason, with the number of messages suppressed
 * since the last one.
 */
void fr_stream_note_drop(struct fr_stream *s, enum fr_drop_reason reason, size_t bytes,
    double now, const char *detail);

/* Counts garbage bytes and logs them rate-limited. */
void fr_stream_note_garbage(struct fr_stream *s, uint64_t bytes, double now);

/* Frames per second received lately; 0 when frames stopped coming. */
double fr_stream_input_fps(const struct fr_stream *s, double now);

/* Writes every counter of the stream and of each subscriber to the log. */
void fr_stream_log_counters(const struct fr_stream *s, double now);

#endif /* FR_STREAM_H */
