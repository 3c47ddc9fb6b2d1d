/* SPDX-License-Identifier: MIT */
/*
 * Loop tests for the scaled sizes of a stream (scale.c): a real libev loop, the
 * worker thread, and subscribers over AF_UNIX socketpairs whose far end the test
 * reads and splits into frames with the daemon's splitter. They cover one scale per
 * frame per size whatever the number of subscribers, scaling that stops when a size's
 * last subscriber leaves, the size table's limit, ?q=, snapshots (waiting, at once,
 * cancelled, failed), undecodable frames, ?scale=auto moving a subscriber down and
 * up, and freeing while the worker is busy. Waits are for conditions, bounded by a
 * watchdog; the auto test waits for the size changes its periods make.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "helpers.h"
#include "loop_wait.h"
#include "sockets.h"
#include "suite.h"
#include "fr/defer.h"
#include "fr/log.h"
#include "fr/quality.h"
#include "fr/scale.h"
#include "fr/splitter.h"
#include "fr/stream.h"
#include "fr/util.h"

#ifdef HAVE_TURBOJPEG
#include <turbojpeg.h>

#define WAIT_S 30.0

static struct ev_loop *loop;
static struct fr_stream *stream;
static struct fr_scale *scale;
/* Runs the loop until cond holds; fails the test if WAIT_S pass first. */
#define WAIT_UNTIL(cond) LOOP_WAIT_UNTIL(loop, WAIT_S, cond)

/* ---- the test's end of a subscriber ---- */

struct peer {
	ev_io io;
	int fd;
	bool is_reading;
	uint8_t *got;
	size_t len, cap;
};

enum { MAX_PEERS = 24 };
static struct peer peers[MAX_PEERS];
static size_t n_peers;

static void
peer_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct peer *p = FR_CONTAINER_OF(w, struct peer, io);

	(void)revents;
	for (;;) {
		if (p->cap - p->len < 65536) {
			p->cap = p->cap ? p->cap * 2 : 1 << 20;
			p->got = realloc(p->got, p->cap);
			ck_assert_ptr_nonnull(p->got);
		}
		ssize_t n = socket_recv(p->fd, p->got + p->len, p->cap - p->len);

		if (n == 0)
			return;
		if (n < 0) {
			ev_io_stop(l, w);
			return;
		}
		p->len += (size_t)n;
	}
}

static void
peer_read(struct peer *p)
{
	p->is_reading = true;
	ev_io_start(loop, &p->io);
}

/* Closes the test's end: the subscriber goes at its next write. */
static void
peer_close(struct peer *p)
{
	ev_io_stop(loop, &p->io);
	close(p->fd);
	p->fd = -1;
}

/* A raw subscriber of the frames spec asks for; small_buffers: a few KB fill it. */
static struct peer *
subscribe(const char *scale_text, const char *q, bool small_buffers, bool is_reading)
{
	struct fr_scale_spec spec;
	char err[FR_ERR_LEN], name[32];
	struct fr_addr addr;
	int sv[2];

	ck_assert_int_eq(fr_scale_spec_parse(&spec, scale_text, q, err), 0);
	ck_assert_msg(fr_scale_check(scale, &spec, err) == 0, "%s", err);
	ck_assert_uint_lt(n_peers, MAX_PEERS);
	socket_pair(sv, small_buffers);
	struct peer *p = &peers[n_peers];
	*p = (struct peer){ .fd = sv[1] };
	ev_io_init(&p->io, peer_read_cb, p->fd, EV_READ);
	snprintf(name, sizeof name, "unix:/test/peer%zu", n_peers++);
	ck_assert_int_eq(fr_addr_parse(&addr, name, err), 0);
	struct fr_sub_params params = fr_stream_sub_params(stream, 60);
	params.protocol = FR_SUB_RAW;
	ck_assert(fr_scale_subscribe(scale, &spec, sv[0], &addr, &params));
	if (is_reading)
		peer_read(p);
	return p;
}

/* ---- frames ---- */

struct frames {
	size_t n;
	int w, h;		/* of the last one */
	int quality;		/* of the last one */
	bool all_decode;
};

