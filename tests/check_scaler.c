/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for scaled frames: ?scale= and ?q= parsing and formatting, and the
 * scaler on real fixtures (1080p ffmpeg, progressive, arithmetic, restart markers,
 * a COM segment) and on pictures libjpeg-turbo encodes here (grayscale, 4:4:4, odd
 * sizes): every output decodes completely without a warning, at the expected size,
 * with the source's subsampling, at the source's quality or the one asked for.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"
#include "suite.h"
#include "fr/quality.h"
#include "fr/scaler.h"
#include "fr/util.h"

START_TEST(test_spec_parse)
{
	struct fr_scale_spec s;
	char err[FR_ERR_LEN], text[FR_SCALE_SPEC_TEXT_LEN];

	ck_assert_int_eq(fr_scale_spec_parse(&s, NULL, NULL, err), 0);
	ck_assert(fr_scale_spec_is_plain(&s));
	ck_assert_int_eq(fr_scale_spec_parse(&s, "1/2", NULL, err), 0);
	ck_assert(s.denom == 2 && s.quality == 0 && !s.is_auto && !fr_scale_spec_is_plain(&s));
	fr_scale_spec_format(&s, text, sizeof text);
	ck_assert_str_eq(text, "1/2");
	ck_assert_int_eq(fr_scale_spec_parse(&s, "1/8", "40", err), 0);
	ck_assert(s.denom == 8 && s.quality == 40);
	fr_scale_spec_format(&s, text, sizeof text);
	ck_assert_str_eq(text, "1/8,q=40");
	ck_assert_int_eq(fr_scale_spec_parse(&s, "auto", NULL, err), 0);
	ck_assert(s.is_auto && s.denom == 1 && !fr_scale_spec_is_plain(&s));
	fr_scale_spec_format(&s, text, sizeof text);
	ck_assert_str_eq(text, "auto");
	ck_assert_int_eq(fr_scale_spec_parse(&s, "auto", "100", err), 0);
	fr_scale_spec_format(&s, text, sizeof text);
	ck_assert_str_eq(text, "auto,q=100");
	/* Full size: plain, unless a quality asks for a re-encode. */
	ck_assert_int_eq(fr_scale_spec_parse(&s, "1", NULL, err), 0);
	ck_assert(fr_scale_spec_is_plain(&s));
	ck_assert_int_eq(fr_scale_spec_parse(&s, "1/1", "1", err), 0);
	ck_assert(s.denom == 1 && s.quality == 1 && !fr_scale_spec_is_plain(&s));
	fr_scale_spec_format(&s, text, sizeof text);
	ck_assert_str_eq(text, "1/1,q=1");
	ck_assert_int_eq(fr_scale_spec_parse(&s, NULL, "75", err), 0);
	ck_assert(s.denom == 1 && s.quality == 75);
}
END_TEST

START_TEST(test_spec_bad)
{
	static const char *const bad_scales[] = { "", "2", "1/3", "1/16", "1/2 ", "0.5", "1/", "/2",
		"AUTO", "1/2,q=3", "1/02" };
	static const char *const bad_qs[] = { "", "0", "101", "-5", "1e2", "50.0", " 50", "0100",
		"q" };
	struct fr_scale_spec s;
	char err[FR_ERR_LEN];

	for (size_t i = 0; i < FR_ARRAY_LEN(bad_scales); i++) {
		ck_assert_msg(fr_scale_spec_parse(&s, bad_scales[i], NULL, err) == -1, "scale '%s'",
		    bad_scales[i]);
		ck_assert_str_eq(err, "scale must be 1/2, 1/4, 1/8, 1/1 or auto");
	}
	for (size_t i = 0; i < FR_ARRAY_LEN(bad_qs); i++) {
		ck_assert_msg(fr_scale_spec_parse(&s, "1/2", bad_qs[i], err) == -1, "q '%s'",
		    bad_qs[i]);
		ck_assert_str_eq(err, "q must be a whole number from 1 to 100");
	}
}
END_TEST

#ifdef HAVE_TURBOJPEG
#include <turbojpeg.h>

static struct fr_scaler *scaler;

static void
setup(void)
{
	char err[FR_ERR_LEN];

	scaler = fr_scaler_new(err);
	ck_assert_msg(scaler != NULL, "%s", err);
}

