/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the counter formats: the log lines, the /stats JSON and the /metrics
 * Prometheus text, also when the buffer they are written into fails to grow. Small
 * snapshots are compared byte for byte; the Prometheus structure rules (one HELP and
 * TYPE per family, samples grouped) are also checked line by line. Larger fixed
 * snapshots are compared with the golden files in tests/golden.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fr/stats.h"

#include "helpers.h"
#include "suite.h"

#ifndef FR_GOLDEN_DIR
#error "build with -DFR_GOLDEN_DIR='\"/path/to/tests/golden\"'"
#endif

#ifndef FR_TESTING
#error "build with -DFR_TESTING: the alloc tests need fr_buf_fail_alloc_after()"
#endif

#define PYTHON "/usr/bin/python3"

/* No test may leave a pending failure behind (CK_FORK=no runs them in one process). */
static void
alloc_reset(void)
{
	fr_buf_fail_alloc_after(0);
}

/* ---- snapshots ---- */

static const struct fr_stats_client sample_clients[] = {
	{
	    .peer = "127.0.0.1:40001",
	    .protocol = "raw",
	    .connected_s = 12.5,
	    .counters = {.frames_sent = 300,
		.frames_dropped = 2,
		.bytes_sent = 1500000,
		.frame_age_ms = 12,
		.frame_age_max_ms = 950},
	},
	{
	    .peer = "[::1]:40002",
	    .protocol = "http",
	    .scale = "1/2",
	    .connected_s = 3.25,
	    .counters = {.frames_sent = 40,
		.frames_dropped = 1,
		.frames_dropped_fps_cap = 50,
		.bytes_sent = 200000,
		.frame_age_ms = 3,
		.frame_age_max_ms = 7},
	},
};

/* One size in use, and one idle. */
static const struct fr_stats_scaled sample_scaled[] = {
	{.scale = "1/2", .clients = 1, .frames = 40, .frames_scaled = 41, .cpu_s = 0.0123,
	    .latest_bytes = 1200, .latest_width = 320, .latest_height = 240, .latest_quality = 75},
	{.scale = "1/4,q=30", .frames = 3, .frames_scaled = 4, .dropped_invalid = 1},
};

/*
 * "default" has a producer, a decoded latest frame, two clients (one of a scaled size)
 * and two scaled sizes; "cam2" has nothing.
 */
static const struct fr_stats_stream sample_streams[] = {
	{
	    .name = "default",
	    .counters = {.frames_in = 310,
		.bytes_in = 1551000,
		.frames_out = 340,
		.bytes_out = 1700000,
		.dropped_slow_client = 3,
		.dropped_fps_cap = 50,
		.dropped_invalid = 1,
		.dropped_oversize = 4,
		.dropped_truncated = 2,
		.garbage_bytes = 17,
		.clients = 2,
		.clients_refused = 1,
		.producer_connects = 5,
		.producer_connected = 1,
		.frames_scaled = 45,
		.scale_cpu_ns = 12345678,
		.dropped_scale_invalid = 1,
		/* 340 frames: 100 within 10 ms, 230 within 100 ms, 8 within 1 s, 2 later. */
		.frame_age_seconds = {.buckets = {[1] = 100, [4] = 230, [7] = 8, [11] = 2},
		    .count = 340,
		    .sum = 12.5}},
	    .producer = "127.0.0.1:39999",
	    .input_fps = 29.97,
	    .latest_bytes = 5000,
	    .latest_width = 640,
	    .latest_height = 480,
	    .latest_age_s = 0.0331,
	    .stale_after_s = 5,
	    .n_clients = 2,
	    .clients = sample_clients,
	    .n_scaled = 2,
	    .scaled = sample_scaled,
	},
	{
	    .name = "cam2",
	    .latest_age_s = -1,
	    .stale_after_s = 2.5,
	    .is_stale = 1,
	},
};

static const struct fr_stats_snapshot sample = {
	.version = "0.1.0",
	.uptime_s = 12.3456,
	.counters.connections_denied = 7,
	.n_streams = 2,
	.streams = sample_streams,
};

/* The process-wide counters in /stats, with connections_denied given and the rest 0. */
#define PROCESS_JSON(denied) \
	"\"connections_denied\": " denied ", \"streams_expired\": 0, \"pending_evicted\": 0, " \
	"\"connections_pending\": 0, "

static const char sample_json[] =
	"{\"version\": \"0.1.0\", \"uptime_s\": 12.346, " PROCESS_JSON("7")
	"\"streams\": {"
	"\"default\": {\"frames_in\": 310, \"bytes_in\": 1551000, \"frames_out\": 340, "
	"\"bytes_out\": 1700000, \"dropped\": {\"slow_client\": 3, \"fps_cap\": 50, "
	"\"invalid\": 1, \"oversize\": 4, \"truncated\": 2, \"scale_invalid\": 1}, "
	"\"garbage_bytes\": 17, "
	"\"clients\": 2, \"clients_refused\": 1, \"producer_connected\": true, "
	"\"producer_connects\": 5, \"arena_fallbacks\": 0, \"frames_scaled\": 45, "
	"\"scale_cpu_s\": 0.012345, "
	"\"frame_age_seconds\": {\"count\": 340, \"sum\": 12.500, \"buckets\": {\"0.005\": 0, "
	"\"0.01\": 100, \"0.025\": 100, \"0.05\": 100, \"0.1\": 330, \"0.25\": 330, \"0.5\": 330, "
	"\"1\": 338, \"2.5\": 338, \"5\": 338, \"10\": 338, \"+Inf\": 340}}, "
	"\"producer\": \"127.0.0.1:39999\", "
	"\"input_fps\": 29.970, "
	"\"latest_frame\": {\"bytes\": 5000, \"width\": 640, \"height\": 480, "
	"\"age_s\": 0.033}, \"scaled\": ["
	"{\"scale\": \"1/2\", \"clients\": 1, \"frames\": 40, \"frames_scaled\": 41, "
	"\"scale_cpu_s\": 0.012, \"dropped_invalid\": 0, \"latest_frame\": {\"bytes\": 1200, "
	"\"width\": 320, \"height\": 240, \"quality\": 75}}, "
	"{\"scale\": \"1/4,q=30\", \"clients\": 0, \"frames\": 3, \"frames_scaled\": 4, "
	"\"scale_cpu_s\": 0.000, \"dropped_invalid\": 1, \"latest_frame\": null}], "
	"\"client_list\": ["
	"{\"peer\": \"127.0.0.1:40001\", \"protocol\": \"raw\", \"connected_s\": 12.500, "
	"\"frames_sent\": 300, \"bytes_sent\": 1500000, "
	"\"dropped\": {\"slow_client\": 2, \"fps_cap\": 0}, \"frame_age_ms\": 12, "
	"\"frame_age_max_ms\": 950, \"scale\": null}, "
	"{\"peer\": \"[::1]:40002\", \"protocol\": \"http\", \"connected_s\": 3.250, "
	"\"frames_sent\": 40, \"bytes_sent\": 200000, "
	"\"dropped\": {\"slow_client\": 1, \"fps_cap\": 50}, \"frame_age_ms\": 3, "
	"\"frame_age_max_ms\": 7, \"scale\": \"1/2\"}], "
	"\"stale_after_s\": 5.000, \"stale\": false}, "
	"\"cam2\": {\"frames_in\": 0, \"bytes_in\": 0, \"frames_out\": 0, \"bytes_out\": 0, "
	"\"dropped\": {\"slow_client\": 0, \"fps_cap\": 0, \"invalid\": 0, \"oversize\": 0, "
	"\"truncated\": 0, \"scale_invalid\": 0}, \"garbage_bytes\": 0, \"clients\": 0, "
	"\"clients_refused\": 0, "
	"\"producer_connected\": false, \"producer_connects\": 0, \"arena_fallbacks\": 0, "
	"\"frames_scaled\": 0, \"scale_cpu_s\": 0.000000, "
	"\"frame_age_seconds\": {\"count\": 0, \"sum\": 0.000, \"buckets\": {\"0.005\": 0, "
	"\"0.01\": 0, \"0.025\": 0, \"0.05\": 0, \"0.1\": 0, \"0.25\": 0, \"0.5\": 0, "
	"\"1\": 0, \"2.5\": 0, \"5\": 0, \"10\": 0, \"+Inf\": 0}}, "
	"\"producer\": null, \"input_fps\": 0.000, \"latest_frame\": null, \"scaled\": [], "
	"\"client_list\": [], \"stale_after_s\": 2.500, \"stale\": true}}}\n";

/*
 * Samples in /metrics: per stream with a frame, the single-sample families (stale
 * among them), one per drop reason, the latest frame's age (without a frame, one
 * less) and the frame-age histogram (12 buckets, sum and count); beside the streams,
 * uptime, the process-wide counters and build_info.
 */
enum { STREAM_SAMPLES = 15 + 6 + 14, TOP_SAMPLES = 1 + 4 + 1 };

#define HELP_TYPE(name, type, help) "# HELP " name " " help "\n# TYPE " name " " type "\n"

/* The process-wide families, with connections_denied given and the rest 0. */
#define PROCESS_FAMILIES(denied) \
	HELP_TYPE("framerouter_connections_denied_total", "counter", \
	"Connections closed at accept because --allow does not admit the address.") \
	"framerouter_connections_denied_total " denied "\n" \
	HELP_TYPE("framerouter_streams_expired_total", "counter", \
	"Streams created by an HTTP push and removed after --stream-idle-timeout.") \
	"framerouter_streams_expired_total 0\n" \
	HELP_TYPE("framerouter_pending_evicted_total", "counter", \
	"HTTP connections not handed on that were closed to make room because the " \
	"--max-pending budget, in all or per address, was full.") \
	"framerouter_pending_evicted_total 0\n" \
	HELP_TYPE("framerouter_connections_pending", "gauge", \
	"HTTP connections not handed on to a subscriber or producer yet.") \
	"framerouter_connections_pending 0\n"

