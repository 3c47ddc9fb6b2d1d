/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the HTTP request parsing in src/http_parse.c: the head parser, the
 * chunked body decoder and the query helper.
 *
 * Input: a 4-byte header, then the bytes a client sends.
 *   [0]    the chunking of the second runs: 1, 2, 3, 7 or 4096 bytes, or random sizes
 *   [1]    max_head_bytes: 0 for the default (8192), 1..127 as is, else 64 times it
 *   [2]    the size of the query helper's output buffer, 1..256 (0: 1025)
 *   [3]    the seed of the random chunk sizes
 *
 * 1. The head parser gets the bytes whole, then again in chunks (len growing as a
 *    connection's buffer does, with the bytes it has already examined and those not yet
 *    received poisoned for ASan). Both runs must give the same result, head_len or
 *    status and error, and the same request fields; a finished parser must keep its
 *    answer. Strings must be NUL-terminated within their fields.
 * 2. The chunked decoder gets what follows the head (or all the bytes, if the head did not
 *    parse), whole and in chunks, handing back the unconsumed rest each time as
 *    src/http.c does. Both runs must give the same body bytes, the same result at the same
 *    offset and the same error.
 * 3. fr_http_query_get() looks up a few names in the parsed query, and in the raw bytes
 *    as a C string; a found value must fit the buffer, anything else must leave "".
 * Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/http_parse.h"

#include "fuzz_chunker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HEADER = 4 };

static void
fail(const char *what)
{
	fprintf(stderr, "http_parse-fuzzer: %s\n", what);
	abort();
}

