/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection's loss-recovery memory, sized to what it uses: the sent
 * packet rings (one per packet number space, RFC 9002 §A.1) and the frame
 * records start small, double when a packet is about to need more, up to
 * the configured bounds (CONN_HS_SENT_CAP, max_sent_packets), and the
 * Initial and Handshake rings are freed when their space is discarded (RFC
 * 9001 §4.9). A connection that only handshook and went idle holds a few
 * hundred bytes of them where the bounds are megabytes (bench_mem).
 *
 * Growth allocates, on the send path, but not per packet: at most
 * log2(bound / start) times per space over a connection's life, each an
 * O(records held) copy. It never happens in the middle of a packet, so a
 * frame record pointer taken while building one stays valid.
 */
#include <stdlib.h>

#include "conn/conn_internal.h"

static uint32_t
sent_bound(const struct qb_conn *c, int ep)
{
	return ep == CONN_EP_APP ? c->cfg.max_sent_packets : CONN_HS_SENT_CAP;
}

static uint32_t
sent_cap(const struct qb_conn *c, int ep)
{
	return c->rec.space[ep].sent.mask + 1;
}

/* Records of the largest packets all spaces may have in flight: the bound. */
static uint32_t
frec_bound(const struct qb_conn *c)
{
	return c->cfg.max_sent_packets * 4 + 2 * CONN_HS_SENT_CAP * 4;
}

int
conn_mem_init(struct qb_conn *c, uint32_t caps[CONN_NEP])
{
	for (int ep = 0; ep < CONN_NEP; ep++) {
		uint32_t b = sent_bound(c, ep);
		caps[ep] = b < CONN_SENT_START ? b : CONN_SENT_START;
		c->sent_store[ep] = calloc(caps[ep], sizeof(struct qb_sent_pkt));
		if (c->sent_store[ep] == NULL)
			return QB_ERR_NOMEM;
	}
	c->frec_cap = CONN_FREC_START;
	c->frec = calloc(c->frec_cap, sizeof(*c->frec));
	if (c->frec == NULL)
		return QB_ERR_NOMEM;
	conn_frec_init(c);
	return 0;
}

/* Double ep's sent ring; false when it cannot grow. */
static bool
sent_grow(struct qb_conn *c, int ep)
{
	uint32_t cap = sent_cap(c, ep);
	struct qb_sent_pkt *s;

	if (c->sent_store[ep] == NULL || cap >= sent_bound(c, ep))
		return false;
	s = calloc((size_t)cap * 2, sizeof(*s));
	if (s == NULL)
		return false;
	if (qb_recovery_move_space(&c->rec, (enum qb_pn_space)ep, s, cap * 2) != 0) {
		free(s);
		return false;
	}
	free(c->sent_store[ep]);
	c->sent_store[ep] = s;
	return true;
}

/* Double the frame records, threading the new ones onto the free list. */
static bool
frec_grow(struct qb_conn *c)
{
	uint32_t cap = c->frec_cap, ncap = cap * 2, bound = frec_bound(c);
	struct conn_frec *f;

	if (cap >= bound)
		return false;
	if (ncap > bound)
		ncap = bound;
	/* Records are named by index, never by pointer across packets: a move is safe. */
	f = realloc(c->frec, (size_t)ncap * sizeof(*f));
	if (f == NULL)
		return false;
	c->frec = f;
	for (uint32_t i = ncap; i > cap; i--) {
		f[i - 1].next = c->frec_free;
		c->frec_free = i;
	}
	c->frec_cap = ncap;
	return true;
}

void
conn_mem_reserve(struct qb_conn *c, int ep)
{
	if (!qb_recovery_can_send(&c->rec, (enum qb_pn_space)ep))
		sent_grow(c, ep);
	/* Room for a whole packet's records (CONN_FREC_PER_PKT at most). */
	while (c->frec_cap - c->frec_used < CONN_FREC_PER_PKT && frec_grow(c))
		;
}

void
conn_mem_discard(struct qb_conn *c, int ep)
{
	/* The space is empty once discarded (RFC 9002 §A.11): park it on one
	 * inline record that nothing writes, and free its ring. */
	if (ep == CONN_EP_APP || c->sent_store[ep] == NULL ||
	    qb_recovery_move_space(&c->rec, (enum qb_pn_space)ep, &c->sent_parked, 1) != 0)
		return;
	free(c->sent_store[ep]);
	c->sent_store[ep] = NULL;
}
