/* SPDX-License-Identifier: MIT */
/*
 * A memfd arena for sealed frames, so subscribers can sendfile() them: the kernel
 * then queues page references instead of copying each frame into each socket.
 * Allocation is append-only and page-aligned, a freed span is punched out, and
 * no byte is ever rewritten, so pages still queued in socket buffers stay valid.
 */
#ifndef FR_ARENA_H
#define FR_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fr_arena;
struct fr_arena_file;

/* Where a span lies: a file of the arena, its offset, and its bytes mapped. */
struct fr_arena_span {
	struct fr_arena_file *file;	/* NULL: not in an arena */
	off_t off;			/* page-aligned */
	size_t len;			/* bytes reserved: a whole number of pages */
	uint8_t *p;			/* the span, mapped shared (read and write) */
};

/*
 * An arena whose files are file_bytes long (rounded up to pages; 0: the default,
 * FR_ARENA_FILE_BYTES). Returns NULL with errno set when memfd_create() or mmap()
 * is unavailable or fails; callers then keep frames on the heap.
 */
#define FR_ARENA_FILE_BYTES ((size_t)64 * 1024 * 1024)
struct fr_arena *fr_arena_new(size_t file_bytes);

/*
 * Lets go of the arena. Spans handed out stay valid: each file is closed and
 * unmapped when its last span is released. NULL does nothing.
 */
void fr_arena_free(struct fr_arena *a);

/*
 * Reserves len bytes (rounded up to pages) after everything reserved so far. When
 * they do not fit in the current file, starts a fresh file (at least len long) and
 * lets go of the old one, which closes when its last span goes: the files never grow
 * without bound. Returns -1 with errno set (ENOMEM, EMFILE, ...) on failure.
 */
int fr_arena_alloc(struct fr_arena *a, size_t len, struct fr_arena_span *span);

/* Punches the span out of its file (its memory goes back) and clears it. A span
 * that is not in an arena does nothing. */
void fr_arena_release(struct fr_arena_span *span);

/* The descriptor to sendfile() the span from. */
int fr_arena_span_fd(const struct fr_arena_span *span);

/* Files of any arena still open (live spans or current), for tests. */
unsigned fr_arena_open_files(void);

/* Test builds: make the Nth allocation from now fail (0 disables). */
#ifdef FR_TESTING
void fr_arena_fail_alloc_after(unsigned n);
#endif

#endif /* FR_ARENA_H */