static void
teardown(void)
{
	fr_scaler_free(scaler);
	scaler = NULL;
}

struct info {
	int w, h, subsamp;
};

/* Decodes all of jpeg to RGB and fails on any error or warning; returns its header. */
static struct info
decode_strictly(const uint8_t *jpeg, size_t len)
{
	tjhandle tj = tjInitDecompress();
	struct info in;
	int cs;

	ck_assert_ptr_nonnull(tj);
	ck_assert_int_eq(tjDecompressHeader3(tj, jpeg, len, &in.w, &in.h, &in.subsamp, &cs), 0);
	uint8_t *rgb = malloc((size_t)in.w * (size_t)in.h * 3);
	ck_assert_ptr_nonnull(rgb);
	ck_assert_msg(tjDecompress2(tj, jpeg, len, rgb, in.w, 0, in.h, TJPF_RGB,
	    TJFLAG_STOPONWARNING) == 0, "decode: %s", tjGetErrorStr2(tj));
	free(rgb);
	tjDestroy(tj);
	return in;
}

/* Scales fixture name by denom and checks size, subsampling and quality. */
static void
check_fixture(const char *name, unsigned denom, int quality, int want_w, int want_h)
{
	size_t len;
	uint8_t *src = fixture_bytes(name, &len);
	struct info si = decode_strictly(src, len);
	struct fr_scaled out;
	char err[FR_ERR_LEN];

	ck_assert_msg(fr_scaler_scale(scaler, src, len, denom, quality, &out, err) == 0,
	    "%s 1/%u: %s", name, denom, err);
	struct info oi = decode_strictly(out.data, out.len);
	ck_assert_int_eq(oi.w, want_w);
	ck_assert_int_eq(oi.h, want_h);
	ck_assert_int_eq(out.width, want_w);
	ck_assert_int_eq(out.height, want_h);
	ck_assert_int_eq(oi.subsamp, si.subsamp);
	int want_q = quality > 0 ? quality : fr_quality_estimate(src, len, NULL);
	ck_assert_int_eq(out.quality, want_q);
	ck_assert_int_eq(fr_quality_estimate(out.data, out.len, NULL), want_q);
	/* Baseline Huffman output (SOF0), whatever the source was. */
	ck_assert_ptr_nonnull(memmem(out.data, out.len, "\xff\xc0", 2));
	if (denom > 1)
		ck_assert_uint_lt(out.len, len);
	free(out.data);
	free(src);
}

START_TEST(test_1080p)
{
	check_fixture("large-1080p.jpg", 2, 0, 960, 540);
	check_fixture("large-1080p.jpg", 4, 0, 480, 270);
	check_fixture("large-1080p.jpg", 8, 0, 240, 135);
	check_fixture("large-1080p.jpg", 2, 30, 960, 540);
	check_fixture("large-1080p.jpg", 1, 20, 1920, 1080);
}
END_TEST

START_TEST(test_encoders)
{
	check_fixture("progressive.jpg", 2, 0, 160, 120);
	check_fixture("progressive.jpg", 8, 0, 40, 30);
	check_fixture("arithmetic.jpg", 4, 0, 80, 60);
	check_fixture("restart.jpg", 2, 0, 160, 120);
	check_fixture("dht-less.jpg", 2, 0, 160, 120);
	check_fixture("exif-thumbnail.jpg", 2, 90, 160, 120);
	check_fixture("fill-bytes.jpg", 4, 0, 80, 60);
}
END_TEST

/* The source's COM segments come right after the new SOI, byte for byte (a frame tag
 * there survives scaling); the encoder's JFIF APP0 follows. */
START_TEST(test_com_kept)
{
	size_t len;
	uint8_t *src = fixture_bytes("com-with-eoi.jpg", &len);
	struct fr_scaled out;
	char err[FR_ERR_LEN];

	ck_assert_int_eq(src[2], 0xFF);
	ck_assert_int_eq(src[3], 0xFE);
	size_t com_len = 2 + ((size_t)src[4] << 8 | src[5]);
	ck_assert_int_eq(fr_scaler_scale(scaler, src, len, 2, 0, &out, err), 0);
	ck_assert_mem_eq(out.data, "\xff\xd8", 2);
	ck_assert_mem_eq(out.data + 2, src + 2, com_len);
	ck_assert_mem_eq(out.data + 2 + com_len, "\xff\xe0", 2);
	decode_strictly(out.data, out.len);
	free(out.data);
	/* Without COM segments, the encoder's output as it is: SOI then APP0. */
	free(src);
	src = fixture_bytes("baseline.jpg", &len);
	ck_assert_int_eq(fr_scaler_scale(scaler, src, len, 2, 0, &out, err), 0);
	ck_assert_mem_eq(out.data, "\xff\xd8\xff\xe0", 4);
	free(out.data);
	free(src);
}
END_TEST

