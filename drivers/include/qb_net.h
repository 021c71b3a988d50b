/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_NET_H
#define QB_NET_H

/*
 * The packet library under the data plane: IP addresses, one's-complement
 * checksums, per-flow Ethernet(+VLAN)/IPv4/IPv6/UDP header templates prepended
 * into an mbuf's headroom, and the receive-side parser with drop reasons.
 * ARP and neighbour discovery are in qb_neigh.h.
 *
 * Conventions: ports and lengths in arguments and results are host order;
 * addresses are kept in network order (struct qb_ipaddr). Functions that can
 * fail return 0 (or a non-negative length) or a negative enum qb_err value
 * (qburst/error.h). Nothing here allocates, locks or logs: every function is
 * safe on any lcore, on mbufs the caller owns.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <qburst/error.h>

/* ---------------------------------------------------------------- addresses */

#define QB_AF_INET       4  /* struct qb_ipaddr.family for IPv4 */
#define QB_AF_INET6      6  /* struct qb_ipaddr.family for IPv6 */
#define QB_IPADDR_STRLEN 48 /* enough for any formatted address plus "/128" */

/* An IPv4 or IPv6 address, network byte order. family 0 means "none". */
struct qb_ipaddr {
	uint8_t family; /* QB_AF_INET, QB_AF_INET6, or 0 (unset) */
	union {
		rte_be32_t v4;
		uint8_t v6[16];
	};
};

/* An address with a prefix length: one --ip=ADDR[/PREFIX] of a port. */
struct qb_ipnet {
	struct qb_ipaddr addr;
	uint8_t prefix; /* 0..32 or 0..128 */
};

/* Parse "198.18.0.1" or "2001:db8::1". 0, or QB_ERR_INVALID. */
int qb_ipaddr_parse(const char *s, struct qb_ipaddr *out);

/*
 * Parse "ADDR" or "ADDR/PREFIX"; without a prefix it is 32 (IPv4) or 128
 * (IPv6). 0, or QB_ERR_INVALID (bad address or prefix out of range).
 */
int qb_ipnet_parse(const char *s, struct qb_ipnet *out);

/*
 * Write a into buf (NUL-terminated). Returns the string length, or
 * QB_ERR_NOBUF if len is too small (QB_IPADDR_STRLEN always suffices), or
 * QB_ERR_INVALID if a->family is unset.
 */
int qb_ipaddr_format(const struct qb_ipaddr *a, char *buf, size_t len);

/* "ADDR/PREFIX". Same results as qb_ipaddr_format. */
int qb_ipnet_format(const struct qb_ipnet *n, char *buf, size_t len);

/* True if a and b are the same family and address. */
bool qb_ipaddr_equal(const struct qb_ipaddr *a, const struct qb_ipaddr *b);

/* True if a has n's family and its first n->prefix bits equal n's. */
bool qb_ipnet_contains(const struct qb_ipnet *n, const struct qb_ipaddr *a);

/* Parse "02:00:00:00:00:01" (also '-' separated). 0, or QB_ERR_INVALID. */
int qb_mac_parse(const char *s, struct rte_ether_addr *out);

/* ------------------------------------------------------- our port's addresses */

#define QB_PORT_MAX_ADDRS 8

/*
 * The addresses of one port: its MAC, the --ip addresses (v4 and v6 mixed),
 * optional gateways (family 0 when none) and the VLAN our frames carry (0:
 * untagged). Filled on the control lcore before workers start, read-only
 * afterwards, so workers may read it without locks.
 */
struct qb_port_addrs {
	struct rte_ether_addr mac;
	uint16_t vlan_tci; /* host order; 0 means untagged */
	uint8_t n_addrs;
	struct qb_ipnet addrs[QB_PORT_MAX_ADDRS];
	struct qb_ipaddr gw4; /* IPv4 gateway, family 0 when none */
	struct qb_ipaddr gw6; /* IPv6 gateway, family 0 when none */
};

/* Zero pa and set its MAC. */
void qb_port_addrs_init(struct qb_port_addrs *pa, const struct rte_ether_addr *mac);

/* Append an address. 0, QB_ERR_NOMEM when full, QB_ERR_ARG if family unset. */
int qb_port_addrs_add(struct qb_port_addrs *pa, const struct qb_ipnet *n);

