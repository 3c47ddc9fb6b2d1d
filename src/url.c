/* SPDX-License-Identifier: MIT */
/*
 * Upstream URLs (RFC 3986 3, for the two schemes a puller speaks). The user info is
 * %-decoded and kept only as the Basic credentials; nothing that describes a URL for
 * people (text, error messages) contains it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fr/ascii.h"
#include "fr/http_parse.h"
#include "fr/url.h"
#include "fr/util.h"

/* RFC 3986 3.2.2 reg-name and IPv4address, without %-escapes: what DNS names use. */
static bool
is_host_char(char c)
{
	return fr_ascii_is_alpha(c) || fr_ascii_is_digit(c) || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

size_t
fr_url_base64(const void *in, size_t len, char *out, size_t out_len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t need = (len + 2) / 3 * 4;
	size_t n = 0;

	if (out_len == 0 || need > out_len - 1) {
		if (out_len > 0)
			out[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[n++] = alphabet[v >> 18 & 63];
		out[n++] = alphabet[v >> 12 & 63];
		out[n++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[n++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[n] = '\0';
	return n;
}

/* %-decodes the user info s[0, len) and stores its Basic credentials in u. */
static int
set_userinfo(struct fr_url *u, const char *s, size_t len, char *err)
{
	char plain[FR_URL_USERINFO_MAX + 2];
	size_t n = 0;
	bool has_colon = false;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? fr_ascii_hex_value(s[i + 1]) : -1;
			int lo = hi < 0 ? -1 : fr_ascii_hex_value(s[i + 2]);

			if (lo < 0) {
				snprintf(err, FR_ERR_LEN, "bad %%-escape in the user info");
				return -1;
			}
			c = hi * 16 + lo;
			i += 2;
		} else if (c == ':' && !has_colon) {
			has_colon = true;
		}
		/* RFC 7617 2: the user-id has no ':' and neither part has control bytes. */
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, FR_ERR_LEN, "control byte in the user info");
			return -1;
		}
		if (n >= FR_URL_USERINFO_MAX) {
			snprintf(err, FR_ERR_LEN, "user info longer than %d bytes",
			    FR_URL_USERINFO_MAX);
			return -1;
		}
		plain[n++] = (char)c;
	}
	if (!has_colon)		/* "user@": a user without a password, as curl sends it */
		plain[n++] = ':';
	fr_url_base64(plain, n, u->basic, sizeof u->basic);
	memset(plain, 0, sizeof plain);
	return 0;
}

/* host[:port] in s[0, len), after any user info. */
static int
set_hostport(struct fr_url *u, const char *s, size_t len, char *err)
{
	size_t host_len;
	const char *rest;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL) {
			snprintf(err, FR_ERR_LEN, "IPv6 address without its closing ]");
			return -1;
		}
		host_len = (size_t)(close - s - 1);
		for (size_t i = 1; i <= host_len; i++) {
			if (fr_ascii_hex_value(s[i]) < 0 && s[i] != ':' && s[i] != '.') {
				snprintf(err, FR_ERR_LEN, "bad IPv6 address");
				return -1;
			}
		}
		memcpy(u->host, s + 1, host_len < sizeof u->host ? host_len : 0);
		u->is_ipv6 = true;
		rest = close + 1;
	} else {
		host_len = 0;
		while (host_len < len && s[host_len] != ':') {
			if (!is_host_char(s[host_len])) {
				snprintf(err, FR_ERR_LEN, "invalid character in the host name");
				return -1;
			}
			host_len++;
		}
		memcpy(u->host, s, host_len < sizeof u->host ? host_len : 0);
		rest = s + host_len;
	}
	if (host_len == 0 || host_len > FR_URL_HOST_MAX) {
		snprintf(err, FR_ERR_LEN, host_len ? "host name too long" : "no host");
		return -1;
	}
	u->host[host_len] = '\0';
	size_t rest_len = (size_t)(s + len - rest);
	if (rest_len == 0 || (rest_len == 1 && rest[0] == ':')) {
		if (u->scheme == FR_URL_TCP) {
			snprintf(err, FR_ERR_LEN, "tcp:// needs a port (tcp://HOST:PORT)");
			return -1;
		}
		u->port = 80;
		return 0;
	}
	if (rest[0] != ':') {
		snprintf(err, FR_ERR_LEN, "unexpected character after the host");
		return -1;
	}
	unsigned long port = 0;
	for (size_t i = 1; i < rest_len; i++) {
		if (!fr_ascii_is_digit(rest[i]) ||
		    (port = port * 10 + (unsigned)(rest[i] - '0')) > 65535) {
			snprintf(err, FR_ERR_LEN, "port is not a number in 1-65535");
			return -1;
		}
	}
	if (port == 0) {
		snprintf(err, FR_ERR_LEN, "port is not a number in 1-65535");
		return -1;
	}
	u->port = (unsigned)port;
	return 0;
}

