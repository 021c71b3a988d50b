/* SPDX-License-Identifier: BSD-3-Clause */
/* Received-packet ranges and ACK generation (RFC 9000 §13.2). */
#include <criterion/criterion.h>

#include "qburst/recovery.h"
#include "qburst/varint.h" /* both define QB_PN_NONE */

#define MS 1000000ull

static struct qb_pn_range store[64];
static struct qb_rx_space rx;

static void
setup_app(void)
{
	cr_assert_eq(qb_rx_init(&rx, store, 64, 25 * MS, 3), 0);
}

static void
expect_ranges(const struct qb_pn_range *want, uint32_t n)
{
	struct qb_pn_range out[64];
	uint32_t got = qb_rx_ack_ranges(&rx, out, 64), i;

	cr_assert_eq(got, n, "ranges: got %u want %u", got, n);
	for (i = 0; i < n; i++) {
		cr_assert_eq(out[i].lo, want[i].lo, "range %u lo %lu", i, (unsigned long)out[i].lo);
		cr_assert_eq(out[i].hi, want[i].hi, "range %u hi %lu", i, (unsigned long)out[i].hi);
	}
}

Test(rx, init_rejects_bad_args)
{
	cr_assert_eq(qb_rx_init(&rx, store, 0, 0, 3), QB_ERR_ARG);
	cr_assert_eq(qb_rx_init(&rx, NULL, 4, 0, 3), QB_ERR_ARG);
	cr_assert_eq(qb_rx_init(&rx, store, 4, 0, 21), QB_ERR_ARG);
}

Test(rx, in_order_is_one_range_and_duplicates_are_refused, .init = setup_app)
{
	uint64_t pn;

	for (pn = 0; pn < 100; pn++)
		cr_assert_eq(qb_rx_on_packet(&rx, pn, false, QB_ECN_NOT_ECT, pn), 0);
	expect_ranges((struct qb_pn_range[]){{0, 99}}, 1);
	cr_assert(qb_rx_is_duplicate(&rx, 0));
	cr_assert(qb_rx_is_duplicate(&rx, 99));
	cr_assert_not(qb_rx_is_duplicate(&rx, 100));
	cr_assert_eq(qb_rx_on_packet(&rx, 50, true, QB_ECN_NOT_ECT, 200), 1);
	cr_assert_eq(rx.largest, 99);
	cr_assert_eq(rx.largest_time, 99);
	cr_assert_eq(rx.ack_deadline, QB_TIME_NONE, "a duplicate changes nothing");
}

Test(rx, gaps_fill_and_merge, .init = setup_app)
{
	uint64_t seq[] = {0, 2, 4, 6, 5, 1, 10, 8, 9};
	size_t i;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		cr_assert_eq(qb_rx_on_packet(&rx, seq[i], false, QB_ECN_NOT_ECT, i), 0);
	/* {0,1,2} {4,5,6} {8,9,10} */
	expect_ranges((struct qb_pn_range[]){{8, 10}, {4, 6}, {0, 2}}, 3);
	cr_assert_eq(qb_rx_on_packet(&rx, 3, false, QB_ECN_NOT_ECT, 20), 0);
	expect_ranges((struct qb_pn_range[]){{8, 10}, {0, 6}}, 2);
	cr_assert_eq(qb_rx_on_packet(&rx, 7, false, QB_ECN_NOT_ECT, 21), 0);
	expect_ranges((struct qb_pn_range[]){{0, 10}}, 1);
	cr_assert_eq(rx.largest, 10);
	cr_assert_eq(rx.largest_time, 6, "receive time of the largest pn");
}

