/* SPDX-License-Identifier: MIT */
/*
 * The header segments of a whole JPEG, from SOI to its first scan (T.81 B.2):
 * one walk shared by what reads them (quantization tables, comments). The
 * entropy-coded data is never looked at. Pure: bytes in, callbacks out.
 */
#ifndef FR_JPEGHDR_H
#define FR_JPEGHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Called for each marker segment with a length, in order: marker is the byte after
 * FF, seg points at the marker's FF and seg_len covers marker, length and payload
 * (payload = seg + 4, seg_len - 4 bytes). Returns 0 to go on, -1 to stop the walk
 * with an error.
 */
typedef int (*fr_jpeghdr_segment_fn)(uint8_t marker, const uint8_t *seg, size_t seg_len,
    void *arg);

/* True for the frame header markers SOF0-SOF15 (T.81 Table B.1): C0-CF but DHT (C4),
 * JPG (C8) and DAC (CC). */
static inline bool
fr_jpeghdr_is_sof(uint8_t marker)
{
	return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
	    marker != 0xCC;
}

/*
 * Walks jpeg[0, len) from its SOI to its first SOS (which is not reported), EOI or
 * the end of the bytes, skipping fill bytes and the markers without a length.
 * Returns 0, or -1 when there is no SOI, the structure is broken (a byte where a
 * marker must be, a length past the end, FF 00 or a second SOI) or fn said -1.
 */
int fr_jpeghdr_walk(const uint8_t *jpeg, size_t len, fr_jpeghdr_segment_fn fn, void *arg);

#endif /* FR_JPEGHDR_H */
