/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUBIC, RFC 9438, with windows in bytes (§4.1: segments times
 * max_datagram_size, bytes acknowledged in place of segments) on top of
 * RFC 9002's recovery period and minimum window. The first slow start uses
 * HyStart++ (RFC 9406, as §4.10 recommends); later ones (after persistent
 * congestion) are Reno's. Rounds are told apart by send time: a round ends
 * when a packet sent after it began is acknowledged. The sender paces, so
 * the burst limit L is infinite (RFC 9406 §4.3).
 */
#include <math.h>

#include "cc/cc_algos.h"

#define CUBIC_C    0.4 /* segments / s^3, §5 */
#define CUBIC_BETA 0.7 /* beta_cubic, §4.6 */

static void
cubic_init(struct qb_cc *cc, uint64_t now)
{
	struct qb_cubic *c = &cc->u.cubic;

	(void)now;
	c->w_max = 0;
	c->k = 0;
	c->w_est = 0;
	c->cwnd_start = 0;
	c->cwnd_frac = 0;
	c->prior_cwnd = 0;
	c->epoch_start = 0;
	c->last_ack_time = 0;
	c->in_epoch = false;
	c->fast_convergence = true;
	c->hystart = true;
	c->hs_state = QB_HS_SLOW_START;
	c->hs_samples = 0;
	c->hs_css_rounds = 0;
	c->hs_round_start = 0;
	c->hs_cur_min = UINT64_MAX;
	c->hs_last_min = UINT64_MAX;
	c->hs_css_baseline = UINT64_MAX;
}

/* RFC 9406 §4.2 constants. */
#define HS_MIN_RTT_THRESH  (4 * 1000000ull)
#define HS_MAX_RTT_THRESH  (16 * 1000000ull)
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE    8
#define HS_CSS_GROWTH_DIV  4
#define HS_CSS_ROUNDS      5

/* RFC 9406 §4.3, for one ACK in the first slow start. */
static void
hystart_on_ack(struct qb_cc *cc, const struct qb_cc_ack *ack, uint64_t now)
{
	struct qb_cubic *c = &cc->u.cubic;

	if (ack->newest_time_sent > c->hs_round_start) {
		/* A new round: remember the last one's minimum. */
		c->hs_round_start = now;
		c->hs_last_min = c->hs_cur_min;
		c->hs_cur_min = UINT64_MAX;
		c->hs_samples = 0;
		if (c->hs_state == QB_HS_CONSERVATIVE && ++c->hs_css_rounds >= HS_CSS_ROUNDS) {
			/* Enough CSS rounds: congestion avoidance from here,
			 * with W_max = cwnd and K = 0 (RFC 9438 §4.10). */
			c->hs_state = QB_HS_DONE;
			cc->ssthresh = cc->cwnd;
			c->prior_cwnd = cc->cwnd;
			return;
		}
	}
	if (ack->latest_rtt != 0) {
		if (ack->latest_rtt < c->hs_cur_min)
			c->hs_cur_min = ack->latest_rtt;
		c->hs_samples++;
	}
	if (c->hs_state == QB_HS_SLOW_START) {
		cc->cwnd += ack->acked_bytes;
		if (c->hs_samples >= HS_N_RTT_SAMPLE && c->hs_cur_min != UINT64_MAX &&
		    c->hs_last_min != UINT64_MAX) {
			uint64_t thresh = c->hs_last_min / HS_MIN_RTT_DIVISOR;

			if (thresh < HS_MIN_RTT_THRESH)
				thresh = HS_MIN_RTT_THRESH;
			if (thresh > HS_MAX_RTT_THRESH)
				thresh = HS_MAX_RTT_THRESH;
			if (c->hs_cur_min >= c->hs_last_min + thresh) {
				/* The delay grew: conservative slow start. */
				c->hs_css_baseline = c->hs_cur_min;
				c->hs_state = QB_HS_CONSERVATIVE;
				c->hs_css_rounds = 0;
			}
		}
		return;
	}
	cc->cwnd += ack->acked_bytes / HS_CSS_GROWTH_DIV;
	if (c->hs_samples >= HS_N_RTT_SAMPLE && c->hs_cur_min < c->hs_css_baseline) {
		/* The delay increase was spurious: back to slow start. */
		c->hs_css_baseline = UINT64_MAX;
		c->hs_state = QB_HS_SLOW_START;
	}
}

/* W_cubic(t) of eq. 1, in bytes; t in seconds. */
static double
w_cubic(const struct qb_cc *cc, double t)
{
	const struct qb_cubic *c = &cc->u.cubic;
	double d = t - c->k;

	return CUBIC_C * d * d * d * cc->max_datagram_size + c->w_max;
}

