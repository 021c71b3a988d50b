/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Peer violations: crafted packets, protected with keys an attacker-peer
 * would hold (Initial keys from the DCID; 1-RTT secrets from the client's
 * SSLKEYLOGFILE), close the connection with the RFC 9000 §20.1 code.
 */
#include <stdio.h>
#include <unistd.h>

#include "harness.h"
#include "qburst/crypto.h"
#include "qburst/frame.h"

static char keylog[64];
static struct qb_crypto_key keys[2]; /* 1-RTT: [0] client's, [1] server's */

static void read_key(bool server, struct qb_crypto_key *k);

/* The harness pair, the client logging its secrets to a fresh file. */
static void
setup_keylog(struct h_pair *p, uint64_t seed)
{
	static const char *const alpn[] = {H_ALPN};
	char err[256] = "";

	h_init(p, seed);
	snprintf(keylog, sizeof(keylog), "/tmp/qb_conn_keylog_%d_%lu", (int)getpid(),
	         (unsigned long)seed);
	unlink(keylog);
	qb_tls_ctx_free(p->ctx_c);
	struct qb_tls_ctx_config cfg = {
	        .role = QB_TLS_CLIENT, .alpn = alpn, .alpn_count = 1, .keylog_file = keylog};
	p->ctx_c = qb_tls_ctx_new(&cfg, err, sizeof(err));
	cr_assert_not_null(p->ctx_c, "%s", err);
	p->cfg_c.tls = p->ctx_c;
	h_start(p);
	cr_assert(h_run(p, 5000 * H_MS, h_confirmed, NULL));
	read_key(false, &keys[0]);
	read_key(true, &keys[1]);
	unlink(keylog);
}

static void
fini_keylog(struct h_pair *p)
{
	qb_crypto_key_clear(&keys[0]);
	qb_crypto_key_clear(&keys[1]);
	h_fini(p);
}

static int
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (s[0] && s[1] && s[0] != '\n' && n < max) {
		unsigned v;
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return (int)n;
}

/* The 1-RTT key of one direction, from the key log. */
static void
read_key(bool server, struct qb_crypto_key *k)
{
	const char *label = server ? "SERVER_TRAFFIC_SECRET_0 " : "CLIENT_TRAFFIC_SECRET_0 ";
	char line[512];
	uint8_t secret[48];
	int len = 0;
	FILE *f = fopen(keylog, "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, label, strlen(label)) == 0) {
			char *sec = strchr(line + strlen(label), ' ');
			cr_assert_not_null(sec);
			len = unhex(sec + 1, secret, sizeof(secret));
		}
	fclose(f);
	cr_assert_eq(len, 32, "secret length %d", len);
	memset(k, 0, sizeof(*k));
	cr_assert_eq(
	        qb_crypto_key_init(k, QB_AEAD_AES128GCM, QB_VERSION_1, secret, 32, QB_CRYPTO_AUTO),
	        0);
}

/* Sends one 1-RTT packet holding frames (flen bytes) to `to`, from its peer. */
static void
inject_1rtt(struct h_pair *p, struct qb_conn *to, const uint8_t *frames, size_t flen)
{
	static uint64_t pn = 100000;
	struct qb_pkt_enc e;
	struct qb_pkt_layout lay;
	uint8_t d[H_MTU];
	size_t cid_len;
	const uint8_t *cid = qb_conn_scid(to, &cid_len);

	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, cid_len, false, false, pn++, 4), 0);
	memcpy(qb_pkt_enc_ptr(&e), frames, flen);
	qb_pkt_enc_advance(&e, flen);
	cr_assert_eq(qb_pkt_enc_finish(&e, &lay), 0);
	cr_assert_gt(qb_crypto_protect(&keys[to == p->c], d + lay.offset, lay.pn_offset, lay.pn_len,
	                               lay.pn, lay.payload_len),
	             0);
	cr_assert_eq(qb_conn_recv(to, 0, d, qb_pkt_enc_len(&e), p->now), 0);
}

static void
expect_closed(struct qb_conn *c, uint64_t code, uint64_t frame)
{
	struct qb_conn_close_info ci;
	cr_assert_eq(qb_conn_state(c), QB_CONN_CLOSING, "state %d", qb_conn_state(c));
	qb_conn_close_info(c, &ci);
	cr_assert(!ci.by_peer && !ci.app);
	cr_assert_eq(ci.code, code, "code %#lx, want %#lx (%s)", (unsigned long)ci.code,
	             (unsigned long)code, ci.reason);
	cr_assert_eq(ci.frame, frame, "frame %#lx", (unsigned long)ci.frame);
}

