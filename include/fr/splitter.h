/* SPDX-License-Identifier: MIT */
/*
 * Incremental JPEG marker walker: finds whole JPEG frames in a byte stream.
 * Pure: no I/O, no allocation after _new, no logging. The caller owns the bytes;
 * the splitter only remembers offsets into the caller's buffer.
 */
#ifndef FR_SPLITTER_H
#define FR_SPLITTER_H

#include <stddef.h>
#include <stdint.h>

struct fr_splitter;

enum fr_splitter_result {
	FR_SPLITTER_MORE,	/* every byte up to len was examined; feed more */
	FR_SPLITTER_FRAME,	/* a whole frame lies in buf[start, end) */
	FR_SPLITTER_DROP,	/* a frame was abandoned; see reason */
};

enum fr_splitter_drop {
	FR_SPLITTER_DROP_NONE,
	FR_SPLITTER_DROP_INVALID,	/* impossible marker or segment length */
	FR_SPLITTER_DROP_OVERSIZE,	/* max_frame_bytes reached without an EOI */
	FR_SPLITTER_DROP_TRUNCATED,	/* stream ended inside a frame */
};

struct fr_splitter_event {
	enum fr_splitter_drop reason;	/* for FR_SPLITTER_DROP */
	size_t start;			/* for FR_SPLITTER_FRAME: offset of SOI */
	size_t end;			/* for FR_SPLITTER_FRAME: one past EOI */
	size_t dropped_bytes;		/* for FR_SPLITTER_DROP: bytes the frame had */
};

/* A new splitter expecting an SOI at offset 0 of an empty buffer. NULL on ENOMEM. */
struct fr_splitter *fr_splitter_new(size_t max_frame_bytes);
void fr_splitter_free(struct fr_splitter *sp);

/* Changes the limit; only between streams (after fr_splitter_finish), never mid-frame. */
void fr_splitter_set_max_frame_bytes(struct fr_splitter *sp, size_t max_frame_bytes);

/*
 * Walks buf from where the previous call stopped up to len and returns at the first
 * event. buf must hold, at the same offsets as before, every byte from
 * fr_splitter_keep_from() on; bytes may only be appended. Call again after FRAME or
 * DROP: there may be more events in the same bytes.
 */
enum fr_splitter_result fr_splitter_scan(struct fr_splitter *sp, const uint8_t *buf, size_t len,
    struct fr_splitter_event *ev);

/*
 * The stream has ended (producer gone): returns DROP/TRUNCATED with the partial
 * frame's size if a frame was in progress, MORE otherwise. Resets the splitter to
 * its initial state either way (the caller empties its buffer); pending garbage
 * is counted.
 */
enum fr_splitter_result fr_splitter_finish(struct fr_splitter *sp, struct fr_splitter_event *ev);

/*
 * The smallest offset the splitter may still need. The caller may discard
 * buf[0, keep_from) and must then call fr_splitter_shift(sp, keep_from).
 */
size_t fr_splitter_keep_from(const struct fr_splitter *sp);
void fr_splitter_shift(struct fr_splitter *sp, size_t n);

/* True while a frame has begun (an SOI was seen) and is not yet complete. */
int fr_splitter_in_frame(const struct fr_splitter *sp);

/* Bytes found outside any frame so far (before an SOI), in total. */
uint64_t fr_splitter_garbage_bytes(const struct fr_splitter *sp);

#endif /* FR_SPLITTER_H */
