/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbours: the per-port table, ARP (RFC 826) and IPv6 neighbour discovery
 * (RFC 4861). Requests for our addresses are answered by rewriting the
 * received mbuf in place, so a worker can answer without allocating and
 * without touching shared state (see the threading rule in qb_neigh.h).
 */
#include <rte_arp.h>
#include <rte_ip.h>

#include "qb_neigh.h"

#define ICMP6_NS       135
#define ICMP6_NA       136
#define ND_OPT_SLLA    1    /* RFC 4861 §4.6.1 source link-layer address */
#define ND_OPT_TLLA    2    /* target link-layer address */
#define ND_NA_FLAG_S   0x40 /* solicited (first byte of the flags word) */
#define ND_NA_FLAG_O   0x20 /* override */
#define ND_HOP_LIMIT   255  /* RFC 4861 §7.1: proves the packet was not forwarded */
#define ND_NS_LEN      24   /* ICMPv6 header, reserved, target */
#define ND_LLA_OPT_LEN 8
#define ARP_FRAME_MIN  60 /* Ethernet minimum without FCS */

/* ------------------------------------------------------------------- table */

void
qb_neigh_init(struct qb_neigh_table *tbl)
{
	memset(tbl, 0, sizeof(*tbl));
}

static struct qb_neigh_entry *
find(const struct qb_neigh_table *tbl, const struct qb_ipaddr *ip)
{
	unsigned int i;

	for (i = 0; i < tbl->n; i++)
		if (qb_ipaddr_equal(&tbl->e[i].ip, ip))
			return (struct qb_neigh_entry *)&tbl->e[i];
	return NULL;
}

static int
put(struct qb_neigh_table *tbl, const struct qb_ipaddr *ip, const struct rte_ether_addr *mac,
    bool is_static)
{
	struct qb_neigh_entry *e;
	unsigned int i;

	if (ip->family != QB_AF_INET && ip->family != QB_AF_INET6)
		return QB_ERR_ARG;
	e = find(tbl, ip);
	if (e != NULL) {
		if (e->is_static && !is_static)
			return 0; /* configured by the user: learning never overrides */
	} else if (tbl->n < QB_NEIGH_MAX) {
		e = &tbl->e[tbl->n++];
	} else {
		/* Full: recycle learned slots round-robin; static ones stay. */
		for (i = 0; i < QB_NEIGH_MAX; i++) {
			unsigned int v = (tbl->victim + i) % QB_NEIGH_MAX;

			if (!tbl->e[v].is_static) {
				e = &tbl->e[v];
				tbl->victim = (v + 1) % QB_NEIGH_MAX;
				break;
			}
		}
		if (e == NULL)
			return QB_ERR_NOMEM;
	}
	e->ip = *ip;
	e->mac = *mac;
	e->is_static = is_static;
	return 0;
}

int
qb_neigh_add_static(struct qb_neigh_table *tbl, const struct qb_ipaddr *ip,
                    const struct rte_ether_addr *mac)
{
	return put(tbl, ip, mac, true);
}

int
qb_neigh_learn(struct qb_neigh_table *tbl, const struct qb_ipaddr *ip,
               const struct rte_ether_addr *mac)
{
	return put(tbl, ip, mac, false);
}

bool
qb_neigh_lookup(const struct qb_neigh_table *tbl, const struct qb_ipaddr *ip,
                struct rte_ether_addr *mac)
{
	const struct qb_neigh_entry *e = find(tbl, ip);

	if (e == NULL)
		return false;
	*mac = e->mac;
	return true;
}

/* ------------------------------------------------------------- IPv6 helpers */

void
qb_nd_solicited_node(const uint8_t v6[16], uint8_t out[16])
{
	static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};

	memcpy(out, prefix, sizeof(prefix));
	memcpy(out + 13, v6 + 13, 3);
}

void
qb_nd_mcast_mac(const uint8_t v6[16], struct rte_ether_addr *mac)
{
	mac->addr_bytes[0] = 0x33;
	mac->addr_bytes[1] = 0x33;
	memcpy(&mac->addr_bytes[2], v6 + 12, 4);
}

