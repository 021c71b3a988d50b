/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection IDs (RFC 9000 §5.1, §10.3, §19.15-16): every rule with its error code. */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/cid.h"

static const uint8_t key[QB_CID_RESET_KEY_LEN] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

/* A generator that writes a marker, the sequence number and a counter. */
struct seqgen {
	int calls;
	int fail_at; /* call number that fails; 0: never */
};

static int
gen_seq(void *arg, uint64_t seq, uint8_t *cid, size_t len)
{
	struct seqgen *g = arg;
	g->calls++;
	if (g->fail_at != 0 && g->calls == g->fail_at)
		return QB_ERR_NOMEM;
	memset(cid, 0, len);
	cid[0] = 0x5a;
	cid[1] = (uint8_t)seq;
	cid[2] = (uint8_t)(seq >> 8);
	cid[len - 1] = (uint8_t)g->calls;
	return 0;
}

static int
gen_const(void *arg, uint64_t seq, uint8_t *cid, size_t len)
{
	(void)arg;
	(void)seq;
	memset(cid, 0x77, len);
	return 0;
}

static void
local_init(struct qb_cid_local *l, struct seqgen *g, size_t len)
{
	struct qb_cid_local_cfg cfg = {
	        .cid_len = len, .gen = gen_seq, .gen_arg = g, .reset_key = key};
	cr_assert_eq(qb_cid_local_init(l, &cfg), 0);
}

/* ---- reset tokens ---- */

Test(cid, reset_token_vector)
{
	/* HMAC-SHA256(key, cid) truncated to 16 bytes, computed independently (Python hmac). */
	static const uint8_t cid1[] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t want1[16] = {0x5e, 0xa9, 0x63, 0x3f, 0xb4, 0xbd, 0x17, 0x88,
	                                  0x19, 0x75, 0x20, 0x63, 0x8a, 0xf1, 0xf7, 0xa6};
	uint8_t tok[16];
	cr_assert_eq(qb_cid_reset_token(key, cid1, sizeof(cid1), tok), 0);
	cr_assert_arr_eq(tok, want1, 16);

	uint8_t k2[QB_CID_RESET_KEY_LEN];
	memset(k2, 0x0b, sizeof(k2));
	static const uint8_t cid2[] = {0xc0, 0xff, 0xee};
	static const uint8_t want2[16] = {0xac, 0x43, 0xc6, 0x6e, 0x94, 0xf7, 0x89, 0xf5,
	                                  0xbf, 0x0e, 0xa4, 0xb4, 0x4b, 0xf7, 0xfd, 0xaf};
	cr_assert_eq(qb_cid_reset_token(k2, cid2, sizeof(cid2), tok), 0);
	cr_assert_arr_eq(tok, want2, 16);
}

Test(cid, reset_token_determinism)
{
	uint8_t a[16], b[16], c[16], d[16];
	static const uint8_t cid[] = {9, 8, 7, 6, 5, 4, 3, 2};
	static const uint8_t cid_b[] = {9, 8, 7, 6, 5, 4, 3, 3};
	cr_assert_eq(qb_cid_reset_token(key, cid, 8, a), 0);
	cr_assert_eq(qb_cid_reset_token(key, cid, 8, b), 0);
	cr_assert_arr_eq(a, b, 16);
	cr_assert_eq(qb_cid_reset_token(key, cid_b, 8, c), 0);
	cr_assert(memcmp(a, c, 16) != 0, "another CID, another token");
	uint8_t k2[QB_CID_RESET_KEY_LEN];
	memcpy(k2, key, sizeof(k2));
	k2[31] ^= 1;
	cr_assert_eq(qb_cid_reset_token(k2, cid, 8, d), 0);
	cr_assert(memcmp(a, d, 16) != 0, "another key, another token");

	/* Two endpoints with one static key agree on the tokens of the same CIDs. */
	struct seqgen g1 = {0}, g2 = {0};
	struct qb_cid_local l1, l2;
	local_init(&l1, &g1, 8);
	local_init(&l2, &g2, 8);
	cr_assert_eq(qb_cid_local_set_peer_limit(&l1, 4), 3);
	cr_assert_eq(qb_cid_local_set_peer_limit(&l2, 4), 3);
	for (uint64_t s = 0; s < 4; s++) {
		const struct qb_cid_local_entry *e1 = qb_cid_local_get(&l1, s);
		const struct qb_cid_local_entry *e2 = qb_cid_local_get(&l2, s);
		cr_assert_not_null(e1);
		cr_assert_not_null(e2);
		cr_assert_arr_eq(e1->token, e2->token, 16);
		cr_assert_eq(qb_cid_reset_token(key, e1->cid.id, e1->cid.len, a), 0);
		cr_assert_arr_eq(e1->token, a, 16);
	}
}

/* ---- our CIDs ---- */

