/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for memfd arenas: spans are page-aligned and append-only, hold what was
 * written through the descriptor, give their pages back when released, and files
 * rotate and close at once (the spans left in a retired file are evicted), so that
 * neither memory nor open files grow with the bytes that went through or with a span
 * held for long. Also fr_frame_store(), which puts frames there, and frame eviction.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fr/arena.h"
#include "fr/frame.h"

#include "suite.h"

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

/* Writes n bytes of pattern seed at the start of the span, as frames are written. */
static void
write_span(const struct fr_arena_span *span, size_t n, unsigned seed)
{
	uint8_t *buf = malloc(n);

	ck_assert_ptr_nonnull(buf);
	fill(buf, n, seed);
	ck_assert_int_eq(pwrite(fr_arena_span_fd(span), buf, n, span->off), (ssize_t)n);
	free(buf);
}

/* The span starts with n bytes of pattern seed. */
static void
assert_span(const struct fr_arena_span *span, size_t n, unsigned seed)
{
	uint8_t *want = malloc(n), *got = malloc(n);

	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(got);
	fill(want, n, seed);
	ck_assert_int_eq(pread(fr_arena_span_fd(span), got, n, span->off), (ssize_t)n);
	ck_assert_mem_eq(got, want, n);
	free(want);
	free(got);
}

/* Spans evicted so far: the callback releases them, as owners must. */
static unsigned evictions;

static void
evict_release(struct fr_arena_span *span)
{
	evictions++;
	fr_arena_release(span);
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
		ck_assert_int_eq(fr_arena_alloc(a, lens[i], &s[i], evict_release), 0);
		ck_assert_int_eq(s[i].off, expect);
		ck_assert_uint_eq(s[i].off % (off_t)page, 0);
		ck_assert_uint_eq(s[i].len, (lens[i] + page - 1) / page * page);
		write_span(&s[i], lens[i], (unsigned)i);
		expect += (off_t)s[i].len;
	}
	ck_assert_ptr_eq(s[0].file, s[2].file);
	for (int i = 0; i < 3; i++)
		assert_span(&s[i], lens[i], (unsigned)i);
	/* A released span is never handed out again. */
	fr_arena_release(&s[0]);
	ck_assert_ptr_null(s[0].file);
	struct fr_arena_span t;
	ck_assert_int_eq(fr_arena_alloc(a, 1, &t, evict_release), 0);
	ck_assert_int_eq(t.off, expect);
	fr_arena_release(&t);
	fr_arena_release(&s[1]);
	fr_arena_release(&s[2]);
	fr_arena_unref(a);
}
END_TEST

START_TEST(test_release_gives_pages_back)
{
	struct fr_arena *a = fr_arena_new(0);
	struct fr_arena_span s, keep;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(fr_arena_alloc(a, 64 * page, &s, evict_release), 0);
	ck_assert_int_eq(fr_arena_alloc(a, page, &keep, evict_release), 0);
	write_span(&s, 64 * page, 1);
	write_span(&keep, page, 2);
	ck_assert_int_ge(file_bytes_held(&keep), (long long)(65 * page));
	fr_arena_release(&s);
	ck_assert_int_le(file_bytes_held(&keep), (long long)page);
	/* Punching the neighbour's pages left these alone. */
	assert_span(&keep, page, 2);
	fr_arena_release(&keep);
	fr_arena_unref(a);
}
END_TEST

/* Files of 4 pages: the fifth page starts a new file and retires the old one, whose
 * live spans are evicted at once, so it closes; the arena's own file closes with
 * the arena's last reference, or with its last span after that. */
START_TEST(test_rotation_evicts_and_closes)
{
	struct fr_arena *a = fr_arena_new(4 * page);
	struct fr_arena_span s[5];

	ck_assert_ptr_nonnull(a);
	evictions = 0;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(fr_arena_alloc(a, page, &s[i], evict_release), 0);
	ck_assert_ptr_eq(s[0].file, s[3].file);
	fr_arena_release(&s[1]);
	ck_assert_int_eq(fr_arena_alloc(a, page, &s[4], evict_release), 0);
	ck_assert_int_eq(s[4].off, 0);
	ck_assert_uint_eq(evictions, 3);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_null(s[i].file);
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	/* The arena let go, a span still lives: its file stays until it goes. */
	struct fr_arena *ref = fr_arena_ref(a);
	fr_arena_unref(a);
	fr_arena_unref(ref);
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	write_span(&s[4], page, 3);
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
	ck_assert_int_eq(fr_arena_alloc(a, 10 * page + 1, &s, evict_release), 0);
	ck_assert_int_eq(s.off, 0);
	ck_assert_uint_eq(s.len, 11 * page);
	write_span(&s, s.len, 4);
	assert_span(&s, s.len, 4);
	fr_arena_release(&s);
	fr_arena_unref(a);
}
END_TEST

