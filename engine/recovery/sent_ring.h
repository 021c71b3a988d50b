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

/* Copies the records held to new slots; sequences (and skips) are unchanged. */
int qb_sent_move(struct qb_sent_ring *r, struct qb_sent_pkt *slots, uint32_t cap);

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
static inline struct qb_sent_pkt *
qb_sent_push(struct qb_sent_ring *r)
{
	struct qb_sent_pkt *p = qb_sent_at(r, r->head);

	r->head++;
	return p;
}

/*
 * First live record at or after seq (head if none). *acked_between is set
 * when an acknowledged record lies in [seq, result).
 */
static inline uint64_t
qb_sent_next_live(struct qb_sent_ring *r, uint64_t seq, bool *acked_between)
{
	bool acked = false;

	while (seq < r->head) {
		struct qb_sent_pkt *e = qb_sent_at(r, seq);
		uint64_t n;

		if (!(e->flags & QB_SENT_REMOVED))
			break;
		n = seq + e->skip;
		if (n < r->head) {
			struct qb_sent_pkt *f = qb_sent_at(r, n);

			/* Path halving: e now spans what f spanned too. */
			if (f->flags & QB_SENT_REMOVED) {
				e->skip += f->skip;
				e->flags |= f->flags & QB_SENT_SPAN_ACKED;
			}
		}
		acked |= (e->flags & QB_SENT_SPAN_ACKED) != 0;
		seq += e->skip;
	}
	if (acked_between != NULL && acked)
		*acked_between = true;
	return seq < r->head ? seq : r->head;
}

/* First sequence in [tail, head) whose pn >= pn (head if none). */
static inline uint64_t
qb_sent_lower_bound(const struct qb_sent_ring *r, uint64_t pn)
{
	uint64_t lo = r->tail, hi = r->head;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (qb_sent_at(r, mid)->pn < pn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Advances the tail past removed records. */
static inline void
qb_sent_advance_tail(struct qb_sent_ring *r)
{
	r->tail = qb_sent_next_live(r, r->tail, NULL);
}

/* Marks a live record removed (acked: it was acknowledged); frees slots at the tail. */
static inline void
qb_sent_remove(struct qb_sent_ring *r, uint64_t seq, bool acked)
{
	struct qb_sent_pkt *e = qb_sent_at(r, seq);

	e->flags |= QB_SENT_REMOVED;
	if (acked)
		e->flags |= QB_SENT_SPAN_ACKED;
	e->skip = 1;
	if (seq == r->tail)
		qb_sent_advance_tail(r);
}

#endif
