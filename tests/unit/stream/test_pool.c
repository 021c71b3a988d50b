/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "qburst/error.h"
#include "qburst/pool.h"

Test(pool, rejects_bad_arguments)
{
	struct qb_pool p;

	cr_assert_eq(qb_pool_init(&p, 0, 10), QB_ERR_ARG);
	cr_assert_eq(qb_pool_init(&p, 10, 0), QB_ERR_ARG);
	cr_assert_eq(qb_pool_init(&p, SIZE_MAX / 2, 4), QB_ERR_ARG);
}

Test(pool, counts_exhaustion_and_survives_it)
{
	struct qb_pool p;
	void *objs[8];

	cr_assert_eq(qb_pool_init(&p, 100, 8), 0);
	cr_assert_eq(p.obj_size % 16, 0);
	for (int i = 0; i < 8; i++) {
		objs[i] = qb_pool_get(&p);
		cr_assert_not_null(objs[i]);
		cr_assert_eq((uintptr_t)objs[i] % 16, 0);
		memset(objs[i], i, 100); /* objects must not overlap */
	}
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 100; j++)
			cr_assert_eq(((uint8_t *)objs[i])[j], i);
	cr_assert_eq(p.in_use, 8);
	cr_assert_eq(qb_pool_avail(&p), 0);
	cr_assert_null(qb_pool_get(&p));
	cr_assert_null(qb_pool_get(&p));
	cr_assert_eq(p.failures, 2);
	qb_pool_put(&p, objs[3]);
	cr_assert_eq(p.in_use, 7);
	objs[3] = qb_pool_get(&p);
	cr_assert_not_null(objs[3]);
	for (int i = 0; i < 8; i++)
		qb_pool_put(&p, objs[i]);
	qb_pool_put(&p, NULL);
	cr_assert_eq(p.in_use, 0);
	cr_assert_eq(p.high_water, 8);
	cr_assert_eq(p.gets, 9);
	qb_pool_fini(&p);
}

Test(pool, reuses_objects_lifo)
{
	struct qb_pool p;

	cr_assert_eq(qb_pool_init(&p, 32, 4), 0);
	for (int round = 0; round < 1000; round++) {
		void *a = qb_pool_get(&p), *b = qb_pool_get(&p);
		cr_assert(a != NULL && b != NULL && a != b);
		qb_pool_put(&p, a);
		qb_pool_put(&p, b);
	}
	cr_assert_eq(p.in_use, 0);
	cr_assert_eq(p.high_water, 2);
	qb_pool_fini(&p);
}
