/* SPDX-License-Identifier: MIT */
/*
 * Loop tests for streams, subscribers and the ingest: a real libev loop and real
 * sockets (AF_UNIX socketpairs), the test holding the far end of each. They cover the
 * latest slot, fan-out, slow subscribers skipping frames, frame references, closing,
 * --client-timeout, and the producer path from bytes to published frames, including
 * truncation and allocation failures. Every wait is for a condition, bounded by an
 * ev_timer watchdog and the Check timeout, never for a fixed duration.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "fr/arena.h"
#include "fr/defer.h"
#include "fr/frame.h"
#include "fr/ingest.h"
#include "fr/log.h"
#include "fr/multipart.h"
#include "fr/stream.h"
#include "fr/sub.h"
#include "fr/util.h"
#include "fr/validate.h"

#include "chunking.h"
#include "helpers.h"
#include "loop_wait.h"
#include "sockets.h"
#include "suite.h"

/* Bigger than any socket buffer a subscriber with small buffers has. */
enum { BIG_FRAME = 256 * 1024 };
/* How long any single wait may take before the test fails. */
#define WAIT_S 10.0
/* ... and one that takes a loop iteration per byte (valgrind makes those slow). */
#define WAIT_PER_BYTE_S 50.0

/*
 * What a test allocates is owned by the fixture and released in teardown, so that a
 * failing test (which leaves by longjmp under CK_FORK=no) leaks nothing under valgrind.
 */
enum { MAX_OWNED = 16 };
static struct bytes owned_bytes[MAX_OWNED];
static size_t n_owned_bytes;
static struct fr_frame *owned_frames[MAX_OWNED];
static size_t n_owned_frames;

static struct bytes *
new_bytes(void)
{
	ck_assert_uint_lt(n_owned_bytes, MAX_OWNED);
	return &owned_bytes[n_owned_bytes++];
}

static const struct bytes *
read_fixture(const char *name)
{
	struct bytes *b = new_bytes();

	add_fixture(b, name);
	return b;
}

/* ---- the loop, the stream and the watchdog ---- */

static struct ev_loop *loop;
static struct fr_stream *stream;
static struct fr_ingest *ingest;
/* The ingest's parameters, for the next attach_producer() that creates it. */
static size_t ingest_max_frame_bytes;
static int ingest_validate;
static double ingest_idle_timeout_s;
/* Runs the loop until cond holds; fails the test if the watchdog fires first. */
#define WAIT_UNTIL(cond) WAIT_UNTIL_FOR(WAIT_S, cond)
#define WAIT_UNTIL_FOR(seconds, cond) LOOP_WAIT_UNTIL(loop, seconds, cond)

/* ---- the test's end of a subscriber socket ---- */

struct peer {
	ev_io io;
	int fd;
	int saw_eof;
	size_t max_per_read;	/* 0: read everything there is */
	struct bytes got;
};

enum { MAX_PEERS = 8 };
static struct peer peers[MAX_PEERS];
static size_t n_peers;

static void
peer_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct peer *p = FR_CONTAINER_OF(w, struct peer, io);
	static uint8_t buf[256 * 1024];

	(void)revents;
	for (;;) {
		ssize_t n = socket_recv(p->fd, buf, p->max_per_read ? p->max_per_read : sizeof buf);

		if (n == 0)
			return;
		if (n < 0) {
			p->saw_eof = 1;	/* EOF, or ECONNRESET */
			ev_io_stop(l, w);
			return;
		}
		bytes_add(&p->got, buf, (size_t)n);
		if (p->max_per_read)
			return;
	}
}

static void
peer_start_reading(struct peer *p)
{
	ev_io_start(loop, &p->io);
}

static void
peer_close(struct peer *p)
{
	ev_io_stop(loop, &p->io);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* Bytes the subscriber has written that the peer has not read yet. */
static size_t
peer_queued(const struct peer *p)
{
	int n = -1;

	ck_assert_int_eq(ioctl(p->fd, FIONREAD, &n), 0);
	ck_assert_int_ge(n, 0);
	return (size_t)n;
}

/* Reads what is there now, without the loop. */
static void
peer_drain_now(struct peer *p)
{
	peer_read_cb(loop, &p->io, EV_READ);
}

/*
 * A subscriber on the stream, as main.c's accept callback makes one, over a socketpair
 * whose other end is *out. With small_buffers, a frame of BIG_FRAME bytes cannot fit
 * into the socket, so the subscriber stays mid-frame until the peer reads.
 * is_reading: the peer reads everything as it arrives.
 */
static struct fr_sub *
add_sub_as(struct peer **out, double timeout_s, bool small_buffers, bool is_reading,
    const struct fr_sub_params *proto)
{
	int sv[2];
	struct fr_addr addr;
	char err[FR_ERR_LEN], name[32];

	ck_assert_uint_lt(n_peers, MAX_PEERS);
	socket_pair(sv, small_buffers);
	struct peer *p = &peers[n_peers];
	memset(p, 0, sizeof *p);
	p->fd = sv[1];
	ev_io_init(&p->io, peer_read_cb, p->fd, EV_READ);
	snprintf(name, sizeof name, "unix:/test/peer%zu", n_peers);
	n_peers++;
	ck_assert_int_eq(fr_addr_parse(&addr, name, err), 0);

	struct fr_sub_params params = fr_stream_sub_params(stream, timeout_s);
	params.protocol = proto->protocol;
	params.min_interval_s = proto->min_interval_s;
	struct fr_sub *sub = fr_sub_new(loop, sv[0], &addr, &params);
	ck_assert_ptr_nonnull(sub);
	if (is_reading)
		peer_start_reading(p);
	fr_stream_add_sub(stream, sub);
	*out = p;
	return sub;
}

/* A raw subscriber, as the --listen port makes them. */
static struct fr_sub *
add_sub(struct peer **out, double timeout_s, bool small_buffers, bool is_reading)
{
	static const struct fr_sub_params raw = { .protocol = FR_SUB_RAW };

	return add_sub_as(out, timeout_s, small_buffers, is_reading, &raw);
}

/* ---- frames ---- */

/* A sealed frame of len bytes whose content depends on seed (not a JPEG: the stream
 * and the subscribers never look inside). */
static struct fr_frame *
make_frame(size_t len, unsigned seed)
{
	struct fr_frame *f = fr_frame_new(len);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_lt(n_owned_frames, MAX_OWNED);
	owned_frames[n_owned_frames++] = f;
	for (size_t i = 0; i < len; i++)
		f->data[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
	fr_frame_seal(f, len);
	ck_assert_uint_eq(f->refs, 1);
	return f;
}

/* Publishes as the ingest does, from the loop's point of view: at the current time. */
static void
publish(struct fr_frame *f)
{
	ev_now_update(loop);
	fr_stream_publish(stream, f);
}

static void
assert_got(const struct peer *p, struct fr_frame *const *frames, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += frames[i]->len;
	ck_assert_uint_eq(p->got.len, total);
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(memcmp(p->got.p + at, frames[i]->data, frames[i]->len) == 0,
		    "frame %zu differs", i);
		at += frames[i]->len;
	}
}

static struct fr_sub_info
info_of(const struct fr_sub *sub)
{
	struct fr_sub_info info;

	fr_sub_get_info(sub, &info);
	return info;
}

/* ---- log lines ---- */

static FILE *captured;
static int saved_stderr = -1;

/* Sends stderr to a temporary file until capture_end(). */
static void
capture_begin(enum fr_log_level level)
{
	fflush(stderr);
	captured = tmpfile();
	ck_assert_ptr_nonnull(captured);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(fileno(captured), STDERR_FILENO), STDERR_FILENO);
	fr_log_set_level(level);
}

/* Restores stderr; returns the lines written, without their timestamps. */
static const char *
capture_end(void)
{
	static char text[8192];
	char line[1024];
	size_t n = 0;

	fflush(stderr);
	fr_log_set_level(FR_LOG_ERROR);
	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	rewind(captured);
	text[0] = '\0';
	while (fgets(line, sizeof line, captured) != NULL) {
		char *sp = strchr(line, ' ');	/* after "2025-01-01T00:00:00.000Z" */

		ck_assert_ptr_nonnull(sp);
		n += (size_t)snprintf(text + n, sizeof text - n, "%s", sp + 1);
		ck_assert_uint_lt(n, sizeof text);
	}
	fclose(captured);
	captured = NULL;
	return text;
}

/* ---- fixture ---- */

/* Published frames go to the stream's memfd arena and out with sendfile(), or, with
 * the arena taken away, stay on the heap and go out with sendmsg(). */
static bool is_heap_only;

static void
setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	fr_defer_init(loop);
	fr_log_set_level(FR_LOG_ERROR);
	stream = fr_stream_new("test");
	ck_assert_ptr_nonnull(stream);
	ck_assert_ptr_nonnull(stream->arena);	/* memfd_create works here */
	if (is_heap_only) {
		fr_arena_unref(stream->arena);
		stream->arena = NULL;
	}
	ingest = NULL;
	n_peers = 0;
	n_owned_bytes = 0;
	n_owned_frames = 0;
	ingest_max_frame_bytes = 8 * 1024 * 1024;
	ingest_validate = 0;
	ingest_idle_timeout_s = 0;
}

static void
setup_heap_only(void)
{
	is_heap_only = true;
	setup();
}

static void
teardown(void)
{
	if (saved_stderr >= 0) {	/* a test failed while capturing */
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
		fclose(captured);
	}
	fr_frame_fail_alloc_after(0);
	fr_arena_fail_alloc_after(0);
	fr_ingest_free(ingest);
	fr_stream_free(stream);
	fr_defer_fini();
	/* Every subscriber and the stream are gone: the test's references are the last. */
	for (size_t i = 0; i < n_owned_frames; i++)
		fr_frame_unref(owned_frames[i]);
	for (size_t i = 0; i < n_owned_bytes; i++)
		bytes_free(&owned_bytes[i]);
	for (size_t i = 0; i < n_peers; i++) {
		peer_close(&peers[i]);
		bytes_free(&peers[i].got);
	}
	ev_loop_destroy(loop);
	fr_validate_fini();
	fr_log_set_level(FR_LOG_INFO);
	/* Every frame is gone, so every arena file is closed. */
	ck_assert_uint_eq(fr_arena_open_files(), 0);
	is_heap_only = false;
}

