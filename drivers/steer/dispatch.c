/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker receive dispatch: relay classification, steering with ring
 * handover, table lookups, the listener. See qb_dispatch.h for mbuf
 * ownership.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "qb_dispatch.h"
#include "qb_worker.h"

int
qb_dispatch_shared_init(struct qb_dispatch_shared *sh, const struct qb_steer *s,
                        unsigned int ring_size, int socket, const char *prefix)
{
	char name[RTE_RING_NAMESIZE];

	if (s->n_workers == 0 || s->n_workers > QB_DISPATCH_MAX_WORKERS || s->cid_len == 0 ||
	    s->cid_len > QB_MAX_CID_LEN)
		return -EINVAL;
	memset(sh, 0, sizeof(*sh));
	sh->steer = *s;
	sh->n_workers = s->n_workers;
	for (unsigned int i = 0; i < sh->n_workers; i++) {
		snprintf(name, sizeof(name), "%s_%u", prefix, i);
		/* Any worker may hand over (MP); only the owner drains (SC). */
		sh->rings[i] = rte_ring_create(name, ring_size, socket, RING_F_SC_DEQ);
		if (sh->rings[i] == NULL) {
			int err = rte_errno;
			qb_dispatch_shared_fini(sh);
			return -err;
		}
	}
	return 0;
}

