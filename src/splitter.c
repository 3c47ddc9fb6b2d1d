/* SPDX-License-Identifier: MIT */
/*
 * Incremental JPEG marker walker (ITU-T T.81 Annex B). It finds frame boundaries by
 * following the marker structure, never by searching for FF D9: segment payloads are
 * skipped by their length, entropy-coded data is scanned for markers. It keeps only
 * offsets; the caller keeps the bytes (see fr_splitter_keep_from()). Every byte is
 * stepped over by at most two walks, whatever the input (see "Bounded work" below).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fr/splitter.h"

/*
 * Bounded work. The walk moves forward only, in "passes". A pass begins at offset 0 of
 * a stream or at a rescan, and ends when a walk fails: a frame that turns out to be
 * structurally broken. Its SOI may have been a false one (bytes inside the payload of a
 * truncated frame's segment, whose length then swallowed the real next SOI), so the next
 * pass starts right after that SOI to find what the broken frame hid. Done naively that
 * is quadratic: in FF D8 (FF FE 00 04 FF D8)..., every FF D8 inside a COM payload starts
 * a walk that runs to the end of the input again.
 *
 * So the splitter remembers where the two passes that reached furthest ended (reach[0] >=
 * reach[1]) and never starts a pass before reach[1]. Passes start in non-decreasing order
 * (each after an SOI found by the pass before), so at any offset p at or after the new
 * start, the passes so far that covered p are exactly those that ended after p: at most
 * one, since p >= reach[1]. The new pass makes that two. Bytes before the new start are
 * never stepped over again. Hence each byte is stepped over at most twice
 * (FR_SPLITTER_WALK_BOUND). What a rescan skips, [SOI + 2, reach[1]), has been walked by
 * two passes already: it is dropped with the broken frame (dropped_bytes), and a frame
 * hidden there, under two broken frames, is lost. One under one broken frame, the case
 * that happens when a producer is cut off, is still found.
 *
 * Nor does a pass start more than FR_SPLITTER_RESCAN_MAX bytes before the end of the one
 * that failed: else one call could walk up to max_frame_bytes again (8 MiB by default,
 * tens of milliseconds) while the caller's event loop waits. What that skips is dropped
 * with the frame too. So one call does work in proportion to the new bytes, plus at most
 * FR_SPLITTER_RESCAN_MAX.
 *
 * A pass never ends just after an FF (see drop_invalid()), so a rescan that starts at a
 * pass end or right after an SOI never splits an FF D8 pair; one that starts
 * FR_SPLITTER_RESCAN_MAX back looks at the byte before it.
 */

enum state {
	ST_SEEK,		/* outside a frame, looking for FF D8 */
	ST_MARKER,		/* inside a frame, a marker must come next */
	ST_MARKER_CODE,		/* saw FF where a marker must come; FF FF is fill */
	ST_LEN_HI,		/* first byte of a segment length */
	ST_LEN_LO,		/* second byte of a segment length */
	ST_SKIP,		/* segment payload, skipped by its length */
	ST_ENTROPY,		/* entropy-coded data after SOS */
	ST_ENTROPY_FF,		/* saw FF in entropy-coded data */
};

/* T.81 Table B.1 */
enum {
	M_SOF0 = 0xc0, M_DHT = 0xc4, M_JPG = 0xc8, M_DAC = 0xcc,
	M_RST0 = 0xd0, M_RST7 = 0xd7, M_SOI = 0xd8, M_EOI = 0xd9, M_SOS = 0xda,
	M_TEM = 0x01, M_RES_FIRST = 0x02, M_RES_LAST = 0xbf, M_FILL = 0xff,
};

struct fr_splitter {
	enum state state;
	size_t max_frame_bytes;
	size_t pos;		/* next byte to examine */
	size_t start;		/* offset of the current frame's SOI */
	size_t skip_left;	/* payload bytes left in ST_SKIP */
	unsigned seg_len;	/* length field being read */
	uint8_t marker;		/* marker whose segment is being read */
	int seek_saw_ff;	/* ST_SEEK: the byte before pos was FF */
	int has_scan;		/* an SOS was seen in this frame */
	int is_discarding;	/* oversize: walking the frame without keeping it */
	uint64_t discarded;	/* is_discarding: the frame's bytes shifted out before start */
	size_t reach[2];	/* where the two furthest passes ended; reach[0] >= reach[1] */
	size_t walk_from;	/* where the stepping not yet in walked began */
	uint64_t walked;	/* bytes stepped over by all passes, up to walk_from */
	uint64_t garbage_bytes;
};

