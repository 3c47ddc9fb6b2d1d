/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for memfd arenas: spans are page-aligned and append-only, hold what was
 * written and can be read back through the descriptor, give their pages back when
 * released, and files rotate and close so that neither memory nor file sizes grow
 * with the bytes that went through. Also fr_frame_store(), which puts frames there.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fr/arena.h"
#include "fr/frame.h"

#ifndef FR_TESTING
#error "build with -DFR_TESTING: the alloc tests need fr_arena_fail_alloc_after()"
#endif

static size_t page;

static void
setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
}

/* Every test leaves no file open and no failure armed. */
static void
teardown(void)
{
	fr_arena_fail_alloc_after(0);
	fr_frame_fail_alloc_after(0);
	ck_assert_uint_eq(fr_arena_open_files(), 0);
}

/* Bytes of memory the span's file holds now. */
static long long
file_bytes_held(const struct fr_arena_span *span)
{
	struct stat st;

	ck_assert_int_eq(fstat(fr_arena_span_fd(span), &st), 0);
	return (long long)st.st_blocks * 512;
}

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 13 + i * 7);
}

START_TEST(test_spans_page_aligned_append_only)
{
	struct fr_arena *a = fr_arena_new(0);
	struct fr_arena_span s[3];
	static const size_t lens[3] = { 1, 4096 * 3 + 1, 100 };

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	off_t expect = 0;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(fr_arena_alloc(a, lens[i], &s[i]), 0);
		ck_assert_int_eq(s[i].off, expect);
		ck_assert_uint_eq(s[i].off % (off_t)page, 0);
		ck_assert_uint_eq(s[i].len, (lens[i] + page - 1) / page * page);
		fill(s[i].p, lens[i], (unsigned)i);
		expect += (off_t)s[i].len;
	}
	ck_assert_ptr_eq(s[0].file, s[2].file);
	/* What was written through the mapping is what the descriptor reads. */
	uint8_t buf[4096 * 3 + 1];
	ck_assert_int_eq(pread(fr_arena_span_fd(&s[1]), buf, lens[1], s[1].off), (ssize_t)lens[1]);
	ck_assert_mem_eq(buf, s[1].p, lens[1]);
	/* A released span is never handed out again. */
	fr_arena_release(&s[0]);
	ck_assert_ptr_null(s[0].file);
	struct fr_arena_span t;
	ck_assert_int_eq(fr_arena_alloc(a, 1, &t), 0);
	ck_assert_int_eq(t.off, expect);
	fr_arena_release(&t);
	fr_arena_release(&s[1]);
	fr_arena_release(&s[2]);
	fr_arena_free(a);
}
END_TEST

START_TEST(test_release_gives_pages_back)
{
	struct fr_arena *a = fr_arena_new(0);
	struct fr_arena_span s, keep;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(fr_arena_alloc(a, 64 * page, &s), 0);
	ck_assert_int_eq(fr_arena_alloc(a, page, &keep), 0);
	fill(s.p, 64 * page, 1);
	fill(keep.p, page, 2);
	ck_assert_int_ge(file_bytes_held(&keep), (long long)(65 * page));
	fr_arena_release(&s);
	ck_assert_int_le(file_bytes_held(&keep), (long long)page);
	/* Punching the neighbour's pages left these alone. */
	uint8_t want[4096];
	ck_assert_uint_le(page, sizeof want * 16);
	fill(want, sizeof want < page ? sizeof want : page, 2);
	ck_assert_mem_eq(keep.p, want, sizeof want < page ? sizeof want : page);
	fr_arena_release(&keep);
	fr_arena_free(a);
}
END_TEST

/* Files of 4 pages: the fifth page starts a new file; the old one closes with its
 * last span, and the arena's own file with the arena. */
START_TEST(test_rotation_closes_old_files)
{
	struct fr_arena *a = fr_arena_new(4 * page);
	struct fr_arena_span s[5];

	ck_assert_ptr_nonnull(a);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(fr_arena_alloc(a, page, &s[i]), 0);
	ck_assert_ptr_eq(s[0].file, s[3].file);
	ck_assert_ptr_ne(s[3].file, s[4].file);
	ck_assert_int_eq(s[4].off, 0);
	ck_assert_uint_eq(fr_arena_open_files(), 2);
	for (int i = 0; i < 4; i++)
		fr_arena_release(&s[i]);
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	/* The arena let go, a span still lives: its file stays until it goes. */
	fr_arena_free(a);
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	fill(s[4].p, page, 3);
	fr_arena_release(&s[4]);
	ck_assert_uint_eq(fr_arena_open_files(), 0);
}
END_TEST

/* A span bigger than a file gets a file of its own size. */
START_TEST(test_span_larger_than_file)
{
	struct fr_arena *a = fr_arena_new(4 * page);
	struct fr_arena_span s;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(fr_arena_alloc(a, 10 * page + 1, &s), 0);
	ck_assert_int_eq(s.off, 0);
	ck_assert_uint_eq(s.len, 11 * page);
	fill(s.p, s.len, 4);
	fr_arena_release(&s);
	fr_arena_free(a);
}
END_TEST

/*
 * A producer at memory speed with a stuck subscriber: one span held for good while
 * thousands go through. Open files and memory stay bounded; no file grows past its
 * size.
 */