Test(cid, local_issue_up_to_peer_limit)
{
	struct seqgen g = {0};
	struct qb_cid_local l;
	local_init(&l, &g, 8);
	cr_assert_eq(qb_cid_local_count(&l), 1);
	const struct qb_cid_local_entry *e0 = qb_cid_local_get(&l, 0);
	cr_assert_not_null(e0);
	cr_assert_eq(e0->cid.len, 8);
	struct qb_cid_new_frame f;
	cr_assert_eq(qb_cid_local_next(&l, &f), 0, "seq 0 travels in the handshake");

	cr_assert_eq(qb_cid_local_set_peer_limit(&l, 3), 2);
	cr_assert_eq(qb_cid_local_count(&l), 3);
	for (uint64_t s = 1; s <= 2; s++) {
		cr_assert_eq(qb_cid_local_next(&l, &f), 1);
		cr_assert_eq(f.seq, s, "frames go in sequence order");
		cr_assert_eq(f.retire_prior_to, 0);
		cr_assert_eq(f.cid.len, 8);
		uint8_t tok[16];
		qb_cid_reset_token(key, f.cid.id, 8, tok);
		cr_assert_arr_eq(f.token, tok, 16);
		cr_assert_eq(qb_cid_local_find(&l, f.cid.id, 8), qb_cid_local_get(&l, s));
	}
	cr_assert_eq(qb_cid_local_next(&l, &f), 0);
	/* Asking again changes nothing: the limit is met. */
	cr_assert_eq(qb_cid_local_replenish(&l), 0);

	/* A huge limit is capped at what we keep. */
	cr_assert_eq(qb_cid_local_set_peer_limit(&l, 1000), QB_CID_LOCAL_ISSUE_MAX - 3);
	cr_assert_eq(qb_cid_local_count(&l), QB_CID_LOCAL_ISSUE_MAX);
}

Test(cid, local_init_args)
{
	struct qb_cid_local l;
	struct qb_cid_local_cfg cfg = {.cid_len = 0, .reset_key = key};
	cr_assert_eq(qb_cid_local_init(&l, &cfg), QB_ERR_ARG);
	cfg.cid_len = 21;
	cr_assert_eq(qb_cid_local_init(&l, &cfg), QB_ERR_ARG);
	cfg.cid_len = 8;
	cfg.reset_key = NULL;
	cr_assert_eq(qb_cid_local_init(&l, &cfg), QB_ERR_ARG);
	/* The default generator: random, distinct. */
	cfg.reset_key = key;
	cr_assert_eq(qb_cid_local_init(&l, &cfg), 0);
	cr_assert_eq(qb_cid_local_set_peer_limit(&l, 8), QB_CID_LOCAL_ISSUE_MAX - 1);
	for (uint64_t a = 0; a < QB_CID_LOCAL_ISSUE_MAX; a++)
		for (uint64_t b = a + 1; b < QB_CID_LOCAL_ISSUE_MAX; b++)
			cr_assert(memcmp(qb_cid_local_get(&l, a)->cid.id,
			                 qb_cid_local_get(&l, b)->cid.id, 8) != 0);
}

