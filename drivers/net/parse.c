/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The receive-side parser: one pass over Ethernet, IP and UDP, every read
 * bounds-checked against the first segment, every malformed frame mapped to
 * one drop reason for the per-reason counters.
 */
#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "qb_net.h"

static const char *const drop_names[QB_DROP__COUNT] = {
        [QB_DROP_NONE] = "none",
        [QB_DROP_SHORT] = "short",
        [QB_DROP_UNSUPPORTED_ETHERTYPE] = "unsupported_ethertype",
        [QB_DROP_WRONG_VLAN] = "wrong_vlan",
        [QB_DROP_NOT_OURS] = "not_ours",
        [QB_DROP_BAD_IP_HDR] = "bad_ip_hdr",
        [QB_DROP_BAD_IP_CKSUM] = "bad_ip_cksum",
        [QB_DROP_FRAGMENT] = "fragment",
        [QB_DROP_UNSUPPORTED_PROTO] = "unsupported_proto",
        [QB_DROP_BAD_UDP_LEN] = "bad_udp_len",
        [QB_DROP_BAD_UDP_CKSUM] = "bad_udp_cksum",
        [QB_DROP_BAD_ARP] = "bad_arp",
        [QB_DROP_BAD_ND] = "bad_nd",
        [QB_DROP_UNSUPPORTED_ICMP] = "unsupported_icmp",
        [QB_DROP_NO_NEIGH] = "no_neigh",
        [QB_DROP_NO_MBUF] = "no_mbuf",
        [QB_DROP_TX_FULL] = "tx_full",
        [QB_DROP_NO_HEADROOM] = "no_headroom",
};

const char *
qb_drop_name(unsigned int r)
{
	if (r >= QB_DROP__COUNT || drop_names[r] == NULL)
		return "unknown";
	return drop_names[r];
}

#define IPPROTO_HOPOPTS_  0
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_ICMPV6_   58
#define IPPROTO_DSTOPTS_  60
#define MAX_EXT_HDRS      4

/*
 * Check the UDP header at l4off (l4len bytes of IP payload, already checked to
 * lie inside the packet); addrs points at the IP source and destination
 * addresses (8 or 32 bytes), summed only when the checksum is verified here.
 */
