/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loss recovery over several paths sharing one packet number space
 * (qb_recovery_set_path_rtt, recovery.h): RFC 9002 §6.1's thresholds applied
 * per path, RTT samples per path, the PTO of a space over its paths, the
 * packet number length (RFC 9000 §17.1) and the receiver's duplicate floor.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "qburst/cc.h"
#include "qburst/recovery.h"
#include "qburst/varint.h"

#define MS  1000000ull
#define MDS 1200
#define CAP 256

static struct qb_sent_pkt st[QB_PN_SPACE_COUNT][CAP];
static struct qb_recovery rec;
static struct qb_rtt rtt0, rtt1; /* path 0 (the connection's), path 1 (its own) */
static struct qb_cc cc;

static struct {
	uint32_t acked, lost, forgotten;
	uint64_t lost_pn[CAP];
	uint8_t lost_path[CAP];
	uint64_t forgotten_pn;
} seen;

static void
on_acked(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	(void)p;
	seen.acked++;
}

static void
on_lost(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	seen.lost_path[seen.lost % CAP] = p->path;
	seen.lost_pn[seen.lost++ % CAP] = p->pn;
}

static void
on_discarded(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	seen.forgotten++;
	seen.forgotten_pn = p->pn;
}

/* A confirmed server connection; path 1 has an estimator of its own. */
static void
setup(void)
{
	struct qb_sent_pkt *const storage[QB_PN_SPACE_COUNT] = {st[0], st[1], st[2]};
	const uint32_t cap[QB_PN_SPACE_COUNT] = {CAP, CAP, CAP};
	struct qb_recovery_config cfg = {.is_server = true, .max_ack_delay = 25 * MS};
	struct qb_recovery_cb cb = {on_acked, on_lost, on_discarded, NULL};

	memset(&seen, 0, sizeof(seen));
	cr_assert_eq(qb_recovery_init(&rec, &cfg, storage, cap, &cb), 0);
	qb_rtt_init(&rtt0, 0);
	qb_rtt_init(&rtt1, 0);
	cr_assert_eq(qb_cc_init(&cc, "newreno", MDS, 0), 0);
	qb_recovery_set_path(&rec, &rtt0, &cc);
	cr_assert_eq(qb_recovery_set_path_rtt(&rec, 1, &rtt1), 0);
	qb_recovery_set_handshake_confirmed(&rec, 0);
}

static void
send(uint64_t pn, uint8_t path, uint64_t now)
{
	struct qb_sent_info si = {
	        .pn = pn, .size = MDS, .ack_eliciting = true, .in_flight = true, .path = path};

	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, now), 0, "send pn %lu",
	             (unsigned long)pn);
}

/* ACK of ranges given as lo, hi pairs, largest first. */
static int
ack(const struct qb_pn_range *r, uint32_t n, uint64_t delay, uint64_t now)
{
	struct qb_ack_info a = {.ranges = r, .nranges = n, .ack_delay = delay};

	return qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, now);
}

static int
ack1(uint64_t lo, uint64_t hi, uint64_t delay, uint64_t now)
{
	struct qb_pn_range r = {lo, hi};

	return ack(&r, 1, delay, now);
}

static bool
was_lost(uint64_t pn)
{
	for (uint32_t i = 0; i < seen.lost; i++)
		if (seen.lost_pn[i] == pn)
			return true;
	return false;
}

Test(mp_args, path_ids_are_bounded, .init = setup)
{
	struct qb_sent_info si = {.pn = 0, .size = MDS, .ack_eliciting = true};

	si.path = QB_RECOVERY_MAX_PATHS;
	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, 0), QB_ERR_ARG);
	cr_assert_eq(qb_recovery_set_path_rtt(&rec, QB_RECOVERY_MAX_PATHS, &rtt1), QB_ERR_ARG);
	cr_assert_eq(sizeof(struct qb_sent_pkt), 32, "the path id costs no record space");
}

/*
 * Packet threshold (§6.1.1) per path: pn 0 went on the slow path 1, pns 1-5
 * on path 0; an ACK of 1-5 declares nothing lost (with one path, 0, 1 and 2
 * would be), and pn 0 is acknowledged when it arrives.
 */
