/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>

#include "qb_neigh.h"
#include "helpers.h"
#include "vectors.h"

static const struct rte_ether_addr our_mac = {.addr_bytes = {2, 0, 0, 0, 0, 1}};
static const struct rte_ether_addr peer_mac = {.addr_bytes = {2, 0, 0, 0, 0, 2}};
static struct qb_port_addrs us, peer;
static struct qb_neigh_table tbl;
static struct test_mbuf tm;
static uint8_t f[256];

static void
setup(void)
{
	struct qb_ipnet n;

	qb_port_addrs_init(&us, &our_mac);
	qb_ipnet_parse("198.18.0.1/24", &n);
	qb_port_addrs_add(&us, &n);
	qb_ipnet_parse("2001:db8::1/64", &n);
	qb_port_addrs_add(&us, &n);
	qb_port_addrs_init(&peer, &peer_mac);
	qb_ipnet_parse("198.18.0.2/24", &n);
	qb_port_addrs_add(&peer, &n);
	qb_ipnet_parse("2001:db8::2/64", &n);
	qb_port_addrs_add(&peer, &n);
	qb_neigh_init(&tbl);
}

TestSuite(neigh, .init = setup);

static struct qb_ipaddr
ip(const char *s)
{
	struct qb_ipaddr a;

	cr_assert_eq(qb_ipaddr_parse(s, &a), 0);
	return a;
}

/* Parse then handle a frame as the port pa with table t; returns the action. */
static enum qb_neigh_action
input(const struct qb_port_addrs *pa, struct qb_neigh_table *t, const uint8_t *frame, uint16_t len,
      enum qb_drop *drop)
{
	struct rte_mbuf *m = tmbuf(&tm, 128, frame, len);
	struct qb_pkt_info info;

	cr_assert_eq(qb_net_parse(m, pa, &info), QB_DROP_NONE);
	return qb_neigh_input(t, pa, m, &info, drop);
}

/* Rewrite the ICMPv6 checksum of an untagged ND frame after an edit. */
static void
fix_icmp6(uint8_t *fr)
{
	uint16_t plen = be16_at(fr + 18), c;
	uint8_t ph[40] = {0};

	memcpy(ph, fr + 22, 32);
	ph[34] = (uint8_t)(plen >> 8);
	ph[35] = (uint8_t)plen;
	ph[39] = 58;
	fr[56] = fr[57] = 0;
	c = (uint16_t)~ref_sum(fr + 54, plen, ref_sum(ph, 40, 0));
	fr[56] = (uint8_t)(c >> 8);
	fr[57] = (uint8_t)c;
}

Test(neigh, arp_request_answered_in_place_byte_for_byte)
{
	struct rte_ether_addr mac;
	struct qb_ipaddr p4 = ip("198.18.0.2");
	enum qb_drop drop;

	cr_assert_eq(input(&us, &tbl, arp_req_in, sizeof(arp_req_in), &drop), QB_NEIGH_REPLY);
	cr_assert_eq(drop, QB_DROP_NONE);
	cr_assert_eq(tm.m.pkt_len, sizeof(arp_reply_out));
	cr_assert_eq(tm.m.data_len, sizeof(arp_reply_out));
	cr_assert_arr_eq(rte_pktmbuf_mtod(&tm.m, uint8_t *), arp_reply_out, sizeof(arp_reply_out));
	cr_assert_eq(tm.m.ol_flags, 0);
	/* The requester is learned (RFC 826: the packet was for us). */
	cr_assert(qb_neigh_lookup(&tbl, &p4, &mac));
	cr_assert(rte_is_same_ether_addr(&mac, &peer_mac));
}

