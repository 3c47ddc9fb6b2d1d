/* SPDX-License-Identifier: MIT */
/*
 * Test helper: the chunkings every incremental parser test runs at (whole input, 1, 2, 3,
 * 7 and 4096 bytes, and a fixed-seed random split), selected by a tcase_add_loop_test
 * index, plus the small deterministic PRNG behind the random split and the fuzz tests,
 * and chunked_tcase, a Check test case of tests run at every chunking. Header-only; it
 * knows nothing about any parser.
 */
#ifndef FR_TESTS_CHUNKING_H
#define FR_TESTS_CHUNKING_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

enum chunking {
	CHUNKING_WHOLE,
	CHUNKING_1,
	CHUNKING_2,
	CHUNKING_3,
	CHUNKING_7,
	CHUNKING_4096,
	CHUNKING_RANDOM,
	CHUNKINGS,		/* the loop end for tcase_add_loop_test(tc, fn, 0, CHUNKINGS) */
};

/* The random split never hands out more than this at once. */
enum { CHUNKING_RANDOM_MAX = 3000 };

/* splitmix64: tiny, fast and the same on every platform, so failures reproduce. */
struct test_rng {
	uint64_t state;
};

static inline void
test_rng_init(struct test_rng *rng, uint64_t seed)
{
	rng->state = seed;
}

static inline uint64_t
test_rng_next(struct test_rng *rng)
{
	uint64_t z = (rng->state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A number in [0, n); n must not be 0. The modulo bias does not matter for tests. */
static inline size_t
test_rng_below(struct test_rng *rng, size_t n)
{
	return (size_t)(test_rng_next(rng) % n);
}

/* Cuts an input into chunks; one per run, restarted by chunker_init. */
struct chunker {
	enum chunking chunking;
	struct test_rng rng;
};

static inline void
chunker_init(struct chunker *c, enum chunking chunking)
{
	c->chunking = chunking;
	test_rng_init(&c->rng, 0x6672616d65726f75u);	/* "framerou": fixed, so runs repeat */
}

/* The largest chunk this chunking hands out for an input of in_len bytes. */
static inline size_t
chunking_max(enum chunking chunking, size_t in_len)
{
	static const size_t fixed[] = {
		[CHUNKING_1] = 1, [CHUNKING_2] = 2, [CHUNKING_3] = 3, [CHUNKING_7] = 7,
		[CHUNKING_4096] = 4096,
	};

	if (chunking == CHUNKING_WHOLE)
		return in_len;
	if (chunking == CHUNKING_RANDOM)
		return CHUNKING_RANDOM_MAX;
	return fixed[chunking];
}

/* The size of the next chunk when left bytes remain (left > 0); never 0, never > left. */
static inline size_t
chunker_next(struct chunker *c, size_t left)
{
	size_t n = chunking_max(c->chunking, left);

	/* Mostly tiny pieces, which find boundary bugs, and now and then a big one. */
	if (c->chunking == CHUNKING_RANDOM) {
		if (test_rng_below(&c->rng, 4) != 0)
			n = 1 + test_rng_below(&c->rng, 8);
		else
			n = 1 + test_rng_below(&c->rng, CHUNKING_RANDOM_MAX);
	}
	return n < left ? n : left;
}

static inline const char *
chunking_name(enum chunking chunking)
{
	static const char *const names[] = {
		[CHUNKING_WHOLE] = "whole", [CHUNKING_1] = "1-byte", [CHUNKING_2] = "2-byte",
		[CHUNKING_3] = "3-byte", [CHUNKING_7] = "7-byte", [CHUNKING_4096] = "4096-byte",
		[CHUNKING_RANDOM] = "random",
	};

	return (unsigned)chunking < CHUNKINGS ? names[chunking] : "?";
}

/*
 * The input of a parser that is handed all of it again on every call (an HTTP head): a
 * heap buffer whose visible length grows by one chunk a step. Before each step the bytes
 * the parser has already examined are overwritten with NULs, so that a parser which reads
 * them again, instead of resuming where it stopped, sees garbage.
 */
struct growing_input {
	struct chunker c;
	const uint8_t *in;
	size_t in_len;
	uint8_t *buf;		/* visible bytes of in; growing_input_free frees it */
	size_t visible, poisoned;
};

static inline void
growing_input_init(struct growing_input *g, const void *in, size_t in_len,
    enum chunking chunking)
{
	*g = (struct growing_input){ .in = in, .in_len = in_len };
	chunker_init(&g->c, chunking);
}

/* Makes the next chunk visible (none once all of in is); g->buf is never NULL after. */
static inline void
growing_input_next(struct growing_input *g)
{
	size_t n = g->visible < g->in_len ? chunker_next(&g->c, g->in_len - g->visible) : 0;

	g->buf = realloc(g->buf, g->visible + n > 0 ? g->visible + n : 1);
	if (g->buf == NULL)
		ck_abort_msg("out of memory");
	/* Everything visible has been examined; realloc keeps the NULs written before, so
	 * only the bytes of the last chunk need them. */
	memset(g->buf + g->poisoned, 0, g->visible - g->poisoned);
	g->poisoned = g->visible;
	memcpy(g->buf + g->visible, g->in + g->visible, n);
	g->visible += n;
}

static inline void
growing_input_free(struct growing_input *g)
{
	free(g->buf);
	g->buf = NULL;
}

/*
 * Creates the test case called name in s with the tests listed, each run at every
 * chunking (_i is the enum chunking). The 1-byte runs over large inputs take a while
 * under valgrind and the sanitizers, hence the timeout of 120 s.
 */
static inline TCase *
chunked_tcase(Suite *s, const char *name, const TTest *const *tests)
{
	TCase *tc = fr_tcase_loop(s, name, tests, CHUNKINGS);

	tcase_set_timeout(tc, 120);
	return tc;
}

#endif /* FR_TESTS_CHUNKING_H */
