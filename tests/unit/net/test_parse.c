/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>

#include "qb_net.h"
#include "helpers.h"
#include "vectors.h"

static struct test_mbuf tm, tm2;
static uint8_t f[256];
static struct qb_port_addrs pa; /* the receiver: 198.18.0.2, 2001:db8::2, MAC ..:02 */

static void
setup(void)
{
	struct rte_ether_addr mac = {.addr_bytes = {2, 0, 0, 0, 0, 2}};
	struct qb_ipnet n;

	qb_port_addrs_init(&pa, &mac);
	qb_ipnet_parse("198.18.0.2/15", &n);
	qb_port_addrs_add(&pa, &n);
	qb_ipnet_parse("2001:db8::2/64", &n);
	qb_port_addrs_add(&pa, &n);
}

TestSuite(parse, .init = setup);

static enum qb_drop
parse(const uint8_t *frame, uint16_t len, uint64_t ol_flags, const struct qb_port_addrs *p,
      struct qb_pkt_info *info)
{
	struct rte_mbuf *m = tmbuf(&tm, 128, frame, len);

	m->ol_flags = ol_flags;
	return qb_net_parse(m, p, info);
}

/* Recompute the IPv4 header checksum of f (untagged) after an edit. */
static void
fix_ip4(uint8_t *fr)
{
	uint16_t c;

	fr[24] = fr[25] = 0;
	c = (uint16_t)~ref_sum(fr + 14, 20, 0);
	fr[24] = (uint8_t)(c >> 8);
	fr[25] = (uint8_t)c;
}

Test(parse, ipv4_udp)
{
	struct qb_pkt_info in;

	cr_assert_eq(parse(udp4_qburst, sizeof(udp4_qburst), 0, &pa, &in), QB_DROP_NONE);
	cr_assert_eq(in.kind, QB_PKT_UDP);
	cr_assert_eq(in.l2_len, 14);
	cr_assert_eq(in.l3_len, 20);
	cr_assert_eq(in.sport, 1024);
	cr_assert_eq(in.dport, 4433);
	cr_assert_eq(in.payload_off, 42);
	cr_assert_eq(in.payload_len, 7);
	cr_assert_eq(in.src.family, QB_AF_INET);
	cr_assert_eq(in.src.v4, rte_cpu_to_be_32(0xc6120001));
	cr_assert_eq(in.dst.v4, rte_cpu_to_be_32(0xc6120002));
	cr_assert_eq(parse(udp4_qburst, sizeof(udp4_qburst), 0, NULL, &in), QB_DROP_NONE);
}

Test(parse, ipv6_vlan_udp)
{
	struct qb_pkt_info in;

	pa.vlan_tci = 100;
	cr_assert_eq(parse(udp6_vlan100, sizeof(udp6_vlan100), 0, &pa, &in), QB_DROP_NONE);
	cr_assert_eq(in.kind, QB_PKT_UDP);
	cr_assert_eq(in.l2_len, 18);
	cr_assert_eq(in.l3_len, 40);
	cr_assert_eq(in.vlan_tci, 100);
	cr_assert_eq(in.payload_off, 66);
	cr_assert_eq(in.payload_len, 11);
	cr_assert_eq(in.src.family, QB_AF_INET6);
	cr_assert_eq(in.dst.v6[15], 2);
	pa.vlan_tci = 0;
	cr_assert_eq(parse(udp6_vlan100, sizeof(udp6_vlan100), 0, &pa, &in), QB_DROP_WRONG_VLAN);
	cr_assert_eq(parse(udp4_qburst, sizeof(udp4_qburst), 0, &pa, &in), QB_DROP_NONE);
	pa.vlan_tci = 100;
	cr_assert_eq(parse(udp4_qburst, sizeof(udp4_qburst), 0, &pa, &in), QB_DROP_WRONG_VLAN);
}

