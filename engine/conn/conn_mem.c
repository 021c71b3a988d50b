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
 *
 * qb_conn_trim() gives back what a transfer grew once the connection is
 * quiet (the connection runs it from its own deadline a quiet second after
 * its last activity): the trailing ACK-only records are forgotten, the
 * 1-RTT ring shrinks to a couple of records (parked when empty), the frame
 * records are packed into a table just large enough for those still held
 * (none, mostly: the table is freed) and the stream table shrinks. The next
 * packet that needs them regrows them from there.
 */
#include <stdlib.h>
#include <string.h>

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
	c->trimmed_at = QB_TIME_NONE;
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

	/* A discarded space stays parked; a trimmed empty 1-RTT ring regrows. */
	if (c->rec.space[ep].discarded || cap >= sent_bound(c, ep))
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
	uint32_t cap = c->frec_cap, bound = frec_bound(c);
	uint32_t ncap = cap < CONN_FREC_START / 2 ? CONN_FREC_START : cap * 2;
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

/*
 * Something a frame record would be taken for (conn_tx.c write_data()):
 * CRYPTO data, HANDSHAKE_DONE, CID frames, stream data or control frames.
 * ACK frames go without one when none is free (the record only prunes the
 * ranges repeated in later ACKs), PING, PADDING and path frames need none.
 */
static bool
frec_wanted(const struct qb_conn *c, int ep)
{
	return ep != CONN_EP_APP || qb_crypto_stream_to_send(&c->cs[ep]) || c->hs_done_pending ||
	       conn_cid_pending(c) || qb_streams_tx_status(c->streams) != 0;
}

void
conn_mem_reserve(struct qb_conn *c, int ep)
{
	if (!qb_recovery_can_send(&c->rec, (enum qb_pn_space)ep))
		sent_grow(c, ep);
	/* Trimmed: a send attempt that finds nothing to record (the one after
	 * every timer, or an ACK) leaves the table unallocated. */
	if (c->frec_cap == 0 && !frec_wanted(c, ep))
		return;
	/* Room for a whole packet's records (CONN_FREC_PER_PKT at most). */
	while (c->frec_cap - c->frec_used < CONN_FREC_PER_PKT && frec_grow(c))
		;
}

/*
 * A run's packets are recorded without conn_mem_reserve() (conn_burst.c
 * burst_next()), so their records are made at its start: a free sent record
 * for each, and a whole packet's frame records free before each (packet i
 * of n finds n - i + CONN_FREC_PER_PKT - 1 free). Without it a run after
 * qb_conn_trim() (a parked ring) would end after each packet while the ring
 * and the table regrow, one qb_conn_send() at a time.
 */
void
conn_mem_reserve_run(struct qb_conn *c, uint32_t n)
{
	while (qb_recovery_run_room(&c->rec, QB_PN_APP) < n && sent_grow(c, CONN_EP_APP))
		;
	while (c->frec_cap - c->frec_used < n + CONN_FREC_PER_PKT - 1 && frec_grow(c))
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
	/* Both long-header spaces gone: their received ranges go too. Nothing
	 * reads a discarded space's (conn_rx.c drops its packets first). */
	if (c->discarded[CONN_EP_INITIAL] && c->discarded[CONN_EP_HANDSHAKE]) {
		free(c->rx_ranges_hs);
		c->rx_ranges_hs = NULL;
		for (int e = CONN_EP_INITIAL; e <= CONN_EP_HANDSHAKE; e++) {
			c->rx[e].ranges = NULL;
			c->rx[e].cap = c->rx[e].n = 0;
		}
	}
}

/* --- Trimming an idle connection ---------------------------------------- */

/*
 * A receiver's last ACK-only packets stay recorded until the peer
 * acknowledges them, which it does only alongside an ack-eliciting packet
 * of its own: an idle connection that received an upload keeps a ring and
 * frame records full of them. They are neither in flight nor ack-eliciting,
 * so forgetting them changes no counter and no congestion state; its only
 * effect is that our ACK frames keep the ranges those ACKs covered (RFC
 * 9000 §13.2.4 makes dropping them an optimisation, bounded here by the
 * received-range array). A later ACK of a forgotten packet is old news to
 * the recovery layer (below its oldest record). Only when every record left
 * is such a packet; the ring is emptied the way a discarded space is.
 */
static void
sent_forget_ack_only(struct qb_conn *c)
{
	struct qb_sent_ring *r = &c->rec.space[CONN_EP_APP].sent;
	uint64_t seq;

	for (seq = r->tail; seq < r->head; seq++) {
		const struct qb_sent_pkt *p = &r->slots[seq & r->mask];
		if (!(p->flags & QB_SENT_REMOVED) &&
		    (p->flags & (QB_SENT_IN_FLIGHT | QB_SENT_ACK_ELICITING)))
			return;
	}
	for (seq = r->tail; seq < r->head; seq++) {
		struct qb_sent_pkt *p = &r->slots[seq & r->mask];
		if (!(p->flags & QB_SENT_REMOVED)) {
			conn_frec_free_list(c, p->frames);
			p->frames = 0;
			p->flags |= QB_SENT_REMOVED;
		}
	}
	r->tail = r->head;
}

/*
 * The 1-RTT ring, empty: parked on the connection's one inline record, as a
 * discarded space is (those never touch it again, so it is free for this
 * ring's use), and regrown by conn_mem_reserve() before the next packet.
 * Else down to the smallest power of two >= CONN_SENT_IDLE with a free slot
 * beside the records it holds. Bytes released.
 */