/* ---- the latest slot ---- */

START_TEST(test_latest_first_frame_at_once)
{
	struct fr_frame *f = make_frame(4000, 1);
	struct peer *p;

	publish(f);
	ck_assert_ptr_eq(stream->latest, f);
	ck_assert_uint_eq(f->refs, 2);
	ck_assert_uint_eq(f->seq, 0);
	ck_assert_uint_eq(stream->counters.frames_in, 1);

	/* Written from fr_stream_add_sub() itself: no loop iteration needed. */
	struct fr_sub *sub = add_sub(&p, 10, false, false);
	ck_assert_uint_eq(stream->counters.clients, 1);
	peer_drain_now(p);
	assert_got(p, &f, 1);
	ck_assert_uint_eq(stream->counters.frames_out, 1);
	ck_assert_uint_eq(stream->counters.bytes_out, 4000);
	struct fr_sub_info info = info_of(sub);
	ck_assert_uint_eq(info.counters.frames_sent, 1);
	ck_assert_uint_eq(info.counters.bytes_sent, 4000);
	ck_assert_uint_eq(info.counters.frames_dropped, 0);
	ck_assert_str_eq(info.peer, "unix:/test/peer0");
	ck_assert_str_eq(info.protocol, "raw");
	/* Sent and done: only the test and the latest slot hold it. */
	ck_assert_uint_eq(f->refs, 2);

	struct fr_frame *g = make_frame(3000, 2);
	publish(g);
	peer_drain_now(p);
	struct fr_frame *both[] = { f, g };
	assert_got(p, both, 2);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert_uint_eq(g->refs, 2);
}
END_TEST

START_TEST(test_latest_nothing_before_first_frame)
{
	struct peer *p;
	uint8_t c;

	add_sub(&p, 10, false, false);
	ck_assert_ptr_null(stream->latest);
	ck_assert_int_eq(recv(p->fd, &c, 1, 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(stream->counters.clients, 1);
	ck_assert_uint_eq(stream->counters.frames_out, 0);

	struct fr_frame *f = make_frame(100, 3);
	publish(f);
	peer_drain_now(p);
	assert_got(p, &f, 1);
}
END_TEST

START_TEST(test_latest_replaced)
{
	struct fr_frame *f1 = make_frame(10, 1), *f2 = make_frame(20, 2), *f3 = make_frame(30, 3);

	publish(f1);
	publish(f2);
	ck_assert_ptr_eq(stream->latest, f2);
	ck_assert_uint_eq(f1->refs, 1);
	ck_assert_uint_eq(f2->refs, 2);
	publish(f3);
	ck_assert_ptr_eq(stream->latest, f3);
	ck_assert_uint_eq(f2->refs, 1);
	ck_assert_uint_eq(f3->refs, 2);
	ck_assert_uint_eq(f1->seq, 0);
	ck_assert_uint_eq(f2->seq, 1);
	ck_assert_uint_eq(f3->seq, 2);
	ck_assert_uint_eq(stream->counters.frames_in, 3);
	ck_assert_uint_eq(stream->counters.frames_out, 0);

	/* A late subscriber gets only the newest. */
	struct peer *p;
	add_sub(&p, 10, false, false);
	peer_drain_now(p);
	assert_got(p, &f3, 1);

	fr_stream_free(stream);
	stream = NULL;
	ck_assert_uint_eq(f3->refs, 1);
}
END_TEST

/* ---- fan-out ---- */

START_TEST(test_fanout_byte_identical)
{
	/* From one byte to several per-event write budgets (3 MB). */
	static const size_t sizes[] = { 1, 100, 4096, 65537, BIG_FRAME + 3, 3 * 1024 * 1024 + 5 };
	enum { N = sizeof sizes / sizeof sizes[0], SUBS = 3 };
	struct fr_frame *frames[N];
	struct peer *p[SUBS];
	struct fr_sub *subs[SUBS];
	uint64_t total = 0;

	for (size_t i = 0; i < SUBS; i++)
		subs[i] = add_sub(&p[i], 10, i == 1, true);
	for (size_t i = 0; i < N; i++) {
		frames[i] = make_frame(sizes[i], (unsigned)i + 10);
		total += sizes[i];
		publish(frames[i]);
		/* Let every subscriber finish this frame, so none has a reason to skip. */
		WAIT_UNTIL(p[0]->got.len == total && p[1]->got.len == total &&
		    p[2]->got.len == total);
	}
	for (size_t i = 0; i < SUBS; i++) {
		assert_got(p[i], frames, N);
		struct fr_sub_info info = info_of(subs[i]);
		ck_assert_uint_eq(info.counters.frames_sent, N);
		ck_assert_uint_eq(info.counters.frames_dropped, 0);
		ck_assert_uint_eq(info.counters.bytes_sent, total);
	}
	ck_assert_uint_eq(stream->counters.frames_in, N);
	ck_assert_uint_eq(stream->counters.frames_out, SUBS * N);
	ck_assert_uint_eq(stream->counters.bytes_out, SUBS * total);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);
	ck_assert_uint_eq(stream->counters.clients, SUBS);
	for (size_t i = 0; i < N; i++)
		ck_assert_uint_eq(frames[i]->refs, i == N - 1 ? 2 : 1);
}
END_TEST

/* ---- slow subscribers ---- */

/*
 * The scenario of DESIGN.md: X's peer never reads, Y's reads everything. A, B, C and D
 * are published while X is stuck in A: X ends with D as its next frame, B and C
 * skipped; Y gets all four. When X's peer reads at last, it gets A then D, whole.
 */
START_TEST(test_slow_skips_to_newest)
{
	struct fr_frame *f[4];
	struct peer *px, *py;
	struct fr_sub *x = add_sub(&px, 60, true, false);
	struct fr_sub *y = add_sub(&py, 60, false, true);

	for (unsigned i = 0; i < 4; i++) {
		f[i] = make_frame(BIG_FRAME, 100 + i);
		publish(f[i]);
		WAIT_UNTIL(py->got.len == (i + 1) * (size_t)BIG_FRAME);
	}
	struct fr_frame *a = f[0], *b = f[1], *c = f[2], *d = f[3];

	/* Y got everything; X is still in A and skipped B and C. */
	assert_got(py, f, 4);
	struct fr_sub_info xi = info_of(x), yi = info_of(y);
	ck_assert_uint_eq(yi.counters.frames_sent, 4);
	ck_assert_uint_eq(yi.counters.frames_dropped, 0);
	ck_assert_uint_eq(yi.counters.bytes_sent, 4 * (uint64_t)BIG_FRAME);
	ck_assert_uint_eq(xi.counters.frames_sent, 0);
	ck_assert_uint_eq(xi.counters.frames_dropped, 2);
	ck_assert_uint_gt(xi.counters.bytes_sent, 0);
	ck_assert_uint_lt(xi.counters.bytes_sent, BIG_FRAME);
	ck_assert_uint_eq(xi.counters.bytes_sent, peer_queued(px));
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 2);
	ck_assert_uint_eq(stream->counters.frames_out, 4);
	ck_assert_uint_eq(stream->counters.bytes_out,
	    4 * (uint64_t)BIG_FRAME + xi.counters.bytes_sent);
	/* At most two frames per subscriber: X holds A (sending) and D (next). */
	ck_assert_uint_eq(a->refs, 2);
	ck_assert_uint_eq(b->refs, 1);
	ck_assert_uint_eq(c->refs, 1);
	ck_assert_uint_eq(d->refs, 3);

	/* X's peer reads at last: A, then D, whole; nothing else. */
	peer_start_reading(px);
	WAIT_UNTIL(px->got.len == 2 * (size_t)BIG_FRAME && stream->counters.frames_out == 6);
	struct fr_frame *ad[] = { a, d };
	assert_got(px, ad, 2);
	xi = info_of(x);
	ck_assert_uint_eq(xi.counters.frames_sent, 2);
	ck_assert_uint_eq(xi.counters.frames_dropped, 2);
	ck_assert_uint_eq(xi.counters.bytes_sent, 2 * (uint64_t)BIG_FRAME);
	ck_assert_uint_eq(stream->counters.bytes_out, 6 * (uint64_t)BIG_FRAME);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 2);
	ck_assert_uint_eq(a->refs, 1);
	ck_assert_uint_eq(d->refs, 2);

	/* Both peers leave: the subscribers close and let go of everything. */
	peer_close(px);
	peer_close(py);
	WAIT_UNTIL(stream->counters.clients == 0);
	ck_assert_int_eq(fr_list_is_empty(&stream->subs), 1);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_uint_eq(f[i]->refs, 1);
	ck_assert_uint_eq(d->refs, 2);
	fr_stream_free(stream);
	stream = NULL;
	ck_assert_uint_eq(d->refs, 1);
}
END_TEST

/* A stuck subscriber whose peer leaves lets go of both frames it holds. */
START_TEST(test_slow_peer_leaves_mid_frame)
{
	struct peer *px, *py;
	struct fr_frame *a = make_frame(BIG_FRAME, 1), *b = make_frame(BIG_FRAME, 2);
	struct fr_frame *c = make_frame(1000, 3);

	add_sub(&px, 60, true, false);
	add_sub(&py, 60, false, true);
	publish(a);
	WAIT_UNTIL(py->got.len == BIG_FRAME);
	publish(b);
	WAIT_UNTIL(py->got.len == 2 * (size_t)BIG_FRAME);
	ck_assert_uint_eq(a->refs, 2);	/* test + X sending */
	ck_assert_uint_eq(b->refs, 3);	/* test + latest + X next */

	peer_close(px);
	WAIT_UNTIL(stream->counters.clients == 1);
	ck_assert_uint_eq(a->refs, 1);
	ck_assert_uint_eq(b->refs, 2);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);

	/* The other subscriber carries on. */
	publish(c);
	WAIT_UNTIL(py->got.len == 2 * (size_t)BIG_FRAME + 1000);
	struct fr_frame *all[] = { a, b, c };
	assert_got(py, all, 3);
}
END_TEST

