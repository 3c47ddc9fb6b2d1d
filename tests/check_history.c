/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the history ring (history.c): counters become growth per second and
 * gauges stay levels, late readings are spread over the seconds they cover, the ring
 * keeps the last FR_HISTORY_SECONDS, values saturate, and the JSON is exact. Then the
 * registry's sampler over 64 streams for ten simulated hours: it never allocates
 * (malloc, calloc and realloc are wrapped and counted) and the process's resident
 * memory does not grow.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "fr/defer.h"
#include "fr/history.h"
#include "fr/log.h"
#include "fr/registry.h"

#include "suite.h"

/* ---- allocations, counted while counting is on (linked with --wrap) ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static bool is_counting;
static uint64_t allocations;

void *
__wrap_malloc(size_t n)
{
	allocations += is_counting;
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	allocations += is_counting;
	return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	allocations += is_counting;
	return __real_realloc(p, n);
}

/* ---- helpers ---- */

static struct fr_history h;

/* A reading with every counter total at total and the gauges as given. */
static struct fr_history_reading
reading(uint64_t total, uint64_t clients, uint64_t age_ms)
{
	struct fr_history_reading r;

	for (size_t c = 0; c < FR_HISTORY_COLUMNS; c++)
		r.v[c] = total;
	r.v[FR_HISTORY_CLIENTS] = clients;
	r.v[FR_HISTORY_OLDEST_AGE_MS] = age_ms;
	return r;
}

static const struct fr_history_sample *
sample(uint64_t i)
{
	const struct fr_history_sample *s = fr_history_sample(&h, i);

	ck_assert_msg(s != NULL, "sample %llu is not held", (unsigned long long)i);
	return s;
}

static void
assert_sample(uint64_t i, uint32_t grew, uint32_t clients, uint32_t age_ms)
{
	const struct fr_history_sample *s = sample(i);

	for (size_t c = 0; c < FR_HISTORY_COLUMNS; c++) {
		uint32_t want = c == FR_HISTORY_CLIENTS ? clients :
		    c == FR_HISTORY_OLDEST_AGE_MS ? age_ms : grew;

		ck_assert_msg(s->v[c] == want, "sample %llu column %zu is %u, expected %u",
		    (unsigned long long)i, c, s->v[c], want);
	}
}

static char *
json(uint64_t since)
{
	static struct fr_buf b;

	fr_buf_fini(&b);
	fr_history_format_json(&b, &h, since);
	ck_assert(!b.has_failed);
	return b.data;
}

/* ---- the ring ---- */

/* Readings every second, as the registry's timer takes them. */
static void
record(uint64_t total, uint64_t clients, uint64_t age_ms, double at, uint64_t k)
{
	struct fr_history_reading r = reading(total, clients, age_ms);

	fr_history_record(&h, &r, at, k);
}

START_TEST(test_steps)
{
	ck_assert_uint_eq(fr_history_steps(0), 0);
	ck_assert_uint_eq(fr_history_steps(0.49), 0);
	ck_assert_uint_eq(fr_history_steps(0.5), 1);
	ck_assert_uint_eq(fr_history_steps(1.02), 1);
	ck_assert_uint_eq(fr_history_steps(1.49), 1);
	ck_assert_uint_eq(fr_history_steps(3.2), 3);
	ck_assert_uint_eq(fr_history_steps(-5), 0);
	ck_assert_uint_eq(fr_history_steps(0.0 / 0.0), 0);
	ck_assert_uint_eq(fr_history_steps(1e300), 1000000000000000ull);
}
END_TEST

START_TEST(test_counters_and_gauges)
{
	fr_history_init(&h, 40);
	ck_assert_uint_eq(h.next, 40);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_ptr_null(fr_history_sample(&h, 39));
	ck_assert_ptr_null(fr_history_sample(&h, 40));
	record(7, 2, 40, 101, 1);
	assert_sample(40, 7, 2, 40);
	record(12, 3, FR_HISTORY_NONE, 102, 1);
	assert_sample(41, 5, 3, UINT32_MAX);
	/* A total that went down (it never should) grew by nothing. */
	record(10, 0, 0, 103, 1);
	assert_sample(42, 0, 0, 0);
	ck_assert_ptr_null(fr_history_sample(&h, 43));
	ck_assert_ptr_null(fr_history_sample(&h, 39));
	ck_assert_uint_eq(h.n, 3);
	ck_assert(h.last_at == 103);
}
END_TEST

