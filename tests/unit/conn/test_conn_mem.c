/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a connection holds (engine/conn/conn_mem.c, sized keys): once the
 * handshake is confirmed the Initial and Handshake keys and sent rings are
 * gone (RFC 9001 §4.9), the 1-RTT keys are sized for their backend and the
 * recovery memory is at its starting size; a transfer grows the rings up
 * to max_sent_packets and no further, and arrives exact; key updates free
 * the keys they replace. Reads the connection's private layout on purpose.
 */
#include "conn/conn_internal.h"
#include "stream/stream_internal.h"
#include "xfer.h"

static struct xfer x;

static uint32_t
ring_cap(const struct qb_conn *c, int ep)
{
	return c->rec.space[ep].sent.mask + 1;
}

static void
check_idle_after_handshake(const struct qb_conn *c)
{
	for (int ep = CONN_EP_INITIAL; ep <= CONN_EP_HANDSHAKE; ep++) {
		cr_assert(c->discarded[ep]);
		cr_assert_null(c->rxk[ep]);
		cr_assert_null(c->txk[ep]);
		cr_assert_null(c->sent_store[ep], "ring of space %d not freed", ep);
		cr_assert_eq(ring_cap(c, ep), 1);
	}
	cr_assert(qb_crypto_key_present(c->rxk[CONN_EP_APP]));
	cr_assert(qb_crypto_key_present(c->txk[CONN_EP_APP]));
	cr_assert_lt(qb_crypto_key_footprint(c->txk[CONN_EP_APP]), sizeof(struct qb_crypto_key));
	cr_assert_null(c->rx_next);
	cr_assert_null(c->token);
	cr_assert_eq(ring_cap(c, CONN_EP_APP), CONN_SENT_START);
	cr_assert_eq(c->frec_cap, CONN_FREC_START);
	cr_assert(c->tls == NULL || qb_tls_released(c->tls));
}

Test(conn_mem, confirmed_connection_holds_only_1rtt_state)
{
	struct h_pair p;

	h_init(&p, 500);
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL), "handshake");
	/* Let the last ACKs and HANDSHAKE_DONE settle. */
	h_run(&p, 1000 * H_MS, NULL, NULL);
	check_idle_after_handshake(p.s);
	check_idle_after_handshake(p.c);
	h_fini(&p);
}

Test(conn_mem, rings_grow_to_max_sent_packets_and_no_further, .timeout = 120)
{
	struct h_pair p;

	h_init(&p, 501);
	p.cfg_c.max_sent_packets = p.cfg_s.max_sent_packets = 64;
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL), "handshake");
	cr_assert_eq(ring_cap(p.c, CONN_EP_APP), CONN_SENT_START);
	x_run(&p, &x, 4u << 20, 1, 120000 * H_MS);
	/* The 100 Mbit/s, 20 ms path holds ~170 packets and nothing is lost:
	 * the window outgrows the ring, which filled up to its bound, the
	 * frame records with it, and stopped there. */
	cr_assert_eq(ring_cap(p.c, CONN_EP_APP), 64);
	cr_assert_gt(p.c->frec_cap, CONN_FREC_START);
	cr_assert_leq(p.c->frec_cap, 64 * 4 + 2 * CONN_HS_SENT_CAP * 4);
	h_fini(&p);
}

/* Asks the client for a key update every 300 simulated ms. */
static bool
step_updates(struct h_pair *p, void *arg)
{
	static uint64_t last;
	if (p->s != NULL && qb_conn_handshake_complete(p->c) && p->now - last > 300 * H_MS) {
		last = p->now;
		qb_conn_key_update(p->c);
	}
	return x_step(p, arg);
}