Test(mp_loss, other_paths_acks_do_not_condemn_a_packet, .init = setup)
{
	send(0, 1, 0);
	for (uint64_t pn = 1; pn < 6; pn++)
		send(pn, 0, pn * 1000);
	cr_assert_eq(ack1(1, 5, 0, 20 * MS), 0);
	cr_assert_eq(seen.lost, 0, "pn 0 (path 1) declared lost by path 0's ACKs");
	cr_assert_eq(seen.acked, 5);
	cr_assert_eq(rec.space[QB_PN_APP].path[0].largest_acked, 5);
	cr_assert_eq(rec.space[QB_PN_APP].path[1].largest_acked, QB_PN_NONE);
	cr_assert_eq(rec.space[QB_PN_APP].largest_acked, 5, "the space's (pn encoding) is kept");
	cr_assert_eq(cc.congestion_events, 0);
	/* Path 1 has no acknowledged packet: pn 0 is judged against path 0's
	 * (sent later) by path 1's PTO period (kInitialRtt: no sample yet). */
	uint64_t pto1 = qb_rtt_pto_base(&rtt1) + 25 * MS;
	cr_assert_eq(pto1, 333 * MS + 4 * (333 * MS / 2) + 25 * MS);
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, pto1);
	cr_assert_eq(qb_recovery_timer(&rec), pto1);
	struct qb_pn_range r[2] = {{1, 5}, {0, 0}};
	cr_assert_eq(ack(r, 2, 0, 50 * MS), 0);
	cr_assert_eq(seen.acked, 6);
	cr_assert_eq(seen.lost, 0);
	cr_assert_eq(cc.bytes_in_flight, 0);
}

/* The same sends on one path: RFC 9002 as before (0, 1, 2 lost). */
Test(mp_loss, one_path_keeps_rfc9002, .init = setup)
{
	for (uint64_t pn = 0; pn < 6; pn++)
		send(pn, 0, pn * 1000);
	cr_assert_eq(ack1(1, 5, 0, 20 * MS), 0);
	cr_assert_eq(seen.lost, 1, "only pn 0 is below 5 - 3 and unacknowledged");
	cr_assert(was_lost(0));
}

/* Within a path the packet threshold still applies, against that path's largest. */
Test(mp_loss, packet_threshold_within_a_path, .init = setup)
{
	for (uint64_t pn = 0; pn < 8; pn++)
		send(pn, (uint8_t)(pn & 1), pn * 1000); /* even: path 0, odd: path 1 */
	/* Path 1's 7 acknowledged: its 1 and 3 are 3+ below (7 >= pn + 3), 5 not. */
	cr_assert_eq(ack1(7, 7, 0, 20 * MS), 0);
	cr_assert_eq(seen.lost, 2);
	cr_assert(was_lost(1) && was_lost(3));
	cr_assert_eq(seen.lost_path[0], 1);
	cr_assert_eq(seen.lost_path[1], 1);
	cr_assert_not(was_lost(0), "path 0 has nothing acknowledged");
	cr_assert_not(was_lost(5));
	/* Path 0's 6 acknowledged: its 0 and 2 go, 4 waits for the time threshold. */
	cr_assert_eq(ack1(6, 7, 0, 21 * MS), 0);
	cr_assert_eq(seen.lost, 4);
	cr_assert(was_lost(0) && was_lost(2));
	cr_assert_not(was_lost(4));
	cr_assert_neq(rec.space[QB_PN_APP].loss_time, QB_TIME_NONE, "4 and 5 on the timer");
}

/*
 * RTT samples go to the path of the Largest Acknowledged, and the time
 * threshold (§6.1.2) uses the packet's own path's RTT.
 */
