/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qb_burst_tx without EAL: mbufs made by hand over static buffers, handed out
 * by an injected alloc, a TX that captures the burst (and may refuse part of
 * it), a free that records what came back, and a scripted fill callback.
 */
#ifndef QB_TEST_BURST_HELPERS_H
#define QB_TEST_BURST_HELPERS_H

#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#include "qb_burst.h"

#define TB_BUF   2304 /* like a pool mbuf: 256 B headroom + 2048 */
#define TB_COUNT 64

struct tb_mbuf {
	struct rte_mbuf m;
	uint8_t buf[TB_BUF] __rte_aligned(64);
};

static struct tb_mbuf tb_mbufs[TB_COUNT];
static struct rte_mbuf *tb_sent[TB_COUNT]; /* what tx took, in order */
static unsigned int tb_n_sent, tb_tx_calls, tb_n_freed, tb_n_alloc;
static unsigned int tb_tx_accept = TB_COUNT; /* tx takes at most this many */
static int tb_alloc_fail;
static uint16_t tb_port, tb_queue; /* of the last TX call */

static int
tb_alloc(struct rte_mempool *mp, struct rte_mbuf **m, unsigned int n)
{
	(void)mp;
	if (tb_alloc_fail || n > TB_COUNT)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		struct tb_mbuf *t = &tb_mbufs[i];

		memset(&t->m, 0, sizeof(t->m));
		memset(t->buf, 0xee, sizeof(t->buf));
		t->m.buf_addr = t->buf;
		t->m.buf_len = TB_BUF;
		t->m.data_off = RTE_PKTMBUF_HEADROOM; /* what a reset mbuf has */
		t->m.nb_segs = 1;
		rte_mbuf_refcnt_set(&t->m, 1);
		m[i] = &t->m;
	}
	tb_n_alloc = n;
	return 0;
}

static uint16_t
tb_tx(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **m, uint16_t n)
{
	uint16_t k = n < tb_tx_accept ? n : (uint16_t)tb_tx_accept;

	tb_port = port_id;
	tb_queue = queue_id;
	tb_tx_calls++;
	for (uint16_t i = 0; i < k; i++)
		tb_sent[tb_n_sent++] = m[i];
	return k;
}

static void
tb_free(struct rte_mbuf **m, unsigned int n)
{
	(void)m;
	tb_n_freed += n;
}

static const struct qb_burst_io tb_io = {.alloc = tb_alloc, .tx = tb_tx, .free = tb_free};

/* A fill that returns scripted sizes (0 = nothing, with why) and records what it saw. */
struct tb_fill {
	const int *sizes;
	unsigned int n_sizes, calls;
	uint32_t why;  /* reported with a 0 */
	uint8_t first; /* first byte written (the "protected" QUIC first byte) */
	size_t caps[TB_COUNT];
	uint8_t *bufs[TB_COUNT];
};

static int
tb_fill_fn(void *arg, uint8_t *buf, size_t cap, uint64_t now, uint32_t *why)
{
	struct tb_fill *f = arg;
	unsigned int i = f->calls++;
	int len = i < f->n_sizes ? f->sizes[i] : 0;

	(void)now;
	f->caps[i] = cap;
	f->bufs[i] = buf;
	if (len <= 0) {
		*why = f->why;
		return 0;
	}
	/* Byte j of datagram i is (i * 7 + j) & 0xff, byte 0 the first byte. */
	for (int j = 0; j < len; j++)
		buf[j] = (uint8_t)(i * 7 + (unsigned int)j);
	buf[0] = f->first;
	return len;
}

static void
tb_reset(void)
{
	tb_n_sent = tb_tx_calls = tb_n_freed = tb_n_alloc = 0;
	tb_tx_accept = TB_COUNT;
	tb_alloc_fail = 0;
}

#endif
