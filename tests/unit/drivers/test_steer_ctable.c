/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection table: insert, lookup, remove, several CIDs per connection,
 * exhaustion, churn with backward-shift deletion. No EAL. */

#include <criterion/criterion.h>
#include <string.h>

#include "qb_steer.h"

static void
cid_of(uint32_t i, uint8_t cid[8])
{
	/* Distinct, structured keys: the hash must still spread them. */
	memset(cid, 0, 8);
	memcpy(cid, &i, sizeof(i));
	cid[7] = 0x5a;
}

Test(steer_ctable, insert_lookup_remove)
{
	struct qb_ctable *t = qb_ctable_create(4, 1234);
	int a, b;
	uint8_t c1[8] = {1, 2, 3, 4, 5, 6, 7, 8}, c2[8] = {8, 7, 6, 5, 4, 3, 2, 1};

	cr_assert_not_null(t);
	cr_assert_eq(t->mask + 1, 8);
	cr_assert_null(qb_ctable_lookup(t, c1, 8));
	cr_assert_eq(qb_ctable_insert(t, c1, 8, &a), 0);
	cr_assert_eq(qb_ctable_insert(t, c2, 8, &b), 0);
	cr_assert_eq(qb_ctable_lookup(t, c1, 8), &a);
	cr_assert_eq(qb_ctable_lookup(t, c2, 8), &b);
	/* A prefix of a key is another key. */
	cr_assert_null(qb_ctable_lookup(t, c1, 7));
	cr_assert_eq(qb_ctable_insert(t, c1, 8, &b), QB_ERR_STATE);
	cr_assert_eq(qb_ctable_lookup(t, c1, 8), &a);
	cr_assert_eq(qb_ctable_remove(t, c1, 8), 0);
	cr_assert_null(qb_ctable_lookup(t, c1, 8));
	cr_assert_eq(qb_ctable_remove(t, c1, 8), QB_ERR_STATE);
	cr_assert_eq(qb_ctable_lookup(t, c2, 8), &b);
	cr_assert_eq(t->n, 1);
	cr_assert_eq(qb_ctable_insert(t, c1, 0, &a), QB_ERR_ARG);
	cr_assert_eq(qb_ctable_insert(t, c1, 21, &a), QB_ERR_ARG);
	cr_assert_eq(qb_ctable_insert(t, c1, 8, NULL), QB_ERR_ARG);
	qb_ctable_free(t);
}

Test(steer_ctable, exhaustion_counted)
{
	struct qb_ctable *t = qb_ctable_create(100, 7);
	int conn;
	uint8_t cid[8];

	for (uint32_t i = 0; i < 100; i++) {
		cid_of(i, cid);
		cr_assert_eq(qb_ctable_insert(t, cid, 8, &conn), 0);
	}
	for (uint32_t i = 100; i < 110; i++) {
		cid_of(i, cid);
		cr_assert_eq(qb_ctable_insert(t, cid, 8, &conn), QB_ERR_NOMEM);
	}
	cr_assert_eq(t->full, 10);
	cr_assert_eq(t->n, 100);
	cid_of(42, cid);
	cr_assert_eq(qb_ctable_remove(t, cid, 8), 0);
	cid_of(200, cid);
	cr_assert_eq(qb_ctable_insert(t, cid, 8, &conn), 0);
	cr_assert_eq(t->full, 10);
	qb_ctable_free(t);
}

Test(steer_ctable, several_cids_per_conn_and_variable_lengths)
{
	struct qb_ctable *t = qb_ctable_create(64, 99);
	int a, b;
	uint8_t cid[20];

	for (uint32_t i = 0; i < 20; i++) {
		memset(cid, (int)i, sizeof(cid));
		/* Lengths 1..20 (the initial table holds client DCIDs). */
		cr_assert_eq(qb_ctable_insert(t, cid, i + 1, (i & 1) ? (void *)&a : (void *)&b), 0);
	}
	cr_assert_eq(qb_ctable_remove_conn(t, &a), 10);
	cr_assert_eq(t->n, 10);
	for (uint32_t i = 0; i < 20; i++) {
		memset(cid, (int)i, sizeof(cid));
		cr_assert_eq(qb_ctable_lookup(t, cid, i + 1), (i & 1) ? NULL : (void *)&b);
	}
	qb_ctable_free(t);
}

/* Random churn checked against a shadow array: backward shifts must never
 * lose or duplicate an entry, including across the wrap of the slot array. */
Test(steer_ctable, churn_matches_shadow)
{
	enum { N = 256, KEYS = 600 };
	struct qb_ctable *t = qb_ctable_create(N, 0xfeed);
	static bool present[KEYS];
	static char conns[KEYS];
	uint64_t x = 88172645463325252ull;
	unsigned int n = 0;
	uint8_t cid[8];

	for (int step = 0; step < 200000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t k = (uint32_t)(x % KEYS);
		cid_of(k, cid);
		if (present[k]) {
			cr_assert_eq(qb_ctable_lookup(t, cid, 8), &conns[k]);
			cr_assert_eq(qb_ctable_remove(t, cid, 8), 0);
			present[k] = false;
			n--;
		} else {
			int rc = qb_ctable_insert(t, cid, 8, &conns[k]);
			if (n == N) {
				cr_assert_eq(rc, QB_ERR_NOMEM);
			} else {
				cr_assert_eq(rc, 0);
				present[k] = true;
				n++;
			}
		}
	}
	cr_assert_eq(t->n, n);
	for (uint32_t k = 0; k < KEYS; k++) {
		cid_of(k, cid);
		cr_assert_eq(qb_ctable_lookup(t, cid, 8), present[k] ? &conns[k] : NULL, "key %u",
		             k);
	}
	qb_ctable_free(t);
}

Test(steer_ctable, hash_is_seeded)
{
	uint8_t cid[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	cr_assert_eq(qb_steer_hash(1, cid, 8), qb_steer_hash(1, cid, 8));
	cr_assert_neq(qb_steer_hash(1, cid, 8), qb_steer_hash(2, cid, 8));
	cr_assert_neq(qb_steer_hash(1, cid, 8), qb_steer_hash(1, cid, 7));
	cr_assert_null(qb_ctable_create(0, 1));
}