static const char sample_prometheus[] =
	HELP_TYPE("framerouter_frames_in_total", "counter",
	"Whole JPEG frames received from producers.")
	"framerouter_frames_in_total{stream=\"default\"} 310\n"
	"framerouter_frames_in_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_bytes_in_total", "counter", "Bytes received from producers.")
	"framerouter_bytes_in_total{stream=\"default\"} 1551000\n"
	"framerouter_bytes_in_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_frames_out_total", "counter",
	"Frames completely written to subscribers.")
	"framerouter_frames_out_total{stream=\"default\"} 340\n"
	"framerouter_frames_out_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_bytes_out_total", "counter", "Bytes written to subscribers.")
	"framerouter_bytes_out_total{stream=\"default\"} 1700000\n"
	"framerouter_bytes_out_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_frames_dropped_total", "counter",
	"Frames dropped, by reason: skipped for a slow subscriber or a subscriber's fps cap, "
	"rejected as invalid, oversize or truncated input, or not scalable for a size.")
	"framerouter_frames_dropped_total{stream=\"default\",reason=\"slow_client\"} 3\n"
	"framerouter_frames_dropped_total{stream=\"default\",reason=\"fps_cap\"} 50\n"
	"framerouter_frames_dropped_total{stream=\"default\",reason=\"invalid\"} 1\n"
	"framerouter_frames_dropped_total{stream=\"default\",reason=\"oversize\"} 4\n"
	"framerouter_frames_dropped_total{stream=\"default\",reason=\"truncated\"} 2\n"
	"framerouter_frames_dropped_total{stream=\"default\",reason=\"scale_invalid\"} 1\n"
	"framerouter_frames_dropped_total{stream=\"cam2\",reason=\"slow_client\"} 0\n"
	"framerouter_frames_dropped_total{stream=\"cam2\",reason=\"fps_cap\"} 0\n"
	"framerouter_frames_dropped_total{stream=\"cam2\",reason=\"invalid\"} 0\n"
	"framerouter_frames_dropped_total{stream=\"cam2\",reason=\"oversize\"} 0\n"
	"framerouter_frames_dropped_total{stream=\"cam2\",reason=\"truncated\"} 0\n"
	"framerouter_frames_dropped_total{stream=\"cam2\",reason=\"scale_invalid\"} 0\n"
	HELP_TYPE("framerouter_garbage_bytes_total", "counter",
	"Bytes from producers outside any JPEG frame.")
	"framerouter_garbage_bytes_total{stream=\"default\"} 17\n"
	"framerouter_garbage_bytes_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_clients", "gauge", "Subscribers connected now.")
	"framerouter_clients{stream=\"default\"} 2\n"
	"framerouter_clients{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_clients_refused_total", "counter",
	"Subscribers refused because the server was full.")
	"framerouter_clients_refused_total{stream=\"default\"} 1\n"
	"framerouter_clients_refused_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_producer_connected", "gauge",
	"1 while a producer is connected, else 0.")
	"framerouter_producer_connected{stream=\"default\"} 1\n"
	"framerouter_producer_connected{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_producer_connects_total", "counter",
	"Producer connections accepted.")
	"framerouter_producer_connects_total{stream=\"default\"} 5\n"
	"framerouter_producer_connects_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_arena_fallbacks_total", "counter",
	"Frames sent from the heap because the memfd arena had no room.")
	"framerouter_arena_fallbacks_total{stream=\"default\"} 0\n"
	"framerouter_arena_fallbacks_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_frames_scaled_total", "counter",
	"Scaled frames made for ?scale=, ?q= and listen-scale= subscribers and snapshots: one "
	"per frame per size, however many subscribers.")
	"framerouter_frames_scaled_total{stream=\"default\"} 45\n"
	"framerouter_frames_scaled_total{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_scale_cpu_seconds_total", "counter",
	"CPU seconds the scaler thread spent making scaled frames.")
	"framerouter_scale_cpu_seconds_total{stream=\"default\"} 0.012345\n"
	"framerouter_scale_cpu_seconds_total{stream=\"cam2\"} 0.000000\n"
	HELP_TYPE("framerouter_frame_age_seconds", "histogram",
	"Seconds from a frame's arrival to its last byte being written to a subscriber, for "
	"every frame sent to every subscriber.")
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"0.005\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"0.01\"} 100\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"0.025\"} 100\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"0.05\"} 100\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"0.1\"} 330\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"0.25\"} 330\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"0.5\"} 330\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"1\"} 338\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"2.5\"} 338\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"5\"} 338\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"10\"} 338\n"
	"framerouter_frame_age_seconds_bucket{stream=\"default\",le=\"+Inf\"} 340\n"
	"framerouter_frame_age_seconds_sum{stream=\"default\"} 12.500\n"
	"framerouter_frame_age_seconds_count{stream=\"default\"} 340\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"0.005\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"0.01\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"0.025\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"0.05\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"0.1\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"0.25\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"0.5\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"1\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"2.5\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"5\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"10\"} 0\n"
	"framerouter_frame_age_seconds_bucket{stream=\"cam2\",le=\"+Inf\"} 0\n"
	"framerouter_frame_age_seconds_sum{stream=\"cam2\"} 0.000\n"
	"framerouter_frame_age_seconds_count{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_input_fps", "gauge",
	"Frames per second received over the last seconds.")
	"framerouter_input_fps{stream=\"default\"} 29.970\n"
	"framerouter_input_fps{stream=\"cam2\"} 0.000\n"
	HELP_TYPE("framerouter_latest_frame_bytes", "gauge",
	"Size of the latest frame in bytes, 0 when there is none.")
	"framerouter_latest_frame_bytes{stream=\"default\"} 5000\n"
	"framerouter_latest_frame_bytes{stream=\"cam2\"} 0\n"
	HELP_TYPE("framerouter_latest_frame_age_seconds", "gauge",
	"Seconds since the latest frame arrived; absent when there is none.")
	"framerouter_latest_frame_age_seconds{stream=\"default\"} 0.033\n"
	HELP_TYPE("framerouter_stale", "gauge",
	"1 while the latest frame is older than the stream's --stale-after, else 0.")
	"framerouter_stale{stream=\"default\"} 0\n"
	"framerouter_stale{stream=\"cam2\"} 1\n"
	HELP_TYPE("framerouter_uptime_seconds", "gauge", "Seconds since framerouter started.")
	"framerouter_uptime_seconds 12.346\n"
	PROCESS_FAMILIES("7")
	HELP_TYPE("framerouter_build_info", "gauge",
	"Always 1; the version label says which framerouter this is.")
	"framerouter_build_info{version=\"0.1.0\"} 1\n";

/* The formatted snapshot, NUL-terminated and owned by the caller. */
static char *
render(void (*format)(struct fr_buf *, const struct fr_stats_snapshot *),
	const struct fr_stats_snapshot *snap)
{
	struct fr_buf b;

	fr_buf_init(&b);
	format(&b, snap);
	ck_assert_int_eq(b.has_failed, 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_uint_eq(strlen(b.data), b.len);
	return b.data;
}

static char *
render_json(const struct fr_stats_snapshot *snap)
{
	return render(fr_stats_format_json, snap);
}

static char *
render_prometheus(const struct fr_stats_snapshot *snap)
{
	return render(fr_stats_format_prometheus, snap);
}

/* A snapshot of one stream with name and everything else empty. */
static struct fr_stats_snapshot
one_stream(struct fr_stats_stream *s, const char *name)
{
	*s = (struct fr_stats_stream){.name = name, .latest_age_s = -1};
	return (struct fr_stats_snapshot){.version = "v", .n_streams = 1, .streams = s};
}

/*
 * Whether Python's json module loads text and finds check (a Python expression over the
 * loaded value d) true: 1 if so, 0 if not. Fails the test when Python is missing or
 * does not run to an answer, so that no JSON check can pass without being made
 * (scripts/setup-debian.sh installs python3).
 */
static int
python_json_check(const char *text, const char *check)
{
	char script[1024];

	ck_assert_msg(access(PYTHON, X_OK) == 0, "%s: %s: the JSON checks need it (Debian: "
	    "python3)", PYTHON, strerror(errno));
	/*
	 * Strict: the bytes must be UTF-8 (whatever the locale), and NaN or Infinity, which
	 * Python accepts by default, are rejected. The script goes through the environment,
	 * so the shell never sees its quotes.
	 */
	int n = snprintf(script, sizeof script,
	    "import json, sys\n"
	    "def strict(c):\n"
	    "    raise ValueError(c)\n"
	    "d = json.loads(sys.stdin.buffer.read().decode('utf-8'), parse_constant=strict)\n"
	    "sys.exit(0 if (%s) else 1)\n",
	    check);
	ck_assert_int_lt(n, (int)sizeof script);
	ck_assert_int_eq(setenv("FR_PYCHECK", script, 1), 0);
	/* Quiet: some checks are meant to fail; the assert shows the text instead. */
	FILE *p = popen(PYTHON " -c \"$FR_PYCHECK\" 2>/dev/null", "w");
	ck_assert_ptr_nonnull(p);
	fputs(text, p);
	int status = pclose(p);
	/* Exit 1 is a false check or a rejected text (an uncaught exception); else broken. */
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1),
	    "%s did not run to an answer (wait status %d)", PYTHON, status);
	return WEXITSTATUS(status) == 0;
}

