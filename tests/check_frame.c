/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for reference-counted frames: what _new sets up, what _grow keeps, what
 * _seal fixes, how _ref and _unref count, and (test builds) that the Nth allocation can
 * be made to fail. Broken contracts (sealing twice, growing a shared frame) must abort.
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fr/frame.h"

#include "suite.h"

#ifndef FR_TESTING
#error "build with -DFR_TESTING: the alloc tests need fr_frame_fail_alloc_after()"
#endif

static void
fill_pattern(struct fr_frame *f, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		f->data[i] = (uint8_t)(seed + i * 7);
}

/* 1 if the first n data bytes still hold fill_pattern(seed). */
static int
has_pattern(const struct fr_frame *f, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (f->data[i] != (uint8_t)(seed + i * 7))
			return 0;
	return 1;
}

/* No test may leave a pending failure behind (CK_FORK=no runs them in one process). */
static void
alloc_reset(void)
{
	fr_frame_fail_alloc_after(0);
}

/* ---- lifecycle: new, seal, ref, unref ---- */

START_TEST(test_new_is_writable_and_zeroed)
{
	/* Leave stale values behind: malloc tends to hand the same block out again. */
	struct fr_frame *old = fr_frame_new(100);
	ck_assert_ptr_nonnull(old);
	old->seq = 7;
	old->received_at = 7;
	old->width = old->height = 7;
	old->len = 7;
	old->is_sealed = 7;
	fr_frame_unref(old);

	struct fr_frame *f = fr_frame_new(100);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert_int_eq(f->is_sealed, 0);
	ck_assert_uint_eq(f->len, 0);
	ck_assert_uint_eq(f->cap, 100);
	ck_assert_uint_eq(f->seq, 0);
	ck_assert(f->received_at == 0);
	ck_assert_int_eq(f->width, 0);
	ck_assert_int_eq(f->height, 0);
	/* All cap bytes belong to the frame (the sanitizers and valgrind check the ends). */
	fill_pattern(f, f->cap, 1);
	ck_assert(has_pattern(f, f->cap, 1));
	fr_frame_unref(f);
}
END_TEST

START_TEST(test_new_zero_cap)
{
	struct fr_frame *f = fr_frame_new(0);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->cap, 0);
	ck_assert_uint_eq(f->refs, 1);
	fr_frame_seal(f, 0);
	ck_assert_int_eq(f->is_sealed, 1);
	ck_assert_uint_eq(f->len, 0);
	fr_frame_unref(f);
}
END_TEST

START_TEST(test_seal_sets_len)
{
	static const uint8_t jpeg[] = { 0xff, 0xd8, 0xff, 0xd9 };
	struct fr_frame *f = fr_frame_new(64);

	ck_assert_ptr_nonnull(f);
	memcpy(f->data, jpeg, sizeof jpeg);
	fr_frame_seal(f, sizeof jpeg);
	ck_assert_int_eq(f->is_sealed, 1);
	ck_assert_uint_eq(f->len, sizeof jpeg);
	ck_assert_uint_eq(f->cap, 64);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert_mem_eq(f->data, jpeg, sizeof jpeg);
	fr_frame_unref(f);

	/* Sealing at exactly cap is allowed. */
	f = fr_frame_new(sizeof jpeg);
	ck_assert_ptr_nonnull(f);
	memcpy(f->data, jpeg, sizeof jpeg);
	fr_frame_seal(f, f->cap);
	ck_assert_uint_eq(f->len, sizeof jpeg);
	ck_assert_mem_eq(f->data, jpeg, sizeof jpeg);
	fr_frame_unref(f);
}
END_TEST

START_TEST(test_ref_counts)
{
	struct fr_frame *f = fr_frame_new(32);

	ck_assert_ptr_nonnull(f);
	fill_pattern(f, 32, 9);
	fr_frame_seal(f, 32);

	/* The latest slot and two subscribers share it. */
	ck_assert_ptr_eq(fr_frame_ref(f), f);
	ck_assert_uint_eq(f->refs, 2);
	ck_assert_ptr_eq(fr_frame_ref(f), f);
	ck_assert_uint_eq(f->refs, 3);
	fr_frame_unref(f);
	ck_assert_uint_eq(f->refs, 2);
	/* Still alive and unchanged for the remaining holders. */
	ck_assert(has_pattern(f, 32, 9));
	ck_assert_uint_eq(f->len, 32);
	fr_frame_unref(f);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert(has_pattern(f, 32, 9));
	/* The last unref frees it; ASan and valgrind report a leak otherwise. */
	fr_frame_unref(f);
}
END_TEST

