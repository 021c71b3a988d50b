/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Next-hop resolution on the control lcore before the workers start: send a
 * request every 200 ms and poll the RX queue until the answer is learned.
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "qb_neigh.h"

#define RESOLVE_BURST    32
#define RESOLVE_RETRY_MS 200

/* Handle one received frame: answer or learn ARP/ND, free the rest. */
static void
resolve_rx(uint16_t port, uint16_t queue, const struct qb_port_addrs *pa,
           struct qb_neigh_table *tbl, struct rte_mbuf *m)
{
	struct qb_pkt_info info;
	enum qb_drop drop;

	if (qb_net_parse(m, pa, &info) == QB_DROP_NONE &&
	    (info.kind == QB_PKT_ARP || info.kind == QB_PKT_ND) &&
	    qb_neigh_input(tbl, pa, m, &info, &drop) == QB_NEIGH_REPLY &&
	    rte_eth_tx_burst(port, queue, &m, 1) == 1)
		return;
	rte_pktmbuf_free(m);
}

int
qb_neigh_resolve(uint16_t port, uint16_t queue, struct rte_mempool *mp,
                 const struct qb_port_addrs *pa, struct qb_neigh_table *tbl,
                 const struct qb_ipaddr *ip, unsigned int timeout_ms, struct rte_ether_addr *mac)
{
	struct rte_mbuf *pkts[RESOLVE_BURST];
	uint64_t hz = rte_get_timer_hz();
	uint64_t now = rte_get_timer_cycles();
	uint64_t deadline = now + hz * timeout_ms / 1000;
	uint64_t next_send = now;
	uint16_t n, i;
	int rc;

	if (qb_neigh_lookup(tbl, ip, mac))
		return 0;
	if (qb_port_addrs_src_for(pa, ip) == NULL)
		return QB_ERR_ARG;
	for (;;) {
		now = rte_get_timer_cycles();
		if (now >= next_send) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

			if (m == NULL)
				return QB_ERR_NOMEM;
			rc = qb_neigh_solicit_build(m, pa, ip);
			if (rc != 0 || rte_eth_tx_burst(port, queue, &m, 1) != 1)
				rte_pktmbuf_free(m);
			if (rc != 0)
				return rc;
			next_send = now + hz * RESOLVE_RETRY_MS / 1000;
		}
		n = rte_eth_rx_burst(port, queue, pkts, RESOLVE_BURST);
		for (i = 0; i < n; i++)
			resolve_rx(port, queue, pa, tbl, pkts[i]);
		if (qb_neigh_lookup(tbl, ip, mac))
			return 0;
		if (now >= deadline)
			return QB_ERR_STATE;
		if (n == 0)
			rte_delay_us_sleep(200);
	}
}
