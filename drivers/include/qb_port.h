/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_PORT_H
#define QB_PORT_H

/*
 * Ethernet port bring-up: one RX/TX queue pair per worker lcore, descriptor
 * counts adjusted to what the device accepts, a per-socket mbuf pool with
 * per-lcore caches sized for every queue, TX checksum offload enabled only
 * when the device advertises it, and a link wait.
 *
 * Errors are negative errno values (DPDK's convention at this edge); every
 * failure is also logged on the "qburst" log type.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

/*
 * Bytes in front of the payload of every mbuf we build: room for Ethernet (14)
 * + VLAN (4) + IPv6 (40) + UDP (8) + an IPv6 relayed forward header (74) = 140,
 * more than DPDK's default RTE_PKTMBUF_HEADROOM of 128 (BRIEF §9). Builders set
 * data_off to this value themselves before prepending headers.
 */
#define QB_MBUF_HEADROOM 256

/* Packets per rte_eth_rx_burst/rte_eth_tx_burst call. */
#define QB_BURST 32

/* Per-lcore mempool cache (objects). */
#define QB_POOL_CACHE 256

struct qb_port_conf {
	uint16_t port_id;
	uint16_t nb_queues; /* RX/TX queue pairs: one per worker */
	uint16_t nb_rxd;    /* descriptors per RX queue wanted (0: 1024) */
	uint16_t nb_txd;    /* descriptors per TX queue wanted (0: 1024) */
	bool no_tx_offload; /* force the software checksum path */
};

struct qb_port {
	uint16_t port_id;
	uint16_t nb_queues;
	uint16_t nb_rxd; /* as adjusted for the device */
	uint16_t nb_txd;
	int socket_id;
	uint16_t mtu;       /* bytes of IP packet; the largest frame is mtu + 14 */
	bool tx_cksum_ipv4; /* IPv4 header + UDP over IPv4 checksum offload enabled */
	bool tx_cksum_ipv6; /* UDP over IPv6 checksum offload enabled */
	uint16_t data_room; /* data room of the pool's mbufs, headroom included */
	struct rte_ether_addr mac;
	struct rte_mempool *pool; /* owned: freed by qb_port_close */
	char name[64];            /* device name, e.g. "net_null0" */
};

/*
 * The first port EAL offers, in *port_id. Returns 0, or -ENODEV when EAL
 * has no port (no --vdev and no bound PCI device).
 */
int qb_port_first(uint16_t *port_id);

/*
 * The number of RX/TX queue pairs the device supports (the smaller of its
 * maximum RX and TX queue counts), or a negative errno.
 */
int qb_port_max_queue_pairs(uint16_t port_id);

/*
 * Configures and starts the port: creates the pool on the port's socket,
 * sets up conf->nb_queues queue pairs and starts the device. On failure
 * everything made so far is undone. Returns 0 or a negative errno.
 */
int qb_port_open(struct qb_port *p, const struct qb_port_conf *conf);

/*
 * Waits up to timeout_ms for the link to come up. Returns 0 when it is up,
 * -ETIMEDOUT otherwise (the caller decides whether that matters: virtual
 * devices report up at once).
 */
int qb_port_wait_link(const struct qb_port *p, unsigned int timeout_ms);

/*
 * Creates an mbuf pool of n mbufs (rounded up to 2^k - 1) with per-lcore
 * caches and data rooms of data_room bytes on socket_id. Returns NULL with
 * rte_errno set on failure.
 */
struct rte_mempool *qb_pool_create(const char *name, unsigned int n, uint16_t data_room,
                                   int socket_id);

/*
 * Logs how many of the pool's mbufs are free (caches included) against its
 * size, at INFO: "pool NAME: A of N mbufs free". Returns the number missing
 * (0 when every mbuf came back).
 */
unsigned int qb_pool_report(const struct rte_mempool *mp);

/*
 * Stops and closes the port (its queues give back their mbufs), reports the
 * pool's free count and frees it. Returns the number of mbufs missing from
 * the pool (0 when all came back).
 */
unsigned int qb_port_close(struct qb_port *p);

#endif
