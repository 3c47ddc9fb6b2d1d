/* SPDX-License-Identifier: MIT */
/*
 * Access lists for --allow: which peer addresses a listener accepts. Pure: CIDR
 * parsing and matching, no sockets. An empty list accepts everyone; unix-socket
 * peers are always accepted (file permissions guard those). An IPv4 rule matches
 * IPv4 peers only and an IPv6 rule IPv6 peers only, whatever its prefix.
 */
#ifndef FR_ACL_H
#define FR_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "fr/addr.h"

#define FR_ACL_MAX 64

/*
 * One network. An IPv4 network is stored in its IPv4-mapped form (::ffff:a.b.c.d,
 * prefix_len 96 + n), so one prefix comparison serves both families; family says
 * which peers it can match at all.
 */
struct fr_cidr {
	int family;		/* AF_INET or AF_INET6 */
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
 * the prefix must be zero, so "10.1.0.0/8" is refused as a likely typo. A network
 * written in IPv4-mapped form is the IPv4 network it spells: "::ffff:0:0/96" is
 * 0.0.0.0/0 and "::ffff:10.0.0.0/104" is 10.0.0.0/8, family AF_INET, and its text
 * is the IPv4 form. Any other IPv6 network is AF_INET6, even one that covers
 * ::ffff:0:0/96 ("::/0", "::/80").
 * Returns 0, or -1 with one line in err (FR_ERR_LEN bytes).
 */
int fr_cidr_parse(struct fr_cidr *c, const char *s, char *err);

/* Adds c unless already present. Returns 0, or -1 with err set when full. */
int fr_acl_add(struct fr_acl *acl, const struct fr_cidr *c, char *err);

/*
 * True if peer may connect: the list is empty, peer is a unix socket, or a rule of
 * its family matches it. An IPv4 peer is AF_INET, or AF_INET6 with an IPv4-mapped
 * address (a dual-stack socket's view of it); it meets the IPv4 rules only. Any
 * other AF_INET6 peer meets the IPv6 rules only.
 */
int fr_acl_permits(const struct fr_acl *acl, const struct fr_addr *peer);

/* True if the lists hold the same networks in the same order. */
int fr_acl_equal(const struct fr_acl *a, const struct fr_acl *b);

#endif /* FR_ACL_H */
