/* SPDX-License-Identifier: MIT */
/*
 * A frame: a reference-counted header and the JPEG bytes. Writable while its builder
 * fills it, immutable once sealed; the latest slot and every subscriber share the
 * same bytes through references. The bytes stay on the heap for the frame's whole
 * life; the first subscriber about to send a frame also stores it once in its
 * stream's memfd arena, so that it and the rest can sendfile() it. A frame that nobody
 * sends is never stored, and with a pool its buffer is read into again by the next one.
 */
#ifndef FR_FRAME_H
#define FR_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fr/arena.h"

struct fr_frame_pool;

struct fr_frame {
	uint32_t refs;
	bool is_sealed;
	bool has_failed_store;	/* the arena had no room: it goes out from the heap */
	size_t len;		/* bytes in data[] */
	size_t cap;		/* bytes allocated for data[] */
	uint64_t seq;		/* per-stream publish number, set by the stream */
	double received_at;	/* ev_now() when the last byte arrived */
	int width, height;	/* from --validate, 0 when unknown */
	uint8_t *data;		/* on the heap, always */
	struct fr_arena *arena;	/* where fr_frame_store() puts it (a reference), or NULL */
	struct fr_arena_span span;	/* span.file is NULL while not stored */
	size_t stored_before;	/* in the span: bytes stored just before the frame */
	size_t stored_after;	/* and just after it */
	struct fr_frame_pool *pool;	/* where it goes with its last reference, or NULL */
};

/* Bytes stored around a frame in the arena (see fr_frame_store). */
struct fr_frame_wrap {
	const void *before, *after;
	size_t before_len, after_len;
};

/* A writable frame with room for cap bytes and one reference. NULL on ENOMEM. */
struct fr_frame *fr_frame_new(size_t cap);

/*
 * A sealed frame of the len bytes at data, which the frame owns from now on (they
 * must come from malloc()), with one reference: for bytes made elsewhere, such as a
 * scaled frame. NULL on ENOMEM, with data freed.
 */
struct fr_frame *fr_frame_new_take(uint8_t *data, size_t len);

/*
 * Grows an unsealed frame that only its builder references to new_cap bytes.
 * Returns f, with its bytes possibly moved, or NULL on ENOMEM with f left unchanged.
 */
struct fr_frame *fr_frame_grow(struct fr_frame *f, size_t new_cap);

/* Marks the frame immutable with its first len bytes as the JPEG. */
void fr_frame_seal(struct fr_frame *f, size_t len);

/* The arena fr_frame_store() will use (f takes a reference); once, after sealing. */
void fr_frame_set_arena(struct fr_frame *f, struct fr_arena *a);

/* True when the frame has an arena, is not stored in it and has not failed to be. */
static inline bool
fr_frame_wants_store(const struct fr_frame *f)
{
	return f->arena != NULL && f->span.file == NULL && !f->has_failed_store;
}

/*
 * Writes a sealed frame into its arena (one pwritev()), with wrap's bytes right before
 * and after it (NULL: none), so that a subscriber that frames each frame with those
 * bytes (multipart part headers and boundary) sends a whole part with one sendfile().
 * The heap bytes stay as they are. When the arena retires the file later, the frame
 * leaves it (fr_frame_in_arena() turns false) and may be stored again. Returns -1
 * (errno set; has_failed_store set; the frame goes on from the heap) when the arena
 * has no room.
 */
int fr_frame_store(struct fr_frame *f, const struct fr_frame_wrap *wrap);

/* True when the bytes can be sendfile()d: fr_frame_fd() at fr_frame_offset(). */
static inline bool
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

/* Drops a reference; the last one punches its span out of the arena and frees the
 * frame, or gives it back to its pool. NULL does nothing. */
void fr_frame_unref(struct fr_frame *f);

/*
 * A pool of up to keep frames whose buffers are read into again: a builder that takes
 * its frames from one does no allocation in steady state. The pool lives until its
 * owner frees it and the last frame taken from it has come back.
 */
struct fr_frame_pool *fr_frame_pool_new(unsigned keep);
void fr_frame_pool_free(struct fr_frame_pool *pool);

/* Like fr_frame_new(cap), from the pool when it holds a frame (grown if need be). */
struct fr_frame *fr_frame_pool_get(struct fr_frame_pool *pool, size_t cap);

/* Test builds: make the Nth allocation from now fail (0 disables). */
#ifdef FR_TESTING
void fr_frame_fail_alloc_after(unsigned n);
#endif

#endif /* FR_FRAME_H */
