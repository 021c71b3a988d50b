/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qb_burst_tx without EAL (BRIEF §2): the GSO rule, why-masks, headroom
 * arithmetic, forward header bytes before the QUIC bytes on relayed IPv4 and
 * IPv6 paths, checksums on both paths, and mbuf accounting (every mbuf is
 * either taken by TX or freed).
 */
#include <criterion/criterion.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "../net/helpers.h"
#include "burst_helpers.h"
#include "fwd_vectors.h"
#include "qb_burst.h"
#include "qb_port.h"

static struct qb_lcore_stats stats;
static struct qb_burst_txq txq = {.port_id = 0, .queue_id = 0, .stats = &stats, .io = &tb_io};

static const struct rte_ether_addr mac_a = {{0x02, 0, 0, 0, 0, 0x0a}};
static const struct rte_ether_addr mac_b = {{0x02, 0, 0, 0, 0, 0x0b}};

static void
setup(void)
{
	memset(&stats, 0, sizeof(stats));
	tb_reset();
}

TestSuite(burst_tx, .init = setup);

static void
tmpl(struct qb_udp_tmpl *t, int family, uint16_t vlan, bool hw)
{
	struct qb_ipaddr s, d;

	if (family == QB_AF_INET) {
		cr_assert_eq(qb_ipaddr_parse("198.18.0.1", &s), 0);
		cr_assert_eq(qb_ipaddr_parse("198.18.0.2", &d), 0);
	} else {
		cr_assert_eq(qb_ipaddr_parse("2001:db8::1", &s), 0);
		cr_assert_eq(qb_ipaddr_parse("2001:db8::2", &d), 0);
	}
	cr_assert_eq(qb_udp_tmpl_init(t, &mac_a, &mac_b, vlan, &s, 4433, &d, 443, hw), 0);
}

static void
path(struct qb_burst_path *p, int family, uint16_t vlan, bool hw, uint16_t mtu,
     const struct qb_fwd_hdr *fwd)
{
	struct qb_udp_tmpl t;

	tmpl(&t, family, vlan, hw);
	cr_assert_eq(qb_burst_path_init(p, &t, mtu, fwd), 0);
}

/* ---- GSO rule and why-masks ---- */

Test(burst_tx, gso_shorter_datagram_ends_the_burst)
{
	static const int sizes[] = {1200, 1200, 1200, 800, 1200};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 5, .first = 0x41};
	struct qb_burst_path p;
	uint32_t why = 0xdead;

	path(&p, QB_AF_INET, 0, true, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&txq, &p, 8, 1200, tb_fill_fn, &f, 0, &why), 4);
	cr_assert_eq(f.calls, 4, "the 800-byte datagram ends the burst: no fifth fill");
	cr_assert_eq(why, 0, "a burst ended by the GSO rule reports no reason");
	cr_assert_eq(tb_tx_calls, 1);
	cr_assert_eq(tb_n_sent, 4);
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(f.caps[i], 1200, "cap of datagram %u", i);
		cr_assert_eq(tb_sent[i]->pkt_len, 42u + (i < 3 ? 1200u : 800u), "frame %u", i);
	}
	cr_assert_eq(tb_n_freed, 4, "the 4 unused mbufs are freed");
	cr_assert_eq(tb_n_alloc, tb_n_sent + tb_n_freed);
	cr_assert_eq(stats.tx_pkts, 4);
	cr_assert_eq(stats.tx_bytes, 3 * 1242 + 842);
}

Test(burst_tx, first_fill_empty_propagates_why)
{
	static const int sizes[] = {0};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 1, .why = 0x25};
	struct qb_burst_path p;
	uint32_t why = 0;

	path(&p, QB_AF_INET, 0, true, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&txq, &p, 16, 1452, tb_fill_fn, &f, 0, &why), 0);
	cr_assert_eq(why, 0x25);
	cr_assert_eq(tb_tx_calls, 0, "nothing to send: no TX call");
	cr_assert_eq(tb_n_freed, 16);
	cr_assert_eq(stats.tx_pkts, 0);
}

