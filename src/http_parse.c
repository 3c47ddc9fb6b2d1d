/* SPDX-License-Identifier: MIT */
/*
 * Incremental HTTP/1.1 request parsing. The head is walked one byte at a time by a state
 * machine that copies what the daemon needs straight into struct fr_http_request, so no
 * byte is examined twice and nothing before the current byte is needed. The chunked
 * decoder is a second state machine that hands back slices of its input. Neither does I/O,
 * allocates or logs; the caller decides what to answer from the status they give.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fr/ascii.h"
#include "fr/http_parse.h"

enum head_state {
	H_START,		/* before the request line: empty lines are skipped */
	H_START_LF,		/* CR of a leading empty line */
	H_METHOD,
	H_TARGET,		/* the first byte of the request-target */
	H_ASTERISK,		/* "*" was read; SP must follow */
	H_SCHEME,		/* absolute-form: the scheme, up to ':' */
	H_SLASH1,		/* absolute-form: the first '/' of "//" */
	H_SLASH2,		/* absolute-form: the second '/' */
	H_AUTHORITY,		/* absolute-form: host[:port] */
	H_PATH,
	H_QUERY,
	H_VERSION,		/* "HTTP/x.y" */
	H_LINE_LF,		/* CR after the request line */
	H_FIELD_START,		/* a field line begins, or the empty line that ends the head */
	H_NAME,
	H_VALUE,		/* OWS before, and the bytes of, a field value */
	H_VALUE_LF,		/* CR after a field value */
	H_END_LF,		/* CR of the final empty line */
	H_DONE,
	H_ERROR,
};

/* The fields the daemon reads; every other field is checked and skipped. */
enum field {
	F_OTHER,
	F_HOST,
	F_CONTENT_LENGTH,
	F_TRANSFER_ENCODING,
	F_CONNECTION,
	F_AUTHORIZATION,
	F_CONTENT_TYPE,
	F_EXPECT,
};

static const struct {
	const char *name;	/* lower case */
	enum field field;
} known_fields[] = {
	{ "host", F_HOST },
	{ "content-length", F_CONTENT_LENGTH },
	{ "transfer-encoding", F_TRANSFER_ENCODING },
	{ "connection", F_CONNECTION },
	{ "authorization", F_AUTHORIZATION },
	{ "content-type", F_CONTENT_TYPE },
	{ "expect", F_EXPECT },
};

/* ---- character classes ---- */

bool
fr_http_is_tchar(uint8_t c)
{
	return fr_ascii_is_alpha(c) || fr_ascii_is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
fr_http_is_field_vchar(uint8_t c)
{
	return (c > 0x20 && c < 0x7f) || c >= 0x80;
}

/*
 * Bytes allowed in a request-target outside a %-escape. RFC 3986 is stricter, but clients
 * leave '|', '{' and the like unescaped and nothing here interprets them; what matters is
 * that the target has no blanks, controls, non-ASCII bytes or fragment ('#').
 */
bool
fr_http_is_target_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '#';
}

/* RFC 3986 3.2.2/3.2.3: reg-name or IP-literal and port; userinfo ('@') is refused. */
static bool
is_authority_char(uint8_t c)
{
	return fr_ascii_is_alpha(c) || fr_ascii_is_digit(c) ||
	    (c != '\0' && strchr("-._~!$&'()*+,;=:[]%", c));
}

bool
fr_http_equals_nocase(const char *s, size_t len, const char *lower)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (lower[i] == '\0' || fr_ascii_to_lower((uint8_t)s[i]) != (uint8_t)lower[i])
			return false;
	return lower[i] == '\0';
}

/* ---- request line ---- */

void
fr_http_parser_init(struct fr_http_parser *p, size_t max_head_bytes)
{
	memset(p, 0, sizeof *p);
	p->max_head_bytes = max_head_bytes ? max_head_bytes : FR_HTTP_HEAD_MAX_DEFAULT;
	p->state = H_START;
}

/* Records why the head is refused; returns the status to answer. */
static int
fail(struct fr_http_parser *p, int status, const char *why)
{
	p->error = why;
	return status;
}

/* Appends c to a string field of max bytes; false if it is full. */
static bool
append(char *field, size_t max, size_t *len, uint8_t c)
{
	if (*len >= max)
		return false;
	field[(*len)++] = (char)c;
	field[*len] = '\0';
	return true;
}

