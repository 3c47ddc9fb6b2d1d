/* SPDX-License-Identifier: MIT */
/*
 * A frame: a reference-counted header and the JPEG bytes. Writable while its
 * builder fills it (on the heap), immutable once sealed; the latest slot and every
 * subscriber share the same bytes through references. A sealed frame can move its
 * bytes into a memfd arena once, before it is shared, so they can be sendfile()d.
 */
#ifndef FR_FRAME_H
#define FR_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "fr/arena.h"

struct fr_frame {
	uint32_t refs;
	int is_sealed;
	size_t len;		/* bytes in data[] */
	size_t cap;		/* bytes allocated for data[] */
	uint64_t seq;		/* per-stream publish number, set by the stream */
	double received_at;	/* ev_now() when the last byte arrived */
	int width, height;	/* from --validate, 0 when unknown */
	uint8_t *data;		/* on the heap, or in span after fr_frame_store() */
	struct fr_arena_span span;	/* span.file is NULL while on the heap */
	size_t stored_before;	/* in the span: bytes stored just before data[] */
	size_t stored_after;	/* and just after data[len - 1] */
};

/* Bytes stored around a frame in the arena (see fr_frame_store). */
struct fr_frame_wrap {
	const void *before, *after;
	size_t before_len, after_len;
};

/* A writable frame with room for cap bytes and one reference. NULL on ENOMEM. */
struct fr_frame *fr_frame_new(size_t cap);

/*
 * Grows an unsealed frame that only its builder references to new_cap bytes.
 * Returns the (possibly moved) frame, or NULL on ENOMEM with f left unchanged.
 */
struct fr_frame *fr_frame_grow(struct fr_frame *f, size_t new_cap);

/* Marks the frame immutable with its first len bytes as the JPEG. */
void fr_frame_seal(struct fr_frame *f, size_t len);

/*
 * Moves a sealed frame's bytes into the arena (one pwritev()), with wrap's bytes
 * right before and after them (NULL: none), and frees the heap bytes; f->data then
 * points into the arena's mapping and fr_frame_in_arena() is true. So a subscriber
 * that frames each frame with those bytes (multipart part headers and boundary)
 * sends a whole part with one sendfile(). Only before the frame is shared: nobody may
 * hold f->data. Returns -1 (errno set, frame unchanged and still usable from the
 * heap) when the arena has no room.
 */
int fr_frame_store(struct fr_frame *f, struct fr_arena *a, const struct fr_frame_wrap *wrap);

/* True when the bytes can be sendfile()d: fr_frame_fd() at fr_frame_offset(). */
static inline int
fr_frame_in_arena(const struct fr_frame *f)
{
	return f->span.file != NULL;
}

static inline int
fr_frame_fd(const struct fr_frame *f)
{
	return fr_arena_span_fd(&f->span);
}

/* Where data[0] is in fr_frame_fd(); the wrap's bytes are just around it. */
static inline off_t
fr_frame_offset(const struct fr_frame *f)
{
	return f->span.off + (off_t)f->stored_before;
}

struct fr_frame *fr_frame_ref(struct fr_frame *f);

/* Drops a reference; frees the frame (and punches its span out of the arena) with
 * the last one. NULL does nothing. */
void fr_frame_unref(struct fr_frame *f);

/* Test builds: make the Nth allocation from now fail (0 disables). */
#ifdef FR_TESTING
void fr_frame_fail_alloc_after(unsigned n);
#endif

#endif /* FR_FRAME_H */
