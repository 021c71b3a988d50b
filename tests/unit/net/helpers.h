/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helpers without EAL: mbufs made by hand over static buffers (enough
 * for rte_pktmbuf_prepend/append/mtod), and an independent RFC 1071
 * checksum over big-endian words to check the library against.
 */
#ifndef QB_TEST_NET_HELPERS_H
#define QB_TEST_NET_HELPERS_H

#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#define TB_SIZE 2048

struct test_mbuf {
	struct rte_mbuf m;
	uint8_t buf[TB_SIZE];
};

/* Make an mbuf whose data (len bytes copied from data, may be NULL) starts headroom bytes in. */
static inline struct rte_mbuf *
tmbuf(struct test_mbuf *t, uint16_t headroom, const void *data, uint16_t len)
{
	memset(t, 0, sizeof(*t));
	t->m.buf_addr = t->buf;
	t->m.buf_len = TB_SIZE;
	t->m.data_off = headroom;
	rte_mbuf_refcnt_set(&t->m, 1);
	t->m.nb_segs = 1;
	t->m.data_len = len;
	t->m.pkt_len = len;
	if (data != NULL)
		memcpy(t->buf + headroom, data, len);
	return &t->m;
}

/* Chain b after a (both single segments). */
static inline void
tchain(struct rte_mbuf *a, struct rte_mbuf *b)
{
	a->next = b;
	a->nb_segs = 2;
	a->pkt_len += b->data_len;
}

/* RFC 1071 over big-endian 16-bit words of several pieces, not complemented, folded. */
static inline uint16_t
ref_sum(const uint8_t *p, size_t len, uint32_t start)
{
	uint64_t s = start;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline uint16_t
be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