struct fr_splitter *
fr_splitter_new(size_t max_frame_bytes)
{
	struct fr_splitter *sp = calloc(1, sizeof *sp);

	if (sp == NULL)
		return NULL;
	sp->max_frame_bytes = max_frame_bytes;
	sp->state = ST_SEEK;
	return sp;
}

void
fr_splitter_free(struct fr_splitter *sp)
{
	free(sp);
}

static int
is_in_frame(const struct fr_splitter *sp)
{
	return sp->state != ST_SEEK;
}

void
fr_splitter_set_max_frame_bytes(struct fr_splitter *sp, size_t max_frame_bytes)
{
	assert(!is_in_frame(sp));
	sp->max_frame_bytes = max_frame_bytes;
}

int
fr_splitter_in_frame(const struct fr_splitter *sp)
{
	return is_in_frame(sp) && !sp->is_discarding;
}

uint64_t
fr_splitter_garbage_bytes(const struct fr_splitter *sp)
{
	return sp->garbage_bytes;
}

uint64_t
fr_splitter_bytes_walked(const struct fr_splitter *sp)
{
	return sp->walked + (sp->pos - sp->walk_from);
}

/*
 * pos only moves forward within a pass, so the bytes stepped over are counted in one
 * subtraction whenever pos jumps (a rescan) or offsets change (shift, finish), not per
 * byte.
 */
static void
settle_walked(struct fr_splitter *sp)
{
	sp->walked += sp->pos - sp->walk_from;
	sp->walk_from = sp->pos;
}

size_t
fr_splitter_keep_from(const struct fr_splitter *sp)
{
	if (is_in_frame(sp) && !sp->is_discarding)
		return sp->start;
	/* A trailing FF may be the first half of the next SOI. */
	if ((sp->state == ST_SEEK && sp->seek_saw_ff) ||
	    (sp->is_discarding && (sp->state == ST_MARKER_CODE || sp->state == ST_ENTROPY_FF)))
		return sp->pos - 1;
	return sp->pos;
}

static size_t
sub_floor0(size_t a, size_t b)
{
	return a > b ? a - b : 0;
}

void
fr_splitter_shift(struct fr_splitter *sp, size_t n)
{
	assert(n <= fr_splitter_keep_from(sp));
	settle_walked(sp);
	sp->pos -= n;
	sp->walk_from = sp->pos;
	/* Pass ends before the buffer only ever compare below any new rescan start. */
	sp->reach[0] = sub_floor0(sp->reach[0], n);
	sp->reach[1] = sub_floor0(sp->reach[1], n);
	if (!is_in_frame(sp))
		return;
	if (!sp->is_discarding) {
		sp->start -= n;
		return;
	}
	/* A discarded frame's bytes go as they are walked; count them for its drop. */
	size_t kept = n < sp->start ? n : sp->start;
	sp->discarded += n - kept;
	sp->start -= kept;
}

static void
begin_frame(struct fr_splitter *sp, size_t soi_at)
{
	sp->start = soi_at;
	sp->state = ST_MARKER;
	sp->has_scan = 0;
	sp->is_discarding = 0;
	sp->discarded = 0;
}

static void
seek(struct fr_splitter *sp)
{
	sp->state = ST_SEEK;
	sp->seek_saw_ff = 0;
	sp->is_discarding = 0;
}

