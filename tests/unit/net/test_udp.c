/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <stdlib.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "qb_net.h"
#include "helpers.h"
#include "vectors.h"

static const struct rte_ether_addr our_mac = {.addr_bytes = {2, 0, 0, 0, 0, 1}};
static const struct rte_ether_addr peer_mac = {.addr_bytes = {2, 0, 0, 0, 0, 2}};

static void
tmpl(struct qb_udp_tmpl *t, bool v6, uint16_t vlan, bool hw)
{
	struct qb_ipaddr s, d;

	qb_ipaddr_parse(v6 ? "2001:db8::1" : "198.18.0.1", &s);
	qb_ipaddr_parse(v6 ? "2001:db8::2" : "198.18.0.2", &d);
	cr_assert_eq(qb_udp_tmpl_init(t, &our_mac, &peer_mac, vlan, &s, 1024, &d, 4433, hw), 0);
}

/* Independent check of a software-checksummed frame: every sum must verify to 0xffff. */
static void
verify_sw_frame(const uint8_t *f, uint32_t flen, bool v6, uint32_t l2)
{
	const uint8_t *l3 = f + l2;
	const uint8_t *udp;
	uint8_t ph[40];
	uint32_t ulen, phlen;

	if (!v6) {
		cr_assert_eq(ref_sum(l3, 20, 0), 0xffff, "IPv4 header checksum");
		cr_assert_eq(be16_at(l3 + 2), flen - l2, "IPv4 total length");
		udp = l3 + 20;
		memcpy(ph, l3 + 12, 8);
		ph[8] = 0;
		ph[9] = 17;
		phlen = 12;
	} else {
		udp = l3 + 40;
		cr_assert_eq(be16_at(l3 + 4), flen - l2 - 40, "IPv6 payload length");
		memcpy(ph, l3 + 8, 32);
		memset(ph + 32, 0, 8);
		ph[39] = 17;
		phlen = 40;
	}
	ulen = be16_at(udp + 4);
	cr_assert_eq(ulen, flen - (uint32_t)(udp - f), "UDP length");
	if (!v6) {
		ph[10] = udp[4];
		ph[11] = udp[5];
	} else {
		ph[34] = udp[4];
		ph[35] = udp[5];
	}
	cr_assert_neq(be16_at(udp + 6), 0, "a software checksum is never 0");
	cr_assert_eq(ref_sum(udp, ulen, ref_sum(ph, phlen, 0)), 0xffff, "UDP checksum");
}

Test(udp, known_ipv4_frame_software_checksum)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t;
	struct rte_mbuf *m;

	tmpl(&t, false, 0, false);
	cr_assert_eq(t.hdr_len, 42);
	m = tmbuf(&tm, 128, "qburst\n", 7);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	cr_assert_eq(m->data_off, 128 - 42);
	cr_assert_eq(m->pkt_len, sizeof(udp4_qburst));
	cr_assert_eq(m->data_len, sizeof(udp4_qburst));
	cr_assert_arr_eq(rte_pktmbuf_mtod(m, uint8_t *), udp4_qburst, sizeof(udp4_qburst));
	cr_assert_eq(m->l2_len, 14);
	cr_assert_eq(m->l3_len, 20);
	cr_assert_eq(m->ol_flags, 0, "no offload flags on the software path");
	verify_sw_frame(rte_pktmbuf_mtod(m, uint8_t *), m->pkt_len, false, 14);
}

Test(udp, known_ipv6_vlan_frame_software_checksum)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t;
	struct rte_mbuf *m;

	tmpl(&t, true, 100, false);
	cr_assert_eq(t.hdr_len, 66);
	m = tmbuf(&tm, 128, "hello, quic", 11);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	cr_assert_eq(m->pkt_len, sizeof(udp6_vlan100));
	cr_assert_arr_eq(rte_pktmbuf_mtod(m, uint8_t *), udp6_vlan100, sizeof(udp6_vlan100));
	cr_assert_eq(m->l2_len, 18);
	cr_assert_eq(m->l3_len, 40);
	verify_sw_frame(rte_pktmbuf_mtod(m, uint8_t *), m->pkt_len, true, 18);
}

