/* SPDX-License-Identifier: MIT */
/*
 * Listening and connecting addresses: "HOST:PORT", "[IPv6]:PORT" or "unix:/path".
 * Pure: numeric hosts only (plus "localhost"), no DNS, no sockets.
 */
#ifndef FR_ADDR_H
#define FR_ADDR_H

#include <sys/socket.h>

#include "fr/util.h"

#define FR_ADDR_TEXT_LEN 128

struct fr_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[FR_ADDR_TEXT_LEN];	/* canonical form, for logs and errors */
};

/* Parses s into a. Returns 0, or -1 with one line in err (FR_ERR_LEN bytes) and a as
 * it was. */
int fr_addr_parse(struct fr_addr *a, const char *s, char *err);

/* Fills a from a socket address the kernel gave us (accept, getsockname). */
void fr_addr_from_sockaddr(struct fr_addr *a, const struct sockaddr *sa, socklen_t len);

int fr_addr_is_unix(const struct fr_addr *a);

/* True for 127.0.0.0/8, ::1 and unix sockets. */
int fr_addr_is_loopback(const struct fr_addr *a);

#endif /* FR_ADDR_H */