START_TEST(test_bounded_with_a_stuck_span)
{
	struct fr_arena *a = fr_arena_new(16 * page);
	struct fr_arena_span stuck, latest = { .file = NULL }, s;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(fr_arena_alloc(a, 3 * page, &stuck), 0);
	for (int i = 0; i < 5000; i++) {
		ck_assert_int_eq(fr_arena_alloc(a, 3 * page - 7, &s), 0);
		fill(s.p, 16, (unsigned)i);
		ck_assert_int_le(s.off + (off_t)s.len, (off_t)(16 * page));
		fr_arena_release(&latest);
		latest = s;
		ck_assert_uint_le(fr_arena_open_files(), 2);
		ck_assert_int_le(file_bytes_held(&latest), (long long)(6 * page));
	}
	fr_arena_release(&stuck);
	fr_arena_release(&latest);
	fr_arena_free(a);
}
END_TEST

START_TEST(test_alloc_failure)
{
	struct fr_arena *a = fr_arena_new(0);
	struct fr_arena_span s = { .file = NULL };

	ck_assert_ptr_nonnull(a);
	fr_arena_fail_alloc_after(2);
	ck_assert_int_eq(fr_arena_alloc(a, 10, &s), 0);
	fr_arena_release(&s);
	ck_assert_int_eq(fr_arena_alloc(a, 10, &s), -1);
	ck_assert_ptr_null(s.file);
	ck_assert_int_eq(fr_arena_alloc(a, 10, &s), 0);
	fr_arena_release(&s);
	fr_arena_release(&s);	/* a cleared span: nothing */
	fr_arena_free(a);
	fr_arena_free(NULL);
}
END_TEST

/* ---- fr_frame_store ---- */

START_TEST(test_frame_store)
{
	struct fr_arena *a = fr_arena_new(0);
	struct fr_frame *f = fr_frame_new(200000);
	uint8_t want[150000];

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(f);
	fill(f->data, sizeof want, 5);
	memcpy(want, f->data, sizeof want);
	fr_frame_seal(f, sizeof want);
	ck_assert(!fr_frame_in_arena(f));
	ck_assert_int_eq(fr_frame_store(f, a, NULL), 0);
	ck_assert(fr_frame_in_arena(f));
	ck_assert_uint_eq(f->len, sizeof want);
	ck_assert_mem_eq(f->data, want, sizeof want);
	/* sendfile() reads the same bytes through the descriptor. */
	uint8_t got[sizeof want];
	ck_assert_int_eq(pread(fr_frame_fd(f), got, sizeof got, fr_frame_offset(f)),
	    (ssize_t)sizeof got);
	ck_assert_mem_eq(got, want, sizeof want);
	fr_arena_free(a);	/* the frame keeps its file */
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	fr_frame_ref(f);
	fr_frame_unref(f);
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	fr_frame_unref(f);	/* the last reference closes the file */
}
END_TEST

/* The wrap's bytes lie just around the frame, so one read (one sendfile) gets all three. */
START_TEST(test_frame_store_wrapped)
{
	static const char before[] = "Content-Length: 70000\r\n\r\n", after[] = "\r\n--b\r\n";
	const struct fr_frame_wrap wrap = { before, after, sizeof before - 1, sizeof after - 1 };
	struct fr_arena *a = fr_arena_new(0);
	struct fr_frame *f = fr_frame_new(70000);
	static uint8_t want[sizeof before - 1 + 70000 + sizeof after - 1], got[sizeof want];

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(f);
	fill(f->data, 70000, 7);
	memcpy(want, before, sizeof before - 1);
	memcpy(want + sizeof before - 1, f->data, 70000);
	memcpy(want + sizeof before - 1 + 70000, after, sizeof after - 1);
	fr_frame_seal(f, 70000);
	ck_assert_int_eq(fr_frame_store(f, a, &wrap), 0);
	ck_assert_uint_eq(f->stored_before, sizeof before - 1);
	ck_assert_uint_eq(f->stored_after, sizeof after - 1);
	ck_assert_mem_eq(f->data, want + sizeof before - 1, 70000);
	ck_assert_int_eq(pread(fr_frame_fd(f), got, sizeof got,
	    fr_frame_offset(f) - (off_t)f->stored_before), (ssize_t)sizeof got);
	ck_assert_mem_eq(got, want, sizeof want);
	fr_frame_unref(f);
	fr_arena_free(a);
	ck_assert_uint_eq(fr_arena_open_files(), 0);
}
END_TEST

START_TEST(test_frame_store_failure_keeps_heap)
{
	struct fr_arena *a = fr_arena_new(0);
	struct fr_frame *f = fr_frame_new(100);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(f);
	fill(f->data, 100, 6);
	fr_frame_seal(f, 100);
	uint8_t *heap = f->data;
	fr_arena_fail_alloc_after(1);
	ck_assert_int_eq(fr_frame_store(f, a, NULL), -1);
	ck_assert(!fr_frame_in_arena(f));
	ck_assert_ptr_eq(f->data, heap);
	uint8_t want[100];
	fill(want, 100, 6);
	ck_assert_mem_eq(f->data, want, 100);
	fr_frame_unref(f);
	fr_arena_free(a);
}
END_TEST

static Suite *
arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("spans");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_spans_page_aligned_append_only);
	tcase_add_test(tc, test_release_gives_pages_back);
	tcase_add_test(tc, test_alloc_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("rotation");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rotation_closes_old_files);
	tcase_add_test(tc, test_span_larger_than_file);
	tcase_add_test(tc, test_bounded_with_a_stuck_span);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_frame_store);
	tcase_add_test(tc, test_frame_store_wrapped);
	tcase_add_test(tc, test_frame_store_failure_keeps_heap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(arena_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
