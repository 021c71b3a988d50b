/* SPDX-License-Identifier: BSD-3-Clause */
/* NewReno (RFC 9002 §7, Appendix B), CUBIC (RFC 9438) and the pacer (§7.7). */
#include <math.h>

#include <criterion/criterion.h>

#include "qburst/cc.h"

#define MS  1000000ull
#define SEC 1000000000ull
#define MDS 1200

static struct qb_cc cc;

static void
ack(uint64_t bytes, uint64_t sent, uint64_t srtt, uint64_t now)
{
	struct qb_cc_ack a = {.acked_bytes = bytes, .newest_time_sent = sent, .smoothed_rtt = srtt};

	qb_cc_on_ack(&cc, &a, now);
}

Test(cc, names_and_windows)
{
	cr_assert_not_null(qb_cc_find("newreno"));
	cr_assert_not_null(qb_cc_find("cubic"));
	cr_assert_null(qb_cc_find("bbr"));
	cr_assert_eq(qb_cc_init(&cc, "vegas", MDS, 0), QB_ERR_UNSUPPORTED);
	cr_assert_eq(qb_cc_init(&cc, "newreno", 1000, 0), QB_ERR_ARG);
	/* §7.2: min(10 * mds, max(14720, 2 * mds)). */
	cr_assert_eq(qb_cc_initial_window(1200), 12000);
	cr_assert_eq(qb_cc_initial_window(1500), 14720);
	cr_assert_eq(qb_cc_initial_window(9000), 18000);
	cr_assert_eq(qb_cc_minimum_window(1200), 2400);
	cr_assert_eq(qb_cc_init(&cc, "cubic", 1500, 0), 0);
	cr_assert_eq(cc.cwnd, 14720);
	cr_assert_eq(cc.ssthresh, UINT64_MAX);
}

Test(cc, quota_follows_bytes_in_flight)
{
	int i;

	cr_assert_eq(qb_cc_init(&cc, "newreno", MDS, 0), 0);
	for (i = 0; i < 9; i++)
		qb_cc_on_packet_sent(&cc, MDS, 0);
	cr_assert(qb_cc_can_send(&cc));
	cr_assert_eq(qb_cc_available(&cc), 1200);
	qb_cc_on_packet_sent(&cc, MDS, 0);
	cr_assert_not(qb_cc_can_send(&cc));
	cr_assert_eq(qb_cc_available(&cc), 0);
	qb_cc_on_lost(&cc, MDS);
	cr_assert_eq(cc.bytes_in_flight, 9 * MDS);
	qb_cc_on_discarded(&cc, 2 * MDS);
	cr_assert_eq(cc.bytes_in_flight, 7 * MDS);
}

/* ---- NewReno ---- */

Test(newreno, slow_start_grows_by_bytes_acked)
{
	qb_cc_init(&cc, "newreno", MDS, 0);
	qb_cc_on_packet_sent(&cc, 12000, 0);
	ack(12000, 0, 100 * MS, 100 * MS);
	cr_assert_eq(cc.cwnd, 24000);
	cr_assert_eq(cc.bytes_in_flight, 0);
}

Test(newreno, loss_halves_once_per_recovery_period)
{
	qb_cc_init(&cc, "newreno", MDS, 0);
	cc.cwnd = 24000;
	qb_cc_on_congestion_event(&cc, 500 * MS, false, 1 * SEC);
	cr_assert_eq(cc.ssthresh, 12000);
	cr_assert_eq(cc.cwnd, 12000);
	/* Another loss of a packet sent before recovery started: ignored. */
	qb_cc_on_congestion_event(&cc, 900 * MS, false, 1100 * MS);
	cr_assert_eq(cc.cwnd, 12000);
	cr_assert_eq(cc.congestion_events, 1);
	/* ACKs of packets sent before recovery do not grow the window. */
	ack(MDS, 999 * MS, 100 * MS, 1200 * MS);
	cr_assert_eq(cc.cwnd, 12000);
	/* A loss of a packet sent after recovery started: a new period. */
	qb_cc_on_congestion_event(&cc, 1500 * MS, false, 2 * SEC);
	cr_assert_eq(cc.cwnd, 6000);
	cr_assert_eq(cc.congestion_events, 2);
}

Test(newreno, congestion_avoidance_adds_one_mds_per_window)
{
	int i;

	qb_cc_init(&cc, "newreno", MDS, 0);
	qb_cc_on_congestion_event(&cc, 0, false, 1 * SEC); /* 12000 -> 6000 */
	cr_assert_eq(cc.cwnd, 6000);
	for (i = 0; i < 4; i++) {
		ack(MDS, 2 * SEC, 100 * MS, 2 * SEC);
		cr_assert_eq(cc.cwnd, 6000, "less than a window acked");
	}
	ack(MDS, 2 * SEC, 100 * MS, 2 * SEC);
	cr_assert_eq(cc.cwnd, 7200, "one window (6000 B) acked: + 1 mds");
	for (i = 0; i < 6; i++)
		ack(MDS, 2 * SEC, 100 * MS, 2 * SEC);
	cr_assert_eq(cc.cwnd, 8400, "7200 B more: + 1 mds");
}