/* The peer learns the code from our CONNECTION_CLOSE and both end closed. */
static void
expect_peer_told(struct h_pair *p, struct qb_conn *peer, uint64_t code)
{
	struct qb_conn_close_info ci;
	for (int i = 0; i < 100000 && qb_conn_state(peer) < QB_CONN_DRAINING; i++)
		cr_assert(h_step(p));
	qb_conn_close_info(peer, &ci);
	cr_assert(ci.by_peer);
	cr_assert_eq(ci.code, code);
	while (h_step(p))
		;
	cr_assert_eq(qb_conn_state(p->c), QB_CONN_CLOSED);
	cr_assert_eq(qb_conn_state(p->s), QB_CONN_CLOSED);
}

Test(conn_violation, stream_on_local_uni_stream_is_stream_state_error)
{
	struct h_pair p;
	setup_keylog(&p, 200);
	/* STREAM (0x0a: LEN) on stream 2, a client-initiated unidirectional one. */
	const uint8_t f[] = {0x0a, 0x02, 0x03, 'a', 'b', 'c'};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_STREAM_STATE_ERROR, 0x0a);
	expect_peer_told(&p, p.s, QB_TE_STREAM_STATE_ERROR);
	fini_keylog(&p);
}

Test(conn_violation, exceeding_stream_flow_control_is_flow_control_error)
{
	struct h_pair p;
	setup_keylog(&p, 201);
	/* STREAM (0x0e: OFF|LEN) on server bidi stream 1 at 2 MiB: past 256 KiB. */
	const uint8_t f[] = {0x0e, 0x01, 0x80, 0x20, 0x00, 0x00, 0x02, 'h', 'i'};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_FLOW_CONTROL_ERROR, 0x0e);
	expect_peer_told(&p, p.s, QB_TE_FLOW_CONTROL_ERROR);
	fini_keylog(&p);
}

Test(conn_violation, handshake_done_from_client_is_protocol_violation)
{
	struct h_pair p;
	setup_keylog(&p, 202);
	const uint8_t f[] = {0x1e};
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_PROTOCOL_VIOLATION, 0x1e);
	expect_peer_told(&p, p.c, QB_TE_PROTOCOL_VIOLATION);
	fini_keylog(&p);
}

Test(conn_violation, datagram_not_negotiated_is_protocol_violation)
{
	struct h_pair p;
	setup_keylog(&p, 203);
	const uint8_t f[] = {0x31, 0x02, 'h', 'i'};
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_PROTOCOL_VIOLATION, 0x31);
	fini_keylog(&p);
}

Test(conn_violation, ack_of_unsent_packet_is_protocol_violation)
{
	struct h_pair p;
	setup_keylog(&p, 204);
	/* ACK largest 5000, delay 0, no more ranges, first range 0. */
	const uint8_t f[] = {0x02, 0x53, 0x88, 0x00, 0x00, 0x00};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_PROTOCOL_VIOLATION, 0x02);
	fini_keylog(&p);
}

Test(conn_violation, unknown_frame_is_frame_encoding_error)
{
	struct h_pair p;
	setup_keylog(&p, 205);
	const uint8_t f[] = {0x01, 0x21, 0x00, 0x00, 0x00};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_FRAME_ENCODING_ERROR, 0x21);
	fini_keylog(&p);
}

