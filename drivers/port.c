/* SPDX-License-Identifier: BSD-3-Clause */
/* Port bring-up: queues, descriptors, pool, offload probing, link wait. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "qb_log.h"
#include "qb_port.h"

#define QB_DEFAULT_DESC 1024

int
qb_port_first(uint16_t *port_id)
{
	uint16_t pid;

	RTE_ETH_FOREACH_DEV(pid)
	{
		*port_id = pid;
		return 0;
	}
	return -ENODEV;
}

int
qb_port_max_queue_pairs(uint16_t port_id)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(port_id, &info);

	if (rc != 0)
		return rc;
	return RTE_MIN(info.max_rx_queues, info.max_tx_queues);
}

struct rte_mempool *
qb_pool_create(const char *name, unsigned int n, uint16_t data_room, int socket_id)
{
	unsigned int size = 1;

	/* The ring under a mempool holds 2^k - 1 objects at no extra cost. */
	while (size - 1 < n)
		size <<= 1;
	return rte_pktmbuf_pool_create(name, size - 1, QB_POOL_CACHE, 0, data_room, socket_id);
}

unsigned int
qb_pool_report(const struct rte_mempool *mp)
{
	unsigned int avail = rte_mempool_avail_count(mp);
	unsigned int missing = mp->size > avail ? mp->size - avail : 0;

	QB_LOG(INFO, "pool %s: %u of %u mbufs free", mp->name, avail, mp->size);
	return missing;
}

/*
 * Data room of the port's mbufs: our headroom, then the largest frame the
 * port may carry (MTU + Ethernet + one VLAN tag) but at least 2048 bytes,
 * which PMDs such as net_af_packet expect after their default headroom.
 */
static uint16_t
data_room_for(uint16_t mtu)
{
	uint32_t frame = RTE_ALIGN_CEIL((uint32_t)mtu + RTE_ETHER_HDR_LEN + 4, RTE_CACHE_LINE_SIZE);
	uint32_t room = QB_MBUF_HEADROOM + RTE_MAX(frame, 2048u);

	return room > UINT16_MAX ? UINT16_MAX : (uint16_t)room;
}

