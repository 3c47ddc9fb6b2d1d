/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for --allow's access lists: CIDR forms accepted and rejected (with the
 * exact error), matching at prefix boundaries for IPv4 and IPv6, IPv4 rules against
 * IPv4-mapped peers, rules of one family never admitting peers of the other (also
 * IPv6 rules that cover ::ffff:0:0/96), unix peers, and the --allow option's KIND=
 * scoping in config.c.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/acl.h"
#include "fr/config.h"

#include "suite.h"

static struct fr_acl
acl_of(const char *const *cidrs)
{
	struct fr_acl acl = { 0 };
	char err[FR_ERR_LEN];

	for (; *cidrs != NULL; cidrs++) {
		struct fr_cidr c;

		ck_assert_msg(fr_cidr_parse(&c, *cidrs, err) == 0, "%s: %s", *cidrs, err);
		ck_assert_int_eq(fr_acl_add(&acl, &c, err), 0);
	}
	return acl;
}

/* A peer address with any port: "1.2.3.4:5" or "[::1]:5". */
static struct fr_addr
peer(const char *text)
{
	struct fr_addr a;
	char err[FR_ERR_LEN];

	ck_assert_msg(fr_addr_parse(&a, text, err) == 0, "%s: %s", text, err);
	return a;
}

static void
reject_as(const char *s, const char *want)
{
	struct fr_cidr c;
	char err[FR_ERR_LEN] = "";

	ck_assert_msg(fr_cidr_parse(&c, s, err) == -1, "'%s' accepted", s);
	ck_assert_str_eq(err, want);
}

START_TEST(test_parse_forms)
{
	static const struct {
		const char *in, *text;
		int family;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", AF_INET },
		{ "192.168.1.7", "192.168.1.7/32", AF_INET },
		{ "0.0.0.0/0", "0.0.0.0/0", AF_INET },
		{ "fd00::/8", "fd00::/8", AF_INET6 },
		{ "::1", "::1/128", AF_INET6 },
		{ "::/0", "::/0", AF_INET6 },
		{ "::/96", "::/96", AF_INET6 },			/* IPv4-compatible: IPv6 */
		{ "::fffe:0:0/95", "::fffe:0:0/95", AF_INET6 },	/* covers the mapped /96 */
		/* IPv4-mapped forms are the IPv4 networks they spell. */
		{ "::ffff:0:0/96", "0.0.0.0/0", AF_INET },
		{ "::ffff:0.0.0.0/97", "0.0.0.0/1", AF_INET },
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8", AF_INET },
		{ "::FFFF:a00:0/104", "10.0.0.0/8", AF_INET },
		{ "::ffff:192.0.2.7", "192.0.2.7/32", AF_INET },
	};
	char err[FR_ERR_LEN];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fr_cidr c;

		ck_assert_msg(fr_cidr_parse(&c, cases[i].in, err) == 0, "%s: %s", cases[i].in, err);
		ck_assert_str_eq(c.text, cases[i].text);
		ck_assert_msg(c.family == cases[i].family, "%s: family %d", cases[i].in, c.family);
	}
}
END_TEST

START_TEST(test_parse_rejects)
{
	reject_as("", "'' is not an address or network");
	reject_as("/8", "'/8' is not an address or network");
	reject_as("10.0.0.0/33", "prefix length '33' out of range (0-32)");
	reject_as("10.0.0.0/", "prefix length '' out of range (0-32)");
	reject_as("10.0.0.0/-1", "prefix length '-1' out of range (0-32)");
	reject_as("10.0.0.0/8x", "prefix length '8x' out of range (0-32)");
	reject_as("::/129", "prefix length '129' out of range (0-128)");
	reject_as("300.1.1.1", "'300.1.1.1' is not a numeric IPv4 or IPv6 address");
	reject_as("localhost", "'localhost' is not a numeric IPv4 or IPv6 address");
	reject_as("10.1.0.0/8", "'10.1.0.0/8' has bits set beyond the /8 prefix");
	reject_as("fd00::1/8", "'fd00::1/8' has bits set beyond the /8 prefix");
	reject_as("::ffff:0:0/95", "'::ffff:0:0/95' has bits set beyond the /95 prefix");
	reject_as("::ffff:10.1.0.0/104", "'::ffff:10.1.0.0/104' has bits set beyond the /104 "
	    "prefix");
}
END_TEST

