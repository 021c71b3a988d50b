/* SPDX-License-Identifier: BSD-3-Clause */
/* Test helper: hex strings (spaces ignored) to bytes. */
#ifndef QB_TEST_HEX_H
#define QB_TEST_HEX_H

#include <stddef.h>
#include <stdint.h>

static inline size_t
hex2bin(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			if (n < cap)
				out[n] = (uint8_t)(hi << 4 | v);
			n++;
			hi = -1;
		}
	}
	return n;
}

#endif
