/* SPDX-License-Identifier: MIT */
/*
 * Incremental, bounded parsing of an HTTP/1.x response head (RFC 9112 4 and 6), as an
 * upstream camera or MJPEG server sends it to a puller, into fixed-size fields; and the
 * media type helpers the puller needs to read its Content-Type. Pure: no I/O, no
 * allocation, no logging. Bodies are the caller's (fr_http_chunked_feed for chunked ones).
 */
#ifndef FR_HTTP_RESPONSE_H
#define FR_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fr/http_parse.h"

enum {
	FR_HTTP_RESPONSE_HEAD_MAX_DEFAULT = 16384,	/* interim 1xx heads included */
	FR_HTTP_RESPONSE_HEADERS_MAX = 100,		/* field lines in one head */
	FR_HTTP_REASON_MAX = 63,			/* kept for the log; the rest is skipped */
	FR_HTTP_LOCATION_MAX = 1024,			/* else an error */
};

/*
 * What a puller needs from a response head. Strings are NUL-terminated copies; an absent
 * field is "". Complete once the parser returns FR_HTTP_PARSE_DONE.
 */
struct fr_http_response {
	int status;			/* 200..599: the final status (1xx heads are skipped) */
	int minor_version;		/* 0 or 1 */
	bool is_keep_alive;		/* RFC 9112 9.3: the connection persists after the body */
	bool has_content_length;	/* and no Transfer-Encoding */
	bool is_chunked;		/* Transfer-Encoding: chunked */
	uint64_t content_length;	/* if has_content_length */
	size_t header_count;		/* field lines of the final head */
	char reason[FR_HTTP_REASON_MAX + 1];	/* printable ASCII only, for the log */
	char content_type[FR_HTTP_CONTENT_TYPE_MAX + 1];
	char location[FR_HTTP_LOCATION_MAX + 1];
};

/* State of one response head being parsed; embed it by value. */
struct fr_http_response_parser {
	size_t head_len;	/* DONE: bytes of the head(s); the body starts at buf[head_len] */
	const char *error;	/* ERROR: what was wrong, a static string for the log */

	size_t max_head_bytes;
	size_t pos;		/* the next byte to examine */
	size_t tok_len;		/* bytes of the version, status or name read so far */
	size_t value_len;	/* bytes of value[] up to its last non-blank byte */
	size_t value_fill;	/* bytes of value[] including pending blanks */
	unsigned state;		/* enum head_state in http_response.c */
	unsigned field;		/* enum field: the field whose value is being read */
	bool has_begun;		/* resp has been cleared */
	bool has_transfer_encoding;
	bool has_close;
	bool has_keep_alive;
	bool has_content_type;
	bool has_location;
	char name[24];		/* the field name being read, lower case */
	char value[FR_HTTP_LOCATION_MAX + 1];
};

/* Prepares p for a response head of at most max_head_bytes (0: the default). */
void fr_http_response_parser_init(struct fr_http_response_parser *p, size_t max_head_bytes);

/*
 * Parses the response head in buf[0, len), as fr_http_parse_head() does a request head:
 * call again with the same p and resp whenever bytes have been appended (len never
 * shrinks); only buf[previous len, len) is examined. The first call clears resp.
 *
 * Returns FR_HTTP_PARSE_MORE while the head goes on; FR_HTTP_PARSE_DONE when the final
 * head ended at p->head_len (interim 1xx heads before it are skipped and counted in it);
 * FR_HTTP_PARSE_ERROR with p->error set as soon as a byte shows the head is bad, or when
 * max_head_bytes have gone by without its end (an endless header). After DONE or ERROR,
 * further calls return the same and change nothing.
 *
 * Lenient where servers commonly are sloppy: bare LF line ends, a missing reason phrase,
 * blanks before a field's colon, empty lines before the status line. Refused: anything
 * but "HTTP/1.x", a status outside 100-599 or 101, obs-fold, control bytes, Content-Lengths
 * that disagree, a transfer coding other than chunked, a Location or Content-Type too long.
 * With Transfer-Encoding, Content-Length is ignored (RFC 9112 6.3).
 */
enum fr_http_parse_result fr_http_response_parse(struct fr_http_response_parser *p,
    const uint8_t *buf, size_t len, struct fr_http_response *resp);

/*
 * True if the Content-Type value ct has the media type type ("image/jpeg", lower case),
 * compared case-insensitively, ignoring parameters and blanks (RFC 9110 8.3.1). A type
 * that ends in a slash and an asterisk ("multipart" + "/" + "*") matches any subtype.
 */
bool fr_http_media_type_is(const char *ct, const char *type);

/*
 * The boundary parameter of a multipart Content-Type value (RFC 2046 5.1.1: quoted or
 * not, 1-70 characters) into out (out_len > 70). False, with out "", if there is none
 * or it is malformed.
 */
bool fr_http_boundary(const char *ct, char *out, size_t out_len);

#endif /* FR_HTTP_RESPONSE_H */
