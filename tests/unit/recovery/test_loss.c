/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RTT estimation, loss detection, PTO and persistent congestion, against
 * RFC 9002 §5-7 and its Appendix A pseudo-code, on a fake clock.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "qburst/cc.h"
#include "qburst/recovery.h"

#define MS  1000000ull
#define MDS 1200

#define CAP 1024

static struct qb_sent_pkt st[QB_PN_SPACE_COUNT][CAP];
static struct qb_recovery rec;
static struct qb_rtt rtt;
static struct qb_cc cc;

/* What the callbacks saw. */
static struct {
	uint32_t acked, lost, discarded;
	uint64_t acked_pn[CAP], lost_pn[CAP];
	uint32_t frames_sum;
} seen;

static void
on_acked(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	seen.acked_pn[seen.acked++ % CAP] = p->pn;
	seen.frames_sum += p->frames;
}

static void
on_lost(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	seen.lost_pn[seen.lost++ % CAP] = p->pn;
}

static void
on_discarded(void *ctx, enum qb_pn_space s, const struct qb_sent_pkt *p)
{
	(void)ctx;
	(void)s;
	(void)p;
	seen.discarded++;
}

static void
make(bool is_server)
{
	struct qb_sent_pkt *const storage[QB_PN_SPACE_COUNT] = {st[0], st[1], st[2]};
	const uint32_t cap[QB_PN_SPACE_COUNT] = {CAP, CAP, CAP};
	struct qb_recovery_config cfg = {.is_server = is_server, .max_ack_delay = 25 * MS};
	struct qb_recovery_cb cb = {on_acked, on_lost, on_discarded, NULL};

	memset(&seen, 0, sizeof(seen));
	cr_assert_eq(qb_recovery_init(&rec, &cfg, storage, cap, &cb), 0);
	qb_rtt_init(&rtt, 0);
	cr_assert_eq(qb_cc_init(&cc, "newreno", MDS, 0), 0);
	qb_recovery_set_path(&rec, &rtt, &cc);
}

static void
server(void)
{
	make(true);
}

static void
send(enum qb_pn_space s, uint64_t pn, uint64_t now)
{
	struct qb_sent_info si = {.pn = pn,
	                          .size = MDS,
	                          .frames = (uint32_t)pn,
	                          .ack_eliciting = true,
	                          .in_flight = true};

	cr_assert_eq(qb_recovery_on_packet_sent(&rec, s, &si, now), 0, "send pn %lu",
	             (unsigned long)pn);
}

/* ACK of one range [lo, hi]. */
static int
ack1(enum qb_pn_space s, uint64_t lo, uint64_t hi, uint64_t delay, uint64_t now)
{
	struct qb_pn_range r = {lo, hi};
	struct qb_ack_info a = {.ranges = &r, .nranges = 1, .ack_delay = delay};

	return qb_recovery_on_ack_received(&rec, s, &a, now);
}

static bool
was_lost(uint64_t pn)
{
	uint32_t i;

	for (i = 0; i < seen.lost; i++)
		if (seen.lost_pn[i] == pn)
			return true;
	return false;
}

/* ---- RTT (§5, Appendix A.7) ---- */

Test(rtt, initial_values)
{
	qb_rtt_init(&rtt, 0);
	cr_assert_eq(rtt.smoothed, 333 * MS);
	cr_assert_eq(rtt.rttvar, 333 * MS / 2);
	cr_assert_eq(qb_rtt_pto_base(&rtt), 333 * MS + 4 * (333 * MS / 2), "PTO ~1 s (§6.2.2)");
}

Test(rtt, samples_follow_the_pseudocode)
{
	qb_rtt_init(&rtt, 0);
	/* First sample: smoothed = latest, rttvar = latest / 2, ack_delay ignored. */
	qb_rtt_update(&rtt, 100 * MS, 10 * MS, 25 * MS, true, 1000);
	cr_assert_eq(rtt.smoothed, 100 * MS);
	cr_assert_eq(rtt.rttvar, 50 * MS);
	cr_assert_eq(rtt.min, 100 * MS);
	cr_assert_eq(rtt.first_sample_time, 1000);
	/* 120 ms with 10 ms delay: adjusted 110; rttvar = 3/4*50 + 1/4*10, srtt = 7/8*100 +
	 * 1/8*110. */
	qb_rtt_update(&rtt, 120 * MS, 10 * MS, 25 * MS, true, 2000);
	cr_assert_eq(rtt.rttvar, 40000000);
	cr_assert_eq(rtt.smoothed, 101250000);
	cr_assert_eq(rtt.min, 100 * MS);
	cr_assert_eq(rtt.latest, 120 * MS);
	/* 105 ms with 10 ms delay: 105 < min + delay, so the delay is not subtracted. */
	qb_rtt_update(&rtt, 105 * MS, 10 * MS, 25 * MS, true, 3000);
	cr_assert_eq(rtt.rttvar, 30937500);    /* (3*40 + 3.75) / 4 ms */
	cr_assert_eq(rtt.smoothed, 101718750); /* (7*101.25 + 105) / 8 ms */
	/* A lower sample lowers min_rtt, whatever the delay. */
	qb_rtt_update(&rtt, 90 * MS, 0, 25 * MS, true, 4000);
	cr_assert_eq(rtt.min, 90 * MS);
}

