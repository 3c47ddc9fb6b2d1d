/* SPDX-License-Identifier: MIT */
/*
 * Scaled frames: what a subscriber asks for (?scale=, ?q=, listen-scale=) and the
 * work of making one with libjpeg-turbo: a DCT-scaled decode to planar YUV (no
 * colour conversion, the source's chroma subsampling kept) and a baseline re-encode
 * at the source's estimated quality (quality.h) or the one asked for. The source's
 * COM segments (frame tags, timestamps) are copied right after the new SOI; APPn
 * segments are not (an EXIF block would describe the full-size picture).
 * No libev, no logging, no shared state: a scaler belongs to one thread.
 */
#ifndef FR_SCALER_H
#define FR_SCALER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a subscriber asked for. */
struct fr_scale_spec {
	unsigned denom;		/* 1, 2, 4 or 8: width and height are divided by it */
	int quality;		/* 1-100, or 0: the source frame's own (estimated) */
	bool is_auto;		/* ?scale=auto: the size follows the subscriber's rate */
};

/* Text of a spec: "1/2", "1/4,q=40", "auto", "1/1,q=30"; at most this long. */
#define FR_SCALE_SPEC_TEXT_LEN 24

/* True when the spec asks for nothing but the source frames as they are. */
static inline bool
fr_scale_spec_is_plain(const struct fr_scale_spec *s)
{
	return !s->is_auto && s->denom <= 1 && s->quality == 0;	/* 0: never set */
}

/*
 * Parses ?scale= (scale: "1/2", "1/4", "1/8", "1/1", "1" or "auto"; NULL when absent)
 * and ?q= (q: a whole number 1-100; NULL when absent) into s. Returns 0, or -1 with
 * one line in err (FR_ERR_LEN bytes) saying what is accepted.
 */
int fr_scale_spec_parse(struct fr_scale_spec *s, const char *scale, const char *q, char *err);

/* "1/2", "auto,q=50", … into buf (FR_SCALE_SPEC_TEXT_LEN bytes). */
void fr_scale_spec_format(const struct fr_scale_spec *s, char *buf, size_t len);

/* True when the build has libjpeg-turbo, so frames can be scaled. */
bool fr_scaler_is_available(void);

struct fr_scaler;

/* A scaler with its own decoder and encoder. NULL with err set (no libjpeg-turbo,
 * ENOMEM). */
struct fr_scaler *fr_scaler_new(char *err);

/* NULL does nothing. */
void fr_scaler_free(struct fr_scaler *sc);

/* A scaled frame: data is malloc()ed and the caller's to free. */
struct fr_scaled {
	uint8_t *data;
	size_t len;
	int width, height;
	int quality;		/* the quality it was encoded at */
};

/*
 * Scales the whole JPEG jpeg[0, len) down by denom (1, 2, 4 or 8; each side becomes
 * ceil(side / denom)) and encodes it at quality (0: the source's estimate). Returns 0
 * with out filled, or -1 with the decoder's or encoder's complaint in err (FR_ERR_LEN
 * bytes): a frame that does not decode, CMYK, a subsampling libjpeg-turbo cannot
 * keep, ENOMEM. Decoder warnings (a few bytes of junk after the scan) are no error.
 */
int fr_scaler_scale(struct fr_scaler *sc, const uint8_t *jpeg, size_t len, unsigned denom,
    int quality, struct fr_scaled *out, char *err);

#endif /* FR_SCALER_H */
