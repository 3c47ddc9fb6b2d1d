/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the multipart/x-mixed-replace body parser. Every body is fed at every
 * chunking of chunking.h, each call given exactly the bytes not yet consumed (so ASan sees
 * any read past them), and the part bodies it hands back are compared byte for byte with
 * what was framed. Bodies come from framerouter's own writer (multipart.c, both styles),
 * from ffmpeg's mpjpeg muxer (a captured prefix), and from hand-built servers' quirks.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/multipart.h"
#include "fr/multipart_parse.h"

#include "chunking.h"
#include "helpers.h"
#include "suite.h"

enum { MAX_PARTS = 64 };

/* What the parser made of a body. */
struct outcome {
	struct bytes parts[MAX_PARTS];	/* the bodies, as handed back */
	size_t n_parts;			/* PART_ENDs */
	bool is_in_part;		/* DATA came after the last PART_END */
	enum fr_multipart_result end;	/* MORE (input ran out), DONE or ERROR */
	const char *error;
	uint64_t parts_begun;
	char boundary[FR_MULTIPART_BOUNDARY_MAX + 1];
};

static void
outcome_free(struct outcome *o)
{
	for (size_t i = 0; i < MAX_PARTS; i++)
		bytes_free(&o->parts[i]);
}

/*
 * Feeds in[0, len) to a parser for boundary at a chunking: each call gets a fresh buffer
 * holding exactly what was not consumed before and the next chunk.
 */
static void
run(struct outcome *o, const char *boundary, const void *in, size_t len, int chunking)
{
	struct fr_multipart_parser p;
	struct chunker c;
	size_t fed = 0, off = 0;	/* in[off, fed) is given, not yet consumed */

	memset(o, 0, sizeof *o);
	fr_multipart_parser_init(&p, boundary);
	chunker_init(&c, (enum chunking)chunking);
	o->end = FR_MULTIPART_MORE;
	for (;;) {
		if (fed < len)
			fed += chunker_next(&c, len - fed);
		size_t n = fed - off;
		uint8_t *buf = malloc(n > 0 ? n : 1);
		REQUIRE(buf != NULL, "out of memory");
		memcpy(buf, (const uint8_t *)in + off, n);
		size_t at = 0;
		enum fr_multipart_result r;
		do {
			const uint8_t *data;
			size_t used, dlen;

			r = fr_multipart_parse(&p, buf + at, n - at, &used, &data, &dlen);
			REQUIRE(used <= n - at, "consumed more than given");
			at += used;
			if (r == FR_MULTIPART_DATA) {
				REQUIRE(dlen > 0 && data != NULL, "empty DATA");
				REQUIRE(o->n_parts < MAX_PARTS, "too many parts");
				bytes_add(&o->parts[o->n_parts], data, dlen);
				o->is_in_part = true;
			} else if (r == FR_MULTIPART_PART_END) {
				o->n_parts++;
				o->is_in_part = false;
			} else if (r == FR_MULTIPART_MORE) {
				REQUIRE(at == n, "MORE before the end of the input");
			}
		} while (r == FR_MULTIPART_DATA || r == FR_MULTIPART_PART_END);
		free(buf);
		off += at;
		if (r == FR_MULTIPART_DONE || r == FR_MULTIPART_ERROR) {
			o->end = r;
			break;
		}
		if (fed == len)
			break;
	}
	o->error = p.error;
	o->parts_begun = p.parts;
	memcpy(o->boundary, p.boundary, sizeof o->boundary);
	/* DONE and ERROR stick. */
	if (o->end != FR_MULTIPART_MORE) {
		const uint8_t *data;
		size_t used, dlen;

		REQUIRE(fr_multipart_parse(&p, (const uint8_t *)"x", 1, &used, &data, &dlen) ==
		    o->end && used == 0, "a finished parser changed its answer");
	}
}

static void
check_parts(const struct outcome *o, const struct bytes *want, size_t n, const char *what,
    int chunking)
{
	ck_assert_msg(o->n_parts == n, "%s (%s): %zu parts, want %zu (%s)", what,
	    chunking_name(chunking), o->n_parts, n, o->error ? o->error : "no error");
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(o->parts[i].len == want[i].len, "%s (%s): part %zu is %zu bytes, "
		    "want %zu", what, chunking_name(chunking), i, o->parts[i].len, want[i].len);
		ck_assert_msg(
		    want[i].len == 0 || memcmp(o->parts[i].p, want[i].p, want[i].len) == 0,
		    "%s (%s): part %zu differs", what, chunking_name(chunking), i);
	}
}

