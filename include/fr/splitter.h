/* SPDX-License-Identifier: MIT */
/*
 * Incremental JPEG marker walker: finds whole JPEG frames in a byte stream.
 * Pure: no I/O, no allocation after _new, no logging. The caller owns the bytes;
 * the splitter only remembers offsets into the caller's buffer.
 *
 * Work is bounded on every input: each byte handed to the splitter is stepped over by
 * at most FR_SPLITTER_WALK_BOUND walks, however it is chunked and whatever it holds.
 * A broken frame is rescanned from the byte after its SOI (a frame its bogus segment
 * length swallowed comes out), but never where two walks have been already, nor more
 * than FR_SPLITTER_RESCAN_MAX bytes before where it was found broken: the bytes skipped
 * so are dropped with it. So:
 * - fr_splitter_bytes_walked() <= FR_SPLITTER_WALK_BOUND times the stream bytes given
 *   (every byte up to the largest len passed to fr_splitter_scan(), counting offsets
 *   from before each fr_splitter_shift() and each fr_splitter_finish());
 * - the calls to fr_splitter_scan() until it returns MORE, after n new bytes, step over
 *   at most FR_SPLITTER_WALK_BOUND * (n + FR_SPLITTER_RESCAN_MAX) bytes, whatever
 *   max_frame_bytes is: the caller's event loop is never held up for long;
 * plus O(1) work per call and per event.
 */
#ifndef FR_SPLITTER_H
#define FR_SPLITTER_H

#include <stddef.h>
#include <stdint.h>

struct fr_splitter;

enum {
	/* No byte is stepped over by more walks than this (see above). */
	FR_SPLITTER_WALK_BOUND = 2,
	/* A rescan starts at most this far before where the broken frame was found
	 * broken. A segment length swallows at most 65533 bytes, so the frame it hid
	 * begins well within this. */
	FR_SPLITTER_RESCAN_MAX = 1 << 20,
};

enum fr_splitter_result {
	FR_SPLITTER_MORE,	/* every byte up to len was examined; feed more */
	FR_SPLITTER_FRAME,	/* a whole frame lies in buf[start, end) */
	FR_SPLITTER_DROP,	/* a frame was abandoned; see reason */
};

enum fr_splitter_drop {
	FR_SPLITTER_DROP_NONE,
	FR_SPLITTER_DROP_INVALID,	/* impossible marker or segment length */
	FR_SPLITTER_DROP_OVERSIZE,	/* more than max_frame_bytes, however it ended */
	FR_SPLITTER_DROP_TRUNCATED,	/* stream ended inside a frame */
};

/*
 * dropped_bytes of each reason:
 * - INVALID, frame ended by an SOI where a marker was due: the bytes up to that SOI.
 * - INVALID, any other broken structure: from the SOI to where the walk resumes, which
 *   is 2 (the SOI) unless earlier walks covered the bytes after it (see above); the rest
 *   is walked again and counted as garbage or found in frames.
 * - OVERSIZE: the frame's real size, reported once, when it ends (EOI, an SOI, a broken
 *   marker, or fr_splitter_finish()); its bytes past the limit were never kept. A frame
 *   that ends within the limit is not oversize, though the walk went on without keeping
 *   it (a broken frame ended by an SOI just past the limit is INVALID with its size).
 * - TRUNCATED: the frame's bytes when the stream ended.
 * Every byte given is in exactly one frame, one drop, or the garbage count.
 */

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
 * frame's size if a frame was in progress (DROP/OVERSIZE with its size so far if it
 * was already over max_frame_bytes), MORE otherwise. Resets the splitter to its
 * initial state either way (the caller empties its buffer); pending garbage is
 * counted. fr_splitter_garbage_bytes() and fr_splitter_bytes_walked() keep counting.
 */
enum fr_splitter_result fr_splitter_finish(struct fr_splitter *sp, struct fr_splitter_event *ev);

/*
 * The smallest offset the splitter may still need. The caller may discard
 * buf[0, keep_from) and must then call fr_splitter_shift(sp, keep_from).
 */
size_t fr_splitter_keep_from(const struct fr_splitter *sp);
void fr_splitter_shift(struct fr_splitter *sp, size_t n);

/* True while a frame has begun (an SOI was seen), is not yet complete, and is within
 * max_frame_bytes (a frame over it is walked without being kept). */
int fr_splitter_in_frame(const struct fr_splitter *sp);

/* Bytes found outside any frame so far (before an SOI), in total. */
uint64_t fr_splitter_garbage_bytes(const struct fr_splitter *sp);

/*
 * Bytes stepped over by all walks since fr_splitter_new(), rescans included: the work
 * done, for tests and fuzzers of the bound above. Counted when the walk jumps, not per
 * byte, so it costs nothing on the hot path.
 */
uint64_t fr_splitter_bytes_walked(const struct fr_splitter *sp);

#endif /* FR_SPLITTER_H */
