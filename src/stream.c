/* SPDX-License-Identifier: MIT */
/*
 * Streams: the latest slot and the fan-out. A stream reaches its subscribers only
 * through fr_sub_offer(); it never writes to a socket itself.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/stream.h"

/*
 * Calls every waiter once with f. The list is taken over first: a waiter that waits
 * again from its callback waits for the frame after f.
 */
static void
wake_waiters(struct fr_stream *s, struct fr_frame *f)
{
	struct fr_list woken;

	if (fr_list_is_empty(&s->waiters))
		return;
	woken = s->waiters;
	woken.next->prev = woken.prev->next = &woken;
	fr_list_init(&s->waiters);
	while (!fr_list_is_empty(&woken)) {
		struct fr_stream_waiter *w = FR_CONTAINER_OF(woken.next, struct fr_stream_waiter,
		    link);

		fr_list_remove(&w->link);
		w->on_frame(w, f);
	}
}

struct fr_stream *
fr_stream_new(const char *name)
{
	struct fr_stream *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	snprintf(s->name, sizeof s->name, "%s", name);
	if ((s->arena = fr_arena_new(0)) == NULL)
		log_warn("stream %s: no memfd arena, sending frames with sendmsg", s->name);
	fr_list_init(&s->subs);
	fr_list_init(&s->waiters);
	for (size_t i = 0; i < FR_DROP_REASONS; i++)
		fr_ratelimit_init(&s->drop_log[i], 1.0);
	fr_ratelimit_init(&s->garbage_log, 1.0);
	/* Routine one by one; a flood of connections must not flood the log. */
	fr_ratelimit_init(&s->sub_log, 1.0);
	fr_ratelimit_set_burst(&s->sub_log, FR_STREAM_LOG_BURST);
	return s;
}

void
fr_stream_free(struct fr_stream *s)
{
	if (s == NULL)
		return;
	while (!fr_list_is_empty(&s->subs))
		fr_sub_close(fr_sub_from_link(s->subs.next), "shutting down");
	wake_waiters(s, NULL);
	fr_frame_unref(s->latest);
	fr_arena_unref(s->arena);	/* its files close with their last frame */
	free(s);
}

/* Counts frames over windows of at least a second. */
static void
update_fps(struct fr_stream *s, double now)
{
	double span = now - s->fps_window_at;

	if (s->fps_window_at == 0 || span > 5.0) {	/* first frame, or after a pause */
		s->fps_window_at = now;
		s->fps_window_frames = 0;
		return;
	}
	s->fps_window_frames++;
	if (span >= 1.0) {
		s->input_fps = (double)s->fps_window_frames / span;
		s->fps_window_at = now;
		s->fps_window_frames = 0;
	}
}

double
fr_stream_input_fps(const struct fr_stream *s, double now)
{
	if (s->latest == NULL || now - s->latest->received_at > 2.0)
		return 0;
	return s->input_fps;
}

void
fr_stream_publish(struct fr_stream *s, struct fr_frame *f)
{
	/* Stored there by the first subscriber about to send it (sub.c): a frame that
	 * every subscriber skips costs no copy. */
	if (f->arena == NULL)
		fr_frame_set_arena(f, s->arena);
	f->seq = s->next_seq++;
	update_fps(s, f->received_at);
	s->counters.frames_in++;
	fr_frame_unref(s->latest);
	s->latest = fr_frame_ref(f);
	/* A subscriber closed by its offer unlinks itself: step past it first. */
	for (struct fr_list *l = s->subs.next, *next; l != &s->subs; l = next) {
		next = l->next;
		fr_sub_offer(fr_sub_from_link(l), f);
	}
	for (int w = 0; w < FR_WATCH_SLOTS; w++)
		if (s->on_frame[w].fn != NULL)
			s->on_frame[w].fn(s, f, s->on_frame[w].arg);
	wake_waiters(s, f);
}

void
fr_stream_wait_frame(struct fr_stream *s, struct fr_stream_waiter *w)
{
	fr_list_append(&s->waiters, &w->link);
}

void
fr_stream_cancel_wait(struct fr_stream_waiter *w)
{
	fr_list_remove(&w->link);
}

