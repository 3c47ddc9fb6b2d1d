/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for address parsing: every accepted form with its canonical text and the
 * sockaddr it fills, every rejected form with its exact error line, and the loopback
 * and unix predicates. addr.c is pure, so these need no sockets.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "fr/addr.h"

#include "suite.h"

/* Parses s, which must be accepted, and checks its canonical text. */
static void
accept_as(struct fr_addr *a, const char *s, const char *text)
{
	char err[FR_ERR_LEN] = "";

	ck_assert_msg(fr_addr_parse(a, s, err) == 0, "'%s' rejected: %s", s, err);
	ck_assert_str_eq(a->text, text);
}

/* Parses s, which must be rejected with exactly the error line want, leaving the address
 * parsed into before as it was. */
static void
reject_as(const char *s, const char *want)
{
	struct fr_addr a, before;
	char err[FR_ERR_LEN] = "";

	ck_assert_int_eq(fr_addr_parse(&a, "[::1]:8080", err), 0);
	memcpy(&before, &a, sizeof a);
	ck_assert_msg(fr_addr_parse(&a, s, err) == -1, "'%s' accepted as %s", s, a.text);
	ck_assert_str_eq(err, want);
	ck_assert_msg(memcmp(&a, &before, sizeof a) == 0, "'%s': the address before changed", s);
}

static void
check_inet(const struct fr_addr *a, const char *ip, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	struct in_addr want;

	ck_assert_int_eq(inet_pton(AF_INET, ip, &want), 1);
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(a->len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(sin->sin_port), port);
	ck_assert_mem_eq(&sin->sin_addr, &want, sizeof want);
}

