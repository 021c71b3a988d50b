/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: xorshift64* (Marsaglia's xorshift with Vigna's multiplier),
 * reproducible "random" inputs from a state the test seeds, so a failure can
 * be replayed. Not for anything but tests.
 */
#ifndef QB_TEST_COMMON_RNG_H
#define QB_TEST_COMMON_RNG_H

#include <stddef.h>
#include <stdint.h>

/* The next 64-bit value; *state must not be 0. */
static inline uint64_t
qb_test_rng(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}

/* n bytes, each the low byte of the next value. */
static inline void
qb_test_rng_fill(uint64_t *state, uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)qb_test_rng(state);
}

#endif
