/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 1-RTT data fast path: qb_pkt_enc_stream_final() writes the STREAM
 * frame header and closes the packet without copying the data, and
 * qb_crypto_protect_from() seals the data from the sender's buffer. The
 * packet must be the one the classic path (qb_pkt_enc_stream +
 * qb_pkt_enc_finish + qb_crypto_protect) builds when the data fills it, and
 * in every case a packet that opens and decodes to exactly the data sent.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/frame.h"
#include "qburst/packet.h"

#define CAP 1500

static const uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static uint8_t src[4096];

static void
setup(void)
{
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 131 + 7);
}

static void
key_of(struct qb_crypto_key *key)
{
	uint8_t secret[32];

	memset(secret, 0x33, sizeof(secret));
	cr_assert_eq(qb_crypto_key_init(key, QB_AEAD_AES128GCM, QB_CRYPTO_QUIC_V1, secret,
	                                sizeof(secret), QB_CRYPTO_AUTO),
	             0);
}

/* Builds with the fast path into buf; returns the packet length. */
static int
build_fast(const struct qb_crypto_key *key, uint8_t *buf, size_t cap, size_t pn_len, uint64_t id,
           uint64_t off, size_t len, bool fin, size_t *taken, struct qb_pkt_layout *l)
{
	struct qb_pkt_enc e;

	qb_pkt_enc_init(&e, buf, cap);
	cr_assert_eq(qb_pkt_enc_begin_short(&e, dcid, sizeof(dcid), false, false, 77, pn_len), 0);
	cr_assert_eq(qb_pkt_enc_stream_final(&e, id, off, len, fin, taken, l), 0);
	cr_assert_leq(*taken, len);
	return qb_crypto_protect_from(key, buf + l->offset, l->pn_offset, l->pn_len, l->pn,
	                              l->payload_len - *taken, src, *taken);
}

/* Opens pkt and checks it carries exactly [id, off, taken bytes of src, fin]. */
static void
check_opens(const struct qb_crypto_key *key, uint8_t *pkt, size_t len, uint64_t id, uint64_t off,
            size_t taken, bool fin)
{
	struct qb_crypto_hdr h;
	struct qb_frame f;
	uint64_t terr;
	size_t at = 0;
	int n;

	cr_assert_eq(qb_crypto_unprotect(key, pkt, len, 1 + sizeof(dcid), 76, &h), 0);
	cr_assert_eq(h.pn, 77);
	uint8_t *p = pkt + h.pn_offset + h.pn_len;
	/* PADDING may come first (sample minimum, or no room for a Length). */
	n = qb_frame_decode(p, h.payload_len, &f, &terr);
	cr_assert_gt(n, 0);
	if (f.type == QB_FT_PADDING) {
		at = (size_t)n;
		n = qb_frame_decode(p + at, h.payload_len - at, &f, &terr);
		cr_assert_gt(n, 0);
	}
	cr_assert(f.type >= 0x08 && f.type <= 0x0f, "type 0x%lx", (unsigned long)f.type);
	cr_assert_eq(at + (size_t)n, h.payload_len, "the STREAM frame is the last");
	cr_assert_eq(f.stream.stream_id, id);
	cr_assert_eq(f.stream.offset, off);
	cr_assert_eq(f.stream.len, taken);
	cr_assert_eq(f.stream.fin, fin);
	cr_assert(memcmp(f.stream.data, src, taken) == 0);
}

Test(fastpath, same_packet_as_classic_when_data_fills_it, .init = setup)
{
	static uint8_t a[CAP], b[CAP];
	const size_t sizes[] = {1200, 1452, 100, 40};
	struct qb_crypto_key key;

	key_of(&key);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t pn_len = 1; pn_len <= 4; pn_len++) {
			const uint64_t offs[] = {0, 63, 64, 16383, 16384, (uint64_t)1 << 30};
			for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
				struct qb_pkt_layout la, lb;
				struct qb_pkt_enc e;
				size_t ta, tb;
				int ra, rb;

				memset(a, 0xee, sizeof(a));
				memset(b, 0xee, sizeof(b));
				qb_pkt_enc_init(&e, a, sizes[s]);
				cr_assert_eq(qb_pkt_enc_begin_short(&e, dcid, sizeof(dcid), false,
				                                    false, 77, pn_len),
				             0);
				cr_assert_eq(
				        qb_pkt_enc_stream(&e, 4, offs[o], src, 3000, false, &ta),
				        0);
				cr_assert_eq(qb_pkt_enc_finish(&e, &la), 0);
				ra = qb_crypto_protect(&key, a + la.offset, la.pn_offset, la.pn_len,
				                       la.pn, la.payload_len);
				rb = build_fast(&key, b, sizes[s], pn_len, 4, offs[o], 3000, false,
				                &tb, &lb);
				cr_assert_eq(ra, (int)sizes[s]);
				cr_assert_eq(rb, ra);
				cr_assert_eq(tb, ta);
				cr_assert_eq(lb.payload_len, la.payload_len);
				cr_assert_eq(lb.hdr_len, la.hdr_len);
				cr_assert(memcmp(a, b, sizeof(a)) == 0,
				          "size %zu pn_len %zu off %zu", sizes[s], pn_len, o);
				check_opens(&key, b, (size_t)rb, 4, offs[o], tb, false);
			}
		}
	}
	qb_crypto_key_clear(&key);
}