Test(burst_tx, later_empty_fill_ends_burst_with_its_why)
{
	static const int sizes[] = {1000, 1000, 0, 1000};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 4, .why = 0x3};
	struct qb_burst_path p;
	uint32_t why = 0;

	path(&p, QB_AF_INET, 0, false, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&txq, &p, 8, 1452, tb_fill_fn, &f, 0, &why), 2);
	cr_assert_eq(why, 0x3);
	cr_assert_eq(f.calls, 3);
	cr_assert_eq(tb_n_freed, 6);
}

Test(burst_tx, first_datagram_sets_the_size_of_the_rest)
{
	static const int sizes[] = {900, 900, 900};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 3};
	struct qb_burst_path p;

	path(&p, QB_AF_INET6, 0, true, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&txq, &p, 3, 1452, tb_fill_fn, &f, 0, NULL), 3);
	cr_assert_eq(f.caps[0], 1452);
	cr_assert_eq(f.caps[1], 900, "later datagrams may not outgrow the first");
	cr_assert_eq(f.caps[2], 900);
	cr_assert_eq(tb_n_freed, 0);
}

Test(burst_tx, oversized_fill_result_is_not_sent)
{
	static const int sizes[] = {1200, 1300};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 2};
	struct qb_burst_path p;

	path(&p, QB_AF_INET, 0, true, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&txq, &p, 4, 1200, tb_fill_fn, &f, 0, NULL), 1);
	cr_assert_eq(tb_n_freed, 3);
}

Test(burst_tx, max_segments_bounds_the_burst)
{
	static const int sizes[] = {1200, 1200, 1200, 1200};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 4};
	struct qb_burst_path p;
	uint32_t why = 7;

	path(&p, QB_AF_INET, 0, true, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&txq, &p, 2, 1200, tb_fill_fn, &f, 0, &why), 2);
	cr_assert_eq(f.calls, 2);
	cr_assert_eq(why, 0);
	cr_assert_eq(tb_n_freed, 0);
}

/* ---- mbuf accounting ---- */

Test(burst_tx, pmd_refusal_is_freed_and_counted)
{
	static const int sizes[] = {1200, 1200, 1200, 1200, 1200};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 5};
	struct qb_burst_path p;

	path(&p, QB_AF_INET, 0, true, 1452, NULL);
	tb_tx_accept = 2;
	cr_assert_eq(qb_burst_tx(&txq, &p, 5, 1200, tb_fill_fn, &f, 0, NULL), 2);
	cr_assert_eq(tb_n_freed, 3, "the 3 refused datagrams are freed");
	cr_assert_eq(stats.drops[QB_DROP_TX_FULL], 3);
	cr_assert_eq(stats.tx_pkts, 2);
	cr_assert_eq(stats.tx_bytes, 2 * 1242);
}

Test(burst_tx, empty_pool)
{
	static const int sizes[] = {1200};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 1};
	struct qb_burst_path p;
	uint32_t why = 0;

	path(&p, QB_AF_INET, 0, true, 1452, NULL);
	tb_alloc_fail = 1;
	cr_assert_eq(qb_burst_tx(&txq, &p, 4, 1200, tb_fill_fn, &f, 0, &why), 0);
	cr_assert_eq(why, QB_BURST_WHY_NO_MBUF);
	cr_assert_eq(f.calls, 0);
	cr_assert_eq(stats.drops[QB_DROP_NO_MBUF], 1);
}

/* ---- headroom arithmetic ---- */

static void
check_headroom(int family, uint16_t vlan, const struct qb_fwd_hdr *fwd, uint16_t want)
{
	static const int sizes[] = {1000};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 1, .first = 0x40};
	struct qb_burst_path p;

	tb_reset();
	path(&p, family, vlan, true, 1452, fwd);
	cr_assert_eq(qb_burst_headroom(&p), want, "family %d vlan %u relayed %d", family, vlan,
	             fwd != NULL);
	cr_assert_leq(want, QB_MBUF_HEADROOM);
	cr_assert_eq(qb_burst_tx(&txq, &p, 1, 1452, tb_fill_fn, &f, 0, NULL), 1);
	cr_assert_eq(f.bufs[0], tb_mbufs[0].buf + want, "the fill writes after the headroom");
	cr_assert_eq(tb_sent[0]->data_off, 0, "the Ethernet header starts the buffer");
	cr_assert_eq(tb_sent[0]->pkt_len, want + 1000u);
	cr_assert_eq(tb_sent[0]->data_len, want + 1000u);
}