#define ASSERT_PYTHON(text, check) \
	do { \
		int ok_ = python_json_check((text), (check)); \
		ck_assert_msg(ok_ != 0, "python3 rejects %s, or not (%s)", (text), (check)); \
	} while (0)

/* ---- formatting into a failing buffer ---- */

/*
 * Formatting into a buffer whose Nth allocation fails stops cleanly, for every N up to
 * the number of growths the full text needs: flagged, and what is there is a prefix of
 * the full text.
 */
START_TEST(test_buf_formats_fail_cleanly)
{
	static struct fr_stats_stream streams[200];
	struct fr_stats_snapshot snap = sample;
	void (*const formats[])(struct fr_buf *, const struct fr_stats_snapshot *) = {
	    fr_stats_format_json, fr_stats_format_prometheus};

	/* Enough streams that both formats grow the buffer several times. */
	for (size_t i = 0; i < 200; i++)
		streams[i] = sample_streams[i % 2];
	snap.streams = streams;
	snap.n_streams = 200;
	for (size_t f = 0; f < 2; f++) {
		char *full = render(formats[f], &snap);
		unsigned n_allocs = 1;	/* 4 KiB, then one per doubling until len + 1 fits */

		for (size_t cap = 4096; cap <= strlen(full); cap *= 2)
			n_allocs++;
		ck_assert_uint_ge(n_allocs, 6);
		for (unsigned n = 1; n <= n_allocs; n++) {
			struct fr_buf b;

			fr_buf_init(&b);
			fr_buf_fail_alloc_after(n);
			formats[f](&b, &snap);
			alloc_reset();
			ck_assert_int_eq(b.has_failed, 1);
			if (n == 1) {
				ck_assert_ptr_null(b.data);
			} else {
				ck_assert_uint_eq(strlen(b.data), b.len);
				ck_assert_uint_lt(b.len, b.cap);
				ck_assert_uint_eq(b.cap, (size_t)4096 << (n - 2));
				ck_assert_mem_eq(b.data, full, b.len);
			}
			fr_buf_fini(&b);
		}
		/* One more allocation than needed is never reached. */
		fr_buf_fail_alloc_after(n_allocs + 1);
		char *again = render(formats[f], &snap);
		alloc_reset();
		ck_assert_str_eq(again, full);
		free(again);
		free(full);
	}
}
END_TEST

/* ---- log lines ---- */

START_TEST(test_log_stream_line)
{
	const struct fr_stream_counters c = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	    16, 17000123456, 18, {.buckets = {[0] = 19}, .count = 19, .sum = 0.25}};
	char line[512];

	/* scale_cpu_s counts nanoseconds and shows seconds. */
	fr_stats_format_stream(line, sizeof line, &c);
	ck_assert_str_eq(line,
	    "frames_in=1 bytes_in=2 frames_out=3 bytes_out=4 dropped_slow_client=5 "
	    "dropped_fps_cap=6 dropped_invalid=7 dropped_oversize=8 dropped_truncated=9 "
	    "dropped_scale_invalid=18 garbage_bytes=10 clients=11 clients_refused=12 "
	    "producer_connected=14 producer_connects=13 arena_fallbacks=15 frames_scaled=16 "
	    "scale_cpu_s=17.000123 frame_age_seconds_count=19 frame_age_seconds_sum=0.250");
}
END_TEST

START_TEST(test_log_client_line)
{
	const struct fr_client_counters c = {1, 2, 3, 4, 5, 6};
	char line[128];

	fr_stats_format_client(line, sizeof line, &c);
	ck_assert_str_eq(line,
	    "frames_sent=1 frames_dropped=2 frames_dropped_fps_cap=3 frame_age_ms=5 "
	    "frame_age_max_ms=6 bytes_sent=4");
}
END_TEST

/*
 * stream.c and registry.c format into FR_STATS_LINE_MAX bytes, sub.c into 256: the
 * largest values must fit.
 */
START_TEST(test_log_lines_fit)
{
	struct fr_process_counters pc;
	struct fr_stream_counters sc;
	struct fr_client_counters cc;
	char line[2 * FR_STATS_LINE_MAX];

	memset(&pc, 0xff, sizeof pc);
	memset(&sc, 0xff, sizeof sc);
	memset(&cc, 0xff, sizeof cc);
	fr_stats_format_process(line, sizeof line, &pc);
	ck_assert_uint_lt(strlen(line), FR_STATS_LINE_MAX);
	fr_stats_format_stream(line, sizeof line, &sc);
	ck_assert_uint_lt(strlen(line), FR_STATS_LINE_MAX);
	ck_assert_ptr_nonnull(strstr(line, " producer_connects=18446744073709551615"));
	fr_stats_format_client(line, sizeof line, &cc);
	ck_assert_uint_lt(strlen(line), 256);
	/* A short buffer truncates and still ends in NUL. */
	memset(line, 'q', sizeof line);
	fr_stats_format_stream(line, 10, &sc);
	ck_assert_str_eq(line, "frames_in");
	fr_stats_format_client(line, 1, &cc);
	ck_assert_str_eq(line, "");
}
END_TEST

/* ---- json ---- */

START_TEST(test_json_sample)
{
	char *text = render_json(&sample);

	ck_assert_str_eq(text, sample_json);
	/* The helper itself can fail: a false check, and text that is not JSON. */
	ck_assert_int_eq(python_json_check("{}", "True"), 1);
	ck_assert_int_eq(python_json_check("{}", "d == {'a': 1}"), 0);
	ck_assert_int_eq(python_json_check("{\"a\": 1,}", "True"), 0);
	ck_assert_int_eq(python_json_check("{\"a\": NaN}", "True"), 0);
	ck_assert_int_eq(python_json_check("[\"\xff\"]", "True"), 0);
	ASSERT_PYTHON(text, "d['streams']['default']['client_list'][1]['dropped']['fps_cap'] == 50 "
			    "and d['streams']['cam2']['latest_frame'] is None");
	free(text);
}
END_TEST

START_TEST(test_json_no_streams)
{
	const struct fr_stats_snapshot snap = {.version = "1.2.3", .uptime_s = 0.25};
	char *text = render_json(&snap);

	ck_assert_str_eq(text, "{\"version\": \"1.2.3\", \"uptime_s\": 0.250, "
	    PROCESS_JSON("0") "\"streams\": {}}\n");
	free(text);
}
END_TEST

START_TEST(test_json_huge_counters)
{
	struct fr_stats_client cl = {.peer = "p", .protocol = "raw", .connected_s = 1e12};
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, "big");

	memset(&s.counters, 0xff, sizeof s.counters);
	memset(&cl.counters, 0xff, sizeof cl.counters);
	s.latest_bytes = SIZE_MAX;
	s.latest_width = s.latest_height = 65535;
	s.latest_age_s = 0;
	s.n_clients = 1;
	s.clients = &cl;
	char *text = render_json(&snap);
	ck_assert_str_eq(text,
	    "{\"version\": \"v\", \"uptime_s\": 0.000, " PROCESS_JSON("0")
	    "\"streams\": {\"big\": {"
	    "\"frames_in\": 18446744073709551615, \"bytes_in\": 18446744073709551615, "
	    "\"frames_out\": 18446744073709551615, \"bytes_out\": 18446744073709551615, "
	    "\"dropped\": {\"slow_client\": 18446744073709551615, "
	    "\"fps_cap\": 18446744073709551615, \"invalid\": 18446744073709551615, "
	    "\"oversize\": 18446744073709551615, \"truncated\": 18446744073709551615, "
	    "\"scale_invalid\": 18446744073709551615}, "
	    "\"garbage_bytes\": 18446744073709551615, \"clients\": 18446744073709551615, "
	    "\"clients_refused\": 18446744073709551615, \"producer_connected\": true, "
	    "\"producer_connects\": 18446744073709551615, "
	    "\"arena_fallbacks\": 18446744073709551615, "
	    "\"frames_scaled\": 18446744073709551615, \"scale_cpu_s\": 18446744073.709551, "
	    /* The histogram's sum is NaN (all ones): 0; its cumulative counts saturate. */
	    "\"frame_age_seconds\": {\"count\": 18446744073709551615, \"sum\": 0.000, "
	    "\"buckets\": {\"0.005\": 18446744073709551615, \"0.01\": 18446744073709551615, "
	    "\"0.025\": 18446744073709551615, \"0.05\": 18446744073709551615, "
	    "\"0.1\": 18446744073709551615, \"0.25\": 18446744073709551615, "
	    "\"0.5\": 18446744073709551615, \"1\": 18446744073709551615, "
	    "\"2.5\": 18446744073709551615, \"5\": 18446744073709551615, "
	    "\"10\": 18446744073709551615, \"+Inf\": 18446744073709551615}}, "
	    "\"producer\": null, "
	    "\"input_fps\": 0.000, \"latest_frame\": {\"bytes\": 18446744073709551615, "
	    "\"width\": 65535, \"height\": 65535, \"age_s\": 0.000}, \"scaled\": [], "
	    "\"client_list\": ["
	    "{\"peer\": \"p\", \"protocol\": \"raw\", \"connected_s\": 1000000000000.000, "
	    "\"frames_sent\": 18446744073709551615, \"bytes_sent\": 18446744073709551615, "
	    "\"dropped\": {\"slow_client\": 18446744073709551615, "
	    "\"fps_cap\": 18446744073709551615}, \"frame_age_ms\": 18446744073709551615, "
	    "\"frame_age_max_ms\": 18446744073709551615, \"scale\": null}], "
	    "\"stale_after_s\": null, \"stale\": false}}}\n");
	/* Python's ints are exact: the digits survive the round trip. */
	ASSERT_PYTHON(text, "d['streams']['big']['bytes_in'] == 2**64 - 1");
	free(text);
}
END_TEST

