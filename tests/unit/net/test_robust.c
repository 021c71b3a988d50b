/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Randomised robustness: mutated known frames through the parser and the
 * ARP/ND handler, each in a heap buffer of exactly its length so ASan sees
 * any read past the frame. Properties: results stay inside the frame, and
 * every reply we build parses and validates on the other side.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "qb_neigh.h"
#include "helpers.h"
#include "vectors.h"

static const struct {
	const uint8_t *b;
	uint16_t len;
} seeds[] = {
        {udp4_qburst, sizeof(udp4_qburst)},
        {udp6_vlan100, sizeof(udp6_vlan100)},
        {arp_req_in, sizeof(arp_req_in)},
        {arp_reply_out, sizeof(arp_reply_out)},
        {arp_req_ours, sizeof(arp_req_ours)},
        {ns_in, sizeof(ns_in)},
        {na_out, sizeof(na_out)},
        {ns_ours, sizeof(ns_ours)},
};

static void
addrs(struct qb_port_addrs *pa, uint8_t last, uint16_t vlan)
{
	struct rte_ether_addr mac = {.addr_bytes = {2, 0, 0, 0, 0, last}};
	char s[32];
	struct qb_ipnet n;

	qb_port_addrs_init(pa, &mac);
	pa->vlan_tci = vlan;
	snprintf(s, sizeof(s), "198.18.0.%u/24", last);
	qb_ipnet_parse(s, &n);
	qb_port_addrs_add(pa, &n);
	snprintf(s, sizeof(s), "2001:db8::%u/64", last);
	qb_ipnet_parse(s, &n);
	qb_port_addrs_add(pa, &n);
}

/*
 * Make the checksums of an untagged mutated frame right again (where its
 * lengths allow), so mutations reach the code behind the checksum checks.
 */
static void
fix_sums(uint8_t *f, uint16_t len)
{
	uint16_t c, ihl, plen;
	uint8_t ph[40] = {0};

	if (len >= 34 && f[12] == 0x08 && f[13] == 0x00) {
		ihl = (f[14] & 0xf) * 4;
		if (ihl >= 20 && 14 + ihl <= len) {
			f[24] = f[25] = 0;
			c = (uint16_t)~ref_sum(f + 14, ihl, 0);
			f[24] = (uint8_t)(c >> 8);
			f[25] = (uint8_t)c;
		}
	} else if (len >= 58 && f[12] == 0x86 && f[13] == 0xdd && f[20] == 58) {
		plen = be16_at(f + 18);
		if (plen >= 4 && 54 + plen <= len) {
			memcpy(ph, f + 22, 32);
			ph[34] = (uint8_t)(plen >> 8);
			ph[35] = (uint8_t)plen;
			ph[39] = 58;
			f[56] = f[57] = 0;
			c = (uint16_t)~ref_sum(f + 54, plen, ref_sum(ph, 40, 0));
			f[56] = (uint8_t)(c >> 8);
			f[57] = (uint8_t)c;
		}
	}
}

Test(robust, mutated_frames_parse_within_bounds_and_replies_validate, .timeout = 60)
{
	struct qb_port_addrs us, any;
	struct qb_neigh_table tbl;
	struct qb_pkt_info info;
	struct rte_mbuf m;
	enum qb_drop drop, r;
	unsigned int iter, s, k, nmut, replies = 0, accepted = 0;
	uint8_t frame[128];
	uint16_t len;

	srand(2024);
	qb_neigh_init(&tbl);
	for (iter = 0; iter < 60000; iter++) {
		s = iter % RTE_DIM(seeds);
		len = seeds[s].len;
		memcpy(frame, seeds[s].b, len);
		nmut = iter < 1000 ? 0 : 1 + (unsigned int)rand() % 3;
		for (k = 0; k < nmut; k++) {
			switch (rand() % 4) {
			case 0: /* flip a byte */
			case 1:
				frame[rand() % len] ^= (uint8_t)(1 + rand() % 255);
				break;
			case 2: /* truncate */
				len = (uint16_t)(rand() % (len + 1));
				break;
			default: /* extend with random bytes */
				while (len < sizeof(frame) && rand() % 4)
					frame[len++] = (uint8_t)rand();
			}
			if (len == 0)
				break;
		}
		if (rand() % 4 != 0)
			fix_sums(frame, len);
		/* The buffer is exactly the frame: no headroom, no tailroom. */
		uint8_t *buf = malloc(len ? len : 1);
		memcpy(buf, frame, len);
		memset(&m, 0, sizeof(m));
		m.buf_addr = buf;
		m.buf_len = len;
		rte_mbuf_refcnt_set(&m, 1);
		m.nb_segs = 1;
		m.data_len = len;
		m.pkt_len = len;
		addrs(&us, (s == 2 || s == 5) ? 1 : 2, s == 1 ? 100 : 0);
		r = qb_net_parse(&m, iter & 1 ? &us : NULL, &info);
		cr_assert_lt(r, QB_DROP__COUNT);
		if (r == QB_DROP_NONE) {
			accepted++;
			cr_assert_leq(info.payload_off + info.payload_len, len);
			if (info.kind == QB_PKT_ARP || info.kind == QB_PKT_ND) {
				if (qb_neigh_input(&tbl, &us, &m, &info, &drop) == QB_NEIGH_REPLY) {
					replies++;
					cr_assert_leq(m.data_len, len);
					addrs(&any, 77, us.vlan_tci);
					cr_assert_eq(qb_net_parse(&m, NULL, &info), QB_DROP_NONE,
					             "our reply parses (iter %u)", iter);
					qb_neigh_input(NULL, &any, &m, &info, &drop);
					cr_assert_eq(drop, QB_DROP_NONE,
					             "our reply validates (iter %u: %s)", iter,
					             qb_drop_name(drop));
				}
			}
		}
		free(buf);
	}
	cr_assert_gt(replies, 100, "replies were exercised");
	cr_assert_gt(accepted, 1000);
	cr_assert_leq(tbl.n, QB_NEIGH_MAX);
}