/* True if a is one of pa's addresses. */
bool qb_port_addrs_has(const struct qb_port_addrs *pa, const struct qb_ipaddr *a);

/*
 * The source address to use towards dst: pa's first address of dst's family
 * whose prefix contains dst, else its first address of that family; NULL if
 * pa has none of that family.
 */
const struct qb_ipaddr *qb_port_addrs_src_for(const struct qb_port_addrs *pa,
                                              const struct qb_ipaddr *dst);

/*
 * The next hop towards dst: dst itself when one of pa's prefixes contains it
 * or no gateway of dst's family is set, else that gateway. Written to *nh.
 */
void qb_next_hop(const struct qb_port_addrs *pa, const struct qb_ipaddr *dst, struct qb_ipaddr *nh);

/* ---------------------------------------------------------------- checksums */

/*
 * One's-complement sums (RFC 1071) in the "raw" convention of rte_raw_cksum:
 * 16-bit words read in memory order, so a folded result can be stored into a
 * header as is (after complementing) on any host. Partial sums are uint32_t
 * holding at most 0xffff after qb_cksum_fold; adding a few of them before a
 * fold is safe.
 */

/* Fold a 32-bit partial sum to 16 bits with end-around carries. */
static inline uint16_t
qb_cksum_fold(uint32_t sum)
{
	sum = (sum >> 16) + (sum & 0xffff);
	sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

/*
 * Raw sum of len bytes at buf, folded to 16 bits (a buffer of odd length is
 * padded with one zero byte). Dispatches at run time to an AVX2 version when
 * the CPU has it; qb_cksum_raw_scalar/_avx2 are exported for tests and
 * benchmarks (qb_cksum_raw_avx2 must only be called if qb_cksum_have_avx2()).
 */
uint16_t qb_cksum_raw(const void *buf, size_t len);
uint16_t qb_cksum_raw_scalar(const void *buf, size_t len);
uint16_t qb_cksum_raw_avx2(const void *buf, size_t len);
bool qb_cksum_have_avx2(void);

/*
 * Raw sum of len bytes of m's data starting off bytes in, across segments
 * (odd-length segments handled). The range must lie inside pkt_len.
 */
uint16_t qb_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len);

/* ------------------------------------------------------------ UDP templates */

/* Largest header stack: Ethernet 14 + VLAN 4 + IPv6 40 + UDP 8. */
#define QB_UDP_HDR_MAX 66

/* Largest UDP payload qb_udp_prepend accepts (IPv4 total length <= 65535). */
#define QB_UDP_PAYLOAD_MAX (65535 - 20 - 8)

#define QB_IP_TTL 64 /* IPv4 TTL and IPv6 hop limit of the datagrams we send */

/*
 * The headers of one flow, built once by qb_udp_tmpl_init and read-only after
 * (share it between lcores freely). The IPv4 header has DF set (RFC 9000 §14)
 * and identification 0 (RFC 6864 §4.1: atomic datagrams). Layout is private
 * to udp.c but public so the template can be embedded and used inline.
 */
struct qb_udp_tmpl {
	uint8_t hdr[QB_UDP_HDR_MAX] __rte_aligned(16); /* lengths/checksums 0 */
	uint8_t hdr_len;                               /* l2_len + l3_len + 8 */
	uint8_t l2_len;                                /* 14, or 18 with a VLAN tag */
	uint8_t l3_len;                                /* 20 or 40 */
	uint8_t family;                                /* QB_AF_INET or QB_AF_INET6 */
	bool hw_cksum;                                 /* offload path (see qb_udp_prepend) */
	uint16_t ip_sum;   /* IPv4: raw sum of the header with length/cksum 0 */
	uint16_t phdr_sum; /* raw sum of the pseudo-header addresses + proto */
	uint16_t l4_sum;   /* phdr_sum + the UDP ports */
	uint64_t ol_flags; /* offload flags set on the hw_cksum path, else 0 */
};

/*
 * Build t for a flow. src_ip and dst_ip must be the same family. vlan_tci is
 * host order, 0 for untagged. sport/dport host order. hw_cksum selects the
 * offload path: only set it when the port advertises IPv4 and UDP checksum
 * offload (IPv6: UDP) AND the offloads were enabled in txmode.offloads.
 * 0, or QB_ERR_ARG (NULL, mixed or unset families).
 */