Test(cid, generator_hook_bytes)
{
	struct seqgen g = {0};
	struct qb_cid_local l;
	local_init(&l, &g, 12);
	qb_cid_local_set_peer_limit(&l, 5);
	for (uint64_t s = 0; s < QB_CID_LOCAL_ISSUE_MAX; s++) {
		const struct qb_cid_local_entry *e = qb_cid_local_get(&l, s);
		cr_assert_not_null(e);
		cr_assert_eq(e->cid.len, 12);
		cr_assert_eq(e->cid.id[0], 0x5a);
		cr_assert_eq(e->cid.id[1], (uint8_t)s, "the hook saw the sequence number");
		cr_assert_eq(e->cid.id[11], (uint8_t)(s + 1));
	}

	/* The QUIC-LB layout: rotation and length, server id, worker, nonce. */
	struct qb_cid_lb lb = {
	        .config_rotation = 2,
	        .server_id_len = 3,
	        .server_id = {0xaa, 0xbb, 0xcc},
	        .worker_id = 5,
	        .rng_state = 99,
	};
	struct qb_cid_local_cfg cfg = {
	        .cid_len = 16, .gen = qb_cid_gen_lb, .gen_arg = &lb, .reset_key = key};
	struct qb_cid_local m;
	cr_assert_eq(qb_cid_local_init(&m, &cfg), 0);
	cr_assert_eq(qb_cid_local_set_peer_limit(&m, 4), 3);
	for (uint64_t s = 0; s < 4; s++) {
		const uint8_t *c = qb_cid_local_get(&m, s)->cid.id;
		cr_assert_eq(c[0], 2 << 5 | 15);
		cr_assert_eq(c[1], 0xaa);
		cr_assert_eq(c[2], 0xbb);
		cr_assert_eq(c[3], 0xcc);
		cr_assert_eq(c[4], 5);
		cr_assert_eq(qb_cid_lb_worker(&lb, c, 16), 5);
	}
	/* Nonces differ, and a seeded stream is reproducible. */
	cr_assert(memcmp(qb_cid_local_get(&m, 1)->cid.id + 5, qb_cid_local_get(&m, 2)->cid.id + 5,
	                 11) != 0);
	struct qb_cid_lb lb2 = lb;
	lb2.rng_state = 99;
	uint8_t c0[16];
	cr_assert_eq(qb_cid_gen_lb(&lb2, 0, c0, 16), 0);
	cr_assert_arr_eq(c0, qb_cid_local_get(&m, 0)->cid.id, 16);
	/* Another server's CID, or one too short for the layout, names no worker. */
	c0[2] ^= 1;
	cr_assert_eq(qb_cid_lb_worker(&lb, c0, 16), -1);
	cr_assert_eq(qb_cid_lb_worker(&lb, c0, 4), -1);
	/* Too short for 4 random bytes; reserved rotation 7. */
	cr_assert_eq(qb_cid_gen_lb(&lb2, 0, c0, 8), QB_ERR_ARG);
	lb2.config_rotation = 7;
	cr_assert_eq(qb_cid_gen_lb(&lb2, 0, c0, 16), QB_ERR_ARG);
	/* RAND_bytes when unseeded. */
	lb2.config_rotation = 0;
	lb2.rng_state = 0;
	cr_assert_eq(qb_cid_gen_lb(&lb2, 0, c0, 16), 0);
	cr_assert_eq(qb_cid_lb_worker(&lb2, c0, 16), 5);
}

Test(cid, generator_errors)
{
	struct seqgen g = {.fail_at = 3};
	struct qb_cid_local l;
	local_init(&l, &g, 8);
	/* Seq 1 issued, the hook fails on seq 2: its error comes back. */
	cr_assert_eq(qb_cid_local_set_peer_limit(&l, 4), QB_ERR_NOMEM);
	cr_assert_eq(qb_cid_local_count(&l), 2);
	/* And the next attempt goes on. */
	cr_assert_eq(qb_cid_local_replenish(&l), 2);
	cr_assert_eq(qb_cid_local_count(&l), 4);

	/* A generator that always repeats itself: the collision is refused. */
	struct qb_cid_local_cfg cfg = {.cid_len = 8, .gen = gen_const, .reset_key = key};
	cr_assert_eq(qb_cid_local_init(&l, &cfg), 0);
	cr_assert_eq(qb_cid_local_set_peer_limit(&l, 2), QB_ERR_STATE);
	cr_assert_eq(qb_cid_local_count(&l), 1);
}

