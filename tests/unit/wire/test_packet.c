/* SPDX-License-Identifier: BSD-3-Clause */
/* Packet headers: RFC 9001 App. A / RFC 9369 App. A headers, encoder bounds. */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/packet.h"
#include "hex.h"

static const uint8_t odcid[] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
static const uint8_t server_scid[] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};

/* RFC 9001 A.2: the client Initial's CRYPTO frame (the rest is PADDING). */
static const char client_crypto[] =
        "060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868"
        "04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578"
        "616d706c652e636f6dff01000100000a 00080006001d00170018001000070005"
        "04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba"
        "baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400"
        "0d0010000e0403050306030203080408 050806002d00020101001c0002400100"
        "3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000"
        "75300901100f088394c8f03e51570806 048000ffff";
/* RFC 9001 A.3: the server Initial's payload (ACK, CRYPTO). */
static const char server_payload[] =
        "02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739"
        "88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94"
        "0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00"
        "020304";

/* Builds the client Initial of RFC 9001 A.2 (v1) or RFC 9369 A.2 (v2). */
static size_t
client_initial(uint32_t version, uint8_t *d, size_t cap, struct qb_pkt_layout *info)
{
	uint8_t frames[300];
	size_t fl = qb_test_unhex_ok(client_crypto, frames, sizeof(frames));
	struct qb_pkt_enc e;
	qb_pkt_enc_init(&e, d, cap);
	cr_assert_eq(qb_pkt_enc_begin_long(&e, version, QB_PKT_INITIAL, odcid, 8, NULL, 0, NULL, 0,
	                                   2, 4),
	             0);
	cr_assert_geq(qb_pkt_enc_room(&e), fl);
	memcpy(qb_pkt_enc_ptr(&e), frames, fl);
	qb_pkt_enc_advance(&e, fl);
	cr_assert_eq(qb_pkt_enc_pad_to(&e, 1200), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, info), 0);
	return qb_pkt_enc_len(&e);
}

Test(packet, rfc9001_a2_client_initial_header)
{
	uint8_t d[1300], want[64];
	struct qb_pkt_layout info;
	size_t n = client_initial(QB_VERSION_1, d, sizeof(d), &info);
	size_t hl = qb_test_unhex_ok("c300000001088394c8f03e5157080000449e00000002", want,
	                             sizeof(want));
	cr_assert_eq(n, 1200);
	cr_assert_arr_eq(d, want, hl, "header bytes differ from RFC 9001 A.2");
	cr_assert_eq(info.offset, 0);
	cr_assert_eq(info.pn_offset, 18);
	cr_assert_eq(info.hdr_len, 22);
	cr_assert_eq(info.payload_len, 1162, "RFC 9001 A.2: 1162-byte payload");
	cr_assert_eq(info.len, 1200);
	cr_assert_eq(info.pn, 2);

	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_INITIAL);
	cr_assert_eq(h.version, QB_VERSION_1);
	cr_assert_eq(h.dcid_len, 8);
	cr_assert_arr_eq(h.dcid, odcid, 8);
	cr_assert_eq(h.scid_len, 0);
	cr_assert_eq(h.token_len, 0);
	cr_assert_eq(h.pn_offset, 18);
	cr_assert_eq(h.len, 1200, "Length 1182 + 18 header bytes");
	cr_assert_eq(h.end, 1200);
}

Test(packet, rfc9369_a2_client_initial_header_v2)
{
	uint8_t d[1300], want[64];
	struct qb_pkt_layout info;
	size_t n = client_initial(QB_VERSION_2, d, sizeof(d), &info);
	size_t hl = qb_test_unhex_ok("d36b3343cf088394c8f03e5157080000449e00000002", want,
	                             sizeof(want));
	cr_assert_arr_eq(d, want, hl, "header bytes differ from RFC 9369 A.2");
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_INITIAL);
	cr_assert_eq(h.version, QB_VERSION_2);
	cr_assert_eq(h.end, 1200);
}

