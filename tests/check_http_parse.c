/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the HTTP request parser. Every test feeds its input at every chunking of
 * chunking.h: request heads through a buffer whose visible length grows (with the bytes
 * already examined overwritten, to prove they are never read again), chunked bodies piece
 * by piece. Heads from real clients (curl 7.88, ffmpeg 5.1) sit next to hand-built ones.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/http_parse.h"

#include "chunking.h"
#include "helpers.h"
#include "suite.h"

/* A string literal with its length, so that inputs may hold NUL bytes. */
struct text {
	const char *p;
	size_t len;
};
#define TEXT(s) { (s), sizeof(s) - 1 }

/* ---- heads from real clients, captured with a listening socket ---- */

/* curl 'http://127.0.0.1:18082/stream/default?fps=10' */
static const char curl_get[] =
    "GET /stream/default?fps=10 HTTP/1.1\r\n"
    "Host: 127.0.0.1:18082\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

/* curl -I http://127.0.0.1:18088/snapshot/default */
static const char curl_head[] =
    "HEAD /snapshot/default HTTP/1.1\r\n"
    "Host: 127.0.0.1:18088\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

/* curl -0 -H 'Connection: keep-alive' http://127.0.0.1:18087/snapshot/cam1 */
static const char curl_http10[] =
    "GET /snapshot/cam1 HTTP/1.0\r\n"
    "Host: 127.0.0.1:18087\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

/* printf hello | curl -T - -H 'Authorization: Bearer s3cret' http://127.0.0.1:18083/ingest/cam2 */
static const char curl_put[] =
    "PUT /ingest/cam2 HTTP/1.1\r\n"
    "Host: 127.0.0.1:18083\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Authorization: Bearer s3cret\r\n"
    "Expect: 100-continue\r\n"
    "\r\n";
/* ... and the body it sent */
static const char curl_put_body[] = "5\r\nhello\r\n0\r\n\r\n";

/* curl --data-binary @- -H 'Content-Type: image/jpeg' (2000 bytes) .../ingest/cam3 */
static const char curl_post[] =
    "POST /ingest/cam3 HTTP/1.1\r\n"
    "Host: 127.0.0.1:18084\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Content-Type: image/jpeg\r\n"
    "Content-Length: 2000\r\n"
    "\r\n";

/* ffmpeg -f lavfi -i testsrc2 -c:v mjpeg -f mjpeg -method PUT http://127.0.0.1:18081/ingest/cam1 */
static const char ffmpeg_put[] =
    "PUT /ingest/cam1 HTTP/1.1\r\n"
    "Transfer-Encoding: chunked\r\n"
    "User-Agent: Lavf/59.27.100\r\n"
    "Accept: */*\r\n"
    "Connection: close\r\n"
    "Host: 127.0.0.1:18081\r\n"
    "Icy-MetaData: 1\r\n"
    "\r\n";
/* ... whose body began with this chunk-size line and JPEG (first chunks 14ba, 191a, 1ae7) */
static const char ffmpeg_body_start[] = "14ba\r\n\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x02";

/* ffmpeg -i http://127.0.0.1:18086/stream/cam1 (also what OpenCV's ffmpeg backend sends) */
static const char ffmpeg_get[] =
    "GET /stream/cam1 HTTP/1.1\r\n"
    "User-Agent: Lavf/59.27.100\r\n"
    "Accept: */*\r\n"
    "Range: bytes=0-\r\n"
    "Connection: close\r\n"
    "Host: 127.0.0.1:18086\r\n"
    "Icy-MetaData: 1\r\n"
    "\r\n";

/* ---- the head driver ---- */

struct head_run {
	enum fr_http_parse_result res;
	size_t head_len;
	int status;
	const char *error;
	size_t calls;
	struct fr_http_request req;
};

/*
 * Feeds in[0, in_len) to a fresh parser as a connection does, the visible length growing by
 * one chunk per call, until DONE or ERROR or the input ends. Each call gets a buffer of
 * exactly the visible length, so ASan flags reads past len, and every byte the parser has
 * already examined is overwritten with NUL, which no valid head holds: a parser that read
 * one again would fail the test. Then checks that DONE and ERROR stick.
 */
static void
run_head_max(struct head_run *r, const void *in, size_t in_len, size_t max_head_bytes,
    int chunking)
{
	struct fr_http_parser p;
	struct growing_input g;

	fr_http_parser_init(&p, max_head_bytes);
	growing_input_init(&g, in, in_len, (enum chunking)chunking);
	*r = (struct head_run){ .res = FR_HTTP_PARSE_MORE };
	do {
		growing_input_next(&g);
		r->res = fr_http_parse_head(&p, g.buf, g.visible, &r->req);
		r->calls++;
	} while (r->res == FR_HTTP_PARSE_MORE && g.visible < in_len);
	r->head_len = p.head_len;
	r->status = p.status;
	r->error = p.error;

	if (r->res != FR_HTTP_PARSE_MORE) {
		struct fr_http_request before;

		memcpy(&before, &r->req, sizeof before);
		enum fr_http_parse_result again = fr_http_parse_head(&p, g.buf, g.visible, &r->req);

		REQUIRE(again == r->res && p.head_len == r->head_len && p.status == r->status,
		    "%s: a call after the end changed the result", chunking_name(chunking));
		REQUIRE(memcmp(&before, &r->req, sizeof before) == 0,
		    "%s: a call after the end changed the request", chunking_name(chunking));
	}
	if (chunking == CHUNKING_WHOLE)
		REQUIRE(r->calls == 1, "whole input took %zu calls", r->calls);
	growing_input_free(&g);
}

static void
run_head(struct head_run *r, const void *in, size_t in_len, int chunking)
{
	run_head_max(r, in, in_len, 0, chunking);
}

static void
run_head_str(struct head_run *r, const char *in, int chunking)
{
	run_head(r, in, strlen(in), chunking);
}

static const char *
result_name(enum fr_http_parse_result res)
{
	switch (res) {
	case FR_HTTP_PARSE_MORE:
		return "MORE";
	case FR_HTTP_PARSE_DONE:
		return "DONE";
	case FR_HTTP_PARSE_ERROR:
		return "ERROR";
	}
	return "?";
}

/* The head was accepted and is head_len bytes long. */
static void
check_done(const struct head_run *r, size_t head_len, const char *what, int chunking)
{
	ck_assert_msg(r->res == FR_HTTP_PARSE_DONE, "%s (%s): %s %d (%s), want DONE", what,
	    chunking_name(chunking), result_name(r->res), r->status, r->error ? r->error : "");
	ck_assert_msg(r->head_len == head_len, "%s (%s): head_len %zu, want %zu", what,
	    chunking_name(chunking), r->head_len, head_len);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_null(r->error);
}

/* The head was refused with status. */
static void
check_error(const struct head_run *r, int status, const char *what, int chunking)
{
	ck_assert_msg(r->res == FR_HTTP_PARSE_ERROR && r->status == status,
	    "%s (%s): %s %d (%s), want ERROR %d", what, chunking_name(chunking),
	    result_name(r->res), r->status, r->error ? r->error : "", status);
	ck_assert_ptr_nonnull(r->error);
	ck_assert_uint_eq(r->head_len, 0);
}

struct head_case {
	const char *what;
	struct text in;
	int status;	/* 0: accepted, the whole input being the head */
};

static void
check_cases(const struct head_case *cases, size_t n, int chunking)
{
	for (size_t i = 0; i < n; i++) {
		struct head_run r;

		run_head(&r, cases[i].in.p, cases[i].in.len, chunking);
		if (cases[i].status == 0)
			check_done(&r, cases[i].in.len, cases[i].what, chunking);
		else
			check_error(&r, cases[i].status, cases[i].what, chunking);
	}
}

#define CHECK_CASES(cases, chunking) check_cases((cases), sizeof(cases) / sizeof((cases)[0]), \
    (chunking))

/* A GET, or a PUT with a Transfer-Encoding, and Host, then these field lines. */
#define GET_WITH(fields) TEXT("GET / HTTP/1.1\r\nHost: h\r\n" fields "\r\n")
#define PUT_TE(te) TEXT("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " te "\r\n\r\n")

/* ---- request_line ---- */

START_TEST(test_request_line_curl_get)
{
	struct head_run r;

	run_head(&r, curl_get, sizeof curl_get - 1, _i);
	check_done(&r, 100, "curl GET", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_GET);
	ck_assert_str_eq(r.req.method_text, "GET");
	ck_assert_str_eq(r.req.path, "/stream/default");
	ck_assert_str_eq(r.req.query, "fps=10");
	ck_assert_int_eq(r.req.minor_version, 1);
	ck_assert(r.req.has_host);
	ck_assert_str_eq(r.req.host, "127.0.0.1:18082");
	ck_assert(r.req.is_keep_alive);
	ck_assert(!r.req.is_absolute_form);
	ck_assert(!r.req.has_content_length);
	ck_assert_uint_eq(r.req.content_length, 0);
	ck_assert(!r.req.is_chunked);
	ck_assert(!r.req.expects_continue);
	ck_assert_uint_eq(r.req.header_count, 3);
	ck_assert_str_eq(r.req.authorization, "");
	ck_assert_str_eq(r.req.content_type, "");
}
END_TEST

