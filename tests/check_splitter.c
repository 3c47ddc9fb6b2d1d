/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the JPEG splitter. Every test pushes its input through a driver that uses
 * the splitter as the ingest does, at every chunking of chunking.h and with every way of
 * compacting the buffer, and asserts the exact frames, drops and garbage count. Fixtures are
 * real files from FR_FIXTURES_DIR; hand-built byte arrays cover what no encoder writes.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/splitter.h"

#include "chunking.h"
#include "helpers.h"
#include "suite.h"

/* Larger than any fixture, so only the "limits" tests ever hit the limit. */
enum { BIG_MAX = 1 << 20 };

/* ---- fixtures ---- */

static struct bytes
fixture(const char *name)
{
	struct bytes b = { 0 };

	add_fixture(&b, name);
	return b;
}

static size_t
fixture_size(const char *name)
{
	struct bytes f = fixture(name);
	size_t len = f.len;

	bytes_free(&f);
	return len;
}

/* Every fixture that is exactly one whole JPEG. */
static const char *const whole_fixtures[] = {
	"ffmpeg-frame.jpg", "baseline.jpg", "progressive.jpg", "restart.jpg",
	"arithmetic.jpg", "exif-thumbnail.jpg", "app-with-eoi.jpg", "com-with-eoi.jpg",
	"fill-bytes.jpg", "dht-less.jpg", "stuffed.jpg", "large-1080p.jpg",
};
enum { N_WHOLE = sizeof whole_fixtures / sizeof whole_fixtures[0] };

/* ---- hand-built frames ---- */

/* T.81 B.2.3 with one component: Ls = 8, Ns = 1, Cs = 1, Td/Ta = 0, Ss = 0, Se = 63, Ah/Al = 0. */
static const uint8_t sos_segment[] = { 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00 };
/* Entropy-coded data with a stuffed FF (FF 00), RST3, and fill bytes before RST4. */
static const uint8_t scan_data[] = {
	0x12, 0x34, 0xff, 0x00, 0x56, 0xff, 0xd3, 0x78, 0xff, 0xff, 0xd4, 0x9a, 0xff, 0x00, 0xbc,
};
/* T.81 B.1.1.2: fill bytes may precede any marker, EOI included. */
static const uint8_t eoi_with_fill[] = { 0xff, 0xff, 0xd9 };

enum {
	/* SOI + COM header + SOS segment + scan + fill and EOI */
	MINI_MIN = 2 + 4 + sizeof sos_segment + sizeof scan_data + sizeof eoi_with_fill,
	/* SOI + SOS segment: the shortest frame that has entered its scan */
	BROKEN_MIN = 2 + sizeof sos_segment,
};

/*
 * Appends a minimal frame of exactly len bytes: SOI, a COM segment padded to size whose
 * payload starts with a fake EOI and SOI, SOS, entropy data with FF 00, RSTn and fill, EOI.
 */
static void
add_mini_frame(struct bytes *b, size_t len)
{
	ck_assert_uint_ge(len, MINI_MIN);
	size_t pad = len - MINI_MIN;
	ck_assert_uint_le(pad, 0xffff - 2);

	BYTES_ADD(b, 0xff, 0xd8, 0xff, 0xfe, (uint8_t)((pad + 2) >> 8), (uint8_t)(pad + 2));
	static const uint8_t fake[] = { 0xff, 0xd9, 0xff, 0xd8 };
	size_t nfake = pad < sizeof fake ? pad : sizeof fake;
	bytes_add(b, fake, nfake);
	bytes_fill(b, 'p', pad - nfake);
	bytes_add(b, sos_segment, sizeof sos_segment);
	bytes_add(b, scan_data, sizeof scan_data);
	bytes_add(b, eoi_with_fill, sizeof eoi_with_fill);
}

/* Appends len bytes of a frame cut inside its entropy data (the last byte is not FF). */
static void
add_broken_frame(struct bytes *b, size_t len)
{
	ck_assert_uint_ge(len, BROKEN_MIN);
	BYTES_ADD(b, 0xff, 0xd8);
	bytes_add(b, sos_segment, sizeof sos_segment);
	bytes_fill(b, 0x11, len - BROKEN_MIN);
}

/* ---- the driver ---- */

struct event {
	enum fr_splitter_result kind;	/* FR_SPLITTER_FRAME or FR_SPLITTER_DROP */
	enum fr_splitter_drop reason;
	size_t dropped_bytes;
	uint8_t *frame;			/* a copy of the frame's bytes */
	size_t frame_len;
};

/* What a run produced; also what a test wants it to produce. */
struct result {
	struct event *ev;
	size_t n;
	size_t cap;
	uint64_t garbage_bytes;
	bool was_in_frame;	/* fr_splitter_in_frame() just before the last finish */
	size_t peak_buffered;	/* the most bytes the driver ever held */
	uint64_t walked;	/* fr_splitter_bytes_walked() at the end */
};

static struct event *
add_event(struct result *r, enum fr_splitter_result kind)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
		REQUIRE(r->ev != NULL, "out of memory");
	}
	struct event *e = &r->ev[r->n++];
	*e = (struct event){ .kind = kind };
	return e;
}

static void
want_frame(struct result *r, const uint8_t *p, size_t len)
{
	struct event *e = add_event(r, FR_SPLITTER_FRAME);

	e->frame = malloc(len ? len : 1);
	REQUIRE(e->frame != NULL, "out of memory");
	memcpy(e->frame, p, len);
	e->frame_len = len;
}

static void
want_drop(struct result *r, enum fr_splitter_drop reason, size_t dropped_bytes)
{
	struct event *e = add_event(r, FR_SPLITTER_DROP);

	e->reason = reason;
	e->dropped_bytes = dropped_bytes;
}

static void
result_free(struct result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i].frame);
	free(r->ev);
	*r = (struct result){ 0 };
}

/* How the driver discards bytes the splitter no longer needs. */
enum driver {
	DRIVER_COMPACT,		/* to fr_splitter_keep_from() after each read's events */
	DRIVER_COMPACT_AT_FRAME, /* also after each frame, as ingest.c's take_frame does */
	DRIVER_KEEP_ALL,	/* never: offsets only grow */
	DRIVERS,
};

static const char *
driver_name(enum driver driver)
{
	static const char *const names[] = {
		[DRIVER_COMPACT] = "compacting",
		[DRIVER_COMPACT_AT_FRAME] = "compacting at each frame",
		[DRIVER_KEEP_ALL] = "never compacting",
	};

	return names[driver];
}

/* Drops buf[0, k) and tells the splitter. */
static void
compact(struct fr_splitter *sp, struct bytes *buf, size_t k)
{
	REQUIRE(k <= buf->len, "keep_from %zu past the %zu buffered bytes", k, buf->len);
	if (k == 0)
		return;
	memmove(buf->p, buf->p + k, buf->len - k);
	buf->len -= k;
	fr_splitter_shift(sp, k);
}

/* Calls fr_splitter_scan until MORE, as the ingest does after each read. */
static void
scan_all(struct fr_splitter *sp, struct bytes *buf, enum driver driver, struct result *r)
{
	struct fr_splitter_event ev;
	size_t events = 0;
	enum fr_splitter_result res;

	while ((res = fr_splitter_scan(sp, buf->p, buf->len, &ev)) != FR_SPLITTER_MORE) {
		/* Every event consumes at least two bytes; more events than that is a loop. */
		events++;
		REQUIRE(events <= buf->len, "scan keeps returning events without progress");
		if (res == FR_SPLITTER_FRAME) {
			REQUIRE(ev.start < ev.end && ev.end <= buf->len,
			    "frame [%zu, %zu) outside the %zu-byte buffer", ev.start, ev.end,
			    buf->len);
			want_frame(r, buf->p + ev.start, ev.end - ev.start);
			if (driver != DRIVER_COMPACT_AT_FRAME)
				continue;
			/* Nothing before the frame's end is needed any more. */
			REQUIRE(fr_splitter_keep_from(sp) == ev.end, "keep_from %zu after a frame "
			    "ending at %zu", fr_splitter_keep_from(sp), ev.end);
			compact(sp, buf, ev.end);
		} else {
			REQUIRE(res == FR_SPLITTER_DROP, "scan returned %d", (int)res);
			REQUIRE(ev.reason != FR_SPLITTER_DROP_NONE, "DROP without a reason");
			want_drop(r, ev.reason, ev.dropped_bytes);
		}
	}
}

/*
 * Feeds one stream to sp as the ingest does: append each chunk to the buffer, scan until
 * MORE, compact to fr_splitter_keep_from() (unless DRIVER_KEEP_ALL), and at the end of the
 * input call fr_splitter_finish(). Events go to r.
 */