Test(fastpath, every_short_length_opens_with_all_its_data, .init = setup)
{
	static uint8_t b[CAP + 64];
	struct qb_crypto_key key;

	key_of(&key);
	/* Every data length in a 200-byte packet, with and without FIN, pn
	 * lengths 1 and 2: the packet ends with the data, whatever its length. */
	for (size_t pn_len = 1; pn_len <= 2; pn_len++)
		for (size_t len = 0; len <= 200; len++)
			for (int fin = 0; fin <= 1; fin++) {
				struct qb_pkt_layout l;
				size_t taken;
				int r;

				if (len == 0 && !fin)
					continue;
				memset(b, 0xee, sizeof(b));
				r = build_fast(&key, b, 200, pn_len, 8, 1000, len, fin, &taken, &l);
				cr_assert_gt(r, 0);
				cr_assert_leq((size_t)r, 200);
				cr_assert_eq(b[200], 0xee, "wrote past the cap");
				/* All of it whenever it fits: only a full packet truncates. */
				if (taken < len)
					cr_assert_eq((size_t)r, 200);
				else
					cr_assert_eq(taken, len);
				/* No Length, no padding: header, 1 + 1 + 2, data, tag. */
				cr_assert_eq((size_t)r, 9 + pn_len + 4 + taken + 16);
				check_opens(&key, b, (size_t)r, 8, 1000, taken,
				            fin && taken == len);
			}
	qb_crypto_key_clear(&key);
}

Test(fastpath, pads_before_the_frame_for_the_sample, .init = setup)
{
	static uint8_t b[CAP];
	struct qb_crypto_key key;
	struct qb_pkt_layout l;
	size_t taken;
	int r;

	key_of(&key);
	/* 1-byte pn + a FIN-only frame of stream 0 (2 bytes) is 3 < 4 bytes:
	 * one PADDING byte first (RFC 9001 §5.4.2). */
	r = build_fast(&key, b, 1200, 1, 0, 0, 0, true, &taken, &l);
	cr_assert_eq(r, 9 + 1 + 1 + 2 + 16);
	cr_assert_eq(l.payload_len, 3);
	check_opens(&key, b, (size_t)r, 0, 0, 0, true);
	/* With one data byte it is exactly 4: no padding. */
	r = build_fast(&key, b, 1200, 1, 0, 0, 1, false, &taken, &l);
	cr_assert_eq(r, 9 + 1 + 2 + 1 + 16);
	check_opens(&key, b, (size_t)r, 0, 0, 1, false);
	qb_crypto_key_clear(&key);
}

Test(fastpath, long_header_gets_its_length, .init = setup)
{
	static uint8_t b[CAP];
	struct qb_pkt_layout l;
	struct qb_pkt_hdr h;
	struct qb_pkt_enc e;
	size_t taken;

	qb_pkt_enc_init(&e, b, 1200);
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_0RTT, dcid, 8, dcid, 4, NULL, 0,
	                                   5, 2),
	             0);
	cr_assert_eq(qb_pkt_enc_stream_final(&e, 0, 0, 100, true, &taken, &l), 0);
	cr_assert_eq(taken, 100);
	memcpy(b + l.offset + l.hdr_len + l.payload_len - taken, src, taken);
	/* The parser finds the packet's end from its Length, not the datagram's. */
	cr_assert_eq(qb_pkt_parse(b, l.len + 40, 0, 8, 0, &h), 0);
	cr_assert_eq(h.len, l.len);
	cr_assert_eq(h.pn_offset, l.pn_offset);
}

