/* SPDX-License-Identifier: MIT */
/*
 * ASCII character classes for the protocol parsers (HTTP requests and responses, URLs,
 * multipart). <ctype.h> is no substitute: it follows the locale and wants an int that
 * is EOF or an unsigned char value.
 */
#ifndef FR_ASCII_H
#define FR_ASCII_H

#include <stdbool.h>
#include <stdint.h>

static inline bool
fr_ascii_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static inline bool
fr_ascii_is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 5.6.3: the whitespace of HTTP (SP, HTAB). */
static inline bool
fr_ascii_is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* The value of a hexadecimal digit, or -1. */
static inline int
fr_ascii_hex_value(uint8_t c)
{
	if (fr_ascii_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline uint8_t
fr_ascii_to_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

#endif