START_TEST(test_unref_null)
{
	fr_frame_unref(NULL);
}
END_TEST

/* An unsealed frame can be shared too (the builder keeps its reference). */
START_TEST(test_ref_unsealed)
{
	struct fr_frame *f = fr_frame_new(8);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_eq(fr_frame_ref(f), f);
	ck_assert_int_eq(f->is_sealed, 0);
	ck_assert_uint_eq(f->refs, 2);
	fr_frame_unref(f);
	fr_frame_seal(f, 0);
	fr_frame_unref(f);
}
END_TEST

/* ---- grow ---- */

START_TEST(test_grow_keeps_bytes_and_header)
{
	struct fr_frame *f = fr_frame_new(16);

	ck_assert_ptr_nonnull(f);
	fill_pattern(f, 16, 3);
	f->seq = 42;
	f->received_at = 1.5;
	f->width = 320;
	f->height = 240;

	struct fr_frame *g = fr_frame_grow(f, 4096);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->cap, 4096);
	ck_assert_uint_eq(g->refs, 1);
	ck_assert_int_eq(g->is_sealed, 0);
	ck_assert_uint_eq(g->len, 0);
	ck_assert_uint_eq(g->seq, 42);
	ck_assert(g->received_at == 1.5);
	ck_assert_int_eq(g->width, 320);
	ck_assert_int_eq(g->height, 240);
	ck_assert(has_pattern(g, 16, 3));
	/* The new room is the frame's. */
	fill_pattern(g, 4096, 3);
	fr_frame_seal(g, 4096);
	ck_assert(has_pattern(g, 4096, 3));
	fr_frame_unref(g);
}
END_TEST

START_TEST(test_grow_same_cap)
{
	struct fr_frame *f = fr_frame_new(10);

	ck_assert_ptr_nonnull(f);
	fill_pattern(f, 10, 5);
	f = fr_frame_grow(f, 10);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->cap, 10);
	ck_assert(has_pattern(f, 10, 5));
	fr_frame_unref(f);
}
END_TEST

/* The ingest doubles as a frame arrives; every byte read so far must survive each move. */
START_TEST(test_grow_repeatedly)
{
	struct fr_frame *f = fr_frame_new(1);

	ck_assert_ptr_nonnull(f);
	f->data[0] = 0xff;
	size_t used = 1;
	while (f->cap < (1u << 20)) {
		struct fr_frame *g = fr_frame_grow(f, 2 * f->cap);

		ck_assert_ptr_nonnull(g);
		f = g;
		fill_pattern(f, f->cap, 0xff);
		used = f->cap;
	}
	ck_assert_uint_eq(f->cap, 1u << 20);
	fr_frame_seal(f, used);
	ck_assert_uint_eq(f->len, 1u << 20);
	ck_assert(has_pattern(f, used, 0xff));
	fr_frame_unref(f);
}
END_TEST

/* ---- alloc: test builds can fail the Nth allocation ---- */

START_TEST(test_alloc_first_fails_once)
{
	fr_frame_fail_alloc_after(1);
	ck_assert_ptr_null(fr_frame_new(16));

	/* The failure is one-shot: the next allocation succeeds. */
	struct fr_frame *f = fr_frame_new(16);
	ck_assert_ptr_nonnull(f);
	fr_frame_unref(f);
}
END_TEST

START_TEST(test_alloc_nth_fails)
{
	struct fr_frame *f[4];

	fr_frame_fail_alloc_after(3);
	f[0] = fr_frame_new(8);
	f[1] = fr_frame_new(8);
	f[2] = fr_frame_new(8);
	f[3] = fr_frame_new(8);
	ck_assert_ptr_nonnull(f[0]);
	ck_assert_ptr_nonnull(f[1]);
	ck_assert_ptr_null(f[2]);
	ck_assert_ptr_nonnull(f[3]);
	for (size_t i = 0; i < 4; i++)
		fr_frame_unref(f[i]);
}
END_TEST

