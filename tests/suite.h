/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the Check binaries: a test case made from a list of tests, and the
 * runner every main() ends with. Header-only; it knows nothing about the code under test.
 */
#ifndef FR_TESTS_SUITE_H
#define FR_TESTS_SUITE_H

#include <check.h>
#include <stdlib.h>

/* The tests named (what START_TEST defines) as a NULL-terminated list for fr_tcase. */
#define FR_TESTS(...) ((const TTest *const[]){ __VA_ARGS__, NULL })

/*
 * Adds every test of the NULL-terminated list to tc, each run with _i from 0 to loops - 1
 * as tcase_add_loop_test does; loops 1 is tcase_add_test.
 */
static inline void
fr_tcase_add(TCase *tc, const TTest *const *tests, int loops)
{
	for (size_t i = 0; tests[i] != NULL; i++)
		tcase_add_loop_test(tc, tests[i], 0, loops);
}

/*
 * Creates the test case called name in s with the tests listed, each run loops times;
 * returns it for fixtures, timeouts and tests of another kind.
 */
static inline TCase *
fr_tcase_loop(Suite *s, const char *name, const TTest *const *tests, int loops)
{
	TCase *tc = tcase_create(name);

	fr_tcase_add(tc, tests, loops);
	suite_add_tcase(s, tc);
	return tc;
}

/* fr_tcase_loop with each test run once. */
static inline TCase *
fr_tcase(Suite *s, const char *name, const TTest *const *tests)
{
	return fr_tcase_loop(s, name, tests, 1);
}

/* Runs every suite of sr (CK_NORMAL output), frees it, and returns main()'s exit status. */
static inline int
fr_srunner_run(SRunner *sr)
{
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);

	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* fr_srunner_run with a runner of the one suite s. */
static inline int
fr_run_suite(Suite *s)
{
	return fr_srunner_run(srunner_create(s));
}

#endif /* FR_TESTS_SUITE_H */
