/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The building blocks wired as a connection will wire them: a sender with
 * qb_recovery + qb_cc + qb_pacer and a receiver with qb_rx, over a simulated
 * bottleneck (rate, one-way delay, drop-tail queue, random loss) on a fake
 * clock. Data is retransmitted from "frame records" (chunk ids) reported
 * lost; the receiver's ACK-only packets are tracked so that an acknowledged
 * ACK prunes its ranges (RFC 9000 §13.2.4), and the sender piggybacks ACKs.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "qburst/cc.h"
#include "qburst/recovery.h"

#define US       1000ull
#define MS       1000000ull
#define MDS      1200
#define CHUNKS   4000 /* 4.8 MB */
#define RING     4096
#define LINK_Q   4096
#define RATE_BPS (10000000ull / 8) /* 10 Mbit/s bottleneck, bytes per second */
#define DELAY    (10 * MS)         /* one way */
#define QLIMIT   (60 * MS)         /* drop-tail: at most this much queued */

struct pkt {
	uint64_t arrive;
	uint64_t pn;
	int32_t chunk; /* -1: no data */
	uint32_t nr;   /* ACK ranges, 0: no ACK frame */
	struct qb_pn_range r[8];
	uint64_t ack_delay_field;
};

struct link {
	struct pkt q[LINK_Q];
	uint32_t head, tail;
	uint64_t free_at; /* when the bottleneck is idle again */
};

static struct link to_rx, to_tx;
static struct qb_sent_pkt tx_ring[3][RING], rx_ring[3][RING];
static struct qb_pn_range tx_rxr[32], rx_rxr[32];

/* Sender */
static struct qb_recovery tx_rec;
static struct qb_rtt tx_rtt;
static struct qb_cc tx_cc;
static struct qb_pacer tx_pacer;
static struct qb_rx_space tx_rx; /* what the sender received (ACK-only packets) */
static uint8_t chunk_acked[CHUNKS];
static int32_t retx[8 * CHUNKS];
static uint32_t retx_head, retx_tail, next_chunk;
static uint64_t tx_pn, retransmits;

/* Receiver */
static struct qb_recovery rx_rec;
static struct qb_rtt rx_rtt;
static struct qb_cc rx_cc;
static struct qb_rx_space rx_rx;
static uint8_t chunk_got[CHUNKS];
static uint32_t got;
static uint64_t rx_pn;
static uint32_t loss_pct;

static void
tx_on_acked(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	if (p->frames != UINT32_MAX)
		chunk_acked[p->frames] = 1;
}

static void
tx_on_lost(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	/* RFC 9002 §6: the frames go again, in a new packet. */
	if (p->frames != UINT32_MAX && !chunk_acked[p->frames])
		retx[retx_tail++ % (8 * CHUNKS)] = (int32_t)p->frames;
}

static void
rx_on_acked(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	/* Our ACK frame (Largest Acknowledged in frames) reached the sender. */
	qb_rx_on_ack_acked(&rx_rx, p->frames);
}

static void
link_send(struct link *l, const struct pkt *p, uint64_t now, bool bottleneck, uint32_t loss_pct)
{
	uint64_t start = now;

	if (bottleneck) {
		if (l->free_at > now + QLIMIT)
			return; /* queue full: drop tail */
		start = l->free_at > now ? l->free_at : now;
		l->free_at = start + (uint64_t)MDS * 1000000000ull / RATE_BPS;
	}
	if ((uint32_t)rand() % 100 < loss_pct)
		return;
	cr_assert_lt(l->tail - l->head, LINK_Q, "link model overflow");
	l->q[l->tail % LINK_Q] = *p;
	l->q[l->tail % LINK_Q].arrive = (bottleneck ? l->free_at : start) + DELAY;
	l->tail++;
}

static bool
link_recv(struct link *l, uint64_t now, struct pkt *out)
{
	if (l->head == l->tail || l->q[l->head % LINK_Q].arrive > now)
		return false;
	*out = l->q[l->head++ % LINK_Q];
	return true;
}

static void
add_ack(struct qb_rx_space *rx, struct pkt *p, uint64_t now)
{
	p->nr = qb_rx_ack_ranges(rx, p->r, 8);
	p->ack_delay_field = qb_rx_ack_delay_field(rx, now);
	if (p->nr > 0)
		qb_rx_on_ack_sent(rx);
}

