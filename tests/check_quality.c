/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the quality estimate: the IJG tables at every quality, the
 * estimate of headers built here at every quality (8- and 16-bit tables, table
 * selectors, grayscale), of real encoder output (cjpeg fixtures, libjpeg-turbo at
 * chosen qualities, ffmpeg) and of broken headers. The zig-zag order is computed
 * here by walking the diagonals, independently of quality.c's table.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"
#include "suite.h"
#include "fr/quality.h"

#ifdef HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

/* natural[k]: the natural-order index of the k-th zig-zag coefficient (T.81 A.3.6). */
static int natural[64];

static void
make_zigzag(void)
{
	int k = 0;

	for (int s = 0; s <= 14; s++) {
		int lo = s > 7 ? s - 7 : 0, hi = s < 7 ? s : 7;

		for (int i = 0; i <= hi - lo; i++) {
			int row = s % 2 == 0 ? hi - i : lo + i;	/* even diagonals go up */

			natural[k++] = row * 8 + (s - row);
		}
	}
}

struct hdr {
	uint8_t b[1024];
	size_t n;
};

static void
put(struct hdr *h, const uint8_t *p, size_t n)
{
	ck_assert_uint_le(h->n + n, sizeof h->b);
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void
put_byte(struct hdr *h, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(h, &b, 1);
}

/* One DQT segment holding table tq (natural order), 8- or 16-bit. */
static void
put_dqt(struct hdr *h, unsigned tq, const uint16_t *table, bool is_16bit)
{
	unsigned len = 2 + 1 + 64 * (is_16bit ? 2 : 1);

	put(h, (const uint8_t[]){ 0xFF, 0xDB, (uint8_t)(len >> 8), (uint8_t)len }, 4);
	put_byte(h, (is_16bit ? 0x10 : 0) | tq);
	for (int k = 0; k < 64; k++) {
		if (is_16bit)
			put_byte(h, table[natural[k]] >> 8);
		put_byte(h, table[natural[k]] & 0xFF);
	}
}

/* SOF0 of a 16x16 picture whose components use tables sel[0..n). */
static void
put_sof(struct hdr *h, unsigned n, const unsigned *sel)
{
	unsigned len = 8 + 3 * n;

	put(h, (const uint8_t[]){ 0xFF, 0xC0, 0, (uint8_t)len, 8, 0, 16, 0, 16, (uint8_t)n }, 10);
	for (unsigned i = 0; i < n; i++)
		put(h, (const uint8_t[]){ (uint8_t)(i + 1), i == 0 ? 0x22 : 0x11, (uint8_t)sel[i] },
		    3);
}

static void
put_soi(struct hdr *h)
{
	h->n = 0;
	put(h, (const uint8_t[]){ 0xFF, 0xD8 }, 2);
}

static void
put_sos(struct hdr *h)
{
	put(h, (const uint8_t[]){ 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0x34 }, 12);
}

/* A header as libjpeg writes it at quality q: two tables, three components. */
static void
ijg_header(struct hdr *h, int q, bool is_16bit)
{
	uint16_t luma[64], chroma[64];

	fr_quality_ijg_table(q, false, luma);
	fr_quality_ijg_table(q, true, chroma);
	put_soi(h);
	put_dqt(h, 0, luma, is_16bit);
	put_dqt(h, 1, chroma, is_16bit);
	put_sof(h, 3, (const unsigned[]){ 0, 1, 1 });
	put_sos(h);
}

START_TEST(test_ijg_tables)
{
	uint16_t t[64];

	/* Quality 50 is Annex K itself. */
	fr_quality_ijg_table(50, false, t);
	ck_assert_uint_eq(t[0], 16);
	ck_assert_uint_eq(t[7], 61);
	ck_assert_uint_eq(t[63], 99);
	fr_quality_ijg_table(50, true, t);
	ck_assert_uint_eq(t[0], 17);
	ck_assert_uint_eq(t[3], 47);
	ck_assert_uint_eq(t[63], 99);
	/* 75: scale 50 %, rounded: 16 -> 8, 11 -> 6 (5.5 rounds up), 99 -> 50. */
	fr_quality_ijg_table(75, false, t);
	ck_assert_uint_eq(t[0], 8);
	ck_assert_uint_eq(t[1], 6);
	ck_assert_uint_eq(t[63], 50);
	/* 100: all ones; 1: scale 5000 %, capped at 255 for baseline. */
	fr_quality_ijg_table(100, false, t);
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(t[i], 1);
	fr_quality_ijg_table(1, true, t);
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(t[i], 255);
	/* Out of range is clamped. */
	uint16_t u[64];
	fr_quality_ijg_table(0, true, u);
	ck_assert_mem_eq(t, u, sizeof t);
	fr_quality_ijg_table(100, false, t);
	fr_quality_ijg_table(1000, false, u);
	ck_assert_mem_eq(t, u, sizeof t);
}
END_TEST

/* Every quality comes back exactly, from 8-bit and from 16-bit tables. */
START_TEST(test_every_quality)
{
	struct hdr h;
	bool ok = false;

	ijg_header(&h, _i, false);
	ck_assert_int_eq(fr_quality_estimate(h.b, h.n, &ok), _i);
	ck_assert(ok);
	ijg_header(&h, _i, true);
	ck_assert_int_eq(fr_quality_estimate(h.b, h.n, &ok), _i);
	ck_assert(ok);
}
END_TEST

START_TEST(test_tables_read)
{
	struct hdr h;
	struct fr_quality_tables t;
	uint16_t luma[64], chroma[64];

	fr_quality_ijg_table(30, false, luma);
	fr_quality_ijg_table(30, true, chroma);
	/* Tables in one DQT segment, chroma first, under ids 2 and 3; the SOF names them;
	 * fill bytes before markers; the SOF before the tables. */
	put_soi(&h);
	put_sof(&h, 3, (const unsigned[]){ 3, 2, 2 });
	put(&h, (const uint8_t[]){ 0xFF, 0xFF }, 2);
	size_t at = h.n;
	put_dqt(&h, 2, chroma, false);
	put_dqt(&h, 3, luma, false);
	/* Merge the two segments into one: length 2 + 2 * 65, drop the second marker. */
	memmove(h.b + at + 4 + 65, h.b + at + 4 + 65 + 4, 65);
	h.n -= 4;
	h.b[at + 2] = 0;
	h.b[at + 3] = 2 + 2 * 65;
	put_sos(&h);
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), 0);
	ck_assert(t.has_luma && t.has_chroma);
	ck_assert_mem_eq(t.luma, luma, sizeof luma);
	ck_assert_mem_eq(t.chroma, chroma, sizeof chroma);
	ck_assert_int_eq(fr_quality_from_tables(&t), 30);
}
END_TEST