Test(conn_violation, stream_frame_in_initial_is_protocol_violation)
{
	struct h_pair p;
	uint8_t d[H_MTU];
	uint32_t why;

	h_init(&p, 206);
	h_start(&p);
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200);
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(d, (size_t)n, 0, 8, 0, &h), 0);
	uint8_t odcid[20], scid[20];
	size_t odcid_len = h.dcid_len, scid_len = h.scid_len;
	memcpy(odcid, h.dcid, odcid_len);
	memcpy(scid, h.scid, scid_len);
	p.s = qb_conn_server_new(&p.cfg_s, d, (size_t)n, p.now);
	cr_assert_not_null(p.s);
	cr_assert_eq(qb_conn_recv(p.s, 0, d, (size_t)n, p.now), 0);

	/* A second client Initial, pn 7, carrying a STREAM frame (RFC 9000 §12.4). */
	struct qb_crypto_key ck;
	struct qb_pkt_enc e;
	struct qb_pkt_layout lay;
	memset(&ck, 0, sizeof(ck));
	cr_assert_eq(qb_crypto_initial_keys(QB_VERSION_1, odcid, odcid_len, &ck, NULL), 0);
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_long(&e, QB_VERSION_1, QB_PKT_INITIAL, odcid, odcid_len, scid,
	                                   scid_len, NULL, 0, 7, 2),
	             0);
	const uint8_t f[] = {0x0a, 0x00, 0x02, 'h', 'i'};
	memcpy(qb_pkt_enc_ptr(&e), f, sizeof(f));
	qb_pkt_enc_advance(&e, sizeof(f));
	cr_assert_eq(qb_pkt_enc_pad_to(&e, 1200), 0);
	cr_assert_eq(qb_pkt_enc_finish(&e, &lay), 0);
	cr_assert_gt(qb_crypto_protect(&ck, d + lay.offset, lay.pn_offset, lay.pn_len, lay.pn,
	                               lay.payload_len),
	             0);
	qb_crypto_key_clear(&ck);
	cr_assert_eq(qb_conn_recv(p.s, 0, d, qb_pkt_enc_len(&e), p.now), 0);
	expect_closed(p.s, QB_TE_PROTOCOL_VIOLATION, 0x0a);
	/* The client hears it in an Initial (no 1-RTT keys yet). */
	int k = qb_conn_send(p.s, 0, d, sizeof(d), p.now, &why);
	cr_assert_gt(k, 0);
	cr_assert_eq(qb_conn_recv(p.c, 0, d, (size_t)k, p.now), 0);
	struct qb_conn_close_info ci;
	qb_conn_close_info(p.c, &ci);
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_DRAINING);
	cr_assert_eq(ci.code, QB_TE_PROTOCOL_VIOLATION);
	h_fini(&p);
}

/* A random frame of a random type with small random fields. */
static size_t
random_frame(struct h_pair *p, uint8_t *out, size_t room)
{
	static const uint8_t payload[64] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct qb_frame f;
	uint64_t r = h_rand(p);

	memset(&f, 0, sizeof(f));
	uint64_t sid = (h_rand(p) % 16);
	switch (r % 16) {
	case 0:
		f.type = QB_FT_PING;
		break;
	case 1:
	case 2:
		f.type = QB_FT_STREAM | QB_STREAM_OFF | QB_STREAM_LEN | (h_rand(p) % 2);
		f.stream.stream_id = sid;
		f.stream.offset = h_rand(p) % 3000;
		f.stream.data = payload;
		f.stream.len = h_rand(p) % sizeof(payload);
		f.stream.fin = f.type & QB_STREAM_FIN;
		break;
	case 3:
		f.type = QB_FT_RESET_STREAM;
		f.reset_stream.stream_id = sid;
		f.reset_stream.error_code = 1;
		f.reset_stream.final_size = h_rand(p) % 3000;
		break;
	case 4:
		f.type = QB_FT_STOP_SENDING;
		f.stop_sending.stream_id = sid;
		f.stop_sending.error_code = 2;
		break;
	case 5:
		f.type = QB_FT_MAX_DATA;
		f.max_data.max = h_rand(p) % (1u << 22);
		break;
	case 6:
		f.type = QB_FT_MAX_STREAM_DATA;
		f.max_stream_data.stream_id = sid;
		f.max_stream_data.max = h_rand(p) % (1u << 22);
		break;
	case 7:
		f.type = QB_FT_MAX_STREAMS_BIDI + (h_rand(p) % 2);
		f.max_streams.max = h_rand(p) % 200;
		break;
	case 8:
		f.type = QB_FT_DATA_BLOCKED;
		f.data_blocked.limit = h_rand(p) % 100000;
		break;
	case 9:
		f.type = QB_FT_STREAM_DATA_BLOCKED;
		f.stream_data_blocked.stream_id = sid;
		f.stream_data_blocked.limit = h_rand(p) % 100000;
		break;
	case 10:
		f.type = QB_FT_STREAMS_BLOCKED_BIDI + (h_rand(p) % 2);
		f.streams_blocked.limit = h_rand(p) % 200;
		break;
	case 11:
		f.type = QB_FT_PATH_CHALLENGE;
		f.path.data = payload;
		break;
	case 12:
		f.type = QB_FT_CRYPTO;
		f.crypto.offset = h_rand(p) % 100;
		f.crypto.data = payload;
		f.crypto.len = 1 + h_rand(p) % 8;
		break;
	case 13:
		f.type = QB_FT_NEW_CONNECTION_ID;
		f.new_cid.seq = 1 + h_rand(p) % 4;
		f.new_cid.retire_prior_to = h_rand(p) % (f.new_cid.seq + 1);
		f.new_cid.cid = payload;
		f.new_cid.cid_len = 8;
		f.new_cid.reset_token = payload + 16;
		break;
	case 14: {
		/* An ACK of a random range, maybe of packets never sent. */
		struct qb_ack_range ar = {.largest = h_rand(p) % 64};
		ar.smallest = ar.largest - (h_rand(p) % (ar.largest + 1));
		int n = qb_frame_enc_ack(out, room, &ar, 1, h_rand(p) % 100, NULL, NULL);
		return n > 0 ? (size_t)n : 0;
	}
	default:
		f.type = QB_FT_PADDING;
		f.padding.len = 1 + h_rand(p) % 8;
		break;
	}
	int n = qb_frame_encode(out, room, &f);
	return n > 0 ? (size_t)n : 0;
}