static void
process_ack(struct qb_recovery *rec, const struct pkt *p, uint64_t now)
{
	struct qb_ack_info a = {.ranges = p->r,
	                        .nranges = p->nr,
	                        .ack_delay = qb_ack_delay_decode(p->ack_delay_field, 3)};

	if (p->nr > 0)
		cr_assert_eq(qb_recovery_on_ack_received(rec, QB_PN_APP, &a, now), 0);
}

static void
tx_send(int32_t chunk, uint64_t now, bool probe)
{
	struct pkt p = {.pn = tx_pn++, .chunk = chunk};
	struct qb_sent_info si = {.pn = p.pn,
	                          .size = MDS,
	                          .frames = chunk < 0 ? UINT32_MAX : (uint32_t)chunk,
	                          .ack_eliciting = true,
	                          .in_flight = true};

	if (tx_rx.ack_pending)
		add_ack(&tx_rx, &p, now); /* piggyback (RFC 9000 §13.2.1) */
	cr_assert_eq(qb_recovery_on_packet_sent(&tx_rec, QB_PN_APP, &si, now), 0);
	if (!probe)
		qb_pacer_on_sent(&tx_pacer, MDS, now);
	link_send(&to_rx, &p, now, true, loss_pct);
}

static int32_t
next_data(void)
{
	while (retx_head != retx_tail) {
		int32_t c = retx[retx_head++ % (8 * CHUNKS)];

		if (!chunk_acked[c]) {
			retransmits++;
			return c;
		}
	}
	return next_chunk < CHUNKS ? (int32_t)next_chunk++ : -1;
}

static uint64_t
simulate(const char *algo)
{
	struct qb_sent_pkt *const ts[3] = {tx_ring[0], tx_ring[1], tx_ring[2]};
	struct qb_sent_pkt *const rs[3] = {rx_ring[0], rx_ring[1], rx_ring[2]};
	const uint32_t cap[3] = {RING, RING, RING};
	struct qb_recovery_config tcfg = {.is_server = true, .max_ack_delay = 25 * MS};
	struct qb_recovery_config rcfg = {.is_server = false, .max_ack_delay = 25 * MS};
	struct qb_recovery_cb tcb = {.on_acked = tx_on_acked, .on_lost = tx_on_lost};
	struct qb_recovery_cb rcb = {.on_acked = rx_on_acked};
	uint64_t now = 0;
	struct pkt p;

	memset(&to_rx, 0, sizeof(to_rx));
	memset(&to_tx, 0, sizeof(to_tx));
	memset(chunk_acked, 0, sizeof(chunk_acked));
	memset(chunk_got, 0, sizeof(chunk_got));
	retx_head = retx_tail = next_chunk = got = 0;
	tx_pn = rx_pn = retransmits = 0;
	srand(7);

	cr_assert_eq(qb_recovery_init(&tx_rec, &tcfg, ts, cap, &tcb), 0);
	qb_rtt_init(&tx_rtt, 0);
	cr_assert_eq(qb_cc_init(&tx_cc, algo, MDS, 0), 0);
	cr_assert_eq(qb_pacer_init(&tx_pacer, MDS, 10, 0), 0);
	qb_recovery_set_path(&tx_rec, &tx_rtt, &tx_cc);
	qb_recovery_set_handshake_confirmed(&tx_rec, 0);
	cr_assert_eq(qb_rx_init(&tx_rx, tx_rxr, 32, 25 * MS, 3), 0);

	cr_assert_eq(qb_recovery_init(&rx_rec, &rcfg, rs, cap, &rcb), 0);
	qb_rtt_init(&rx_rtt, 0);
	cr_assert_eq(qb_cc_init(&rx_cc, "newreno", MDS, 0), 0);
	qb_recovery_set_path(&rx_rec, &rx_rtt, &rx_cc);
	qb_recovery_set_handshake_confirmed(&rx_rec, 0);
	cr_assert_eq(qb_rx_init(&rx_rx, rx_rxr, 32, 25 * MS, 3), 0);

	while (got < CHUNKS) {
		cr_assert_lt(now, 60000 * MS, "transfer stalled: %u of %u chunks", got, CHUNKS);
		/* Receiver: data in, ACKs out. */
		while (link_recv(&to_rx, now, &p)) {
			if (qb_rx_is_duplicate(&rx_rx, p.pn))
				continue;
			process_ack(&rx_rec, &p, now);
			if (p.chunk >= 0 && !chunk_got[p.chunk]) {
				chunk_got[p.chunk] = 1;
				got++;
			}
			cr_assert_eq(qb_rx_on_packet(&rx_rx, p.pn, true, QB_ECN_NOT_ECT, now), 0);
		}
		if (qb_rx_ack_due(&rx_rx, now)) {
			struct pkt a = {.pn = rx_pn++, .chunk = -1};
			struct qb_sent_info si = {.pn = a.pn, .size = 50, .in_flight = false};

			add_ack(&rx_rx, &a, now);
			si.frames = (uint32_t)a.r[0].hi;
			/* An ACK-only packet goes out even when it cannot be tracked. */
			(void)qb_recovery_on_packet_sent(&rx_rec, QB_PN_APP, &si, now);
			link_send(&to_tx, &a, now, false, loss_pct);
		}
		if (qb_recovery_timer(&rx_rec) <= now)
			qb_recovery_on_timeout(&rx_rec, now);

		/* Sender: ACKs in, timers, then data while cwnd and pacer allow. */
		while (link_recv(&to_tx, now, &p)) {
			if (qb_rx_is_duplicate(&tx_rx, p.pn))
				continue;
			process_ack(&tx_rec, &p, now);
			qb_rx_on_packet(&tx_rx, p.pn, false, QB_ECN_NOT_ECT, now);
			qb_pacer_set_rate(&tx_pacer, tx_cc.cwnd, tx_rtt.smoothed, now);
		}
		if (qb_recovery_timer(&tx_rec) <= now) {
			enum qb_ld_event ev = qb_recovery_on_timeout(&tx_rec, now);

			if (ev == QB_LD_PTO) {
				/* Probes: not blocked by cwnd nor the pacer (§7.5). */
				while (qb_recovery_probes(&tx_rec, QB_PN_APP) > 0) {
					int32_t c = next_data();

					tx_send(c, now, true);
				}
			}
		}
		while (qb_cc_can_send(&tx_cc) && qb_pacer_next_send_time(&tx_pacer, now) <= now &&
		       qb_recovery_can_send(&tx_rec, QB_PN_APP)) {
			int32_t c = next_data();

			if (c < 0)
				break;
			tx_send(c, now, false);
		}
		now += 100 * US;
	}
	return now;
}