Test(parse, truncated_frames_are_short)
{
	struct qb_pkt_info in;
	uint16_t len;

	for (len = 0; len < sizeof(udp4_qburst); len++)
		cr_assert_eq(parse(udp4_qburst, len, 0, &pa, &in), QB_DROP_SHORT, "len %u", len);
	for (len = 0; len < sizeof(udp6_vlan100); len++)
		cr_assert_eq(parse(udp6_vlan100, len, 0, NULL, &in), QB_DROP_SHORT, "len %u", len);
	for (len = 0; len < 14 + 28; len++)
		cr_assert_eq(parse(arp_req_in, len, 0, &pa, &in), QB_DROP_SHORT, "len %u", len);
}

Test(parse, ethernet_padding_is_ignored)
{
	struct qb_pkt_info in;

	memset(f, 0, 60);
	memcpy(f, udp4_qburst, sizeof(udp4_qburst));
	cr_assert_eq(parse(f, 60, 0, &pa, &in), QB_DROP_NONE);
	cr_assert_eq(in.payload_len, 7);
}

Test(parse, ipv4_header_checksum)
{
	struct qb_pkt_info in;

	memcpy(f, udp4_qburst, sizeof(udp4_qburst));
	f[25] ^= 1;
	cr_assert_eq(parse(f, sizeof(udp4_qburst), 0, &pa, &in), QB_DROP_BAD_IP_CKSUM);
	cr_assert_eq(parse(f, sizeof(udp4_qburst), RTE_MBUF_F_RX_IP_CKSUM_GOOD, &pa, &in),
	             QB_DROP_NONE, "the NIC vouched for it: not recomputed");
	cr_assert_eq(parse(udp4_qburst, sizeof(udp4_qburst), RTE_MBUF_F_RX_IP_CKSUM_BAD, &pa, &in),
	             QB_DROP_BAD_IP_CKSUM);
}

Test(parse, udp_checksum)
{
	struct qb_pkt_info in;

	memcpy(f, udp4_qburst, sizeof(udp4_qburst));
	f[45] ^= 0x10; /* a payload byte */
	cr_assert_eq(parse(f, sizeof(udp4_qburst), 0, &pa, &in), QB_DROP_BAD_UDP_CKSUM);
	cr_assert_eq(parse(f, sizeof(udp4_qburst), RTE_MBUF_F_RX_L4_CKSUM_GOOD, &pa, &in),
	             QB_DROP_NONE);
	cr_assert_eq(parse(udp4_qburst, sizeof(udp4_qburst), RTE_MBUF_F_RX_L4_CKSUM_BAD, &pa, &in),
	             QB_DROP_BAD_UDP_CKSUM);
	/* Zero: "no checksum" is allowed over IPv4 (RFC 768), not over IPv6 (RFC 8200 §8.1). */
	memcpy(f, udp4_qburst, sizeof(udp4_qburst));
	f[40] = f[41] = 0;
	cr_assert_eq(parse(f, sizeof(udp4_qburst), 0, &pa, &in), QB_DROP_NONE);
	memcpy(f, udp6_vlan100, sizeof(udp6_vlan100));
	f[64] = f[65] = 0;
	cr_assert_eq(parse(f, sizeof(udp6_vlan100), 0, NULL, &in), QB_DROP_BAD_UDP_CKSUM);
	memcpy(f, udp6_vlan100, sizeof(udp6_vlan100));
	f[70] ^= 1;
	cr_assert_eq(parse(f, sizeof(udp6_vlan100), 0, NULL, &in), QB_DROP_BAD_UDP_CKSUM);
}

