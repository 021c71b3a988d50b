/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Received packet numbers and ACK generation (RFC 9000 §13.2).
 *
 * Ranges are kept ascending in caller storage, so the common case (the next
 * packet in order) extends the last range in O(1). When storage is full the
 * oldest range is dropped and the duplicate floor rises to the new lowest
 * range: a packet below the floor is refused, never acknowledged twice
 * (RFC 9000 §13.2.3: keep a minimum that rises as ranges are discarded).
 */
#include <string.h>

#include "qburst/recovery.h"

int
qb_rx_init(struct qb_rx_space *rx, struct qb_pn_range *storage, uint32_t cap,
           uint64_t max_ack_delay, uint8_t ack_delay_exponent)
{
	if (rx == NULL || storage == NULL || cap == 0 || ack_delay_exponent > 20)
		return QB_ERR_ARG;
	memset(rx, 0, sizeof(*rx));
	rx->ranges = storage;
	rx->cap = cap;
	rx->largest = QB_PN_NONE;
	rx->largest_eliciting = QB_PN_NONE;
	rx->max_ack_delay = max_ack_delay;
	rx->ack_deadline = QB_TIME_NONE;
	/* RFC 9000 §13.2.2: ack at least every second ack-eliciting packet. */
	rx->ack_threshold = max_ack_delay == 0 ? 1 : 2;
	rx->ack_delay_exponent = ack_delay_exponent;
	return 0;
}

int
qb_rx_move(struct qb_rx_space *rx, struct qb_pn_range *storage, uint32_t cap)
{
	if (storage == NULL || cap == 0 || cap < rx->n)
		return QB_ERR_ARG;
	memmove(storage, rx->ranges, rx->n * sizeof(rx->ranges[0]));
	rx->ranges = storage;
	rx->cap = cap;
	return 0;
}

