/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Relay listeners (BRIEF §2, forward header): telling forwarded datagrams
 * from QUIC and STUN, deciding deliver-or-relay, and re-addressing a frame
 * around the same payload bytes.
 */

#include <string.h>

#include "qb_dispatch.h"

void
qb_fwd_to_ipaddr(bool ipv6, const struct qb_fwd_addr *a, struct qb_ipaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (ipv6) {
		out->family = QB_AF_INET6;
		memcpy(out->v6, a->addr, 16);
	} else {
		out->family = QB_AF_INET;
		memcpy(&out->v4, a->addr, 4);
	}
}

static void
ipaddr_to_fwd(const struct qb_ipaddr *ip, uint16_t port, struct qb_fwd_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (ip->family == QB_AF_INET6)
		memcpy(a->addr, ip->v6, 16);
	else
		memcpy(a->addr, &ip->v4, 4);
}

int
qb_path_addrs_from_rx(const struct qb_rx_dgram *dg, struct qb_path_addrs *out)
{
	const struct qb_fwd_endpoint *src = &dg->fwd.src;

	memset(out, 0, sizeof(*out));
	if (!dg->relayed) {
		out->peer = dg->info.src;
		out->peer_port = dg->info.sport;
		return 0;
	}
	if (dg->fwd.ipv6 != (dg->info.src.family == QB_AF_INET6))
		return QB_ERR_ARG;
	out->relayed = true;
	if (src->relayed) {
		qb_fwd_to_ipaddr(dg->fwd.ipv6, &src->outer, &out->peer);
		out->peer_port = src->outer.port;
	} else {
		qb_fwd_to_ipaddr(dg->fwd.ipv6, &src->addr, &out->peer);
		out->peer_port = src->addr.port;
	}
	/* Back the way it came: the relay that sent it to us, not the one the
	 * header names (which anybody may write), so that what we answer,
	 * within the anti-amplification limit (RFC 9000 §8.1), goes to an
	 * address we heard from. */
	out->relay = dg->info.src;
	out->relay_port = dg->info.sport;
	return 0;
}

int
qb_path_fwd_hdr(const struct qb_path_addrs *pa, const struct qb_ipaddr *local, uint16_t lport,
                struct qb_fwd_hdr *h)
{
	if (!pa->relayed || local->family != pa->peer.family || pa->relay.family != pa->peer.family)
		return QB_ERR_ARG;
	memset(h, 0, sizeof(*h));
	h->version = QB_FWD_VERSION;
	h->ipv6 = local->family == QB_AF_INET6;
	h->src.relayed = true;
	ipaddr_to_fwd(&pa->relay, pa->relay_port, &h->src.addr);
	ipaddr_to_fwd(local, lport, &h->src.outer);
	h->dst.relayed = true;
	ipaddr_to_fwd(&pa->relay, pa->relay_port, &h->dst.addr);
	ipaddr_to_fwd(&pa->peer, pa->peer_port, &h->dst.outer);
	return 0;
}

bool
qb_path_addrs_equal(const struct qb_path_addrs *pa, const struct qb_path_addrs *got)
{
	if (pa->relayed != got->relayed || pa->peer_port != got->peer_port ||
	    !qb_ipaddr_equal(&pa->peer, &got->peer))
		return false;
	return !pa->relayed ||
	       (pa->relay_port == got->relay_port && qb_ipaddr_equal(&pa->relay, &got->relay));
}

static bool
is_us(const struct qb_port_addrs *pa, uint16_t port, bool ipv6, const struct qb_fwd_addr *a)
{
	struct qb_ipaddr ip;

	if (a->port != port)
		return false;
	qb_fwd_to_ipaddr(ipv6, a, &ip);
	return qb_port_addrs_has(pa, &ip);
}

struct ours_ctx {
	const struct qb_steer *s;
};

static bool
cid_is_ours(void *ctx, const uint8_t *cid, size_t len)
{
	const struct ours_ctx *c = ctx;

	/* Stateless: the QUIC-LB layout names our CIDs on every worker. */
	return qb_steer_cid_ours(c->s, cid, len, NULL);
}

enum qb_relay_verdict
qb_relay_decide(const struct qb_steer *s, const struct qb_port_addrs *pa, uint16_t port,
                const uint8_t *d, size_t len, struct qb_fwd_hdr *h, size_t *hdr_len,
                enum qb_steer_drop *why)
{
	struct ours_ctx c = {.s = s};
	int n;

	*why = QB_SDROP_NONE;
	switch (qb_dgram_classify(d, len, s->cid_len, cid_is_ours, &c)) {
	case QB_DGRAM_QUIC:
		return QB_RELAY_QUIC;
	case QB_DGRAM_STUN:
		*why = QB_SDROP_STUN;
		return QB_RELAY_DROP;
	case QB_DGRAM_INVALID:
		*why = QB_SDROP_EMPTY;
		return QB_RELAY_DROP;
	case QB_DGRAM_FORWARDED:
		break;
	}
	n = qb_fwd_hdr_decode(d, len, h);
	if (n <= 0 || (size_t)n >= len) {
		*why = QB_SDROP_FWD_BAD;
		return QB_RELAY_DROP;
	}
	*hdr_len = (size_t)n;
	if (h->dst.relayed && is_us(pa, port, h->ipv6, &h->dst.addr) &&
	    !is_us(pa, port, h->ipv6, &h->dst.outer))
		return QB_RELAY_FORWARD;
	if (is_us(pa, port, h->ipv6, h->dst.relayed ? &h->dst.outer : &h->dst.addr))
		return QB_RELAY_DELIVER;
	*why = QB_SDROP_FWD_NOT_OURS;
	return QB_RELAY_DROP;
}

enum qb_steer_drop
qb_relay_rewrite(struct rte_mbuf *m, const struct qb_pkt_info *info, const struct qb_port_addrs *pa,
                 const struct qb_neigh_table *neigh, const struct rte_ether_addr *dst_mac,
                 const struct qb_ipaddr *src, uint16_t sport, const struct qb_ipaddr *dst,
                 uint16_t dport, bool hw_cksum)
{
	struct rte_ether_addr mac;
	struct qb_udp_tmpl t;
	struct qb_ipaddr nh;

	if (dst_mac != NULL) {
		mac = *dst_mac;
	} else {
		qb_next_hop(pa, dst, &nh);
		if (neigh == NULL || !qb_neigh_lookup(neigh, &nh, &mac))
			return QB_SDROP_NO_NEIGH;
	}
	if (qb_udp_tmpl_init(&t, &pa->mac, &mac, pa->vlan_tci, src, sport, dst, dport, hw_cksum) !=
	    0)
		return QB_SDROP_NO_NEIGH;
	if (rte_pktmbuf_adj(m, info->payload_off) == NULL)
		return QB_SDROP_NO_HEADROOM;
	if (m->pkt_len > info->payload_len)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - info->payload_len));
	/* RX offload flags mean nothing for this frame; keep the buffer kind. */
	m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
	if (qb_udp_prepend(m, &t) != 0) {
		rte_pktmbuf_prepend(m, info->payload_off); /* restore before the caller frees */
		return QB_SDROP_NO_HEADROOM;
	}
	return QB_SDROP_NONE;
}
