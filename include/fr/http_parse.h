/* SPDX-License-Identifier: MIT */
/*
 * Incremental, bounded HTTP/1.1 request parsing (RFC 9112, RFC 9110): the request head into
 * fixed-size fields, chunked bodies into slices of the caller's bytes, and query parameters.
 * Pure: no I/O, no allocation, no logging. It does not route, answer, or frame bodies that
 * have a Content-Length (the caller counts those bytes itself).
 */
#ifndef FR_HTTP_PARSE_H
#define FR_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits, in bytes of text; each string field below has room for one more byte, a NUL. */
enum {
	FR_HTTP_HEAD_MAX_DEFAULT = 8192,	/* whole head incl. the empty line: else 431 */
	FR_HTTP_HEADERS_MAX = 64,		/* field lines in a head: else 431 */
	FR_HTTP_METHOD_MAX = 31,		/* else 501 */
	FR_HTTP_PATH_MAX = 1024,		/* else 414 */
	FR_HTTP_QUERY_MAX = 1024,		/* else 414 */
	FR_HTTP_HOST_MAX = 255,			/* else 414 (in the target) or 431 (Host) */
	FR_HTTP_AUTHORIZATION_MAX = 1024,	/* else 431 */
	FR_HTTP_CONTENT_TYPE_MAX = 255,		/* else 431 */
	FR_HTTP_VALUE_MAX = 1024,		/* any other field the parser reads: else 431 */
	FR_HTTP_CHUNK_LINE_MAX = 1024,		/* chunk-size and chunk-ext, without CRLF */
	FR_HTTP_TRAILER_MAX = 4096,		/* trailer section incl. the final CRLF */
};

/* The largest Content-Length (else 413) and chunk-size (else a chunked error): 2^62 - 1. */
#define FR_HTTP_LENGTH_MAX ((UINT64_C(1) << 62) - 1)

/* RFC 9110 9.1: method names are case-sensitive, so "get" is FR_HTTP_METHOD_OTHER. */
enum fr_http_method {
	FR_HTTP_METHOD_OTHER,	/* see method_text */
	FR_HTTP_METHOD_GET,
	FR_HTTP_METHOD_HEAD,
	FR_HTTP_METHOD_PUT,
	FR_HTTP_METHOD_POST,
};

/*
 * What the daemon needs from a request head. Strings are NUL-terminated copies; a field
 * that was absent is "". Written only by fr_http_parse_head(); complete once it returns
 * FR_HTTP_PARSE_DONE, partial and meaningless after FR_HTTP_PARSE_ERROR.
 */
struct fr_http_request {
	enum fr_http_method method;
	int minor_version;		/* 0 or 1: HTTP/1.0 or HTTP/1.1 (also for 1.2 .. 1.9) */
	bool is_keep_alive;		/* RFC 9112 9.3: the connection persists after this */
	bool is_absolute_form;		/* the target was "http://host/path": host is from it */
	bool has_host;			/* a Host field was present (required in 1.1) */
	bool has_content_length;
	bool is_chunked;		/* Transfer-Encoding: chunked */
	bool expects_continue;		/* Expect: 100-continue, in an HTTP/1.1 request */
	uint64_t content_length;	/* if has_content_length; at most FR_HTTP_LENGTH_MAX */
	size_t header_count;		/* field lines in the head */
	char method_text[FR_HTTP_METHOD_MAX + 1];
	char path[FR_HTTP_PATH_MAX + 1];	/* raw (still %-encoded), "/..." or "*" */
	char query[FR_HTTP_QUERY_MAX + 1];	/* raw, after the '?' */
	char host[FR_HTTP_HOST_MAX + 1];	/* from the target in absolute-form, else Host */
	char authorization[FR_HTTP_AUTHORIZATION_MAX + 1];
	char content_type[FR_HTTP_CONTENT_TYPE_MAX + 1];
};

enum fr_http_parse_result {
	FR_HTTP_PARSE_MORE,	/* every byte up to len was examined; the head goes on */
	FR_HTTP_PARSE_DONE,	/* the head is complete: see head_len */
	FR_HTTP_PARSE_ERROR,	/* answer status and close; see error */
};

/*
 * State of one request head being parsed; embed it by value. The caller reads head_len,
 * status and error; the other fields are the parser's own.
 */
