/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cost of qlog on the connection core: the in-memory bulk transfer of
 * tests/unit/conn/bench_conn.c with qlog off, then on for both ends into a
 * sink that only counts bytes (formatting cost, no file I/O). Not part of
 * the unit suite: build/tests/unit/qlog/bench_qlog (QB_BENCH_MB: size).
 */
#include <time.h>

#include "../conn/xfer.h"
#include "qburst/qlog.h"

static struct xfer x;
static uint64_t sunk;

static size_t
count_sink(void *arg, const void *buf, size_t len)
{
	(void)arg;
	(void)buf;
	sunk += len;
	return len;
}

static double
run(bool qlog, uint64_t mb, uint64_t *pkts)
{
	struct h_pair p;
	struct timespec a, b;
	struct qb_qlog_config qc = {.sink = {count_sink, NULL}};
	struct qb_qlog *qcl = NULL, *qsv = NULL;

	h_init(&p, 1);
	p.to_s.bps = p.to_c.bps = 0;
	p.to_s.delay = p.to_c.delay = 1 * H_MS;
	p.cfg_c.max_sent_packets = p.cfg_s.max_sent_packets = 16384;
	if (qlog) {
		qcl = qb_qlog_new(&qc);
		qsv = qb_qlog_new(&qc);
		p.cfg_c.qlog = qcl;
		p.cfg_s.qlog = qsv;
	}
	h_start(&p);
	cr_assert(h_run(&p, 10000 * H_MS, h_confirmed, NULL));
	x.nocheck = true;
	clock_gettime(CLOCK_MONOTONIC, &a);
	x_run(&p, &x, mb << 20, 1, 3600000 * H_MS);
	clock_gettime(CLOCK_MONOTONIC, &b);
	struct qb_conn_stats sc, ss;
	qb_conn_stats(p.c, &sc);
	qb_conn_stats(p.s, &ss);
	*pkts = sc.pkts_sent + ss.pkts_sent;
	h_fini(&p);
	qb_qlog_free(qcl);
	qb_qlog_free(qsv);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

Test(qlog_bench, bulk_off_on)
{
	const char *env = getenv("QB_BENCH_MB");
	uint64_t mb = env ? strtoull(env, NULL, 10) : 100;
	uint64_t p0, p1;

	double off = run(false, mb, &p0);
	sunk = 0;
	double on = run(true, mb, &p1);
	cr_log_info("bulk %lu MB: qlog off %.3f s (%.0f ns/packet), on %.3f s (%.0f ns/packet), "
	            "%lu qlog bytes (%.0f per packet)",
	            (unsigned long)mb, off, off * 1e9 / (double)p0, on, on * 1e9 / (double)p1,
	            (unsigned long)sunk, (double)sunk / (double)p1);
}
