/* SPDX-License-Identifier: MIT */
/*
 * The scaler: TurboJPEG's tjDecompressToYUV2() with a smaller target size makes
 * libjpeg scale in the inverse DCT (1/2, 1/4, 1/8 cost less than a full decode), and
 * tjCompressFromYUV() encodes those planes with the same subsampling. Its buffers
 * grow to the largest frame seen and are reused; the result is one exact-size copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fr/jpeghdr.h"
#include "fr/quality.h"
#include "fr/scaler.h"
#include "fr/util.h"

/* ---- specs ---- */

static int
parse_denom(const char *scale, struct fr_scale_spec *s)
{
	static const struct {
		const char *text;
		unsigned denom;
	} sizes[] = {
		{ "1", 1 }, { "1/1", 1 }, { "1/2", 2 }, { "1/4", 4 }, { "1/8", 8 },
	};

	if (strcmp(scale, "auto") == 0) {
		s->is_auto = true;
		s->denom = 1;	/* where an auto subscriber starts */
		return 0;
	}
	for (size_t i = 0; i < FR_ARRAY_LEN(sizes); i++) {
		if (strcmp(scale, sizes[i].text) == 0) {
			s->denom = sizes[i].denom;
			return 0;
		}
	}
	return -1;
}

int
fr_scale_spec_parse(struct fr_scale_spec *s, const char *scale, const char *q, char *err)
{
	*s = (struct fr_scale_spec){ .denom = 1 };
	if (scale != NULL && parse_denom(scale, s) < 0) {
		snprintf(err, FR_ERR_LEN, "scale must be 1/2, 1/4, 1/8, 1/1 or auto");
		return -1;
	}
	if (q == NULL)
		return 0;
	int v = 0;
	size_t n = strspn(q, "0123456789");
	if (n == 0 || n > 3 || q[n] != '\0' || (v = atoi(q)) < 1 || v > 100) {
		snprintf(err, FR_ERR_LEN, "q must be a whole number from 1 to 100");
		return -1;
	}
	s->quality = v;
	return 0;
}

void
fr_scale_spec_format(const struct fr_scale_spec *s, char *buf, size_t len)
{
	int n = s->is_auto ? snprintf(buf, len, "auto") : snprintf(buf, len, "1/%u", s->denom);

	if (s->quality > 0 && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ",q=%d", s->quality);
}

#ifdef HAVE_TURBOJPEG
#include <turbojpeg.h>

/* ---- COM segments ---- */

struct coms {
	uint8_t *to;		/* NULL: only count */
	size_t len;
	bool has_sof;
};

static int
on_segment(uint8_t marker, const uint8_t *seg, size_t seg_len, void *arg)
{
	struct coms *c = arg;

	if (fr_jpeghdr_is_sof(marker))
		c->has_sof = true;
	if (marker != 0xFE)
		return 0;
	if (c->to != NULL)
		memcpy(c->to + c->len, seg, seg_len);
	c->len += seg_len;
	return 0;
}

/* Bytes of the COM segments before the first scan; with to, copies them there. A
 * header that does not walk has none (the decoder judges the frame). */
static size_t
copy_coms(const uint8_t *jpeg, size_t len, uint8_t *to)
{
	struct coms c = { .to = to };

	if (fr_jpeghdr_walk(jpeg, len, on_segment, &c) < 0)
		return 0;
	return c.len;
}

/* A header that walks, with an SOF before its first scan. */
static bool
has_frame_header(const uint8_t *jpeg, size_t len)
{
	struct coms c = { 0 };

	return fr_jpeghdr_walk(jpeg, len, on_segment, &c) == 0 && c.has_sof;
}


struct fr_scaler {
	tjhandle dec, enc;
	uint8_t *yuv;
	size_t yuv_cap;
	uint8_t *jpeg;		/* the encoder's output, sized by tjBufSize() */
	size_t jpeg_cap;
	/* The last frame's tables and their quality: a stream's frames mostly share them. */
	struct fr_quality_tables tables;
	int tables_quality;
};

bool
fr_scaler_is_available(void)
{
	return true;
}

struct fr_scaler *
fr_scaler_new(char *err)
{
	struct fr_scaler *sc = calloc(1, sizeof *sc);

	if (sc == NULL) {
		snprintf(err, FR_ERR_LEN, "out of memory");
		return NULL;
	}
	if ((sc->dec = tjInitDecompress()) == NULL || (sc->enc = tjInitCompress()) == NULL) {
		snprintf(err, FR_ERR_LEN, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
		fr_scaler_free(sc);
		return NULL;
	}
	return sc;
}

void
fr_scaler_free(struct fr_scaler *sc)
{
	if (sc == NULL)
		return;
	if (sc->dec != NULL)
		tjDestroy(sc->dec);
	if (sc->enc != NULL)
		tjDestroy(sc->enc);
	free(sc->yuv);
	free(sc->jpeg);
	free(sc);
}

/* Grows *buf to at least need bytes (contents not kept). */
static int
reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	free(*buf);
	if ((*buf = malloc(need)) == NULL) {
		*cap = 0;
		return -1;
	}
	*cap = need;
	return 0;
}

/* A failed call may leave a handle mid-image (libjpeg-turbo 2.1 does not always
 * abort it): the next frame gets a fresh one. */