#define CHECK_STRING(req, field) \
	do { \
		if (memchr((req)->field, '\0', sizeof (req)->field) == NULL) \
			fail(#field " is not NUL-terminated"); \
	} while (0)

static void
check_request(const struct fr_http_request *req)
{
	CHECK_STRING(req, method_text);
	CHECK_STRING(req, path);
	CHECK_STRING(req, query);
	CHECK_STRING(req, host);
	CHECK_STRING(req, authorization);
	CHECK_STRING(req, content_type);
	if (req->minor_version != 0 && req->minor_version != 1)
		fail("minor_version is neither 0 nor 1");
	if (req->header_count > FR_HTTP_HEADERS_MAX)
		fail("more header fields than FR_HTTP_HEADERS_MAX");
	if (req->content_length > FR_HTTP_LENGTH_MAX)
		fail("Content-Length above FR_HTTP_LENGTH_MAX");
	if (!req->has_content_length && req->content_length != 0)
		fail("content_length without has_content_length");
	if (req->method_text[0] == '\0' || (req->path[0] != '/' && strcmp(req->path, "*") != 0))
		fail("a parsed request without a method or a path");
}

static void
same_request(const struct fr_http_request *a, const struct fr_http_request *b)
{
	if (a->method != b->method || a->minor_version != b->minor_version ||
	    a->is_keep_alive != b->is_keep_alive || a->is_absolute_form != b->is_absolute_form ||
	    a->has_host != b->has_host || a->has_content_length != b->has_content_length ||
	    a->is_chunked != b->is_chunked || a->expects_continue != b->expects_continue ||
	    a->content_length != b->content_length || a->header_count != b->header_count)
		fail("whole and split heads differ: flags or numbers");
	if (strcmp(a->method_text, b->method_text) != 0 || strcmp(a->path, b->path) != 0 ||
	    strcmp(a->query, b->query) != 0 || strcmp(a->host, b->host) != 0 ||
	    strcmp(a->authorization, b->authorization) != 0 ||
	    strcmp(a->content_type, b->content_type) != 0)
		fail("whole and split heads differ: strings");
}

static void
check_status(const struct fr_http_parser *p)
{
	static const int statuses[] = { 400, 413, 414, 417, 431, 501, 505 };

	if (p->error == NULL || p->error[0] == '\0')
		fail("an error without a reason");
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		if (p->status == statuses[i])
			return;
	fail("an error with an undocumented status");
}

/* The head, whole then in chunks; returns the result, with *req from the whole run. */
static enum fr_http_parse_result
fuzz_head(const uint8_t *s, size_t len, size_t max_head, struct chunker *c,
    struct fr_http_parser *p, struct fr_http_request *req)
{
	struct fr_http_parser q;
	struct fr_http_request req2;
	enum fr_http_parse_result r, r2 = FR_HTTP_PARSE_MORE;

	fr_http_parser_init(p, max_head);
	r = fr_http_parse_head(p, s, len, req);

	/* A copy of the bytes, exactly sized, poisoned but for what is new in each call. */
	uint8_t *buf = malloc(len + 1);
	size_t fed = 0;

	if (buf == NULL)
		abort();
	memcpy(buf, s, len);
	fr_http_parser_init(&q, max_head);
	POISON(buf, len + 1);
	while (fed < len) {
		size_t n = next_chunk(c, len - fed);

		UNPOISON(buf + fed, n);
		fed += n;
		r2 = fr_http_parse_head(&q, buf, fed, &req2);
		POISON(buf, fed);
		if (r2 != FR_HTTP_PARSE_MORE)
			break;
	}
	if (len == 0)
		r2 = fr_http_parse_head(&q, buf, 0, &req2);
	UNPOISON(buf, len + 1);
	free(buf);

	if (r != r2)
		fail("whole and split heads differ: result");
	switch (r) {
	case FR_HTTP_PARSE_DONE:
		if (p->head_len != q.head_len)
			fail("whole and split heads differ: head_len");
		if (p->head_len == 0 || p->head_len > len || p->head_len > p->max_head_bytes)
			fail("head_len out of range");
		check_request(req);
		same_request(req, &req2);
		break;
	case FR_HTTP_PARSE_ERROR:
		if (p->status != q.status || p->error != q.error)
			fail("whole and split heads differ: status or error");
		check_status(p);
		break;
	case FR_HTTP_PARSE_MORE:
		if (len >= p->max_head_bytes)
			fail("MORE after max_head_bytes");
		break;
	default:
		fail("unknown head result");
	}
	/* "After DONE or ERROR, further calls return the same result and change nothing." */
	if (r != FR_HTTP_PARSE_MORE) {
		size_t head_len = p->head_len;
		int status = p->status;

		if (fr_http_parse_head(p, s, len, req) != r || p->head_len != head_len ||
		    p->status != status)
			fail("a finished head parser changed its answer");
	}
	return r;
}

struct body {
	uint8_t *data;
	size_t len;
	enum fr_http_chunked_result result;
	size_t end;		/* offset of the byte after DONE, of the bad byte, or len */
	const char *error;
};

static void
append(struct body *b, const uint8_t *p, size_t n)
{
	memcpy(b->data + b->len, p, n);	/* data has room for all the input */
	b->len += n;
}

static void
check_feed(enum fr_http_chunked_result r, size_t len, size_t consumed, size_t off, size_t n)
{
	if (consumed > len)
		fail("chunked: consumed more than it was given");
	if (r == FR_HTTP_CHUNKED_DATA && (n == 0 || off + n != consumed))
		fail("chunked: DATA slice empty or not ending at consumed");
	if (r != FR_HTTP_CHUNKED_DATA && (off != 0 || n != 0))
		fail("chunked: a slice without DATA");
	if (r == FR_HTTP_CHUNKED_MORE && consumed != len)
		fail("chunked: MORE before the end of the input");
}

/* Feeds s[0, len) to a decoder, `avail` bytes of it at a time as the chunker says. */
static void
decode(struct body *b, const uint8_t *s, size_t len, struct chunker *c)
{
	struct fr_http_chunked ch;
	size_t off = 0, avail = c != NULL ? 0 : len;
	enum fr_http_chunked_result r;
	uint8_t *buf = malloc(len + 1);

	if (buf == NULL)
		abort();
	memcpy(buf, s, len);
	POISON(buf, len + 1);
	fr_http_chunked_init(&ch);
	b->len = 0;
	for (;;) {
		size_t consumed, data_off, data_len;

		if (c != NULL && off == avail && avail < len)
			avail += next_chunk(c, len - avail);
		UNPOISON(buf + off, avail - off);
		r = fr_http_chunked_feed(&ch, buf + off, avail - off, &consumed, &data_off,
		    &data_len);
		check_feed(r, avail - off, consumed, data_off, data_len);
		if (r == FR_HTTP_CHUNKED_DATA)
			append(b, buf + off + data_off, data_len);
		POISON(buf + off, consumed);
		off += consumed;
		if (r == FR_HTTP_CHUNKED_DONE || r == FR_HTTP_CHUNKED_ERROR)
			break;
		if (r == FR_HTTP_CHUNKED_MORE && avail == len)
			break;
	}
	b->result = r;
	b->end = off;
	b->error = ch.error;
	if (r == FR_HTTP_CHUNKED_ERROR && (ch.error == NULL || ch.error[0] == '\0'))
		fail("chunked: an error without a reason");
	if (r != FR_HTTP_CHUNKED_ERROR && ch.error != NULL)
		fail("chunked: a reason without an error");
	if (r == FR_HTTP_CHUNKED_DONE || r == FR_HTTP_CHUNKED_ERROR) {
		size_t consumed, data_off, data_len;

		UNPOISON(buf, len + 1);
		if (fr_http_chunked_feed(&ch, buf + off, len - off, &consumed, &data_off,
		    &data_len) != r || consumed != 0 || data_off != 0 || data_len != 0)
			fail("chunked: a finished decoder changed its answer");
	}
	UNPOISON(buf, len + 1);
	free(buf);
}

static void
fuzz_chunked(const uint8_t *s, size_t len, struct chunker *c)
{
	struct body whole = { 0 }, split = { 0 };

	whole.data = malloc(len + 1);
	split.data = malloc(len + 1);
	if (whole.data == NULL || split.data == NULL)
		abort();
	decode(&whole, s, len, NULL);
	decode(&split, s, len, c);
	if (whole.result != split.result || whole.end != split.end || whole.error != split.error)
		fail("whole and split chunked bodies differ: result, offset or error");
	if (whole.len != split.len || memcmp(whole.data, split.data, whole.len) != 0)
		fail("whole and split chunked bodies differ: data");
	free(whole.data);
	free(split.data);
}

static void
query(const char *q, const char *name, size_t out_len)
{
	char out[FR_HTTP_QUERY_MAX + 1];
	enum fr_http_query_result r;

	memset(out, 'x', sizeof out);
	r = fr_http_query_get(q, name, out, out_len);
	if (r == FR_HTTP_QUERY_FOUND) {
		if (memchr(out, '\0', out_len) == NULL)
			fail("query: value longer than its buffer");
	} else if (r == FR_HTTP_QUERY_ABSENT || r == FR_HTTP_QUERY_INVALID) {
		if (out[0] != '\0')
			fail("query: not found, yet out is not empty");
	} else {
		fail("query: unknown result");
	}
	if (out_len < sizeof out && out[out_len] != 'x')
		fail("query: wrote past out_len");
}

static void
fuzz_query(const char *q, size_t out_len)
{
	static const char *const names[] = { "fps", "token", "stream", "a b", "", "%" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		query(q, names[i], out_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fr_http_request req;
	struct fr_http_parser p;
	struct chunker c;

	if (size < HEADER)
		return 0;
	size_t max_head = data[1] == 0 ? 0 : data[1] < 128 ? data[1] : 64 * (size_t)data[1];
	size_t out_len = data[2] == 0 ? FR_HTTP_QUERY_MAX + 1 : data[2] % 256 + 1;
	const uint8_t *s = data + HEADER;
	size_t len = size - HEADER;

	chunker_init(&c, data[0], data[3]);
	enum fr_http_parse_result r = fuzz_head(s, len, max_head, &c, &p, &req);

	chunker_init(&c, data[0], data[3]);
	if (r == FR_HTTP_PARSE_DONE)
		fuzz_chunked(s + p.head_len, len - p.head_len, &c);
	else
		fuzz_chunked(s, len, &c);

	if (r == FR_HTTP_PARSE_DONE)
		fuzz_query(req.query, out_len);
	/* the helper must cope with any C string, not only what the head parser lets in */
	char raw[FR_HTTP_QUERY_MAX + 1];
	size_t n = len < FR_HTTP_QUERY_MAX ? len : FR_HTTP_QUERY_MAX;
	memcpy(raw, s, n);
	raw[n] = '\0';
	fuzz_query(raw, out_len);
	return 0;
}
