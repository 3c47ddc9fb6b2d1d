/* SPDX-License-Identifier: MIT */
/*
 * Producer ingest. The frame under construction is the read buffer: recv() writes
 * into its tail, the splitter walks the new bytes, and when a frame ends the buffer
 * itself is sealed and published. Only the bytes that followed the frame's end in
 * the same read are copied, into the next buffer, which comes from a pool of the
 * buffers of frames nobody holds any more: no allocation per frame.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fr/frame.h"
#include "fr/ingest.h"
#include "fr/log.h"
#include "fr/splitter.h"
#include "fr/util.h"
#include "fr/validate.h"

#define INGEST_MIN_CAP (64 * 1024)
/* Reads per readiness event: enough to drain a burst, bounded so that a producer
 * pushing at memory speed still lets subscribers be served. */
#define INGEST_READS_PER_EVENT 8
/* Frame buffers kept for reuse: the one being filled, the latest, and the few that
 * subscribers are sending; more than that and the stream has slow subscribers,
 * whose frames are freed when they are done with them. */
#define INGEST_POOL_FRAMES 8

struct fr_ingest {
	struct ev_loop *loop;
	struct fr_stream *stream;
	struct fr_ingest_params params;	/* max_frame_bytes: the current producer's */
	size_t next_max_frame_bytes;	/* for the next producer (a reload may change it) */
	struct fr_splitter *splitter;
	struct fr_frame_pool *pool;	/* buffers of frames nobody holds any more */
	struct fr_frame *building;	/* unsealed, owned here; NULL after ENOMEM */
	size_t len;			/* bytes in building->data */
	size_t last_frame_len;		/* sizes the next buffer */
	uint64_t garbage_seen;		/* splitter garbage already counted */
	enum { PRODUCER_NONE, PRODUCER_SOCKET, PRODUCER_FEED } producer;
	int fd;				/* PRODUCER_SOCKET: its socket, else -1 */
	ev_io read_io;
	ev_timer idle;			/* --producer-timeout, while a producer is on */
	double last_input_at;		/* when the producer last sent bytes */
	int is_framed;			/* PRODUCER_FEED: multipart, framing is not garbage */
	int is_self_timed;		/* PRODUCER_FEED: no --producer-timeout, it has its own */
	fr_ingest_replaced_fn replaced;	/* PRODUCER_FEED: tell it when it is replaced */
	void *replaced_arg;
	fr_ingest_vacant_fn vacant;	/* told when the slot empties; NULL: nobody */
	void *vacant_arg;
	struct fr_addr peer;
	/* Producers connecting, leaving, replacing each other: routine one by one, but
	 * a peer reconnecting in a loop must not flood the log. */
	struct fr_ratelimit producer_log;
};

/* Room for about one more frame like the last, so most frames need one buffer. */
static size_t
next_cap(const struct fr_ingest *ing, size_t at_least)
{
	size_t cap = ing->last_frame_len + ing->last_frame_len / 4 + 16 * 1024;

	if (cap < INGEST_MIN_CAP)
		cap = INGEST_MIN_CAP;
	if (cap > ing->params.max_frame_bytes)
		cap = ing->params.max_frame_bytes;
	return cap < at_least ? at_least : cap;
}

static void
count_garbage(struct fr_ingest *ing)
{
	uint64_t total = fr_splitter_garbage_bytes(ing->splitter);

	if (total > ing->garbage_seen && !ing->is_framed)
		fr_stream_note_garbage(ing->stream, total - ing->garbage_seen, ev_now(ing->loop));
	ing->garbage_seen = total;
}

static void
note_drop(struct fr_ingest *ing, const struct fr_splitter_event *ev)
{
	static const enum fr_drop_reason reasons[] = {
		[FR_SPLITTER_DROP_INVALID] = FR_DROP_INVALID,
		[FR_SPLITTER_DROP_OVERSIZE] = FR_DROP_OVERSIZE,
		[FR_SPLITTER_DROP_TRUNCATED] = FR_DROP_TRUNCATED,
	};
	const char *detail = NULL;
	char over[64];

	switch (ev->reason) {
	case FR_SPLITTER_DROP_INVALID:
		detail = "broken marker structure";
		break;
	case FR_SPLITTER_DROP_OVERSIZE:
		/* The splitter reports the frame when it ends, with its real size. */
		snprintf(over, sizeof over, "larger than --max-frame-size %zu",
		    ing->params.max_frame_bytes);
		detail = over;
		break;
	case FR_SPLITTER_DROP_TRUNCATED:
		detail = "producer left mid-frame";
		break;
	default:
		abort();
	}
	fr_stream_note_drop(ing->stream, reasons[ev->reason], ev->dropped_bytes,
	    ev_now(ing->loop), detail);
}

