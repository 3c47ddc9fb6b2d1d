/* SPDX-License-Identifier: MIT */
/*
 * Reference-counted frames: a header and the bytes. The builder fills an unsealed
 * frame on the heap; after fr_frame_seal() it is shared read-only, never copied,
 * except once into an arena by fr_frame_store() so subscribers can sendfile() it.
 * Pools hand finished frames' buffers back to their builder.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fr/failpoint.h"
#include "fr/frame.h"

struct fr_frame_pool {
	unsigned refs;		/* the owner's, plus one per frame out of it */
	bool is_owned;		/* the owner has not freed it yet */
	unsigned keep;		/* frames it holds at most */
	unsigned n;
	struct fr_frame *frames[];
};

static struct fr_failpoint alloc_failpoint;

#ifdef FR_TESTING
void
fr_frame_fail_alloc_after(unsigned n)
{
	alloc_failpoint.after = n;
}
#endif

/* A fresh header over data (cap bytes), with one reference. */
static void
frame_init(struct fr_frame *f, uint8_t *data, size_t cap)
{
	*f = (struct fr_frame){ .refs = 1, .cap = cap, .data = data };
	f->span.file = NULL;
}

struct fr_frame *
fr_frame_new(size_t cap)
{
	struct fr_frame *f;
	uint8_t *data;

	/* No object is larger than PTRDIFF_MAX; asking malloc anyway aborts under ASan. */
	if (cap > (size_t)PTRDIFF_MAX || fr_failpoint_hit(&alloc_failpoint) ||
	    (f = malloc(sizeof *f)) == NULL)
		return NULL;
	/* malloc(0) may return NULL; a zero-cap frame still needs a valid pointer. */
	if ((data = malloc(cap > 0 ? cap : 1)) == NULL) {
		free(f);
		return NULL;
	}
	frame_init(f, data, cap);
	return f;
}

struct fr_frame *
fr_frame_new_take(uint8_t *data, size_t len)
{
	struct fr_frame *f;

	if (fr_failpoint_hit(&alloc_failpoint) || (f = malloc(sizeof *f)) == NULL) {
		free(data);
		return NULL;
	}
	frame_init(f, data, len);
	fr_frame_seal(f, len);
	return f;
}

struct fr_frame *
fr_frame_grow(struct fr_frame *f, size_t new_cap)
{
	uint8_t *p;

	assert(!f->is_sealed && f->refs == 1 && new_cap >= f->cap);
	if (new_cap > (size_t)PTRDIFF_MAX || fr_failpoint_hit(&alloc_failpoint) ||
	    (p = realloc(f->data, new_cap)) == NULL)
		return NULL;
	f->data = p;
	f->cap = new_cap;
	return f;
}

void
fr_frame_seal(struct fr_frame *f, size_t len)
{
	assert(!f->is_sealed && len <= f->cap);
	f->len = len;
	f->is_sealed = true;
}

void
fr_frame_set_arena(struct fr_frame *f, struct fr_arena *a)
{
	assert(f->is_sealed && f->arena == NULL);
	if (a != NULL)
		f->arena = fr_arena_ref(a);
}

/* The arena retired the frame's file: the frame goes on from the heap. */
static void
evicted(struct fr_arena_span *span)
{
	struct fr_frame *f = FR_CONTAINER_OF(span, struct fr_frame, span);

	fr_arena_release(&f->span);
	f->stored_before = f->stored_after = 0;
}

/* pwritev() all of iov, stepping past what each call wrote. */
static int
write_all(int fd, struct iovec *iov, int n_iov, off_t at)
{
	while (n_iov > 0) {
		ssize_t n = pwritev(fd, iov, n_iov, at);

		if (n < 0 || (n == 0 && iov->iov_len > 0))
			return -1;
		at += n;
		for (; n_iov > 0 && (size_t)n >= iov->iov_len; iov++, n_iov--)
			n -= (ssize_t)iov->iov_len;
		if (n_iov > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int
fr_frame_store(struct fr_frame *f, const struct fr_frame_wrap *wrap)
{
	static const struct fr_frame_wrap none;

	assert(f->is_sealed && fr_frame_wants_store(f));
	if (wrap == NULL)
		wrap = &none;
	size_t total = wrap->before_len + f->len + wrap->after_len;
	if (fr_arena_alloc(f->arena, total, &f->span, evicted) < 0) {
		f->has_failed_store = true;
		return -1;
	}
	/* pwritev(), not a copy through a mapping: no page faults, no mapping to tear
	 * down (and no TLB to flush) when the span is punched. */
	struct iovec iov[3] = {
		{ (void *)wrap->before, wrap->before_len },
		{ f->data, f->len },
		{ (void *)wrap->after, wrap->after_len },
	};
	if (write_all(fr_arena_span_fd(&f->span), iov, 3, f->span.off) < 0) {
		fr_arena_release(&f->span);
		f->has_failed_store = true;
		return -1;
	}
	f->stored_before = wrap->before_len;
	f->stored_after = wrap->after_len;
	return 0;
}

struct fr_frame *
fr_frame_ref(struct fr_frame *f)
{
	assert(f->refs > 0);
	f->refs++;
	return f;
}

static void pool_put(struct fr_frame_pool *pool, struct fr_frame *f);

void
fr_frame_unref(struct fr_frame *f)
{
	if (f == NULL)
		return;
	assert(f->refs > 0);
	if (--f->refs > 0)
		return;
	fr_arena_release(&f->span);
	fr_arena_unref(f->arena);
	f->arena = NULL;
	if (f->pool != NULL) {
		pool_put(f->pool, f);
		return;
	}
	free(f->data);
	free(f);
}

/* ---- pools ---- */

struct fr_frame_pool *
fr_frame_pool_new(unsigned keep)
{
	struct fr_frame_pool *pool = calloc(1, sizeof *pool + keep * sizeof pool->frames[0]);

	if (pool == NULL)
		return NULL;
	pool->refs = 1;
	pool->is_owned = true;
	pool->keep = keep;
	return pool;
}

static void
pool_unref(struct fr_frame_pool *pool)
{
	assert(pool->refs > 0);
	if (--pool->refs > 0)
		return;
	for (unsigned i = 0; i < pool->n; i++) {
		free(pool->frames[i]->data);
		free(pool->frames[i]);
	}
	free(pool);
}

void
fr_frame_pool_free(struct fr_frame_pool *pool)
{
	if (pool == NULL)
		return;
	pool->is_owned = false;
	pool_unref(pool);
}

/* A frame of the pool came back with its last reference. */
static void
pool_put(struct fr_frame_pool *pool, struct fr_frame *f)
{
	if (pool->is_owned && pool->n < pool->keep) {
		pool->frames[pool->n++] = f;
	} else {
		free(f->data);
		free(f);
	}
	pool_unref(pool);
}

struct fr_frame *
fr_frame_pool_get(struct fr_frame_pool *pool, size_t cap)
{
	struct fr_frame *f;

	if (pool->n == 0) {
		if ((f = fr_frame_new(cap)) == NULL)
			return NULL;
	} else {
		f = pool->frames[--pool->n];
		frame_init(f, f->data, f->cap);
		if (f->cap < cap && fr_frame_grow(f, cap) == NULL) {
			pool->frames[pool->n++] = f;	/* kept for a smaller frame */
			return NULL;
		}
	}
	f->pool = pool;
	pool->refs++;
	return f;
}