/* Bodies full of near-boundaries: CRs, CR LFs, dashes and boundary prefixes. */
static void
tricky_payload(struct bytes *b, const char *boundary, struct test_rng *rng, size_t len)
{
	char pieces[6][96];

	snprintf(pieces[0], sizeof pieces[0], "\r");
	snprintf(pieces[1], sizeof pieces[1], "\r\n");
	snprintf(pieces[2], sizeof pieces[2], "\r\n-");
	snprintf(pieces[3], sizeof pieces[3], "\r\n--");
	snprintf(pieces[4], sizeof pieces[4], "\r\n--%.*s", (int)strlen(boundary) - 1, boundary);
	snprintf(pieces[5], sizeof pieces[5], "\r\r\n\r\n--%.*s\r", (int)strlen(boundary) / 2,
	    boundary);
	char delim[4 + FR_MULTIPART_BOUNDARY_MAX + 1];
	snprintf(delim, sizeof delim, "\r\n--%s", boundary);
	do {	/* RFC 2046 5.1.1: a body never holds its delimiter */
		b->len = 0;
		while (b->len < len) {
			uint64_t x = test_rng_next(rng);

			if (x % 3 == 0) {
				const char *s = pieces[(x >> 8) % 6];

				bytes_add(b, s, strlen(s));
			} else {
				uint8_t c = (uint8_t)(x >> 16);

				bytes_add(b, &c, 1);
			}
		}
	} while (b->len > 0 && memmem(b->p, b->len, delim, strlen(delim)) != NULL);
	if (b->p == NULL)
		bytes_add(b, "", 0);
}

/* ---- framerouter's own output ---- */

START_TEST(test_framerouter_plain)
{
	struct bytes body = { 0 }, want[4] = { { 0 } };
	struct test_rng rng;
	struct outcome o;
	size_t len;
	char head[FR_MULTIPART_PART_HEAD_MAX];

	test_rng_init(&rng, 1);
	/* The preamble includes the response head: skip it as the puller does. */
	const char *pre = fr_multipart_preamble(FR_MULTIPART_PLAIN, &len);
	const char *hdr_end = strstr(pre, "\r\n\r\n") + 4;
	bytes_add(&body, hdr_end, len - (size_t)(hdr_end - pre));
	for (int i = 0; i < 4; i++) {
		tricky_payload(&want[i], "framerouter-frame", &rng, 100 + 700 * (size_t)i);
		size_t n = fr_multipart_part_head(head, sizeof head, want[i].len);
		bytes_add(&body, head, n);
		bytes_add(&body, want[i].p, want[i].len);
		const char *tail = fr_multipart_part_tail(FR_MULTIPART_PLAIN, &len);
		bytes_add(&body, tail, len);
	}
	run(&o, "framerouter-frame", body.p, body.len, _i);
	check_parts(&o, want, 4, "plain", _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_MORE);
	ck_assert(!o.is_in_part);
	ck_assert_uint_eq(o.parts_begun, 4);
	outcome_free(&o);
	/* Without a declared boundary, the first line gives it. */
	run(&o, NULL, body.p, body.len, _i);
	check_parts(&o, want, 4, "plain, learnt", _i);
	ck_assert_str_eq(o.boundary, "framerouter-frame");
	outcome_free(&o);
	for (int i = 0; i < 4; i++)
		bytes_free(&want[i]);
	bytes_free(&body);
}
END_TEST

/* Advance style: no Content-Length, so each body ends at the next boundary. */
START_TEST(test_framerouter_advance)
{
	struct bytes body = { 0 }, want[5] = { { 0 } };
	struct test_rng rng;
	struct outcome o;
	size_t len;

	test_rng_init(&rng, 2);
	const char *pre = fr_multipart_preamble(FR_MULTIPART_ADVANCE, &len);
	const char *hdr_end = strstr(pre, "\r\n\r\n") + 4;
	bytes_add(&body, hdr_end, len - (size_t)(hdr_end - pre));
	for (int i = 0; i < 5; i++) {
		tricky_payload(&want[i], "framerouter-frame", &rng, 1 + 997 * (size_t)i);
		bytes_add(&body, want[i].p, want[i].len);
		const char *tail = fr_multipart_part_tail(FR_MULTIPART_ADVANCE, &len);
		bytes_add(&body, tail, len);
	}
	run(&o, "framerouter-frame", body.p, body.len, _i);
	check_parts(&o, want, 5, "advance", _i);
	/* The sixth part has begun (its headers came with the fifth's tail). */
	ck_assert_uint_eq(o.parts_begun, 6);
	ck_assert(!o.is_in_part);
	outcome_free(&o);
	for (int i = 0; i < 5; i++)
		bytes_free(&want[i]);
	bytes_free(&body);
}
END_TEST