/* Seals f with its first len bytes and publishes it; the stream takes its references. */
static void
publish(struct fr_ingest *ing, struct fr_frame *f, size_t len)
{
	fr_frame_seal(f, len);
	f->received_at = ev_now(ing->loop);
	ing->last_frame_len = len;
	fr_stream_publish(ing->stream, f);
	fr_frame_unref(f);
}

/*
 * The splitter found a whole frame in building[start, end). When more bytes follow
 * it than it has (many small frames in one read), copy the frame out and read on
 * in this buffer; otherwise move what follows into a fresh buffer and publish this
 * one. Either way fewer bytes are copied than the frame has, so a read full of tiny
 * frames costs linear time, not a copy of the rest per frame. Returns -1 if no
 * buffer could be had for the rest (the frame is still published).
 */
static int
take_frame(struct fr_ingest *ing, size_t start, size_t end)
{
	struct fr_frame *f = ing->building;
	size_t rest = ing->len - end;

	if (rest > end - start) {
		struct fr_frame *copy = fr_frame_pool_get(ing->pool, end - start);

		if (copy != NULL) {
			memcpy(copy->data, f->data + start, end - start);
			publish(ing, copy, end - start);
			return 0;
		}
	}
	struct fr_frame *next = fr_frame_pool_get(ing->pool, next_cap(ing, rest));
	if (next != NULL)
		memcpy(next->data, f->data + end, rest);
	else if (rest > 0)
		fr_stream_note_garbage(ing->stream, rest, ev_now(ing->loop));
	if (start > 0)	/* garbage came first in this buffer: rare */
		memmove(f->data, f->data + start, end - start);
	ing->building = next;
	ing->len = next != NULL ? rest : 0;
	fr_splitter_shift(ing->splitter, end);
	publish(ing, f, end - start);
	return next != NULL ? 0 : -1;
}

static int
is_valid(struct fr_ingest *ing, size_t start, size_t end)
{
	struct fr_frame *f = ing->building;
	char err[FR_ERR_LEN];

	if (!ing->params.validate)
		return 1;
	if (fr_validate_frame(f->data + start, end - start, &f->width, &f->height, err) == 0)
		return 1;
	fr_stream_note_drop(ing->stream, FR_DROP_INVALID, end - start, ev_now(ing->loop), err);
	return 0;
}

/* Lost the buffer to ENOMEM: forget the partial state, start over with the next read. */
static void
reset_after_enomem(struct fr_ingest *ing)
{
	struct fr_splitter_event ev;

	if (fr_splitter_finish(ing->splitter, &ev) == FR_SPLITTER_DROP)
		note_drop(ing, &ev);
	count_garbage(ing);
	ing->len = 0;
}

/* Walks the bytes received so far; publishes and drops frames as they end. */
static void
split(struct fr_ingest *ing)
{
	struct fr_splitter_event ev;
	enum fr_splitter_result r;

	while ((r = fr_splitter_scan(ing->splitter, ing->building->data, ing->len, &ev)) !=
	    FR_SPLITTER_MORE) {
		if (r == FR_SPLITTER_DROP) {
			note_drop(ing, &ev);
			continue;
		}
		if (!is_valid(ing, ev.start, ev.end))
			continue;
		if (take_frame(ing, ev.start, ev.end) < 0) {
			log_warnx("stream %s: out of memory for the next frame", ing->stream->name);
			reset_after_enomem(ing);
			return;
		}
	}
	count_garbage(ing);
	size_t keep = fr_splitter_keep_from(ing->splitter);
	if (keep > 0) {
		memmove(ing->building->data, ing->building->data + keep, ing->len - keep);
		ing->len -= keep;
		fr_splitter_shift(ing->splitter, keep);
	}
}

