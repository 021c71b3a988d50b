/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One large download through the HTTP layer, client and server in one
 * process on the simulated link (no serialisation limit, 1 ms each way):
 * the wall-clock cost per byte of HTTP/0.9 and HTTP/3 on top of the
 * connection core, file I/O included, both ends on one core. Not part of
 * the unit suite: run build/tests/unit/http/bench_http (QB_BENCH_MB sets
 * the file size, default 100).
 */
#include <time.h>

#include "http_env.h"

static void
b_run(const char *alpn)
{
	static const char *const big[] = {"/big.bin"};
	struct h_pair p;
	struct t_env e;
	struct timespec a, b;
	char path[192];
	bool ok = false;
	const char *why = "";
	const char *env = getenv("QB_BENCH_MB");
	uint64_t mb = env ? strtoull(env, NULL, 10) : 100;

	t_env_init(&e);
	snprintf(path, sizeof(path), "%s/big.bin", e.www);
	t_write_file(path, mb << 20, 9);
	h_init(&p, 1);
	t_alpn(&p, alpn);
	p.to_s.bps = p.to_c.bps = 0;
	p.to_s.delay = p.to_c.delay = 1 * H_MS;
	p.cfg_c.max_sent_packets = p.cfg_s.max_sent_packets = 16384;
	h_start(&p);
	e.hc = qb_http_client_new(p.c, alpn, NULL, big, 1, e.dl);
	cr_assert_not_null(e.hc);
	clock_gettime(CLOCK_MONOTONIC, &a);
	cr_assert(h_run(&p, 3600000 * H_MS, t_drive, &e));
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_assert(qb_http_client_done(e.hc, &ok, &why));
	cr_assert(ok, "%s", why);
	t_same(&e, "big.bin");
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	cr_log_info("%s: %lu MB in %.3f s wall (handshake included), %.2f Gbit/s, both ends "
	            "on one core",
	            alpn, (unsigned long)mb, s, (double)(mb << 20) * 8 / s / 1e9);
	t_env_fini(&e);
	h_fini(&p);
}

Test(http_bench, hq_download)
{
	b_run("hq-interop");
}

Test(http_bench, h3_download)
{
	b_run("h3");
}