Test(newreno, floor_is_the_minimum_window)
{
	qb_cc_init(&cc, "newreno", MDS, 0);
	cc.cwnd = 3000;
	qb_cc_on_congestion_event(&cc, 0, true, 1 * SEC);
	cr_assert_eq(cc.ssthresh, 1500);
	cr_assert_eq(cc.cwnd, 2400);
}

Test(newreno, persistent_congestion_to_minimum_window)
{
	qb_cc_init(&cc, "newreno", MDS, 0);
	cc.cwnd = 100000;
	qb_cc_on_congestion_event(&cc, 0, false, 1 * SEC);
	qb_cc_on_persistent_congestion(&cc, 1 * SEC);
	cr_assert_eq(cc.cwnd, 2400);
	cr_assert_not(cc.has_recovery_start, "recovery start reset (Appendix B.8)");
	/* Back in slow start below ssthresh 50000. */
	ack(2400, 0, 100 * MS, 2 * SEC);
	cr_assert_eq(cc.cwnd, 4800);
}

Test(newreno, app_limited_does_not_grow)
{
	qb_cc_init(&cc, "newreno", MDS, 0);
	qb_cc_on_packet_sent(&cc, MDS, 0);
	qb_cc_set_app_limited(&cc, true);
	ack(MDS, 0, 100 * MS, 100 * MS);
	cr_assert_eq(cc.cwnd, 12000);
	cr_assert_eq(cc.bytes_in_flight, 0);
}

/* ---- CUBIC ---- */

#define C_CUBIC 0.4
#define B_CUBIC 0.7

/* RFC 9438 eq. 1 in segments, computed independently of the engine. */
static double
rfc_w_cubic_seg(double t, double k, double wmax_seg)
{
	return C_CUBIC * pow(t - k, 3) + wmax_seg;
}

Test(cubic, reduction_k_and_window_growth)
{
	double k, alpha, w1, target, wc, inc;
	uint64_t cwnd1, expect;

	qb_cc_init(&cc, "cubic", MDS, 0);
	cc.cwnd = 100 * MDS;
	/* §4.6: beta 0.7; W_max = cwnd at the first event. */
	qb_cc_on_congestion_event(&cc, 0, false, 1 * SEC);
	cr_assert_eq(cc.cwnd, 70 * MDS);
	cr_assert_eq(cc.ssthresh, 70 * MDS);
	cr_assert_float_eq(cc.u.cubic.w_max, 100.0 * MDS, 1e-9);

	/* First ACK in congestion avoidance starts the epoch (t = 0). */
	ack(MDS, 1500 * MS, 100 * MS, 2 * SEC);
	k = cbrt((100.0 - 70.0) / C_CUBIC); /* eq. 2 in segments: cbrt(75) */
	cr_assert_float_eq(cc.u.cubic.k, k, 1e-9, "K = %f, want %f", cc.u.cubic.k, k);
	/* At t = 0, W_cubic(0) = cwnd_start < W_est: Reno-friendly region (§4.3):
	 * cwnd = W_est = 70 + alpha * acked / cwnd segments. */
	alpha = 3.0 * (1 - B_CUBIC) / (1 + B_CUBIC);
	w1 = 70.0 * MDS + alpha * MDS * MDS / (70.0 * MDS);
	cwnd1 = (uint64_t)w1;
	cr_assert_eq(cc.cwnd, cwnd1, "Reno-friendly: cwnd %lu want %lu", (unsigned long)cc.cwnd,
	             (unsigned long)cwnd1);

	/* One second later W_cubic(1) exceeds W_est: concave region (§4.4):
	 * cwnd += (target - cwnd) / cwnd per segment, target = W_cubic(t + RTT). */
	ack(MDS, 2900 * MS, 100 * MS, 3 * SEC);
	wc = rfc_w_cubic_seg(1.0, k, 100.0);
	cr_assert_gt(wc * MDS, w1 + alpha * MDS * MDS / (double)cwnd1, "W_cubic(1) > W_est");
	target = rfc_w_cubic_seg(1.1, k, 100.0) * MDS;
	inc = (target - (double)cwnd1) * MDS / (double)cwnd1;
	expect = cwnd1 + (uint64_t)inc;
	cr_assert(cc.cwnd + 1 >= expect && cc.cwnd <= expect + 1, "cwnd %lu want %lu",
	          (unsigned long)cc.cwnd, (unsigned long)expect);
}

