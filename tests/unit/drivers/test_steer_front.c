/* SPDX-License-Identifier: BSD-3-Clause */
/* Steering decisions and the listener front-end: exact bytes of Version
 * Negotiation and stateless resets, the 1200-byte rules, rate limiting at
 * its boundary. No EAL. */

#include <criterion/criterion.h>
#include <string.h>

#include <qburst/packet.h>

#include "qb_steer.h"

#define CID_LEN 12
#define SEC     1000000000ull

static const uint8_t server_id[2] = {0xab, 0xcd};

static struct qb_steer
steer_conf(uint16_t workers)
{
	struct qb_steer s = {.n_workers = workers, .cid_len = CID_LEN, .seed = 0x1234};
	s.lb.config_rotation = 1;
	s.lb.server_id_len = 2;
	memcpy(s.lb.server_id, server_id, 2);
	return s;
}

/* One of our CIDs, for worker k. */
static void
our_cid(uint8_t worker, uint64_t seq, uint8_t cid[CID_LEN])
{
	struct qb_cid_lb lb = {.config_rotation = 1,
	                       .server_id_len = 2,
	                       .worker_id = worker,
	                       .rng_state = 77 + seq};
	memcpy(lb.server_id, server_id, 2);
	cr_assert_eq(qb_cid_gen_lb(&lb, seq, cid, CID_LEN), 0);
}

/* A v1/v2 long header of type bits tb, dcid, no scid/token, padded to total. */
static size_t
long_hdr(uint8_t *d, size_t total, uint32_t version, uint8_t tb, const uint8_t *dcid,
         size_t dcid_len, const uint8_t *scid, size_t scid_len)
{
	size_t o = 0;

	memset(d, 0, total);
	d[o++] = (uint8_t)(0xc0 | tb << 4 | 3);
	d[o++] = (uint8_t)(version >> 24);
	d[o++] = (uint8_t)(version >> 16);
	d[o++] = (uint8_t)(version >> 8);
	d[o++] = (uint8_t)version;
	d[o++] = (uint8_t)dcid_len;
	memcpy(d + o, dcid, dcid_len);
	o += dcid_len;
	d[o++] = (uint8_t)scid_len;
	if (scid_len > 0)
		memcpy(d + o, scid, scid_len);
	o += scid_len;
	if (qb_version_supported(version) && qb_long_type_of(version, tb) == QB_PKT_INITIAL)
		d[o++] = 0; /* token length */
	size_t rest = total - o - 2;
	d[o++] = (uint8_t)(0x40 | rest >> 8);
	d[o++] = (uint8_t)rest;
	return total;
}

Test(steer_owner, short_header_names_the_cid_worker)
{
	struct qb_steer s = steer_conf(4);
	enum qb_steer_kind kind;
	uint8_t d[64], cid[CID_LEN];

	for (uint8_t k = 0; k < 4; k++) {
		our_cid(k, k + 5, cid);
		memset(d, 0xee, sizeof(d));
		d[0] = 0x40 | 0x20; /* spin bit too */
		memcpy(d + 1, cid, CID_LEN);
		cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 3 - k, &kind), k);
		cr_assert_eq(kind, QB_STEER_OURS);
		/* Truncated before the DCID ends: local. */
		cr_assert_eq(qb_steer_owner(&s, d, CID_LEN, 3 - k, &kind), 3 - k);
		cr_assert_eq(kind, QB_STEER_LOCAL);
	}
	/* Worker id beyond the worker count, wrong server id: not ours. */
	our_cid(7, 1, cid);
	memcpy(d + 1, cid, CID_LEN);
	cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 2, &kind), 2);
	cr_assert_eq(kind, QB_STEER_LOCAL);
	our_cid(1, 1, cid);
	cid[1] ^= 1;
	memcpy(d + 1, cid, CID_LEN);
	cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 2, &kind), 2);
	cr_assert_eq(qb_steer_owner(&s, d, 0, 2, &kind), 2);
}

Test(steer_owner, client_initials_hashed_consistently)
{
	struct qb_steer s = steer_conf(4);
	enum qb_steer_kind kind;
	static uint8_t d[1200];
	unsigned int per_worker[4] = {0};

	for (uint32_t c = 0; c < 400; c++) {
		uint8_t dcid[8] = {0x11, 0x22, 0, 0, 0, 0, 0x33, 0x44};
		memcpy(dcid + 2, &c, 4);
		long_hdr(d, sizeof(d), QB_VERSION_1, 0, dcid, 8, NULL, 0);
		uint16_t o = qb_steer_owner(&s, d, sizeof(d), 0, &kind);
		cr_assert_eq(kind, QB_STEER_HASHED);
		cr_assert_eq(o, qb_steer_hash(s.seed, dcid, 8) % 4);
		/* From every receiving worker, for 0-RTT too, and in v2. */
		for (uint16_t rx = 1; rx < 4; rx++)
			cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), rx, &kind), o);
		long_hdr(d, 300, QB_VERSION_1, 1, dcid, 8, NULL, 0);
		cr_assert_eq(qb_steer_owner(&s, d, 300, 2, &kind), o);
		long_hdr(d, sizeof(d), QB_VERSION_2,
		         qb_long_type_bits(QB_VERSION_2, QB_PKT_INITIAL), dcid, 8, NULL, 0);
		cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 3, &kind), o);
		per_worker[o]++;
	}
	/* The hash spreads handshakes over the workers. */
	for (int k = 0; k < 4; k++)
		cr_assert_gt(per_worker[k], 60, "worker %d got %u", k, per_worker[k]);
}

