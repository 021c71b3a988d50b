/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection core, end to end on a fake clock: the handshake, the client's
 * first datagram (RFC 9000 §14.1), key discard (RFC 9001 §4.9), idle timeout
 * and close (RFC 9000 §10).
 */
#include "harness.h"
#include "qburst/cid.h"
#include "qburst/crypto.h"

Test(conn_handshake, completes_on_both_sides_with_alpn)
{
	struct h_pair p;

	h_init(&p, 1);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL), "handshake did not complete");
	cr_assert(qb_conn_handshake_complete(p.c));
	cr_assert(qb_conn_handshake_complete(p.s));
	cr_assert_str_eq(qb_conn_alpn(p.c), H_ALPN);
	cr_assert_str_eq(qb_conn_alpn(p.s), H_ALPN);
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_OPEN);
	cr_assert_eq(qb_conn_state(p.s), QB_CONN_OPEN);
	/* Two round trips of 20 ms at most, without loss. */
	cr_assert_lt(p.now - 1000 * H_MS, 100 * H_MS, "took %lu ns",
	             (unsigned long)(p.now - 1000 * H_MS));
	struct qb_conn_stats st;
	qb_conn_stats(p.c, &st);
	cr_assert_eq(st.pkts_lost, 0);
	cr_assert_gt(st.srtt_ns, 19 * H_MS);
	h_fini(&p);
}

Test(conn_handshake, client_first_datagram_is_padded_inside_its_initial)
{
	struct h_pair p;
	uint8_t d[H_MTU];
	uint32_t why = 0;

	h_init(&p, 2);
	h_start(&p);
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200, "first datagram %d bytes", n);
	struct qb_pkt_hdr h[4];
	cr_assert_eq(qb_dgram_parse(d, (size_t)n, 8, 0, h, 4), 1, "one packet");
	cr_assert_eq(h[0].type, QB_PKT_INITIAL);
	cr_assert_eq(h[0].len, (size_t)n, "the padding is inside the Initial packet");
	cr_assert_eq(h[0].dcid_len, 8);
	/* Nothing more until the server answers. */
	cr_assert_eq(qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why), 0);
	cr_assert(why & QB_WHY_NO_DATA, "why %#x", why);
	h_fini(&p);
}

Test(conn_handshake, server_respects_amplification_limit)
{
	struct h_pair p;
	uint8_t d[H_MTU], out[H_MTU];
	uint32_t why = 0;

	h_init(&p, 3);
	h_start(&p);
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200);
	/* No server for a short datagram or a short DCID (RFC 9000 §14.1, §7.2). */
	cr_assert_null(qb_conn_server_new(&p.cfg_s, d, 1199, p.now));
	p.s = qb_conn_server_new(&p.cfg_s, d, (size_t)n, p.now);
	cr_assert_not_null(p.s);
	cr_assert_eq(qb_conn_recv(p.s, 0, d, (size_t)n, p.now), 0);
	size_t total = 0;
	int k;
	while ((k = qb_conn_send(p.s, 0, out, sizeof(out), p.now, &why)) > 0)
		total += (size_t)k;
	cr_assert_gt(total, 0);
	cr_assert_leq(total, 3 * (size_t)n, "sent %zu for %d received", total, n);
	h_fini(&p);
}

Test(conn_handshake, completes_at_30_percent_loss)
{
	for (uint64_t seed = 10; seed < 16; seed++) {
		struct h_pair p;
		h_init(&p, seed);
		p.to_s.loss = p.to_c.loss = 0.30;
		h_start(&p);
		bool ok = h_run(&p, 60000 * H_MS, h_confirmed, NULL);
		cr_assert(ok, "seed %lu: handshake did not complete (client state %d)",
		          (unsigned long)seed, qb_conn_state(p.c));
		h_fini(&p);
	}
}

static bool
both_closed(struct h_pair *p, void *arg)
{
	(void)arg;
	return p->s != NULL && qb_conn_state(p->c) == QB_CONN_CLOSED &&
	       qb_conn_state(p->s) == QB_CONN_CLOSED;
}