Test(neigh, worker_answers_without_a_table)
{
	enum qb_drop drop;

	cr_assert_eq(input(&us, NULL, arp_req_in, sizeof(arp_req_in), &drop), QB_NEIGH_REPLY);
	cr_assert_arr_eq(rte_pktmbuf_mtod(&tm.m, uint8_t *), arp_reply_out, sizeof(arp_reply_out));
	cr_assert_eq(input(&us, NULL, ns_in, sizeof(ns_in), &drop), QB_NEIGH_REPLY);
	cr_assert_arr_eq(rte_pktmbuf_mtod(&tm.m, uint8_t *), na_out, sizeof(na_out));
}

Test(neigh, arp_with_vlan_tag_keeps_it)
{
	enum qb_drop drop;
	uint8_t want[64];

	us.vlan_tci = 100;
	memcpy(f, arp_req_in, 12);
	f[12] = 0x81;
	f[13] = 0;
	f[14] = 0;
	f[15] = 100;
	memcpy(f + 16, arp_req_in + 12, sizeof(arp_req_in) - 12);
	memcpy(want, arp_reply_out, 12);
	memcpy(want + 12, f + 12, 4);
	memcpy(want + 16, arp_reply_out + 12, sizeof(arp_reply_out) - 12);
	cr_assert_eq(input(&us, &tbl, f, 64, &drop), QB_NEIGH_REPLY);
	cr_assert_arr_eq(rte_pktmbuf_mtod(&tm.m, uint8_t *), want, 64);
}

