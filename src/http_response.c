/* SPDX-License-Identifier: MIT */
/*
 * Incremental HTTP/1.x response heads. Like the request parser (http_parse.c), a state
 * machine takes one byte at a time and copies what the puller needs straight into
 * struct fr_http_response, so no byte is looked at twice and the work per byte is
 * bounded; unlike it, it is lenient where the cameras and servers a puller meets are
 * sloppy in harmless ways, since it is the client here and has nothing to protect
 * downstream but its own framing.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fr/ascii.h"
#include "fr/http_response.h"

enum head_state {
	R_START,		/* before the status line: empty lines are skipped */
	R_VERSION,		/* "HTTP/1.x" */
	R_STATUS,		/* SP, then three digits */
	R_REASON,		/* SP reason-phrase, up to the line end */
	R_LINE_LF,		/* CR after the status line */
	R_FIELD_START,		/* a field line begins, or the empty line that ends the head */
	R_NAME,
	R_NAME_WS,		/* blanks after a field name, before its colon */
	R_VALUE,
	R_VALUE_LF,		/* CR after a field value */
	R_END_LF,		/* CR of the final empty line */
	R_DONE,
	R_ERROR,
};

enum field {
	F_OTHER,
	F_CONTENT_LENGTH,
	F_TRANSFER_ENCODING,
	F_CONNECTION,
	F_CONTENT_TYPE,
	F_LOCATION,
};

static const struct {
	const char *name;
	enum field field;
} known_fields[] = {
	{ "content-length", F_CONTENT_LENGTH },
	{ "transfer-encoding", F_TRANSFER_ENCODING },
	{ "connection", F_CONNECTION },
	{ "content-type", F_CONTENT_TYPE },
	{ "location", F_LOCATION },
};

void
fr_http_response_parser_init(struct fr_http_response_parser *p, size_t max_head_bytes)
{
	memset(p, 0, sizeof *p);
	p->max_head_bytes = max_head_bytes ? max_head_bytes : FR_HTTP_RESPONSE_HEAD_MAX_DEFAULT;
	p->state = R_START;
}

/* Records why the head is refused; returns -1 for the caller to pass on. */
static int
fail(struct fr_http_response_parser *p, const char *why)
{
	p->error = why;
	return -1;
}

/* A new head begins (the first, or the one after an interim 1xx). */
static void
begin_head(struct fr_http_response_parser *p, struct fr_http_response *resp)
{
	memset(resp, 0, sizeof *resp);
	p->tok_len = 0;
	p->has_transfer_encoding = p->has_close = p->has_keep_alive = false;
	p->has_content_type = p->has_location = false;
}

/* ---- status line (RFC 9112 4: HTTP-version SP status-code SP [reason-phrase]) ---- */

static int
step_version(struct fr_http_response_parser *p, struct fr_http_response *resp, uint8_t c)
{
	static const char proto[] = "HTTP/1.";
	size_t at = p->tok_len++;

	if (at < sizeof proto - 1) {
		if (c != (uint8_t)proto[at])
			return fail(p, "not an HTTP/1.x response");
		return 0;
	}
	if (!fr_ascii_is_digit(c))
		return fail(p, "not an HTTP/1.x response");
	resp->minor_version = c == '0' ? 0 : 1;
	p->tok_len = 0;
	p->state = R_STATUS;
	return 0;
}

static int
step_status(struct fr_http_response_parser *p, struct fr_http_response *resp, uint8_t c)
{
	/* tok_len 0: the SP; 1-3: the digits. Some servers send more than one SP. */
	if (p->tok_len == 0) {
		if (c != ' ')
			return fail(p, "malformed status line");
		p->tok_len = 1;
		return 0;
	}
	if (p->tok_len == 1 && c == ' ')
		return 0;
	if (p->tok_len <= 3) {
		if (!fr_ascii_is_digit(c))
			return fail(p, "malformed status code");
		resp->status = resp->status * 10 + (c - '0');
		p->tok_len++;
		return 0;
	}
	if (resp->status < 100 || resp->status > 599)
		return fail(p, "status code out of range");
	/* The reason phrase may be absent, with or without its SP (servers differ). */
	if (c == '\r') {
		p->state = R_LINE_LF;
	} else if (c == '\n') {
		p->state = R_FIELD_START;
	} else if (c == ' ') {
		p->tok_len = 0;
		p->state = R_REASON;
	} else {
		return fail(p, "malformed status line");
	}
	return 0;
}

/* reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ); only printable ASCII is kept. */
static int
step_reason(struct fr_http_response_parser *p, struct fr_http_response *resp, uint8_t c)
{
	if (c == '\r') {
		p->state = R_LINE_LF;
		return 0;
	}
	if (c == '\n') {
		p->state = R_FIELD_START;
		return 0;
	}
	if (!fr_ascii_is_blank(c) && !fr_http_is_field_vchar(c))
		return fail(p, "control byte in the reason phrase");
	if (c < 0x7f && p->tok_len < FR_HTTP_REASON_MAX) {
		resp->reason[p->tok_len++] = (char)c;
		resp->reason[p->tok_len] = '\0';
	}
	return 0;
}

static int
step_status_line(struct fr_http_response_parser *p, struct fr_http_response *resp, uint8_t c)
{
	switch (p->state) {
	case R_START:
		if (c == '\r' || c == '\n')	/* a stray line end after a previous body */
			return 0;
		p->state = R_VERSION;
		p->tok_len = 0;
		return step_version(p, resp, c);
	case R_VERSION:
		return step_version(p, resp, c);
	case R_STATUS:
		return step_status(p, resp, c);
	case R_REASON:
		return step_reason(p, resp, c);
	case R_LINE_LF:
		if (c != '\n')
			return fail(p, "bare CR in the status line");
		p->state = R_FIELD_START;
		return 0;
	default:
		abort();	/* fr_http_response_parse() sends only these states here */
	}
}

/* ---- field lines ---- */

static int
on_transfer_encoding(struct fr_http_response_parser *p, struct fr_http_response *resp)
{
	const char *s = p->value, *elem;
	size_t elem_len, count = 0;

	while (fr_http_next_element(&s, &elem, &elem_len)) {
		/* RFC 9112 6.1: chunked, once and last; we decode nothing else. */
		if (!fr_http_equals_nocase(elem, elem_len, "chunked") || count++ > 0 ||
		    resp->is_chunked)
			return fail(p, "unsupported transfer coding");
	}
	if (count == 0)
		return fail(p, "empty Transfer-Encoding");
	p->has_transfer_encoding = true;
	resp->is_chunked = true;
	return 0;
}

static int
on_connection(struct fr_http_response_parser *p)
{
	const char *s = p->value, *elem;
	size_t elem_len;

	while (fr_http_next_element(&s, &elem, &elem_len)) {
		if (fr_http_equals_nocase(elem, elem_len, "close"))
			p->has_close = true;
		else if (fr_http_equals_nocase(elem, elem_len, "keep-alive"))
			p->has_keep_alive = true;
	}
	return 0;
}

/* A field that may appear once, copied to out of max bytes. */
static int
on_singleton(struct fr_http_response_parser *p, bool *seen, char *out, size_t max,
    const char *repeated, const char *too_long)
{
	if (*seen)
		return fail(p, repeated);
	if (p->value_len > max)
		return fail(p, too_long);
	*seen = true;
	memcpy(out, p->value, p->value_len + 1);
	return 0;
}

static int
end_field(struct fr_http_response_parser *p, struct fr_http_response *resp)
{
	p->value[p->value_len] = '\0';	/* drops trailing OWS */
	p->state = R_FIELD_START;
	switch ((enum field)p->field) {
	case F_OTHER:
		return 0;
	case F_CONTENT_LENGTH:
		if (fr_http_parse_length(p->value, resp->has_content_length,
		    &resp->content_length) != FR_HTTP_LENGTH_OK)
			return fail(p, "bad Content-Length");
		resp->has_content_length = true;
		return 0;
	case F_TRANSFER_ENCODING:
		return on_transfer_encoding(p, resp);
	case F_CONNECTION:
		return on_connection(p);
	case F_CONTENT_TYPE:
		return on_singleton(p, &p->has_content_type, resp->content_type,
		    FR_HTTP_CONTENT_TYPE_MAX, "more than one Content-Type",
		    "Content-Type too long");
	case F_LOCATION:
		return on_singleton(p, &p->has_location, resp->location, FR_HTTP_LOCATION_MAX,
		    "more than one Location", "Location too long");
	}
	abort();
}