static int
step_start(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	if (p->state == H_START_LF) {
		if (c != '\n')
			return fail(p, 400, "bare CR before the request line");
		p->state = H_START;
		return 0;
	}
	/* RFC 9112 2.2: a server SHOULD ignore at least one empty line before the
	 * request-line; all of them count towards the head size. */
	if (c == '\r') {
		p->state = H_START_LF;
		return 0;
	}
	if (c == '\n')
		return 0;
	if (!fr_http_is_tchar(c))
		return fail(p, 400, "request line does not start with a method");
	p->tok_len = 0;
	append(req->method_text, FR_HTTP_METHOD_MAX, &p->tok_len, c);
	p->state = H_METHOD;
	return 0;
}

static void
set_method(struct fr_http_request *req)
{
	static const struct {
		const char *text;
		enum fr_http_method method;
	} methods[] = {
		{ "GET", FR_HTTP_METHOD_GET }, { "HEAD", FR_HTTP_METHOD_HEAD },
		{ "PUT", FR_HTTP_METHOD_PUT }, { "POST", FR_HTTP_METHOD_POST },
	};

	req->method = FR_HTTP_METHOD_OTHER;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(req->method_text, methods[i].text) == 0)
			req->method = methods[i].method;
}

/* RFC 9112 3: request-line = method SP request-target SP HTTP-version, one SP each. */
static int
step_method(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	if (c == ' ') {
		set_method(req);
		p->state = H_TARGET;
		return 0;
	}
	if (!fr_http_is_tchar(c))
		return fail(p, 400, "invalid byte in the method");
	/* RFC 9110 9.1: an unrecognised method gets 501; one this long is surely that. */
	if (!append(req->method_text, FR_HTTP_METHOD_MAX, &p->tok_len, c))
		return fail(p, 501, "method too long");
	return 0;
}

/* RFC 9112 3.2: origin-form "/...", absolute-form "scheme://...", asterisk-form "*". */
static int
step_target(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	p->tok_len = 0;
	if (c == '/') {
		append(req->path, FR_HTTP_PATH_MAX, &p->tok_len, c);
		p->state = H_PATH;
	} else if (c == '*') {
		append(req->path, FR_HTTP_PATH_MAX, &p->tok_len, c);
		p->is_asterisk = true;
		p->state = H_ASTERISK;
	} else if (fr_ascii_is_alpha(c)) {
		/* RFC 9112 3.2.2: a server MUST accept the absolute-form. */
		p->name[p->tok_len++] = (char)fr_ascii_to_lower(c);
		p->state = H_SCHEME;
	} else {
		return fail(p, 400, "request-target is not in origin, absolute or asterisk form");
	}
	return 0;
}