struct fr_http_parser {
	size_t head_len;	/* DONE: bytes of the head, leading empty lines and final
				 * empty line included; the body starts at buf[head_len] */
	int status;		/* ERROR: 400, 413, 414, 417, 431, 501 or 505 */
	const char *error;	/* ERROR: what was wrong, a static string for the log */

	size_t max_head_bytes;
	size_t pos;		/* the next byte to examine */
	size_t tok_len;		/* bytes in the method, path, query, host or name so far */
	size_t value_len;	/* bytes of value[] up to its last non-blank byte */
	size_t value_fill;	/* bytes of value[] including pending blanks */
	size_t chunked_count;	/* "chunked" codings seen in Transfer-Encoding */
	unsigned state;		/* enum head_state in http_parse.c */
	unsigned field;		/* enum field: the field whose value is being read */
	unsigned pct_left;	/* hex digits still due after a '%' in the target */
	unsigned version_at;	/* bytes of "HTTP/x.y" read so far */
	unsigned major, minor;
	bool has_begun;		/* req has been cleared */
	bool is_asterisk;	/* the target is "*" */
	bool has_transfer_encoding;
	bool has_close;		/* Connection: close */
	bool has_keep_alive;	/* Connection: keep-alive */
	bool has_authorization;
	bool has_content_type;
	char name[24];		/* the field name (lower case) or URI scheme being read */
	char value[FR_HTTP_VALUE_MAX + 1];
};

/*
 * Prepares p for a new request head of at most max_head_bytes bytes (0 means
 * FR_HTTP_HEAD_MAX_DEFAULT). Call it again for each request on a connection.
 */
void fr_http_parser_init(struct fr_http_parser *p, size_t max_head_bytes);

/*
 * Parses the request head in buf[0, len). Call it again with the same p and req each time
 * more bytes have been appended: len never shrinks, and the offsets are those of the first
 * call. Only buf[previous len, len) is read, so bytes already examined are never looked at
 * again. The first call clears req.
 *
 * Returns FR_HTTP_PARSE_MORE when all of buf[0, len) belongs to an unfinished head;
 * FR_HTTP_PARSE_DONE when the head ended at p->head_len (bytes after it, a body or the next
 * pipelined request, are not examined) and req is filled in; FR_HTTP_PARSE_ERROR with
 * p->status and p->error set, as soon as a byte shows the head is bad or the head has
 * reached max_head_bytes without ending (431). After DONE or ERROR, further calls return
 * the same result and change nothing.
 *
 * Accepted: RFC 9112 2.2 leading empty lines (skipped, counted in head_len) and bare LF
 * line ends; request-targets in origin-form, absolute-form ("http://" or "https://") and
 * asterisk-form (OPTIONS only). Rejected with 400: bare CR, control bytes, obs-fold,
 * whitespace before a colon, bad tokens or %-escapes, a missing or repeated Host in 1.1,
 * Content-Lengths that disagree, Transfer-Encoding with Content-Length or in HTTP/1.0, and
 * a repeated Authorization or Content-Type. See the enum above for the other statuses.
 */
enum fr_http_parse_result fr_http_parse_head(struct fr_http_parser *p, const uint8_t *buf,
    size_t len, struct fr_http_request *req);

/* ---- chunked bodies (RFC 9112 7.1) ---- */

enum fr_http_chunked_result {
	FR_HTTP_CHUNKED_MORE,	/* all of the input was consumed; the body goes on */
	FR_HTTP_CHUNKED_DATA,	/* body bytes lie in in[data_off, data_off + data_len) */
	FR_HTTP_CHUNKED_DONE,	/* the last chunk and the trailer section were consumed */
	FR_HTTP_CHUNKED_ERROR,	/* the framing is broken: answer 400 and close; see error */
};

/* A chunked body decoder; embed it by value. The caller reads error; the rest is its own. */
struct fr_http_chunked {
	const char *error;	/* ERROR: what was wrong, a static string for the log */

	uint64_t size;		/* the chunk-size being read, then its data bytes left */
	size_t line_bytes;	/* bytes of the chunk-size line so far */
	size_t digits;		/* hex digits of the chunk-size so far */
	size_t trailer_bytes;	/* bytes of the trailer section so far */
	unsigned state;		/* enum chunked_state in http_parse.c */
	bool has_semicolon;	/* a chunk-ext has begun on this chunk-size line */
};

/* Prepares c for a new chunked body. */
void fr_http_chunked_init(struct fr_http_chunked *c);