Test(mp_loss, time_threshold_uses_the_paths_rtt, .init = setup)
{
	send(0, 0, 0);
	cr_assert_eq(ack1(0, 0, 0, 20 * MS), 0);
	cr_assert_eq(rtt0.latest, 20 * MS);
	cr_assert(!rtt1.has_sample);
	send(1, 1, 20 * MS);
	cr_assert_eq(ack1(1, 1, 0, 120 * MS), 0);
	cr_assert_eq(rtt1.latest, 100 * MS, "path 1's packet samples path 1");
	cr_assert_eq(rtt0.latest, 20 * MS, "path 0's estimator untouched");

	send(2, 1, 200 * MS);
	send(3, 1, 201 * MS);
	send(4, 0, 202 * MS);
	cr_assert_eq(ack1(4, 4, 0, 222 * MS), 0);
	cr_assert_eq(seen.lost, 0, "path 0's ACK says nothing of path 1");
	struct qb_pn_range r[2] = {{4, 4}, {3, 3}};
	cr_assert_eq(ack(r, 2, 0, 290 * MS), 0);
	/* Path 1: samples 100 then 89 ms; smoothed 98.625 ms, latest 89 ms: pn 2
	 * (90 ms old) is within 9/8 * 98.625 ms = 110.953125 ms (with path 0's
	 * 20 ms RTT it would be lost: 22.5 ms). */
	cr_assert_eq(rtt1.smoothed, 98625000);
	cr_assert_eq(seen.lost, 0);
	uint64_t when = 200 * MS + 98625000 + 98625000 / 8;
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, when);
	cr_assert_eq(qb_recovery_timer(&rec), when);
	cr_assert_eq(qb_recovery_on_timeout(&rec, when - 1), QB_LD_NONE);
	cr_assert_eq(qb_recovery_on_timeout(&rec, when), QB_LD_LOST);
	cr_assert(was_lost(2));
	cr_assert_eq(seen.lost, 1);
}

/*
 * An ACK whose Largest Acknowledged is on path 0 also advances path 1's
 * largest: path 1 samples its own estimator from that packet, without the
 * frame's ACK Delay (measured from the largest's arrival).
 */
Test(mp_rtt, other_paths_sample_their_own_estimator, .init = setup)
{
	send(0, 1, 0);
	send(1, 0, 30 * MS);
	cr_assert_eq(ack1(0, 1, 5 * MS, 60 * MS), 0);
	cr_assert_eq(rtt0.latest, 30 * MS);
	cr_assert_eq(rtt1.latest, 60 * MS);
	cr_assert(rtt1.has_sample);
	/* Nothing new on path 1: no second sample. */
	send(2, 0, 70 * MS);
	cr_assert_eq(ack1(0, 2, 0, 100 * MS), 0);
	cr_assert_eq(rtt1.latest, 60 * MS);
	cr_assert_eq(rtt0.latest, 30 * MS);
	/* Paths without an estimator of their own share the connection's:
	 * it is sampled once per ACK, from the Largest Acknowledged only. */
	cr_assert_eq(qb_recovery_set_path_rtt(&rec, 1, NULL), 0);
	send(3, 1, 200 * MS);
	send(4, 0, 210 * MS);
	cr_assert_eq(ack1(3, 4, 0, 240 * MS), 0);
	cr_assert_eq(rtt0.latest, 30 * MS, "pn 4's sample, not pn 3's 40 ms");
}

/* A record neither ack-eliciting nor in flight, as a PATH_CHALLENGE probe. */
static void
send_probe(uint64_t pn, uint8_t path, uint64_t now)
{
	struct qb_sent_info si = {.pn = pn, .size = MDS, .path = path};

	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, now), 0);
}

/*
 * The stall of a multi-path transfer: path 1's first PATH_CHALLENGE is
 * lost, path 1 gets no acknowledgment of its own, and the ring (CAP records)
 * fills with path 0's packets behind the probe's record. Path 0's are all
 * acknowledged, nothing is in flight, yet the ring's tail cannot pass the
 * probe, so qb_recovery_can_send() would stay false for good. Not in
 * flight, the probe is forgotten (on_discarded: no loss, no congestion
 * signal) once kPacketThreshold packets behind the space's largest
 * acknowledged (§6.1.1), as with one path.
 */
