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
app_key(bool server, struct qb_crypto_key *k)
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
	unlink(keylog);
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
	struct qb_crypto_key k;
	struct qb_pkt_enc e;
	struct qb_pkt_layout lay;
	uint8_t d[H_MTU];
	size_t cid_len;
	const uint8_t *cid = qb_conn_scid(to, &cid_len);

	app_key(to == p->c, &k);
	qb_pkt_enc_init(&e, d, sizeof(d));
	cr_assert_eq(qb_pkt_enc_begin_short(&e, cid, cid_len, false, false, 100000, 4), 0);
	memcpy(qb_pkt_enc_ptr(&e), frames, flen);
	qb_pkt_enc_advance(&e, flen);
	cr_assert_eq(qb_pkt_enc_finish(&e, &lay), 0);
	cr_assert_gt(qb_crypto_protect(&k, d + lay.offset, lay.pn_offset, lay.pn_len, lay.pn,
	                               lay.payload_len),
	             0);
	qb_crypto_key_clear(&k);
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
	h_fini(&p);
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
	h_fini(&p);
}

Test(conn_violation, handshake_done_from_client_is_protocol_violation)
{
	struct h_pair p;
	setup_keylog(&p, 202);
	const uint8_t f[] = {0x1e};
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_PROTOCOL_VIOLATION, 0x1e);
	expect_peer_told(&p, p.c, QB_TE_PROTOCOL_VIOLATION);
	h_fini(&p);
}

Test(conn_violation, datagram_not_negotiated_is_protocol_violation)
{
	struct h_pair p;
	setup_keylog(&p, 203);
	const uint8_t f[] = {0x31, 0x02, 'h', 'i'};
	inject_1rtt(&p, p.s, f, sizeof(f));
	expect_closed(p.s, QB_TE_PROTOCOL_VIOLATION, 0x31);
	h_fini(&p);
}

Test(conn_violation, ack_of_unsent_packet_is_protocol_violation)
{
	struct h_pair p;
	setup_keylog(&p, 204);
	/* ACK largest 5000, delay 0, no more ranges, first range 0. */
	const uint8_t f[] = {0x02, 0x53, 0x88, 0x00, 0x00, 0x00};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_PROTOCOL_VIOLATION, 0x02);
	h_fini(&p);
}

Test(conn_violation, unknown_frame_is_frame_encoding_error)
{
	struct h_pair p;
	setup_keylog(&p, 205);
	const uint8_t f[] = {0x01, 0x21, 0x00, 0x00, 0x00};
	inject_1rtt(&p, p.c, f, sizeof(f));
	expect_closed(p.c, QB_TE_FRAME_ENCODING_ERROR, 0x21);
	h_fini(&p);
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
