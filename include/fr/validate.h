/* SPDX-License-Identifier: MIT */
/*
 * Optional frame check with libjpeg-turbo (--validate): parses the JPEG header the
 * way a decoder would and reports the dimensions.
 */
#ifndef FR_VALIDATE_H
#define FR_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/* True when the build has libjpeg-turbo. */
int fr_validate_is_available(void);

/*
 * Returns 0 and the frame's dimensions if a decoder accepts its header, or -1
 * with the decoder's complaint in err (FR_ERR_LEN bytes).
 */
int fr_validate_frame(const uint8_t *data, size_t len, int *width, int *height, char *err);

/* Releases the decoder handle (shutdown). */
void fr_validate_fini(void);

#endif /* FR_VALIDATE_H */
