/* SPDX-License-Identifier: MIT */
/*
 * Incremental parsing of a multipart/x-mixed-replace body as MJPEG servers send it
 * (RFC 2046 5.1.1): the boundary, each part's headers, and each part's body handed back
 * as slices, with or without a Content-Length. The counterpart of multipart.c, which
 * writes what framerouter sends. Pure: no I/O, no allocation, no logging.
 */
#ifndef FR_MULTIPART_PARSE_H
#define FR_MULTIPART_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	FR_MULTIPART_BOUNDARY_MAX = 70,		/* RFC 2046 5.1.1 */
	FR_MULTIPART_PREAMBLE_MAX = 4096,	/* bytes before the first boundary line */
	FR_MULTIPART_PART_HEAD_BYTES_MAX = 8192, /* a part's header block */
	FR_MULTIPART_GAP_MAX = 4096,		/* bytes between a Content-Length body and
						 * the next boundary (servers add CRLFs) */
	FR_MULTIPART_LINE_MAX = 127,		/* a header line is examined up to here */
};

enum fr_multipart_result {
	FR_MULTIPART_MORE,	/* all of the input was consumed; the body goes on */
	FR_MULTIPART_DATA,	/* the next bytes of the current part's body: *data, *data_len */
	FR_MULTIPART_PART_END,	/* the current part's body is complete */
	FR_MULTIPART_DONE,	/* the close delimiter: the multipart body has ended */
	FR_MULTIPART_ERROR,	/* the framing is broken; see error */
};

/* A multipart body being parsed; embed it by value. The caller reads the fields up to
 * parts; the rest is the parser's own. */
struct fr_multipart_parser {
	const char *error;	/* ERROR: what was wrong, a static string for the log */
	uint64_t parts;		/* part bodies begun so far */
	bool has_content_length;	/* the current part declared one */
	char boundary[FR_MULTIPART_BOUNDARY_MAX + 1];	/* once known: declared or learnt */

	unsigned state;		/* enum state in multipart_parse.c */
	size_t declared_len;	/* bytes of the boundary the Content-Type declared; 0: none */
	uint8_t delim[4 + FR_MULTIPART_BOUNDARY_MAX];	/* CR LF "--" boundary */
	uint8_t fail[4 + FR_MULTIPART_BOUNDARY_MAX + 1];	/* its KMP failure function */
	size_t delim_len;
	size_t matched;		/* bytes of delim matched and held back */
	uint64_t left;		/* Content-Length bytes of the body still to come */
	bool is_end_due;	/* a Content-Length body's last bytes went out: PART_END next */
	size_t count;		/* bytes of the preamble, part head, gap or padding so far */
	size_t line_len;	/* bytes in line[] */
	bool is_line_long;	/* the line went past FR_MULTIPART_LINE_MAX */
	char line[FR_MULTIPART_LINE_MAX + 1];
};

/*
 * Prepares p for a body whose Content-Type declared boundary (NULL or "": none was
 * declared, so the first line of the body that starts with "--" gives it, as ffmpeg's
 * mpjpeg over application/octet-stream needs). boundary is at most
 * FR_MULTIPART_BOUNDARY_MAX bytes (fr_http_boundary() gives no more).
 */
void fr_multipart_parser_init(struct fr_multipart_parser *p, const char *boundary);

/*
 * Parses the next bytes of the body, in[0, len): those that follow the previous calls'
 * consumed bytes, however the body is split. Keeps no pointer into in.
 *
 * Always sets *consumed, the bytes of in[] it is done with; pass the rest next time.
 * Returns FR_MULTIPART_DATA with body bytes of the current part in *data, *data_len
 * (never empty): they lie in in[], or, for bytes that looked like the start of a
 * boundary and were not, in p itself, valid until the next call. FR_MULTIPART_PART_END
 * when the current part's body is complete: at its Content-Length, or at the boundary
 * when it has none (the CR LF before a boundary belongs to the boundary). FR_MULTIPART_MORE
 * when *consumed == len and nothing else is due: after DATA or PART_END, call again,
 * even with no bytes left, until MORE. FR_MULTIPART_DONE at the close delimiter ("--boundary--").
 * FR_MULTIPART_ERROR with p->error when the body breaks the format or a limit above.
 * After DONE or ERROR further calls return the same with *consumed 0.
 *
 * The preamble before the first boundary line and the bytes between a Content-Length
 * body and the next boundary are skipped; part headers other than Content-Length are
 * read and ignored. A declared boundary that begins with "--" also matches a body that
 * uses it as the whole boundary line (a common server mistake).
 */
enum fr_multipart_result fr_multipart_parse(struct fr_multipart_parser *p, const uint8_t *in,
    size_t len, size_t *consumed, const uint8_t **data, size_t *data_len);

#endif /* FR_MULTIPART_PARSE_H */
