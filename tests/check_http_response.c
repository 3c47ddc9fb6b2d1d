/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the HTTP response head parser and the media type helpers. Every head is
 * fed at every chunking of chunking.h through a buffer whose visible length grows, with
 * the bytes already examined overwritten by NUL (which no valid head holds), as
 * check_http_parse does for requests. Heads from real servers (ffmpeg 5.1's listen mode,
 * framerouter's own, Python's http.server) sit next to hand-built ones.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/http_response.h"
#include "fr/multipart.h"

#include "chunking.h"
#include "helpers.h"
#include "suite.h"

/* ffmpeg -f lavfi -i testsrc2 -c:v mjpeg -f mpjpeg -listen 1 http://127.0.0.1:18555/ */
static const char ffmpeg_head[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n";

/* python3 -m http.server, GET /still.jpg */
static const char python_still[] =
    "HTTP/1.0 200 OK\r\n"
    "Server: SimpleHTTP/0.6 Python/3.11.2\r\n"
    "Date: Fri, 04 Dec 2026 14:30:00 GMT\r\n"
    "Content-type: image/jpeg\r\n"
    "Content-Length: 9455\r\n"
    "Last-Modified: Fri, 04 Dec 2026 14:02:00 GMT\r\n"
    "\r\n";

/* The shape of a small camera's stream answer: HTTP/1.0, bare LF, a quoted boundary. */
static const char camera_head[] =
    "HTTP/1.0 200 OK\n"
    "Connection: close\n"
    "Cache-Control: no-store\n"
    "Content-Type: multipart/x-mixed-replace; boundary=\"my boundary\"\n"
    "\n";

struct run {
	enum fr_http_parse_result res;
	size_t head_len;
	const char *error;
	size_t pos;		/* bytes the parser examined */
	struct fr_http_response resp;
};

static void
run_head_max(struct run *r, const void *in, size_t in_len, size_t max, int chunking)
{
	struct fr_http_response_parser p;
	struct growing_input g;

	fr_http_response_parser_init(&p, max);
	growing_input_init(&g, in, in_len, (enum chunking)chunking);
	r->res = FR_HTTP_PARSE_MORE;
	do {
		growing_input_next(&g);
		r->res = fr_http_response_parse(&p, g.buf, g.visible, &r->resp);
	} while (r->res == FR_HTTP_PARSE_MORE && g.visible < in_len);
	r->head_len = p.head_len;
	r->error = p.error;
	r->pos = p.pos;
	if (r->res != FR_HTTP_PARSE_MORE) {
		struct fr_http_response before = r->resp;

		REQUIRE(fr_http_response_parse(&p, g.buf, g.visible, &r->resp) == r->res &&
		    p.head_len == r->head_len, "%s: a call after the end changed the result",
		    chunking_name(chunking));
		REQUIRE(memcmp(&before, &r->resp, sizeof before) == 0,
		    "%s: a call after the end changed the response", chunking_name(chunking));
	}
	growing_input_free(&g);
}

static void
run_str(struct run *r, const char *in, int chunking)
{
	run_head_max(r, in, strlen(in), 0, chunking);
}

static void
check_done(const struct run *r, size_t head_len, int status, const char *what, int chunking)
{
	ck_assert_msg(r->res == FR_HTTP_PARSE_DONE, "%s (%s): result %d (%s), want DONE", what,
	    chunking_name(chunking), r->res, r->error ? r->error : "");
	ck_assert_msg(r->head_len == head_len, "%s (%s): head_len %zu, want %zu", what,
	    chunking_name(chunking), r->head_len, head_len);
	ck_assert_int_eq(r->resp.status, status);
	ck_assert_ptr_null(r->error);
}

static void
check_error(const struct run *r, const char *error, const char *what, int chunking)
{
	ck_assert_msg(r->res == FR_HTTP_PARSE_ERROR, "%s (%s): result %d, want ERROR (%s)", what,
	    chunking_name(chunking), r->res, error);
	ck_assert_msg(r->error != NULL && strcmp(r->error, error) == 0, "%s (%s): error '%s', "
	    "want '%s'", what, chunking_name(chunking), r->error ? r->error : "", error);
}

/* ---- real servers ---- */

START_TEST(test_real_ffmpeg)
{
	struct run r;
	char in[256];

	/* The body follows at once and must not be examined. */
	snprintf(in, sizeof in, "%s%s", ffmpeg_head, "24b3\r\n--ffmpeg\r\n");
	run_str(&r, in, _i);
	check_done(&r, strlen(ffmpeg_head), 200, "ffmpeg", _i);
	ck_assert_uint_eq(r.pos, strlen(ffmpeg_head));
	ck_assert_str_eq(r.resp.reason, "OK");
	ck_assert_str_eq(r.resp.content_type, "application/octet-stream");
	ck_assert(r.resp.is_chunked);
	ck_assert(!r.resp.has_content_length);
	ck_assert(r.resp.is_keep_alive);
	ck_assert_int_eq(r.resp.minor_version, 1);
	ck_assert_uint_eq(r.resp.header_count, 2);
}
END_TEST

START_TEST(test_real_framerouter)
{
	struct run r;
	size_t len;
	const char *head = fr_multipart_response_head(&len);
	char boundary[80];

	run_head_max(&r, head, len, 0, _i);
	check_done(&r, len, 200, "framerouter", _i);
	ck_assert(fr_http_media_type_is(r.resp.content_type, "multipart/x-mixed-replace"));
	ck_assert(fr_http_media_type_is(r.resp.content_type, "multipart/*"));
	ck_assert(fr_http_boundary(r.resp.content_type, boundary, sizeof boundary));
	ck_assert_str_eq(boundary, "framerouter-frame");
	ck_assert(!r.resp.is_keep_alive);	/* Connection: close */
	ck_assert(!r.resp.is_chunked && !r.resp.has_content_length);
}
END_TEST

START_TEST(test_real_python_still)
{
	struct run r;

	run_str(&r, python_still, _i);
	check_done(&r, strlen(python_still), 200, "python", _i);
	ck_assert_str_eq(r.resp.content_type, "image/jpeg");
	ck_assert(r.resp.has_content_length);
	ck_assert_uint_eq(r.resp.content_length, 9455);
	ck_assert_int_eq(r.resp.minor_version, 0);
	ck_assert(!r.resp.is_keep_alive);	/* HTTP/1.0 without keep-alive */
}
END_TEST

START_TEST(test_real_camera)
{
	struct run r;
	char boundary[80];

	run_str(&r, camera_head, _i);
	check_done(&r, strlen(camera_head), 200, "camera", _i);
	ck_assert(fr_http_boundary(r.resp.content_type, boundary, sizeof boundary));
	ck_assert_str_eq(boundary, "my boundary");
}
END_TEST

/* ---- status lines ---- */

START_TEST(test_status_lines)
{
	static const struct {
		const char *in;
		int status;
		const char *reason;
	} good[] = {
		{ "HTTP/1.1 404 Not Found\r\n\r\n", 404, "Not Found" },
		{ "HTTP/1.1 200\r\n\r\n", 200, "" },
		{ "HTTP/1.1 200 \r\n\r\n", 200, "" },
		{ "HTTP/1.0  503 Busy\n\n", 503, "Busy" },
		{ "\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, "No Content" },
		{ "HTTP/1.9 599 x\ty\r\n\r\n", 599, "x\ty" },
		{ "HTTP/1.1 200 caf\xc3\xa9\r\n\r\n", 200, "caf" },
	};
	static const struct {
		const char *in, *error;
	} bad[] = {
		{ "HTTP/2 200 OK\r\n\r\n", "not an HTTP/1.x response" },
		{ "ICY 200 OK\r\n\r\n", "not an HTTP/1.x response" },
		{ "http/1.1 200 OK\r\n\r\n", "not an HTTP/1.x response" },
		{ "<html>\r\n", "not an HTTP/1.x response" },
		{ "HTTP/1.1 20x OK\r\n\r\n", "malformed status code" },
		{ "HTTP/1.1 099 Low\r\n\r\n", "status code out of range" },
		{ "HTTP/1.1 600 High\r\n\r\n", "status code out of range" },
		{ "HTTP/1.1 2000 OK\r\n\r\n", "malformed status line" },
		{ "HTTP/1.1 200 O\x01K\r\n\r\n", "control byte in the reason phrase" },
		{ "HTTP/1.1 200 OK\rX\r\n\r\n", "bare CR in the status line" },
		{ "HTTP/1.1 101 Switching Protocols\r\n\r\n", "unasked-for protocol switch (101)" },
	};
	struct run r;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		run_str(&r, good[i].in, _i);
		check_done(&r, strlen(good[i].in), good[i].status, good[i].in, _i);
		ck_assert_str_eq(r.resp.reason, good[i].reason);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		run_str(&r, bad[i].in, _i);
		check_error(&r, bad[i].error, bad[i].in, _i);
	}
}
END_TEST

/* Interim 1xx heads come before the final one and are skipped. */
START_TEST(test_interim)
{
	static const char in[] = "HTTP/1.1 100 Continue\r\n\r\n"
				 "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
				 "HTTP/1.1 302 Found\r\nLocation: /b\r\n\r\nbody";
	struct run r;

	run_str(&r, in, _i);
	check_done(&r, strlen(in) - 4, 302, "interim", _i);
	ck_assert_str_eq(r.resp.location, "/b");
	ck_assert_str_eq(r.resp.reason, "Found");
	ck_assert_uint_eq(r.resp.header_count, 1);	/* the final head's */
}
END_TEST

/* ---- fields ---- */

START_TEST(test_fields)
{
	struct run r;

	run_str(&r, "HTTP/1.1 200 OK\r\nContent-Length: 12, 12\r\nCONTENT-TYPE :  image/jpeg  \r\n"
	    "Location:\t/x y \r\nX-Other: \x80\xff\r\n\r\n", _i);
	check_done(&r, r.head_len, 200, "fields", _i);
	ck_assert(r.resp.has_content_length);
	ck_assert_uint_eq(r.resp.content_length, 12);
	ck_assert_str_eq(r.resp.content_type, "image/jpeg");
	ck_assert_str_eq(r.resp.location, "/x y");

	/* Transfer-Encoding overrides Content-Length (RFC 9112 6.3). */
	run_str(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: Chunked\r\n\r\n",
	    _i);
	check_done(&r, r.head_len, 200, "te over cl", _i);
	ck_assert(r.resp.is_chunked && !r.resp.has_content_length);
	ck_assert_uint_eq(r.resp.content_length, 0);

	/* Blanks before a colon are dropped; a colon in a value is just a byte. */
	run_str(&r, "HTTP/1.1 200 OK\r\nX : a : b\r\nLocation : /c:d\r\n\r\n", _i);
	check_done(&r, r.head_len, 200, "blank before colon", _i);
	ck_assert_str_eq(r.resp.location, "/c:d");

	run_str(&r, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", _i);
	ck_assert(r.resp.is_keep_alive);
	run_str(&r, "HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\n\r\n", _i);
	ck_assert(!r.resp.is_keep_alive);
}
END_TEST

START_TEST(test_field_errors)
{
	static const struct {
		const char *in, *error;
	} bad[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		  "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		  "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		  "unsupported transfer coding" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		  "unsupported transfer coding" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "empty Transfer-Encoding" },
		{ "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
		  "more than one Content-Type" },
		{ "HTTP/1.1 301 OK\r\nLocation: /a\r\nLocation: /b\r\n\r\n",
		  "more than one Location" },
		{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obsolete line folding in a header" },
		{ "HTTP/1.1 200 OK\r\nX Y: a\r\n\r\n", "invalid byte in a field name" },
		{ "HTTP/1.1 200 OK\r\n(X): a\r\n\r\n", "invalid byte in a field name" },
		{ "HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", "control byte in a field value" },
		{ "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare CR in a field line" },
		{ "HTTP/1.1 200 OK\r\n\rX", "bare CR at the end of the head" },
	};
	struct run r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		run_str(&r, bad[i].in, _i);
		check_error(&r, bad[i].error, bad[i].in, _i);
	}
}
END_TEST

/* Caps: the head, its fields, one field's value. Nothing past the cap is examined. */
START_TEST(test_limits)
{
	char *in = malloc(40000);
	struct run r;
	size_t n;

	ck_assert_ptr_nonnull(in);
	/* An endless header: cut at the cap, having examined exactly the cap. */
	n = (size_t)sprintf(in, "HTTP/1.1 200 OK\r\nX-Endless: ");
	memset(in + n, 'a', 30000);
	in[n + 30000] = '\0';
	run_head_max(&r, in, strlen(in), 1000, _i);
	check_error(&r, "response head too large", "endless", _i);
	ck_assert_uint_le(r.pos, 1000);
	run_str(&r, in, _i);
	check_error(&r, "response head too large", "endless at the default", _i);
	ck_assert_uint_eq(r.pos, FR_HTTP_RESPONSE_HEAD_MAX_DEFAULT);

	/* Endless field lines, each short. */
	n = (size_t)sprintf(in, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < FR_HTTP_RESPONSE_HEADERS_MAX; i++)
		n += (size_t)sprintf(in + n, "X-%d: y\r\n", i);
	sprintf(in + n, "\r\n");
	run_str(&r, in, _i);
	check_done(&r, strlen(in), 200, "100 fields", _i);
	sprintf(in + n, "Z: 1\r\n\r\n");
	run_str(&r, in, _i);
	check_error(&r, "too many header fields", "101 fields", _i);

	/* A Location of exactly the maximum fits; one more byte does not. */
	n = (size_t)sprintf(in, "HTTP/1.1 302 Found\r\nLocation: /");
	memset(in + n, 'l', FR_HTTP_LOCATION_MAX - 1);
	strcpy(in + n + FR_HTTP_LOCATION_MAX - 1, "\r\n\r\n");
	run_str(&r, in, _i);
	check_done(&r, strlen(in), 302, "long location", _i);
	ck_assert_uint_eq(strlen(r.resp.location), FR_HTTP_LOCATION_MAX);
	strcpy(in + n + FR_HTTP_LOCATION_MAX - 1, "l\r\n\r\n");
	run_str(&r, in, _i);
	check_error(&r, "header field value too long", "too long location", _i);

	n = (size_t)sprintf(in, "HTTP/1.1 200 OK\r\nContent-Type: a/");
	memset(in + n, 'b', FR_HTTP_CONTENT_TYPE_MAX);
	strcpy(in + n + FR_HTTP_CONTENT_TYPE_MAX, "\r\n\r\n");
	run_str(&r, in, _i);
	check_error(&r, "Content-Type too long", "too long content-type", _i);
	free(in);
}
END_TEST

/* ---- media types ---- */

START_TEST(test_media_types)
{
	ck_assert(fr_http_media_type_is("image/jpeg", "image/jpeg"));
	ck_assert(fr_http_media_type_is(" Image/JPEG ; q=1", "image/jpeg"));
	ck_assert(!fr_http_media_type_is("image/jpegx", "image/jpeg"));
	ck_assert(!fr_http_media_type_is("image/jpe", "image/jpeg"));
	ck_assert(!fr_http_media_type_is("", "image/jpeg"));
	ck_assert(fr_http_media_type_is("multipart/x-mixed-replace;boundary=a", "multipart/*"));
	ck_assert(fr_http_media_type_is("MULTIPART/mixed", "multipart/*"));
	ck_assert(!fr_http_media_type_is("multipart/", "multipart/*"));
	ck_assert(!fr_http_media_type_is("multipartx/y", "multipart/*"));
	ck_assert(!fr_http_media_type_is("text/html; charset=utf-8", "multipart/*"));
}
END_TEST

START_TEST(test_boundaries)
{
	static const struct {
		const char *ct, *boundary;
	} cases[] = {
		{ "multipart/x-mixed-replace;boundary=frame", "frame" },
		{ "multipart/x-mixed-replace; boundary=--myboundary", "--myboundary" },
		{ "multipart/x-mixed-replace; charset=x; BOUNDARY = \"a b\\\"c\" ; x=y", "a b\"c" },
		{ "multipart/x-mixed-replace; x=\"boundary=no;\"; boundary=yes", "yes" },
		{ "multipart/x-mixed-replace", NULL },
		{ "multipart/x-mixed-replace; boundary=", NULL },
		{ "multipart/x-mixed-replace; boundary=\"unterminated", NULL },
		{ "multipart/x-mixed-replace; boundary="
		  "12345678901234567890123456789012345678901234567890123456789012345678901", NULL },
	};
	char out[FR_HTTP_CONTENT_TYPE_MAX + 1];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool ok = fr_http_boundary(cases[i].ct, out, sizeof out);

		ck_assert_msg(ok == (cases[i].boundary != NULL), "%s", cases[i].ct);
		ck_assert_str_eq(out, cases[i].boundary ? cases[i].boundary : "");
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http_response");

	fr_tcase_loop(s, "real servers", FR_TESTS(test_real_ffmpeg, test_real_framerouter,
	    test_real_python_still, test_real_camera), CHUNKINGS);

	TCase *tc = fr_tcase_loop(s, "heads", FR_TESTS(test_status_lines, test_interim,
	    test_fields, test_field_errors, test_limits), CHUNKINGS);

	tcase_set_timeout(tc, 60);

	fr_tcase(s, "media types", FR_TESTS(test_media_types, test_boundaries));
	return fr_run_suite(s);
}