START_TEST(test_request_line_curl_head)
{
	struct head_run r;

	run_head(&r, curl_head, sizeof curl_head - 1, _i);
	check_done(&r, 96, "curl -I", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_HEAD);
	ck_assert_str_eq(r.req.method_text, "HEAD");
	ck_assert_str_eq(r.req.path, "/snapshot/default");
	ck_assert_str_eq(r.req.query, "");
	ck_assert_str_eq(r.req.host, "127.0.0.1:18088");
	ck_assert(r.req.is_keep_alive);
}
END_TEST

START_TEST(test_request_line_ffmpeg_get)
{
	struct head_run r;

	run_head(&r, ffmpeg_get, sizeof ffmpeg_get - 1, _i);
	check_done(&r, 146, "ffmpeg GET", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_GET);
	ck_assert_str_eq(r.req.path, "/stream/cam1");
	ck_assert_str_eq(r.req.host, "127.0.0.1:18086");
	ck_assert_int_eq(r.req.minor_version, 1);
	ck_assert(!r.req.is_keep_alive);	/* Connection: close */
	ck_assert_uint_eq(r.req.header_count, 6);
}
END_TEST

START_TEST(test_request_line_http10)
{
	struct head_run r;

	run_head(&r, curl_http10, sizeof curl_http10 - 1, _i);
	check_done(&r, 116, "curl -0", _i);
	ck_assert_int_eq(r.req.minor_version, 0);
	ck_assert_str_eq(r.req.path, "/snapshot/cam1");
	ck_assert(r.req.is_keep_alive);		/* RFC 9112 9.3: 1.0 with keep-alive */

	run_head_str(&r, "GET / HTTP/1.0\r\n\r\n", _i);
	check_done(&r, 18, "HTTP/1.0 without Host", _i);
	ck_assert_int_eq(r.req.minor_version, 0);
	ck_assert(!r.req.has_host);
	ck_assert(!r.req.is_keep_alive);
	ck_assert_uint_eq(r.req.header_count, 0);
}
END_TEST

START_TEST(test_request_line_methods)
{
	static const struct {
		const char *text;
		enum fr_http_method method;
	} methods[] = {
		{ "GET", FR_HTTP_METHOD_GET }, { "HEAD", FR_HTTP_METHOD_HEAD },
		{ "PUT", FR_HTTP_METHOD_PUT }, { "POST", FR_HTTP_METHOD_POST },
		{ "OPTIONS", FR_HTTP_METHOD_OTHER }, { "DELETE", FR_HTTP_METHOD_OTHER },
		{ "get", FR_HTTP_METHOD_OTHER }, { "GETS", FR_HTTP_METHOD_OTHER },
		{ "M-SEARCH", FR_HTTP_METHOD_OTHER }, { "G", FR_HTTP_METHOD_OTHER },
	};

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		char in[128];
		struct head_run r;
		int n = snprintf(in, sizeof in, "%s /x HTTP/1.1\r\nHost: h\r\n\r\n",
		    methods[i].text);

		run_head_str(&r, in, _i);
		check_done(&r, (size_t)n, methods[i].text, _i);
		ck_assert_int_eq(r.req.method, methods[i].method);
		ck_assert_str_eq(r.req.method_text, methods[i].text);
		ck_assert_str_eq(r.req.path, "/x");
	}
}
END_TEST

START_TEST(test_request_line_versions)
{
	static const struct {
		const char *version;
		int minor;	/* -1: refused with status */
		int status;
	} versions[] = {
		{ "HTTP/1.0", 0, 0 }, { "HTTP/1.1", 1, 0 },
		/* RFC 9110 6.2: a higher minor version is handled as the highest we have. */
		{ "HTTP/1.2", 1, 0 }, { "HTTP/1.9", 1, 0 },
		{ "HTTP/2.0", -1, 505 }, { "HTTP/0.9", -1, 505 }, { "HTTP/3.0", -1, 505 },
		{ "HTTP/9.9", -1, 505 },
		{ "http/1.1", -1, 400 }, { "HTTP/1", -1, 400 }, { "HTTP/1.", -1, 400 },
		{ "HTTP/11", -1, 400 }, { "HTTP/1.10", -1, 400 }, { "HTTP/a.1", -1, 400 },
		{ "HTTPS/1.1", -1, 400 }, { "HTTP/1.1 ", -1, 400 }, { "HTTP /1.1", -1, 400 },
		{ "HTTP/1,1", -1, 400 }, { "", -1, 400 },
	};

	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		char in[128];
		struct head_run r;
		int n = snprintf(in, sizeof in, "GET /v %s\r\nHost: h\r\n\r\n",
		    versions[i].version);

		run_head_str(&r, in, _i);
		if (versions[i].minor < 0) {
			check_error(&r, versions[i].status, versions[i].version, _i);
			continue;
		}
		check_done(&r, (size_t)n, versions[i].version, _i);
		ck_assert_int_eq(r.req.minor_version, versions[i].minor);
	}

	/* The HTTP/2 connection preface gets 505 rather than a complaint about its "*". */
	struct head_run r;
	run_head_str(&r, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", _i);
	check_error(&r, 505, "HTTP/2 preface", _i);
}
END_TEST

