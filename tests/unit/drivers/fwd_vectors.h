/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A forward header with both endpoints relayed, as a struct and as the bytes
 * BRIEF §2 says it is, written out by hand: shared by the burst tests.
 */
#ifndef QB_TEST_FWD_VECTORS_H
#define QB_TEST_FWD_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qburst/fwdhdr.h"

/* Both endpoints relayed: relay a.b.c.x:port, outer a.b.c.y:port (IPv4 in addr[0..4)). */
static void
fwd_both_relayed(struct qb_fwd_hdr *h, bool ipv6)
{
	memset(h, 0, sizeof(*h));
	h->ipv6 = ipv6;
	h->src.relayed = true;
	h->dst.relayed = true;
	h->src.addr.port = 0x1111;
	h->src.outer.port = 0x2222;
	h->dst.addr.port = 0x3333;
	h->dst.outer.port = 0x4444;
	for (int i = 0; i < 16; i++) {
		h->src.addr.addr[i] = (uint8_t)(0x10 + i);
		h->src.outer.addr[i] = (uint8_t)(0x20 + i);
		h->dst.addr.addr[i] = (uint8_t)(0x30 + i);
		h->dst.outer.addr[i] = (uint8_t)(0x40 + i);
	}
}

/* The forward header fwd_both_relayed describes, written out by hand (BRIEF §2). */
static size_t
expected_fwd(uint8_t *out, bool ipv6, uint8_t quic_first)
{
	const size_t alen = ipv6 ? 16 : 4;
	const uint8_t base[4] = {0x10, 0x20, 0x30, 0x40};
	const uint16_t ports[4] = {0x1111, 0x2222, 0x3333, 0x4444};
	size_t n = 0;

	out[n++] = (uint8_t)(0x60 | (quic_first & 0x1f));
	/* version 0 << 4 | 0x08 | IPv6 0x04 | source relayed 0x02 | destination relayed 0x01 */
	out[n++] = (uint8_t)(0x08 | (ipv6 ? 0x04 : 0) | 0x02 | 0x01);
	for (int e = 0; e < 4; e++) {
		out[n++] = (uint8_t)(ports[e] >> 8);
		out[n++] = (uint8_t)ports[e];
		for (size_t i = 0; i < alen; i++)
			out[n++] = (uint8_t)(base[e] + i);
	}
	return n;
}

#endif