Test(mp_loss, unacknowledged_probe_does_not_pin_the_ring, .init = setup)
{
	send_probe(0, 1, 0);
	for (uint64_t pn = 1; pn < CAP; pn++) {
		send(pn, 0, pn * 1000);
		if (pn % 2 == 0)
			cr_assert_eq(ack1(1, pn, 0, 20 * MS + pn * 1000), 0);
	}
	cr_assert_eq(seen.forgotten, 1, "the probe's record stays");
	cr_assert_eq(seen.forgotten_pn, 0);
	cr_assert_eq(seen.lost, 0);
	cr_assert_eq(rec.lost_count, 0);
	cr_assert_eq(cc.congestion_events, 0);
	cr_assert_eq(qb_recovery_outstanding(&rec, QB_PN_APP), 1, "pn %u only", CAP - 1);
	send(CAP, 0, 30 * MS);
	cr_assert(qb_recovery_can_send(&rec, QB_PN_APP));
	/* Not yet 3 packets behind: the time threshold, path 1's own RTT. */
	setup();
	send_probe(0, 1, 0);
	send(1, 0, 1000);
	cr_assert_eq(ack1(1, 1, 0, 20 * MS), 0);
	cr_assert_eq(seen.forgotten, 0);
	uint64_t when = (333 * MS) * 9 / 8; /* kInitialRtt, no sample on path 1 */
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, when);
	cr_assert_eq(qb_recovery_on_timeout(&rec, when - 1), QB_LD_NONE);
	cr_assert_eq(qb_recovery_on_timeout(&rec, when), QB_LD_LOST);
	cr_assert_eq(seen.forgotten, 1);
	cr_assert_eq(qb_recovery_outstanding(&rec, QB_PN_APP), 0);
	/* Below its own path's largest acknowledged: RFC 9002 §6.1, lost. */
	setup();
	send_probe(0, 1, 0);
	for (uint64_t pn = 1; pn < 4; pn++)
		send(pn, 1, pn * 1000);
	cr_assert_eq(ack1(1, 3, 0, 20 * MS), 0);
	cr_assert(was_lost(0));
	cr_assert_eq(seen.forgotten, 0);
	cr_assert_eq(cc.congestion_events, 0, "not in flight: no congestion signal");
}

/*
 * Path 1 goes dark after carrying data: its packets in flight have no
 * later packet of their own path acknowledged, and path 0's ACKs keep the
 * space's PTO from firing. Each is declared lost once its path's PTO period
 * has passed since it was sent, so its bytes leave the congestion window.
 */
Test(mp_loss, silent_path_in_flight_is_lost_after_its_pto, .init = setup)
{
	send(0, 0, 0);
	cr_assert_eq(ack1(0, 0, 0, 20 * MS), 0); /* path 0: 20 ms */
	send(1, 1, 20 * MS);
	cr_assert_eq(ack1(0, 1, 0, 120 * MS), 0); /* path 1: 100 ms */
	uint64_t pto1 = qb_rtt_pto_base(&rtt1) + 25 * MS;
	cr_assert_eq(pto1, 100 * MS + 200 * MS + 25 * MS);
	/* Path 1 dies; pns 2 and 3 on it, path 0 carries on every 10 ms. */
	send(2, 1, 200 * MS);
	send(3, 1, 210 * MS);
	uint64_t pn = 4, t;
	for (t = 220 * MS; t + 20 * MS < 200 * MS + pto1; t += 10 * MS) {
		send(pn, 0, t);
		cr_assert_eq(ack1(4, pn, 0, t + 20 * MS), 0);
		pn++;
	}
	cr_assert_eq(seen.lost, 0, "lost before its path's PTO period");
	cr_assert_eq(rec.space[QB_PN_APP].path[1].eliciting_in_flight, 2);
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, 200 * MS + pto1);
	cr_assert_eq(qb_recovery_timer(&rec), 200 * MS + pto1);
	cr_assert_eq(qb_recovery_on_timeout(&rec, 200 * MS + pto1), QB_LD_LOST);
	cr_assert_eq(seen.lost, 1);
	cr_assert(was_lost(2));
	cr_assert_eq(seen.lost_path[0], 1);
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, 210 * MS + pto1);
	/* The next ACK of path 0 past that time takes pn 3 too. */
	send(pn, 0, 210 * MS + pto1);
	cr_assert_eq(ack1(4, pn, 0, 230 * MS + pto1), 0);
	cr_assert(was_lost(3));
	cr_assert_eq(rec.space[QB_PN_APP].path[1].eliciting_in_flight, 0);
	cr_assert_eq(cc.bytes_in_flight, 0);
	cr_assert_eq(qb_recovery_outstanding(&rec, QB_PN_APP), 0);
}

