/* SPDX-License-Identifier: BSD-3-Clause */
/* The forward header (BRIEF §2) and the relay listener's classifier. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qburst/fwdhdr.h"
#include "qburst/packet.h"
#include "hex.h"

static void
v4(struct qb_fwd_addr *a, uint16_t port, uint8_t a0, uint8_t a1, uint8_t a2, uint8_t a3)
{
	memset(a, 0, sizeof(*a));
	a->port = port;
	a->addr[0] = a0;
	a->addr[1] = a1;
	a->addr[2] = a2;
	a->addr[3] = a3;
}

Test(fwdhdr, sizes)
{
	/* 2 + 2*(2*(2+4)) = 26 and 2 + 2*(2*(2+16)) = 74 (BRIEF §2). */
	cr_assert_eq(qb_fwd_hdr_len(false, true, true), 26);
	cr_assert_eq(qb_fwd_hdr_len(true, true, true), 74);
	cr_assert_eq(qb_fwd_hdr_len(false, false, false), 14);
	cr_assert_eq(qb_fwd_hdr_len(false, true, false), 20);
	cr_assert_eq(qb_fwd_hdr_len(true, false, false), 38);
	cr_assert_eq(qb_fwd_hdr_len(true, false, true), 56);
	cr_assert_eq(QB_FWD_MAX_LEN, 74);
}

Test(fwdhdr, relayed_ipv4_bytes)
{
	struct qb_fwd_hdr h = {.version = 0, .ipv6 = false};
	h.src.relayed = true;
	v4(&h.src.addr, 0x1111, 198, 18, 0, 1);
	v4(&h.src.outer, 0x2222, 198, 18, 0, 2);
	h.dst.relayed = true;
	v4(&h.dst.addr, 0x3333, 198, 19, 0, 1);
	v4(&h.dst.outer, 0x4444, 198, 19, 0, 2);
	uint8_t b[40], want[40];
	memset(b, 0xee, sizeof(b));
	/* The QUIC packet's protected first byte 0x5b: byte0 = 0x60 | 0x1b. */
	int n = qb_fwd_hdr_encode(b, 26, &h, 0x5b);
	size_t wl =
	        qb_test_unhex_ok("7b 0b 1111 c6120001 2222 c6120002 3333 c6130001 4444 c6130002",
	                         want, sizeof(want));
	cr_assert_eq(n, 26);
	cr_assert_eq(wl, 26);
	cr_assert_arr_eq(b, want, 26);
	cr_assert_eq(b[26], 0xee, "no byte past the header");
	cr_assert_eq(qb_fwd_hdr_encode(b, 25, &h, 0x5b), QB_ERR_NOBUF);

	struct qb_fwd_hdr d;
	cr_assert_eq(qb_fwd_hdr_decode(want, 26, &d), 26);
	cr_assert_eq(d.quic_bits, 0x1b);
	cr_assert(!d.ipv6);
	cr_assert(d.src.relayed && d.dst.relayed);
	cr_assert_eq(d.src.addr.port, 0x1111);
	cr_assert_arr_eq(d.src.outer.addr, h.src.outer.addr, 16);
	cr_assert_eq(d.dst.outer.port, 0x4444);
	cr_assert_arr_eq(d.dst.addr.addr, h.dst.addr.addr, 16);
	for (size_t cut = 0; cut < 26; cut++)
		cr_assert_eq(qb_fwd_hdr_decode(want, cut, &d), QB_ERR_TRUNCATED);
}

Test(fwdhdr, ipv6_shapes_roundtrip)
{
	for (int s = 0; s < 2; s++) {
		for (int t = 0; t < 2; t++) {
			struct qb_fwd_hdr h = {.ipv6 = true};
			h.src.relayed = s;
			h.dst.relayed = t;
			h.src.addr.port = 1;
			h.dst.addr.port = 65535;
			h.src.outer.port = s ? 2 : 0;
			h.dst.outer.port = t ? 3 : 0;
			for (int i = 0; i < 16; i++) {
				h.src.addr.addr[i] = (uint8_t)i;
				h.dst.addr.addr[i] = (uint8_t)(0xf0 + i);
				h.src.outer.addr[i] = s ? (uint8_t)(0x20 + i) : 0;
				h.dst.outer.addr[i] = t ? (uint8_t)(0x40 + i) : 0;
			}
			uint8_t *b = malloc(QB_FWD_MAX_LEN);
			int n = qb_fwd_hdr_encode(b, QB_FWD_MAX_LEN, &h, 0x40);
			cr_assert_eq(n, (int)qb_fwd_hdr_len(true, s, t));
			cr_assert_eq(b[1], 0x08 | 0x04 | (s ? 2 : 0) | (t ? 1 : 0));
			struct qb_fwd_hdr d;
			cr_assert_eq(qb_fwd_hdr_decode(b, (size_t)n, &d), n);
			cr_assert_eq(d.src.addr.port, h.src.addr.port);
			cr_assert_eq(d.dst.addr.port, h.dst.addr.port);
			cr_assert_eq(d.src.outer.port, h.src.outer.port);
			cr_assert_eq(d.dst.outer.port, h.dst.outer.port);
			cr_assert_arr_eq(d.src.addr.addr, h.src.addr.addr, 16);
			cr_assert_arr_eq(d.dst.addr.addr, h.dst.addr.addr, 16);
			cr_assert_arr_eq(d.src.outer.addr, h.src.outer.addr, 16);
			cr_assert_arr_eq(d.dst.outer.addr, h.dst.outer.addr, 16);
			free(b);
		}
	}
}