Test(cid, local_retire_rules)
{
	struct seqgen g = {0};
	struct qb_cid_local l;
	local_init(&l, &g, 8);
	qb_cid_local_set_peer_limit(&l, 3); /* seqs 0, 1, 2 */
	const uint8_t *dcid2 = qb_cid_local_get(&l, 2)->cid.id;
	uint8_t d2[8];
	memcpy(d2, dcid2, 8);
	uint64_t te = 0;

	/* A sequence number never issued: PROTOCOL_VIOLATION (§19.16). */
	cr_assert_eq(qb_cid_local_on_retire(&l, 3, d2, 8, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_PROTOCOL_VIOLATION);
	/* Retiring the CID the packet was sent to: PROTOCOL_VIOLATION. */
	te = 0;
	cr_assert_eq(qb_cid_local_on_retire(&l, 2, d2, 8, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_PROTOCOL_VIOLATION);
	cr_assert_not_null(qb_cid_local_get(&l, 2));

	/* A valid retirement forgets the CID and issues a replacement, seq 3. */
	te = 0;
	cr_assert_eq(qb_cid_local_on_retire(&l, 0, d2, 8, &te), 1);
	cr_assert_eq(te, 0);
	cr_assert_null(qb_cid_local_get(&l, 0));
	cr_assert_not_null(qb_cid_local_get(&l, 3));
	cr_assert_eq(qb_cid_local_count(&l), 3);
	/* Repeated: ignored, nothing issued. */
	cr_assert_eq(qb_cid_local_on_retire(&l, 0, d2, 8, &te), 0);
	cr_assert_eq(qb_cid_local_count(&l), 3);
	/* Seq 3 exists now, seq 4 does not. */
	cr_assert_eq(qb_cid_local_on_retire(&l, 4, d2, 8, &te), QB_ERR_PROTO);
}

Test(cid, local_frames_acked_and_lost)
{
	struct seqgen g = {0};
	struct qb_cid_local l;
	local_init(&l, &g, 8);
	qb_cid_local_set_peer_limit(&l, 3);
	struct qb_cid_new_frame f1, f2, f;
	cr_assert_eq(qb_cid_local_next(&l, &f1), 1);
	cr_assert_eq(qb_cid_local_next(&l, &f2), 1);
	cr_assert_eq(qb_cid_local_next(&l, &f), 0);
	qb_cid_local_acked(&l, f1.seq);
	qb_cid_local_lost(&l, f1.seq); /* acked already: stays acked */
	qb_cid_local_lost(&l, f2.seq);
	cr_assert_eq(qb_cid_local_next(&l, &f), 1);
	cr_assert_eq(f.seq, f2.seq, "a lost frame is sent again");
	cr_assert_arr_eq(f.cid.id, f2.cid.id, 8);
	cr_assert_eq(qb_cid_local_next(&l, &f), 0);
	/* Lost after the peer retired it: not sent again. */
	uint64_t te;
	uint8_t other[8];
	memcpy(other, qb_cid_local_get(&l, 0)->cid.id, 8);
	cr_assert_eq(qb_cid_local_on_retire(&l, f2.seq, other, 8, &te), 1);
	qb_cid_local_lost(&l, f2.seq);
	cr_assert_eq(qb_cid_local_next(&l, &f), 1);
	cr_assert_eq(f.seq, 3, "only the replacement goes");
	cr_assert_eq(qb_cid_local_next(&l, &f), 0);
}

Test(cid, local_retire_prior_to)
{
	struct seqgen g = {0};
	struct qb_cid_local l;
	local_init(&l, &g, 8);
	qb_cid_local_set_peer_limit(&l, 3); /* 0, 1, 2 */
	struct qb_cid_new_frame f;
	cr_assert_eq(qb_cid_local_next(&l, &f), 1); /* seq 1 in flight */
	/* seq 2 is still pending when we ask for retirement below 3. */
	cr_assert_eq(qb_cid_local_retire_prior_to(&l, 4), QB_ERR_ARG);
	cr_assert_eq(qb_cid_local_retire_prior_to(&l, 3), 3, "three new ones: 3, 4, 5");
	/* Seq 2 was never sent: forgotten. 0 and 1 stay until the peer retires them. */
	cr_assert_null(qb_cid_local_get(&l, 2));
	cr_assert_not_null(qb_cid_local_get(&l, 0));
	cr_assert_not_null(qb_cid_local_get(&l, 1));
	for (uint64_t s = 3; s <= 5; s++) {
		cr_assert_eq(qb_cid_local_next(&l, &f), 1);
		cr_assert_eq(f.seq, s);
		cr_assert_eq(f.retire_prior_to, 3);
	}
	cr_assert_eq(qb_cid_local_next(&l, &f), 0);
	/* Seq 1's frame is lost: below retire_prior_to, it is dropped, not resent. */
	qb_cid_local_lost(&l, 1);
	cr_assert_null(qb_cid_local_get(&l, 1));
	cr_assert_eq(qb_cid_local_next(&l, &f), 0);
	/* A smaller value is ignored. */
	cr_assert_eq(qb_cid_local_retire_prior_to(&l, 2), 0);
	/* The peer retires 0 (sent to seq 3): nothing new, the limit is met by 3..5. */
	uint64_t te;
	cr_assert_eq(qb_cid_local_on_retire(&l, 0, qb_cid_local_get(&l, 3)->cid.id, 8, &te), 0);
	cr_assert_eq(qb_cid_local_count(&l), 3);
}

/* ---- the peer's CIDs ---- */

static void
mkcid(uint8_t *c, uint64_t seq)
{
	memset(c, 0, 8);
	c[0] = 0xc1;
	c[1] = (uint8_t)seq;
	c[2] = (uint8_t)(seq >> 8);
}

static void
mktok(uint8_t *t, uint64_t seq)
{
	memset(t, 0x40, 16);
	t[0] = (uint8_t)seq;
	t[1] = (uint8_t)(seq >> 8);
}

static int
peer_new(struct qb_cid_peer *p, uint64_t seq, uint64_t rpt, uint64_t *te)
{
	uint8_t c[8], t[16];
	mkcid(c, seq);
	mktok(t, seq);
	return qb_cid_peer_on_new(p, seq, rpt, c, 8, t, te);
}

static void
peer_init(struct qb_cid_peer *p, uint64_t limit)
{
	uint8_t c[8];
	mkcid(c, 0);
	cr_assert_eq(qb_cid_peer_init(p, limit, c, 8), 0);
}

Test(cid, peer_init_args)
{
	struct qb_cid_peer p;
	uint8_t c[8] = {0};
	cr_assert_eq(qb_cid_peer_init(&p, 1, c, 8), QB_ERR_ARG);
	cr_assert_eq(qb_cid_peer_init(&p, QB_CID_PEER_MAX + 1, c, 8), QB_ERR_ARG);
	cr_assert_eq(qb_cid_peer_init(&p, 2, c, 21), QB_ERR_ARG);
	cr_assert_eq(qb_cid_peer_init(&p, 2, c, 8), 0);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 0);
	cr_assert_arr_eq(qb_cid_peer_active(&p)->id, c, 8);
}

Test(cid, peer_new_and_duplicates)
{
	struct qb_cid_peer p;
	peer_init(&p, 4);
	uint64_t te = 0;
	cr_assert_eq(peer_new(&p, 1, 0, &te), 0);
	cr_assert_eq(peer_new(&p, 2, 0, &te), 0);
	cr_assert_eq(qb_cid_peer_count(&p), 3);
	cr_assert_eq(qb_cid_peer_unused(&p), 2);
	/* A retransmission: ignored. */
	cr_assert_eq(peer_new(&p, 2, 0, &te), 0);
	cr_assert_eq(qb_cid_peer_count(&p), 3);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 0, "the DCID in use stays");

	uint8_t c[8], t[16];
	/* Same seq, another CID: PROTOCOL_VIOLATION. */
	mkcid(c, 9);
	mktok(t, 2);
	te = 0;
	cr_assert_eq(qb_cid_peer_on_new(&p, 2, 0, c, 8, t, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_PROTOCOL_VIOLATION);
	/* Same seq and CID, another token: PROTOCOL_VIOLATION. */
	mkcid(c, 2);
	mktok(t, 7);
	te = 0;
	cr_assert_eq(qb_cid_peer_on_new(&p, 2, 0, c, 8, t, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_PROTOCOL_VIOLATION);
	/* Same seq, same CID but shorter: another CID. */
	mktok(t, 2);
	te = 0;
	cr_assert_eq(qb_cid_peer_on_new(&p, 2, 0, c, 7, t, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_PROTOCOL_VIOLATION);
	/* A CID we hold under another seq: PROTOCOL_VIOLATION. */
	mkcid(c, 1);
	mktok(t, 3);
	te = 0;
	cr_assert_eq(qb_cid_peer_on_new(&p, 3, 0, c, 8, t, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_PROTOCOL_VIOLATION);
	/* retire_prior_to above seq: FRAME_ENCODING_ERROR. */
	te = 0;
	cr_assert_eq(peer_new(&p, 3, 4, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_FRAME_ENCODING_ERROR);
	/* Zero-length or over-long CID in the frame: FRAME_ENCODING_ERROR. */
	te = 0;
	cr_assert_eq(qb_cid_peer_on_new(&p, 3, 0, c, 0, t, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_FRAME_ENCODING_ERROR);
	cr_assert_eq(qb_cid_peer_count(&p), 3, "nothing changed by the rejected frames");
}

Test(cid, peer_limit)
{
	struct qb_cid_peer p;
	peer_init(&p, 3);
	uint64_t te = 0;
	cr_assert_eq(peer_new(&p, 1, 0, &te), 0);
	cr_assert_eq(peer_new(&p, 2, 0, &te), 0);
	/* A fourth live CID over our limit of 3: CONNECTION_ID_LIMIT_ERROR (§5.1.1). */
	cr_assert_eq(peer_new(&p, 3, 0, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_CONNECTION_ID_LIMIT_ERROR);
	/* With retire_prior_to making room, the same is fine. */
	peer_init(&p, 3);
	cr_assert_eq(peer_new(&p, 1, 0, &te), 0);
	cr_assert_eq(peer_new(&p, 2, 0, &te), 0);
	cr_assert_eq(peer_new(&p, 3, 1, &te), 0);
	cr_assert_eq(qb_cid_peer_count(&p), 3);
	/* At the table's own size. */
	peer_init(&p, QB_CID_PEER_MAX);
	for (uint64_t s = 1; s < QB_CID_PEER_MAX; s++)
		cr_assert_eq(peer_new(&p, s, 0, &te), 0);
	cr_assert_eq(peer_new(&p, QB_CID_PEER_MAX, 0, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_CONNECTION_ID_LIMIT_ERROR);
}

Test(cid, peer_zero_length)
{
	/* The peer gave us a zero-length CID: it cannot issue more (§19.15). */
	struct qb_cid_peer p;
	cr_assert_eq(qb_cid_peer_init(&p, 2, NULL, 0), 0);
	cr_assert_eq(qb_cid_peer_active(&p)->len, 0);
	uint64_t te = 0;
	cr_assert_eq(peer_new(&p, 1, 0, &te), QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_PROTOCOL_VIOLATION);
}

Test(cid, peer_retire_prior_to)
{
	struct qb_cid_peer p;
	peer_init(&p, 4);
	uint64_t te = 0, seq;
	cr_assert_eq(peer_new(&p, 1, 0, &te), 0);
	cr_assert_eq(peer_new(&p, 2, 0, &te), 0);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 0);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 0);
	/* Retire everything below 2: seqs 0 and 1 go, the DCID moves to 2. */
	cr_assert_eq(peer_new(&p, 3, 2, &te), 0);
	cr_assert_eq(qb_cid_peer_count(&p), 2);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 2);
	uint8_t c[8];
	mkcid(c, 2);
	cr_assert_arr_eq(qb_cid_peer_active(&p)->id, c, 8);
	cr_assert_eq(qb_cid_peer_retiring(&p), 2);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 0);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 1);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 0);
	/* A late frame for seq 1: already retired, not added again. */
	cr_assert_eq(peer_new(&p, 1, 0, &te), 0);
	cr_assert_eq(qb_cid_peer_count(&p), 2);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 0, "retired once only");
	/* A never-seen seq below the largest retire_prior_to: retired at once (§19.15). */
	peer_init(&p, 4);
	cr_assert_eq(peer_new(&p, 5, 5, &te), 0);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 5);
	cr_assert_eq(peer_new(&p, 3, 0, &te), 0);
	cr_assert_eq(qb_cid_peer_count(&p), 1);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 0);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 3);
	/* A smaller retire_prior_to than before changes nothing. */
	cr_assert_eq(peer_new(&p, 6, 1, &te), 0);
	cr_assert_eq(qb_cid_peer_count(&p), 2);
}

