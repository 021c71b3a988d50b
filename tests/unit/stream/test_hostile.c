/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hostile peer: random frames (any stream ID, offset, length, FIN, limits)
 * mixed with random application calls and random acks and losses. Every
 * error must be QB_ERR_PROTO with an RFC 9000 code this layer may raise, or
 * QB_ERR_NOMEM; the internal invariants must hold after every step; nothing
 * may leak. Run under ASan (and -Dpool_malloc=true) this is a cheap fuzzer.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "qburst/error.h"
#include "stream/stream_internal.h"

static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t
rnd(uint64_t n)
{
	return n == 0 ? 0 : rng() % n;
}

static void
check_code(int rc, uint64_t terr)
{
	if (rc == 0 || rc == QB_ERR_NOMEM)
		return;
	cr_assert_eq(rc, QB_ERR_PROTO, "rc %d", rc);
	cr_assert(terr == QB_TE_FLOW_CONTROL_ERROR || terr == QB_TE_STREAM_LIMIT_ERROR ||
	                  terr == QB_TE_STREAM_STATE_ERROR || terr == QB_TE_FINAL_SIZE_ERROR ||
	                  terr == QB_TE_FRAME_ENCODING_ERROR,
	          "terr 0x%lx", (unsigned long)terr);
}

static void
check_invariants(const struct qb_streams *m, const struct qb_stream_pools *p)
{
	uint32_t n = 0;

	cr_assert_leq(m->rx.highest, m->rx.max);
	cr_assert_leq(m->rx.consumed, m->rx.highest);
	cr_assert_leq(m->tx.used, m->tx.max);
	for (uint32_t i = 0; i <= m->mask; i++) {
		const struct qb_stream *s = m->table[i];
		if (s == NULL)
			continue;
		n++;
		cr_assert_eq(qb_streams_lookup(m, s->id), s);
		cr_assert_leq(s->rb.read, s->rb.contig);
		cr_assert_leq(s->rb.contig, s->rb.hi);
		cr_assert_leq(s->rx_highest, s->rx_max);
		if (s->rx_final != UINT64_MAX)
			cr_assert_leq(s->rb.hi, s->rx_final);
		cr_assert_leq(s->sb.acked, s->sb.sent);
		cr_assert_leq(s->sb.sent, s->sb.end);
		if (s->tx_state != QB_SEND_RESET_SENT && s->tx_state != QB_SEND_RESET_RECVD)
			cr_assert_leq(s->sb.sent, s->tx_max);
	}
	cr_assert_eq(n, m->count);
	(void)p;
}

struct rec {
	bool ctrl;
	struct qb_send_span sp;
	struct qb_ctrl_frame f;
};