Test(rtt, max_ack_delay_caps_only_after_confirmation)
{
	qb_rtt_init(&rtt, 0);
	qb_rtt_update(&rtt, 100 * MS, 0, 25 * MS, false, 0);
	/* Not confirmed: a 50 ms delay is used in full: adjusted 150. */
	qb_rtt_update(&rtt, 200 * MS, 50 * MS, 25 * MS, false, 1);
	cr_assert_eq(rtt.smoothed, (7 * 100 * MS + 150 * MS) / 8);
	qb_rtt_init(&rtt, 0);
	qb_rtt_update(&rtt, 100 * MS, 0, 25 * MS, true, 0);
	/* Confirmed: capped to max_ack_delay 25: adjusted 175. */
	qb_rtt_update(&rtt, 200 * MS, 50 * MS, 25 * MS, true, 1);
	cr_assert_eq(rtt.smoothed, (7 * 100 * MS + 175 * MS) / 8);
	cr_assert_eq(rtt.rttvar, (3 * 50 * MS + 75 * MS) / 4);
}

Test(rtt, recovery_samples_on_newly_acked_largest_only, .init = server)
{
	qb_recovery_set_handshake_confirmed(&rec, 0);
	send(QB_PN_APP, 0, 0);
	send(QB_PN_APP, 1, 10 * MS);
	cr_assert_eq(ack1(QB_PN_APP, 0, 1, 5 * MS, 110 * MS), 0);
	cr_assert_eq(rtt.latest, 100 * MS, "from the largest acknowledged (pn 1)");
	cr_assert_eq(rtt.smoothed, 100 * MS);
	/* The same ACK again: nothing newly acked, no sample. */
	cr_assert_eq(ack1(QB_PN_APP, 0, 1, 5 * MS, 500 * MS), 0);
	cr_assert_eq(rtt.latest, 100 * MS);
	cr_assert_eq(seen.acked, 2);
	cr_assert_eq(seen.frames_sum, 1, "frame handles come back");
}

Test(rtt, initial_space_ignores_ack_delay, .init = server)
{
	send(QB_PN_INITIAL, 0, 0);
	cr_assert_eq(ack1(QB_PN_INITIAL, 0, 0, 0, 100 * MS), 0);
	send(QB_PN_INITIAL, 1, 100 * MS);
	cr_assert_eq(ack1(QB_PN_INITIAL, 1, 1, 30 * MS, 200 * MS), 0);
	cr_assert_eq(rtt.smoothed, 100 * MS, "delay 30 ignored: adjusted stays 100");
}

/* ---- Loss detection (§6.1, Appendix A.10) ---- */

Test(loss, packet_threshold, .init = server)
{
	uint64_t pn;

	qb_recovery_set_handshake_confirmed(&rec, 0);
	for (pn = 0; pn < 6; pn++)
		send(QB_PN_APP, pn, pn * 1000);
	cc.ssthresh = UINT64_MAX;
	cr_assert_eq(ack1(QB_PN_APP, 5, 5, 0, 50 * MS), 0);
	/* 5 >= pn + 3 for pn <= 2; 3 and 4 wait for the time threshold. */
	cr_assert_eq(seen.lost, 3);
	cr_assert(was_lost(0) && was_lost(1) && was_lost(2));
	cr_assert_not(was_lost(3));
	/* latest_rtt = 50 ms - 5 us (pn 5 was sent at 5 us): loss_delay = 9/8 of it. */
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, 3000 + (50 * MS - 5000) * 9 / 8);
	cr_assert_eq(qb_recovery_timer(&rec), rec.space[QB_PN_APP].loss_time,
	             "the loss timer wins over PTO");
	cr_assert_eq(cc.bytes_in_flight, 2 * MDS);
	cr_assert_eq(cc.congestion_events, 1);
	cr_assert_eq(cc.cwnd, 6000, "halved on loss (12000 / 2)");
}

Test(loss, time_threshold, .init = server)
{
	qb_recovery_set_handshake_confirmed(&rec, 0);
	send(QB_PN_APP, 0, 0);
	send(QB_PN_APP, 1, 200 * MS);
	/* latest = smoothed = 50 ms: loss_delay 56.25 ms; pn 0 is 250 ms old. */
	cr_assert_eq(ack1(QB_PN_APP, 1, 1, 0, 250 * MS), 0);
	cr_assert_eq(seen.lost, 1);
	cr_assert(was_lost(0));
	cr_assert_eq(rec.space[QB_PN_APP].loss_time, QB_TIME_NONE);
}