/* %.3f always; never NaN or Inf (not JSON), never "-0.000". */
START_TEST(test_json_doubles)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
	    {0, "0.000"},
	    {-0.0, "0.000"},
	    {-0.0004, "0.000"},
	    {0.0004, "0.000"},
	    {0.0005, "0.001"},
	    {-2.5, "-2.500"},
	    {1234.25, "1234.250"},
	    {NAN, "0.000"},
	    {-NAN, "0.000"},
	    {INFINITY, "0.000"},
	    {-INFINITY, "0.000"},
	};
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, "d");
	char expect[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snap.uptime_s = cases[i].v;
		s.input_fps = cases[i].v;
		char *text = render_json(&snap);
		snprintf(expect, sizeof expect, "\"uptime_s\": %s, ", cases[i].text);
		ck_assert_msg(strstr(text, expect) != NULL, "%zu: no %s in %s", i, expect, text);
		snprintf(expect, sizeof expect, "\"input_fps\": %s, ", cases[i].text);
		ck_assert_msg(strstr(text, expect) != NULL, "%zu: no %s in %s", i, expect, text);
		ck_assert_int_ne(python_json_check(text, "True"), 0);
		free(text);
	}
}
END_TEST

START_TEST(test_json_latest_frame)
{
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, "f");
	char *text;

	/* Not decoded (no --validate): the size and age, but no dimensions. */
	s.latest_bytes = 123;
	s.latest_age_s = 1.5;
	text = render_json(&snap);
	ck_assert_ptr_nonnull(strstr(text, "\"latest_frame\": {\"bytes\": 123, \"width\": null, "
					   "\"height\": null, \"age_s\": 1.500}, "));
	free(text);

	/* Either "none" marker means no frame. */
	s.latest_age_s = -1;
	text = render_json(&snap);
	ck_assert_ptr_nonnull(strstr(text, "\"latest_frame\": null, "));
	free(text);
	s.latest_bytes = 0;
	s.latest_age_s = 2;
	text = render_json(&snap);
	ck_assert_ptr_nonnull(strstr(text, "\"latest_frame\": null, "));
	free(text);
}
END_TEST

