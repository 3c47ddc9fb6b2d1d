/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for --allow's access lists: CIDR forms accepted and rejected (with the
 * exact error), matching at prefix boundaries for IPv4 and IPv6, IPv4 rules against
 * IPv4-mapped peers, unix peers, and the --allow option's KIND= scoping in config.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/acl.h"
#include "fr/config.h"

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
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "192.168.1.7", "192.168.1.7/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "fd00::/8", "fd00::/8" },
		{ "::1", "::1/128" },
		{ "::/0", "::/0" },
	};
	char err[FR_ERR_LEN];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fr_cidr c;

		ck_assert_msg(fr_cidr_parse(&c, cases[i].in, err) == 0, "%s: %s", cases[i].in, err);
		ck_assert_str_eq(c.text, cases[i].text);
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
	TCase *tc = tcase_create("cidr");

	tcase_add_test(tc, test_parse_forms);
	tcase_add_test(tc, test_parse_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_test(tc, test_match_ipv4);
	tcase_add_test(tc, test_match_ipv6);
	tcase_add_test(tc, test_empty_and_unix);
	tcase_add_test(tc, test_add_dedup_and_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("option");
	tcase_add_test(tc, test_option_scopes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(acl_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