/* Makes sure there is room to read into; grows up to the frame limit. */
static int
ensure_room(struct fr_ingest *ing)
{
	if (ing->building == NULL) {
		ing->building = fr_frame_pool_get(ing->pool, next_cap(ing, 0));
		ing->len = 0;
		return ing->building != NULL ? 0 : -1;
	}
	if (ing->len < ing->building->cap)
		return 0;
	/* Cannot pass the limit: the splitter drops an oversize frame before it. */
	size_t cap = ing->building->cap * 2;
	if (cap > ing->params.max_frame_bytes)
		cap = ing->params.max_frame_bytes;
	struct fr_frame *g = fr_frame_grow(ing->building, cap);
	if (g == NULL) {
		/* Reading on past a lost read would leave a hole in the frame: drop the
		 * partial frame and reuse its buffer; the splitter resyncs on the next SOI. */
		log_warnx("stream %s: out of memory growing a frame", ing->stream->name);
		reset_after_enomem(ing);
		return 0;
	}
	ing->building = g;
	return 0;
}

static void
producer_gone(struct fr_ingest *ing, const char *why)
{
	struct fr_splitter_event ev;

	fr_log_limited(&ing->producer_log, ev_now(ing->loop), FR_LOG_INFO,
	    "stream %s: producer %s disconnected: %s", ing->stream->name, ing->peer.text, why);
	if (ing->producer == PRODUCER_SOCKET) {
		ev_io_stop(ing->loop, &ing->read_io);
		close(ing->fd);
		ing->fd = -1;
	}
	ev_timer_stop(ing->loop, &ing->idle);
	ing->producer = PRODUCER_NONE;
	ing->stream->counters.producer_connected = 0;
	if (fr_splitter_finish(ing->splitter, &ev) == FR_SPLITTER_DROP)
		note_drop(ing, &ev);
	count_garbage(ing);
	ing->is_framed = 0;
	ing->is_self_timed = 0;
	ing->len = 0;
}

/* The slot is empty and stays so: a source waiting for it may take it. */
static void
vacated(struct fr_ingest *ing)
{
	if (ing->vacant != NULL && ing->producer == PRODUCER_NONE)
		ing->vacant(ing->vacant_arg);
}

/* Disconnects the current producer; an external one is told it was let go. */
static void
drop_producer(struct fr_ingest *ing, const char *why)
{
	fr_ingest_replaced_fn replaced = ing->replaced;
	int was_feed = ing->producer == PRODUCER_FEED;

	producer_gone(ing, why);
	ing->replaced = NULL;
	if (was_feed)
		replaced(ing->replaced_arg);
}

/* One producer at a time: the newest one wins, the old one's partial frame is lost. */
static void
replace_producer(struct fr_ingest *ing, const struct fr_addr *peer)
{
	if (ing->producer == PRODUCER_NONE)
		return;
	fr_log_limited(&ing->producer_log, ev_now(ing->loop), FR_LOG_INFO,
	    "stream %s: producer %s replaces %s", ing->stream->name, peer->text,
	    ing->peer.text);
	drop_producer(ing, "replaced by a new producer");
}

/* "Be smart about timeouts", method 3: input only moves a timestamp. */
static void
idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_ingest *ing = FR_CONTAINER_OF(w, struct fr_ingest, idle);
	double timeout_s = ing->params.idle_timeout_s;
	double silent_s = ev_now(loop) - ing->last_input_at;
	char why[64];

	(void)revents;
	if (silent_s < timeout_s) {
		ev_timer_set(w, timeout_s - silent_s, 0.);
		ev_timer_start(loop, w);
		return;
	}
	fr_log_limited(&ing->producer_log, ev_now(loop), FR_LOG_WARN,
	    "stream %s: producer %s idle for %.1f s (--producer-timeout)",
	    ing->stream->name, ing->peer.text, silent_s);
	snprintf(why, sizeof why, "idle for %.1f s", silent_s);
	drop_producer(ing, why);
	vacated(ing);
}

