/* SPDX-License-Identifier: BSD-3-Clause */
/* Timer wheel on a fake clock: ordering, cancel, reschedule, overflow,
 * partial ticks, bounded output. No EAL. */

#include <criterion/criterion.h>

#include "qb_steer.h"

#define MS 1000000ull

static unsigned int
expire_all(struct qb_twheel *w, uint64_t now, struct qb_twheel_fired *out, unsigned int max)
{
	return qb_twheel_expire(w, now, out, max);
}

Test(steer_twheel, fires_in_order_at_deadline)
{
	/* 1 ms ticks, 8 slots: deadlines beyond 8 ms go to the overflow list. */
	struct qb_twheel *w = qb_twheel_create(16, 8, MS, 0);
	struct qb_twheel_fired f[16];
	uint64_t deadlines[6] = {3 * MS, 1 * MS + 5, 30 * MS, 7 * MS, 100 * MS + 1, 9 * MS};
	int tag[6];

	cr_assert_not_null(w);
	for (uint32_t i = 0; i < 6; i++)
		cr_assert_eq(qb_twheel_schedule(w, i, deadlines[i], &tag[i]), 0);
	cr_assert_eq(expire_all(w, 1 * MS + 4, f, 16), 0); /* 1 ns early */
	cr_assert_eq(expire_all(w, 1 * MS + 5, f, 16), 1);
	cr_assert_eq(f[0].id, 1);
	cr_assert_eq(f[0].arg, &tag[1]);
	cr_assert_eq(f[0].deadline, 1 * MS + 5);

	/* Step the clock 0.5 ms at a time to 200 ms: each fires once, in order. */
	uint32_t order[8];
	unsigned int n = 0;
	for (uint64_t t = 1 * MS + 5; t <= 200 * MS; t += MS / 2) {
		unsigned int k = expire_all(w, t, f, 16);
		for (unsigned int i = 0; i < k; i++) {
			cr_assert_leq(f[i].deadline, t);
			cr_assert_gt(f[i].deadline + MS / 2, t, "fired late: %lu at %lu",
			             (unsigned long)f[i].deadline, (unsigned long)t);
			order[n++] = f[i].id;
		}
	}
	cr_assert_eq(n, 5);
	uint32_t want[5] = {0, 3, 5, 2, 4};
	for (unsigned int i = 0; i < 5; i++)
		cr_assert_eq(order[i], want[i]);
	cr_assert_eq(w->n_active, 0);
	qb_twheel_free(w);
}

Test(steer_twheel, cancel_and_reschedule)
{
	struct qb_twheel *w = qb_twheel_create(4, 16, MS, 0);
	struct qb_twheel_fired f[4];

	qb_twheel_schedule(w, 0, 5 * MS, NULL);
	qb_twheel_schedule(w, 1, 5 * MS, NULL);
	qb_twheel_schedule(w, 2, 50 * MS, NULL); /* overflow */
	cr_assert(qb_twheel_pending(w, 2));
	qb_twheel_cancel(w, 1);
	qb_twheel_cancel(w, 2);
	qb_twheel_cancel(w, 3); /* idle: nothing */
	cr_assert_not(qb_twheel_pending(w, 1));
	cr_assert_eq(w->n_active, 1);
	/* Move 0 later, then earlier than before. */
	qb_twheel_schedule(w, 0, 40 * MS, NULL);
	cr_assert_eq(qb_twheel_expire(w, 10 * MS, f, 4), 0);
	qb_twheel_schedule(w, 0, 12 * MS, NULL);
	cr_assert_eq(qb_twheel_expire(w, 11 * MS, f, 4), 0);
	cr_assert_eq(qb_twheel_expire(w, 12 * MS, f, 4), 1);
	cr_assert_eq(f[0].id, 0);
	cr_assert_eq(qb_twheel_expire(w, 100 * MS, f, 4), 0);
	cr_assert_eq(qb_twheel_schedule(w, 4, MS, NULL), QB_ERR_ARG);
	qb_twheel_free(w);
}