Test(conn_lifecycle, idle_timeout_closes_both)
{
	struct h_pair p;

	h_init(&p, 4);
	p.cfg_c.idle_timeout_ms = 2000;
	p.cfg_s.idle_timeout_ms = 5000;
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	uint64_t t0 = p.now;
	cr_assert(h_run(&p, 10000 * H_MS, both_closed, NULL), "not closed by idle timeout");
	struct qb_conn_close_info ci;
	qb_conn_close_info(p.c, &ci);
	cr_assert(ci.idle);
	qb_conn_close_info(p.s, &ci);
	cr_assert(ci.idle);
	/* The smaller of the two timeouts applies (RFC 9000 §10.1). */
	cr_assert_geq(p.now - t0, 1900 * H_MS);
	cr_assert_lt(p.now - t0, 2500 * H_MS, "closed after %lu ms",
	             (unsigned long)((p.now - t0) / H_MS));
	h_fini(&p);
}

Test(conn_lifecycle, application_close_reaches_peer)
{
	struct h_pair p;

	h_init(&p, 5);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	cr_assert_eq(qb_conn_close(p.c, 0x42, "bye", p.now), 0);
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_CLOSING);
	cr_assert(h_run(&p, 10000 * H_MS, both_closed, NULL));
	struct qb_conn_close_info ci;
	qb_conn_close_info(p.s, &ci);
	cr_assert(ci.by_peer);
	cr_assert(ci.app);
	cr_assert_eq(ci.code, 0x42);
	cr_assert_str_eq(ci.reason, "bye");
	h_fini(&p);
}

/*
 * RFC 9000 §10.2: the closing and draining states last three times the PTO;
 * the draining side sends nothing. PTO >= srtt + 1 ms (RFC 9002 §6.2.1), so
 * both must still be closing/draining at t0 + 3 * (srtt + 1 ms).
 */
Test(conn_lifecycle, closing_and_draining_last_three_pto)
{
	struct h_pair p;

	h_init(&p, 6);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	struct qb_conn_stats st;
	qb_conn_stats(p.c, &st);
	cr_assert_gt(st.srtt_ns, 0);
	uint64_t min_end = 3 * (st.srtt_ns + H_MS);
	uint64_t t0 = p.now;
	cr_assert_eq(qb_conn_close(p.c, 0x7, "done", p.now), 0);
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_CLOSING);
	uint64_t drain_at = 0, s_sent = 0;
	for (int i = 0; i < 100000 && !both_closed(&p, NULL); i++) {
		enum qb_conn_state cs = qb_conn_state(p.c), ss = qb_conn_state(p.s);
		if (p.now - t0 < min_end) {
			cr_assert_eq(cs, QB_CONN_CLOSING, "client state %d at %lu us", cs,
			             (unsigned long)((p.now - t0) / 1000));
			cr_assert(ss == QB_CONN_OPEN || ss == QB_CONN_DRAINING,
			          "server state %d at %lu us", ss,
			          (unsigned long)((p.now - t0) / 1000));
		}
		if (ss == QB_CONN_DRAINING) {
			if (drain_at == 0) {
				drain_at = p.now;
				qb_conn_stats(p.s, &st);
				s_sent = st.dgrams_sent;
			}
			/* The draining side sends nothing (RFC 9000 §10.2.2). */
			uint32_t why;
			cr_assert_eq(qb_conn_send(p.s, 0, p.buf, H_MTU - 28, p.now, &why), 0);
		}
		if (!h_step(&p))
			break;
		cr_assert_lt(p.now - t0, 5000 * H_MS, "not closed in 5 s");
	}
	cr_assert(both_closed(&p, NULL));
	cr_assert_neq(drain_at, 0, "the server never drained");
	/* The CLOSE took one one-way delay (10 ms) to arrive. */
	cr_assert_geq(drain_at - t0, 10 * H_MS);
	qb_conn_stats(p.s, &st);
	cr_assert_eq(st.dgrams_sent, s_sent, "the server sent while draining");
	cr_assert_geq(p.now - t0, min_end);
	/* 3 * PTO with srtt 20 ms, rttvar <= 10 ms, max_ack_delay 25 ms: ~255 ms. */
	cr_assert_lt(p.now - t0, 1000 * H_MS);
	cr_log_info("closed after %lu ms (srtt %lu us)", (unsigned long)((p.now - t0) / H_MS),
	            (unsigned long)(st.srtt_ns / 1000));
	h_fini(&p);
}

