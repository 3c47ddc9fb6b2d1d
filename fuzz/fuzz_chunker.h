/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets share: poisoning, for ASan, the bytes a parser must not read,
 * and the chunker that cuts each input for its second run (1, 2, 3, 7 or 4096 bytes,
 * or random sizes: mostly 1-8 bytes, now and then up to 3000, from a splitmix64 seeded
 * by the input). Header-only; it knows no parser.
 */
#ifndef FR_FUZZ_CHUNKER_H
#define FR_FUZZ_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct chunker {
	unsigned mode;		/* 0-4: the fixed sizes; 5-7: random */
	uint64_t state;
};

static inline void
chunker_init(struct chunker *c, unsigned mode, uint64_t seed)
{
	c->mode = mode % 8;
	c->state = seed;
}

/* The size of the next chunk when left bytes remain; never 0 when left is not. */
static inline size_t
next_chunk(struct chunker *c, size_t left)
{
	static const size_t fixed[] = { 1, 2, 3, 7, 4096 };
	size_t n;

	if (c->mode < sizeof fixed / sizeof fixed[0]) {
		n = fixed[c->mode];
	} else {
		uint64_t z = (c->state += 0x9e3779b97f4a7c15u);	/* splitmix64 */

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		z ^= z >> 31;
		n = (z & 3) != 0 ? 1 + (size_t)((z >> 2) % 8) : 1 + (size_t)((z >> 2) % 3000);
	}
	return n < left ? n : left;
}

#endif /* FR_FUZZ_CHUNKER_H */