Test(parse, udp_checksum_across_segments)
{
	struct qb_pkt_info in;
	struct rte_mbuf *m;

	m = tmbuf(&tm, 128, udp4_qburst, 45);
	tmbuf(&tm2, 0, udp4_qburst + 45, sizeof(udp4_qburst) - 45);
	tchain(m, &tm2.m);
	cr_assert_eq(qb_net_parse(m, &pa, &in), QB_DROP_NONE);
	cr_assert_eq(in.payload_len, 7);
	tm2.buf[1] ^= 0x40;
	cr_assert_eq(qb_net_parse(m, &pa, &in), QB_DROP_BAD_UDP_CKSUM);
	/* Headers split across segments are refused. */
	m = tmbuf(&tm, 128, udp4_qburst, 30);
	tmbuf(&tm2, 0, udp4_qburst + 30, sizeof(udp4_qburst) - 30);
	tchain(m, &tm2.m);
	cr_assert_eq(qb_net_parse(m, &pa, &in), QB_DROP_SHORT);
}

Test(parse, ipv4_malformed_headers)
{
	struct qb_pkt_info in;
	uint16_t n = sizeof(udp4_qburst);

	memcpy(f, udp4_qburst, n);
	f[14] = 0x44; /* IHL 4 */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_BAD_IP_HDR);
	memcpy(f, udp4_qburst, n);
	f[14] = 0x55; /* version 5 */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_BAD_IP_HDR);
	memcpy(f, udp4_qburst, n);
	f[17] = 19; /* total length below the header's */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_BAD_IP_HDR);
	memcpy(f, udp4_qburst, n);
	f[17] = 36; /* one byte more than the frame holds */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_SHORT);
	memcpy(f, udp4_qburst, n);
	f[20] = 0x20; /* more fragments */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_FRAGMENT);
	memcpy(f, udp4_qburst, n);
	f[21] = 0x01; /* offset 8, DF kept */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_FRAGMENT);
	memcpy(f, udp4_qburst, n);
	f[23] = 6; /* TCP */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_UNSUPPORTED_PROTO);
	memcpy(f, udp4_qburst, n);
	f[33] = 9; /* 198.18.0.9 is not ours */
	fix_ip4(f);
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_NOT_OURS);
	memcpy(f, udp4_qburst, n);
	f[39] = 7; /* UDP length below 8 */
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_BAD_UDP_LEN);
	f[39] = 16; /* beyond the IP payload */
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_BAD_UDP_LEN);
}

Test(parse, ipv4_options_are_skipped)
{
	struct qb_pkt_info in;
	uint16_t n = sizeof(udp4_qburst) + 4, c;

	/* IHL 6 with one 4-byte option (NOP x3, EOL); the UDP bytes are unchanged. */
	memcpy(f, udp4_qburst, 34);
	f[34] = f[35] = f[36] = 1;
	f[37] = 0;
	memcpy(f + 38, udp4_qburst + 34, sizeof(udp4_qburst) - 34);
	f[14] = 0x46;
	f[17] += 4;
	f[24] = f[25] = 0;
	c = (uint16_t)~ref_sum(f + 14, 24, 0);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_NONE);
	cr_assert_eq(in.l3_len, 24);
	cr_assert_eq(in.payload_off, 46);
	cr_assert_eq(in.payload_len, 7);
}

Test(parse, link_layer_filters)
{
	struct qb_pkt_info in;
	uint16_t n = sizeof(udp4_qburst);

	memcpy(f, udp4_qburst, n);
	f[5] = 9; /* another host's unicast MAC */
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_NOT_OURS);
	cr_assert_eq(parse(f, n, 0, NULL, &in), QB_DROP_NONE, "no filter without addresses");
	memset(f, 0xff, 6); /* broadcast is accepted at L2 */
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_NONE);
	memcpy(f, udp4_qburst, n);
	f[12] = 0x88;
	f[13] = 0xcc; /* LLDP */
	cr_assert_eq(parse(f, n, 0, &pa, &in), QB_DROP_UNSUPPORTED_ETHERTYPE);
	/* Two stacked 802.1Q tags. */
	memcpy(f, udp6_vlan100, 12);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = 0;
	f[15] = 100;
	f[16] = 0x81;
	f[17] = 0x00;
	memcpy(f + 18, udp6_vlan100 + 14, sizeof(udp6_vlan100) - 14);
	cr_assert_eq(parse(f, sizeof(udp6_vlan100) + 4, 0, NULL, &in),
	             QB_DROP_UNSUPPORTED_ETHERTYPE);
}