static int
tj_failed(tjhandle *h, bool is_decoder, const char *what, char *err)
{
	if (strcmp(what, "header") != 0 && tjGetErrorCode(*h) == TJERR_WARNING)
		return 0;	/* the image is there; libjpeg only complained */
	snprintf(err, FR_ERR_LEN, "libjpeg-turbo %s: %s", what, tjGetErrorStr2(*h));
	tjDestroy(*h);
	*h = is_decoder ? tjInitDecompress() : tjInitCompress();
	return -1;
}

static int
source_quality(struct fr_scaler *sc, const uint8_t *jpeg, size_t len)
{
	struct fr_quality_tables t;

	if (fr_quality_read_tables(jpeg, len, &t) < 0)
		return FR_QUALITY_DEFAULT;
	if (sc->tables_quality == 0 || memcmp(&t, &sc->tables, sizeof t) != 0) {
		sc->tables = t;
		sc->tables_quality = fr_quality_from_tables(&t);
	}
	return sc->tables_quality;
}

/* The encoder's output, with the source's COM segments after its SOI, as one
 * exact-size allocation. */
static int
assemble(struct fr_scaler *sc, size_t enc_len, const uint8_t *src, size_t src_len,
    struct fr_scaled *out, char *err)
{
	size_t coms = copy_coms(src, src_len, NULL);

	if (enc_len < 4 || sc->jpeg[0] != 0xFF || sc->jpeg[1] != 0xD8) {
		snprintf(err, FR_ERR_LEN, "libjpeg-turbo made no JPEG");
		return -1;
	}
	if ((out->data = malloc(enc_len + coms)) == NULL) {
		snprintf(err, FR_ERR_LEN, "out of memory for a scaled frame");
		return -1;
	}
	out->data[0] = 0xFF;
	out->data[1] = 0xD8;
	copy_coms(src, src_len, out->data + 2);
	memcpy(out->data + 2 + coms, sc->jpeg + 2, enc_len - 2);
	out->len = enc_len + coms;
	return 0;
}

int
fr_scaler_scale(struct fr_scaler *sc, const uint8_t *jpeg, size_t len, unsigned denom,
    int quality, struct fr_scaled *out, char *err)
{
	int w = 0, h = 0, subsamp = -1, colorspace = -1;

	*out = (struct fr_scaled){ 0 };
	if (sc->dec == NULL || sc->enc == NULL) {
		snprintf(err, FR_ERR_LEN, "libjpeg-turbo: no handle");
		return -1;
	}
	if (len > (unsigned long)-1 || (denom != 1 && denom != 2 && denom != 4 && denom != 8)) {
		snprintf(err, FR_ERR_LEN, "cannot scale %zu bytes by 1/%u", len, denom);
		return -1;
	}
	/* libjpeg-turbo 2.1 reads a header cut before its SOF as tables only and leaves
	 * the dimensions unset: no SOF, no frame. */
	if (!has_frame_header(jpeg, len)) {
		snprintf(err, FR_ERR_LEN, "no frame header (SOF) before the first scan");
		return -1;
	}
	if (tjDecompressHeader3(sc->dec, jpeg, (unsigned long)len, &w, &h, &subsamp,
	    &colorspace) < 0) {
		tj_failed(&sc->dec, true, "header", err);
		return -1;
	}
	if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK || subsamp < 0 ||
	    subsamp >= TJ_NUMSAMP) {
		snprintf(err, FR_ERR_LEN, "cannot scale a %s JPEG",
		    subsamp < 0 || subsamp >= TJ_NUMSAMP ? "non-standard subsampled" : "CMYK");
		return -1;
	}
	tjscalingfactor sf = { 1, (int)denom };
	int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
	if (reserve(&sc->yuv, &sc->yuv_cap, tjBufSizeYUV2(sw, 1, sh, subsamp)) < 0 ||
	    reserve(&sc->jpeg, &sc->jpeg_cap, tjBufSize(sw, sh, subsamp)) < 0) {
		snprintf(err, FR_ERR_LEN, "out of memory for a %dx%d picture", sw, sh);
		return -1;
	}
	if (tjDecompressToYUV2(sc->dec, jpeg, (unsigned long)len, sc->yuv, sw, 1, sh, 0) < 0 &&
	    tj_failed(&sc->dec, true, "decode", err) < 0)
		return -1;
	if (quality == 0)
		quality = source_quality(sc, jpeg, len);
	unsigned char *enc = sc->jpeg;
	unsigned long enc_len = (unsigned long)sc->jpeg_cap;
	if (tjCompressFromYUV(sc->enc, sc->yuv, sw, 1, sh, subsamp, &enc, &enc_len, quality,
	    TJFLAG_NOREALLOC) < 0 && tj_failed(&sc->enc, false, "encode", err) < 0)
		return -1;
	if (assemble(sc, enc_len, jpeg, len, out, err) < 0)
		return -1;
	out->width = sw;
	out->height = sh;
	out->quality = quality;
	return 0;
}
#else
bool
fr_scaler_is_available(void)
{
	return false;
}

struct fr_scaler *
fr_scaler_new(char *err)
{
	snprintf(err, FR_ERR_LEN, "built without libjpeg-turbo");
	return NULL;
}

void
fr_scaler_free(struct fr_scaler *sc)
{
	(void)sc;
}

int
fr_scaler_scale(struct fr_scaler *sc, const uint8_t *jpeg, size_t len, unsigned denom,
    int quality, struct fr_scaled *out, char *err)
{
	(void)sc, (void)jpeg, (void)len, (void)denom, (void)quality;
	*out = (struct fr_scaled){ 0 };
	snprintf(err, FR_ERR_LEN, "built without libjpeg-turbo");
	return -1;
}
#endif