static void
server_initial(uint32_t version, const char *hdr_hex)
{
	uint8_t d[256], want[64], pl[128];
	size_t pn = qb_test_unhex_ok(server_payload, pl, sizeof(pl));
	size_t hl = qb_test_unhex_ok(hdr_hex, want, sizeof(want));
	struct qb_pkt_enc e;
	struct qb_pkt_layout info;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, version, QB_PKT_INITIAL, NULL, 0, server_scid, 8,
	                                   NULL, 0, 1, 2),
	             0);
	memcpy(qb_pkt_enc_ptr(&e), pl, pn);
	qb_pkt_enc_advance(&e, pn);
	cr_assert_eq(qb_pkt_enc_finish(&e, &info), 0);
	cr_assert_arr_eq(d, want, hl);
	cr_assert_eq(info.hdr_len, hl);
	cr_assert_eq(info.payload_len, pn);
	cr_assert_eq(qb_pkt_enc_len(&e), hl + pn + 16);

	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, qb_pkt_enc_len(&e), 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_INITIAL);
	cr_assert_eq(h.scid_len, 8);
	cr_assert_arr_eq(h.scid, server_scid, 8);
	cr_assert_eq(h.pn_offset, 18);
	cr_assert_eq(h.end, qb_pkt_enc_len(&e));
}

Test(packet, rfc9001_a3_server_initial_header)
{
	server_initial(QB_VERSION_1, "c1000000010008f067a5502a4262b50040750001");
	server_initial(QB_VERSION_2, "d16b3343cf0008f067a5502a4262b50040750001");
}

static void
retry(uint32_t version, const char *hex)
{
	uint8_t pkt[64], out[64];
	size_t n = qb_test_unhex_ok(hex, pkt, sizeof(pkt));
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(pkt, n, 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_RETRY);
	cr_assert_eq(h.version, version);
	cr_assert_eq(h.dcid_len, 0);
	cr_assert_eq(h.scid_len, 8);
	cr_assert_arr_eq(h.scid, server_scid, 8);
	cr_assert_eq(h.token_len, 5);
	cr_assert_arr_eq(h.token, "token", 5);
	cr_assert_eq(h.retry_tag, pkt + n - 16);
	cr_assert_eq(h.end, n);
	/* The encoder writes the same bytes up to the tag (which crypto computes). */
	int m = qb_pkt_enc_retry(out, sizeof(out), version, pkt[0] & 0x0f, NULL, 0, server_scid, 8,
	                         (const uint8_t *)"token", 5);
	cr_assert_eq(m, (int)n);
	cr_assert_arr_eq(out, pkt, n - 16);
	cr_assert_eq(qb_pkt_enc_retry(out, n - 1, version, 0, NULL, 0, server_scid, 8,
	                              (const uint8_t *)"token", 5),
	             QB_ERR_NOBUF);
}

Test(packet, rfc9001_a4_retry)
{
	retry(QB_VERSION_1, "ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f"
	                    "0f2496ba");
	retry(QB_VERSION_2, "cf6b3343cf0008f067a5502a4262b574 6f6b656ec8646ce8bfe33952d9555436"
	                    "65dcc7b6");
}

Test(packet, rfc9001_a5_short_header)
{
	/* RFC 9001 A.5: unprotected header 4200bff4, payload 01: 21 bytes. */
	uint8_t d[64];
	struct qb_pkt_enc e;
	struct qb_pkt_layout info;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_short(&e, NULL, 0, false, false, 654360564, 3), 0);
	*qb_pkt_enc_ptr(&e) = 0x01;
	qb_pkt_enc_advance(&e, 1);
	cr_assert_eq(qb_pkt_enc_finish(&e, &info), 0);
	cr_assert_eq(qb_pkt_enc_len(&e), 21, "RFC 9001 A.5: smallest packet, no sample padding");
	cr_assert_eq(d[0], 0x42);
	cr_assert_eq(d[1], 0x00);
	cr_assert_eq(d[2], 0xbf);
	cr_assert_eq(d[3], 0xf4);
	cr_assert_eq(d[4], 0x01);
	cr_assert_eq(info.pn_offset, 1);
	cr_assert_eq(info.payload_len, 1);

	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, 21, 0, 0, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_1RTT);
	cr_assert_eq(h.pn_offset, 1);
	cr_assert_eq(h.end, 21);
	/* One byte less and the sample would run past the packet. */
	cr_assert_eq(qb_pkt_parse(d, 20, 0, 0, 0, &h), QB_ERR_INVALID);
}

