/* SPDX-License-Identifier: BSD-3-Clause */
/* RTT estimation, RFC 9002 §5 and Appendix A.7 (UpdateRtt). */
#include "qburst/recovery.h"

void
qb_rtt_init(struct qb_rtt *rtt, uint64_t initial_rtt)
{
	if (initial_rtt == 0)
		initial_rtt = QB_INITIAL_RTT_NS;
	rtt->initial = initial_rtt;
	rtt->latest = 0;
	rtt->smoothed = initial_rtt; /* §5.3 */
	rtt->rttvar = initial_rtt / 2;
	rtt->min = 0;
	rtt->first_sample_time = 0;
	rtt->has_sample = false;
}

void
qb_rtt_update(struct qb_rtt *rtt, uint64_t latest_rtt, uint64_t ack_delay, uint64_t max_ack_delay,
              bool handshake_confirmed, uint64_t now)
{
	uint64_t adjusted, diff;

	rtt->latest = latest_rtt;
	if (!rtt->has_sample) {
		/* §5.3: the first sample resets the estimator. */
		rtt->min = latest_rtt;
		rtt->smoothed = latest_rtt;
		rtt->rttvar = latest_rtt / 2;
		rtt->first_sample_time = now;
		rtt->has_sample = true;
		return;
	}
	/* §5.2: min_rtt ignores the acknowledgment delay. */
	if (latest_rtt < rtt->min)
		rtt->min = latest_rtt;
	/* §5.3: the peer's max_ack_delay binds only after confirmation. */
	if (handshake_confirmed && ack_delay > max_ack_delay)
		ack_delay = max_ack_delay;
	adjusted = latest_rtt;
	if (latest_rtt >= rtt->min + ack_delay)
		adjusted = latest_rtt - ack_delay;
	/* Appendix A.7 order: rttvar from the previous smoothed_rtt. */
	diff = rtt->smoothed > adjusted ? rtt->smoothed - adjusted : adjusted - rtt->smoothed;
	rtt->rttvar = (3 * rtt->rttvar + diff) / 4;
	rtt->smoothed = (7 * rtt->smoothed + adjusted) / 8;
}

uint64_t
qb_rtt_pto_base(const struct qb_rtt *rtt)
{
	uint64_t v = 4 * rtt->rttvar;

	return rtt->smoothed + (v > QB_GRANULARITY_NS ? v : QB_GRANULARITY_NS);
}

uint64_t
qb_ack_delay_decode(uint64_t field, uint8_t exponent)
{
	uint64_t us;

	if (exponent > 20)
		return UINT64_MAX; /* RFC 9000 §18.2: values above 20 are invalid */
	if (field > (UINT64_MAX / 1000) >> exponent)
		return UINT64_MAX;
	us = field << exponent;
	return us * 1000;
}