void
qb_dispatch_shared_fini(struct qb_dispatch_shared *sh)
{
	void *m;

	for (unsigned int i = 0; i < QB_DISPATCH_MAX_WORKERS; i++) {
		if (sh->rings[i] == NULL)
			continue;
		while (rte_ring_dequeue(sh->rings[i], &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(sh->rings[i]);
		sh->rings[i] = NULL;
	}
}

struct qb_dispatch *
qb_dispatch_create(const struct qb_dispatch_shared *sh, const struct qb_dispatch_conf *c,
                   const struct qb_dispatch_ops *ops, void *ctx, uint64_t now)
{
	struct qb_dispatch *d;

	if (c->index >= sh->n_workers || c->addrs == NULL)
		return NULL;
	d = aligned_alloc(RTE_CACHE_LINE_SIZE,
	                  RTE_ALIGN_CEIL(sizeof(*d), (size_t)RTE_CACHE_LINE_SIZE));
	if (d == NULL)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->sh = sh;
	d->index = c->index;
	d->relay_port = c->relay_port;
	d->addrs = c->addrs;
	d->neigh = c->neigh;
	d->fwd_mac = c->fwd_mac;
	d->hw_cksum_v4 = c->hw_cksum_v4;
	d->hw_cksum_v6 = c->hw_cksum_v6;
	d->ops = *ops;
	d->ctx = ctx;
	d->conns = qb_ctable_create(c->max_conns ? c->max_conns : 1, c->seed);
	d->initial = qb_ctable_create(c->max_initial ? c->max_initial : 1, c->seed ^ 0x5bd1e995);
	if (c->max_timers > 0)
		d->timers = qb_twheel_create(c->max_timers, c->timer_slots ? c->timer_slots : 4096,
		                             c->timer_tick_ns ? c->timer_tick_ns : 100000, now);
	if (d->conns == NULL || d->initial == NULL || (c->max_timers > 0 && d->timers == NULL) ||
	    qb_listener_init(&d->listener, &c->listener, now) != 0) {
		qb_dispatch_free(d);
		return NULL;
	}
	return d;
}

void
qb_dispatch_free(struct qb_dispatch *d)
{
	if (d == NULL)
		return;
	qb_ctable_free(d->conns);
	qb_ctable_free(d->initial);
	qb_twheel_free(d->timers);
	free(d);
}

static void
drop(struct qb_dispatch *d, struct rte_mbuf *m, enum qb_steer_drop why)
{
	qb_count(&d->stats.drops[why], 1);
	rte_pktmbuf_free(m);
}

/*
 * A handed-over mbuf carries its header lengths in l2_len/l3_len (unused
 * on receive): rebuild the parse result from the headers qb_net_parse
 * already checked on the receiving worker.
 */
static void
info_from_mbuf(const struct rte_mbuf *m, struct qb_pkt_info *info)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *l3 = p + m->l2_len;
	const struct rte_udp_hdr *u = (const struct rte_udp_hdr *)(l3 + m->l3_len);

	memset(info, 0, sizeof(*info));
	info->kind = QB_PKT_UDP;
	info->l2_len = (uint8_t)m->l2_len;
	info->l3_len = (uint16_t)m->l3_len;
	if (m->l2_len == 18)
		info->vlan_tci = (uint16_t)((p[14] << 8 | p[15]) & 0x0fff);
	if ((l3[0] >> 4) == 4) {
		info->src.family = info->dst.family = QB_AF_INET;
		memcpy(&info->src.v4, l3 + 12, 4);
		memcpy(&info->dst.v4, l3 + 16, 4);
	} else {
		info->src.family = info->dst.family = QB_AF_INET6;
		memcpy(info->src.v6, l3 + 8, 16);
		memcpy(info->dst.v6, l3 + 24, 16);
	}
	info->sport = rte_be_to_cpu_16(u->src_port);
	info->dport = rte_be_to_cpu_16(u->dst_port);
	info->payload_off = (uint16_t)(m->l2_len + m->l3_len + 8);
	info->payload_len = (uint16_t)(rte_be_to_cpu_16(u->dgram_len) - 8);
}

static int
add_to(struct qb_dispatch *d, struct qb_ctable *t, const uint8_t *cid, size_t len, void *conn)
{
	int rc = qb_ctable_insert(t, cid, len, conn);

	if (rc == QB_ERR_NOMEM)
		qb_count(&d->stats.drops[QB_SDROP_TABLE_FULL], 1);
	return rc;
}

int
qb_dispatch_add_cid(struct qb_dispatch *d, const uint8_t *cid, size_t len, void *conn)
{
	if (len != d->sh->steer.cid_len)
		return QB_ERR_ARG;
	return add_to(d, d->conns, cid, len, conn);
}

int
qb_dispatch_add_initial(struct qb_dispatch *d, const uint8_t *dcid, size_t len, void *conn)
{
	return add_to(d, d->initial, dcid, len, conn);
}

unsigned int
qb_dispatch_forget(struct qb_dispatch *d, const void *conn)
{
	return qb_ctable_remove_conn(d->conns, conn) + qb_ctable_remove_conn(d->initial, conn);
}

/* The DCID of a long or short header, or NULL. */
static const uint8_t *
dcid_of(const uint8_t *p, size_t len, size_t cid_len, size_t *dcid_len)
{
	if (len == 0)
		return NULL;
	if (!(p[0] & 0x80)) {
		if (len < 1 + cid_len)
			return NULL;
		*dcid_len = cid_len;
		return p + 1;
	}
	if (len < 6 || p[5] > QB_MAX_CID_LEN || len < 6 + (size_t)p[5])
		return NULL;
	*dcid_len = p[5];
	return p + 6;
}

/*
 * Turn m around: its payload becomes reply[0..n), sent back to its source.
 * A trigger that came through a relay (a forward header addressed to us) is
 * answered the way it came, as a connection on that path would answer
 * (qb_path_addrs_from_rx, qb_path_fwd_hdr): to the relay that sent it on
 * to us, behind a forward header naming the peer, so that a client behind
 * a relay gets its Version Negotiation (RFC 9000 §6.1) or stateless reset
 * (§10.3) as a direct one does, under the same rate limit.
 */
static void
send_reply(struct qb_dispatch *d, struct rte_mbuf *m, struct qb_rx_dgram *dg, const uint8_t *reply,
           size_t n, struct rte_mbuf **tx, unsigned int *n_tx)
{
	struct rte_ether_addr sender;
	struct qb_pkt_info info = dg->info;
	bool v6 = info.src.family == QB_AF_INET6;
	uint8_t fwd[QB_FWD_MAX_LEN];
	size_t flen = 0, room;
	enum qb_steer_drop why;
	uint8_t *p;

	if (d->addrs == NULL || n == 0 || n > dg->len) {
		drop(d, m, QB_SDROP_REPLY_RELAYED);
		return;
	}
	if (dg->relayed) {
		struct qb_path_addrs pa;
		struct qb_fwd_hdr h;
		int k = -1;

		if (qb_path_addrs_from_rx(dg, &pa) == 0 &&
		    qb_path_fwd_hdr(&pa, &info.dst, info.dport, &h) == 0)
			k = qb_fwd_hdr_encode(fwd, sizeof(fwd), &h, reply[0]);
		if (k <= 0) {
			drop(d, m, QB_SDROP_REPLY_RELAYED);
			return;
		}
		flen = (size_t)k;
	}
	/* Written in place: the reply is never longer than the trigger's
	 * QUIC bytes, but our forward header may be longer than the one
	 * received (both ends relayed): take the difference from the tail. */
	room = rte_pktmbuf_data_len(m) - info.payload_off;
	if (flen + n > room && rte_pktmbuf_append(m, (uint16_t)(flen + n - room)) == NULL) {
		drop(d, m, QB_SDROP_NO_HEADROOM);
		return;
	}
	p = rte_pktmbuf_mtod(m, uint8_t *);
	rte_ether_addr_copy((const struct rte_ether_addr *)(p + 6), &sender);
	memcpy(p + info.payload_off, fwd, flen);
	memcpy(p + info.payload_off + flen, reply, n);
	info.payload_len = (uint16_t)(flen + n);
	why = qb_relay_rewrite(m, &info, d->addrs, NULL, &sender, &dg->info.dst, info.dport,
	                       &dg->info.src, info.sport, v6 ? d->hw_cksum_v6 : d->hw_cksum_v4);
	if (why != QB_SDROP_NONE) {
		drop(d, m, why);
		return;
	}
	tx[(*n_tx)++] = m;
}

/* Steps 3-4 of qb_dispatch.h, on the owner worker. */
static void
local(struct qb_dispatch *d, struct rte_mbuf *m, struct qb_rx_dgram *dg, uint64_t now,
      struct rte_mbuf **tx, unsigned int *n_tx)
{
	uint8_t reply[QB_LISTEN_REPLY_MAX];
	const uint8_t *dcid;
	size_t dcid_len = 0, rlen;
	enum qb_steer_drop why;
	void *conn = NULL;

	dcid = dcid_of(dg->data, dg->len, d->sh->steer.cid_len, &dcid_len);
	if (dcid != NULL && dcid_len > 0) {
		if (dcid_len == d->sh->steer.cid_len)
			conn = qb_ctable_lookup(d->conns, dcid, dcid_len);
		if (conn == NULL && (dg->data[0] & 0x80))
			conn = qb_ctable_lookup(d->initial, dcid, dcid_len);
	}
	if (conn != NULL && d->ops.deliver != NULL) {
		dg->conn = conn;
		qb_count(&d->stats.delivered, 1);
		d->ops.deliver(d->ctx, m, dg);
		return;
	}
	switch (qb_listener_input(&d->listener, dg->data, dg->len, now, reply, sizeof(reply), &rlen,
	                          &why)) {
	case QB_LISTEN_ACCEPT:
		if (d->ops.accept == NULL) {
			drop(d, m, QB_SDROP_NOT_LISTENING);
			return;
		}
		qb_count(&d->stats.accepted, 1);
		d->ops.accept(d->ctx, m, dg);
		return;
	case QB_LISTEN_REPLY:
		if (dg->data[0] & 0x80)
			qb_count(&d->stats.vn_sent, 1);
		else
			qb_count(&d->stats.resets_sent, 1);
		send_reply(d, m, dg, reply, rlen, tx, n_tx);
		return;
	case QB_LISTEN_DROP:
	default:
		drop(d, m, why);
		return;
	}
}

/*
 * Steps 1 (when first) and 3-4; step 2 when may_hand_over. A datagram from
 * the ring repeats step 1's classification (cheap, stateless) rather than
 * carry its result across.
 */
static void
process(struct qb_dispatch *d, struct rte_mbuf *m, const struct qb_pkt_info *info, uint64_t now,
        bool may_hand_over, struct rte_mbuf **tx, unsigned int *n_tx)
{
	struct qb_rx_dgram dg;
	enum qb_steer_kind kind;
	enum qb_steer_drop why;
	size_t hlen = 0;

	/* Parsers below read the payload as one run of bytes. */
	if (unlikely((uint32_t)info->payload_off + info->payload_len > rte_pktmbuf_data_len(m))) {
		drop(d, m, QB_SDROP_MALFORMED);
		return;
	}
	dg.info = *info;
	dg.data = rte_pktmbuf_mtod_offset(m, uint8_t *, info->payload_off);
	dg.len = info->payload_len;
	dg.relayed = false;
	dg.conn = NULL;
	if (dg.len == 0) {
		drop(d, m, QB_SDROP_EMPTY);
		return;
	}
	if (d->relay_port != 0 && info->dport == d->relay_port) {
		switch (qb_relay_decide(&d->sh->steer, d->addrs, d->relay_port, dg.data, dg.len,
		                        &dg.fwd, &hlen, &why)) {
		case QB_RELAY_QUIC:
			break;
		case QB_RELAY_DELIVER:
			if (may_hand_over)
				qb_count(&d->stats.fwd_in, 1);
			dg.relayed = true;
			dg.data += hlen;
			dg.len = (uint16_t)(dg.len - hlen);
			break;
		case QB_RELAY_FORWARD: {
			struct qb_ipaddr dst;
			const struct qb_ipaddr *src = &info->dst;
			qb_fwd_to_ipaddr(dg.fwd.ipv6, &dg.fwd.dst.outer, &dst);
			why = QB_SDROP_FWD_NOT_OURS;
			if (src->family == dst.family)
				why = qb_relay_rewrite(m, info, d->addrs, d->neigh, d->fwd_mac, src,
				                       d->relay_port, &dst, dg.fwd.dst.outer.port,
				                       dst.family == QB_AF_INET6 ? d->hw_cksum_v6
				                                                 : d->hw_cksum_v4);
			if (why != QB_SDROP_NONE) {
				drop(d, m, why);
				return;
			}
			qb_count(&d->stats.relayed, 1);
			tx[(*n_tx)++] = m;
			return;
		}
		case QB_RELAY_DROP:
		default:
			drop(d, m, why);
			return;
		}
	}
	if (may_hand_over) {
		uint16_t owner = qb_steer_owner(&d->sh->steer, dg.data, dg.len, d->index, &kind);
		if (owner != d->index) {
			m->l2_len = info->l2_len;
			m->l3_len = info->l3_len;
			if (rte_ring_mp_enqueue(d->sh->rings[owner], m) != 0) {
				drop(d, m, QB_SDROP_RING_FULL);
				return;
			}
			qb_count(&d->stats.handover_out, 1);
			return;
		}
	}
	local(d, m, &dg, now, tx, n_tx);
}

void
qb_dispatch_rx(struct qb_dispatch *d, struct rte_mbuf *m, const struct qb_pkt_info *info,
               uint64_t now, struct rte_mbuf **tx, unsigned int *n_tx)
{
	process(d, m, info, now, true, tx, n_tx);
}

unsigned int
qb_dispatch_drain(struct qb_dispatch *d, uint64_t now, unsigned int max, struct rte_mbuf **tx,
                  unsigned int *n_tx)
{
	struct rte_mbuf *ms[QB_DISPATCH_DRAIN_MAX];
	struct qb_pkt_info info;
	unsigned int n;

	if (max > QB_DISPATCH_DRAIN_MAX)
		max = QB_DISPATCH_DRAIN_MAX;
	n = rte_ring_sc_dequeue_burst(d->sh->rings[d->index], (void **)ms, max, NULL);
	for (unsigned int i = 0; i < n; i++) {
		info_from_mbuf(ms[i], &info);
		process(d, ms[i], &info, now, false, tx, n_tx);
	}
	qb_count(&d->stats.handover_in, n);
	return n;
}

unsigned int
qb_dispatch_poll(struct qb_dispatch *d, struct qb_lcore_stats *s, uint16_t port, uint16_t queue,
                 uint16_t only_port, uint64_t now)
{
	struct rte_mbuf *pkts[QB_DISPATCH_DRAIN_MAX], *tx[2 * QB_DISPATCH_DRAIN_MAX];
	unsigned int nb, i, ntx = 0, sent;
	uint64_t bytes = 0;

	nb = rte_eth_rx_burst(port, queue, pkts, QB_DISPATCH_DRAIN_MAX);
	for (i = 0; i < nb; i++) {
		struct rte_mbuf *m = pkts[i];
		struct qb_pkt_info info;
		enum qb_drop nd;

		bytes += m->pkt_len;
		nd = qb_net_parse(m, d->addrs, &info);
		if (nd == QB_DROP_NONE && info.kind != QB_PKT_UDP) {
			/* Workers answer in place and learn nothing (qb_neigh.h). */
			if (qb_neigh_input(NULL, d->addrs, m, &info, &nd) == QB_NEIGH_REPLY) {
				tx[ntx++] = m;
				continue;
			}
		}
		if (nd != QB_DROP_NONE || info.kind != QB_PKT_UDP) {
			if (nd != QB_DROP_NONE)
				qb_count(&s->drops[nd], 1);
			rte_pktmbuf_free(m);
			continue;
		}
		if (only_port != 0 && info.dport != only_port) {
			drop(d, m, QB_SDROP_NOT_LISTENING);
			continue;
		}
		qb_dispatch_rx(d, m, &info, now, tx, &ntx);
	}
	if (nb > 0) {
		qb_count(&s->rx_pkts, nb);
		qb_count(&s->rx_bytes, bytes);
	}
	nb += qb_dispatch_drain(d, now, QB_DISPATCH_DRAIN_MAX, tx, &ntx);
	if (ntx == 0)
		return nb;
	sent = rte_eth_tx_burst(port, queue, tx, (uint16_t)ntx);
	bytes = 0;
	for (i = 0; i < sent; i++)
		bytes += tx[i]->pkt_len;
	qb_count(&s->tx_pkts, sent);
	qb_count(&s->tx_bytes, bytes);
	if (sent < ntx) {
		/* The caller of rte_eth_tx_burst frees what the PMD did not take. */
		rte_pktmbuf_free_bulk(&tx[sent], ntx - sent);
		qb_count(&s->drops[QB_DROP_TX_FULL], ntx - sent);
	}
	return nb;
}
