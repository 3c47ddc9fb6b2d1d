/* SPDX-License-Identifier: MIT */
/*
 * multipart/x-mixed-replace bodies as upstreams send them. The preamble and part heads
 * are read a line at a time into a small buffer; a body with a Content-Length is
 * counted, one without is scanned for CR LF "--" boundary with a KMP matcher, so every
 * byte is examined once and the bytes held back while they might begin a boundary are
 * known without keeping the input: they are a prefix of the delimiter itself.
 */
#include <stdbool.h>
#include <string.h>

#include "fr/ascii.h"
#include "fr/http_parse.h"
#include "fr/multipart_parse.h"

enum state {
	S_PREAMBLE,		/* lines before the first boundary line */
	S_HEAD,			/* a part's header lines, up to the empty line */
	S_BODY_LENGTH,		/* a body of Content-Length bytes */
	S_BODY,			/* a body that ends at the next delimiter */
	S_GAP,			/* after a Content-Length body: up to the next delimiter */
	S_DELIM_TAIL,		/* after "--boundary": "--", padding, or the line end */
	S_DELIM_LF,		/* CR after a delimiter line */
	S_CLOSE,		/* "--boundary-": the second '-' of the close delimiter */
	S_DONE,
	S_ERROR,
};

enum { PADDING_MAX = 256 };	/* RFC 2046 transport-padding after a delimiter */

/* KMP: fail[m] is the longest proper border of delim[0, m). */
static void
set_boundary(struct fr_multipart_parser *p, const char *b, size_t len)
{
	memcpy(p->boundary, b, len);
	p->boundary[len] = '\0';
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, b, len);
	p->delim_len = 4 + len;
	p->fail[0] = p->fail[1] = 0;
	size_t k = 0;
	for (size_t q = 1; q < p->delim_len; q++) {
		while (k > 0 && p->delim[q] != p->delim[k])
			k = p->fail[k];
		if (p->delim[q] == p->delim[k])
			k++;
		p->fail[q + 1] = (uint8_t)k;
	}
}

void
fr_multipart_parser_init(struct fr_multipart_parser *p, const char *boundary)
{
	memset(p, 0, sizeof *p);
	p->state = S_PREAMBLE;
	if (boundary != NULL) {
		size_t n = strlen(boundary);

		p->declared_len = n <= FR_MULTIPART_BOUNDARY_MAX ? n : 0;
		memcpy(p->boundary, boundary, p->declared_len);
	}
}

static enum fr_multipart_result
fail(struct fr_multipart_parser *p, const char *why)
{
	p->error = why;
	p->state = S_ERROR;
	return FR_MULTIPART_ERROR;
}

static void
begin_line(struct fr_multipart_parser *p)
{
	p->line_len = 0;
	p->is_line_long = false;
}

static void
begin_head(struct fr_multipart_parser *p)
{
	p->state = S_HEAD;
	p->count = 0;
	p->has_content_length = false;
	p->left = 0;
	begin_line(p);
}

/* The line without its CR and trailing blanks, NUL-terminated in place. */
static size_t
trim_line(struct fr_multipart_parser *p)
{
	size_t n = p->line_len;

	while (n > 0 && (p->line[n - 1] == '\r' || fr_ascii_is_blank((uint8_t)p->line[n - 1])))
		n--;
	p->line[n] = '\0';
	return n;
}

/* A line of the preamble: the first boundary line, or more preamble. */
static enum fr_multipart_result
end_preamble_line(struct fr_multipart_parser *p)
{
	size_t n = trim_line(p);
	const char *b = p->line + 2;
	size_t b_len = n - 2;

	if (p->is_line_long || n < 3 || p->line[0] != '-' || p->line[1] != '-')
		return FR_MULTIPART_MORE;
	if (p->declared_len == 0) {
		if (b_len > FR_MULTIPART_BOUNDARY_MAX)
			return FR_MULTIPART_MORE;
	} else if (b_len == p->declared_len + 2 && memcmp(b, p->boundary, p->declared_len) == 0 &&
	    b[b_len - 2] == '-' && b[b_len - 1] == '-') {
		p->state = S_DONE;	/* a close delimiter first: no part at all */
		return FR_MULTIPART_DONE;
	} else if (b_len == p->declared_len && memcmp(b, p->boundary, b_len) == 0) {
		/* as declared */
	} else if (p->declared_len > 2 && memcmp(p->boundary, "--", 2) == 0 &&
	    n == p->declared_len && memcmp(p->line, p->boundary, n) == 0) {
		b = p->line + 2;	/* the declared boundary was the whole line */
	} else {
		return FR_MULTIPART_MORE;
	}
	set_boundary(p, b, b_len);
	begin_head(p);
	return FR_MULTIPART_MORE;
}