/* Each case is a peer name and its JSON string literal without the quotes. */
static const struct {
	const char *in, *out;
} json_strings[] = {
	{"", ""},
	{"plain 1.2.3.4:5", "plain 1.2.3.4:5"},
	{"q\"b\\s/", "q\\\"b\\\\s/"},
	{"\b\f\n\r\t", "\\b\\f\\n\\r\\t"},
	{"\x01\x1f\x7f", "\\u0001\\u001f\x7f"},
	{"unix:/tmp/caf\xc3\xa9", "unix:/tmp/caf\xc3\xa9"},		/* é */
	{"\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"},	/* 日本 */
	{"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},			/* U+1F600 */
	{"\xef\xbf\xbf", "\xef\xbf\xbf"},				/* U+FFFF */
	{"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},			/* U+10FFFF */
	{"a\x80z", "a\\ufffdz"},					/* lone continuation */
	{"\xff\xfe", "\\ufffd\\ufffd"},
	{"\xc0\xaf", "\\ufffd\\ufffd"},				/* overlong '/' */
	{"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},			/* overlong */
	{"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},			/* surrogate D800 */
	{"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},	/* above U+10FFFF */
	{"\xf0\x8f\xbf\xbf", "\\ufffd\\ufffd\\ufffd\\ufffd"},	/* overlong U+FFFF */
	{"\xf5\x80", "\\ufffd\\ufffd"},
	{"\xe6\x97x", "\\ufffdx"},					/* cut short: one U+FFFD */
	{"\xf0\x9f\x98", "\\ufffd"},				/* cut short by the end */
	{"\xc3", "\\ufffd"},
	{"\xc3\"", "\\ufffd\\\""},
};

START_TEST(test_json_escaping)
{
	const char *in = json_strings[_i].in;
	struct fr_stats_client cl = {.peer = in, .protocol = in};
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, in);
	char expect[256];

	snap.version = in;
	s.producer = in;
	s.n_clients = 1;
	s.clients = &cl;
	char *text = render_json(&snap);
	const char *o = json_strings[_i].out;
	const char *checks[][2] = {
	    {"{\"version\": \"", "\", \"uptime_s\""},
	    {"\"streams\": {\"", "\": {\"frames_in\""},
	    {"\"producer\": \"", "\", \"input_fps\""},
	    {"{\"peer\": \"", "\", \"protocol\""},
	    {"\"protocol\": \"", "\", \"connected_s\""},
	};
	for (size_t k = 0; k < sizeof checks / sizeof checks[0]; k++) {
		snprintf(expect, sizeof expect, "%s%s%s", checks[k][0], o, checks[k][1]);
		ck_assert_msg(strstr(text, expect) != NULL, "no %s in %s", expect, text);
	}
	/* Python agrees that the five strings are the same and decode to what we meant. */
	ASSERT_PYTHON(text, "len({d['version'], list(d['streams'])[0], "
			    "d['streams'][d['version']]['producer'], "
			    "d['streams'][d['version']]['client_list'][0]['peer'], "
			    "d['streams'][d['version']]['client_list'][0]['protocol']}) == 1");
	free(text);
}
END_TEST

/* The JSON decodes to the code points meant: checked by Python for a mixed string. */
START_TEST(test_json_escaping_decodes)
{
	struct fr_stats_snapshot snap = {
	    .version = "a\"\\\n\x01\xc3\xa9\xf0\x9f\x98\x80\xff\xe6\x97x",
	};
	char *text = render_json(&snap);

	ASSERT_PYTHON(text, "d['version'] == 'a\"\\\\\\n\\x01\\u00e9\\U0001f600\\ufffd\\ufffdx'");
	free(text);
}
END_TEST

/* NULL strings (other than producer, where it means none) print as "". */
START_TEST(test_json_null_strings)
{
	struct fr_stats_client cl = {0};
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, NULL);

	snap.version = NULL;
	s.n_clients = 1;
	s.clients = &cl;
	char *text = render_json(&snap);
	ck_assert_ptr_nonnull(strstr(text, "{\"version\": \"\", "));
	ck_assert_ptr_nonnull(strstr(text, "\"streams\": {\"\": {"));
	ck_assert_ptr_nonnull(strstr(text, "[{\"peer\": \"\", \"protocol\": \"\", "));
	ASSERT_PYTHON(text, "True");
	free(text);
}
END_TEST

/* ---- prometheus ---- */

/*
 * Checks the structure rules of the text format line by line: every family has exactly
 * one HELP and one TYPE, before its samples; a family's samples are contiguous; counter
 * names end in _total; every sample belongs to the family just declared. Returns the
 * number of samples.
 */
static size_t
check_prometheus_structure(const char *text)
{
	char seen[64][64];	/* family names already closed */
	size_t n_seen = 0, n_samples = 0;
	char family[64] = "";
	int has_help = 0, has_type = 0, is_histogram = 0;

	ck_assert_uint_gt(strlen(text), 0);
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	for (const char *line = text; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		char name[64], kind[16];
		ck_assert_ptr_nonnull(nl);
		if (sscanf(line, "# HELP %63s", name) == 1) {
			if (strcmp(name, family) != 0) {
				for (size_t i = 0; i < n_seen; i++)
					ck_assert_str_ne(seen[i], name);
				ck_assert_uint_lt(n_seen, 64);
				if (family[0] != '\0')
					strcpy(seen[n_seen++], family);
				strcpy(family, name);
				has_help = has_type = 0;
			}
			ck_assert_msg(!has_help && !has_type, "HELP twice or after TYPE: %s", name);
			has_help = 1;
		} else if (sscanf(line, "# TYPE %63s %15s", name, kind) == 2) {
			ck_assert_str_eq(name, family);
			ck_assert_msg(has_help && !has_type, "TYPE without HELP, or twice: %s",
			    name);
			has_type = 1;
			size_t n = strlen(name);
			is_histogram = strcmp(kind, "histogram") == 0;
			if (strcmp(kind, "counter") == 0)
				ck_assert_msg(n > 6 && strcmp(name + n - 6, "_total") == 0,
				    "counter %s has no _total", name);
			else if (!is_histogram)
				ck_assert_str_eq(kind, "gauge");
			ck_assert_msg(strncmp(name, "framerouter_", 12) == 0, "%s", name);
		} else {
			ck_assert_int_ne(line[0], '#');
			size_t n = strlen(family);
			ck_assert_msg(has_type && strncmp(line, family, n) == 0,
			    "sample outside its family %s: %.*s", family, (int)(nl - line), line);
			/* A histogram's samples: NAME_bucket{..le=..}, NAME_sum and NAME_count. */
			if (is_histogram && strncmp(line + n, "_bucket{", 8) == 0)
				ck_assert_msg(memmem(line, (size_t)(nl - line), "le=\"", 4) != NULL,
				    "bucket without le: %.*s", (int)(nl - line), line);
			if (is_histogram)
				n += strncmp(line + n, "_bucket", 7) == 0 ? 7 :
				    strncmp(line + n, "_count", 6) == 0 ? 6 : 4;
			ck_assert_msg(line[n] == '{' || line[n] == ' ',
			    "sample outside its family %s: %.*s", family, (int)(nl - line), line);
			n_samples++;
		}
		line = nl + 1;
	}
	return n_samples;
}

START_TEST(test_prometheus_sample)
{
	char *text = render_prometheus(&sample);

	ck_assert_str_eq(text, sample_prometheus);
	/* Two streams, one of them with a frame. */
	ck_assert_uint_eq(check_prometheus_structure(text), STREAM_SAMPLES * 2 + 1 + TOP_SAMPLES);
	free(text);
}
END_TEST

/* A pulled stream: its upstream in /stats, in /metrics (only then) and in the log line. */
START_TEST(test_upstream)
{
	struct fr_stats_stream s[2];
	struct fr_stats_upstream u = {
		.url = "http://cam/v?...", .state = "backoff", .last_error = "HTTP 404 \"x\"",
		.counters = { .attempts = 3, .connects = 1, .failures_refused = 2,
			.failures_closed = 1 },
		.last_frame_age_s = 1.5, .retry_in_s = 0.25, .is_on_demand = 1,
	};
	struct fr_stats_snapshot snap = one_stream(&s[0], "front");
	char line[512];

	s[0].upstream = &u;
	char *text = render_json(&snap);
	ck_assert_ptr_nonnull(strstr(text, "\"producer\": null, \"upstream\": {\"url\": "
	    "\"http://cam/v?...\", \"state\": \"backoff\", \"on_demand\": true, \"attempts\": 3, "
	    "\"connects\": 1, \"failures\": {\"dns\": 0, \"refused\": 2, \"timeout\": 0, "
	    "\"http_status\": 0, \"bad_content_type\": 0, \"bad_response\": 0, \"closed\": 1}, "
	    "\"last_error\": \"HTTP 404 \\\"x\\\"\", \"last_frame_age_s\": 1.500, "
	    "\"retry_in_s\": 0.250}, \"input_fps\""));
	ASSERT_PYTHON(text, "d['streams']['front']['upstream']['failures']['refused'] == 2");
	free(text);
	u.last_error = "";
	u.last_frame_age_s = u.retry_in_s = -1;
	text = render_json(&snap);
	ck_assert_ptr_nonnull(strstr(text, "\"last_error\": null, \"last_frame_age_s\": null, "
	    "\"retry_in_s\": null}"));
	free(text);

	/* A stream that is not pulled has no upstream key, and /metrics no such family. */
	s[1] = (struct fr_stats_stream){ .name = "pushed", .latest_age_s = -1 };
	snap.n_streams = 2;
	text = render_prometheus(&snap);
	ck_assert_ptr_nonnull(strstr(text, "framerouter_upstream_info{stream=\"front\","
	    "url=\"http://cam/v?...\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "framerouter_upstream_state{stream=\"front\","
	    "state=\"backoff\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "framerouter_upstream_state{stream=\"front\","
	    "state=\"streaming\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "framerouter_upstream_failures_total{stream=\"front\","
	    "reason=\"refused\"} 2\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "framerouter_upstream_attempts_total{stream=\"front\"} 3\n"));
	ck_assert_ptr_null(strstr(text, "framerouter_upstream_last_frame_age_seconds{"));
	ck_assert_ptr_null(strstr(text, "stream=\"pushed\",url"));
	/* Two streams without a frame, the process families, and the pulled one's upstream:
	 * attempts 1, connects 1, failures 7, info 1, states 5 (no frame: no age). */
	ck_assert_uint_eq(check_prometheus_structure(text),
	    STREAM_SAMPLES * 2 + TOP_SAMPLES + 1 + 1 + 7 + 1 + 5);
	free(text);
	s[0].upstream = NULL;
	snap.n_streams = 1;
	text = render_prometheus(&snap);
	ck_assert_ptr_null(strstr(text, "upstream"));
	free(text);

	u.last_frame_age_s = 2;
	fr_stats_format_upstream(line, sizeof line, &u);
	ck_assert_str_eq(line, "state=backoff attempts=3 connects=1 failures_dns=0 "
	    "failures_refused=2 failures_timeout=0 failures_http_status=0 "
	    "failures_bad_content_type=0 failures_bad_response=0 failures_closed=1");
}
END_TEST

START_TEST(test_prometheus_no_streams)
{
	const struct fr_stats_snapshot snap = {.version = "1.2.3", .uptime_s = 7};
	char *text = render_prometheus(&snap);

	ck_assert_uint_eq(check_prometheus_structure(text), TOP_SAMPLES);
	const char *tail = strstr(text, "# HELP framerouter_uptime_seconds");
	ck_assert_ptr_nonnull(tail);
	ck_assert_str_eq(tail,
	    HELP_TYPE("framerouter_uptime_seconds", "gauge", "Seconds since framerouter started.")
	    "framerouter_uptime_seconds 7.000\n"
	    PROCESS_FAMILIES("0")
	    HELP_TYPE("framerouter_build_info", "gauge",
		"Always 1; the version label says which framerouter this is.")
	    "framerouter_build_info{version=\"1.2.3\"} 1\n");
	free(text);
}
END_TEST

/* Many streams: still one HELP/TYPE per family, samples grouped by family. */
START_TEST(test_prometheus_grouping)
{
	static struct fr_stats_stream streams[7];
	static char names[7][8];
	struct fr_stats_snapshot snap = sample;

	for (size_t i = 0; i < 7; i++) {
		streams[i] = sample_streams[i % 2];
		snprintf(names[i], sizeof names[i], "s%zu", i);
		streams[i].name = names[i];
	}
	snap.streams = streams;
	snap.n_streams = 7;
	char *text = render_prometheus(&snap);
	/* Frame age only for the 4 streams with a frame. */
	ck_assert_uint_eq(check_prometheus_structure(text), STREAM_SAMPLES * 7 + 4 + TOP_SAMPLES);
	/* Streams in snapshot order inside each family. */
	const char *a = strstr(text, "framerouter_clients{stream=\"s5\"} 0\n");
	const char *b = strstr(text, "framerouter_clients{stream=\"s6\"} 2\n");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_eq(a + strlen("framerouter_clients{stream=\"s5\"} 0\n"), b);
	free(text);
}
END_TEST

START_TEST(test_prometheus_huge_counters)
{
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, "big");

	memset(&s.counters, 0xff, sizeof s.counters);
	s.latest_bytes = SIZE_MAX;
	s.latest_age_s = 0;
	char *text = render_prometheus(&snap);
	static const char *const lines[] = {
	    "\nframerouter_frames_in_total{stream=\"big\"} 18446744073709551615\n",
	    "\nframerouter_bytes_out_total{stream=\"big\"} 18446744073709551615\n",
	    ("\nframerouter_frames_dropped_total{stream=\"big\",reason=\"truncated\"} "
	     "18446744073709551615\n"),
	    "\nframerouter_producer_connects_total{stream=\"big\"} 18446744073709551615\n",
	    "\nframerouter_latest_frame_bytes{stream=\"big\"} 18446744073709551615\n",
	    "\nframerouter_latest_frame_age_seconds{stream=\"big\"} 0.000\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		ck_assert_msg(strstr(text, lines[i]) != NULL, "no %s", lines[i]);
	free(text);
}
END_TEST

/* Label values escape \, " and newline; anything else goes out as UTF-8 as it is. */
START_TEST(test_prometheus_label_escaping)
{
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, "a\"b\\c\nd\te\r\xc3\xa9\xff\xed\xa0\x80");

	snap.version = "1.0 \"beta\"\\\n";
	char *text = render_prometheus(&snap);
	ck_assert_ptr_nonnull(strstr(text, "\nframerouter_clients{stream=\"a\\\"b\\\\c\\nd\te\r"
					   "\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
					   "\xef\xbf\xbd\"} 0\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "\nframerouter_build_info{version=\"1.0 \\\"beta\\\"\\\\\\n\"} 1\n"));
	/* No raw newline inside a label: every line still parses. */
	ck_assert_uint_eq(check_prometheus_structure(text), STREAM_SAMPLES + TOP_SAMPLES);
	free(text);
}
END_TEST

START_TEST(test_prometheus_doubles)
{
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, "d");

	snap.uptime_s = NAN;
	s.input_fps = INFINITY;
	s.latest_bytes = 1;
	s.latest_age_s = 2.0625;
	char *text = render_prometheus(&snap);
	ck_assert_ptr_nonnull(strstr(text, "\nframerouter_uptime_seconds 0.000\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nframerouter_input_fps{stream=\"d\"} 0.000\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "\nframerouter_latest_frame_age_seconds{stream=\"d\"} 2.062\n"));
	free(text);
}
END_TEST

/* No per-client series: the client peers never reach /metrics. */
START_TEST(test_prometheus_no_clients)
{
	char *text = render_prometheus(&sample);

	ck_assert_ptr_null(strstr(text, "40001"));
	ck_assert_ptr_null(strstr(text, "39999"));
	ck_assert_ptr_null(strstr(text, "peer"));
	free(text);
}
END_TEST

/* ---- the counter table ---- */

/* The struct of scope in the snapshot built by every_counter_snapshot(). */
static struct fr_process_counters every_process;
static struct fr_stats_stream every_stream;
static struct fr_stats_client every_client;
static struct fr_stats_upstream every_upstream;
static struct fr_stats_nats every_nats;

static void *
counters_of(enum fr_counter_scope scope)
{
	switch (scope) {
	case FR_SCOPE_PROCESS:
		return &every_process;
	case FR_SCOPE_STREAM:
		return &every_stream.counters;
	case FR_SCOPE_CLIENT:
		return &every_client.counters;
	case FR_SCOPE_UPSTREAM:
		return &every_upstream.counters;
	case FR_SCOPE_NATS:
		return &every_nats.counters;
	case FR_SCOPES:
		break;
	}
	ck_abort_msg("scope %d", (int)scope);
	return NULL;
}

static size_t
size_of(enum fr_counter_scope scope)
{
	switch (scope) {
	case FR_SCOPE_PROCESS:
		return sizeof every_process;
	case FR_SCOPE_STREAM:
		return sizeof every_stream.counters;
	case FR_SCOPE_CLIENT:
		return sizeof every_client.counters;
	case FR_SCOPE_UPSTREAM:
		return sizeof every_upstream.counters;
	case FR_SCOPE_NATS:
		return sizeof every_nats.counters;
	case FR_SCOPES:
		break;
	}
	ck_abort_msg("scope %d", (int)scope);
	return 0;
}

/* Calls fn for every counter with a value: plain rows and group members. */
static void
each_counter(void (*fn)(const struct fr_counter *group, const struct fr_counter *c, void *arg),
	void *arg)
{
	for (size_t i = 0; i < fr_n_counters; i++) {
		const struct fr_counter *c = &fr_counters[i];

		if (c->members == NULL)
			fn(NULL, c, arg);
		for (size_t m = 0; m < c->n_members; m++)
			fn(c, &c->members[m], arg);
	}
}

static uint64_t *
field_of(const struct fr_counter *c)
{
	return (uint64_t *)((char *)counters_of(c->scope) + c->offset);
}

/* The bytes of c in its struct. */
static size_t
field_size(const struct fr_counter *c)
{
	return c->kind == FR_HISTOGRAM ? sizeof(struct fr_histogram) : sizeof(uint64_t);
}

/*
 * Flags are 1; every other counter gets a value no other has, of the same length. A
 * histogram gets it as its count, all in its first bucket, and a sum of 1.5.
 */
static void
set_distinct(const struct fr_counter *group, const struct fr_counter *c, void *arg)
{
	unsigned *next = arg;
	uint64_t v = c->kind == FR_FLAG ? 1 : 7000000 + 1013 * (*next)++;

	(void)group;
	if (c->kind == FR_HISTOGRAM) {
		struct fr_histogram *h = (struct fr_histogram *)(void *)field_of(c);

		*h = (struct fr_histogram){.buckets = {[0] = v}, .count = v, .sum = 1.5};
		return;
	}
	*field_of(c) = v;
}

/* One stream "s", pulled, with one client, every counter set by set_distinct(). */
static struct fr_stats_snapshot
every_counter_snapshot(void)
{
	unsigned next = 0;

	every_process = (struct fr_process_counters){0};
	every_client = (struct fr_stats_client){.peer = "p", .protocol = "raw"};
	every_upstream = (struct fr_stats_upstream){.url = "tcp://u:1", .state = "streaming",
	    .last_error = "", .last_frame_age_s = -1, .retry_in_s = -1};
	every_stream = (struct fr_stats_stream){.name = "s", .upstream = &every_upstream,
	    .latest_age_s = -1, .n_clients = 1, .clients = &every_client};
	every_nats = (struct fr_stats_nats){
	    .state = "connected", .server = "nats://n:4222", .node_id = "a"};
	each_counter(set_distinct, &next);
	return (struct fr_stats_snapshot){.version = "v",
	    .counters = every_process,
	    .n_streams = 1,
	    .streams = &every_stream,
	    .nats = &every_nats};
}

struct texts {
	char *json, *prom;
	char log[FR_SCOPES][1024]; /* by scope, with a space at each end */
};

static void
assert_in(const char *text, const char *what, const char *name)
{
	ck_assert_msg(strstr(text, what) != NULL, "%s: no %s in %s", name, what, text);
}

/* A histogram set by set_distinct() in every output: count, sum and its buckets. */
static void
assert_histogram_everywhere(const struct fr_counter *c, const struct texts *t)
{
	uint64_t v = ((const struct fr_histogram *)(const void *)field_of(c))->count;
	char want[512];

	ck_assert_uint_gt(c->n_bounds, 0);
	ck_assert_uint_lt(c->n_bounds, FR_HISTOGRAM_MAX_BUCKETS);
	for (size_t i = 1; i < c->n_bounds; i++)
		ck_assert_msg(c->bounds[i - 1] < c->bounds[i], "%s: bounds not ascending", c->name);
	snprintf(want, sizeof want, "\"%s\": {\"count\": %" PRIu64 ", \"sum\": 1.500, "
	    "\"buckets\": {\"%g\": %" PRIu64 ", ", c->name, v, c->bounds[0], v);
	assert_in(t->json, want, c->name);
	snprintf(want, sizeof want, "\"+Inf\": %" PRIu64 "}}", v);
	assert_in(t->json, want, c->name);
	ck_assert_msg(c->scope == FR_SCOPE_STREAM, "%s: histograms are per stream", c->name);
	snprintf(want, sizeof want, "\n# TYPE framerouter_%s histogram\n", c->name);
	assert_in(t->prom, want, c->name);
	snprintf(want, sizeof want, "\nframerouter_%s_bucket{stream=\"s\",le=\"%g\"} %" PRIu64 "\n",
	    c->name, c->bounds[c->n_bounds - 1], v);
	assert_in(t->prom, want, c->name);
	snprintf(want, sizeof want, "\nframerouter_%s_bucket{stream=\"s\",le=\"+Inf\"} %" PRIu64
	    "\nframerouter_%s_sum{stream=\"s\"} 1.500\nframerouter_%s_count{stream=\"s\"} %"
	    PRIu64 "\n", c->name, v, c->name, c->name, v);
	assert_in(t->prom, want, c->name);
	snprintf(want, sizeof want, " %s_count=%" PRIu64 " %s_sum=1.500 ", c->name, v, c->name);
	assert_in(t->log[c->scope], want, c->name);
}

/* Counter c is in the JSON, the Prometheus text (unless per client) and the log line. */
static void
assert_everywhere(const struct fr_counter *group, const struct fr_counter *c, void *arg)
{
	const struct texts *t = arg;
	uint64_t v = *field_of(c);
	char want[512], family[128], labels[128] = "", vt[32];

	/* A counter of nanoseconds shows seconds, everywhere. */
	if (c->is_nanoseconds)
		snprintf(vt, sizeof vt, "%" PRIu64 ".%06" PRIu64, v / 1000000000u,
		    v % 1000000000u / 1000u);
	else
		snprintf(vt, sizeof vt, "%" PRIu64, v);

	if (c->kind == FR_HISTOGRAM) {
		assert_histogram_everywhere(c, t);
		return;
	}
	/* JSON: "name": value, or the member's "key": value inside the group's object. */
	if (group == NULL && c->kind == FR_FLAG)
		snprintf(want, sizeof want, "\"%s\": true", c->name);
	else if (group == NULL)
		snprintf(want, sizeof want, "\"%s\": %s,", c->name, vt);
	else
		snprintf(want, sizeof want, "%s\"%s\": %" PRIu64, c == group->members ? "{" : ", ",
		    c->key, v);
	assert_in(t->json, want, c->name);
	if (group != NULL) {
		snprintf(want, sizeof want, "\"%s\": {", group->name);
		assert_in(t->json, want, c->name);
	}

	/* Prometheus: per client never (its value appears nowhere), else one sample. */
	snprintf(want, sizeof want, " %" PRIu64 "\n", v);
	if (c->scope == FR_SCOPE_CLIENT) {
		ck_assert_msg(strstr(t->prom, want) == NULL, "%s in /metrics", c->name);
	} else {
		const struct fr_counter *f = group ? group : c;
		snprintf(family, sizeof family, "framerouter_%s%s", f->family ? f->family : f->name,
		    f->kind == FR_COUNTER ? "_total" : "");
		snprintf(want, sizeof want, "\n# TYPE %s %s\n", family,
		    f->kind == FR_COUNTER ? "counter" : "gauge");
		assert_in(t->prom, want, c->name);
		bool is_per_stream = c->scope == FR_SCOPE_STREAM || c->scope == FR_SCOPE_UPSTREAM;
		if (is_per_stream && group != NULL)
			snprintf(labels, sizeof labels, "{stream=\"s\",%s=\"%s\"}", group->label,
			    c->key);
		else if (is_per_stream)
			snprintf(labels, sizeof labels, "{stream=\"s\"}");
		else if (group != NULL)
			snprintf(labels, sizeof labels, "{%s=\"%s\"}", group->label, c->key);
		snprintf(want, sizeof want, "\n%s%s %s\n", family, labels, vt);
		assert_in(t->prom, want, c->name);
	}

	/* SIGUSR1: name=value as a word of its scope's line. */
	snprintf(want, sizeof want, " %s=%s ", c->name, vt);
	assert_in(t->log[c->scope], want, c->name);
}

START_TEST(test_table_every_counter_everywhere)
{
	struct fr_stats_snapshot snap = every_counter_snapshot();
	struct texts t = {.json = render_json(&snap), .prom = render_prometheus(&snap)};
	char line[1024 - 2];

	fr_stats_format_process(line, sizeof line, &every_process);
	snprintf(t.log[FR_SCOPE_PROCESS], sizeof t.log[0], " %s ", line);
	fr_stats_format_stream(line, sizeof line, &every_stream.counters);
	snprintf(t.log[FR_SCOPE_STREAM], sizeof t.log[0], " %s ", line);
	fr_stats_format_client(line, sizeof line, &every_client.counters);
	snprintf(t.log[FR_SCOPE_CLIENT], sizeof t.log[0], " %s ", line);
	fr_stats_format_upstream(line, sizeof line, &every_upstream);
	snprintf(t.log[FR_SCOPE_UPSTREAM], sizeof t.log[0], " %s ", line);
	fr_stats_format_nats(line, sizeof line, &every_nats.counters);
	snprintf(t.log[FR_SCOPE_NATS], sizeof t.log[0], " %s ", line);
	each_counter(assert_everywhere, &t);
	/* The families are well formed: one stream, no frame, uptime and build_info. */
	check_prometheus_structure(t.prom);
	ASSERT_PYTHON(t.json, "d['streams']['s']['client_list'][0]['peer'] == 'p'");
	ASSERT_PYTHON(t.json, "d['nats']['state'] == 'connected' and d['nats']['node_id'] == 'a' "
	    "and d['nats']['server'] == 'nats://n:4222' and d['nats']['jetstream'] is False");
	assert_in(t.prom, "\nframerouter_nats_info{state=\"connected\",server=\"nats://n:4222\","
	    "node=\"a\"} 1\n", "nats_info");
	free(t.json);
	free(t.prom);
}
END_TEST

struct census {
	size_t bytes[FR_SCOPES];	/* of the counters, by scope */
	const struct fr_counter *seen[64];
	size_t n_seen;
};

/* Each counter is a distinct, aligned uint64_t field of its struct, with a sane row. */
static void
count_counter(const struct fr_counter *group, const struct fr_counter *c, void *arg)
{
	struct census *cs = arg;

	ck_assert_msg(c->scope < FR_SCOPES, "%s: scope %d", c->name, (int)c->scope);
	ck_assert_msg(c->offset % sizeof(uint64_t) == 0 &&
		c->offset + field_size(c) <= size_of(c->scope),
	    "%s: offset %zu", c->name, c->offset);
	ck_assert_msg((c->kind == FR_HISTOGRAM) == (c->bounds != NULL), "%s: bounds", c->name);
	ck_assert_msg(c->name != NULL && strspn(c->name, "abcdefghijklmnopqrstuvwxyz_") ==
		strlen(c->name) && c->name[0] != '\0', "name %s", c->name);
	ck_assert_msg(c->help != NULL && c->help[0] != '\0', "%s has no help", c->name);
	ck_assert_msg(c->members == NULL, "%s: groups do not nest", c->name);
	ck_assert_msg((group != NULL) == (c->key != NULL), "%s: key %s", c->name, c->key);
	if (group != NULL) {
		ck_assert_msg(c->scope == group->scope && c->kind == group->kind,
		    "%s: not of its group's scope and kind", c->name);
		ck_assert_msg(!c->is_logged_last && c->family == NULL, "%s", c->name);
	}
	for (size_t i = 0; i < cs->n_seen; i++) {
		const struct fr_counter *o = cs->seen[i];
		ck_assert_msg(o->scope != c->scope || (o->offset != c->offset &&
			strcmp(o->name, c->name) != 0), "%s and %s", o->name, c->name);
	}
	ck_assert_uint_lt(cs->n_seen, sizeof cs->seen / sizeof cs->seen[0]);
	cs->seen[cs->n_seen++] = c;
	cs->bytes[c->scope] += field_size(c);
}

START_TEST(test_table_covers_structs)
{
	struct census cs = {0};

	each_counter(count_counter, &cs);
	/* Every field has its row: a field without one would be in no output. */
	for (int scope = FR_SCOPE_PROCESS; scope < FR_SCOPES; scope++)
		ck_assert_msg(cs.bytes[scope] == size_of(scope),
		    "scope %d: rows for %zu bytes of a struct of %zu", scope, cs.bytes[scope],
		    size_of(scope));
	/* Groups: a JSON key, a Prometheus label, members; names unique in their scope. */
	for (size_t i = 0; i < fr_n_counters; i++) {
		const struct fr_counter *g = &fr_counters[i];
		for (size_t k = 0; k < i; k++)
			ck_assert_msg(fr_counters[k].scope != g->scope ||
				strcmp(fr_counters[k].name, g->name) != 0, "%s twice", g->name);
		if (g->members == NULL)
			continue;
		ck_assert_uint_gt(g->n_members, 0);
		ck_assert_msg(g->scope == FR_SCOPE_CLIENT || g->label != NULL, "%s", g->name);
		ck_assert_msg(g->help != NULL && g->help[0] != '\0', "%s", g->name);
		for (size_t m = 0; m < g->n_members; m++)
			for (size_t k = 0; k < m; k++)
				ck_assert_str_ne(g->members[k].key, g->members[m].key);
	}
}
END_TEST

/* Each drop reason bumps its own stream counter, shown under its name. */
START_TEST(test_table_drop_reasons)
{
	static const char *const names[FR_DROP_REASONS] = {
	    [FR_DROP_SLOW_CLIENT] = "slow_client",
	    [FR_DROP_FPS_CAP] = "fps_cap",
	    [FR_DROP_INVALID] = "invalid",
	    [FR_DROP_OVERSIZE] = "oversize",
	    [FR_DROP_TRUNCATED] = "truncated",
	    [FR_DROP_SCALE_INVALID] = "scale_invalid",
	};
	struct fr_stats_stream s;
	struct fr_stats_snapshot snap = one_stream(&s, "d");
	char want[128];

	for (int r = 0; r < FR_DROP_REASONS; r++) {
		ck_assert_str_eq(fr_stats_drop_name(r), names[r]);
		s.counters = (struct fr_stream_counters){0};
		uint64_t *p = fr_stats_drop_counter(&s.counters, r);
		ck_assert_uint_lt((size_t)((char *)p - (char *)&s.counters), sizeof s.counters);
		(*p) += 3;
		/* That reason is 3, the others 0. */
		int n = snprintf(want, sizeof want, "\"dropped\": {");
		for (int k = 0; k < FR_DROP_REASONS; k++)
			n += snprintf(want + n, sizeof want - (size_t)n, "%s\"%s\": %d",
			    k ? ", " : "", names[k], k == r ? 3 : 0);
		snprintf(want + n, sizeof want - (size_t)n, "}, \"garbage_bytes\": 0, ");
		char *text = render_json(&snap);
		assert_in(text, want, names[r]);
		free(text);
		text = render_prometheus(&snap);
		snprintf(want, sizeof want,
		    "\nframerouter_frames_dropped_total{stream=\"d\",reason=\"%s\"} 3\n", names[r]);
		assert_in(text, want, names[r]);
		free(text);
	}
	/* The reasons the ingest reports bump the fields of their name. */
	s.counters = (struct fr_stream_counters){0};
	(*fr_stats_drop_counter(&s.counters, FR_DROP_INVALID))++;
	(*fr_stats_drop_counter(&s.counters, FR_DROP_OVERSIZE)) += 2;
	(*fr_stats_drop_counter(&s.counters, FR_DROP_TRUNCATED)) += 3;
	ck_assert_uint_eq(s.counters.dropped_invalid, 1);
	ck_assert_uint_eq(s.counters.dropped_oversize, 2);
	ck_assert_uint_eq(s.counters.dropped_truncated, 3);
}
END_TEST

/* ---- golden files ---- */

/*
 * Fixed snapshots whose exact /stats, /metrics and SIGUSR1 text is kept in
 * tests/golden/NAME.{json,prom,sigusr1}, so that a change to the formatting shows as a
 * change to those files. FR_GOLDEN_UPDATE=1 in the environment rewrites them from the
 * current code instead of comparing (then review the diff). Every counter has its own
 * value, so a counter printed under another's name shows.
 */
static const struct fr_stats_client golden_default_clients[] = {
	{
	    .peer = "127.0.0.1:40001",
	    .protocol = "raw",
	    .connected_s = 12.5,
	    .counters = {.frames_sent = 2001,
		.frames_dropped = 2002,
		.frames_dropped_fps_cap = 2003,
		.bytes_sent = 2004,
		.frame_age_ms = 2005,
		.frame_age_max_ms = 2006},
	},
	{
	    .peer = "[::1]:40002",
	    .protocol = "http",
	    .connected_s = 3.2499,
	    .counters = {.frames_sent = 2101,
		.frames_dropped = 2102,
		.frames_dropped_fps_cap = 2103,
		.bytes_sent = 2104,
		.frame_age_ms = 2105,
		.frame_age_max_ms = 2106},
	},
	{
	    .peer = "unix:/run/fr/s\"q\\\x01\x7f",
	    .protocol = "http",
	    .connected_s = 0.0004,
	},
};

static const struct fr_stats_client golden_odd_clients[] = {
	{
	    .peer = "peer\nwith a newline \xe6\x97\xa5 \xc3",
	    .protocol = "raw",
	    .connected_s = 86400.125,
	    .counters = {.frames_sent = UINT64_MAX,
		.frames_dropped = 1,
		.frames_dropped_fps_cap = 0,
		.bytes_sent = UINT64_MAX - 1,
		.frame_age_max_ms = UINT64_MAX},
	},
};

/* A pulled stream's upstream in backoff, with an error text that needs escaping. */
static const struct fr_stats_upstream golden_upstream = {
	.url = "http://192.0.2.10:8080/video.mjpg?...",
	.state = "backoff",
	.last_error = "http_status: 503 \"Busy\"\n\xc3",
	.counters = {.attempts = 3001,
	.connects = 3002,
	.failures_dns = 3003,
	.failures_refused = 3004,
	.failures_timeout = 3005,
	.failures_http_status = 3006,
	.failures_bad_content_type = 3007,
	.failures_bad_response = 3008,
	.failures_closed = 3009},
	.last_frame_age_s = 12.0625,
	.retry_in_s = 1.75,
	.is_on_demand = 1,
};

static const struct fr_stats_stream golden_streams[] = {
	{
	    /* A producer, a decoded frame and three clients. */
	    .name = "default",
	    .counters = {.frames_in = 1001,
		.bytes_in = 1002,
		.frames_out = 1003,
		.bytes_out = 1004,
		.dropped_slow_client = 1005,
		.dropped_fps_cap = 1006,
		.dropped_invalid = 1007,
		.dropped_oversize = 1008,
		.dropped_truncated = 1009,
		.garbage_bytes = 1010,
		.clients = 1011,
		.clients_refused = 1012,
		.producer_connects = 1013,
		.producer_connected = 1,
		.frame_age_seconds = {.buckets = {[0] = 1014, [3] = 1015, [11] = 1016},
		    .count = 1014 + 1015 + 1016,
		    .sum = 1017.25}},
	    .producer = "127.0.0.1:39999",
	    .input_fps = 29.97,
	    .latest_bytes = 51234,
	    .latest_width = 1920,
	    .latest_height = 1080,
	    .latest_age_s = 0.0331,
	    .stale_after_s = 10,
	    .n_clients = 3,
	    .clients = golden_default_clients,
	},
	{
	    /* A frame that was not decoded (no --validate), no producer now: pulled, its
	     * upstream away. */
	    .name = "cam.front-2",
	    .counters = {.frames_in = 1101, .bytes_in = 1102, .producer_connects = 3},
	    .upstream = &golden_upstream,
	    .input_fps = 0.5,
	    .latest_bytes = 777,
	    .latest_age_s = 1.5,
	    .stale_after_s = 0.75,
	    .is_stale = 1,
	},
	{
	    /* No frame yet: a size without an age still means none. */
	    .name = "empty_1",
	    .latest_bytes = 77,
	    .latest_age_s = -1,
	},
	{
	    /* A name and a client that need escaping, width without height, huge values. */
	    .name = "w\"e\\i\nrd\t\xc3\xa9\xff",
	    .counters = {.frames_in = UINT64_MAX,
		.bytes_in = UINT64_MAX - 1,
		.dropped_truncated = UINT64_MAX - 2,
		.producer_connected = 1,
		/* Cumulative bucket counts saturate; a sum that is not finite shows as 0. */
		.frame_age_seconds = {.buckets = {[5] = UINT64_MAX, [6] = 3},
		    .count = UINT64_MAX,
		    .sum = INFINITY}},
	    .producer = "[fd00::7]:1\"",
	    .input_fps = NAN,
	    .latest_bytes = SIZE_MAX,
	    .latest_width = 640,
	    .latest_age_s = INFINITY,
	    .n_clients = 1,
	    .clients = golden_odd_clients,
	},
};

static const struct fr_stats_snapshot golden_full = {
	.version = "0.9.1 \"test\"",
	.uptime_s = 3723.4567,
	.counters.connections_denied = 42,
	.n_streams = sizeof golden_streams / sizeof golden_streams[0],
	.streams = golden_streams,
};

static const struct fr_stats_snapshot golden_empty = {.version = "", .uptime_s = -0.0};

/* A node of a federation (--nats): a server URL and a node name that need escaping; it
 * ingests one stream and pulls the other (golden_streams[0] and [1]). */
static const struct fr_stats_nats golden_nats = {
	.state = "reconnecting",
	.server = "nats://10.0.0.7:4222",
	.node_id = "edge \"1\"\\b",
	.jetstream = true,
	.counters = {.connected = 0, .reconnects = 3, .subscriptions = 2, .frames_published = 0,
	    .bytes_published = 0, .frames_received = 9000, .bytes_received = 729000000,
	    .dropped_slow_consumer = 4, .dropped_publish = 1, .dropped_too_large = 0,
	    .dropped_invalid = 5, .dropped_stale = 1, .errors = 2},
};

static const struct fr_stats_snapshot golden_federated = {
	.version = "0.9.1",
	.uptime_s = 60,
	.n_streams = 2,
	.streams = golden_streams,
	.nats = &golden_nats,
};

static const struct {
	const char *name;
	const struct fr_stats_snapshot *snap;
} goldens[] = {
	{"full", &golden_full},
	{"sample", &sample},
	{"empty", &golden_empty},
	{"federated", &golden_federated},
};

/*
 * The SIGUSR1 counter lines of snap (fr_stats_format_process, _nats, _stream, _upstream
 * and _client): the process line, NATS's, then each stream's, its upstream's and each
 * of its clients', each line named here after what it belongs to.
 */
static void
golden_log(struct fr_buf *b, const struct fr_stats_snapshot *snap)
{
	char line[512];

	fr_stats_format_process(line, sizeof line, &snap->counters);
	fr_buf_printf(b, "process: %s\n", line);
	if (snap->nats != NULL) {
		fr_stats_format_nats(line, sizeof line, &snap->nats->counters);
		fr_buf_printf(b, "nats: %s\n", line);
	}
	for (size_t i = 0; i < snap->n_streams; i++) {
		const struct fr_stats_stream *s = &snap->streams[i];

		fr_stats_format_stream(line, sizeof line, &s->counters);
		fr_buf_printf(b, "stream %zu: %s\n", i, line);
		if (s->upstream != NULL) {
			fr_stats_format_upstream(line, sizeof line, s->upstream);
			fr_buf_printf(b, "stream %zu upstream: %s\n", i, line);
		}
		for (size_t k = 0; k < s->n_clients; k++) {
			fr_stats_format_client(line, sizeof line, &s->clients[k].counters);
			fr_buf_printf(b, "stream %zu client %zu: %s\n", i, k, line);
		}
	}
}

/* The whole file at path, NUL-terminated, in *len bytes; NULL if it cannot be read. */
static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL) {
			*len = fread(p, 1, (size_t)n, f);
			p[*len] = '\0';
		}
	}
	fclose(f);
	return p;
}

/* text must be byte for byte the golden file NAME.EXT (or becomes it, when updating). */
static void
assert_golden(const char *name, const char *ext, const char *text)
{
	char path[512];
	size_t len = 0;

	snprintf(path, sizeof path, "%s/%s.%s", FR_GOLDEN_DIR, name, ext);
	const char *update = getenv("FR_GOLDEN_UPDATE");
	if (update != NULL && strcmp(update, "1") == 0) {
		FILE *f = fopen(path, "wb");
		ck_assert_msg(f != NULL, "cannot write %s", path);
		ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
		ck_assert_int_eq(fclose(f), 0);
		fprintf(stderr, "check_stats: wrote %s\n", path);
	}
	char *want = read_file(path, &len);
	ck_assert_msg(want != NULL, "cannot read %s", path);
	/* The first difference, so that a failure says where. */
	size_t at = 0;
	while (at < len && text[at] == want[at])
		at++;
	ck_assert_msg(at == len && text[at] == '\0',
	    "%s differs from the output at byte %zu:\n  file:   %.60s\n  output: %.60s", path, at,
	    want + (at < len ? at : len), text + at);
	free(want);
}

START_TEST(test_golden)
{
	const struct fr_stats_snapshot *snap = goldens[_i].snap;
	const char *name = goldens[_i].name;
	struct fr_buf b;

	char *text = render_json(snap);
	assert_golden(name, "json", text);
	free(text);
	text = render_prometheus(snap);
	assert_golden(name, "prom", text);
	free(text);
	fr_buf_init(&b);
	golden_log(&b, snap);
	ck_assert_int_eq(b.has_failed, 0);
	assert_golden(name, "sigusr1", b.data);
	fr_buf_fini(&b);
}
END_TEST

/* The golden "sample" files hold exactly what the tests above spell out. */
START_TEST(test_golden_sample_agrees)
{
	char path[512];
	size_t len = 0;

	snprintf(path, sizeof path, "%s/sample.json", FR_GOLDEN_DIR);
	char *text = read_file(path, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, sample_json);
	free(text);
	snprintf(path, sizeof path, "%s/sample.prom", FR_GOLDEN_DIR);
	text = read_file(path, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, sample_prometheus);
	free(text);
}
END_TEST

/* ---- the suite ---- */

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc;

	tc = fr_tcase(s, "alloc_failure", FR_TESTS(test_buf_formats_fail_cleanly));
	tcase_add_checked_fixture(tc, NULL, alloc_reset);
	tcase_set_timeout(tc, 60);

	fr_tcase(s, "log_lines", FR_TESTS(test_log_stream_line, test_log_client_line,
	    test_log_lines_fit));

	tc = fr_tcase(s, "json", FR_TESTS(test_json_sample, test_json_no_streams,
	    test_json_huge_counters, test_json_doubles, test_json_latest_frame,
	    test_json_escaping_decodes, test_json_null_strings));
	tcase_add_loop_test(tc, test_json_escaping, 0,
	    (int)(sizeof json_strings / sizeof json_strings[0]));
	tcase_set_timeout(tc, 60);

	fr_tcase(s, "prometheus", FR_TESTS(test_prometheus_sample, test_upstream,
	    test_prometheus_no_streams, test_prometheus_grouping, test_prometheus_huge_counters,
	    test_prometheus_label_escaping, test_prometheus_doubles, test_prometheus_no_clients));

	fr_tcase(s, "table", FR_TESTS(test_table_every_counter_everywhere,
	    test_table_covers_structs, test_table_drop_reasons));

	tc = fr_tcase(s, "golden", FR_TESTS(test_golden_sample_agrees));
	tcase_add_loop_test(tc, test_golden, 0, (int)(sizeof goldens / sizeof goldens[0]));
	return s;
}

int
main(void)
{
	return fr_run_suite(stats_suite());
}