Test(cid, peer_retire_frames_acked_and_lost)
{
	struct qb_cid_peer p;
	peer_init(&p, 4);
	uint64_t te, seq;
	peer_new(&p, 1, 0, &te);
	peer_new(&p, 2, 2, &te); /* retires 0 and 1 */
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 0);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 1);
	qb_cid_peer_retire_lost(&p, 0);
	qb_cid_peer_retire_acked(&p, 1);
	cr_assert_eq(qb_cid_peer_retiring(&p), 1);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 0, "lost: sent again");
	qb_cid_peer_retire_lost(&p, 1); /* acked already: no effect */
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 0);
	qb_cid_peer_retire_acked(&p, 0);
	cr_assert_eq(qb_cid_peer_retiring(&p), 0);
}

Test(cid, peer_rotate)
{
	struct qb_cid_peer p;
	peer_init(&p, 4);
	cr_assert_eq(qb_cid_peer_rotate(&p), QB_ERR_STATE, "nothing to move to");
	cr_assert_eq(qb_cid_peer_active_seq(&p), 0);
	uint64_t te, seq;
	peer_new(&p, 1, 0, &te);
	peer_new(&p, 2, 0, &te);
	cr_assert_eq(qb_cid_peer_rotate(&p), 0);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 1);
	cr_assert_eq(qb_cid_peer_count(&p), 2);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(seq, 0);
	cr_assert_eq(qb_cid_peer_rotate(&p), 0);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 2);
	cr_assert_eq(qb_cid_peer_rotate(&p), QB_ERR_STATE);
	cr_assert_eq(qb_cid_peer_active_seq(&p), 2);
}