Test(packet, short_header_bits_and_sample_padding)
{
	uint8_t d[64], cid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct qb_pkt_enc e;
	struct qb_pkt_layout info;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 8, true, true, 7, 1), 0);
	*qb_pkt_enc_ptr(&e) = 0x01; /* PING */
	qb_pkt_enc_advance(&e, 1);
	cr_assert_eq(qb_pkt_enc_finish(&e, &info), 0);
	/* pn_len 1 + frames must reach 4: two PADDING bytes were added. */
	cr_assert_eq(info.payload_len, 3);
	cr_assert_eq(d[0], 0x40 | 0x20 | 0x04);
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, info.len, 0, 8, 0, &h), 0);
	cr_assert(h.spin);
	cr_assert_arr_eq(h.dcid, cid, 8);
	cr_assert_eq(h.pn_offset, 9);
}

Test(packet, coalesced_walk)
{
	uint8_t d[1500], cid[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	struct qb_pkt_enc e;
	struct qb_pkt_layout i1, i2, i3;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_INITIAL, cid, 8, cid, 4,
	                                   (const uint8_t *)"tok", 3, 0, 1),
	             0);
	cr_assert_eq(qb_pkt_enc_pad(&e, 40), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, &i1), 0);
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_HANDSHAKE, cid, 8, cid, 4, NULL,
	                                   0, 0x1234, 2),
	             0);
	cr_assert_eq(qb_pkt_enc_pad(&e, 30), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, &i2), 0);
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 8, false, false, 5, 2), 0);
	cr_assert_eq(qb_pkt_enc_pad_to(&e, 1200), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, &i3), 0);
	size_t n = qb_pkt_enc_len(&e);
	cr_assert_eq(n, 1200);

	struct qb_pkt_hdr h[4];
	cr_assert_eq(qb_dgram_parse(d, n, 8, 0, h, 4), 3);
	cr_assert_eq(h[0].type, QB_PKT_INITIAL);
	cr_assert_eq(h[0].token_len, 3);
	cr_assert_eq(h[0].end, i1.len);
	cr_assert_eq(h[1].type, QB_PKT_HANDSHAKE);
	cr_assert_eq(h[1].offset, i2.offset);
	cr_assert_eq(h[1].pn_offset, i2.pn_offset);
	cr_assert_eq(h[1].end, i2.offset + i2.len);
	cr_assert_eq(h[2].type, QB_PKT_1RTT);
	cr_assert_eq(h[2].offset, i3.offset);
	cr_assert_eq(h[2].end, 1200);
	/* A max of 2 stops the walk early. */
	cr_assert_eq(qb_dgram_parse(d, n, 8, 0, h, 2), 2);
	/* A Handshake packet with another DCID is ignored, and so is what follows. */
	d[i2.offset + 6] ^= 0xff;
	cr_assert_eq(qb_dgram_parse(d, n, 8, 0, h, 4), 1);
}

Test(packet, trailing_zeros_end_the_walk)
{
	uint8_t d[1200];
	struct qb_pkt_enc e;
	memset(d, 0, sizeof(d));
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_INITIAL, NULL, 0, NULL, 0, NULL,
	                                   0, 0, 1),
	             0);
	cr_assert_eq(qb_pkt_enc_finish(&e, NULL), 0);
	struct qb_pkt_hdr h[2];
	cr_assert_eq(qb_dgram_parse(d, sizeof(d), 0, 0, h, 2), 1);
}

Test(packet, every_truncation_rejected)
{
	uint8_t d[1300];
	struct qb_pkt_layout info;
	size_t n = client_initial(QB_VERSION_1, d, sizeof(d), &info);
	struct qb_pkt_hdr h;
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
		memcpy(copy, d, cut);
		int rc = qb_pkt_parse(copy, cut, 0, 8, 0, &h);
		cr_assert(rc == QB_ERR_TRUNCATED, "cut at %zu gave %d", cut, rc);
		free(copy);
	}
	/* Retry shorter than its tag. */
	uint8_t r[64];
	int m = qb_pkt_enc_retry(r, sizeof(r), QB_VERSION_1, 0, NULL, 0, NULL, 0,
	                         (const uint8_t *)"t", 1);
	cr_assert_eq(qb_pkt_parse(r, (size_t)m, 0, 0, 0, &h), 0);
	cr_assert_eq(qb_pkt_parse(r, (size_t)m - 1, 0, 0, 0, &h), QB_ERR_INVALID, "empty token");
	cr_assert_eq(qb_pkt_parse(r, (size_t)m - 2, 0, 0, 0, &h), QB_ERR_TRUNCATED);
}

