/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The algorithm-independent half of congestion control (RFC 9002 §7,
 * Appendix B): bytes in flight, the recovery period and the windows' bounds.
 * Algorithms only decide how cwnd grows and shrinks.
 */
#include <string.h>

#include "cc/cc_algos.h"

static const struct qb_cc_ops *const algos[] = {
        &qb_cc_newreno_ops,
        &qb_cc_cubic_ops,
};

const struct qb_cc_ops *
qb_cc_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
		if (strcmp(algos[i]->name, name) == 0)
			return algos[i];
	return NULL;
}

uint64_t
qb_cc_initial_window(uint32_t mds)
{
	/* §7.2: min(10 * mds, max(14720, 2 * mds)). */
	uint64_t lim = 2ull * mds > 14720 ? 2ull * mds : 14720;

	return 10ull * mds < lim ? 10ull * mds : lim;
}

uint64_t
qb_cc_minimum_window(uint32_t mds)
{
	return 2ull * mds; /* §7.2 */
}

int
qb_cc_init(struct qb_cc *cc, const char *name, uint32_t max_datagram_size, uint64_t now)
{
	const struct qb_cc_ops *ops = qb_cc_find(name);

	if (ops == NULL)
		return QB_ERR_UNSUPPORTED;
	if (max_datagram_size < 1200)
		return QB_ERR_ARG;
	memset(cc, 0, sizeof(*cc));
	cc->ops = ops;
	cc->max_datagram_size = max_datagram_size;
	cc->cwnd = qb_cc_initial_window(max_datagram_size);
	cc->ssthresh = UINT64_MAX;
	ops->init(cc, now);
	return 0;
}

static void
leave_flight(struct qb_cc *cc, uint64_t bytes)
{
	cc->bytes_in_flight = cc->bytes_in_flight > bytes ? cc->bytes_in_flight - bytes : 0;
}

void
qb_cc_on_ack(struct qb_cc *cc, const struct qb_cc_ack *ack, uint64_t now)
{
	leave_flight(cc, ack->acked_bytes);
	if (ack->acked_bytes > 0)
		cc->ops->on_ack(cc, ack, now);
}

void
qb_cc_on_lost(struct qb_cc *cc, uint64_t bytes)
{
	leave_flight(cc, bytes);
}

void
qb_cc_on_discarded(struct qb_cc *cc, uint64_t bytes)
{
	leave_flight(cc, bytes);
}

void
qb_cc_on_congestion_event(struct qb_cc *cc, uint64_t sent_time, bool ecn, uint64_t now)
{
	/* §7.3.2: no reaction within the current recovery period. */
	if (qb_cc_in_recovery(cc, sent_time))
		return;
	cc->recovery_start = now;
	cc->has_recovery_start = true;
	cc->congestion_events++;
	cc->ops->on_congestion_event(cc, ecn, now);
}

void
qb_cc_on_persistent_congestion(struct qb_cc *cc, uint64_t now)
{
	cc->persistent_events++;
	cc->ops->on_persistent_congestion(cc, now);
	/* Appendix B.8: congestion_recovery_start_time = 0. */
	cc->has_recovery_start = false;
}

void
qb_cc_set_max_datagram_size(struct qb_cc *cc, uint32_t max_datagram_size)
{
	uint64_t min;

	if (max_datagram_size < 1200)
		return;
	cc->max_datagram_size = max_datagram_size;
	min = qb_cc_minimum_window(max_datagram_size);
	if (cc->cwnd < min)
		cc->cwnd = min;
}