/* Growing counts as an allocation; a failed grow leaves the frame as it was. */
START_TEST(test_alloc_grow_fails)
{
	fr_frame_fail_alloc_after(2);
	struct fr_frame *f = fr_frame_new(16);
	ck_assert_ptr_nonnull(f);
	fill_pattern(f, 16, 11);

	ck_assert_ptr_null(fr_frame_grow(f, 1024));
	ck_assert_uint_eq(f->cap, 16);
	ck_assert_uint_eq(f->refs, 1);
	ck_assert_int_eq(f->is_sealed, 0);
	ck_assert(has_pattern(f, 16, 11));

	/* The builder can retry, or seal what it has. */
	struct fr_frame *g = fr_frame_grow(f, 1024);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->cap, 1024);
	ck_assert(has_pattern(g, 16, 11));
	fr_frame_seal(g, 16);
	fr_frame_unref(g);
}
END_TEST

START_TEST(test_alloc_zero_disables)
{
	fr_frame_fail_alloc_after(2);
	fr_frame_fail_alloc_after(0);
	for (int i = 0; i < 10; i++) {
		struct fr_frame *f = fr_frame_new(4);

		ck_assert_ptr_nonnull(f);
		fr_frame_unref(f);
	}
}
END_TEST

/* Failing allocations do not disturb frames that already exist. */
START_TEST(test_alloc_failure_leaves_others)
{
	struct fr_frame *a = fr_frame_new(4);

	ck_assert_ptr_nonnull(a);
	fill_pattern(a, 4, 21);
	fr_frame_seal(a, 4);
	fr_frame_ref(a);
	fr_frame_fail_alloc_after(1);
	ck_assert_ptr_null(fr_frame_new(4));
	ck_assert_uint_eq(a->refs, 2);
	ck_assert(has_pattern(a, 4, 21));
	fr_frame_unref(a);
	fr_frame_unref(a);
}
END_TEST

/*
 * A capacity larger than any object can be (past PTRDIFF_MAX, up to where header + bytes
 * would overflow size_t) is ENOMEM, not a small block with a huge cap (which the builder
 * would then write past).
 */
START_TEST(test_alloc_cap_overflow)
{
	const size_t caps[] = { SIZE_MAX, SIZE_MAX - sizeof(struct fr_frame) + 1,
		(size_t)PTRDIFF_MAX + 1 };

	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		ck_assert_ptr_null(fr_frame_new(caps[i]));

	struct fr_frame *f = fr_frame_new(16);
	ck_assert_ptr_nonnull(f);
	fill_pattern(f, 16, 13);
	ck_assert_ptr_null(fr_frame_grow(f, SIZE_MAX));
	ck_assert_uint_eq(f->cap, 16);
	ck_assert(has_pattern(f, 16, 13));
	fr_frame_unref(f);
}
END_TEST

/* ---- contract: misuse aborts (only with CK_FORK, where a test may die) ---- */

START_TEST(test_seal_twice_aborts)
{
	struct fr_frame *f = fr_frame_new(4);

	fr_frame_seal(f, 4);
	fr_frame_seal(f, 4);
}
END_TEST

START_TEST(test_seal_past_cap_aborts)
{
	struct fr_frame *f = fr_frame_new(4);

	fr_frame_seal(f, 5);
}
END_TEST

START_TEST(test_grow_sealed_aborts)
{
	struct fr_frame *f = fr_frame_new(4);

	fr_frame_seal(f, 4);
	fr_frame_grow(f, 8);
}
END_TEST

START_TEST(test_grow_shared_aborts)
{
	struct fr_frame *f = fr_frame_new(4);

	fr_frame_ref(f);
	fr_frame_grow(f, 8);
}
END_TEST

START_TEST(test_grow_smaller_aborts)
{
	struct fr_frame *f = fr_frame_new(8);

	fr_frame_grow(f, 4);
}
END_TEST

/* ---- pools ---- */

/* A frame that comes back is handed out again, buffer and all, as new: one
 * reference, unsealed, empty, no arena; only its capacity remains. */
START_TEST(test_pool_reuses)
{
	struct fr_frame_pool *pool = fr_frame_pool_new(2);

	ck_assert_ptr_nonnull(pool);
	struct fr_frame *f = fr_frame_pool_get(pool, 1000);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->cap, 1000);
	uint8_t *buf = f->data;
	memset(buf, 0xab, 1000);
	f->width = 640;
	fr_frame_seal(f, 1000);
	f->seq = 9;
	fr_frame_ref(f);
	fr_frame_unref(f);
	fr_frame_unref(f);
	struct fr_frame *g = fr_frame_pool_get(pool, 500);
	ck_assert_ptr_eq(g, f);
	ck_assert_ptr_eq(g->data, buf);
	ck_assert_uint_eq(g->cap, 1000);
	ck_assert_uint_eq(g->refs, 1);
	ck_assert(!g->is_sealed);
	ck_assert_uint_eq(g->len, 0);
	ck_assert_uint_eq(g->seq, 0);
	ck_assert_int_eq(g->width, 0);
	ck_assert_ptr_null(g->arena);
	/* Too small for what is asked: grown. */
	fr_frame_unref(g);
	g = fr_frame_pool_get(pool, 5000);
	ck_assert_ptr_eq(g, f);
	ck_assert_uint_eq(g->cap, 5000);
	fr_frame_unref(g);
	fr_frame_pool_free(pool);
}
END_TEST