Test(parse, ipv6_extension_headers)
{
	struct qb_pkt_info in;
	uint16_t n = sizeof(udp6_vlan100) + 8;

	/* Hop-by-Hop (PadN) before UDP: skipped; the UDP checksum does not cover it. */
	memcpy(f, udp6_vlan100, 58);
	f[18 + 6] = 0; /* next header: Hop-by-Hop */
	f[18 + 5] += 8;
	f[58] = 17;
	f[59] = 0;
	f[60] = 1; /* PadN, 4 bytes of padding */
	f[61] = 4;
	memset(f + 62, 0, 4);
	memcpy(f + 66, udp6_vlan100 + 58, sizeof(udp6_vlan100) - 58);
	cr_assert_eq(parse(f, n, 0, NULL, &in), QB_DROP_NONE);
	cr_assert_eq(in.l3_len, 48);
	cr_assert_eq(in.payload_off, 74);
	cr_assert_eq(in.payload_len, 11);
	/* A Fragment header instead. */
	f[18 + 6] = 44;
	cr_assert_eq(parse(f, n, 0, NULL, &in), QB_DROP_FRAGMENT);
	/* An options header longer than the payload. */
	f[18 + 6] = 60;
	f[59] = 200;
	cr_assert_eq(parse(f, n, 0, NULL, &in), QB_DROP_BAD_IP_HDR);
	/* A payload length beyond the frame. */
	memcpy(f, udp6_vlan100, sizeof(udp6_vlan100));
	f[18 + 5] += 1;
	cr_assert_eq(parse(f, sizeof(udp6_vlan100), 0, NULL, &in), QB_DROP_SHORT);
	/* Version 4 in an IPv6 EtherType. */
	memcpy(f, udp6_vlan100, sizeof(udp6_vlan100));
	f[18] = 0x40;
	cr_assert_eq(parse(f, sizeof(udp6_vlan100), 0, NULL, &in), QB_DROP_BAD_IP_HDR);
	/* Not UDP, not ICMPv6: TCP. */
	memcpy(f, udp6_vlan100, sizeof(udp6_vlan100));
	f[18 + 6] = 6;
	cr_assert_eq(parse(f, sizeof(udp6_vlan100), 0, NULL, &in), QB_DROP_UNSUPPORTED_PROTO);
}

Test(parse, arp_and_nd_classified)
{
	struct qb_pkt_info in;

	cr_assert_eq(parse(arp_req_in, sizeof(arp_req_in), 0, &pa, &in), QB_DROP_NONE);
	cr_assert_eq(in.kind, QB_PKT_ARP);
	cr_assert_eq(in.payload_off, 14);
	cr_assert_eq(in.payload_len, 46);
	cr_assert_eq(parse(ns_in, sizeof(ns_in), 0, &pa, &in), QB_DROP_NONE);
	cr_assert_eq(in.kind, QB_PKT_ND);
	cr_assert_eq(in.payload_off, 54);
	cr_assert_eq(in.payload_len, 32);
	cr_assert_eq(in.src.v6[15], 2);
	/* An echo request (type 128) is not handled. */
	memcpy(f, ns_in, sizeof(ns_in));
	f[54] = 128;
	cr_assert_eq(parse(f, sizeof(ns_in), 0, &pa, &in), QB_DROP_UNSUPPORTED_ICMP);
}

Test(parse, drop_names)
{
	unsigned int i, j;

	for (i = 0; i < QB_DROP__COUNT; i++) {
		cr_assert_str_neq(qb_drop_name(i), "unknown", "reason %u has a name", i);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(qb_drop_name(i), qb_drop_name(j));
	}
	cr_assert_str_eq(qb_drop_name(QB_DROP_BAD_UDP_CKSUM), "bad_udp_cksum");
	cr_assert_str_eq(qb_drop_name(QB_DROP__COUNT), "unknown");
}