Test(packet, malformed_rejected)
{
	uint8_t d[1300];
	struct qb_pkt_layout info;
	size_t n = client_initial(QB_VERSION_1, d, sizeof(d), &info);
	struct qb_pkt_hdr h;
	/* DCID length 21 in v1. */
	d[5] = 21;
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, 0, &h), QB_ERR_INVALID);
	d[5] = 8;
	/* Fixed bit 0: invalid unless grease_quic_bit was sent (RFC 9287). */
	d[0] &= ~0x40;
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, 0, &h), QB_ERR_INVALID);
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, QB_PARSE_GREASE_OK, &h), 0);
	d[0] |= 0x40;
	/* Length below the HP sample's reach. */
	d[16] = 0x40;
	d[17] = 19;
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, 0, &h), QB_ERR_INVALID);
	d[17] = 20;
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, 0, &h), 0);
	cr_assert_eq(h.end, 18 + 20);
	/* Offset at or past the end. */
	cr_assert_eq(qb_pkt_parse(d, n, n, 8, 0, &h), QB_ERR_TRUNCATED);
	/* Short header too short for its CID. */
	uint8_t s[5] = {0x41, 1, 2, 3, 4};
	cr_assert_eq(qb_pkt_parse(s, sizeof(s), 0, 8, 0, &h), QB_ERR_TRUNCATED);
}

Test(packet, unknown_version_and_vn)
{
	uint8_t d[600];
	memset(d, 0x11, sizeof(d));
	/* Unknown version with 255-byte CIDs: allowed by the invariants. */
	d[0] = 0xc0;
	d[1] = 0x1a;
	d[2] = 0x2a;
	d[3] = 0x3a;
	d[4] = 0x4a;
	d[5] = 255;
	d[6 + 255] = 255;
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, 6 + 255 + 1 + 255, 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_UNKNOWN_VERSION);
	cr_assert_eq(h.version, 0x1a2a3a4a);
	cr_assert_eq(h.dcid_len, 255);
	cr_assert_eq(h.scid_len, 255);
	cr_assert_eq(qb_pkt_parse(d, 6 + 255 + 1 + 254, 0, 8, 0, &h), QB_ERR_TRUNCATED);

	/* VN answering it: CIDs swapped, our versions listed. */
	uint8_t vn[600];
	const uint32_t vers[] = {QB_VERSION_2, QB_VERSION_1};
	int m = qb_pkt_enc_vn(vn, sizeof(vn), 0x55, d + 6 + 256, 255, d + 6, 255, vers, 2);
	cr_assert_eq(m, 7 + 510 + 8);
	cr_assert_eq(vn[0] & 0xc0, 0xc0);
	cr_assert_eq(qb_pkt_parse(vn, (size_t)m, 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_VN);
	cr_assert_eq(h.versions_len, 8);
	const uint8_t want[8] = {0x6b, 0x33, 0x43, 0xcf, 0, 0, 0, 1};
	cr_assert_arr_eq(h.versions, want, 8);
	cr_assert_eq(qb_pkt_parse(vn, (size_t)m - 1, 0, 8, 0, &h), QB_ERR_INVALID);
	cr_assert_eq(qb_pkt_enc_vn(vn, (size_t)m - 1, 0, d, 255, d, 255, vers, 2), QB_ERR_NOBUF);
}

Test(packet, encoder_never_overruns)
{
	/* Exact-size buffers followed by guard bytes. */
	for (size_t cap = 0; cap < 80; cap++) {
		uint8_t mem[80 + 32];
		memset(mem, 0xa5, sizeof(mem));
		struct qb_pkt_enc e;
		qb_pkt_enc_init(&e, mem, cap);
		uint8_t cid[8] = {0};
		int rc = qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_HANDSHAKE, cid, 8, cid, 8,
		                               NULL, 0, 1, 4);
		/* 1+4+1+8+1+8+2+4 = 29 header bytes + tag 16: 45 is the least. */
		if (cap < 45) {
			cr_assert_eq(rc, QB_ERR_NOBUF);
			cr_assert_eq(qb_pkt_enc_len(&e), 0);
		} else {
			cr_assert_eq(rc, 0);
			cr_assert_eq(qb_pkt_enc_room(&e), cap - 45);
			cr_assert_eq(qb_pkt_enc_pad(&e, qb_pkt_enc_room(&e) + 1), QB_ERR_NOBUF);
			cr_assert_eq(qb_pkt_enc_pad_to(&e, cap + 1), QB_ERR_NOBUF);
			cr_assert_eq(qb_pkt_enc_pad_to(&e, cap), 0);
			cr_assert_eq(qb_pkt_enc_room(&e), 0);
			cr_assert_eq(qb_pkt_enc_finish(&e, NULL), 0);
			cr_assert_eq(qb_pkt_enc_len(&e), cap);
			struct qb_pkt_hdr h;
			cr_assert_eq(qb_pkt_parse(mem, cap, 0, 8, 0, &h), 0);
			cr_assert_eq(h.end, cap);
		}
		for (size_t i = cap; i < sizeof(mem); i++)
			cr_assert_eq(mem[i], 0xa5, "cap %zu: byte %zu overwritten", cap, i);
	}
}

