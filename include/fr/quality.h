/* SPDX-License-Identifier: MIT */
/*
 * The quality a JPEG was encoded at, estimated from its quantization tables: the
 * IJG quality (1-100, as cjpeg, libjpeg-turbo and most cameras use it) whose scaled
 * standard tables are closest to the frame's. Used to re-encode a scaled frame at
 * its source's quality. Pure: bytes in, a number out.
 */
#ifndef FR_QUALITY_H
#define FR_QUALITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the estimate falls back to when a frame carries no usable table. */
#define FR_QUALITY_DEFAULT 75

/* The tables a frame's first two components use, in natural (row-major) order. */
struct fr_quality_tables {
	uint16_t luma[64];
	uint16_t chroma[64];
	bool has_luma;
	bool has_chroma;	/* false for grayscale, or when chroma shares luma's table */
};

/*
 * Reads the DQT segments of the JPEG in jpeg[0, len) up to its first scan and picks
 * the tables its frame header (SOF) assigns to the first component (luma) and the
 * second (chroma). Returns 0, or -1 when the marker structure is broken before the
 * first scan or no table is defined for luma.
 */
int fr_quality_read_tables(const uint8_t *jpeg, size_t len, struct fr_quality_tables *t);

/*
 * The table libjpeg's jpeg_set_quality(quality, force_baseline=TRUE) makes from the
 * T.81 Annex K standard table (K.1 luminance, K.2 chrominance), in natural order.
 * quality is clamped to 1-100.
 */
void fr_quality_ijg_table(int quality, bool is_chroma, uint16_t out[64]);

/*
 * The IJG quality (1-100) whose tables are closest to t's, by the summed ratio of
 * each entry to the one expected (so a table off by a factor counts the same for
 * small and large entries); of equally close ones, the highest. Exact for frames an
 * IJG-derived encoder made; the nearest match for others (ffmpeg, cameras).
 */
int fr_quality_from_tables(const struct fr_quality_tables *t);

/* fr_quality_read_tables, then fr_quality_from_tables; FR_QUALITY_DEFAULT when the
 * tables cannot be read. Sets *is_estimated (if not NULL) to whether they could. */
int fr_quality_estimate(const uint8_t *jpeg, size_t len, bool *is_estimated);

#endif /* FR_QUALITY_H */
