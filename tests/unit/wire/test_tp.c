/* SPDX-License-Identifier: BSD-3-Clause */
/* Transport parameters: round trip and every TRANSPORT_PARAMETER_ERROR case. */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/tp.h"
#include "hex.h"

static void
full_server_tp(struct qb_tp *tp)
{
	qb_tp_default(tp);
	tp->present = QB_TP_BIT(QB_TP_ORIGINAL_DCID) | QB_TP_BIT(QB_TP_STATELESS_RESET_TOKEN) |
	              QB_TP_BIT(QB_TP_PREFERRED_ADDRESS) | QB_TP_BIT(QB_TP_INITIAL_SCID) |
	              QB_TP_BIT(QB_TP_RETRY_SCID) | QB_TP_BIT(QB_TP_VERSION_INFORMATION);
	tp->original_dcid.len = 8;
	memcpy(tp->original_dcid.id, "\x83\x94\xc8\xf0\x3e\x51\x57\x08", 8);
	tp->initial_scid.len = 20;
	memset(tp->initial_scid.id, 0x11, 20);
	tp->retry_scid.len = 0;
	memset(tp->stateless_reset_token, 0x22, 16);
	tp->max_idle_timeout = 30000;
	tp->max_udp_payload_size = 1472;
	tp->initial_max_data = 1 << 24;
	tp->initial_max_stream_data_bidi_local = 1 << 20;
	tp->initial_max_stream_data_bidi_remote = 1 << 20;
	tp->initial_max_stream_data_uni = 1 << 20;
	tp->initial_max_streams_bidi = UINT64_C(1) << 60;
	tp->initial_max_streams_uni = 3;
	tp->ack_delay_exponent = 20;
	tp->max_ack_delay = (1 << 14) - 1;
	tp->active_connection_id_limit = 8;
	tp->max_datagram_frame_size = 65535;
	tp->disable_active_migration = true;
	tp->grease_quic_bit = true;
	memcpy(tp->preferred_address.ipv4, "\xc6\x12\x00\x01", 4);
	tp->preferred_address.ipv4_port = 4433;
	memset(tp->preferred_address.ipv6, 0xfe, 16);
	tp->preferred_address.ipv6_port = 4434;
	tp->preferred_address.cid.len = 8;
	memset(tp->preferred_address.cid.id, 0x33, 8);
	memset(tp->preferred_address.reset_token, 0x44, 16);
	tp->version_info.chosen = QB_VERSION_1;
	tp->version_info.n_available = 2;
	tp->version_info.available[0] = QB_VERSION_2;
	tp->version_info.available[1] = QB_VERSION_1;
}

static void
assert_tp_eq(const struct qb_tp *a, const struct qb_tp *b)
{
	/* Compare field by field: padding bytes are not part of the value. */
	cr_assert_eq(a->original_dcid.len, b->original_dcid.len);
	cr_assert_arr_eq(a->original_dcid.id, b->original_dcid.id, a->original_dcid.len);
	cr_assert_eq(a->initial_scid.len, b->initial_scid.len);
	cr_assert_arr_eq(a->initial_scid.id, b->initial_scid.id, a->initial_scid.len);
	cr_assert_eq(a->retry_scid.len, b->retry_scid.len);
	cr_assert_arr_eq(a->stateless_reset_token, b->stateless_reset_token, 16);
	cr_assert_eq(a->max_idle_timeout, b->max_idle_timeout);
	cr_assert_eq(a->max_udp_payload_size, b->max_udp_payload_size);
	cr_assert_eq(a->initial_max_data, b->initial_max_data);
	cr_assert_eq(a->initial_max_stream_data_bidi_local, b->initial_max_stream_data_bidi_local);
	cr_assert_eq(a->initial_max_stream_data_bidi_remote,
	             b->initial_max_stream_data_bidi_remote);
	cr_assert_eq(a->initial_max_stream_data_uni, b->initial_max_stream_data_uni);
	cr_assert_eq(a->initial_max_streams_bidi, b->initial_max_streams_bidi);
	cr_assert_eq(a->initial_max_streams_uni, b->initial_max_streams_uni);
	cr_assert_eq(a->ack_delay_exponent, b->ack_delay_exponent);
	cr_assert_eq(a->max_ack_delay, b->max_ack_delay);
	cr_assert_eq(a->active_connection_id_limit, b->active_connection_id_limit);
	cr_assert_eq(a->max_datagram_frame_size, b->max_datagram_frame_size);
	cr_assert_eq(a->disable_active_migration, b->disable_active_migration);
	cr_assert_eq(a->grease_quic_bit, b->grease_quic_bit);
	cr_assert_arr_eq(a->preferred_address.ipv4, b->preferred_address.ipv4, 4);
	cr_assert_eq(a->preferred_address.ipv4_port, b->preferred_address.ipv4_port);
	cr_assert_arr_eq(a->preferred_address.ipv6, b->preferred_address.ipv6, 16);
	cr_assert_eq(a->preferred_address.ipv6_port, b->preferred_address.ipv6_port);
	cr_assert_eq(a->preferred_address.cid.len, b->preferred_address.cid.len);
	cr_assert_arr_eq(a->preferred_address.cid.id, b->preferred_address.cid.id,
	                 a->preferred_address.cid.len);
	cr_assert_arr_eq(a->preferred_address.reset_token, b->preferred_address.reset_token, 16);
	cr_assert_eq(a->version_info.chosen, b->version_info.chosen);
	cr_assert_eq(a->version_info.n_available, b->version_info.n_available);
	for (int i = 0; i < a->version_info.n_available; i++)
		cr_assert_eq(a->version_info.available[i], b->version_info.available[i]);
}