Test(fastpath, refuses_and_leaves_the_packet_open)
{
	uint8_t b[64];
	struct qb_pkt_layout l;
	struct qb_pkt_enc e;
	size_t taken = 99;

	qb_pkt_enc_init(&e, b, sizeof(b));
	cr_assert_eq(qb_pkt_enc_stream_final(&e, 0, 0, 10, false, &taken, &l), QB_ERR_STATE);
	cr_assert_eq(qb_pkt_enc_begin_short(&e, dcid, 8, false, false, 1, 1), 0);
	cr_assert_eq(qb_pkt_enc_stream_final(&e, 0, 0, 0, false, &taken, &l), QB_ERR_ARG);
	cr_assert_eq(qb_pkt_enc_stream_final(&e, (uint64_t)1 << 62, 0, 1, false, &taken, &l),
	             QB_ERR_ARG);
	/* Leave 8 bytes of room, less than a 1 + 8 + 8 byte STREAM header. */
	cr_assert_eq(qb_pkt_enc_pad(&e, qb_pkt_enc_room(&e) - 8), 0);
	size_t off = e.off;
	cr_assert_eq(qb_pkt_enc_stream_final(&e, (uint64_t)1 << 40, (uint64_t)1 << 40, 5, false,
	                                     &taken, &l),
	             QB_ERR_NOBUF);
	cr_assert(e.open);
	cr_assert_eq(e.off, off);
	/* A frame that fits still goes in the same packet. */
	cr_assert_eq(qb_pkt_enc_stream_final(&e, 0, 0, 5, false, &taken, &l), 0);
	cr_assert_eq(taken, 5);
	cr_assert(!e.open);
	/* 2 bytes of frame header + 5 of data in the 8 left: one byte short. */
	cr_assert_eq(l.len, sizeof(b) - 1);
}

static uint64_t rng = 0x243f6a8885a308d3u;

static uint64_t
rnd(void)
{
	/* xorshift64*: reproducible. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1du;
}

static uint64_t
rnd_varint(void)
{
	/* Around every varint length boundary, and past the largest. */
	static const uint64_t edges[] = {0,
	                                 1,
	                                 63,
	                                 64,
	                                 16383,
	                                 16384,
	                                 (UINT64_C(1) << 30) - 1,
	                                 UINT64_C(1) << 30,
	                                 (UINT64_C(1) << 62) - 1,
	                                 UINT64_C(1) << 62};
	uint64_t v = edges[rnd() % 10];

	return rnd() % 4 == 0 ? v + rnd() % 3 : v;
}

Test(fastpath, short_stream_is_begin_short_then_stream_final)
{
	static uint8_t a[CAP + 64], b[CAP + 64];
	uint8_t cid[20];

	for (int it = 0; it < 20000; it++) {
		struct qb_pkt_enc ea, eb;
		struct qb_pkt_layout la, lb;
		size_t cap = rnd() % 1500, dcid_len = rnd() % 22, pn_len = rnd() % 6;
		size_t len = rnd() % 4 == 0 ? rnd() % 8 : rnd() % 2000, ta = 7, tb = 7;
		uint64_t pn = rnd() & 0xffffffff, id = rnd_varint(), off = rnd_varint();
		bool spin = rnd() & 1, kp = rnd() & 1, fin = rnd() & 1;
		int ra, rb;

		for (size_t i = 0; i < sizeof(cid); i++)
			cid[i] = (uint8_t)rnd();
		memset(a, 0xee, sizeof(a));
		memset(b, 0xee, sizeof(b));
		qb_pkt_enc_init(&ea, a, cap);
		qb_pkt_enc_init(&eb, b, cap);
		if (it % 2 && cap > 100) {
			/* Coalesced after a Handshake packet: the packet starts mid-buffer. */
			struct qb_pkt_layout l0;
			cr_assert_eq(qb_pkt_enc_begin_long(&eb, QB_VERSION_1, QB_PKT_HANDSHAKE, cid,
			                                   8, cid, 8, NULL, 0, 1, 1),
			             0);
			cr_assert_eq(qb_pkt_enc_pad(&eb, rnd() % 20), 0);
			cr_assert_eq(qb_pkt_enc_finish(&eb, &l0), 0);
			memcpy(a, b, sizeof(a));
			ea = eb;
			ea.buf = a;
		}
		ra = qb_pkt_enc_short_stream(&ea, cid, dcid_len, spin, kp, pn, pn_len, id, off, len,
		                             fin, &ta, &la);
		rb = qb_pkt_enc_begin_short(&eb, cid, dcid_len, spin, kp, pn, pn_len);
		if (rb == 0) {
			size_t off_before = eb.off;
			rb = qb_pkt_enc_stream_final(&eb, id, off, len, fin, &tb, &lb);
			if (rb != 0)
				cr_assert_eq(eb.off, off_before);
		}
		cr_assert_eq(ra, rb, "iter %d: %d != %d", it, ra, rb);
		if (ra != 0) {
			/* Nothing written by the one-call form. */
			for (size_t i = 0; i < sizeof(a); i++)
				if (i >= ea.off)
					cr_assert_eq(a[i], 0xee, "iter %d: byte %zu written", it,
					             i);
			cr_assert(!ea.open);
			continue;
		}
		cr_assert_eq(ta, tb);
		cr_assert(memcmp(a, b, sizeof(a)) == 0, "iter %d: bytes differ", it);
		cr_assert_eq(la.offset, lb.offset);
		cr_assert_eq(la.pn_offset, lb.pn_offset);
		cr_assert_eq(la.pn_len, lb.pn_len);
		cr_assert_eq(la.hdr_len, lb.hdr_len);
		cr_assert_eq(la.payload_len, lb.payload_len);
		cr_assert_eq(la.len, lb.len);
		cr_assert_eq(la.pn, lb.pn);
		cr_assert_eq(la.type, lb.type);
		cr_assert_eq(ea.off, eb.off);
		cr_assert_eq(ea.pkt, eb.pkt);
		cr_assert_eq(ea.pn_off, eb.pn_off);
		cr_assert_eq(ea.len_off, eb.len_off);
		cr_assert_eq(ea.limit, eb.limit);
		cr_assert_eq(ea.pn, eb.pn);
		cr_assert_eq(ea.pn_len, eb.pn_len);
		cr_assert_eq(ea.type, eb.type);
		cr_assert_eq(ea.open, eb.open);
		cr_assert_eq(ea.closed, eb.closed);
	}
}