Test(steer_owner, long_headers_with_our_cid_and_others)
{
	struct qb_steer s = steer_conf(4);
	enum qb_steer_kind kind;
	uint8_t d[200], cid[CID_LEN], x[8] = {9, 9, 9, 9, 9, 9, 9, 9};

	our_cid(2, 3, cid);
	long_hdr(d, sizeof(d), QB_VERSION_1, 2, cid, CID_LEN, x, 8); /* Handshake */
	cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 0, &kind), 2);
	cr_assert_eq(kind, QB_STEER_OURS);
	/* Handshake for a DCID that is not ours: the receiving worker decides. */
	long_hdr(d, sizeof(d), QB_VERSION_1, 2, x, 8, x, 8);
	cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 1, &kind), 1);
	cr_assert_eq(kind, QB_STEER_LOCAL);
	/* Unknown version and VN: local. */
	long_hdr(d, sizeof(d), 0x1a2a3a4a, 0, x, 8, x, 8);
	cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 3, &kind), 3);
	cr_assert_eq(kind, QB_STEER_LOCAL);
	long_hdr(d, sizeof(d), 0, 0, cid, CID_LEN, x, 8);
	cr_assert_eq(qb_steer_owner(&s, d, sizeof(d), 3, &kind), 3);
	/* Truncated inside the DCID. */
	long_hdr(d, sizeof(d), QB_VERSION_1, 0, x, 8, NULL, 0);
	cr_assert_eq(qb_steer_owner(&s, d, 10, 1, &kind), 1);
	cr_assert_eq(kind, QB_STEER_LOCAL);
}