/* ---- freshness: the age of what a subscriber is sent, and its kernel queue ---- */

/* Publishes f as the ingest would had its last byte arrived age_s ago. */
static void
publish_aged(struct fr_frame *f, double age_s)
{
	ev_now_update(loop);
	f->received_at = ev_now(loop) - age_s;
	fr_stream_publish(stream, f);
}

/* The frame-age bucket (index into fr_stats_frame_age_bounds, or past it) of age_s. */
static size_t
age_bucket(double age_s)
{
	size_t i = 0;

	while (i < FR_STATS_FRAME_AGE_BOUNDS && age_s > fr_stats_frame_age_bounds[i])
		i++;
	return i;
}

/* A frame that arrived 3 s before it was published is 3 s old (and a bit) when its
 * write completes: the client's last and largest age, and the stream's histogram. */
START_TEST(test_age_old_frame)
{
	struct peer *p;
	struct fr_frame *f = make_frame(1000, 1);
	struct fr_sub *sub = add_sub(&p, 60, false, true);

	publish_aged(f, 3.0);
	WAIT_UNTIL(p->got.len == 1000 && info_of(sub).counters.frames_sent == 1);
	struct fr_client_counters c = info_of(sub).counters;
	ck_assert_uint_ge(c.frame_age_ms, 3000);
	ck_assert_uint_lt(c.frame_age_ms, 3000 + (uint64_t)(WAIT_S * 1000));
	ck_assert_uint_eq(c.frame_age_max_ms, c.frame_age_ms);

	const struct fr_histogram *h = &stream->counters.frame_age_seconds;
	size_t bucket = age_bucket((double)c.frame_age_ms / 1000);
	ck_assert_uint_eq(h->count, 1);
	ck_assert_uint_eq(h->buckets[bucket], 1);
	ck_assert_double_ge(h->sum, 3.0);
	ck_assert_double_lt(h->sum, 3.0 + WAIT_S);
	ck_assert_uint_eq(bucket, age_bucket(h->sum));	/* the same one observation */

	/* A fresh frame next: the last age drops, the largest stays. */
	struct fr_frame *g = make_frame(1000, 2);
	publish_aged(g, 0);
	WAIT_UNTIL(info_of(sub).counters.frames_sent == 2);
	struct fr_client_counters c2 = info_of(sub).counters;
	ck_assert_uint_lt(c2.frame_age_ms, c.frame_age_ms);
	ck_assert_uint_eq(c2.frame_age_max_ms, c.frame_age_ms);
	ck_assert_uint_eq(h->count, 2);
}
END_TEST

static void
stop_loop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w, (void)revents;
	ev_break(l, EVBREAK_ONE);
}

/*
 * A subscriber that is stuck for a while and then drained reports, for the frame it
 * was stuck on, an age of at least the time it was stuck: the age counts until the
 * frame's last byte is written, not from when its write began.
 */
START_TEST(test_age_stuck_then_drained)
{
	struct peer *p;
	struct fr_frame *f = make_frame(BIG_FRAME, 1);
	struct fr_sub *sub = add_sub(&p, 60, true, false);
	ev_timer stuck_for;

	publish_aged(f, 0);
	double published_at = ev_now(loop);
	ev_timer_init(&stuck_for, stop_loop_cb, 0.3, 0.);
	ev_timer_start(loop, &stuck_for);
	ev_run(loop, 0);
	ck_assert_uint_eq(info_of(sub).counters.frames_sent, 0);	/* stuck mid-frame */
	ck_assert_uint_lt(p->got.len + peer_queued(p), BIG_FRAME);

	ev_now_update(loop);
	double stuck_s = ev_now(loop) - published_at;
	peer_start_reading(p);
	WAIT_UNTIL(info_of(sub).counters.frames_sent == 1);
	struct fr_client_counters c = info_of(sub).counters;
	ck_assert_uint_ge(c.frame_age_ms, (uint64_t)(stuck_s * 1000));
	ck_assert_uint_ge(c.frame_age_ms, 300);
	ck_assert_uint_eq(c.frame_age_max_ms, c.frame_age_ms);
	ck_assert_uint_eq(stream->counters.frame_age_seconds.count, 1);
}
END_TEST

/* A raw subscriber over a real TCP connection on 127.0.0.1, as --listen makes one;
 * *sub_fd gets its socket (the test may look at it, never close it). */
static struct fr_sub *
add_tcp_sub(struct peer **out, int *sub_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sa_len = sizeof sa;
	struct fr_addr addr;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &sa_len), 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c, 0);
	ck_assert(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EINPROGRESS);
	int fd = accept4(l, (struct sockaddr *)&sa, &sa_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	close(l);
	fr_addr_from_sockaddr(&addr, (struct sockaddr *)&sa, sa_len);

	ck_assert_uint_lt(n_peers, MAX_PEERS);
	struct peer *p = &peers[n_peers++];
	memset(p, 0, sizeof *p);
	p->fd = c;
	ev_io_init(&p->io, peer_read_cb, p->fd, EV_READ);
	peer_start_reading(p);

	struct fr_sub_params params = fr_stream_sub_params(stream, 60);
	params.protocol = FR_SUB_RAW;
	struct fr_sub *sub = fr_sub_new(loop, fd, &addr, &params);
	ck_assert_ptr_nonnull(sub);
	fr_stream_add_sub(stream, sub);
	*out = p;
	*sub_fd = fd;
	return sub;
}

static int
lowat_of(int fd)
{
	int v = -1;
	socklen_t len = sizeof v;

	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len), 0);
	return v;
}

/*
 * A TCP subscriber's socket has TCP_NOTSENT_LOWAT from the start: 16 KiB, or a quarter
 * of the frame rounded down to a power of two for big frames, set again only when the
 * frame size leaves [2 x, 8 x] the value. (A unix socket takes none: the other tests.)
 */
START_TEST(test_lowat_from_frame_size)
{
	static const struct {
		size_t len;
		int lowat;
	} steps[] = {
		{ 1000, 16384 },	/* small frames: the least */
		{ 100000, 16384 },	/* 1080p: still in [2 x, 8 x] 16 KiB */
		{ 256 * 1024, 65536 },	/* a quarter */
		{ 200 * 1024, 65536 },	/* within [2 x, 8 x]: kept */
		{ 500 * 1024, 65536 },	/* still */
		{ 600 * 1024, 131072 },	/* past 8 x: a quarter, rounded down */
		{ 100000, 16384 },	/* below 2 x: back to the least */
	};
	struct peer *p;
	int fd;

	add_tcp_sub(&p, &fd);
	ck_assert_int_eq(lowat_of(fd), 16384);
	size_t total = 0;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct fr_frame *f = make_frame(steps[i].len, (unsigned)i);

		publish(f);
		total += steps[i].len;
		WAIT_UNTIL(p->got.len == total);
		ck_assert_msg(lowat_of(fd) == steps[i].lowat, "step %zu: frame of %zu bytes: "
		    "TCP_NOTSENT_LOWAT %d, expected %d", i, steps[i].len, lowat_of(fd),
		    steps[i].lowat);
	}
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);

	/* A unix socket takes no low-water mark; its subscriber is served the same. */
	struct peer *u;
	add_sub(&u, 60, false, true);
	WAIT_UNTIL(u->got.len == 100000);
}
END_TEST

/* ---- closing ---- */

START_TEST(test_close_by_peer)
{
	struct peer *p1, *p2;
	struct fr_frame *f = make_frame(500, 1);

	add_sub(&p1, 10, false, true);
	add_sub(&p2, 10, false, true);
	publish(f);
	WAIT_UNTIL(p1->got.len == 500 && p2->got.len == 500);
	ck_assert_uint_eq(stream->counters.clients, 2);

	peer_close(p1);
	WAIT_UNTIL(stream->counters.clients == 1);
	peer_close(p2);
	WAIT_UNTIL(stream->counters.clients == 0);
	ck_assert_int_eq(fr_list_is_empty(&stream->subs), 1);
	ck_assert_uint_eq(f->refs, 2);	/* test + latest */
	ck_assert_uint_eq(stream->counters.frames_out, 2);
}
END_TEST

/* Bytes the peer has sent that the subscriber has not read yet. */
static size_t
peer_unread_by_sub(const struct peer *p)
{
	int n = -1;

	ck_assert_int_eq(ioctl(p->fd, SIOCOUTQ, &n), 0);
	ck_assert_int_ge(n, 0);
	return (size_t)n;
}