static bool
is_unspec(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

/* ICMPv6 checksum (RFC 8200 §8.1 pseudo-header) of len bytes at icmp, complemented. */
static uint16_t
icmp6_cksum(const struct rte_ipv6_hdr *ip, const void *icmp, uint32_t len)
{
	uint32_t sum = qb_cksum_raw(ip->src_addr, 32);

	sum += rte_cpu_to_be_16((uint16_t)len);
	sum += rte_cpu_to_be_16(IPPROTO_ICMPV6);
	sum += qb_cksum_raw(icmp, len);
	return (uint16_t)~qb_cksum_fold(sum);
}

/* A reply leaves with the tag it came with; a stripped tag goes back by offload. */
static void
reset_tx_flags(struct rte_mbuf *m)
{
	m->ol_flags = (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) ? RTE_MBUF_F_TX_VLAN : 0;
}

/* -------------------------------------------------------------------- ARP */

static enum qb_neigh_action
arp_input(struct qb_neigh_table *tbl, const struct qb_port_addrs *pa, struct rte_mbuf *m,
          const struct qb_pkt_info *info, enum qb_drop *drop)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp =
	        rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, info->payload_off);
	struct qb_ipaddr sip = {.family = QB_AF_INET}, tip = {.family = QB_AF_INET};
	struct rte_ether_addr sha;
	uint16_t op;
	bool for_us;

	if (info->payload_len < sizeof(*arp) ||
	    arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4) {
		*drop = QB_DROP_BAD_ARP;
		return QB_NEIGH_CONSUMED;
	}
	op = rte_be_to_cpu_16(arp->arp_opcode);
	if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) {
		*drop = QB_DROP_BAD_ARP;
		return QB_NEIGH_CONSUMED;
	}
	sip.v4 = arp->arp_data.arp_sip;
	tip.v4 = arp->arp_data.arp_tip;
	sha = arp->arp_data.arp_sha;
	for_us = qb_port_addrs_has(pa, &tip);
	/*
	 * RFC 826 merge: update a sender we know; add it when the packet is for
	 * us. A zero sender (RFC 5227 probe) or a multicast MAC is never learned.
	 */
	if (tbl != NULL && sip.v4 != 0 && rte_is_unicast_ether_addr(&sha) &&
	    (for_us || find(tbl, &sip) != NULL))
		qb_neigh_learn(tbl, &sip, &sha);
	/* Answer requests for our address; sip == tip is a gratuitous announcement. */
	if (op != RTE_ARP_OP_REQUEST || !for_us || sip.v4 == tip.v4)
		return QB_NEIGH_CONSUMED;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = sha;
	arp->arp_data.arp_tip = sip.v4;
	arp->arp_data.arp_sha = pa->mac;
	arp->arp_data.arp_sip = tip.v4;
	eth->dst_addr = sha;
	eth->src_addr = pa->mac;
	reset_tx_flags(m);
	return QB_NEIGH_REPLY;
}

/* ----------------------------------------------------------------- ND */

/*
 * Walk the options after the fixed part (RFC 4861 §4.6): each has a non-zero
 * length in units of 8 bytes. Sets *lla to the link-layer address option of
 * type want, if present. False if the options are malformed.
 */
static bool
nd_options(const uint8_t *o, uint32_t len, uint8_t want, const struct rte_ether_addr **lla)
{
	uint32_t olen;

	*lla = NULL;
	while (len > 0) {
		if (len < 2 || o[1] == 0)
			return false;
		olen = o[1] * 8u;
		if (olen > len)
			return false;
		if (o[0] == want && olen >= ND_LLA_OPT_LEN)
			*lla = (const struct rte_ether_addr *)(o + 2);
		o += olen;
		len -= olen;
	}
	return true;
}