START_TEST(test_request_line_syntax)
{
	static const struct head_case cases[] = {
		{ "two spaces after the method", TEXT("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "two spaces before the version", TEXT("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"),
		    400 },
		{ "leading space", TEXT(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "tab separator", TEXT("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "no target", TEXT("GET HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "no version", TEXT("GET /\r\nHost: h\r\n\r\n"), 400 },
		{ "bare CR in the line", TEXT("GET / HTTP/1.1\rHost: h\r\n\r\n"), 400 },
		{ "CR CR LF", TEXT("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n"), 400 },
		{ "NUL in the path", TEXT("GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "DEL in the path", TEXT("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "non-ASCII path", TEXT("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "tab in the path", TEXT("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "fragment", TEXT("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "short escape", TEXT("GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "bad escape", TEXT("GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "bad escape in query", TEXT("GET /?q=%g0 HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "escape cut by '?'", TEXT("GET /a%?b HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "relative target", TEXT("GET foo HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "target starting with '?'", TEXT("GET ?x HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "'*' without OPTIONS", TEXT("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "'*' and more", TEXT("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "authority-form", TEXT("CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n"),
		    400 },
		{ "ftp scheme", TEXT("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "one slash", TEXT("GET http:/h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "userinfo", TEXT("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "empty host", TEXT("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "nothing after //", TEXT("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "bad host byte", TEXT("GET http://h<x>/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "bad host escape", TEXT("GET http://h%4/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "method with '@'", TEXT("GE@T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "no method", TEXT("/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "bare CR before the line", TEXT("\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400 },
		{ "binary", TEXT("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400 },
	};

	CHECK_CASES(cases, _i);
}
END_TEST

START_TEST(test_request_line_targets)
{
	static const struct {
		const char *in;
		const char *path;
		const char *query;
		const char *host;
		bool is_absolute_form;
	} targets[] = {
		{ "GET /stream/cam%201?fps=10&x=%41 HTTP/1.1\r\nHost: h\r\n\r\n",
		    "/stream/cam%201", "fps=10&x=%41", "h", false },
		{ "GET /a?b?c/d HTTP/1.1\r\nHost: h\r\n\r\n", "/a", "b?c/d", "h", false },
		{ "GET /? HTTP/1.1\r\nHost: h\r\n\r\n", "/", "", "h", false },
		{ "GET // HTTP/1.1\r\nHost: h\r\n\r\n", "//", "", "h", false },
		{ "GET /a|{b}^`\\ HTTP/1.1\r\nHost: h\r\n\r\n", "/a|{b}^`\\", "", "h", false },
		{ "GET /%41%2f%2F HTTP/1.1\r\nHost: h\r\n\r\n", "/%41%2f%2F", "", "h", false },
		{ "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "*", "", "h", false },
		/* RFC 9112 3.2.2: absolute-form; the target's host wins over Host. */
		{ "GET http://cam.local:8080/stream/a?fps=2 HTTP/1.1\r\nHost: other\r\n\r\n",
		    "/stream/a", "fps=2", "cam.local:8080", true },
		{ "GET HTTPS://[::1]:8443 HTTP/1.1\r\nHost: x\r\n\r\n", "/", "", "[::1]:8443",
		    true },
		{ "GET http://h?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", "/", "x=1", "h", true },
		{ "GET Http://h%41/ HTTP/1.1\r\nHost: x\r\n\r\n", "/", "", "h%41", true },
		{ "GET http://h/ HTTP/1.0\r\n\r\n", "/", "", "h", true },
	};

	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		struct head_run r;

		run_head_str(&r, targets[i].in, _i);
		check_done(&r, strlen(targets[i].in), targets[i].in, _i);
		ck_assert_str_eq(r.req.path, targets[i].path);
		ck_assert_str_eq(r.req.query, targets[i].query);
		ck_assert_str_eq(r.req.host, targets[i].host);
		ck_assert_int_eq(r.req.is_absolute_form, targets[i].is_absolute_form);
	}
}
END_TEST

/* RFC 9112 2.2: empty lines before the request line are skipped; bare LF ends lines. */
START_TEST(test_request_line_line_ends)
{
	static const struct head_case cases[] = {
		{ "leading CRLFs", TEXT("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0 },
		{ "leading LF and CRLF", TEXT("\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0 },
		{ "bare LF", TEXT("GET / HTTP/1.1\nHost: h\n\n"), 0 },
		{ "mixed", TEXT("GET / HTTP/1.1\r\nHost: h\nA: b\r\n\n"), 0 },
		{ "LF then CRLF", TEXT("GET / HTTP/1.1\nHost: h\n\r\n"), 0 },
		{ "no fields, bare LF", TEXT("GET / HTTP/1.0\n\n"), 0 },
	};
	struct head_run r;

	CHECK_CASES(cases, _i);
	run_head_str(&r, "\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n", _i);
	ck_assert_str_eq(r.req.path, "/x");
	ck_assert_str_eq(r.req.host, "h");
}
END_TEST

/* ---- headers ---- */

START_TEST(test_headers_ffmpeg_put)
{
	struct bytes in = { 0 };
	struct head_run r;

	/* The body follows at once; none of it may be taken for the head. */
	bytes_str(&in, ffmpeg_put);
	bytes_add(&in, ffmpeg_body_start, sizeof ffmpeg_body_start - 1);
	run_head(&r, in.p, in.len, _i);
	check_done(&r, sizeof ffmpeg_put - 1, "ffmpeg PUT", _i);
	ck_assert_uint_eq(r.head_len, 157);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_PUT);
	ck_assert_str_eq(r.req.path, "/ingest/cam1");
	ck_assert_str_eq(r.req.query, "");
	ck_assert(r.req.is_chunked);
	ck_assert(!r.req.has_content_length);
	ck_assert(!r.req.is_keep_alive);
	ck_assert(!r.req.expects_continue);
	ck_assert_str_eq(r.req.host, "127.0.0.1:18081");
	ck_assert_uint_eq(r.req.header_count, 6);
	bytes_free(&in);
}
END_TEST

START_TEST(test_headers_curl_put)
{
	struct head_run r;

	run_head(&r, curl_put, sizeof curl_put - 1, _i);
	check_done(&r, sizeof curl_put - 1, "curl -T", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_PUT);
	ck_assert_str_eq(r.req.path, "/ingest/cam2");
	ck_assert(r.req.is_chunked);
	ck_assert(r.req.expects_continue);
	ck_assert_str_eq(r.req.authorization, "Bearer s3cret");
	ck_assert(r.req.is_keep_alive);
	ck_assert_uint_eq(r.req.header_count, 6);
}
END_TEST

START_TEST(test_headers_curl_post)
{
	struct head_run r;

	run_head(&r, curl_post, sizeof curl_post - 1, _i);
	check_done(&r, sizeof curl_post - 1, "curl --data-binary", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_POST);
	ck_assert_str_eq(r.req.path, "/ingest/cam3");
	ck_assert(r.req.has_content_length);
	ck_assert_uint_eq(r.req.content_length, 2000);
	ck_assert(!r.req.is_chunked);
	ck_assert_str_eq(r.req.content_type, "image/jpeg");
	ck_assert_str_eq(r.req.authorization, "");
}
END_TEST

/* Field names are case-insensitive (RFC 9110 5.1); OWS around values is dropped (9112 5.1). */
START_TEST(test_headers_case_and_ows)
{
	static const char in[] =
	    "PUT /i HTTP/1.1\r\n"
	    "hOsT:h\r\n"
	    "content-LENGTH: \t 42 \t \r\n"
	    "CONTENT-TYPE:   multipart/x-mixed-replace; boundary=\"a b\"  \r\n"
	    "AUTHORIZATION: Bearer  a\tb \r\n"
	    "X-Empty:\r\n"
	    "X-Blank: \t \r\n"
	    "X-Obs-Text: caf\xc3\xa9\r\n"
	    "\r\n";
	struct head_run r;

	run_head_str(&r, in, _i);
	check_done(&r, sizeof in - 1, "case and OWS", _i);
	ck_assert_str_eq(r.req.host, "h");
	ck_assert_uint_eq(r.req.content_length, 42);
	ck_assert_str_eq(r.req.content_type, "multipart/x-mixed-replace; boundary=\"a b\"");
	ck_assert_str_eq(r.req.authorization, "Bearer  a\tb");
	ck_assert_uint_eq(r.req.header_count, 7);
}
END_TEST

START_TEST(test_headers_connection)
{
	static const struct {
		const char *in;
		bool is_keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, TE\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: , ,close,\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
		  "Connection: close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive , TE\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: close\r\n\r\n", false },
	};
	static const struct head_case bad[] = {
		{ "option with a space", GET_WITH("Connection: clo se\r\n"), 400 },
		{ "option with ';'", GET_WITH("Connection: close;x\r\n"), 400 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct head_run r;

		run_head_str(&r, cases[i].in, _i);
		check_done(&r, strlen(cases[i].in), cases[i].in, _i);
		ck_assert_msg(r.req.is_keep_alive == cases[i].is_keep_alive, "%s: keep-alive %d",
		    cases[i].in, r.req.is_keep_alive);
	}
	CHECK_CASES(bad, _i);
}
END_TEST

START_TEST(test_headers_content_length)
{
	static const struct {
		const char *fields;
		uint64_t length;
		int status;
	} cases[] = {
		{ "Content-Length: 0\r\n", 0, 0 },
		{ "Content-Length: 007\r\n", 7, 0 },
		/* RFC 9110 8.6: a list of one repeated value is that value. */
		{ "Content-Length: 42, 42\r\n", 42, 0 },
		{ "Content-Length: 42\r\nContent-Length: 42\r\n", 42, 0 },
		{ "Content-Length: 4611686018427387903\r\n", FR_HTTP_LENGTH_MAX, 0 },
		{ "Content-Length: 4611686018427387904\r\n", 0, 413 },
		{ "Content-Length: 18446744073709551616\r\n", 0, 413 },
		{ "Content-Length: 99999999999999999999999999\r\n", 0, 413 },
		{ "Content-Length: 42, 43\r\n", 0, 400 },
		{ "Content-Length: 42\r\nContent-Length: 43\r\n", 0, 400 },
		{ "Content-Length: -1\r\n", 0, 400 },
		{ "Content-Length: +1\r\n", 0, 400 },
		{ "Content-Length: 1a\r\n", 0, 400 },
		{ "Content-Length: 0x10\r\n", 0, 400 },
		{ "Content-Length: 1 2\r\n", 0, 400 },
		{ "Content-Length: 1.0\r\n", 0, 400 },
		{ "Content-Length:\r\n", 0, 400 },
		{ "Content-Length: ,\r\n", 0, 400 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char in[256];
		struct head_run r;
		int n = snprintf(in, sizeof in, "PUT /i HTTP/1.1\r\nHost: h\r\n%s\r\n",
		    cases[i].fields);

		run_head_str(&r, in, _i);
		if (cases[i].status != 0) {
			check_error(&r, cases[i].status, cases[i].fields, _i);
			continue;
		}
		check_done(&r, (size_t)n, cases[i].fields, _i);
		ck_assert(r.req.has_content_length);
		ck_assert_uint_eq(r.req.content_length, cases[i].length);
	}
}
END_TEST

START_TEST(test_headers_transfer_encoding)
{
	static const struct head_case cases[] = {
		{ "chunked", PUT_TE("chunked"), 0 },
		{ "Chunked", PUT_TE("Chunked"), 0 },
		{ "list with empty elements", PUT_TE(", CHUNKED ,"), 0 },
		/* RFC 9112 6.1: 501 for a transfer coding the server does not understand. */
		{ "gzip", PUT_TE("gzip"), 501 },
		{ "gzip, chunked", PUT_TE("gzip, chunked"), 501 },
		{ "chunked, gzip", PUT_TE("chunked, gzip"), 501 },
		{ "identity", PUT_TE("identity"), 501 },
		{ "chunked with a parameter", PUT_TE("chunked;q=1"), 501 },
		/* RFC 9112 7.1: chunked MUST NOT be applied more than once. */
		{ "chunked twice", PUT_TE("chunked, chunked"), 400 },
		{ "chunked on two lines", PUT_TE("chunked\r\nTransfer-Encoding: chunked"), 400 },
		{ "empty", PUT_TE(""), 400 },
		/* RFC 9112 6.3 (3): both framings is a smuggling attempt; refused either way. */
		{ "TE then CL", PUT_TE("chunked\r\nContent-Length: 5"), 400 },
		{ "CL then TE", TEXT("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n"), 400 },
		/* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing. */
		{ "HTTP/1.0", TEXT("PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400 },
	};
	struct head_run r;

	CHECK_CASES(cases, _i);
	run_head(&r, cases[2].in.p, cases[2].in.len, _i);
	ck_assert(r.req.is_chunked);
	ck_assert(!r.req.has_content_length);
}
END_TEST

/* RFC 9112 3.2: exactly one Host in HTTP/1.1, with a valid value. */
START_TEST(test_headers_host)
{
	static const struct head_case cases[] = {
		{ "no Host in 1.1", TEXT("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400 },
		{ "two Hosts", GET_WITH("Host: h\r\n"), 400 },
		{ "two Hosts in 1.0", TEXT("GET / HTTP/1.0\r\nHost: h\r\nhost: i\r\n\r\n"), 400 },
		{ "space in Host", TEXT("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400 },
		{ "slash in Host", TEXT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400 },
		{ "userinfo in Host", TEXT("GET / HTTP/1.1\r\nHost: u@h\r\n\r\n"), 400 },
		{ "empty Host", TEXT("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 0 },
		{ "IPv6 Host", TEXT("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 0 },
	};
	struct head_run r;

	CHECK_CASES(cases, _i);
	run_head(&r, cases[6].in.p, cases[6].in.len, _i);
	ck_assert(r.req.has_host);
	ck_assert_str_eq(r.req.host, "");
	run_head(&r, cases[7].in.p, cases[7].in.len, _i);
	ck_assert_str_eq(r.req.host, "[::1]:8080");
}
END_TEST

/* RFC 9110 10.1.1: only 100-continue, and only from an HTTP/1.1 client. */
START_TEST(test_headers_expect)
{
	static const struct {
		const char *in;
		bool expects_continue;
		int status;
	} cases[] = {
		{ "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", true, 0 },
		{ "PUT / HTTP/1.1\r\nHost: h\r\nexpect:100-Continue \r\n\r\n", true, 0 },
		{ "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", false, 0 },
		{ "PUT / HTTP/1.1\r\nHost: h\r\n\r\n", false, 0 },
		{ "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", false, 417 },
		{ "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\n\r\n", false, 417 },
		{ "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue;a=b\r\n\r\n", false, 417 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct head_run r;

		run_head_str(&r, cases[i].in, _i);
		if (cases[i].status != 0) {
			check_error(&r, cases[i].status, cases[i].in, _i);
			continue;
		}
		check_done(&r, strlen(cases[i].in), cases[i].in, _i);
		ck_assert_int_eq(r.req.expects_continue, cases[i].expects_continue);
	}
}
END_TEST

/* RFC 9110 5.3: fields that may appear once; another line makes the head invalid. */
START_TEST(test_headers_singletons)
{
	static const struct head_case cases[] = {
		{ "two Authorizations", TEXT("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: a\r\n"
					     "Authorization: a\r\n\r\n"), 400 },
		{ "two Content-Types", TEXT("PUT / HTTP/1.1\r\nHost: h\r\nContent-Type: a/b\r\n"
					    "content-type: a/b\r\n\r\n"), 400 },
		{ "other fields repeat", TEXT("GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\n"
					      "Accept: b\r\n\r\n"), 0 },
	};

	CHECK_CASES(cases, _i);
}
END_TEST

START_TEST(test_headers_syntax)
{
	static const struct head_case cases[] = {
		/* RFC 9112 5.2: obs-fold is refused. */
		{ "obs-fold", GET_WITH("X-A: 1\r\n 2\r\n"), 400 },
		{ "obs-fold with tab", GET_WITH("X-A: 1\r\n\t2\r\n"), 400 },
		/* RFC 9112 2.2: whitespace between the start line and the first field. */
		{ "space before the first field", TEXT("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400 },
		/* RFC 9112 5.1: whitespace between name and colon MUST get 400. */
		{ "space before the colon", TEXT("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400 },
		{ "tab before the colon", TEXT("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"), 400 },
		{ "no colon", TEXT("GET / HTTP/1.1\r\nHost h\r\n\r\n"), 400 },
		{ "no colon, at the end", GET_WITH("X\r\n"), 400 },
		{ "empty name", GET_WITH(": v\r\n"), 400 },
		{ "bad name byte", GET_WITH("X(y): 1\r\n"), 400 },
		{ "non-ASCII name", GET_WITH("X\xc3\xa9: 1\r\n"), 400 },
		{ "NUL in a value", GET_WITH("X-A: a\0b\r\n"), 400 },
		{ "NUL in a known value", TEXT("GET / HTTP/1.1\r\nHost: h\0\r\n\r\n"), 400 },
		{ "DEL in a value", GET_WITH("X-A: a\x7f\r\n"), 400 },
		{ "control in a value", GET_WITH("X-A: a\x01\r\n"), 400 },
		{ "bare CR in a value", GET_WITH("X-A: a\rb\r\n"), 400 },
		{ "CR CR LF after a field", TEXT("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n"), 400 },
		{ "bare CR at the end", TEXT("GET / HTTP/1.1\r\nHost: h\r\n\rX"), 400 },
		{ "long unknown name", GET_WITH("X-Longer-Than-Any-Name-We-Know: 1\r\n"), 0 },
		{ "tabs in a value", GET_WITH("X-A:\tv\tw\t\r\n"), 0 },
		{ "a name like ours, longer", GET_WITH("Content-Lengths: x\r\n"), 0 },
	};

	CHECK_CASES(cases, _i);
}
END_TEST

/* ---- limits ---- */

/* A GET head of exactly total bytes, padded by one field made of pad_byte. */
static void
padded_head(struct bytes *b, const char *before, size_t total)
{
	static const char prefix[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
	size_t fixed = strlen(before) + strlen(prefix) + 4;

	REQUIRE(total > fixed, "head of %zu bytes cannot be padded", total);
	*b = (struct bytes){ 0 };
	bytes_str(b, before);
	bytes_str(b, prefix);
	bytes_fill(b, 'p', total - fixed);
	bytes_str(b, "\r\n\r\n");
	REQUIRE(b->len == total, "padded head has %zu bytes", b->len);
}

START_TEST(test_limits_head_default)
{
	struct bytes in;
	struct head_run r;

	padded_head(&in, "", FR_HTTP_HEAD_MAX_DEFAULT);
	run_head(&r, in.p, in.len, _i);
	check_done(&r, 8192, "head of exactly 8 KiB", _i);
	bytes_free(&in);

	padded_head(&in, "", FR_HTTP_HEAD_MAX_DEFAULT + 1);
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 431, "head of 8 KiB + 1", _i);
	/* Its first 8192 bytes are already too many: no need to wait for the last one. */
	run_head(&r, in.p, FR_HTTP_HEAD_MAX_DEFAULT, _i);
	check_error(&r, 431, "first 8 KiB of a longer head", _i);
	run_head(&r, in.p, FR_HTTP_HEAD_MAX_DEFAULT - 1, _i);
	ck_assert_int_eq(r.res, FR_HTTP_PARSE_MORE);
	bytes_free(&in);

	/* A long head that is bad early is refused for that, at once. */
	padded_head(&in, "", 3 * FR_HTTP_HEAD_MAX_DEFAULT);
	in.p[1] = ' ';
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 400, "long head with a bad method", _i);
	bytes_free(&in);
}
END_TEST

START_TEST(test_limits_head_custom)
{
	struct bytes in;
	struct head_run r;

	padded_head(&in, "", 200);
	run_head_max(&r, in.p, in.len, 200, _i);
	check_done(&r, 200, "head of exactly 200 bytes", _i);
	bytes_free(&in);
	padded_head(&in, "", 201);
	run_head_max(&r, in.p, in.len, 200, _i);
	check_error(&r, 431, "head of 201 bytes", _i);
	bytes_free(&in);

	/* Leading empty lines count. */
	padded_head(&in, "\r\n\n\r\n", 200);
	run_head_max(&r, in.p, in.len, 200, _i);
	check_done(&r, 200, "with empty lines, 200 bytes", _i);
	bytes_free(&in);
	padded_head(&in, "\r\n\n\r\n", 201);
	run_head_max(&r, in.p, in.len, 200, _i);
	check_error(&r, 431, "with empty lines, 201 bytes", _i);
	bytes_free(&in);

	/* Nothing but empty lines. */
	bytes_fill(&in, '\n', 300);
	run_head_max(&r, in.p, in.len, 200, _i);
	check_error(&r, 431, "300 empty lines", _i);
	bytes_free(&in);
}
END_TEST

/* A head whose request-target is "/" then path_len - 1 'a', '?' and query_len 'q'. */
static void
target_head(struct bytes *b, const char *scheme_host, size_t path_len, size_t query_len)
{
	*b = (struct bytes){ 0 };
	bytes_str(b, "GET ");
	bytes_str(b, scheme_host);
	bytes_str(b, "/");
	bytes_fill(b, 'a', path_len - 1);
	if (query_len > 0) {
		bytes_str(b, "?");
		bytes_fill(b, 'q', query_len);
	}
	bytes_str(b, " HTTP/1.1\r\nHost: h\r\n\r\n");
}

START_TEST(test_limits_target)
{
	struct bytes in;
	struct head_run r;

	target_head(&in, "", FR_HTTP_PATH_MAX, FR_HTTP_QUERY_MAX);
	run_head(&r, in.p, in.len, _i);
	check_done(&r, in.len, "longest path and query", _i);
	ck_assert_uint_eq(strlen(r.req.path), FR_HTTP_PATH_MAX);
	ck_assert_uint_eq(strlen(r.req.query), FR_HTTP_QUERY_MAX);
	ck_assert_int_eq(r.req.path[FR_HTTP_PATH_MAX - 1], 'a');
	bytes_free(&in);

	target_head(&in, "", FR_HTTP_PATH_MAX + 1, 0);
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 414, "path one byte too long", _i);
	bytes_free(&in);

	target_head(&in, "", 1, FR_HTTP_QUERY_MAX + 1);
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 414, "query one byte too long", _i);
	bytes_free(&in);

	/* absolute-form: the host is limited as well, and "http://h" yields the path "/". */
	struct bytes host = { 0 };
	bytes_str(&host, "http://");
	bytes_fill(&host, 'h', FR_HTTP_HOST_MAX);
	target_head(&in, (const char *)host.p, FR_HTTP_PATH_MAX, 0);
	run_head(&r, in.p, in.len, _i);
	check_done(&r, in.len, "longest host in the target", _i);
	ck_assert_uint_eq(strlen(r.req.host), FR_HTTP_HOST_MAX);
	bytes_free(&in);
	bytes_str(&host, "h");
	target_head(&in, (const char *)host.p, 1, 0);
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 414, "host in the target one byte too long", _i);
	bytes_free(&in);
	bytes_free(&host);
}
END_TEST

START_TEST(test_limits_method)
{
	struct bytes in = { 0 };
	struct head_run r;

	bytes_fill(&in, 'M', FR_HTTP_METHOD_MAX);
	bytes_str(&in, " / HTTP/1.1\r\nHost: h\r\n\r\n");
	run_head(&r, in.p, in.len, _i);
	check_done(&r, in.len, "longest method", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_OTHER);
	ck_assert_uint_eq(strlen(r.req.method_text), FR_HTTP_METHOD_MAX);
	bytes_free(&in);

	/* RFC 9110 9.1: 501 for a method the server does not know. */
	bytes_fill(&in, 'M', FR_HTTP_METHOD_MAX + 1);
	bytes_str(&in, " / HTTP/1.1\r\nHost: h\r\n\r\n");
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 501, "method one byte too long", _i);
	bytes_free(&in);
}
END_TEST

START_TEST(test_limits_header_count)
{
	struct bytes in = { 0 };
	struct head_run r;

	bytes_str(&in, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 1; i < FR_HTTP_HEADERS_MAX; i++) {
		char line[32];

		snprintf(line, sizeof line, "X-%d: %d\r\n", i, i);
		bytes_str(&in, line);
	}
	size_t fields_end = in.len;
	bytes_str(&in, "\r\n");
	run_head(&r, in.p, in.len, _i);
	check_done(&r, in.len, "64 fields", _i);
	ck_assert_uint_eq(r.req.header_count, FR_HTTP_HEADERS_MAX);

	in.len = fields_end;
	bytes_str(&in, "X-65: 65\r\n\r\n");
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 431, "65 fields", _i);
	bytes_free(&in);
}
END_TEST

/* A head with one field "name: " + value_len 'v' + trailing. */
static void
field_head(struct bytes *b, const char *name, size_t value_len, const char *trailing)
{
	*b = (struct bytes){ 0 };
	bytes_str(b, "GET / HTTP/1.0\r\n");
	bytes_str(b, name);
	bytes_str(b, ": ");
	bytes_fill(b, 'v', value_len);
	bytes_str(b, trailing);
	bytes_str(b, "\r\n\r\n");
}

START_TEST(test_limits_fields)
{
	static const struct {
		const char *name;
		size_t max;
	} fields[] = {
		{ "Authorization", FR_HTTP_AUTHORIZATION_MAX },
		{ "Content-Type", FR_HTTP_CONTENT_TYPE_MAX },
		{ "Host", FR_HTTP_HOST_MAX },
	};
	struct bytes in;
	struct head_run r;

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		/* Trailing OWS is not part of the value, so it does not count. */
		field_head(&in, fields[i].name, fields[i].max, " \t ");
		run_head(&r, in.p, in.len, _i);
		check_done(&r, in.len, fields[i].name, _i);
		const char *got = strcmp(fields[i].name, "Authorization") == 0 ? r.req.authorization
		    : strcmp(fields[i].name, "Host") == 0 ? r.req.host : r.req.content_type;
		ck_assert_uint_eq(strlen(got), fields[i].max);
		bytes_free(&in);

		field_head(&in, fields[i].name, fields[i].max + 1, "");
		run_head(&r, in.p, in.len, _i);
		check_error(&r, 431, fields[i].name, _i);
		bytes_free(&in);
	}

	/* The other fields we read are bounded by the value buffer... */
	field_head(&in, "Connection", FR_HTTP_VALUE_MAX, "");
	run_head(&r, in.p, in.len, _i);
	check_done(&r, in.len, "longest Connection", _i);
	bytes_free(&in);
	field_head(&in, "Connection", FR_HTTP_VALUE_MAX + 1, "");
	run_head(&r, in.p, in.len, _i);
	check_error(&r, 431, "Connection too long", _i);
	bytes_free(&in);

	/* ... and a field we skip only by the head size. */
	field_head(&in, "User-Agent", 5000, "");
	run_head(&r, in.p, in.len, _i);
	check_done(&r, in.len, "long User-Agent", _i);
	bytes_free(&in);
}
END_TEST

/* Every proper prefix of a head is MORE, whatever the chunking. */
START_TEST(test_limits_incomplete)
{
	struct head_run r;

	for (size_t len = 0; len < sizeof curl_put - 1; len++) {
		run_head(&r, curl_put, len, _i);
		ck_assert_msg(r.res == FR_HTTP_PARSE_MORE, "prefix of %zu bytes: %s %d", len,
		    result_name(r.res), r.status);
	}
	/* Called with nothing at all, a fresh parser asks for more. */
	struct fr_http_parser p;
	struct fr_http_request req;
	fr_http_parser_init(&p, 0);
	ck_assert_int_eq(fr_http_parse_head(&p, (const uint8_t *)"", 0, &req), FR_HTTP_PARSE_MORE);
	ck_assert_str_eq(req.path, "");
}
END_TEST

/* ---- the chunked driver ---- */

struct chunked_run {
	enum fr_http_chunked_result res;	/* DONE, ERROR, or MORE when the input ran out */
	size_t end;		/* DONE: one past the body; ERROR: the bad byte; MORE: in_len */
	const char *error;
	struct bytes data;	/* every DATA slice, in order */
};

/*
 * Feeds in[0, in_len) to a fresh decoder piece by piece, each piece in a buffer of its own
 * exact size (so ASan flags reads past it), until DONE or ERROR or the input ends.
 */
static void
run_chunked(struct chunked_run *r, const void *in, size_t in_len, int chunking)
{
	struct fr_http_chunked c;
	struct chunker ch;
	size_t off = 0;

	fr_http_chunked_init(&c);
	chunker_init(&ch, (enum chunking)chunking);
	*r = (struct chunked_run){ .res = FR_HTTP_CHUNKED_MORE, .end = in_len };
	bytes_add(&r->data, "", 0);
	while (off < in_len && r->res == FR_HTTP_CHUNKED_MORE) {
		size_t n = chunker_next(&ch, in_len - off);
		uint8_t *piece = malloc(n);
		size_t at = 0;

		REQUIRE(piece != NULL, "out of memory");
		memcpy(piece, (const uint8_t *)in + off, n);
		while (at < n) {
			size_t consumed = SIZE_MAX, data_off = SIZE_MAX, data_len = SIZE_MAX;
			enum fr_http_chunked_result res = fr_http_chunked_feed(&c, piece + at,
			    n - at, &consumed, &data_off, &data_len);

			REQUIRE(consumed <= n - at, "consumed %zu of %zu", consumed, n - at);
			if (res == FR_HTTP_CHUNKED_DATA) {
				REQUIRE(data_len > 0 && data_off + data_len == consumed,
				    "DATA [%zu, +%zu) with consumed %zu", data_off, data_len,
				    consumed);
				bytes_add(&r->data, piece + at + data_off, data_len);
				at += consumed;
				continue;
			}
			REQUIRE(data_off == 0 && data_len == 0, "slice without DATA");
			if (res == FR_HTTP_CHUNKED_MORE) {
				REQUIRE(consumed == n - at, "MORE with %zu of %zu consumed",
				    consumed, n - at);
				at = n;
				break;
			}
			REQUIRE(res == FR_HTTP_CHUNKED_DONE || res == FR_HTTP_CHUNKED_ERROR,
			    "feed returned %d", (int)res);
			r->res = res;
			r->end = off + at + consumed;
			r->error = c.error;
			break;
		}
		off += n;
		free(piece);
	}
	if (r->res == FR_HTTP_CHUNKED_MORE)
		return;
	/* DONE and ERROR stick, and take nothing more. */
	size_t consumed = 1, data_off = 1, data_len = 1;
	REQUIRE(fr_http_chunked_feed(&c, (const uint8_t *)"0\r\n\r\n", 5, &consumed, &data_off,
	    &data_len) == r->res && consumed == 0 && data_off == 0 && data_len == 0,
	    "a call after the end was not ignored");
	REQUIRE((r->res == FR_HTTP_CHUNKED_ERROR) == (r->error != NULL), "error is %s",
	    r->error ? r->error : "NULL");
}

static const char *
chunked_name(enum fr_http_chunked_result res)
{
	switch (res) {
	case FR_HTTP_CHUNKED_MORE:
		return "MORE";
	case FR_HTTP_CHUNKED_DATA:
		return "DATA";
	case FR_HTTP_CHUNKED_DONE:
		return "DONE";
	case FR_HTTP_CHUNKED_ERROR:
		return "ERROR";
	}
	return "?";
}

/* in gives the result res at offset end, after exactly the body bytes data. */
static void
check_chunked(const char *what, struct text in, enum fr_http_chunked_result res, size_t end,
    struct text data, int chunking)
{
	struct chunked_run r;

	run_chunked(&r, in.p, in.len, chunking);
	ck_assert_msg(r.res == res && r.end == end, "%s (%s): %s at %zu (%s), want %s at %zu", what,
	    chunking_name(chunking), chunked_name(r.res), r.end, r.error ? r.error : "",
	    chunked_name(res), end);
	ck_assert_msg(r.data.len == data.len, "%s (%s): %zu data bytes, want %zu", what,
	    chunking_name(chunking), r.data.len, data.len);
	ck_assert_mem_eq(r.data.p, data.p, data.len);
	bytes_free(&r.data);
}

#define DONE_AT_END(what, in, data) \
	check_chunked((what), (struct text)TEXT(in), FR_HTTP_CHUNKED_DONE, sizeof(in) - 1, \
	    (struct text)TEXT(data), _i)
#define ERROR_AT(what, in, at, data) \
	check_chunked((what), (struct text)TEXT(in), FR_HTTP_CHUNKED_ERROR, (at), \
	    (struct text)TEXT(data), _i)
#define MORE_AFTER(what, in, data) \
	check_chunked((what), (struct text)TEXT(in), FR_HTTP_CHUNKED_MORE, sizeof(in) - 1, \
	    (struct text)TEXT(data), _i)

/* ---- chunked ---- */

START_TEST(test_chunked_curl)
{
	DONE_AT_END("curl -T body", curl_put_body, "hello");
	DONE_AT_END("no chunks at all", "0\r\n\r\n", "");
	DONE_AT_END("one-byte chunks", "1\r\na\r\n1\r\nb\r\n1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n",
	    "ab\r\n");
}
END_TEST

/*
 * A body framed as ffmpeg frames it (one chunk per JPEG, lowercase hex sizes, the sizes of
 * its first chunks in the capture above), with payloads full of CRLFs, a fake last-chunk
 * and fake chunk-size lines, followed by a pipelined request.
 */
START_TEST(test_chunked_ffmpeg_style)
{
	static const size_t sizes[] = { 0x14ba, 0x191a, 0x1ae7, 1, 0x10 };
	static const char fake[] = "\r\n0\r\n\r\n14ba\r\nGET / HTTP/1.1\r\n";
	struct bytes body = { 0 }, data = { 0 };
	struct chunked_run r;

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char line[32];
		size_t start = data.len;

		snprintf(line, sizeof line, "%zx\r\n", sizes[i]);
		bytes_str(&body, line);
		bytes_add(&data, "\xff\xd8\xff\xe0", sizes[i] < 4 ? sizes[i] : 4);
		for (size_t k = 0; data.len - start < sizes[i]; k++) {
			size_t left = sizes[i] - (data.len - start);
			uint8_t b = (uint8_t)(k * 131 + i);

			size_t n_fake = left < sizeof fake - 1 ? left : sizeof fake - 1;

			if (k % 97 == 0)
				bytes_add(&data, fake, n_fake);
			else
				bytes_add(&data, &b, 1);
		}
		bytes_add(&body, data.p + start, sizes[i]);
		bytes_str(&body, "\r\n");
	}
	bytes_str(&body, "0\r\n\r\n");
	size_t body_len = body.len;
	bytes_str(&body, ffmpeg_get);

	run_chunked(&r, body.p, body.len, _i);
	ck_assert_msg(r.res == FR_HTTP_CHUNKED_DONE, "%s: %s (%s)", chunking_name(_i),
	    chunked_name(r.res), r.error ? r.error : "");
	ck_assert_uint_eq(r.end, body_len);
	ck_assert_uint_eq(r.data.len, data.len);
	ck_assert_mem_eq(r.data.p, data.p, data.len);
	bytes_free(&r.data);
	bytes_free(&data);
	bytes_free(&body);
}
END_TEST

START_TEST(test_chunked_sizes)
{
	DONE_AT_END("upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789");
	DONE_AT_END("mixed-case hex", "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
	    "abcdefghijklmnopqrstuvwxyz");
	DONE_AT_END("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello");
	DONE_AT_END("many leading zeros", "0000000000000000000000000001\r\nx\r\n0\r\n\r\n", "x");
	ERROR_AT("empty chunk-size", "\r\nhello\r\n0\r\n\r\n", 0, "");
	ERROR_AT("not hex", "g\r\n", 0, "");
	ERROR_AT("negative", "-5\r\nhello\r\n", 0, "");
	ERROR_AT("plus sign", "+5\r\nhello\r\n", 0, "");
	ERROR_AT("0x prefix", "0x5\r\nhello\r\n", 1, "");
	ERROR_AT("leading space", " 5\r\nhello\r\n", 0, "");
	ERROR_AT("trailing space", "5 \r\nhello\r\n", 2, "");
	ERROR_AT("space inside", "5 5\r\nhello\r\n", 2, "");
	ERROR_AT("bad second chunk", "5\r\nhello\r\nz\r\n", 10, "hello");
	ERROR_AT("NUL", "5\0\r\nhello\r\n", 1, "");
}
END_TEST

START_TEST(test_chunked_huge_sizes)
{
	/* 2^62 - 1 is the largest chunk: its first bytes come out, then the input ends. */
	MORE_AFTER("largest chunk-size", "3fffffffffffffff\r\n0123456789", "0123456789");
	MORE_AFTER("largest, leading zeros", "003FFFFFFFFFFFFFFF\r\nabc", "abc");
	ERROR_AT("2^62", "4000000000000000\r\n", 15, "");
	ERROR_AT("2^64 - 1", "ffffffffffffffff\r\n", 15, "");
	ERROR_AT("2^64", "10000000000000000\r\n", 16, "");
	ERROR_AT("far too many digits", "ffffffffffffffffffffffffffffffff\r\n", 15, "");
	/* The limit holds for a later chunk too. */
	ERROR_AT("second chunk too big", "1\r\na\r\n4000000000000000\r\n", 21, "a");
}
END_TEST

START_TEST(test_chunked_missing_crlf)
{
	ERROR_AT("junk after data", "5\r\nhelloX\r\n0\r\n\r\n", 8, "hello");
	ERROR_AT("LF after data", "5\r\nhello\n0\r\n\r\n", 8, "hello");
	ERROR_AT("CR without LF after data", "5\r\nhello\r0\r\n\r\n", 9, "hello");
	ERROR_AT("data too long", "3\r\nhello\r\n0\r\n\r\n", 6, "hel");
	ERROR_AT("LF after chunk-size", "5\nhello\r\n0\r\n\r\n", 1, "");
	ERROR_AT("CR CR after chunk-size", "5\r\rhello\r\n", 2, "");
	ERROR_AT("LF after last-chunk", "0\n\r\n", 1, "");
	ERROR_AT("bare CR at the end", "0\r\n\rX", 4, "");
	ERROR_AT("LF at the end", "0\r\n\n", 3, "");
	MORE_AFTER("cut in the data", "5\r\nhel", "hel");
	MORE_AFTER("cut after the data", "5\r\nhello", "hello");
	MORE_AFTER("cut after the data's CR", "5\r\nhello\r", "hello");
	MORE_AFTER("cut in the chunk-size", "1", "");
	MORE_AFTER("cut after the last-chunk", "5\r\nhello\r\n0\r\n", "hello");
	MORE_AFTER("cut before the final LF", "0\r\n\r", "");
	MORE_AFTER("nothing", "", "");
}
END_TEST

/* RFC 9112 7.1.1: extensions are skipped, within FR_HTTP_CHUNK_LINE_MAX. */
START_TEST(test_chunked_extensions)
{
	DONE_AT_END("extensions", "5;name=val\r\nhello\r\n0;last=\"yes; really\"\r\n\r\n", "hello");
	DONE_AT_END("BWS before ';'", "5 ;a\r\nhello\r\n0\t;\tb = c\r\n\r\n", "hello");
	DONE_AT_END("bare ';'", "5;\r\nhello\r\n0\r\n\r\n", "hello");
	ERROR_AT("NUL in an extension", "5;a\0b\r\nhello\r\n", 3, "");
	ERROR_AT("LF in an extension", "5;a\nb\r\nhello\r\n", 3, "");
	ERROR_AT("text without ';'", "5 a\r\nhello\r\n", 2, "");

	/* The longest chunk-size line passes; one more byte does not. */
	struct bytes in = { 0 };
	struct chunked_run r;
	bytes_str(&in, "5;x=");
	bytes_fill(&in, 'e', FR_HTTP_CHUNK_LINE_MAX - 4);
	size_t line_end = in.len;
	bytes_str(&in, "\r\nhello\r\n0\r\n\r\n");
	run_chunked(&r, in.p, in.len, _i);
	ck_assert_int_eq(r.res, FR_HTTP_CHUNKED_DONE);
	ck_assert_uint_eq(r.end, in.len);
	ck_assert_str_eq((const char *)r.data.p, "hello");
	bytes_free(&r.data);

	in.len = line_end;
	bytes_str(&in, "e\r\nhello\r\n0\r\n\r\n");
	run_chunked(&r, in.p, in.len, _i);
	ck_assert_int_eq(r.res, FR_HTTP_CHUNKED_ERROR);
	ck_assert_uint_eq(r.end, FR_HTTP_CHUNK_LINE_MAX);
	ck_assert_uint_eq(r.data.len, 0);
	bytes_free(&r.data);
	bytes_free(&in);
}
END_TEST

/* RFC 9112 7.1.2: trailer fields are checked and dropped, within FR_HTTP_TRAILER_MAX. */
START_TEST(test_chunked_trailers)
{
	DONE_AT_END("trailers", "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nFoo:bar\r\nEmpty:\r\n\r\n",
	    "hello");
	DONE_AT_END("trailer with tab and obs-text", "0\r\nA:\tb c\xc3\xa9\r\n\r\n", "");
	ERROR_AT("no colon", "0\r\nNoColon\r\n\r\n", 10, "");
	ERROR_AT("space before colon", "0\r\nA : b\r\n\r\n", 4, "");
	ERROR_AT("obs-fold", "0\r\nA: b\r\n c\r\n\r\n", 9, "");
	ERROR_AT("bare LF in a trailer", "0\r\nA: b\nC: d\r\n\r\n", 7, "");
	ERROR_AT("bare CR in a trailer", "0\r\nA: b\rC: d\r\n\r\n", 8, "");
	ERROR_AT("NUL in a trailer", "0\r\nA: \0\r\n\r\n", 6, "");

	/* A trailer section of exactly FR_HTTP_TRAILER_MAX bytes passes; one more does not. */
	struct bytes in = { 0 };
	struct chunked_run r;
	bytes_str(&in, "0\r\nX-T: ");
	bytes_fill(&in, 't', FR_HTTP_TRAILER_MAX - strlen("X-T: ") - 4);
	size_t value_end = in.len;
	bytes_str(&in, "\r\n\r\n");
	run_chunked(&r, in.p, in.len, _i);
	ck_assert_int_eq(r.res, FR_HTTP_CHUNKED_DONE);
	ck_assert_uint_eq(r.end, 3 + FR_HTTP_TRAILER_MAX);
	bytes_free(&r.data);

	in.len = value_end;
	bytes_str(&in, "t\r\n\r\n");
	run_chunked(&r, in.p, in.len, _i);
	ck_assert_int_eq(r.res, FR_HTTP_CHUNKED_ERROR);
	ck_assert_uint_eq(r.end, 3 + FR_HTTP_TRAILER_MAX);
	bytes_free(&r.data);
	bytes_free(&in);
}
END_TEST

/* The calls themselves: empty input, and DATA handed out before an error. */
START_TEST(test_chunked_calls)
{
	struct fr_http_chunked c;
	size_t consumed = 9, data_off = 9, data_len = 9;

	fr_http_chunked_init(&c);
	ck_assert_int_eq(fr_http_chunked_feed(&c, (const uint8_t *)"", 0, &consumed, &data_off,
	    &data_len), FR_HTTP_CHUNKED_MORE);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_uint_eq(data_off, 0);
	ck_assert_uint_eq(data_len, 0);
	ck_assert_ptr_null(c.error);

	/* Data comes out at once, before the bad byte after it is even looked at. */
	static const char in[] = "3\r\nabcX";
	ck_assert_int_eq(fr_http_chunked_feed(&c, (const uint8_t *)in, sizeof in - 1, &consumed,
	    &data_off, &data_len), FR_HTTP_CHUNKED_DATA);
	ck_assert_uint_eq(data_off, 3);
	ck_assert_uint_eq(data_len, 3);
	ck_assert_uint_eq(consumed, 6);
	ck_assert_int_eq(fr_http_chunked_feed(&c, (const uint8_t *)in + 6, 1, &consumed,
	    &data_off, &data_len), FR_HTTP_CHUNKED_ERROR);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_ptr_nonnull(c.error);

	/* The same at every chunking. */
	ERROR_AT("data then junk", "3\r\nabcX", 6, "abc");
}
END_TEST

/* ---- pipelining ---- */

START_TEST(test_pipelining_two_gets)
{
	struct bytes in = { 0 };
	struct head_run r;

	bytes_str(&in, curl_get);
	bytes_str(&in, curl_head);
	run_head(&r, in.p, in.len, _i);
	check_done(&r, sizeof curl_get - 1, "first of two", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_GET);
	ck_assert_str_eq(r.req.query, "fps=10");

	size_t second = r.head_len;
	run_head(&r, in.p + second, in.len - second, _i);
	check_done(&r, sizeof curl_head - 1, "second of two", _i);
	ck_assert_int_eq(r.req.method, FR_HTTP_METHOD_HEAD);
	ck_assert_str_eq(r.req.path, "/snapshot/default");
	ck_assert_str_eq(r.req.query, "");
	ck_assert_uint_eq(second + r.head_len, in.len);
	bytes_free(&in);
}
END_TEST

/* A Content-Length body that looks like a request is skipped by its length. */
START_TEST(test_pipelining_content_length)
{
	struct bytes in = { 0 };
	struct head_run r;

	bytes_str(&in, curl_post);
	for (size_t n = 0; n < 2000; n += 20)
		bytes_add(&in, "GET / HTTP/1.1\r\n\r\n\r\n", 20);
	bytes_str(&in, ffmpeg_get);

	run_head(&r, in.p, in.len, _i);
	check_done(&r, sizeof curl_post - 1, "POST", _i);
	ck_assert_uint_eq(r.req.content_length, 2000);
	size_t next = r.head_len + (size_t)r.req.content_length;
	run_head(&r, in.p + next, in.len - next, _i);
	check_done(&r, sizeof ffmpeg_get - 1, "GET after the body", _i);
	ck_assert_str_eq(r.req.path, "/stream/cam1");
	bytes_free(&in);
}
END_TEST

/* Head, chunked body and the next head, each found where the previous one ended. */
START_TEST(test_pipelining_chunked)
{
	struct bytes in = { 0 };
	struct head_run r;
	struct chunked_run body;

	bytes_str(&in, curl_put);
	bytes_str(&in, "5;ext\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n");
	bytes_str(&in, curl_put);
	bytes_str(&in, curl_put_body);
	bytes_str(&in, curl_head);

	size_t off = 0;
	for (int i = 0; i < 2; i++) {
		run_head(&r, in.p + off, in.len - off, _i);
		check_done(&r, sizeof curl_put - 1, "PUT", _i);
		ck_assert(r.req.is_chunked);
		off += r.head_len;
		run_chunked(&body, in.p + off, in.len - off, _i);
		ck_assert_int_eq(body.res, FR_HTTP_CHUNKED_DONE);
		ck_assert_str_eq((const char *)body.data.p, "hello");
		off += body.end;
		bytes_free(&body.data);
	}
	run_head(&r, in.p + off, in.len - off, _i);
	check_done(&r, sizeof curl_head - 1, "HEAD after two bodies", _i);
	ck_assert_uint_eq(off + r.head_len, in.len);
	bytes_free(&in);
}
END_TEST

/* Many requests in one buffer, with empty lines between them (RFC 9112 2.2). */
START_TEST(test_pipelining_many)
{
	static const char *const heads[] = { curl_get, curl_head, ffmpeg_get, curl_http10 };
	static const char *const paths[] = {
		"/stream/default", "/snapshot/default", "/stream/cam1", "/snapshot/cam1",
	};
	struct bytes in = { 0 };
	struct head_run r;

	for (int i = 0; i < 12; i++) {
		if (i % 3 == 2)
			bytes_str(&in, "\r\n");
		bytes_str(&in, heads[i % 4]);
	}
	size_t off = 0;
	for (int i = 0; i < 12; i++) {
		size_t gap = i % 3 == 2 ? 2 : 0;

		run_head(&r, in.p + off, in.len - off, _i);
		check_done(&r, gap + strlen(heads[i % 4]), paths[i % 4], _i);
		ck_assert_str_eq(r.req.path, paths[i % 4]);
		off += r.head_len;
	}
	ck_assert_uint_eq(off, in.len);
	bytes_free(&in);
}
END_TEST

/* ---- query ---- */

START_TEST(test_query_values)
{
	static const char in[] = "GET /stream/cam1?fps=10&name=a%20b+c&flag&empty=&x=%41%42"
				 "&f%70s2=3&a=1&a=2&&eq=a=b HTTP/1.1\r\nHost: h\r\n\r\n";
	static const struct {
		const char *name;
		enum fr_http_query_result res;
		const char *value;
	} cases[] = {
		{ "fps", FR_HTTP_QUERY_FOUND, "10" },
		{ "name", FR_HTTP_QUERY_FOUND, "a b c" },
		{ "flag", FR_HTTP_QUERY_FOUND, "" },
		{ "empty", FR_HTTP_QUERY_FOUND, "" },
		{ "x", FR_HTTP_QUERY_FOUND, "AB" },
		{ "fps2", FR_HTTP_QUERY_FOUND, "3" },	/* the name was encoded */
		{ "a", FR_HTTP_QUERY_FOUND, "1" },	/* the first one */
		{ "eq", FR_HTTP_QUERY_FOUND, "a=b" },	/* split at the first '=' */
		{ "fp", FR_HTTP_QUERY_ABSENT, "" },
		{ "fpsx", FR_HTTP_QUERY_ABSENT, "" },
		{ "FPS", FR_HTTP_QUERY_ABSENT, "" },
		{ "", FR_HTTP_QUERY_ABSENT, "" },
	};
	struct head_run r;

	run_head_str(&r, in, _i);
	check_done(&r, sizeof in - 1, "query", _i);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[16];

		memset(out, 'z', sizeof out);
		ck_assert_msg(fr_http_query_get(r.req.query, cases[i].name, out, sizeof out) ==
		    cases[i].res, "parameter \"%s\"", cases[i].name);
		ck_assert_str_eq(out, cases[i].value);
	}
}
END_TEST

START_TEST(test_query_invalid)
{
	static const struct {
		const char *query;
		size_t out_len;
		enum fr_http_query_result res;
		const char *value;
	} cases[] = {
		{ "fps=%4", 16, FR_HTTP_QUERY_INVALID, "" },
		{ "fps=%zz", 16, FR_HTTP_QUERY_INVALID, "" },
		{ "fps=1%", 16, FR_HTTP_QUERY_INVALID, "" },
		{ "fps=%00", 16, FR_HTTP_QUERY_INVALID, "" },
		{ "f%zs=1&fps=2", 16, FR_HTTP_QUERY_INVALID, "" },
		{ "fps=1&b%zz=2", 16, FR_HTTP_QUERY_FOUND, "1" },	/* never reached */
		{ "fps=1234", 4, FR_HTTP_QUERY_INVALID, "" },
		{ "fps=123", 4, FR_HTTP_QUERY_FOUND, "123" },
		{ "fps=%31%32%33", 4, FR_HTTP_QUERY_FOUND, "123" },
		{ "fps=1", 1, FR_HTTP_QUERY_INVALID, "" },
		{ "fps", 1, FR_HTTP_QUERY_FOUND, "" },
		{ "", 16, FR_HTTP_QUERY_ABSENT, "" },
		{ "&&&", 16, FR_HTTP_QUERY_ABSENT, "" },
		{ "=1&fps", 16, FR_HTTP_QUERY_FOUND, "" },
		{ "fps=a+%2B", 16, FR_HTTP_QUERY_FOUND, "a +" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[16];

		memset(out, 'z', sizeof out);
		ck_assert_msg(fr_http_query_get(cases[i].query, "fps", out, cases[i].out_len) ==
		    cases[i].res, "query \"%s\"", cases[i].query);
		ck_assert_str_eq(out, cases[i].value);
	}

	/* The head parser refuses such escapes before anyone asks. */
	struct head_run r;
	run_head_str(&r, "GET /s?fps=%4 HTTP/1.1\r\nHost: h\r\n\r\n", _i);
	check_error(&r, 400, "bad escape in the query", _i);
}
END_TEST

/* ---- fuzz: any input, any chunking, the same outcome ---- */

static void
mutate(struct bytes *b, struct test_rng *rng)
{
	static const char interesting[] = " \t\r\n:;,%?/*#@=\"\0\x7f\x80\xff" "0aAF";
	size_t at = b->len ? test_rng_below(rng, b->len) : 0;
	uint8_t v = (uint8_t)interesting[test_rng_below(rng, sizeof interesting - 1)];

	switch (test_rng_below(rng, 4)) {
	case 0:		/* overwrite */
		if (b->len > 0)
			b->p[at] = v;
		break;
	case 1:		/* insert */
		bytes_add(b, "", 1);
		memmove(b->p + at + 1, b->p + at, b->len - 1 - at);
		b->p[at] = v;
		break;
	case 2:		/* delete */
		if (b->len > 0) {
			memmove(b->p + at, b->p + at + 1, b->len - at - 1);
			b->len--;
		}
		break;
	default: {	/* repeat a run */
		size_t n = 1 + test_rng_below(rng, 40);

		if (at + n > b->len)
			n = b->len - at;
		struct bytes run = { 0 };
		bytes_add(&run, b->p + at, n);
		bytes_add(b, run.p, run.len);
		memmove(b->p + at + n, b->p + at, b->len - n - at);
		memcpy(b->p + at, run.p, n);
		bytes_free(&run);
		break;
	}
	}
}

static void
check_same_request(const struct fr_http_request *a, const struct fr_http_request *b, int iter)
{
	REQUIRE(a->method == b->method && a->minor_version == b->minor_version &&
	    a->is_keep_alive == b->is_keep_alive && a->is_absolute_form == b->is_absolute_form &&
	    a->has_host == b->has_host && a->has_content_length == b->has_content_length &&
	    a->is_chunked == b->is_chunked && a->expects_continue == b->expects_continue &&
	    a->content_length == b->content_length && a->header_count == b->header_count,
	    "iteration %d: scalar fields differ", iter);
	REQUIRE(strcmp(a->method_text, b->method_text) == 0 && strcmp(a->path, b->path) == 0 &&
	    strcmp(a->query, b->query) == 0 && strcmp(a->host, b->host) == 0 &&
	    strcmp(a->authorization, b->authorization) == 0 &&
	    strcmp(a->content_type, b->content_type) == 0,
	    "iteration %d: string fields differ", iter);
}

START_TEST(test_fuzz_head)
{
	static const char *const seeds[] = {
		curl_get, curl_head, curl_http10, curl_put, curl_post, ffmpeg_put, ffmpeg_get,
		"GET http://h:1/a?b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n",
		"OPTIONS * HTTP/1.1\nHost: h\nExpect: 100-continue\nContent-Length: 1, 1\n\n",
	};

	for (int iter = 0; iter < 400; iter++) {
		struct test_rng rng;
		struct bytes in = { 0 };
		struct head_run whole, split;

		test_rng_init(&rng, 0xf00d0000u + (uint64_t)iter);
		bytes_str(&in, seeds[test_rng_below(&rng, sizeof seeds / sizeof seeds[0])]);
		for (size_t n = 1 + test_rng_below(&rng, 4); n > 0; n--)
			mutate(&in, &rng);
		run_head_max(&whole, in.p, in.len, 150, CHUNKING_WHOLE);
		run_head_max(&split, in.p, in.len, 150, _i);
		REQUIRE(whole.res == split.res && whole.status == split.status &&
		    whole.head_len == split.head_len && whole.error == split.error,
		    "iteration %d: whole %s %d (%s), %s %s %d (%s)", iter, result_name(whole.res),
		    whole.status, whole.error ? whole.error : "", chunking_name(_i),
		    result_name(split.res), split.status, split.error ? split.error : "");
		REQUIRE(whole.res != FR_HTTP_PARSE_DONE || whole.head_len <= 150,
		    "iteration %d: head_len %zu over the limit", iter, whole.head_len);
		if (whole.res == FR_HTTP_PARSE_DONE)
			check_same_request(&whole.req, &split.req, iter);
		bytes_free(&in);
	}
}
END_TEST

START_TEST(test_fuzz_chunked)
{
	static const char *const exts[] = { "", ";a=b", " ; q=\"x\"", ";" };

	for (int iter = 0; iter < 400; iter++) {
		struct test_rng rng;
		struct bytes in = { 0 }, data = { 0 };
		struct chunked_run whole, split;

		test_rng_init(&rng, 0xc0de0000u + (uint64_t)iter);
		bytes_add(&data, "", 0);
		for (size_t n = test_rng_below(&rng, 5); n > 0; n--) {
			size_t size = 1 + test_rng_below(&rng, 300);
			char line[64];

			const char *ext = exts[test_rng_below(&rng, 4)];

			if (test_rng_below(&rng, 2))
				snprintf(line, sizeof line, "%zx%s\r\n", size, ext);
			else
				snprintf(line, sizeof line, "%zX%s\r\n", size, ext);
			bytes_str(&in, line);
			for (size_t k = 0; k < size; k++) {
				uint8_t b = (uint8_t)test_rng_next(&rng);

				bytes_add(&in, &b, 1);
				bytes_add(&data, &b, 1);
			}
			bytes_str(&in, "\r\n");
		}
		bytes_str(&in, test_rng_below(&rng, 2) ? "0\r\n\r\n" : "0\r\nA: b\r\n\r\n");
		size_t body_len = in.len;
		bytes_str(&in, "GET / HTTP/1.1\r\n\r\n");
		bool is_mutated = test_rng_below(&rng, 4) != 0;
		for (size_t n = is_mutated ? 1 + test_rng_below(&rng, 3) : 0; n > 0; n--)
			mutate(&in, &rng);

		run_chunked(&whole, in.p, in.len, CHUNKING_WHOLE);
		run_chunked(&split, in.p, in.len, _i);
		REQUIRE(whole.res == split.res && whole.end == split.end &&
		    whole.error == split.error && whole.data.len == split.data.len &&
		    memcmp(whole.data.p, split.data.p, whole.data.len) == 0,
		    "iteration %d: whole %s at %zu, %s %s at %zu", iter, chunked_name(whole.res),
		    whole.end, chunking_name(_i), chunked_name(split.res), split.end);
		if (!is_mutated)
			REQUIRE(whole.res == FR_HTTP_CHUNKED_DONE && whole.end == body_len &&
			    whole.data.len == data.len &&
			    memcmp(whole.data.p, data.p, data.len) == 0,
			    "iteration %d: a valid body was not decoded", iter);
		bytes_free(&whole.data);
		bytes_free(&split.data);
		bytes_free(&data);
		bytes_free(&in);
	}
}
END_TEST

/* ---- the suite ---- */

static Suite *
http_parse_suite(void)
{
	Suite *s = suite_create("http_parse");

	chunked_tcase(s, "request_line", FR_TESTS(test_request_line_curl_get,
	    test_request_line_curl_head, test_request_line_ffmpeg_get, test_request_line_http10,
	    test_request_line_methods, test_request_line_versions, test_request_line_syntax,
	    test_request_line_targets, test_request_line_line_ends));

	chunked_tcase(s, "headers", FR_TESTS(test_headers_ffmpeg_put, test_headers_curl_put,
	    test_headers_curl_post, test_headers_case_and_ows, test_headers_connection,
	    test_headers_content_length, test_headers_transfer_encoding, test_headers_host,
	    test_headers_expect, test_headers_singletons, test_headers_syntax));

	chunked_tcase(s, "limits", FR_TESTS(test_limits_head_default, test_limits_head_custom,
	    test_limits_target, test_limits_method, test_limits_header_count, test_limits_fields,
	    test_limits_incomplete));

	chunked_tcase(s, "pipelining", FR_TESTS(test_pipelining_two_gets,
	    test_pipelining_content_length, test_pipelining_chunked, test_pipelining_many));

	chunked_tcase(s, "chunked", FR_TESTS(test_chunked_curl, test_chunked_ffmpeg_style,
	    test_chunked_sizes, test_chunked_huge_sizes, test_chunked_missing_crlf,
	    test_chunked_extensions, test_chunked_trailers, test_chunked_calls));

	chunked_tcase(s, "query", FR_TESTS(test_query_values, test_query_invalid));

	chunked_tcase(s, "fuzz", FR_TESTS(test_fuzz_head, test_fuzz_chunked));
	return s;
}

int
main(void)
{
	return fr_run_suite(http_parse_suite());
}
