/* SPDX-License-Identifier: BSD-3-Clause */
/* Checked varint codec and packet-number length choice and recovery. */
#include "qburst/varint.h"

int
qb_varint_encode(uint8_t *buf, size_t cap, uint64_t v)
{
	size_t n = qb_varint_len(v);
	if (n == 0)
		return QB_ERR_ARG;
	if (cap < n)
		return QB_ERR_NOBUF;
	qb_varint_put_n(buf, v, n);
	return (int)n;
}

int
qb_varint_decode(const uint8_t *buf, size_t len, uint64_t *v, int *minimal)
{
	const uint8_t *p = buf;
	int rc = qb_varint_get(&p, buf + len, v);
	if (rc < 0)
		return rc;
	if (minimal)
		*minimal = qb_varint_len(*v) == (size_t)(p - buf);
	return (int)(p - buf);
}

size_t
qb_pn_len(uint64_t full_pn, uint64_t largest_acked)
{
	/* RFC 9000 A.2: one bit more than log2 of the unacknowledged range. */
	uint64_t unacked = largest_acked == QB_PN_NONE ? full_pn + 1 : full_pn - largest_acked;
	if (largest_acked != QB_PN_NONE && full_pn <= largest_acked)
		unacked = 1;
	unsigned bits = unacked ? 64 - (unsigned)__builtin_clzll(unacked) : 0;
	bits += 1;
	size_t n = (bits + 7) / 8;
	return n > 4 ? 4 : n;
}

uint64_t
qb_pn_decode(uint64_t largest_pn, uint64_t truncated_pn, size_t pn_len)
{
	/* RFC 9000 A.3; QB_PN_NONE + 1 wraps to 0, the first expected pn. */
	uint64_t expected = largest_pn + 1;
	uint64_t win = UINT64_C(1) << (8 * pn_len);
	uint64_t hwin = win / 2;
	uint64_t mask = win - 1;
	uint64_t cand = (expected & ~mask) | (truncated_pn & mask);
	/* Written without subtraction below zero: cand <= expected - hwin. */
	if (cand + hwin <= expected && cand < (UINT64_C(1) << 62) - win)
		return cand + win;
	if (cand > expected + hwin && cand >= win)
		return cand - win;
	return cand;
}