Test(udp, offload_ipv4_flags_lengths_and_pseudo_header_seed)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t;
	struct rte_mbuf *m;
	uint8_t *f;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;

	tmpl(&t, false, 0, true);
	m = tmbuf(&tm, 128, "qburst\n", 7);
	m->ol_flags = RTE_MBUF_F_TX_VLAN; /* flags the caller set survive */
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	cr_assert_eq(m->ol_flags, RTE_MBUF_F_TX_VLAN | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
	                                  RTE_MBUF_F_TX_UDP_CKSUM);
	cr_assert_eq(m->l2_len, 14);
	cr_assert_eq(m->l3_len, 20);
	f = rte_pktmbuf_mtod(m, uint8_t *);
	ip = (struct rte_ipv4_hdr *)(f + 14);
	udp = (struct rte_udp_hdr *)(ip + 1);
	cr_assert_eq(ip->hdr_checksum, 0, "the NIC fills the IPv4 checksum from 0");
	cr_assert_eq(rte_be_to_cpu_16(ip->total_length), 35);
	cr_assert_eq(rte_be_to_cpu_16(udp->dgram_len), 15);
	cr_assert_eq(udp->dgram_cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags),
	             "seed %04x != rte_ipv4_phdr_cksum", udp->dgram_cksum);
	/* Everything else is the known frame's bytes. */
	cr_assert_arr_eq(f, udp4_qburst, 24);
	cr_assert_arr_eq(f + 26, udp4_qburst + 26, 14);
	cr_assert_arr_eq(f + 42, udp4_qburst + 42, 7);
	/* What a NIC does with the seed (sum the L4 bytes, complement) gives the known checksum. */
	udp->dgram_cksum = (uint16_t)~qb_cksum_fold(qb_cksum_raw(udp, 15));
	cr_assert_arr_eq(f + 40, udp4_qburst + 40, 2);
}

Test(udp, offload_ipv6_flags_lengths_and_pseudo_header_seed)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t;
	struct rte_mbuf *m;
	uint8_t *f;
	struct rte_ipv6_hdr *ip;
	struct rte_udp_hdr *udp;

	tmpl(&t, true, 100, true);
	m = tmbuf(&tm, 128, "hello, quic", 11);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	cr_assert_eq(m->ol_flags, RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM);
	cr_assert_eq(m->l2_len, 18);
	cr_assert_eq(m->l3_len, 40);
	f = rte_pktmbuf_mtod(m, uint8_t *);
	ip = (struct rte_ipv6_hdr *)(f + 18);
	udp = (struct rte_udp_hdr *)(ip + 1);
	cr_assert_eq(rte_be_to_cpu_16(ip->payload_len), 19);
	cr_assert_eq(rte_be_to_cpu_16(udp->dgram_len), 19);
	cr_assert_eq(udp->dgram_cksum, rte_ipv6_phdr_cksum(ip, m->ol_flags));
	cr_assert_arr_eq(f, udp6_vlan100, 64);
	cr_assert_arr_eq(f + 66, udp6_vlan100 + 66, 11);
	udp->dgram_cksum = (uint16_t)~qb_cksum_fold(qb_cksum_raw(udp, 19));
	cr_assert_arr_eq(f + 64, udp6_vlan100 + 64, 2);
}

Test(udp, offload_seed_matches_dpdk_for_many_lengths)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t4, t6;
	struct rte_mbuf *m;
	unsigned int len;

	tmpl(&t4, false, 0, true);
	tmpl(&t6, true, 0, true);
	for (len = 0; len < 1500; len += 7) {
		m = tmbuf(&tm, 128, NULL, (uint16_t)len);
		cr_assert_eq(qb_udp_prepend(m, &t4), 0);
		struct rte_ipv4_hdr *ip4 = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
		struct rte_udp_hdr *u4 = (struct rte_udp_hdr *)(ip4 + 1);
		cr_assert_eq(u4->dgram_cksum, rte_ipv4_phdr_cksum(ip4, 0), "v4 len %u", len);

		m = tmbuf(&tm, 128, NULL, (uint16_t)len);
		cr_assert_eq(qb_udp_prepend(m, &t6), 0);
		struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, 14);
		struct rte_udp_hdr *u6 = (struct rte_udp_hdr *)(ip6 + 1);
		cr_assert_eq(u6->dgram_cksum, rte_ipv6_phdr_cksum(ip6, 0), "v6 len %u", len);
	}
}