/* The whole frames the peer got: split, each decoded in full. */
static struct frames
frames_of(const struct peer *p)
{
	struct fr_splitter *sp = fr_splitter_new(16 << 20);
	struct fr_splitter_event ev;
	struct frames fs = { .all_decode = true };
	tjhandle tj = tjInitDecompress();
	enum fr_splitter_result r;

	while ((r = fr_splitter_scan(sp, p->got, p->len, &ev)) != FR_SPLITTER_MORE) {
		if (r != FR_SPLITTER_FRAME)
			continue;
		const uint8_t *f = p->got + ev.start;
		size_t len = ev.end - ev.start;
		int sub, cs;

		fs.n++;
		if (tjDecompressHeader3(tj, f, len, &fs.w, &fs.h, &sub, &cs) < 0) {
			fs.all_decode = false;
			continue;
		}
		uint8_t *rgb = malloc((size_t)fs.w * (size_t)fs.h * 3);
		if (tjDecompress2(tj, f, len, rgb, fs.w, 0, fs.h, TJPF_RGB,
		    TJFLAG_STOPONWARNING) < 0)
			fs.all_decode = false;
		free(rgb);
		fs.quality = fr_quality_estimate(f, len, NULL);
	}
	tjDestroy(tj);
	fr_splitter_free(sp);
	return fs;
}

static bool
has_frames(const struct peer *p, size_t n)
{
	return frames_of(p).n >= n;
}

/* Publishes a fixture's bytes as the ingest would publish a frame. */
static void
publish(const char *name)
{
	size_t len;
	uint8_t *bytes = fixture_bytes(name, &len);
	struct fr_frame *f = fr_frame_new_take(bytes, len);

	ck_assert_ptr_nonnull(f);
	ev_now_update(loop);
	f->received_at = ev_now(loop);
	fr_stream_publish(stream, f);
	fr_frame_unref(f);
}

static uint64_t
scaled(void)
{
	return stream->counters.frames_scaled;
}

/* The sizes /stats would show, and the one called label (NULL when not in use). */
static struct fr_stats_scaled sizes[FR_SCALE_MAX_SIZES];

static const struct fr_stats_scaled *
size_of(const char *label)
{
	size_t n = fr_scale_sizes(scale, sizes, FR_SCALE_MAX_SIZES);

	for (size_t i = 0; i < n; i++)
		if (strcmp(sizes[i].scale, label) == 0)
			return &sizes[i];
	return NULL;
}

/* What the snapshot callback was given. */
static struct fr_frame *snap_frame;
static char snap_why[128];
static int snap_calls;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	fr_defer_init(loop);
	fr_log_set_level(FR_LOG_ERROR);
	stream = fr_stream_new("cam");
	ck_assert_ptr_nonnull(stream);
	scale = fr_scale_new(loop, stream);
	ck_assert_ptr_nonnull(scale);
	n_peers = 0;
	snap_frame = NULL;
	snap_calls = 0;
}

static void
teardown(void)
{
	fr_scale_free(scale);
	fr_stream_free(stream);
	fr_defer_fini();
	for (size_t i = 0; i < n_peers; i++) {
		if (peers[i].fd >= 0) {
			ev_io_stop(loop, &peers[i].io);
			close(peers[i].fd);
		}
		free(peers[i].got);
	}
	ev_loop_destroy(loop);
}

/* ---- tests ---- */

/*
 * Four subscribers at 1/2: one scale per frame, all four get every frame at 160x120;
 * two more at 1/4 add one scale per frame; when the 1/2 ones leave only 1/4 is made,
 * and when those leave too, nothing.
 */
