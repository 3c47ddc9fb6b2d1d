/* SPDX-License-Identifier: MIT */
/*
 * CIDR parsing and matching for --allow. Addresses are compared as 16 bytes, IPv4
 * networks and peers mapped to ::ffff:a.b.c.d, but only within one family: an
 * IPv6 rule never admits an IPv4 peer (::/0 would otherwise admit them all, as
 * ::/80 covers every mapped address), nor an IPv4 rule an IPv6 peer. A peer or a
 * rule written in mapped form is IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/acl.h"

#define V4_MAPPED_PREFIX_LEN 96

static void
map_v4(uint8_t out[16], const struct in_addr *a)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a->s_addr, 4);
}

/* RFC 4291 2.5.5.2: ::ffff:0:0/96 holds the IPv4 addresses. */
static int
is_v4_mapped(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(addr, prefix, sizeof prefix) == 0;
}

/* True if the bits of addr beyond prefix_len are all zero. */
static int
host_bits_are_zero(const uint8_t addr[16], unsigned prefix_len)
{
	for (unsigned bit = prefix_len; bit < 128; bit++)
		if (addr[bit / 8] & (0x80u >> (bit % 8)))
			return 0;
	return 1;
}

static int
prefix_matches(const uint8_t net[16], const uint8_t addr[16], unsigned prefix_len)
{
	unsigned whole = prefix_len / 8, rest = prefix_len % 8;

	if (memcmp(net, addr, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (net[whole] & mask) == (addr[whole] & mask);
}

int
fr_cidr_parse(struct fr_cidr *c, const char *s, char *err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t host_len = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr v4;
	struct in6_addr v6;
	unsigned max_len;

	memset(c, 0, sizeof *c);
	if (host_len == 0 || host_len >= sizeof host) {
		snprintf(err, FR_ERR_LEN, "'%.64s' is not an address or network", s);
		return -1;
	}
	memcpy(host, s, host_len);
	host[host_len] = '\0';
	if (inet_pton(AF_INET, host, &v4) == 1) {
		map_v4(c->net, &v4);
		max_len = 32;
	} else if (inet_pton(AF_INET6, host, &v6) == 1) {
		memcpy(c->net, &v6, 16);
		max_len = 128;
	} else {
		snprintf(err, FR_ERR_LEN, "'%.64s' is not a numeric IPv4 or IPv6 address", host);
		return -1;
	}
	unsigned prefix_len = max_len;
	if (slash != NULL) {
		char *end;

		errno = 0;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno == ERANGE ||
		    v > max_len) {
			snprintf(err, FR_ERR_LEN, "prefix length '%.16s' out of range (0-%u)",
			    slash + 1, max_len);
			return -1;
		}
		prefix_len = (unsigned)v;
	}
	c->prefix_len = prefix_len + (max_len == 32 ? V4_MAPPED_PREFIX_LEN : 0);
	if (!host_bits_are_zero(c->net, c->prefix_len)) {
		snprintf(err, FR_ERR_LEN, "'%.64s' has bits set beyond the /%u prefix", s,
		    prefix_len);
		return -1;
	}
	/*
	 * With its host bits clear, an IPv6 network inside ::ffff:0:0/96 has a prefix
	 * of 96 or more: it is an IPv4 network, spelled in mapped form.
	 */
	if (is_v4_mapped(c->net)) {
		c->family = AF_INET;
		memcpy(&v4, c->net + 12, 4);
		inet_ntop(AF_INET, &v4, host, sizeof host);
		prefix_len = c->prefix_len - V4_MAPPED_PREFIX_LEN;
	} else {
		c->family = AF_INET6;
	}
	snprintf(c->text, sizeof c->text, "%s/%u", host, prefix_len);
	return 0;
}

static int
same_network(const struct fr_cidr *a, const struct fr_cidr *b)
{
	return a->family == b->family && a->prefix_len == b->prefix_len &&
	    memcmp(a->net, b->net, 16) == 0;
}

int
fr_acl_add(struct fr_acl *acl, const struct fr_cidr *c, char *err)
{
	for (size_t i = 0; i < acl->n; i++)
		if (same_network(&acl->cidrs[i], c))
			return 0;
	if (acl->n == FR_ACL_MAX) {
		snprintf(err, FR_ERR_LEN, "more than %d networks", FR_ACL_MAX);
		return -1;
	}
	acl->cidrs[acl->n++] = *c;
	return 0;
}

int
fr_acl_permits(const struct fr_acl *acl, const struct fr_addr *peer)
{
	uint8_t addr[16];
	int family;

	if (acl->n == 0)
		return 1;
	switch (peer->ss.ss_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		map_v4(addr, &((const struct sockaddr_in *)&peer->ss)->sin_addr);
		family = AF_INET;
		break;
	case AF_INET6:
		memcpy(addr, &((const struct sockaddr_in6 *)&peer->ss)->sin6_addr, 16);
		family = is_v4_mapped(addr) ? AF_INET : AF_INET6;
		break;
	default:
		return 0;
	}
	for (size_t i = 0; i < acl->n; i++) {
		const struct fr_cidr *c = &acl->cidrs[i];

		if (c->family == family && prefix_matches(c->net, addr, c->prefix_len))
			return 1;
	}
	return 0;
}

int
fr_acl_equal(const struct fr_acl *a, const struct fr_acl *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!same_network(&a->cidrs[i], &b->cidrs[i]))
			return 0;
	return 1;
}
