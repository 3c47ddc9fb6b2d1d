/* SPDX-License-Identifier: MIT */
/*
 * The token rules of the HTTP endpoints, kept apart from routing so that they are
 * tested on their own: global tokens open everything, a stream's own token opens that
 * stream. Nothing here knows about requests or streams.
 */
#include <string.h>

#include "fr/access.h"

static bool
is_set(const char *token)
{
	return token != NULL && *token != '\0';
}

/* Compares without an early exit, so response time does not leak the token. */
bool
fr_access_token_equal(const char *a, const char *b)
{
	if (!is_set(a) || !is_set(b))
		return false;
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % lb]);
	return diff == 0;
}

bool
fr_access_allows(const char *global, const char *own, const char *presented)
{
	if (!is_set(global) && !is_set(own))
		return true;
	/* Both compared always: which one matched does not show in the time taken. */
	bool is_global = fr_access_token_equal(presented, global);
	bool is_own = fr_access_token_equal(presented, own);

	return is_global || is_own;
}