/* Between producers the splitter holds no frame, so the limit may change. */
static void
apply_frame_limit(struct fr_ingest *ing)
{
	if (ing->params.max_frame_bytes == ing->next_max_frame_bytes)
		return;
	ing->params.max_frame_bytes = ing->next_max_frame_bytes;
	fr_splitter_set_max_frame_bytes(ing->splitter, ing->next_max_frame_bytes);
	if (ing->building != NULL && ing->building->cap > ing->next_max_frame_bytes) {
		fr_frame_unref(ing->building);	/* sized for the old limit */
		ing->building = NULL;
		ing->len = 0;
	}
}

static void
producer_connected(struct fr_ingest *ing, const struct fr_addr *peer)
{
	apply_frame_limit(ing);
	ing->peer = *peer;
	ing->stream->counters.producer_connects++;
	ing->stream->counters.producer_connected = 1;
	ing->last_input_at = ev_now(ing->loop);
	if (ing->params.idle_timeout_s > 0 && !ing->is_self_timed) {
		ev_timer_set(&ing->idle, ing->params.idle_timeout_s, 0.);
		ev_timer_start(ing->loop, &ing->idle);
	}
	fr_log_limited(&ing->producer_log, ev_now(ing->loop), FR_LOG_INFO,
	    "stream %s: producer %s connected", ing->stream->name, peer->text);
}

/* Reads into a scratch buffer when no frame buffer can be had, so that the
 * producer is not stalled; the bytes are lost and counted as garbage. */
static ssize_t
read_without_buffer(struct fr_ingest *ing)
{
	static uint8_t scratch[16 * 1024];
	ssize_t n = recv(ing->fd, scratch, sizeof scratch, 0);

	if (n > 0) {
		ing->stream->counters.bytes_in += (uint64_t)n;
		fr_stream_note_garbage(ing->stream, (uint64_t)n, ev_now(ing->loop));
	}
	return n;
}

static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fr_ingest *ing = FR_CONTAINER_OF(w, struct fr_ingest, read_io);

	(void)loop, (void)revents;
	for (int i = 0; i < INGEST_READS_PER_EVENT; i++) {
		ssize_t n;
		size_t room = 0;

		if (ensure_room(ing) < 0) {
			n = read_without_buffer(ing);
		} else {
			room = ing->building->cap - ing->len;
			n = recv(ing->fd, ing->building->data + ing->len, room, 0);
		}
		if (n == 0) {
			producer_gone(ing, "end of stream");
			vacated(ing);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				producer_gone(ing, strerror(errno));
				vacated(ing);
			}
			return;
		}
		if (room == 0)
			continue;
		ing->len += (size_t)n;
		ing->stream->counters.bytes_in += (uint64_t)n;
		ing->last_input_at = ev_now(ing->loop);
		split(ing);
		if ((size_t)n < room)
			return;	/* drained the socket */
	}
}

struct fr_ingest *
fr_ingest_new(struct ev_loop *loop, struct fr_stream *s, const struct fr_ingest_params *params)
{
	struct fr_ingest *ing = calloc(1, sizeof *ing);

	if (ing == NULL)
		return NULL;
	ing->splitter = fr_splitter_new(params->max_frame_bytes);
	ing->pool = fr_frame_pool_new(INGEST_POOL_FRAMES);
	if (ing->splitter == NULL || ing->pool == NULL) {
		fr_splitter_free(ing->splitter);
		fr_frame_pool_free(ing->pool);
		free(ing);
		return NULL;
	}
	ing->loop = loop;
	ing->stream = s;
	ing->params = *params;
	ing->next_max_frame_bytes = params->max_frame_bytes;
	ing->fd = -1;
	fr_ratelimit_init(&ing->producer_log, 1.0);
	fr_ratelimit_set_burst(&ing->producer_log, FR_STREAM_LOG_BURST);
	ev_init(&ing->read_io, read_cb);
	ev_init(&ing->idle, idle_cb);
	return ing;
}

