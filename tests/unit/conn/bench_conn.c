/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-memory bulk transfer, client to server in one process (no DPDK): the
 * wall-clock cost of the whole connection core (framing, AES-128-GCM,
 * recovery, streams) per byte, on one core. Not part of the unit suite:
 * run build/tests/unit/conn/bench_conn_bulk (QB_BENCH_MB sets the size).
 */
#include <time.h>

#include "xfer.h"

static struct xfer x;

Test(conn_bench, bulk_transfer, .timeout = 600)
{
	struct h_pair p;
	struct timespec a, b;
	const char *env = getenv("QB_BENCH_MB");
	uint64_t mb = env ? strtoull(env, NULL, 10) : 200;

	h_init(&p, 1);
	p.to_s.bps = p.to_c.bps = 0; /* no serialisation limit */
	p.to_s.delay = p.to_c.delay = 1 * H_MS;
	p.cfg_c.max_sent_packets = p.cfg_s.max_sent_packets = 16384;
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL));
	x.nocheck = true; /* measure the engine, not the pattern check */
	clock_gettime(CLOCK_MONOTONIC, &a);
	x_run(&p, &x, mb << 20, 1, 3600000 * H_MS);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	struct qb_conn_stats st;
	qb_conn_stats(p.c, &st);
	cr_log_info("bulk %lu MB: %.3f s wall, %.2f Gbit/s (both ends on one core), %lu packets, "
	            "%.0f ns/packet",
	            (unsigned long)mb, s, (double)(mb << 20) * 8 / s / 1e9,
	            (unsigned long)st.pkts_sent, s * 1e9 / (double)st.pkts_sent);
	h_fini(&p);
}