Test(conn_mem, key_updates_keep_two_sized_keys, .timeout = 120)
{
	struct h_pair p;
	struct qb_conn_stats cs, ss;

	h_init(&p, 502);
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL), "handshake");
	memset(&x, 0, sizeof(x));
	x.size = 4u << 20;
	x.nstreams = 1;
	cr_assert(h_run(&p, 120000 * H_MS, step_updates, &x), "transfer");
	cr_assert_eq(x.bad, 0);
	qb_conn_stats(p.c, &cs);
	qb_conn_stats(p.s, &ss);
	cr_assert_geq(cs.key_updates, 2, "client updates: %lu", (unsigned long)cs.key_updates);
	cr_assert_geq(ss.key_updates, 2, "server updates: %lu", (unsigned long)ss.key_updates);
	/* Each side: one current key per direction, the next receive key only
	 * between its derivation and the peer's first packet of that phase. */
	for (int side = 0; side < 2; side++) {
		const struct qb_conn *c = side ? p.s : p.c;
		cr_assert(qb_crypto_key_present(c->rxk[CONN_EP_APP]));
		cr_assert(qb_crypto_key_present(c->txk[CONN_EP_APP]));
		cr_assert_neq(c->rxk[CONN_EP_APP], c->txk[CONN_EP_APP]);
		cr_assert(c->rx_next == NULL || c->rx_next != c->rxk[CONN_EP_APP]);
	}
	h_fini(&p);
}

static uint32_t
table_slots(const struct qb_conn *c)
{
	return c->streams->mask + 1;
}

/* Nothing on the link and no timer but the idle timeout within a second. */
static bool
step_quiet(struct h_pair *p, void *arg)
{
	(void)arg;
	h_flush(p, p->c, &p->to_s);
	h_flush(p, p->s, &p->to_c);
	return qb_sim_next_delivery(p->sim) == UINT64_MAX &&
	       qb_conn_deadline(p->c) > p->now + 1000 * H_MS &&
	       qb_conn_deadline(p->s) > p->now + 1000 * H_MS;
}

/* The client reads the server's FINs: every stream of the transfer closes. */
static bool
step_fins(struct h_pair *p, void *arg)
{
	uint32_t *fins = arg;
	uint64_t id;
	unsigned ev;
	uint8_t b[16];

	while (qb_conn_stream_next_event(p->c, &id, &ev)) {
		bool fin = false;
		if ((ev & QB_STREAM_EV_READABLE) &&
		    qb_conn_stream_read(p->c, id, b, sizeof(b), &fin, NULL, p->now) == 0 && fin)
			(*fins)++;
	}
	return *fins == x.nstreams;
}

static void
close_streams(struct h_pair *p)
{
	uint32_t fins = 0;

	for (uint32_t i = 0; i < x.nstreams; i++)
		cr_assert_eq(qb_conn_stream_write(p->s, x.st[i].id, NULL, 0, true), 0);
	cr_assert(h_run(p, 10000 * H_MS, step_fins, &fins), "%u FINs read", fins);
}

/* Idle after a transfer: qb_conn_trim() gives back what it grew, once. */
static void
check_trimmed(struct qb_conn *c, uint64_t now)
{
	const struct qb_sent_ring *r = &c->rec.space[CONN_EP_APP].sent;
	size_t freed = qb_conn_trim(c, now);

	cr_assert_gt(freed, 0);
	/* Only ACK-only packets were left: forgotten, and the empty ring parked. */
	cr_assert_eq(r->head, r->tail, "%lu records held", (unsigned long)(r->head - r->tail));
	cr_assert_null(c->sent_store[CONN_EP_APP]);
	cr_assert_eq(ring_cap(c, CONN_EP_APP), 1);
	cr_assert_eq(c->frec_cap, 0, "no frame record held: none kept");
	cr_assert_eq(table_slots(c), 1, "no stream open: no table (one shared empty slot)");
	cr_assert_eq(qb_conn_trim(c, now), 0, "nothing left to trim");
}

Test(conn_mem, trim_gives_back_what_a_transfer_grew, .timeout = 120)
{
	struct h_pair p;

	h_init(&p, 503);
	p.cfg_c.max_sent_packets = p.cfg_s.max_sent_packets = 256;
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL), "handshake");
	/* 40 streams at once grow the stream tables past their 16 slots. */
	x_run(&p, &x, 256u << 10, 40, 120000 * H_MS);
	cr_assert_gt(ring_cap(p.c, CONN_EP_APP), CONN_SENT_START);
	cr_assert_gt(p.c->frec_cap, CONN_FREC_START);
	cr_assert_gt(table_slots(p.s), QB_STREAMS_TABLE_START);
	cr_assert_gt(table_slots(p.c), QB_STREAMS_TABLE_START);
	close_streams(&p);
	cr_assert(h_run(&p, 2000 * H_MS, step_quiet, NULL), "the last ACKs");
	cr_assert_eq(qb_streams_count(p.s->streams), 0);
	cr_assert_eq(qb_streams_count(p.c->streams), 0);
	check_trimmed(p.s, p.now);
	check_trimmed(p.c, p.now);
	/* Everything regrows for the next transfer, which arrives exact. */
	x_run(&p, &x, 1u << 20, 40, 120000 * H_MS);
	cr_assert_gt(ring_cap(p.c, CONN_EP_APP), CONN_SENT_IDLE);
	cr_assert_gt(p.c->frec_cap, 0);
	cr_assert_gt(table_slots(p.s), QB_STREAMS_TABLE_START);
	h_fini(&p);
}