static void
hostile_run(uint64_t seed, bool server)
{
	struct qb_stream_pools p;
	struct qb_streams_config cfg = {
	        .is_server = server,
	        .local = {.max_data = 30000,
	                  .max_stream_data_bidi_local = 6000,
	                  .max_stream_data_bidi_remote = 6000,
	                  .max_stream_data_uni = 6000,
	                  .max_streams_bidi = 6,
	                  .max_streams_uni = 6},
	        .max_stream_window = 24000,
	        .max_conn_window = 60000,
	        .send_buffer_max = 5000,
	        .max_local_streams = 8,
	};
	struct qb_stream_params peer = cfg.local;
	static struct rec recs[256];
	static uint8_t data[3000];
	size_t nrec = 0;
	struct qb_streams *m;
	uint64_t terr, now = 0;

	rng_state = seed;
	/* A pool small enough to run dry now and then. */
	cr_assert_eq(qb_stream_pools_init(&p, 256, 50, 16), 0);
	m = qb_streams_create(&p, &cfg);
	cr_assert_not_null(m);
	qb_streams_set_rtt(m, 50);
	cr_assert_eq(qb_streams_set_peer_params(m, &peer, &terr), 0);
	for (int step = 0; step < 4000; step++) {
		/* Stream IDs of every type, mostly small, some far. */
		uint64_t id = (rnd(10) == 0 ? rnd(64) : rnd(10)) << 2 | rnd(4);
		uint64_t off = rnd(8) == 0 ? rnd(1ull << 62) : rnd(8000);
		uint64_t len = rnd(3) == 0 ? 0 : rnd(sizeof(data));
		int rc = 0;
		terr = 0;
		now += rnd(30);
		switch (rnd(16)) {
		case 0:
		case 1:
		case 2:
		case 3:
			rc = qb_streams_on_stream(m, id, off, data, (size_t)len, rnd(4) == 0,
			                          &terr);
			break;
		case 4:
			rc = qb_streams_on_reset_stream(m, id, rnd(100), rnd(9000), &terr);
			break;
		case 5:
			rc = qb_streams_on_stop_sending(m, id, rnd(100), &terr);
			break;
		case 6:
			rc = qb_streams_on_max_stream_data(m, id, rnd(20000), &terr);
			break;
		case 7:
			rc = qb_streams_on_max_data(m, rnd(100000));
			if (rnd(2))
				rc = qb_streams_on_max_streams(m, rnd(2), rnd(20), &terr);
			else
				rc = qb_streams_on_stream_data_blocked(m, id, rnd(100), &terr);
			break;
		case 8: {
			struct qb_read_span r;
			if (qb_streams_read_peek(m, id, &r) == 0 && r.len > 0)
				cr_assert_eq(
				        qb_streams_read_consume(m, id, (size_t)rnd(r.len + 1), now),
				        0);
			else if (qb_streams_read_peek(m, id, &r) == 0 && r.fin && !r.reset)
				qb_streams_read_consume(m, id, 0, now);
			break;
		}
		case 9: {
			int64_t w = qb_streams_write(m, id, data, (size_t)rnd(sizeof(data)),
			                             rnd(5) == 0);
			cr_assert(w >= 0 || w == QB_ERR_STATE || w == QB_ERR_NOMEM);
			uint64_t nid;
			int o = qb_streams_open(m, rnd(2), &nid);
			cr_assert(o == 0 || o == QB_ERR_STATE || o == QB_ERR_NOMEM);
			break;
		}
		case 10:
			if (rnd(2))
				qb_streams_reset(m, id, rnd(50));
			else
				qb_streams_stop_sending(m, id, rnd(50));
			break;
		case 11:
		case 12: {
			/* Transmit: spans and control frames into the record table. */
			struct rec r = {0};
			while (nrec < 256 && qb_streams_ctrl_peek(m, &r.f)) {
				qb_streams_ctrl_sent(m, &r.f);
				r.ctrl = true;
				recs[nrec++] = r;
			}
			r.ctrl = false;
			while (nrec < 256 && qb_streams_send_peek(m, 1 + rnd(1400), &r.sp)) {
				qb_streams_send_commit(m, &r.sp);
				recs[nrec++] = r;
			}
			break;
		}
		default:
			/* Acknowledge or lose a random record. */
			if (nrec > 0) {
				size_t k = (size_t)rnd(nrec);
				struct rec r = recs[k];
				recs[k] = recs[--nrec];
				if (r.ctrl && rnd(2))
					qb_streams_ctrl_acked(m, &r.f);
				else if (r.ctrl)
					qb_streams_ctrl_lost(m, &r.f);
				else if (rnd(2))
					qb_streams_on_data_acked(m, r.sp.stream_id, r.sp.offset,
					                         r.sp.len, r.sp.fin);
				else
					qb_streams_on_data_lost(m, r.sp.stream_id, r.sp.offset,
					                        r.sp.len, r.sp.fin);
			}
			break;
		}
		check_code(rc, terr);
		check_invariants(m, &p);
		uint64_t eid;
		unsigned ev;
		while (qb_streams_next_event(m, &eid, &ev))
			cr_assert(ev != 0 && (ev & ~7u) == 0);
	}
	qb_streams_destroy(m);
	cr_assert_eq(p.chunks.in_use, 0);
	cr_assert_eq(p.streams.in_use, 0);
	qb_stream_pools_fini(&p);
}

Test(hostile, random_frames_and_calls_keep_invariants, .timeout = 60)
{
	for (uint64_t seed = 1; seed <= 200; seed++)
		hostile_run(seed * 0x9E3779B97F4A7C15ull, seed & 1);
}