int qb_udp_tmpl_init(struct qb_udp_tmpl *t, const struct rte_ether_addr *src_mac,
                     const struct rte_ether_addr *dst_mac, uint16_t vlan_tci,
                     const struct qb_ipaddr *src_ip, uint16_t sport, const struct qb_ipaddr *dst_ip,
                     uint16_t dport, bool hw_cksum);

/*
 * m's data (pkt_len bytes, possibly several segments) is the UDP payload.
 * Prepend t's headers into m's first-segment headroom (the payload is never
 * copied or moved), fill the IP and UDP lengths, then:
 *  - offload path (t->hw_cksum): ol_flags |= RTE_MBUF_F_TX_IPV4 |
 *    RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM (IPv6: TX_IPV6 |
 *    TX_UDP_CKSUM), l2_len/l3_len set, IPv4 checksum 0, UDP checksum seeded
 *    with the pseudo-header sum exactly as rte_ipv4/ipv6_phdr_cksum give it;
 *  - software path: full IPv4 header checksum and full UDP checksum over
 *    pseudo-header, header and payload; a UDP checksum that computes to 0 is
 *    sent as 0xffff (RFC 768; RFC 8200 §8.1). l2_len/l3_len are set too.
 * Returns 0; QB_ERR_NOBUF if the headroom is shorter than t->hdr_len, or
 * QB_ERR_ARG if the payload exceeds QB_UDP_PAYLOAD_MAX, with m unchanged.
 */
int qb_udp_prepend(struct rte_mbuf *m, const struct qb_udp_tmpl *t);

/*
 * A whole-frame header for a constant payload (udpgen): every length and
 * checksum already final, so the per-packet work is one copy of hdr_len bytes
 * and a few stores (qb_udp_frame_prepend, inline). Built once per flow.
 */
struct qb_udp_frame {
	uint8_t hdr[QB_UDP_HDR_MAX] __rte_aligned(16);
	uint8_t hdr_len;
	uint8_t l2_len;
	uint8_t l3_len;
	uint16_t payload_len; /* the only payload length this frame is valid for */
	uint64_t ol_flags;    /* offload flags to OR into the mbuf (hw path) */
};

/*
 * Finish f from t for the payload of len bytes at payload: on the software
 * path the full UDP checksum is computed here once; on the offload path the
 * pseudo-header seed is stored and the NIC completes it. 0, or QB_ERR_ARG
 * (len > QB_UDP_PAYLOAD_MAX).
 */
int qb_udp_frame_init(struct qb_udp_frame *f, const struct qb_udp_tmpl *t, const void *payload,
                      uint16_t len);

/*
 * Prepend f's headers to m, whose data must be exactly the payload f was
 * built for (pkt_len == f->payload_len; not checked here: the caller's
 * contract). QB_ERR_NOBUF with m unchanged if the headroom is short.
 */
static inline int
qb_udp_frame_prepend(struct rte_mbuf *m, const struct qb_udp_frame *f)
{
	uint8_t *h;

	if (unlikely(rte_pktmbuf_headroom(m) < f->hdr_len))
		return QB_ERR_NOBUF;
	m->data_off -= f->hdr_len;
	m->data_len += f->hdr_len;
	m->pkt_len += f->hdr_len;
	h = rte_pktmbuf_mtod(m, uint8_t *);
	/* Fixed-size overlapping copies compile to a few vector moves. */
	memcpy(h, f->hdr, 32);
	if (f->hdr_len > 64)
		memcpy(h + 32, f->hdr + 32, 32);
	memcpy(h + f->hdr_len - 32, f->hdr + f->hdr_len - 32, 32);
	m->l2_len = f->l2_len;
	m->l3_len = f->l3_len;
	m->ol_flags |= f->ol_flags;
	return 0;
}

/* ------------------------------------------------------------------ receive */

/*
 * Why a received (or unsendable) frame was dropped: one counter per reason.
 * qb_drop_name gives a short stable name for statistics ("bad_udp_cksum").
 * QB_DROP_NONE (0) means accepted.
 */