Test(cid, stateless_reset_detection)
{
	struct qb_cid_peer p;
	peer_init(&p, 4);
	uint64_t te;
	uint8_t tok0[16], d[40];
	memset(d, 0x33, sizeof(d));
	/* Seq 0 from a server carries its token in the transport parameters. */
	mktok(tok0, 100);
	memcpy(d + sizeof(d) - 16, tok0, 16);
	cr_assert_not(qb_cid_peer_is_stateless_reset(&p, d, sizeof(d)), "no token yet");
	cr_assert_eq(qb_cid_peer_set_token0(&p, tok0), 0);
	cr_assert(qb_cid_peer_is_stateless_reset(&p, d, sizeof(d)));
	/* Shorter than 21 bytes: never a reset; 21 is enough. */
	cr_assert_not(qb_cid_peer_is_stateless_reset(&p, d + sizeof(d) - 20, 20));
	cr_assert(qb_cid_peer_is_stateless_reset(&p, d + sizeof(d) - 21, 21));
	/* One bit off: no. */
	d[sizeof(d) - 1] ^= 0x80;
	cr_assert_not(qb_cid_peer_is_stateless_reset(&p, d, sizeof(d)));

	/* The token of a CID we have not used yet is not checked (§10.3.1). */
	cr_assert_eq(peer_new(&p, 1, 0, &te), 0);
	uint8_t tok1[16];
	mktok(tok1, 1);
	memcpy(d + sizeof(d) - 16, tok1, 16);
	cr_assert_not(qb_cid_peer_is_stateless_reset(&p, d, sizeof(d)));
	/* Once used it is. */
	cr_assert_eq(qb_cid_peer_rotate(&p), 0);
	cr_assert(qb_cid_peer_is_stateless_reset(&p, d, sizeof(d)));
	/* And a retired one's (seq 0, by the rotation) no longer is. */
	memcpy(d + sizeof(d) - 16, tok0, 16);
	cr_assert_not(qb_cid_peer_is_stateless_reset(&p, d, sizeof(d)));
	/* Seq 0 is gone: its token can no longer be set. */
	cr_assert_eq(qb_cid_peer_set_token0(&p, tok0), QB_ERR_STATE);
}