START_TEST(test_match_ipv4)
{
	struct fr_acl acl = acl_of((const char *const[]){ "10.0.0.0/8", "192.168.1.128/25",
	    NULL });

	ck_assert(fr_acl_permits(&acl, &(struct fr_addr){ 0 }) == 0);	/* no family */
	struct fr_addr in[] = { peer("10.0.0.0:1"), peer("10.255.255.255:1"),
	    peer("192.168.1.128:1"), peer("192.168.1.255:1"), peer("[::ffff:10.1.2.3]:1") };
	struct fr_addr out[] = { peer("11.0.0.0:1"), peer("9.255.255.255:1"),
	    peer("192.168.1.127:1"), peer("127.0.0.1:1"), peer("[::1]:1"),
	    peer("[::a00:1]:1") /* ::10.0.0.1, IPv4-compatible, not mapped */ };

	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
		ck_assert_msg(fr_acl_permits(&acl, &in[i]), "%s denied", in[i].text);
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		ck_assert_msg(!fr_acl_permits(&acl, &out[i]), "%s permitted", out[i].text);
}
END_TEST

START_TEST(test_match_ipv6)
{
	struct fr_acl acl = acl_of((const char *const[]){ "fd00:1234::/33", "::1", NULL });
	struct fr_addr in[] = { peer("[fd00:1234::1]:1"), peer("[fd00:1234:7fff::]:1"),
	    peer("[::1]:1") };
	struct fr_addr out[] = { peer("[fd00:1234:8000::]:1"), peer("[fd00:1235::]:1"),
	    peer("[::2]:1"), peer("127.0.0.1:1") };

	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
		ck_assert_msg(fr_acl_permits(&acl, &in[i]), "%s denied", in[i].text);
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		ck_assert_msg(!fr_acl_permits(&acl, &out[i]), "%s permitted", out[i].text);
}
END_TEST

/*
 * A rule admits peers of its own family only. IPv4 peers (a.b.c.d) are tried twice:
 * as an AF_INET peer and as the AF_INET6 ::ffff:a.b.c.d a dual-stack socket reports.
 */
static const struct {
	const char *rule;
	const char *admits[6], *denies[8];
} family_cases[] = {
	{ "::/0", { "::1", "fd00::1", "2001:db8::1", "::a00:1", "::fffe:0:1" },
	    { "10.1.2.3", "127.0.0.1", "0.0.0.0", "255.255.255.255" } },
	{ "::ffff:0:0/96", { "10.1.2.3", "127.0.0.1", "0.0.0.0", "255.255.255.255" },
	    { "::1", "fd00::1", "::a00:1", "::fffe:ffff:ffff", "::1:ffff:0:0" } },
	{ "0.0.0.0/0", { "10.1.2.3", "127.0.0.1", "0.0.0.0", "255.255.255.255" },
	    { "::1", "fd00::1", "::a00:1", "::fffe:ffff:ffff", "::1:ffff:0:0" } },
	{ "::/64", { "::1", "::1:2:3:4", "::a00:1" },
	    { "10.1.2.3", "127.0.0.1", "0:0:0:1::", "fd00::1" } },
	{ "::/80", { "::1", "::a00:1", "::fffe:0:1" },
	    { "10.1.2.3", "127.0.0.1", "0.0.0.0", "::1:0:0:1" } },
	{ "::/95", { "::1", "::1:0:0", "::1:ffff:ffff" },
	    { "10.1.2.3", "0.0.0.0", "::2:0:0", "::ffff:0:0:1" } },
	{ "::fffe:0:0/95", { "::fffe:0:1" },	/* an IPv6 rule over the mapped /96 */
	    { "10.1.2.3", "0.0.0.0", "255.255.255.255", "::1" } },
	{ "::/97", { "::1", "::a00:1", "::7fff:ffff" },
	    { "10.1.2.3", "0.0.0.1", "::8000:0", "::1:0:1" } },
	{ "::ffff:0:0/97", { "10.1.2.3", "0.0.0.0", "127.255.255.255" },
	    { "128.0.0.0", "200.0.0.1", "::1", "::a00:1", "::fffe:a00:1" } },
	{ "::ffff:10.0.0.0/104", { "10.0.0.0", "10.1.2.3", "10.255.255.255" },
	    { "11.0.0.0", "9.255.255.255", "::a01:203", "::1" } },
	{ "::1", { "::1" }, { "127.0.0.1", "0.0.0.1", "::2" } },
};

