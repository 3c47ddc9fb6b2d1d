/* SPDX-License-Identifier: MIT */
/*
 * Startup allocations that exit on failure (tmux xmalloc.c). Per-connection and
 * per-frame paths never use these: they refuse or drop instead.
 */
#ifndef FR_XMALLOC_H
#define FR_XMALLOC_H

#include <stddef.h>

/* calloc(n, size), or a fatal log line and exit(1). */
void *fr_xcalloc(size_t n, size_t size);

#endif /* FR_XMALLOC_H */