Test(cubic, convex_region_is_capped_at_one_and_a_half_cwnd)
{
	uint64_t before;

	qb_cc_init(&cc, "cubic", MDS, 0);
	cc.cwnd = 100 * MDS;
	qb_cc_on_congestion_event(&cc, 0, false, 1 * SEC);
	ack(MDS, 1500 * MS, 100 * MS, 2 * SEC);
	/* 60 s later W_cubic is far above cwnd: target = 1.5 cwnd, so one
	 * whole-window ACK adds at most cwnd / 2. */
	before = cc.cwnd;
	ack(before, 61 * SEC, 100 * MS, 62 * SEC);
	cr_assert(cc.cwnd <= before + before / 2 + 1);
	cr_assert(cc.cwnd >= before + before / 2 - 1, "cwnd %lu", (unsigned long)cc.cwnd);
}

Test(cubic, fast_convergence_lowers_w_max)
{
	uint64_t c;

	qb_cc_init(&cc, "cubic", MDS, 0);
	cc.cwnd = 100 * MDS;
	qb_cc_on_congestion_event(&cc, 0, false, 1 * SEC);
	ack(MDS, 1500 * MS, 100 * MS, 2 * SEC);
	c = cc.cwnd; /* below W_max = 100 segments */
	qb_cc_on_congestion_event(&cc, 2500 * MS, false, 3 * SEC);
	cr_assert_float_eq(cc.u.cubic.w_max, c * (1 + B_CUBIC) / 2, 1e-6, "§4.7");
	cr_assert_eq(cc.cwnd, (uint64_t)(c * B_CUBIC));
	cr_assert_eq(cc.u.cubic.prior_cwnd, c);
}

Test(cubic, persistent_congestion_restarts_with_k_zero)
{
	qb_cc_init(&cc, "cubic", MDS, 0);
	cc.cwnd = 100 * MDS;
	qb_cc_on_congestion_event(&cc, 0, false, 1 * SEC);
	qb_cc_on_persistent_congestion(&cc, 1 * SEC);
	cr_assert_eq(cc.cwnd, 2 * MDS);
	/* Slow start up to ssthresh, then the epoch starts with K = 0 and
	 * W_max = cwnd_start (§4.8). */
	cc.ssthresh = 4 * MDS;
	ack(2 * MDS, 2 * SEC, 100 * MS, 2 * SEC);
	cr_assert_eq(cc.cwnd, 4 * MDS);
	ack(MDS, 2 * SEC, 100 * MS, 3 * SEC);
	cr_assert_float_eq(cc.u.cubic.k, 0.0, 1e-12);
	cr_assert_float_eq(cc.u.cubic.w_max, 4.0 * MDS, 1e-9);
	cr_assert_geq(cc.cwnd, 4 * MDS);
}

Test(cubic, recovery_period_blocks_growth)
{
	qb_cc_init(&cc, "cubic", MDS, 0);
	qb_cc_on_congestion_event(&cc, 0, false, 1 * SEC);
	cr_assert_eq(cc.cwnd, 8400);
	ack(MDS, 900 * MS, 100 * MS, 2 * SEC);
	cr_assert_eq(cc.cwnd, 8400);
	qb_cc_on_congestion_event(&cc, 999 * MS, false, 2 * SEC);
	cr_assert_eq(cc.cwnd, 8400, "one reduction per recovery period");
}

/* ---- HyStart++ (RFC 9406) in CUBIC's first slow start ---- */

static void
ackr(uint64_t bytes, uint64_t sent, uint64_t latest, uint64_t now)
{
	struct qb_cc_ack a = {.acked_bytes = bytes,
	                      .newest_time_sent = sent,
	                      .smoothed_rtt = latest,
	                      .latest_rtt = latest};

	qb_cc_on_ack(&cc, &a, now);
}

/* One round: its first ACK acknowledges a packet sent at round_sent (after
 * the previous round began), then n - 1 more from the same flight. */
static void
round_of(int n, uint64_t round_sent, uint64_t rtt, uint64_t now)
{
	int i;

	for (i = 0; i < n; i++)
		ackr(MDS, round_sent, rtt, now + (uint64_t)i);
}