/* A timer that came late: three samples, the growth spread, gauges repeated. */
START_TEST(test_late_reading)
{
	fr_history_init(&h, 0);
	record(10, 4, 1500, 3.2, 3);
	assert_sample(0, 3, 4, 1500);
	assert_sample(1, 3, 4, 1500);
	assert_sample(2, 4, 4, 1500);
	/* A day late (a suspended machine): the newest ring's worth, numbered on, with
	 * the growth a day's share per second. */
	record(10 + 86400ull * 3 + 1, 1, 0, 3.2 + 86400, 86400);
	ck_assert_uint_eq(h.next, 3 + 86400);
	ck_assert_uint_eq(h.n, FR_HISTORY_SECONDS);
	ck_assert_ptr_null(fr_history_sample(&h, h.next - FR_HISTORY_SECONDS - 1));
	assert_sample(h.next - FR_HISTORY_SECONDS, 3, 1, 0);
	assert_sample(h.next - 2, 3, 1, 0);
	assert_sample(h.next - 1, 4, 1, 0);
}
END_TEST

/* The ring keeps the last FR_HISTORY_SECONDS samples, numbered on. */
START_TEST(test_wrap)
{
	fr_history_init(&h, 0);
	for (uint64_t t = 1; t <= FR_HISTORY_SECONDS + 100; t++)
		record(t * (t + 1) / 2, t, t, (double)t, 1);	/* grows by t */
	ck_assert_uint_eq(h.next, FR_HISTORY_SECONDS + 100);
	ck_assert_uint_eq(h.n, FR_HISTORY_SECONDS);
	ck_assert_ptr_null(fr_history_sample(&h, 99));
	assert_sample(100, 101, 101, 101);
	assert_sample(h.next - 1, FR_HISTORY_SECONDS + 100, FR_HISTORY_SECONDS + 100,
	    FR_HISTORY_SECONDS + 100);
	ck_assert_ptr_null(fr_history_sample(&h, h.next));
	/* The JSON holds the held ones, oldest first. */
	char *text = json(0);
	ck_assert_ptr_nonnull(strstr(text, "{\"first\": 100, \"next\": 700, \"at\": 700.000, "
	    "\"input_fps\": [101,102,103,"));
	ck_assert_ptr_nonnull(strstr(text, ",698,699,700], \"bytes_in\": [101,"));
}
END_TEST

/* Beyond 32 bits a value saturates; "none" stays apart from every number. */
START_TEST(test_saturation)
{
	fr_history_init(&h, 0);
	record(5000000000ull, UINT32_MAX, UINT32_MAX, 1, 1);
	assert_sample(0, UINT32_MAX - 1, UINT32_MAX - 1, UINT32_MAX - 1);
	record(5000000001ull, 0, 1, 2, 1);
	assert_sample(1, 1, 0, 1);
}
END_TEST

START_TEST(test_json)
{
	fr_history_init(&h, 0);
	ck_assert_str_eq(json(0), "{\"first\": 0, \"next\": 0, \"at\": 0.000, \"input_fps\": [], "
	    "\"bytes_in\": [], \"frames_out\": [], \"dropped\": {\"slow_client\": [], \"fps_cap\": "
	    "[], \"invalid\": [], \"oversize\": [], \"truncated\": [], \"scale_invalid\": []}, "
	    "\"clients\": [], "
	    "\"oldest_frame_age_s\": []}");
	struct fr_history_reading r = { .v = {
		[FR_HISTORY_FRAMES_IN] = 30, [FR_HISTORY_BYTES_IN] = 1500000,
		[FR_HISTORY_FRAMES_OUT] = 60,
		[FR_HISTORY_DROPPED + FR_DROP_SLOW_CLIENT] = 1,
		[FR_HISTORY_DROPPED + FR_DROP_FPS_CAP] = 2,
		[FR_HISTORY_DROPPED + FR_DROP_INVALID] = 3,
		[FR_HISTORY_DROPPED + FR_DROP_OVERSIZE] = 4,
		[FR_HISTORY_DROPPED + FR_DROP_TRUNCATED] = 5,
		[FR_HISTORY_DROPPED + FR_DROP_SCALE_INVALID] = 6,
		[FR_HISTORY_CLIENTS] = 2, [FR_HISTORY_OLDEST_AGE_MS] = 1234,
	} };
	fr_history_record(&h, &r, 1001.0004, 1);
	r.v[FR_HISTORY_FRAMES_IN] = 59;
	r.v[FR_HISTORY_OLDEST_AGE_MS] = FR_HISTORY_NONE;
	fr_history_record(&h, &r, 1002.25, 1);
	ck_assert_str_eq(json(0), "{\"first\": 0, \"next\": 2, \"at\": 1002.250, \"input_fps\": "
	    "[30,29], \"bytes_in\": [1500000,0], \"frames_out\": [60,0], \"dropped\": "
	    "{\"slow_client\": [1,0], \"fps_cap\": [2,0], \"invalid\": [3,0], \"oversize\": [4,0], "
	    "\"truncated\": [5,0], \"scale_invalid\": [6,0]}, \"clients\": [2,2], "
	    "\"oldest_frame_age_s\": [1.234,null]}");
	/* since: from that sample on; past the end, none (first is next). */
	ck_assert_ptr_nonnull(strstr(json(1), "{\"first\": 1, \"next\": 2, \"at\": 1002.250, "
	    "\"input_fps\": [29], "));
	ck_assert_ptr_nonnull(strstr(json(2), "{\"first\": 2, \"next\": 2, \"at\": 1002.250, "
	    "\"input_fps\": [], "));
	ck_assert_ptr_nonnull(strstr(json(UINT64_MAX), "{\"first\": 2, \"next\": 2, "));
}
END_TEST

