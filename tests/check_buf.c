/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the growable buffer: growth, NUL termination, and in test builds
 * failed allocations, which must leave the contents as they were and stick.
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/buf.h"

#include "helpers.h"
#include "suite.h"

#ifndef FR_TESTING
#error "build with -DFR_TESTING: the alloc tests need fr_buf_fail_alloc_after()"
#endif

/* No test may leave a pending failure behind (CK_FORK=no runs them in one process). */
static void
alloc_reset(void)
{
	fr_buf_fail_alloc_after(0);
}

START_TEST(test_buf_init_zeroes)
{
	struct fr_buf b;

	memset(&b, 0xa5, sizeof b);
	fr_buf_init(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_int_eq(b.has_failed, 0);
	/* fini frees, zeroes, and may be repeated. */
	fr_buf_fini(&b);
	fr_buf_printf(&b, "x%d", 1);
	ck_assert_str_eq(b.data, "x1");
	fr_buf_fini(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	fr_buf_fini(&b);
}
END_TEST

START_TEST(test_buf_append_and_printf)
{
	struct fr_buf b;

	fr_buf_init(&b);
	/* Even an empty append leaves a NUL-terminated string. */
	fr_buf_append(&b, "", 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	ck_assert_uint_eq(b.cap, 4096);
	fr_buf_append(&b, "ab\0cd", 5);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_mem_eq(b.data, "ab\0cd", 6);
	fr_buf_printf(&b, "%s=%" PRIu64 "%c", "n", UINT64_MAX, '!');
	ck_assert_uint_eq(b.len, 5 + 23);
	ck_assert_str_eq(b.data + 3, "cdn=18446744073709551615!");
	fr_buf_printf(&b, "%s", "");
	ck_assert_uint_eq(b.len, 28);
	fr_buf_fini(&b);
}
END_TEST

START_TEST(test_buf_growth_many_appends)
{
	struct fr_buf b;
	char expect[16];

	fr_buf_init(&b);
	for (size_t i = 0; i < 100000; i++) {
		if (i % 2) {
			fr_buf_printf(&b, "%06zu,", i);
		} else {
			snprintf(expect, sizeof expect, "%06zu,", i);
			fr_buf_append(&b, expect, 7);
		}
		/* Doubling from 4 KiB, always room for the NUL. */
		REQUIRE(b.cap > b.len && (b.cap & (b.cap - 1)) == 0, "%zu: cap %zu, len %zu", i,
		    b.cap, b.len);
	}
	ck_assert_int_eq(b.has_failed, 0);
	ck_assert_uint_eq(b.len, 700000);
	ck_assert_uint_eq(b.cap, 1048576);
	ck_assert_uint_eq(strlen(b.data), b.len);
	for (size_t i = 0; i < 100000; i++) {
		snprintf(expect, sizeof expect, "%06zu,", i);
		REQUIRE(memcmp(b.data + i * 7, expect, 7) == 0, "%zu: %.7s", i, b.data + i * 7);
	}
	fr_buf_fini(&b);
}
END_TEST

/* One printf much larger than the buffer, at every position relative to its end. */
START_TEST(test_buf_growth_large_printf)
{
	static char big[20001];
	struct fr_buf b;

	memset(big, 'x', sizeof big - 1);
	for (size_t pre = 4090; pre <= 4097; pre++) {
		fr_buf_init(&b);
		for (size_t i = 0; i < pre; i++)
			fr_buf_append(&b, "a", 1);
		fr_buf_printf(&b, "<%s>", big);
		ck_assert_uint_eq(b.len, pre + 20002);
		ck_assert_uint_eq(strlen(b.data), b.len);
		ck_assert_int_eq(b.data[pre], '<');
		ck_assert_int_eq(b.data[pre + 1], 'x');
		ck_assert_int_eq(b.data[b.len - 2], 'x');
		ck_assert_int_eq(b.data[b.len - 1], '>');
		fr_buf_fini(&b);
	}
}
END_TEST

/* A size that cannot be represented fails without allocating, and sticks. */
START_TEST(test_buf_overflow_fails)
{
	struct fr_buf b;

	fr_buf_init(&b);
	fr_buf_append(&b, "keep", 4);
	fr_buf_append(&b, "never read", SIZE_MAX);
	ck_assert_int_eq(b.has_failed, 1);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_str_eq(b.data, "keep");
	fr_buf_append(&b, "more", 4);
	fr_buf_printf(&b, "%s", "more");
	ck_assert_uint_eq(b.len, 4);
	ck_assert_str_eq(b.data, "keep");
	fr_buf_fini(&b);
	ck_assert_int_eq(b.has_failed, 0);
}
END_TEST

START_TEST(test_buf_first_alloc_fails)
{
	struct fr_buf b;

	fr_buf_init(&b);
	fr_buf_fail_alloc_after(1);
	fr_buf_printf(&b, "%d", 42);
	alloc_reset();
	ck_assert_int_eq(b.has_failed, 1);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	/* Nothing more is appended, although allocations work again. */
	fr_buf_append(&b, "x", 1);
	fr_buf_printf(&b, "y");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	fr_buf_fini(&b);
}
END_TEST

/* Growth fails inside printf: the partial text vsnprintf wrote past len is cut off. */
START_TEST(test_buf_growth_fails_in_printf)
{
	static char big[5001];
	struct fr_buf b;

	memset(big, 'z', sizeof big - 1);
	fr_buf_init(&b);
	fr_buf_append(&b, "head", 4);
	fr_buf_fail_alloc_after(1);
	fr_buf_printf(&b, "%s", big);
	alloc_reset();
	ck_assert_int_eq(b.has_failed, 1);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_uint_eq(b.cap, 4096);
	ck_assert_str_eq(b.data, "head");
	fr_buf_printf(&b, "tail");
	fr_buf_append(&b, "tail", 4);
	ck_assert_str_eq(b.data, "head");
	fr_buf_fini(&b);
}
END_TEST

START_TEST(test_buf_growth_fails_in_append)
{
	static char big[5000];
	struct fr_buf b;

	memset(big, 'z', sizeof big);
	fr_buf_init(&b);
	fr_buf_append(&b, "head", 4);
	fr_buf_fail_alloc_after(1);
	fr_buf_append(&b, big, sizeof big);
	alloc_reset();
	ck_assert_int_eq(b.has_failed, 1);
	ck_assert_str_eq(b.data, "head");
	fr_buf_fini(&b);
}
END_TEST

START_TEST(test_buf_puts)
{
	struct fr_buf b;

	fr_buf_init(&b);
	fr_buf_puts(&b, "");
	ck_assert_ptr_nonnull(b.data);
	ck_assert_uint_eq(b.len, 0);
	fr_buf_puts(&b, "ab");
	fr_buf_puts(&b, "c%s");
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(b.data, "abc%s");
	/* Armed, but there is room: nothing is allocated, so nothing fails. */
	fr_buf_fail_alloc_after(1);
	fr_buf_puts(&b, "def");
	ck_assert_str_eq(b.data, "abc%sdef");
	ck_assert_int_eq(b.has_failed, 0);
	fr_buf_fini(&b);
	fr_buf_puts(&b, "never");
	alloc_reset();
	ck_assert_int_eq(b.has_failed, 1);
	ck_assert_ptr_null(b.data);
	fr_buf_fini(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc;

	tc = fr_tcase(s, "growth", FR_TESTS(test_buf_init_zeroes, test_buf_append_and_printf,
	    test_buf_puts, test_buf_growth_many_appends, test_buf_growth_large_printf));
	tcase_add_checked_fixture(tc, NULL, alloc_reset);
	tcase_set_timeout(tc, 60);

	tc = fr_tcase(s, "failure", FR_TESTS(test_buf_overflow_fails, test_buf_first_alloc_fails,
	    test_buf_growth_fails_in_printf, test_buf_growth_fails_in_append));
	tcase_add_checked_fixture(tc, NULL, alloc_reset);
	return s;
}

int
main(void)
{
	return fr_run_suite(buf_suite());
}
