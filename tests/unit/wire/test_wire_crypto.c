/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire encoder and parser with the crypto layer, on RFC 9001 App. A and
 * RFC 9369 App. A: packets laid out by qb_pkt_enc_*, protected with the
 * offsets of struct qb_pkt_layout, must equal the RFCs' protected packets byte
 * for byte; the protected packets, walked by qb_dgram_parse() and opened at
 * its pn_offset, must give back the frames.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/wire.h"
#include "hex.h"
#include "rfc_vectors.h"

static uint8_t dcid[8];
static const uint8_t server_scid[8] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};

static void
client_initial(const struct qb_rfc_vectors *v)
{
	struct qb_crypto_key ck, sk;
	uint8_t d[1300], want[1300], frames[400];
	qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
	cr_assert_eq(qb_crypto_initial_keys(v->version, dcid, 8, &ck, &sk), 0);
	size_t fl = qb_test_unhex_ok(v->client_crypto, frames, sizeof(frames));
	size_t wl = qb_test_unhex_ok(v->client_packet, want, sizeof(want));
	cr_assert_eq(wl, 1200);

	/* Build: header, CRYPTO, PADDING to 1200 in the packet (RFC 9000 §14.1). */
	struct qb_pkt_enc e;
	struct qb_pkt_layout L;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, v->version, QB_PKT_INITIAL, dcid, 8, NULL, 0, NULL,
	                                   0, 2, 4),
	             0);
	memcpy(qb_pkt_enc_ptr(&e), frames, fl);
	qb_pkt_enc_advance(&e, fl);
	cr_assert_eq(qb_pkt_enc_pad_to(&e, 1200), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, &L), 0);
	int n = qb_crypto_protect(&ck, d + L.offset, L.pn_offset, L.pn_len, L.pn, L.payload_len);
	cr_assert_eq(n, (int)L.len);
	cr_assert_arr_eq(d, want, 1200, "%s client Initial differs", v->name);

	/* Receive: walk, unprotect at the parsed offsets, decode the frames. */
	struct qb_pkt_hdr h[2];
	cr_assert_eq(qb_dgram_parse(want, wl, 8, 0, h, 2), 1);
	struct qb_crypto_hdr ch;
	cr_assert_eq(qb_crypto_unprotect(&ck, want + h[0].offset, h[0].len, h[0].pn_offset,
	                                 QB_PN_NONE, &ch),
	             0);
	cr_assert_eq(ch.pn, 2);
	cr_assert(qb_pkt_reserved_ok(ch.first_byte));
	cr_assert_eq(qb_pkt_pn_len(ch.first_byte), 4);
	struct qb_frame f;
	uint64_t terr;
	const uint8_t *pl = want + h[0].pn_offset + ch.pn_len;
	int k = qb_frame_decode(pl, ch.payload_len, &f, &terr);
	cr_assert_eq(k, (int)fl);
	cr_assert_eq(f.type, QB_FT_CRYPTO);
	cr_assert_arr_eq(f.crypto.data, frames + 4, f.crypto.len);
	k = qb_frame_decode(pl + fl, ch.payload_len - fl, &f, &terr);
	cr_assert_eq(f.type, QB_FT_PADDING);
	cr_assert_eq((size_t)k, ch.payload_len - fl);
	qb_crypto_key_clear(&ck);
	qb_crypto_key_clear(&sk);
}

static void
server_initial(const struct qb_rfc_vectors *v)
{
	struct qb_crypto_key ck, sk;
	uint8_t d[300], want[300], pl[200];
	qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
	cr_assert_eq(qb_crypto_initial_keys(v->version, dcid, 8, &ck, &sk), 0);
	size_t pn = qb_test_unhex_ok(v->server_payload, pl, sizeof(pl));
	size_t wl = qb_test_unhex_ok(v->server_packet, want, sizeof(want));

	/* The payload re-encoded from its frames: ACK from a range, then CRYPTO. */
	struct qb_frame fr[2];
	uint64_t terr;
	int a = qb_frame_decode(pl, pn, &fr[0], &terr);
	cr_assert_gt(a, 0);
	cr_assert_eq(qb_frame_decode(pl + a, pn - (size_t)a, &fr[1], &terr), (int)pn - a);
	struct qb_pkt_enc e;
	struct qb_pkt_layout L;
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, v->version, QB_PKT_INITIAL, NULL, 0, server_scid, 8,
	                                   NULL, 0, 1, 2),
	             0);
	const struct qb_ack_range r = {0, 0};
	cr_assert_eq(qb_pkt_enc_ack(&e, &r, 1, 0, NULL, NULL), 0);
	size_t taken;
	cr_assert_eq(qb_pkt_enc_crypto(&e, fr[1].crypto.offset, fr[1].crypto.data, fr[1].crypto.len,
	                               &taken),
	             0);
	cr_assert_eq(taken, fr[1].crypto.len);
	cr_assert_eq(qb_pkt_enc_finish(&e, &L), 0);
	cr_assert_eq(L.payload_len, pn);
	int n = qb_crypto_protect(&sk, d + L.offset, L.pn_offset, L.pn_len, L.pn, L.payload_len);
	cr_assert_eq(n, (int)wl);
	cr_assert_arr_eq(d, want, wl, "%s server Initial differs", v->name);
	qb_crypto_key_clear(&ck);
	qb_crypto_key_clear(&sk);
}

static void
retry(const struct qb_rfc_vectors *v)
{
	uint8_t d[100], want[100];
	qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
	size_t wl = qb_test_unhex_ok(v->retry, want, sizeof(want));
	int n = qb_pkt_enc_retry(d, sizeof(d), v->version, want[0] & 0x0f, NULL, 0, server_scid, 8,
	                         (const uint8_t *)"token", 5);
	cr_assert_eq(n, (int)wl);
	cr_assert_eq(qb_crypto_retry_tag(v->version, dcid, 8, d, (size_t)n - 16, d + n - 16), 0);
	cr_assert_arr_eq(d, want, wl, "%s Retry differs", v->name);
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(want, wl, 0, 8, 0, &h), 0);
	cr_assert_eq(qb_crypto_retry_verify(v->version, dcid, 8, want + h.offset, h.len), 0);
}

Test(wire_crypto, rfc9001_appendix_a)
{
	client_initial(&qb_rfc9001);
	server_initial(&qb_rfc9001);
	retry(&qb_rfc9001);
}

Test(wire_crypto, rfc9369_appendix_a)
{
	client_initial(&qb_rfc9369);
	server_initial(&qb_rfc9369);
	retry(&qb_rfc9369);
}