/* "10.1.2.3" -> the peers "10.1.2.3:1" and "[::ffff:10.1.2.3]:1"; "::1" -> "[::1]:1". */
static size_t
peers_of(const char *host, struct fr_addr out[2])
{
	char text[80];
	struct in_addr v4;

	if (inet_pton(AF_INET, host, &v4) != 1) {
		snprintf(text, sizeof text, "[%s]:1", host);
		out[0] = peer(text);
		ck_assert_int_eq(out[0].ss.ss_family, AF_INET6);
		return 1;
	}
	snprintf(text, sizeof text, "%s:1", host);
	out[0] = peer(text);
	ck_assert_int_eq(out[0].ss.ss_family, AF_INET);
	snprintf(text, sizeof text, "[::ffff:%s]:1", host);
	out[1] = peer(text);
	ck_assert_int_eq(out[1].ss.ss_family, AF_INET6);
	return 2;
}

static void
expect_permits(const struct fr_acl *acl, const char *const *hosts, size_t n, int want)
{
	for (size_t i = 0; i < n && hosts[i] != NULL; i++) {
		struct fr_addr p[2];
		size_t np = peers_of(hosts[i], p);

		for (size_t j = 0; j < np; j++)
			ck_assert_msg(fr_acl_permits(acl, &p[j]) == want, "--allow %s: %s %s",
			    acl->cidrs[0].text, p[j].text, want ? "denied" : "permitted");
	}
}

START_TEST(test_match_family)
{
	const char *rule = family_cases[_i].rule;
	struct fr_acl acl = acl_of((const char *const[]){ rule, NULL });

	expect_permits(&acl, family_cases[_i].admits, 6, 1);
	expect_permits(&acl, family_cases[_i].denies, 8, 0);
}
END_TEST

/* Rules of both families in one list: each peer meets the rules of its own. */
START_TEST(test_match_both_lists)
{
	struct fr_acl acl = acl_of((const char *const[]){ "::/0", "10.0.0.0/8", NULL });
	const char *in[] = { "::1", "fd00::1", "10.1.2.3" }, *out[] = { "11.0.0.1", "127.0.0.1" };

	expect_permits(&acl, in, 3, 1);
	expect_permits(&acl, out, 2, 0);
	acl = acl_of((const char *const[]){ "0.0.0.0/0", "fd00::/8", NULL });
	const char *in6[] = { "127.0.0.1", "0.0.0.0", "fd00::1" }, *out6[] = { "::1", "fe80::1" };
	expect_permits(&acl, in6, 3, 1);
	expect_permits(&acl, out6, 2, 0);
}
END_TEST

START_TEST(test_empty_and_unix)
{
	struct fr_acl empty = { 0 };
	struct fr_acl acl = acl_of((const char *const[]){ "10.0.0.0/8", NULL });
	struct fr_addr any = peer("203.0.113.9:80"), sock = peer("unix:/tmp/x.sock");

	ck_assert(fr_acl_permits(&empty, &any));
	ck_assert(fr_acl_permits(&acl, &sock));
	ck_assert(!fr_acl_permits(&acl, &any));
	struct fr_acl everything = acl_of((const char *const[]){ "0.0.0.0/0", NULL });
	ck_assert(fr_acl_permits(&everything, &any));
	ck_assert(!fr_acl_permits(&everything, &(struct fr_addr){ 0 }));
}
END_TEST