static enum qb_drop
check_udp(const struct rte_mbuf *m, const uint8_t *p, uint32_t l4off, uint32_t l4len,
          const void *addrs, bool v6, struct qb_pkt_info *info)
{
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(p + l4off);
	uint64_t l4flags = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	uint32_t ulen, sum;

	if (unlikely(m->data_len < l4off + sizeof(*udp)))
		return QB_DROP_SHORT;
	ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (unlikely(ulen < sizeof(*udp) || ulen > l4len))
		return QB_DROP_BAD_UDP_LEN;
	if (l4flags == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return QB_DROP_BAD_UDP_CKSUM;
	if (l4flags != RTE_MBUF_F_RX_L4_CKSUM_GOOD && l4flags != RTE_MBUF_F_RX_L4_CKSUM_NONE) {
		if (udp->dgram_cksum == 0) {
			/* RFC 768: no checksum; RFC 8200 §8.1: not allowed over IPv6. */
			if (v6)
				return QB_DROP_BAD_UDP_CKSUM;
		} else {
			sum = (uint32_t)qb_cksum_raw(addrs, v6 ? 32 : 8) +
			      rte_cpu_to_be_16(IPPROTO_UDP) + udp->dgram_len;
			if (likely(m->nb_segs == 1 || m->data_len >= l4off + ulen))
				sum += qb_cksum_raw(udp, ulen);
			else
				sum += qb_cksum_mbuf(m, l4off, ulen);
			if (qb_cksum_fold(sum) != 0xffff)
				return QB_DROP_BAD_UDP_CKSUM;
		}
	}
	info->kind = QB_PKT_UDP;
	info->sport = rte_be_to_cpu_16(udp->src_port);
	info->dport = rte_be_to_cpu_16(udp->dst_port);
	info->payload_off = (uint16_t)(l4off + sizeof(*udp));
	info->payload_len = (uint16_t)(ulen - sizeof(*udp));
	return QB_DROP_NONE;
}

static enum qb_drop
parse_ipv4(const struct rte_mbuf *m, const uint8_t *p, uint32_t off, const struct qb_port_addrs *pa,
           struct qb_pkt_info *info)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(p + off);
	uint64_t ipflags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint32_t ihl, tot;

	if (unlikely(m->data_len < off + sizeof(*ip)))
		return QB_DROP_SHORT;
	if (unlikely((ip->version_ihl >> 4) != 4))
		return QB_DROP_BAD_IP_HDR;
	ihl = (ip->version_ihl & 0xf) * 4u;
	tot = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(ihl < sizeof(*ip) || tot < ihl))
		return QB_DROP_BAD_IP_HDR;
	/* Ethernet may pad a short datagram; it may not cut one. */
	if (unlikely(m->data_len < off + ihl || m->pkt_len < off + tot))
		return QB_DROP_SHORT;
	if (ipflags == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return QB_DROP_BAD_IP_CKSUM;
	if (ipflags != RTE_MBUF_F_RX_IP_CKSUM_GOOD && ipflags != RTE_MBUF_F_RX_IP_CKSUM_NONE &&
	    unlikely(qb_cksum_raw(ip, ihl) != 0xffff))
		return QB_DROP_BAD_IP_CKSUM;
	/* More-fragments set or a non-zero offset: we do not reassemble. */
	if (unlikely(ip->fragment_offset &
	             rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
		return QB_DROP_FRAGMENT;
	info->l3_len = (uint16_t)ihl;
	info->src.family = QB_AF_INET;
	info->src.v4 = ip->src_addr;
	info->dst.family = QB_AF_INET;
	info->dst.v4 = ip->dst_addr;
	if (ip->next_proto_id != IPPROTO_UDP)
		return QB_DROP_UNSUPPORTED_PROTO;
	if (pa != NULL && !qb_port_addrs_has(pa, &info->dst))
		return QB_DROP_NOT_OURS;
	return check_udp(m, p, off + ihl, tot - ihl, &ip->src_addr, false, info);
}

static enum qb_drop
parse_ipv6(const struct rte_mbuf *m, const uint8_t *p, uint32_t off, const struct qb_port_addrs *pa,
           struct qb_pkt_info *info)
{
	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(p + off);
	uint32_t l4off, remain, hlen;
	unsigned int i;
	uint8_t nh;

	if (unlikely(m->data_len < off + sizeof(*ip)))
		return QB_DROP_SHORT;
	if (unlikely((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6))
		return QB_DROP_BAD_IP_HDR;
	remain = rte_be_to_cpu_16(ip->payload_len);
	if (unlikely(m->pkt_len < off + sizeof(*ip) + remain))
		return QB_DROP_SHORT;
	info->src.family = QB_AF_INET6;
	memcpy(info->src.v6, ip->src_addr, 16);
	info->dst.family = QB_AF_INET6;
	memcpy(info->dst.v6, ip->dst_addr, 16);
	l4off = off + sizeof(*ip);
	nh = ip->proto;
	/* RFC 8200 §4: skip options headers we can ignore; refuse routing/fragments. */
	for (i = 0; i < MAX_EXT_HDRS && (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_DSTOPTS_); i++) {
		if (unlikely(m->data_len < l4off + 8))
			return QB_DROP_SHORT;
		hlen = (p[l4off + 1] + 1u) * 8;
		if (unlikely(hlen > remain))
			return QB_DROP_BAD_IP_HDR;
		nh = p[l4off];
		l4off += hlen;
		remain -= hlen;
	}
	info->l3_len = (uint16_t)(l4off - off);
	if (nh == IPPROTO_FRAGMENT_)
		return QB_DROP_FRAGMENT;
	if (nh == IPPROTO_ICMPV6_) {
		const uint8_t *icmp = p + l4off;

		if (unlikely(remain < 4 || m->data_len < l4off + remain))
			return QB_DROP_SHORT;
		/* RFC 4861 §4.3/4.4: Neighbor Solicitation 135, Advertisement 136. */
		if (icmp[0] != 135 && icmp[0] != 136)
			return QB_DROP_UNSUPPORTED_ICMP;
		info->kind = QB_PKT_ND;
		info->payload_off = (uint16_t)l4off;
		info->payload_len = (uint16_t)remain;
		return QB_DROP_NONE;
	}
	if (nh != IPPROTO_UDP)
		return QB_DROP_UNSUPPORTED_PROTO;
	if (pa != NULL && !qb_port_addrs_has(pa, &info->dst))
		return QB_DROP_NOT_OURS;
	return check_udp(m, p, l4off, remain, ip->src_addr, true, info);
}

enum qb_drop
qb_net_parse(const struct rte_mbuf *m, const struct qb_port_addrs *pa, struct qb_pkt_info *info)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)p;
	uint32_t off = sizeof(*eth);
	uint16_t etype, vlan = 0;

	memset(info, 0, sizeof(*info));
	if (unlikely(m->data_len < sizeof(*eth)))
		return QB_DROP_SHORT;
	etype = eth->ether_type;
	if (etype == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
		const struct rte_vlan_hdr *vh = (const struct rte_vlan_hdr *)(eth + 1);

		if (unlikely(m->data_len < off + sizeof(*vh)))
			return QB_DROP_SHORT;
		vlan = rte_be_to_cpu_16(vh->vlan_tci);
		etype = vh->eth_proto;
		off += sizeof(*vh);
	} else if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
		vlan = m->vlan_tci;
	}
	info->l2_len = (uint8_t)off;
	info->vlan_tci = vlan;
	if (pa != NULL) {
		/* Compare the VLAN identifier only: priority bits may differ. */
		if ((vlan & 0xfff) != (pa->vlan_tci & 0xfff))
			return QB_DROP_WRONG_VLAN;
		/* Ours, broadcast, or multicast (ND goes to 33:33:ff:..). */
		if (!rte_is_same_ether_addr(&eth->dst_addr, &pa->mac) &&
		    !rte_is_multicast_ether_addr(&eth->dst_addr))
			return QB_DROP_NOT_OURS;
	}
	if (likely(etype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)))
		return parse_ipv4(m, p, off, pa, info);
	if (etype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
		return parse_ipv6(m, p, off, pa, info);
	if (etype == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
		if (unlikely(m->data_len < off + sizeof(struct rte_arp_hdr)))
			return QB_DROP_SHORT;
		info->kind = QB_PKT_ARP;
		info->payload_off = (uint16_t)off;
		info->payload_len = (uint16_t)(m->data_len - off);
		return QB_DROP_NONE;
	}
	return QB_DROP_UNSUPPORTED_ETHERTYPE;
}
