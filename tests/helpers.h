/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the Check binaries: growable byte strings (struct bytes) and reading a
 * fixture into one, plus REQUIRE, an assert that Check does not record when it passes.
 * Header-only; include it after <check.h>. It knows nothing about the code under test.
 */
#ifndef FR_TESTS_HELPERS_H
#define FR_TESTS_HELPERS_H

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FR_FIXTURES_DIR
#error "build with -DFR_FIXTURES_DIR='\"/path/to/fixtures\"'"
#endif

/*
 * Check records every passing ck_assert (a write(2) in fork mode), which makes 1-byte runs
 * crawl; per-byte and per-event paths check with this instead.
 */
#define REQUIRE(cond, ...) \
	do { \
		if (!(cond)) \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* ---- growable byte strings ---- */

/* Owns p; { 0 } is the empty string. p[len] is always '\0' once anything was added. */
struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static inline void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		REQUIRE(b->p != NULL, "out of memory");
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';	/* so that text can be read as a string */
}

static inline void
bytes_str(struct bytes *b, const char *s)
{
	bytes_add(b, s, strlen(s));
}

static inline void
bytes_fill(struct bytes *b, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bytes_add(b, &v, 1);
}

static inline void
bytes_free(struct bytes *b)
{
	free(b->p);
	*b = (struct bytes){ 0 };
}

/* Appends the bytes listed: BYTES_ADD(&b, 0xff, 0xd8). */
#define BYTES_ADD(b, ...) \
	bytes_add((b), (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

/*
 * Appends the file FR_FIXTURES_DIR/name to b and returns its size; fails the test if it
 * cannot be read or is empty.
 */
static inline size_t
add_fixture(struct bytes *b, const char *name)
{
	char path[4096];
	uint8_t chunk[65536];
	size_t n, before = b->len;

	snprintf(path, sizeof path, "%s/%s", FR_FIXTURES_DIR, name);
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "cannot open fixture %s (run fixtures/generate.sh): %s", path,
	    strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		bytes_add(b, chunk, n);
	ck_assert_msg(!ferror(fp), "cannot read fixture %s", path);
	fclose(fp);
	ck_assert_msg(b->len > before, "fixture %s is empty", path);
	return b->len - before;
}

/* The bytes of the fixture called name as one malloc()ed block, which the caller frees
 * (or hands to fr_frame_new_take); *len is their number. */
static inline uint8_t *
fixture_bytes(const char *name, size_t *len)
{
	struct bytes b = { 0 };

	*len = add_fixture(&b, name);
	return b.p;
}

#endif /* FR_TESTS_HELPERS_H */