/* Subscribers have nothing to say: what they send is read and dropped. */
START_TEST(test_close_input_ignored)
{
	struct peer *p;
	struct fr_frame *f = make_frame(200, 1);
	char junk[8192];

	memset(junk, 'j', sizeof junk);
	add_sub(&p, 10, false, true);
	ck_assert_int_eq(send(p->fd, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
	ck_assert_uint_gt(peer_unread_by_sub(p), 0);
	WAIT_UNTIL(peer_unread_by_sub(p) == 0);
	publish(f);
	WAIT_UNTIL(p->got.len == 200);
	assert_got(p, &f, 1);
	ck_assert_uint_eq(stream->counters.clients, 1);
}
END_TEST

/* Closing from our side: the peer sees EOF; closing twice does nothing. */
/* The demand watcher hears of the first subscriber and of the last one leaving, once
 * each, however many come and go in between. */
static unsigned demand_calls;
static bool last_demand;

static void
on_demand(struct fr_stream *s, bool has_demand, void *arg)
{
	ck_assert_ptr_eq(s, stream);
	ck_assert_ptr_eq(arg, &demand_calls);
	demand_calls++;
	last_demand = has_demand;
}

START_TEST(test_close_demand)
{
	struct peer *p1, *p2, *p3;

	demand_calls = 0;
	fr_stream_watch_demand(stream, on_demand, &demand_calls);
	struct fr_sub *s1 = add_sub(&p1, 10, false, true);
	ck_assert_uint_eq(demand_calls, 1);
	ck_assert(last_demand);
	struct fr_sub *s2 = add_sub(&p2, 10, false, true);
	fr_sub_close(s1, "test");
	ck_assert_uint_eq(demand_calls, 1);
	fr_sub_close(s2, "test");
	ck_assert_uint_eq(demand_calls, 2);
	ck_assert(!last_demand);
	add_sub(&p3, 10, false, true);
	ck_assert_uint_eq(demand_calls, 3);
	ck_assert(last_demand);
	fr_stream_watch_demand(stream, NULL, NULL);
}
END_TEST

/* A derived stream (a scaled size): its subscribers count in its parent's clients and
 * demand; a subscriber moved between the two keeps the parent's demand up; the frame
 * watcher sees every frame the parent publishes, after its subscribers. */
static unsigned child_calls, frame_calls;
static bool child_demand;
static struct fr_frame *watched;

static void
on_child_demand(struct fr_stream *s, bool has_demand, void *arg)
{
	(void)s, (void)arg;
	child_calls++;
	child_demand = has_demand;
}

static void
on_frame(struct fr_stream *s, struct fr_frame *f, void *arg)
{
	ck_assert_ptr_eq(s, stream);
	ck_assert_ptr_eq(arg, &frame_calls);
	frame_calls++;
	watched = f;
}

/* The second watcher: called after the first, with the same frame. */
static void
on_frame_federation(struct fr_stream *s, struct fr_frame *f, void *arg)
{
	(void)s;
	ck_assert_ptr_eq(f, watched);
	(*(unsigned *)arg)++;
}

START_TEST(test_derived_stream)
{
	unsigned federation_calls = 0;
	struct peer *p1;
	struct fr_frame *a = make_frame(4000, 1), *b = make_frame(5000, 2);
	struct fr_stream *child = fr_stream_new("test@1/2");

	ck_assert_ptr_nonnull(child);
	demand_calls = child_calls = frame_calls = 0;
	fr_stream_set_parent(child, stream);
	fr_stream_watch_demand(stream, on_demand, &demand_calls);
	fr_stream_watch_demand(child, on_child_demand, NULL);
	fr_stream_watch_frames(stream, FR_WATCH_SCALE, on_frame, &frame_calls);
	fr_stream_watch_frames(stream, FR_WATCH_FEDERATION, on_frame_federation,
	    &federation_calls);
	struct fr_sub *s1 = add_sub(&p1, 10, false, true);
	ck_assert_uint_eq(demand_calls, 1);
	fr_stream_move_sub(stream, child, s1);
	ck_assert_uint_eq(demand_calls, 1);	/* the parent's demand never dropped */
	ck_assert_uint_eq(child_calls, 1);
	ck_assert(child_demand);
	ck_assert_uint_eq(stream->counters.clients, 1);
	ck_assert_uint_eq(child->counters.clients, 1);
	/* The parent's frames go to its watcher, the child's to its subscriber. */
	publish(a);
	ck_assert_uint_eq(frame_calls, 1);
	ck_assert_uint_eq(federation_calls, 1);
	ck_assert_ptr_eq(watched, a);
	ev_now_update(loop);
	fr_stream_publish(child, b);
	ck_assert_uint_eq(frame_calls, 1);
	WAIT_UNTIL(p1->got.len == b->len);
	assert_got(p1, &b, 1);
	/* Back to the parent: the child's demand ends, the parent's stays. */
	fr_stream_move_sub(child, stream, s1);
	ck_assert_uint_eq(child_calls, 2);
	ck_assert(!child_demand);
	ck_assert_uint_eq(demand_calls, 1);
	ck_assert_uint_eq(child->counters.clients, 0);
	fr_sub_close(s1, "test");
	ck_assert_uint_eq(demand_calls, 2);
	ck_assert(!last_demand);
	ck_assert_uint_eq(stream->counters.clients, 0);
	fr_stream_watch_demand(stream, NULL, NULL);
	fr_stream_watch_frames(stream, FR_WATCH_SCALE, NULL, NULL);
	fr_stream_watch_frames(stream, FR_WATCH_FEDERATION, NULL, NULL);
	fr_stream_free(child);
}
END_TEST

START_TEST(test_close_by_server)
{
	struct peer *p1, *p2;
	struct fr_frame *a = make_frame(BIG_FRAME, 1), *b = make_frame(BIG_FRAME, 2);
	struct fr_sub *s1 = add_sub(&p1, 10, true, false);

	add_sub(&p2, 10, false, true);
	publish(a);
	WAIT_UNTIL(p2->got.len == BIG_FRAME);
	publish(b);
	WAIT_UNTIL(p2->got.len == 2 * (size_t)BIG_FRAME);
	/* s1 holds a (sending) and b (next). */
	ck_assert_uint_eq(a->refs, 2);
	ck_assert_uint_eq(b->refs, 3);

	fr_sub_close(s1, "test");
	ck_assert_uint_eq(stream->counters.clients, 1);
	ck_assert_uint_eq(a->refs, 1);
	ck_assert_uint_eq(b->refs, 2);
	fr_sub_close(s1, "test again");	/* still queued for freeing: a no-op */
	ck_assert_uint_eq(stream->counters.clients, 1);

	/* The peer gets the bytes already queued, then EOF. */
	peer_start_reading(p1);
	WAIT_UNTIL(p1->saw_eof);
	ck_assert_uint_lt(p1->got.len, BIG_FRAME);
	ck_assert_mem_eq(p1->got.p, a->data, p1->got.len);
}
END_TEST

/* A subscriber that fails while the stream offers it a frame is closed, and the
 * stream goes on to the others (first, middle and last in the list). */
START_TEST(test_close_during_publish)
{
	struct peer *p[4];
	struct fr_frame *f = make_frame(1000, 1);

	for (int i = 0; i < 4; i++)
		add_sub(&p[i], 10, false, true);
	/* Gone, but the loop has not noticed: the next write fails with EPIPE. */
	peer_close(p[0]);
	peer_close(p[2]);
	peer_close(p[3]);
	publish(f);
	ck_assert_uint_eq(stream->counters.clients, 1);
	ck_assert_uint_eq(stream->counters.frames_out, 1);
	ck_assert_uint_eq(f->refs, 2);
	WAIT_UNTIL(p[1]->got.len == 1000);
	assert_got(p[1], &f, 1);
}
END_TEST

/* Freeing the stream closes every subscriber and releases every frame. */
START_TEST(test_close_stream_free)
{
	struct peer *p1, *p2;
	struct fr_frame *a = make_frame(BIG_FRAME, 1), *b = make_frame(BIG_FRAME, 2);

	add_sub(&p1, 10, true, false);
	add_sub(&p2, 10, true, false);
	publish(a);
	publish(b);
	ck_assert_uint_eq(a->refs, 3);	/* test + two sending */
	ck_assert_uint_eq(b->refs, 4);	/* test + latest + two next */
	fr_stream_free(stream);
	stream = NULL;
	ck_assert_uint_eq(a->refs, 1);
	ck_assert_uint_eq(b->refs, 1);
	peer_start_reading(p1);
	peer_start_reading(p2);
	WAIT_UNTIL(p1->saw_eof && p2->saw_eof);
}
END_TEST

/* ---- --client-timeout ---- */

/*
 * X's peer never reads and X has a timeout of 0.2 s: the idle timer closes it. Z has
 * the same timeout but nothing left to send, so it stays however long that takes.
 */
START_TEST(test_timeout_stuck_closed)
{
	struct peer *px, *pz;
	struct fr_frame *a = make_frame(BIG_FRAME, 1);

	add_sub(&px, 0.2, true, false);
	struct fr_sub *z = add_sub(&pz, 0.2, false, true);
	publish(a);
	WAIT_UNTIL(pz->got.len == BIG_FRAME);
	ck_assert_uint_eq(a->refs, 3);	/* test + latest + X */

	WAIT_UNTIL(stream->counters.clients == 1);
	ck_assert_ptr_eq(fr_sub_from_link(stream->subs.next), z);
	ck_assert_uint_eq(a->refs, 2);
	ck_assert_uint_eq(stream->counters.frames_out, 1);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);

	/* X's peer gets what was queued, a prefix of A, then EOF. */
	peer_start_reading(px);
	WAIT_UNTIL(px->saw_eof);
	ck_assert_uint_gt(px->got.len, 0);
	ck_assert_uint_lt(px->got.len, BIG_FRAME);
	ck_assert_mem_eq(px->got.p, a->data, px->got.len);
}
END_TEST

/* Paced reads: a few KB each tick. */
static struct peer *paced;
static void
pace_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	peer_read_cb(loop, &paced->io, EV_READ);
}

/*
 * The timeout counts from the last write progress: a subscriber that keeps reading a
 * little, for longer than the timeout in all, is not cut; when it stops, it is.
 */
