/* SPDX-License-Identifier: BSD-3-Clause */
/* Hex-string decoding for test vectors written as in the RFCs. */
#ifndef QB_TEST_HEX_H
#define QB_TEST_HEX_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Decode hex into out (room for cap bytes); returns the byte count, or
 * (size_t)-1 for an odd length, a bad digit or no room (so a mistyped
 * vector fails the test rather than decoding short). */
static inline size_t
qb_test_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);

	if (n % 2 != 0 || n / 2 > cap)
		return (size_t)-1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = qb_test_nibble(hex[2 * i]), lo = qb_test_nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return (size_t)-1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

#endif
