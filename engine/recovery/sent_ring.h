/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_RECOVERY_SENT_RING_H
#define QB_RECOVERY_SENT_RING_H

/*
 * Internal: the sent-packet ring. Records are appended in send order, so
 * packet numbers and send times increase from tail to head. A record leaves
 * by being marked removed; its `skip` then jumps to a later record, and
 * lookups compress those jumps (path halving, as in union-find), so walking
 * from one live record to the next costs amortised O(1) however many
 * acknowledged records lie between. The tail moves past removed records and
 * frees their slots.
 */
#include "qburst/recovery.h"

int qb_sent_init(struct qb_sent_ring *r, struct qb_sent_pkt *slots, uint32_t cap);

static inline struct qb_sent_pkt *
qb_sent_at(const struct qb_sent_ring *r, uint64_t seq)
{
	return &r->slots[seq & r->mask];
}

static inline bool
qb_sent_full(const struct qb_sent_ring *r)
{
	return r->head - r->tail > r->mask;
}

/* Appends a record; the caller checked qb_sent_full() and the pn order. */
struct qb_sent_pkt *qb_sent_push(struct qb_sent_ring *r);

/*
 * First live record at or after seq (head if none). *acked_between is OR-ed
 * with whether an acknowledged record lies in [seq, result).
 */
uint64_t qb_sent_next_live(struct qb_sent_ring *r, uint64_t seq, bool *acked_between);

/* First sequence in [tail, head) whose pn >= pn (head if none). */
uint64_t qb_sent_lower_bound(const struct qb_sent_ring *r, uint64_t pn);

/* Marks a live record removed (acked: it was acknowledged) and advances the tail. */
void qb_sent_remove(struct qb_sent_ring *r, uint64_t seq, bool acked);

/* Advances the tail past removed records. */
void qb_sent_advance_tail(struct qb_sent_ring *r);

#endif
