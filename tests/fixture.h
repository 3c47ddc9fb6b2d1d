/* SPDX-License-Identifier: MIT */
/*
 * Reading a whole fixture file (fixtures/README.md) for the JPEG tests.
 */
#ifndef FR_TESTS_FIXTURE_H
#define FR_TESTS_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef FR_FIXTURES_DIR
#error "build with -DFR_FIXTURES_DIR='\"/path/to/fixtures\"'"
#endif

/* The bytes of fixtures/NAME (malloc()ed) and their number in *len; fails the test
 * when the file cannot be read. */
static inline uint8_t *
fixture_read(const char *name, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", FR_FIXTURES_DIR, name);
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "cannot open fixture %s", path);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	long n = ftell(fp);
	ck_assert_int_gt(n, 0);
	rewind(fp);
	uint8_t *p = malloc((size_t)n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return p;
}

#endif /* FR_TESTS_FIXTURE_H */