static const uint8_t key[QB_CID_RESET_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static struct qb_listener
listener(uint32_t rate, uint32_t burst)
{
	struct qb_listener l;
	struct qb_listener_conf c = {.cid_len = CID_LEN,
	                             .server = true,
	                             .reset_rate = rate,
	                             .reset_burst = burst,
	                             .reset_key = key,
	                             .rng_seed = 5};
	cr_assert_eq(qb_listener_init(&l, &c, 1 * SEC), 0);
	return l;
}

Test(steer_listener, version_negotiation_exact_bytes)
{
	struct qb_listener l = listener(10, 0);
	static uint8_t d[1300], r[QB_LISTEN_REPLY_MAX];
	uint8_t dcid[8] = {0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7};
	uint8_t scid[5] = {0x50, 0x51, 0x52, 0x53, 0x54};
	enum qb_steer_drop why;
	size_t rlen;

	long_hdr(d, 1200, 0x1a2a3a4a, 0, dcid, 8, scid, 5);
	cr_assert_eq(qb_listener_input(&l, d, 1200, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_REPLY);
	const uint8_t want[] = {0x00, 0x00, 0x00, 0x00, 5,    0x50, 0x51, 0x52, 0x53,
	                        0x54, 8,    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6,
	                        0xd7, 0x00, 0x00, 0x00, 0x01, 0x6b, 0x33, 0x43, 0xcf};
	cr_assert_eq(rlen, 1 + sizeof(want));
	cr_assert_eq(r[0] & 0x80, 0x80);
	cr_assert_eq(memcmp(r + 1, want, sizeof(want)), 0);
	cr_assert_eq(l.vn_sent, 1);
	/* It parses as a VN listing v1 and v2. */
	struct qb_pkt_hdr h;
	cr_assert_eq(qb_pkt_parse(r, rlen, 0, CID_LEN, 0, &h), 0);
	cr_assert_eq(h.type, QB_PKT_VN);
	cr_assert_eq(h.versions_len, 8);

	/* 1199 bytes: dropped (RFC 9000 §5.2.2). */
	cr_assert_eq(qb_listener_input(&l, d, 1199, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_VN_TOO_SMALL);
	/* A VN packet is never answered, whatever its size. */
	long_hdr(d, 1250, 0, 0, dcid, 8, scid, 5);
	d[18] = 0; /* versions: the bytes after the CIDs, 1200+ of them */
	cr_assert_eq(qb_listener_input(&l, d, 1248, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_VN_RECEIVED);
	cr_assert_eq(rlen, 0);
	cr_assert_eq(l.vn_sent, 1);
	cr_assert_eq(l.drops[QB_SDROP_VN_RECEIVED], 1);
}

Test(steer_listener, initial_size_rule)
{
	struct qb_listener l = listener(10, 0);
	static uint8_t d[1300], r[QB_LISTEN_REPLY_MAX];
	uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	enum qb_steer_drop why;
	size_t rlen;

	long_hdr(d, 1199, QB_VERSION_1, 0, dcid, 8, NULL, 0);
	cr_assert_eq(qb_listener_input(&l, d, 1199, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_INITIAL_TOO_SMALL);
	long_hdr(d, 1200, QB_VERSION_1, 0, dcid, 8, NULL, 0);
	cr_assert_eq(qb_listener_input(&l, d, 1200, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_ACCEPT);
	long_hdr(d, 1200, QB_VERSION_2, 1, dcid, 8, NULL, 0); /* v2 Initial */
	cr_assert_eq(qb_listener_input(&l, d, 1200, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_ACCEPT);
	cr_assert_eq(l.accepted, 2);
	/* A Handshake packet for no connection. */
	long_hdr(d, 1200, QB_VERSION_1, 2, dcid, 8, NULL, 0);
	cr_assert_eq(qb_listener_input(&l, d, 1200, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_UNKNOWN_CID);
	/* A client-side listener accepts nothing. */
	l.server = false;
	long_hdr(d, 1200, QB_VERSION_1, 0, dcid, 8, NULL, 0);
	cr_assert_eq(qb_listener_input(&l, d, 1200, SEC, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_NOT_LISTENING);
}

static void
short_pkt(uint8_t *d, size_t len, const uint8_t *dcid)
{
	memset(d, 0x77, len);
	d[0] = 0x41;
	memcpy(d + 1, dcid, CID_LEN);
}

Test(steer_listener, stateless_reset_size_and_token)
{
	struct qb_listener l = listener(1000, 0);
	uint8_t d[200], r[QB_LISTEN_REPLY_MAX], cid[CID_LEN], token[16];
	enum qb_steer_drop why;
	size_t rlen;

	our_cid(1, 9, cid);
	cr_assert_eq(qb_cid_reset_token(key, cid, CID_LEN, token), 0);
	const size_t trig[] = {200, 45, 44, 43, 30, 22};
	const size_t want[] = {43, 43, 43, 42, 29, 21};
	for (size_t i = 0; i < sizeof(trig) / sizeof(trig[0]); i++) {
		short_pkt(d, trig[i], cid);
		cr_assert_eq(qb_listener_input(&l, d, trig[i], SEC, r, sizeof(r), &rlen, &why),
		             QB_LISTEN_REPLY);
		cr_assert_eq(rlen, want[i], "trigger %zu: reset %zu", trig[i], rlen);
		cr_assert_lt(rlen, trig[i]);
		cr_assert_eq(r[0] & 0xc0, 0x40); /* looks like a short header */
		cr_assert_eq(memcmp(r + rlen - 16, token, 16), 0);
	}
	/* 21 bytes: no smaller reset can exist (RFC 9000 §10.3.3). */
	short_pkt(d, 21, cid);
	cr_assert_eq(qb_listener_input(&l, d, 21, SEC, r, sizeof(r), &rlen, &why), QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_RESET_TOO_SMALL);
	cr_assert_eq(l.resets_sent, 6);
	/* No key: none. */
	struct qb_listener_conf c = {.cid_len = CID_LEN, .server = true, .reset_rate = 10};
	cr_assert_eq(qb_listener_init(&l, &c, 0), 0);
	short_pkt(d, 100, cid);
	cr_assert_eq(qb_listener_input(&l, d, 100, SEC, r, sizeof(r), &rlen, &why), QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_RESET_DISABLED);
}

Test(steer_listener, reset_rate_limit_boundary)
{
	/* 10 per second, bucket of 3: 3 at once, then one per 100 ms exactly. */
	struct qb_listener l = listener(10, 3);
	uint8_t d[100], r[QB_LISTEN_REPLY_MAX], cid[CID_LEN];
	enum qb_steer_drop why;
	size_t rlen;
	uint64_t t0 = 5 * SEC;

	our_cid(0, 1, cid);
	short_pkt(d, sizeof(d), cid);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(qb_listener_input(&l, d, sizeof(d), t0, r, sizeof(r), &rlen, &why),
		             QB_LISTEN_REPLY);
	cr_assert_eq(qb_listener_input(&l, d, sizeof(d), t0, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(why, QB_SDROP_RESET_RATE);
	uint64_t t1 = t0 + SEC / 10;
	cr_assert_eq(qb_listener_input(&l, d, sizeof(d), t1 - 1, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(qb_listener_input(&l, d, sizeof(d), t1, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_REPLY);
	cr_assert_eq(qb_listener_input(&l, d, sizeof(d), t1, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	/* After a long quiet spell the bucket holds 3 again, not more. */
	uint64_t t2 = t1 + 10 * SEC;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(qb_listener_input(&l, d, sizeof(d), t2, r, sizeof(r), &rlen, &why),
		             QB_LISTEN_REPLY);
	cr_assert_eq(qb_listener_input(&l, d, sizeof(d), t2, r, sizeof(r), &rlen, &why),
	             QB_LISTEN_DROP);
	cr_assert_eq(l.resets_sent, 7);
	cr_assert_eq(l.drops[QB_SDROP_RESET_RATE], 4);
}