Test(udp, software_checksums_on_random_odd_payloads)
{
	static struct test_mbuf tm;
	uint8_t payload[1500];
	struct qb_udp_tmpl t[4];
	struct rte_mbuf *m;
	unsigned int i, len, k;

	tmpl(&t[0], false, 0, false);
	tmpl(&t[1], true, 0, false);
	tmpl(&t[2], false, 7, false);
	tmpl(&t[3], true, 4095, false);
	srand(7);
	for (i = 0; i < 400; i++) {
		len = i < 64 ? i : (unsigned int)rand() % sizeof(payload);
		for (k = 0; k < len; k++)
			payload[k] = (uint8_t)rand();
		for (k = 0; k < 4; k++) {
			m = tmbuf(&tm, 128, payload, (uint16_t)len);
			cr_assert_eq(qb_udp_prepend(m, &t[k]), 0);
			cr_assert_eq(m->pkt_len, len + t[k].hdr_len);
			cr_assert_arr_eq(rte_pktmbuf_mtod_offset(m, uint8_t *, t[k].hdr_len),
			                 payload, len, "payload untouched");
			verify_sw_frame(rte_pktmbuf_mtod(m, uint8_t *), m->pkt_len, k & 1,
			                t[k].l2_len);
		}
	}
}

/* A payload whose last word makes the UDP sum 0xffff, so the checksum computes to 0. */
static void
zero_sum_payload(bool v6, uint8_t *payload, unsigned int len)
{
	uint8_t buf[40 + 8 + 64];
	uint32_t n = 0;
	uint16_t s, x;
	struct qb_ipaddr a, b;

	qb_ipaddr_parse(v6 ? "2001:db8::1" : "198.18.0.1", &a);
	qb_ipaddr_parse(v6 ? "2001:db8::2" : "198.18.0.2", &b);
	/* Pseudo-header (RFC 768 / RFC 8200 §8.1); the sum's order does not matter. */
	if (v6) {
		memcpy(buf, a.v6, 16);
		memcpy(buf + 16, b.v6, 16);
		n = 32;
	} else {
		memcpy(buf, &a.v4, 4);
		memcpy(buf + 4, &b.v4, 4);
		n = 8;
	}
	buf[n++] = 0;
	buf[n++] = 17;
	buf[n++] = 0;
	buf[n++] = (uint8_t)(len + 8);
	/* UDP header: ports 1024, 4433, length, checksum 0. */
	const uint8_t uh[8] = {0x04, 0x00, 0x11, 0x51, 0, (uint8_t)(len + 8), 0, 0};
	memcpy(buf + n, uh, 8);
	n += 8;
	memset(payload, 0x5a, len);
	payload[len - 2] = payload[len - 1] = 0;
	memcpy(buf + n, payload, len);
	n += len;
	s = ref_sum(buf, n, 0);
	x = (uint16_t)~s;
	payload[len - 2] = (uint8_t)(x >> 8);
	payload[len - 1] = (uint8_t)x;
}

Test(udp, checksum_computing_to_zero_is_sent_as_ffff)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t;
	struct qb_udp_frame fr;
	uint8_t payload[20];
	struct rte_mbuf *m;
	int v6;

	for (v6 = 0; v6 < 2; v6++) {
		zero_sum_payload(v6, payload, sizeof(payload));
		tmpl(&t, v6, 0, false);
		m = tmbuf(&tm, 128, payload, sizeof(payload));
		cr_assert_eq(qb_udp_prepend(m, &t), 0);
		cr_assert_eq(be16_at(rte_pktmbuf_mtod_offset(m, uint8_t *, t.hdr_len - 2)), 0xffff,
		             "RFC 768: computed 0 is sent as all ones (v6=%d)", v6);
		verify_sw_frame(rte_pktmbuf_mtod(m, uint8_t *), m->pkt_len, v6, 14);
		cr_assert_eq(qb_udp_frame_init(&fr, &t, payload, sizeof(payload)), 0);
		cr_assert_eq(be16_at(fr.hdr + fr.hdr_len - 2), 0xffff);
	}
}

Test(udp, short_headroom_leaves_mbuf_unchanged)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t;
	struct qb_udp_frame fr;
	struct rte_mbuf *m;

	tmpl(&t, true, 100, false);
	m = tmbuf(&tm, 65, "abc", 3);
	cr_assert_eq(qb_udp_prepend(m, &t), QB_ERR_NOBUF);
	cr_assert_eq(m->data_off, 65);
	cr_assert_eq(m->data_len, 3);
	cr_assert_eq(m->pkt_len, 3);
	cr_assert_eq(m->ol_flags, 0);
	cr_assert_arr_eq(tm.buf + 65, "abc", 3);
	cr_assert_eq(qb_udp_frame_init(&fr, &t, "abc", 3), 0);
	cr_assert_eq(qb_udp_frame_prepend(m, &fr), QB_ERR_NOBUF);
	cr_assert_eq(m->data_off, 65);
	m = tmbuf(&tm, 66, "abc", 3);
	cr_assert_eq(qb_udp_prepend(m, &t), 0, "exactly enough headroom");
	cr_assert_eq(m->data_off, 0);
}