/* The empty line after a part's headers, or a body that came without any. */
static enum fr_multipart_result
begin_body(struct fr_multipart_parser *p)
{
	p->parts++;
	p->matched = 0;
	p->count = 0;
	if (!p->has_content_length) {
		p->state = S_BODY;
		return FR_MULTIPART_MORE;
	}
	if (p->left > 0) {
		p->state = S_BODY_LENGTH;
		return FR_MULTIPART_MORE;
	}
	p->state = S_GAP;
	p->matched = 2;		/* the CR LF may be missing; see S_GAP */
	return FR_MULTIPART_PART_END;
}

/* A header line of a part: only Content-Length matters. */
static enum fr_multipart_result
end_head_line(struct fr_multipart_parser *p)
{
	size_t n = trim_line(p);
	const char *colon = memchr(p->line, ':', n);

	if (n == 0 && !p->is_line_long)
		return begin_body(p);
	if (colon == NULL)
		return FR_MULTIPART_MORE;	/* not a field: skipped, like any other */
	size_t name_len = (size_t)(colon - p->line);
	while (name_len > 0 && fr_ascii_is_blank((uint8_t)p->line[name_len - 1]))
		name_len--;
	if (!fr_http_equals_nocase(p->line, name_len, "content-length"))
		return FR_MULTIPART_MORE;
	if (p->is_line_long || fr_http_parse_length(colon + 1, p->has_content_length,
	    &p->left) != FR_HTTP_LENGTH_OK)
		return fail(p, "bad Content-Length in a part");
	p->has_content_length = true;
	return FR_MULTIPART_MORE;
}

/*
 * One byte of a preamble or part head line. Sets *step to how many bytes of in it took
 * (0 when a part without headers begins at c).
 */
static enum fr_multipart_result
step_line(struct fr_multipart_parser *p, uint8_t c, size_t *step)
{
	bool is_head = p->state == S_HEAD;
	size_t cap = is_head ? FR_MULTIPART_PART_HEAD_BYTES_MAX : FR_MULTIPART_PREAMBLE_MAX;

	*step = 1;
	/* A JPEG right after the boundary line: a part without headers. */
	if (is_head && p->line_len == 0 && !p->is_line_long && c != '\r' && c != '\n' &&
	    !fr_http_is_tchar(c)) {
		*step = 0;
		return begin_body(p);
	}
	if (++p->count > cap)
		return fail(p, is_head ? "part header too large" : "no boundary line at the start");
	if (c == '\n') {
		enum fr_multipart_result r = is_head ? end_head_line(p) : end_preamble_line(p);

		if (p->state == S_HEAD || p->state == S_PREAMBLE)
			begin_line(p);
		return r;
	}
	if (p->line_len < FR_MULTIPART_LINE_MAX)
		p->line[p->line_len++] = (char)c;
	else
		p->is_line_long = true;
	return FR_MULTIPART_MORE;
}

/* After "--boundary": "--" closes, else blanks and the line end, then a part's head. */
static enum fr_multipart_result
step_delim_tail(struct fr_multipart_parser *p, uint8_t c)
{
	switch (p->state) {
	case S_DELIM_TAIL:
		if (c == '-' && p->count == 0) {
			p->state = S_CLOSE;
		} else if (fr_ascii_is_blank(c)) {
			if (++p->count > PADDING_MAX)
				return fail(p, "boundary line too long");
		} else if (c == '\r') {
			p->state = S_DELIM_LF;
		} else if (c == '\n') {
			begin_head(p);
		} else {
			return fail(p, "boundary followed by more than its line end");
		}
		return FR_MULTIPART_MORE;
	case S_DELIM_LF:
		if (c != '\n')
			return fail(p, "bare CR after a boundary");
		begin_head(p);
		return FR_MULTIPART_MORE;
	default:	/* S_CLOSE */
		if (c != '-')
			return fail(p, "boundary followed by more than its line end");
		p->state = S_DONE;
		return FR_MULTIPART_DONE;
	}
}

