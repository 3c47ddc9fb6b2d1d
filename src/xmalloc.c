/* SPDX-License-Identifier: MIT */
/*
 * Startup allocations that exit on failure (tmux xmalloc.c). Per-connection and
 * per-frame paths never use these: they refuse or drop instead.
 */
#include <stdlib.h>

#include "fr/log.h"
#include "fr/xmalloc.h"

void *
fr_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		fatal("calloc");
	return p;
}