/* §6.2.1: a space's PTO period is the largest of its paths' in flight. */
Test(mp_pto, slowest_path_in_flight_sets_the_period, .init = setup)
{
	send(0, 0, 0);
	cr_assert_eq(ack1(0, 0, 0, 20 * MS), 0); /* path 0: srtt 20, rttvar 10 */
	send(1, 1, 20 * MS);
	cr_assert_eq(ack1(1, 1, 0, 120 * MS), 0); /* path 1: srtt 100, rttvar 50 */
	uint64_t pto0 = qb_rtt_pto_base(&rtt0) + 25 * MS, pto1 = qb_rtt_pto_base(&rtt1) + 25 * MS;
	cr_assert_eq(pto0, 20 * MS + 40 * MS + 25 * MS);
	cr_assert_eq(pto1, 100 * MS + 200 * MS + 25 * MS);
	send(2, 0, 200 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 200 * MS + pto0, "only path 0 in flight");
	send(3, 1, 201 * MS);
	send(4, 0, 202 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 202 * MS + pto1, "path 1 in flight too");
	/* Path 1 empty again (pn 2 with it: unacknowledged here, it would be
	 * lost, its path's PTO period having passed since it was sent). */
	struct qb_pn_range r[2] = {{3, 3}, {2, 2}};
	cr_assert_eq(ack(r, 2, 0, 300 * MS), 0);
	cr_assert_eq(seen.lost, 0);
	cr_assert_eq(rec.space[QB_PN_APP].path[1].eliciting_in_flight, 0);
	cr_assert_eq(rec.space[QB_PN_APP].path[0].eliciting_in_flight, 1);
	pto0 = qb_rtt_pto_base(&rtt0) + 25 * MS; /* pn 2 sampled path 0 (100 ms) */
	cr_assert_eq(rtt0.latest, 100 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 202 * MS + pto0);
	cr_assert_eq(qb_recovery_pto(&rec, QB_PN_APP), pto0, "the connection's estimator");
}

/* RFC 9000 §17.1: one path as qb_pn_len(); several, at least 2 bytes. */
Test(mp_pn, length_covers_the_slower_path, .init = setup)
{
	for (uint64_t pn = 0; pn < 10; pn++)
		send(pn, 0, pn);
	cr_assert_eq(ack1(0, 9, 0, 20 * MS), 0);
	cr_assert_eq(qb_recovery_pn_len(&rec, QB_PN_APP, 0, 10), qb_pn_len(10, 9));
	cr_assert_eq(qb_recovery_pn_len(&rec, QB_PN_APP, 0, 10), 1);
	send(10, 1, 30 * MS);
	cr_assert_eq(qb_recovery_pn_len(&rec, QB_PN_APP, 0, 11), 2, "two paths: 2 bytes");
	cr_assert_eq(qb_recovery_pn_len(&rec, QB_PN_APP, 1, 11), 2);
	/* Far from the path's own largest acknowledged: longer still. */
	cr_assert_eq(qb_recovery_pn_len(&rec, QB_PN_APP, 0, 9 + 40000), 3);
}

/*
 * Receiver side: over paths of different delays the slower path's packets
 * arrive below ranges whose ACK was already acknowledged. With
 * rx.multipath the duplicate floor stays twice the reordering seen below
 * the largest, so they are still taken.
 */
static void
rx_scenario(struct qb_rx_space *rx, bool multipath)
{
	static struct qb_pn_range store[16];
	const uint64_t pns[] = {0, 1, 2, 4, 5, 6, 3, 8, 9, 10, 11, 12};

	cr_assert_eq(qb_rx_init(rx, store, 16, 25 * MS, 3), 0);
	rx->multipath = multipath;
	for (size_t i = 0; i < sizeof(pns) / sizeof(pns[0]); i++)
		cr_assert_eq(qb_rx_on_packet(rx, pns[i], true, QB_ECN_NOT_ECT, i), 0);
	cr_assert_eq(rx->reorder, 3, "3 arrived 3 below the largest (6)");
	qb_rx_on_ack_acked(rx, 12); /* our ACK up to 12 was acknowledged */
}