Test(steer_twheel, past_deadline_and_partial_tick)
{
	struct qb_twheel *w = qb_twheel_create(4, 8, MS, 10 * MS);
	struct qb_twheel_fired f[4];

	/* Overdue when scheduled: fires at the next expiry. */
	qb_twheel_schedule(w, 0, 2 * MS, NULL);
	/* Same tick as now, but later within it. */
	qb_twheel_schedule(w, 1, 10 * MS + 600, NULL);
	cr_assert_eq(qb_twheel_expire(w, 10 * MS + 500, f, 4), 1);
	cr_assert_eq(f[0].id, 0);
	cr_assert_eq(qb_twheel_expire(w, 10 * MS + 600, f, 4), 1);
	cr_assert_eq(f[0].id, 1);
	qb_twheel_free(w);
}

Test(steer_twheel, bounded_output_resumes)
{
	struct qb_twheel *w = qb_twheel_create(100, 8, MS, 0);
	struct qb_twheel_fired f[7];
	bool seen[100] = {false};
	unsigned int total = 0, k;

	for (uint32_t i = 0; i < 100; i++)
		qb_twheel_schedule(w, i, (i % 20) * MS, NULL); /* some in overflow */
	while ((k = qb_twheel_expire(w, 25 * MS, f, 7)) > 0) {
		cr_assert_leq(k, 7);
		for (unsigned int i = 0; i < k; i++) {
			cr_assert_not(seen[f[i].id]);
			seen[f[i].id] = true;
		}
		total += k;
	}
	cr_assert_eq(total, 100);
	qb_twheel_free(w);
}

Test(steer_twheel, long_idle_jump_keeps_far_timer)
{
	/* 1 us ticks, 64 slots; a timer an hour away and a jump of minutes. */
	struct qb_twheel *w = qb_twheel_create(2, 64, 1000, 0);
	struct qb_twheel_fired f[2];
	uint64_t hour = 3600ull * 1000000000ull;

	qb_twheel_schedule(w, 1, hour, NULL);
	cr_assert_eq(qb_twheel_expire(w, hour / 2, f, 2), 0);
	cr_assert_eq(qb_twheel_expire(w, hour - 1, f, 2), 0);
	cr_assert_eq(qb_twheel_expire(w, hour, f, 2), 1);
	cr_assert_eq(f[0].id, 1);
	/* Reschedule from inside the expiry loop's results: fires next call. */
	qb_twheel_schedule(w, 1, hour, NULL);
	cr_assert_eq(qb_twheel_expire(w, hour, f, 2), 1);
	qb_twheel_free(w);
}

/* After the last slot entry fires, the cursor must not walk an hour of
 * 1 us ticks one by one (the timeout catches an O(ticks) walk). */
Test(steer_twheel, jump_after_last_slot_entry, .timeout = 5)
{
	struct qb_twheel *w = qb_twheel_create(2, 64, 1000, 0);
	struct qb_twheel_fired f[2];
	uint64_t hour = 3600ull * 1000000000ull;

	for (int round = 0; round < 20; round++) {
		uint64_t base = (uint64_t)round * hour;
		qb_twheel_schedule(w, 0, base + 5000, NULL);
		qb_twheel_schedule(w, 1, base + hour - 1, NULL);
		cr_assert_eq(qb_twheel_expire(w, base + hour / 2, f, 2), 1);
		cr_assert_eq(f[0].id, 0);
		cr_assert_eq(qb_twheel_expire(w, base + hour - 2, f, 2), 0);
		cr_assert_eq(qb_twheel_expire(w, base + hour - 1, f, 2), 1);
		cr_assert_eq(f[0].id, 1);
		/* Empty wheel, long jump. */
		cr_assert_eq(qb_twheel_expire(w, base + hour + 3, f, 2), 0);
	}
	qb_twheel_free(w);
}
