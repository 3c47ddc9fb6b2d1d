/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the JPEG splitter (src/splitter.c). Multipart HTTP ingest bodies
 * and raw TCP producers both go through the splitter, so this covers both.
 *
 * Input: an 8-byte header, then the stream.
 *   [0]    how max_frame_bytes is chosen: (b >> 6) == 0: [1] (0..255); 1: [1][2] + 1;
 *          2: SIZE_MAX; 3: 8 MiB (the daemon's default)
 *   [1..2] the number for the above
 *   [3]    the chunking of the second run: 1, 2, 3, 7 or 4096 bytes, or random sizes
 *   [4..7] the seed of the random chunk sizes
 *
 * The stream is split twice: once handed over whole, once in chunks, the second time
 * compacting the buffer as src/ingest.c and src/grab.c do (shift past each frame, or
 * drop what fr_splitter_keep_from() no longer needs after each MORE), with the bytes the
 * splitter may not read poisoned for ASan. Both runs must report the same frames (same
 * offsets in the stream, hence the same bytes), the same drops (reason, dropped_bytes),
 * the same end-of-stream drop and the same garbage count. Every frame must begin FF D8,
 * end FF D9 and be no longer than max_frame_bytes; every byte must be in exactly one
 * frame, one drop or the garbage count. Both runs must step over the same number of bytes
 * (fr_splitter_bytes_walked()), at most FR_SPLITTER_WALK_BOUND times the stream's length:
 * an input that makes the splitter work harder is a crash, not just a slow input. Any
 * difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/splitter.h"

#include "fuzz_chunker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HEADER = 8 };

struct event {
	enum fr_splitter_result kind;	/* FRAME or DROP */
	enum fr_splitter_drop reason;
	size_t start, end;		/* FRAME: offsets in the stream */
	size_t dropped_bytes;
};

struct run {
	struct event *ev;
	size_t n, cap, max;
	int final_result;		/* what fr_splitter_finish() returned */
	struct event final;
	uint64_t garbage;
	uint64_t walked;		/* fr_splitter_bytes_walked() at the end */
};

static void
fail(const char *what, size_t i)
{
	fprintf(stderr, "splitter-fuzzer: %s (event %zu)\n", what, i);
	abort();
}

/* Each event has an SOI of its own, two bytes: no stream of len bytes has more than
 * len / 2 events, which bounds the array. */
static void
record(struct run *r, const struct event *e)
{
	if (r->n == r->cap) {
		if (r->cap == r->max)
			fail("more events than two bytes each", r->n);
		r->cap = r->cap * 2 < r->max ? r->cap * 2 : r->max;
		r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
		if (r->ev == NULL)
			abort();
	}
	r->ev[r->n++] = *e;
}

static void
run_init(struct run *r, size_t len)
{
	*r = (struct run){ .max = len / 2 + 1 };
	r->cap = r->max < 64 ? r->max : 64;
	r->ev = malloc(r->cap * sizeof *r->ev);
	if (r->ev == NULL)
		abort();
}

/* Checks a frame against the stream and the limit; base is the stream offset of buf[0]. */
static void
check_frame(const uint8_t *stream, size_t stream_len, const uint8_t *buf, size_t buf_len,
    size_t base, const struct fr_splitter_event *ev, size_t max)
{
	size_t n = ev->end - ev->start;

	if (ev->end < ev->start || ev->end > buf_len)
		fail("frame outside the buffer", 0);
	if (n < 4 || buf[ev->start] != 0xff || buf[ev->start + 1] != 0xd8 ||
	    buf[ev->end - 2] != 0xff || buf[ev->end - 1] != 0xd9)
		fail("frame does not run from FF D8 to FF D9", 0);
	if (n > max)
		fail("frame larger than max_frame_bytes", 0);
	if (base + ev->end > stream_len ||
	    memcmp(buf + ev->start, stream + base + ev->start, n) != 0)
		fail("frame bytes differ from the stream", 0);
}

static void
check_drop(const struct fr_splitter_event *ev, size_t max)
{
	switch (ev->reason) {
	case FR_SPLITTER_DROP_INVALID:
	case FR_SPLITTER_DROP_TRUNCATED:
		break;
	case FR_SPLITTER_DROP_OVERSIZE:
		/* reported when the frame ends, with its real size */
		if (ev->dropped_bytes <= max)
			fail("oversize drop of a frame within max_frame_bytes", 0);
		break;
	default:
		fail("drop without a reason", 0);
	}
}

/* The whole stream in one buffer, one scan loop, then finish. */
static void
run_whole(struct run *r, const uint8_t *s, size_t len, size_t max)
{
	struct fr_splitter *sp = fr_splitter_new(max);
	struct fr_splitter_event ev;
	enum fr_splitter_result res;

	if (sp == NULL)
		abort();
	while ((res = fr_splitter_scan(sp, s, len, &ev)) != FR_SPLITTER_MORE) {
		struct event e = { res, ev.reason, ev.start, ev.end, ev.dropped_bytes };

		if (res == FR_SPLITTER_FRAME)
			check_frame(s, len, s, len, 0, &ev, max);
		else if (res == FR_SPLITTER_DROP)
			check_drop(&ev, max);
		else
			fail("unknown scan result", r->n);
		record(r, &e);
	}
	r->final_result = fr_splitter_finish(sp, &ev);
	if (r->final_result == FR_SPLITTER_DROP)
		check_drop(&ev, max);
	r->final = (struct event){ r->final_result, ev.reason, 0, 0, ev.dropped_bytes };
	r->garbage = fr_splitter_garbage_bytes(sp);
	r->walked = fr_splitter_bytes_walked(sp);
	fr_splitter_free(sp);
}

/*
 * The stream in chunks into a buffer of its size that is compacted as the daemon does it;
 * bytes outside [0, held) are poisoned while the splitter runs.
 */
static void
run_split(struct run *r, const uint8_t *s, size_t len, size_t max, struct chunker *c,
    int shift_after_frame)
{
	struct fr_splitter *sp = fr_splitter_new(max);
	struct fr_splitter_event ev;
	enum fr_splitter_result res;
	uint8_t *buf = malloc(len + 1);
	size_t held = 0, base = 0, fed = 0;	/* buf[0] is stream[base] */

	if (sp == NULL || buf == NULL)
		abort();
	POISON(buf, len + 1);
	while (fed < len) {
		size_t n = next_chunk(c, len - fed);

		UNPOISON(buf + held, n);
		memcpy(buf + held, s + fed, n);
		held += n;
		fed += n;
		while ((res = fr_splitter_scan(sp, buf, held, &ev)) != FR_SPLITTER_MORE) {
			struct event e = { res, ev.reason, base + ev.start, base + ev.end,
				ev.dropped_bytes };

			if (res == FR_SPLITTER_DROP) {
				check_drop(&ev, max);
				record(r, &e);
				continue;
			}
			check_frame(s, len, buf, held, base, &ev, max);
			record(r, &e);
			if (shift_after_frame) {
				/* src/ingest.c take_frame(): the rest moves to a new buffer */
				memmove(buf, buf + ev.end, held - ev.end);
				POISON(buf + held - ev.end, ev.end);
				held -= ev.end;
				base += ev.end;
				fr_splitter_shift(sp, ev.end);
			}
		}
		/* src/ingest.c and src/grab.c split(): drop what is no longer needed */
		size_t keep = fr_splitter_keep_from(sp);
		if (keep > held)
			fail("keep_from beyond the bytes held", r->n);
		if (keep > 0) {
			memmove(buf, buf + keep, held - keep);
			POISON(buf + held - keep, keep);
			held -= keep;
			base += keep;
			fr_splitter_shift(sp, keep);
		}
	}
	r->final_result = fr_splitter_finish(sp, &ev);
	r->final = (struct event){ r->final_result, ev.reason, 0, 0, ev.dropped_bytes };
	r->garbage = fr_splitter_garbage_bytes(sp);
	r->walked = fr_splitter_bytes_walked(sp);
	fr_splitter_free(sp);
	UNPOISON(buf, len + 1);
	free(buf);
}

static void
compare(const struct run *a, const struct run *b)
{
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		const struct event *x = &a->ev[i], *y = &b->ev[i];

		if (x->kind != y->kind)
			fail("whole and split runs differ: event kind", i);
		if (x->kind == FR_SPLITTER_FRAME && (x->start != y->start || x->end != y->end))
			fail("whole and split runs differ: frame offsets", i);
		if (x->kind == FR_SPLITTER_DROP &&
		    (x->reason != y->reason || x->dropped_bytes != y->dropped_bytes))
			fail("whole and split runs differ: drop", i);
	}
	if (a->n != b->n)
		fail("whole and split runs differ: number of events", n);
	if (a->final_result != b->final_result || a->final.reason != b->final.reason ||
	    a->final.dropped_bytes != b->final.dropped_bytes)
		fail("whole and split runs differ: end of stream", a->n);
	if (a->garbage != b->garbage)
		fail("whole and split runs differ: garbage bytes", a->n);
	if (a->walked != b->walked)
		fail("whole and split runs differ: bytes walked", a->n);
}