/*
 * Decodes the next bytes of a chunked body, in[0, len): the bytes that follow those of
 * the previous calls, however the body is split. Copies nothing and keeps no pointer.
 *
 * Always sets *consumed, the bytes of in[] it is done with; the caller passes the rest
 * (and any new bytes) next time. Returns FR_HTTP_CHUNKED_DATA with the next body bytes in
 * in[*data_off, *data_off + *data_len), never empty, and *consumed at their end;
 * FR_HTTP_CHUNKED_MORE when *consumed == len; FR_HTTP_CHUNKED_DONE when the body ended at
 * in[*consumed] (what follows belongs to the next request); FR_HTTP_CHUNKED_ERROR with
 * c->error set and *consumed at the offending byte. *data_off and *data_len are 0 unless
 * DATA. After DONE or ERROR, further calls return the same result with *consumed 0.
 *
 * Chunk extensions are skipped (a chunk-size line holds at most FR_HTTP_CHUNK_LINE_MAX
 * bytes) and trailer fields are checked and dropped (at most FR_HTTP_TRAILER_MAX bytes).
 * Chunk sizes above FR_HTTP_LENGTH_MAX are errors, and every line must end in CRLF.
 */
enum fr_http_chunked_result fr_http_chunked_feed(struct fr_http_chunked *c, const uint8_t *in,
    size_t len, size_t *consumed, size_t *data_off, size_t *data_len);

/* ---- query strings ---- */

enum fr_http_query_result {
	FR_HTTP_QUERY_ABSENT,	/* no parameter has that name; out is "" */
	FR_HTTP_QUERY_FOUND,	/* out holds the decoded value ("" for "?name" and "?name=") */
	FR_HTTP_QUERY_INVALID,	/* a bad %-escape, a %00, or a value too long for out; "" */
};

/*
 * Looks up the first parameter called name in query ("fps=10&x=y", without the '?'),
 * splitting it on '&' and each parameter at its first '='. Names and values are decoded
 * as application/x-www-form-urlencoded ('+' is a space, %XX a byte) before they are
 * compared or copied; name itself is plain text. out gets a NUL-terminated value of at
 * most out_len - 1 bytes; out_len must not be 0.
 */
enum fr_http_query_result fr_http_query_get(const char *query, const char *name, char *out,
    size_t out_len);

/*
 * Decodes a path segment s[0, len) (RFC 3986 2.1: %XX is a byte; '+' is itself) into
 * out, NUL-terminated. False, with out "", for a bad escape, %00, or a result longer
 * than out_len - 1 bytes; out_len must not be 0.
 */
bool fr_http_path_decode(const char *s, size_t len, char *out, size_t out_len);

/* ---- field syntax, shared with the response parser (http_response.c) ---- */

/* RFC 9110 5.6.2: tchar, a byte of a token (a method, a field name). */
bool fr_http_is_tchar(uint8_t c);

/* RFC 9110 5.5: field-vchar = VCHAR / obs-text, a byte of a field value but a blank. */
bool fr_http_is_field_vchar(uint8_t c);

/* A byte a request-target (or a URL's path and query) may carry outside a %-escape:
 * visible ASCII but '#'. */
bool fr_http_is_target_char(uint8_t c);

/* True if s[0, len) is lower (given in lower case), compared case-insensitively. */
bool fr_http_equals_nocase(const char *s, size_t len, const char *lower);

/*
 * RFC 9110 5.6.1: the next element of the #list at *s, without OWS, in *elem and
 * *elem_len, moving *s past it; empty elements are skipped. False at the end.
 */
bool fr_http_next_element(const char **s, const char **elem, size_t *elem_len);

enum fr_http_length_result {
	FR_HTTP_LENGTH_OK,
	FR_HTTP_LENGTH_NOT_A_NUMBER,
	FR_HTTP_LENGTH_TOO_LARGE,	/* above FR_HTTP_LENGTH_MAX */
	FR_HTTP_LENGTH_DIFFERS,		/* from another value in the list or *length */
	FR_HTTP_LENGTH_EMPTY,		/* no value at all */
};

/*
 * RFC 9110 8.6: a Content-Length field value, "1*DIGIT" or a list of equal ones, into
 * *length. has_length: an earlier field gave *length already, and this one must agree.
 */
enum fr_http_length_result fr_http_parse_length(const char *value, bool has_length,
    uint64_t *length);

#endif /* FR_HTTP_PARSE_H */
