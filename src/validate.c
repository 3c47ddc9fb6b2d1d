/* SPDX-License-Identifier: MIT */
/*
 * --validate: a frame passes when libjpeg-turbo can read its header (markers,
 * tables, frame and scan headers). It does not decode the entropy-coded data,
 * which would cost more CPU than routing the frame does.
 */
#include <stdio.h>

#include "config.h"
#include "fr/util.h"
#include "fr/validate.h"

#ifdef HAVE_TURBOJPEG
#include <turbojpeg.h>

static tjhandle handle;

int
fr_validate_is_available(void)
{
	return 1;
}

int
fr_validate_frame(const uint8_t *data, size_t len, int *width, int *height, char *err)
{
	int subsamp, colorspace;

	if (handle == NULL && (handle = tjInitDecompress()) == NULL) {
		snprintf(err, FR_ERR_LEN, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
		return -1;
	}
	if (len > (unsigned long)-1)
		len = (unsigned long)-1;
	if (tjDecompressHeader3(handle, data, (unsigned long)len, width, height, &subsamp,
		&colorspace) < 0) {
		snprintf(err, FR_ERR_LEN, "libjpeg-turbo: %s", tjGetErrorStr2(handle));
		/* A failed header read leaves the decompressor mid-header (libjpeg-turbo
		 * 2.1 does not abort it): start the next frame with a fresh handle. */
		tjDestroy(handle);
		handle = NULL;
		return -1;
	}
	return 0;
}

void
fr_validate_fini(void)
{
	if (handle != NULL)
		tjDestroy(handle);
	handle = NULL;
}
#else
int
fr_validate_is_available(void)
{
	return 0;
}

int
fr_validate_frame(const uint8_t *data, size_t len, int *width, int *height, char *err)
{
	(void)data, (void)len;
	*width = *height = 0;
	snprintf(err, FR_ERR_LEN, "built without libjpeg-turbo");
	return -1;
}

void
fr_validate_fini(void)
{
}
#endif
