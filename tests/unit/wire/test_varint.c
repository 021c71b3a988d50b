/* SPDX-License-Identifier: BSD-3-Clause */
/* Varints (RFC 9000 §16, A.1) and packet numbers (RFC 9000 §17.1, A.2, A.3). */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/wire.h"

struct vec {
	const uint8_t *bytes;
	size_t len;
	uint64_t value;
	int minimal;
};

/* RFC 9000 Appendix A.1, byte for byte. */
static const uint8_t a1_8[] = {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c};
static const uint8_t a1_4[] = {0x9d, 0x7f, 0x3e, 0x7d};
static const uint8_t a1_2[] = {0x7b, 0xbd};
static const uint8_t a1_1[] = {0x25};
static const uint8_t a1_2b[] = {0x40, 0x25};

Test(varint, rfc9000_a1_decode)
{
	const struct vec v[] = {
	        {a1_8, 8, UINT64_C(151288809941952652), 1},
	        {a1_4, 4, 494878333, 1},
	        {a1_2, 2, 15293, 1},
	        {a1_1, 1, 37, 1},
	        {a1_2b, 2, 37, 0},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t x = 0;
		int minimal = -1;
		cr_assert_eq(qb_varint_decode(v[i].bytes, v[i].len, &x, &minimal), (int)v[i].len);
		cr_assert_eq(x, v[i].value);
		cr_assert_eq(minimal, v[i].minimal);
	}
}

Test(varint, rfc9000_a1_encode)
{
	const struct vec v[] = {
	        {a1_8, 8, UINT64_C(151288809941952652), 1},
	        {a1_4, 4, 494878333, 1},
	        {a1_2, 2, 15293, 1},
	        {a1_1, 1, 37, 1},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t buf[10];
		memset(buf, 0xee, sizeof(buf));
		cr_assert_eq(qb_varint_encode(buf, v[i].len, v[i].value), (int)v[i].len);
		cr_assert_arr_eq(buf, v[i].bytes, v[i].len);
		cr_assert_eq(buf[v[i].len], 0xee);
		/* One byte short: no room, nothing written. */
		memset(buf, 0xee, sizeof(buf));
		cr_assert_eq(qb_varint_encode(buf, v[i].len - 1, v[i].value), QB_ERR_NOBUF);
		cr_assert_eq(buf[0], 0xee);
	}
	/* Forced two-byte encoding of 37 is A.1's 0x4025. */
	uint8_t b[2];
	qb_varint_put_n(b, 37, 2);
	cr_assert_arr_eq(b, a1_2b, 2);
}

Test(varint, boundaries)
{
	const uint64_t edges[] = {0, 63, 64, 16383, 16384, 1073741823, 1073741824, QB_VARINT_MAX};
	const size_t lens[] = {1, 1, 2, 2, 4, 4, 8, 8};
	for (size_t i = 0; i < 8; i++) {
		uint8_t buf[8];
		cr_assert_eq(qb_varint_len(edges[i]), lens[i]);
		cr_assert_eq(qb_varint_encode(buf, sizeof(buf), edges[i]), (int)lens[i]);
		uint64_t x;
		cr_assert_eq(qb_varint_decode(buf, lens[i], &x, NULL), (int)lens[i]);
		cr_assert_eq(x, edges[i]);
	}
	uint8_t buf[8];
	cr_assert_eq(qb_varint_len(QB_VARINT_MAX + 1), 0);
	cr_assert_eq(qb_varint_encode(buf, sizeof(buf), QB_VARINT_MAX + 1), QB_ERR_ARG);
}

Test(varint, truncation_rejected)
{
	uint64_t x = 77;
	cr_assert_eq(qb_varint_decode(a1_8, 0, &x, NULL), QB_ERR_TRUNCATED);
	for (size_t n = 1; n < 8; n++)
		cr_assert_eq(qb_varint_decode(a1_8, n, &x, NULL), QB_ERR_TRUNCATED);
	cr_assert_eq(qb_varint_decode(a1_4, 3, &x, NULL), QB_ERR_TRUNCATED);
	cr_assert_eq(qb_varint_decode(a1_2, 1, &x, NULL), QB_ERR_TRUNCATED);
	cr_assert_eq(x, 77, "a failed decode must not write the value");
	const uint8_t *p = a1_4;
	cr_assert_eq(qb_varint_get(&p, a1_4 + 2, &x), QB_ERR_TRUNCATED);
	cr_assert_eq(p, a1_4, "a failed get must not advance");
}

Test(pn, rfc9000_a2_length)
{
	/* A.2: acked 0xabe8b3, sending 0xac5c02 needs 16 bits; 0xace8fe needs 24. */
	cr_assert_eq(qb_pn_len(0xac5c02, 0xabe8b3), 2);
	cr_assert_eq(qb_pn_len(0xace8fe, 0xabe8b3), 3);
	/* Nothing acknowledged: the full number's range counts. */
	cr_assert_eq(qb_pn_len(0, QB_PN_NONE), 1);
	cr_assert_eq(qb_pn_len(127, QB_PN_NONE), 2, "128 unacked need 8+1 bits");
	cr_assert_eq(qb_pn_len(126, QB_PN_NONE), 1);
	cr_assert_eq(qb_pn_len(UINT64_C(1) << 40, QB_PN_NONE), 4, "capped at 4 bytes");
	cr_assert_eq(qb_pn_len(10, 9), 1);
}

Test(pn, rfc9000_a3_decode)
{
	/* A.3: largest 0xa82f30ea, 16-bit 0x9b32 decodes to 0xa82f9b32. */
	cr_assert_eq(qb_pn_decode(0xa82f30ea, 0x9b32, 2), 0xa82f9b32);
	/* The RFC 9001 A.2 client Initial: pn 2 in 4 bytes, nothing received. */
	cr_assert_eq(qb_pn_decode(QB_PN_NONE, 2, 4), 2);
	cr_assert_eq(qb_pn_decode(QB_PN_NONE, 0, 1), 0);
	/* Wrap forward and backward around the window. */
	cr_assert_eq(qb_pn_decode(0xff, 0x00, 1), 0x100);
	cr_assert_eq(qb_pn_decode(0x100, 0xff, 1), 0xff);
	cr_assert_eq(qb_pn_decode(0x17f, 0x00, 1), 0x200);
	/* Near zero no underflow; near 2^62 no overflow past the space. */
	cr_assert_eq(qb_pn_decode(1, 0xfe, 1), 0xfe);
	const uint64_t top = (UINT64_C(1) << 62) - 1;
	cr_assert_eq(qb_pn_decode(top - 1, top & 0xff, 1), top);
}

Test(pn, encode_decode_roundtrip)
{
	uint64_t largest = 1000;
	for (uint64_t pn = 1001; pn < 300000; pn += 997) {
		size_t n = qb_pn_len(pn, largest);
		uint8_t b[4];
		qb_pn_put(b, pn, n);
		uint64_t t = 0;
		for (size_t i = 0; i < n; i++)
			t = (t << 8) | b[i];
		cr_assert_eq(qb_pn_decode(largest, t, n), pn);
		if (pn % 3 == 0)
			largest = pn;
	}
}