Test(loss, loss_timer_fires, .init = server)
{
	qb_recovery_set_handshake_confirmed(&rec, 0);
	send(QB_PN_APP, 0, 100 * MS);
	send(QB_PN_APP, 1, 101 * MS);
	cr_assert_eq(ack1(QB_PN_APP, 1, 1, 0, 150 * MS), 0);
	/* latest 49 ms: loss_delay = 49 * 9/8 = 55.125 ms. */
	cr_assert_eq(seen.lost, 0);
	cr_assert_eq(qb_recovery_timer(&rec), 100 * MS + 55125000);
	cr_assert_eq(qb_recovery_on_timeout(&rec, 100 * MS + 55125000 - 1), QB_LD_NONE);
	cr_assert_eq(qb_recovery_on_timeout(&rec, 100 * MS + 55125000), QB_LD_LOST);
	cr_assert(was_lost(0));
	cr_assert_eq(rec.pto_count, 0, "a loss timeout is not a PTO");
	cr_assert_eq(qb_recovery_timer(&rec), QB_TIME_NONE, "nothing left in flight");
}

Test(loss, ack_of_unsent_packet_is_a_violation, .init = server)
{
	cr_assert_eq(ack1(QB_PN_APP, 0, 0, 0, 10), QB_ERR_PROTO);
	send(QB_PN_APP, 0, 0);
	cr_assert_eq(ack1(QB_PN_APP, 0, 1, 0, 10), QB_ERR_PROTO);
	{
		struct qb_pn_range r[2] = {{5, 6}, {6, 7}};
		struct qb_ack_info a = {.ranges = r, .nranges = 2};

		cr_assert_eq(qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, 10), QB_ERR_INVALID);
	}
	cr_assert_eq(ack1(QB_PN_APP, 0, 0, 0, 10), 0);
}

Test(loss, pn_must_increase_and_ring_full_is_reported)
{
	struct qb_sent_pkt small[4];
	static struct qb_sent_pkt small2[4], small3[4];
	struct qb_sent_pkt *const storage[QB_PN_SPACE_COUNT] = {small, small2, small3};
	const uint32_t cap[QB_PN_SPACE_COUNT] = {4, 4, 4};
	struct qb_recovery_config cfg = {.is_server = true};
	struct qb_sent_info si = {.pn = 0, .size = 100, .ack_eliciting = true, .in_flight = true};
	uint64_t pn;

	cr_assert_eq(qb_recovery_init(&rec, &cfg, storage, (const uint32_t[]){3, 4, 4}, NULL),
	             QB_ERR_ARG, "capacity must be a power of two");
	cr_assert_eq(qb_recovery_init(&rec, &cfg, storage, cap, NULL), 0);
	qb_rtt_init(&rtt, 0);
	qb_cc_init(&cc, "cubic", MDS, 0);
	qb_recovery_set_path(&rec, &rtt, &cc);
	for (pn = 0; pn < 4; pn++) {
		si.pn = pn * 2; /* gaps are allowed */
		cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, 0), 0);
	}
	cr_assert_not(qb_recovery_can_send(&rec, QB_PN_APP));
	si.pn = 8;
	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, 0), QB_ERR_NOMEM);
	si.pn = 6;
	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, 0), QB_ERR_ARG);
	cr_assert_eq(ack1(QB_PN_APP, 0, 2, 0, 5), 0);
	cr_assert(qb_recovery_can_send(&rec, QB_PN_APP), "acked slots are reclaimed");
	cr_assert_eq(qb_recovery_outstanding(&rec, QB_PN_APP), 2);
	/* pn 8 went out unrecorded (an ACK-only packet): acknowledging it is
	 * no violation, and its number is used up. */
	cr_assert_eq(ack1(QB_PN_APP, 8, 8, 0, 5), 0);
	si.pn = 8;
	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, 0), QB_ERR_ARG);
	si.pn = 9;
	cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, 0), 0);
}

/* ---- PTO (§6.2, Appendix A.8-A.9) ---- */

