/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP/ND and UDP between two in-process ports over crossed rings (A's TX
 * ring is B's RX ring and the reverse; a single net_ring port would loop to
 * itself), with real mbufs from a pool. B's "worker" answers requests in
 * place on a second lcore without a table; A resolves on the main lcore.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "qb_neigh.h"

#define NB_MBUF 1023
#define BURST   32

static struct rte_mempool *mp;
static uint16_t port_a, port_b;
static struct qb_port_addrs pa_a, pa_b;
static volatile int stop_b;
static volatile unsigned int b_replies, b_udp;
static char b_payload[64];

static void
eal_up(void)
{
	char prefix[64];
	char *argv[] = {
	        "test_net_rings", "-l",          "0-1",           "--no-huge", "-m",          "256",
	        "--no-pci",       "--no-shconf", "--file-prefix", prefix,      "--log-level", "3"};

	snprintf(prefix, sizeof(prefix), "qb-net-rings-%d", (int)getpid());
	cr_assert_geq(rte_eal_init(RTE_DIM(argv), argv), 0, "rte_eal_init failed");
}

static uint16_t
ring_port(const char *name, struct rte_ring *rx, struct rte_ring *tx)
{
	struct rte_eth_conf conf = {0};
	int port = rte_eth_from_rings(name, &rx, 1, &tx, 1, (unsigned int)rte_socket_id());

	cr_assert_geq(port, 0, "rte_eth_from_rings %s", name);
	cr_assert_eq(rte_eth_dev_configure((uint16_t)port, 1, 1, &conf), 0);
	cr_assert_eq(rte_eth_rx_queue_setup((uint16_t)port, 0, 256, rte_socket_id(), NULL, mp), 0);
	cr_assert_eq(rte_eth_tx_queue_setup((uint16_t)port, 0, 256, rte_socket_id(), NULL), 0);
	cr_assert_eq(rte_eth_dev_start((uint16_t)port), 0);
	return (uint16_t)port;
}

static void
addrs(struct qb_port_addrs *pa, uint16_t port, const char *v4, const char *v6)
{
	/*
	 * Ring ports have an all-zero MAC they cannot change and never filter:
	 * each side uses a locally administered one of its own.
	 */
	struct rte_ether_addr mac = {.addr_bytes = {0x02, 0, 0, 0, 0, (uint8_t)(0x10 + port)}};
	struct qb_ipnet n;

	qb_port_addrs_init(pa, &mac);
	cr_assert_eq(qb_ipnet_parse(v4, &n), 0);
	qb_port_addrs_add(pa, &n);
	cr_assert_eq(qb_ipnet_parse(v6, &n), 0);
	qb_port_addrs_add(pa, &n);
}

/* B's worker loop: answer ARP/ND in place (no table), count UDP for us. */
static int
worker_b(void *arg)
{
	struct rte_mbuf *pkts[BURST];
	struct qb_pkt_info info;
	enum qb_drop drop;
	uint16_t n, i;

	(void)arg;
	while (!stop_b) {
		n = rte_eth_rx_burst(port_b, 0, pkts, BURST);
		for (i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];

			if (qb_net_parse(m, &pa_b, &info) != QB_DROP_NONE) {
				rte_pktmbuf_free(m);
				continue;
			}
			if (info.kind == QB_PKT_UDP) {
				if (info.payload_len < sizeof(b_payload))
					memcpy(b_payload,
					       rte_pktmbuf_mtod_offset(m, char *, info.payload_off),
					       info.payload_len);
				b_udp++;
				rte_pktmbuf_free(m);
			} else if (qb_neigh_input(NULL, &pa_b, m, &info, &drop) == QB_NEIGH_REPLY) {
				b_replies++;
				if (rte_eth_tx_burst(port_b, 0, &m, 1) != 1)
					rte_pktmbuf_free(m);
			} else {
				rte_pktmbuf_free(m);
			}
		}
		if (n == 0)
			rte_pause();
	}
	return 0;
}