/*
 * A producer at memory speed with a stuck subscriber: one span held for good while
 * thousands go through. Open files and memory stay bounded; no file grows past its
 * size; the stuck span is evicted with its file, not kept open with it.
 */
START_TEST(test_bounded_with_a_stuck_span)
{
	struct fr_arena *a = fr_arena_new(16 * page);
	/* Spans are linked into their file: each stays where it was allocated. */
	struct fr_arena_span stuck, s[2] = { { .file = NULL }, { .file = NULL } };

	ck_assert_ptr_nonnull(a);
	evictions = 0;
	ck_assert_int_eq(fr_arena_alloc(a, 3 * page, &stuck, evict_release), 0);
	for (int i = 0; i < 5000; i++) {
		struct fr_arena_span *latest = &s[i % 2];

		ck_assert_int_eq(fr_arena_alloc(a, 3 * page - 7, latest, evict_release), 0);
		write_span(latest, 16, (unsigned)i);
		ck_assert_int_le(latest->off + (off_t)latest->len, (off_t)(16 * page));
		fr_arena_release(&s[(i + 1) % 2]);
		ck_assert_uint_eq(fr_arena_open_files(), 1);
		ck_assert_int_le(file_bytes_held(latest), (long long)(6 * page));
	}
	/* Evicted with the first file; since then each retired file took the latest
	 * span with it, allocated just before the one that did not fit. */
	ck_assert_ptr_null(stuck.file);
	ck_assert_uint_gt(evictions, 1);
	fr_arena_release(&s[0]);
	fr_arena_release(&s[1]);
	fr_arena_unref(a);
}
END_TEST

START_TEST(test_alloc_failure)
{
	struct fr_arena *a = fr_arena_new(0);
	struct fr_arena_span s = { .file = NULL };

	ck_assert_ptr_nonnull(a);
	fr_arena_fail_alloc_after(2);
	ck_assert_int_eq(fr_arena_alloc(a, 10, &s, evict_release), 0);
	fr_arena_release(&s);
	ck_assert_int_eq(fr_arena_alloc(a, 10, &s, evict_release), -1);
	ck_assert_ptr_null(s.file);
	ck_assert_int_eq(fr_arena_alloc(a, 10, &s, evict_release), 0);
	fr_arena_release(&s);
	fr_arena_release(&s);	/* a cleared span: nothing */
	fr_arena_unref(a);
	fr_arena_unref(NULL);
}
END_TEST

/* ---- fr_frame_store ---- */

/* A sealed frame of len bytes of pattern seed, to be stored in a. */
static struct fr_frame *
sealed_frame(size_t len, unsigned seed, struct fr_arena *a)
{
	struct fr_frame *f = fr_frame_new(len);

	ck_assert_ptr_nonnull(f);
	fill(f->data, len, seed);
	fr_frame_seal(f, len);
	ck_assert(!fr_frame_wants_store(f));
	fr_frame_set_arena(f, a);
	ck_assert(fr_frame_wants_store(f) == (a != NULL));
	return f;
}

