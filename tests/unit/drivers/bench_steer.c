/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-operation costs of the steering pieces, run by hand (not a test):
 * build/tests/unit/drivers/bench_steer */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "qb_steer.h"

#define CID_LEN 8

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
main(void)
{
	enum { N = 65536, ITERS = 20000000 };
	static uint8_t cids[N][CID_LEN];
	static int conns[N];
	struct qb_cid_lb lb = {.config_rotation = 1, .server_id_len = 1, .server_id = {7}};
	struct qb_steer s = {.n_workers = 4, .cid_len = CID_LEN, .seed = 42, .lb = lb};
	struct qb_ctable *t = qb_ctable_create(N, 99);
	volatile uintptr_t sink = 0;
	double t0, dt;

	for (uint32_t i = 0; i < N; i++) {
		lb.worker_id = (uint8_t)(i & 3);
		lb.rng_state = i + 1;
		qb_cid_gen_lb(&lb, i, cids[i], CID_LEN);
		if (qb_ctable_insert(t, cids[i], CID_LEN, &conns[i]) != 0)
			return 1;
	}
	t0 = now_s();
	for (uint32_t i = 0; i < ITERS; i++)
		sink += (uintptr_t)qb_ctable_lookup(t, cids[(i * 2654435761u) & (N - 1)], CID_LEN);
	dt = now_s() - t0;
	printf("ctable lookup (hit, %d CIDs, load %.2f): %.1f ns\n", N, (double)N / (t->mask + 1),
	       dt * 1e9 / ITERS);

	uint8_t d[64] = {0x41};
	enum qb_steer_kind kind;
	t0 = now_s();
	for (uint32_t i = 0; i < ITERS; i++) {
		memcpy(d + 1, cids[i & (N - 1)], CID_LEN);
		sink += qb_steer_owner(&s, d, sizeof(d), 0, &kind);
	}
	dt = now_s() - t0;
	printf("steer owner (short header, our CID): %.1f ns\n", dt * 1e9 / ITERS);

	/* 64k timers 0..1 s ahead on 1 ms ticks, 1024 slots; reschedule each
	 * once, then expire everything walking the clock in 100 us steps. */
	struct qb_twheel *w = qb_twheel_create(N, 1024, 1000000, 0);
	struct qb_twheel_fired f[256];
	uint64_t x = 1;
	t0 = now_s();
	for (uint32_t i = 0; i < N; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		qb_twheel_schedule(w, i, (x >> 33) % 1000000000ull, NULL);
	}
	for (uint32_t i = 0; i < N; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		qb_twheel_schedule(w, i, (x >> 33) % 2000000000ull, NULL);
	}
	double t_sched = now_s() - t0;
	unsigned int fired = 0, k;
	t0 = now_s();
	for (uint64_t now = 0; now <= 2100000000ull; now += 100000)
		while ((k = qb_twheel_expire(w, now, f, 256)) > 0)
			fired += k;
	dt = now_s() - t0;
	printf("twheel schedule/reschedule: %.1f ns; expire: %.1f ns per timer "
	       "(%u fired, 21000 polls included)\n",
	       t_sched * 1e9 / (2 * N), dt * 1e9 / fired, fired);
	qb_twheel_free(w);
	qb_ctable_free(t);
	return sink == 0 ? 2 : 0;
}