/* ffmpeg's mpjpeg muxer: "--ffmpeg" lines, Content-length, a CR LF after each frame. */
START_TEST(test_ffmpeg_mpjpeg)
{
	static const char frame1[] = "\xff\xd8\xff\xe0\x00\x10JFIF\r\n--ffmpe\xff\xd9";
	static const char frame2[] = "\xff\xd8\r\n--ffmpeg\xff\xd9";	/* counted, not scanned */
	struct bytes body = { 0 }, want[2] = { { 0 } };
	struct outcome o;
	char head[128];

	bytes_add(&want[0], frame1, sizeof frame1 - 1);
	bytes_add(&want[1], frame2, sizeof frame2 - 1);
	for (int i = 0; i < 2; i++) {
		snprintf(head, sizeof head, "--ffmpeg\r\nContent-type: image/jpeg\r\n"
		    "Content-length: %zu\r\n\r\n", want[i].len);
		bytes_str(&body, head);
		bytes_add(&body, want[i].p, want[i].len);
		bytes_str(&body, "\r\n");
	}
	run(&o, NULL, body.p, body.len, _i);
	check_parts(&o, want, 2, "ffmpeg", _i);
	ck_assert_str_eq(o.boundary, "ffmpeg");
	ck_assert_int_eq(o.end, FR_MULTIPART_MORE);
	outcome_free(&o);
	for (int i = 0; i < 2; i++)
		bytes_free(&want[i]);
	bytes_free(&body);
}
END_TEST

/* ---- what servers get wrong, and what the format allows ---- */

START_TEST(test_quirks)
{
	struct bytes want[3] = { { 0 } };
	struct outcome o;

	bytes_str(&want[0], "one");
	bytes_str(&want[1], "\xff\xd8two");
	bytes_str(&want[2], "");

	/* A preamble, transport padding, a gap of CR LFs after a Content-Length body, a part
	 * without headers, "--b" without the CR LF after a counted body, an empty part. */
	static const char body[] =
	    "This is a preamble.\r\n--b \t\r\n"
	    "Content-Length: 3\r\n\r\none\r\n\r\n\r\n--b\r\n"
	    "\xff\xd8two\r\n--b\r\nContent-Length: 0\r\n\r\n--b--\r\nepilogue";
	run(&o, "b", body, sizeof body - 1, _i);
	check_parts(&o, want, 3, "quirks", _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_DONE);
	outcome_free(&o);

	/* A declared boundary that already starts with "--", used as the whole line. */
	static const char dashes[] = "--myb\r\n\r\none\r\n--myb\r\n\r\n\xff\xd8two\r\n--myb--";
	run(&o, "--myb", dashes, sizeof dashes - 1, _i);
	check_parts(&o, want, 2, "dashes", _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_DONE);
	ck_assert_str_eq(o.boundary, "myb");
	outcome_free(&o);

	/* ... and the same declared boundary used correctly. */
	static const char dashes_ok[] = "----myb\r\n\r\none\r\n----myb\r\n";
	run(&o, "--myb", dashes_ok, sizeof dashes_ok - 1, _i);
	check_parts(&o, want, 1, "dashes ok", _i);
	ck_assert_str_eq(o.boundary, "--myb");
	outcome_free(&o);

	/* Bare LF line ends in part heads, and a boundary line that is only a prefix. */
	static const char lf[] = "--b\nContent-Length: 3\n\none\r\n--b\n\n\xff\xd8two\r\n--bx";
	run(&o, "b", lf, sizeof lf - 1, _i);
	check_parts(&o, want, 2, "bare LF", _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_ERROR);
	ck_assert_str_eq(o.error, "boundary followed by more than its line end");
	outcome_free(&o);

	/* A learnt boundary with a CR in it: "\r\n--\ra" has a border ("\r"), so a body
	 * ending "\r\n--" right before the delimiter needs the matcher to fall back to
	 * it rather than to nothing. */
	static const char cr_boundary[] =
	    "--\ra\r\n\r\nx\r\n--\r\n--\ra\r\n\r\n\xff\xd8two\r\n--\ra--";
	struct bytes cr_want[2] = { { 0 } };
	bytes_str(&cr_want[0], "x\r\n--");
	bytes_str(&cr_want[1], "\xff\xd8two");
	run(&o, NULL, cr_boundary, sizeof cr_boundary - 1, _i);
	check_parts(&o, cr_want, 2, "CR in the boundary", _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_DONE);
	outcome_free(&o);
	bytes_free(&cr_want[0]);
	bytes_free(&cr_want[1]);

	/* A close delimiter first: nothing at all. */
	run(&o, "b", "--b--\r\n", 7, _i);
	check_parts(&o, want, 0, "empty", _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_DONE);
	outcome_free(&o);

	/* A part whose body is still coming: DATA so far, no PART_END. */
	run(&o, "b", "--b\r\n\r\nabc", 10, _i);
	ck_assert_uint_eq(o.n_parts, 0);
	ck_assert(o.is_in_part);
	ck_assert_uint_eq(o.parts[0].len, 3);
	outcome_free(&o);
	for (int i = 0; i < 3; i++)
		bytes_free(&want[i]);
}
END_TEST

