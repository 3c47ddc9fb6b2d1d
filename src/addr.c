/* SPDX-License-Identifier: MIT */
/*
 * Address parsing and formatting. Everything an operator types as an address goes
 * through fr_addr_parse(), so the errors read the same for every option.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "fr/addr.h"

static int
parse_port(const char *s, in_port_t *port, char *err)
{
	char *end;

	if (*s == '\0') {
		snprintf(err, FR_ERR_LEN, "missing port");
		return -1;
	}
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ') {
		snprintf(err, FR_ERR_LEN, "port '%.32s' is not a number", s);
		return -1;
	}
	if (errno == ERANGE || v < 1 || v > 65535) {
		snprintf(err, FR_ERR_LEN, "port %.32s out of range (1-65535)", s);
		return -1;
	}
	*port = htons((in_port_t)v);
	return 0;
}

static int
parse_unix(struct fr_addr *a, const char *path, char *err)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
	size_t n = strlen(path);

	if (n == 0) {
		snprintf(err, FR_ERR_LEN, "empty unix socket path");
		return -1;
	}
	if (n >= sizeof sun->sun_path) {
		snprintf(err, FR_ERR_LEN, "unix socket path longer than %zu bytes",
		    sizeof sun->sun_path - 1);
		return -1;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	snprintf(a->text, sizeof a->text, "unix:%s", path);
	return 0;
}

static int
parse_inet6(struct fr_addr *a, const char *s, char *err)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
	const char *close = strchr(s, ']');
	char host[INET6_ADDRSTRLEN];

	if (close == NULL || close[1] != ':') {
		snprintf(err, FR_ERR_LEN, "expected [IPv6]:PORT");
		return -1;
	}
	size_t n = (size_t)(close - s - 1);
	if (n == 0 || n >= sizeof host) {
		snprintf(err, FR_ERR_LEN, "bad IPv6 address");
		return -1;
	}
	memcpy(host, s + 1, n);
	host[n] = '\0';
	sin6->sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		snprintf(err, FR_ERR_LEN, "bad IPv6 address '%.64s'", host);
		return -1;
	}
	if (parse_port(close + 2, &sin6->sin6_port, err) < 0)
		return -1;
	a->len = sizeof *sin6;
	inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
	snprintf(a->text, sizeof a->text, "[%s]:%u", host, ntohs(sin6->sin6_port));
	return 0;
}

static int
parse_inet(struct fr_addr *a, const char *s, char *err)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	const char *colon = strrchr(s, ':');
	char host[INET_ADDRSTRLEN + 16];

	if (colon == NULL) {
		snprintf(err, FR_ERR_LEN, "expected HOST:PORT, [IPv6]:PORT or unix:/path");
		return -1;
	}
	size_t n = (size_t)(colon - s);
	if (n == 0 || n >= sizeof host) {
		snprintf(err, FR_ERR_LEN, "missing or bad host");
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if (strchr(host, ':') != NULL) {
		snprintf(err, FR_ERR_LEN, "IPv6 addresses go in brackets: [%.64s]:PORT", host);
		return -1;
	}
	sin->sin_family = AF_INET;
	if (strcmp(host, "localhost") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		snprintf(err, FR_ERR_LEN, "bad IPv4 address '%.64s' (numeric only)", host);
		return -1;
	}
	if (parse_port(colon + 1, &sin->sin_port, err) < 0)
		return -1;
	a->len = sizeof *sin;
	inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
	snprintf(a->text, sizeof a->text, "%s:%u", host, ntohs(sin->sin_port));
	return 0;
}

int
fr_addr_parse(struct fr_addr *a, const char *s, char *err)
{
	struct fr_addr parsed;
	int rc;

	memset(&parsed, 0, sizeof parsed);
	if (strncmp(s, "unix:", 5) == 0)
		rc = parse_unix(&parsed, s + 5, err);
	else if (s[0] == '[')
		rc = parse_inet6(&parsed, s, err);
	else
		rc = parse_inet(&parsed, s, err);
	if (rc == 0)
		*a = parsed;
	return rc;
}

void
fr_addr_from_sockaddr(struct fr_addr *a, const struct sockaddr *sa, socklen_t len)
{
	char host[INET6_ADDRSTRLEN];

	memset(a, 0, sizeof *a);
	if (len > sizeof a->ss)
		len = sizeof a->ss;
	memcpy(&a->ss, sa, len);
	a->len = len;
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		snprintf(a->text, sizeof a->text, "%s:%u", host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		snprintf(a->text, sizeof a->text, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX:
		snprintf(a->text, sizeof a->text, "unix");
		break;
	default:
		snprintf(a->text, sizeof a->text, "?");
		break;
	}
}

int
fr_addr_is_unix(const struct fr_addr *a)
{
	return a->ss.ss_family == AF_UNIX;
}

int
fr_addr_is_loopback(const struct fr_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	return a->ss.ss_family == AF_UNIX;
}
