/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pacer, RFC 9002 §7.7: a leaky bucket whose capacity is the burst (N
 * datagrams, like the burst engine's) and whose fill rate is
 * 1.25 * cwnd / smoothed_rtt. Credit is kept in byte-nanoseconds-per-second
 * units (bytes * 1e9) so that elapsed_ns * rate_Bps adds exactly, without
 * rounding drift between calls.
 */
#include "qburst/cc.h"

#define NS_PER_S 1000000000ull
#define RATE_MAX 1000000000000000ull /* 1 PB/s: keeps products in range */

int
qb_pacer_init(struct qb_pacer *p, uint32_t max_datagram_size, uint32_t burst_packets, uint64_t now)
{
	if (max_datagram_size == 0 || max_datagram_size > 65535 ||
	    burst_packets > QB_PACER_BURST_MAX)
		return QB_ERR_ARG;
	if (burst_packets == 0)
		burst_packets = QB_PACER_BURST;
	p->mds = max_datagram_size;
	p->burst_packets = burst_packets;
	p->capacity = (uint64_t)burst_packets * max_datagram_size * NS_PER_S;
	p->tokens = p->capacity;
	p->rate = 0;
	p->last = now;
	return 0;
}

void
qb_pacer_refill(struct qb_pacer *p, uint64_t now)
{
	uint64_t el, room, earned;

	if (now <= p->last)
		return;
	el = now - p->last;
	p->last = now;
	if (p->rate == 0) {
		p->tokens = p->capacity;
		return;
	}
	room = p->capacity - p->tokens;
	/* A product, not room / rate: a division is ~40 cycles, and this runs
	 * once per burst. Full when the credit earned reaches the room. */
	if (__builtin_mul_overflow(el, p->rate, &earned) || earned >= room)
		p->tokens = p->capacity;
	else
		p->tokens += earned;
	if (p->tokens > p->capacity)
		p->tokens = p->capacity;
}

void
qb_pacer_set_rate(struct qb_pacer *p, uint64_t cwnd, uint64_t smoothed_rtt, uint64_t now)
{
	unsigned __int128 r;

	qb_pacer_refill(p, now); /* credit earned so far at the old rate */
	if (smoothed_rtt == 0) {
		p->rate = 0;
		return;
	}
	r = (unsigned __int128)cwnd * QB_PACER_N_NUM * NS_PER_S / QB_PACER_N_DEN / smoothed_rtt;
	p->rate = r > RATE_MAX ? RATE_MAX : (uint64_t)r;
	if (p->rate == 0)
		p->rate = 1;
}

uint64_t
qb_pacer_next_send_time(struct qb_pacer *p, uint64_t now)
{
	uint64_t need = (uint64_t)p->mds * NS_PER_S;

	qb_pacer_refill(p, now);
	if (p->rate == 0 || p->tokens >= need)
		return now;
	need -= p->tokens;
	return now + (need + p->rate - 1) / p->rate;
}

uint32_t
qb_pacer_quota(struct qb_pacer *p, uint64_t now)
{
	qb_pacer_refill(p, now);
	if (p->rate == 0)
		return p->burst_packets;
	return (uint32_t)(p->tokens / ((uint64_t)p->mds * NS_PER_S));
}

uint32_t
qb_pacer_quota_of(struct qb_pacer *p, uint64_t now, uint32_t size)
{
	uint64_t need = (uint64_t)p->mds * NS_PER_S, cost = (uint64_t)(size ? size : 1) * NS_PER_S;

	qb_pacer_refill(p, now);
	if (p->rate == 0)
		return p->burst_packets;
	/* Each goes while a max_datagram_size of credit is left, and takes its size. */
	if (p->tokens < need)
		return 0;
	return (uint32_t)((p->tokens - need) / cost + 1);
}
