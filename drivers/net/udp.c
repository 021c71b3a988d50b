/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-flow UDP header templates. Everything that does not depend on the
 * payload (the headers' bytes, the partial sums of the IPv4 header and of the
 * pseudo-header and ports) is computed once in qb_udp_tmpl_init, so the
 * per-packet work of qb_udp_prepend is one copy, a few stores and, on the
 * software path, one pass over the payload.
 */
#include <rte_ip.h>
#include <rte_udp.h>

#include "qb_net.h"

/* Write the Ethernet (+VLAN) header at h; returns its length. */
static uint8_t
put_eth(uint8_t *h, const struct rte_ether_addr *src, const struct rte_ether_addr *dst,
        uint16_t vlan_tci, uint16_t ether_type)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)h;

	rte_ether_addr_copy(dst, &eth->dst_addr);
	rte_ether_addr_copy(src, &eth->src_addr);
	if (vlan_tci == 0) {
		eth->ether_type = rte_cpu_to_be_16(ether_type);
		return sizeof(*eth);
	}
	/* IEEE 802.1Q: TPID 0x8100, then TCI and the inner EtherType. */
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
	struct rte_vlan_hdr *vh = (struct rte_vlan_hdr *)(eth + 1);
	vh->vlan_tci = rte_cpu_to_be_16(vlan_tci);
	vh->eth_proto = rte_cpu_to_be_16(ether_type);
	return sizeof(*eth) + sizeof(*vh);
}

int
qb_udp_tmpl_init(struct qb_udp_tmpl *t, const struct rte_ether_addr *src_mac,
                 const struct rte_ether_addr *dst_mac, uint16_t vlan_tci,
                 const struct qb_ipaddr *src_ip, uint16_t sport, const struct qb_ipaddr *dst_ip,
                 uint16_t dport, bool hw_cksum)
{
	struct rte_udp_hdr *udp;
	uint32_t sum;
	uint8_t *l3;

	if (t == NULL || src_mac == NULL || dst_mac == NULL || src_ip == NULL || dst_ip == NULL)
		return QB_ERR_ARG;
	if (src_ip->family != dst_ip->family ||
	    (src_ip->family != QB_AF_INET && src_ip->family != QB_AF_INET6))
		return QB_ERR_ARG;
	memset(t, 0, sizeof(*t));
	t->family = src_ip->family;
	t->hw_cksum = hw_cksum;
	t->l2_len = put_eth(t->hdr, src_mac, dst_mac, vlan_tci,
	                    t->family == QB_AF_INET ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	l3 = t->hdr + t->l2_len;
	if (t->family == QB_AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;

		ip->version_ihl = RTE_IPV4_VHL_DEF;
		/* RFC 9000 §14: QUIC datagrams are sent with DF set. */
		ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
		ip->time_to_live = QB_IP_TTL;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = src_ip->v4;
		ip->dst_addr = dst_ip->v4;
		t->l3_len = sizeof(*ip);
		t->ip_sum = qb_cksum_raw(ip, sizeof(*ip));
		/* RFC 768 pseudo-header: source, destination, zero, protocol (length per packet).
		 */
		sum = qb_cksum_raw(&ip->src_addr, 8);
		t->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)l3;

		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = QB_IP_TTL;
		memcpy(ip->src_addr, src_ip->v6, 16);
		memcpy(ip->dst_addr, dst_ip->v6, 16);
		t->l3_len = sizeof(*ip);
		/* RFC 8200 §8.1 pseudo-header: addresses, length, zeros, next header. */
		sum = qb_cksum_raw(ip->src_addr, 32);
		t->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
	}
	sum += rte_cpu_to_be_16(IPPROTO_UDP);
	t->phdr_sum = qb_cksum_fold(sum);
	udp = (struct rte_udp_hdr *)(l3 + t->l3_len);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(dport);
	t->l4_sum = qb_cksum_fold((uint32_t)t->phdr_sum + udp->src_port + udp->dst_port);
	t->hdr_len = t->l2_len + t->l3_len + sizeof(*udp);
	if (!hw_cksum)
		t->ol_flags = 0;
	return 0;
}