START_TEST(test_grayscale_and_shared)
{
	struct hdr h;
	struct fr_quality_tables t;
	uint16_t luma[64];

	fr_quality_ijg_table(85, false, luma);
	/* Grayscale: one component, one table. */
	put_soi(&h);
	put_dqt(&h, 0, luma, false);
	put_sof(&h, 1, (const unsigned[]){ 0 });
	put_sos(&h);
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), 0);
	ck_assert(t.has_luma && !t.has_chroma);
	ck_assert_int_eq(fr_quality_from_tables(&t), 85);
	/* Colour with one table for all components (as ffmpeg writes): luma only. */
	put_soi(&h);
	put_dqt(&h, 0, luma, false);
	put_sof(&h, 3, (const unsigned[]){ 0, 0, 0 });
	put_sos(&h);
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), 0);
	ck_assert(t.has_luma && !t.has_chroma);
	ck_assert_int_eq(fr_quality_from_tables(&t), 85);
}
END_TEST

/* Tables that are no IJG table: the nearest quality, by ratio. */
START_TEST(test_nearest)
{
	struct fr_quality_tables t = { .has_luma = true };
	uint16_t q60[64];

	fr_quality_ijg_table(60, false, q60);
	/* Quality 60's table, every entry 4 % larger: still nearest to 60 at most a step
	 * below, never far off. */
	for (int i = 0; i < 64; i++)
		t.luma[i] = (uint16_t)(q60[i] * 104 / 100 > q60[i] ? q60[i] * 104 / 100 :
		    q60[i] + 1);
	int q = fr_quality_from_tables(&t);
	ck_assert_int_ge(q, 57);
	ck_assert_int_le(q, 60);
	/* A flat table of 8s lies between qualities; the estimate is one of them, and a
	 * flat table of 2s gives a higher one. */
	for (int i = 0; i < 64; i++)
		t.luma[i] = 8;
	int q8 = fr_quality_from_tables(&t);
	for (int i = 0; i < 64; i++)
		t.luma[i] = 2;
	ck_assert_int_gt(fr_quality_from_tables(&t), q8);
}
END_TEST

static void
expect_fixture_quality(const char *name, int want)
{
	size_t len;
	uint8_t *p = fixture_bytes(name, &len);
	bool ok = false;

	ck_assert_msg(fr_quality_estimate(p, len, &ok) == want, "%s: quality %d, expected %d",
	    name, fr_quality_estimate(p, len, NULL), want);
	ck_assert(ok);
	free(p);
}

#define FFMPEG_Q5 80

/* cjpeg -quality N (fixtures/README.md) comes back as N; the EXIF thumbnail inside
 * APP1 (quality 60) is skipped with its segment; ffmpeg's -q:v 5 (its MPEG-1 based
 * matrix times 5/8, the same for both planes) is nearest to IJG quality 80. */