/* The path and query s[0, len) (no fragment), as the request-target. */
static int
set_target(struct fr_url *u, const char *s, size_t len, char *err)
{
	if (u->scheme == FR_URL_TCP) {
		if (len > 1 || (len == 1 && s[0] != '/')) {
			snprintf(err, FR_ERR_LEN, "tcp:// URLs have no path or query");
			return -1;
		}
		u->target[0] = '\0';
		return 0;
	}
	bool needs_slash = len == 0 || s[0] != '/';
	if (len + needs_slash > FR_URL_TARGET_MAX) {
		snprintf(err, FR_ERR_LEN, "path and query longer than %d bytes", FR_URL_TARGET_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!fr_http_is_target_char(s[i])) {
			snprintf(err, FR_ERR_LEN, "invalid character in the path or query");
			return -1;
		}
	}
	/* RFC 9110 4.2.3: an empty path is "/"; a query alone follows one. */
	u->target[0] = '/';
	memcpy(u->target + needs_slash, s, len);
	u->target[len + needs_slash] = '\0';
	return 0;
}

/* The URL as people may see it: no user info, no query values. */
static void
set_text(struct fr_url *u)
{
	const char *scheme = u->scheme == FR_URL_TCP ? "tcp" : "http";
	size_t path_len = strcspn(u->target, "?");
	char port[8] = "";

	if (u->scheme == FR_URL_TCP || u->port != 80)
		snprintf(port, sizeof port, ":%u", u->port);
	snprintf(u->text, sizeof u->text, "%s://%s%s%s%s%.*s%s", scheme, u->is_ipv6 ? "[" : "",
	    u->host, u->is_ipv6 ? "]" : "", port, (int)path_len, u->target,
	    u->target[path_len] == '?' ? "?..." : "");
}

/* Length of the scheme before "://", or 0 if s does not start with one. */
static size_t
scheme_len(const char *s)
{
	size_t n = 0;

	if (!fr_ascii_is_alpha(s[0]))
		return 0;
	while (fr_ascii_is_alpha(s[n]) || fr_ascii_is_digit(s[n]) || s[n] == '+' || s[n] == '-' ||
	    s[n] == '.')
		n++;
	return strncmp(s + n, "://", 3) == 0 ? n : 0;
}

static int
parse_url(struct fr_url *u, const char *s, char *err)
{
	size_t n = scheme_len(s);

	memset(u, 0, sizeof *u);
	if (strlen(s) > FR_URL_MAX) {
		snprintf(err, FR_ERR_LEN, "URL longer than %d bytes", FR_URL_MAX);
		return -1;
	}
	if (n == 3 && strncasecmp(s, "tcp", 3) == 0) {
		u->scheme = FR_URL_TCP;
	} else if (n == 4 && strncasecmp(s, "http", 4) == 0) {
		u->scheme = FR_URL_HTTP;
	} else if (n == 5 && strncasecmp(s, "https", 5) == 0) {
		snprintf(err, FR_ERR_LEN, "https:// is not supported: pull through a "
		    "TLS-terminating proxy (stunnel or HAProxy, see contrib/stunnel-pull.conf)");
		return -1;
	} else {
		snprintf(err, FR_ERR_LEN,
		    "expected a tcp://HOST:PORT or http://HOST[:PORT]/PATH URL");
		return -1;
	}
	const char *authority = s + n + 3;
	size_t auth_len = strcspn(authority, "/?#");
	const char *at = NULL;
	/* The last '@': a password typed with a raw '@' still parses. */
	for (size_t i = 0; i < auth_len; i++)
		if (authority[i] == '@')
			at = authority + i;
	if (at != NULL) {
		if (u->scheme == FR_URL_TCP) {
			snprintf(err, FR_ERR_LEN, "tcp:// URLs carry no user info");
			return -1;
		}
		if (set_userinfo(u, authority, (size_t)(at - authority), err) < 0)
			return -1;
	}
	const char *hostport = at != NULL ? at + 1 : authority;
	if (set_hostport(u, hostport, (size_t)(authority + auth_len - hostport), err) < 0)
		return -1;
	const char *target = authority + auth_len;
	if (set_target(u, target, strcspn(target, "#"), err) < 0)
		return -1;
	set_text(u);
	return 0;
}