enum qb_drop {
	QB_DROP_NONE = 0,
	QB_DROP_SHORT,                 /* frame ends before a header does */
	QB_DROP_UNSUPPORTED_ETHERTYPE, /* not IPv4/IPv6/ARP, or stacked VLANs */
	QB_DROP_WRONG_VLAN,            /* tagged differently from the port */
	QB_DROP_NOT_OURS,              /* MAC or IP destination not ours */
	QB_DROP_BAD_IP_HDR,            /* version, IHL or lengths inconsistent */
	QB_DROP_BAD_IP_CKSUM,          /* IPv4 header checksum wrong */
	QB_DROP_FRAGMENT,              /* IPv4 fragment or IPv6 fragment header */
	QB_DROP_UNSUPPORTED_PROTO,     /* not UDP/ICMPv6, or an extension header we skip not */
	QB_DROP_BAD_UDP_LEN,           /* UDP length < 8 or beyond the IP payload */
	QB_DROP_BAD_UDP_CKSUM,         /* UDP checksum wrong (or 0 over IPv6) */
	QB_DROP_BAD_ARP,               /* ARP not Ethernet/IPv4 or malformed */
	QB_DROP_BAD_ND,                /* ICMPv6 checksum/hop limit/options invalid */
	QB_DROP_UNSUPPORTED_ICMP,      /* ICMPv6 other than NS/NA (not answered) */
	QB_DROP_NO_NEIGH,              /* TX: next hop unresolved */
	QB_DROP_NO_MBUF,               /* TX: mempool empty */
	QB_DROP_TX_FULL,               /* TX: rte_eth_tx_burst did not take it */
	QB_DROP_NO_HEADROOM,           /* TX: headroom too short for the headers */
	QB_DROP__COUNT
};

/* A static name for r ("short", "bad_ip_cksum", ...); "unknown" if out of range. */
const char *qb_drop_name(unsigned int r);

/* What an accepted frame is. */
enum qb_pkt_kind {
	QB_PKT_UDP = 1, /* a UDP datagram for one of our addresses */
	QB_PKT_ARP,     /* an ARP packet: pass to qb_neigh_input */
	QB_PKT_ND,      /* an ICMPv6 neighbour solicitation/advertisement: qb_neigh_input */
};

/* The result of qb_net_parse. Offsets are from the start of m's data. */
struct qb_pkt_info {
	uint8_t kind;      /* enum qb_pkt_kind */
	uint8_t l2_len;    /* 14 or 18 */
	uint16_t l3_len;   /* IP header length incl. options / skipped ext. headers */
	uint16_t vlan_tci; /* host order, 0 when untagged */
	uint16_t sport;    /* UDP: host order */
	uint16_t dport;
	uint16_t payload_off; /* UDP: first payload byte; ARP/ND: the ARP/ICMPv6 header */
	uint16_t payload_len; /* UDP: payload bytes; ARP/ND: bytes after payload_off */
	struct qb_ipaddr src; /* UDP and ND: IP source/destination */
	struct qb_ipaddr dst;
};

/*
 * Parse a received frame: Ethernet with at most one 802.1Q tag; IPv4 (header
 * checksum verified unless the mbuf says RX_IP_CKSUM_GOOD, options skipped,
 * fragments dropped) or IPv6 (Hop-by-Hop and Destination Options headers
 * skipped, a Fragment header dropped); UDP (length checked, checksum verified
 * in software unless RX_L4_CKSUM_GOOD; a zero checksum is accepted over IPv4
 * only, RFC 768 / RFC 8200 §8.1); or ARP / ICMPv6 NS-NA classified for
 * qb_neigh_input. With pa non-NULL, frames whose destination MAC is neither
 * pa->mac, broadcast nor multicast, UDP whose destination IP is not one of pa's,
 * and frames whose VLAN differs from pa->vlan_tci are dropped; with pa NULL
 * every destination is accepted. The headers up to the UDP payload (and all of
 * an ARP/ND packet) must be in the first segment (else QB_DROP_SHORT); the UDP
 * checksum covers every segment. m is not modified. Returns QB_DROP_NONE with
 * *info filled, or the drop reason.
 */
enum qb_drop qb_net_parse(const struct rte_mbuf *m, const struct qb_port_addrs *pa,
                          struct qb_pkt_info *info);

#endif
