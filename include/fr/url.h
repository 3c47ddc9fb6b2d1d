/* SPDX-License-Identifier: MIT */
/*
 * The URLs a stream is pulled from (--stream NAME,from=URL): tcp://HOST:PORT and
 * http://[USER:PASS@]HOST[:PORT][/PATH][?QUERY], and the Location of a redirect
 * resolved against them. Pure: no DNS, no sockets, no logging. https:// is refused
 * here, with the reason, so that startup can say so before binding anything.
 */
#ifndef FR_URL_H
#define FR_URL_H

#include <stdbool.h>
#include <stddef.h>

enum fr_url_scheme {
	FR_URL_TCP,	/* a raw MJPEG byte stream */
	FR_URL_HTTP,	/* an HTTP GET: multipart/x-mixed-replace or a still image */
};

enum {
	FR_URL_MAX = 2048,		/* the whole URL as given */
	FR_URL_HOST_MAX = 255,		/* a name or an address, without [ ] */
	FR_URL_TARGET_MAX = 1024,	/* the request-target: path and query */
	FR_URL_USERINFO_MAX = 255,	/* USER:PASS once %-decoded */
	/* base64 of the decoded user info: 4 characters per 3 bytes, rounded up */
	FR_URL_BASIC_MAX = (FR_URL_USERINFO_MAX + 2) / 3 * 4,
	FR_URL_TEXT_MAX = 8 + FR_URL_HOST_MAX + 2 + 6 + FR_URL_TARGET_MAX + 4,
};

/*
 * A parsed URL. The credentials are only in basic; text is safe to show anywhere
 * (logs, /stats, the page): no user info, and a query shown as "?..." because
 * cameras and other servers put tokens there.
 */
struct fr_url {
	enum fr_url_scheme scheme;
	char host[FR_URL_HOST_MAX + 1];	/* "cam.lan", "192.0.2.10" or "2001:db8::1" */
	bool is_ipv6;			/* host was an IP literal in [ ] */
	unsigned port;			/* 1-65535; 80 when an http URL leaves it out */
	char target[FR_URL_TARGET_MAX + 1];	/* http: "/path?query", at least "/"; tcp: "" */
	char basic[FR_URL_BASIC_MAX + 1];	/* base64("USER:PASS"), "" without user info */
	char text[FR_URL_TEXT_MAX + 1];		/* "http://cam.lan:8080/video?..." */
};

/*
 * Parses s into u. Returns 0, or -1 with one line in err (FR_ERR_LEN bytes) that
 * never repeats the user info, and u as it was. https:// gets its own message: TLS
 * belongs in a proxy. A fragment ("#...") is dropped, as HTTP never sends it.
 */
int fr_url_parse(struct fr_url *u, const char *s, char *err);

/*
 * The URL a redirect's Location (absolute, scheme-relative "//host/...", absolute
 * path or relative path) points to from base, into out (which may not be base).
 * Only http:// is followed. The credentials of base go along only to the same host
 * and port. Returns 0, or -1 with one line in err.
 */
int fr_url_resolve(struct fr_url *out, const struct fr_url *base, const char *location,
    char *err);

/* The Host header's value for u: "host", "host:port", "[v6]" or "[v6]:port". */
void fr_url_host_header(const struct fr_url *u, char *buf, size_t len);

/* True if u names the same upstream as v: scheme, host, port, target and credentials. */
bool fr_url_equal(const struct fr_url *u, const struct fr_url *v);

/*
 * Base64 (RFC 4648 4, with padding) of in[0, len) into out, NUL-terminated. Returns
 * the length written, or 0 if out_len cannot hold it.
 */
size_t fr_url_base64(const void *in, size_t len, char *out, size_t out_len);

#endif /* FR_URL_H */