Test(pto, value_and_backoff, .init = server)
{
	qb_recovery_set_handshake_confirmed(&rec, 0);
	send(QB_PN_APP, 0, 0);
	cr_assert_eq(ack1(QB_PN_APP, 0, 0, 0, 100 * MS), 0); /* srtt 100, rttvar 50 */
	cr_assert_eq(qb_recovery_pto(&rec, QB_PN_APP), 100 * MS + 200 * MS + 25 * MS);
	cr_assert_eq(qb_recovery_pto(&rec, QB_PN_HANDSHAKE), 300 * MS, "no max_ack_delay");
	send(QB_PN_APP, 1, 1000 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 1325 * MS);
	cr_assert_eq(qb_recovery_on_timeout(&rec, 1325 * MS), QB_LD_PTO);
	cr_assert_eq(rec.probe_space, QB_PN_APP);
	cr_assert_eq(qb_recovery_probes(&rec, QB_PN_APP), 2);
	cr_assert_eq(rec.pto_count, 1);
	cr_assert_eq(seen.lost, 0, "a PTO declares nothing lost (§6.2)");
	cr_assert_eq(qb_recovery_timer(&rec), 1000 * MS + 2 * 325 * MS, "doubled");
	/* Two probes are sent and are not blocked. */
	send(QB_PN_APP, 2, 1325 * MS);
	send(QB_PN_APP, 3, 1325 * MS);
	cr_assert_eq(qb_recovery_probes(&rec, QB_PN_APP), 0);
	cr_assert_eq(qb_recovery_timer(&rec), 1325 * MS + 650 * MS);
	cr_assert_eq(qb_recovery_on_timeout(&rec, 1975 * MS), QB_LD_PTO);
	cr_assert_eq(rec.pto_count, 2);
	cr_assert_eq(qb_recovery_timer(&rec), 1325 * MS + 4 * 325 * MS, "doubled again");
	/* An ACK resets the backoff. */
	cr_assert_eq(ack1(QB_PN_APP, 3, 3, 0, 2000 * MS), 0);
	cr_assert_eq(rec.pto_count, 0);
}

Test(pto, no_application_pto_before_confirmation, .init = server)
{
	send(QB_PN_APP, 0, 0);
	cr_assert_eq(qb_recovery_timer(&rec), QB_TIME_NONE);
	send(QB_PN_HANDSHAKE, 0, 10 * MS);
	/* Initial RTT: 333 + 4 * 166.5 = 999 ms, Handshake space. */
	cr_assert_eq(qb_recovery_timer(&rec), 10 * MS + 999 * MS);
	cr_assert_eq(qb_recovery_on_timeout(&rec, 1009 * MS), QB_LD_PTO);
	cr_assert_eq(rec.probe_space, QB_PN_HANDSHAKE);
	qb_recovery_discard_space(&rec, QB_PN_HANDSHAKE, 1100 * MS);
	cr_assert_eq(rec.pto_count, 0, "discarding keys resets the backoff");
	cr_assert_eq(qb_recovery_timer(&rec), QB_TIME_NONE, "only 1-RTT left, not confirmed");
	qb_recovery_set_handshake_confirmed(&rec, 1200 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 0 + 999 * MS + 25 * MS);
}

Test(pto, earliest_space_wins)
{
	make(true);
	send(QB_PN_INITIAL, 0, 0);
	send(QB_PN_HANDSHAKE, 0, 5 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 999 * MS, "Initial's PTO is earlier");
	cr_assert_eq(qb_recovery_on_timeout(&rec, 999 * MS), QB_LD_PTO);
	cr_assert_eq(rec.probe_space, QB_PN_INITIAL);
	/* The backoff is shared: Handshake's PTO doubles too (§6.2.1). */
	cr_assert_eq(qb_recovery_timer(&rec), 2 * 999 * MS);
}

Test(pto, client_anti_deadlock)
{
	make(false);
	send(QB_PN_INITIAL, 0, 0);
	cr_assert_eq(ack1(QB_PN_INITIAL, 0, 0, 0, 100 * MS), 0);
	/* Nothing in flight, but the server may be amplification-blocked. */
	cr_assert_eq(qb_recovery_timer(&rec), 100 * MS + 300 * MS);
	cr_assert_eq(qb_recovery_on_timeout(&rec, 400 * MS), QB_LD_ANTI_DEADLOCK);
	cr_assert_eq(rec.probe_space, QB_PN_INITIAL, "no Handshake keys: padded Initial");
	cr_assert_eq(qb_recovery_probes(&rec, QB_PN_INITIAL), 1);
	cr_assert_eq(qb_recovery_timer(&rec), 400 * MS + 600 * MS);
	/* An Initial ACK does not reset a client's backoff (§6.2.1). */
	send(QB_PN_INITIAL, 1, 400 * MS);
	cr_assert_eq(ack1(QB_PN_INITIAL, 1, 1, 0, 500 * MS), 0);
	cr_assert_eq(rec.pto_count, 1);
	qb_recovery_set_handshake_keys(&rec, 500 * MS);
	cr_assert_eq(qb_recovery_on_timeout(&rec, qb_recovery_timer(&rec)), QB_LD_ANTI_DEADLOCK);
	cr_assert_eq(rec.probe_space, QB_PN_HANDSHAKE);
	/* A Handshake ACK proves the server validated us: no timer, backoff reset. */
	send(QB_PN_HANDSHAKE, 0, 2000 * MS);
	cr_assert_eq(ack1(QB_PN_HANDSHAKE, 0, 0, 0, 2100 * MS), 0);
	cr_assert_eq(rec.pto_count, 0);
	cr_assert_eq(qb_recovery_timer(&rec), QB_TIME_NONE);
}

