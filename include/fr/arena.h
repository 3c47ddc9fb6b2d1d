/* SPDX-License-Identifier: MIT */
/*
 * A memfd arena for sealed frames, so subscribers can sendfile() them: the kernel
 * then queues page references instead of copying each frame into each socket.
 * Allocation is append-only and page-aligned, a freed span is punched out, and no
 * byte is ever rewritten, so pages still queued in socket buffers stay valid. The
 * files are written with pwrite() and never mapped: punching a hole then needs no
 * TLB shootdown.
 */
#ifndef FR_ARENA_H
#define FR_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fr/util.h"

struct fr_arena;
struct fr_arena_file;
struct fr_arena_span;

/* The arena is done with the span's file: the span's owner must stop using the span
 * and fr_arena_release() it before returning (its bytes stay wherever else it has them). */
typedef void (*fr_arena_evict_fn)(struct fr_arena_span *span);

/* Where a span lies: a file of the arena and its offset. */
struct fr_arena_span {
	struct fr_arena_file *file;	/* NULL: not in an arena */
	off_t off;			/* page-aligned */
	size_t len;			/* bytes reserved: a whole number of pages */
	struct fr_list link;		/* among the live spans of its file */
	fr_arena_evict_fn evict;
};

/*
 * An arena whose files are file_bytes long (rounded up to pages; 0: the default,
 * FR_ARENA_FILE_BYTES), with one reference. Returns NULL with errno set when
 * memfd_create() is unavailable or fails; callers then keep frames on the heap.
 */
#define FR_ARENA_FILE_BYTES ((size_t)64 * 1024 * 1024)
struct fr_arena *fr_arena_new(size_t file_bytes);

/* References: a frame that may be stored later holds one. Unref of NULL does nothing;
 * the last one frees the arena (live spans stay valid until released). */
struct fr_arena *fr_arena_ref(struct fr_arena *a);
void fr_arena_unref(struct fr_arena *a);

/*
 * Reserves len bytes (rounded up to pages) after everything reserved so far. When
 * they do not fit in the current file, starts a fresh file (at least len long) and
 * retires the old one: every span still live in it is evicted (evict(span) is called,
 * which releases it), so the old file closes at once and no span keeps a whole file
 * open. Returns -1 with errno set (ENOMEM, EMFILE, ...) on failure.
 */
int fr_arena_alloc(struct fr_arena *a, size_t len, struct fr_arena_span *span,
    fr_arena_evict_fn evict);

/* Punches the span out of its file (its memory goes back) and clears it. A span
 * that is not in an arena does nothing. */
void fr_arena_release(struct fr_arena_span *span);

/* The descriptor to pwrite() the span's bytes to and sendfile() them from. */
int fr_arena_span_fd(const struct fr_arena_span *span);

/* Files of any arena still open (live spans or current), for tests and /stats. */
unsigned fr_arena_open_files(void);

/* Test builds: make the Nth allocation from now fail (0 disables). */
#ifdef FR_TESTING
void fr_arena_fail_alloc_after(unsigned n);
#endif

#endif /* FR_ARENA_H */