Test(cid, peer_retire_tracking_overflow)
{
	/*
	 * A peer that raises retire_prior_to with every frame while none of
	 * our RETIRE_CONNECTION_ID frames is acknowledged: once more are
	 * outstanding than we track, CONNECTION_ID_LIMIT_ERROR (§5.1.2).
	 */
	struct qb_cid_peer p;
	peer_init(&p, 2);
	uint64_t te = 0, s;
	int rc = 0;
	for (s = 1; s < 1000; s++) {
		rc = peer_new(&p, s, s, &te);
		if (rc < 0)
			break;
		cr_assert_eq(qb_cid_peer_count(&p), 1);
	}
	cr_assert_eq(rc, QB_ERR_PROTO);
	cr_assert_eq(te, QB_TE_CONNECTION_ID_LIMIT_ERROR);
	cr_assert_eq(s, QB_CID_RETIRE_MAX + 1, "failed at %lu", s);
	/* Acknowledged retirements free their slots: the same pattern then runs forever. */
	peer_init(&p, 2);
	for (s = 1; s < 1000; s++) {
		cr_assert_eq(peer_new(&p, s, s, &te), 0, "at %lu", s);
		uint64_t r;
		cr_assert_eq(qb_cid_peer_next_retire(&p, &r), 1);
		cr_assert_eq(r, s - 1);
		qb_cid_peer_retire_acked(&p, r);
	}
	/* History still spots a repeat of a recent retired seq. */
	cr_assert_eq(peer_new(&p, 998, 998, &te), 0);
	uint64_t r;
	cr_assert_eq(qb_cid_peer_next_retire(&p, &r), 0);
}

/* ---- both sides together ---- */

/*
 * Our local set feeds a peer set (as the other endpoint would hold it): the
 * issuer rotates with retire_prior_to again and again, frames are lost now
 * and then, and the receiver's set must never exceed its limit nor hit an
 * error.
 */
Test(cid, retire_prior_to_many_updates)
{
	struct seqgen g = {0};
	struct qb_cid_local l;
	local_init(&l, &g, 8);
	struct qb_cid_peer p;
	const struct qb_cid_local_entry *e0 = qb_cid_local_get(&l, 0);
	cr_assert_eq(qb_cid_peer_init(&p, 4, e0->cid.id, e0->cid.len), 0);
	cr_assert_eq(qb_cid_peer_set_token0(&p, e0->token), 0);
	cr_assert(qb_cid_local_set_peer_limit(&l, 4) == 3);

	uint64_t te = 0, rng = 12345;
	uint64_t max_seen = 0;
	for (int round = 0; round < 2000; round++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		bool lose = (rng >> 60) == 0; /* 1 in 16 */
		/* Issuer -> receiver: NEW_CONNECTION_ID frames. */
		struct qb_cid_new_frame f;
		while (qb_cid_local_next(&l, &f) == 1) {
			if (lose) {
				qb_cid_local_lost(&l, f.seq);
				break;
			}
			int rc = qb_cid_peer_on_new(&p, f.seq, f.retire_prior_to, f.cid.id,
			                            f.cid.len, f.token, &te);
			cr_assert_eq(rc, 0, "round %d seq %lu: te %lu", round, f.seq, te);
			qb_cid_local_acked(&l, f.seq);
			cr_assert_leq(qb_cid_peer_count(&p), 4);
		}
		/* Receiver -> issuer: RETIRE_CONNECTION_ID frames, in a packet to its DCID. */
		uint64_t r;
		const struct qb_cid *dcid = qb_cid_peer_active(&p);
		cr_assert_not_null(dcid, "round %d: the receiver ran out of CIDs", round);
		while (qb_cid_peer_next_retire(&p, &r) == 1) {
			if (lose) {
				qb_cid_peer_retire_lost(&p, r);
				break;
			}
			int rc = qb_cid_local_on_retire(&l, r, dcid->id, dcid->len, &te);
			cr_assert_geq(rc, 0, "round %d retire %lu: te %lu", round, r, te);
			qb_cid_peer_retire_acked(&p, r);
		}
		/* The receiver's DCID always names a live CID of ours, with its token. */
		const struct qb_cid_local_entry *e = qb_cid_local_find(&l, dcid->id, dcid->len);
		cr_assert_not_null(e, "round %d: DCID unknown to the issuer", round);
		cr_assert_eq(e->seq, qb_cid_peer_active_seq(&p));
		cr_assert_leq(qb_cid_local_count(&l), QB_CID_LOCAL_MAX);
		/* Every 3rd round the issuer rotates; every 5th the receiver moves on. */
		if (round % 3 == 0)
			cr_assert_geq(qb_cid_local_retire_prior_to(&l, l.next_seq - 1), 0);
		if (round % 5 == 0)
			qb_cid_peer_rotate(&p); /* may find none unused: fine */
		if (qb_cid_peer_active_seq(&p) > max_seen)
			max_seen = qb_cid_peer_active_seq(&p);
	}
	cr_assert_gt(max_seen, 500, "the CIDs did rotate (%lu)", max_seen);
	cr_assert_gt(l.retire_prior_to, 500);
}