static enum qb_neigh_action
nd_input(struct qb_neigh_table *tbl, const struct qb_port_addrs *pa, struct rte_mbuf *m,
         const struct qb_pkt_info *info, enum qb_drop *drop)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(p + info->l2_len);
	uint8_t *icmp = p + info->payload_off;
	uint32_t len = info->payload_len;
	const struct rte_ether_addr *lla;
	struct rte_ether_addr peer;
	struct qb_ipaddr target = {.family = QB_AF_INET6};
	uint8_t snm[16];
	bool src_unspec, dst_mcast;
	uint32_t frame;

	/* RFC 4861 §7.1.1 / §7.1.2 validity checks. */
	if (ip->hop_limits != ND_HOP_LIMIT || icmp[1] != 0 || len < ND_NS_LEN ||
	    info->l3_len != sizeof(*ip) || icmp6_cksum(ip, icmp, len) != 0 || icmp[8] == 0xff ||
	    !nd_options(icmp + ND_NS_LEN, len - ND_NS_LEN,
	                icmp[0] == ICMP6_NS ? ND_OPT_SLLA : ND_OPT_TLLA, &lla)) {
		*drop = QB_DROP_BAD_ND;
		return QB_NEIGH_CONSUMED;
	}
	/* RFC 4291 §2.7: a multicast source is invalid; answering it would send a
	 * solicited advertisement to a group (§7.1.2 forbids that). */
	if (ip->src_addr[0] == 0xff) {
		*drop = QB_DROP_BAD_ND;
		return QB_NEIGH_CONSUMED;
	}
	memcpy(target.v6, icmp + 8, 16);
	src_unspec = is_unspec(ip->src_addr);
	dst_mcast = ip->dst_addr[0] == 0xff;
	if (icmp[0] == ICMP6_NA) {
		/* §7.1.2: a multicast advertisement must not claim to be solicited. */
		if (dst_mcast && (icmp[4] & ND_NA_FLAG_S)) {
			*drop = QB_DROP_BAD_ND;
			return QB_NEIGH_CONSUMED;
		}
		if (tbl != NULL && lla != NULL && rte_is_unicast_ether_addr(lla))
			qb_neigh_learn(tbl, &target, lla);
		return QB_NEIGH_CONSUMED;
	}
	/* Neighbor Solicitation. §7.1.1: from :: it goes to a solicited-node address, no SLLA. */
	qb_nd_solicited_node(target.v6, snm);
	if (src_unspec && (memcmp(ip->dst_addr, snm, 16) != 0 || lla != NULL)) {
		*drop = QB_DROP_BAD_ND;
		return QB_NEIGH_CONSUMED;
	}
	if (!qb_port_addrs_has(pa, &target))
		return QB_NEIGH_CONSUMED;
	/* Addressed to the target itself or to its solicited-node group only. */
	if (memcmp(ip->dst_addr, target.v6, 16) != 0 && memcmp(ip->dst_addr, snm, 16) != 0)
		return QB_NEIGH_CONSUMED;
	/* §7.2.3: learn the sender when it gave its link-layer address. */
	if (tbl != NULL && !src_unspec && lla != NULL && rte_is_unicast_ether_addr(lla)) {
		struct qb_ipaddr src = {.family = QB_AF_INET6};

		memcpy(src.v6, ip->src_addr, 16);
		qb_neigh_learn(tbl, &src, lla);
	}
	/* The advertisement: 24 fixed bytes plus the target link-layer option. */
	frame = info->payload_off + ND_NS_LEN + ND_LLA_OPT_LEN;
	if (m->nb_segs != 1 || frame > (uint32_t)m->buf_len - m->data_off)
		return QB_NEIGH_CONSUMED;
	peer = lla != NULL ? *lla : eth->src_addr;
	/* §7.2.4: to the soliciting address, or to all-nodes when it was :: (S clear). */
	if (src_unspec) {
		static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 0x01};

		memcpy(ip->dst_addr, all_nodes, 16);
		qb_nd_mcast_mac(all_nodes, &eth->dst_addr);
	} else {
		memcpy(ip->dst_addr, ip->src_addr, 16);
		eth->dst_addr = peer;
	}
	memcpy(ip->src_addr, target.v6, 16);
	eth->src_addr = pa->mac;
	ip->payload_len = rte_cpu_to_be_16(ND_NS_LEN + ND_LLA_OPT_LEN);
	ip->hop_limits = ND_HOP_LIMIT;
	icmp[0] = ICMP6_NA;
	icmp[1] = 0;
	icmp[2] = icmp[3] = 0;
	/* Solicited unless to all-nodes; Override: we are the address's owner. */
	icmp[4] = (uint8_t)((src_unspec ? 0 : ND_NA_FLAG_S) | ND_NA_FLAG_O);
	icmp[5] = icmp[6] = icmp[7] = 0;
	icmp[ND_NS_LEN] = ND_OPT_TLLA;
	icmp[ND_NS_LEN + 1] = 1;
	memcpy(icmp + ND_NS_LEN + 2, &pa->mac, RTE_ETHER_ADDR_LEN);
	m->data_len = (uint16_t)frame;
	m->pkt_len = frame;
	{
		uint16_t c = icmp6_cksum(ip, icmp, ND_NS_LEN + ND_LLA_OPT_LEN);

		memcpy(icmp + 2, &c, 2);
	}
	reset_tx_flags(m);
	return QB_NEIGH_REPLY;
}