Test(burst_tx, headroom_per_header_stack)
{
	struct qb_fwd_hdr v4, v6, v4_src;

	fwd_both_relayed(&v4, false);
	fwd_both_relayed(&v6, true);
	v4_src = v4;
	v4_src.dst.relayed = false;
	check_headroom(QB_AF_INET, 0, NULL, 14 + 20 + 8);
	check_headroom(QB_AF_INET6, 0, NULL, 14 + 40 + 8);
	check_headroom(QB_AF_INET, 100, NULL, 14 + 4 + 20 + 8);
	check_headroom(QB_AF_INET6, 100, NULL, 14 + 4 + 40 + 8);
	check_headroom(QB_AF_INET, 0, &v4, 14 + 20 + 8 + 26);
	check_headroom(QB_AF_INET, 0, &v4_src, 14 + 20 + 8 + 20);
	check_headroom(QB_AF_INET6, 0, &v6, 14 + 40 + 8 + 74);
	/* BRIEF §9: the largest stack, 140 bytes, beyond DPDK's default 128. */
	check_headroom(QB_AF_INET6, 100, &v6, 140);
}

Test(burst_tx, mtu_and_forward_header_bound_the_cap)
{
	static const int sizes[] = {1, 1};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 2};
	struct qb_burst_path p;
	struct qb_fwd_hdr v6;

	fwd_both_relayed(&v6, true);
	path(&p, QB_AF_INET6, 0, true, 1300, &v6);
	cr_assert_eq(qb_burst_quic_room(&p), 1300 - 74);
	cr_assert_eq(qb_burst_tx(&txq, &p, 1, 1452, tb_fill_fn, &f, 0, NULL), 1);
	cr_assert_eq(f.caps[0], 1300 - 74, "path MTU minus the forward header");
	cr_assert_eq(qb_burst_tx(&txq, &p, 1, 1000, tb_fill_fn, &f, 0, NULL), 1);
	cr_assert_eq(f.caps[1], 1000 - 74, "max_segment_size minus the forward header");
	struct qb_udp_tmpl t = p.udp;
	cr_assert_eq(qb_burst_path_init(&p, &t, 74, &v6), QB_ERR_ARG, "no room past the header");
}

/*
 * A path whose MTU leaves less than 1200 bytes of QUIC past the forward
 * header is refused where it is made: the connection core writes nothing
 * into less (RFC 9000 §14.1), so a worker would poll it forever for
 * datagrams that never come. The boundary, exactly, on each header stack.
 */
static void
check_quic_floor(int family, const struct qb_fwd_hdr *fwd, uint16_t fwd_len)
{
	struct qb_burst_path p;
	struct qb_udp_tmpl t;
	uint16_t least = (uint16_t)(QB_BURST_QUIC_MIN + fwd_len);

	tmpl(&t, family, 0, true);
	memset(&p, 0xa5, sizeof(p));
	cr_assert_eq(qb_burst_path_init(&p, &t, (uint16_t)(least - 1), fwd), QB_ERR_ARG,
	             "mtu %u with a %u-byte forward header", least - 1, fwd_len);
	cr_assert_eq(qb_burst_path_init(&p, &t, least, fwd), 0, "mtu %u", least);
	cr_assert_eq(qb_burst_quic_room(&p), QB_BURST_QUIC_MIN);
	cr_assert_eq(p.fwd_len, fwd_len);
}

Test(burst_tx, path_init_refuses_less_than_1200_bytes_of_quic)
{
	struct qb_fwd_hdr v4, v6;
	struct qb_burst_path p;
	struct qb_udp_tmpl t;

	fwd_both_relayed(&v4, false);
	fwd_both_relayed(&v6, true);
	cr_assert_eq(QB_BURST_QUIC_MIN, 1200);
	check_quic_floor(QB_AF_INET, NULL, 0);
	check_quic_floor(QB_AF_INET6, NULL, 0);
	check_quic_floor(QB_AF_INET, &v4, 26);
	check_quic_floor(QB_AF_INET6, &v6, 74);
	/* IPv6's minimum link MTU (1280) carries a direct path but not a
	 * relayed one: 1232 bytes of UDP payload, 1158 past 74 bytes. */
	tmpl(&t, QB_AF_INET6, 0, true);
	cr_assert_eq(qb_burst_path_init(&p, &t, 1280 - 48, NULL), 0);
	cr_assert_eq(qb_burst_path_init(&p, &t, 1280 - 48, &v6), QB_ERR_ARG);
}

