/* SPDX-License-Identifier: MIT */
/*
 * A growable text buffer for responses built in memory (/stats, /metrics, HTTP
 * heads). An allocation failure is sticky: the buffer keeps what it had, appends
 * nothing more and says so in has_failed, so a caller checks once at the end.
 */
#ifndef FR_BUF_H
#define FR_BUF_H

#include <stddef.h>

struct fr_buf {
	char *data;		/* NUL-terminated once anything was appended; NULL before */
	size_t len, cap;
	int has_failed;		/* an allocation failed: the contents are incomplete */
};

/* An empty buffer that has allocated nothing. */
void fr_buf_init(struct fr_buf *b);

/* Frees the contents and empties b; b may be used again, and fini repeated. */
void fr_buf_fini(struct fr_buf *b);

/* Appends formatted text; on ENOMEM sets has_failed and appends nothing more. */
void fr_buf_printf(struct fr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends n bytes (NULs included), as fr_buf_printf does on failure. */
void fr_buf_append(struct fr_buf *b, const void *p, size_t n);

/* Appends the string s without its NUL. */
void fr_buf_puts(struct fr_buf *b, const char *s);

/* Test builds: make the Nth buffer allocation from now fail (0 disables). */
#ifdef FR_TESTING
void fr_buf_fail_alloc_after(unsigned n);
#endif

#endif /* FR_BUF_H */