START_TEST(test_timeout_progress_keeps_alive)
{
	struct peer *px;
	struct fr_frame *a = make_frame(192 * 1024, 1);
	ev_timer pace;

	add_sub(&px, 1.0, true, false);
	px->max_per_read = 4096;
	paced = px;
	/* sendfile() to an AF_UNIX socket queues 64 KiB at a time whatever SO_SNDBUF
	 * says, so the peer must take that in less than the timeout: 0.16 s, with room
	 * for a busy machine's late timers. */
	ev_timer_init(&pace, pace_cb, 0.01, 0.01);
	ev_timer_start(loop, &pace);
	publish(a);
	WAIT_UNTIL(px->got.len == a->len && stream->counters.frames_out == 1);
	ck_assert_uint_eq(stream->counters.clients, 1);
	assert_got(px, &a, 1);
	ev_timer_stop(loop, &pace);

	/* Another frame, and now the peer stops reading. */
	struct fr_frame *b = make_frame(BIG_FRAME, 2);
	publish(b);
	WAIT_UNTIL(stream->counters.clients == 0);
	ck_assert_uint_eq(b->refs, 2);
}
END_TEST

/* ---- counters and their log lines ---- */

START_TEST(test_counters_drops)
{
	capture_begin(FR_LOG_WARN);
	fr_stream_note_drop(stream, FR_DROP_OVERSIZE, 6291456, 100.0,
	    "larger than --max-frame-size");
	fr_stream_note_drop(stream, FR_DROP_OVERSIZE, 6291457, 100.5, "suppressed");
	/* Each reason has its own limiter. */
	fr_stream_note_drop(stream, FR_DROP_TRUNCATED, 100, 100.5, NULL);
	fr_stream_note_drop(stream, FR_DROP_OVERSIZE, 6291458, 100.75, "suppressed");
	fr_stream_note_drop(stream, FR_DROP_OVERSIZE, 6291459, 101.0, "again");
	fr_stream_note_drop(stream, FR_DROP_INVALID, 2, 101.0, "broken marker structure");
	fr_stream_note_drop(stream, FR_DROP_TRUNCATED, 5, 101.25, "producer left mid-frame");
	ck_assert_str_eq(capture_end(),
	    "warn: stream test: dropped frame: oversize, 6291456 bytes: larger than "
	    "--max-frame-size\n"
	    "warn: stream test: dropped frame: truncated, 100 bytes\n"
	    "warn: stream test: dropped frame: oversize, 6291459 bytes: again "
	    "(2 more suppressed)\n"
	    "warn: stream test: dropped frame: invalid, 2 bytes: broken marker structure\n");
	ck_assert_uint_eq(stream->counters.dropped_oversize, 4);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 2);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 1);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
}
END_TEST

START_TEST(test_counters_garbage)
{
	capture_begin(FR_LOG_WARN);
	fr_stream_note_garbage(stream, 10, 200.0);
	fr_stream_note_garbage(stream, 5, 200.1);
	fr_stream_note_garbage(stream, 6, 200.9);
	fr_stream_note_garbage(stream, 7, 201.2);
	ck_assert_str_eq(capture_end(),
	    "warn: stream test: skipped 10 bytes outside any JPEG frame\n"
	    "warn: stream test: skipped 7 bytes outside any JPEG frame (2 more suppressed)\n");
	ck_assert_uint_eq(stream->counters.garbage_bytes, 28);
}
END_TEST

START_TEST(test_counters_log)
{
	struct peer *p;
	struct fr_frame *f = make_frame(4000, 1);

	/* Received 2 s ago: the subscriber sends it at once, in fr_stream_add_sub(). */
	ev_now_update(loop);
	f->received_at = ev_now(loop) - 2.0;
	fr_stream_publish(stream, f);
	struct fr_sub *sub = add_sub(&p, 10, false, true);
	WAIT_UNTIL(p->got.len == 4000);
	stream->counters.bytes_in = 4100;
	stream->counters.garbage_bytes = 100;
	struct fr_sub_info info = info_of(sub);
	capture_begin(FR_LOG_INFO);
	fr_stream_log_counters(stream, info.connected_at + 1.5);
	ck_assert_str_eq(capture_end(),
	    "info: stream test: frames_in=1 bytes_in=4100 frames_out=1 bytes_out=4000 "
	    "dropped_slow_client=0 dropped_fps_cap=0 dropped_invalid=0 dropped_oversize=0 "
	    "dropped_truncated=0 dropped_scale_invalid=0 garbage_bytes=100 clients=1 "
	    "clients_refused=0 producer_connected=0 producer_connects=0 arena_fallbacks=0 "
	    "frames_scaled=0 scale_cpu_s=0.000000 frame_age_seconds_count=1 "
	    "frame_age_seconds_sum=2.000 latest_bytes=4000\n"
	    "info: stream test: client unix:/test/peer0 raw connected_s=1.5 frames_sent=1 "
	    "frames_dropped=0 frames_dropped_fps_cap=0 frame_age_ms=2000 frame_age_max_ms=2000 "
	    "bytes_sent=4000\n");

	/* A subscriber's close is logged with its counters. */
	capture_begin(FR_LOG_INFO);
	fr_sub_close(sub, "test");
	ck_assert_str_eq(capture_end(),
	    "info: subscriber unix:/test/peer0: closed: test (frames_sent=1 frames_dropped=0 "
	    "frames_dropped_fps_cap=0 frame_age_ms=2000 frame_age_max_ms=2000 bytes_sent=4000)\n");
}
END_TEST

/* ---- ingest ---- */

/* Frame boundaries of fixtures/ffmpeg-320x240-10.mjpeg (fixtures/README.md). */
static const size_t mjpeg_starts[] = {
	0, 8607, 17287, 26075, 34981, 44158, 53245, 62419, 71850, 81516, 91232,
};

static size_t
mjpeg_len(size_t i)
{
	return mjpeg_starts[i + 1] - mjpeg_starts[i];
}

/* A producer writing from the test end of a socketpair, one chunk (chunking.h) a send. */
struct feeder {
	ev_io io;
	int fd;
	const uint8_t *data;
	size_t len, at;
	struct chunker chunker;
};

static void
feeder_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct feeder *fe = FR_CONTAINER_OF(w, struct feeder, io);
	size_t n = chunker_next(&fe->chunker, fe->len - fe->at);

	(void)revents;
	ssize_t w_n = send(fe->fd, fe->data + fe->at, n, MSG_NOSIGNAL);
	if (w_n < 0) {
		ck_assert_msg(errno == EAGAIN || errno == EINTR, "send: %s", strerror(errno));
		return;
	}
	fe->at += (size_t)w_n;
	if (fe->at == fe->len)
		ev_io_stop(l, w);
}

/* A producer socket attached to the ingest; returns the test's end. */
static int
attach_producer(void)
{
	int sv[2];
	struct fr_addr addr;
	char err[FR_ERR_LEN];

	if (ingest == NULL) {
		struct fr_ingest_params params = {
			.max_frame_bytes = ingest_max_frame_bytes,
			.validate = ingest_validate,
			.idle_timeout_s = ingest_idle_timeout_s,
		};

		ingest = fr_ingest_new(loop, stream, &params);
		ck_assert_ptr_nonnull(ingest);
	}
	socket_pair(sv, false);
	ck_assert_int_eq(fr_addr_parse(&addr, "unix:/test/producer", err), 0);
	fr_ingest_attach(ingest, sv[0], &addr);
	return sv[1];
}

/* Queues all of p at once (the socket buffer takes it without blocking). */
static void
send_now(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
assert_latest_is(const uint8_t *p, size_t n)
{
	ck_assert_ptr_nonnull(stream->latest);
	ck_assert_uint_eq(stream->latest->len, n);
	ck_assert_mem_eq(stream->latest->data, p, n);
	ck_assert_int_eq(stream->latest->is_sealed, 1);
}

START_TEST(test_ingest_fixture_chunked)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;
	struct feeder feed = { .data = in->p, .len = in->len };

	chunker_init(&feed.chunker, (enum chunking)_i);

	ck_assert_uint_eq(in->len, mjpeg_starts[10]);
	add_sub(&p, 10, false, true);
	feed.fd = attach_producer();
	ck_assert_uint_eq(stream->counters.producer_connected, 1);
	ck_assert_uint_eq(stream->counters.producer_connects, 1);
	ck_assert_ptr_nonnull(fr_ingest_producer(ingest));
	ev_io_init(&feed.io, feeder_cb, feed.fd, EV_WRITE);
	ev_io_start(loop, &feed.io);

	/* 1-byte chunks: a send and a read per byte. */
	WAIT_UNTIL_FOR(WAIT_PER_BYTE_S, stream->counters.frames_in == 10 && p->got.len == in->len);
	ck_assert_uint_eq(stream->counters.bytes_in, in->len);
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 0);
	ck_assert_uint_eq(stream->counters.dropped_oversize, 0);
	assert_latest_is(in->p + mjpeg_starts[9], mjpeg_len(9));
	ck_assert_uint_eq(stream->latest->seq, 9);
	ck_assert_uint_eq(stream->latest->refs, 1);
	/* The subscriber got the whole stream, byte for byte. */
	ck_assert_mem_eq(p->got.p, in->p, in->len);
	ck_assert_uint_eq(stream->counters.frames_out, 10);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);

	ev_io_stop(loop, &feed.io);
	close(feed.fd);
	WAIT_UNTIL(stream->counters.producer_connected == 0);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
	ck_assert_ptr_null(fr_ingest_producer(ingest));
}
END_TEST

START_TEST(test_ingest_truncated)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;
	size_t cut = mjpeg_starts[1] + 4000;

	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	send_now(fd, in->p, cut);
	close(fd);
	WAIT_UNTIL(stream->counters.producer_connected == 0);
	ck_assert_uint_eq(stream->counters.frames_in, 1);
	ck_assert_uint_eq(stream->counters.bytes_in, cut);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 1);
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	ck_assert_ptr_null(fr_ingest_producer(ingest));
	assert_latest_is(in->p, mjpeg_len(0));
	WAIT_UNTIL(p->got.len == mjpeg_len(0));

	/* The next producer starts clean: its first frame is whole and published. */
	fd = attach_producer();
	ck_assert_uint_eq(stream->counters.producer_connects, 2);
	ck_assert_uint_eq(stream->counters.producer_connected, 1);
	send_now(fd, in->p + mjpeg_starts[2], mjpeg_len(2));
	WAIT_UNTIL(stream->counters.frames_in == 2);
	assert_latest_is(in->p + mjpeg_starts[2], mjpeg_len(2));
	WAIT_UNTIL(p->got.len == mjpeg_len(0) + mjpeg_len(2));
	ck_assert_mem_eq(p->got.p + mjpeg_len(0), in->p + mjpeg_starts[2], mjpeg_len(2));
	ck_assert_uint_eq(stream->counters.dropped_truncated, 1);
	close(fd);
	WAIT_UNTIL(stream->counters.producer_connected == 0);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 1);
}
END_TEST