/* Pictures encoded here: grayscale, 4:4:4, 4:2:2, odd sizes (ceil(side / denom)). */
START_TEST(test_made_here)
{
	static const struct {
		int w, h, subsamp;
	} cases[] = {
		{ 321, 241, TJSAMP_GRAY }, { 100, 60, TJSAMP_444 }, { 33, 17, TJSAMP_422 },
		{ 1, 1, TJSAMP_420 }, { 7, 9, TJSAMP_420 },
	};
	tjhandle tj = tjInitCompress();

	for (size_t i = 0; i < FR_ARRAY_LEN(cases); i++) {
		int w = cases[i].w, h = cases[i].h;
		uint8_t *rgb = malloc((size_t)w * (size_t)h * 3);
		unsigned char *jpeg = NULL;
		unsigned long len = 0;

		for (size_t k = 0; k < (size_t)w * (size_t)h * 3; k++)
			rgb[k] = (uint8_t)(k * 13 + k / 301);
		ck_assert_int_eq(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &len,
		    cases[i].subsamp, 65, 0), 0);
		for (unsigned denom = 1; denom <= 8; denom *= 2) {
			struct fr_scaled out;
			char err[FR_ERR_LEN];

			ck_assert_msg(fr_scaler_scale(scaler, jpeg, len, denom, denom == 1 ? 50 : 0,
			    &out, err) == 0, "%dx%d 1/%u: %s", w, h, denom, err);
			struct info oi = decode_strictly(out.data, out.len);
			ck_assert_int_eq(oi.w, (w + (int)denom - 1) / (int)denom);
			ck_assert_int_eq(oi.h, (h + (int)denom - 1) / (int)denom);
			ck_assert_int_eq(oi.subsamp, cases[i].subsamp);
			ck_assert_int_eq(out.quality, denom == 1 ? 50 : 65);
			free(out.data);
		}
		tjFree(jpeg);
		free(rgb);
	}
	tjDestroy(tj);
}
END_TEST

/* What does not decode is an error with the decoder's words; the scaler goes on. */
START_TEST(test_undecodable)
{
	static const char *const names[] = { "junk.bin", "truncated-header.bin" };
	struct fr_scaled out;
	char err[FR_ERR_LEN];

	for (size_t i = 0; i < FR_ARRAY_LEN(names); i++) {
		size_t len;
		uint8_t *p = fixture_bytes(names[i], &len);

		err[0] = '\0';
		ck_assert_int_eq(fr_scaler_scale(scaler, p, len, 2, 0, &out, err), -1);
		ck_assert_ptr_null(out.data);
		ck_assert_str_eq(err, "no frame header (SOF) before the first scan");
		free(p);
	}
	size_t len;
	uint8_t *p = fixture_bytes("baseline.jpg", &len);
	ck_assert_int_eq(fr_scaler_scale(scaler, p, len, 3, 0, &out, err), -1);
	ck_assert_str_eq(err, "cannot scale 9003 bytes by 1/3");
	/* Still works after the failures. */
	ck_assert_int_eq(fr_scaler_scale(scaler, p, len, 2, 0, &out, err), 0);
	free(out.data);
	free(p);
}
END_TEST
#endif

static Suite *
scaler_suite(void)
{
	Suite *s = suite_create("scaler");

	fr_tcase(s, "spec", FR_TESTS(test_spec_parse, test_spec_bad));
#ifdef HAVE_TURBOJPEG
	TCase *tc = fr_tcase(s, "scale", FR_TESTS(test_1080p, test_encoders, test_com_kept,
	    test_made_here, test_undecodable));

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
#endif
	return s;
}

int
main(void)
{
	return fr_run_suite(scaler_suite());
}