Test(fastpath, short_stream_tmpl_is_short_stream)
{
	static uint8_t a[CAP + 64], b[CAP + 64];
	uint8_t cid[20];

	for (int it = 0; it < 20000; it++) {
		struct qb_pkt_short_tmpl t;
		struct qb_pkt_enc eb;
		struct qb_pkt_layout la, lb;
		size_t cap = rnd() % 1500, dcid_len = rnd() % 22, pn_len = rnd() % 6;
		size_t len = rnd() % 4 == 0 ? rnd() % 8 : rnd() % 2000, ta = 7, tb = 7;
		uint64_t pn = rnd() & 0xffffffff, id = rnd_varint(), off = rnd_varint();
		bool spin = rnd() & 1, kp = rnd() & 1, fin = rnd() & 1;
		int ra, rb;

		for (size_t i = 0; i < sizeof(cid); i++)
			cid[i] = (uint8_t)rnd();
		if (dcid_len > QB_MAX_CID_LEN) {
			cr_assert_eq(qb_pkt_short_tmpl_init(&t, cid, dcid_len, spin, kp),
			             QB_ERR_ARG);
			continue;
		}
		cr_assert_eq(qb_pkt_short_tmpl_init(&t, cid, dcid_len, spin, kp), 0);
		memset(a, 0xee, sizeof(a));
		memset(b, 0xee, sizeof(b));
		qb_pkt_enc_init(&eb, b, cap);
		ra = qb_pkt_enc_short_stream_tmpl(&t, a, cap, pn, pn_len, id, off, len, fin, &ta,
		                                  &la);
		rb = qb_pkt_enc_short_stream(&eb, cid, dcid_len, spin, kp, pn, pn_len, id, off, len,
		                             fin, &tb, &lb);
		/* Never a byte past cap. */
		for (size_t i = cap; i < sizeof(a); i++)
			cr_assert_eq(a[i], 0xee, "iter %d: byte %zu past cap %zu written", it, i,
			             cap);
		if (cap < QB_PKT_SHORT_TMPL_MIN_CAP) {
			/* Refused for room, or for an argument checked before room. */
			cr_assert(ra == QB_ERR_NOBUF || (ra == QB_ERR_ARG && rb == QB_ERR_ARG),
			          "iter %d: cap %zu: %d (%d)", it, cap, ra, rb);
			continue;
		}
		if (rb != 0) {
			cr_assert_eq(ra, rb, "iter %d: %d != %d", it, ra, rb);
			continue;
		}
		cr_assert_eq(ra, (int)lb.len, "iter %d: %d != %zu", it, ra, lb.len);
		cr_assert_eq(ta, tb);
		/* Header, padding and frame header: the bytes before the data. */
		cr_assert(memcmp(a, b, lb.len - QB_AEAD_TAG_LEN - tb) == 0, "iter %d: bytes differ",
		          it);
		cr_assert_eq(la.offset, lb.offset);
		cr_assert_eq(la.pn_offset, lb.pn_offset);
		cr_assert_eq(la.pn_len, lb.pn_len);
		cr_assert_eq(la.hdr_len, lb.hdr_len);
		cr_assert_eq(la.payload_len, lb.payload_len);
		cr_assert_eq(la.len, lb.len);
		cr_assert_eq(la.pn, lb.pn);
		cr_assert_eq(la.type, lb.type);
		/* info may be NULL. */
		cr_assert_eq(qb_pkt_enc_short_stream_tmpl(&t, a, cap, pn, pn_len, id, off, len, fin,
		                                          &ta, NULL),
		             ra);
	}
}
