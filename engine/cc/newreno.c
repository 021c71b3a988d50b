/* SPDX-License-Identifier: BSD-3-Clause */
/* NewReno, RFC 9002 §7.3 and Appendix B. */
#include "cc/cc_algos.h"

static void
reno_init(struct qb_cc *cc, uint64_t now)
{
	(void)now;
	cc->u.reno.bytes_acked = 0;
}

/* Appendix B.5 OnPacketAcked, once per ACK frame. */
static void
reno_on_ack(struct qb_cc *cc, const struct qb_cc_ack *ack, uint64_t now)
{
	uint64_t acked = ack->acked_bytes - ack->recovery_bytes;

	(void)now;
	/* §7.8: no growth when the window was not the limit. */
	if (cc->app_limited)
		return;
	/* §7.3.2: no growth for packets sent during the recovery period. */
	if (qb_cc_in_recovery(cc, ack->newest_time_sent))
		return;
	if (cc->cwnd < cc->ssthresh) {
		cc->cwnd += acked; /* §7.3.1 slow start */
		return;
	}
	/*
	 * §7.3.3: at most one max_datagram_size per window acknowledged,
	 * counted in bytes (RFC 3465 §2.1) so integer division loses nothing.
	 */
	cc->u.reno.bytes_acked += acked;
	while (cc->u.reno.bytes_acked >= cc->cwnd) {
		cc->u.reno.bytes_acked -= cc->cwnd;
		cc->cwnd += cc->max_datagram_size;
	}
}

/* Appendix B.6 OnCongestionEvent: kLossReductionFactor 0.5. */
static void
reno_on_congestion_event(struct qb_cc *cc, bool ecn, uint64_t now)
{
	uint64_t min = qb_cc_minimum_window(cc->max_datagram_size);

	(void)ecn;
	(void)now;
	cc->ssthresh = cc->cwnd / 2;
	cc->cwnd = cc->ssthresh > min ? cc->ssthresh : min;
	cc->u.reno.bytes_acked = 0;
}

static void
reno_on_persistent_congestion(struct qb_cc *cc, uint64_t now)
{
	(void)now;
	cc->cwnd = qb_cc_minimum_window(cc->max_datagram_size); /* §7.6.2 */
	cc->u.reno.bytes_acked = 0;
}

const struct qb_cc_ops qb_cc_newreno_ops = {
        .name = "newreno",
        .init = reno_init,
        .on_ack = reno_on_ack,
        .on_congestion_event = reno_on_congestion_event,
        .on_persistent_congestion = reno_on_persistent_congestion,
};