START_TEST(test_frame_store)
{
	struct fr_arena *a = fr_arena_new(0);
	static uint8_t want[150000], got[sizeof want];

	ck_assert_ptr_nonnull(a);
	struct fr_frame *f = sealed_frame(sizeof want, 5, a);
	fill(want, sizeof want, 5);
	ck_assert(!fr_frame_in_arena(f));
	ck_assert_int_eq(fr_frame_store(f, NULL), 0);
	ck_assert(fr_frame_in_arena(f));
	ck_assert(!fr_frame_wants_store(f));
	ck_assert_uint_eq(f->len, sizeof want);
	ck_assert_mem_eq(f->data, want, sizeof want);	/* the heap bytes stay */
	/* sendfile() reads the same bytes through the descriptor. */
	ck_assert_int_eq(pread(fr_frame_fd(f), got, sizeof got, fr_frame_offset(f)),
	    (ssize_t)sizeof got);
	ck_assert_mem_eq(got, want, sizeof want);
	fr_arena_unref(a);	/* the frame keeps the arena and its file */
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
	static uint8_t want[sizeof before - 1 + 70000 + sizeof after - 1], got[sizeof want];

	ck_assert_ptr_nonnull(a);
	struct fr_frame *f = sealed_frame(70000, 7, a);
	memcpy(want, before, sizeof before - 1);
	memcpy(want + sizeof before - 1, f->data, 70000);
	memcpy(want + sizeof before - 1 + 70000, after, sizeof after - 1);
	ck_assert_int_eq(fr_frame_store(f, &wrap), 0);
	ck_assert_uint_eq(f->stored_before, sizeof before - 1);
	ck_assert_uint_eq(f->stored_after, sizeof after - 1);
	ck_assert_mem_eq(f->data, want + sizeof before - 1, 70000);
	ck_assert_int_eq(pread(fr_frame_fd(f), got, sizeof got,
	    fr_frame_offset(f) - (off_t)f->stored_before), (ssize_t)sizeof got);
	ck_assert_mem_eq(got, want, sizeof want);
	fr_frame_unref(f);
	fr_arena_unref(a);
	ck_assert_uint_eq(fr_arena_open_files(), 0);
}
END_TEST

START_TEST(test_frame_store_failure_keeps_heap)
{
	struct fr_arena *a = fr_arena_new(0);

	ck_assert_ptr_nonnull(a);
	struct fr_frame *f = sealed_frame(100, 6, a);
	uint8_t *heap = f->data;
	fr_arena_fail_alloc_after(1);
	ck_assert_int_eq(fr_frame_store(f, NULL), -1);
	ck_assert(!fr_frame_in_arena(f));
	ck_assert(f->has_failed_store);
	ck_assert(!fr_frame_wants_store(f));	/* not tried again for each subscriber */
	ck_assert_ptr_eq(f->data, heap);
	uint8_t want[100];
	fill(want, 100, 6);
	ck_assert_mem_eq(f->data, want, 100);
	fr_frame_unref(f);
	fr_arena_unref(a);
	/* Without an arena there is nothing to store into. */
	f = sealed_frame(10, 1, NULL);
	fr_frame_unref(f);
}
END_TEST

/*
 * A stuck subscriber holds an old frame while the arena moves on: when its file is
 * retired the frame leaves the arena (its heap bytes go on serving it), so the file
 * closes; a frame evicted so can be stored again, in the new file.
 */
START_TEST(test_frame_evicted_with_its_file)
{
	struct fr_arena *a = fr_arena_new(4 * page);

	ck_assert_ptr_nonnull(a);
	struct fr_frame *old = sealed_frame(2 * page, 8, a);
	ck_assert_int_eq(fr_frame_store(old, NULL), 0);
	for (unsigned i = 0; i < 3; i++) {
		struct fr_frame *f = sealed_frame(2 * page, 9 + i, a);

		ck_assert_int_eq(fr_frame_store(f, NULL), 0);
		fr_frame_unref(f);
	}
	ck_assert(!fr_frame_in_arena(old));
	ck_assert_uint_eq(fr_arena_open_files(), 1);
	uint8_t want[4096];
	fill(want, sizeof want, 8);
	ck_assert_mem_eq(old->data, want, sizeof want);
	ck_assert(fr_frame_wants_store(old));
	ck_assert_int_eq(fr_frame_store(old, NULL), 0);
	ck_assert(fr_frame_in_arena(old));
	fr_frame_unref(old);
	fr_arena_unref(a);
}
END_TEST

static Suite *
arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = fr_tcase(s, "spans", FR_TESTS(test_spans_page_aligned_append_only,
	    test_release_gives_pages_back, test_alloc_failure));

	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "rotation", FR_TESTS(test_rotation_evicts_and_closes,
	    test_span_larger_than_file, test_bounded_with_a_stuck_span));
	tcase_add_checked_fixture(tc, setup, teardown);

	tc = fr_tcase(s, "frames", FR_TESTS(test_frame_store, test_frame_store_wrapped,
	    test_frame_store_failure_keeps_heap, test_frame_evicted_with_its_file));
	tcase_add_checked_fixture(tc, setup, teardown);
	return s;
}

int
main(void)
{
	return fr_run_suite(arena_suite());
}