Test(packet, encoder_state_and_args)
{
	uint8_t d[200], cid[21] = {0};
	struct qb_pkt_enc e;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_finish(&e, NULL), QB_ERR_STATE);
	cr_assert_eq(qb_pkt_enc_pad(&e, 1), QB_ERR_STATE);
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 21, 0, 0, 0, 1), QB_ERR_ARG);
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 8, 0, 0, 0, 5), QB_ERR_ARG);
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_RETRY, cid, 8, cid, 8, NULL, 0,
	                                   0, 1),
	             QB_ERR_ARG);
	cr_assert_eq(qb_pkt_enc_begin_long(&e, 0x0a0a0a0a, QB_PKT_INITIAL, cid, 8, cid, 8, NULL, 0,
	                                   0, 1),
	             QB_ERR_ARG);
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 8, 0, 0, 0, 1), 0);
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 8, 0, 0, 0, 1), QB_ERR_STATE);
	qb_pkt_enc_abort(&e);
	cr_assert_eq(qb_pkt_enc_len(&e), 0);
	/* 0-RTT in v2 uses type bits 0b10 (RFC 9369 §3.2). */
	cr_assert_eq(
	        qb_pkt_enc_begin_long(&e, QB_VERSION_2, QB_PKT_0RTT, cid, 8, cid, 8, NULL, 0, 0, 1),
	        0);
	cr_assert_eq((d[0] >> 4) & 3, 2);
	cr_assert_eq(qb_pkt_enc_finish(&e, NULL), 0);
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, qb_pkt_enc_len(&e), 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_0RTT);
}

Test(packet, length_capped_to_two_byte_varint)
{
	static uint8_t d[20000];
	struct qb_pkt_enc e;
	struct qb_pkt_layout info;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_HANDSHAKE, NULL, 0, NULL, 0,
	                                   NULL, 0, 0, 1),
	             0);
	cr_assert_eq(qb_pkt_enc_pad(&e, qb_pkt_enc_room(&e)), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, &info), 0);
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, qb_pkt_enc_len(&e), 0, 0, 0, &h), 0);
	cr_assert_eq(h.len - h.pn_offset, 16383);
}

Test(packet, v2_type_codes)
{
	/* RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00. */
	cr_assert_eq(qb_long_type_bits(QB_VERSION_2, QB_PKT_INITIAL), 1);
	cr_assert_eq(qb_long_type_bits(QB_VERSION_2, QB_PKT_0RTT), 2);
	cr_assert_eq(qb_long_type_bits(QB_VERSION_2, QB_PKT_HANDSHAKE), 3);
	cr_assert_eq(qb_long_type_bits(QB_VERSION_2, QB_PKT_RETRY), 0);
	for (uint8_t b = 0; b < 4; b++) {
		cr_assert_eq(qb_long_type_bits(QB_VERSION_2, qb_long_type_of(QB_VERSION_2, b)), b);
		cr_assert_eq(qb_long_type_bits(QB_VERSION_1, qb_long_type_of(QB_VERSION_1, b)), b);
	}
	cr_assert_eq(QB_TE_CRYPTO_ERROR, 0x100);
	cr_assert_eq(qb_te_crypto_error(0x28), 0x128);
}

Test(packet, rfc9001_a3_protected_server_initial_visible_fields)
{
	/* The protected packet of RFC 9001 A.3: what is visible before HP removal. */
	uint8_t d[200];
	size_t n =
	        qb_test_unhex_ok("cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a"
	                         "5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3"
	                         "dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84"
	                         "022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4"
	                         "2158407dd074ee",
	                         d, sizeof(d));
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, n, 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_INITIAL);
	cr_assert_eq(h.pn_offset, 18);
	cr_assert_eq(h.end, n);
	cr_assert_eq(h.len, 18 + 0x75);
	/* After HP removal (RFC 9001 A.3: first byte c1, pn 0001). */
	cr_assert_eq(qb_pkt_pn_len(0xc1), 2);
	cr_assert(qb_pkt_reserved_ok(0xc1));
	cr_assert(!qb_pkt_reserved_ok(0xc5));
	cr_assert(!qb_pkt_reserved_ok(0x48));
	cr_assert(qb_pkt_reserved_ok(0x44));
	cr_assert(qb_pkt_key_phase(0x44));
	const uint8_t pn[2] = {0x00, 0x01};
	cr_assert_eq(qb_pkt_get_pn(pn, 2), 1);
}