/* One subscriber more (delta 1) or less (-1) for s and the streams it derives from;
 * each that gains its first or loses its last tells its demand watcher. */
static void
count_client(struct fr_stream *s, int delta)
{
	for (; s != NULL; s = s->parent) {
		bool was_zero = s->counters.clients == 0;

		s->counters.clients += (uint64_t)(int64_t)delta;
		if ((delta > 0 ? was_zero : s->counters.clients == 0) && s->on_demand != NULL)
			s->on_demand(s, delta > 0, s->on_demand_arg);
	}
}

void
fr_stream_add_sub(struct fr_stream *s, struct fr_sub *sub)
{
	fr_list_append(&s->subs, fr_sub_link(sub));
	count_client(s, 1);
	fr_sub_start(sub);
	if (s->latest != NULL)
		fr_sub_offer(sub, s->latest);
}

void
fr_stream_remove_sub(struct fr_stream *s, struct fr_sub *sub)
{
	fr_list_remove(fr_sub_link(sub));
	count_client(s, -1);
}

void
fr_stream_move_sub(struct fr_stream *from, struct fr_stream *to, struct fr_sub *sub)
{
	fr_list_remove(fr_sub_link(sub));
	fr_list_append(&to->subs, fr_sub_link(sub));
	/* Counted in first, out second: a common ancestor never drops to 0 between. */
	count_client(to, 1);
	count_client(from, -1);
}

static void
on_sub_close(struct fr_sub *sub, void *stream)
{
	fr_stream_remove_sub(stream, sub);
}

void
fr_stream_watch_demand(struct fr_stream *s, fr_stream_demand_fn fn, void *arg)
{
	s->on_demand = fn;
	s->on_demand_arg = arg;
}

void
fr_stream_watch_frames(struct fr_stream *s, enum fr_stream_frame_watcher who,
    fr_stream_frame_fn fn, void *arg)
{
	s->on_frame[who].fn = fn;
	s->on_frame[who].arg = arg;
}

void
fr_stream_set_parent(struct fr_stream *s, struct fr_stream *parent)
{
	assert(s->counters.clients == 0);
	s->parent = parent;
}

struct fr_sub_params
fr_stream_sub_params(struct fr_stream *s, double timeout_s)
{
	return (struct fr_sub_params){
		.timeout_s = timeout_s,
		.stream_counters = &s->counters,
		.on_close = on_sub_close,
		.close_arg = s,
		.log_limit = &s->sub_log,
	};
}

void
fr_stream_note_drop(struct fr_stream *s, enum fr_drop_reason reason, size_t bytes,
    double now, const char *detail)
{
	assert(reason < FR_DROP_REASONS);
	(*fr_stats_drop_counter(&s->counters, reason))++;
	fr_log_limited(&s->drop_log[reason], now, FR_LOG_WARN,
	    "stream %s: dropped frame: %s, %zu bytes%s%s", s->name, fr_stats_drop_name(reason),
	    bytes, detail ? ": " : "", detail ? detail : "");
}

void
fr_stream_note_garbage(struct fr_stream *s, uint64_t bytes, double now)
{
	s->counters.garbage_bytes += bytes;
	fr_log_limited(&s->garbage_log, now, FR_LOG_WARN,
	    "stream %s: skipped %llu bytes outside any JPEG frame", s->name,
	    (unsigned long long)bytes);
}

void
fr_stream_log_counters(const struct fr_stream *s, double now)
{
	char line[FR_STATS_LINE_MAX];

	fr_stats_format_stream(line, sizeof line, &s->counters);
	log_info("stream %s: %s latest_bytes=%zu", s->name, line,
	    s->latest ? s->latest->len : (size_t)0);
	for (struct fr_list *l = s->subs.next; l != &s->subs; l = l->next) {
		struct fr_sub_info info;

		fr_sub_get_info(fr_sub_from_link(l), &info);
		fr_stats_format_client(line, sizeof line, &info.counters);
		log_info("stream %s: client %s %s connected_s=%.1f %s", s->name, info.peer,
		    info.protocol, now - info.connected_at, line);
	}
}
