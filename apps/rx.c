/* SPDX-License-Identifier: BSD-3-Clause */
/* The receive side shared by the modes: count, parse, answer ARP/ND, drop. */
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "rx.h"

unsigned int
qb_rx_poll(struct qb_worker *w, const struct qb_port_addrs *pa, bool filter)
{
	struct rte_mbuf *pkts[QB_BURST], *replies[QB_BURST];
	struct qb_lcore_stats *s = &w->stats;
	unsigned int nb, i, nr = 0, sent;
	uint64_t bytes = 0;

	nb = rte_eth_rx_burst(w->port_id, w->queue_id, pkts, QB_BURST);
	if (nb == 0)
		return 0;
	for (i = 0; i < nb; i++) {
		struct rte_mbuf *m = pkts[i];
		struct qb_pkt_info info;
		enum qb_drop drop;

		bytes += m->pkt_len;
		drop = qb_net_parse(m, filter ? pa : NULL, &info);
		if (drop == QB_DROP_NONE && info.kind != QB_PKT_UDP) {
			if (qb_neigh_input(NULL, pa, m, &info, &drop) == QB_NEIGH_REPLY) {
				replies[nr++] = m;
				continue;
			}
		}
		if (drop != QB_DROP_NONE)
			qb_count(&s->drops[drop], 1);
		rte_pktmbuf_free(m);
	}
	qb_count(&s->rx_pkts, nb);
	qb_count(&s->rx_bytes, bytes);
	if (nr == 0)
		return nb;

	sent = rte_eth_tx_burst(w->port_id, w->queue_id, replies, (uint16_t)nr);
	bytes = 0;
	for (i = 0; i < sent; i++)
		bytes += replies[i]->pkt_len;
	qb_count(&s->tx_pkts, sent);
	qb_count(&s->tx_bytes, bytes);
	if (sent < nr) {
		/* The caller frees what the PMD did not take. */
		rte_pktmbuf_free_bulk(&replies[sent], nr - sent);
		qb_count(&s->drops[QB_DROP_TX_FULL], nr - sent);
	}
	return nb;
}