/* The current frame's size if it ends just before offset end, shifted-out bytes included. */
static size_t
frame_bytes(const struct fr_splitter *sp, size_t end)
{
	uint64_t n = sp->discarded + (end - sp->start);

	return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

/*
 * A frame being discarded has ended just before offset end: one drop with its real size,
 * as oversize if it had more than max_frame_bytes, else for the reason it ended (the
 * limit is hit before the walk knows: a broken frame of max_frame_bytes is over it once
 * the FF of the SOI that ends it comes).
 */
static enum fr_splitter_result
drop_discarded(struct fr_splitter *sp, size_t end, enum fr_splitter_drop if_within,
    struct fr_splitter_event *ev)
{
	size_t n = frame_bytes(sp, end);

	ev->reason = n > sp->max_frame_bytes ? FR_SPLITTER_DROP_OVERSIZE : if_within;
	ev->dropped_bytes = n;
	return FR_SPLITTER_DROP;
}

/* Keeps the two furthest pass ends (see "Bounded work" above). */
static void
note_pass_end(struct fr_splitter *sp, size_t end)
{
	if (end > sp->reach[0]) {
		sp->reach[1] = sp->reach[0];
		sp->reach[0] = end;
	} else if (end > sp->reach[1]) {
		sp->reach[1] = end;
	}
}

/*
 * The frame is structurally broken; pos is just past the byte that says so, which is
 * never FF (a length byte of 00 or 01, a marker code that is not FF, or a byte that
 * should have been FF). Its SOI may have been a false one, so the pass ends here and the
 * next one looks again from the byte after the SOI, or from where two passes have
 * already been if that is further, or from FR_SPLITTER_RESCAN_MAX bytes back if that is
 * further still: what lies between is dropped with the frame. Only in that last case
 * may the byte before the new start be FF, the first half of an SOI: it is looked at
 * again. An oversize frame being discarded cannot be rescanned: it ends here, and the
 * walk goes on.
 */
static enum fr_splitter_result
drop_invalid(struct fr_splitter *sp, const uint8_t *buf, struct fr_splitter_event *ev)
{
	if (sp->is_discarding) {
		enum fr_splitter_result r =
		    drop_discarded(sp, sp->pos, FR_SPLITTER_DROP_INVALID, ev);

		seek(sp);
		return r;
	}
	note_pass_end(sp, sp->pos);
	size_t from = sp->start + 2;
	if (from < sp->reach[1])
		from = sp->reach[1];
	if (from < sp->pos && sp->pos - from > FR_SPLITTER_RESCAN_MAX)
		from = sp->pos - FR_SPLITTER_RESCAN_MAX;
	settle_walked(sp);
	sp->pos = from;
	sp->walk_from = from;
	seek(sp);
	sp->seek_saw_ff = from > sp->start + 2 && buf[from - 1] == 0xff;
	ev->reason = FR_SPLITTER_DROP_INVALID;
	ev->dropped_bytes = from - (size_t)sp->seek_saw_ff - sp->start;
	return FR_SPLITTER_DROP;
}

/* A new SOI where a marker was due: the broken frame ends here, the new one begins. */
static enum fr_splitter_result
restart_at_soi(struct fr_splitter *sp, struct fr_splitter_event *ev)
{
	size_t soi_at = sp->pos - 2;
	enum fr_splitter_result r;

	if (sp->is_discarding) {
		r = drop_discarded(sp, soi_at, FR_SPLITTER_DROP_INVALID, ev);
	} else {
		ev->reason = FR_SPLITTER_DROP_INVALID;
		ev->dropped_bytes = soi_at - sp->start;
		r = FR_SPLITTER_DROP;
	}
	begin_frame(sp, soi_at);
	return r;
}

static enum fr_splitter_result
end_frame(struct fr_splitter *sp, struct fr_splitter_event *ev)
{
	enum fr_splitter_result r;

	if (sp->is_discarding) {
		/* Only an SOI can end a discarded frame within the limit; this is over it. */
		r = drop_discarded(sp, sp->pos, FR_SPLITTER_DROP_OVERSIZE, ev);
	} else {
		ev->start = sp->start;
		ev->end = sp->pos;
		r = FR_SPLITTER_FRAME;
	}
	seek(sp);
	return r;
}

/*
 * The step functions below walk in a local loop over local copies of the state: buf
 * may alias anything, so fields of sp would be reloaded after every byte read. They
 * return to fr_splitter_scan() when the state changes kind, at an event, or at end.
 */

/* ST_SEEK: skip to the next FF D8, counting what is skipped as garbage. */
static enum fr_splitter_result
step_seek(struct fr_splitter *sp, const uint8_t *buf, size_t end)
{
	size_t pos = sp->pos;
	int saw_ff = sp->seek_saw_ff;
	uint64_t garbage = 0;

	while (pos < end) {
		if (!saw_ff) {
			const uint8_t *ff = memchr(buf + pos, 0xff, end - pos);
			size_t at = ff ? (size_t)(ff - buf) : end;

			garbage += at - pos;
			pos = at;
			if (ff == NULL)
				break;
			pos++;
			saw_ff = 1;
			continue;
		}
		uint8_t b = buf[pos++];
		if (b == M_SOI) {
			sp->garbage_bytes += garbage;
			sp->pos = pos;
			sp->seek_saw_ff = 0;
			begin_frame(sp, pos - 2);
			return FR_SPLITTER_MORE;
		}
		if (b == M_FILL) {
			garbage++;	/* the earlier FF; this one may still start an SOI */
		} else {
			garbage += 2;
			saw_ff = 0;
		}
	}
	sp->garbage_bytes += garbage;
	sp->pos = pos;
	sp->seek_saw_ff = saw_ff;
	return FR_SPLITTER_MORE;
}

/* What a marker code does to the walk. It is never FF: fill (T.81 B.1.1.2). */
enum marker_kind {
	MK_SEGMENT,	/* T.81 B.1.1.4: a length and a payload follow */
	MK_STANDALONE,	/* TEM: nothing follows */
	MK_SOI,
	MK_EOI,
	MK_INVALID,	/* cannot be here */
};

static enum marker_kind
marker_kind(uint8_t m)
{
	if (m == M_SOI)
		return MK_SOI;
	if (m == M_EOI)
		return MK_EOI;
	if (m == M_TEM)
		return MK_STANDALONE;
	/* 00 is stuffing, only meaningful in entropy data; 02..BF are reserved (Table
	 * B.1); RSTn only appear inside entropy data (E.1.4). */
	if (m == 0x00 || (m >= M_RES_FIRST && m <= M_RES_LAST) || (m >= M_RST0 && m <= M_RST7))
		return MK_INVALID;
	return MK_SEGMENT;
}

/* A marker where one is due, in a header or ending a scan; pos is past its code. */
static enum fr_splitter_result
on_marker(struct fr_splitter *sp, const uint8_t *buf, uint8_t m, struct fr_splitter_event *ev)
{
	switch (marker_kind(m)) {
	case MK_SOI:
		return restart_at_soi(sp, ev);
	case MK_EOI:
		if (!sp->has_scan)
			return drop_invalid(sp, buf, ev);
		return end_frame(sp, ev);
	case MK_INVALID:
		return drop_invalid(sp, buf, ev);
	case MK_STANDALONE:
		sp->state = ST_MARKER;
		return FR_SPLITTER_MORE;
	case MK_SEGMENT:
		break;
	}
	sp->marker = m;
	sp->state = ST_LEN_HI;
	return FR_SPLITTER_MORE;
}

/* Marker segments between SOI and the scan, and between scans: skipped by length. */
static enum fr_splitter_result
step_segment(struct fr_splitter *sp, const uint8_t *buf, size_t end, struct fr_splitter_event *ev)
{
	enum state state = sp->state;
	size_t pos = sp->pos, skip_left = sp->skip_left;
	unsigned seg_len = sp->seg_len;
	uint8_t m = sp->marker, b;
	int is_broken = 0;

	while (pos < end && !is_broken) {
		switch (state) {
		case ST_MARKER:
			is_broken = buf[pos++] != 0xff;
			state = ST_MARKER_CODE;
			continue;
		case ST_MARKER_CODE:
			b = buf[pos++];
			if (b == M_FILL)	/* T.81 B.1.1.2: any number of fill bytes */
				continue;
			/* The common markers here, inline; the rest in on_marker(). */
			if (marker_kind(b) == MK_SEGMENT) {
				m = b;
				state = ST_LEN_HI;
				continue;
			}
			sp->pos = pos;
			return on_marker(sp, buf, b, ev);
		case ST_LEN_HI:
			seg_len = (unsigned)buf[pos++] << 8;
			state = ST_LEN_LO;
			continue;
		case ST_LEN_LO:
			seg_len |= buf[pos++];
			/* T.81 B.1.1.4: the length counts its own two bytes. */
			if (seg_len < 2) {
				is_broken = 1;
				continue;
			}
			skip_left = seg_len - 2;
			state = ST_SKIP;
			continue;
		case ST_SKIP: {
			size_t n = end - pos;

			if (n > skip_left)
				n = skip_left;
			pos += n;
			skip_left -= n;
			if (skip_left > 0)
				continue;
			state = ST_MARKER;
			if (m != M_SOS)
				continue;
			sp->has_scan = 1;
			state = ST_ENTROPY;
			break;	/* out of the loop: step_entropy() takes over */
		}
		default:
			abort();
		}
		break;
	}
	sp->pos = pos;
	sp->skip_left = skip_left;
	sp->seg_len = seg_len;
	sp->marker = m;
	sp->state = state;
	if (is_broken)
		return drop_invalid(sp, buf, ev);
	return FR_SPLITTER_MORE;
}

/* Entropy-coded data after SOS, scanned for the marker that ends it. */
static enum fr_splitter_result
step_entropy(struct fr_splitter *sp, const uint8_t *buf, size_t end, struct fr_splitter_event *ev)
{
	size_t pos = sp->pos;
	int saw_ff = sp->state == ST_ENTROPY_FF;

	while (pos < end) {
		if (!saw_ff) {
			const uint8_t *ff = memchr(buf + pos, 0xff, end - pos);

			if (ff == NULL) {
				pos = end;
				break;
			}
			pos = (size_t)(ff - buf) + 1;
			saw_ff = 1;
			continue;
		}
		uint8_t b = buf[pos++];
		/* T.81 F.1.2.3: FF 00 is a stuffed FF; B.1.1.2: FF FF is fill before a
		 * marker; E.1.4: RSTn sit between restart intervals. None ends the scan. */
		if (b == 0x00 || (b >= M_RST0 && b <= M_RST7)) {
			saw_ff = 0;
			continue;
		}
		if (b == M_FILL)
			continue;
		/* Any other marker ends the scan: EOI, or tables and the next SOS. */
		sp->pos = pos;
		return on_marker(sp, buf, b, ev);
	}
	sp->pos = pos;
	sp->state = saw_ff ? ST_ENTROPY_FF : ST_ENTROPY;
	return FR_SPLITTER_MORE;
}

/* How far the walk may go before the current frame is over the limit. */
static size_t
scan_limit(const struct fr_splitter *sp, size_t len)
{
	if (!is_in_frame(sp) || sp->is_discarding)
		return len;
	/* Written so that a limit near SIZE_MAX cannot wrap. */
	if (len - sp->start <= sp->max_frame_bytes)
		return len;
	return sp->start + sp->max_frame_bytes;
}

enum fr_splitter_result
fr_splitter_scan(struct fr_splitter *sp, const uint8_t *buf, size_t len,
    struct fr_splitter_event *ev)
{
	enum fr_splitter_result r;

	memset(ev, 0, sizeof *ev);
	for (;;) {
		if (is_in_frame(sp) && !sp->is_discarding &&
		    sp->pos - sp->start >= sp->max_frame_bytes) {
			/* The caller cannot keep more of this frame. Walk on without keeping
			 * it, so the next frame is found exactly where this one ends, which
			 * is when it is dropped, with its real size. */
			sp->is_discarding = 1;
			sp->discarded = 0;
		}
		size_t end = scan_limit(sp, len);
		if (sp->pos >= end)
			return FR_SPLITTER_MORE;
		switch (sp->state) {
		case ST_SEEK:
			r = step_seek(sp, buf, end);
			break;
		case ST_ENTROPY:
		case ST_ENTROPY_FF:
			r = step_entropy(sp, buf, end, ev);
			break;
		default:
			r = step_segment(sp, buf, end, ev);
			break;
		}
		if (r != FR_SPLITTER_MORE)
			return r;
	}
}

enum fr_splitter_result
fr_splitter_finish(struct fr_splitter *sp, struct fr_splitter_event *ev)
{
	enum fr_splitter_result r = FR_SPLITTER_MORE;

	memset(ev, 0, sizeof *ev);
	if (sp->state == ST_SEEK && sp->seek_saw_ff)
		sp->garbage_bytes++;
	if (sp->is_discarding) {
		r = drop_discarded(sp, sp->pos, FR_SPLITTER_DROP_TRUNCATED, ev);
	} else if (is_in_frame(sp)) {
		ev->reason = FR_SPLITTER_DROP_TRUNCATED;
		ev->dropped_bytes = sp->pos - sp->start;
		r = FR_SPLITTER_DROP;
	}
	settle_walked(sp);
	seek(sp);
	sp->pos = 0;
	sp->walk_from = 0;
	sp->reach[0] = sp->reach[1] = 0;
	return r;
}
