/* SPDX-License-Identifier: MIT */
/*
 * The growable text buffer: doubling from 4 KiB, always NUL-terminated, and sticky
 * on allocation failure. Pure: no I/O.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fr/buf.h"
#include "fr/failpoint.h"

enum { BUF_MIN_CAP = 4096 };

static struct fr_failpoint alloc_failpoint;

#ifdef FR_TESTING
void
fr_buf_fail_alloc_after(unsigned n)
{
	alloc_failpoint.after = n;
}
#endif

void
fr_buf_init(struct fr_buf *b)
{
	*b = (struct fr_buf){0};
}

void
fr_buf_fini(struct fr_buf *b)
{
	free(b->data);
	*b = (struct fr_buf){0};
}

/*
 * Makes room for extra more bytes plus the NUL that always follows the contents. On
 * failure the buffer keeps what it had and refuses everything from then on.
 */
static int
buf_reserve(struct fr_buf *b, size_t extra)
{
	if (b->has_failed)
		return -1;
	if (extra < b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX - 1 - b->len)
		goto fail;
	size_t need = b->len + extra + 1;
	size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = fr_failpoint_hit(&alloc_failpoint) ? NULL : realloc(b->data, cap);
	if (p == NULL)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->has_failed = 1;
	return -1;
}

void
fr_buf_append(struct fr_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
fr_buf_puts(struct fr_buf *b, const char *s)
{
	fr_buf_append(b, s, strlen(s));
}

void
fr_buf_printf(struct fr_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->has_failed)
		return;
	/* Most calls fit in the room left; vsnprintf reports the full length if not. */
	size_t room = b->cap - b->len;
	va_start(ap, fmt);
	int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= room && buf_reserve(b, (size_t)n) == 0) {
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	if (n < 0 || b->has_failed) {
		/* The first try may have left a truncated tail past len: cut it off. */
		b->has_failed = 1;
		if (b->data != NULL)
			b->data[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}
