/* SPDX-License-Identifier: BSD-3-Clause */
/* The sent-packet ring (see sent_ring.h for the design). */
#include <string.h>

#include "recovery/sent_ring.h"

int
qb_sent_init(struct qb_sent_ring *r, struct qb_sent_pkt *slots, uint32_t cap)
{
	if (slots == NULL || cap == 0 || (cap & (cap - 1)) != 0)
		return QB_ERR_ARG;
	memset(r, 0, sizeof(*r));
	r->slots = slots;
	r->mask = cap - 1;
	return 0;
}

struct qb_sent_pkt *
qb_sent_push(struct qb_sent_ring *r)
{
	struct qb_sent_pkt *p = qb_sent_at(r, r->head);

	r->head++;
	return p;
}

uint64_t
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

uint64_t
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

void
qb_sent_advance_tail(struct qb_sent_ring *r)
{
	r->tail = qb_sent_next_live(r, r->tail, NULL);
}

void
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