static int
step_scheme(struct fr_http_parser *p, uint8_t c)
{
	if (c == ':') {
		p->name[p->tok_len] = '\0';
		if (strcmp(p->name, "http") != 0 && strcmp(p->name, "https") != 0)
			return fail(p, 400, "request-target scheme is not http or https");
		p->state = H_SLASH1;
		return 0;
	}
	/* RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (!fr_ascii_is_alpha(c) && !fr_ascii_is_digit(c) && c != '+' && c != '-' && c != '.')
		return fail(p, 400, "invalid byte in the request-target scheme");
	if (p->tok_len >= strlen("https"))
		return fail(p, 400, "request-target scheme is not http or https");
	p->name[p->tok_len++] = (char)fr_ascii_to_lower(c);
	return 0;
}

/*
 * RFC 3986 2.1: a '%' is followed by two hex digits. Sets *was_escape if c is one of them;
 * returns 0, or 400 if c should have been one and is not.
 */
static int
step_pct(struct fr_http_parser *p, uint8_t c, bool *was_escape)
{
	*was_escape = false;
	if (p->pct_left > 0) {
		if (fr_ascii_hex_value(c) < 0)
			return fail(p, 400, "bad %-escape in the request-target");
		p->pct_left--;
		*was_escape = true;
	} else if (c == '%') {
		p->pct_left = 2;
	}
	return 0;
}

/* The authority ended at c: a '/' that begins the path, a '?', or the SP before the version. */
static void
end_authority(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	/* RFC 9110 4.2.3: an empty path is equivalent to "/". */
	p->tok_len = 0;
	append(req->path, FR_HTTP_PATH_MAX, &p->tok_len, '/');
	if (c == '?') {
		p->tok_len = 0;
		p->state = H_QUERY;
	} else {
		p->state = c == '/' ? H_PATH : H_VERSION;
	}
}

static int
step_authority(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	bool was_escape;
	int status = step_pct(p, c, &was_escape);

	if (status != 0)
		return status;
	if (!was_escape && (c == '/' || c == '?' || c == ' ')) {
		/* RFC 9110 4.2.1: an "http" URI with an empty host is invalid. */
		if (p->tok_len == 0)
			return fail(p, 400, "request-target has no host");
		end_authority(p, req, c);
		return 0;
	}
	/* RFC 9110 4.2.4: userinfo in an http(s) URI is an error. */
	if (c == '@')
		return fail(p, 400, "userinfo in the request-target");
	if (!was_escape && !is_authority_char(c))
		return fail(p, 400, "invalid byte in the request-target host");
	if (!append(req->host, FR_HTTP_HOST_MAX, &p->tok_len, c))
		return fail(p, 414, "request-target host too long");
	return 0;
}

/* The path or the query of the target, up to the SP before the version. */
static int
step_path_query(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	bool is_path = p->state == H_PATH;
	bool was_escape;
	int status = step_pct(p, c, &was_escape);

	if (status != 0)
		return status;
	if (!was_escape && c == ' ') {
		p->state = H_VERSION;
		return 0;
	}
	if (!was_escape && c == '?' && is_path) {
		p->tok_len = 0;
		p->state = H_QUERY;
		return 0;
	}
	if (!was_escape && !fr_http_is_target_char(c))
		return fail(p, 400, "invalid byte in the request-target");
	if (is_path && !append(req->path, FR_HTTP_PATH_MAX, &p->tok_len, c))
		return fail(p, 414, "path too long");
	if (!is_path && !append(req->query, FR_HTTP_QUERY_MAX, &p->tok_len, c))
		return fail(p, 414, "query too long");
	return 0;
}

static int
end_request_line(struct fr_http_parser *p, struct fr_http_request *req)
{
	/* RFC 9110 6.2: a minor version above ours is handled as the highest we have. */
	if (p->major != 1)
		return fail(p, 505, "HTTP major version is not 1");
	req->minor_version = p->minor == 0 ? 0 : 1;
	/* RFC 9112 3.2.4: the asterisk-form is only for OPTIONS. */
	if (p->is_asterisk && strcmp(req->method_text, "OPTIONS") != 0)
		return fail(p, 400, "request-target \"*\" without OPTIONS");
	p->state = H_FIELD_START;
	return 0;
}

/* RFC 9112 2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive. */
static int
step_version(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	static const char proto[] = "HTTP/";
	unsigned at = p->version_at++;

	if (at < sizeof proto - 1) {
		if (c != (uint8_t)proto[at])
			return fail(p, 400, "malformed HTTP version");
	} else if (at == 5 || at == 7) {
		if (!fr_ascii_is_digit(c))
			return fail(p, 400, "malformed HTTP version");
		*(at == 5 ? &p->major : &p->minor) = (unsigned)(c - '0');
	} else if (at == 6) {
		if (c != '.')
			return fail(p, 400, "malformed HTTP version");
	} else if (c == '\r') {
		p->state = H_LINE_LF;
	} else if (c == '\n') {
		return end_request_line(p, req);
	} else {
		return fail(p, 400, "malformed HTTP version");
	}
	return 0;
}

static int
step_request_line(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	switch (p->state) {
	case H_START:
	case H_START_LF:
		return step_start(p, req, c);
	case H_METHOD:
		return step_method(p, req, c);
	case H_TARGET:
		return step_target(p, req, c);
	case H_ASTERISK:
		if (c != ' ')
			return fail(p, 400, "request-target \"*\" followed by more");
		p->state = H_VERSION;
		return 0;
	case H_SCHEME:
		return step_scheme(p, c);
	case H_SLASH1:
	case H_SLASH2:
		if (c != '/')
			return fail(p, 400, "request-target has no \"//\" after the scheme");
		p->state = p->state == H_SLASH1 ? H_SLASH2 : H_AUTHORITY;
		p->tok_len = 0;
		req->is_absolute_form = true;
		return 0;
	case H_AUTHORITY:
		return step_authority(p, req, c);
	case H_PATH:
	case H_QUERY:
		return step_path_query(p, req, c);
	case H_VERSION:
		return step_version(p, req, c);
	case H_LINE_LF:
		if (c != '\n')
			return fail(p, 400, "bare CR in the request line");
		return end_request_line(p, req);
	default:
		abort();	/* fr_http_parse_head() sends only these states here */
	}
}

/* ---- field lines ---- */

bool
fr_http_next_element(const char **s, const char **elem, size_t *elem_len)
{
	const char *q = *s;

	for (;;) {
		while (fr_ascii_is_blank((uint8_t)*q))
			q++;
		if (*q != ',')
			break;
		q++;
	}
	if (*q == '\0')
		return false;
	*elem = q;
	while (*q != '\0' && *q != ',')
		q++;
	const char *end = q;
	while (end > *elem && fr_ascii_is_blank((uint8_t)end[-1]))
		end--;
	*elem_len = (size_t)(end - *elem);
	*s = q;
	return true;
}

enum fr_http_length_result
fr_http_parse_length(const char *value, bool has_length, uint64_t *length)
{
	const char *s = value, *elem;
	size_t elem_len, count = 0;

	while (fr_http_next_element(&s, &elem, &elem_len)) {
		uint64_t v = 0;

		for (size_t i = 0; i < elem_len; i++) {
			if (!fr_ascii_is_digit((uint8_t)elem[i]))
				return FR_HTTP_LENGTH_NOT_A_NUMBER;
			unsigned d = (unsigned)(elem[i] - '0');
			if (v > (FR_HTTP_LENGTH_MAX - d) / 10)
				return FR_HTTP_LENGTH_TOO_LARGE;
			v = v * 10 + d;
		}
		/* RFC 9112 6.3 (5): differing lengths make the framing invalid. */
		if ((has_length || count > 0) && v != *length)
			return FR_HTTP_LENGTH_DIFFERS;
		*length = v;
		count++;
	}
	return count > 0 ? FR_HTTP_LENGTH_OK : FR_HTTP_LENGTH_EMPTY;
}

static int
on_content_length(struct fr_http_parser *p, struct fr_http_request *req)
{
	switch (fr_http_parse_length(p->value, req->has_content_length, &req->content_length)) {
	case FR_HTTP_LENGTH_OK:
		req->has_content_length = true;
		return 0;
	case FR_HTTP_LENGTH_NOT_A_NUMBER:
		return fail(p, 400, "Content-Length is not a decimal number");
	case FR_HTTP_LENGTH_TOO_LARGE:
		return fail(p, 413, "Content-Length too large");
	case FR_HTTP_LENGTH_DIFFERS:
		return fail(p, 400, "Content-Length values differ");
	case FR_HTTP_LENGTH_EMPTY:
		break;
	}
	return fail(p, 400, "empty Content-Length");
}

/* RFC 9112 6.1: only "chunked" is implemented, and it may be applied only once. */
static int
on_transfer_encoding(struct fr_http_parser *p, struct fr_http_request *req)
{
	const char *s = p->value, *elem;
	size_t elem_len, count = 0;

	/* RFC 9112 6.1: in HTTP/1.0 the framing is faulty whatever else is said. */
	if (req->minor_version == 0)
		return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
	while (fr_http_next_element(&s, &elem, &elem_len)) {
		if (!fr_http_equals_nocase(elem, elem_len, "chunked"))
			return fail(p, 501, "unsupported transfer coding");
		if (++p->chunked_count > 1)
			return fail(p, 400, "chunked applied more than once");
		count++;
	}
	if (count == 0)
		return fail(p, 400, "empty Transfer-Encoding");
	p->has_transfer_encoding = true;
	req->is_chunked = true;
	return 0;
}

/* RFC 9110 7.6.1: Connection = #connection-option, case-insensitive tokens. */
static int
on_connection(struct fr_http_parser *p)
{
	const char *s = p->value, *elem;
	size_t elem_len;

	while (fr_http_next_element(&s, &elem, &elem_len)) {
		for (size_t i = 0; i < elem_len; i++)
			if (!fr_http_is_tchar((uint8_t)elem[i]))
				return fail(p, 400, "Connection option is not a token");
		if (fr_http_equals_nocase(elem, elem_len, "close"))
			p->has_close = true;
		else if (fr_http_equals_nocase(elem, elem_len, "keep-alive"))
			p->has_keep_alive = true;
	}
	return 0;
}

/* RFC 9110 10.1.1: only 100-continue is defined; anything else may get 417. */
static int
on_expect(struct fr_http_parser *p, struct fr_http_request *req)
{
	const char *s = p->value, *elem;
	size_t elem_len;

	while (fr_http_next_element(&s, &elem, &elem_len)) {
		if (!fr_http_equals_nocase(elem, elem_len, "100-continue"))
			return fail(p, 417, "unsupported expectation");
		/* An HTTP/1.0 client cannot read a 100 response: the server MUST ignore it. */
		if (req->minor_version == 1)
			req->expects_continue = true;
	}
	return 0;
}

/* RFC 9112 3.2: one Host, with a valid value; in absolute-form the target's host wins. */
static int
on_host(struct fr_http_parser *p, struct fr_http_request *req)
{
	if (req->has_host)
		return fail(p, 400, "more than one Host");
	for (size_t i = 0; i < p->value_len; i++)
		if (!is_authority_char((uint8_t)p->value[i]))
			return fail(p, 400, "invalid byte in Host");
	if (p->value_len > FR_HTTP_HOST_MAX)
		return fail(p, 431, "Host too long");
	req->has_host = true;
	if (!req->is_absolute_form)
		memcpy(req->host, p->value, p->value_len + 1);
	return 0;
}

/* A field that may appear once (RFC 9110 5.3), copied to out, a field of max bytes. */
static int
on_singleton(struct fr_http_parser *p, bool *seen, char *out, size_t max, const char *repeated,
    const char *too_long)
{
	if (*seen)
		return fail(p, 400, repeated);
	if (p->value_len > max)
		return fail(p, 431, too_long);
	*seen = true;
	memcpy(out, p->value, p->value_len + 1);
	return 0;
}

static int
end_field(struct fr_http_parser *p, struct fr_http_request *req)
{
	int status = 0;

	p->value[p->value_len] = '\0';	/* drops trailing OWS (RFC 9112 5.1) */
	switch ((enum field)p->field) {
	case F_OTHER:
		break;
	case F_HOST:
		status = on_host(p, req);
		break;
	case F_CONTENT_LENGTH:
		status = on_content_length(p, req);
		break;
	case F_TRANSFER_ENCODING:
		status = on_transfer_encoding(p, req);
		break;
	case F_CONNECTION:
		status = on_connection(p);
		break;
	case F_AUTHORIZATION:
		status = on_singleton(p, &p->has_authorization, req->authorization,
		    FR_HTTP_AUTHORIZATION_MAX, "more than one Authorization",
		    "Authorization too long");
		break;
	case F_CONTENT_TYPE:
		status = on_singleton(p, &p->has_content_type, req->content_type,
		    FR_HTTP_CONTENT_TYPE_MAX, "more than one Content-Type",
		    "Content-Type too long");
		break;
	case F_EXPECT:
		status = on_expect(p, req);
		break;
	}
	p->state = H_FIELD_START;
	return status;
}

static int
end_head(struct fr_http_parser *p, struct fr_http_request *req)
{
	/* RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host. */
	if (req->minor_version == 1 && !req->has_host)
		return fail(p, 400, "HTTP/1.1 request without Host");
	/* RFC 9112 6.3 (3): both framings at once may be smuggling; refuse it. */
	if (p->has_transfer_encoding && req->has_content_length)
		return fail(p, 400, "both Transfer-Encoding and Content-Length");
	/* RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive". */
	if (p->has_close)
		req->is_keep_alive = false;
	else
		req->is_keep_alive = req->minor_version == 1 || p->has_keep_alive;
	p->state = H_DONE;
	return 0;
}

static int
step_field_start(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	if (c == '\r') {
		p->state = H_END_LF;
		return 0;
	}
	if (c == '\n')
		return end_head(p, req);
	/* RFC 9112 5.2 (obs-fold) and 2.2 (whitespace before the first field): reject. */
	if (fr_ascii_is_blank(c))
		return fail(p, 400, "field line starts with whitespace");
	if (!fr_http_is_tchar(c))
		return fail(p, 400, "invalid byte in a field name");
	if (++req->header_count > FR_HTTP_HEADERS_MAX)
		return fail(p, 431, "too many header fields");
	p->name[0] = (char)fr_ascii_to_lower(c);
	p->tok_len = 1;
	p->state = H_NAME;
	return 0;
}

static enum field
find_field(const struct fr_http_parser *p)
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
step_name(struct fr_http_parser *p, uint8_t c)
{
	if (c == ':') {
		p->field = find_field(p);
		p->value_len = p->value_fill = 0;
		p->state = H_VALUE;
		return 0;
	}
	/* RFC 9112 5.1: whitespace between a field name and the colon MUST get 400. */
	if (fr_ascii_is_blank(c))
		return fail(p, 400, "whitespace before the colon of a field");
	if (!fr_http_is_tchar(c))
		return fail(p, 400, "invalid byte in a field name");
	/* Longer names are none of ours; count them on without keeping them. */
	if (p->tok_len < sizeof p->name)
		p->name[p->tok_len++] = (char)fr_ascii_to_lower(c);
	return 0;
}

/*
 * RFC 9112 5.1: field-line = field-name ":" OWS field-value OWS. Blanks are kept only once
 * a later byte shows they are inside the value, so a value that fits its field is never
 * refused for its trailing OWS.
 */
static int
step_value(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	if (c == '\r') {
		p->state = H_VALUE_LF;
		return 0;
	}
	if (c == '\n')
		return end_field(p, req);
	if (fr_ascii_is_blank(c)) {
		if (p->value_len > 0 && p->value_fill < FR_HTTP_VALUE_MAX)
			p->value[p->value_fill] = (char)c;
		if (p->value_len > 0)
			p->value_fill++;
		return 0;
	}
	if (!fr_http_is_field_vchar(c))
		return fail(p, 400, "control byte in a field value");
	if (p->field == F_OTHER)
		return 0;
	if (p->value_fill >= FR_HTTP_VALUE_MAX)
		return fail(p, 431, "header field value too long");
	p->value[p->value_fill++] = (char)c;
	p->value_len = p->value_fill;
	return 0;
}

static int
step_fields(struct fr_http_parser *p, struct fr_http_request *req, uint8_t c)
{
	switch (p->state) {
	case H_FIELD_START:
		return step_field_start(p, req, c);
	case H_NAME:
		return step_name(p, c);
	case H_VALUE:
		return step_value(p, req, c);
	case H_VALUE_LF:
		/* RFC 9112 2.2: a bare CR is invalid. */
		if (c != '\n')
			return fail(p, 400, "bare CR in a field line");
		return end_field(p, req);
	case H_END_LF:
		if (c != '\n')
			return fail(p, 400, "bare CR at the end of the head");
		return end_head(p, req);
	default:
		abort();	/* fr_http_parse_head() sends only these states here */
	}
}

enum fr_http_parse_result
fr_http_parse_head(struct fr_http_parser *p, const uint8_t *buf, size_t len,
    struct fr_http_request *req)
{
	if (p->state == H_DONE)
		return FR_HTTP_PARSE_DONE;
	if (p->state == H_ERROR)
		return FR_HTTP_PARSE_ERROR;
	assert(len >= p->pos);
	if (!p->has_begun) {
		memset(req, 0, sizeof *req);
		p->has_begun = true;
	}
	size_t end = len < p->max_head_bytes ? len : p->max_head_bytes;
	while (p->pos < end) {
		uint8_t c = buf[p->pos];
		int status = p->state < H_FIELD_START ? step_request_line(p, req, c)
						      : step_fields(p, req, c);

		if (status != 0) {
			p->status = status;
			p->state = H_ERROR;
			return FR_HTTP_PARSE_ERROR;
		}
		p->pos++;
		if (p->state == H_DONE) {
			p->head_len = p->pos;
			return FR_HTTP_PARSE_DONE;
		}
	}
	if (p->pos >= p->max_head_bytes) {
		/* The head has used up its bytes without ending: it can only be larger. */
		p->status = fail(p, 431, "request head too large");
		p->state = H_ERROR;
		return FR_HTTP_PARSE_ERROR;
	}
	return FR_HTTP_PARSE_MORE;
}

/* ---- chunked bodies ---- */

enum chunked_state {
	C_SIZE,			/* hex digits of a chunk-size; at least one */
	C_EXT,			/* after the chunk-size: BWS and chunk-ext up to CR */
	C_SIZE_LF,		/* CR of the chunk-size line */
	C_DATA,
	C_DATA_CR,		/* the chunk-data is complete: CRLF must follow */
	C_DATA_LF,
	C_TRAILER,		/* a trailer field line begins, or the final CRLF */
	C_TRAILER_NAME,
	C_TRAILER_VALUE,
	C_TRAILER_LF,
	C_END_LF,		/* CR of the final CRLF */
	C_DONE,
	C_ERROR,
};

void
fr_http_chunked_init(struct fr_http_chunked *c)
{
	memset(c, 0, sizeof *c);
	c->state = C_SIZE;
}

static bool
chunked_fail(struct fr_http_chunked *c, const char *why)
{
	c->error = why;
	c->state = C_ERROR;
	return false;
}

static void
begin_size_line(struct fr_http_chunked *c)
{
	c->size = 0;
	c->digits = 0;
	c->line_bytes = 0;
	c->has_semicolon = false;
	c->state = C_SIZE;
}

/* RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF. */
static bool
step_size_line(struct fr_http_chunked *c, uint8_t b)
{
	if (c->state == C_SIZE_LF) {
		if (b != '\n')
			return chunked_fail(c, "chunk-size line not ended by CRLF");
		/* last-chunk = 1*("0") [ chunk-ext ] CRLF, then the trailer section. */
		c->state = c->size == 0 ? C_TRAILER : C_DATA;
		return true;
	}
	int v = c->state == C_SIZE ? fr_ascii_hex_value(b) : -1;
	if (v < 0 && c->digits == 0)
		return chunked_fail(c, "chunk-size is not hexadecimal");
	if (b == '\r') {
		/* chunk-ext = *( BWS ";" ... ): blanks may only lead to a ';'. */
		if (c->state == C_EXT && !c->has_semicolon)
			return chunked_fail(c, "whitespace after the chunk-size");
		c->state = C_SIZE_LF;
		return true;
	}
	if (++c->line_bytes > FR_HTTP_CHUNK_LINE_MAX)
		return chunked_fail(c, "chunk-size line too long");
	if (v >= 0) {
		if (c->size > (FR_HTTP_LENGTH_MAX - (unsigned)v) / 16)
			return chunked_fail(c, "chunk-size too large");
		c->size = c->size * 16 + (unsigned)v;
		c->digits++;
		return true;
	}
	if (b == ';') {
		c->has_semicolon = true;
	} else if (!fr_ascii_is_blank(b)) {
		if (!fr_http_is_field_vchar(b))
			return chunked_fail(c, "control byte in a chunk-size line");
		if (!c->has_semicolon)
			return chunked_fail(c, "chunk-size is not hexadecimal");
	}
	/* Extensions mean nothing to us (RFC 9112 7.1.1: ignore unrecognised ones). */
	c->state = C_EXT;
	return true;
}

/* RFC 9112 7.1.2: trailer-section = *( field-line CRLF ), then the final CRLF. */
static bool
step_trailer(struct fr_http_chunked *c, uint8_t b)
{
	if (++c->trailer_bytes > FR_HTTP_TRAILER_MAX)
		return chunked_fail(c, "trailer section too large");
	switch (c->state) {
	case C_TRAILER:
		if (b == '\r') {
			c->state = C_END_LF;
			return true;
		}
		if (!fr_http_is_tchar(b))
			return chunked_fail(c, "invalid trailer field line");
		c->state = C_TRAILER_NAME;
		return true;
	case C_TRAILER_NAME:
		if (b == ':')
			c->state = C_TRAILER_VALUE;
		else if (!fr_http_is_tchar(b))
			return chunked_fail(c, "invalid trailer field name");
		return true;
	case C_TRAILER_VALUE:
		if (b == '\r')
			c->state = C_TRAILER_LF;
		else if (!fr_ascii_is_blank(b) && !fr_http_is_field_vchar(b))
			return chunked_fail(c, "control byte in a trailer field");
		return true;
	default:
		if (b != '\n')
			return chunked_fail(c, "trailer line not ended by CRLF");
		c->state = c->state == C_TRAILER_LF ? C_TRAILER : C_DONE;
		return true;
	}
}

/* One framing byte (not chunk-data); false on an error. */
static bool
step_chunked(struct fr_http_chunked *c, uint8_t b)
{
	switch (c->state) {
	case C_SIZE:
	case C_EXT:
	case C_SIZE_LF:
		return step_size_line(c, b);
	case C_DATA_CR:
		if (b != '\r')
			return chunked_fail(c, "chunk-data not followed by CRLF");
		c->state = C_DATA_LF;
		return true;
	case C_DATA_LF:
		if (b != '\n')
			return chunked_fail(c, "chunk-data not followed by CRLF");
		begin_size_line(c);
		return true;
	default:
		return step_trailer(c, b);
	}
}

enum fr_http_chunked_result
fr_http_chunked_feed(struct fr_http_chunked *c, const uint8_t *in, size_t len, size_t *consumed,
    size_t *data_off, size_t *data_len)
{
	size_t i = 0;

	*data_off = *data_len = 0;
	*consumed = 0;
	if (c->state == C_DONE)
		return FR_HTTP_CHUNKED_DONE;
	if (c->state == C_ERROR)
		return FR_HTTP_CHUNKED_ERROR;
	while (i < len) {
		if (c->state == C_DATA) {
			size_t n = len - i;

			if (n > c->size)
				n = (size_t)c->size;
			c->size -= n;
			if (c->size == 0)
				c->state = C_DATA_CR;
			*data_off = i;
			*data_len = n;
			*consumed = i + n;
			return FR_HTTP_CHUNKED_DATA;
		}
		if (!step_chunked(c, in[i])) {
			*consumed = i;
			return FR_HTTP_CHUNKED_ERROR;
		}
		i++;
		if (c->state == C_DONE) {
			*consumed = i;
			return FR_HTTP_CHUNKED_DONE;
		}
	}
	*consumed = i;
	return FR_HTTP_CHUNKED_MORE;
}

/* ---- query strings ---- */

/*
 * Decodes one byte at s[*i] (RFC 3986 2.1 %XX; in a form, '+' is a space as browsers
 * send forms), advancing *i. Returns the byte, or -1 for a bad escape or %00.
 */
static int
decode_byte(const char *s, size_t *i, bool is_form)
{
	uint8_t c = (uint8_t)s[*i];

	if (c == '+' && is_form) {
		(*i)++;
		return ' ';
	}
	if (c != '%') {
		(*i)++;
		return c;
	}
	int hi = fr_ascii_hex_value((uint8_t)s[*i + 1]);
	int lo = hi < 0 ? -1 : fr_ascii_hex_value((uint8_t)s[*i + 2]);
	if (lo < 0 || (hi == 0 && lo == 0))
		return -1;
	*i += 3;
	return hi * 16 + lo;
}

/* Compares the encoded s[0, len) with name: 1 if equal, 0 if not, -1 for a bad escape. */
static int
name_matches(const char *s, size_t len, const char *name)
{
	size_t i = 0, j = 0;
	bool is_equal = true;

	while (i < len) {
		int b = decode_byte(s, &i, true);

		if (b < 0 || i > len)
			return -1;
		if (is_equal && (name[j] == '\0' || (uint8_t)name[j] != b))
			is_equal = false;
		if (is_equal)
			j++;
	}
	return is_equal && name[j] == '\0';
}

/* Decodes s[0, len) into out; false for a bad escape or a value that does not fit. */
static bool
decode_value(const char *s, size_t len, char *out, size_t out_len, bool is_form)
{
	size_t i = 0, n = 0;

	while (i < len) {
		int b = decode_byte(s, &i, is_form);

		if (b < 0 || i > len || n + 1 >= out_len)
			return false;
		out[n++] = (char)b;
	}
	out[n] = '\0';
	return true;
}

enum fr_http_query_result
fr_http_query_get(const char *query, const char *name, char *out, size_t out_len)
{
	assert(out_len > 0);
	out[0] = '\0';
	for (const char *param = query; *param != '\0';) {
		size_t param_len = strcspn(param, "&");
		size_t name_len = strcspn(param, "=&");
		int match = name_matches(param, name_len, name);

		if (match < 0)
			return FR_HTTP_QUERY_INVALID;
		if (match > 0 && param_len > 0) {
			const char *value = param + name_len;
			size_t value_len = param_len - name_len;

			if (value_len > 0) {	/* skip the '=' */
				value++;
				value_len--;
			}
			if (!decode_value(value, value_len, out, out_len, true)) {
				out[0] = '\0';
				return FR_HTTP_QUERY_INVALID;
			}
			return FR_HTTP_QUERY_FOUND;
		}
		param += param_len;
		if (*param == '&')
			param++;
	}
	return FR_HTTP_QUERY_ABSENT;
}

bool
fr_http_path_decode(const char *s, size_t len, char *out, size_t out_len)
{
	assert(out_len > 0);
	if (!decode_value(s, len, out, out_len, false)) {
		out[0] = '\0';
		return false;
	}
	return true;
}