/* ---- the registry's sampler: fixed memory ---- */

/* VmRSS of this process, in KiB. */
static long
rss_kib(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	ck_assert_int_gt(kib, 0);
	return kib;
}

enum { N_STREAMS = 64, HOURS = 10 };

START_TEST(test_sampler_fixed_memory)
{
	struct fr_ingest_params params = { .max_frame_bytes = 1 << 20 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fr_registry_entry *e[N_STREAMS];
	char name[16], err[FR_ERR_LEN];

	fr_log_set_level(FR_LOG_ERROR);
	fr_defer_init(loop);
	struct fr_registry *reg = fr_registry_new(loop, &params, N_STREAMS);
	for (int i = 0; i < N_STREAMS; i++) {
		snprintf(name, sizeof name, "cam%d", i);
		ck_assert_int_eq(fr_registry_add(reg, name, true, &e[i], err), FR_REGISTRY_OK);
	}
	double t0 = ev_now(loop);

	/* Ten minutes first, so that every ring has been written whole (the registry
	 * started at t0 or a moment before: each tick is one sample). */
	uint64_t t = 1;
	for (; t <= FR_HISTORY_SECONDS + 10; t++)
		fr_registry_sample_history(reg, t0 + (double)t);
	/* The wrapping counts what the library allocates: one buffer, one allocation. */
	struct fr_buf b;
	fr_buf_init(&b);
	allocations = 0;
	is_counting = true;
	fr_buf_printf(&b, "%d", 1);
	is_counting = false;	/* Check itself may allocate in its asserts */
	ck_assert_uint_eq(allocations, 1);
	fr_buf_fini(&b);
	long before = rss_kib();
	allocations = 0;
	is_counting = true;
	for (; t <= HOURS * 3600; t++) {
		/* Traffic on some streams, so that the samples are not all alike. */
		e[t % N_STREAMS]->stream->counters.frames_in += t % 31;
		e[t % N_STREAMS]->stream->counters.bytes_in += t * 1000;
		fr_registry_sample_history(reg, t0 + (double)t);
	}
	is_counting = false;
	long after = rss_kib();
	ck_assert_msg(allocations == 0, "%llu allocations while sampling",
	    (unsigned long long)allocations);
	/* A sample that kept even 16 bytes would add 35 MB here; 1 MiB leaves room for
	 * what valgrind's own translations take under CK_FORK=no. */
	ck_assert_msg(after - before <= 1024, "VmRSS grew from %ld to %ld KiB over %d simulated "
	    "hours of %d streams", before, after, HOURS, N_STREAMS);
	for (int i = 0; i < N_STREAMS; i++) {
		ck_assert_uint_eq(e[i]->history->next, HOURS * 3600);
		ck_assert(e[i]->history->last_at == t0 + HOURS * 3600);
		ck_assert_uint_eq(e[i]->history->n, FR_HISTORY_SECONDS);
	}
	/* The last second's traffic went to cam32 (36000 % 64): 36000 % 31 frames. */
	const struct fr_history_sample *last = fr_history_sample(e[32]->history,
	    HOURS * 3600 - 1);
	ck_assert_ptr_nonnull(last);
	ck_assert_uint_eq(last->v[FR_HISTORY_FRAMES_IN], 9);
	ck_assert_uint_eq(last->v[FR_HISTORY_BYTES_IN], 36000000);
	ck_assert_uint_eq(fr_history_sample(e[31]->history, HOURS * 3600 - 1)->v[
	    FR_HISTORY_FRAMES_IN], 0);
	fr_registry_free(reg);
	fr_defer_fini();
	ev_loop_destroy(loop);
}
END_TEST

static Suite *
history_suite(void)
{
	Suite *s = suite_create("history");

	fr_tcase(s, "ring", FR_TESTS(test_steps, test_counters_and_gauges, test_late_reading,
	    test_wrap, test_saturation, test_json));

	TCase *tc = fr_tcase(s, "sampler", FR_TESTS(test_sampler_fixed_memory));

	tcase_set_timeout(tc, 120);
	return s;
}

int
main(void)
{
	return fr_run_suite(history_suite());
}