/* Copy n (42..66) header bytes with fixed-size moves. */
static inline void
copy_hdr(uint8_t *dst, const uint8_t *src, unsigned int n)
{
	memcpy(dst, src, 32);
	if (n > 64)
		memcpy(dst + 32, src + 32, 32);
	memcpy(dst + n - 32, src + n - 32, 32);
}

/*
 * Fill lengths and checksums of the headers at h (l3 at h + l2_len) for a
 * payload of plen bytes whose raw sum is psum (unused on the offload path).
 */
static inline void
finish_hdr(uint8_t *h, const struct qb_udp_tmpl *t, uint32_t plen, uint16_t psum)
{
	uint8_t *l3 = h + t->l2_len;
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(l3 + t->l3_len);
	uint16_t ulen = rte_cpu_to_be_16((uint16_t)(plen + sizeof(*udp)));
	uint16_t c;

	udp->dgram_len = ulen;
	if (t->family == QB_AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;
		uint16_t tot = rte_cpu_to_be_16((uint16_t)(plen + sizeof(*udp) + sizeof(*ip)));

		ip->total_length = tot;
		/* Offload: the NIC computes it from a zero field. */
		ip->hdr_checksum =
		        t->hw_cksum ? 0 : (uint16_t)~qb_cksum_fold((uint32_t)t->ip_sum + tot);
	} else {
		((struct rte_ipv6_hdr *)l3)->payload_len = ulen;
	}
	if (t->hw_cksum) {
		/* The seed rte_ipv4/ipv6_phdr_cksum give: pseudo-header, not complemented. */
		udp->dgram_cksum = qb_cksum_fold((uint32_t)t->phdr_sum + ulen);
		return;
	}
	/* Pseudo-header length and UDP length field: the same value twice. */
	c = (uint16_t)~qb_cksum_fold((uint32_t)t->l4_sum + ulen + ulen + psum);
	/* RFC 768: a computed zero is sent as all ones (zero means "no checksum"). */
	udp->dgram_cksum = c == 0 ? 0xffff : c;
}

int
qb_udp_prepend(struct rte_mbuf *m, const struct qb_udp_tmpl *t)
{
	uint32_t plen = rte_pktmbuf_pkt_len(m);
	uint16_t psum = 0;
	uint8_t *h;

	if (unlikely(plen > QB_UDP_PAYLOAD_MAX))
		return QB_ERR_ARG;
	if (!t->hw_cksum) {
		/* Summed before the prepend so the data pointer is the payload's. */
		if (likely(m->nb_segs == 1))
			psum = qb_cksum_raw(rte_pktmbuf_mtod(m, const void *), plen);
		else
			psum = qb_cksum_mbuf(m, 0, plen);
	}
	h = (uint8_t *)rte_pktmbuf_prepend(m, t->hdr_len);
	if (unlikely(h == NULL))
		return QB_ERR_NOBUF;
	copy_hdr(h, t->hdr, t->hdr_len);
	finish_hdr(h, t, plen, psum);
	m->l2_len = t->l2_len;
	m->l3_len = t->l3_len;
	m->ol_flags |= t->ol_flags;
	return 0;
}

int
qb_udp_frame_init(struct qb_udp_frame *f, const struct qb_udp_tmpl *t, const void *payload,
                  uint16_t len)
{
	if (f == NULL || t == NULL || (payload == NULL && len > 0) || len > QB_UDP_PAYLOAD_MAX)
		return QB_ERR_ARG;
	/* Every field set, no memset first: a burst's first datagram builds
	 * one (a `rep stos` of the whole struct cost ~7 ns per burst). */
	memcpy(f->hdr, t->hdr, sizeof(f->hdr));
	f->hdr_len = t->hdr_len;
	f->l2_len = t->l2_len;
	f->l3_len = t->l3_len;
	f->payload_len = len;
	f->ol_flags = t->ol_flags;
	finish_hdr(f->hdr, t, len, t->hw_cksum ? 0 : qb_cksum_raw(payload, len));
	return 0;
}