/* ---- the pending-frame counts (the connection's per-datagram check) ---- */

static uint32_t
scan_local_pending(const struct qb_cid_local *l)
{
	uint32_t n = 0;
	for (size_t i = 0; i < QB_CID_LOCAL_MAX; i++)
		n += l->e[i].live && l->e[i].frame == QB_CID_FRAME_PENDING;
	return n;
}

static uint32_t
scan_retire_pending(const struct qb_cid_peer *p)
{
	uint32_t n = 0;
	for (size_t i = 0; i < QB_CID_RETIRE_MAX; i++)
		n += p->r[i].state == QB_CID_FRAME_PENDING;
	return n;
}

Test(cid, local_pending_count_follows_frames)
{
	struct seqgen g = {0};
	struct qb_cid_local l;
	local_init(&l, &g, 8);
	cr_assert_eq(l.npending, 0, "seq 0 needs no frame");
	qb_cid_local_set_peer_limit(&l, 3); /* 1, 2 pending */
	cr_assert_eq(l.npending, 2);
	struct qb_cid_new_frame f;
	cr_assert_eq(qb_cid_local_next(&l, &f), 1);
	cr_assert_eq(l.npending, 1);
	qb_cid_local_lost(&l, f.seq);
	cr_assert_eq(l.npending, 2, "a lost frame is pending again");
	qb_cid_local_lost(&l, f.seq); /* not in flight: no change */
	cr_assert_eq(l.npending, 2);
	cr_assert_eq(qb_cid_local_next(&l, &f), 1);
	qb_cid_local_acked(&l, f.seq);
	cr_assert_eq(l.npending, 1);
	/* Seq 2 pending and forgotten by retire_prior_to; 3, 4, 5 issued. */
	cr_assert_eq(qb_cid_local_retire_prior_to(&l, 3), 3);
	cr_assert_eq(l.npending, scan_local_pending(&l));
	cr_assert_eq(l.npending, 3);
	/* The peer retires seq 4 before we sent its frame: no longer pending. */
	uint64_t te;
	cr_assert_geq(qb_cid_local_on_retire(&l, 4, qb_cid_local_get(&l, 0)->cid.id, 8, &te), 0);
	cr_assert_eq(l.npending, scan_local_pending(&l));
	while (qb_cid_local_next(&l, &f) == 1)
		cr_assert_eq(l.npending, scan_local_pending(&l));
	cr_assert_eq(l.npending, 0);
}

Test(cid, peer_retire_pending_count_follows_frames)
{
	struct qb_cid_peer p;
	peer_init(&p, 4);
	uint64_t te, seq;
	cr_assert_eq(p.rpending, 0);
	peer_new(&p, 1, 0, &te);
	peer_new(&p, 2, 2, &te); /* retires 0 and 1 */
	cr_assert_eq(p.rpending, 2);
	cr_assert_eq(qb_cid_peer_next_retire(&p, &seq), 1);
	cr_assert_eq(p.rpending, 1);
	qb_cid_peer_retire_lost(&p, seq);
	cr_assert_eq(p.rpending, 2, "a lost frame is pending again");
	qb_cid_peer_retire_lost(&p, seq); /* not in flight: no change */
	cr_assert_eq(p.rpending, 2);
	while (qb_cid_peer_next_retire(&p, &seq) == 1)
		qb_cid_peer_retire_acked(&p, seq);
	cr_assert_eq(p.rpending, 0);
	cr_assert_eq(p.rpending, scan_retire_pending(&p));
	/* Retire many: acknowledged history slots are reused, the count stays right. */
	for (uint64_t s = 3; s < 3 + 2 * QB_CID_RETIRE_MAX; s++) {
		peer_new(&p, s, s, &te);
		cr_assert_eq(p.rpending, scan_retire_pending(&p));
		while (qb_cid_peer_next_retire(&p, &seq) == 1)
			qb_cid_peer_retire_acked(&p, seq);
		cr_assert_eq(p.rpending, 0);
	}
}