Test(pto, server_amplification_limit_stops_the_timer, .init = server)
{
	send(QB_PN_INITIAL, 0, 0);
	cr_assert_eq(qb_recovery_timer(&rec), 999 * MS);
	qb_recovery_set_amplification_limited(&rec, true, 1 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), QB_TIME_NONE);
	qb_recovery_set_amplification_limited(&rec, false, 2000 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 999 * MS, "in the past: fire at once");
	cr_assert_eq(qb_recovery_on_timeout(&rec, 2000 * MS), QB_LD_PTO);
}

/* ---- Persistent congestion (§7.6) ---- */

/* pn 0 at 0 acked at 100 ms: srtt 100, rttvar 50, PC duration (300 + 25) * 3 = 975 ms.
 * Then pn k at 100 + 100k ms for k = 1..15. */
static void
pc_setup(void)
{
	uint64_t pn;

	make(true);
	qb_recovery_set_handshake_confirmed(&rec, 0);
	send(QB_PN_APP, 0, 0);
	cr_assert_eq(ack1(QB_PN_APP, 0, 0, 0, 100 * MS), 0);
	cr_assert_eq(qb_recovery_pc_duration(&rec), 975 * MS);
	cc.cwnd = 40 * MDS;
	for (pn = 1; pn <= 15; pn++)
		send(QB_PN_APP, pn, (100 + 100 * pn) * MS);
}

Test(pc, established_over_long_loss_run, .init = pc_setup)
{
	/* pn 1..14 (200..1500 ms: 1300 ms > 975 ms) lost, pn 15 acked. */
	cr_assert_eq(ack1(QB_PN_APP, 15, 15, 0, 1700 * MS), 0);
	cr_assert_eq(seen.lost, 14);
	cr_assert(rec.persistent_congestion);
	cr_assert_eq(cc.persistent_events, 1);
	/* Appendix B.8: cwnd = kMinimumWindow and the recovery period ends,
	 * then OnPacketsAcked grows it in slow start by pn 15's bytes. */
	cr_assert_eq(cc.cwnd, 2 * MDS + MDS, "minimum window, then slow start");
	cr_assert_eq(rtt.min, rtt.latest, "min_rtt restarts from the newest sample");
}

Test(pc, broken_by_an_acknowledged_packet, .init = pc_setup)
{
	struct qb_pn_range r[2] = {{15, 15}, {7, 7}};
	struct qb_ack_info a = {.ranges = r, .nranges = 2};

	/* 1..6 (500 ms) and 8..14 (600 ms) lost; 7 between them was acked. */
	cr_assert_eq(qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, 1700 * MS), 0);
	cr_assert_eq(seen.lost, 13);
	cr_assert_not(rec.persistent_congestion);
	cr_assert_eq(cc.cwnd, 20 * MDS, "one ordinary halving");
}

/* Appendix B.5 asks InCongestionRecovery per acked packet: one ACK covering
 * packets from before and after the recovery start grows by the later ones. */
Test(cc_period, ack_across_recovery_start_counts_later_packets_only, .init = server)
{
	uint64_t pn, before;

	qb_recovery_set_handshake_confirmed(&rec, 0);
	for (pn = 0; pn <= 4; pn++)
		send(QB_PN_APP, pn, (100 + 100 * pn) * MS);        /* 100..500 ms */
	qb_cc_on_congestion_event(&cc, 340 * MS, false, 350 * MS); /* period from 350 ms */
	cc.ssthresh = UINT64_MAX; /* slow start: growth is exactly the bytes counted */
	before = cc.cwnd;
	send(QB_PN_APP, 5, 600 * MS);
	cr_assert_eq(ack1(QB_PN_APP, 0, 5, 0, 700 * MS), 0);
	cr_assert_eq(seen.lost, 0);
	/* pn 0..2 (100..300 ms) were sent within the period; pn 3..5 after it. */
	cr_assert_eq(cc.cwnd, before + 3 * MDS, "cwnd %lu, before %lu", (unsigned long)cc.cwnd,
	             (unsigned long)before);
}

Test(pc, short_run_is_not_persistent, .init = pc_setup)
{
	/* Ack 10..15: lost 1..9 (200..1000 ms) = 800 ms < 975 ms. */
	cr_assert_eq(ack1(QB_PN_APP, 10, 15, 0, 1700 * MS), 0);
	cr_assert_eq(seen.lost, 9);
	cr_assert_not(rec.persistent_congestion);
}