Test(mp_rx, late_packets_within_the_reordering_window_are_taken)
{
	struct qb_rx_space rx;

	rx_scenario(&rx, false);
	cr_assert(qb_rx_is_duplicate(&rx, 7), "one path: the floor passed 7 (RFC 9000 §13.2.4)");

	rx_scenario(&rx, true);
	/* Window 2 * 3: forgotten up to 12 - 6 - 1 = 5 only. */
	cr_assert_eq(rx.floor, 6);
	cr_assert_not(qb_rx_is_duplicate(&rx, 7), "7 may still come on the slower path");
	cr_assert(qb_rx_is_duplicate(&rx, 5));
	cr_assert(qb_rx_is_duplicate(&rx, 9), "received ones stay duplicates");
	cr_assert_eq(qb_rx_on_packet(&rx, 7, true, QB_ECN_NOT_ECT, 20), 0);
	struct qb_pn_range out[4];
	cr_assert_eq(qb_rx_ack_ranges(&rx, out, 4), 1);
	cr_assert_eq(out[0].lo, 6);
	cr_assert_eq(out[0].hi, 12);
}

Test(mp_rx, ranges_move_to_larger_storage)
{
	static struct qb_pn_range small[4], big[16];
	struct qb_rx_space rx;
	struct qb_pn_range out[16];

	cr_assert_eq(qb_rx_init(&rx, small, 4, 25 * MS, 3), 0);
	for (uint64_t pn = 0; pn < 8; pn += 2)
		cr_assert_eq(qb_rx_on_packet(&rx, pn, true, QB_ECN_NOT_ECT, pn), 0);
	cr_assert_eq(rx.n, 4);
	cr_assert_eq(qb_rx_move(&rx, big, 2), QB_ERR_ARG, "too small for what is held");
	cr_assert_eq(qb_rx_move(&rx, big, 16), 0);
	/* Full before, room now: no range is dropped and the floor stays. */
	for (uint64_t pn = 8; pn < 24; pn += 2)
		cr_assert_eq(qb_rx_on_packet(&rx, pn, true, QB_ECN_NOT_ECT, pn), 0);
	cr_assert_eq(rx.floor, 0);
	cr_assert_eq(qb_rx_ack_ranges(&rx, out, 16), 12);
	cr_assert_eq(out[11].lo, 0);
	cr_assert_eq(out[0].hi, 22);
}

/*
 * Rules 2 and 4 on one path: an ACK-only record (rule 4: forgotten after a
 * loss delay of its path, or 3 packets) sent just before an in-flight one
 * (rule 2: lost after a PTO period of its path). On a path of long, steady
 * RTT the loss delay (9/8 RTT) exceeds the PTO period (RTT + 4 RTTVAR +
 * max_ack_delay), so the in-flight packet is due first: it must not wait
 * for the ACK-only record ahead of it in the walk.
 */
Test(mp_loss, in_flight_record_is_not_held_by_an_ack_only_one_ahead, .init = setup)
{
	uint64_t pn = 0, t = 0;
	struct qb_sent_info ack_only = {.size = 50, .path = 1};

	send(pn, 0, t);
	cr_assert_eq(ack1(pn, pn, 0, t + 20 * MS), 0);
	pn++;
	/* Path 1: 400 ms, steady, until RTTVAR is small. */
	for (int i = 0; i < 16; i++, pn++) {
		t += 1 * MS;
		send(pn, 1, t);
		t += 400 * MS;
		cr_assert_eq(ack1(pn, pn, 0, t), 0);
	}
	uint64_t pto1 = qb_rtt_pto_base(&rtt1) + 25 * MS, loss_delay1 = 400 * MS / 8 * 9;
	cr_assert_lt(pto1 + 2 * MS, loss_delay1, "pto %lu ms", (unsigned long)(pto1 / MS));
	const uint64_t t0 = t + MS, a = pn, b = pn + 1, c = pn + 2;
	ack_only.pn = a;
	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &ack_only, t0), 0);
	send(b, 1, t0 + MS);
	send(c, 0, t0 + 2 * MS);
	/* c acknowledged when b is a PTO period of path 1 old, a not a loss delay. */
	uint64_t now = t0 + MS + pto1 + MS;
	cr_assert_lt(now, t0 + loss_delay1);
	cr_assert_eq(ack1(c, c, 0, now), 0);
	cr_assert(was_lost(b), "the in-flight packet past its path's PTO period is lost");
	cr_assert_eq(seen.forgotten, 0, "the ACK-only record is not due yet");
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, t0 + loss_delay1, "it arms the timer");
}