START_TEST(test_add_dedup_and_full)
{
	struct fr_acl acl = { 0 };
	struct fr_cidr c;
	char err[FR_ERR_LEN];

	ck_assert_int_eq(fr_cidr_parse(&c, "10.0.0.0/8", err), 0);
	ck_assert_int_eq(fr_acl_add(&acl, &c, err), 0);
	ck_assert_int_eq(fr_acl_add(&acl, &c, err), 0);
	ck_assert_uint_eq(acl.n, 1);
	for (unsigned i = 1; i < FR_ACL_MAX; i++) {
		char text[32];

		snprintf(text, sizeof text, "10.%u.0.0/16", i);
		ck_assert_int_eq(fr_cidr_parse(&c, text, err), 0);
		ck_assert_int_eq(fr_acl_add(&acl, &c, err), 0);
	}
	ck_assert_int_eq(fr_cidr_parse(&c, "192.0.2.0/24", err), 0);
	ck_assert_int_eq(fr_acl_add(&acl, &c, err), -1);
	ck_assert_str_eq(err, "more than 64 networks");

	struct fr_acl copy = acl;
	ck_assert(fr_acl_equal(&acl, &copy));
	copy.cidrs[3].prefix_len--;
	ck_assert(!fr_acl_equal(&acl, &copy));

	/* The mapped spelling of a network is that network. */
	struct fr_acl a = acl_of((const char *const[]){ "10.0.0.0/8", "::ffff:10.0.0.0/104",
	    "::ffff:0:0/96", "0.0.0.0/0", NULL });
	struct fr_acl b = acl_of((const char *const[]){ "::ffff:a00:0/104", "0.0.0.0/0", NULL });
	ck_assert_uint_eq(a.n, 2);
	ck_assert(fr_acl_equal(&a, &b));
	b = acl_of((const char *const[]){ "10.0.0.0/8", "::/0", NULL });
	ck_assert(!fr_acl_equal(&a, &b));
}
END_TEST

/* --allow through the option table: KIND= picks the lists, a bare CIDR fills all. */
START_TEST(test_option_scopes)
{
	static struct fr_config c;
	char err[FR_ERR_LEN] = "";

	fr_config_init(&c);
	ck_assert_int_eq(fr_config_set(&c, "allow", "10.0.0.0/8", err), 0);
	ck_assert_int_eq(fr_config_set(&c, "allow", "ingest=192.0.2.1", err), 0);
	ck_assert_int_eq(fr_config_set(&c, "allow", "listen=fd00::/8", err), 0);
	ck_assert_int_eq(fr_config_set(&c, "allow", "http=127.0.0.0/8", err), 0);
	ck_assert_uint_eq(c.allow_ingest.n, 2);
	ck_assert_uint_eq(c.allow_listen.n, 2);
	ck_assert_uint_eq(c.allow_http.n, 2);
	ck_assert_str_eq(c.allow_ingest.cidrs[1].text, "192.0.2.1/32");
	ck_assert_str_eq(c.allow_listen.cidrs[1].text, "fd00::/8");
	ck_assert_str_eq(c.allow_http.cidrs[1].text, "127.0.0.0/8");
	ck_assert_int_eq(fr_config_set(&c, "allow", "http=::ffff:127.0.0.1", err), 0);
	ck_assert_str_eq(c.allow_http.cidrs[2].text, "127.0.0.1/32");

	ck_assert_int_eq(fr_config_set(&c, "allow", "rtsp=10.0.0.0/8", err), -1);
	ck_assert_str_eq(err, "--allow: 'rtsp=10.0.0.0/8': expected CIDR or KIND=CIDR with KIND "
	    "ingest, listen or http");
	ck_assert_int_eq(fr_config_set(&c, "allow", "http=", err), -1);
	ck_assert_str_eq(err, "--allow: '' is not an address or network");
	ck_assert_int_eq(fr_config_set(&c, "allow", NULL, err), -1);
	ck_assert_str_eq(err, "--allow: needs a value ([KIND=]CIDR)");
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");

	fr_tcase(s, "cidr", FR_TESTS(test_parse_forms, test_parse_rejects));

	TCase *tc = fr_tcase(s, "match", FR_TESTS(test_match_ipv4, test_match_ipv6,
	    test_match_both_lists, test_empty_and_unix, test_add_dedup_and_full));

	tcase_add_loop_test(tc, test_match_family, 0,
	    (int)(sizeof family_cases / sizeof family_cases[0]));

	fr_tcase(s, "option", FR_TESTS(test_option_scopes));
	return s;
}

int
main(void)
{
	return fr_run_suite(acl_suite());
}