static void
check_inet6(const struct fr_addr *a, const char *ip, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
	struct in6_addr want;

	ck_assert_int_eq(inet_pton(AF_INET6, ip, &want), 1);
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(a->len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
	ck_assert_mem_eq(&sin6->sin6_addr, &want, sizeof want);
}

/*
 * Parses s, which must be accepted as the IP address ip (IPv6 if it has a ':') and port,
 * with the canonical text text.
 */
static void
accept_inet(const char *s, const char *text, const char *ip, unsigned port)
{
	struct fr_addr a;

	accept_as(&a, s, text);
	if (strchr(ip, ':') != NULL)
		check_inet6(&a, ip, port);
	else
		check_inet(&a, ip, port);
	ck_assert_int_eq(fr_addr_is_unix(&a), 0);
}

/* ---- accepted ---- */

START_TEST(test_accept_ipv4)
{
	accept_inet("127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1", 8080);
	accept_inet("0.0.0.0:1", "0.0.0.0:1", "0.0.0.0", 1);
	accept_inet("192.168.1.20:65535", "192.168.1.20:65535", "192.168.1.20", 65535);
	accept_inet("255.255.255.255:12345", "255.255.255.255:12345", "255.255.255.255", 12345);
}
END_TEST

START_TEST(test_accept_port_leading_zeros)
{
	/* The text is canonical: the port as a plain number. */
	accept_inet("10.0.0.1:0080", "10.0.0.1:80", "10.0.0.1", 80);
}
END_TEST

START_TEST(test_accept_localhost)
{
	accept_inet("localhost:12345", "127.0.0.1:12345", "127.0.0.1", 12345);
}
END_TEST

START_TEST(test_accept_ipv6)
{
	accept_inet("[::1]:8080", "[::1]:8080", "::1", 8080);
	accept_inet("[::]:1", "[::]:1", "::", 1);
	accept_inet("[2001:db8::42]:65535", "[2001:db8::42]:65535", "2001:db8::42", 65535);
	accept_inet("[::ffff:10.1.2.3]:443", "[::ffff:10.1.2.3]:443", "::ffff:10.1.2.3", 443);
}
END_TEST

/*
 * The text is documented as the canonical form, and fr_config_check() compares texts to
 * find an address given twice: two spellings of one IPv6 address must give one text.
 */
START_TEST(test_accept_ipv6_canonical)
{
	accept_inet("[0:0:0:0:0:0:0:1]:8080", "[::1]:8080", "::1", 8080);
	accept_inet("[2001:DB8:0::42]:80", "[2001:db8::42]:80", "2001:db8::42", 80);
}
END_TEST

START_TEST(test_accept_unix)
{
	struct fr_addr a;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.ss;

	accept_as(&a, "unix:/run/framerouter.sock", "unix:/run/framerouter.sock");
	ck_assert_int_eq(sun->sun_family, AF_UNIX);
	ck_assert_str_eq(sun->sun_path, "/run/framerouter.sock");
	ck_assert_uint_eq(a.len, offsetof(struct sockaddr_un, sun_path) +
	    strlen("/run/framerouter.sock") + 1);
	ck_assert_int_eq(fr_addr_is_unix(&a), 1);

	/* Relative paths are paths too. */
	accept_as(&a, "unix:fr.sock", "unix:fr.sock");
	ck_assert_str_eq(sun->sun_path, "fr.sock");
}
END_TEST

START_TEST(test_accept_unix_longest_path)
{
	struct fr_addr a;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.ss;
	char path[sizeof sun->sun_path];		/* 107 characters and the NUL */
	char s[sizeof path + 8];
	char err[FR_ERR_LEN] = "";

	memset(path, 'p', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	snprintf(s, sizeof s, "unix:%s", path);
	ck_assert_int_eq(fr_addr_parse(&a, s, err), 0);
	ck_assert_str_eq(sun->sun_path, path);
	ck_assert_uint_eq(a.len, sizeof(struct sockaddr_un));
	ck_assert_str_eq(a.text, s);
}
END_TEST

/* ---- rejected ---- */

START_TEST(test_reject_port)
{
	const char *range = "out of range (1-65535)";
	char want[FR_ERR_LEN];

	reject_as("127.0.0.1", "expected HOST:PORT, [IPv6]:PORT or unix:/path");
	reject_as("127.0.0.1:", "missing port");
	reject_as("127.0.0.1:0", "port 0 out of range (1-65535)");
	reject_as("127.0.0.1:65536", "port 65536 out of range (1-65535)");
	reject_as("127.0.0.1:70000", "port 70000 out of range (1-65535)");
	snprintf(want, sizeof want, "port 99999999999999999999999 %s", range);
	reject_as("127.0.0.1:99999999999999999999999", want);
	reject_as("127.0.0.1:http", "port 'http' is not a number");
	reject_as("127.0.0.1:80x", "port '80x' is not a number");
	reject_as("127.0.0.1:0x50", "port '0x50' is not a number");
	reject_as("127.0.0.1:-1", "port '-1' is not a number");
	reject_as("127.0.0.1:+80", "port '+80' is not a number");
	reject_as("127.0.0.1: 80", "port ' 80' is not a number");
	reject_as("localhost:0", "port 0 out of range (1-65535)");
	reject_as("[::1]:", "missing port");
	reject_as("[::1]:0", "port 0 out of range (1-65535)");
	reject_as("[::1]:65536", "port 65536 out of range (1-65535)");
	reject_as("[::1]:abc", "port 'abc' is not a number");
}
END_TEST

START_TEST(test_reject_host)
{
	reject_as("", "expected HOST:PORT, [IPv6]:PORT or unix:/path");
	reject_as(":80", "missing or bad host");
	reject_as("0123456789012345678901234567890123:80", "missing or bad host");
	reject_as("256.0.0.1:80", "bad IPv4 address '256.0.0.1' (numeric only)");
	reject_as("127.1:80", "bad IPv4 address '127.1' (numeric only)");
	reject_as("1.2.3.4.5:80", "bad IPv4 address '1.2.3.4.5' (numeric only)");
	reject_as("example.com:80", "bad IPv4 address 'example.com' (numeric only)");
	reject_as("LOCALHOST:80", "bad IPv4 address 'LOCALHOST' (numeric only)");
	reject_as(" 127.0.0.1:80", "bad IPv4 address ' 127.0.0.1' (numeric only)");
}
END_TEST

START_TEST(test_reject_ipv6)
{
	reject_as("::1:80", "IPv6 addresses go in brackets: [::1]:PORT");
	reject_as("2001:db8::1:443", "IPv6 addresses go in brackets: [2001:db8::1]:PORT");
	reject_as("[::1]", "expected [IPv6]:PORT");
	reject_as("[::1]80", "expected [IPv6]:PORT");
	reject_as("[::1:80", "expected [IPv6]:PORT");
	reject_as("[]:80", "bad IPv6 address");
	reject_as("[::g]:80", "bad IPv6 address '::g'");
	reject_as("[127.0.0.1]:80", "bad IPv6 address '127.0.0.1'");
	reject_as("[fe80::1%eth0]:80", "bad IPv6 address 'fe80::1%eth0'");
	/* Longer than any IPv6 text (INET6_ADDRSTRLEN): not quoted back. */
	reject_as("[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb]:80",
	    "bad IPv6 address");
}
END_TEST

START_TEST(test_reject_unix)
{
	struct sockaddr_un sun;
	char path[sizeof sun.sun_path + 1];	/* one character too many */
	char s[sizeof path + 8], want[FR_ERR_LEN];

	reject_as("unix:", "empty unix socket path");
	memset(path, 'p', sizeof path - 1);
	path[sizeof path - 1] = '\0';
	snprintf(s, sizeof s, "unix:%s", path);
	snprintf(want, sizeof want, "unix socket path longer than %zu bytes",
	    sizeof sun.sun_path - 1);
	reject_as(s, want);
	ck_assert_str_eq(want, "unix socket path longer than 107 bytes");
}
END_TEST

/* ---- predicates and kernel addresses ---- */

static int
loopback(const char *s)
{
	struct fr_addr a;
	char err[FR_ERR_LEN];

	ck_assert_msg(fr_addr_parse(&a, s, err) == 0, "'%s': %s", s, err);
	return fr_addr_is_loopback(&a);
}

START_TEST(test_loopback)
{
	ck_assert_int_eq(loopback("127.0.0.1:1"), 1);
	ck_assert_int_eq(loopback("127.255.255.254:1"), 1);
	ck_assert_int_eq(loopback("127.0.0.0:1"), 1);
	ck_assert_int_eq(loopback("localhost:1"), 1);
	ck_assert_int_eq(loopback("[::1]:1"), 1);
	ck_assert_int_eq(loopback("unix:/tmp/fr.sock"), 1);

	ck_assert_int_eq(loopback("0.0.0.0:1"), 0);
	ck_assert_int_eq(loopback("126.255.255.255:1"), 0);
	ck_assert_int_eq(loopback("128.0.0.1:1"), 0);
	ck_assert_int_eq(loopback("10.0.0.1:1"), 0);
	ck_assert_int_eq(loopback("[::]:1"), 0);
	ck_assert_int_eq(loopback("[::2]:1"), 0);
	ck_assert_int_eq(loopback("[2001:db8::1]:1"), 0);
}
END_TEST

START_TEST(test_from_sockaddr)
{
	struct fr_addr a;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(65535) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	ck_assert_int_eq(inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr), 1);
	fr_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof sin);
	ck_assert_str_eq(a.text, "10.1.2.3:4242");
	ck_assert_uint_eq(a.len, sizeof sin);
	ck_assert_mem_eq(&a.ss, &sin, sizeof sin);
	ck_assert_int_eq(fr_addr_is_loopback(&a), 0);

	ck_assert_int_eq(inet_pton(AF_INET6, "::1", &sin6.sin6_addr), 1);
	fr_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof sin6);
	ck_assert_str_eq(a.text, "[::1]:65535");
	ck_assert_uint_eq(a.len, sizeof sin6);
	ck_assert_mem_eq(&a.ss, &sin6, sizeof sin6);
	ck_assert_int_eq(fr_addr_is_loopback(&a), 1);

	/* accept() on a unix socket gives an unnamed peer: just the family. */
	fr_addr_from_sockaddr(&a, (struct sockaddr *)&sun, sizeof(sa_family_t));
	ck_assert_str_eq(a.text, "unix");
	ck_assert_uint_eq(a.len, sizeof(sa_family_t));
	ck_assert_int_eq(fr_addr_is_unix(&a), 1);
	ck_assert_int_eq(fr_addr_is_loopback(&a), 1);
}
END_TEST