/* The head has ended: an interim 1xx starts over, a final one is done. */
static int
end_head(struct fr_http_response_parser *p, struct fr_http_response *resp)
{
	if (resp->status == 101)
		return fail(p, "unasked-for protocol switch (101)");
	if (resp->status < 200) {
		/* RFC 9110 15.2: interim responses precede the final one; skip them. */
		begin_head(p, resp);
		p->state = R_START;
		return 0;
	}
	/* RFC 9112 6.3 (3): Transfer-Encoding overrides Content-Length. */
	if (p->has_transfer_encoding) {
		resp->has_content_length = false;
		resp->content_length = 0;
	}
	if (p->has_close)
		resp->is_keep_alive = false;
	else
		resp->is_keep_alive = resp->minor_version == 1 || p->has_keep_alive;
	p->state = R_DONE;
	return 0;
}

static enum field
find_field(const struct fr_http_response_parser *p)
{
	if (p->tok_len >= sizeof p->name)
		return F_OTHER;
	for (size_t i = 0; i < sizeof known_fields / sizeof known_fields[0]; i++)
		if (strlen(known_fields[i].name) == p->tok_len &&
		    memcmp(known_fields[i].name, p->name, p->tok_len) == 0)
			return known_fields[i].field;
	return F_OTHER;
}

static int
step_field_start(struct fr_http_response_parser *p, struct fr_http_response *resp, uint8_t c)
{
	if (c == '\r') {
		p->state = R_END_LF;
		return 0;
	}
	if (c == '\n')
		return end_head(p, resp);
	if (fr_ascii_is_blank(c))
		return fail(p, "obsolete line folding in a header");
	if (!fr_http_is_tchar(c))
		return fail(p, "invalid byte in a field name");
	if (++resp->header_count > FR_HTTP_RESPONSE_HEADERS_MAX)
		return fail(p, "too many header fields");
	p->name[0] = (char)fr_ascii_to_lower(c);
	p->tok_len = 1;
	p->state = R_NAME;
	return 0;
}

static int
step_name(struct fr_http_response_parser *p, uint8_t c)
{
	if (c == ':') {
		p->field = find_field(p);
		p->value_len = p->value_fill = 0;
		p->state = R_VALUE;
		return 0;
	}
	/* RFC 9112 5.1: a proxy would reject it; a client may drop the blanks. */
	if (fr_ascii_is_blank(c)) {
		p->state = R_NAME_WS;
		return 0;
	}
	if (p->state == R_NAME_WS || !fr_http_is_tchar(c))
		return fail(p, "invalid byte in a field name");
	if (p->tok_len < sizeof p->name)
		p->name[p->tok_len++] = (char)fr_ascii_to_lower(c);
	return 0;
}

/* Blanks are kept only once a later byte shows they are inside the value. */
static int
step_value(struct fr_http_response_parser *p, struct fr_http_response *resp, uint8_t c)
{
	if (c == '\r') {
		p->state = R_VALUE_LF;
		return 0;
	}
	if (c == '\n')
		return end_field(p, resp);
	if (fr_ascii_is_blank(c)) {
		if (p->value_len > 0 && p->value_fill < FR_HTTP_LOCATION_MAX)
			p->value[p->value_fill] = (char)c;
		if (p->value_len > 0)
			p->value_fill++;
		return 0;
	}
	if (!fr_http_is_field_vchar(c))
		return fail(p, "control byte in a field value");
	if (p->field == F_OTHER)
		return 0;
	if (p->value_fill >= FR_HTTP_LOCATION_MAX)
		return fail(p, "header field value too long");
	p->value[p->value_fill++] = (char)c;
	p->value_len = p->value_fill;
	return 0;
}