/* A new producer replaces the current one, whose partial frame counts as truncated. */
START_TEST(test_ingest_producer_replaced)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");

	int old_fd = attach_producer();
	send_now(old_fd, in->p, mjpeg_starts[1] + 100);
	WAIT_UNTIL(stream->counters.bytes_in == mjpeg_starts[1] + 100);
	ck_assert_uint_eq(stream->counters.frames_in, 1);

	int fd = attach_producer();
	ck_assert_uint_eq(stream->counters.dropped_truncated, 1);
	ck_assert_uint_eq(stream->counters.producer_connects, 2);
	ck_assert_uint_eq(stream->counters.producer_connected, 1);
	/* The old producer's socket was closed. */
	uint8_t c;
	ck_assert_int_eq(recv(old_fd, &c, 1, 0), 0);
	close(old_fd);

	send_now(fd, in->p + mjpeg_starts[3], mjpeg_starts[5] - mjpeg_starts[3]);
	WAIT_UNTIL(stream->counters.frames_in == 3);
	assert_latest_is(in->p + mjpeg_starts[4], mjpeg_len(4));
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	close(fd);
}
END_TEST

/*
 * The first buffer cannot be had: the bytes of that read are lost and counted as
 * garbage, and the ingest carries on with the next read.
 */
START_TEST(test_ingest_alloc_fail_first_buffer)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;

	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	fr_frame_fail_alloc_after(1);
	send_now(fd, in->p, mjpeg_len(0));
	WAIT_UNTIL(stream->counters.bytes_in == mjpeg_len(0));
	ck_assert_uint_eq(stream->counters.garbage_bytes, mjpeg_len(0));
	ck_assert_uint_eq(stream->counters.frames_in, 0);

	send_now(fd, in->p + mjpeg_starts[1], in->len - mjpeg_starts[1]);
	WAIT_UNTIL(stream->counters.bytes_in == in->len && stream->counters.frames_in == 9);
	WAIT_UNTIL(p->got.len == in->len - mjpeg_len(0));
	ck_assert_mem_eq(p->got.p, in->p + mjpeg_starts[1], in->len - mjpeg_starts[1]);
	ck_assert_uint_eq(stream->counters.garbage_bytes, mjpeg_len(0));
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 0);
	assert_latest_is(in->p + mjpeg_starts[9], mjpeg_len(9));
	ck_assert_uint_eq(stream->counters.producer_connected, 1);
	close(fd);
}
END_TEST

/*
 * The buffer for what follows a finished frame cannot be had: that frame is still
 * published, the start of the next one (in the same read) is lost, the rest of it is
 * skipped as garbage, and the frame after it is whole again.
 */
START_TEST(test_ingest_alloc_fail_next_buffer)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;
	size_t first = mjpeg_starts[1] + 1000;

	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	fr_frame_fail_alloc_after(2);	/* the 1st is the first buffer */
	send_now(fd, in->p, first);
	WAIT_UNTIL(stream->counters.bytes_in == first);
	ck_assert_uint_eq(stream->counters.frames_in, 1);
	ck_assert_uint_eq(stream->counters.garbage_bytes, 1000);

	send_now(fd, in->p + first, in->len - first);
	WAIT_UNTIL(stream->counters.bytes_in == in->len && stream->counters.frames_in == 9);
	ck_assert_uint_eq(stream->counters.garbage_bytes, mjpeg_len(1));
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 0);
	ck_assert_uint_eq(stream->counters.dropped_oversize, 0);
	assert_latest_is(in->p + mjpeg_starts[9], mjpeg_len(9));
	/* The subscriber got frame 0 and frames 2..9, whole. */
	WAIT_UNTIL(p->got.len == in->len - mjpeg_len(1));
	ck_assert_mem_eq(p->got.p, in->p, mjpeg_len(0));
	ck_assert_mem_eq(p->got.p + mjpeg_len(0), in->p + mjpeg_starts[2],
	    in->len - mjpeg_starts[2]);
	close(fd);
}
END_TEST

/*
 * Steady state: once the pool has buffers of the frames' size, ingest allocates
 * nothing per frame. Any allocation after the warm-up would fail (the failpoint is
 * armed) and lose a frame; none is lost, and the subscriber gets every byte.
 */
START_TEST(test_ingest_no_allocation_in_steady_state)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;
	int fd;

	add_sub(&p, 10, false, true);
	fd = attach_producer();
	for (unsigned loop_n = 0; loop_n < 30; loop_n++) {
		if (loop_n == 3)
			fr_frame_fail_alloc_after(1);
		send_now(fd, in->p, in->len);
		WAIT_UNTIL(stream->counters.frames_in == 10 * (loop_n + 1) &&
		    p->got.len == (loop_n + 1) * in->len);
	}
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);
	for (unsigned loop_n = 0; loop_n < 30; loop_n++)
		ck_assert_mem_eq(p->got.p + loop_n * in->len, in->p, in->len);
	fr_frame_fail_alloc_after(0);
	close(fd);
}
END_TEST

/*
 * One read full of tiny frames (a hostile producer): each is copied out of the read
 * buffer rather than the rest of the buffer being copied on after each (which cost a
 * quadratic amount of copying per read). Every frame is published whole, in order.
 */
START_TEST(test_ingest_many_frames_in_one_read)
{
	/* SOI, an SOS without tables, two bytes of entropy data (never FF), EOI. */
	enum { N = 4096, LEN = 10, HI = 6, LO = 7 };
	static const uint8_t tiny[LEN] = { 0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0, 0, 0xff, 0xd9 };
	struct bytes in = { 0 };
	struct peer *p;

	for (unsigned i = 0; i < N; i++) {
		uint8_t frame[LEN];

		memcpy(frame, tiny, LEN);
		frame[HI] = (uint8_t)(i >> 7);	/* which frame this is */
		frame[LO] = (uint8_t)(i & 0x7f);
		bytes_add(&in, frame, LEN);
	}
	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	send_now(fd, in.p, in.len);
	WAIT_UNTIL(stream->counters.frames_in == N);
	assert_latest_is(in.p + (N - 1) * LEN, LEN);
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 0);
	WAIT_UNTIL(stream->counters.frames_out + stream->counters.dropped_slow_client == N);
	/* What the subscriber got: whole frames of the input, in order. */
	WAIT_UNTIL(p->got.len == stream->counters.frames_out * LEN);
	long last = -1;
	for (size_t at = 0; at < p->got.len; at += LEN) {
		long i = (long)p->got.p[at + HI] << 7 | p->got.p[at + LO];

		ck_assert_int_gt(i, last);
		ck_assert_mem_eq(p->got.p + at, in.p + i * LEN, LEN);
		last = i;
	}
	ck_assert_int_eq(last, N - 1);
	bytes_free(&in);
	close(fd);
}
END_TEST

/* A structurally valid JPEG of len bytes (SOI, SOS, entropy data without FF, EOI). */
static const struct bytes *
synthetic_jpeg(size_t len)
{
	static const uint8_t head[] = {
		0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00,
	};
	struct bytes *b = new_bytes();

	bytes_add(b, head, sizeof head);
	while (b->len < len - 2) {
		uint8_t c = (uint8_t)((b->len * 7 + 3) % 255);	/* never FF */
		bytes_add(b, &c, 1);
	}
	bytes_add(b, "\xff\xd9", 2);
	return b;
}

/*
 * Growing the buffer of a frame larger than it fails in the middle of the frame. The
 * bytes read meanwhile are lost, so that frame must not be published: subscribers only
 * ever get whole frames as the producer sent them. The ingest carries on with the next.
 */
START_TEST(test_ingest_alloc_fail_mid_frame)
{
	const struct bytes *big = synthetic_jpeg(120000);
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;

	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	/* 1st: the first buffer (64 KiB); 2nd: growing it, with the big frame half read. */
	fr_frame_fail_alloc_after(2);
	send_now(fd, big->p, big->len);
	send_now(fd, in->p, mjpeg_len(0));
	WAIT_UNTIL(stream->counters.bytes_in == big->len + mjpeg_len(0));
	WAIT_UNTIL(p->got.len == stream->counters.bytes_out);

	ck_assert_msg(p->got.len == mjpeg_len(0),
	    "the subscriber got %zu bytes, not just frame 0 (%zu): a %zu-byte frame with a "
	    "hole (the big frame is %zu bytes) was published", p->got.len, mjpeg_len(0),
	    p->got.len - mjpeg_len(0), big->len);
	ck_assert_mem_eq(p->got.p, in->p, mjpeg_len(0));
	ck_assert_uint_eq(stream->counters.frames_in, 1);
	assert_latest_is(in->p, mjpeg_len(0));
	/* The big frame is lost, and counted once. */
	ck_assert_uint_eq(stream->counters.dropped_truncated + stream->counters.dropped_invalid +
	    stream->counters.dropped_oversize, 1);
	ck_assert_uint_ge(stream->counters.garbage_bytes, 16 * 1024);
	ck_assert_uint_le(stream->counters.garbage_bytes, big->len - 64 * 1024);

	/* And it goes on. */
	send_now(fd, in->p + mjpeg_starts[1], mjpeg_len(1));
	WAIT_UNTIL(stream->counters.frames_in == 2);
	assert_latest_is(in->p + mjpeg_starts[1], mjpeg_len(1));
	close(fd);
}
END_TEST