START_TEST(test_errors)
{
	char *big = malloc(20000);
	struct outcome o;
	size_t n;

	ck_assert_ptr_nonnull(big);
	/* No boundary line in the first 4096 bytes. */
	memset(big, 'x', 5000);
	big[100] = '\n';
	run(&o, "b", big, 5000, _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_ERROR);
	ck_assert_str_eq(o.error, "no boundary line at the start");
	outcome_free(&o);

	/* An endless part header. */
	n = (size_t)sprintf(big, "--b\r\nX-Endless: ");
	memset(big + n, 'h', 10000);
	run(&o, "b", big, n + 10000, _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_ERROR);
	ck_assert_str_eq(o.error, "part header too large");
	outcome_free(&o);

	static const char bad_length[] = "--b\r\nContent-Length: 12x\r\n\r\n";
	run(&o, "b", bad_length, sizeof bad_length - 1, _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_ERROR);
	ck_assert_str_eq(o.error, "bad Content-Length in a part");
	outcome_free(&o);

	/* A Content-Length that lies short: more than the gap allows before a boundary. */
	n = (size_t)sprintf(big, "--b\r\nContent-Length: 1\r\n\r\n");
	memset(big + n, 'y', 6000);
	run(&o, "b", big, n + 6000, _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_ERROR);
	ck_assert_str_eq(o.error, "no boundary after a part's Content-Length");
	ck_assert_uint_eq(o.n_parts, 1);
	ck_assert_uint_eq(o.parts[0].len, 1);
	outcome_free(&o);

	static const char bare_cr[] = "--b\rX";
	run(&o, "b", bare_cr, sizeof bare_cr - 1, _i);	/* no line end yet: preamble */
	ck_assert_int_eq(o.end, FR_MULTIPART_MORE);
	outcome_free(&o);
	static const char cr_after[] = "--b\r\n\r\nx\r\n--b\rX";
	run(&o, "b", cr_after, sizeof cr_after - 1, _i);
	ck_assert_int_eq(o.end, FR_MULTIPART_ERROR);
	ck_assert_str_eq(o.error, "bare CR after a boundary");
	outcome_free(&o);
	free(big);
}
END_TEST

/* Random near-boundary bodies, random boundaries, both framings: always exact. */
START_TEST(test_random)
{
	struct test_rng rng;

	test_rng_init(&rng, 0x5eed + (uint64_t)_i);
	for (int round = 0; round < 20; round++) {
		char boundary[FR_MULTIPART_BOUNDARY_MAX + 1];
		size_t blen = 1 + test_rng_below(&rng, FR_MULTIPART_BOUNDARY_MAX);
		struct bytes body = { 0 }, want[6] = { { 0 } };
		struct outcome o;

		for (size_t i = 0; i < blen; i++)	/* repetitive, to stress the matcher */
			boundary[i] = "ab-"[test_rng_below(&rng, 3)];
		boundary[blen] = '\0';
		bytes_str(&body, "--");
		bytes_str(&body, boundary);
		bytes_str(&body, "\r\n");
		for (int i = 0; i < 6; i++) {
			bool has_length = test_rng_below(&rng, 2) == 0;
			char head[64];

			tricky_payload(&want[i], boundary, &rng, test_rng_below(&rng, 3000));
			if (has_length) {
				snprintf(head, sizeof head, "Content-Length: %zu\r\n", want[i].len);
				bytes_str(&body, head);
			}
			bytes_str(&body, "Content-Type: image/jpeg\r\n\r\n");
			bytes_add(&body, want[i].p, want[i].len);
			bytes_str(&body, "\r\n--");
			bytes_str(&body, boundary);
			bytes_str(&body, i == 5 ? "--\r\n" : "\r\n");
		}
		run(&o, boundary, body.p, body.len, _i);
		check_parts(&o, want, 6, boundary, _i);
		ck_assert_int_eq(o.end, FR_MULTIPART_DONE);
		outcome_free(&o);
		for (int i = 0; i < 6; i++)
			bytes_free(&want[i]);
		bytes_free(&body);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("multipart_parse");

	fr_tcase_loop(s, "servers", FR_TESTS(test_framerouter_plain, test_framerouter_advance,
	    test_ffmpeg_mpjpeg), CHUNKINGS);

	chunked_tcase(s, "format", FR_TESTS(test_quirks, test_errors, test_random));
	return fr_run_suite(s);
}