/* It keeps at most keep frames; the rest are freed as they come back (valgrind and
 * ASan see every one of them freed). */
START_TEST(test_pool_keeps_at_most)
{
	struct fr_frame_pool *pool = fr_frame_pool_new(2);
	struct fr_frame *f[4];

	ck_assert_ptr_nonnull(pool);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(f[i] = fr_frame_pool_get(pool, 100));
	for (int i = 0; i < 4; i++)
		fr_frame_unref(f[i]);
	struct fr_frame *a = fr_frame_pool_get(pool, 100), *b = fr_frame_pool_get(pool, 100);
	ck_assert(a == f[0] || a == f[1]);
	ck_assert(b == f[0] || b == f[1]);
	fr_frame_unref(a);
	fr_frame_unref(b);
	fr_frame_pool_free(pool);
}
END_TEST

/* The owner lets go while frames are out: they are freed when they come back. */
START_TEST(test_pool_outlives_owner)
{
	struct fr_frame_pool *pool = fr_frame_pool_new(4);

	ck_assert_ptr_nonnull(pool);
	struct fr_frame *f = fr_frame_pool_get(pool, 100);
	fr_frame_seal(f, 10);
	fr_frame_pool_free(pool);
	f->data[0] = 1;
	fr_frame_unref(f);
	fr_frame_pool_free(NULL);
}
END_TEST

/* A frame that cannot be grown stays in the pool for a smaller request. */
START_TEST(test_pool_grow_fails)
{
	struct fr_frame_pool *pool = fr_frame_pool_new(1);

	ck_assert_ptr_nonnull(pool);
	struct fr_frame *f = fr_frame_pool_get(pool, 100);
	fr_frame_unref(f);
	fr_frame_fail_alloc_after(1);
	ck_assert_ptr_null(fr_frame_pool_get(pool, 1000));
	ck_assert_ptr_eq(fr_frame_pool_get(pool, 100), f);
	fr_frame_unref(f);
	fr_frame_pool_free(pool);
}
END_TEST

static Suite *
frame_suite(int can_die)
{
	Suite *s = suite_create("frame");
	TCase *tc;

	fr_tcase(s, "lifecycle", FR_TESTS(test_new_is_writable_and_zeroed, test_new_zero_cap,
	    test_seal_sets_len, test_ref_counts, test_unref_null, test_ref_unsealed));

	fr_tcase(s, "grow", FR_TESTS(test_grow_keeps_bytes_and_header, test_grow_same_cap,
	    test_grow_repeatedly));

	tc = fr_tcase(s, "pool", FR_TESTS(test_pool_reuses, test_pool_keeps_at_most,
	    test_pool_outlives_owner, test_pool_grow_fails));
	tcase_add_checked_fixture(tc, alloc_reset, alloc_reset);

	tc = fr_tcase(s, "alloc", FR_TESTS(test_alloc_first_fails_once, test_alloc_nth_fails,
	    test_alloc_grow_fails, test_alloc_zero_disables, test_alloc_failure_leaves_others,
	    test_alloc_cap_overflow));
	tcase_add_checked_fixture(tc, alloc_reset, alloc_reset);

	/* Without fork an abort would take the whole runner down. */
	if (can_die) {
		const TTest *const *aborts = FR_TESTS(test_seal_twice_aborts,
		    test_seal_past_cap_aborts, test_grow_sealed_aborts, test_grow_shared_aborts,
		    test_grow_smaller_aborts);

		tc = tcase_create("contract");
		for (size_t i = 0; aborts[i] != NULL; i++)
			tcase_add_test_raise_signal(tc, aborts[i], SIGABRT);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(NULL);

	srunner_add_suite(sr, frame_suite(srunner_fork_status(sr) == CK_FORK));
	return fr_srunner_run(sr);
}