Test(pc, needs_a_prior_rtt_sample)
{
	uint64_t pn;

	make(true);
	qb_recovery_set_handshake_confirmed(&rec, 0);
	/* Lost packets all sent before the first sample: never persistent. */
	for (pn = 0; pn < 20; pn++)
		send(QB_PN_APP, pn, pn * 100 * MS);
	cr_assert_eq(ack1(QB_PN_APP, 19, 19, 0, 2000 * MS), 0);
	cr_assert_eq(seen.lost, 19);
	cr_assert_not(rec.persistent_congestion);
}

/* ---- Discarding and Retry ---- */

Test(discard, initial_keys_dropped, .init = server)
{
	send(QB_PN_INITIAL, 0, 0);
	send(QB_PN_INITIAL, 1, 0);
	send(QB_PN_HANDSHAKE, 0, 0);
	cr_assert_eq(cc.bytes_in_flight, 3 * MDS);
	qb_recovery_discard_space(&rec, QB_PN_INITIAL, 1);
	cr_assert_eq(seen.discarded, 2);
	cr_assert_eq(seen.lost, 0);
	cr_assert_eq(cc.bytes_in_flight, MDS);
	cr_assert_eq(ack1(QB_PN_INITIAL, 0, 0, 0, 2), QB_ERR_STATE);
	cr_assert_eq(qb_recovery_timer(&rec), 999 * MS, "re-armed from Handshake's send");
}

Test(discard, retry_resends_initial_data)
{
	make(false);
	send(QB_PN_INITIAL, 0, 0);
	qb_recovery_on_retry(&rec, 50 * MS);
	cr_assert_eq(seen.lost, 1, "CRYPTO data goes out again");
	cr_assert_eq(cc.bytes_in_flight, 0);
	cr_assert_eq(cc.congestion_events, 0);
	cr_assert_eq(rtt.smoothed, 333 * MS);
	send(QB_PN_INITIAL, 1, 50 * MS);
	cr_assert_eq(qb_recovery_timer(&rec), 50 * MS + 999 * MS);
}

/* ---- ECN ---- */

Test(ecn, ce_increase_is_one_congestion_event, .init = server)
{
	struct qb_pn_range r = {0, 1};
	struct qb_ack_info a = {.ranges = &r, .nranges = 1, .has_ecn = true, .ecn = {1, 0, 1}};

	qb_recovery_set_handshake_confirmed(&rec, 0);
	send(QB_PN_APP, 0, 0);
	send(QB_PN_APP, 1, 0);
	cr_assert_eq(qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, 10 * MS), 0);
	cr_assert_eq(cc.congestion_events, 1);
	cr_assert_eq(cc.cwnd, 6000);
	send(QB_PN_APP, 2, 20 * MS);
	r.hi = 2;
	cr_assert_eq(qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, 30 * MS), 0);
	cr_assert_eq(cc.congestion_events, 1, "same CE count: no new event");
}

/* ---- A random walk against a model: every packet ends exactly once ---- */

static uint8_t model_state[20000]; /* 0 outstanding, 1 acked, 2 lost */
static uint32_t model_ca, model_cl;

/* Moves what the callbacks reported since the last call into the model. */
static void
model_drain(void)
{
	uint64_t pn;

	for (; model_ca < seen.acked; model_ca++) {
		pn = seen.acked_pn[model_ca % CAP];
		cr_assert_eq(model_state[pn], 0, "pn %lu ended twice", (unsigned long)pn);
		model_state[pn] = 1;
	}
	for (; model_cl < seen.lost; model_cl++) {
		pn = seen.lost_pn[model_cl % CAP];
		cr_assert_eq(model_state[pn], 0, "pn %lu ended twice", (unsigned long)pn);
		model_state[pn] = 2;
	}
}