/* Bytes before the first SOI are garbage; the frames after them are whole. */
START_TEST(test_ingest_garbage_counted)
{
	const struct bytes *junk = read_fixture("junk.bin");
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;

	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	send_now(fd, junk->p, junk->len);
	send_now(fd, in->p, in->len);
	WAIT_UNTIL(stream->counters.frames_in == 10 && p->got.len == in->len);
	ck_assert_uint_eq(stream->counters.garbage_bytes, junk->len);
	ck_assert_uint_eq(stream->counters.bytes_in, junk->len + in->len);
	ck_assert_mem_eq(p->got.p, in->p, in->len);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 0);
	close(fd);
}
END_TEST

/*
 * With --max-frame-size 9000, the frames of 9000 bytes or less pass; the rest are
 * dropped as oversize, each counted once when it ends, and logged with its real size;
 * the buffer never grows past the limit.
 */
START_TEST(test_ingest_oversize)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;
	struct bytes want = { 0 };
	uint64_t n_small = 0, n_over = 0;
	char first_line[256] = "";

	ingest_max_frame_bytes = 9000;
	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	capture_begin(FR_LOG_WARN);
	for (size_t i = 0; i < 10; i++) {
		send_now(fd, in->p + mjpeg_starts[i], mjpeg_len(i));
		WAIT_UNTIL(stream->counters.bytes_in == mjpeg_starts[i + 1]);
		if (mjpeg_len(i) <= 9000) {
			bytes_add(&want, in->p + mjpeg_starts[i], mjpeg_len(i));
			n_small++;
			continue;
		}
		/* Its EOI came with it: counted now, not when the next frame comes. */
		n_over++;
		WAIT_UNTIL(stream->counters.dropped_oversize == n_over);
		if (first_line[0] == '\0')
			snprintf(first_line, sizeof first_line,
			    "warn: stream test: dropped frame: oversize, %zu bytes: larger than "
			    "--max-frame-size 9000\n", mjpeg_len(i));
	}
	const char *log = capture_end();
	ck_assert_msg(strncmp(log, first_line, strlen(first_line)) == 0,
	    "log:\n%s\nwant it to begin with:\n%s", log, first_line);
	ck_assert_uint_eq(n_small, 4);	/* 8607, 8680, 8788, 8906 */
	ck_assert_uint_eq(stream->counters.frames_in, 4);
	ck_assert_uint_eq(stream->counters.dropped_oversize, 6);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 0);
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	assert_latest_is(in->p + mjpeg_starts[3], mjpeg_len(3));
	WAIT_UNTIL(p->got.len == want.len);
	ck_assert_mem_eq(p->got.p, want.p, want.len);
	ck_assert_uint_eq(stream->counters.producer_connected, 1);
	bytes_free(&want);
	close(fd);
}
END_TEST

/*
 * --validate: a frame the decoder rejects is dropped as invalid, and only that one: the
 * frames after it pass again and carry their dimensions.
 */
START_TEST(test_ingest_validate)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	const struct bytes *fake = synthetic_jpeg(20000);	/* SOS before SOF */
	struct peer *p;

#ifndef HAVE_TURBOJPEG
	/* Built without libjpeg-turbo: --validate is refused at startup (main.c). */
	char err[FR_ERR_LEN];
	int width, height;
	ck_assert_int_eq(fr_validate_is_available(), 0);
	ck_assert_int_eq(fr_validate_frame(in->p, mjpeg_len(0), &width, &height, err), -1);
	ck_assert_str_eq(err, "built without libjpeg-turbo");
	(void)fake, (void)p;
	fprintf(stderr, "check_stream: built without libjpeg-turbo: --validate's drops not "
	    "checked\n");
	return;
#endif
	ck_assert_int_eq(fr_validate_is_available(), 1);
	ingest_validate = 1;
	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	send_now(fd, in->p, mjpeg_len(0));
	send_now(fd, fake->p, fake->len);
	send_now(fd, in->p + mjpeg_starts[1], mjpeg_starts[4] - mjpeg_starts[1]);
	WAIT_UNTIL(stream->counters.bytes_in == mjpeg_starts[4] + fake->len);
	ck_assert_uint_eq(stream->counters.dropped_invalid, 1);
	ck_assert_uint_eq(stream->counters.frames_in, 4);
	assert_latest_is(in->p + mjpeg_starts[3], mjpeg_len(3));
	ck_assert_int_eq(stream->latest->width, 320);
	ck_assert_int_eq(stream->latest->height, 240);
	WAIT_UNTIL(p->got.len == mjpeg_starts[4]);
	ck_assert_mem_eq(p->got.p, in->p, mjpeg_starts[4]);
	close(fd);
}
END_TEST

/*
 * The buffer for the next frame cannot be had right after a frame that ended exactly at
 * the end of a read: nothing is lost, and nothing is said to be (no "skipped 0 bytes").
 */
START_TEST(test_ingest_alloc_fail_at_boundary)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");
	struct peer *p;

	add_sub(&p, 10, false, true);
	int fd = attach_producer();
	fr_frame_fail_alloc_after(2);
	capture_begin(FR_LOG_WARN);
	send_now(fd, in->p, mjpeg_len(0));
	WAIT_UNTIL(stream->counters.bytes_in == mjpeg_len(0));
	send_now(fd, in->p + mjpeg_starts[1], in->len - mjpeg_starts[1]);
	WAIT_UNTIL(stream->counters.frames_in == 10);
	ck_assert_str_eq(capture_end(), "warn: stream test: out of memory for the next frame\n");
	ck_assert_uint_eq(stream->counters.garbage_bytes, 0);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 0);
	WAIT_UNTIL(p->got.len == in->len);
	ck_assert_mem_eq(p->got.p, in->p, in->len);
	close(fd);
}
END_TEST


/* ---- multipart (HTTP) subscribers ---- */

/* The wire format, spelled out here on purpose: the test checks multipart.c. */
#define BOUNDARY "framerouter-frame"
#define ADVANCE_PART_HEADERS "Content-Type: image/jpeg\r\n\r\n"
static const char *test_preamble;
static size_t test_preamble_len;

/* The response head, up to and including the first boundary line. */
static void
load_preamble(void)
{
	static const char end[] = "Connection: close\r\n\r\n--" BOUNDARY "\r\n";

	test_preamble = fr_multipart_preamble(FR_MULTIPART_PLAIN, &test_preamble_len);
	ck_assert_uint_gt(test_preamble_len, sizeof end);
	ck_assert_mem_eq(test_preamble, "HTTP/1.1 200 OK\r\n", 17);
	ck_assert_ptr_nonnull(strstr(test_preamble,
	    "Content-Type: multipart/x-mixed-replace;boundary=" BOUNDARY "\r\n"));
	ck_assert_mem_eq(test_preamble + test_preamble_len - (sizeof end - 1), end, sizeof end - 1);
}

static struct fr_sub *
add_multipart_sub(struct peer **out, double min_interval_s)
{
	struct fr_sub_params proto = {
		.protocol = FR_SUB_MULTIPART,
		.min_interval_s = min_interval_s,
	};

	load_preamble();
	return add_sub_as(out, 10, false, true, &proto);
}

/* What a multipart subscriber must receive for frame f. */
static void
expect_part(struct bytes *want, const struct fr_frame *f)
{
	char head[128];
	int n = snprintf(head, sizeof head, "Content-Type: image/jpeg\r\nContent-Length: "
	    "%zu\r\n\r\n",
	    f->len);

	bytes_add(want, head, (size_t)n);
	bytes_add(want, f->data, f->len);
	bytes_add(want, "\r\n--" BOUNDARY "\r\n", sizeof BOUNDARY + 5);
}

/*
 * The arena has no room for one frame: that frame goes out from the heap with
 * sendmsg(), the frames around it from the arena with sendfile(), byte-identical, to
 * a raw and a multipart subscriber with small buffers (so each unit is written in
 * pieces, and the multipart parts mix both paths).
 */
START_TEST(test_multipart_arena_full_falls_back)
{
	const struct fr_sub_params mp = { .protocol = FR_SUB_MULTIPART };
	struct bytes want = { 0 };
	struct fr_frame *f[3];
	struct peer *raw, *http;

	add_sub(&raw, 10, true, true);
	load_preamble();
	add_sub_as(&http, 10, true, true, &mp);
	bytes_add(&want, test_preamble, test_preamble_len);
	for (unsigned i = 0; i < 3; i++) {
		f[i] = make_frame(BIG_FRAME + i, i + 40);
		if (i == 1)
			fr_arena_fail_alloc_after(1);
		publish(f[i]);
		ck_assert_int_eq(fr_frame_in_arena(f[i]), !is_heap_only && i != 1);
		WAIT_UNTIL(stream->counters.frames_out == 2 * (i + 1));
		expect_part(&want, f[i]);
	}
	WAIT_UNTIL(raw->got.len == 3 * BIG_FRAME + 3 && http->got.len == want.len);
	assert_got(raw, f, 3);
	ck_assert_uint_eq(http->got.len, want.len);
	ck_assert_mem_eq(http->got.p, want.p, want.len);
	/* Counted once for the frame, not once per subscriber that sent it. */
	ck_assert_uint_eq(stream->counters.arena_fallbacks, is_heap_only ? 0 : 1);
	bytes_free(&want);
}
END_TEST

/*
 * A stuck subscriber holds its frames while the arena moves on to new files: the
 * files it would pin are retired at once (its frames go on from the heap), so it
 * keeps no file open; when it reads at last it gets its frames whole.
 */