START_TEST(test_once_per_frame)
{
	struct peer *half[4], *quarter[2];

	for (size_t i = 0; i < 4; i++)
		half[i] = subscribe("1/2", NULL, false, true);
	ck_assert_uint_eq(stream->counters.clients, 4);
	for (uint64_t i = 1; i <= 20; i++) {
		publish("baseline.jpg");
		WAIT_UNTIL(scaled() == i);
	}
	for (size_t i = 0; i < 4; i++) {
		WAIT_UNTIL(has_frames(half[i], 20));
		struct frames fs = frames_of(half[i]);
		ck_assert_uint_eq(fs.n, 20);
		ck_assert(fs.all_decode);
		ck_assert_int_eq(fs.w, 160);
		ck_assert_int_eq(fs.h, 120);
		ck_assert_int_eq(fs.quality, 75);
	}
	const struct fr_stats_scaled *z = size_of("1/2");
	ck_assert_ptr_nonnull(z);
	ck_assert_uint_eq(z->clients, 4);
	ck_assert_uint_eq(z->frames_scaled, 20);
	ck_assert_uint_eq(z->frames, 20);
	ck_assert_int_eq(z->latest_width, 160);
	ck_assert_int_eq(z->latest_quality, 75);
	ck_assert(z->cpu_s > 0);
	ck_assert_uint_eq(stream->counters.frames_out, 80);

	/* The first at 1/4 has the latest frame scaled for it at once. */
	for (size_t i = 0; i < 2; i++)
		quarter[i] = subscribe("1/4", NULL, false, true);
	WAIT_UNTIL(scaled() == 21);
	for (uint64_t i = 1; i <= 10; i++) {
		publish("progressive.jpg");
		WAIT_UNTIL(scaled() == 21 + 2 * i);
	}
	WAIT_UNTIL(has_frames(quarter[0], 11) && has_frames(quarter[1], 11));
	ck_assert_int_eq(frames_of(quarter[1]).w, 80);
	ck_assert_uint_eq(frames_of(quarter[0]).n, 11);

	/* The 1/2 subscribers go at their next write; from then on, 1/4 alone. */
	for (size_t i = 0; i < 4; i++)
		peer_close(half[i]);
	uint64_t before = scaled();
	publish("baseline.jpg");
	WAIT_UNTIL(scaled() == before + 2 && stream->counters.clients == 2);
	ck_assert_uint_eq(size_of("1/2")->clients, 0);
	ck_assert_uint_eq(size_of("1/2")->latest_bytes, 0);	/* dropped when idle */
	for (uint64_t i = 1; i <= 5; i++) {
		publish("baseline.jpg");
		WAIT_UNTIL(has_frames(quarter[0], 12 + i) && has_frames(quarter[1], 12 + i));
	}
	ck_assert_uint_eq(scaled(), before + 2 + 5);
	ck_assert_uint_eq(size_of("1/4")->frames_scaled, 1 + 10 + 1 + 5);

	/* Nobody left: frames go by unscaled. */
	for (size_t i = 0; i < 2; i++)
		peer_close(quarter[i]);
	publish("baseline.jpg");
	WAIT_UNTIL(stream->counters.clients == 0);
	before = scaled();
	for (size_t i = 0; i < 5; i++)
		publish("baseline.jpg");
	loop_run_for(loop, 0.3);
	ck_assert_uint_eq(scaled(), before);
	ck_assert_uint_eq(stream->counters.frames_in, 20 + 10 + 1 + 5 + 1 + 5);
}
END_TEST

/* ?q= makes a size of its own; each is encoded at its quality. */
START_TEST(test_quality)
{
	struct peer *src = subscribe("1/2", NULL, false, true);
	struct peer *q20 = subscribe("1/2", "20", false, true);
	struct peer *full = subscribe("1/1", "40", false, true);

	publish("stuffed.jpg");
	WAIT_UNTIL(scaled() == 3);
	WAIT_UNTIL(has_frames(src, 1) && has_frames(q20, 1) && has_frames(full, 1));
	ck_assert_int_eq(frames_of(src).quality, 95);
	ck_assert_int_eq(frames_of(q20).quality, 20);
	ck_assert_int_eq(frames_of(q20).w, 80);
	ck_assert_int_eq(frames_of(full).quality, 40);
	ck_assert_int_eq(frames_of(full).w, 160);
	ck_assert_ptr_nonnull(size_of("1/2"));
	ck_assert_ptr_nonnull(size_of("1/2,q=20"));
	ck_assert_ptr_nonnull(size_of("1/1,q=40"));
}
END_TEST

/* A subscriber who joins while the stream has a frame gets it scaled at once; one
 * who joins a size in use gets that size's latest frame. */
