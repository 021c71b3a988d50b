/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stream transfers end to end: byte-exact at 0%, 2% and 10% random loss and
 * under burst loss; many concurrent streams; small flow-control windows.
 */
#include "xfer.h"

static struct xfer x;

static void
setup_pair(struct h_pair *p, uint64_t seed)
{
	h_init(p, seed);
	h_start(p);
	cr_assert(h_run(p, 10000 * H_MS, h_confirmed, NULL), "handshake");
}

static void
report(struct h_pair *p, const char *name, uint64_t t0, uint64_t bytes)
{
	struct qb_conn_stats st;
	qb_conn_stats(p->c, &st);
	double s = (double)(p->now - t0) / 1e9;
	cr_log_info(
	        "%s: %.3f s simulated, %.1f Mbit/s, sent %lu pkts, lost %lu, srtt %.1f ms, cwnd %lu",
	        name, s, (double)bytes * 8 / s / 1e6, (unsigned long)st.pkts_sent,
	        (unsigned long)st.pkts_lost, (double)st.srtt_ns / 1e6, (unsigned long)st.cwnd);
}

Test(conn_transfer, one_mb_exact_no_loss)
{
	struct h_pair p;
	setup_pair(&p, 100);
	uint64_t t0 = p.now;
	x_run(&p, &x, 1u << 20, 1, 30000 * H_MS);
	report(&p, "1MB 0%", t0, 1u << 20);
	struct qb_conn_stats st;
	qb_conn_stats(p.c, &st);
	cr_assert_eq(st.pkts_lost, 0);
	h_fini(&p);
}

Test(conn_transfer, ten_mb_exact_no_loss)
{
	struct h_pair p;
	setup_pair(&p, 101);
	uint64_t t0 = p.now;
	x_run(&p, &x, 10u << 20, 1, 60000 * H_MS);
	report(&p, "10MB 0%", t0, 10u << 20);
	h_fini(&p);
}

Test(conn_transfer, one_mb_exact_2pct_loss)
{
	struct h_pair p;
	setup_pair(&p, 102);
	p.to_s.loss = p.to_c.loss = 0.02;
	uint64_t t0 = p.now;
	x_run(&p, &x, 1u << 20, 1, 60000 * H_MS);
	report(&p, "1MB 2%", t0, 1u << 20);
	h_fini(&p);
}

Test(conn_transfer, one_mb_exact_10pct_loss)
{
	struct h_pair p;
	setup_pair(&p, 103);
	p.to_s.loss = p.to_c.loss = 0.10;
	uint64_t t0 = p.now;
	x_run(&p, &x, 1u << 20, 1, 120000 * H_MS);
	report(&p, "1MB 10%", t0, 1u << 20);
	h_fini(&p);
}