START_TEST(test_slow_stuck_pins_no_arena_file)
{
	struct fr_frame *f[12];
	struct peer *stuck, *reader;

	ck_assert(!is_heap_only);	/* registered for the arena suite only */
	fr_arena_unref(stream->arena);
	stream->arena = fr_arena_new(4 * (size_t)BIG_FRAME);
	ck_assert_ptr_nonnull(stream->arena);
	add_sub(&stuck, 60, true, false);
	add_sub(&reader, 60, false, true);
	for (unsigned i = 0; i < 12; i++) {
		f[i] = make_frame(BIG_FRAME, 200 + i);
		publish(f[i]);
		WAIT_UNTIL(reader->got.len == (i + 1) * (size_t)BIG_FRAME);
		/* The current file, and nothing the stuck one holds. */
		ck_assert_uint_eq(fr_arena_open_files(), 1);
	}
	assert_got(reader, f, 12);
	/* It holds the first frame (sending) and the last (next), both off the arena. */
	ck_assert(!fr_frame_in_arena(f[0]));
	ck_assert_uint_eq(f[0]->refs, 2);
	peer_start_reading(stuck);
	WAIT_UNTIL(stuck->got.len == 2 * (size_t)BIG_FRAME);
	struct fr_frame *got[] = { f[0], f[11] };
	assert_got(stuck, got, 2);
	ck_assert_uint_eq(stream->counters.arena_fallbacks, 0);
}
END_TEST

START_TEST(test_multipart_parts)
{
	struct fr_frame *a = make_frame(3000, 1), *b = make_frame(200000, 2);
	struct bytes want = { 0 };
	struct peer *p;

	/* The preamble goes out at once, before any frame exists. */
	add_multipart_sub(&p, 0);
	WAIT_UNTIL(p->got.len == test_preamble_len);
	ck_assert_mem_eq(p->got.p, test_preamble, test_preamble_len);

	bytes_add(&want, test_preamble, test_preamble_len);
	expect_part(&want, a);
	expect_part(&want, b);
	publish(a);
	WAIT_UNTIL(stream->counters.frames_out == 1);
	publish(b);
	WAIT_UNTIL(p->got.len == want.len);
	ck_assert_mem_eq(p->got.p, want.p, want.len);
	ck_assert_uint_eq(stream->counters.bytes_out, want.len);
	bytes_free(&want);
}
END_TEST

START_TEST(test_multipart_latest_first)
{
	struct fr_frame *a = make_frame(5000, 3);
	struct bytes want = { 0 };
	struct peer *p;

	publish(a);
	struct fr_sub *sub = add_multipart_sub(&p, 0);
	bytes_add(&want, test_preamble, test_preamble_len);
	expect_part(&want, a);
	WAIT_UNTIL(p->got.len == want.len);
	ck_assert_mem_eq(p->got.p, want.p, want.len);
	ck_assert_str_eq(info_of(sub).protocol, "http");
	bytes_free(&want);
}
END_TEST

/* ?fps=: frames offered sooner than the interval are skipped and counted apart. */
START_TEST(test_multipart_fps_cap)
{
	struct fr_frame *f[4] = { make_frame(100, 1), make_frame(100, 2), make_frame(100, 3),
		make_frame(100, 4) };
	struct peer *p;

	struct fr_sub *sub = add_multipart_sub(&p, 3600);
	for (size_t i = 0; i < 4; i++)
		publish(f[i]);
	WAIT_UNTIL(stream->counters.frames_out == 1);
	struct fr_sub_info info = info_of(sub);
	ck_assert_uint_eq(info.counters.frames_sent, 1);
	ck_assert_uint_eq(info.counters.frames_dropped_fps_cap, 3);
	ck_assert_uint_eq(info.counters.frames_dropped, 0);
	ck_assert_uint_eq(stream->counters.dropped_fps_cap, 3);
	ck_assert_uint_eq(stream->counters.dropped_slow_client, 0);
}
END_TEST

/* ?advance_headers=1: each part's headers follow the previous boundary at once. */
START_TEST(test_multipart_advance_headers)
{
	struct fr_sub_params proto = { .protocol = FR_SUB_MULTIPART_ADVANCE_HEADERS };
	size_t preamble_len;
	const char *preamble = fr_multipart_preamble(FR_MULTIPART_ADVANCE, &preamble_len);
	struct fr_frame *a = make_frame(700, 5), *b = make_frame(900, 6);
	struct bytes want = { 0 };
	struct peer *p;

	add_sub_as(&p, 10, false, true, &proto);
	load_preamble();
	ck_assert_uint_eq(preamble_len, test_preamble_len + sizeof ADVANCE_PART_HEADERS - 1);
	ck_assert_mem_eq(preamble, test_preamble, test_preamble_len);
	ck_assert_mem_eq(preamble + test_preamble_len, ADVANCE_PART_HEADERS,
	    sizeof ADVANCE_PART_HEADERS - 1);
	bytes_add(&want, preamble, preamble_len);
	for (size_t i = 0; i < 2; i++) {
		struct fr_frame *f = i == 0 ? a : b;
		bytes_add(&want, f->data, f->len);
		bytes_add(&want, "\r\n--" BOUNDARY "\r\n" ADVANCE_PART_HEADERS,
		    sizeof("\r\n--" BOUNDARY "\r\n" ADVANCE_PART_HEADERS) - 1);
		publish(f);
		WAIT_UNTIL(stream->counters.frames_out == i + 1);
	}
	WAIT_UNTIL(p->got.len == want.len);
	ck_assert_mem_eq(p->got.p, want.p, want.len);
	bytes_free(&want);
}
END_TEST

/* --producer-timeout: a producer that goes silent mid-frame is let go; the next one
 * is taken cleanly. Input keeps a producer alive however long it streams. */
START_TEST(test_ingest_idle_producer)
{
	const struct bytes *in = read_fixture("ffmpeg-320x240-10.mjpeg");

	ingest_idle_timeout_s = 0.3;
	int fd = attach_producer();
	for (size_t i = 0; i < 4; i++) {	/* 0.6 s of input, a piece every 0.15 s */
		send_now(fd, in->p + mjpeg_starts[i], mjpeg_len(i));
		double until = ev_now(loop) + 0.15;
		while (ev_now(loop) < until) {
			ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
			usleep(5000);
			ev_now_update(loop);
		}
	}
	ck_assert_uint_eq(stream->counters.producer_connected, 1);
	ck_assert_uint_eq(stream->counters.frames_in, 4);
	send_now(fd, in->p + mjpeg_starts[4], 100);
	WAIT_UNTIL(stream->counters.producer_connected == 0);
	ck_assert_uint_eq(stream->counters.dropped_truncated, 1);
	char b;
	ck_assert_int_eq(recv(fd, &b, 1, 0), 0);	/* the daemon closed it */
	close(fd);

	fd = attach_producer();
	send_now(fd, in->p + mjpeg_starts[5], mjpeg_len(5));
	WAIT_UNTIL(stream->counters.frames_in == 5);
	assert_latest_is(in->p + mjpeg_starts[5], mjpeg_len(5));
	close(fd);
}
END_TEST

/* Which fixture loop_tcase() gives the test cases it makes. */
static bool is_heap_only_suite;

static TCase *
loop_tcase(Suite *s, const char *name, const TTest *const *tests)
{
	TCase *tc = fr_tcase(s, name, tests);

	tcase_add_checked_fixture(tc, is_heap_only_suite ? setup_heap_only : setup, teardown);
	tcase_set_timeout(tc, 60);
	return tc;
}

/* The whole suite, with frames sent from the arena or (heap_only) from the heap. */
static Suite *
stream_suite(bool heap_only)
{
	Suite *s = suite_create(heap_only ? "stream (heap, sendmsg)" : "stream (arena, sendfile)");

	is_heap_only_suite = heap_only;
	TCase *tc;

	loop_tcase(s, "latest", FR_TESTS(test_latest_first_frame_at_once,
	    test_latest_nothing_before_first_frame, test_latest_replaced));

	loop_tcase(s, "fanout", FR_TESTS(test_fanout_byte_identical));

	tc = loop_tcase(s, "slow", FR_TESTS(test_slow_skips_to_newest,
	    test_slow_peer_leaves_mid_frame));
	if (!heap_only)	/* about arena files; the heap suite has none */
		tcase_add_test(tc, test_slow_stuck_pins_no_arena_file);

	loop_tcase(s, "freshness", FR_TESTS(test_age_old_frame, test_age_stuck_then_drained,
	    test_lowat_from_frame_size));

	loop_tcase(s, "close", FR_TESTS(test_close_by_peer, test_close_input_ignored,
	    test_close_by_server, test_close_demand, test_derived_stream, test_close_during_publish,
	    test_close_stream_free));

	loop_tcase(s, "multipart", FR_TESTS(test_multipart_parts,
	    test_multipart_arena_full_falls_back, test_multipart_latest_first,
	    test_multipart_fps_cap, test_multipart_advance_headers));

	loop_tcase(s, "timeout", FR_TESTS(test_timeout_stuck_closed,
	    test_timeout_progress_keeps_alive));

	loop_tcase(s, "counters", FR_TESTS(test_counters_drops, test_counters_garbage,
	    test_counters_log));

	tc = loop_tcase(s, "ingest", FR_TESTS(test_ingest_truncated, test_ingest_producer_replaced,
	    test_ingest_garbage_counted, test_ingest_oversize, test_ingest_many_frames_in_one_read,
	    test_ingest_validate, test_ingest_idle_producer));
	tcase_add_loop_test(tc, test_ingest_fixture_chunked, 0, CHUNKINGS);

	loop_tcase(s, "alloc failure", FR_TESTS(test_ingest_alloc_fail_first_buffer,
	    test_ingest_alloc_fail_next_buffer, test_ingest_alloc_fail_at_boundary,
	    test_ingest_alloc_fail_mid_frame, test_ingest_no_allocation_in_steady_state));
	return s;
}

int
main(void)
{
	/* As main.c does: sendfile() cannot take MSG_NOSIGNAL. */
	signal(SIGPIPE, SIG_IGN);
	SRunner *sr = srunner_create(stream_suite(false));

	srunner_add_suite(sr, stream_suite(true));
	return fr_srunner_run(sr);
}
