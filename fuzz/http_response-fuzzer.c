/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what an upstream sends a puller: the response head parser
 * (src/http_response.c), the media type helpers, and the multipart body parser
 * (src/multipart_parse.c), fed as pull.c feeds them.
 *
 * Input: a 4-byte header, then the bytes an upstream sends.
 *   [0]    the chunking of the second runs: 1, 2, 3, 7 or 4096 bytes, or random sizes
 *   [1]    max_head_bytes: 0 for the default, 1..127 as is, else 64 times it
 *   [2]    bit 0: the body's boundary is learnt from its first line even when the head
 *          declares one; bit 1: a body after a head that did not parse is still parsed
 *   [3]    the seed of the random chunk sizes
 *
 * 1. The head parser gets the bytes whole, then in chunks through a growing buffer whose
 *    examined and not-yet-received bytes are poisoned for ASan. Both runs must agree on
 *    the result, head_len or error, and every field; strings must be NUL-terminated
 *    within their fields, and a finished parser must keep its answer.
 * 2. The body (what follows the head, de-chunked with fr_http_chunked_feed when the head
 *    says chunked) goes to the multipart parser with the head's boundary (or none), whole
 *    and in chunks, each call given exactly the unconsumed bytes. Both runs must give the
 *    same part bodies, the same number of PART_ENDs, the same end and error; DATA is never
 *    empty and never claims more than was given.
 * Any difference aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/http_response.h"
#include "fr/multipart_parse.h"

#include "fuzz_chunker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HEADER = 4 };

static void
fail(const char *what)
{
	fprintf(stderr, "http_response-fuzzer: %s\n", what);
	abort();
}