static bool
valid_close_code(uint64_t code)
{
	return code <= QB_TE_VERSION_NEGOTIATION_ERROR ||
	       (code >= QB_TE_CRYPTO_ERROR && code < QB_TE_CRYPTO_ERROR + 256);
}

/* Random frame sequences from a hostile peer: no crash, no leak; a close
 * carries a wire error code; an open connection keeps working. */
Test(conn_violation, hostile_random_frames, .timeout = 120)
{
	unsigned closed = 0, survived = 0;

	for (uint64_t seed = 400; seed < 412; seed++) {
		struct h_pair p;
		setup_keylog(&p, seed);
		for (int i = 0; i < 150; i++) {
			struct qb_conn *to = (h_rand(&p) & 1) ? p.c : p.s;
			if (qb_conn_state(to) >= QB_CONN_CLOSING)
				break;
			uint8_t frames[600];
			size_t len = 0, nf = 1 + h_rand(&p) % 6;
			for (size_t k = 0; k < nf; k++)
				len += random_frame(&p, frames + len, sizeof(frames) - len);
			if (len < 4) {
				memset(frames + len, 0, 4 - len);
				len = 4;
			}
			inject_1rtt(&p, to, frames, len);
			for (int k = 0; k < 3; k++)
				h_step(&p);
		}
		struct qb_conn *a[2] = {p.c, p.s};
		for (int k = 0; k < 2; k++) {
			struct qb_conn_close_info ci;
			if (qb_conn_state(a[k]) < QB_CONN_CLOSING)
				continue;
			qb_conn_close_info(a[k], &ci);
			cr_assert(ci.idle || valid_close_code(ci.code), "close code %#lx",
			          (unsigned long)ci.code);
		}
		if (qb_conn_state(p.c) < QB_CONN_CLOSING && qb_conn_state(p.s) < QB_CONN_CLOSING)
			survived++;
		else
			closed++;
		fini_keylog(&p);
	}
	cr_log_info("hostile: %u pairs closed by a violation, %u survived", closed, survived);
	cr_assert_gt(closed, 0, "random frames must trigger some violation");
}

Test(conn_path, path_challenge_is_answered_in_a_full_size_datagram)
{
	struct h_pair p;
	uint8_t d[H_MTU];
	uint32_t why;
	const uint8_t f[] = {0x1a, 1, 2, 3, 4, 5, 6, 7, 8};

	setup_keylog(&p, 207);
	while (h_step(&p) && qb_conn_deadline(p.c) < p.now + 1000 * H_MS)
		; /* quiet: nothing else queued */
	inject_1rtt(&p, p.c, f, sizeof(f));
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200, "RFC 9000 §8.2.1: %d bytes", n);
	/* Open it with the client's 1-RTT key and find the PATH_RESPONSE. */
	struct qb_pkt_hdr h;
	struct qb_crypto_hdr ch;
	cr_assert_eq(qb_pkt_parse(d, (size_t)n, 0, 8, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_1RTT);
	cr_assert_eq(
	        qb_crypto_unprotect(&keys[0], d + h.offset, h.len, h.pn_offset, QB_PN_NONE, &ch),
	        0);
	const uint8_t *q = d + h.offset + ch.pn_offset + ch.pn_len, *end = q + ch.payload_len;
	bool found = false;
	while (q < end) {
		struct qb_frame fr;
		uint64_t terr;
		int k = qb_frame_decode(q, (size_t)(end - q), &fr, &terr);
		cr_assert_gt(k, 0);
		if (fr.type == QB_FT_PATH_RESPONSE) {
			cr_assert_arr_eq(fr.path.data, f + 1, 8);
			found = true;
		}
		q += k;
	}
	cr_assert(found, "no PATH_RESPONSE");
	fini_keylog(&p);
}

