/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The send fast path and the path burst (BRIEF §2, §6). The common datagram
 * is one 1-RTT packet whose only frame is a STREAM frame filling it (RFC 9000
 * §19.8: no Length, the data runs to the end): its short header comes from a
 * template of the path's DCID (qb_pkt_enc_short_stream_tmpl) and the frame
 * header is sealed together with the data straight from the send buffer
 * (qb_crypto_protect_gap borrowing the bytes before the data;
 * qb_crypto_protect_from for read-only memory): no encoder, no plaintext
 * copy. In a burst, the send-buffer span is taken once for many such
 * packets and the per-datagram checks of qb_conn_send shrink to the few a
 * packet can change (window, pacer, records, ACK lag, key age).
 */
#include <string.h>

#include "conn/conn_internal.h"

/* A span's gap is what qb_crypto_protect_gap may borrow. */
_Static_assert(QB_SEND_GAP <= QB_CRYPTO_GAP_MAX, "send gap beyond the protect gap");

/*
 * The packet of the span's bytes from used on, sealed into buf with packet
 * number pn: its length (cap), or 0 when they do not fill it. *taken: the
 * stream bytes it carries.
 */
static inline int
stream_seal(struct qb_conn *c, const struct qb_pkt_short_tmpl *tmpl, const struct qb_send_span *sp,
            size_t used, uint8_t *buf, size_t cap, size_t pn_len, uint64_t pn, size_t *taken)
{
	struct qb_pkt_layout lay;
	size_t head_len;
	int n;

	n = qb_pkt_enc_short_stream_tmpl(tmpl, buf, cap, pn, pn_len, sp->stream_id,
	                                 sp->offset + used, sp->len - used, sp->fin, taken, &lay);
	if (n < 0 || (size_t)n != cap)
		return 0; /* not a full packet: the general path adds frames after it */
	/* The frame header's bytes: what goes before the data in the plaintext. */
	head_len = lay.payload_len - *taken;
	if (sp->gap >= head_len)
		n = qb_crypto_protect_gap(c->txk[CONN_EP_APP], buf, lay.pn_offset, pn_len, pn,
		                          head_len, (uint8_t *)(uintptr_t)(sp->data + used),
		                          *taken);
	else
		n = qb_crypto_protect_from(c->txk[CONN_EP_APP], buf, lay.pn_offset, pn_len, pn,
		                           head_len, sp->data + used, *taken);
	return n < 0 ? 0 : n; /* < 0 cannot happen with a present key */
}

int
conn_stream_slice(struct qb_conn *c, unsigned path_id, uint64_t now,
                  const struct qb_pkt_short_tmpl *tmpl, const struct qb_send_span *sp, size_t *used,
                  uint8_t *buf, size_t cap, size_t pn_len)
{
	const uint64_t pn = c->next_pn[CONN_EP_APP];
	const uint64_t offset = sp->offset + *used;
	size_t taken;
	uint32_t head = 0;
	int n = stream_seal(c, tmpl, sp, *used, buf, cap, pn_len, pn, &taken);

	if (n == 0)
		return 0;
	*used += taken;
	/* The caller checked a record is free. */
	conn_frec_stream(c, &head, sp->stream_id, offset, taken, sp->fin && *used == sp->len);
	conn_packet_sent(c, CONN_EP_APP, path_id, now, pn, (size_t)n, head, true, false, false);
	c->st.pkts_sent_direct++;
	if (c->rx[CONN_EP_APP].ack_pending)
		c->acks_waited++;
	return n;
}

void
conn_span_commit(struct qb_conn *c, const struct qb_send_span *sp, size_t used)
{
	struct qb_send_span done = *sp;

	done.len = used;
	done.fin = sp->fin && used == sp->len;
	qb_streams_send_commit(c->streams, &done);
}

/* ---- the burst ------------------------------------------------------------ */

void
qb_conn_burst_begin(struct qb_conn_burst *b, struct qb_conn *c, uint32_t path_id, unsigned max,
                    uint64_t now)
{
	b->c = c;
	b->path_id = path_id;
	b->left = max;
	b->now = now;
	b->fast = false;
	b->k = b->kmax = 0;
}

/*
 * A run starts after the fast path's packet (send_stream_fast): the rest of
 * span sp from used on goes in packets of cap bytes with pn_len-byte packet
 * numbers. Each packet of a run is the same (cap bytes, eliciting, in flight,
 * one now), so what qb_conn_send() checks per packet and can change with
 * each is counted here once: how many packets the window, the pacer, the
 * sent and frame records, the ACK lag and the key's age allow, in the order
 * a packet at a time would meet them (RFC 9002 §7, §7.7; RFC 9000 §13.2.1;
 * RFC 9001 §6.6).
 */
