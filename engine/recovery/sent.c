/* SPDX-License-Identifier: BSD-3-Clause */
/* The sent-packet ring (see sent_ring.h for the design). */
#include <string.h>

#include "recovery/sent_ring.h"

/* The path id fits in the padding: a record stays 32 bytes. */
_Static_assert(sizeof(struct qb_sent_pkt) == 32, "sent-packet record grew");

static bool
cap_ok(const struct qb_sent_pkt *slots, uint32_t cap)
{
	return slots != NULL && cap != 0 && (cap & (cap - 1)) == 0 && cap <= (1u << 30);
}

int
qb_sent_init(struct qb_sent_ring *r, struct qb_sent_pkt *slots, uint32_t cap)
{
	if (!cap_ok(slots, cap))
		return QB_ERR_ARG;
	memset(r, 0, sizeof(*r));
	r->slots = slots;
	r->mask = cap - 1;
	return 0;
}

int
qb_sent_move(struct qb_sent_ring *r, struct qb_sent_pkt *slots, uint32_t cap)
{
	uint64_t seq;

	if (!cap_ok(slots, cap))
		return QB_ERR_ARG;
	if (r->head - r->tail > cap)
		return QB_ERR_NOBUF;
	/* Slots are indexed by sequence, and skips are distances between
	 * sequences, so each record keeps its meaning in the new ring. */
	for (seq = r->tail; seq < r->head; seq++)
		slots[seq & (cap - 1)] = r->slots[seq & r->mask];
	r->slots = slots;
	r->mask = cap - 1;
	return 0;
}
