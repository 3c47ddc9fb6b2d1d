/* SPDX-License-Identifier: MIT */
/*
 * Quality estimation: walk the header segments up to the first scan (jpeghdr.c),
 * collect the DQT tables and the SOF's table selectors, and find the IJG quality
 * whose scaled standard tables match them best. Nothing here allocates.
 */
#include <string.h>

#include "fr/jpeghdr.h"
#include "fr/quality.h"

/* T.81 Annex K, Table K.1: luminance quantization table, natural order. */
static const uint8_t std_luma[64] = {
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
};

/* T.81 Annex K, Table K.2: chrominance quantization table, natural order. */
static const uint8_t std_chroma[64] = {
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
};

/* T.81 Figure A.6: the k-th coefficient of the zig-zag sequence (the order DQT stores
 * its entries in) sits at this natural-order position. */
static const uint8_t zigzag_to_natural[64] = {
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
};

enum { MAX_TABLES = 4 };	/* Tq is 0-3 (T.81 B.2.4.1) */

struct walk {
	uint16_t tables[MAX_TABLES][64];
	bool is_defined[MAX_TABLES];
	int selector[2];		/* Tq of the first two components; -1: none */
};

/* T.81 B.2.4.1: one or more tables, each Pq/Tq then 64 entries of 8 or 16 bits. */
static int
read_dqt(struct walk *w, const uint8_t *p, size_t len)
{
	while (len > 0) {
		unsigned pq = p[0] >> 4, tq = p[0] & 15;
		size_t n = pq == 0 ? 64 : 128;

		if (pq > 1 || tq >= MAX_TABLES || len < 1 + n)
			return -1;
		for (size_t k = 0; k < 64; k++) {
			uint16_t v = pq == 0 ? p[1 + k] :
			    (uint16_t)(p[1 + 2 * k] << 8 | p[2 + 2 * k]);

			if (v == 0)	/* a zero divisor is no table */
				return -1;
			w->tables[tq][zigzag_to_natural[k]] = v;
		}
		w->is_defined[tq] = true;
		p += 1 + n;
		len -= 1 + n;
	}
	return 0;
}

/* T.81 B.2.2: P, Y, X, Nf, then Nf times C, H/V, Tq. */
static int
read_sof(struct walk *w, const uint8_t *p, size_t len)
{
	if (len < 6)
		return -1;
	unsigned nf = p[5];
	if (nf == 0 || len < 6 + 3 * (size_t)nf)
		return -1;
	for (unsigned i = 0; i < nf && i < 2; i++) {
		unsigned tq = p[6 + 3 * i + 2];

		if (tq >= MAX_TABLES)
			return -1;
		w->selector[i] = (int)tq;
	}
	return 0;
}

static int
on_segment(uint8_t marker, const uint8_t *seg, size_t seg_len, void *arg)
{
	struct walk *w = arg;

	if (marker == 0xDB)
		return read_dqt(w, seg + 4, seg_len - 4);
	if (fr_jpeghdr_is_sof(marker))
		return read_sof(w, seg + 4, seg_len - 4);
	return 0;
}

int
fr_quality_read_tables(const uint8_t *jpeg, size_t len, struct fr_quality_tables *t)
{
	struct walk w = { .selector = { -1, -1 } };

	memset(t, 0, sizeof *t);
	if (fr_jpeghdr_walk(jpeg, len, on_segment, &w) < 0)
		return -1;
	/* Without an SOF (a truncated header), tables 0 and 1 are the usual choice. */
	int luma = w.selector[0] >= 0 ? w.selector[0] : 0;
	int chroma = w.selector[0] >= 0 ? w.selector[1] : 1;
	if (!w.is_defined[luma])
		return -1;
	memcpy(t->luma, w.tables[luma], sizeof t->luma);
	t->has_luma = true;
	if (chroma >= 0 && chroma != luma && w.is_defined[chroma]) {
		memcpy(t->chroma, w.tables[chroma], sizeof t->chroma);
		t->has_chroma = true;
	}
	return 0;
}

void
fr_quality_ijg_table(int quality, bool is_chroma, uint16_t out[64])
{
	const uint8_t *std = is_chroma ? std_chroma : std_luma;

	if (quality < 1)
		quality = 1;
	if (quality > 100)
		quality = 100;
	/* libjpeg jcparam.c: quality 50 is the standard table; below, the table is
	 * multiplied by 50/quality, above by (100 - quality)/50, in percent. */
	long scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
	for (size_t i = 0; i < 64; i++) {
		long v = (std[i] * scale + 50) / 100;

		/* Entries are at least 1, and at most 255 for baseline JPEG. */
		out[i] = (uint16_t)(v < 1 ? 1 : v > 255 ? 255 : v);
	}
}

/* How far a table is from the expected one: the sum over entries of the larger
 * divided by the smaller, minus one. 0 for an exact match. */
static double
distance(const uint16_t *have, const uint16_t *expect)
{
	double d = 0;

	for (size_t i = 0; i < 64; i++) {
		double a = have[i], e = expect[i];

		d += (a > e ? a / e : e / a) - 1.0;
	}
	return d;
}

int
fr_quality_from_tables(const struct fr_quality_tables *t)
{
	int best = FR_QUALITY_DEFAULT;
	double best_d = -1;

	for (int q = 1; q <= 100; q++) {
		uint16_t expect[64];
		double d;

		fr_quality_ijg_table(q, false, expect);
		d = distance(t->luma, expect);
		if (t->has_chroma) {
			fr_quality_ijg_table(q, true, expect);
			d += distance(t->chroma, expect);
		}
		if (best_d < 0 || d <= best_d) {	/* <=: of ties, the higher quality */
			best = q;
			best_d = d;
		}
	}
	return best;
}

int
fr_quality_estimate(const uint8_t *jpeg, size_t len, bool *is_estimated)
{
	struct fr_quality_tables t;
	bool ok = fr_quality_read_tables(jpeg, len, &t) == 0;

	if (is_estimated != NULL)
		*is_estimated = ok;
	return ok ? fr_quality_from_tables(&t) : FR_QUALITY_DEFAULT;
}