START_TEST(test_fixtures)
{
	expect_fixture_quality("baseline.jpg", 75);
	expect_fixture_quality("progressive.jpg", 75);
	expect_fixture_quality("restart.jpg", 75);
	expect_fixture_quality("arithmetic.jpg", 75);
	expect_fixture_quality("fill-bytes.jpg", 75);
	expect_fixture_quality("exif-thumbnail.jpg", 75);
	expect_fixture_quality("com-with-eoi.jpg", 75);
	expect_fixture_quality("stuffed.jpg", 95);
	expect_fixture_quality("large-1080p.jpg", FFMPEG_Q5);
	expect_fixture_quality("ffmpeg-frame.jpg", FFMPEG_Q5);
}
END_TEST

#ifdef HAVE_TURBOJPEG
/* libjpeg-turbo's own encoder at a quality, in 4:2:0 and grayscale. */
START_TEST(test_libjpeg_turbo)
{
	static const int qualities[] = { 1, 10, 37, 50, 64, 83, 97, 100 };
	enum { W = 48, H = 32 };
	uint8_t rgb[W * H * 3];
	tjhandle tj = tjInitCompress();

	ck_assert_ptr_nonnull(tj);
	for (size_t i = 0; i < sizeof rgb; i++)
		rgb[i] = (uint8_t)(i * 7 + i / 97);
	for (size_t i = 0; i < sizeof qualities / sizeof qualities[0]; i++) {
		for (int sub = 0; sub < 2; sub++) {
			unsigned char *jpeg = NULL;
			unsigned long len = 0;

			ck_assert_int_eq(tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &jpeg, &len,
			    sub ? TJSAMP_GRAY : TJSAMP_420, qualities[i], 0), 0);
			ck_assert_int_eq(fr_quality_estimate(jpeg, len, NULL), qualities[i]);
			tjFree(jpeg);
		}
	}
	tjDestroy(tj);
}
END_TEST
#endif

START_TEST(test_broken)
{
	struct hdr h;
	bool ok = true;
	struct fr_quality_tables t;

	/* No SOI. */
	ijg_header(&h, 40, false);
	ck_assert_int_eq(fr_quality_read_tables(h.b + 1, h.n - 1, &t), -1);
	ck_assert_int_eq(fr_quality_estimate(h.b + 1, h.n - 1, &ok), FR_QUALITY_DEFAULT);
	ck_assert(!ok);
	/* Cut inside the first DQT: its length runs past the end. */
	ck_assert_int_eq(fr_quality_read_tables(h.b, 40, &t), -1);
	/* Cut after both tables, before the SOF: tables 0 and 1 are used. */
	ck_assert_int_eq(fr_quality_estimate(h.b, 2 + 2 * 69, &ok), 40);
	ck_assert(ok);
	/* Table id 4 (T.81 allows 0-3). */
	ijg_header(&h, 40, false);
	h.b[6] = 0x04;
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), -1);
	/* Precision 2. */
	ijg_header(&h, 40, false);
	h.b[6] = 0x20;
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), -1);
	/* A zero entry. */
	ijg_header(&h, 40, false);
	h.b[7 + 10] = 0;
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), -1);
	/* A DQT segment with a table and a half. */
	ijg_header(&h, 40, false);
	h.b[5] = 2 + 65 + 30;
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), -1);
	/* The SOF names table 2, which is not defined. */
	ijg_header(&h, 40, false);
	h.b[2 + 2 * 69 + 10 + 2] = 2;
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), -1);
	/* No DQT at all. */
	put_soi(&h);
	put_sof(&h, 3, (const unsigned[]){ 0, 1, 1 });
	put_sos(&h);
	ck_assert_int_eq(fr_quality_estimate(h.b, h.n, &ok), FR_QUALITY_DEFAULT);
	ck_assert(!ok);
	/* A byte where a marker must be. */
	ijg_header(&h, 40, false);
	h.b[2 + 69] = 0x00;
	ck_assert_int_eq(fr_quality_read_tables(h.b, h.n, &t), -1);
	/* Two bytes, and nothing. */
	ck_assert_int_eq(fr_quality_read_tables((const uint8_t *)"\xff\xd8", 2, &t), -1);
	ck_assert_int_eq(fr_quality_read_tables(h.b, 0, &t), -1);
}
END_TEST

static Suite *
quality_suite(void)
{
	Suite *s = suite_create("quality");
	TCase *tc = fr_tcase(s, "tables", FR_TESTS(test_ijg_tables, test_tables_read,
	    test_grayscale_and_shared, test_nearest));

	make_zigzag();
	tcase_add_loop_test(tc, test_every_quality, 1, 101);

	tc = fr_tcase(s, "encoders", FR_TESTS(test_fixtures));
#ifdef HAVE_TURBOJPEG
	tcase_add_test(tc, test_libjpeg_turbo);
#endif

	fr_tcase(s, "broken", FR_TESTS(test_broken));
	return s;
}

int
main(void)
{
	return fr_run_suite(quality_suite());
}