/*
 * The delimiter matcher at in[*i], for a body (is_data: held-back bytes that turn out
 * not to be a delimiter are body bytes) or a gap (they are skipped). Returns MORE to go
 * on, DATA with the released bytes, or PART_END or ERROR.
 */
static enum fr_multipart_result
step_match(struct fr_multipart_parser *p, const uint8_t *in, size_t len, size_t *i,
    const uint8_t **data, size_t *data_len)
{
	bool is_data = p->state == S_BODY;

	if (p->matched == 0 && is_data) {
		/* Most body bytes: everything up to the next CR is body. */
		const uint8_t *cr = memchr(in + *i, '\r', len - *i);
		size_t end = cr != NULL ? (size_t)(cr - in) : len;

		if (end > *i) {
			*data = in + *i;
			*data_len = end - *i;
			*i = end;
			return FR_MULTIPART_DATA;
		}
	}
	if (in[*i] == p->delim[p->matched]) {
		(*i)++;
		if (++p->matched < p->delim_len)
			return FR_MULTIPART_MORE;
		p->matched = 0;
		p->count = 0;
		bool was_body = is_data;
		p->state = S_DELIM_TAIL;
		return was_body ? FR_MULTIPART_PART_END : FR_MULTIPART_MORE;
	}
	if (p->matched == 0) {	/* a gap byte */
		(*i)++;
		if (++p->count > FR_MULTIPART_GAP_MAX)
			return fail(p, "no boundary after a part's Content-Length");
		return FR_MULTIPART_MORE;
	}
	/* Not a delimiter after all: release what cannot begin one, and retry in[*i]. */
	size_t keep = p->fail[p->matched];
	size_t released = p->matched - keep;
	p->matched = keep;
	if (is_data) {
		*data = p->delim;
		*data_len = released;
		return FR_MULTIPART_DATA;
	}
	p->count += released;
	if (p->count > FR_MULTIPART_GAP_MAX)
		return fail(p, "no boundary after a part's Content-Length");
	return FR_MULTIPART_MORE;
}

enum fr_multipart_result
fr_multipart_parse(struct fr_multipart_parser *p, const uint8_t *in, size_t len,
    size_t *consumed, const uint8_t **data, size_t *data_len)
{
	enum fr_multipart_result r = FR_MULTIPART_MORE;
	size_t i = 0;

	*consumed = 0;
	*data = NULL;
	*data_len = 0;
	if (p->state == S_DONE)
		return FR_MULTIPART_DONE;
	if (p->state == S_ERROR)
		return FR_MULTIPART_ERROR;
	if (p->is_end_due) {
		p->is_end_due = false;
		return FR_MULTIPART_PART_END;
	}
	while (i < len && r == FR_MULTIPART_MORE) {
		size_t step;

		switch (p->state) {
		case S_PREAMBLE:
		case S_HEAD:
			r = step_line(p, in[i], &step);
			i += step;
			break;
		case S_BODY_LENGTH: {
			size_t n = len - i < p->left ? len - i : (size_t)p->left;

			p->left -= n;
			*data = in + i;
			*data_len = n;
			i += n;
			if (p->left == 0) {
				p->state = S_GAP;
				p->matched = 2;	/* "--boundary" without its CR LF also ends it */
				p->count = 0;
				p->is_end_due = true;
			}
			r = FR_MULTIPART_DATA;
			break;
		}
		case S_BODY:
		case S_GAP:
			r = step_match(p, in, len, &i, data, data_len);
			break;
		default:
			r = step_delim_tail(p, in[i]);
			i++;
			break;
		}
	}
	if (r == FR_MULTIPART_ERROR)
		return r;
	*consumed = i;
	return r;
}
