/* SPDX-License-Identifier: MIT */
/*
 * A subscriber: writes whole frames from the shared frame bytes, skips to the
 * newest frame when it falls behind, and is cut when it stops making progress.
 * What goes out is a sequence of units: a small head (the preamble, a multipart
 * part header), the frame bytes, and a tail (the next boundary). A frame in a memfd
 * arena is stored with its head and tail around it and goes out with one sendfile(),
 * any other with one sendmsg() from where the pieces lie. It watches for writability only while
 * a write is blocked; a subscriber that keeps up is written to straight from
 * fr_sub_offer(). On TCP the kernel is kept from queueing much unsent (see fit_lowat()),
 * so what a slow subscriber falls behind by waits here, as one frame, not as seconds of
 * old frames in its socket. It measures how old each frame is when its write completes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fr/defer.h"
#include "fr/log.h"
#include "fr/multipart.h"
#include "fr/net.h"
#include "fr/sub.h"
#include "fr/util.h"

/* Fairness: one fast loopback client must not starve the rest (redis
 * NET_MAX_WRITES_PER_EVENT). Large enough for a few 1080p frames. */
#define SUB_MAX_BYTES_PER_EVENT (1024 * 1024)

/* A subscriber that sent EOF and has had nothing written to it for this long is
 * taken to be gone (see read_cb). */
#define SUB_INPUT_ENDED_GRACE_S 2.0

/* The least TCP_NOTSENT_LOWAT (see fit_lowat(); bench/notes.md has why 16 KiB). */
#define SUB_LOWAT_MIN (16 * 1024)

/* frame_age_max_ms covers this window and the one before it. */
#define SUB_AGE_WINDOW_S 10.0

struct fr_sub {
	struct fr_list link;		/* in the owner's subscriber list */
	struct fr_defer defer;
	struct ev_loop *loop;
	int fd;
	int is_closed;
	int has_input_ended;		/* the peer sent FIN: gone, or only half-closed */
	int is_sendfile_off;		/* the socket refused sendfile(): sendmsg() only */
	int has_lowat;			/* a TCP socket: it takes TCP_NOTSENT_LOWAT */
	size_t lowat;			/* what it was set to */
	ev_io read_io;			/* discards input until EOF */
	ev_io write_io;			/* on only while a write is blocked */
	ev_timer idle;			/* on while a write is blocked, or after EOF */
	double connected_at;
	double last_progress_at;
	double next_due_at;		/* ?fps= cap: earliest time for the next frame */
	double age_window_at;		/* when the current frame-age window began */
	uint64_t age_max_prev_ms;	/* the largest frame age in the window before */
	uint64_t age_max_cur_ms;	/* and in the current one */
	/* The unit being written: head, then sending's bytes, then the tail. */
	const char *head;		/* the response head, or part_head */
	size_t head_len;
	size_t offset;			/* bytes of the unit already written */
	struct fr_frame *sending;	/* NULL for a head-only unit (the preamble) */
	struct fr_frame *next;		/* newest frame not yet begun */
	struct fr_addr peer;
	struct fr_client_counters counters;
	struct fr_sub_params params;
	/* FR_MULTIPART_PART_HEAD_MAX bytes for FR_SUB_MULTIPART; none for the others,
	 * whose frames have no headers of their own. */
	char part_head[];
};

static int
is_busy(const struct fr_sub *sub)
{
	return sub->sending != NULL || sub->head_len > 0;
}

static enum fr_multipart_style
style(const struct fr_sub *sub)
{
	return sub->params.protocol == FR_SUB_MULTIPART_ADVANCE_HEADERS ? FR_MULTIPART_ADVANCE :
	    FR_MULTIPART_PLAIN;
}

/* What follows each frame: nothing (raw), or the next boundary (and headers). */
static const char *
tail(const struct fr_sub *sub, size_t *len)
{
	*len = 0;
	if (sub->sending == NULL || sub->params.protocol == FR_SUB_RAW)
		return "";
	return fr_multipart_part_tail(style(sub), len);
}

static size_t
tail_len(const struct fr_sub *sub)
{
	size_t len;

	tail(sub, &len);
	return len;
}