/* ---- frames on the wire ---- */

/* Checks the UDP checksum of the frame at h (IP at h + l2) over pseudo-header and payload. */
static void
check_udp_cksum(const uint8_t *h, unsigned int l2, bool v6)
{
	const uint8_t *ip = h + l2;
	const uint8_t *udp = ip + (v6 ? 40 : 20);
	uint16_t ulen = be16_at(udp + 4);
	uint32_t s = 17 + ulen;

	s = ref_sum(ip + (v6 ? 8 : 12), v6 ? 32 : 8, s);
	cr_assert_eq(ref_sum(udp, ulen, s), 0xffff, "UDP checksum verifies");
	if (!v6)
		cr_assert_eq(ref_sum(ip, 20, 0), 0xffff, "IPv4 header checksum verifies");
}

static void
check_relayed(bool v6, bool hw)
{
	static const int sizes[] = {1200, 1200, 700};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 3, .first = 0xd9};
	struct qb_burst_path p;
	struct qb_fwd_hdr fh;
	uint8_t want[QB_FWD_MAX_LEN], enc[QB_FWD_MAX_LEN];
	size_t fl = expected_fwd(want, v6, f.first);
	unsigned int l3 = v6 ? 40 : 20;

	tb_reset();
	fwd_both_relayed(&fh, v6);
	path(&p, v6 ? QB_AF_INET6 : QB_AF_INET, 0, hw, 1452, &fh);
	/* The hand-written bytes agree with the engine's encoder. */
	cr_assert_eq(qb_fwd_hdr_encode(enc, sizeof(enc), &fh, f.first), (int)fl);
	cr_assert_arr_eq(enc, want, fl);
	cr_assert_eq(fl, v6 ? 74u : 26u);

	cr_assert_eq(qb_burst_tx(&txq, &p, 4, 1452, tb_fill_fn, &f, 0, NULL), 3);
	cr_assert_eq(f.caps[0], 1452 - fl);
	for (unsigned int i = 0; i < 3; i++) {
		const struct rte_mbuf *m = tb_sent[i];
		const uint8_t *h = rte_pktmbuf_mtod(m, const uint8_t *);
		const uint8_t *udp = h + 14 + l3;
		const uint8_t *fwd = udp + 8;
		const uint8_t *quic = fwd + fl;
		size_t qlen = (size_t)sizes[i];

		cr_assert_eq(m->pkt_len, 14 + l3 + 8 + fl + qlen);
		cr_assert_eq(m->l2_len, 14);
		cr_assert_eq(m->l3_len, l3);
		cr_assert_eq(be16_at(h + 12), v6 ? 0x86dd : 0x0800);
		cr_assert_eq(be16_at(udp + 4), 8 + fl + qlen,
		             "UDP length covers the forward header");
		cr_assert_arr_eq(fwd, want, fl, "forward header of datagram %u", i);
		cr_assert_eq(quic[0], f.first);
		for (size_t j = 1; j < qlen; j++)
			cr_assert_eq(quic[j], (uint8_t)(i * 7 + j), "QUIC byte %zu of %u", j, i);
		if (hw) {
			uint64_t want_fl = v6 ? RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM
			                      : RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			                                   RTE_MBUF_F_TX_UDP_CKSUM;
			cr_assert_eq(m->ol_flags & want_fl, want_fl);
		} else {
			cr_assert_eq(m->ol_flags, 0);
			check_udp_cksum(h, 14, v6);
		}
	}
}

Test(burst_tx, relayed_ipv4_forward_header_before_quic)
{
	check_relayed(false, false);
	check_relayed(false, true);
}

Test(burst_tx, relayed_ipv6_forward_header_before_quic)
{
	check_relayed(true, false);
	check_relayed(true, true);
}

Test(burst_tx, direct_path_has_no_forward_header)
{
	static const int sizes[] = {1200};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 1, .first = 0xd9};
	struct qb_burst_path p;

	path(&p, QB_AF_INET, 0, false, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&txq, &p, 1, 1452, tb_fill_fn, &f, 0, NULL), 1);
	const uint8_t *h = rte_pktmbuf_mtod(tb_sent[0], const uint8_t *);
	cr_assert_eq(h[42], 0xd9, "QUIC bytes right after the UDP header");
	cr_assert_eq(be16_at(h + 38), 1208);
	check_udp_cksum(h, 14, false);
}