Test(udp, oversized_payload_rejected)
{
	static struct test_mbuf tm;
	struct qb_udp_tmpl t;
	struct rte_mbuf *m;

	tmpl(&t, false, 0, true);
	m = tmbuf(&tm, 128, NULL, 10);
	m->pkt_len = QB_UDP_PAYLOAD_MAX + 1;
	cr_assert_eq(qb_udp_prepend(m, &t), QB_ERR_ARG);
	cr_assert_eq(m->data_off, 128);
}

Test(udp, template_arguments)
{
	struct qb_udp_tmpl t;
	struct qb_ipaddr a, b, none = {0};

	qb_ipaddr_parse("198.18.0.1", &a);
	qb_ipaddr_parse("2001:db8::1", &b);
	cr_assert_eq(qb_udp_tmpl_init(&t, &our_mac, &peer_mac, 0, &a, 1, &b, 2, false), QB_ERR_ARG);
	cr_assert_eq(qb_udp_tmpl_init(&t, &our_mac, &peer_mac, 0, &none, 1, &none, 2, false),
	             QB_ERR_ARG);
	cr_assert_eq(qb_udp_tmpl_init(&t, NULL, &peer_mac, 0, &a, 1, &a, 2, false), QB_ERR_ARG);
}

Test(udp, frame_prepend_equals_prepend)
{
	static struct test_mbuf t1, t2;
	uint8_t payload[1201];
	struct qb_udp_tmpl t;
	struct qb_udp_frame fr;
	struct rte_mbuf *a, *b;
	unsigned int k;

	for (k = 0; k < sizeof(payload); k++)
		payload[k] = (uint8_t)(k * 31);
	for (k = 0; k < 8; k++) {
		tmpl(&t, k & 1, (k & 2) ? 42 : 0, k & 4);
		cr_assert_eq(qb_udp_frame_init(&fr, &t, payload, sizeof(payload)), 0);
		cr_assert_eq(fr.payload_len, sizeof(payload));
		a = tmbuf(&t1, 128, payload, sizeof(payload));
		b = tmbuf(&t2, 128, payload, sizeof(payload));
		cr_assert_eq(qb_udp_prepend(a, &t), 0);
		cr_assert_eq(qb_udp_frame_prepend(b, &fr), 0);
		cr_assert_eq(a->pkt_len, b->pkt_len);
		cr_assert_eq(a->data_len, b->data_len);
		cr_assert_eq(a->data_off, b->data_off);
		cr_assert_eq(a->ol_flags, b->ol_flags);
		cr_assert_eq(a->l2_len, b->l2_len);
		cr_assert_eq(a->l3_len, b->l3_len);
		cr_assert_arr_eq(rte_pktmbuf_mtod(a, uint8_t *), rte_pktmbuf_mtod(b, uint8_t *),
		                 a->pkt_len, "case %u", k);
	}
}

Test(udp, chained_payload_software_checksum)
{
	static struct test_mbuf ta, tb;
	uint8_t payload[333], frame[400];
	struct qb_udp_tmpl t;
	struct rte_mbuf *m;
	unsigned int k;

	for (k = 0; k < sizeof(payload); k++)
		payload[k] = (uint8_t)(k * 13 + 1);
	tmpl(&t, false, 0, false);
	m = tmbuf(&ta, 128, payload, 111);
	tmbuf(&tb, 0, payload + 111, sizeof(payload) - 111);
	tchain(m, &tb.m);
	cr_assert_eq(qb_udp_prepend(m, &t), 0);
	cr_assert_eq(m->pkt_len, 42 + sizeof(payload));
	memcpy(frame, rte_pktmbuf_mtod(m, uint8_t *), m->data_len);
	memcpy(frame + m->data_len, rte_pktmbuf_mtod(&tb.m, uint8_t *), tb.m.data_len);
	verify_sw_frame(frame, m->pkt_len, false, 14);
}