/* Bytes in the unit being written: head, frame, tail. */
static size_t
unit_len(const struct fr_sub *sub)
{
	return sub->head_len + (sub->sending != NULL ? sub->sending->len : 0) + tail_len(sub);
}

/*
 * The first subscriber about to send a frame stores it in the arena, for itself and
 * the rest to sendfile(); with the multipart framing around it, so that an HTTP part
 * is one sendfile() too. When that fails the frame goes out from the heap (counted).
 */
static void
store(struct fr_sub *sub, struct fr_frame *f)
{
	static struct fr_ratelimit fallback_log = { .interval_s = 1.0, .last_at = -1, .burst = 1 };
	char head[FR_MULTIPART_PART_HEAD_MAX];
	struct fr_frame_wrap wrap;

	fr_multipart_wrap(&wrap, head, sizeof head, f->len);
	if (fr_frame_store(f, &wrap) == 0)
		return;
	sub->params.stream_counters->arena_fallbacks++;
	fr_log_limited(&fallback_log, ev_now(sub->loop), FR_LOG_WARN,
	    "sending a frame of %zu bytes from the heap: memfd arena: %s", f->len,
	    strerror(errno));
}

/* A quarter of a frame of len bytes, rounded down to a power of two, at least
 * SUB_LOWAT_MIN. */
static size_t
lowat_for(size_t len)
{
	size_t lowat = SUB_LOWAT_MIN;

	while (lowat <= len / 8)
		lowat *= 2;
	return lowat;
}

/*
 * TCP_NOTSENT_LOWAT, so that the kernel holds at most about a quarter of a frame (and
 * at least 16 KiB) unsent, plus one segment and what is in flight: a subscriber that
 * writes until EAGAIN, as flush() does, then has at most that much of an old frame
 * ahead of the newest one, and skips the frames in between in fr_sub_offer(). Without
 * it the kernel's autotuned send buffer (up to 4 MiB) queues seconds of frames for a
 * slow link. Sized from the frame, not fixed, so that a big frame to a fast subscriber
 * still takes a few writes, not hundreds; set again only when the frame size leaves
 * [2 x, 8 x] the value set, so a size that wobbles costs no system call per frame.
 * Unix sockets have no such option: their send buffer bounds them.
 */
static void
fit_lowat(struct fr_sub *sub, size_t len)
{
	if (!sub->has_lowat || (sub->lowat >= len / 8 && sub->lowat <= len / 2))
		return;
	size_t want = lowat_for(len);
	if (want == sub->lowat)
		return;
	if (fr_net_set_notsent_lowat(sub->fd, want) < 0) {
		sub->has_lowat = 0;	/* not TCP after all: never again */
		return;
	}
	sub->lowat = want;
}

/* Makes f (a reference the caller hands over) the unit being written. */
static void
begin_frame(struct fr_sub *sub, struct fr_frame *f)
{
	if (fr_frame_wants_store(f))
		store(sub, f);
	fit_lowat(sub, f->len);
	sub->sending = f;
	sub->offset = 0;
	sub->head = sub->part_head;
	sub->head_len = 0;
	if (sub->params.protocol == FR_SUB_MULTIPART)
		sub->head_len = fr_multipart_part_head(sub->part_head, FR_MULTIPART_PART_HEAD_MAX,
		    f->len);
}

/*
 * How long a subscriber may go without a write: --client-timeout while a write is
 * blocked; after its EOF with nothing to send, at most SUB_INPUT_ENDED_GRACE_S, so
 * that one who left a stream without frames is not counted for long.
 */
static double
progress_timeout_s(const struct fr_sub *sub)
{
	if (ev_is_active(&sub->write_io) || sub->params.timeout_s < SUB_INPUT_ENDED_GRACE_S)
		return sub->params.timeout_s;
	return SUB_INPUT_ENDED_GRACE_S;
}

/* Gives the subscriber progress_timeout_s() from now to make progress. */
static void
start_progress_timer(struct fr_sub *sub)
{
	sub->last_progress_at = ev_now(sub->loop);
	ev_timer_stop(sub->loop, &sub->idle);
	ev_timer_set(&sub->idle, progress_timeout_s(sub), 0.);
	ev_timer_start(sub->loop, &sub->idle);
}