Test(conn_cid, new_connection_ids_fill_the_peer_limit)
{
	struct h_pair p;

	h_init(&p, 6);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	for (int i = 0; i < 50; i++)
		h_step(&p);
	/* Each side issued up to the other's active_connection_id_limit (RFC 9000 §5.1.1). */
	cr_assert_eq(qb_conn_peer_cid_count(p.c), QB_CONN_PEER_CID_LIMIT);
	cr_assert_eq(qb_conn_peer_cid_count(p.s), QB_CONN_PEER_CID_LIMIT);
	cr_assert_eq(qb_cid_local_count(qb_conn_local_cids(p.c)), QB_CONN_PEER_CID_LIMIT);
	/* Our long-header SCID is our sequence 0. */
	size_t n;
	const uint8_t *scid = qb_conn_scid(p.s, &n);
	const struct qb_cid_local_entry *e = qb_cid_local_get(qb_conn_local_cids(p.s), 0);
	cr_assert_not_null(e);
	cr_assert_eq(n, e->cid.len);
	cr_assert_arr_eq(scid, e->cid.id, n);
	h_fini(&p);
}

Test(conn_cid, stateless_reset_drains_the_client)
{
	struct h_pair p;
	uint8_t d[64], rnd[64];

	h_init(&p, 7);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	/* The token of the server's CID the client sends to (from its transport parameters). */
	size_t n;
	const uint8_t *dcid = qb_conn_dcid(p.c, &n);
	const struct qb_cid_local_entry *e = qb_cid_local_find(qb_conn_local_cids(p.s), dcid, n);
	cr_assert_not_null(e);
	memset(rnd, 0x5a, sizeof(rnd));
	cr_assert_eq(qb_pkt_enc_stateless_reset(d, 43, rnd, e->token), 43);
	cr_assert_eq(qb_conn_recv(p.c, 0, d, 43, p.now), 0);
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_DRAINING);
	struct qb_conn_close_info ci;
	qb_conn_close_info(p.c, &ci);
	cr_assert_str_eq(ci.reason, "stateless reset");
	/* A datagram with a wrong token does nothing to the server. */
	d[42] ^= 1;
	cr_assert_eq(qb_conn_recv(p.s, 0, d, 43, p.now), 0);
	cr_assert_eq(qb_conn_state(p.s), QB_CONN_OPEN);
	h_fini(&p);
}

/* A Retry from the server's side (its token logic lives in the engine). */
static size_t
make_retry(uint8_t *buf, const struct qb_pkt_hdr *first, const uint8_t *new_scid, bool bad_tag)
{
	static const uint8_t token[] = "retry-token";
	int n = qb_pkt_enc_retry(buf, 256, QB_VERSION_1, 0, first->scid, first->scid_len, new_scid,
	                         8, token, sizeof(token));
	cr_assert_gt(n, 16);
	cr_assert_eq(qb_crypto_retry_tag(QB_VERSION_1, first->dcid, first->dcid_len, buf,
	                                 (size_t)n - 16, buf + n - 16),
	             0);
	if (bad_tag)
		buf[n - 1] ^= 1;
	return (size_t)n;
}

static void
retry_handshake(uint64_t seed, bool server_knows_retry)
{
	struct h_pair p;
	uint8_t d[H_MTU], odcid[20], retry[256];
	const uint8_t rscid[8] = {0xee, 1, 2, 3, 4, 5, 6, 7};
	uint32_t why;
	struct qb_pkt_hdr h;
	struct qb_conn_stats st;

	h_init(&p, seed);
	h_start(&p);
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200);
	cr_assert_eq(qb_pkt_parse(d, (size_t)n, 0, 8, 0, &h), 0);
	size_t odcid_len = h.dcid_len;
	memcpy(odcid, h.dcid, odcid_len);

	/* A Retry with a wrong tag is dropped (RFC 9001 §5.8). */
	size_t rn = make_retry(retry, &h, rscid, true);
	cr_assert_eq(qb_conn_recv(p.c, 0, retry, rn, p.now), 0);
	qb_conn_stats(p.c, &st);
	cr_assert_eq(st.pkts_dropped, 1);
	cr_assert_eq(qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why), 0);

	/* The good one: the client's Initials go to the new CID with the token. */
	rn = make_retry(retry, &h, rscid, false);
	cr_assert_eq(qb_conn_recv(p.c, 0, retry, rn, p.now), 0);
	n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200, "the first flight again: %d", n);
	struct qb_pkt_hdr h2;
	cr_assert_eq(qb_pkt_parse(d, (size_t)n, 0, 8, 0, &h2), 0);
	cr_assert_eq(h2.type, QB_PKT_INITIAL);
	cr_assert_eq(h2.dcid_len, 8);
	cr_assert_arr_eq(h2.dcid, rscid, 8);
	cr_assert_eq(h2.token_len, sizeof("retry-token"));
	cr_assert_arr_eq(h2.token, "retry-token", h2.token_len);
	/* A second Retry is ignored (RFC 9000 §17.2.5.2). */
	rn = make_retry(retry, &h, rscid, false);
	cr_assert_eq(qb_conn_recv(p.c, 0, retry, rn, p.now), 0);

	if (server_knows_retry) {
		p.cfg_s.retry_odcid = odcid;
		p.cfg_s.retry_odcid_len = (uint8_t)odcid_len;
	}
	p.s = qb_conn_server_new(&p.cfg_s, d, (size_t)n, p.now);
	cr_assert_not_null(p.s);
	cr_assert_eq(qb_conn_recv(p.s, 0, d, (size_t)n, p.now), 0);
	if (server_knows_retry) {
		cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL), "handshake after Retry");
	} else {
		/* RFC 9000 §7.3: original_destination_connection_id differs and
		 * retry_source_connection_id is absent: either code is allowed. */
		for (int i = 0; i < 1000 && qb_conn_state(p.c) < QB_CONN_CLOSING; i++)
			h_step(&p);
		struct qb_conn_close_info ci;
		qb_conn_close_info(p.c, &ci);
		cr_assert_eq(qb_conn_state(p.c), QB_CONN_CLOSING);
		cr_assert(ci.code == QB_TE_TRANSPORT_PARAMETER_ERROR ||
		                  ci.code == QB_TE_PROTOCOL_VIOLATION,
		          "code %#lx", (unsigned long)ci.code);
	}
	h_fini(&p);
}