Test(rx, bounded_ranges_drop_the_oldest)
{
	struct qb_pn_range small[4];
	uint64_t pn;

	cr_assert_eq(qb_rx_init(&rx, small, 4, 25 * MS, 3), 0);
	for (pn = 0; pn <= 10; pn += 2)
		cr_assert_eq(qb_rx_on_packet(&rx, pn, false, QB_ECN_NOT_ECT, 0), 0);
	/* 6 single ranges into 4 slots: {0} and {2} were dropped. */
	expect_ranges((struct qb_pn_range[]){{10, 10}, {8, 8}, {6, 6}, {4, 4}}, 4);
	cr_assert_eq(rx.floor, 4);
	cr_assert(qb_rx_is_duplicate(&rx, 0), "below the floor is refused");
	cr_assert(qb_rx_is_duplicate(&rx, 3));
	cr_assert_eq(qb_rx_on_packet(&rx, 1, true, QB_ECN_NOT_ECT, 0), 1);
	/* A pn filling a gap still merges while full. */
	cr_assert_eq(qb_rx_on_packet(&rx, 5, false, QB_ECN_NOT_ECT, 0), 0);
	expect_ranges((struct qb_pn_range[]){{10, 10}, {8, 8}, {4, 6}}, 3);
	/* The writer honours its own limit, newest first. */
	{
		struct qb_pn_range out[2];

		cr_assert_eq(qb_rx_ack_ranges(&rx, out, 2), 2);
		cr_assert_eq(out[0].lo, 10);
		cr_assert_eq(out[1].lo, 8);
	}
}

Test(rx, second_ack_eliciting_packet_acks_now, .init = setup_app)
{
	cr_assert_eq(qb_rx_on_packet(&rx, 0, true, QB_ECN_NOT_ECT, 1000), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 1000 + 25 * MS, "first: within max_ack_delay");
	cr_assert_not(qb_rx_ack_due(&rx, 1001));
	cr_assert(qb_rx_ack_due(&rx, 1000 + 25 * MS));
	cr_assert_eq(qb_rx_on_packet(&rx, 1, true, QB_ECN_NOT_ECT, 2000), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 2000, "second: at once (§13.2.2)");
	cr_assert(qb_rx_ack_due(&rx, 2000));
	qb_rx_on_ack_sent(&rx);
	cr_assert_eq(qb_rx_ack_deadline(&rx), QB_TIME_NONE);
	cr_assert_not(rx.ack_pending);
	cr_assert_eq(qb_rx_on_packet(&rx, 2, true, QB_ECN_NOT_ECT, 3000), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 3000 + 25 * MS, "the count restarts");
}

Test(rx, non_eliciting_packets_do_not_arm_the_timer, .init = setup_app)
{
	cr_assert_eq(qb_rx_on_packet(&rx, 0, false, QB_ECN_NOT_ECT, 10), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 1, false, QB_ECN_NOT_ECT, 20), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 5, false, QB_ECN_NOT_ECT, 30), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), QB_TIME_NONE);
	cr_assert(rx.ack_pending, "acknowledged when an ACK goes for other reasons");
}

Test(rx, gap_acks_now, .init = setup_app)
{
	cr_assert_eq(qb_rx_on_packet(&rx, 0, true, QB_ECN_NOT_ECT, 0), 0);
	qb_rx_on_ack_sent(&rx);
	cr_assert_eq(qb_rx_on_packet(&rx, 2, true, QB_ECN_NOT_ECT, 500), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 500, "pn 1 is missing: ack now (§13.2.1)");
}

Test(rx, reordered_acks_now, .init = setup_app)
{
	cr_assert_eq(qb_rx_on_packet(&rx, 0, true, QB_ECN_NOT_ECT, 0), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 2, true, QB_ECN_NOT_ECT, 1), 0);
	qb_rx_on_ack_sent(&rx);
	cr_assert_eq(qb_rx_on_packet(&rx, 1, true, QB_ECN_NOT_ECT, 700), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 700, "below the largest ack-eliciting");
}

Test(rx, no_gap_when_non_eliciting_packets_fill_it, .init = setup_app)
{
	cr_assert_eq(qb_rx_on_packet(&rx, 0, true, QB_ECN_NOT_ECT, 0), 0);
	qb_rx_on_ack_sent(&rx);
	cr_assert_eq(qb_rx_on_packet(&rx, 1, false, QB_ECN_NOT_ECT, 1), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 2, true, QB_ECN_NOT_ECT, 2), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 2 + 25 * MS, "1..2 follow 0 with no hole");
}