static size_t
sent_trim(struct qb_conn *c)
{
	const struct qb_sent_ring *r = &c->rec.space[CONN_EP_APP].sent;
	uint32_t cap = r->mask + 1, ncap = CONN_SENT_IDLE;
	uint64_t held = r->head - r->tail;
	struct qb_sent_pkt *s;

	if (held == 0 && c->sent_store[CONN_EP_APP] != NULL) {
		if (qb_recovery_move_space(&c->rec, QB_PN_APP, &c->sent_parked, 1) != 0)
			return 0;
		free(c->sent_store[CONN_EP_APP]);
		c->sent_store[CONN_EP_APP] = NULL;
		return (size_t)cap * sizeof(*s);
	}
	while (ncap <= held && ncap < cap)
		ncap <<= 1;
	if (c->sent_store[CONN_EP_APP] == NULL || ncap >= cap)
		return 0;
	s = calloc(ncap, sizeof(*s));
	if (s == NULL)
		return 0;
	if (qb_recovery_move_space(&c->rec, QB_PN_APP, s, ncap) != 0) {
		free(s);
		return 0;
	}
	free(c->sent_store[CONN_EP_APP]);
	c->sent_store[CONN_EP_APP] = s;
	return (size_t)(cap - ncap) * sizeof(*s);
}

/*
 * Call fn on the head of every frame-record list a live sent packet holds;
 * false if fn says stop. Discarded spaces hold none (RFC 9002 §A.11: their
 * rings are empty); a parked 1-RTT ring may hold one.
 */
static bool
frec_walk(struct qb_conn *c, bool (*fn)(struct qb_conn *c, uint32_t *head, void *arg), void *arg)
{
	for (int ep = 0; ep < CONN_NEP; ep++) {
		struct qb_sent_ring *r = &c->rec.space[ep].sent;
		for (uint64_t seq = r->tail; seq < r->head; seq++) {
			struct qb_sent_pkt *p = &r->slots[seq & r->mask];
			if (!(p->flags & QB_SENT_REMOVED) && p->frames != 0 &&
			    !fn(c, &p->frames, arg))
				return false;
		}
	}
	return true;
}

static bool
frec_count(struct qb_conn *c, uint32_t *head, void *arg)
{
	uint32_t *n = arg;

	for (uint32_t i = *head; i != 0 && *n <= c->frec_used; i = c->frec[i - 1].next)
		(*n)++;
	return *n <= c->frec_used;
}

struct frec_pack {
	struct conn_frec *to;
	uint32_t n;
};

/* Copy one packet's list into the packed table, relinking it there. */
static bool
frec_copy(struct qb_conn *c, uint32_t *head, void *arg)
{
	struct frec_pack *pk = arg;
	uint32_t *link = head;

	while (*link != 0) {
		struct conn_frec *to = &pk->to[pk->n];
		*to = c->frec[*link - 1];
		*link = ++pk->n; /* handles are index + 1 */
		link = &to->next;
	}
	return true;
}

/*
 * Frame records: records are named by index (a packet's `frames` handle and
 * each record's `next`), so the live ones are copied into a table of
 * exactly frec_used and every handle is rewritten. A walk first checks that
 * the live packets hold exactly frec_used records: otherwise some index is
 * held elsewhere (a packet being built) and nothing is moved.
 */
static size_t
frec_trim(struct qb_conn *c)
{
	uint32_t cap = c->frec_cap, used = c->frec_used, n = 0;
	struct frec_pack pk = {0};

	if (used >= cap || !frec_walk(c, frec_count, &n) || n != used)
		return 0;
	if (used > 0) {
		pk.to = malloc((size_t)used * sizeof(*pk.to));
		if (pk.to == NULL)
			return 0;
		frec_walk(c, frec_copy, &pk);
	}
	free(c->frec);
	c->frec = pk.to;
	c->frec_cap = used;
	c->frec_free = 0; /* every record is in use; conn_mem_reserve() grows */
	return (size_t)(cap - used) * sizeof(*c->frec);
}

size_t
qb_conn_trim(struct qb_conn *c, uint64_t now)
{
	size_t freed = 0;

	(void)now;
	/* Quiet: the handshake over (only the 1-RTT space left), nothing
	 * ack-eliciting in flight, no frame waiting to go. */
	if (!c->discarded[CONN_EP_INITIAL] || !c->discarded[CONN_EP_HANDSHAKE] ||
	    c->rec.space[CONN_EP_APP].eliciting_in_flight != 0 || conn_cid_pending(c) ||
	    c->hs_done_pending || qb_streams_tx_status(c->streams) != 0)
		return 0;
	sent_forget_ack_only(c);
	freed += sent_trim(c);
	freed += frec_trim(c);
	freed += qb_streams_trim(c->streams);
	return freed;
}

/*
 * The connection's own timer runs the trim (the driver needs nothing more
 * than the deadline it already follows): once the handshake is over, when
 * nothing has happened for CONN_TRIM_IDLE_NS or 3 PTOs, whichever is longer,
 * once per quiet period (the next datagram starts another). One wake-up per
 * idle period and connection; never on the per-packet path.
 */
uint64_t
conn_mem_trim_deadline(struct qb_conn *c)
{
	uint64_t wait = 3 * conn_pto(c);

	if (!c->discarded[CONN_EP_INITIAL] || !c->discarded[CONN_EP_HANDSHAKE] ||
	    c->trimmed_at == c->last_activity)
		return QB_TIME_NONE;
	return c->last_activity + (wait > CONN_TRIM_IDLE_NS ? wait : CONN_TRIM_IDLE_NS);
}

void
conn_mem_on_timeout(struct qb_conn *c, uint64_t now)
{
	if (conn_mem_trim_deadline(c) > now)
		return;
	qb_conn_trim(c, now);
	c->trimmed_at = c->last_activity;
}
