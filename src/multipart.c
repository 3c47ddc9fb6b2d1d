/* SPDX-License-Identifier: MIT */
/*
 * multipart/x-mixed-replace as framerouter sends it (RFC 2046 5.1.1; the boundary
 * line is CRLF "--" boundary CRLF). Every part is image/jpeg. Browsers show a part when
 * the next boundary arrives (Chrome) or when Content-Length bytes have come (Firefox),
 * so each frame is followed by the next boundary at once.
 */
#include <stdio.h>

#include "config.h"
#include "fr/multipart.h"

#define BOUNDARY "framerouter-frame"
#define PART_HEADERS_ADVANCE "Content-Type: image/jpeg\r\n\r\n"

#define RESPONSE_HEAD                                                         \
	"HTTP/1.1 200 OK\r\n"                                                 \
	"Server: framerouter/" PACKAGE_VERSION "\r\n"                         \
	"Content-Type: multipart/x-mixed-replace;boundary=" BOUNDARY "\r\n"   \
	"Cache-Control: no-cache, no-store, must-revalidate\r\n"              \
	"Pragma: no-cache\r\n"                                                \
	"Access-Control-Allow-Origin: *\r\n"                                  \
	"Connection: close\r\n"                                               \
	"\r\n"

static const char response_head[] = RESPONSE_HEAD;
static const char preamble_plain[] = RESPONSE_HEAD "--" BOUNDARY "\r\n";
static const char preamble_advance[] = RESPONSE_HEAD "--" BOUNDARY "\r\n" PART_HEADERS_ADVANCE;
static const char tail_advance[] = "\r\n--" BOUNDARY "\r\n" PART_HEADERS_ADVANCE;
/* The PLAIN tail is the ADVANCE tail without the next part's headers. */
#define TAIL_PLAIN_LEN (sizeof "\r\n--" BOUNDARY "\r\n" - 1)

const char *
fr_multipart_response_head(size_t *len)
{
	*len = sizeof response_head - 1;
	return response_head;
}

const char *
fr_multipart_preamble(enum fr_multipart_style style, size_t *len)
{
	if (style == FR_MULTIPART_ADVANCE) {
		*len = sizeof preamble_advance - 1;
		return preamble_advance;
	}
	*len = sizeof preamble_plain - 1;
	return preamble_plain;
}

size_t
fr_multipart_part_head(char *buf, size_t cap, size_t frame_len)
{
	int n = snprintf(buf, cap, "Content-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n",
	    frame_len);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

const char *
fr_multipart_part_tail(enum fr_multipart_style style, size_t *len)
{
	*len = style == FR_MULTIPART_ADVANCE ? sizeof tail_advance - 1 : TAIL_PLAIN_LEN;
	return tail_advance;
}

void
fr_multipart_wrap(struct fr_frame_wrap *wrap, char *head, size_t cap, size_t frame_len)
{
	wrap->before = head;
	wrap->before_len = fr_multipart_part_head(head, cap, frame_len);
	wrap->after = fr_multipart_part_tail(FR_MULTIPART_ADVANCE, &wrap->after_len);
}
