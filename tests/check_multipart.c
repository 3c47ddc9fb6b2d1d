/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the multipart/x-mixed-replace wire format: the response head and its
 * boundary, the part heads, the tails of both styles, and the wrap stored around a
 * frame. The expected bytes are spelled out here, independently of multipart.c.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fr/multipart.h"

#include "suite.h"

#define HEAD                                                                  \
	"HTTP/1.1 200 OK\r\n"                                                 \
	"Server: framerouter/" PACKAGE_VERSION "\r\n"                         \
	"Content-Type: multipart/x-mixed-replace;boundary=framerouter-frame\r\n" \
	"Cache-Control: no-cache, no-store, must-revalidate\r\n"              \
	"Pragma: no-cache\r\n"                                                \
	"Access-Control-Allow-Origin: *\r\n"                                  \
	"Connection: close\r\n"                                               \
	"\r\n"

static void
assert_bytes(const char *got, size_t got_len, const char *want)
{
	ck_assert_uint_eq(got_len, strlen(want));
	ck_assert_mem_eq(got, want, got_len);
}

START_TEST(test_response_head)
{
	size_t len;
	const char *head = fr_multipart_response_head(&len);

	assert_bytes(head, len, HEAD);
}
END_TEST

START_TEST(test_preambles)
{
	size_t len;
	const char *p = fr_multipart_preamble(FR_MULTIPART_PLAIN, &len);

	assert_bytes(p, len, HEAD "--framerouter-frame\r\n");
	p = fr_multipart_preamble(FR_MULTIPART_ADVANCE, &len);
	assert_bytes(p, len, HEAD "--framerouter-frame\r\nContent-Type: image/jpeg\r\n\r\n");
}
END_TEST

START_TEST(test_part_head)
{
	char buf[FR_MULTIPART_PART_HEAD_MAX];
	size_t n = fr_multipart_part_head(buf, sizeof buf, 81234);

	assert_bytes(buf, n, "Content-Type: image/jpeg\r\nContent-Length: 81234\r\n\r\n");
	/* The largest frame any size_t can describe still fits. */
	n = fr_multipart_part_head(buf, sizeof buf, (size_t)-1);
	ck_assert_uint_gt(n, 0);
	/* Too small a buffer: nothing, never a truncated head. */
	ck_assert_uint_eq(fr_multipart_part_head(buf, 20, 5), 0);
}
END_TEST

START_TEST(test_tails)
{
	size_t len;
	const char *t = fr_multipart_part_tail(FR_MULTIPART_PLAIN, &len);

	assert_bytes(t, len, "\r\n--framerouter-frame\r\n");
	t = fr_multipart_part_tail(FR_MULTIPART_ADVANCE, &len);
	assert_bytes(t, len, "\r\n--framerouter-frame\r\nContent-Type: image/jpeg\r\n\r\n");
}
END_TEST

/* Stored around a frame: the PLAIN head before it, the longer ADVANCE tail after it,
 * of which a PLAIN subscriber sends the first part. */
START_TEST(test_wrap)
{
	char head[FR_MULTIPART_PART_HEAD_MAX];
	struct fr_frame_wrap wrap;
	size_t plain_len;

	fr_multipart_wrap(&wrap, head, sizeof head, 7);
	assert_bytes(wrap.before, wrap.before_len,
	    "Content-Type: image/jpeg\r\nContent-Length: 7\r\n\r\n");
	assert_bytes(wrap.after, wrap.after_len,
	    "\r\n--framerouter-frame\r\nContent-Type: image/jpeg\r\n\r\n");
	const char *plain = fr_multipart_part_tail(FR_MULTIPART_PLAIN, &plain_len);
	ck_assert_uint_lt(plain_len, wrap.after_len);
	ck_assert_mem_eq(wrap.after, plain, plain_len);
}
END_TEST

static Suite *
multipart_suite(void)
{
	Suite *s = suite_create("multipart");

	fr_tcase(s, "format", FR_TESTS(test_response_head, test_preambles, test_part_head,
	    test_tails, test_wrap));
	return s;
}

int
main(void)
{
	return fr_run_suite(multipart_suite());
}