/* Starts a congestion avoidance stage (§4.2 eq. 2, §4.8, §4.10). */
static void
start_epoch(struct qb_cc *cc, uint64_t now)
{
	struct qb_cubic *c = &cc->u.cubic;
	double cwnd = (double)cc->cwnd;

	c->in_epoch = true;
	c->epoch_start = now;
	c->cwnd_start = cwnd;
	c->w_est = cwnd; /* §4.3: W_est = cwnd_start */
	c->cwnd_frac = 0;
	if (c->w_max <= cwnd) {
		/* No loss yet, or after a timeout: K = 0, W_max = cwnd_start. */
		c->k = 0;
		c->w_max = cwnd;
	} else {
		c->k = cbrt((c->w_max - cwnd) / cc->max_datagram_size / CUBIC_C);
	}
}

static void
cubic_on_ack(struct qb_cc *cc, const struct qb_cc_ack *ack, uint64_t now)
{
	struct qb_cubic *c = &cc->u.cubic;
	double cwnd, acked, t, rtt, target, wc, alpha, inc;

	/* RFC 9002 §7.3.2: the newest packet inside the period means all are;
	 * otherwise only those sent after it started count (Appendix B.5). */
	if (qb_cc_in_recovery(cc, ack->newest_time_sent))
		return;
	if (cc->app_limited) {
		/* §4.2: t excludes application-limited periods. */
		if (c->in_epoch && now > c->last_ack_time)
			c->epoch_start += now - c->last_ack_time;
		c->last_ack_time = now;
		return;
	}
	c->last_ack_time = now;
	if (cc->cwnd < cc->ssthresh) {
		if (c->hystart && c->hs_state != QB_HS_DONE)
			hystart_on_ack(cc, ack, now);
		else
			cc->cwnd += ack->acked_bytes - ack->recovery_bytes; /* slow start */
		return;
	}
	if (!c->in_epoch)
		start_epoch(cc, now);

	cwnd = (double)cc->cwnd;
	acked = (double)(ack->acked_bytes - ack->recovery_bytes);
	t = (double)(now - c->epoch_start) / 1e9;
	rtt = (double)ack->smoothed_rtt / 1e9;

	/* §4.2: target = W_cubic(t + RTT), within [cwnd, 1.5 cwnd]. */
	target = w_cubic(cc, t + rtt);
	if (target < cwnd)
		target = cwnd;
	else if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;

	/* §4.3 eq. 4, alpha 1 once W_est reaches prior_cwnd. */
	alpha = c->w_est >= (double)c->prior_cwnd ? 1.0
	                                          : 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
	c->w_est += alpha * cc->max_datagram_size * acked / cwnd;

	wc = w_cubic(cc, t);
	if (wc < c->w_est) {
		/* Reno-friendly region: cwnd follows W_est (never shrinks). */
		if (c->w_est > cwnd + 1.0)
			cc->cwnd = (uint64_t)c->w_est;
		c->cwnd_frac = 0;
		return;
	}
	/* Concave and convex regions (§4.4, §4.5): (target - cwnd) / cwnd
	 * per segment acknowledged; the fraction of a byte carries over. */
	inc = (target - cwnd) * acked / cwnd + c->cwnd_frac;
	c->cwnd_frac = inc - floor(inc);
	cc->cwnd += (uint64_t)inc;
}

/* §4.6 multiplicative decrease with §4.7 fast convergence. */
static void
cubic_on_congestion_event(struct qb_cc *cc, bool ecn, uint64_t now)
{
	struct qb_cubic *c = &cc->u.cubic;
	double cwnd = (double)cc->cwnd;
	uint64_t min = qb_cc_minimum_window(cc->max_datagram_size);
	uint64_t ss;

	(void)ecn; /* RFC 9002 §7.2 keeps 2 * mds as the floor for both */
	(void)now;
	if (c->fast_convergence && cwnd < c->w_max)
		c->w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
	else
		c->w_max = cwnd;
	/* ssthresh from cwnd, as §4.6 notes many implementations do. */
	c->hs_state = QB_HS_DONE; /* RFC 9406 §4.3: a loss ends HyStart++ */
	ss = (uint64_t)(cwnd * CUBIC_BETA);
	c->prior_cwnd = cc->cwnd;
	cc->cwnd = ss > min ? ss : min;
	cc->ssthresh = ss > min ? ss : min;
	c->in_epoch = false;
}

/* §4.8: after a timeout, restart from the minimum window with K = 0. */
static void
cubic_on_persistent_congestion(struct qb_cc *cc, uint64_t now)
{
	struct qb_cubic *c = &cc->u.cubic;

	(void)now;
	cc->cwnd = qb_cc_minimum_window(cc->max_datagram_size);
	c->w_max = 0;
	c->in_epoch = false;
}

const struct qb_cc_ops qb_cc_cubic_ops = {
        .name = "cubic",
        .init = cubic_init,
        .on_ack = cubic_on_ack,
        .on_congestion_event = cubic_on_congestion_event,
        .on_persistent_congestion = cubic_on_persistent_congestion,
};