Test(tp, defaults)
{
	struct qb_tp tp;
	qb_tp_default(&tp);
	cr_assert_eq(tp.max_udp_payload_size, 65527);
	cr_assert_eq(tp.ack_delay_exponent, 3);
	cr_assert_eq(tp.max_ack_delay, 25);
	cr_assert_eq(tp.active_connection_id_limit, 2);
	cr_assert_eq(tp.present, 0);
	uint8_t b[8];
	cr_assert_eq(qb_tp_encode(b, sizeof(b), &tp, false), 0, "defaults need no bytes");
	uint64_t terr;
	struct qb_tp d;
	cr_assert_eq(qb_tp_decode(b, 0, true, &d, &terr), 0);
	cr_assert_eq(d.max_ack_delay, 25);
}

Test(tp, roundtrip_server_full)
{
	struct qb_tp tp, d;
	full_server_tp(&tp);
	uint8_t b[512];
	int n = qb_tp_encode(b, sizeof(b), &tp, true);
	cr_assert_gt(n, 0);
	uint64_t terr = 5;
	cr_assert_eq(qb_tp_decode(b, (size_t)n, true, &d, &terr), 0);
	cr_assert_eq(terr, 0);
	assert_tp_eq(&tp, &d);
	cr_assert(d.present & QB_TP_BIT(QB_TP_RETRY_SCID), "empty retry_scid is still present");
	cr_assert(d.present & QB_TP_BIT(QB_TP_GREASE_QUIC_BIT));
	cr_assert(d.present & QB_TP_BIT(QB_TP_MAX_DATAGRAM_FRAME_SIZE));
	/* A client must refuse the same bytes: server-only parameters. */
	cr_assert_eq(qb_tp_decode(b, (size_t)n, false, &d, &terr), QB_ERR_INVALID);
	cr_assert_eq(terr, QB_TE_TRANSPORT_PARAMETER_ERROR);
	/* The encoder refuses to send them as a client. */
	cr_assert_eq(qb_tp_encode(b, sizeof(b), &tp, false), QB_ERR_ARG);
	/* Every shorter buffer: QB_ERR_NOBUF, never an overrun (guard bytes). */
	for (int cap = 0; cap < n; cap++) {
		uint8_t g[512];
		memset(g, 0x77, sizeof(g));
		cr_assert_eq(qb_tp_encode(g, (size_t)cap, &tp, true), QB_ERR_NOBUF);
		for (size_t i = (size_t)cap; i < sizeof(g); i++)
			cr_assert_eq(g[i], 0x77);
	}
	/* Every truncation is an error. */
	for (int cut = 1; cut < n; cut++) {
		int rc = qb_tp_decode(b, (size_t)cut, true, &d, &terr);
		if (rc == 0)
			continue; /* cut on a parameter boundary: a valid shorter list */
		cr_assert_eq(terr, QB_TE_TRANSPORT_PARAMETER_ERROR);
	}
}

static void
expect(const char *hex, bool from_server, int rc_want)
{
	uint8_t b[256];
	size_t n = qb_test_unhex_ok(hex, b, sizeof(b));
	struct qb_tp d;
	uint64_t terr = 77;
	int rc = qb_tp_decode(b, n, from_server, &d, &terr);
	cr_assert_eq(rc, rc_want, "%s: rc %d", hex, rc);
	cr_assert_eq(terr, rc ? QB_TE_TRANSPORT_PARAMETER_ERROR : QB_TE_NO_ERROR, "%s", hex);
}