Test(conn_violation, stream_beyond_limit_is_stream_limit_error)
{
	struct h_pair p;
	setup_keylog(&p, 208);
	/* Client bidi stream 400 (the 101st): the server allows 100 (RFC 9000 §4.6). */
	const uint8_t f[] = {0x0a, 0x41, 0x90, 0x01, 'x'};
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_STREAM_LIMIT_ERROR, 0x0a);
	expect_peer_told(&p, p.c, QB_TE_STREAM_LIMIT_ERROR);
	fini_keylog(&p);
}

Test(conn_violation, reset_below_received_data_is_final_size_error)
{
	struct h_pair p;
	setup_keylog(&p, 209);
	/* 8 bytes on client stream 0, then RESET_STREAM with final size 4 (§4.5). */
	const uint8_t f[] = {0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x04, 0x00, 0x00, 0x04};
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_FINAL_SIZE_ERROR, 0x04);
	fini_keylog(&p);
}

Test(conn_violation, exceeding_connection_flow_control_is_flow_control_error)
{
	struct h_pair p;
	setup_keylog(&p, 210);
	/*
	 * 2 bytes at offset 256 KiB - 2 on client bidi streams 0, 4, 8, 12, 16:
	 * each within its 256 KiB stream window, together 1.25 MiB past the
	 * server's 1 MiB initial_max_data (RFC 9000 §4.1).
	 */
	uint8_t f[45];
	for (int i = 0; i < 5; i++) {
		const uint8_t one[] = {0x0e, (uint8_t)(4 * i), 0x80, 0x03, 0xff, 0xfe, 0x02, 'a',
		                       'b'};
		memcpy(f + 9 * i, one, sizeof(one));
	}
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_FLOW_CONTROL_ERROR, 0x0e);
	expect_peer_told(&p, p.c, QB_TE_FLOW_CONTROL_ERROR);
	fini_keylog(&p);
}

Test(conn_violation, new_token_from_client_is_protocol_violation)
{
	struct h_pair p;
	setup_keylog(&p, 211);
	/* NEW_TOKEN, 1-byte token: only a server may send it (RFC 9000 §19.7). */
	const uint8_t f[] = {0x07, 0x01, 0x5a};
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_PROTOCOL_VIOLATION, 0x07);
	expect_peer_told(&p, p.c, QB_TE_PROTOCOL_VIOLATION);
	fini_keylog(&p);
}

Test(conn_violation, max_streams_above_2_pow_60_is_frame_encoding_error)
{
	struct h_pair p;
	setup_keylog(&p, 212);
	/* MAX_STREAMS (bidi) of 2^60 + 1 (RFC 9000 §19.11). */
	const uint8_t f[] = {0x12, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_FRAME_ENCODING_ERROR, 0x12);
	expect_peer_told(&p, p.s, QB_TE_FRAME_ENCODING_ERROR);
	fini_keylog(&p);
}

Test(conn_violation, stop_sending_on_receive_only_stream_is_stream_state_error)
{
	struct h_pair p;
	setup_keylog(&p, 213);
	/* STOP_SENDING on stream 3, server-initiated unidirectional: receive-only
	 * for the client that gets it (RFC 9000 §19.5). */
	const uint8_t f[] = {0x05, 0x03, 0x00};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_STREAM_STATE_ERROR, 0x05);
	expect_peer_told(&p, p.s, QB_TE_STREAM_STATE_ERROR);
	fini_keylog(&p);
}

Test(conn_violation, new_connection_ids_past_the_limit_are_connection_id_limit_error)
{
	struct h_pair p;
	setup_keylog(&p, 214);
	/*
	 * NEW_CONNECTION_ID sequences 10..14, none retiring: with the one in use
	 * the client would hold more than its active_connection_id_limit
	 * (QB_CONN_PEER_CID_LIMIT, RFC 9000 §5.1.1, §19.15).
	 */
	uint8_t f[5 * 28];
	for (int i = 0; i < 5; i++) {
		uint8_t *q = f + 28 * i;
		q[0] = 0x18;
		q[1] = (uint8_t)(10 + i); /* sequence */
		q[2] = 0x00;              /* retire prior to */
		q[3] = 8;                 /* CID length */
		memset(q + 4, 0xc0 + i, 8);
		memset(q + 12, 0xe0 + i, 16); /* stateless reset token */
	}
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_CONNECTION_ID_LIMIT_ERROR, 0x18);
	expect_peer_told(&p, p.s, QB_TE_CONNECTION_ID_LIMIT_ERROR);
	fini_keylog(&p);
}