static int
configure(struct qb_port *p, const struct qb_port_conf *conf, const struct rte_eth_dev_info *info)
{
	struct rte_eth_conf ec;
	uint16_t q;
	int rc;

	memset(&ec, 0, sizeof(ec));
	/* Checksum offloads must be enabled here, not only flagged in
	 * ol_flags (BRIEF §9). IPv4 needs both the header and UDP sums. */
	if (!conf->no_tx_offload) {
		uint64_t capa = info->tx_offload_capa;

		if ((capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0) {
			ec.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
			p->tx_cksum_ipv6 = true;
			if ((capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0) {
				ec.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
				p->tx_cksum_ipv4 = true;
			}
		}
	}
	/* Spread received flows over the workers where the device can. */
	if (conf->nb_queues > 1 && info->flow_type_rss_offloads != 0) {
		ec.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		ec.rx_adv_conf.rss_conf.rss_hf =
		        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info->flow_type_rss_offloads;
	}

	rc = rte_eth_dev_configure(p->port_id, conf->nb_queues, conf->nb_queues, &ec);
	if (rc != 0) {
		QB_LOG(ERR, "port %u: configure: %s", p->port_id, rte_strerror(-rc));
		return rc;
	}
	p->nb_rxd = conf->nb_rxd ? conf->nb_rxd : QB_DEFAULT_DESC;
	p->nb_txd = conf->nb_txd ? conf->nb_txd : QB_DEFAULT_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &p->nb_rxd, &p->nb_txd);
	if (rc != 0) {
		QB_LOG(ERR, "port %u: descriptors: %s", p->port_id, rte_strerror(-rc));
		return rc;
	}

	/* Every queue's descriptors full, a cache per lcore, a burst in
	 * flight per worker, and slack for the control lcore. */
	unsigned int n = conf->nb_queues * (p->nb_rxd + p->nb_txd) +
	                 rte_lcore_count() * QB_POOL_CACHE + conf->nb_queues * QB_BURST * 2 + 1024;
	char name[RTE_MEMPOOL_NAMESIZE];

	snprintf(name, sizeof(name), "qb_port%u", p->port_id);
	p->data_room = data_room_for(p->mtu);
	p->pool = qb_pool_create(name, n, p->data_room, p->socket_id);
	if (p->pool == NULL) {
		rc = -rte_errno;
		QB_LOG(ERR, "port %u: pool of %u mbufs: %s", p->port_id, n,
		       rte_strerror(rte_errno));
		return rc;
	}

	for (q = 0; q < conf->nb_queues; q++) {
		struct rte_eth_txconf txc = info->default_txconf;
		struct rte_eth_rxconf rxc = info->default_rxconf;

		txc.offloads = ec.txmode.offloads;
		rxc.offloads = ec.rxmode.offloads;
		rc = rte_eth_rx_queue_setup(p->port_id, q, p->nb_rxd, p->socket_id, &rxc, p->pool);
		if (rc != 0) {
			QB_LOG(ERR, "port %u: RX queue %u: %s", p->port_id, q, rte_strerror(-rc));
			return rc;
		}
		rc = rte_eth_tx_queue_setup(p->port_id, q, p->nb_txd, p->socket_id, &txc);
		if (rc != 0) {
			QB_LOG(ERR, "port %u: TX queue %u: %s", p->port_id, q, rte_strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int
qb_port_open(struct qb_port *p, const struct qb_port_conf *conf)
{
	struct rte_eth_dev_info info;
	int rc;

	memset(p, 0, sizeof(*p));
	p->port_id = conf->port_id;
	p->nb_queues = conf->nb_queues;
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0) {
		QB_LOG(ERR, "port %u: info: %s", p->port_id, rte_strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_name_by_port(p->port_id, p->name) != 0)
		snprintf(p->name, sizeof(p->name), "port%u", p->port_id);
	/* Virtual devices have no socket: use the control lcore's. */
	p->socket_id = rte_eth_dev_socket_id(p->port_id);
	if (p->socket_id < 0)
		p->socket_id = (int)rte_socket_id();
	if (rte_eth_dev_get_mtu(p->port_id, &p->mtu) != 0 || p->mtu == 0)
		p->mtu = RTE_ETHER_MTU;
	rc = rte_eth_macaddr_get(p->port_id, &p->mac);
	if (rc != 0) {
		QB_LOG(ERR, "port %u: MAC address: %s", p->port_id, rte_strerror(-rc));
		return rc;
	}

	rc = configure(p, conf, &info);
	if (rc == 0) {
		rc = rte_eth_dev_start(p->port_id);
		if (rc != 0)
			QB_LOG(ERR, "port %u: start: %s", p->port_id, rte_strerror(-rc));
	}
	if (rc != 0) {
		rte_eth_dev_close(p->port_id);
		rte_mempool_free(p->pool);
		p->pool = NULL;
		return rc;
	}
	/* Accept frames to any address: a generator's peers and a sink's
	 * senders may use another MAC (the ARP handler still filters). */
	rte_eth_promiscuous_enable(p->port_id);
	QB_LOG(INFO,
	       "port %u (%s): %u queue pair(s), %u/%u descriptors, MTU %u, "
	       "checksum offload ipv4 %s ipv6 %s, MAC " RTE_ETHER_ADDR_PRT_FMT,
	       p->port_id, p->name, p->nb_queues, p->nb_rxd, p->nb_txd, p->mtu,
	       p->tx_cksum_ipv4 ? "on" : "off", p->tx_cksum_ipv6 ? "on" : "off",
	       RTE_ETHER_ADDR_BYTES(&p->mac));
	return 0;
}

int
qb_port_wait_link(const struct qb_port *p, unsigned int timeout_ms)
{
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * timeout_ms / 1000;
	struct rte_eth_link link;

	for (;;) {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(p->port_id, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP) {
			QB_LOG(INFO, "port %u: link up, %u Mbps", p->port_id, link.link_speed);
			return 0;
		}
		if (rte_get_timer_cycles() >= deadline)
			break;
		rte_delay_ms(50);
	}
	QB_LOG(WARNING, "port %u: link still down after %u ms", p->port_id, timeout_ms);
	return -ETIMEDOUT;
}

unsigned int
qb_port_close(struct qb_port *p)
{
	unsigned int missing = 0;
	int rc;

	rc = rte_eth_dev_stop(p->port_id);
	if (rc != 0)
		QB_LOG(WARNING, "port %u: stop: %s", p->port_id, rte_strerror(-rc));
	/* Closing releases the queues, which free the mbufs they hold. */
	rc = rte_eth_dev_close(p->port_id);
	if (rc != 0)
		QB_LOG(WARNING, "port %u: close: %s", p->port_id, rte_strerror(-rc));
	if (p->pool != NULL) {
		missing = qb_pool_report(p->pool);
		rte_mempool_free(p->pool);
		p->pool = NULL;
	}
	return missing;
}