Test(tp, error_cases)
{
	const int BAD = QB_ERR_INVALID, TR = QB_ERR_TRUNCATED;
	/* max_udp_payload_size < 1200; 1200 is fine. */
	expect("03 02 44af", true, BAD);
	expect("03 02 44b0", true, 0);
	/* ack_delay_exponent > 20. */
	expect("0a 01 15", false, BAD);
	expect("0a 01 14", false, 0);
	/* max_ack_delay >= 2^14. */
	expect("0b 04 80004000", false, BAD);
	expect("0b 02 7fff", false, 0);
	/* active_connection_id_limit < 2. */
	expect("0e 01 01", false, BAD);
	expect("0e 01 00", false, BAD);
	expect("0e 01 02", false, 0);
	/* initial_max_streams > 2^60. */
	expect("08 08 d000000000000001", false, BAD);
	expect("09 08 d000000000000001", false, BAD);
	expect("09 08 d000000000000000", false, 0);
	/* Integer value length mismatch: longer, shorter, empty. */
	expect("04 02 05 00", false, BAD);
	expect("04 01 4005", false, BAD);
	expect("04 00", false, BAD);
	/* A non-minimal varint that fills the value exactly is fine. */
	expect("04 02 4005", false, 0);
	/* Server-only parameters from a client. */
	expect("00 00", false, BAD);
	expect("02 10 00112233445566778899aabbccddeeff", false, BAD);
	expect("10 00", false, BAD);
	expect("0d 2a c6120001 1151 fefefefefefefefefefefefefefefefe 1152 01 33"
	       " 44444444444444444444444444444444",
	       false, BAD);
	/* ... and from a server they are fine. */
	expect("00 00", true, 0);
	expect("0d 2a c6120001 1151 fefefefefefefefefefefefefefefefe 1152 01 33"
	       " 44444444444444444444444444444444",
	       true, 0);
	/* Preferred address with an empty CID, or a length mismatch. */
	expect("0d 29 c6120001 1151 fefefefefefefefefefefefefefefefe 1152 00"
	       " 44444444444444444444444444444444",
	       true, BAD);
	expect("0d 2b c6120001 1151 fefefefefefefefefefefefefefefefe 1152 01 33"
	       " 44444444444444444444444444444444 00",
	       true, BAD);
	/* Reset token not 16 bytes. */
	expect("02 0f 00112233445566778899aabbccddee", true, BAD);
	/* CIDs over 20 bytes. */
	expect("0f 15 000102030405060708090a0b0c0d0e0f1011121314", false, BAD);
	expect("0f 14 000102030405060708090a0b0c0d0e0f10111213", false, 0);
	/* Zero-length flags with a value. */
	expect("0c 01 00", false, BAD);
	expect("0c 00", false, 0);
	expect("6ab2 01 00", false, BAD);
	expect("6ab2 00", false, 0);
	/* Duplicates (RFC 9000 §7.4). */
	expect("01 01 05 01 01 05", false, BAD);
	expect("0c 00 0c 00", false, BAD);
	expect("20 01 00 20 01 00", false, BAD);
	/* Truncated id, length or value. */
	expect("40", false, TR);
	expect("01", false, TR);
	expect("01 02 05", false, TR);
	/* Unknown and reserved (31*N+27: 27, 58, 0x1b...) parameters are skipped. */
	expect("1b 03 aabbcc 3a 00 7fff 02 0000 01 01 05", false, 0);
	expect("bfffffff 00 c00000000000abcd 01 ff", false, 0);
	/* version_information (RFC 9368 §4). */
	expect("11 08 00000001 00000001", false, 0);
	expect("11 04 00000001", true, 0);
	expect("11 04 00000001", false, BAD); /* server: chosen not listed */
	expect("11 00", false, BAD);
	expect("11 06 00000001 0000", false, BAD);
	expect("11 08 00000000 00000001", false, BAD);
	expect("11 08 00000001 00000000", true, BAD);
	expect("11 0c 00000001 6b3343cf 00000001", false, 0);
}

Test(tp, encode_refuses_invalid_values)
{
	struct qb_tp tp;
	uint8_t b[256];
	qb_tp_default(&tp);
	tp.ack_delay_exponent = 21;
	cr_assert_eq(qb_tp_encode(b, sizeof(b), &tp, false), QB_ERR_ARG);
	qb_tp_default(&tp);
	tp.max_udp_payload_size = 1199;
	cr_assert_eq(qb_tp_encode(b, sizeof(b), &tp, false), QB_ERR_ARG);
	qb_tp_default(&tp);
	tp.active_connection_id_limit = 1;
	cr_assert_eq(qb_tp_encode(b, sizeof(b), &tp, true), QB_ERR_ARG);
	full_server_tp(&tp);
	tp.preferred_address.cid.len = 0;
	cr_assert_eq(qb_tp_encode(b, sizeof(b), &tp, true), QB_ERR_ARG);
	qb_tp_default(&tp);
	tp.initial_scid.len = 21;
	tp.present = QB_TP_BIT(QB_TP_INITIAL_SCID);
	cr_assert_eq(qb_tp_encode(b, sizeof(b), &tp, false), QB_ERR_ARG);
}

Test(tp, many_versions_kept_up_to_the_limit)
{
	uint8_t b[128];
	size_t n = 0;
	b[n++] = 0x11;
	b[n++] = 4 + 4 * 12;
	memcpy(b + n, "\x6b\x33\x43\xcf", 4);
	n += 4;
	for (int i = 0; i < 12; i++) {
		uint32_t v = i == 11 ? QB_VERSION_2 : 0x0a0a0a0a + (uint32_t)i;
		b[n++] = (uint8_t)(v >> 24);
		b[n++] = (uint8_t)(v >> 16);
		b[n++] = (uint8_t)(v >> 8);
		b[n++] = (uint8_t)v;
	}
	struct qb_tp d;
	uint64_t terr;
	/* The chosen version is 12th: beyond what is kept, still found. */
	cr_assert_eq(qb_tp_decode(b, n, false, &d, &terr), 0);
	cr_assert_eq(d.version_info.n_available, QB_TP_MAX_VERSIONS);
	cr_assert_eq(d.version_info.chosen, QB_VERSION_2);
}
