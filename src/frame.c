/* SPDX-License-Identifier: MIT */
/*
 * Reference-counted frames: one allocation, header then bytes. The builder fills
 * an unsealed frame; after fr_frame_seal() it is shared read-only, never copied.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

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

	if (cap > SIZE_MAX - sizeof *f || fr_failpoint_hit(&alloc_failpoint) ||
	    (f = malloc(sizeof *f + cap)) == NULL)
		return NULL;
	f->refs = 1;
	f->is_sealed = 0;
	f->len = 0;
	f->cap = cap;
	f->seq = 0;
	f->received_at = 0;
	f->width = f->height = 0;
	return f;
}

struct fr_frame *
fr_frame_grow(struct fr_frame *f, size_t new_cap)
{
	struct fr_frame *g;

	assert(!f->is_sealed && f->refs == 1 && new_cap >= f->cap);
	if (new_cap > SIZE_MAX - sizeof *g || fr_failpoint_hit(&alloc_failpoint) ||
	    (g = realloc(f, sizeof *g + new_cap)) == NULL)
		return NULL;
	g->cap = new_cap;
	return g;
}

void
fr_frame_seal(struct fr_frame *f, size_t len)
{
	assert(!f->is_sealed && len <= f->cap);
	f->len = len;
	f->is_sealed = 1;
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
	if (--f->refs == 0)
		free(f);
}