/* Every byte is in one frame, one drop or the garbage; the work is within the bound. */
static void
check_totals(const struct run *r, size_t len)
{
	uint64_t accounted = r->garbage;

	for (size_t i = 0; i < r->n; i++) {
		const struct event *e = &r->ev[i];

		accounted += e->kind == FR_SPLITTER_FRAME ? e->end - e->start : e->dropped_bytes;
	}
	if (r->final_result == FR_SPLITTER_DROP)
		accounted += r->final.dropped_bytes;
	if (accounted != len)
		fail("frames, drops and garbage do not add up to the stream", r->n);
	if (r->walked > (uint64_t)FR_SPLITTER_WALK_BOUND * len)
		fail("walked more than FR_SPLITTER_WALK_BOUND times the stream", r->n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole = { 0 }, split = { 0 };
	struct chunker c;
	size_t max;

	if (size < HEADER)
		return 0;
	switch (data[0] >> 6) {
	case 0:
		max = data[1];
		break;
	case 1:
		max = ((size_t)data[1] << 8 | data[2]) + 1;
		break;
	case 2:
		max = SIZE_MAX;
		break;
	default:
		max = 8 * 1024 * 1024;
		break;
	}
	c.mode = data[3] % 8;
	c.state = (uint64_t)data[4] << 24 | (uint64_t)data[5] << 16 | (uint64_t)data[6] << 8 |
	    data[7];
	const uint8_t *s = data + HEADER;
	size_t len = size - HEADER;

	run_init(&whole, len);
	run_init(&split, len);
	run_whole(&whole, s, len, max);
	check_totals(&whole, len);
	run_split(&split, s, len, max, &c, data[3] & 0x80);
	compare(&whole, &split);
	free(whole.ev);
	free(split.ev);
	return 0;
}