enum qb_neigh_action
qb_neigh_input(struct qb_neigh_table *tbl, const struct qb_port_addrs *pa, struct rte_mbuf *m,
               const struct qb_pkt_info *info, enum qb_drop *drop)
{
	*drop = QB_DROP_NONE;
	if (info->kind == QB_PKT_ARP)
		return arp_input(tbl, pa, m, info, drop);
	if (info->kind == QB_PKT_ND)
		return nd_input(tbl, pa, m, info, drop);
	*drop = QB_DROP_UNSUPPORTED_PROTO;
	return QB_NEIGH_CONSUMED;
}

/* --------------------------------------------------------- solicitations */

int
qb_neigh_solicit_build(struct rte_mbuf *m, const struct qb_port_addrs *pa,
                       const struct qb_ipaddr *target)
{
	static const struct rte_ether_addr bcast = {
	        .addr_bytes = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	const struct qb_ipaddr *src = qb_port_addrs_src_for(pa, target);
	struct rte_ether_addr dmac;
	struct rte_ether_hdr *eth;
	uint32_t l2 = pa->vlan_tci ? 18 : 14, len;
	uint8_t *p;

	if (src == NULL)
		return QB_ERR_ARG;
	if (target->family == QB_AF_INET)
		len = RTE_MAX(l2 + (uint32_t)sizeof(struct rte_arp_hdr), (uint32_t)ARP_FRAME_MIN);
	else
		len = l2 + sizeof(struct rte_ipv6_hdr) + ND_NS_LEN + ND_LLA_OPT_LEN;
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL)
		return QB_ERR_NOBUF;
	memset(p, 0, len);
	eth = (struct rte_ether_hdr *)p;
	eth->src_addr = pa->mac;
	if (pa->vlan_tci) {
		struct rte_vlan_hdr *vh = (struct rte_vlan_hdr *)(eth + 1);

		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
		vh->vlan_tci = rte_cpu_to_be_16(pa->vlan_tci);
	}
	if (target->family == QB_AF_INET) {
		struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(p + l2);

		eth->dst_addr = bcast;
		*(rte_be16_t *)(p + l2 - 2) = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
		arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
		arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		arp->arp_hlen = RTE_ETHER_ADDR_LEN;
		arp->arp_plen = 4;
		arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
		arp->arp_data.arp_sha = pa->mac;
		arp->arp_data.arp_sip = src->v4;
		arp->arp_data.arp_tip = target->v4;
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(p + l2);
		uint8_t *icmp = (uint8_t *)(ip + 1);
		uint16_t c;

		*(rte_be16_t *)(p + l2 - 2) = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
		/* RFC 4861 §7.2.2: to the target's solicited-node multicast group. */
		qb_nd_solicited_node(target->v6, ip->dst_addr);
		qb_nd_mcast_mac(ip->dst_addr, &dmac);
		eth->dst_addr = dmac;
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16(ND_NS_LEN + ND_LLA_OPT_LEN);
		ip->proto = IPPROTO_ICMPV6;
		ip->hop_limits = ND_HOP_LIMIT;
		memcpy(ip->src_addr, src->v6, 16);
		icmp[0] = ICMP6_NS;
		memcpy(icmp + 8, target->v6, 16);
		icmp[ND_NS_LEN] = ND_OPT_SLLA;
		icmp[ND_NS_LEN + 1] = 1;
		memcpy(icmp + ND_NS_LEN + 2, &pa->mac, RTE_ETHER_ADDR_LEN);
		c = icmp6_cksum(ip, icmp, ND_NS_LEN + ND_LLA_OPT_LEN);
		memcpy(icmp + 2, &c, 2);
	}
	return 0;
}