static void
feed_stream(struct fr_splitter *sp, const uint8_t *in, size_t in_len, size_t max_frame_bytes,
    int chunking, enum driver driver, struct result *r)
{
	struct chunker c;
	struct bytes buf = { 0 };
	size_t off = 0;

	chunker_init(&c, (enum chunking)chunking);
	while (off < in_len) {
		size_t n = chunker_next(&c, in_len - off);

		bytes_add(&buf, in + off, n);
		off += n;
		if (buf.len > r->peak_buffered)
			r->peak_buffered = buf.len;
		scan_all(sp, &buf, driver, r);

		size_t k = fr_splitter_keep_from(sp);
		REQUIRE(k <= buf.len, "keep_from %zu past the %zu buffered bytes", k, buf.len);
		if (driver == DRIVER_KEEP_ALL)
			continue;
		compact(sp, &buf, k);
		/* What the splitter still needs is at most one frame's worth. */
		REQUIRE(buf.len <= max_frame_bytes,
		    "must keep %zu bytes after compaction, max_frame_bytes is %zu", buf.len,
		    max_frame_bytes);
	}
	r->was_in_frame = fr_splitter_in_frame(sp);

	struct fr_splitter_event ev;
	enum fr_splitter_result res = fr_splitter_finish(sp, &ev);
	if (res == FR_SPLITTER_DROP)
		want_drop(r, ev.reason, ev.dropped_bytes);
	else
		REQUIRE(res == FR_SPLITTER_MORE, "finish returned %d", (int)res);
	bytes_free(&buf);
}

/* One stream through a fresh splitter. */
static void
run(struct result *r, const uint8_t *in, size_t in_len, size_t max_frame_bytes, int chunking,
    enum driver driver)
{
	struct fr_splitter *sp = fr_splitter_new(max_frame_bytes);

	ck_assert_ptr_nonnull(sp);
	*r = (struct result){ 0 };
	feed_stream(sp, in, in_len, max_frame_bytes, chunking, driver, r);
	r->garbage_bytes = fr_splitter_garbage_bytes(sp);
	r->walked = fr_splitter_bytes_walked(sp);
	/* The contract of splitter.h, on every input of every test. */
	REQUIRE(r->walked <= (uint64_t)FR_SPLITTER_WALK_BOUND * in_len,
	    "%" PRIu64 " bytes walked for a %zu-byte input", r->walked, in_len);
	fr_splitter_free(sp);
}

/* ---- comparing results ---- */

static const char *
drop_name(enum fr_splitter_drop reason)
{
	switch (reason) {
	case FR_SPLITTER_DROP_NONE:
		return "none";
	case FR_SPLITTER_DROP_INVALID:
		return "invalid";
	case FR_SPLITTER_DROP_OVERSIZE:
		return "oversize";
	case FR_SPLITTER_DROP_TRUNCATED:
		return "truncated";
	}
	return "?";
}

/* A one-line summary, "frame(9003) drop(invalid,2) ... garbage=98", for failure messages. */
static void
describe(const struct result *r, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < r->n && used < size; i++) {
		const struct event *e = &r->ev[i];

		if (e->kind == FR_SPLITTER_FRAME)
			used += (size_t)snprintf(out + used, size - used, "frame(%zu) ",
			    e->frame_len);
		else
			used += (size_t)snprintf(out + used, size - used, "drop(%s,%zu) ",
			    drop_name(e->reason), e->dropped_bytes);
	}
	if (used < size)
		snprintf(out + used, size - used, "garbage=%" PRIu64, r->garbage_bytes);
}

static void
check_result(const struct result *got, const struct result *want, const char *what)
{
	char g[1024], w[1024];

	describe(got, g, sizeof g);
	describe(want, w, sizeof w);
	ck_assert_msg(got->n == want->n, "%s: %zu events, want %zu\n  got:  %s\n  want: %s",
	    what, got->n, want->n, g, w);
	for (size_t i = 0; i < got->n; i++) {
		const struct event *a = &got->ev[i], *b = &want->ev[i];

		REQUIRE(a->kind == b->kind && a->reason == b->reason &&
		    a->dropped_bytes == b->dropped_bytes && a->frame_len == b->frame_len,
		    "%s: event %zu differs\n  got:  %s\n  want: %s", what, i, g, w);
		if (a->kind == FR_SPLITTER_FRAME)
			REQUIRE(memcmp(a->frame, b->frame, a->frame_len) == 0,
			    "%s: frame %zu has the right size but wrong bytes", what, i);
	}
	ck_assert_msg(got->garbage_bytes == want->garbage_bytes,
	    "%s: garbage_bytes %" PRIu64 ", want %" PRIu64 "\n  got:  %s\n  want: %s", what,
	    got->garbage_bytes, want->garbage_bytes, g, w);
	/* A want taken from another run: the walk is the same however it was chunked. */
	ck_assert_msg(want->walked == 0 || got->walked == want->walked,
	    "%s: %" PRIu64 " bytes walked, want %" PRIu64, what, got->walked, want->walked);
}

/* Splits in at the loop's chunking with every driver, and asserts each gives want. */
static void
expect_split_named(const char *label, const struct bytes *in, size_t max_frame_bytes,
    int chunking, const struct result *want)
{
	for (enum driver d = 0; d < DRIVERS; d++) {
		struct result got;
		char what[256];

		snprintf(what, sizeof what, "%s%s%s chunks, %s", label, *label ? ", " : "",
		    chunking_name((enum chunking)chunking), driver_name(d));
		run(&got, in->p, in->len, max_frame_bytes, chunking, d);
		check_result(&got, want, what);
		result_free(&got);
	}
}

static void
expect_split(const struct bytes *in, size_t max_frame_bytes, int chunking,
    const struct result *want)
{
	expect_split_named("", in, max_frame_bytes, chunking, want);
}

/* ---- markers: every kind of frame comes out whole ---- */