static void
wait_writable(struct fr_sub *sub)
{
	if (ev_is_active(&sub->write_io))
		return;
	ev_io_start(sub->loop, &sub->write_io);
	start_progress_timer(sub);
}

static void
stop_waiting(struct fr_sub *sub)
{
	ev_io_stop(sub->loop, &sub->write_io);
	if (!sub->has_input_ended)
		ev_timer_stop(sub->loop, &sub->idle);
}

/*
 * A frame's last byte went to the kernel: how old the frame is now (since its last
 * byte arrived from the producer), as the last and the largest over the last
 * SUB_AGE_WINDOW_S to twice that, and in the stream's histogram.
 */
static void
note_age(struct fr_sub *sub, const struct fr_frame *f)
{
	double now = ev_now(sub->loop);
	double age_s = now > f->received_at ? now - f->received_at : 0;
	uint64_t age_ms = (uint64_t)(age_s * 1000 + 0.5);

	if (now - sub->age_window_at >= SUB_AGE_WINDOW_S) {
		sub->age_max_prev_ms = now - sub->age_window_at < 2 * SUB_AGE_WINDOW_S ?
		    sub->age_max_cur_ms : 0;
		sub->age_max_cur_ms = 0;
		sub->age_window_at = now;
	}
	if (age_ms > sub->age_max_cur_ms)
		sub->age_max_cur_ms = age_ms;
	sub->counters.frame_age_ms = age_ms;
	sub->counters.frame_age_max_ms = sub->age_max_cur_ms > sub->age_max_prev_ms ?
	    sub->age_max_cur_ms : sub->age_max_prev_ms;
	fr_histogram_observe(&sub->params.stream_counters->frame_age_seconds,
	    fr_stats_frame_age_bounds, FR_STATS_FRAME_AGE_BOUNDS, age_s);
}

/* The unit is written: count it and begin the next frame, if one is waiting. */
static void
finish_unit(struct fr_sub *sub)
{
	if (sub->sending != NULL) {
		sub->counters.frames_sent++;
		sub->params.stream_counters->frames_out++;
		note_age(sub, sub->sending);
		fr_frame_unref(sub->sending);
	}
	sub->sending = NULL;
	sub->head_len = 0;
	sub->offset = 0;
	if (sub->next != NULL) {
		struct fr_frame *f = sub->next;

		sub->next = NULL;
		begin_frame(sub, f);
	}
}

/* The iovecs for what is left of the unit. Returns how many. */
static int
unit_iov(const struct fr_sub *sub, struct iovec iov[3])
{
	size_t off = sub->offset;
	int n = 0;

	if (off < sub->head_len) {
		iov[n++] = (struct iovec){ (char *)sub->head + off, sub->head_len - off };
		off = 0;
	} else {
		off -= sub->head_len;
	}
	if (sub->sending == NULL)
		return n;
	if (off < sub->sending->len) {
		iov[n++] = (struct iovec){ sub->sending->data + off, sub->sending->len - off };
		off = 0;
	} else {
		off -= sub->sending->len;
	}
	size_t tail_n;
	const char *t = tail(sub, &tail_n);
	if (off < tail_n)
		iov[n++] = (struct iovec){ (char *)t + off, tail_n - off };
	return n;
}

