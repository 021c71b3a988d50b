/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The path the burst engine takes, end to end on the RFC vectors: the wire
 * module's packet encoder writes the header and frames, qb_crypto_protect()
 * seals it in place from the encoder's qb_pkt_layout; and the receive side:
 * qb_dgram_parse() then qb_crypto_unprotect(). Also the Retry packet built by
 * the encoder with its tag from qb_crypto_retry_tag().
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/crypto.h"
#include "qburst/wire.h"

#include "hex.h"
#include "rfc_vectors.h"

static const struct qb_rfc_vectors *const versions[] = {&qb_rfc9001, &qb_rfc9369};

Test(crypto_wire, encoder_then_protect_gives_the_client_initial)
{
	for (size_t vi = 0; vi < 2; vi++) {
		const struct qb_rfc_vectors *v = versions[vi];
		uint8_t dcid[8], frames[300], want[1200], dgram[1500];
		struct qb_crypto_key ck, sk;
		struct qb_pkt_enc e;
		struct qb_pkt_layout info;
		size_t nf = qb_test_unhex_ok(v->client_crypto, frames, sizeof(frames));

		qb_test_unhex_ok(v->dcid, dcid, sizeof(dcid));
		cr_assert_eq(qb_test_unhex_ok(v->client_packet, want, sizeof(want)), 1200);
		cr_assert_eq(qb_crypto_initial_keys(v->version, dcid, 8, &ck, &sk), 0);

		/* Initial, empty SCID and token, pn 2 on 4 bytes, CRYPTO frame,
		 * padded to a 1200-byte datagram (RFC 9000 §14.1). */
		qb_pkt_enc_init(&e, dgram, 1200);
		cr_assert_eq(qb_pkt_enc_begin_long(&e, v->version, QB_PKT_INITIAL, dcid, 8, NULL, 0,
		                                   NULL, 0, 2, 4),
		             0);
		cr_assert_geq(qb_pkt_enc_room(&e), nf);
		memcpy(qb_pkt_enc_ptr(&e), frames, nf);
		qb_pkt_enc_advance(&e, nf);
		cr_assert_eq(qb_pkt_enc_pad_to(&e, 1200), 0);
		cr_assert_eq(qb_pkt_enc_finish(&e, &info), 0);
		cr_assert_eq(info.len, 1200);

		int n = qb_crypto_protect(&ck, dgram + info.offset, info.pn_offset, info.pn_len,
		                          info.pn, info.payload_len);
		cr_assert_eq(n, (int)info.len);
		cr_assert_arr_eq(dgram, want, 1200, "%s: encoder + protect differs", v->name);

		/* Receive: parse the datagram, unprotect the packet. */
		struct qb_pkt_hdr h[2];
		struct qb_crypto_hdr hdr;
		cr_assert_eq(qb_dgram_parse(dgram, 1200, 8, 0, h, 2), 1);
		cr_assert_eq(h[0].type, QB_PKT_INITIAL);
		cr_assert_eq(h[0].pn_offset, info.pn_offset);
		cr_assert_eq(qb_crypto_unprotect(&ck, dgram + h[0].offset, h[0].len, h[0].pn_offset,
		                                 QB_PN_NONE, &hdr),
		             0);
		cr_assert_eq(hdr.pn, 2);
		cr_assert_arr_eq(dgram + h[0].pn_offset + hdr.pn_len, frames, nf);
		qb_crypto_key_clear(&ck);
		qb_crypto_key_clear(&sk);
	}
}

Test(crypto_wire, encoder_retry_with_our_tag_is_the_rfc_retry)
{
	for (size_t vi = 0; vi < 2; vi++) {
		const struct qb_rfc_vectors *v = versions[vi];
		uint8_t odcid[8], want[64], buf[64];
		static const uint8_t scid[8] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};
		size_t wn = qb_test_unhex_ok(v->retry, want, sizeof(want));
		int n;

		qb_test_unhex_ok(v->dcid, odcid, sizeof(odcid));
		/* The RFC's Retry: empty DCID, SCID f067..., token "token",
		 * unused bits all ones. */
		n = qb_pkt_enc_retry(buf, sizeof(buf), v->version, 0x0f, NULL, 0, scid, 8,
		                     (const uint8_t *)"token", 5);
		cr_assert_eq(n, (int)wn);
		cr_assert_eq(qb_crypto_retry_tag(v->version, odcid, 8, buf, (size_t)n - 16,
		                                 buf + n - 16),
		             0);
		cr_assert_arr_eq(buf, want, wn, "%s Retry differs", v->name);
		cr_assert_eq(qb_crypto_retry_verify(v->version, odcid, 8, buf, (size_t)n), 0);
	}
}