Test(rings, arp_nd_resolve_and_udp_between_crossed_ring_ports, .timeout = 60)
{
	struct rte_ring *ab, *ba;
	struct qb_neigh_table tbl;
	struct rte_ether_addr mac, mac_b;
	struct qb_ipaddr b4, b6, nowhere;
	struct qb_udp_tmpl t;
	struct rte_mbuf *m;
	struct qb_pkt_info info;
	unsigned int lcore;
	int i;

	eal_up();
	cr_assert_geq(rte_lcore_count(), 2, "needs two lcores");
	mp = rte_pktmbuf_pool_create("qb_net_rings", NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                             (int)rte_socket_id());
	cr_assert_not_null(mp);
	ab = rte_ring_create("qb_ab", 256, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	ba = rte_ring_create("qb_ba", 256, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	cr_assert(ab != NULL && ba != NULL);
	port_a = ring_port("qb_a", ba, ab);
	port_b = ring_port("qb_b", ab, ba);
	addrs(&pa_a, port_a, "198.18.0.1/24", "2001:db8::1/64");
	addrs(&pa_b, port_b, "198.18.0.2/24", "2001:db8::2/64");
	mac_b = pa_b.mac;
	cr_assert_not(rte_is_same_ether_addr(&pa_a.mac, &mac_b), "distinct MACs");

	/* One request by hand: B's parser and in-place reply, A's learning. */
	qb_neigh_init(&tbl);
	qb_ipaddr_parse("198.18.0.2", &b4);
	m = rte_pktmbuf_alloc(mp);
	cr_assert_not_null(m);
	cr_assert_eq(qb_neigh_solicit_build(m, &pa_a, &b4), 0);
	cr_assert_eq(rte_eth_tx_burst(port_a, 0, &m, 1), 1);
	cr_assert_eq(rte_eth_rx_burst(port_b, 0, &m, 1), 1);
	cr_assert_eq(qb_net_parse(m, &pa_b, &info), QB_DROP_NONE);
	cr_assert_eq(info.kind, QB_PKT_ARP);
	enum qb_drop drop;
	cr_assert_eq(qb_neigh_input(NULL, &pa_b, m, &info, &drop), QB_NEIGH_REPLY);
	cr_assert_eq(rte_eth_tx_burst(port_b, 0, &m, 1), 1);
	cr_assert_eq(rte_eth_rx_burst(port_a, 0, &m, 1), 1);
	cr_assert_eq(qb_net_parse(m, &pa_a, &info), QB_DROP_NONE);
	cr_assert_eq(qb_neigh_input(&tbl, &pa_a, m, &info, &drop), QB_NEIGH_CONSUMED);
	rte_pktmbuf_free(m);
	cr_assert(qb_neigh_lookup(&tbl, &b4, &mac));
	cr_assert(rte_is_same_ether_addr(&mac, &mac_b), "A learned B's MAC by ARP");

	/* Now B answers on its own lcore while A resolves IPv6 with the helper. */
	lcore = rte_get_next_lcore(-1, 1, 0);
	cr_assert_eq(rte_eal_remote_launch(worker_b, NULL, lcore), 0);
	qb_ipaddr_parse("2001:db8::2", &b6);
	cr_assert_eq(qb_neigh_resolve(port_a, 0, mp, &pa_a, &tbl, &b6, 5000, &mac), 0);
	cr_assert(rte_is_same_ether_addr(&mac, &mac_b), "A learned B's MAC by ND");
	cr_assert_geq(b_replies, 1);
	/* Nobody owns this one: the helper gives up at its deadline. */
	qb_ipaddr_parse("198.18.0.99", &nowhere);
	cr_assert_eq(qb_neigh_resolve(port_a, 0, mp, &pa_a, &tbl, &nowhere, 300, &mac),
	             QB_ERR_STATE);

	/* A UDP datagram with software checksums (ring ports offer no offload). */
	cr_assert_eq(qb_udp_tmpl_init(&t, &pa_a.mac, &mac_b, 0, &pa_a.addrs[1].addr, 1024, &b6,
	                              4433, false),
	             0);
	for (i = 0; i < 2; i++) {
		m = rte_pktmbuf_alloc(mp);
		cr_assert_not_null(m);
		memcpy(rte_pktmbuf_append(m, 13), "over the ring", 13);
		cr_assert_eq(qb_udp_prepend(m, &t), 0);
		cr_assert_eq(rte_eth_tx_burst(port_a, 0, &m, 1), 1);
	}
	for (i = 0; i < 5000 && b_udp < 2; i++)
		rte_delay_us_sleep(1000);
	stop_b = 1;
	rte_eal_wait_lcore(lcore);
	cr_assert_eq(b_udp, 2, "B parsed both datagrams (checksums verified)");
	cr_assert_str_eq(b_payload, "over the ring");

	/* Drain what is left and give everything back. */
	while (rte_eth_rx_burst(port_a, 0, &m, 1) == 1)
		rte_pktmbuf_free(m);
	rte_eth_dev_stop(port_a);
	rte_eth_dev_stop(port_b);
	rte_eth_dev_close(port_a);
	rte_eth_dev_close(port_b);
	rte_ring_free(ab);
	rte_ring_free(ba);
	rte_mempool_free(mp);
	rte_eal_cleanup();
}