/* The text of a parsed address parses back to the same address. */
START_TEST(test_text_round_trip)
{
	static const char *const inputs[] = {
		"127.0.0.1:8080", "localhost:1", "0.0.0.0:0065535", "[::1]:80",
		"[2001:db8::42]:443", "unix:/tmp/x.sock",
	};

	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		struct fr_addr a, b;
		char err[FR_ERR_LEN];

		ck_assert_int_eq(fr_addr_parse(&a, inputs[i], err), 0);
		ck_assert_msg(fr_addr_parse(&b, a.text, err) == 0, "%s: %s", a.text, err);
		ck_assert_str_eq(b.text, a.text);
		ck_assert_uint_eq(b.len, a.len);
		ck_assert_mem_eq(&b.ss, &a.ss, a.len);
	}
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");

	fr_tcase(s, "accepted", FR_TESTS(test_accept_ipv4, test_accept_port_leading_zeros,
	    test_accept_localhost, test_accept_ipv6, test_accept_unix,
	    test_accept_unix_longest_path, test_text_round_trip));

	fr_tcase(s, "canonical", FR_TESTS(test_accept_ipv6_canonical));

	fr_tcase(s, "rejected", FR_TESTS(test_reject_port, test_reject_host, test_reject_ipv6,
	    test_reject_unix));

	fr_tcase(s, "predicates", FR_TESTS(test_loopback, test_from_sockaddr));
	return s;
}

int
main(void)
{
	return fr_run_suite(addr_suite());
}