/* Trims at every step of a transfer: a no-op while busy, never harmful. */
static bool
step_trim(struct h_pair *p, void *arg)
{
	struct xfer *xf = arg;

	if (p->s != NULL) {
		qb_conn_trim(p->s, p->now);
		qb_conn_trim(p->c, p->now);
	}
	return x_step(p, xf);
}

Test(conn_mem, trim_at_any_time_keeps_transfers_exact, .timeout = 120)
{
	struct h_pair p;
	struct qb_conn_stats cs;

	h_init(&p, 504);
	p.cfg_c.max_sent_packets = p.cfg_s.max_sent_packets = 128;
	h_start(&p);
	memset(&x, 0, sizeof(x));
	x.size = 512u << 10;
	x.nstreams = 8;
	cr_assert(h_run(&p, 120000 * H_MS, step_trim, &x), "transfer");
	cr_assert_eq(x.bad, 0);
	cr_assert_eq(x.finished, 8);
	qb_conn_stats(p.c, &cs);
	cr_assert_gt(cs.pkts_recv, 0);
	h_fini(&p);
}

/*
 * Records a trim cannot forget (here: an ACK-only packet marked in flight,
 * as a padded one would be) keep their frame records, packed into a table
 * of exactly their number, each packet's list intact.
 */
Test(conn_mem, trim_packs_frame_records_still_held, .timeout = 120)
{
	struct h_pair p;
	struct qb_sent_ring *r;
	static struct conn_frec before[4096];
	uint32_t n = 0, k = 0, first = 0;

	h_init(&p, 505);
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL), "handshake");
	x_run(&p, &x, 512u << 10, 4, 120000 * H_MS);
	cr_assert(h_run(&p, 2000 * H_MS, step_quiet, NULL), "the last ACKs");
	/* The receiver's last ACK-only packets are still recorded. */
	r = &p.s->rec.space[CONN_EP_APP].sent;
	for (uint64_t seq = r->tail; seq < r->head; seq++) {
		struct qb_sent_pkt *sp = &r->slots[seq & r->mask];
		if (sp->flags & QB_SENT_REMOVED)
			continue;
		if (first++ == 0)
			sp->flags |= QB_SENT_IN_FLIGHT;
		for (uint32_t i = sp->frames; i != 0; i = p.s->frec[i - 1].next)
			before[n++] = p.s->frec[i - 1];
	}
	cr_assert_gt(n, 0, "no ACK-only packet left to test with");
	cr_assert_eq(n, p.s->frec_used);
	cr_assert_gt(p.s->frec_cap, n);
	cr_assert_gt(qb_conn_trim(p.s, p.now), 0);
	cr_assert_eq(p.s->frec_cap, n);
	cr_assert_eq(p.s->frec_used, n);
	for (uint64_t seq = r->tail; seq < r->head; seq++) {
		struct qb_sent_pkt *sp = &r->slots[seq & r->mask];
		if (sp->flags & QB_SENT_REMOVED)
			continue;
		for (uint32_t i = sp->frames; i != 0; i = p.s->frec[i - 1].next, k++) {
			cr_assert_lt(k, n);
			cr_assert_eq(p.s->frec[i - 1].kind, before[k].kind);
			cr_assert_eq(p.s->frec[i - 1].offset, before[k].offset);
		}
	}
	cr_assert_eq(k, n, "every record found again");
	/* Undo the test's mark; the connection goes on, exact. */
	for (uint64_t seq = r->tail; seq < r->head; seq++)
		r->slots[seq & r->mask].flags &= (uint8_t)~QB_SENT_IN_FLIGHT;
	x_run(&p, &x, 512u << 10, 4, 120000 * H_MS);
	h_fini(&p);
}