/* The offload path builds each size's headers once: the frames must equal qb_udp_prepend's. */
static void
check_same_as_prepend(int family, uint16_t vlan, const struct qb_fwd_hdr *fwd)
{
	static const int sizes[] = {1000, 1000, 1000, 600};
	static struct test_mbuf ref;
	struct tb_fill f = {.sizes = sizes, .n_sizes = 4, .first = 0x5e};
	struct qb_burst_path p;

	tb_reset();
	path(&p, family, vlan, true, 1452, fwd);
	cr_assert_eq(qb_burst_tx(&txq, &p, 8, 1452, tb_fill_fn, &f, 0, NULL), 4);
	for (unsigned int i = 0; i < 4; i++) {
		const struct rte_mbuf *m = tb_sent[i];
		uint16_t body = (uint16_t)(m->pkt_len - p.udp.hdr_len);
		struct rte_mbuf *r =
		        tmbuf(&ref, 256, rte_pktmbuf_mtod_offset(m, const uint8_t *, p.udp.hdr_len),
		              body);

		cr_assert_eq(qb_udp_prepend(r, &p.udp), 0);
		cr_assert_eq(r->pkt_len, m->pkt_len);
		cr_assert_arr_eq(rte_pktmbuf_mtod(r, const uint8_t *),
		                 rte_pktmbuf_mtod(m, const uint8_t *), m->pkt_len, "frame %u", i);
		cr_assert_eq(r->ol_flags, m->ol_flags);
		cr_assert_eq(r->l2_len, m->l2_len);
		cr_assert_eq(r->l3_len, m->l3_len);
	}
}

Test(burst_tx, offload_headers_equal_per_datagram_prepend)
{
	struct qb_fwd_hdr v6;

	fwd_both_relayed(&v6, true);
	check_same_as_prepend(QB_AF_INET, 0, NULL);
	check_same_as_prepend(QB_AF_INET, 7, NULL);
	check_same_as_prepend(QB_AF_INET6, 0, NULL);
	check_same_as_prepend(QB_AF_INET6, 7, &v6);
}

Test(burst_tx, worker_queue_and_counters)
{
	static const int sizes[] = {1200, 1200};
	static struct qb_worker w;
	struct tb_fill f = {.sizes = sizes, .n_sizes = 2};
	struct qb_burst_txq q;
	struct qb_burst_path p;

	memset(&w, 0, sizeof(w));
	w.port_id = 3;
	w.queue_id = 5;
	qb_burst_txq_init(&q, &w, NULL);
	q.io = &tb_io;
	path(&p, QB_AF_INET, 0, false, 1452, NULL);
	cr_assert_eq(qb_burst_tx(&q, &p, 2, 1200, tb_fill_fn, &f, 0, NULL), 2);
	cr_assert_eq(tb_port, 3);
	cr_assert_eq(tb_queue, 5, "the worker's own TX queue");
	cr_assert_eq(w.stats.tx_pkts, 2);
	cr_assert_eq(w.stats.tx_bytes, 2 * 1242);
}

Test(burst_tx, nothing_to_do_takes_no_mbuf)
{
	static const int sizes[] = {10};
	struct tb_fill f = {.sizes = sizes, .n_sizes = 1};
	struct qb_burst_path p;
	struct qb_fwd_hdr v4;
	uint32_t why = 9;

	fwd_both_relayed(&v4, false);
	path(&p, QB_AF_INET, 0, true, 1452, &v4);
	cr_assert_eq(qb_burst_tx(&txq, &p, 0, 1452, tb_fill_fn, &f, 0, &why), 0);
	cr_assert_eq(why, 0);
	cr_assert_eq(qb_burst_tx(&txq, &p, 4, 26, tb_fill_fn, &f, 0, &why), 0,
	             "no room past the forward header");
	cr_assert_eq(tb_n_alloc, 0);
	cr_assert_eq(f.calls, 0);
	cr_assert_eq(qb_burst_tx(&txq, &p, 1, 27, tb_fill_fn, &f, 0, &why), 0);
	cr_assert_eq(f.caps[0], 1, "one byte past the forward header");
}