/* Index of the last range with lo <= pn, or -1. */
static int32_t
find_range(const struct qb_rx_space *rx, uint64_t pn)
{
	int32_t lo = 0, hi = (int32_t)rx->n - 1, ans = -1;

	/* Most lookups hit the newest range: check it before bisecting. */
	if (rx->n > 0 && rx->ranges[rx->n - 1].lo <= pn)
		return (int32_t)rx->n - 1;
	while (lo <= hi) {
		int32_t mid = lo + (hi - lo) / 2;

		if (rx->ranges[mid].lo <= pn) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

bool
qb_rx_is_duplicate(const struct qb_rx_space *rx, uint64_t pn)
{
	int32_t i;

	if (pn < rx->floor)
		return true;
	i = find_range(rx, pn);
	return i >= 0 && pn <= rx->ranges[i].hi;
}

static void
drop_oldest(struct qb_rx_space *rx)
{
	uint64_t above = rx->ranges[0].hi + 1;

	memmove(&rx->ranges[0], &rx->ranges[1], (rx->n - 1) * sizeof(rx->ranges[0]));
	rx->n--;
	/* Refuse the dropped range and the gap above it: a pn there would
	 * need a slot below every range, which is what just ran out. */
	rx->floor = rx->n > 0 ? rx->ranges[0].lo : above;
}

/*
 * Inserts pn (not a duplicate). Returns the index of the range now holding
 * it, or -1 when it cannot be tracked (below every range with storage full).
 */
static int32_t
insert(struct qb_rx_space *rx, uint64_t pn)
{
	int32_t i = find_range(rx, pn);
	uint32_t at;

	if (i >= 0 && pn == rx->ranges[i].hi + 1) {
		rx->ranges[i].hi = pn;
		if ((uint32_t)i + 1 < rx->n && rx->ranges[i + 1].lo == pn + 1) {
			/* pn filled the last gap between two ranges: merge them. */
			rx->ranges[i].hi = rx->ranges[i + 1].hi;
			memmove(&rx->ranges[i + 1], &rx->ranges[i + 2],
			        (rx->n - (uint32_t)i - 2) * sizeof(rx->ranges[0]));
			rx->n--;
		}
		return i;
	}
	if ((uint32_t)(i + 1) < rx->n && rx->ranges[i + 1].lo == pn + 1) {
		rx->ranges[i + 1].lo = pn;
		return i + 1;
	}
	/* A new range after index i. */
	if (rx->n == rx->cap) {
		if (i < 0)
			return -1;
		drop_oldest(rx);
		i--;
		if (i < 0 && pn < rx->floor)
			return -1;
	}
	at = (uint32_t)(i + 1);
	memmove(&rx->ranges[at + 1], &rx->ranges[at], (rx->n - at) * sizeof(rx->ranges[0]));
	rx->ranges[at].lo = pn;
	rx->ranges[at].hi = pn;
	rx->n++;
	return (int32_t)at;
}

int
qb_rx_on_packet(struct qb_rx_space *rx, uint64_t pn, bool ack_eliciting, enum qb_ecn ecn,
                uint64_t now)
{
	bool immediate = false;
	int32_t r;

	if (qb_rx_is_duplicate(rx, pn))
		return 1;
	r = insert(rx, pn);
	if (r < 0)
		return 1;

	if (ecn == QB_ECN_ECT0)
		rx->ecn[0]++;
	else if (ecn == QB_ECN_ECT1)
		rx->ecn[1]++;
	else if (ecn == QB_ECN_CE)
		rx->ecn[2]++;

	if (rx->largest == QB_PN_NONE || pn > rx->largest) {
		rx->largest = pn;
		rx->largest_time = now;
	} else if (rx->largest - pn > rx->reorder) {
		rx->reorder = rx->largest - pn;
	}
	rx->ack_pending = true;
	if (!ack_eliciting)
		return 0; /* §13.2.1: only ack-eliciting packets start the clock */

	if (rx->largest_eliciting != QB_PN_NONE) {
		if (pn < rx->largest_eliciting) {
			immediate = true; /* §13.2.1: reordered */
		} else {
			/*
			 * §13.2.1: a gap between the largest ack-eliciting
			 * packet and this one. Packets below the floor count
			 * as received (they can no longer be acknowledged).
			 */
			const struct qb_pn_range *rg = &rx->ranges[r];

			if (rg->lo > rx->largest_eliciting + 1 && rg->lo != rx->floor)
				immediate = true;
		}
	}
	if (rx->largest_eliciting == QB_PN_NONE || pn > rx->largest_eliciting)
		rx->largest_eliciting = pn;
	if (ecn == QB_ECN_CE)
		immediate = true; /* §13.2.1: CE is acknowledged at once */
	if (++rx->unacked_eliciting >= rx->ack_threshold)
		immediate = true; /* §13.2.2 */

	if (immediate)
		rx->ack_deadline = now;
	else if (rx->ack_deadline == QB_TIME_NONE)
		rx->ack_deadline = now + rx->max_ack_delay;
	return 0;
}

uint32_t
qb_rx_ack_ranges(const struct qb_rx_space *rx, struct qb_pn_range *out, uint32_t max)
{
	uint32_t k = 0;

	while (k < max && k < rx->n) {
		out[k] = rx->ranges[rx->n - 1 - k];
		k++;
	}
	return k;
}

uint64_t
qb_rx_ack_delay_field(const struct qb_rx_space *rx, uint64_t now)
{
	if (rx->largest == QB_PN_NONE || now <= rx->largest_time)
		return 0;
	/* §13.2.5: microseconds, scaled down by our ack_delay_exponent. */
	return ((now - rx->largest_time) / 1000) >> rx->ack_delay_exponent;
}

void
qb_rx_on_ack_sent(struct qb_rx_space *rx)
{
	rx->unacked_eliciting = 0;
	rx->ack_deadline = QB_TIME_NONE;
	rx->ack_pending = false;
}

void
qb_rx_on_ack_acked(struct qb_rx_space *rx, uint64_t largest_in_frame)
{
	uint32_t keep = 0;

	if (largest_in_frame == QB_PN_NONE)
		return;
	if (rx->multipath && rx->reorder != 0) {
		/* Gaps within the reordering window may still fill. */
		uint64_t window = rx->reorder > UINT64_MAX / 2 ? UINT64_MAX : 2 * rx->reorder;

		if (rx->largest < window + 1)
			return;
		if (largest_in_frame > rx->largest - window - 1)
			largest_in_frame = rx->largest - window - 1;
	}
	if (largest_in_frame + 1 <= rx->floor)
		return;
	/* Count the ranges entirely at or below largest_in_frame. */
	while (keep < rx->n && rx->ranges[keep].hi <= largest_in_frame)
		keep++;
	if (keep > 0) {
		memmove(&rx->ranges[0], &rx->ranges[keep], (rx->n - keep) * sizeof(rx->ranges[0]));
		rx->n -= keep;
	}
	if (rx->n > 0 && rx->ranges[0].lo <= largest_in_frame)
		rx->ranges[0].lo = largest_in_frame + 1;
	rx->floor = largest_in_frame + 1;
}
