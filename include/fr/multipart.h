/* SPDX-License-Identifier: MIT */
/*
 * The multipart/x-mixed-replace wire format that HTTP subscribers receive, in one
 * place: the response head with its boundary, each part's headers, and what follows
 * each frame. Pure: no I/O; nothing else spells the boundary or the part headers.
 */
#ifndef FR_MULTIPART_H
#define FR_MULTIPART_H

#include <stddef.h>

#include "fr/frame.h"

enum fr_multipart_style {
	/* Each part: headers with Content-Length, the frame, the next boundary. */
	FR_MULTIPART_PLAIN,
	/* Each part's headers (without Content-Length) right after the previous part's
	 * boundary: Chrome shows a part only once the next part's header block has
	 * ended, so a paused stream would otherwise show nothing (?advance_headers=1). */
	FR_MULTIPART_ADVANCE,
};

/* Room for any part head fr_multipart_part_head() writes. */
#define FR_MULTIPART_PART_HEAD_MAX 80

/* The response head of GET /stream/NAME (and all a HEAD request gets): no part yet. */
const char *fr_multipart_response_head(size_t *len);

/*
 * What a subscriber is sent before its first frame: the response head, the first
 * boundary and, for FR_MULTIPART_ADVANCE, the first part's headers. Static storage.
 */
const char *fr_multipart_preamble(enum fr_multipart_style style, size_t *len);

/*
 * The headers before a frame of frame_len bytes in FR_MULTIPART_PLAIN, written into
 * buf; returns their length, or 0 if cap is too small. FR_MULTIPART_ADVANCE parts have
 * none of their own: their headers end the previous part's tail.
 */
size_t fr_multipart_part_head(char *buf, size_t cap, size_t frame_len);

/* What follows each frame: the next boundary and, for FR_MULTIPART_ADVANCE, the next
 * part's headers. The PLAIN tail is a prefix of the ADVANCE tail. Static storage. */
const char *fr_multipart_part_tail(enum fr_multipart_style style, size_t *len);

/*
 * The bytes to store around a frame of frame_len bytes (fr_frame_store) so that a
 * subscriber of either style sends a whole part with one sendfile(): the PLAIN part
 * head before it (written into head, cap bytes) and the ADVANCE tail after it.
 */
void fr_multipart_wrap(struct fr_frame_wrap *wrap, char *head, size_t cap, size_t frame_len);

#endif /* FR_MULTIPART_H */