START_TEST(test_latest_at_once)
{
	publish("baseline.jpg");
	struct peer *a = subscribe("1/8", NULL, false, true);
	WAIT_UNTIL(has_frames(a, 1));
	ck_assert_int_eq(frames_of(a).w, 40);
	struct peer *b = subscribe("1/8", NULL, false, true);
	WAIT_UNTIL(has_frames(b, 1));
	ck_assert_uint_eq(scaled(), 1);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert_mem_eq(a->got, b->got, a->len);
}
END_TEST

/* FR_SCALE_MAX_SIZES sizes at once; one more is refused until one is idle. */
START_TEST(test_size_limit)
{
	static const char *const qs[] = { "10", "20", "30", "40", "50", "60", "70", "80" };
	struct fr_scale_spec spec;
	char err[FR_ERR_LEN];
	struct peer *p[FR_SCALE_MAX_SIZES];

	for (size_t i = 0; i < FR_SCALE_MAX_SIZES; i++)
		p[i] = subscribe("1/8", qs[i], false, true);
	ck_assert_int_eq(fr_scale_spec_parse(&spec, "1/8", "90", err), 0);
	ck_assert_int_eq(fr_scale_check(scale, &spec, err), 503);
	ck_assert_str_eq(err, "stream cam has 8 sizes scaled for subscribers already");
	/* A size in use is no new size. */
	ck_assert_int_eq(fr_scale_spec_parse(&spec, "1/8", "50", err), 0);
	ck_assert_int_eq(fr_scale_check(scale, &spec, err), 0);
	peer_close(p[3]);
	publish("baseline.jpg");
	WAIT_UNTIL(stream->counters.clients == FR_SCALE_MAX_SIZES - 1);
	struct peer *q90 = subscribe("1/8", "90", false, true);
	publish("baseline.jpg");
	WAIT_UNTIL(has_frames(q90, 1));
	ck_assert_int_eq(frames_of(q90).quality, 90);
	ck_assert_ptr_null(size_of("1/8,q=40"));	/* its slot took the new size */
	ck_assert_ptr_nonnull(size_of("1/8,q=90"));
}
END_TEST

/* ---- snapshots ---- */

static void
snap_cb(void *arg, struct fr_frame *f, const char *why)
{
	(void)arg;
	snap_calls++;
	snap_frame = f != NULL ? fr_frame_ref(f) : NULL;
	snprintf(snap_why, sizeof snap_why, "%s", why ? why : "");
}

START_TEST(test_snapshot)
{
	struct fr_scale_spec spec;
	static struct fr_scale_waiter w;	/* outlives a failed test: teardown ends it */
	char err[FR_ERR_LEN];

	publish("baseline.jpg");
	ck_assert_int_eq(fr_scale_spec_parse(&spec, "1/4", NULL, err), 0);
	ck_assert_int_eq(fr_scale_check(scale, &spec, err), 0);
	ck_assert_ptr_null(fr_scale_snapshot(scale, &spec, &w, snap_cb, NULL));
	WAIT_UNTIL(snap_calls == 1);
	ck_assert_ptr_nonnull(snap_frame);
	ck_assert_int_eq(snap_frame->width, 80);
	ck_assert_int_eq(snap_frame->height, 60);
	fr_frame_unref(snap_frame);
	/* The size went idle with its waiter: nothing kept, and no subscriber counted. */
	ck_assert_uint_eq(size_of("1/4")->latest_bytes, 0);
	ck_assert_uint_eq(stream->counters.clients, 0);

	/* A size in use answers at once, without scaling again. */
	struct peer *p = subscribe("1/4", NULL, false, true);
	WAIT_UNTIL(has_frames(p, 1));
	uint64_t before = scaled();
	struct fr_frame *f = fr_scale_snapshot(scale, &spec, &w, snap_cb, NULL);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->width, 80);
	ck_assert_uint_eq(scaled(), before);

	/* Cancelled: never called. */
	ck_assert_int_eq(fr_scale_spec_parse(&spec, "1/2", NULL, err), 0);
	ck_assert_ptr_null(fr_scale_snapshot(scale, &spec, &w, snap_cb, NULL));
	fr_scale_snapshot_cancel(&w);
	fr_scale_snapshot_cancel(&w);	/* twice does nothing */
	publish("baseline.jpg");
	WAIT_UNTIL(has_frames(p, 2));
	loop_run_for(loop, 0.2);
	ck_assert_int_eq(snap_calls, 1);
}
END_TEST