Test(neigh, arp_reply_learned_request_for_others_ignored)
{
	struct rte_ether_addr mac;
	struct qb_ipaddr o4 = ip("198.18.0.1"), p4 = ip("198.18.0.2");
	enum qb_drop drop;

	/* The peer's side: our reply arrives and teaches it our MAC. */
	cr_assert_eq(input(&peer, &tbl, arp_reply_out, sizeof(arp_reply_out), &drop),
	             QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_NONE);
	cr_assert(qb_neigh_lookup(&tbl, &o4, &mac));
	cr_assert(rte_is_same_ether_addr(&mac, &our_mac));
	/* A request for someone else: no answer, sender unknown so not learned. */
	qb_neigh_init(&tbl);
	memcpy(f, arp_req_in, sizeof(arp_req_in));
	f[41] = 77;
	cr_assert_eq(input(&us, &tbl, f, sizeof(arp_req_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_not(qb_neigh_lookup(&tbl, &p4, &mac));
	/* ... but a sender we know is refreshed (RFC 826 merge). */
	qb_neigh_learn(&tbl, &p4, &our_mac);
	cr_assert_eq(input(&us, &tbl, f, sizeof(arp_req_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert(qb_neigh_lookup(&tbl, &p4, &mac));
	cr_assert(rte_is_same_ether_addr(&mac, &peer_mac));
}

Test(neigh, arp_malformed_and_gratuitous)
{
	enum qb_drop drop;

	memcpy(f, arp_req_in, sizeof(arp_req_in));
	f[18] = 8; /* hardware length */
	cr_assert_eq(input(&us, &tbl, f, sizeof(arp_req_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ARP);
	memcpy(f, arp_req_in, sizeof(arp_req_in));
	f[21] = 3; /* RARP request */
	cr_assert_eq(input(&us, &tbl, f, sizeof(arp_req_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ARP);
	memcpy(f, arp_req_in, sizeof(arp_req_in));
	f[16] = 0x86; /* protocol IPv6 */
	f[17] = 0xdd;
	cr_assert_eq(input(&us, &tbl, f, sizeof(arp_req_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ARP);
	/* Gratuitous: sender == target == our address: a conflict, never answered. */
	memcpy(f, arp_req_in, sizeof(arp_req_in));
	f[31] = 1;
	cr_assert_eq(input(&us, &tbl, f, sizeof(arp_req_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_NONE);
}

Test(neigh, neighbour_solicitation_answered_byte_for_byte)
{
	struct rte_ether_addr mac;
	struct qb_ipaddr p6 = ip("2001:db8::2");
	enum qb_drop drop;

	cr_assert_eq(input(&us, &tbl, ns_in, sizeof(ns_in), &drop), QB_NEIGH_REPLY);
	cr_assert_eq(drop, QB_DROP_NONE);
	cr_assert_eq(tm.m.pkt_len, sizeof(na_out));
	cr_assert_arr_eq(rte_pktmbuf_mtod(&tm.m, uint8_t *), na_out, sizeof(na_out));
	/* RFC 4861 §7.2.3: the solicitor's link-layer option is learned. */
	cr_assert(qb_neigh_lookup(&tbl, &p6, &mac));
	cr_assert(rte_is_same_ether_addr(&mac, &peer_mac));
}

Test(neigh, solicitation_without_option_grows_the_frame)
{
	enum qb_drop drop;

	/* The same NS without its source link-layer option: the reply adds a TLLA. */
	memcpy(f, ns_in, 78);
	f[19] = 24;
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, 78, &drop), QB_NEIGH_REPLY);
	cr_assert_eq(tm.m.pkt_len, sizeof(na_out));
	cr_assert_arr_eq(rte_pktmbuf_mtod(&tm.m, uint8_t *), na_out, sizeof(na_out),
	                 "reply goes to the Ethernet source");
}

Test(neigh, duplicate_address_detection_probe_answered_to_all_nodes)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	enum qb_drop drop;
	uint8_t *r;

	/* RFC 4862 DAD: from ::, to the solicited-node group, no SLLA option. */
	memcpy(f, ns_in, 78);
	memset(f + 22, 0, 16);
	f[19] = 24;
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, 78, &drop), QB_NEIGH_REPLY);
	r = rte_pktmbuf_mtod(&tm.m, uint8_t *);
	cr_assert_arr_eq(r, ((uint8_t[]){0x33, 0x33, 0, 0, 0, 1}), 6);
	cr_assert_arr_eq(r + 38, all_nodes, 16);
	cr_assert_arr_eq(r + 22, na_out + 22, 16, "from the target address");
	cr_assert_eq(r[58], 0x20, "override only: not solicited when sent to all nodes");
	/* The reply's checksum verifies. */
	memcpy(f, r, sizeof(na_out));
	fix_icmp6(f);
	cr_assert_arr_eq(f + 56, r + 56, 2);
	/* DAD carrying an SLLA option is invalid (RFC 4861 §7.1.1). */
	memcpy(f, ns_in, sizeof(ns_in));
	memset(f + 22, 0, 16);
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
}

Test(neigh, invalid_neighbour_solicitations)
{
	enum qb_drop drop;

	memcpy(f, ns_in, sizeof(ns_in));
	f[21] = 64; /* hop limit: forwarded */
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
	memcpy(f, ns_in, sizeof(ns_in));
	f[57] ^= 1; /* checksum */
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
	memcpy(f, ns_in, sizeof(ns_in));
	f[55] = 1; /* code */
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
	memcpy(f, ns_in, sizeof(ns_in));
	f[79] = 0; /* option length 0 */
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
	memcpy(f, ns_in, sizeof(ns_in));
	f[62] = 0xff; /* multicast target */
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
	memcpy(f, ns_in, sizeof(ns_in));
	f[22] = 0xff; /* multicast source (RFC 4291 §2.7); found by fuzz_net_rx */
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
	/* Valid, but for another target: consumed silently. */
	memcpy(f, ns_in, sizeof(ns_in));
	f[77] = 9;
	fix_icmp6(f);
	cr_assert_eq(input(&us, &tbl, f, sizeof(ns_in), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_NONE);
}

Test(neigh, advertisement_learned)
{
	struct rte_ether_addr mac;
	struct qb_ipaddr o6 = ip("2001:db8::1");
	enum qb_drop drop;

	cr_assert_eq(input(&peer, &tbl, na_out, sizeof(na_out), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_NONE);
	cr_assert(qb_neigh_lookup(&tbl, &o6, &mac));
	cr_assert(rte_is_same_ether_addr(&mac, &our_mac));
	/* Solicited flag on a multicast advertisement is invalid (RFC 4861 §7.1.2). */
	memcpy(f, na_out, sizeof(na_out));
	f[38] = 0xff;
	f[39] = 0x02;
	memset(f + 40, 0, 14);
	f[53] = 1;
	fix_icmp6(f);
	cr_assert_eq(input(&peer, &tbl, f, sizeof(na_out), &drop), QB_NEIGH_CONSUMED);
	cr_assert_eq(drop, QB_DROP_BAD_ND);
}

Test(neigh, requests_built_byte_for_byte)
{
	struct qb_ipaddr p4 = ip("198.18.0.2"), p6 = ip("2001:db8::2");
	struct qb_port_addrs none;
	struct rte_mbuf *m;

	m = tmbuf(&tm, 128, NULL, 0);
	cr_assert_eq(qb_neigh_solicit_build(m, &us, &p4), 0);
	cr_assert_eq(m->pkt_len, sizeof(arp_req_ours));
	cr_assert_arr_eq(rte_pktmbuf_mtod(m, uint8_t *), arp_req_ours, sizeof(arp_req_ours));
	m = tmbuf(&tm, 128, NULL, 0);
	cr_assert_eq(qb_neigh_solicit_build(m, &us, &p6), 0);
	cr_assert_eq(m->pkt_len, sizeof(ns_ours));
	cr_assert_arr_eq(rte_pktmbuf_mtod(m, uint8_t *), ns_ours, sizeof(ns_ours));
	/* The peer answers our solicitation with a frame we parse and learn. */
	{
		struct qb_pkt_info info;
		struct qb_ipaddr o6 = ip("2001:db8::1");
		struct rte_ether_addr mac;
		enum qb_drop drop;

		cr_assert_eq(qb_net_parse(m, &peer, &info), QB_DROP_NONE);
		cr_assert_eq(qb_neigh_input(NULL, &peer, m, &info, &drop), QB_NEIGH_REPLY);
		cr_assert_eq(qb_net_parse(m, &us, &info), QB_DROP_NONE);
		cr_assert_eq(qb_neigh_input(&tbl, &us, m, &info, &drop), QB_NEIGH_CONSUMED);
		cr_assert(qb_neigh_lookup(&tbl, &p6, &mac));
		cr_assert(rte_is_same_ether_addr(&mac, &peer_mac));
		cr_assert_not(qb_neigh_lookup(&tbl, &o6, &mac));
	}
	qb_port_addrs_init(&none, &our_mac);
	m = tmbuf(&tm, 128, NULL, 0);
	cr_assert_eq(qb_neigh_solicit_build(m, &none, &p4), QB_ERR_ARG);
	m = tmbuf(&tm, TB_SIZE - 59, NULL, 0);
	cr_assert_eq(qb_neigh_solicit_build(m, &us, &p4), QB_ERR_NOBUF);
	cr_assert_eq(m->pkt_len, 0);
}

Test(neigh, solicited_node_address_and_mac)
{
	static const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [12] = 0xaa, 0xbb, 0xcc, 0xdd};
	static const uint8_t want[16] = {0xff, 0x02, [11] = 0x01, 0xff, 0xbb, 0xcc, 0xdd};
	uint8_t s[16];
	struct rte_ether_addr mac;

	/* RFC 4291 §2.7.1: ff02::1:ff00:0/104 plus the low 24 bits. */
	qb_nd_solicited_node(a, s);
	cr_assert_arr_eq(s, want, 16);
	/* RFC 2464 §7: 33:33 plus the low 32 bits. */
	qb_nd_mcast_mac(s, &mac);
	cr_assert_arr_eq(mac.addr_bytes, ((uint8_t[]){0x33, 0x33, 0xff, 0xbb, 0xcc, 0xdd}), 6);
}

Test(neigh, table_static_learned_and_full)
{
	struct rte_ether_addr m1 = {.addr_bytes = {2, 0, 0, 0, 1, 1}};
	struct rte_ether_addr m2 = {.addr_bytes = {2, 0, 0, 0, 2, 2}};
	struct rte_ether_addr got;
	struct qb_ipaddr a = ip("198.18.0.7"), b = ip("2001:db8::7"), x, none = {0};
	unsigned int i;

	cr_assert_not(qb_neigh_lookup(&tbl, &a, &got));
	cr_assert_eq(qb_neigh_add_static(&tbl, &a, &m1), 0);
	cr_assert_eq(qb_neigh_learn(&tbl, &a, &m2), 0);
	cr_assert(qb_neigh_lookup(&tbl, &a, &got));
	cr_assert(rte_is_same_ether_addr(&got, &m1), "learning never overrides a static entry");
	cr_assert_eq(qb_neigh_learn(&tbl, &b, &m1), 0);
	cr_assert_eq(qb_neigh_learn(&tbl, &b, &m2), 0);
	cr_assert(qb_neigh_lookup(&tbl, &b, &got));
	cr_assert(rte_is_same_ether_addr(&got, &m2), "a learned entry is updated");
	cr_assert_eq(tbl.n, 2);
	cr_assert_eq(qb_neigh_learn(&tbl, &none, &m1), QB_ERR_ARG);
	/* Fill with learned entries; more recycle learned slots, never the static one. */
	x = ip("10.0.0.0");
	for (i = 0; i < 2 * QB_NEIGH_MAX; i++) {
		x.v4 = rte_cpu_to_be_32(0x0a000000 + i);
		cr_assert_eq(qb_neigh_learn(&tbl, &x, &m2), 0);
	}
	cr_assert_eq(tbl.n, QB_NEIGH_MAX);
	cr_assert(qb_neigh_lookup(&tbl, &a, &got));
	cr_assert(qb_neigh_lookup(&tbl, &x, &got), "the newest is present");
	/* All static: nothing left to recycle. */
	qb_neigh_init(&tbl);
	for (i = 0; i < QB_NEIGH_MAX; i++) {
		x.v4 = rte_cpu_to_be_32(0x0a000000 + i);
		cr_assert_eq(qb_neigh_add_static(&tbl, &x, &m1), 0);
	}
	cr_assert_eq(qb_neigh_learn(&tbl, &a, &m1), QB_ERR_NOMEM);
	cr_assert_eq(qb_neigh_add_static(&tbl, &a, &m1), QB_ERR_NOMEM);
	cr_assert_eq(qb_neigh_add_static(&tbl, &x, &m2), 0, "replacing a static entry is fine");
}

Test(neigh, stripped_vlan_goes_back_by_offload)
{
	struct rte_mbuf *m = tmbuf(&tm, 128, arp_req_in, sizeof(arp_req_in));
	struct qb_pkt_info info;
	enum qb_drop drop;

	/* The NIC removed tag 100 on receive: the reply asks it to insert the tag again. */
	m->ol_flags = RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = 100;
	us.vlan_tci = 100;
	cr_assert_eq(qb_net_parse(m, &us, &info), QB_DROP_NONE);
	cr_assert_eq(info.vlan_tci, 100);
	cr_assert_eq(qb_neigh_input(NULL, &us, m, &info, &drop), QB_NEIGH_REPLY);
	cr_assert_eq(m->ol_flags, RTE_MBUF_F_TX_VLAN);
	cr_assert_eq(m->vlan_tci, 100);
	cr_assert_arr_eq(rte_pktmbuf_mtod(m, uint8_t *), arp_reply_out, sizeof(arp_reply_out));
	/* A stripped tag of another VLAN is not ours. */
	m = tmbuf(&tm, 128, arp_req_in, sizeof(arp_req_in));
	m->ol_flags = RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = 101;
	cr_assert_eq(qb_net_parse(m, &us, &info), QB_DROP_WRONG_VLAN);
}
