/* SPDX-License-Identifier: MIT */
/*
 * Access lists for --allow: which peer addresses a listener accepts. Pure: CIDR
 * parsing and matching, no sockets. An empty list accepts everyone; unix-socket
 * peers are always accepted (file permissions guard those).
 */
#ifndef FR_ACL_H
#define FR_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "fr/addr.h"

#define FR_ACL_MAX 64

/* One network: IPv4 as an IPv4-mapped IPv6 address, so one comparison serves both. */
struct fr_cidr {
	uint8_t net[16];
	unsigned prefix_len;	/* 0-128, counted on the mapped form for IPv4 */
	char text[64];		/* as canonical text, e.g. "10.0.0.0/8", for logs */
};

struct fr_acl {
	size_t n;
	struct fr_cidr cidrs[FR_ACL_MAX];
};

/*
 * Parses "a.b.c.d[/n]" or "x::y[/n]" (no prefix: a single host). Host bits below
 * the prefix must be zero, so "10.1.0.0/8" is refused as a likely typo.
 * Returns 0, or -1 with one line in err (FR_ERR_LEN bytes).
 */
int fr_cidr_parse(struct fr_cidr *c, const char *s, char *err);

/* Adds c unless already present. Returns 0, or -1 with err set when full. */
int fr_acl_add(struct fr_acl *acl, const struct fr_cidr *c, char *err);

/* True if peer may connect: the list is empty, peer is a unix socket, or it matches. */
int fr_acl_permits(const struct fr_acl *acl, const struct fr_addr *peer);

/* True if the lists hold the same networks in the same order. */
int fr_acl_equal(const struct fr_acl *a, const struct fr_acl *b);

#endif /* FR_ACL_H */
