/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-datagram cost of the receive dispatch on one lcore, run by hand (not
 * a test): build/tests/dpdk/steer/bench_dispatch
 * A 1-RTT datagram for a connection of the receiving worker (table hit,
 * delivered) against one for the other worker (steered, enqueued on its
 * ring, dequeued, looked up, delivered), mbufs recycled between rounds.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "qb_dispatch.h"

#define CID_LEN 8
#define BATCH   32
#define ROUNDS  200000

static struct rte_mempool *mp;
static struct qb_port_addrs pa;
static unsigned int delivered;

static void
deliver(void *ctx, struct rte_mbuf *m, const struct qb_rx_dgram *dg)
{
	(void)ctx;
	(void)dg;
	delivered++;
	rte_pktmbuf_free(m);
}

static struct rte_mbuf *
frame(const uint8_t *cid)
{
	struct rte_ether_addr peer = {{2, 0, 0, 0, 0, 9}};
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	struct qb_udp_tmpl t;
	struct qb_ipaddr s, d;
	uint8_t *p;

	qb_ipaddr_parse("198.18.0.2", &s);
	qb_ipaddr_parse("198.18.0.1", &d);
	qb_udp_tmpl_init(&t, &peer, &pa.mac, 0, &s, 5555, &d, 4433, false);
	p = (uint8_t *)rte_pktmbuf_append(m, 1200);
	memset(p, 0x5a, 1200);
	p[0] = 0x41;
	memcpy(p + 1, cid, CID_LEN);
	qb_udp_prepend(m, &t);
	return m;
}

static double
run(struct qb_dispatch *rx, struct qb_dispatch *owner, const uint8_t *cid)
{
	struct rte_mbuf *ms[BATCH], *tx[2 * BATCH];
	struct qb_pkt_info info[BATCH];
	unsigned int ntx = 0;
	uint64_t cycles = 0;

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BATCH; i++) {
			ms[i] = frame(cid);
			/* Parsing (checksum included) is the packet layer's
			 * cost, measured by bench_net: kept out of this figure. */
			qb_net_parse(ms[i], &pa, &info[i]);
		}
		uint64_t t0 = rte_rdtsc_precise();
		for (int i = 0; i < BATCH; i++)
			qb_dispatch_rx(rx, ms[i], &info[i], 0, tx, &ntx);
		if (owner != rx)
			qb_dispatch_drain(owner, 0, BATCH, tx, &ntx);
		cycles += rte_rdtsc_precise() - t0;
	}
	return (double)cycles * 1e9 / (double)rte_get_tsc_hz() / (ROUNDS * BATCH);
}

int
main(void)
{
	char prefix[64];
	char *argv[] = {"bench_dispatch", "-l",          "0",
	                "--no-huge",      "-m",          "256",
	                "--no-pci",       "--no-shconf", "--file-prefix",
	                prefix,           "--log-level", "3"};
	struct qb_steer st = {.n_workers = 2, .cid_len = CID_LEN, .seed = 1};
	struct qb_dispatch_shared sh;
	struct qb_dispatch *d[2];
	static int conn[2];
	uint8_t cid[2][CID_LEN];

	snprintf(prefix, sizeof(prefix), "qb-bench-dispatch-%d", (int)getpid());
	if (rte_eal_init(RTE_DIM(argv), argv) < 0)
		return 1;
	mp = rte_pktmbuf_pool_create("bench_mp", 1023, 64, 0, 2048 + 256, rte_socket_id());
	struct rte_ether_addr mac = {{2, 0, 0, 0, 0, 1}};
	struct qb_ipnet n;
	qb_port_addrs_init(&pa, &mac);
	qb_ipnet_parse("198.18.0.1/24", &n);
	qb_port_addrs_add(&pa, &n);
	st.lb.server_id_len = 1;
	st.lb.server_id[0] = 3;
	if (mp == NULL || qb_dispatch_shared_init(&sh, &st, 1024, 0, "bench_ho") != 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		struct qb_dispatch_conf c = {.index = (uint16_t)i,
		                             .max_conns = 4096,
		                             .max_initial = 16,
		                             .listener = {.cid_len = CID_LEN, .server = true},
		                             .addrs = &pa};
		struct qb_dispatch_ops ops = {.deliver = deliver};
		struct qb_cid_lb lb = st.lb;
		d[i] = qb_dispatch_create(&sh, &c, &ops, NULL, 0);
		lb.worker_id = (uint8_t)i;
		lb.rng_state = (uint64_t)i + 1;
		qb_cid_gen_lb(&lb, 0, cid[i], CID_LEN);
		if (d[i] == NULL || qb_dispatch_add_cid(d[i], cid[i], CID_LEN, &conn[i]) != 0)
			return 1;
	}
	double local = run(d[0], d[0], cid[0]);
	double handover = run(d[0], d[1], cid[1]);
	printf("dispatch, 1200-byte 1-RTT datagram, batches of %d: local %.1f ns, "
	       "handed over through the ring %.1f ns (%u delivered)\n",
	       BATCH, local, handover, delivered);
	qb_dispatch_free(d[0]);
	qb_dispatch_free(d[1]);
	qb_dispatch_shared_fini(&sh);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return 0;
}
