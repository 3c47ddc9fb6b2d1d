/* SPDX-License-Identifier: MIT */
/*
 * The header walk: a marker is FF, any number of FF fill bytes (T.81 B.1.1.2), and
 * the marker byte; TEM and RSTn stand alone, every other segment up to SOS carries
 * a 16-bit length that counts its own two bytes (B.1.1.4).
 */
#include "fr/jpeghdr.h"

int
fr_jpeghdr_walk(const uint8_t *p, size_t len, fr_jpeghdr_segment_fn fn, void *arg)
{
	size_t i = 2;

	if (len < 2 || p[0] != 0xFF || p[1] != 0xD8)
		return -1;
	while (i < len) {
		if (p[i] != 0xFF)
			return -1;
		while (i < len && p[i] == 0xFF)
			i++;
		if (i == len)
			break;
		size_t at = i - 1;	/* the FF right before the marker byte */
		uint8_t m = p[i++];
		if (m == 0xDA || m == 0xD9)
			break;
		if (m == 0x01 || (m >= 0xD0 && m <= 0xD7))
			continue;
		if (m == 0x00 || m == 0xD8 || len - i < 2)
			return -1;
		size_t seg = (size_t)p[i] << 8 | p[i + 1];
		if (seg < 2 || len - i < seg)
			return -1;
		if (fn(m, p + at, seg + 2, arg) < 0)
			return -1;
		i += seg;
	}
	return 0;
}