Test(model, random_acks_account_for_every_packet)
{
	uint64_t now = 0, next = 0, pn, inflight = 0;
	uint32_t i, k;

	make(true);
	qb_recovery_set_handshake_confirmed(&rec, 0);
	srand(42);
	memset(model_state, 0, sizeof(model_state));
	model_ca = model_cl = 0;
	while (next < 20000) {
		struct qb_pn_range r[8];
		uint32_t n = 0;
		uint64_t hi;

		for (i = 0; i < 8 && next < 20000 && qb_recovery_can_send(&rec, QB_PN_APP); i++)
			send(QB_PN_APP, next++, now);
		now += 1 * MS;
		/* The peer acks random ranges, largest first, some of them old. */
		hi = next - 1 - (uint64_t)(rand() % 3);
		while (n < 8 && hi < next && hi > 0) {
			uint64_t len = 1 + (uint64_t)(rand() % 6);
			uint64_t lo = hi >= len ? hi - len + 1 : 0;

			r[n].lo = lo;
			r[n].hi = hi;
			n++;
			if (lo < 6)
				break;
			hi = lo - 2 - (uint64_t)(rand() % 3);
		}
		if (n > 0) {
			struct qb_ack_info a = {.ranges = r, .nranges = n};

			cr_assert_eq(qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, now), 0);
			model_drain();
			/* Every pn in a range is acked now, unless it ended earlier. */
			for (k = 0; k < n; k++)
				for (pn = r[k].lo; pn <= r[k].hi; pn++)
					cr_assert(model_state[pn] != 0, "pn %lu missed",
					          (unsigned long)pn);
		}
		qb_recovery_on_timeout(&rec, now);
		model_drain();
	}
	for (pn = 0; pn < next; pn++)
		if (model_state[pn] == 0)
			inflight++;
	cr_assert_eq(seen.acked + seen.lost + inflight, next);
	cr_assert_eq(cc.bytes_in_flight, inflight * MDS);
	cr_assert_eq(rec.space[QB_PN_APP].eliciting_in_flight, inflight);
	cr_assert_gt(seen.lost, 100, "the walk exercised loss detection");
}

Test(discard, rejected_0rtt_is_requeued_without_congestion, .init = server)
{
	send(QB_PN_APP, 0, 0);
	send(QB_PN_APP, 1, 0);
	qb_recovery_requeue_space(&rec, QB_PN_APP, 10 * MS);
	cr_assert_eq(seen.lost, 2);
	cr_assert_eq(cc.bytes_in_flight, 0);
	cr_assert_eq(cc.congestion_events, 0);
	cr_assert_eq(cc.cwnd, 12000);
	send(QB_PN_APP, 2, 20 * MS); /* the space goes on, pns keep increasing */
	cr_assert_eq(ack1(QB_PN_APP, 2, 2, 0, 30 * MS), 0);
	cr_assert_eq(seen.acked, 1);
}

Test(loss, records_move_to_bigger_storage, .init = server)
{
	static struct qb_sent_pkt big[4096], tiny[2];
	uint64_t pn;

	qb_recovery_set_handshake_confirmed(&rec, 0);
	for (pn = 0; pn < 10; pn++)
		send(QB_PN_APP, pn, pn * MS);
	cr_assert_eq(ack1(QB_PN_APP, 5, 5, 0, 20 * MS), 0); /* holes: 0..4 (2 lost), 6..9 */
	cr_assert_eq(qb_recovery_move_space(&rec, QB_PN_APP, tiny, 2), QB_ERR_NOBUF);
	cr_assert_eq(qb_recovery_move_space(&rec, QB_PN_APP, big, 3000), QB_ERR_ARG);
	cr_assert_eq(qb_recovery_move_space(&rec, QB_PN_APP, big, 4096), 0);
	for (pn = 10; pn < 2000; pn++)
		send(QB_PN_APP, pn, 20 * MS + pn);
	cr_assert_eq(ack1(QB_PN_APP, 0, 1999, 0, 40 * MS), 0);
	cr_assert_eq(seen.acked + seen.lost, 2000, "every record survived the move");
	cr_assert_eq(cc.bytes_in_flight, 0);
	cr_assert_eq(qb_recovery_outstanding(&rec, QB_PN_APP), 0);
}