int
fr_url_parse(struct fr_url *u, const char *s, char *err)
{
	struct fr_url parsed;
	int rc = parse_url(&parsed, s, err);

	if (rc == 0)
		*u = parsed;
	memset(&parsed, 0, sizeof parsed);	/* it may hold a password */
	return rc;
}

static bool
same_server(const struct fr_url *a, const struct fr_url *b)
{
	return a->scheme == b->scheme && strcasecmp(a->host, b->host) == 0 && a->port == b->port;
}

/* A relative reference: the base path up to its last '/', then ref (RFC 3986 5.2.3). */
static int
merge_relative(struct fr_url *out, const struct fr_url *base, const char *ref, char *err)
{
	char target[FR_URL_TARGET_MAX + 1];
	size_t path_len = strcspn(base->target, "?");
	size_t dir_len = path_len;
	size_t ref_len = strcspn(ref, "#");

	if (ref[0] == '?') {	/* the same path, another query */
		dir_len = path_len;
	} else {
		while (dir_len > 0 && base->target[dir_len - 1] != '/')
			dir_len--;
	}
	if (dir_len + ref_len > FR_URL_TARGET_MAX) {
		snprintf(err, FR_ERR_LEN, "redirect target longer than %d bytes",
		    FR_URL_TARGET_MAX);
		return -1;
	}
	memcpy(target, base->target, dir_len);
	memcpy(target + dir_len, ref, ref_len);
	*out = *base;
	return set_target(out, target, dir_len + ref_len, err);
}

int
fr_url_resolve(struct fr_url *out, const struct fr_url *base, const char *location, char *err)
{
	char absolute[FR_URL_MAX + 8];
	char why[FR_ERR_LEN];
	int rc;

	if (location[0] == '\0') {
		snprintf(err, FR_ERR_LEN, "redirect without a Location");
		return -1;
	}
	if (scheme_len(location) > 0 || strncmp(location, "//", 2) == 0) {
		const char *s = location;

		if (location[0] == '/') {	/* scheme-relative: the base's scheme */
			snprintf(absolute, sizeof absolute, "http:%s", location);
			s = absolute;
		}
		size_t n = scheme_len(s);
		if (n != 4 || strncasecmp(s, "http", 4) != 0) {
			snprintf(err, FR_ERR_LEN, "redirect to %.*s://: only http:// redirects are "
			    "followed", (int)(n < 16 ? n : 16), s);
			return -1;
		}
		if (fr_url_parse(out, s, why) < 0) {
			snprintf(err, FR_ERR_LEN, "redirect: %.200s", why);
			return -1;
		}
		/* Credentials go to the server they were given for, nowhere else. */
		if (out->basic[0] == '\0' && same_server(out, base))
			memcpy(out->basic, base->basic, sizeof out->basic);
		return 0;
	}
	if (location[0] == '/') {
		*out = *base;
		rc = set_target(out, location, strcspn(location, "#"), why);
	} else {
		rc = merge_relative(out, base, location, why);
	}
	if (rc < 0) {
		snprintf(err, FR_ERR_LEN, "redirect: %.200s", why);
		return -1;
	}
	set_text(out);
	return 0;
}

void
fr_url_host_header(const struct fr_url *u, char *buf, size_t len)
{
	char port[8] = "";

	if (u->port != 80)
		snprintf(port, sizeof port, ":%u", u->port);
	snprintf(buf, len, "%s%s%s%s", u->is_ipv6 ? "[" : "", u->host, u->is_ipv6 ? "]" : "",
	    port);
}

bool
fr_url_equal(const struct fr_url *u, const struct fr_url *v)
{
	return same_server(u, v) && strcmp(u->host, v->host) == 0 &&
	    strcmp(u->target, v->target) == 0 && strcmp(u->basic, v->basic) == 0;
}