Test(hystart, delay_increase_enters_css_then_avoidance)
{
	uint64_t before;
	int r;

	qb_cc_init(&cc, "cubic", MDS, 0);
	round_of(8, 1, 100 * MS, 100 * MS); /* round 1: min 100 ms */
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_SLOW_START);
	cr_assert_eq(cc.cwnd, 12000 + 8 * MDS, "slow start: + bytes acked");
	/* Round 2: 8 samples of 113 ms >= 100 + max(4, min(16, 100/8 = 12.5)) ms. */
	round_of(7, 150 * MS, 113 * MS, 200 * MS);
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_SLOW_START, "7 samples are not enough");
	round_of(1, 150 * MS, 113 * MS, 210 * MS);
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_CONSERVATIVE);
	cr_assert_eq(cc.u.cubic.hs_css_baseline, 113 * MS);
	/* CSS grows by a quarter of the bytes acked. */
	before = cc.cwnd;
	ackr(MDS, 150 * MS, 113 * MS, 220 * MS);
	cr_assert_eq(cc.cwnd, before + MDS / 4);
	/* Four more CSS rounds; the ACK that opens the fifth ends CSS:
	 * congestion avoidance with ssthresh = cwnd. */
	for (r = 0; r < 4; r++)
		round_of(8, (uint64_t)(350 + 100 * r) * MS, 113 * MS,
		         (uint64_t)(400 + 100 * r) * MS);
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_CONSERVATIVE);
	round_of(1, 750 * MS, 113 * MS, 800 * MS);
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_DONE);
	cr_assert_eq(cc.ssthresh, cc.cwnd);
	cr_assert_eq(cc.u.cubic.prior_cwnd, cc.cwnd);
	/* The first avoidance ACK: K = 0, W_max = cwnd (RFC 9438 §4.10). */
	before = cc.cwnd;
	ackr(MDS, 2000 * MS, 113 * MS, 2100 * MS);
	cr_assert_float_eq(cc.u.cubic.k, 0.0, 1e-12);
	cr_assert_float_eq(cc.u.cubic.w_max, (double)before, 1e-9);
}

Test(hystart, spurious_increase_resumes_slow_start)
{
	qb_cc_init(&cc, "cubic", MDS, 0);
	round_of(8, 1, 100 * MS, 100 * MS);
	round_of(8, 150 * MS, 120 * MS, 200 * MS);
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_CONSERVATIVE);
	round_of(8, 250 * MS, 100 * MS, 300 * MS); /* below the CSS baseline */
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_SLOW_START);
}

Test(hystart, small_jitter_stays_in_slow_start)
{
	qb_cc_init(&cc, "cubic", MDS, 0);
	round_of(8, 1, 20 * MS, 100 * MS);
	/* 20 ms: the threshold is the 4 ms floor; 23 ms is below it. */
	round_of(8, 150 * MS, 23 * MS, 200 * MS);
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_SLOW_START);
	round_of(8, 250 * MS, 27 * MS, 300 * MS); /* 27 >= 23 + 4 */
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_CONSERVATIVE);
}

Test(hystart, loss_ends_it)
{
	qb_cc_init(&cc, "cubic", MDS, 0);
	round_of(8, 1, 100 * MS, 100 * MS);
	qb_cc_on_congestion_event(&cc, 50 * MS, false, 150 * MS);
	cr_assert_eq(cc.u.cubic.hs_state, QB_HS_DONE);
}

/* ---- Pacer ---- */

Test(pacer, rate_is_five_quarters_cwnd_per_srtt)
{
	struct qb_pacer p;

	cr_assert_eq(qb_pacer_init(&p, MDS, 0, 0), 0);
	qb_pacer_set_rate(&p, 12000, 100 * MS, 0);
	cr_assert_eq(p.rate, 150000, "1.25 * 12000 B / 0.1 s");
	qb_pacer_set_rate(&p, 1000000, 10 * MS, 0);
	cr_assert_eq(p.rate, 125000000);
}

Test(pacer, burst_then_spacing)
{
	struct qb_pacer p;
	int i;

	cr_assert_eq(qb_pacer_init(&p, MDS, 10, 0), 0);
	cr_assert_eq(qb_pacer_next_send_time(&p, 0), 0, "unpaced before a rate is set");
	qb_pacer_set_rate(&p, 12000, 100 * MS, 0);
	cr_assert_eq(qb_pacer_quota(&p, 0), 10, "a full burst at once");
	for (i = 0; i < 10; i++) {
		cr_assert_leq(qb_pacer_next_send_time(&p, 0), 0);
		qb_pacer_on_sent(&p, MDS, 0);
	}
	cr_assert_eq(qb_pacer_quota(&p, 0), 0);
	/* 1200 B at 150000 B/s: 8 ms between packets. */
	cr_assert_eq(qb_pacer_next_send_time(&p, 0), 8 * MS);
	cr_assert_eq(qb_pacer_quota(&p, 8 * MS - 1), 0);
	cr_assert_eq(qb_pacer_quota(&p, 8 * MS), 1);
	qb_pacer_on_sent(&p, MDS, 8 * MS);
	cr_assert_eq(qb_pacer_next_send_time(&p, 10 * MS), 16 * MS);
	/* Idle credit is capped at the burst. */
	cr_assert_eq(qb_pacer_quota(&p, 10 * SEC), 10);
	cr_assert_eq(qb_pacer_quota(&p, 1000 * SEC), 10);
}
