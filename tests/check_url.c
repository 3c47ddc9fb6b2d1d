/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for upstream URLs: what parses, into what, what is refused and how it is
 * said (never with the password), the text shown to people, the Host header, Basic
 * credentials (RFC 7617's own example), and redirects resolved against a base.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/url.h"
#include "fr/util.h"

#include "suite.h"

static void
parse_ok(struct fr_url *u, const char *s)
{
	char err[FR_ERR_LEN] = "";

	ck_assert_msg(fr_url_parse(u, s, err) == 0, "%s: %s", s, err);
}

/* s is refused with an error containing want, and the URL parsed into before stays. */
static void
parse_bad(const char *s, const char *want)
{
	struct fr_url u, before;
	char err[FR_ERR_LEN] = "";

	parse_ok(&u, "http://admin:pw@cam:8080/v?x=1");
	memcpy(&before, &u, sizeof u);
	ck_assert_msg(fr_url_parse(&u, s, err) == -1, "%s parsed", s);
	ck_assert_msg(memcmp(&u, &before, sizeof u) == 0, "%s: the URL before was changed", s);
	ck_assert_msg(strstr(err, want) != NULL, "%s: '%s', want '%s'", s, err, want);
	ck_assert_msg(strstr(err, "s3cret") == NULL, "%s: the password is in '%s'", s, err);
}

START_TEST(test_http)
{
	struct fr_url u;

	parse_ok(&u, "http://192.0.2.10/video.mjpg");
	ck_assert_int_eq(u.scheme, FR_URL_HTTP);
	ck_assert_str_eq(u.host, "192.0.2.10");
	ck_assert_uint_eq(u.port, 80);
	ck_assert_str_eq(u.target, "/video.mjpg");
	ck_assert_str_eq(u.basic, "");
	ck_assert_str_eq(u.text, "http://192.0.2.10/video.mjpg");

	parse_ok(&u, "HTTP://Cam.Lan:8080");
	ck_assert_str_eq(u.host, "Cam.Lan");
	ck_assert_uint_eq(u.port, 8080);
	ck_assert_str_eq(u.target, "/");
	ck_assert_str_eq(u.text, "http://Cam.Lan:8080/");

	parse_ok(&u, "http://cam?action=stream#frag");
	ck_assert_str_eq(u.target, "/?action=stream");
	ck_assert_str_eq(u.text, "http://cam/?...");

	parse_ok(&u, "http://[2001:db8::1]:81/s?token=s3cret");
	ck_assert(u.is_ipv6);
	ck_assert_str_eq(u.host, "2001:db8::1");
	ck_assert_uint_eq(u.port, 81);
	ck_assert_str_eq(u.target, "/s?token=s3cret");
	ck_assert_str_eq(u.text, "http://[2001:db8::1]:81/s?...");
}
END_TEST

START_TEST(test_tcp)
{
	struct fr_url u;

	parse_ok(&u, "tcp://127.0.0.1:12346");
	ck_assert_int_eq(u.scheme, FR_URL_TCP);
	ck_assert_uint_eq(u.port, 12346);
	ck_assert_str_eq(u.target, "");
	ck_assert_str_eq(u.text, "tcp://127.0.0.1:12346");
	parse_ok(&u, "tcp://[::1]:5/");
	ck_assert_str_eq(u.text, "tcp://[::1]:5");
	parse_bad("tcp://robot.lan", "tcp:// needs a port");
	parse_bad("tcp://h:1/path", "tcp:// URLs have no path");
	parse_bad("tcp://u:s3cret@h:1", "tcp:// URLs carry no user info");
}
END_TEST

START_TEST(test_credentials)
{
	struct fr_url u;

	/* RFC 7617 2: Aladdin / open sesame. */
	parse_ok(&u, "http://Aladdin:open%20sesame@cam/");
	ck_assert_str_eq(u.basic, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	ck_assert_str_eq(u.text, "http://cam/");
	ck_assert(strstr(u.text, "Aladdin") == NULL);
	/* A user alone; a raw '@' in the password (the last '@' ends the user info). */
	parse_ok(&u, "http://admin@cam/");
	ck_assert_str_eq(u.basic, "YWRtaW46");	/* "admin:" */
	parse_ok(&u, "http://admin:p@ss@cam/");
	ck_assert_str_eq(u.basic, "YWRtaW46cEBzcw==");	/* "admin:p@ss" */
	ck_assert_str_eq(u.host, "cam");
	parse_bad("http://admin:s3cret%zz@cam/", "bad %-escape in the user info");
	parse_bad("http://admin:s3cret%0a@cam/", "control byte in the user info");
}
END_TEST

START_TEST(test_refused)
{
	parse_bad("https://cam/video", "https:// is not supported");
	parse_bad("https://u:s3cret@cam/video", "TLS-terminating proxy");
	parse_bad("rtsp://cam/", "expected a tcp://HOST:PORT or http://");
	parse_bad("cam:80", "expected a tcp://HOST:PORT or http://");
	parse_bad("http://", "no host");
	parse_bad("http:///x", "no host");
	parse_bad("http://u:s3cret@/x", "no host");
	parse_bad("http://cam:0/", "port is not a number in 1-65535");
	parse_bad("http://cam:65536/", "port is not a number in 1-65535");
	parse_bad("http://cam:8o/", "port is not a number in 1-65535");
	parse_bad("http://ca m/", "invalid character in the host name");
	parse_bad("http://[::1/", "IPv6 address without its closing ]");
	parse_bad("http://[zz]/", "bad IPv6 address");
	parse_bad("http://[::1]x/", "unexpected character after the host");
	parse_bad("http://cam/a b", "invalid character in the path or query");
	parse_bad("http://cam/\x7f", "invalid character in the path or query");
}
END_TEST

START_TEST(test_limits)
{
	char s[FR_URL_MAX + 16];
	struct fr_url u;
	size_t n;

	n = (size_t)snprintf(s, sizeof s, "http://cam/");
	memset(s + n, 'p', FR_URL_TARGET_MAX - 1);
	s[n + FR_URL_TARGET_MAX - 1] = '\0';
	parse_ok(&u, s);
	ck_assert_uint_eq(strlen(u.target), FR_URL_TARGET_MAX);
	strcat(s, "p");
	parse_bad(s, "path and query longer than");
	memset(s, 'h', sizeof s - 1);
	s[sizeof s - 1] = '\0';
	memcpy(s, "http://", 7);
	parse_bad(s, "URL longer than");
	n = (size_t)snprintf(s, sizeof s, "http://");
	memset(s + n, 'h', FR_URL_HOST_MAX + 1);
	s[n + FR_URL_HOST_MAX + 1] = '\0';
	parse_bad(s, "host name too long");
}
END_TEST

START_TEST(test_host_header)
{
	struct fr_url u;
	char h[300];

	parse_ok(&u, "http://cam/");
	fr_url_host_header(&u, h, sizeof h);
	ck_assert_str_eq(h, "cam");
	parse_ok(&u, "http://[::1]:8080/");
	fr_url_host_header(&u, h, sizeof h);
	ck_assert_str_eq(h, "[::1]:8080");
}
END_TEST

START_TEST(test_redirects)
{
	struct fr_url base, u;
	char err[FR_ERR_LEN];

	parse_ok(&base, "http://user:pw@cam:8080/a/b/stream?x=1");
	ck_assert_int_eq(fr_url_resolve(&u, &base, "/live", err), 0);
	ck_assert_str_eq(u.text, "http://cam:8080/live");
	ck_assert_str_eq(u.basic, base.basic);
	ck_assert_int_eq(fr_url_resolve(&u, &base, "c/d?y=2#f", err), 0);
	ck_assert_str_eq(u.target, "/a/b/c/d?y=2");
	ck_assert_int_eq(fr_url_resolve(&u, &base, "?z", err), 0);
	ck_assert_str_eq(u.target, "/a/b/stream?z");
	/* Another host: the credentials stay behind. */
	ck_assert_int_eq(fr_url_resolve(&u, &base, "http://other/x", err), 0);
	ck_assert_str_eq(u.text, "http://other/x");
	ck_assert_str_eq(u.basic, "");
	ck_assert_int_eq(fr_url_resolve(&u, &base, "//cam:8080/y", err), 0);
	ck_assert_str_eq(u.basic, base.basic);
	ck_assert_str_eq(u.target, "/y");
	/* The same host named in a full URL keeps them; new ones in it replace them. */
	ck_assert_int_eq(fr_url_resolve(&u, &base, "HTTP://CAM:8080/z", err), 0);
	ck_assert_str_eq(u.basic, base.basic);
	ck_assert_int_eq(fr_url_resolve(&u, &base, "http://a:b@cam:8080/z", err), 0);
	ck_assert_str_eq(u.basic, "YTpi");
	ck_assert_int_eq(fr_url_resolve(&u, &base, "https://cam/x", err), -1);
	ck_assert_str_eq(err, "redirect to https://: only http:// redirects are followed");
	ck_assert_int_eq(fr_url_resolve(&u, &base, "tcp://cam:1", err), -1);
	ck_assert_int_eq(fr_url_resolve(&u, &base, "", err), -1);
	ck_assert_str_eq(err, "redirect without a Location");
	ck_assert_int_eq(fr_url_resolve(&u, &base, "/a b", err), -1);
	ck_assert_str_eq(err, "redirect: invalid character in the path or query");
}
END_TEST

START_TEST(test_equal_and_base64)
{
	struct fr_url a, b;
	char out[16];

	parse_ok(&a, "http://u:p@cam/x");
	parse_ok(&b, "http://u:p@cam:80/x");
	ck_assert(fr_url_equal(&a, &b));
	parse_ok(&b, "http://u:q@cam/x");
	ck_assert(!fr_url_equal(&a, &b));
	parse_ok(&b, "http://u:p@cam/y");
	ck_assert(!fr_url_equal(&a, &b));
	ck_assert_uint_eq(fr_url_base64("", 0, out, sizeof out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(fr_url_base64("f", 1, out, sizeof out), 4);
	ck_assert_str_eq(out, "Zg==");
	ck_assert_uint_eq(fr_url_base64("foobar", 6, out, sizeof out), 8);
	ck_assert_str_eq(out, "Zm9vYmFy");	/* RFC 4648 10 */
	ck_assert_uint_eq(fr_url_base64("foobar", 6, out, 8), 0);	/* no room for NUL */
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("url");

	fr_tcase(s, "parse", FR_TESTS(test_http, test_tcp, test_credentials, test_refused,
	    test_limits, test_host_header));
	fr_tcase(s, "resolve", FR_TESTS(test_redirects, test_equal_and_base64));
	return fr_run_suite(s);
}