static void
check(const char *algo, uint32_t loss, double min_share)
{
	uint64_t t;
	double goodput;

	loss_pct = loss;
	t = simulate(algo);
	goodput = (double)CHUNKS * MDS / ((double)t / 1e9);
	cr_log_info("%s, %u%% loss: %u chunks in %.2f s: %.2f Mbit/s of 10, %lu retransmits, "
	            "%lu lost, %lu congestion events, %lu PTOs, srtt %.1f ms, cwnd %lu",
	            algo, loss, CHUNKS, (double)t / 1e9, goodput * 8 / 1e6,
	            (unsigned long)retransmits, (unsigned long)tx_rec.lost_count,
	            (unsigned long)tx_cc.congestion_events, (unsigned long)tx_rec.pto_fired,
	            (double)tx_rtt.smoothed / 1e6, (unsigned long)tx_cc.cwnd);
	cr_assert_gt(goodput, min_share * RATE_BPS, "goodput %.0f B/s", goodput);
	cr_assert_leq(retransmits, tx_rec.lost_count + 2 * tx_rec.pto_fired,
	              "only what was declared lost (or probed) is sent again");
	cr_assert_geq(tx_rtt.min, 2 * DELAY, "min_rtt >= the path's delay");
	cr_assert_leq(tx_rtt.min, 2 * DELAY + 2 * MS);
	/* The receiver pruned what the sender saw acknowledged. */
	cr_assert_gt(rx_rx.floor, 0, "ACK of ACK pruned the receiver's ranges");
}

/* No random loss: only the drop-tail queue signals congestion. */
Test(sim, newreno_clean_bottleneck, .timeout = 60)
{
	check("newreno", 0, 0.8);
	cr_assert_gt(tx_cc.congestion_events, 0, "slow start overflowed the queue");
}

Test(sim, cubic_clean_bottleneck, .timeout = 60)
{
	check("cubic", 0, 0.8);
}

Test(sim, newreno_1pct_loss, .timeout = 60)
{
	check("newreno", 1, 0.3);
	cr_assert_gt(tx_rec.lost_count, 0);
}

Test(sim, cubic_1pct_loss, .timeout = 60)
{
	check("cubic", 1, 0.3);
	cr_assert_gt(tx_rec.lost_count, 0);
}

/* Heavy loss, ACKs lost too: slow, but every byte arrives. */
Test(sim, cubic_10pct_loss_completes, .timeout = 60)
{
	check("cubic", 10, 0.02);
}