/* Arbitrary ACK frames (within what was sent) never break the accounting. */
Test(model, arbitrary_ack_frames_keep_the_books)
{
	uint64_t now = 0, next = 0, pn;
	uint32_t iter, k, n;
	struct qb_pn_range r[16];

	make(true);
	qb_recovery_set_handshake_confirmed(&rec, 0);
	memset(model_state, 0, sizeof(model_state));
	model_ca = model_cl = 0;
	srand(1234);
	for (iter = 0; iter < 4000 && next < 19000; iter++) {
		uint32_t burst = (uint32_t)rand() % 6;
		struct qb_ack_info a = {.ranges = r};
		uint64_t hi;
		int rc;

		for (k = 0; k < burst && qb_recovery_can_send(&rec, QB_PN_APP); k++) {
			struct qb_sent_info si = {.pn = next,
			                          .size = 100 + (uint32_t)rand() % 1100,
			                          .frames = (uint32_t)next,
			                          .ack_eliciting = rand() % 4 != 0};

			si.in_flight = si.ack_eliciting || rand() % 2;
			cr_assert_eq(qb_recovery_on_packet_sent(&rec, QB_PN_APP, &si, now), 0);
			next += 1 + (uint64_t)(rand() % 2); /* sender-skipped pns */
		}
		now += (uint64_t)(rand() % 3000) * 1000;
		if (next == 0)
			continue;
		/* Ranges anywhere below what was sent, sometimes malformed or beyond it. */
		n = 1 + (uint32_t)rand() % 16;
		hi = (uint64_t)rand() % (next + 2);
		for (k = 0; k < n; k++) {
			uint64_t len = (uint64_t)(rand() % 40);

			r[k].hi = hi;
			r[k].lo = hi > len ? hi - len : 0;
			if (r[k].lo < 2)
				break;
			hi = r[k].lo - 2 - (uint64_t)(rand() % 50 == 0 ? 0 : rand() % 30);
			if (hi > r[k].lo)
				break;
		}
		a.nranges = k < n ? k + 1 : n;
		a.ack_delay = (uint64_t)rand() % (100 * MS);
		if (rand() % 50 == 0 && a.nranges > 1)
			r[1].hi = r[0].lo; /* overlapping: malformed */
		rc = qb_recovery_on_ack_received(&rec, QB_PN_APP, &a, now);
		cr_assert(rc == 0 || rc == QB_ERR_PROTO || rc == QB_ERR_INVALID, "rc %d", rc);
		if (r[0].hi >= next)
			cr_assert_eq(rc, QB_ERR_PROTO);
		model_drain();
		qb_recovery_on_timeout(&rec, now);
		model_drain();
	}
	{
		uint64_t bytes = 0, eliciting = 0, live = 0;
		const struct qb_sent_ring *ring = &rec.space[QB_PN_APP].sent;
		uint64_t seq;

		for (seq = ring->tail; seq < ring->head; seq++) {
			const struct qb_sent_pkt *p = &ring->slots[seq & ring->mask];

			if (p->flags & QB_SENT_REMOVED)
				continue;
			live++;
			cr_assert_eq(model_state[p->pn], 0, "pn %lu ended but still held",
			             (unsigned long)p->pn);
			if (p->flags & QB_SENT_IN_FLIGHT)
				bytes += p->size;
			if (p->flags & QB_SENT_ACK_ELICITING)
				eliciting++;
		}
		cr_assert_eq(cc.bytes_in_flight, bytes);
		cr_assert_eq(rec.space[QB_PN_APP].eliciting_in_flight, eliciting);
		for (pn = 0, k = 0; pn < next; pn++)
			k += model_state[pn] != 0;
		cr_assert_eq(k, seen.acked + seen.lost, "each ended packet reported once");
		cr_assert_gt(seen.acked, 100);
		cr_assert_gt(seen.lost, 100);
	}
}

/* ---- runs (qb_recovery_run_*: the connection's path bursts) ---- */

/* Packets 0-2 one by one on path 0, then 3-9 on path 1 at 5 ms: as a run
 * when run, else one by one. */
static void
run_or_singles(bool run)
{
	make(true);
	for (uint64_t pn = 0; pn < 3; pn++)
		send(QB_PN_APP, pn, MS);
	if (run) {
		cr_assert_geq(qb_recovery_run_room(&rec, QB_PN_APP), 7);
		for (uint64_t pn = 3; pn < 10; pn++)
			qb_recovery_run_add(&rec, QB_PN_APP, pn, MDS, (uint32_t)pn, 1, 5 * MS);
		qb_recovery_run_end(&rec, QB_PN_APP, 9, 7, 7 * MDS, 1, 5 * MS);
	} else {
		for (uint64_t pn = 3; pn < 10; pn++)
			cr_assert_eq(qb_recovery_on_eliciting_sent(&rec, QB_PN_APP, pn, MDS,
			                                           (uint32_t)pn, 1, 5 * MS),
			             0);
	}
}

Test(loss, a_run_records_as_single_sends_do)
{
	static struct qb_sent_pkt ring[CAP];
	struct qb_recovery r;
	struct qb_cc c;

	run_or_singles(false);
	memcpy(&r, &rec, sizeof(r));
	memcpy(&c, &cc, sizeof(c));
	memcpy(ring, st[QB_PN_APP], sizeof(ring));
	run_or_singles(true);
	cr_assert_eq(qb_recovery_run_room(&rec, QB_PN_APP), CAP - 10);
	cr_assert_eq(memcmp(ring, st[QB_PN_APP], sizeof(ring)), 0, "the records");
	cr_assert_eq(memcmp(&c, &cc, sizeof(c)), 0, "the congestion controller");
	cr_assert_eq(memcmp(&r, &rec, sizeof(r)), 0, "the recovery state");
	cr_assert_eq(cc.bytes_in_flight, 10 * MDS);
	cr_assert_eq(rec.space[QB_PN_APP].path[1].eliciting_in_flight, 7);
	/* And an ACK of them all finds every one. */
	cr_assert_eq(ack1(QB_PN_APP, 0, 9, 0, 6 * MS), 0);
	cr_assert_eq(seen.acked, 10);
	cr_assert_eq(cc.bytes_in_flight, 0);
}