Test(packet, stateless_reset)
{
	uint8_t rnd[64], tok[16], b[64];
	for (int i = 0; i < 64; i++)
		rnd[i] = (uint8_t)(0xff - i);
	memset(tok, 0x5c, sizeof(tok));
	cr_assert_eq(qb_pkt_enc_stateless_reset(b, 20, rnd, tok), QB_ERR_ARG);
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(qb_pkt_enc_stateless_reset(b, 21, rnd, tok), 21);
	cr_assert_eq(b[0], 0x40 | (0xff & 0x3f), "short-header form, fixed bit set");
	cr_assert_arr_eq(b + 1, rnd + 1, 4);
	cr_assert_arr_eq(b + 5, tok, 16);
	cr_assert_eq(b[21], 0xee);
	cr_assert(qb_stateless_reset_match(b, 21, tok));
	cr_assert(!qb_stateless_reset_match(b, 20, tok));
	b[20] ^= 1;
	cr_assert(!qb_stateless_reset_match(b, 21, tok));
	/* It parses as a short header (it is meant to look like one). */
	b[20] ^= 1;
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(b, 21, 0, 0, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_1RTT);
}

Test(packet, overhead_matches_encoder)
{
	uint8_t d[1500], cid[20] = {0}, tok[70] = {0};
	struct qb_pkt_enc e;
	struct qb_pkt_layout L;
	for (size_t pn_len = 1; pn_len <= 4; pn_len++) {
		qb_pkt_enc_init(&e, d, sizeof(d));
		cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_INITIAL, cid, 20, cid,
		                                   5, tok, 70, 9, pn_len),
		             0);
		cr_assert_eq(qb_pkt_enc_pad(&e, 30), 0);
		cr_assert_eq(qb_pkt_enc_finish(&e, &L), 0);
		cr_assert_eq(L.len, 30 + qb_pkt_overhead_long(QB_PKT_INITIAL, 20, 5, 70, pn_len));
		qb_pkt_enc_init(&e, d, sizeof(d));
		cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_2, QB_PKT_HANDSHAKE, cid, 8, cid,
		                                   8, tok, 70, 9, pn_len),
		             0);
		cr_assert_eq(qb_pkt_enc_pad(&e, 30), 0);
		cr_assert_eq(qb_pkt_enc_finish(&e, &L), 0);
		cr_assert_eq(L.len, 30 + qb_pkt_overhead_long(QB_PKT_HANDSHAKE, 8, 8, 70, pn_len));
		qb_pkt_enc_init(&e, d, sizeof(d));
		cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, 8, false, false, 9, pn_len), 0);
		cr_assert_eq(qb_pkt_enc_room(&e), sizeof(d) - qb_pkt_overhead_short(8, pn_len));
	}
}

Test(packet, every_cid_length_copied_exactly)
{
	uint8_t src[20];
	for (int i = 0; i < 20; i++)
		src[i] = (uint8_t)(0xa0 + i);
	for (size_t n = 0; n <= 20; n++) {
		uint8_t d[128];
		memset(d, 0x11, sizeof(d));
		struct qb_pkt_enc e;
		qb_pkt_enc_init(&e, d, sizeof(d));
		cr_assert_eq(qb_pkt_enc_begin_short(&e, src, n, false, false, 0, 1), 0);
		cr_assert_arr_eq(d + 1, src, n, "short dcid %zu", n);
		cr_assert_eq(d[1 + n + 1], 0x11, "no byte written past pn for %zu", n);
		qb_pkt_enc_init(&e, d, sizeof(d));
		cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_HANDSHAKE, src, n,
		                                   src + 20 - n, n, NULL, 0, 0, 1),
		             0);
		cr_assert_eq(d[5], n);
		cr_assert_arr_eq(d + 6, src, n, "long dcid %zu", n);
		cr_assert_eq(d[6 + n], n);
		cr_assert_arr_eq(d + 7 + n, src + 20 - n, n, "long scid %zu", n);
	}
}