#define CHECK_STRING(r, field) \
	do { \
		if (memchr((r)->field, '\0', sizeof (r)->field) == NULL) \
			fail(#field " is not NUL-terminated"); \
	} while (0)

static void
check_response(const struct fr_http_response *r)
{
	CHECK_STRING(r, reason);
	CHECK_STRING(r, content_type);
	CHECK_STRING(r, location);
	if (r->status < 200 || r->status > 599)
		fail("a final status outside 200-599");
	if (r->minor_version != 0 && r->minor_version != 1)
		fail("minor_version is neither 0 nor 1");
	if (r->is_chunked && r->has_content_length)
		fail("both chunked and a Content-Length");
	if (r->header_count > FR_HTTP_RESPONSE_HEADERS_MAX)
		fail("more fields than FR_HTTP_RESPONSE_HEADERS_MAX");
	for (const char *p = r->reason; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			fail("a control byte in the reason");
}

/* The head, whole then in chunks; returns the result, *resp from the whole run. */
static enum fr_http_parse_result
fuzz_head(const uint8_t *s, size_t len, size_t max_head, struct chunker *c,
    struct fr_http_response_parser *p, struct fr_http_response *resp)
{
	struct fr_http_response_parser q;
	struct fr_http_response resp2;
	enum fr_http_parse_result r, r2 = FR_HTTP_PARSE_MORE;
	uint8_t *buf = malloc(len + 1);
	size_t fed = 0;

	if (buf == NULL)
		abort();
	fr_http_response_parser_init(p, max_head);
	r = fr_http_response_parse(p, s, len, resp);
	memcpy(buf, s, len);
	fr_http_response_parser_init(&q, max_head);
	POISON(buf, len + 1);
	while (fed < len) {
		size_t n = next_chunk(c, len - fed);

		UNPOISON(buf + fed, n);
		fed += n;
		r2 = fr_http_response_parse(&q, buf, fed, &resp2);
		POISON(buf, fed);
		if (r2 != FR_HTTP_PARSE_MORE)
			break;
	}
	if (len == 0)
		r2 = fr_http_response_parse(&q, buf, 0, &resp2);
	UNPOISON(buf, len + 1);
	free(buf);
	if (r != r2)
		fail("whole and split heads differ: result");
	if (r == FR_HTTP_PARSE_DONE) {
		if (p->head_len != q.head_len || p->head_len == 0 || p->head_len > len ||
		    p->head_len > p->max_head_bytes)
			fail("head_len differs or is out of range");
		check_response(resp);
		if (memcmp(resp, &resp2, sizeof resp2) != 0)
			fail("whole and split heads differ: fields");
	} else if (r == FR_HTTP_PARSE_ERROR) {
		if (p->error == NULL || p->error != q.error)
			fail("whole and split heads differ: error");
	} else if (len >= p->max_head_bytes) {
		fail("MORE after max_head_bytes");
	}
	if (r != FR_HTTP_PARSE_MORE) {
		size_t head_len = p->head_len;

		if (fr_http_response_parse(p, s, len, resp) != r || p->head_len != head_len)
			fail("a finished head parser changed its answer");
	}
	return r;
}

/* What the multipart parser made of a body. */
struct outcome {
	uint8_t *data;		/* every part body, back to back */
	size_t len;
	uint64_t part_ends;
	uint64_t parts;
	enum fr_multipart_result end;
	const char *error;
};

static void
parse_body(struct outcome *o, const char *boundary, const uint8_t *s, size_t len,
    struct chunker *c)
{
	struct fr_multipart_parser p;
	size_t off = 0, avail = c != NULL ? 0 : len;

	fr_multipart_parser_init(&p, boundary);
	o->len = 0;
	o->part_ends = 0;
	o->end = FR_MULTIPART_MORE;
	for (;;) {
		if (c != NULL && avail < len)
			avail += next_chunk(c, len - avail);
		size_t n = avail - off;
		uint8_t *buf = malloc(n + 1);
		size_t at = 0;
		enum fr_multipart_result r;

		if (buf == NULL)
			abort();
		memcpy(buf, s + off, n);
		do {
			const uint8_t *d;
			size_t used, dlen;

			r = fr_multipart_parse(&p, buf + at, n - at, &used, &d, &dlen);
			if (used > n - at)
				fail("multipart: consumed more than given");
			at += used;
			if (r == FR_MULTIPART_DATA) {
				if (dlen == 0 || d == NULL)
					fail("multipart: empty DATA");
				if (dlen > len - o->len)
					fail("multipart: more body than input");
				memcpy(o->data + o->len, d, dlen);
				o->len += dlen;
			} else if (r == FR_MULTIPART_PART_END) {
				o->part_ends++;
			} else if (r == FR_MULTIPART_MORE && at != n) {
				fail("multipart: MORE before the end of the input");
			}
		} while (r == FR_MULTIPART_DATA || r == FR_MULTIPART_PART_END);
		free(buf);
		off += at;
		if (r == FR_MULTIPART_DONE || r == FR_MULTIPART_ERROR) {
			o->end = r;
			break;
		}
		if (avail == len)
			break;
	}
	o->error = p.error;
	o->parts = p.parts;
	if ((o->end == FR_MULTIPART_ERROR) != (p.error != NULL))
		fail("multipart: an error without a reason, or a reason without an error");
	if (memchr(p.boundary, '\0', sizeof p.boundary) == NULL)
		fail("multipart: the boundary is not NUL-terminated");
	if (o->part_ends > o->parts)
		fail("multipart: more parts ended than begun");
}

static void
fuzz_body(const char *boundary, const uint8_t *s, size_t len, struct chunker *c)
{
	struct outcome whole = { 0 }, split = { 0 };

	whole.data = malloc(len + 1);
	split.data = malloc(len + 1);
	if (whole.data == NULL || split.data == NULL)
		abort();
	parse_body(&whole, boundary, s, len, NULL);
	parse_body(&split, boundary, s, len, c);
	if (whole.end != split.end || whole.error != split.error ||
	    whole.part_ends != split.part_ends || whole.parts != split.parts)
		fail("whole and split bodies differ: parts, end or error");
	if (whole.len != split.len || memcmp(whole.data, split.data, whole.len) != 0)
		fail("whole and split bodies differ: data");
	free(whole.data);
	free(split.data);
}

/* A chunked body's bytes, as pull.c decodes them (up to an error, if any). */
static size_t
dechunk(const uint8_t *s, size_t len, uint8_t *out)
{
	struct fr_http_chunked ch;
	size_t at = 0, n = 0;

	fr_http_chunked_init(&ch);
	while (at < len) {
		size_t used, off, dlen;
		enum fr_http_chunked_result r = fr_http_chunked_feed(&ch, s + at, len - at, &used,
		    &off, &dlen);

		if (r == FR_HTTP_CHUNKED_DATA) {
			memcpy(out + n, s + at + off, dlen);
			n += dlen;
		}
		at += used;
		if (r != FR_HTTP_CHUNKED_DATA)
			break;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fr_http_response resp;
	struct fr_http_response_parser p;
	struct chunker c;
	char boundary[FR_HTTP_CONTENT_TYPE_MAX + 1];

	if (size < HEADER)
		return 0;
	size_t max_head = data[1] == 0 ? 0 : data[1] < 128 ? data[1] : 64 * (size_t)data[1];
	const uint8_t *s = data + HEADER;
	size_t len = size - HEADER;

	chunker_init(&c, data[0], data[3]);
	enum fr_http_parse_result r = fuzz_head(s, len, max_head, &c, &p, &resp);
	if (r != FR_HTTP_PARSE_DONE && !(data[2] & 2))
		return 0;
	const uint8_t *body = r == FR_HTTP_PARSE_DONE ? s + p.head_len : s;
	size_t body_len = r == FR_HTTP_PARSE_DONE ? len - p.head_len : len;
	const char *b = NULL;
	if (r == FR_HTTP_PARSE_DONE) {
		/* The helpers pull.c reads the Content-Type with. */
		(void)fr_http_media_type_is(resp.content_type, "image/jpeg");
		if (fr_http_media_type_is(resp.content_type, "multipart/*") &&
		    fr_http_boundary(resp.content_type, boundary, sizeof boundary)) {
			if (strlen(boundary) == 0 || strlen(boundary) > FR_MULTIPART_BOUNDARY_MAX)
				fail("a boundary of the wrong length");
			b = boundary;
		}
	}
	if (data[2] & 1)
		b = NULL;
	uint8_t *plain = NULL;
	if (r == FR_HTTP_PARSE_DONE && resp.is_chunked) {
		if ((plain = malloc(body_len + 1)) == NULL)
			abort();
		body_len = dechunk(body, body_len, plain);
		body = plain;
	}
	chunker_init(&c, data[0], data[3]);
	fuzz_body(b, body, body_len, &c);
	free(plain);
	return 0;
}