/* Is the error one that says the socket cannot take sendfile(), not a write error? */
static int
is_sendfile_unsupported(int err)
{
	return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

/*
 * True if the unit lies whole in the arena: the frame with, stored around it, this
 * subscriber's part head and tail (fr_multipart_wrap stores the PLAIN head before
 * every frame and the longest tail after it).
 */
static int
is_unit_in_arena(const struct fr_sub *sub)
{
	const struct fr_frame *f = sub->sending;

	return f != NULL && fr_frame_in_arena(f) && !sub->is_sendfile_off &&
	    (sub->head_len == 0 || sub->head_len == f->stored_before) &&
	    tail_len(sub) <= f->stored_after;
}

/*
 * One write of what is left of the unit. A unit in the arena goes out with one
 * sendfile(), head, frame and tail together, so the kernel queues the frame's pages
 * rather than a copy; anything else with one sendmsg() of the three pieces.
 */
static ssize_t
write_some(struct fr_sub *sub)
{
	if (is_unit_in_arena(sub)) {
		const struct fr_frame *f = sub->sending;
		off_t pos = fr_frame_offset(f) - (off_t)sub->head_len + (off_t)sub->offset;
		ssize_t n = sendfile(sub->fd, fr_frame_fd(f), &pos, unit_len(sub) - sub->offset);

		if (n == 0)	/* past the end of the file: cannot happen, must not spin */
			errno = EIO, n = -1;
		if (n >= 0 || !is_sendfile_unsupported(errno))
			return n;
		/* The bytes are mapped: the same unit goes on with sendmsg(). */
		sub->is_sendfile_off = 1;
	}
	struct iovec iov[3];
	struct msghdr msg = { .msg_iov = iov };

	msg.msg_iovlen = (size_t)unit_iov(sub, iov);
	return sendmsg(sub->fd, &msg, MSG_NOSIGNAL);
}

/* Writes until EAGAIN, nothing left, or the per-event budget is spent. */
static void
flush(struct fr_sub *sub)
{
	size_t budget = SUB_MAX_BYTES_PER_EVENT;

	while (is_busy(sub)) {
		size_t asked = unit_len(sub) - sub->offset;
		ssize_t n = write_some(sub);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				wait_writable(sub);
				return;
			}
			fr_sub_close(sub, strerror(errno));
			return;
		}
		sub->offset += (size_t)n;
		sub->counters.bytes_sent += (uint64_t)n;
		sub->params.stream_counters->bytes_out += (uint64_t)n;
		sub->last_progress_at = ev_now(sub->loop);
		if (sub->offset == unit_len(sub))
			finish_unit(sub);
		/* A short write: the socket is full (past its TCP_NOTSENT_LOWAT, or its
		 * buffer); the next call would only say EAGAIN. */
		if (((size_t)n < asked || (size_t)n >= budget) && is_busy(sub)) {
			wait_writable(sub);
			return;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
	stop_waiting(sub);
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	flush(FR_CONTAINER_OF(w, struct fr_sub, write_io));
}

/*
 * Subscribers have nothing to say: read and discard. EOF may be a half-close
 * (`ncat HOST PORT < /dev/null` shuts down its side at once and reads on), which TCP
 * cannot tell from a full close; so keep sending: a gone peer refuses the next
 * write (ECONNRESET, EPIPE), and on a stream without frames the progress timer
 * ends it after SUB_INPUT_ENDED_GRACE_S.
 */
static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fr_sub *sub = FR_CONTAINER_OF(w, struct fr_sub, read_io);
	char buf[4096];

	(void)revents;
	ssize_t n = recv(sub->fd, buf, sizeof buf, 0);
	if (n == 0) {
		log_debug("client %s: end of its input; sending on", sub->peer.text);
		ev_io_stop(loop, &sub->read_io);
		sub->has_input_ended = 1;
		if (!ev_is_active(&sub->idle))
			start_progress_timer(sub);
	} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		fr_sub_close(sub, strerror(errno));
	}
}

/* "Be smart about timeouts", method 3: progress only moves a timestamp. */
static void
idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fr_sub *sub = FR_CONTAINER_OF(w, struct fr_sub, idle);
	double stalled_s = ev_now(loop) - sub->last_progress_at;
	double timeout_s = progress_timeout_s(sub);

	(void)revents;
	if (stalled_s >= timeout_s) {
		fr_sub_close(sub, ev_is_active(&sub->write_io) ?
		    "no write progress within --client-timeout" :
		    "input ended and nothing to send since");
		return;
	}
	ev_timer_set(w, timeout_s - stalled_s, 0.);
	ev_timer_start(loop, w);
}