static int
step_fields(struct fr_http_response_parser *p, struct fr_http_response *resp, uint8_t c)
{
	switch (p->state) {
	case R_FIELD_START:
		return step_field_start(p, resp, c);
	case R_NAME:
	case R_NAME_WS:
		return step_name(p, c);
	case R_VALUE:
		return step_value(p, resp, c);
	case R_VALUE_LF:
		if (c != '\n')
			return fail(p, "bare CR in a field line");
		return end_field(p, resp);
	case R_END_LF:
		if (c != '\n')
			return fail(p, "bare CR at the end of the head");
		return end_head(p, resp);
	default:
		abort();
	}
}

enum fr_http_parse_result
fr_http_response_parse(struct fr_http_response_parser *p, const uint8_t *buf, size_t len,
    struct fr_http_response *resp)
{
	if (p->state == R_DONE)
		return FR_HTTP_PARSE_DONE;
	if (p->state == R_ERROR)
		return FR_HTTP_PARSE_ERROR;
	assert(len >= p->pos);
	if (!p->has_begun) {
		begin_head(p, resp);
		p->has_begun = true;
	}
	size_t end = len < p->max_head_bytes ? len : p->max_head_bytes;
	while (p->pos < end) {
		uint8_t c = buf[p->pos];
		int rc = p->state < R_FIELD_START ? step_status_line(p, resp, c)
						  : step_fields(p, resp, c);

		if (rc != 0) {
			p->state = R_ERROR;
			return FR_HTTP_PARSE_ERROR;
		}
		p->pos++;
		if (p->state == R_DONE) {
			p->head_len = p->pos;
			return FR_HTTP_PARSE_DONE;
		}
	}
	if (p->pos >= p->max_head_bytes) {
		fail(p, "response head too large");
		p->state = R_ERROR;
		return FR_HTTP_PARSE_ERROR;
	}
	return FR_HTTP_PARSE_MORE;
}

/* ---- media types (RFC 9110 8.3.1: type "/" subtype *( OWS ";" OWS parameter )) ---- */

bool
fr_http_media_type_is(const char *ct, const char *type)
{
	while (fr_ascii_is_blank((uint8_t)*ct))
		ct++;
	size_t len = strcspn(ct, "; \t");
	size_t type_len = strlen(type);

	if (type_len >= 2 && strcmp(type + type_len - 2, "/*") == 0) {
		/* A wildcard: the type and its slash, then any non-empty subtype. */
		return len > type_len - 1 && strncasecmp(ct, type, type_len - 1) == 0;
	}
	return fr_http_equals_nocase(ct, len, type);
}

/* The value of a parameter at v (after '='): a quoted-string or a token, into out. */
static bool
param_value(const char *v, char *out, size_t out_len)
{
	size_t n = 0;

	if (*v == '"') {
		for (v++; *v != '"'; v++) {
			if (*v == '\\' && v[1] != '\0')	/* quoted-pair */
				v++;
			if (*v == '\0' || n + 1 >= out_len)
				return false;
			out[n++] = *v;
		}
	} else {
		while (*v != '\0' && *v != ';' && !fr_ascii_is_blank((uint8_t)*v)) {
			if (n + 1 >= out_len)
				return false;
			out[n++] = *v++;
		}
	}
	out[n] = '\0';
	return n > 0;
}

bool
fr_http_boundary(const char *ct, char *out, size_t out_len)
{
	const char *p = strchr(ct, ';');

	out[0] = '\0';
	while (p != NULL) {
		p++;
		while (fr_ascii_is_blank((uint8_t)*p))
			p++;
		if (strncasecmp(p, "boundary", 8) == 0) {
			const char *v = p + 8;

			while (fr_ascii_is_blank((uint8_t)*v))
				v++;
			if (*v == '=') {
				v++;
				while (fr_ascii_is_blank((uint8_t)*v))
					v++;
				/* RFC 2046 5.1.1: 1 to 70 characters. */
				if (!param_value(v, out, out_len) || strlen(out) > 70) {
					out[0] = '\0';
					return false;
				}
				return true;
			}
		}
		/* the next parameter; a ';' inside a quoted value is not one */
		bool is_quoted = false;
		for (; *p != '\0' && (is_quoted || *p != ';'); p++) {
			if (*p == '\\' && is_quoted && p[1] != '\0')
				p++;
			else if (*p == '"')
				is_quoted = !is_quoted;
		}
		p = *p == ';' ? p : NULL;
	}
	return false;
}