Test(rx, ce_acks_now_and_ecn_is_counted, .init = setup_app)
{
	cr_assert_eq(qb_rx_on_packet(&rx, 0, false, QB_ECN_ECT0, 0), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 1, false, QB_ECN_ECT1, 0), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 2, false, QB_ECN_CE, 0), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), QB_TIME_NONE,
	             "never ack a non-eliciting packet at once");
	cr_assert_eq(qb_rx_on_packet(&rx, 3, true, QB_ECN_CE, 40), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 40);
	cr_assert_eq(qb_rx_on_packet(&rx, 3, true, QB_ECN_CE, 40), 1);
	cr_assert_eq(rx.ecn[0], 1);
	cr_assert_eq(rx.ecn[1], 1);
	cr_assert_eq(rx.ecn[2], 2, "duplicates are not counted");
}

Test(rx, handshake_spaces_ack_every_packet_at_once)
{
	cr_assert_eq(qb_rx_init(&rx, store, 8, 0, 3), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 0, true, QB_ECN_NOT_ECT, 77), 0);
	cr_assert_eq(qb_rx_ack_deadline(&rx), 77);
}

Test(rx, ack_delay_field_uses_the_exponent, .init = setup_app)
{
	cr_assert_eq(qb_rx_ack_delay_field(&rx, 0), 0, "nothing received");
	cr_assert_eq(qb_rx_on_packet(&rx, 0, true, QB_ECN_NOT_ECT, 1 * MS), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 1, true, QB_ECN_NOT_ECT, 2 * MS), 0);
	/* 8000 us since pn 1 arrived, >> 3. */
	cr_assert_eq(qb_rx_ack_delay_field(&rx, 10 * MS), 1000);
	cr_assert_eq(qb_ack_delay_decode(1000, 3), 8 * MS);
	cr_assert_eq(qb_ack_delay_decode(UINT64_MAX, 3), UINT64_MAX, "saturates");
}

Test(rx, acked_ack_prunes_ranges, .init = setup_app)
{
	uint64_t pns[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 12, 13, 14, 15};
	size_t i;

	for (i = 0; i < sizeof(pns) / sizeof(pns[0]); i++)
		cr_assert_eq(qb_rx_on_packet(&rx, pns[i], true, QB_ECN_NOT_ECT, i), 0);
	/* An ACK frame with Largest Acknowledged 7 was itself acknowledged. */
	qb_rx_on_ack_acked(&rx, 7);
	expect_ranges((struct qb_pn_range[]){{12, 15}, {8, 9}}, 2);
	cr_assert(qb_rx_is_duplicate(&rx, 4), "a late pn below the pruned edge is refused");
	cr_assert(qb_rx_is_duplicate(&rx, 6));
	cr_assert_not(qb_rx_is_duplicate(&rx, 10));
	cr_assert_eq(rx.largest, 15, "the largest is kept (§13.2.3)");
	qb_rx_on_ack_acked(&rx, 3); /* an older ACK: nothing more to drop */
	expect_ranges((struct qb_pn_range[]){{12, 15}, {8, 9}}, 2);
	qb_rx_on_ack_acked(&rx, 15);
	cr_assert_eq(qb_rx_ack_ranges(&rx, (struct qb_pn_range[4]){0}, 4), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 16, true, QB_ECN_NOT_ECT, 100), 0);
	expect_ranges((struct qb_pn_range[]){{16, 16}}, 1);
}

Test(rx, single_slot_keeps_the_newest_range)
{
	struct qb_pn_range one[1];

	cr_assert_eq(qb_rx_init(&rx, one, 1, 25 * MS, 3), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 0, true, QB_ECN_NOT_ECT, 0), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 1, true, QB_ECN_NOT_ECT, 0), 0);
	cr_assert_eq(qb_rx_on_packet(&rx, 5, true, QB_ECN_NOT_ECT, 0), 0);
	expect_ranges((struct qb_pn_range[]){{5, 5}}, 1);
	cr_assert_eq(rx.floor, 2, "above the dropped range");
	cr_assert_eq(qb_rx_on_packet(&rx, 3, true, QB_ECN_NOT_ECT, 0), 1,
	             "no slot below the only range: refused");
	cr_assert_eq(qb_rx_on_packet(&rx, 4, true, QB_ECN_NOT_ECT, 0), 0, "merges downward");
	expect_ranges((struct qb_pn_range[]){{4, 5}}, 1);
}