Test(fwdhdr, malformed)
{
	struct qb_fwd_hdr d;
	uint8_t b[80] = {0};
	b[0] = 0x60;
	b[1] = 0x00; /* mark bit clear */
	cr_assert_eq(qb_fwd_hdr_decode(b, sizeof(b), &d), QB_ERR_INVALID);
	b[1] = 0x18; /* version 1 */
	cr_assert_eq(qb_fwd_hdr_decode(b, sizeof(b), &d), QB_ERR_UNSUPPORTED);
	b[0] = 0x40;
	b[1] = 0x08;
	cr_assert_eq(qb_fwd_hdr_decode(b, sizeof(b), &d), QB_ERR_INVALID);
	struct qb_fwd_hdr h = {.version = 16};
	cr_assert_eq(qb_fwd_hdr_encode(b, sizeof(b), &h, 0), QB_ERR_ARG);
}

/* Our CIDs are 8 bytes starting 0x0c. */
static bool
ours(void *ctx, const uint8_t *cid, size_t len)
{
	(*(int *)ctx)++;
	return len == 8 && cid[0] == 0x0c;
}

Test(fwdhdr, classify)
{
	int calls = 0;
	uint8_t d[200];
	memset(d, 0, sizeof(d));

	cr_assert_eq(qb_dgram_classify(d, 0, 8, ours, &calls), QB_DGRAM_INVALID);

	/* A 1-RTT packet with the spin bit set and our CID: QUIC, even though
	 * its second byte has 0x08 set and it would parse as a forward header. */
	d[0] = 0x61;
	d[1] = 0x0c;
	for (int i = 2; i < 60; i++)
		d[i] = (uint8_t)(0x61 + i);
	cr_assert_eq(qb_dgram_classify(d, 60, 8, ours, &calls), QB_DGRAM_QUIC);
	cr_assert_gt(calls, 0);

	/* A real forwarded datagram: header, then a 1-RTT packet. */
	struct qb_fwd_hdr h = {0};
	h.src.relayed = true;
	h.dst.relayed = true;
	uint8_t f[200];
	memset(f, 0x33, sizeof(f));
	uint8_t quic_first = 0x47;
	int n = qb_fwd_hdr_encode(f, sizeof(f), &h, quic_first);
	cr_assert_eq(n, 26);
	f[n] = quic_first;
	f[n + 1] = 0x0c;
	cr_assert_eq(qb_dgram_classify(f, 100, 8, ours, &calls), QB_DGRAM_FORWARDED);
	/* Inner first byte disagreeing with byte 0: not forwarded. */
	f[n] = 0x48;
	cr_assert_eq(qb_dgram_classify(f, 100, 8, ours, &calls), QB_DGRAM_QUIC);
	/* A header and nothing after it: not forwarded. */
	f[n] = quic_first;
	cr_assert_eq(qb_dgram_classify(f, 26, 8, ours, &calls), QB_DGRAM_QUIC);

	/* Version Negotiation to our CID (0xc2 then version 0): QUIC, not STUN. */
	uint8_t vn[64];
	const uint8_t our_cid[8] = {0x0c, 1, 2, 3, 4, 5, 6, 7};
	const uint32_t vers[] = {1};
	int m = qb_pkt_enc_vn(vn, sizeof(vn), 0x02, our_cid, 8, our_cid, 8, vers, 1);
	cr_assert_eq(vn[0], 0xc2);
	cr_assert_eq(qb_dgram_classify(vn, (size_t)m, 8, ours, &calls), QB_DGRAM_QUIC);
	/* dquic's STUN variant: 0xc3, zero u32, not a VN to us. */
	uint8_t st[32] = {0xc3, 0, 0, 0, 0, 0x20, 0x01};
	cr_assert_eq(qb_dgram_classify(st, sizeof(st), 8, ours, &calls), QB_DGRAM_STUN);
	/* RFC 8489 STUN binding request. */
	uint8_t rs[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	cr_assert_eq(qb_dgram_classify(rs, sizeof(rs), 8, ours, &calls), QB_DGRAM_STUN);
	/* An Initial: QUIC. */
	uint8_t ini[1200];
	struct qb_pkt_enc e;
	qb_pkt_enc_init(&e, ini, sizeof(ini));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_INITIAL, our_cid, 8, our_cid, 8,
	                                   NULL, 0, 0, 1),
	             0);
	cr_assert_eq(qb_pkt_enc_pad_to(&e, 1200), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, NULL), 0);
	cr_assert_eq(qb_dgram_classify(ini, 1200, 8, ours, &calls), QB_DGRAM_QUIC);
	/* A short header without the spin bit: QUIC without asking. */
	calls = 0;
	d[0] = 0x41;
	cr_assert_eq(qb_dgram_classify(d, 60, 8, ours, &calls), QB_DGRAM_QUIC);
	cr_assert_eq(calls, 0);
}