void
fr_ingest_set_params(struct fr_ingest *ing, const struct fr_ingest_params *params)
{
	ing->next_max_frame_bytes = params->max_frame_bytes;
	ing->params.validate = params->validate;
	ing->params.idle_timeout_s = params->idle_timeout_s;
	if (ing->producer == PRODUCER_NONE || ing->is_self_timed)
		return;
	ev_timer_stop(ing->loop, &ing->idle);
	if (params->idle_timeout_s > 0) {
		/* idle_cb measures from the last input and re-arms for the rest. */
		ev_timer_set(&ing->idle, 0., 0.);
		ev_timer_start(ing->loop, &ing->idle);
	}
}

void
fr_ingest_free(struct fr_ingest *ing)
{
	if (ing == NULL)
		return;
	if (ing->producer != PRODUCER_NONE)
		drop_producer(ing, "shutting down");
	fr_frame_unref(ing->building);
	fr_frame_pool_free(ing->pool);
	fr_splitter_free(ing->splitter);
	free(ing);
}

void
fr_ingest_attach(struct fr_ingest *ing, int fd, const struct fr_addr *peer)
{
	replace_producer(ing, peer);
	ing->producer = PRODUCER_SOCKET;
	ing->fd = fd;
	producer_connected(ing, peer);
	ev_io_set(&ing->read_io, fd, EV_READ);
	ev_io_start(ing->loop, &ing->read_io);
}

static void
attach_external(struct fr_ingest *ing, const struct fr_addr *peer, int is_framed,
    int is_self_timed, fr_ingest_replaced_fn replaced, void *arg)
{
	replace_producer(ing, peer);
	ing->producer = PRODUCER_FEED;
	ing->is_framed = is_framed;
	ing->is_self_timed = is_self_timed;
	ing->replaced = replaced;
	ing->replaced_arg = arg;
	producer_connected(ing, peer);
}

void
fr_ingest_attach_feed(struct fr_ingest *ing, const struct fr_addr *peer, int is_framed,
    fr_ingest_replaced_fn replaced, void *arg)
{
	attach_external(ing, peer, is_framed, 0, replaced, arg);
}

void
fr_ingest_attach_source(struct fr_ingest *ing, const struct fr_addr *peer,
    fr_ingest_replaced_fn replaced, void *arg)
{
	attach_external(ing, peer, 0, 1, replaced, arg);
}

void
fr_ingest_watch_vacancy(struct fr_ingest *ing, fr_ingest_vacant_fn fn, void *arg)
{
	ing->vacant = fn;
	ing->vacant_arg = arg;
}

void
fr_ingest_feed(struct fr_ingest *ing, const uint8_t *data, size_t len)
{
	assert(ing->producer == PRODUCER_FEED);
	ing->stream->counters.bytes_in += len;
	ing->last_input_at = ev_now(ing->loop);
	while (len > 0) {
		if (ensure_room(ing) < 0) {
			/* Nowhere to put them: the bytes are lost, the frame with them. */
			fr_stream_note_garbage(ing->stream, len, ev_now(ing->loop));
			reset_after_enomem(ing);
			return;
		}
		size_t n = ing->building->cap - ing->len;
		if (n > len)
			n = len;
		memcpy(ing->building->data + ing->len, data, n);
		ing->len += n;
		data += n;
		len -= n;
		split(ing);
	}
}

void
fr_ingest_end_unit(struct fr_ingest *ing)
{
	struct fr_splitter_event ev;

	assert(ing->producer == PRODUCER_FEED);
	if (fr_splitter_finish(ing->splitter, &ev) == FR_SPLITTER_DROP)
		fr_stream_note_drop(ing->stream, FR_DROP_TRUNCATED, ev.dropped_bytes,
		    ev_now(ing->loop), "the upstream's part or image ended mid-frame");
	count_garbage(ing);
	ing->len = 0;
}

void
fr_ingest_end_feed(struct fr_ingest *ing, const char *why)
{
	assert(ing->producer == PRODUCER_FEED);
	ing->replaced = NULL;
	producer_gone(ing, why);
	vacated(ing);
}

const char *
fr_ingest_producer(const struct fr_ingest *ing)
{
	return ing->producer != PRODUCER_NONE ? ing->peer.text : NULL;
}

int
fr_ingest_has_producer(const struct fr_ingest *ing)
{
	return ing->producer != PRODUCER_NONE;
}