Test(conn_retry, handshake_completes_after_retry)
{
	retry_handshake(20, true);
}

Test(conn_retry, server_unaware_of_the_retry_fails_the_cid_checks)
{
	retry_handshake(21, false);
}

Test(conn_retry, version_negotiation_without_our_version_abandons)
{
	struct h_pair p;
	uint8_t d[H_MTU], vn[128];
	uint32_t why;
	struct qb_pkt_hdr h;

	h_init(&p, 22);
	h_start(&p);
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200);
	cr_assert_eq(qb_pkt_parse(d, (size_t)n, 0, 8, 0, &h), 0);
	/* Listing our own version: ignored (RFC 9000 §6.2). */
	const uint32_t ours[] = {0x1a2a3a4a, QB_VERSION_1};
	int k = qb_pkt_enc_vn(vn, sizeof(vn), 0x11, h.scid, h.scid_len, h.dcid, h.dcid_len, ours,
	                      2);
	cr_assert_gt(k, 0);
	cr_assert_eq(qb_conn_recv(p.c, 0, vn, (size_t)k, p.now), 0);
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_HANDSHAKE);
	/* Only others: abandoned. */
	const uint32_t others[] = {0x1a2a3a4a, 0xff00001d};
	k = qb_pkt_enc_vn(vn, sizeof(vn), 0x11, h.scid, h.scid_len, h.dcid, h.dcid_len, others, 2);
	cr_assert_eq(qb_conn_recv(p.c, 0, vn, (size_t)k, p.now), 0);
	cr_assert_eq(qb_conn_state(p.c), QB_CONN_CLOSED);
	struct qb_conn_close_info ci;
	qb_conn_close_info(p.c, &ci);
	cr_assert_eq(ci.code, QB_TE_VERSION_NEGOTIATION_ERROR);
	cr_assert_eq(qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why), 0);
	cr_assert_eq(why, QB_WHY_CLOSED);
	h_fini(&p);
}

Test(conn_cid, generator_hook_encodes_the_worker)
{
	struct h_pair p;
	struct qb_cid_lb lb = {
	        .server_id_len = 2, .server_id = {0xab, 0xcd}, .worker_id = 5, .rng_state = 99};

	h_init(&p, 8);
	p.cfg_s.cid_gen = qb_cid_gen_lb;
	p.cfg_s.cid_gen_ctx = &lb;
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	for (int i = 0; i < 50; i++)
		h_step(&p);
	const struct qb_cid_local *l = qb_conn_local_cids(p.s);
	size_t live = 0;
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++)
		if (l->e[i].live) {
			live++;
			cr_assert_eq(qb_cid_lb_worker(&lb, l->e[i].cid.id, l->e[i].cid.len), 5);
		}
	cr_assert_eq(live, QB_CONN_PEER_CID_LIMIT);
	size_t n;
	const uint8_t *dcid = qb_conn_dcid(p.c, &n);
	cr_assert_eq(qb_cid_lb_worker(&lb, dcid, n), 5, "the client sends to a CID of worker 5");
	h_fini(&p);
}