struct fr_sub *
fr_sub_new(struct ev_loop *loop, int fd, const struct fr_addr *peer,
    const struct fr_sub_params *params)
{
	size_t part_head_max = params->protocol == FR_SUB_MULTIPART ?
	    FR_MULTIPART_PART_HEAD_MAX : 0;
	struct fr_sub *sub = calloc(1, sizeof *sub + part_head_max);

	if (sub == NULL) {
		close(fd);
		return NULL;
	}
	fr_list_init(&sub->link);
	sub->loop = loop;
	sub->fd = fd;
	sub->peer = *peer;
	sub->params = *params;
	sub->connected_at = ev_now(loop);
	sub->next_due_at = sub->connected_at;
	if (params->protocol != FR_SUB_RAW)
		sub->head = fr_multipart_preamble(style(sub), &sub->head_len);
	fr_net_set_nodelay(fd);
	sub->age_window_at = sub->connected_at;
	/* Before the first byte, so that the preamble and the first frame are bounded too. */
	if (peer->ss.ss_family != AF_UNIX && fr_net_set_notsent_lowat(fd, SUB_LOWAT_MIN) == 0) {
		sub->has_lowat = 1;
		sub->lowat = SUB_LOWAT_MIN;
	}
	ev_io_init(&sub->read_io, read_cb, fd, EV_READ);
	ev_io_init(&sub->write_io, write_cb, fd, EV_WRITE);
	ev_timer_init(&sub->idle, idle_cb, params->timeout_s, 0.);
	ev_io_start(loop, &sub->read_io);
	return sub;
}

void
fr_sub_start(struct fr_sub *sub)
{
	if (!sub->is_closed)
		flush(sub);
}

/*
 * ?fps=N: keeps the long-run rate at N even when frames arrive with jitter, by
 * moving the due time in steps of 1/N rather than from each frame's arrival.
 */
static int
is_over_fps_cap(struct fr_sub *sub)
{
	double interval = sub->params.min_interval_s;
	double now = ev_now(sub->loop);

	if (interval <= 0)
		return 0;
	if (now < sub->next_due_at)
		return 1;
	sub->next_due_at += interval;
	if (sub->next_due_at < now)	/* after a pause, do not burst to catch up */
		sub->next_due_at = now + interval;
	return 0;
}

void
fr_sub_offer(struct fr_sub *sub, struct fr_frame *f)
{
	if (sub->is_closed)
		return;
	if (is_over_fps_cap(sub)) {
		sub->counters.frames_dropped_fps_cap++;
		sub->params.stream_counters->dropped_fps_cap++;
		return;
	}
	if (!is_busy(sub)) {
		begin_frame(sub, fr_frame_ref(f));
		flush(sub);
		return;
	}
	if (sub->next != NULL) {
		fr_frame_unref(sub->next);
		sub->counters.frames_dropped++;
		sub->params.stream_counters->dropped_slow_client++;
	}
	sub->next = fr_frame_ref(f);
}

static void
free_deferred(struct fr_defer *d)
{
	free(FR_CONTAINER_OF(d, struct fr_sub, defer));
}

void
fr_sub_close(struct fr_sub *sub, const char *why)
{
	char line[256];

	if (sub->is_closed)
		return;
	sub->is_closed = 1;
	ev_io_stop(sub->loop, &sub->read_io);
	ev_io_stop(sub->loop, &sub->write_io);
	ev_timer_stop(sub->loop, &sub->idle);
	close(sub->fd);
	fr_frame_unref(sub->sending);
	fr_frame_unref(sub->next);
	sub->sending = sub->next = NULL;
	sub->head_len = 0;
	fr_stats_format_client(line, sizeof line, &sub->counters);
	if (sub->params.log_limit != NULL)
		fr_log_limited(sub->params.log_limit, ev_now(sub->loop), FR_LOG_INFO,
		    "subscriber %s: closed: %s (%s)", sub->peer.text, why, line);
	else
		log_info("subscriber %s: closed: %s (%s)", sub->peer.text, why, line);
	sub->params.on_close(sub, sub->params.close_arg);
	fr_defer_free(&sub->defer, free_deferred);
}

void
fr_sub_get_info(const struct fr_sub *sub, struct fr_sub_info *info)
{
	info->peer = sub->peer.text;
	info->protocol = sub->params.protocol == FR_SUB_RAW ? "raw" : "http";
	info->connected_at = sub->connected_at;
	info->counters = sub->counters;
}

struct fr_list *
fr_sub_link(struct fr_sub *sub)
{
	return &sub->link;
}

struct fr_sub *
fr_sub_from_link(struct fr_list *link)
{
	return FR_CONTAINER_OF(link, struct fr_sub, link);
}

double
fr_sub_sending_since(const struct fr_sub *sub)
{
	return sub->sending != NULL ? sub->sending->received_at : 0;
}
