/* SPDX-License-Identifier: MIT */
/*
 * A frame: one reference-counted allocation holding a small header and the JPEG
 * bytes. Writable while its builder fills it, immutable once sealed; the latest
 * slot and every subscriber share the same bytes through references.
 */
#ifndef FR_FRAME_H
#define FR_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct fr_frame {
	uint32_t refs;
	int is_sealed;
	size_t len;		/* bytes in data[] */
	size_t cap;		/* bytes allocated for data[] */
	uint64_t seq;		/* per-stream publish number, set by the stream */
	double received_at;	/* ev_now() when the last byte arrived */
	int width, height;	/* from --validate, 0 when unknown */
	uint8_t data[];
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

struct fr_frame *fr_frame_ref(struct fr_frame *f);

/* Drops a reference; frees the frame with the last one. NULL does nothing. */
void fr_frame_unref(struct fr_frame *f);

/* Test builds: make the Nth allocation from now fail (0 disables). */
#ifdef FR_TESTING
void fr_frame_fail_alloc_after(unsigned n);
#endif

#endif /* FR_FRAME_H */
