/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the receive side: qb_net_parse, then qb_neigh_input
 * for ARP/ND, on a frame in a heap buffer of exactly its size (ASan sees any
 * overread). Invariants: the parse result stays inside the frame, a reply we
 * build parses and validates, and the scalar and AVX2 sums agree.
 * The first input byte picks the RX offload flags and the port's filter.
 */
#include <stdlib.h>
#include <string.h>

#include "qb_neigh.h"

static struct qb_port_addrs pa, other;
static struct qb_neigh_table tbl;

static void
setup(void)
{
	struct rte_ether_addr mac = {.addr_bytes = {2, 0, 0, 0, 0, 1}};
	struct rte_ether_addr mac2 = {.addr_bytes = {2, 0, 0, 0, 0, 2}};
	struct qb_ipnet n;

	qb_port_addrs_init(&pa, &mac);
	qb_ipnet_parse("198.18.0.1/24", &n);
	qb_port_addrs_add(&pa, &n);
	qb_ipnet_parse("2001:db8::1/64", &n);
	qb_port_addrs_add(&pa, &n);
	qb_port_addrs_init(&other, &mac2);
	qb_neigh_init(&tbl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t ip_flags[4] = {0, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
	                                     RTE_MBUF_F_RX_IP_CKSUM_BAD,
	                                     RTE_MBUF_F_RX_IP_CKSUM_NONE};
	static const uint64_t l4_flags[4] = {0, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
	                                     RTE_MBUF_F_RX_L4_CKSUM_BAD,
	                                     RTE_MBUF_F_RX_L4_CKSUM_NONE};
	static int ready;
	struct qb_pkt_info info;
	struct rte_mbuf m;
	enum qb_drop drop;
	uint8_t sel, *buf;
	size_t len;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1 || size > 9000)
		return 0;
	sel = data[0];
	len = size - 1;
	buf = malloc(len ? len : 1);
	memcpy(buf, data + 1, len);
	if (qb_cksum_have_avx2() && qb_cksum_raw_avx2(buf, len) != qb_cksum_raw_scalar(buf, len))
		abort();
	memset(&m, 0, sizeof(m));
	m.buf_addr = buf;
	m.buf_len = (uint16_t)len;
	rte_mbuf_refcnt_set(&m, 1);
	m.nb_segs = 1;
	m.data_len = (uint16_t)len;
	m.pkt_len = (uint32_t)len;
	m.ol_flags = ip_flags[sel & 3] | l4_flags[(sel >> 2) & 3];
	pa.vlan_tci = (sel & 0x20) ? 100 : 0;
	drop = qb_net_parse(&m, (sel & 0x10) ? &pa : NULL, &info);
	if (drop >= QB_DROP__COUNT)
		abort();
	if (drop == QB_DROP_NONE) {
		if ((size_t)info.payload_off + info.payload_len > len)
			abort();
		if ((info.kind == QB_PKT_ARP || info.kind == QB_PKT_ND) &&
		    qb_neigh_input((sel & 0x40) ? &tbl : NULL, &pa, &m, &info, &drop) ==
		            QB_NEIGH_REPLY) {
			m.ol_flags = 0;
			if (m.data_len > len || qb_net_parse(&m, NULL, &info) != QB_DROP_NONE)
				abort();
			other.vlan_tci = pa.vlan_tci;
			qb_neigh_input(NULL, &other, &m, &info, &drop);
			if (drop != QB_DROP_NONE)
				abort();
		}
	}
	free(buf);
	return 0;
}