START_TEST(test_markers_each_fixture)
{
	for (size_t i = 0; i < N_WHOLE; i++) {
		struct bytes in = fixture(whole_fixtures[i]);
		struct result want = { 0 };

		want_frame(&want, in.p, in.len);
		expect_split_named(whole_fixtures[i], &in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

START_TEST(test_markers_back_to_back)
{
	struct bytes in = { 0 };
	struct result want = { 0 };

	for (size_t i = 0; i < N_WHOLE; i++) {
		size_t at = in.len;

		add_fixture(&in, whole_fixtures[i]);
		want_frame(&want, in.p + at, in.len - at);
	}
	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/* junk-with-ff.bin ends with a lone FF, so before a frame it makes FF FF D8. */
START_TEST(test_markers_with_junk_between)
{
	static const char *const junk[] = { "junk.bin", "junk-with-ff.bin" };
	struct bytes in = { 0 };
	struct result want = { 0 };

	for (size_t i = 0; i < N_WHOLE; i++) {
		want.garbage_bytes += add_fixture(&in, junk[i % 2]);
		size_t at = in.len;
		add_fixture(&in, whole_fixtures[i]);
		want_frame(&want, in.p + at, in.len - at);
	}
	want.garbage_bytes += add_fixture(&in, "junk-with-ff.bin");
	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/* What ffmpeg -f mjpeg sends: ten frames that together are the whole file. */
START_TEST(test_markers_ffmpeg_stream)
{
	struct bytes in = fixture("ffmpeg-320x240-10.mjpeg");

	for (enum driver d = 0; d < DRIVERS; d++) {
		struct result got;
		size_t off = 0;

		run(&got, in.p, in.len, BIG_MAX, _i, d);
		ck_assert_uint_eq(got.n, 10);
		for (size_t i = 0; i < got.n; i++) {
			const struct event *e = &got.ev[i];

			ck_assert_int_eq(e->kind, FR_SPLITTER_FRAME);
			ck_assert_uint_ge(e->frame_len, 4);
			ck_assert_uint_le(e->frame_len, in.len - off);
			ck_assert_mem_eq(e->frame, in.p + off, e->frame_len);
			ck_assert_mem_eq(e->frame, "\xff\xd8", 2);
			ck_assert_mem_eq(e->frame + e->frame_len - 2, "\xff\xd9", 2);
			off += e->frame_len;
		}
		ck_assert_uint_eq(off, in.len);
		ck_assert_uint_eq(got.garbage_bytes, 0);
		result_free(&got);
	}
	bytes_free(&in);
}
END_TEST

/* Hand-built shapes no encoder in fixtures/ writes, each with its own expected frame. */
START_TEST(test_markers_synthetic)
{
	struct bytes in = { 0 };
	struct result want = { 0 };
	size_t at;

	/* The smallest frame the builder makes, then one with a long COM segment. */
	at = in.len;
	add_mini_frame(&in, MINI_MIN);
	want_frame(&want, in.p + at, in.len - at);
	at = in.len;
	add_mini_frame(&in, 1000);
	want_frame(&want, in.p + at, in.len - at);

	/* Fill before markers, an empty APP1 (length 2), TEM, a DQT holding FF D9, no entropy
	 * data at all. */
	at = in.len;
	BYTES_ADD(&in, 0xff, 0xd8, 0xff, 0xff, 0xff, 0xe1, 0x00, 0x02, 0xff, 0x01,
	    0xff, 0xff, 0xdb, 0x00, 0x04, 0xff, 0xd9);
	bytes_add(&in, sos_segment, sizeof sos_segment);
	BYTES_ADD(&in, 0xff, 0xff, 0xff, 0xd9);
	want_frame(&want, in.p + at, in.len - at);

	/* Progressive shape: scan, DHT holding FF D9 FF D8, a scan with every RSTn, DNL, a
	 * scan, EOI. */
	at = in.len;
	BYTES_ADD(&in, 0xff, 0xd8);
	bytes_add(&in, sos_segment, sizeof sos_segment);
	bytes_add(&in, scan_data, sizeof scan_data);
	BYTES_ADD(&in, 0xff, 0xc4, 0x00, 0x06, 0xff, 0xd9, 0xff, 0xd8);
	bytes_add(&in, sos_segment, sizeof sos_segment);
	for (uint8_t rst = 0xd0; rst <= 0xd7; rst++)
		BYTES_ADD(&in, 0x01, 0xff, 0x00, 0xff, rst);
	BYTES_ADD(&in, 0xff, 0xdc, 0x00, 0x04, 0x00, 0x10);
	bytes_add(&in, sos_segment, sizeof sos_segment);
	BYTES_ADD(&in, 0x00, 0xff, 0x00, 0xff, 0xd9);
	want_frame(&want, in.p + at, in.len - at);

	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/* ---- resync: garbage is counted, broken frames dropped, the next frame found ---- */

START_TEST(test_resync_leading_garbage)
{
	struct bytes in = { 0 };
	struct result want = { .garbage_bytes = 5 + 3 };

	bytes_add(&in, "hello", 5);
	size_t at = in.len;
	add_mini_frame(&in, 100);
	want_frame(&want, in.p + at, in.len - at);
	BYTES_ADD(&in, 0x00, 0xd8, 0xd9);
	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

START_TEST(test_resync_lone_ff)
{
	struct bytes in = { 0 };
	struct result want = { .garbage_bytes = 9 + 3 };

	/* The last FF of the prefix is garbage too: FF FF D8 starts at the second FF. */
	BYTES_ADD(&in, 0xff, 0x00, 0xff, 0x12, 0xff, 0xff, 0xff, 0xd9, 0xff);
	size_t at = in.len;
	add_mini_frame(&in, 50);
	want_frame(&want, in.p + at, in.len - at);
	/* A trailing lone FF is counted when the stream ends. */
	BYTES_ADD(&in, 0xff, 0xd9, 0xff);
	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

START_TEST(test_resync_ff_ff_d8)
{
	for (size_t extra = 1; extra <= 4; extra++) {
		struct bytes in = { 0 };
		struct result want = { .garbage_bytes = extra };

		bytes_fill(&in, 0xff, extra);
		size_t at = in.len;
		add_mini_frame(&in, 40);
		want_frame(&want, in.p + at, in.len - at);
		expect_split(&in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

START_TEST(test_resync_junk_only)
{
	static const char *const junk[] = { "junk.bin", "junk-with-ff.bin" };

	for (size_t i = 0; i < 2; i++) {
		struct bytes in = fixture(junk[i]);
		struct result want = { .garbage_bytes = in.len };

		expect_split(&in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/*
 * truncated-header.bin is baseline.jpg cut inside a DQT segment; its length field runs 58
 * bytes into whatever follows, past that frame's SOI. The walk lands on a byte that is not
 * FF, so the frame is dropped as invalid (its SOI, 2 bytes) and the rest of it is rescanned
 * as garbage, which finds the next SOI.
 */
START_TEST(test_resync_truncated_header_fixture)
{
	static const char *const next[] = { "exif-thumbnail.jpg", "baseline.jpg" };

	for (size_t i = 0; i < 2; i++) {
		struct bytes in = { 0 };
		struct result want = { 0 };

		size_t cut = add_fixture(&in, "truncated-header.bin");
		want_drop(&want, FR_SPLITTER_DROP_INVALID, 2);
		want.garbage_bytes = cut - 2;
		size_t at = in.len;
		add_fixture(&in, next[i]);
		want_frame(&want, in.p + at, in.len - at);
		at = in.len;
		add_fixture(&in, "ffmpeg-frame.jpg");
		want_frame(&want, in.p + at, in.len - at);
		expect_split(&in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/* The same by hand: a segment length that swallows the whole next frame and more. */
START_TEST(test_resync_truncated_header_synthetic)
{
	struct bytes in = { 0 };
	struct result want = { 0 };

	/* APP0 claims 64 bytes but the frame stops after 2 payload bytes. */
	BYTES_ADD(&in, 0xff, 0xd8, 0xff, 0xe0, 0x00, 0x40, 'a', 'b');
	want_drop(&want, FR_SPLITTER_DROP_INVALID, 2);
	want.garbage_bytes = 6;
	size_t at = in.len;
	add_mini_frame(&in, 40);
	want_frame(&want, in.p + at, in.len - at);
	/* The bogus length ends at byte 20 of this frame, inside its COM padding ('p'). */
	at = in.len;
	add_mini_frame(&in, 60);
	ck_assert_uint_eq(in.p[6 + 62], 'p');
	want_frame(&want, in.p + at, in.len - at);
	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/* An SOI in entropy data ends the cut frame there: all its bytes are dropped as invalid. */
START_TEST(test_resync_truncated_scan_fixture)
{
	struct bytes in = { 0 };
	struct result want = { 0 };

	want_drop(&want, FR_SPLITTER_DROP_INVALID, add_fixture(&in, "truncated-scan.bin"));
	size_t at = in.len;
	add_fixture(&in, "baseline.jpg");
	want_frame(&want, in.p + at, in.len - at);
	want_drop(&want, FR_SPLITTER_DROP_INVALID, add_fixture(&in, "truncated-scan.bin"));
	at = in.len;
	add_fixture(&in, "progressive.jpg");
	want_frame(&want, in.p + at, in.len - at);
	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/* Cut after FF (of an FF 00 pair), after an RST, and in the SOS header's end. */
START_TEST(test_resync_truncated_scan_synthetic)
{
	struct bytes frame = { 0 };

	add_mini_frame(&frame, 64);
	size_t scan_at = frame.len - sizeof eoi_with_fill - sizeof scan_data;
	const size_t cuts[] = { scan_at, scan_at + 3, scan_at + 7, scan_at + 9 };

	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		struct bytes in = { 0 };
		struct result want = { 0 };

		bytes_add(&in, frame.p, cuts[i]);
		want_drop(&want, FR_SPLITTER_DROP_INVALID, cuts[i]);
		bytes_add(&in, frame.p, frame.len);
		want_frame(&want, frame.p, frame.len);
		expect_split(&in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
	bytes_free(&frame);
}
END_TEST

/*
 * Frames broken before their scan. Each is dropped as invalid with its SOI's 2 bytes; the
 * walk resumes right after that SOI, so the rest of the broken frame counts as garbage.
 */
START_TEST(test_resync_invalid_header)
{
	static const struct {
		const char *why;
		uint8_t bytes[12];
		size_t len;
	} cases[] = {
		{ "segment length 1", { 0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01 }, 6 },
		{ "segment length 0", { 0xff, 0xd8, 0xff, 0xfe, 0x00, 0x00 }, 6 },
		{ "reserved marker FF 02", { 0xff, 0xd8, 0xff, 0x02 }, 4 },
		{ "reserved marker FF BF", { 0xff, 0xd8, 0xff, 0xbf }, 4 },
		{ "FF 00 in the header", { 0xff, 0xd8, 0xff, 0x00 }, 4 },
		{ "RST0 in the header", { 0xff, 0xd8, 0xff, 0xd0 }, 4 },
		{ "RST7 after a segment",
		    { 0xff, 0xd8, 0xff, 0xdb, 0x00, 0x03, 0x01, 0xff, 0xd7 }, 9 },
		{ "EOI right after SOI", { 0xff, 0xd8, 0xff, 0xd9 }, 4 },
		{ "EOI before SOS",
		    { 0xff, 0xd8, 0xff, 0xdb, 0x00, 0x04, 0x01, 0x02, 0xff, 0xd9 }, 10 },
		{ "no marker after a segment",
		    { 0xff, 0xd8, 0xff, 0xe0, 0x00, 0x03, 'x', 'y' }, 8 },
		{ "no marker after SOI", { 0xff, 0xd8, 0x00 }, 3 },
		{ "fill then reserved", { 0xff, 0xd8, 0xff, 0xff, 0xff, 0x7f }, 6 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct bytes in = { 0 };
		struct result want = { 0 };

		bytes_add(&in, cases[i].bytes, cases[i].len);
		want_drop(&want, FR_SPLITTER_DROP_INVALID, 2);
		want.garbage_bytes = cases[i].len - 2;
		size_t at = in.len;
		add_mini_frame(&in, 48);
		want_frame(&want, in.p + at, in.len - at);
		expect_split_named(cases[i].why, &in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/* An SOI where a marker is due ends the broken frame there (fill bytes may precede it). */
START_TEST(test_resync_soi_in_header)
{
	static const struct {
		uint8_t bytes[8];
		size_t len;
	} cases[] = {
		{ { 0xff, 0xd8 }, 2 },
		{ { 0xff, 0xd8, 0xff, 0xff }, 4 },
		{ { 0xff, 0xd8, 0xff, 0xdb, 0x00, 0x04, 0x01, 0x02 }, 8 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct bytes in = { 0 };
		struct result want = { 0 };

		bytes_add(&in, cases[i].bytes, cases[i].len);
		want_drop(&want, FR_SPLITTER_DROP_INVALID, cases[i].len);
		size_t at = in.len;
		add_mini_frame(&in, 48);
		want_frame(&want, in.p + at, in.len - at);
		expect_split(&in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/*
 * A broken frame's SOI may have been a false one, so the walk resumes right after it: a
 * whole frame hidden in the broken frame's COM payload comes out.
 */
START_TEST(test_resync_rescan_after_invalid)
{
	struct bytes inner = { 0 };
	struct bytes in = { 0 };
	struct result want = { 0 };

	add_mini_frame(&inner, 60);
	BYTES_ADD(&in, 0xff, 0xd8, 0xff, 0xfe, 0x00, (uint8_t)(inner.len + 2));
	bytes_add(&in, inner.p, inner.len);
	BYTES_ADD(&in, 'z');	/* not a marker: the outer frame is broken */
	want_drop(&want, FR_SPLITTER_DROP_INVALID, 2);
	want_frame(&want, inner.p, inner.len);
	want.garbage_bytes = 4 + 1;
	expect_split(&in, BIG_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
	bytes_free(&inner);
}
END_TEST

/* ---- limits: max_frame_bytes ---- */

START_TEST(test_limits_exact_size_passes)
{
	enum { MAX = 300 };
	struct bytes in = { 0 };
	struct result want = { 0 };
	const size_t sizes[] = { MAX, MAX, MAX - 1, MINI_MIN, MAX };

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t at = in.len;

		add_mini_frame(&in, sizes[i]);
		want_frame(&want, in.p + at, in.len - at);
	}
	expect_split(&in, MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);

	/* A real file at exactly the limit. */
	in = fixture("baseline.jpg");
	want_frame(&want, in.p, in.len);
	expect_split(&in, in.len, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/*
 * One byte over is dropped: past the limit the frame is walked without being kept, so the
 * next frame is intact, and the drop comes when it ends, with its real size.
 */
START_TEST(test_limits_one_over_dropped)
{
	enum { MAX = 300 };
	struct bytes in = { 0 };
	struct result want = { 0 };

	add_mini_frame(&in, MAX + 1);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, MAX + 1);
	size_t at = in.len;
	add_mini_frame(&in, MAX);
	want_frame(&want, in.p + at, in.len - at);
	/* Far over, with the limit hit inside the COM segment. */
	add_mini_frame(&in, 5000);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, 5000);
	at = in.len;
	add_mini_frame(&in, MINI_MIN);
	want_frame(&want, in.p + at, in.len - at);
	expect_split(&in, MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/*
 * An oversize frame that is also broken: its walk ends at the next SOI, whose FF may be the
 * last byte of a read, in entropy data or where a marker is due. That frame is intact.
 */
START_TEST(test_limits_oversize_then_soi)
{
	enum { MAX = 300 };
	struct bytes in = { 0 };
	struct result want = { 0 };
	size_t at;

	add_broken_frame(&in, 3 * MAX);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, 3 * MAX);
	at = in.len;
	add_mini_frame(&in, MAX);
	want_frame(&want, in.p + at, in.len - at);

	/* SOI, then a whole COM segment far over the limit, then the next SOI. */
	BYTES_ADD(&in, 0xff, 0xd8, 0xff, 0xfe, 0x07, 0xd2);
	bytes_fill(&in, 'c', 2000);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, 6 + 2000);
	at = in.len;
	add_mini_frame(&in, MINI_MIN);
	want_frame(&want, in.p + at, in.len - at);
	expect_split(&in, MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/*
 * An oversize frame that ends in a broken marker is dropped there with every byte up to
 * it; its bytes are gone, so the walk goes on after it, where the next frame is.
 */
START_TEST(test_limits_oversize_then_invalid)
{
	enum { MAX = 300 };
	struct bytes in = { 0 };
	struct result want = { .garbage_bytes = 3 };

	BYTES_ADD(&in, 0xff, 0xd8, 0xff, 0xfe, 0x07, 0xd2);
	bytes_fill(&in, 'c', 2000);
	BYTES_ADD(&in, 0xff, 0xff, 0x02);	/* fill, then a reserved marker */
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, in.len);
	bytes_add(&in, "xyz", 3);
	size_t at = in.len;
	add_mini_frame(&in, MAX);
	want_frame(&want, in.p + at, in.len - at);
	expect_split(&in, MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

START_TEST(test_limits_fixtures)
{
	struct bytes in = { 0 };
	struct result want = { 0 };
	size_t max = fixture_size("baseline.jpg") - 1;
	size_t at;

	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, add_fixture(&in, "baseline.jpg"));
	at = in.len;
	add_fixture(&in, "ffmpeg-frame.jpg");
	want_frame(&want, in.p + at, in.len - at);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, add_fixture(&in, "large-1080p.jpg"));
	want.garbage_bytes += add_fixture(&in, "junk.bin");
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, add_fixture(&in, "exif-thumbnail.jpg"));
	at = in.len;
	add_fixture(&in, "progressive.jpg");
	want_frame(&want, in.p + at, in.len - at);
	expect_split(&in, max, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/* The driver never holds more than max_frame_bytes plus one chunk, whatever comes in. */
START_TEST(test_limits_buffer_bounded)
{
	enum { MAX = 8192 };
	struct bytes in = { 0 };
	struct result want = { 0 };
	struct result got;

	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, add_fixture(&in, "large-1080p.jpg"));
	want.garbage_bytes += add_fixture(&in, "junk.bin");
	size_t at = in.len;
	add_fixture(&in, "ffmpeg-frame.jpg");
	want_frame(&want, in.p + at, in.len - at);
	want.garbage_bytes += add_fixture(&in, "junk-with-ff.bin");
	want_drop(&want, FR_SPLITTER_DROP_INVALID, add_fixture(&in, "truncated-scan.bin"));
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, add_fixture(&in, "large-1080p.jpg"));
	/* Cut off at the end of the stream: oversize all the same, with all its bytes. */
	add_broken_frame(&in, 3 * MAX);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, 3 * MAX);
	expect_split(&in, MAX, _i, &want);

	run(&got, in.p, in.len, MAX, _i, DRIVER_COMPACT);
	ck_assert_uint_le(got.peak_buffered, MAX + chunking_max((enum chunking)_i, in.len));
	result_free(&got);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/*
 * SIZE_MAX means "no limit" to a caller. The limit must not overflow start + max: both
 * frames come out, whatever the offset of their SOI in the buffer.
 */
START_TEST(test_limits_unbounded)
{
	struct bytes in = { 0 };
	struct result want = { .garbage_bytes = 3 };

	bytes_add(&in, "xyz", 3);
	size_t at = in.len;
	add_fixture(&in, "baseline.jpg");
	want_frame(&want, in.p + at, in.len - at);
	at = in.len;
	add_fixture(&in, "ffmpeg-frame.jpg");
	want_frame(&want, in.p + at, in.len - at);
	expect_split(&in, SIZE_MAX, _i, &want);
	result_free(&want);
	bytes_free(&in);
}
END_TEST

/*
 * A broken frame that never reached the limit, followed by a new SOI, is invalid with its
 * own size, like any other broken frame: the FF of the next SOI is not one of its bytes.
 * At max - 1 that FF already fills the frame to the limit, so the splitter walks on
 * without keeping the frame; the SOI shows it had max - 1 bytes: invalid all the same.
 */
START_TEST(test_limits_broken_frame_under_limit)
{
	enum { MAX = 300 };

	for (size_t len = MAX - 3; len <= MAX; len++) {
		struct bytes in = { 0 };
		struct result want = { 0 };

		add_broken_frame(&in, len);
		want_drop(&want, FR_SPLITTER_DROP_INVALID, len);
		size_t at = in.len;
		add_mini_frame(&in, MAX);
		want_frame(&want, in.p + at, in.len - at);
		expect_split(&in, MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/* ---- truncated: the stream ends ---- */

START_TEST(test_truncated_mid_frame)
{
	struct bytes frame = fixture("baseline.jpg");
	/* After SOI, in a marker, in a length, in DQT, where the scan starts (623), in the
	 * scan, before EOI, between EOI's FF and D9. */
	const size_t cuts[] = {
		2, 3, 5, 50, 100, 623, frame.len / 2, frame.len - 2, frame.len - 1,
	};

	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		struct bytes in = { 0 };
		struct result want = { 0 };
		struct result got;

		bytes_add(&in, frame.p, cuts[i]);
		want_drop(&want, FR_SPLITTER_DROP_TRUNCATED, cuts[i]);
		expect_split(&in, BIG_MAX, _i, &want);
		run(&got, in.p, in.len, BIG_MAX, _i, DRIVER_COMPACT);
		ck_assert(got.was_in_frame);
		result_free(&got);
		result_free(&want);
		bytes_free(&in);
	}
	bytes_free(&frame);
}
END_TEST

START_TEST(test_truncated_fixtures)
{
	static const char *const names[] = { "truncated-header.bin", "truncated-scan.bin" };

	for (size_t i = 0; i < 2; i++) {
		struct bytes in = { 0 };
		struct result want = { 0 };

		size_t at = in.len;
		add_fixture(&in, "ffmpeg-frame.jpg");
		want_frame(&want, in.p + at, in.len - at);
		want_drop(&want, FR_SPLITTER_DROP_TRUNCATED, add_fixture(&in, names[i]));
		expect_split(&in, BIG_MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/* Ending in garbage is not a truncation: finish says MORE and counts a trailing FF. */
START_TEST(test_truncated_garbage_end)
{
	static const struct {
		uint8_t bytes[4];
		size_t len;
	} tails[] = { { { 0 }, 0 }, { "abc", 3 }, { { 0xff }, 1 }, { { 0xff, 0xff }, 2 },
		{ { 0xff, 0xd9, 0xff }, 3 } };

	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		struct bytes in = { 0 };
		struct result want = { .garbage_bytes = tails[i].len };
		struct result got;

		add_mini_frame(&in, 40);
		want_frame(&want, in.p, in.len);
		bytes_add(&in, tails[i].bytes, tails[i].len);
		expect_split(&in, BIG_MAX, _i, &want);
		run(&got, in.p, in.len, BIG_MAX, _i, DRIVER_COMPACT);
		ck_assert(!got.was_in_frame);
		result_free(&got);
		result_free(&want);
		bytes_free(&in);
	}

	struct bytes empty = { 0 };
	struct result none = { 0 };
	expect_split_named("empty input", &empty, BIG_MAX, _i, &none);
	result_free(&none);
}
END_TEST

/*
 * A frame over the limit when the stream ends is dropped once, as oversize, with all its
 * bytes; one that has exactly max_frame_bytes is truncated, though it was not being kept.
 */
START_TEST(test_truncated_while_oversize)
{
	enum { MAX = 4096 };
	struct bytes in = { 0 };
	struct result want = { 0 };
	struct result got;

	add_broken_frame(&in, MAX + 100);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, MAX + 100);
	expect_split(&in, MAX, _i, &want);
	run(&got, in.p, in.len, MAX, _i, DRIVER_COMPACT);
	ck_assert(!got.was_in_frame);
	result_free(&got);
	result_free(&want);
	bytes_free(&in);

	for (size_t len = MAX - 1; len <= MAX + 1; len++) {
		add_broken_frame(&in, len);
		want_drop(&want, len > MAX ? FR_SPLITTER_DROP_OVERSIZE : FR_SPLITTER_DROP_TRUNCATED,
		    len);
		expect_split(&in, MAX, _i, &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/* finish resets the splitter: the next stream starts afresh, nothing carries over. */
START_TEST(test_truncated_reuse)
{
	enum { MAX = 16384 };
	struct bytes base = fixture("baseline.jpg");
	struct bytes large = fixture("large-1080p.jpg");
	struct bytes mini = { 0 };
	struct bytes d8_mini = { 0 };

	add_mini_frame(&mini, 40);
	BYTES_ADD(&d8_mini, 0xd8);	/* would make an SOI with the FF that ended stream 3 */
	bytes_add(&d8_mini, mini.p, mini.len);

	const struct {
		const uint8_t *p;
		size_t len;
	} streams[] = {
		{ base.p, 5000 }, { base.p, base.len }, { (const uint8_t *)"q\xff", 2 },
		{ d8_mini.p, d8_mini.len }, { large.p, 30000 }, { mini.p, mini.len },
		{ mini.p, 10 }, { mini.p, mini.len },
	};
	struct result want = { .garbage_bytes = 2 + 1 };

	want_drop(&want, FR_SPLITTER_DROP_TRUNCATED, 5000);
	want_frame(&want, base.p, base.len);
	want_frame(&want, mini.p, mini.len);
	want_drop(&want, FR_SPLITTER_DROP_OVERSIZE, 30000);
	want_frame(&want, mini.p, mini.len);
	want_drop(&want, FR_SPLITTER_DROP_TRUNCATED, 10);
	want_frame(&want, mini.p, mini.len);

	for (enum driver d = 0; d < DRIVERS; d++) {
		struct fr_splitter *sp = fr_splitter_new(MAX);
		struct result got = { 0 };

		ck_assert_ptr_nonnull(sp);
		size_t fed = 0;

		for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
			feed_stream(sp, streams[i].p, streams[i].len, MAX, _i, d, &got);
			fed += streams[i].len;
		}
		got.garbage_bytes = fr_splitter_garbage_bytes(sp);
		ck_assert_uint_le(fr_splitter_bytes_walked(sp), FR_SPLITTER_WALK_BOUND * fed);
		check_result(&got, &want, driver_name(d));
		ck_assert(!fr_splitter_in_frame(sp));
		ck_assert_uint_eq(fr_splitter_keep_from(sp), 0);
		result_free(&got);
		fr_splitter_free(sp);
	}
	result_free(&want);
	bytes_free(&d8_mini);
	bytes_free(&mini);
	bytes_free(&large);
	bytes_free(&base);
}
END_TEST

/* ---- mixed: a stream with a bit of everything ---- */

/*
 * mixed.mjpeg is, per fixtures/generate.sh: junk.bin, ffmpeg-frame.jpg, truncated-scan.bin,
 * baseline.jpg, 00 00, progressive.jpg, truncated-header.bin, exif-thumbnail.jpg,
 * fill-bytes.jpg. mixed.expect names the frames that must come out, in order.
 */
START_TEST(test_mixed_expect)
{
	struct bytes in = fixture("mixed.mjpeg");
	struct bytes expect = fixture("mixed.expect");
	struct result want_frames = { 0 };

	bytes_add(&expect, "", 1);
	for (char *save, *line = strtok_r((char *)expect.p, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (line[0] == '\0' || line[0] == '#')
			continue;
		struct bytes f = fixture(line);
		want_frame(&want_frames, f.p, f.len);
		bytes_free(&f);
	}
	ck_assert_uint_eq(want_frames.n, 5);

	size_t junk = fixture_size("junk.bin"), header = fixture_size("truncated-header.bin");
	size_t scan = fixture_size("truncated-scan.bin");

	for (enum driver d = 0; d < DRIVERS; d++) {
		struct result got;
		struct result frames = { 0 };
		size_t drops = 0;

		run(&got, in.p, in.len, BIG_MAX, _i, d);
		for (size_t i = 0; i < got.n; i++) {
			const struct event *e = &got.ev[i];

			if (e->kind == FR_SPLITTER_FRAME) {
				want_frame(&frames, e->frame, e->frame_len);
				continue;
			}
			/* The cut scan ends at the next SOI; the cut header is its SOI. */
			ck_assert_int_eq(e->reason, FR_SPLITTER_DROP_INVALID);
			ck_assert_uint_eq(e->dropped_bytes, drops == 0 ? scan : 2);
			drops++;
		}
		ck_assert_uint_eq(drops, 2);
		check_result(&frames, &want_frames, driver_name(d));
		/* junk.bin, 00 00, and all of the cut header after its SOI */
		ck_assert_uint_eq(got.garbage_bytes, junk + 2 + header - 2);
		result_free(&frames);
		result_free(&got);
	}
	result_free(&want_frames);
	bytes_free(&expect);
	bytes_free(&in);
}
END_TEST

/* ---- fuzz: random damage, results independent of chunking ---- */

struct fuzz_pool {
	struct bytes f[N_WHOLE + 5];
	size_t n;
};

static void
fuzz_pool_load(struct fuzz_pool *pool)
{
	static const char *const broken[] = {
		"truncated-header.bin", "truncated-scan.bin", "junk.bin", "junk-with-ff.bin",
		"ffmpeg-320x240-10.mjpeg",
	};

	pool->n = 0;
	for (size_t i = 0; i < N_WHOLE; i++)
		pool->f[pool->n++] = fixture(whole_fixtures[i]);
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
		pool->f[pool->n++] = fixture(broken[i]);
}

static void
fuzz_pool_free(struct fuzz_pool *pool)
{
	for (size_t i = 0; i < pool->n; i++)
		bytes_free(&pool->f[i]);
}

/* Appends one random piece: a fixture or a slice of one, a small frame, or marker soup. */
static void
fuzz_piece(struct bytes *in, const struct fuzz_pool *pool, struct test_rng *rng)
{
	static const uint8_t soup[] = { 0xff, 0xd8, 0xd9, 0xda, 0x00, 0xd0, 0xc4, 0xe1, 0x02 };
	const struct bytes *f = &pool->f[test_rng_below(rng, pool->n)];

	size_t kind = test_rng_below(rng, 5);

	/* The big files only in slices, to keep the test fast. */
	if (kind == 0 && f->len > 20000)
		kind = 1;
	switch (kind) {
	case 0:
		bytes_add(in, f->p, f->len);
		break;
	case 1: {
		size_t from = test_rng_below(rng, f->len);
		size_t n = 1 + test_rng_below(rng, f->len - from < 20000 ? f->len - from : 20000);

		bytes_add(in, f->p + from, n);
		break;
	}
	case 2:
		add_mini_frame(in, MINI_MIN + test_rng_below(rng, 400));
		break;
	case 3:
		for (size_t n = test_rng_below(rng, 64); n > 0; n--)
			bytes_add(in, &soup[test_rng_below(rng, sizeof soup)], 1);
		break;
	default:
		for (size_t n = test_rng_below(rng, 64); n > 0; n--) {
			uint8_t b = (uint8_t)test_rng_next(rng);
			bytes_add(in, &b, 1);
		}
		break;
	}
}

/* Overwrites, inserts or deletes a few bytes, biased towards marker bytes. */
static void
fuzz_mutate(struct bytes *in, struct test_rng *rng)
{
	static const uint8_t hot[] = { 0xff, 0xd8, 0xd9, 0xda, 0x00, 0xd3, 0x01, 0xfe };

	if (in->len == 0)
		return;
	size_t at = test_rng_below(rng, in->len);
	switch (test_rng_below(rng, 4)) {
	case 0:
		in->p[at] = hot[test_rng_below(rng, sizeof hot)];
		break;
	case 1:
		in->p[at] = (uint8_t)test_rng_next(rng);
		break;
	case 2: {
		size_t n = 1 + test_rng_below(rng, in->len - at < 64 ? in->len - at : 64);

		memmove(in->p + at, in->p + at + n, in->len - at - n);
		in->len -= n;
		break;
	}
	default: {
		static const uint8_t marker[2][2] = { { 0xff, 0xd8 }, { 0xff, 0xd9 } };

		bytes_add(in, "..", 2);
		memmove(in->p + at + 2, in->p + at, in->len - 2 - at);
		memcpy(in->p + at, marker[test_rng_below(rng, 2)], 2);
		break;
	}
	}
}

/*
 * What holds for any input: frames are whole-looking and within the limit, oversize drops
 * over it; every byte is in exactly one frame, one drop or the garbage.
 */
static void
check_fuzz_invariants(const struct result *r, size_t in_len, size_t max_frame_bytes, int iter)
{
	uint64_t accounted = r->garbage_bytes;

	for (size_t i = 0; i < r->n; i++) {
		const struct event *e = &r->ev[i];

		if (e->kind == FR_SPLITTER_FRAME) {
			REQUIRE(e->frame_len >= 4 && e->frame_len <= max_frame_bytes,
			    "iteration %d: frame %zu has %zu bytes", iter, i, e->frame_len);
			const uint8_t *end = e->frame + e->frame_len - 2;

			REQUIRE(e->frame[0] == 0xff && e->frame[1] == 0xd8 && end[0] == 0xff &&
			    end[1] == 0xd9, "iteration %d: frame %zu is no FF D8..FF D9", iter, i);
			accounted += e->frame_len;
		} else {
			REQUIRE(e->reason != FR_SPLITTER_DROP_OVERSIZE ||
			    e->dropped_bytes > max_frame_bytes,
			    "iteration %d: an oversize drop of %zu bytes", iter, e->dropped_bytes);
			accounted += e->dropped_bytes;
		}
	}
	ck_assert_msg(accounted == in_len,
	    "iteration %d: %" PRIu64 " bytes accounted for, input has %zu", iter, accounted,
	    in_len);
}

START_TEST(test_fuzz_chunking_independent)
{
	static const size_t maxes[] = { BIG_MAX, 20000, 9003, 4096, 300 };
	struct fuzz_pool pool;

	fuzz_pool_load(&pool);
	for (int iter = 0; iter < 200; iter++) {
		struct test_rng rng;
		struct bytes in = { 0 };

		/* Seeded by the iteration only, so every chunking sees the same inputs. */
		test_rng_init(&rng, 0x5eed0000u + (uint64_t)iter);
		for (size_t n = 1 + test_rng_below(&rng, 6); n > 0; n--)
			fuzz_piece(&in, &pool, &rng);
		for (size_t n = test_rng_below(&rng, 6); n > 0; n--)
			fuzz_mutate(&in, &rng);
		size_t max = maxes[test_rng_below(&rng, sizeof maxes / sizeof maxes[0])];

		struct result whole;
		run(&whole, in.p, in.len, max, CHUNKING_WHOLE, DRIVER_KEEP_ALL);
		check_fuzz_invariants(&whole, in.len, max, iter);
		for (enum driver d = 0; d < DRIVERS; d++) {
			struct result got;
			char what[128];

			snprintf(what, sizeof what, "iteration %d, %s chunks, %s", iter,
			    chunking_name((enum chunking)_i), driver_name(d));
			run(&got, in.p, in.len, max, _i, d);
			check_result(&got, &whole, what);
			result_free(&got);
		}
		result_free(&whole);
		bytes_free(&in);
	}
	fuzz_pool_free(&pool);
}
END_TEST

/* ---- hostile: inputs built to make the splitter work hard; the work stays linear ---- */

/* Larger than every input here, as --max-frame-size 16M is in hostile_split.sh, so that
 * a whole nest is one candidate frame. */
enum { HOSTILE_MAX = 16 << 20 };

/* Each pattern is built up to at least each of these sizes. */
static const size_t hostile_sizes[] = { 100, 5000, 70000, (1 << 20) + 10 };
enum { N_HOSTILE_SIZES = sizeof hostile_sizes / sizeof hostile_sizes[0] };

/*
 * Where the walk resumes after the frame whose SOI is at s is found broken just before
 * fail_at, when no walk has been past s + 2 before: after its SOI, but at most
 * FR_SPLITTER_RESCAN_MAX bytes back (splitter.h).
 */
static size_t
resume_at(size_t s, size_t fail_at)
{
	size_t from = s + 2;

	if (fail_at - from > FR_SPLITTER_RESCAN_MAX)
		from = fail_at - FR_SPLITTER_RESCAN_MAX;
	return from;
}

/* The first byte that is not dropped with that frame: an FF just before a capped resume
 * point may begin an SOI, so it is looked at again. */
static size_t
first_kept(const struct bytes *in, size_t s, size_t fail_at)
{
	size_t from = resume_at(s, fail_at);

	return from > s + 2 && in->p[from - 1] == 0xff ? from - 1 : from;
}

/* The offset of the first FF D8 at or after at, or in->len. */
static size_t
next_soi(const struct bytes *in, size_t at)
{
	for (; at + 1 < in->len; at++)
		if (in->p[at] == 0xff && in->p[at + 1] == 0xd8)
			return at;
	return in->len;
}

/*
 * A nest: the walk from the SOI at 0 runs to the end and fails there, and so does the walk
 * from the first SOI the rescan finds; a third would start where two have been.
 */
static void
want_nest(const struct bytes *in, struct result *want)
{
	size_t kept = first_kept(in, 0, in->len);
	size_t soi = next_soi(in, kept);

	want_drop(want, FR_SPLITTER_DROP_INVALID, kept);
	want_drop(want, FR_SPLITTER_DROP_INVALID, in->len - soi);
	want->garbage_bytes = soi - kept;
}

/* One broken frame from 0 to the end with no SOI after its own: the rest is garbage. */
static void
want_broken_then_garbage(const struct bytes *in, struct result *want)
{
	size_t kept = first_kept(in, 0, in->len);

	want_drop(want, FR_SPLITTER_DROP_INVALID, kept);
	want->garbage_bytes = in->len - kept;
}

/* Appends units until in holds at least n bytes, leaving room for tail more. */
static void
repeat_until(struct bytes *in, const uint8_t *unit, size_t unit_len, size_t n, size_t tail)
{
	do
		bytes_add(in, unit, unit_len);
	while (in->len + tail < n);
}

/* The input: FF D8, then COM segments whose payload is an SOI, then a byte that is
 * no marker. Up to 1 MiB the rescan starts after the first SOI, and the walk from the
 * SOI in the first payload runs to the end; beyond, it starts 1 MiB before the end. */
static void
hostile_nested_com(struct bytes *in, struct result *want, size_t n)
{
	static const uint8_t unit[] = { 0xff, 0xfe, 0x00, 0x04, 0xff, 0xd8 };

	BYTES_ADD(in, 0xff, 0xd8);
	repeat_until(in, unit, sizeof unit, n, 1);
	BYTES_ADD(in, 0x00);
	want_nest(in, want);
}

/* The same through every APPn, each payload an Exif header and an SOI. */
static void
hostile_nested_app(struct bytes *in, struct result *want, size_t n)
{
	uint8_t unit[] = { 0xff, 0xe0, 0x00, 0x0a, 'E', 'x', 'i', 'f', 0, 0, 0xff, 0xd8 };

	BYTES_ADD(in, 0xff, 0xd8);
	for (uint8_t app = 0; in->len + 1 < n || app == 0; app++) {
		unit[1] = (uint8_t)(0xe0 | (app & 15));
		bytes_add(in, unit, sizeof unit);
	}
	BYTES_ADD(in, 0x00);
	want_nest(in, want);
}

/* SOS segments whose payload is an SOI, a long scan, and a reserved marker at the end. */
static void
hostile_nested_sos(struct bytes *in, struct result *want, size_t n)
{
	static const uint8_t unit[] = { 0xff, 0xda, 0x00, 0x04, 0xff, 0xd8 };

	BYTES_ADD(in, 0xff, 0xd8);
	repeat_until(in, unit, sizeof unit, n / 2, 0);
	bytes_fill(in, 0x11, n / 2);
	BYTES_ADD(in, 0xff, 0x02);
	want_nest(in, want);
}

/* A nest that ends inside a segment: one walk, one truncated frame. */
static void
hostile_nested_truncated(struct bytes *in, struct result *want, size_t n)
{
	static const uint8_t unit[] = { 0xff, 0xfe, 0x00, 0x04, 0xff, 0xd8 };

	BYTES_ADD(in, 0xff, 0xd8);
	repeat_until(in, unit, sizeof unit, n, 6);
	BYTES_ADD(in, 0xff, 0xfe, 0x00, 0x05, 0xff, 0xd8);	/* one byte short */
	want_drop(want, FR_SPLITTER_DROP_TRUNCATED, in->len);
}

/*
 * COM segments of the largest length, FF FE FF FF, each right after an SOI: every walk
 * skips 65533 bytes over a dozen thousand other SOIs and lands on a D8 where FF is due.
 * With s = 0, 65544, 2 * 65544...: the walks from s and s + 6 fail; the next pass
 * starts where the first of them ended, s + 65540, 4 bytes of garbage before the next s.
 */
static void
hostile_long_segments(struct bytes *in, struct result *want, size_t n)
{
	static const uint8_t unit[] = { 0xff, 0xd8, 0xff, 0xfe, 0xff, 0xff };
	enum { LAND = 6 + 65533 + 1, STRIDE = LAND + 4 };

	repeat_until(in, unit, sizeof unit, n, 0);
	for (size_t s = 0;; s += STRIDE) {
		if (s + LAND > in->len) {
			want_drop(want, FR_SPLITTER_DROP_TRUNCATED, in->len - s);
			break;
		}
		want_drop(want, FR_SPLITTER_DROP_INVALID, 2);
		want->garbage_bytes += 4;
		if (s + 6 + LAND > in->len) {
			want_drop(want, FR_SPLITTER_DROP_TRUNCATED, in->len - s - 6);
			break;
		}
		want_drop(want, FR_SPLITTER_DROP_INVALID, LAND - 6);
		want->garbage_bytes += 4;
	}
}

/* Fill bytes where a marker is due, then a byte that is none. */
static void
hostile_fill_header(struct bytes *in, struct result *want, size_t n)
{
	BYTES_ADD(in, 0xff, 0xd8);
	bytes_fill(in, 0xff, n > 3 ? n - 3 : 1);
	BYTES_ADD(in, 0x00);
	want_broken_then_garbage(in, want);
}

/* Fill bytes in entropy data (T.81 B.1.1.2): one valid frame. */
static void
hostile_fill_scan(struct bytes *in, struct result *want, size_t n)
{
	BYTES_ADD(in, 0xff, 0xd8);
	bytes_add(in, sos_segment, sizeof sos_segment);
	bytes_fill(in, 0xff, n);
	BYTES_ADD(in, 0xd9);
	want_frame(want, in->p, in->len);
}

/* Fill bytes alone: garbage, the trailing lone FF counted when the stream ends. */
static void
hostile_fill_garbage(struct bytes *in, struct result *want, size_t n)
{
	bytes_fill(in, 0xff, n);
	want->garbage_bytes = n;
}

/* Every RSTn, back to back, in a scan: one valid frame. */
static void
hostile_rst_scan(struct bytes *in, struct result *want, size_t n)
{
	BYTES_ADD(in, 0xff, 0xd8);
	bytes_add(in, sos_segment, sizeof sos_segment);
	for (uint8_t i = 0; in->len + 2 < n || i == 0; i++)
		BYTES_ADD(in, 0xff, (uint8_t)(0xd0 | (i & 7)));
	BYTES_ADD(in, 0xff, 0xd9);
	want_frame(want, in->p, in->len);
}

/* SOI and a marker that cannot follow it, over and over: each frame is dropped with its
 * SOI, the marker is garbage. */
static void
soi_then(uint8_t marker, struct bytes *in, struct result *want, size_t n)
{
	const uint8_t unit[] = { 0xff, 0xd8, 0xff, marker };

	repeat_until(in, unit, sizeof unit, n, 0);
	for (size_t i = 0; i < in->len / sizeof unit; i++)
		want_drop(want, FR_SPLITTER_DROP_INVALID, 2);
	want->garbage_bytes = in->len / 2;
}

/* An RST where a marker is due, after every SOI. */
static void
hostile_rst_header(struct bytes *in, struct result *want, size_t n)
{
	soi_then(0xd0, in, want, n);
}

/* SOI EOI SOI EOI...: frames without a scan. */
static void
hostile_soi_eoi(struct bytes *in, struct result *want, size_t n)
{
	soi_then(0xd9, in, want, n);
}

/* SOI SOI SOI...: each ends the frame before it; the last one is cut off. */
static void
hostile_soi_soi(struct bytes *in, struct result *want, size_t n)
{
	static const uint8_t unit[] = { 0xff, 0xd8 };

	repeat_until(in, unit, sizeof unit, n, 0);
	for (size_t i = 1; i < in->len / 2; i++)
		want_drop(want, FR_SPLITTER_DROP_INVALID, 2);
	want_drop(want, FR_SPLITTER_DROP_TRUNCATED, 2);
}

/* A long scan that ends in a reserved marker: after its SOI, up to 1 MiB before the end,
 * it is walked again, as garbage; the rest is dropped with it. */
static void
hostile_scan_bad_marker(struct bytes *in, struct result *want, size_t n)
{
	BYTES_ADD(in, 0xff, 0xd8);
	bytes_add(in, sos_segment, sizeof sos_segment);
	bytes_fill(in, 0x11, n);
	BYTES_ADD(in, 0xff, 0x02);
	want_broken_then_garbage(in, want);
}

static const struct hostile {
	const char *name;
	/* Appends the pattern, at least n bytes, to in, and what it must give to want. */
	void (*build)(struct bytes *in, struct result *want, size_t n);
} hostiles[] = {
	{ "nested SOI in COM", hostile_nested_com },
	{ "nested SOI in APPn", hostile_nested_app },
	{ "nested SOI in SOS, bad marker", hostile_nested_sos },
	{ "nested SOI, truncated", hostile_nested_truncated },
	{ "long segments over SOIs", hostile_long_segments },
	{ "fill bytes in a header", hostile_fill_header },
	{ "fill bytes in a scan", hostile_fill_scan },
	{ "fill bytes alone", hostile_fill_garbage },
	{ "RST flood in a scan", hostile_rst_scan },
	{ "RST after SOI", hostile_rst_header },
	{ "SOI EOI SOI EOI", hostile_soi_eoi },
	{ "SOI SOI SOI", hostile_soi_soi },
	{ "long scan, bad marker", hostile_scan_bad_marker },
};
enum { N_HOSTILE = sizeof hostiles / sizeof hostiles[0] };

/* Each pattern at each size gives exactly what it should, at every chunking, with every
 * driver; run() asserts the work bound on each of those runs. */
START_TEST(test_hostile_exact)
{
	for (size_t h = 0; h < N_HOSTILE; h++) {
		for (size_t z = 0; z < N_HOSTILE_SIZES; z++) {
			struct bytes in = { 0 };
			struct result want = { 0 };
			char what[128];

			hostiles[h].build(&in, &want, hostile_sizes[z]);
			ck_assert_uint_ge(in.len, hostile_sizes[z]);
			snprintf(what, sizeof what, "%s, %zu bytes", hostiles[h].name, in.len);
			if (z < N_HOSTILE_SIZES - 1) {
				expect_split_named(what, &in, HOSTILE_MAX, _i, &want);
			} else {
				/* The largest only as the ingest drives it, to keep this quick
				 * under valgrind: the drivers differ in nothing the size adds. */
				struct result got;

				run(&got, in.p, in.len, HOSTILE_MAX, _i, DRIVER_COMPACT);
				check_result(&got, &want, what);
				result_free(&got);
			}
			result_free(&want);
			bytes_free(&in);
		}
	}
}
END_TEST

/* The nest of the issue: the first walk covers it, the second from where it resumes. */
START_TEST(test_hostile_walked_exact)
{
	for (size_t z = 0; z < N_HOSTILE_SIZES; z++) {
		struct bytes in = { 0 };
		struct result want = { 0 };
		struct result got;

		hostile_nested_com(&in, &want, hostile_sizes[z]);
		run(&got, in.p, in.len, HOSTILE_MAX, _i, DRIVER_COMPACT);
		ck_assert_uint_eq(got.walked, 2 * (uint64_t)in.len - resume_at(0, in.len));
		result_free(&got);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/*
 * A frame of hand-built length len, broken at its last byte: SOI, COM segments of 'p', a
 * 'z' where a marker is due. Inside the first payload, at hidden, a whole small frame
 * (SOI, SOS, scan, EOI) that its walk steps over.
 */
static size_t
add_frame_hiding_one(struct bytes *in, size_t len, size_t hidden)
{
	size_t at = in->len;

	bytes_fill(in, 'p', len);
	uint8_t *p = in->p + at;
	p[0] = 0xff, p[1] = 0xd8;
	for (size_t pos = 2; pos < len - 1;) {
		size_t seg = len - 1 - pos;	/* the marker's 2 bytes and the length's */

		if (seg > 2 + 0xffff)
			seg = seg - (2 + 0xffff) < 4 ? 2 + 0xfff0 : 2 + 0xffff;
		p[pos] = 0xff, p[pos + 1] = 0xfe;
		p[pos + 2] = (uint8_t)((seg - 2) >> 8), p[pos + 3] = (uint8_t)(seg - 2);
		pos += seg;
	}
	p[len - 1] = 'z';
	size_t n = 0;
	p[hidden + n++] = 0xff, p[hidden + n++] = 0xd8;
	memcpy(p + hidden + n, sos_segment, sizeof sos_segment), n += sizeof sos_segment;
	memcpy(p + hidden + n, scan_data, sizeof scan_data), n += sizeof scan_data;
	memcpy(p + hidden + n, eoi_with_fill, sizeof eoi_with_fill), n += sizeof eoi_with_fill;
	ck_assert_uint_ge(hidden, 6);
	ck_assert_uint_le(hidden + n, 2 + 4 + 0xfff0 - 2);	/* within the first payload */
	return n;
}

/*
 * The rescan after a broken frame reaches back FR_SPLITTER_RESCAN_MAX bytes from where the
 * frame broke, and no further: a frame hidden in it just within is found (also when only
 * its FF is before that point), one just beyond is dropped with it.
 */
START_TEST(test_hostile_rescan_reach)
{
	enum { HIDDEN = 100 };
	const struct {
		size_t len;
		bool is_found;
	} cases[] = {
		{ HIDDEN + FR_SPLITTER_RESCAN_MAX, true },	/* starts at its SOI */
		{ HIDDEN + FR_SPLITTER_RESCAN_MAX + 1, true },	/* on its D8: the FF is seen */
		{ HIDDEN + FR_SPLITTER_RESCAN_MAX + 2, false },	/* after its SOI */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct bytes in = { 0 };
		struct result want = { 0 };
		size_t len = cases[i].len;
		size_t n = add_frame_hiding_one(&in, len, HIDDEN);

		ck_assert_uint_eq(next_soi(&in, HIDDEN + 2), len);
		ck_assert_uint_eq(resume_at(0, len), len - FR_SPLITTER_RESCAN_MAX);
		if (cases[i].is_found) {
			want_drop(&want, FR_SPLITTER_DROP_INVALID, HIDDEN);
			want_frame(&want, in.p + HIDDEN, n);
			want.garbage_bytes = len - HIDDEN - n;
		} else {
			want_drop(&want, FR_SPLITTER_DROP_INVALID, HIDDEN + 2);
			want.garbage_bytes = len - HIDDEN - 2;
		}
		expect_split_named(cases[i].is_found ? "found" : "lost", &in, HOSTILE_MAX, _i,
		    &want);
		result_free(&want);
		bytes_free(&in);
	}
}
END_TEST

/*
 * Under a small limit: a nest is one oversize frame, walked once. Whatever comes out must
 * be the same at every chunking and account for every byte.
 */
START_TEST(test_hostile_small_limit)
{
	enum { MAX = 4096 };

	for (size_t h = 0; h < N_HOSTILE; h++) {
		struct bytes in = { 0 };
		struct result ignored = { 0 };
		struct result want;

		hostiles[h].build(&in, &ignored, hostile_sizes[N_HOSTILE_SIZES - 2]);
		run(&want, in.p, in.len, MAX, CHUNKING_WHOLE, DRIVER_KEEP_ALL);
		check_fuzz_invariants(&want, in.len, MAX, (int)h);
		expect_split_named(hostiles[h].name, &in, MAX, _i, &want);
		result_free(&want);
		result_free(&ignored);
		bytes_free(&in);
	}
}
END_TEST

/* ---- the suite ---- */

static Suite *
splitter_suite(void)
{
	Suite *s = suite_create("splitter");

	chunked_tcase(s, "markers", FR_TESTS(test_markers_each_fixture, test_markers_back_to_back,
	    test_markers_with_junk_between, test_markers_ffmpeg_stream, test_markers_synthetic));

	chunked_tcase(s, "resync", FR_TESTS(test_resync_leading_garbage, test_resync_lone_ff,
	    test_resync_ff_ff_d8, test_resync_junk_only, test_resync_truncated_header_fixture,
	    test_resync_truncated_header_synthetic, test_resync_truncated_scan_fixture,
	    test_resync_truncated_scan_synthetic, test_resync_invalid_header,
	    test_resync_soi_in_header, test_resync_rescan_after_invalid));

	chunked_tcase(s, "limits", FR_TESTS(test_limits_exact_size_passes,
	    test_limits_one_over_dropped, test_limits_oversize_then_soi,
	    test_limits_oversize_then_invalid, test_limits_fixtures, test_limits_buffer_bounded,
	    test_limits_unbounded, test_limits_broken_frame_under_limit));

	chunked_tcase(s, "truncated", FR_TESTS(test_truncated_mid_frame, test_truncated_fixtures,
	    test_truncated_garbage_end, test_truncated_while_oversize, test_truncated_reuse));

	chunked_tcase(s, "mixed", FR_TESTS(test_mixed_expect));

	chunked_tcase(s, "hostile", FR_TESTS(test_hostile_exact, test_hostile_walked_exact,
	    test_hostile_rescan_reach, test_hostile_small_limit));

	chunked_tcase(s, "fuzz", FR_TESTS(test_fuzz_chunking_independent));
	return s;
}

int
main(void)
{
	return fr_run_suite(splitter_suite());
}