/* A frame that does not decode: dropped for each size, counted, waiters told. */
START_TEST(test_undecodable)
{
	struct fr_scale_spec spec;
	static struct fr_scale_waiter w;	/* outlives a failed test: teardown ends it */
	char err[FR_ERR_LEN];

	struct peer *p = subscribe("1/2", NULL, false, true);
	publish("truncated-header.bin");
	ck_assert_int_eq(fr_scale_spec_parse(&spec, "1/4", NULL, err), 0);
	ck_assert_int_eq(fr_scale_check(scale, &spec, err), 0);
	ck_assert_ptr_null(fr_scale_snapshot(scale, &spec, &w, snap_cb, NULL));
	WAIT_UNTIL(snap_calls == 1);
	ck_assert_ptr_null(snap_frame);
	ck_assert_str_eq(snap_why, "the latest frame could not be scaled");
	WAIT_UNTIL(stream->counters.dropped_scale_invalid == 2);
	ck_assert_uint_eq(size_of("1/2")->dropped_invalid, 1);
	ck_assert_uint_eq(size_of("1/4")->dropped_invalid, 1);
	ck_assert_uint_eq(p->len, 0);
	publish("baseline.jpg");
	WAIT_UNTIL(has_frames(p, 1));
	ck_assert(frames_of(p).all_decode);
}
END_TEST

/* Freed while the worker has 1080p frames to scale at three sizes. */
START_TEST(test_free_while_busy)
{
	subscribe("1/2", NULL, false, true);
	subscribe("1/4", NULL, false, true);
	subscribe("1/8", NULL, false, false);
	publish("large-1080p.jpg");
	publish("large-1080p.jpg");
	WAIT_UNTIL(scaled() >= 1);
	publish("large-1080p.jpg");
	/* teardown frees it now, with a job running or pending */
}
END_TEST

/* ---- ?scale=auto ---- */

static ev_timer producer;

static void
producer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	publish("stuffed.jpg");
}

static const char *auto_label;

static void
label_cb(struct fr_sub *sub, const char *label, void *arg)
{
	static char buf[32];

	(void)sub, (void)arg;
	snprintf(buf, sizeof buf, "%s", label);
	auto_label = buf;
}

static bool
auto_is(const char *label)
{
	auto_label = NULL;
	fr_scale_foreach_sub(scale, label_cb, NULL);
	return auto_label != NULL && strcmp(auto_label, label) == 0;
}

/*
 * A subscriber that stops reading falls behind: a size down each period, to 1/8; once
 * it reads again and keeps up for the probe time, a size up.
 */
START_TEST(test_auto)
{
	struct peer *p = subscribe("auto", NULL, true, false);

	ck_assert(auto_is("auto:1/1"));
	ck_assert_uint_eq(stream->counters.clients, 1);
	ev_timer_init(&producer, producer_cb, 0.02, 0.02);
	ev_timer_start(loop, &producer);
	WAIT_UNTIL(auto_is("auto:1/2"));
	WAIT_UNTIL(auto_is("auto:1/8"));
	ck_assert_ptr_nonnull(size_of("1/8"));
	ck_assert_uint_eq(size_of("1/8")->clients, 1);
	ck_assert_uint_eq(stream->counters.clients, 1);
	peer_read(p);
	WAIT_UNTIL(auto_is("auto:1/4"));
	ev_timer_stop(loop, &producer);
	ck_assert_uint_eq(size_of("1/4")->clients, 1);
	ck_assert_uint_eq(size_of("1/8")->clients, 0);
	ck_assert_uint_eq(stream->counters.clients, 1);
}
END_TEST
#endif

static Suite *
scale_suite(void)
{
	Suite *s = suite_create("scale");
#ifdef HAVE_TURBOJPEG
	TCase *tc = fr_tcase(s, "sizes", FR_TESTS(test_once_per_frame, test_quality,
	    test_latest_at_once, test_size_limit, test_snapshot, test_undecodable,
	    test_free_while_busy));

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);

	tc = fr_tcase(s, "auto", FR_TESTS(test_auto));
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
#endif
	return s;
}

int
main(void)
{
	return fr_run_suite(scale_suite());
}
