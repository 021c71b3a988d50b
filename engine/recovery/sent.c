/* SPDX-License-Identifier: BSD-3-Clause */
/* The sent-packet ring (see sent_ring.h for the design). */
#include <string.h>

#include "recovery/sent_ring.h"

int
qb_sent_init(struct qb_sent_ring *r, struct qb_sent_pkt *slots, uint32_t cap)
{
	if (slots == NULL || cap == 0 || (cap & (cap - 1)) != 0 || cap > (1u << 30))
		return QB_ERR_ARG;
	memset(r, 0, sizeof(*r));
	r->slots = slots;
	r->mask = cap - 1;
	return 0;
}
