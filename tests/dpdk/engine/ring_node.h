/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the engine tests on virtual ports share: a node on its own net_ring
 * port (its pool, RX and TX rings, a local MAC and its addresses), and the
 * TLS contexts of the two ends.
 */
#ifndef QB_TEST_RING_NODE_H
#define QB_TEST_RING_NODE_H

#include <stdio.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <qburst/tls.h>

#include "qb_engine.h"
#include "qb_port.h"

struct ring_node {
	uint16_t port;
	struct rte_mempool *pool;
	struct rte_ring *rx, *tx; /* the port's RX and TX rings: the test moves frames */
	struct qb_port_addrs pa;
};

/*
 * Node i (objects named after tag and i): a pool of nb_mbuf mbufs of
 * data_room bytes, two rings of ring_size, a started ring port on them,
 * the MAC 02:00:00:00:mac4:i+1 (ring ports have an all-zero one) and the
 * addresses ips[0..n_ips) on /prefix networks.
 */
static inline void
ring_node_up(struct ring_node *n, const char *tag, unsigned int i, uint8_t mac4,
             const char *const *ips, unsigned int n_ips, unsigned int prefix, unsigned int nb_mbuf,
             uint16_t data_room, unsigned int ring_size)
{
	struct rte_ether_addr mac = {.addr_bytes = {0x02, 0, 0, 0, mac4, (uint8_t)(i + 1)}};
	struct rte_eth_conf conf = {0};
	char name[32], net[64];
	int port;

	snprintf(name, sizeof(name), "%s_pool%u", tag, i);
	n->pool = qb_pool_create(name, nb_mbuf, data_room, (int)rte_socket_id());
	snprintf(name, sizeof(name), "%s_rx%u", tag, i);
	n->rx = rte_ring_create(name, ring_size, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "%s_tx%u", tag, i);
	n->tx = rte_ring_create(name, ring_size, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	cr_assert(n->pool != NULL && n->rx != NULL && n->tx != NULL);
	snprintf(name, sizeof(name), "%s_p%u", tag, i);
	port = rte_eth_from_rings(name, &n->rx, 1, &n->tx, 1, (unsigned int)rte_socket_id());
	cr_assert_geq(port, 0);
	n->port = (uint16_t)port;
	cr_assert_eq(rte_eth_dev_configure(n->port, 1, 1, &conf), 0);
	cr_assert_eq(rte_eth_rx_queue_setup(n->port, 0, ring_size, rte_socket_id(), NULL, n->pool),
	             0);
	cr_assert_eq(rte_eth_tx_queue_setup(n->port, 0, ring_size, rte_socket_id(), NULL), 0);
	cr_assert_eq(rte_eth_dev_start(n->port), 0);
	qb_port_addrs_init(&n->pa, &mac);
	for (unsigned int k = 0; k < n_ips; k++) {
		struct qb_ipnet in;

		snprintf(net, sizeof(net), "%s/%u", ips[k], prefix);
		cr_assert_eq(qb_ipnet_parse(net, &in), 0, "%s", net);
		cr_assert_eq(qb_port_addrs_add(&n->pa, &in), 0);
	}
}

/* EAL on lcore 0, no hugepages, no PCI, mem_mb MB, files prefixed by tag and the pid. */
static inline void
ring_eal_up(const char *prog, const char *tag, const char *mem_mb)
{
	char prefix[64];
	char *argv[] = {(char *)prog,   "-l",       "0",           "--no-huge",     "-m",
	                (char *)mem_mb, "--no-pci", "--no-shconf", "--file-prefix", prefix,
	                "--log-level",  "3"};

	snprintf(prefix, sizeof(prefix), "%s-%d", tag, (int)getpid());
	cr_assert_geq(rte_eal_init(RTE_DIM(argv), argv), 0, "rte_eal_init failed");
}

/* Both ends' workers drained (mbufs they hold freed) and finished. */
static inline void
ring_workers_fini(struct qb_engine_worker *srv, struct qb_engine_worker *cli)
{
	qb_engine_worker_drain(srv);
	qb_engine_worker_drain(cli);
	qb_engine_worker_fini(srv);
	qb_engine_worker_fini(cli);
}

/* Every mbuf of node i's pool is back (none leaked by a run). */
static inline void
ring_node_check_pool(const struct ring_node *n, unsigned int i)
{
	cr_assert_eq(rte_mempool_avail_count(n->pool), n->pool->size, "pool %u: %u of %u", i,
	             rte_mempool_avail_count(n->pool), n->pool->size);
}

/* A TLS context for role with one ALPN and a self-signed certificate. */
static inline struct qb_tls_ctx *
ring_tls_ctx(enum qb_tls_role role, const char *alpn_id)
{
	const char *const alpn[] = {alpn_id};
	struct qb_tls_ctx_config cfg = {
	        .role = role, .alpn = alpn, .alpn_count = 1, .selfsigned_name = "localhost"};
	char err[256] = "";
	struct qb_tls_ctx *ctx = qb_tls_ctx_new(&cfg, err, sizeof(err));

	cr_assert_not_null(ctx, "qb_tls_ctx_new: %s", err);
	return ctx;
}

#endif
