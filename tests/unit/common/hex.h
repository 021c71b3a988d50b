/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: hex strings, written as the RFCs print them (groups may be
 * separated by spaces), to bytes. The one hex parser of the unit tests.
 */
#ifndef QB_TEST_COMMON_HEX_H
#define QB_TEST_COMMON_HEX_H

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>

static inline int
qb_test_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the hex digits of s into out (room for cap bytes), skipping
 * spaces, tabs and newlines between them. Returns the byte count, or
 * (size_t)-1 for any other character, an odd number of digits or no room,
 * so that a mistyped vector fails the test rather than decoding short.
 */
static inline size_t
qb_test_unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n')
			continue;
		v = qb_test_nibble(*s);
		if (v < 0)
			return (size_t)-1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap)
			return (size_t)-1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? n : (size_t)-1;
}

/* qb_test_unhex for a vector that must decode: a bad one fails the test. */
static inline size_t
qb_test_unhex_ok(const char *s, uint8_t *out, size_t cap)
{
	size_t n = qb_test_unhex(s, out, cap);

	cr_assert_neq(n, (size_t)-1, "bad test vector hex (or no room for it): %.40s", s);
	return n;
}

#endif