void
conn_burst_run_start(struct qb_conn_burst *b, const struct qb_send_span *sp, size_t used,
                     size_t cap, size_t pn_len)
{
	struct qb_conn *c = b->c;
	const struct qb_rx_space *rx = &c->rx[CONN_EP_APP];
	uint64_t k = CONN_BURST_RUN - 1; /* pn_len was sized for this many */
	uint64_t bif = c->cc.bytes_in_flight, lim, used_k;
	uint32_t frec_room;

	/* A packet goes while bytes in flight < cwnd: that many, rounded up. */
	lim = bif < c->cc.cwnd ? (c->cc.cwnd - bif + cap - 1) / cap : 0;
	k = lim < k ? lim : k;
	lim = qb_pacer_ready_count(&c->pacer, (uint32_t)cap);
	k = lim < k ? lim : k;
	if (rx->ack_pending) {
		lim = rx->unacked_eliciting == 0 && c->acks_waited < CONN_ACK_LAG
		              ? (uint64_t)(CONN_ACK_LAG - c->acks_waited)
		              : 0;
		k = lim < k ? lim : k;
	}
	used_k = c->next_pn[CONN_EP_APP] - c->tx_phase_first_pn;
	lim = used_k < c->cfg.key_update_packets ? c->cfg.key_update_packets - used_k : 0;
	k = lim < k ? lim : k;
	/* The burst's datagrams left after the first (qb_conn_burst_send()
	 * counts it off when conn_send() returns). */
	lim = b->left > 0 ? b->left - 1u : 0;
	k = lim < k ? lim : k;
	/* The records grown for them, as qb_conn_send() would before each
	 * packet: only what memory refuses (max_sent_packets) ends it here. */
	conn_mem_reserve_run(c, (uint32_t)k);
	frec_room = c->frec_cap - c->frec_used;
	lim = qb_recovery_run_room(&c->rec, QB_PN_APP);
	k = lim < k ? lim : k;
	/* Each packet wants a whole packet's frame records free before it. */
	lim = frec_room >= CONN_FREC_PER_PKT ? frec_room - CONN_FREC_PER_PKT + 1 : 0;
	k = lim < k ? lim : k;
	b->span = *sp;
	b->used = used;
	b->cap = cap;
	b->pn_len = pn_len;
	b->k = 0;
	b->kmax = (uint32_t)k;
	b->fast = true;
}

/*
 * The run's packets so far enter the counts they skipped one by one: loss
 * recovery and the congestion controller, the pacer, the statistics.
 */
static void
run_count_in(struct qb_conn_burst *b)
{
	struct qb_conn *c = b->c;
	struct conn_path *p = &c->path[b->path_id];
	const uint32_t k = b->k;
	const uint64_t bytes = (uint64_t)k * b->cap;

	if (k == 0)
		return;
	qb_recovery_run_end(&c->rec, QB_PN_APP, c->next_pn[CONN_EP_APP] - 1, k, bytes,
	                    (uint8_t)b->path_id, b->now);
	qb_pacer_on_sent(&c->pacer, (uint32_t)bytes, b->now);
	c->st.pkts_sent += k;
	c->st.pkts_sent_direct += k;
	if (c->rx[CONN_EP_APP].ack_pending)
		c->acks_waited = (uint8_t)(c->acks_waited + k);
	c->st.dgrams_sent += k;
	c->st.bytes_sent += bytes;
	p->tx_bytes += bytes;
	p->dgrams_sent += k;
	b->k = 0;
}

/* The run ends: what it sent is counted in and goes to the stream. */
static void
burst_stop(struct qb_conn_burst *b)
{
	if (b->fast) {
		run_count_in(b);
		conn_span_commit(b->c, &b->span, b->used);
		b->fast = false;
	}
}

/*
 * The next packet of the run, or 0 when it must end: its slot in the sent
 * ring and its frame record are written, the rest is counted at the end
 * (run_count_in). Nothing else runs on the connection meanwhile.
 */
static inline int
burst_next(struct qb_conn_burst *b, uint8_t *buf, size_t cap)
{
	struct qb_conn *c = b->c;
	const struct qb_send_span *sp = &b->span;
	const uint64_t pn = c->next_pn[CONN_EP_APP];
	const uint64_t offset = sp->offset + b->used;
	uint32_t head = 0;
	size_t taken;
	int n;

	if (cap != b->cap || b->k >= b->kmax)
		return 0;
	n = stream_seal(c, &b->tmpl, sp, b->used, buf, cap, b->pn_len, pn, &taken);
	if (n == 0)
		return 0;
	b->used += taken;
	conn_frec_stream(c, &head, sp->stream_id, offset, taken, sp->fin && b->used == sp->len);
	qb_recovery_run_add(&c->rec, QB_PN_APP, pn, (uint32_t)n, head, (uint8_t)b->path_id, b->now);
	c->next_pn[CONN_EP_APP] = pn + 1;
	b->k++;
	return n;
}

int
qb_conn_burst_send(struct qb_conn_burst *b, uint8_t *buf, size_t cap, uint32_t *why)
{
	int n;

	if (b->fast) {
		if (b->left > 0 && b->used < b->span.len && (n = burst_next(b, buf, cap)) > 0) {
			b->left--;
			if (why != NULL)
				*why = 0;
			return n;
		}
		burst_stop(b);
	}
	n = conn_send(b->c, b->path_id, buf, cap, b->now, why, b);
	if (b->left > 0)
		b->left--;
	if (n <= 0)
		burst_stop(b);
	return n;
}

void
qb_conn_burst_end(struct qb_conn_burst *b)
{
	burst_stop(b);
	if (CONN_QLOG(b->c))
		qb_qlog_conn_sync(b->c, b->now);
}

unsigned
qb_conn_burst_quota(struct qb_conn *c, uint64_t now, unsigned max, size_t size)
{
	uint64_t room = c->cc.cwnd > c->cc.bytes_in_flight ? c->cc.cwnd - c->cc.bytes_in_flight : 0;
	uint32_t sz = (uint32_t)(size < QB_MIN_INITIAL_DGRAM ? QB_MIN_INITIAL_DGRAM
	                         : size > 65535              ? 65535
	                                                     : size);
	/* A packet goes while bytes_in_flight < cwnd: room / size, rounded up. */
	uint64_t n = room / sz + (room % sz != 0);
	uint32_t paced = qb_pacer_quota_of(&c->pacer, now, sz);

	if (paced < n)
		n = paced;
	if (n < 1)
		n = 1;
	return n < max ? (unsigned)n : max;
}
