/* SPDX-License-Identifier: MIT */
/*
 * Reference-counted frames: a header and the bytes. The builder fills an unsealed
 * frame on the heap; after fr_frame_seal() it is shared read-only, never copied,
 * except once into an arena by fr_frame_store() so subscribers can sendfile() it.
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

static struct fr_failpoint alloc_failpoint;

#ifdef FR_TESTING
void
fr_frame_fail_alloc_after(unsigned n)
{
	alloc_failpoint.after = n;
}
#endif

struct fr_frame *
fr_frame_new(size_t cap)
{
	struct fr_frame *f;

	/* No object is larger than PTRDIFF_MAX; asking malloc anyway aborts under ASan. */
	if (cap > (size_t)PTRDIFF_MAX || fr_failpoint_hit(&alloc_failpoint) ||
	    (f = malloc(sizeof *f)) == NULL)
		return NULL;
	/* malloc(0) may return NULL; a zero-cap frame still needs a valid pointer. */
	if ((f->data = malloc(cap > 0 ? cap : 1)) == NULL) {
		free(f);
		return NULL;
	}
	f->refs = 1;
	f->is_sealed = 0;
	f->len = 0;
	f->cap = cap;
	f->seq = 0;
	f->received_at = 0;
	f->width = f->height = 0;
	f->span = (struct fr_arena_span){ .file = NULL };
	f->stored_before = f->stored_after = 0;
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
	f->is_sealed = 1;
}

int
fr_frame_store(struct fr_frame *f, struct fr_arena *a, const struct fr_frame_wrap *wrap)
{
	static const struct fr_frame_wrap none;

	assert(f->is_sealed && !fr_frame_in_arena(f));
	if (wrap == NULL)
		wrap = &none;
	size_t total = wrap->before_len + f->len + wrap->after_len;
	if (fr_arena_alloc(a, total, &f->span) < 0)
		return -1;
	/* pwritev(), not a copy through the mapping: no page faults, no zeroing of
	 * each new page, no mapping to tear down when the span is punched. */
	struct iovec iov[3] = {
		{ (void *)wrap->before, wrap->before_len },
		{ f->data, f->len },
		{ (void *)wrap->after, wrap->after_len },
	};
	struct iovec *left = iov;
	int n_left = 3;
	off_t at = f->span.off;
	while (n_left > 0) {
		ssize_t n = pwritev(fr_arena_span_fd(&f->span), left, n_left, at);

		if (n < 0 || (n == 0 && left->iov_len > 0)) {
			fr_arena_release(&f->span);
			return -1;
		}
		at += n;
		/* Step past what was written: whole pieces, then into the next one. */
		for (; n_left > 0 && (size_t)n >= left->iov_len; left++, n_left--)
			n -= (ssize_t)left->iov_len;
		if (n_left > 0) {
			left->iov_base = (char *)left->iov_base + n;
			left->iov_len -= (size_t)n;
		}
	}
	free(f->data);
	f->stored_before = wrap->before_len;
	f->stored_after = wrap->after_len;
	f->data = f->span.p + f->stored_before;
	f->cap = f->len;
	return 0;
}

struct fr_frame *
fr_frame_ref(struct fr_frame *f)
{
	assert(f->refs > 0);
	f->refs++;
	return f;
}

void
fr_frame_unref(struct fr_frame *f)
{
	if (f == NULL)
		return;
	assert(f->refs > 0);
	if (--f->refs > 0)
		return;
	if (fr_frame_in_arena(f))
		fr_arena_release(&f->span);
	else
		free(f->data);
	free(f);
}
