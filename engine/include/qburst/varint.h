/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_VARINT_H
#define QBURST_VARINT_H

/*
 * QUIC variable-length integers (RFC 9000 §16) and packet numbers (RFC 9000
 * §17.1, Appendix A.2 and A.3).
 *
 * The inline helpers are for the per-packet path: the "put" functions do no
 * bounds check (the caller has already reserved qb_varint_len() bytes), the
 * "get" function checks against an end pointer. The out-of-line
 * qb_varint_encode()/qb_varint_decode() are the checked forms.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qburst/error.h"

/* Largest value a varint can hold: 2^62 - 1. */
#define QB_VARINT_MAX ((UINT64_C(1) << 62) - 1)

/* "No packet number yet" (no packet acknowledged / received in this space). */
#define QB_PN_NONE UINT64_MAX

/* Bytes of the minimal encoding of v: 1, 2, 4 or 8; 0 when v > QB_VARINT_MAX. */
static inline size_t
qb_varint_len(uint64_t v)
{
	/* Branches, not arithmetic: sizes repeat, so they predict well (measured). */
	if (v < 64)
		return 1;
	if (v < 16384)
		return 2;
	if (v < 1073741824)
		return 4;
	return v <= QB_VARINT_MAX ? 8 : 0;
}

/* Bytes of the varint whose first byte is b (from its two high bits). */
static inline size_t
qb_varint_len_of(uint8_t b)
{
	return (size_t)1 << (b >> 6);
}

/*
 * Writes v (<= QB_VARINT_MAX) in exactly len bytes (1, 2, 4 or 8, large
 * enough for v) at p, unchecked; returns p + len. A non-minimal length is
 * used to back-fill a reserved field (the long header's Length).
 */
static inline uint8_t *
qb_varint_put_n(uint8_t *p, uint64_t v, size_t len)
{
	/* One big-endian store per length (memcpy of a constant size compiles to a mov). */
	switch (len) {
	case 1:
		p[0] = (uint8_t)v;
		return p + 1;
	case 2: {
		uint16_t x = __builtin_bswap16((uint16_t)(v | 0x4000));
		memcpy(p, &x, 2);
		return p + 2;
	}
	case 4: {
		uint32_t x = __builtin_bswap32((uint32_t)(v | 0x80000000u));
		memcpy(p, &x, 4);
		return p + 4;
	}
	default: {
		uint64_t x = __builtin_bswap64(v | UINT64_C(0xc000000000000000));
		memcpy(p, &x, 8);
		return p + 8;
	}
	}
}

/* Writes the minimal encoding of v (<= QB_VARINT_MAX) at p, unchecked. */
static inline uint8_t *
qb_varint_put(uint8_t *p, uint64_t v)
{
	return qb_varint_put_n(p, v, qb_varint_len(v));
}

/*
 * Reads one varint from *pp (not past end) into *v and advances *pp.
 * Returns 0, or QB_ERR_TRUNCATED (nothing consumed) when the input ends first.
 */
static inline int
qb_varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return QB_ERR_TRUNCATED;
	size_t n = qb_varint_len_of(p[0]);
	if ((size_t)(end - p) < n)
		return QB_ERR_TRUNCATED;
	switch (n) {
	case 1:
		*v = p[0];
		break;
	case 2: {
		uint16_t x;
		memcpy(&x, p, 2);
		*v = __builtin_bswap16(x) & 0x3fff;
		break;
	}
	case 4: {
		uint32_t x;
		memcpy(&x, p, 4);
		*v = __builtin_bswap32(x) & 0x3fffffffu;
		break;
	}
	default: {
		uint64_t x;
		memcpy(&x, p, 8);
		*v = __builtin_bswap64(x) & QB_VARINT_MAX;
		break;
	}
	}
	*pp = p + n;
	return 0;
}

/*
 * Checked encode: writes the minimal encoding of v into buf (cap bytes).
 * Returns the length written, QB_ERR_ARG if v > QB_VARINT_MAX, QB_ERR_NOBUF
 * if it does not fit.
 */
int qb_varint_encode(uint8_t *buf, size_t cap, uint64_t v);

/*
 * Checked decode of the varint at buf (len bytes). Returns the bytes consumed
 * (1, 2, 4 or 8) or QB_ERR_TRUNCATED. Non-minimal encodings are accepted
 * (RFC 9000 §16); *minimal (if not NULL) says whether this one was.
 */
int qb_varint_decode(const uint8_t *buf, size_t len, uint64_t *v, int *minimal);

/*
 * Packet number length to send full_pn with, given the largest packet number
 * the peer acknowledged in this space (QB_PN_NONE if none): enough bytes to
 * represent more than twice the unacknowledged range (RFC 9000 §17.1, A.2).
 * Returns 1..4.
 */
size_t qb_pn_len(uint64_t full_pn, uint64_t largest_acked);

/*
 * Writes the pn_len (1..4) low bytes of pn big-endian at p, unchecked.
 */
static inline void
qb_pn_put(uint8_t *p, uint64_t pn, size_t pn_len)
{
	/* Fixed-size big-endian stores: a variable-length memcpy would be a call. */
	switch (pn_len) {
	case 1:
		p[0] = (uint8_t)pn;
		break;
	case 2: {
		uint16_t x = __builtin_bswap16((uint16_t)pn);
		memcpy(p, &x, 2);
		break;
	}
	case 3: {
		uint16_t x = __builtin_bswap16((uint16_t)(pn >> 8));
		memcpy(p, &x, 2);
		p[2] = (uint8_t)pn;
		break;
	}
	default: {
		uint32_t x = __builtin_bswap32((uint32_t)pn);
		memcpy(p, &x, 4);
		break;
	}
	}
}

/*
 * Recovers a full packet number from its truncated pn_len-byte (1..4) value
 * and the largest packet number successfully processed in this space
 * (QB_PN_NONE if none) (RFC 9000 §17.1, A.3).
 */
uint64_t qb_pn_decode(uint64_t largest_pn, uint64_t truncated_pn, size_t pn_len);

#endif
